/* The CNI plugin's stdin: network config plus prevResult, as a runtime or
 * an earlier plugin of a chain hands it over. Every verb that reads stdin
 * either accepts it with sane fields or fails with a CNI code, and the
 * error object the plugin would print is valid JSON carrying that code. */
#include <jansson.h>

#include "tests/fuzz/fuzz.h"

#include "cni-delegate/conf.c"
#include "cni-delegate/result.c"

static const char *const verbs[] = {"ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setenv("CNI_CONTAINERID", "0123456789abcdef", 1);
	setenv("CNI_NETNS", "/run/netns/pod", 1);
	setenv("CNI_IFNAME", "eth0", 1);
	setenv("CNI_PATH", "/opt/cni/bin", 1);
	return 0;
}

static bool known_code(int code)
{
	return code == CNI_ERR_VERSION || code == CNI_ERR_ENV || code == CNI_ERR_DECODE ||
	       code == CNI_ERR_CONFIG || code == CNI_ERR_TRY_LATER ||
	       code == CNI_ERR_NOT_AVAILABLE || code == CNI_ERR_INTERNAL;
}

/* What main() prints on failure must reach the runtime intact. */
static void check_error_output(const struct cni_req *req, const struct cni_err *e)
{
	FILE *saved = stdout;
	char *out = NULL;
	size_t len = 0;
	json_t *j;

	stdout = open_memstream(&out, &len);
	FUZZ_CHECK(stdout != NULL);
	result_print_error(req, e);
	fclose(stdout);
	stdout = saved;

	j = json_loadb(out, len, 0, NULL);
	FUZZ_CHECK(j != NULL);
	FUZZ_CHECK(json_integer_value(json_object_get(j, "code")) == e->code);
	FUZZ_CHECK(
		cni_version_supported(json_string_value(json_object_get(j, "cniVersion")), NULL));
	json_decref(j);
	free(out);
}

static void check_prev(json_t *prev)
{
	struct prev_result p;
	struct cni_err e = {0};

	if (result_parse_prev(prev, "eth0", &p, &e) == 0) {
		FUZZ_CHECK(p.n_routes <= RESULT_MAX_ROUTES);
		FUZZ_CHECK(p.addr.prefix <= 32);
	} else {
		FUZZ_CHECK(e.code == CNI_ERR_CONFIG && e.msg[0] != '\0');
	}
}

static void check_verb(const char *verb, const uint8_t *data, size_t size)
{
	struct cni_req req;
	struct cni_err e = {0};
	enum cni_ver ver;

	setenv("CNI_COMMAND", verb, 1);
	if (cni_req_parse(&req, (const char *)data, size, &e)) {
		FUZZ_CHECK(known_code(e.code) && e.msg[0] != '\0');
		check_error_output(&req, &e);
		goto out;
	}
	if (req.cmd == CMD_VERSION || req.cmd == CMD_STATUS)
		goto out;
	FUZZ_CHECK(json_is_object(req.conf));
	FUZZ_CHECK(cni_version_supported(req.version_str, &ver) && ver == req.ver);
	FUZZ_CHECK(cni_valid_id(req.name) && cni_valid_ifname(req.bridge));
	FUZZ_CHECK(req.subnet_file[0] && req.data_dir[0]);
	FUZZ_CHECK(req.mtu == 0 || (req.mtu >= 68 && req.mtu <= 65535));
	FUZZ_CHECK(req.cmd != CMD_GC || json_is_array(req.valid_attach));
	if (req.prev_result) {
		FUZZ_CHECK(json_is_object(req.prev_result));
		check_prev(req.prev_result);
	}
out:
	cni_req_free(&req);
}

/* The first line of the input as CNI_CONTAINERID, then as CNI_IFNAME, the
 * rest as stdin: environment values are bytes, not necessarily UTF-8. */
static void check_env(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : size;
	char *line;

	if (n > 300)
		return;
	line = fuzz_cstr(data, n);
	data += nl ? n + 1 : n;
	size -= nl ? n + 1 : n;
	setenv("CNI_CONTAINERID", line, 1);
	check_verb("ADD", data, size);
	setenv("CNI_CONTAINERID", "0123456789abcdef", 1);
	setenv("CNI_IFNAME", line, 1);
	check_verb("DEL", data, size);
	setenv("CNI_IFNAME", "eth0", 1);
	check_verb(line, data, size);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j;

	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		check_verb(verbs[i], data, size);
	check_env(data, size);
	/* The prevResult reader also on documents that are not a whole config. */
	j = json_loadb((const char *)data, size, 0, NULL);
	if (j) {
		check_prev(j);
		json_decref(j);
	}
	return 0;
}
