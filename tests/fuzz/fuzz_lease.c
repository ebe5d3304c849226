/* Lease values and keys as they come out of etcd, written by any flannel
 * or weft node. A decoded value re-encodes to something that decodes to the
 * same lease; an accepted key or MAC formats back to its own spelling. */
#include <ctype.h>

#include "tests/fuzz/fuzz.h"

#include "subnet/lease.h"

#define PREFIX "/coreos.com/network"

static void check_value(const uint8_t *data, size_t size)
{
	struct lease_attrs a, b;
	char *enc;

	if (lease_attrs_decode((const char *)data, size, &a))
		return;
	enc = lease_attrs_encode(&a);
	FUZZ_CHECK(enc != NULL);
	FUZZ_CHECK(lease_attrs_decode(enc, strlen(enc), &b) == 0);
	FUZZ_CHECK(a.public_ip == b.public_ip);
	FUZZ_CHECK(strcmp(a.backend_type, b.backend_type) == 0);
	FUZZ_CHECK(a.has_vtep_mac == b.has_vtep_mac);
	/* The VNI travels only inside BackendData, which needs a MAC. */
	if (a.has_vtep_mac)
		FUZZ_CHECK(a.vni == b.vni && memcmp(a.vtep_mac, b.vtep_mac, 6) == 0);
	FUZZ_CHECK(a.has_public_ipv6 == b.has_public_ipv6 && a.has_vtep_mac6 == b.has_vtep_mac6);
	if (a.has_public_ipv6)
		FUZZ_CHECK(ip6_addr_equal(&a.public_ipv6, &b.public_ipv6));
	if (a.has_vtep_mac6)
		FUZZ_CHECK(a.vni6 == b.vni6 && memcmp(a.vtep_mac6, b.vtep_mac6, 6) == 0);
	free(enc);
}

/* Every family: an accepted key is its own canonical spelling, and the
 * IPv4 parser agrees on the IPv4 part. */
static void check_key_any(const char *key)
{
	struct lease_key k, again;
	struct ip4_net sn;
	char buf[256];

	if (lease_key_parse_any(PREFIX, key, &k))
		return;
	FUZZ_CHECK(k.has_v4 || k.has_v6);
	if (k.has_v6)
		FUZZ_CHECK(ip6_net_is_canonical(&k.v6) && k.v6.len <= 127);
	FUZZ_CHECK(lease_key_format_any(PREFIX "/", &k, buf, sizeof(buf)) == 0);
	FUZZ_CHECK(strcmp(buf, key) == 0);
	FUZZ_CHECK(lease_key_parse_any(PREFIX "//", buf, &again) == 0);
	FUZZ_CHECK(again.has_v4 == k.has_v4 && again.has_v6 == k.has_v6);
	if (k.has_v4)
		FUZZ_CHECK(lease_key_parse(PREFIX, key, &sn) == 0 && ip4_net_equal(&sn, &k.v4));
	else
		FUZZ_CHECK(lease_key_parse(PREFIX, key, &sn) == -EINVAL);
}

static void check_key(const char *key)
{
	struct ip4_net sn, again;
	const char *amp;
	char buf[256];
	size_t v4len;

	if (lease_key_parse(PREFIX, key, &sn))
		return;
	FUZZ_CHECK(ip4_net_is_canonical(&sn) && sn.prefix <= 31);
	/* path.Join semantics: a trailing slash on the prefix changes nothing. */
	FUZZ_CHECK(lease_key_parse(PREFIX "//", key, &again) == 0 && ip4_net_equal(&sn, &again));
	FUZZ_CHECK(lease_key_format(PREFIX "/", &sn, buf, sizeof(buf)) == 0);
	amp = strchr(key, '&');
	v4len = amp ? (size_t)(amp - key) : strlen(key);
	FUZZ_CHECK(strlen(buf) == v4len && memcmp(buf, key, v4len) == 0);
	FUZZ_CHECK(lease_key_parse(PREFIX, buf, &again) == 0 && ip4_net_equal(&sn, &again));
}

static void check_mac(const char *s)
{
	uint8_t mac[6], again[6];
	char buf[MAC_STRLEN];

	if (mac_parse(s, mac))
		return;
	mac_format(mac, buf);
	FUZZ_CHECK(mac_parse(buf, again) == 0 && memcmp(mac, again, 6) == 0);
	if (strlen(s) == MAC_STRLEN - 1 && s[2] == ':') {
		for (size_t i = 0; i < MAC_STRLEN - 1; i++)
			FUZZ_CHECK(buf[i] == tolower((unsigned char)s[i]));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	check_value(data, size);
	s = fuzz_cstr(data, size);
	check_key(s);
	check_key_any(s);
	check_mac(s);
	free(s);
	return 0;
}
