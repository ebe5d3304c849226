#!/usr/bin/env bash
# --ip-masq: a pod reaches the external host, which sees the node's address;
# pod-to-pod traffic keeps pod addresses (seen by the receiving pod);
# traffic carrying kube-proxy's mark is left alone; the table is weft's own,
# reads naturally and outlives weftd.
# labels: dataplane;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
h_init
h_cluster 2
h_ext_add
# A table of someone else's on node 1 must stay as it is.
ip netns exec "$(h_node_ns 1)" nft add table ip other
ip netns exec "$(h_node_ns 1)" nft add chain ip other keep
for n in 1 2; do
	l_start "$n" --ip-masq
done
for n in 1 2; do
	h_wait_for 10 "node $n subnet.env" test -s "$(h_subnet_file "$n")" ||
		{ cat "$H_TMP/n$n.log" >&2; h_fail "node $n wrote no subnet.env"; }
	h_assert_eq true "$(d_env "$n" FLANNEL_IPMASQ)" "FLANNEL_IPMASQ"
	d_pod_add "$n" 1
done
h_wait_for 5 "mesh" d_has_peer 1 2 || h_fail "node 1 lacks node 2"

# seen_by NS PORT FROM_NS TO_IP: the source address a TCP listener in NS
# sees when FROM_NS connects to TO_IP:PORT.
seen_by() {
	local ns=$1 port=$2 from=$3 to=$4 log="$H_TMP/seen.$2" pid
	rm -f "$log"
	ip netns exec "$ns" timeout 10 nc -l -v -n -p "$port" >/dev/null 2>"$log" &
	pid=$!
	h_wait_for 5 "listener :$port" ip netns exec "$ns" sh -c "ss -ltn | grep -q ':$port '" ||
		return 1
	echo hello | ip netns exec "$from" timeout 5 nc -N -n "$to" "$port" >/dev/null 2>&1
	wait "$pid"
	sed -n 's/^Connection received on \([0-9.]*\) .*/\1/p' "$log"
}

ext="$H_RUN-ext"
h_assert_eq 198.18.0.1 "$(seen_by "$ext" 7000 "$(d_pod_ns 1 1)" "$H_EXT_IP")" \
	"source seen by the external host"
h_assert_eq "$(d_pod_ip 1 1)" "$(seen_by "$(d_pod_ns 2 1)" 7001 "$(d_pod_ns 1 1)" \
	"$(d_pod_ip 2 1)")" "source seen by the pod on node 2"

# kube-proxy's mark bit: weft leaves the packet to kube-proxy (not
# masqueraded here). The external host routes pods back through node 1.
ip -n "$ext" route add 10.244.0.0/16 via 198.18.0.1
ip netns exec "$(h_node_ns 1)" nft add chain ip other kpmark '{ type filter hook prerouting priority 0; }'
ip netns exec "$(h_node_ns 1)" nft add rule ip other kpmark tcp dport 7002 meta mark set 0x4400
h_assert_eq "$(d_pod_ip 1 1)" "$(seen_by "$ext" 7002 "$(d_pod_ns 1 1)" "$H_EXT_IP")" \
	"source of kube-proxy-marked traffic"

table=$(ip netns exec "$(h_node_ns 1)" nft list table ip weft)
h_log "node 1 table:"$'\n'"$table"
for want in "type nat hook postrouting priority srcnat; policy accept;" \
	"meta mark & 0x00004000 == 0x00004000 return" \
	"ip saddr $(d_net 1) ip daddr 10.244.0.0/16 return" \
	"ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random" \
	"ip saddr 10.244.0.0/16 accept" "ip daddr 10.244.0.0/16 accept"; do
	[[ $table == *"$want"* ]] || h_fail "table ip weft lacks '$want'"
done
ip netns exec "$(h_node_ns 1)" nft list chain ip other keep >/dev/null ||
	h_fail "another table was touched"

# The rules stay when weftd exits and are not duplicated by a restart.
l_stop 1
h_assert_eq "$table" "$(ip netns exec "$(h_node_ns 1)" nft list table ip weft)" "table after exit"
l_start 1 --ip-masq
h_wait_for 10 "node 1 ready" \
	ip netns exec "$(h_node_ns 1)" curl -sf --max-time 1 http://127.0.0.1:9872/readyz ||
	h_fail "node 1 not ready after restart"
h_assert_eq "$table" "$(ip netns exec "$(h_node_ns 1)" nft list table ip weft)" "table after restart"
for n in 1 2; do
	l_stop "$n"
done
