#!/usr/bin/env bash
# A dual-stack network on 3 dual-stack nodes (IPv4 + IPv6 underlay), weftd
# with --ip-masq, pods made by the weft plugin from each node's subnet.env:
# dual-stack lease keys and values, subnet.env, weft-v6.1 and the IPv6
# neighbour/FDB/route per peer; ICMPv6 and TCP over IPv6 between pods on
# every pair of nodes keep the pod source (seen by the receiver), IPv4
# between the same pods too; the external host sees the node's IPv6 address
# (ip6 masquerade); weftd kill -9 under 10 ms IPv6 pings loses no reply and
# the restarted node keeps its key; a 4th node's IPv6 entries appear on the
# others and are pruned when it leaves.
# labels: dataplane;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/fault_common.sh"
source "$WEFT_SRC/tests/integration/dualstack_common.sh"
h_init
h_cluster 3 '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}'
h_ext_add
for n in 1 2 3; do
	h_node_v6 "$n"
done
# Both ways of naming the IPv6 underlay: the interface and the address.
declare -A ARGS=([1]="--ip-masq --iface eth0" [2]="--ip-masq --iface eth0"
	[3]="--ip-masq --public-ipv6 2001:db8:18::3" [4]="--ip-masq --iface eth0")
for n in 1 2 3; do
	# shellcheck disable=SC2086
	l_start "$n" ${ARGS[$n]}
done
for n in 1 2 3; do
	ds_wait_node "$n"
done

h_log "== leases, subnet.env, devices"
declare -A KEY
for n in 1 2 3; do
	KEY[$n]=$(l_key_of "198.18.0.$n")
	h_log "node $n: ${KEY[$n]}"
	[[ ${KEY[$n]} =~ ^$L_PREFIX/subnets/(10\.244\.[0-9]+\.0-24)\&(fd00:10:244:[0-9a-f]+::-64)$ ]] ||
		h_fail "node $n: not a dual-stack key: '${KEY[$n]}'"
	h_assert_eq "$(d_net "$n")" "${BASH_REMATCH[1]/-//}" "node $n IPv4 subnet in key and subnet.env"
	h_assert_eq "$(ds_net6 "$n")" "${BASH_REMATCH[2]/-//}" "node $n IPv6 subnet in key and subnet.env"
	h_assert_eq "$(ds_key_of6 "2001:db8:18::$n")" "${KEY[$n]}" "node $n key by PublicIPv6"
	val=$(h_etcdctl get --print-value-only "${KEY[$n]}")
	h_assert_eq "$(jq -c --arg m "$(ds_vtep_mac6 "2001:db8:18::$n")" -n '{VNI: 1, VtepMAC: $m}')" \
		"$(jq -c .BackendV6Data <<<"$val")" "node $n BackendV6Data"
	h_assert_eq "198.18.0.$n 2001:db8:18::$n" "$(jq -r '"\(.PublicIP) \(.PublicIPv6)"' <<<"$val")" \
		"node $n public addresses"
	# With an IPv6 subnet FLANNEL_MTU is the IPv6 device's: underlay - 70.
	h_assert_eq "10.244.0.0/16 fd00:10:244::/56 1430 true" \
		"$(d_env "$n" FLANNEL_NETWORK) $(d_env "$n" FLANNEL_IPV6_NETWORK) $(d_env "$n" FLANNEL_MTU) $(d_env "$n" FLANNEL_IPMASQ)" \
		"node $n subnet.env networks, MTU, masquerade"
	link=$(ip -n "$(h_node_ns "$n")" -d link show weft-v6.1) || h_fail "node $n has no weft-v6.1"
	for want in "mtu 1430 " "vxlan id 1 local 2001:db8:18::$n " "nolearning" \
		"link/ether $(ds_vtep_mac6 "2001:db8:18::$n") "; do
		[[ $link == *"$want"* ]] || h_fail "node $n weft-v6.1 lacks '$want': $link"
	done
	ip -n "$(h_node_ns "$n")" -6 addr show dev weft-v6.1 | h_grep "inet6 $(ds_base6 "$n")/128 " ||
		h_fail "node $n: no $(ds_base6 "$n")/128 on weft-v6.1"
done
h_log "node 1 subnet.env:"$'\n'"$(cat "$(h_subnet_file 1)")"

h_log "== mesh"
mesh_v6() {
	local n m
	for n in "$@"; do
		for m in "$@"; do
			[ "$n" = "$m" ] && continue
			ds_has_peer6 "$n" "$m" && ds_has_peer4 "$n" "$m" || return 1
		done
	done
}
h_wait_for 10 "IPv4 and IPv6 mesh" mesh_v6 1 2 3 || h_fail "mesh incomplete"
for n in 1 2 3; do
	for kind in neigh fdb route; do
		h_assert_eq 2 "$(ds_count6 "$n" "$kind")" "node $n IPv6 $kind entries"
	done
	h_assert_eq "2 2" "$(l_metric "$n" 'weft_peers{family="ipv4"}') $(l_metric "$n" 'weft_peers{family="ipv6"}')" \
		"node $n weft_peers by family"
	h_assert_eq "2 2 2 1" "$(for k in neigh fdb route; do
		l_metric "$n" "weft_kernel_objects{kind=\"$k\",family=\"ipv6\"}"
	done | xargs) $(l_metric "$n" 'weft_nftables_applied{family="ipv6"}')" \
		"node $n IPv6 kernel objects and table in /metrics"
	table=$(ip netns exec "$(h_node_ns "$n")" nft list table ip6 weft) || h_fail "node $n: no table ip6 weft"
	[[ $table == *masquerade* ]] || h_fail "node $n: table ip6 weft without masquerade: $table"
done
h_log "node 1 table ip6 weft:"$'\n'"$table"

h_log "== pods"
for n in 1 2 3; do
	ds_pod "$n" p1
	[ -n "$DS_IP4" ] && [ -n "$DS_IP6" ] || h_fail "pod on node $n lacks a family"
	[[ $DS_IP6 == "$(ds_base6 "$n")"* ]] || h_fail "pod $DS_IP6 outside $(ds_net6 "$n")"
	ds_src_watch "$(ds_pod_ns "$n" p1)"
done
port=7000
for a in 1 2 3; do
	for b in 1 2 3; do
		[ "$a" = "$b" ] && continue
		from=$(ds_pod_ns "$a" p1) to=$(ds_pod_ns "$b" p1)
		ds_ping "$from" "${DS_POD6[$b-p1]}" || h_fail "ping -6 pod $a -> pod $b"
		ds_ping "$from" "${DS_POD4[$b-p1]}" || h_fail "ping pod $a -> pod $b"
		port=$((port + 1))
		h_assert_eq "${DS_POD6[$a-p1]}" "$(ds_seen_tcp "$to" "$port" "$from" "${DS_POD6[$b-p1]}")" \
			"IPv6 TCP source seen by pod $b from pod $a"
		port=$((port + 1))
		h_assert_eq "${DS_POD4[$a-p1]}" "$(ds_seen_tcp "$to" "$port" "$from" "${DS_POD4[$b-p1]}")" \
			"IPv4 TCP source seen by pod $b from pod $a"
	done
done
for b in 1 2 3; do
	want=$(for a in 1 2 3; do [ "$a" = "$b" ] || echo "${DS_POD6[$a-p1]}"; done | sort)
	h_assert_eq "$want" "$(ds_src_seen "$(ds_pod_ns "$b" p1)")" "ICMPv6 sources seen by pod $b"
done
ds_tcp "$(ds_pod_ns 1 p1)" "$(ds_pod_ns 3 p1)" "${DS_POD6[3-p1]}" 7100 ||
	h_fail "1 MiB over IPv6 TCP pod 1 -> pod 3"
# Full-size packets of the pod MTU, unfragmented, in both families.
ds_ping "$(ds_pod_ns 2 p1)" "${DS_POD6[1-p1]}" -M "do" -s $((1430 - 48)) || h_fail "full-size ping -6"
ds_ping "$(ds_pod_ns 2 p1)" "${DS_POD4[1-p1]}" -M "do" -s $((1430 - 28)) || h_fail "full-size ping"

h_log "== external host over IPv6 (masquerade)"
ext="$H_RUN-ext"
ds_src_watch "$ext"
for n in 1 2 3; do
	ds_ping "$(ds_pod_ns "$n" p1)" "$H_EXT_IP6" || h_fail "ping -6 pod $n -> external host"
	port=$((port + 1))
	h_assert_eq "2001:db8:18::$n" "$(ds_seen_tcp "$ext" "$port" "$(ds_pod_ns "$n" p1)" "$H_EXT_IP6")" \
		"IPv6 source seen by the external host from pod $n"
done
h_assert_eq "$(printf '2001:db8:18::%s\n' 1 2 3)" "$(ds_src_seen "$ext")" "ICMPv6 sources at the external host"
port=$((port + 1))
h_assert_eq 198.18.0.1 "$(ds_seen_tcp "$ext" "$port" "$(ds_pod_ns 1 p1)" "$H_EXT_IP")" \
	"IPv4 source seen by the external host"

h_log "== weftd kill -9 under 10 ms IPv6 pings"
env2=$(cat "$(h_subnet_file 2)")
crev2=$(l_create_rev "${KEY[2]}")
ds_ping_start ds "$(ds_pod_ns 1 p1)" "${DS_POD6[2-p1]}"
ds_ping_start ds4 "$(ds_pod_ns 2 p1)" "${DS_POD4[3-p1]}"
sleep 1
l_stop 2 KILL
sleep 1
# shellcheck disable=SC2086
l_start 2 ${ARGS[2]}
h_wait_for 15 "node 2 ready again" ds_ready 2 || h_fail "node 2 not ready after restart"
sleep 1
f_ping_no_loss ds ds4
h_assert_eq "${KEY[2]}" "$(l_key_of 198.18.0.2)" "node 2 key after restart"
h_assert_eq "$crev2" "$(l_create_rev "${KEY[2]}")" "node 2 key written anew"
h_assert_eq "$env2" "$(cat "$(h_subnet_file 2)")" "node 2 subnet.env after restart"
h_wait_for 5 "mesh after restart" mesh_v6 1 2 3 || h_fail "mesh after restart"
h_assert_eq 2 "$(ds_count6 2 route)" "node 2 IPv6 routes after restart"

h_log "== a 4th node joins and leaves"
h_node_add 4
h_node_v6 4
# shellcheck disable=SC2086
l_start 4 ${ARGS[4]}
ds_wait_node 4
h_wait_for 10 "4-node mesh" mesh_v6 1 2 3 4 || h_fail "node 4 not in the mesh"
for n in 1 2 3; do
	h_assert_eq 3 "$(l_metric "$n" 'weft_peers{family="ipv6"}')" "node $n IPv6 peers with node 4"
done
ds_pod 4 p1
ds_ping "$(ds_pod_ns 1 p1)" "$DS_IP6" || h_fail "ping -6 pod 1 -> pod 4"
ds_ping "$(ds_pod_ns 4 p1)" "${DS_POD6[2-p1]}" || h_fail "ping -6 pod 4 -> pod 2"
key4=$(l_key_of 198.18.0.4)
[ -n "$key4" ] || h_fail "node 4 has no key"
l_stop 4
h_etcdctl del "$key4" >/dev/null || h_fail "deleting node 4's lease"
left() {
	local n
	for n in 1 2 3; do
		ds_lacks_peer6 "$n" 4 && d_lacks_peer "$n" 4 || return 1
	done
}
# The probe saw node 4's entries above (mesh_v6 1 2 3 4).
h_wait_for 10 "node 4's entries pruned" left || h_fail "node 4's entries left behind"
for n in 1 2 3; do
	for kind in neigh fdb route; do
		h_assert_eq 2 "$(ds_count6 "$n" "$kind")" "node $n IPv6 $kind entries after node 4 left"
	done
	h_assert_eq 2 "$(l_metric "$n" 'weft_peers{family="ipv6"}')" "node $n IPv6 peers after node 4 left"
done
mesh_v6 1 2 3 || h_fail "mesh after node 4 left"
for n in 1 2 3; do
	l_stop "$n"
done
exit 0
