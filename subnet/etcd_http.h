/* etcd v3 gateway transport, libcurl multi: the client, its request queue,
 * auth, endpoint failover, watch streams and timers. It moves bytes; the
 * codec (etcd_codec.h) gives them meaning and etcd.h builds the calls.
 *
 * Everything is asynchronous: a request is started and its callback runs
 * later from etcd_client_dispatch(). The client owns an inner epoll fd that
 * becomes readable whenever libcurl or one of the client's timers needs
 * attention, so an embedding event loop only watches one fd
 * (etcd_client_fd) and calls etcd_client_dispatch() when it is readable.
 */
#ifndef WEFT_ETCD_HTTP_H
#define WEFT_ETCD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subnet/etcd_codec.h"

struct etcd_client;
struct etcd_timer;

struct etcd_config {
	const char *const *endpoints; /* "http://host:port" or "https://..." */
	size_t n_endpoints;
	const char *cafile, *certfile, *keyfile; /* NULL when unused */
	const char *username, *password;	 /* both or neither */
	long request_timeout_ms;		 /* 0: default 5000 */
	long connect_timeout_ms;		 /* 0: default 3000 */
};

typedef void (*etcd_cb)(void *data, const struct etcd_response *resp);

/* Needs curl_global_init() done by the caller. */
int etcd_client_new(const struct etcd_config *cfg, struct etcd_client **out);
/* Drops every pending request and watch without calling callbacks. */
void etcd_client_free(struct etcd_client *c);
int etcd_client_fd(const struct etcd_client *c);
/* Drives transfers and timers; runs callbacks. Returns 0 or -errno. */
int etcd_client_dispatch(struct etcd_client *c);
/* Endpoint currently used, for logs. */
const char *etcd_client_endpoint(const struct etcd_client *c);
/* HTTP requests started (unary and watch), for metrics. */
uint64_t etcd_client_requests(const struct etcd_client *c);

/* One-shot timers run from etcd_client_dispatch(), so modules built on the
 * client need no other event source. */
typedef void (*etcd_timer_cb)(void *data);
int etcd_timer_new(struct etcd_client *c, etcd_timer_cb cb, void *data, struct etcd_timer **out);
int etcd_timer_arm(struct etcd_timer *t, uint64_t delay_ms);
void etcd_timer_disarm(struct etcd_timer *t);
bool etcd_timer_armed(const struct etcd_timer *t);
void etcd_timer_free(struct etcd_timer *t);

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
