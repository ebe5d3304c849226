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

#include <stdint.h>

#include "subnet/etcd_http.h"

struct etcd_client;
struct etcd_watch;

/* Watches every key under prefix from start_rev (0: from now), with
 * progress notifications. Messages arrive from the client's event loop. */
int etcd_watch_prefix(struct etcd_client *c, const char *prefix, int64_t start_rev,
		      etcd_watch_cb cb, void *data, struct etcd_watch **out);

#endif
