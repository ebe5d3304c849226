/* Lease key and value. The value must match flannel's Go encoding byte for
 * byte (etcdctl users and mixed clusters compare them), so it is built with
 * jansson in a fixed key order and compact separators. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/util.h"
#include "subnet/jsonx.h"
#include "subnet/lease.h"

#define SUBNETS_DIR "/subnets/"

/* Length of prefix without trailing slashes: flannel joins with path.Join,
 * so "/coreos.com/network/" and "/coreos.com/network" name the same keys. */
static size_t prefix_len(const char *prefix)
{
	size_t n = strlen(prefix);

	while (n > 0 && prefix[n - 1] == '/')
		n--;
	return n;
}

int lease_key_format(const char *prefix, const struct ip4_net *sn, char *buf, size_t len)
{
	char a[IP4_ADDR_STRLEN];
	int n;

	ip4_format_addr(ip4_net_first(sn), a);
	n = snprintf(buf, len, "%.*s" SUBNETS_DIR "%s-%u", (int)prefix_len(prefix), prefix, a,
		     sn->prefix);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* One hex digit, either case; -1 otherwise. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* IPv6 part of a dual-stack key, "fc00:0:0:1::-64": lower-case hex and
 * colons, '-', prefix as flannel reads it (7 bits). Only its shape is
 * checked; weft uses the IPv4 part. */
static bool v6_part_ok(const char *s)
{
	const char *dash = strrchr(s, '-');
	bool colon = false;
	uint64_t plen;

	if (!dash || dash == s)
		return false;
	for (const char *p = s; p < dash; p++) {
		if (*p == ':')
			colon = true;
		else if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	}
	for (const char *p = dash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
	}
	return colon && parse_u64(dash + 1, 0, 127, &plen) == 0;
}

/* "a.b.c.d-n" of len bytes: canonical, n at most 31 (flannel reads the
 * prefix length as 5 bits: /32 never names a lease). */
static int parse_v4_part(const char *s, size_t len, struct ip4_net *out)
{
	char v4[IP4_NET_STRLEN];
	char *dash;
	struct ip4_net n;

	if (len >= sizeof(v4))
		return -EINVAL;
	memcpy(v4, s, len);
	v4[len] = '\0';
	dash = strchr(v4, '-');
	if (!dash)
		return -EINVAL;
	*dash = '/';
	if (ip4_parse_net(v4, &n) || n.prefix > 31 || !ip4_net_is_canonical(&n))
		return -EINVAL;
	*out = n;
	return 0;
}

/* "fd00:10:244:3::-64" of len bytes: the canonical text only, n <= 127.
 * IPv4-mapped subnets print with a dotted quad, so they never pass. */
static int parse_v6_part(const char *s, size_t len, struct ip6_net *out)
{
	char v6[IP6_NET_STRLEN], canon[IP6_NET_STRLEN];
	char *dash;
	struct ip6_net n;

	if (len >= sizeof(v6))
		return -EINVAL;
	memcpy(v6, s, len);
	v6[len] = '\0';
	dash = strrchr(v6, '-');
	/* flannel's key pattern allows hex and colons only (no dotted quad). */
	if (!dash || strspn(v6, "0123456789abcdef:") != (size_t)(dash - v6))
		return -EINVAL;
	*dash = '/';
	if (ip6_parse_net(v6, &n) || n.len > 127 || !ip6_net_is_canonical(&n))
		return -EINVAL;
	ip6_format_net(&n, canon);
	if (strcmp(canon, v6) != 0)
		return -EINVAL;
	*out = n;
	return 0;
}

/* The part of key after "<prefix>/subnets/", or NULL. */
static const char *key_tail(const char *prefix, const char *key)
{
	size_t plen = prefix_len(prefix), dlen = strlen(SUBNETS_DIR);

	if (strncmp(key, prefix, plen) != 0 || strncmp(key + plen, SUBNETS_DIR, dlen) != 0)
		return NULL;
	return key + plen + dlen;
}

int lease_key_parse(const char *prefix, const char *key, struct ip4_net *sn)
{
	const char *s = key_tail(prefix, key), *amp;
	struct ip4_net n;

	if (!s)
		return -EINVAL;
	amp = strchr(s, '&');
	if (parse_v4_part(s, amp ? (size_t)(amp - s) : strlen(s), &n))
		return -EINVAL;
	if (amp && !v6_part_ok(amp + 1))
		return -EINVAL;
	*sn = n;
	return 0;
}

int lease_key_parse_any(const char *prefix, const char *key, struct lease_key *out)
{
	const char *s = key_tail(prefix, key), *amp;
	struct lease_key k = {0};

	if (!s)
		return -EINVAL;
	amp = strchr(s, '&');
	if (amp) {
		k.has_v4 = k.has_v6 = true;
		if (parse_v4_part(s, (size_t)(amp - s), &k.v4) ||
		    parse_v6_part(amp + 1, strlen(amp + 1), &k.v6))
			return -EINVAL;
	} else if (strchr(s, ':')) {
		k.has_v6 = true;
		if (parse_v6_part(s, strlen(s), &k.v6))
			return -EINVAL;
	} else {
		k.has_v4 = true;
		if (parse_v4_part(s, strlen(s), &k.v4))
			return -EINVAL;
	}
	*out = k;
	return 0;
}

int lease_key_format_any(const char *prefix, const struct lease_key *k, char *buf, size_t len)
{
	char a4[IP4_ADDR_STRLEN], a6[IP6_ADDR_STRLEN];
	struct ip6_net v6;
	int n;

	if (!k->has_v6)
		return k->has_v4 ? lease_key_format(prefix, &k->v4, buf, len) : -EINVAL;
	v6 = ip6_net_canonical(&k->v6);
	ip6_format_addr(&v6.addr, a6);
	if (k->has_v4) {
		ip4_format_addr(ip4_net_first(&k->v4), a4);
		n = snprintf(buf, len, "%.*s" SUBNETS_DIR "%s-%u&%s-%u", (int)prefix_len(prefix),
			     prefix, a4, k->v4.prefix, a6, v6.len);
	} else {
		n = snprintf(buf, len, "%.*s" SUBNETS_DIR "%s-%u", (int)prefix_len(prefix), prefix,
			     a6, v6.len);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

void mac_format(const uint8_t mac[6], char buf[static MAC_STRLEN])
{
	snprintf(buf, MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

/* Go's net.ParseMAC forms for 6 bytes: xx:xx:xx:xx:xx:xx, xx-xx-xx-xx-xx-xx
 * and xxxx.xxxx.xxxx, either case. */
int mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	size_t len = s ? strlen(s) : 0;

	if (len == MAC_STRLEN - 1) {
		char sep = s[2];

		if (sep != ':' && sep != '-')
			return -EINVAL;
		for (int i = 0; i < 6; i++) {
			int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);

			if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != sep))
				return -EINVAL;
			m[i] = (uint8_t)(hi << 4 | lo);
		}
	} else if (len == 14) {
		for (int i = 0; i < 6; i++) {
			const char *p = s + (i / 2) * 5 + (i % 2) * 2;
			int hi = hexval(p[0]), lo = hexval(p[1]);

			if (hi < 0 || lo < 0)
				return -EINVAL;
			m[i] = (uint8_t)(hi << 4 | lo);
		}
		if (s[4] != '.' || s[9] != '.')
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	memcpy(mac, m, sizeof(m));
	return 0;
}

/* {"VNI":n,"VtepMAC":"xx:.."} set as key of root: 0 or -ENOMEM. */
static int set_vxlan_data(json_t *root, const char *key, uint32_t vni, const uint8_t mac[6])
{
	char m[MAC_STRLEN];
	json_t *data = json_object();
	int ret = -ENOMEM;

	mac_format(mac, m);
	if (data && !json_object_set_new(data, "VNI", json_integer(vni)) &&
	    !json_object_set_new(data, "VtepMAC", json_string(m)) &&
	    !json_object_set(root, key, data))
		ret = 0;
	json_decref(data);
	return ret;
}

char *lease_attrs_encode(const struct lease_attrs *a)
{
	char ip[IP4_ADDR_STRLEN], ip6[IP6_ADDR_STRLEN];
	json_t *root;
	char *out = NULL;

	ip4_format_addr(a->public_ip, ip);
	root = json_object();
	if (!root)
		return NULL;
	if (a->has_public_ipv6)
		ip6_format_addr(&a->public_ipv6, ip6);
	if (json_object_set_new(root, "PublicIP", json_string(ip)) ||
	    json_object_set_new(root, "PublicIPv6",
				a->has_public_ipv6 ? json_string(ip6) : json_null()))
		goto out_root;
	/* Go's omitempty: no BackendType when empty, no data objects without data. */
	if (a->backend_type[0] &&
	    json_object_set_new(root, "BackendType", json_string(a->backend_type)))
		goto out_root;
	if (a->has_vtep_mac && set_vxlan_data(root, "BackendData", a->vni, a->vtep_mac))
		goto out_root;
	if (a->has_vtep_mac6 && set_vxlan_data(root, "BackendV6Data", a->vni6, a->vtep_mac6))
		goto out_root;
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
out_root:
	json_decref(root);
	return out;
}

static int decode_vxlan_data(json_t *data, uint32_t *vni_out, uint8_t mac_out[6], bool *has_mac)
{
	json_t *vni, *mac;

	if (!json_is_object(data))
		return -EINVAL;
	vni = jsonx_get_ci(data, "VNI");
	if (vni) {
		if (!json_is_integer(vni) || json_integer_value(vni) < 0 ||
		    json_integer_value(vni) > UINT32_MAX)
			return -EINVAL;
		*vni_out = (uint32_t)json_integer_value(vni);
	}
	mac = jsonx_get_ci(data, "VtepMAC");
	if (mac) {
		if (!json_is_string(mac) || mac_parse(json_string_value(mac), mac_out))
			return -EINVAL;
		*has_mac = true;
	}
	return 0;
}

/* PublicIPv6: absent or null means none; anything else must be an address
 * (Go's decoder fails the whole value otherwise). */
static int decode_public_ipv6(json_t *root, struct lease_attrs *a)
{
	json_t *v = jsonx_get_ci(root, "PublicIPv6");

	if (!v)
		return 0;
	if (!json_is_string(v) || ip6_parse_addr(json_string_value(v), &a->public_ipv6))
		return -EINVAL;
	a->has_public_ipv6 = true;
	return 0;
}

int lease_attrs_decode(const char *json, size_t len, struct lease_attrs *out)
{
	struct lease_attrs a = {0};
	json_t *root, *v;
	int ret = -EINVAL;

	root = json_loadb(json, len, JSON_DECODE_ANY, NULL);
	if (!root)
		return -EINVAL;
	if (!json_is_object(root))
		goto out_root;
	v = jsonx_get_ci(root, "PublicIP");
	if (!json_is_string(v) || ip4_parse_addr(json_string_value(v), &a.public_ip))
		goto out_root;
	v = jsonx_get_ci(root, "BackendType");
	if (v) {
		const char *t = json_string_value(v);
		size_t n = t ? strlen(t) : 0;

		if (!t)
			goto out_root;
		/* Truncation keeps an over-long type distinct from "vxlan"; it cuts
		 * before a split UTF-8 sequence so the type still encodes. */
		if (n >= sizeof(a.backend_type)) {
			n = sizeof(a.backend_type) - 1;
			while (n && ((unsigned char)t[n] & 0xc0) == 0x80)
				n--;
		}
		memcpy(a.backend_type, t, n);
		a.backend_type[n] = '\0';
	}
	if (decode_public_ipv6(root, &a))
		goto out_root;
	if (strcmp(a.backend_type, "vxlan") == 0) {
		v = jsonx_get_ci(root, "BackendData");
		if (v && decode_vxlan_data(v, &a.vni, a.vtep_mac, &a.has_vtep_mac))
			goto out_root;
		v = jsonx_get_ci(root, "BackendV6Data");
		if (v && decode_vxlan_data(v, &a.vni6, a.vtep_mac6, &a.has_vtep_mac6))
			goto out_root;
	}
	*out = a;
	ret = 0;
out_root:
	json_decref(root);
	return ret;
}
