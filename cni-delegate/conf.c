/* Request parsing: CNI_* environment, network config and prevResult. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni-delegate/cni.h"
#include "common/util.h"

const char *const cni_supported_versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL};
static const enum cni_ver version_ids[] = {VER_030, VER_031, VER_040, VER_100, VER_110};

/* Messages quote what the runtime sent, cut to a length: the cut can split
 * a UTF-8 sequence and env values need not be UTF-8 at all, yet the error
 * object must still encode as JSON. */
static void ascii_only(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			*s = '?';
}

int cni_fail(struct cni_err *e, int code, const char *details, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	snprintf(e->details, sizeof(e->details), "%s", details ? details : "");
	ascii_only(e->msg);
	ascii_only(e->details);
	return -1;
}

bool cni_version_supported(const char *v, enum cni_ver *out)
{
	for (size_t i = 0; cni_supported_versions[i]; i++) {
		if (!strcmp(v, cni_supported_versions[i])) {
			if (out)
				*out = version_ids[i];
			return true;
		}
	}
	return false;
}

const char *cni_req_version(const struct cni_req *req)
{
	if (req->version_str && cni_version_supported(req->version_str, NULL))
		return req->version_str;
	return "1.1.0";
}

/* Same rule as the reference tooling: [A-Za-z0-9][A-Za-z0-9_.-]*. It keeps
 * ids and network names safe as path components. */
bool cni_valid_id(const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= CNI_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool alnum =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

bool cni_valid_ifname(const char *name)
{
	size_t n = strlen(name);

	if (!n || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = name[i];

		if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
			return false;
	}
	return true;
}

/* FNV-1a: stable, dependency-free; 32 bits are plenty per node. */
void cni_host_veth_name(const char *id, const char *ifname, char out[IFNAMSIZ])
{
	uint32_t h = 2166136261u;
	const char *parts[2] = {id, ifname};

	for (int p = 0; p < 2; p++) {
		for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++) {
			h ^= *c;
			h *= 16777619u;
		}
		h ^= 0xff; /* separator: ("ab","c") != ("a","bc") */
		h *= 16777619u;
	}
	snprintf(out, IFNAMSIZ, "veth%08x", h);
}

int cni_host_veth_alias(const char *id, const char *ifname, char *out, size_t len)
{
	/* Length checked first: a truncating snprintf trips -Wformat-truncation. */
	if (strlen("weft:") + strlen(id) + 1 + strlen(ifname) >= len)
		return -ENAMETOOLONG;
	sprintf(out, "weft:%s:%s", id, ifname);
	return 0;
}

static const char *env_get(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static bool cni_valid_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

static const char *cmd_names[] = {
	[CMD_ADD] = "ADD",	   [CMD_DEL] = "DEL", [CMD_CHECK] = "CHECK",
	[CMD_VERSION] = "VERSION", [CMD_GC] = "GC",   [CMD_STATUS] = "STATUS",
};

static int parse_env(struct cni_req *req, struct cni_err *e)
{
	const char *cmd = env_get("CNI_COMMAND");
	char missing[128] = "";
	bool need_attach;
	size_t i;

	if (!cmd)
		return cni_fail(e, CNI_ERR_ENV, NULL,
				"required env variables [CNI_COMMAND] missing");
	for (i = 0; i < ARRAY_SIZE(cmd_names); i++)
		if (!strcmp(cmd, cmd_names[i]))
			break;
	if (i == ARRAY_SIZE(cmd_names))
		return cni_fail(e, CNI_ERR_ENV, NULL, "unknown CNI_COMMAND: %.64s", cmd);
	req->cmd = (enum cni_cmd)i;
	if (req->cmd == CMD_VERSION || req->cmd == CMD_STATUS)
		return 0;

	need_attach = req->cmd == CMD_ADD || req->cmd == CMD_DEL || req->cmd == CMD_CHECK;
	req->container_id = env_get("CNI_CONTAINERID");
	req->netns = env_get("CNI_NETNS");
	req->ifname = env_get("CNI_IFNAME");
	if (need_attach && !req->container_id)
		strcat(missing, " CNI_CONTAINERID");
	if ((req->cmd == CMD_ADD || req->cmd == CMD_CHECK) && !req->netns)
		strcat(missing, " CNI_NETNS");
	if (need_attach && !req->ifname)
		strcat(missing, " CNI_IFNAME");
	if (req->cmd == CMD_GC && !env_get("CNI_PATH"))
		strcat(missing, " CNI_PATH");
	if (missing[0])
		return cni_fail(e, CNI_ERR_ENV, NULL, "required env variables [%s] missing",
				missing + 1);
	if (!need_attach)
		return 0;
	if (!cni_valid_id(req->container_id))
		return cni_fail(
			e, CNI_ERR_ENV,
			"allowed: letters, digits, '_', '.', '-'; must start with a letter or digit",
			"invalid CNI_CONTAINERID \"%.80s\"", req->container_id);
	if (!cni_valid_ifname(req->ifname))
		return cni_fail(e, CNI_ERR_ENV,
				"at most 15 bytes, no '/', ':' or whitespace, not '.' or '..'",
				"invalid CNI_IFNAME \"%.40s\"", req->ifname);
	/* The path goes into the result as "sandbox": JSON needs valid UTF-8,
	 * and finding that out after the attachment is made is too late. */
	if (req->netns && req->cmd != CMD_DEL && !cni_valid_utf8(req->netns))
		return cni_fail(e, CNI_ERR_ENV, NULL, "invalid CNI_NETNS: not valid UTF-8");
	return 0;
}

static int opt_string(json_t *conf, const char *key, char *dst, size_t size, struct cni_err *e)
{
	json_t *v = json_object_get(conf, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || !json_string_length(v))
		return cni_fail(e, CNI_ERR_CONFIG, NULL,
				"config key \"%s\" must be a non-empty string", key);
	if (str_copy(dst, size, json_string_value(v)))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "config key \"%s\" is too long", key);
	return 0;
}

static int opt_bool(json_t *conf, const char *key, bool *dst, struct cni_err *e)
{
	json_t *v = json_object_get(conf, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "config key \"%s\" must be true or false",
				key);
	*dst = json_is_true(v);
	return 0;
}

/* GC's list of attachments that stay. GC deletes whatever is not on it,
 * so anything but a well-formed list is refused: a missing list, or an
 * entry that could not match anything, must never read as "keep none". */
static int parse_attachments(struct cni_req *req, json_t *c, struct cni_err *e)
{
	const char *key = "cni.dev/valid-attachments";
	json_t *v = json_object_get(c, key), *a;
	size_t i;

	if (!v) {
		key = "cni.dev/attachments";
		v = json_object_get(c, key);
	}
	if (!json_is_array(v))
		return cni_fail(e, CNI_ERR_CONFIG, NULL,
				"GC needs \"cni.dev/valid-attachments\" (an array)");
	json_array_foreach(v, i, a)
	{
		json_t *id = json_object_get(a, "containerID"), *ifn = json_object_get(a, "ifname");

		if (!json_is_object(a))
			return cni_fail(e, CNI_ERR_CONFIG, NULL, "\"%s\"[%zu] is not an object",
					key, i);
		if (!json_is_string(id) || !cni_valid_id(json_string_value(id)))
			return cni_fail(e, CNI_ERR_CONFIG, NULL,
					"\"%s\"[%zu] lacks a valid \"containerID\" (a string)", key,
					i);
		if (ifn && (!json_is_string(ifn) || !cni_valid_ifname(json_string_value(ifn))))
			return cni_fail(e, CNI_ERR_CONFIG, NULL,
					"\"%s\"[%zu]: \"ifname\" is not a valid interface name",
					key, i);
	}
	req->valid_attach = v;
	return 0;
}

static int parse_conf(struct cni_req *req, struct cni_err *e)
{
	json_t *c = req->conf, *v;

	if (!json_is_object(c))
		return cni_fail(e, CNI_ERR_DECODE, NULL, "network config is not a JSON object");
	v = json_object_get(c, "cniVersion");
	if (!json_is_string(v))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "config lacks \"cniVersion\" (a string)");
	req->version_str = json_string_value(v);
	if (!cni_version_supported(req->version_str, &req->ver))
		return cni_fail(e, CNI_ERR_VERSION, "supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0",
				"incompatible CNI version \"%.32s\"", req->version_str);
	if (req->cmd == CMD_CHECK && req->ver < VER_040)
		return cni_fail(e, CNI_ERR_VERSION, NULL, "CHECK needs cniVersion 0.4.0 or later");
	if ((req->cmd == CMD_GC || req->cmd == CMD_STATUS) && req->ver < VER_110)
		return cni_fail(e, CNI_ERR_VERSION, NULL, "%s needs cniVersion 1.1.0",
				cmd_names[req->cmd]);
	v = json_object_get(c, "name");
	if (!json_is_string(v))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "config lacks \"name\" (a string)");
	req->name = json_string_value(v);
	if (!cni_valid_id(req->name))
		return cni_fail(e, CNI_ERR_CONFIG, "allowed: letters, digits, '_', '.', '-'",
				"invalid network name \"%.64s\"", req->name);
	if (!json_is_string(json_object_get(c, "type")))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "config lacks \"type\" (a string)");

	strcpy(req->subnet_file, "/run/weft/subnet.env");
	strcpy(req->data_dir, "/var/lib/cni/networks");
	strcpy(req->bridge, "cni0");
	req->hairpin = true;
	req->default_gw = true;
	if (opt_string(c, "subnetFile", req->subnet_file, sizeof(req->subnet_file), e) ||
	    opt_string(c, "dataDir", req->data_dir, sizeof(req->data_dir), e) ||
	    opt_string(c, "bridge", req->bridge, sizeof(req->bridge), e) ||
	    opt_bool(c, "hairpinMode", &req->hairpin, e) ||
	    opt_bool(c, "isDefaultGateway", &req->default_gw, e))
		return -1;
	if (!cni_valid_ifname(req->bridge))
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "invalid bridge name \"%s\"", req->bridge);
	v = json_object_get(c, "mtu");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 65535 ||
		    (json_integer_value(v) > 0 && json_integer_value(v) < 68))
			return cni_fail(e, CNI_ERR_CONFIG, NULL,
					"config key \"mtu\" must be 0 or an integer in 68..65535");
		req->mtu = (unsigned)json_integer_value(v);
	}
	v = json_object_get(c, "prevResult");
	if (v && !json_is_null(v)) {
		if (!json_is_object(v))
			return cni_fail(e, CNI_ERR_CONFIG, NULL,
					"\"prevResult\" must be an object");
		req->prev_result = v;
	}
	if (req->cmd == CMD_GC)
		return parse_attachments(req, c, e);
	return 0;
}

int cni_req_parse(struct cni_req *req, const char *text, size_t len, struct cni_err *e)
{
	json_error_t jerr;
	int ret;

	memset(req, 0, sizeof(*req));
	ret = parse_env(req, e);
	/* Even when the environment is wrong, the version helps the error. */
	if (len)
		req->conf = json_loadb(text, len, 0, &jerr);
	if (req->conf && json_is_string(json_object_get(req->conf, "cniVersion")))
		req->version_str = json_string_value(json_object_get(req->conf, "cniVersion"));
	if (ret)
		return ret;
	if (req->cmd == CMD_VERSION)
		return 0;
	if (!req->conf)
		return cni_fail(e, CNI_ERR_DECODE, len ? jerr.text : "stdin is empty",
				"network config is not valid JSON");
	return parse_conf(req, e);
}

void cni_req_free(struct cni_req *req)
{
	json_decref(req->conf);
	req->conf = NULL;
}
