/* Lease manager internals shared by leasemgr.c (lifecycle, config,
 * status), leasemgr_own.c (own lease), leasemgr_sync.c (list + watch) and
 * leasemgr_view.c (the map and the peer diff), and the unit tests; nothing
 * else includes this. Every etcd call, timer and clock read goes through
 * the kv interface (kv.h).
 */
#ifndef WEFT_LEASEMGR_INT_H
#define WEFT_LEASEMGR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "common/log.h"
#include "subnet/kv.h"
#include "subnet/leasemgr.h"

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

/* The map's sort subnet of an IPv6-only key: after every IPv4 subnet, and
 * never a leasable or taken one (prefix 33). */
#define LM_NO_V4 ((struct ip4_net){0xffffffffu, 33})

/* One key under <prefix>/subnets/. Several keys can name the same IPv4
 * subnet (a dual-stack key, for one): the whole key is the identity. The
 * map is sorted by subnet (IPv4 part, LM_NO_V4 without one), then key. */
struct entry {
	struct ip4_net subnet;
	char *key;
	bool plain;	/* key is the canonical <prefix>/subnets/a.b.c.d-n */
	bool has_lk;	/* lk valid: lease_key_parse_any took the key */
	bool plain_any; /* key is lease_key_format_any(lk) */
	struct lease_key lk;
	int64_t create_rev, mod_rev, lease;
	char *value;
	bool decoded; /* attrs valid */
	struct lease_attrs attrs;
	bool judged; /* verdict is for the current value */
	enum peer_verdict verdict;
};

/* The network config: read once, then fixed for the daemon's life. */
enum lm_config_state {
	LM_CONFIG_IDLE,	   /* not started */
	LM_CONFIG_READING, /* get or create-if-absent in flight */
	LM_CONFIG_WAITING, /* absent, invalid or unreadable: retry timer armed */
	LM_CONFIG_LOADED,
	LM_CONFIG_FATAL, /* on_fatal told; nothing more happens */
};

/* The peer view: a listing at revision R, then a watch from R + 1. */
enum lm_view_state {
	LM_VIEW_IDLE,	   /* not started */
	LM_VIEW_LISTING,   /* pages arriving */
	LM_VIEW_STARTING,  /* watch opened, not confirmed yet */
	LM_VIEW_WATCHING,  /* watch confirmed */
	LM_VIEW_RESYNCING, /* watch or listing ended: re-list on the sync timer */
};

/* The own lease. */
enum lm_own_state {
	LM_OWN_IDLE,	  /* waiting for the config and a first listing */
	LM_OWN_ACQUIRING, /* one etcd request of the acquisition in flight */
	LM_OWN_BACKOFF,	  /* a step failed or races piled up: acquire timer armed */
	LM_OWN_EXHAUSTED, /* no free subnet: acquire timer armed, or a release */
	LM_OWN_HELD,	  /* keepalive timer armed (unless a reservation) */
};

/* The peer view's state: the map of <prefix>/subnets/ as listed and
 * watched, and the peers reported from it. */
struct lm_view {
	enum lm_view_state state;
	struct entry *map;
	size_t n_map, cap_map;
	bool synced; /* a listing completed once */
	int64_t rev;
	struct kv_watch *watch; /* STARTING and WATCHING only */
	bool relist_now;	/* the closing watch was compacted: no backoff */
	unsigned watch_fail;
	/* Listing: pages fill the staging map, swapped in when complete. */
	struct entry *smap;
	size_t n_smap, cap_smap;
	uint64_t stale_since_ms, list_ms; /* CLOCK_MONOTONIC */
	uint64_t relists, watch_oversize;
	struct leasemgr_peer *peers;
	size_t n_peers, cap_peers;
};

/* The own lease's state. */
struct lm_own {
	enum lm_own_state state;
	char *own_value;
	bool reservation;   /* HELD: the own key has no etcd lease */
	struct ip4_net own; /* own_lk.v4, zero without IPv4 */
	struct lease_key own_lk;
	char own_key[KEY_MAX];
	int64_t lease_id, lease_ttl;
	uint64_t expiry_ms;
	bool have_prefer;
	struct ip4_net prefer;
	bool have_prefer6;
	struct ip6_net prefer6;
	bool tried_adopt, ever_held, told_exhausted;
	struct lease_key trying;
	unsigned acquire_fail, races_in_row, ka_fail;
	uint64_t lost_races, acquisitions;
};

struct leasemgr {
	struct kv kv;
	char *prefix, *net_config;
	char config_key[KEY_MAX], subnets_key[KEY_MAX];
	uint32_t public_ip;
	bool allow_ipv6, has_public_ipv6;
	struct in6_addr public_ipv6;
	bool any; /* the config enables IPv6: keys of every family (lk) */
	/* The own lease has IPv6: the config enables it and the node has a
	 * PublicIPv6 (without one, a dual-stack node leases IPv4 alone). */
	bool own_v6;
	int64_t ttl_s;
	struct leasemgr_ops ops;
	void *data;

	struct netconf nc;
	bool have_nc;
	char backend_type[sizeof(((struct lease_attrs *)0)->backend_type)];
	int (*backend_data)(void *data, const struct netconf *nc, struct lease_attrs *attrs);
	struct lease_attrs attrs;
	enum lm_config_state cfg;
	unsigned config_fail;
	char *bad_config; /* last invalid config reported, to log it once */
	bool told_no_config, told_bad_reservation;

	struct lm_view pv;   /* the peer view: leasemgr_sync.c, leasemgr_view.c */
	uint64_t created_ms; /* CLOCK_MONOTONIC */

	struct kv_timer *t_config, *t_sync, *t_acquire, *t_keepalive;

	struct lm_own ol; /* the own lease: leasemgr_own.c */
	uint64_t reconnects;
	uint64_t rejected[PEER_VERDICTS];
	struct log_ratelimit rl_etcd, rl_reject;
};

static inline uint32_t rnd32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)rand();
	return r;
}

static inline bool lm_held(const struct leasemgr *m)
{
	return m->ol.state == LM_OWN_HELD;
}

static inline uint64_t lm_now(const struct leasemgr *m)
{
	return m->kv.ops->now_ms(m->kv.ctx);
}

static inline void lm_timer_arm(const struct leasemgr *m, struct kv_timer *t, uint64_t ms)
{
	m->kv.ops->timer_arm(t, ms);
}

static inline void lm_timer_disarm(const struct leasemgr *m, struct kv_timer *t)
{
	m->kv.ops->timer_disarm(t);
}

/* kv_call(m, txn_put, ...) calls the store's op with its context. */
#define kv_call(m, op, ...) ((m)->kv.ops->op((m)->kv.ctx, __VA_ARGS__))

static inline const char *net_str(const struct ip4_net *n, char buf[static IP4_NET_STRLEN])
{
	ip4_format_net(n, buf);
	return buf;
}

#define LK_STRLEN (IP4_NET_STRLEN + 3 + IP6_NET_STRLEN)

/* "10.244.3.0/24", "10.244.3.0/24 + fd00::/64" or "fd00::/64", for logs. */
static inline const char *lk_str(const struct lease_key *k, char buf[static LK_STRLEN])
{
	char a[IP4_NET_STRLEN] = "", b[IP6_NET_STRLEN] = "";

	if (k->has_v4)
		ip4_format_net(&k->v4, a);
	if (k->has_v6)
		ip6_format_net(&k->v6, b);
	snprintf(buf, LK_STRLEN, "%s%s%s", a, k->has_v4 && k->has_v6 ? " + " : "", b);
	return buf;
}

/* The map's sort subnet of a key's subnets. */
static inline struct ip4_net lk_sort_net(const struct lease_key *k)
{
	return k->has_v4 ? k->v4 : LM_NO_V4;
}

/* The own lease's key names exactly the node's families. */
static inline bool lk_families_ok(const struct leasemgr *m, const struct lease_key *k)
{
	return k->has_v4 == m->nc.enable_ipv4 && k->has_v6 == m->own_v6;
}

/* leasemgr_view.c: the map and the peers */
size_t lm_map_find(const struct leasemgr *m, const struct ip4_net *sn, const char *key,
		   bool *found);
struct entry *lm_map_get(struct leasemgr *m, const struct ip4_net *sn);
/* The entry of the canonical key of k's subnets (any family). */
struct entry *lm_map_get_lk(struct leasemgr *m, const struct lease_key *k);
void lm_map_remove_lk(struct leasemgr *m, const struct lease_key *k);
int lm_map_put_lk(struct leasemgr *m, const struct lease_key *k, const char *value, int64_t mod_rev,
		  int64_t lease);
void lm_map_remove_key(struct leasemgr *m, const struct ip4_net *sn, const char *key);
void lm_map_remove(struct leasemgr *m, const struct ip4_net *sn);
void lm_map_clear(struct leasemgr *m);
int lm_map_put_key(struct leasemgr *m, const struct ip4_net *sn, const char *key, const char *value,
		   int64_t create_rev, int64_t mod_rev, int64_t lease);
int lm_map_put(struct leasemgr *m, const struct ip4_net *sn, const char *value, int64_t mod_rev,
	       int64_t lease);
int lm_kv_subnet(const struct leasemgr *m, const struct etcd_kv *kv, struct ip4_net *sn);
int lm_map_put_kv(struct leasemgr *m, const struct etcd_kv *kv, struct ip4_net *sn);
void lm_emit_one(struct leasemgr *m, const struct ip4_net *sn);
void lm_emit_all(struct leasemgr *m);
/* Records a verdict; a new rejection is counted and logged once. */
void lm_judge(struct leasemgr *m, struct entry *e, enum peer_verdict v, const struct entry *winner);

/* leasemgr_any.c: the peers of a config with IPv6, judged as one set */
void lm_emit_any(struct leasemgr *m);

/* leasemgr.c: etcd errors and the network config */
bool lm_fatal_error(struct leasemgr *m, const struct etcd_response *r, const char *what);
void lm_log_etcd_error(struct leasemgr *m, const char *what, const struct etcd_response *r,
		       uint64_t retry_ms);
void lm_config_start(void *data);

/* leasemgr_own.c: the own lease */
void lm_acquire(struct leasemgr *m);
void lm_acquire_fire(void *data);
void lm_keepalive_fire(void *data);
void lm_check_own(struct leasemgr *m);
/* True when a change of (sn, key) concerns the own lease. */
bool lm_touches_own(const struct leasemgr *m, const struct ip4_net *sn, const char *key);

/* leasemgr_sync.c: listing and watch */
void lm_watch_drop(struct leasemgr *m);
void lm_sync_retry(struct leasemgr *m, uint64_t delay_ms);
void lm_mark_stale(struct leasemgr *m);
void lm_staging_clear(struct leasemgr *m);
void lm_on_list_page(void *data, const struct etcd_kv *kvs, size_t n, bool restart);
void lm_on_list_done(void *data, const struct etcd_response *r, int64_t revision);
void lm_sync_fire(void *data);

#endif
