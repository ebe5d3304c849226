/* Desired kernel objects of the VXLAN backend, and one predicate per
 * kind that says whether a kernel object is the one weft wants: flush,
 * reconcile and the event filter all ask through these. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "backend/vxlan_int.h"

void want_neigh(const struct vxlan *v, const struct vxlan_peer *p, struct nl_neigh *n)
{
	memset(n, 0, sizeof(*n));
	n->family = AF_INET;
	n->ifindex = v->ifindex;
	n->state = NUD_PERMANENT;
	n->has_dst = true;
	n->dst = htonl(p->subnet.addr);
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
	n->has_lladdr = true;
	memcpy(n->lladdr, p->vtep_mac, 6);
}

void want_route(const struct vxlan *v, const struct vxlan_peer *p, bool direct, struct nl_route *r)
{
	memset(r, 0, sizeof(*r));
	r->family = AF_INET;
	r->dst = htonl(p->subnet.addr);
	r->dst_len = p->subnet.prefix;
	r->table = RT_TABLE_MAIN;
	r->protocol = VXLAN_RTPROT;
	r->scope = RT_SCOPE_UNIVERSE;
	r->type = RTN_UNICAST;
	if (direct) {
		r->gw = htonl(p->public_ip);
	} else {
		r->gw = htonl(p->subnet.addr);
		r->oif = v->ifindex;
		r->flags = RTNH_F_ONLINK;
	}
}

bool route_matches(const struct vxlan *v, const struct peer *p, const struct nl_route *r)
{
	if (r->protocol != VXLAN_RTPROT || r->dst_len != p->want.subnet.prefix ||
	    r->type != RTN_UNICAST)
		return false;
	if (p->direct)
		return r->gw == htonl(p->want.public_ip);
	return r->gw == htonl(p->want.subnet.addr) && r->oif == v->ifindex &&
	       (r->flags & RTNH_F_ONLINK);
}

/* ---- ops and batches ---- */

/* The wanted VXLAN peer at a neighbour's address, whatever its lladdr. */
struct peer *neigh_peer(const struct vxlan *v, const struct nl_neigh *n)
{
	struct peer *p = n->has_dst ? peer_find(v, ntohl(n->dst)) : NULL;

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
	       n->dst == htonl(p->want.public_ip);
}

/* The wanted peer a route's destination belongs to: the whole subnet. */
struct peer *route_peer(const struct vxlan *v, const struct nl_route *r)
{
	struct peer *p = peer_find(v, ntohl(r->dst));

	return p && p->wanted && r->dst_len == p->want.subnet.prefix ? p : NULL;
}

/* What cannot change on a live link: VNI, local address, port, learning. */
bool device_compatible(const struct vxlan *v, const struct nl_link *l)
{
	const struct nl_vxlan *x = &l->vxlan;

	if (!(l->set & NL_LINK_KIND) || strcmp(l->kind, "vxlan"))
		return false;
	if (!(x->set & NL_VXLAN_ID) || x->vni != v->conf.vni)
		return false;
	if (!(x->set & NL_VXLAN_LOCAL) || x->local != htonl(v->conf.public_ip))
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
	return a->addr == htonl(v->conf.subnet.addr) && a->prefixlen == 32;
}
