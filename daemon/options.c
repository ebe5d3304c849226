/* Table-driven option parsing: one row per option gives its parser, its
 * default and its help line, so --help and the parser cannot drift apart. */
#include "daemon/options.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ip4.h"
#include "common/ip6.h"
#include "common/util.h"

enum opt_type {
	T_STR,
	T_BOOL,
	T_U64,
	T_LEVEL,
	T_HELP,
	T_VERSION,
};

struct opt_desc {
	const char *name;
	enum opt_type type;
	size_t off;
	const char *def; /* default as text; NULL: none */
	const char *metavar;
	const char *help;
};

#define OFF(f) offsetof(struct weftd_options, f)

static const struct opt_desc opts[] = {
	{"etcd-endpoints", T_STR, OFF(etcd_endpoints), "http://127.0.0.1:2379", "URLS",
	 "comma-separated etcd client URLs (http:// or https://)"},
	{"etcd-prefix", T_STR, OFF(etcd_prefix), "/coreos.com/network", "PATH",
	 "etcd key prefix of the network config and the subnet leases"},
	{"etcd-cafile", T_STR, OFF(etcd_cafile), NULL, "FILE",
	 "CA certificate (PEM) that signed etcd's server certificate"},
	{"etcd-certfile", T_STR, OFF(etcd_certfile), NULL, "FILE",
	 "client certificate (PEM) for etcd"},
	{"etcd-keyfile", T_STR, OFF(etcd_keyfile), NULL, "FILE", "client key (PEM) for etcd"},
	{"etcd-username", T_STR, OFF(etcd_username), NULL, "NAME", "etcd user name"},
	{"etcd-password-file", T_STR, OFF(etcd_password_file), NULL, "FILE",
	 "file holding the etcd user's password"},
	{"etcd-transport", T_STR, OFF(etcd_transport), "auto", "grpc|json|auto",
	 "etcd wire: auto is gRPC with a client certificate and no user name"},
	{"net-config-file", T_STR, OFF(net_config_file), NULL, "FILE",
	 "network config JSON written to <prefix>/config if absent"},
	{"iface", T_STR, OFF(iface), NULL, "NAME|ADDR",
	 "underlay interface (default: the default-route interface)"},
	{"public-ip", T_STR, OFF(public_ip), NULL, "ADDR",
	 "IPv4 address published to peers (default: the interface's first)"},
	{"public-ipv6", T_STR, OFF(public_ipv6), NULL, "ADDR",
	 "IPv6 address published to peers (default: the interface's first global one)"},
	{"subnet-file", T_STR, OFF(subnet_file), "/run/weft/subnet.env", "FILE",
	 "where to write subnet.env for the CNI plugin"},
	{"ip-masq", T_BOOL, OFF(ip_masq), "false", NULL,
	 "masquerade pod traffic leaving the overlay network"},
	{"cni-conf-dir", T_STR, OFF(cni_conf_dir), NULL, "DIR",
	 "once the node is ready, keep DIR/10-weft.conflist there"},
	{"cni-conf-template", T_STR, OFF(cni_conf_template), NULL, "FILE",
	 "conflist to write (default: built-in weft + portmap list)"},
	{"cni-version", T_STR, OFF(cni_version), "1.0.0", "VERSION",
	 "cniVersion of the built-in conflist: 0.3.1, 0.4.0, 1.0.0 or 1.1.0"},
	{"cni-bin-dir", T_STR, OFF(cni_bin_dir), NULL, "DIR",
	 "once the node is ready, keep the CNI plugin there as DIR/weft"},
	{"cni-plugin", T_STR, OFF(cni_plugin), NULL, "FILE",
	 "plugin to install (default: the weft next to weftd)"},
	{"lease-ttl", T_U64, OFF(lease_ttl), "86400", "SECONDS", "TTL of the etcd subnet lease"},
	{"health-addr", T_STR, OFF(health_addr), "127.0.0.1:9872", "ADDR:PORT",
	 "listen address of /healthz, /readyz and /metrics"},
	{"log-level", T_LEVEL, OFF(log_level), "info", "LEVEL", "error, warning, info or debug"},
	{"version", T_VERSION, 0, NULL, NULL, "print the version and exit"},
	{"help", T_HELP, 0, NULL, NULL, "print this help and exit"},
};

#define LEASE_TTL_MAX 9000000000ULL /* etcd's own upper bound */

void options_usage(FILE *out)
{
	fprintf(out, "Usage: weftd [OPTION]...\n"
		     "weft node daemon: leases a pod subnet from etcd and wires the node into\n"
		     "the VXLAN overlay.\n\n"
		     "Every option can also be set in the environment as WEFTD_<NAME>, e.g.\n"
		     "WEFTD_ETCD_ENDPOINTS; options on the command line win. Boolean options\n"
		     "take no value; in the environment they accept true, false, 1 or 0.\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		char left[64];

		if (opts[i].metavar)
			snprintf(left, sizeof(left), "--%s %s", opts[i].name, opts[i].metavar);
		else
			snprintf(left, sizeof(left), "--%s", opts[i].name);
		fprintf(out, "  %-30s %s", left, opts[i].help);
		if (opts[i].def && opts[i].type != T_BOOL)
			fprintf(out, " (default %s)", opts[i].def);
		fputc('\n', out);
	}
}

/* "WEFTD_LEASE_TTL" for "lease-ttl". */
static void env_name(const char *name, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "WEFTD_%s", name);

	for (size_t i = 6; i < n && i < len; i++)
		buf[i] = buf[i] == '-'
				 ? '_'
				 : (char)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
}

/* from_env: the value came from the environment (or is a default). */
static int set_value(struct weftd_options *o, const struct opt_desc *d, const char *val,
		     bool from_env, char *err, size_t errlen)
{
	char label[64];

	void *p = (char *)o + d->off;
	int ret;

	if (from_env)
		env_name(d->name, label, sizeof(label));
	else
		snprintf(label, sizeof(label), "--%s", d->name);

	switch (d->type) {
	case T_STR: {
		char *s = strdup(val);

		if (!s)
			return -ENOMEM;
		free(*(char **)p);
		*(char **)p = s;
		return 0;
	}
	case T_BOOL:
		if (!from_env || !strcasecmp(val, "true") || !strcmp(val, "1")) {
			*(bool *)p = true;
			return 0;
		}
		if (!strcasecmp(val, "false") || !strcmp(val, "0")) {
			*(bool *)p = false;
			return 0;
		}
		snprintf(err, errlen, "%s: '%s' is not true, false, 1 or 0", label, val);
		return -EINVAL;
	case T_U64:
		ret = parse_u64(val, 2, LEASE_TTL_MAX, (uint64_t *)p);
		if (ret < 0) {
			snprintf(err, errlen, "%s: '%s' is not a number of seconds from 2 to %llu",
				 label, val, LEASE_TTL_MAX);
			return -EINVAL;
		}
		return 0;
	case T_LEVEL:
		if (log_parse_level(val, (enum log_level *)p) < 0) {
			snprintf(err, errlen, "%s: '%s' is not error, warning, info or debug",
				 label, val);
			return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
}

static const char *env_value(char *const *envp, const char *name)
{
	char key[64];
	size_t n;

	env_name(name, key, sizeof(key) - 1);
	n = strlen(key);
	key[n++] = '=';
	key[n] = '\0';
	for (; envp && *envp; envp++)
		if (!strncmp(*envp, key, n))
			return *envp + n;
	return NULL;
}

static int split_endpoints(struct weftd_options *o, char *err, size_t errlen)
{
	char *copy = strdup(o->etcd_endpoints), *save = NULL, *tok;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (strncmp(tok, "http://", 7) && strncmp(tok, "https://", 8)) {
			snprintf(err, errlen,
				 "--etcd-endpoints: '%s' must start with http:// or https://", tok);
			ret = -EINVAL;
			goto out;
		}
		if (o->n_endpoints == OPT_MAX_ENDPOINTS) {
			snprintf(err, errlen, "--etcd-endpoints: more than %d endpoints",
				 OPT_MAX_ENDPOINTS);
			ret = -EINVAL;
			goto out;
		}
		o->endpoints[o->n_endpoints] = strdup(tok);
		if (!o->endpoints[o->n_endpoints]) {
			ret = -ENOMEM;
			goto out;
		}
		o->n_endpoints++;
	}
	if (!o->n_endpoints) {
		snprintf(err, errlen, "--etcd-endpoints: no endpoint given");
		ret = -EINVAL;
	}
out:
	free(copy);
	return ret;
}

/* The versions the weft plugin speaks that a conflist may carry. */
static const char *const cni_versions[] = {"0.3.1", "0.4.0", "1.0.0", "1.1.0"};

static int validate_cni(const struct weftd_options *o, char *err, size_t errlen)
{
	const struct {
		const char *name, *val;
	} paths[] = {
		{"--cni-conf-dir", o->cni_conf_dir},
		{"--cni-conf-template", o->cni_conf_template},
		{"--cni-bin-dir", o->cni_bin_dir},
		{"--cni-plugin", o->cni_plugin},
	};
	bool known = false;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (paths[i].val && !paths[i].val[0])
			return err_fail(err, errlen, "%s: empty", paths[i].name);
	if (o->cni_conf_template && !o->cni_conf_dir)
		return err_fail(err, errlen, "--cni-conf-template needs --cni-conf-dir");
	if (o->cni_plugin && !o->cni_bin_dir)
		return err_fail(err, errlen, "--cni-plugin needs --cni-bin-dir");
	for (size_t i = 0; i < ARRAY_SIZE(cni_versions); i++)
		known |= !strcmp(o->cni_version, cni_versions[i]);
	if (!known)
		return err_fail(err, errlen,
				"--cni-version: '%s' is not 0.3.1, 0.4.0, 1.0.0 or 1.1.0",
				o->cni_version);
	return 0;
}

static int validate(struct weftd_options *o, char *err, size_t errlen)
{
	uint32_t a;
	struct in6_addr a6;
	const char *colon;
	uint64_t port;

	if (split_endpoints(o, err, errlen) < 0)
		return -EINVAL;
	if (!o->etcd_prefix[0] || o->etcd_prefix[0] != '/') {
		snprintf(err, errlen, "--etcd-prefix: '%s' must start with '/'", o->etcd_prefix);
		return -EINVAL;
	}
	if (!o->etcd_certfile != !o->etcd_keyfile) {
		snprintf(err, errlen, "--etcd-certfile and --etcd-keyfile go together");
		return -EINVAL;
	}
	if (!o->etcd_username != !o->etcd_password_file) {
		snprintf(err, errlen, "--etcd-username and --etcd-password-file go together");
		return -EINVAL;
	}
	if (strcmp(o->etcd_transport, "auto") && strcmp(o->etcd_transport, "json") &&
	    strcmp(o->etcd_transport, "grpc")) {
		snprintf(err, errlen, "--etcd-transport: '%s' is not grpc, json or auto",
			 o->etcd_transport);
		return -EINVAL;
	}
	if (!strcmp(o->etcd_transport, "grpc") && o->etcd_username) {
		snprintf(err, errlen,
			 "--etcd-transport grpc takes no --etcd-username: the client "
			 "certificate names the user");
		return -EINVAL;
	}
	if (o->public_ip && ip4_parse_addr(o->public_ip, &a) < 0) {
		snprintf(err, errlen, "--public-ip: '%s' is not an IPv4 address", o->public_ip);
		return -EINVAL;
	}
	if (o->public_ipv6 && (ip6_parse_addr(o->public_ipv6, &a6) < 0 || !ip6_addr_usable(&a6))) {
		snprintf(err, errlen, "--public-ipv6: '%s' is not a unicast IPv6 address",
			 o->public_ipv6);
		return -EINVAL;
	}
	if (o->iface && !o->iface[0]) {
		snprintf(err, errlen, "--iface: empty");
		return -EINVAL;
	}
	if (!o->subnet_file[0]) {
		snprintf(err, errlen, "--subnet-file: empty");
		return -EINVAL;
	}
	if (validate_cni(o, err, errlen) < 0)
		return -EINVAL;
	colon = strrchr(o->health_addr, ':');
	if (!colon || colon == o->health_addr || parse_u64(colon + 1, 0, 65535, &port) < 0) {
		snprintf(err, errlen, "--health-addr: '%s' is not ADDR:PORT", o->health_addr);
		return -EINVAL;
	}
	return 0;
}

static const struct opt_desc *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
			return &opts[i];
	return NULL;
}

int options_parse(struct weftd_options *o, int argc, char *const *argv, char *const *envp,
		  char *err, size_t errlen)
{
	int ret;

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	/* Defaults, then the environment, then the command line. */
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		const char *v;

		if (opts[i].def && (ret = set_value(o, &opts[i], opts[i].def, true, err, errlen)))
			return ret;
		if (opts[i].type == T_HELP || opts[i].type == T_VERSION)
			continue;
		v = env_value(envp, opts[i].name);
		if (v && (ret = set_value(o, &opts[i], v, true, err, errlen)) < 0)
			return ret;
	}
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *val = NULL;
		const struct opt_desc *d;

		if (strncmp(arg, "--", 2) || !arg[2]) {
			snprintf(err, errlen, "unexpected argument '%s'", arg);
			return -EINVAL;
		}
		arg += 2;
		eq = strchr(arg, '=');
		d = find_opt(arg, eq ? (size_t)(eq - arg) : strlen(arg));
		if (!d) {
			snprintf(err, errlen, "unknown option '%s'", argv[i]);
			return -EINVAL;
		}
		if (d->type == T_HELP || d->type == T_VERSION || d->type == T_BOOL) {
			if (eq) {
				snprintf(err, errlen, "--%s takes no value", d->name);
				return -EINVAL;
			}
			if (d->type == T_HELP) {
				o->action = OPT_HELP;
				return 0;
			}
			if (d->type == T_VERSION) {
				o->action = OPT_VERSION;
				return 0;
			}
			*(bool *)((char *)o + d->off) = true;
			continue;
		}
		if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "--%s needs a value", d->name);
				return -EINVAL;
			}
			val = argv[++i];
		}
		ret = set_value(o, d, val, false, err, errlen);
		if (ret < 0)
			return ret;
	}
	return validate(o, err, errlen);
}

void options_free(struct weftd_options *o)
{
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if (opts[i].type == T_STR)
			free(*(char **)((char *)o + opts[i].off));
	for (size_t i = 0; i < o->n_endpoints; i++)
		free(o->endpoints[i]);
	memset(o, 0, sizeof(*o));
}
