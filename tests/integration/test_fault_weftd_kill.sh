#!/usr/bin/env bash
# weftd is killed with -9 on every node in turn and restarted, while pods on
# the three nodes ping each other every 10 ms in a ring: no reply is lost,
# every node comes back with the same subnet on the same etcd lease (reused,
# not acquired anew), subnet.env is unchanged and the kernel holds exactly
# one set of entries per peer.
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
declare -A LEASE
for n in 1 2 3; do
	LEASE[$n]=$(f_lease_id "${F_KEY[$n]}")
done

ready() { ip netns exec "$(h_node_ns "$1")" curl -sf --max-time 1 http://127.0.0.1:9872/readyz; }

for n in 1 2 3; do
	f_ping_start "$n" "$n" $((n % 3 + 1))
done
sleep 1
for n in 1 2 3; do
	l_stop "$n" KILL
	l_start "$n"
	h_wait_for 15 "node $n ready after kill -9 and restart" ready "$n" ||
		{ tail -20 "$H_TMP/n$n.log" >&2; h_fail "node $n not ready after restart"; }
	f_reused "$n"
	sleep 0.5
done
sleep 1
f_ping_no_loss 1 2 3

f_same_leases 3
for n in 1 2 3; do
	l_alive "$n" || h_fail "node $n exited"
	h_assert_eq "${LEASE[$n]}" "$(f_lease_id "${F_KEY[$n]}")" "node $n etcd lease"
	f_reused "$n"
done
f_mesh_exact 3 || h_fail "kernel entries after the restarts are not exact"
for n in 1 2 3; do
	l_stop "$n"
done
