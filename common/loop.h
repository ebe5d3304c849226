/* weftd's one event loop: epoll over registered fds, timers (one timerfd
 * each) and a signalfd for SIGTERM/SIGINT/SIGHUP. It owns every fd and
 * timer of the daemon; nothing else waits.
 *
 * Modules plug in directly: the etcd client registers libcurl's sockets and
 * timeout here, as do the netlink event socket and libmicrohttpd's epoll fd.
 * Callbacks may add or remove any fd or timer, including their own; removal
 * takes effect at once and a removed source is never called again.
 */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_timer;

typedef void (*loop_fd_cb)(void *data, int fd, uint32_t events);
typedef void (*loop_timer_cb)(void *data);
typedef void (*loop_signal_cb)(void *data, int signo);

/* Blocks SIGTERM, SIGINT and SIGHUP (and ignores SIGPIPE) for the calling
 * thread; call first thing in main, before libcurl or any thread starts, so
 * the signalfd sees them. 0 or -errno. */
int loop_block_signals(void);

int loop_new(struct loop **out);
/* Closes the loop's own fds; registered fds stay open (their owners close
 * them) and timers must be freed by their owners first. */
void loop_free(struct loop *l);

/* events: EPOLLIN / EPOLLOUT ...; one registration per fd. 0 or -errno. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
int loop_del_fd(struct loop *l, int fd);

int loop_add_timer(struct loop *l, loop_timer_cb cb, void *data, struct loop_timer **out);
/* First expiry after delay_ms (0: as soon as possible), then every
 * interval_ms (0: one-shot). Re-arming replaces the previous setting. */
int loop_timer_arm(struct loop_timer *t, uint64_t delay_ms, uint64_t interval_ms);
void loop_timer_disarm(struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

/* Called for every blocked signal that arrives. */
void loop_on_signal(struct loop *l, loop_signal_cb cb, void *data);

/* Runs until loop_stop; returns the code given to it, or a negative errno
 * if the loop itself fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l, int code);

#endif
