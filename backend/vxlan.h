/* VXLAN backend: one instance per address family. The device weft.<VNI>
 * (IPv4) or weft-v6.<VNI> (IPv6: IPv6 underlay, IPv6 pod subnets) and, per peer, a neighbour entry, an
 * FDB entry and a route (or one direct route with DirectRouting for an
 * on-link peer).
 *
 * The peer set given here is the desired state. Two ways bring the kernel
 * to it:
 *   vxlan_flush      applies the peers changed since the last call, in one
 *                    netlink batch, without reading the kernel back;
 *   vxlan_reconcile  dumps the kernel (device, neighbours, FDB, routes
 *                    of the main table), diffs, adds what is missing,
 *                    replaces what differs and removes what weft owns but no
 *                    longer wants. It recreates a missing device first.
 * Routes are weft's when tagged with VXLAN_RTPROT; weft never replaces or
 * deletes another route: a new route is created exclusively, and a peer
 * whose destination holds a route of another protocol gets no route (it is
 * counted as blocked) until that route goes.
 * Removal of unknown entries waits for vxlan_peers_synced(): until the first
 * complete peer list is known, everything found in the kernel may still be
 * wanted, so a restart never drops traffic.
 *
 * The event socket (vxlan_event_fd) reports link, neighbour and route
 * changes; vxlan_handle_events() flags a reconcile only when a change
 * touches what weft wants or owns, so weft's own writes do not loop. */
#ifndef WEFT_VXLAN_H
#define WEFT_VXLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ip4.h"
#include "common/ip6.h"

/* rtm_protocol of every route weft installs: how it finds its own. */
#define VXLAN_RTPROT 87
/* The outer IPv4 + UDP + VXLAN + inner Ethernet headers. */
#define VXLAN_OVERHEAD 50
/* The same with an outer IPv6 header. */
#define VXLAN6_OVERHEAD 70

struct vxlan;

/* family AF_INET6 uses public_ip6 and subnet6 instead of public_ip, subnet
 * and underlay (no DirectRouting); 0 means AF_INET. */
struct vxlan_conf {
	int family;
	uint32_t vni;
	uint16_t port;		 /* UDP destination port */
	uint32_t public_ip;	 /* local VTEP address, host byte order */
	int underlay_ifindex;	 /* 0: let the kernel route */
	struct ip4_net underlay; /* on-link underlay network (DirectRouting); prefix 0: none */
	unsigned mtu;		 /* device MTU (underlay MTU - VXLAN_OVERHEAD) */
	struct ip4_net subnet;	 /* this node's lease */
	uint8_t mac[6];		 /* this node's VTEP MAC */
	bool direct_routing;
	struct in6_addr public_ip6;
	struct ip6_net subnet6; /* canonical */
};

/* An IPv6 instance's peers fill subnet6 and public_ip6 instead. */
struct vxlan_peer {
	struct ip4_net subnet; /* canonical */
	uint32_t public_ip;    /* host byte order */
	uint8_t vtep_mac[6];
	struct ip6_net subnet6; /* canonical */
	struct in6_addr public_ip6;
};

struct vxlan_stats {
	unsigned peers;	 /* desired */
	unsigned neighs; /* programmed, as far as weft knows */
	unsigned fdbs;
	unsigned routes;
	unsigned routes_blocked; /* a route weft does not own is in the way */
	uint64_t reconcile_runs;
	uint64_t reconcile_fixes;  /* kernel objects reconcile had to change */
	uint64_t flush_writes;	   /* kernel object writes by vxlan_flush */
	uint64_t netlink_errors;   /* failed requests */
	uint64_t device_creations; /* includes the first one */
	uint64_t event_overflows;
	uint64_t routes_blocked_total; /* times a peer's route was found blocked */
};

/* Opens the netlink sockets in the caller's namespace; does not touch the
 * kernel yet. -EINVAL for a bad conf. */
int vxlan_new(const struct vxlan_conf *conf, struct vxlan **out);
void vxlan_free(struct vxlan *v);

/* Creates weft.<VNI> (weft-v6.<VNI>) or adopts a compatible one (recreates
 * an incompatible one), sets MTU, MAC, address <subnet network>/32 (/128,
 * without duplicate address detection) and brings it up. */
int vxlan_ensure_device(struct vxlan *v);
/* The device's name and index (0 before vxlan_ensure_device). */
const char *vxlan_ifname(const struct vxlan *v);
int vxlan_ifindex(const struct vxlan *v);

/* Desired state. set adds or updates a peer (its own subnet is ignored);
 * del removes it. Both only record; vxlan_flush applies. */
int vxlan_peer_set(struct vxlan *v, const struct vxlan_peer *p);
int vxlan_peer_del(struct vxlan *v, const struct ip4_net *subnet);
int vxlan_peer_del6(struct vxlan *v, const struct ip6_net *subnet);
/* The peer list is complete: reconcile may now prune. */
void vxlan_peers_synced(struct vxlan *v);

/* Applies pending peer changes in one batch. Failures flag a reconcile;
 * returns the first error. */
int vxlan_flush(struct vxlan *v);
/* Full dump, diff and repair (see above). */
int vxlan_reconcile(struct vxlan *v);
/* True when events or failures asked for a reconcile. */
bool vxlan_reconcile_wanted(const struct vxlan *v);

int vxlan_event_fd(const struct vxlan *v);
/* Reads all pending events. 0, or -errno of the socket. */
int vxlan_handle_events(struct vxlan *v);

void vxlan_get_stats(const struct vxlan *v, struct vxlan_stats *out);
/* Up to max peers whose route a route weft does not own keeps out (their
 * subnet fields are set); returns how many such peers there are. */
unsigned vxlan_blocked(const struct vxlan *v, struct vxlan_peer *out, unsigned max);
/* The instance's family: AF_INET or AF_INET6. */
int vxlan_family(const struct vxlan *v);

#endif
