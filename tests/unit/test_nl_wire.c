/* Wire format of the netlink object files, without a kernel: build a
 * message, parse it back, compare every field; and bounds on builds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "backend/nl_addr.h"
#include "backend/nl_link.h"
#include "backend/nl_route.h"

static char buf[NL_MSG_MAX] __attribute__((aligned(8)));

static struct nlmsghdr *hdr(uint16_t type)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	return nlh;
}

static void test_link_veth_roundtrip(void **state)
{
	struct nl_link in = {0}, out;
	struct nlmsghdr *nlh = hdr(RTM_NEWLINK);
	const uint8_t mac[6] = {0x02, 1, 2, 3, 4, 5}, pmac[6] = {0x02, 9, 8, 7, 6, 5};

	in.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_MTU | NL_LINK_MAC | NL_LINK_MASTER |
		 NL_LINK_ALIAS | NL_LINK_PEER | NL_LINK_UP;
	in.ifindex = 0;
	strcpy(in.name, "veth0123abcd");
	strcpy(in.kind, "veth");
	in.mtu = 1450;
	memcpy(in.mac, mac, 6);
	in.master = 7;
	strcpy(in.alias, "weft:ctr1:eth0");
	in.up = true;
	strcpy(in.peer.name, "eth0");
	in.peer.netns_fd = 42;
	in.peer.mtu = 1450;
	in.peer.has_mac = true;
	memcpy(in.peer.mac, pmac, 6);
	assert_int_equal(nl_link_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_link_parse(nlh, &out), 0);
	assert_int_equal(out.set, in.set);
	assert_int_equal(out.ifindex, 0);
	assert_string_equal(out.name, in.name);
	assert_string_equal(out.kind, "veth");
	assert_int_equal(out.mtu, 1450);
	assert_memory_equal(out.mac, mac, 6);
	assert_int_equal(out.master, 7);
	assert_string_equal(out.alias, in.alias);
	assert_true(out.up);
	assert_string_equal(out.peer.name, "eth0");
	assert_int_equal(out.peer.netns_fd, 42);
	assert_int_equal(out.peer.mtu, 1450);
	assert_true(out.peer.has_mac);
	assert_memory_equal(out.peer.mac, pmac, 6);
}

static void test_link_vxlan_roundtrip(void **state)
{
	struct nl_link in = {0}, out;
	struct nlmsghdr *nlh = hdr(RTM_NEWLINK);

	in.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_VXLAN | NL_LINK_MTU | NL_LINK_UP;
	strcpy(in.name, "weft.1");
	strcpy(in.kind, "vxlan");
	in.mtu = 1450;
	in.up = false;
	in.vxlan.set = NL_VXLAN_ID | NL_VXLAN_LOCAL | NL_VXLAN_PORT | NL_VXLAN_LEARNING |
		       NL_VXLAN_LINK | NL_VXLAN_TTL | NL_VXLAN_UDP_CSUM;
	in.vxlan.vni = 0xabcdef;
	in.vxlan.local = htonl(0xc6120003);
	in.vxlan.port = 8472;
	in.vxlan.learning = false;
	in.vxlan.link = 3;
	in.vxlan.ttl = 64;
	in.vxlan.udp_csum = true;
	assert_int_equal(nl_link_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_link_parse(nlh, &out), 0);
	assert_int_equal(out.set, in.set);
	assert_string_equal(out.name, "weft.1");
	assert_string_equal(out.kind, "vxlan");
	assert_false(out.up);
	assert_int_equal(out.vxlan.set, in.vxlan.set);
	assert_int_equal(out.vxlan.vni, 0xabcdef);
	assert_int_equal(out.vxlan.local, in.vxlan.local);
	assert_int_equal(out.vxlan.port, 8472);
	assert_false(out.vxlan.learning);
	assert_int_equal(out.vxlan.link, 3);
	assert_int_equal(out.vxlan.ttl, 64);
	assert_true(out.vxlan.udp_csum);
	/* Port is big endian on the wire. */
	{
		const uint8_t want[2] = {0x21, 0x18};

		assert_non_null(memmem(buf, nlh->nlmsg_len, want, 2));
	}
}

static void test_link_hairpin_netns_roundtrip(void **state)
{
	struct nl_link in = {0}, out;
	struct nlmsghdr *nlh = hdr(RTM_NEWLINK);

	in.set = NL_LINK_HAIRPIN | NL_LINK_NETNS_FD;
	in.ifindex = 12;
	in.hairpin = true;
	in.netns_fd = 5;
	assert_int_equal(nl_link_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_link_parse(nlh, &out), 0);
	assert_int_equal(out.set, in.set);
	assert_int_equal(out.ifindex, 12);
	assert_true(out.hairpin);
	assert_int_equal(out.netns_fd, 5);
}

static void test_link_build_bounds(void **state)
{
	struct nl_link in = {0};
	struct nlmsghdr *nlh;
	size_t len;

	in.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_PEER | NL_LINK_ALIAS;
	strcpy(in.name, "a");
	strcpy(in.kind, "veth");
	strcpy(in.alias, "weft:x:eth0");
	strcpy(in.peer.name, "b");
	in.peer.netns_fd = -1;
	nlh = hdr(RTM_NEWLINK);
	assert_int_equal(nl_link_build(nlh, sizeof(buf), &in), 0);
	len = nlh->nlmsg_len;
	/* Every shorter buffer must be refused, never overrun. */
	for (size_t n = sizeof(struct nlmsghdr); n < len; n++) {
		nlh = hdr(RTM_NEWLINK);
		assert_int_equal(nl_link_build(nlh, n, &in), -EMSGSIZE);
		assert_true(nlh->nlmsg_len <= n || nlh->nlmsg_len <= len);
	}
	/* Peer and vxlan data at once, or data without a kind, make no sense. */
	in.set |= NL_LINK_VXLAN;
	assert_int_equal(nl_link_build(hdr(RTM_NEWLINK), sizeof(buf), &in), -EINVAL);
	in.set = NL_LINK_PEER;
	assert_int_equal(nl_link_build(hdr(RTM_NEWLINK), sizeof(buf), &in), -EINVAL);
}

static void test_link_parse_short(void **state)
{
	struct nlmsghdr *nlh = hdr(RTM_NEWLINK);
	struct nl_link out;

	assert_int_equal(nl_link_parse(nlh, &out), -EBADMSG);
}

static void test_addr_roundtrip(void **state)
{
	struct nl_addr in = {0}, out;
	struct nlmsghdr *nlh = hdr(RTM_NEWADDR);

	in.family = AF_INET;
	in.ifindex = 4;
	in.addr = htonl(0x0af40301);
	in.prefixlen = 24;
	in.broadcast = htonl(0x0af403ff);
	in.scope = RT_SCOPE_UNIVERSE;
	in.flags = IFA_F_NOPREFIXROUTE;
	assert_int_equal(nl_addr_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_addr_parse(nlh, &out), 0);
	assert_int_equal(out.family, AF_INET);
	assert_int_equal(out.ifindex, 4);
	assert_int_equal(out.addr, in.addr);
	assert_int_equal(out.prefixlen, 24);
	assert_int_equal(out.broadcast, in.broadcast);
	assert_int_equal(out.scope, in.scope);
	assert_int_equal(out.flags, IFA_F_NOPREFIXROUTE);

	in.prefixlen = 33;
	assert_int_equal(nl_addr_build(hdr(RTM_NEWADDR), sizeof(buf), &in), -EINVAL);
	in.prefixlen = 24;
	in.family = AF_PACKET;
	assert_int_equal(nl_addr_build(hdr(RTM_NEWADDR), sizeof(buf), &in), -EINVAL);
	in.family = AF_INET;
	assert_int_equal(nl_addr_build(hdr(RTM_NEWADDR), 30, &in), -EMSGSIZE);
}

static void test_route_roundtrip(void **state)
{
	struct nl_route in = {0}, out;
	struct nlmsghdr *nlh = hdr(RTM_NEWROUTE);

	in.family = AF_INET;
	in.dst = htonl(0x0af40500);
	in.dst_len = 24;
	in.gw = htonl(0x0af40500);
	in.oif = 9;
	in.prefsrc = htonl(0x0af40300);
	in.priority = 100;
	in.table = 1000;
	in.protocol = 44;
	in.scope = RT_SCOPE_UNIVERSE;
	in.type = RTN_UNICAST;
	in.flags = RTNH_F_ONLINK;
	assert_int_equal(nl_route_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_route_parse(nlh, &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));

	/* Default route, main table, nothing optional. */
	memset(&in, 0, sizeof(in));
	in.family = AF_INET;
	in.table = RT_TABLE_MAIN;
	in.type = RTN_UNICAST;
	in.gw = htonl(0x0a000001);
	nlh = hdr(RTM_NEWROUTE);
	assert_int_equal(nl_route_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_route_parse(nlh, &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));

	in.dst_len = 40;
	assert_int_equal(nl_route_build(hdr(RTM_NEWROUTE), sizeof(buf), &in), -EINVAL);
	in.dst_len = 0;
	assert_int_equal(nl_route_build(hdr(RTM_NEWROUTE), 20, &in), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_veth_roundtrip),
		cmocka_unit_test(test_link_vxlan_roundtrip),
		cmocka_unit_test(test_link_hairpin_netns_roundtrip),
		cmocka_unit_test(test_link_build_bounds),
		cmocka_unit_test(test_link_parse_short),
		cmocka_unit_test(test_addr_roundtrip),
		cmocka_unit_test(test_route_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
