/* The etcd gRPC codec: input byte 0 picks the call, the rest is what etcd
 * would send on the stream (gRPC-framed protobuf). The decoded answers must
 * be the same whether the stream arrives whole or in 1..64-byte chunks,
 * and everything decoded must be well formed. The bytes also go through the
 * trailer parser as a header line. */
#include "tests/fuzz/fuzz.h"

#include "subnet/etcd_pb.h"

#define MSG_MAX (64u << 10)

struct record {
	FILE *f;
	char *text;
	size_t len;
	enum etcd_op op;
};

static void check_kv(const struct etcd_kv *kv)
{
	FUZZ_CHECK(kv && kv->key && kv->value);
	FUZZ_CHECK(kv->key_len > 0 && kv->key[kv->key_len] == '\0');
	FUZZ_CHECK(kv->value[kv->value_len] == '\0');
}

static void record_kv(FILE *f, const struct etcd_kv *kv)
{
	fprintf(f, " %zu:", kv->key_len);
	fwrite(kv->key, 1, kv->key_len, f);
	fprintf(f, " %zu:", kv->value_len);
	fwrite(kv->value, 1, kv->value_len, f);
	fprintf(f, " %lld %lld %lld %lld", (long long)kv->create_revision,
		(long long)kv->mod_revision, (long long)kv->version, (long long)kv->lease);
}

static void one_response(struct record *r, const uint8_t *msg, size_t len)
{
	struct etcd_response out;
	struct etcd_pb_header h;
	int ret = etcd_pb_parse_response(r->op, msg, len, &out, &h);

	FUZZ_CHECK(ret == 0 || ret == -EPROTO || ret == -ENOMEM);
	FUZZ_CHECK(ret == 0 || (out.err && out.n_kvs == 0 && out.kvs == NULL));
	FUZZ_CHECK(!out.err || out.message[0] != '\0');
	FUZZ_CHECK(strlen(out.message) < sizeof(out.message));
	FUZZ_CHECK(out.ttl >= 0 || r->op != ETCD_OP_KEEPALIVE);
	FUZZ_CHECK(ret < 0 || out.revision == h.revision);
	fprintf(r->f, "R %d %d %lld %zu %d %lld %lld", ret, out.err, (long long)out.revision,
		out.n_kvs, out.succeeded, (long long)out.lease_id, (long long)out.ttl);
	for (size_t i = 0; i < out.n_kvs; i++) {
		check_kv(&out.kvs[i]);
		record_kv(r->f, &out.kvs[i]);
	}
	fputc('\n', r->f);
	etcd_response_clear(&out);
}

static void one_watch(struct record *r, const uint8_t *msg, size_t len)
{
	struct etcd_watch_msg m;
	char reason[64];
	int64_t id = 0;
	int ret = etcd_pb_parse_watch(msg, len, &m, &id, reason, sizeof(reason));

	FUZZ_CHECK(m.reason == reason && strlen(reason) < sizeof(reason));
	FUZZ_CHECK(ret == 0 || m.kind == ETCD_WATCH_ERROR);
	FUZZ_CHECK(m.kind >= ETCD_WATCH_CREATED && m.kind <= ETCD_WATCH_ERROR);
	FUZZ_CHECK(m.kind != ETCD_WATCH_EVENTS || (m.n_events > 0 && m.events));
	FUZZ_CHECK(m.kind == ETCD_WATCH_EVENTS || m.n_events == 0);
	FUZZ_CHECK(m.kind != ETCD_WATCH_COMPACTED || m.compact_revision != 0);
	FUZZ_CHECK(m.kind != ETCD_WATCH_CANCELED || reason[0] != '\0');
	fprintf(r->f, "W %d %d %lld %lld [%s]", ret, (int)m.kind, (long long)m.revision,
		(long long)id, reason);
	for (size_t i = 0; i < m.n_events; i++) {
		FUZZ_CHECK(m.events[i].type == ETCD_EVENT_PUT ||
			   m.events[i].type == ETCD_EVENT_DELETE);
		check_kv(m.events[i].kv);
		record_kv(r->f, m.events[i].kv);
	}
	fputc('\n', r->f);
	etcd_watch_msg_clear(&m);
}

static int on_msg(void *data, const uint8_t *msg, size_t len)
{
	struct record *r = data;
	/* A heap copy of exactly len bytes, so a read past the end shows. */
	uint8_t *copy = malloc(len ? len : 1);

	FUZZ_CHECK(copy != NULL && len <= MSG_MAX);
	memcpy(copy, msg, len);
	one_response(r, copy, len);
	one_watch(r, copy, len);
	free(copy);
	return 0;
}

static void run(const uint8_t *data, size_t size, uint32_t seed, struct record *r)
{
	struct etcd_pb_reader rd;
	size_t off = 0;
	int ret = 0;

	r->f = open_memstream(&r->text, &r->len);
	FUZZ_CHECK(r->f != NULL);
	etcd_pb_reader_init(&rd, MSG_MAX);
	while (off < size && !ret) {
		size_t n = size - off;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			if (n > 1 + (seed >> 16) % 64)
				n = 1 + (seed >> 16) % 64;
		}
		ret = etcd_pb_reader_feed(&rd, data + off, n, on_msg, r);
		off += n;
	}
	FUZZ_CHECK(ret == 0 || ret == -EMSGSIZE || ret == -EPROTO);
	fprintf(r->f, "end %d %d\n", ret, etcd_pb_reader_partial(&rd));
	etcd_pb_reader_clear(&rd);
	fclose(r->f);
}

static void status_line(const uint8_t *data, size_t size)
{
	struct etcd_pb_status s;
	struct etcd_response out = {0};
	char *line = fuzz_cstr(data, size);
	int ret;

	etcd_pb_status_init(&s);
	ret = etcd_pb_status_header(&s, line, size);
	FUZZ_CHECK(ret == 0 || ret == 1 || ret == -EPROTO);
	FUZZ_CHECK(s.status >= -1 && s.status <= 16);
	FUZZ_CHECK(strlen(s.message) < sizeof(s.message));
	for (const char *p = s.message; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	etcd_pb_status_apply(&s, &out);
	FUZZ_CHECK((s.status == 0) == (out.err == 0));
	FUZZ_CHECK(!out.err || out.message[0] != '\0');
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum etcd_op ops[] = {ETCD_OP_RANGE, ETCD_OP_PUT,	 ETCD_OP_DELETE,
					   ETCD_OP_TXN,	  ETCD_OP_GRANT, ETCD_OP_KEEPALIVE,
					   ETCD_OP_REVOKE};
	struct record whole = {0}, chunked = {0};

	if (!size)
		return 0;
	whole.op = chunked.op = ops[data[0] % (sizeof(ops) / sizeof(ops[0]))];
	run(data + 1, size - 1, 0, &whole);
	run(data + 1, size - 1, (uint32_t)size | 1, &chunked);
	FUZZ_CHECK(whole.len == chunked.len && memcmp(whole.text, chunked.text, whole.len) == 0);
	free(whole.text);
	free(chunked.text);

	/* The same bytes as one unframed message, and as a trailer line. */
	if (size - 1 <= MSG_MAX) {
		struct record raw = {.op = whole.op};

		raw.f = open_memstream(&raw.text, &raw.len);
		FUZZ_CHECK(raw.f != NULL);
		on_msg(&raw, data + 1, size - 1);
		fclose(raw.f);
		free(raw.text);
	}
	status_line(data + 1, size - 1);
	return 0;
}
