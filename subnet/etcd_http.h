/* etcd v3 gateway transport, libcurl multi: the client, its request queue,
 * auth, endpoint failover and watch streams. It moves bytes; the codec
 * (etcd_codec.h) gives them meaning and etcd.h builds the calls.
 *
 * Everything is asynchronous: a request is started and its callback runs
 * later from the event loop the client was handed. libcurl's sockets are
 * fds of that loop and its timeout is a loop timer; the client owns no
 * poller of its own, and modules built on it take their timers from the
 * same loop (etcd_client_loop).
 */
#ifndef WEFT_ETCD_HTTP_H
#define WEFT_ETCD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subnet/etcd_codec.h"

struct etcd_client;
struct loop;

struct etcd_config {
	const char *const *endpoints; /* "http://host:port" or "https://..." */
	size_t n_endpoints;
	const char *cafile, *certfile, *keyfile; /* NULL when unused */
	const char *username, *password;	 /* both or neither */
	long request_timeout_ms;		 /* 0: default 5000 */
	long connect_timeout_ms;		 /* 0: default 3000 */
};

typedef void (*etcd_cb)(void *data, const struct etcd_response *resp);

/* Needs curl_global_init() done by the caller. The loop must outlive the
 * client. */
int etcd_client_new(struct loop *l, const struct etcd_config *cfg, struct etcd_client **out);
/* Drops every pending request and watch without calling callbacks and
 * takes its sockets and timer out of the loop. */
void etcd_client_free(struct etcd_client *c);
/* The loop the client runs on. */
struct loop *etcd_client_loop(const struct etcd_client *c);
/* Endpoint currently used, for logs. */
const char *etcd_client_endpoint(const struct etcd_client *c);
/* HTTP requests started (unary and watch), for metrics. */
uint64_t etcd_client_requests(const struct etcd_client *c);

/* Starts one unary call with a ready body (taken, freed on failure too);
 * resp_max 0 means the default cap. 0 when started, else -errno and no
 * callback. */
int etcd_http_submit(struct etcd_client *c, enum etcd_op op, const char *path, char *text,
		     size_t resp_max, etcd_cb cb, void *data);

struct etcd_watch;
/* Opens a watch stream with a ready create_request body (taken). */
int etcd_http_watch_open(struct etcd_client *c, char *body, etcd_watch_cb cb, void *data,
			 struct etcd_watch **out);
/* Ends the stream now; no CLOSED message follows. Safe inside the watch's
 * own callback, except after CLOSED (the watch is gone by then). */
void etcd_watch_cancel(struct etcd_watch *w);

#endif
