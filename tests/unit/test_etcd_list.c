/* Paginated listing: request bodies, continuation keys, page sizing and the
 * answers it relies on, and a two-page listing through the client on a real
 * event loop against a scripted gateway. Large listings run against a real
 * etcd in tests/integration/test_lease_big_listing.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/loop.h"
#include "subnet/etcd.h"
#include "subnet/etcd_list.h"
#include "fake_gateway.h"

/* Decoded value of a base64 field of obj, as a string of *len bytes. */
static char *b64_field(json_t *obj, const char *name, size_t *len)
{
	const char *s = json_string_value(json_object_get(obj, name));
	char *out = NULL;

	assert_non_null(s);
	assert_int_equal(etcd_b64_decode(s, strlen(s), &out, len), 0);
	return out;
}

static void test_range_body_first_page(void **state)
{
	char *body = etcd_range_body("/p/", 3, "/p0", 3, 0, 64, false), *k, *e;
	json_t *o;
	size_t klen, elen;

	assert_non_null(body);
	o = json_loads(body, 0, NULL);
	assert_non_null(o);
	k = b64_field(o, "key", &klen);
	e = b64_field(o, "range_end", &elen);
	assert_int_equal(klen, 3);
	assert_memory_equal(k, "/p/", 3);
	assert_int_equal(elen, 3);
	assert_memory_equal(e, "/p0", 3);
	assert_int_equal(json_integer_value(json_object_get(o, "limit")), 64);
	/* The first page reads the current revision and fixes it. */
	assert_null(json_object_get(o, "revision"));
	assert_null(json_object_get(o, "keys_only"));
	free(k);
	free(e);
	json_decref(o);
	free(body);
}

static void test_range_body_next_page(void **state)
{
	/* A continuation key ends in NUL: bytes, not a C string. */
	char *body = etcd_range_body("/p/b\0", 5, "/p0", 3, 2324035551099160120LL, 1, true), *k;
	json_t *o;
	size_t klen;

	assert_non_null(body);
	o = json_loads(body, 0, NULL);
	assert_non_null(o);
	k = b64_field(o, "key", &klen);
	assert_int_equal(klen, 5);
	assert_memory_equal(k, "/p/b\0", 5);
	/* int64 as a string, never through a double. */
	assert_string_equal(json_string_value(json_object_get(o, "revision")),
			    "2324035551099160120");
	assert_true(json_is_true(json_object_get(o, "keys_only")));
	assert_int_equal(json_integer_value(json_object_get(o, "limit")), 1);
	free(k);
	json_decref(o);
	free(body);
}

static void test_key_after(void **state)
{
	char *k;
	size_t len;

	assert_int_equal(etcd_key_after("/p/a", 4, &k, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(k, "/p/a\0", 5);
	free(k);
	/* Keys may hold NUL bytes themselves. */
	assert_int_equal(etcd_key_after("/p/\0x", 5, &k, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(k, "/p/\0x\0", 6);
	free(k);
}

static void test_next_limit_shrinks(void **state)
{
	assert_int_equal(etcd_list_next_limit(64, 0, 0, true), 8);
	assert_int_equal(etcd_list_next_limit(8, 0, 0, true), 1);
	assert_int_equal(etcd_list_next_limit(5, 0, 0, true), 1);
	assert_int_equal(etcd_list_next_limit(1, 0, 0, true), 1);
}

static void test_next_limit_grows(void **state)
{
	/* Small leases (~400 bytes a key): double up to the maximum. */
	assert_int_equal(etcd_list_next_limit(64, 64 * 400, 64, false), 128);
	assert_int_equal(etcd_list_next_limit(1024, 1024 * 400, 1024, false), ETCD_LIST_LIMIT_MAX);
	assert_int_equal(etcd_list_next_limit(1000, 1000 * 400, 1000, false), ETCD_LIST_LIMIT_MAX);
	/* 175 KB a key: what fits half the cap, not more. */
	assert_int_equal(etcd_list_next_limit(4, 4 * 175000, 4, false), 2);
	assert_int_equal(etcd_list_next_limit(1, 175000, 1, false), 2);
	/* Keys near the cap: one at a time, never 0. */
	assert_int_equal(etcd_list_next_limit(1, ETCD_LIST_PAGE_MAX - 1, 1, false), 1);
	assert_int_equal(etcd_list_next_limit(3, 0, 0, false), 3);
	assert_int_equal(etcd_list_next_limit(0, 0, 0, false), 1);
}

static void parse(long http, const char *body, struct etcd_response *r)
{
	memset(r, 0, sizeof(*r));
	etcd_parse_response(ETCD_OP_RANGE, http, body, strlen(body), r, NULL);
}

static void test_parse_more_count(void **state)
{
	struct etcd_response r;

	parse(200,
	      "{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"L3AvYQ==\",\"value\":\"eA==\"}],"
	      "\"more\":true,\"count\":\"5000\"}",
	      &r);
	assert_int_equal(r.err, 0);
	assert_true(r.more);
	assert_int_equal(r.count, 5000);
	assert_int_equal(r.n_kvs, 1);
	etcd_response_clear(&r);
	/* The last page: "more" is false, so omitted. */
	parse(200,
	      "{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"L3AvYQ==\"}],\"count\":\"1\"}",
	      &r);
	assert_false(r.more);
	etcd_response_clear(&r);
	/* A "more" that is not a boolean is not taken as one. */
	parse(200, "{\"header\":{\"revision\":\"9\"},\"more\":\"true\"}", &r);
	assert_false(r.more);
	etcd_response_clear(&r);
}

static void test_revision_gone(void **state)
{
	struct etcd_response r;

	/* As the 3.4 gateway answers a range at a compacted revision. */
	parse(400,
	      "{\"error\":\"etcdserver: mvcc: required revision has been compacted\",\"message\":"
	      "\"etcdserver: mvcc: required revision has been compacted\",\"code\":11}",
	      &r);
	assert_true(etcd_list_revision_gone(&r));
	etcd_response_clear(&r);
	parse(400,
	      "{\"error\":\"etcdserver: mvcc: required revision is a future revision\",\"code\":11}",
	      &r);
	assert_true(etcd_list_revision_gone(&r));
	etcd_response_clear(&r);
	/* Other errors stop the listing instead. */
	parse(400, "{\"error\":\"illegal base64 data at input byte 0\",\"code\":3}", &r);
	assert_false(etcd_list_revision_gone(&r));
	etcd_response_clear(&r);
	memset(&r, 0, sizeof(r));
	r.err = ETCD_ECONNECT;
	assert_false(etcd_list_revision_gone(&r));
}

struct listing {
	int pages, done, n_kvs, restarts;
	char keys[4][16];
	int64_t rev;
	int err;
};

static void on_list_page(void *data, const struct etcd_kv *kvs, size_t n, bool restart)
{
	struct listing *ls = data;

	ls->pages++;
	ls->restarts += restart;
	for (size_t i = 0; i < n && ls->n_kvs < 4; i++)
		snprintf(ls->keys[ls->n_kvs++], sizeof(ls->keys[0]), "%s", kvs[i].key);
}

static void on_list_done(void *data, const struct etcd_response *err, int64_t revision)
{
	struct listing *ls = data;

	ls->done++;
	ls->err = err ? err->err : 0;
	ls->rev = revision;
}

/* The second page of a listing at revision 7 reads at 7, after "/p/a". */
static void test_list_two_pages(void **state)
{
	/* "/p/a" "/p/b" = "x" in base64. */
	static const char *const answers[] = {
		"{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"L3AvYQ==\","
		"\"value\":\"eA==\",\"mod_revision\":\"5\"}],\"more\":true,\"count\":\"2\"}",
		"{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"L3AvYg==\","
		"\"value\":\"eA==\",\"mod_revision\":\"6\"}],\"count\":\"1\"}",
	};
	struct fake_gateway g;
	const char *eps[1];
	struct etcd_config cfg = {.endpoints = eps, .n_endpoints = 1};
	struct listing ls = {0};
	struct etcd_client *c;
	struct etcd_list *lst;
	struct etcd_list_stats st;
	struct loop *l;
	json_t *body;
	char *key;
	size_t key_len;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(fake_gateway_start(&g, l, answers, 2), 0);
	eps[0] = g.url;
	assert_int_equal(etcd_client_new(l, &cfg, &c), 0);
	assert_int_equal(etcd_list_new(c, "/p/", on_list_page, on_list_done, &ls, &lst), 0);
	assert_int_equal(etcd_list_start(lst), 0);
	assert_true(etcd_list_running(lst));
	assert_int_equal(etcd_list_start(lst), -EBUSY);
	assert_int_equal(loop_pump(l, &ls.done, 1, 3000), 0);
	assert_int_equal(ls.done, 1);
	assert_int_equal(ls.err, 0);
	assert_int_equal(ls.rev, 7);
	assert_int_equal(ls.pages, 2);
	/* Only the first page starts a listing afresh. */
	assert_int_equal(ls.restarts, 1);
	assert_int_equal(ls.n_kvs, 2);
	assert_string_equal(ls.keys[0], "/p/a");
	assert_string_equal(ls.keys[1], "/p/b");
	assert_false(etcd_list_running(lst));
	etcd_list_get_stats(lst, &st);
	assert_int_equal(st.pages, 2);
	/* What the gateway was asked the second time. */
	assert_int_equal(g.n_reqs, 2);
	body = json_loads(g.bodies[1], 0, NULL);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "revision")), "7");
	key = b64_field(body, "key", &key_len);
	assert_int_equal(key_len, 5);
	assert_memory_equal(key, "/p/a\0", 5);
	free(key);
	json_decref(body);
	etcd_list_free(lst);
	etcd_client_free(c);
	fake_gateway_stop(&g);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_body_first_page),
		cmocka_unit_test(test_range_body_next_page),
		cmocka_unit_test(test_key_after),
		cmocka_unit_test(test_next_limit_shrinks),
		cmocka_unit_test(test_next_limit_grows),
		cmocka_unit_test(test_parse_more_count),
		cmocka_unit_test(test_revision_gone),
		cmocka_unit_test(test_list_two_pages),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
