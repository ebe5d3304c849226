/* Encodes a neutral etcd request (etcd_req.h) for either transport. The JSON
 * form follows the gateway: bytes as padded base64, int64 as strings so no
 * value passes through a double, zero fields left out. */
#include "subnet/etcd_req.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* ------------------------------------------------------------------- JSON */

/* Sets name to base64(bytes); absent bytes (NULL) set nothing. */
static int set_b64(json_t *o, const char *name, const struct etcd_pb_bytes *b)
{
	char *v;
	int ret;

	if (!b->data)
		return 0;
	v = etcd_b64_encode(b->data, b->len);
	ret = v ? json_object_set_new(o, name, json_string(v)) : -1;
	free(v);
	return ret < 0 ? -ENOMEM : 0;
}

static int set_i64(json_t *o, const char *name, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_object_set_new(o, name, json_string(buf)) < 0 ? -ENOMEM : 0;
}

static json_t *range_obj(const struct etcd_pb_range *r)
{
	json_t *o = json_object();
	int bad;

	if (!o)
		return NULL;
	bad = set_b64(o, "key", &r->key) | set_b64(o, "range_end", &r->range_end);
	if (r->limit)
		bad |= json_object_set_new(o, "limit", json_integer((json_int_t)r->limit));
	if (r->revision)
		bad |= set_i64(o, "revision", r->revision);
	if (r->keys_only)
		bad |= json_object_set_new(o, "keys_only", json_true());
	if (r->count_only)
		bad |= json_object_set_new(o, "count_only", json_true());
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *put_obj(const struct etcd_pb_put *p)
{
	json_t *o = json_object();
	struct etcd_pb_bytes value = p->value;

	if (!value.data)
		value.data = "";
	if (o && (set_b64(o, "key", &p->key) < 0 || set_b64(o, "value", &value) < 0 ||
		  (p->lease && set_i64(o, "lease", p->lease) < 0))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *delete_obj(const struct etcd_pb_delete *d)
{
	json_t *o = json_object();

	if (o && (set_b64(o, "key", &d->key) < 0 || set_b64(o, "range_end", &d->range_end) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *ops_arr(const struct etcd_pb_op *ops, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		const char *name = ops[i].kind == ETCD_PB_OP_RANGE ? "request_range"
				   : ops[i].kind == ETCD_PB_OP_PUT ? "request_put"
								   : "request_delete_range";
		json_t *o = ops[i].kind == ETCD_PB_OP_RANGE ? range_obj(&ops[i].range)
			    : ops[i].kind == ETCD_PB_OP_PUT ? put_obj(&ops[i].put)
							    : delete_obj(&ops[i].del);

		if (!o || json_array_append_new(a, json_pack("{s:o}", name, o)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *txn_obj(const struct etcd_pb_txn *t)
{
	json_t *cmps = json_array(), *succ, *fail;

	for (size_t i = 0; cmps && i < t->n_cmp; i++) {
		const struct etcd_pb_compare *c = &t->cmp[i];
		bool create = c->target == ETCD_PB_CMP_CREATE;
		json_t *o = json_object();
		int bad = !o;

		/* The default target is VERSION: always say which one. */
		bad = bad || set_b64(o, "key", &c->key) < 0 ||
		      json_object_set_new(o, "target", json_string(create ? "CREATE" : "MOD")) <
			      0 ||
		      json_object_set_new(o, "result", json_string("EQUAL")) < 0 ||
		      set_i64(o, create ? "create_revision" : "mod_revision", c->revision) < 0;
		if (bad || json_array_append_new(cmps, o) < 0) {
			json_decref(cmps);
			return NULL;
		}
	}
	succ = ops_arr(t->success, t->n_success);
	fail = ops_arr(t->failure, t->n_failure);
	if (!cmps || !succ || !fail) {
		json_decref(cmps);
		json_decref(succ);
		json_decref(fail);
		return NULL;
	}
	/* "o" steals the references, on failure too. */
	return json_pack("{s:o,s:o,s:o}", "compare", cmps, "success", succ, "failure", fail);
}

static json_t *i64_obj(const char *name, int64_t v)
{
	json_t *o = json_object();

	if (o && set_i64(o, name, v) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *etcd_req_json(const struct etcd_request *r, const char **path)
{
	json_t *o = NULL;
	char *text;

	switch (r->op) {
	case ETCD_OP_RANGE:
		*path = "/v3/kv/range";
		o = range_obj(&r->range);
		break;
	case ETCD_OP_PUT:
		*path = "/v3/kv/put";
		o = put_obj(&r->put);
		break;
	case ETCD_OP_DELETE:
		*path = "/v3/kv/deleterange";
		o = delete_obj(&r->del);
		break;
	case ETCD_OP_TXN:
		*path = "/v3/kv/txn";
		o = txn_obj(&r->txn);
		break;
	case ETCD_OP_GRANT:
		*path = "/v3/lease/grant";
		o = i64_obj("TTL", r->ttl);
		break;
	case ETCD_OP_KEEPALIVE:
		*path = "/v3/lease/keepalive";
		o = i64_obj("ID", r->id);
		break;
	case ETCD_OP_REVOKE:
		*path = "/v3/lease/revoke";
		o = i64_obj("ID", r->id);
		break;
	default:
		return NULL;
	}
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

char *etcd_watch_create_json(const struct etcd_pb_watch_create *w)
{
	json_t *o = json_object(), *b;
	char *text = NULL;

	if (!o)
		return NULL;
	if (set_b64(o, "key", &w->key) < 0 || set_b64(o, "range_end", &w->range_end) < 0 ||
	    set_i64(o, "start_revision", w->start_revision) < 0 ||
	    (w->progress_notify && json_object_set_new(o, "progress_notify", json_true()) < 0) ||
	    (w->prev_kv && json_object_set_new(o, "prev_kv", json_true()) < 0)) {
		json_decref(o);
		return NULL;
	}
	b = json_pack("{s:o}", "create_request", o);
	text = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	return text;
}

/* --------------------------------------------------------------- protobuf */

int etcd_req_pb(struct etcd_pb_buf *b, const struct etcd_request *r)
{
	switch (r->op) {
	case ETCD_OP_RANGE:
		return etcd_pb_encode_range(b, &r->range);
	case ETCD_OP_PUT:
		return etcd_pb_encode_put(b, &r->put);
	case ETCD_OP_DELETE:
		return etcd_pb_encode_delete(b, &r->del);
	case ETCD_OP_TXN:
		return etcd_pb_encode_txn(b, &r->txn);
	case ETCD_OP_GRANT:
		return etcd_pb_encode_lease_grant(b, r->ttl, 0);
	case ETCD_OP_KEEPALIVE:
		return etcd_pb_encode_lease_keepalive(b, r->id);
	case ETCD_OP_REVOKE:
		return etcd_pb_encode_lease_revoke(b, r->id);
	default:
		return -EINVAL;
	}
}
