/* weftd's /metrics text: the node's readiness, the lease manager's status
 * and the data plane's counters, in Prometheus text format. */
#ifndef WEFTD_METRICS_H
#define WEFTD_METRICS_H

#include <stdbool.h>

struct metrics_buf;
struct leasemgr_status;
struct dp_stats;

void node_metrics_write(struct metrics_buf *m, bool ready, const struct leasemgr_status *ls,
			const struct dp_stats *ds);

#endif
