/* The gRPC side of the etcd transport: HTTP/2 POSTs of framed protobuf
 * messages on the client's curl multi, the status read from the trailers.
 * Everything else (queue, failover, timers, watch bookkeeping) is shared with
 * the JSON gateway in etcd_http.c and etcd_stream.c.
 *
 * etcd takes the user from the client certificate's Common Name only when a
 * request carries no token, so no authorization header is ever sent here.
 */
#include "subnet/etcd_http_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A watch message of more than this ends the stream (as on the gateway). */
#define WATCH_MSG_MAX (8u << 20)

static bool all_https(const struct etcd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		if (strncasecmp(cfg->endpoints[i], "https://", 8))
			return false;
	return cfg->n_endpoints > 0;
}

int etcd_transport_choose(const struct etcd_config *cfg)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	bool h2 = v && (v->features & CURL_VERSION_HTTP2);

	switch (cfg->transport) {
	case ETCD_TRANSPORT_JSON:
		return ETCD_TRANSPORT_JSON;
	case ETCD_TRANSPORT_GRPC:
		if (cfg->username)
			return -EINVAL;
		return h2 ? ETCD_TRANSPORT_GRPC : -EPROTONOSUPPORT;
	case ETCD_TRANSPORT_AUTO:
		return h2 && cfg->certfile && !cfg->username && all_https(cfg)
			       ? ETCD_TRANSPORT_GRPC
			       : ETCD_TRANSPORT_JSON;
	}
	return -EINVAL;
}

static size_t on_header(char *buf, size_t size, size_t n, void *userp)
{
	/* Trailers arrive here too, after the body, as ordinary lines. */
	etcd_pb_status_header(userp, buf, size * n);
	return size * n;
}

int etcd_grpc_setup(struct etcd_client *c, CURL *e, size_t ep, struct curl_slist **hdrs,
		    struct etcd_pb_status *st)
{
	static const char *const names[] = {"Content-Type: application/grpc", "TE: trailers",
					    "Expect:"};
	bool tls = !strncasecmp(c->endpoints[ep], "https://", 8);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct curl_slist *h = curl_slist_append(*hdrs, names[i]);

		if (!h)
			return -ENOMEM;
		*hdrs = h;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
	/* gRPC is HTTP/2 only; plain http needs prior knowledge (no upgrade). */
	curl_easy_setopt(
		e, CURLOPT_HTTP_VERSION,
		(long)(tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE));
	/* Wait for a connection that multiplexes rather than open another.
	 * libcurl 7.88 fails a second stream on a reused prior-knowledge
	 * connection (CURLE_HTTP2, with etcd too): plain http gets one
	 * connection per call. */
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, tls ? 1L : 0L);
	if (!tls) {
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	}
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	if (st)
		curl_easy_setopt(e, CURLOPT_HEADERDATA, st);
	return 0;
}

void etcd_grpc_result(struct etcd_req *r, struct etcd_response *resp)
{
	long http = 0, ver = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &http);
	curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &ver);
	etcd_pb_unary_result(r->op, &r->st, r->resp, r->resp_len, resp);
	resp->http_status = http;
	if (r->st.status < 0 && (http != 200 || ver != CURL_HTTP_VERSION_2_0))
		etcd_msgf(resp->message, sizeof(resp->message),
			  "%s: not a gRPC answer (HTTP/%s status %ld)", r->c->endpoints[r->ep],
			  ver == CURL_HTTP_VERSION_2_0 ? "2" : "1.x", http);
	/* Unavailable: this member cannot serve now, try the next one later. */
	if (resp->grpc_code == 14)
		etcd_rotate_endpoint(r->c, r->ep);
}

struct watch_feed {
	struct etcd_watch *w;
	void (*on_msg)(void *, const struct etcd_watch_msg *);
};

static int on_watch_pb(void *data, const uint8_t *m, size_t len)
{
	struct watch_feed *f = data;
	struct etcd_watch_msg msg;
	char reason[256];

	etcd_pb_parse_watch(m, len, &msg, NULL, reason, sizeof(reason));
	f->on_msg(f->w, &msg);
	etcd_watch_msg_clear(&msg);
	/* The stream is being ended: later messages are not wanted. */
	return f->w->cancelled || f->w->ending ? -ECANCELED : 0;
}

int etcd_grpc_watch_feed(struct etcd_watch *w,
			 void (*on_msg)(void *, const struct etcd_watch_msg *))
{
	struct watch_feed f = {.w = w, .on_msg = on_msg};
	int ret;

	if (!w->rd.max)
		etcd_pb_reader_init(&w->rd, WATCH_MSG_MAX);
	ret = etcd_pb_reader_feed(&w->rd, w->in, w->in_len, on_watch_pb, &f);
	w->in_len = 0;
	return ret == -ECANCELED ? 0 : ret;
}

void etcd_grpc_watch_end(struct etcd_watch *w, struct etcd_watch_msg *closed, char *reason,
			 size_t len)
{
	struct etcd_response r = {0};
	const char *ep = w->c->endpoints[w->ep];

	if (etcd_pb_reader_partial(&w->rd)) {
		closed->err = ETCD_EPROTO;
		etcd_msgf(reason, len, "%s: watch stream cut inside a message", ep);
	} else if (w->st.status > 0) {
		closed->err = etcd_pb_status_apply(&w->st, &r);
		etcd_msgf(reason, len, "%s: %s", ep, r.message);
		if (w->st.status == 14)
			etcd_rotate_endpoint(w->c, w->ep);
	} else {
		closed->err = ETCD_ECONNECT;
		etcd_msgf(reason, len, "%s: stream closed by the server", ep);
	}
}
