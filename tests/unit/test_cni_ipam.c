/* The plugin's address store on a real filesystem: order, limits, owners,
 * release rules, the lock and files planted in the store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../cni-delegate/ipam.c"
#include "common/util.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/weft-ipam-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static uint32_t ip(const char *s)
{
	uint32_t a;

	assert_int_equal(ip4_parse_addr(s, &a), 0);
	return a;
}

static void read_file(const char *net, const char *name, char *buf, size_t size)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, net, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void test_reserve_order_and_limits(void **state)
{
	struct ip4_net sub = {ip("10.1.2.0"), 29};
	const char *want[] = {"10.1.2.2", "10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"};
	struct ipam st;
	char buf[64], id[16];
	uint32_t a;

	assert_int_equal(ipam_open(&st, dir, "order", false), -ENOENT);
	assert_int_equal(ipam_open(&st, dir, "order", true), 0);
	assert_int_equal(ipam_lock(&st, 1000), 0);
	for (int i = 0; i < 5; i++) {
		char got[IP4_ADDR_STRLEN];

		snprintf(id, sizeof(id), "c%d", i);
		assert_int_equal(ipam_reserve(&st, &sub, ip("10.1.2.1"), id, "eth0", &a), 0);
		ip4_format_addr(a, got);
		assert_string_equal(got, want[i]);
	}
	/* Network, gateway and broadcast are never handed out. */
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.1.2.1"), "c9", "eth0", &a), -ENOSPC);
	read_file("order", "10.1.2.2", buf, sizeof(buf));
	assert_string_equal(buf, "c0\r\neth0");
	read_file("order", "last_reserved_ip.0", buf, sizeof(buf));
	assert_string_equal(buf, "10.1.2.6");

	/* Round robin: a freed address comes back only when its turn comes. */
	assert_int_equal(ipam_release_addr(&st, ip("10.1.2.4"), "c2", "eth0"), 0);
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.1.2.1"), "c10", "eth0", &a), 0);
	assert_int_equal(a, ip("10.1.2.4"));
	/* A /31 or /32 has no pod addresses. */
	sub.prefix = 31;
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.1.2.1"), "x", "eth0", &a), -ENOSPC);
	ipam_close(&st);
}

static void test_cursor_resumes(void **state)
{
	struct ip4_net sub = {ip("10.3.0.0"), 24};
	struct ipam st;
	uint32_t a;
	FILE *f;
	char path[256];

	assert_int_equal(ipam_open(&st, dir, "cursor", true), 0);
	snprintf(path, sizeof(path), "%s/cursor/last_reserved_ip.0", dir);
	f = fopen(path, "w");
	fputs("10.3.0.100", f);
	fclose(f);
	assert_int_equal(ipam_lock(&st, 1000), 0);
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.3.0.1"), "a", "eth0", &a), 0);
	assert_int_equal(a, ip("10.3.0.101"));
	/* A cursor outside the subnet (the subnet changed) restarts at the bottom. */
	f = fopen(path, "w");
	fputs("192.168.9.9", f);
	fclose(f);
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.3.0.1"), "b", "eth0", &a), 0);
	assert_int_equal(a, ip("10.3.0.2"));
	/* At the top it wraps. */
	f = fopen(path, "w");
	fputs("10.3.0.254", f);
	fclose(f);
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.3.0.1"), "c", "eth0", &a), 0);
	assert_int_equal(a, ip("10.3.0.3"));
	ipam_close(&st);
}

static void test_release_rules(void **state)
{
	struct ip4_net sub = {ip("10.2.0.0"), 24};
	unsigned n;
	struct ipam st;
	uint32_t a1, a2, a3;
	char path[256];
	FILE *f;

	assert_int_equal(ipam_open(&st, dir, "rel", true), 0);
	assert_int_equal(ipam_lock(&st, 1000), 0);
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.2.0.1"), "ctr", "eth0", &a1), 0);
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.2.0.1"), "ctr", "net1", &a2), 0);
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.2.0.1"), "other", "eth0", &a3), 0);
	assert_true(ipam_owns(&st, a1, "ctr", "eth0"));
	assert_false(ipam_owns(&st, a1, "ctr", "net1"));
	assert_false(ipam_owns(&st, a1, "other", "eth0"));
	/* Wrong owner: refused. */
	assert_int_equal(ipam_release_addr(&st, a1, "other", "eth0"), -ENOENT);
	/* Release is keyed by id and ifname. */
	assert_int_equal(ipam_release(&st, "ctr", "eth1", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ipam_release(&st, "ctr", "eth0", &n), 0);
	assert_int_equal(n, 1);
	assert_false(ipam_owns(&st, a1, "ctr", "eth0"));
	assert_true(ipam_owns(&st, a2, "ctr", "net1"));
	assert_int_equal(ipam_count(&st, &n), 0);
	assert_int_equal(n, 2);

	/* Files of old host-local versions hold only the id. */
	snprintf(path, sizeof(path), "%s/rel/10.2.0.77", dir);
	f = fopen(path, "w");
	fputs("legacy\n", f);
	fclose(f);
	assert_true(ipam_owns(&st, ip("10.2.0.77"), "legacy", "eth0"));
	assert_int_equal(ipam_release(&st, "legacy", "eth0", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(access(path, F_OK), -1);
	/* Junk in the directory is not a reservation. */
	snprintf(path, sizeof(path), "%s/rel/notes.txt", dir);
	f = fopen(path, "w");
	fputs("ctr\r\nnet1", f);
	fclose(f);
	assert_int_equal(ipam_count(&st, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ipam_drop(&st, a3), 0);
	assert_int_equal(ipam_drop(&st, a3), 0);
	ipam_close(&st);
}

static void test_lock_timeout(void **state)
{
	struct ipam a, b;
	uint64_t t0;

	assert_int_equal(ipam_open(&a, dir, "lock", true), 0);
	assert_int_equal(ipam_open(&b, dir, "lock", true), 0);
	assert_int_equal(ipam_lock(&a, 1000), 0);
	t0 = now_ms();
	assert_int_equal(ipam_lock(&b, 200), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 150);
	ipam_unlock(&a);
	assert_int_equal(ipam_lock(&b, 200), 0);
	ipam_close(&a);
	ipam_close(&b);
}

/* Links, FIFOs and hard links planted in the store: nothing is written
 * through them, nothing blocks, nothing is taken for a reservation. */
static void test_planted_files(void **state)
{
	struct ip4_net sub = {ip("10.4.0.0"), 24};
	char path[256], target[256], got[64];
	struct stat sb;
	struct ipam st;
	unsigned n;
	uint32_t a;
	FILE *f;

	snprintf(target, sizeof(target), "%s/precious", dir);
	f = fopen(target, "w");
	fputs("precious", f);
	fclose(f);
	assert_int_equal(chmod(target, 0640), 0);
	assert_int_equal(ipam_open(&st, dir, "planted", true), 0);
	alarm(10); /* a blocking open fails the test instead of hanging it */

	/* lock: a link (to a file, dangling), a FIFO, a second hard link */
	snprintf(path, sizeof(path), "%s/planted/lock", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(ipam_lock(&st, 200), -ELOOP);
	unlink(path);
	assert_int_equal(symlink("/tmp/weft-ipam-never-created", path), 0);
	assert_int_equal(ipam_lock(&st, 200), -ELOOP);
	assert_int_equal(access("/tmp/weft-ipam-never-created", F_OK), -1);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(ipam_lock(&st, 200), -EINVAL);
	unlink(path);
	assert_int_equal(link(target, path), 0);
	assert_int_equal(ipam_lock(&st, 200), -EINVAL);
	unlink(path);
	assert_int_equal(ipam_lock(&st, 200), 0);

	/* cursor: a link is neither followed nor replaced, a FIFO is skipped */
	snprintf(path, sizeof(path), "%s/planted/last_reserved_ip.0", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.4.0.1"), "a", "eth0", &a), 0);
	assert_int_equal(a, ip("10.4.0.2"));
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.4.0.1"), "b", "eth0", &a), 0);
	assert_int_equal(a, ip("10.4.0.3"));
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode));
	unlink(path);

	/* address names: a FIFO and a link are not reservations, and ADD
	 * steps over them */
	snprintf(path, sizeof(path), "%s/planted/10.4.0.4", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/planted/10.4.0.5", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(ipam_count(&st, &n), 0);
	assert_int_equal(n, 2);
	assert_false(ipam_owns(&st, ip("10.4.0.5"), "precious", ""));
	assert_int_equal(ipam_reserve(&st, &sub, ip("10.4.0.1"), "c", "eth0", &a), 0);
	assert_int_equal(a, ip("10.4.0.6"));
	alarm(0);
	ipam_close(&st);

	/* the target never changed */
	f = fopen(target, "r");
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "precious");
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);
	assert_int_equal(sb.st_nlink, 1);
}

static struct in6_addr ip6(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static void assert_ip6(const struct in6_addr *a, const char *want)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static struct ipam_ranges dual(const char *gw6, uint8_t prefix6)
{
	struct ipam_ranges r = {.has_v4 = true, .has_v6 = true, .prefix6 = prefix6};

	r.sub4 = (struct ip4_net){ip("10.5.0.0"), 24};
	r.gw4 = ip("10.5.0.1");
	r.gw6 = ip6(gw6);
	return r;
}

/* Two ranges: host-local's files, one cursor per range, release by owner. */
static void test_two_ranges(void **state)
{
	struct ipam_ranges r = dual("fd00:5::1", 64);
	struct ipam_found *f;
	struct ipam st;
	char buf[128];
	unsigned n;

	assert_int_equal(ipam_open(&st, dir, "dual", true), 0);
	assert_int_equal(ipam_lock(&st, 1000), 0);
	assert_int_equal(ipam_reserve_all(&st, &r, "a", "eth0"), 0);
	assert_int_equal(r.addr4, ip("10.5.0.2"));
	assert_ip6(&r.addr6, "fd00:5::2");
	assert_int_equal(ipam_reserve_all(&st, &r, "b", "eth0"), 0);
	assert_ip6(&r.addr6, "fd00:5::3");
	read_file("dual", "fd00:5::3", buf, sizeof(buf));
	assert_string_equal(buf, "b\r\neth0");
	read_file("dual", "last_reserved_ip.0", buf, sizeof(buf));
	assert_string_equal(buf, "10.5.0.3");
	read_file("dual", "last_reserved_ip.1", buf, sizeof(buf));
	assert_string_equal(buf, "fd00:5::3");
	assert_true(ipam_owns6(&st, &r.addr6, "b", "eth0"));
	assert_false(ipam_owns6(&st, &r.addr6, "a", "eth0"));
	assert_int_equal(ipam_count(&st, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ipam_count6(&st, &n), 0);
	assert_int_equal(n, 2);

	/* A non-canonical spelling is not a reservation of ours. */
	write_new(st.dirfd, "FD00:5::9", "b\r\neth0", O_EXCL);
	assert_int_equal(ipam_count6(&st, &n), 0);
	assert_int_equal(n, 2);

	/* DEL's two steps: found without the lock, dropped under it. */
	assert_int_equal(ipam_release_find(&st, "a", "eth0", &f), 0);
	assert_int_equal(ipam_release_count(f), 2);
	assert_int_equal(ipam_release_found(&st, f, &n), 0);
	assert_int_equal(n, 2);
	free(f);
	assert_int_equal(ipam_release(&st, "b", "eth0", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ipam_count6(&st, &n), 0);
	assert_int_equal(n, 0);
	/* Round robin goes on after the cursor in each range. */
	assert_int_equal(ipam_reserve_all(&st, &r, "c", "eth0"), 0);
	assert_int_equal(r.addr4, ip("10.5.0.4"));
	assert_ip6(&r.addr6, "fd00:5::4");
	ipam_close(&st);
}

/* All or nothing: a full IPv6 range leaves no IPv4 reservation and the
 * IPv4 cursor where it was; IPv6 alone uses range 0. */
static void test_all_or_nothing(void **state)
{
	struct ipam_ranges r = dual("fd00:6::1", 126);
	struct ipam st;
	char buf[128];
	unsigned n;

	assert_int_equal(ipam_open(&st, dir, "aon", true), 0);
	assert_int_equal(ipam_lock(&st, 1000), 0);
	/* A /126: the gateway ::1, then ::2 and ::3. */
	assert_int_equal(ipam_reserve_all(&st, &r, "a", "eth0"), 0);
	assert_int_equal(ipam_reserve_all(&st, &r, "b", "eth0"), 0);
	assert_ip6(&r.addr6, "fd00:6::3");
	assert_int_equal(ipam_reserve_all(&st, &r, "c", "eth0"), -ENOSPC);
	assert_true(r.failed_v6);
	assert_false(ipam_owns(&st, ip("10.5.0.4"), "c", "eth0"));
	assert_int_equal(ipam_count(&st, &n), 0);
	assert_int_equal(n, 2);
	read_file("aon", "last_reserved_ip.0", buf, sizeof(buf));
	assert_string_equal(buf, "10.5.0.3");
	/* A full IPv4 range fails first, with nothing of IPv6 taken. */
	r = dual("fd00:6:1::1", 64);
	r.sub4 = (struct ip4_net){ip("10.5.0.0"), 30};
	assert_int_equal(ipam_reserve_all(&st, &r, "d", "eth0"), -ENOSPC);
	assert_false(r.failed_v6);
	assert_int_equal(ipam_count6(&st, &n), 0);
	assert_int_equal(n, 2);
	ipam_close(&st);
	/* No cursor before: none after a failed ADD either. */
	assert_int_equal(ipam_open(&st, dir, "aon2", true), 0);
	assert_int_equal(ipam_lock(&st, 1000), 0);
	r = dual("fd00:6::1", 127);
	assert_int_equal(ipam_reserve_all(&st, &r, "e", "eth0"), -ENOSPC);
	assert_int_equal(ipam_count(&st, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(faccessat(st.dirfd, "last_reserved_ip.0", F_OK, 0), -1);
	/* IPv6 only: its cursor is range 0. */
	r.has_v4 = false;
	r.prefix6 = 64;
	assert_int_equal(ipam_reserve_all(&st, &r, "f", "eth0"), 0);
	read_file("aon2", "last_reserved_ip.0", buf, sizeof(buf));
	assert_string_equal(buf, "fd00:6::2");
	ipam_close(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserve_order_and_limits),
		cmocka_unit_test(test_cursor_resumes),
		cmocka_unit_test(test_release_rules),
		cmocka_unit_test(test_lock_timeout),
		cmocka_unit_test(test_planted_files),
		cmocka_unit_test(test_two_ranges),
		cmocka_unit_test(test_all_or_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
