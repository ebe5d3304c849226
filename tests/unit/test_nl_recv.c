/* The receive loop of the netlink wrapper fed with crafted replies: a
 * second netlink socket (NETLINK_USERSOCK) plays the kernel, so the cases
 * the kernel rarely produces on demand are covered: interrupted dumps,
 * stale replies, extack text, errors in NLMSG_DONE, callback errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../backend/nl.c"

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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
