/* etcd v3 API: each call fills a transport-neutral request (etcd_req.h) and
 * hands it to etcd_submit, which encodes it for the client's wire (or opens
 * a watch stream). */
#include "subnet/etcd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct etcd_pb_bytes str_bytes(const char *s)
{
	return (struct etcd_pb_bytes){.data = s, .len = strlen(s)};
}

int etcd_get(struct etcd_client *c, const char *key, etcd_cb cb, void *data)
{
	struct etcd_request rq = {.op = ETCD_OP_RANGE, .range = {.key = str_bytes(key)}};

	return etcd_submit(c, &rq, 0, cb, data);
}

int etcd_get_prefix(struct etcd_client *c, const char *prefix, etcd_cb cb, void *data)
{
	struct etcd_request rq = {.op = ETCD_OP_RANGE, .range = {.key = str_bytes(prefix)}};
	size_t end_len;
	char *end;
	int ret;

	if (etcd_prefix_end(prefix, &end, &end_len) < 0)
		return -ENOMEM;
	rq.range.range_end = (struct etcd_pb_bytes){.data = end, .len = end_len};
	ret = etcd_submit(c, &rq, 0, cb, data);
	free(end);
	return ret;
}

int etcd_range(struct etcd_client *c, const struct etcd_pb_range *range, size_t resp_max,
	       etcd_cb cb, void *data)
{
	struct etcd_request rq = {.op = ETCD_OP_RANGE, .range = *range};

	return etcd_submit(c, &rq, resp_max, cb, data);
}

int etcd_put(struct etcd_client *c, const char *key, const char *value, int64_t lease, etcd_cb cb,
	     void *data)
{
	struct etcd_request rq = {
		.op = ETCD_OP_PUT,
		.put = {.key = str_bytes(key), .value = str_bytes(value), .lease = lease},
	};

	return etcd_submit(c, &rq, 0, cb, data);
}

int etcd_delete(struct etcd_client *c, const char *key, etcd_cb cb, void *data)
{
	struct etcd_request rq = {.op = ETCD_OP_DELETE, .del = {.key = str_bytes(key)}};

	return etcd_submit(c, &rq, 0, cb, data);
}

/* One compare on key; success runs op, failure reads the key back. */
static int txn(struct etcd_client *c, enum etcd_cmp cmp, int64_t rev, const char *key,
	       const struct etcd_pb_op *op, etcd_cb cb, void *data)
{
	struct etcd_pb_compare cm = {
		.target = cmp == ETCD_CMP_CREATE ? ETCD_PB_CMP_CREATE : ETCD_PB_CMP_MOD,
		.key = str_bytes(key),
		.revision = rev,
	};
	struct etcd_pb_op fail = {.kind = ETCD_PB_OP_RANGE, .range = {.key = str_bytes(key)}};
	struct etcd_request rq = {
		.op = ETCD_OP_TXN,
		.txn = {.cmp = &cm,
			.n_cmp = 1,
			.success = op,
			.n_success = 1,
			.failure = &fail,
			.n_failure = 1},
	};

	return etcd_submit(c, &rq, 0, cb, data);
}

int etcd_txn_put(struct etcd_client *c, enum etcd_cmp cmp, int64_t rev, const char *key,
		 const char *value, int64_t lease, etcd_cb cb, void *data)
{
	struct etcd_pb_op put = {
		.kind = ETCD_PB_OP_PUT,
		.put = {.key = str_bytes(key), .value = str_bytes(value), .lease = lease},
	};

	return txn(c, cmp, rev, key, &put, cb, data);
}

int etcd_txn_delete(struct etcd_client *c, int64_t mod_rev, const char *key, etcd_cb cb, void *data)
{
	struct etcd_pb_op del = {.kind = ETCD_PB_OP_DELETE, .del = {.key = str_bytes(key)}};

	return txn(c, ETCD_CMP_MOD, mod_rev, key, &del, cb, data);
}

int etcd_lease_grant(struct etcd_client *c, int64_t ttl, etcd_cb cb, void *data)
{
	struct etcd_request rq = {.op = ETCD_OP_GRANT, .ttl = ttl};

	return etcd_submit(c, &rq, 0, cb, data);
}

int etcd_lease_keepalive(struct etcd_client *c, int64_t id, etcd_cb cb, void *data)
{
	struct etcd_request rq = {.op = ETCD_OP_KEEPALIVE, .id = id};

	return etcd_submit(c, &rq, 0, cb, data);
}

int etcd_lease_revoke(struct etcd_client *c, int64_t id, etcd_cb cb, void *data)
{
	struct etcd_request rq = {.op = ETCD_OP_REVOKE, .id = id};

	return etcd_submit(c, &rq, 0, cb, data);
}

int etcd_watch_prefix(struct etcd_client *c, const char *prefix, int64_t start_rev,
		      etcd_watch_cb cb, void *data, struct etcd_watch **out)
{
	struct etcd_pb_watch_create wc = {
		.key = str_bytes(prefix),
		.start_revision = start_rev,
		.progress_notify = true,
	};
	size_t end_len;
	char *end;
	int ret;

	ret = etcd_prefix_end(prefix, &end, &end_len);
	if (ret < 0)
		return ret;
	wc.range_end = (struct etcd_pb_bytes){.data = end, .len = end_len};
	ret = etcd_watch_open(c, &wc, cb, data, out);
	free(end);
	return ret;
}
