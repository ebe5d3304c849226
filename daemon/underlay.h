/* The underlay: the interface weftd's VXLAN traffic leaves by, the node's
 * public IPv4 address, the on-link network around it and the interface's
 * MTU. Found once at start (from --iface, --public-ip or the default
 * route) with one scan of the interfaces; nothing else looks again. */
#ifndef WEFTD_UNDERLAY_H
#define WEFTD_UNDERLAY_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip4.h"
#include "common/ip6.h"

struct underlay {
	char iface[IF_NAMESIZE];
	int ifindex;
	uint32_t public_ip; /* host byte order */
	/* The on-link network of public_ip (DirectRouting); prefix 0 when
	 * public_ip is not an address of iface. */
	struct ip4_net net;
	unsigned mtu;
	/* The node's public IPv6 address (used when the network config
	 * enables IPv6): --public-ipv6, else the interface's first global one
	 * that is neither deprecated nor tentative. */
	bool has_public_ipv6;
	struct in6_addr public_ipv6;
};

/* iface: NULL, a name or an address; public_ip: NULL or an address (both
 * already validated as options). 0, or -errno with a message in err. */
int underlay_detect(const char *iface, const char *public_ip, struct underlay *out, char *err,
		    size_t errlen);
/* Fills the IPv6 part of u (found by underlay_detect): public_ipv6 (NULL or
 * an address validated as an option), else the first usable global address
 * of u->iface. Having none is not an error (has_public_ipv6 stays false). */
void underlay_detect_ipv6(const char *public_ipv6, struct underlay *u);

/* One line of /proc/net/if_inet6: the address, its interface name, scope and
 * IFA_F_* flags. 0 or -EINVAL. */
int underlay_inet6_line(const char *line, struct in6_addr *a, char ifname[IF_NAMESIZE],
			unsigned *scope, unsigned *flags);

#endif
