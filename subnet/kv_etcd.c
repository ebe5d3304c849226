/* kv.h over etcd.h and etcd_list.h: a thin mapping, no policy. Timers are
 * the etcd client's, so the lease layer needs no other event source. */
#include "subnet/kv_etcd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/loop.h"
#include "common/util.h"
#include "subnet/etcd.h"
#include "subnet/etcd_list.h"

struct kv_etcd {
	struct etcd_client *c;
	struct etcd_list *lister; /* made by the first listing */
};

static int ke_get(void *ctx, const char *key, kv_cb cb, void *data)
{
	struct kv_etcd *k = ctx;

	return etcd_get(k->c, key, cb, data);
}

static int ke_txn_put(void *ctx, enum kv_cmp cmp, int64_t rev, const char *key, const char *value,
		      int64_t lease, kv_cb cb, void *data)
{
	struct kv_etcd *k = ctx;

	return etcd_txn_put(k->c, cmp == KV_CMP_CREATE ? ETCD_CMP_CREATE : ETCD_CMP_MOD, rev, key,
			    value, lease, cb, data);
}

static int ke_txn_delete(void *ctx, int64_t mod_rev, const char *key, kv_cb cb, void *data)
{
	struct kv_etcd *k = ctx;

	return etcd_txn_delete(k->c, mod_rev, key, cb, data);
}

static int ke_grant(void *ctx, int64_t ttl_s, kv_cb cb, void *data)
{
	struct kv_etcd *k = ctx;

	return etcd_lease_grant(k->c, ttl_s, cb, data);
}

static int ke_keepalive(void *ctx, int64_t id, kv_cb cb, void *data)
{
	struct kv_etcd *k = ctx;

	return etcd_lease_keepalive(k->c, id, cb, data);
}

static int ke_watch(void *ctx, const char *prefix, int64_t start_rev, etcd_watch_cb cb, void *data,
		    struct kv_watch **out)
{
	struct kv_etcd *k = ctx;

	return etcd_watch_prefix(k->c, prefix, start_rev, cb, data, (struct etcd_watch **)out);
}

static void ke_watch_cancel(void *ctx, struct kv_watch *w)
{
	(void)ctx;
	etcd_watch_cancel((struct etcd_watch *)w);
}

static int ke_list(void *ctx, const char *prefix, etcd_list_page_cb page, etcd_list_done_cb done,
		   void *data)
{
	struct kv_etcd *k = ctx;
	int ret;

	if (!k->lister) {
		ret = etcd_list_new(k->c, prefix, page, done, data, &k->lister);
		if (ret < 0)
			return ret;
	}
	return etcd_list_start(k->lister);
}

static void ke_list_stats(void *ctx, struct etcd_list_stats *st, const char **skipped)
{
	struct kv_etcd *k = ctx;

	memset(st, 0, sizeof(*st));
	*skipped = "";
	if (!k->lister)
		return;
	etcd_list_get_stats(k->lister, st);
	*skipped = etcd_list_skipped_key(k->lister);
}

static int ke_timer_new(void *ctx, kv_timer_cb cb, void *data, struct kv_timer **out)
{
	struct kv_etcd *k = ctx;

	return loop_add_timer(etcd_client_loop(k->c), cb, data, (struct loop_timer **)out);
}

static int ke_timer_arm(struct kv_timer *t, uint64_t delay_ms)
{
	return loop_timer_arm((struct loop_timer *)t, delay_ms, 0);
}

static void ke_timer_disarm(struct kv_timer *t)
{
	loop_timer_disarm((struct loop_timer *)t);
}

static void ke_timer_free(struct kv_timer *t)
{
	loop_timer_free((struct loop_timer *)t);
}

static uint64_t ke_now_ms(void *ctx)
{
	(void)ctx;
	return now_ms();
}

static uint64_t ke_requests(void *ctx)
{
	struct kv_etcd *k = ctx;

	return etcd_client_requests(k->c);
}

static void ke_free(void *ctx)
{
	struct kv_etcd *k = ctx;

	if (!k)
		return;
	etcd_list_free(k->lister);
	free(k);
}

static const struct kv_ops kv_etcd_ops = {
	.get = ke_get,
	.txn_put = ke_txn_put,
	.txn_delete = ke_txn_delete,
	.lease_grant = ke_grant,
	.lease_keepalive = ke_keepalive,
	.watch = ke_watch,
	.watch_cancel = ke_watch_cancel,
	.list = ke_list,
	.list_stats = ke_list_stats,
	.timer_new = ke_timer_new,
	.timer_arm = ke_timer_arm,
	.timer_disarm = ke_timer_disarm,
	.timer_free = ke_timer_free,
	.now_ms = ke_now_ms,
	.requests = ke_requests,
	.free = ke_free,
};

int kv_etcd_new(struct etcd_client *c, struct kv *out)
{
	struct kv_etcd *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->c = c;
	out->ops = &kv_etcd_ops;
	out->ctx = k;
	return 0;
}
