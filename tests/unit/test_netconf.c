/* Network config parsing: flannel's defaults, tolerance and validation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "subnet/netconf.h"

#define A(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static char err[256];

static int parse(const char *json, struct netconf *nc)
{
	memset(err, 0, sizeof(err));
	return netconf_parse(json, strlen(json), nc, err, sizeof(err));
}

static void ok(const char *json, struct netconf *nc)
{
	int ret = parse(json, nc);

	if (ret)
		fail_msg("'%s' rejected: %s", json, err);
}

/* Rejected with a message that contains want; nc stays untouched. */
static void bad(const char *json, const char *want)
{
	struct netconf nc, before;

	memset(&nc, 0xa5, sizeof(nc));
	before = nc;
	assert_int_equal(parse(json, &nc), -EINVAL);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", json, err, want);
	assert_memory_equal(&nc, &before, sizeof(nc));
}

static void test_defaults(void **state)
{
	struct netconf nc;
	char buf[IP4_NET_STRLEN];

	ok("{\"Network\":\"10.244.0.0/16\"}", &nc);
	ip4_format_net(&nc.network, buf);
	assert_string_equal(buf, "10.244.0.0/16");
	assert_int_equal(nc.subnet_len, 24);
	assert_int_equal(nc.subnet_min, A(10, 244, 1, 0));
	assert_int_equal(nc.subnet_max, A(10, 244, 255, 0));
	assert_int_equal(nc.vni, 1);
	assert_int_equal(nc.port, 8472);
	assert_false(nc.direct_routing);
	assert_int_equal(nc.mtu, 0);
	assert_false(nc.enable_ipv6);
	assert_int_equal(netconf_subnet_count(&nc), 255);
}

static void test_subnet_len_defaults(void **state)
{
	static const struct {
		const char *network;
		unsigned len;
		uint32_t min, max;
	} cases[] = {
		{"10.0.0.0/8", 24, A(10, 0, 1, 0), A(10, 255, 255, 0)},
		{"10.244.0.0/22", 24, A(10, 244, 1, 0), A(10, 244, 3, 0)},
		{"10.244.0.0/23", 25, A(10, 244, 0, 128), A(10, 244, 1, 128)},
		{"10.244.0.0/26", 28, A(10, 244, 0, 16), A(10, 244, 0, 48)},
		{"10.244.0.0/28", 30, A(10, 244, 0, 4), A(10, 244, 0, 12)},
		{"0.0.0.0/1", 24, A(0, 0, 1, 0), A(127, 255, 255, 0)},
		{"128.0.0.0/1", 24, A(128, 0, 1, 0), A(255, 255, 255, 0)},
		{"255.255.255.0/24", 26, A(255, 255, 255, 64), A(255, 255, 255, 192)},
	};
	char json[128];
	struct netconf nc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(json, sizeof(json), "{\"Network\":\"%s\"}", cases[i].network);
		ok(json, &nc);
		assert_int_equal(nc.subnet_len, cases[i].len);
		assert_int_equal(nc.subnet_min, cases[i].min);
		assert_int_equal(nc.subnet_max, cases[i].max);
	}
	bad("{\"Network\":\"10.244.0.0/29\"}", "minimum useful prefix is /28");
	bad("{\"Network\":\"10.244.0.0/32\"}", "Network 10.244.0.0/32");
}

static void test_explicit(void **state)
{
	struct netconf nc;

	ok("{\"Network\":\"10.0.0.0/8\",\"SubnetLen\":20,\"SubnetMin\":\"10.10.0.0\","
	   "\"SubnetMax\":\"10.99.0.0\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":4096,"
	   "\"Port\":4789,\"DirectRouting\":true,\"MTU\":9001}}",
	   &nc);
	assert_int_equal(nc.subnet_len, 20);
	assert_int_equal(nc.subnet_min, A(10, 10, 0, 0));
	assert_int_equal(nc.subnet_max, A(10, 99, 0, 0));
	assert_int_equal(nc.vni, 4096);
	assert_int_equal(nc.port, 4789);
	assert_true(nc.direct_routing);
	assert_int_equal(nc.mtu, 9001);
	assert_int_equal(netconf_subnet_count(&nc), (99 - 10) * 16 + 1);

	/* Bounds of SubnetLen for a /16: 18 and 30. */
	ok("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":18}", &nc);
	assert_int_equal(nc.subnet_min, A(10, 244, 64, 0));
	assert_int_equal(nc.subnet_max, A(10, 244, 192, 0));
	assert_int_equal(netconf_subnet_count(&nc), 3);
	ok("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":30}", &nc);
	assert_int_equal(nc.subnet_min, A(10, 244, 0, 4));
	assert_int_equal(nc.subnet_max, A(10, 244, 255, 252));
	assert_int_equal(netconf_subnet_count(&nc), 16383);
	/* SubnetLen 0 means "default", as in flannel. */
	ok("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":0}", &nc);
	assert_int_equal(nc.subnet_len, 24);
	/* Min == Max: exactly one subnet. */
	ok("{\"Network\":\"10.244.0.0/16\",\"SubnetMin\":\"10.244.7.0\",\"SubnetMax\":\"10.244.7.0\"}",
	   &nc);
	assert_int_equal(netconf_subnet_count(&nc), 1);
	/* The first subnet may be given explicitly. */
	ok("{\"Network\":\"10.244.0.0/16\",\"SubnetMin\":\"10.244.0.0\"}", &nc);
	assert_int_equal(nc.subnet_min, A(10, 244, 0, 0));
	assert_int_equal(netconf_subnet_count(&nc), 256);
	/* Port 0 is the VXLAN default, set explicitly. */
	ok("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Port\":0,\"VNI\":0}}", &nc);
	assert_int_equal(nc.port, 8472);
	assert_int_equal(nc.vni, 0);
	ok("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"VNI\":16777215,\"Port\":65535,"
	   "\"MTU\":118}}",
	   &nc);
	assert_int_equal(nc.vni, 16777215);
	assert_int_equal(nc.port, 65535);
	assert_int_equal(nc.mtu, 118);
}

static void test_case_insensitive(void **state)
{
	struct netconf nc;

	ok("{\"network\":\"10.5.0.0/16\",\"subnetlen\":26,\"SUBNETMIN\":\"10.5.1.0\","
	   "\"subnetMax\":\"10.5.2.0\",\"BACKEND\":{\"type\":\"VXLAN\",\"vni\":42,\"pOrT\":4789,"
	   "\"directrouting\":true,\"mtu\":1400}}",
	   &nc);
	assert_int_equal(nc.network.addr, A(10, 5, 0, 0));
	assert_int_equal(nc.subnet_len, 26);
	assert_int_equal(nc.subnet_min, A(10, 5, 1, 0));
	assert_int_equal(nc.subnet_max, A(10, 5, 2, 0));
	assert_int_equal(nc.vni, 42);
	assert_int_equal(nc.port, 4789);
	assert_true(nc.direct_routing);
	assert_int_equal(nc.mtu, 1400);
	/* Go's decoder: the last of several spellings wins. */
	ok("{\"Network\":\"10.1.0.0/16\",\"network\":\"10.2.0.0/16\"}", &nc);
	assert_int_equal(nc.network.addr, A(10, 2, 0, 0));
	ok("{\"network\":\"10.2.0.0/16\",\"Network\":\"10.1.0.0/16\"}", &nc);
	assert_int_equal(nc.network.addr, A(10, 1, 0, 0));
}

static void test_unknown_and_null(void **state)
{
	struct netconf nc;

	ok("{\"Network\":\"10.244.0.0/16\",\"EnableNFTables\":true,\"Foo\":{\"Bar\":[1,2]},"
	   "\"IPv6Network\":\"fc00::/48\",\"Backend\":{\"Type\":\"vxlan\",\"GBP\":true,"
	   "\"Learning\":false,\"MacPrefix\":\"0E-2A\"},\"x\":null}",
	   &nc);
	assert_int_equal(nc.subnet_len, 24);
	/* null leaves a field at its default, as in Go. */
	ok("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":null,\"SubnetMin\":null,"
	   "\"Backend\":{\"Type\":null,\"VNI\":null,\"Port\":null,\"DirectRouting\":null}}",
	   &nc);
	assert_int_equal(nc.subnet_len, 24);
	assert_int_equal(nc.subnet_min, A(10, 244, 1, 0));
	assert_int_equal(nc.vni, 1);
	assert_int_equal(nc.port, 8472);
	ok("{\"Network\":\"10.244.0.0/16\",\"Backend\":null}", &nc);
	assert_int_equal(nc.vni, 1);
	/* No Backend or no Type: vxlan. */
	ok("{\"Network\":\"10.244.0.0/16\",\"Backend\":{}}", &nc);
	ok("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"VNI\":7}}", &nc);
	assert_int_equal(nc.vni, 7);
	ok("{\"Network\":\"10.244.0.0/16\",\"EnableIPv4\":true,\"EnableIPv6\":false}", &nc);
	/* Whitespace and the kube-flannel layout. */
	ok("{\n  \"Network\": \"10.244.0.0/16\",\n  \"EnableNFTables\": false,\n"
	   "  \"Backend\": {\n    \"Type\": \"vxlan\"\n  }\n}\n",
	   &nc);
}

static void test_network_host_bits(void **state)
{
	struct netconf nc;

	/* Go's net.ParseCIDR drops host bits; flannel then uses the network. */
	ok("{\"Network\":\"10.244.1.0/16\"}", &nc);
	assert_int_equal(nc.network.addr, A(10, 244, 0, 0));
	assert_int_equal(nc.network.prefix, 16);
	assert_int_equal(nc.subnet_min, A(10, 244, 1, 0));
}

static void test_not_json(void **state)
{
	bad("", "not valid JSON");
	bad("{", "not valid JSON");
	bad("{\"Network\":\"10.244.0.0/16\"", "not valid JSON");
	bad("{\"Network\":\"10.244.0.0/16\",}", "not valid JSON");
	bad("{Network:\"10.244.0.0/16\"}", "not valid JSON");
	bad("{\"Network\":\"10.244.0.0/16\"} x", "not valid JSON");
	bad("[]", "config is not a JSON object");
	bad("[{\"Network\":\"10.244.0.0/16\"}]", "config is not a JSON object");
	bad("\"10.244.0.0/16\"", "config is not a JSON object");
	bad("42", "config is not a JSON object");
	bad("null", "config is not a JSON object");
	bad("true", "config is not a JSON object");
}

static void test_network_errors(void **state)
{
	bad("{}", "Network: missing");
	bad("{\"Network\":null}", "Network: missing");
	bad("{\"SubnetLen\":24}", "Network: missing");
	bad("{\"Network\":16}", "Network: must be a string");
	bad("{\"Network\":[\"10.244.0.0/16\"]}", "Network: must be a string");
	bad("{\"Network\":\"x\"}", "Network: not a valid CIDR: 'x'");
	bad("{\"Network\":\"10.244.0.0\"}", "Network: not a valid CIDR");
	bad("{\"Network\":\"10.244.0.0/33\"}", "Network: not a valid CIDR: '10.244.0.0/33'");
	bad("{\"Network\":\"10.244.0.0/-1\"}", "Network: not a valid CIDR");
	bad("{\"Network\":\"10.256.0.0/16\"}", "Network: not a valid CIDR");
	bad("{\"Network\":\"fc00::/48\"}", "Network: not a valid CIDR");
	bad("{\"Network\":\" 10.244.0.0/16\"}", "Network: not a valid CIDR");
	bad("{\"Network\":\"0.0.0.0/0\"}", "Network 0.0.0.0/0: not a usable pod network");
	bad("{\"Network\":\"10.0.0.0/0\"}", "Network 0.0.0.0/0");
}

static void test_subnet_len_errors(void **state)
{
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":31}",
	    "SubnetLen 31: must be between 18 and 30");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":32}", "SubnetLen 32");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":17}",
	    "SubnetLen 17: must be between 18 and 30");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":16}", "SubnetLen 16");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":8}", "SubnetLen 8");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":-1}", "SubnetLen -1");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":280}", "SubnetLen 280");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":4294967320}",
	    "SubnetLen 4294967320: must be between 18 and 30");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":99999999999999999999}", "not valid JSON");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":\"24\"}",
	    "SubnetLen: must be an integer");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":24.0}", "SubnetLen: must be an integer");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":true}", "SubnetLen: must be an integer");
	bad("{\"Network\":\"10.244.0.0/29\",\"SubnetLen\":30}",
	    "Network 10.244.0.0/29: too small, the minimum useful prefix is /28");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":-9223372036854775808}",
	    "SubnetLen -9223372036854775808: must be between 18 and 30");
}

static void test_min_max_errors(void **state)
{
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMin\":\"10.245.0.0\"}",
	    "SubnetMin 10.245.0.0: not inside Network 10.244.0.0/16");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMin\":\"10.243.255.0\"}",
	    "SubnetMin 10.243.255.0");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMax\":\"10.245.0.0\"}",
	    "SubnetMax 10.245.0.0: not inside Network 10.244.0.0/16");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMin\":\"10.244.1.1\"}",
	    "SubnetMin 10.244.1.1: not on a /24 boundary");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMax\":\"10.244.1.128\"}",
	    "SubnetMax 10.244.1.128: not on a /24 boundary");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":20,\"SubnetMin\":\"10.244.8.0\"}",
	    "SubnetMin 10.244.8.0: not on a /20 boundary");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMin\":\"10.244.9.0\",\"SubnetMax\":\"10.244.8.0\"}",
	    "SubnetMin 10.244.9.0: greater than SubnetMax 10.244.8.0");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMin\":10}", "SubnetMin: must be a string");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMax\":true}", "SubnetMax: must be a string");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMin\":\"10.244.1.0/24\"}",
	    "SubnetMin: not a valid IPv4 address: '10.244.1.0/24'");
	bad("{\"Network\":\"10.244.0.0/16\",\"SubnetMax\":\"junk\"}",
	    "SubnetMax: not a valid IPv4 address: 'junk'");
}

static void test_backend_errors(void **state)
{
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":\"vxlan\"}", "Backend: must be an object");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":[]}", "Backend: must be an object");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"udp\"}}",
	    "Backend.Type 'udp': only vxlan is supported");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"host-gw\"}}",
	    "Backend.Type 'host-gw'");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"wireguard\"}}",
	    "Backend.Type 'wireguard'");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"\"}}", "Backend.Type ''");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":1}}",
	    "Backend.Type: must be a string");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"VNI\":\"1\"}}",
	    "Backend.VNI: must be an integer");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"VNI\":1.5}}",
	    "Backend.VNI: must be an integer");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"VNI\":-1}}",
	    "Backend.VNI -1: must be between 0 and 16777215");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"VNI\":16777216}}",
	    "Backend.VNI 16777216");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Port\":65536}}",
	    "Backend.Port 65536: must be between 0 and 65535");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Port\":\"8472\"}}",
	    "Backend.Port: must be an integer");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"MTU\":100}}",
	    "Backend.MTU 100: must be 0 (underlay MTU) or between 118 and 65535");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"MTU\":65536}}", "Backend.MTU 65536");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"MTU\":-1}}", "Backend.MTU -1");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"MTU\":\"1500\"}}",
	    "Backend.MTU: must be an integer");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"DirectRouting\":\"yes\"}}",
	    "Backend.DirectRouting: must be true or false");
	bad("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"DirectRouting\":1}}",
	    "Backend.DirectRouting: must be true or false");
}

static void test_ip_family_errors(void **state)
{
	bad("{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true}",
	    "IPv6Network: missing (required while EnableIPv6 is true)");
	bad("{\"Network\":\"10.244.0.0/16\",\"EnableIPv4\":false}",
	    "EnableIPv4 and EnableIPv6: both false, no address family to run");
	bad("{\"Network\":\"10.244.0.0/16\",\"enableipv6\":\"true\"}",
	    "EnableIPv6: must be true or false");
}

static void test_length_and_err_args(void **state)
{
	const char *json = "{\"Network\":\"10.244.0.0/16\"}trailing junk";
	struct netconf nc;
	char small[8];

	/* Only len bytes are parsed. */
	assert_int_equal(
		netconf_parse(json, strlen("{\"Network\":\"10.244.0.0/16\"}"), &nc, NULL, 0), 0);
	assert_int_equal(netconf_parse(json, strlen(json), &nc, NULL, 0), -EINVAL);
	/* A small buffer is truncated, still terminated. */
	assert_int_equal(netconf_parse("[]", 2, &nc, small, sizeof(small)), -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	/* Success clears a previous message. */
	strcpy(small, "old");
	assert_int_equal(
		netconf_parse("{\"Network\":\"10.244.0.0/16\"}", 27, &nc, small, sizeof(small)), 0);
	assert_string_equal(small, "");
}

static void test_subnet_walk(void **state)
{
	struct netconf nc;
	struct ip4_net sn, prev = {0};
	char buf[IP4_NET_STRLEN];

	ok("{\"Network\":\"10.244.0.0/16\",\"SubnetMin\":\"10.244.10.0\",\"SubnetMax\":\"10.244.20.0\"}",
	   &nc);
	assert_int_equal(netconf_subnet_count(&nc), 11);
	for (uint64_t i = 0; i < netconf_subnet_count(&nc); i++) {
		assert_int_equal(netconf_subnet_nth(&nc, i, &sn), 0);
		assert_true(netconf_subnet_valid(&nc, &sn));
		assert_true(ip4_net_contains_net(&nc.network, &sn));
		if (i > 0) {
			assert_false(ip4_net_overlaps(&prev, &sn));
			assert_true(ip4_subnet_next(&prev));
			assert_true(ip4_net_equal(&prev, &sn));
		}
		prev = sn;
	}
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "10.244.20.0/24");
	assert_int_equal(netconf_subnet_nth(&nc, 11, &sn), -ERANGE);
	assert_int_equal(netconf_subnet_nth(&nc, UINT64_MAX, &sn), -ERANGE);

	sn = (struct ip4_net){A(10, 244, 9, 0), 24};
	assert_false(netconf_subnet_valid(&nc, &sn));
	sn = (struct ip4_net){A(10, 244, 21, 0), 24};
	assert_false(netconf_subnet_valid(&nc, &sn));
	sn = (struct ip4_net){A(10, 244, 10, 0), 25};
	assert_false(netconf_subnet_valid(&nc, &sn));
	sn = (struct ip4_net){A(10, 244, 10, 1), 24};
	assert_false(netconf_subnet_valid(&nc, &sn));
	sn = (struct ip4_net){A(10, 244, 15, 0), 24};
	assert_true(netconf_subnet_valid(&nc, &sn));

	/* The widest walk: a /1 in /24s, up to the last address. */
	ok("{\"Network\":\"128.0.0.0/1\"}", &nc);
	assert_int_equal(netconf_subnet_count(&nc), (1u << 23) - 1);
	assert_int_equal(netconf_subnet_nth(&nc, (1u << 23) - 2, &sn), 0);
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "255.255.255.0/24");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_subnet_len_defaults),
		cmocka_unit_test(test_explicit),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_unknown_and_null),
		cmocka_unit_test(test_network_host_bits),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_network_errors),
		cmocka_unit_test(test_subnet_len_errors),
		cmocka_unit_test(test_min_max_errors),
		cmocka_unit_test(test_backend_errors),
		cmocka_unit_test(test_ip_family_errors),
		cmocka_unit_test(test_length_and_err_args),
		cmocka_unit_test(test_subnet_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
