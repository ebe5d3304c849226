/* weftd's event loop: fds, timers, signals, removal inside callbacks. */
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

#include "common/util.h"
#include "../../common/loop.c"

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
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_timer_frees_itself),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
