/* Network config (<prefix>/config). Whatever the JSON, the parser either
 * refuses with a message or yields a config whose leasable subnets are all
 * inside the network, aligned, and enumerable from SubnetMin to SubnetMax. */
#include "tests/fuzz/fuzz.h"

#include "subnet/netconf.h"

static void check_conf(const struct netconf *nc)
{
	struct ip4_net sn;
	uint64_t count;

	FUZZ_CHECK(ip4_net_is_canonical(&nc->network) && nc->network.prefix > 0);
	FUZZ_CHECK(nc->subnet_len > nc->network.prefix && nc->subnet_len <= 30);
	FUZZ_CHECK(nc->subnet_min <= nc->subnet_max);
	FUZZ_CHECK(nc->vni <= 0xffffff && nc->port != 0);
	FUZZ_CHECK(!nc->enable_ipv6);

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
	struct netconf nc;
	char err[256];
	int ret;

	/* Exact-size buffer: the parser gets a length, not a C string. */
	ret = netconf_parse((const char *)data, size, &nc, err, sizeof(err));
	if (ret == 0) {
		FUZZ_CHECK(err[0] == '\0');
		check_conf(&nc);
	} else {
		FUZZ_CHECK(ret == -EINVAL && err[0] != '\0' && strlen(err) < sizeof(err));
	}
	/* No error buffer at all must work too. */
	FUZZ_CHECK(netconf_parse((const char *)data, size, &nc, NULL, 0) == ret);
	return 0;
}
