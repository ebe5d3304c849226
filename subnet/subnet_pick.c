/* Free subnet selection (see subnet_pick.h). Each lease marks a span of
 * candidate indices taken; spans are merged, so the cost is O(n log n) in
 * the leases whatever the size of the network. */
#include "subnet/subnet_pick.h"

#include <errno.h>
#include <stdlib.h>

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

int subnet_pick_free(const struct netconf *nc, const struct ip4_net *taken, size_t n_taken,
		     uint64_t r, struct ip4_net *out)
{
	uint64_t total = netconf_subnet_count(nc), used = 0, k;
	struct span *s;
	size_t n = 0, m = 0;
	int ret = -ENOSPC;

	s = malloc((n_taken ? n_taken : 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n_taken; i++)
		if (span_of(nc, &taken[i], &s[n]))
			n++;
	qsort(s, n, sizeof(*s), span_cmp);
	/* Merge overlapping and adjacent spans in place. */
	for (size_t i = 0; i < n; i++) {
		if (m && s[i].lo <= s[m - 1].hi + 1) {
			if (s[i].hi > s[m - 1].hi)
				s[m - 1].hi = s[i].hi;
			continue;
		}
		s[m++] = s[i];
	}
	for (size_t i = 0; i < m; i++)
		used += s[i].hi - s[i].lo + 1;
	if (used >= total)
		goto free_spans;
	/* The k-th free subnet: every taken span at or below k shifts k up. */
	k = r % (total - used);
	for (size_t i = 0; i < m && s[i].lo <= k; i++)
		k += s[i].hi - s[i].lo + 1;
	ret = netconf_subnet_nth(nc, k, out);
free_spans:
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
