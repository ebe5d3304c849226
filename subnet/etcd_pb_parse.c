/* etcd gRPC wire format, the receiving half: protobuf decoding of unary
 * answers and watch messages into the structs the JSON codec fills.
 *
 * Everything here reads bytes a server (or a man in the middle that got
 * past TLS) chose: each read is checked against the end of its message,
 * nested messages are read in their own bounds, and a known field with an
 * unexpected wire type is an error rather than a guess.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vec.h"
#include "subnet/etcd_pb.h"

#define WT_VARINT 0
#define WT_I64	  1
#define WT_LEN	  2
#define WT_I32	  5

struct cur {
	const uint8_t *p, *end;
};

struct field {
	uint32_t num;
	unsigned wt;
	uint64_t v;	     /* WT_VARINT */
	const uint8_t *data; /* WT_LEN */
	size_t len;
};

static struct cur cur_of(const uint8_t *p, size_t len)
{
	return (struct cur){p, p + len};
}

static int get_varint(struct cur *c, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned i = 0; i < 10; i++) {
		uint8_t b;

		if (c->p >= c->end)
			return -EPROTO;
		b = *c->p++;
		/* The tenth byte holds bit 63 alone. */
		if (i == 9 && b > 1)
			return -EPROTO;
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -EPROTO;
}

static int skip(struct cur *c, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return -EPROTO;
	c->p += n;
	return 0;
}

/* 1: a field was read, 0: end of the message, -EPROTO. */
static int next_field(struct cur *c, struct field *f)
{
	uint64_t tag, len;

	if (c->p >= c->end)
		return 0;
	if (get_varint(c, &tag) < 0 || tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
		return -EPROTO;
	f->num = (uint32_t)(tag >> 3);
	f->wt = tag & 7;
	switch (f->wt) {
	case WT_VARINT:
		return get_varint(c, &f->v) < 0 ? -EPROTO : 1;
	case WT_I64:
		return skip(c, 8) < 0 ? -EPROTO : 1;
	case WT_I32:
		return skip(c, 4) < 0 ? -EPROTO : 1;
	case WT_LEN:
		if (get_varint(c, &len) < 0 || len > (uint64_t)(c->end - c->p))
			return -EPROTO;
		f->data = c->p;
		f->len = (size_t)len;
		c->p += len;
		return 1;
	default: /* groups (3, 4) and the unused 6, 7 */
		return -EPROTO;
	}
}

static int want(const struct field *f, unsigned wt)
{
	return f->wt == wt ? 0 : -EPROTO;
}

static int get_int(const struct field *f, int64_t *out)
{
	if (want(f, WT_VARINT) < 0)
		return -EPROTO;
	*out = (int64_t)f->v;
	return 0;
}

static int get_bool(const struct field *f, bool *out)
{
	if (want(f, WT_VARINT) < 0)
		return -EPROTO;
	*out = f->v != 0;
	return 0;
}

/* A heap copy with a terminating NUL, as struct etcd_kv holds bytes. */
static int dup_bytes(const struct field *f, char **out, size_t *out_len)
{
	char *s;

	if (want(f, WT_LEN) < 0)
		return -EPROTO;
	s = malloc(f->len + 1);
	if (!s)
		return -ENOMEM;
	if (f->len)
		memcpy(s, f->data, f->len);
	s[f->len] = '\0';
	free(*out);
	*out = s;
	*out_len = f->len;
	return 0;
}

static int parse_header(const struct field *hf, struct etcd_pb_header *h)
{
	struct cur c;
	struct field f;
	int ret;

	if (want(hf, WT_LEN) < 0)
		return -EPROTO;
	c = cur_of(hf->data, hf->len);
	while ((ret = next_field(&c, &f)) > 0) {
		if (f.num >= 1 && f.num <= 4 && want(&f, WT_VARINT) < 0)
			return -EPROTO;
		if (f.num == 1)
			h->cluster_id = f.v;
		else if (f.num == 2)
			h->member_id = f.v;
		else if (f.num == 3)
			h->revision = (int64_t)f.v;
		else if (f.num == 4)
			h->raft_term = f.v;
	}
	return ret;
}

/* mvccpb.KeyValue. An etcd key is never empty, so a kv without one is
 * malformed; a missing value is the empty value. */
static int parse_kv(const uint8_t *p, size_t len, struct etcd_kv *kv)
{
	struct cur c = cur_of(p, len);
	struct field f;
	int ret;

	memset(kv, 0, sizeof(*kv));
	while ((ret = next_field(&c, &f)) > 0) {
		switch (f.num) {
		case 1:
			ret = dup_bytes(&f, &kv->key, &kv->key_len);
			break;
		case 2:
			ret = get_int(&f, &kv->create_revision);
			break;
		case 3:
			ret = get_int(&f, &kv->mod_revision);
			break;
		case 4:
			ret = get_int(&f, &kv->version);
			break;
		case 5:
			ret = dup_bytes(&f, &kv->value, &kv->value_len);
			break;
		case 6:
			ret = get_int(&f, &kv->lease);
			break;
		default:
			ret = 0;
			break;
		}
		if (ret < 0)
			goto err;
	}
	if (ret < 0 || !kv->key_len) {
		ret = ret < 0 ? ret : -EPROTO;
		goto err;
	}
	if (!kv->value) {
		kv->value = strdup("");
		if (!kv->value) {
			ret = -ENOMEM;
			goto err;
		}
	}
	return 0;

err:
	etcd_kv_clear(kv);
	return ret;
}

static int add_kv(const struct field *f, struct etcd_response *out, size_t *cap)
{
	int ret;

	if (want(f, WT_LEN) < 0)
		return -EPROTO;
	if (VEC_RESERVE(out->kvs, *cap, out->n_kvs + 1, 8) < 0)
		return -ENOMEM;
	ret = parse_kv(f->data, f->len, &out->kvs[out->n_kvs]);
	if (ret < 0)
		return ret;
	out->n_kvs++;
	return 0;
}

/* RangeResponse; inside a txn only its kvs matter (top is false). */
static int parse_range(const uint8_t *p, size_t len, struct etcd_response *out,
		       struct etcd_pb_header *h, bool top)
{
	struct cur c = cur_of(p, len);
	struct field f;
	size_t cap = 0;
	int64_t count = 0;
	bool more = false;
	int ret;

	while ((ret = next_field(&c, &f)) > 0) {
		if (f.num == 1 && top)
			ret = parse_header(&f, h);
		else if (f.num == 1)
			ret = want(&f, WT_LEN);
		else if (f.num == 2)
			ret = add_kv(&f, out, &cap);
		else if (f.num == 3)
			ret = get_bool(&f, &more);
		else if (f.num == 4)
			ret = get_int(&f, &count);
		if (ret < 0)
			return ret;
	}
	if (top) {
		out->more = more;
		out->count = count;
	}
	return ret;
}

/* The first ResponseOp of a txn: range (1) or delete_range (3). */
static int parse_txn_op(const struct field *of, struct etcd_response *out, bool take_kvs)
{
	struct cur c = cur_of(of->data, of->len);
	struct field f, g;
	int ret;

	while ((ret = next_field(&c, &f)) > 0) {
		if (f.num < 1 || f.num > 4)
			continue;
		if (want(&f, WT_LEN) < 0)
			return -EPROTO;
		if (f.num == 1 && take_kvs) {
			ret = parse_range(f.data, f.len, out, NULL, false);
		} else if (f.num == 3) {
			struct cur d = cur_of(f.data, f.len);

			while ((ret = next_field(&d, &g)) > 0)
				if (g.num == 2 && (ret = get_int(&g, &out->deleted)) < 0)
					break;
		}
		if (ret < 0)
			return ret;
	}
	return ret;
}

static int parse_txn(const uint8_t *p, size_t len, struct etcd_response *out,
		     struct etcd_pb_header *h)
{
	struct cur c = cur_of(p, len);
	struct field f, first = {0};
	bool have_first = false;
	int ret;

	while ((ret = next_field(&c, &f)) > 0) {
		if (f.num == 1)
			ret = parse_header(&f, h);
		else if (f.num == 2)
			ret = get_bool(&f, &out->succeeded);
		else if (f.num == 3 && (ret = want(&f, WT_LEN)) == 0 && !have_first) {
			first = f;
			have_first = true;
		}
		if (ret < 0)
			return ret;
	}
	if (ret < 0 || !have_first)
		return ret;
	/* As over the gateway: kvs only tell why a compare failed. */
	return parse_txn_op(&first, out, !out->succeeded);
}

/* Grant, keepalive, revoke, put and delete answers: a header and a few
 * scalars (ID 2 and TTL 3 for leases, deleted 2 for a delete). */
static int parse_simple(enum etcd_op op, const uint8_t *p, size_t len, struct etcd_response *out,
			struct etcd_pb_header *h)
{
	struct cur c = cur_of(p, len);
	struct field f;
	bool lease = op == ETCD_OP_GRANT || op == ETCD_OP_KEEPALIVE;
	int ret;

	while ((ret = next_field(&c, &f)) > 0) {
		if (f.num == 1)
			ret = parse_header(&f, h);
		else if (f.num == 2 && lease)
			ret = get_int(&f, &out->lease_id);
		else if (f.num == 2 && op == ETCD_OP_DELETE)
			ret = get_int(&f, &out->deleted);
		else if (f.num == 2 && op == ETCD_OP_PUT)
			ret = want(&f, WT_LEN); /* prev_kv, not asked for */
		else if (f.num == 3 && lease)
			ret = get_int(&f, &out->ttl);
		else if (f.num == 4 && op == ETCD_OP_GRANT && (ret = want(&f, WT_LEN)) == 0 &&
			 f.len) {
			size_t n = f.len < sizeof(out->message) ? f.len : sizeof(out->message) - 1;

			out->err = ETCD_ESERVER;
			for (size_t i = 0; i < n; i++)
				out->message[i] = f.data[i] < 0x20 ? ' ' : (char)f.data[i];
			out->message[n] = '\0';
		}
		if (ret < 0)
			return ret;
	}
	/* A keepalive on a lost lease carries no TTL: 0 means gone. */
	if (op == ETCD_OP_KEEPALIVE && out->ttl < 0)
		out->ttl = 0;
	return ret;
}

int etcd_pb_parse_response(enum etcd_op op, const uint8_t *msg, size_t len,
			   struct etcd_response *out, struct etcd_pb_header *hdr)
{
	struct etcd_pb_header h = {0};
	int ret;

	memset(out, 0, sizeof(*out));
	out->http_status = 200;
	if (!msg)
		len = 0;
	switch (op) {
	case ETCD_OP_RANGE:
		ret = parse_range(msg, len, out, &h, true);
		break;
	case ETCD_OP_TXN:
		ret = parse_txn(msg, len, out, &h);
		break;
	case ETCD_OP_PUT:
	case ETCD_OP_DELETE:
	case ETCD_OP_GRANT:
	case ETCD_OP_KEEPALIVE:
	case ETCD_OP_REVOKE:
		ret = parse_simple(op, msg, len, out, &h);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret < 0) {
		etcd_response_clear(out);
		out->http_status = 200;
		out->err = ret == -ENOMEM ? -ENOMEM : ETCD_EPROTO;
		snprintf(out->message, sizeof(out->message), "malformed answer");
		return ret == -ENOMEM ? ret : -EPROTO;
	}
	out->revision = h.revision;
	if (hdr)
		*hdr = h;
	return 0;
}

static void free_events(struct etcd_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		etcd_kv_clear(ev[i].kv);
		free(ev[i].kv);
	}
	free(ev);
}

/* mvccpb.Event: type 1 (PUT 0, DELETE 1), kv 2, prev_kv 3 (not asked for). */
static int parse_event(const struct field *ef, struct etcd_event *ev)
{
	struct cur c;
	struct field f;
	int64_t type = 0;
	int ret;

	if (want(ef, WT_LEN) < 0)
		return -EPROTO;
	c = cur_of(ef->data, ef->len);
	while ((ret = next_field(&c, &f)) > 0) {
		if (f.num == 1) {
			ret = get_int(&f, &type);
		} else if (f.num == 2 && (ret = want(&f, WT_LEN)) == 0) {
			/* A repeated kv replaces the first. */
			etcd_kv_clear(ev->kv);
			ret = parse_kv(f.data, f.len, ev->kv);
		} else if (f.num == 3) {
			ret = want(&f, WT_LEN);
		}
		if (ret < 0)
			return ret;
	}
	if (ret < 0 || (type != 0 && type != 1) || !ev->kv->key)
		return -EPROTO;
	ev->type = type == 0 ? ETCD_EVENT_PUT : ETCD_EVENT_DELETE;
	return 0;
}

struct watch_fields {
	struct etcd_pb_header h;
	int64_t watch_id, compact_revision;
	bool created, canceled;
	struct field reason;
	struct etcd_event *ev;
	size_t n_ev, cap;
};

static int add_event(const struct field *f, struct watch_fields *w)
{
	struct etcd_event *e;

	if (VEC_RESERVE(w->ev, w->cap, w->n_ev + 1, 4) < 0)
		return -ENOMEM;
	e = &w->ev[w->n_ev];
	memset(e, 0, sizeof(*e));
	e->kv = calloc(1, sizeof(*e->kv));
	if (!e->kv)
		return -ENOMEM;
	w->n_ev++; /* owned from here on, freed with the rest */
	return parse_event(f, e);
}

static int scan_watch(const uint8_t *m, size_t len, struct watch_fields *w)
{
	struct cur c = cur_of(m, len);
	struct field f;
	int ret;

	while ((ret = next_field(&c, &f)) > 0) {
		switch (f.num) {
		case 1:
			ret = parse_header(&f, &w->h);
			break;
		case 2:
			ret = get_int(&f, &w->watch_id);
			break;
		case 3:
			ret = get_bool(&f, &w->created);
			break;
		case 4:
			ret = get_bool(&f, &w->canceled);
			break;
		case 5:
			ret = get_int(&f, &w->compact_revision);
			break;
		case 6:
			ret = want(&f, WT_LEN);
			w->reason = f;
			break;
		case 11:
			ret = add_event(&f, w);
			break;
		default:
			break;
		}
		if (ret < 0)
			return ret;
	}
	return ret;
}

static void copy_reason(char *reason, size_t reason_len, const struct field *f, const char *dflt)
{
	size_t n = f->len;

	if (!n) {
		snprintf(reason, reason_len, "%s", dflt);
		return;
	}
	if (n >= reason_len)
		n = reason_len - 1;
	for (size_t i = 0; i < n; i++)
		reason[i] = f->data[i] < 0x20 || f->data[i] == 0x7f ? ' ' : (char)f->data[i];
	reason[n] = '\0';
}

int etcd_pb_parse_watch(const uint8_t *m, size_t len, struct etcd_watch_msg *msg, int64_t *watch_id,
			char *reason, size_t reason_len)
{
	struct watch_fields w = {0};
	int ret;

	memset(msg, 0, sizeof(*msg));
	reason[0] = '\0';
	msg->reason = reason;
	ret = scan_watch(m ? m : (const uint8_t *)"", m ? len : 0, &w);
	if (ret < 0) {
		free_events(w.ev, w.n_ev);
		msg->kind = ETCD_WATCH_ERROR;
		snprintf(reason, reason_len, "malformed watch message");
		return ret == -ENOMEM ? ret : -EPROTO;
	}
	msg->revision = w.h.revision;
	if (watch_id)
		*watch_id = w.watch_id;
	if (w.canceled) {
		msg->compact_revision = w.compact_revision;
		msg->kind = w.compact_revision ? ETCD_WATCH_COMPACTED : ETCD_WATCH_CANCELED;
		copy_reason(reason, reason_len, &w.reason, "canceled");
	} else if (w.created) {
		msg->kind = ETCD_WATCH_CREATED;
	} else if (w.n_ev) {
		msg->kind = ETCD_WATCH_EVENTS;
		msg->events = w.ev;
		msg->n_events = w.n_ev;
		return 0;
	} else {
		msg->kind = ETCD_WATCH_PROGRESS;
	}
	free_events(w.ev, w.n_ev);
	return 0;
}
