#include "daemon/dataplane.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "backend/nft.h"
#include "common/log.h"
#include "common/util.h"
#include "common/loop.h"

#define RECONCILE_PERIOD_MS   10000
#define RECONCILE_DEBOUNCE_MS 20
#define RECONCILE_RETRY_MS    1000
#define NFT_RETRY_MS	      1000
#define NFT_REFRESH_TICKS     6 /* table ip weft re-applied every minute */
#define FLUSH_LOG_MIN	      300

struct dataplane {
	struct dp_config c;
	struct vxlan *vx;
	struct vxlan_conf vc; /* what vx was made with */
	struct ip4_net network;
	struct loop_timer *t_flush, *t_reconcile, *t_tick, *t_nft;
	bool flush_armed, reconcile_armed;
	bool device_ok, nft_ok;
	int nft_err;
	unsigned ticks;
	uint64_t nft_errors;
	struct log_ratelimit rl;
};

static void notify(struct dataplane *dp)
{
	if (dp->c.changed)
		dp->c.changed(dp->c.data);
}

static void set_device_ok(struct dataplane *dp, bool ok)
{
	if (ok == dp->device_ok)
		return;
	dp->device_ok = ok;
	if (ok)
		log_info("%s programmed", vxlan_ifname(dp->vx));
	notify(dp);
}

/* ------------------------------------------------------------ nftables */

static void apply_nft(struct dataplane *dp)
{
	struct nft_conf nc = {
		.network = dp->network.addr,
		.network_len = dp->network.prefix,
		.subnet = dp->vc.subnet.addr,
		.subnet_len = dp->vc.subnet.prefix,
		.fully_random = true,
	};
	struct nft_err e;
	int ret = dp->c.ip_masq ? nft_apply(&nc, &e) : nft_remove(&e);
	bool was_ok = dp->nft_ok;

	dp->nft_err = ret;
	dp->nft_ok = ret == 0;
	if (ret < 0) {
		dp->nft_errors++;
		if (log_ratelimit_ok(&dp->rl))
			log_err("nftables table ip weft: %s: %s%s%s; retrying", e.what,
				strerror(-ret), e.msg[0] ? ": " : "", e.msg);
		loop_timer_arm(dp->t_nft, NFT_RETRY_MS, 0);
	} else if (!was_ok && dp->nft_errors) {
		log_info("nftables table ip weft %s", dp->c.ip_masq ? "applied" : "removed");
	}
	if (was_ok != dp->nft_ok)
		notify(dp);
}

static void on_nft_retry(void *data)
{
	struct dataplane *dp = data;

	if (dp->vx && !dp->nft_ok)
		apply_nft(dp);
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
	struct vxlan_peer sn[8];
	struct vxlan_stats st;
	char list[8 * (IP6_NET_STRLEN + 1)] = "", s[IP6_NET_STRLEN];
	unsigned n;

	vxlan_get_stats(dp->vx, &st);
	if (st.routes_blocked_total == before->routes_blocked_total)
		return;
	n = vxlan_blocked(dp->vx, sn, 8);
	for (unsigned i = 0; i < n && i < 8; i++) {
		if (vxlan_family(dp->vx) == AF_INET6)
			ip6_format_net(&sn[i].subnet6, s);
		else
			ip4_format_net(&sn[i].subnet, s);
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
	if (ret == 0)
		set_device_ok(dp, true);
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

static void on_tick(void *data)
{
	struct dataplane *dp = data;

	if (!dp->vx)
		return;
	arm_reconcile(dp, 0);
	if (++dp->ticks % NFT_REFRESH_TICKS == 0)
		apply_nft(dp);
}

static bool conf_equal(const struct vxlan_conf *a, const struct vxlan_conf *b)
{
	return a->vni == b->vni && a->port == b->port && a->public_ip == b->public_ip &&
	       a->underlay_ifindex == b->underlay_ifindex && a->mtu == b->mtu &&
	       ip4_net_equal(&a->underlay, &b->underlay) && ip4_net_equal(&a->subnet, &b->subnet) &&
	       !memcmp(a->mac, b->mac, 6) && a->direct_routing == b->direct_routing;
}

static void drop_backend(struct dataplane *dp)
{
	if (!dp->vx)
		return;
	loop_del_fd(dp->c.loop, vxlan_event_fd(dp->vx));
	vxlan_free(dp->vx);
	dp->vx = NULL;
}

/* The device now; failures are retried by the reconcile. */
static void ensure_device(struct dataplane *dp)
{
	int ret = vxlan_ensure_device(dp->vx);

	if (ret < 0) {
		if (log_ratelimit_ok(&dp->rl))
			log_err("setting up %s: %s; retrying", vxlan_ifname(dp->vx),
				strerror(-ret));
		arm_reconcile(dp, RECONCILE_RETRY_MS);
	}
	set_device_ok(dp, ret == 0);
}

int dp_lease(struct dataplane *dp, const struct vxlan_conf *vc, const struct ip4_net *network)
{
	bool fresh = !dp->vx || !conf_equal(vc, &dp->vc);
	int ret;

	dp->network = *network;
	/* Another subnet or device: start over. The device is adopted and
	 * fixed; the caller hands the peers over again. */
	if (fresh) {
		drop_backend(dp);
		set_device_ok(dp, false);
		dp->vc = *vc;
		ret = vxlan_new(vc, &dp->vx);
		if (ret < 0)
			return ret;
		ret = loop_add_fd(dp->c.loop, vxlan_event_fd(dp->vx), EPOLLIN, on_netlink_events,
				  dp);
		if (ret < 0) {
			drop_backend(dp);
			return ret;
		}
	}
	ensure_device(dp);
	apply_nft(dp);
	if (dp->device_ok && dp->nft_ok && fresh)
		log_info("%s ready (MTU %u)%s", vxlan_ifname(dp->vx), vc->mtu,
			 dp->c.ip_masq ? ", masquerade on" : "");
	return fresh;
}

int dp_peer_set(struct dataplane *dp, const struct vxlan_peer *p)
{
	int ret;

	if (!dp->vx)
		return 0;
	ret = vxlan_peer_set(dp->vx, p);
	if (ret == 0)
		arm_flush(dp);
	return ret;
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

void dp_get_stats(const struct dataplane *dp, struct dp_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->device_ok = dp->vx && dp->device_ok;
	out->nft_ok = dp->nft_ok;
	out->nft_err = dp->nft_err;
	out->nft_errors = dp->nft_errors;
	if (dp->vx)
		vxlan_get_stats(dp->vx, &out->vx);
}

/* ------------------------------------------------------------ lifecycle */

int dp_new(const struct dp_config *c, struct dataplane **out)
{
	struct dataplane *dp;
	int ret;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->c = *c;
	dp->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	ret = loop_add_timer(c->loop, do_flush, dp, &dp->t_flush);
	if (!ret)
		ret = loop_add_timer(c->loop, do_reconcile, dp, &dp->t_reconcile);
	if (!ret)
		ret = loop_add_timer(c->loop, on_tick, dp, &dp->t_tick);
	if (!ret)
		ret = loop_add_timer(c->loop, on_nft_retry, dp, &dp->t_nft);
	if (!ret)
		ret = loop_timer_arm(dp->t_tick, RECONCILE_PERIOD_MS, RECONCILE_PERIOD_MS);
	if (ret < 0) {
		dp_free(dp);
		return ret;
	}
	*out = dp;
	return 0;
}

void dp_free(struct dataplane *dp)
{
	if (!dp)
		return;
	drop_backend(dp);
	loop_timer_free(dp->t_flush);
	loop_timer_free(dp->t_reconcile);
	loop_timer_free(dp->t_tick);
	loop_timer_free(dp->t_nft);
	free(dp);
}
