#include "daemon/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <systemd/sd-daemon.h>

#include "common/util.h"
#include "common/loop.h"

/* Limits (docs/operations.md). The endpoint must keep answering the
 * kubelet's probes whatever other clients do: each address holds at most
 * HEALTH_PER_IP connections; a connection gets HEALTH_WAIT_MS to deliver a
 * complete request (slow-drip headers reset an idle timeout, not this);
 * and once HEALTH_CULL_AT connections are open, each new one closes the
 * connection that has waited longest without a request, so the library's
 * own limit is never reached and a probe always finds a slot. */
#define HEALTH_MAX_CONN	    256
#define HEALTH_CULL_AT	    (HEALTH_MAX_CONN - 32)
#define HEALTH_PER_IP	    16
#define HEALTH_CONN_TIMEOUT 5 /* seconds idle, also mid-response */
#define HEALTH_WAIT_MS	    5000
#define HEALTH_CONN_MEMORY  (16 * 1024)

/* A connection; on the wait list while it has no request in progress. */
struct hconn {
	int fd;
	bool waiting, culled;
	uint64_t since; /* waiting since, ms */
	struct hconn *prev, *next;
};

struct health {
	struct MHD_Daemon *mhd;
	struct health_ops ops;
	int fd;
	uint16_t port;
	bool notified;
	struct loop *loop;
	struct loop_timer *timer;
	struct hconn *wait_head, *wait_tail; /* oldest first */
	unsigned open;			     /* connections not culled */
	uint64_t culled;
};

struct metrics_buf {
	char *text;
	size_t len, cap;
	bool failed;
};

struct metrics_buf *metrics_buf_new(void)
{
	return calloc(1, sizeof(struct metrics_buf));
}

void metrics_buf_free(struct metrics_buf *m)
{
	if (!m)
		return;
	free(m->text);
	free(m);
}

const char *metrics_buf_text(const struct metrics_buf *m, size_t *len)
{
	if (m->failed)
		return NULL;
	*len = m->len;
	return m->text ? m->text : "";
}

static void __attribute__((format(printf, 2, 3)))
mb_printf(struct metrics_buf *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->failed)
		return;
	for (;;) {
		size_t room = m->cap - m->len;

		va_start(ap, fmt);
		n = vsnprintf(m->text ? m->text + m->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			m->failed = true;
			return;
		}
		if ((size_t)n < room) {
			m->len += (size_t)n;
			return;
		}
		size_t cap = m->cap ? m->cap * 2 : 4096;
		while (cap - m->len <= (size_t)n)
			cap *= 2;
		char *t = realloc(m->text, cap);
		if (!t) {
			m->failed = true;
			return;
		}
		m->text = t;
		m->cap = cap;
	}
}

/* HELP text may not hold raw newlines or lone backslashes. */
static void mb_escaped(struct metrics_buf *m, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			mb_printf(m, "\\\\");
		else if (*s == '\n')
			mb_printf(m, "\\n");
		else
			mb_printf(m, "%c", *s);
	}
}

void metrics_family(struct metrics_buf *m, const char *name, const char *type, const char *help)
{
	mb_printf(m, "# HELP %s ", name);
	mb_escaped(m, help);
	mb_printf(m, "\n# TYPE %s %s\n", name, type);
}

void metrics_sample(struct metrics_buf *m, const char *name, const char *labels, double value)
{
	if (labels)
		mb_printf(m, "%s{%s} %.17g\n", name, labels, value);
	else
		mb_printf(m, "%s %.17g\n", name, value);
}

void metrics_gauge(struct metrics_buf *m, const char *name, const char *help, double value)
{
	metrics_family(m, name, "gauge", help);
	metrics_sample(m, name, NULL, value);
}

void metrics_counter(struct metrics_buf *m, const char *name, const char *help, double value)
{
	metrics_family(m, name, "counter", help);
	metrics_sample(m, name, NULL, value);
}

int health_parse_addr(const char *s, void *ss, size_t *len)
{
	const char *colon, *host_end;
	char host[INET6_ADDRSTRLEN];
	uint64_t port;
	size_t hlen;
	bool v6 = s[0] == '[';

	if (v6) {
		host_end = strchr(s, ']');
		if (!host_end || host_end[1] != ':')
			return -EINVAL;
		colon = host_end + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		host_end = colon;
	}
	hlen = (size_t)(host_end - s);
	if (!hlen || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (parse_u64(colon + 1, 0, 65535, &port))
		return -EINVAL;
	memset(ss, 0, sizeof(struct sockaddr_storage));
	if (v6) {
		struct sockaddr_in6 *a = ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*a);
	}
	return 0;
}

/* ------------------------------------------------------------ connection guard */

static void wait_unlink(struct health *h, struct hconn *k)
{
	if (!k->waiting)
		return;
	if (k->prev)
		k->prev->next = k->next;
	else
		h->wait_head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		h->wait_tail = k->prev;
	k->prev = k->next = NULL;
	k->waiting = false;
}

static void wait_append(struct health *h, struct hconn *k)
{
	wait_unlink(h, k);
	k->since = now_ms();
	k->waiting = true;
	k->prev = h->wait_tail;
	if (h->wait_tail)
		h->wait_tail->next = k;
	else
		h->wait_head = k;
	h->wait_tail = k;
}

/* Ends a connection the library still owns: shutdown() wakes it up on the
 * socket and it closes the connection on its next run (then the closed
 * notification frees k). The fd stays the library's to close. */
static void cull(struct health *h, struct hconn *k)
{
	wait_unlink(h, k);
	k->culled = true;
	h->open--;
	h->culled++;
	shutdown(k->fd, SHUT_RDWR);
}

/* Connections past their wait; returns ms until the next one is due
 * (UINT64_MAX: none waits). */
static uint64_t cull_expired(struct health *h)
{
	uint64_t now = now_ms();

	while (h->wait_head && h->wait_head->since + HEALTH_WAIT_MS <= now)
		cull(h, h->wait_head);
	return h->wait_head ? h->wait_head->since + HEALTH_WAIT_MS - now : UINT64_MAX;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct health *h = cls;
	struct hconn *k = *socket_context;
	const union MHD_ConnectionInfo *info;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!k)
			return;
		wait_unlink(h, k);
		if (!k->culled)
			h->open--;
		free(k);
		*socket_context = NULL;
		return;
	}
	info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	k = calloc(1, sizeof(*k));
	if (!k || !info) {
		/* Untracked, but the library's own limits still hold. */
		free(k);
		return;
	}
	k->fd = info->connect_fd;
	*socket_context = k;
	h->open++;
	wait_append(h, k);
	while (h->open > HEALTH_CULL_AT && h->wait_head)
		cull(h, h->wait_head);
}

static struct hconn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct hconn *k = conn_of(c);

	/* Kept alive: waiting for the next request from now on. */
	if (k && !k->culled)
		wait_append(cls, k);
}

/* The library's next timeout or the next wait to end, whichever is first;
 * armed on the loop timer so both run on time. */
static void rearm(struct health *h, uint64_t next_wait)
{
	MHD_UNSIGNED_LONG_LONG mhd_ms;
	uint64_t ms = next_wait;

	if (!h->timer)
		return;
	if (MHD_get_timeout(h->mhd, &mhd_ms) == MHD_YES && mhd_ms < ms)
		ms = mhd_ms;
	if (ms == UINT64_MAX)
		loop_timer_disarm(h->timer);
	else
		loop_timer_arm(h->timer, ms, 0);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return reply(c, status, "text/plain; charset=utf-8", (void *)text, strlen(text),
		     MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result serve_ready(struct health *h, struct MHD_Connection *c)
{
	char why[200] = "not ready", body[256];

	if (!h->ops.ready || h->ops.ready(h->ops.arg, why, sizeof(why)))
		return reply_text(c, MHD_HTTP_OK, "ready\n");
	snprintf(body, sizeof(body), "not ready: %s\n", why);
	return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

static enum MHD_Result serve_metrics(struct health *h, struct MHD_Connection *c)
{
	struct metrics_buf *m = metrics_buf_new();
	const char *text;
	size_t len;
	char *body;

	if (!m)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	if (h->ops.metrics)
		h->ops.metrics(h->ops.arg, m);
	text = metrics_buf_text(m, &len);
	if (!text) {
		metrics_buf_free(m);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	/* The response takes the text over. */
	body = m->text;
	m->text = NULL;
	metrics_buf_free(m);
	if (!body)
		body = strdup("");
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
		     MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct health *h = cls;
	struct hconn *k;

	if (!*con_cls) {
		/* First call of a request: its headers are all in. */
		*con_cls = h;
		k = conn_of(c);
		if (k)
			wait_unlink(h, k);
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	/* A request body is never expected; drain it. */
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/healthz"))
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/readyz"))
		return serve_ready(h, c);
	if (!strcmp(url, "/metrics"))
		return serve_metrics(h, c);
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

int health_start(const char *addr, const struct health_ops *ops, struct health **out)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL;
	struct health *h;
	size_t sslen;
	int ret;

	ret = health_parse_addr(addr, &ss, &sslen);
	if (ret)
		return ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ops = *ops;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &ss,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HEALTH_MAX_CONN,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HEALTH_PER_IP,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HEALTH_CONN_TIMEOUT,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEALTH_CONN_MEMORY,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
	if (!h->mhd) {
		/* MHD leaves the bind/listen errno in place. */
		ret = errno ? -errno : -EIO;
		goto err_free;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		ret = -EIO;
		goto err_stop;
	}
	h->fd = info->epoll_fd;
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	*out = h;
	return 0;

err_stop:
	MHD_stop_daemon(h->mhd);
err_free:
	free(h);
	return ret;
}

void health_stop(struct health *h)
{
	if (!h)
		return;
	if (h->loop) {
		loop_del_fd(h->loop, h->fd);
		loop_timer_free(h->timer);
	}
	/* Closes every connection; the closed notifications free their state. */
	MHD_stop_daemon(h->mhd);
	free(h);
}

static void on_health_fd(void *data, int fd, uint32_t events)
{
	health_run(data);
}

static void on_health_timer(void *data)
{
	health_run(data);
}

int health_attach(struct health *h, struct loop *l)
{
	int ret;

	ret = loop_add_timer(l, on_health_timer, h, &h->timer);
	if (ret < 0)
		return ret;
	ret = loop_add_fd(l, h->fd, EPOLLIN, on_health_fd, h);
	if (ret < 0) {
		loop_timer_free(h->timer);
		h->timer = NULL;
		return ret;
	}
	h->loop = l;
	rearm(h, UINT64_MAX);
	return 0;
}

int health_fd(const struct health *h)
{
	return h->fd;
}

uint16_t health_port(const struct health *h)
{
	return h->port;
}

int health_run(struct health *h)
{
	int ret = MHD_run(h->mhd) == MHD_YES ? 0 : -EIO;

	rearm(h, cull_expired(h));
	return ret;
}

void health_get_stats(const struct health *h, unsigned *open, uint64_t *culled)
{
	*open = h->open;
	*culled = h->culled;
}

bool health_check_ready(struct health *h)
{
	char why[200];
	bool ready = !h->ops.ready || h->ops.ready(h->ops.arg, why, sizeof(why));

	if (ready && !h->notified) {
		/* Without NOTIFY_SOCKET (not under systemd) this does nothing. */
		sd_notify(0, "READY=1\nSTATUS=data plane programmed");
		h->notified = true;
	}
	return ready;
}
