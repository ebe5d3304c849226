/* Event loop. A source removed while a batch of epoll events is being
 * handled is only marked dead and freed after the batch, so no callback
 * runs on freed memory. */
#include "common/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MAX_EVENTS 16

struct source {
	int fd;
	bool dead;
	loop_fd_cb cb;
	void *data;
	struct source *next;
};

struct loop_timer {
	struct loop *l;
	struct source *src;
	loop_timer_cb cb;
	void *data;
};

struct loop {
	int epfd, sigfd;
	struct source *sources, *graveyard;
	struct source *sig_src;
	loop_signal_cb sig_cb;
	void *sig_data;
	bool stop;
	int code;
};

static void sigset_daemon(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

int loop_block_signals(void)
{
	sigset_t set;

	sigset_daemon(&set);
	/* A peer closing a socket must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	return sigprocmask(SIG_BLOCK, &set, NULL) < 0 ? -errno : 0;
}

static struct source *find_source(struct loop *l, int fd)
{
	for (struct source *s = l->sources; s; s = s->next)
		if (s->fd == fd && !s->dead)
			return s;
	return NULL;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data)
{
	struct epoll_event ev = {.events = events};
	struct source *s;

	if (find_source(l, fd))
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->cb = cb;
	s->data = data;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int ret = -errno;

		free(s);
		return ret;
	}
	s->next = l->sources;
	l->sources = s;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct source *s = find_source(l, fd);
	struct epoll_event ev = {.events = events};

	if (!s)
		return -ENOENT;
	ev.data.ptr = s;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

static void bury(struct loop *l, struct source *s)
{
	for (struct source **pp = &l->sources; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->dead = true;
	s->next = l->graveyard;
	l->graveyard = s;
}

int loop_del_fd(struct loop *l, int fd)
{
	struct source *s = find_source(l, fd);

	if (!s)
		return -ENOENT;
	bury(l, s);
	return 0;
}

static void on_timer_fd(void *data, int fd, uint32_t events)
{
	struct loop_timer *t = data;
	uint64_t n;

	/* Nothing to read: disarmed or re-armed since epoll reported it. */
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	t->cb(t->data);
}

int loop_add_timer(struct loop *l, loop_timer_cb cb, void *data, struct loop_timer **out)
{
	struct loop_timer *t;
	int fd, ret;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto err_free;
	}
	t->l = l;
	t->cb = cb;
	t->data = data;
	ret = loop_add_fd(l, fd, EPOLLIN, on_timer_fd, t);
	if (ret < 0)
		goto err_close;
	t->src = find_source(l, fd);
	*out = t;
	return 0;

err_close:
	close(fd);
err_free:
	free(t);
	return ret;
}

static void ms_to_ts(uint64_t ms, struct timespec *ts)
{
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

int loop_timer_arm(struct loop_timer *t, uint64_t delay_ms, uint64_t interval_ms)
{
	struct itimerspec its = {0};

	ms_to_ts(delay_ms, &its.it_value);
	if (!delay_ms)
		its.it_value.tv_nsec = 1; /* zero would disarm */
	ms_to_ts(interval_ms, &its.it_interval);
	return timerfd_settime(t->src->fd, 0, &its, NULL) < 0 ? -errno : 0;
}

void loop_timer_disarm(struct loop_timer *t)
{
	struct itimerspec its = {0};

	timerfd_settime(t->src->fd, 0, &its, NULL);
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	bury(t->l, t->src);
	close(t->src->fd);
	free(t);
}

static void on_signal_fd(void *data, int fd, uint32_t events)
{
	struct loop *l = data;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si))
		if (l->sig_cb)
			l->sig_cb(l->sig_data, (int)si.ssi_signo);
}

void loop_on_signal(struct loop *l, loop_signal_cb cb, void *data)
{
	l->sig_cb = cb;
	l->sig_data = data;
}

int loop_new(struct loop **out)
{
	struct loop *l;
	sigset_t set;
	int ret;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->sigfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		ret = -errno;
		goto err;
	}
	sigset_daemon(&set);
	l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0) {
		ret = -errno;
		goto err;
	}
	ret = loop_add_fd(l, l->sigfd, EPOLLIN, on_signal_fd, l);
	if (ret < 0)
		goto err;
	*out = l;
	return 0;

err:
	loop_free(l);
	return ret;
}

static void free_graveyard(struct loop *l)
{
	while (l->graveyard) {
		struct source *s = l->graveyard;

		l->graveyard = s->next;
		free(s);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->sources)
		bury(l, l->sources);
	free_graveyard(l);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[MAX_EVENTS];

	l->stop = false;
	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			struct source *s = evs[i].data.ptr;

			if (!s->dead)
				s->cb(s->data, s->fd, evs[i].events);
		}
		free_graveyard(l);
	}
	return l->code;
}

void loop_stop(struct loop *l, int code)
{
	l->stop = true;
	l->code = code;
}
