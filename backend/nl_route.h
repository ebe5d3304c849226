/* IPv4 and IPv6 routes (RTM_NEWROUTE/DELROUTE/GETROUTE). Build is literal: the
 * request helpers fill the usual defaults (main table, unicast). The
 * protocol field is how weft tags the routes it owns. */
#ifndef WEFT_NL_ROUTE_H
#define WEFT_NL_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include <linux/netlink.h>

#include "backend/nl.h"

struct nl_route {
	int family;   /* AF_INET or AF_INET6; parse reports others so callers can skip them */
	uint32_t dst; /* AF_INET, network byte order; 0 with dst_len 0 = default */
	uint8_t dst_len;
	uint32_t gw;	      /* 0: none */
	int oif;	      /* 0: none */
	uint32_t prefsrc;     /* 0: none */
	uint32_t priority;    /* metric; 0: none */
	uint32_t table;	      /* RT_TABLE_*; 0 in a request: main */
	uint8_t protocol;     /* RTPROT_* or weft's own tag */
	uint8_t scope;	      /* RT_SCOPE_* */
	uint8_t type;	      /* RTN_*; 0 in a request: unicast */
	uint32_t flags;	      /* rtm_flags, e.g. RTNH_F_ONLINK */
	struct in6_addr dst6; /* AF_INET6 instead of dst */
	struct in6_addr gw6;  /* AF_INET6 instead of gw; :: = none */
};

int nl_route_build(struct nlmsghdr *nlh, size_t buflen, const struct nl_route *r);
int nl_route_parse(const struct nlmsghdr *nlh, struct nl_route *out);

/* EEXIST (with NLM_F_EXCL) and ESRCH from del are returned as is. */
int nl_route_add(struct nl_sock *s, const struct nl_route *r, uint16_t flags);
int nl_route_del(struct nl_sock *s, const struct nl_route *r);
/* IPv4 routes of one table (0: every table), cached clones skipped.
 * reset (may be NULL) as for nl_dump; -EBUSY: kept being interrupted. */
int nl_route_dump(struct nl_sock *s, uint32_t table,
		  int (*cb)(const struct nl_route *r, void *data), nl_reset_cb reset, void *data);
/* The same for family AF_INET or AF_INET6. */
int nl_route_dump_family(struct nl_sock *s, int family, uint32_t table,
			 int (*cb)(const struct nl_route *r, void *data), nl_reset_cb reset,
			 void *data);

#endif
