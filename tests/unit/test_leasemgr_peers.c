/* How the lease manager turns the keys it holds into peers: the whole key is
 * the identity, aliases of a live peer's subnet neither replace nor remove
 * it, and a key skipped for a conflict takes over when the winner goes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../subnet/leasemgr.c"
#include "../../subnet/leasemgr_own.c"
#include "../../subnet/leasemgr_sync.c"
#include "../../subnet/leasemgr_view.c"

#define P     "/coreos.com/network"
#define PEER  P "/subnets/10.244.7.0-24"
#define ALIAS P "/subnets/10.244.7.0-24&fd00:10:244:7::-64"
#define HALF  P "/subnets/10.244.7.0-25"
#define OWNDS P "/subnets/10.244.3.0-24&fd00:10:244:3::-64"
#define V(ip, mac)                                                                                 \
	"{\"PublicIP\":\"" ip "\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\",\"BackendData\":{" \
	"\"VNI\":1,\"VtepMAC\":\"" mac "\"}}"

struct calls {
	int added, updated, removed;
	struct ip4_net last;
	uint32_t last_ip;
};

static void added(void *data, const struct lease_key *k, const struct lease_attrs *a)
{
	struct calls *c = data;

	c->added++;
	c->last = k->v4;
	c->last_ip = a->public_ip;
}

static void updated(void *data, const struct lease_key *k, const struct lease_attrs *a)
{
	struct calls *c = data;

	c->updated++;
	c->last = k->v4;
	c->last_ip = a->public_ip;
}

static void removed(void *data, const struct lease_key *k)
{
	struct calls *c = data;

	c->removed++;
	c->last = k->v4;
}

static void mgr(struct leasemgr *m, struct calls *c)
{
	static const char json[] =
		"{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}";

	memset(m, 0, sizeof(*m));
	memset(c, 0, sizeof(*c));
	m->prefix = P;
	assert_int_equal(netconf_parse(json, strlen(json), &m->nc, NULL, 0), 0);
	m->cfg = LM_CONFIG_LOADED;
	m->public_ip = 0xc6120001u;
	m->ol.state = LM_OWN_HELD;
	m->ol.ever_held = true;
	m->ol.own = (struct ip4_net){0x0af40300u, 24};
	m->ops = (struct leasemgr_ops){
		.on_peer_added = added, .on_peer_updated = updated, .on_peer_removed = removed};
	m->data = c;
	m->rl_reject = (struct log_ratelimit)LOG_RATELIMIT_INIT(60, 100);
}

/* put KEY VALUE CREATE_REV as a watch event does. */
static void put(struct leasemgr *m, const char *key, const char *value, int64_t rev)
{
	struct etcd_kv kv = {.key = (char *)key,
			     .key_len = strlen(key),
			     .value = (char *)value,
			     .value_len = strlen(value),
			     .create_revision = rev,
			     .mod_revision = rev};
	struct ip4_net sn;

	assert_int_equal(lm_map_put_kv(m, &kv, &sn), 0);
	lm_emit_one(m, &sn);
}

static void del(struct leasemgr *m, const char *key)
{
	struct ip4_net sn;

	assert_int_equal(lease_key_parse(m->prefix, key, &sn), 0);
	lm_map_remove_key(m, &sn, key);
	lm_emit_one(m, &sn);
}

static void test_aliases(void **state)
{
	struct leasemgr m;
	struct calls c;

	mgr(&m, &c);
	put(&m, PEER, V("198.18.0.7", "02:00:00:00:00:07"), 10);
	assert_int_equal(c.added, 1);
	assert_int_equal(c.last_ip, 0xc6120007u);
	/* a younger dual-stack key of the same subnet loses */
	put(&m, ALIAS, V("198.18.0.66", "02:00:00:00:00:66"), 20);
	put(&m, HALF, V("198.18.0.66", "02:00:00:00:00:66"), 21);
	assert_int_equal(c.added + c.updated + c.removed, 1);
	assert_int_equal(m.rejected[PEER_REJ_CONFLICT], 1);
	assert_int_equal(m.rejected[PEER_REJ_LENGTH], 1);
	/* a new value of the loser is counted again, the same one is not */
	put(&m, ALIAS, V("198.18.0.67", "02:00:00:00:00:66"), 20);
	lm_emit_all(&m);
	assert_int_equal(m.rejected[PEER_REJ_CONFLICT], 2);
	/* deleting the aliases leaves the peer alone */
	del(&m, HALF);
	assert_int_equal(c.added + c.updated + c.removed, 1);
	/* the winner goes: the other key takes over */
	del(&m, PEER);
	assert_int_equal(c.updated, 1);
	assert_int_equal(c.last_ip, 0xc6120043u);
	del(&m, ALIAS);
	assert_int_equal(c.removed, 1);
	assert_int_equal(m.pv.n_peers, 0);
	assert_int_equal(m.pv.n_map, 0);
	lm_map_clear(&m);
	free(m.pv.map);
	free(m.pv.peers);
}

static void test_own_subnet_alias(void **state)
{
	struct leasemgr m;
	struct calls c;
	struct leasemgr_status st = {0};

	mgr(&m, &c);
	put(&m, OWNDS, V("198.18.0.66", "02:00:00:00:00:66"), 5);
	put(&m, P "/subnets/10.244.3.128-25", V("198.18.0.66", "02:00:00:00:00:66"), 6);
	put(&m, P "/subnets/10.244.9.0-24", V("198.18.0.1", "02:00:00:00:00:66"), 7);
	assert_int_equal(c.added, 0);
	assert_int_equal(m.rejected[PEER_REJ_OWN_SUBNET], 1);
	assert_int_equal(m.rejected[PEER_REJ_LENGTH], 1);
	assert_int_equal(m.rejected[PEER_REJ_OWN_IP], 1);
	/* the gauge counts the keys skipped now */
	for (size_t i = 0; i < m.pv.n_map; i++)
		if (m.pv.map[i].judged && m.pv.map[i].verdict != PEER_ACCEPTED)
			st.leases_rejected[m.pv.map[i].verdict]++;
	assert_int_equal(st.leases_rejected[PEER_REJ_OWN_SUBNET], 1);
	del(&m, OWNDS);
	assert_int_equal(c.removed, 0);
	lm_map_clear(&m);
	free(m.pv.map);
	free(m.pv.peers);
}

/* A watch repeating a value and a re-list rebuilding every entry count and
 * log a rejected key once; a changed value counts again. */
static void test_relist_counts_once(void **state)
{
	static const char half_v[] = V("198.18.0.66", "02:00:00:00:00:66");
	struct etcd_kv kv = {.key = (char *)HALF,
			     .key_len = strlen(HALF),
			     .value = (char *)half_v,
			     .value_len = strlen(half_v),
			     .create_revision = 4,
			     .mod_revision = 4};
	struct leasemgr m;
	struct calls c;

	mgr(&m, &c);
	put(&m, HALF, half_v, 4);
	put(&m, HALF, half_v, 4);
	assert_int_equal(m.rejected[PEER_REJ_LENGTH], 1);
	for (int round = 0; round < 3; round++) {
		lm_on_list_page(&m, &kv, 1, true);
		carry_verdicts(&m);
		map_swap_staging(&m);
		lm_staging_clear(&m);
		lm_emit_all(&m);
	}
	assert_int_equal(m.pv.n_map, 1);
	assert_int_equal(m.rejected[PEER_REJ_LENGTH], 1);
	put(&m, HALF, V("198.18.0.67", "02:00:00:00:00:66"), 9);
	assert_int_equal(m.rejected[PEER_REJ_LENGTH], 2);
	lm_map_clear(&m);
	free(m.pv.map);
	free(m.pv.smap);
	free(m.pv.peers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_own_subnet_alias),
		cmocka_unit_test(test_relist_counts_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
