/* Internals shared by the etcd transport files (etcd_http.c,
 * etcd_stream.c, etcd_grpc.c); nothing above the transport includes this.
 */
#ifndef WEFT_ETCD_HTTP_INT_H
#define WEFT_ETCD_HTTP_INT_H

#include "subnet/etcd_http.h"
#include "subnet/etcd_pb.h"

#include <curl/curl.h>

#define RESP_MAX       (16u << 20)
#define DEF_TIMEOUT_MS 5000L
#define DEF_CONNECT_MS 3000L

/* A libcurl socket registered in the loop (libcurl's socketp). */
struct etcd_sock {
	int fd;
	struct etcd_sock *next;
};

struct etcd_req {
	struct etcd_client *c;
	enum etcd_op op;
	const char *path;
	char *body;
	size_t body_len;
	struct etcd_pb_status st; /* gRPC trailers */
	etcd_cb cb;
	void *data;
	CURL *easy;
	struct curl_slist *hdrs;
	char *resp;
	size_t resp_len, resp_cap, resp_max;
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
	size_t ep; /* endpoint index used */
	unsigned tries;
	bool auth_retried;
	struct etcd_req *next;
};

struct etcd_watch {
	struct etcd_client *c;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	size_t body_len;
	struct etcd_pb_status st; /* gRPC trailers */
	struct etcd_pb_reader rd; /* gRPC framing */
	etcd_watch_cb cb;
	void *data;
	char *in;
	size_t in_len, in_cap;
	struct etcd_watch_parser parser;
	char errbuf[CURL_ERROR_SIZE];
	size_t ep;
	bool started, delivering, cancelled, ending;
	int end_err;
	char end_reason[256];
	struct etcd_watch *next;
};

struct etcd_client {
	struct loop *loop;
	struct loop_timer *curl_timer;
	struct etcd_sock *socks;
	CURLM *multi;
	char **endpoints;
	size_t n_endpoints, cur_ep;
	char *cafile, *certfile, *keyfile;
	char *username, *password;
	char *token;
	bool auth_inflight;
	long timeout_ms, connect_ms;
	bool grpc;
	uint64_t requests;
	struct etcd_req *active, *waiting; /* waiting: for an auth token */
	struct etcd_watch *watches;
};

void __attribute__((format(printf, 3, 4))) etcd_msgf(char *dst, size_t n, const char *fmt, ...);
int etcd_classify_curl(CURLcode rc);
void etcd_rotate_endpoint(struct etcd_client *c, size_t used);
int etcd_setup_easy(struct etcd_client *c, CURL *e, size_t ep, const char *path, const char *body,
		    size_t body_len, struct curl_slist **hdrs, char *errbuf);
int etcd_http_submit(struct etcd_client *c, enum etcd_op op, const char *path, char *body,
		     size_t body_len, size_t resp_max, etcd_cb cb, void *data);
/* gRPC parts (etcd_grpc.c). */
int etcd_grpc_setup(struct etcd_client *c, CURL *e, size_t ep, struct curl_slist **hdrs,
		    struct etcd_pb_status *st);
void etcd_grpc_result(struct etcd_req *r, struct etcd_response *resp);
/* Feeds the watch's buffered bytes through the deframer: 0 or -errno. */
int etcd_grpc_watch_feed(struct etcd_watch *w,
			 void (*on_msg)(void *, const struct etcd_watch_msg *));
/* The CLOSED message's err and reason once a gRPC watch stream ended. */
void etcd_grpc_watch_end(struct etcd_watch *w, struct etcd_watch_msg *closed, char *reason,
			 size_t len);
int etcd_start_auth(struct etcd_client *c);
int etcd_watch_start_transfer(struct etcd_watch *w);
void etcd_watch_destroy(struct etcd_watch *w);
void etcd_watch_deliver(struct etcd_watch *w, bool done, CURLcode rc);

#endif
