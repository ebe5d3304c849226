/* The floor for the CNI benchmark: only the kernel work of a pod attach,
 * straight libmnl, no config, no store, no result.
 *   cni_floor add BRIDGE HOSTVETH NETNS-PATH ADDR/LEN GATEWAY [ADDR6/LEN GATEWAY6]
 *   cni_floor del HOSTVETH
 * add: veth with its peer "eth0" created inside NETNS, host end on BRIDGE
 * and up; inside NETNS: eth0 up, the address, a default route. With the
 * IPv6 pair (dual stack) also: accept_dad=0 for eth0 before it comes up,
 * the IPv6 address (NODAD) and an IPv6 default route. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

static char buf[8192] __attribute__((aligned(8)));

static int talk(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	unsigned portid = mnl_socket_get_portid(nl);
	static unsigned seq = 1;
	int n;

	nlh->nlmsg_seq = seq++;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, n, nlh->nlmsg_seq, portid, NULL, NULL) < 0)
		return -errno;
	return 0;
}

static struct mnl_socket *open_nl(void)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("netlink");
		exit(1);
	}
	return nl;
}

static struct nlmsghdr *link_msg(uint16_t type, uint16_t flags, int index)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = index;
	return nlh;
}

/* The IPv6 half inside the pod: address without DAD, default route. */
static int add6(struct mnl_socket *nl, unsigned idx, const char *cidr, const char *gw)
{
	struct in6_addr a, g;
	struct ifaddrmsg *ifa;
	struct rtmsg *rtm;
	struct nlmsghdr *nlh;
	char addr[64], *slash;

	snprintf(addr, sizeof(addr), "%s", cidr);
	slash = strchr(addr, '/');
	if (!slash)
		return 7;
	*slash = '\0';
	if (inet_pton(AF_INET6, addr, &a) != 1 || inet_pton(AF_INET6, gw, &g) != 1)
		return 7;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = atoi(slash + 1);
	ifa->ifa_flags = IFA_F_NODAD;
	ifa->ifa_index = idx;
	mnl_attr_put(nlh, IFA_LOCAL, 16, &a);
	mnl_attr_put(nlh, IFA_ADDRESS, 16, &a);
	if (talk(nl, nlh))
		return 8;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET6;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_GATEWAY, 16, &g);
	mnl_attr_put_u32(nlh, RTA_OIF, idx);
	return talk(nl, nlh) ? 9 : 0;
}

/* The host end on the bridge, the pod end as eth0 in the pod's netns. */
static int make_veth(unsigned br, const char *veth, int fd)
{
	struct nlattr *info, *data, *peer;
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ret;

	nl = open_nl();
	nlh = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, veth);
	mnl_attr_put_u32(nlh, IFLA_MASTER, br);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0");
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, fd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	ret = talk(nl, nlh);
	mnl_socket_close(nl);
	return ret;
}

static int add(const char *bridge, const char *veth, const char *ns, const char *cidr,
	       const char *gw, const char *cidr6, const char *gw6)
{
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct ifaddrmsg *ifa;
	struct rtmsg *rtm;
	unsigned br = if_nametoindex(bridge), idx;
	int fd = open(ns, O_RDONLY | O_CLOEXEC);
	char addr[32], *slash;
	uint32_t a, g;

	snprintf(addr, sizeof(addr), "%s", cidr);
	slash = strchr(addr, '/');
	if (fd < 0 || !br || !slash)
		return 1;
	*slash = '\0';
	inet_pton(AF_INET, addr, &a);
	inet_pton(AF_INET, gw, &g);

	if (make_veth(br, veth, fd))
		return 2;

	if (setns(fd, CLONE_NEWNET) < 0)
		return 3;
	if (cidr6) {
		int sfd = open("/proc/sys/net/ipv6/conf/eth0/accept_dad", O_WRONLY | O_CLOEXEC);

		if (sfd < 0 || write(sfd, "0", 1) != 1)
			return 10;
		close(sfd);
	}
	nl = open_nl();
	idx = if_nametoindex("eth0");
	nlh = link_msg(RTM_NEWLINK, 0, idx);
	ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	if (talk(nl, nlh))
		return 4;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = atoi(slash + 1);
	ifa->ifa_index = idx;
	mnl_attr_put_u32(nlh, IFA_LOCAL, a);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, a);
	if (talk(nl, nlh))
		return 5;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_GATEWAY, g);
	mnl_attr_put_u32(nlh, RTA_OIF, idx);
	if (talk(nl, nlh))
		return 6;
	if (cidr6 && add6(nl, idx, cidr6, gw6))
		return 8;
	mnl_socket_close(nl);
	return 0;
}

static int del(const char *veth)
{
	struct mnl_socket *nl = open_nl();
	struct nlmsghdr *nlh = link_msg(RTM_DELLINK, 0, 0);
	int ret;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, veth);
	ret = talk(nl, nlh);
	mnl_socket_close(nl);
	return ret && ret != -ENODEV ? 2 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "add"))
		return add(argv[2], argv[3], argv[4], argv[5], argv[6], NULL, NULL);
	if (argc == 9 && !strcmp(argv[1], "add"))
		return add(argv[2], argv[3], argv[4], argv[5], argv[6], argv[7], argv[8]);
	if (argc == 3 && !strcmp(argv[1], "del"))
		return del(argv[2]);
	fprintf(stderr, "usage: %s add BRIDGE VETH NETNS ADDR/LEN GW [ADDR6/LEN GW6] | del VETH\n",
		argv[0]);
	return 64;
}
