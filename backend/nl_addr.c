/* IPv4 and IPv6 addresses: build and parse RTM_*ADDR bodies, and their requests. */
#include "backend/nl_addr.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

int nl_addr_build(struct nlmsghdr *nlh, size_t buflen, const struct nl_addr *a)
{
	struct ifaddrmsg *ifa;

	bool v6 = a->family == AF_INET6;
	const void *addr = v6 ? (const void *)&a->addr6 : &a->addr;
	size_t alen = v6 ? 16 : 4;

	if ((a->family != AF_INET && !v6) || a->prefixlen > (v6 ? 128 : 32))
		return -EINVAL;
	if (nlh->nlmsg_len + MNL_ALIGN(sizeof(*ifa)) > buflen)
		return -EMSGSIZE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = a->prefixlen;
	ifa->ifa_scope = a->scope;
	ifa->ifa_index = (uint32_t)a->ifindex;
	ifa->ifa_flags = (uint8_t)a->flags;
	if (!mnl_attr_put_check(nlh, buflen, IFA_LOCAL, alen, addr) ||
	    !mnl_attr_put_check(nlh, buflen, IFA_ADDRESS, alen, addr))
		return -EMSGSIZE;
	if (!v6 && a->broadcast &&
	    !mnl_attr_put_check(nlh, buflen, IFA_BROADCAST, 4, &a->broadcast))
		return -EMSGSIZE;
	if (a->flags > 0xff && !mnl_attr_put_u32_check(nlh, buflen, IFA_FLAGS, a->flags))
		return -EMSGSIZE;
	return 0;
}

struct addr_tb {
	const struct nlattr *tb[IFA_MAX + 1];
};

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	struct addr_tb *t = data;
	unsigned type = mnl_attr_get_type(attr);

	if (type <= IFA_MAX)
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

int nl_addr_parse(const struct nlmsghdr *nlh, struct nl_addr *a)
{
	struct addr_tb t = {{0}};
	const struct ifaddrmsg *ifa;

	memset(a, 0, sizeof(*a));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return -EBADMSG;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, &t) < 0)
		return -EBADMSG;
	a->family = ifa->ifa_family;
	a->ifindex = (int)ifa->ifa_index;
	a->prefixlen = ifa->ifa_prefixlen;
	a->scope = ifa->ifa_scope;
	a->flags = ifa->ifa_flags;
	if (t.tb[IFA_FLAGS] && mnl_attr_get_payload_len(t.tb[IFA_FLAGS]) == 4)
		a->flags = mnl_attr_get_u32(t.tb[IFA_FLAGS]);
	if (a->family == AF_INET6) {
		get16(t.tb[IFA_ADDRESS], &a->addr6);
		get16(t.tb[IFA_LOCAL], &a->addr6);
		return 0;
	}
	if (a->family != AF_INET)
		return 0;
	get4(t.tb[IFA_ADDRESS], &a->addr);
	get4(t.tb[IFA_LOCAL], &a->addr);
	get4(t.tb[IFA_BROADCAST], &a->broadcast);
	return 0;
}

static int addr_req(struct nl_sock *s, uint16_t type, uint16_t flags, const struct nl_addr *a)
{
	struct nlmsghdr *nlh = nl_msg(s, type, flags);
	int ret;

	ret = nl_addr_build(nlh, NL_MSG_MAX, a);
	if (ret)
		return ret;
	return nl_request(s, nlh);
}

int nl_addr_add(struct nl_sock *s, const struct nl_addr *a, uint16_t flags)
{
	return addr_req(s, RTM_NEWADDR, NLM_F_CREATE | flags, a);
}

int nl_addr_del(struct nl_sock *s, const struct nl_addr *a)
{
	return addr_req(s, RTM_DELADDR, 0, a);
}

struct dump_ctx {
	int family;
	int ifindex;
	int (*cb)(const struct nl_addr *a, void *data);
	void *data;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct nl_addr a;
	int ret;

	if (nlh->nlmsg_type != RTM_NEWADDR)
		return 0;
	ret = nl_addr_parse(nlh, &a);
	if (ret)
		return ret;
	if (a.family != d->family || (d->ifindex > 0 && a.ifindex != d->ifindex))
		return 0;
	return d->cb(&a, d->data);
}

int nl_addr_dump(struct nl_sock *s, int ifindex, int (*cb)(const struct nl_addr *a, void *data),
		 nl_reset_cb reset, void *data)
{
	return nl_addr_dump_family(s, AF_INET, ifindex, cb, reset, data);
}

int nl_addr_dump_family(struct nl_sock *s, int family, int ifindex,
			int (*cb)(const struct nl_addr *a, void *data), nl_reset_cb reset,
			void *data)
{
	struct dump_ctx d = {family, ifindex, cb, data};
	struct ifaddrmsg *ifa;
	struct nlmsghdr *nlh;

	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	nlh = nl_msg(s, RTM_GETADDR, 0);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	/* With strict checking the kernel filters by index itself. */
	ifa->ifa_index = ifindex > 0 ? (uint32_t)ifindex : 0;
	return nl_dump(s, nlh, dump_cb, &d, reset, data);
}
