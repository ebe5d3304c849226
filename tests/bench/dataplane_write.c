/* Backend write speed without etcd: in a private network namespace, N peers
 * are handed to the VXLAN backend and flushed (3N kernel objects in one
 * pipelined batch), then a full reconcile runs over them. Prints the times.
 * Built and run, next to `ip -batch` + `bridge -batch`, by
 * dataplane_write.sh. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/vxlan.h"
#include "common/util.h"

int main(int argc, char **argv)
{
	struct vxlan_conf c = {
		.vni = 1,
		.port = 8472,
		.public_ip = 0xc6120001, /* 198.18.0.1 */
		.mtu = 1450,
		.subnet = {0x0a000000, 24},
		.mac = {0x02, 0xaa, 0, 0, 0, 1},
	};
	struct vxlan_stats st;
	struct vxlan *v;
	uint64_t t0, t1, t2;
	unsigned n;
	int ret;

	if (argc != 2 || (n = (unsigned)atoi(argv[1])) == 0 || n > 60000) {
		fprintf(stderr, "usage: %s PEERS\n", argv[0]);
		return 2;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare");
		return 1;
	}
	ret = vxlan_new(&c, &v);
	if (!ret)
		ret = vxlan_ensure_device(v);
	if (ret) {
		fprintf(stderr, "device: %s\n", strerror(-ret));
		return 1;
	}
	for (unsigned i = 0; i < n; i++) {
		struct vxlan_peer p = {
			.subnet = {0x0a000000 + ((i + 1) << 8), 24},
			.public_ip = 0xc6130000 + i + 1, /* 198.19.x.y */
			.vtep_mac = {0x02, 0xbb, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
				     (uint8_t)i},
		};
		ret = vxlan_peer_set(v, &p);
		if (ret) {
			fprintf(stderr, "peer: %s\n", strerror(-ret));
			return 1;
		}
	}
	vxlan_peers_synced(v);
	t0 = now_ms();
	ret = vxlan_flush(v);
	t1 = now_ms();
	if (!ret)
		ret = vxlan_handle_events(v);
	if (!ret)
		ret = vxlan_reconcile(v);
	t2 = now_ms();
	vxlan_get_stats(v, &st);
	if (ret || st.routes != n || st.neighs != n || st.fdbs != n || st.reconcile_fixes) {
		fprintf(stderr, "failed: %s, %u routes, %" PRIu64 " fixes\n", strerror(-ret),
			st.routes, st.reconcile_fixes);
		return 1;
	}
	printf("backend: %u peers, %u objects written in %" PRIu64
	       " ms; reconcile (dump 3 tables, diff, nothing to fix) %" PRIu64 " ms\n",
	       n, 3 * n, t1 - t0, t2 - t1);
	vxlan_free(v);
	return 0;
}
