#include "daemon/dataplane.h"

#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "backend/nft.h"
#include "backend/vxlan.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/health.h"
#include "common/loop.h"
#include "subnet/leasemgr.h"
#include "subnet/vtep.h"

#define RECONCILE_PERIOD_MS   10000
#define RECONCILE_DEBOUNCE_MS 20
#define RECONCILE_RETRY_MS    1000
#define NFT_REFRESH_TICKS     6 /* masquerade table re-applied every minute */
#define FLUSH_LOG_MIN	      300

struct dataplane {
	struct dp_config c;
	struct health *health;
	struct vxlan *vx;
	struct vxlan_conf vc; /* what vx was made with */
	struct loop_timer *t_flush, *t_reconcile, *t_tick;
	bool flush_armed, reconcile_armed;
	bool device_ok, nft_ok, env_written;
	struct ip4_net network, subnet;
	unsigned ticks;
	uint64_t nft_errors;
	struct log_ratelimit rl;
};

/* ------------------------------------------------------------ health */

static bool dp_ready(void *arg, char *why, size_t len)
{
	struct dataplane *dp = arg;
	struct leasemgr_status st;

	leasemgr_get_status(dp->c.lm, &st);
	if (!st.lease_held)
		snprintf(why, len, "no subnet lease yet");
	else if (!dp->device_ok || !dp->nft_ok)
		snprintf(why, len, "data plane not programmed yet");
	else if (!dp->env_written)
		snprintf(why, len, "%s not written yet", dp->c.subnet_file);
	else if (st.peers_stale_ms > LEASEMGR_STALE_MS)
		snprintf(why, len, "peer view not in sync with etcd for %" PRIu64 " s",
			 st.peers_stale_ms / 1000);
	else
		return true;
	return false;
}

/* Peer leases skipped by the acceptance rules, by rule. */
static void dp_metrics_rejected(struct metrics_buf *m, const struct leasemgr_status *ls)
{
	char label[64];

	metrics_family(m, "weft_leases_rejected_total", "counter",
		       "Peer lease values skipped by the acceptance rules, by rule.");
	for (int v = PEER_ACCEPTED + 1; v < PEER_VERDICTS; v++) {
		snprintf(label, sizeof(label), "reason=\"%s\"", peer_verdict_name(v));
		metrics_sample(m, "weft_leases_rejected_total", label,
			       (double)ls->leases_rejected_total[v]);
	}
	metrics_family(m, "weft_leases_rejected", "gauge", "Peer lease keys skipped now, by rule.");
	for (int v = PEER_ACCEPTED + 1; v < PEER_VERDICTS; v++) {
		snprintf(label, sizeof(label), "reason=\"%s\"", peer_verdict_name(v));
		metrics_sample(m, "weft_leases_rejected", label, (double)ls->leases_rejected[v]);
	}
}

static void dp_metrics(void *arg, struct metrics_buf *m)
{
	struct dataplane *dp = arg;
	struct leasemgr_status ls;
	struct vxlan_stats vs = {0};
	char why[128];

	leasemgr_get_status(dp->c.lm, &ls);
	if (dp->vx)
		vxlan_get_stats(dp->vx, &vs);
	metrics_gauge(m, "weft_ready", "1 when the node is ready for pods.",
		      dp_ready(dp, why, sizeof(why)));
	metrics_gauge(m, "weft_lease_held", "1 while the node holds its subnet lease.",
		      ls.lease_held);
	metrics_gauge(m, "weft_lease_expiry_timestamp_seconds",
		      "When the subnet lease expires unless renewed (0: reservation or unknown).",
		      (double)ls.lease_expiry_ms / 1000.0);
	metrics_gauge(m, "weft_etcd_watch_revision", "Last etcd revision the peer watch applied.",
		      (double)ls.watch_revision);
	metrics_counter(m, "weft_etcd_reconnects_total", "Peer watch restarts after a break.",
			(double)ls.etcd_reconnects);
	metrics_counter(m, "weft_etcd_requests_total", "HTTP requests made to etcd.",
			(double)ls.etcd_requests);
	metrics_gauge(m, "weft_etcd_peer_view_stale_seconds",
		      "How long the peer view may have lagged etcd (0: watch up).",
		      (double)ls.peers_stale_ms / 1000.0);
	metrics_counter(m, "weft_etcd_relists_total", "Complete listings of the peer leases.",
			(double)ls.relists);
	metrics_counter(m, "weft_etcd_list_pages_total", "Pages of peer lease listings.",
			(double)ls.list_pages);
	metrics_counter(m, "weft_etcd_list_skipped_total",
			"Keys skipped while listing: the value alone is over the page limit.",
			(double)ls.list_skipped);
	metrics_counter(m, "weft_etcd_list_restarts_total",
			"Listings restarted because their revision was compacted.",
			(double)ls.list_restarts);
	metrics_counter(m, "weft_etcd_watch_oversize_total",
			"Watch messages over the size limit (each makes a re-list).",
			(double)ls.watch_oversize);
	metrics_gauge(m, "weft_peers", "Peer leases in the desired state.", vs.peers);
	metrics_family(m, "weft_kernel_objects", "gauge",
		       "Kernel objects programmed for peers, by kind.");
	metrics_sample(m, "weft_kernel_objects", "kind=\"neigh\"", vs.neighs);
	metrics_sample(m, "weft_kernel_objects", "kind=\"fdb\"", vs.fdbs);
	metrics_sample(m, "weft_kernel_objects", "kind=\"route\"", vs.routes);
	metrics_counter(m, "weft_reconcile_runs_total", "Full kernel comparisons.",
			(double)vs.reconcile_runs);
	metrics_counter(m, "weft_reconcile_fixes_total",
			"Kernel objects a reconcile had to add, replace or remove.",
			(double)vs.reconcile_fixes);
	metrics_counter(m, "weft_netlink_errors_total", "Netlink requests that failed.",
			(double)(vs.netlink_errors + dp->nft_errors));
	metrics_counter(m, "weft_device_creations_total", "Times the VXLAN device was created.",
			(double)vs.device_creations);
	metrics_counter(m, "weft_netlink_event_overflows_total",
			"Netlink event queue overflows (each forces a reconcile).",
			(double)vs.event_overflows);
	metrics_gauge(m, "weft_routes_blocked",
		      "Peer routes not installed because a route weft does not own is in the way.",
		      vs.routes_blocked);
	dp_metrics_rejected(m, &ls);
}

/* Readiness may have changed: systemd and weftd's glue hear of it. */
static void check_ready(struct dataplane *dp)
{
	if (health_check_ready(dp->health) && dp->c.node_ready)
		dp->c.node_ready(dp->c.data);
}

/* ------------------------------------------------------------ backend */

static void arm_reconcile(struct dataplane *dp, uint64_t delay_ms)
{
	if (dp->reconcile_armed)
		return;
	dp->reconcile_armed = true;
	loop_timer_arm(dp->t_reconcile, delay_ms, 0);
}

/* Logs the peers whose route is newly kept out by someone else's route. */
static void report_blocked(struct dataplane *dp, const struct vxlan_stats *before)
{
	struct ip4_net sn[8];
	struct vxlan_stats st;
	char list[8 * (IP4_NET_STRLEN + 1)] = "", s[IP4_NET_STRLEN];
	unsigned n;

	vxlan_get_stats(dp->vx, &st);
	if (st.routes_blocked_total == before->routes_blocked_total)
		return;
	n = vxlan_blocked(dp->vx, sn, 8);
	for (unsigned i = 0; i < n && i < 8; i++) {
		ip4_format_net(&sn[i], s);
		strcat(list, i ? " " : "");
		strcat(list, s);
	}
	log_warn("peer route%s %s%s not installed: a route weft does not own holds the "
		 "destination (it stays; weft installs its own once that route is gone)",
		 n == 1 ? "" : "s", list, n > 8 ? " ..." : "");
}

static void do_reconcile(void *data)
{
	struct dataplane *dp = data;
	struct vxlan_stats before;
	int ret;

	dp->reconcile_armed = false;
	if (!dp->vx)
		return;
	vxlan_get_stats(dp->vx, &before);
	ret = vxlan_reconcile(dp->vx);
	report_blocked(dp, &before);
	if (ret == 0 && !dp->device_ok) {
		dp->device_ok = true;
		log_info("%s programmed", vxlan_ifname(dp->vx));
		if (dp->c.device_ready)
			dp->c.device_ready(dp->c.data);
		check_ready(dp);
	}
	if (ret < 0) {
		if (log_ratelimit_ok(&dp->rl))
			log_err("reconciling %s: %s; retrying", vxlan_ifname(dp->vx),
				strerror(-ret));
		arm_reconcile(dp, RECONCILE_RETRY_MS);
	}
}

static void do_flush(void *data)
{
	struct dataplane *dp = data;
	struct vxlan_stats before, after;
	uint64_t t0;
	int ret;

	dp->flush_armed = false;
	if (!dp->vx)
		return;
	vxlan_get_stats(dp->vx, &before);
	t0 = now_ms();
	ret = vxlan_flush(dp->vx);
	if (ret < 0 && log_ratelimit_ok(&dp->rl))
		log_err("programming peers on %s: %s", vxlan_ifname(dp->vx), strerror(-ret));
	report_blocked(dp, &before);
	vxlan_get_stats(dp->vx, &after);
	/* Bulk changes (a listing, a mass join) are worth a line. */
	if (after.flush_writes - before.flush_writes >= FLUSH_LOG_MIN)
		log_info("wrote %" PRIu64 " kernel objects in %" PRIu64 " ms (%u peers)",
			 after.flush_writes - before.flush_writes, now_ms() - t0, after.peers);
	if (vxlan_reconcile_wanted(dp->vx))
		arm_reconcile(dp, RECONCILE_DEBOUNCE_MS);
}

static void arm_flush(struct dataplane *dp)
{
	if (dp->flush_armed)
		return;
	dp->flush_armed = true;
	loop_timer_arm(dp->t_flush, 0, 0);
}

static void on_netlink_events(void *data, int fd, uint32_t events)
{
	struct dataplane *dp = data;
	int ret = vxlan_handle_events(dp->vx);

	if (ret < 0 && log_ratelimit_ok(&dp->rl))
		log_err("reading netlink events: %s", strerror(-ret));
	if (vxlan_reconcile_wanted(dp->vx))
		arm_reconcile(dp, RECONCILE_DEBOUNCE_MS);
}

static int apply_nft(struct dataplane *dp)
{
	struct nft_conf nc = {
		.network = dp->network.addr,
		.network_len = dp->network.prefix,
		.subnet = dp->subnet.addr,
		.subnet_len = dp->subnet.prefix,
		.fully_random = true,
	};
	int ret = dp->c.ip_masq ? nft_apply(&nc) : nft_remove();

	if (ret < 0)
		dp->nft_errors++;
	dp->nft_ok = ret == 0;
	return ret;
}

static void on_tick(void *data)
{
	struct dataplane *dp = data;
	int ret;

	check_ready(dp);
	if (!dp->vx)
		return;
	arm_reconcile(dp, 0);
	if (++dp->ticks % NFT_REFRESH_TICKS == 0 || !dp->nft_ok) {
		ret = apply_nft(dp);
		if (ret < 0 && log_ratelimit_ok(&dp->rl))
			log_err("nftables table ip weft: %s", strerror(-ret));
		check_ready(dp);
	}
}

/* The on-link underlay network, for DirectRouting. */
static struct ip4_net underlay_net(const struct dataplane *dp)
{
	struct ip4_net n = {0, 0};
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) < 0)
		return n;
	for (i = ifa; i; i = i->ifa_next) {
		uint32_t a, mask;

		if (!i->ifa_addr || !i->ifa_netmask || i->ifa_addr->sa_family != AF_INET ||
		    strcmp(i->ifa_name, dp->c.iface))
			continue;
		a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		mask = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
		if (a != dp->c.public_ip)
			continue;
		n.prefix = (uint8_t)__builtin_popcount(mask);
		n.addr = a & mask;
		break;
	}
	freeifaddrs(ifa);
	return n;
}

static bool conf_equal(const struct vxlan_conf *a, const struct vxlan_conf *b)
{
	return a->vni == b->vni && a->port == b->port && a->public_ip == b->public_ip &&
	       a->underlay_ifindex == b->underlay_ifindex && a->mtu == b->mtu &&
	       ip4_net_equal(&a->underlay, &b->underlay) && ip4_net_equal(&a->subnet, &b->subnet) &&
	       !memcmp(a->mac, b->mac, 6) && a->direct_routing == b->direct_routing;
}

static void refeed_peers(struct dataplane *dp)
{
	const struct leasemgr_peer *peers;
	struct leasemgr_status st;
	size_t n = leasemgr_peers(dp->c.lm, &peers);

	for (size_t i = 0; i < n; i++)
		dp_peer_set(dp, &peers[i].subnet, &peers[i].attrs);
	leasemgr_get_status(dp->c.lm, &st);
	if (st.peers_synced)
		dp_peers_synced(dp);
}

int dp_lease(struct dataplane *dp, const struct netconf *nc, const struct ip4_net *subnet,
	     const struct lease_attrs *own)
{
	struct vxlan_conf vc;
	int ret, nret;

	memset(&vc, 0, sizeof(vc));
	vc.vni = nc->vni;
	vc.port = nc->port;
	vc.public_ip = dp->c.public_ip;
	vc.underlay_ifindex = (int)if_nametoindex(dp->c.iface);
	vc.mtu = (nc->mtu ? nc->mtu : dp->c.underlay_mtu) - VXLAN_OVERHEAD;
	vc.subnet = *subnet;
	vc.direct_routing = nc->direct_routing;

	if (own && own->has_vtep_mac) {
		memcpy(vc.mac, own->vtep_mac, 6);
	} else {
		ret = lease_vtep_mac(dp->c.public_ip, nc->vni, vc.mac);
		if (ret < 0)
			return ret;
	}
	if (vc.direct_routing)
		vc.underlay = underlay_net(dp);
	dp->network = nc->network;
	dp->subnet = *subnet;
	/* The same lease again (after a re-acquire): keep the peer state. */
	if (dp->vx && conf_equal(&vc, &dp->vc)) {
		ret = vxlan_ensure_device(dp->vx);
		dp->device_ok = !ret;
		if (ret)
			arm_reconcile(dp, RECONCILE_RETRY_MS);
		return apply_nft(dp) ?: ret;
	}
	/* Another subnet: start over. The device is adopted and fixed, and the
	 * peers the lease manager knows are handed over again. */
	if (dp->vx) {
		loop_del_fd(dp->c.loop, vxlan_event_fd(dp->vx));
		vxlan_free(dp->vx);
		dp->vx = NULL;
	}
	dp->device_ok = false;
	dp->vc = vc;
	ret = vxlan_new(&vc, &dp->vx);
	if (ret < 0)
		return ret;
	ret = loop_add_fd(dp->c.loop, vxlan_event_fd(dp->vx), EPOLLIN, on_netlink_events, dp);
	if (ret < 0)
		goto err_free;
	/* From here on failures are retried: reconcile recreates the device
	 * and applies the peers, the tick re-applies the table. */
	ret = vxlan_ensure_device(dp->vx);
	dp->device_ok = !ret;
	if (ret)
		arm_reconcile(dp, RECONCILE_RETRY_MS);
	refeed_peers(dp);
	nret = apply_nft(dp);
	if (nret < 0 && !ret)
		ret = nret;
	if (!ret)
		log_info("%s ready (MTU %u)%s", vxlan_ifname(dp->vx), vc.mtu,
			 dp->c.ip_masq ? ", masquerade on" : "");
	return ret;

err_free:
	vxlan_free(dp->vx);
	dp->vx = NULL;
	return ret;
}

void dp_peer_set(struct dataplane *dp, const struct ip4_net *subnet,
		 const struct lease_attrs *attrs)
{
	struct vxlan_peer p = {.subnet = *subnet, .public_ip = attrs->public_ip};
	char s[IP4_NET_STRLEN];
	int ret;

	if (!dp->vx)
		return;
	if (!attrs->has_vtep_mac) {
		/* Without a VTEP MAC nothing can reach the peer: treat as gone. */
		dp_peer_del(dp, subnet);
		return;
	}
	memcpy(p.vtep_mac, attrs->vtep_mac, 6);
	ret = vxlan_peer_set(dp->vx, &p);
	if (ret < 0) {
		ip4_format_net(subnet, s);
		log_warn("peer %s ignored: %s", s, strerror(-ret));
		return;
	}
	arm_flush(dp);
}

void dp_peer_del(struct dataplane *dp, const struct ip4_net *subnet)
{
	if (!dp->vx)
		return;
	vxlan_peer_del(dp->vx, subnet);
	arm_flush(dp);
}

void dp_peers_synced(struct dataplane *dp)
{
	if (!dp->vx)
		return;
	vxlan_peers_synced(dp->vx);
	/* Prune what no peer wants; pending peer changes are applied too. */
	arm_reconcile(dp, RECONCILE_DEBOUNCE_MS);
}

bool dp_device_ready(const struct dataplane *dp)
{
	return dp->vx && dp->device_ok;
}

void dp_subnet_env_written(struct dataplane *dp)
{
	dp->env_written = true;
	check_ready(dp);
}

/* ------------------------------------------------------------ lifecycle */

int dp_new(const struct dp_config *c, struct dataplane **out)
{
	struct health_ops ops = {.ready = dp_ready, .metrics = dp_metrics};
	struct dataplane *dp;
	int ret;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->c = *c;
	dp->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	ops.arg = dp;
	ret = loop_add_timer(c->loop, do_flush, dp, &dp->t_flush);
	if (!ret)
		ret = loop_add_timer(c->loop, do_reconcile, dp, &dp->t_reconcile);
	if (!ret)
		ret = loop_add_timer(c->loop, on_tick, dp, &dp->t_tick);
	if (ret < 0)
		goto err;
	ret = health_start(c->health_addr, &ops, &dp->health);
	if (ret < 0) {
		log_err("--health-addr %s: %s", c->health_addr, strerror(-ret));
		goto err;
	}
	ret = health_attach(dp->health, c->loop);
	if (ret < 0)
		goto err;
	ret = loop_timer_arm(dp->t_tick, RECONCILE_PERIOD_MS, RECONCILE_PERIOD_MS);
	if (ret < 0)
		goto err;
	*out = dp;
	return 0;

err:
	dp_free(dp);
	return ret;
}

void dp_free(struct dataplane *dp)
{
	if (!dp)
		return;
	if (dp->vx) {
		loop_del_fd(dp->c.loop, vxlan_event_fd(dp->vx));
		vxlan_free(dp->vx);
	}
	health_stop(dp->health);
	loop_timer_free(dp->t_flush);
	loop_timer_free(dp->t_reconcile);
	loop_timer_free(dp->t_tick);
	free(dp);
}
