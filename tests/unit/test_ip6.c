/* IPv6 address and CIDR math. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/ip6.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static struct ip6_net net(const char *s)
{
	struct ip6_net n;

	memset(&n, 0, sizeof(n));
	assert_int_equal(ip6_parse_net(s, &n), 0);
	return n;
}

static struct in6_addr addr(const char *s)
{
	struct in6_addr a;

	assert_int_equal(ip6_parse_addr(s, &a), 0);
	return a;
}

static void assert_net_str(const struct ip6_net *n, const char *want)
{
	char buf[IP6_NET_STRLEN];

	ip6_format_net(n, buf);
	assert_string_equal(buf, want);
}

static void test_parse_addr_canonical(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"::", "::"},
		{"::1", "::1"},
		{"fd00:10:244:3::", "fd00:10:244:3::"},
		{"FD00:0010:0244:0003:0000:0000:0000:0000", "fd00:10:244:3::"},
		{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
		{"2001:db8::0:1", "2001:db8::1"},
		{"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
		{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
		{"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8:18::3", "2001:db8:18::3"},
	};
	char buf[IP6_ADDR_STRLEN];
	struct in6_addr a;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		assert_int_equal(ip6_parse_addr(cases[i].in, &a), 0);
		ip6_format_addr(&a, buf);
		assert_string_equal(buf, cases[i].out);
	}
}

static void test_parse_addr_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		":",
		":::",
		"1::2::3",
		"fe80::1%eth0",
		" ::1",
		"::1 ",
		"::1\n",
		"12345::",
		"g::",
		"1:2:3:4:5:6:7:8:9",
		"1.2.3.4",
		"fd00::/64",
		"0000000000000000000000000000000000000000000000::",
		"::ffff:1.2.3",
	};
	struct in6_addr a;

	memset(&a, 0x5a, sizeof(a));
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		assert_int_equal(ip6_parse_addr(bad[i], &a), -EINVAL);
	assert_int_equal(ip6_parse_addr(NULL, &a), -EINVAL);
	/* Nothing was written on failure. */
	for (int i = 0; i < 16; i++)
		assert_int_equal(a.s6_addr[i], 0x5a);
}

static void test_parse_net(void **state)
{
	static const char *const bad[] = {
		"fd00::",     "fd00::/",     "fd00::/129",  "fd00::/064", "fd00::/-1",
		"fd00::/6a",  "/64",	     "fd00::/ 64",  "fd00::/64 ", "fd00::/1000",
		"1.2.3.0/24", "fd00::/64/1", "fd00::%1/64",
	};
	struct ip6_net n;

	n = net("fd00:10:244::/56");
	assert_int_equal(n.len, 56);
	assert_net_str(&n, "fd00:10:244::/56");
	n = net("fd00:10:244:3::1/64");
	assert_false(ip6_net_is_canonical(&n));
	assert_net_str(&n, "fd00:10:244:3::1/64");
	n = ip6_net_canonical(&n);
	assert_true(ip6_net_is_canonical(&n));
	assert_net_str(&n, "fd00:10:244:3::/64");
	n = net("::/0");
	assert_int_equal(n.len, 0);
	n = net("::1/128");
	assert_int_equal(n.len, 128);
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		assert_int_equal(ip6_parse_net(bad[i], &n), -EINVAL);
	assert_int_equal(ip6_parse_net(NULL, &n), -EINVAL);
}

static void test_mask(void **state)
{
	static const struct {
		uint8_t len;
		const char *s;
	} cases[] = {
		{0, "::"},
		{1, "8000::"},
		{10, "ffc0::"},
		{64, "ffff:ffff:ffff:ffff::"},
		{65, "ffff:ffff:ffff:ffff:8000::"},
		{128, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{200, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	};
	char buf[IP6_ADDR_STRLEN];

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct in6_addr m = ip6_mask(cases[i].len);

		ip6_format_addr(&m, buf);
		assert_string_equal(buf, cases[i].s);
	}
}

static void test_contains_overlaps(void **state)
{
	struct ip6_net n = net("fd00:10:244::/56");
	struct ip6_net in = net("fd00:10:244:3::/64");
	struct ip6_net last = net("fd00:10:244:ff::/64");
	struct ip6_net out = net("fd00:10:245::/64");
	struct ip6_net wide = net("fd00::/8");
	struct in6_addr a = addr("fd00:10:244:ff:ffff:ffff:ffff:ffff");
	struct in6_addr b = addr("fd00:10:244:100::");

	assert_true(ip6_net_contains(&n, &a));
	assert_false(ip6_net_contains(&n, &b));
	assert_true(ip6_net_contains_net(&n, &in));
	assert_true(ip6_net_contains_net(&n, &last));
	assert_false(ip6_net_contains_net(&n, &out));
	assert_false(ip6_net_contains_net(&in, &n));
	assert_true(ip6_net_contains_net(&wide, &n));
	assert_true(ip6_net_overlaps(&n, &in));
	assert_true(ip6_net_overlaps(&in, &n));
	assert_false(ip6_net_overlaps(&in, &last));
	assert_false(ip6_net_overlaps(&n, &out));
	assert_true(ip6_net_overlaps(&wide, &out));
	assert_true(ip6_net_equal(&in, &in));
	assert_false(ip6_net_equal(&in, &last));
	last = in;
	last.len = 63;
	assert_false(ip6_net_equal(&in, &last));
}

static void test_subnet_nth(void **state)
{
	struct ip6_net n = net("fd00:10:244::/56");
	struct ip6_net sn;

	assert_int_equal(ip6_subnet_count(&n, 64), 256);
	assert_int_equal(ip6_subnet_count(&n, 56), 1);
	assert_int_equal(ip6_subnet_count(&n, 55), 0);
	assert_int_equal(ip6_subnet_count(&n, 129), 0);
	assert_int_equal(ip6_subnet_count(&n, 120), UINT64_MAX);
	assert_int_equal(ip6_subnet_nth(&n, 64, 0, &sn), 0);
	assert_net_str(&sn, "fd00:10:244::/64");
	assert_int_equal(ip6_subnet_nth(&n, 64, 3, &sn), 0);
	assert_net_str(&sn, "fd00:10:244:3::/64");
	assert_int_equal(ip6_subnet_nth(&n, 64, 255, &sn), 0);
	assert_net_str(&sn, "fd00:10:244:ff::/64");
	assert_int_equal(ip6_subnet_nth(&n, 64, 256, &sn), -ERANGE);
	assert_int_equal(ip6_subnet_nth(&n, 50, 0, &sn), -EINVAL);
	assert_int_equal(ip6_subnet_nth(&n, 129, 0, &sn), -EINVAL);
	/* Host bits of the network are ignored. */
	n = net("fd00:10:244:12::5/56");
	assert_int_equal(ip6_subnet_nth(&n, 60, 1, &sn), 0);
	assert_net_str(&sn, "fd00:10:244:10::/60");
	/* More than 2^64 subnets: any index exists. */
	n = net("fd00::/8");
	assert_int_equal(ip6_subnet_nth(&n, 128, UINT64_MAX, &sn), 0);
	assert_net_str(&sn, "fd00::ffff:ffff:ffff:ffff/128");
	assert_int_equal(ip6_subnet_nth(&n, 72, UINT64_MAX, &sn), 0);
	assert_net_str(&sn, "fdff:ffff:ffff:ffff:ff00::/72");
	n = net("::/0");
	assert_int_equal(ip6_subnet_nth(&n, 64, 1, &sn), 0);
	assert_net_str(&sn, "0:0:0:1::/64");
	assert_int_equal(ip6_subnet_nth(&n, 0, 0, &sn), 0);
	assert_net_str(&sn, "::/0");
	n = net("fd00::/64");
	assert_int_equal(ip6_subnet_nth(&n, 128, 7, &sn), 0);
	assert_net_str(&sn, "fd00::7/128");
}

static void test_subnet_index(void **state)
{
	struct ip6_net n = net("fd00:10:244::/56");
	struct in6_addr a = addr("fd00:10:244:3::");
	uint64_t idx = 99;

	assert_int_equal(ip6_subnet_index(&n, 64, &a, &idx), 0);
	assert_int_equal(idx, 3);
	a = addr("fd00:10:244:3::1");
	assert_int_equal(ip6_subnet_index(&n, 64, &a, &idx), -EINVAL);
	a = addr("fd00:10:245::");
	assert_int_equal(ip6_subnet_index(&n, 64, &a, &idx), -EINVAL);
	assert_int_equal(ip6_subnet_index(&n, 55, &a, &idx), -EINVAL);
	/* Round trip over every subnet. */
	for (uint64_t i = 0; i < 256; i++) {
		struct ip6_net sn;

		assert_int_equal(ip6_subnet_nth(&n, 64, i, &sn), 0);
		assert_int_equal(ip6_subnet_index(&n, 64, &sn.addr, &idx), 0);
		assert_int_equal(idx, i);
	}
	n = net("fd00::/8");
	a = addr("fdff:ffff:ffff:ffff:ff00::");
	assert_int_equal(ip6_subnet_index(&n, 72, &a, &idx), 0);
	assert_int_equal(idx, UINT64_MAX);
	idx = 42;
	a = addr("fd00:0:0:1::");
	assert_int_equal(ip6_subnet_index(&n, 128, &a, &idx), -ERANGE);
	assert_int_equal(idx, 42);
	a = addr("fd00::ffff:ffff:ffff:ffff");
	assert_int_equal(ip6_subnet_index(&n, 128, &a, &idx), 0);
	assert_int_equal(idx, UINT64_MAX);
	n = net("::/0");
	a = addr("::");
	assert_int_equal(ip6_subnet_index(&n, 0, &a, &idx), 0);
	assert_int_equal(idx, 0);
	a = addr("8000::");
	assert_int_equal(ip6_subnet_index(&n, 1, &a, &idx), 0);
	assert_int_equal(idx, 1);
}

static void test_subnet_next(void **state)
{
	struct ip6_net sn = net("fd00:10:244:fe::/64");

	assert_true(ip6_subnet_next(&sn));
	assert_net_str(&sn, "fd00:10:244:ff::/64");
	assert_true(ip6_subnet_next(&sn));
	assert_net_str(&sn, "fd00:10:244:100::/64");
	sn = net("fd00:0:0:0:ffff:ffff:ffff:ffff/128");
	assert_true(ip6_subnet_next(&sn));
	assert_net_str(&sn, "fd00:0:0:1::/128");
	sn = net("ffff:ffff:ffff:ffff::/64");
	assert_false(ip6_subnet_next(&sn));
	assert_net_str(&sn, "ffff:ffff:ffff:ffff::/64");
	sn = net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	assert_false(ip6_subnet_next(&sn));
	sn = net("::/0");
	assert_false(ip6_subnet_next(&sn));
	sn = net("::/1");
	assert_true(ip6_subnet_next(&sn));
	assert_net_str(&sn, "8000::/1");
	assert_false(ip6_subnet_next(&sn));
}

static void test_usable(void **state)
{
	static const char *const good[] = {"2001:db8:18::3", "fd00:10:244::1", "2a00::1", "fec0::1",
					   "::2:0:0:1"};
	static const char *const bad[] = {"::",	     "::1",	"::ffff:1.2.3.4", "::1.2.3.4",
					  "fe80::1", "febf::1", "ff02::1",	  "ff00::"};
	static const char *const good_nets[] = {"fd00:10:244::/56", "2001:db8::/32", "fd00::/8",
						"2001:db8:18::3/128"};
	static const char *const bad_nets[] = {
		"::/0",	     "::/64",	 "::/96",	   "fe80::/64", "fe00::/7",
		"ff00::/16", "8000::/1", "::ffff:0:0/112", "::1/128",	"::ffff:0:0/95"};

	for (size_t i = 0; i < N_ELEMS(good); i++) {
		struct in6_addr a = addr(good[i]);

		assert_true(ip6_addr_usable(&a));
	}
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		struct in6_addr a = addr(bad[i]);

		assert_false(ip6_addr_usable(&a));
	}
	for (size_t i = 0; i < N_ELEMS(good_nets); i++) {
		struct ip6_net n = net(good_nets[i]);

		assert_true(ip6_net_usable(&n));
	}
	for (size_t i = 0; i < N_ELEMS(bad_nets); i++) {
		struct ip6_net n = net(bad_nets[i]);

		assert_false(ip6_net_usable(&n));
	}
}

/* The text agrees with the C library's formatter for arbitrary bytes. */
static void test_format_matches_inet_ntop(void **state)
{
	static const uint8_t patterns[][16] = {
		{0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1},
		{0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0},
		{0xfd, 0, 0, 0x10, 0x02, 0x44, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0},
	};
	char want[INET6_ADDRSTRLEN], got[IP6_ADDR_STRLEN];
	struct in6_addr a, back;

	for (size_t i = 0; i < N_ELEMS(patterns); i++) {
		memcpy(a.s6_addr, patterns[i], 16);
		assert_non_null(inet_ntop(AF_INET6, &a, want, sizeof(want)));
		ip6_format_addr(&a, got);
		assert_string_equal(got, want);
		assert_int_equal(ip6_parse_addr(got, &back), 0);
		assert_true(ip6_addr_equal(&a, &back));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_addr_canonical),
		cmocka_unit_test(test_parse_addr_invalid),
		cmocka_unit_test(test_parse_net),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_contains_overlaps),
		cmocka_unit_test(test_subnet_nth),
		cmocka_unit_test(test_subnet_index),
		cmocka_unit_test(test_subnet_next),
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_format_matches_inet_ntop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
