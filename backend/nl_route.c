/* IPv4 and IPv6 routes: build and parse RTM_*ROUTE bodies, and their requests. */
#include "backend/nl_route.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

int nl_route_build(struct nlmsghdr *nlh, size_t buflen, const struct nl_route *r)
{
	struct rtmsg *rtm;

	bool v6 = r->family == AF_INET6;
	static const struct in6_addr any6;

	if ((r->family != AF_INET && !v6) || r->dst_len > (v6 ? 128 : 32))
		return -EINVAL;
	if (nlh->nlmsg_len + MNL_ALIGN(sizeof(*rtm)) > buflen)
		return -EMSGSIZE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)r->family;
	rtm->rtm_dst_len = r->dst_len;
	rtm->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = r->protocol;
	rtm->rtm_scope = r->scope;
	rtm->rtm_type = r->type;
	rtm->rtm_flags = r->flags;
	if (v6) {
		if (r->dst_len && !mnl_attr_put_check(nlh, buflen, RTA_DST, 16, &r->dst6))
			return -EMSGSIZE;
		if (memcmp(&r->gw6, &any6, 16) &&
		    !mnl_attr_put_check(nlh, buflen, RTA_GATEWAY, 16, &r->gw6))
			return -EMSGSIZE;
	} else if ((r->dst_len && !mnl_attr_put_check(nlh, buflen, RTA_DST, 4, &r->dst)) ||
		   (r->gw && !mnl_attr_put_check(nlh, buflen, RTA_GATEWAY, 4, &r->gw))) {
		return -EMSGSIZE;
	}
	if (!v6 && r->prefsrc && !mnl_attr_put_check(nlh, buflen, RTA_PREFSRC, 4, &r->prefsrc))
		return -EMSGSIZE;
	if (r->oif && !mnl_attr_put_u32_check(nlh, buflen, RTA_OIF, (uint32_t)r->oif))
		return -EMSGSIZE;
	if (r->priority && !mnl_attr_put_u32_check(nlh, buflen, RTA_PRIORITY, r->priority))
		return -EMSGSIZE;
	if (r->table && !mnl_attr_put_u32_check(nlh, buflen, RTA_TABLE, r->table))
		return -EMSGSIZE;
	return 0;
}

struct route_tb {
	const struct nlattr *tb[RTA_MAX + 1];
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	struct route_tb *t = data;
	unsigned type = mnl_attr_get_type(attr);

	if (type <= RTA_MAX)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static void get4(const struct nlattr *a, uint32_t *out)
{
	if (a && mnl_attr_get_payload_len(a) == 4)
		memcpy(out, mnl_attr_get_payload(a), 4);
}

static void get16(const struct nlattr *a, struct in6_addr *out)
{
	if (a && mnl_attr_get_payload_len(a) == 16)
		memcpy(out, mnl_attr_get_payload(a), 16);
}

int nl_route_parse(const struct nlmsghdr *nlh, struct nl_route *r)
{
	struct route_tb t = {{0}};
	const struct rtmsg *rtm;
	uint32_t v = 0;

	memset(r, 0, sizeof(*r));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return -EBADMSG;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, &t) < 0)
		return -EBADMSG;
	r->family = rtm->rtm_family;
	r->dst_len = rtm->rtm_dst_len;
	r->table = rtm->rtm_table;
	r->protocol = rtm->rtm_protocol;
	r->scope = rtm->rtm_scope;
	r->type = rtm->rtm_type;
	r->flags = rtm->rtm_flags;
	get4(t.tb[RTA_TABLE], &r->table);
	if (r->family != AF_INET && r->family != AF_INET6)
		return 0;
	if (r->family == AF_INET6) {
		get16(t.tb[RTA_DST], &r->dst6);
		get16(t.tb[RTA_GATEWAY], &r->gw6);
	} else {
		get4(t.tb[RTA_DST], &r->dst);
		get4(t.tb[RTA_GATEWAY], &r->gw);
		get4(t.tb[RTA_PREFSRC], &r->prefsrc);
	}
	get4(t.tb[RTA_PRIORITY], &r->priority);
	get4(t.tb[RTA_OIF], &v);
	r->oif = (int)v;
	return 0;
}

static int route_req(struct nl_sock *s, uint16_t type, uint16_t flags, const struct nl_route *r)
{
	struct nlmsghdr *nlh = nl_msg(s, type, flags);
	struct nl_route full = *r;
	int ret;

	if (!full.table)
		full.table = RT_TABLE_MAIN;
	if (!full.type && type == RTM_NEWROUTE)
		full.type = RTN_UNICAST;
	ret = nl_route_build(nlh, NL_MSG_MAX, &full);
	if (ret)
		return ret;
	return nl_request(s, nlh);
}

int nl_route_add(struct nl_sock *s, const struct nl_route *r, uint16_t flags)
{
	return route_req(s, RTM_NEWROUTE, NLM_F_CREATE | flags, r);
}

int nl_route_del(struct nl_sock *s, const struct nl_route *r)
{
	return route_req(s, RTM_DELROUTE, 0, r);
}

struct dump_ctx {
	int family;
	uint32_t table;
	int (*cb)(const struct nl_route *r, void *data);
	void *data;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct nl_route r;
	int ret;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	ret = nl_route_parse(nlh, &r);
	if (ret)
		return ret;
	if (r.family != d->family || (r.flags & RTM_F_CLONED) || (d->table && r.table != d->table))
		return 0;
	return d->cb(&r, d->data);
}

int nl_route_dump_family(struct nl_sock *s, int family, uint32_t table,
			 int (*cb)(const struct nl_route *r, void *data), nl_reset_cb reset,
			 void *data)
{
	struct dump_ctx d = {family, table, cb, data};
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	nlh = nl_msg(s, RTM_GETROUTE, 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	return nl_dump(s, nlh, dump_cb, &d, reset, data);
}

int nl_route_dump(struct nl_sock *s, uint32_t table,
		  int (*cb)(const struct nl_route *r, void *data), nl_reset_cb reset, void *data)
{
	return nl_route_dump_family(s, AF_INET, table, cb, reset, data);
}
