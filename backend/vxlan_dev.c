/* VXLAN backend device: create, adopt or recreate weft.<VNI>, fix its
 * MTU, MAC and address, and check it after events. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "backend/vxlan_int.h"

static int device_create(struct vxlan *v, struct nl_link *got)
{
	struct nl_link l = {
		.set = NL_LINK_NAME | NL_LINK_KIND | NL_LINK_MTU | NL_LINK_MAC | NL_LINK_VXLAN,
		.mtu = v->conf.mtu,
		.vxlan = {.set = NL_VXLAN_ID | NL_VXLAN_PORT | NL_VXLAN_LEARNING |
				 (is6(v) ? NL_VXLAN_LOCAL6 : NL_VXLAN_LOCAL),
			  .vni = v->conf.vni,
			  .local = htonl(v->conf.public_ip),
			  .local6 = v->conf.public_ip6,
			  .port = v->conf.port,
			  .learning = false},
	};
	int ret;

	memcpy(l.name, v->ifname, sizeof(l.name));
	memcpy(l.kind, "vxlan", sizeof("vxlan"));
	memcpy(l.mac, v->conf.mac, 6);
	if (v->conf.underlay_ifindex) {
		l.vxlan.set |= NL_VXLAN_LINK;
		l.vxlan.link = v->conf.underlay_ifindex;
	}
	ret = nl_link_create(v->req, &l, NLM_F_EXCL);
	if (ret)
		return ret;
	v->st.device_creations++;
	return nl_link_get_name(v->req, v->ifname, got);
}

struct addr_scan {
	const struct vxlan *v;
	bool found;
	unsigned nstale;
	struct nl_addr stale[8];
};

static int addr_cb(const struct nl_addr *a, void *data)
{
	struct addr_scan *s = data;

	if (addr_matches(s->v, a)) {
		s->found = true;
		return 0;
	}
	if (addr_kernels(a))
		return 0;
	/* The device is weft's: no other address of the family belongs on it. */
	if (s->nstale < sizeof(s->stale) / sizeof(s->stale[0]))
		s->stale[s->nstale++] = *a;
	return 0;
}

static void addr_reset(void *data)
{
	struct addr_scan *s = data;

	s->found = false;
	s->nstale = 0;
}

static int device_address(struct vxlan *v)
{
	struct addr_scan s = {.v = v};
	/* No duplicate address detection: the address is this node's alone. */
	struct nl_addr a = {
		.family = vxlan_family(v),
		.ifindex = v->ifindex,
		.addr = htonl(v->conf.subnet.addr),
		.addr6 = v->conf.subnet6.addr,
		.prefixlen = is6(v) ? 128 : 32,
		.scope = RT_SCOPE_UNIVERSE,
		.flags = is6(v) ? IFA_F_NODAD : 0,
	};
	int ret;

	ret = nl_addr_dump_family(v->dump, a.family, v->ifindex, addr_cb, addr_reset, &s);
	if (ret)
		return ret;
	for (unsigned i = 0; i < s.nstale; i++) {
		ret = nl_addr_del(v->req, &s.stale[i]);
		if (ret && ret != -EADDRNOTAVAIL)
			return ret;
	}
	if (s.found)
		return 0;
	ret = nl_addr_add(v->req, &a, NLM_F_REPLACE);
	return ret == -EEXIST ? 0 : ret;
}

/* Every kernel object on the device went with it. */
static void forget_device_objects(struct vxlan *v)
{
	for (unsigned i = 0; i < v->nbuckets; i++) {
		for (struct peer *p = v->by_subnet[i]; p; p = p->next) {
			p->ok &= ~(OBJ_NEIGH | OBJ_FDB);
			if (!p->applied_direct)
				p->ok &= ~OBJ_ROUTE;
		}
	}
}

int vxlan_ensure_device(struct vxlan *v)
{
	struct nl_link l;
	int ret;

	ret = nl_link_get_name(v->req, v->ifname, &l);
	if (ret == 0 && !device_compatible(v, &l)) {
		/* VNI, local address or port cannot change on a live link. */
		ret = nl_link_del_index(v->req, l.ifindex);
		if (ret && ret != -ENODEV)
			return ret;
		ret = -ENODEV;
	}
	if (ret == -ENODEV) {
		forget_device_objects(v);
		ret = device_create(v, &l);
	}
	if (ret)
		return ret;
	if (v->ifindex && v->ifindex != l.ifindex)
		forget_device_objects(v);
	v->ifindex = l.ifindex;
	if (!device_settled(v, &l)) {
		struct nl_link c = {
			.set = NL_LINK_MTU | NL_LINK_MAC, .ifindex = l.ifindex, .mtu = v->conf.mtu};

		memcpy(c.mac, v->conf.mac, 6);
		ret = nl_link_change(v->req, &c);
		if (ret == -EBUSY) {
			/* The MAC of a running device is fixed: start over. */
			ret = nl_link_del_index(v->req, l.ifindex);
			if (!ret) {
				forget_device_objects(v);
				ret = device_create(v, &l);
			}
			if (!ret)
				v->ifindex = l.ifindex;
		}
		if (ret)
			return ret;
	}
	ret = device_address(v);
	if (ret)
		return ret;
	if (!l.up) {
		struct nl_link c = {.set = NL_LINK_UP, .ifindex = l.ifindex, .up = true};

		/* Entries do not survive a down device. */
		forget_device_objects(v);
		ret = nl_link_change(v->req, &c);
		if (ret)
			return ret;
	}
	v->want_device = false;
	return 0;
}

static int addr_ok_cb(const struct nl_addr *a, void *data)
{
	struct addr_scan *s = data;

	if (addr_matches(s->v, a))
		s->found = true;
	else if (!addr_kernels(a))
		s->nstale++;
	return 0;
}

/* Events describe the past, possibly before weft's own last fix: look at
 * the device as it is now. */
bool device_ok(struct vxlan *v)
{
	struct addr_scan s = {.v = v};
	struct nl_link l;

	if (nl_link_get_name(v->req, v->ifname, &l) || l.ifindex != v->ifindex || !l.up ||
	    !device_compatible(v, &l) || !device_settled(v, &l))
		return false;
	if (nl_addr_dump_family(v->dump, vxlan_family(v), v->ifindex, addr_ok_cb, addr_reset, &s))
		return false;
	return s.found && !s.nstale;
}
