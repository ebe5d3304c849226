/* The netlink layer against the real kernel, inside a network namespace of
 * the test's own (unshared at start; nothing touches the host's). */
/* labels: root */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "backend/nl.h"
#include "backend/nl_addr.h"
#include "backend/nl_link.h"
#include "backend/nl_route.h"

static int other_ns = -1; /* a second namespace for peers */
static bool have_ns;

static int setup(void **state)
{
	int self;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return 0;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || unshare(CLONE_NEWNET) < 0)
		return -1;
	other_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (other_ns < 0 || setns(self, CLONE_NEWNET) < 0)
		return -1;
	close(self);
	have_ns = true;
	return 0;
}

static int teardown(void **state)
{
	if (other_ns >= 0)
		close(other_ns);
	return 0;
}

#define NEED_NS()               \
	do {                    \
		if (!have_ns)   \
			skip(); \
	} while (0)

static struct nl_sock *open_sock(void)
{
	struct nl_sock *s = NULL;

	assert_int_equal(nl_open(&s), 0);
	return s;
}

static int make_bridge(struct nl_sock *s, const char *name)
{
	struct nl_link br = {.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_UP, .up = true};
	struct nl_link got;

	strcpy(br.name, name);
	strcpy(br.kind, "bridge");
	assert_int_equal(nl_link_create(s, &br, NLM_F_EXCL), 0);
	assert_int_equal(nl_link_get_name(s, name, &got), 0);
	return got.ifindex;
}

static void test_veth_bridge_peer_in_netns(void **state)
{
	struct nl_link v = {0}, got, peer;
	struct nl_sock *s, *o;
	int br;

	NEED_NS();
	s = open_sock();
	br = make_bridge(s, "tbr0");
	v.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_PEER | NL_LINK_MTU | NL_LINK_MASTER |
		NL_LINK_UP | NL_LINK_MAC;
	strcpy(v.name, "tveth0");
	strcpy(v.kind, "veth");
	v.mtu = 1400;
	v.master = br;
	v.up = true;
	memcpy(v.mac, (uint8_t[]){0x02, 0xaa, 0, 0, 0, 1}, 6);
	strcpy(v.peer.name, "eth0");
	v.peer.netns_fd = other_ns;
	v.peer.mtu = 1400;
	assert_int_equal(nl_link_create(s, &v, NLM_F_EXCL), 0);
	/* Creating it again is refused, and said so. */
	assert_int_equal(nl_link_create(s, &v, NLM_F_EXCL), -EEXIST);

	/* The kernel ignores an alias at creation, and hairpin needs the
	 * port to exist: both are one change request. */
	assert_int_equal(nl_link_get_name(s, "tveth0", &got), 0);
	assert_string_equal(got.alias, "");
	memset(&got, 0, sizeof(got));
	got.set = NL_LINK_HAIRPIN | NL_LINK_NAME | NL_LINK_ALIAS;
	strcpy(got.name, "tveth0");
	strcpy(got.alias, "weft:abc:eth0");
	got.hairpin = true;
	assert_int_equal(nl_link_change(s, &got), 0);

	assert_int_equal(nl_link_get_name(s, "tveth0", &got), 0);
	assert_string_equal(got.kind, "veth");
	assert_int_equal(got.mtu, 1400);
	assert_int_equal(got.master, br);
	assert_string_equal(got.alias, "weft:abc:eth0");
	assert_true(got.up);
	assert_true(got.set & NL_LINK_HAIRPIN);
	assert_true(got.hairpin);
	assert_memory_equal(got.mac, v.mac, 6);
	assert_int_equal(nl_link_get_index(s, got.ifindex, &peer), 0);
	assert_string_equal(peer.name, "tveth0");

	/* The peer lives in the other namespace only. */
	assert_int_equal(nl_link_get_name(s, "eth0", &peer), -ENODEV);
	assert_int_equal(nl_open_netns(&o, other_ns), 0);
	assert_int_equal(nl_link_get_name(o, "eth0", &peer), 0);
	assert_int_equal(peer.mtu, 1400);
	assert_false(peer.up);

	/* Deleting one end removes both; a second delete says ENODEV. */
	assert_int_equal(nl_link_del_name(s, "tveth0"), 0);
	assert_int_equal(nl_link_del_name(s, "tveth0"), -ENODEV);
	assert_int_equal(nl_link_get_name(o, "eth0", &peer), -ENODEV);
	assert_int_equal(nl_link_del_index(s, br), 0);
	nl_close(o);
	nl_close(s);
}

static void test_vxlan(void **state)
{
	struct nl_link v = {0}, got;
	struct nl_sock *s;

	NEED_NS();
	s = open_sock();
	v.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_VXLAN | NL_LINK_MTU;
	strcpy(v.name, "weft.7");
	strcpy(v.kind, "vxlan");
	v.mtu = 1450;
	v.vxlan.set = NL_VXLAN_ID | NL_VXLAN_LOCAL | NL_VXLAN_PORT | NL_VXLAN_LEARNING;
	v.vxlan.vni = 7;
	v.vxlan.local = htonl(0xc6120005);
	v.vxlan.port = 8472;
	v.vxlan.learning = false;
	assert_int_equal(nl_link_create(s, &v, NLM_F_EXCL), 0);
	assert_int_equal(nl_link_get_name(s, "weft.7", &got), 0);
	assert_string_equal(got.kind, "vxlan");
	assert_int_equal(got.mtu, 1450);
	assert_true(got.set & NL_LINK_VXLAN);
	assert_int_equal(got.vxlan.vni, 7);
	assert_int_equal(got.vxlan.local, v.vxlan.local);
	assert_int_equal(got.vxlan.port, 8472);
	assert_true(got.vxlan.set & NL_VXLAN_LEARNING);
	assert_false(got.vxlan.learning);
	assert_int_equal(nl_link_del_index(s, got.ifindex), 0);
	nl_close(s);
}

static int count_addr(const struct nl_addr *a, void *data)
{
	(*(int *)data)++;
	return 0;
}

static int count_link(const struct nl_link *l, void *data)
{
	(*(int *)data)++;
	return 0;
}

static void test_addr_route(void **state)
{
	struct nl_addr a = {.family = AF_INET};
	struct nl_route r = {.family = AF_INET};
	struct nl_sock *s;
	int br, n = 0;

	NEED_NS();
	s = open_sock();
	br = make_bridge(s, "tbr1");
	a.ifindex = br;
	a.addr = htonl(0x0a0a0001);
	a.prefixlen = 24;
	assert_int_equal(nl_addr_add(s, &a, NLM_F_EXCL), 0);
	assert_int_equal(nl_addr_add(s, &a, NLM_F_EXCL), -EEXIST);
	assert_int_equal(nl_addr_dump(s, br, count_addr, NULL, &n), 0);
	assert_int_equal(n, 1);

	r.dst = htonl(0x0a140000);
	r.dst_len = 16;
	r.gw = htonl(0x0a0a0002);
	r.protocol = 77;
	assert_int_equal(nl_route_add(s, &r, NLM_F_EXCL), 0);
	assert_int_equal(nl_route_add(s, &r, NLM_F_EXCL), -EEXIST);
	{
		struct found {
			int n;
			uint32_t gw;
			int oif;
		} f = {0};
		int cb(const struct nl_route *x, void *d)
		{
			struct found *ff = d;

			if (x->protocol == 77) {
				ff->n++;
				ff->gw = x->gw;
				ff->oif = x->oif;
			}
			return 0;
		}
		assert_int_equal(nl_route_dump(s, RT_TABLE_MAIN, cb, NULL, &f), 0);
		assert_int_equal(f.n, 1);
		assert_int_equal(f.gw, r.gw);
		assert_int_equal(f.oif, br);
	}
	assert_int_equal(nl_route_del(s, &r), 0);
	assert_int_equal(nl_route_del(s, &r), -ESRCH);
	/* An unreachable gateway: error plus the kernel's explanation. */
	r.gw = htonl(0x0b000001);
	assert_int_equal(nl_route_add(s, &r, NLM_F_EXCL), -ENETUNREACH);
	assert_true(strlen(nl_errmsg(s)) > 0);
	assert_int_equal(nl_addr_del(s, &a), 0);
	assert_int_equal(nl_addr_del(s, &a), -EADDRNOTAVAIL);
	n = 0;
	assert_int_equal(nl_addr_dump(s, br, count_addr, NULL, &n), 0);
	assert_int_equal(n, 0);
	n = 0;
	assert_int_equal(nl_link_dump(s, count_link, NULL, &n), 0);
	assert_int_equal(n, 2); /* lo and tbr1 */
	assert_int_equal(nl_link_del_index(s, br), 0);
	nl_close(s);
}

struct batch_errs {
	unsigned idx[8];
	int err[8];
	unsigned n;
};

static void batch_err(unsigned idx, int err, const char *msg, void *data)
{
	struct batch_errs *e = data;

	if (e->n < 8) {
		e->idx[e->n] = idx;
		e->err[e->n] = err;
	}
	e->n++;
}

static void test_batch(void **state)
{
	struct batch_errs e = {0};
	struct nl_batch *b;
	struct nl_sock *s;
	int br, n = 0;
	unsigned i;

	NEED_NS();
	s = open_sock();
	br = make_bridge(s, "tbr2");
	assert_int_equal(nl_batch_new(s, batch_err, &e, &b), 0);
	/* 600 addresses cross several flushes; #100 repeats #99 and #450
	 * names a link that does not exist. #7 is cancelled. */
	for (i = 0; i < 600; i++) {
		struct nl_addr a = {.family = AF_INET, .ifindex = br, .prefixlen = 32};
		struct nlmsghdr *nlh = nl_batch_msg(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);

		assert_non_null(nlh);
		a.addr = htonl(0x0a200000 + (i == 100 ? 99 : i));
		if (i == 450)
			a.ifindex = 9999;
		assert_int_equal(nl_addr_build(nlh, NL_MSG_MAX, &a), 0);
		if (i == 7) {
			nl_batch_cancel(b);
		}
	}
	assert_int_equal(nl_batch_commit(b), -EEXIST);
	assert_int_equal(e.n, 2);
	assert_int_equal(nl_batch_failed(b), 2);
	/* Indices count only messages that were kept. */
	assert_int_equal(e.idx[0], 99);
	assert_int_equal(e.err[0], -EEXIST);
	assert_int_equal(e.idx[1], 449);
	assert_int_equal(e.err[1], -ENODEV);
	assert_int_equal(nl_addr_dump(s, br, count_addr, NULL, &n), 0);
	assert_int_equal(n, 600 - 3);
	/* An empty commit is fine. */
	assert_int_equal(nl_batch_commit(b), 0);
	nl_batch_free(b);
	nl_batch_free(NULL);
	assert_int_equal(nl_link_del_index(s, br), 0);
	nl_close(s);
}

static int count_event(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWLINK)
		(*(int *)data)++;
	return 0;
}

static void test_events(void **state)
{
	struct nl_sock *ev, *s;
	int small = 1024, n = 0, i;
	int br;

	NEED_NS();
	s = open_sock();
	ev = open_sock();
	assert_int_equal(nl_subscribe(ev, RTNLGRP_LINK), 0);
	assert_int_equal(nl_event_read(ev, count_event, &n), 0);
	assert_int_equal(n, 0);
	br = make_bridge(s, "tbr3");
	assert_int_equal(nl_event_read(ev, count_event, &n), 0);
	assert_true(n >= 1);

	/* Overflow: a tiny queue and a burst of changes. */
	assert_int_equal(setsockopt(nl_fd(ev), SOL_SOCKET, SO_RCVBUFFORCE, &small, sizeof(small)),
			 0);
	for (i = 0; i < 50; i++) {
		struct nl_link l = {.ifindex = br, .set = NL_LINK_MTU, .mtu = 1000 + i};

		assert_int_equal(nl_link_change(s, &l), 0);
	}
	assert_int_equal(nl_event_read(ev, count_event, &n), -ENOBUFS);
	assert_int_equal(nl_link_del_index(s, br), 0);
	nl_close(ev);
	nl_close(s);
}

static void test_open_netns_path_errors(void **state)
{
	struct nl_sock *s = NULL;

	assert_int_equal(nl_open_netns_path(&s, "/nonexistent/netns"), -ENOENT);
	/* A file that is not a namespace. */
	NEED_NS();
	assert_int_equal(nl_open_netns_path(&s, "/proc/self/stat"), -EINVAL);
	nl_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_veth_bridge_peer_in_netns),
		cmocka_unit_test(test_vxlan),
		cmocka_unit_test(test_addr_route),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_open_netns_path_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
