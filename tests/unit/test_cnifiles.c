/* CNI files: the built-in conflist, template checks, and the files weftd
 * keeps in a scratch directory on a real event loop and real inotify. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
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

#include "../../daemon/cnifiles.c"
#include "../../daemon/conflist.c"

/* ------------------------------------------------------------ conflist */

static void test_build(void **state)
{
	static const char *const vs[] = {"0.3.1", "0.4.0", "1.0.0", "1.1.0"};

	for (size_t i = 0; i < ARRAY_SIZE(vs); i++) {
		json_t *root, *plugins;
		char *text = NULL, err[256], sf[256];

		assert_int_equal(conflist_build(vs[i], "/run/x/subnet.env", &text), 0);
		assert_int_equal(text[strlen(text) - 1], '\n');
		assert_int_equal(
			conflist_check(text, strlen(text), sf, sizeof(sf), err, sizeof(err)), 0);
		assert_string_equal(sf, "/run/x/subnet.env");
		root = json_loads(text, 0, NULL);
		assert_non_null(root);
		assert_string_equal(json_string_value(json_object_get(root, "name")), "weft");
		assert_string_equal(json_string_value(json_object_get(root, "cniVersion")), vs[i]);
		plugins = json_object_get(root, "plugins");
		assert_int_equal(json_array_size(plugins), 2);
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(plugins, 0), "type")),
			"weft");
		assert_string_equal(json_string_value(json_object_get(json_array_get(plugins, 0),
								      "subnetFile")),
				    "/run/x/subnet.env");
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(plugins, 1), "type")),
			"portmap");
		assert_true(json_is_true(
			json_object_get(json_object_get(json_array_get(plugins, 1), "capabilities"),
					"portMappings")));
		json_decref(root);
		free(text);
	}
}

static void test_build_bad_version(void **state)
{
	char *text = NULL;

	assert_int_equal(conflist_build("2.0.0", "/s", &text), -EINVAL);
	assert_null(text);
}

static void test_check_accepts(void **state)
{
	char err[256], sf[256];
	const char *weft_alone = "{\"cniVersion\":\"1.1.0\",\"cniVersions\":[\"1.0.0\",\"1.1.0\"],"
				 "\"name\":\"pods.v1\",\"plugins\":[{\"type\":\"weft\"}]}";
	const char *chained = "{\"cniVersion\":\"0.3.1\",\"name\":\"cbr0\",\"plugins\":["
			      "{\"type\":\"tuning\"},{\"type\":\"weft\",\"subnetFile\":\"/s\"},"
			      "{\"type\":\"portmap\"}],\"disableCheck\":true}";

	assert_int_equal(
		conflist_check(weft_alone, strlen(weft_alone), sf, sizeof(sf), err, sizeof(err)),
		0);
	assert_string_equal(sf, "/run/weft/subnet.env"); /* the plugin's default */
	assert_int_equal(conflist_check(chained, strlen(chained), sf, sizeof(sf), err, sizeof(err)),
			 0);
	assert_string_equal(sf, "/s");
}

static void expect_refused(const char *text, const char *needle)
{
	char err[256] = "";

	assert_int_equal(conflist_check(text, strlen(text), NULL, 0, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("'%s': error '%s' does not mention '%s'", text, err, needle);
}

static void test_check_refuses(void **state)
{
	char *big;

	expect_refused("", "not valid JSON");
	expect_refused("{\"name\":\"weft\",", "not valid JSON");
	expect_refused("[]", "not a JSON object");
	expect_refused("{\"name\":\"a\",\"name\":\"b\"}", "not valid JSON");
	expect_refused("{\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"weft\"}]}", "\"name\"");
	expect_refused("{\"name\":\"../x\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":"
		       "\"weft\"}]}",
		       "\"name\"");
	expect_refused("{\"name\":7,\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"weft\"}]}",
		       "\"name\"");
	expect_refused("{\"name\":\"w\",\"plugins\":[{\"type\":\"weft\"}]}", "\"cniVersion\"");
	expect_refused(
		"{\"name\":\"w\",\"cniVersion\":\"1.2.0\",\"plugins\":[{\"type\":\"weft\"}]}",
		"\"cniVersion\" \"1.2.0\"");
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"cniVersions\":\"1.1.0\","
		       "\"plugins\":[{\"type\":\"weft\"}]}",
		       "\"cniVersions\"");
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"cniVersions\":[\"1.0.0\",\"9\"],"
		       "\"plugins\":[{\"type\":\"weft\"}]}",
		       "\"cniVersions\"[1]");
	/* A single-plugin .conf is not a list. */
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"type\":\"weft\"}",
		       "\"plugins\"");
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"plugins\":[]}", "\"plugins\"");
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"plugins\":{}}", "\"plugins\"");
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"weft\"},"
		       "{\"capabilities\":{}}]}",
		       "plugins[1]");
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"plugins\":[\"weft\"]}",
		       "plugins[0]");
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"\"}]}",
		       "plugins[0]");
	expect_refused(
		"{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"bridge\"}]}",
		"no plugin of type \"weft\"");
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"weft\"},"
		       "{\"type\":\"weft\"}]}",
		       "more than one weft plugin");
	expect_refused("{\"name\":\"w\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"weft\","
		       "\"subnetFile\":5}]}",
		       "\"subnetFile\"");
	big = calloc(1, CONFLIST_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', CONFLIST_MAX + 1);
	expect_refused(big, "larger than");
	free(big);
}

/* ------------------------------------------------------------ files */

struct scratch {
	char root[64], conf_dir[128], bin_dir[128], conflist[160], plugin_dst[160];
	char plugin_src[128], template[128];
	struct loop *loop;
	struct loop_timer *stop;
};

static void on_stop(void *data)
{
	loop_stop(data, 0);
}

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->root, sizeof(s->root), "/tmp/test_cnifiles.XXXXXX");
	assert_non_null(mkdtemp(s->root));
	/* The directories do not exist yet: weftd makes them when ready. */
	snprintf(s->conf_dir, sizeof(s->conf_dir), "%s/etc/net.d", s->root);
	snprintf(s->bin_dir, sizeof(s->bin_dir), "%s/opt/bin", s->root);
	snprintf(s->conflist, sizeof(s->conflist), "%s/10-weft.conflist", s->conf_dir);
	snprintf(s->plugin_dst, sizeof(s->plugin_dst), "%s/weft", s->bin_dir);
	snprintf(s->plugin_src, sizeof(s->plugin_src), "%s/weft-src", s->root);
	snprintf(s->template, sizeof(s->template), "%s/template", s->root);
	assert_int_equal(file_write_atomic(s->plugin_src, "#!/bin/sh\nexit 0\n", 17, 0755), 0);
	assert_int_equal(loop_new(&s->loop), 0);
	assert_int_equal(loop_add_timer(s->loop, on_stop, s->loop, &s->stop), 0);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;
	char cmd[128];

	loop_timer_free(s->stop);
	loop_free(s->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->root);
	assert_int_equal(system(cmd), 0);
	free(s);
	return 0;
}

static void run_for(struct scratch *s, uint64_t ms)
{
	loop_timer_arm(s->stop, ms, 0);
	assert_int_equal(loop_run(s->loop), 0);
}

static char *slurp(const char *path)
{
	char *buf = NULL;

	return file_read_all(path, 1 << 20, &buf, NULL) == 0 ? buf : NULL;
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_ino;
}

static struct cnifiles *make(struct scratch *s, const char *template)
{
	struct cnifiles_config c = {.loop = s->loop,
				    .conf_dir = s->conf_dir,
				    .conf_template = template,
				    .cni_version = "1.0.0",
				    .subnet_file = "/run/t/subnet.env",
				    .bin_dir = s->bin_dir,
				    .plugin = s->plugin_src};
	struct cnifiles *cf = NULL;
	char err[256];

	assert_int_equal(cnifiles_new(&c, &cf, err, sizeof(err)), 0);
	assert_non_null(cf);
	return cf;
}

static void test_nothing_before_ready(void **state)
{
	struct scratch *s = *state;
	struct cnifiles *cf = make(s, NULL);
	struct stat st;

	run_for(s, 50);
	assert_int_equal(stat(s->conf_dir, &st), -1);
	assert_int_equal(stat(s->bin_dir, &st), -1);
	cnifiles_free(cf);
}

/* A killed weftd's temp file goes at activation; a look-alike of someone
 * else's stays. */
static void activate_over_stale_temps(struct scratch *s, struct cnifiles *cf)
{
	char stale[200], other[200];

	assert_int_equal(dir_make_all(s->bin_dir), 0);
	snprintf(stale, sizeof(stale), "%s/.weft.Ab3dE9", s->bin_dir);
	snprintf(other, sizeof(other), "%s/.weft.keep-me", s->bin_dir);
	assert_int_equal(file_write_atomic(stale, "x", 1, 0600), 0);
	assert_int_equal(file_write_atomic(other, "x", 1, 0600), 0);
	assert_int_equal(cnifiles_activate(cf), 0);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(other, F_OK), 0);
}

/* Both files hold the exact bytes and modes. */
static void assert_installed(struct scratch *s, const char *want)
{
	char *got = slurp(s->conflist);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	assert_int_equal(mode_of(s->conflist), 0644);
	got = slurp(s->plugin_dst);
	assert_non_null(got);
	assert_string_equal(got, "#!/bin/sh\nexit 0\n");
	free(got);
	assert_int_equal(mode_of(s->plugin_dst), 0755);
	assert_int_equal(mode_of(s->conf_dir), 0755);
}

static void test_write_and_restore(void **state)
{
	struct scratch *s = *state;
	struct cnifiles *cf = make(s, NULL);
	char *want = NULL, *got;
	ino_t ino;

	assert_int_equal(conflist_build("1.0.0", "/run/t/subnet.env", &want), 0);
	activate_over_stale_temps(s, cf);
	/* Written at once, with the exact bytes and modes. */
	assert_installed(s, want);

	/* Its own rename does not make weftd write again. */
	ino = inode_of(s->conflist);
	run_for(s, 100);
	assert_int_equal(inode_of(s->conflist), ino);
	assert_int_equal(cnifiles_activate(cf), 0);
	assert_int_equal(inode_of(s->conflist), ino);

	/* Deleted, corrupted, replaced by a symlink, mode changed: restored. */
	assert_int_equal(unlink(s->conflist), 0);
	assert_int_equal(file_write_atomic(s->plugin_dst, "corrupt", 7, 0755), 0);
	run_for(s, 200);
	got = slurp(s->conflist);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	got = slurp(s->plugin_dst);
	assert_string_equal(got, "#!/bin/sh\nexit 0\n");
	free(got);

	assert_int_equal(unlink(s->conflist), 0);
	assert_int_equal(symlink(s->template, s->conflist), 0);
	assert_int_equal(chmod(s->plugin_dst, 0700), 0);
	run_for(s, 200);
	assert_int_equal(mode_of(s->conflist), 0644); /* lstat: a file again */
	assert_int_equal(mode_of(s->plugin_dst), 0755);

	/* Appended to in place (same inode, no rename): restored. */
	{
		int fd = open(s->conflist, O_WRONLY | O_APPEND);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, " ", 1), 1);
		close(fd);
	}
	run_for(s, 200);
	got = slurp(s->conflist);
	assert_string_equal(got, want);
	free(got);

	/* The whole directory removed: made again and watched again. */
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->conf_dir);
		assert_int_equal(system(cmd), 0);
	}
	run_for(s, 200);
	got = slurp(s->conflist);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	assert_int_equal(unlink(s->conflist), 0);
	run_for(s, 200);
	assert_int_equal(mode_of(s->conflist), 0644);

	/* Freed (weftd exits): the files stay. */
	cnifiles_free(cf);
	assert_int_equal(mode_of(s->conflist), 0644);
	assert_int_equal(mode_of(s->plugin_dst), 0755);
	free(want);
}

static void test_template_used_verbatim(void **state)
{
	struct scratch *s = *state;
	const char *t = "{\"cniVersion\":\"1.1.0\",\"name\":\"pods\",\"plugins\":[{\"type\":"
			"\"weft\",\"subnetFile\":\"/run/t/subnet.env\"}]}";
	struct cnifiles *cf;
	char *got;

	assert_int_equal(file_write_atomic(s->template, t, strlen(t), 0600), 0);
	cf = make(s, s->template);
	assert_int_equal(cnifiles_activate(cf), 0);
	got = slurp(s->conflist);
	assert_string_equal(got, t);
	free(got);
	assert_int_equal(mode_of(s->conflist), 0644);
	cnifiles_free(cf);
}

static void expect_new_fails(struct scratch *s, struct cnifiles_config *c, const char *needle)
{
	struct cnifiles *cf = (void *)1;
	char err[256] = "";

	c->loop = s->loop;
	assert_true(cnifiles_new(c, &cf, err, sizeof(err)) < 0);
	assert_null(cf);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_refused_at_start(void **state)
{
	struct scratch *s = *state;
	const char *bad =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"w\",\"plugins\":[{\"type\":\"bridge\"}]}";
	char file[160], noexec[160];

	assert_int_equal(file_write_atomic(s->template, bad, strlen(bad), 0644), 0);
	expect_new_fails(s,
			 &(struct cnifiles_config){.conf_dir = s->conf_dir,
						   .conf_template = s->template,
						   .cni_version = "1.0.0"},
			 "no plugin of type \"weft\"");
	expect_new_fails(s,
			 &(struct cnifiles_config){.conf_dir = s->conf_dir,
						   .conf_template = "/nonexistent/t",
						   .cni_version = "1.0.0"},
			 "/nonexistent/t: No such file");
	/* A directory path that is a file. */
	snprintf(file, sizeof(file), "%s/file", s->root);
	assert_int_equal(file_write_atomic(file, "x", 1, 0644), 0);
	expect_new_fails(s, &(struct cnifiles_config){.conf_dir = file, .cni_version = "1.0.0"},
			 "is not a directory");
	expect_new_fails(s, &(struct cnifiles_config){.bin_dir = file, .plugin = s->plugin_src},
			 "is not a directory");
	expect_new_fails(
		s, &(struct cnifiles_config){.bin_dir = s->bin_dir, .plugin = "/nonexistent/weft"},
		"not an executable file");
	snprintf(noexec, sizeof(noexec), "%s/noexec", s->root);
	assert_int_equal(file_write_atomic(noexec, "x", 1, 0644), 0);
	expect_new_fails(s, &(struct cnifiles_config){.bin_dir = s->bin_dir, .plugin = noexec},
			 "not an executable file");
	expect_new_fails(s, &(struct cnifiles_config){.bin_dir = s->bin_dir, .plugin = s->root},
			 "not an executable file");
}

static void test_default_plugin_beside_self(void **state)
{
	struct cnifile f = {0};
	char err[256], self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	/* This test binary has no "weft" beside it: the error names that path. */
	assert_true(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	assert_true(load_plugin(&f, NULL, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, self));
	assert_non_null(strstr(err, "/weft: not an executable file"));
	free(f.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_bad_version),
		cmocka_unit_test(test_check_accepts),
		cmocka_unit_test(test_check_refuses),
		cmocka_unit_test_setup_teardown(test_nothing_before_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_and_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_template_used_verbatim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_at_start, setup, teardown),
		cmocka_unit_test(test_default_plugin_beside_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
