/* Network config (<prefix>/config). Whatever the JSON, the parser either
 * refuses with a message or yields a config whose leasable subnets are all
 * inside the network, aligned, and enumerable from SubnetMin to SubnetMax,
 * for each family it enables. The daemon's parser and netconf_parse_any
 * agree on every input. */
#include "tests/fuzz/fuzz.h"

#include "subnet/netconf.h"

static void check_conf6(const struct netconf *nc)
{
	struct ip6_net sn;
	uint64_t count;

	FUZZ_CHECK(ip6_net_is_canonical(&nc->ipv6_network) && ip6_net_usable(&nc->ipv6_network));
	FUZZ_CHECK(nc->ipv6_subnet_len >= nc->ipv6_network.len + 2 && nc->ipv6_subnet_len <= 126);
	FUZZ_CHECK(memcmp(&nc->ipv6_subnet_min, &nc->ipv6_subnet_max, 16) <= 0);
	count = netconf_ipv6_subnet_count(nc);
	FUZZ_CHECK(count >= 1);
	FUZZ_CHECK(count == UINT64_MAX || netconf_ipv6_subnet_nth(nc, count, &sn) == -ERANGE);
	FUZZ_CHECK(netconf_ipv6_subnet_nth(nc, 0, &sn) == 0);
	FUZZ_CHECK(ip6_addr_equal(&sn.addr, &nc->ipv6_subnet_min));
	FUZZ_CHECK(netconf_ipv6_subnet_valid(nc, &sn));
	FUZZ_CHECK(ip6_net_contains_net(&nc->ipv6_network, &sn));
	if (count < UINT64_MAX) {
		FUZZ_CHECK(netconf_ipv6_subnet_nth(nc, count - 1, &sn) == 0);
		FUZZ_CHECK(ip6_addr_equal(&sn.addr, &nc->ipv6_subnet_max));
		FUZZ_CHECK(netconf_ipv6_subnet_valid(nc, &sn));
	}
	/* One past the end is not leasable. */
	sn.addr = nc->ipv6_subnet_max;
	sn.len = nc->ipv6_subnet_len;
	if (ip6_subnet_next(&sn))
		FUZZ_CHECK(!netconf_ipv6_subnet_valid(nc, &sn));
}

static void check_conf(const struct netconf *nc)
{
	struct ip4_net sn;
	uint64_t count;

	FUZZ_CHECK(nc->enable_ipv4 || nc->enable_ipv6);
	FUZZ_CHECK(nc->vni <= 0xffffff && nc->port != 0);
	if (nc->enable_ipv6)
		check_conf6(nc);
	if (!nc->enable_ipv4)
		return;
	FUZZ_CHECK(ip4_net_is_canonical(&nc->network) && nc->network.prefix > 0);
	FUZZ_CHECK(nc->subnet_len > nc->network.prefix && nc->subnet_len <= 30);
	FUZZ_CHECK(nc->subnet_min <= nc->subnet_max);

	count = netconf_subnet_count(nc);
	FUZZ_CHECK(count >= 1 && count <= ip4_subnet_count(&nc->network, nc->subnet_len));
	FUZZ_CHECK(netconf_subnet_nth(nc, count, &sn) == -ERANGE);
	FUZZ_CHECK(netconf_subnet_nth(nc, 0, &sn) == 0 && sn.addr == nc->subnet_min);
	FUZZ_CHECK(netconf_subnet_valid(nc, &sn) && ip4_net_contains_net(&nc->network, &sn));
	FUZZ_CHECK(netconf_subnet_nth(nc, count - 1, &sn) == 0 && sn.addr == nc->subnet_max);
	FUZZ_CHECK(netconf_subnet_valid(nc, &sn) && ip4_net_contains_net(&nc->network, &sn));
	/* One past either end is not leasable. */
	sn.addr = nc->subnet_max + (UINT32_C(1) << (32 - nc->subnet_len));
	FUZZ_CHECK(sn.addr < nc->subnet_max || !netconf_subnet_valid(nc, &sn));
	sn.addr = nc->subnet_min - (UINT32_C(1) << (32 - nc->subnet_len));
	FUZZ_CHECK(sn.addr > nc->subnet_min || !netconf_subnet_valid(nc, &sn));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netconf nc, any;
	char err[256];
	int ret, ret_any;

	/* Exact-size buffer: the parser gets a length, not a C string. */
	ret_any = netconf_parse_any((const char *)data, size, &any, err, sizeof(err));
	if (ret_any == 0) {
		FUZZ_CHECK(err[0] == '\0');
		check_conf(&any);
	} else {
		FUZZ_CHECK(ret_any == -EINVAL && err[0] != '\0' && strlen(err) < sizeof(err));
	}
	ret = netconf_parse((const char *)data, size, &nc, err, sizeof(err));
	if (ret == 0) {
		FUZZ_CHECK(err[0] == '\0' && ret_any == 0);
		FUZZ_CHECK(nc.enable_ipv4 == any.enable_ipv4 && nc.enable_ipv6 == any.enable_ipv6);
		FUZZ_CHECK(ip4_net_equal(&nc.network, &any.network) &&
			   nc.subnet_len == any.subnet_len && nc.subnet_min == any.subnet_min &&
			   nc.subnet_max == any.subnet_max && nc.vni == any.vni &&
			   nc.port == any.port && nc.mtu == any.mtu &&
			   nc.direct_routing == any.direct_routing);
	} else {
		FUZZ_CHECK(ret == -EINVAL && err[0] != '\0' && strlen(err) < sizeof(err));
		FUZZ_CHECK(ret_any != 0);
	}
	/* No error buffer at all must work too. */
	FUZZ_CHECK(netconf_parse((const char *)data, size, &nc, NULL, 0) == ret);
	return 0;
}
