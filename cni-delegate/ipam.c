/* host-local compatible address store; see ipam.h. */
#include "cni-delegate/ipam.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/util.h"

#define LAST_RESERVED "last_reserved_ip.0"
#define CURSOR_NAME   "last_reserved_ip.%u"
#define OWNER_MAX     512
/* Reservations one attachment can hold (normally one). */
#define RELEASE_MAX 64

int ipam_open(struct ipam *st, const char *data_dir, const char *network, bool create)
{
	char path[PATH_MAX];
	int n, ret;

	st->dirfd = -1;
	st->lockfd = -1;
	n = snprintf(path, sizeof(path), "%s/%s", data_dir, network);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd >= 0)
		return 0;
	if (errno != ENOENT || !create)
		return -errno;
	ret = dir_make_all(path);
	if (ret)
		return ret;
	st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0)
		return -errno;
	return 0;
}

void ipam_close(struct ipam *st)
{
	ipam_unlock(st);
	if (st->dirfd >= 0)
		close(st->dirfd);
	st->dirfd = -1;
}

/* Store files are regular files of our own: a link there is refused
 * (O_NOFOLLOW), a FIFO neither blocks the open nor is used, and a file
 * with a second name (a hard link to something else) is not written. */
static int open_store_file(int dirfd, const char *name, int flags)
{
	struct stat sb;
	int fd, ret;

	fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (!S_ISREG(sb.st_mode) || ((flags & O_ACCMODE) != O_RDONLY && sb.st_nlink > 1)) {
		ret = -EINVAL;
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return ret;
}

static void on_alarm(int sig)
{
	(void)sig;
}

int ipam_lock(struct ipam *st, unsigned timeout_ms)
{
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	struct itimerval tv = {0}, off = {0};
	int ret = 0;

	ret = open_store_file(st->dirfd, "lock", O_RDWR | O_CREAT);
	if (ret < 0)
		return ret;
	st->lockfd = ret;
	ret = 0;
	if (flock(st->lockfd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK) {
		ret = -errno;
		goto err_close;
	}
	/* Wait in the kernel's queue; the timer interrupts the wait (no
	 * SA_RESTART) so a stuck holder gives "try again later". */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	tv.it_value.tv_sec = timeout_ms / 1000;
	tv.it_value.tv_usec = (timeout_ms % 1000) * 1000;
	setitimer(ITIMER_REAL, &tv, NULL);
	if (flock(st->lockfd, LOCK_EX) < 0)
		ret = errno == EINTR ? -ETIMEDOUT : -errno;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	if (!ret)
		return 0;
err_close:
	close(st->lockfd);
	st->lockfd = -1;
	return ret;
}

void ipam_unlock(struct ipam *st)
{
	if (st->lockfd < 0)
		return;
	/* Closing drops the flock. */
	close(st->lockfd);
	st->lockfd = -1;
}

/* Reads a small file relative to the store; trailing whitespace trimmed
 * like host-local does. */
static int read_small(int dirfd, const char *name, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open_store_file(dirfd, name, O_RDONLY);
	if (fd < 0)
		return fd;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			 buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	return 0;
}

static int write_new(int dirfd, const char *name, const char *data, int flags)
{
	size_t len = strlen(data);
	ssize_t n;
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, 0600);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n != (ssize_t)len) {
		int err = n < 0 ? -errno : -EIO;

		close(fd);
		return err;
	}
	if (close(fd) < 0)
		return -errno;
	return 0;
}

/* Overwrites the cursor in place: a truncate on every ADD costs the
 * filesystem far more than the few bytes written. */
static void write_cursor_name(int dirfd, const char *cursor, const char *text)
{
	size_t len = strlen(text);
	struct stat sb;
	int fd;

	fd = open_store_file(dirfd, cursor, O_WRONLY | O_CREAT);
	if (fd < 0)
		return;
	if (pwrite(fd, text, len, 0) == (ssize_t)len && fstat(fd, &sb) == 0 &&
	    sb.st_size != (off_t)len)
		(void)!ftruncate(fd, (off_t)len);
	close(fd);
}

static void write_cursor(int dirfd, const char *text)
{
	write_cursor_name(dirfd, LAST_RESERVED, text);
}

static int owner_text(const char *id, const char *ifname, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s\r\n%s", id, ifname);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int ipam_reserve(struct ipam *st, const struct ip4_net *subnet, uint32_t gateway, const char *id,
		 const char *ifname, uint32_t *out)
{
	char owner[OWNER_MAX], name[IP4_ADDR_STRLEN], last_s[64];
	uint32_t lo, hi, last = 0, c;
	uint64_t span, i;
	int ret;

	if (subnet->prefix > 30)
		return -ENOSPC;
	ret = owner_text(id, ifname, owner, sizeof(owner));
	if (ret)
		return ret;
	lo = ip4_net_first(subnet) + 1;
	hi = ip4_net_broadcast(subnet) - 1;
	span = (uint64_t)hi - lo + 1;
	if (read_small(st->dirfd, LAST_RESERVED, last_s, sizeof(last_s)) == 0)
		ip4_parse_addr(last_s, &last);
	c = (last >= lo && last < hi) ? last + 1 : lo;
	for (i = 0; i < span; i++, c = (c == hi ? lo : c + 1)) {
		if (c == gateway)
			continue;
		ip4_format_addr(c, name);
		ret = write_new(st->dirfd, name, owner, O_EXCL);
		if (ret == -EEXIST)
			continue;
		if (ret) {
			unlinkat(st->dirfd, name, 0);
			return ret;
		}
		/* The cursor is a hint: losing it only changes the order. */
		write_cursor(st->dirfd, name);
		*out = c;
		return 0;
	}
	return -ENOSPC;
}

typedef unsigned __int128 u128;

static u128 to_u128(const struct in6_addr *a)
{
	u128 v = 0;

	for (int i = 0; i < 16; i++)
		v = (v << 8) | a->s6_addr[i];
	return v;
}

static void from_u128(u128 v, struct in6_addr *a)
{
	for (int i = 15; i >= 0; i--, v >>= 8)
		a->s6_addr[i] = (uint8_t)v;
}

int ipam_reserve6(struct ipam *st, unsigned idx, const struct in6_addr *net, uint8_t prefix,
		  const struct in6_addr *gateway, const char *id, const char *ifname,
		  struct in6_addr *out)
{
	char owner[OWNER_MAX], name[INET6_ADDRSTRLEN], cursor[32], last_s[64];
	u128 host, lo, hi, c, gw = to_u128(gateway), last = 0;
	struct in6_addr a;
	int ret;

	/* As host-local: network + 1 up to the last address (no broadcast in
	 * IPv6); a /127 or /128 has nothing left beside the gateway. */
	if (prefix > 126)
		return -ENOSPC;
	ret = owner_text(id, ifname, owner, sizeof(owner));
	if (ret)
		return ret;
	host = prefix ? (((u128)1 << (128 - prefix)) - 1) : ~(u128)0;
	lo = (to_u128(net) & ~host) + 1;
	hi = (lo - 1) | host;
	snprintf(cursor, sizeof(cursor), CURSOR_NAME, idx);
	if (read_small(st->dirfd, cursor, last_s, sizeof(last_s)) == 0 &&
	    inet_pton(AF_INET6, last_s, &a) == 1)
		last = to_u128(&a);
	c = (last >= lo && last < hi) ? last + 1 : lo;
	/* Bounded by the range size; a free address turns up long before. */
	for (u128 i = 0; i <= hi - lo; i++, c = (c == hi ? lo : c + 1)) {
		if (c == gw)
			continue;
		from_u128(c, &a);
		inet_ntop(AF_INET6, &a, name, sizeof(name));
		ret = write_new(st->dirfd, name, owner, O_EXCL);
		if (ret == -EEXIST)
			continue;
		if (ret) {
			unlinkat(st->dirfd, name, 0);
			return ret;
		}
		write_cursor_name(st->dirfd, cursor, name);
		*out = a;
		return 0;
	}
	return -ENOSPC;
}

int ipam_cursor_save(struct ipam *st, unsigned idx, char *buf, size_t len)
{
	char cursor[32];
	int ret;

	snprintf(cursor, sizeof(cursor), CURSOR_NAME, idx);
	ret = read_small(st->dirfd, cursor, buf, len);
	if (ret == -ENOENT) {
		buf[0] = '\0';
		ret = 0;
	}
	return ret;
}

void ipam_cursor_restore(struct ipam *st, unsigned idx, const char *text)
{
	char cursor[32];

	snprintf(cursor, sizeof(cursor), CURSOR_NAME, idx);
	if (*text)
		write_cursor_name(st->dirfd, cursor, text);
	else
		unlinkat(st->dirfd, cursor, 0);
}

int ipam_reserve_all(struct ipam *st, struct ipam_ranges *r, const char *id, const char *ifname)
{
	char cursor[64] = "";
	int ret;

	r->failed_v6 = false;
	if (r->has_v4) {
		if (r->has_v6)
			ipam_cursor_save(st, 0, cursor, sizeof(cursor));
		ret = ipam_reserve(st, &r->sub4, r->gw4, id, ifname, &r->addr4);
		if (ret)
			return ret;
	}
	if (!r->has_v6)
		return 0;
	ret = ipam_reserve6(st, r->has_v4 ? 1 : 0, &r->gw6, r->prefix6, &r->gw6, id, ifname,
			    &r->addr6);
	if (ret) {
		r->failed_v6 = true;
		if (r->has_v4) {
			ipam_release_addr(st, r->addr4, id, ifname);
			ipam_cursor_restore(st, 0, cursor);
		}
	}
	return ret;
}

static bool owns_name(struct ipam *st, const char *name, const char *id, const char *ifname)
{
	char owner[OWNER_MAX], got[OWNER_MAX];

	if (owner_text(id, ifname, owner, sizeof(owner)) ||
	    read_small(st->dirfd, name, got, sizeof(got)))
		return false;
	return !strcmp(got, owner) || !strcmp(got, id);
}

static int release_name(struct ipam *st, const char *name, const char *id, const char *ifname)
{
	if (!owns_name(st, name, id, ifname))
		return -ENOENT;
	if (unlinkat(st->dirfd, name, 0) < 0)
		return -errno;
	return 0;
}

static int drop_name(struct ipam *st, const char *name)
{
	if (unlinkat(st->dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

bool ipam_owns(struct ipam *st, uint32_t addr, const char *id, const char *ifname)
{
	char name[IP4_ADDR_STRLEN];

	ip4_format_addr(addr, name);
	return owns_name(st, name, id, ifname);
}

int ipam_release_addr(struct ipam *st, uint32_t addr, const char *id, const char *ifname)
{
	char name[IP4_ADDR_STRLEN];

	ip4_format_addr(addr, name);
	return release_name(st, name, id, ifname);
}

int ipam_drop(struct ipam *st, uint32_t addr)
{
	char name[IP4_ADDR_STRLEN];

	ip4_format_addr(addr, name);
	return drop_name(st, name);
}

bool ipam_owns6(struct ipam *st, const struct in6_addr *a, const char *id, const char *ifname)
{
	char name[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, name, sizeof(name));
	return owns_name(st, name, id, ifname);
}

int ipam_release_addr6(struct ipam *st, const struct in6_addr *a, const char *id,
		       const char *ifname)
{
	char name[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, name, sizeof(name));
	return release_name(st, name, id, ifname);
}

int ipam_drop6(struct ipam *st, const struct in6_addr *a)
{
	char name[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, name, sizeof(name));
	return drop_name(st, name);
}

/* An IPv6 reservation is a file named by the canonical text (what
 * host-local writes); other spellings are not ours. */
static bool parse_name6(const char *name, struct in6_addr *a)
{
	char again[INET6_ADDRSTRLEN];

	return strchr(name, ':') && inet_pton(AF_INET6, name, a) == 1 &&
	       inet_ntop(AF_INET6, a, again, sizeof(again)) && !strcmp(again, name);
}

struct walk_cbs {
	int (*cb4)(uint32_t addr, const char *id, const char *ifname, void *data);
	int (*cb6)(const struct in6_addr *addr, const char *id, const char *ifname, void *data);
	void *data;
};

static int walk_one(struct ipam *st, const char *name, const struct walk_cbs *w)
{
	char text[OWNER_MAX], *sep, *ifname = "";
	struct in6_addr a6;
	uint32_t a4;
	bool v4 = ip4_parse_addr(name, &a4) == 0;

	if (v4 ? !w->cb4 : (!w->cb6 || !parse_name6(name, &a6)))
		return 0;
	if (read_small(st->dirfd, name, text, sizeof(text)))
		return 0; /* gone meanwhile, or not a regular file */
	sep = strstr(text, "\r\n");
	if (sep) {
		*sep = '\0';
		ifname = sep + 2;
	}
	return v4 ? w->cb4(a4, text, ifname, w->data) : w->cb6(&a6, text, ifname, w->data);
}

static int walk(struct ipam *st, const struct walk_cbs *w)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while (!ret && (de = readdir(d)))
		ret = walk_one(st, de->d_name, w);
	closedir(d);
	return ret;
}

int ipam_walk(struct ipam *st,
	      int (*cb)(uint32_t addr, const char *id, const char *ifname, void *data), void *data)
{
	struct walk_cbs w = {.cb4 = cb, .data = data};

	return walk(st, &w);
}

int ipam_walk6(struct ipam *st,
	       int (*cb)(const struct in6_addr *addr, const char *id, const char *ifname,
			 void *data),
	       void *data)
{
	struct walk_cbs w = {.cb6 = cb, .data = data};

	return walk(st, &w);
}

/* Reservation file names of one attachment, both families. */
struct ipam_found {
	const char *id, *ifname;
	char exact[RELEASE_MAX][INET6_ADDRSTRLEN], legacy[RELEASE_MAX][INET6_ADDRSTRLEN];
	unsigned n_exact, n_legacy;
};

static void release_note(struct ipam_found *r, const char *name, const char *id, const char *ifname)
{
	if (strcmp(id, r->id))
		return;
	if (!strcmp(ifname, r->ifname) && r->n_exact < RELEASE_MAX)
		strcpy(r->exact[r->n_exact++], name);
	else if (!*ifname && r->n_legacy < RELEASE_MAX)
		strcpy(r->legacy[r->n_legacy++], name);
}

static int release_cb4(uint32_t addr, const char *id, const char *ifname, void *data)
{
	char name[IP4_ADDR_STRLEN];

	ip4_format_addr(addr, name);
	release_note(data, name, id, ifname);
	return 0;
}

static int release_cb6(const struct in6_addr *addr, const char *id, const char *ifname, void *data)
{
	char name[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, addr, name, sizeof(name));
	release_note(data, name, id, ifname);
	return 0;
}

int ipam_release_find(struct ipam *st, const char *id, const char *ifname, struct ipam_found **out)
{
	struct walk_cbs w = {release_cb4, release_cb6, NULL};
	struct ipam_found *r;
	int ret;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->id = id;
	r->ifname = ifname;
	w.data = r;
	ret = walk(st, &w);
	if (ret) {
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

unsigned ipam_release_count(const struct ipam_found *r)
{
	return r->n_exact ? r->n_exact : r->n_legacy;
}

int ipam_release_found(struct ipam *st, struct ipam_found *r, unsigned *released)
{
	char(*list)[INET6_ADDRSTRLEN] = r->n_exact ? r->exact : r->legacy;
	unsigned n = ipam_release_count(r);
	int ret = 0;

	*released = 0;
	for (unsigned i = 0; !ret && i < n; i++) {
		/* Owner checked again: found before the lock was held. */
		ret = release_name(st, list[i], r->id, r->n_exact ? r->ifname : "");
		if (ret == -ENOENT)
			ret = 0;
		else if (!ret)
			(*released)++;
	}
	return ret;
}

int ipam_release(struct ipam *st, const char *id, const char *ifname, unsigned *released)
{
	struct ipam_found *r;
	int ret;

	*released = 0;
	ret = ipam_release_find(st, id, ifname, &r);
	if (ret)
		return ret;
	ret = ipam_release_found(st, r, released);
	free(r);
	return ret;
}

static int count_cb4(uint32_t addr, const char *id, const char *ifname, void *data)
{
	(*(unsigned *)data)++;
	return 0;
}

static int count_cb6(const struct in6_addr *addr, const char *id, const char *ifname, void *data)
{
	(*(unsigned *)data)++;
	return 0;
}

int ipam_count(struct ipam *st, unsigned *n)
{
	struct walk_cbs w = {.cb4 = count_cb4, .data = n};

	*n = 0;
	return walk(st, &w);
}

int ipam_count6(struct ipam *st, unsigned *n)
{
	struct walk_cbs w = {.cb6 = count_cb6, .data = n};

	*n = 0;
	return walk(st, &w);
}
