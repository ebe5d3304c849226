/* Backend write speed without etcd: in a private network namespace, N peers
 * are handed to the VXLAN backend and flushed (3N kernel objects in one
 * pipelined batch), then a full reconcile runs over them. With "dual", an
 * IPv6 instance (weft-v6.1) gets N IPv6 peers too, as weftd does on a
 * dual-stack node: both flushes count as the write time. Prints the times.
 * Built and run, next to `ip -batch` + `bridge -batch`, by
 * dataplane_write.sh. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "backend/vxlan.h"
#include "common/util.h"

/* 2001:db8:18::(i + 1): the node itself is i = 0. */
static struct in6_addr underlay6(unsigned i)
{
	struct in6_addr a = {{{0x20, 0x01, 0x0d, 0xb8, 0, 0x18}}};
	uint32_t x = i + 1;

	a.s6_addr[13] = (uint8_t)(x >> 16);
	a.s6_addr[14] = (uint8_t)(x >> 8);
	a.s6_addr[15] = (uint8_t)x;
	return a;
}

/* fd00:10:244:i::/64, i < 2^16 */
static struct ip6_net subnet6(unsigned i)
{
	struct ip6_net n = {{{{0xfd, 0, 0, 0x10, 0x02, 0x44}}}, 64};

	n.addr.s6_addr[6] = (uint8_t)(i >> 8);
	n.addr.s6_addr[7] = (uint8_t)i;
	return n;
}

static int setup(const struct vxlan_conf *c, unsigned n, struct vxlan **out)
{
	int ret = vxlan_new(c, out);

	if (!ret)
		ret = vxlan_ensure_device(*out);
	for (unsigned i = 0; !ret && i < n; i++) {
		struct vxlan_peer p = {
			.vtep_mac = {0x02, c->family ? 0xcc : 0xbb, 0, (uint8_t)(i >> 16),
				     (uint8_t)(i >> 8), (uint8_t)i},
		};
		if (c->family == AF_INET6) {
			p.subnet6 = subnet6(i + 1);
			p.public_ip6 = underlay6(i + 1);
		} else {
			p.subnet = (struct ip4_net){0x0a000000 + ((i + 1) << 8), 24};
			p.public_ip = 0xc6130000 + i + 1; /* 198.19.x.y */
		}
		ret = vxlan_peer_set(*out, &p);
	}
	if (ret) {
		fprintf(stderr, "setup: %s\n", strerror(-ret));
		return ret;
	}
	vxlan_peers_synced(*out);
	return 0;
}

static int check(struct vxlan *v, unsigned n, int ret)
{
	struct vxlan_stats st;

	if (!ret)
		ret = vxlan_handle_events(v);
	if (!ret)
		ret = vxlan_reconcile(v);
	vxlan_get_stats(v, &st);
	if (ret || st.routes != n || st.neighs != n || st.fdbs != n || st.reconcile_fixes) {
		fprintf(stderr, "%s failed: %s, %u routes, %" PRIu64 " fixes\n", vxlan_ifname(v),
			strerror(-ret), st.routes, st.reconcile_fixes);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct vxlan_conf c4 = {
		.vni = 1,
		.port = 8472,
		.public_ip = 0xc6120001, /* 198.18.0.1 */
		.mtu = 1450,
		.subnet = {0x0a000000, 24},
		.mac = {0x02, 0xaa, 0, 0, 0, 1},
	};
	struct vxlan_conf c6 = {
		.family = AF_INET6,
		.vni = 1,
		.port = 8472,
		.mtu = 1430,
		.subnet6 = subnet6(0),
		.public_ip6 = underlay6(0),
		.mac = {0x02, 0xaa, 0, 0, 0, 2},
	};
	struct vxlan *v4 = NULL, *v6 = NULL;
	uint64_t t0, t1, t2;
	bool dual = argc == 3 && !strcmp(argv[2], "dual");
	unsigned n;
	int ret;

	if ((argc != 2 && !dual) || (n = (unsigned)atoi(argv[1])) == 0 || n > 60000) {
		fprintf(stderr, "usage: %s PEERS [dual]\n", argv[0]);
		return 2;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare");
		return 1;
	}
	if (setup(&c4, n, &v4) || (dual && setup(&c6, n, &v6)))
		return 1;
	t0 = now_ms();
	ret = vxlan_flush(v4);
	if (!ret && dual)
		ret = vxlan_flush(v6);
	t1 = now_ms();
	if (check(v4, n, ret) || (dual && check(v6, n, 0)))
		return 1;
	t2 = now_ms();
	printf("backend: %u peers%s, %u objects written in %" PRIu64
	       " ms; reconcile (dump 3 tables, diff, nothing to fix) %" PRIu64 " ms\n",
	       n, dual ? " per family" : "", (dual ? 6 : 3) * n, t1 - t0, t2 - t1);
	vxlan_free(v4);
	vxlan_free(v6);
	return 0;
}
