/* VXLAN backend: desired peer set, kernel diff and batched apply. See
 * vxlan.h for the model. Kernel objects per peer (non-direct):
 *   neighbour  <peer subnet addr> lladdr <VTEP MAC> nud permanent  dev weft.N
 *   FDB        <VTEP MAC> dst <peer PublicIP> self permanent       dev weft.N
 *   route      <peer subnet> via <peer subnet addr> dev weft.N onlink proto 87
 * Order within one batch: routes of leaving peers first, then neighbours,
 * FDB, routes of new peers (a route never points at a missing neighbour),
 * then stale neighbours and FDB entries. */
#include "backend/vxlan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "backend/nl.h"
#include "backend/nl_addr.h"
#include "backend/nl_link.h"
#include "backend/nl_neigh.h"
#include "backend/nl_route.h"

#define DUMP_RETRIES 3
#define EV_RCVBUF    (16 << 20)
#define MIN_BUCKETS  64

struct peer {
	struct peer *next;	 /* by subnet address */
	struct peer *mac_next;	 /* by VTEP MAC */
	struct peer *dirty_next; /* pending for vxlan_flush */
	struct vxlan_peer want;
	bool wanted; /* false: removal pending */
	bool dirty;
	bool direct; /* desired: one direct route instead of VXLAN */
	/* What is programmed, as far as weft knows. */
	bool has_applied;
	struct vxlan_peer applied;
	bool applied_direct;
	bool neigh_ok, fdb_ok, route_ok;
	/* A route weft does not own holds the destination: ours stays out. */
	bool route_blocked;
	/* Reconcile scratch: seen_own_route is an own route that differs. */
	bool seen_neigh, seen_fdb, seen_route, seen_own_route, seen_foreign;
};

struct vxlan {
	struct vxlan_conf conf;
	char ifname[IFNAMSIZ];
	int ifindex;
	struct nl_sock *req, *dump, *ev;
	struct peer **by_subnet, **by_mac;
	unsigned nbuckets;
	unsigned nentries; /* wanted or pending removal */
	unsigned npeers;   /* wanted */
	struct peer *dirty;
	bool synced;
	bool want_reconcile;
	bool want_device;
	struct vxlan_stats st;
};

enum op_kind {
	OP_ROUTE_DEL,
	OP_NEIGH_SET,
	OP_FDB_SET,
	OP_ROUTE_SET,
	OP_NEIGH_DEL,
	OP_FDB_DEL,
	OP_KINDS,
};

struct op {
	uint8_t kind;
	bool failed;
	bool replace; /* OP_ROUTE_SET: the route in place is weft's own */
	int err;
	size_t orig;	/* a retry: index of the op it retries */
	struct peer *p; /* NULL for entries no peer wants */
	union {
		struct nl_neigh n;
		struct nl_route r;
	} u;
};

struct opvec {
	struct op *v;
	size_t n, cap;
};

/* ---- peer table ---- */

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

static struct peer *peer_find(const struct vxlan *v, uint32_t addr)
{
	struct peer *p;

	for (p = v->by_subnet[hash_u32(addr, v->nbuckets)]; p; p = p->next)
		if (p->want.subnet.addr == addr)
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

static int table_grow(struct vxlan *v)
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
			unsigned h = hash_u32(p->want.subnet.addr, n);
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

static void peer_unlink_free(struct vxlan *v, struct peer *p)
{
	struct peer **pp = &v->by_subnet[hash_u32(p->want.subnet.addr, v->nbuckets)];

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

static void mark_dirty(struct vxlan *v, struct peer *p)
{
	if (p->dirty)
		return;
	p->dirty = true;
	p->dirty_next = v->dirty;
	v->dirty = p;
}

static bool peer_direct(const struct vxlan *v, uint32_t public_ip)
{
	return v->conf.direct_routing && v->conf.underlay.prefix &&
	       ip4_net_contains(&v->conf.underlay, public_ip);
}

/* ---- desired kernel objects ---- */

static void want_neigh(const struct vxlan *v, const struct vxlan_peer *p, struct nl_neigh *n)
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

static void want_fdb(const struct vxlan *v, const struct vxlan_peer *p, struct nl_neigh *n)
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

static void want_route(const struct vxlan *v, const struct vxlan_peer *p, bool direct,
		       struct nl_route *r)
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

static bool route_matches(const struct vxlan *v, const struct peer *p, const struct nl_route *r)
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

static struct op *op_add(struct opvec *o, enum op_kind kind, struct peer *p)
{
	struct op *op;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		struct op *nv = realloc(o->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		o->v = nv;
		o->cap = cap;
	}
	op = &o->v[o->n++];
	memset(op, 0, sizeof(*op));
	op->kind = (uint8_t)kind;
	op->p = p;
	return op;
}

struct batch_ctx {
	struct opvec *ops;
	size_t *map; /* batch index -> op */
	size_t started;
};

static void on_batch_err(unsigned idx, int err, const char *msg, void *data)
{
	struct batch_ctx *c = data;
	struct op *op;

	if (idx >= c->started)
		return;
	op = &c->ops->v[c->map[idx]];
	/* Deleting what is already gone is success. */
	if ((op->kind == OP_ROUTE_DEL && err == -ESRCH) ||
	    ((op->kind == OP_NEIGH_DEL || op->kind == OP_FDB_DEL) && err == -ENOENT))
		return;
	op->failed = true;
	op->err = err;
}

static int op_build(struct nl_batch *b, const struct op *op)
{
	static const uint16_t type[OP_KINDS] = {
		[OP_ROUTE_DEL] = RTM_DELROUTE, [OP_NEIGH_SET] = RTM_NEWNEIGH,
		[OP_FDB_SET] = RTM_NEWNEIGH,   [OP_ROUTE_SET] = RTM_NEWROUTE,
		[OP_NEIGH_DEL] = RTM_DELNEIGH, [OP_FDB_DEL] = RTM_DELNEIGH,
	};
	uint16_t flags = 0;
	struct nlmsghdr *nlh;

	if (op->kind == OP_NEIGH_SET || op->kind == OP_FDB_SET)
		flags = NL_NEIGH_SET_FLAGS;
	else if (op->kind == OP_ROUTE_SET)
		/* Never replace a route weft does not own: a new route is
		 * exclusive, EEXIST makes a reconcile look at the owner. */
		flags = NLM_F_CREATE | (op->replace ? NLM_F_REPLACE : NLM_F_EXCL);
	nlh = nl_batch_msg(b, type[op->kind], flags);
	if (!nlh)
		return -EIO;
	if (op->kind == OP_ROUTE_DEL || op->kind == OP_ROUTE_SET)
		return nl_route_build(nlh, NL_MSG_MAX, &op->u.r);
	return nl_neigh_build(nlh, NL_MSG_MAX, &op->u.n);
}

/* Sends every op, kind by kind in enum order, as one pipelined batch, and
 * records the outcome in each op. Returns the number of failed ops. */
static int ops_send(struct vxlan *v, struct opvec *ops, unsigned *failed)
{
	struct batch_ctx c = {.ops = ops};
	struct nl_batch *b;
	int ret;

	*failed = 0;
	if (!ops->n)
		return 0;
	c.map = malloc(ops->n * sizeof(*c.map));
	if (!c.map)
		return -ENOMEM;
	ret = nl_batch_new(v->req, on_batch_err, &c, &b);
	if (ret)
		goto free_map;
	for (int k = 0; k < OP_KINDS; k++) {
		for (size_t i = 0; i < ops->n; i++) {
			struct op *op = &ops->v[i];

			if (op->kind != k)
				continue;
			/* The index of the message about to start. */
			c.map[c.started] = i;
			ret = op_build(b, op);
			if (ret == -EIO) {
				op->failed = true;
				continue;
			}
			if (ret) {
				nl_batch_cancel(b);
				op->failed = true;
				continue;
			}
			c.started++;
		}
	}
	nl_batch_commit(b);
	nl_batch_free(b);
	ret = 0;
	for (size_t i = 0; i < ops->n; i++)
		if (ops->v[i].failed)
			(*failed)++;
free_map:
	free(c.map);
	return ret;
}

/* Records op outcomes in the peers' programmed state. */
static void ops_account(struct vxlan *v, const struct opvec *ops, unsigned failed)
{
	for (size_t i = 0; i < ops->n; i++) {
		const struct op *op = &ops->v[i];
		struct peer *p = op->p;

		if (!p || !p->wanted)
			continue;
		switch (op->kind) {
		case OP_NEIGH_SET:
			p->neigh_ok = !op->failed;
			break;
		case OP_FDB_SET:
			p->fdb_ok = !op->failed;
			break;
		case OP_ROUTE_SET:
			p->route_ok = !op->failed && !p->route_blocked;
			break;
		default:
			break;
		}
	}
	if (failed) {
		v->st.netlink_errors += failed;
		v->want_reconcile = true;
	}
}

/* ---- lifecycle ---- */

int vxlan_new(const struct vxlan_conf *conf, struct vxlan **out)
{
	int rcvbuf = EV_RCVBUF;
	struct vxlan *v;
	int ret;

	if (!conf->vni || conf->vni > 0xffffff || !conf->port || !conf->public_ip ||
	    conf->mtu < 68 || !ip4_net_is_canonical(&conf->subnet) || conf->subnet.prefix > 32)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->conf = *conf;
	snprintf(v->ifname, sizeof(v->ifname), "weft.%u", conf->vni);
	ret = table_grow(v);
	if (ret)
		goto err_free;
	ret = nl_open(&v->req);
	if (!ret)
		ret = nl_open(&v->dump);
	if (!ret)
		ret = nl_open(&v->ev);
	if (ret)
		goto err_free;
	/* Our own batches produce one event per object: make room, and
	 * overflow still only costs a full reconcile. */
	if (setsockopt(nl_fd(v->ev), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(nl_fd(v->ev), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ret = nl_subscribe(v->ev, RTNLGRP_LINK);
	if (!ret)
		ret = nl_subscribe(v->ev, RTNLGRP_NEIGH);
	if (!ret)
		ret = nl_subscribe(v->ev, RTNLGRP_IPV4_ROUTE);
	if (!ret)
		ret = nl_subscribe(v->ev, RTNLGRP_IPV4_IFADDR);
	if (ret)
		goto err_free;
	*out = v;
	return 0;

err_free:
	vxlan_free(v);
	return ret;
}

void vxlan_free(struct vxlan *v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < v->nbuckets; i++) {
		struct peer *p = v->by_subnet[i], *next;

		for (; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	free(v->by_subnet);
	free(v->by_mac);
	nl_close(v->req);
	nl_close(v->dump);
	nl_close(v->ev);
	free(v);
}

const char *vxlan_ifname(const struct vxlan *v)
{
	return v->ifname;
}

int vxlan_ifindex(const struct vxlan *v)
{
	return v->ifindex;
}

int vxlan_event_fd(const struct vxlan *v)
{
	return nl_fd(v->ev);
}

bool vxlan_reconcile_wanted(const struct vxlan *v)
{
	return v->want_reconcile || v->want_device;
}

/* ---- device ---- */

static bool device_compatible(const struct vxlan *v, const struct nl_link *l)
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

static int device_create(struct vxlan *v, struct nl_link *got)
{
	struct nl_link l = {
		.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_MTU | NL_LINK_MAC | NL_LINK_VXLAN,
		.mtu = v->conf.mtu,
		.vxlan = {.set = NL_VXLAN_ID | NL_VXLAN_LOCAL | NL_VXLAN_PORT | NL_VXLAN_LEARNING,
			  .vni = v->conf.vni,
			  .local = htonl(v->conf.public_ip),
			  .port = v->conf.port,
			  .learning = false},
	};
	int ret;

	memcpy(l.name, v->ifname, sizeof(l.name));
	memcpy(l.kind, "vxlan", sizeof("vxlan"));
	memcpy(l.mac, v->conf.mac, 6);
	if (v->conf.underlay_ifindex) {
		l.vxlan.set |= NL_VXLAN_LINK;
		l.vxlan.link = v->conf.underlay_ifindex;
	}
	ret = nl_link_create(v->req, &l, NLM_F_EXCL);
	if (ret)
		return ret;
	v->st.device_creations++;
	return nl_link_get_name(v->req, v->ifname, got);
}

struct addr_scan {
	uint32_t want; /* network byte order */
	bool found;
	unsigned nstale;
	struct nl_addr stale[8];
};

static int addr_cb(const struct nl_addr *a, void *data)
{
	struct addr_scan *s = data;

	if (a->addr == s->want && a->prefixlen == 32) {
		s->found = true;
		return 0;
	}
	/* The device is weft's: no other IPv4 address belongs on it. */
	if (s->nstale < sizeof(s->stale) / sizeof(s->stale[0]))
		s->stale[s->nstale++] = *a;
	return 0;
}

static int device_address(struct vxlan *v)
{
	struct addr_scan s = {.want = htonl(v->conf.subnet.addr)};
	struct nl_addr a = {
		.family = AF_INET,
		.ifindex = v->ifindex,
		.addr = s.want,
		.prefixlen = 32,
		.scope = RT_SCOPE_UNIVERSE,
	};
	int ret;

	for (int i = 0; i < DUMP_RETRIES; i++) {
		s.found = false;
		s.nstale = 0;
		ret = nl_addr_dump(v->dump, v->ifindex, addr_cb, &s);
		if (ret != -EINTR)
			break;
	}
	if (ret)
		return ret;
	for (unsigned i = 0; i < s.nstale; i++) {
		ret = nl_addr_del(v->req, &s.stale[i]);
		if (ret && ret != -EADDRNOTAVAIL)
			return ret;
	}
	if (s.found)
		return 0;
	ret = nl_addr_add(v->req, &a, NLM_F_REPLACE);
	return ret == -EEXIST ? 0 : ret;
}

/* Every kernel object on the device went with it. */
static void forget_device_objects(struct vxlan *v)
{
	for (unsigned i = 0; i < v->nbuckets; i++) {
		for (struct peer *p = v->by_subnet[i]; p; p = p->next) {
			p->neigh_ok = false;
			p->fdb_ok = false;
			if (!p->applied_direct)
				p->route_ok = false;
		}
	}
}

int vxlan_ensure_device(struct vxlan *v)
{
	struct nl_link l;
	int ret;

	ret = nl_link_get_name(v->req, v->ifname, &l);
	if (ret == 0 && !device_compatible(v, &l)) {
		/* VNI, local address or port cannot change on a live link. */
		ret = nl_link_del_index(v->req, l.ifindex);
		if (ret && ret != -ENODEV)
			return ret;
		ret = -ENODEV;
	}
	if (ret == -ENODEV) {
		forget_device_objects(v);
		ret = device_create(v, &l);
	}
	if (ret)
		return ret;
	if (v->ifindex && v->ifindex != l.ifindex)
		forget_device_objects(v);
	v->ifindex = l.ifindex;
	if (!(l.set & NL_LINK_MTU) || l.mtu != v->conf.mtu || !(l.set & NL_LINK_MAC) ||
	    memcmp(l.mac, v->conf.mac, 6)) {
		struct nl_link c = {
			.set = NL_LINK_MTU | NL_LINK_MAC, .ifindex = l.ifindex, .mtu = v->conf.mtu};

		memcpy(c.mac, v->conf.mac, 6);
		ret = nl_link_change(v->req, &c);
		if (ret == -EBUSY) {
			/* The MAC of a running device is fixed: start over. */
			ret = nl_link_del_index(v->req, l.ifindex);
			if (!ret) {
				forget_device_objects(v);
				ret = device_create(v, &l);
			}
			if (!ret)
				v->ifindex = l.ifindex;
		}
		if (ret)
			return ret;
	}
	ret = device_address(v);
	if (ret)
		return ret;
	if (!l.up) {
		struct nl_link c = {.set = NL_LINK_UP, .ifindex = l.ifindex, .up = true};

		/* Entries do not survive a down device. */
		forget_device_objects(v);
		ret = nl_link_change(v->req, &c);
		if (ret)
			return ret;
	}
	v->want_device = false;
	return 0;
}

/* ---- desired state ---- */

int vxlan_peer_set(struct vxlan *v, const struct vxlan_peer *in)
{
	struct peer *p;
	int ret;

	if (!ip4_net_is_canonical(&in->subnet) || in->subnet.prefix > 32 || !in->public_ip)
		return -EINVAL;
	/* Our own lease, or a stale lease of this node's address. */
	if (ip4_net_equal(&in->subnet, &v->conf.subnet) || in->public_ip == v->conf.public_ip)
		return 0;
	p = peer_find(v, in->subnet.addr);
	/* Identity is the whole subnet: another length at the same address
	 * never takes over a wanted peer's entries. */
	if (p && p->wanted && p->want.subnet.prefix != in->subnet.prefix)
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
		unsigned h = hash_u32(in->subnet.addr, v->nbuckets);

		p->next = v->by_subnet[h];
		v->by_subnet[h] = p;
		v->nentries++;
		v->npeers++;
	}
	/* A re-wanted entry with another identity starts over: its route
	 * state belonged to the old prefix. */
	if (p->want.subnet.prefix != in->subnet.prefix) {
		p->route_blocked = false;
		p->route_ok = false;
	}
	memset(&p->want, 0, sizeof(p->want));
	p->want.subnet = in->subnet;
	p->want.public_ip = in->public_ip;
	memcpy(p->want.vtep_mac, in->vtep_mac, 6);
	mac_link(v, p);
	p->wanted = true;
	p->direct = peer_direct(v, in->public_ip);
	mark_dirty(v, p);
	return 0;
}

int vxlan_peer_del(struct vxlan *v, const struct ip4_net *subnet)
{
	struct peer *p = peer_find(v, subnet->addr);

	if (!p || !p->wanted || p->want.subnet.prefix != subnet->prefix)
		return 0;
	p->wanted = false;
	v->npeers--;
	mark_dirty(v, p);
	return 0;
}

void vxlan_peers_synced(struct vxlan *v)
{
	v->synced = true;
}

/* Ops that take a peer's kernel objects from applied to wanted. */
static int peer_ops(struct vxlan *v, struct peer *p, struct opvec *ops)
{
	const struct vxlan_peer *a = &p->applied;
	bool was_vx = p->has_applied && !p->applied_direct;
	struct op *op;

	if (!p->wanted || (was_vx && p->direct)) {
		/* Leaving the VXLAN path: route first, then its entries. */
		if (!p->wanted && p->has_applied) {
			op = op_add(ops, OP_ROUTE_DEL, p);
			if (!op)
				return -ENOMEM;
			want_route(v, a, p->applied_direct, &op->u.r);
		}
		if (was_vx) {
			op = op_add(ops, OP_NEIGH_DEL, p);
			if (!op)
				return -ENOMEM;
			want_neigh(v, a, &op->u.n);
			op = op_add(ops, OP_FDB_DEL, p);
			if (!op)
				return -ENOMEM;
			want_fdb(v, a, &op->u.n);
		}
		if (!p->wanted)
			return 0;
	}
	if (!p->direct) {
		bool same_mac = p->has_applied && !memcmp(a->vtep_mac, p->want.vtep_mac, 6);
		bool same_ip = p->has_applied && a->public_ip == p->want.public_ip;

		if (!(was_vx && p->neigh_ok && same_mac)) {
			op = op_add(ops, OP_NEIGH_SET, p);
			if (!op)
				return -ENOMEM;
			want_neigh(v, &p->want, &op->u.n);
		}
		if (!(was_vx && p->fdb_ok && same_mac && same_ip)) {
			op = op_add(ops, OP_FDB_SET, p);
			if (!op)
				return -ENOMEM;
			want_fdb(v, &p->want, &op->u.n);
			/* No stale FDB entry for the old MAC or VTEP. */
			if (was_vx && !(same_mac && same_ip)) {
				op = op_add(ops, OP_FDB_DEL, NULL);
				if (!op)
					return -ENOMEM;
				want_fdb(v, a, &op->u.n);
			}
		}
	}
	if (!p->route_blocked &&
	    !(p->has_applied && p->route_ok && p->applied_direct == p->direct &&
	      (!p->direct || a->public_ip == p->want.public_ip))) {
		op = op_add(ops, OP_ROUTE_SET, p);
		if (!op)
			return -ENOMEM;
		op->replace = p->has_applied && p->route_ok;
		want_route(v, &p->want, p->direct, &op->u.r);
	}
	return 0;
}

static void peer_applied(struct peer *p)
{
	p->has_applied = true;
	p->applied = p->want;
	p->applied_direct = p->direct;
}

static void rc_reset(struct vxlan *v);

static void block_route(struct vxlan *v, struct peer *p, bool blocked)
{
	if (blocked && !p->route_blocked)
		v->st.routes_blocked_total++;
	p->route_blocked = blocked;
}

/* Reconcile scratch from one route of the main table. */
static void route_seen(struct vxlan *v, const struct nl_route *r)
{
	struct peer *p = peer_find(v, ntohl(r->dst));

	if (!p || !p->wanted || r->dst_len != p->want.subnet.prefix)
		return;
	if (r->protocol != VXLAN_RTPROT)
		p->seen_foreign = true;
	else if (route_matches(v, p, r))
		p->seen_route = true;
	else
		p->seen_own_route = true;
}

static int route_seen_cb(const struct nl_route *r, void *data)
{
	route_seen(data, r);
	return 0;
}

/* New routes are created exclusively; EEXIST means a route holds the
 * destination already. weft's own (an earlier run's) is replaced; anybody
 * else's blocks the peer until a reconcile finds it gone. */
static int routes_resolve(struct vxlan *v, struct opvec *ops, unsigned *failed)
{
	struct opvec again = {0};
	unsigned refailed;
	size_t k = 0;
	int ret = 0;

	for (size_t i = 0; i < ops->n; i++)
		if (ops->v[i].kind == OP_ROUTE_SET && ops->v[i].failed &&
		    ops->v[i].err == -EEXIST && ops->v[i].p)
			k++;
	if (!k)
		return 0;
	rc_reset(v);
	ret = nl_route_dump(v->dump, RT_TABLE_MAIN, route_seen_cb, v);
	for (size_t i = 0; i < ops->n && !ret; i++) {
		struct op *op = &ops->v[i], *a;

		if (op->kind != OP_ROUTE_SET || !op->failed || op->err != -EEXIST || !op->p)
			continue;
		block_route(v, op->p, op->p->seen_foreign);
		if (op->p->seen_foreign) {
			op->failed = false;
			continue;
		}
		a = op_add(&again, OP_ROUTE_SET, op->p);
		if (!a) {
			ret = -ENOMEM;
			break;
		}
		a->replace = true;
		a->u.r = op->u.r;
		a->orig = i;
	}
	if (!ret)
		ret = ops_send(v, &again, &refailed);
	for (size_t i = 0; i < again.n && !ret; i++)
		ops->v[again.v[i].orig].failed = again.v[i].failed;
	*failed = 0;
	for (size_t i = 0; i < ops->n; i++)
		*failed += ops->v[i].failed;
	free(again.v);
	return ret;
}

int vxlan_flush(struct vxlan *v)
{
	struct opvec ops = {0};
	struct peer *p, *next;
	unsigned failed;
	int ret = 0;

	if (!v->ifindex)
		return -ENODEV;
	for (p = v->dirty; p && !ret; p = p->dirty_next)
		ret = peer_ops(v, p, &ops);
	if (!ret)
		ret = ops_send(v, &ops, &failed);
	if (ret) {
		/* Nothing was sent: leave the peers pending. */
		free(ops.v);
		return ret;
	}
	/* The batch went out: account for it whatever the retry does; a
	 * failed resolution leaves its routes to the next reconcile. */
	if (routes_resolve(v, &ops, &failed) < 0)
		v->want_reconcile = true;
	ops_account(v, &ops, failed);
	v->st.flush_writes += ops.n;
	for (p = v->dirty; p; p = next) {
		next = p->dirty_next;
		p->dirty = false;
		p->dirty_next = NULL;
		if (p->wanted)
			peer_applied(p);
		else
			peer_unlink_free(v, p);
	}
	v->dirty = NULL;
	free(ops.v);
	return failed ? -EIO : 0;
}

/* ---- reconcile ---- */

struct rc {
	struct vxlan *v;
	struct opvec *ops;
};

static int rc_neigh_cb(const struct nl_neigh *n, void *data)
{
	struct rc *c = data;
	struct vxlan *v = c->v;
	struct peer *p = n->has_dst ? peer_find(v, ntohl(n->dst)) : NULL;
	struct op *op;

	if (p && p->wanted && !p->direct) {
		if (n->has_lladdr && !memcmp(n->lladdr, p->want.vtep_mac, 6) &&
		    (n->state & NUD_PERMANENT))
			p->seen_neigh = true;
		return 0; /* otherwise replaced below */
	}
	if (!v->synced || !n->has_dst)
		return 0;
	op = op_add(c->ops, OP_NEIGH_DEL, NULL);
	if (!op)
		return -ENOMEM;
	op->u.n = *n;
	op->u.n.has_lladdr = false;
	return 0;
}

static int rc_fdb_cb(const struct nl_neigh *n, void *data)
{
	struct rc *c = data;
	struct vxlan *v = c->v;
	struct op *op;

	if (!n->has_lladdr)
		return 0;
	for (struct peer *p = v->by_mac[hash_mac(n->lladdr, v->nbuckets)]; p; p = p->mac_next) {
		if (p->wanted && !p->direct && !memcmp(p->want.vtep_mac, n->lladdr, 6) &&
		    n->has_dst && n->dst == htonl(p->want.public_ip)) {
			p->seen_fdb = true;
			return 0;
		}
	}
	if (!v->synced)
		return 0;
	op = op_add(c->ops, OP_FDB_DEL, NULL);
	if (!op)
		return -ENOMEM;
	want_fdb(v, &(struct vxlan_peer){0}, &op->u.n);
	op->u.n.has_dst = n->has_dst;
	op->u.n.dst = n->dst;
	memcpy(op->u.n.lladdr, n->lladdr, 6);
	return 0;
}

static int rc_route_cb(const struct nl_route *r, void *data)
{
	struct rc *c = data;
	struct vxlan *v = c->v;
	struct peer *p;
	struct op *op;

	p = peer_find(v, ntohl(r->dst));
	if (p && !(p->wanted && r->dst_len == p->want.subnet.prefix))
		p = NULL;
	route_seen(v, r);
	if (p || r->protocol != VXLAN_RTPROT)
		return 0; /* a wanted peer's route is replaced below if it differs */
	if (!v->synced)
		return 0;
	op = op_add(c->ops, OP_ROUTE_DEL, NULL);
	if (!op)
		return -ENOMEM;
	op->u.r = *r;
	return 0;
}

static void rc_reset(struct vxlan *v)
{
	for (unsigned i = 0; i < v->nbuckets; i++) {
		for (struct peer *p = v->by_subnet[i]; p; p = p->next) {
			p->seen_neigh = false;
			p->seen_fdb = false;
			p->seen_route = false;
			p->seen_own_route = false;
			p->seen_foreign = false;
		}
	}
}

static int rc_dump(struct vxlan *v, struct opvec *ops)
{
	struct rc c = {v, ops};
	int ret = -EINTR;

	for (int i = 0; i < DUMP_RETRIES && ret == -EINTR; i++) {
		/* A restarted dump starts from scratch. */
		ops->n = 0;
		rc_reset(v);
		ret = nl_neigh_dump(v->dump, AF_INET, v->ifindex, rc_neigh_cb, &c);
		if (!ret)
			ret = nl_neigh_dump(v->dump, AF_BRIDGE, v->ifindex, rc_fdb_cb, &c);
		if (!ret)
			ret = nl_route_dump(v->dump, RT_TABLE_MAIN, rc_route_cb, &c);
	}
	return ret;
}

/* The route a wanted peer needs, unless a route weft does not own holds
 * its destination: then weft's own goes too and the peer is blocked until
 * the other route leaves. */
static int rc_route_op(struct vxlan *v, struct peer *p, struct opvec *ops)
{
	struct op *op;

	block_route(v, p, p->seen_foreign);
	if (p->seen_foreign) {
		p->route_ok = false;
		if (!p->seen_route && !p->seen_own_route)
			return 0;
		op = op_add(ops, OP_ROUTE_DEL, NULL);
		if (!op)
			return -ENOMEM;
		want_route(v, &p->want, p->direct, &op->u.r);
		op->u.r.gw = 0;
		op->u.r.oif = 0;
		op->u.r.flags = 0;
		return 0;
	}
	if (p->seen_route)
		return 0;
	op = op_add(ops, OP_ROUTE_SET, p);
	if (!op)
		return -ENOMEM;
	op->replace = p->seen_own_route;
	want_route(v, &p->want, p->direct, &op->u.r);
	return 0;
}

int vxlan_reconcile(struct vxlan *v)
{
	struct peer *pending;
	struct opvec ops = {0};
	unsigned failed = 0;
	int ret;

	v->st.reconcile_runs++;
	v->want_reconcile = false;
	ret = vxlan_ensure_device(v);
	if (ret)
		goto out;
	ret = rc_dump(v, &ops);
	if (ret)
		goto out;
	/* Pending removals are handled as stale entries (dumped above). */
	for (unsigned i = 0; i < v->nbuckets; i++) {
		for (struct peer *p = v->by_subnet[i]; p; p = p->next) {
			struct op *op;

			if (!p->wanted)
				continue;
			p->neigh_ok = p->seen_neigh;
			p->fdb_ok = p->seen_fdb;
			p->route_ok = p->seen_route;
			if (!p->direct && !p->seen_neigh) {
				op = op_add(&ops, OP_NEIGH_SET, p);
				if (!op)
					goto nomem;
				want_neigh(v, &p->want, &op->u.n);
			}
			if (!p->direct && !p->seen_fdb) {
				op = op_add(&ops, OP_FDB_SET, p);
				if (!op)
					goto nomem;
				want_fdb(v, &p->want, &op->u.n);
			}
			if (rc_route_op(v, p, &ops) < 0)
				goto nomem;
		}
	}
	ret = ops_send(v, &ops, &failed);
	if (ret)
		goto out;
	v->st.reconcile_fixes += ops.n - failed;
	pending = v->dirty;
	v->dirty = NULL;
	ops_account(v, &ops, failed);
	/* The kernel now matches every wanted peer; removals were pruned
	 * (once synced) or stay pending for the next flush. */
	for (struct peer *p = pending, *next; p; p = next) {
		next = p->dirty_next;
		p->dirty = false;
		p->dirty_next = NULL;
		if (!p->wanted && v->synced)
			peer_unlink_free(v, p);
		else if (!p->wanted)
			mark_dirty(v, p);
	}
	for (unsigned i = 0; i < v->nbuckets; i++)
		for (struct peer *p = v->by_subnet[i]; p; p = p->next)
			if (p->wanted)
				peer_applied(p);
	ret = failed ? -EIO : 0;
	goto out;
nomem:
	ret = -ENOMEM;
out:
	if (ret)
		v->want_reconcile = true;
	free(ops.v);
	return ret;
}

/* ---- events ---- */

static void ev_link(struct vxlan *v, const struct nlmsghdr *nlh)
{
	struct nl_link l;

	if (nl_link_parse(nlh, &l))
		return;
	if (l.ifindex == v->ifindex) {
		if (nlh->nlmsg_type == RTM_DELLINK || !l.up ||
		    ((l.set & NL_LINK_MTU) && l.mtu != v->conf.mtu) ||
		    ((l.set & NL_LINK_MAC) && memcmp(l.mac, v->conf.mac, 6)) ||
		    ((l.set & NL_LINK_NAME) && strcmp(l.name, v->ifname)))
			v->want_device = true;
	} else if ((l.set & NL_LINK_NAME) && !strcmp(l.name, v->ifname)) {
		/* Someone made a device with our name. */
		v->want_device = true;
	}
}

static void ev_addr(struct vxlan *v, const struct nlmsghdr *nlh)
{
	struct nl_addr a;

	if (nl_addr_parse(nlh, &a) || a.family != AF_INET || a.ifindex != v->ifindex)
		return;
	if (nlh->nlmsg_type == RTM_DELADDR ? a.addr == htonl(v->conf.subnet.addr)
					   : a.addr != htonl(v->conf.subnet.addr))
		v->want_device = true;
}

static void ev_neigh(struct vxlan *v, const struct nlmsghdr *nlh)
{
	bool del = nlh->nlmsg_type == RTM_DELNEIGH;
	struct nl_neigh n;
	bool wanted = false;

	if (nl_neigh_parse(nlh, &n) || n.ifindex != v->ifindex || !n.has_dst)
		return;
	if (n.family == AF_INET) {
		struct peer *p = peer_find(v, ntohl(n.dst));
		bool ours = p && p->wanted && !p->direct;

		/* A deleted entry carries no lladdr; the address says whose. */
		if (del) {
			if (ours)
				v->want_reconcile = true;
			return;
		}
		/* The kernel makes and ages non-permanent entries itself. */
		if (!ours && !(n.state & NUD_PERMANENT))
			return;
		wanted = ours && (n.state & NUD_PERMANENT) && n.has_lladdr &&
			 !memcmp(n.lladdr, p->want.vtep_mac, 6);
	} else if (n.has_lladdr) {
		for (struct peer *p = v->by_mac[hash_mac(n.lladdr, v->nbuckets)]; p;
		     p = p->mac_next)
			if (p->wanted && !p->direct && !memcmp(p->want.vtep_mac, n.lladdr, 6) &&
			    n.dst == htonl(p->want.public_ip))
				wanted = true;
	}
	/* A wanted entry went away, or an unwanted one appeared. */
	if (del == wanted)
		v->want_reconcile = true;
}

static void ev_route(struct vxlan *v, const struct nlmsghdr *nlh)
{
	bool del = nlh->nlmsg_type == RTM_DELROUTE;
	struct nl_route r;
	struct peer *p;
	bool wanted;

	if (nl_route_parse(nlh, &r) || r.family != AF_INET || r.table != RT_TABLE_MAIN)
		return;
	p = peer_find(v, ntohl(r.dst));
	if (r.protocol != VXLAN_RTPROT) {
		/* Someone else's route where a peer wants one, or gone from
		 * there: a reconcile decides who installs. */
		if (p && p->wanted && r.dst_len == p->want.subnet.prefix) {
			v->want_reconcile = true;
			/* Until then a flush must create, never replace. */
			if (!del)
				p->route_ok = false;
		}
		return;
	}
	wanted = p && p->wanted && r.dst_len == p->want.subnet.prefix && route_matches(v, p, &r);
	if (del == wanted) {
		v->want_reconcile = true;
		/* Our route is gone: what holds the place next is unknown. */
		if (del)
			p->route_ok = false;
	}
}

static int ev_cb(const struct nlmsghdr *nlh, void *data)
{
	struct vxlan *v = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		ev_link(v, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		ev_addr(v, nlh);
		break;
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		ev_neigh(v, nlh);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		ev_route(v, nlh);
		break;
	default:
		break;
	}
	return 0;
}

static int addr_ok_cb(const struct nl_addr *a, void *data)
{
	struct addr_scan *s = data;

	if (a->addr == s->want && a->prefixlen == 32)
		s->found = true;
	else
		s->nstale++;
	return 0;
}

/* Events describe the past, possibly before weft's own last fix: look at
 * the device as it is now. */
static bool device_ok(struct vxlan *v)
{
	struct addr_scan s = {.want = htonl(v->conf.subnet.addr)};
	struct nl_link l;

	if (nl_link_get_name(v->req, v->ifname, &l) || l.ifindex != v->ifindex || !l.up ||
	    !device_compatible(v, &l) || l.mtu != v->conf.mtu || memcmp(l.mac, v->conf.mac, 6))
		return false;
	if (nl_addr_dump(v->dump, v->ifindex, addr_ok_cb, &s))
		return false;
	return s.found && !s.nstale;
}

int vxlan_handle_events(struct vxlan *v)
{
	bool was = v->want_device;
	int ret = nl_event_read(v->ev, ev_cb, v);

	if (ret == -ENOBUFS) {
		/* Events were lost: only a full comparison is safe. */
		v->st.event_overflows++;
		v->want_reconcile = true;
		v->want_device = true;
		return 0;
	}
	if (!was && v->want_device && v->ifindex && device_ok(v))
		v->want_device = false;
	return ret;
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
			out->neighs += p->neigh_ok;
			out->fdbs += p->fdb_ok;
			out->routes += p->route_ok;
			out->routes_blocked += p->route_blocked;
		}
	}
}

unsigned vxlan_blocked(const struct vxlan *v, struct ip4_net *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < v->nbuckets; i++)
		for (const struct peer *p = v->by_subnet[i]; p; p = p->next)
			if (p->wanted && p->route_blocked && n++ < max)
				out[n - 1] = p->want.subnet;
	return n;
}
