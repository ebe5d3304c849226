#!/usr/bin/env bash
# An IPv6-only network ("EnableIPv4": false) on 2 nodes with an IPv6
# underlay (their IPv4 addresses stay for etcd only), weftd with --ip-masq:
# IPv6-only lease keys and values, subnet.env with only the IPv6 lines plus
# FLANNEL_MTU and FLANNEL_IPMASQ, no IPv4 device or route; pods made by the
# weft plugin get only an IPv6 address, ping and talk TCP across nodes with
# their own source, and reach the external host as the node (masquerade).
# labels: dataplane;root;etcd
# timeout: 240
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/fault_common.sh"
source "$WEFT_SRC/tests/integration/dualstack_common.sh"
h_init
h_cluster 2 '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}'
h_ext_add
for n in 1 2; do
	h_node_v6 "$n"
done
l_start 1 --ip-masq --iface eth0
l_start 2 --ip-masq --public-ipv6 2001:db8:18::2
for n in 1 2; do
	ds_wait_node "$n"
done

h_log "== leases, subnet.env, devices"
for n in 1 2; do
	ns=$(h_node_ns "$n")
	key=$(ds_key_of6 "2001:db8:18::$n")
	h_log "node $n: $key"
	[[ $key =~ ^$L_PREFIX/subnets/(fd00:10:244:[0-9a-f]+::-64)$ ]] ||
		h_fail "node $n: not an IPv6-only key: '$key'"
	h_assert_eq "$(ds_net6 "$n")" "${BASH_REMATCH[1]/-//}" "node $n IPv6 subnet in key and subnet.env"
	val=$(h_etcdctl get --print-value-only "$key")
	h_assert_eq "$(jq -nc --arg m "$(ds_vtep_mac6 "2001:db8:18::$n")" \
		'{PublicIP: "0.0.0.0", PublicIPv6: "2001:db8:18::'"$n"'", BackendType: "vxlan", BackendV6Data: {VNI: 1, VtepMAC: $m}}')" \
		"$val" "node $n lease value"
	h_assert_eq "FLANNEL_IPMASQ FLANNEL_IPV6_NETWORK FLANNEL_IPV6_SUBNET FLANNEL_MTU" \
		"$(sed 's/=.*//' "$(h_subnet_file "$n")" | sort | xargs)" "node $n subnet.env keys"
	h_assert_eq "fd00:10:244::/56 1430 true" \
		"$(d_env "$n" FLANNEL_IPV6_NETWORK) $(d_env "$n" FLANNEL_MTU) $(d_env "$n" FLANNEL_IPMASQ)" \
		"node $n subnet.env values"
	link=$(ip -n "$ns" -d link show weft-v6.1) || h_fail "node $n has no weft-v6.1"
	for want in "mtu 1430 " "vxlan id 1 local 2001:db8:18::$n " "nolearning"; do
		[[ $link == *"$want"* ]] || h_fail "node $n weft-v6.1 lacks '$want': $link"
	done
	h_no_link "$ns" weft.1 "node $n has an IPv4 VXLAN device in an IPv6-only network"
done
h_log "node 1 subnet.env:"$'\n'"$(cat "$(h_subnet_file 1)")"
h_wait_for 10 "IPv6 mesh" eval 'ds_has_peer6 1 2 && ds_has_peer6 2 1' || h_fail "mesh incomplete"
for n in 1 2; do
	h_lacks "node $n has IPv4 routes of weft" . ip -n "$(h_node_ns "$n")" -4 route show proto 87
	h_assert_eq 1 "$(l_metric "$n" 'weft_peers{family="ipv6"}')" "node $n IPv6 peers"
	for kind in neigh fdb route; do
		h_assert_eq 1 "$(ds_count6 "$n" "$kind")" "node $n IPv6 $kind entries"
	done
	ip netns exec "$(h_node_ns "$n")" nft list table ip6 weft | h_grep masquerade ||
		h_fail "node $n: no masquerade in table ip6 weft"
done

h_log "== pods"
for n in 1 2; do
	ds_pod "$n" p1
	h_assert_eq "" "$DS_IP4" "IPv4 address of the pod on node $n"
	[[ $DS_IP6 == "$(ds_base6 "$n")"* ]] || h_fail "pod $DS_IP6 outside $(ds_net6 "$n")"
	ds_src_watch "$(ds_pod_ns "$n" p1)"
done
p1=$(ds_pod_ns 1 p1) p2=$(ds_pod_ns 2 p1)
ds_ping "$p1" "${DS_POD6[2-p1]}" || h_fail "ping -6 pod 1 -> pod 2"
ds_ping "$p2" "${DS_POD6[1-p1]}" || h_fail "ping -6 pod 2 -> pod 1"
h_assert_eq "${DS_POD6[1-p1]}" "$(ds_src_seen "$p2")" "ICMPv6 source seen by pod 2"
h_assert_eq "${DS_POD6[2-p1]}" "$(ds_src_seen "$p1")" "ICMPv6 source seen by pod 1"
h_assert_eq "${DS_POD6[1-p1]}" "$(ds_seen_tcp "$p2" 7001 "$p1" "${DS_POD6[2-p1]}")" "TCP source seen by pod 2"
h_assert_eq "${DS_POD6[2-p1]}" "$(ds_seen_tcp "$p1" 7002 "$p2" "${DS_POD6[1-p1]}")" "TCP source seen by pod 1"
ds_tcp "$p2" "$p1" "${DS_POD6[1-p1]}" 7003 || h_fail "1 MiB over TCP pod 2 -> pod 1"
ds_ping "$p2" "${DS_POD6[1-p1]}" -M "do" -s $((1430 - 48)) || h_fail "full-size ping -6 pod 2 -> pod 1"

h_log "== external host (masquerade)"
ds_src_watch "$H_RUN-ext"
for n in 1 2; do
	ds_ping "$(ds_pod_ns "$n" p1)" "$H_EXT_IP6" || h_fail "ping -6 pod $n -> external host"
	h_assert_eq "2001:db8:18::$n" "$(ds_seen_tcp "$H_RUN-ext" "701$n" "$(ds_pod_ns "$n" p1)" "$H_EXT_IP6")" \
		"source seen by the external host from pod $n"
done
h_assert_eq "$(printf '2001:db8:18::%s\n' 1 2)" "$(ds_src_seen "$H_RUN-ext")" "ICMPv6 sources at the external host"
for n in 1 2; do
	l_stop "$n"
done
exit 0
