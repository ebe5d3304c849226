#!/usr/bin/env bash
# Nodes come and go: a 4th node is reachable from every peer within 5 s; a
# node killed with -9 whose lease is deleted disappears from every peer
# within 5 s; a VXLAN device deleted by hand is back with all peers within
# 5 s; kill -9 and restart of weftd under a 10 ms ping loses no reply and
# leaves no duplicate; a peer deleted from etcd while weftd was down is
# pruned at restart.
# labels: dataplane;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
h_init
h_cluster 4

for n in 1 2 3; do
	l_start "$n"
done
for n in 1 2 3; do
	h_wait_for 10 "node $n subnet.env" test -s "$(h_subnet_file "$n")" ||
		{ cat "$H_TMP/n$n.log" >&2; h_fail "node $n wrote no subnet.env"; }
	d_pod_add "$n" 1
done
for n in 1 2 3; do
	for m in 1 2 3; do
		[ "$m" = "$n" ] && continue
		h_wait_for 5 "node $n has node $m" d_has_peer "$n" "$m" || h_fail "mesh incomplete"
	done
done

# --- join
l_start 4
h_wait_for 10 "node 4 subnet.env" test -s "$(h_subnet_file 4)" || h_fail "node 4 no subnet.env"
d_pod_add 4 1
for n in 1 2 3; do
	h_wait_for 5 "pod on node $n reaches the pod on the joining node" \
		d_ping "$n" 1 "$(d_pod_ip 4 1)" -c 1 || h_fail "node 4 unreachable from node $n"
	d_has_peer "$n" 4 || h_fail "node $n: node 4's entries are not exact"
done

# --- a peer changes its VTEP MAC, then its PublicIP: no stale entry stays
fake=/coreos.com/network/subnets/10.244.250.0-24
h_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | h_grep '10\.244\.250\.0-24' &&
	h_fail "test subnet 10.244.250.0/24 taken"
fake_value() {
	printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"%s"}}' "$1" "$2"
}
fdb_is() { [ "$(bridge -n "$(h_node_ns 1)" fdb show dev weft.1 | grep -c "$1")" = 1 ] &&
	bridge -n "$(h_node_ns 1)" fdb show dev weft.1 | h_grep "^$1 dst $2 self permanent" &&
	ip -n "$(h_node_ns 1)" neigh show dev weft.1 | h_grep "^10.244.250.0 lladdr $1 PERMANENT"; }
no_fdb() { ! bridge -n "$(h_node_ns 1)" fdb show dev weft.1 | h_grep "^$1 "; }
h_etcdctl put "$fake" "$(fake_value 198.18.0.77 02:ab:00:00:00:01)" >/dev/null
h_wait_for 5 "fake peer programmed" fdb_is 02:ab:00:00:00:01 198.18.0.77 || h_fail "fake peer"
h_etcdctl put "$fake" "$(fake_value 198.18.0.77 02:ab:00:00:00:02)" >/dev/null
h_wait_for 5 "new VTEP MAC in place" fdb_is 02:ab:00:00:00:02 198.18.0.77 || h_fail "MAC change"
no_fdb 02:ab:00:00:00:01 || h_fail "stale FDB entry for the old MAC"
h_etcdctl put "$fake" "$(fake_value 198.18.0.78 02:ab:00:00:00:02)" >/dev/null
h_wait_for 5 "new PublicIP in place" fdb_is 02:ab:00:00:00:02 198.18.0.78 || h_fail "IP change"
h_etcdctl del "$fake" >/dev/null
h_wait_for 5 "fake peer removed" no_fdb 02:ab:00:00:00:02 || h_fail "fake peer stays"

# --- leave: kill -9, then the lease goes
l_stop 4 KILL
h_etcdctl del "$(l_key_of 198.18.0.4)" >/dev/null || h_fail "deleting node 4's lease"
for n in 1 2 3; do
	h_wait_for 5 "node 4 gone from node $n" d_lacks_peer "$n" 4 || {
		ip -n "$(h_node_ns "$n")" route >&2
		h_fail "node 4's entries remain on node $n"
	}
	for kind in neigh fdb route; do
		h_assert_eq 2 "$(d_count "$n" "$kind")" "node $n $kind after leave"
	done
done

# --- device deleted by hand
ip -n "$(h_node_ns 2)" link del weft.1
node2_whole() { d_has_peer 2 1 && d_has_peer 2 3; }
h_wait_for 5 "weft.1 on node 2 recreated with its peers" node2_whole || h_fail "node 2 not repaired"
d_ping 2 1 "$(d_pod_ip 1 1)" || h_fail "pod 2 -> pod 1 after device recreation"

# --- kill -9 and restart under a 10 ms ping
ip netns exec "$(d_pod_ns 1 1)" ping -i 0.01 -c 400 -W 1 "$(d_pod_ip 3 1)" >"$H_TMP/ping.out" 2>&1 &
ping_pid=$!
sleep 1
l_stop 1 KILL
l_start 1
h_wait_for 10 "node 1 ready again" \
	ip netns exec "$(h_node_ns 1)" curl -sf --max-time 1 http://127.0.0.1:9872/readyz ||
	h_fail "node 1 not ready after restart"
wait "$ping_pid"
stats=$(grep 'packets transmitted' "$H_TMP/ping.out")
h_log "ping across the restart: $stats"
[[ $stats == "400 packets transmitted, 400 received,"* ]] || h_fail "replies lost: $stats"
for kind in neigh fdb route; do
	h_assert_eq 2 "$(d_count 1 "$kind")" "node 1 $kind after restart"
done
d_has_peer 1 2 && d_has_peer 1 3 || h_fail "node 1 entries after restart"

# --- a peer deleted while weftd was down is pruned at restart
l_stop 1 KILL
l_stop 3 KILL
h_etcdctl del "$(l_key_of 198.18.0.3)" >/dev/null || h_fail "deleting node 3's lease"
d_has_peer 1 3 || h_fail "node 1 lost node 3's entries while down"
l_start 1
h_wait_for 5 "node 3 pruned from node 1 after restart" d_lacks_peer 1 3 ||
	h_fail "stale entries of node 3 stay on node 1"
d_has_peer 1 2 || h_fail "node 1 lost node 2"
d_ping 1 1 "$(d_pod_ip 2 1)" || h_fail "pod 1 -> pod 2 after restart"
for n in 1 2; do
	l_stop "$n"
done
