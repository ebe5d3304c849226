/* VXLAN backend: desired peer set, kernel diff and batched apply. See
 * vxlan.h for the model, vxlan_int.h for the files. Kernel objects per
 * peer (non-direct):
 *   neighbour  <peer subnet addr> lladdr <VTEP MAC> nud permanent  dev weft.N
 *   FDB        <VTEP MAC> dst <peer PublicIP> self permanent       dev weft.N
 *   route      <peer subnet> via <peer subnet addr> dev weft.N onlink proto 87
 * This file: lifecycle, sockets and accessors. */
#include "backend/vxlan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <linux/rtnetlink.h>

#include "backend/vxlan_int.h"

#define EV_RCVBUF (16 << 20)

static bool conf_valid(const struct vxlan_conf *c)
{
	if (!c->vni || c->vni > 0xffffff || !c->port)
		return false;
	if (c->family == AF_INET6)
		/* IPv6 needs a link MTU of at least 1280. */
		return ip6_addr_usable(&c->public_ip6) && c->mtu >= 1280 &&
		       ip6_net_is_canonical(&c->subnet6) && c->subnet6.len &&
		       c->subnet6.len <= 128 && !c->direct_routing;
	return (c->family == 0 || c->family == AF_INET) && c->public_ip && c->mtu >= 68 &&
	       ip4_net_is_canonical(&c->subnet) && c->subnet.prefix <= 32;
}

int vxlan_new(const struct vxlan_conf *conf, struct vxlan **out)
{
	int rcvbuf = EV_RCVBUF;
	struct vxlan *v;
	int ret;

	if (!conf_valid(conf))
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->conf = *conf;
	if (!v->conf.family)
		v->conf.family = AF_INET;
	snprintf(v->ifname, sizeof(v->ifname), is6(v) ? "weft-v6.%u" : "weft.%u", conf->vni);
	ret = table_grow(v);
	if (ret)
		goto err_free;
	ret = nl_open(&v->req);
	if (!ret)
		ret = nl_open(&v->dump);
	if (!ret)
		ret = nl_open(&v->ev);
	if (ret)
		goto err_free;
	/* Our own batches produce one event per object: make room, and
	 * overflow still only costs a full reconcile. */
	if (setsockopt(nl_fd(v->ev), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(nl_fd(v->ev), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ret = nl_subscribe(v->ev, RTNLGRP_LINK);
	if (!ret)
		ret = nl_subscribe(v->ev, RTNLGRP_NEIGH);
	if (!ret)
		ret = nl_subscribe(v->ev, is6(v) ? RTNLGRP_IPV6_ROUTE : RTNLGRP_IPV4_ROUTE);
	if (!ret)
		ret = nl_subscribe(v->ev, is6(v) ? RTNLGRP_IPV6_IFADDR : RTNLGRP_IPV4_IFADDR);
	if (ret)
		goto err_free;
	*out = v;
	return 0;

err_free:
	vxlan_free(v);
	return ret;
}

void vxlan_free(struct vxlan *v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < v->nbuckets; i++) {
		struct peer *p = v->by_subnet[i], *next;

		for (; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	free(v->by_subnet);
	free(v->by_mac);
	nl_close(v->req);
	nl_close(v->dump);
	nl_close(v->ev);
	free(v);
}

const char *vxlan_ifname(const struct vxlan *v)
{
	return v->ifname;
}

int vxlan_ifindex(const struct vxlan *v)
{
	return v->ifindex;
}

int vxlan_event_fd(const struct vxlan *v)
{
	return nl_fd(v->ev);
}

bool vxlan_reconcile_wanted(const struct vxlan *v)
{
	return v->want_reconcile || v->want_device;
}
