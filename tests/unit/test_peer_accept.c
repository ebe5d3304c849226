/* Peer acceptance rules (subnet/peer_accept.c) and the allocator's overlap
 * rule (subnet/subnet_pick.c): pure functions, no etcd, no kernel. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "subnet/peer_accept.h"
#include "subnet/subnet_pick.h"

#define A(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static struct netconf nc;
static struct peer_accept_ctx ctx;

static int setup(void **state)
{
	static const char json[] =
		"{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}";
	char err[128];

	assert_int_equal(netconf_parse(json, strlen(json), &nc, err, sizeof(err)), 0);
	ctx = (struct peer_accept_ctx){&nc, A(198, 18, 0, 1), true, {A(10, 244, 3, 0), 24}};
	return 0;
}

/* A lease that passes every rule: 10.244.<c>.0/24 of 198.18.0.<c>. */
static struct peer_cand good(unsigned c)
{
	struct peer_cand p = {
		.subnet = {A(10, 244, c, 0), 24},
		.decoded = true,
		.attrs = {.public_ip = A(198, 18, 0, c),
			  .backend_type = "vxlan",
			  .vni = 1,
			  .vtep_mac = {0x02, 0xab, 0, 0, 0, (uint8_t)c},
			  .has_vtep_mac = true},
		.create_rev = c,
		.key = "k",
	};
	return p;
}

static void test_accepts_good(void **state)
{
	struct peer_cand c = good(7);

	assert_int_equal(peer_accept_one(&ctx, &c), PEER_ACCEPTED);
	ctx.has_own = false;
	assert_int_equal(peer_accept_one(&ctx, &c), PEER_ACCEPTED);
	ctx.has_own = true;
}

static void test_subnet_rules(void **state)
{
	static const struct {
		struct ip4_net sn;
		enum peer_verdict v;
	} cases[] = {
		{{A(198, 18, 0, 0), 24}, PEER_REJ_OUTSIDE}, /* the underlay */
		{{A(10, 99, 0, 0), 24}, PEER_REJ_OUTSIDE},
		{{A(128, 0, 0, 0), 1}, PEER_REJ_OUTSIDE},
		{{0, 0}, PEER_REJ_OUTSIDE},
		{{A(10, 244, 0, 0), 16}, PEER_REJ_LENGTH}, /* the whole network */
		{{A(10, 244, 3, 2), 31}, PEER_REJ_LENGTH}, /* inside the own subnet */
		{{A(10, 244, 3, 128), 25}, PEER_REJ_LENGTH},
		{{A(10, 244, 7, 0), 25}, PEER_REJ_LENGTH}, /* alias of a peer */
		{{A(10, 244, 2, 0), 23}, PEER_REJ_LENGTH},
		{{A(10, 244, 3, 0), 24}, PEER_REJ_OWN_SUBNET},
		{{A(10, 244, 7, 1), 24}, PEER_REJ_OUTSIDE}, /* not canonical */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct peer_cand c = good(7);

		c.subnet = cases[i].sn;
		assert_int_equal(peer_accept_one(&ctx, &c), cases[i].v);
	}
}

static void test_value_rules(void **state)
{
	static const uint32_t bad_ips[] = {
		A(127, 0, 0, 1), A(255, 255, 255, 255), A(224, 0, 0, 5),
		A(239, 1, 1, 1), A(240, 0, 0, 1),	0,
		A(0, 1, 2, 3),	 A(169, 254, 1, 1),	A(10, 244, 5, 5), /* inside the overlay */
	};
	static const uint8_t bad_macs[][6] = {
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01},
		{0x33, 0x33, 0, 0, 0, 1},
		{0, 0, 0, 0, 0, 0},
	};
	struct peer_cand c;

	for (size_t i = 0; i < sizeof(bad_ips) / sizeof(bad_ips[0]); i++) {
		c = good(7);
		c.attrs.public_ip = bad_ips[i];
		assert_int_equal(peer_accept_one(&ctx, &c), PEER_REJ_PUBLIC_IP);
	}
	c = good(7);
	c.attrs.public_ip = ctx.public_ip;
	assert_int_equal(peer_accept_one(&ctx, &c), PEER_REJ_OWN_IP);
	for (size_t i = 0; i < sizeof(bad_macs) / sizeof(bad_macs[0]); i++) {
		c = good(7);
		memcpy(c.attrs.vtep_mac, bad_macs[i], 6);
		assert_int_equal(peer_accept_one(&ctx, &c), PEER_REJ_MAC);
	}
	c = good(7);
	c.attrs.has_vtep_mac = false;
	assert_int_equal(peer_accept_one(&ctx, &c), PEER_REJ_MAC);
	c = good(7);
	c.attrs.vni = 2;
	assert_int_equal(peer_accept_one(&ctx, &c), PEER_REJ_VNI);
	c = good(7);
	strcpy(c.attrs.backend_type, "host-gw");
	assert_int_equal(peer_accept_one(&ctx, &c), PEER_REJ_BACKEND);
	c = good(7);
	c.decoded = false;
	assert_int_equal(peer_accept_one(&ctx, &c), PEER_REJ_VALUE);
	assert_true(peer_ip_usable(A(198, 18, 0, 2)));
	assert_true(peer_mac_usable((const uint8_t[6]){0x02, 0, 0, 0, 0, 1}));
}

/* Two keys of one subnet: the older create revision wins, whatever the
 * order; when it goes, the other is accepted. */
static void test_conflict(void **state)
{
	struct peer_cand c[3] = {good(7), good(7), good(8)};
	enum peer_verdict v[3];

	c[0].create_rev = 50;
	c[0].key = "/p/subnets/10.244.7.0-24&fd00::-64";
	c[0].attrs.public_ip = A(198, 18, 0, 77);
	c[1].create_rev = 10;
	c[1].key = "/p/subnets/10.244.7.0-24";
	assert_int_equal(peer_accept_set(&ctx, c, 3, v), 0);
	assert_int_equal(v[0], PEER_REJ_CONFLICT);
	assert_int_equal(v[1], PEER_ACCEPTED);
	assert_int_equal(v[2], PEER_ACCEPTED);
	assert_true(peer_cand_older(&c[1], &c[0]));
	assert_false(peer_cand_older(&c[0], &c[1]));

	struct peer_cand r[3] = {c[2], c[0], c[1]};

	assert_int_equal(peer_accept_set(&ctx, r, 3, v), 0);
	assert_int_equal(v[0], PEER_ACCEPTED);
	assert_int_equal(v[1], PEER_REJ_CONFLICT);
	assert_int_equal(v[2], PEER_ACCEPTED);
	/* the winner leaves: the other takes over */
	assert_int_equal(peer_accept_set(&ctx, c, 1, v), 0);
	assert_int_equal(v[0], PEER_ACCEPTED);
	/* equal revisions: the key decides */
	c[0].create_rev = c[1].create_rev;
	assert_int_equal(peer_accept_set(&ctx, c, 2, v), 0);
	assert_int_equal(v[0], PEER_REJ_CONFLICT);
	assert_int_equal(v[1], PEER_ACCEPTED);
	/* an invalid lease never wins a conflict */
	c[1].attrs.vni = 9;
	assert_int_equal(peer_accept_set(&ctx, c, 2, v), 0);
	assert_int_equal(v[0], PEER_ACCEPTED);
	assert_int_equal(v[1], PEER_REJ_VNI);
	assert_int_equal(peer_accept_set(&ctx, NULL, 0, v), 0);
}

static void test_names(void **state)
{
	for (int v = 0; v < PEER_VERDICTS; v++) {
		assert_non_null(peer_verdict_name(v));
		assert_non_null(peer_verdict_rule(v));
	}
	assert_string_equal(peer_verdict_name(PEER_REJ_OUTSIDE), "outside");
	assert_string_equal(peer_verdict_name(PEER_VERDICTS), "unknown");
}

/* SubnetLen 24 -> 25: /25s inside a live /24 are taken. */
static void test_pick_longer_len(void **state)
{
	static const char json[] = "{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":25,"
				   "\"SubnetMin\":\"10.244.7.0\",\"SubnetMax\":\"10.244.8.0\"}";
	struct ip4_net taken[2] = {{A(10, 244, 7, 0), 24}}, sn;
	struct netconf n25;
	char err[128];

	assert_int_equal(netconf_parse(json, strlen(json), &n25, err, sizeof(err)), 0);
	for (uint64_t r = 0; r < 4; r++) {
		assert_int_equal(subnet_pick_free(&n25, taken, 1, r, &sn), 0);
		assert_int_equal(sn.addr, A(10, 244, 8, 0));
		assert_int_equal(sn.prefix, 25);
	}
	taken[1] = (struct ip4_net){A(10, 244, 8, 0), 23}; /* the rest of the range */
	assert_int_equal(subnet_pick_free(&n25, taken, 2, 0, &sn), -ENOSPC);
	assert_false(subnet_is_free(&n25, taken, 2, &(struct ip4_net){A(10, 244, 8, 0), 25}));
	assert_false(subnet_is_free(&n25, taken, 2, &(struct ip4_net){A(10, 244, 7, 128), 25}));
}

/* SubnetLen 25 -> 24: a /24 holding a live /25 is taken. */
static void test_pick_shorter_len(void **state)
{
	static const char json[] = "{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":24,"
				   "\"SubnetMin\":\"10.244.1.0\",\"SubnetMax\":\"10.244.3.0\"}";
	struct ip4_net taken[] = {{A(10, 244, 1, 128), 25},
				  {A(10, 244, 3, 0), 26},
				  {A(10, 244, 3, 64), 26},
				  {A(10, 0, 0, 0), 8}, /* covers the network: ignored */
				  {A(10, 244, 0, 0), 16},
				  {A(10, 245, 0, 0), 24}},
		       sn;
	struct netconf n24;
	char err[128];

	assert_int_equal(netconf_parse(json, strlen(json), &n24, err, sizeof(err)), 0);
	for (uint64_t r = 0; r < 3; r++) {
		assert_int_equal(subnet_pick_free(&n24, taken, 6, r, &sn), 0);
		assert_int_equal(sn.addr, A(10, 244, 2, 0));
	}
	assert_true(subnet_is_free(&n24, taken, 6, &(struct ip4_net){A(10, 244, 2, 0), 24}));
	assert_false(subnet_is_free(&n24, taken, 6, &(struct ip4_net){A(10, 244, 1, 0), 24}));
	assert_false(subnet_is_free(&n24, taken, 6, &(struct ip4_net){A(10, 244, 9, 0), 24}));
	assert_false(subnet_taken_by(&n24, &taken[3]));
	assert_false(subnet_taken_by(&n24, &taken[4]));
	assert_true(subnet_taken_by(&n24, &taken[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_good),
		cmocka_unit_test(test_subnet_rules),
		cmocka_unit_test(test_value_rules),
		cmocka_unit_test(test_conflict),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_pick_longer_len),
		cmocka_unit_test(test_pick_shorter_len),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
