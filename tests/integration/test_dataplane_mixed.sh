#!/usr/bin/env bash
# One dual-stack network, mixed nodes: nodes 1 and 3 dual stack, node 2
# IPv4 only (no IPv6 underlay address, no --public-ipv6), so it takes an
# IPv4-only lease and subnet.env. Pods made by the weft plugin: IPv4 works
# between nodes 1 and 2 both ways; neither programs IPv6 entries for the
# other (the probe first shows node 3's IPv6 entries on node 1 and IPv6
# between pods on nodes 1 and 3).
# labels: dataplane;root;etcd
# timeout: 240
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/fault_common.sh"
source "$WEFT_SRC/tests/integration/dualstack_common.sh"
h_init
h_cluster 3 '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}'
h_node_v6 1
h_node_v6 3
l_start 1 --iface eth0
l_start 2
l_start 3 --public-ipv6 2001:db8:18::3
for n in 1 2 3; do
	ds_wait_node "$n"
done

h_log "== leases and subnet.env"
for n in 1 3; do
	key=$(l_key_of "198.18.0.$n")
	[[ $key =~ ^$L_PREFIX/subnets/10\.244\.[0-9]+\.0-24\&fd00:10:244:[0-9a-f]+::-64$ ]] ||
		h_fail "node $n: not a dual-stack key: '$key'"
done
key2=$(l_key_of 198.18.0.2)
h_log "node 2: $key2"
[[ $key2 =~ ^$L_PREFIX/subnets/10\.244\.[0-9]+\.0-24$ ]] || h_fail "node 2: not an IPv4-only key: '$key2'"
h_assert_eq "[null,null]" "$(h_etcdctl get --print-value-only "$key2" | jq -c '[.PublicIPv6, .BackendV6Data]')" \
	"node 2 lease value: PublicIPv6 and BackendV6Data"
h_assert_eq "FLANNEL_IPMASQ FLANNEL_MTU FLANNEL_NETWORK FLANNEL_SUBNET" \
	"$(sed 's/=.*//' "$(h_subnet_file 2)" | sort | xargs)" "node 2 subnet.env keys"
h_log "node 2 subnet.env:"$'\n'"$(cat "$(h_subnet_file 2)")"
# FLANNEL_MTU: underlay - 70 with an IPv6 subnet, - 50 without.
h_assert_eq "1430 1450 1430" "$(d_env 1 FLANNEL_MTU) $(d_env 2 FLANNEL_MTU) $(d_env 3 FLANNEL_MTU)" "FLANNEL_MTU"
h_no_link "$(h_node_ns 2)" weft-v6.1 "the IPv4-only node has weft-v6.1"

h_log "== kernel entries"
h_wait_for 10 "IPv4 mesh" eval 'ds_has_peer4 1 2 && ds_has_peer4 2 1 && ds_has_peer4 1 3 &&
	ds_has_peer4 3 1 && ds_has_peer4 2 3 && ds_has_peer4 3 2' || h_fail "IPv4 mesh incomplete"
# The probe: the dual-stack pair programs its IPv6 entries.
h_wait_for 10 "IPv6 between nodes 1 and 3" eval 'ds_has_peer6 1 3 && ds_has_peer6 3 1' ||
	h_fail "nodes 1 and 3 lack each other's IPv6 entries"
mac2_4=$(l_vtep_mac 198.18.0.2)
for n in 1 3; do
	# Exactly the other dual-stack node's IPv6 entries, none of node 2's.
	for kind in neigh fdb route; do
		h_assert_eq 1 "$(ds_count6 "$n" "$kind")" "node $n IPv6 $kind entries"
	done
	h_lacks "node $n has an IPv6 FDB entry towards node 2" "dst 198\.18\.0\.2 |^$mac2_4 " \
		bridge -n "$(h_node_ns "$n")" fdb show dev weft-v6.1
	h_assert_eq "2 1" "$(l_metric "$n" 'weft_peers{family="ipv4"}') $(l_metric "$n" 'weft_peers{family="ipv6"}')" \
		"node $n weft_peers by family"
done
# Node 2: IPv4 entries of both peers, no IPv6 route of weft at all.
h_lacks "node 2 has IPv6 routes of weft" . ip -n "$(h_node_ns 2)" -6 route show proto 87
h_lacks "node 2 has an IPv6 route to node 1 or 3" "$(ds_base6 1)|$(ds_base6 3)" \
	ip -n "$(h_node_ns 2)" -6 route show table all
h_assert_eq 2 "$(d_count 2 route)" "node 2 IPv4 routes"
h_assert_eq "" "$(l_metric 2 'weft_peers{family="ipv6"}' | grep -v '^0$')" "node 2 IPv6 peers"

h_log "== pods"
for n in 1 2 3; do
	ds_pod "$n" p1
done
h_assert_eq "" "${DS_POD6[2-p1]}" "IPv6 address of the pod on the IPv4-only node"
[ -n "${DS_POD6[1-p1]}" ] && [ -n "${DS_POD6[3-p1]}" ] || h_fail "dual-stack pods lack IPv6"
p1=$(ds_pod_ns 1 p1) p2=$(ds_pod_ns 2 p1) p3=$(ds_pod_ns 3 p1)
ds_ping "$p1" "${DS_POD4[2-p1]}" || h_fail "ping pod 1 -> pod 2"
ds_ping "$p2" "${DS_POD4[1-p1]}" || h_fail "ping pod 2 -> pod 1"
h_assert_eq "${DS_POD4[1-p1]}" "$(ds_seen_tcp "$p2" 7001 "$p1" "${DS_POD4[2-p1]}")" "TCP source seen by pod 2"
h_assert_eq "${DS_POD4[2-p1]}" "$(ds_seen_tcp "$p1" 7002 "$p2" "${DS_POD4[1-p1]}")" "TCP source seen by pod 1"
ds_tcp "$p2" "$p1" "${DS_POD4[1-p1]}" 7003 || h_fail "1 MiB over TCP pod 2 -> pod 1"
ds_ping "$p1" "${DS_POD6[3-p1]}" || h_fail "ping -6 pod 1 -> pod 3"
ds_ping "$p3" "${DS_POD6[1-p1]}" || h_fail "ping -6 pod 3 -> pod 1"
ds_ping "$p3" "${DS_POD4[2-p1]}" || h_fail "ping pod 3 -> pod 2"
for n in 1 2 3; do
	l_stop "$n"
done
exit 0
