/* Address store, on-disk compatible with host-local:
 *   <dataDir>/<network>/<ip>               "<containerID>\r\n<ifname>"
 *   <dataDir>/<network>/last_reserved_ip.N the last address handed out in
 *                                          range N (0: the first family
 *                                          the node has, IPv4 if any; 1:
 *                                          IPv6 on a dual-stack node)
 *   <dataDir>/<network>/lock               flock'ed around every change
 * Allocation is round robin from after the last reserved address, so a
 * freed address is not reused at once (stale ARP entries elsewhere). */
#ifndef WEFT_CNI_IPAM_H
#define WEFT_CNI_IPAM_H

#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>
#include <stddef.h>

#include "common/ip4.h"

struct ipam {
	int dirfd;  /* <dataDir>/<network> */
	int lockfd; /* holds the flock while locked */
};

/* Opens (creating if needed) the network's directory. 0 or -errno. */
int ipam_open(struct ipam *st, const char *data_dir, const char *network, bool create);
void ipam_close(struct ipam *st);

/* Takes the store lock, waiting at most timeout_ms: -ETIMEDOUT then. */
int ipam_lock(struct ipam *st, unsigned timeout_ms);
void ipam_unlock(struct ipam *st);

/* Under the lock: reserves the next free host address of subnet, never the
 * network, broadcast or gateway address. -ENOSPC when the subnet is full. */
int ipam_reserve(struct ipam *st, const struct ip4_net *subnet, uint32_t gateway, const char *id,
		 const char *ifname, uint32_t *out);
/* Under the lock: drops one reservation if it still belongs to (id, ifname). */
int ipam_release_addr(struct ipam *st, uint32_t addr, const char *id, const char *ifname);
/* Under the lock: drops every reservation of (id, ifname), both families; a store written
 * by old host-local versions (id only) is matched by id when nothing else
 * matched. Sets *released to the count. */
int ipam_release(struct ipam *st, const char *id, const char *ifname, unsigned *released);
/* One ADD's ranges: IPv4 (range 0) and/or IPv6 (range 1, or 0 alone). */
struct ipam_ranges {
	bool has_v4, has_v6;
	struct ip4_net sub4; /* canonical */
	uint32_t gw4;
	struct in6_addr gw6; /* also names the subnet, with prefix6 */
	uint8_t prefix6;
	uint32_t addr4; /* out */
	struct in6_addr addr6;
	bool failed_v6; /* out: which family was full or failed */
};
/* Under the lock: one address per range, all or nothing. When the IPv6
 * range fails, the IPv4 reservation and cursor are put back, so a failed
 * ADD holds nothing in either family. -ENOSPC when a range is full. */
int ipam_reserve_all(struct ipam *st, struct ipam_ranges *r, const char *id, const char *ifname);

/* The same in two steps, so DEL holds the lock only to unlink: find
 * (without the lock; the walk reads every file) the reservations of
 * (id, ifname), then under the lock drop those that still belong to it.
 * The result of find is freed with free(). */
struct ipam_found;
int ipam_release_find(struct ipam *st, const char *id, const char *ifname, struct ipam_found **out);
unsigned ipam_release_count(const struct ipam_found *f);
int ipam_release_found(struct ipam *st, struct ipam_found *f, unsigned *released);
/* True when addr is reserved for (id, ifname). */
bool ipam_owns(struct ipam *st, uint32_t addr, const char *id, const char *ifname);

/* Calls cb for every IPv4 reservation (addr, id, ifname; ifname "" for id-only
 * files). A nonzero return from cb stops the walk and is returned. */
int ipam_walk(struct ipam *st,
	      int (*cb)(uint32_t addr, const char *id, const char *ifname, void *data), void *data);
/* Under the lock: drops the reservation of addr, whoever owns it. */
int ipam_drop(struct ipam *st, uint32_t addr);
/* IPv4 / IPv6 reservations currently held. */
int ipam_count(struct ipam *st, unsigned *n);
int ipam_count6(struct ipam *st, unsigned *n);

/* IPv6 counterparts; the cursor of reserve6 is last_reserved_ip.<idx>.
 * Addresses are named by their canonical text, as host-local does. */
int ipam_reserve6(struct ipam *st, unsigned idx, const struct in6_addr *net, uint8_t prefix,
		  const struct in6_addr *gateway, const char *id, const char *ifname,
		  struct in6_addr *out);
bool ipam_owns6(struct ipam *st, const struct in6_addr *a, const char *id, const char *ifname);
int ipam_release_addr6(struct ipam *st, const struct in6_addr *a, const char *id,
		       const char *ifname);
int ipam_drop6(struct ipam *st, const struct in6_addr *a);
int ipam_walk6(struct ipam *st,
	       int (*cb)(const struct in6_addr *addr, const char *id, const char *ifname,
			 void *data),
	       void *data);

/* All-or-nothing over ranges: a cursor read before reserving ("" when
 * absent) and put back when a later range fails. */
int ipam_cursor_save(struct ipam *st, unsigned idx, char *buf, size_t len);
void ipam_cursor_restore(struct ipam *st, unsigned idx, const char *text);

#endif
