/* IPv6 in the VXLAN backend: VTEP MAC derivation, wire round trips of the
 * IPv6 kinds (neighbour, FDB towards an IPv6 VTEP, route, address, the
 * vxlan link's local6), then the backend itself against a real kernel in a
 * private network namespace: weft-v6.1 with its objects, a restart that
 * adopts them, pruning, and an IPv4 instance beside it that leaves the
 * IPv6 entries alone. */
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
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "backend/nl.h"
#include "backend/nl_addr.h"
#include "backend/nl_link.h"
#include "backend/nl_neigh.h"
#include "backend/nl_route.h"
#include "backend/vxlan.h"
#include "backend/vxlan_mac.h"

static char buf[NL_MSG_MAX] __attribute__((aligned(8)));

static struct nlmsghdr *hdr(uint16_t type)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	return nlh;
}

static struct in6_addr a6(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static void test_mac6(void **state)
{
	static const uint8_t want1[6] = {0x02, 0x75, 0xcd, 0x81, 0xf3, 0xa2};
	static const uint8_t want2[6] = {0x02, 0x08, 0xab, 0xce, 0x86, 0xf8};
	struct in6_addr ip = a6("2001:db8:18::1");
	uint8_t mac[6], again[6], other[6];

	(void)state;
	/* SHA-256 over the 16 address bytes and the VNI (big endian). */
	assert_int_equal(vxlan_vtep_mac6(&ip, 1, mac), 0);
	assert_memory_equal(mac, want1, 6);
	assert_int_equal(vxlan_vtep_mac6(&ip, 1, again), 0);
	assert_memory_equal(mac, again, 6);
	ip = a6("2001:db8:18::2");
	assert_int_equal(vxlan_vtep_mac6(&ip, 1, other), 0);
	assert_memory_equal(other, want2, 6);
	assert_int_equal(vxlan_vtep_mac6(&ip, 2, again), 0);
	assert_memory_not_equal(other, again, 6);
}

static void test_neigh6_wire(void **state)
{
	struct nl_neigh in = {
		.family = AF_INET6,
		.ifindex = 7,
		.state = NUD_PERMANENT,
		.has_dst = true,
		.dst_v6 = true,
		.dst6 = a6("fd00:10:244:2::"),
		.has_lladdr = true,
		.lladdr = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55},
	};
	struct nl_neigh out;
	struct nlmsghdr *nlh = hdr(RTM_NEWNEIGH);

	(void)state;
	assert_int_equal(nl_neigh_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_neigh_parse(nlh, &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));
	/* FDB entry towards an IPv6 VTEP */
	in.family = AF_BRIDGE;
	in.flags = NTF_SELF;
	in.dst6 = a6("2001:db8:18::2");
	nlh = hdr(RTM_NEWNEIGH);
	assert_int_equal(nl_neigh_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_neigh_parse(nlh, &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));
	assert_int_equal(nl_neigh_build(hdr(RTM_NEWNEIGH), 40, &in), -EMSGSIZE);
}

static void test_route6_wire(void **state)
{
	struct nl_route in = {
		.family = AF_INET6,
		.dst6 = a6("fd00:10:244:2::"),
		.dst_len = 64,
		.gw6 = a6("fd00:10:244:2::"),
		.oif = 9,
		.priority = 1024,
		.table = RT_TABLE_MAIN,
		.protocol = VXLAN_RTPROT,
		.scope = RT_SCOPE_UNIVERSE,
		.type = RTN_UNICAST,
		.flags = RTNH_F_ONLINK,
	};
	struct nl_route out;
	struct nlmsghdr *nlh = hdr(RTM_NEWROUTE);

	(void)state;
	assert_int_equal(nl_route_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_route_parse(nlh, &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));
	in.dst_len = 129;
	assert_int_equal(nl_route_build(hdr(RTM_NEWROUTE), sizeof(buf), &in), -EINVAL);
	in.dst_len = 64;
	assert_int_equal(nl_route_build(hdr(RTM_NEWROUTE), 40, &in), -EMSGSIZE);
}

static void test_addr6_link6_wire(void **state)
{
	struct nl_addr in =
			       {
				       .family = AF_INET6,
				       .ifindex = 4,
				       .addr6 = a6("fd00:10:244:1::"),
				       .prefixlen = 128,
				       .scope = RT_SCOPE_UNIVERSE,
				       .flags = IFA_F_NODAD,
			       },
		       out;
	struct nl_link l = {.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_VXLAN,
			    .vxlan = {.set = NL_VXLAN_ID | NL_VXLAN_LOCAL6,
				      .vni = 1,
				      .local6 = a6("2001:db8:18::1")}};
	struct nl_link lo;
	struct nlmsghdr *nlh = hdr(RTM_NEWADDR);

	(void)state;
	assert_int_equal(nl_addr_build(nlh, sizeof(buf), &in), 0);
	assert_int_equal(nl_addr_parse(nlh, &out), 0);
	assert_memory_equal(&out, &in, sizeof(in));
	in.prefixlen = 129;
	assert_int_equal(nl_addr_build(hdr(RTM_NEWADDR), sizeof(buf), &in), -EINVAL);

	memcpy(l.name, "weft-v6.1", sizeof("weft-v6.1"));
	memcpy(l.kind, "vxlan", sizeof("vxlan"));
	nlh = hdr(RTM_NEWLINK);
	assert_int_equal(nl_link_build(nlh, sizeof(buf), &l), 0);
	assert_int_equal(nl_link_parse(nlh, &lo), 0);
	assert_true(lo.vxlan.set & NL_VXLAN_LOCAL6);
	assert_false(lo.vxlan.set & NL_VXLAN_LOCAL);
	assert_memory_equal(&lo.vxlan.local6, &l.vxlan.local6, 16);
}

static void test_bad_conf6(void **state)
{
	struct vxlan_conf c = {.family = AF_INET6, .vni = 1, .port = 8472, .mtu = 1430};
	struct vxlan *v = NULL;

	(void)state;
	c.public_ip6 = a6("2001:db8:18::1");
	c.subnet6 = (struct ip6_net){a6("fd00:10:244:1::"), 64};
	c.mtu = 1279; /* below IPv6's minimum link MTU */
	assert_int_equal(vxlan_new(&c, &v), -EINVAL);
	c.mtu = 1430;
	c.subnet6.len = 48; /* host bits set */
	assert_int_equal(vxlan_new(&c, &v), -EINVAL);
	c.subnet6.len = 64;
	c.public_ip6 = a6("fe80::1"); /* not a usable VTEP */
	assert_int_equal(vxlan_new(&c, &v), -EINVAL);
	c.public_ip6 = a6("2001:db8:18::1");
	c.direct_routing = true;
	assert_int_equal(vxlan_new(&c, &v), -EINVAL);
	assert_null(v);
}

/* ---- kernel ---- */

static int sh(const char *cmd)
{
	return system(cmd);
}

static int netns_setup(void **state)
{
	(void)state;
	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	return sh("ip link set lo up && ip link add ul0 type veth peer name ul1 && "
		  "ip link set ul0 up && ip link set ul1 up && "
		  "ip addr add 2001:db8:18::1/64 dev ul0 nodad && "
		  "ip addr add 198.18.0.1/24 dev ul0");
}

static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out = calloc(1, 16384);
	size_t n = 0, r;

	assert_non_null(p);
	assert_non_null(out);
	while (n < 16383 && (r = fread(out + n, 1, 16383 - n, p)))
		n += r;
	pclose(p);
	return out;
}

static void assert_cmd_has(const char *cmd, const char *want, bool has)
{
	char *out = run(cmd);

	if ((strstr(out, want) != NULL) != has)
		fail_msg("'%s' %s '%s':\n%s", cmd, has ? "lacks" : "has", want, out);
	free(out);
}

static struct vxlan_conf conf6(void)
{
	struct vxlan_conf c = {.family = AF_INET6, .vni = 1, .port = 8472, .mtu = 1430};

	c.public_ip6 = a6("2001:db8:18::1");
	c.subnet6 = (struct ip6_net){a6("fd00:10:244:1::"), 64};
	assert_int_equal(vxlan_vtep_mac6(&c.public_ip6, 1, c.mac), 0);
	return c;
}

static struct vxlan_peer peer6(unsigned n)
{
	struct vxlan_peer p = {0};
	char s[64];

	snprintf(s, sizeof(s), "2001:db8:19::%u", n);
	p.public_ip6 = a6(s);
	snprintf(s, sizeof(s), "fd00:10:244:%u::", n);
	p.subnet6 = (struct ip6_net){a6(s), 64};
	assert_int_equal(vxlan_vtep_mac6(&p.public_ip6, 1, p.vtep_mac), 0);
	return p;
}

static void test_kernel6(void **state)
{
	struct vxlan_conf c = conf6();
	struct vxlan_peer p2 = peer6(2), p3 = peer6(3), own = peer6(1);
	struct vxlan_stats st;
	struct vxlan *v;

	(void)state;
	assert_int_equal(vxlan_new(&c, &v), 0);
	assert_int_equal(vxlan_family(v), AF_INET6);
	assert_string_equal(vxlan_ifname(v), "weft-v6.1");
	assert_int_equal(vxlan_ensure_device(v), 0);
	assert_cmd_has("ip -d link show weft-v6.1", "local 2001:db8:18::1", true);
	assert_cmd_has("ip -6 addr show dev weft-v6.1", "fd00:10:244:1::/128", true);
	/* IPv4 fields are not this instance's: refused, and an IPv4 delete is a no-op. */
	assert_int_equal(vxlan_peer_set(v, &(struct vxlan_peer){.subnet = {0x0af40200, 24},
								.public_ip = 0xc6120002}),
			 -EINVAL);
	own.public_ip6 = c.public_ip6; /* a stale lease of our own address */
	assert_int_equal(vxlan_peer_set(v, &own), 0);
	assert_int_equal(vxlan_peer_set(v, &p2), 0);
	assert_int_equal(vxlan_peer_set(v, &p3), 0);
	assert_int_equal(vxlan_flush(v), 0);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.peers, 2);
	assert_int_equal(st.routes, 2);
	assert_cmd_has("ip -6 route show proto 87",
		       "fd00:10:244:3::/64 via fd00:10:244:3:: dev weft-v6.1", true);
	assert_cmd_has("ip -6 neigh show dev weft-v6.1", "fd00:10:244:2:: lladdr", true);
	assert_cmd_has("bridge fdb show dev weft-v6.1", "dst 2001:db8:19::3 self permanent", true);
	/* Nothing to fix after a flush; a new instance (restart) adopts all. */
	assert_int_equal(vxlan_reconcile(v), 0);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.reconcile_fixes, 0);
	vxlan_free(v);
	assert_int_equal(vxlan_new(&c, &v), 0);
	assert_int_equal(vxlan_peer_set(v, &p2), 0);
	vxlan_peers_synced(v);
	assert_int_equal(vxlan_reconcile(v), 0);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.device_creations, 0);
	/* p3's three objects were pruned, nothing else touched. */
	assert_int_equal(st.reconcile_fixes, 3);
	assert_cmd_has("ip -6 route show proto 87", "fd00:10:244:3::", false);
	assert_cmd_has("bridge fdb show dev weft-v6.1", "2001:db8:19::3", false);
	assert_int_equal(vxlan_peer_del6(v, &p2.subnet6), 0);
	assert_int_equal(vxlan_flush(v), 0);
	assert_cmd_has("ip -6 neigh show dev weft-v6.1", "fd00:10:244:2::", false);
	vxlan_free(v);
}

/* An IPv4 instance beside the IPv6 one prunes only its own entries. */
static void test_kernel_both(void **state)
{
	struct vxlan_conf c6 = conf6();
	struct vxlan_conf c4 = {.vni = 1,
				.port = 8472,
				.mtu = 1450,
				.public_ip = 0xc6120001,
				.subnet = {0x0af40100, 24},
				.mac = {0x02, 0xaa, 0, 0, 0, 1}};
	struct vxlan_peer p4 = {.subnet = {0x0af40200, 24},
				.public_ip = 0xc6130002,
				.vtep_mac = {0x02, 0xbb, 0, 0, 0, 2}};
	struct vxlan_peer p6 = peer6(2);
	struct vxlan *v4, *v6;
	struct vxlan_stats st;

	(void)state;
	assert_int_equal(vxlan_new(&c4, &v4), 0);
	assert_int_equal(vxlan_new(&c6, &v6), 0);
	assert_int_equal(vxlan_ensure_device(v4), 0);
	assert_int_equal(vxlan_ensure_device(v6), 0);
	assert_int_equal(vxlan_peer_set(v4, &p4), 0);
	assert_int_equal(vxlan_peer_set(v6, &p6), 0);
	/* The IPv4 instance refuses an IPv6 peer. */
	assert_int_equal(vxlan_peer_set(v4, &p6), -EINVAL);
	assert_int_equal(vxlan_flush(v4), 0);
	assert_int_equal(vxlan_flush(v6), 0);
	vxlan_peers_synced(v4);
	vxlan_peers_synced(v6);
	assert_int_equal(vxlan_reconcile(v4), 0);
	assert_int_equal(vxlan_reconcile(v6), 0);
	vxlan_get_stats(v4, &st);
	assert_int_equal(st.reconcile_fixes, 0);
	vxlan_get_stats(v6, &st);
	assert_int_equal(st.reconcile_fixes, 0);
	assert_int_equal(st.routes, 1);
	assert_cmd_has("ip -4 route show proto 87", "10.244.2.0/24", true);
	assert_cmd_has("ip -6 route show proto 87", "fd00:10:244:2::/64", true);
	/* Events of one family do not make the other reconcile. */
	assert_int_equal(sh("ip -6 route replace fd00:10:244:9::/64 dev weft-v6.1 proto 87"), 0);
	assert_int_equal(vxlan_handle_events(v4), 0);
	assert_false(vxlan_reconcile_wanted(v4));
	assert_int_equal(vxlan_handle_events(v6), 0);
	assert_true(vxlan_reconcile_wanted(v6));
	assert_int_equal(vxlan_reconcile(v6), 0);
	assert_cmd_has("ip -6 route show proto 87", "fd00:10:244:9::", false);
	vxlan_free(v4);
	vxlan_free(v6);
}

int main(void)
{
	const struct CMUnitTest wire[] = {
		cmocka_unit_test(test_mac6),	    cmocka_unit_test(test_neigh6_wire),
		cmocka_unit_test(test_route6_wire), cmocka_unit_test(test_addr6_link6_wire),
		cmocka_unit_test(test_bad_conf6),
	};
	const struct CMUnitTest kernel[] = {
		cmocka_unit_test(test_kernel6),
		cmocka_unit_test(test_kernel_both),
	};
	int ret;

	ret = cmocka_run_group_tests_name("vxlan6 wire", wire, NULL, NULL);
	ret += cmocka_run_group_tests_name("vxlan6 kernel", kernel, netns_setup, NULL);
	return ret;
}
