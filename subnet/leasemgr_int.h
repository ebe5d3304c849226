/* Lease manager internals shared by leasemgr.c, leasemgr_view.c and
 * leasemgr_sync.c (and the unit tests); nothing else includes this.
 */
#ifndef WEFT_LEASEMGR_INT_H
#define WEFT_LEASEMGR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>

#include "common/log.h"
#include "common/loop.h"
#include "subnet/etcd.h"
#include "subnet/etcd_list.h"
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

	struct loop_timer *t_config, *t_sync, *t_acquire, *t_keepalive;

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

static inline uint32_t rnd32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)rand();
	return r;
}

static inline const char *net_str(const struct ip4_net *n, char buf[static IP4_NET_STRLEN])
{
	ip4_format_net(n, buf);
	return buf;
}

/* leasemgr_view.c: the map and the peers */
size_t lm_map_find(const struct leasemgr *m, const struct ip4_net *sn, const char *key,
		   bool *found);
struct entry *lm_map_get(struct leasemgr *m, const struct ip4_net *sn);
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

/* leasemgr.c: etcd errors and the own lease */
bool lm_fatal_error(struct leasemgr *m, const struct etcd_response *r, const char *what);
void lm_log_etcd_error(struct leasemgr *m, const char *what, const struct etcd_response *r,
		       uint64_t retry_ms);
void lm_acquire(struct leasemgr *m);
void lm_check_own(struct leasemgr *m);

/* leasemgr_sync.c: config, listing and watch */
void lm_config_start(void *data);
void lm_sync_retry(struct leasemgr *m, uint64_t delay_ms);
void lm_mark_stale(struct leasemgr *m);
void lm_staging_clear(struct leasemgr *m);
void lm_on_list_page(void *data, const struct etcd_kv *kvs, size_t n, bool restart);
void lm_on_list_done(void *data, const struct etcd_response *r, int64_t revision);
void lm_sync_fire(void *data);

#endif
