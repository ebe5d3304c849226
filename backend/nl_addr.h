/* IPv4 and IPv6 interface addresses (RTM_NEWADDR/DELADDR/GETADDR). */
#ifndef WEFT_NL_ADDR_H
#define WEFT_NL_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include <linux/netlink.h>

#include "backend/nl.h"

struct nl_addr {
	int family; /* AF_INET or AF_INET6; parse reports others so callers can skip them */
	int ifindex;
	uint32_t addr; /* IFA_LOCAL, network byte order */
	uint8_t prefixlen;
	uint32_t broadcast;    /* 0: none */
	uint8_t scope;	       /* RT_SCOPE_* */
	uint32_t flags;	       /* IFA_F_* */
	struct in6_addr addr6; /* AF_INET6 instead of addr (no broadcast) */
};

int nl_addr_build(struct nlmsghdr *nlh, size_t buflen, const struct nl_addr *a);
int nl_addr_parse(const struct nlmsghdr *nlh, struct nl_addr *out);

/* EEXIST from add (with NLM_F_EXCL in flags) and EADDRNOTAVAIL from del
 * are returned as is: the caller decides whether they are success. */
int nl_addr_add(struct nl_sock *s, const struct nl_addr *a, uint16_t flags);
int nl_addr_del(struct nl_sock *s, const struct nl_addr *a);
/* IPv4 addresses, of one link when ifindex > 0. reset (may be NULL) as for
 * nl_dump; -EBUSY when the dump kept being interrupted. */
int nl_addr_dump(struct nl_sock *s, int ifindex, int (*cb)(const struct nl_addr *a, void *data),
		 nl_reset_cb reset, void *data);
/* The same for family AF_INET or AF_INET6. */
int nl_addr_dump_family(struct nl_sock *s, int family, int ifindex,
			int (*cb)(const struct nl_addr *a, void *data), nl_reset_cb reset,
			void *data);

#endif
