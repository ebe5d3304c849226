/* VXLAN backend peer table: wanted and pending-removal peers hashed by
 * subnet address and by VTEP MAC, and the dirty list vxlan_flush works
 * through. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend/vxlan_int.h"

#define MIN_BUCKETS 64

static unsigned hash_u32(uint32_t x, unsigned nbuckets)
{
	return (unsigned)((x * 0x9e3779b1u) >> 7) & (nbuckets - 1);
}

static unsigned hash_mac(const uint8_t *m, unsigned nbuckets)
{
	uint32_t x = ((uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5]) ^
		     ((uint32_t)m[0] << 8 | m[1]);

	return hash_u32(x, nbuckets);
}

static unsigned hash_key(const struct in6_addr *a, unsigned nbuckets)
{
	return hash_u32(a->s6_addr32[0] ^ a->s6_addr32[1] ^ a->s6_addr32[2] ^ a->s6_addr32[3],
			nbuckets);
}

struct peer *peer_find(const struct vxlan *v, const struct in6_addr *key)
{
	struct peer *p;

	for (p = v->by_subnet[hash_key(key, v->nbuckets)]; p; p = p->next)
		if (ip6_addr_equal(&p->key.a, key))
			return p;
	return NULL;
}

static void mac_link(struct vxlan *v, struct peer *p)
{
	unsigned h = hash_mac(p->want.vtep_mac, v->nbuckets);

	p->mac_next = v->by_mac[h];
	v->by_mac[h] = p;
}

static void mac_unlink(struct vxlan *v, struct peer *p)
{
	struct peer **pp = &v->by_mac[hash_mac(p->want.vtep_mac, v->nbuckets)];

	for (; *pp; pp = &(*pp)->mac_next) {
		if (*pp == p) {
			*pp = p->mac_next;
			return;
		}
	}
}

int table_grow(struct vxlan *v)
{
	unsigned n = v->nbuckets ? v->nbuckets * 2 : MIN_BUCKETS;
	struct peer **bs, **bm;

	bs = calloc(n, sizeof(*bs));
	bm = calloc(n, sizeof(*bm));
	if (!bs || !bm) {
		free(bs);
		free(bm);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < v->nbuckets; i++) {
		struct peer *p = v->by_subnet[i], *next;

		for (; p; p = next) {
			unsigned h = hash_key(&p->key.a, n);
			unsigned hm = hash_mac(p->want.vtep_mac, n);

			next = p->next;
			p->next = bs[h];
			bs[h] = p;
			p->mac_next = bm[hm];
			bm[hm] = p;
		}
	}
	free(v->by_subnet);
	free(v->by_mac);
	v->by_subnet = bs;
	v->by_mac = bm;
	v->nbuckets = n;
	return 0;
}

void peer_unlink_free(struct vxlan *v, struct peer *p)
{
	struct peer **pp = &v->by_subnet[hash_key(&p->key.a, v->nbuckets)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	mac_unlink(v, p);
	v->nentries--;
	free(p);
}

void mark_dirty(struct vxlan *v, struct peer *p)
{
	if (p->dirty)
		return;
	p->dirty = true;
	p->dirty_next = v->dirty;
	v->dirty = p;
}

static bool peer_direct(const struct vxlan *v, uint32_t public_ip)
{
	return !is6(v) && v->conf.direct_routing && v->conf.underlay.prefix &&
	       ip4_net_contains(&v->conf.underlay, public_ip);
}

static bool peer_valid(const struct vxlan *v, const struct vxlan_peer *in)
{
	if (is6(v))
		return ip6_net_is_canonical(&in->subnet6) && in->subnet6.len &&
		       in->subnet6.len <= 128 && ip6_addr_usable(&in->public_ip6);
	return ip4_net_is_canonical(&in->subnet) && in->subnet.prefix <= 32 && in->public_ip;
}

/* Our own lease, or a stale lease of this node's address. */
static bool peer_is_self(const struct vxlan *v, const struct vxlan_peer *in)
{
	if (is6(v))
		return ip6_net_equal(&in->subnet6, &v->conf.subnet6) ||
		       ip6_addr_equal(&in->public_ip6, &v->conf.public_ip6);
	return ip4_net_equal(&in->subnet, &v->conf.subnet) || in->public_ip == v->conf.public_ip;
}

/* The wanted VXLAN peer an FDB entry is exactly the entry of. */
struct peer *fdb_peer(const struct vxlan *v, const struct nl_neigh *n)
{
	if (!n->has_lladdr)
		return NULL;
	for (struct peer *p = v->by_mac[hash_mac(n->lladdr, v->nbuckets)]; p; p = p->mac_next)
		if (fdb_matches(p, n))
			return p;
	return NULL;
}

int vxlan_peer_set(struct vxlan *v, const struct vxlan_peer *in)
{
	struct pkey k;
	struct peer *p;
	int ret;

	if (!peer_valid(v, in))
		return -EINVAL;
	if (peer_is_self(v, in))
		return 0;
	k = key_of(v, in);
	p = peer_find(v, &k.a);
	/* Identity is the whole subnet: another length at the same address
	 * never takes over a wanted peer's entries. */
	if (p && p->wanted && p->key.len != k.len)
		return -EEXIST;
	if (p) {
		if (p->wanted && !memcmp(&p->want, in, sizeof(*in)))
			return 0;
		mac_unlink(v, p);
		if (!p->wanted)
			v->npeers++;
	} else {
		if (v->nentries >= v->nbuckets) {
			ret = table_grow(v);
			if (ret)
				return ret;
		}
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		unsigned h = hash_key(&k.a, v->nbuckets);

		p->next = v->by_subnet[h];
		v->by_subnet[h] = p;
		v->nentries++;
		v->npeers++;
	}
	/* A re-wanted entry with another identity starts over: its route
	 * state belonged to the old prefix. */
	if (p->key.len != k.len) {
		p->route_blocked = false;
		p->ok &= ~OBJ_ROUTE;
	}
	/* Only the instance's family: the other's fields stay zero. */
	memset(&p->want, 0, sizeof(p->want));
	if (is6(v)) {
		p->want.subnet6 = in->subnet6;
		p->want.public_ip6 = in->public_ip6;
	} else {
		p->want.subnet = in->subnet;
		p->want.public_ip = in->public_ip;
	}
	memcpy(p->want.vtep_mac, in->vtep_mac, 6);
	p->key = k;
	mac_link(v, p);
	p->wanted = true;
	p->direct = peer_direct(v, in->public_ip);
	mark_dirty(v, p);
	return 0;
}

static int peer_del(struct vxlan *v, const struct vxlan_peer *which)
{
	struct pkey k = key_of(v, which);
	struct peer *p = peer_find(v, &k.a);

	if (!p || !p->wanted || p->key.len != k.len)
		return 0;
	p->wanted = false;
	v->npeers--;
	mark_dirty(v, p);
	return 0;
}

int vxlan_peer_del(struct vxlan *v, const struct ip4_net *subnet)
{
	return is6(v) ? 0 : peer_del(v, &(struct vxlan_peer){.subnet = *subnet});
}

int vxlan_peer_del6(struct vxlan *v, const struct ip6_net *subnet)
{
	return is6(v) ? peer_del(v, &(struct vxlan_peer){.subnet6 = *subnet}) : 0;
}

void vxlan_peers_synced(struct vxlan *v)
{
	v->synced = true;
}

void peer_applied(struct peer *p)
{
	p->has_applied = true;
	p->applied = p->want;
	p->applied_direct = p->direct;
}

void vxlan_get_stats(const struct vxlan *v, struct vxlan_stats *out)
{
	*out = v->st;
	out->peers = v->npeers;
	out->neighs = out->fdbs = out->routes = out->routes_blocked = 0;
	for (unsigned i = 0; i < v->nbuckets; i++) {
		for (const struct peer *p = v->by_subnet[i]; p; p = p->next) {
			if (!p->wanted)
				continue;
			out->neighs += !!(p->ok & OBJ_NEIGH);
			out->fdbs += !!(p->ok & OBJ_FDB);
			out->routes += !!(p->ok & OBJ_ROUTE);
			out->routes_blocked += p->route_blocked;
		}
	}
}

unsigned vxlan_blocked(const struct vxlan *v, struct vxlan_peer *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < v->nbuckets; i++)
		for (const struct peer *p = v->by_subnet[i]; p; p = p->next)
			if (p->wanted && p->route_blocked && n++ < max)
				out[n - 1] = p->want;
	return n;
}

int vxlan_family(const struct vxlan *v)
{
	return is6(v) ? AF_INET6 : AF_INET;
}
