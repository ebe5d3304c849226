/* Links (RTM_NEWLINK/DELLINK/GETLINK): veth, bridge, vxlan and the common
 * attributes. A struct nl_link says which fields are meaningful in `set`;
 * build emits exactly those, parse fills them and sets their bits. */
#ifndef WEFT_NL_LINK_H
#define WEFT_NL_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net/if.h>
#include <netinet/in.h>
#include <linux/netlink.h>

#include "backend/nl.h"

enum nl_link_field {
	NL_LINK_NAME = 1u << 0,
	NL_LINK_KIND = 1u << 1,
	NL_LINK_MTU = 1u << 2,
	NL_LINK_MAC = 1u << 3,
	NL_LINK_MASTER = 1u << 4,
	NL_LINK_ALIAS = 1u << 5,
	NL_LINK_NETNS_FD = 1u << 6, /* move to / create in a netns (build only) */
	NL_LINK_PEER = 1u << 7,	    /* veth peer (build), peer ifindex (parse) */
	NL_LINK_VXLAN = 1u << 8,
	NL_LINK_HAIRPIN = 1u << 9, /* bridge port mode */
	NL_LINK_UP = 1u << 10,	   /* build: change IFF_UP to `up`; `up` is always parsed */
};

enum nl_vxlan_field {
	NL_VXLAN_ID = 1u << 0,
	NL_VXLAN_LOCAL = 1u << 1,
	NL_VXLAN_PORT = 1u << 2,
	NL_VXLAN_LEARNING = 1u << 3,
	NL_VXLAN_LINK = 1u << 4,
	NL_VXLAN_TTL = 1u << 5,
	NL_VXLAN_UDP_CSUM = 1u << 6,
	NL_VXLAN_LOCAL6 = 1u << 7,
};

struct nl_vxlan {
	unsigned set; /* enum nl_vxlan_field */
	uint32_t vni;
	uint32_t local; /* IPv4, network byte order */
	struct in6_addr local6;
	uint16_t port; /* destination UDP port, host byte order */
	bool learning;
	int link; /* underlay ifindex */
	uint8_t ttl;
	bool udp_csum;
};

struct nl_veth_peer {
	char name[IFNAMSIZ];
	int netns_fd; /* -1: same namespace as the request */
	unsigned mtu; /* 0: kernel default */
	bool has_mac;
	uint8_t mac[6];
};

struct nl_link {
	unsigned set; /* enum nl_link_field */
	int ifindex;  /* 0 in a build: address the link by name */
	char name[IFNAMSIZ];
	char kind[16]; /* "veth", "bridge", "vxlan", or what the kernel said */
	unsigned mtu;
	uint8_t mac[6];
	int master; /* 0 in a build with NL_LINK_MASTER: release from master */
	char alias[128];
	int netns_fd;
	bool up;       /* parse: IFF_UP */
	bool lower_up; /* parse: IFF_LOWER_UP */
	bool hairpin;
	int peer_ifindex; /* parse: IFLA_LINK (veth peer), 0 if absent */
	struct nl_veth_peer peer;
	struct nl_vxlan vxlan;
};

/* Builds the body of an RTM_NEWLINK/DELLINK/GETLINK message whose header is
 * already in nlh (buffer of buflen bytes). -EMSGSIZE if it does not fit,
 * -EINVAL for a combination the kernel cannot take. */
int nl_link_build(struct nlmsghdr *nlh, size_t buflen, const struct nl_link *l);
/* Parses an RTM_NEWLINK message (reply, dump entry or event). */
int nl_link_parse(const struct nlmsghdr *nlh, struct nl_link *out);

/* Requests on a socket (0 or -errno; nl_errmsg has the kernel's text). */
/* Creates the link; flags add e.g. NLM_F_EXCL. */
int nl_link_create(struct nl_sock *s, const struct nl_link *l, uint16_t flags);
/* Changes an existing link (by ifindex, else by name). */
int nl_link_change(struct nl_sock *s, const struct nl_link *l);
int nl_link_del_index(struct nl_sock *s, int ifindex);
int nl_link_del_name(struct nl_sock *s, const char *name);
/* -ENODEV when absent. */
int nl_link_get_name(struct nl_sock *s, const char *name, struct nl_link *out);
int nl_link_get_index(struct nl_sock *s, int ifindex, struct nl_link *out);
/* Every link, parsed, to cb(link, data); reset (may be NULL) as for
 * nl_dump; -EBUSY: kept being interrupted. */
int nl_link_dump(struct nl_sock *s, int (*cb)(const struct nl_link *l, void *data),
		 nl_reset_cb reset, void *data);

#endif
