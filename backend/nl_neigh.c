/* Neighbours and FDB entries: build and parse RTM_*NEIGH bodies, and the
 * requests that use them. */
#include "backend/nl_neigh.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

static bool nl_neigh_family_ok(int family)
{
	return family == AF_INET || family == AF_INET6 || family == AF_BRIDGE;
}

int nl_neigh_build(struct nlmsghdr *nlh, size_t buflen, const struct nl_neigh *n)
{
	struct ndmsg *ndm;

	bool v6 = n->dst_v6 || n->family == AF_INET6;

	if (!nl_neigh_family_ok(n->family) || n->ifindex <= 0)
		return -EINVAL;
	if (nlh->nlmsg_len + MNL_ALIGN(sizeof(*ndm)) > buflen)
		return -EMSGSIZE;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = (uint8_t)n->family;
	ndm->ndm_ifindex = n->ifindex;
	ndm->ndm_state = n->state;
	ndm->ndm_flags = n->flags;
	ndm->ndm_type = RTN_UNICAST;
	if (n->has_dst && !mnl_attr_put_check(nlh, buflen, NDA_DST, v6 ? 16 : 4,
					      v6 ? (const void *)&n->dst6 : &n->dst))
		return -EMSGSIZE;
	if (n->has_lladdr && !mnl_attr_put_check(nlh, buflen, NDA_LLADDR, 6, n->lladdr))
		return -EMSGSIZE;
	return 0;
}

/* Fills tb; -EBADMSG when an attribute runs past the message. */
static int parse_attrs(const struct nlmsghdr *nlh, size_t off, const struct nlattr **tb)
{
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, off)
	{
		uint16_t type = mnl_attr_get_type(attr);

		if (type <= NDA_MAX)
			tb[type] = attr;
	}
	return (const void *)attr == mnl_nlmsg_get_payload_tail(nlh) ? 0 : -EBADMSG;
}

int nl_neigh_parse(const struct nlmsghdr *nlh, struct nl_neigh *out)
{
	const struct nlattr *tb[NDA_MAX + 1] = {NULL};
	const struct ndmsg *ndm;

	if (nlh->nlmsg_type != RTM_NEWNEIGH && nlh->nlmsg_type != RTM_DELNEIGH)
		return -EBADMSG;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ndm))
		return -EBADMSG;
	ndm = mnl_nlmsg_get_payload(nlh);
	if (!nl_neigh_family_ok(ndm->ndm_family))
		return -EAFNOSUPPORT;
	if (parse_attrs(nlh, sizeof(*ndm), tb))
		return -EBADMSG;
	memset(out, 0, sizeof(*out));
	out->family = ndm->ndm_family;
	out->ifindex = ndm->ndm_ifindex;
	out->state = ndm->ndm_state;
	out->flags = ndm->ndm_flags;
	if (tb[NDA_DST]) {
		uint16_t len = mnl_attr_get_payload_len(tb[NDA_DST]);

		/* The length must fit the family; an FDB entry has either. */
		if (len != (ndm->ndm_family == AF_INET ? 4 : 16) &&
		    !(ndm->ndm_family == AF_BRIDGE && len == 4))
			return -EAFNOSUPPORT;
		out->has_dst = true;
		out->dst_v6 = len == 16;
		memcpy(out->dst_v6 ? (void *)&out->dst6 : &out->dst,
		       mnl_attr_get_payload(tb[NDA_DST]), len);
	}
	if (tb[NDA_LLADDR]) {
		/* Other link types (e.g. tunnels) carry other lengths. */
		if (mnl_attr_get_payload_len(tb[NDA_LLADDR]) != 6)
			return -EAFNOSUPPORT;
		out->has_lladdr = true;
		memcpy(out->lladdr, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
	}
	if (tb[NDA_MASTER]) {
		if (mnl_attr_validate(tb[NDA_MASTER], MNL_TYPE_U32) < 0)
			return -EBADMSG;
		out->master = (int)mnl_attr_get_u32(tb[NDA_MASTER]);
	}
	if (tb[NDA_VNI]) {
		if (mnl_attr_validate(tb[NDA_VNI], MNL_TYPE_U32) < 0)
			return -EBADMSG;
		out->vni = mnl_attr_get_u32(tb[NDA_VNI]);
	}
	return 0;
}

static int neigh_req(struct nl_sock *s, uint16_t type, uint16_t flags, const struct nl_neigh *n)
{
	struct nlmsghdr *nlh = nl_msg(s, type, flags);
	int ret;

	ret = nl_neigh_build(nlh, NL_MSG_MAX, n);
	if (ret)
		return ret;
	return nl_request(s, nlh);
}

int nl_neigh_set(struct nl_sock *s, const struct nl_neigh *n)
{
	return neigh_req(s, RTM_NEWNEIGH, NL_NEIGH_SET_FLAGS, n);
}

int nl_neigh_del(struct nl_sock *s, const struct nl_neigh *n)
{
	int ret = neigh_req(s, RTM_DELNEIGH, 0, n);

	return ret == -ENOENT ? 0 : ret;
}

struct dump_ctx {
	int family;
	int ifindex;
	int (*cb)(const struct nl_neigh *n, void *data);
	void *data;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	struct nl_neigh n;

	if (nl_neigh_parse(nlh, &n))
		return 0;
	/* The kernel filters too, but not on every version and not for
	 * every family: check again. */
	if (n.family != d->family || (d->ifindex && n.ifindex != d->ifindex))
		return 0;
	return d->cb(&n, d->data);
}

int nl_neigh_dump(struct nl_sock *s, int family, int ifindex,
		  int (*cb)(const struct nl_neigh *n, void *data), nl_reset_cb reset, void *data)
{
	struct dump_ctx d = {.family = family, .ifindex = ifindex, .cb = cb, .data = data};
	struct nlmsghdr *nlh = nl_msg(s, RTM_GETNEIGH, 0);
	struct ndmsg *ndm;

	if (!nl_neigh_family_ok(family))
		return -EINVAL;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = (uint8_t)family;
	if (ifindex)
		mnl_attr_put_u32(nlh, NDA_IFINDEX, (uint32_t)ifindex);
	return nl_dump(s, nlh, dump_cb, &d, reset, data);
}
