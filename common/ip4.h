/* IPv4 addresses and CIDR networks in host byte order: parsing, formatting,
 * containment and carving a network into equal subnets. Pure math, no I/O. */
#ifndef WEFT_IP4_H
#define WEFT_IP4_H

#include <stdbool.h>
#include <stdint.h>

#define IP4_ADDR_STRLEN 16 /* "255.255.255.255" + NUL */
#define IP4_NET_STRLEN	19 /* "255.255.255.255/32" + NUL */

struct ip4_net {
	uint32_t addr;	/* host byte order, host bits kept as given */
	uint8_t prefix; /* 0..32 */
};

/* Strict dotted quad: four decimal octets 0..255, no leading zeros (so "010"
 * cannot mean octal), no whitespace, nothing trailing. 0 or -EINVAL. */
int ip4_parse_addr(const char *s, uint32_t *out);
void ip4_format_addr(uint32_t a, char buf[static IP4_ADDR_STRLEN]);

/* "a.b.c.d/n", n decimal 0..32 without leading zeros; host bits are kept
 * (10.244.3.1/24 is a gateway with its prefix). 0 or -EINVAL. */
int ip4_parse_net(const char *s, struct ip4_net *out);
void ip4_format_net(const struct ip4_net *n, char buf[static IP4_NET_STRLEN]);

/* Netmask of a prefix; prefix > 32 is treated as 32. */
uint32_t ip4_mask(uint8_t prefix);
/* True when no host bits are set. */
bool ip4_net_is_canonical(const struct ip4_net *n);
/* The network with host bits cleared. */
struct ip4_net ip4_net_canonical(const struct ip4_net *n);
/* Lowest and highest address of the network (host bits ignored). */
uint32_t ip4_net_first(const struct ip4_net *n);
uint32_t ip4_net_broadcast(const struct ip4_net *n);
/* Number of addresses: 2^(32-prefix), so 2^32 for /0. */
uint64_t ip4_net_size(const struct ip4_net *n);
bool ip4_net_equal(const struct ip4_net *a, const struct ip4_net *b);

bool ip4_net_contains(const struct ip4_net *n, uint32_t a);
/* True when every address of inner lies in outer (inner->prefix >= outer->prefix). */
bool ip4_net_contains_net(const struct ip4_net *outer, const struct ip4_net *inner);
bool ip4_net_overlaps(const struct ip4_net *a, const struct ip4_net *b);

/* Carving: a network split into subnets of prefix len (len >= n->prefix).
 * Subnet count is 2^(len - prefix); 0 when len is out of range. */
uint64_t ip4_subnet_count(const struct ip4_net *n, uint8_t len);
/* The i-th subnet of prefix len inside n: 0, or -ERANGE when i >= count,
 * -EINVAL when len < n->prefix or len > 32. */
int ip4_subnet_nth(const struct ip4_net *n, uint8_t len, uint64_t i, struct ip4_net *out);
/* Index of subnet address a (aligned to len) inside n: 0, or -EINVAL when a
 * is outside n or not aligned to len. */
int ip4_subnet_index(const struct ip4_net *n, uint8_t len, uint32_t a, uint64_t *idx);
/* Advance sn to the following subnet of the same size. False when that would
 * wrap past 255.255.255.255 (sn is left unchanged then). */
bool ip4_subnet_next(struct ip4_net *sn);

#endif
