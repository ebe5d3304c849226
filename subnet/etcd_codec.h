/* etcd v3 gateway codec: what goes over the wire and back, without I/O
 * (jansson only, so parsers and their fuzzers link without libcurl).
 *
 * Gateway quirks handled here: bytes fields are padded standard base64,
 * int64 fields arrive as JSON strings, zero/false fields are omitted, a
 * keepalive on a lost lease answers 200 without TTL (reported as ttl 0).
 */
#ifndef WEFT_ETCD_CODEC_H
#define WEFT_ETCD_CODEC_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etcd_kv {
	char *key; /* decoded, NUL-terminated */
	size_t key_len;
	char *value; /* decoded, NUL-terminated (values are JSON text here) */
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
};

/* Transport or server failure kinds in etcd_response.err (negative errno). */
#define ETCD_ECONNECT  (-ECONNREFUSED) /* could not reach any endpoint */
#define ETCD_ETIMEDOUT (-ETIMEDOUT)
#define ETCD_ETLS      (-EKEYREJECTED) /* TLS setup or verification failed */
#define ETCD_EAUTH     (-EACCES)       /* authentication or permission */
#define ETCD_ESERVER   (-EREMOTEIO)    /* etcd answered with an error status */
#define ETCD_EPROTO    (-EPROTO)       /* response not understood */
#define ETCD_ETOOBIG   (-EMSGSIZE)     /* answer or watch message over the cap */

struct etcd_response {
	int err;	     /* 0 or one of ETCD_E* (or another -errno) */
	long http_status;    /* 0 when no answer arrived */
	int grpc_code;	     /* from the error body, 0 otherwise */
	char message[256];   /* error text for logs, "" on success */
	int64_t revision;    /* header.revision */
	bool succeeded;	     /* txn: compare held */
	struct etcd_kv *kvs; /* range; txn: kvs of the failure-branch range */
	size_t n_kvs;
	int64_t count, deleted;
	bool more;	       /* range: limit reached, more keys follow */
	int64_t lease_id, ttl; /* grant / keepalive: ttl 0 = lease gone */
};

/* Helpers, exposed for tests. */
char *etcd_b64_encode(const void *data, size_t len);
int etcd_b64_decode(const char *s, size_t slen, char **out, size_t *out_len);
/* The range_end that selects every key starting with prefix. */
int etcd_prefix_end(const char *prefix, char **out, size_t *out_len);
void etcd_response_clear(struct etcd_response *r);

/* Parses a unary answer (body may be NULL for an empty one). */
enum etcd_op {
	ETCD_OP_RANGE,
	ETCD_OP_PUT,
	ETCD_OP_DELETE,
	ETCD_OP_TXN,
	ETCD_OP_GRANT,
	ETCD_OP_KEEPALIVE,
	ETCD_OP_REVOKE,
	ETCD_OP_AUTH,
};
int etcd_parse_response(enum etcd_op op, long http_status, const char *body, size_t len,
			struct etcd_response *out, char **token);
struct json_t;
int etcd_parse_kv(const struct json_t *kv, struct etcd_kv *out);
void etcd_kv_clear(struct etcd_kv *kv);

/* Capped exponential backoff with jitter: attempt 0 gives about base_ms,
 * each attempt doubles up to cap_ms; the result is drawn from
 * [d/2, d] so that many nodes do not retry in step. */
uint64_t etcd_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd);

/* Watch messages: the stream is a sequence of JSON objects separated by
 * '\n', each {"result":{...}} or {"error":{...}}. */
enum etcd_event_type {
	ETCD_EVENT_PUT,
	ETCD_EVENT_DELETE,
};

struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv *kv; /* DELETE: only key and mod_revision are set */
};

enum etcd_watch_kind {
	ETCD_WATCH_CREATED,   /* the server accepted the watch */
	ETCD_WATCH_EVENTS,    /* events[] */
	ETCD_WATCH_PROGRESS,  /* nothing changed up to revision */
	ETCD_WATCH_COMPACTED, /* start revision compacted: re-list */
	ETCD_WATCH_CANCELED,  /* canceled by the server (reason) */
	ETCD_WATCH_ERROR,     /* in-band stream error (reason) */
	ETCD_WATCH_CLOSED,    /* stream over; err says why */
};

struct etcd_watch_msg {
	enum etcd_watch_kind kind;
	int64_t revision;	  /* header.revision (0 if absent) */
	int64_t compact_revision; /* COMPACTED */
	const struct etcd_event *events;
	size_t n_events;
	const char *reason; /* CANCELED / ERROR / CLOSED: text for logs */
	int err;	    /* CLOSED: 0 if we ended it, else an ETCD_E* code */
};

typedef void (*etcd_watch_cb)(void *data, const struct etcd_watch_msg *msg);

/* Stream framing, exposed for tests: feed bytes as they arrive, then call
 * finish at the end of the transfer. Every complete object is parsed into a
 * message and handed to cb; malformed lines give an ETCD_WATCH_ERROR. */
struct etcd_watch_parser {
	char *buf;
	size_t len, cap;
	etcd_watch_cb cb;
	void *data;
};

void etcd_watch_parser_init(struct etcd_watch_parser *p, etcd_watch_cb cb, void *data);
/* 0, or -ENOMEM / -E2BIG (a single object beyond 8 MiB). */
int etcd_watch_parser_feed(struct etcd_watch_parser *p, const char *bytes, size_t len);
void etcd_watch_parser_finish(struct etcd_watch_parser *p);
void etcd_watch_parser_clear(struct etcd_watch_parser *p);

/* Parses one object; on success the caller hands msg to its user, then
 * calls etcd_watch_msg_clear. */
int etcd_watch_parse_line(const char *line, size_t len, struct etcd_watch_msg *msg, char *reason,
			  size_t reason_len);
void etcd_watch_msg_clear(struct etcd_watch_msg *msg);

#endif
