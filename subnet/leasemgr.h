/* Lease manager: the node's subnet lease in etcd and the set of peer leases.
 *
 * Flow: read <prefix>/config (creating it first from a given JSON if absent),
 * list <prefix>/subnets/ at revision R and watch from R+1, then acquire:
 * reuse the lease carrying our PublicIP, else the preferred subnet (the one
 * of the old subnet.env), else a random free one, created with a
 * create-if-absent txn; a lost race picks another subnet. Keys without an
 * etcd lease are reservations: honoured, never given a TTL. The lease is
 * renewed with keepalive only, so a renewal wakes no peer. Losing the lease
 * or the key re-acquires, preferring the same subnet. The listing is
 * paginated (etcd_list.h). Whenever the watch ends (break, compaction, a
 * message over the size limit, a revision going back) the manager re-lists
 * and diffs against what it reported, then watches from the listing's
 * revision + 1: a replay is never needed, and an etcd restored from an
 * older snapshot (same cluster ID, revisions reused) is seen for what it
 * holds.
 *
 * The state machines and the store they run on are described in
 * leasemgr.c. The backend follows through callbacks, all run from the
 * store's dispatch. Peers are reported only once a lease is held and only when
 * they pass the acceptance rules (peer_accept.h), so they never overlap
 * the own subnet or each other:
 *   on_lease_acquired   own subnet (again after a re-acquire)
 *   on_peer_added / on_peer_updated / on_peer_removed
 *   on_peers_synced     a complete listing was applied: stale state may go
 *
 * Dual stack and IPv6 only (a config with EnableIPv6, loaded only when
 * leasemgr_config.allow_ipv6 is set): the own lease is one key naming the
 * subnet of each family the config enables (lease_key_format_any), both
 * drawn, reused and created together in one create-if-absent txn, never
 * one without the other. A node without a PublicIPv6 in a dual-stack
 * network leases IPv4 alone (with a warning; IPv6 only: fatal). Peers are
 * keys of any form judged as a whole set (peer_accept_set_any): a key must
 * name a non-empty subset of the config's families, and an accepted peer
 * has a subnet and an address of each family its key names. Callbacks and peers carry the key's subnets (struct lease_key);
 * in an IPv4-only config they are IPv4 only and behave as before.
 */
#ifndef WEFT_LEASEMGR_H
#define WEFT_LEASEMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip4.h"
#include "subnet/lease.h"
#include "subnet/netconf.h"
#include "subnet/peer_accept.h"

struct etcd_client;
struct kv;
struct leasemgr;

/* A peer view lagging etcd for longer than this makes the node not ready. */
#define LEASEMGR_STALE_MS 20000

struct leasemgr_ops {
	/* The network config was read and validated (once). */
	void (*on_config)(void *data, const struct netconf *nc);
	/* key: the subnets of the own lease; attrs: the value published
	 * (PublicIPv6 and BackendV6Data set when IPv6 is on). */
	void (*on_lease_acquired)(void *data, const struct lease_key *key,
				  const struct lease_attrs *attrs);
	/* The own lease or key vanished; a re-acquire is under way. */
	void (*on_lease_lost)(void *data, const struct lease_key *key);
	/* key: the peer's subnets (its identity); attrs: its decoded value. */
	void (*on_peer_added)(void *data, const struct lease_key *key,
			      const struct lease_attrs *attrs);
	void (*on_peer_updated)(void *data, const struct lease_key *key,
				const struct lease_attrs *attrs);
	void (*on_peer_removed)(void *data, const struct lease_key *key);
	void (*on_peers_synced)(void *data);
	/* Nothing can be retried (e.g. TLS rejected); the daemon should exit. */
	void (*on_fatal)(void *data, int err, const char *why);
};

struct leasemgr_config {
	const char *prefix;	/* e.g. /coreos.com/network, no trailing '/' */
	uint32_t public_ip;	/* host byte order */
	int64_t ttl_s;		/* etcd lease TTL */
	const char *net_config; /* JSON put at <prefix>/config if absent, or NULL */
	bool has_prev_subnet;	/* prev_subnet from the old subnet.env */
	struct ip4_net prev_subnet;
	/* IPv6: configs with EnableIPv6 are refused unless allow_ipv6. The
	 * node's PublicIPv6 (without it: an IPv4-only lease, or fatal in an
	 * IPv6-only network) and FLANNEL_IPV6_SUBNET of the old subnet.env. */
	bool allow_ipv6;
	bool has_public_ipv6;
	struct in6_addr public_ipv6;
	bool has_prev_subnet6;
	struct ip6_net prev_subnet6;
	/* What the backend publishes in the own lease: BackendType, and the
	 * BackendData (VNI, VtepMAC) that backend_data fills for the network
	 * config once it is loaded (called with the ops' data; NULL: none). A
	 * negative return is fatal. The lease layer knows no backend. */
	const char *backend_type;
	int (*backend_data)(void *data, const struct netconf *nc, struct lease_attrs *attrs);
};

struct leasemgr_peer {
	struct ip4_net subnet; /* key.v4; all zero without IPv4 */
	struct lease_attrs attrs;
	struct lease_key key;
};

/* Read by the metrics endpoint. Times are CLOCK_REALTIME milliseconds. */
struct leasemgr_status {
	bool config_loaded;
	bool lease_held;
	bool reservation;      /* the own key has no etcd lease */
	struct ip4_net subnet; /* key.v4; all zero without IPv4 */
	struct lease_key key;
	int64_t lease_id;
	int64_t lease_ttl_s;
	uint64_t lease_expiry_ms; /* 0 when unknown or a reservation */
	int64_t watch_revision;	  /* next revision the watch expects - 1 */
	bool watch_up;
	bool peers_synced;
	size_t n_peers;
	uint64_t etcd_reconnects; /* watch restarts after a break */
	/* How long the peer view may have lagged etcd (watch down or not yet
	 * proven); 0 while current. Readiness fails past LEASEMGR_STALE_MS. */
	uint64_t peers_stale_ms;
	uint64_t relists;	 /* complete listings */
	uint64_t list_pages;	 /* listing pages received */
	uint64_t list_skipped;	 /* keys skipped: value alone over the page cap */
	uint64_t list_restarts;	 /* listing revision compacted mid-way */
	uint64_t watch_oversize; /* watch messages over the limit */
	uint64_t etcd_requests;	 /* HTTP requests made */
	uint64_t lost_races;
	uint64_t acquisitions;
	/* Peer leases skipped, by verdict (PEER_ACCEPTED stays 0): each
	 * rejection of a key's value counted once, and keys skipped now. */
	uint64_t leases_rejected_total[PEER_VERDICTS];
	size_t leases_rejected[PEER_VERDICTS];
};

/* The client must outlive the manager. Nothing happens before start. */
int leasemgr_new(struct etcd_client *c, const struct leasemgr_config *cfg,
		 const struct leasemgr_ops *ops, void *data, struct leasemgr **out);
/* The same over any key-value store (kv.h); the manager owns the store
 * from now on, also when this fails. */
int leasemgr_new_kv(const struct kv *kv, const struct leasemgr_config *cfg,
		    const struct leasemgr_ops *ops, void *data, struct leasemgr **out);
int leasemgr_start(struct leasemgr *m);
void leasemgr_free(struct leasemgr *m);

/* NULL until the config is loaded. */
const struct netconf *leasemgr_netconf(const struct leasemgr *m);
/* Current peers (as reported through the callbacks), sorted by subnet
 * (IPv4 first, then IPv6).
 * Valid until the next dispatch. */
size_t leasemgr_peers(const struct leasemgr *m, const struct leasemgr_peer **peers);
void leasemgr_get_status(const struct leasemgr *m, struct leasemgr_status *st);

/* Picks the free subnet of rank r among those not in taken (sorted,
 * ascending, distinct subnet addresses of nc's SubnetLen). 0, or -ENOSPC
 * when none is free. Exposed for tests. */
int leasemgr_pick_free(const struct netconf *nc, const uint32_t *taken, size_t n_taken, uint64_t r,
		       struct ip4_net *out);

#endif
