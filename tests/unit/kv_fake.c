/* In-memory etcd for unit tests (see kv_fake.h). Keys live in one unsorted
 * array (tests hold a handful); every write appends to a history that the
 * watch replays from its next revision, as etcd's MVCC store would. */
#include "kv_fake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vec.h"

#define FAKE_T0_MS	 1000000
#define FAKE_PAGE	 2 /* keys per listing page: listings span pages */
#define FAKE_MAX_STEPS	 100000
#define GRPC_NOT_FOUND	 5
#define FAKE_LEASE_FIRST 0x7000

struct fk_lease {
	int64_t id, ttl;
	uint64_t expires;
};

struct fk_event {
	enum etcd_event_type type;
	struct etcd_kv kv;
};

struct kv_timer {
	struct kv_fake *f;
	kv_timer_cb cb;
	void *data;
	bool armed;
	uint64_t due;
};

struct kv_watch {
	char *prefix;
	etcd_watch_cb cb;
	void *data;
	int64_t next_rev;
	bool created, broken;
};

enum fk_job_kind { JOB_RESP, JOB_LIST };

struct fk_job {
	enum fk_job_kind kind;
	kv_cb cb;
	void *data;
	struct etcd_response r;
	char *prefix;
	etcd_list_page_cb page;
	etcd_list_done_cb done;
};

struct kv_fake {
	struct kv_fake_entry *e;
	size_t n_e, cap_e;
	struct fk_lease *leases;
	size_t n_leases, cap_leases;
	struct fk_event *hist;
	size_t n_hist, cap_hist;
	struct fk_job *jobs;
	size_t n_jobs, cap_jobs;
	struct kv_timer **timers;
	size_t n_timers, cap_timers;
	struct kv_watch *w;
	int64_t rev, compact_rev, next_lease;
	uint64_t now;
	bool stalled;
	char *race_value;
	int fail_err[KV_FAKE_OPS];
	uint64_t calls[KV_FAKE_OPS];
	uint64_t requests;
	struct etcd_list_stats ls;
};

/* ------------------------------------------------------------------ store */

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static struct kv_fake_entry *find(const struct kv_fake *f, const char *key)
{
	for (size_t i = 0; i < f->n_e; i++)
		if (!strcmp(f->e[i].key, key))
			return &f->e[i];
	return NULL;
}

static struct fk_lease *lease_find(const struct kv_fake *f, int64_t id)
{
	for (size_t i = 0; i < f->n_leases; i++)
		if (f->leases[i].id == id)
			return &f->leases[i];
	return NULL;
}

static struct etcd_kv kv_copy(const struct kv_fake_entry *e)
{
	struct etcd_kv kv = {.key = strdup(e->key),
			     .key_len = strlen(e->key),
			     .value = strdup(e->value),
			     .value_len = strlen(e->value),
			     .create_revision = e->create_rev,
			     .mod_revision = e->mod_rev,
			     .version = e->version,
			     .lease = e->lease};
	return kv;
}

static void history_add(struct kv_fake *f, enum etcd_event_type type, const struct kv_fake_entry *e)
{
	if (VEC_RESERVE(f->hist, f->cap_hist, f->n_hist + 1, 16) < 0)
		abort();
	f->hist[f->n_hist].type = type;
	f->hist[f->n_hist].kv = kv_copy(e);
	f->n_hist++;
}

static int64_t store_put(struct kv_fake *f, const char *key, const char *value, int64_t lease)
{
	struct kv_fake_entry *e = find(f, key);

	f->rev++;
	if (!e) {
		if (VEC_RESERVE(f->e, f->cap_e, f->n_e + 1, 16) < 0)
			abort();
		e = &f->e[f->n_e++];
		*e = (struct kv_fake_entry){.key = strdup(key), .create_rev = f->rev};
	} else {
		free(e->value);
	}
	e->value = strdup(value);
	e->mod_rev = f->rev;
	e->version++;
	e->lease = lease;
	history_add(f, ETCD_EVENT_PUT, e);
	return f->rev;
}

static void store_delete(struct kv_fake *f, struct kv_fake_entry *e)
{
	struct kv_fake_entry gone = {.key = e->key, .value = "", .mod_rev = ++f->rev};

	history_add(f, ETCD_EVENT_DELETE, &gone);
	free(e->key);
	free(e->value);
	*e = f->e[--f->n_e];
}

static void revoke(struct kv_fake *f, int64_t id)
{
	struct fk_lease *l = lease_find(f, id);

	if (!l)
		return;
	*l = f->leases[--f->n_leases];
	for (size_t i = f->n_e; i-- > 0;)
		if (f->e[i].lease == id)
			store_delete(f, &f->e[i]);
}

static void expire(struct kv_fake *f)
{
	for (size_t i = f->n_leases; i-- > 0;)
		if (f->leases[i].expires <= f->now)
			revoke(f, f->leases[i].id);
}

/* ------------------------------------------------------------------- jobs */

static struct fk_job *job_add(struct kv_fake *f, enum fk_job_kind kind, kv_cb cb, void *data)
{
	struct fk_job *j;

	if (VEC_RESERVE(f->jobs, f->cap_jobs, f->n_jobs + 1, 16) < 0)
		abort();
	j = &f->jobs[f->n_jobs++];
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->cb = cb;
	j->data = data;
	j->r.revision = f->rev;
	return j;
}

/* Counts a call; an injected failure answers it at once (queued). */
static bool call(struct kv_fake *f, enum kv_fake_op op, kv_cb cb, void *data)
{
	int err = f->fail_err[op];

	f->calls[op]++;
	f->requests++;
	if (!err)
		return false;
	f->fail_err[op] = 0;
	if (cb) {
		struct fk_job *j = job_add(f, JOB_RESP, cb, data);

		j->r.err = err;
		j->r.http_status = 503;
		snprintf(j->r.message, sizeof(j->r.message), "injected failure");
	}
	return true;
}

static void resp_kv(struct kv_fake *f, struct fk_job *j, const char *key)
{
	const struct kv_fake_entry *e = find(f, key);

	if (!e)
		return;
	j->r.kvs = calloc(1, sizeof(*j->r.kvs));
	j->r.kvs[0] = kv_copy(e);
	j->r.n_kvs = 1;
	j->r.count = 1;
}

static void list_run(struct kv_fake *f, struct fk_job *j)
{
	struct etcd_kv *kvs = calloc(f->n_e + 1, sizeof(*kvs));
	size_t n = 0;
	int64_t rev = f->rev;

	/* Sorted by key, as etcd lists. */
	for (size_t i = 0; i < f->n_e; i++)
		if (has_prefix(f->e[i].key, j->prefix)) {
			size_t k = n++;

			kvs[k] = kv_copy(&f->e[i]);
			while (k > 0 && strcmp(kvs[k - 1].key, kvs[k].key) > 0) {
				struct etcd_kv t = kvs[k];

				kvs[k] = kvs[k - 1];
				kvs[--k] = t;
			}
		}
	for (size_t i = 0; i == 0 || i < n; i += FAKE_PAGE) {
		f->ls.pages++;
		j->page(j->data, kvs + i, n - i < FAKE_PAGE ? n - i : FAKE_PAGE, i == 0);
	}
	for (size_t i = 0; i < n; i++)
		etcd_kv_clear(&kvs[i]);
	free(kvs);
	j->done(j->data, NULL, rev);
}

/* Runs the oldest job; false when none is queued. */
static bool job_run(struct kv_fake *f)
{
	struct fk_job j;

	if (!f->n_jobs)
		return false;
	j = f->jobs[0];
	memmove(&f->jobs[0], &f->jobs[1], (f->n_jobs - 1) * sizeof(*f->jobs));
	f->n_jobs--;
	if (j.kind == JOB_LIST && !j.r.err)
		list_run(f, &j);
	else if (j.kind == JOB_LIST)
		j.done(j.data, &j.r, 0);
	else
		j.cb(j.data, &j.r);
	etcd_response_clear(&j.r);
	free(j.prefix);
	return true;
}

/* ------------------------------------------------------------------ watch */

static void watch_close(struct kv_fake *f, int err, const char *reason)
{
	struct kv_watch *w = f->w;
	struct etcd_watch_msg msg = {.kind = ETCD_WATCH_CLOSED, .err = err, .reason = reason};

	f->w = NULL;
	w->cb(w->data, &msg);
	free(w->prefix);
	free(w);
}

/* Delivers what the watch has not seen yet; false when nothing was due. */
static bool watch_run(struct kv_fake *f)
{
	struct kv_watch *w = f->w;
	struct etcd_event *ev;
	size_t n = 0;
	struct etcd_watch_msg msg = {.revision = f->rev};

	if (!w)
		return false;
	if (w->broken) {
		watch_close(f, ETCD_ECONNECT, "injected break");
		return true;
	}
	if (!w->created) {
		w->created = true;
		msg.kind = ETCD_WATCH_CREATED;
		w->cb(w->data, &msg);
		return true;
	}
	if (f->stalled)
		return false;
	if (w->next_rev <= f->compact_rev) {
		msg.kind = ETCD_WATCH_COMPACTED;
		msg.compact_revision = f->compact_rev;
		w->cb(w->data, &msg);
		if (f->w == w)
			watch_close(f, 0, "compacted");
		return true;
	}
	ev = calloc(f->n_hist + 1, sizeof(*ev));
	for (size_t i = 0; i < f->n_hist; i++)
		if (f->hist[i].kv.mod_revision >= w->next_rev &&
		    has_prefix(f->hist[i].kv.key, w->prefix)) {
			ev[n].type = f->hist[i].type;
			ev[n++].kv = &f->hist[i].kv;
		}
	w->next_rev = f->rev + 1;
	if (n) {
		msg.kind = ETCD_WATCH_EVENTS;
		msg.events = ev;
		msg.n_events = n;
		w->cb(w->data, &msg);
	}
	free(ev);
	return n > 0;
}

/* The kv ops themselves (kv_fake_ops.c) use the store, jobs and watch above. */
#include "kv_fake_ops.c"

/* ------------------------------------------------------------- test API */

struct kv_fake *kv_fake_new(void)
{
	struct kv_fake *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->now = FAKE_T0_MS;
	f->rev = 1;
	f->next_lease = FAKE_LEASE_FIRST;
	return f;
}

void kv_fake_free(struct kv_fake *f)
{
	if (!f)
		return;
	while (f->n_e)
		store_delete(f, &f->e[0]);
	for (size_t i = 0; i < f->n_hist; i++)
		etcd_kv_clear(&f->hist[i].kv);
	for (size_t i = 0; i < f->n_jobs; i++) {
		etcd_response_clear(&f->jobs[i].r);
		free(f->jobs[i].prefix);
	}
	for (size_t i = 0; i < f->n_timers; i++)
		free(f->timers[i]);
	if (f->w)
		fk_watch_cancel(f, f->w);
	free(f->e);
	free(f->leases);
	free(f->hist);
	free(f->jobs);
	free(f->timers);
	free(f->race_value);
	free(f);
}

struct kv kv_fake_kv(struct kv_fake *f)
{
	return (struct kv){&fake_ops, f};
}

int64_t kv_fake_put(struct kv_fake *f, const char *key, const char *value, int64_t lease)
{
	return store_put(f, key, value, lease);
}

bool kv_fake_delete(struct kv_fake *f, const char *key)
{
	struct kv_fake_entry *e = find(f, key);

	if (e)
		store_delete(f, e);
	return e != NULL;
}

const struct kv_fake_entry *kv_fake_get(const struct kv_fake *f, const char *key)
{
	return find(f, key);
}

size_t kv_fake_count(const struct kv_fake *f, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_e; i++)
		n += has_prefix(f->e[i].key, prefix);
	return n;
}

int64_t kv_fake_revision(const struct kv_fake *f)
{
	return f->rev;
}

int64_t kv_fake_grant(struct kv_fake *f, int64_t ttl_s)
{
	if (VEC_RESERVE(f->leases, f->cap_leases, f->n_leases + 1, 8) < 0)
		abort();
	f->leases[f->n_leases++] =
		(struct fk_lease){f->next_lease, ttl_s, f->now + (uint64_t)ttl_s * 1000};
	return f->next_lease++;
}

void kv_fake_revoke(struct kv_fake *f, int64_t id)
{
	revoke(f, id);
}

bool kv_fake_lease_alive(const struct kv_fake *f, int64_t id)
{
	return lease_find(f, id) != NULL;
}

uint64_t kv_fake_requests(const struct kv_fake *f, enum kv_fake_op op)
{
	return f->calls[op];
}

static bool timers_run(struct kv_fake *f)
{
	for (size_t i = 0; i < f->n_timers; i++) {
		struct kv_timer *t = f->timers[i];

		if (t->armed && t->due <= f->now) {
			t->armed = false;
			t->cb(t->data);
			return true;
		}
	}
	return false;
}

void kv_fake_run(struct kv_fake *f)
{
	for (int steps = 0; steps < FAKE_MAX_STEPS; steps++) {
		expire(f);
		if (!job_run(f) && !watch_run(f) && !timers_run(f))
			return;
	}
	fprintf(stderr, "kv_fake: no quiescence after %d steps\n", FAKE_MAX_STEPS);
	abort();
}

void kv_fake_advance(struct kv_fake *f, uint64_t ms)
{
	uint64_t end = f->now + ms;

	kv_fake_run(f);
	for (;;) {
		uint64_t next = end;

		for (size_t i = 0; i < f->n_timers; i++)
			if (f->timers[i]->armed && f->timers[i]->due < next)
				next = f->timers[i]->due;
		for (size_t i = 0; i < f->n_leases; i++)
			if (f->leases[i].expires < next)
				next = f->leases[i].expires;
		if (next > f->now)
			f->now = next;
		kv_fake_run(f);
		if (f->now >= end)
			return;
	}
}

bool kv_fake_watching(const struct kv_fake *f)
{
	return f->w && f->w->created;
}

void kv_fake_break_watch(struct kv_fake *f)
{
	if (f->w)
		f->w->broken = true;
}

void kv_fake_stall_watch(struct kv_fake *f, bool stall)
{
	f->stalled = stall;
}

void kv_fake_compact(struct kv_fake *f)
{
	f->compact_rev = f->rev;
	f->stalled = false;
}

void kv_fake_race_create(struct kv_fake *f, const char *value)
{
	free(f->race_value);
	f->race_value = strdup(value);
}

void kv_fake_fail_next(struct kv_fake *f, enum kv_fake_op op, int err)
{
	f->fail_err[op] = err;
}
