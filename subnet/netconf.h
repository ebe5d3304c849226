/* The network configuration stored at <prefix>/config, parsed the way flannel
 * parses it: keys case-insensitive, unknown keys ignored, flannel's defaults
 * and validation. Only the vxlan backend is supported. All three families
 * are accepted: IPv4 only, dual stack, IPv6 only. */
#ifndef WEFT_NETCONF_H
#define WEFT_NETCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip4.h"
#include "common/ip6.h"

#define NETCONF_DEFAULT_VNI  1
#define NETCONF_DEFAULT_PORT 8472

/* The IPv4 fields are all zero when EnableIPv4 is false, the IPv6 ones when
 * EnableIPv6 is false; at least one family is on. */
struct netconf {
	struct ip4_net network; /* canonical */
	uint8_t subnet_len;
	uint32_t subnet_min; /* first leasable subnet address, aligned */
	uint32_t subnet_max; /* last leasable subnet address, aligned */
	uint32_t vni;
	uint16_t port;
	bool direct_routing;
	unsigned mtu; /* 0: take the underlay MTU */
	bool enable_ipv4;
	bool enable_ipv6;
	struct ip6_net ipv6_network; /* canonical */
	uint8_t ipv6_subnet_len;
	struct in6_addr ipv6_subnet_min; /* first leasable IPv6 subnet, aligned */
	struct in6_addr ipv6_subnet_max; /* last leasable IPv6 subnet, aligned */
};

/* Parse and validate for the daemon; fills every default. 0, or -EINVAL
 * with a message naming the bad field in err (may be NULL). */
int netconf_parse(const char *json, size_t len, struct netconf *out, char *err, size_t errlen);
/* The same (kept for callers that name it). */
int netconf_parse_any(const char *json, size_t len, struct netconf *out, char *err, size_t errlen);

/* Number of leasable subnets, SubnetMin..SubnetMax inclusive. */
uint64_t netconf_subnet_count(const struct netconf *nc);
/* The i-th leasable subnet (0 = SubnetMin): 0 or -ERANGE. */
int netconf_subnet_nth(const struct netconf *nc, uint64_t i, struct ip4_net *out);
/* True when sn is a leasable subnet: right length, aligned, in Min..Max. */
bool netconf_subnet_valid(const struct netconf *nc, const struct ip4_net *sn);

/* The IPv6 counterparts (EnableIPv6 only). The count saturates at
 * UINT64_MAX; nth gives -ERANGE past the count (or with IPv6 off). */
uint64_t netconf_ipv6_subnet_count(const struct netconf *nc);
int netconf_ipv6_subnet_nth(const struct netconf *nc, uint64_t i, struct ip6_net *out);
bool netconf_ipv6_subnet_valid(const struct netconf *nc, const struct ip6_net *sn);

#endif
