/* VXLAN backend sync: flush (dirty peers from applied to wanted),
 * reconcile (dumps against the whole desired set) and the event filter
 * that decides when a reconcile is due. Order within one batch: routes
 * of leaving peers first, then neighbours, FDB, routes of new peers (a
 * route never points at a missing neighbour), then stale neighbours and
 * FDB entries. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "backend/vxlan_int.h"

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
		bool same_ip = p->has_applied && vtep_equal(a, &p->want);

		if (!(was_vx && (p->ok & OBJ_NEIGH) && same_mac)) {
			op = op_add(ops, OP_NEIGH_SET, p);
			if (!op)
				return -ENOMEM;
			want_neigh(v, &p->want, &op->u.n);
		}
		if (!(was_vx && (p->ok & OBJ_FDB) && same_mac && same_ip)) {
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
	    !(p->has_applied && (p->ok & OBJ_ROUTE) && p->applied_direct == p->direct &&
	      (!p->direct || vtep_equal(a, &p->want)))) {
		op = op_add(ops, OP_ROUTE_SET, p);
		if (!op)
			return -ENOMEM;
		op->replace = p->has_applied && (p->ok & OBJ_ROUTE);
		want_route(v, &p->want, p->direct, &op->u.r);
	}
	return 0;
}

static void seen_clear(struct vxlan *v, unsigned bits);

static void block_route(struct vxlan *v, struct peer *p, bool blocked)
{
	if (blocked && !p->route_blocked)
		v->st.routes_blocked_total++;
	p->route_blocked = blocked;
}

/* Reconcile scratch from one route of the main table. */
static void route_seen(struct vxlan *v, const struct nl_route *r)
{
	struct peer *p = route_peer(v, r);

	if (!p)
		return;
	if (r->protocol != VXLAN_RTPROT)
		p->seen |= OBJ_FOREIGN;
	else if (route_matches(v, p, r))
		p->seen |= OBJ_ROUTE;
	else
		p->seen |= OBJ_OWN_ROUTE;
}

static int route_seen_cb(const struct nl_route *r, void *data)
{
	route_seen(data, r);
	return 0;
}

#define OBJ_ROUTE_SEEN (OBJ_ROUTE | OBJ_OWN_ROUTE | OBJ_FOREIGN)

static void route_seen_reset(void *data)
{
	seen_clear(data, OBJ_ROUTE_SEEN);
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
	seen_clear(v, ~0u);
	ret = nl_route_dump_family(v->dump, vxlan_family(v), RT_TABLE_MAIN, route_seen_cb,
				   route_seen_reset, v);
	for (size_t i = 0; i < ops->n && !ret; i++) {
		struct op *op = &ops->v[i], *a;

		if (op->kind != OP_ROUTE_SET || !op->failed || op->err != -EEXIST || !op->p)
			continue;
		block_route(v, op->p, op->p->seen & OBJ_FOREIGN);
		if (op->p->seen & OBJ_FOREIGN) {
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
	/* What the dump in progress added: dropped when it restarts. */
	size_t mark;
	unsigned bits;
};

static int rc_neigh_cb(const struct nl_neigh *n, void *data)
{
	struct rc *c = data;
	struct vxlan *v = c->v;
	struct peer *p = neigh_peer(v, n);
	struct op *op;

	if (p) {
		if (neigh_matches(p, n))
			p->seen |= OBJ_NEIGH;
		return 0; /* otherwise replaced below */
	}
	/* The kernel's own IPv6 entries (multicast, link-local) stay. */
	if (!v->synced || !n->has_dst || (is6(v) && (n->state & NUD_NOARP)))
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
	struct peer *p;
	struct op *op;

	if (!n->has_lladdr)
		return 0;
	p = fdb_peer(v, n);
	if (p) {
		p->seen |= OBJ_FDB;
		return 0;
	}
	if (!v->synced)
		return 0;
	op = op_add(c->ops, OP_FDB_DEL, NULL);
	if (!op)
		return -ENOMEM;
	want_fdb(v, &(struct vxlan_peer){0}, &op->u.n);
	op->u.n.has_dst = n->has_dst;
	op->u.n.dst = n->dst;
	op->u.n.dst_v6 = n->dst_v6;
	op->u.n.dst6 = n->dst6;
	memcpy(op->u.n.lladdr, n->lladdr, 6);
	return 0;
}

static int rc_route_cb(const struct nl_route *r, void *data)
{
	struct rc *c = data;
	struct vxlan *v = c->v;
	struct peer *p;
	struct op *op;

	p = route_peer(v, r);
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

static void seen_clear(struct vxlan *v, unsigned bits)
{
	for (unsigned i = 0; i < v->nbuckets; i++) {
		for (struct peer *p = v->by_subnet[i]; p; p = p->next) {
			p->seen &= ~bits;
		}
	}
}

/* A restarted dump (the netlink layer decides) starts from scratch. */
static void rc_restart(void *data)
{
	struct rc *c = data;

	c->ops->n = c->mark;
	seen_clear(c->v, c->bits);
}

static void rc_begin(struct rc *c, unsigned bits)
{
	c->mark = c->ops->n;
	c->bits = bits;
}

static int rc_dump(struct vxlan *v, struct opvec *ops)
{
	struct rc c = {.v = v, .ops = ops};
	int ret;

	ops->n = 0;
	seen_clear(v, ~0u);
	rc_begin(&c, OBJ_NEIGH);
	ret = nl_neigh_dump(v->dump, vxlan_family(v), v->ifindex, rc_neigh_cb, rc_restart, &c);
	if (!ret) {
		rc_begin(&c, OBJ_FDB);
		ret = nl_neigh_dump(v->dump, AF_BRIDGE, v->ifindex, rc_fdb_cb, rc_restart, &c);
	}
	if (!ret) {
		rc_begin(&c, OBJ_ROUTE_SEEN);
		ret = nl_route_dump_family(v->dump, vxlan_family(v), RT_TABLE_MAIN, rc_route_cb,
					   rc_restart, &c);
	}
	return ret;
}

/* The route a wanted peer needs, unless a route weft does not own holds
 * its destination: then weft's own goes too and the peer is blocked until
 * the other route leaves. */
static int rc_route_op(struct vxlan *v, struct peer *p, struct opvec *ops)
{
	struct op *op;

	block_route(v, p, p->seen & OBJ_FOREIGN);
	if (p->seen & OBJ_FOREIGN) {
		p->ok &= ~OBJ_ROUTE;
		if (!(p->seen & (OBJ_ROUTE | OBJ_OWN_ROUTE)))
			return 0;
		op = op_add(ops, OP_ROUTE_DEL, NULL);
		if (!op)
			return -ENOMEM;
		want_route(v, &p->want, p->direct, &op->u.r);
		op->u.r.gw = 0;
		memset(&op->u.r.gw6, 0, sizeof(op->u.r.gw6));
		op->u.r.oif = 0;
		op->u.r.flags = 0;
		return 0;
	}
	if (p->seen & OBJ_ROUTE)
		return 0;
	op = op_add(ops, OP_ROUTE_SET, p);
	if (!op)
		return -ENOMEM;
	op->replace = !!(p->seen & OBJ_OWN_ROUTE);
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
			p->ok = p->seen & (OBJ_NEIGH | OBJ_FDB | OBJ_ROUTE);
			if (!p->direct && !(p->seen & OBJ_NEIGH)) {
				op = op_add(&ops, OP_NEIGH_SET, p);
				if (!op)
					goto nomem;
				want_neigh(v, &p->want, &op->u.n);
			}
			if (!p->direct && !(p->seen & OBJ_FDB)) {
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
		/* A false alarm costs one device_ok() lookup. */
		if (nlh->nlmsg_type == RTM_DELLINK || !l.up || !device_settled(v, &l) ||
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

	if (nl_addr_parse(nlh, &a) || a.family != vxlan_family(v) || a.ifindex != v->ifindex ||
	    addr_kernels(&a))
		return;
	if (nlh->nlmsg_type == RTM_DELADDR ? addr_matches(v, &a) : !addr_matches(v, &a))
		v->want_device = true;
}

static void ev_neigh(struct vxlan *v, const struct nlmsghdr *nlh)
{
	bool del = nlh->nlmsg_type == RTM_DELNEIGH;
	struct nl_neigh n;
	bool wanted = false;

	if (nl_neigh_parse(nlh, &n) || n.ifindex != v->ifindex || !n.has_dst)
		return;
	if (n.family != AF_BRIDGE && n.family != vxlan_family(v))
		return;
	if (n.family != AF_BRIDGE) {
		struct peer *p = neigh_peer(v, &n);
		bool ours = p != NULL;

		/* A deleted entry carries no lladdr; the address says whose. */
		if (del) {
			if (ours)
				v->want_reconcile = true;
			return;
		}
		/* The kernel makes and ages non-permanent entries itself. */
		if (!ours && !(n.state & NUD_PERMANENT))
			return;
		wanted = ours && neigh_matches(p, &n);
	} else {
		wanted = fdb_peer(v, &n) != NULL;
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

	if (nl_route_parse(nlh, &r) || r.family != vxlan_family(v) || r.table != RT_TABLE_MAIN)
		return;
	p = route_peer(v, &r);
	if (r.protocol != VXLAN_RTPROT) {
		/* Someone else's route where a peer wants one, or gone from
		 * there: a reconcile decides who installs. */
		if (p) {
			v->want_reconcile = true;
			/* Until then a flush must create, never replace. */
			if (!del)
				p->ok &= ~OBJ_ROUTE;
		}
		return;
	}
	wanted = p && route_matches(v, p, &r);
	if (del == wanted) {
		v->want_reconcile = true;
		/* Our route is gone: what holds the place next is unknown. */
		if (del)
			p->ok &= ~OBJ_ROUTE;
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
