/* A transport-neutral description of one etcd call: the API (etcd.c,
 * etcd_list.c) fills it, and the transport encodes it as JSON for the gateway
 * or as a protobuf message for gRPC. Byte fields point into the caller's
 * memory and are only read while the call is being started.
 */
#ifndef WEFT_ETCD_REQ_H
#define WEFT_ETCD_REQ_H

#include <stdint.h>

#include "subnet/etcd_codec.h"
#include "subnet/etcd_pb.h"

struct etcd_request {
	enum etcd_op op; /* not ETCD_OP_AUTH */
	union {
		struct etcd_pb_range range;
		struct etcd_pb_put put;
		struct etcd_pb_delete del;
		struct etcd_pb_txn txn;
		int64_t ttl; /* GRANT */
		int64_t id;  /* KEEPALIVE, REVOKE */
	};
};

/* The gateway's JSON body and path ("/v3/kv/range"); NULL on ENOMEM or an
 * op without a JSON form. */
char *etcd_req_json(const struct etcd_request *r, const char **path);
/* One framed gRPC message appended to b: 0, -ENOMEM or -EINVAL. */
int etcd_req_pb(struct etcd_pb_buf *b, const struct etcd_request *r);
/* The gateway's {"create_request":{...}} body of a watch. */
char *etcd_watch_create_json(const struct etcd_pb_watch_create *w);

#endif
