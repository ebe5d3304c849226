/* Links: build and parse RTM_*LINK bodies, and the requests that use them. */
#include "backend/nl_link.h"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "common/util.h"

/* glibc's net/if.h stops short of the kernel's operational flags. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

static int put_str(struct nlmsghdr *nlh, size_t buflen, uint16_t type, const char *s)
{
	return mnl_attr_put_strz_check(nlh, buflen, type, s) ? 0 : -EMSGSIZE;
}

static int put_u32(struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint32_t v)
{
	return mnl_attr_put_u32_check(nlh, buflen, type, v) ? 0 : -EMSGSIZE;
}

static int put_u8(struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint8_t v)
{
	return mnl_attr_put_u8_check(nlh, buflen, type, v) ? 0 : -EMSGSIZE;
}

static int put_mac(struct nlmsghdr *nlh, size_t buflen, uint16_t type, const uint8_t *mac)
{
	return mnl_attr_put_check(nlh, buflen, type, 6, mac) ? 0 : -EMSGSIZE;
}

/* Room for a zeroed ifinfomsg at the tail (top level or inside a nest). */
static struct ifinfomsg *put_ifinfo(struct nlmsghdr *nlh, size_t buflen)
{
	if (nlh->nlmsg_len + MNL_ALIGN(sizeof(struct ifinfomsg)) > buflen)
		return NULL;
	return mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
}

static int build_peer(struct nlmsghdr *nlh, size_t buflen, const struct nl_veth_peer *p)
{
	struct ifinfomsg *ifi;
	struct nlattr *nest;
	int ret = 0;

	nest = mnl_attr_nest_start_check(nlh, buflen, VETH_INFO_PEER);
	if (!nest)
		return -EMSGSIZE;
	ifi = put_ifinfo(nlh, buflen);
	if (!ifi)
		return -EMSGSIZE;
	ifi->ifi_family = AF_UNSPEC;
	if (p->name[0])
		ret = put_str(nlh, buflen, IFLA_IFNAME, p->name);
	if (!ret && p->netns_fd >= 0)
		ret = put_u32(nlh, buflen, IFLA_NET_NS_FD, (uint32_t)p->netns_fd);
	if (!ret && p->mtu)
		ret = put_u32(nlh, buflen, IFLA_MTU, p->mtu);
	if (!ret && p->has_mac)
		ret = put_mac(nlh, buflen, IFLA_ADDRESS, p->mac);
	if (ret)
		return ret;
	mnl_attr_nest_end(nlh, nest);
	return 0;
}

static int build_vxlan(struct nlmsghdr *nlh, size_t buflen, const struct nl_vxlan *v)
{
	int ret = 0;

	if (v->set & NL_VXLAN_ID)
		ret = put_u32(nlh, buflen, IFLA_VXLAN_ID, v->vni);
	if (!ret && (v->set & NL_VXLAN_LOCAL))
		ret = mnl_attr_put_check(nlh, buflen, IFLA_VXLAN_LOCAL, 4, &v->local) ? 0
										      : -EMSGSIZE;
	if (!ret && (v->set & NL_VXLAN_LOCAL6))
		ret = mnl_attr_put_check(nlh, buflen, IFLA_VXLAN_LOCAL6, 16, &v->local6)
			      ? 0
			      : -EMSGSIZE;
	if (!ret && (v->set & NL_VXLAN_PORT))
		ret = mnl_attr_put_u16_check(nlh, buflen, IFLA_VXLAN_PORT, htons(v->port))
			      ? 0
			      : -EMSGSIZE;
	if (!ret && (v->set & NL_VXLAN_LEARNING))
		ret = put_u8(nlh, buflen, IFLA_VXLAN_LEARNING, v->learning);
	if (!ret && (v->set & NL_VXLAN_LINK))
		ret = put_u32(nlh, buflen, IFLA_VXLAN_LINK, (uint32_t)v->link);
	if (!ret && (v->set & NL_VXLAN_TTL))
		ret = put_u8(nlh, buflen, IFLA_VXLAN_TTL, v->ttl);
	if (!ret && (v->set & NL_VXLAN_UDP_CSUM))
		ret = put_u8(nlh, buflen, IFLA_VXLAN_UDP_CSUM, v->udp_csum);
	return ret;
}

static int build_linkinfo(struct nlmsghdr *nlh, size_t buflen, const struct nl_link *l)
{
	struct nlattr *info, *data;
	int ret = 0;

	info = mnl_attr_nest_start_check(nlh, buflen, IFLA_LINKINFO);
	if (!info)
		return -EMSGSIZE;
	if (l->set & NL_LINK_KIND)
		ret = put_str(nlh, buflen, IFLA_INFO_KIND, l->kind);
	if (!ret && (l->set & (NL_LINK_PEER | NL_LINK_VXLAN))) {
		data = mnl_attr_nest_start_check(nlh, buflen, IFLA_INFO_DATA);
		if (!data)
			return -EMSGSIZE;
		if (l->set & NL_LINK_PEER)
			ret = build_peer(nlh, buflen, &l->peer);
		else
			ret = build_vxlan(nlh, buflen, &l->vxlan);
		if (ret)
			return ret;
		mnl_attr_nest_end(nlh, data);
	}
	if (!ret && (l->set & NL_LINK_HAIRPIN)) {
		ret = put_str(nlh, buflen, IFLA_INFO_SLAVE_KIND, "bridge");
		if (ret)
			return ret;
		data = mnl_attr_nest_start_check(nlh, buflen, IFLA_INFO_SLAVE_DATA);
		if (!data)
			return -EMSGSIZE;
		ret = put_u8(nlh, buflen, IFLA_BRPORT_MODE, l->hairpin);
		if (ret)
			return ret;
		mnl_attr_nest_end(nlh, data);
	}
	if (ret)
		return ret;
	mnl_attr_nest_end(nlh, info);
	return 0;
}

int nl_link_build(struct nlmsghdr *nlh, size_t buflen, const struct nl_link *l)
{
	struct ifinfomsg *ifi;
	int ret = 0;

	if ((l->set & NL_LINK_PEER) && (l->set & NL_LINK_VXLAN))
		return -EINVAL;
	if (((l->set & (NL_LINK_PEER | NL_LINK_VXLAN)) && !(l->set & NL_LINK_KIND)))
		return -EINVAL;
	ifi = put_ifinfo(nlh, buflen);
	if (!ifi)
		return -EMSGSIZE;
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = l->ifindex;
	if (l->set & NL_LINK_UP) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = l->up ? IFF_UP : 0;
	}
	if (l->set & NL_LINK_NAME)
		ret = put_str(nlh, buflen, IFLA_IFNAME, l->name);
	if (!ret && (l->set & NL_LINK_MTU))
		ret = put_u32(nlh, buflen, IFLA_MTU, l->mtu);
	if (!ret && (l->set & NL_LINK_MAC))
		ret = put_mac(nlh, buflen, IFLA_ADDRESS, l->mac);
	if (!ret && (l->set & NL_LINK_MASTER))
		ret = put_u32(nlh, buflen, IFLA_MASTER, (uint32_t)l->master);
	if (!ret && (l->set & NL_LINK_ALIAS))
		ret = put_str(nlh, buflen, IFLA_IFALIAS, l->alias);
	if (!ret && (l->set & NL_LINK_NETNS_FD))
		ret = put_u32(nlh, buflen, IFLA_NET_NS_FD, (uint32_t)l->netns_fd);
	if (!ret && (l->set & (NL_LINK_KIND | NL_LINK_HAIRPIN)))
		ret = build_linkinfo(nlh, buflen, l);
	return ret;
}

struct attr_tab {
	const struct nlattr **tb;
	unsigned max;
};

static int tab_cb(const struct nlattr *attr, void *data)
{
	struct attr_tab *t = data;
	unsigned type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static void parse_nested(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
	struct attr_tab t = {tb, max};

	memset(tb, 0, (max + 1) * sizeof(*tb));
	mnl_attr_parse_nested(nest, tab_cb, &t);
}

static bool attr_len_ok(const struct nlattr *a, size_t len)
{
	return a && mnl_attr_get_payload_len(a) >= len;
}

static void copy_str(char *dst, size_t size, const struct nlattr *a)
{
	size_t n = mnl_attr_get_payload_len(a);

	if (n >= size)
		n = size - 1;
	memcpy(dst, mnl_attr_get_payload(a), n);
	dst[n] = '\0';
}

static void parse_vxlan(const struct nlattr *data, struct nl_vxlan *v)
{
	const struct nlattr *tb[IFLA_VXLAN_MAX + 1];

	parse_nested(data, tb, IFLA_VXLAN_MAX);
	if (attr_len_ok(tb[IFLA_VXLAN_ID], 4)) {
		v->vni = mnl_attr_get_u32(tb[IFLA_VXLAN_ID]);
		v->set |= NL_VXLAN_ID;
	}
	if (attr_len_ok(tb[IFLA_VXLAN_LOCAL], 4)) {
		memcpy(&v->local, mnl_attr_get_payload(tb[IFLA_VXLAN_LOCAL]), 4);
		v->set |= NL_VXLAN_LOCAL;
	}
	if (attr_len_ok(tb[IFLA_VXLAN_LOCAL6], 16)) {
		memcpy(&v->local6, mnl_attr_get_payload(tb[IFLA_VXLAN_LOCAL6]), 16);
		v->set |= NL_VXLAN_LOCAL6;
	}
	if (attr_len_ok(tb[IFLA_VXLAN_PORT], 2)) {
		v->port = ntohs(mnl_attr_get_u16(tb[IFLA_VXLAN_PORT]));
		v->set |= NL_VXLAN_PORT;
	}
	if (attr_len_ok(tb[IFLA_VXLAN_LEARNING], 1)) {
		v->learning = mnl_attr_get_u8(tb[IFLA_VXLAN_LEARNING]);
		v->set |= NL_VXLAN_LEARNING;
	}
	if (attr_len_ok(tb[IFLA_VXLAN_LINK], 4)) {
		v->link = (int)mnl_attr_get_u32(tb[IFLA_VXLAN_LINK]);
		v->set |= NL_VXLAN_LINK;
	}
	if (attr_len_ok(tb[IFLA_VXLAN_TTL], 1)) {
		v->ttl = mnl_attr_get_u8(tb[IFLA_VXLAN_TTL]);
		v->set |= NL_VXLAN_TTL;
	}
	if (attr_len_ok(tb[IFLA_VXLAN_UDP_CSUM], 1)) {
		v->udp_csum = mnl_attr_get_u8(tb[IFLA_VXLAN_UDP_CSUM]);
		v->set |= NL_VXLAN_UDP_CSUM;
	}
}

/* The peer nest of a built message (the kernel never reports one). */
static void parse_peer(const struct nlattr *nest, struct nl_veth_peer *p)
{
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	struct attr_tab t = {tb, IFLA_MAX};
	size_t hdr = MNL_ALIGN(sizeof(struct ifinfomsg));
	const char *pos = mnl_attr_get_payload(nest);
	size_t len = mnl_attr_get_payload_len(nest);
	const struct nlattr *a;

	p->netns_fd = -1;
	if (len < hdr)
		return;
	for (a = (const struct nlattr *)(pos + hdr); mnl_attr_ok(a, (int)(pos + len - (char *)a));
	     a = mnl_attr_next(a))
		tab_cb(a, &t);
	if (tb[IFLA_IFNAME])
		copy_str(p->name, sizeof(p->name), tb[IFLA_IFNAME]);
	if (attr_len_ok(tb[IFLA_NET_NS_FD], 4))
		p->netns_fd = (int)mnl_attr_get_u32(tb[IFLA_NET_NS_FD]);
	if (attr_len_ok(tb[IFLA_MTU], 4))
		p->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (attr_len_ok(tb[IFLA_ADDRESS], 6)) {
		memcpy(p->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
		p->has_mac = true;
	}
}

static void parse_linkinfo(const struct nlattr *nest, struct nl_link *l)
{
	const struct nlattr *tb[IFLA_INFO_MAX + 1];

	parse_nested(nest, tb, IFLA_INFO_MAX);
	if (tb[IFLA_INFO_KIND]) {
		copy_str(l->kind, sizeof(l->kind), tb[IFLA_INFO_KIND]);
		l->set |= NL_LINK_KIND;
	}
	if (tb[IFLA_INFO_DATA] && !strcmp(l->kind, "vxlan")) {
		parse_vxlan(tb[IFLA_INFO_DATA], &l->vxlan);
		l->set |= NL_LINK_VXLAN;
	}
	if (tb[IFLA_INFO_DATA] && !strcmp(l->kind, "veth")) {
		const struct nlattr *vtb[VETH_INFO_MAX + 1];

		parse_nested(tb[IFLA_INFO_DATA], vtb, VETH_INFO_MAX);
		if (vtb[VETH_INFO_PEER]) {
			parse_peer(vtb[VETH_INFO_PEER], &l->peer);
			l->set |= NL_LINK_PEER;
		}
	}
	/* strcmp needs the kind NUL-terminated inside the attribute. */
	if (tb[IFLA_INFO_SLAVE_KIND] && tb[IFLA_INFO_SLAVE_DATA] &&
	    mnl_attr_validate(tb[IFLA_INFO_SLAVE_KIND], MNL_TYPE_NUL_STRING) == 0 &&
	    !strcmp(mnl_attr_get_str(tb[IFLA_INFO_SLAVE_KIND]), "bridge")) {
		const struct nlattr *btb[IFLA_BRPORT_MAX + 1];

		parse_nested(tb[IFLA_INFO_SLAVE_DATA], btb, IFLA_BRPORT_MAX);
		if (attr_len_ok(btb[IFLA_BRPORT_MODE], 1)) {
			l->hairpin = mnl_attr_get_u8(btb[IFLA_BRPORT_MODE]);
			l->set |= NL_LINK_HAIRPIN;
		}
	}
}

int nl_link_parse(const struct nlmsghdr *nlh, struct nl_link *l)
{
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	struct attr_tab t = {tb, IFLA_MAX};
	const struct ifinfomsg *ifi;

	memset(l, 0, sizeof(*l));
	l->netns_fd = -1;
	l->peer.netns_fd = -1;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -EBADMSG;
	ifi = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*ifi), tab_cb, &t) < 0)
		return -EBADMSG;
	l->ifindex = ifi->ifi_index;
	l->up = ifi->ifi_flags & IFF_UP;
	l->lower_up = ifi->ifi_flags & IFF_LOWER_UP;
	if (ifi->ifi_change & IFF_UP)
		l->set |= NL_LINK_UP;
	if (tb[IFLA_IFNAME]) {
		copy_str(l->name, sizeof(l->name), tb[IFLA_IFNAME]);
		l->set |= NL_LINK_NAME;
	}
	if (attr_len_ok(tb[IFLA_MTU], 4)) {
		l->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
		l->set |= NL_LINK_MTU;
	}
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6) {
		memcpy(l->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
		l->set |= NL_LINK_MAC;
	}
	if (attr_len_ok(tb[IFLA_MASTER], 4)) {
		l->master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
		l->set |= NL_LINK_MASTER;
	}
	if (tb[IFLA_IFALIAS]) {
		copy_str(l->alias, sizeof(l->alias), tb[IFLA_IFALIAS]);
		l->set |= NL_LINK_ALIAS;
	}
	if (attr_len_ok(tb[IFLA_NET_NS_FD], 4)) {
		l->netns_fd = (int)mnl_attr_get_u32(tb[IFLA_NET_NS_FD]);
		l->set |= NL_LINK_NETNS_FD;
	}
	if (attr_len_ok(tb[IFLA_LINK], 4))
		l->peer_ifindex = (int)mnl_attr_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_LINKINFO])
		parse_linkinfo(tb[IFLA_LINKINFO], l);
	return 0;
}

static int link_req(struct nl_sock *s, uint16_t type, uint16_t flags, const struct nl_link *l)
{
	struct nlmsghdr *nlh = nl_msg(s, type, flags);
	int ret;

	ret = nl_link_build(nlh, NL_MSG_MAX, l);
	if (ret)
		return ret;
	return nl_request(s, nlh);
}

int nl_link_create(struct nl_sock *s, const struct nl_link *l, uint16_t flags)
{
	return link_req(s, RTM_NEWLINK, NLM_F_CREATE | flags, l);
}

int nl_link_change(struct nl_sock *s, const struct nl_link *l)
{
	return link_req(s, RTM_NEWLINK, 0, l);
}

int nl_link_del_index(struct nl_sock *s, int ifindex)
{
	struct nl_link l = {.ifindex = ifindex};

	return link_req(s, RTM_DELLINK, 0, &l);
}

int nl_link_del_name(struct nl_sock *s, const char *name)
{
	struct nl_link l = {.set = NL_LINK_NAME};
	int ret;

	ret = str_copy(l.name, sizeof(l.name), name);
	if (ret)
		return ret;
	return link_req(s, RTM_DELLINK, 0, &l);
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	return nl_link_parse(nlh, data);
}

static int link_get(struct nl_sock *s, const struct nl_link *key, struct nl_link *out)
{
	struct nlmsghdr *nlh = nl_msg(s, RTM_GETLINK, 0);
	int ret;

	ret = nl_link_build(nlh, NL_MSG_MAX, key);
	if (ret)
		return ret;
	/* Counters are the costly part of a link reply and nobody here
	 * reads them. */
	if (!mnl_attr_put_u32_check(nlh, NL_MSG_MAX, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS))
		return -EMSGSIZE;
	out->ifindex = 0;
	ret = nl_request_reply(s, nlh, get_cb, out);
	if (!ret && !out->ifindex)
		ret = -ENODEV;
	return ret;
}

int nl_link_get_name(struct nl_sock *s, const char *name, struct nl_link *out)
{
	struct nl_link key = {.set = NL_LINK_NAME};
	int ret;

	ret = str_copy(key.name, sizeof(key.name), name);
	if (ret)
		return ret;
	return link_get(s, &key, out);
}

int nl_link_get_index(struct nl_sock *s, int ifindex, struct nl_link *out)
{
	struct nl_link key = {.ifindex = ifindex};

	return link_get(s, &key, out);
}

struct dump_ctx {
	int (*cb)(const struct nl_link *l, void *data);
	void *data;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct nl_link l;
	int ret;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	ret = nl_link_parse(nlh, &l);
	if (ret)
		return ret;
	return d->cb(&l, d->data);
}

int nl_link_dump(struct nl_sock *s, int (*cb)(const struct nl_link *l, void *data),
		 nl_reset_cb reset, void *data)
{
	struct nlmsghdr *nlh = nl_msg(s, RTM_GETLINK, 0);
	struct dump_ctx d = {cb, data};
	struct ifinfomsg *ifi;

	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	return nl_dump(s, nlh, dump_cb, &d, reset, data);
}
