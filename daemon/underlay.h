/* The underlay: the interface weftd's VXLAN traffic leaves by, the node's
 * public IPv4 address, the on-link network around it and the interface's
 * MTU. Found once at start (from --iface, --public-ip or the default
 * route) with one scan of the interfaces; nothing else looks again. */
#ifndef WEFTD_UNDERLAY_H
#define WEFTD_UNDERLAY_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip4.h"

struct underlay {
	char iface[IF_NAMESIZE];
	int ifindex;
	uint32_t public_ip; /* host byte order */
	/* The on-link network of public_ip (DirectRouting); prefix 0 when
	 * public_ip is not an address of iface. */
	struct ip4_net net;
	unsigned mtu;
};

/* iface: NULL, a name or an address; public_ip: NULL or an address (both
 * already validated as options). 0, or -errno with a message in err. */
int underlay_detect(const char *iface, const char *public_ip, struct underlay *out, char *err,
		    size_t errlen);

#endif
