/* Free subnet selection (see subnet_pick.h). Each lease marks a span of
 * candidate indices taken; spans are merged, so the cost is O(n log n) in
 * the leases whatever the size of the network. */
#include "subnet/subnet_pick.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct span {
	uint64_t lo, hi; /* candidate indices, inclusive */
};

static int span_cmp(const void *x, const void *y)
{
	const struct span *a = x, *b = y;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

bool subnet_taken_by(const struct netconf *nc, const struct ip4_net *t)
{
	return t->prefix <= 32 && t->prefix > nc->network.prefix &&
	       ip4_net_overlaps(&nc->network, t);
}

/* The candidate indices t overlaps; false when none. */
static bool span_of(const struct netconf *nc, const struct ip4_net *t, struct span *s)
{
	unsigned shift = 32 - nc->subnet_len;
	uint64_t min = nc->subnet_min, last = (uint64_t)nc->subnet_max + ((1ULL << shift) - 1);
	uint64_t first = ip4_net_first(t), bcast = ip4_net_broadcast(t);

	if (!subnet_taken_by(nc, t) || bcast < min || first > last)
		return false;
	if (first < min)
		first = min;
	if (bcast > last)
		bcast = last;
	s->lo = (first - min) >> shift;
	s->hi = (bcast - min) >> shift;
	return true;
}

/* Merges the n spans (sorted here) in place; returns how many remain and
 * adds up the indices they cover. */
static size_t spans_merge(struct span *s, size_t n, uint64_t *used)
{
	size_t m = 0;

	qsort(s, n, sizeof(*s), span_cmp);
	for (size_t i = 0; i < n; i++) {
		if (m && s[i].lo <= s[m - 1].hi + 1) {
			if (s[i].hi > s[m - 1].hi)
				s[m - 1].hi = s[i].hi;
			continue;
		}
		s[m++] = s[i];
	}
	*used = 0;
	for (size_t i = 0; i < m; i++)
		*used += s[i].hi - s[i].lo + 1;
	return m;
}

/* The index of the free candidate of rank r, or -ENOSPC. */
static int spans_pick(const struct span *s, size_t m, uint64_t used, uint64_t total, uint64_t r,
		      uint64_t *k)
{
	if (used >= total)
		return -ENOSPC;
	/* The k-th free subnet: every taken span at or below k shifts k up. */
	*k = r % (total - used);
	for (size_t i = 0; i < m && s[i].lo <= *k; i++)
		*k += s[i].hi - s[i].lo + 1;
	return 0;
}

int subnet_pick_free(const struct netconf *nc, const struct ip4_net *taken, size_t n_taken,
		     uint64_t r, struct ip4_net *out)
{
	uint64_t used, k;
	struct span *s;
	size_t n = 0, m;
	int ret;

	s = malloc((n_taken ? n_taken : 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n_taken; i++)
		if (span_of(nc, &taken[i], &s[n]))
			n++;
	m = spans_merge(s, n, &used);
	ret = spans_pick(s, m, used, netconf_subnet_count(nc), r, &k);
	if (!ret)
		ret = netconf_subnet_nth(nc, k, out);
	free(s);
	return ret;
}

bool subnet_is_free(const struct netconf *nc, const struct ip4_net *taken, size_t n_taken,
		    const struct ip4_net *sn)
{
	if (!netconf_subnet_valid(nc, sn))
		return false;
	for (size_t i = 0; i < n_taken; i++)
		if (subnet_taken_by(nc, &taken[i]) && ip4_net_overlaps(&taken[i], sn))
			return false;
	return true;
}

/* ------------------------------------------------------------------ IPv6 */

static struct in6_addr last_addr6(const struct ip6_net *n)
{
	struct in6_addr a = n->addr, mask = ip6_mask(n->len);

	for (int i = 0; i < 16; i++)
		a.s6_addr[i] |= (uint8_t)~mask.s6_addr[i];
	return a;
}

static int addr6_cmp(const struct in6_addr *a, const struct in6_addr *b)
{
	return memcmp(a, b, sizeof(*a));
}

bool subnet6_taken_by(const struct netconf *nc, const struct ip6_net *t)
{
	return t->len <= 128 && t->len > nc->ipv6_network.len &&
	       ip6_net_overlaps(&nc->ipv6_network, t);
}

static bool span6_of(const struct netconf *nc, const struct ip6_net *t, struct span *s)
{
	const struct in6_addr *min = &nc->ipv6_subnet_min;
	struct ip6_net maxn = {nc->ipv6_subnet_max, nc->ipv6_subnet_len};
	struct in6_addr last = last_addr6(&maxn), first, end;
	struct ip6_net c = ip6_net_canonical(t);

	first = c.addr;
	end = last_addr6(&c);
	if (!subnet6_taken_by(nc, t) || addr6_cmp(&end, min) < 0 || addr6_cmp(&first, &last) > 0)
		return false;
	if (addr6_cmp(&first, min) < 0)
		first = *min;
	if (addr6_cmp(&end, &last) > 0)
		end = last;
	s->lo = ip6_subnet_distance(min, &first, nc->ipv6_subnet_len);
	s->hi = ip6_subnet_distance(min, &end, nc->ipv6_subnet_len);
	return true;
}

int subnet6_pick_free(const struct netconf *nc, const struct ip6_net *taken, size_t n_taken,
		      uint64_t r, struct ip6_net *out)
{
	uint64_t used, k;
	struct span *s;
	size_t n = 0, m;
	int ret;

	if (!nc->enable_ipv6)
		return -ENOSPC;
	s = malloc((n_taken ? n_taken : 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n_taken; i++)
		if (span6_of(nc, &taken[i], &s[n]))
			n++;
	m = spans_merge(s, n, &used);
	ret = spans_pick(s, m, used, netconf_ipv6_subnet_count(nc), r, &k);
	if (!ret)
		ret = netconf_ipv6_subnet_nth(nc, k, out);
	free(s);
	return ret;
}

bool subnet6_is_free(const struct netconf *nc, const struct ip6_net *taken, size_t n_taken,
		     const struct ip6_net *sn)
{
	if (!netconf_ipv6_subnet_valid(nc, sn))
		return false;
	for (size_t i = 0; i < n_taken; i++)
		if (subnet6_taken_by(nc, &taken[i]) && ip6_net_overlaps(&taken[i], sn))
			return false;
	return true;
}
