/* File helpers against planted links, FIFOs and odd files, on a real file
 * system (a private directory under /tmp). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/weft-util-XXXXXX");
	/* A test that would hang on a FIFO fails instead. */
	alarm(20);
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void assert_file(const char *path, const char *text, mode_t mode)
{
	struct stat st;
	char *got;
	size_t len;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(file_read_all(path, 1 << 20, &got, &len), 0);
	assert_string_equal(got, text);
	free(got);
}

/* Entries of dir whose name starts with prefix. */
static int count_prefix(const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

static void test_write_atomic(void **state)
{
	char path[128];
	mode_t old = umask(077);

	path_of(path, sizeof(path), "plain.env");
	assert_int_equal(file_write_atomic(path, "A=1\n", 4, 0644), 0);
	/* the exact mode, whatever the umask */
	assert_file(path, "A=1\n", 0644);
	assert_int_equal(file_write_atomic(path, "B=2\n", 4, 0644), 0);
	assert_file(path, "B=2\n", 0644);
	/* no temp file left behind */
	assert_int_equal(count_prefix("plain.env.tmp."), 0);
	umask(old);
}

/* The temp name was once <path>.tmp.<pid>: a link planted there had its
 * target overwritten and made 0644. */
static void test_write_planted_temp_link(void **state)
{
	char path[128], target[128], link[160];

	path_of(path, sizeof(path), "subnet.env");
	path_of(target, sizeof(target), "precious");
	put(target, "secret\n", 0600);
	snprintf(link, sizeof(link), "%s.tmp.%d", path, (int)getpid());
	assert_int_equal(symlink(target, link), 0);
	/* the probe: the link does lead to the target */
	{
		struct stat a, b;

		assert_int_equal(stat(link, &a), 0);
		assert_int_equal(stat(target, &b), 0);
		assert_int_equal(a.st_ino, b.st_ino);
	}

	assert_int_equal(file_write_atomic(path, "A=1\n", 4, 0644), 0);
	assert_file(path, "A=1\n", 0644);
	assert_file(target, "secret\n", 0600);
	unlink(link);
}

/* A link at the path itself is replaced by the file, its target untouched. */
static void test_write_planted_path_link(void **state)
{
	char path[128], target[128];
	struct stat st;

	path_of(path, sizeof(path), "linked.env");
	path_of(target, sizeof(target), "precious2");
	put(target, "secret\n", 0600);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	assert_int_equal(file_write_atomic(path, "A=1\n", 4, 0644), 0);
	assert_file(path, "A=1\n", 0644);
	assert_file(target, "secret\n", 0600);
}

static void test_write_errors(void **state)
{
	char path[128];

	/* a directory where the file should be: refused, nothing left over */
	path_of(path, sizeof(path), "adir");
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(file_write_atomic(path, "x", 1, 0644), -EISDIR);
	assert_int_equal(count_prefix("adir.tmp."), 0);
	/* a missing directory */
	path_of(path, sizeof(path), "nope/file");
	assert_int_equal(file_write_atomic(path, "x", 1, 0644), -ENOENT);
}

static void test_read_kinds(void **state)
{
	char path[128], link[128], *text = NULL;
	size_t len;

	/* a FIFO: refused at once instead of waiting for a writer */
	path_of(path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(file_read_all(path, 4096, &text, &len), -EINVAL);
	assert_int_equal(file_open_regular(path, O_RDONLY), -EINVAL);
	/* a directory, a device */
	assert_int_equal(file_read_all(dir, 4096, &text, &len), -EISDIR);
	assert_int_equal(file_read_all("/dev/null", 4096, &text, &len), -EINVAL);
	assert_int_equal(file_read_all("/dev/zero", 4096, &text, &len), -EINVAL);
	/* a link to a regular file is followed (ConfigMap mounts are links) */
	path_of(path, sizeof(path), "real");
	path_of(link, sizeof(link), "link-to-real");
	put(path, "hello", 0644);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(file_read_all(link, 4096, &text, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(text, "hello");
	free(text);
	/* a link to a FIFO is not */
	path_of(path, sizeof(path), "fifo");
	path_of(link, sizeof(link), "link-to-fifo");
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(file_read_all(link, 4096, &text, &len), -EINVAL);
	/* missing */
	path_of(path, sizeof(path), "missing");
	assert_int_equal(file_read_all(path, 4096, &text, &len), -ENOENT);
}

static void test_read_size(void **state)
{
	char path[128], *big, *text = NULL;
	size_t len;

	path_of(path, sizeof(path), "big");
	big = malloc(100001);
	assert_non_null(big);
	memset(big, '#', 100000);
	big[100000] = '\0';
	put(path, big, 0644);
	/* exactly at the limit and over it */
	assert_int_equal(file_read_all(path, 100000, &text, &len), 0);
	assert_int_equal(len, 100000);
	assert_memory_equal(text, big, 100000);
	free(text);
	assert_int_equal(file_read_all(path, 99999, &text, &len), -EFBIG);
	/* empty */
	put(path, "", 0644);
	assert_int_equal(file_read_all(path, 10, &text, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(text, "");
	free(text);
	free(big);
}

/* A pipe has no size to check first: the read loop alone enforces max. */
static void test_read_fd(void **state)
{
	char buf[5000], *text = NULL;
	size_t len;
	int fds[2];

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fds[1]);
	assert_int_equal(fd_read_all(fds[0], sizeof(buf), &text, &len), 0);
	close(fds[0]);
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(text[len], '\0');
	free(text);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fds[1]);
	assert_int_equal(fd_read_all(fds[0], sizeof(buf) - 1, &text, &len), -EFBIG);
	close(fds[0]);
	assert_int_equal(fd_read_all(-1, 10, &text, &len), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_atomic),
		cmocka_unit_test(test_write_planted_temp_link),
		cmocka_unit_test(test_write_planted_path_link),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_read_kinds),
		cmocka_unit_test(test_read_size),
		cmocka_unit_test(test_read_fd),
	};

	return cmocka_run_group_tests_name("util", tests, setup, teardown);
}
