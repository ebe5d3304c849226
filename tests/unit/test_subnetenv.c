/* subnet.env: exact bytes out, flannel-plugin-compatible parsing in, atomic
 * write into a throwaway directory. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
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

#include "common/util.h"
#include "subnet/subnetenv.h"

#define A(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static const char flannel_env[] = "FLANNEL_NETWORK=10.244.0.0/16\n"
				  "FLANNEL_SUBNET=10.244.3.1/24\n"
				  "FLANNEL_MTU=1450\n"
				  "FLANNEL_IPMASQ=true\n";

static char err[256];

static struct subnet_env sample(void)
{
	return (struct subnet_env){
		.network = {A(10, 244, 0, 0), 16},
		.subnet = {A(10, 244, 3, 1), 24},
		.mtu = 1450,
		.ipmasq = true,
	};
}

static void test_format(void **state)
{
	struct subnet_env env = sample();
	char buf[256];
	char exact[sizeof(flannel_env)];

	assert_int_equal(subnetenv_format(&env, buf, sizeof(buf)), strlen(flannel_env));
	assert_string_equal(buf, flannel_env);
	assert_int_equal(subnetenv_format(&env, exact, sizeof(exact)), strlen(flannel_env));
	assert_string_equal(exact, flannel_env);
	assert_int_equal(subnetenv_format(&env, exact, sizeof(exact) - 1), -ENOSPC);
	assert_int_equal(subnetenv_format(&env, buf, 0), -ENOSPC);

	env = (struct subnet_env){
		.network = {A(10, 0, 0, 0), 8},
		.subnet = {A(10, 200, 16, 1), 20},
		.mtu = 8951,
		.ipmasq = false,
	};
	assert_true(subnetenv_format(&env, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "FLANNEL_NETWORK=10.0.0.0/8\nFLANNEL_SUBNET=10.200.16.1/20\n"
				 "FLANNEL_MTU=8951\nFLANNEL_IPMASQ=false\n");
}

static void parse_ok(const char *text, struct subnet_env *env)
{
	memset(env, 0x5a, sizeof(*env));
	if (subnetenv_parse(text, env, err, sizeof(err)))
		fail_msg("rejected '%s': %s", text, err);
}

static void check_sample(const struct subnet_env *env)
{
	assert_int_equal(env->network.addr, A(10, 244, 0, 0));
	assert_int_equal(env->network.prefix, 16);
	assert_int_equal(env->subnet.addr, A(10, 244, 3, 1));
	assert_int_equal(env->subnet.prefix, 24);
	assert_int_equal(env->mtu, 1450);
	assert_true(env->ipmasq);
}

static void test_parse(void **state)
{
	struct subnet_env env, back = sample();
	char buf[256];

	parse_ok(flannel_env, &env);
	check_sample(&env);
	/* Round trip. */
	assert_true(subnetenv_format(&back, buf, sizeof(buf)) > 0);
	parse_ok(buf, &env);
	check_sample(&env);

	/* flanneld's dual-stack file: the IPv4 half as before. */
	parse_ok("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n"
		 "FLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\n"
		 "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		 &env);
	check_sample(&env);
	/* Any order, no final newline, other keys. */
	parse_ok("FLANNEL_IPMASQ=true\nFOO=bar\nFLANNEL_MTU=1450\nFLANNEL_SUBNET=10.244.3.1/24\n"
		 "FLANNEL_NETWORK=10.244.0.0/16",
		 &env);
	check_sample(&env);
	/* Hand edits: comments, blank lines, CRLF, quotes, export, blanks. */
	parse_ok("# written by hand\n\n  \nexport FLANNEL_NETWORK=\"10.244.0.0/16\"\r\n"
		 "FLANNEL_SUBNET = '10.244.3.1/24'\r\n\tFLANNEL_MTU=1450  \n"
		 "FLANNEL_IPMASQ=true\r\n# FLANNEL_MTU=9000\nthis line has no equals sign\n",
		 &env);
	check_sample(&env);
	/* Legacy comma lists: the first IPv4 entry. */
	parse_ok("FLANNEL_NETWORK=10.244.0.0/16,fc00::/48\nFLANNEL_SUBNET=10.244.3.1/24\n"
		 "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		 &env);
	check_sample(&env);
	parse_ok("FLANNEL_NETWORK=fc00::/48, 10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n"
		 "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		 &env);
	check_sample(&env);
	/* IPMASQ is true only for the literal "true", like flannel's plugin. */
	static const char *const falsy[] = {"false", "TRUE", "1", "yes", "", "true "};
	for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text),
			 "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n"
			 "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=%s\n",
			 falsy[i]);
		parse_ok(text, &env);
		/* Trailing blanks are trimmed, so "true " still counts. */
		if (strcmp(falsy[i], "true ") == 0)
			assert_true(env.ipmasq);
		else
			assert_false(env.ipmasq);
	}
	/* The last duplicate wins. */
	parse_ok("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.9.1/24\n"
		 "FLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		 &env);
	check_sample(&env);
	/* A subnet equal to the network is legal; so is MTU 68. */
	parse_ok("FLANNEL_NETWORK=10.244.3.0/24\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=68\n"
		 "FLANNEL_IPMASQ=false\n",
		 &env);
	assert_int_equal(env.mtu, 68);
	/* Success clears err. */
	assert_string_equal(err, "");
}

static void parse_bad(const char *text, const char *want)
{
	struct subnet_env env, before;

	memset(&env, 0x33, sizeof(env));
	before = env;
	memset(err, 0, sizeof(err));
	if (subnetenv_parse(text, &env, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted '%s'", text);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", text, err, want);
	assert_memory_equal(&env, &before, sizeof(env));
}

static void test_parse_errors(void **state)
{
	parse_bad("", "FLANNEL_NETWORK is missing");
	parse_bad("# nothing\n\n", "FLANNEL_NETWORK is missing");
	parse_bad("FLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		  "FLANNEL_NETWORK is missing");
	parse_bad("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		  "FLANNEL_SUBNET is missing");
	parse_bad(
		"FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_IPMASQ=true\n",
		"FLANNEL_MTU is missing");
	parse_bad("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n",
		  "FLANNEL_IPMASQ is missing");
	parse_bad("FLANNEL_NETWORK=10.244.0.0\n",
		  "FLANNEL_NETWORK: not a valid IPv4 CIDR: '10.244.0.0'");
	parse_bad("FLANNEL_NETWORK=fc00::/48\n", "FLANNEL_NETWORK: not a valid IPv4 CIDR");
	parse_bad("FLANNEL_NETWORK=\n", "FLANNEL_NETWORK: not a valid IPv4 CIDR");
	parse_bad("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/33\n",
		  "FLANNEL_SUBNET: not a valid IPv4 CIDR: '10.244.3.1/33'");
	parse_bad("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=junk\n", "FLANNEL_SUBNET");
	parse_bad("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=\"10.244.3.1/24\n",
		  "FLANNEL_SUBNET");
	parse_bad("FLANNEL_MTU=abc\n", "FLANNEL_MTU: not an MTU (68..65535): 'abc'");
	parse_bad("FLANNEL_MTU=0\n", "FLANNEL_MTU");
	parse_bad("FLANNEL_MTU=67\n", "FLANNEL_MTU");
	parse_bad("FLANNEL_MTU=65536\n", "FLANNEL_MTU");
	parse_bad("FLANNEL_MTU=-1\n", "FLANNEL_MTU");
	parse_bad("FLANNEL_MTU=+1450\n", "FLANNEL_MTU");
	parse_bad("FLANNEL_MTU=1450x\n", "FLANNEL_MTU");
	parse_bad("FLANNEL_MTU=\n", "FLANNEL_MTU");
	parse_bad("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.245.3.1/24\nFLANNEL_MTU=1450\n"
		  "FLANNEL_IPMASQ=true\n",
		  "FLANNEL_SUBNET is not inside FLANNEL_NETWORK");
	parse_bad("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.0.0.1/8\nFLANNEL_MTU=1450\n"
		  "FLANNEL_IPMASQ=true\n",
		  "FLANNEL_SUBNET is not inside FLANNEL_NETWORK");
	/* A known key without a value is damage, not junk. */
	parse_bad("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET\nFLANNEL_MTU=1450\n"
		  "FLANNEL_IPMASQ=true\n",
		  "FLANNEL_SUBNET: no value");
	/* err may be NULL. */
	struct subnet_env env;
	assert_int_equal(subnetenv_parse("", &env, NULL, 0), -EINVAL);
}

static char tmpdir[64];

static int setup_dir(void **state)
{
	strcpy(tmpdir, "/tmp/weft-subnetenv-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char sub[512];

	if (lstat(path, &st))
		return 0;
	if (S_ISDIR(st.st_mode)) {
		d = opendir(path);
		if (!d)
			return -1;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		closedir(d);
		return rmdir(path);
	}
	return unlink(path);
}

static int teardown_dir(void **state)
{
	return rm_rf(tmpdir);
}

static unsigned count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	}
	closedir(d);
	return n;
}

static const char dual_env[] = "FLANNEL_NETWORK=10.244.0.0/16\n"
			       "FLANNEL_SUBNET=10.244.3.1/24\n"
			       "FLANNEL_IPV6_NETWORK=fd00:10:244::/56\n"
			       "FLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\n"
			       "FLANNEL_MTU=1450\n"
			       "FLANNEL_IPMASQ=true\n";
static const char v6_env[] = "FLANNEL_IPV6_NETWORK=fd00:10:244::/56\n"
			     "FLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\n"
			     "FLANNEL_MTU=1430\n"
			     "FLANNEL_IPMASQ=false\n";

static void check_v6(const struct subnet_env *env)
{
	char a[IP6_NET_STRLEN], b[IP6_NET_STRLEN];

	assert_true(env->has_v6);
	ip6_format_net(&env->network6, a);
	ip6_format_net(&env->subnet6, b);
	assert_string_equal(a, "fd00:10:244::/56");
	assert_string_equal(b, "fd00:10:244:3::1/64");
}

static void test_dual_stack(void **state)
{
	struct subnet_env env;
	char buf[512];

	/* Parse, then format back to the very bytes flannel writes. */
	parse_ok(dual_env, &env);
	check_sample(&env);
	check_v6(&env);
	assert_false(env.v6_only);
	assert_int_equal(subnetenv_format(&env, buf, sizeof(buf)), strlen(dual_env));
	assert_string_equal(buf, dual_env);
	assert_int_equal(subnetenv_format(&env, buf, strlen(dual_env)), -ENOSPC);

	/* IPv6-only: only the IPv6 lines plus MTU and IPMASQ. */
	parse_ok(v6_env, &env);
	check_v6(&env);
	assert_true(env.v6_only);
	assert_int_equal(env.mtu, 1430);
	assert_int_equal(subnetenv_format(&env, buf, sizeof(buf)), strlen(v6_env));
	assert_string_equal(buf, v6_env);

	/* IPv4-only files say nothing of IPv6. */
	parse_ok(flannel_env, &env);
	assert_false(env.has_v6);
	assert_false(env.v6_only);

	/* Comma list and a non-canonical spelling: the first IPv6 entry,
	 * written back canonical. */
	parse_ok("FLANNEL_IPV6_NETWORK=10.244.0.0/16, FD00:10:244:0::/56\n"
		 "FLANNEL_IPV6_SUBNET=fd00:10:244:3:0:0:0:1/64\nFLANNEL_MTU=1430\n"
		 "FLANNEL_IPMASQ=false\n",
		 &env);
	check_v6(&env);
	assert_int_equal(subnetenv_format(&env, buf, sizeof(buf)), strlen(v6_env));
	assert_string_equal(buf, v6_env);

	/* Longest addresses still fit the writer's buffer. */
	assert_int_equal(ip6_parse_net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:0/112", &env.network6),
			 0);
	env.subnet6 = env.network6;
	env.has_v6 = true;
	env.v6_only = false;
	env.network = (struct ip4_net){A(255, 255, 255, 0), 24};
	env.subnet = env.network;
	env.mtu = 65535;
	assert_true(subnetenv_format(&env, buf, sizeof(buf)) > 0);
	parse_ok(buf, &env);
}

static void test_dual_stack_errors(void **state)
{
	parse_bad("FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		  "FLANNEL_IPV6_SUBNET is missing");
	parse_bad("FLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\n"
		  "FLANNEL_IPMASQ=true\n",
		  "FLANNEL_IPV6_NETWORK is missing");
	/* Half a family is refused even when the other is whole. */
	parse_bad(
		"FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\n"
		"FLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		"FLANNEL_SUBNET is missing");
	parse_bad(
		"FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n"
		"FLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		"FLANNEL_IPV6_NETWORK is missing");
	parse_bad("FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:245:3::1/64\n"
		  "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		  "not inside FLANNEL_IPV6_NETWORK");
	parse_bad("FLANNEL_IPV6_NETWORK=10.244.0.0/16\nFLANNEL_IPV6_SUBNET=fd00::1/64\n"
		  "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		  "FLANNEL_IPV6_NETWORK: not a valid IPv6 CIDR");
	parse_bad("FLANNEL_IPV6_NETWORK=fd00::/8\nFLANNEL_IPV6_SUBNET=fd00::1/129\n"
		  "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		  "FLANNEL_IPV6_SUBNET: not a valid IPv6 CIDR");
	parse_bad("FLANNEL_IPV6_NETWORK=fd00::/8\nFLANNEL_IPV6_SUBNET=fd00::1%eth0/64\n"
		  "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		  "FLANNEL_IPV6_SUBNET: not a valid IPv6 CIDR");
	parse_bad("FLANNEL_IPV6_NETWORK\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n", "no value");
	/* Only IPMASQ and MTU: no family at all. */
	parse_bad("FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n", "FLANNEL_NETWORK is missing");
}

static void test_write_read(void **state)
{
	struct subnet_env env = sample(), back;
	char path[256], dir[128], *text = NULL;
	struct stat st;
	mode_t old;
	size_t len;

	/* Parent directories are created; mode is exact despite the umask. */
	snprintf(dir, sizeof(dir), "%s/run/weft", tmpdir);
	snprintf(path, sizeof(path), "%s/subnet.env", dir);
	old = umask(077);
	assert_int_equal(subnetenv_write(path, &env), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(file_read_all(path, 4096, &text, &len), 0);
	assert_int_equal(len, strlen(flannel_env));
	assert_string_equal(text, flannel_env);
	free(text);

	assert_int_equal(subnetenv_read(path, &back, err, sizeof(err)), 0);
	check_sample(&back);

	/* Overwrite in place; no temp file is left behind. */
	env.subnet.addr = A(10, 244, 7, 1);
	env.ipmasq = false;
	assert_int_equal(subnetenv_write(path, &env), 0);
	assert_int_equal(subnetenv_read(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.subnet.addr, A(10, 244, 7, 1));
	assert_false(back.ipmasq);
	assert_int_equal(count_entries(dir), 1);

	/* A file in a directory that already exists, relative parent "." too. */
	snprintf(path, sizeof(path), "%s/subnet.env", tmpdir);
	assert_int_equal(subnetenv_write(path, &env), 0);
	assert_int_equal(subnetenv_read(path, &back, NULL, 0), 0);
}

static void test_write_errors(void **state)
{
	struct subnet_env env = sample();
	char path[256], file[128];
	int fd;

	/* Parent is a regular file. */
	snprintf(file, sizeof(file), "%s/plain", tmpdir);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/sub/subnet.env", file);
	assert_int_equal(subnetenv_write(path, &env), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/subnet.env", file);
	assert_int_equal(subnetenv_write(path, &env), -ENOTDIR);
	/* The target is a directory. */
	snprintf(path, sizeof(path), "%s/isdir", tmpdir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(subnetenv_write(path, &env) < 0);
	/* A path longer than PATH_MAX. */
	char longpath[5000];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(subnetenv_write(longpath, &env), -ENAMETOOLONG);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_read_errors(void **state)
{
	struct subnet_env env;
	char path[256];

	snprintf(path, sizeof(path), "%s/missing/subnet.env", tmpdir);
	assert_int_equal(subnetenv_read(path, &env, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "missing/subnet.env"));
	snprintf(path, sizeof(path), "%s/absent.env", tmpdir);
	assert_int_equal(subnetenv_read(path, &env, NULL, 0), -ENOENT);

	snprintf(path, sizeof(path), "%s/bad.env", tmpdir);
	write_file(path, "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n", 59);
	assert_int_equal(subnetenv_read(path, &env, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "FLANNEL_MTU is missing"));
	write_file(path, "", 0);
	assert_int_equal(subnetenv_read(path, &env, err, sizeof(err)), -EINVAL);
	/* A NUL byte would hide the rest of the file from the parser. */
	write_file(path, "FLANNEL_NETWORK=10.244.0.0/16\n\0FLANNEL_SUBNET=10.244.3.1/24\n", 61);
	assert_int_equal(subnetenv_read(path, &env, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	/* A directory is an I/O error, not "missing" and not "malformed". */
	assert_int_equal(subnetenv_read(tmpdir, &env, err, sizeof(err)), -EISDIR);
	/* A FIFO is refused at once, not waited on (alarm: a hang fails). */
	snprintf(path, sizeof(path), "%s/fifo.env", tmpdir);
	assert_int_equal(mkfifo(path, 0644), 0);
	alarm(10);
	assert_int_equal(subnetenv_read(path, &env, err, sizeof(err)), -EINVAL);
	alarm(0);
	assert_non_null(strstr(err, "not a regular file"));
}

/* Valid content under 100 KB of comments is read; over 1 MiB is refused. */
static void test_read_size(void **state)
{
	const char *body = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n"
			   "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
	size_t blen = strlen(body), n = 100 * 1024;
	struct subnet_env env;
	char path[256], *text;

	text = malloc((1 << 20) + blen + 1);
	assert_non_null(text);
	for (size_t i = 0; i < n; i += 64) {
		memset(text + i, 'c', 64);
		text[i] = '#';
		text[i + 63] = '\n';
	}
	memcpy(text + n, body, blen);
	snprintf(path, sizeof(path), "%s/comments.env", tmpdir);
	write_file(path, text, n + blen);
	assert_int_equal(subnetenv_read(path, &env, err, sizeof(err)), 0);
	assert_int_equal(env.mtu, 1450);
	/* exactly 1 MiB is fine, a byte more is not */
	n = (1 << 20) - blen;
	for (size_t i = 0; i < n; i++)
		text[i] = i % 64 == 63 || i == n - 1 ? '\n' : i % 64 == 0 ? '#' : 'c';
	memcpy(text + n, body, blen);
	write_file(path, text, n + blen);
	assert_int_equal(subnetenv_read(path, &env, err, sizeof(err)), 0);
	memmove(text + 1, text, n + blen);
	text[0] = '#';
	write_file(path, text, n + blen + 1);
	assert_int_equal(subnetenv_read(path, &env, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "larger than 1 MiB"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_dual_stack),
		cmocka_unit_test(test_dual_stack_errors),
		cmocka_unit_test_setup_teardown(test_write_read, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_write_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_read_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_read_size, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
