/* The IPv6 half of an attachment: messages for the pod's and the bridge's
 * IPv6 address and route, the sysctls that keep duplicate address
 * detection from holding the pod back, and CHECK's look-ups. The netlink
 * layer speaks IPv4 only, so the few IPv6 bodies are built here. */
#ifndef WEFT_CNI_ATTACH6_H
#define WEFT_CNI_ATTACH6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>
#include <netinet/in.h>

#include "backend/nl.h"

/* RTM_NEWADDR body: addr/prefix on ifindex, IFA_F_NODAD so the address is
 * usable at once. */
int attach6_addr_build(struct nlmsghdr *nlh, size_t buflen, int ifindex,
		       const struct in6_addr *addr, uint8_t prefix);
/* RTM_NEWROUTE body in the main table: dst/dst_len (0: default) via gw on oif. */
int attach6_route_build(struct nlmsghdr *nlh, size_t buflen, const struct in6_addr *dst,
			uint8_t dst_len, const struct in6_addr *gw, int oif);
/* The bridge's gateway address; already there is success. 0 or -errno. */
int attach6_bridge_addr(struct nl_sock *s, int ifindex, const struct in6_addr *gw, uint8_t prefix);
/* accept_dad=0 for ifname inside the pod namespace (before it comes up,
 * so its link-local address skips DAD too). 0 or -errno. */
int attach6_pod_nodad(int netns_fd, const char *ifname);
/* Sets a one-character sysctl file (e.g. forwarding "1") unless it holds
 * val already. 0 or -errno. */
int attach_sysctl_ensure(const char *path, char val);

/* CHECK: is addr/prefix on ifindex, and not tentative? Is a route to
 * dst/dst_len (via gw unless gw is NULL) in the main table? */
int attach6_has_addr(struct nl_sock *s, int ifindex, const struct in6_addr *addr, uint8_t prefix,
		     bool *found);
int attach6_has_route(struct nl_sock *s, const struct in6_addr *dst, uint8_t dst_len,
		      const struct in6_addr *gw, bool *found);

#endif
