/* The receive loop of the netlink wrapper fed with crafted replies: a
 * second netlink socket (NETLINK_USERSOCK) plays the kernel, so the cases
 * the kernel rarely produces on demand are covered: interrupted dumps and
 * their bounded restarts, stale replies, extack text, errors in NLMSG_DONE,
 * callback errors, batch acks with per-message errors. Replies are queued
 * before the request is sent: the wrapper's seqs are predictable. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../backend/nl.c"
#include "../../backend/nl_batch.c"

struct pair {
	struct nl_sock *s;	 /* the wrapper under test */
	struct mnl_socket *peer; /* plays the kernel */
};

static int setup(void **state)
{
	static struct pair p;

	p.s = malloc(sizeof(*p.s));
	p.s->mnl = mnl_socket_open(NETLINK_USERSOCK);
	p.peer = mnl_socket_open(NETLINK_USERSOCK);
	if (!p.s->mnl || !p.peer || mnl_socket_bind(p.s->mnl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_bind(p.peer, 0, MNL_SOCKET_AUTOPID) < 0)
		return -1;
	p.s->portid = mnl_socket_get_portid(p.s->mnl);
	p.s->seq = 100;
	p.s->strict = true;
	p.s->dst = mnl_socket_get_portid(p.peer);
	p.s->errmsg[0] = '\0';
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	mnl_socket_close(p->peer);
	nl_close(p->s);
	return 0;
}

static char out[8192] __attribute__((aligned(8)));
static size_t out_len;

static struct nlmsghdr *put(uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(out + out_len);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = pid;
	return nlh;
}

static void done_msg(struct nlmsghdr *nlh)
{
	out_len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static void put_link(uint16_t flags, uint32_t seq, uint32_t pid)
{
	struct nlmsghdr *nlh = put(RTM_NEWLINK, flags, seq, pid);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_index = 7;
	done_msg(nlh);
}

static void put_done(uint32_t seq, uint32_t pid, int err)
{
	struct nlmsghdr *nlh = put(NLMSG_DONE, NLM_F_MULTI, seq, pid);
	int *e = mnl_nlmsg_put_extra_header(nlh, sizeof(int));

	*e = err;
	done_msg(nlh);
}

static void put_err(uint32_t seq, uint32_t pid, int err, const char *text)
{
	struct nlmsghdr *nlh =
		put(NLMSG_ERROR, NLM_F_CAPPED | (text ? NLM_F_ACK_TLVS : 0), seq, pid);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

	e->error = err;
	e->msg.nlmsg_len = sizeof(struct nlmsghdr);
	e->msg.nlmsg_seq = seq;
	if (text)
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, text);
	done_msg(nlh);
}

/* An error that only points at an attribute of the request. */
static void put_err_offs(uint32_t seq, uint32_t pid, int err, uint32_t offs)
{
	struct nlmsghdr *nlh = put(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, seq, pid);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

	e->error = err;
	e->msg.nlmsg_len = sizeof(struct nlmsghdr);
	e->msg.nlmsg_seq = seq;
	mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, offs);
	done_msg(nlh);
}

/* Sends what was put as one datagram (as the kernel batches replies). */
static void flush(struct pair *p)
{
	struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = p->s->portid};

	assert_int_equal(sendto(mnl_socket_get_fd(p->peer), out, out_len, 0, (struct sockaddr *)&to,
				sizeof(to)),
			 (ssize_t)out_len);
	out_len = 0;
}

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	(*(int *)data)++;
	return 0;
}

static int fail_cb(const struct nlmsghdr *nlh, void *data)
{
	(*(int *)data)++;
	return -E2BIG;
}

static void test_dump_interrupted(void **state)
{
	struct pair *p = *state;
	uint32_t pid = p->s->portid;
	int n = 0;

	put_link(NLM_F_MULTI, 5, pid);
	put_link(NLM_F_MULTI | NLM_F_DUMP_INTR, 5, pid);
	flush(p);
	put_done(5, pid, 0);
	flush(p);
	assert_int_equal(recv_replies(p->s, 5, true, count_cb, &n), -EINTR);
	assert_int_equal(n, 2);
}

static void test_stale_and_extack(void **state)
{
	struct pair *p = *state;
	uint32_t pid = p->s->portid;
	int n = 0;

	/* A late reply to an earlier request, and one for another socket. */
	put_link(0, 6, pid);
	put_err(6, pid, 0, NULL);
	put_link(0, 7, pid + 1);
	flush(p);
	put_err(7, pid, -EEXIST, "File exists here");
	flush(p);
	assert_int_equal(recv_replies(p->s, 7, false, count_cb, &n), -EEXIST);
	assert_int_equal(n, 0);
	assert_string_equal(nl_errmsg(p->s), "File exists here");
}

static void test_done_with_error(void **state)
{
	struct pair *p = *state;
	uint32_t pid = p->s->portid;
	int n = 0;

	put_link(NLM_F_MULTI, 8, pid);
	put_done(8, pid, -EPERM);
	flush(p);
	assert_int_equal(recv_replies(p->s, 8, true, count_cb, &n), -EPERM);
	assert_int_equal(n, 1);
}

static void test_callback_error_drains(void **state)
{
	struct pair *p = *state;
	uint32_t pid = p->s->portid;
	int n = 0;

	put_link(NLM_F_MULTI, 9, pid);
	put_link(NLM_F_MULTI, 9, pid);
	flush(p);
	put_link(NLM_F_MULTI, 9, pid);
	put_done(9, pid, 0);
	flush(p);
	/* The callback stops after its error, the rest is still read. */
	assert_int_equal(recv_replies(p->s, 9, true, fail_cb, &n), -E2BIG);
	assert_int_equal(n, 1);
	/* The socket is in step: the next answer is the next request's. */
	put_err(10, pid, 0, NULL);
	flush(p);
	assert_int_equal(recv_replies(p->s, 10, false, NULL, NULL), 0);
}

static void test_reply_then_ack(void **state)
{
	struct pair *p = *state;
	uint32_t pid = p->s->portid;
	int n = 0;

	put_link(0, 11, pid);
	flush(p);
	put_err(11, pid, 0, NULL);
	flush(p);
	assert_int_equal(recv_replies(p->s, 11, false, count_cb, &n), 0);
	assert_int_equal(n, 1);
	/* A short error message is refused, not read past its end. */
	{
		struct nlmsghdr *nlh = put(NLMSG_ERROR, 0, 12, pid);

		done_msg(nlh);
		flush(p);
		assert_int_equal(recv_replies(p->s, 12, false, NULL, NULL), -EBADMSG);
	}
}

static int resets;

static void reset_cb(void *data)
{
	resets++;
	*(int *)data = 0;
}

static struct nlmsghdr *getlink(struct pair *p)
{
	struct nlmsghdr *nlh = nl_msg(p->s, RTM_GETLINK, 0);

	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	return nlh;
}

/* One dump's reply in one datagram: links, then DONE. */
static void queue_dump(struct pair *p, uint32_t seq, int links, bool intr)
{
	for (int i = 0; i < links; i++)
		put_link(NLM_F_MULTI | (intr && i == links - 1 ? NLM_F_DUMP_INTR : 0), seq,
			 p->s->portid);
	put_done(seq, p->s->portid, 0);
	flush(p);
}

static void test_dump_restarts(void **state)
{
	struct pair *p = *state;
	uint32_t seq = p->s->seq;
	int n = 0;

	/* Two interrupted dumps, then a consistent one: only its entries
	 * count, the caller's reset ran before each new dump. */
	queue_dump(p, seq + 1, 3, true);
	queue_dump(p, seq + 2, 1, true);
	queue_dump(p, seq + 3, 2, false);
	resets = 0;
	assert_int_equal(nl_dump(p->s, getlink(p), count_cb, &n, reset_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(resets, 2);
	assert_int_equal(p->s->seq, seq + 3);
}

static void test_dump_restarts_bounded(void **state)
{
	struct pair *p = *state;
	uint32_t seq = p->s->seq;
	int n = 0;

	for (int i = 1; i <= NL_DUMP_TRIES; i++)
		queue_dump(p, seq + i, 1, true);
	resets = 0;
	assert_int_equal(nl_dump(p->s, getlink(p), count_cb, &n, reset_cb, &n), -EBUSY);
	assert_int_equal(resets, NL_DUMP_TRIES - 1);
	assert_int_equal(p->s->seq, seq + NL_DUMP_TRIES);
	/* The socket is in step, and no reset callback is fine. */
	queue_dump(p, p->s->seq + 1, 1, false);
	n = 0;
	assert_int_equal(nl_dump(p->s, getlink(p), count_cb, &n, NULL, NULL), 0);
	assert_int_equal(n, 1);
}

static void test_events(void **state)
{
	struct pair *p = *state;
	int n = 0, fl = fcntl(nl_fd(p->s), F_GETFL);

	assert_int_equal(fcntl(nl_fd(p->s), F_SETFL, fl | O_NONBLOCK), 0);
	assert_int_equal(nl_event_read(p->s, count_cb, &n), 0);
	put_link(0, 0, 0);
	put_link(0, 0, 0);
	flush(p);
	assert_int_equal(nl_event_read(p->s, count_cb, &n), 0);
	assert_int_equal(n, 2);
	put_link(0, 0, 0);
	flush(p);
	assert_int_equal(nl_event_read(p->s, fail_cb, &n), -E2BIG);
	assert_int_equal(fcntl(nl_fd(p->s), F_SETFL, fl), 0);
}

/* A length near UINT32_MAX must end the walk, not pass libmnl's signed
 * check and loop on the same message forever. */
static void test_huge_length(void **state)
{
	struct pair *p = *state;
	int n = 0, fl = fcntl(nl_fd(p->s), F_GETFL);
	struct nlmsghdr *bad;

	assert_int_equal(fcntl(nl_fd(p->s), F_SETFL, fl | O_NONBLOCK), 0);
	put_link(0, 0, 0);
	bad = put(RTM_NEWLINK, 0, 0, 0);
	mnl_nlmsg_put_extra_header(bad, sizeof(struct ifinfomsg));
	done_msg(bad);
	bad->nlmsg_len = 0xffffffff;
	flush(p);
	assert_int_equal(nl_event_read(p->s, count_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fcntl(nl_fd(p->s), F_SETFL, fl), 0);
}

struct errs {
	unsigned n;
	unsigned idx[8];
	int err[8];
	char msg[8][64];
};

static void err_cb(unsigned idx, int err, const char *msg, void *data)
{
	struct errs *e = data;

	assert_true(e->n < 8);
	e->idx[e->n] = idx;
	e->err[e->n] = err;
	str_copy(e->msg[e->n], sizeof(e->msg[0]), msg);
	e->n++;
}

/* Reads what the wrapper sent to the fake kernel: the last datagram's
 * length, 0 when nothing was sent. */
static int peer_read(struct pair *p)
{
	int last = 0;

	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(p->peer), out, sizeof(out), MSG_DONTWAIT);

		if (n < 0)
			return last;
		last = (int)n;
	}
}

static void test_batch_errors(void **state)
{
	struct pair *p = *state;
	uint32_t pid = p->s->portid, seq = p->s->seq + 1;
	struct errs e = {0};
	struct nl_batch *b;

	assert_int_equal(nl_batch_new(p->s, err_cb, &e, &b), 0);
	for (int i = 0; i < 3; i++)
		mnl_nlmsg_put_extra_header(nl_batch_msg(b, RTM_NEWLINK, NLM_F_CREATE),
					   sizeof(struct ifinfomsg));
	/* A cancelled message leaves no gap in the seqs. */
	assert_non_null(nl_batch_msg(b, RTM_NEWLINK, 0));
	nl_batch_cancel(b);
	/* The kernel answers inside sendmsg: queue the acks first. One for
	 * another socket is not ours. */
	put_err(seq, pid, 0, NULL);
	put_err(seq + 1, pid, -EEXIST, "exists here");
	put_err(seq + 1, pid + 1, -EPERM, "not mine");
	put_err_offs(seq + 2, pid, -EINVAL, 20);
	flush(p);
	out_len = 0;
	assert_int_equal(nl_batch_commit(b), -EEXIST);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.idx[0], 1);
	assert_int_equal(e.err[0], -EEXIST);
	assert_string_equal(e.msg[0], "exists here");
	assert_int_equal(e.idx[1], 2);
	assert_int_equal(e.err[1], -EINVAL);
	assert_string_equal(e.msg[1], "bad attribute at offset 20");
	assert_int_equal(nl_batch_failed(b), 2);
	assert_int_equal(p->s->seq, seq + 2);
	/* Reused: a message the kernel never acked is reported, not waited for. */
	assert_non_null(nl_batch_msg(b, RTM_NEWLINK, 0));
	assert_int_equal(nl_batch_commit(b), -EPROTO);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.idx[2], 3);
	assert_string_equal(e.msg[2], "no ack");
	nl_batch_free(b);
	peer_read(p);
}

/* Writes a bare nfnetlink-style message into a raw slot. */
static uint32_t raw_msg(struct nl_batch *b, uint16_t type, uint16_t flags)
{
	uint32_t seq = 0;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl_batch_raw(b, &seq));

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	mnl_nlmsg_put_extra_header(nlh, 4);
	return seq;
}

static void test_batch_transaction(void **state)
{
	struct pair *p = *state;
	uint32_t pid = p->s->portid, seq = p->s->seq + 1;
	const struct nlmsghdr *nlh;
	struct errs e = {0};
	struct nl_batch *b;
	int len;

	peer_read(p);
	assert_int_equal(nl_batch_new_tx(p->s, err_cb, &e, &b), 0);
	assert_int_equal(raw_msg(b, NLMSG_MIN_TYPE, 0), seq);
	assert_int_equal(raw_msg(b, NLMSG_MIN_TYPE + 1, NLM_F_ACK), seq + 1);
	assert_int_equal(raw_msg(b, NLMSG_MIN_TYPE + 2, 0), seq + 2);
	/* A failed commit: one error, naming the first message; the ack the
	 * second asked for never comes and that is not a second error. */
	put_err(seq, pid, -ENOMEM, "commit refused");
	flush(p);
	assert_int_equal(nl_batch_commit(b), -ENOMEM);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.idx[0], 0);
	assert_string_equal(e.msg[0], "commit refused");
	/* It went out as one datagram, acks asked for as the builder chose. */
	len = peer_read(p);
	nlh = (const void *)out;
	for (uint32_t i = 0; i < 3; i++, nlh = mnl_nlmsg_next(nlh, &len)) {
		assert_true(nl_msg_ok(nlh, len));
		assert_int_equal(nlh->nlmsg_seq, seq + i);
		assert_int_equal(!!(nlh->nlmsg_flags & NLM_F_ACK), i == 1);
	}
	assert_int_equal(len, 0);
	nl_batch_free(b);
}

static void test_batch_transaction_full(void **state)
{
	struct pair *p = *state;
	struct errs e = {0};
	struct nl_batch *b;
	unsigned n = 0;
	uint32_t seq;

	peer_read(p);
	assert_int_equal(nl_batch_new_tx(p->s, err_cb, &e, &b), 0);
	while (nl_batch_msg(b, RTM_NEWLINK, 0) && n < 1000)
		n++;
	assert_int_equal(n, NL_BATCH_MSGS);
	/* Never split: nothing is sent at all. */
	assert_int_equal(nl_batch_commit(b), -EMSGSIZE);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msg[0], "batch too large");
	assert_int_equal(peer_read(p), 0);
	/* A raw builder that overran its room spoils the transaction. */
	((struct nlmsghdr *)nl_batch_raw(b, &seq))->nlmsg_len = NL_MSG_MAX + 8;
	assert_null(nl_batch_raw(b, &seq));
	assert_int_equal(nl_batch_commit(b), -EMSGSIZE);
	assert_int_equal(peer_read(p), 0);
	nl_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_interrupted),
		cmocka_unit_test(test_stale_and_extack),
		cmocka_unit_test(test_done_with_error),
		cmocka_unit_test(test_callback_error_drains),
		cmocka_unit_test(test_reply_then_ack),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_huge_length),
		cmocka_unit_test(test_dump_restarts),
		cmocka_unit_test(test_dump_restarts_bounded),
		cmocka_unit_test(test_batch_errors),
		cmocka_unit_test(test_batch_transaction),
		cmocka_unit_test(test_batch_transaction_full),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
