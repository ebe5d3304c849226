#!/usr/bin/env bash
# Three nodes: pods on every pair of nodes ping each other and move 1 MiB
# over TCP; each node holds exactly the device docs/architecture.md lists and one
# neighbour, FDB entry and route per peer; /readyz is 503 before the lease and 200
# after, and systemd hears READY=1; /metrics passes promtool and its counts
# match the kernel; the MTU of FLANNEL_MTU fits end to end and one byte more
# is refused, not lost.
# labels: dataplane;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
h_init
h_cluster 3 ""

# No network config yet: weftd waits, its endpoint answers not ready.
l_start 1 --log-level debug
h_wait_for 10 "node 1 /healthz" \
	ip netns exec "$(h_node_ns 1)" curl -sf --max-time 2 http://127.0.0.1:9872/healthz ||
	h_fail "no /healthz"
code=$(ip netns exec "$(h_node_ns 1)" curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
	http://127.0.0.1:9872/readyz)
h_assert_eq 503 "$code" "/readyz before the lease"

h_net_config
# Node 2 runs as under systemd (Type=notify): READY=1 must arrive.
h_bg "$(h_node_ns 2)" "$H_TMP/notify.log" python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
print(s.recv(4096).decode(), flush=True)' "$H_TMP/notify.sock"
h_wait_for 5 "notify socket" test -S "$H_TMP/notify.sock" || h_fail "no notify socket"
NOTIFY_SOCKET=$H_TMP/notify.sock l_start 2 --log-level debug
l_start 3 --log-level debug
for n in 1 2 3; do
	h_wait_for 15 "node $n subnet.env" test -s "$(h_subnet_file "$n")" ||
		{ cat "$H_TMP/n$n.log" >&2; h_fail "node $n wrote no subnet.env"; }
done
h_wait_for 5 "node 1 ready" \
	ip netns exec "$(h_node_ns 1)" curl -sf --max-time 2 http://127.0.0.1:9872/readyz ||
	h_fail "/readyz not 200 after the lease"

h_wait_for 5 "READY=1 from node 2" grep -q '^READY=1' "$H_TMP/notify.log" ||
	h_fail "no READY=1: $(cat "$H_TMP/notify.log")"
for n in 1 2 3; do
	d_pod_add "$n" 1
done

# Kernel state on every node: the device, then one set per peer.
for n in 1 2 3; do
	ns=$(h_node_ns "$n")
	link=$(ip -n "$ns" -d link show weft.1)
	for want in "mtu 1450" "link/ether $(l_vtep_mac "198.18.0.$n")" "vxlan id 1 " \
		"local 198.18.0.$n " "dstport 8472 " "nolearning"; do
		[[ $link == *"$want"* ]] || h_fail "node $n weft.1 lacks '$want': $link"
	done
	h_assert_eq "$(d_base "$n").0/32" \
		"$(ip -n "$ns" -4 -o addr show dev weft.1 | awk '{print $4}')" "node $n weft.1 address"
	for m in 1 2 3; do
		[ "$m" = "$n" ] && continue
		h_wait_for 5 "node $n has node $m" d_has_peer "$n" "$m" || {
			ip -n "$ns" neigh show dev weft.1 >&2
			bridge -n "$ns" fdb show dev weft.1 >&2
			ip -n "$ns" route >&2
			h_fail "node $n lacks node $m's entries"
		}
	done
	for kind in neigh fdb route; do
		h_assert_eq 2 "$(d_count "$n" "$kind")" "node $n $kind count"
	done
done

# Pod to pod on every ordered pair of nodes.
for n in 1 2 3; do
	for m in 1 2 3; do
		[ "$m" = "$n" ] && continue
		d_ping "$n" 1 "$(d_pod_ip "$m" 1)" || h_fail "ping pod $n -> pod $m"
		d_tcp "$n" 1 "$m" 1 || h_fail "TCP pod $n -> pod $m"
	done
done
h_log "ping and TCP on all 6 pairs"

# MTU: FLANNEL_MTU (1450) fits pod to pod with DF; the node refuses one
# byte more towards a remote pod instead of losing it.
h_assert_eq 1450 "$(d_env 1 FLANNEL_MTU)" "FLANNEL_MTU"
d_ping 1 1 "$(d_pod_ip 2 1)" -M do -s 1422 || h_fail "1422-byte DF ping pod 1 -> pod 2"
out=$(ip netns exec "$(h_node_ns 1)" ping -c 1 -W 2 -M do -s 1423 "$(d_pod_ip 2 1)" 2>&1)
[[ $out == *"message too long"* ]] || h_fail "1423-byte DF ping: $out"

# Metrics: valid exposition, counts equal to what the tools show.
for n in 1 2 3; do
	d_metrics "$n" >"$H_TMP/metrics$n" || h_fail "node $n /metrics"
	promtool check metrics <"$H_TMP/metrics$n" || h_fail "node $n metrics rejected by promtool"
	h_assert_eq 2 "$(d_metric "$n" weft_peers)" "node $n weft_peers"
	for kind in neigh fdb route; do
		h_assert_eq "$(d_count "$n" "$kind")" \
			"$(d_metric "$n" "weft_kernel_objects{kind=\"$kind\"}")" "node $n $kind metric"
	done
	h_assert_eq 1 "$(d_metric "$n" weft_ready)" "node $n weft_ready"
done

for n in 1 2 3; do
	l_stop "$n"
done
# The data plane outlives weftd.
d_ping 1 1 "$(d_pod_ip 3 1)" || h_fail "pods cut off after weftd exited"
