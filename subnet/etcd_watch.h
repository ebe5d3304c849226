/* etcd v3 watch over the gateway: POST /v3/watch answers with a stream of
 * JSON objects separated by '\n', each {"result":{...}} or {"error":{...}}.
 * Chunk boundaries mean nothing, so bytes are buffered and split on '\n';
 * the last object of a gracefully closed stream has no '\n' and is parsed at
 * the end of the transfer.
 *
 * A watch never reconnects by itself: when the stream ends for any reason
 * (server gone, compaction, cancel, dead connection) the callback receives
 * one ETCD_WATCH_CLOSED message and the client frees the watch. The owner
 * then re-lists and starts a new one, which is what a resync needs anyway.
 */
#ifndef WEFT_ETCD_WATCH_H
#define WEFT_ETCD_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etcd_client;
struct etcd_watch;
struct etcd_kv;

enum etcd_event_type {
	ETCD_EVENT_PUT,
	ETCD_EVENT_DELETE,
};

struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv *kv; /* DELETE: only key and mod_revision are set */
};

enum etcd_watch_kind {
	ETCD_WATCH_CREATED,   /* the server accepted the watch */
	ETCD_WATCH_EVENTS,    /* events[] */
	ETCD_WATCH_PROGRESS,  /* nothing changed up to revision */
	ETCD_WATCH_COMPACTED, /* start revision compacted: re-list */
	ETCD_WATCH_CANCELED,  /* canceled by the server (reason) */
	ETCD_WATCH_ERROR,     /* in-band stream error (reason) */
	ETCD_WATCH_CLOSED,    /* stream over; err says why */
};

struct etcd_watch_msg {
	enum etcd_watch_kind kind;
	int64_t revision;	  /* header.revision (0 if absent) */
	int64_t compact_revision; /* COMPACTED */
	const struct etcd_event *events;
	size_t n_events;
	const char *reason; /* CANCELED / ERROR / CLOSED: text for logs */
	int err;	    /* CLOSED: 0 if we ended it, else an ETCD_E* code */
};

typedef void (*etcd_watch_cb)(void *data, const struct etcd_watch_msg *msg);

/* Watches every key under prefix from start_rev (0: from now), with
 * progress notifications. Messages arrive from etcd_client_dispatch(). */
int etcd_watch_prefix(struct etcd_client *c, const char *prefix, int64_t start_rev,
		      etcd_watch_cb cb, void *data, struct etcd_watch **out);
/* Ends the stream now; no CLOSED message follows. Safe inside the watch's
 * own callback, except after CLOSED (the watch is gone by then). */
void etcd_watch_cancel(struct etcd_watch *w);

/* Stream framing, exposed for tests: feed bytes as they arrive, then call
 * finish at the end of the transfer. Every complete object is parsed into a
 * message and handed to cb; malformed lines give an ETCD_WATCH_ERROR. */
struct etcd_watch_parser {
	char *buf;
	size_t len, cap;
	etcd_watch_cb cb;
	void *data;
};

void etcd_watch_parser_init(struct etcd_watch_parser *p, etcd_watch_cb cb, void *data);
/* 0, or -ENOMEM / -E2BIG (a single object beyond 8 MiB). */
int etcd_watch_parser_feed(struct etcd_watch_parser *p, const char *bytes, size_t len);
void etcd_watch_parser_finish(struct etcd_watch_parser *p);
void etcd_watch_parser_clear(struct etcd_watch_parser *p);

/* Parses one object; on success the caller hands msg to its user, then
 * calls etcd_watch_msg_clear. */
int etcd_watch_parse_line(const char *line, size_t len, struct etcd_watch_msg *msg, char *reason,
			  size_t reason_len);
void etcd_watch_msg_clear(struct etcd_watch_msg *msg);

#endif
