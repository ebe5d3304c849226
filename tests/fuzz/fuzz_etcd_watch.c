/* The etcd watch stream: newline-framed JSON objects whose chunk borders
 * mean nothing. The messages handed to the lease manager must be the same
 * however the bytes are cut into chunks, and each must be well formed. */
#include "tests/fuzz/fuzz.h"

#include "subnet/etcd_codec.h"

struct record {
	FILE *f;
	char *text;
	size_t len;
	unsigned n;
};

static void on_msg(void *data, const struct etcd_watch_msg *m)
{
	struct record *r = data;

	FUZZ_CHECK(m->kind >= ETCD_WATCH_CREATED && m->kind <= ETCD_WATCH_ERROR);
	FUZZ_CHECK(m->reason != NULL);
	FUZZ_CHECK(m->kind != ETCD_WATCH_EVENTS || (m->n_events > 0 && m->events));
	FUZZ_CHECK(m->kind == ETCD_WATCH_EVENTS || m->n_events == 0);
	FUZZ_CHECK(m->kind != ETCD_WATCH_COMPACTED || m->compact_revision != 0);
	fprintf(r->f, "%d %lld %lld %zu [%s]", (int)m->kind, (long long)m->revision,
		(long long)m->compact_revision, m->n_events, m->reason);
	for (size_t i = 0; i < m->n_events; i++) {
		const struct etcd_event *ev = &m->events[i];

		FUZZ_CHECK(ev->type == ETCD_EVENT_PUT || ev->type == ETCD_EVENT_DELETE);
		FUZZ_CHECK(ev->kv && ev->kv->key && ev->kv->key[ev->kv->key_len] == '\0');
		FUZZ_CHECK(ev->kv->value && ev->kv->value[ev->kv->value_len] == '\0');
		fprintf(r->f, " %d %lld %zu:", (int)ev->type, (long long)ev->kv->mod_revision,
			ev->kv->key_len);
		fwrite(ev->kv->key, 1, ev->kv->key_len, r->f);
		fprintf(r->f, " %zu:", ev->kv->value_len);
		fwrite(ev->kv->value, 1, ev->kv->value_len, r->f);
	}
	fputc('\n', r->f);
	r->n++;
}

/* Feeds data in chunks of 1..64 bytes (0: all at once) and records every
 * message the parser delivers. */
static void run(const uint8_t *data, size_t size, uint32_t seed, struct record *r)
{
	struct etcd_watch_parser p;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	r->f = open_memstream(&r->text, &r->len);
	FUZZ_CHECK(r->f != NULL);
	etcd_watch_parser_init(&p, on_msg, r);
	while (off < size) {
		size_t n = size - off;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			if (n > 1 + (seed >> 16) % 64)
				n = 1 + (seed >> 16) % 64;
		}
		FUZZ_CHECK(etcd_watch_parser_feed(&p, (const char *)data + off, n) == 0);
		off += n;
	}
	etcd_watch_parser_finish(&p);
	FUZZ_CHECK(p.len == 0);
	etcd_watch_parser_clear(&p);
	fclose(r->f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record whole, chunked;
	struct etcd_watch_msg msg;
	char reason[256];

	run(data, size, 0, &whole);
	run(data, size, (uint32_t)size | 1, &chunked);
	FUZZ_CHECK(whole.n == chunked.n && whole.len == chunked.len);
	FUZZ_CHECK(memcmp(whole.text, chunked.text, whole.len) == 0);
	free(whole.text);
	free(chunked.text);

	/* One object on its own, as the framing hands it over. */
	if (etcd_watch_parse_line((const char *)data, size, &msg, reason, sizeof(reason)) == 0)
		FUZZ_CHECK(msg.kind != ETCD_WATCH_ERROR || reason[0] != '\0');
	FUZZ_CHECK(msg.reason == reason && strlen(reason) < sizeof(reason));
	etcd_watch_msg_clear(&msg);
	return 0;
}
