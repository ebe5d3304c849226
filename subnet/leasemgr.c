/* Lease manager state machine (see leasemgr.h for the flow).
 *
 * The view of <prefix>/subnets/ is one sorted array (the "map"), rebuilt
 * from every listing and patched by watch events. Peers handed to the
 * backend are a second sorted array; both are diffed by merging, so a
 * resync costs O(n) however many leases exist.
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

#define KEY_MAX		    512
#define EXHAUSTED_RETRY_MS  5000
#define RACES_BEFORE_PAUSE  5
#define RETRY_BASE_MS	    250
#define RETRY_CAP_MS	    10000
#define WATCH_RETRY_BASE_MS 200
#define WATCH_RETRY_CAP_MS  5000
#define KEEPALIVE_MAX_MS    (300 * 1000)
#define VALUE_MAX	    4096 /* a lease value is about 150 bytes */
#define WATCH_PROVEN_MS	    1000 /* a watch up this long is not flapping */

/* One key under <prefix>/subnets/. Several keys can name the same IPv4
 * subnet (a dual-stack key, for one): the whole key is the identity. */
struct entry {
	struct ip4_net subnet;
	char *key;
	bool plain; /* key is the canonical <prefix>/subnets/a.b.c.d-n */
	int64_t create_rev, mod_rev, lease;
	char *value;
	bool decoded; /* attrs valid */
	struct lease_attrs attrs;
	bool judged; /* verdict is for the current value */
	enum peer_verdict verdict;
};

struct leasemgr {
	struct etcd_client *c;
	char *prefix, *net_config;
	char config_key[KEY_MAX], subnets_key[KEY_MAX];
	uint32_t public_ip;
	int64_t ttl_s;
	struct leasemgr_ops ops;
	void *data;

	struct netconf nc;
	bool have_nc;
	struct lease_attrs attrs;
	char *own_value;
	unsigned config_fail;
	char *bad_config; /* last invalid config reported, to log it once */
	bool told_no_config, fatal, told_bad_reservation;

	struct entry *map;
	size_t n_map, cap_map;
	bool synced, listing;
	int64_t rev;
	struct etcd_watch *watch;
	bool watch_up, relist_now, need_list;
	unsigned watch_fail;
	/* Listing: pages fill the staging map, swapped in when complete. */
	struct etcd_list *lister;
	struct entry *smap;
	size_t n_smap, cap_smap;
	uint64_t stale_since_ms, created_ms, list_ms; /* CLOCK_MONOTONIC */
	uint64_t relists, watch_oversize;

	struct etcd_timer *t_config, *t_sync, *t_acquire, *t_keepalive;

	bool held, reservation;
	struct ip4_net own;
	int64_t lease_id, lease_ttl;
	uint64_t expiry_ms;
	bool have_prefer;
	struct ip4_net prefer;
	bool acquiring, tried_adopt, exhausted, ever_held;
	struct ip4_net trying;
	unsigned acquire_fail, races_in_row, ka_fail;

	struct leasemgr_peer *peers;
	size_t n_peers, cap_peers;

	uint64_t reconnects, lost_races, acquisitions;
	uint64_t rejected[PEER_VERDICTS];
	struct log_ratelimit rl_etcd, rl_reject;
};

static void acquire(struct leasemgr *m);
static void acquire_step(struct leasemgr *m);
static void sync_start(struct leasemgr *m);
static void sync_retry(struct leasemgr *m, uint64_t delay_ms);
static void mark_stale(struct leasemgr *m);

static uint32_t rnd32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)rand();
	return r;
}

static uint64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *net_str(const struct ip4_net *n, char buf[static IP4_NET_STRLEN])
{
	ip4_format_net(n, buf);
	return buf;
}

/* ---------------------------------------------------------------- the map */

static int net_cmp(const struct ip4_net *a, const struct ip4_net *b)
{
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return (int)a->prefix - (int)b->prefix;
}

/* Binary search in an array sorted by subnet: elements of `size` bytes with
 * their subnet at offset `off`. Returns the index of sn, or of the slot where
 * it would go (*found false). */
static size_t net_search(const void *base, size_t n, size_t size, size_t off,
			 const struct ip4_net *sn, bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = net_cmp((const struct ip4_net *)((const char *)base + mid * size + off),
				sn);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int entry_cmp(const struct entry *e, const struct ip4_net *sn, const char *key)
{
	int c = net_cmp(&e->subnet, sn);

	return c ? c : strcmp(e->key, key);
}

/* Index of (sn, key), or of the slot where it would go (*found false). */
static size_t map_find(const struct leasemgr *m, const struct ip4_net *sn, const char *key,
		       bool *found)
{
	size_t lo = 0, hi = m->n_map;

	*found = false;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = entry_cmp(&m->map[mid], sn, key);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index whose subnet is not below sn. */
static size_t map_lower(const struct leasemgr *m, const struct ip4_net *sn)
{
	bool found;

	return map_find(m, sn, "", &found);
}

static struct entry *map_get_key(struct leasemgr *m, const struct ip4_net *sn, const char *key)
{
	bool found;
	size_t i = map_find(m, sn, key, &found);

	return found ? &m->map[i] : NULL;
}

/* The entry of sn's canonical key (the one nodes write). */
static struct entry *map_get(struct leasemgr *m, const struct ip4_net *sn)
{
	char key[KEY_MAX];

	if (lease_key_format(m->prefix, sn, key, sizeof(key)) < 0)
		return NULL;
	return map_get_key(m, sn, key);
}

static void map_remove_key(struct leasemgr *m, const struct ip4_net *sn, const char *key)
{
	bool found;
	size_t i = map_find(m, sn, key, &found);

	if (!found)
		return;
	free(m->map[i].key);
	free(m->map[i].value);
	memmove(&m->map[i], &m->map[i + 1], (m->n_map - i - 1) * sizeof(*m->map));
	m->n_map--;
}

static void map_remove(struct leasemgr *m, const struct ip4_net *sn)
{
	char key[KEY_MAX];

	if (lease_key_format(m->prefix, sn, key, sizeof(key)) == 0)
		map_remove_key(m, sn, key);
}

static void map_clear(struct leasemgr *m)
{
	for (size_t i = 0; i < m->n_map; i++) {
		free(m->map[i].key);
		free(m->map[i].value);
	}
	m->n_map = 0;
}

static int map_grow(struct leasemgr *m)
{
	size_t cap = m->cap_map ? m->cap_map * 2 : 16;
	struct entry *nm;

	if (m->n_map < m->cap_map)
		return 0;
	nm = realloc(m->map, cap * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	m->map = nm;
	m->cap_map = cap;
	return 0;
}

/* create_rev 0: unknown (an earlier put's is kept). */
static int map_put_key(struct leasemgr *m, const struct ip4_net *sn, const char *key,
		       const char *value, int64_t create_rev, int64_t mod_rev, int64_t lease)
{
	struct entry *e;
	bool found;
	size_t i = map_find(m, sn, key, &found);
	char *v = strdup(value), *k = found ? NULL : strdup(key), plain[KEY_MAX];

	if (!v || (!found && (!k || map_grow(m) < 0))) {
		free(v);
		free(k);
		return -ENOMEM;
	}
	if (!found) {
		memmove(&m->map[i + 1], &m->map[i], (m->n_map - i) * sizeof(*m->map));
		m->n_map++;
		memset(&m->map[i], 0, sizeof(m->map[i]));
		m->map[i].subnet = *sn;
		m->map[i].key = k;
		m->map[i].plain = lease_key_format(m->prefix, sn, plain, sizeof(plain)) == 0 &&
				  !strcmp(plain, key);
	}
	e = &m->map[i];
	/* The same value again keeps its verdict: counted and logged once. */
	if (!found || strcmp(e->value, v))
		e->judged = false;
	free(e->value);
	e->value = v;
	if (create_rev)
		e->create_rev = create_rev;
	e->mod_rev = mod_rev;
	e->lease = lease;
	e->decoded = lease_attrs_decode(value, strlen(value), &e->attrs) == 0;
	return 0;
}

static int map_put(struct leasemgr *m, const struct ip4_net *sn, const char *value, int64_t mod_rev,
		   int64_t lease)
{
	char key[KEY_MAX];

	if (lease_key_format(m->prefix, sn, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	return map_put_key(m, sn, key, value, 0, mod_rev, lease);
}

/* etcd keys and values may hold NUL bytes; the C-string view of such a key
 * would alias a real lease key, so it is no lease key at all. */
static int kv_subnet(const struct leasemgr *m, const struct etcd_kv *kv, struct ip4_net *sn)
{
	if (strlen(kv->key) != kv->key_len)
		return -EINVAL;
	return lease_key_parse(m->prefix, kv->key, sn);
}

/* Applies one kv as listed or as carried by a PUT event. */
static int map_put_kv(struct leasemgr *m, const struct etcd_kv *kv, struct ip4_net *sn)
{
	bool usable;

	if (kv_subnet(m, kv, sn) < 0)
		return -EINVAL; /* not a lease key: ignored */
	/* A value with a NUL byte, or too long for any lease, is kept as an
	 * undecodable lease: the map's memory stays bounded by the key count. */
	usable = strlen(kv->value) == kv->value_len && kv->value_len <= VALUE_MAX;
	return map_put_key(m, sn, kv->key, usable ? kv->value : "", kv->create_revision,
			   kv->mod_revision, kv->lease);
}

/* ------------------------------------------------------------ peer stream */

static bool is_own(const struct leasemgr *m, const struct entry *e)
{
	return m->held && e->plain && ip4_net_equal(&e->subnet, &m->own);
}

/* Records a verdict; a new rejection is counted and logged once. */
static void judge(struct leasemgr *m, struct entry *e, enum peer_verdict v,
		  const struct entry *winner)
{
	bool again = e->judged && e->verdict == v;

	e->judged = true;
	e->verdict = v;
	if (again || v == PEER_ACCEPTED)
		return;
	m->rejected[v]++;
	if (!log_ratelimit_ok(&m->rl_reject))
		return;
	if (v == PEER_REJ_CONFLICT && winner)
		log_warn("lease %s skipped: %s %s", e->key, peer_verdict_rule(v), winner->key);
	else
		log_warn("lease %s skipped: %s", e->key, peer_verdict_rule(v));
}

/* Decides the keys of one subnet (map[lo..hi)) and returns the accepted
 * one, if any. Accepted leases all have SubnetLen, so only keys of the same
 * subnet can conflict: deciding one subnet's keys decides them as the whole
 * set would. */
static struct entry *judge_subnet(struct leasemgr *m, size_t lo, size_t hi)
{
	struct peer_accept_ctx ctx = {&m->nc, m->public_ip, m->held, m->own};
	struct peer_cand *c = malloc((hi - lo + 1) * sizeof(*c));
	enum peer_verdict *v = malloc((hi - lo + 1) * sizeof(*v));
	struct entry *winner = NULL;
	size_t n = 0;

	for (size_t i = lo; i < hi && c && v; i++) {
		struct entry *e = &m->map[i];

		if (is_own(m, e)) {
			e->judged = true;
			e->verdict = PEER_ACCEPTED;
			continue;
		}
		c[n++] = (struct peer_cand){e->subnet, e->decoded, e->attrs, e->create_rev, e->key};
	}
	if (!c || !v || peer_accept_set(&ctx, c, n, v) < 0) {
		log_err("out of memory deciding peer leases");
		goto cleanup;
	}
	for (size_t i = lo, j = 0; i < hi; i++)
		if (!is_own(m, &m->map[i]) && v[j++] == PEER_ACCEPTED)
			winner = &m->map[i];
	for (size_t i = lo, j = 0; i < hi; i++)
		if (!is_own(m, &m->map[i]))
			judge(m, &m->map[i], v[j++], winner);
cleanup:
	free(c);
	free(v);
	return winner;
}

static bool attrs_equal(const struct lease_attrs *a, const struct lease_attrs *b)
{
	return a->public_ip == b->public_ip && a->vni == b->vni &&
	       a->has_vtep_mac == b->has_vtep_mac && !memcmp(a->vtep_mac, b->vtep_mac, 6) &&
	       !strcmp(a->backend_type, b->backend_type);
}

static size_t peer_find(const struct leasemgr *m, const struct ip4_net *sn, bool *found)
{
	return net_search(m->peers, m->n_peers, sizeof(*m->peers),
			  offsetof(struct leasemgr_peer, subnet), sn, found);
}

/* Brings the reported peer for sn in line with the map: re-decides every
 * key of sn, so a lease skipped for a conflict takes over when the winner
 * goes. */
static void emit_one(struct leasemgr *m, const struct ip4_net *sn)
{
	struct entry *e;
	bool want, found;
	size_t i, lo, hi;
	struct ip4_net gone;

	if (!m->ever_held)
		return;
	lo = map_lower(m, sn);
	for (hi = lo; hi < m->n_map && ip4_net_equal(&m->map[hi].subnet, sn); hi++)
		;
	e = judge_subnet(m, lo, hi);
	want = e != NULL;
	i = peer_find(m, sn, &found);
	if (!want) {
		if (!found)
			return;
		gone = m->peers[i].subnet;
		memmove(&m->peers[i], &m->peers[i + 1], (m->n_peers - i - 1) * sizeof(*m->peers));
		m->n_peers--;
		if (m->ops.on_peer_removed)
			m->ops.on_peer_removed(m->data, &gone);
		return;
	}
	if (found) {
		if (attrs_equal(&m->peers[i].attrs, &e->attrs))
			return;
		m->peers[i].attrs = e->attrs;
		if (m->ops.on_peer_updated)
			m->ops.on_peer_updated(m->data, sn, &e->attrs);
		return;
	}
	if (m->n_peers == m->cap_peers) {
		size_t cap = m->cap_peers ? m->cap_peers * 2 : 16;
		struct leasemgr_peer *np = realloc(m->peers, cap * sizeof(*np));

		if (!np) {
			log_err("out of memory tracking peer leases");
			return;
		}
		m->peers = np;
		m->cap_peers = cap;
	}
	memmove(&m->peers[i + 1], &m->peers[i], (m->n_peers - i) * sizeof(*m->peers));
	m->n_peers++;
	m->peers[i].subnet = *sn;
	m->peers[i].attrs = e->attrs;
	if (m->ops.on_peer_added)
		m->ops.on_peer_added(m->data, sn, &e->attrs);
}

/* Diffs every subnet of map and peers: a merge of two sorted arrays. */
static void emit_all(struct leasemgr *m)
{
	struct ip4_net *todo;
	size_t n = 0, i = 0, j = 0;

	if (!m->ever_held)
		return;
	todo = malloc((m->n_map + m->n_peers + 1) * sizeof(*todo));
	if (!todo) {
		log_err("out of memory diffing peer leases");
		return;
	}
	while (i < m->n_map || j < m->n_peers) {
		int c = i == m->n_map	  ? 1
			: j == m->n_peers ? -1
					  : net_cmp(&m->map[i].subnet, &m->peers[j].subnet);

		if (c <= 0) {
			todo[n++] = m->map[i++].subnet;
			/* Other keys of the same subnet. */
			while (i < m->n_map && ip4_net_equal(&m->map[i].subnet, &todo[n - 1]))
				i++;
			if (c == 0)
				j++;
		} else {
			todo[n++] = m->peers[j++].subnet;
		}
	}
	for (i = 0; i < n; i++)
		emit_one(m, &todo[i]);
	free(todo);
	if (m->ops.on_peers_synced)
		m->ops.on_peers_synced(m->data);
}

/* ---------------------------------------------------------- etcd errors */

static bool fatal_error(struct leasemgr *m, const struct etcd_response *r, const char *what)
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

static void log_etcd_error(struct leasemgr *m, const char *what, const struct etcd_response *r,
			   uint64_t retry_ms)
{
	if (log_ratelimit_ok(&m->rl_etcd))
		log_warn("etcd %s failed: %s; retrying in %" PRIu64 " ms", what, r->message,
			 retry_ms);
}

/* ----------------------------------------------------------------- config */

static void config_retry(struct leasemgr *m)
{
	etcd_timer_arm(m->t_config, etcd_backoff_ms(m->config_fail++, 500, 5000, rnd32()));
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
	acquire(m);
}

static void on_config(void *data, const struct etcd_response *r)
{
	struct leasemgr *m = data;

	if (r->err) {
		if (fatal_error(m, r, "reading the network config"))
			return;
		log_etcd_error(m, "read of the network config", r, 0);
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

static void config_start(void *data)
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

/* ----------------------------------------------------------- own lease */

static void keepalive_arm(struct leasemgr *m, uint64_t delay_ms)
{
	if (m->held && !m->reservation && m->lease_id)
		etcd_timer_arm(m->t_keepalive, delay_ms);
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
	etcd_timer_disarm(m->t_keepalive);
	m->have_prefer = prefer_same;
	m->prefer = old;
	if (m->ops.on_lease_lost)
		m->ops.on_lease_lost(m->data, &old);
	acquire(m);
}

static void became_held(struct leasemgr *m, const struct ip4_net *sn, int64_t mod_rev,
			int64_t lease, const char *how)
{
	char s[IP4_NET_STRLEN];

	map_put(m, sn, m->own_value, mod_rev, lease);
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
	etcd_timer_disarm(m->t_acquire);
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
	emit_all(m);
	keepalive_arm(m, keepalive_period_ms(m));
}

static void acquire_retry(struct leasemgr *m, uint64_t delay_ms)
{
	m->acquiring = false;
	etcd_timer_arm(m->t_acquire, delay_ms);
}

static void acquire_failed(struct leasemgr *m, const char *what, const struct etcd_response *r)
{
	uint64_t d = etcd_backoff_ms(m->acquire_fail++, RETRY_BASE_MS, RETRY_CAP_MS, rnd32());

	if (fatal_error(m, r, what))
		return;
	log_etcd_error(m, what, r, d);
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
		log_etcd_error(m, "lease keepalive", r, d);
		keepalive_arm(m, d);
		/* etcd did not answer in time: the watch connection is suspect. */
		if (r->err == ETCD_ETIMEDOUT && m->watch) {
			mark_stale(m);
			etcd_watch_cancel(m->watch);
			m->watch = NULL;
			m->watch_up = false;
			m->reconnects++;
			sync_retry(m, 0);
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
		map_put_kv(m, &r->kvs[0], &sn);
	else
		map_remove(m, &m->trying);
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
	e = map_get(m, &m->trying);
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
		e = map_get(m, &m->trying);
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
	struct entry *e = map_get(m, &m->trying);

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
		map_remove(m, &m->trying);
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

static void acquire(struct leasemgr *m)
{
	if (!m->have_nc || !m->synced || m->held || m->acquiring)
		return;
	etcd_timer_disarm(m->t_acquire);
	acquire_step(m);
}

static void acquire_fire(void *data)
{
	acquire(data);
}

/* The own key changed under us (listing or watch). */
static void check_own(struct leasemgr *m)
{
	struct entry *e;
	char s[IP4_NET_STRLEN], ip[IP4_ADDR_STRLEN];

	if (!m->held)
		return;
	e = map_get(m, &m->own);
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
	emit_one(m, &m->own);
}

/* ------------------------------------------------------------ list + watch */

static void sync_retry(struct leasemgr *m, uint64_t delay_ms)
{
	etcd_timer_arm(m->t_sync, delay_ms);
}

/* The peer view may lag etcd from now on (kept from the first break of a
 * run of short-lived watches). */
static void mark_stale(struct leasemgr *m)
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
	mark_stale(m);
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
	sync_retry(m, d);
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
			if (map_put_kv(m, ev->kv, &sn) < 0)
				continue;
		} else {
			if (kv_subnet(m, ev->kv, &sn) < 0)
				continue;
			map_remove_key(m, &sn, ev->kv->key);
			released = true;
		}
		if (m->held && ip4_net_equal(&sn, &m->own))
			check_own(m);
		else
			emit_one(m, &sn);
	}
	if (released && !m->held && m->exhausted && !m->acquiring)
		acquire(m);
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
			mark_stale(m);
			/* Backoff: a member that stays behind must not spin us. */
			sync_retry(m, etcd_backoff_ms(m->watch_fail++, WATCH_RETRY_BASE_MS,
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

static void staging_clear(struct leasemgr *m)
{
	map_swap_staging(m);
	map_clear(m);
	map_swap_staging(m);
}

/* A page goes into the staging map; the live map stays whole meanwhile. */
static void on_list_page(void *data, const struct etcd_kv *kvs, size_t n, bool restart)
{
	struct leasemgr *m = data;
	struct ip4_net sn;

	map_swap_staging(m);
	if (restart)
		map_clear(m);
	for (size_t i = 0; i < n; i++)
		map_put_kv(m, &kvs[i], &sn);
	map_swap_staging(m);
}

/* Our own writes after the listing's revision (an acquisition that went on
 * meanwhile) are newer than the listing: keep them, or check_own would take
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
		/* e now lies in the other array, which map_put does not touch. */
		map_put_key(m, &e->subnet, e->key, e->value, e->create_rev, e->mod_rev, e->lease);
		map_swap_staging(m);
	}
}

static void list_failed(struct leasemgr *m, const struct etcd_response *r)
{
	uint64_t d;

	m->need_list = true;
	staging_clear(m);
	if (fatal_error(m, r, "listing the subnet leases"))
		return;
	d = etcd_backoff_ms(m->watch_fail++, WATCH_RETRY_BASE_MS, WATCH_RETRY_CAP_MS, rnd32());
	log_etcd_error(m, "listing of subnet leases", r, d);
	sync_retry(m, d);
}

/* A listing rebuilds every entry: unchanged values keep their verdict, so
 * a re-list neither counts nor logs a rejection again. */
static void carry_verdicts(struct leasemgr *m)
{
	for (size_t i = 0; i < m->n_smap; i++) {
		struct entry *st = &m->smap[i];
		bool found;
		size_t j = map_find(m, &st->subnet, st->key, &found);

		if (found && !strcmp(m->map[j].value, st->value)) {
			st->judged = m->map[j].judged;
			st->verdict = m->map[j].verdict;
		}
	}
}

static void on_list_done(void *data, const struct etcd_response *r, int64_t revision)
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
	staging_clear(m);
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
		sync_retry(m, 1000);
	}
	check_own(m);
	if (m->held)
		emit_all(m);
	else
		acquire(m);
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
		sync_retry(m, 1000);
		return;
	}
	m->listing = true;
}

/* A listing then a watch from its revision + 1: the first sync, and every
 * resync after a break, compaction, oversized message or revision change. */
static void sync_fire(void *data)
{
	struct leasemgr *m = data;

	if (m->need_list || !m->synced || !m->watch)
		sync_start(m);
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
	if ((ret = etcd_timer_new(c, config_start, m, &m->t_config)) < 0 ||
	    (ret = etcd_timer_new(c, sync_fire, m, &m->t_sync)) < 0 ||
	    (ret = etcd_timer_new(c, acquire_fire, m, &m->t_acquire)) < 0 ||
	    (ret = etcd_timer_new(c, keepalive_fire, m, &m->t_keepalive)) < 0 ||
	    (ret = etcd_list_new(c, m->subnets_key, on_list_page, on_list_done, m, &m->lister)) < 0)
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
	ret = etcd_timer_arm(m->t_config, 0);
	if (!ret)
		ret = etcd_timer_arm(m->t_sync, 0);
	return ret;
}

void leasemgr_free(struct leasemgr *m)
{
	if (!m)
		return;
	etcd_watch_cancel(m->watch);
	etcd_timer_free(m->t_config);
	etcd_timer_free(m->t_sync);
	etcd_timer_free(m->t_acquire);
	etcd_timer_free(m->t_keepalive);
	etcd_list_free(m->lister);
	map_clear(m);
	free(m->map);
	m->map = NULL;
	staging_clear(m);
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
