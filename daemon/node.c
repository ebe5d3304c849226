#include "daemon/node.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "backend/vxlan.h"
#include "backend/vxlan_mac.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/cnifiles.h"
#include "daemon/dataplane.h"
#include "daemon/health.h"
#include "common/loop.h"
#include "daemon/metrics.h"
#include "daemon/underlay.h"
#include "subnet/subnetenv.h"

#define UPDATE_PERIOD_MS 10000 /* readiness can change without an event */
#define ENV_RETRY_MS	 2000

struct node {
	struct node_config c;
	struct leasemgr *lm;
	struct dataplane *dp;
	struct health *health;
	struct loop_timer *t_update;
	bool env_written;
};

/* The one place the overlay MTUs come from: the devices and FLANNEL_MTU. */
static unsigned overlay_mtu(const struct node *n, const struct netconf *nc)
{
	return (nc->mtu ? nc->mtu : n->c.ul->mtu) - VXLAN_OVERHEAD;
}

static unsigned overlay_mtu6(const struct node *n, const struct netconf *nc)
{
	return (nc->mtu ? nc->mtu : n->c.ul->mtu) - VXLAN6_OVERHEAD;
}

/* FLANNEL_MTU: a pod's one interface carries every family of the lease, so
 * with IPv6 it fits the IPv6 tunnel. */
static unsigned pod_mtu(const struct node *n, const struct netconf *nc, const struct lease_key *k)
{
	return k->has_v6 ? overlay_mtu6(n, nc) : overlay_mtu(n, nc);
}

/* The BackendData this node publishes: the VXLAN backend's VNI and VtepMAC,
 * and with IPv6 on, BackendV6Data from the public IPv6 address. */
int node_backend_data(void *data, const struct netconf *nc, struct lease_attrs *attrs)
{
	struct node *n = data;
	int ret = vxlan_vtep_mac(n->c.ul->public_ip, nc->vni, attrs->vtep_mac);

	attrs->vni = nc->vni;
	attrs->has_vtep_mac = ret == 0;
	if (ret == 0 && nc->enable_ipv6 && n->c.ul->has_public_ipv6) {
		ret = vxlan_vtep_mac6(&n->c.ul->public_ipv6, nc->vni, attrs->vtep_mac6);
		attrs->vni6 = nc->vni;
		attrs->has_vtep_mac6 = ret == 0;
	}
	return ret;
}

/* ------------------------------------------------------------ readiness */

/* Every family of the lease has its device and table in place. NULL why:
 * just the answer. */
static bool dp_families_ok(const struct leasemgr_status *st, const struct dp_stats *ds, char *why,
			   size_t len)
{
	const struct dp_family_stats *f[2] = {st->key.has_v4 ? &ds->v4 : NULL,
					      st->key.has_v6 ? &ds->v6 : NULL};
	const char *table[2] = {"ip weft", "ip6 weft"};

	for (int i = 0; i < 2; i++) {
		if (!f[i])
			continue;
		if (!f[i]->present || !f[i]->device_ok) {
			if (why)
				snprintf(why, len, "data plane not programmed yet");
			return false;
		}
		if (!f[i]->nft_ok) {
			if (why)
				snprintf(why, len,
					 "data plane not programmed yet: nftables table %s: %s",
					 table[i], strerror(-f[i]->nft_err));
			return false;
		}
	}
	return ds->device_ok && ds->nft_ok;
}

static bool node_ready(void *arg, char *why, size_t len)
{
	struct node *n = arg;
	struct leasemgr_status st;
	struct dp_stats ds;

	if (!n->lm) {
		snprintf(why, len, "starting");
		return false;
	}
	leasemgr_get_status(n->lm, &st);
	dp_get_stats(n->dp, &ds);
	if (!st.lease_held)
		snprintf(why, len, "no subnet lease yet");
	else if (!dp_families_ok(&st, &ds, why, len))
		; /* why is set */
	else if (!n->env_written)
		snprintf(why, len, "%s not written yet", n->c.subnet_file);
	else if (st.peers_stale_ms > LEASEMGR_STALE_MS)
		snprintf(why, len, "peer view not in sync with etcd for %" PRIu64 " s",
			 st.peers_stale_ms / 1000);
	else
		return true;
	return false;
}

static void node_metrics(void *arg, struct metrics_buf *m)
{
	struct node *n = arg;
	struct leasemgr_status ls = {0};
	struct dp_stats ds;
	char why[200];

	if (n->lm)
		leasemgr_get_status(n->lm, &ls);
	dp_get_stats(n->dp, &ds);
	node_metrics_write(m, node_ready(n, why, sizeof(why)), &ls, &ds);
}

/* ---------------------------------------------------------- subnet.env */

/* subnet.env promises a working node to the CNI plugin (and flannel's
 * tooling): it is written only once the lease is held and the device and
 * the table of each of its families are in place. */
static void write_subnet_env(struct node *n)
{
	const struct netconf *nc = leasemgr_netconf(n->lm);
	struct leasemgr_status st;
	struct subnet_env env;
	struct dp_stats ds;
	char s[IP6_NET_STRLEN];
	int ret;

	leasemgr_get_status(n->lm, &st);
	dp_get_stats(n->dp, &ds);
	if (!nc || !st.lease_held || !dp_families_ok(&st, &ds, NULL, 0))
		return;
	env = (struct subnet_env){
		.network = nc->network,
		.subnet = {st.subnet.addr + 1, st.subnet.prefix},
		.mtu = pod_mtu(n, nc, &st.key),
		.ipmasq = n->c.ip_masq,
		.v6_only = !st.key.has_v4,
		.has_v6 = st.key.has_v6,
	};
	if (st.key.has_v6) {
		/* The gateway: the subnet's ::1. */
		env.network6 = nc->ipv6_network;
		env.subnet6 = st.key.v6;
		env.subnet6.addr.s6_addr[15] |= 1;
	}
	ret = subnetenv_write(n->c.subnet_file, &env);
	if (ret < 0) {
		log_err("cannot write %s: %s; retrying", n->c.subnet_file, strerror(-ret));
		loop_timer_arm(n->t_update, ENV_RETRY_MS, UPDATE_PERIOD_MS);
		return;
	}
	n->env_written = true;
	if (env.v6_only)
		ip6_format_net(&env.subnet6, s);
	else
		ip4_format_net(&env.subnet, s);
	log_info("wrote %s (%s=%s FLANNEL_MTU=%u)", n->c.subnet_file,
		 env.v6_only ? "FLANNEL_IPV6_SUBNET" : "FLANNEL_SUBNET", s, env.mtu);
}

/* Something readiness depends on may have changed. */
static void node_update(struct node *n)
{
	int ret;

	if (!n->lm)
		return;
	if (!n->env_written)
		write_subnet_env(n);
	/* The first time it holds, health tells systemd. */
	if (!health_check_ready(n->health) || !n->c.cni)
		return;
	ret = cnifiles_activate(n->c.cni);
	if (ret < 0)
		log_err("cannot watch the CNI files: %s", strerror(-ret));
}

static void on_update_timer(void *data)
{
	node_update(data);
}

static void on_dp_changed(void *data)
{
	node_update(data);
}

/* ----------------------------------------------------- lease callbacks */

static void on_config(void *data, const struct netconf *nc)
{
	struct node *n = data;
	char s[IP6_NET_STRLEN];

	if (nc->enable_ipv4) {
		ip4_format_net(&nc->network, s);
		log_info("network %s, subnets /%u, VNI %u, port %u, overlay MTU %u", s,
			 nc->subnet_len, nc->vni, nc->port, overlay_mtu(n, nc));
	}
	if (nc->enable_ipv6) {
		ip6_format_net(&nc->ipv6_network, s);
		log_info("IPv6 network %s, subnets /%u, VNI %u, port %u, overlay MTU %u", s,
			 nc->ipv6_subnet_len, nc->vni, nc->port, overlay_mtu6(n, nc));
	}
}

static void hand_over_peers(struct node *n);

/* The IPv4 device and table for the lease's IPv4 subnet. */
static int lease4(struct node *n, const struct netconf *nc, const struct lease_key *key,
		  const struct lease_attrs *attrs)
{
	const struct underlay *ul = n->c.ul;
	struct vxlan_conf vc = {
		.vni = nc->vni,
		.port = nc->port,
		.public_ip = ul->public_ip,
		.underlay_ifindex = ul->ifindex,
		.mtu = overlay_mtu(n, nc),
		.subnet = key->v4,
		.direct_routing = nc->direct_routing,
	};
	int ret = 0;

	if (vc.direct_routing)
		vc.underlay = ul->net;
	if (attrs && attrs->has_vtep_mac)
		memcpy(vc.mac, attrs->vtep_mac, 6);
	else
		ret = vxlan_vtep_mac(ul->public_ip, nc->vni, vc.mac);
	return ret < 0 ? ret : dp_lease(n->dp, &vc, &nc->network);
}

/* The IPv6 ones (weft-v6.<VNI>, ip6 weft) for its IPv6 subnet. */
static int lease6(struct node *n, const struct netconf *nc, const struct lease_key *key,
		  const struct lease_attrs *attrs)
{
	const struct underlay *ul = n->c.ul;
	struct vxlan_conf vc6 = {
		.family = AF_INET6,
		.vni = nc->vni,
		.port = nc->port,
		.underlay_ifindex = ul->ifindex,
		.mtu = overlay_mtu6(n, nc),
		.public_ip6 = ul->public_ipv6,
		.subnet6 = key->v6,
	};
	int ret = 0;

	if (attrs && attrs->has_vtep_mac6)
		memcpy(vc6.mac, attrs->vtep_mac6, 6);
	else
		ret = vxlan_vtep_mac6(&ul->public_ipv6, nc->vni, vc6.mac);
	return ret < 0 ? ret : dp_lease6(n->dp, &vc6, &nc->ipv6_network);
}

/* The data plane of each family of the lease: an IPv6-only lease has no
 * IPv4 device, an IPv4-only one (no PublicIPv6) no IPv6 device. */
static void on_lease_acquired(void *data, const struct lease_key *key,
			      const struct lease_attrs *attrs)
{
	struct node *n = data;
	const struct netconf *nc = leasemgr_netconf(n->lm);
	struct dp_stats ds;
	int r4 = 0, r6 = 0;

	if (!nc) /* a lease comes only after the config */
		return;
	/* A new lease may be other subnets: subnet.env follows it. */
	n->env_written = false;
	if (key->has_v4) {
		r4 = lease4(n, nc, key, attrs);
		if (r4 < 0)
			log_err("IPv4 data plane setup for the lease failed: %s", strerror(-r4));
	}
	dp_get_stats(n->dp, &ds);
	if (key->has_v6) {
		r6 = lease6(n, nc, key, attrs);
		if (r6 < 0)
			log_err("IPv6 data plane setup for the lease failed: %s", strerror(-r6));
	} else if (ds.v6.present) {
		dp_lease6(n->dp, NULL, NULL);
	}
	if (r4 > 0 || r6 > 0)
		hand_over_peers(n);
	node_update(n);
}

static void on_lease_lost(void *data, const struct lease_key *key)
{
	/* subnet.env stays: pods keep their addresses while the lease manager
	 * re-acquires; readiness follows its status. */
	node_update(data);
}

static void log_peer(const char *what, const struct lease_key *key, const struct lease_attrs *attrs)
{
	char s[IP4_NET_STRLEN], ip[IP4_ADDR_STRLEN] = "-", mac[MAC_STRLEN] = "-";
	char s6[IP6_NET_STRLEN], ip6[IP6_ADDR_STRLEN] = "-", mac6[MAC_STRLEN] = "-";

	if (!log_enabled(WLOG_DEBUG))
		return;
	if (key->has_v4) {
		ip4_format_net(&key->v4, s);
		if (attrs) {
			ip4_format_addr(attrs->public_ip, ip);
			if (attrs->has_vtep_mac)
				mac_format(attrs->vtep_mac, mac);
		}
		log_debug("peer %s: %s via %s (VTEP %s)", what, s, ip, mac);
	}
	if (key->has_v6) {
		ip6_format_net(&key->v6, s6);
		if (attrs) {
			ip6_format_addr(&attrs->public_ipv6, ip6);
			if (attrs->has_vtep_mac6)
				mac_format(attrs->vtep_mac6, mac6);
		}
		log_debug("peer %s: %s via %s (VTEP %s)", what, s6, ip6, mac6);
	}
}

static void peer_set4(struct node *n, const struct lease_key *key, const struct lease_attrs *attrs)
{
	struct vxlan_peer p = {.subnet = key->v4, .public_ip = attrs->public_ip};
	char s[IP4_NET_STRLEN];
	int ret;

	if (!attrs->has_vtep_mac) {
		/* Without a VTEP MAC nothing can reach the peer: treat as gone. */
		dp_peer_del(n->dp, &key->v4);
		return;
	}
	memcpy(p.vtep_mac, attrs->vtep_mac, 6);
	ret = dp_peer_set(n->dp, &p);
	if (ret < 0) {
		ip4_format_net(&key->v4, s);
		log_warn("peer %s ignored: %s", s, strerror(-ret));
	}
}

static void peer_set6(struct node *n, const struct lease_key *key, const struct lease_attrs *attrs)
{
	struct vxlan_peer p = {.subnet6 = key->v6, .public_ip6 = attrs->public_ipv6};
	char s[IP6_NET_STRLEN];
	int ret;

	if (!attrs->has_vtep_mac6) {
		dp_peer_del6(n->dp, &key->v6);
		return;
	}
	memcpy(p.vtep_mac, attrs->vtep_mac6, 6);
	ret = dp_peer_set(n->dp, &p);
	if (ret < 0) {
		ip6_format_net(&key->v6, s);
		log_warn("peer %s ignored: %s", s, strerror(-ret));
	}
}

/* Each family of the peer's key to that family's data plane, which ignores
 * it while this node has no lease of the family: nodes program each other
 * only in the families both have. */
static void peer_set(struct node *n, const struct lease_key *key, const struct lease_attrs *attrs)
{
	if (key->has_v4)
		peer_set4(n, key, attrs);
	if (key->has_v6)
		peer_set6(n, key, attrs);
}

/* A new backend knows no peers yet: all the lease manager knows. */
static void hand_over_peers(struct node *n)
{
	const struct leasemgr_peer *peers;
	struct leasemgr_status st;
	size_t count = leasemgr_peers(n->lm, &peers);

	for (size_t i = 0; i < count; i++)
		peer_set(n, &peers[i].key, &peers[i].attrs);
	leasemgr_get_status(n->lm, &st);
	if (st.peers_synced)
		dp_peers_synced(n->dp);
}

static void on_peer_added(void *data, const struct lease_key *key, const struct lease_attrs *attrs)
{
	log_peer("added", key, attrs);
	peer_set(data, key, attrs);
}

static void on_peer_updated(void *data, const struct lease_key *key,
			    const struct lease_attrs *attrs)
{
	log_peer("updated", key, attrs);
	peer_set(data, key, attrs);
}

static void on_peer_removed(void *data, const struct lease_key *key)
{
	struct node *n = data;

	log_peer("removed", key, NULL);
	if (key->has_v4)
		dp_peer_del(n->dp, &key->v4);
	if (key->has_v6)
		dp_peer_del6(n->dp, &key->v6);
}

static void on_peers_synced(void *data)
{
	struct node *n = data;

	dp_peers_synced(n->dp);
}

static void on_fatal(void *data, int err, const char *why)
{
	struct node *n = data;

	log_err("%s", why);
	loop_stop(n->c.loop, 1);
}

const struct leasemgr_ops node_lease_ops = {
	.on_config = on_config,
	.on_lease_acquired = on_lease_acquired,
	.on_lease_lost = on_lease_lost,
	.on_peer_added = on_peer_added,
	.on_peer_updated = on_peer_updated,
	.on_peer_removed = on_peer_removed,
	.on_peers_synced = on_peers_synced,
	.on_fatal = on_fatal,
};

/* ------------------------------------------------------------ lifecycle */

static int start_health(struct node *n)
{
	const struct health_ops ops = {.ready = node_ready, .metrics = node_metrics, .arg = n};
	int ret;

	ret = health_start(n->c.health_addr, &ops, &n->health);
	if (ret < 0) {
		log_err("--health-addr %s: %s", n->c.health_addr, strerror(-ret));
		return ret;
	}
	ret = health_attach(n->health, n->c.loop);
	if (ret < 0)
		log_err("cannot serve --health-addr %s: %s", n->c.health_addr, strerror(-ret));
	return ret;
}

int node_new(const struct node_config *c, struct node **out)
{
	struct node *n;
	int ret;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->c = *c;
	ret = dp_new(&(struct dp_config){.loop = c->loop,
					 .ip_masq = c->ip_masq,
					 .changed = on_dp_changed,
					 .data = n},
		     &n->dp);
	if (ret >= 0)
		ret = loop_add_timer(c->loop, on_update_timer, n, &n->t_update);
	if (ret >= 0)
		ret = loop_timer_arm(n->t_update, UPDATE_PERIOD_MS, UPDATE_PERIOD_MS);
	if (ret < 0)
		log_err("cannot set up the data plane: %s", strerror(-ret));
	else
		ret = start_health(n);
	if (ret < 0) {
		node_free(n);
		return ret;
	}
	*out = n;
	return 0;
}

void node_set_leasemgr(struct node *n, struct leasemgr *lm)
{
	n->lm = lm;
}

void node_free(struct node *n)
{
	if (!n)
		return;
	health_stop(n->health);
	dp_free(n->dp);
	loop_timer_free(n->t_update);
	free(n);
}
