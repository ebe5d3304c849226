#!/usr/bin/env bash
# Pod-to-pod TCP throughput across nodes (iperf3): nodes 1-2 wired by weftd,
# nodes 3-4 wired by hand with iproute2 into the same shape (VXLAN device,
# bridge, neighbour, FDB, route), plus the bare underlay between nodes 1 and
# 2. Rounds alternate so that load from elsewhere hits both alike; medians
# are printed.
#
#   WEFT_BIN=build/bin WEFT_SRC=. bash tests/bench/dataplane_throughput.sh [ROUNDS] [SECONDS]
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
h_init
h_underlay
h_etcd_start
h_net_config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'
ROUNDS=${1:-3}
SECS=${2:-4}

for n in 1 2 3 4; do
	h_node_add "$n"
done
for n in 1 2; do
	l_start "$n" --log-level warn
done
for n in 1 2; do
	h_wait_for 10 "node $n subnet.env" test -s "$(h_subnet_file "$n")" || h_fail "node $n"
	d_pod_add "$n" 1
done
h_wait_for 5 "weft mesh" d_has_peer 1 2 || h_fail "weft mesh"

# Hand-made twin on nodes 3 and 4: subnets 10.250.3.0/24 and 10.250.4.0/24.
manual_node() {
	local n=$1 peer=$2 ns pod
	ns=$(h_node_ns "$n")
	pod=$(d_pod_ns "$n" 1)
	ip -n "$ns" link add vx.1 address "02:dd:00:00:00:0$n" mtu 1450 type vxlan id 1 \
		dstport 8472 local "198.18.0.$n" dev eth0 nolearning
	ip -n "$ns" addr add "10.250.$n.0/32" dev vx.1
	ip -n "$ns" link set vx.1 up
	ip -n "$ns" neigh replace "10.250.$peer.0" lladdr "02:dd:00:00:00:0$peer" dev vx.1 nud permanent
	bridge -n "$ns" fdb replace "02:dd:00:00:00:0$peer" dev vx.1 dst "198.18.0.$peer" self permanent
	ip -n "$ns" route replace "10.250.$peer.0/24" via "10.250.$peer.0" dev vx.1 onlink
	ip -n "$ns" link add cni0 mtu 1450 type bridge
	ip -n "$ns" addr add "10.250.$n.1/24" dev cni0
	ip -n "$ns" link set cni0 up
	h_netns_add "$pod"
	ip -n "$ns" link add veth1 mtu 1450 type veth peer name eth0 mtu 1450 netns "$pod"
	ip -n "$ns" link set veth1 master cni0 up
	ip -n "$pod" addr add "10.250.$n.2/24" dev eth0
	ip -n "$pod" link set eth0 up
	ip -n "$pod" route add default via "10.250.$n.1"
}
manual_node 3 4
manual_node 4 3
ip netns exec "$(d_pod_ns 3 1)" ping -c 1 -W 2 10.250.4.2 >/dev/null || h_fail "manual path"

# iperf FROM_NS SERVER_NS SERVER_IP: Gbit/s of one run.
iperf() {
	local pid out
	ip netns exec "$2" iperf3 -s -1 -B "$3" >/dev/null 2>&1 &
	pid=$!
	h_wait_for 5 "iperf3 server" ip netns exec "$2" sh -c "ss -ltn | grep -q ':5201 '" >/dev/null 2>&1
	out=$(ip netns exec "$1" iperf3 -c "$3" -t "$SECS" -J) || h_fail "iperf3 to $3"
	wait "$pid"
	jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100' <<<"$out"
}

weft=() manual=() bare=()
for ((r = 1; r <= ROUNDS; r++)); do
	weft+=("$(iperf "$(d_pod_ns 1 1)" "$(d_pod_ns 2 1)" "$(d_pod_ip 2 1)")")
	manual+=("$(iperf "$(d_pod_ns 3 1)" "$(d_pod_ns 4 1)" 10.250.4.2)")
	bare+=("$(iperf "$(h_node_ns 1)" "$(h_node_ns 2)" 198.18.0.2)")
	h_log "round $r: weft ${weft[-1]} Gbit/s, by hand ${manual[-1]} Gbit/s, underlay ${bare[-1]} Gbit/s"
done
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
w=$(median "${weft[@]}")
m=$(median "${manual[@]}")
b=$(median "${bare[@]}")
echo "pod-to-pod TCP, median of $ROUNDS x ${SECS}s: weft $w Gbit/s, by hand $m Gbit/s ($(python3 -c "print(round(100*$w/$m))") %), bare underlay $b Gbit/s"
echo "RESULT weft_gbps=$w manual_gbps=$m underlay_gbps=$b"
for n in 1 2; do
	l_stop "$n"
done
