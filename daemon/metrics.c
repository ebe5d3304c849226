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
	metrics_family(m, "weft_kernel_objects", "gauge",
		       "Kernel objects programmed for peers, by kind.");
	metrics_sample(m, "weft_kernel_objects", "kind=\"neigh\"", vs->neighs);
	metrics_sample(m, "weft_kernel_objects", "kind=\"fdb\"", vs->fdbs);
	metrics_sample(m, "weft_kernel_objects", "kind=\"route\"", vs->routes);
	metrics_counter(m, "weft_reconcile_runs_total", "Full kernel comparisons.",
			(double)vs->reconcile_runs);
	metrics_counter(m, "weft_reconcile_fixes_total",
			"Kernel objects a reconcile had to add, replace or remove.",
			(double)vs->reconcile_fixes);
	metrics_counter(m, "weft_netlink_errors_total", "Netlink requests that failed.",
			(double)(vs->netlink_errors + ds->nft_errors));
	metrics_gauge(m, "weft_nftables_applied",
		      "1 when table ip weft is as configured (removed without --ip-masq).",
		      ds->nft_ok);
	metrics_counter(m, "weft_device_creations_total", "Times the VXLAN device was created.",
			(double)vs->device_creations);
	metrics_counter(m, "weft_netlink_event_overflows_total",
			"Netlink event queue overflows (each forces a reconcile).",
			(double)vs->event_overflows);
	metrics_gauge(m, "weft_routes_blocked",
		      "Peer routes not installed because a route weft does not own is in the way.",
		      vs->routes_blocked);
	metrics_rejected(m, ls);
}
