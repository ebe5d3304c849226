/* A scripted etcd gRPC server for unit tests: just enough HTTP/2 without TLS
 * (prior knowledge) to answer the n-th call (stream) with the n-th canned
 * answer: a header block, framed protobuf messages, then trailers with
 * grpc-status. Request headers are not decoded (HPACK); each call's body is
 * kept. Served from the same event loop as the client under test.
 */
#ifndef WEFT_TEST_FAKE_GRPC_H
#define WEFT_TEST_FAKE_GRPC_H

#include <arpa/inet.h>
#include <stdint.h>

#include "fake_gateway.h"

#define FGR_MSGS 3
#define FGR_BODY 512

enum {
	FGR_NO_TRAILERS = -1, /* the last DATA frame ends the stream */
	FGR_KEEP_OPEN = -2,   /* no end: a watch stream stays open */
};

struct fgr_answer {
	const char *hex[FGR_MSGS]; /* protobuf messages, unframed; NULL ends the list */
	int status;		   /* grpc-status, or FGR_NO_TRAILERS / FGR_KEEP_OPEN */
	const char *message;	   /* grpc-message, NULL for none */
	bool trailers_only;	   /* status in the only header block */
};

struct fgr_conn {
	int fd;
	size_t len;
	bool preface;
	uint32_t sid[FG_REQS]; /* stream of each call */
	uint8_t buf[FG_BUF];
};

struct fake_grpc {
	struct loop *l;
	int lfd;
	char url[64];
	const struct fgr_answer *answers;
	size_t n_answers, n_reqs;
	uint8_t bodies[FG_REQS][FGR_BODY];
	size_t body_len[FG_REQS];
	struct fgr_conn conns[FG_CONNS];
};

static inline void fgr_frame(int fd, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
			     size_t len)
{
	uint8_t h[9] = {(uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, type, flags};
	uint32_t s = htonl(sid);

	memcpy(h + 5, &s, 4);
	/* Small frames: the socket buffer takes them whole. */
	if (write(fd, h, 9) < 0 || (len && write(fd, p, len) < 0))
		return;
}

/* HPACK literal without indexing, new name, no Huffman. */
static inline size_t fgr_hpack(uint8_t *o, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	o[0] = 0;
	o[1] = (uint8_t)n;
	memcpy(o + 2, name, n);
	o[2 + n] = (uint8_t)v;
	memcpy(o + 3 + n, value, v);
	return 3 + n + v;
}

static inline void fgr_answer(struct fake_grpc *g, int fd, uint32_t sid, size_t slot)
{
	const struct fgr_answer *a = &g->answers[slot];
	/* :status 200 (static index 8), content-type (index 31) literal. */
	static const uint8_t head[] = {0x88, 0x0f, 0x10, 16,  'a', 'p', 'p', 'l', 'i', 'c',
				       'a',  't',  'i',	 'o', 'n', '/', 'g', 'r', 'p', 'c'};
	uint8_t m[FGR_BODY], t[FGR_BODY];
	char code[16];
	size_t n, tl = 0;

	if (a->trailers_only) {
		snprintf(code, sizeof(code), "%d", a->status);
		memcpy(t, head, sizeof(head));
		tl = sizeof(head) + fgr_hpack(t + sizeof(head), "grpc-status", code);
		fgr_frame(fd, 1, 0x5, sid, t, tl);
		return;
	}
	fgr_frame(fd, 1, 0x4, sid, head, sizeof(head));
	for (int i = 0; i < FGR_MSGS && a->hex[i]; i++) {
		bool last = i + 1 == FGR_MSGS || !a->hex[i + 1];

		n = strlen(a->hex[i]) / 2;
		m[0] = 0;
		m[1] = m[2] = 0;
		m[3] = (uint8_t)(n >> 8);
		m[4] = (uint8_t)n;
		for (size_t k = 0; k < n; k++) {
			unsigned v = 0;

			sscanf(a->hex[i] + 2 * k, "%2x", &v);
			m[5 + k] = (uint8_t)v;
		}
		fgr_frame(fd, 0, last && a->status == FGR_NO_TRAILERS ? 0x1 : 0, sid, m, n + 5);
	}
	if (a->status < 0)
		return;
	if (!a->hex[0] && !a->trailers_only)
		fgr_frame(fd, 0, 0, sid, NULL, 0); /* etcd 3.4: an empty body */
	snprintf(code, sizeof(code), "%d", a->status);
	tl = fgr_hpack(t, "grpc-status", code);
	if (a->message)
		tl += fgr_hpack(t + tl, "grpc-message", a->message);
	fgr_frame(fd, 1, 0x5, sid, t, tl);
}

static inline size_t fgr_slot(struct fake_grpc *g, struct fgr_conn *k, uint32_t sid)
{
	for (size_t i = 0; i < g->n_reqs; i++)
		if (k->sid[i] == sid)
			return i;
	if (g->n_reqs >= FG_REQS)
		return FG_REQS;
	k->sid[g->n_reqs] = sid;
	g->body_len[g->n_reqs] = 0;
	return g->n_reqs++;
}

/* One whole frame from the client. */
static inline void fgr_on_frame(struct fake_grpc *g, struct fgr_conn *k, uint8_t type,
				uint8_t flags, uint32_t sid, const uint8_t *p, size_t len)
{
	size_t slot;

	if (type == 4 && !(flags & 0x1)) { /* SETTINGS: acknowledge */
		fgr_frame(k->fd, 4, 0x1, 0, NULL, 0);
		return;
	}
	if (type == 6 && !(flags & 0x1)) { /* PING */
		fgr_frame(k->fd, 6, 0x1, 0, p, len);
		return;
	}
	if ((type != 0 && type != 1) || !sid)
		return;
	slot = fgr_slot(g, k, sid);
	if (slot >= FG_REQS)
		return;
	if (type == 0 && g->body_len[slot] + len <= FGR_BODY) {
		memcpy(g->bodies[slot] + g->body_len[slot], p, len);
		g->body_len[slot] += len;
	}
	if ((flags & 0x1) && slot < g->n_answers)
		fgr_answer(g, k->fd, sid, slot);
}

static inline void fgr_on_conn(void *data, int fd, uint32_t events)
{
	struct fake_grpc *g = data;
	struct fgr_conn *k = NULL;
	ssize_t n;

	for (int i = 0; i < FG_CONNS; i++)
		if (g->conns[i].fd == fd)
			k = &g->conns[i];
	if (!k)
		return;
	n = read(fd, k->buf + k->len, FG_BUF - k->len);
	if (n <= 0) {
		loop_del_fd(g->l, fd);
		close(fd);
		k->fd = -1;
		return;
	}
	k->len += (size_t)n;
	if (!k->preface && k->len >= 24) {
		memmove(k->buf, k->buf + 24, k->len - 24);
		k->len -= 24;
		k->preface = true;
		/* Our SETTINGS: MAX_CONCURRENT_STREAMS 100 (curl wants a limit). */
		fgr_frame(fd, 4, 0, 0, (const uint8_t[]){0, 3, 0, 0, 0, 100}, 6);
	}
	while (k->preface && k->len >= 9) {
		size_t flen = (size_t)k->buf[0] << 16 | (size_t)k->buf[1] << 8 | k->buf[2];
		uint32_t sid;

		if (k->len < 9 + flen)
			break;
		memcpy(&sid, k->buf + 5, 4);
		fgr_on_frame(g, k, k->buf[3], k->buf[4], ntohl(sid) & 0x7fffffffu, k->buf + 9,
			     flen);
		memmove(k->buf, k->buf + 9 + flen, k->len - 9 - flen);
		k->len -= 9 + flen;
	}
}

static inline void fgr_on_accept(void *data, int fd, uint32_t events)
{
	struct fake_grpc *g = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	for (int i = 0; i < FG_CONNS; i++) {
		if (g->conns[i].fd < 0) {
			memset(&g->conns[i], 0, sizeof(g->conns[i]));
			g->conns[i].fd = cfd;
			if (loop_add_fd(g->l, cfd, EPOLLIN, fgr_on_conn, g) == 0)
				return;
			g->conns[i].fd = -1;
			break;
		}
	}
	close(cfd);
}

static inline int fake_grpc_start(struct fake_grpc *g, struct loop *l,
				  const struct fgr_answer *answers, size_t n_answers)
{
	struct fake_gateway lis;

	memset(g, 0, sizeof(*g));
	if (fake_gateway_listen(&lis, l) < 0)
		return -1;
	g->l = l;
	g->lfd = lis.lfd;
	memcpy(g->url, lis.url, sizeof(g->url));
	g->answers = answers;
	g->n_answers = n_answers;
	for (int i = 0; i < FG_CONNS; i++)
		g->conns[i].fd = -1;
	return loop_add_fd(l, g->lfd, EPOLLIN, fgr_on_accept, g);
}

static inline void fake_grpc_stop(struct fake_grpc *g)
{
	for (int i = 0; i < FG_CONNS; i++) {
		if (g->conns[i].fd >= 0) {
			loop_del_fd(g->l, g->conns[i].fd);
			close(g->conns[i].fd);
		}
	}
	loop_del_fd(g->l, g->lfd);
	close(g->lfd);
}

#endif
