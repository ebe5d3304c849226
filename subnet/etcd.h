/* etcd v3 client over the HTTP/JSON gateway (/v3/...), libcurl multi + jansson.
 *
 * Everything is asynchronous: a request is started and its callback runs
 * later from etcd_client_dispatch(). The client owns an inner epoll fd that
 * becomes readable whenever libcurl or one of the client's timers needs
 * attention, so an embedding event loop only watches one fd
 * (etcd_client_fd) and calls etcd_client_dispatch() when it is readable.
 *
 * Gateway quirks handled here: bytes fields are padded standard base64,
 * int64 fields arrive as JSON strings, zero/false fields are omitted, a
 * keepalive on a lost lease answers 200 without TTL (reported as ttl 0).
 */
#ifndef WEFT_ETCD_H
#define WEFT_ETCD_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etcd_client;
struct etcd_timer;

struct etcd_config {
	const char *const *endpoints; /* "http://host:port" or "https://..." */
	size_t n_endpoints;
	const char *cafile, *certfile, *keyfile; /* NULL when unused */
	const char *username, *password;	 /* both or neither */
	long request_timeout_ms;		 /* 0: default 5000 */
	long connect_timeout_ms;		 /* 0: default 3000 */
};

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

typedef void (*etcd_cb)(void *data, const struct etcd_response *resp);

/* Needs curl_global_init() done by the caller. */
int etcd_client_new(const struct etcd_config *cfg, struct etcd_client **out);
/* Drops every pending request and watch without calling callbacks. */
void etcd_client_free(struct etcd_client *c);
int etcd_client_fd(const struct etcd_client *c);
/* Drives transfers and timers; runs callbacks. Returns 0 or -errno. */
int etcd_client_dispatch(struct etcd_client *c);
/* Endpoint currently used, for logs. */
const char *etcd_client_endpoint(const struct etcd_client *c);
/* HTTP requests started (unary and watch), for metrics. */
uint64_t etcd_client_requests(const struct etcd_client *c);

/* Unary calls. They return 0 when started (the callback runs exactly once,
 * later) or -errno when nothing was started (no callback). */
int etcd_get(struct etcd_client *c, const char *key, etcd_cb cb, void *data);
/* All keys starting with prefix. */
int etcd_get_prefix(struct etcd_client *c, const char *prefix, etcd_cb cb, void *data);
int etcd_put(struct etcd_client *c, const char *key, const char *value, int64_t lease, etcd_cb cb,
	     void *data);
int etcd_delete(struct etcd_client *c, const char *key, etcd_cb cb, void *data);
/* A range with a ready request body (see etcd_range_body); an answer of more
 * than resp_max bytes fails with ETCD_ETOOBIG. */
int etcd_range_json(struct etcd_client *c, const char *body, size_t resp_max, etcd_cb cb,
		    void *data);

enum etcd_cmp {
	ETCD_CMP_CREATE, /* create_revision(key) == rev; rev 0: key absent */
	ETCD_CMP_MOD,	 /* mod_revision(key) == rev */
};
/* If the compare holds, put key=value (lease 0: none). Otherwise the
 * response carries the key's current kv (n_kvs 0 when absent). */
int etcd_txn_put(struct etcd_client *c, enum etcd_cmp cmp, int64_t rev, const char *key,
		 const char *value, int64_t lease, etcd_cb cb, void *data);
/* Delete key only if its mod_revision is still rev. */
int etcd_txn_delete(struct etcd_client *c, int64_t mod_rev, const char *key, etcd_cb cb,
		    void *data);

int etcd_lease_grant(struct etcd_client *c, int64_t ttl, etcd_cb cb, void *data);
int etcd_lease_keepalive(struct etcd_client *c, int64_t id, etcd_cb cb, void *data);
int etcd_lease_revoke(struct etcd_client *c, int64_t id, etcd_cb cb, void *data);

/* One-shot timers run from etcd_client_dispatch(), so modules built on the
 * client need no other event source. */
typedef void (*etcd_timer_cb)(void *data);
int etcd_timer_new(struct etcd_client *c, etcd_timer_cb cb, void *data, struct etcd_timer **out);
int etcd_timer_arm(struct etcd_timer *t, uint64_t delay_ms);
void etcd_timer_disarm(struct etcd_timer *t);
bool etcd_timer_armed(const struct etcd_timer *t);
void etcd_timer_free(struct etcd_timer *t);

/* Capped exponential backoff with jitter: attempt 0 gives about base_ms,
 * each attempt doubles up to cap_ms; the result is drawn from
 * [d/2, d] so that many nodes do not retry in step. */
uint64_t etcd_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd);

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

#include "subnet/etcd_watch.h"

#endif
