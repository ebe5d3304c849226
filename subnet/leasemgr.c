/* Lease manager (see leasemgr.h for the flow): lifecycle, the network
 * config and status.
 *
 * Three state machines, each an explicit enum in leasemgr_int.h, driven
 * only through the kv interface (kv.h) so that a unit test runs them
 * against an in-memory store and a fake clock:
 *   config  leasemgr.c       IDLE -> READING <-> WAITING -> LOADED | FATAL
 *   view    leasemgr_sync.c  IDLE -> LISTING -> STARTING -> WATCHING,
 *                            any -> RESYNCING -> LISTING
 *   own     leasemgr_own.c   IDLE -> ACQUIRING <-> BACKOFF | EXHAUSTED -> HELD,
 *                            HELD -> ACQUIRING when the key or lease goes
 * The view of <prefix>/subnets/ is one sorted array (the "map"), rebuilt
 * from every listing and patched by watch events; the peers handed to the
 * backend (leasemgr_view.c) are a second sorted array, both diffed by
 * merging, so a resync costs O(n) however many leases exist. The lease
 * layer knows no backend: what goes into the own lease's BackendType and
 * BackendData is handed in through leasemgr_config.
 */
#include "subnet/leasemgr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "subnet/kv_etcd.h"
#include "subnet/leasemgr_int.h"

/* ---------------------------------------------------------- etcd errors */

bool lm_fatal_error(struct leasemgr *m, const struct etcd_response *r, const char *what)
{
	char why[512];

	/* A rejected certificate or bad credentials will not heal by retrying;
	 * before the first success that means a wrong setup. */
	if (m->cfg == LM_CONFIG_LOADED || (r->err != ETCD_ETLS && r->err != ETCD_EAUTH))
		return false;
	if (m->cfg == LM_CONFIG_FATAL)
		return true;
	m->cfg = LM_CONFIG_FATAL;
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
/* ----------------------------------------------------------------- config */

static void config_retry(struct leasemgr *m)
{
	m->cfg = LM_CONFIG_WAITING;
	lm_timer_arm(m, m->t_config, etcd_backoff_ms(m->config_fail++, 500, 5000, rnd32()));
}

/* What the backend publishes for this config: the IPv4 parts only with
 * IPv4 on (an IPv6-only lease says PublicIP 0.0.0.0), PublicIPv6 with an
 * own IPv6 lease. */
static int build_value(struct leasemgr *m)
{
	int ret;

	memset(&m->attrs, 0, sizeof(m->attrs));
	m->attrs.public_ip = m->public_ip;
	memcpy(m->attrs.backend_type, m->backend_type, sizeof(m->attrs.backend_type));
	ret = m->backend_data ? m->backend_data(m->data, &m->nc, &m->attrs) : 0;
	m->attrs.public_ip = m->nc.enable_ipv4 ? m->public_ip : 0;
	memcpy(m->attrs.backend_type, m->backend_type, sizeof(m->attrs.backend_type));
	if (!m->nc.enable_ipv4)
		m->attrs.has_vtep_mac = false;
	m->attrs.has_public_ipv6 = m->own_v6;
	memset(&m->attrs.public_ipv6, 0, sizeof(m->attrs.public_ipv6));
	if (m->own_v6)
		m->attrs.public_ipv6 = m->public_ipv6;
	else
		m->attrs.has_vtep_mac6 = false;
	if (ret == 0) {
		free(m->ol.own_value);
		m->ol.own_value = lease_attrs_encode(&m->attrs);
		ret = m->ol.own_value ? 0 : -ENOMEM;
	}
	return ret;
}

static void config_loaded(struct leasemgr *m, const char *json)
{
	struct netconf nc;
	char err[256];
	int ret;

	ret = netconf_parse(json, strlen(json), &nc, err, sizeof(err));
	if (!ret && !m->allow_ipv6 && (nc.enable_ipv6 || !nc.enable_ipv4)) {
		snprintf(err, sizeof(err), "%s: only IPv4 networks are supported",
			 nc.enable_ipv4 ? "EnableIPv6" : "EnableIPv4");
		ret = -EINVAL;
	}
	if (!ret)
		m->nc = nc;
	if (ret < 0) {
		if (!m->bad_config || strcmp(m->bad_config, json) != 0)
			log_err("network config at %s is invalid: %s; waiting for a fixed one",
				m->config_key, err);
		free(m->bad_config);
		m->bad_config = strdup(json);
		config_retry(m);
		return;
	}
	m->own_v6 = m->nc.enable_ipv6 && m->has_public_ipv6;
	if (m->nc.enable_ipv6 && !m->has_public_ipv6 && m->nc.enable_ipv4)
		log_warn("the network config enables IPv6 but this node has no public IPv6 "
			 "address (--public-ipv6): leasing an IPv4 subnet only, no IPv6 for "
			 "its pods");
	else if (m->nc.enable_ipv6 && !m->has_public_ipv6) {
		m->cfg = LM_CONFIG_FATAL;
		if (m->ops.on_fatal)
			m->ops.on_fatal(m->data, -EINVAL,
					"the network config enables IPv6 but this node has no "
					"public IPv6 address (--public-ipv6)");
		return;
	}
	m->any = m->nc.enable_ipv6;
	ret = build_value(m);
	if (ret < 0) {
		m->cfg = LM_CONFIG_FATAL;
		if (m->ops.on_fatal)
			m->ops.on_fatal(m->data, ret, "cannot build the lease value");
		return;
	}
	m->cfg = LM_CONFIG_LOADED;
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

	m->cfg = LM_CONFIG_READING;
	if (m->net_config)
		ret = kv_call(m, txn_put, KV_CMP_CREATE, 0, m->config_key, m->net_config, 0,
			      on_config, m);
	else
		ret = kv_call(m, get, m->config_key, on_config, m);
	if (ret < 0) {
		log_err("cannot start an etcd request: %s", strerror(-ret));
		config_retry(m);
	}
}
/* -------------------------------------------------------------- lifecycle */

static int copy_config(struct leasemgr *m, const struct leasemgr_config *cfg)
{
	size_t plen;

	m->public_ip = cfg->public_ip;
	m->ttl_s = cfg->ttl_s;
	m->ol.lease_ttl = cfg->ttl_s;
	m->backend_data = cfg->backend_data;
	snprintf(m->backend_type, sizeof(m->backend_type), "%s", cfg->backend_type);
	m->prefix = strdup(cfg->prefix);
	if (!m->prefix)
		return -ENOMEM;
	plen = strlen(m->prefix);
	while (plen > 1 && m->prefix[plen - 1] == '/')
		m->prefix[--plen] = '\0';
	if (cfg->net_config && !(m->net_config = strdup(cfg->net_config)))
		return -ENOMEM;
	if (snprintf(m->config_key, KEY_MAX, "%s/config", m->prefix) >= KEY_MAX ||
	    snprintf(m->subnets_key, KEY_MAX, "%s/subnets/", m->prefix) >= KEY_MAX)
		return -ENAMETOOLONG;
	m->ol.have_prefer = cfg->has_prev_subnet;
	m->ol.prefer = cfg->prev_subnet;
	m->allow_ipv6 = cfg->allow_ipv6;
	m->has_public_ipv6 = cfg->has_public_ipv6;
	m->public_ipv6 = cfg->public_ipv6;
	m->ol.have_prefer6 = cfg->has_prev_subnet6;
	m->ol.prefer6 = cfg->prev_subnet6;
	return 0;
}

int leasemgr_new_kv(const struct kv *kv, const struct leasemgr_config *cfg,
		    const struct leasemgr_ops *ops, void *data, struct leasemgr **out)
{
	struct leasemgr *m;
	int ret;

	if (!cfg->prefix || cfg->ttl_s < 2 || !cfg->backend_type || !cfg->backend_type[0] ||
	    strlen(cfg->backend_type) >= sizeof(m->backend_type)) {
		if (kv->ops->free)
			kv->ops->free(kv->ctx);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		if (kv->ops->free)
			kv->ops->free(kv->ctx);
		return -ENOMEM;
	}
	m->kv = *kv;
	m->ops = *ops;
	m->data = data;
	m->rl_etcd = (struct log_ratelimit)LOG_RATELIMIT_INIT(60, 5);
	m->rl_reject = (struct log_ratelimit)LOG_RATELIMIT_INIT(60, 20);
	if ((ret = copy_config(m, cfg)) < 0 ||
	    (ret = kv_call(m, timer_new, lm_config_start, m, &m->t_config)) < 0 ||
	    (ret = kv_call(m, timer_new, lm_sync_fire, m, &m->t_sync)) < 0 ||
	    (ret = kv_call(m, timer_new, lm_acquire_fire, m, &m->t_acquire)) < 0 ||
	    (ret = kv_call(m, timer_new, lm_keepalive_fire, m, &m->t_keepalive)) < 0)
		goto err;
	*out = m;
	return 0;

err:
	leasemgr_free(m);
	return ret;
}

int leasemgr_new(struct etcd_client *c, const struct leasemgr_config *cfg,
		 const struct leasemgr_ops *ops, void *data, struct leasemgr **out)
{
	struct kv kv;
	int ret = kv_etcd_new(c, &kv);

	return ret < 0 ? ret : leasemgr_new_kv(&kv, cfg, ops, data, out);
}

int leasemgr_start(struct leasemgr *m)
{
	int ret;

	m->pv.stale_since_ms = lm_now(m);
	/* Config and listing do not depend on each other: one round trip. */
	ret = m->kv.ops->timer_arm(m->t_config, 0);
	if (!ret)
		ret = m->kv.ops->timer_arm(m->t_sync, 0);
	return ret;
}

void leasemgr_free(struct leasemgr *m)
{
	if (!m)
		return;
	lm_watch_drop(m);
	m->kv.ops->timer_free(m->t_config);
	m->kv.ops->timer_free(m->t_sync);
	m->kv.ops->timer_free(m->t_acquire);
	m->kv.ops->timer_free(m->t_keepalive);
	if (m->kv.ops->free)
		m->kv.ops->free(m->kv.ctx);
	lm_map_clear(m);
	free(m->pv.map);
	m->pv.map = NULL;
	lm_staging_clear(m);
	free(m->pv.smap);
	free(m->pv.peers);
	free(m->ol.own_value);
	free(m->bad_config);
	free(m->net_config);
	free(m->prefix);
	free(m);
}

const struct netconf *leasemgr_netconf(const struct leasemgr *m)
{
	return m->cfg == LM_CONFIG_LOADED ? &m->nc : NULL;
}

size_t leasemgr_peers(const struct leasemgr *m, const struct leasemgr_peer **peers)
{
	*peers = m->pv.peers;
	return m->pv.n_peers;
}

/* 0 while a watch that outlived its first second is up, else how long the
 * view may have lagged etcd. */
static uint64_t leasemgr_stale_ms(const struct leasemgr *m)
{
	uint64_t now = lm_now(m);

	if (m->pv.state == LM_VIEW_WATCHING && now - m->created_ms >= WATCH_PROVEN_MS)
		return 0;
	return m->pv.stale_since_ms ? now - m->pv.stale_since_ms : 0;
}

void leasemgr_get_status(const struct leasemgr *m, struct leasemgr_status *st)
{
	struct etcd_list_stats ls;
	const char *skipped;

	memset(st, 0, sizeof(*st));
	st->config_loaded = m->cfg == LM_CONFIG_LOADED;
	st->lease_held = lm_held(m);
	st->reservation = lm_held(m) && m->ol.reservation;
	st->subnet = m->ol.own;
	st->key = m->ol.own_lk;
	st->lease_id = lm_held(m) && !m->ol.reservation ? m->ol.lease_id : 0;
	st->lease_ttl_s = m->ol.lease_ttl;
	st->lease_expiry_ms = lm_held(m) && !m->ol.reservation ? m->ol.expiry_ms : 0;
	st->watch_revision = m->pv.rev;
	st->watch_up = m->pv.state == LM_VIEW_WATCHING;
	st->peers_synced = m->pv.synced && m->ol.ever_held;
	st->n_peers = m->pv.n_peers;
	st->etcd_reconnects = m->reconnects;
	st->peers_stale_ms = leasemgr_stale_ms(m);
	st->relists = m->pv.relists;
	st->watch_oversize = m->pv.watch_oversize;
	kv_call(m, list_stats, &ls, &skipped);
	st->list_pages = ls.pages;
	st->list_skipped = ls.skipped;
	st->list_restarts = ls.restarts;
	st->etcd_requests = m->kv.ops->requests(m->kv.ctx);
	st->lost_races = m->ol.lost_races;
	st->acquisitions = m->ol.acquisitions;
	memcpy(st->leases_rejected_total, m->rejected, sizeof(m->rejected));
	for (size_t i = 0; i < m->pv.n_map; i++)
		if (m->pv.map[i].judged && m->pv.map[i].verdict != PEER_ACCEPTED)
			st->leases_rejected[m->pv.map[i].verdict]++;
}
