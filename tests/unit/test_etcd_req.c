/* Transport-neutral etcd requests: the gateway JSON and the gRPC bytes made
 * from one description, the end of a unary gRPC call, and which transport a
 * configuration gets. */
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

#include "subnet/etcd.h"

#define B(s) ((struct etcd_pb_bytes){(s), sizeof(s) - 1})

static void assert_json(const struct etcd_request *rq, const char *path, const char *want)
{
	const char *p = NULL;
	char *text = etcd_req_json(rq, &p), compact[512];
	size_t n = 0;

	/* The expectations are spaced for reading; the wire is compact. */
	for (; *want && n + 1 < sizeof(compact); want++)
		if (*want != ' ')
			compact[n++] = *want;
	compact[n] = '\0';
	assert_non_null(text);
	assert_string_equal(p, path);
	assert_string_equal(text, compact);
	free(text);
}

static void test_json(void **state)
{
	struct etcd_pb_compare cmp = {.target = ETCD_PB_CMP_CREATE, .key = B("/a")};
	struct etcd_pb_op put = {.kind = ETCD_PB_OP_PUT,
				 .put = {.key = B("/a"), .value = B("v"), .lease = 7}};
	struct etcd_pb_op get = {.kind = ETCD_PB_OP_RANGE, .range = {.key = B("/a")}};
	struct etcd_request rq = {.op = ETCD_OP_RANGE, .range = {.key = B("/a")}};

	(void)state;
	assert_json(&rq, "/v3/kv/range", "{\"key\": \"L2E=\"}");
	rq.range.range_end = B("\0");
	rq.range.limit = 64;
	rq.range.revision = 9007199254740993LL; /* no double on the way */
	rq.range.keys_only = true;
	assert_json(&rq, "/v3/kv/range",
		    "{\"key\": \"L2E=\", \"range_end\": \"AA==\", \"limit\": 64, \"revision\": "
		    "\"9007199254740993\", \"keys_only\": true}");
	rq = (struct etcd_request){.op = ETCD_OP_PUT, .put = put.put};
	assert_json(&rq, "/v3/kv/put",
		    "{\"key\": \"L2E=\", \"value\": \"dg==\", \"lease\": \"7\"}");
	/* An empty value is still sent. */
	rq.put.value = (struct etcd_pb_bytes){0};
	rq.put.lease = 0;
	assert_json(&rq, "/v3/kv/put", "{\"key\": \"L2E=\", \"value\": \"\"}");
	rq = (struct etcd_request){.op = ETCD_OP_DELETE, .del = {.key = B("/a")}};
	assert_json(&rq, "/v3/kv/deleterange", "{\"key\": \"L2E=\"}");
	rq = (struct etcd_request){
		.op = ETCD_OP_TXN,
		.txn = {&cmp, 1, &put, &get, 1, 1},
	};
	/* create_revision 0 ("absent") is sent, and the target always. */
	assert_json(&rq, "/v3/kv/txn",
		    "{\"compare\": [{\"key\": \"L2E=\", \"target\": \"CREATE\", \"result\": "
		    "\"EQUAL\", \"create_revision\": \"0\"}], \"success\": [{\"request_put\": "
		    "{\"key\": \"L2E=\", \"value\": \"dg==\", \"lease\": \"7\"}}], \"failure\": "
		    "[{\"request_range\": {\"key\": \"L2E=\"}}]}");
	rq = (struct etcd_request){.op = ETCD_OP_GRANT, .ttl = 10};
	assert_json(&rq, "/v3/lease/grant", "{\"TTL\": \"10\"}");
	rq = (struct etcd_request){.op = ETCD_OP_KEEPALIVE, .id = -1};
	assert_json(&rq, "/v3/lease/keepalive", "{\"ID\": \"-1\"}");
	rq = (struct etcd_request){.op = ETCD_OP_REVOKE, .id = 5};
	assert_json(&rq, "/v3/lease/revoke", "{\"ID\": \"5\"}");
	rq = (struct etcd_request){.op = ETCD_OP_AUTH};
	{
		const char *p;

		assert_null(etcd_req_json(&rq, &p));
	}
}

static void test_watch_json(void **state)
{
	struct etcd_pb_watch_create wc = {.key = B("/p/"),
					  .range_end = B("/p0"),
					  .start_revision = 12,
					  .progress_notify = true};
	char *text = etcd_watch_create_json(&wc);

	(void)state;
	assert_non_null(text);
	assert_string_equal(text, "{\"create_request\":{\"key\":\"L3Av\",\"range_end\":"
				  "\"L3Aw\",\"start_revision\":\"12\",\"progress_notify\":"
				  "true}}");
	free(text);
}

/* The gRPC bytes are the codec's own encoders' bytes. */
static void test_pb(void **state)
{
	struct etcd_pb_compare cmp = {.target = ETCD_PB_CMP_MOD, .key = B("/a"), .revision = 3};
	struct etcd_pb_op del = {.kind = ETCD_PB_OP_DELETE, .del = {.key = B("/a")}};
	struct etcd_pb_op get = {.kind = ETCD_PB_OP_RANGE, .range = {.key = B("/a")}};
	struct etcd_request rq = {.op = ETCD_OP_TXN, .txn = {&cmp, 1, &del, &get, 1, 1}};
	struct etcd_pb_buf a = {0}, b = {0};
	static const uint8_t range[] = {0, 0, 0, 0, 4, 0x0a, 0x02, '/', 'a'};

	(void)state;
	assert_int_equal(etcd_req_pb(&a, &rq), 0);
	assert_int_equal(etcd_pb_encode_txn(&b, &rq.txn), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	etcd_pb_buf_free(&a);
	etcd_pb_buf_free(&b);
	rq = (struct etcd_request){.op = ETCD_OP_RANGE, .range = {.key = B("/a")}};
	assert_int_equal(etcd_req_pb(&a, &rq), 0);
	assert_int_equal(a.len, sizeof(range));
	assert_memory_equal(a.data, range, sizeof(range));
	etcd_pb_buf_free(&a);
	rq = (struct etcd_request){.op = ETCD_OP_KEEPALIVE, .id = 12345};
	assert_int_equal(etcd_req_pb(&a, &rq), 0);
	assert_int_equal(etcd_pb_encode_lease_keepalive(&b, 12345), 0);
	assert_memory_equal(a.data, b.data, b.len);
	etcd_pb_buf_free(&a);
	etcd_pb_buf_free(&b);
	rq = (struct etcd_request){.op = ETCD_OP_AUTH};
	assert_int_equal(etcd_req_pb(&a, &rq), -EINVAL);
	etcd_pb_buf_free(&a);
}

static void status(struct etcd_pb_status *s, int code, const char *msg)
{
	etcd_pb_status_init(s);
	s->status = code;
	snprintf(s->message, sizeof(s->message), "%s", msg);
}

/* A PutResponse with header.revision 9, framed. */
static const uint8_t PUT_OK[] = {0, 0, 0, 0, 4, 0x0a, 0x02, 0x18, 0x09};

static void test_unary_result(void **state)
{
	struct etcd_pb_status s;
	struct etcd_response r;
	uint8_t two[2 * sizeof(PUT_OK)];

	(void)state;
	status(&s, 0, "");
	assert_int_equal(etcd_pb_unary_result(ETCD_OP_PUT, &s, PUT_OK, sizeof(PUT_OK), &r), 0);
	assert_int_equal(r.revision, 9);
	etcd_response_clear(&r);
	/* Permission: both possible causes named. */
	status(&s, 7, "etcdserver: permission denied");
	assert_int_equal(etcd_pb_unary_result(ETCD_OP_RANGE, &s, NULL, 0, &r), ETCD_EAUTH);
	assert_int_equal(r.grpc_code, 7);
	assert_non_null(strstr(r.message, "etcdserver: permission denied (the client "
					  "certificate's Common Name names no etcd user"));
	status(&s, 14, "");
	assert_int_equal(etcd_pb_unary_result(ETCD_OP_RANGE, &s, NULL, 0, &r), ETCD_ESERVER);
	assert_string_equal(r.message, "grpc-status 14");
	/* No trailers at all, no message, a cut message, two messages. */
	etcd_pb_status_init(&s);
	assert_int_equal(etcd_pb_unary_result(ETCD_OP_PUT, &s, PUT_OK, sizeof(PUT_OK), &r),
			 ETCD_EPROTO);
	status(&s, 0, "");
	assert_int_equal(etcd_pb_unary_result(ETCD_OP_PUT, &s, NULL, 0, &r), ETCD_EPROTO);
	assert_string_equal(r.message, "no complete answer message");
	assert_int_equal(etcd_pb_unary_result(ETCD_OP_PUT, &s, PUT_OK, sizeof(PUT_OK) - 1, &r),
			 ETCD_EPROTO);
	memcpy(two, PUT_OK, sizeof(PUT_OK));
	memcpy(two + sizeof(PUT_OK), PUT_OK, sizeof(PUT_OK));
	assert_int_equal(etcd_pb_unary_result(ETCD_OP_PUT, &s, two, sizeof(two), &r), ETCD_EPROTO);
	assert_string_equal(r.message, "more than one answer message");
	/* A body that is no PutResponse. */
	assert_int_equal(etcd_pb_unary_result(ETCD_OP_PUT, &s, "\0\0\0\0\2\x0a\x05", 7, &r),
			 ETCD_EPROTO);
	etcd_response_clear(&r);
}

static void test_transport_choice(void **state)
{
	const char *https[] = {"https://a:2379", "HTTPS://b:2379"},
		   *mixed[] = {"https://a:2379", "http://b:2379"};
	struct etcd_config c = {
		.endpoints = https, .n_endpoints = 2, .certfile = "c", .keyfile = "k"};
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	(void)state;
	if (!(v->features & CURL_VERSION_HTTP2)) {
		c.transport = ETCD_TRANSPORT_GRPC;
		assert_int_equal(etcd_transport_choose(&c), -EPROTONOSUPPORT);
		skip();
	}
	/* Certificate, no user, all https: the Common Name is the user. */
	assert_int_equal(etcd_transport_choose(&c), ETCD_TRANSPORT_GRPC);
	c.endpoints = mixed;
	assert_int_equal(etcd_transport_choose(&c), ETCD_TRANSPORT_JSON);
	c.endpoints = https;
	c.username = "weft";
	c.password = "pw";
	assert_int_equal(etcd_transport_choose(&c), ETCD_TRANSPORT_JSON);
	c.transport = ETCD_TRANSPORT_GRPC;
	assert_int_equal(etcd_transport_choose(&c), -EINVAL);
	c.username = c.password = NULL;
	c.certfile = c.keyfile = NULL;
	assert_int_equal(etcd_transport_choose(&c), ETCD_TRANSPORT_GRPC);
	c.transport = ETCD_TRANSPORT_AUTO;
	assert_int_equal(etcd_transport_choose(&c), ETCD_TRANSPORT_JSON);
	c.certfile = "c";
	c.transport = ETCD_TRANSPORT_JSON;
	assert_int_equal(etcd_transport_choose(&c), ETCD_TRANSPORT_JSON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_watch_json),
		cmocka_unit_test(test_pb),
		cmocka_unit_test(test_unary_result),
		cmocka_unit_test(test_transport_choice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
