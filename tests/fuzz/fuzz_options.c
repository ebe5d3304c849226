/* weftd's command line and WEFTD_* environment (from a DaemonSet manifest
 * or a systemd EnvironmentFile). The input is split on NUL bytes: words
 * that look like NAME=value with a WEFTD_ name form the environment, the
 * others argv. Accepted options are usable as they are; refusals say why. */
#include "tests/fuzz/fuzz.h"

#include "daemon/options.c"

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size), *argv[MAX_WORDS + 2], *envp[MAX_WORDS + 1];
	struct weftd_options o;
	char err[256];
	int argc = 1, envc = 0, ret;
	size_t start = 0;

	argv[0] = "weftd";
	for (size_t i = 0; i <= size && argc + envc < MAX_WORDS; i++) {
		char *w = text + start;

		if (text[i] != '\0')
			continue;
		start = i + 1;
		if (!strncmp(w, "WEFTD_", 6) && strchr(w, '='))
			envp[envc++] = w;
		else
			argv[argc++] = w;
	}
	argv[argc] = NULL;
	envp[envc] = NULL;

	ret = options_parse(&o, argc, argv, envp, err, sizeof(err));
	if (ret) {
		FUZZ_CHECK(ret == -EINVAL && err[0] != '\0');
	} else if (o.action == OPT_RUN) {
		uint32_t a;

		FUZZ_CHECK(o.n_endpoints >= 1 && o.n_endpoints <= OPT_MAX_ENDPOINTS);
		for (size_t i = 0; i < o.n_endpoints; i++)
			FUZZ_CHECK(!strncmp(o.endpoints[i], "http://", 7) ||
				   !strncmp(o.endpoints[i], "https://", 8));
		FUZZ_CHECK(o.etcd_prefix[0] == '/' && o.subnet_file[0] && o.health_addr[0]);
		FUZZ_CHECK(!o.public_ip || ip4_parse_addr(o.public_ip, &a) == 0);
		FUZZ_CHECK(!o.etcd_certfile == !o.etcd_keyfile);
		FUZZ_CHECK(!o.etcd_username == !o.etcd_password_file);
		FUZZ_CHECK(o.lease_ttl >= 2 && o.lease_ttl <= LEASE_TTL_MAX);
		FUZZ_CHECK(!o.cni_conf_template || o.cni_conf_dir);
		FUZZ_CHECK(!o.cni_plugin || o.cni_bin_dir);
		FUZZ_CHECK(!o.cni_conf_dir || o.cni_conf_dir[0]);
		FUZZ_CHECK(!o.cni_bin_dir || o.cni_bin_dir[0]);
		FUZZ_CHECK(!strcmp(o.cni_version, "0.3.1") || !strcmp(o.cni_version, "0.4.0") ||
			   !strcmp(o.cni_version, "1.0.0") || !strcmp(o.cni_version, "1.1.0"));
		FUZZ_CHECK(o.log_level == WLOG_ERR || o.log_level == WLOG_WARN ||
			   o.log_level == WLOG_INFO || o.log_level == WLOG_DEBUG);
	}
	options_free(&o);
	free(text);
	return 0;
}
