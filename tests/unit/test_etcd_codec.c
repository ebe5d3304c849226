/* The etcd JSON gateway codec, no etcd and no client: base64, prefix
 * ranges, answer parsing (shapes captured from etcd 3.4's gateway) and watch
 * stream framing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/util.h"
#include "subnet/etcd.h"

static void test_b64_vectors(void **state)
{
	static const struct {
		const char *plain, *enc;
	} v[] = {
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"/coreos.com/network/subnets/", "L2NvcmVvcy5jb20vbmV0d29yay9zdWJuZXRzLw=="},
		{"/coreos.com/network/subnets0", "L2NvcmVvcy5jb20vbmV0d29yay9zdWJuZXRzMA=="},
		{"\xfb\xff", "+/8="},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *e = etcd_b64_encode(v[i].plain, strlen(v[i].plain)), *d = NULL;
		size_t n = 99;

		assert_non_null(e);
		assert_string_equal(e, v[i].enc);
		assert_int_equal(etcd_b64_decode(e, strlen(e), &d, &n), 0);
		assert_int_equal(n, strlen(v[i].plain));
		assert_memory_equal(d, v[i].plain, n);
		free(e);
		free(d);
	}
}

static void test_b64_binary_roundtrip(void **state)
{
	unsigned char buf[256];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(255 - i);
	for (size_t len = 0; len <= sizeof(buf); len += 7) {
		char *e = etcd_b64_encode(buf, len), *d;
		size_t n;

		assert_int_equal(etcd_b64_decode(e, strlen(e), &d, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(d, buf, len);
		free(e);
		free(d);
	}
}

static void test_b64_rejects(void **state)
{
	static const char *bad[] = {
		"Zm8", "Zm9v_", "Pz8_", "Pz8-", "Z===", "=m9v", "Zm=v", "Zm9v\n", "Zg==Zg=="};
	char *d = (char *)0x1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(etcd_b64_decode(bad[i], strlen(bad[i]), &d, NULL), -EINVAL);
	assert_ptr_equal(d, (char *)0x1);
}

static void test_prefix_end(void **state)
{
	char *end;
	size_t n;

	assert_int_equal(etcd_prefix_end("/coreos.com/network/subnets/", &end, &n), 0);
	assert_int_equal(n, strlen("/coreos.com/network/subnets0"));
	assert_string_equal(end, "/coreos.com/network/subnets0");
	free(end);
	assert_int_equal(etcd_prefix_end("a\xff\xff", &end, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(end, "b");
	free(end);
	assert_int_equal(etcd_prefix_end("\xff\xff", &end, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(end[0], '\0');
	free(end);
}

/* ---------------------------------------------------------------- answers */

static void parse(enum etcd_op op, long http, const char *body, struct etcd_response *r)
{
	memset(r, 0, sizeof(*r));
	etcd_parse_response(op, http, body, body ? strlen(body) : 0, r, NULL);
}

static void test_parse_range(void **state)
{
	struct etcd_response r;

	parse(ETCD_OP_RANGE, 200,
	      "{\"header\":{\"cluster_id\":\"324952591200643719\",\"member_id\":\"3319814642761637952\","
	      "\"revision\":\"843\",\"raft_term\":\"2\"},\"kvs\":[{\"key\":"
	      "\"L2NvcmVvcy5jb20vbmV0d29yay9zdWJuZXRzLzEwLjUuMzQuMC0yNA==\",\"create_revision\":\"2\","
	      "\"mod_revision\":\"842\",\"version\":\"3\",\"value\":"
	      "\"eyJQdWJsaWNJUCI6IjE5Mi4xNjguMS4xMCIsIkJhY2tlbmRUeXBlIjoidnhsYW4ifQ==\",\"lease\":"
	      "\"2324035551099160120\"},{\"key\":\"L2E=\",\"value\":\"\",\"mod_revision\":\"9\"}],"
	      "\"count\":\"2\"}",
	      &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.revision, 843);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.n_kvs, 2);
	assert_string_equal(r.kvs[0].key, "/coreos.com/network/subnets/10.5.34.0-24");
	assert_string_equal(r.kvs[0].value,
			    "{\"PublicIP\":\"192.168.1.10\",\"BackendType\":\"vxlan\"}");
	/* Beyond 2^53: must not have gone through a double. */
	assert_true(r.kvs[0].lease == 2324035551099160120LL);
	assert_int_equal(r.kvs[0].create_revision, 2);
	assert_int_equal(r.kvs[0].mod_revision, 842);
	assert_int_equal(r.kvs[0].version, 3);
	assert_string_equal(r.kvs[1].key, "/a");
	assert_int_equal(r.kvs[1].value_len, 0);
	assert_int_equal(r.kvs[1].lease, 0); /* omitted when zero */
	etcd_response_clear(&r);

	/* No match: kvs and count are simply absent. */
	parse(ETCD_OP_RANGE, 200, "{\"header\":{\"revision\":\"5\"}}", &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n_kvs, 0);
	assert_int_equal(r.revision, 5);
	etcd_response_clear(&r);

	/* Numbers instead of strings are accepted too. */
	parse(ETCD_OP_RANGE, 200, "{\"header\":{\"revision\":77}}", &r);
	assert_int_equal(r.revision, 77);
	etcd_response_clear(&r);

	/* A kv with undecodable base64 is a protocol error, not a crash. */
	parse(ETCD_OP_RANGE, 200, "{\"header\":{},\"kvs\":[{\"key\":\"Zm8\"}]}", &r);
	assert_int_equal(r.err, ETCD_EPROTO);
	etcd_response_clear(&r);
}

static void test_parse_txn(void **state)
{
	struct etcd_response r;

	parse(ETCD_OP_TXN, 200,
	      "{\"header\":{\"revision\":\"8\"},\"succeeded\":true,\"responses\":[{\"response_put\":"
	      "{\"header\":{\"revision\":\"8\"}}}]}",
	      &r);
	assert_int_equal(r.err, 0);
	assert_true(r.succeeded);
	assert_int_equal(r.revision, 8);
	assert_int_equal(r.n_kvs, 0);
	etcd_response_clear(&r);

	/* Failed compare: no "succeeded" at all, the failure range's kvs. */
	parse(ETCD_OP_TXN, 200,
	      "{\"header\":{\"revision\":\"8\"},\"responses\":[{\"response_range\":{\"header\":"
	      "{\"revision\":\"8\"},\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"8\","
	      "\"mod_revision\":\"8\",\"version\":\"1\",\"value\":\"YmFy\"}],\"count\":\"1\"}}]}",
	      &r);
	assert_int_equal(r.err, 0);
	assert_false(r.succeeded);
	assert_int_equal(r.n_kvs, 1);
	assert_string_equal(r.kvs[0].key, "foo");
	assert_string_equal(r.kvs[0].value, "bar");
	assert_int_equal(r.kvs[0].mod_revision, 8);
	etcd_response_clear(&r);

	/* Failed compare on a key that is gone: empty range. */
	parse(ETCD_OP_TXN, 200,
	      "{\"header\":{\"revision\":\"9\"},\"responses\":[{\"response_range\":{\"header\":"
	      "{\"revision\":\"9\"}}}]}",
	      &r);
	assert_false(r.succeeded);
	assert_int_equal(r.n_kvs, 0);
	etcd_response_clear(&r);

	parse(ETCD_OP_TXN, 200,
	      "{\"header\":{\"revision\":\"12\"},\"succeeded\":true,\"responses\":[{"
	      "\"response_delete_range\":{\"header\":{},\"deleted\":\"1\"}}]}",
	      &r);
	assert_true(r.succeeded);
	assert_int_equal(r.deleted, 1);
	etcd_response_clear(&r);
}

static void test_parse_lease(void **state)
{
	struct etcd_response r;

	parse(ETCD_OP_GRANT, 200,
	      "{\"header\":{\"revision\":\"12\"},\"ID\":\"2324035551043144230\",\"TTL\":\"30\"}",
	      &r);
	assert_int_equal(r.err, 0);
	assert_true(r.lease_id == 2324035551043144230LL);
	assert_int_equal(r.ttl, 30);
	etcd_response_clear(&r);

	parse(ETCD_OP_KEEPALIVE, 200,
	      "{\"result\":{\"header\":{\"revision\":\"13\"},\"ID\":\"2324035551043144230\","
	      "\"TTL\":\"30\"}}\n",
	      &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ttl, 30);
	assert_int_equal(r.revision, 13);
	etcd_response_clear(&r);

	/* Lost lease: HTTP 200 and no TTL at all. */
	parse(ETCD_OP_KEEPALIVE, 200,
	      "{\"result\":{\"header\":{\"revision\":\"13\"},\"ID\":\"12345\"}}\n", &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.ttl, 0);
	assert_int_equal(r.lease_id, 12345);
	etcd_response_clear(&r);

	/* Two request objects in one body: the first answer counts. */
	parse(ETCD_OP_KEEPALIVE, 200,
	      "{\"result\":{\"ID\":\"1\",\"TTL\":\"9\"}}\n{\"result\":{\"ID\":\"1\",\"TTL\":\"8\"}}\n",
	      &r);
	assert_int_equal(r.ttl, 9);
	etcd_response_clear(&r);

	/* In-band stream error. */
	parse(ETCD_OP_KEEPALIVE, 200,
	      "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"transport is closing\","
	      "\"http_status\":\"Service Unavailable\"}}",
	      &r);
	assert_int_equal(r.err, ETCD_ESERVER);
	assert_int_equal(r.grpc_code, 14);
	assert_string_equal(r.message, "transport is closing");
	etcd_response_clear(&r);
}

static void test_parse_errors(void **state)
{
	struct etcd_response r;

	parse(ETCD_OP_REVOKE, 404,
	      "{\"error\":\"etcdserver: requested lease not found\",\"message\":\"etcdserver: "
	      "requested lease not found\",\"code\":5}",
	      &r);
	assert_int_equal(r.err, ETCD_ESERVER);
	assert_int_equal(r.grpc_code, 5);
	assert_int_equal(r.http_status, 404);
	assert_string_equal(r.message, "etcdserver: requested lease not found");
	etcd_response_clear(&r);

	parse(ETCD_OP_PUT, 401,
	      "{\"error\":\"etcdserver: invalid auth token\",\"message\":\"etcdserver: invalid auth "
	      "token\",\"code\":16}",
	      &r);
	assert_int_equal(r.err, ETCD_EAUTH);
	assert_int_equal(r.grpc_code, 16);
	etcd_response_clear(&r);

	parse(ETCD_OP_PUT, 403, "{\"error\":\"etcdserver: permission denied\",\"code\":7}", &r);
	assert_int_equal(r.err, ETCD_EAUTH);
	etcd_response_clear(&r);

	/* Plain-text bodies (unknown path, wrong method, gateway CN error). */
	parse(ETCD_OP_RANGE, 404, "404 page not found\n", &r);
	assert_int_equal(r.err, ETCD_ESERVER);
	assert_string_equal(r.message, "404 page not found ");
	etcd_response_clear(&r);

	parse(ETCD_OP_RANGE, 503, NULL, &r);
	assert_int_equal(r.err, ETCD_ESERVER);
	assert_string_equal(r.message, "HTTP status 503");
	etcd_response_clear(&r);
}

/* Answers that mean a setup error, bodies that are no answer, tokens. */
static void test_parse_setup_errors(void **state)
{
	struct etcd_response r;
	char *token = NULL;

	/* Authentication on, but the request names no user (etcd 3.4.23's
	 * answers, captured): setup errors, not server trouble. */
	parse(ETCD_OP_RANGE, 400,
	      "CommonName of client sending a request against gateway will be ignored and not "
	      "used as expected\n",
	      &r);
	assert_int_equal(r.err, ETCD_EAUTH);
	assert_non_null(strstr(r.message, "without a Common Name"));
	etcd_response_clear(&r);
	parse(ETCD_OP_RANGE, 400,
	      "{\"error\":\"etcdserver: user name is empty\",\"message\":\"etcdserver: user name "
	      "is empty\",\"code\":3}",
	      &r);
	assert_int_equal(r.err, ETCD_EAUTH);
	assert_string_equal(r.message, "etcdserver: user name is empty");
	etcd_response_clear(&r);
	/* Another bad request stays a server error. */
	parse(ETCD_OP_RANGE, 400, "{\"error\":\"illegal base64 data at input byte 0\",\"code\":3}",
	      &r);
	assert_int_equal(r.err, ETCD_ESERVER);
	etcd_response_clear(&r);

	/* 200 with something that is not JSON. */
	parse(ETCD_OP_RANGE, 200, "<html>", &r);
	assert_int_equal(r.err, ETCD_EPROTO);
	etcd_response_clear(&r);
	parse(ETCD_OP_RANGE, 200, "[1,2]", &r);
	assert_int_equal(r.err, ETCD_EPROTO);
	etcd_response_clear(&r);

	memset(&r, 0, sizeof(r));
	etcd_parse_response(ETCD_OP_AUTH, 200, "{\"header\":{},\"token\":\"rmIGfZlFxyDspecX.15\"}",
			    strlen("{\"header\":{},\"token\":\"rmIGfZlFxyDspecX.15\"}"), &r,
			    &token);
	assert_int_equal(r.err, 0);
	assert_string_equal(token, "rmIGfZlFxyDspecX.15");
	free(token);
	token = NULL;
	parse(ETCD_OP_AUTH, 200, "{\"header\":{}}", &r);
	assert_int_equal(r.err, ETCD_EPROTO);
	etcd_response_clear(&r);

	/* A huge message is cut, never overflowed. */
	{
		char body[1024];

		memset(body, 'x', sizeof(body) - 1);
		body[sizeof(body) - 1] = '\0';
		parse(ETCD_OP_PUT, 500, body, &r);
		assert_int_equal(strlen(r.message), sizeof(r.message) - 1);
		etcd_response_clear(&r);
	}
}

/* ------------------------------------------------------------ watch stream */

struct seen {
	int n;
	enum etcd_watch_kind kind[16];
	int64_t rev[16];
	size_t n_events[16];
	char first_key[16][64];
	enum etcd_event_type first_type[16];
	char reason[16][64];
};

static void collect(void *data, const struct etcd_watch_msg *msg)
{
	struct seen *s = data;

	assert_true(s->n < 16);
	s->kind[s->n] = msg->kind;
	s->rev[s->n] = msg->kind == ETCD_WATCH_COMPACTED ? msg->compact_revision : msg->revision;
	s->n_events[s->n] = msg->n_events;
	if (msg->n_events) {
		snprintf(s->first_key[s->n], 64, "%s", msg->events[0].kv->key);
		s->first_type[s->n] = msg->events[0].type;
	}
	if (msg->reason)
		snprintf(s->reason[s->n], 64, "%s", msg->reason);
	s->n++;
}

/* A captured stream: created, PUT (no type), DELETE, two events in one
 * message, progress, compaction cancel, then the shutdown error that has no
 * trailing newline. */
static const char stream[] =
	"{\"result\":{\"header\":{\"cluster_id\":\"1\",\"revision\":\"21\",\"raft_term\":\"2\"},"
	"\"created\":true}}\n"
	"{\"result\":{\"header\":{\"revision\":\"22\"},\"events\":[{\"kv\":{\"key\":"
	"\"L2NvcmVvcy5jb20vbmV0d29yay9zdWJuZXRzLzEwLjUuNTAuMC0yNA==\",\"create_revision\":\"22\","
	"\"mod_revision\":\"22\",\"version\":\"1\",\"value\":\"eyJQdWJsaWNJUCI6IjE5Mi4xNjguMS41MCJ9\"}}]}}\n"
	"{\"result\":{\"header\":{\"revision\":\"24\"},\"events\":[{\"type\":\"DELETE\",\"kv\":{"
	"\"key\":\"L2E=\",\"mod_revision\":\"24\"}}]}}\n"
	"{\"result\":{\"header\":{\"revision\":\"25\"},\"events\":[{\"kv\":{\"key\":\"L2E=\","
	"\"value\":\"MQ==\",\"mod_revision\":\"25\"}},{\"kv\":{\"key\":\"L2I=\",\"value\":\"Mg==\","
	"\"mod_revision\":\"25\"}}]}}\r\n"
	"{\"result\":{\"header\":{\"revision\":\"30\"}}}\n"
	"\n"
	"{\"result\":{\"header\":{\"cluster_id\":\"1\"},\"canceled\":true,\"compact_revision\":\"25\"}}\n"
	"{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"transport is closing\","
	"\"http_status\":\"Service Unavailable\"}}";

static void check_stream(const struct seen *s)
{
	assert_int_equal(s->n, 7);
	assert_int_equal(s->kind[0], ETCD_WATCH_CREATED);
	assert_int_equal(s->rev[0], 21);
	assert_int_equal(s->kind[1], ETCD_WATCH_EVENTS);
	assert_int_equal(s->n_events[1], 1);
	assert_int_equal(s->first_type[1], ETCD_EVENT_PUT);
	assert_string_equal(s->first_key[1], "/coreos.com/network/subnets/10.5.50.0-24");
	assert_int_equal(s->kind[2], ETCD_WATCH_EVENTS);
	assert_int_equal(s->first_type[2], ETCD_EVENT_DELETE);
	assert_string_equal(s->first_key[2], "/a");
	assert_int_equal(s->n_events[3], 2);
	assert_int_equal(s->kind[4], ETCD_WATCH_PROGRESS);
	assert_int_equal(s->rev[4], 30);
	assert_int_equal(s->kind[5], ETCD_WATCH_COMPACTED);
	assert_int_equal(s->rev[5], 25);
	assert_int_equal(s->kind[6], ETCD_WATCH_ERROR);
	assert_string_equal(s->reason[6], "transport is closing");
}

static void test_watch_framing_whole(void **state)
{
	struct etcd_watch_parser p;
	struct seen s = {0};

	etcd_watch_parser_init(&p, collect, &s);
	assert_int_equal(etcd_watch_parser_feed(&p, stream, strlen(stream)), 0);
	/* The last object has no newline: only the end of transfer yields it. */
	assert_int_equal(s.n, 6);
	etcd_watch_parser_finish(&p);
	check_stream(&s);
	etcd_watch_parser_clear(&p);
}

static void test_watch_framing_split(void **state)
{
	/* Every chunk size, including one byte at a time. */
	for (size_t step = 1; step < 64; step += (step < 8 ? 1 : 13)) {
		struct etcd_watch_parser p;
		struct seen s = {0};

		etcd_watch_parser_init(&p, collect, &s);
		for (size_t off = 0; off < strlen(stream); off += step) {
			size_t n = strlen(stream) - off < step ? strlen(stream) - off : step;

			assert_int_equal(etcd_watch_parser_feed(&p, stream + off, n), 0);
		}
		etcd_watch_parser_finish(&p);
		check_stream(&s);
		etcd_watch_parser_clear(&p);
	}
}

static void test_watch_bad_lines(void **state)
{
	static const char junk[] =
		"not json\n{\"result\":{\"events\":[{\"type\":\"BOGUS\",\"kv\":{"
		"\"key\":\"L2E=\"}}]}}\n{\"result\":{\"events\":[{\"kv\":{"
		"\"key\":\"!!\"}}]}}\n"
		"{\"result\":{\"watch_id\":\"-1\",\"created\":true,\"canceled\":"
		"true,\"cancel_reason\":\"rpc error: code = Unauthenticated\"}}\n";
	struct etcd_watch_parser p;
	struct seen s = {0};

	etcd_watch_parser_init(&p, collect, &s);
	assert_int_equal(etcd_watch_parser_feed(&p, junk, strlen(junk)), 0);
	etcd_watch_parser_finish(&p);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.kind[0], ETCD_WATCH_ERROR);
	assert_int_equal(s.kind[1], ETCD_WATCH_ERROR);
	assert_int_equal(s.kind[2], ETCD_WATCH_ERROR);
	/* Canceled wins over created (auth failures look like this). */
	assert_int_equal(s.kind[3], ETCD_WATCH_CANCELED);
	assert_string_equal(s.reason[3], "rpc error: code = Unauthenticated");
	etcd_watch_parser_clear(&p);
}

static void test_watch_line_limit(void **state)
{
	struct etcd_watch_parser p;
	struct seen s = {0};
	char *big = malloc(1 << 20);
	int ret = 0;

	memset(big, 'x', 1 << 20);
	etcd_watch_parser_init(&p, collect, &s);
	for (int i = 0; i < 9 && ret == 0; i++)
		ret = etcd_watch_parser_feed(&p, big, 1 << 20);
	assert_int_equal(ret, -E2BIG);
	assert_int_equal(s.n, 0);
	etcd_watch_parser_clear(&p);
	free(big);
}

/* ------------------------------------------------- client without a server */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_vectors),
		cmocka_unit_test(test_b64_binary_roundtrip),
		cmocka_unit_test(test_b64_rejects),
		cmocka_unit_test(test_prefix_end),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_txn),
		cmocka_unit_test(test_parse_lease),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_setup_errors),
		cmocka_unit_test(test_watch_framing_whole),
		cmocka_unit_test(test_watch_framing_split),
		cmocka_unit_test(test_watch_bad_lines),
		cmocka_unit_test(test_watch_line_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
