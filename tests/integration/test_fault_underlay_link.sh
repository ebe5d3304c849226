#!/usr/bin/env bash
# Node 2's underlay link (eth0, admin down: its routes and ARP entries go
# too) is down for 10 s, then up. Pods ping every 10 ms across it (1 -> 2)
# and past it (1 -> 3, which must lose nothing). After the link is up the
# first reply comes within 2 s; weftd on node 2 is still running on the
# same lease, its VXLAN device is up, every node holds exactly its peers'
# entries, and node 2's etcd watch is alive: a peer lease written after
# the outage is programmed there.
# labels: fault;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/fault_common.sh"
h_init
h_cluster 3
f_mesh 3
f_snapshot 3
N2=$(h_node_ns 2)

f_ping_start across 1 2
f_ping_start past 1 3
sleep 1
t_down=$(f_now)
ip -n "$N2" link set eth0 down || h_fail "eth0 down"
h_log "node 2 eth0 down"
sleep 10
ip -n "$N2" link set eth0 up || h_fail "eth0 up"
# Taken once the change is done: a busy RTNL can hold the command back.
t_up=$(f_now)
h_log "node 2 eth0 up"
replied() { [ -n "$(f_ping_first_after across "$t_up")" ]; }
h_wait_for 10 "a reply across node 2's link" replied || h_fail "no reply after the link came back"
resume=$(f_ping_first_after across "$t_up")
# The last reply before the outage, to show the gap.
last=$(awk -v t="$t_down" -F'[][]' '/bytes from/ && $2 + 0 <= t {l = $2} END {print l}' \
	"$H_TMP/ping-across.out")
h_log "traffic across node 2's link resumed ${resume} s after link up" \
	"(gap $(awk -v a="$last" -v b="$t_up" -v r="$resume" 'BEGIN {printf "%.2f", b + r - a}') s)"
awk -v r="$resume" 'BEGIN {exit !(r <= 2.0)}' || h_fail "traffic resumed only after ${resume} s"
sleep 1
f_ping_stop across
h_log "ping across the outage lost $F_LOST of $F_SENT replies (expected: about 10 s worth)"
[ "$F_LOST" -gt 0 ] || h_fail "the link outage lost nothing: the fault was not injected"
f_ping_no_loss past

l_alive 2 || h_fail "weftd on node 2 exited"
ip -n "$N2" link show weft.1 | h_grep ',UP' || h_fail "weft.1 on node 2 is not up"
f_same_leases 3
f_mesh_exact 3 || h_fail "kernel entries after the outage are not exact"
P=$L_PREFIX/subnets/10.244.200.0-24
h_etcdctl put "$P" "$(l_value 198.18.0.99)" >/dev/null || h_fail "writing a peer lease"
has_p() {
	ip -n "$N2" neigh show dev weft.1 |
		h_grep "^10.244.200.0 lladdr $(l_vtep_mac 198.18.0.99) PERMANENT"
}
h_wait_for 10 "node 2 programs a peer written after the outage" has_p ||
	{ tail -20 "$H_TMP/n2.log" >&2; h_fail "node 2's watch is stale"; }
d_ping 2 1 "$(d_pod_ip 3 1)" || h_fail "pod 2 -> pod 3 after the outage"
d_ping 3 1 "$(d_pod_ip 2 1)" || h_fail "pod 3 -> pod 2 after the outage"
for n in 1 2 3; do
	l_stop "$n"
done
