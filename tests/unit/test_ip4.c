/* IPv4 address and CIDR math. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/ip4.h"

#define A(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static struct ip4_net net(const char *s)
{
	struct ip4_net n = {0};

	assert_int_equal(ip4_parse_net(s, &n), 0);
	return n;
}

static void test_parse_addr_valid(void **state)
{
	static const struct {
		const char *s;
		uint32_t a;
	} cases[] = {
		{"0.0.0.0", 0},
		{"255.255.255.255", UINT32_MAX},
		{"10.244.3.1", A(10, 244, 3, 1)},
		{"198.18.0.254", A(198, 18, 0, 254)},
		{"1.2.3.4", A(1, 2, 3, 4)},
		{"100.0.10.0", A(100, 0, 10, 0)},
	};
	char buf[IP4_ADDR_STRLEN];
	uint32_t a;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		a = 0xdeadbeef;
		assert_int_equal(ip4_parse_addr(cases[i].s, &a), 0);
		assert_int_equal(a, cases[i].a);
		ip4_format_addr(a, buf);
		assert_string_equal(buf, cases[i].s);
	}
}

static void test_parse_addr_invalid(void **state)
{
	static const char *const bad[] = {
		"",	     "1",	   "1.2.3",    "1.2.3.4.5",  "256.0.0.1",  "1.2.3.256",
		"1.2.3.-1",  "01.2.3.4",   "1.2.3.04", "1.2.3.00",   " 1.2.3.4",   "1.2.3.4 ",
		"1.2.3.4\n", "1..3.4",	   ".1.2.3.4", "1.2.3.4.",   "1.2.3.4/24", "a.b.c.d",
		"0x1.2.3.4", "1.2.3.1000", "10.244.3", "4294967295", "1.2.3.+4",   "::1",
		"1.2.3.4a",  "9999.1.1.1",
	};
	uint32_t a = 0x12345678;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ip4_parse_addr(bad[i], &a), -EINVAL);
		assert_int_equal(a, 0x12345678);
	}
	assert_int_equal(ip4_parse_addr(NULL, &a), -EINVAL);
}

static void test_parse_net_roundtrip(void **state)
{
	static const char *const ok[] = {
		"0.0.0.0/0",  "10.244.0.0/16",	  "10.244.3.1/24", "255.255.255.255/32",
		"10.0.0.0/8", "192.168.1.128/25", "1.2.3.4/32",	   "128.0.0.0/1",
		"0.0.0.0/32", "10.244.3.0/24",	  "10.1.2.3/0",
	};
	char buf[IP4_NET_STRLEN];
	struct ip4_net n;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(ip4_parse_net(ok[i], &n), 0);
		ip4_format_net(&n, buf);
		assert_string_equal(buf, ok[i]);
	}
	/* Host bits are kept. */
	n = net("10.244.3.1/24");
	assert_int_equal(n.addr, A(10, 244, 3, 1));
	assert_int_equal(n.prefix, 24);
	assert_false(ip4_net_is_canonical(&n));
	n = ip4_net_canonical(&n);
	assert_int_equal(n.addr, A(10, 244, 3, 0));
	assert_int_equal(n.prefix, 24);
	assert_true(ip4_net_is_canonical(&n));
	n = net("10.1.2.3/0");
	assert_false(ip4_net_is_canonical(&n));
	assert_int_equal(ip4_net_canonical(&n).addr, 0);
	n = net("10.1.2.3/32");
	assert_true(ip4_net_is_canonical(&n));
}

static void test_parse_net_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"10.244.0.0",
		"10.244.0.0/",
		"10.244.0.0/33",
		"10.244.0.0/-1",
		"10.244.0.0/024",
		"10.244.0.0/00",
		"10.244.0.0/16 ",
		" 10.244.0.0/16",
		"10.244.0.0/1a",
		"10.244.0/16",
		"/16",
		"10.244.0.0//16",
		"10.244.0.0/16/8",
		"10.244.0.256/16",
		"10.244.0.0-24",
		"010.244.0.0/16",
		"10.244.0.0/+8",
		"10.244.0.0/4294967304",
		"10.244.0.0/16\n",
	};
	struct ip4_net n = {.addr = 7, .prefix = 7};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ip4_parse_net(bad[i], &n), -EINVAL);
		assert_int_equal(n.addr, 7);
		assert_int_equal(n.prefix, 7);
	}
	assert_int_equal(ip4_parse_net(NULL, &n), -EINVAL);
}

static void test_mask(void **state)
{
	assert_int_equal(ip4_mask(0), 0);
	assert_int_equal(ip4_mask(1), 0x80000000u);
	assert_int_equal(ip4_mask(8), 0xff000000u);
	assert_int_equal(ip4_mask(24), 0xffffff00u);
	assert_int_equal(ip4_mask(31), 0xfffffffeu);
	assert_int_equal(ip4_mask(32), 0xffffffffu);
	assert_int_equal(ip4_mask(200), 0xffffffffu);
}

static void test_first_broadcast_size(void **state)
{
	struct ip4_net n = net("10.244.3.77/24");

	assert_int_equal(ip4_net_first(&n), A(10, 244, 3, 0));
	assert_int_equal(ip4_net_broadcast(&n), A(10, 244, 3, 255));
	assert_int_equal(ip4_net_size(&n), 256);
	n = net("0.0.0.0/0");
	assert_int_equal(ip4_net_first(&n), 0);
	assert_int_equal(ip4_net_broadcast(&n), UINT32_MAX);
	assert_true(ip4_net_size(&n) == UINT64_C(1) << 32);
	n = net("1.2.3.4/32");
	assert_int_equal(ip4_net_first(&n), A(1, 2, 3, 4));
	assert_int_equal(ip4_net_broadcast(&n), A(1, 2, 3, 4));
	assert_int_equal(ip4_net_size(&n), 1);
	n = net("10.244.0.0/16");
	assert_int_equal(ip4_net_broadcast(&n), A(10, 244, 255, 255));
	n = net("192.168.1.128/25");
	assert_int_equal(ip4_net_broadcast(&n), A(192, 168, 1, 255));
}

static void test_equal(void **state)
{
	struct ip4_net a = net("10.244.3.0/24"), b = net("10.244.3.0/24");
	struct ip4_net c = net("10.244.3.0/25"), d = net("10.244.3.1/24");

	assert_true(ip4_net_equal(&a, &b));
	assert_false(ip4_net_equal(&a, &c));
	assert_false(ip4_net_equal(&a, &d));
}

static void test_contains(void **state)
{
	struct ip4_net n = net("10.244.0.0/16"), all = net("0.0.0.0/0"), host = net("1.2.3.4/32");
	struct ip4_net gw = net("10.244.3.1/24");

	assert_true(ip4_net_contains(&n, A(10, 244, 0, 0)));
	assert_true(ip4_net_contains(&n, A(10, 244, 255, 255)));
	assert_true(ip4_net_contains(&n, A(10, 244, 3, 1)));
	assert_false(ip4_net_contains(&n, A(10, 245, 0, 0)));
	assert_false(ip4_net_contains(&n, A(10, 243, 255, 255)));
	assert_false(ip4_net_contains(&n, 0));
	assert_true(ip4_net_contains(&all, 0));
	assert_true(ip4_net_contains(&all, UINT32_MAX));
	assert_true(ip4_net_contains(&host, A(1, 2, 3, 4)));
	assert_false(ip4_net_contains(&host, A(1, 2, 3, 5)));
	/* Host bits of the network do not matter. */
	assert_true(ip4_net_contains(&gw, A(10, 244, 3, 200)));
	assert_false(ip4_net_contains(&gw, A(10, 244, 4, 1)));
}

static void test_contains_net(void **state)
{
	struct ip4_net outer = net("10.244.0.0/16");
	struct ip4_net in1 = net("10.244.3.0/24"), in2 = net("10.244.0.0/16"),
		       in3 = net("10.244.255.255/32"), out1 = net("10.0.0.0/8"),
		       out2 = net("10.245.0.0/24"), out3 = net("10.244.0.0/15"),
		       all = net("0.0.0.0/0");

	assert_true(ip4_net_contains_net(&outer, &in1));
	assert_true(ip4_net_contains_net(&outer, &in2));
	assert_true(ip4_net_contains_net(&outer, &in3));
	assert_false(ip4_net_contains_net(&outer, &out1));
	assert_false(ip4_net_contains_net(&outer, &out2));
	assert_false(ip4_net_contains_net(&outer, &out3));
	assert_true(ip4_net_contains_net(&all, &outer));
	assert_false(ip4_net_contains_net(&outer, &all));
	assert_true(ip4_net_contains_net(&out1, &outer));
}

static void test_overlaps(void **state)
{
	struct ip4_net a = net("10.244.0.0/16"), b = net("10.244.3.0/24"), c = net("10.245.0.0/16"),
		       d = net("10.0.0.0/8"), e = net("0.0.0.0/0"), f = net("10.244.255.255/32"),
		       g = net("10.245.0.0/32"), h = net("10.243.255.255/32");

	assert_true(ip4_net_overlaps(&a, &b));
	assert_true(ip4_net_overlaps(&b, &a));
	assert_false(ip4_net_overlaps(&a, &c));
	assert_false(ip4_net_overlaps(&c, &a));
	assert_true(ip4_net_overlaps(&a, &d));
	assert_true(ip4_net_overlaps(&d, &c));
	assert_true(ip4_net_overlaps(&e, &a));
	assert_true(ip4_net_overlaps(&a, &e));
	assert_true(ip4_net_overlaps(&a, &f));
	assert_false(ip4_net_overlaps(&a, &g));
	assert_false(ip4_net_overlaps(&h, &a));
	assert_true(ip4_net_overlaps(&a, &a));
}

static void test_subnet_count(void **state)
{
	struct ip4_net n = net("10.244.0.0/16"), all = net("0.0.0.0/0");

	assert_int_equal(ip4_subnet_count(&n, 24), 256);
	assert_int_equal(ip4_subnet_count(&n, 16), 1);
	assert_int_equal(ip4_subnet_count(&n, 32), 65536);
	assert_int_equal(ip4_subnet_count(&n, 15), 0);
	assert_int_equal(ip4_subnet_count(&n, 33), 0);
	assert_true(ip4_subnet_count(&all, 32) == UINT64_C(1) << 32);
	assert_int_equal(ip4_subnet_count(&all, 0), 1);
}

static void test_subnet_nth(void **state)
{
	struct ip4_net n = net("10.244.7.9/16"), all = net("0.0.0.0/0"), sn;
	char buf[IP4_NET_STRLEN];

	assert_int_equal(ip4_subnet_nth(&n, 24, 0, &sn), 0);
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "10.244.0.0/24");
	assert_int_equal(ip4_subnet_nth(&n, 24, 3, &sn), 0);
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "10.244.3.0/24");
	assert_int_equal(ip4_subnet_nth(&n, 24, 255, &sn), 0);
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "10.244.255.0/24");
	assert_int_equal(ip4_subnet_nth(&n, 24, 256, &sn), -ERANGE);
	assert_int_equal(ip4_subnet_nth(&n, 15, 0, &sn), -EINVAL);
	assert_int_equal(ip4_subnet_nth(&n, 33, 0, &sn), -EINVAL);
	assert_int_equal(ip4_subnet_nth(&n, 29, 8191, &sn), 0);
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "10.244.255.248/29");
	assert_int_equal(ip4_subnet_nth(&n, 16, 0, &sn), 0);
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "10.244.0.0/16");
	assert_int_equal(ip4_subnet_nth(&all, 32, UINT32_MAX, &sn), 0);
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "255.255.255.255/32");
	assert_int_equal(ip4_subnet_nth(&all, 32, UINT64_C(1) << 32, &sn), -ERANGE);
	assert_int_equal(ip4_subnet_nth(&all, 0, 0, &sn), 0);
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "0.0.0.0/0");
	assert_int_equal(ip4_subnet_nth(&all, 1, 1, &sn), 0);
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "128.0.0.0/1");
}

static void test_subnet_index(void **state)
{
	struct ip4_net n = net("10.244.0.0/16"), all = net("0.0.0.0/0"), sn;
	uint64_t idx = 99;

	assert_int_equal(ip4_subnet_index(&n, 24, A(10, 244, 3, 0), &idx), 0);
	assert_int_equal(idx, 3);
	assert_int_equal(ip4_subnet_index(&n, 24, A(10, 244, 0, 0), &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(ip4_subnet_index(&n, 24, A(10, 244, 255, 0), &idx), 0);
	assert_int_equal(idx, 255);
	idx = 99;
	assert_int_equal(ip4_subnet_index(&n, 24, A(10, 244, 3, 1), &idx), -EINVAL);
	assert_int_equal(ip4_subnet_index(&n, 24, A(10, 245, 0, 0), &idx), -EINVAL);
	assert_int_equal(ip4_subnet_index(&n, 8, A(10, 244, 0, 0), &idx), -EINVAL);
	assert_int_equal(ip4_subnet_index(&n, 33, A(10, 244, 0, 0), &idx), -EINVAL);
	assert_int_equal(idx, 99);
	assert_int_equal(ip4_subnet_index(&all, 32, UINT32_MAX, &idx), 0);
	assert_true(idx == UINT32_MAX);
	/* index and nth are inverse over a whole carving. */
	for (uint64_t i = 0; i < ip4_subnet_count(&n, 22); i++) {
		assert_int_equal(ip4_subnet_nth(&n, 22, i, &sn), 0);
		assert_int_equal(ip4_subnet_index(&n, 22, sn.addr, &idx), 0);
		assert_int_equal(idx, i);
	}
}

static void test_subnet_next(void **state)
{
	struct ip4_net sn = net("10.244.3.0/24"), last = net("255.255.255.0/24");
	struct ip4_net host = net("255.255.255.254/32"), all = net("0.0.0.0/0");
	struct ip4_net gw = net("10.244.3.1/24");
	char buf[IP4_NET_STRLEN];
	unsigned steps = 0;

	assert_true(ip4_subnet_next(&sn));
	ip4_format_net(&sn, buf);
	assert_string_equal(buf, "10.244.4.0/24");
	assert_true(ip4_subnet_next(&gw));
	ip4_format_net(&gw, buf);
	assert_string_equal(buf, "10.244.4.0/24");
	assert_false(ip4_subnet_next(&last));
	ip4_format_net(&last, buf);
	assert_string_equal(buf, "255.255.255.0/24");
	assert_true(ip4_subnet_next(&host));
	assert_false(ip4_subnet_next(&host));
	assert_int_equal(host.addr, UINT32_MAX);
	assert_false(ip4_subnet_next(&all));
	/* Walking a /16 in /20 steps visits 16 subnets, then leaves it. */
	struct ip4_net outer = net("10.244.0.0/16"), it = net("10.244.0.0/20");

	while (ip4_net_contains_net(&outer, &it)) {
		steps++;
		assert_true(ip4_subnet_next(&it));
	}
	assert_int_equal(steps, 16);
	ip4_format_net(&it, buf);
	assert_string_equal(buf, "10.245.0.0/20");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_addr_valid),
		cmocka_unit_test(test_parse_addr_invalid),
		cmocka_unit_test(test_parse_net_roundtrip),
		cmocka_unit_test(test_parse_net_invalid),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_first_broadcast_size),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_contains_net),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_subnet_count),
		cmocka_unit_test(test_subnet_nth),
		cmocka_unit_test(test_subnet_index),
		cmocka_unit_test(test_subnet_next),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
