/* Desired kernel objects of the VXLAN backend, and one predicate per
 * kind that says whether a kernel object is the one weft wants: flush,
 * reconcile and the event filter all ask through these. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "backend/vxlan_int.h"

struct in6_addr key_addr(bool v6, uint32_t be, const struct in6_addr *a6)
{
	struct in6_addr a = {0};

	if (v6)
		return *a6;
	a.s6_addr[10] = a.s6_addr[11] = 0xff;
	memcpy(&a.s6_addr[12], &be, 4);
	return a;
}

struct pkey key_of(const struct vxlan *v, const struct vxlan_peer *p)
{
	struct pkey k;

	k.a = key_addr(is6(v), htonl(p->subnet.addr), &p->subnet6.addr);
	k.len = is6(v) ? p->subnet6.len : p->subnet.prefix;
	return k;
}

void want_neigh(const struct vxlan *v, const struct vxlan_peer *p, struct nl_neigh *n)
{
	memset(n, 0, sizeof(*n));
	n->family = is6(v) ? AF_INET6 : AF_INET;
	n->ifindex = v->ifindex;
	n->state = NUD_PERMANENT;
	n->has_dst = true;
	n->dst = htonl(p->subnet.addr);
	n->dst_v6 = is6(v);
	n->dst6 = p->subnet6.addr;
	n->has_lladdr = true;
	memcpy(n->lladdr, p->vtep_mac, 6);
}

void want_fdb(const struct vxlan *v, const struct vxlan_peer *p, struct nl_neigh *n)
{
	memset(n, 0, sizeof(*n));
	n->family = AF_BRIDGE;
	n->ifindex = v->ifindex;
	n->state = NUD_PERMANENT;
	n->flags = NTF_SELF;
	n->has_dst = true;
	n->dst = htonl(p->public_ip);
	n->dst_v6 = is6(v);
	n->dst6 = p->public_ip6;
	n->has_lladdr = true;
	memcpy(n->lladdr, p->vtep_mac, 6);
}

void want_route(const struct vxlan *v, const struct vxlan_peer *p, bool direct, struct nl_route *r)
{
	memset(r, 0, sizeof(*r));
	r->family = is6(v) ? AF_INET6 : AF_INET;
	r->dst = htonl(p->subnet.addr);
	r->dst6 = p->subnet6.addr;
	r->dst_len = is6(v) ? p->subnet6.len : p->subnet.prefix;
	r->table = RT_TABLE_MAIN;
	r->protocol = VXLAN_RTPROT;
	r->scope = RT_SCOPE_UNIVERSE;
	r->type = RTN_UNICAST;
	if (direct) {
		r->gw = htonl(p->public_ip);
		r->gw6 = p->public_ip6;
	} else {
		r->gw = htonl(p->subnet.addr);
		r->gw6 = p->subnet6.addr;
		r->oif = v->ifindex;
		r->flags = RTNH_F_ONLINK;
	}
}

static bool route_via(const struct nl_route *r, uint32_t gw, const struct in6_addr *gw6)
{
	return r->family == AF_INET6 ? ip6_addr_equal(&r->gw6, gw6) : r->gw == htonl(gw);
}

bool route_matches(const struct vxlan *v, const struct peer *p, const struct nl_route *r)
{
	if (r->protocol != VXLAN_RTPROT || r->dst_len != p->key.len || r->type != RTN_UNICAST)
		return false;
	if (p->direct)
		return route_via(r, p->want.public_ip, &p->want.public_ip6);
	return route_via(r, p->want.subnet.addr, &p->want.subnet6.addr) && r->oif == v->ifindex &&
	       (r->flags & RTNH_F_ONLINK);
}

/* ---- ops and batches ---- */

/* The wanted VXLAN peer at a neighbour's address, whatever its lladdr. */
struct peer *neigh_peer(const struct vxlan *v, const struct nl_neigh *n)
{
	struct in6_addr k = key_addr(n->dst_v6, n->dst, &n->dst6);
	struct peer *p = n->has_dst && n->dst_v6 == is6(v) ? peer_find(v, &k) : NULL;

	return p && p->wanted && !p->direct ? p : NULL;
}

bool neigh_matches(const struct peer *p, const struct nl_neigh *n)
{
	return n->has_lladdr && !memcmp(n->lladdr, p->want.vtep_mac, 6) &&
	       (n->state & NUD_PERMANENT);
}

bool fdb_matches(const struct peer *p, const struct nl_neigh *n)
{
	return p->wanted && !p->direct && n->has_lladdr &&
	       !memcmp(p->want.vtep_mac, n->lladdr, 6) && n->has_dst &&
	       (n->dst_v6 ? ip6_addr_equal(&n->dst6, &p->want.public_ip6)
			  : n->dst == htonl(p->want.public_ip));
}

/* The wanted peer a route's destination belongs to: the whole subnet. */
struct peer *route_peer(const struct vxlan *v, const struct nl_route *r)
{
	struct in6_addr k = key_addr(r->family == AF_INET6, r->dst, &r->dst6);
	struct peer *p = r->family == vxlan_family(v) ? peer_find(v, &k) : NULL;

	return p && p->wanted && r->dst_len == p->key.len ? p : NULL;
}

/* What cannot change on a live link: VNI, local address, port, learning. */
bool device_compatible(const struct vxlan *v, const struct nl_link *l)
{
	const struct nl_vxlan *x = &l->vxlan;

	if (!(l->set & NL_LINK_KIND) || strcmp(l->kind, "vxlan"))
		return false;
	if (!(x->set & NL_VXLAN_ID) || x->vni != v->conf.vni)
		return false;
	if (is6(v) ? !(x->set & NL_VXLAN_LOCAL6) || !ip6_addr_equal(&x->local6, &v->conf.public_ip6)
		   : !(x->set & NL_VXLAN_LOCAL) || x->local != htonl(v->conf.public_ip))
		return false;
	if (!(x->set & NL_VXLAN_PORT) || x->port != v->conf.port)
		return false;
	if ((x->set & NL_VXLAN_LEARNING) && x->learning)
		return false;
	if (v->conf.underlay_ifindex &&
	    (!(x->set & NL_VXLAN_LINK) || x->link != v->conf.underlay_ifindex))
		return false;
	return true;
}

/* What a change can fix in place: MTU and MAC. */
bool device_settled(const struct vxlan *v, const struct nl_link *l)
{
	return (l->set & NL_LINK_MTU) && l->mtu == v->conf.mtu && (l->set & NL_LINK_MAC) &&
	       !memcmp(l->mac, v->conf.mac, 6);
}

bool addr_matches(const struct vxlan *v, const struct nl_addr *a)
{
	if (is6(v))
		return a->family == AF_INET6 && ip6_addr_equal(&a->addr6, &v->conf.subnet6.addr) &&
		       a->prefixlen == 128;
	return a->addr == htonl(v->conf.subnet.addr) && a->prefixlen == 32;
}

bool addr_kernels(const struct nl_addr *a)
{
	return a->family == AF_INET6 && a->scope == RT_SCOPE_LINK;
}
