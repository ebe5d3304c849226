/* etcd v3 transport (HTTP/JSON gateway or gRPC), libcurl multi: the client, its request queue,
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

/* Which wire the client speaks. AUTO picks gRPC when a client certificate
 * is given without a user name and every endpoint is https: etcd then takes
 * the user from the certificate's Common Name, which its JSON gateway
 * refuses. gRPC needs HTTP/2 (libcurl with nghttp2) and takes no user name. */
enum etcd_transport {
	ETCD_TRANSPORT_AUTO,
	ETCD_TRANSPORT_JSON,
	ETCD_TRANSPORT_GRPC,
};

struct etcd_config {
	const char *const *endpoints; /* "http://host:port" or "https://..." */
	size_t n_endpoints;
	const char *cafile, *certfile, *keyfile; /* NULL when unused */
	const char *username, *password;	 /* both or neither */
	long request_timeout_ms;		 /* 0: default 5000 */
	long connect_timeout_ms;		 /* 0: default 3000 */
	enum etcd_transport transport;
};

/* JSON or GRPC for cfg, or -EINVAL (gRPC with a user name). */
int etcd_transport_choose(const struct etcd_config *cfg);

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
/* "grpc" or "json", for logs. */
const char *etcd_client_transport(const struct etcd_client *c);
/* HTTP requests started (unary and watch), for metrics. */
uint64_t etcd_client_requests(const struct etcd_client *c);

struct etcd_request;
/* Starts one unary call (encoded for the client's transport); resp_max 0
 * means the default cap. 0 when started, else -errno and no callback. */
int etcd_submit(struct etcd_client *c, const struct etcd_request *rq, size_t resp_max, etcd_cb cb,
		void *data);

struct etcd_watch;
struct etcd_pb_watch_create;
/* Opens a watch stream for one create request. */
int etcd_watch_open(struct etcd_client *c, const struct etcd_pb_watch_create *wc, etcd_watch_cb cb,
		    void *data, struct etcd_watch **out);
/* Ends the stream now; no CLOSED message follows. Safe inside the watch's
 * own callback, except after CLOSED (the watch is gone by then). */
void etcd_watch_cancel(struct etcd_watch *w);

#endif
