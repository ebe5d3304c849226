/* weftd: per-node daemon. Options -> underlay (found once) -> etcd client
 * and lease manager on one event loop -> node (data plane, subnet.env,
 * health and metrics; daemon/node.c). */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/cnifiles.h"
#include "common/loop.h"
#include "daemon/node.h"
#include "daemon/options.h"
#include "daemon/underlay.h"
#include "subnet/etcd.h"
#include "subnet/leasemgr.h"
#include "subnet/netconf.h"
#include "subnet/subnetenv.h"
#include "version.h"

#define NET_CONFIG_MAX (64u << 10)

extern char **environ;

struct weftd {
	struct weftd_options opt;
	struct loop *loop;
	struct etcd_client *etcd;
	struct leasemgr *lm;
	struct node *node;
	struct cnifiles *cni;
	struct underlay ul;
	char *password;
	char *net_config;
};

/* ------------------------------------------------------------- plumbing */

static void on_signal(void *data, int signo)
{
	struct weftd *d = data;

	if (signo == SIGHUP) {
		log_info("SIGHUP ignored");
		return;
	}
	log_info("%s: exiting; the lease and the data plane stay in place",
		 signo == SIGTERM ? "SIGTERM" : "SIGINT");
	loop_stop(d->loop, 0);
}

static int read_small_file(const char *what, const char *path, char **out)
{
	int ret = file_read_all(path, NET_CONFIG_MAX, out, NULL);

	if (ret < 0)
		log_err("%s %s: %s", what, path, strerror(-ret));
	return ret;
}

static int find_underlay(struct weftd *d)
{
	char err[256], a[IP4_ADDR_STRLEN], a6[IP6_ADDR_STRLEN] = "none";
	int ret;

	ret = underlay_detect(d->opt.iface, d->opt.public_ip, &d->ul, err, sizeof(err));
	if (ret < 0) {
		log_err("%s", err);
		return ret;
	}
	underlay_detect_ipv6(d->opt.public_ipv6, &d->ul);
	ip4_format_addr(d->ul.public_ip, a);
	if (d->ul.has_public_ipv6)
		ip6_format_addr(&d->ul.public_ipv6, a6);
	log_info("underlay interface %s (MTU %u), public IP %s, public IPv6 %s", d->ul.iface,
		 d->ul.mtu, a, a6);
	return 0;
}

/* Everything from the command line that can fail for good is checked here,
 * before any etcd traffic: such errors exit instead of retrying. */
static int prepare(struct weftd *d)
{
	const struct weftd_options *o = &d->opt;
	const char *files[] = {o->etcd_cafile, o->etcd_certfile, o->etcd_keyfile};
	const char *names[] = {"--etcd-cafile", "--etcd-certfile", "--etcd-keyfile"};
	int ret;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (files[i] && access(files[i], R_OK) < 0) {
			log_err("%s %s: %s", names[i], files[i], strerror(errno));
			return -errno;
		}
	}
	if (o->etcd_password_file) {
		size_t n;

		ret = read_small_file("--etcd-password-file", o->etcd_password_file, &d->password);
		if (ret < 0)
			return ret;
		n = strlen(d->password);
		while (n && (d->password[n - 1] == '\n' || d->password[n - 1] == '\r'))
			d->password[--n] = '\0';
	}
	if (o->net_config_file) {
		struct netconf nc;
		char err[256];

		ret = read_small_file("--net-config-file", o->net_config_file, &d->net_config);
		if (ret < 0)
			return ret;
		ret = netconf_parse(d->net_config, strlen(d->net_config), &nc, err, sizeof(err));
		if (ret < 0) {
			log_err("--net-config-file %s: %s", o->net_config_file, err);
			return ret;
		}
	}
	return find_underlay(d);
}

/* The subnets of the previous run's subnet.env, to be preferred. */
static void previous_subnets(const char *path, struct leasemgr_config *lc)
{
	struct subnet_env env;
	char err[128];

	if (subnetenv_read(path, &env, err, sizeof(err)) < 0)
		return;
	/* An IPv6-only file names no IPv4 subnet to prefer. */
	lc->has_prev_subnet = !env.v6_only;
	lc->prev_subnet = ip4_net_canonical(&env.subnet);
	lc->has_prev_subnet6 = env.has_v6;
	lc->prev_subnet6 = ip6_net_canonical(&env.subnet6);
}

/* The etcd client and the lease manager on top of it. */
static int lease_plane_new(struct weftd *d)
{
	const struct weftd_options *o = &d->opt;
	struct etcd_config ec = {
		.endpoints = (const char *const *)o->endpoints,
		.n_endpoints = o->n_endpoints,
		.cafile = o->etcd_cafile,
		.certfile = o->etcd_certfile,
		.keyfile = o->etcd_keyfile,
		.username = o->etcd_username,
		.password = d->password,
		.transport = !strcmp(o->etcd_transport, "grpc")	  ? ETCD_TRANSPORT_GRPC
			     : !strcmp(o->etcd_transport, "json") ? ETCD_TRANSPORT_JSON
								  : ETCD_TRANSPORT_AUTO,
	};
	struct leasemgr_config lc = {
		.prefix = o->etcd_prefix,
		.public_ip = d->ul.public_ip,
		.ttl_s = (int64_t)o->lease_ttl,
		.net_config = d->net_config,
		.backend_type = "vxlan",
		.backend_data = node_backend_data,
		.allow_ipv6 = true,
		.has_public_ipv6 = d->ul.has_public_ipv6,
		.public_ipv6 = d->ul.public_ipv6,
	};
	int ret;

	previous_subnets(o->subnet_file, &lc);
	ret = etcd_client_new(d->loop, &ec, &d->etcd);
	if (ret < 0) {
		log_err("cannot create the etcd client: %s",
			ret == -EPROTONOSUPPORT ? "gRPC needs libcurl with HTTP/2"
						: strerror(-ret));
		return ret;
	}
	log_info("etcd transport: %s", etcd_client_transport(d->etcd));
	ret = leasemgr_new(d->etcd, &lc, &node_lease_ops, d->node, &d->lm);
	if (ret < 0)
		log_err("cannot create the lease manager: %s", strerror(-ret));
	else
		node_set_leasemgr(d->node, d->lm);
	return ret;
}

/* The CNI files weftd owns; a bad template or plugin stops weftd here. */
static int cni_files_new(struct weftd *d)
{
	const struct weftd_options *o = &d->opt;
	char err[512];
	int ret;

	ret = cnifiles_new(&(struct cnifiles_config){.loop = d->loop,
						     .conf_dir = o->cni_conf_dir,
						     .conf_template = o->cni_conf_template,
						     .cni_version = o->cni_version,
						     .subnet_file = o->subnet_file,
						     .bin_dir = o->cni_bin_dir,
						     .plugin = o->cni_plugin},
			   &d->cni, err, sizeof(err));
	if (ret < 0)
		log_err("%s", err);
	return ret;
}

/* The node (data plane, health), then the etcd fd and the lease manager. */
static int node_start(struct weftd *d)
{
	const struct weftd_options *o = &d->opt;
	int ret;

	ret = node_new(&(struct node_config){.loop = d->loop,
					     .ul = &d->ul,
					     .health_addr = o->health_addr,
					     .subnet_file = o->subnet_file,
					     .ip_masq = o->ip_masq,
					     .cni = d->cni},
		       &d->node);
	if (ret < 0)
		return ret; /* logged */
	ret = lease_plane_new(d);
	if (ret < 0)
		return ret;
	ret = leasemgr_start(d->lm);
	if (ret < 0)
		log_err("cannot start: %s", strerror(-ret));
	return ret;
}

static int run(struct weftd *d)
{
	const struct weftd_options *o = &d->opt;
	int ret;

	ret = loop_new(&d->loop);
	if (ret < 0) {
		log_err("cannot create the event loop: %s", strerror(-ret));
		return 1;
	}
	loop_on_signal(d->loop, on_signal, d);
	ret = cni_files_new(d);
	if (ret >= 0)
		ret = node_start(d);
	if (ret < 0)
		goto out;
	log_info("weftd %s starting, etcd %s, prefix %s", WEFT_VERSION, o->etcd_endpoints,
		 o->etcd_prefix);
	ret = loop_run(d->loop);
	if (ret < 0)
		log_err("event loop failed: %s", strerror(-ret));
out:
	/* Manager first: its timers and watch use the client. */
	leasemgr_free(d->lm);
	node_free(d->node);
	cnifiles_free(d->cni);
	etcd_client_free(d->etcd);
	loop_free(d->loop);
	return ret == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct weftd d = {0};
	char err[512];
	int ret;

	log_init("weftd");
	/* Before libcurl or anything else can start a thread. */
	if (loop_block_signals() < 0) {
		log_err("cannot block signals: %s", strerror(errno));
		return 1;
	}
	if (options_parse(&d.opt, argc, argv, environ, err, sizeof(err)) < 0) {
		fprintf(stderr, "weftd: %s\nTry 'weftd --help'.\n", err);
		options_free(&d.opt);
		return 2;
	}
	if (d.opt.action == OPT_HELP) {
		options_usage(stdout);
		options_free(&d.opt);
		return 0;
	}
	if (d.opt.action == OPT_VERSION) {
		printf("weftd %s\n", WEFT_VERSION);
		options_free(&d.opt);
		return 0;
	}
	log_set_level(d.opt.log_level);
	if (prepare(&d) < 0) {
		ret = 1;
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("libcurl initialisation failed");
		ret = 1;
		goto out;
	}
	ret = run(&d);
	curl_global_cleanup();
out:
	if (d.password)
		explicit_bzero(d.password, strlen(d.password));
	free(d.password);
	free(d.net_config);
	options_free(&d.opt);
	return ret;
}
