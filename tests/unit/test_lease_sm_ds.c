/* The lease manager with dual-stack and IPv6-only configs, against the
 * in-memory etcd: the own lease is one key naming a subnet of each enabled
 * family, created in one txn, reused whole, never half; peers are judged by
 * their families. Also the IPv6 subnet picker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kv_fake.c"
#include "subnet/lease.h"
#include "subnet/leasemgr.h"
#include "subnet/subnet_pick.h"

#define P	"/coreos.com/network"
#define CONFIG	P "/config"
#define SUBNETS P "/subnets/"
#define NET_DS                                                                                     \
	"{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"fd00:10:244::/56\"," \
	"\"Backend\":{\"Type\":\"vxlan\"}}"
/* Three IPv6 subnets (fd00:10:244:1::/64 to :3::/64), 255 IPv4 ones. */
#define NET_DS_SMALL6                                                                              \
	"{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,\"IPv6Network\":\"fd00:10:244::/62\"," \
	"\"Backend\":{\"Type\":\"vxlan\"}}"
#define NET_V6                                                                            \
	"{\"EnableIPv4\":false,\"EnableIPv6\":true,\"IPv6Network\":\"fd00:10:244::/56\"," \
	"\"Backend\":{\"Type\":\"vxlan\"}}"
#define NET16	"{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}"
#define OWN_IP	0xc6120001u /* 198.18.0.1 */
#define OWN_IP6 "2001:db8:18::1"
#define TTL	30
#define VDS(ip, ip6, mac, mac6)                                                             \
	"{\"PublicIP\":\"" ip "\",\"PublicIPv6\":\"" ip6 "\",\"BackendType\":\"vxlan\","    \
	"\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"" mac "\"},\"BackendV6Data\":{\"VNI\":1," \
	"\"VtepMAC\":\"" mac6 "\"}}"
#define V6ONLY(ip6, mac6)                                                                 \
	"{\"PublicIP\":\"0.0.0.0\",\"PublicIPv6\":\"" ip6 "\",\"BackendType\":\"vxlan\"," \
	"\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"" mac6 "\"}}"
#define V4(ip, mac)                                                                                \
	"{\"PublicIP\":\"" ip "\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{" \
	"\"VNI\":1,\"VtepMAC\":\"" mac "\"}}"
#define PEER9  VDS("198.18.0.9", "2001:db8:18::9", "02:00:00:00:00:09", "02:00:00:00:06:09")
#define PEER8  VDS("198.18.0.8", "2001:db8:18::8", "02:00:00:00:00:08", "02:00:00:00:06:08")
#define OWN_DS VDS("198.18.0.1", OWN_IP6, "02:aa:00:00:00:01", "02:bb:00:00:00:01")

static const uint8_t own_mac[6] = {0x02, 0xaa, 0, 0, 0, 0x01};
static const uint8_t own_mac6[6] = {0x02, 0xbb, 0, 0, 0, 0x01};

struct seen {
	int acquired, lost, added, updated, removed, synced, fatal;
	struct lease_key acq, last_added, last_updated, last_removed;
	struct lease_attrs last_attrs;
};

struct fx {
	struct kv_fake *f;
	struct leasemgr *m;
	struct seen s;
	struct leasemgr_config cfg;
};

static void on_acquired(void *d, const struct lease_key *k, const struct lease_attrs *a)
{
	struct seen *s = d;

	s->acquired++;
	s->acq = *k;
}

static void on_lost(void *d, const struct lease_key *k)
{
	((struct seen *)d)->lost++;
}

static void on_added(void *d, const struct lease_key *k, const struct lease_attrs *a)
{
	struct seen *s = d;

	s->added++;
	s->last_added = *k;
	s->last_attrs = *a;
}

static void on_updated(void *d, const struct lease_key *k, const struct lease_attrs *a)
{
	struct seen *s = d;

	s->updated++;
	s->last_updated = *k;
	s->last_attrs = *a;
}

static void on_removed(void *d, const struct lease_key *k)
{
	((struct seen *)d)->removed++;
	((struct seen *)d)->last_removed = *k;
}

static void on_synced(void *d)
{
	((struct seen *)d)->synced++;
}

static void on_fatal(void *d, int err, const char *why)
{
	((struct seen *)d)->fatal++;
}

/* What weftd's backend publishes: a MAC per enabled family. */
static int backend_data(void *d, const struct netconf *nc, struct lease_attrs *a)
{
	a->vni = nc->vni;
	memcpy(a->vtep_mac, own_mac, 6);
	a->has_vtep_mac = nc->enable_ipv4;
	a->vni6 = nc->vni;
	memcpy(a->vtep_mac6, own_mac6, 6);
	a->has_vtep_mac6 = nc->enable_ipv6;
	return 0;
}

static const struct leasemgr_ops ops = {
	.on_lease_acquired = on_acquired,
	.on_lease_lost = on_lost,
	.on_peer_added = on_added,
	.on_peer_updated = on_updated,
	.on_peer_removed = on_removed,
	.on_peers_synced = on_synced,
	.on_fatal = on_fatal,
};

static struct ip6_net net6(const char *s)
{
	struct ip6_net n;

	assert_int_equal(ip6_parse_net(s, &n), 0);
	return n;
}

static struct ip4_net net4(const char *s)
{
	struct ip4_net n;

	assert_int_equal(ip4_parse_net(s, &n), 0);
	return n;
}

static void fx_init(struct fx *x, const char *config_json)
{
	memset(x, 0, sizeof(*x));
	x->f = kv_fake_new();
	if (config_json)
		kv_fake_put(x->f, CONFIG, config_json, 0);
	x->cfg = (struct leasemgr_config){.prefix = P,
					  .public_ip = OWN_IP,
					  .ttl_s = TTL,
					  .backend_type = "vxlan",
					  .backend_data = backend_data,
					  .allow_ipv6 = true,
					  .has_public_ipv6 = true};
	assert_int_equal(ip6_parse_addr(OWN_IP6, &x->cfg.public_ipv6), 0);
}

static void fx_start(struct fx *x)
{
	struct kv kv = kv_fake_kv(x->f);

	leasemgr_free(x->m);
	memset(&x->s, 0, sizeof(x->s));
	assert_int_equal(leasemgr_new_kv(&kv, &x->cfg, &ops, &x->s, &x->m), 0);
	assert_int_equal(leasemgr_start(x->m), 0);
	kv_fake_run(x->f);
}

static void fx_free(struct fx *x)
{
	leasemgr_free(x->m);
	kv_fake_free(x->f);
}

static struct leasemgr_status status(const struct fx *x)
{
	struct leasemgr_status st;

	leasemgr_get_status(x->m, &st);
	return st;
}

static bool lk_equal(const struct lease_key *a, const struct lease_key *b)
{
	return a->has_v4 == b->has_v4 && a->has_v6 == b->has_v6 &&
	       (!a->has_v4 || ip4_net_equal(&a->v4, &b->v4)) &&
	       (!a->has_v6 || ip6_net_equal(&a->v6, &b->v6));
}

/* Held: the status, the callback and etcd agree on one key. */
static const struct kv_fake_entry *assert_held(const struct fx *x, char key[static 160])
{
	struct leasemgr_status st = status(x);
	const struct kv_fake_entry *e;

	assert_true(st.lease_held);
	assert_true(lk_equal(&st.key, &x->s.acq));
	assert_int_equal(lease_key_format_any(P, &st.key, key, 160), 0);
	e = kv_fake_get(x->f, key);
	assert_non_null(e);
	assert_int_equal(e->lease, st.lease_id);
	return e;
}

/* ------------------------------------------------------------ scenarios */

static void test_dual_stack_acquire_one_txn(void **state)
{
	struct fx x;
	char key[160];
	const struct kv_fake_entry *e;
	struct lease_key k;
	struct netconf nc;
	struct leasemgr_status st;

	fx_init(&x, NET_DS);
	fx_start(&x);
	e = assert_held(&x, key);
	assert_int_equal(x.s.acquired, 1);
	assert_true(x.s.acq.has_v4 && x.s.acq.has_v6);
	/* One create-if-absent for both subnets; the only key. */
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_TXN_PUT), 1);
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 1);
	assert_non_null(strchr(key, '&'));
	assert_int_equal(lease_key_parse_any(P, key, &k), 0);
	assert_true(lk_equal(&k, &x.s.acq));
	assert_int_equal(netconf_parse_any(NET_DS, strlen(NET_DS), &nc, NULL, 0), 0);
	assert_true(netconf_subnet_valid(&nc, &k.v4));
	assert_true(netconf_ipv6_subnet_valid(&nc, &k.v6));
	assert_string_equal(e->value, OWN_DS);
	st = status(&x);
	assert_true(ip4_net_equal(&st.subnet, &k.v4));
	fx_free(&x);
}

static void test_dual_stack_reused_after_restart(void **state)
{
	struct fx x;
	char key[160], key2[160];
	struct lease_key first;
	int64_t rev;

	fx_init(&x, NET_DS);
	x.cfg.ttl_s = 3600;
	fx_start(&x);
	rev = assert_held(&x, key)->mod_rev;
	first = x.s.acq;
	fx_start(&x);
	assert_held(&x, key2);
	assert_string_equal(key, key2);
	assert_true(lk_equal(&first, &x.s.acq));
	/* The restart wrote nothing: same key, same revision, same lease. */
	assert_int_equal(kv_fake_get(x.f, key)->mod_rev, rev);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_TXN_PUT), 1);
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 1);
	fx_free(&x);
}

static void test_dual_stack_reused_by_public_ipv6(void **state)
{
	struct fx x;
	char key[160];
	int64_t l;

	fx_init(&x, NET_DS);
	/* Our IPv6 address, an old IPv4 one: still this node's lease. */
	l = kv_fake_grant(x.f, TTL);
	kv_fake_put(x.f, SUBNETS "10.244.9.0-24&fd00:10:244:9::-64",
		    VDS("198.18.0.77", OWN_IP6, "02:aa:00:00:00:01", "02:bb:00:00:00:01"), l);
	fx_start(&x);
	assert_held(&x, key);
	assert_string_equal(key, SUBNETS "10.244.9.0-24&fd00:10:244:9::-64");
	assert_string_equal(kv_fake_get(x.f, key)->value, OWN_DS);
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 1);
	fx_free(&x);
}

static void test_dual_stack_prefers_old_subnet_env(void **state)
{
	struct fx x;
	char key[160];

	fx_init(&x, NET_DS);
	x.cfg.has_prev_subnet = true;
	x.cfg.prev_subnet = net4("10.244.20.0/24");
	x.cfg.has_prev_subnet6 = true;
	x.cfg.prev_subnet6 = net6("fd00:10:244:20::/64");
	fx_start(&x);
	assert_held(&x, key);
	assert_string_equal(key, SUBNETS "10.244.20.0-24&fd00:10:244:20::-64");
	fx_free(&x);
}

static void test_dual_stack_lost_race(void **state)
{
	struct fx x;
	char key[160];

	fx_init(&x, NET_DS);
	kv_fake_race_create(x.f, PEER9);
	fx_start(&x);
	assert_held(&x, key);
	assert_int_equal(status(&x).lost_races, 1);
	assert_int_equal(x.s.acquired, 1);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_TXN_PUT), 2);
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 2);
	/* The winner is a peer with both subnets, neither one ours. */
	assert_int_equal(x.s.added, 1);
	assert_true(x.s.last_added.has_v4 && x.s.last_added.has_v6);
	assert_false(ip4_net_equal(&x.s.last_added.v4, &x.s.acq.v4));
	assert_false(ip6_net_equal(&x.s.last_added.v6, &x.s.acq.v6));
	fx_free(&x);
}

static void test_ipv6_exhausted_no_half_lease(void **state)
{
	struct fx x;
	char key[160];

	fx_init(&x, NET_DS_SMALL6);
	kv_fake_put(x.f, SUBNETS "10.244.1.0-24&fd00:10:244:1::-64", PEER9, 0);
	kv_fake_put(x.f, SUBNETS "10.244.2.0-24&fd00:10:244:2::-64", PEER8, 0);
	kv_fake_put(x.f, SUBNETS "10.244.3.0-24&fd00:10:244:3::-64",
		    VDS("198.18.0.7", "2001:db8:18::7", "02:00:00:00:00:07", "02:00:00:00:06:07"),
		    0);
	fx_start(&x);
	/* IPv4 has room, IPv6 none: nothing is written. */
	assert_false(status(&x).lease_held);
	assert_int_equal(x.s.acquired, 0);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_TXN_PUT), 0);
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 3);
	kv_fake_advance(x.f, 6000);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_TXN_PUT), 0);
	/* A release frees an IPv6 subnet: taken at once. */
	assert_true(kv_fake_delete(x.f, SUBNETS "10.244.2.0-24&fd00:10:244:2::-64"));
	kv_fake_run(x.f);
	assert_held(&x, key);
	assert_true(
		ip6_net_equal(&x.s.acq.v6, &(struct ip6_net){net6("fd00:10:244:2::/64").addr, 64}));
	assert_int_equal(x.s.added, 2);
	fx_free(&x);
}

static void test_ipv6_only(void **state)
{
	struct fx x;
	char key[160];
	const struct kv_fake_entry *e;

	fx_init(&x, NET_V6);
	x.cfg.public_ip = 0;
	kv_fake_put(x.f, SUBNETS "fd00:10:244:9::-64",
		    V6ONLY("2001:db8:18::9", "02:00:00:00:06:09"), 0);
	/* An IPv4 key means nothing to an IPv6-only network. */
	kv_fake_put(x.f, SUBNETS "10.244.8.0-24", V4("198.18.0.8", "02:00:00:00:00:08"), 0);
	fx_start(&x);
	e = assert_held(&x, key);
	assert_false(x.s.acq.has_v4);
	assert_true(x.s.acq.has_v6);
	assert_null(strchr(key, '&'));
	assert_string_equal(e->value, V6ONLY(OWN_IP6, "02:bb:00:00:00:01"));
	assert_false(
		ip6_net_equal(&x.s.acq.v6, &(struct ip6_net){net6("fd00:10:244:9::/64").addr, 64}));
	assert_int_equal(x.s.added, 1);
	assert_false(x.s.last_added.has_v4);
	assert_int_equal(status(&x).leases_rejected[PEER_REJ_FAMILY], 1);
	assert_int_equal(status(&x).subnet.prefix, 0);
	fx_free(&x);
}

static void test_ipv6_only_ignores_public_ip(void **state)
{
	struct fx x;
	char key[160];

	/* The node has an IPv4 address too: an IPv6-only lease says 0.0.0.0. */
	fx_init(&x, NET_V6);
	fx_start(&x);
	assert_string_equal(assert_held(&x, key)->value, V6ONLY(OWN_IP6, "02:bb:00:00:00:01"));
	fx_free(&x);
}

static void test_peers_with_mixed_families(void **state)
{
	struct fx x;
	struct leasemgr_status st;
	const struct leasemgr_peer *peers;

	fx_init(&x, NET_DS);
	kv_fake_put(x.f, SUBNETS "10.244.9.0-24&fd00:10:244:9::-64", PEER9, 0);
	/* One family only (a subset of the config's): accepted. A key with
	 * IPv6 whose value lacks it: refused. */
	kv_fake_put(x.f, SUBNETS "10.244.8.0-24", V4("198.18.0.8", "02:00:00:00:00:08"), 0);
	kv_fake_put(x.f, SUBNETS "fd00:10:244:7::-64",
		    V6ONLY("2001:db8:18::7", "02:00:00:00:06:07"), 0);
	kv_fake_put(x.f, SUBNETS "10.244.6.0-24&fd00:10:244:6::-64",
		    V4("198.18.0.6", "02:00:00:00:00:06"), 0);
	/* A newer lease sharing the IPv6 subnet of an older one loses. */
	kv_fake_put(x.f, SUBNETS "10.244.5.0-24&fd00:10:244:9::-64", PEER8, 0);
	fx_start(&x);
	st = status(&x);
	assert_true(st.lease_held);
	assert_int_equal(x.s.added, 3);
	/* Sorted: IPv4 first, the IPv6-only one last. */
	assert_int_equal(leasemgr_peers(x.m, &peers), 3);
	assert_true(peers[0].key.has_v4 && !peers[0].key.has_v6);
	assert_false(peers[0].attrs.has_vtep_mac6);
	assert_true(peers[1].key.has_v4 && peers[1].key.has_v6);
	assert_true(ip4_net_equal(&peers[1].subnet, &peers[1].key.v4));
	assert_true(ip6_net_equal(&peers[1].key.v6,
				  &(struct ip6_net){net6("fd00:10:244:9::/64").addr, 64}));
	assert_true(peers[1].attrs.has_vtep_mac6);
	assert_true(!peers[2].key.has_v4 && peers[2].key.has_v6);
	assert_int_equal(st.leases_rejected[PEER_REJ_FAMILY], 1);
	assert_int_equal(st.leases_rejected[PEER_REJ_CONFLICT_IPV6], 1);
	/* A change of the IPv6 part alone is an update. */
	kv_fake_put(x.f, SUBNETS "10.244.9.0-24&fd00:10:244:9::-64",
		    VDS("198.18.0.9", "2001:db8:18::9", "02:00:00:00:00:09", "02:00:00:00:06:99"),
		    0);
	kv_fake_run(x.f);
	assert_int_equal(x.s.updated, 1);
	assert_int_equal(x.s.last_attrs.vtep_mac6[4], 0x06);
	assert_int_equal(x.s.last_attrs.vtep_mac6[5], 0x99);
	/* The winner goes: the lease it beat takes over. */
	assert_true(kv_fake_delete(x.f, SUBNETS "10.244.9.0-24&fd00:10:244:9::-64"));
	kv_fake_run(x.f);
	assert_int_equal(x.s.removed, 1);
	assert_int_equal(x.s.added, 4);
	assert_true(ip4_net_equal(&x.s.last_added.v4, &(struct ip4_net){0x0af40500u, 24}));
	fx_free(&x);
}

static void test_ipv4_config_ignores_ipv6_keys(void **state)
{
	struct fx x;
	char key[160];

	fx_init(&x, NET16);
	kv_fake_put(x.f, SUBNETS "fd00:10:244:7::-64",
		    V6ONLY("2001:db8:18::7", "02:00:00:00:06:07"), 0);
	fx_start(&x);
	assert_held(&x, key);
	assert_false(x.s.acq.has_v6);
	assert_null(strchr(key, '&'));
	assert_int_equal(x.s.added, 0);
	for (int v = 0; v < PEER_VERDICTS; v++)
		assert_int_equal(status(&x).leases_rejected[v], 0);
	fx_free(&x);
}

static void test_old_ipv4_lease_upgraded_keeps_subnet(void **state)
{
	struct fx x;
	char key[160];
	int64_t l;

	fx_init(&x, NET_DS);
	l = kv_fake_grant(x.f, TTL);
	kv_fake_put(x.f, SUBNETS "10.244.9.0-24", V4("198.18.0.1", "02:aa:00:00:00:01"), l);
	fx_start(&x);
	assert_held(&x, key);
	/* The IPv4-only key went; its subnet lives on in the dual-stack one. */
	assert_null(kv_fake_get(x.f, SUBNETS "10.244.9.0-24"));
	assert_true(ip4_net_equal(&x.s.acq.v4, &(struct ip4_net){0x0af40900u, 24}));
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 1);
	fx_free(&x);
}

static void test_own_key_deleted_reacquires_both(void **state)
{
	struct fx x;
	char key[160], key2[160];

	fx_init(&x, NET_DS);
	fx_start(&x);
	assert_held(&x, key);
	assert_true(kv_fake_delete(x.f, key));
	kv_fake_run(x.f);
	assert_int_equal(x.s.lost, 1);
	assert_int_equal(x.s.acquired, 2);
	assert_held(&x, key2);
	assert_string_equal(key, key2);
	fx_free(&x);
}

static void test_own_key_taken_over(void **state)
{
	struct fx x;
	char key[160], key2[160];

	fx_init(&x, NET_DS);
	fx_start(&x);
	assert_held(&x, key);
	/* Another node's value on our key: neither of our addresses. */
	kv_fake_put(x.f, key, PEER9, 0);
	kv_fake_run(x.f);
	assert_int_equal(x.s.lost, 1);
	assert_held(&x, key2);
	assert_string_not_equal(key, key2);
	assert_int_equal(x.s.added, 1);
	assert_true(x.s.last_added.has_v4 && x.s.last_added.has_v6);
	fx_free(&x);
}

static void test_ipv6_refused_unless_allowed(void **state)
{
	struct fx x;

	fx_init(&x, NET_DS);
	x.cfg.allow_ipv6 = false;
	fx_start(&x);
	assert_false(status(&x).config_loaded);
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 0);
	assert_int_equal(x.s.fatal, 0);
	fx_free(&x);
}

/* Dual stack without a PublicIPv6: an IPv4-only lease that says nothing
 * of IPv6; IPv6 only: nothing to lease, fatal. */
static void test_ipv6_without_public_ipv6(void **state)
{
	struct fx x;
	char key[160];
	const struct kv_fake_entry *e;

	fx_init(&x, NET_DS);
	x.cfg.has_public_ipv6 = false;
	kv_fake_put(x.f, SUBNETS "10.244.9.0-24&fd00:10:244:9::-64", PEER9, 0);
	fx_start(&x);
	assert_int_equal(x.s.fatal, 0);
	e = assert_held(&x, key);
	assert_true(x.s.acq.has_v4);
	assert_false(x.s.acq.has_v6);
	assert_null(strchr(key, '&'));
	assert_non_null(strstr(e->value, "\"PublicIP\":\"198.18.0.1\""));
	assert_null(strstr(e->value, "BackendV6Data"));
	assert_null(strstr(e->value, "2001:db8"));
	/* The dual-stack peer is still a peer (its IPv4 part is what counts). */
	assert_int_equal(x.s.added, 1);
	fx_free(&x);

	fx_init(&x, NET_V6);
	x.cfg.has_public_ipv6 = false;
	fx_start(&x);
	assert_int_equal(x.s.fatal, 1);
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 0);
	fx_free(&x);
}

/* ------------------------------------------------------------ the picker */

static void test_pick6_skips_taken(void **state)
{
	static const char cfg[] = NET_DS_SMALL6;
	struct netconf nc;
	struct ip6_net taken[2] = {net6("fd00:10:244:1::/64"), net6("fd00:10:244:2::/63")};
	struct ip6_net out;

	assert_int_equal(netconf_parse_any(cfg, strlen(cfg), &nc, NULL, 0), 0);
	/* :2::/63 covers :2:: and :3::; only :1:: was left, and it is taken. */
	assert_int_equal(subnet6_pick_free(&nc, taken, 2, 0, &out), -ENOSPC);
	for (uint64_t r = 0; r < 8; r++) {
		assert_int_equal(subnet6_pick_free(&nc, taken, 1, r, &out), 0);
		assert_int_equal(out.len, 64);
		assert_false(ip6_net_overlaps(&out, &taken[0]));
		assert_true(netconf_ipv6_subnet_valid(&nc, &out));
	}
	assert_true(subnet6_is_free(&nc, taken, 1,
				    &(struct ip6_net){net6("fd00:10:244:3::/64").addr, 64}));
	assert_false(subnet6_is_free(&nc, taken, 2,
				     &(struct ip6_net){net6("fd00:10:244:3::/64").addr, 64}));
	/* A lease covering the whole network takes nothing. */
	taken[1] = net6("fd00:10:244::/62");
	assert_int_equal(subnet6_pick_free(&nc, &taken[1], 1, 0, &out), 0);
}

static void test_pick6_large_space(void **state)
{
	static const char cfg[] = "{\"Network\":\"10.244.0.0/16\",\"EnableIPv6\":true,"
				  "\"IPv6Network\":\"fd00::/8\",\"IPv6SubnetLen\":120,"
				  "\"Backend\":{\"Type\":\"vxlan\"}}";
	struct netconf nc;
	struct ip6_net out, t = net6("fd00::100/120");

	assert_int_equal(netconf_parse_any(cfg, strlen(cfg), &nc, NULL, 0), 0);
	/* Rank 0 is the first free one: SubnetMin (::100) is taken. */
	assert_int_equal(subnet6_pick_free(&nc, &t, 1, 0, &out), 0);
	assert_true(ip6_net_equal(&out, &(struct ip6_net){net6("fd00::200/120").addr, 120}));
	assert_int_equal(subnet6_pick_free(&nc, &t, 1, UINT64_MAX - 5, &out), 0);
	assert_true(netconf_ipv6_subnet_valid(&nc, &out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dual_stack_acquire_one_txn),
		cmocka_unit_test(test_dual_stack_reused_after_restart),
		cmocka_unit_test(test_dual_stack_reused_by_public_ipv6),
		cmocka_unit_test(test_dual_stack_prefers_old_subnet_env),
		cmocka_unit_test(test_dual_stack_lost_race),
		cmocka_unit_test(test_ipv6_exhausted_no_half_lease),
		cmocka_unit_test(test_ipv6_only),
		cmocka_unit_test(test_ipv6_only_ignores_public_ip),
		cmocka_unit_test(test_peers_with_mixed_families),
		cmocka_unit_test(test_ipv4_config_ignores_ipv6_keys),
		cmocka_unit_test(test_old_ipv4_lease_upgraded_keeps_subnet),
		cmocka_unit_test(test_own_key_deleted_reacquires_both),
		cmocka_unit_test(test_own_key_taken_over),
		cmocka_unit_test(test_ipv6_refused_unless_allowed),
		cmocka_unit_test(test_ipv6_without_public_ipv6),
		cmocka_unit_test(test_pick6_skips_taken),
		cmocka_unit_test(test_pick6_large_space),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
