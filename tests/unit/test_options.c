/* weftd options: defaults, flags, WEFTD_* environment, precedence, errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../daemon/options.c"

static int parse(struct weftd_options *o, char *const *env, char *err, ...)
{
	char *argv[32] = {"weftd"};
	int argc = 1;
	va_list ap;
	char *a;

	va_start(ap, err);
	while ((a = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	return options_parse(o, argc, argv, env, err, 512);
}

static void test_defaults(void **state)
{
	struct weftd_options o;
	char err[512];

	assert_int_equal(parse(&o, NULL, err, NULL), 0);
	assert_int_equal(o.action, OPT_RUN);
	assert_int_equal(o.n_endpoints, 1);
	assert_string_equal(o.endpoints[0], "http://127.0.0.1:2379");
	assert_string_equal(o.etcd_prefix, "/coreos.com/network");
	assert_string_equal(o.subnet_file, "/run/weft/subnet.env");
	assert_string_equal(o.health_addr, "127.0.0.1:9872");
	assert_int_equal(o.lease_ttl, 86400);
	assert_false(o.ip_masq);
	assert_int_equal(o.log_level, WLOG_INFO);
	assert_null(o.etcd_cafile);
	assert_null(o.iface);
	assert_null(o.public_ip);
	assert_null(o.net_config_file);
	/* No CNI files unless asked for; the built-in list speaks 1.0.0. */
	assert_null(o.cni_conf_dir);
	assert_null(o.cni_conf_template);
	assert_null(o.cni_bin_dir);
	assert_null(o.cni_plugin);
	assert_string_equal(o.cni_version, "1.0.0");
	options_free(&o);
}

static void test_flags(void **state)
{
	struct weftd_options o;
	char err[512];

	assert_int_equal(parse(&o, NULL, err, "--etcd-endpoints",
			       "https://10.0.0.1:2379, https://10.0.0.2:2379,",
			       "--etcd-prefix=/x/net", "--ip-masq", "--lease-ttl", "5", "--iface",
			       "eth1", "--public-ip", "198.18.0.7", "--subnet-file", "/tmp/s.env",
			       "--log-level", "debug", "--etcd-cafile", "/ca", "--etcd-certfile",
			       "/c", "--etcd-keyfile", "/k", "--etcd-username", "u",
			       "--etcd-password-file", "/p", "--net-config-file", "/n.json",
			       "--health-addr", "0.0.0.0:1", NULL),
			 0);
	assert_int_equal(o.n_endpoints, 2);
	assert_string_equal(o.endpoints[0], "https://10.0.0.1:2379");
	assert_string_equal(o.endpoints[1], "https://10.0.0.2:2379");
	assert_string_equal(o.etcd_prefix, "/x/net");
	assert_true(o.ip_masq);
	assert_int_equal(o.lease_ttl, 5);
	assert_string_equal(o.iface, "eth1");
	assert_string_equal(o.public_ip, "198.18.0.7");
	assert_string_equal(o.subnet_file, "/tmp/s.env");
	assert_int_equal(o.log_level, WLOG_DEBUG);
	assert_string_equal(o.etcd_cafile, "/ca");
	assert_string_equal(o.etcd_username, "u");
	assert_string_equal(o.net_config_file, "/n.json");
	assert_string_equal(o.health_addr, "0.0.0.0:1");
	options_free(&o);
}

static void test_env_and_precedence(void **state)
{
	char *env[] = {"PATH=/bin",
		       "WEFTD_ETCD_ENDPOINTS=http://198.18.0.254:2379",
		       "WEFTD_LEASE_TTL=60",
		       "WEFTD_IP_MASQ=true",
		       "WEFTD_SUBNET_FILE=/env/subnet.env",
		       "WEFTD_NET_CONFIG_FILE=/env/net.json",
		       "WEFTD_LOG_LEVEL=warning",
		       "WEFTD_LEASE_TTLX=1",
		       NULL};
	struct weftd_options o;
	char err[512];

	assert_int_equal(parse(&o, env, err, "--lease-ttl", "30", NULL), 0);
	assert_string_equal(o.endpoints[0], "http://198.18.0.254:2379");
	assert_int_equal(o.lease_ttl, 30); /* the flag wins */
	assert_true(o.ip_masq);
	assert_string_equal(o.subnet_file, "/env/subnet.env");
	assert_string_equal(o.net_config_file, "/env/net.json");
	assert_int_equal(o.log_level, WLOG_WARN);
	options_free(&o);

	for (int i = 0; i < 4; i++) {
		static char *vals[] = {"WEFTD_IP_MASQ=1", "WEFTD_IP_MASQ=false", "WEFTD_IP_MASQ=0",
				       "WEFTD_IP_MASQ=TRUE"};
		char *e[] = {vals[i], NULL};

		assert_int_equal(parse(&o, e, err, NULL), 0);
		assert_int_equal(o.ip_masq, i == 0 || i == 3);
		options_free(&o);
	}
	/* A boolean flag on the command line beats a false in the environment. */
	{
		char *e[] = {"WEFTD_IP_MASQ=false", NULL};

		assert_int_equal(parse(&o, e, err, "--ip-masq", NULL), 0);
		assert_true(o.ip_masq);
		options_free(&o);
	}
}

static void test_cni_options(void **state)
{
	char *env[] = {"WEFTD_CNI_CONF_DIR=/env/net.d", "WEFTD_CNI_CONF_TEMPLATE=/env/t.conflist",
		       "WEFTD_CNI_VERSION=0.4.0",	"WEFTD_CNI_BIN_DIR=/env/bin",
		       "WEFTD_CNI_PLUGIN=/env/weft",	NULL};
	struct weftd_options o;
	char err[512];

	assert_int_equal(parse(&o, NULL, err, "--cni-conf-dir", "/etc/cni/net.d",
			       "--cni-conf-template=/t.conflist", "--cni-version", "1.1.0",
			       "--cni-bin-dir", "/opt/cni/bin", "--cni-plugin", "/usr/lib/weft",
			       NULL),
			 0);
	assert_string_equal(o.cni_conf_dir, "/etc/cni/net.d");
	assert_string_equal(o.cni_conf_template, "/t.conflist");
	assert_string_equal(o.cni_version, "1.1.0");
	assert_string_equal(o.cni_bin_dir, "/opt/cni/bin");
	assert_string_equal(o.cni_plugin, "/usr/lib/weft");
	options_free(&o);

	/* Each from the environment; a flag wins over its variable. */
	assert_int_equal(parse(&o, env, err, "--cni-bin-dir", "/flag/bin", NULL), 0);
	assert_string_equal(o.cni_conf_dir, "/env/net.d");
	assert_string_equal(o.cni_conf_template, "/env/t.conflist");
	assert_string_equal(o.cni_version, "0.4.0");
	assert_string_equal(o.cni_bin_dir, "/flag/bin");
	assert_string_equal(o.cni_plugin, "/env/weft");
	options_free(&o);

	for (int i = 0; i < 3; i++) {
		static const char *ok[] = {"0.3.1", "0.4.0", "1.0.0"};

		assert_int_equal(parse(&o, NULL, err, "--cni-version", ok[i], NULL), 0);
		assert_string_equal(o.cni_version, ok[i]);
		options_free(&o);
	}
}

static void test_actions(void **state)
{
	struct weftd_options o;
	char err[512];

	assert_int_equal(parse(&o, NULL, err, "--help", "--bogus", NULL), 0);
	assert_int_equal(o.action, OPT_HELP);
	options_free(&o);
	assert_int_equal(parse(&o, NULL, err, "--log-level", "debug", "--version", NULL), 0);
	assert_int_equal(o.action, OPT_VERSION);
	options_free(&o);
}

static void expect_error(char *const *env, const char *needle, ...)
{
	char *argv[16] = {"weftd"};
	struct weftd_options o;
	char err[512];
	int argc = 1;
	va_list ap;
	char *a;

	va_start(ap, needle);
	while ((a = va_arg(ap, char *)) && argc < 15)
		argv[argc++] = a;
	va_end(ap);
	assert_int_equal(options_parse(&o, argc, argv, env, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	options_free(&o);
}

static void test_errors(void **state)
{
	char *bad_bool[] = {"WEFTD_IP_MASQ=yes", NULL};
	char *bad_ttl[] = {"WEFTD_LEASE_TTL=1", NULL};
	char *bad_version[] = {"WEFTD_CNI_VERSION=1.0", NULL};

	expect_error(NULL, "unknown option '--bogus'", "--bogus", NULL);
	expect_error(NULL, "unexpected argument 'x'", "x", NULL);
	expect_error(NULL, "unexpected argument '-h'", "-h", NULL);
	expect_error(NULL, "--lease-ttl needs a value", "--lease-ttl", NULL);
	expect_error(NULL, "--lease-ttl: 'abc'", "--lease-ttl", "abc", NULL);
	expect_error(NULL, "--lease-ttl: '1'", "--lease-ttl", "1", NULL);
	expect_error(NULL, "--lease-ttl: '-5'", "--lease-ttl", "-5", NULL);
	expect_error(NULL, "--ip-masq takes no value", "--ip-masq=true", NULL);
	expect_error(NULL, "--log-level: 'loud'", "--log-level", "loud", NULL);
	expect_error(NULL, "must start with http:// or https://", "--etcd-endpoints",
		     "127.0.0.1:2379", NULL);
	expect_error(NULL, "no endpoint", "--etcd-endpoints", ",,", NULL);
	expect_error(NULL, "--etcd-prefix", "--etcd-prefix", "coreos", NULL);
	expect_error(NULL, "go together", "--etcd-certfile", "/c", NULL);
	expect_error(NULL, "go together", "--etcd-username", "u", NULL);
	expect_error(NULL, "--public-ip: '198.18.0'", "--public-ip", "198.18.0", NULL);
	expect_error(NULL, "--health-addr", "--health-addr", "9872", NULL);
	expect_error(NULL, "--health-addr", "--health-addr", "127.0.0.1:70000", NULL);
	expect_error(NULL, "--subnet-file: empty", "--subnet-file", "", NULL);
	expect_error(NULL, "--cni-conf-dir: empty", "--cni-conf-dir", "", NULL);
	expect_error(NULL, "--cni-bin-dir: empty", "--cni-bin-dir", "", NULL);
	expect_error(NULL, "--cni-conf-template: empty", "--cni-conf-dir", "/d",
		     "--cni-conf-template", "", NULL);
	expect_error(NULL, "--cni-plugin: empty", "--cni-bin-dir", "/d", "--cni-plugin", "", NULL);
	expect_error(NULL, "--cni-conf-template needs --cni-conf-dir", "--cni-conf-template", "/t",
		     NULL);
	expect_error(NULL, "--cni-plugin needs --cni-bin-dir", "--cni-plugin", "/p", NULL);
	expect_error(NULL, "--cni-version: '1.2.0'", "--cni-version", "1.2.0", NULL);
	expect_error(NULL, "--cni-version: '0.2.0'", "--cni-version", "0.2.0", NULL);
	expect_error(NULL, "--cni-version: ''", "--cni-version", "", NULL);
	expect_error(bad_version, "--cni-version: '1.0'", NULL);
	expect_error(bad_bool, "WEFTD_IP_MASQ: 'yes'", NULL);
	expect_error(bad_ttl, "WEFTD_LEASE_TTL: '1'", NULL);
}

static void test_usage_lists_every_option(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	options_usage(f);
	fclose(f);
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		char flag[64];

		snprintf(flag, sizeof(flag), "--%s", opts[i].name);
		assert_non_null(strstr(buf, flag));
		if (opts[i].def && opts[i].type != T_BOOL) {
			snprintf(flag, sizeof(flag), "(default %s)", opts[i].def);
			assert_non_null(strstr(buf, flag));
		}
	}
	assert_non_null(strstr(buf, "WEFTD_<NAME>"));
	free(buf);
}

/* docs/configuration.md carries the --help text verbatim. */
static void test_public_ipv6(void **state)
{
	char *env[] = {"WEFTD_PUBLIC_IPV6=2001:db8:18::5", NULL};
	struct weftd_options o;
	char err[512];

	assert_int_equal(parse(&o, NULL, err, NULL), 0);
	assert_null(o.public_ipv6);
	options_free(&o);
	assert_int_equal(parse(&o, NULL, err, "--public-ipv6", "2001:db8:18::3", NULL), 0);
	assert_string_equal(o.public_ipv6, "2001:db8:18::3");
	options_free(&o);
	assert_int_equal(parse(&o, env, err, NULL), 0);
	assert_string_equal(o.public_ipv6, "2001:db8:18::5");
	options_free(&o);
	assert_int_equal(parse(&o, env, err, "--public-ipv6=2001:db8:18::7", NULL), 0);
	assert_string_equal(o.public_ipv6, "2001:db8:18::7");
	options_free(&o);
	expect_error(NULL, "--public-ipv6: '198.18.0.3'", "--public-ipv6", "198.18.0.3", NULL);
	expect_error(NULL, "--public-ipv6: 'fe80::1'", "--public-ipv6", "fe80::1", NULL);
	expect_error(NULL, "--public-ipv6: '::1'", "--public-ipv6", "::1", NULL);
	expect_error(NULL, "--public-ipv6: 'ff02::1'", "--public-ipv6", "ff02::1", NULL);
}

static void test_docs_match_help(void **state)
{
	const char *data = getenv("WEFT_TEST_DATA");
	char path[4096], *doc = NULL, *help = NULL, *begin, *end;
	size_t len = 0;
	FILE *f;

	/* WEFT_TEST_DATA is <src>/tests/unit/data, which may not exist. */
	assert_non_null(data);
	assert_true(strlen(data) > strlen("tests/unit/data"));
	snprintf(path, sizeof(path), "%.*sdocs/configuration.md",
		 (int)(strlen(data) - strlen("tests/unit/data")), data);
	assert_int_equal(file_read_all(path, 1 << 20, &doc, NULL), 0);
	begin = strstr(doc, "<!-- weftd-help-begin -->\n```\n");
	end = strstr(doc, "```\n<!-- weftd-help-end -->");
	assert_non_null(begin);
	assert_non_null(end);
	begin += strlen("<!-- weftd-help-begin -->\n```\n");
	*end = '\0';
	f = open_memstream(&help, &len);
	options_usage(f);
	fclose(f);
	assert_string_equal(begin, help);
	free(help);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_env_and_precedence),
		cmocka_unit_test(test_cni_options),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_public_ipv6),
		cmocka_unit_test(test_usage_lists_every_option),
		cmocka_unit_test(test_docs_match_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
