/* Peer acceptance for dual stack and IPv6 only (peer_accept_set_any) over
 * random lease sets. Config by the first byte: dual (10.244.0.0/16 and
 * fd00:10:244::/56), IPv6 only, or IPv4 only; own subnets 10.244.3.0/24 and
 * fd00:10:244:3::/64, own PublicIP 198.18.0.1 and PublicIPv6 2001:db8:18::1.
 * Properties: a verdict is the per-lease one, or a conflict lost to an
 * older lease passing the per-lease rules; accepted leases name a
 * non-empty subset of the config's families and break no IPv6 rule; no two accepted leases share a
 * subnet; the verdicts do not depend on the order of the set.
 *
 * Input: byte 0 picks the config, then records of 12 bytes:
 *   0  flags: bit 0 IPv4 in key, bit 1 IPv6 in key, bit 2 not decoded,
 *      bit 3 other backend, bit 4 no BackendV6Data, bit 5 PublicIPv6 set,
 *      bit 6 PublicIP 0.0.0.0, bit 7 no BackendData
 *   1  IPv4 subnet 10.244.<b>.0/24      2  IPv6 subnet fd00:10:244:<b>::
 *   3  IPv6 prefix 60 + b % 8           4  PublicIPv6 kind (mod 4) / low byte
 *   5  MAC6 byte 0                      6  MAC6 byte 5
 *   7  VNI6 (mod 3)                     8  create revision (mod 8)
 *   9  key number (mod 8)               10 PublicIP low byte
 *   11 MAC byte 5
 */
#include "tests/fuzz/fuzz.h"

#include "subnet/peer_accept.h"

#define REC	 12
#define MAX_CAND 128

static const char *const keys[8] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};

static void decode(const uint8_t *r, struct peer_cand_any *c)
{
	static const uint8_t v6net[8] = {0xfd, 0x00, 0x00, 0x10, 0x02, 0x44, 0x00, 0x00};
	static const uint8_t under[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x18, 0x00, 0x00};
	struct lease_attrs *a = &c->attrs;

	memset(c, 0, sizeof(*c));
	c->subnets.has_v4 = r[0] & 1;
	c->subnets.has_v6 = r[0] & 2;
	c->subnets.v4 = (struct ip4_net){0x0af40000u | (uint32_t)r[1] << 8, 24};
	memcpy(c->subnets.v6.addr.s6_addr, v6net, 8);
	c->subnets.v6.addr.s6_addr[7] = r[2];
	c->subnets.v6.len = (uint8_t)(60 + r[3] % 8);
	c->decoded = !(r[0] & 4);
	strcpy(a->backend_type, r[0] & 8 ? "host-gw" : "vxlan");
	a->has_vtep_mac6 = !(r[0] & 16);
	a->has_public_ipv6 = r[0] & 32;
	switch (r[4] % 4) {
	case 0: /* underlay */
		memcpy(a->public_ipv6.s6_addr, under, 8);
		break;
	case 1: /* inside the overlay */
		memcpy(a->public_ipv6.s6_addr, v6net, 8);
		break;
	case 2: /* link-local */
		a->public_ipv6.s6_addr[0] = 0xfe;
		a->public_ipv6.s6_addr[1] = 0x80;
		break;
	default: /* ::, ::1 .. or own */
		break;
	}
	a->public_ipv6.s6_addr[15] = r[4] / 4;
	a->vtep_mac6[0] = r[5];
	a->vtep_mac6[5] = r[6];
	a->vni6 = r[7] % 3;
	c->create_rev = r[8] % 8;
	c->key = keys[r[9] % 8];
	a->public_ip = r[0] & 64 ? 0 : 0xc6120000u | r[10];
	a->has_vtep_mac = !(r[0] & 128);
	a->vtep_mac[0] = 0x02;
	a->vtep_mac[5] = r[11];
	a->vni = 1;
}

static bool same4(const struct peer_cand_any *a, const struct peer_cand_any *b)
{
	return a->subnets.has_v4 && b->subnets.has_v4 && a->subnets.v4.addr == b->subnets.v4.addr;
}

static bool same6(const struct peer_cand_any *a, const struct peer_cand_any *b)
{
	return a->subnets.has_v6 && b->subnets.has_v6 &&
	       ip6_addr_equal(&a->subnets.v6.addr, &b->subnets.v6.addr);
}

static void check_accepted(const struct peer_accept_ctx_any *ctx, const struct peer_cand_any *c)
{
	const struct netconf *nc = ctx->v4.nc;
	const struct lease_attrs *a = &c->attrs;

	FUZZ_CHECK(c->subnets.has_v4 || c->subnets.has_v6);
	FUZZ_CHECK(!c->subnets.has_v4 || nc->enable_ipv4);
	FUZZ_CHECK(!c->subnets.has_v6 || nc->enable_ipv6);
	if (!c->subnets.has_v6)
		return;
	FUZZ_CHECK(ip6_net_contains_net(&nc->ipv6_network, &c->subnets.v6));
	FUZZ_CHECK(c->subnets.v6.len == nc->ipv6_subnet_len);
	FUZZ_CHECK(!ip6_net_overlaps(&ctx->own6, &c->subnets.v6));
	FUZZ_CHECK(a->has_public_ipv6 && peer_ip6_usable(&a->public_ipv6));
	FUZZ_CHECK(!ip6_addr_equal(&a->public_ipv6, &ctx->public_ipv6));
	FUZZ_CHECK(!ip6_net_contains(&nc->ipv6_network, &a->public_ipv6));
	FUZZ_CHECK(a->has_vtep_mac6 && peer_mac_usable(a->vtep_mac6) && a->vni6 == nc->vni);
}

/* Same subnets and no order between them: which one wins may follow the
 * input order. */
static bool has_twin(const struct peer_cand_any *c, size_t n, size_t i)
{
	for (size_t k = 0; k < n; k++)
		if (k != i && (same4(&c[k], &c[i]) || same6(&c[k], &c[i])) &&
		    c[k].create_rev == c[i].create_rev && strcmp(c[k].key, c[i].key) == 0)
			return true;
	return false;
}

static void check_set(const struct peer_accept_ctx_any *ctx, const struct peer_cand_any *c,
		      size_t n, const enum peer_verdict *v)
{
	for (size_t i = 0; i < n; i++) {
		enum peer_verdict one = peer_accept_one_any(ctx, &c[i]);

		if (v[i] == PEER_ACCEPTED)
			check_accepted(ctx, &c[i]);
		if (v[i] == PEER_REJ_CONFLICT || v[i] == PEER_REJ_CONFLICT_IPV6)
			FUZZ_CHECK(one == PEER_ACCEPTED);
		else
			FUZZ_CHECK(v[i] == one);
		for (size_t j = 0; j < n; j++) {
			if (j == i || v[j] != PEER_ACCEPTED || v[i] != PEER_ACCEPTED)
				continue;
			FUZZ_CHECK(!same4(&c[i], &c[j]) && !same6(&c[i], &c[j]));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const confs[3] = {
		("{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,"
		 "\"IPv6Network\":\"fd00:10:244::/56\"}"),
		"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00:10:244::/56\"}",
		"{\"Network\":\"10.244.0.0/16\"}",
	};
	static const uint8_t own6[16] = {0xfd, 0, 0, 0x10, 2, 0x44, 0, 3};
	static const uint8_t pub6[16] = {0x20, 1, 0x0d, 0xb8, 0, 0x18, 0, 0,
					 0,    0, 0,	0,    0, 0,    0, 1};
	static struct peer_cand_any c[MAX_CAND], rev[MAX_CAND];
	static enum peer_verdict v[MAX_CAND], w[MAX_CAND];
	struct peer_accept_ctx_any ctx;
	struct netconf nc;
	const char *conf;
	size_t n;

	if (size < 1)
		return 0;
	conf = confs[data[0] % 3];
	n = (size - 1) / REC;
	if (n > MAX_CAND)
		n = MAX_CAND;
	FUZZ_CHECK(netconf_parse_any(conf, strlen(conf), &nc, NULL, 0) == 0);
	memset(&ctx, 0, sizeof(ctx));
	ctx.v4 = (struct peer_accept_ctx){&nc, 0xc6120001u, true, {0x0af40300u, 24}};
	ctx.has_public_ipv6 = true;
	memcpy(ctx.public_ipv6.s6_addr, pub6, 16);
	ctx.has_own6 = true;
	memcpy(ctx.own6.addr.s6_addr, own6, 16);
	ctx.own6.len = 64;
	for (size_t i = 0; i < n; i++)
		decode(data + 1 + i * REC, &c[i]);
	FUZZ_CHECK(peer_accept_set_any(&ctx, c, n, v) == 0);
	check_set(&ctx, c, n, v);
	for (size_t i = 0; i < n; i++)
		rev[i] = c[n - 1 - i];
	FUZZ_CHECK(peer_accept_set_any(&ctx, rev, n, w) == 0);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(w[n - 1 - i] == v[i] || has_twin(c, n, i));
	return 0;
}
