/* rtnetlink socket wrapper over libmnl; see nl.h for the contract. */
#include "backend/nl.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "common/util.h"

/* Large enough for the biggest skb a dump sends to a reader of this size. */
#define NL_RBUF_SIZE 32768
/* A batch flushes when this many bytes or messages are pending, so the
 * acks of one flush fit the (enlarged) receive buffer. */
#define NL_BATCH_BYTES	65536
#define NL_BATCH_MSGS	256
#define NL_BATCH_RCVBUF (4 << 20)

struct nl_sock {
	struct mnl_socket *mnl;
	uint32_t portid;
	uint32_t seq;
	bool strict;
	char errmsg[256];
	char msg[NL_MSG_MAX] __attribute__((aligned(8)));
	char rbuf[NL_RBUF_SIZE] __attribute__((aligned(8)));
};

struct nl_batch {
	struct nl_sock *s;
	nl_batch_err_cb cb;
	void *data;
	char *buf;
	size_t used;
	struct nlmsghdr *cur;
	unsigned pending;  /* finished messages in buf */
	unsigned next_idx; /* index the next finished message gets */
	unsigned failed;
	uint32_t first_seq; /* seq of buf's first message */
	int first_err;
};

static int sockopt_on(struct mnl_socket *mnl, int opt)
{
	int one = 1;

	if (mnl_socket_setsockopt(mnl, opt, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

int nl_open(struct nl_sock **out)
{
	struct nl_sock *s;
	int ret;

	/* Not calloc: the buffers are large and written before being read;
	 * zeroing them is measurable per exec of the CNI plugin. */
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->errmsg[0] = '\0';
	s->mnl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!s->mnl) {
		ret = -errno;
		goto err_free;
	}
	if (mnl_socket_bind(s->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err_close;
	}
	/* Small acks and readable errors; extack is best effort (older
	 * kernels lack it and still work). Strict dump checking is turned on
	 * by the first dump: short-lived users never pay for it. */
	ret = sockopt_on(s->mnl, NETLINK_CAP_ACK);
	if (ret)
		goto err_close;
	sockopt_on(s->mnl, NETLINK_EXT_ACK);
	s->strict = false;
	s->portid = mnl_socket_get_portid(s->mnl);
	s->seq = (uint32_t)now_ms() ^ (s->portid << 16);
	*out = s;
	return 0;

err_close:
	mnl_socket_close(s->mnl);
err_free:
	free(s);
	return ret;
}

int nl_open_netns(struct nl_sock **out, int netns_fd)
{
	int self, ret;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		ret = -errno;
		goto close_self;
	}
	ret = nl_open(out);
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Stuck in the wrong namespace: nothing sane can follow. */
		abort();
	}
close_self:
	close(self);
	return ret;
}

int nl_open_netns_path(struct nl_sock **out, const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = nl_open_netns(out, fd);
	close(fd);
	return ret;
}

void nl_close(struct nl_sock *s)
{
	if (!s)
		return;
	mnl_socket_close(s->mnl);
	free(s);
}

int nl_fd(const struct nl_sock *s)
{
	return mnl_socket_get_fd(s->mnl);
}

const char *nl_errmsg(const struct nl_sock *s)
{
	return s->errmsg;
}

struct nlmsghdr *nl_msg(struct nl_sock *s, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(s->msg, 0, sizeof(struct nlmsghdr));
	nlh = mnl_nlmsg_put_header(s->msg);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	struct nl_sock *s = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		str_copy(s->errmsg, sizeof(s->errmsg), mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* Decodes NLMSG_ERROR / NLMSG_DONE: the errno and any extack text. */
static int msg_error(struct nl_sock *s, const struct nlmsghdr *nlh)
{
	size_t off;
	int err;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
			return -EBADMSG;
		err = e->error;
		off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	} else {
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(int))
			return 0;
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		off = sizeof(int);
	}
	if (err > 0)
		err = -err;
	if (err && (nlh->nlmsg_flags & NLM_F_ACK_TLVS) && off <= mnl_nlmsg_get_payload_len(nlh))
		mnl_attr_parse(nlh, off, extack_attr_cb, s);
	return err;
}

static int recv_buf(struct nl_sock *s)
{
	ssize_t n;

	do {
		n = mnl_socket_recvfrom(s->mnl, s->rbuf, sizeof(s->rbuf));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (int)n;
}

/* Reads replies for seq until its ack (or, for dumps, NLMSG_DONE). Messages
 * with another seq or portid are stale and skipped. A callback error stops
 * the callbacks but the replies are still drained to keep the socket in
 * step. */
static int recv_replies(struct nl_sock *s, uint32_t seq, bool dump, nl_msg_cb cb, void *data)
{
	bool intr = false;
	int cb_err = 0;

	for (;;) {
		struct nlmsghdr *nlh;
		int len = recv_buf(s);

		if (len < 0)
			return len;
		for (nlh = (struct nlmsghdr *)s->rbuf; nl_msg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != s->portid)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
				int err = msg_error(s, nlh);

				if (nlh->nlmsg_type == NLMSG_ERROR && !err && dump)
					continue;
				if (err)
					return err;
				if (cb_err)
					return cb_err;
				return intr ? -EINTR : 0;
			}
			if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			if (cb && !cb_err)
				cb_err = cb(nlh, data);
		}
	}
}

static int send_msg(struct nl_sock *s, struct nlmsghdr *nlh)
{
	s->errmsg[0] = '\0';
	nlh->nlmsg_seq = ++s->seq;
	nlh->nlmsg_pid = 0;
	if (mnl_socket_sendto(s->mnl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

int nl_request_reply(struct nl_sock *s, struct nlmsghdr *nlh, nl_msg_cb cb, void *data)
{
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	ret = send_msg(s, nlh);
	if (ret)
		return ret;
	return recv_replies(s, s->seq, false, cb, data);
}

int nl_request(struct nl_sock *s, struct nlmsghdr *nlh)
{
	return nl_request_reply(s, nlh, NULL, NULL);
}

int nl_dump(struct nl_sock *s, struct nlmsghdr *nlh, nl_msg_cb cb, void *data)
{
	int ret;

	if (!s->strict) {
		/* Lets the kernel filter dumps (e.g. addresses of one link). */
		sockopt_on(s->mnl, NETLINK_GET_STRICT_CHK);
		s->strict = true;
	}
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
	ret = send_msg(s, nlh);
	if (ret)
		return ret;
	return recv_replies(s, s->seq, true, cb, data);
}

int nl_subscribe(struct nl_sock *s, unsigned group)
{
	int fd = nl_fd(s);
	int fl;

	if (mnl_socket_setsockopt(s->mnl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int nl_event_read(struct nl_sock *s, nl_msg_cb cb, void *data)
{
	for (;;) {
		struct nlmsghdr *nlh;
		ssize_t n;
		int len, ret;

		n = recv(nl_fd(s), s->rbuf, sizeof(s->rbuf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		len = (int)n;
		for (nlh = (struct nlmsghdr *)s->rbuf; nl_msg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			ret = cb(nlh, data);
			if (ret)
				return ret;
		}
	}
}

int nl_batch_new(struct nl_sock *s, nl_batch_err_cb cb, void *data, struct nl_batch **out)
{
	int rcvbuf = NL_BATCH_RCVBUF;
	struct nl_batch *b;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->buf = aligned_alloc(8, NL_BATCH_BYTES + NL_MSG_MAX);
	if (!b->buf) {
		free(b);
		return -ENOMEM;
	}
	/* Room for a full flush of acks; FORCE needs CAP_NET_ADMIN, the plain
	 * option is capped by rmem_max but still helps. */
	if (setsockopt(nl_fd(s), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(nl_fd(s), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	b->s = s;
	b->cb = cb;
	b->data = data;
	*out = b;
	return 0;
}

void nl_batch_free(struct nl_batch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b);
}

static void batch_fail(struct nl_batch *b, unsigned idx, int err, const char *msg)
{
	b->failed++;
	if (!b->first_err)
		b->first_err = err;
	if (b->cb)
		b->cb(idx, err, msg, b->data);
}

/* Finishes the message being built: it joins the pending ones. */
static void batch_close_cur(struct nl_batch *b)
{
	if (!b->cur)
		return;
	b->used += NLMSG_ALIGN(b->cur->nlmsg_len);
	b->pending++;
	b->cur = NULL;
}

/* Sends len bytes holding n messages and reads one ack per message. */
static int batch_send_and_ack(struct nl_batch *b, size_t len, unsigned n)
{
	struct nl_sock *s = b->s;
	unsigned base = b->next_idx, acked = 0;

	if (mnl_socket_sendto(s->mnl, b->buf, len) < 0) {
		int err = -errno;
		unsigned i;

		for (i = 0; i < n; i++)
			batch_fail(b, base + i, err, "");
		b->next_idx += n;
		return err;
	}
	while (acked < n) {
		struct nlmsghdr *nlh;
		int len2 = recv_buf(s);

		if (len2 < 0) {
			unsigned i;

			/* Lost acks (ENOBUFS): the outcome of the rest is unknown. */
			for (i = acked; i < n; i++)
				batch_fail(b, base + i, len2, "ack lost");
			b->next_idx += n;
			return len2;
		}
		for (nlh = (struct nlmsghdr *)s->rbuf; nl_msg_ok(nlh, len2);
		     nlh = mnl_nlmsg_next(nlh, &len2)) {
			uint32_t off = nlh->nlmsg_seq - b->first_seq;
			int err;

			if (nlh->nlmsg_pid != s->portid || off >= n ||
			    nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			acked++;
			s->errmsg[0] = '\0';
			err = msg_error(s, nlh);
			if (err)
				batch_fail(b, base + off, err, s->errmsg);
		}
	}
	b->next_idx += n;
	return 0;
}

struct nlmsghdr *nl_batch_msg(struct nl_batch *b, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	batch_close_cur(b);
	if (b->used + NL_MSG_MAX > NL_BATCH_BYTES || b->pending >= NL_BATCH_MSGS) {
		size_t len = b->used;
		unsigned n = b->pending;

		b->used = 0;
		b->pending = 0;
		if (batch_send_and_ack(b, len, n) < 0)
			return NULL;
	}
	if (!b->pending)
		b->first_seq = b->s->seq + 1;
	nlh = (struct nlmsghdr *)(b->buf + b->used);
	memset(nlh, 0, sizeof(*nlh));
	nlh->nlmsg_len = mnl_nlmsg_size(0);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++b->s->seq;
	b->cur = nlh;
	return nlh;
}

void nl_batch_cancel(struct nl_batch *b)
{
	if (!b->cur)
		return;
	/* Its seq stays unused; acks are matched by offset from first_seq, so
	 * renumber: the next message reuses it. */
	b->s->seq--;
	b->cur = NULL;
}

int nl_batch_commit(struct nl_batch *b)
{
	size_t len;
	unsigned n;
	int ret;

	batch_close_cur(b);
	len = b->used;
	n = b->pending;
	b->used = 0;
	b->pending = 0;
	if (n)
		batch_send_and_ack(b, len, n);
	ret = b->first_err;
	b->first_err = 0;
	return ret;
}

unsigned nl_batch_failed(const struct nl_batch *b)
{
	return b->failed;
}
