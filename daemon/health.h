/* HTTP endpoint of weftd (--health-addr), served by libmicrohttpd inside
 * weftd's own event loop (no thread): health_attach() registers its fd and
 * a timer that runs the library's timeouts and the connection limits on
 * time (see health.c and docs/operations.md).
 *
 *   /healthz  200 while the process runs
 *   /readyz   200 once ready() says so, else 503 with the reason
 *   /metrics  Prometheus text format, written by metrics() per request
 *
 * Readiness is also announced once to systemd (sd_notify READY=1). */
#ifndef WEFT_HEALTH_H
#define WEFT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct health;
struct loop;
struct metrics_buf;

struct health_ops {
	/* True when ready; otherwise a short reason goes to why. */
	bool (*ready)(void *arg, char *why, size_t whylen);
	/* Appends every metric with the metrics_* writers. */
	void (*metrics)(void *arg, struct metrics_buf *m);
	void *arg;
};

/* Parses "a.b.c.d:port" or "[v6]:port" (port 0: any free one). 0 or -EINVAL. */
int health_parse_addr(const char *s, void *sockaddr_storage, size_t *len);

/* Listens on addr. -EINVAL for a bad address, -EADDRINUSE, other -errno. */
int health_start(const char *addr, const struct health_ops *ops, struct health **out);
/* Also detaches from the loop. */
void health_stop(struct health *h);
/* Serves the endpoint from loop l until health_stop. 0 or -errno. */
int health_attach(struct health *h, struct loop *l);
/* The fd to watch for readability (libmicrohttpd's epoll fd). */
int health_fd(const struct health *h);
/* The bound port (useful with port 0). */
uint16_t health_port(const struct health *h);
/* Serves whatever is pending without blocking and ends connections past
 * their limits. 0 or -EIO. */
int health_run(struct health *h);
/* Connections open now, and those closed so far for waiting too long
 * without a request or to make room. */
void health_get_stats(const struct health *h, unsigned *open, uint64_t *culled);

/* Evaluates readiness; the first time it holds, tells systemd READY=1.
 * Returns true when ready. */
bool health_check_ready(struct health *h);

/* Prometheus text writers. Names follow the exposition format; counters end
 * in _total. labels is NULL or e.g. "kind=\"route\"". */
void metrics_family(struct metrics_buf *m, const char *name, const char *type, const char *help);
void metrics_sample(struct metrics_buf *m, const char *name, const char *labels, double value);
void metrics_gauge(struct metrics_buf *m, const char *name, const char *help, double value);
void metrics_counter(struct metrics_buf *m, const char *name, const char *help, double value);

/* For tests and the endpoint: a buffer, its text, and its release. */
struct metrics_buf *metrics_buf_new(void);
/* NULL when an allocation failed while writing. */
const char *metrics_buf_text(const struct metrics_buf *m, size_t *len);
void metrics_buf_free(struct metrics_buf *m);

#endif
