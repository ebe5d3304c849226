/* Lease manager pieces that need no etcd: choosing a free subnet. The
 * state machines run against an in-memory etcd in test_lease_sm.c and
 * against a real etcd in tests/integration/test_lease_*.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "subnet/leasemgr.h"

#define A(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static struct netconf conf(const char *json)
{
	struct netconf nc;
	char err[256];

	assert_int_equal(netconf_parse(json, strlen(json), &nc, err, sizeof(err)), 0);
	return nc;
}

static void test_pick_all_free(void **state)
{
	struct netconf nc = conf("{\"Network\":\"10.244.0.0/16\"}");
	struct ip4_net sn;

	/* SubnetMin skips the first subnet: rank 0 is 10.244.1.0/24. */
	assert_int_equal(leasemgr_pick_free(&nc, NULL, 0, 0, &sn), 0);
	assert_int_equal(sn.addr, A(10, 244, 1, 0));
	assert_int_equal(sn.prefix, 24);
	assert_int_equal(leasemgr_pick_free(&nc, NULL, 0, 254, &sn), 0);
	assert_int_equal(sn.addr, A(10, 244, 255, 0));
	/* The rank wraps over the free count. */
	assert_int_equal(leasemgr_pick_free(&nc, NULL, 0, 255, &sn), 0);
	assert_int_equal(sn.addr, A(10, 244, 1, 0));
}

static void test_pick_skips_taken(void **state)
{
	struct netconf nc = conf("{\"Network\":\"10.10.0.0/16\",\"SubnetMin\":\"10.10.1.0\","
				 "\"SubnetMax\":\"10.10.5.0\"}");
	/* Taken: 1, 3 and two outside the range (ignored). */
	uint32_t taken[] = {A(10, 9, 0, 0), A(10, 10, 1, 0), A(10, 10, 3, 0), A(10, 10, 9, 0)};
	uint32_t want[] = {A(10, 10, 2, 0), A(10, 10, 4, 0), A(10, 10, 5, 0)};
	struct ip4_net sn;

	for (uint64_t r = 0; r < 6; r++) {
		assert_int_equal(leasemgr_pick_free(&nc, taken, 4, r, &sn), 0);
		assert_int_equal(sn.addr, want[r % 3]);
	}
}

static void test_pick_every_free_once(void **state)
{
	struct netconf nc = conf("{\"Network\":\"10.0.0.0/16\",\"SubnetLen\":24}");
	uint32_t *taken = calloc(256, sizeof(*taken));
	bool seen[256] = {0};
	size_t n = 0;
	uint64_t total = netconf_subnet_count(&nc);
	struct ip4_net sn;

	/* Every third subnet taken. */
	for (uint32_t i = 1; i < 256; i += 3)
		taken[n++] = A(10, 0, i, 0);
	for (uint64_t r = 0; r < total - n; r++) {
		assert_int_equal(leasemgr_pick_free(&nc, taken, n, r, &sn), 0);
		assert_false(seen[(sn.addr >> 8) & 0xff]);
		seen[(sn.addr >> 8) & 0xff] = true;
		assert_true(netconf_subnet_valid(&nc, &sn));
		assert_int_not_equal(((sn.addr >> 8) & 0xff) % 3, 1);
	}
	free(taken);
}

static void test_pick_exhausted(void **state)
{
	struct netconf nc = conf("{\"Network\":\"10.5.0.0/22\",\"SubnetLen\":24}");
	uint32_t taken[] = {A(10, 5, 1, 0), A(10, 5, 2, 0), A(10, 5, 3, 0)};
	struct ip4_net sn = {0};

	assert_int_equal(netconf_subnet_count(&nc), 3);
	assert_int_equal(leasemgr_pick_free(&nc, taken, 3, 7, &sn), -ENOSPC);
	assert_int_equal(leasemgr_pick_free(&nc, taken, 2, 7, &sn), 0);
	assert_int_equal(sn.addr, A(10, 5, 3, 0));
}

static void test_pick_large(void **state)
{
	/* 2^21 subnets of /29 in a /8: no table of all candidates is built. */
	struct netconf nc = conf("{\"Network\":\"10.0.0.0/8\",\"SubnetLen\":29}");
	uint32_t taken[] = {A(10, 0, 0, 8)};
	struct ip4_net sn;

	assert_int_equal(leasemgr_pick_free(&nc, taken, 1, 0, &sn), 0);
	assert_int_equal(sn.addr, A(10, 0, 0, 16));
	assert_int_equal(leasemgr_pick_free(&nc, taken, 1, UINT64_MAX, &sn), 0);
	assert_true(netconf_subnet_valid(&nc, &sn));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_all_free),
		cmocka_unit_test(test_pick_skips_taken),
		cmocka_unit_test(test_pick_every_free_once),
		cmocka_unit_test(test_pick_exhausted),
		cmocka_unit_test(test_pick_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
