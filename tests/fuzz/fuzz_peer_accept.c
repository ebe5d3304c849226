/* Peer acceptance (peer_accept_set) and the allocator (subnet_pick_free)
 * over random lease sets, against a fixed config (10.244.0.0/16, /24s, VNI
 * 1), own subnet 10.244.3.0/24 and PublicIP 198.18.0.1. Properties: nothing
 * accepted lies outside the network, overlaps the own subnet or another
 * accepted lease, or has a bad PublicIP, VtepMAC, VNI or backend; a lease
 * rejected for a conflict overlaps an older accepted one; the verdicts do
 * not depend on the order of the set; a drawn subnet overlaps no lease.
 *
 * Input: records of 16 bytes, one lease each:
 *   0     flags: bit 0 subnet inside 10.244/16, bit 1 not decoded,
 *         bit 2 other backend, bit 3 no MAC, bits 4-5 PublicIP kind
 *   1-4   subnet address (bytes 3-4 only when inside 10.244/16)
 *   5     prefix length (mod 33)
 *   6-9   PublicIP
 *   10-12 MAC bytes 0, 4 and 5 (others fixed)
 *   13    VNI (mod 4)
 *   14    create revision (mod 8: ties happen)
 *   15    key number (mod 8: equal keys happen)
 */
#include "tests/fuzz/fuzz.h"

#include "subnet/peer_accept.h"
#include "subnet/subnet_pick.h"

#define REC	 16
#define MAX_CAND 256
#define OWN_IP	 0xc6120001u /* 198.18.0.1 */

static const char *const keys[8] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};

static void decode(const uint8_t *r, struct peer_cand *c)
{
	uint32_t ip = (uint32_t)r[6] << 24 | (uint32_t)r[7] << 16 | (uint32_t)r[8] << 8 | r[9];

	memset(c, 0, sizeof(*c));
	if (r[0] & 1)
		c->subnet.addr = 0x0af40000u | (uint32_t)r[3] << 8 | r[4];
	else
		c->subnet.addr =
			(uint32_t)r[1] << 24 | (uint32_t)r[2] << 16 | (uint32_t)r[3] << 8 | r[4];
	c->subnet.prefix = (uint8_t)(r[5] % 33);
	c->subnet = ip4_net_canonical(&c->subnet);
	c->decoded = !(r[0] & 2);
	strcpy(c->attrs.backend_type, r[0] & 4 ? "host-gw" : "vxlan");
	c->attrs.has_vtep_mac = !(r[0] & 8);
	switch ((r[0] >> 4) & 3) {
	case 0: /* an underlay address */
		ip = 0xc6120000u | (ip & 0xffff);
		break;
	case 1: /* inside the overlay */
		ip = 0x0af40000u | (ip & 0xffff);
		break;
	case 2:
		ip = OWN_IP;
		break;
	default:
		break;
	}
	c->attrs.public_ip = ip;
	c->attrs.vtep_mac[0] = r[10];
	c->attrs.vtep_mac[4] = r[11];
	c->attrs.vtep_mac[5] = r[12];
	c->attrs.vni = r[13] % 4;
	c->create_rev = r[14] % 8;
	c->key = keys[r[15] % 8];
}

static void check_accepted(const struct peer_accept_ctx *ctx, const struct peer_cand *c)
{
	const struct netconf *nc = ctx->nc;

	FUZZ_CHECK(c->decoded && strcmp(c->attrs.backend_type, "vxlan") == 0);
	FUZZ_CHECK(ip4_net_contains_net(&nc->network, &c->subnet));
	FUZZ_CHECK(c->subnet.prefix == nc->subnet_len && ip4_net_is_canonical(&c->subnet));
	FUZZ_CHECK(!ip4_net_overlaps(&ctx->own, &c->subnet));
	FUZZ_CHECK(c->attrs.public_ip != ctx->public_ip && peer_ip_usable(c->attrs.public_ip));
	FUZZ_CHECK(!ip4_net_contains(&nc->network, c->attrs.public_ip));
	FUZZ_CHECK(c->attrs.has_vtep_mac && peer_mac_usable(c->attrs.vtep_mac));
	FUZZ_CHECK(!(c->attrs.vtep_mac[0] & 1));
	FUZZ_CHECK(c->attrs.vni == nc->vni);
}

/* Another lease no rule can tell from c[i]: which of the two wins may
 * follow the order, and nothing else differs. */
static bool has_twin(const struct peer_cand *c, size_t n, size_t i)
{
	for (size_t k = 0; k < n; k++)
		if (k != i && c[k].subnet.addr == c[i].subnet.addr &&
		    !peer_cand_older(&c[k], &c[i]) && !peer_cand_older(&c[i], &c[k]))
			return true;
	return false;
}

static void check_set(const struct peer_accept_ctx *ctx, const struct peer_cand *c, size_t n,
		      const enum peer_verdict *v)
{
	for (size_t i = 0; i < n; i++) {
		bool beaten = false;

		if (v[i] == PEER_ACCEPTED)
			check_accepted(ctx, &c[i]);
		for (size_t j = 0; j < n; j++) {
			if (j == i || v[j] != PEER_ACCEPTED ||
			    !ip4_net_overlaps(&c[i].subnet, &c[j].subnet))
				continue;
			/* Two accepted leases never overlap. */
			FUZZ_CHECK(v[i] != PEER_ACCEPTED);
			/* The winner is older, or a twin (see has_twin). */
			if (!peer_cand_older(&c[i], &c[j]))
				beaten = true;
		}
		/* A conflict lost to an accepted lease at least as old;
		 * everything else broke a rule of its own. */
		if (v[i] == PEER_REJ_CONFLICT)
			FUZZ_CHECK(beaten && peer_accept_one(ctx, &c[i]) == PEER_ACCEPTED);
		else
			FUZZ_CHECK(v[i] == peer_accept_one(ctx, &c[i]));
	}
}

/* Drawn subnets overlap no lease that counts as taken. */
static void check_pick(const struct netconf *nc, const struct peer_cand *c, size_t n, uint64_t r)
{
	struct ip4_net taken[MAX_CAND], out;
	int ret;

	for (size_t i = 0; i < n; i++)
		taken[i] = c[i].subnet;
	ret = subnet_pick_free(nc, taken, n, r, &out);
	FUZZ_CHECK(ret == 0 || ret == -ENOSPC);
	if (ret)
		return;
	FUZZ_CHECK(netconf_subnet_valid(nc, &out));
	FUZZ_CHECK(subnet_is_free(nc, taken, n, &out));
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(!subnet_taken_by(nc, &taken[i]) || !ip4_net_overlaps(&taken[i], &out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char json[] =
		"{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}";
	static struct peer_cand c[MAX_CAND], rev[MAX_CAND];
	static enum peer_verdict v[MAX_CAND], w[MAX_CAND];
	struct peer_accept_ctx ctx;
	struct netconf nc;
	size_t n = size / REC;
	uint64_t r = 0;

	if (n > MAX_CAND)
		n = MAX_CAND;
	FUZZ_CHECK(netconf_parse(json, sizeof(json) - 1, &nc, NULL, 0) == 0);
	ctx = (struct peer_accept_ctx){&nc, OWN_IP, true, {0x0af40300u, 24}};
	for (size_t i = 0; i < n; i++) {
		decode(data + i * REC, &c[i]);
		r = r * 31 + data[i * REC + 14];
	}
	FUZZ_CHECK(peer_accept_set(&ctx, c, n, v) == 0);
	check_set(&ctx, c, n, v);
	/* The same set reversed, and rotated by one: the same verdicts. */
	for (size_t i = 0; i < n; i++)
		rev[i] = c[n - 1 - i];
	FUZZ_CHECK(peer_accept_set(&ctx, rev, n, w) == 0);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(w[n - 1 - i] == v[i] || has_twin(c, n, i));
	for (size_t i = 0; i < n; i++)
		rev[i] = c[(i + 1) % n];
	FUZZ_CHECK(peer_accept_set(&ctx, rev, n, w) == 0);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(w[i] == v[(i + 1) % n] || has_twin(c, n, (i + 1) % n));
	check_pick(&nc, c, n, r);
	return 0;
}
