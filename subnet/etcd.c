/* etcd v3 API over the gateway transport: each call builds its JSON body
 * and hands it to etcd_http_submit (or opens a watch stream). */
#include "subnet/etcd.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int submit(struct etcd_client *c, enum etcd_op op, const char *path, json_t *body,
		  etcd_cb cb, void *data)
{
	char *text;

	if (!body)
		return -ENOMEM;
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return etcd_http_submit(c, op, path, text, 0, cb, data);
}

/* ------------------------------------------------------------- operations */

static json_t *key_obj(const char *key)
{
	char *k64 = etcd_b64_encode(key, strlen(key));
	json_t *o = k64 ? json_pack("{s:s}", "key", k64) : NULL;

	free(k64);
	return o;
}

static int set_b64(json_t *o, const char *name, const char *s, size_t len)
{
	char *v = etcd_b64_encode(s, len);
	int ret = v ? json_object_set_new(o, name, json_string(v)) : -1;

	free(v);
	return ret < 0 ? -ENOMEM : 0;
}

static int set_i64(json_t *o, const char *name, int64_t v)
{
	char buf[24];

	/* Strings: int64 must not pass through a double anywhere. */
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_object_set_new(o, name, json_string(buf)) < 0 ? -ENOMEM : 0;
}

int etcd_get(struct etcd_client *c, const char *key, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_RANGE, "/v3/kv/range", key_obj(key), cb, data);
}

int etcd_get_prefix(struct etcd_client *c, const char *prefix, etcd_cb cb, void *data)
{
	json_t *o = key_obj(prefix);
	size_t end_len;
	char *end;

	if (!o || etcd_prefix_end(prefix, &end, &end_len) < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	if (set_b64(o, "range_end", end, end_len) < 0) {
		json_decref(o);
		o = NULL;
	}
	free(end);
	return submit(c, ETCD_OP_RANGE, "/v3/kv/range", o, cb, data);
}

int etcd_range_json(struct etcd_client *c, const char *body, size_t resp_max, etcd_cb cb,
		    void *data)
{
	return etcd_http_submit(c, ETCD_OP_RANGE, "/v3/kv/range", body ? strdup(body) : NULL,
				resp_max, cb, data);
}

static json_t *put_obj(const char *key, const char *value, int64_t lease)
{
	json_t *o = key_obj(key);

	if (o && (set_b64(o, "value", value, strlen(value)) < 0 ||
		  (lease && set_i64(o, "lease", lease) < 0))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int etcd_put(struct etcd_client *c, const char *key, const char *value, int64_t lease, etcd_cb cb,
	     void *data)
{
	return submit(c, ETCD_OP_PUT, "/v3/kv/put", put_obj(key, value, lease), cb, data);
}

int etcd_delete(struct etcd_client *c, const char *key, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_DELETE, "/v3/kv/deleterange", key_obj(key), cb, data);
}

static json_t *txn_obj(enum etcd_cmp cmp, int64_t rev, const char *key, json_t *success)
{
	json_t *cmpo = key_obj(key), *fail = key_obj(key), *txn = NULL;
	int bad;

	if (!cmpo || !fail || !success)
		goto out;
	/* The default target is VERSION: always say which one. */
	bad = json_object_set_new(cmpo, "target",
				  json_string(cmp == ETCD_CMP_CREATE ? "CREATE" : "MOD"));
	bad |= json_object_set_new(cmpo, "result", json_string("EQUAL"));
	bad |= set_i64(cmpo, cmp == ETCD_CMP_CREATE ? "create_revision" : "mod_revision", rev);
	if (bad)
		goto out;
	txn = json_pack("{s:[O],s:[O],s:[{s:O}]}", "compare", cmpo, "success", success, "failure",
			"request_range", fail);
out:
	json_decref(cmpo);
	json_decref(fail);
	json_decref(success);
	return txn;
}

int etcd_txn_put(struct etcd_client *c, enum etcd_cmp cmp, int64_t rev, const char *key,
		 const char *value, int64_t lease, etcd_cb cb, void *data)
{
	json_t *put = put_obj(key, value, lease);
	json_t *succ = put ? json_pack("{s:o}", "request_put", put) : NULL;

	return submit(c, ETCD_OP_TXN, "/v3/kv/txn", txn_obj(cmp, rev, key, succ), cb, data);
}

int etcd_txn_delete(struct etcd_client *c, int64_t mod_rev, const char *key, etcd_cb cb, void *data)
{
	json_t *del = key_obj(key);
	json_t *succ = del ? json_pack("{s:o}", "request_delete_range", del) : NULL;

	return submit(c, ETCD_OP_TXN, "/v3/kv/txn", txn_obj(ETCD_CMP_MOD, mod_rev, key, succ), cb,
		      data);
}

static json_t *id_obj(const char *name, int64_t v)
{
	json_t *o = json_object();

	if (o && set_i64(o, name, v) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int etcd_lease_grant(struct etcd_client *c, int64_t ttl, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_GRANT, "/v3/lease/grant", id_obj("TTL", ttl), cb, data);
}

int etcd_lease_keepalive(struct etcd_client *c, int64_t id, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_KEEPALIVE, "/v3/lease/keepalive", id_obj("ID", id), cb, data);
}

int etcd_lease_revoke(struct etcd_client *c, int64_t id, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_REVOKE, "/v3/lease/revoke", id_obj("ID", id), cb, data);
}

int etcd_watch_prefix(struct etcd_client *c, const char *prefix, int64_t start_rev,
		      etcd_watch_cb cb, void *data, struct etcd_watch **out)
{
	char *k64 = NULL, *e64 = NULL, *end = NULL, *body = NULL, rev[24];
	size_t end_len;
	json_t *b;
	int ret;

	ret = etcd_prefix_end(prefix, &end, &end_len);
	if (ret < 0)
		return ret;
	k64 = etcd_b64_encode(prefix, strlen(prefix));
	e64 = etcd_b64_encode(end, end_len);
	snprintf(rev, sizeof(rev), "%" PRId64, start_rev);
	b = json_pack("{s:{s:s?,s:s?,s:s,s:b}}", "create_request", "key", k64, "range_end", e64,
		      "start_revision", rev, "progress_notify", 1);
	body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (!k64 || !e64 || !body) {
		free(body);
		ret = -ENOMEM;
		goto out;
	}
	ret = etcd_http_watch_open(c, body, cb, data, out);
out:
	free(k64);
	free(e64);
	free(end);
	return ret;
}
