/* VTEP MAC derivation (see vxlan_mac.h). Deriving instead of storing means no
 * state file and the same MAC after a reboot or a re-created device. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "backend/vxlan_mac.h"

/* in holds the address (alen bytes) and room for the VNI after it. */
static int derive(unsigned char *in, size_t alen, uint32_t vni, uint8_t mac[6])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	for (int i = 0; i < 4; i++)
		in[alen + i] = (unsigned char)(vni >> (24 - 8 * i));
	if (EVP_Digest(in, alen + 4, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 5)
		return -EIO;
	mac[0] = 0x02;
	memcpy(mac + 1, md, 5);
	return 0;
}

int vxlan_vtep_mac(uint32_t public_ip, uint32_t vni, uint8_t mac[6])
{
	unsigned char in[8];

	for (int i = 0; i < 4; i++)
		in[i] = (unsigned char)(public_ip >> (24 - 8 * i));
	return derive(in, 4, vni, mac);
}

int vxlan_vtep_mac6(const struct in6_addr *public_ip6, uint32_t vni, uint8_t mac[6])
{
	unsigned char in[20];

	memcpy(in, public_ip6, 16);
	return derive(in, 16, vni, mac);
}
