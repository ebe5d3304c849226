/* weftd options: each flag --name also reads the environment as
 * WEFTD_<NAME> (upper case, '-' -> '_'); a flag given on the command line
 * wins. Boolean flags take no value; their environment form accepts
 * true/false/1/0. */
#ifndef WEFTD_OPTIONS_H
#define WEFTD_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"

#define OPT_MAX_ENDPOINTS 16

enum opt_action {
	OPT_RUN,
	OPT_HELP,
	OPT_VERSION,
};

struct weftd_options {
	enum opt_action action;
	char *etcd_endpoints; /* comma list as given */
	char *endpoints[OPT_MAX_ENDPOINTS];
	size_t n_endpoints;
	char *etcd_prefix;
	char *etcd_cafile, *etcd_certfile, *etcd_keyfile;
	char *etcd_username, *etcd_password_file;
	char *etcd_transport; /* "auto", "json" or "grpc" */
	char *net_config_file;
	char *iface;
	char *public_ip;
	char *public_ipv6;
	char *subnet_file;
	bool ip_masq;
	char *cni_conf_dir, *cni_conf_template, *cni_version;
	char *cni_bin_dir, *cni_plugin;
	uint64_t lease_ttl;
	char *health_addr;
	enum log_level log_level;
};

/* envp: NULL-terminated "NAME=value" array (environ). Returns 0, or -EINVAL
 * with a message for the user in err. */
int options_parse(struct weftd_options *o, int argc, char *const *argv, char *const *envp,
		  char *err, size_t errlen);
void options_free(struct weftd_options *o);
void options_usage(FILE *out);

#endif
