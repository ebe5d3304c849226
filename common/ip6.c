/* IPv6 address and CIDR math. Text comes from etcd keys and config that other
 * tools write; inet_pton accepts every RFC 4291 spelling, and every address
 * is printed back in the one canonical RFC 5952 form, so keys compare as
 * strings the way flannel's do. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/ip6.h"

/* 128-bit value as two host-order halves, for carving arithmetic. */
struct u128 {
	uint64_t hi, lo;
};

static struct u128 to_u128(const struct in6_addr *a)
{
	struct u128 v = {0, 0};

	for (int i = 0; i < 8; i++) {
		v.hi = (v.hi << 8) | a->s6_addr[i];
		v.lo = (v.lo << 8) | a->s6_addr[8 + i];
	}
	return v;
}

static struct in6_addr from_u128(struct u128 v)
{
	struct in6_addr a;

	for (int i = 7; i >= 0; i--) {
		a.s6_addr[i] = (uint8_t)v.hi;
		a.s6_addr[8 + i] = (uint8_t)v.lo;
		v.hi >>= 8;
		v.lo >>= 8;
	}
	return a;
}

/* v << sh, bits past 2^128 dropped. */
static struct u128 shl(uint64_t v, unsigned sh)
{
	if (sh >= 128)
		return (struct u128){0, 0};
	if (sh >= 64)
		return (struct u128){v << (sh - 64), 0};
	if (sh == 0)
		return (struct u128){0, v};
	return (struct u128){v >> (64 - sh), v << sh};
}

/* a + b; *carry set on overflow past 2^128. */
static struct u128 add(struct u128 a, struct u128 b, bool *carry)
{
	struct u128 r;
	uint64_t c;

	r.lo = a.lo + b.lo;
	c = r.lo < a.lo;
	r.hi = a.hi + b.hi + c;
	/* b.hi + c wrapped to 0 exactly when r.hi == a.hi with something added. */
	*carry = r.hi < a.hi || (r.hi == a.hi && (b.hi || c));
	return r;
}

int ip6_parse_addr(const char *s, struct in6_addr *out)
{
	struct in6_addr a;

	/* inet_pton rejects zones, whitespace and trailing text by itself. */
	if (!s || strnlen(s, IP6_ADDR_STRLEN) >= IP6_ADDR_STRLEN || inet_pton(AF_INET6, s, &a) != 1)
		return -EINVAL;
	*out = a;
	return 0;
}

void ip6_format_addr(const struct in6_addr *a, char buf[static IP6_ADDR_STRLEN])
{
	if (!inet_ntop(AF_INET6, a, buf, IP6_ADDR_STRLEN))
		snprintf(buf, IP6_ADDR_STRLEN, "::");
}

int ip6_parse_net(const char *s, struct ip6_net *out)
{
	char addr[IP6_ADDR_STRLEN];
	const char *slash;
	size_t alen;
	unsigned len = 0;
	int digits = 0;

	if (!s || !(slash = strchr(s, '/')))
		return -EINVAL;
	alen = (size_t)(slash - s);
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	for (s = slash + 1; *s >= '0' && *s <= '9'; s++, digits++) {
		if (digits == 3)
			return -EINVAL;
		len = len * 10 + (unsigned)(*s - '0');
	}
	if (*s || digits == 0 || (digits > 1 && slash[1] == '0') || len > 128)
		return -EINVAL;
	if (ip6_parse_addr(addr, &out->addr))
		return -EINVAL;
	out->len = (uint8_t)len;
	return 0;
}

void ip6_format_net(const struct ip6_net *n, char buf[static IP6_NET_STRLEN])
{
	char a[IP6_ADDR_STRLEN];

	ip6_format_addr(&n->addr, a);
	snprintf(buf, IP6_NET_STRLEN, "%s/%u", a, n->len > 128 ? 128u : (unsigned)n->len);
}

struct in6_addr ip6_mask(uint8_t len)
{
	struct in6_addr m;
	unsigned l = len > 128 ? 128 : len;

	for (unsigned i = 0; i < 16; i++) {
		if (l >= 8 * (i + 1))
			m.s6_addr[i] = 0xff;
		else if (l <= 8 * i)
			m.s6_addr[i] = 0;
		else
			m.s6_addr[i] = (uint8_t)(0xff00 >> (l - 8 * i));
	}
	return m;
}

bool ip6_addr_equal(const struct in6_addr *a, const struct in6_addr *b)
{
	return memcmp(a->s6_addr, b->s6_addr, 16) == 0;
}

/* True when a and b agree on their first len bits. */
static bool same_prefix(const struct in6_addr *a, const struct in6_addr *b, uint8_t len)
{
	struct in6_addr m = ip6_mask(len);

	for (int i = 0; i < 16; i++)
		if ((a->s6_addr[i] ^ b->s6_addr[i]) & m.s6_addr[i])
			return false;
	return true;
}

bool ip6_net_is_canonical(const struct ip6_net *n)
{
	struct ip6_net c = ip6_net_canonical(n);

	return ip6_addr_equal(&c.addr, &n->addr);
}

struct ip6_net ip6_net_canonical(const struct ip6_net *n)
{
	struct in6_addr m = ip6_mask(n->len);
	struct ip6_net c = {.len = n->len};

	for (int i = 0; i < 16; i++)
		c.addr.s6_addr[i] = n->addr.s6_addr[i] & m.s6_addr[i];
	return c;
}

bool ip6_net_equal(const struct ip6_net *a, const struct ip6_net *b)
{
	return a->len == b->len && ip6_addr_equal(&a->addr, &b->addr);
}

bool ip6_net_contains(const struct ip6_net *n, const struct in6_addr *a)
{
	return same_prefix(&n->addr, a, n->len);
}

bool ip6_net_contains_net(const struct ip6_net *outer, const struct ip6_net *inner)
{
	return inner->len >= outer->len && ip6_net_contains(outer, &inner->addr);
}

bool ip6_net_overlaps(const struct ip6_net *a, const struct ip6_net *b)
{
	/* Two CIDRs overlap iff the shorter one contains the other. */
	return same_prefix(&a->addr, &b->addr, a->len < b->len ? a->len : b->len);
}

uint64_t ip6_subnet_count(const struct ip6_net *n, uint8_t len)
{
	if (len < n->len || len > 128)
		return 0;
	if (len - n->len >= 64)
		return UINT64_MAX;
	return UINT64_C(1) << (len - n->len);
}

int ip6_subnet_nth(const struct ip6_net *n, uint8_t len, uint64_t i, struct ip6_net *out)
{
	uint64_t count = ip6_subnet_count(n, len);
	struct ip6_net base;
	bool carry;

	if (count == 0)
		return -EINVAL;
	/* A saturated count means 2^64 or more subnets: every i exists. */
	if (len - n->len < 64 && i >= count)
		return -ERANGE;
	base = ip6_net_canonical(n);
	/* i < 2^(len - n->len), so the sum stays inside n. */
	out->addr = from_u128(add(to_u128(&base.addr), shl(i, 128u - len), &carry));
	out->len = len;
	return 0;
}

int ip6_subnet_index(const struct ip6_net *n, uint8_t len, const struct in6_addr *a, uint64_t *idx)
{
	struct ip6_net base, sn = {.addr = *a, .len = len};
	struct u128 off, b;
	unsigned sh = 128u - len;

	if (len < n->len || len > 128 || !ip6_net_contains(n, a) || !ip6_net_is_canonical(&sn))
		return -EINVAL;
	base = ip6_net_canonical(n);
	/* a >= base since a lies in n: the offset never borrows past 2^128. */
	off = to_u128(a);
	b = to_u128(&base.addr);
	off.hi = off.hi - b.hi - (off.lo < b.lo);
	off.lo -= b.lo;
	if (sh < 64 && (sh == 0 ? off.hi : off.hi >> sh) != 0)
		return -ERANGE;
	if (len == 0)
		*idx = 0;
	else if (sh >= 64)
		*idx = off.hi >> (sh - 64);
	else if (sh == 0)
		*idx = off.lo;
	else
		*idx = (off.lo >> sh) | (off.hi << (64 - sh));
	return 0;
}

bool ip6_subnet_next(struct ip6_net *sn)
{
	struct ip6_net base = ip6_net_canonical(sn);
	struct u128 next;
	bool carry;

	if (sn->len == 0 || sn->len > 128)
		return false;
	next = add(to_u128(&base.addr), shl(1, 128u - sn->len), &carry);
	if (carry)
		return false;
	sn->addr = from_u128(next);
	return true;
}

/* Ranges that are never a node's address nor part of a pod network. */
static const struct {
	uint8_t prefix[16];
	uint8_t len;
} special[] = {
	{{0}, 96},					  /* ::/96: ::, ::1, v4-compatible */
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96}, /* IPv4-mapped */
	{{0xfe, 0x80}, 10},				  /* link-local */
	{{0xff}, 8},					  /* multicast */
};

bool ip6_addr_usable(const struct in6_addr *a)
{
	struct ip6_net host = {.addr = *a, .len = 128};

	return ip6_net_usable(&host);
}

bool ip6_net_usable(const struct ip6_net *n)
{
	if (n->len == 0 || n->len > 128)
		return false;
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		struct ip6_net s = {.len = special[i].len};

		memcpy(s.addr.s6_addr, special[i].prefix, 16);
		if (ip6_net_overlaps(&s, n))
			return false;
	}
	return true;
}
