/* VXLAN backend against a real kernel in a private network namespace:
 * device creation and adoption, per-peer objects, changes without stale
 * entries, pruning only after the peer list is complete, repair of what
 * others changed, device recreation, DirectRouting, a restart. */
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
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "backend/nl.h"
#include "backend/nl_addr.h"
#include "backend/nl_link.h"
#include "backend/nl_neigh.h"
#include "backend/nl_route.h"
#include "backend/vxlan.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static struct nl_sock *sk; /* the test's own view of the kernel */

static const struct vxlan_conf base_conf = {
	.vni = 1,
	.port = 8472,
	.public_ip = IP(198, 18, 0, 1),
	.underlay = {IP(198, 18, 0, 0), 24},
	.mtu = 1450,
	.subnet = {IP(10, 244, 1, 0), 24},
	.mac = {0x02, 0xaa, 0, 0, 0, 1},
};

static struct vxlan_peer peer(unsigned n)
{
	struct vxlan_peer p = {
		.subnet = {IP(10, 244, n, 0), 24},
		.public_ip = IP(198, 19, 0, n), /* not on-link */
		.vtep_mac = {0x02, 0xbb, 0, 0, 0, (uint8_t)n},
	};
	return p;
}

static int sh(const char *cmd)
{
	return system(cmd);
}

static int netns_setup(void **state)
{
	if (unshare(CLONE_NEWNET) < 0 || nl_open(&sk))
		return -1;
	/* An underlay for DirectRouting: a veth pair with 198.18.0.1/24. */
	if (sh("ip link set lo up && ip link add ul0 type veth peer name ul1 && "
	       "ip addr add 198.18.0.1/24 dev ul0 && ip link set ul0 up && ip link set ul1 up"))
		return -1;
	return 0;
}

static int netns_teardown(void **state)
{
	nl_close(sk);
	return 0;
}

/* Kernel state, as the test sees it. */
#define MAXE 64
struct kstate {
	unsigned nn, nf, nr;
	struct nl_neigh n[MAXE], f[MAXE];
	struct nl_route r[MAXE];
};

static int kn_cb(const struct nl_neigh *n, void *data)
{
	struct kstate *k = data;

	if (n->family == AF_INET && k->nn < MAXE)
		k->n[k->nn++] = *n;
	else if (n->family == AF_BRIDGE && k->nf < MAXE)
		k->f[k->nf++] = *n;
	return 0;
}

static int kr_cb(const struct nl_route *r, void *data)
{
	struct kstate *k = data;

	if (r->protocol == VXLAN_RTPROT && k->nr < MAXE)
		k->r[k->nr++] = *r;
	return 0;
}

static void kernel_read(int ifindex, struct kstate *k)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(nl_neigh_dump(sk, AF_INET, ifindex, kn_cb, NULL, k), 0);
	assert_int_equal(nl_neigh_dump(sk, AF_BRIDGE, ifindex, kn_cb, NULL, k), 0);
	assert_int_equal(nl_route_dump(sk, RT_TABLE_MAIN, kr_cb, NULL, k), 0);
}

/* True when the kernel holds exactly the objects of peer p on ifindex. */
static bool has_peer(const struct kstate *k, int ifindex, const struct vxlan_peer *p)
{
	bool n = false, f = false, r = false;

	for (unsigned i = 0; i < k->nn; i++)
		if (k->n[i].dst == htonl(p->subnet.addr) && k->n[i].state == NUD_PERMANENT &&
		    !memcmp(k->n[i].lladdr, p->vtep_mac, 6) && k->n[i].ifindex == ifindex)
			n = true;
	for (unsigned i = 0; i < k->nf; i++)
		if (k->f[i].dst == htonl(p->public_ip) && !memcmp(k->f[i].lladdr, p->vtep_mac, 6) &&
		    (k->f[i].flags & NTF_SELF) && k->f[i].state == NUD_PERMANENT)
			f = true;
	for (unsigned i = 0; i < k->nr; i++)
		if (k->r[i].dst == htonl(p->subnet.addr) && k->r[i].dst_len == 24 &&
		    k->r[i].gw == htonl(p->subnet.addr) && k->r[i].oif == ifindex &&
		    (k->r[i].flags & RTNH_F_ONLINK))
			r = true;
	return n && f && r;
}

static void assert_exactly(struct vxlan *v, const struct vxlan_peer *ps, unsigned n)
{
	struct vxlan_stats st;
	struct kstate k;

	kernel_read(vxlan_ifindex(v), &k);
	assert_int_equal(k.nn, n);
	assert_int_equal(k.nf, n);
	assert_int_equal(k.nr, n);
	for (unsigned i = 0; i < n; i++)
		assert_true(has_peer(&k, vxlan_ifindex(v), &ps[i]));
	vxlan_get_stats(v, &st);
	assert_int_equal(st.peers, n);
	assert_int_equal(st.neighs, n);
	assert_int_equal(st.fdbs, n);
	assert_int_equal(st.routes, n);
}

static void drain(struct vxlan *v)
{
	assert_int_equal(vxlan_handle_events(v), 0);
}

static void test_bad_conf(void **state)
{
	struct vxlan_conf c = base_conf;
	struct vxlan *v;

	c.vni = 0;
	assert_int_equal(vxlan_new(&c, &v), -EINVAL);
	c = base_conf;
	c.vni = 1 << 24;
	assert_int_equal(vxlan_new(&c, &v), -EINVAL);
	c = base_conf;
	c.subnet.addr |= 1;
	assert_int_equal(vxlan_new(&c, &v), -EINVAL);
	c = base_conf;
	c.mtu = 10;
	assert_int_equal(vxlan_new(&c, &v), -EINVAL);
	vxlan_free(NULL);
}

static void test_device(void **state)
{
	struct vxlan *v;
	struct nl_link l;
	int ifindex;
	char out[4096] = "";
	FILE *p;

	assert_int_equal(vxlan_new(&base_conf, &v), 0);
	assert_int_equal(vxlan_flush(v), -ENODEV);
	assert_int_equal(vxlan_ensure_device(v), 0);
	assert_string_equal(vxlan_ifname(v), "weft.1");
	assert_int_equal(nl_link_get_name(sk, "weft.1", &l), 0);
	assert_int_equal(l.ifindex, vxlan_ifindex(v));
	assert_string_equal(l.kind, "vxlan");
	assert_int_equal(l.vxlan.vni, 1);
	assert_int_equal(l.vxlan.port, 8472);
	assert_int_equal(l.vxlan.local, htonl(IP(198, 18, 0, 1)));
	assert_false(l.vxlan.learning);
	assert_int_equal(l.mtu, 1450);
	assert_memory_equal(l.mac, base_conf.mac, 6);
	assert_true(l.up);
	p = popen("ip -4 -o addr show dev weft.1", "r");
	assert_true(fread(out, 1, sizeof(out) - 1, p) > 0);
	pclose(p);
	assert_non_null(strstr(out, "inet 10.244.1.0/32"));

	/* Adopted, not recreated; a wrong MTU and an extra address fixed. */
	ifindex = vxlan_ifindex(v);
	assert_int_equal(sh("ip link set weft.1 mtu 1400 && ip addr add 10.9.9.9/24 dev weft.1"),
			 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	assert_int_equal(vxlan_ifindex(v), ifindex);
	assert_int_equal(nl_link_get_name(sk, "weft.1", &l), 0);
	assert_int_equal(l.mtu, 1450);
	memset(out, 0, sizeof(out));
	p = popen("ip -4 -o addr show dev weft.1 | wc -l", "r");
	assert_true(fread(out, 1, sizeof(out) - 1, p) > 0);
	pclose(p);
	assert_string_equal(out, "1\n");
	vxlan_free(v);

	/* A device of the same name with another port is replaced. */
	assert_int_equal(sh("ip link del weft.1 && ip link add weft.1 type vxlan id 1 dstport 4789 "
			    "local 198.18.0.1"),
			 0);
	assert_int_equal(vxlan_new(&base_conf, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	assert_int_equal(nl_link_get_name(sk, "weft.1", &l), 0);
	assert_int_equal(l.vxlan.port, 8472);
	assert_false(l.vxlan.learning);
	assert_true(l.up);
	{
		struct vxlan_stats st;

		vxlan_get_stats(v, &st);
		assert_int_equal(st.device_creations, 1);
	}
	vxlan_free(v);
	assert_int_equal(sh("ip link del weft.1"), 0);
}

static void test_peers_flush(void **state)
{
	struct vxlan_peer ps[3] = {peer(2), peer(3), peer(4)};
	struct vxlan_peer own = peer(1);
	struct vxlan *v;
	struct kstate k;

	assert_int_equal(vxlan_new(&base_conf, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	drain(v);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vxlan_peer_set(v, &ps[i]), 0);
	/* own lease ignored */
	own.subnet = base_conf.subnet;
	assert_int_equal(vxlan_peer_set(v, &own), 0);
	assert_int_equal(vxlan_flush(v), 0);
	assert_exactly(v, ps, 3);
	/* Our own writes do not ask for a reconcile. */
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));

	/* New MAC: neighbour replaced, old FDB entry gone. */
	ps[0].vtep_mac[5] = 0x77;
	assert_int_equal(vxlan_peer_set(v, &ps[0]), 0);
	/* New VTEP address with the same MAC. */
	ps[1].public_ip = IP(198, 19, 1, 3);
	assert_int_equal(vxlan_peer_set(v, &ps[1]), 0);
	assert_int_equal(vxlan_flush(v), 0);
	assert_exactly(v, ps, 3);
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));

	/* Setting an unchanged peer writes nothing. */
	assert_int_equal(vxlan_peer_set(v, &ps[2]), 0);
	assert_int_equal(vxlan_flush(v), 0);

	/* Removal takes all three objects. */
	assert_int_equal(vxlan_peer_del(v, &ps[1].subnet), 0);
	assert_int_equal(vxlan_peer_del(v, &ps[1].subnet), 0);
	assert_int_equal(vxlan_flush(v), 0);
	ps[1] = ps[2];
	assert_exactly(v, ps, 2);
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));

	/* Invalid peers. */
	{
		struct vxlan_peer bad = peer(9);

		bad.subnet.addr |= 5;
		assert_int_equal(vxlan_peer_set(v, &bad), -EINVAL);
		bad = peer(9);
		bad.public_ip = 0;
		assert_int_equal(vxlan_peer_set(v, &bad), -EINVAL);
	}

	/* Added then removed before a flush: nothing reaches the kernel. */
	{
		struct vxlan_peer t = peer(20);

		assert_int_equal(vxlan_peer_set(v, &t), 0);
		assert_int_equal(vxlan_peer_del(v, &t.subnet), 0);
		assert_int_equal(vxlan_flush(v), 0);
		kernel_read(vxlan_ifindex(v), &k);
		assert_int_equal(k.nr, 2);
	}
	vxlan_free(v);
	assert_int_equal(sh("ip link del weft.1"), 0);
}

/* Leftovers of peers that vanished while weftd was down: kept until the
 * peer list is complete, then pruned; foreign routes are never touched. */
static void test_prune_after_sync(void **state)
{
	struct vxlan_peer ps[2] = {peer(2), peer(3)};
	struct vxlan_peer gone = peer(5);
	struct vxlan_stats st;
	struct vxlan *v;
	struct kstate k;

	assert_int_equal(vxlan_new(&base_conf, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	assert_int_equal(vxlan_peer_set(v, &ps[0]), 0);
	assert_int_equal(vxlan_peer_set(v, &ps[1]), 0);
	assert_int_equal(vxlan_peer_set(v, &gone), 0);
	assert_int_equal(vxlan_flush(v), 0);
	vxlan_free(v);
	/* a route of someone else through the device */
	assert_int_equal(
		sh("ip route add 10.99.0.0/16 via 10.244.3.0 dev weft.1 onlink proto static"), 0);

	/* Restart: the new list lacks peer 5. */
	assert_int_equal(vxlan_new(&base_conf, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	assert_int_equal(vxlan_peer_set(v, &ps[0]), 0);
	assert_int_equal(vxlan_peer_set(v, &ps[1]), 0);
	assert_int_equal(vxlan_flush(v), 0);
	assert_int_equal(vxlan_reconcile(v), 0);
	kernel_read(vxlan_ifindex(v), &k);
	assert_int_equal(k.nr, 3); /* not synced: nothing pruned */
	assert_true(has_peer(&k, vxlan_ifindex(v), &gone));
	vxlan_get_stats(v, &st);
	assert_int_equal(st.reconcile_fixes, 0);

	vxlan_peers_synced(v);
	assert_int_equal(vxlan_reconcile(v), 0);
	assert_exactly(v, ps, 2);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.reconcile_fixes, 3);
	assert_int_equal(st.reconcile_runs, 2);
	assert_int_equal(sh("ip route show 10.99.0.0/16 | grep -q 'proto static'"), 0);
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));
	vxlan_free(v);
	assert_int_equal(sh("ip link del weft.1"), 0);
}

/* Changes made by others are noticed through events and repaired. */
static void test_repair(void **state)
{
	struct vxlan_peer ps[3] = {peer(2), peer(3), peer(4)};
	struct vxlan_stats st;
	struct vxlan *v;

	assert_int_equal(vxlan_new(&base_conf, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vxlan_peer_set(v, &ps[i]), 0);
	vxlan_peers_synced(v);
	assert_int_equal(vxlan_flush(v), 0);
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));

	/* Deleted neighbour. */
	assert_int_equal(sh("ip neigh del 10.244.2.0 dev weft.1"), 0);
	drain(v);
	assert_true(vxlan_reconcile_wanted(v));
	assert_int_equal(vxlan_reconcile(v), 0);
	assert_exactly(v, ps, 3);
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));

	/* Wrong FDB destination, deleted route, an extra FDB entry, an
	 * extra route with weft's tag, a wrong neighbour MAC. */
	assert_int_equal(sh("bridge fdb replace 02:bb:00:00:00:03 dev weft.1 dst 198.19.9.9 self "
			    "permanent && ip route del 10.244.4.0/24 && "
			    "bridge fdb append 02:cc:00:00:00:01 dev weft.1 dst 198.19.7.7 self "
			    "permanent && ip route add 10.250.0.0/24 via 10.244.2.0 dev weft.1 "
			    "onlink proto 87 && "
			    "ip neigh replace 10.244.2.0 lladdr 02:dd:00:00:00:01 dev weft.1 nud "
			    "permanent"),
			 0);
	drain(v);
	assert_true(vxlan_reconcile_wanted(v));
	assert_int_equal(vxlan_reconcile(v), 0);
	assert_exactly(v, ps, 3);
	vxlan_get_stats(v, &st);
	/* before: neigh 1; now: FDB right + wrong one away 2, route 1,
	 * extra FDB 1, extra route 1, neighbour MAC 1 */
	assert_int_equal(st.reconcile_fixes, 1 + 6);
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));

	/* Device deleted by hand: recreated with every peer. */
	assert_int_equal(sh("ip link del weft.1"), 0);
	drain(v);
	assert_true(vxlan_reconcile_wanted(v));
	assert_int_equal(vxlan_reconcile(v), 0);
	assert_exactly(v, ps, 3);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.device_creations, 2);
	/* Device set down: entries flushed by the kernel, all restored. */
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));
	assert_int_equal(sh("ip link set weft.1 down"), 0);
	drain(v);
	assert_true(vxlan_reconcile_wanted(v));
	assert_int_equal(vxlan_reconcile(v), 0);
	assert_exactly(v, ps, 3);
	/* Address removed. */
	drain(v);
	assert_int_equal(sh("ip addr flush dev weft.1"), 0);
	drain(v);
	assert_true(vxlan_reconcile_wanted(v));
	assert_int_equal(vxlan_reconcile(v), 0);
	assert_int_equal(sh("ip -4 -o addr show dev weft.1 | grep -q 'inet 10.244.1.0/32'"), 0);
	vxlan_free(v);
	assert_int_equal(sh("ip link del weft.1"), 0);
}

static void test_direct_routing(void **state)
{
	struct vxlan_conf c = base_conf;
	struct vxlan_peer onlink = peer(6);
	struct vxlan *v;
	struct kstate k;
	struct vxlan_stats st;

	c.direct_routing = true;
	onlink.public_ip = IP(198, 18, 0, 6);
	assert_int_equal(vxlan_new(&c, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	vxlan_peers_synced(v);
	assert_int_equal(vxlan_peer_set(v, &onlink), 0);
	assert_int_equal(vxlan_flush(v), 0);
	kernel_read(vxlan_ifindex(v), &k);
	assert_int_equal(k.nn, 0);
	assert_int_equal(k.nf, 0);
	assert_int_equal(k.nr, 1);
	assert_int_equal(k.r[0].gw, htonl(IP(198, 18, 0, 6)));
	assert_int_not_equal(k.r[0].oif, vxlan_ifindex(v));
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));
	assert_int_equal(vxlan_reconcile(v), 0);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.reconcile_fixes, 0);
	assert_int_equal(st.routes, 1);
	assert_int_equal(st.neighs, 0);

	/* The peer moves off-link: VXLAN objects replace the direct route. */
	onlink.public_ip = IP(198, 19, 0, 6);
	assert_int_equal(vxlan_peer_set(v, &onlink), 0);
	assert_int_equal(vxlan_flush(v), 0);
	assert_exactly(v, &onlink, 1);
	/* and back */
	onlink.public_ip = IP(198, 18, 0, 6);
	assert_int_equal(vxlan_peer_set(v, &onlink), 0);
	assert_int_equal(vxlan_flush(v), 0);
	kernel_read(vxlan_ifindex(v), &k);
	assert_int_equal(k.nn + k.nf, 0);
	assert_int_equal(k.nr, 1);
	assert_int_equal(k.r[0].gw, htonl(IP(198, 18, 0, 6)));
	/* removal */
	assert_int_equal(vxlan_peer_del(v, &onlink.subnet), 0);
	assert_int_equal(vxlan_flush(v), 0);
	kernel_read(vxlan_ifindex(v), &k);
	assert_int_equal(k.nr, 0);
	vxlan_free(v);
	assert_int_equal(sh("ip link del weft.1"), 0);
}

/* A request the kernel rejects is counted and asks for a reconcile. */
static void test_failure_counted(void **state)
{
	struct vxlan_conf c = base_conf;
	struct vxlan_peer p = peer(7);
	struct vxlan_stats st;
	struct vxlan *v;

	c.direct_routing = true;
	/* on-link by the conf, but unreachable: the route add fails */
	c.underlay = (struct ip4_net){IP(198, 19, 0, 0), 24};
	assert_int_equal(vxlan_new(&c, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	assert_int_equal(vxlan_peer_set(v, &p), 0);
	assert_int_equal(vxlan_flush(v), -EIO);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.netlink_errors, 1);
	assert_int_equal(st.routes, 0);
	assert_true(vxlan_reconcile_wanted(v));
	assert_int_equal(vxlan_reconcile(v), -EIO);
	assert_true(vxlan_reconcile_wanted(v));
	vxlan_free(v);
	assert_int_equal(sh("ip link del weft.1"), 0);
}

static void test_many_peers(void **state)
{
	struct vxlan_conf c = base_conf;
	struct vxlan_stats st;
	struct vxlan *v;
	char out[64] = "";
	FILE *p;

	c.subnet = (struct ip4_net){IP(10, 0, 0, 0), 24};
	assert_int_equal(vxlan_new(&c, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	for (unsigned i = 1; i <= 2000; i++) {
		struct vxlan_peer x = {
			.subnet = {IP(10, 0, 0, 0) + (i << 8), 24},
			.public_ip = IP(198, 19, 0, 0) + i,
			.vtep_mac = {0x02, 0xee, 0, 0, (uint8_t)(i >> 8), (uint8_t)i},
		};
		assert_int_equal(vxlan_peer_set(v, &x), 0);
	}
	vxlan_peers_synced(v);
	assert_int_equal(vxlan_flush(v), 0);
	assert_int_equal(vxlan_handle_events(v), 0);
	assert_int_equal(vxlan_reconcile(v), 0);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.peers, 2000);
	assert_int_equal(st.routes, 2000);
	assert_int_equal(st.reconcile_fixes, 0);
	p = popen("bridge fdb show dev weft.1 | wc -l", "r");
	assert_true(fread(out, 1, sizeof(out) - 1, p) > 0);
	pclose(p);
	assert_string_equal(out, "2000\n");
	vxlan_free(v);
	assert_int_equal(sh("ip link del weft.1"), 0);
}

/* Lost events (a full event queue) force a reconcile. */
static void test_event_overflow(void **state)
{
	struct vxlan_conf c = base_conf;
	struct vxlan_stats st;
	struct vxlan *v;
	int small = 1; /* the kernel rounds up to its minimum */

	c.subnet = (struct ip4_net){IP(10, 0, 0, 0), 24};
	assert_int_equal(vxlan_new(&c, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	drain(v);
	assert_false(vxlan_reconcile_wanted(v));
	assert_int_equal(
		setsockopt(vxlan_event_fd(v), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	for (unsigned i = 1; i <= 500; i++) {
		struct vxlan_peer x = {
			.subnet = {IP(10, 0, 0, 0) + (i << 8), 24},
			.public_ip = IP(198, 19, 0, 0) + i,
			.vtep_mac = {0x02, 0xee, 0, 0, (uint8_t)(i >> 8), (uint8_t)i},
		};
		assert_int_equal(vxlan_peer_set(v, &x), 0);
	}
	assert_int_equal(vxlan_flush(v), 0);
	assert_int_equal(vxlan_handle_events(v), 0);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.event_overflows, 1);
	assert_true(vxlan_reconcile_wanted(v));
	vxlan_peers_synced(v);
	assert_int_equal(vxlan_reconcile(v), 0);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.reconcile_fixes, 0);
	assert_int_equal(st.routes, 500);
	vxlan_free(v);
	assert_int_equal(sh("ip link del weft.1"), 0);
}

/* A route weft does not own where a peer wants one: never replaced, never
 * deleted, the peer blocked; once it goes, the peer's route follows. Peer
 * identity is the whole subnet: another length at the same address is
 * refused, and removing it does not touch the peer. */
static void test_foreign_route(void **state)
{
	struct vxlan_peer p = peer(6), q = peer(7), half = peer(7);
	struct vxlan_stats st;
	struct vxlan *v;
	struct kstate k;

	assert_int_equal(vxlan_new(&base_conf, &v), 0);
	assert_int_equal(vxlan_ensure_device(v), 0);
	assert_int_equal(sh("ip route add 10.244.6.0/24 dev ul0 proto static"), 0);
	vxlan_peers_synced(v);
	assert_int_equal(vxlan_peer_set(v, &p), 0);
	assert_int_equal(vxlan_peer_set(v, &q), 0);
	/* EEXIST on the exclusive create; the dump shows the owner */
	assert_int_equal(vxlan_flush(v), 0);
	assert_int_equal(sh("ip route show 10.244.6.0/24 | grep -qx '10.244.6.0/24 dev ul0 proto "
			    "static scope link '"),
			 0);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.routes_blocked, 1);
	assert_int_equal(st.routes, 1);
	assert_int_equal(vxlan_reconcile(v), 0);
	vxlan_get_stats(v, &st);
	assert_int_equal(st.routes_blocked, 1);
	assert_int_equal(sh("ip route show 10.244.6.0/24 | grep -q 'proto static'"), 0);
	/* removing the peer leaves the foreign route */
	assert_int_equal(vxlan_peer_del(v, &p.subnet), 0);
	assert_int_equal(vxlan_flush(v), 0);
	assert_int_equal(sh("ip route show 10.244.6.0/24 | grep -q 'proto static'"), 0);
	/* back, and the foreign route leaves: the peer's route follows */
	assert_int_equal(vxlan_peer_set(v, &p), 0);
	assert_int_equal(vxlan_flush(v), 0);
	assert_int_equal(sh("ip route del 10.244.6.0/24 dev ul0 proto static"), 0);
	drain(v);
	assert_true(vxlan_reconcile_wanted(v));
	assert_int_equal(vxlan_reconcile(v), 0);
	kernel_read(vxlan_ifindex(v), &k);
	assert_true(has_peer(&k, vxlan_ifindex(v), &p));
	vxlan_get_stats(v, &st);
	assert_int_equal(st.routes_blocked, 0);
	/* another length at q's address */
	half.subnet.prefix = 25;
	half.vtep_mac[5] = 0x77;
	assert_int_equal(vxlan_peer_set(v, &half), -EEXIST);
	assert_int_equal(vxlan_peer_del(v, &half.subnet), 0);
	assert_int_equal(vxlan_flush(v), 0);
	kernel_read(vxlan_ifindex(v), &k);
	assert_true(has_peer(&k, vxlan_ifindex(v), &q));
	vxlan_free(v);
	assert_int_equal(sh("ip link del weft.1"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_conf),	cmocka_unit_test(test_device),
		cmocka_unit_test(test_peers_flush),	cmocka_unit_test(test_prune_after_sync),
		cmocka_unit_test(test_repair),		cmocka_unit_test(test_direct_routing),
		cmocka_unit_test(test_failure_counted), cmocka_unit_test(test_many_peers),
		cmocka_unit_test(test_event_overflow),	cmocka_unit_test(test_foreign_route),
	};

	return cmocka_run_group_tests_name("vxlan", tests, netns_setup, netns_teardown);
}
