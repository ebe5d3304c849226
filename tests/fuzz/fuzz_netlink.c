/* rtnetlink messages as weftd and the plugin receive them: dump replies,
 * events and acks. The input is a receive buffer holding any number of
 * messages; each goes to every object parser and, for errors, to the ack
 * decoder. What parses must build back into a message that parses to the
 * same object, since reconcile compares built and dumped state. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "tests/fuzz/fuzz.h"

/* For the ack decoder (a static function); its public functions then come
 * from this file instead of the library. */
#include "backend/nl.c"

#include "backend/nl_addr.h"
#include "backend/nl_link.h"
#include "backend/nl_neigh.h"
#include "backend/nl_route.h"

static char out[NL_MSG_MAX] __attribute__((aligned(8)));

static struct nlmsghdr *hdr(uint16_t type)
{
	struct nlmsghdr *nlh;

	memset(out, 0, sizeof(struct nlmsghdr));
	nlh = mnl_nlmsg_put_header(out);
	nlh->nlmsg_type = type;
	return nlh;
}

static void check_link(const struct nlmsghdr *nlh)
{
	struct nl_link a, b;

	if (nl_link_parse(nlh, &a))
		return;
	FUZZ_CHECK(strnlen(a.name, sizeof(a.name)) < sizeof(a.name));
	FUZZ_CHECK(strnlen(a.kind, sizeof(a.kind)) < sizeof(a.kind));
	FUZZ_CHECK(strnlen(a.alias, sizeof(a.alias)) < sizeof(a.alias));
	FUZZ_CHECK(strnlen(a.peer.name, sizeof(a.peer.name)) < sizeof(a.peer.name));
	FUZZ_CHECK(!(a.set & NL_LINK_PEER) || !(a.set & NL_LINK_VXLAN));
	/* A peer's namespace fd is only built when it is one (>= 0). */
	if (a.peer.netns_fd < 0)
		a.peer.netns_fd = -1;
	FUZZ_CHECK(nl_link_build(hdr(RTM_NEWLINK), sizeof(out), &a) == 0);
	FUZZ_CHECK(nl_link_parse((struct nlmsghdr *)out, &b) == 0);
	FUZZ_CHECK(a.set == b.set && a.ifindex == b.ifindex);
	FUZZ_CHECK(strcmp(a.name, b.name) == 0 && strcmp(a.kind, b.kind) == 0);
	FUZZ_CHECK(strcmp(a.alias, b.alias) == 0);
	FUZZ_CHECK(!(a.set & NL_LINK_MTU) || a.mtu == b.mtu);
	FUZZ_CHECK(!(a.set & NL_LINK_MAC) || memcmp(a.mac, b.mac, 6) == 0);
	FUZZ_CHECK(!(a.set & NL_LINK_MASTER) || a.master == b.master);
	FUZZ_CHECK(!(a.set & NL_LINK_NETNS_FD) || a.netns_fd == b.netns_fd);
	FUZZ_CHECK(!(a.set & NL_LINK_UP) || a.up == b.up);
	FUZZ_CHECK(!(a.set & NL_LINK_HAIRPIN) || a.hairpin == b.hairpin);
	if (a.set & NL_LINK_PEER) {
		FUZZ_CHECK(strcmp(a.peer.name, b.peer.name) == 0);
		FUZZ_CHECK(a.peer.netns_fd == b.peer.netns_fd && a.peer.mtu == b.peer.mtu);
		FUZZ_CHECK(a.peer.has_mac == b.peer.has_mac);
		FUZZ_CHECK(!a.peer.has_mac || memcmp(a.peer.mac, b.peer.mac, 6) == 0);
	}
	if (a.set & NL_LINK_VXLAN) {
		const struct nl_vxlan *x = &a.vxlan, *y = &b.vxlan;

		FUZZ_CHECK(x->set == y->set);
		FUZZ_CHECK(!(x->set & NL_VXLAN_ID) || x->vni == y->vni);
		FUZZ_CHECK(!(x->set & NL_VXLAN_LOCAL) || x->local == y->local);
		FUZZ_CHECK(!(x->set & NL_VXLAN_LOCAL6) || !memcmp(&x->local6, &y->local6, 16));
		FUZZ_CHECK(!(x->set & NL_VXLAN_PORT) || x->port == y->port);
		FUZZ_CHECK(!(x->set & NL_VXLAN_LEARNING) || x->learning == y->learning);
		FUZZ_CHECK(!(x->set & NL_VXLAN_LINK) || x->link == y->link);
		FUZZ_CHECK(!(x->set & NL_VXLAN_TTL) || x->ttl == y->ttl);
		FUZZ_CHECK(!(x->set & NL_VXLAN_UDP_CSUM) || x->udp_csum == y->udp_csum);
	}
}

static void check_addr(const struct nlmsghdr *nlh)
{
	struct nl_addr a, b;

	if (nl_addr_parse(nlh, &a) || a.family != AF_INET || a.prefixlen > 32)
		return;
	FUZZ_CHECK(nl_addr_build(hdr(RTM_NEWADDR), sizeof(out), &a) == 0);
	FUZZ_CHECK(nl_addr_parse((struct nlmsghdr *)out, &b) == 0);
	FUZZ_CHECK(a.family == b.family && a.ifindex == b.ifindex && a.addr == b.addr);
	FUZZ_CHECK(a.prefixlen == b.prefixlen && a.broadcast == b.broadcast);
	FUZZ_CHECK(a.scope == b.scope && a.flags == b.flags);
}

static void check_route(const struct nlmsghdr *nlh)
{
	struct nl_route a, b;

	if (nl_route_parse(nlh, &a) || a.family != AF_INET || a.dst_len > 32)
		return;
	/* The destination is only carried with a prefix. */
	if (!a.dst_len)
		a.dst = 0;
	FUZZ_CHECK(nl_route_build(hdr(RTM_NEWROUTE), sizeof(out), &a) == 0);
	FUZZ_CHECK(nl_route_parse((struct nlmsghdr *)out, &b) == 0);
	FUZZ_CHECK(a.family == b.family && a.dst == b.dst && a.dst_len == b.dst_len);
	FUZZ_CHECK(a.gw == b.gw && a.oif == b.oif && a.prefsrc == b.prefsrc);
	FUZZ_CHECK(a.priority == b.priority && a.table == b.table);
	FUZZ_CHECK(a.protocol == b.protocol && a.scope == b.scope && a.type == b.type);
	FUZZ_CHECK(a.flags == b.flags);
}

static void check_neigh(const struct nlmsghdr *nlh)
{
	struct nl_neigh a, b;
	struct nlmsghdr *o;
	int ret;

	ret = nl_neigh_parse(nlh, &a);
	FUZZ_CHECK(ret == 0 || ret == -EBADMSG || ret == -EAFNOSUPPORT);
	if (ret || a.ifindex <= 0)
		return;
	FUZZ_CHECK(a.family == AF_INET || a.family == AF_INET6 || a.family == AF_BRIDGE);
	o = hdr(RTM_NEWNEIGH);
	FUZZ_CHECK(nl_neigh_build(o, sizeof(out), &a) == 0);
	FUZZ_CHECK(nl_neigh_parse(o, &b) == 0);
	FUZZ_CHECK(a.family == b.family && a.ifindex == b.ifindex);
	FUZZ_CHECK(a.state == b.state && a.flags == b.flags);
	FUZZ_CHECK(a.has_dst == b.has_dst && (!a.has_dst || a.dst == b.dst));
	FUZZ_CHECK(a.dst_v6 == b.dst_v6 && (!a.dst_v6 || !memcmp(&a.dst6, &b.dst6, 16)));
	FUZZ_CHECK(a.has_lladdr == b.has_lladdr);
	FUZZ_CHECK(!a.has_lladdr || memcmp(a.lladdr, b.lladdr, 6) == 0);
}

static void check_ack(const struct nlmsghdr *nlh)
{
	static struct nl_sock s;

	if (nlh->nlmsg_type != NLMSG_ERROR && nlh->nlmsg_type != NLMSG_DONE)
		return;
	s.errmsg[0] = '\0';
	FUZZ_CHECK(nl_msg_error(&s, nlh) <= 0);
	FUZZ_CHECK(strnlen(s.errmsg, sizeof(s.errmsg)) < sizeof(s.errmsg));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The kernel pads every message to 4 bytes and libmnl's attribute walk
	 * relies on it, so the buffer ends on a 4-byte boundary, zero padded. */
	size_t cap = MNL_ALIGN(size), off = 0;
	char *buf = calloc(1, cap ? cap : 1);

	if (!buf)
		abort();
	if (size)
		memcpy(buf, data, size);
	/* The message walk of mnl_cb_run, minus its trust in the kernel: libmnl
	 * takes nlmsg_len as an int, and 0xffffffff would never advance. */
	while (size - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(buf + off);

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > size - off)
			break;
		check_link(nlh);
		check_addr(nlh);
		check_route(nlh);
		check_neigh(nlh);
		check_ack(nlh);
		off += MNL_ALIGN(nlh->nlmsg_len);
		if (off > size)
			break;
	}
	free(buf);
	return 0;
}
