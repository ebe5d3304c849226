/* The data plane with both families on the event loop, in a private
 * network namespace: dp_lease and dp_lease6 make weft.1 and weft-v6.1 and
 * the tables ip weft and ip6 weft; peers of each family reach their own
 * instance; the stats sum both up and /metrics labels them by family. */
/* labels: root */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "../../daemon/dataplane.c"
#include "../../daemon/health.c"
#include "../../daemon/metrics.c"
#include "backend/vxlan_mac.h"
#include "common/loop.h"

static struct loop *lp;
static struct loop_timer *t_stop;

static void on_stop(void *data)
{
	(void)data;
	loop_stop(lp, 0);
}

/* Lets the data plane's timers and events run for a while. */
static void spin(void)
{
	assert_int_equal(loop_timer_arm(t_stop, 300, 0), 0);
	assert_int_equal(loop_run(lp), 0);
}

static struct in6_addr a6(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static void assert_has(const char *text, const char *want, bool has)
{
	if ((strstr(text, want) != NULL) != has)
		fail_msg("%s '%s' in:\n%s", has ? "no" : "unexpected", want, text);
}

static void assert_cmd_has(const char *cmd, const char *want, bool has)
{
	char out[8192] = "";
	FILE *p = popen(cmd, "r");
	size_t n;

	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	assert_has(out, want, has);
}

static char *metrics_text(const struct dp_stats *ds)
{
	struct leasemgr_status ls = {0};
	struct metrics_buf *m = metrics_buf_new();
	const char *t;
	char *copy;
	size_t len = 0;

	assert_non_null(m);
	node_metrics_write(m, true, &ls, ds);
	t = metrics_buf_text(m, &len);
	copy = strndup(t, len);
	metrics_buf_free(m);
	return copy;
}

static void check_both_metrics(const struct dp_stats *ds)
{
	char *m;

	m = metrics_text(ds);
	/* The unlabelled series stay IPv4's; each family adds a labelled one. */
	assert_has(m, "\nweft_peers 1\n", true);
	assert_has(m, "\nweft_peers{family=\"ipv4\"} 1\n", true);
	assert_has(m, "\nweft_peers{family=\"ipv6\"} 1\n", true);
	assert_has(m, "\nweft_kernel_objects{kind=\"route\"} 1\n", true);
	assert_has(m, "\nweft_kernel_objects{kind=\"fdb\",family=\"ipv6\"} 1\n", true);
	assert_has(m, "\nweft_device_creations_total{family=\"ipv6\"} 1\n", true);
	assert_has(m, "\nweft_nftables_applied{family=\"ipv6\"} 1\n", true);
	assert_has(m, "\nweft_routes_blocked{family=\"ipv6\"} 0\n", true);
	free(m);
}

static void test_both_families(void **state)
{
	struct vxlan_conf vc4 = {.vni = 1,
				 .port = 8472,
				 .mtu = 1450,
				 .public_ip = 0xc6120001,
				 .subnet = {0x0af40100, 24}};
	struct vxlan_conf vc6 = {.family = AF_INET6, .vni = 1, .port = 8472, .mtu = 1430};
	struct ip4_net net4 = {0x0af40000, 16};
	struct ip6_net net6 = {a6("fd00:10:244::"), 56};
	struct vxlan_peer p4 = {.subnet = {0x0af40200, 24},
				.public_ip = 0xc6120002,
				.vtep_mac = {0x02, 0xbb, 0, 0, 0, 2}};
	struct vxlan_peer p6 = {.vtep_mac = {0x02, 0xcc, 0, 0, 0, 2}};
	struct dataplane *dp;
	struct dp_stats ds;
	char *m;

	(void)state;
	assert_int_equal(vxlan_vtep_mac(vc4.public_ip, 1, vc4.mac), 0);
	vc6.public_ip6 = a6("2001:db8:18::1");
	vc6.subnet6 = (struct ip6_net){a6("fd00:10:244:1::"), 64};
	assert_int_equal(vxlan_vtep_mac6(&vc6.public_ip6, 1, vc6.mac), 0);
	p6.subnet6 = (struct ip6_net){a6("fd00:10:244:2::"), 64};
	p6.public_ip6 = a6("2001:db8:18::2");

	assert_int_equal(dp_new(&(struct dp_config){.loop = lp, .ip_masq = true}, &dp), 0);
	dp_get_stats(dp, &ds);
	assert_false(ds.device_ok);
	assert_false(ds.nft_ok);
	/* A family's peers wait for its lease. */
	assert_int_equal(dp_peer_set(dp, &p6), 0);
	assert_int_equal(dp_lease(dp, &vc4, &net4), 1);
	assert_int_equal(dp_lease(dp, &vc4, &net4), 0);
	assert_int_equal(dp_lease6(dp, &vc4, &net6), -EINVAL);
	assert_int_equal(dp_lease6(dp, &vc6, &net6), 1);
	assert_int_equal(dp_peer_set(dp, &p4), 0);
	assert_int_equal(dp_peer_set(dp, &p6), 0);
	dp_peers_synced(dp);
	spin();

	dp_get_stats(dp, &ds);
	assert_true(ds.device_ok);
	assert_true(ds.nft_ok);
	assert_true(ds.v4.present && ds.v6.present);
	assert_int_equal(ds.vx.routes, 1);
	assert_int_equal(ds.v4.vx.routes, 1);
	assert_int_equal(ds.v6.vx.routes, 1);
	assert_int_equal(ds.v6.vx.neighs, 1);
	assert_cmd_has("ip -6 route show proto 87", "fd00:10:244:2::/64 via fd00:10:244:2::", true);
	assert_cmd_has("ip -4 route show proto 87", "10.244.2.0/24 via 10.244.2.0", true);
	assert_cmd_has("nft list table ip6 weft", "ip6 saddr fd00:10:244:1::/64 ip6 daddr", true);
	assert_cmd_has("nft list table ip weft", "ip saddr 10.244.1.0/24 ip daddr", true);

	check_both_metrics(&ds);

	dp_peer_del6(dp, &p6.subnet6);
	spin();
	dp_get_stats(dp, &ds);
	assert_int_equal(ds.v6.vx.peers, 0);
	assert_int_equal(ds.v4.vx.peers, 1);
	assert_cmd_has("ip -6 route show proto 87", "fd00:10:244:2::", false);
	assert_cmd_has("ip -4 route show proto 87", "10.244.2.0/24", true);

	/* No IPv6 lease any more: the IPv4 family alone sums up. */
	assert_int_equal(dp_lease6(dp, NULL, NULL), 0);
	dp_get_stats(dp, &ds);
	assert_false(ds.v6.present);
	assert_true(ds.device_ok && ds.nft_ok);
	m = metrics_text(&ds);
	assert_has(m, "family=\"ipv6\"", false);
	free(m);
	dp_free(dp);
}

/* An IPv6-only node: dp_lease6 alone makes the data plane ready. */
static void test_v6_only(void **state)
{
	struct vxlan_conf vc6 = {.family = AF_INET6, .vni = 2, .port = 8472, .mtu = 1430};
	struct ip6_net net6 = {a6("fd00:10:244::"), 56};
	struct dataplane *dp;
	struct dp_stats ds;

	(void)state;
	vc6.public_ip6 = a6("2001:db8:18::1");
	vc6.subnet6 = (struct ip6_net){a6("fd00:10:244:1::"), 64};
	assert_int_equal(vxlan_vtep_mac6(&vc6.public_ip6, 2, vc6.mac), 0);
	assert_int_equal(dp_new(&(struct dp_config){.loop = lp, .ip_masq = false}, &dp), 0);
	assert_int_equal(dp_lease6(dp, &vc6, &net6), 1);
	spin();
	dp_get_stats(dp, &ds);
	assert_false(ds.v4.present);
	assert_true(ds.device_ok);
	assert_true(ds.nft_ok);
	/* Without masquerade the table is removed. */
	assert_cmd_has("nft list tables", "ip6 weft", false);
	assert_cmd_has("ip -d link show weft-v6.2", "vxlan id 2", true);
	dp_free(dp);
}

static int setup(void **state)
{
	(void)state;
	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	if (system("ip link set lo up && ip link add ul0 type veth peer name ul1 && "
		   "ip link set ul0 up && ip link set ul1 up && "
		   "ip addr add 198.18.0.1/24 dev ul0 && "
		   "ip addr add 2001:db8:18::1/64 dev ul0 nodad"))
		return -1;
	if (loop_new(&lp) || loop_add_timer(lp, on_stop, NULL, &t_stop))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	loop_timer_free(t_stop);
	loop_free(lp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_families),
		cmocka_unit_test(test_v6_only),
	};

	return cmocka_run_group_tests_name("dataplane, both families", tests, setup, teardown);
}
