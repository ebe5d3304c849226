/* The etcd client over gRPC against a scripted HTTP/2 server (prior
 * knowledge, no TLS): unary calls and their trailer status, answers without
 * status or message, watch streams and how they end. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "fake_grpc.h"
#include "subnet/etcd.h"

/* Captured from etcd 3.4.23 (see test_etcd_pb.c). */
#define HDR_CAPTURED "0a190890c38ba1e48cfbeb93011097928ba8a1e784e53b18082002"
#define WATCH_EVENT                                                                                  \
	"0a190890c38ba1e48cfbeb93011097928ba8a1e784e53b180520025a1512130a072f776566742f771005180520" \
	"012a026576"
#define WATCH_DENIED                                                      \
	HDR_CAPTURED "10ffffffffffffffffff0118012001324772706320657272"   \
		     "6f723a20636f6465203d205065726d697373696f6e44656e69" \
		     "65642064657363203d20657463647365727665723a20706572" \
		     "6d697373696f6e2064656e696564"

struct outcome {
	int calls;
	struct etcd_response r;
};

static void record(void *data, const struct etcd_response *r)
{
	struct outcome *o = data;

	o->calls++;
	o->r = *r;
	o->r.kvs = NULL;
	o->r.n_kvs = r->n_kvs;
}

static void pump(struct loop *l, int *cond, int want)
{
	assert_int_equal(loop_pump(l, cond, want, 3000), 0);
	assert_int_equal(*cond, want);
}

static void setup(struct fake_grpc *g, const struct fgr_answer *a, size_t n, struct loop **l,
		  struct etcd_client **c)
{
	static const char *eps[1];
	struct etcd_config cfg = {
		.endpoints = eps, .n_endpoints = 1, .transport = ETCD_TRANSPORT_GRPC};
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	if (!(v->features & CURL_VERSION_HTTP2))
		skip();
	assert_int_equal(loop_new(l), 0);
	assert_int_equal(fake_grpc_start(g, *l, a, n), 0);
	eps[0] = g->url;
	assert_int_equal(etcd_client_new(*l, &cfg, c), 0);
	assert_string_equal(etcd_client_transport(*c), "grpc");
}

static void teardown(struct fake_grpc *g, struct loop *l, struct etcd_client *c)
{
	etcd_client_free(c);
	fake_grpc_stop(g);
	loop_free(l);
}

static void test_unary(void **state)
{
	static const struct fgr_answer a[] = {
		{{"0a02180b"}, 0, NULL, false}, /* PutResponse, revision 11 */
		{{NULL}, 7, "etcdserver: permission denied", false},
		{{HDR_CAPTURED "10a19abd8dffc5e88b49180a"}, 0, NULL, false}, /* grant */
		{{"0a02180b"}, FGR_NO_TRAILERS, NULL, false},
		{{NULL}, 0, NULL, false},
		{{NULL}, 14, "etcdserver: leader changed%21", false},
		{{NULL}, 7, NULL, true}, /* trailers-only */
	};
	struct etcd_request put = {.op = ETCD_OP_PUT,
				   .put = {.key = {"/k", 2}, .value = {"v", 1}, .lease = 3}};
	struct etcd_pb_buf want = {0};
	struct fake_grpc g;
	struct etcd_client *c;
	struct outcome o = {0};
	struct loop *l;

	(void)state;
	setup(&g, a, 7, &l, &c);
	assert_int_equal(etcd_put(c, "/k", "v", 3, record, &o), 0);
	pump(l, &o.calls, 1);
	assert_int_equal(o.r.err, 0);
	assert_int_equal(o.r.revision, 11);
	/* The body is the framed PutRequest. */
	assert_int_equal(etcd_req_pb(&want, &put), 0);
	assert_int_equal(g.body_len[0], want.len);
	assert_memory_equal(g.bodies[0], want.data, want.len);
	etcd_pb_buf_free(&want);
	assert_int_equal(etcd_get(c, "/other", record, &o), 0);
	pump(l, &o.calls, 2);
	assert_int_equal(o.r.err, ETCD_EAUTH);
	assert_int_equal(o.r.grpc_code, 7);
	assert_non_null(strstr(o.r.message, "Common Name"));
	assert_int_equal(etcd_lease_grant(c, 10, record, &o), 0);
	pump(l, &o.calls, 3);
	assert_int_equal(o.r.err, 0);
	assert_int_equal(o.r.lease_id, 5266856616035044641LL);
	assert_int_equal(o.r.ttl, 10);
	/* An answer without trailers, a status without an answer. */
	assert_int_equal(etcd_put(c, "/k", "v", 0, record, &o), 0);
	pump(l, &o.calls, 4);
	assert_int_equal(o.r.err, ETCD_EPROTO);
	assert_int_equal(etcd_put(c, "/k", "v", 0, record, &o), 0);
	pump(l, &o.calls, 5);
	assert_int_equal(o.r.err, ETCD_EPROTO);
	assert_int_equal(etcd_delete(c, "/k", record, &o), 0);
	pump(l, &o.calls, 6);
	assert_int_equal(o.r.err, ETCD_ESERVER);
	assert_int_equal(o.r.grpc_code, 14);
	assert_string_equal(o.r.message, "etcdserver: leader changed!");
	assert_int_equal(etcd_lease_keepalive(c, 1, record, &o), 0);
	pump(l, &o.calls, 7);
	assert_int_equal(o.r.err, ETCD_EAUTH);
	assert_non_null(strstr(o.r.message, "grpc-status 7"));
	assert_int_equal(etcd_client_requests(c), 7);
	teardown(&g, l, c);
}

struct wlog {
	int n, kinds[8], errs[8];
	char last_reason[256];
	struct etcd_client *c;
	struct outcome unary;
};

static void on_watch(void *data, const struct etcd_watch_msg *m)
{
	struct wlog *w = data;

	if (w->n < 8) {
		w->kinds[w->n] = m->kind;
		w->errs[w->n] = m->err;
	}
	w->n++;
	snprintf(w->last_reason, sizeof(w->last_reason), "%s", m->reason ? m->reason : "");
}

static void test_watch(void **state)
{
	static const struct fgr_answer a[] = {
		/* created, one event, then the stream ends with a status */
		{{HDR_CAPTURED "1801", WATCH_EVENT}, 7, "etcdserver: permission denied", false},
		/* created and left open while a unary call runs */
		{{HDR_CAPTURED "1801"}, FGR_KEEP_OPEN, NULL, false},
		{{"0a02180b"}, 0, NULL, false},
		/* refused at creation: canceled, ended by the client */
		{{WATCH_DENIED}, FGR_KEEP_OPEN, NULL, false},
	};
	struct fake_grpc g;
	struct etcd_client *c;
	struct etcd_watch *w;
	struct wlog log = {0}, log2 = {0}, log3 = {0};
	struct outcome o = {0};
	struct loop *l;

	(void)state;
	setup(&g, a, 4, &l, &c);
	assert_int_equal(etcd_watch_prefix(c, "/weft/", 5, on_watch, &log, &w), 0);
	pump(l, &log.n, 3);
	assert_int_equal(log.kinds[0], ETCD_WATCH_CREATED);
	assert_int_equal(log.kinds[1], ETCD_WATCH_EVENTS);
	assert_int_equal(log.kinds[2], ETCD_WATCH_CLOSED);
	assert_int_equal(log.errs[2], ETCD_EAUTH);
	assert_non_null(strstr(log.last_reason, "permission denied"));
	assert_true(g.body_len[0] > ETCD_PB_PREFIX);

	assert_int_equal(etcd_watch_prefix(c, "/weft/", 0, on_watch, &log2, &w), 0);
	pump(l, &log2.n, 1);
	assert_int_equal(log2.kinds[0], ETCD_WATCH_CREATED);
	assert_int_equal(etcd_put(c, "/weft/k", "v", 0, record, &o), 0);
	pump(l, &o.calls, 1);
	assert_int_equal(o.r.err, 0);
	etcd_watch_cancel(w);
	assert_int_equal(log2.n, 1);

	assert_int_equal(etcd_watch_prefix(c, "/other/", 0, on_watch, &log3, &w), 0);
	pump(l, &log3.n, 2);
	assert_int_equal(log3.kinds[0], ETCD_WATCH_CANCELED);
	assert_int_equal(log3.kinds[1], ETCD_WATCH_CLOSED);
	assert_int_equal(log3.errs[1], 0);
	teardown(&g, l, c);
}

static void test_config(void **state)
{
	const char *eps[] = {"https://a:2379"};
	struct etcd_config cfg = {.endpoints = eps,
				  .n_endpoints = 1,
				  .transport = ETCD_TRANSPORT_GRPC,
				  .username = "u",
				  .password = "p"};
	struct etcd_client *c = NULL;
	struct loop *l;

	(void)state;
	assert_int_equal(loop_new(&l), 0);
	/* gRPC takes no user name: the certificate names the user. */
	assert_int_equal(etcd_client_new(l, &cfg, &c), -EINVAL);
	assert_null(c);
	cfg.username = cfg.password = NULL;
	cfg.transport = ETCD_TRANSPORT_AUTO;
	assert_int_equal(etcd_client_new(l, &cfg, &c), 0);
	assert_string_equal(etcd_client_transport(c), "json");
	etcd_client_free(c);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unary),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
