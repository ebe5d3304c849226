/* weft CNI plugin: verb dispatch. Exit 0 with the result (ADD) or nothing;
 * exit 1 with the CNI error object on stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cni-delegate/attach.h"
#include "cni-delegate/cni.h"
#include "cni-delegate/ipam.h"
#include "cni-delegate/result.h"
#include "common/log.h"
#include "common/util.h"
#include "common/vec.h"
#include "subnet/subnetenv.h"

#define STDIN_MAX	(1 << 20)
#define LOCK_TIMEOUT_MS 10000

static int read_stdin(char **out, size_t *len)
{
	int ret = fd_read_all(STDIN_FILENO, STDIN_MAX, out, len);

	/* No stdin at all (closed descriptor) reads as empty. */
	if (ret == -EBADF) {
		*out = strdup("");
		*len = 0;
		ret = *out ? 0 : -ENOMEM;
	}
	return ret;
}

static int open_pod_netns(const struct cni_req *req, int *fd, struct cni_err *e)
{
	int ret = attach_open_netns(req->netns, fd);

	if (ret == -EEXIST)
		return cni_fail(e, CNI_ERR_ENV, NULL,
				"CNI_NETNS %s is the plugin's own namespace, not a pod's",
				req->netns);
	if (ret == -EINVAL)
		return cni_fail(e, CNI_ERR_ENV, NULL, "CNI_NETNS %s is not a network namespace",
				req->netns);
	if (ret)
		return cni_fail(e, CNI_ERR_ENV, strerror(-ret),
				"CNI_NETNS %s is not a usable network namespace", req->netns);
	return 0;
}

static int read_subnet(const struct cni_req *req, struct subnet_env *env, struct cni_err *e)
{
	char err[256] = "";
	int ret = subnetenv_read(req->subnet_file, env, err, sizeof(err));

	if (ret == -ENOENT)
		return cni_fail(e, CNI_ERR_TRY_LATER, NULL,
				"%s missing: weftd has not set up this node yet", req->subnet_file);
	if (ret == -EINVAL)
		return cni_fail(e, CNI_ERR_CONFIG, err, "malformed %s", req->subnet_file);
	if (ret)
		return cni_fail(e, CNI_ERR_INTERNAL, err, "reading %s", req->subnet_file);
	if (!env->v6_only && env->subnet.prefix > 30)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "subnet in %s is smaller than a /30",
				req->subnet_file);
	if (env->has_v6 && env->subnet6.len > 126)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "IPv6 subnet in %s is smaller than a /126",
				req->subnet_file);
	return 0;
}

static int store_fail(struct cni_err *e, int err, const char *what, const struct cni_req *req)
{
	if (err == -ETIMEDOUT)
		return cni_fail(e, CNI_ERR_TRY_LATER, NULL,
				"address store of network %s is locked by someone else", req->name);
	/* ipam.c's -EINVAL: a store file that is a FIFO, device or extra hard link */
	return cni_fail(e, CNI_ERR_INTERNAL,
			err == -EINVAL ? "a store file is not a regular file of its own"
				       : strerror(-err),
			"%s (store %s/%s)", what, req->data_dir, req->name);
}

static void fill_spec(const struct cni_req *req, struct attach_spec *sp, char *veth, char *alias,
		      size_t alias_len)
{
	cni_host_veth_name(req->container_id, req->ifname, veth);
	cni_host_veth_alias(req->container_id, req->ifname, alias, alias_len);
	sp->bridge = req->bridge;
	sp->host_veth = veth;
	sp->alias = alias;
	sp->ifname = req->ifname;
	sp->hairpin = req->hairpin;
	sp->default_gw = req->default_gw;
	sp->netns_fd = -1;
}

/* The pod's gateways and networks from subnet.env, per family. */
static void fill_nets(const struct subnet_env *env, struct attach_spec *sp)
{
	struct ip4_net sub = ip4_net_canonical(&env->subnet);

	sp->v6_only = env->v6_only;
	if (!env->v6_only) {
		sp->gateway = sub.addr + 1;
		sp->addr.prefix = sub.prefix;
		sp->overlay = env->network;
	}
	sp->has_v6 = env->has_v6;
	if (env->has_v6) {
		struct ip6_net sub6 = ip6_net_canonical(&env->subnet6);
		struct ip6_net net6 = ip6_net_canonical(&env->network6);

		sp->gateway6 = sub6.addr;
		sp->gateway6.s6_addr[15]++; /* a /126 or wider: no carry */
		sp->prefix6 = sub6.len;
		sp->overlay6 = net6.addr;
		sp->overlay6_prefix = net6.len;
	}
}

static int full_fail(struct cni_err *e, const struct attach_spec *sp, bool v6)
{
	char s[IP6_NET_STRLEN];

	if (v6) {
		struct ip6_net n = {sp->gateway6, sp->prefix6};

		n = ip6_net_canonical(&n);
		ip6_format_net(&n, s);
	} else {
		struct ip4_net n =
			ip4_net_canonical(&(struct ip4_net){sp->gateway, sp->addr.prefix});

		ip4_format_net(&n, s);
	}
	return cni_fail(e, CNI_ERR_TRY_LATER, NULL, "no free address left in %s", s);
}

/* One address per family under one lock hold, all or nothing. */
static int reserve_all(struct cni_req *req, struct ipam *st, struct attach_spec *sp,
		       struct cni_err *e)
{
	struct ipam_ranges r = {.has_v4 = !sp->v6_only,
				.has_v6 = sp->has_v6,
				.sub4 = {sp->gateway, sp->addr.prefix},
				.gw4 = sp->gateway,
				.gw6 = sp->gateway6,
				.prefix6 = sp->prefix6};
	int ret;

	r.sub4 = ip4_net_canonical(&r.sub4);
	ret = ipam_open(st, req->data_dir, req->name, true);
	if (!ret)
		ret = ipam_lock(st, LOCK_TIMEOUT_MS);
	if (ret)
		return store_fail(e, ret, "opening the address store", req);
	ret = ipam_reserve_all(st, &r, req->container_id, req->ifname);
	ipam_unlock(st);
	if (ret == -ENOSPC)
		return full_fail(e, sp, r.failed_v6);
	if (ret)
		return store_fail(e, ret, "reserving an address", req);
	sp->addr.addr = r.addr4;
	sp->addr6 = r.addr6;
	return 0;
}

static int cmd_add(struct cni_req *req, struct cni_err *e)
{
	char veth[IFNAMSIZ], alias[CNI_MAX_ID + IFNAMSIZ + 8];
	struct attach_spec sp = {0};
	struct attach_macs macs;
	struct subnet_env env;
	struct ipam st = {-1, -1};
	int ret;

	fill_spec(req, &sp, veth, alias, sizeof(alias));
	if (open_pod_netns(req, &sp.netns_fd, e) || read_subnet(req, &env, e))
		goto err;
	sp.mtu = req->mtu ? req->mtu : env.mtu;
	fill_nets(&env, &sp);
	if (reserve_all(req, &st, &sp, e))
		goto err;

	if (attach_add(&sp, &macs, e))
		goto err_release;
	ret = result_print_add(req, &sp, &macs);
	if (ret) {
		cni_fail(e, CNI_ERR_INTERNAL, NULL, "writing the result: %s", strerror(-ret));
		attach_del(veth, alias, &(struct cni_err){0});
		goto err_release;
	}
	close(sp.netns_fd);
	ipam_close(&st);
	return 0;

err_release:
	/* Undo the reservations; if the lock is out of reach the id-keyed
	 * DEL the runtime sends after a failed ADD still frees them. */
	if (ipam_lock(&st, LOCK_TIMEOUT_MS) == 0) {
		if (!sp.v6_only)
			ipam_release_addr(&st, sp.addr.addr, req->container_id, req->ifname);
		if (sp.has_v6)
			ipam_release_addr6(&st, &sp.addr6, req->container_id, req->ifname);
		ipam_unlock(&st);
	}
err:
	if (sp.netns_fd >= 0)
		close(sp.netns_fd);
	ipam_close(&st);
	return -1;
}

static int cmd_del(struct cni_req *req, struct cni_err *e)
{
	char veth[IFNAMSIZ], alias[CNI_MAX_ID + IFNAMSIZ + 8];
	struct attach_spec sp = {0};
	struct ipam st = {-1, -1};
	struct ipam_found *found = NULL;
	unsigned released;
	int ret;

	fill_spec(req, &sp, veth, alias, sizeof(alias));
	/* Works without the netns and without subnet.env: the host veth name
	 * and the store path come from the attachment and the config. */
	if (attach_del(veth, alias, e))
		return -1;
	ret = ipam_open(&st, req->data_dir, req->name, false);
	if (ret == -ENOENT)
		return 0;
	/* The walk reads every reservation: done before taking the lock, so
	 * many DELs at once do not queue behind each other's reads. */
	if (!ret)
		ret = ipam_release_find(&st, req->container_id, req->ifname, &found);
	if (!ret && ipam_release_count(found))
		ret = ipam_lock(&st, LOCK_TIMEOUT_MS);
	if (!ret && ipam_release_count(found))
		ret = ipam_release_found(&st, found, &released);
	free(found);
	ipam_close(&st);
	if (ret)
		return store_fail(e, ret, "releasing the address", req);
	return 0;
}

static int cmd_check(struct cni_req *req, struct cni_err *e)
{
	char veth[IFNAMSIZ], alias[CNI_MAX_ID + IFNAMSIZ + 8], a[IP6_NET_STRLEN];
	struct attach_spec sp = {0};
	struct ipam st = {-1, -1};
	struct prev_result prev;
	int ret = -1;

	fill_spec(req, &sp, veth, alias, sizeof(alias));
	if (!req->prev_result)
		return cni_fail(e, CNI_ERR_CONFIG, NULL, "CHECK needs prevResult");
	if (result_parse_prev(req->prev_result, req->ifname, &prev, e))
		return -1;
	if (open_pod_netns(req, &sp.netns_fd, e))
		return -1;
	sp.addr = prev.addr;
	sp.gateway = prev.gateway;
	sp.v6_only = !prev.has_v4;
	sp.has_v6 = prev.has_v6;
	sp.addr6 = prev.addr6.addr;
	sp.prefix6 = prev.addr6.len;
	if (attach_check(&sp, prev.routes, prev.n_routes, e))
		goto out;
	if (prev.has_v4)
		ip4_format_net(&prev.addr, a);
	else
		ip6_format_net(&prev.addr6, a);
	if (ipam_open(&st, req->data_dir, req->name, false) ||
	    (prev.has_v4 && !ipam_owns(&st, prev.addr.addr, req->container_id, req->ifname))) {
		cni_fail(e, CNI_ERR_INTERNAL, NULL,
			 "address %s is not reserved for this attachment", a);
		goto out;
	}
	if (prev.has_v6 && !ipam_owns6(&st, &prev.addr6.addr, req->container_id, req->ifname)) {
		ip6_format_net(&prev.addr6, a);
		cni_fail(e, CNI_ERR_INTERNAL, NULL,
			 "address %s is not reserved for this attachment", a);
		goto out;
	}
	ret = 0;
out:
	ipam_close(&st);
	close(sp.netns_fd);
	return ret;
}

/* GC's list of attachments that stay. */
static bool gc_keep(const char *id, const char *ifname, void *data)
{
	json_t *list = data, *v;
	size_t i;

	json_array_foreach(list, i, v)
	{
		const char *cid = json_string_value(json_object_get(v, "containerID"));
		const char *ifn = json_string_value(json_object_get(v, "ifname"));

		if (cid && !strcmp(cid, id) && (!ifn || !*ifname || !strcmp(ifn, ifname)))
			return true;
	}
	return false;
}

struct gc_store {
	json_t *list;
	uint32_t *drop;
	size_t n, cap;
};

struct gc_store6 {
	json_t *list;
	struct ipam *st;
	int err;
};

/* Only reservations that name an attachment the way ADD writes them are
 * provably one; anything else in the store is left alone. An empty one is
 * an ADD killed between creating and writing it (GC holds the store lock:
 * no ADD is writing now), so it goes too. */
static bool gc_stale(const char *id, const char *ifname, json_t *list)
{
	if (!*id && !*ifname)
		return true;
	if (!cni_valid_id(id) || (*ifname && !cni_valid_ifname(ifname)))
		return false;
	return !gc_keep(id, ifname, list);
}

/* IPv6 reservations go at once: unlinking what readdir already returned
 * is safe, and the IPv4 list below keeps its shape. */
static int gc_store6_cb(const struct in6_addr *addr, const char *id, const char *ifname, void *data)
{
	struct gc_store6 *g = data;
	int ret;

	if (!gc_stale(id, ifname, g->list))
		return 0;
	ret = ipam_drop6(g->st, addr);
	if (ret && !g->err)
		g->err = ret;
	return 0;
}

static int gc_store_cb(uint32_t addr, const char *id, const char *ifname, void *data)
{
	struct gc_store *g = data;

	if (!gc_stale(id, ifname, g->list))
		return 0;
	if (VEC_RESERVE(g->drop, g->cap, g->n + 1, 64) < 0)
		return -ENOMEM;
	g->drop[g->n++] = addr;
	return 0;
}

static int cmd_gc(struct cni_req *req, struct cni_err *e)
{
	struct gc_store *g;
	struct ipam st = {-1, -1};
	unsigned deleted;
	int ret, failed = 0;

	g = calloc(1, sizeof(*g));
	if (!g)
		return cni_fail(e, CNI_ERR_INTERNAL, NULL, "out of memory");
	g->list = req->valid_attach;
	/* Host veths first: a veth without a reservation is harmless, the
	 * reverse would hand out an address still in use. */
	if (attach_gc(req->bridge, gc_keep, req->valid_attach, &deleted, e))
		failed = -1;
	ret = ipam_open(&st, req->data_dir, req->name, false);
	if (ret == -ENOENT)
		goto out;
	if (!ret)
		ret = ipam_lock(&st, LOCK_TIMEOUT_MS);
	if (!ret)
		ret = ipam_walk(&st, gc_store_cb, g);
	for (size_t i = 0; !ret && i < g->n; i++) {
		int r = ipam_drop(&st, g->drop[i]);

		if (r && !failed)
			failed = store_fail(e, r, "releasing a stale address", req);
	}
	if (!ret) {
		struct gc_store6 g6 = {req->valid_attach, &st, 0};

		ret = ipam_walk6(&st, gc_store6_cb, &g6);
		if (g6.err && !failed)
			failed = store_fail(e, g6.err, "releasing a stale IPv6 address", req);
	}
	if (ret && !failed)
		failed = store_fail(e, ret, "walking the address store", req);
out:
	ipam_close(&st);
	free(g->drop);
	free(g);
	return failed;
}

/* Only a small IPv6 subnet can fill up: network, gateway and the rest. */
static bool v6_full(struct ipam *st, const struct subnet_env *env)
{
	unsigned used;

	if (env->subnet6.len > 126)
		return true;
	if (env->subnet6.len < 100 || ipam_count6(st, &used))
		return false;
	return used >= (1u << (128 - env->subnet6.len)) - 2;
}

static int cmd_status(struct cni_req *req, struct cni_err *e)
{
	struct subnet_env env;
	struct ipam st = {-1, -1};
	struct ip4_net sub;
	unsigned used = 0;
	char err[256] = "";
	int ret;

	ret = subnetenv_read(req->subnet_file, &env, err, sizeof(err));
	if (ret)
		return cni_fail(e, CNI_ERR_NOT_AVAILABLE, ret == -ENOENT ? NULL : err,
				"%s %s: weftd has not set up this node", req->subnet_file,
				ret == -ENOENT ? "missing" : "unusable");
	sub = ip4_net_canonical(&env.subnet);
	if (ipam_open(&st, req->data_dir, req->name, false) == 0 &&
	    ((!env.v6_only && ipam_count(&st, &used) == 0 && sub.prefix <= 30 &&
	      used >= ip4_net_size(&sub) - 3) ||
	     (env.has_v6 && v6_full(&st, &env)))) {
		ipam_close(&st);
		return cni_fail(e, CNI_ERR_NOT_AVAILABLE, NULL,
				"no free address left in the subnet");
	}
	ipam_close(&st);
	return 0;
}

int main(void)
{
	struct cni_req req;
	struct cni_err e = {0};
	char *in = NULL;
	size_t len = 0;
	int ret;

	log_init("weft");
	/* A fixed hash seed spares a read of /dev/urandom per exec; the input
	 * comes from the runtime, not from an adversary. */
	json_object_seed(0x77656674);
	ret = read_stdin(&in, &len);
	if (ret) {
		memset(&req, 0, sizeof(req));
		cni_fail(&e, 5, strerror(-ret), "reading stdin");
		goto fail;
	}
	ret = cni_req_parse(&req, in, len, &e);
	if (ret)
		goto fail;
	switch (req.cmd) {
	case CMD_VERSION:
		result_print_version(req.version_str);
		break;
	case CMD_ADD:
		ret = cmd_add(&req, &e);
		break;
	case CMD_DEL:
		ret = cmd_del(&req, &e);
		break;
	case CMD_CHECK:
		ret = cmd_check(&req, &e);
		break;
	case CMD_GC:
		ret = cmd_gc(&req, &e);
		break;
	case CMD_STATUS:
		ret = cmd_status(&req, &e);
		break;
	}
	if (ret)
		goto fail;
	cni_req_free(&req);
	free(in);
	return 0;

fail:
	result_print_error(&req, &e);
	cni_req_free(&req);
	free(in);
	return 1;
}
