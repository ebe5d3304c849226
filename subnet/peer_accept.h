/* Which peer leases weftd programs: the rules of docs/etcd-schema.md ("What
 * weft accepts") as pure functions, no I/O.
 *
 * A lease passes the per-lease rules (value, backend, subnet, PublicIP,
 * VtepMAC, VNI) on its own; leases that pass them and overlap each other
 * are a conflict: the oldest (lowest create revision, then the smallest
 * key) wins, the others are rejected. The decision over a set depends on
 * the set only, never on its order.
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

struct peer_cand {
	struct ip4_net subnet; /* as parsed from the key */
	bool decoded;	       /* attrs valid */
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

#endif
