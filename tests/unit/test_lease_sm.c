/* The lease manager's state machines (config, peer view, own lease) driven
 * through the kv interface against an in-memory etcd and a fake clock: each
 * test replays one scenario and checks what etcd holds afterwards and what
 * the manager told the daemon. */
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

#define P	"/coreos.com/network"
#define CONFIG	P "/config"
#define SUBNETS P "/subnets/"
#define NET16	"{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}"
/* Three subnets: 10.5.1.0/24 to 10.5.3.0/24. */
#define NET22	 "{\"Network\":\"10.5.0.0/22\",\"SubnetLen\":24,\"Backend\":{\"Type\":\"vxlan\"}}"
#define OWN_IP	 0xc6120001u /* 198.18.0.1 */
#define TTL	 30
#define LONG_TTL 3600
#define V(ip, mac)                                                                                 \
	"{\"PublicIP\":\"" ip "\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{" \
	"\"VNI\":1,\"VtepMAC\":\"" mac "\"}}"
#define PEER9 V("198.18.0.9", "02:00:00:00:00:09")
#define PEER8 V("198.18.0.8", "02:00:00:00:00:08")

static const uint8_t own_mac[6] = {0x02, 0xaa, 0, 0, 0, 0x01};

struct seen {
	int config, acquired, lost, added, updated, removed, synced, fatal;
	struct ip4_net acq, last_added, last_removed;
};

struct fx {
	struct kv_fake *f;
	struct leasemgr *m;
	struct seen s;
	struct leasemgr_config cfg;
};

static void on_config(void *d, const struct netconf *nc)
{
	((struct seen *)d)->config++;
}

static void on_acquired(void *d, const struct lease_key *k, const struct lease_attrs *a)
{
	struct seen *s = d;

	s->acquired++;
	assert_true(k->has_v4 && !k->has_v6);
	s->acq = k->v4;
	assert_int_equal(a->public_ip, OWN_IP);
}

static void on_lost(void *d, const struct lease_key *k)
{
	((struct seen *)d)->lost++;
}

static void on_added(void *d, const struct lease_key *k, const struct lease_attrs *a)
{
	((struct seen *)d)->added++;
	((struct seen *)d)->last_added = k->v4;
}

static void on_updated(void *d, const struct lease_key *k, const struct lease_attrs *a)
{
	((struct seen *)d)->updated++;
}

static void on_removed(void *d, const struct lease_key *k)
{
	((struct seen *)d)->removed++;
	((struct seen *)d)->last_removed = k->v4;
}

static void on_synced(void *d)
{
	((struct seen *)d)->synced++;
}

static void on_fatal(void *d, int err, const char *why)
{
	((struct seen *)d)->fatal++;
}

/* What weftd's backend publishes; the lease layer only carries it. */
static int backend_data(void *d, const struct netconf *nc, struct lease_attrs *a)
{
	a->vni = nc->vni;
	memcpy(a->vtep_mac, own_mac, 6);
	a->has_vtep_mac = true;
	return 0;
}

static const struct leasemgr_ops ops = {
	.on_config = on_config,
	.on_lease_acquired = on_acquired,
	.on_lease_lost = on_lost,
	.on_peer_added = on_added,
	.on_peer_updated = on_updated,
	.on_peer_removed = on_removed,
	.on_peers_synced = on_synced,
	.on_fatal = on_fatal,
};

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
					  .backend_data = backend_data};
}

/* (Re)starts the manager, as weftd does at start, on the same store. */
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

static struct ip4_net net(const char *s)
{
	struct ip4_net n;

	assert_int_equal(ip4_parse_net(s, &n), 0);
	return n;
}

static const char *key_of(const struct ip4_net *sn, char buf[static 128])
{
	assert_int_equal(lease_key_format(P, sn, buf, 128), 0);
	return buf;
}

/* The own key holds this node's value: our PublicIP and the backend's MAC. */
static const struct kv_fake_entry *assert_own_key(const struct fx *x, const struct ip4_net *sn)
{
	char key[128];
	const struct kv_fake_entry *e = kv_fake_get(x->f, key_of(sn, key));
	struct lease_attrs a;

	assert_non_null(e);
	assert_int_equal(lease_attrs_decode(e->value, strlen(e->value), &a), 0);
	assert_int_equal(a.public_ip, OWN_IP);
	assert_string_equal(a.backend_type, "vxlan");
	assert_memory_equal(a.vtep_mac, own_mac, 6);
	return e;
}

/* Held, with an etcd lease that is alive and on the key. */
static struct ip4_net assert_held(const struct fx *x)
{
	struct leasemgr_status st = status(x);
	const struct kv_fake_entry *e;

	assert_true(st.lease_held);
	assert_true(ip4_net_equal(&st.subnet, &x->s.acq));
	e = assert_own_key(x, &st.subnet);
	assert_int_equal(e->lease, st.lease_id);
	if (!st.reservation)
		assert_true(kv_fake_lease_alive(x->f, st.lease_id));
	return st.subnet;
}

static void assert_same_net(struct ip4_net a, struct ip4_net b)
{
	assert_true(ip4_net_equal(&a, &b));
}

static char *own_value(void)
{
	struct lease_attrs a = {.public_ip = OWN_IP, .vni = 1, .has_vtep_mac = true};

	snprintf(a.backend_type, sizeof(a.backend_type), "vxlan");
	memcpy(a.vtep_mac, own_mac, 6);
	return lease_attrs_encode(&a);
}

/* ------------------------------------------------------------ scenarios */

static void test_lost_create_race_picks_another_subnet(void **state)
{
	struct fx x;
	struct ip4_net sn;

	fx_init(&x, NET16);
	kv_fake_race_create(x.f, PEER9);
	fx_start(&x);
	sn = assert_held(&x);
	assert_int_equal(status(&x).lost_races, 1);
	assert_int_equal(x.s.acquired, 1);
	/* The winner kept its subnet and became a peer. */
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 2);
	assert_int_equal(x.s.added, 1);
	assert_false(ip4_net_equal(&sn, &x.s.last_added));
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_TXN_PUT), 2);
	fx_free(&x);
}

static void test_reservation_of_other_nodes_honoured(void **state)
{
	struct fx x;
	int64_t r1, r2;

	fx_init(&x, NET22);
	r1 = kv_fake_put(x.f, SUBNETS "10.5.1.0-24", PEER9, 0);
	r2 = kv_fake_put(x.f, SUBNETS "10.5.2.0-24", PEER8, 0);
	fx_start(&x);
	assert_held(&x);
	assert_true(ip4_net_equal(&x.s.acq, &(struct ip4_net){0x0a050300u, 24}));
	/* Untouched, still without an etcd lease, and programmed as peers. */
	assert_int_equal(kv_fake_get(x.f, SUBNETS "10.5.1.0-24")->mod_rev, r1);
	assert_int_equal(kv_fake_get(x.f, SUBNETS "10.5.2.0-24")->mod_rev, r2);
	assert_int_equal(kv_fake_get(x.f, SUBNETS "10.5.1.0-24")->lease, 0);
	assert_int_equal(x.s.added, 2);
	fx_free(&x);
}

static void test_reservation_updated_by_its_owner(void **state)
{
	struct fx x;
	const struct kv_fake_entry *e;
	int64_t r;

	fx_init(&x, NET16);
	r = kv_fake_put(x.f, SUBNETS "10.244.7.0-24", V("198.18.0.1", "02:00:00:00:00:99"), 0);
	fx_start(&x);
	assert_held(&x);
	assert_true(ip4_net_equal(&x.s.acq, &(struct ip4_net){0x0af40700u, 24}));
	assert_true(status(&x).reservation);
	assert_int_equal(status(&x).lease_id, 0);
	/* The value now carries our VtepMAC; the key stays lease-less. */
	e = assert_own_key(&x, &x.s.acq);
	assert_true(e->mod_rev > r);
	assert_int_equal(e->lease, 0);
	/* A reservation is never given a TTL nor kept alive. */
	kv_fake_advance(x.f, 120 * 1000);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_GRANT), 0);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_KEEPALIVE), 0);
	assert_int_equal(x.s.acquired, 1);
	fx_free(&x);
}

static void test_reuse_by_public_ip_writes_nothing(void **state)
{
	struct fx x;
	char *v = own_value();
	int64_t l, r;

	fx_init(&x, NET16);
	x.cfg.ttl_s = LONG_TTL;
	/* The old subnet.env names another subnet: the PublicIP wins. */
	x.cfg.has_prev_subnet = true;
	x.cfg.prev_subnet = net("10.244.20.0/24");
	l = kv_fake_grant(x.f, LONG_TTL);
	r = kv_fake_put(x.f, SUBNETS "10.244.9.0-24", v, l);
	fx_start(&x);
	assert_held(&x);
	assert_true(ip4_net_equal(&x.s.acq, &(struct ip4_net){0x0af40900u, 24}));
	assert_int_equal(status(&x).lease_id, l);
	assert_int_equal(kv_fake_get(x.f, SUBNETS "10.244.9.0-24")->mod_rev, r);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_GRANT), 0);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_TXN_PUT), 0);
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 1);
	free(v);
	fx_free(&x);
}

static void test_reuse_subnet_of_old_subnet_env(void **state)
{
	struct fx x;

	fx_init(&x, NET16);
	x.cfg.has_prev_subnet = true;
	x.cfg.prev_subnet = net("10.244.20.0/24");
	fx_start(&x);
	assert_held(&x);
	assert_true(ip4_net_equal(&x.s.acq, &x.cfg.prev_subnet));
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 1);
	fx_free(&x);
}

static void test_own_key_deleted_reacquires_same_subnet(void **state)
{
	struct fx x;
	struct ip4_net sn;
	char key[128];

	fx_init(&x, NET16);
	fx_start(&x);
	sn = assert_held(&x);
	assert_true(kv_fake_delete(x.f, key_of(&sn, key)));
	kv_fake_run(x.f);
	assert_int_equal(x.s.lost, 1);
	assert_int_equal(x.s.acquired, 2);
	assert_same_net(assert_held(&x), sn);
	/* The etcd lease was still good: no second grant. */
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_GRANT), 1);
	fx_free(&x);
}

static void test_lease_revoked_reacquires_with_new_lease(void **state)
{
	struct fx x;
	struct ip4_net sn;
	int64_t old;

	fx_init(&x, NET16);
	fx_start(&x);
	sn = assert_held(&x);
	old = status(&x).lease_id;
	kv_fake_revoke(x.f, old);
	kv_fake_run(x.f);
	assert_int_equal(x.s.lost, 1);
	assert_int_equal(x.s.acquired, 2);
	assert_same_net(assert_held(&x), sn);
	assert_int_not_equal(status(&x).lease_id, old);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_GRANT), 2);
	fx_free(&x);
}

static void test_keepalive_answered_on_lost_lease(void **state)
{
	struct fx x;
	struct ip4_net sn;
	int64_t old;

	fx_init(&x, NET16);
	fx_start(&x);
	sn = assert_held(&x);
	old = status(&x).lease_id;
	/* The watch lags, so only the keepalive can tell the lease is gone. */
	kv_fake_stall_watch(x.f, true);
	kv_fake_revoke(x.f, old);
	kv_fake_advance(x.f, TTL * 1000 / 3);
	assert_true(kv_fake_requests(x.f, KV_FAKE_KEEPALIVE) >= 1);
	assert_int_equal(x.s.lost, 1);
	assert_int_equal(x.s.acquired, 2);
	assert_same_net(assert_held(&x), sn);
	assert_int_not_equal(status(&x).lease_id, old);
	/* The late events (the old key's deletion) change nothing. */
	kv_fake_stall_watch(x.f, false);
	kv_fake_run(x.f);
	assert_int_equal(x.s.lost, 1);
	assert_same_net(assert_held(&x), sn);
	fx_free(&x);
}

static void test_watch_broken_then_resumed(void **state)
{
	struct fx x;
	struct leasemgr_status st;

	fx_init(&x, NET16);
	fx_start(&x);
	assert_held(&x);
	assert_true(status(&x).watch_up);
	kv_fake_break_watch(x.f);
	kv_fake_run(x.f);
	assert_false(status(&x).watch_up);
	/* Written while no watch runs: the re-list finds it, on the second
	 * try as the first listing fails. */
	kv_fake_put(x.f, SUBNETS "10.244.99.0-24", PEER9, 0);
	kv_fake_fail_next(x.f, KV_FAKE_LIST, ETCD_ECONNECT);
	kv_fake_advance(x.f, 6000);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_LIST), 3);
	st = status(&x);
	assert_true(st.watch_up);
	assert_int_equal(st.etcd_reconnects, 1);
	assert_int_equal(st.relists, 2);
	assert_int_equal(x.s.added, 1);
	/* The new watch delivers. */
	kv_fake_put(x.f, SUBNETS "10.244.98.0-24", PEER8, 0);
	kv_fake_run(x.f);
	assert_int_equal(x.s.added, 2);
	assert_int_equal(status(&x).relists, 2);
	assert_int_equal(x.s.lost, 0);
	fx_free(&x);
}

static void test_compaction_relists_and_diffs(void **state)
{
	struct fx x;
	int synced;

	fx_init(&x, NET16);
	kv_fake_put(x.f, SUBNETS "10.244.99.0-24", PEER9, 0);
	fx_start(&x);
	assert_held(&x);
	assert_int_equal(x.s.added, 1);
	synced = x.s.synced;
	/* The watch falls behind a compaction: the changes are not replayed. */
	kv_fake_stall_watch(x.f, true);
	kv_fake_delete(x.f, SUBNETS "10.244.99.0-24");
	kv_fake_put(x.f, SUBNETS "10.244.98.0-24", PEER8, 0);
	kv_fake_compact(x.f);
	kv_fake_run(x.f);
	assert_int_equal(status(&x).relists, 2);
	assert_int_equal(x.s.removed, 1);
	assert_same_net(x.s.last_removed, net("10.244.99.0/24"));
	assert_same_net(x.s.last_added, net("10.244.98.0/24"));
	assert_int_equal(x.s.added, 2);
	assert_int_equal(x.s.synced, synced + 1);
	assert_int_equal(status(&x).n_peers, 1);
	assert_true(status(&x).watch_up);
	fx_free(&x);
}

static void test_network_config_changed(void **state)
{
	struct fx x;
	struct ip4_net sn, net10 = {0x0a320000u, 16};
	char key[128];

	fx_init(&x, NET16);
	fx_start(&x);
	sn = assert_held(&x);
	/* A running node keeps the config it started with. */
	kv_fake_put(x.f, CONFIG, "{\"Network\":\"10.50.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}",
		    0);
	kv_fake_advance(x.f, 60 * 1000);
	assert_int_equal(leasemgr_netconf(x.m)->network.addr, 0x0af40000u);
	assert_int_equal(x.s.lost, 0);
	assert_same_net(assert_held(&x), sn);
	/* After a restart the old lease lies outside: removed, a new one taken. */
	fx_start(&x);
	assert_int_equal(leasemgr_netconf(x.m)->network.addr, 0x0a320000u);
	assert_true(ip4_net_contains(&net10, x.s.acq.addr));
	assert_held(&x);
	assert_null(kv_fake_get(x.f, key_of(&sn, key)));
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 1);
	fx_free(&x);
}

static void test_network_config_deleted(void **state)
{
	struct fx x;
	struct ip4_net sn;

	fx_init(&x, NET16);
	x.cfg.ttl_s = LONG_TTL;
	fx_start(&x);
	sn = assert_held(&x);
	kv_fake_delete(x.f, CONFIG);
	kv_fake_advance(x.f, 60 * 1000);
	assert_non_null(leasemgr_netconf(x.m));
	assert_int_equal(x.s.lost, 0);
	/* A restart waits for a config and writes nothing meanwhile. */
	fx_start(&x);
	kv_fake_advance(x.f, 10 * 1000);
	assert_null(leasemgr_netconf(x.m));
	assert_false(status(&x).config_loaded);
	assert_false(status(&x).lease_held);
	assert_int_equal(x.s.acquired, 0);
	assert_int_equal(x.s.fatal, 0);
	assert_int_equal(kv_fake_count(x.f, SUBNETS), 1);
	/* Once it is back, the node takes up its lease again. */
	kv_fake_put(x.f, CONFIG, NET16, 0);
	kv_fake_advance(x.f, 10 * 1000);
	assert_int_equal(x.s.config, 1);
	assert_same_net(assert_held(&x), sn);
	fx_free(&x);
}

static void test_subnet_space_exhausted_then_released(void **state)
{
	struct fx x;
	int64_t l;
	uint64_t creates;

	fx_init(&x, NET22);
	l = kv_fake_grant(x.f, LONG_TTL);
	kv_fake_put(x.f, SUBNETS "10.5.1.0-24", PEER9, l);
	kv_fake_put(x.f, SUBNETS "10.5.2.0-24", PEER8, l);
	kv_fake_put(x.f, SUBNETS "10.5.3.0-24", V("198.18.0.7", "02:00:00:00:00:07"), l);
	fx_start(&x);
	assert_false(status(&x).lease_held);
	assert_int_equal(x.s.acquired, 0);
	/* Waiting costs no write: nothing is free to try. */
	creates = kv_fake_requests(x.f, KV_FAKE_TXN_PUT);
	kv_fake_advance(x.f, 20 * 1000);
	assert_false(status(&x).lease_held);
	assert_int_equal(kv_fake_requests(x.f, KV_FAKE_TXN_PUT), creates);
	/* A release is taken up at once, before the retry timer. */
	kv_fake_delete(x.f, SUBNETS "10.5.2.0-24");
	kv_fake_run(x.f);
	assert_held(&x);
	assert_true(ip4_net_equal(&x.s.acq, &(struct ip4_net){0x0a050200u, 24}));
	assert_int_equal(x.s.added, 2);
	fx_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lost_create_race_picks_another_subnet),
		cmocka_unit_test(test_reservation_of_other_nodes_honoured),
		cmocka_unit_test(test_reservation_updated_by_its_owner),
		cmocka_unit_test(test_reuse_by_public_ip_writes_nothing),
		cmocka_unit_test(test_reuse_subnet_of_old_subnet_env),
		cmocka_unit_test(test_own_key_deleted_reacquires_same_subnet),
		cmocka_unit_test(test_lease_revoked_reacquires_with_new_lease),
		cmocka_unit_test(test_keepalive_answered_on_lost_lease),
		cmocka_unit_test(test_watch_broken_then_resumed),
		cmocka_unit_test(test_compaction_relists_and_diffs),
		cmocka_unit_test(test_network_config_changed),
		cmocka_unit_test(test_network_config_deleted),
		cmocka_unit_test(test_subnet_space_exhausted_then_released),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
