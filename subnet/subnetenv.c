/* subnet.env read and write. The writer emits flannel's exact bytes; the
 * reader accepts what flannel's CNI plugin and a shell `source` would, so a
 * file written by flanneld or edited by hand still works. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "subnet/subnetenv.h"

/* docs/cni.md: subnet.env is read only up to this size. */
#define SUBNETENV_MAX (1024 * 1024)

int subnetenv_format(const struct subnet_env *env, char *buf, size_t len)
{
	char net[IP4_NET_STRLEN], sub[IP4_NET_STRLEN];
	char net6[IP6_NET_STRLEN], sub6[IP6_NET_STRLEN];
	char v4[96] = "", v6[192] = "";
	int n;

	if (!env->v6_only) {
		ip4_format_net(&env->network, net);
		ip4_format_net(&env->subnet, sub);
		snprintf(v4, sizeof(v4), "FLANNEL_NETWORK=%s\nFLANNEL_SUBNET=%s\n", net, sub);
	}
	if (env->has_v6) {
		ip6_format_net(&env->network6, net6);
		ip6_format_net(&env->subnet6, sub6);
		snprintf(v6, sizeof(v6), "FLANNEL_IPV6_NETWORK=%s\nFLANNEL_IPV6_SUBNET=%s\n", net6,
			 sub6);
	}
	n = snprintf(buf, len, "%s%sFLANNEL_MTU=%u\nFLANNEL_IPMASQ=%s\n", v4, v6, env->mtu,
		     env->ipmasq ? "true" : "false");
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* mkdir -p of the parent of path, 0755. */
static int make_parent(const char *path)
{
	char dir[4096];
	char *slash;
	int ret;

	ret = str_copy(dir, sizeof(dir), path);
	if (ret)
		return ret;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int subnetenv_write(const char *path, const struct subnet_env *env)
{
	char buf[512];
	int n, ret;

	n = subnetenv_format(env, buf, sizeof(buf));
	if (n < 0)
		return n;
	ret = make_parent(path);
	if (ret)
		return ret;
	return file_write_atomic(path, buf, (size_t)n, 0644);
}

/* Strip surrounding blanks and one pair of matching quotes, in place. */
static char *trim_value(char *v)
{
	size_t n;

	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
		v[--n] = '\0';
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		v++;
	}
	return v;
}

/* FLANNEL_NETWORK may be a comma list (legacy, or with IPv6 entries): take
 * the first entry that parses as an IPv4 CIDR (IPv6 for the IPv6 key). */
static int parse_net_list(const char *val, struct ip4_net *out4, struct ip6_net *out6)
{
	char v[256], *save = NULL;

	snprintf(v, sizeof(v), "%s", val);
	for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (out4 && ip4_parse_net(trim_value(tok), out4) == 0)
			return 0;
		if (out6 && ip6_parse_net(trim_value(tok), out6) == 0)
			return 0;
	}
	return -EINVAL;
}

static bool is_known_key(const char *key)
{
	return strcmp(key, "FLANNEL_NETWORK") == 0 || strcmp(key, "FLANNEL_SUBNET") == 0 ||
	       strcmp(key, "FLANNEL_IPV6_NETWORK") == 0 ||
	       strcmp(key, "FLANNEL_IPV6_SUBNET") == 0 || strcmp(key, "FLANNEL_MTU") == 0 ||
	       strcmp(key, "FLANNEL_IPMASQ") == 0;
}

enum {
	HAVE_NETWORK = 1,
	HAVE_SUBNET = 2,
	HAVE_MTU = 4,
	HAVE_IPMASQ = 8,
	HAVE_NETWORK6 = 16,
	HAVE_SUBNET6 = 32,
};

/* The CIDR keys; 1 when key is none of them. */
static int parse_cidr_key(const char *key, const char *val, struct subnet_env *env, unsigned *have,
			  char *err, size_t errlen)
{
	if (strcmp(key, "FLANNEL_NETWORK") == 0) {
		if (parse_net_list(val, &env->network, NULL))
			return err_fail(err, errlen,
					"FLANNEL_NETWORK: not a valid IPv4 CIDR: '%.64s'", val);
		*have |= HAVE_NETWORK;
	} else if (strcmp(key, "FLANNEL_SUBNET") == 0) {
		if (ip4_parse_net(val, &env->subnet))
			return err_fail(err, errlen,
					"FLANNEL_SUBNET: not a valid IPv4 CIDR: '%.64s'", val);
		*have |= HAVE_SUBNET;
	} else if (strcmp(key, "FLANNEL_IPV6_NETWORK") == 0) {
		if (parse_net_list(val, NULL, &env->network6))
			return err_fail(err, errlen,
					"FLANNEL_IPV6_NETWORK: not a valid IPv6 CIDR: '%.64s'",
					val);
		*have |= HAVE_NETWORK6;
	} else if (strcmp(key, "FLANNEL_IPV6_SUBNET") == 0) {
		if (ip6_parse_net(val, &env->subnet6))
			return err_fail(err, errlen,
					"FLANNEL_IPV6_SUBNET: not a valid IPv6 CIDR: '%.64s'", val);
		*have |= HAVE_SUBNET6;
	} else {
		return 1;
	}
	return 0;
}

static int parse_line(char *line, struct subnet_env *env, unsigned *have, char *err, size_t errlen)
{
	char *key = line, *eq, *val;
	uint64_t mtu;
	int ret;

	while (*key == ' ' || *key == '\t')
		key++;
	if (*key == '\0' || *key == '#' || *key == '\r')
		return 0;
	if (strncmp(key, "export ", 7) == 0)
		key += 7;
	eq = strchr(key, '=');
	if (!eq) {
		/* Like flannel's plugin, junk lines are skipped; a known key
		 * without a value is not junk. */
		if (strncmp(key, "FLANNEL_", 8) == 0 && is_known_key(trim_value(key)))
			return err_fail(err, errlen, "%.32s: no value", key);
		return 0;
	}
	*eq = '\0';
	val = trim_value(eq + 1);
	for (char *p = eq - 1; p >= key && (*p == ' ' || *p == '\t'); p--)
		*p = '\0';

	ret = parse_cidr_key(key, val, env, have, err, errlen);
	if (ret <= 0)
		return ret;
	if (strcmp(key, "FLANNEL_MTU") == 0) {
		if (parse_u64(val, 68, 65535, &mtu) || val[0] < '0' || val[0] > '9')
			return err_fail(err, errlen, "FLANNEL_MTU: not an MTU (68..65535): '%.64s'",
					val);
		env->mtu = (unsigned)mtu;
		*have |= HAVE_MTU;
	} else if (strcmp(key, "FLANNEL_IPMASQ") == 0) {
		/* flannel's plugin: true iff the literal "true". */
		env->ipmasq = strcmp(val, "true") == 0;
		*have |= HAVE_IPMASQ;
	}
	return 0;
}

/* Each family whole or absent (an IPv6-only file has no IPv4 lines), at
 * least one family, and the common keys. */
static int check_keys(const struct subnet_env *env, unsigned have, char *err, size_t errlen)
{
	bool v4 = have & (HAVE_NETWORK | HAVE_SUBNET), v6 = have & (HAVE_NETWORK6 | HAVE_SUBNET6);

	if ((v4 || !v6) && !(have & HAVE_NETWORK))
		return err_fail(err, errlen, "subnet.env: FLANNEL_NETWORK is missing");
	if ((v4 || !v6) && !(have & HAVE_SUBNET))
		return err_fail(err, errlen, "subnet.env: FLANNEL_SUBNET is missing");
	if (v6 && !(have & HAVE_NETWORK6))
		return err_fail(err, errlen, "subnet.env: FLANNEL_IPV6_NETWORK is missing");
	if (v6 && !(have & HAVE_SUBNET6))
		return err_fail(err, errlen, "subnet.env: FLANNEL_IPV6_SUBNET is missing");
	if (!(have & HAVE_MTU))
		return err_fail(err, errlen, "subnet.env: FLANNEL_MTU is missing");
	if (!(have & HAVE_IPMASQ))
		return err_fail(err, errlen, "subnet.env: FLANNEL_IPMASQ is missing");
	if (v4 && !ip4_net_contains_net(&env->network, &env->subnet))
		return err_fail(err, errlen,
				"subnet.env: FLANNEL_SUBNET is not inside FLANNEL_NETWORK");
	if (v6 && !ip6_net_contains_net(&env->network6, &env->subnet6))
		return err_fail(
			err, errlen,
			"subnet.env: FLANNEL_IPV6_SUBNET is not inside FLANNEL_IPV6_NETWORK");
	return 0;
}

int subnetenv_parse(const char *text, struct subnet_env *out, char *err, size_t errlen)
{
	struct subnet_env env = {0};
	unsigned have = 0;
	char *copy, *save = NULL;
	int ret = 0;

	if (err && errlen)
		err[0] = '\0';
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ret = parse_line(line, &env, &have, err, errlen);
		if (ret)
			goto out_copy;
	}
	ret = check_keys(&env, have, err, errlen);
	if (ret)
		goto out_copy;
	env.v6_only = !(have & HAVE_NETWORK);
	env.has_v6 = have & HAVE_NETWORK6;
	*out = env;
out_copy:
	free(copy);
	return ret;
}

int subnetenv_read(const char *path, struct subnet_env *out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len;
	int ret;

	ret = file_read_all(path, SUBNETENV_MAX, &text, &len);
	if (ret == -EINVAL) /* a FIFO, socket or device */
		return err_fail(err, errlen, "%s: not a regular file", path);
	if (ret) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path,
				 ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
		return ret;
	}
	if (strlen(text) != len) {
		ret = err_fail(err, errlen, "%s: contains a NUL byte", path);
		goto out_text;
	}
	ret = subnetenv_parse(text, out, err, errlen);
out_text:
	free(text);
	return ret;
}
