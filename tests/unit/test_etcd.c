/* The etcd client without etcd: backoff, and the client on a real event
 * loop against a closed local port, a silent listener and a scripted
 * gateway. */
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
#include "common/util.h"
#include "subnet/etcd.h"
#include "fake_gateway.h"

static void test_backoff(void **state)
{
	uint64_t prev_max = 0;

	for (unsigned a = 0; a < 12; a++) {
		uint64_t lo = UINT64_MAX, hi = 0, nominal = 200;

		for (unsigned k = 0; k < a && nominal < 5000; k++)
			nominal *= 2;
		if (nominal > 5000)
			nominal = 5000;
		for (uint32_t r = 0; r < 5000; r += 7) {
			uint64_t d = etcd_backoff_ms(a, 200, 5000, r * 2654435761u);

			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		/* Jitter within [d/2, d], never above the cap, never shrinking. */
		assert_true(lo >= nominal / 2);
		assert_true(hi <= nominal);
		assert_true(hi > lo);
		assert_true(hi >= prev_max);
		prev_max = hi;
	}
	assert_true(etcd_backoff_ms(1000, 200, 5000, 12345) <= 5000);
	assert_int_equal(etcd_backoff_ms(0, 0, 5000, 7), 0);
}
struct outcome {
	int calls;
	struct etcd_response r;
};

static void record(void *data, const struct etcd_response *r)
{
	struct outcome *o = data;

	o->calls++;
	o->r.err = r->err;
	memcpy(o->r.message, r->message, sizeof(o->r.message));
}

/* Runs the loop until cond is true or max_ms passed. */
static void pump(struct loop *l, int *cond, int want, int max_ms)
{
	assert_int_equal(loop_pump(l, cond, want, max_ms), 0);
}

static void client_new(const struct etcd_config *cfg, struct loop **l, struct etcd_client **c)
{
	assert_int_equal(loop_new(l), 0);
	assert_int_equal(etcd_client_new(*l, cfg, c), 0);
	assert_ptr_equal(etcd_client_loop(*c), *l);
}

static void client_free(struct loop *l, struct etcd_client *c)
{
	etcd_client_free(c);
	loop_free(l);
}

static void test_client_unreachable(void **state)
{
	/* Port 9 on loopback: nothing listens, connect is refused at once. */
	const char *eps[] = {"http://127.0.0.1:9", "http://127.0.0.1:9/"};
	struct etcd_config cfg = {.endpoints = eps, .n_endpoints = 2, .request_timeout_ms = 2000};
	struct etcd_client *c;
	struct outcome o = {0};
	struct loop *l;

	client_new(&cfg, &l, &c);
	assert_int_equal(etcd_get(c, "/k", record, &o), 0);
	pump(l, &o.calls, 1, 5000);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.r.err, ETCD_ECONNECT);
	assert_non_null(strstr(o.r.message, "127.0.0.1:9"));
	/* Both endpoints were tried before giving up. */
	assert_int_equal(etcd_client_requests(c), 2);
	client_free(l, c);
}

static void watch_closed(void *data, const struct etcd_watch_msg *msg)
{
	struct outcome *o = data;

	if (msg->kind != ETCD_WATCH_CLOSED)
		return;
	o->calls++;
	o->r.err = msg->err;
}

static void test_client_watch_unreachable(void **state)
{
	const char *eps[] = {"http://127.0.0.1:9"};
	struct etcd_config cfg = {.endpoints = eps, .n_endpoints = 1};
	struct etcd_watch *w = NULL, *w2 = NULL;
	struct etcd_client *c;
	struct outcome o = {0};
	struct loop *l;

	client_new(&cfg, &l, &c);
	assert_int_equal(etcd_watch_prefix(c, "/p/", 5, watch_closed, &o, &w), 0);
	assert_non_null(w);
	pump(l, &o.calls, 1, 5000);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.r.err, ETCD_ECONNECT);
	/* A cancelled watch never reports; the same wait saw the first one. */
	assert_int_equal(etcd_watch_prefix(c, "/p/", 0, watch_closed, &o, &w2), 0);
	etcd_watch_cancel(w2);
	pump(l, &o.calls, 2, 300);
	assert_int_equal(o.calls, 1);
	client_free(l, c);
}

/* A put and a watch to a server that takes the connection and never
 * answers, run for run_ms on the loop. */
static void pending_run(long timeout_ms, int run_ms, struct outcome *o, struct outcome *ow)
{
	struct fake_gateway g;
	const char *eps[1];
	struct etcd_config cfg = {
		.endpoints = eps, .n_endpoints = 1, .request_timeout_ms = timeout_ms};
	struct etcd_client *c;
	struct etcd_watch *w;
	struct loop *l;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(fake_gateway_silent(&g, l), 0);
	eps[0] = g.url;
	assert_int_equal(etcd_client_new(l, &cfg, &c), 0);
	assert_int_equal(etcd_put(c, "/k", "v", 0, record, o), 0);
	assert_int_equal(etcd_watch_prefix(c, "/p/", 0, watch_closed, ow, &w), 0);
	pump(l, &o->calls, 1, run_ms);
	etcd_client_free(c);
	/* Nothing of the client is left in the loop to call. */
	pump(l, &ow->calls, 1, 50);
	fake_gateway_stop(&g);
	loop_free(l);
}

static void test_client_pending_dropped(void **state)
{
	struct outcome o = {0}, ow = {0};

	/* Dispatched for a while, still pending: freeing drops them silently. */
	pending_run(0, 300, &o, &ow);
	assert_int_equal(o.calls, 0);
	assert_int_equal(ow.calls, 0);
}

static void test_client_pending_timeout(void **state)
{
	struct outcome o = {0}, ow = {0};

	/* The twin: the same wait sees the put end once it may time out. */
	pending_run(100, 3000, &o, &ow);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.r.err, ETCD_ETIMEDOUT);
	assert_int_equal(ow.calls, 0);
}

static void got_kv(void *data, const struct etcd_response *r)
{
	struct outcome *o = data;

	o->calls++;
	o->r.err = r->err;
	o->r.n_kvs = r->n_kvs;
	if (r->n_kvs == 1 && r->kvs[0].value_len < sizeof(o->r.message))
		memcpy(o->r.message, r->kvs[0].value, r->kvs[0].value_len + 1);
}

static void test_client_answer(void **state)
{
	/* "/k" = "v" at revision 9 ("L2s=" and "dg==" in base64). */
	static const char *const answers[] = {
		"{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"L2s=\","
		"\"value\":\"dg==\",\"mod_revision\":\"9\"}],\"count\":\"1\"}",
	};
	struct fake_gateway g;
	const char *eps[1];
	struct etcd_config cfg = {.endpoints = eps, .n_endpoints = 1};
	struct etcd_client *c;
	struct outcome o = {0};
	struct loop *l;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(fake_gateway_start(&g, l, answers, 1), 0);
	eps[0] = g.url;
	assert_int_equal(etcd_client_new(l, &cfg, &c), 0);
	assert_int_equal(etcd_get(c, "/k", got_kv, &o), 0);
	pump(l, &o.calls, 1, 3000);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.r.err, 0);
	assert_int_equal(o.r.n_kvs, 1);
	assert_string_equal(o.r.message, "v");
	assert_int_equal(g.n_reqs, 1);
	assert_non_null(strstr(g.bodies[0], "\"L2s=\""));
	etcd_client_free(c);
	fake_gateway_stop(&g);
	loop_free(l);
}

static void test_client_config_errors(void **state)
{
	const char *eps[] = {"http://127.0.0.1:9"};
	struct etcd_config none = {.endpoints = eps, .n_endpoints = 0};
	struct etcd_config half = {.endpoints = eps, .n_endpoints = 1, .username = "u"};
	struct etcd_client *c = NULL;
	struct loop *l;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(etcd_client_new(l, &none, &c), -EINVAL);
	assert_int_equal(etcd_client_new(l, &half, &c), -EINVAL);
	assert_null(c);
	etcd_client_free(NULL);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_client_unreachable),
		cmocka_unit_test(test_client_watch_unreachable),
		cmocka_unit_test(test_client_pending_dropped),
		cmocka_unit_test(test_client_pending_timeout),
		cmocka_unit_test(test_client_answer),
		cmocka_unit_test(test_client_config_errors),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
