/* Lease key and value: byte-exact flannel compatibility, tolerant decoding,
 * VTEP MAC derivation against independently computed SHA-256 values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "subnet/lease.h"
#include "backend/vxlan_mac.h"

#define A(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))
#define PREFIX	      "/coreos.com/network"

/* Verbatim from flannel's Documentation/reservations.md. */
static const char flannel_value[] = "{\"PublicIP\":\"192.168.64.3\",\"PublicIPv6\":null,"
				    "\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,"
				    "\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}";

static struct ip4_net net(const char *s)
{
	struct ip4_net n;

	assert_int_equal(ip4_parse_net(s, &n), 0);
	return n;
}

static void test_key_format(void **state)
{
	struct ip4_net sn = net("10.244.3.0/24");
	char buf[128];
	char small[sizeof(PREFIX "/subnets/10.244.3.0-24")];

	assert_int_equal(lease_key_format(PREFIX, &sn, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/coreos.com/network/subnets/10.244.3.0-24");
	/* Host bits are dropped: the key names the subnet. */
	sn = net("10.244.3.1/24");
	assert_int_equal(lease_key_format(PREFIX, &sn, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/coreos.com/network/subnets/10.244.3.0-24");
	sn = net("10.0.16.0/20");
	assert_int_equal(lease_key_format("/weft", &sn, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/weft/subnets/10.0.16.0-20");
	/* path.Join semantics for a trailing slash. */
	assert_int_equal(lease_key_format("/weft//", &sn, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/weft/subnets/10.0.16.0-20");
	assert_int_equal(lease_key_format("", &sn, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/subnets/10.0.16.0-20");
	/* Exact fit, then one byte short. */
	sn = net("10.244.3.0/24");
	assert_int_equal(lease_key_format(PREFIX, &sn, small, sizeof(small)), 0);
	assert_string_equal(small, "/coreos.com/network/subnets/10.244.3.0-24");
	assert_int_equal(lease_key_format(PREFIX, &sn, small, sizeof(small) - 1), -ENAMETOOLONG);
}

static void test_key_parse(void **state)
{
	static const struct {
		const char *key;
		const char *net;
	} good[] = {
		{PREFIX "/subnets/10.244.3.0-24", "10.244.3.0/24"},
		{PREFIX "/subnets/10.5.52.0-24&fc00:0:0:1::-64", "10.5.52.0/24"},
		{PREFIX "/subnets/10.42.0.0-24&2001:cafe:42::-64", "10.42.0.0/24"},
		{PREFIX "/subnets/0.0.0.0-0", "0.0.0.0/0"},
		{PREFIX "/subnets/10.244.3.254-31", "10.244.3.254/31"},
		{PREFIX "/subnets/10.0.0.0-8", "10.0.0.0/8"},
	};
	static const char *const bad[] = {
		PREFIX "/config",
		PREFIX "/subnets/",
		PREFIX "/subnets",
		PREFIX "/subnets/10.244.3.0",
		PREFIX "/subnets/10.244.3.0/24",
		PREFIX "/subnets/10.244.3.0-",
		PREFIX "/subnets/10.244.3.0-33",
		PREFIX "/subnets/10.244.3.0-32",
		PREFIX "/subnets/10.244.3.1-24",
		PREFIX "/subnets/10.244.3.0-024",
		PREFIX "/subnets/10.244.3.0-24x",
		PREFIX "/subnets/10.244.3.0-24/",
		PREFIX "/subnets/10.244.3.0-24 ",
		PREFIX "/subnets/10.244.3-24",
		PREFIX "/subnets/10.244.3.0-24&",
		PREFIX "/subnets/10.244.3.0-24&fc00::",
		PREFIX "/subnets/10.244.3.0-24&fc00::-",
		PREFIX "/subnets/10.244.3.0-24&FC00::-64",
		PREFIX "/subnets/10.244.3.0-24&fc00::-128",
		PREFIX "/subnets/10.244.3.0-24&fc00::- 64",
		PREFIX "/subnets/10.244.3.0-24&10.0.0.0-8",
		PREFIX "/subnets/&fc00::-64",
		PREFIX "/subnets/fc00::-64",
		PREFIX "/subnets/255.255.255.255.255-24",
		PREFIX "/subnets/subnets/10.244.3.0-24",
		PREFIX "X/subnets/10.244.3.0-24",
		"/coreos.com/networ/subnets/10.244.3.0-24",
		"/other/subnets/10.244.3.0-24",
		"10.244.3.0-24",
		"",
	};
	struct ip4_net sn, want;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		sn = (struct ip4_net){0};
		if (lease_key_parse(PREFIX, good[i].key, &sn))
			fail_msg("rejected %s", good[i].key);
		want = net(good[i].net);
		assert_true(ip4_net_equal(&sn, &want));
	}
	/* The prefix may be given with a trailing slash. */
	assert_int_equal(lease_key_parse(PREFIX "/", PREFIX "/subnets/10.244.3.0-24", &sn), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sn = (struct ip4_net){.addr = 1, .prefix = 1};
		if (lease_key_parse(PREFIX, bad[i], &sn) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_int_equal(sn.addr, 1);
		assert_int_equal(sn.prefix, 1);
	}
}

static void test_key_roundtrip(void **state)
{
	struct ip4_net all = net("10.0.0.0/8"), sn, back;
	char buf[128];

	for (uint64_t i = 0; i < ip4_subnet_count(&all, 20); i++) {
		assert_int_equal(ip4_subnet_nth(&all, 20, i, &sn), 0);
		assert_int_equal(lease_key_format("/weft/net", &sn, buf, sizeof(buf)), 0);
		assert_int_equal(lease_key_parse("/weft/net", buf, &back), 0);
		assert_true(ip4_net_equal(&sn, &back));
	}
}

static void test_mac(void **state)
{
	static const uint8_t want[6] = {0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44};
	static const char *const good[] = {
		"c6:d2:32:6f:8f:44", "C6:D2:32:6F:8F:44", "c6-d2-32-6f-8f-44",
		"c6d2.326f.8f44",    "C6D2.326F.8F44",
	};
	static const char *const bad[] = {
		"",
		"c6:d2:32:6f:8f",
		"c6:d2:32:6f:8f:44:",
		"c6:d2:32:6f:8f:44:00",
		"c6:d2:32:6f:8f:4g",
		"c6:d2-32:6f:8f:44",
		"c6.d2.32.6f.8f.44",
		"c6d2:326f:8f44",
		"c6d2.326f.8f4",
		"c6d2.326f8f44.",
		"6:d2:32:6f:8f:440",
		" c6:d2:32:6f:8f:4",
		"c6:d2:32:6f:8f:44 ",
		"c6d2326f8f44",
		"00:00:5e:00:53:01:02:03",
	};
	uint8_t mac[6];
	char buf[MAC_STRLEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(mac, 0, sizeof(mac));
		if (mac_parse(good[i], mac))
			fail_msg("rejected %s", good[i]);
		assert_memory_equal(mac, want, 6);
	}
	mac_format(want, buf);
	assert_string_equal(buf, "c6:d2:32:6f:8f:44");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(mac, 0x11, sizeof(mac));
		if (mac_parse(bad[i], mac) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		for (int j = 0; j < 6; j++)
			assert_int_equal(mac[j], 0x11);
	}
	assert_int_equal(mac_parse(NULL, mac), -EINVAL);
	mac_format((const uint8_t[6]){0, 0x0a, 0xff, 0x10, 0x01, 0x00}, buf);
	assert_string_equal(buf, "00:0a:ff:10:01:00");
}

static void check_encode(const struct lease_attrs *a, const char *want)
{
	char *s = lease_attrs_encode(a);

	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void test_encode(void **state)
{
	struct lease_attrs a = {
		.public_ip = A(192, 168, 64, 3),
		.backend_type = "vxlan",
		.vni = 1,
		.vtep_mac = {0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44},
		.has_vtep_mac = true,
	};

	check_encode(&a, flannel_value);
	a = (struct lease_attrs){
		.public_ip = A(198, 18, 0, 3),
		.backend_type = "vxlan",
		.vni = 16777215,
		.vtep_mac = {0x02, 0xe5, 0x86, 0x95, 0x25, 0x0d},
		.has_vtep_mac = true,
	};
	check_encode(&a,
		     "{\"PublicIP\":\"198.18.0.3\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
		     "\"BackendData\":{\"VNI\":16777215,\"VtepMAC\":\"02:e5:86:95:25:0d\"}}");
	a.vni = 4294967295u;
	check_encode(&a,
		     "{\"PublicIP\":\"198.18.0.3\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
		     "\"BackendData\":{\"VNI\":4294967295,\"VtepMAC\":\"02:e5:86:95:25:0d\"}}");
	/* Go's omitempty. */
	a.has_vtep_mac = false;
	check_encode(&a,
		     "{\"PublicIP\":\"198.18.0.3\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\"}");
	a.backend_type[0] = '\0';
	a.public_ip = 0;
	check_encode(&a, "{\"PublicIP\":\"0.0.0.0\",\"PublicIPv6\":null}");
	/* A type needing escapes stays valid JSON. */
	strcpy(a.backend_type, "a\"b\\c");
	check_encode(
		&a,
		"{\"PublicIP\":\"0.0.0.0\",\"PublicIPv6\":null,\"BackendType\":\"a\\\"b\\\\c\"}");
}

static void decode_ok(const char *json, struct lease_attrs *a)
{
	memset(a, 0x5a, sizeof(*a));
	if (lease_attrs_decode(json, strlen(json), a))
		fail_msg("rejected %s", json);
}

static void test_decode(void **state)
{
	static const uint8_t mac[6] = {0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44};
	struct lease_attrs a;
	char *s;

	decode_ok(flannel_value, &a);
	assert_int_equal(a.public_ip, A(192, 168, 64, 3));
	assert_string_equal(a.backend_type, "vxlan");
	assert_int_equal(a.vni, 1);
	assert_true(a.has_vtep_mac);
	assert_memory_equal(a.vtep_mac, mac, 6);
	/* Decode then encode gives flannel's bytes back. */
	s = lease_attrs_encode(&a);
	assert_non_null(s);
	assert_string_equal(s, flannel_value);
	free(s);

	/* Dual-stack value as flannel writes it. */
	decode_ok(
		"{\"PublicIP\":\"192.168.64.3\",\"PublicIPv6\":\"fd00::3\",\"BackendType\":\"vxlan\","
		"\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"},"
		"\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"ae:11:22:33:44:55\"}}",
		&a);
	assert_int_equal(a.public_ip, A(192, 168, 64, 3));
	assert_memory_equal(a.vtep_mac, mac, 6);

	/* Keys case-insensitive, unknown keys ignored, whitespace allowed. */
	decode_ok("{ \"publicip\" : \"10.0.0.9\", \"extra\": [1, {}],\n \"backendtype\": \"vxlan\","
		  " \"BACKENDDATA\": {\"vni\": 42, \"vtepmac\": \"C6:D2:32:6F:8F:44\", \"x\": 1}}",
		  &a);
	assert_int_equal(a.public_ip, A(10, 0, 0, 9));
	assert_int_equal(a.vni, 42);
	assert_true(a.has_vtep_mac);
	assert_memory_equal(a.vtep_mac, mac, 6);

	/* vxlan without BackendData (or without a MAC): no MAC, VNI 0. */
	decode_ok("{\"PublicIP\":\"10.0.0.9\",\"BackendType\":\"vxlan\"}", &a);
	assert_false(a.has_vtep_mac);
	assert_int_equal(a.vni, 0);
	decode_ok(
		"{\"PublicIP\":\"10.0.0.9\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":3}}",
		&a);
	assert_false(a.has_vtep_mac);
	assert_int_equal(a.vni, 3);
	decode_ok("{\"PublicIP\":\"10.0.0.9\",\"BackendType\":\"vxlan\",\"BackendData\":null}", &a);
	assert_false(a.has_vtep_mac);

	/* Other backends: accepted (so the caller can ignore them), data not read. */
	decode_ok("{\"PublicIP\":\"10.0.0.2\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}",
		  &a);
	assert_string_equal(a.backend_type, "host-gw");
	assert_false(a.has_vtep_mac);
	decode_ok("{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"wireguard\","
		  "\"BackendData\":{\"PublicKey\":\"abc=\",\"VNI\":\"x\"}}",
		  &a);
	assert_string_equal(a.backend_type, "wireguard");
	assert_false(a.has_vtep_mac);
	decode_ok("{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"udp\",\"BackendData\":[1]}", &a);
	/* "VXLAN" is not "vxlan": the receiver compares exactly, as flannel does. */
	decode_ok("{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"VXLAN\",\"BackendData\":7}", &a);
	assert_string_equal(a.backend_type, "VXLAN");
	/* A type longer than the buffer is cut, never mistaken for vxlan. */
	decode_ok("{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlanvxlanvxlanvxlan\","
		  "\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"c6:d2:32:6f:8f:44\"}}",
		  &a);
	assert_string_equal(a.backend_type, "vxlanvxlanvxlan");
	assert_false(a.has_vtep_mac);
	/* No BackendType at all. */
	decode_ok("{\"PublicIP\":\"10.0.0.2\"}", &a);
	assert_string_equal(a.backend_type, "");
	/* Only len bytes count. */
	assert_int_equal(lease_attrs_decode("{\"PublicIP\":\"10.0.0.2\"}junk", 23, &a), 0);
}

static void test_decode_errors(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"not json",
		"[]",
		"null",
		"\"x\"",
		"{}",
		"{\"PublicIP\":null}",
		"{\"PublicIP\":3232235523}",
		"{\"PublicIP\":\"192.168.64\"}",
		"{\"PublicIP\":\"fd00::3\"}",
		"{\"PublicIP\":\"192.168.64.3 \"}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":7}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\",\"BackendData\":\"x\"}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\",\"BackendData\":[]}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":\"1\"}}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":-1}}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1.5}}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":4294967296}}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VtepMAC\":1}}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\","
		"\"BackendData\":{\"VtepMAC\":\"c6:d2:32:6f:8f\"}}",
		"{\"PublicIP\":\"10.0.0.2\",\"BackendType\":\"vxlan\","
		"\"BackendData\":{\"VtepMAC\":\"zz:d2:32:6f:8f:44\"}}",
		"{\"PublicIP\":\"10.0.0.2\"} x",
	};
	struct lease_attrs a, before;

	memset(&a, 0x77, sizeof(a));
	before = a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lease_attrs_decode(bad[i], strlen(bad[i]), &a) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_memory_equal(&a, &before, sizeof(a));
	}
}

/* Expected values computed outside this code base, e.g. for 198.18.0.3, VNI 1:
 * printf '\xc6\x12\x00\x03\x00\x00\x00\x01' | openssl dgst -sha256
 * = e58695250d239f3e0fa71788a615c3694bcac7b945fc59ae33329b3f70421d22 */
static void check_key_any(const char *key, bool v4, const char *v4s, bool v6, const char *v6s)
{
	struct lease_key k;
	char buf[160], s4[IP4_NET_STRLEN], s6[IP6_NET_STRLEN];

	memset(&k, 0x5a, sizeof(k));
	if (lease_key_parse_any(PREFIX, key, &k))
		fail_msg("'%s' rejected", key);
	assert_int_equal(k.has_v4, v4);
	assert_int_equal(k.has_v6, v6);
	if (v4) {
		ip4_format_net(&k.v4, s4);
		assert_string_equal(s4, v4s);
	}
	if (v6) {
		ip6_format_net(&k.v6, s6);
		assert_string_equal(s6, v6s);
	}
	/* Formatting gives the key back. */
	assert_int_equal(lease_key_format_any(PREFIX, &k, buf, sizeof(buf)), 0);
	assert_string_equal(buf, key);
}

static void test_key_any(void **state)
{
	static const char *const bad[] = {
		PREFIX "/subnets/fd00:10:244:3:0::-64",	     /* not canonical */
		PREFIX "/subnets/FD00:10:244:3::-64",	     /* upper case */
		PREFIX "/subnets/fd00:10:244:3::1-64",	     /* host bits */
		PREFIX "/subnets/fd00:10:244:3::-128",	     /* flannel reads 7 bits */
		PREFIX "/subnets/fd00:10:244:3::-064",	     /* leading zero */
		PREFIX "/subnets/fd00:10:244:3::",	     /* no length */
		PREFIX "/subnets/fd00:10:244:3::/64",	     /* slash */
		PREFIX "/subnets/::ffff:10.0.0.0-120",	     /* dotted */
		PREFIX "/subnets/10.244.3.0-24&",	     /* empty IPv6 part */
		PREFIX "/subnets/&fd00:10:244:3::-64",	     /* empty IPv4 part */
		PREFIX "/subnets/10.244.3.0-24&10.1.0.0-16", /* IPv4 twice */
		PREFIX "/subnets/fd00::-64&10.244.3.0-24",   /* order */
		PREFIX "/subnets/10.244.3.0-24&fd00::-64&fd01::-64",
		PREFIX "/subnets/10.244.3.1-24&fd00::-64",
		PREFIX "/subnets/",
		"/other/subnets/fd00::-64",
	};
	struct lease_key k, before;
	char buf[160];

	check_key_any(PREFIX "/subnets/10.244.3.0-24&fd00:10:244:3::-64", true, "10.244.3.0/24",
		      true, "fd00:10:244:3::/64");
	check_key_any(PREFIX "/subnets/fd00:10:244:3::-64", false, NULL, true,
		      "fd00:10:244:3::/64");
	check_key_any(PREFIX "/subnets/10.244.3.0-24", true, "10.244.3.0/24", false, NULL);
	check_key_any(PREFIX "/subnets/10.5.52.0-24&fc00:0:0:1::-64", true, "10.5.52.0/24", true,
		      "fc00:0:0:1::/64");
	check_key_any(PREFIX "/subnets/fd00::4-126", false, NULL, true, "fd00::4/126");
	memset(&k, 0x5a, sizeof(k));
	before = k;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lease_key_parse_any(PREFIX, bad[i], &k) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_memory_equal(&k, &before, sizeof(k));
	}
	/* The IPv4 parser still yields the IPv4 part of a dual key, nothing for
	 * an IPv6-only one. */
	assert_int_equal(lease_key_parse(PREFIX, PREFIX "/subnets/fd00:10:244:3::-64", &k.v4),
			 -EINVAL);
	/* Host bits are cleared when formatting; no subnet at all is an error. */
	memset(&k, 0, sizeof(k));
	k.has_v6 = true;
	assert_int_equal(ip6_parse_net("fd00:10:244:3::9/64", &k.v6), 0);
	assert_int_equal(lease_key_format_any(PREFIX "/", &k, buf, sizeof(buf)), 0);
	assert_string_equal(buf, PREFIX "/subnets/fd00:10:244:3::-64");
	assert_int_equal(lease_key_format_any(PREFIX, &k, buf, 20), -ENAMETOOLONG);
	k.has_v6 = false;
	assert_int_equal(lease_key_format_any(PREFIX, &k, buf, sizeof(buf)), -EINVAL);
}

static const char dual_value[] =
	"{\"PublicIP\":\"198.18.0.3\",\"PublicIPv6\":\"2001:db8:18::3\",\"BackendType\":\"vxlan\","
	"\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"02:11:22:33:44:55\"},"
	"\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"02:66:77:88:99:aa\"}}";

static void test_encode_decode_v6(void **state)
{
	static const uint8_t mac4[6] = {2, 0x11, 0x22, 0x33, 0x44, 0x55};
	static const uint8_t mac6[6] = {2, 0x66, 0x77, 0x88, 0x99, 0xaa};
	struct lease_attrs a = {.public_ip = A(198, 18, 0, 3),
				.vni = 1,
				.has_vtep_mac = true,
				.has_public_ipv6 = true,
				.vni6 = 1,
				.has_vtep_mac6 = true};
	char buf[IP6_ADDR_STRLEN];

	strcpy(a.backend_type, "vxlan");
	memcpy(a.vtep_mac, mac4, 6);
	memcpy(a.vtep_mac6, mac6, 6);
	assert_int_equal(ip6_parse_addr("2001:db8:18::3", &a.public_ipv6), 0);
	check_encode(&a, dual_value);
	memset(&a, 0x5a, sizeof(a));
	decode_ok(dual_value, &a);
	assert_true(a.has_public_ipv6);
	ip6_format_addr(&a.public_ipv6, buf);
	assert_string_equal(buf, "2001:db8:18::3");
	assert_int_equal(a.vni6, 1);
	assert_true(a.has_vtep_mac6);
	assert_memory_equal(a.vtep_mac6, mac6, 6);
	assert_memory_equal(a.vtep_mac, mac4, 6);

	/* IPv6 only: PublicIP 0.0.0.0 (flannel always writes it), no BackendData. */
	a.public_ip = 0;
	a.has_vtep_mac = false;
	check_encode(&a, "{\"PublicIP\":\"0.0.0.0\",\"PublicIPv6\":\"2001:db8:18::3\","
			 "\"BackendType\":\"vxlan\",\"BackendV6Data\":{\"VNI\":1,"
			 "\"VtepMAC\":\"02:66:77:88:99:aa\"}}");
	/* Any spelling decodes; the encoding is canonical. */
	decode_ok("{\"PublicIP\":\"0.0.0.0\",\"publicipv6\":\"2001:DB8:18:0:0:0:0:3\","
		  "\"BackendType\":\"vxlan\",\"backendv6data\":{\"vni\":7,"
		  "\"vtepmac\":\"02-66-77-88-99-AA\"}}",
		  &a);
	assert_false(a.has_vtep_mac);
	assert_int_equal(a.vni6, 7);
	a.vni6 = 1;
	check_encode(&a, "{\"PublicIP\":\"0.0.0.0\",\"PublicIPv6\":\"2001:db8:18::3\","
			 "\"BackendType\":\"vxlan\",\"BackendV6Data\":{\"VNI\":1,"
			 "\"VtepMAC\":\"02:66:77:88:99:aa\"}}");
	/* Other backends: BackendV6Data is not read. */
	decode_ok("{\"PublicIP\":\"0.0.0.0\",\"PublicIPv6\":\"fd00::1\",\"BackendType\":\"wg\","
		  "\"BackendV6Data\":[1]}",
		  &a);
	assert_false(a.has_vtep_mac6);
	/* null PublicIPv6 is none. */
	decode_ok("{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":null}", &a);
	assert_false(a.has_public_ipv6);
}

static void test_decode_v6_errors(void **state)
{
	static const char *const bad[] = {
		"{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":\"junk\"}",
		"{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":\"10.0.0.1\"}",
		"{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":5}",
		"{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":\"fd00::1/64\"}",
		"{\"PublicIP\":\"10.0.0.1\",\"PublicIPv6\":\"fe80::1%eth0\"}",
		"{\"PublicIPv6\":\"fd00::1\"}",
		"{\"PublicIP\":\"0.0.0.0\",\"BackendType\":\"vxlan\",\"BackendV6Data\":7}",
		"{\"PublicIP\":\"0.0.0.0\",\"BackendType\":\"vxlan\",\"BackendV6Data\":{\"VNI\":-1}}",
		"{\"PublicIP\":\"0.0.0.0\",\"BackendType\":\"vxlan\","
		"\"BackendV6Data\":{\"VtepMAC\":\"02:66:77:88:99\"}}",
	};
	struct lease_attrs a, before;

	memset(&a, 0x5a, sizeof(a));
	before = a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lease_attrs_decode(bad[i], strlen(bad[i]), &a) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_memory_equal(&a, &before, sizeof(a));
	}
}

static void test_vtep_mac(void **state)
{
	static const struct {
		uint32_t ip, vni;
		const char *mac;
	} cases[] = {
		{A(198, 18, 0, 3), 1, "02:e5:86:95:25:0d"},
		{A(192, 168, 64, 3), 256, "02:87:9e:27:c6:92"},
		{A(10, 0, 0, 1), 0xffffff, "02:6e:83:bc:59:d4"},
	};
	uint8_t mac[6], other[6];
	char buf[MAC_STRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(vxlan_vtep_mac(cases[i].ip, cases[i].vni, mac), 0);
		mac_format(mac, buf);
		assert_string_equal(buf, cases[i].mac);
	}
	/* Locally administered unicast, stable, and different per IP and VNI. */
	assert_int_equal(vxlan_vtep_mac(A(198, 18, 0, 3), 1, mac), 0);
	assert_int_equal(vxlan_vtep_mac(A(198, 18, 0, 3), 1, other), 0);
	assert_memory_equal(mac, other, 6);
	assert_int_equal(vxlan_vtep_mac(A(198, 18, 0, 4), 1, other), 0);
	assert_memory_not_equal(mac, other, 6);
	assert_int_equal(other[0], 0x02);
	assert_int_equal(vxlan_vtep_mac(A(198, 18, 0, 3), 2, other), 0);
	assert_memory_not_equal(mac, other, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_format),	 cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_key_roundtrip),	 cmocka_unit_test(test_mac),
		cmocka_unit_test(test_encode),		 cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_errors),	 cmocka_unit_test(test_vtep_mac),
		cmocka_unit_test(test_key_any),		 cmocka_unit_test(test_encode_decode_v6),
		cmocka_unit_test(test_decode_v6_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
