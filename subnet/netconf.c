/* Network config: flannel's pkg/subnet/config.go rules, reimplemented.
 *
 * Where weft differs from flannel, on purpose:
 * - A missing Backend or Backend.Type means "vxlan" (flannel's documented
 *   default; its code falls back to "udp", a backend weft does not have).
 *   Any other explicit type is an error, so a udp/host-gw config is refused
 *   instead of silently running vxlan.
 * - SubnetMin > SubnetMax is an error (flannel would start with no subnets);
 *   the same for IPv6SubnetMin > IPv6SubnetMax.
 * - Both families off is an error; so is an IPv6Network that overlaps ::/96,
 *   IPv4-mapped, link-local or multicast space.
 * - Backend.Port 0 means 8472 explicitly (flannel leaves it to the kernel,
 *   whose default is the same).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/util.h"
#include "subnet/jsonx.h"
#include "subnet/netconf.h"

#define VNI_MAX 0xffffff
/* The vxlan device loses 50 bytes and must keep IPv4's minimum of 68. */
#define MTU_MIN (68 + 50)
#define MTU_MAX 65535

/* Integer field in [min, max]; *out untouched when absent. */
static int get_int(json_t *obj, const char *key, const char *name, json_int_t min, json_int_t max,
		   json_int_t *out, char *err, size_t errlen)
{
	json_t *v = jsonx_get_ci(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return err_fail(err, errlen, "%s: must be an integer", name);
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return err_fail(err, errlen, "%s %lld: must be between %lld and %lld", name,
				(long long)json_integer_value(v), (long long)min, (long long)max);
	*out = json_integer_value(v);
	return 0;
}

static int get_bool(json_t *obj, const char *key, const char *name, bool *out, char *err,
		    size_t errlen)
{
	json_t *v = jsonx_get_ci(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return err_fail(err, errlen, "%s: must be true or false", name);
	*out = json_is_true(v);
	return 0;
}

/* Address field; *present tells whether it was given (0.0.0.0 counts as
 * absent, as in flannel). */
static int get_addr(json_t *obj, const char *key, uint32_t *out, bool *present, char *err,
		    size_t errlen)
{
	json_t *v = jsonx_get_ci(obj, key);

	*present = false;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return err_fail(err, errlen, "%s: must be a string", key);
	if (ip4_parse_addr(json_string_value(v), out))
		return err_fail(err, errlen, "%s: not a valid IPv4 address: '%s'", key,
				json_string_value(v));
	*present = *out != 0;
	return 0;
}

/* IPv6 address field; "::" counts as absent, like 0.0.0.0. */
static int get_addr6(json_t *obj, const char *key, struct in6_addr *out, bool *present, char *err,
		     size_t errlen)
{
	static const struct in6_addr zero;
	json_t *v = jsonx_get_ci(obj, key);

	*present = false;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return err_fail(err, errlen, "%s: must be a string", key);
	if (ip6_parse_addr(json_string_value(v), out))
		return err_fail(err, errlen, "%s: not a valid IPv6 address: '%s'", key,
				json_string_value(v));
	*present = !ip6_addr_equal(out, &zero);
	return 0;
}

static int parse_backend(json_t *root, struct netconf *nc, char *err, size_t errlen)
{
	json_t *be = jsonx_get_ci(root, "Backend"), *type;
	json_int_t vni = NETCONF_DEFAULT_VNI, port = 0, mtu = 0;
	int ret;

	if (!be)
		return 0;
	if (!json_is_object(be))
		return err_fail(err, errlen, "Backend: must be an object");
	type = jsonx_get_ci(be, "Type");
	if (type && !json_is_string(type))
		return err_fail(err, errlen, "Backend.Type: must be a string");
	/* flannel lower-cases the type before looking up the backend. */
	if (type && strcasecmp(json_string_value(type), "vxlan") != 0)
		return err_fail(err, errlen, "Backend.Type '%s': only vxlan is supported",
				json_string_value(type));

	ret = get_int(be, "VNI", "Backend.VNI", 0, VNI_MAX, &vni, err, errlen);
	if (ret)
		return ret;
	ret = get_int(be, "Port", "Backend.Port", 0, 65535, &port, err, errlen);
	if (ret)
		return ret;
	ret = get_int(be, "MTU", "Backend.MTU", 0, MTU_MAX, &mtu, err, errlen);
	if (ret)
		return ret;
	if (mtu != 0 && mtu < MTU_MIN)
		return err_fail(err, errlen,
				"Backend.MTU %lld: must be 0 (underlay MTU) or between %d and %d",
				(long long)mtu, MTU_MIN, MTU_MAX);
	ret = get_bool(be, "DirectRouting", "Backend.DirectRouting", &nc->direct_routing, err,
		       errlen);
	if (ret)
		return ret;

	nc->vni = (uint32_t)vni;
	nc->port = port ? (uint16_t)port : NETCONF_DEFAULT_PORT;
	nc->mtu = (unsigned)mtu;
	return 0;
}

static int parse_subnets(json_t *root, struct netconf *nc, char *err, size_t errlen)
{
	const uint8_t plen = nc->network.prefix;
	json_int_t len = 0;
	uint32_t size, min, max;
	bool has_min, has_max;
	char a[IP4_ADDR_STRLEN], b[IP4_ADDR_STRLEN], net[IP4_NET_STRLEN];
	int ret;

	/* Any integer; the range check below speaks in flannel's terms. */
	ret = get_int(root, "SubnetLen", "SubnetLen", LLONG_MIN, LLONG_MAX, &len, err, errlen);
	if (ret)
		return ret;
	ip4_format_net(&nc->network, net);
	if (plen > 28) {
		/* Fewer than four /30s: flannel refuses it with or without SubnetLen. */
		return err_fail(err, errlen,
				"Network %s: too small, the minimum useful prefix is /28", net);
	} else if (len != 0) {
		/* A host needs room for the tunnel address and the bridge, and the
		 * network must hold more than two subnets (the first is skipped). */
		if (len > 30 || len < plen + 2)
			return err_fail(err, errlen,
					"SubnetLen %lld: must be between %u and 30 for Network %s",
					(long long)len, plen + 2u, net);
	} else {
		len = plen <= 22 ? 24 : plen + 2;
	}
	nc->subnet_len = (uint8_t)len;
	size = UINT32_C(1) << (32 - len);

	ret = get_addr(root, "SubnetMin", &min, &has_min, err, errlen);
	if (ret)
		return ret;
	ret = get_addr(root, "SubnetMax", &max, &has_max, err, errlen);
	if (ret)
		return ret;
	if (!has_min)
		min = ip4_net_first(&nc->network) + size;
	else if (!ip4_net_contains(&nc->network, min))
		return err_fail(err, errlen, "SubnetMin %s: not inside Network %s",
				(ip4_format_addr(min, a), a), net);
	if (!has_max)
		max = ip4_net_broadcast(&nc->network) - size + 1;
	else if (!ip4_net_contains(&nc->network, max))
		return err_fail(err, errlen, "SubnetMax %s: not inside Network %s",
				(ip4_format_addr(max, a), a), net);
	if (min & (size - 1))
		return err_fail(err, errlen, "SubnetMin %s: not on a /%lld boundary",
				(ip4_format_addr(min, a), a), (long long)len);
	if (max & (size - 1))
		return err_fail(err, errlen, "SubnetMax %s: not on a /%lld boundary",
				(ip4_format_addr(max, a), a), (long long)len);
	if (min > max) {
		ip4_format_addr(min, a);
		ip4_format_addr(max, b);
		return err_fail(err, errlen, "SubnetMin %s: greater than SubnetMax %s", a, b);
	}
	nc->subnet_min = min;
	nc->subnet_max = max;
	return 0;
}

static int parse_network4(json_t *root, struct netconf *nc, char *err, size_t errlen)
{
	json_t *v = jsonx_get_ci(root, "Network");

	if (!v)
		return err_fail(err, errlen,
				"Network: missing (required while EnableIPv4 is true)");
	if (!json_is_string(v))
		return err_fail(err, errlen, "Network: must be a string");
	if (ip4_parse_net(json_string_value(v), &nc->network))
		return err_fail(err, errlen, "Network: not a valid CIDR: '%s'",
				json_string_value(v));
	/* Like Go's net.ParseCIDR, host bits are dropped. */
	nc->network = ip4_net_canonical(&nc->network);
	/* flannel takes 0.0.0.0/0 for "not set"; it is no pod network anyway. */
	if (nc->network.prefix == 0)
		return err_fail(err, errlen, "Network 0.0.0.0/0: not a usable pod network");
	return parse_subnets(root, nc, err, errlen);
}

/* The last subnet of length len inside n: n's host bits set, then those
 * below len cleared. */
static struct in6_addr last_subnet6(const struct ip6_net *n, uint8_t len)
{
	struct in6_addr net = ip6_mask(n->len), sub = ip6_mask(len), a;

	for (int i = 0; i < 16; i++)
		a.s6_addr[i] = (uint8_t)((n->addr.s6_addr[i] | ~net.s6_addr[i]) & sub.s6_addr[i]);
	return a;
}

/* IPv6SubnetMin or IPv6SubnetMax: inside IPv6Network and aligned. */
static int check_bound6(const struct netconf *nc, const char *key, const struct in6_addr *a,
			char *err, size_t errlen)
{
	struct ip6_net sn = {.addr = *a, .len = nc->ipv6_subnet_len};
	char s[IP6_ADDR_STRLEN], net[IP6_NET_STRLEN];

	ip6_format_addr(a, s);
	ip6_format_net(&nc->ipv6_network, net);
	if (!ip6_net_contains(&nc->ipv6_network, a))
		return err_fail(err, errlen, "%s %s: not inside IPv6Network %s", key, s, net);
	if (!ip6_net_is_canonical(&sn))
		return err_fail(err, errlen, "%s %s: not on a /%u boundary", key, s, sn.len);
	return 0;
}

static int parse_subnets6(json_t *root, struct netconf *nc, char *err, size_t errlen)
{
	const uint8_t plen = nc->ipv6_network.len;
	json_int_t len = 0;
	struct in6_addr min, max;
	bool has_min, has_max;
	char a[IP6_ADDR_STRLEN], b[IP6_ADDR_STRLEN], net[IP6_NET_STRLEN];
	int ret;

	ret = get_int(root, "IPv6SubnetLen", "IPv6SubnetLen", LLONG_MIN, LLONG_MAX, &len, err,
		      errlen);
	if (ret)
		return ret;
	ip6_format_net(&nc->ipv6_network, net);
	if (plen > 124)
		return err_fail(err, errlen,
				"IPv6Network %s: too small, the minimum useful prefix is /124",
				net);
	if (len != 0 && (len > 126 || len < plen + 2))
		return err_fail(err, errlen,
				"IPv6SubnetLen %lld: must be between %u and 126 for IPv6Network %s",
				(long long)len, plen + 2u, net);
	if (len == 0)
		len = plen <= 62 ? 64 : plen + 2;
	nc->ipv6_subnet_len = (uint8_t)len;

	ret = get_addr6(root, "IPv6SubnetMin", &min, &has_min, err, errlen);
	if (!ret)
		ret = get_addr6(root, "IPv6SubnetMax", &max, &has_max, err, errlen);
	if (!ret && has_min)
		ret = check_bound6(nc, "IPv6SubnetMin", &min, err, errlen);
	if (!ret && has_max)
		ret = check_bound6(nc, "IPv6SubnetMax", &max, err, errlen);
	if (ret)
		return ret;
	if (!has_min) {
		/* The first subnet is skipped, as for IPv4. */
		struct ip6_net second;

		ip6_subnet_nth(&nc->ipv6_network, nc->ipv6_subnet_len, 1, &second);
		min = second.addr;
	}
	if (!has_max)
		max = last_subnet6(&nc->ipv6_network, nc->ipv6_subnet_len);
	if (memcmp(&min, &max, sizeof(min)) > 0) {
		ip6_format_addr(&min, a);
		ip6_format_addr(&max, b);
		return err_fail(err, errlen, "IPv6SubnetMin %s: greater than IPv6SubnetMax %s", a,
				b);
	}
	nc->ipv6_subnet_min = min;
	nc->ipv6_subnet_max = max;
	return 0;
}

static int parse_network6(json_t *root, struct netconf *nc, char *err, size_t errlen)
{
	json_t *v = jsonx_get_ci(root, "IPv6Network");
	char net[IP6_NET_STRLEN];

	if (!v)
		return err_fail(err, errlen,
				"IPv6Network: missing (required while EnableIPv6 is true)");
	if (!json_is_string(v))
		return err_fail(err, errlen, "IPv6Network: must be a string");
	if (ip6_parse_net(json_string_value(v), &nc->ipv6_network))
		return err_fail(err, errlen, "IPv6Network: not a valid IPv6 CIDR: '%s'",
				json_string_value(v));
	nc->ipv6_network = ip6_net_canonical(&nc->ipv6_network);
	if (!ip6_net_usable(&nc->ipv6_network)) {
		ip6_format_net(&nc->ipv6_network, net);
		return err_fail(err, errlen,
				"IPv6Network %s: not a usable pod network (overlaps ::/96, "
				"IPv4-mapped, link-local or multicast space)",
				net);
	}
	return parse_subnets6(root, nc, err, errlen);
}

/* Which families are on: at least one. */
static int parse_families(json_t *root, struct netconf *nc, char *err, size_t errlen)
{
	int ret;

	nc->enable_ipv4 = true;
	ret = get_bool(root, "EnableIPv4", "EnableIPv4", &nc->enable_ipv4, err, errlen);
	if (!ret)
		ret = get_bool(root, "EnableIPv6", "EnableIPv6", &nc->enable_ipv6, err, errlen);
	if (ret)
		return ret;
	if (!nc->enable_ipv4 && !nc->enable_ipv6)
		return err_fail(err, errlen,
				"EnableIPv4 and EnableIPv6: both false, no address family to run");
	return 0;
}

int netconf_parse(const char *json, size_t len, struct netconf *out, char *err, size_t errlen)
{
	struct netconf nc = {
		.vni = NETCONF_DEFAULT_VNI,
		.port = NETCONF_DEFAULT_PORT,
	};
	json_error_t jerr;
	json_t *root;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
	if (!root)
		return err_fail(err, errlen, "config is not valid JSON: %s (line %d)", jerr.text,
				jerr.line);
	if (!json_is_object(root)) {
		ret = err_fail(err, errlen, "config is not a JSON object");
		goto out_root;
	}
	ret = parse_families(root, &nc, err, errlen);
	if (!ret && nc.enable_ipv4)
		ret = parse_network4(root, &nc, err, errlen);
	if (!ret && nc.enable_ipv6)
		ret = parse_network6(root, &nc, err, errlen);
	if (!ret)
		ret = parse_backend(root, &nc, err, errlen);
	if (!ret)
		*out = nc;
out_root:
	json_decref(root);
	return ret;
}

int netconf_parse_any(const char *json, size_t len, struct netconf *out, char *err, size_t errlen)
{
	return netconf_parse(json, len, out, err, errlen);
}

uint64_t netconf_subnet_count(const struct netconf *nc)
{
	return ((uint64_t)(nc->subnet_max - nc->subnet_min) >> (32 - nc->subnet_len)) + 1;
}

int netconf_subnet_nth(const struct netconf *nc, uint64_t i, struct ip4_net *out)
{
	if (i >= netconf_subnet_count(nc))
		return -ERANGE;
	out->addr = nc->subnet_min + (uint32_t)(i << (32 - nc->subnet_len));
	out->prefix = nc->subnet_len;
	return 0;
}

bool netconf_subnet_valid(const struct netconf *nc, const struct ip4_net *sn)
{
	return sn->prefix == nc->subnet_len && ip4_net_is_canonical(sn) &&
	       sn->addr >= nc->subnet_min && sn->addr <= nc->subnet_max;
}

uint64_t netconf_ipv6_subnet_count(const struct netconf *nc)
{
	uint64_t d;

	if (!nc->enable_ipv6)
		return 0;
	d = ip6_subnet_distance(&nc->ipv6_subnet_min, &nc->ipv6_subnet_max, nc->ipv6_subnet_len);
	return d == UINT64_MAX ? d : d + 1;
}

int netconf_ipv6_subnet_nth(const struct netconf *nc, uint64_t i, struct ip6_net *out)
{
	struct in6_addr a;

	if (!nc->enable_ipv6 || i >= netconf_ipv6_subnet_count(nc) ||
	    ip6_subnet_add(&nc->ipv6_subnet_min, nc->ipv6_subnet_len, i, &a) ||
	    memcmp(&a, &nc->ipv6_subnet_max, sizeof(a)) > 0)
		return -ERANGE;
	out->addr = a;
	out->len = nc->ipv6_subnet_len;
	return 0;
}

bool netconf_ipv6_subnet_valid(const struct netconf *nc, const struct ip6_net *sn)
{
	return nc->enable_ipv6 && sn->len == nc->ipv6_subnet_len && ip6_net_is_canonical(sn) &&
	       memcmp(&sn->addr, &nc->ipv6_subnet_min, sizeof(sn->addr)) >= 0 &&
	       memcmp(&sn->addr, &nc->ipv6_subnet_max, sizeof(sn->addr)) <= 0;
}
