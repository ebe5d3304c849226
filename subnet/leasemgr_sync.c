/* Lease manager: the peer view, a listing at revision R then a watch from
 * R + 1 that keep the map in step with etcd (states in leasemgr_int.h).
 * Whenever the watch ends the view goes RESYNCING and re-lists: a listing
 * replaces the map and the diff emits only what changed.
 */
#include "subnet/leasemgr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "subnet/leasemgr_int.h"

/* ------------------------------------------------------------ list + watch */

/* Ends the watch, if any, without a CLOSED message. */
void lm_watch_drop(struct leasemgr *m)
{
	if (m->pv.watch)
		kv_call(m, watch_cancel, m->pv.watch);
	m->pv.watch = NULL;
	if (m->pv.state == LM_VIEW_STARTING || m->pv.state == LM_VIEW_WATCHING)
		m->pv.state = LM_VIEW_RESYNCING;
}

/* The next listing after delay_ms. */
void lm_sync_retry(struct leasemgr *m, uint64_t delay_ms)
{
	m->pv.state = LM_VIEW_RESYNCING;
	lm_timer_arm(m, m->t_sync, delay_ms);
}

/* The peer view may lag etcd from now on (kept from the first break of a
 * run of short-lived watches). */
void lm_mark_stale(struct leasemgr *m)
{
	uint64_t now = lm_now(m);

	if (!m->pv.stale_since_ms ||
	    (m->pv.state == LM_VIEW_WATCHING && now - m->created_ms >= WATCH_PROVEN_MS))
		m->pv.stale_since_ms = now;
}

static void watch_closed(struct leasemgr *m, const struct etcd_watch_msg *msg)
{
	uint64_t d;

	/* Only a watch that lived resets the backoff: a quiet one sees no
	 * event for minutes, a flapping one never gets that far. */
	if (m->pv.state == LM_VIEW_WATCHING && lm_now(m) - m->created_ms >= WATCH_PROVEN_MS)
		m->pv.watch_fail = 0;
	d = m->pv.relist_now ? 0
			     : etcd_backoff_ms(m->pv.watch_fail++, WATCH_RETRY_BASE_MS,
					       WATCH_RETRY_CAP_MS, rnd32());
	lm_mark_stale(m);
	/* The store freed the watch. Every new watch starts from a fresh
	 * listing: a break may hide an etcd restored from a snapshot, whose
	 * revisions mean other writes. */
	m->pv.watch = NULL;
	m->pv.relist_now = false;
	m->reconnects++;
	if (msg->err == ETCD_ETOOBIG) {
		m->pv.watch_oversize++;
		log_warn("etcd watch message over the size limit (%s); re-listing in %" PRIu64
			 " ms instead of replaying",
			 msg->reason, d);
	} else if (msg->err && log_ratelimit_ok(&m->rl_etcd)) {
		log_warn("etcd watch broke (%s); re-listing in %" PRIu64 " ms", msg->reason, d);
	}
	lm_sync_retry(m, d);
}

/* An event older than what the map holds for its key: our own write's
 * answer (or a listing) got there first, so the event is history. */
static bool event_stale(struct leasemgr *m, const struct etcd_kv *kv)
{
	struct ip4_net sn;
	bool found;
	size_t i;

	if (lm_kv_subnet(m, kv, &sn) < 0)
		return false;
	i = lm_map_find(m, &sn, kv->key, &found);
	return found && m->pv.map[i].mod_rev > kv->mod_revision;
}

static void watch_events(struct leasemgr *m, const struct etcd_watch_msg *msg)
{
	bool released = false;

	for (size_t i = 0; i < msg->n_events; i++) {
		const struct etcd_event *ev = &msg->events[i];
		struct ip4_net sn;

		if (ev->kv->mod_revision > m->pv.rev)
			m->pv.rev = ev->kv->mod_revision;
		if (event_stale(m, ev->kv))
			continue;
		if (ev->type == ETCD_EVENT_PUT) {
			if (lm_map_put_kv(m, ev->kv, &sn) < 0)
				continue;
		} else {
			if (lm_kv_subnet(m, ev->kv, &sn) < 0)
				continue;
			lm_map_remove_key(m, &sn, ev->kv->key);
			released = true;
		}
		if (lm_touches_own(m, &sn, ev->kv->key))
			lm_check_own(m);
		else
			lm_emit_one(m, &sn);
	}
	if (released && m->ol.state == LM_OWN_EXHAUSTED)
		lm_acquire(m);
}

static void on_watch(void *data, const struct etcd_watch_msg *msg)
{
	struct leasemgr *m = data;

	switch (msg->kind) {
	case ETCD_WATCH_CREATED:
		/* A revision below the listing's: a member behind, or etcd
		 * replaced meanwhile. */
		if (msg->revision && msg->revision < m->pv.rev) {
			log_warn("etcd revision went back from %" PRId64 " to %" PRId64
				 "; re-listing",
				 m->pv.rev, msg->revision);
			lm_mark_stale(m);
			lm_watch_drop(m);
			/* Backoff: a member that stays behind must not spin us. */
			lm_sync_retry(m, etcd_backoff_ms(m->pv.watch_fail++, WATCH_RETRY_BASE_MS,
							 WATCH_RETRY_CAP_MS, rnd32()));
			break;
		}
		m->pv.state = LM_VIEW_WATCHING;
		m->created_ms = lm_now(m);
		break;
	case ETCD_WATCH_PROGRESS:
		if (msg->revision > m->pv.rev)
			m->pv.rev = msg->revision;
		m->pv.stale_since_ms = 0;
		break;
	case ETCD_WATCH_EVENTS:
		m->pv.stale_since_ms = 0;
		watch_events(m, msg);
		break;
	case ETCD_WATCH_COMPACTED:
		log_info("watch revision %" PRId64 " was compacted (at %" PRId64 "); re-listing",
			 m->pv.rev + 1, msg->compact_revision);
		m->pv.relist_now = true;
		break;
	case ETCD_WATCH_CANCELED:
		if (log_ratelimit_ok(&m->rl_etcd))
			log_warn("etcd canceled the watch: %s", msg->reason);
		break;
	case ETCD_WATCH_ERROR:
		/* Reported with the CLOSED message that follows. */
		break;
	case ETCD_WATCH_CLOSED:
		watch_closed(m, msg);
		break;
	}
}

static void map_swap_staging(struct leasemgr *m)
{
	struct entry *v = m->pv.map;
	size_t n = m->pv.n_map, cap = m->pv.cap_map;

	m->pv.map = m->pv.smap;
	m->pv.n_map = m->pv.n_smap;
	m->pv.cap_map = m->pv.cap_smap;
	m->pv.smap = v;
	m->pv.n_smap = n;
	m->pv.cap_smap = cap;
}

void lm_staging_clear(struct leasemgr *m)
{
	map_swap_staging(m);
	lm_map_clear(m);
	map_swap_staging(m);
}

/* A page goes into the staging map; the live map stays whole meanwhile. */
void lm_on_list_page(void *data, const struct etcd_kv *kvs, size_t n, bool restart)
{
	struct leasemgr *m = data;
	struct ip4_net sn;

	map_swap_staging(m);
	if (restart)
		lm_map_clear(m);
	for (size_t i = 0; i < n; i++)
		lm_map_put_kv(m, &kvs[i], &sn);
	map_swap_staging(m);
}

/* Our own writes after the listing's revision (an acquisition that went on
 * meanwhile) are newer than the listing: keep them, or lm_check_own would take
 * the own key for deleted. The watch from revision + 1 replays them anyway.
 * A listing below the revision already seen is another history (etcd wiped
 * or restored): nothing of the old view is kept then. */
static void keep_newer(struct leasemgr *m, int64_t revision)
{
	if (revision < m->pv.rev)
		return;
	for (size_t i = 0; i < m->pv.n_map; i++) {
		const struct entry *e = &m->pv.map[i];

		if (e->mod_rev <= revision)
			continue;
		map_swap_staging(m);
		/* e now lies in the other array, which lm_map_put does not touch. */
		lm_map_put_key(m, &e->subnet, e->key, e->value, e->create_rev, e->mod_rev,
			       e->lease);
		map_swap_staging(m);
	}
}

static void list_failed(struct leasemgr *m, const struct etcd_response *r)
{
	uint64_t d;

	lm_staging_clear(m);
	m->pv.state = LM_VIEW_RESYNCING;
	if (lm_fatal_error(m, r, "listing the subnet leases"))
		return;
	d = etcd_backoff_ms(m->pv.watch_fail++, WATCH_RETRY_BASE_MS, WATCH_RETRY_CAP_MS, rnd32());
	lm_log_etcd_error(m, "listing of subnet leases", r, d);
	lm_sync_retry(m, d);
}

/* A listing rebuilds every entry: unchanged values keep their verdict, so
 * a re-list neither counts nor logs a rejection again. */
static void carry_verdicts(struct leasemgr *m)
{
	for (size_t i = 0; i < m->pv.n_smap; i++) {
		struct entry *st = &m->pv.smap[i];
		bool found;
		size_t j = lm_map_find(m, &st->subnet, st->key, &found);

		if (found && !strcmp(m->pv.map[j].value, st->value)) {
			st->judged = m->pv.map[j].judged;
			st->verdict = m->pv.map[j].verdict;
		}
	}
}

void lm_on_list_done(void *data, const struct etcd_response *r, int64_t revision)
{
	struct leasemgr *m = data;
	struct etcd_list_stats st;
	const char *skipped;
	int ret;

	if (r) {
		list_failed(m, r);
		return;
	}
	kv_call(m, list_stats, &st, &skipped);
	if (st.skipped)
		log_warn("%" PRIu64 " keys under %s skipped so far: each value alone is over the "
			 "%u-byte page limit (last: %s)",
			 st.skipped, m->subnets_key, ETCD_LIST_PAGE_MAX, skipped);
	/* The listing replaces the view; the diff below emits only changes. */
	carry_verdicts(m);
	keep_newer(m, revision);
	map_swap_staging(m);
	lm_staging_clear(m);
	m->pv.relists++;
	log_debug("listed %s at revision %" PRId64 ": %zu leases in %" PRIu64 " ms (%" PRIu64
		  " pages so far)",
		  m->subnets_key, revision, m->pv.n_map, lm_now(m) - m->pv.list_ms, st.pages);
	m->pv.rev = revision;
	m->pv.synced = true;
	m->pv.state = LM_VIEW_STARTING;
	ret = kv_call(m, watch, m->subnets_key, m->pv.rev + 1, on_watch, m, &m->pv.watch);
	if (ret < 0) {
		m->pv.watch = NULL;
		log_err("cannot start the etcd watch: %s", strerror(-ret));
		lm_sync_retry(m, 1000);
	}
	lm_check_own(m);
	if (lm_held(m))
		lm_emit_all(m);
	else
		lm_acquire(m);
}

static void sync_start(struct leasemgr *m)
{
	int ret;

	lm_watch_drop(m);
	m->pv.list_ms = lm_now(m);
	ret = kv_call(m, list, m->subnets_key, lm_on_list_page, lm_on_list_done, m);
	if (ret < 0) {
		log_err("cannot start an etcd request: %s", strerror(-ret));
		lm_sync_retry(m, 1000);
		return;
	}
	m->pv.state = LM_VIEW_LISTING;
}

/* A listing then a watch from its revision + 1: the first sync, and every
 * resync after a break, compaction, oversized message or revision change. */
void lm_sync_fire(void *data)
{
	struct leasemgr *m = data;

	if (m->pv.state == LM_VIEW_IDLE || m->pv.state == LM_VIEW_RESYNCING)
		sync_start(m);
}
