/* Network config: dual stack and IPv6 only (netconf_parse_any), and the
 * daemon's parser agreeing with it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "subnet/netconf.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static char err[256];

static void ok(const char *json, struct netconf *nc)
{
	memset(err, 0, sizeof(err));
	if (netconf_parse_any(json, strlen(json), nc, err, sizeof(err)))
		fail_msg("'%s' rejected: %s", json, err);
}

/* Rejected with a message that contains want; nc stays untouched. */
static void bad(const char *json, const char *want)
{
	struct netconf nc, before;

	memset(&nc, 0xa5, sizeof(nc));
	before = nc;
	assert_int_equal(netconf_parse_any(json, strlen(json), &nc, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", json, err, want);
	assert_memory_equal(&nc, &before, sizeof(nc));
}

static void assert_addr(const struct in6_addr *a, const char *want)
{
	char buf[IP6_ADDR_STRLEN];

	ip6_format_addr(a, buf);
	assert_string_equal(buf, want);
}

static void assert_net(const struct ip6_net *n, const char *want)
{
	char buf[IP6_NET_STRLEN];

	ip6_format_net(n, buf);
	assert_string_equal(buf, want);
}

static void test_dual_defaults(void **state)
{
	struct netconf nc;

	ok("{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"fd00:10:244::/56\"}",
	   &nc);
	assert_true(nc.enable_ipv4);
	assert_true(nc.enable_ipv6);
	assert_int_equal(nc.subnet_len, 24);
	assert_net(&nc.ipv6_network, "fd00:10:244::/56");
	assert_int_equal(nc.ipv6_subnet_len, 64);
	/* The first subnet is skipped, as for IPv4. */
	assert_addr(&nc.ipv6_subnet_min, "fd00:10:244:1::");
	assert_addr(&nc.ipv6_subnet_max, "fd00:10:244:ff::");
	assert_int_equal(netconf_ipv6_subnet_count(&nc), 255);
}

static void test_ipv6_only(void **state)
{
	struct netconf nc;

	ok("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00:10:244::/56\"}", &nc);
	assert_false(nc.enable_ipv4);
	assert_true(nc.enable_ipv6);
	assert_int_equal(nc.network.prefix, 0);
	assert_int_equal(nc.network.addr, 0);
	assert_int_equal(nc.subnet_len, 0);
	assert_int_equal(netconf_subnet_count(&nc), 1); /* meaningless, but defined */
	/* Network is ignored with IPv4 off, even when not valid. */
	ok("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
	   "\"Network\":\"junk\",\"SubnetLen\":99}",
	   &nc);
	/* Keys case-insensitive, host bits dropped. */
	ok("{\"enableipv4\":false,\"ENABLEIPV6\":true,\"ipv6network\":\"FD00:10:244::1/56\","
	   "\"ipv6subnetlen\":60}",
	   &nc);
	assert_net(&nc.ipv6_network, "fd00:10:244::/56");
	assert_int_equal(nc.ipv6_subnet_len, 60);
	assert_addr(&nc.ipv6_subnet_min, "fd00:10:244:10::");
	assert_addr(&nc.ipv6_subnet_max, "fd00:10:244:f0::");
	assert_int_equal(netconf_ipv6_subnet_count(&nc), 15);
	/* IPv4 only leaves the IPv6 fields zero, and IPv6Network is ignored. */
	ok("{\"Network\":\"10.244.0.0/16\",\"IPv6Network\":\"junk\"}", &nc);
	assert_false(nc.enable_ipv6);
	assert_int_equal(nc.ipv6_subnet_len, 0);
	assert_int_equal(netconf_ipv6_subnet_count(&nc), 0);
}

static void test_subnet_len_defaults(void **state)
{
	static const struct {
		const char *network;
		unsigned len;
		const char *min, *max;
	} cases[] = {
		{"fd00::/8", 64, "fd00:0:0:1::", "fdff:ffff:ffff:ffff::"},
		{"fd00:10:244::/48", 64, "fd00:10:244:1::", "fd00:10:244:ffff::"},
		{"fd00:10:244::/62", 64, "fd00:10:244:1::", "fd00:10:244:3::"},
		{"fd00:10:244::/63", 65, "fd00:10:244:0:8000::", "fd00:10:244:1:8000::"},
		{"fd00::/120", 122, "fd00::40", "fd00::c0"},
		{"fd00::/124", 126, "fd00::4", "fd00::c"},
		{"2001:db8::/32", 64, "2001:db8:0:1::", "2001:db8:ffff:ffff::"},
	};
	char json[160];
	struct netconf nc;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		snprintf(json, sizeof(json),
			 "{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"%s\"}",
			 cases[i].network);
		ok(json, &nc);
		assert_int_equal(nc.ipv6_subnet_len, cases[i].len);
		assert_addr(&nc.ipv6_subnet_min, cases[i].min);
		assert_addr(&nc.ipv6_subnet_max, cases[i].max);
	}
	/* 2^56 - 1 subnets in an /8: counted exactly, not saturated. */
	ok("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/8\"}", &nc);
	assert_int_equal(netconf_ipv6_subnet_count(&nc), (UINT64_C(1) << 56) - 1);
	/* More than 2^64 subnets: saturated. */
	ok("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/8\","
	   "\"IPv6SubnetLen\":126}",
	   &nc);
	assert_int_equal(netconf_ipv6_subnet_count(&nc), UINT64_MAX);
}

static void test_explicit_min_max(void **state)
{
	struct netconf nc;
	struct ip6_net sn;

	ok("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00:10:244::/56\","
	   "\"IPv6SubnetMin\":\"fd00:10:244:10::\",\"IPv6SubnetMax\":\"fd00:10:244:20::\"}",
	   &nc);
	assert_int_equal(netconf_ipv6_subnet_count(&nc), 17);
	for (uint64_t i = 0; i < 17; i++) {
		assert_int_equal(netconf_ipv6_subnet_nth(&nc, i, &sn), 0);
		assert_true(netconf_ipv6_subnet_valid(&nc, &sn));
		assert_true(ip6_net_contains_net(&nc.ipv6_network, &sn));
	}
	assert_net(&sn, "fd00:10:244:20::/64");
	assert_int_equal(netconf_ipv6_subnet_nth(&nc, 17, &sn), -ERANGE);
	assert_int_equal(netconf_ipv6_subnet_nth(&nc, UINT64_MAX, &sn), -ERANGE);
	assert_int_equal(ip6_parse_net("fd00:10:244:f::/64", &sn), 0);
	assert_false(netconf_ipv6_subnet_valid(&nc, &sn));
	assert_int_equal(ip6_parse_net("fd00:10:244:21::/64", &sn), 0);
	assert_false(netconf_ipv6_subnet_valid(&nc, &sn));
	assert_int_equal(ip6_parse_net("fd00:10:244:11::/65", &sn), 0);
	assert_false(netconf_ipv6_subnet_valid(&nc, &sn));
	assert_int_equal(ip6_parse_net("fd00:10:244:11::1/64", &sn), 0);
	assert_false(netconf_ipv6_subnet_valid(&nc, &sn));
	/* "::" counts as absent, like 0.0.0.0; Min == Max is one subnet. */
	ok("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00:10:244::/56\","
	   "\"IPv6SubnetMin\":\"::\",\"IPv6SubnetMax\":\"fd00:10:244:1::\"}",
	   &nc);
	assert_int_equal(netconf_ipv6_subnet_count(&nc), 1);
	/* The saturated walk stops at IPv6SubnetMax. */
	ok("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/8\","
	   "\"IPv6SubnetLen\":126}",
	   &nc);
	assert_int_equal(netconf_ipv6_subnet_nth(&nc, UINT64_MAX - 1, &sn), 0);
	assert_net(&sn, "fd00::3:ffff:ffff:ffff:fffc/126");
}

static void test_errors(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{"{\"EnableIPv4\":false}", "both false"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":false,\"Network\":\"10.0.0.0/8\"}",
		 "both false"},
		{"{\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\"}",
		 "Network: missing (required while EnableIPv4 is true)"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true}", "IPv6Network: missing"},
		{"{\"Network\":\"10.0.0.0/8\",\"EnableIPv6\":true,\"IPv6Network\":null}",
		 "IPv6Network: missing"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":\"yes\"}",
		 "EnableIPv6: must be true or false"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":56}",
		 "IPv6Network: must be a string"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"10.0.0.0/8\"}",
		 "IPv6Network: not a valid IPv6 CIDR: '10.0.0.0/8'"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::\"}",
		 "not a valid IPv6 CIDR"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fe80::/64\"}",
		 "IPv6Network fe80::/64: not a usable pod network"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"::/0\"}",
		 "not a usable pod network"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"ff00::/16\"}",
		 "not a usable pod network"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"::ffff:0:0/104\"}",
		 "not a usable pod network"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/125\"}",
		 "IPv6Network fd00::/125: too small, the minimum useful prefix is /124"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetLen\":57}",
		 "IPv6SubnetLen 57: must be between 58 and 126 for IPv6Network fd00::/56"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetLen\":127}",
		 "IPv6SubnetLen 127"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetLen\":-64}",
		 "IPv6SubnetLen -64"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetLen\":\"64\"}",
		 "IPv6SubnetLen: must be an integer"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetMin\":\"fd01::\"}",
		 "IPv6SubnetMin fd01::: not inside IPv6Network fd00::/56"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetMax\":\"fd00:0:0:100::\"}",
		 "IPv6SubnetMax fd00:0:0:100::: not inside IPv6Network"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetMin\":\"fd00:0:0:1::1\"}",
		 "IPv6SubnetMin fd00:0:0:1::1: not on a /64 boundary"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetMax\":\"fd00:0:0:1:8000::\"}",
		 "IPv6SubnetMax fd00:0:0:1:8000::: not on a /64 boundary"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetMin\":\"fd00:0:0:5::\",\"IPv6SubnetMax\":\"fd00:0:0:4::\"}",
		 "IPv6SubnetMin fd00:0:0:5::: greater than IPv6SubnetMax fd00:0:0:4::"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetMin\":\"10.0.0.1\"}",
		 "IPv6SubnetMin: not a valid IPv6 address: '10.0.0.1'"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"IPv6SubnetMax\":[]}",
		 "IPv6SubnetMax: must be a string"},
		/* IPv4 errors still apply in dual stack, the backend's in IPv6 only. */
		{"{\"Network\":\"10.0.0.0/8\",\"SubnetLen\":7,\"EnableIPv6\":true,"
		 "\"IPv6Network\":\"fd00::/56\"}",
		 "SubnetLen 7"},
		{"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\","
		 "\"Backend\":{\"Type\":\"host-gw\"}}",
		 "only vxlan is supported"},
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++)
		bad(cases[i].json, cases[i].want);
}

/* The daemon's entry point takes dual stack and IPv6 only. */
static void test_daemon_accepts(void **state)
{
	static const char *const dual =
		"{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\"}";
	static const char *const only6 =
		"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00::/56\"}";
	struct netconf nc;

	assert_int_equal(netconf_parse(dual, strlen(dual), &nc, err, sizeof(err)), 0);
	assert_true(nc.enable_ipv4 && nc.enable_ipv6);
	assert_int_equal(netconf_parse(only6, strlen(only6), &nc, err, sizeof(err)), 0);
	assert_true(!nc.enable_ipv4 && nc.enable_ipv6);
	ok(dual, &nc);
	ok(only6, &nc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dual_defaults),
		cmocka_unit_test(test_ipv6_only),
		cmocka_unit_test(test_subnet_len_defaults),
		cmocka_unit_test(test_explicit_min_max),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_daemon_accepts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
