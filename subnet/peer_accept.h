/* Which peer leases weftd programs: the rules of docs/etcd-schema.md ("What
 * weft accepts") as pure functions, no I/O.
 *
 * A lease passes the per-lease rules (value, backend, subnet, PublicIP,
 * VtepMAC, VNI) on its own; leases that pass them and overlap each other
 * are a conflict: the oldest (lowest create revision, then the smallest
 * key) wins, the others are rejected. The decision over a set depends on
 * the set only, never on its order.
 *
 * Dual stack and IPv6 only (the *_any functions): a key's families must be
 * a non-empty subset of the config's and agree with its value (a node
 * without a public IPv6 address holds an IPv4-only lease in a dual-stack
 * network); each family then passes its own rules, and a lease that shares
 * either subnet with an older one passing the per-lease rules is a
 * conflict. Nodes program each other only in the families both have.
 */
#ifndef WEFT_PEER_ACCEPT_H
#define WEFT_PEER_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip4.h"
#include "subnet/lease.h"
#include "subnet/netconf.h"

enum peer_verdict {
	PEER_ACCEPTED = 0,
	PEER_REJ_VALUE,	     /* value is not a lease */
	PEER_REJ_BACKEND,    /* another BackendType */
	PEER_REJ_OUTSIDE,    /* subnet not inside Network */
	PEER_REJ_LENGTH,     /* prefix length is not SubnetLen */
	PEER_REJ_OWN_SUBNET, /* overlaps this node's subnet */
	PEER_REJ_OWN_IP,     /* PublicIP is this node's */
	PEER_REJ_PUBLIC_IP,  /* PublicIP not usable unicast, or inside the overlay */
	PEER_REJ_MAC,	     /* VtepMAC missing, multicast/broadcast or zero */
	PEER_REJ_VNI,	     /* VNI differs from the config's */
	PEER_REJ_CONFLICT,   /* overlaps an older accepted lease */
	/* Dual stack and IPv6 only. */
	PEER_REJ_FAMILY,       /* key names a family the config lacks, none, or not the value's */
	PEER_REJ_OUTSIDE_IPV6, /* IPv6 subnet not inside IPv6Network */
	PEER_REJ_LENGTH_IPV6,  /* IPv6 prefix length is not IPv6SubnetLen */
	PEER_REJ_OWN_SUBNET_IPV6, /* overlaps this node's IPv6 subnet */
	PEER_REJ_OWN_IPV6,	  /* PublicIPv6 is this node's */
	PEER_REJ_PUBLIC_IPV6,	  /* PublicIPv6 not usable unicast, or inside the overlay */
	PEER_REJ_MAC_IPV6,	  /* BackendV6Data VtepMAC missing, multicast or zero */
	PEER_REJ_VNI_IPV6,	  /* BackendV6Data VNI differs from the config's */
	PEER_REJ_CONFLICT_IPV6,	  /* IPv6 subnet overlaps an older lease's */
	PEER_VERDICTS,
};

/* Fixed metric label of a verdict ("ok" for PEER_ACCEPTED). */
const char *peer_verdict_name(enum peer_verdict v);
/* One line for logs: which rule the lease broke. */
const char *peer_verdict_rule(enum peer_verdict v);

struct peer_accept_ctx {
	const struct netconf *nc;
	uint32_t public_ip; /* this node's, host byte order */
	bool has_own;	    /* own subnet known (a lease is held) */
	struct ip4_net own;
};

/* For the *_any functions: the IPv4 context plus this node's PublicIPv6 and
 * IPv6 subnet, when known. */
struct peer_accept_ctx_any {
	struct peer_accept_ctx v4;
	bool has_public_ipv6;
	struct in6_addr public_ipv6;
	bool has_own6;
	struct ip6_net own6;
};

struct peer_cand {
	struct ip4_net subnet; /* as parsed from the key */
	bool decoded;	       /* attrs valid */
	struct lease_attrs attrs;
	int64_t create_rev;
	const char *key; /* full etcd key, for ties and logs */
};

/* A lease of any family: the subnets come from lease_key_parse_any. */
struct peer_cand_any {
	struct lease_key subnets;
	bool decoded; /* attrs valid */
	struct lease_attrs attrs;
	int64_t create_rev;
	const char *key; /* full etcd key, for ties and logs */
};

/* True for an address that can be a VTEP on the underlay: not 0.0.0.0/8,
 * loopback, link-local, multicast, reserved or broadcast. */
bool peer_ip_usable(uint32_t a);
/* True for a unicast, non-zero MAC. */
bool peer_mac_usable(const uint8_t mac[6]);

/* The per-lease rules alone. */
enum peer_verdict peer_accept_one(const struct peer_accept_ctx *ctx, const struct peer_cand *c);
/* True when a wins a conflict against b. */
bool peer_cand_older(const struct peer_cand *a, const struct peer_cand *b);
/* Decides every lease of the set: out[i] for cands[i]. 0 or -ENOMEM. */
int peer_accept_set(const struct peer_accept_ctx *ctx, const struct peer_cand *cands, size_t n,
		    enum peer_verdict *out);

/* The IPv6 counterpart of peer_ip_usable (common/ip6.h's rules). */
bool peer_ip6_usable(const struct in6_addr *a);
/* The per-lease rules for any family; IPv4 parts give the IPv4 verdicts. */
enum peer_verdict peer_accept_one_any(const struct peer_accept_ctx_any *ctx,
				      const struct peer_cand_any *c);
/* Decides every lease of the set: out[i] for cands[i]. 0 or -ENOMEM. */
int peer_accept_set_any(const struct peer_accept_ctx_any *ctx, const struct peer_cand_any *cands,
			size_t n, enum peer_verdict *out);

#endif
