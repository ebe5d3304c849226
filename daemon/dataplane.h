/* weftd's data plane glue: the VXLAN backend, nftables and the health
 * endpoint on weftd's event loop, fed by the lease manager's callbacks.
 *
 * Peer changes are recorded at once and applied together on the next loop
 * turn (one netlink batch for a whole listing). A reconcile runs after the
 * first complete peer list, soon after netlink events that touch weft's
 * objects, and every RECONCILE_PERIOD_MS. */
#ifndef WEFTD_DATAPLANE_H
#define WEFTD_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ip4.h"
#include "subnet/lease.h"
#include "subnet/netconf.h"

struct loop;
struct leasemgr;
struct dataplane;

struct dp_config {
	struct loop *loop;
	struct leasemgr *lm; /* status for readiness and metrics */
	const char *health_addr;
	const char *subnet_file;
	bool ip_masq;
	const char *iface; /* underlay interface */
	uint32_t public_ip;
	unsigned underlay_mtu;
	/* Called when the VXLAN device becomes usable after a failed attempt,
	 * so subnet.env, which promises a working node, can follow. */
	void (*device_ready)(void *data);
	/* Called whenever readiness is evaluated and holds (lease, device,
	 * rules, subnet.env): may be called many times. */
	void (*node_ready)(void *data);
	void *data;
};

/* Starts the health endpoint; the backend waits for the lease. */
int dp_new(const struct dp_config *c, struct dataplane **out);
void dp_free(struct dataplane *dp);

/* The own lease: device, address, masquerade. Returns once they are in
 * place (subnet.env may follow). */
int dp_lease(struct dataplane *dp, const struct netconf *nc, const struct ip4_net *subnet,
	     const struct lease_attrs *own);
void dp_peer_set(struct dataplane *dp, const struct ip4_net *subnet,
		 const struct lease_attrs *attrs);
void dp_peer_del(struct dataplane *dp, const struct ip4_net *subnet);
void dp_peers_synced(struct dataplane *dp);
/* The VXLAN device is in place: pods can be given addresses. */
bool dp_device_ready(const struct dataplane *dp);
/* subnet.env was written: readiness can be announced. */
void dp_subnet_env_written(struct dataplane *dp);

#endif
