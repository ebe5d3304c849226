/* etcd v3 client over the HTTP/JSON gateway (/v3/...) or gRPC: the API.
 *
 * Layers, each using only the ones below it:
 *   etcd_codec.h  wire format: base64, kvs, answers, watch framing (jansson);
 *                 etcd_pb.h the same for gRPC, etcd_req.h neutral requests
 *   etcd_http.h   transport: client, curl multi, queue, auth, failover,
 *                 watch streams, timers (libcurl)
 *   etcd.h        this API: get/put/txn/lease/watch bodies
 *   etcd_list.h   paginated listing on top of the API
 * Including this header gives all three lower ones.
 */
#ifndef WEFT_ETCD_H
#define WEFT_ETCD_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subnet/etcd_codec.h"
#include "subnet/etcd_http.h"
#include "subnet/etcd_req.h"
#include "subnet/etcd_watch.h"

/* Unary calls. They return 0 when started (the callback runs exactly once,
 * later) or -errno when nothing was started (no callback). */
int etcd_get(struct etcd_client *c, const char *key, etcd_cb cb, void *data);
/* All keys starting with prefix. */
int etcd_get_prefix(struct etcd_client *c, const char *prefix, etcd_cb cb, void *data);
int etcd_put(struct etcd_client *c, const char *key, const char *value, int64_t lease, etcd_cb cb,
	     void *data);
int etcd_delete(struct etcd_client *c, const char *key, etcd_cb cb, void *data);
/* Any range; an answer of more than resp_max bytes fails with ETCD_ETOOBIG. */
int etcd_range(struct etcd_client *c, const struct etcd_pb_range *range, size_t resp_max,
	       etcd_cb cb, void *data);

enum etcd_cmp {
	ETCD_CMP_CREATE, /* create_revision(key) == rev; rev 0: key absent */
	ETCD_CMP_MOD,	 /* mod_revision(key) == rev */
};
/* If the compare holds, put key=value (lease 0: none). Otherwise the
 * response carries the key's current kv (n_kvs 0 when absent). */
int etcd_txn_put(struct etcd_client *c, enum etcd_cmp cmp, int64_t rev, const char *key,
		 const char *value, int64_t lease, etcd_cb cb, void *data);
/* Delete key only if its mod_revision is still rev. */
int etcd_txn_delete(struct etcd_client *c, int64_t mod_rev, const char *key, etcd_cb cb,
		    void *data);

int etcd_lease_grant(struct etcd_client *c, int64_t ttl, etcd_cb cb, void *data);
int etcd_lease_keepalive(struct etcd_client *c, int64_t id, etcd_cb cb, void *data);
int etcd_lease_revoke(struct etcd_client *c, int64_t id, etcd_cb cb, void *data);

#endif
