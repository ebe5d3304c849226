/* The lease of one node in etcd: key <prefix>/subnets/10.244.3.0-24 (dual
 * stack: ...-24&fd00:10:244:3::-64, IPv6 only: .../fd00:10:244:3::-64) and a
 * JSON value written byte for byte as flannel writes it. */
#ifndef WEFT_LEASE_H
#define WEFT_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip4.h"
#include "common/ip6.h"

#define MAC_STRLEN 18 /* "xx:xx:xx:xx:xx:xx" + NUL */

struct lease_attrs {
	uint32_t public_ip;
	char backend_type[16]; /* longer types are truncated (never equal "vxlan") */
	uint32_t vni;
	uint8_t vtep_mac[6];
	bool has_vtep_mac;
	/* Dual stack and IPv6 only: PublicIPv6 and BackendV6Data. */
	bool has_public_ipv6;
	struct in6_addr public_ipv6;
	uint32_t vni6;
	uint8_t vtep_mac6[6];
	bool has_vtep_mac6;
};

/* The subnets a key names: IPv4, IPv6 or both (at least one). */
struct lease_key {
	bool has_v4;
	struct ip4_net v4;
	bool has_v6;
	struct ip6_net v6;
};

/* "<prefix>/subnets/a.b.c.d-n" (host bits of sn cleared; trailing slashes of
 * prefix ignored, as with path.Join). 0 or -ENAMETOOLONG. */
int lease_key_format(const char *prefix, const struct ip4_net *sn, char *buf, size_t len);
/* Parse a key under "<prefix>/subnets/"; a dual-stack key "...-24&fc00::-64"
 * yields its IPv4 part. 0, or -EINVAL for other keys and non-canonical subnets. */
int lease_key_parse(const char *prefix, const char *key, struct ip4_net *sn);

/* Every family: "<prefix>/subnets/10.244.3.0-24&fd00:10:244:3::-64", the
 * IPv6-only form ".../fd00:10:244:3::-64" (weft's own: flannel's etcd mode
 * has none) or the IPv4 one. Host bits cleared, IPv6 in RFC 5952 text.
 * 0, -EINVAL without a subnet, or -ENAMETOOLONG. */
int lease_key_format_any(const char *prefix, const struct lease_key *k, char *buf, size_t len);
/* Parse any of those forms; the IPv6 part must be the canonical text (one
 * spelling per subnet, as flannel writes it), its length at most 127 (flannel
 * reads 7 bits) and its host bits clear. 0 or -EINVAL. */
int lease_key_parse_any(const char *prefix, const char *key, struct lease_key *out);

/* Compact JSON, flannel's key order: PublicIP, PublicIPv6 (null unless set),
 * BackendType, BackendData {VNI, VtepMAC}, BackendV6Data {VNI, VtepMAC}.
 * Each data object is left out without its VTEP MAC. Heap string for free(),
 * or NULL on allocation failure. */
char *lease_attrs_encode(const struct lease_attrs *a);
/* Tolerant like Go's decoder: keys case-insensitive, unknown keys ignored.
 * PublicIP is required ("0.0.0.0" in an IPv6-only lease); PublicIPv6 is null
 * or an IPv6 address; BackendData and BackendV6Data are only interpreted for
 * "vxlan". 0 or -EINVAL. */
int lease_attrs_decode(const char *json, size_t len, struct lease_attrs *out);

/* Lower-case, colon separated. */
void mac_format(const uint8_t mac[6], char buf[static MAC_STRLEN]);
/* Go's net.ParseMAC 6-byte forms (":" or "-" separated, or xxxx.xxxx.xxxx),
 * either case. 0 or -EINVAL. */
int mac_parse(const char *s, uint8_t mac[6]);

#endif
