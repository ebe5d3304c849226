/* Neighbour and FDB messages: build/parse round trips without a kernel, then
 * set/replace/dump/delete against a real VXLAN device in a private netns. */
/* labels: root */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "backend/nl.h"
#include "backend/nl_link.h"
#include "backend/nl_neigh.h"

static char buf[NL_MSG_MAX] __attribute__((aligned(8)));

static struct nlmsghdr *hdr(uint16_t type)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	return nlh;
}

static void assert_neigh_equal(const struct nl_neigh *a, const struct nl_neigh *b)
{
	assert_int_equal(a->family, b->family);
	assert_int_equal(a->ifindex, b->ifindex);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->has_dst, b->has_dst);
	assert_int_equal(a->dst, b->dst);
	assert_int_equal(a->has_lladdr, b->has_lladdr);
	assert_memory_equal(a->lladdr, b->lladdr, 6);
}

static void test_roundtrip_neigh(void **state)
{
	struct nl_neigh in = {
		.family = AF_INET,
		.ifindex = 7,
		.state = NUD_PERMANENT,
		.has_dst = true,
		.dst = htonl(0x0af40200),
		.has_lladdr = true,
		.lladdr = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55},
	};
	struct nl_neigh out;
	struct nlmsghdr *nlh = hdr(RTM_NEWNEIGH);
	const struct ndmsg *ndm;

	assert_int_equal(nl_neigh_build(nlh, sizeof(buf), &in), 0);
	ndm = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ndm->ndm_type, RTN_UNICAST);
	assert_int_equal(nl_neigh_parse(nlh, &out), 0);
	assert_neigh_equal(&in, &out);
	assert_int_equal(out.master, 0);
	assert_int_equal(out.vni, 0);
}

static void test_roundtrip_fdb(void **state)
{
	struct nl_neigh in = {
		.family = AF_BRIDGE,
		.ifindex = 12,
		.state = NUD_PERMANENT,
		.flags = NTF_SELF,
		.has_dst = true,
		.dst = htonl(0xc6120003),
		.has_lladdr = true,
		.lladdr = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee},
	};
	struct nl_neigh out;
	struct nlmsghdr *nlh = hdr(RTM_DELNEIGH);

	assert_int_equal(nl_neigh_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_neigh_parse(nlh, &out), 0);
	assert_neigh_equal(&in, &out);

	/* Without optional fields nothing is invented. */
	in.has_dst = false;
	in.dst = 0;
	in.has_lladdr = false;
	memset(in.lladdr, 0, 6);
	nlh = hdr(RTM_NEWNEIGH);
	assert_int_equal(nl_neigh_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_neigh_parse(nlh, &out), 0);
	assert_neigh_equal(&in, &out);
}

static void test_parse_extra_attrs(void **state)
{
	struct nl_neigh in = {.family = AF_BRIDGE, .ifindex = 3, .flags = NTF_SELF};
	struct nlmsghdr *nlh = hdr(RTM_NEWNEIGH);
	struct nl_neigh out;

	assert_int_equal(nl_neigh_build(nlh, sizeof(buf), &in), 0);
	mnl_attr_put_u32(nlh, NDA_MASTER, 9);
	mnl_attr_put_u32(nlh, NDA_VNI, 42);
	mnl_attr_put_u16(nlh, NDA_PORT, htons(4789)); /* unknown to us: ignored */
	assert_int_equal(nl_neigh_parse(nlh, &out), 0);
	assert_int_equal(out.master, 9);
	assert_int_equal(out.vni, 42);
}

static void test_build_errors(void **state)
{
	struct nl_neigh n = {.family = AF_PACKET, .ifindex = 1};
	struct nlmsghdr *nlh = hdr(RTM_NEWNEIGH);

	assert_int_equal(nl_neigh_build(nlh, sizeof(buf), &n), -EINVAL);
	n.family = AF_INET;
	n.ifindex = 0;
	assert_int_equal(nl_neigh_build(nlh, sizeof(buf), &n), -EINVAL);
	n.ifindex = 1;
	n.has_dst = true;
	n.has_lladdr = true;
	/* header fits, attributes do not */
	assert_int_equal(nl_neigh_build(hdr(RTM_NEWNEIGH), 32, &n), -EMSGSIZE);
	assert_int_equal(nl_neigh_build(hdr(RTM_NEWNEIGH), 20, &n), -EMSGSIZE);
}

static void test_parse_errors(void **state)
{
	struct nl_neigh n = {.family = AF_INET, .ifindex = 1}, out;
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	/* wrong message type */
	nlh = hdr(RTM_NEWLINK);
	assert_int_equal(nl_neigh_build(nlh, sizeof(buf), &n), 0);
	assert_int_equal(nl_neigh_parse(nlh, &out), -EBADMSG);
	/* truncated header */
	nlh = hdr(RTM_NEWNEIGH);
	assert_int_equal(nl_neigh_parse(nlh, &out), -EBADMSG);
	/* a family not modelled */
	nlh = hdr(RTM_NEWNEIGH);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_PACKET;
	assert_int_equal(nl_neigh_parse(nlh, &out), -EAFNOSUPPORT);
	/* an address length that does not fit the family */
	nlh = hdr(RTM_NEWNEIGH);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	mnl_attr_put(nlh, NDA_DST, 16, "0123456789abcdef");
	assert_int_equal(nl_neigh_parse(nlh, &out), -EAFNOSUPPORT);
	nlh = hdr(RTM_NEWNEIGH);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET6;
	mnl_attr_put(nlh, NDA_DST, 4, "0123");
	assert_int_equal(nl_neigh_parse(nlh, &out), -EAFNOSUPPORT);
	/* lladdr of another length */
	nlh = hdr(RTM_NEWNEIGH);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	mnl_attr_put(nlh, NDA_LLADDR, 4, "abcd");
	assert_int_equal(nl_neigh_parse(nlh, &out), -EAFNOSUPPORT);
	/* master of the wrong size */
	nlh = hdr(RTM_NEWNEIGH);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_BRIDGE;
	mnl_attr_put_u16(nlh, NDA_MASTER, 1);
	assert_int_equal(nl_neigh_parse(nlh, &out), -EBADMSG);
	/* attribute running past the message */
	nlh = hdr(RTM_NEWNEIGH);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	mnl_attr_put_u32(nlh, NDA_DST, 1);
	((struct nlattr *)((char *)nlh + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*ndm))))->nla_len = 200;
	assert_int_equal(nl_neigh_parse(nlh, &out), -EBADMSG);
}

/* Kernel part. */
struct kstate {
	struct nl_sock *s;
	int vx;	   /* vxlan device */
	int other; /* a second vxlan device: its entries must not show up */
};

static int make_vxlan(struct nl_sock *s, const char *name, uint32_t vni, int *ifindex)
{
	struct nl_link l = {
		.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_VXLAN | NL_LINK_MTU,
		.mtu = 1450,
		.vxlan = {.set = NL_VXLAN_ID | NL_VXLAN_PORT | NL_VXLAN_LEARNING,
			  .vni = vni,
			  .port = (uint16_t)(8472 + vni)},
	};
	struct nl_link got;
	int ret;

	strcpy(l.name, name);
	strcpy(l.kind, "vxlan");
	ret = nl_link_create(s, &l, NLM_F_EXCL);
	if (ret)
		return ret;
	ret = nl_link_get_name(s, name, &got);
	if (ret)
		return ret;
	*ifindex = got.ifindex;
	memset(&l, 0, sizeof(l));
	l.set = NL_LINK_UP;
	l.up = true;
	l.ifindex = got.ifindex;
	return nl_link_change(s, &l);
}

static int kernel_setup(void **state)
{
	struct kstate *k = calloc(1, sizeof(*k));

	if (!k || unshare(CLONE_NEWNET) < 0)
		return -1;
	if (nl_open(&k->s))
		return -1;
	if (make_vxlan(k->s, "vx0", 10, &k->vx) || make_vxlan(k->s, "vx1", 11, &k->other))
		return -1;
	*state = k;
	return 0;
}

static int kernel_teardown(void **state)
{
	struct kstate *k = *state;

	nl_close(k->s);
	free(k);
	return 0;
}

#define MAXN 16
struct collect {
	unsigned n;
	struct nl_neigh e[MAXN];
};

static int collect_cb(const struct nl_neigh *n, void *data)
{
	struct collect *c = data;

	if (c->n < MAXN)
		c->e[c->n] = *n;
	c->n++;
	return 0;
}

static int stop_cb(const struct nl_neigh *n, void *data)
{
	return -ECANCELED;
}

static void test_kernel_neigh(void **state)
{
	struct kstate *k = *state;
	struct nl_neigh n = {
		.family = AF_INET,
		.ifindex = k->vx,
		.state = NUD_PERMANENT,
		.has_dst = true,
		.dst = htonl(0x0af40200),
		.has_lladdr = true,
		.lladdr = {0x02, 1, 2, 3, 4, 5},
	};
	struct nl_neigh o = n;
	struct collect c = {0};

	o.ifindex = k->other;
	o.dst = htonl(0x0af40900);
	assert_int_equal(nl_neigh_set(k->s, &n), 0);
	assert_int_equal(nl_neigh_set(k->s, &o), 0);
	/* Setting the same entry again is not an error. */
	assert_int_equal(nl_neigh_set(k->s, &n), 0);
	assert_int_equal(nl_neigh_dump(k->s, AF_INET, k->vx, collect_cb, NULL, &c), 0);
	assert_int_equal(c.n, 1);
	assert_neigh_equal(&c.e[0], &n);

	/* Replace: a new MAC takes the place of the old one. */
	n.lladdr[5] = 0x99;
	assert_int_equal(nl_neigh_set(k->s, &n), 0);
	c.n = 0;
	assert_int_equal(nl_neigh_dump(k->s, AF_INET, k->vx, collect_cb, NULL, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.e[0].lladdr[5], 0x99);

	/* All devices. */
	c.n = 0;
	assert_int_equal(nl_neigh_dump(k->s, AF_INET, 0, collect_cb, NULL, &c), 0);
	assert_int_equal(c.n, 2);

	/* A callback error stops the dump and is returned. */
	assert_int_equal(nl_neigh_dump(k->s, AF_INET, 0, stop_cb, NULL, NULL), -ECANCELED);
	/* and the socket is still in step */
	c.n = 0;
	assert_int_equal(nl_neigh_dump(k->s, AF_INET, k->vx, collect_cb, NULL, &c), 0);
	assert_int_equal(c.n, 1);

	assert_int_equal(nl_neigh_del(k->s, &n), 0);
	assert_int_equal(nl_neigh_del(k->s, &n), 0); /* already gone: fine */
	assert_int_equal(nl_neigh_del(k->s, &o), 0);
	c.n = 0;
	assert_int_equal(nl_neigh_dump(k->s, AF_INET, 0, collect_cb, NULL, &c), 0);
	assert_int_equal(c.n, 0);
}

static void test_kernel_fdb(void **state)
{
	struct kstate *k = *state;
	struct nl_neigh f = {
		.family = AF_BRIDGE,
		.ifindex = k->vx,
		.state = NUD_PERMANENT,
		.flags = NTF_SELF,
		.has_dst = true,
		.dst = htonl(0xc6120002),
		.has_lladdr = true,
		.lladdr = {0x02, 9, 8, 7, 6, 5},
	};
	struct nl_neigh g = f;
	struct collect c = {0};

	g.ifindex = k->other;
	assert_int_equal(nl_neigh_set(k->s, &f), 0);
	assert_int_equal(nl_neigh_set(k->s, &g), 0);
	assert_int_equal(nl_neigh_dump(k->s, AF_BRIDGE, k->vx, collect_cb, NULL, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.e[0].ifindex, k->vx);
	assert_true(c.e[0].flags & NTF_SELF);
	assert_int_equal(c.e[0].state, NUD_PERMANENT);
	assert_true(c.e[0].has_dst);
	assert_int_equal(c.e[0].dst, f.dst);
	assert_memory_equal(c.e[0].lladdr, f.lladdr, 6);

	/* Replace moves the MAC to another VTEP. */
	f.dst = htonl(0xc6120004);
	assert_int_equal(nl_neigh_set(k->s, &f), 0);
	c.n = 0;
	assert_int_equal(nl_neigh_dump(k->s, AF_BRIDGE, k->vx, collect_cb, NULL, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.e[0].dst, f.dst);

	assert_int_equal(nl_neigh_del(k->s, &f), 0);
	assert_int_equal(nl_neigh_del(k->s, &f), 0);
	c.n = 0;
	assert_int_equal(nl_neigh_dump(k->s, AF_BRIDGE, k->vx, collect_cb, NULL, &c), 0);
	assert_int_equal(c.n, 0);
	/* the other device kept its entry */
	c.n = 0;
	assert_int_equal(nl_neigh_dump(k->s, AF_BRIDGE, k->other, collect_cb, NULL, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(nl_neigh_del(k->s, &g), 0);
}

static void test_kernel_errors(void **state)
{
	struct kstate *k = *state;
	struct nl_neigh n = {
		.family = AF_INET,
		.ifindex = 999,
		.state = NUD_PERMANENT,
		.has_dst = true,
		.dst = htonl(0x0af40200),
		.has_lladdr = true,
	};

	assert_int_equal(nl_neigh_set(k->s, &n), -ENODEV);
	/* an FDB entry needs a MAC */
	n.family = AF_BRIDGE;
	n.flags = NTF_SELF;
	n.ifindex = k->vx;
	n.has_lladdr = false;
	assert_int_equal(nl_neigh_set(k->s, &n), -EINVAL);
	assert_int_equal(nl_neigh_dump(k->s, AF_PACKET, 0, collect_cb, NULL, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest wire[] = {
		cmocka_unit_test(test_roundtrip_neigh),	  cmocka_unit_test(test_roundtrip_fdb),
		cmocka_unit_test(test_parse_extra_attrs), cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_parse_errors),
	};
	const struct CMUnitTest kernel[] = {
		cmocka_unit_test(test_kernel_neigh),
		cmocka_unit_test(test_kernel_fdb),
		cmocka_unit_test(test_kernel_errors),
	};
	int ret;

	ret = cmocka_run_group_tests_name("neigh wire format", wire, NULL, NULL);
	ret += cmocka_run_group_tests_name("neigh kernel", kernel, kernel_setup, kernel_teardown);
	return ret;
}
