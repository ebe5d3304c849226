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

enum peer_verdict peer_accept_one(const struct peer_accept_ctx *ctx, const struct peer_cand *c)
{
	const struct lease_attrs *a = &c->attrs;

	if (!c->decoded)
		return PEER_REJ_VALUE;
	if (strcmp(a->backend_type, "vxlan") != 0)
		return PEER_REJ_BACKEND;
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
