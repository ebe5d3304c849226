/* weftd's data plane: per address family a VXLAN backend (weft.<VNI>,
 * weft-v6.<VNI>) and an nftables table (ip weft, ip6 weft) on weftd's
 * event loop. It applies what it is handed and retries what fails; it
 * knows nothing of etcd, subnet.env or readiness (daemon/node.c).
 *
 * A family is present once its lease is handed over: dp_lease for IPv4,
 * dp_lease6 for IPv6 (an IPv6-only node calls only dp_lease6). Peers go to
 * the instance of their family: dp_peer_set takes either (subnet6.len set:
 * IPv6); a dual-stack peer is two calls.
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
#include "common/ip6.h"

struct loop;
struct dataplane;

struct dp_config {
	struct loop *loop;
	bool ip_masq; /* tables ip weft and ip6 weft in place; else removed */
	/* The device or the table changed state (see dp_get_stats). */
	void (*changed)(void *data);
	void *data;
};

struct dp_family_stats {
	bool present;	/* a lease of this family was handed over */
	bool device_ok; /* its VXLAN device is programmed */
	bool nft_ok;	/* the last apply (or removal) of its table worked */
	int nft_err;	/* its -errno otherwise */
	uint64_t nft_errors;
	struct vxlan_stats vx; /* zero while not present */
};

/* The top-level fields sum up every present family (before any lease: the
 * IPv4 one), so that readiness needs no change for a second family. */
struct dp_stats {
	bool device_ok;	       /* every present family's device is programmed */
	bool nft_ok;	       /* every present family's table is as configured */
	int nft_err;	       /* the first failing table's -errno */
	uint64_t nft_errors;   /* both families */
	struct vxlan_stats vx; /* IPv4's, zero before the first lease */
	struct dp_family_stats v4, v6;
};

int dp_new(const struct dp_config *c, struct dataplane **out);
void dp_free(struct dataplane *dp);

/* The own lease: device (vc) and table (network, vc->subnet). Returns 1
 * when a new backend was made (the peers must be handed over again), 0 when
 * the same one is kept, -errno when none could be made. Device and table
 * failures are retried; changed() tells when they are in place. */
int dp_lease(struct dataplane *dp, const struct vxlan_conf *vc, const struct ip4_net *network);
/* The same for IPv6: vc6->family AF_INET6 with public_ip6, subnet6 and a MAC
 * from vxlan_vtep_mac6, MTU underlay - VXLAN6_OVERHEAD; network6 the
 * IPv6Network. NULL vc6: the node has no IPv6 lease any more (the backend
 * goes, kernel state stays as on exit). */
int dp_lease6(struct dataplane *dp, const struct vxlan_conf *vc6, const struct ip6_net *network6);
/* Desired peers, of the family p fills (subnet6.len set: IPv6); ignored
 * before that family's lease. */
int dp_peer_set(struct dataplane *dp, const struct vxlan_peer *p);
void dp_peer_del(struct dataplane *dp, const struct ip4_net *subnet);
void dp_peer_del6(struct dataplane *dp, const struct ip6_net *subnet6);
/* A complete peer list (both families) was handed over: stale kernel
 * state may be pruned. */
void dp_peers_synced(struct dataplane *dp);

void dp_get_stats(const struct dataplane *dp, struct dp_stats *out);

#endif
