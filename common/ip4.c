/* IPv4 address and CIDR math. Parsing is strict on purpose: addresses come
 * from etcd keys and config that other tools write, and a lenient parser
 * (inet_aton accepts "10.1", octal "010", hex) would let two spellings name
 * one subnet. */
#include <errno.h>
#include <stdio.h>

#include "common/ip4.h"

/* Parse 1..3 decimal digits without a leading zero; advances *sp. */
static int parse_dec(const char **sp, unsigned max, unsigned *out)
{
	const char *s = *sp;
	unsigned v = 0;
	int n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		if (n == 3)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[n] - '0');
		n++;
	}
	if (n == 0 || (n > 1 && s[0] == '0') || v > max)
		return -EINVAL;
	*sp = s + n;
	*out = v;
	return 0;
}

/* Parse a dotted quad at *sp, leaving *sp after it. */
static int parse_quad(const char **sp, uint32_t *out)
{
	const char *s = *sp;
	uint32_t a = 0;
	unsigned octet;

	for (int i = 0; i < 4; i++) {
		if (i > 0) {
			if (*s != '.')
				return -EINVAL;
			s++;
		}
		if (parse_dec(&s, 255, &octet))
			return -EINVAL;
		a = (a << 8) | octet;
	}
	*sp = s;
	*out = a;
	return 0;
}

int ip4_parse_addr(const char *s, uint32_t *out)
{
	uint32_t a;

	if (!s || parse_quad(&s, &a) || *s)
		return -EINVAL;
	*out = a;
	return 0;
}

void ip4_format_addr(uint32_t a, char buf[static IP4_ADDR_STRLEN])
{
	snprintf(buf, IP4_ADDR_STRLEN, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
		 a & 0xff);
}

int ip4_parse_net(const char *s, struct ip4_net *out)
{
	uint32_t a;
	unsigned prefix;

	if (!s || parse_quad(&s, &a) || *s != '/')
		return -EINVAL;
	s++;
	if (parse_dec(&s, 32, &prefix) || *s)
		return -EINVAL;
	out->addr = a;
	out->prefix = (uint8_t)prefix;
	return 0;
}

void ip4_format_net(const struct ip4_net *n, char buf[static IP4_NET_STRLEN])
{
	char a[IP4_ADDR_STRLEN];

	ip4_format_addr(n->addr, a);
	snprintf(buf, IP4_NET_STRLEN, "%s/%u", a, n->prefix > 32 ? 32u : (unsigned)n->prefix);
}

uint32_t ip4_mask(uint8_t prefix)
{
	if (prefix == 0)
		return 0;
	if (prefix >= 32)
		return UINT32_MAX;
	return UINT32_MAX << (32 - prefix);
}

bool ip4_net_is_canonical(const struct ip4_net *n)
{
	return (n->addr & ~ip4_mask(n->prefix)) == 0;
}

struct ip4_net ip4_net_canonical(const struct ip4_net *n)
{
	return (struct ip4_net){.addr = n->addr & ip4_mask(n->prefix), .prefix = n->prefix};
}

uint32_t ip4_net_first(const struct ip4_net *n)
{
	return n->addr & ip4_mask(n->prefix);
}

uint32_t ip4_net_broadcast(const struct ip4_net *n)
{
	return n->addr | ~ip4_mask(n->prefix);
}

uint64_t ip4_net_size(const struct ip4_net *n)
{
	return n->prefix >= 32 ? 1 : UINT64_C(1) << (32 - n->prefix);
}

bool ip4_net_equal(const struct ip4_net *a, const struct ip4_net *b)
{
	return a->prefix == b->prefix && a->addr == b->addr;
}

bool ip4_net_contains(const struct ip4_net *n, uint32_t a)
{
	uint32_t m = ip4_mask(n->prefix);

	return (a & m) == (n->addr & m);
}

bool ip4_net_contains_net(const struct ip4_net *outer, const struct ip4_net *inner)
{
	return inner->prefix >= outer->prefix && ip4_net_contains(outer, inner->addr);
}

bool ip4_net_overlaps(const struct ip4_net *a, const struct ip4_net *b)
{
	/* Two CIDRs overlap iff the shorter one contains the other. */
	return a->prefix <= b->prefix ? ip4_net_contains(a, b->addr) : ip4_net_contains(b, a->addr);
}

uint64_t ip4_subnet_count(const struct ip4_net *n, uint8_t len)
{
	if (len < n->prefix || len > 32)
		return 0;
	return UINT64_C(1) << (len - n->prefix);
}

int ip4_subnet_nth(const struct ip4_net *n, uint8_t len, uint64_t i, struct ip4_net *out)
{
	uint64_t count = ip4_subnet_count(n, len);

	if (count == 0)
		return -EINVAL;
	if (i >= count)
		return -ERANGE;
	/* i < 2^(len - prefix), so the shifted value stays below 2^(32 - prefix). */
	out->addr = ip4_net_first(n) + (uint32_t)(i << (32 - len));
	out->prefix = len;
	return 0;
}

int ip4_subnet_index(const struct ip4_net *n, uint8_t len, uint32_t a, uint64_t *idx)
{
	if (len < n->prefix || len > 32 || !ip4_net_contains(n, a) || (a & ~ip4_mask(len)))
		return -EINVAL;
	*idx = (uint64_t)(a - ip4_net_first(n)) >> (32 - len);
	return 0;
}

bool ip4_subnet_next(struct ip4_net *sn)
{
	uint64_t next = (uint64_t)ip4_net_first(sn) + ip4_net_size(sn);

	if (next > UINT32_MAX)
		return false;
	sn->addr = (uint32_t)next;
	return true;
}
