/* Lease manager: the network config, and the listing and watch that keep
 * the map in step with etcd.
 */
#include "subnet/leasemgr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "subnet/etcd.h"
#include "subnet/etcd_list.h"
#include "subnet/subnet_pick.h"
#include "subnet/vtep.h"
#include "subnet/leasemgr_int.h"

/* ----------------------------------------------------------------- config */

static void config_retry(struct leasemgr *m)
{
	loop_timer_arm(m->t_config, etcd_backoff_ms(m->config_fail++, 500, 5000, rnd32()), 0);
}

static void config_loaded(struct leasemgr *m, const char *json)
{
	char err[256];
	int ret;

	ret = netconf_parse(json, strlen(json), &m->nc, err, sizeof(err));
	if (ret < 0) {
		if (!m->bad_config || strcmp(m->bad_config, json) != 0)
			log_err("network config at %s is invalid: %s; waiting for a fixed one",
				m->config_key, err);
		free(m->bad_config);
		m->bad_config = strdup(json);
		config_retry(m);
		return;
	}
	m->attrs.public_ip = m->public_ip;
	snprintf(m->attrs.backend_type, sizeof(m->attrs.backend_type), "vxlan");
	m->attrs.vni = m->nc.vni;
	ret = lease_vtep_mac(m->public_ip, m->nc.vni, m->attrs.vtep_mac);
	m->attrs.has_vtep_mac = ret == 0;
	m->own_value = lease_attrs_encode(&m->attrs);
	if (ret < 0 || !m->own_value) {
		struct etcd_response r = {.err = -ENOMEM};

		snprintf(r.message, sizeof(r.message), "cannot build the lease value");
		if (m->ops.on_fatal)
			m->ops.on_fatal(m->data, ret < 0 ? ret : -ENOMEM, r.message);
		return;
	}
	m->have_nc = true;
	if (m->ops.on_config)
		m->ops.on_config(m->data, &m->nc);
	/* The listing started together with the config read. */
	lm_acquire(m);
}

static void on_config(void *data, const struct etcd_response *r)
{
	struct leasemgr *m = data;

	if (r->err) {
		if (lm_fatal_error(m, r, "reading the network config"))
			return;
		lm_log_etcd_error(m, "read of the network config", r, 0);
		config_retry(m);
		return;
	}
	if (r->succeeded) {
		log_info("wrote the network config to %s", m->config_key);
		config_loaded(m, m->net_config);
		return;
	}
	if (!r->n_kvs) {
		if (!m->told_no_config)
			log_err("no network config at %s (write one, or pass --net-config-file); "
				"waiting for it",
				m->config_key);
		m->told_no_config = true;
		config_retry(m);
		return;
	}
	if (m->net_config && strcmp(m->net_config, r->kvs[0].value) != 0)
		log_info("a network config is already stored at %s; it is used as is",
			 m->config_key);
	config_loaded(m, r->kvs[0].value);
}

void lm_config_start(void *data)
{
	struct leasemgr *m = data;
	int ret;

	if (m->net_config)
		ret = etcd_txn_put(m->c, ETCD_CMP_CREATE, 0, m->config_key, m->net_config, 0,
				   on_config, m);
	else
		ret = etcd_get(m->c, m->config_key, on_config, m);
	if (ret < 0) {
		log_err("cannot start an etcd request: %s", strerror(-ret));
		config_retry(m);
	}
}
/* ------------------------------------------------------------ list + watch */

void lm_sync_retry(struct leasemgr *m, uint64_t delay_ms)
{
	loop_timer_arm(m->t_sync, delay_ms, 0);
}

/* The peer view may lag etcd from now on (kept from the first break of a
 * run of short-lived watches). */
void lm_mark_stale(struct leasemgr *m)
{
	uint64_t now = now_ms();

	if (!m->stale_since_ms || (m->watch_up && now - m->created_ms >= WATCH_PROVEN_MS))
		m->stale_since_ms = now;
}

static void watch_closed(struct leasemgr *m, const struct etcd_watch_msg *msg)
{
	uint64_t d;

	/* Only a watch that lived resets the backoff: a quiet one sees no
	 * event for minutes, a flapping one never gets that far. */
	if (m->watch_up && now_ms() - m->created_ms >= WATCH_PROVEN_MS)
		m->watch_fail = 0;
	d = m->relist_now ? 0
			  : etcd_backoff_ms(m->watch_fail++, WATCH_RETRY_BASE_MS,
					    WATCH_RETRY_CAP_MS, rnd32());
	lm_mark_stale(m);
	m->watch = NULL;
	m->watch_up = false;
	m->relist_now = false;
	/* Every new watch starts from a fresh listing: a break may hide an
	 * etcd restored from a snapshot, whose revisions mean other writes. */
	m->need_list = true;
	m->reconnects++;
	if (msg->err == ETCD_ETOOBIG) {
		m->watch_oversize++;
		log_warn("etcd watch message over the size limit (%s); re-listing in %" PRIu64
			 " ms instead of replaying",
			 msg->reason, d);
	} else if (msg->err && log_ratelimit_ok(&m->rl_etcd)) {
		log_warn("etcd watch broke (%s); re-listing in %" PRIu64 " ms", msg->reason, d);
	}
	lm_sync_retry(m, d);
}

static void watch_events(struct leasemgr *m, const struct etcd_watch_msg *msg)
{
	bool released = false;

	for (size_t i = 0; i < msg->n_events; i++) {
		const struct etcd_event *ev = &msg->events[i];
		struct ip4_net sn;

		if (ev->kv->mod_revision > m->rev)
			m->rev = ev->kv->mod_revision;
		if (ev->type == ETCD_EVENT_PUT) {
			if (lm_map_put_kv(m, ev->kv, &sn) < 0)
				continue;
		} else {
			if (lm_kv_subnet(m, ev->kv, &sn) < 0)
				continue;
			lm_map_remove_key(m, &sn, ev->kv->key);
			released = true;
		}
		if (m->held && ip4_net_equal(&sn, &m->own))
			lm_check_own(m);
		else
			lm_emit_one(m, &sn);
	}
	if (released && !m->held && m->exhausted && !m->acquiring)
		lm_acquire(m);
}

static void on_watch(void *data, const struct etcd_watch_msg *msg)
{
	struct leasemgr *m = data;

	switch (msg->kind) {
	case ETCD_WATCH_CREATED:
		/* A revision below the listing's: a member behind, or etcd
		 * replaced meanwhile. */
		if (msg->revision && msg->revision < m->rev) {
			log_warn("etcd revision went back from %" PRId64 " to %" PRId64
				 "; re-listing",
				 m->rev, msg->revision);
			etcd_watch_cancel(m->watch);
			m->watch = NULL;
			m->need_list = true;
			lm_mark_stale(m);
			/* Backoff: a member that stays behind must not spin us. */
			lm_sync_retry(m, etcd_backoff_ms(m->watch_fail++, WATCH_RETRY_BASE_MS,
							 WATCH_RETRY_CAP_MS, rnd32()));
			break;
		}
		m->watch_up = true;
		m->created_ms = now_ms();
		break;
	case ETCD_WATCH_PROGRESS:
		if (msg->revision > m->rev)
			m->rev = msg->revision;
		m->stale_since_ms = 0;
		break;
	case ETCD_WATCH_EVENTS:
		m->stale_since_ms = 0;
		watch_events(m, msg);
		break;
	case ETCD_WATCH_COMPACTED:
		log_info("watch revision %" PRId64 " was compacted (at %" PRId64 "); re-listing",
			 m->rev + 1, msg->compact_revision);
		m->relist_now = true;
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
	struct entry *v = m->map;
	size_t n = m->n_map, cap = m->cap_map;

	m->map = m->smap;
	m->n_map = m->n_smap;
	m->cap_map = m->cap_smap;
	m->smap = v;
	m->n_smap = n;
	m->cap_smap = cap;
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
	if (revision < m->rev)
		return;
	for (size_t i = 0; i < m->n_map; i++) {
		const struct entry *e = &m->map[i];

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

	m->need_list = true;
	lm_staging_clear(m);
	if (lm_fatal_error(m, r, "listing the subnet leases"))
		return;
	d = etcd_backoff_ms(m->watch_fail++, WATCH_RETRY_BASE_MS, WATCH_RETRY_CAP_MS, rnd32());
	lm_log_etcd_error(m, "listing of subnet leases", r, d);
	lm_sync_retry(m, d);
}

/* A listing rebuilds every entry: unchanged values keep their verdict, so
 * a re-list neither counts nor logs a rejection again. */
static void carry_verdicts(struct leasemgr *m)
{
	for (size_t i = 0; i < m->n_smap; i++) {
		struct entry *st = &m->smap[i];
		bool found;
		size_t j = lm_map_find(m, &st->subnet, st->key, &found);

		if (found && !strcmp(m->map[j].value, st->value)) {
			st->judged = m->map[j].judged;
			st->verdict = m->map[j].verdict;
		}
	}
}

void lm_on_list_done(void *data, const struct etcd_response *r, int64_t revision)
{
	struct leasemgr *m = data;
	struct etcd_list_stats st;
	int ret;

	m->listing = false;
	if (r) {
		list_failed(m, r);
		return;
	}
	etcd_list_get_stats(m->lister, &st);
	if (st.skipped)
		log_warn("%" PRIu64 " keys under %s skipped so far: each value alone is over the "
			 "%u-byte page limit (last: %s)",
			 st.skipped, m->subnets_key, ETCD_LIST_PAGE_MAX,
			 etcd_list_skipped_key(m->lister));
	/* The listing replaces the view; the diff below emits only changes. */
	carry_verdicts(m);
	keep_newer(m, revision);
	map_swap_staging(m);
	lm_staging_clear(m);
	m->relists++;
	log_debug("listed %s at revision %" PRId64 ": %zu leases in %" PRIu64 " ms (%" PRIu64
		  " pages so far)",
		  m->subnets_key, revision, m->n_map, now_ms() - m->list_ms, st.pages);
	m->rev = revision;
	m->synced = true;
	m->need_list = false;
	ret = etcd_watch_prefix(m->c, m->subnets_key, m->rev + 1, on_watch, m, &m->watch);
	if (ret < 0) {
		m->watch = NULL;
		m->need_list = true;
		log_err("cannot start the etcd watch: %s", strerror(-ret));
		lm_sync_retry(m, 1000);
	}
	lm_check_own(m);
	if (m->held)
		lm_emit_all(m);
	else
		lm_acquire(m);
}

static void sync_start(struct leasemgr *m)
{
	int ret;

	if (m->listing)
		return;
	if (m->watch) {
		etcd_watch_cancel(m->watch);
		m->watch = NULL;
		m->watch_up = false;
	}
	m->list_ms = now_ms();
	ret = etcd_list_start(m->lister);
	if (ret < 0) {
		log_err("cannot start an etcd request: %s", strerror(-ret));
		lm_sync_retry(m, 1000);
		return;
	}
	m->listing = true;
}

/* A listing then a watch from its revision + 1: the first sync, and every
 * resync after a break, compaction, oversized message or revision change. */
void lm_sync_fire(void *data)
{
	struct leasemgr *m = data;

	if (m->need_list || !m->synced || !m->watch)
		sync_start(m);
}
