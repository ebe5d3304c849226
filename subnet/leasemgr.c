/* Lease manager state machine (see leasemgr.h for the flow).
 *
 * The view of <prefix>/subnets/ is one sorted array (the "map"), rebuilt
 * from every listing and patched by watch events. Peers handed to the
 * backend are a second sorted array; both are diffed by merging, so a
 * resync costs O(n) however many leases exist.
 *
 * This file: the own lease, lifecycle and status. The map and the peers are
 * in leasemgr_view.c, the config, listing and watch in leasemgr_sync.c.
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

static void acquire_step(struct leasemgr *m);

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------- etcd errors */

bool lm_fatal_error(struct leasemgr *m, const struct etcd_response *r, const char *what)
{
	char why[512];

	/* A rejected certificate or bad credentials will not heal by retrying;
	 * before the first success that means a wrong setup. */
	if (m->have_nc || (r->err != ETCD_ETLS && r->err != ETCD_EAUTH))
		return false;
	if (m->fatal)
		return true;
	m->fatal = true;
	snprintf(why, sizeof(why), "%s: %s%s%s", what,
		 r->err == ETCD_ETLS ? "TLS failure: " : "authentication failed: ", r->message,
		 r->err == ETCD_ETLS ? " (check the etcd CA, certificate and key files)"
				     : " (check the etcd user name and password)");
	if (m->ops.on_fatal)
		m->ops.on_fatal(m->data, r->err, why);
	return true;
}

void lm_log_etcd_error(struct leasemgr *m, const char *what, const struct etcd_response *r,
		       uint64_t retry_ms)
{
	if (log_ratelimit_ok(&m->rl_etcd))
		log_warn("etcd %s failed: %s; retrying in %" PRIu64 " ms", what, r->message,
			 retry_ms);
}
/* ----------------------------------------------------------- own lease */

static void keepalive_arm(struct leasemgr *m, uint64_t delay_ms)
{
	if (m->held && !m->reservation && m->lease_id)
		loop_timer_arm(m->t_keepalive, delay_ms, 0);
}

/* TTL/3, but at least every few minutes: a keepalive that times out is
 * also how a silently dead connection (partition, hung etcd) is found, as
 * the watch alone only learns of it after its low-speed limit. */
static uint64_t keepalive_period_ms(const struct leasemgr *m)
{
	uint64_t p = (uint64_t)m->lease_ttl * 1000 / 3;

	if (p > KEEPALIVE_MAX_MS)
		p = KEEPALIVE_MAX_MS;
	return p < 1000 ? 1000 : p;
}

static void lose_own(struct leasemgr *m, bool prefer_same)
{
	struct ip4_net old = m->own;

	m->held = false;
	m->reservation = false;
	m->tried_adopt = false;
	loop_timer_disarm(m->t_keepalive);
	m->have_prefer = prefer_same;
	m->prefer = old;
	if (m->ops.on_lease_lost)
		m->ops.on_lease_lost(m->data, &old);
	lm_acquire(m);
}

static void became_held(struct leasemgr *m, const struct ip4_net *sn, int64_t mod_rev,
			int64_t lease, const char *how)
{
	char s[IP4_NET_STRLEN];

	lm_map_put(m, sn, m->own_value, mod_rev, lease);
	m->held = true;
	m->own = *sn;
	m->reservation = lease == 0;
	m->acquiring = false;
	m->exhausted = false;
	m->have_prefer = false;
	m->races_in_row = 0;
	m->acquire_fail = 0;
	m->ka_fail = 0;
	m->acquisitions++;
	loop_timer_disarm(m->t_acquire);
	if (lease)
		m->expiry_ms = realtime_ms() + (uint64_t)m->lease_ttl * 1000;
	else
		m->expiry_ms = 0;
	if (lease)
		log_info("subnet %s acquired (%s), etcd lease %" PRId64 " with TTL %" PRId64 " s",
			 net_str(sn, s), how, lease, m->lease_ttl);
	else
		log_info("subnet %s acquired (%s), reservation without TTL", net_str(sn, s), how);
	m->ever_held = true;
	if (m->ops.on_lease_acquired)
		m->ops.on_lease_acquired(m->data, sn, &m->attrs);
	lm_emit_all(m);
	keepalive_arm(m, keepalive_period_ms(m));
}

static void acquire_retry(struct leasemgr *m, uint64_t delay_ms)
{
	m->acquiring = false;
	loop_timer_arm(m->t_acquire, delay_ms, 0);
}

static void acquire_failed(struct leasemgr *m, const char *what, const struct etcd_response *r)
{
	uint64_t d = etcd_backoff_ms(m->acquire_fail++, RETRY_BASE_MS, RETRY_CAP_MS, rnd32());

	if (lm_fatal_error(m, r, what))
		return;
	lm_log_etcd_error(m, what, r, d);
	acquire_retry(m, d);
}

static bool lease_not_found(const struct etcd_response *r)
{
	return r->err && (r->grpc_code == 5 || r->http_status == 404);
}

static void on_keepalive(void *data, const struct etcd_response *r)
{
	struct leasemgr *m = data;
	char s[IP4_NET_STRLEN];

	if (!m->held || m->reservation || !m->lease_id)
		return;
	if (r->err) {
		uint64_t d = etcd_backoff_ms(m->ka_fail++, 1000, 30000, rnd32());

		if (d > keepalive_period_ms(m))
			d = keepalive_period_ms(m);
		lm_log_etcd_error(m, "lease keepalive", r, d);
		keepalive_arm(m, d);
		/* etcd did not answer in time: the watch connection is suspect. */
		if (r->err == ETCD_ETIMEDOUT && m->watch) {
			lm_mark_stale(m);
			etcd_watch_cancel(m->watch);
			m->watch = NULL;
			m->watch_up = false;
			m->reconnects++;
			lm_sync_retry(m, 0);
		}
		return;
	}
	m->ka_fail = 0;
	/* An answer about a lease we no longer use. */
	if (r->lease_id && r->lease_id != m->lease_id)
		return;
	if (r->ttl <= 0) {
		log_warn("etcd lease %" PRId64 " of subnet %s is gone; re-acquiring (same subnet "
			 "if still free)",
			 m->lease_id, net_str(&m->own, s));
		m->lease_id = 0;
		lose_own(m, true);
		return;
	}
	m->expiry_ms = realtime_ms() + (uint64_t)r->ttl * 1000;
	keepalive_arm(m, keepalive_period_ms(m));
}

static void keepalive_fire(void *data)
{
	struct leasemgr *m = data;
	int ret;

	ret = etcd_lease_keepalive(m->c, m->lease_id, on_keepalive, m);
	if (ret < 0)
		keepalive_arm(m, 1000);
}

/* ---------------------------------------------------------------- acquire */

static void on_granted(void *data, const struct etcd_response *r)
{
	struct leasemgr *m = data;

	if (r->err) {
		acquire_failed(m, "lease grant", r);
		return;
	}
	m->lease_id = r->lease_id;
	m->lease_ttl = r->ttl;
	acquire_step(m);
}

/* A compare failed: learn the key's current state and think again. */
static void txn_lost(struct leasemgr *m, const struct etcd_response *r)
{
	struct ip4_net sn;

	if (r->n_kvs)
		lm_map_put_kv(m, &r->kvs[0], &sn);
	else
		lm_map_remove(m, &m->trying);
}

/* The common part of a put's answer: our etcd lease vanished meanwhile
 * (grant a new one and start over) or the request failed. True when the
 * answer still needs handling. */
static bool put_answered(struct leasemgr *m, const struct etcd_response *r, const char *what)
{
	if (lease_not_found(r)) {
		m->lease_id = 0;
		acquire_step(m);
		return false;
	}
	if (r->err) {
		acquire_failed(m, what, r);
		return false;
	}
	return true;
}

static void on_created(void *data, const struct etcd_response *r)
{
	struct leasemgr *m = data;
	char s[IP4_NET_STRLEN], ip[IP4_ADDR_STRLEN] = "?";
	struct entry *e;

	if (!put_answered(m, r, "subnet create"))
		return;
	if (r->succeeded) {
		became_held(m, &m->trying, r->revision, m->lease_id, "new");
		return;
	}
	txn_lost(m, r);
	m->lost_races++;
	m->races_in_row++;
	e = lm_map_get(m, &m->trying);
	if (e && e->decoded)
		ip4_format_addr(e->attrs.public_ip, ip);
	log_info("subnet %s was taken concurrently (by %s); trying another subnet",
		 net_str(&m->trying, s), ip);
	if (m->have_prefer && ip4_net_equal(&m->prefer, &m->trying))
		m->have_prefer = false;
	if (m->races_in_row > RACES_BEFORE_PAUSE)
		acquire_retry(m, etcd_backoff_ms(m->races_in_row - RACES_BEFORE_PAUSE, 50, 2000,
						 rnd32()));
	else
		acquire_step(m);
}

static void on_reuse_put(void *data, const struct etcd_response *r)
{
	struct leasemgr *m = data;
	struct entry *e;

	if (!put_answered(m, r, "lease update"))
		return;
	if (r->succeeded) {
		e = lm_map_get(m, &m->trying);
		became_held(m, &m->trying, r->revision, e && !e->lease ? 0 : m->lease_id,
			    e && !e->lease ? "reserved for this node, value updated"
					   : "reused, value updated");
		return;
	}
	txn_lost(m, r);
	acquire_step(m);
}

static void on_adopt(void *data, const struct etcd_response *r)
{
	struct leasemgr *m = data;
	struct entry *e = lm_map_get(m, &m->trying);

	if (r->err) {
		acquire_failed(m, "lease keepalive", r);
		return;
	}
	/* Alive and with the wanted TTL: keep it, so a restart writes nothing. */
	if (e && r->ttl > 0 && r->ttl == m->ttl_s && e->lease == r->lease_id) {
		m->lease_id = r->lease_id;
		m->lease_ttl = r->ttl;
	}
	acquire_step(m);
}

static void on_stale_deleted(void *data, const struct etcd_response *r)
{
	struct leasemgr *m = data;

	if (r->err) {
		acquire_failed(m, "removal of a stale lease", r);
		return;
	}
	if (r->succeeded)
		lm_map_remove(m, &m->trying);
	else
		txn_lost(m, r);
	acquire_step(m);
}

static int reuse(struct leasemgr *m, struct entry *e)
{
	char key[KEY_MAX];

	lease_key_format(m->prefix, &e->subnet, key, sizeof(key));
	m->trying = e->subnet;
	if (!e->lease) {
		/* A reservation: keep it lease-less, refresh our value only. */
		if (!strcmp(e->value, m->own_value)) {
			became_held(m, &e->subnet, e->mod_rev, 0, "reserved for this node");
			return 0;
		}
		return etcd_txn_put(m->c, ETCD_CMP_MOD, e->mod_rev, key, m->own_value, 0,
				    on_reuse_put, m);
	}
	if (e->lease == m->lease_id) {
		if (!strcmp(e->value, m->own_value)) {
			became_held(m, &e->subnet, e->mod_rev, e->lease, "reused");
			return 0;
		}
		return etcd_txn_put(m->c, ETCD_CMP_MOD, e->mod_rev, key, m->own_value, m->lease_id,
				    on_reuse_put, m);
	}
	if (!m->tried_adopt) {
		m->tried_adopt = true;
		return etcd_lease_keepalive(m->c, e->lease, on_adopt, m);
	}
	if (!m->lease_id)
		return etcd_lease_grant(m->c, m->ttl_s, on_granted, m);
	return etcd_txn_put(m->c, ETCD_CMP_MOD, e->mod_rev, key, m->own_value, m->lease_id,
			    on_reuse_put, m);
}

int leasemgr_pick_free(const struct netconf *nc, const uint32_t *taken, size_t n_taken, uint64_t r,
		       struct ip4_net *out)
{
	struct ip4_net *t = malloc((n_taken ? n_taken : 1) * sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n_taken; i++)
		t[i] = (struct ip4_net){taken[i], nc->subnet_len};
	ret = subnet_pick_free(nc, t, n_taken, r, out);
	free(t);
	return ret;
}

/* Any lease overlapping a candidate makes it taken, whatever its length:
 * leases of an older SubnetLen still hold their addresses. */
static int pick(struct leasemgr *m, struct ip4_net *out)
{
	struct ip4_net *taken;
	uint64_t r;
	int ret;

	taken = malloc((m->n_map + 1) * sizeof(*taken));
	if (!taken)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_map; i++)
		taken[i] = m->map[i].subnet;
	if (m->have_prefer && subnet_is_free(&m->nc, taken, m->n_map, &m->prefer)) {
		*out = m->prefer;
		ret = 0;
		goto free_taken;
	}
	r = ((uint64_t)rnd32() << 32) | rnd32();
	ret = subnet_pick_free(&m->nc, taken, m->n_map, r, out);
free_taken:
	free(taken);
	return ret;
}

static void acquire_step(struct leasemgr *m)
{
	char key[KEY_MAX], s[IP4_NET_STRLEN], t[IP4_NET_STRLEN];
	int ret = 0;

	m->acquiring = true;
	/* 1. The lease that carries our PublicIP, a live one before a
	 * reservation: a node keeps the subnet its pods use. */
	for (size_t i = 0; i < 2 * m->n_map; i++) {
		struct entry *e = &m->map[i % m->n_map];

		if (!e->plain || !e->decoded || e->attrs.public_ip != m->public_ip ||
		    (i < m->n_map) != (e->lease != 0))
			continue;
		if (netconf_subnet_valid(&m->nc, &e->subnet)) {
			ret = reuse(m, e);
			goto out;
		}
		/* An operator's reservation is never deleted, only passed over. */
		if (!e->lease) {
			if (!m->told_bad_reservation)
				log_warn("reservation %s for this node lies outside the network "
					 "config; ignored",
					 net_str(&e->subnet, s));
			m->told_bad_reservation = true;
			continue;
		}
		log_info("lease %s carries this node's PublicIP but lies outside the network "
			 "config; removing it",
			 net_str(&e->subnet, s));
		m->trying = e->subnet;
		lease_key_format(m->prefix, &e->subnet, key, sizeof(key));
		ret = etcd_txn_delete(m->c, e->mod_rev, key, on_stale_deleted, m);
		goto out;
	}
	/* 2. Our own etcd lease to attach the key to. */
	if (!m->lease_id) {
		ret = etcd_lease_grant(m->c, m->ttl_s, on_granted, m);
		goto out;
	}
	/* 3. The preferred subnet if free, else a random free one. */
	ret = pick(m, &m->trying);
	if (ret == -ENOSPC) {
		struct ip4_net lo = {m->nc.subnet_min, m->nc.subnet_len};
		struct ip4_net hi = {m->nc.subnet_max, m->nc.subnet_len};

		if (!m->exhausted)
			log_err("no free subnet: all %" PRIu64 " subnets from %s to %s are leased; "
				"retrying every %d s and whenever a lease is released",
				netconf_subnet_count(&m->nc), net_str(&lo, s), net_str(&hi, t),
				EXHAUSTED_RETRY_MS / 1000);
		m->exhausted = true;
		acquire_retry(m, EXHAUSTED_RETRY_MS);
		return;
	}
	if (ret < 0)
		goto out;
	lease_key_format(m->prefix, &m->trying, key, sizeof(key));
	ret = etcd_txn_put(m->c, ETCD_CMP_CREATE, 0, key, m->own_value, m->lease_id, on_created, m);
out:
	if (ret < 0) {
		log_err("cannot start the lease acquisition: %s", strerror(-ret));
		acquire_retry(m, 1000);
	}
}

void lm_acquire(struct leasemgr *m)
{
	if (!m->have_nc || !m->synced || m->held || m->acquiring)
		return;
	loop_timer_disarm(m->t_acquire);
	acquire_step(m);
}

static void acquire_fire(void *data)
{
	lm_acquire(data);
}

/* The own key changed under us (listing or watch). */
void lm_check_own(struct leasemgr *m)
{
	struct entry *e;
	char s[IP4_NET_STRLEN], ip[IP4_ADDR_STRLEN];

	if (!m->held)
		return;
	e = lm_map_get(m, &m->own);
	if (!e) {
		log_warn("the lease key of subnet %s was deleted; re-acquiring (same subnet if "
			 "still free)",
			 net_str(&m->own, s));
		lose_own(m, true);
		return;
	}
	if (!e->decoded || e->attrs.public_ip != m->public_ip) {
		if (e->decoded)
			ip4_format_addr(e->attrs.public_ip, ip);
		else
			snprintf(ip, sizeof(ip), "?");
		log_warn("subnet %s now belongs to %s; acquiring another one", net_str(&m->own, s),
			 ip);
		lose_own(m, false);
		return;
	}
	m->reservation = e->lease == 0;
	/* Other keys naming the own subnet. */
	lm_emit_one(m, &m->own);
}
/* -------------------------------------------------------------- lifecycle */

int leasemgr_new(struct etcd_client *c, const struct leasemgr_config *cfg,
		 const struct leasemgr_ops *ops, void *data, struct leasemgr **out)
{
	struct leasemgr *m;
	size_t plen;
	int ret = -ENOMEM;

	if (!cfg->prefix || cfg->ttl_s < 2)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->c = c;
	m->ops = *ops;
	m->data = data;
	m->public_ip = cfg->public_ip;
	m->ttl_s = cfg->ttl_s;
	m->lease_ttl = cfg->ttl_s;
	m->rl_etcd = (struct log_ratelimit)LOG_RATELIMIT_INIT(60, 5);
	m->rl_reject = (struct log_ratelimit)LOG_RATELIMIT_INIT(60, 20);
	m->prefix = strdup(cfg->prefix);
	if (!m->prefix)
		goto err;
	plen = strlen(m->prefix);
	while (plen > 1 && m->prefix[plen - 1] == '/')
		m->prefix[--plen] = '\0';
	if (cfg->net_config) {
		m->net_config = strdup(cfg->net_config);
		if (!m->net_config)
			goto err;
	}
	if (snprintf(m->config_key, KEY_MAX, "%s/config", m->prefix) >= KEY_MAX ||
	    snprintf(m->subnets_key, KEY_MAX, "%s/subnets/", m->prefix) >= KEY_MAX) {
		ret = -ENAMETOOLONG;
		goto err;
	}
	m->have_prefer = cfg->has_prev_subnet;
	m->prefer = cfg->prev_subnet;
	if ((ret = loop_add_timer(etcd_client_loop(c), lm_config_start, m, &m->t_config)) < 0 ||
	    (ret = loop_add_timer(etcd_client_loop(c), lm_sync_fire, m, &m->t_sync)) < 0 ||
	    (ret = loop_add_timer(etcd_client_loop(c), acquire_fire, m, &m->t_acquire)) < 0 ||
	    (ret = loop_add_timer(etcd_client_loop(c), keepalive_fire, m, &m->t_keepalive)) < 0 ||
	    (ret = etcd_list_new(c, m->subnets_key, lm_on_list_page, lm_on_list_done, m,
				 &m->lister)) < 0)
		goto err;
	*out = m;
	return 0;

err:
	leasemgr_free(m);
	return ret;
}

int leasemgr_start(struct leasemgr *m)
{
	int ret;

	m->stale_since_ms = now_ms();
	/* Config and listing do not depend on each other: one round trip. */
	ret = loop_timer_arm(m->t_config, 0, 0);
	if (!ret)
		ret = loop_timer_arm(m->t_sync, 0, 0);
	return ret;
}

void leasemgr_free(struct leasemgr *m)
{
	if (!m)
		return;
	etcd_watch_cancel(m->watch);
	loop_timer_free(m->t_config);
	loop_timer_free(m->t_sync);
	loop_timer_free(m->t_acquire);
	loop_timer_free(m->t_keepalive);
	etcd_list_free(m->lister);
	lm_map_clear(m);
	free(m->map);
	m->map = NULL;
	lm_staging_clear(m);
	free(m->smap);
	free(m->peers);
	free(m->own_value);
	free(m->bad_config);
	free(m->net_config);
	free(m->prefix);
	free(m);
}

const struct netconf *leasemgr_netconf(const struct leasemgr *m)
{
	return m->have_nc ? &m->nc : NULL;
}

size_t leasemgr_peers(const struct leasemgr *m, const struct leasemgr_peer **peers)
{
	*peers = m->peers;
	return m->n_peers;
}

/* 0 while a watch that outlived its first second is up, else how long the
 * view may have lagged etcd. */
static uint64_t leasemgr_stale_ms(const struct leasemgr *m)
{
	uint64_t now = now_ms();

	if (m->watch_up && now - m->created_ms >= WATCH_PROVEN_MS)
		return 0;
	return m->stale_since_ms ? now - m->stale_since_ms : 0;
}

void leasemgr_get_status(const struct leasemgr *m, struct leasemgr_status *st)
{
	struct etcd_list_stats ls;

	memset(st, 0, sizeof(*st));
	st->config_loaded = m->have_nc;
	st->lease_held = m->held;
	st->reservation = m->held && m->reservation;
	st->subnet = m->own;
	st->lease_id = m->held && !m->reservation ? m->lease_id : 0;
	st->lease_ttl_s = m->lease_ttl;
	st->lease_expiry_ms = m->held && !m->reservation ? m->expiry_ms : 0;
	st->watch_revision = m->rev;
	st->watch_up = m->watch_up;
	st->peers_synced = m->synced && m->ever_held;
	st->n_peers = m->n_peers;
	st->etcd_reconnects = m->reconnects;
	st->peers_stale_ms = leasemgr_stale_ms(m);
	st->relists = m->relists;
	st->watch_oversize = m->watch_oversize;
	etcd_list_get_stats(m->lister, &ls);
	st->list_pages = ls.pages;
	st->list_skipped = ls.skipped;
	st->list_restarts = ls.restarts;
	st->etcd_requests = etcd_client_requests(m->c);
	st->lost_races = m->lost_races;
	st->acquisitions = m->acquisitions;
	memcpy(st->leases_rejected_total, m->rejected, sizeof(m->rejected));
	for (size_t i = 0; i < m->n_map; i++)
		if (m->map[i].judged && m->map[i].verdict != PEER_ACCEPTED)
			st->leases_rejected[m->map[i].verdict]++;
}
