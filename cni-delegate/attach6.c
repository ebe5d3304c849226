/* IPv6 address and route bodies, DAD sysctls and CHECK look-ups; see
 * attach6.h. */
#include "cni-delegate/attach6.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

int attach6_addr_build(struct nlmsghdr *nlh, size_t buflen, int ifindex,
		       const struct in6_addr *addr, uint8_t prefix)
{
	struct ifaddrmsg *ifa;

	if (prefix > 128 || nlh->nlmsg_len + MNL_ALIGN(sizeof(*ifa)) > buflen)
		return -EINVAL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = prefix;
	ifa->ifa_flags = IFA_F_NODAD;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	if (!mnl_attr_put_check(nlh, buflen, IFA_LOCAL, 16, addr) ||
	    !mnl_attr_put_check(nlh, buflen, IFA_ADDRESS, 16, addr) ||
	    !mnl_attr_put_u32_check(nlh, buflen, IFA_FLAGS, IFA_F_NODAD))
		return -EMSGSIZE;
	return 0;
}

int attach6_route_build(struct nlmsghdr *nlh, size_t buflen, const struct in6_addr *dst,
			uint8_t dst_len, const struct in6_addr *gw, int oif)
{
	struct rtmsg *rtm;

	if (dst_len > 128 || nlh->nlmsg_len + MNL_ALIGN(sizeof(*rtm)) > buflen)
		return -EINVAL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET6;
	rtm->rtm_dst_len = dst_len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	if (dst_len && !mnl_attr_put_check(nlh, buflen, RTA_DST, 16, dst))
		return -EMSGSIZE;
	if (!mnl_attr_put_check(nlh, buflen, RTA_GATEWAY, 16, gw) ||
	    !mnl_attr_put_u32_check(nlh, buflen, RTA_OIF, (uint32_t)oif))
		return -EMSGSIZE;
	return 0;
}

int attach6_bridge_addr(struct nl_sock *s, int ifindex, const struct in6_addr *gw, uint8_t prefix)
{
	struct nlmsghdr *nlh = nl_msg(s, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	int ret;

	ret = attach6_addr_build(nlh, NL_MSG_MAX, ifindex, gw, prefix);
	if (!ret)
		ret = nl_request(s, nlh);
	return ret == -EEXIST ? 0 : ret;
}

int attach_sysctl_ensure(const char *path, char val)
{
	char c = 0;
	int fd, ret = 0;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Written only when it differs: most pods find it set already. */
	if (read(fd, &c, 1) != 1 || c != val) {
		if (pwrite(fd, &val, 1, 0) != 1)
			ret = -errno;
	}
	close(fd);
	return ret;
}

int attach6_pod_nodad(int netns_fd, const char *ifname)
{
	char path[96];
	int self, ret;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_dad", ifname);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	/* /proc/sys/net shows the namespace of whoever opens it. */
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		ret = -errno;
		goto out;
	}
	ret = attach_sysctl_ensure(path, '0');
	if (setns(self, CLONE_NEWNET) < 0 && !ret)
		ret = -errno;
out:
	close(self);
	return ret;
}

struct tb6 {
	const struct nlattr *tb[RTA_MAX + 1 > IFA_MAX + 1 ? RTA_MAX + 1 : IFA_MAX + 1];
	unsigned max;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct tb6 *t = data;
	unsigned type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static bool attr_is(const struct nlattr *a, const struct in6_addr *want)
{
	return a && mnl_attr_get_payload_len(a) == 16 && !memcmp(mnl_attr_get_payload(a), want, 16);
}

struct find6 {
	int ifindex;
	const struct in6_addr *addr, *gw;
	uint8_t len;
	bool found;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct tb6 t = {.max = IFA_MAX};
	struct find6 *f = data;
	uint32_t flags;

	if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) ||
	    ifa->ifa_family != AF_INET6 || (int)ifa->ifa_index != f->ifindex)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &t) < 0)
		return 0;
	flags = ifa->ifa_flags;
	if (t.tb[IFA_FLAGS] && mnl_attr_get_payload_len(t.tb[IFA_FLAGS]) == 4)
		flags = mnl_attr_get_u32(t.tb[IFA_FLAGS]);
	if (ifa->ifa_prefixlen == f->len && !(flags & IFA_F_TENTATIVE) &&
	    (attr_is(t.tb[IFA_LOCAL], f->addr) || attr_is(t.tb[IFA_ADDRESS], f->addr)))
		f->found = true;
	return 0;
}

/* A restarted dump starts the search over. */
static void find6_reset(void *data)
{
	((struct find6 *)data)->found = false;
}

int attach6_has_addr(struct nl_sock *s, int ifindex, const struct in6_addr *addr, uint8_t prefix,
		     bool *found)
{
	struct find6 f = {.ifindex = ifindex, .addr = addr, .len = prefix};
	int ret;

	struct nlmsghdr *nlh = nl_msg(s, RTM_GETADDR, 0);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = AF_INET6;
	ifa->ifa_index = (uint32_t)ifindex;
	ret = nl_dump(s, nlh, addr_cb, &f, find6_reset, &f);
	*found = f.found;
	return ret;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct tb6 t = {.max = RTA_MAX};
	struct find6 *f = data;
	static const struct in6_addr any = IN6ADDR_ANY_INIT;

	if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)) ||
	    rtm->rtm_family != AF_INET6 || rtm->rtm_dst_len != f->len)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, &t) < 0)
		return 0;
	if (f->len ? !attr_is(t.tb[RTA_DST], f->addr)
		   : (t.tb[RTA_DST] && !attr_is(t.tb[RTA_DST], &any)))
		return 0;
	if (f->gw && !attr_is(t.tb[RTA_GATEWAY], f->gw))
		return 0;
	f->found = true;
	return 0;
}

int attach6_has_route(struct nl_sock *s, const struct in6_addr *dst, uint8_t dst_len,
		      const struct in6_addr *gw, bool *found)
{
	struct find6 f = {.addr = dst, .gw = gw, .len = dst_len};
	int ret;

	struct nlmsghdr *nlh = nl_msg(s, RTM_GETROUTE, 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = AF_INET6;
	rtm->rtm_table = RT_TABLE_MAIN;
	ret = nl_dump(s, nlh, route_cb, &f, find6_reset, &f);
	*found = f.found;
	return ret;
}
