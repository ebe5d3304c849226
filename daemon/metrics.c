#include "daemon/metrics.h"

#include <stdio.h>

#include "daemon/dataplane.h"
#include "daemon/health.h"
#include "subnet/leasemgr.h"

/* Peer leases skipped by the acceptance rules, by rule. */
static void metrics_rejected(struct metrics_buf *m, const struct leasemgr_status *ls)
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

/* Per-family samples: the unlabelled sample of a series stays IPv4's (as
 * before a second family existed); each present family adds one with a
 * family label. */
enum fam_value { FV_PEERS, FV_NEIGH, FV_FDB, FV_ROUTE, FV_BLOCKED, FV_CREATIONS, FV_NFT };

static double fam_value(const struct dp_family_stats *f, enum fam_value k)
{
	switch (k) {
	case FV_PEERS:
		return f->vx.peers;
	case FV_NEIGH:
		return f->vx.neighs;
	case FV_FDB:
		return f->vx.fdbs;
	case FV_ROUTE:
		return f->vx.routes;
	case FV_BLOCKED:
		return f->vx.routes_blocked;
	case FV_CREATIONS:
		return (double)f->vx.device_creations;
	case FV_NFT:
		return f->nft_ok;
	}
	return 0;
}

/* kind: further labels before the family one, or NULL. */
static void by_family(struct metrics_buf *m, const char *name, const char *kind,
		      const struct dp_stats *ds, enum fam_value k)
{
	const struct dp_family_stats *fs[2] = {&ds->v4, &ds->v6};
	static const char *const fam[2] = {"ipv4", "ipv6"};
	char label[96];

	for (int i = 0; i < 2; i++) {
		if (!fs[i]->present)
			continue;
		snprintf(label, sizeof(label), "%s%sfamily=\"%s\"", kind ? kind : "",
			 kind ? "," : "", fam[i]);
		metrics_sample(m, name, label, fam_value(fs[i], k));
	}
}

static void metrics_kernel_objects(struct metrics_buf *m, const struct dp_stats *ds)
{
	static const char *const kinds[3] = {"kind=\"neigh\"", "kind=\"fdb\"", "kind=\"route\""};
	const unsigned v4[3] = {ds->vx.neighs, ds->vx.fdbs, ds->vx.routes};

	metrics_family(m, "weft_kernel_objects", "gauge",
		       "Kernel objects programmed for peers, by kind.");
	for (int i = 0; i < 3; i++)
		metrics_sample(m, "weft_kernel_objects", kinds[i], v4[i]);
	for (int i = 0; i < 3; i++)
		by_family(m, "weft_kernel_objects", kinds[i], ds, FV_NEIGH + i);
}

void node_metrics_write(struct metrics_buf *m, bool ready, const struct leasemgr_status *ls,
			const struct dp_stats *ds)
{
	const struct vxlan_stats *vs = &ds->vx;

	metrics_gauge(m, "weft_ready", "1 when the node is ready for pods.", ready);
	metrics_gauge(m, "weft_lease_held", "1 while the node holds its subnet lease.",
		      ls->lease_held);
	metrics_gauge(m, "weft_lease_expiry_timestamp_seconds",
		      "When the subnet lease expires unless renewed (0: reservation or unknown).",
		      (double)ls->lease_expiry_ms / 1000.0);
	metrics_gauge(m, "weft_etcd_watch_revision", "Last etcd revision the peer watch applied.",
		      (double)ls->watch_revision);
	metrics_counter(m, "weft_etcd_reconnects_total", "Peer watch restarts after a break.",
			(double)ls->etcd_reconnects);
	metrics_counter(m, "weft_etcd_requests_total", "HTTP requests made to etcd.",
			(double)ls->etcd_requests);
	metrics_gauge(m, "weft_etcd_peer_view_stale_seconds",
		      "How long the peer view may have lagged etcd (0: watch up).",
		      (double)ls->peers_stale_ms / 1000.0);
	metrics_counter(m, "weft_etcd_relists_total", "Complete listings of the peer leases.",
			(double)ls->relists);
	metrics_counter(m, "weft_etcd_list_pages_total", "Pages of peer lease listings.",
			(double)ls->list_pages);
	metrics_counter(m, "weft_etcd_list_skipped_total",
			"Keys skipped while listing: the value alone is over the page limit.",
			(double)ls->list_skipped);
	metrics_counter(m, "weft_etcd_list_restarts_total",
			"Listings restarted because their revision was compacted.",
			(double)ls->list_restarts);
	metrics_counter(m, "weft_etcd_watch_oversize_total",
			"Watch messages over the size limit (each makes a re-list).",
			(double)ls->watch_oversize);
	metrics_gauge(m, "weft_peers", "Peer leases in the desired state.", vs->peers);
	by_family(m, "weft_peers", NULL, ds, FV_PEERS);
	metrics_kernel_objects(m, ds);
	metrics_counter(m, "weft_reconcile_runs_total", "Full kernel comparisons.",
			(double)vs->reconcile_runs);
	metrics_counter(m, "weft_reconcile_fixes_total",
			"Kernel objects a reconcile had to add, replace or remove.",
			(double)vs->reconcile_fixes);
	metrics_counter(m, "weft_netlink_errors_total", "Netlink requests that failed.",
			(double)(vs->netlink_errors + ds->v6.vx.netlink_errors + ds->nft_errors));
	metrics_gauge(
		m, "weft_nftables_applied",
		"1 when table ip weft (ip6 weft) is as configured (removed without --ip-masq).",
		ds->nft_ok);
	by_family(m, "weft_nftables_applied", NULL, ds, FV_NFT);
	metrics_counter(m, "weft_device_creations_total", "Times the VXLAN device was created.",
			(double)vs->device_creations);
	by_family(m, "weft_device_creations_total", NULL, ds, FV_CREATIONS);
	metrics_counter(m, "weft_netlink_event_overflows_total",
			"Netlink event queue overflows (each forces a reconcile).",
			(double)vs->event_overflows);
	metrics_gauge(m, "weft_routes_blocked",
		      "Peer routes not installed because a route weft does not own is in the way.",
		      vs->routes_blocked);
	by_family(m, "weft_routes_blocked", NULL, ds, FV_BLOCKED);
	metrics_rejected(m, ls);
}
