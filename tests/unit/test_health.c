/* Health endpoint: real HTTP over loopback of a private network namespace,
 * served from a single-threaded loop as in weftd; metrics checked with
 * promtool; READY=1 received on a real notify socket; the connection guard
 * against many idle clients, from many loopback addresses. */
/* labels: root */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "../../daemon/health.c"

struct fake_state {
	bool ready;
	int peers;
};

static bool fake_ready(void *arg, char *why, size_t len)
{
	struct fake_state *s = arg;

	if (!s->ready)
		snprintf(why, len, "no lease yet");
	return s->ready;
}

static void fake_metrics(void *arg, struct metrics_buf *m)
{
	struct fake_state *s = arg;

	metrics_gauge(m, "weft_peers", "Peers in the current lease set.", s->peers);
	metrics_family(m, "weft_kernel_objects", "gauge", "Kernel objects\\programmed\nper kind.");
	metrics_sample(m, "weft_kernel_objects", "kind=\"route\"", 3);
	metrics_sample(m, "weft_kernel_objects", "kind=\"fdb\"", 3);
	metrics_counter(m, "weft_reconcile_runs_total", "Reconcile passes.", 12345678901.0);
}

/* An HTTP client thread; the test thread runs the server loop meanwhile. */
struct req {
	const char *method;
	char url[128];
	long status;
	char body[8192];
	size_t len;
	char ctype[128];
	atomic_bool done;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct req *r = arg;
	size_t take = sz * n;

	if (take > sizeof(r->body) - 1 - r->len)
		take = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, p, take);
	r->len += take;
	r->body[r->len] = '\0';
	return sz * n;
}

static void *client(void *arg)
{
	struct req *r = arg;
	CURL *c = curl_easy_init();
	char *ct = NULL;

	curl_easy_setopt(c, CURLOPT_URL, r->url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		if (ct)
			snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	}
	curl_easy_cleanup(c);
	atomic_store(&r->done, true);
	return NULL;
}

static void fetch(struct health *h, const char *method, const char *path, struct req *r)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	pthread_t t;

	memset(r, 0, sizeof(*r));
	r->method = method;
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%u%s", health_port(h), path);
	assert_true(ep >= 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, health_fd(h), &ev), 0);
	assert_int_equal(pthread_create(&t, NULL, client, r), 0);
	/* bounded: 5 s */
	for (int i = 0; i < 100 && !atomic_load(&r->done); i++) {
		epoll_wait(ep, &ev, 1, 50);
		assert_int_equal(health_run(h), 0);
	}
	pthread_join(t, NULL);
	close(ep);
}

static int netns_setup(void **state)
{
	struct ifreq ifr = {0};
	int fd;

	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return -1;
	close(fd);
	return curl_global_init(CURL_GLOBAL_DEFAULT) ? -1 : 0;
}

static int netns_teardown(void **state)
{
	curl_global_cleanup();
	return 0;
}

static void test_endpoints(void **state)
{
	struct fake_state fs = {.ready = false, .peers = 3};
	struct health_ops ops = {.ready = fake_ready, .metrics = fake_metrics, .arg = &fs};
	struct health *h;
	struct req r;

	assert_int_equal(health_start("127.0.0.1:0", &ops, &h), 0);
	assert_true(health_port(h) > 0);

	fetch(h, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");

	fetch(h, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "not ready: no lease yet\n");
	fs.ready = true;
	fetch(h, "GET", "/readyz", &r);
	assert_int_equal(r.status, 200);

	fetch(h, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "\nweft_peers 3\n"));
	assert_non_null(strstr(r.body, "weft_kernel_objects{kind=\"fdb\"} 3\n"));
	assert_non_null(strstr(r.body, "weft_reconcile_runs_total 12345678901\n"));
	assert_non_null(strstr(
		r.body, "# HELP weft_kernel_objects Kernel objects\\\\programmed\\nper kind.\n"));
	{
		FILE *p = popen("promtool check metrics", "w");

		assert_non_null(p);
		fwrite(r.body, 1, r.len, p);
		assert_int_equal(pclose(p), 0);
	}

	fetch(h, "GET", "/nope", &r);
	assert_int_equal(r.status, 404);
	fetch(h, "POST", "/readyz", &r);
	assert_int_equal(r.status, 405);
	health_stop(h);
}

static void test_no_callbacks(void **state)
{
	struct health_ops ops = {0};
	struct health *h;
	struct req r;

	assert_int_equal(health_start("127.0.0.1:0", &ops, &h), 0);
	fetch(h, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	fetch(h, "GET", "/readyz", &r);
	assert_int_equal(r.status, 200);
	health_stop(h);
	health_stop(NULL);
}

static void test_bad_addresses(void **state)
{
	struct health_ops ops = {0};
	struct health *h, *h2;
	char addr[64];

	assert_int_equal(health_start("127.0.0.1", &ops, &h), -EINVAL);
	assert_int_equal(health_start("127.0.0.1:99999", &ops, &h), -EINVAL);
	assert_int_equal(health_start("127.0.0.1:x", &ops, &h), -EINVAL);
	assert_int_equal(health_start("localhost:80", &ops, &h), -EINVAL);
	assert_int_equal(health_start(":80", &ops, &h), -EINVAL);
	assert_int_equal(health_start("[::1:80", &ops, &h), -EINVAL);
	/* an address not on this host */
	assert_int_equal(health_start("192.0.2.1:9872", &ops, &h), -EADDRNOTAVAIL);
	/* a port that is taken */
	assert_int_equal(health_start("127.0.0.1:0", &ops, &h), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", health_port(h));
	assert_int_equal(health_start(addr, &ops, &h2), -EADDRINUSE);
	health_stop(h);
}

static void test_parse_v6(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *a = (void *)&ss;
	size_t len;

	assert_int_equal(health_parse_addr("[::1]:9872", &ss, &len), 0);
	assert_int_equal(len, sizeof(*a));
	assert_int_equal(a->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a->sin6_port), 9872);
	assert_int_equal(health_parse_addr("[::1]9872", &ss, &len), -EINVAL);
	assert_int_equal(health_parse_addr("[zz]:1", &ss, &len), -EINVAL);
}

static void test_sd_notify(void **state)
{
	struct fake_state fs = {.ready = false};
	struct health_ops ops = {.ready = fake_ready, .arg = &fs};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	struct health *h;
	char msg[256];
	ssize_t n;
	int fd;

	/* abstract socket: nothing on the file system */
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "weft-test-notify-%d", getpid());
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(
		bind(fd, (void *)&sun,
		     offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sun.sun_path + 1)),
		0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(msg, sizeof(msg), "@%s", sun.sun_path + 1);
	setenv("NOTIFY_SOCKET", msg, 1);

	assert_int_equal(health_start("127.0.0.1:0", &ops, &h), 0);
	assert_false(health_check_ready(h));
	assert_true(recv(fd, msg, sizeof(msg), 0) < 0); /* nothing sent while not ready */
	fs.ready = true;
	assert_true(health_check_ready(h));
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	assert_true(n > 0);
	msg[n] = '\0';
	assert_non_null(strstr(msg, "READY=1"));
	/* only once */
	assert_true(health_check_ready(h));
	assert_true(recv(fd, msg, sizeof(msg), 0) < 0);
	unsetenv("NOTIFY_SOCKET");
	health_stop(h);
	close(fd);
}

static void stop_loop(void *data)
{
	loop_stop(data, 0);
}

/* Runs weftd's loop with the endpoint attached for ms. */
static void run_loop_for(struct loop *l, uint64_t ms)
{
	struct loop_timer *t;

	assert_int_equal(loop_add_timer(l, stop_loop, l, &t), 0);
	assert_int_equal(loop_timer_arm(t, ms, 0), 0);
	assert_int_equal(loop_run(l), 0);
	loop_timer_free(t);
}

/* A client connection from src (127.x.y.z), not sending anything. */
static int idle_client(uint16_t port, const char *src)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, src, &a.sin_addr);
	assert_int_equal(bind(fd, (void *)&a, sizeof(a)), 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	a.sin_port = htons(port);
	assert_true(connect(fd, (void *)&a, sizeof(a)) == 0 || errno == EINPROGRESS);
	return fd;
}

/* Closed by the server: EOF or reset, without waiting. */
static bool closed_by_peer(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN);
}

static void test_guard(void **state)
{
	struct health_ops ops = {0};
	enum { N = 300 };
	int fds[N], waiter, closed = 0;
	struct health *h;
	struct loop *l;
	uint64_t culled;
	unsigned open;
	struct req r;
	char src[32];

	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(health_start("127.0.0.1:0", &ops, &h), 0);
	assert_int_equal(health_attach(h, l), 0);
	/* 300 idle clients from 20 addresses, 15 each: under the per-address
	 * limit, over the total one. */
	for (int i = 0; i < N; i++) {
		snprintf(src, sizeof(src), "127.0.1.%d", 1 + i / 15);
		fds[i] = idle_client(health_port(h), src);
	}
	run_loop_for(l, 500);
	health_get_stats(h, &open, &culled);
	assert_true(open <= HEALTH_CULL_AT);
	assert_true(culled >= N - HEALTH_CULL_AT);
	/* the oldest went first */
	assert_true(closed_by_peer(fds[0]));
	for (int i = 0; i < N; i++)
		closed += closed_by_peer(fds[i]);
	assert_true(closed >= N - HEALTH_CULL_AT);
	assert_false(closed_by_peer(fds[N - 1]));
	/* a probe still gets its answer */
	fetch(h, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	run_loop_for(l, 200);
	health_get_stats(h, &open, &culled);
	assert_int_equal(open, 0);

	/* Nothing else happens: the loop timer alone ends a client that
	 * sends no request within the wait. */
	waiter = idle_client(health_port(h), "127.0.2.1");
	run_loop_for(l, HEALTH_WAIT_MS - 1000);
	assert_false(closed_by_peer(waiter));
	run_loop_for(l, 2000);
	assert_true(closed_by_peer(waiter));
	close(waiter);
	health_stop(h);
	loop_free(l);
}

static void test_metrics_buf(void **state)
{
	struct metrics_buf *m = metrics_buf_new();
	const char *t;
	size_t len;
	char name[64];

	/* grows past its first allocation */
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "weft_g%d", i);
		metrics_gauge(m, name, "A gauge.", i);
	}
	t = metrics_buf_text(m, &len);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_non_null(strstr(t, "weft_g499 499\n"));
	metrics_buf_free(m);
	metrics_buf_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints),     cmocka_unit_test(test_no_callbacks),
		cmocka_unit_test(test_bad_addresses), cmocka_unit_test(test_parse_v6),
		cmocka_unit_test(test_sd_notify),     cmocka_unit_test(test_metrics_buf),
		cmocka_unit_test(test_guard),
	};

	return cmocka_run_group_tests_name("health", tests, netns_setup, netns_teardown);
}
