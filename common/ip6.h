/* IPv6 addresses and CIDR networks: parsing, canonical (RFC 5952) text,
 * containment and carving a network into equal subnets. Pure math, no I/O.
 * Mirrors common/ip4.h. */
#ifndef WEFT_IP6_H
#define WEFT_IP6_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define IP6_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
#define IP6_NET_STRLEN	50 /* address + "/128" + NUL */

struct ip6_net {
	struct in6_addr addr; /* host bits kept as given */
	uint8_t len;	      /* 0..128 */
};

/* Any inet_pton text form (either case, "::", embedded dotted quad); no zone
 * ("%eth0"), no whitespace, nothing trailing. 0 or -EINVAL. */
int ip6_parse_addr(const char *s, struct in6_addr *out);
/* RFC 5952 text, exactly what inet_ntop (and Go's net.IP.String) gives. */
void ip6_format_addr(const struct in6_addr *a, char buf[static IP6_ADDR_STRLEN]);

/* "addr/n", n decimal 0..128 without leading zeros; host bits are kept
 * (fd00::1/64 is a gateway with its prefix). 0 or -EINVAL. */
int ip6_parse_net(const char *s, struct ip6_net *out);
void ip6_format_net(const struct ip6_net *n, char buf[static IP6_NET_STRLEN]);

/* Netmask of a prefix length; len > 128 is treated as 128. */
struct in6_addr ip6_mask(uint8_t len);
bool ip6_addr_equal(const struct in6_addr *a, const struct in6_addr *b);
/* True when no host bits are set. */
bool ip6_net_is_canonical(const struct ip6_net *n);
/* The network with host bits cleared. */
struct ip6_net ip6_net_canonical(const struct ip6_net *n);
bool ip6_net_equal(const struct ip6_net *a, const struct ip6_net *b);

bool ip6_net_contains(const struct ip6_net *n, const struct in6_addr *a);
/* True when every address of inner lies in outer. */
bool ip6_net_contains_net(const struct ip6_net *outer, const struct ip6_net *inner);
bool ip6_net_overlaps(const struct ip6_net *a, const struct ip6_net *b);

/* Carving: subnets of length len inside n (len >= n->len). The count is
 * 2^(len - n->len), saturated at UINT64_MAX; 0 when len is out of range. */
uint64_t ip6_subnet_count(const struct ip6_net *n, uint8_t len);
/* The i-th subnet of length len inside n: 0, or -ERANGE when i >= count,
 * -EINVAL when len < n->len or len > 128. */
int ip6_subnet_nth(const struct ip6_net *n, uint8_t len, uint64_t i, struct ip6_net *out);
/* Index of subnet address a (aligned to len) inside n: 0, -EINVAL when a is
 * outside n or not aligned, -ERANGE when the index does not fit 64 bits. */
int ip6_subnet_index(const struct ip6_net *n, uint8_t len, const struct in6_addr *a, uint64_t *idx);
/* Advance sn to the following subnet of the same length. False when that
 * would wrap past ffff:...:ffff (sn is left unchanged then). */
bool ip6_subnet_next(struct ip6_net *sn);

/* True for an address usable as a node's public (underlay) address: not
 * ::, ::1, multicast ff00::/8, link-local fe80::/10, IPv4-mapped
 * ::ffff:0:0/96 or IPv4-compatible ::/96. */
bool ip6_addr_usable(const struct in6_addr *a);
/* True for a network usable as a pod network: length 1..128 and no overlap
 * with the ranges ip6_addr_usable rejects. */
bool ip6_net_usable(const struct ip6_net *n);

#endif
