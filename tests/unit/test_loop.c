/* weftd's event loop: fds, timers, signals, removal inside callbacks, and
 * the etcd client living in it (its sockets and timer in, then out). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include <curl/curl.h>

#include "common/util.h"
#include "subnet/etcd.h"
#include "../../common/loop.c"
#include "fake_gateway.h"

struct ctx {
	struct loop *l;
	int fired, signo, stop_after;
	int pipe_a[2], pipe_b[2];
	struct loop_timer *t;
};

static void on_readable(void *data, int fd, uint32_t events)
{
	struct ctx *c = data;
	char b;

	assert_true(events & EPOLLIN);
	assert_int_equal(read(fd, &b, 1), 1);
	c->fired++;
	/* Remove the other pipe while both are ready in the same batch: its
	 * callback must not run. */
	loop_del_fd(c->l, fd == c->pipe_a[0] ? c->pipe_b[0] : c->pipe_a[0]);
}

static void stop7(void *data)
{
	struct ctx *c = data;

	loop_stop(c->l, 7);
}

static void test_fd_removed_in_batch(void **state)
{
	struct ctx c = {0};

	assert_int_equal(loop_new(&c.l), 0);
	assert_int_equal(pipe(c.pipe_a), 0);
	assert_int_equal(pipe(c.pipe_b), 0);
	assert_int_equal(loop_add_fd(c.l, c.pipe_a[0], EPOLLIN, on_readable, &c), 0);
	assert_int_equal(loop_add_fd(c.l, c.pipe_b[0], EPOLLIN, on_readable, &c), 0);
	assert_int_equal(loop_add_fd(c.l, c.pipe_b[0], EPOLLIN, on_readable, &c), -EEXIST);
	assert_int_equal(write(c.pipe_a[1], "x", 1), 1);
	assert_int_equal(write(c.pipe_b[1], "x", 1), 1);
	assert_int_equal(loop_add_timer(c.l, stop7, &c, &c.t), 0);
	assert_int_equal(loop_timer_arm(c.t, 50, 0), 0);
	assert_int_equal(loop_run(c.l), 7);
	assert_int_equal(c.fired, 1);
	loop_timer_free(c.t);
	assert_int_equal(loop_mod_fd(c.l, 12345, EPOLLIN), -ENOENT);
	assert_int_equal(loop_del_fd(c.l, 12345), -ENOENT);
	loop_free(c.l);
	for (int i = 0; i < 2; i++) {
		close(c.pipe_a[i]);
		close(c.pipe_b[i]);
	}
}

static void on_tick(void *data)
{
	struct ctx *c = data;

	if (++c->fired == c->stop_after) {
		loop_timer_disarm(c->t);
		loop_stop(c->l, 0);
	}
}

static void test_timers(void **state)
{
	struct ctx c = {.stop_after = 3};
	uint64_t start;

	assert_int_equal(loop_new(&c.l), 0);
	assert_int_equal(loop_add_timer(c.l, on_tick, &c, &c.t), 0);
	start = now_ms();
	assert_int_equal(loop_timer_arm(c.t, 0, 30), 0);
	assert_int_equal(loop_run(c.l), 0);
	assert_int_equal(c.fired, 3);
	/* 0 ms, then two 30 ms periods. */
	assert_true(now_ms() - start >= 55);
	loop_timer_free(c.t);
	loop_free(c.l);
}

static void count_fire(void *data)
{
	struct ctx *c = data;

	c->fired++;
}

static void test_timer_zero_delay(void **state)
{
	struct ctx c = {0};

	/* A zero delay fires at once (timerfd would take 0 as "disarm"). */
	assert_int_equal(loop_new(&c.l), 0);
	assert_int_equal(loop_add_timer(c.l, count_fire, &c, &c.t), 0);
	assert_int_equal(loop_timer_arm(c.t, 0, 0), 0);
	assert_int_equal(loop_pump(c.l, &c.fired, 1, 1000), 0);
	assert_int_equal(c.fired, 1);
	/* One-shot: no second expiry; and a disarmed timer stays silent. */
	assert_int_equal(loop_pump(c.l, &c.fired, 2, 100), 0);
	assert_int_equal(c.fired, 1);
	assert_int_equal(loop_timer_arm(c.t, 20, 0), 0);
	loop_timer_disarm(c.t);
	assert_int_equal(loop_pump(c.l, &c.fired, 2, 100), 0);
	assert_int_equal(c.fired, 1);
	loop_timer_free(c.t);
	loop_free(c.l);
}

/* Sources other than the fake gateway's and the signalfd. */
static int client_sources(const struct loop *l)
{
	int n = 0;

	for (const struct source *s = l->sources; s; s = s->next)
		if (s->cb != fg_on_conn && s->cb != fg_on_accept && s->fd != l->sigfd)
			n++;
	return n;
}

static void got(void *data, const struct etcd_response *r)
{
	int *n = data;

	assert_int_equal(r->err, 0);
	(*n)++;
}

/* A put to srv; returns the client after run_ms or once answered. */
static struct etcd_client *put_on(struct loop *l, struct fake_gateway *srv, int *done, int run_ms)
{
	const char *eps[] = {srv->url};
	struct etcd_config cfg = {.endpoints = eps, .n_endpoints = 1};
	struct etcd_client *ec;

	assert_int_equal(etcd_client_new(l, &cfg, &ec), 0);
	/* The client's timeout timer. */
	assert_int_equal(client_sources(l), 1);
	assert_int_equal(etcd_put(ec, "/a", "1", 0, got, done), 0);
	assert_int_equal(loop_pump(l, done, 1, run_ms), 0);
	return ec;
}

static void test_etcd_client_in_loop(void **state)
{
	static const char *const answers[] = {"{\"header\":{\"revision\":\"3\"}}",
					      "{\"header\":{\"revision\":\"4\"}}"};
	struct fake_gateway silent, g;
	struct etcd_client *ec;
	struct loop *l;
	int done = 0;

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(fake_gateway_silent(&silent, l), 0);
	assert_int_equal(fake_gateway_start(&g, l, answers, 2), 0);
	assert_int_equal(client_sources(l), 0);
	/* A call in flight: its socket is a loop fd; freeing takes it out. */
	ec = put_on(l, &silent, &done, 200);
	assert_int_equal(done, 0);
	assert_int_equal(client_sources(l), 2);
	etcd_client_free(ec);
	assert_int_equal(client_sources(l), 0);
	/* Two answered calls on one loop shared with the server. */
	ec = put_on(l, &g, &done, 3000);
	assert_int_equal(done, 1);
	assert_int_equal(etcd_put(ec, "/b", "2", 0, got, &done), 0);
	assert_int_equal(loop_pump(l, &done, 2, 3000), 0);
	assert_int_equal(done, 2);
	assert_int_equal(g.n_reqs, 2);
	etcd_client_free(ec);
	assert_int_equal(client_sources(l), 0);
	fake_gateway_stop(&g);
	fake_gateway_stop(&silent);
	loop_free(l);
}

static void on_sig(void *data, int signo)
{
	struct ctx *c = data;

	c->signo = signo;
	loop_stop(c->l, 3);
}

static void test_signal(void **state)
{
	struct ctx c = {0};

	assert_int_equal(loop_block_signals(), 0);
	assert_int_equal(loop_new(&c.l), 0);
	loop_on_signal(c.l, on_sig, &c);
	assert_int_equal(raise(SIGHUP), 0);
	assert_int_equal(loop_run(c.l), 3);
	assert_int_equal(c.signo, SIGHUP);
	loop_free(c.l);
}

static void free_self(void *data)
{
	struct ctx *c = data;

	c->fired++;
	loop_timer_free(c->t);
	c->t = NULL;
	loop_stop(c->l, 0);
}

static void test_timer_frees_itself(void **state)
{
	struct ctx c = {0};

	assert_int_equal(loop_new(&c.l), 0);
	assert_int_equal(loop_add_timer(c.l, free_self, &c, &c.t), 0);
	assert_int_equal(loop_timer_arm(c.t, 5, 0), 0);
	assert_int_equal(loop_run(c.l), 0);
	assert_int_equal(c.fired, 1);
	assert_null(c.t);
	loop_free(c.l);
	loop_free(NULL);
	loop_timer_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_removed_in_batch),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timer_zero_delay),
		cmocka_unit_test(test_etcd_client_in_loop),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_timer_frees_itself),
	};

	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
