/* The kv interface of the in-memory etcd: part of kv_fake.c, which includes
 * this file after the store, the job queue and the watch it works on. Each
 * op acts on the store at once and queues its answer. */

static int fk_get(void *ctx, const char *key, kv_cb cb, void *data)
{
	struct kv_fake *f = ctx;

	if (!call(f, KV_FAKE_GET, cb, data))
		resp_kv(f, job_add(f, JOB_RESP, cb, data), key);
	return 0;
}

static bool lease_ok(struct kv_fake *f, int64_t lease, struct fk_job *j)
{
	if (!lease || lease_find(f, lease))
		return true;
	j->r.err = ETCD_ESERVER;
	j->r.http_status = 404;
	j->r.grpc_code = GRPC_NOT_FOUND;
	snprintf(j->r.message, sizeof(j->r.message), "etcdserver: requested lease not found");
	return false;
}

static int fk_txn_put(void *ctx, enum kv_cmp cmp, int64_t rev, const char *key, const char *value,
		      int64_t lease, kv_cb cb, void *data)
{
	struct kv_fake *f = ctx;
	struct kv_fake_entry *e;
	struct fk_job *j;
	bool hold;

	if (call(f, KV_FAKE_TXN_PUT, cb, data))
		return 0;
	if (cmp == KV_CMP_CREATE && f->race_value && strstr(key, "/subnets/")) {
		store_put(f, key, f->race_value, kv_fake_grant(f, 3600));
		free(f->race_value);
		f->race_value = NULL;
	}
	j = job_add(f, JOB_RESP, cb, data);
	if (!lease_ok(f, lease, j))
		return 0;
	e = find(f, key);
	hold = cmp == KV_CMP_CREATE ? (e ? e->create_rev : 0) == rev : e && e->mod_rev == rev;
	if (!hold) {
		resp_kv(f, j, key);
		return 0;
	}
	j->r.succeeded = true;
	j->r.revision = store_put(f, key, value, lease);
	return 0;
}

static int fk_txn_delete(void *ctx, int64_t mod_rev, const char *key, kv_cb cb, void *data)
{
	struct kv_fake *f = ctx;
	struct kv_fake_entry *e = find(f, key);
	struct fk_job *j;

	if (call(f, KV_FAKE_TXN_DELETE, cb, data))
		return 0;
	j = job_add(f, JOB_RESP, cb, data);
	if (!e || e->mod_rev != mod_rev) {
		resp_kv(f, j, key);
		return 0;
	}
	store_delete(f, e);
	j->r.succeeded = true;
	j->r.deleted = 1;
	j->r.revision = f->rev;
	return 0;
}

static int fk_grant(void *ctx, int64_t ttl_s, kv_cb cb, void *data)
{
	struct kv_fake *f = ctx;
	struct fk_job *j;

	if (call(f, KV_FAKE_GRANT, cb, data))
		return 0;
	j = job_add(f, JOB_RESP, cb, data);
	j->r.lease_id = kv_fake_grant(f, ttl_s);
	j->r.ttl = ttl_s;
	return 0;
}

static int fk_keepalive(void *ctx, int64_t id, kv_cb cb, void *data)
{
	struct kv_fake *f = ctx;
	struct fk_lease *l = lease_find(f, id);
	struct fk_job *j;

	if (call(f, KV_FAKE_KEEPALIVE, cb, data))
		return 0;
	j = job_add(f, JOB_RESP, cb, data);
	j->r.lease_id = id;
	if (l) {
		l->expires = f->now + (uint64_t)l->ttl * 1000;
		j->r.ttl = l->ttl;
	}
	return 0;
}

static int fk_watch(void *ctx, const char *prefix, int64_t start_rev, etcd_watch_cb cb, void *data,
		    struct kv_watch **out)
{
	struct kv_fake *f = ctx;
	struct kv_watch *w;

	f->requests++;
	if (f->w)
		return -EBUSY; /* the lease layer keeps one watch */
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->prefix = strdup(prefix);
	w->cb = cb;
	w->data = data;
	w->next_rev = start_rev ? start_rev : f->rev + 1;
	f->w = w;
	*out = w;
	return 0;
}

static void fk_watch_cancel(void *ctx, struct kv_watch *w)
{
	struct kv_fake *f = ctx;

	if (!w)
		return;
	if (f->w == w)
		f->w = NULL;
	free(w->prefix);
	free(w);
}

static int fk_list(void *ctx, const char *prefix, etcd_list_page_cb page, etcd_list_done_cb done,
		   void *data)
{
	struct kv_fake *f = ctx;
	struct fk_job *j;

	for (size_t i = 0; i < f->n_jobs; i++)
		if (f->jobs[i].kind == JOB_LIST)
			return -EBUSY;
	j = job_add(f, JOB_LIST, NULL, data);
	j->prefix = strdup(prefix);
	j->page = page;
	j->done = done;
	j->r.err = f->fail_err[KV_FAKE_LIST];
	f->fail_err[KV_FAKE_LIST] = 0;
	if (j->r.err)
		snprintf(j->r.message, sizeof(j->r.message), "injected failure");
	f->calls[KV_FAKE_LIST]++;
	f->requests++;
	return 0;
}

static void fk_list_stats(void *ctx, struct etcd_list_stats *st, const char **skipped)
{
	struct kv_fake *f = ctx;

	*st = f->ls;
	*skipped = "";
}

static int fk_timer_new(void *ctx, kv_timer_cb cb, void *data, struct kv_timer **out)
{
	struct kv_fake *f = ctx;
	struct kv_timer *t = calloc(1, sizeof(*t));

	if (!t || VEC_RESERVE(f->timers, f->cap_timers, f->n_timers + 1, 8) < 0) {
		free(t);
		return -ENOMEM;
	}
	*t = (struct kv_timer){.f = f, .cb = cb, .data = data};
	f->timers[f->n_timers++] = t;
	*out = t;
	return 0;
}

static int fk_timer_arm(struct kv_timer *t, uint64_t delay_ms)
{
	t->armed = true;
	t->due = t->f->now + delay_ms;
	return 0;
}

static void fk_timer_disarm(struct kv_timer *t)
{
	t->armed = false;
}

static void fk_timer_free(struct kv_timer *t)
{
	struct kv_fake *f;

	if (!t)
		return;
	f = t->f;
	for (size_t i = 0; i < f->n_timers; i++)
		if (f->timers[i] == t)
			f->timers[i] = f->timers[--f->n_timers];
	free(t);
}

static uint64_t fk_now(void *ctx)
{
	return ((struct kv_fake *)ctx)->now;
}

static uint64_t fk_requests(void *ctx)
{
	return ((struct kv_fake *)ctx)->requests;
}

static const struct kv_ops fake_ops = {
	.get = fk_get,
	.txn_put = fk_txn_put,
	.txn_delete = fk_txn_delete,
	.lease_grant = fk_grant,
	.lease_keepalive = fk_keepalive,
	.watch = fk_watch,
	.watch_cancel = fk_watch_cancel,
	.list = fk_list,
	.list_stats = fk_list_stats,
	.timer_new = fk_timer_new,
	.timer_arm = fk_timer_arm,
	.timer_disarm = fk_timer_disarm,
	.timer_free = fk_timer_free,
	.now_ms = fk_now,
	.requests = fk_requests,
};
