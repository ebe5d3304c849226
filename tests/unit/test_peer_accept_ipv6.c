/* Peer acceptance for dual stack and IPv6 only (peer_accept_*_any). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "subnet/peer_accept.h"

#define A(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))
#define N_ELEMS(a)    (sizeof(a) / sizeof((a)[0]))

static struct netconf dual, only6, only4;
static struct peer_accept_ctx_any ctx;

static void parse(const char *json, struct netconf *nc)
{
	char err[160];

	if (netconf_parse_any(json, strlen(json), nc, err, sizeof(err)))
		fail_msg("%s", err);
}

static struct in6_addr addr6(const char *s)
{
	struct in6_addr a;

	assert_int_equal(ip6_parse_addr(s, &a), 0);
	return a;
}

static struct ip6_net net6(const char *s)
{
	struct ip6_net n;

	assert_int_equal(ip6_parse_net(s, &n), 0);
	return n;
}

static int setup(void **state)
{
	parse("{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,"
	      "\"IPv6Network\":\"fd00:10:244::/56\"}",
	      &dual);
	parse("{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00:10:244::/56\"}",
	      &only6);
	parse("{\"Network\":\"10.244.0.0/16\"}", &only4);
	memset(&ctx, 0, sizeof(ctx));
	ctx.v4 = (struct peer_accept_ctx){&dual, A(198, 18, 0, 1), true, {A(10, 244, 1, 0), 24}};
	ctx.has_public_ipv6 = true;
	ctx.public_ipv6 = addr6("2001:db8:18::1");
	ctx.has_own6 = true;
	ctx.own6 = net6("fd00:10:244:1::/64");
	return 0;
}

/* A dual-stack lease that passes: 10.244.<c>.0/24 & fd00:10:244:<c>::/64. */
static struct peer_cand_any good(unsigned c)
{
	struct peer_cand_any p = {
		.subnets = {.has_v4 = true, .v4 = {A(10, 244, c, 0), 24}, .has_v6 = true},
		.decoded = true,
		.attrs = {.public_ip = A(198, 18, 0, c),
			  .backend_type = "vxlan",
			  .vni = 1,
			  .vtep_mac = {0x02, 0xab, 0, 0, 0, (uint8_t)c},
			  .has_vtep_mac = true,
			  .has_public_ipv6 = true,
			  .vni6 = 1,
			  .vtep_mac6 = {0x02, 0xcd, 0, 0, 0, (uint8_t)c},
			  .has_vtep_mac6 = true},
		.create_rev = c,
		.key = "k",
	};

	p.subnets.v6 = net6("fd00:10:244::/64");
	p.subnets.v6.addr.s6_addr[7] = (uint8_t)c;
	p.attrs.public_ipv6 = addr6("2001:db8:18::");
	p.attrs.public_ipv6.s6_addr[15] = (uint8_t)c;
	return p;
}

/* The same lease with IPv4 removed. */
static struct peer_cand_any good6(unsigned c)
{
	struct peer_cand_any p = good(c);

	p.subnets.has_v4 = false;
	p.subnets.v4 = (struct ip4_net){0, 0};
	p.attrs.public_ip = 0;
	p.attrs.has_vtep_mac = false;
	return p;
}

static void expect(const struct peer_cand_any *c, enum peer_verdict want)
{
	enum peer_verdict got = peer_accept_one_any(&ctx, c);

	if (got != want)
		fail_msg("verdict %s, want %s", peer_verdict_name(got), peer_verdict_name(want));
}

static void test_dual(void **state)
{
	struct peer_cand_any c = good(7);

	expect(&c, PEER_ACCEPTED);
	/* IPv4 rules keep their verdicts. */
	c.subnets.v4.prefix = 25;
	expect(&c, PEER_REJ_LENGTH);
	c = good(7);
	c.attrs.public_ip = A(198, 18, 0, 1);
	expect(&c, PEER_REJ_OWN_IP);
	c = good(1);
	c.subnets.v6.addr.s6_addr[7] = 9;
	expect(&c, PEER_REJ_OWN_SUBNET);
	/* IPv6 rules, one by one. */
	c = good(7);
	c.subnets.v6 = net6("fd00:10:245:7::/64");
	expect(&c, PEER_REJ_OUTSIDE_IPV6);
	c.subnets.v6 = net6("fd00:10:244:7::1/64");
	expect(&c, PEER_REJ_OUTSIDE_IPV6);
	c.subnets.v6 = net6("fd00:10:244:7::/65");
	expect(&c, PEER_REJ_LENGTH_IPV6);
	c = good(7);
	c.subnets.v6 = net6("fd00:10:244:1::/64");
	expect(&c, PEER_REJ_OWN_SUBNET_IPV6);
	c = good(7);
	c.attrs.public_ipv6 = addr6("2001:db8:18::1");
	expect(&c, PEER_REJ_OWN_IPV6);
	static const char *const bad_ip[] = {
		"::", "::1", "fe80::7", "ff02::1", "::ffff:198.18.0.7", "fd00:10:244:7::1"};
	for (size_t i = 0; i < N_ELEMS(bad_ip); i++) {
		c.attrs.public_ipv6 = addr6(bad_ip[i]);
		expect(&c, PEER_REJ_PUBLIC_IPV6);
	}
	c = good(7);
	c.attrs.has_vtep_mac6 = false;
	expect(&c, PEER_REJ_MAC_IPV6);
	c.attrs.has_vtep_mac6 = true;
	c.attrs.vtep_mac6[0] = 0x03;
	expect(&c, PEER_REJ_MAC_IPV6);
	c = good(7);
	c.attrs.vni6 = 2;
	expect(&c, PEER_REJ_VNI_IPV6);
	/* Own PublicIPv6 unknown: nothing to compare with. */
	ctx.has_public_ipv6 = false;
	c = good(7);
	c.attrs.public_ipv6 = addr6("2001:db8:18::1");
	expect(&c, PEER_ACCEPTED);
	ctx.has_public_ipv6 = true;
}

static void test_families(void **state)
{
	struct peer_cand_any c = good(7);

	/* Dual config: an IPv4-only or IPv6-only key is a subset: accepted. */
	c.subnets.has_v6 = false;
	c.attrs.has_public_ipv6 = false;
	c.attrs.has_vtep_mac6 = false;
	expect(&c, PEER_ACCEPTED);
	/* ... but its value must not carry the other family. */
	c.attrs.has_vtep_mac6 = true;
	expect(&c, PEER_REJ_FAMILY);
	c = good6(7);
	expect(&c, PEER_ACCEPTED);
	c.attrs.public_ip = A(198, 18, 0, 7);
	expect(&c, PEER_REJ_FAMILY);
	/* A key of no family. */
	c = good(7);
	c.subnets.has_v4 = false;
	c.subnets.has_v6 = false;
	expect(&c, PEER_REJ_FAMILY);
	/* Key with IPv6, value without PublicIPv6. */
	c = good(7);
	c.attrs.has_public_ipv6 = false;
	expect(&c, PEER_REJ_FAMILY);
	/* IPv6-only config. */
	ctx.v4.nc = &only6;
	c = good6(7);
	expect(&c, PEER_ACCEPTED);
	c.attrs.public_ip = A(198, 18, 0, 7);
	expect(&c, PEER_REJ_FAMILY);
	c = good6(7);
	c.attrs.has_vtep_mac = true;
	expect(&c, PEER_REJ_FAMILY);
	c = good(7);
	expect(&c, PEER_REJ_FAMILY);
	/* IPv4-only config: IPv6 in the key or value is refused. */
	ctx.v4.nc = &only4;
	c = good(7);
	expect(&c, PEER_REJ_FAMILY);
	c.subnets.has_v6 = false;
	expect(&c, PEER_REJ_FAMILY);
	c.attrs.has_public_ipv6 = false;
	expect(&c, PEER_REJ_FAMILY);
	c.attrs.has_vtep_mac6 = false;
	expect(&c, PEER_ACCEPTED);
	ctx.v4.nc = &dual;
	/* Value and backend come first. */
	c = good(7);
	c.decoded = false;
	expect(&c, PEER_REJ_VALUE);
	c = good6(7);
	strcpy(c.attrs.backend_type, "wg");
	expect(&c, PEER_REJ_BACKEND);
}

static void test_set_conflicts(void **state)
{
	struct peer_cand_any c[5];
	enum peer_verdict out[5], rev[5];
	struct peer_cand_any r[5];

	c[0] = good(5);
	c[1] = good(6);
	/* Same IPv4 subnet as c[0], younger. */
	c[2] = good(5);
	c[2].create_rev = 10;
	c[2].subnets.v6.addr.s6_addr[7] = 8;
	/* Same IPv6 subnet as c[1], younger, own IPv4 subnet. */
	c[3] = good(6);
	c[3].create_rev = 11;
	c[3].subnets.v4.addr = A(10, 244, 9, 0);
	/* Broken: rejected on its own, and knocks nobody out. */
	c[4] = good(7);
	c[4].create_rev = 1;
	c[4].attrs.vni6 = 9;
	assert_int_equal(peer_accept_set_any(&ctx, c, 5, out), 0);
	assert_int_equal(out[0], PEER_ACCEPTED);
	assert_int_equal(out[1], PEER_ACCEPTED);
	assert_int_equal(out[2], PEER_REJ_CONFLICT);
	assert_int_equal(out[3], PEER_REJ_CONFLICT_IPV6);
	assert_int_equal(out[4], PEER_REJ_VNI_IPV6);
	/* The decision does not depend on the order. */
	for (size_t i = 0; i < 5; i++)
		r[i] = c[4 - i];
	assert_int_equal(peer_accept_set_any(&ctx, r, 5, rev), 0);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(rev[i], out[4 - i]);
	assert_int_equal(peer_accept_set_any(&ctx, NULL, 0, NULL), 0);
}

static void test_names(void **state)
{
	/* IPv4 names stay; each new one is distinct and has a rule. */
	assert_string_equal(peer_verdict_name(PEER_REJ_CONFLICT), "conflict");
	assert_string_equal(peer_verdict_name(PEER_REJ_FAMILY), "family");
	assert_string_equal(peer_verdict_name(PEER_REJ_PUBLIC_IPV6), "public_ipv6");
	for (int a = 0; a < PEER_VERDICTS; a++) {
		assert_non_null(peer_verdict_rule(a));
		for (int b = a + 1; b < PEER_VERDICTS; b++)
			assert_string_not_equal(peer_verdict_name(a), peer_verdict_name(b));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dual),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_set_conflicts),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
