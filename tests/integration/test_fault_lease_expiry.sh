#!/usr/bin/env bash
# Node 3 runs with --lease-ttl 4 and its weftd is killed with -9: nobody
# renews its lease, etcd expires it within the TTL, and nodes 1 and 2 prune
# its neighbour, FDB entry and route within TTL + 5 s of the kill (each
# keeps exactly its one other peer), while pods on nodes 1 and 2 keep
# pinging each other every 10 ms without a loss. Restarted, node 3 gets its old subnet back (from its
# subnet.env) and the peers program it again.
# labels: fault;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/fault_common.sh"
TTL=4
h_init
h_cluster 3
# Only node 3 has the short TTL; f_mesh passes its args to every node.
l_start 3 --lease-ttl "$TTL"
f_mesh 2
h_wait_for 10 "node 3 subnet.env" test -s "$(h_subnet_file 3)" || h_fail "node 3 no subnet.env"
d_pod_add 3 1
for n in 1 2; do
	h_wait_for 10 "node $n has node 3" d_has_peer "$n" 3 || h_fail "node $n lacks node 3"
	h_wait_for 10 "node 3 has node $n" d_has_peer 3 "$n" || h_fail "node 3 lacks node $n"
done
d_ping 1 1 "$(d_pod_ip 3 1)" || h_fail "pod 1 -> pod 3 before the fault"
f_snapshot 3
since() { awk -v a="$1" -v b="$(f_now)" 'BEGIN {printf "%.2f", b - a}'; }

f_monitor 1
f_monitor 2
f_ping_start a 1 2
f_ping_start b 2 1
sleep 1
t_kill=$(f_now)
l_stop 3 KILL
h_log "weftd on node 3 killed"
gone() { ! h_etcdctl get "${F_KEY[3]}" | h_grep .; }
h_wait_for $((TTL + 5)) "node 3's lease expires in etcd" gone || h_fail "node 3's lease did not expire"
h_log "etcdctl sees node 3's lease gone $(since "$t_kill") s after the kill (TTL $TTL s)"
for n in 1 2; do
	h_wait_for 10 "node $n prunes node 3" d_lacks_peer "$n" 3 || {
		ip -n "$(h_node_ns "$n")" route show proto 87 >&2
		h_fail "node 3's entries stay on node $n"
	}
	at=$(f_route_deleted_at "$n" "$(d_net 3)") || h_fail "ip monitor on node $n saw no deletion"
	t=$(awk -v a="$t_kill" -v b="$at" 'BEGIN {printf "%.3f", b - a}')
	h_log "node $n deleted the route to node 3 $t s after the kill (ip monitor)"
	awk -v t="$t" -v l="$TTL" 'BEGIN {exit !(t <= l + 5)}' || h_fail "node $n pruned late ($t s)"
	for kind in neigh fdb route; do
		h_assert_eq 1 "$(d_count "$n" "$kind")" "node $n $kind entries"
	done
done
d_has_peer 1 2 && d_has_peer 2 1 || h_fail "nodes 1 and 2 lost each other"
f_ping_no_loss a b

l_start 3 --lease-ttl "$TTL"
for n in 1 2; do
	h_wait_for 10 "node $n programs node 3 again" d_has_peer "$n" 3 ||
		h_fail "node $n does not see node 3 again"
done
f_same_leases 3
d_ping 1 1 "$(d_pod_ip 3 1)" || h_fail "pod 1 -> pod 3 after node 3 came back"
for n in 1 2 3; do
	l_stop "$n"
done
