/* The lease of one node in etcd: key <prefix>/subnets/10.244.3.0-24 and a
 * JSON value written byte for byte as flannel writes it. */
#ifndef WEFT_LEASE_H
#define WEFT_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ip4.h"

#define MAC_STRLEN 18 /* "xx:xx:xx:xx:xx:xx" + NUL */

struct lease_attrs {
	uint32_t public_ip;
	char backend_type[16]; /* longer types are truncated (never equal "vxlan") */
	uint32_t vni;
	uint8_t vtep_mac[6];
	bool has_vtep_mac;
};

/* "<prefix>/subnets/a.b.c.d-n" (host bits of sn cleared; trailing slashes of
 * prefix ignored, as with path.Join). 0 or -ENAMETOOLONG. */
int lease_key_format(const char *prefix, const struct ip4_net *sn, char *buf, size_t len);
/* Parse a key under "<prefix>/subnets/"; a dual-stack key "...-24&fc00::-64"
 * yields its IPv4 part. 0, or -EINVAL for other keys and non-canonical subnets. */
int lease_key_parse(const char *prefix, const char *key, struct ip4_net *sn);

/* Compact JSON, flannel's key order: PublicIP, PublicIPv6 (null), BackendType,
 * BackendData {VNI, VtepMAC}. BackendData is left out without a VTEP MAC.
 * Heap string for free(), or NULL on allocation failure. */
char *lease_attrs_encode(const struct lease_attrs *a);
/* Tolerant like Go's decoder: keys case-insensitive, unknown keys ignored.
 * PublicIP is required; BackendData is only interpreted for "vxlan".
 * 0 or -EINVAL. */
int lease_attrs_decode(const char *json, size_t len, struct lease_attrs *out);

/* Lower-case, colon separated. */
void mac_format(const uint8_t mac[6], char buf[static MAC_STRLEN]);
/* Go's net.ParseMAC 6-byte forms (":" or "-" separated, or xxxx.xxxx.xxxx),
 * either case. 0 or -EINVAL. */
int mac_parse(const char *s, uint8_t mac[6]);

#endif
