/* VTEP MAC derivation: stable across restarts, known before the device exists. */
#ifndef WEFT_VXLAN_MAC_H
#define WEFT_VXLAN_MAC_H

#include <netinet/in.h>
#include <stdint.h>

/* 0x02 followed by the first 5 bytes of SHA-256(PublicIP, 4 bytes network
 * order || VNI, 4 bytes big endian). 0, or -EIO if libcrypto fails. */
int vxlan_vtep_mac(uint32_t public_ip, uint32_t vni, uint8_t mac[6]);
/* The same over the 16-byte public IPv6 address and the VNI. */
int vxlan_vtep_mac6(const struct in6_addr *public_ip6, uint32_t vni, uint8_t mac[6]);

#endif
