/* etcd v3 gateway client: requests, auth, failover and the curl multi glue.
 *
 * libcurl's sockets and timeout plus the client's own timers live in one
 * inner epoll set; the embedder polls its fd. Events are taken one at a time
 * so a callback may free any source without leaving stale pointers behind.
 * Callbacks never run inside libcurl callbacks: the write callbacks only
 * buffer, and results are delivered after curl_multi_socket_action returns.
 */
#include "subnet/etcd.h"
#include "subnet/jsonx.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define RESP_MAX       (16u << 20)
#define DEF_TIMEOUT_MS 5000L
#define DEF_CONNECT_MS 3000L

enum src_kind {
	SRC_CURL_SOCK,
	SRC_CURL_TIMER,
	SRC_TIMER,
};

struct src {
	enum src_kind kind;
	int fd;
};

struct etcd_timer {
	struct src src; /* first: epoll data points here */
	struct etcd_client *c;
	etcd_timer_cb cb;
	void *data;
	bool armed;
};

struct etcd_req {
	struct etcd_client *c;
	enum etcd_op op;
	const char *path;
	char *body;
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
	int epfd;
	struct src curl_timer;
	CURLM *multi;
	char **endpoints;
	size_t n_endpoints, cur_ep;
	char *cafile, *certfile, *keyfile;
	char *username, *password;
	char *token;
	bool auth_inflight;
	long timeout_ms, connect_ms;
	uint64_t requests;
	struct etcd_req *active, *waiting; /* waiting: for an auth token */
	struct etcd_watch *watches;
};

/* ---------------------------------------------------------------- helpers */

/* Truncating formatter for log texts (plain snprintf trips
 * -Wformat-truncation where truncation is intended). */
static void __attribute__((format(printf, 3, 4))) msgf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_alpha[(v >> 18) & 63];
		out[o++] = b64_alpha[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alpha[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alpha[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_val(char ch)
{
	unsigned char c = (unsigned char)ch;

	/* Arithmetic, not a table scan: values of listings run to megabytes. */
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int etcd_b64_decode(const char *s, size_t slen, char **out, size_t *out_len)
{
	char *buf;
	size_t o = 0;
	int ret = -EINVAL;

	if (slen % 4)
		return -EINVAL;
	buf = malloc(slen / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < slen; i += 4) {
		int v[4];
		bool last = i + 4 == slen;

		for (int k = 0; k < 4; k++) {
			v[k] = b64_val(s[i + k]);
			if (v[k] < 0 && !(last && k >= 2 && s[i + k] == '='))
				goto err_free;
		}
		if (v[2] < 0 && v[3] >= 0)
			goto err_free;
		buf[o++] = (char)((v[0] << 2) | (v[1] >> 4));
		if (v[2] >= 0)
			buf[o++] = (char)(((v[1] & 15) << 4) | (v[2] >> 2));
		if (v[3] >= 0)
			buf[o++] = (char)(((v[2] & 3) << 6) | v[3]);
	}
	buf[o] = '\0';
	*out = buf;
	if (out_len)
		*out_len = o;
	return 0;

err_free:
	free(buf);
	return ret;
}

int etcd_prefix_end(const char *prefix, char **out, size_t *out_len)
{
	size_t n = strlen(prefix);
	char *end = malloc(n + 1);

	if (!end)
		return -ENOMEM;
	memcpy(end, prefix, n + 1);
	while (n) {
		if ((unsigned char)end[n - 1] < 0xff) {
			end[n - 1]++;
			end[n] = '\0';
			*out = end;
			*out_len = n;
			return 0;
		}
		n--;
	}
	/* Every byte 0xff: "\0" means "every key from prefix on". */
	end[0] = '\0';
	*out = end;
	*out_len = 1;
	return 0;
}

uint64_t etcd_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd)
{
	uint64_t d = base_ms;

	while (attempt-- && d < cap_ms)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	if (d < 2)
		return d;
	return d / 2 + rnd % (d / 2 + 1);
}

void etcd_kv_clear(struct etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

int etcd_parse_kv(const json_t *j, struct etcd_kv *kv)
{
	const char *k, *v;
	int ret;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(j))
		return -EPROTO;
	k = json_string_value(json_object_get(j, "key"));
	v = json_string_value(json_object_get(j, "value"));
	if (!k)
		return -EPROTO;
	ret = etcd_b64_decode(k, strlen(k), &kv->key, &kv->key_len);
	if (ret < 0)
		goto err;
	ret = etcd_b64_decode(v ? v : "", v ? strlen(v) : 0, &kv->value, &kv->value_len);
	if (ret < 0)
		goto err;
	kv->create_revision = jsonx_get_i64(j, "create_revision");
	kv->mod_revision = jsonx_get_i64(j, "mod_revision");
	kv->version = jsonx_get_i64(j, "version");
	kv->lease = jsonx_get_i64(j, "lease");
	return 0;

err:
	etcd_kv_clear(kv);
	return ret == -EINVAL ? -EPROTO : ret;
}

void etcd_response_clear(struct etcd_response *r)
{
	for (size_t i = 0; i < r->n_kvs; i++)
		etcd_kv_clear(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

static int parse_kvs(const json_t *arr, struct etcd_response *out)
{
	size_t n = json_array_size(arr);

	if (!n)
		return 0;
	out->kvs = calloc(n, sizeof(*out->kvs));
	if (!out->kvs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int ret = etcd_parse_kv(json_array_get(arr, i), &out->kvs[i]);

		if (ret < 0)
			return ret;
		out->n_kvs = i + 1;
	}
	return 0;
}

static void set_message(struct etcd_response *out, const char *msg, size_t len)
{
	if (len >= sizeof(out->message))
		len = sizeof(out->message) - 1;
	memcpy(out->message, msg, len);
	out->message[len] = '\0';
	/* Plain-text error bodies end with a newline; keep logs on one line. */
	for (char *p = out->message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* With authentication on, etcd answers a request that names no user with
 * 400: its gateway refuses any client certificate carrying a Common Name
 * (it cannot pass the name on), and a request without a token has no user.
 * Both are setup errors that no retry heals. */
static void classify_no_user(long http, struct etcd_response *out)
{
	if (http != 400)
		return;
	if (strstr(out->message, "CommonName of client sending a request against gateway")) {
		out->err = ETCD_EAUTH;
		snprintf(out->message, sizeof(out->message), "%s",
			 "etcd's gateway refuses a client certificate with a Common Name once "
			 "authentication is on; use one without a Common Name together with "
			 "--etcd-username and --etcd-password-file");
	} else if (out->grpc_code == 3 && strstr(out->message, "user name is empty")) {
		out->err = ETCD_EAUTH;
	}
}

static int parse_error(long http, const char *body, size_t len, struct etcd_response *out)
{
	json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *e = json_object_get(root, "error");
	const char *m = NULL;

	out->err = ETCD_ESERVER;
	if (json_is_string(e)) {
		m = json_string_value(e);
		out->grpc_code = (int)jsonx_get_i64(root, "code");
	} else if (json_is_object(e)) {
		m = json_string_value(json_object_get(e, "message"));
		out->grpc_code = (int)jsonx_get_i64(e, "grpc_code");
	}
	if (m)
		set_message(out, m, strlen(m));
	else if (body && len)
		set_message(out, body, len);
	/* An empty text (or a body starting with NUL) still needs a log line. */
	if (!out->message[0])
		snprintf(out->message, sizeof(out->message), "HTTP status %ld", http);
	/* gRPC Unauthenticated / PermissionDenied. */
	if (out->grpc_code == 16 || out->grpc_code == 7 || http == 401 || http == 403)
		out->err = ETCD_EAUTH;
	classify_no_user(http, out);
	json_decref(root);
	return 0;
}

/* The fields of one successful answer (res: its result object). */
static int parse_result(enum etcd_op op, json_t *res, struct etcd_response *out, char **token)
{
	int ret = 0;

	switch (op) {
	case ETCD_OP_RANGE:
		out->count = jsonx_get_i64(res, "count");
		out->more = json_is_true(json_object_get(res, "more"));
		ret = parse_kvs(json_object_get(res, "kvs"), out);
		break;
	case ETCD_OP_DELETE:
		out->deleted = jsonx_get_i64(res, "deleted");
		break;
	case ETCD_OP_TXN: {
		json_t *r0 = json_array_get(json_object_get(res, "responses"), 0);
		json_t *rr = json_object_get(r0, "response_range");

		/* A failed compare has no "succeeded" field at all. */
		out->succeeded = json_is_true(json_object_get(res, "succeeded"));
		if (!out->succeeded && rr)
			ret = parse_kvs(json_object_get(rr, "kvs"), out);
		out->deleted =
			jsonx_get_i64(json_object_get(r0, "response_delete_range"), "deleted");
		break;
	}
	case ETCD_OP_GRANT: {
		const char *e = json_string_value(json_object_get(res, "error"));

		if (e && *e) {
			out->err = ETCD_ESERVER;
			set_message(out, e, strlen(e));
		}
		out->lease_id = jsonx_get_i64(res, "ID");
		out->ttl = jsonx_get_i64(res, "TTL");
		break;
	}
	case ETCD_OP_KEEPALIVE:
		out->lease_id = jsonx_get_i64(res, "ID");
		out->ttl = jsonx_get_i64(res, "TTL");
		if (out->ttl < 0)
			out->ttl = 0;
		break;
	case ETCD_OP_AUTH: {
		const char *t = json_string_value(json_object_get(res, "token"));

		if (!t || !*t) {
			out->err = ETCD_EPROTO;
			snprintf(out->message, sizeof(out->message), "no token in answer");
			ret = -EPROTO;
		} else if (token) {
			*token = strdup(t);
			if (!*token)
				ret = -ENOMEM;
		}
		break;
	}
	default:
		break;
	}
	return ret;
}

int etcd_parse_response(enum etcd_op op, long http, const char *body, size_t len,
			struct etcd_response *out, char **token)
{
	json_t *root = NULL, *res;
	json_error_t jerr;
	int ret = 0;

	out->http_status = http;
	if (http != 200)
		return parse_error(http, body, len, out);
	if (op == ETCD_OP_KEEPALIVE) {
		/* A stream of one {"result":..} line per request. */
		const char *nl = body ? memchr(body, '\n', len) : NULL;

		if (nl)
			len = nl - body;
	}
	root = body ? json_loadb(body, len, 0, &jerr) : NULL;
	if (!json_is_object(root)) {
		out->err = ETCD_EPROTO;
		snprintf(out->message, sizeof(out->message), "unparsable answer: %s",
			 root ? "not an object" : jerr.text);
		ret = -EPROTO;
		goto out;
	}
	res = root;
	if (op == ETCD_OP_KEEPALIVE) {
		res = json_object_get(root, "result");
		if (!json_is_object(res)) {
			parse_error(http, body, len, out);
			goto out;
		}
	}
	out->revision = jsonx_get_i64(json_object_get(res, "header"), "revision");
	ret = parse_result(op, res, out, token);
	if (ret < 0 && !out->err) {
		out->err = ret == -ENOMEM ? -ENOMEM : ETCD_EPROTO;
		snprintf(out->message, sizeof(out->message), "malformed answer");
	}
out:
	json_decref(root);
	return ret;
}

/* ------------------------------------------------------------------ timers */

static int timerfd_arm_ms(int fd, uint64_t ms)
{
	struct itimerspec its = {0};

	if (ms == 0)
		its.it_value.tv_nsec = 1; /* zero would disarm */
	else {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	}
	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static void timerfd_disarm(int fd)
{
	struct itimerspec its = {0};

	timerfd_settime(fd, 0, &its, NULL);
}

int etcd_timer_new(struct etcd_client *c, etcd_timer_cb cb, void *data, struct etcd_timer **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct etcd_timer *t;
	int ret;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->src.kind = SRC_TIMER;
	t->c = c;
	t->cb = cb;
	t->data = data;
	t->src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->src.fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ev.data.ptr = &t->src;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, t->src.fd, &ev) < 0) {
		ret = -errno;
		goto err_close;
	}
	*out = t;
	return 0;

err_close:
	close(t->src.fd);
err_free:
	free(t);
	return ret;
}

int etcd_timer_arm(struct etcd_timer *t, uint64_t delay_ms)
{
	int ret = timerfd_arm_ms(t->src.fd, delay_ms);

	if (!ret)
		t->armed = true;
	return ret;
}

void etcd_timer_disarm(struct etcd_timer *t)
{
	timerfd_disarm(t->src.fd);
	t->armed = false;
}

bool etcd_timer_armed(const struct etcd_timer *t)
{
	return t->armed;
}

void etcd_timer_free(struct etcd_timer *t)
{
	if (!t)
		return;
	/* Closing the fd removes it from the epoll set. */
	close(t->src.fd);
	free(t);
}

/* ------------------------------------------------------------- curl glue */

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct etcd_client *c = userp;
	struct src *src = socketp;
	struct epoll_event ev = {0};

	if (what == CURL_POLL_REMOVE) {
		if (src) {
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, NULL);
			curl_multi_assign(c->multi, s, NULL);
			free(src);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (!src) {
		src = calloc(1, sizeof(*src));
		if (!src)
			return -1;
		src->kind = SRC_CURL_SOCK;
		src->fd = s;
		ev.data.ptr = src;
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, s, &ev) < 0) {
			free(src);
			return -1;
		}
		curl_multi_assign(c->multi, s, src);
		return 0;
	}
	ev.data.ptr = src;
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT)
		epoll_ctl(c->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct etcd_client *c = userp;

	/* Only re-arm here: libcurl must not be called from this callback. */
	if (timeout_ms < 0)
		timerfd_disarm(c->curl_timer.fd);
	else
		timerfd_arm_ms(c->curl_timer.fd, (uint64_t)timeout_ms);
	return 0;
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

static int classify_curl(CURLcode rc)
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

static void rotate_endpoint(struct etcd_client *c, size_t used)
{
	if (c->cur_ep == used && c->n_endpoints > 1)
		c->cur_ep = (c->cur_ep + 1) % c->n_endpoints;
}

static int setup_easy(struct etcd_client *c, CURL *e, size_t ep, const char *path, const char *body,
		      struct curl_slist **hdrs, char *errbuf)
{
	char url[1024], auth[1024];

	if (snprintf(url, sizeof(url), "%s%s", c->endpoints[ep], path) >= (int)sizeof(url))
		return -ENAMETOOLONG;
	*hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (!*hdrs)
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
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, *hdrs);
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

static int start_auth(struct etcd_client *c);
static int watch_start_transfer(struct etcd_watch *w);

static int req_start_transfer(struct etcd_req *r)
{
	struct etcd_client *c = r->c;
	int ret;

	if (c->username && !c->token && r->op != ETCD_OP_AUTH) {
		r->next = c->waiting;
		c->waiting = r;
		return c->auth_inflight ? 0 : start_auth(c);
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
	ret = setup_easy(c, r->easy, r->ep, r->path, r->body, &r->hdrs, r->errbuf);
	if (ret < 0)
		return ret;
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

/* Takes the body text; resp_max 0 means RESP_MAX. */
static int submit_text(struct etcd_client *c, enum etcd_op op, const char *path, char *text,
		       size_t resp_max, etcd_cb cb, void *data)
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

static int submit(struct etcd_client *c, enum etcd_op op, const char *path, json_t *body,
		  etcd_cb cb, void *data)
{
	char *text;

	if (!body)
		return -ENOMEM;
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return submit_text(c, op, path, text, 0, cb, data);
}

static void on_auth_done(void *data, const struct etcd_response *resp);

static int start_auth(struct etcd_client *c)
{
	json_t *b = json_pack("{s:s,s:s}", "name", c->username, "password", c->password);
	int ret;

	c->auth_inflight = true;
	ret = submit(c, ETCD_OP_AUTH, "/v3/auth/authenticate", b, on_auth_done, c);
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
		if (resp->err || !c->token || watch_start_transfer(w) < 0) {
			w->ending = true;
			w->end_err = resp->err ? resp->err : ETCD_EAUTH;
			msgf(w->end_reason, sizeof(w->end_reason), "authentication failed: %s",
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
		msgf(resp.message, sizeof(resp.message), "%s: answer larger than %zu bytes",
		     c->endpoints[r->ep], r->resp_max ? r->resp_max : (size_t)RESP_MAX);
		goto done;
	}
	if (rc != CURLE_OK) {
		rotate_endpoint(c, r->ep);
		if (curl_not_sent(rc) && r->tries < c->n_endpoints && req_start_transfer(r) == 0)
			return;
		resp.err = classify_curl(rc);
		msgf(resp.message, sizeof(resp.message), "%s: %s", c->endpoints[r->ep],
		     r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
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

/* ---------------------------------------------------------------- watches */

static void watch_destroy(struct etcd_watch *w)
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

static int watch_start_transfer(struct etcd_watch *w)
{
	struct etcd_client *c = w->c;
	int ret;

	w->easy = curl_easy_init();
	if (!w->easy)
		return -ENOMEM;
	w->ep = c->cur_ep;
	ret = setup_easy(c, w->easy, w->ep, "/v3/watch", w->body, &w->hdrs, w->errbuf);
	if (ret < 0)
		return ret;
	/* No overall timeout on a stream: progress notifications plus a
	 * low-speed limit and TCP keepalive find a dead server. */
	curl_easy_setopt(w->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(w->easy, CURLOPT_LOW_SPEED_TIME, 900L);
	curl_easy_setopt(w->easy, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_watch_data);
	curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->easy, CURLOPT_PRIVATE, NULL);
	if (curl_multi_add_handle(c->multi, w->easy) != CURLM_OK)
		return -ENOMEM;
	w->started = true;
	c->requests++;
	return 0;
}

int etcd_watch_prefix(struct etcd_client *c, const char *prefix, int64_t start_rev,
		      etcd_watch_cb cb, void *data, struct etcd_watch **out)
{
	char *k64 = NULL, *e64 = NULL, *end = NULL, rev[24];
	struct etcd_watch *w;
	size_t end_len;
	json_t *b;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->c = c;
	w->cb = cb;
	w->data = data;
	etcd_watch_parser_init(&w->parser, on_watch_msg, w);
	ret = etcd_prefix_end(prefix, &end, &end_len);
	if (ret < 0)
		goto err;
	k64 = etcd_b64_encode(prefix, strlen(prefix));
	e64 = etcd_b64_encode(end, end_len);
	snprintf(rev, sizeof(rev), "%" PRId64, start_rev);
	b = json_pack("{s:{s:s?,s:s?,s:s,s:b}}", "create_request", "key", k64, "range_end", e64,
		      "start_revision", rev, "progress_notify", 1);
	w->body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (!k64 || !e64 || !w->body) {
		ret = -ENOMEM;
		goto err;
	}
	w->next = c->watches;
	c->watches = w;
	if (c->username && !c->token) {
		if (!c->auth_inflight)
			ret = start_auth(c);
	} else {
		ret = watch_start_transfer(w);
	}
	if (ret < 0) {
		watch_destroy(w);
		w = NULL;
		goto out;
	}
	*out = w;
	goto out;
err:
	etcd_watch_parser_clear(&w->parser);
	free(w->body);
	free(w);
out:
	free(k64);
	free(e64);
	free(end);
	return ret;
}

void etcd_watch_cancel(struct etcd_watch *w)
{
	if (!w)
		return;
	if (w->delivering) {
		w->cancelled = true;
		return;
	}
	watch_destroy(w);
}

/* Hands buffered bytes to the parser, outside any libcurl callback. */
static void watch_deliver(struct etcd_watch *w, bool done, CURLcode rc)
{
	struct etcd_watch_msg closed = {.kind = ETCD_WATCH_CLOSED};
	char reason[512];

	w->delivering = true;
	if (w->in_len && !w->cancelled && !w->ending) {
		int ret = etcd_watch_parser_feed(&w->parser, w->in, w->in_len);

		w->in_len = 0;
		if (ret < 0 && !w->ending) {
			w->ending = true;
			w->end_err = ret == -E2BIG ? ETCD_ETOOBIG : ret;
			snprintf(w->end_reason, sizeof(w->end_reason), "%s",
				 ret == -E2BIG ? "watch message larger than 8 MiB"
					       : strerror(-ret));
		}
	}
	if (done && !w->cancelled && !w->ending)
		etcd_watch_parser_finish(&w->parser);
	if (w->cancelled) {
		w->delivering = false;
		watch_destroy(w);
		return;
	}
	if (!done && !w->ending) {
		w->delivering = false;
		return;
	}
	/* Over: by the server, by a transport error or by our own decision. */
	if (w->ending) {
		closed.err = w->end_err;
		msgf(reason, sizeof(reason), "%s", w->end_reason);
	} else if (rc != CURLE_OK) {
		rotate_endpoint(w->c, w->ep);
		closed.err = classify_curl(rc);
		msgf(reason, sizeof(reason), "%s: %s", w->c->endpoints[w->ep],
		     w->errbuf[0] ? w->errbuf : curl_easy_strerror(rc));
	} else {
		closed.err = ETCD_ECONNECT;
		msgf(reason, sizeof(reason), "%s: stream closed by the server",
		     w->c->endpoints[w->ep]);
	}
	closed.reason = reason;
	w->cb(w->data, &closed);
	w->delivering = false;
	watch_destroy(w);
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
				watch_deliver(w, true, m->data.result);
				break;
			}
		}
	}
	/* Data that arrived on streams still open, and streams we end. */
	for (w = c->watches; w; w = wn) {
		wn = w->next;
		if (w->started && (w->in_len || w->ending || w->cancelled))
			watch_deliver(w, false, CURLE_OK);
		else if (!w->started && w->ending)
			watch_deliver(w, true, CURLE_OK);
	}
}

int etcd_client_dispatch(struct etcd_client *c)
{
	struct epoll_event ev;
	int running;

	for (int i = 0; i < 256; i++) {
		struct src *src;
		int n = epoll_wait(c->epfd, &ev, 1, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		src = ev.data.ptr;
		if (src->kind == SRC_CURL_SOCK) {
			int what = 0;

			if (ev.events & EPOLLIN)
				what |= CURL_CSELECT_IN;
			if (ev.events & EPOLLOUT)
				what |= CURL_CSELECT_OUT;
			if (ev.events & (EPOLLERR | EPOLLHUP))
				what |= CURL_CSELECT_ERR;
			curl_multi_socket_action(c->multi, src->fd, what, &running);
		} else {
			uint64_t exp;

			/* EAGAIN: already drained or re-armed meanwhile. */
			if (read(src->fd, &exp, sizeof(exp)) != sizeof(exp))
				continue;
			if (src->kind == SRC_CURL_TIMER) {
				curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
							 &running);
			} else {
				struct etcd_timer *t = (struct etcd_timer *)src;

				t->armed = false;
				t->cb(t->data);
			}
		}
		process_done(c);
	}
	process_done(c);
	return 0;
}

/* ------------------------------------------------------------- lifecycle */

static char *dup_opt(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int etcd_client_new(const struct etcd_config *cfg, struct etcd_client **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct etcd_client *c;
	int ret = -ENOMEM;

	if (!cfg->n_endpoints || (!cfg->username != !cfg->password))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->epfd = -1;
	c->curl_timer.fd = -1;
	c->curl_timer.kind = SRC_CURL_TIMER;
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
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0) {
		ret = -errno;
		goto err;
	}
	c->curl_timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->curl_timer.fd < 0) {
		ret = -errno;
		goto err;
	}
	ev.data.ptr = &c->curl_timer;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->curl_timer.fd, &ev) < 0) {
		ret = -errno;
		goto err;
	}
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
		watch_destroy(c->watches);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->curl_timer.fd >= 0)
		close(c->curl_timer.fd);
	if (c->epfd >= 0)
		close(c->epfd);
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

int etcd_client_fd(const struct etcd_client *c)
{
	return c->epfd;
}

const char *etcd_client_endpoint(const struct etcd_client *c)
{
	return c->endpoints[c->cur_ep];
}

uint64_t etcd_client_requests(const struct etcd_client *c)
{
	return c->requests;
}

/* ------------------------------------------------------------- operations */

static json_t *key_obj(const char *key)
{
	char *k64 = etcd_b64_encode(key, strlen(key));
	json_t *o = k64 ? json_pack("{s:s}", "key", k64) : NULL;

	free(k64);
	return o;
}

static int set_b64(json_t *o, const char *name, const char *s, size_t len)
{
	char *v = etcd_b64_encode(s, len);
	int ret = v ? json_object_set_new(o, name, json_string(v)) : -1;

	free(v);
	return ret < 0 ? -ENOMEM : 0;
}

static int set_i64(json_t *o, const char *name, int64_t v)
{
	char buf[24];

	/* Strings: int64 must not pass through a double anywhere. */
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return json_object_set_new(o, name, json_string(buf)) < 0 ? -ENOMEM : 0;
}

int etcd_get(struct etcd_client *c, const char *key, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_RANGE, "/v3/kv/range", key_obj(key), cb, data);
}

int etcd_get_prefix(struct etcd_client *c, const char *prefix, etcd_cb cb, void *data)
{
	json_t *o = key_obj(prefix);
	size_t end_len;
	char *end;

	if (!o || etcd_prefix_end(prefix, &end, &end_len) < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	if (set_b64(o, "range_end", end, end_len) < 0) {
		json_decref(o);
		o = NULL;
	}
	free(end);
	return submit(c, ETCD_OP_RANGE, "/v3/kv/range", o, cb, data);
}

int etcd_range_json(struct etcd_client *c, const char *body, size_t resp_max, etcd_cb cb,
		    void *data)
{
	return submit_text(c, ETCD_OP_RANGE, "/v3/kv/range", body ? strdup(body) : NULL, resp_max,
			   cb, data);
}

static json_t *put_obj(const char *key, const char *value, int64_t lease)
{
	json_t *o = key_obj(key);

	if (o && (set_b64(o, "value", value, strlen(value)) < 0 ||
		  (lease && set_i64(o, "lease", lease) < 0))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int etcd_put(struct etcd_client *c, const char *key, const char *value, int64_t lease, etcd_cb cb,
	     void *data)
{
	return submit(c, ETCD_OP_PUT, "/v3/kv/put", put_obj(key, value, lease), cb, data);
}

int etcd_delete(struct etcd_client *c, const char *key, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_DELETE, "/v3/kv/deleterange", key_obj(key), cb, data);
}

static json_t *txn_obj(enum etcd_cmp cmp, int64_t rev, const char *key, json_t *success)
{
	json_t *cmpo = key_obj(key), *fail = key_obj(key), *txn = NULL;
	int bad;

	if (!cmpo || !fail || !success)
		goto out;
	/* The default target is VERSION: always say which one. */
	bad = json_object_set_new(cmpo, "target",
				  json_string(cmp == ETCD_CMP_CREATE ? "CREATE" : "MOD"));
	bad |= json_object_set_new(cmpo, "result", json_string("EQUAL"));
	bad |= set_i64(cmpo, cmp == ETCD_CMP_CREATE ? "create_revision" : "mod_revision", rev);
	if (bad)
		goto out;
	txn = json_pack("{s:[O],s:[O],s:[{s:O}]}", "compare", cmpo, "success", success, "failure",
			"request_range", fail);
out:
	json_decref(cmpo);
	json_decref(fail);
	json_decref(success);
	return txn;
}

int etcd_txn_put(struct etcd_client *c, enum etcd_cmp cmp, int64_t rev, const char *key,
		 const char *value, int64_t lease, etcd_cb cb, void *data)
{
	json_t *put = put_obj(key, value, lease);
	json_t *succ = put ? json_pack("{s:o}", "request_put", put) : NULL;

	return submit(c, ETCD_OP_TXN, "/v3/kv/txn", txn_obj(cmp, rev, key, succ), cb, data);
}

int etcd_txn_delete(struct etcd_client *c, int64_t mod_rev, const char *key, etcd_cb cb, void *data)
{
	json_t *del = key_obj(key);
	json_t *succ = del ? json_pack("{s:o}", "request_delete_range", del) : NULL;

	return submit(c, ETCD_OP_TXN, "/v3/kv/txn", txn_obj(ETCD_CMP_MOD, mod_rev, key, succ), cb,
		      data);
}

static json_t *id_obj(const char *name, int64_t v)
{
	json_t *o = json_object();

	if (o && set_i64(o, name, v) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int etcd_lease_grant(struct etcd_client *c, int64_t ttl, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_GRANT, "/v3/lease/grant", id_obj("TTL", ttl), cb, data);
}

int etcd_lease_keepalive(struct etcd_client *c, int64_t id, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_KEEPALIVE, "/v3/lease/keepalive", id_obj("ID", id), cb, data);
}

int etcd_lease_revoke(struct etcd_client *c, int64_t id, etcd_cb cb, void *data)
{
	return submit(c, ETCD_OP_REVOKE, "/v3/lease/revoke", id_obj("ID", id), cb, data);
}
