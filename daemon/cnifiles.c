/* CNI file ownership: write once ready, watch, restore. */
#include "daemon/cnifiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/conflist.h"
#include "common/loop.h"

#define PLUGIN_NAME	 "weft"
#define PLUGIN_MAX	 (256u << 20)
#define SYNC_DEBOUNCE_MS 20   /* coalesces a burst of events into one check */
#define SYNC_RETRY_MS	 1000 /* after a failed write or a missing directory */
#define WATCH_MASK                                                                          \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | \
	 IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct cnifile {
	const char *what; /* for logs */
	char *dir, *name;
	char path[PATH_MAX];
	char *data;
	size_t len;
	unsigned mode;
	int wd; /* -1: directory not watched */
	bool written;
};

struct cnifiles {
	struct loop *loop;
	struct cnifile files[2];
	size_t n;
	int ifd;
	struct loop_timer *t_sync;
	bool active, sync_armed;
	struct log_ratelimit rl;
};

/* ------------------------------------------------------------- files */

/* The target is a regular file with our bytes and mode. A FIFO or a
 * symlink planted there never blocks or redirects the read. */
static bool file_matches(const struct cnifile *f)
{
	struct stat st;
	bool same = false;
	char *buf = NULL;
	size_t got = 0;
	int fd;

	fd = open(f->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != f->len ||
	    (st.st_mode & 07777) != f->mode)
		goto cleanup;
	buf = malloc(f->len + 1);
	if (!buf)
		goto cleanup;
	/* One byte more than expected shows a file that grew meanwhile. */
	while (got < f->len + 1) {
		ssize_t n = read(fd, buf + got, f->len + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	same = got == f->len && !memcmp(buf, f->data, f->len);
cleanup:
	free(buf);
	close(fd);
	return same;
}

/* The temp name is hidden and has no .conf/.conflist suffix, so no
 * runtime picks it up before the rename. */
static int install(const struct cnifile *f)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", f->dir, f->name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	return file_write_via(f->path, tmp, f->data, f->len, f->mode);
}

/* Temp files of ours that a killed weftd left: ".<name>.XXXXXX". */
static void remove_stale_temps(const struct cnifile *f)
{
	size_t n = strlen(f->name);
	struct dirent *e;
	DIR *d;

	d = opendir(f->dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && strlen(e->d_name) == n + 8 &&
		    !strncmp(e->d_name + 1, f->name, n) && e->d_name[n + 1] == '.' &&
		    e->d_type == DT_REG)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* Watches the directory (creating it), then puts the file right. */
static int sync_file(struct cnifiles *cf, struct cnifile *f)
{
	int ret;

	if (f->wd < 0) {
		ret = dir_make_all(f->dir);
		if (ret < 0)
			return ret;
		f->wd = inotify_add_watch(cf->ifd, f->dir, WATCH_MASK);
		if (f->wd < 0)
			return -errno;
		remove_stale_temps(f);
	}
	if (file_matches(f)) {
		/* A restarted weftd finds its predecessor's files: say so once. */
		if (!f->written)
			log_info("%s %s already in place", f->what, f->path);
		goto done;
	}
	ret = install(f);
	if (ret < 0)
		return ret;
	if (f->written)
		log_info("restored %s %s (it was deleted or changed)", f->what, f->path);
	else
		log_info("wrote %s %s", f->what, f->path);
done:
	f->written = true;
	return 0;
}

/* ------------------------------------------------------------- events */

static void arm_sync(struct cnifiles *cf, uint64_t delay_ms)
{
	if (cf->sync_armed)
		return;
	cf->sync_armed = true;
	loop_timer_arm(cf->t_sync, delay_ms, 0);
}

static void do_sync(void *data)
{
	struct cnifiles *cf = data;
	bool failed = false;

	cf->sync_armed = false;
	for (size_t i = 0; i < cf->n; i++) {
		struct cnifile *f = &cf->files[i];
		int ret = sync_file(cf, f);

		if (ret < 0) {
			failed = true;
			if (log_ratelimit_ok(&cf->rl))
				log_err("cannot write %s %s: %s; retrying", f->what, f->path,
					strerror(-ret));
			break; /* no conflist before its plugin is in place */
		}
	}
	if (failed)
		arm_sync(cf, SYNC_RETRY_MS);
}

/* Does the event concern one of our files or their directories? */
static bool event_relevant(struct cnifiles *cf, const struct inotify_event *ev)
{
	bool hit = false;

	if (ev->mask & IN_Q_OVERFLOW)
		return true;
	for (size_t i = 0; i < cf->n; i++) {
		struct cnifile *f = &cf->files[i];

		if (f->wd != ev->wd)
			continue;
		if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
			/* Gone or moved away: watch the path afresh. */
			if (ev->mask & IN_MOVE_SELF)
				inotify_rm_watch(cf->ifd, ev->wd);
			f->wd = -1;
			hit = true;
		} else if (ev->len && !strcmp(ev->name, f->name)) {
			hit = true;
		}
	}
	return hit;
}

static void on_inotify(void *data, int fd, uint32_t events)
{
	struct cnifiles *cf = data;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && log_ratelimit_ok(&cf->rl))
				log_err("reading inotify events: %s", strerror(errno));
			break;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			hit |= event_relevant(cf, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (hit)
		arm_sync(cf, SYNC_DEBOUNCE_MS);
}

/* ------------------------------------------------------------- setup */

static int set_target(struct cnifile *f, const char *what, const char *dir, const char *name,
		      unsigned mode, char *err, size_t errlen)
{
	struct stat st;

	f->what = what;
	f->mode = mode;
	f->wd = -1;
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
		return err_fail(err, errlen, "%s exists and is not a directory", dir);
	f->dir = strdup(dir);
	f->name = strdup(name);
	if (!f->dir || !f->name)
		return -ENOMEM;
	if (snprintf(f->path, sizeof(f->path), "%s/%s", dir, name) >= (int)sizeof(f->path))
		return err_fail(err, errlen, "%s: path too long", dir);
	return 0;
}

static int load_conflist(struct cnifile *f, const struct cnifiles_config *c, char *err,
			 size_t errlen)
{
	char sf[PATH_MAX], why[256];
	int ret;

	if (!c->conf_template) {
		ret = conflist_build(c->cni_version, c->subnet_file, &f->data);
		if (ret < 0)
			return err_fail(err, errlen, "cannot build the conflist: %s",
					strerror(-ret));
		f->len = strlen(f->data);
		return 0;
	}
	ret = file_read_all(c->conf_template, CONFLIST_MAX, &f->data, &f->len);
	if (ret < 0)
		return err_fail(err, errlen, "--cni-conf-template %s: %s", c->conf_template,
				ret == -EFBIG ? "larger than 64 KiB" : strerror(-ret));
	if (conflist_check(f->data, f->len, sf, sizeof(sf), why, sizeof(why)) < 0)
		return err_fail(err, errlen, "--cni-conf-template %s: %s", c->conf_template, why);
	if (c->subnet_file && strcmp(sf, c->subnet_file))
		log_warn("--cni-conf-template %s: the weft plugin reads %s, weftd writes %s",
			 c->conf_template, sf, c->subnet_file);
	return 0;
}

static int load_plugin(struct cnifile *f, const char *plugin, char *err, size_t errlen)
{
	char self[PATH_MAX], src[PATH_MAX];
	struct stat st;
	ssize_t n;
	int ret;

	if (!plugin) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return err_fail(err, errlen, "cannot find weftd's own path: %s",
					strerror(errno));
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		if (snprintf(src, sizeof(src), "%s/" PLUGIN_NAME, self) >= (int)sizeof(src))
			return err_fail(err, errlen, "%s/" PLUGIN_NAME ": path too long", self);
		plugin = src;
	}
	if (stat(plugin, &st) < 0 || !S_ISREG(st.st_mode) || access(plugin, X_OK) < 0)
		return err_fail(err, errlen, "--cni-plugin %s: not an executable file", plugin);
	ret = file_read_all(plugin, PLUGIN_MAX, &f->data, &f->len);
	if (ret < 0 || !f->len)
		return err_fail(err, errlen, "--cni-plugin %s: %s", plugin,
				ret < 0 ? strerror(-ret) : "empty");
	return 0;
}

int cnifiles_new(const struct cnifiles_config *c, struct cnifiles **out, char *err, size_t errlen)
{
	struct cnifiles *cf;
	int ret = 0;

	*out = NULL;
	err[0] = '\0';
	if (!c->conf_dir && !c->bin_dir)
		return 0;
	cf = calloc(1, sizeof(*cf));
	if (!cf)
		return -ENOMEM;
	cf->loop = c->loop;
	cf->ifd = -1;
	cf->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	/* The plugin first: a runtime takes the conflist as "network ready"
	 * and must find the plugin it names already in place. */
	if (c->bin_dir) {
		struct cnifile *f = &cf->files[cf->n++];

		ret = set_target(f, "CNI plugin", c->bin_dir, PLUGIN_NAME, 0755, err, errlen);
		if (!ret)
			ret = load_plugin(f, c->plugin, err, errlen);
	}
	if (!ret && c->conf_dir) {
		struct cnifile *f = &cf->files[cf->n++];

		ret = set_target(f, "CNI config", c->conf_dir, CONFLIST_NAME, 0644, err, errlen);
		if (!ret)
			ret = load_conflist(f, c, err, errlen);
	}
	if (!ret)
		ret = loop_add_timer(c->loop, do_sync, cf, &cf->t_sync);
	if (ret < 0) {
		if (ret == -ENOMEM && !err[0])
			snprintf(err, errlen, "out of memory");
		cnifiles_free(cf);
		return ret;
	}
	*out = cf;
	return 0;
}

int cnifiles_activate(struct cnifiles *cf)
{
	int ret;

	if (!cf || cf->active)
		return 0;
	cf->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (cf->ifd < 0)
		return -errno;
	ret = loop_add_fd(cf->loop, cf->ifd, EPOLLIN, on_inotify, cf);
	if (ret < 0) {
		close(cf->ifd);
		cf->ifd = -1;
		return ret;
	}
	cf->active = true;
	/* At once, not on the next turn: the node is ready now. */
	do_sync(cf);
	return 0;
}

void cnifiles_free(struct cnifiles *cf)
{
	if (!cf)
		return;
	if (cf->ifd >= 0) {
		loop_del_fd(cf->loop, cf->ifd);
		close(cf->ifd);
	}
	loop_timer_free(cf->t_sync);
	for (size_t i = 0; i < cf->n; i++) {
		free(cf->files[i].dir);
		free(cf->files[i].name);
		free(cf->files[i].data);
	}
	free(cf);
}
