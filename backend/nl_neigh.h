/* Neighbours (RTM_*NEIGH): IPv4 and IPv6 neighbour entries (AF_INET,
 * AF_INET6) and VXLAN forwarding entries (FDB, AF_BRIDGE with NTF_SELF)
 * towards an IPv4 or IPv6 VTEP, one struct for all. build emits the fields
 * that are set, parse fills them. Entries this module does not model
 * (other families, other address lengths) parse as -EAFNOSUPPORT so that
 * dump callers skip them. */
#ifndef WEFT_NL_NEIGH_H
#define WEFT_NL_NEIGH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include <linux/netlink.h>

#include "backend/nl.h"

struct nl_neigh {
	int family;	/* AF_INET, AF_INET6 or AF_BRIDGE */
	int ifindex;	/* device the entry lives on */
	uint16_t state; /* NUD_* */
	uint8_t flags;	/* NTF_* (NTF_SELF: the VXLAN device's own FDB) */
	bool has_dst;
	uint32_t dst;	      /* IPv4, network byte order: AF_INET the neighbour,
		       * AF_BRIDGE the remote VTEP */
	bool dst_v6;	      /* the destination is dst6 (always for AF_INET6) */
	struct in6_addr dst6; /* AF_INET6 the neighbour, AF_BRIDGE the VTEP */
	bool has_lladdr;
	uint8_t lladdr[6];
	int master;   /* parse: NDA_MASTER, 0 if absent */
	uint32_t vni; /* parse: NDA_VNI, 0 if absent */
};

/* Builds the body of an RTM_NEWNEIGH/DELNEIGH message whose header is in
 * nlh (buffer of buflen bytes). -EMSGSIZE if it does not fit, -EINVAL for
 * an unknown family or no ifindex. */
int nl_neigh_build(struct nlmsghdr *nlh, size_t buflen, const struct nl_neigh *n);
/* Parses an RTM_NEWNEIGH/DELNEIGH message. -EBADMSG when malformed. */
int nl_neigh_parse(const struct nlmsghdr *nlh, struct nl_neigh *out);

/* Flags for a create-or-replace request, for batches too. */
#define NL_NEIGH_SET_FLAGS (NLM_F_CREATE | NLM_F_REPLACE)

/* Creates or replaces the entry. */
int nl_neigh_set(struct nl_sock *s, const struct nl_neigh *n);
/* Deletes the entry; 0 when it does not exist. */
int nl_neigh_del(struct nl_sock *s, const struct nl_neigh *n);
/* Every entry of family on ifindex (0: all devices) to cb; entries that do
 * not parse are skipped. reset (may be NULL) as for nl_dump; -EBUSY: kept
 * being interrupted. */
int nl_neigh_dump(struct nl_sock *s, int family, int ifindex,
		  int (*cb)(const struct nl_neigh *n, void *data), nl_reset_cb reset, void *data);

#endif
