/* VXLAN backend netlink ops: one pipelined batch per flush or reconcile,
 * and the outcome recorded in the peers' programmed state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/rtnetlink.h>

#include "backend/vxlan_int.h"
#include "common/vec.h"

struct op *op_add(struct opvec *o, enum op_kind kind, struct peer *p)
{
	struct op *op;

	if (VEC_RESERVE(o->v, o->cap, o->n + 1, 64) < 0)
		return NULL;
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
int ops_send(struct vxlan *v, struct opvec *ops, unsigned *failed)
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
void ops_account(struct vxlan *v, const struct opvec *ops, unsigned failed)
{
	for (size_t i = 0; i < ops->n; i++) {
		const struct op *op = &ops->v[i];
		struct peer *p = op->p;

		if (!p || !p->wanted)
			continue;
		switch (op->kind) {
		case OP_NEIGH_SET:
			flag_set(&p->ok, OBJ_NEIGH, !op->failed);
			break;
		case OP_FDB_SET:
			flag_set(&p->ok, OBJ_FDB, !op->failed);
			break;
		case OP_ROUTE_SET:
			flag_set(&p->ok, OBJ_ROUTE, !op->failed && !p->route_blocked);
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
