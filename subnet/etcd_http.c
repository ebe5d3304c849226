/* etcd v3 transport: the curl multi glue, the request queue, auth,
 * endpoint failover and dispatch, shared by the JSON gateway and gRPC.
 *
 * libcurl's sockets are fds of the client's event loop and its timeout is
 * one loop timer; the loop's rule that a removed source is never called
 * again lets any callback free anything. Callbacks never run inside
 * libcurl callbacks: the write callbacks only buffer, and results are
 * delivered after curl_multi_socket_action returns.
 */
#include "subnet/etcd_http_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/loop.h"
#include "subnet/etcd_req.h"

/* ---------------------------------------------------------------- helpers */

/* Truncating formatter for log texts (plain snprintf trips
 * -Wformat-truncation where truncation is intended). */
void __attribute__((format(printf, 3, 4))) etcd_msgf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- curl glue */

static void process_done(struct etcd_client *c);

static void on_sock_ready(void *data, int fd, uint32_t events)
{
	struct etcd_client *c = data;
	int what = 0, running;

	if (events & EPOLLIN)
		what |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		what |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		what |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->multi, fd, what, &running);
	process_done(c);
}

static void on_curl_timeout(void *data)
{
	struct etcd_client *c = data;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	process_done(c);
}

static void sock_forget(struct etcd_client *c, struct etcd_sock *sk)
{
	for (struct etcd_sock **pp = &c->socks; *pp; pp = &(*pp)->next) {
		if (*pp == sk) {
			*pp = sk->next;
			break;
		}
	}
	loop_del_fd(c->loop, sk->fd);
	free(sk);
}

static int sock_watch(struct etcd_client *c, curl_socket_t s, uint32_t events, struct etcd_sock *sk)
{
	int ret;

	if (sk) {
		ret = loop_mod_fd(c->loop, s, events);
		if (ret != -ENOENT)
			return ret;
		/* The fd was closed and reused behind libcurl's back. */
		loop_del_fd(c->loop, s);
		return loop_add_fd(c->loop, s, events, on_sock_ready, c);
	}
	/* An fd number libcurl closed without a REMOVE, now reused. */
	for (sk = c->socks; sk; sk = sk->next) {
		if (sk->fd == s) {
			sock_forget(c, sk);
			break;
		}
	}
	sk = calloc(1, sizeof(*sk));
	if (!sk)
		return -ENOMEM;
	sk->fd = s;
	ret = loop_add_fd(c->loop, s, events, on_sock_ready, c);
	if (ret < 0) {
		free(sk);
		return ret;
	}
	sk->next = c->socks;
	c->socks = sk;
	curl_multi_assign(c->multi, s, sk);
	return 0;
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct etcd_client *c = userp;
	uint32_t events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (socketp) {
			curl_multi_assign(c->multi, s, NULL);
			sock_forget(c, socketp);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	return sock_watch(c, s, events, socketp) < 0 ? -1 : 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct etcd_client *c = userp;

	/* Only re-arm here: libcurl must not be called from this callback. */
	if (timeout_ms < 0) {
		loop_timer_disarm(c->curl_timer);
		return 0;
	}
	return loop_timer_arm(c->curl_timer, (uint64_t)timeout_ms, 0) < 0 ? -1 : 0;
}

static size_t on_req_data(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct etcd_req *r = userp;
	size_t n = size * nmemb, max = r->resp_max ? r->resp_max : RESP_MAX;

	if (r->resp_len + n + 1 > max) {
		r->too_big = true;
		return 0;
	}
	if (r->resp_len + n + 1 > r->resp_cap) {
		size_t cap = r->resp_cap ? r->resp_cap : 1024;
		char *nbuf;

		while (cap < r->resp_len + n + 1)
			cap *= 2;
		if (cap > max)
			cap = max;
		nbuf = realloc(r->resp, cap);
		if (!nbuf)
			return 0;
		r->resp = nbuf;
		r->resp_cap = cap;
	}
	memcpy(r->resp + r->resp_len, ptr, n);
	r->resp_len += n;
	r->resp[r->resp_len] = '\0';
	return n;
}

int etcd_classify_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return ETCD_ETIMEDOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return ETCD_ETLS;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return ETCD_ECONNECT;
	}
}

/* The request never reached a server, so another endpoint may take it. */
static bool curl_not_sent(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_COULDNT_RESOLVE_PROXY;
}

void etcd_rotate_endpoint(struct etcd_client *c, size_t used)
{
	if (c->cur_ep == used && c->n_endpoints > 1)
		c->cur_ep = (c->cur_ep + 1) % c->n_endpoints;
}

int etcd_setup_easy(struct etcd_client *c, CURL *e, size_t ep, const char *path, const char *body,
		    size_t body_len, struct curl_slist **hdrs, char *errbuf)
{
	char url[1024], auth[1024];

	if (snprintf(url, sizeof(url), "%s%s", c->endpoints[ep], path) >= (int)sizeof(url))
		return -ENAMETOOLONG;
	*hdrs = c->grpc ? NULL : curl_slist_append(NULL, "Content-Type: application/json");
	if (!*hdrs && !c->grpc)
		return -ENOMEM;
	if (c->token) {
		struct curl_slist *h;

		/* The gateway wants the bare token, not "Bearer <token>". */
		snprintf(auth, sizeof(auth), "Authorization: %s", c->token);
		h = curl_slist_append(*hdrs, auth);
		if (!h)
			return -ENOMEM;
		*hdrs = h;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	/* gRPC bodies are binary: the length is given, not found by strlen. */
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)body_len);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	/* One framing everywhere; the watch gets its own connection. */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cafile)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->cafile);
	if (c->certfile)
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->certfile);
	if (c->keyfile)
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->keyfile);
	errbuf[0] = '\0';
	if (c->grpc)
		return etcd_grpc_setup(c, e, ep, hdrs, NULL);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
	return 0;
}

/* --------------------------------------------------------------- requests */

static void req_free(struct etcd_req *r)
{
	if (!r)
		return;
	if (r->easy) {
		curl_multi_remove_handle(r->c->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->hdrs);
	free(r->body);
	free(r->resp);
	free(r);
}

static void list_remove_req(struct etcd_req **head, struct etcd_req *r)
{
	for (struct etcd_req **pp = head; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			return;
		}
	}
}

static int req_start_transfer(struct etcd_req *r)
{
	struct etcd_client *c = r->c;
	int ret;

	if (c->username && !c->token && r->op != ETCD_OP_AUTH) {
		r->next = c->waiting;
		c->waiting = r;
		return c->auth_inflight ? 0 : etcd_start_auth(c);
	}
	if (r->easy) {
		curl_multi_remove_handle(c->multi, r->easy);
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	r->resp_len = 0;
	r->too_big = false;
	r->easy = curl_easy_init();
	if (!r->easy)
		return -ENOMEM;
	r->ep = c->cur_ep;
	ret = etcd_setup_easy(c, r->easy, r->ep, r->path, r->body, r->body_len, &r->hdrs,
			      r->errbuf);
	if (ret < 0)
		return ret;
	if (c->grpc) {
		etcd_pb_status_init(&r->st);
		curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, &r->st);
	}
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_req_data);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK)
		return -ENOMEM;
	r->tries++;
	c->requests++;
	r->next = c->active;
	c->active = r;
	return 0;
}

/* Takes the body; resp_max 0 means RESP_MAX. */
int etcd_http_submit(struct etcd_client *c, enum etcd_op op, const char *path, char *text,
		     size_t body_len, size_t resp_max, etcd_cb cb, void *data)
{
	struct etcd_req *r;
	int ret;

	if (!text)
		return -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r) {
		free(text);
		return -ENOMEM;
	}
	r->body_len = body_len;
	r->c = c;
	r->op = op;
	r->path = path;
	r->cb = cb;
	r->data = data;
	r->body = text;
	r->resp_max = resp_max;
	ret = req_start_transfer(r);
	if (ret < 0) {
		list_remove_req(&c->active, r);
		list_remove_req(&c->waiting, r);
		req_free(r);
	}
	return ret;
}

static void on_auth_done(void *data, const struct etcd_response *resp);

int etcd_start_auth(struct etcd_client *c)
{
	json_t *b = json_pack("{s:s,s:s}", "name", c->username, "password", c->password);
	char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
	int ret;

	json_decref(b);
	c->auth_inflight = true;
	ret = etcd_http_submit(c, ETCD_OP_AUTH, "/v3/auth/authenticate", text,
			       text ? strlen(text) : 0, 0, on_auth_done, c);
	if (ret < 0)
		c->auth_inflight = false;
	return ret;
}

static void fail_request(struct etcd_req *r, const struct etcd_response *why)
{
	struct etcd_response resp = {0};

	resp.err = why->err;
	resp.http_status = why->http_status;
	resp.grpc_code = why->grpc_code;
	memcpy(resp.message, why->message, sizeof(resp.message));
	r->cb(r->data, &resp);
	req_free(r);
}

static void on_auth_done(void *data, const struct etcd_response *resp)
{
	struct etcd_client *c = data;
	struct etcd_req *waiting = c->waiting;
	struct etcd_watch *w;

	/* The token itself was stored by complete_request. */
	c->auth_inflight = false;
	c->waiting = NULL;
	while (waiting) {
		struct etcd_req *r = waiting;

		waiting = r->next;
		r->next = NULL;
		if (resp->err || !c->token) {
			struct etcd_response why = *resp;

			/* The server refused the credentials (not a transport error). */
			if (!why.err || why.err == ETCD_ESERVER)
				why.err = ETCD_EAUTH;
			fail_request(r, &why);
			continue;
		}
		if (req_start_transfer(r) < 0) {
			struct etcd_response why = {.err = -ENOMEM};

			list_remove_req(&c->active, r);
			snprintf(why.message, sizeof(why.message), "out of memory");
			fail_request(r, &why);
		}
	}
	for (w = c->watches; w; w = w->next) {
		if (w->started || w->ending)
			continue;
		if (resp->err || !c->token || etcd_watch_start_transfer(w) < 0) {
			w->ending = true;
			w->end_err = resp->err ? resp->err : ETCD_EAUTH;
			etcd_msgf(w->end_reason, sizeof(w->end_reason), "authentication failed: %s",
				  resp->message);
		}
	}
}

static void complete_request(struct etcd_req *r, CURLcode rc)
{
	struct etcd_client *c = r->c;
	struct etcd_response resp = {0};
	char *token = NULL;
	long http = 0;

	list_remove_req(&c->active, r);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &http);
	if (rc == CURLE_WRITE_ERROR && r->too_big) {
		resp.err = ETCD_ETOOBIG;
		etcd_msgf(resp.message, sizeof(resp.message), "%s: answer larger than %zu bytes",
			  c->endpoints[r->ep], r->resp_max ? r->resp_max : (size_t)RESP_MAX);
		goto done;
	}
	if (rc != CURLE_OK) {
		etcd_rotate_endpoint(c, r->ep);
		if (curl_not_sent(rc) && r->tries < c->n_endpoints && req_start_transfer(r) == 0)
			return;
		resp.err = etcd_classify_curl(rc);
		etcd_msgf(resp.message, sizeof(resp.message), "%s: %s", c->endpoints[r->ep],
			  r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
		goto done;
	}
	if (c->grpc) {
		etcd_grpc_result(r, &resp);
		goto done;
	}
	etcd_parse_response(r->op, http, r->resp, r->resp_len, &resp,
			    r->op == ETCD_OP_AUTH ? &token : NULL);
	if (r->op == ETCD_OP_AUTH && token) {
		free(c->token);
		c->token = token;
	}
	/* An expired token: authenticate again and replay once. */
	if (resp.err == ETCD_EAUTH && resp.grpc_code == 16 && c->username &&
	    r->op != ETCD_OP_AUTH && !r->auth_retried) {
		r->auth_retried = true;
		free(c->token);
		c->token = NULL;
		etcd_response_clear(&resp);
		if (req_start_transfer(r) == 0)
			return;
		resp.err = -ENOMEM;
	}
done:
	r->cb(r->data, &resp);
	etcd_response_clear(&resp);
	req_free(r);
}

int etcd_submit(struct etcd_client *c, const struct etcd_request *rq, size_t resp_max, etcd_cb cb,
		void *data)
{
	struct etcd_pb_buf b = {0};
	const char *path = NULL;
	char *text;
	int ret;

	if (!c->grpc) {
		text = etcd_req_json(rq, &path);
		return etcd_http_submit(c, rq->op, path, text, text ? strlen(text) : 0, resp_max,
					cb, data);
	}
	path = etcd_pb_path(rq->op);
	if (!path)
		return -EINVAL;
	ret = etcd_req_pb(&b, rq);
	if (ret < 0) {
		etcd_pb_buf_free(&b);
		return ret;
	}
	return etcd_http_submit(c, rq->op, path, (char *)b.data, b.len, resp_max, cb, data);
}

/* --------------------------------------------------------------- dispatch */

static void process_done(struct etcd_client *c)
{
	struct etcd_watch *w, *wn;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		struct etcd_req *r = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r) {
			complete_request(r, m->data.result);
			continue;
		}
		for (w = c->watches; w; w = w->next) {
			if (w->easy == m->easy_handle) {
				etcd_watch_deliver(w, true, m->data.result);
				break;
			}
		}
	}
	/* Data that arrived on streams still open, and streams we end. */
	for (w = c->watches; w; w = wn) {
		wn = w->next;
		if (w->started && (w->in_len || w->ending || w->cancelled))
			etcd_watch_deliver(w, false, CURLE_OK);
		else if (!w->started && w->ending)
			etcd_watch_deliver(w, true, CURLE_OK);
	}
}

/* ------------------------------------------------------------- lifecycle */

static char *dup_opt(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int etcd_client_new(struct loop *l, const struct etcd_config *cfg, struct etcd_client **out)
{
	struct etcd_client *c;
	int ret = -ENOMEM;

	int tr = etcd_transport_choose(cfg);

	if (tr < 0)
		return tr;
	if (!cfg->n_endpoints || (!cfg->username != !cfg->password))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = l;
	c->grpc = tr == ETCD_TRANSPORT_GRPC;
	c->timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : DEF_TIMEOUT_MS;
	c->connect_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEF_CONNECT_MS;
	c->endpoints = calloc(cfg->n_endpoints, sizeof(*c->endpoints));
	if (!c->endpoints)
		goto err;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		size_t n = strlen(cfg->endpoints[i]);

		c->endpoints[i] = strdup(cfg->endpoints[i]);
		if (!c->endpoints[i])
			goto err;
		c->n_endpoints++;
		/* "http://h:2379/" would give "//v3/..." */
		while (n > 1 && c->endpoints[i][n - 1] == '/')
			c->endpoints[i][--n] = '\0';
	}
	c->cafile = dup_opt(cfg->cafile);
	c->certfile = dup_opt(cfg->certfile);
	c->keyfile = dup_opt(cfg->keyfile);
	c->username = dup_opt(cfg->username);
	c->password = cfg->password ? strdup(cfg->password) : NULL;
	if ((cfg->cafile && !c->cafile) || (cfg->certfile && !c->certfile) ||
	    (cfg->keyfile && !c->keyfile) || (cfg->password && !c->password))
		goto err;
	ret = loop_add_timer(l, on_curl_timeout, c, &c->curl_timer);
	if (ret < 0)
		goto err;
	ret = -ENOMEM;
	c->multi = curl_multi_init();
	if (!c->multi)
		goto err;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	*out = c;
	return 0;

err:
	etcd_client_free(c);
	return ret;
}

void etcd_client_free(struct etcd_client *c)
{
	if (!c)
		return;
	while (c->active) {
		struct etcd_req *r = c->active;

		c->active = r->next;
		req_free(r);
	}
	while (c->waiting) {
		struct etcd_req *r = c->waiting;

		c->waiting = r->next;
		req_free(r);
	}
	while (c->watches)
		etcd_watch_destroy(c->watches);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	/* Sockets libcurl closed without telling: none may stay in the loop. */
	while (c->socks)
		sock_forget(c, c->socks);
	loop_timer_free(c->curl_timer);
	for (size_t i = 0; i < c->n_endpoints; i++)
		free(c->endpoints[i]);
	free(c->endpoints);
	free(c->cafile);
	free(c->certfile);
	free(c->keyfile);
	free(c->username);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->token);
	free(c);
}

struct loop *etcd_client_loop(const struct etcd_client *c)
{
	return c->loop;
}

const char *etcd_client_endpoint(const struct etcd_client *c)
{
	return c->endpoints[c->cur_ep];
}

const char *etcd_client_transport(const struct etcd_client *c)
{
	return c->grpc ? "grpc" : "json";
}

uint64_t etcd_client_requests(const struct etcd_client *c)
{
	return c->requests;
}
