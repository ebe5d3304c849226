/* Watch streams of the etcd transport: one long POST each (/v3/watch on the
 * gateway, the Watch call on gRPC), bytes buffered by libcurl's write
 * callback and parsed outside it. */
#include "subnet/etcd_http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subnet/etcd_req.h"

/* ---------------------------------------------------------------- watches */

void etcd_watch_destroy(struct etcd_watch *w)
{
	struct etcd_client *c = w->c;

	for (struct etcd_watch **pp = &c->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	if (w->easy) {
		curl_multi_remove_handle(c->multi, w->easy);
		curl_easy_cleanup(w->easy);
	}
	curl_slist_free_all(w->hdrs);
	etcd_watch_parser_clear(&w->parser);
	etcd_pb_reader_clear(&w->rd);
	free(w->in);
	free(w->body);
	free(w);
}

static size_t on_watch_data(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct etcd_watch *w = userp;
	size_t n = size * nmemb;

	if (w->cancelled || w->ending)
		return 0;
	if (w->in_len + n > w->in_cap) {
		size_t cap = w->in_cap ? w->in_cap : 4096;
		char *nbuf;

		while (cap < w->in_len + n)
			cap *= 2;
		if (cap > RESP_MAX)
			return 0;
		nbuf = realloc(w->in, cap);
		if (!nbuf)
			return 0;
		w->in = nbuf;
		w->in_cap = cap;
	}
	memcpy(w->in + w->in_len, ptr, n);
	w->in_len += n;
	return n;
}

static void on_watch_msg(void *data, const struct etcd_watch_msg *msg)
{
	struct etcd_watch *w = data;

	if (w->cancelled || w->ending)
		return;
	/* Auth errors of a watch come in-band with HTTP 200: drop the token so
	 * the next request logs in again (no unary call may ever see a 401). */
	if (msg->kind == ETCD_WATCH_CANCELED && msg->reason &&
	    (strstr(msg->reason, "auth token") || strstr(msg->reason, "Unauthenticated") ||
	     strstr(msg->reason, "user name is empty"))) {
		free(w->c->token);
		w->c->token = NULL;
	}
	w->cb(w->data, msg);
	/* The server keeps a canceled stream open: end it ourselves. */
	if (msg->kind == ETCD_WATCH_COMPACTED || msg->kind == ETCD_WATCH_CANCELED ||
	    msg->kind == ETCD_WATCH_ERROR) {
		w->ending = true;
		w->end_err = msg->kind == ETCD_WATCH_ERROR ? ETCD_ESERVER : 0;
		snprintf(w->end_reason, sizeof(w->end_reason), "%s",
			 msg->reason ? msg->reason : "");
	}
}

int etcd_watch_start_transfer(struct etcd_watch *w)
{
	struct etcd_client *c = w->c;
	int ret;

	w->easy = curl_easy_init();
	if (!w->easy)
		return -ENOMEM;
	w->ep = c->cur_ep;
	ret = etcd_setup_easy(c, w->easy, w->ep, c->grpc ? ETCD_PB_PATH_WATCH : "/v3/watch",
			      w->body, w->body_len, &w->hdrs, w->errbuf);
	if (ret < 0)
		return ret;
	if (c->grpc) {
		etcd_pb_status_init(&w->st);
		curl_easy_setopt(w->easy, CURLOPT_HEADERDATA, &w->st);
	} else {
		curl_easy_setopt(w->easy, CURLOPT_FORBID_REUSE, 1L);
	}
	/* No overall timeout on a stream: progress notifications plus a
	 * low-speed limit and TCP keepalive find a dead server. */
	curl_easy_setopt(w->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(w->easy, CURLOPT_LOW_SPEED_TIME, 900L);
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_watch_data);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->easy, CURLOPT_PRIVATE, NULL);
	if (curl_multi_add_handle(c->multi, w->easy) != CURLM_OK)
		return -ENOMEM;
	w->started = true;
	c->requests++;
	return 0;
}

/* The create request in the client's wire format. */
static char *watch_body(struct etcd_client *c, const struct etcd_pb_watch_create *wc, size_t *len)
{
	struct etcd_pb_buf b = {0};
	char *text;

	if (!c->grpc) {
		text = etcd_watch_create_json(wc);
		*len = text ? strlen(text) : 0;
		return text;
	}
	if (etcd_pb_encode_watch_create(&b, wc) < 0) {
		etcd_pb_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return (char *)b.data;
}

int etcd_watch_open(struct etcd_client *c, const struct etcd_pb_watch_create *wc, etcd_watch_cb cb,
		    void *data, struct etcd_watch **out)
{
	struct etcd_watch *w;
	int ret = 0;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->body = watch_body(c, wc, &w->body_len);
	if (!w->body) {
		free(w);
		return -ENOMEM;
	}
	w->c = c;
	w->cb = cb;
	w->data = data;
	etcd_watch_parser_init(&w->parser, on_watch_msg, w);
	w->next = c->watches;
	c->watches = w;
	if (c->username && !c->token) {
		if (!c->auth_inflight)
			ret = etcd_start_auth(c);
	} else {
		ret = etcd_watch_start_transfer(w);
	}
	if (ret < 0) {
		etcd_watch_destroy(w);
		return ret;
	}
	*out = w;
	return 0;
}

void etcd_watch_cancel(struct etcd_watch *w)
{
	if (!w)
		return;
	if (w->delivering) {
		w->cancelled = true;
		return;
	}
	etcd_watch_destroy(w);
}

/* Hands buffered bytes to the parser, outside any libcurl callback. */
void etcd_watch_deliver(struct etcd_watch *w, bool done, CURLcode rc)
{
	struct etcd_watch_msg closed = {.kind = ETCD_WATCH_CLOSED};
	char reason[512];

	w->delivering = true;
	if (w->in_len && !w->cancelled && !w->ending) {
		int ret = w->c->grpc ? etcd_grpc_watch_feed(w, on_watch_msg)
				     : etcd_watch_parser_feed(&w->parser, w->in, w->in_len);
		bool big = ret == -E2BIG || ret == -EMSGSIZE;

		w->in_len = 0;
		if (ret < 0 && !w->ending) {
			w->ending = true;
			w->end_err = big ? ETCD_ETOOBIG : ret == -EPROTO ? ETCD_EPROTO : ret;
			snprintf(w->end_reason, sizeof(w->end_reason), "%s",
				 big ? "watch message larger than 8 MiB" : strerror(-ret));
		}
	}
	if (done && !w->cancelled && !w->ending && !w->c->grpc)
		etcd_watch_parser_finish(&w->parser);
	if (w->cancelled) {
		w->delivering = false;
		etcd_watch_destroy(w);
		return;
	}
	if (!done && !w->ending) {
		w->delivering = false;
		return;
	}
	/* Over: by the server, by a transport error or by our own decision. */
	if (w->ending) {
		closed.err = w->end_err;
		etcd_msgf(reason, sizeof(reason), "%s", w->end_reason);
	} else if (rc != CURLE_OK) {
		etcd_rotate_endpoint(w->c, w->ep);
		closed.err = etcd_classify_curl(rc);
		etcd_msgf(reason, sizeof(reason), "%s: %s", w->c->endpoints[w->ep],
			  w->errbuf[0] ? w->errbuf : curl_easy_strerror(rc));
	} else if (w->c->grpc) {
		etcd_grpc_watch_end(w, &closed, reason, sizeof(reason));
	} else {
		closed.err = ETCD_ECONNECT;
		etcd_msgf(reason, sizeof(reason), "%s: stream closed by the server",
			  w->c->endpoints[w->ep]);
	}
	closed.reason = reason;
	w->cb(w->data, &closed);
	w->delivering = false;
	etcd_watch_destroy(w);
}
