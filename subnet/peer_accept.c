/* Peer lease acceptance rules (see peer_accept.h). */
#include "subnet/peer_accept.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *rule;
} verdicts[PEER_VERDICTS] = {
	[PEER_ACCEPTED] = {"ok", "accepted"},
	[PEER_REJ_VALUE] = {"value", "the value is not a lease"},
	[PEER_REJ_BACKEND] = {"backend", "BackendType is not vxlan"},
	[PEER_REJ_OUTSIDE] = {"outside", "the subnet is not inside Network"},
	[PEER_REJ_LENGTH] = {"length", "the prefix length is not SubnetLen"},
	[PEER_REJ_OWN_SUBNET] = {"own_subnet", "the subnet overlaps this node's subnet"},
	[PEER_REJ_OWN_IP] = {"own_ip", "PublicIP is this node's"},
	[PEER_REJ_PUBLIC_IP] = {"public_ip",
				"PublicIP is not a usable unicast address outside the overlay"},
	[PEER_REJ_MAC] = {"mac", "VtepMAC is missing, multicast or zero"},
	[PEER_REJ_VNI] = {"vni", "VNI differs from the network config"},
	[PEER_REJ_CONFLICT] = {"conflict", "the subnet overlaps an older accepted lease"},
	[PEER_REJ_FAMILY] = {"family",
			     "the key names no family, one the config lacks, or not the value's"},
	[PEER_REJ_OUTSIDE_IPV6] = {"outside_ipv6", "the IPv6 subnet is not inside IPv6Network"},
	[PEER_REJ_LENGTH_IPV6] = {"length_ipv6", "the IPv6 prefix length is not IPv6SubnetLen"},
	[PEER_REJ_OWN_SUBNET_IPV6] = {"own_subnet_ipv6",
				      "the IPv6 subnet overlaps this node's IPv6 subnet"},
	[PEER_REJ_OWN_IPV6] = {"own_ipv6", "PublicIPv6 is this node's"},
	[PEER_REJ_PUBLIC_IPV6] = {"public_ipv6",
				  "PublicIPv6 is not a usable unicast address outside the overlay"},
	[PEER_REJ_MAC_IPV6] = {"mac_ipv6", "BackendV6Data VtepMAC is missing, multicast or zero"},
	[PEER_REJ_VNI_IPV6] = {"vni_ipv6", "BackendV6Data VNI differs from the network config"},
	[PEER_REJ_CONFLICT_IPV6] = {"conflict_ipv6", "the IPv6 subnet overlaps an older lease's"},
};

const char *peer_verdict_name(enum peer_verdict v)
{
	return (unsigned)v < PEER_VERDICTS ? verdicts[v].name : "unknown";
}

const char *peer_verdict_rule(enum peer_verdict v)
{
	return (unsigned)v < PEER_VERDICTS ? verdicts[v].rule : "unknown";
}

bool peer_ip_usable(uint32_t a)
{
	uint8_t hi = (uint8_t)(a >> 24);

	/* 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4
	 * reserved and broadcast, 169.254/16 link-local. */
	return hi != 0 && hi != 127 && hi < 224 && (a >> 16) != 0xa9fe;
}

bool peer_mac_usable(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	/* The group bit covers multicast and broadcast. */
	return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

/* The IPv4 rules after value and backend. */
static enum peer_verdict accept_v4(const struct peer_accept_ctx *ctx, const struct peer_cand *c)
{
	const struct lease_attrs *a = &c->attrs;

	if (c->subnet.prefix > 32 || !ip4_net_is_canonical(&c->subnet) ||
	    !ip4_net_contains_net(&ctx->nc->network, &c->subnet))
		return PEER_REJ_OUTSIDE;
	if (c->subnet.prefix != ctx->nc->subnet_len)
		return PEER_REJ_LENGTH;
	if (ctx->has_own && ip4_net_overlaps(&ctx->own, &c->subnet))
		return PEER_REJ_OWN_SUBNET;
	if (a->public_ip == ctx->public_ip)
		return PEER_REJ_OWN_IP;
	if (!peer_ip_usable(a->public_ip) || ip4_net_contains(&ctx->nc->network, a->public_ip))
		return PEER_REJ_PUBLIC_IP;
	if (!a->has_vtep_mac || !peer_mac_usable(a->vtep_mac))
		return PEER_REJ_MAC;
	if (a->vni != ctx->nc->vni)
		return PEER_REJ_VNI;
	return PEER_ACCEPTED;
}

enum peer_verdict peer_accept_one(const struct peer_accept_ctx *ctx, const struct peer_cand *c)
{
	if (!c->decoded)
		return PEER_REJ_VALUE;
	if (strcmp(c->attrs.backend_type, "vxlan") != 0)
		return PEER_REJ_BACKEND;
	return accept_v4(ctx, c);
}

/* A total order on everything that can tell two leases apart, so that the
 * winner never depends on the order of the input. */
static int cand_cmp_age(const struct peer_cand *a, const struct peer_cand *b)
{
	int c;

	if (a->create_rev != b->create_rev)
		return a->create_rev < b->create_rev ? -1 : 1;
	c = strcmp(a->key ? a->key : "", b->key ? b->key : "");
	if (c)
		return c;
	if (a->attrs.public_ip != b->attrs.public_ip)
		return a->attrs.public_ip < b->attrs.public_ip ? -1 : 1;
	if (a->attrs.vni != b->attrs.vni)
		return a->attrs.vni < b->attrs.vni ? -1 : 1;
	return memcmp(a->attrs.vtep_mac, b->attrs.vtep_mac, 6);
}

bool peer_cand_older(const struct peer_cand *a, const struct peer_cand *b)
{
	return cand_cmp_age(a, b) < 0;
}

/* By subnet address, then age: the first of each address wins. */
static int idx_cmp(const void *x, const void *y, void *data)
{
	const struct peer_cand *cands = data;
	const struct peer_cand *a = &cands[*(const size_t *)x], *b = &cands[*(const size_t *)y];

	if (a->subnet.addr != b->subnet.addr)
		return a->subnet.addr < b->subnet.addr ? -1 : 1;
	return cand_cmp_age(a, b);
}

int peer_accept_set(const struct peer_accept_ctx *ctx, const struct peer_cand *cands, size_t n,
		    enum peer_verdict *out)
{
	size_t *idx, m = 0;

	idx = malloc((n ? n : 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		out[i] = peer_accept_one(ctx, &cands[i]);
		if (out[i] == PEER_ACCEPTED)
			idx[m++] = i;
	}
	/* Survivors are aligned and all of SubnetLen: two overlap only when
	 * their addresses are equal. */
	qsort_r(idx, m, sizeof(*idx), idx_cmp, (void *)cands);
	for (size_t i = 1; i < m; i++)
		if (cands[idx[i]].subnet.addr == cands[idx[i - 1]].subnet.addr)
			out[idx[i]] = PEER_REJ_CONFLICT;
	free(idx);
	return 0;
}

bool peer_ip6_usable(const struct in6_addr *a)
{
	return ip6_addr_usable(a);
}

/* Families: the key's must be a non-empty subset of the config's (a node
 * of a dual-stack network without an IPv6 address holds an IPv4-only
 * lease), and the value must carry exactly the key's (PublicIP 0.0.0.0 and
 * no BackendData mean no IPv4). */
static bool families_match(const struct netconf *nc, const struct peer_cand_any *c)
{
	const struct lease_key *k = &c->subnets;
	const struct lease_attrs *a = &c->attrs;

	if ((!k->has_v4 && !k->has_v6) || (k->has_v4 && !nc->enable_ipv4) ||
	    (k->has_v6 && !nc->enable_ipv6))
		return false;
	if (k->has_v6 ? !a->has_public_ipv6 : (a->has_public_ipv6 || a->has_vtep_mac6))
		return false;
	return k->has_v4 || (a->public_ip == 0 && !a->has_vtep_mac);
}

static enum peer_verdict accept_v6(const struct peer_accept_ctx_any *ctx,
				   const struct peer_cand_any *c)
{
	const struct ip6_net *sn = &c->subnets.v6;
	const struct lease_attrs *a = &c->attrs;
	const struct netconf *nc = ctx->v4.nc;

	if (sn->len > 128 || !ip6_net_is_canonical(sn) ||
	    !ip6_net_contains_net(&nc->ipv6_network, sn))
		return PEER_REJ_OUTSIDE_IPV6;
	if (sn->len != nc->ipv6_subnet_len)
		return PEER_REJ_LENGTH_IPV6;
	if (ctx->has_own6 && ip6_net_overlaps(&ctx->own6, sn))
		return PEER_REJ_OWN_SUBNET_IPV6;
	if (ctx->has_public_ipv6 && ip6_addr_equal(&a->public_ipv6, &ctx->public_ipv6))
		return PEER_REJ_OWN_IPV6;
	if (!peer_ip6_usable(&a->public_ipv6) ||
	    ip6_net_contains(&nc->ipv6_network, &a->public_ipv6))
		return PEER_REJ_PUBLIC_IPV6;
	if (!a->has_vtep_mac6 || !peer_mac_usable(a->vtep_mac6))
		return PEER_REJ_MAC_IPV6;
	if (a->vni6 != nc->vni)
		return PEER_REJ_VNI_IPV6;
	return PEER_ACCEPTED;
}

enum peer_verdict peer_accept_one_any(const struct peer_accept_ctx_any *ctx,
				      const struct peer_cand_any *c)
{
	enum peer_verdict v;

	if (!c->decoded)
		return PEER_REJ_VALUE;
	if (strcmp(c->attrs.backend_type, "vxlan") != 0)
		return PEER_REJ_BACKEND;
	if (!families_match(ctx->v4.nc, c))
		return PEER_REJ_FAMILY;
	if (c->subnets.has_v4) {
		struct peer_cand c4 = {.subnet = c->subnets.v4, .decoded = true, .attrs = c->attrs};

		v = accept_v4(&ctx->v4, &c4);
		if (v != PEER_ACCEPTED)
			return v;
	}
	return c->subnets.has_v6 ? accept_v6(ctx, c) : PEER_ACCEPTED;
}

/* Age order for the *_any set: revision, key, then the value's fields. */
static int any_cmp_age(const struct peer_cand_any *a, const struct peer_cand_any *b)
{
	int c;

	if (a->create_rev != b->create_rev)
		return a->create_rev < b->create_rev ? -1 : 1;
	c = strcmp(a->key ? a->key : "", b->key ? b->key : "");
	if (c)
		return c;
	/* Only leases with identical keys get here: break ties on the value. */
	c = memcmp(&a->attrs.public_ipv6, &b->attrs.public_ipv6, sizeof(a->attrs.public_ipv6));
	if (c)
		return c;
	if (a->attrs.public_ip != b->attrs.public_ip)
		return a->attrs.public_ip < b->attrs.public_ip ? -1 : 1;
	c = memcmp(a->attrs.vtep_mac, b->attrs.vtep_mac, 6);
	return c ? c : memcmp(a->attrs.vtep_mac6, b->attrs.vtep_mac6, 6);
}

struct any_sort {
	const struct peer_cand_any *cands;
	bool v6;
};

/* By the subnet address of one family, then age. */
static int any_idx_cmp(const void *x, const void *y, void *data)
{
	const struct any_sort *s = data;
	const struct peer_cand_any *a = &s->cands[*(const size_t *)x];
	const struct peer_cand_any *b = &s->cands[*(const size_t *)y];
	int c;

	if (s->v6)
		c = memcmp(&a->subnets.v6.addr, &b->subnets.v6.addr, sizeof(a->subnets.v6.addr));
	else
		c = a->subnets.v4.addr == b->subnets.v4.addr  ? 0
		    : a->subnets.v4.addr < b->subnets.v4.addr ? -1
							      : 1;
	return c ? c : any_cmp_age(a, b);
}

static bool same_subnet(const struct peer_cand_any *a, const struct peer_cand_any *b, bool v6)
{
	return v6 ? ip6_addr_equal(&a->subnets.v6.addr, &b->subnets.v6.addr)
		  : a->subnets.v4.addr == b->subnets.v4.addr;
}

/* Among the m leases of idx that carry the family, all but the oldest of
 * each subnet lose: lost[i] set. Survivors are aligned and of one length,
 * so overlapping means equal. */
static void mark_conflicts(const struct peer_cand_any *cands, size_t *idx, size_t m, bool v6,
			   bool *lost)
{
	struct any_sort s = {cands, v6};
	size_t k = 0;

	for (size_t i = 0; i < m; i++)
		if (v6 ? cands[idx[i]].subnets.has_v6 : cands[idx[i]].subnets.has_v4)
			idx[k++] = idx[i];
	qsort_r(idx, k, sizeof(*idx), any_idx_cmp, &s);
	for (size_t i = 1; i < k; i++)
		if (same_subnet(&cands[idx[i - 1]], &cands[idx[i]], v6))
			lost[idx[i]] = true;
}

int peer_accept_set_any(const struct peer_accept_ctx_any *ctx, const struct peer_cand_any *cands,
			size_t n, enum peer_verdict *out)
{
	size_t *idx, *pass, m = 0;
	bool *lost4, *lost6;
	int ret = -ENOMEM;

	idx = malloc((n ? n : 1) * sizeof(*idx));
	pass = malloc((n ? n : 1) * sizeof(*pass));
	lost4 = calloc(n ? n : 1, sizeof(*lost4));
	lost6 = calloc(n ? n : 1, sizeof(*lost6));
	if (!idx || !pass || !lost4 || !lost6)
		goto out;
	for (size_t i = 0; i < n; i++) {
		out[i] = peer_accept_one_any(ctx, &cands[i]);
		if (out[i] == PEER_ACCEPTED)
			pass[m++] = i;
	}
	/* Both families judge the same set, so neither pass depends on the
	 * other's outcome (nor on the input order). */
	memcpy(idx, pass, m * sizeof(*idx));
	mark_conflicts(cands, idx, m, false, lost4);
	memcpy(idx, pass, m * sizeof(*idx));
	mark_conflicts(cands, idx, m, true, lost6);
	for (size_t i = 0; i < m; i++) {
		if (lost4[pass[i]])
			out[pass[i]] = PEER_REJ_CONFLICT;
		else if (lost6[pass[i]])
			out[pass[i]] = PEER_REJ_CONFLICT_IPV6;
	}
	ret = 0;
out:
	free(idx);
	free(pass);
	free(lost4);
	free(lost6);
	return ret;
}
