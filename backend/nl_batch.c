/* Netlink batches: messages packed into one buffer, sent with one sendmsg
 * and acked in bulk; see nl.h for the contract.
 *
 * Acks are matched to messages by seq: a batch's seqs are consecutive from
 * first_seq, so a message's index is its seq's offset. Only messages sent
 * with NLM_F_ACK are owed an ack, but an error may name any of them (an
 * nfnetlink commit failure names the batch begin). */
#include "backend/nl.h"
#include "backend/nl_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

/* A plain batch flushes when this many bytes or messages are pending, so
 * the acks of one flush fit the (enlarged) receive buffer. */
#define NL_BATCH_BYTES	65536
#define NL_BATCH_MSGS	256
#define NL_BATCH_RCVBUF (4 << 20)

struct nl_batch {
	struct nl_sock *s;
	nl_batch_err_cb cb;
	void *data;
	bool tx;   /* one send, never split */
	bool full; /* tx: a message did not fit */
	char *buf;
	size_t used;
	struct nlmsghdr *cur;
	unsigned pending;  /* finished messages in buf */
	unsigned next_idx; /* index the next finished message gets */
	unsigned failed;
	uint32_t first_seq; /* seq of buf's first message */
	int first_err;
};

static int batch_new(struct nl_sock *s, bool tx, nl_batch_err_cb cb, void *data,
		     struct nl_batch **out)
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
	b->tx = tx;
	b->cb = cb;
	b->data = data;
	*out = b;
	return 0;
}

int nl_batch_new(struct nl_sock *s, nl_batch_err_cb cb, void *data, struct nl_batch **out)
{
	return batch_new(s, false, cb, data, out);
}

int nl_batch_new_tx(struct nl_sock *s, nl_batch_err_cb cb, void *data, struct nl_batch **out)
{
	return batch_new(s, true, cb, data, out);
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

/* Finishes the message being built: it joins the pending ones. A raw
 * builder's header is checked, the seq put back where it belongs. */
static void batch_close_cur(struct nl_batch *b)
{
	struct nlmsghdr *nlh = b->cur;

	if (!nlh)
		return;
	b->cur = NULL;
	if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > NL_MSG_MAX) {
		/* A builder overran its room or wrote no header. */
		b->s->seq--;
		b->full = true;
		return;
	}
	nlh->nlmsg_seq = b->first_seq + b->pending;
	nlh->nlmsg_pid = 0;
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	b->used += NLMSG_ALIGN(nlh->nlmsg_len);
	b->pending++;
}

/* Reports the messages still owed an ack as failed with err. */
static void batch_unacked(struct nl_batch *b, const uint8_t *owed, unsigned n, int err,
			  const char *msg)
{
	for (unsigned i = 0; i < n; i++)
		if (owed[i] == 1)
			batch_fail(b, b->next_idx + i, err, msg);
}

/* Reads the acks of n messages. owed[i]: 1 while message i waits for its
 * ack, 0 once answered or never acked. Everything is queued by now: read
 * until the queue is empty or nothing is owed. */
static int batch_read_acks(struct nl_batch *b, uint8_t *owed, unsigned n, unsigned nowed)
{
	struct nl_sock *s = b->s;
	bool errors = false;

	while (nowed) {
		struct nlmsghdr *nlh;
		int len = nl_recv(s, MSG_DONTWAIT);

		if (len == -EAGAIN) {
			/* After an error nfnetlink may drop the other acks: only
			 * a silent loss is a protocol error. */
			if (!errors)
				batch_unacked(b, owed, n, -EPROTO, "no ack");
			return errors ? 0 : -EPROTO;
		}
		if (len < 0) {
			/* Lost acks (ENOBUFS): the outcome of the rest is unknown. */
			batch_unacked(b, owed, n, len, "ack lost");
			return len;
		}
		for (nlh = (struct nlmsghdr *)s->rbuf; nl_msg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			uint32_t off = nlh->nlmsg_seq - b->first_seq;
			int err;

			if (nlh->nlmsg_pid != s->portid || off >= n ||
			    nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (owed[off] == 1) {
				owed[off] = 0;
				nowed--;
			}
			err = nl_msg_error(s, nlh);
			if (err) {
				errors = true;
				batch_fail(b, b->next_idx + off, err, s->errmsg);
			}
		}
	}
	return 0;
}

/* Sends len bytes holding n messages and reads their acks. */
static int batch_send_and_ack(struct nl_batch *b, size_t len, unsigned n)
{
	uint8_t owed[NL_BATCH_MSGS];
	const char *p = b->buf;
	unsigned nowed = 0;
	int ret;

	for (unsigned i = 0; i < n; i++) {
		const struct nlmsghdr *nlh = (const void *)p;

		owed[i] = !!(nlh->nlmsg_flags & NLM_F_ACK);
		nowed += owed[i];
		p += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	ret = nl_send_raw(b->s, b->buf, len);
	if (ret) {
		for (unsigned i = 0; i < n; i++)
			batch_fail(b, b->next_idx + i, ret, "");
	} else {
		ret = batch_read_acks(b, owed, n, nowed);
	}
	b->next_idx += n;
	return ret;
}

static int batch_flush(struct nl_batch *b)
{
	size_t len = b->used;
	unsigned n = b->pending;

	b->used = 0;
	b->pending = 0;
	return n ? batch_send_and_ack(b, len, n) : 0;
}

/* Room for the next message at the end of buf, with its seq reserved. */
static struct nlmsghdr *batch_next(struct nl_batch *b)
{
	struct nlmsghdr *nlh;

	batch_close_cur(b);
	if (b->used + NL_MSG_MAX > NL_BATCH_BYTES || b->pending >= NL_BATCH_MSGS) {
		if (b->tx) {
			b->full = true;
			return NULL;
		}
		if (batch_flush(b) < 0)
			return NULL;
	}
	if (b->full)
		return NULL;
	if (!b->pending)
		b->first_seq = b->s->seq + 1;
	nlh = (struct nlmsghdr *)(b->buf + b->used);
	memset(nlh, 0, sizeof(*nlh));
	nlh->nlmsg_len = mnl_nlmsg_size(0);
	nlh->nlmsg_seq = ++b->s->seq;
	b->cur = nlh;
	return nlh;
}

struct nlmsghdr *nl_batch_msg(struct nl_batch *b, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = batch_next(b);

	if (!nlh)
		return NULL;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	return nlh;
}

void *nl_batch_raw(struct nl_batch *b, uint32_t *seq)
{
	struct nlmsghdr *nlh = batch_next(b);

	if (!nlh)
		return NULL;
	*seq = nlh->nlmsg_seq;
	nlh->nlmsg_len = 0; /* the builder must write a header */
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
	int ret;

	batch_close_cur(b);
	if (b->full) {
		/* A transaction that does not fit is not sent at all. */
		b->used = 0;
		b->pending = 0;
		b->full = false;
		batch_fail(b, b->next_idx, -EMSGSIZE, "batch too large");
	} else {
		batch_flush(b);
	}
	ret = b->first_err;
	b->first_err = 0;
	return ret;
}

unsigned nl_batch_failed(const struct nl_batch *b)
{
	return b->failed;
}
