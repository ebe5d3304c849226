/* Drawing a free subnet for this node: pure math over the leases that
 * exist, no I/O. */
#ifndef WEFT_SUBNET_PICK_H
#define WEFT_SUBNET_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip4.h"
#include "common/ip6.h"
#include "subnet/netconf.h"

/* True when a lease of subnet t keeps candidate subnets it overlaps from
 * being drawn: any length counts (leases of an older SubnetLen too), but a
 * lease covering all of Network never does, since no node can hold one and
 * honouring it would let one key stop every node from joining. */
bool subnet_taken_by(const struct netconf *nc, const struct ip4_net *t);

/* Picks the free leasable subnet of rank r (modulo the number free) among
 * those no lease in taken overlaps (see subnet_taken_by; any order,
 * duplicates allowed). 0, -ENOSPC when none is free, -ENOMEM. */
int subnet_pick_free(const struct netconf *nc, const struct ip4_net *taken, size_t n_taken,
		     uint64_t r, struct ip4_net *out);

/* True when sn is leasable and no lease in taken overlaps it. */
bool subnet_is_free(const struct netconf *nc, const struct ip4_net *taken, size_t n_taken,
		    const struct ip4_net *sn);

/* The IPv6 counterparts, over IPv6Network and IPv6SubnetMin..Max with
 * IPv6SubnetLen. In a space of more than 2^64 subnets only the first 2^64
 * are drawn from. */
bool subnet6_taken_by(const struct netconf *nc, const struct ip6_net *t);
int subnet6_pick_free(const struct netconf *nc, const struct ip6_net *taken, size_t n_taken,
		      uint64_t r, struct ip6_net *out);
bool subnet6_is_free(const struct netconf *nc, const struct ip6_net *taken, size_t n_taken,
		     const struct ip6_net *sn);

#endif
