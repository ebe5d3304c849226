/* VXLAN backend internals shared by its files: the peer table
 * (vxlan_peer.c), desired objects and their match predicates
 * (vxlan_want.c), netlink ops (vxlan_ops.c), the device (vxlan_dev.c)
 * and flush, reconcile and the event filter (vxlan_sync.c). */
#ifndef WEFT_BACKEND_VXLAN_INT_H
#define WEFT_BACKEND_VXLAN_INT_H

#include <net/if.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/nl.h"
#include "backend/nl_addr.h"
#include "backend/nl_link.h"
#include "backend/nl_neigh.h"
#include "backend/nl_route.h"
#include "backend/vxlan.h"

/* A peer's kernel objects, as flags of struct peer's ok and seen. */
enum {
	OBJ_NEIGH = 1u << 0,
	OBJ_FDB = 1u << 1,
	OBJ_ROUTE = 1u << 2,
	/* Reconcile scratch only: an own route that differs, a foreign one. */
	OBJ_OWN_ROUTE = 1u << 3,
	OBJ_FOREIGN = 1u << 4,
};

/* A peer's subnet in either family: the address as 16 bytes (IPv4
 * mapped into ::ffff:0:0/96) and its length. Identity of a peer. */
struct pkey {
	struct in6_addr a;
	uint8_t len;
};

struct peer {
	struct peer *next;	 /* by subnet address */
	struct peer *mac_next;	 /* by VTEP MAC */
	struct peer *dirty_next; /* pending for vxlan_flush */
	struct vxlan_peer want;
	struct pkey key; /* of want */
	bool wanted;	 /* false: removal pending */
	bool dirty;
	bool direct; /* desired: one direct route instead of VXLAN */
	/* What is programmed, as far as weft knows. */
	bool has_applied;
	struct vxlan_peer applied;
	bool applied_direct;
	unsigned ok; /* OBJ_NEIGH | OBJ_FDB | OBJ_ROUTE in place */
	/* A route weft does not own holds the destination: ours stays out. */
	bool route_blocked;
	unsigned seen; /* reconcile scratch: OBJ_* found by a dump */
};

struct vxlan {
	struct vxlan_conf conf; /* family set: AF_INET or AF_INET6 */
	char ifname[IFNAMSIZ];
	int ifindex;
	struct nl_sock *req, *dump, *ev;
	struct peer **by_subnet, **by_mac;
	unsigned nbuckets;
	unsigned nentries; /* wanted or pending removal */
	unsigned npeers;   /* wanted */
	struct peer *dirty;
	bool synced;
	bool want_reconcile;
	bool want_device;
	struct vxlan_stats st;
};

enum op_kind {
	OP_ROUTE_DEL,
	OP_NEIGH_SET,
	OP_FDB_SET,
	OP_ROUTE_SET,
	OP_NEIGH_DEL,
	OP_FDB_DEL,
	OP_KINDS,
};

struct op {
	uint8_t kind;
	bool failed;
	bool replace; /* OP_ROUTE_SET: the route in place is weft's own */
	int err;
	size_t orig;	/* a retry: index of the op it retries */
	struct peer *p; /* NULL for entries no peer wants */
	union {
		struct nl_neigh n;
		struct nl_route r;
	} u;
};

struct opvec {
	struct op *v;
	size_t n, cap;
};

static inline void flag_set(unsigned *f, unsigned bit, bool on)
{
	*f = on ? *f | bit : *f & ~bit;
}

static inline bool is6(const struct vxlan *v)
{
	return v->conf.family == AF_INET6;
}

/* Same remote VTEP (the other family's field is zero in both). */
static inline bool vtep_equal(const struct vxlan_peer *a, const struct vxlan_peer *b)
{
	return a->public_ip == b->public_ip && ip6_addr_equal(&a->public_ip6, &b->public_ip6);
}

/* vxlan_peer.c */
int table_grow(struct vxlan *v);
struct peer *peer_find(const struct vxlan *v, const struct in6_addr *key);
void peer_unlink_free(struct vxlan *v, struct peer *p);
void mark_dirty(struct vxlan *v, struct peer *p);
void peer_applied(struct peer *p);

/* vxlan_want.c: what weft programs, and ONE test per kind of whether a
 * kernel object is that; the family-specific spots live there. */
struct pkey key_of(const struct vxlan *v, const struct vxlan_peer *p);
struct in6_addr key_addr(bool v6, uint32_t be, const struct in6_addr *a6);
void want_neigh(const struct vxlan *v, const struct vxlan_peer *p, struct nl_neigh *n);
void want_fdb(const struct vxlan *v, const struct vxlan_peer *p, struct nl_neigh *n);
void want_route(const struct vxlan *v, const struct vxlan_peer *p, bool direct, struct nl_route *r);
bool neigh_matches(const struct peer *p, const struct nl_neigh *n);
bool fdb_matches(const struct peer *p, const struct nl_neigh *n);
bool route_matches(const struct vxlan *v, const struct peer *p, const struct nl_route *r);
bool device_compatible(const struct vxlan *v, const struct nl_link *l);
bool device_settled(const struct vxlan *v, const struct nl_link *l);
bool addr_matches(const struct vxlan *v, const struct nl_addr *a);
/* The kernel's own IPv6 link-local address: not weft's to judge. */
bool addr_kernels(const struct nl_addr *a);
struct peer *neigh_peer(const struct vxlan *v, const struct nl_neigh *n);
struct peer *fdb_peer(const struct vxlan *v, const struct nl_neigh *n);
struct peer *route_peer(const struct vxlan *v, const struct nl_route *r);

/* vxlan_ops.c */
struct op *op_add(struct opvec *o, enum op_kind kind, struct peer *p);
int ops_send(struct vxlan *v, struct opvec *ops, unsigned *failed);
void ops_account(struct vxlan *v, const struct opvec *ops, unsigned failed);

/* vxlan_dev.c */
bool device_ok(struct vxlan *v);

#endif
