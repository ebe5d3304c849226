/* How the lease manager reads etcd's kvs: keys and values are byte strings
 * and may hold NUL bytes, which must never alias a real lease. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../subnet/leasemgr.c"
#include "../../subnet/leasemgr_own.c"
#include "../../subnet/leasemgr_sync.c"
#include "../../subnet/leasemgr_view.c"

#define KEY "/coreos.com/network/subnets/10.244.3.0-24"
#define VALUE \
	"{\"PublicIP\":\"198.18.0.3\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"02:e5:86:95:25:0d\"}}"

static struct etcd_kv kv(const char *key, size_t key_len, const char *value, size_t value_len)
{
	struct etcd_kv k = {.key = (char *)key,
			    .key_len = key_len,
			    .value = (char *)value,
			    .value_len = value_len,
			    .mod_revision = 5};
	return k;
}

static void test_nul_in_key_is_no_lease(void **state)
{
	struct leasemgr m = {.prefix = "/coreos.com/network"};
	static const char key[] = KEY "\0x";
	struct etcd_kv good = kv(KEY, strlen(KEY), VALUE, strlen(VALUE));
	struct etcd_kv bad = kv(key, sizeof(key) - 1, VALUE, strlen(VALUE));
	struct ip4_net sn;

	assert_int_equal(lm_kv_subnet(&m, &good, &sn), 0);
	assert_int_equal(lm_kv_subnet(&m, &bad, &sn), -EINVAL);
	assert_int_equal(lm_map_put_kv(&m, &bad, &sn), -EINVAL);
	assert_int_equal(m.pv.n_map, 0);
	lm_map_clear(&m);
	free(m.pv.map);
}

static void test_nul_in_value_is_undecodable(void **state)
{
	struct leasemgr m = {.prefix = "/coreos.com/network"};
	static const char value[] = VALUE "\0junk";
	struct etcd_kv good = kv(KEY, strlen(KEY), VALUE, strlen(VALUE));
	struct etcd_kv bad = kv(KEY, strlen(KEY), value, sizeof(value) - 1);
	struct ip4_net sn;

	assert_int_equal(lm_map_put_kv(&m, &good, &sn), 0);
	assert_int_equal(m.pv.n_map, 1);
	assert_true(m.pv.map[0].decoded);
	assert_int_equal(lm_map_put_kv(&m, &bad, &sn), 0);
	assert_int_equal(m.pv.n_map, 1);
	assert_false(m.pv.map[0].decoded);
	lm_map_clear(&m);
	free(m.pv.map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nul_in_key_is_no_lease),
		cmocka_unit_test(test_nul_in_value_is_undecodable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
