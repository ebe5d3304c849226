/* One-shot timers of the etcd client: timerfds in the client's epoll set,
 * run from etcd_client_dispatch(). */
#include "subnet/etcd_http_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ timers */

int etcd_timerfd_arm_ms(int fd, uint64_t ms)
{
	struct itimerspec its = {0};

	if (ms == 0)
		its.it_value.tv_nsec = 1; /* zero would disarm */
	else {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	}
	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

void etcd_timerfd_disarm(int fd)
{
	struct itimerspec its = {0};

	timerfd_settime(fd, 0, &its, NULL);
}

int etcd_timer_new(struct etcd_client *c, etcd_timer_cb cb, void *data, struct etcd_timer **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct etcd_timer *t;
	int ret;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->src.kind = SRC_TIMER;
	t->c = c;
	t->cb = cb;
	t->data = data;
	t->src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->src.fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ev.data.ptr = &t->src;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, t->src.fd, &ev) < 0) {
		ret = -errno;
		goto err_close;
	}
	*out = t;
	return 0;

err_close:
	close(t->src.fd);
err_free:
	free(t);
	return ret;
}

int etcd_timer_arm(struct etcd_timer *t, uint64_t delay_ms)
{
	int ret = etcd_timerfd_arm_ms(t->src.fd, delay_ms);

	if (!ret)
		t->armed = true;
	return ret;
}

void etcd_timer_disarm(struct etcd_timer *t)
{
	etcd_timerfd_disarm(t->src.fd);
	t->armed = false;
}

bool etcd_timer_armed(const struct etcd_timer *t)
{
	return t->armed;
}

void etcd_timer_free(struct etcd_timer *t)
{
	if (!t)
		return;
	/* Closing the fd removes it from the epoll set. */
	close(t->src.fd);
	free(t);
}
