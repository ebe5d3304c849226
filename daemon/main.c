/* weftd: per-node daemon. Options -> public IP and underlay -> etcd client
 * and lease manager on one event loop -> (data plane) -> subnet.env.
 *
 * The data plane plugs in at the "data plane wiring" functions below: they
 * are the only place that needs to know about the backend. */
#include <curl/curl.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/cnifiles.h"
#include "daemon/dataplane.h"
#include "common/loop.h"
#include "daemon/options.h"
#include "subnet/etcd.h"
#include "subnet/leasemgr.h"
#include "subnet/netconf.h"
#include "subnet/subnetenv.h"
#include "version.h"

#define VXLAN_OVERHEAD	    50
#define NET_CONFIG_MAX	    (64u << 10)
#define SUBNET_ENV_RETRY_MS 2000

extern char **environ;

struct weftd {
	struct weftd_options opt;
	struct loop *loop;
	struct etcd_client *etcd;
	struct leasemgr *lm;
	struct dataplane *dp;
	struct cnifiles *cni;
	struct loop_timer *t_subnet_env;
	char iface[IF_NAMESIZE];
	uint32_t public_ip;
	unsigned underlay_mtu;
	struct netconf nc;
	bool have_nc, have_lease;
	struct ip4_net subnet;
	char *password;
	char *net_config;
};

/* ------------------------------------------------------------ underlay */

/* The interface of the IPv4 default route, from this netns' /proc/net/route. */
static int default_route_iface(char name[IF_NAMESIZE])
{
	char line[512], ifn[64];
	unsigned dest, gw, flags, mask;
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/net/route", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %x %x %x %*d %*d %*d %x", ifn, &dest, &gw, &flags, &mask) !=
		    5)
			continue;
		if (dest == 0 && mask == 0 && (flags & 1 /* RTF_UP */)) {
			ret = str_copy(name, IF_NAMESIZE, ifn);
			break;
		}
	}
	fclose(f);
	return ret;
}

/* name -> first IPv4 address, or (name empty) address -> name. */
static int iface_lookup(char name[IF_NAMESIZE], uint32_t *addr)
{
	struct ifaddrs *ifa, *i;
	int ret = -ENOENT;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		uint32_t a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		if (name[0] && !strcmp(name, i->ifa_name)) {
			*addr = a;
			ret = 0;
			break;
		}
		if (!name[0] && a == *addr) {
			ret = str_copy(name, IF_NAMESIZE, i->ifa_name);
			break;
		}
	}
	freeifaddrs(ifa);
	return ret;
}

static int iface_mtu(const char *name, unsigned *mtu)
{
	struct ifreq ifr = {0};
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		ret = -errno;
	else
		*mtu = (unsigned)ifr.ifr_mtu;
	close(fd);
	return ret;
}

/* --iface (name or address), --public-ip, else the default-route interface. */
static int resolve_underlay(struct weftd *d)
{
	const struct weftd_options *o = &d->opt;
	char a[IP4_ADDR_STRLEN];
	uint32_t addr;
	int ret;

	d->iface[0] = '\0';
	if (o->iface && ip4_parse_addr(o->iface, &addr) == 0) {
		ret = iface_lookup(d->iface, &addr);
		if (ret < 0) {
			log_err("--iface %s: no interface has this address", o->iface);
			return ret;
		}
		d->public_ip = addr;
	} else if (o->iface) {
		if (str_copy(d->iface, sizeof(d->iface), o->iface) < 0 ||
		    iface_lookup(d->iface, &d->public_ip) < 0) {
			log_err("--iface %s: no such interface with an IPv4 address", o->iface);
			return -ENODEV;
		}
	} else if (o->public_ip) {
		ip4_parse_addr(o->public_ip, &addr);
		/* The interface holding the address, if any, else the default route's. */
		if (iface_lookup(d->iface, &addr) < 0 && default_route_iface(d->iface) < 0) {
			log_err("--public-ip %s is on no interface and there is no default route; "
				"use --iface",
				o->public_ip);
			return -ENODEV;
		}
	} else {
		ret = default_route_iface(d->iface);
		if (ret < 0 || iface_lookup(d->iface, &d->public_ip) < 0) {
			log_err("cannot find the underlay: no IPv4 default route (or its interface "
				"has no address); use --iface or --public-ip");
			return -ENODEV;
		}
	}
	if (o->public_ip)
		ip4_parse_addr(o->public_ip, &d->public_ip);
	ret = iface_mtu(d->iface, &d->underlay_mtu);
	if (ret < 0) {
		log_err("cannot read the MTU of %s: %s", d->iface, strerror(-ret));
		return ret;
	}
	ip4_format_addr(d->public_ip, a);
	log_info("underlay interface %s (MTU %u), public IP %s", d->iface, d->underlay_mtu, a);
	return 0;
}

/* ------------------------------------------------------- data plane wiring */

/* The network config is known: the backend may create its device now. */
static int dataplane_config(struct weftd *d, const struct netconf *nc)
{
	return 0;
}

/* The own lease is held: the backend must be ready before subnet.env. */
static int dataplane_lease(struct weftd *d, const struct ip4_net *subnet,
			   const struct lease_attrs *attrs)
{
	return dp_lease(d->dp, &d->nc, subnet, attrs);
}

static void dataplane_peer_set(struct weftd *d, const struct ip4_net *subnet,
			       const struct lease_attrs *attrs)
{
	dp_peer_set(d->dp, subnet, attrs);
}

static void dataplane_peer_del(struct weftd *d, const struct ip4_net *subnet)
{
	dp_peer_del(d->dp, subnet);
}

/* A complete peer list was applied: stale kernel state may be pruned. */
static void dataplane_peers_synced(struct weftd *d)
{
	dp_peers_synced(d->dp);
}

/* ---------------------------------------------------------- subnet.env */

static unsigned overlay_mtu(const struct weftd *d)
{
	return (d->nc.mtu ? d->nc.mtu : d->underlay_mtu) - VXLAN_OVERHEAD;
}

static void write_subnet_env(void *data)
{
	struct weftd *d = data;
	struct subnet_env env = {
		.network = d->nc.network,
		.subnet = {d->subnet.addr + 1, d->subnet.prefix},
		.mtu = overlay_mtu(d),
		.ipmasq = d->opt.ip_masq,
	};
	char s[IP4_NET_STRLEN];
	int ret;

	/* Written only once the device is there: its presence tells the CNI
	 * plugin (and flannel's tooling) that pods can be wired up. */
	if (!d->have_lease || !dp_device_ready(d->dp))
		return;
	ret = subnetenv_write(d->opt.subnet_file, &env);
	if (ret < 0) {
		log_err("cannot write %s: %s; retrying", d->opt.subnet_file, strerror(-ret));
		loop_timer_arm(d->t_subnet_env, SUBNET_ENV_RETRY_MS, 0);
		return;
	}
	dp_subnet_env_written(d->dp);
	ip4_format_net(&env.subnet, s);
	log_info("wrote %s (FLANNEL_SUBNET=%s FLANNEL_MTU=%u)", d->opt.subnet_file, s, env.mtu);
}

/* The node is ready for pods: the runtime may now see weft's CNI files. */
static void on_node_ready(void *data)
{
	struct weftd *d = data;
	int ret = cnifiles_activate(d->cni);

	if (ret < 0)
		log_err("cannot watch the CNI files: %s", strerror(-ret));
}

/* ----------------------------------------------------- lease callbacks */

static void on_config(void *data, const struct netconf *nc)
{
	struct weftd *d = data;
	char n[IP4_NET_STRLEN];
	int ret;

	d->nc = *nc;
	d->have_nc = true;
	ip4_format_net(&nc->network, n);
	log_info("network %s, subnets /%u, VNI %u, port %u, overlay MTU %u", n, nc->subnet_len,
		 nc->vni, nc->port, overlay_mtu(d));
	ret = dataplane_config(d, nc);
	if (ret < 0)
		log_err("data plane setup failed: %s", strerror(-ret));
}

static void on_lease_acquired(void *data, const struct ip4_net *subnet,
			      const struct lease_attrs *attrs)
{
	struct weftd *d = data;
	int ret;

	d->subnet = *subnet;
	d->have_lease = true;
	ret = dataplane_lease(d, subnet, attrs);
	if (ret < 0)
		log_err("data plane setup for the lease failed: %s", strerror(-ret));
	write_subnet_env(d);
}

static void on_lease_lost(void *data, const struct ip4_net *subnet)
{
	struct weftd *d = data;

	/* subnet.env stays: pods keep their addresses while we re-acquire. */
	d->have_lease = false;
}

static void log_peer(const char *what, const struct ip4_net *subnet,
		     const struct lease_attrs *attrs)
{
	char s[IP4_NET_STRLEN], ip[IP4_ADDR_STRLEN] = "-", mac[MAC_STRLEN] = "-";

	if (!log_enabled(WLOG_DEBUG))
		return;
	ip4_format_net(subnet, s);
	if (attrs) {
		ip4_format_addr(attrs->public_ip, ip);
		if (attrs->has_vtep_mac)
			mac_format(attrs->vtep_mac, mac);
	}
	log_debug("peer %s: %s via %s (VTEP %s)", what, s, ip, mac);
}

static void on_peer_added(void *data, const struct ip4_net *subnet, const struct lease_attrs *attrs)
{
	log_peer("added", subnet, attrs);
	dataplane_peer_set(data, subnet, attrs);
}

static void on_peer_updated(void *data, const struct ip4_net *subnet,
			    const struct lease_attrs *attrs)
{
	log_peer("updated", subnet, attrs);
	dataplane_peer_set(data, subnet, attrs);
}

static void on_peer_removed(void *data, const struct ip4_net *subnet)
{
	log_peer("removed", subnet, NULL);
	dataplane_peer_del(data, subnet);
}

static void on_peers_synced(void *data)
{
	dataplane_peers_synced(data);
}

static void on_fatal(void *data, int err, const char *why)
{
	struct weftd *d = data;

	log_err("%s", why);
	loop_stop(d->loop, 1);
}

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
	return resolve_underlay(d);
}

/* The subnet of the previous run's subnet.env, to be preferred. */
static bool previous_subnet(const char *path, struct ip4_net *out)
{
	struct subnet_env env;
	char err[128];

	if (subnetenv_read(path, &env, err, sizeof(err)) < 0)
		return false;
	*out = ip4_net_canonical(&env.subnet);
	return true;
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
	};
	struct leasemgr_config lc = {
		.prefix = o->etcd_prefix,
		.public_ip = d->public_ip,
		.ttl_s = (int64_t)o->lease_ttl,
		.net_config = d->net_config,
	};
	static const struct leasemgr_ops ops = {
		.on_config = on_config,
		.on_lease_acquired = on_lease_acquired,
		.on_lease_lost = on_lease_lost,
		.on_peer_added = on_peer_added,
		.on_peer_updated = on_peer_updated,
		.on_peer_removed = on_peer_removed,
		.on_peers_synced = on_peers_synced,
		.on_fatal = on_fatal,
	};
	int ret;

	lc.has_prev_subnet = previous_subnet(o->subnet_file, &lc.prev_subnet);
	ret = etcd_client_new(d->loop, &ec, &d->etcd);
	if (ret < 0) {
		log_err("cannot create the etcd client: %s", strerror(-ret));
		return ret;
	}
	ret = leasemgr_new(d->etcd, &lc, &ops, d, &d->lm);
	if (ret < 0)
		log_err("cannot create the lease manager: %s", strerror(-ret));
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

/* The data plane, then the fds and timers that feed it. */
static int data_plane_start(struct weftd *d)
{
	const struct weftd_options *o = &d->opt;
	int ret;

	ret = dp_new(&(struct dp_config){.loop = d->loop,
					 .lm = d->lm,
					 .health_addr = o->health_addr,
					 .subnet_file = o->subnet_file,
					 .ip_masq = o->ip_masq,
					 .iface = d->iface,
					 .public_ip = d->public_ip,
					 .underlay_mtu = d->underlay_mtu,
					 .device_ready = write_subnet_env,
					 .node_ready = on_node_ready,
					 .data = d},
		     &d->dp);
	if (ret >= 0)
		ret = loop_add_timer(d->loop, write_subnet_env, d, &d->t_subnet_env);
	if (ret >= 0)
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
		ret = lease_plane_new(d);
	if (ret >= 0)
		ret = data_plane_start(d);
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
	dp_free(d->dp);
	cnifiles_free(d->cni);
	loop_timer_free(d->t_subnet_env);
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
