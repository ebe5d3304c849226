/* Bridge, veth, pod address and routes; see attach.h. One request per
 * kernel object; the pod side goes out as one batch. */
#include "cni-delegate/attach.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/rtnetlink.h>

#include "backend/nl.h"
#include "backend/nl_addr.h"
#include "backend/nl_link.h"
#include "backend/nl_route.h"
#include "cni-delegate/attach6.h"
#include "common/util.h"
#include "common/vec.h"

int attach_open_netns(const char *path, int *out)
{
	struct stat a, b;
	struct statfs sfs;
	int fd, ret;

	/* O_NONBLOCK: a FIFO there must not hang the plugin. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sfs) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (sfs.f_type != NSFS_MAGIC) {
		ret = -EINVAL;
		goto err_close;
	}
	if (fstat(fd, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev) {
		ret = -EEXIST;
		goto err_close;
	}
	*out = fd;
	return 0;

err_close:
	close(fd);
	return ret;
}

/* Unicast, locally administered MACs; n of them from one getrandom. */
static void random_macs(uint8_t (*mac)[6], unsigned n)
{
	uint8_t buf[18];

	if (n > 3)
		n = 3;
	if (getrandom(buf, n * 6, 0) != (ssize_t)(n * 6)) {
		uint64_t t = now_ms() ^ ((uint64_t)getpid() << 20);

		for (unsigned i = 0; i < n * 6; i++)
			buf[i] = (uint8_t)(t >> ((i % 8) * 8)) ^ (uint8_t)(i * 37);
	}
	for (unsigned i = 0; i < n; i++) {
		memcpy(mac[i], buf + i * 6, 6);
		mac[i][0] = (mac[i][0] & 0xfe) | 0x02;
	}
}

static int kernel_fail(struct cni_err *e, struct nl_sock *s, int err, const char *what)
{
	const char *ext = s ? nl_errmsg(s) : "";

	return cni_fail(e, CNI_ERR_INTERNAL, ext, "%s: %s", what, strerror(-err));
}

static uint32_t brd(const struct ip4_net *n)
{
	return htonl(ip4_net_broadcast(n));
}

/* The bridge, up, with the gateway address. Concurrent ADDs race to create
 * it: EEXIST means another one won. */
static int ensure_bridge(struct nl_sock *s, const struct attach_spec *sp, struct nl_link *br,
			 struct cni_err *e)
{
	struct nl_addr a = {.family = AF_INET};
	int ret;

	ret = nl_link_get_name(s, sp->bridge, br);
	if (ret == -ENODEV) {
		struct nl_link l = {.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_MAC | NL_LINK_UP,
				    .up = true};

		strcpy(l.name, sp->bridge);
		strcpy(l.kind, "bridge");
		/* A MAC set at creation stays put when ports come and go. */
		random_macs(&l.mac, 1);
		ret = nl_link_create(s, &l, NLM_F_EXCL);
		if (ret && ret != -EEXIST)
			return kernel_fail(e, s, ret, "creating the bridge");
		ret = nl_link_get_name(s, sp->bridge, br);
	}
	if (ret)
		return kernel_fail(e, s, ret, "reading the bridge");
	if (strcmp(br->kind, "bridge"))
		return cni_fail(e, CNI_ERR_CONFIG, NULL,
				"\"%s\" exists and is not a bridge (kind \"%s\")", sp->bridge,
				br->kind[0] ? br->kind : "none");
	if (!br->up) {
		struct nl_link l = {.ifindex = br->ifindex, .set = NL_LINK_UP, .up = true};

		ret = nl_link_change(s, &l);
		if (ret)
			return kernel_fail(e, s, ret, "setting the bridge up");
	}
	if (sp->has_v6) {
		ret = attach6_bridge_addr(s, br->ifindex, &sp->gateway6, sp->prefix6);
		if (ret)
			return kernel_fail(e, s, ret,
					   "adding the IPv6 gateway address to the bridge");
	}
	if (sp->v6_only)
		return 0;
	a.ifindex = br->ifindex;
	a.addr = htonl(sp->gateway);
	a.prefixlen = sp->addr.prefix;
	a.broadcast = brd(&sp->addr);
	ret = nl_addr_add(s, &a, NLM_F_EXCL);
	if (ret && ret != -EEXIST)
		return kernel_fail(e, s, ret, "adding the gateway address to the bridge");
	return 0;
}

struct batch_err {
	int err;
	unsigned idx;
	char msg[160];
};

static void on_batch_err(unsigned idx, int err, const char *msg, void *data)
{
	struct batch_err *b = data;

	if (b->err)
		return;
	b->err = err;
	b->idx = idx;
	snprintf(b->msg, sizeof(b->msg), "%s", msg);
}

/* The pod's IPv6 address and route, appended to the batch. */
static int add_pod6(struct nl_batch *b, const struct attach_spec *sp, int ifindex)
{
	static const struct in6_addr any = IN6ADDR_ANY_INIT;
	struct nlmsghdr *nlh;
	int ret;

	nlh = nl_batch_msg(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	ret = nlh ? attach6_addr_build(nlh, NL_MSG_MAX, ifindex, &sp->addr6, sp->prefix6) : -ENOMEM;
	if (ret)
		return ret;
	nlh = nl_batch_msg(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	if (!nlh)
		return -ENOMEM;
	if (sp->default_gw)
		return attach6_route_build(nlh, NL_MSG_MAX, &any, 0, &sp->gateway6, ifindex);
	return attach6_route_build(nlh, NL_MSG_MAX, &sp->overlay6, sp->overlay6_prefix,
				   &sp->gateway6, ifindex);
}

/* Pod side in one batch: interface up, lo up, address, route; then the
 * IPv6 address and route. */
static int setup_pod(const struct attach_spec *sp, struct cni_err *e)
{
	static const char *const step[] = {
		"setting the pod interface up", "setting lo up",
		"adding the pod address",	"adding the pod route",
		"adding the pod IPv6 address",	"adding the pod IPv6 route"};
	unsigned first6 = sp->v6_only ? 2 : 4;
	struct nl_link l = {.set = NL_LINK_UP, .up = true}, pod;
	struct nl_route r = {.family = AF_INET,
			     .table = RT_TABLE_MAIN,
			     .protocol = RTPROT_BOOT,
			     .type = RTN_UNICAST};
	struct nl_addr a = {.family = AF_INET};
	struct batch_err be = {0};
	struct nl_batch *b = NULL;
	struct nl_sock *s = NULL;
	struct nlmsghdr *nlh;
	int ret;

	ret = nl_open_netns(&s, sp->netns_fd);
	if (ret)
		return kernel_fail(e, NULL, ret, "opening netlink in the pod namespace");
	ret = nl_link_get_name(s, sp->ifname, &pod);
	if (ret) {
		kernel_fail(e, s, ret, "finding the pod interface");
		goto out;
	}
	ret = nl_batch_new(s, on_batch_err, &be, &b);
	if (ret) {
		kernel_fail(e, s, ret, "netlink batch");
		goto out;
	}
	l.ifindex = pod.ifindex;
	nlh = nl_batch_msg(b, RTM_NEWLINK, 0);
	ret = nlh ? nl_link_build(nlh, NL_MSG_MAX, &l) : -ENOMEM;
	if (!ret) {
		struct nl_link lo = {.set = NL_LINK_NAME | NL_LINK_UP, .up = true};

		strcpy(lo.name, "lo");
		nlh = nl_batch_msg(b, RTM_NEWLINK, 0);
		ret = nlh ? nl_link_build(nlh, NL_MSG_MAX, &lo) : -ENOMEM;
	}
	if (!ret && !sp->v6_only) {
		a.ifindex = pod.ifindex;
		a.addr = htonl(sp->addr.addr);
		a.prefixlen = sp->addr.prefix;
		a.broadcast = brd(&sp->addr);
		nlh = nl_batch_msg(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
		ret = nlh ? nl_addr_build(nlh, NL_MSG_MAX, &a) : -ENOMEM;
	}
	if (!ret && !sp->v6_only) {
		if (!sp->default_gw) {
			struct ip4_net o = ip4_net_canonical(&sp->overlay);

			r.dst = htonl(o.addr);
			r.dst_len = o.prefix;
		}
		r.gw = htonl(sp->gateway);
		r.oif = pod.ifindex;
		nlh = nl_batch_msg(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
		ret = nlh ? nl_route_build(nlh, NL_MSG_MAX, &r) : -ENOMEM;
	}
	if (!ret && sp->has_v6)
		ret = add_pod6(b, sp, pod.ifindex);
	if (ret) {
		kernel_fail(e, s, ret, "building pod requests");
		goto out;
	}
	ret = nl_batch_commit(b);
	if (ret) {
		unsigned i = be.idx < first6 ? be.idx : be.idx - first6 + 4;

		cni_fail(e, CNI_ERR_INTERNAL, be.msg, "%s: %s", step[i < 6 ? i : 5],
			 strerror(-ret));
	}
out:
	nl_batch_free(b);
	nl_close(s);
	return ret ? -1 : 0;
}

/* DAD off for the pod interface before it comes up (IPv6 pods only). */
static int pod_nodad(const struct attach_spec *sp, struct cni_err *e)
{
	int ret = sp->has_v6 ? attach6_pod_nodad(sp->netns_fd, sp->ifname) : 0;

	if (ret)
		return cni_fail(e, CNI_ERR_INTERNAL, NULL,
				"turning off IPv6 DAD in the pod (is IPv6 enabled there?): %s",
				strerror(-ret));
	return 0;
}

/* Forwarding on in the node for each family the pod has. */
static int node_forwarding(const struct attach_spec *sp, struct cni_err *e)
{
	int ret = sp->v6_only ? 0 : attach_sysctl_ensure("/proc/sys/net/ipv4/ip_forward", '1');

	if (ret)
		return cni_fail(e, CNI_ERR_INTERNAL, NULL, "enabling IPv4 forwarding: %s",
				strerror(-ret));
	ret = sp->has_v6 ? attach_sysctl_ensure("/proc/sys/net/ipv6/conf/all/forwarding", '1') : 0;
	if (ret)
		return cni_fail(e, CNI_ERR_INTERNAL, NULL, "enabling IPv6 forwarding: %s",
				strerror(-ret));
	return 0;
}

int attach_add(const struct attach_spec *sp, struct attach_macs *macs, struct cni_err *e)
{
	struct nl_link br, v = {0};
	uint8_t m[2][6];
	struct nl_sock *s = NULL;
	int ret;

	ret = nl_open(&s);
	if (ret)
		return kernel_fail(e, NULL, ret, "opening netlink");
	ret = ensure_bridge(s, sp, &br, e);
	if (ret)
		goto out;
	memcpy(macs->bridge, br.mac, 6);

	v.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_PEER | NL_LINK_MASTER | NL_LINK_MAC |
		NL_LINK_UP;
	if (sp->mtu)
		v.set |= NL_LINK_MTU;
	strcpy(v.name, sp->host_veth);
	strcpy(v.kind, "veth");
	v.mtu = sp->mtu;
	v.master = br.ifindex;
	v.up = true;
	random_macs(m, 2);
	memcpy(macs->host, m[0], 6);
	memcpy(macs->pod, m[1], 6);
	memcpy(v.mac, m[0], 6);
	strcpy(v.peer.name, sp->ifname);
	v.peer.netns_fd = sp->netns_fd;
	v.peer.mtu = sp->mtu;
	v.peer.has_mac = true;
	memcpy(v.peer.mac, macs->pod, 6);
	ret = nl_link_create(s, &v, NLM_F_EXCL);
	if (ret == -EEXIST) {
		struct nl_link old;

		if (nl_link_get_name(s, sp->host_veth, &old) == 0)
			ret = cni_fail(e, CNI_ERR_INTERNAL, old.alias,
				       "attachment exists already (host interface %s)",
				       sp->host_veth);
		else
			ret = cni_fail(e, CNI_ERR_INTERNAL, NULL,
				       "interface \"%s\" exists already in the pod namespace",
				       sp->ifname);
		goto out;
	}
	if (ret) {
		ret = kernel_fail(e, s, ret, "creating the veth pair");
		goto out;
	}

	/* Alias (how DEL and GC recognise the veth) and hairpin need an
	 * existing port: one change. */
	memset(&v, 0, sizeof(v));
	v.set = NL_LINK_NAME | NL_LINK_ALIAS | (sp->hairpin ? NL_LINK_HAIRPIN : 0);
	strcpy(v.name, sp->host_veth);
	str_copy(v.alias, sizeof(v.alias), sp->alias);
	v.hairpin = true;
	ret = nl_link_change(s, &v);
	if (ret) {
		ret = kernel_fail(e, s, ret, "setting alias and hairpin on the host veth");
		goto err_veth;
	}
	ret = pod_nodad(sp, e);
	if (!ret)
		ret = setup_pod(sp, e);
	if (!ret)
		ret = node_forwarding(sp, e);
	if (ret)
		goto err_veth;
	goto out;

err_veth:
	nl_link_del_name(s, sp->host_veth);
out:
	nl_close(s);
	return ret ? -1 : 0;
}

int attach_del(const char *host_veth, const char *alias, struct cni_err *e)
{
	struct nl_sock *s = NULL;
	struct nl_link l;
	int ret;

	ret = nl_open(&s);
	if (ret)
		return kernel_fail(e, NULL, ret, "opening netlink");
	ret = nl_link_get_name(s, host_veth, &l);
	if (ret == -ENODEV) {
		ret = 0;
		goto out;
	}
	if (ret) {
		ret = kernel_fail(e, s, ret, "reading the host veth");
		goto out;
	}
	/* An empty alias is our own veth from an ADD that died half-way. */
	if (l.alias[0] && strcmp(l.alias, alias))
		goto out;
	ret = nl_link_del_index(s, l.ifindex);
	if (ret == -ENODEV)
		ret = 0;
	if (ret)
		ret = kernel_fail(e, s, ret, "deleting the host veth");
out:
	nl_close(s);
	return ret ? -1 : 0;
}

struct find_addr {
	uint32_t addr;
	uint8_t prefix;
	bool found;
};

static int find_addr_cb(const struct nl_addr *a, void *data)
{
	struct find_addr *f = data;

	if (a->addr == f->addr && a->prefixlen == f->prefix)
		f->found = true;
	return 0;
}

struct find_route {
	const struct attach_route *want;
	int oif;
	bool found;
};

static int find_route_cb(const struct nl_route *r, void *data)
{
	struct find_route *f = data;
	struct ip4_net d = ip4_net_canonical(&f->want->dst);

	if (r->dst_len == d.prefix && ntohl(r->dst) == d.addr &&
	    (!f->want->gw || ntohl(r->gw) == f->want->gw))
		f->found = true;
	return 0;
}

static int check_pod6(struct nl_sock *s, const struct attach_spec *sp, int ifindex,
		      const struct attach_route *routes, unsigned n, struct cni_err *e)
{
	char a[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];
	bool found = false;
	int ret;

	ret = attach6_has_addr(s, ifindex, &sp->addr6, sp->prefix6, &found);
	if (ret || !found) {
		inet_ntop(AF_INET6, &sp->addr6, a, sizeof(a));
		return cni_fail(e, CNI_ERR_INTERNAL, NULL,
				"address %s/%u missing (or tentative) on %s in the pod", a,
				sp->prefix6, sp->ifname);
	}
	for (unsigned i = 0; i < n; i++) {
		if (!routes[i].v6)
			continue;
		ret = attach6_has_route(s, &routes[i].dst6, routes[i].len6,
					routes[i].has_gw6 ? &routes[i].gw6 : NULL, &found);
		if (ret || !found) {
			inet_ntop(AF_INET6, &routes[i].dst6, a, sizeof(a));
			inet_ntop(AF_INET6, &routes[i].gw6, g, sizeof(g));
			return cni_fail(e, CNI_ERR_INTERNAL, NULL,
					"route %s/%u via %s missing in the pod", a, routes[i].len6,
					routes[i].has_gw6 ? g : "any");
		}
	}
	return 0;
}

static int check_pod(const struct attach_spec *sp, const struct attach_route *routes, unsigned n,
		     struct cni_err *e)
{
	/* On an IPv6-only node there is no IPv4 address to find. */
	struct find_addr fa = {htonl(sp->addr.addr), sp->addr.prefix, sp->v6_only};
	char buf[IP4_NET_STRLEN], gw[IP4_ADDR_STRLEN];
	struct nl_sock *s = NULL;
	struct nl_link pod;
	int ret;

	ret = nl_open_netns(&s, sp->netns_fd);
	if (ret)
		return kernel_fail(e, NULL, ret, "opening netlink in the pod namespace");
	ret = nl_link_get_name(s, sp->ifname, &pod);
	if (ret) {
		ret = cni_fail(e, CNI_ERR_INTERNAL, NULL,
			       "interface %s missing in the pod namespace", sp->ifname);
		goto out;
	}
	if (!pod.up) {
		ret = cni_fail(e, CNI_ERR_INTERNAL, NULL, "interface %s in the pod is down",
			       sp->ifname);
		goto out;
	}
	/* No reset on a restarted dump: what was seen was there. */
	ret = nl_addr_dump(s, pod.ifindex, find_addr_cb, NULL, &fa);
	if (ret || !fa.found) {
		ip4_format_net(&sp->addr, buf);
		ret = cni_fail(e, CNI_ERR_INTERNAL, NULL, "address %s missing on %s in the pod",
			       buf, sp->ifname);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct find_route fr = {&routes[i], pod.ifindex, false};

		if (routes[i].v6)
			continue;

		ret = nl_route_dump(s, RT_TABLE_MAIN, find_route_cb, NULL, &fr);
		if (ret || !fr.found) {
			ip4_format_net(&routes[i].dst, buf);
			ip4_format_addr(routes[i].gw, gw);
			ret = cni_fail(e, CNI_ERR_INTERNAL, NULL,
				       "route %s via %s missing in the pod", buf,
				       routes[i].gw ? gw : "any");
			goto out;
		}
	}
	if (sp->has_v6)
		ret = check_pod6(s, sp, pod.ifindex, routes, n, e);
out:
	nl_close(s);
	return ret ? -1 : 0;
}

int attach_check(const struct attach_spec *sp, const struct attach_route *routes, unsigned n,
		 struct cni_err *e)
{
	struct nl_sock *s = NULL;
	struct nl_link br, v;
	int ret;

	ret = nl_open(&s);
	if (ret)
		return kernel_fail(e, NULL, ret, "opening netlink");
	ret = nl_link_get_name(s, sp->bridge, &br);
	if (ret || strcmp(br.kind, "bridge")) {
		ret = cni_fail(e, CNI_ERR_INTERNAL, NULL, "bridge %s missing", sp->bridge);
		goto out;
	}
	ret = nl_link_get_name(s, sp->host_veth, &v);
	if (ret || strcmp(v.alias, sp->alias)) {
		ret = cni_fail(e, CNI_ERR_INTERNAL, NULL, "host veth %s of this attachment missing",
			       sp->host_veth);
		goto out;
	}
	if (v.master != br.ifindex) {
		ret = cni_fail(e, CNI_ERR_INTERNAL, NULL, "host veth %s is not a port of %s",
			       sp->host_veth, sp->bridge);
		goto out;
	}
	ret = check_pod(sp, routes, n, e);
out:
	nl_close(s);
	return ret ? -1 : 0;
}

struct gc_link {
	char name[IFNAMSIZ];
	char alias[128];
};

struct gc_ctx {
	int bridge;
	struct gc_link *links;
	size_t n, cap;
};

static int gc_cb(const struct nl_link *l, void *data)
{
	struct gc_ctx *g = data;

	if (l->master != g->bridge || strncmp(l->alias, "weft:", 5))
		return 0;
	if (VEC_RESERVE(g->links, g->cap, g->n + 1, 64) < 0)
		return -ENOMEM;
	strcpy(g->links[g->n].name, l->name);
	strcpy(g->links[g->n].alias, l->alias);
	g->n++;
	return 0;
}

static void gc_reset(void *data)
{
	((struct gc_ctx *)data)->n = 0;
}

int attach_gc(const char *bridge, bool (*keep)(const char *id, const char *ifname, void *data),
	      void *data, unsigned *deleted, struct cni_err *e)
{
	struct gc_ctx g = {0};
	struct nl_sock *s = NULL;
	struct nl_link br;
	int ret, first = 0;

	*deleted = 0;
	ret = nl_open(&s);
	if (ret)
		return kernel_fail(e, NULL, ret, "opening netlink");
	ret = nl_link_get_name(s, bridge, &br);
	if (ret == -ENODEV) {
		ret = 0; /* no bridge, no ports */
		goto out;
	}
	if (ret) {
		ret = kernel_fail(e, s, ret, "reading the bridge");
		goto out;
	}
	g.bridge = br.ifindex;
	ret = nl_link_dump(s, gc_cb, gc_reset, &g);
	if (ret) {
		ret = kernel_fail(e, s, ret, "listing links");
		goto out;
	}
	for (size_t i = 0; i < g.n; i++) {
		char *id = g.links[i].alias + 5, *ifname = strrchr(id, ':');
		char name[IFNAMSIZ];

		if (!ifname)
			continue;
		*ifname++ = '\0';
		/* Provably weft's: a valid alias and the very name ADD derives
		 * from it; any other port of the bridge is not ours to delete. */
		if (!cni_valid_id(id) || !cni_valid_ifname(ifname))
			continue;
		cni_host_veth_name(id, ifname, name);
		if (strcmp(name, g.links[i].name) || keep(id, ifname, data))
			continue;
		ret = nl_link_del_name(s, g.links[i].name);
		if (ret && ret != -ENODEV && !first) {
			first = ret;
			kernel_fail(e, s, ret, "deleting a stale host veth");
		}
		if (!ret)
			(*deleted)++;
	}
	ret = first;
out:
	free(g.links);
	nl_close(s);
	return ret ? -1 : 0;
}
