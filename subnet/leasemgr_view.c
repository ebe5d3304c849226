/* Lease manager: the view of <prefix>/subnets/ (the map) and the peers
 * judged from it and handed to the backend.
 */
#include "subnet/leasemgr.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/vec.h"
#include "subnet/leasemgr_int.h"

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
size_t lm_map_find(const struct leasemgr *m, const struct ip4_net *sn, const char *key, bool *found)
{
	size_t lo = 0, hi = m->pv.n_map;

	*found = false;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = entry_cmp(&m->pv.map[mid], sn, key);

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

	return lm_map_find(m, sn, "", &found);
}

static struct entry *map_get_key(struct leasemgr *m, const struct ip4_net *sn, const char *key)
{
	bool found;
	size_t i = lm_map_find(m, sn, key, &found);

	return found ? &m->pv.map[i] : NULL;
}

/* The entry of sn's canonical key (the one nodes write). */
struct entry *lm_map_get(struct leasemgr *m, const struct ip4_net *sn)
{
	char key[KEY_MAX];

	if (lease_key_format(m->prefix, sn, key, sizeof(key)) < 0)
		return NULL;
	return map_get_key(m, sn, key);
}

void lm_map_remove_key(struct leasemgr *m, const struct ip4_net *sn, const char *key)
{
	bool found;
	size_t i = lm_map_find(m, sn, key, &found);

	if (!found)
		return;
	free(m->pv.map[i].key);
	free(m->pv.map[i].value);
	memmove(&m->pv.map[i], &m->pv.map[i + 1], (m->pv.n_map - i - 1) * sizeof(*m->pv.map));
	m->pv.n_map--;
}

struct entry *lm_map_get_lk(struct leasemgr *m, const struct lease_key *k)
{
	char key[KEY_MAX];
	struct ip4_net sn = lk_sort_net(k);

	if (lease_key_format_any(m->prefix, k, key, sizeof(key)) < 0)
		return NULL;
	return map_get_key(m, &sn, key);
}

void lm_map_remove_lk(struct leasemgr *m, const struct lease_key *k)
{
	char key[KEY_MAX];
	struct ip4_net sn = lk_sort_net(k);

	if (lease_key_format_any(m->prefix, k, key, sizeof(key)) == 0)
		lm_map_remove_key(m, &sn, key);
}

void lm_map_remove(struct leasemgr *m, const struct ip4_net *sn)
{
	char key[KEY_MAX];

	if (lease_key_format(m->prefix, sn, key, sizeof(key)) == 0)
		lm_map_remove_key(m, sn, key);
}

void lm_map_clear(struct leasemgr *m)
{
	for (size_t i = 0; i < m->pv.n_map; i++) {
		free(m->pv.map[i].key);
		free(m->pv.map[i].value);
	}
	m->pv.n_map = 0;
}

static int map_grow(struct leasemgr *m)
{
	return VEC_RESERVE(m->pv.map, m->pv.cap_map, m->pv.n_map + 1, 16);
}

/* create_rev 0: unknown (an earlier put's is kept). */
int lm_map_put_key(struct leasemgr *m, const struct ip4_net *sn, const char *key, const char *value,
		   int64_t create_rev, int64_t mod_rev, int64_t lease)
{
	struct entry *e;
	bool found;
	size_t i = lm_map_find(m, sn, key, &found);
	char *v = strdup(value), *k = found ? NULL : strdup(key), plain[KEY_MAX];

	if (!v || (!found && (!k || map_grow(m) < 0))) {
		free(v);
		free(k);
		return -ENOMEM;
	}
	if (!found) {
		memmove(&m->pv.map[i + 1], &m->pv.map[i], (m->pv.n_map - i) * sizeof(*m->pv.map));
		m->pv.n_map++;
		memset(&m->pv.map[i], 0, sizeof(m->pv.map[i]));
		m->pv.map[i].subnet = *sn;
		m->pv.map[i].key = k;
		m->pv.map[i].plain = lease_key_format(m->prefix, sn, plain, sizeof(plain)) == 0 &&
				     !strcmp(plain, key);
		m->pv.map[i].has_lk = lease_key_parse_any(m->prefix, key, &m->pv.map[i].lk) == 0;
		m->pv.map[i].plain_any = m->pv.map[i].has_lk &&
					 lease_key_format_any(m->prefix, &m->pv.map[i].lk, plain,
							      sizeof(plain)) == 0 &&
					 !strcmp(plain, key);
	}
	e = &m->pv.map[i];
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

int lm_map_put(struct leasemgr *m, const struct ip4_net *sn, const char *value, int64_t mod_rev,
	       int64_t lease)
{
	char key[KEY_MAX];

	if (lease_key_format(m->prefix, sn, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	return lm_map_put_key(m, sn, key, value, 0, mod_rev, lease);
}

int lm_map_put_lk(struct leasemgr *m, const struct lease_key *k, const char *value, int64_t mod_rev,
		  int64_t lease)
{
	char key[KEY_MAX];
	struct ip4_net sn = lk_sort_net(k);

	if (lease_key_format_any(m->prefix, k, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	return lm_map_put_key(m, &sn, key, value, 0, mod_rev, lease);
}

/* etcd keys and values may hold NUL bytes; the C-string view of such a key
 * would alias a real lease key, so it is no lease key at all. An IPv6-only
 * key sorts under LM_NO_V4 (an IPv4-only config never looks at it). */
int lm_kv_subnet(const struct leasemgr *m, const struct etcd_kv *kv, struct ip4_net *sn)
{
	struct lease_key k;

	if (strlen(kv->key) != kv->key_len)
		return -EINVAL;
	if (lease_key_parse(m->prefix, kv->key, sn) == 0)
		return 0;
	if (lease_key_parse_any(m->prefix, kv->key, &k) < 0 || k.has_v4)
		return -EINVAL;
	*sn = LM_NO_V4;
	return 0;
}

/* Applies one kv as listed or as carried by a PUT event. */
int lm_map_put_kv(struct leasemgr *m, const struct etcd_kv *kv, struct ip4_net *sn)
{
	bool usable;

	if (lm_kv_subnet(m, kv, sn) < 0)
		return -EINVAL; /* not a lease key: ignored */
	/* A value with a NUL byte, or too long for any lease, is kept as an
	 * undecodable lease: the map's memory stays bounded by the key count. */
	usable = strlen(kv->value) == kv->value_len && kv->value_len <= VALUE_MAX;
	return lm_map_put_key(m, sn, kv->key, usable ? kv->value : "", kv->create_revision,
			      kv->mod_revision, kv->lease);
}

/* ------------------------------------------------------------ peer stream */

static bool is_own(const struct leasemgr *m, const struct entry *e)
{
	return lm_held(m) && e->plain && ip4_net_equal(&e->subnet, &m->ol.own);
}

/* Records a verdict; a new rejection is counted and logged once. */
void lm_judge(struct leasemgr *m, struct entry *e, enum peer_verdict v, const struct entry *winner)
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
	struct peer_accept_ctx ctx = {&m->nc, m->public_ip, lm_held(m), m->ol.own};
	struct peer_cand *c = malloc((hi - lo + 1) * sizeof(*c));
	enum peer_verdict *v = malloc((hi - lo + 1) * sizeof(*v));
	struct entry *winner = NULL;
	size_t n = 0;

	for (size_t i = lo; i < hi && c && v; i++) {
		struct entry *e = &m->pv.map[i];

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
		if (!is_own(m, &m->pv.map[i]) && v[j++] == PEER_ACCEPTED)
			winner = &m->pv.map[i];
	for (size_t i = lo, j = 0; i < hi; i++)
		if (!is_own(m, &m->pv.map[i]))
			lm_judge(m, &m->pv.map[i], v[j++], winner);
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
	return net_search(m->pv.peers, m->pv.n_peers, sizeof(*m->pv.peers),
			  offsetof(struct leasemgr_peer, subnet), sn, found);
}

/* Brings the reported peer for sn in line with the map: re-decides every
 * key of sn, so a lease skipped for a conflict takes over when the winner
 * goes. */
void lm_emit_one(struct leasemgr *m, const struct ip4_net *sn)
{
	struct entry *e;
	bool want, found;
	size_t i, lo, hi;
	struct lease_key gone;

	if (m->any) {
		lm_emit_any(m);
		return;
	}
	/* IPv6-only keys mean nothing to an IPv4-only config. */
	if (!m->ol.ever_held || sn->prefix > 32)
		return;
	lo = map_lower(m, sn);
	for (hi = lo; hi < m->pv.n_map && ip4_net_equal(&m->pv.map[hi].subnet, sn); hi++)
		;
	e = judge_subnet(m, lo, hi);
	want = e != NULL;
	i = peer_find(m, sn, &found);
	if (!want) {
		if (!found)
			return;
		gone = m->pv.peers[i].key;
		memmove(&m->pv.peers[i], &m->pv.peers[i + 1],
			(m->pv.n_peers - i - 1) * sizeof(*m->pv.peers));
		m->pv.n_peers--;
		if (m->ops.on_peer_removed)
			m->ops.on_peer_removed(m->data, &gone);
		return;
	}
	if (found) {
		if (attrs_equal(&m->pv.peers[i].attrs, &e->attrs))
			return;
		m->pv.peers[i].attrs = e->attrs;
		if (m->ops.on_peer_updated)
			m->ops.on_peer_updated(m->data, &m->pv.peers[i].key, &e->attrs);
		return;
	}
	if (VEC_RESERVE(m->pv.peers, m->pv.cap_peers, m->pv.n_peers + 1, 16) < 0) {
		log_err("out of memory tracking peer leases");
		return;
	}
	memmove(&m->pv.peers[i + 1], &m->pv.peers[i], (m->pv.n_peers - i) * sizeof(*m->pv.peers));
	m->pv.n_peers++;
	m->pv.peers[i].subnet = *sn;
	m->pv.peers[i].attrs = e->attrs;
	m->pv.peers[i].key = (struct lease_key){.has_v4 = true, .v4 = *sn};
	if (m->ops.on_peer_added)
		m->ops.on_peer_added(m->data, &m->pv.peers[i].key, &e->attrs);
}

/* Diffs every subnet of map and peers: a merge of two sorted arrays. */
void lm_emit_all(struct leasemgr *m)
{
	struct ip4_net *todo;
	size_t n = 0, i = 0, j = 0;

	if (!m->ol.ever_held)
		return;
	if (m->any) {
		lm_emit_any(m);
		if (m->ops.on_peers_synced)
			m->ops.on_peers_synced(m->data);
		return;
	}
	todo = malloc((m->pv.n_map + m->pv.n_peers + 1) * sizeof(*todo));
	if (!todo) {
		log_err("out of memory diffing peer leases");
		return;
	}
	while (i < m->pv.n_map || j < m->pv.n_peers) {
		int c = i == m->pv.n_map ? 1
			: j == m->pv.n_peers
				? -1
				: net_cmp(&m->pv.map[i].subnet, &m->pv.peers[j].subnet);

		if (c <= 0) {
			todo[n++] = m->pv.map[i++].subnet;
			/* Other keys of the same subnet. */
			while (i < m->pv.n_map && ip4_net_equal(&m->pv.map[i].subnet, &todo[n - 1]))
				i++;
			if (c == 0)
				j++;
		} else {
			todo[n++] = m->pv.peers[j++].subnet;
		}
	}
	for (i = 0; i < n; i++)
		lm_emit_one(m, &todo[i]);
	free(todo);
	if (m->ops.on_peers_synced)
		m->ops.on_peers_synced(m->data);
}
