/* Lease manager: the own lease (see leasemgr.h for the flow).
 *
 * IDLE until the config is loaded and a first listing is in; ACQUIRING while
 * one step's etcd request is in flight (reuse, adopt, grant, create, delete of
 * a stale lease); BACKOFF or EXHAUSTED with the acquire timer armed; HELD with
 * the keepalive timer armed. Losing the key or the etcd lease goes back to
 * acquiring, preferring the same subnet.
 */
#include "subnet/leasemgr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "subnet/subnet_pick.h"
#include "subnet/leasemgr_int.h"

static void acquire_step(struct leasemgr *m);

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------------- own lease */

static void keepalive_arm(struct leasemgr *m, uint64_t delay_ms)
{
	if (lm_held(m) && !m->ol.reservation && m->ol.lease_id)
		lm_timer_arm(m, m->t_keepalive, delay_ms);
}

/* TTL/3, but at least every few minutes: a keepalive that times out is
 * also how a silently dead connection (partition, hung etcd) is found, as
 * the watch alone only learns of it after its low-speed limit. */
static uint64_t keepalive_period_ms(const struct leasemgr *m)
{
	uint64_t p = (uint64_t)m->ol.lease_ttl * 1000 / 3;

	if (p > KEEPALIVE_MAX_MS)
		p = KEEPALIVE_MAX_MS;
	return p < 1000 ? 1000 : p;
}

static void lose_own(struct leasemgr *m, bool prefer_same)
{
	struct lease_key old = m->ol.own_lk;

	m->ol.state = LM_OWN_IDLE;
	m->ol.reservation = false;
	m->ol.tried_adopt = false;
	lm_timer_disarm(m, m->t_keepalive);
	m->ol.have_prefer = prefer_same && old.has_v4;
	m->ol.prefer = old.v4;
	m->ol.have_prefer6 = prefer_same && old.has_v6;
	m->ol.prefer6 = old.v6;
	if (m->ops.on_lease_lost)
		m->ops.on_lease_lost(m->data, &old);
	lm_acquire(m);
}

static void became_held(struct leasemgr *m, const struct lease_key *k, int64_t mod_rev,
			int64_t lease, const char *how)
{
	char s[LK_STRLEN];
	const struct lease_key own = *k;

	lm_map_put_lk(m, &own, m->ol.own_value, mod_rev, lease);
	m->ol.state = LM_OWN_HELD;
	m->ol.told_exhausted = false;
	m->ol.own_lk = own;
	m->ol.own = own.has_v4 ? own.v4 : (struct ip4_net){0, 0};
	lease_key_format_any(m->prefix, &own, m->ol.own_key, sizeof(m->ol.own_key));
	m->ol.reservation = lease == 0;
	m->ol.have_prefer = false;
	m->ol.have_prefer6 = false;
	m->ol.races_in_row = 0;
	m->ol.acquire_fail = 0;
	m->ol.ka_fail = 0;
	m->ol.acquisitions++;
	lm_timer_disarm(m, m->t_acquire);
	if (lease)
		m->ol.expiry_ms = realtime_ms() + (uint64_t)m->ol.lease_ttl * 1000;
	else
		m->ol.expiry_ms = 0;
	if (lease)
		log_info("subnet %s acquired (%s), etcd lease %" PRId64 " with TTL %" PRId64 " s",
			 lk_str(&own, s), how, lease, m->ol.lease_ttl);
	else
		log_info("subnet %s acquired (%s), reservation without TTL", lk_str(&own, s), how);
	m->ol.ever_held = true;
	if (m->ops.on_lease_acquired)
		m->ops.on_lease_acquired(m->data, &m->ol.own_lk, &m->attrs);
	lm_emit_all(m);
	keepalive_arm(m, keepalive_period_ms(m));
}

static void acquire_retry(struct leasemgr *m, enum lm_own_state st, uint64_t delay_ms)
{
	m->ol.state = st;
	lm_timer_arm(m, m->t_acquire, delay_ms);
}

static void acquire_failed(struct leasemgr *m, const char *what, const struct etcd_response *r)
{
	uint64_t d = etcd_backoff_ms(m->ol.acquire_fail++, RETRY_BASE_MS, RETRY_CAP_MS, rnd32());

	if (lm_fatal_error(m, r, what))
		return;
	lm_log_etcd_error(m, what, r, d);
	acquire_retry(m, LM_OWN_BACKOFF, d);
}

static bool lease_not_found(const struct etcd_response *r)
{
	return r->err && (r->grpc_code == 5 || r->http_status == 404);
}

static void on_keepalive(void *data, const struct etcd_response *r)
{
	struct leasemgr *m = data;
	char s[LK_STRLEN];

	if (!lm_held(m) || m->ol.reservation || !m->ol.lease_id)
		return;
	if (r->err) {
		uint64_t d = etcd_backoff_ms(m->ol.ka_fail++, 1000, 30000, rnd32());

		if (d > keepalive_period_ms(m))
			d = keepalive_period_ms(m);
		lm_log_etcd_error(m, "lease keepalive", r, d);
		keepalive_arm(m, d);
		/* etcd did not answer in time: the watch connection is suspect. */
		if (r->err == ETCD_ETIMEDOUT && m->pv.watch) {
			lm_mark_stale(m);
			lm_watch_drop(m);
			m->reconnects++;
			lm_sync_retry(m, 0);
		}
		return;
	}
	m->ol.ka_fail = 0;
	/* An answer about a lease we no longer use. */
	if (r->lease_id && r->lease_id != m->ol.lease_id)
		return;
	if (r->ttl <= 0) {
		log_warn("etcd lease %" PRId64 " of subnet %s is gone; re-acquiring (same subnet "
			 "if still free)",
			 m->ol.lease_id, lk_str(&m->ol.own_lk, s));
		m->ol.lease_id = 0;
		lose_own(m, true);
		return;
	}
	m->ol.expiry_ms = realtime_ms() + (uint64_t)r->ttl * 1000;
	keepalive_arm(m, keepalive_period_ms(m));
}

void lm_keepalive_fire(void *data)
{
	struct leasemgr *m = data;
	int ret;

	ret = kv_call(m, lease_keepalive, m->ol.lease_id, on_keepalive, m);
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
	m->ol.lease_id = r->lease_id;
	m->ol.lease_ttl = r->ttl;
	acquire_step(m);
}

/* A compare failed: learn the key's current state and think again. */
static void txn_lost(struct leasemgr *m, const struct etcd_response *r)
{
	struct ip4_net sn;

	if (r->n_kvs)
		lm_map_put_kv(m, &r->kvs[0], &sn);
	else
		lm_map_remove_lk(m, &m->ol.trying);
}

/* The common part of a put's answer: our etcd lease vanished meanwhile
 * (grant a new one and start over) or the request failed. True when the
 * answer still needs handling. */
static bool put_answered(struct leasemgr *m, const struct etcd_response *r, const char *what)
{
	if (lease_not_found(r)) {
		m->ol.lease_id = 0;
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
	char s[LK_STRLEN], ip[IP6_ADDR_STRLEN] = "?";
	struct entry *e;

	if (!put_answered(m, r, "subnet create"))
		return;
	if (r->succeeded) {
		became_held(m, &m->ol.trying, r->revision, m->ol.lease_id, "new");
		return;
	}
	txn_lost(m, r);
	m->ol.lost_races++;
	m->ol.races_in_row++;
	e = lm_map_get_lk(m, &m->ol.trying);
	if (e && e->decoded && m->nc.enable_ipv4)
		ip4_format_addr(e->attrs.public_ip, ip);
	else if (e && e->decoded && e->attrs.has_public_ipv6)
		ip6_format_addr(&e->attrs.public_ipv6, ip);
	log_info("subnet %s was taken concurrently (by %s); trying another subnet",
		 lk_str(&m->ol.trying, s), ip);
	if (m->ol.have_prefer && m->ol.trying.has_v4 &&
	    ip4_net_equal(&m->ol.prefer, &m->ol.trying.v4))
		m->ol.have_prefer = false;
	if (m->ol.have_prefer6 && m->ol.trying.has_v6 &&
	    ip6_net_equal(&m->ol.prefer6, &m->ol.trying.v6))
		m->ol.have_prefer6 = false;
	if (m->ol.races_in_row > RACES_BEFORE_PAUSE)
		acquire_retry(m, LM_OWN_BACKOFF,
			      etcd_backoff_ms(m->ol.races_in_row - RACES_BEFORE_PAUSE, 50, 2000,
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
		e = lm_map_get_lk(m, &m->ol.trying);
		became_held(m, &m->ol.trying, r->revision, e && !e->lease ? 0 : m->ol.lease_id,
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
	struct entry *e = lm_map_get_lk(m, &m->ol.trying);

	if (r->err) {
		acquire_failed(m, "lease keepalive", r);
		return;
	}
	/* Alive and with the wanted TTL: keep it, so a restart writes nothing. */
	if (e && r->ttl > 0 && r->ttl == m->ttl_s && e->lease == r->lease_id) {
		m->ol.lease_id = r->lease_id;
		m->ol.lease_ttl = r->ttl;
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
		lm_map_remove_lk(m, &m->ol.trying);
	else
		txn_lost(m, r);
	acquire_step(m);
}

/* The subnets of an entry as the own lease would name them. */
static struct lease_key entry_lk(const struct leasemgr *m, const struct entry *e)
{
	if (m->any)
		return e->lk;
	return (struct lease_key){.has_v4 = true, .v4 = e->subnet};
}

/* A key this node would write: the canonical one of its subnets. */
static bool own_form(const struct leasemgr *m, const struct entry *e)
{
	return m->any ? e->plain_any : e->plain;
}

/* The value names this node: its PublicIP, or with IPv6 its PublicIPv6
 * (either is enough in dual stack: one address may have changed). */
static bool names_us(const struct leasemgr *m, const struct lease_attrs *a)
{
	bool v6 =
		m->own_v6 && a->has_public_ipv6 && ip6_addr_equal(&a->public_ipv6, &m->public_ipv6);

	if (!m->nc.enable_ipv4)
		return v6;
	return a->public_ip == m->public_ip || v6;
}

/* Every subnet of k is leasable and k names exactly the config's families. */
static bool lk_leasable(const struct leasemgr *m, const struct lease_key *k)
{
	if (!m->any)
		return netconf_subnet_valid(&m->nc, &k->v4);
	return lk_families_ok(m, k) && (!k->has_v4 || netconf_subnet_valid(&m->nc, &k->v4)) &&
	       (!k->has_v6 || netconf_ipv6_subnet_valid(&m->nc, &k->v6));
}

static int reuse(struct leasemgr *m, struct entry *e)
{
	char key[KEY_MAX];

	m->ol.trying = entry_lk(m, e);
	lease_key_format_any(m->prefix, &m->ol.trying, key, sizeof(key));
	if (!e->lease) {
		/* A reservation: keep it lease-less, refresh our value only. */
		if (!strcmp(e->value, m->ol.own_value)) {
			became_held(m, &m->ol.trying, e->mod_rev, 0, "reserved for this node");
			return 0;
		}
		return kv_call(m, txn_put, KV_CMP_MOD, e->mod_rev, key, m->ol.own_value, 0,
			       on_reuse_put, m);
	}
	if (e->lease == m->ol.lease_id) {
		if (!strcmp(e->value, m->ol.own_value)) {
			became_held(m, &m->ol.trying, e->mod_rev, e->lease, "reused");
			return 0;
		}
		return kv_call(m, txn_put, KV_CMP_MOD, e->mod_rev, key, m->ol.own_value,
			       m->ol.lease_id, on_reuse_put, m);
	}
	if (!m->ol.tried_adopt) {
		m->ol.tried_adopt = true;
		return kv_call(m, lease_keepalive, e->lease, on_adopt, m);
	}
	if (!m->ol.lease_id)
		return kv_call(m, lease_grant, m->ttl_s, on_granted, m);
	return kv_call(m, txn_put, KV_CMP_MOD, e->mod_rev, key, m->ol.own_value, m->ol.lease_id,
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
static int pick4(struct leasemgr *m, struct ip4_net *out)
{
	struct ip4_net *taken;
	size_t n = 0;
	uint64_t r;
	int ret;

	taken = malloc((m->pv.n_map + 1) * sizeof(*taken));
	if (!taken)
		return -ENOMEM;
	/* IPv6-only keys hold no IPv4 subnet. */
	for (size_t i = 0; i < m->pv.n_map; i++)
		if (!m->pv.map[i].has_lk || m->pv.map[i].lk.has_v4)
			taken[n++] = m->pv.map[i].subnet;
	if (m->ol.have_prefer && subnet_is_free(&m->nc, taken, n, &m->ol.prefer)) {
		*out = m->ol.prefer;
		ret = 0;
		goto free_taken;
	}
	r = ((uint64_t)rnd32() << 32) | rnd32();
	ret = subnet_pick_free(&m->nc, taken, n, r, out);
free_taken:
	free(taken);
	return ret;
}

static int pick6(struct leasemgr *m, struct ip6_net *out)
{
	struct ip6_net *taken;
	size_t n = 0;
	uint64_t r;
	int ret;

	taken = malloc((m->pv.n_map + 1) * sizeof(*taken));
	if (!taken)
		return -ENOMEM;
	for (size_t i = 0; i < m->pv.n_map; i++)
		if (m->pv.map[i].has_lk && m->pv.map[i].lk.has_v6)
			taken[n++] = m->pv.map[i].lk.v6;
	if (m->ol.have_prefer6 && subnet6_is_free(&m->nc, taken, n, &m->ol.prefer6)) {
		*out = m->ol.prefer6;
		ret = 0;
		goto free_taken;
	}
	r = ((uint64_t)rnd32() << 32) | rnd32();
	ret = subnet6_pick_free(&m->nc, taken, n, r, out);
free_taken:
	free(taken);
	return ret;
}

/* A subnet of every enabled family, or none: never half a lease. *v6_full
 * tells which family ran out. */
static int pick(struct leasemgr *m, struct lease_key *out, bool *v6_full)
{
	struct lease_key k = {0};
	int ret = 0;

	*v6_full = false;
	if (m->nc.enable_ipv4) {
		k.has_v4 = true;
		ret = pick4(m, &k.v4);
	}
	if (!ret && m->own_v6) {
		k.has_v6 = true;
		ret = pick6(m, &k.v6);
		*v6_full = ret == -ENOSPC;
	}
	if (!ret)
		*out = k;
	return ret;
}

static void exhausted(struct leasemgr *m, bool v6_full)
{
	char s[IP6_NET_STRLEN], t[IP6_NET_STRLEN];
	uint64_t n;

	if (v6_full) {
		struct ip6_net lo = {m->nc.ipv6_subnet_min, m->nc.ipv6_subnet_len};
		struct ip6_net hi = {m->nc.ipv6_subnet_max, m->nc.ipv6_subnet_len};

		ip6_format_net(&lo, s);
		ip6_format_net(&hi, t);
		n = netconf_ipv6_subnet_count(&m->nc);
	} else {
		struct ip4_net lo = {m->nc.subnet_min, m->nc.subnet_len};
		struct ip4_net hi = {m->nc.subnet_max, m->nc.subnet_len};

		ip4_format_net(&lo, s);
		ip4_format_net(&hi, t);
		n = netconf_subnet_count(&m->nc);
	}
	if (!m->ol.told_exhausted)
		log_err("no free %ssubnet: all %" PRIu64 " subnets from %s to %s are leased; "
			"retrying every %d s and whenever a lease is released",
			v6_full ? "IPv6 " : "", n, s, t, EXHAUSTED_RETRY_MS / 1000);
	m->ol.told_exhausted = true;
	acquire_retry(m, LM_OWN_EXHAUSTED, EXHAUSTED_RETRY_MS);
}

/* A lease of ours that this config cannot use: an operator's reservation is
 * never deleted, only passed over (true); a lease is removed, its subnets
 * preferred for the new one. */
static bool drop_unusable(struct leasemgr *m, struct entry *e, int *ret)
{
	char s[LK_STRLEN];
	struct lease_key k = entry_lk(m, e);

	if (!e->lease) {
		if (!m->told_bad_reservation)
			log_warn("reservation %s for this node lies outside the network config; "
				 "ignored",
				 lk_str(&k, s));
		m->told_bad_reservation = true;
		return true;
	}
	log_info("lease %s carries this node's PublicIP but %s; removing it", lk_str(&k, s),
		 m->any && !lk_families_ok(m, &k)
			 ? "names other address families than the network config"
			 : "lies outside the network config");
	if (m->any && k.has_v4 && m->nc.enable_ipv4 && netconf_subnet_valid(&m->nc, &k.v4)) {
		m->ol.have_prefer = true;
		m->ol.prefer = k.v4;
	}
	if (m->any && k.has_v6 && netconf_ipv6_subnet_valid(&m->nc, &k.v6)) {
		m->ol.have_prefer6 = true;
		m->ol.prefer6 = k.v6;
	}
	m->ol.trying = k;
	*ret = kv_call(m, txn_delete, e->mod_rev, e->key, on_stale_deleted, m);
	return false;
}

static void acquire_step(struct leasemgr *m)
{
	char key[KEY_MAX];
	bool v6_full;
	int ret = 0;

	m->ol.state = LM_OWN_ACQUIRING;
	/* 1. The lease that carries our PublicIP, a live one before a
	 * reservation: a node keeps the subnet its pods use. */
	for (size_t i = 0; i < 2 * m->pv.n_map; i++) {
		struct entry *e = &m->pv.map[i % m->pv.n_map];
		struct lease_key k;

		if (!own_form(m, e) || !e->decoded || !names_us(m, &e->attrs) ||
		    (i < m->pv.n_map) != (e->lease != 0))
			continue;
		k = entry_lk(m, e);
		if (lk_leasable(m, &k)) {
			ret = reuse(m, e);
			goto out;
		}
		if (drop_unusable(m, e, &ret))
			continue;
		goto out;
	}
	/* 2. Our own etcd lease to attach the key to. */
	if (!m->ol.lease_id) {
		ret = kv_call(m, lease_grant, m->ttl_s, on_granted, m);
		goto out;
	}
	/* 3. The preferred subnets if free, else random free ones, together. */
	ret = pick(m, &m->ol.trying, &v6_full);
	if (ret == -ENOSPC) {
		exhausted(m, v6_full);
		return;
	}
	if (ret < 0)
		goto out;
	lease_key_format_any(m->prefix, &m->ol.trying, key, sizeof(key));
	ret = kv_call(m, txn_put, KV_CMP_CREATE, 0, key, m->ol.own_value, m->ol.lease_id,
		      on_created, m);
out:
	if (ret < 0) {
		log_err("cannot start the lease acquisition: %s", strerror(-ret));
		acquire_retry(m, LM_OWN_BACKOFF, 1000);
	}
}

void lm_acquire(struct leasemgr *m)
{
	if (m->cfg != LM_CONFIG_LOADED || !m->pv.synced || m->ol.state == LM_OWN_HELD ||
	    m->ol.state == LM_OWN_ACQUIRING)
		return;
	lm_timer_disarm(m, m->t_acquire);
	acquire_step(m);
}

void lm_acquire_fire(void *data)
{
	lm_acquire(data);
}

bool lm_touches_own(const struct leasemgr *m, const struct ip4_net *sn, const char *key)
{
	if (!lm_held(m))
		return false;
	return m->any ? !strcmp(key, m->ol.own_key) : ip4_net_equal(sn, &m->ol.own);
}

/* The own key changed under us (listing or watch). */
void lm_check_own(struct leasemgr *m)
{
	struct entry *e;
	char s[LK_STRLEN], ip[IP6_ADDR_STRLEN];

	if (!lm_held(m))
		return;
	e = lm_map_get_lk(m, &m->ol.own_lk);
	if (!e) {
		log_warn("the lease key of subnet %s was deleted; re-acquiring (same subnet if "
			 "still free)",
			 lk_str(&m->ol.own_lk, s));
		lose_own(m, true);
		return;
	}
	if (!e->decoded || !names_us(m, &e->attrs)) {
		snprintf(ip, sizeof(ip), "?");
		if (e->decoded && m->nc.enable_ipv4)
			ip4_format_addr(e->attrs.public_ip, ip);
		else if (e->decoded && e->attrs.has_public_ipv6)
			ip6_format_addr(&e->attrs.public_ipv6, ip);
		log_warn("subnet %s now belongs to %s; acquiring another one",
			 lk_str(&m->ol.own_lk, s), ip);
		lose_own(m, false);
		return;
	}
	m->ol.reservation = e->lease == 0;
	/* Other keys naming the own subnet. */
	lm_emit_one(m, &m->ol.own);
}
