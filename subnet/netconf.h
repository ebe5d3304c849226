/* The network configuration stored at <prefix>/config, parsed the way flannel
 * parses it: keys case-insensitive, unknown keys ignored, flannel's defaults
 * and validation. Only the vxlan backend and IPv4 are supported. */
#ifndef WEFT_NETCONF_H
#define WEFT_NETCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip4.h"

#define NETCONF_DEFAULT_VNI  1
#define NETCONF_DEFAULT_PORT 8472

struct netconf {
	struct ip4_net network; /* canonical */
	uint8_t subnet_len;
	uint32_t subnet_min; /* first leasable subnet address, aligned */
	uint32_t subnet_max; /* last leasable subnet address, aligned */
	uint32_t vni;
	uint16_t port;
	bool direct_routing;
	unsigned mtu;	  /* 0: take the underlay MTU */
	bool enable_ipv6; /* parsed so it can be rejected */
};

/* Parse and validate; fills every default. 0, or -EINVAL with a message naming
 * the bad field in err (may be NULL). */
int netconf_parse(const char *json, size_t len, struct netconf *out, char *err, size_t errlen);

/* Number of leasable subnets, SubnetMin..SubnetMax inclusive. */
uint64_t netconf_subnet_count(const struct netconf *nc);
/* The i-th leasable subnet (0 = SubnetMin): 0 or -ERANGE. */
int netconf_subnet_nth(const struct netconf *nc, uint64_t i, struct ip4_net *out);
/* True when sn is a leasable subnet: right length, aligned, in Min..Max. */
bool netconf_subnet_valid(const struct netconf *nc, const struct ip4_net *sn);

#endif
