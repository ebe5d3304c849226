/* weftd's data plane: the VXLAN backend and the nftables table on weftd's
 * event loop. It applies what it is handed and retries what fails; it
 * knows nothing of etcd, subnet.env or readiness (daemon/node.c).
 *
 * Peer changes are recorded at once and applied together on the next loop
 * turn (one netlink batch for a whole listing). A reconcile runs after the
 * first complete peer list, soon after netlink events that touch weft's
 * objects, and every RECONCILE_PERIOD_MS. A table that could not be
 * applied is retried every second, and refreshed every minute. */
#ifndef WEFTD_DATAPLANE_H
#define WEFTD_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/vxlan.h"
#include "common/ip4.h"

struct loop;
struct dataplane;

struct dp_config {
	struct loop *loop;
	bool ip_masq; /* table ip weft in place; else removed */
	/* The device or the table changed state (see dp_get_stats). */
	void (*changed)(void *data);
	void *data;
};

struct dp_stats {
	bool device_ok; /* the VXLAN device is programmed */
	bool nft_ok;	/* the last apply (or removal) of table ip weft worked */
	int nft_err;	/* its -errno otherwise */
	uint64_t nft_errors;
	struct vxlan_stats vx; /* zero before the first lease */
};

int dp_new(const struct dp_config *c, struct dataplane **out);
void dp_free(struct dataplane *dp);

/* The own lease: device (vc) and table (network, vc->subnet). Returns 1
 * when a new backend was made (the peers must be handed over again), 0 when
 * the same one is kept, -errno when none could be made. Device and table
 * failures are retried; changed() tells when they are in place. */
int dp_lease(struct dataplane *dp, const struct vxlan_conf *vc, const struct ip4_net *network);
/* Desired peers; ignored before the first lease. */
int dp_peer_set(struct dataplane *dp, const struct vxlan_peer *p);
void dp_peer_del(struct dataplane *dp, const struct ip4_net *subnet);
/* A complete peer list was handed over: stale kernel state may be pruned. */
void dp_peers_synced(struct dataplane *dp);

void dp_get_stats(const struct dataplane *dp, struct dp_stats *out);

#endif
