/* The key-value interface the lease layer runs on: exactly the etcd calls,
 * timers and clock it needs, so that its state machines can be driven by an
 * in-memory store in unit tests (tests/unit/kv_fake.c) and by etcd in weftd
 * (kv_etcd.h).
 *
 * Answers use the etcd codec's structs (jansson only). Every call that
 * takes a callback returns 0 when started (the callback runs exactly once,
 * later, never from inside the call) or -errno when nothing was started.
 */
#ifndef WEFT_KV_H
#define WEFT_KV_H

#include <stdbool.h>
#include <stdint.h>

#include "subnet/etcd_codec.h"
#include "subnet/etcd_list.h"

struct kv_timer;
struct kv_watch;

typedef void (*kv_cb)(void *data, const struct etcd_response *r);
typedef void (*kv_timer_cb)(void *data);

enum kv_cmp {
	KV_CMP_CREATE, /* create_revision(key) == rev; rev 0: key absent */
	KV_CMP_MOD,    /* mod_revision(key) == rev */
};

struct kv_ops {
	int (*get)(void *ctx, const char *key, kv_cb cb, void *data);
	/* If the compare holds, put key=value (lease 0: none); otherwise the
	 * answer carries the key's current kv (none when absent). */
	int (*txn_put)(void *ctx, enum kv_cmp cmp, int64_t rev, const char *key, const char *value,
		       int64_t lease, kv_cb cb, void *data);
	/* Delete key only if its mod_revision is still mod_rev. */
	int (*txn_delete)(void *ctx, int64_t mod_rev, const char *key, kv_cb cb, void *data);
	int (*lease_grant)(void *ctx, int64_t ttl_s, kv_cb cb, void *data);
	/* Answer ttl 0: the lease is gone. */
	int (*lease_keepalive)(void *ctx, int64_t id, kv_cb cb, void *data);
	/* Every key under prefix from start_rev; messages as etcd_watch.h
	 * describes them, ending with one CLOSED unless cancelled. */
	int (*watch)(void *ctx, const char *prefix, int64_t start_rev, etcd_watch_cb cb, void *data,
		     struct kv_watch **out);
	void (*watch_cancel)(void *ctx, struct kv_watch *w);
	/* One paginated listing at a time (etcd_list.h); -EBUSY while one runs. */
	int (*list)(void *ctx, const char *prefix, etcd_list_page_cb page, etcd_list_done_cb done,
		    void *data);
	/* Listing counters and the last key skipped as too large ("" if none). */
	void (*list_stats)(void *ctx, struct etcd_list_stats *st, const char **skipped);
	int (*timer_new)(void *ctx, kv_timer_cb cb, void *data, struct kv_timer **out);
	int (*timer_arm)(struct kv_timer *t, uint64_t delay_ms);
	void (*timer_disarm)(struct kv_timer *t);
	void (*timer_free)(struct kv_timer *t); /* NULL is fine */
	uint64_t (*now_ms)(void *ctx);		/* monotonic */
	uint64_t (*requests)(void *ctx);	/* requests made, for metrics */
	void (*free)(void *ctx);		/* NULL: the store is not owned */
};

struct kv {
	const struct kv_ops *ops;
	void *ctx;
};

#endif
