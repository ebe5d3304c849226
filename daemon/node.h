/* The node: takes the lease manager's events and turns them into data
 * plane work (daemon/dataplane.c), writes subnet.env once the device AND
 * the nftables table are in place, judges readiness and serves health and
 * metrics (daemon/health.c), and hands readiness to the CNI files.
 *
 * The lease manager owns the lease and the network config, the underlay
 * is found once (daemon/underlay.c), the data plane owns the kernel state;
 * the node keeps only whether subnet.env was written. */
#ifndef WEFTD_NODE_H
#define WEFTD_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "subnet/leasemgr.h"

struct loop;
struct cnifiles;
struct underlay;
struct node;

struct node_config {
	struct loop *loop;
	const struct underlay *ul; /* must outlive the node */
	const char *health_addr;
	const char *subnet_file;
	bool ip_masq;
	struct cnifiles *cni; /* activated once ready; NULL: none */
};

/* The callbacks for leasemgr_new, with the node as their data. */
extern const struct leasemgr_ops node_lease_ops;

/* leasemgr_config.backend_data, with the node as its data. */
int node_backend_data(void *data, const struct netconf *nc, struct lease_attrs *attrs);

/* Starts the health endpoint and the data plane. Logs its own failures. */
int node_new(const struct node_config *c, struct node **out);
/* The lease manager made with node_lease_ops; before it starts. */
void node_set_leasemgr(struct node *n, struct leasemgr *lm);
void node_free(struct node *n);

#endif
