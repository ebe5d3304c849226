/* A scripted etcd gateway for unit tests, served from the same event loop
 * as the client under test: it answers the n-th request with the n-th
 * canned JSON body (HTTP 200) and keeps every request body it saw. Once the
 * script is used up it closes connections without answering. A listener
 * that is never accepted from (fake_gateway_silent) gives a server that
 * takes connections but never answers.
 */
#ifndef WEFT_TEST_FAKE_GATEWAY_H
#define WEFT_TEST_FAKE_GATEWAY_H

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/loop.h"
#include "common/util.h"

#define FG_CONNS 4
#define FG_REQS	 8
#define FG_BUF	 8192

struct fg_conn {
	int fd;
	size_t len;
	char buf[FG_BUF];
};

struct fake_gateway {
	struct loop *l;
	int lfd;
	char url[64];
	const char *const *answers;
	size_t n_answers, n_reqs;
	char bodies[FG_REQS][FG_BUF];
	struct fg_conn conns[FG_CONNS];
};

static inline void fg_close(struct fake_gateway *g, struct fg_conn *k)
{
	loop_del_fd(g->l, k->fd);
	close(k->fd);
	k->fd = -1;
	k->len = 0;
}

/* A whole request is in: headers plus Content-Length bytes of body. */
static inline const char *fg_body(const struct fg_conn *k, size_t *total)
{
	const char *end = memmem(k->buf, k->len, "\r\n\r\n", 4);
	const char *cl;
	size_t n = 0;

	if (!end)
		return NULL;
	cl = strcasestr(k->buf, "content-length:");
	if (cl && cl < end)
		n = strtoul(cl + 15, NULL, 10);
	if ((size_t)(end + 4 - k->buf) + n > k->len)
		return NULL;
	*total = (size_t)(end + 4 - k->buf) + n;
	return end + 4;
}

static inline void fg_answer(struct fake_gateway *g, struct fg_conn *k)
{
	char head[128];
	const char *body;
	size_t total, blen;

	while ((body = fg_body(k, &total))) {
		blen = total - (size_t)(body - k->buf);
		if (g->n_reqs >= g->n_answers || g->n_reqs >= FG_REQS) {
			fg_close(g, k);
			return;
		}
		snprintf(g->bodies[g->n_reqs], FG_BUF, "%.*s", (int)blen, body);
		body = g->answers[g->n_reqs++];
		snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 strlen(body));
		/* Small answers: the socket buffer takes them whole. */
		if (write(k->fd, head, strlen(head)) < 0 || write(k->fd, body, strlen(body)) < 0) {
			fg_close(g, k);
			return;
		}
		memmove(k->buf, k->buf + total, k->len - total);
		k->len -= total;
	}
}

static inline void fg_on_conn(void *data, int fd, uint32_t events)
{
	struct fake_gateway *g = data;
	struct fg_conn *k = NULL;
	ssize_t n;

	for (int i = 0; i < FG_CONNS; i++)
		if (g->conns[i].fd == fd)
			k = &g->conns[i];
	if (!k)
		return;
	n = read(fd, k->buf + k->len, FG_BUF - 1 - k->len);
	if (n <= 0) {
		fg_close(g, k);
		return;
	}
	k->len += (size_t)n;
	k->buf[k->len] = '\0';
	fg_answer(g, k);
}

static inline void fg_on_accept(void *data, int fd, uint32_t events)
{
	struct fake_gateway *g = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	for (int i = 0; i < FG_CONNS; i++) {
		if (g->conns[i].fd < 0) {
			g->conns[i].fd = cfd;
			if (loop_add_fd(g->l, cfd, EPOLLIN, fg_on_conn, g) == 0)
				return;
			g->conns[i].fd = -1;
			break;
		}
	}
	close(cfd);
}

/* Listens on 127.0.0.1 (any port); g->url is the endpoint to use. */
static inline int fake_gateway_listen(struct fake_gateway *g, struct loop *l)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	g->l = l;
	for (int i = 0; i < FG_CONNS; i++)
		g->conns[i].fd = -1;
	g->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g->lfd < 0 || bind(g->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(g->lfd, 8) < 0 || getsockname(g->lfd, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	snprintf(g->url, sizeof(g->url), "http://127.0.0.1:%u", ntohs(a.sin_port));
	return 0;
}

static inline int fake_gateway_start(struct fake_gateway *g, struct loop *l,
				     const char *const *answers, size_t n_answers)
{
	g->answers = answers;
	g->n_answers = n_answers;
	if (fake_gateway_listen(g, l) < 0)
		return -1;
	return loop_add_fd(l, g->lfd, EPOLLIN, fg_on_accept, g);
}

/* Takes connections (the kernel's backlog) and never answers. */
static inline int fake_gateway_silent(struct fake_gateway *g, struct loop *l)
{
	return fake_gateway_listen(g, l);
}

static inline void fake_gateway_stop(struct fake_gateway *g)
{
	for (int i = 0; i < FG_CONNS; i++)
		if (g->conns[i].fd >= 0)
			fg_close(g, &g->conns[i]);
	loop_del_fd(g->l, g->lfd);
	close(g->lfd);
}

/* Runs the loop until *cond reaches want or max_ms passed. */
struct fg_pump {
	struct loop *l;
	const int *cond;
	int want;
	uint64_t end;
};

static inline void fg_pump_tick(void *data)
{
	struct fg_pump *p = data;

	if (*p->cond >= p->want || now_ms() >= p->end)
		loop_stop(p->l, 0);
}

static inline int loop_pump(struct loop *l, const int *cond, int want, int max_ms)
{
	struct fg_pump p = {.l = l, .cond = cond, .want = want, .end = now_ms() + (uint64_t)max_ms};
	struct loop_timer *t;
	int ret;

	if (*cond >= want)
		return 0;
	ret = loop_add_timer(l, fg_pump_tick, &p, &t);
	if (ret < 0)
		return ret;
	ret = loop_timer_arm(t, 5, 5);
	if (ret == 0)
		ret = loop_run(l);
	loop_timer_free(t);
	return ret;
}

#endif
