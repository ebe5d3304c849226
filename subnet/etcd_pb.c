/* etcd gRPC wire format, the sending half: protobuf encoding, gRPC framing
 * in both directions and the call status from the trailers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vec.h"
#include "subnet/etcd_pb.h"

/* Wire types. */
#define WT_VARINT 0
#define WT_LEN	  2

/* Nothing weftd sends comes near this; it keeps length prefixes in 32 bits. */
#define ENCODE_MAX (64u << 20)

void etcd_pb_buf_free(struct etcd_pb_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static uint8_t *grow(struct etcd_pb_buf *b, size_t n)
{
	if (b->err)
		return NULL;
	if (n > ENCODE_MAX || b->len > ENCODE_MAX - n) {
		b->err = -EMSGSIZE;
		return NULL;
	}
	if (VEC_RESERVE(b->data, b->cap, b->len + n, 256) < 0) {
		b->err = -ENOMEM;
		return NULL;
	}
	b->len += n;
	return b->data + b->len - n;
}

static size_t varint_put(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	do {
		out[n] = v & 0x7f;
		v >>= 7;
		if (v)
			out[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

static void put_varint(struct etcd_pb_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = varint_put(tmp, v);
	uint8_t *p = grow(b, n);

	if (p)
		memcpy(p, tmp, n);
}

static void put_tag(struct etcd_pb_buf *b, unsigned field, unsigned wt)
{
	put_varint(b, (uint64_t)field << 3 | wt);
}

/* proto3: a zero scalar is the default and is not sent... */
static void put_int(struct etcd_pb_buf *b, unsigned field, int64_t v)
{
	if (!v)
		return;
	put_tag(b, field, WT_VARINT);
	put_varint(b, (uint64_t)v);
}

/* ...unless it is a oneof member, whose presence is the point. */
static void put_int_always(struct etcd_pb_buf *b, unsigned field, int64_t v)
{
	put_tag(b, field, WT_VARINT);
	put_varint(b, (uint64_t)v);
}

static void put_bool(struct etcd_pb_buf *b, unsigned field, bool v)
{
	put_int(b, field, v ? 1 : 0);
}

static void put_bytes(struct etcd_pb_buf *b, unsigned field, struct etcd_pb_bytes s)
{
	uint8_t *p;

	if (!s.len)
		return;
	put_tag(b, field, WT_LEN);
	put_varint(b, s.len);
	p = grow(b, s.len);
	if (p)
		memcpy(p, s.data, s.len);
}

/* A nested message is written in place, then its tag and length are slid
 * in front of it: sizes need not be computed twice. */
static size_t sub_begin(struct etcd_pb_buf *b)
{
	return b->len;
}

static void sub_end(struct etcd_pb_buf *b, unsigned field, size_t start)
{
	uint8_t hdr[20];
	size_t body, n;

	if (b->err)
		return;
	body = b->len - start;
	n = varint_put(hdr, (uint64_t)field << 3 | WT_LEN);
	n += varint_put(hdr + n, body);
	if (!grow(b, n))
		return;
	memmove(b->data + start + n, b->data + start, body);
	memcpy(b->data + start, hdr, n);
}

static size_t frame_begin(struct etcd_pb_buf *b)
{
	size_t start = b->len;
	uint8_t *p = grow(b, ETCD_PB_PREFIX);

	if (p)
		memset(p, 0, ETCD_PB_PREFIX);
	return start;
}

static int frame_end(struct etcd_pb_buf *b, size_t start)
{
	size_t n;

	if (b->err)
		return b->err;
	n = b->len - start - ETCD_PB_PREFIX;
	b->data[start + 1] = n >> 24;
	b->data[start + 2] = n >> 16;
	b->data[start + 3] = n >> 8;
	b->data[start + 4] = n;
	return 0;
}

static void range_body(struct etcd_pb_buf *b, const struct etcd_pb_range *r)
{
	put_bytes(b, 1, r->key);
	put_bytes(b, 2, r->range_end);
	put_int(b, 3, r->limit);
	put_int(b, 4, r->revision);
	put_bool(b, 8, r->keys_only);
	put_bool(b, 9, r->count_only);
}

static void put_body(struct etcd_pb_buf *b, const struct etcd_pb_put *p)
{
	put_bytes(b, 1, p->key);
	put_bytes(b, 2, p->value);
	put_int(b, 3, p->lease);
}

static void delete_body(struct etcd_pb_buf *b, const struct etcd_pb_delete *d)
{
	put_bytes(b, 1, d->key);
	put_bytes(b, 2, d->range_end);
}

int etcd_pb_encode_range(struct etcd_pb_buf *b, const struct etcd_pb_range *r)
{
	size_t f = frame_begin(b);

	range_body(b, r);
	return frame_end(b, f);
}

int etcd_pb_encode_put(struct etcd_pb_buf *b, const struct etcd_pb_put *p)
{
	size_t f = frame_begin(b);

	put_body(b, p);
	return frame_end(b, f);
}

int etcd_pb_encode_delete(struct etcd_pb_buf *b, const struct etcd_pb_delete *d)
{
	size_t f = frame_begin(b);

	delete_body(b, d);
	return frame_end(b, f);
}

/* RequestOp: a oneof of range (1), put (2), delete_range (3). */
static int op_body(struct etcd_pb_buf *b, unsigned field, const struct etcd_pb_op *op)
{
	size_t s = sub_begin(b), inner;

	inner = sub_begin(b);
	switch (op->kind) {
	case ETCD_PB_OP_RANGE:
		range_body(b, &op->range);
		sub_end(b, 1, inner);
		break;
	case ETCD_PB_OP_PUT:
		put_body(b, &op->put);
		sub_end(b, 2, inner);
		break;
	case ETCD_PB_OP_DELETE:
		delete_body(b, &op->del);
		sub_end(b, 3, inner);
		break;
	default:
		return -EINVAL;
	}
	sub_end(b, field, s);
	return 0;
}

static int compare_body(struct etcd_pb_buf *b, const struct etcd_pb_compare *c)
{
	size_t s = sub_begin(b);

	if (c->target != ETCD_PB_CMP_CREATE && c->target != ETCD_PB_CMP_MOD)
		return -EINVAL;
	/* result EQUAL is 0 and not sent. */
	put_int(b, 2, c->target);
	put_bytes(b, 3, c->key);
	/* target_union: create_revision is 5, mod_revision 6. */
	put_int_always(b, c->target == ETCD_PB_CMP_CREATE ? 5 : 6, c->revision);
	sub_end(b, 1, s);
	return 0;
}

int etcd_pb_encode_txn(struct etcd_pb_buf *b, const struct etcd_pb_txn *t)
{
	size_t start = b->len, f = frame_begin(b);
	int ret = 0;

	for (size_t i = 0; i < t->n_cmp && !ret; i++)
		ret = compare_body(b, &t->cmp[i]);
	for (size_t i = 0; i < t->n_success && !ret; i++)
		ret = op_body(b, 2, &t->success[i]);
	for (size_t i = 0; i < t->n_failure && !ret; i++)
		ret = op_body(b, 3, &t->failure[i]);
	if (ret < 0) {
		/* Leave the buffer as it was: nothing half-built goes out. */
		if (!b->err)
			b->len = start;
		return ret;
	}
	return frame_end(b, f);
}

static int one_int(struct etcd_pb_buf *b, unsigned field, int64_t v)
{
	size_t f = frame_begin(b);

	put_int(b, field, v);
	return frame_end(b, f);
}

int etcd_pb_encode_lease_grant(struct etcd_pb_buf *b, int64_t ttl, int64_t id)
{
	size_t f = frame_begin(b);

	put_int(b, 1, ttl);
	put_int(b, 2, id);
	return frame_end(b, f);
}

int etcd_pb_encode_lease_keepalive(struct etcd_pb_buf *b, int64_t id)
{
	return one_int(b, 1, id);
}

int etcd_pb_encode_lease_revoke(struct etcd_pb_buf *b, int64_t id)
{
	return one_int(b, 1, id);
}

int etcd_pb_encode_watch_create(struct etcd_pb_buf *b, const struct etcd_pb_watch_create *w)
{
	size_t f = frame_begin(b), s = sub_begin(b);

	put_bytes(b, 1, w->key);
	put_bytes(b, 2, w->range_end);
	put_int(b, 3, w->start_revision);
	put_bool(b, 4, w->progress_notify);
	put_bool(b, 6, w->prev_kv);
	sub_end(b, 1, s);
	return frame_end(b, f);
}

int etcd_pb_encode_watch_cancel(struct etcd_pb_buf *b, int64_t watch_id)
{
	size_t f = frame_begin(b), s = sub_begin(b);

	/* watch_id 0 is a real watch: the cancel message is sent even empty. */
	put_int(b, 1, watch_id);
	sub_end(b, 2, s);
	return frame_end(b, f);
}

const char *etcd_pb_path(enum etcd_op op)
{
	switch (op) {
	case ETCD_OP_RANGE:
		return "/etcdserverpb.KV/Range";
	case ETCD_OP_PUT:
		return "/etcdserverpb.KV/Put";
	case ETCD_OP_DELETE:
		return "/etcdserverpb.KV/DeleteRange";
	case ETCD_OP_TXN:
		return "/etcdserverpb.KV/Txn";
	case ETCD_OP_GRANT:
		return "/etcdserverpb.Lease/LeaseGrant";
	case ETCD_OP_KEEPALIVE:
		return "/etcdserverpb.Lease/LeaseKeepAlive";
	case ETCD_OP_REVOKE:
		return "/etcdserverpb.Lease/LeaseRevoke";
	default:
		return NULL;
	}
}
