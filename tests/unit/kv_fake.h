/* An in-memory etcd behind the kv interface (subnet/kv.h) for unit tests:
 * revisions, create and mod revisions, leases that expire on a fake clock,
 * one watch whose messages are delivered on demand, and injected
 * compaction, watch breaks, failures and lost create races.
 *
 * Nothing happens inside a kv call: answers, listings and watch messages
 * are queued and delivered, in order, by kv_fake_run() or
 * kv_fake_advance(), which also fire the timers that fall due. Tests
 * include kv_fake.c (which includes kv_fake_ops.c).
 */
#ifndef WEFT_TEST_KV_FAKE_H
#define WEFT_TEST_KV_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subnet/kv.h"

struct kv_fake;

struct kv_fake_entry {
	char *key, *value;
	int64_t create_rev, mod_rev, version, lease;
};

enum kv_fake_op {
	KV_FAKE_GET,
	KV_FAKE_TXN_PUT,
	KV_FAKE_TXN_DELETE,
	KV_FAKE_GRANT,
	KV_FAKE_KEEPALIVE,
	KV_FAKE_LIST,
	KV_FAKE_OPS,
};

struct kv_fake *kv_fake_new(void);
void kv_fake_free(struct kv_fake *f);
/* The store as a kv; the test keeps owning it (ops->free is NULL). */
struct kv kv_fake_kv(struct kv_fake *f);

/* Writes by "another node" or an operator, seen by the watch. */
int64_t kv_fake_put(struct kv_fake *f, const char *key, const char *value, int64_t lease);
bool kv_fake_delete(struct kv_fake *f, const char *key);
const struct kv_fake_entry *kv_fake_get(const struct kv_fake *f, const char *key);
size_t kv_fake_count(const struct kv_fake *f, const char *prefix);
int64_t kv_fake_revision(const struct kv_fake *f);
int64_t kv_fake_grant(struct kv_fake *f, int64_t ttl_s);
/* Deletes the lease and every key attached to it. */
void kv_fake_revoke(struct kv_fake *f, int64_t id);
bool kv_fake_lease_alive(const struct kv_fake *f, int64_t id);
uint64_t kv_fake_requests(const struct kv_fake *f, enum kv_fake_op op);

/* Delivers everything queued and fires the timers due now. */
void kv_fake_run(struct kv_fake *f);
/* Moves the clock on by ms, expiring leases and firing timers on the way. */
void kv_fake_advance(struct kv_fake *f, uint64_t ms);

/* Injections. */
bool kv_fake_watching(const struct kv_fake *f);
/* The watch stream ends with an error (CLOSED). */
void kv_fake_break_watch(struct kv_fake *f);
/* A stalled watch delivers nothing until unstalled (a slow watcher). */
void kv_fake_stall_watch(struct kv_fake *f, bool stall);
/* Compacts at the current revision: a watch still behind it is told
 * COMPACTED and closed. */
void kv_fake_compact(struct kv_fake *f);
/* The next create-if-absent of a key containing "/subnets/" loses: value
 * (attached to a fresh lease) is written to that key just before. */
void kv_fake_race_create(struct kv_fake *f, const char *value);
/* The next call of op answers err. */
void kv_fake_fail_next(struct kv_fake *f, enum kv_fake_op op, int err);

#endif
