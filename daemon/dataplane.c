/* The data plane of both families: one struct fam per address family, each
 * with its VXLAN backend, its nftables table and its own flush, reconcile
 * and retry timers; one period tick drives both. */
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
#define NFT_REFRESH_TICKS     6 /* the tables are re-applied every minute */
#define FLUSH_LOG_MIN	      300

enum { FAM4, FAM6, NFAM };

struct fam {
	struct dataplane *dp;
	int family;	   /* AF_INET or AF_INET6 */
	const char *table; /* "ip weft" or "ip6 weft", for logs */
	struct vxlan *vx;
	struct vxlan_conf vc; /* what vx was made with */
	struct ip4_net network;
	struct ip6_net network6;
	struct loop_timer *t_flush, *t_reconcile, *t_nft;
	bool flush_armed, reconcile_armed;
	bool device_ok, nft_ok;
	int nft_err;
	uint64_t nft_errors;
};

struct dataplane {
	struct dp_config c;
	struct fam f[NFAM];
	struct loop_timer *t_tick;
	unsigned ticks;
	struct log_ratelimit rl;
};

static void notify(struct dataplane *dp)
{
	if (dp->c.changed)
		dp->c.changed(dp->c.data);
}

static void set_device_ok(struct fam *f, bool ok)
{
	if (ok == f->device_ok)
		return;
	f->device_ok = ok;
	if (ok)
		log_info("%s programmed", vxlan_ifname(f->vx));
	notify(f->dp);
}

/* ------------------------------------------------------------ nftables */

static void apply_nft(struct fam *f)
{
	struct dataplane *dp = f->dp;
	struct nft_conf nc = {
		.family = f->family,
		.network = f->network.addr,
		.network_len = f->family == AF_INET6 ? f->network6.len : f->network.prefix,
		.subnet = f->vc.subnet.addr,
		.subnet_len = f->family == AF_INET6 ? f->vc.subnet6.len : f->vc.subnet.prefix,
		.fully_random = true,
		.network6 = f->network6.addr,
		.subnet6 = f->vc.subnet6.addr,
	};
	struct nft_err e;
	int ret = dp->c.ip_masq ? nft_apply(&nc, &e) : nft_remove_family(f->family, &e);
	bool was_ok = f->nft_ok;

	f->nft_err = ret;
	f->nft_ok = ret == 0;
	if (ret < 0) {
		f->nft_errors++;
		if (log_ratelimit_ok(&dp->rl))
			log_err("nftables table %s: %s: %s%s%s; retrying", f->table, e.what,
				strerror(-ret), e.msg[0] ? ": " : "", e.msg);
		loop_timer_arm(f->t_nft, NFT_RETRY_MS, 0);
	} else if (!was_ok && f->nft_errors) {
		log_info("nftables table %s %s", f->table, dp->c.ip_masq ? "applied" : "removed");
	}
	if (was_ok != f->nft_ok)
		notify(dp);
}

static void on_nft_retry(void *data)
{
	struct fam *f = data;

	if (f->vx && !f->nft_ok)
		apply_nft(f);
}

/* ------------------------------------------------------------ backend */
static void arm_reconcile(struct fam *f, uint64_t delay_ms)
{
	if (f->reconcile_armed)
		return;
	f->reconcile_armed = true;
	loop_timer_arm(f->t_reconcile, delay_ms, 0);
}

/* Logs the peers whose route is newly kept out by someone else's route. */
static void report_blocked(struct fam *f, const struct vxlan_stats *before)
{
	struct vxlan_peer sn[8];
	struct vxlan_stats st;
	char list[8 * (IP6_NET_STRLEN + 1)] = "", s[IP6_NET_STRLEN];
	unsigned n;

	vxlan_get_stats(f->vx, &st);
	if (st.routes_blocked_total == before->routes_blocked_total)
		return;
	n = vxlan_blocked(f->vx, sn, 8);
	for (unsigned i = 0; i < n && i < 8; i++) {
		if (f->family == AF_INET6)
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
	struct fam *f = data;
	struct vxlan_stats before;
	int ret;

	f->reconcile_armed = false;
	if (!f->vx)
		return;
	vxlan_get_stats(f->vx, &before);
	ret = vxlan_reconcile(f->vx);
	report_blocked(f, &before);
	if (ret == 0)
		set_device_ok(f, true);
	if (ret < 0) {
		if (log_ratelimit_ok(&f->dp->rl))
			log_err("reconciling %s: %s; retrying", vxlan_ifname(f->vx),
				strerror(-ret));
		arm_reconcile(f, RECONCILE_RETRY_MS);
	}
}

static void do_flush(void *data)
{
	struct fam *f = data;
	struct vxlan_stats before, after;
	uint64_t t0;
	int ret;

	f->flush_armed = false;
	if (!f->vx)
		return;
	vxlan_get_stats(f->vx, &before);
	t0 = now_ms();
	ret = vxlan_flush(f->vx);
	if (ret < 0 && log_ratelimit_ok(&f->dp->rl))
		log_err("programming peers on %s: %s", vxlan_ifname(f->vx), strerror(-ret));
	report_blocked(f, &before);
	vxlan_get_stats(f->vx, &after);
	/* Bulk changes (a listing, a mass join) are worth a line. */
	if (after.flush_writes - before.flush_writes >= FLUSH_LOG_MIN)
		log_info("wrote %" PRIu64 " kernel objects in %" PRIu64 " ms (%u peers)",
			 after.flush_writes - before.flush_writes, now_ms() - t0, after.peers);
	if (vxlan_reconcile_wanted(f->vx))
		arm_reconcile(f, RECONCILE_DEBOUNCE_MS);
}

static void arm_flush(struct fam *f)
{
	if (f->flush_armed)
		return;
	f->flush_armed = true;
	loop_timer_arm(f->t_flush, 0, 0);
}

static void on_netlink_events(void *data, int fd, uint32_t events)
{
	struct fam *f = data;
	int ret = vxlan_handle_events(f->vx);

	if (ret < 0 && log_ratelimit_ok(&f->dp->rl))
		log_err("reading netlink events: %s", strerror(-ret));
	if (vxlan_reconcile_wanted(f->vx))
		arm_reconcile(f, RECONCILE_DEBOUNCE_MS);
}

static void on_tick(void *data)
{
	struct dataplane *dp = data;
	bool refresh = ++dp->ticks % NFT_REFRESH_TICKS == 0;

	for (int i = 0; i < NFAM; i++) {
		if (!dp->f[i].vx)
			continue;
		arm_reconcile(&dp->f[i], 0);
		if (refresh)
			apply_nft(&dp->f[i]);
	}
}

static bool conf_equal(const struct vxlan_conf *a, const struct vxlan_conf *b)
{
	return a->family == b->family && a->vni == b->vni && a->port == b->port &&
	       a->public_ip == b->public_ip && a->underlay_ifindex == b->underlay_ifindex &&
	       a->mtu == b->mtu && ip4_net_equal(&a->underlay, &b->underlay) &&
	       ip4_net_equal(&a->subnet, &b->subnet) && !memcmp(a->mac, b->mac, 6) &&
	       a->direct_routing == b->direct_routing &&
	       ip6_addr_equal(&a->public_ip6, &b->public_ip6) &&
	       ip6_net_equal(&a->subnet6, &b->subnet6);
}

static void drop_backend(struct fam *f)
{
	if (!f->vx)
		return;
	loop_del_fd(f->dp->c.loop, vxlan_event_fd(f->vx));
	vxlan_free(f->vx);
	f->vx = NULL;
}

/* The device now; failures are retried by the reconcile. */
static void ensure_device(struct fam *f)
{
	int ret = vxlan_ensure_device(f->vx);

	if (ret < 0) {
		if (log_ratelimit_ok(&f->dp->rl))
			log_err("setting up %s: %s; retrying", vxlan_ifname(f->vx), strerror(-ret));
		arm_reconcile(f, RECONCILE_RETRY_MS);
	}
	set_device_ok(f, ret == 0);
}

/* The lease of one family (vc->family set): see dp_lease. */
static int fam_lease(struct fam *f, const struct vxlan_conf *vc)
{
	bool fresh = !f->vx || !conf_equal(vc, &f->vc);
	int ret;

	/* Another subnet or device: start over. The device is adopted and
	 * fixed; the caller hands the peers over again. */
	if (fresh) {
		drop_backend(f);
		set_device_ok(f, false);
		f->vc = *vc;
		ret = vxlan_new(vc, &f->vx);
		if (ret < 0)
			return ret;
		ret = loop_add_fd(f->dp->c.loop, vxlan_event_fd(f->vx), EPOLLIN, on_netlink_events,
				  f);
		if (ret < 0) {
			drop_backend(f);
			return ret;
		}
	}
	ensure_device(f);
	apply_nft(f);
	if (f->device_ok && f->nft_ok && fresh)
		log_info("%s ready (MTU %u)%s", vxlan_ifname(f->vx), vc->mtu,
			 f->dp->c.ip_masq ? ", masquerade on" : "");
	return fresh;
}

int dp_lease(struct dataplane *dp, const struct vxlan_conf *vc, const struct ip4_net *network)
{
	struct vxlan_conf c = *vc;

	if (c.family && c.family != AF_INET)
		return -EINVAL;
	c.family = AF_INET;
	dp->f[FAM4].network = *network;
	return fam_lease(&dp->f[FAM4], &c);
}

int dp_lease6(struct dataplane *dp, const struct vxlan_conf *vc6, const struct ip6_net *network6)
{
	struct fam *f = &dp->f[FAM6];

	if (!vc6) {
		drop_backend(f);
		f->device_ok = f->nft_ok = false;
		notify(dp);
		return 0;
	}
	if (vc6->family != AF_INET6)
		return -EINVAL;
	f->network6 = *network6;
	return fam_lease(f, vc6);
}

int dp_peer_set(struct dataplane *dp, const struct vxlan_peer *p)
{
	struct fam *f = &dp->f[p->subnet6.len ? FAM6 : FAM4];
	int ret;

	if (!f->vx)
		return 0;
	ret = vxlan_peer_set(f->vx, p);
	if (ret == 0)
		arm_flush(f);
	return ret;
}

void dp_peer_del(struct dataplane *dp, const struct ip4_net *subnet)
{
	struct fam *f = &dp->f[FAM4];

	if (!f->vx)
		return;
	vxlan_peer_del(f->vx, subnet);
	arm_flush(f);
}

void dp_peer_del6(struct dataplane *dp, const struct ip6_net *subnet6)
{
	struct fam *f = &dp->f[FAM6];

	if (!f->vx)
		return;
	vxlan_peer_del6(f->vx, subnet6);
	arm_flush(f);
}

void dp_peers_synced(struct dataplane *dp)
{
	for (int i = 0; i < NFAM; i++) {
		if (!dp->f[i].vx)
			continue;
		vxlan_peers_synced(dp->f[i].vx);
		/* Prune what no peer wants; pending peer changes are applied too. */
		arm_reconcile(&dp->f[i], RECONCILE_DEBOUNCE_MS);
	}
}

static void fam_stats(const struct fam *f, struct dp_family_stats *out)
{
	out->present = f->vx != NULL;
	out->device_ok = f->vx && f->device_ok;
	out->nft_ok = f->nft_ok;
	out->nft_err = f->nft_err;
	out->nft_errors = f->nft_errors;
	if (f->vx)
		vxlan_get_stats(f->vx, &out->vx);
}

void dp_get_stats(const struct dataplane *dp, struct dp_stats *out)
{
	const struct dp_family_stats *fs[NFAM] = {&out->v4, &out->v6};
	bool any = false;

	memset(out, 0, sizeof(*out));
	fam_stats(&dp->f[FAM4], &out->v4);
	fam_stats(&dp->f[FAM6], &out->v6);
	out->device_ok = out->nft_ok = true;
	for (int i = 0; i < NFAM; i++) {
		/* Before any lease the IPv4 table's state stands (as ever). */
		if (!fs[i]->present && (i != FAM4 || out->v6.present))
			continue;
		any |= fs[i]->present;
		out->device_ok &= fs[i]->device_ok;
		out->nft_ok &= fs[i]->nft_ok;
		if (!fs[i]->nft_ok && !out->nft_err)
			out->nft_err = fs[i]->nft_err;
	}
	out->device_ok &= any;
	out->nft_errors = out->v4.nft_errors + out->v6.nft_errors;
	out->vx = out->v4.vx;
}

/* ------------------------------------------------------------ lifecycle */

static int fam_init(struct dataplane *dp, int i)
{
	struct fam *f = &dp->f[i];
	int ret;

	f->dp = dp;
	f->family = i == FAM6 ? AF_INET6 : AF_INET;
	f->table = i == FAM6 ? "ip6 weft" : "ip weft";
	ret = loop_add_timer(dp->c.loop, do_flush, f, &f->t_flush);
	if (!ret)
		ret = loop_add_timer(dp->c.loop, do_reconcile, f, &f->t_reconcile);
	if (!ret)
		ret = loop_add_timer(dp->c.loop, on_nft_retry, f, &f->t_nft);
	return ret;
}

int dp_new(const struct dp_config *c, struct dataplane **out)
{
	struct dataplane *dp;
	int ret;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->c = *c;
	dp->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	ret = fam_init(dp, FAM4);
	if (!ret)
		ret = fam_init(dp, FAM6);
	if (!ret)
		ret = loop_add_timer(c->loop, on_tick, dp, &dp->t_tick);
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
	for (int i = 0; i < NFAM; i++) {
		drop_backend(&dp->f[i]);
		loop_timer_free(dp->f[i].t_flush);
		loop_timer_free(dp->f[i].t_reconcile);
		loop_timer_free(dp->f[i].t_nft);
	}
	loop_timer_free(dp->t_tick);
	free(dp);
}
