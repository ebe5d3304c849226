/* Kernel side of an attachment: bridge with the gateway address, a veth
 * pair whose pod end is created straight inside the pod's namespace, the
 * pod's address, routes and loopback. All through the netlink layer. */
#ifndef WEFT_CNI_ATTACH_H
#define WEFT_CNI_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include <net/if.h>
#include <netinet/in.h>

#include "cni-delegate/cni.h"
#include "common/ip4.h"

struct attach_spec {
	const char *bridge;
	const char *host_veth; /* cni_host_veth_name() */
	const char *alias;     /* cni_host_veth_alias() */
	const char *ifname;    /* pod side */
	int netns_fd;	       /* pod namespace */
	unsigned mtu;
	bool hairpin;
	struct ip4_net addr; /* pod address with the subnet's prefix */
	uint32_t gateway;    /* host byte order; also the bridge's address */
	bool default_gw;     /* else a route to `overlay` only */
	struct ip4_net overlay;
	bool v6_only; /* no IPv4 address at all (addr, gateway, overlay unused) */
	bool has_v6;  /* the fields below are set */
	struct in6_addr addr6, gateway6, overlay6;
	uint8_t prefix6, overlay6_prefix;
};

struct attach_macs {
	uint8_t bridge[6];
	uint8_t host[6];
	uint8_t pod[6];
};

/* Sets everything up. On failure nothing this call created remains (the
 * bridge, shared by every pod, stays) and e says why. */
int attach_add(const struct attach_spec *s, struct attach_macs *macs, struct cni_err *e);
/* Removes the host veth (and with it the pod end). Absent is success; a
 * veth of that name that belongs to another attachment is left alone. */
int attach_del(const char *host_veth, const char *alias, struct cni_err *e);
/* Verifies what ADD made: host veth on the bridge, pod interface with the
 * address(es) and every route listed in routes (gateway 0 / NULL = any). */
struct attach_route {
	struct ip4_net dst;
	uint32_t gw;
	bool v6; /* dst6/len6/gw6 instead */
	bool has_gw6;
	struct in6_addr dst6, gw6;
	uint8_t len6;
};
int attach_check(const struct attach_spec *s, const struct attach_route *routes, unsigned n_routes,
		 struct cni_err *e);
/* GC: deletes host veths on `bridge` carrying a weft alias, named as ADD
 * names them for that alias, for which keep(id, ifname) is false. Goes on after errors; returns the first. */
int attach_gc(const char *bridge, bool (*keep)(const char *id, const char *ifname, void *data),
	      void *data, unsigned *deleted, struct cni_err *e);

/* Opens a namespace path and checks it is a network namespace other than
 * our own. -EEXIST when it is ours, -EINVAL when it is not a netns (a FIFO
 * included, without blocking), else open's -errno (-ELOOP: a link loop). */
int attach_open_netns(const char *path, int *fd);

#endif
