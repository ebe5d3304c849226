/* Netlink socket wrapper over libmnl; see nl.h for the contract. */
#include "backend/nl.h"
#include "backend/nl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "common/util.h"

static int sockopt_on(struct mnl_socket *mnl, int opt)
{
	int one = 1;

	if (mnl_socket_setsockopt(mnl, opt, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

int nl_open_bus(int bus, struct nl_sock **out)
{
	struct nl_sock *s;
	int ret;

	/* Not calloc: the buffers are large and written before being read;
	 * zeroing them is measurable per exec of the CNI plugin. */
	s = malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->errmsg[0] = '\0';
	s->mnl = mnl_socket_open2(bus, SOCK_CLOEXEC);
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
	s->dst = 0;
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

int nl_open(struct nl_sock **out)
{
	return nl_open_bus(NETLINK_ROUTE, out);
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

	switch (mnl_attr_get_type(attr)) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			str_copy(s->errmsg, sizeof(s->errmsg), mnl_attr_get_str(attr));
		break;
	case NLMSGERR_ATTR_OFFS:
		/* Only a pointer into the request: better than nothing. */
		if (!s->errmsg[0] && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			snprintf(s->errmsg, sizeof(s->errmsg), "bad attribute at offset %u",
				 mnl_attr_get_u32(attr));
		break;
	}
	return MNL_CB_OK;
}

int nl_msg_error(struct nl_sock *s, const struct nlmsghdr *nlh)
{
	size_t off, plen = mnl_nlmsg_get_payload_len(nlh);
	int err;

	s->errmsg[0] = '\0';
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (plen < sizeof(*e))
			return -EBADMSG;
		err = e->error;
		off = sizeof(*e);
		/* Uncapped: the request is echoed before the TLVs. */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
		    e->msg.nlmsg_len > sizeof(struct nlmsghdr))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	} else {
		if (plen < sizeof(int))
			return 0;
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		off = sizeof(int);
	}
	if (err > 0)
		err = -err;
	if (err && (nlh->nlmsg_flags & NLM_F_ACK_TLVS) && off <= plen)
		mnl_attr_parse(nlh, (unsigned)off, extack_attr_cb, s);
	return err;
}

int nl_recv(struct nl_sock *s, int flags)
{
	struct iovec iov = {s->rbuf, sizeof(s->rbuf)};
	struct sockaddr_nl from;
	struct msghdr m = {
		.msg_name = &from,
		.msg_namelen = sizeof(from),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t n;

	do {
		n = recvmsg(nl_fd(s), &m, flags);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (m.msg_flags & MSG_TRUNC)
		return -ENOSPC;
	return (int)n;
}

int nl_send_raw(struct nl_sock *s, const void *buf, size_t len)
{
	struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = s->dst};
	ssize_t n;

	do {
		n = sendto(nl_fd(s), buf, len, 0, (struct sockaddr *)&to, sizeof(to));
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
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
		int len = nl_recv(s, 0);

		if (len < 0)
			return len;
		for (nlh = (struct nlmsghdr *)s->rbuf; nl_msg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != s->portid)
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
				int err = nl_msg_error(s, nlh);

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
	return nl_send_raw(s, nlh, nlh->nlmsg_len);
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

int nl_dump(struct nl_sock *s, struct nlmsghdr *nlh, nl_msg_cb cb, void *data, nl_reset_cb reset,
	    void *rdata)
{
	int ret = -EBUSY;

	if (!s->strict) {
		/* Lets the kernel filter dumps (e.g. addresses of one link). */
		sockopt_on(s->mnl, NETLINK_GET_STRICT_CHK);
		s->strict = true;
	}
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
	/* The table changed while the kernel walked it: what was read may
	 * miss or repeat entries, so it is dropped and read again. */
	for (int i = 0; i < NL_DUMP_TRIES; i++) {
		if (i && reset)
			reset(rdata);
		ret = send_msg(s, nlh);
		if (!ret)
			ret = recv_replies(s, s->seq, true, cb, data);
		if (ret != -EINTR)
			return ret;
	}
	return -EBUSY;
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
		int len = nl_recv(s, MSG_DONTWAIT), ret;

		if (len == -EAGAIN)
			return 0;
		if (len == -ENOSPC)
			return -ENOBUFS; /* a truncated event is a lost one */
		if (len < 0)
			return len;
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
