/* Lease manager: the peers of a config with IPv6 (dual stack or IPv6
 * only). A key can share its IPv4 subnet with one lease and its IPv6 subnet
 * with another, so the map is judged as one set (peer_accept_set_any) and
 * the accepted leases are diffed against the peers reported, by key.
 */
#include "subnet/leasemgr.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/vec.h"
#include "subnet/leasemgr_int.h"

/* IPv4 subnet first (keys without one last), then the IPv6 subnet. */
static int lk_cmp(const struct lease_key *a, const struct lease_key *b)
{
	int c;

	if (a->has_v4 != b->has_v4)
		return a->has_v4 ? -1 : 1;
	if (a->has_v4 && a->v4.addr != b->v4.addr)
		return a->v4.addr < b->v4.addr ? -1 : 1;
	if (a->has_v4 && a->v4.prefix != b->v4.prefix)
		return (int)a->v4.prefix - (int)b->v4.prefix;
	if (a->has_v6 != b->has_v6)
		return a->has_v6 ? 1 : -1;
	if (!a->has_v6)
		return 0;
	c = memcmp(&a->v6.addr, &b->v6.addr, sizeof(a->v6.addr));
	return c ? c : (int)a->v6.len - (int)b->v6.len;
}

static int peer_cmp(const void *x, const void *y)
{
	return lk_cmp(&((const struct leasemgr_peer *)x)->key,
		      &((const struct leasemgr_peer *)y)->key);
}

static bool attrs_equal6(const struct lease_attrs *a, const struct lease_attrs *b)
{
	return a->public_ip == b->public_ip && a->vni == b->vni &&
	       a->has_vtep_mac == b->has_vtep_mac && !memcmp(a->vtep_mac, b->vtep_mac, 6) &&
	       !strcmp(a->backend_type, b->backend_type) &&
	       a->has_public_ipv6 == b->has_public_ipv6 &&
	       ip6_addr_equal(&a->public_ipv6, &b->public_ipv6) && a->vni6 == b->vni6 &&
	       a->has_vtep_mac6 == b->has_vtep_mac6 && !memcmp(a->vtep_mac6, b->vtep_mac6, 6);
}

static bool is_own_any(const struct leasemgr *m, const struct entry *e)
{
	return lm_held(m) && e->plain_any && !strcmp(e->key, m->ol.own_key);
}

/* The accepted leases of the map, sorted by key; NULL on allocation
 * failure. */
static struct leasemgr_peer *judge_all(struct leasemgr *m, size_t *n_out)
{
	struct peer_accept_ctx_any ctx = {
		.v4 = {&m->nc, m->public_ip, lm_held(m) && m->ol.own_lk.has_v4, m->ol.own},
		.has_public_ipv6 = m->has_public_ipv6,
		.public_ipv6 = m->public_ipv6,
		.has_own6 = lm_held(m) && m->ol.own_lk.has_v6,
		.own6 = m->ol.own_lk.v6,
	};
	size_t cap = m->pv.n_map + 1, k = 0, n = 0;
	struct peer_cand_any *c = calloc(cap, sizeof(*c));
	enum peer_verdict *v = malloc(cap * sizeof(*v));
	size_t *idx = malloc(cap * sizeof(*idx));
	struct leasemgr_peer *out = calloc(cap, sizeof(*out));

	if (!c || !v || !idx || !out)
		goto fail;
	for (size_t i = 0; i < m->pv.n_map; i++) {
		struct entry *e = &m->pv.map[i];

		if (!e->has_lk)
			continue;
		if (is_own_any(m, e)) {
			e->judged = true;
			e->verdict = PEER_ACCEPTED;
			continue;
		}
		c[k] = (struct peer_cand_any){e->lk, e->decoded, e->attrs, e->create_rev, e->key};
		idx[k++] = i;
	}
	if (peer_accept_set_any(&ctx, c, k, v) < 0)
		goto fail;
	for (size_t j = 0; j < k; j++) {
		struct entry *e = &m->pv.map[idx[j]];

		lm_judge(m, e, v[j], NULL);
		if (v[j] != PEER_ACCEPTED)
			continue;
		out[n].key = e->lk;
		out[n].attrs = e->attrs;
		if (e->lk.has_v4)
			out[n].subnet = e->lk.v4;
		n++;
	}
	qsort(out, n, sizeof(*out), peer_cmp);
	free(c);
	free(v);
	free(idx);
	*n_out = n;
	return out;
fail:
	free(c);
	free(v);
	free(idx);
	free(out);
	return NULL;
}

void lm_emit_any(struct leasemgr *m)
{
	struct leasemgr_peer *old = m->pv.peers, *cur;
	size_t n_old = m->pv.n_peers, n_cur, i = 0, j = 0;

	if (!m->ol.ever_held)
		return;
	cur = judge_all(m, &n_cur);
	if (!cur) {
		log_err("out of memory deciding peer leases");
		return;
	}
	/* The new set is in place before any callback looks at it. */
	m->pv.peers = cur;
	m->pv.n_peers = n_cur;
	m->pv.cap_peers = m->pv.n_map + 1;
	while (i < n_old || j < n_cur) {
		int c = i == n_old ? 1 : j == n_cur ? -1 : lk_cmp(&old[i].key, &cur[j].key);

		if (c < 0) {
			if (m->ops.on_peer_removed)
				m->ops.on_peer_removed(m->data, &old[i].key);
			i++;
		} else if (c > 0) {
			if (m->ops.on_peer_added)
				m->ops.on_peer_added(m->data, &cur[j].key, &cur[j].attrs);
			j++;
		} else {
			if (!attrs_equal6(&old[i].attrs, &cur[j].attrs) && m->ops.on_peer_updated)
				m->ops.on_peer_updated(m->data, &cur[j].key, &cur[j].attrs);
			i++;
			j++;
		}
	}
	free(old);
}
