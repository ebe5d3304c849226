/* etcd v3 gRPC wire format: protobuf encoders for the requests weftd sends,
 * decoders for the answers it reads, and gRPC message framing. No I/O (and
 * no libcurl), so it is tested and fuzzed alone.
 *
 * Only the fields weftd uses are known; field numbers are etcd's
 * (subnet/etcd_pb.proto lists them). Decoders see untrusted bytes: every
 * length is bounds-checked, a known field with the wrong wire type or a
 * group is rejected, unknown fields are skipped. Answers land in the same
 * struct etcd_response / etcd_watch_msg the JSON gateway codec fills, so the
 * layers above do not care which transport carried them.
 *
 * A gRPC message on the wire is a 5-byte prefix (flags, then the length as
 * 32-bit big endian) followed by the protobuf bytes. Every encoder appends
 * one complete framed message.
 */
#ifndef WEFT_ETCD_PB_H
#define WEFT_ETCD_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subnet/etcd_codec.h"

#define ETCD_PB_PREFIX 5u

/* Output buffer; the first allocation failure sticks in err and later
 * appends do nothing, so a message is built without checks per field. */
struct etcd_pb_buf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

void etcd_pb_buf_free(struct etcd_pb_buf *b);

struct etcd_pb_bytes {
	const char *data; /* NULL only with len 0 */
	size_t len;
};

struct etcd_pb_range {
	struct etcd_pb_bytes key, range_end;
	int64_t limit, revision;
	bool keys_only, count_only;
};

struct etcd_pb_put {
	struct etcd_pb_bytes key, value;
	int64_t lease;
};

struct etcd_pb_delete {
	struct etcd_pb_bytes key, range_end;
};

/* Compare targets, numbered as etcd numbers them; the result is always
 * EQUAL. A revision of 0 is still sent (create_revision 0: key absent). */
enum etcd_pb_target {
	ETCD_PB_CMP_CREATE = 1,
	ETCD_PB_CMP_MOD = 2,
};

struct etcd_pb_compare {
	enum etcd_pb_target target;
	struct etcd_pb_bytes key;
	int64_t revision;
};

enum etcd_pb_op_kind {
	ETCD_PB_OP_RANGE,
	ETCD_PB_OP_PUT,
	ETCD_PB_OP_DELETE,
};

struct etcd_pb_op {
	enum etcd_pb_op_kind kind;
	union {
		struct etcd_pb_range range;
		struct etcd_pb_put put;
		struct etcd_pb_delete del;
	};
};

struct etcd_pb_txn {
	const struct etcd_pb_compare *cmp;
	size_t n_cmp;
	const struct etcd_pb_op *success, *failure;
	size_t n_success, n_failure;
};

struct etcd_pb_watch_create {
	struct etcd_pb_bytes key, range_end;
	int64_t start_revision;
	bool progress_notify, prev_kv;
};

/* Each appends one framed message: 0, or -ENOMEM / -EINVAL (bad op kind). */
int etcd_pb_encode_range(struct etcd_pb_buf *b, const struct etcd_pb_range *r);
int etcd_pb_encode_put(struct etcd_pb_buf *b, const struct etcd_pb_put *p);
int etcd_pb_encode_delete(struct etcd_pb_buf *b, const struct etcd_pb_delete *d);
int etcd_pb_encode_txn(struct etcd_pb_buf *b, const struct etcd_pb_txn *t);
int etcd_pb_encode_lease_grant(struct etcd_pb_buf *b, int64_t ttl, int64_t id);
int etcd_pb_encode_lease_keepalive(struct etcd_pb_buf *b, int64_t id);
int etcd_pb_encode_lease_revoke(struct etcd_pb_buf *b, int64_t id);
int etcd_pb_encode_watch_create(struct etcd_pb_buf *b, const struct etcd_pb_watch_create *w);
int etcd_pb_encode_watch_cancel(struct etcd_pb_buf *b, int64_t watch_id);

/* The HTTP/2 :path of the call that carries op ("/etcdserverpb.KV/Range"),
 * NULL for ETCD_OP_AUTH (a certificate names the user). */
const char *etcd_pb_path(enum etcd_op op);
#define ETCD_PB_PATH_WATCH "/etcdserverpb.Watch/Watch"

/* Incremental gRPC deframer: bytes go in as they arrive, cut anywhere; each
 * complete message is handed to cb (valid only during the call). Only the
 * unfinished message is buffered, never more than max bytes. */
typedef int (*etcd_pb_msg_cb)(void *data, const uint8_t *msg, size_t len);

struct etcd_pb_reader {
	uint8_t hdr[ETCD_PB_PREFIX];
	size_t hdr_len;
	uint8_t *msg;
	size_t msg_len, msg_have;
	size_t max;
	int err; /* sticky: once wrong, the stream is unusable */
};

void etcd_pb_reader_init(struct etcd_pb_reader *r, size_t max);
/* 0; -EMSGSIZE (a message announced over max), -EPROTO (compressed
 * message: none was asked for), -ENOMEM, or the first negative cb return. */
int etcd_pb_reader_feed(struct etcd_pb_reader *r, const void *bytes, size_t len, etcd_pb_msg_cb cb,
			void *data);
/* True when a message is cut off: at the end of a stream, a truncation. */
bool etcd_pb_reader_partial(const struct etcd_pb_reader *r);
void etcd_pb_reader_clear(struct etcd_pb_reader *r);

/* Trailers (or a trailers-only answer) end every call with grpc-status and
 * maybe grpc-message. Feed each header line as the transport reads it;
 * status is -1 until a grpc-status line was seen. */
struct etcd_pb_status {
	int status;
	char message[256]; /* percent-decoded, one line */
};

void etcd_pb_status_init(struct etcd_pb_status *s);
/* 1 if the line was a grpc-status/-message header, 0 if another header,
 * -EPROTO for a malformed grpc-status value. */
int etcd_pb_status_header(struct etcd_pb_status *s, const char *line, size_t len);
/* Sets out->err / grpc_code / message for a call that ended with s
 * (no grpc-status at all: ETCD_EPROTO). Returns out->err. */
int etcd_pb_status_apply(const struct etcd_pb_status *s, struct etcd_response *out);

/* The result of a whole unary call: its trailer status, then exactly one
 * answer message in body (framed). Fills out like etcd_pb_parse_response
 * (cleared first) and returns out->err. */
int etcd_pb_unary_result(enum etcd_op op, const struct etcd_pb_status *st, const void *body,
			 size_t len, struct etcd_response *out);

/* What the ResponseHeader says about the member that answered. */
struct etcd_pb_header {
	uint64_t cluster_id, member_id, raft_term;
	int64_t revision;
};

/* Decodes one unary answer message of op into out (cleared first; the
 * caller frees it with etcd_response_clear). hdr may be NULL. 0 or -EPROTO /
 * -ENOMEM with out->err and out->message set. */
int etcd_pb_parse_response(enum etcd_op op, const uint8_t *msg, size_t len,
			   struct etcd_response *out, struct etcd_pb_header *hdr);

/* Decodes one WatchResponse, like etcd_watch_parse_line: on success the
 * caller hands msg on, then calls etcd_watch_msg_clear. watch_id may be
 * NULL. A malformed message gives kind ETCD_WATCH_ERROR and -EPROTO. */
int etcd_pb_parse_watch(const uint8_t *m, size_t len, struct etcd_watch_msg *msg, int64_t *watch_id,
			char *reason, size_t reason_len);

#endif
