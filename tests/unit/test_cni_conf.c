/* The plugin's request parsing: environment per verb, config keys and
 * types, versions, name rules, host veth naming and prevResult reading. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../cni-delegate/conf.c"
#include "../../cni-delegate/result.c"

static void env(const char *cmd, const char *id, const char *netns, const char *ifname,
		const char *path)
{
	const char *names[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME",
			       "CNI_PATH"};
	const char *vals[] = {cmd, id, netns, ifname, path};

	for (int i = 0; i < 5; i++) {
		if (vals[i])
			setenv(names[i], vals[i], 1);
		else
			unsetenv(names[i]);
	}
}

static int parse(const char *json, struct cni_req *req, struct cni_err *e)
{
	memset(e, 0, sizeof(*e));
	return cni_req_parse(req, json, strlen(json), e);
}

static const char *base = "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"type\":\"weft\"}";

static void test_valid_id_and_ifname(void **state)
{
	char long_id[300];

	assert_true(cni_valid_id("abc"));
	assert_true(cni_valid_id("0a_b.c-d"));
	assert_false(cni_valid_id(""));
	assert_false(cni_valid_id(".abc"));
	assert_false(cni_valid_id("-abc"));
	assert_false(cni_valid_id("a/b"));
	assert_false(cni_valid_id("a b"));
	assert_false(cni_valid_id(".."));
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_false(cni_valid_id(long_id));

	assert_true(cni_valid_ifname("eth0"));
	assert_true(cni_valid_ifname("abcdefghijklmno")); /* 15 */
	assert_false(cni_valid_ifname("abcdefghijklmnop"));
	assert_false(cni_valid_ifname(""));
	assert_false(cni_valid_ifname("."));
	assert_false(cni_valid_ifname(".."));
	assert_false(cni_valid_ifname("a/b"));
	assert_false(cni_valid_ifname("a:b"));
	assert_false(cni_valid_ifname("a b"));
	assert_false(cni_valid_ifname("a\tb"));
}

static void test_host_veth_name(void **state)
{
	char a[IFNAMSIZ], b[IFNAMSIZ], c[IFNAMSIZ], alias[64];

	cni_host_veth_name("ab", "c", a);
	cni_host_veth_name("a", "bc", b);
	cni_host_veth_name("ab", "c", c);
	assert_int_equal(strlen(a), 12);
	assert_memory_equal(a, "veth", 4);
	assert_string_equal(a, c);
	assert_string_not_equal(a, b);
	for (int i = 4; i < 12; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	assert_int_equal(cni_host_veth_alias("ctr", "eth0", alias, sizeof(alias)), 0);
	assert_string_equal(alias, "weft:ctr:eth0");
	assert_int_equal(cni_host_veth_alias("ctr", "eth0", alias, 8), -ENAMETOOLONG);
}

static void test_add_defaults_and_keys(void **state)
{
	struct cni_req req;
	struct cni_err e;

	env("ADD", "c1", "/run/netns/x", "eth0", NULL);
	assert_int_equal(parse(base, &req, &e), 0);
	assert_int_equal(req.cmd, CMD_ADD);
	assert_int_equal(req.ver, VER_100);
	assert_string_equal(req.name, "net");
	assert_string_equal(req.bridge, "cni0");
	assert_string_equal(req.subnet_file, "/run/weft/subnet.env");
	assert_string_equal(req.data_dir, "/var/lib/cni/networks");
	assert_true(req.hairpin);
	assert_true(req.default_gw);
	assert_int_equal(req.mtu, 0);
	assert_null(req.prev_result);
	cni_req_free(&req);

	assert_int_equal(parse("{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"weft\","
			       "\"bridge\":\"br9\",\"subnetFile\":\"/x/s.env\",\"dataDir\":\"/d\","
			       "\"hairpinMode\":false,\"isDefaultGateway\":false,\"mtu\":1400,"
			       "\"prevResult\":{\"ips\":[]},\"unknownKey\":[1]}",
			       &req, &e),
			 0);
	assert_int_equal(req.ver, VER_031);
	assert_string_equal(req.bridge, "br9");
	assert_string_equal(req.subnet_file, "/x/s.env");
	assert_string_equal(req.data_dir, "/d");
	assert_false(req.hairpin);
	assert_false(req.default_gw);
	assert_int_equal(req.mtu, 1400);
	assert_non_null(req.prev_result);
	cni_req_free(&req);
}

static void test_errors(void **state)
{
	static const struct {
		const char *cmd, *id, *netns, *ifname, *path, *json;
		int code;
	} cases[] = {
		{NULL, "c", "/n", "eth0", NULL, "{}", CNI_ERR_ENV},
		{"BOGUS", "c", "/n", "eth0", NULL, "{}", CNI_ERR_ENV},
		{"ADD", NULL, "/n", "eth0", NULL, "{}", CNI_ERR_ENV},
		{"ADD", "c", NULL, "eth0", NULL, "{}", CNI_ERR_ENV},
		{"CHECK", "c", NULL, "eth0", NULL, "{}", CNI_ERR_ENV},
		{"DEL", "c", NULL, NULL, NULL, "{}", CNI_ERR_ENV},
		{"GC", NULL, NULL, NULL, NULL, "{}", CNI_ERR_ENV},
		{"ADD", "a/b", "/n", "eth0", NULL, "{}", CNI_ERR_ENV},
		{"ADD", "c", "/n", "eth0:0", NULL, "{}", CNI_ERR_ENV},
		{"ADD", "c", "/n", "eth0", NULL, "{", CNI_ERR_DECODE},
		{"ADD", "c", "/n", "eth0", NULL, "", CNI_ERR_DECODE},
		{"ADD", "c", "/n", "eth0", NULL, "\"str\"", CNI_ERR_DECODE},
		{"ADD", "c", "/n", "eth0", NULL, "{\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_CONFIG},
		{"ADD", "c", "/n", "eth0", NULL,
		 "{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_VERSION},
		{"CHECK", "c", "/n", "eth0", NULL,
		 "{\"cniVersion\":\"0.3.0\",\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_VERSION},
		{"STATUS", NULL, NULL, NULL, NULL,
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_VERSION},
		{"ADD", "c", "/n", "eth0", NULL, "{\"cniVersion\":\"1.0.0\",\"type\":\"t\"}",
		 CNI_ERR_CONFIG},
		{"ADD", "c", "/n", "eth0", NULL,
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"n/x\",\"type\":\"t\"}", CNI_ERR_CONFIG},
		{"ADD", "c", "/n", "eth0", NULL, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}",
		 CNI_ERR_CONFIG},
		{"ADD", "c", "/n", "eth0", NULL,
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"mtu\":40}",
		 CNI_ERR_CONFIG},
		{"ADD", "c", "/n", "eth0", NULL,
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"mtu\":1.5}",
		 CNI_ERR_CONFIG},
		{"ADD", "c", "/n", "eth0", NULL,
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"dataDir\":\"\"}",
		 CNI_ERR_CONFIG},
		{"ADD", "c", "/n", "eth0", NULL,
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"bridge\":\"a:b\"}",
		 CNI_ERR_CONFIG},
		{"ADD", "c", "/n", "eth0", NULL,
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"isDefaultGateway\":1}",
		 CNI_ERR_CONFIG},
		{"GC", NULL, NULL, NULL, "/p",
		 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\"}", CNI_ERR_CONFIG},
		/* the old key is held to the same rules */
		{"GC", NULL, NULL, NULL, "/p",
		 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\",\"cni.dev/attachments\":[7]}",
		 CNI_ERR_CONFIG},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cni_req req;
		struct cni_err e;

		env(cases[i].cmd, cases[i].id, cases[i].netns, cases[i].ifname, cases[i].path);
		assert_int_equal(parse(cases[i].json, &req, &e), -1);
		if (e.code != cases[i].code)
			fail_msg("case %zu: code %d, want %d (%s)", i, e.code, cases[i].code,
				 e.msg);
		assert_true(strlen(e.msg) > 5);
		cni_req_free(&req);
	}
}

/* GC deletes what is not listed: a malformed list is refused. */
static void test_gc_lists(void **state)
{
	static const char *const bad[] = {
		"null",
		"{}",
		"\"a\"",
		"[1]",
		"[[]]",
		"[{}]",
		"[{\"containerID\":5}]",
		"[{\"containerID\":null}]",
		"[{\"containerID\":\"\"}]",
		"[{\"containerID\":\"../x\"}]",
		"[{\"containerID\":\"a\",\"ifname\":7}]",
		"[{\"containerID\":\"a\",\"ifname\":null}]",
		"[{\"containerID\":\"a\",\"ifname\":\"a/b\"}]",
		"[{\"containerID\":\"a\"},true]",
	};
	char json[256];

	env("GC", NULL, NULL, NULL, "/p");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cni_req req;
		struct cni_err e;

		snprintf(json, sizeof(json),
			 "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
			 "\"cni.dev/valid-attachments\":%s}",
			 bad[i]);
		assert_int_equal(parse(json, &req, &e), -1);
		if (e.code != CNI_ERR_CONFIG)
			fail_msg("%s: code %d (%s)", bad[i], e.code, e.msg);
		cni_req_free(&req);
	}
}

static void test_verbs_env(void **state)
{
	struct cni_req req;
	struct cni_err e;

	/* VERSION needs nothing but the command, not even valid stdin. */
	env("VERSION", NULL, NULL, NULL, NULL);
	assert_int_equal(parse("garbage", &req, &e), 0);
	assert_int_equal(req.cmd, CMD_VERSION);
	cni_req_free(&req);
	/* DEL without a netns is fine. */
	env("DEL", "c", NULL, "eth0", NULL);
	assert_int_equal(parse(base, &req, &e), 0);
	assert_null(req.netns);
	cni_req_free(&req);
	/* GC takes either attachment key. */
	env("GC", NULL, NULL, NULL, "/usr/lib/cni");
	assert_int_equal(
		parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
		      "\"cni.dev/attachments\":[{\"containerID\":\"a\",\"ifname\":\"b\"}]}",
		      &req, &e),
		0);
	assert_int_equal(json_array_size(req.valid_attach), 1);
	cni_req_free(&req);
	/* ifname is optional */
	assert_int_equal(parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
			       "\"cni.dev/valid-attachments\":[{\"containerID\":\"a\"}]}",
			       &req, &e),
			 0);
	cni_req_free(&req);
	assert_int_equal(parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\","
			       "\"cni.dev/valid-attachments\":[]}",
			       &req, &e),
			 0);
	assert_int_equal(json_array_size(req.valid_attach), 0);
	assert_string_equal(cni_req_version(&req), "1.1.0");
	cni_req_free(&req);
	/* STATUS needs no attachment variables. */
	env("STATUS", NULL, NULL, NULL, NULL);
	assert_int_equal(
		parse("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"t\"}", &req, &e), 0);
	cni_req_free(&req);
}

static void test_prev_result(void **state)
{
	const char *text =
		"{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"cni0\"},{\"name\":\"vethx\"},"
		"{\"name\":\"eth0\",\"sandbox\":\"/n\"},{\"name\":\"net1\",\"sandbox\":\"/n\"}],"
		"\"ips\":[{\"interface\":3,\"address\":\"10.9.0.5/24\",\"gateway\":\"10.9.0.1\"},"
		"{\"interface\":2,\"address\":\"fd00::2/64\"},"
		"{\"interface\":2,\"address\":\"10.244.3.7/24\",\"gateway\":\"10.244.3.1\"}],"
		"\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.244.3.1\"},{\"dst\":\"::/0\"},"
		"{\"dst\":\"10.244.0.0/16\"}]}";
	struct prev_result p;
	struct cni_err e;
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	assert_int_equal(result_parse_prev(j, "eth0", &p, &e), 0);
	assert_int_equal(p.addr.addr, 0x0af40307);
	assert_int_equal(p.addr.prefix, 24);
	assert_int_equal(p.gateway, 0x0af40301);
	assert_true(p.has_v4);
	/* Both families: the IPv6 address and route are kept too. */
	assert_true(p.has_v6);
	assert_int_equal(p.addr6.len, 64);
	assert_int_equal(p.addr6.addr.s6_addr[0], 0xfd);
	assert_int_equal(p.addr6.addr.s6_addr[15], 2);
	assert_int_equal(p.n_routes, 3);
	assert_false(p.routes[0].v6);
	assert_int_equal(p.routes[0].dst.prefix, 0);
	assert_int_equal(p.routes[0].gw, 0x0af40301);
	assert_true(p.routes[1].v6);
	assert_int_equal(p.routes[1].len6, 0);
	assert_false(p.routes[1].has_gw6);
	assert_int_equal(p.routes[2].dst.addr, 0x0af40000);
	assert_int_equal(p.routes[2].gw, 0);
	assert_int_equal(result_parse_prev(j, "net1", &p, &e), 0);
	assert_int_equal(p.addr.addr, 0x0a090005);
	assert_false(p.has_v6);
	assert_int_equal(result_parse_prev(j, "eth9", &p, &e), -1);
	assert_int_equal(e.code, CNI_ERR_CONFIG);
	json_decref(j);

	/* IPv6 only (0.4.0 shape, with "version"); a bad IPv6 gateway is an error. */
	j = json_loads("{\"ips\":[{\"version\":\"6\",\"address\":\"fd00:10:244:3::5/64\","
		       "\"gateway\":\"fd00:10:244:3::1\"}],\"routes\":[{\"dst\":\"::/0\","
		       "\"gw\":\"fd00:10:244:3::1\"}]}",
		       0, NULL);
	assert_int_equal(result_parse_prev(j, "eth0", &p, &e), 0);
	assert_false(p.has_v4);
	assert_true(p.has_v6);
	assert_int_equal(p.n_routes, 1);
	assert_true(p.routes[0].has_gw6);
	assert_int_equal(p.routes[0].gw6.s6_addr[15], 1);
	json_decref(j);
	j = json_loads("{\"ips\":[{\"address\":\"fd00::5/64\",\"gateway\":\"fd00::1::\"}]}", 0,
		       NULL);
	assert_int_equal(result_parse_prev(j, "eth0", &p, &e), -1);
	json_decref(j);

	j = json_loads("{\"ips\":{}}", 0, NULL);
	assert_int_equal(result_parse_prev(j, "eth0", &p, &e), -1);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_id_and_ifname),
		cmocka_unit_test(test_host_veth_name),
		cmocka_unit_test(test_add_defaults_and_keys),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_verbs_env),
		cmocka_unit_test(test_gc_lists),
		cmocka_unit_test(test_prev_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
