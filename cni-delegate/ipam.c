/* host-local compatible address store; see ipam.h. */
#include "cni-delegate/ipam.h"

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
static void write_cursor(int dirfd, const char *text)
{
	size_t len = strlen(text);
	struct stat sb;
	int fd;

	fd = open_store_file(dirfd, LAST_RESERVED, O_WRONLY | O_CREAT);
	if (fd < 0)
		return;
	if (pwrite(fd, text, len, 0) == (ssize_t)len && fstat(fd, &sb) == 0 &&
	    sb.st_size != (off_t)len)
		(void)!ftruncate(fd, (off_t)len);
	close(fd);
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

bool ipam_owns(struct ipam *st, uint32_t addr, const char *id, const char *ifname)
{
	char name[IP4_ADDR_STRLEN], owner[OWNER_MAX], got[OWNER_MAX];

	ip4_format_addr(addr, name);
	if (owner_text(id, ifname, owner, sizeof(owner)) ||
	    read_small(st->dirfd, name, got, sizeof(got)))
		return false;
	return !strcmp(got, owner) || !strcmp(got, id);
}

int ipam_release_addr(struct ipam *st, uint32_t addr, const char *id, const char *ifname)
{
	char name[IP4_ADDR_STRLEN];

	if (!ipam_owns(st, addr, id, ifname))
		return -ENOENT;
	ip4_format_addr(addr, name);
	if (unlinkat(st->dirfd, name, 0) < 0)
		return -errno;
	return 0;
}

int ipam_drop(struct ipam *st, uint32_t addr)
{
	char name[IP4_ADDR_STRLEN];

	ip4_format_addr(addr, name);
	if (unlinkat(st->dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int ipam_walk(struct ipam *st,
	      int (*cb)(uint32_t addr, const char *id, const char *ifname, void *data), void *data)
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
	while (!ret && (de = readdir(d))) {
		char text[OWNER_MAX], *sep;
		uint32_t addr;

		if (ip4_parse_addr(de->d_name, &addr))
			continue;
		if (read_small(st->dirfd, de->d_name, text, sizeof(text)))
			continue; /* gone meanwhile, or not a regular file */
		sep = strstr(text, "\r\n");
		if (sep) {
			*sep = '\0';
			ret = cb(addr, text, sep + 2, data);
		} else {
			ret = cb(addr, text, "", data);
		}
	}
	closedir(d);
	return ret;
}

struct release_ctx {
	const char *id, *ifname;
	uint32_t exact[RELEASE_MAX], legacy[RELEASE_MAX];
	unsigned n_exact, n_legacy;
};

static int release_cb(uint32_t addr, const char *id, const char *ifname, void *data)
{
	struct release_ctx *r = data;

	if (strcmp(id, r->id))
		return 0;
	if (!strcmp(ifname, r->ifname) && r->n_exact < RELEASE_MAX)
		r->exact[r->n_exact++] = addr;
	else if (!*ifname && r->n_legacy < RELEASE_MAX)
		r->legacy[r->n_legacy++] = addr;
	return 0;
}

int ipam_release(struct ipam *st, const char *id, const char *ifname, unsigned *released)
{
	struct release_ctx r = {.id = id, .ifname = ifname};
	uint32_t *list;
	unsigned n, i;
	int ret;

	*released = 0;
	ret = ipam_walk(st, release_cb, &r);
	if (ret)
		return ret;
	list = r.n_exact ? r.exact : r.legacy;
	n = r.n_exact ? r.n_exact : r.n_legacy;
	for (i = 0; i < n; i++) {
		ret = ipam_drop(st, list[i]);
		if (ret)
			return ret;
		(*released)++;
	}
	return 0;
}

static int count_cb(uint32_t addr, const char *id, const char *ifname, void *data)
{
	(*(unsigned *)data)++;
	return 0;
}

int ipam_count(struct ipam *st, unsigned *n)
{
	*n = 0;
	return ipam_walk(st, count_cb, n);
}
