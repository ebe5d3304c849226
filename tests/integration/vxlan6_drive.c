/* Drives the IPv6 VXLAN backend directly, without etcd or weftd, for
 * test_dataplane_v6_backend.sh. In the caller's network namespace:
 *
 *   vxlan6_drive [-d] LOCAL6 SUBNET6 MTU [PEER6 PEERSUBNET6]...
 *
 * makes (or adopts) weft-v6.1 for this node, wants the given peers (VTEP
 * MACs derived like weftd does), declares the list complete, flushes and
 * reconciles (so entries of peers no longer listed are pruned). With -d it
 * then deletes every listed peer again and flushes. Prints the backend's
 * counts as key=value for the script to assert on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "backend/vxlan.h"
#include "backend/vxlan_mac.h"
#include "common/ip6.h"

static void print_stats(const char *when, struct vxlan *v)
{
	struct vxlan_stats st;

	vxlan_get_stats(v, &st);
	printf("%s peers=%u neighs=%u fdbs=%u routes=%u blocked=%u\n", when, st.peers, st.neighs,
	       st.fdbs, st.routes, st.routes_blocked);
}

static int parse_args(int argc, char **argv, struct vxlan_conf *c)
{
	if (argc < 4 || argc % 2)
		return -EINVAL;
	if (ip6_parse_addr(argv[1], &c->public_ip6) || ip6_parse_net(argv[2], &c->subnet6))
		return -EINVAL;
	c->mtu = (unsigned)strtoul(argv[3], NULL, 10);
	return vxlan_vtep_mac6(&c->public_ip6, c->vni, c->mac);
}

int main(int argc, char **argv)
{
	struct vxlan_conf c = {.family = AF_INET6, .vni = 1, .port = 8472};
	bool del = argc > 1 && !strcmp(argv[1], "-d");
	struct vxlan *v;
	int ret;

	argc -= del;
	argv += del;
	if (parse_args(argc, argv, &c)) {
		fprintf(stderr,
			"usage: vxlan6_drive [-d] LOCAL6 SUBNET6 MTU [PEER6 PEERSUBNET6]...\n");
		return 2;
	}
	ret = vxlan_new(&c, &v);
	if (ret) {
		fprintf(stderr, "vxlan_new: %s\n", strerror(-ret));
		return 1;
	}
	ret = vxlan_ensure_device(v);
	for (int i = 4; i + 1 < argc && !ret; i += 2) {
		struct vxlan_peer p = {0};

		if (ip6_parse_addr(argv[i], &p.public_ip6) ||
		    ip6_parse_net(argv[i + 1], &p.subnet6) ||
		    vxlan_vtep_mac6(&p.public_ip6, c.vni, p.vtep_mac))
			ret = -EINVAL;
		else
			ret = vxlan_peer_set(v, &p);
	}
	vxlan_peers_synced(v);
	if (!ret)
		ret = vxlan_flush(v);
	if (!ret || ret == -EIO)
		ret = vxlan_reconcile(v);
	print_stats("set", v);
	for (int i = 4; i + 1 < argc && del && !ret; i += 2) {
		struct ip6_net sn;

		ret = ip6_parse_net(argv[i + 1], &sn);
		if (!ret)
			ret = vxlan_peer_del6(v, &sn);
	}
	if (del && !ret) {
		ret = vxlan_flush(v);
		print_stats("del", v);
	}
	if (ret)
		fprintf(stderr, "vxlan6_drive: %s\n", strerror(-ret));
	vxlan_free(v);
	return ret ? 1 : 0;
}
