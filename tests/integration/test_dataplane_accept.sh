#!/usr/bin/env bash
# Stray leases in etcd cannot touch what weft does not own or disturb a
# healthy peer: a lease named after the underlay leaves the kernel's own
# route alone; leases outside the network or inside the node's own subnet
# are not programmed; a prefix alias of a live peer neither replaces nor,
# once deleted, removes that peer's entries; leases with a bad PublicIP,
# VtepMAC or VNI are not programmed; a route someone else put where a lease
# wants one stays, and the lease is reported blocked.
# labels: dataplane;root;etcd
# timeout: 180
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
h_init
h_cluster 2
l_start 1
l_start 2
for n in 1 2; do
	h_wait_for 10 "node $n subnet.env" test -s "$(h_subnet_file "$n")" || h_fail "node $n no subnet.env"
done
h_wait_for 5 "node 1 has node 2" d_has_peer 1 2 || h_fail "mesh incomplete"
ns1=$(h_node_ns 1)
S=$L_PREFIX/subnets
own=$(d_base 1)
peer=$(d_base 2)

# value IP MAC [VNI]
value() {
	printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":%s,"VtepMAC":"%s"}}' \
		"$1" "${3:-1}" "$2"
}
# sentinel N: a valid lease 10.244.25N.0/24 put after the keys under test
# and waited for on node 1: weftd handles watch events in order, so once
# its route is there the keys before it were handled too.
sentinel() {
	h_etcdctl put "$S/10.244.25$1.0-24" "$(value 198.18.0.7$1 02:ab:00:00:00:0$1)" >/dev/null
	h_wait_for 5 "sentinel $1 programmed" \
		sh -c "ip -n $ns1 route show proto 87 | grep -q '^10.244.25$1.0/24 via'" ||
		h_fail "sentinel 10.244.25$1.0/24 never programmed"
}
# want SECTION: runs a section unless ACCEPT_ONLY (e.g. "2,3") leaves it
# out; for checking one defect at a time against an older build.
want() { [ -z "${ACCEPT_ONLY:-}" ] || [[ ",$ACCEPT_ONLY," == *",$1,"* ]]; }
# no_route NET: neither weft nor anyone made a route NET via weft.1 on node 1.
no_route() { h_none "^$1 .*weft\.1" ip -n "$ns1" route show; }

# --- defect 1: a lease named after the underlay
if want 1; then
ip -n "$ns1" route show 198.18.0.0/24 | h_grep 'dev eth0 proto kernel' || h_fail "probe: no kernel route"
before=$(ip -n "$ns1" route show 198.18.0.0/24)
h_etcdctl put "$S/198.18.0.0-24" "$(value 198.18.0.2 "$(l_vtep_mac 198.18.0.2)")" >/dev/null
sentinel 1
[ "$(ip -n "$ns1" route show 198.18.0.0/24)" = "$before" ] ||
	h_fail "defect 1: the underlay route changed: $(ip -n "$ns1" route show 198.18.0.0/24)"
h_etcdctl del "$S/198.18.0.0-24" >/dev/null
h_etcdctl del "$S/10.244.251.0-24" >/dev/null
h_wait_for 5 "sentinel 1 removed" no_route 10.244.251.0/24 || h_fail "sentinel 1 stays"
[ "$(ip -n "$ns1" route show 198.18.0.0/24)" = "$before" ] || h_fail "defect 1: underlay route gone"
d_has_peer 1 2 || h_fail "defect 1: node 2 lost"
h_log "defect 1: underlay route untouched"
fi

# --- defect 2: outside the network, the whole network, inside the own subnet
if want 2; then
bad2=("10.99.0.0/24" "128.0.0.0/1" "10.244.0.0/16" "$own.2/31" "$own.128/25" "$own.0/25")
for net in "${bad2[@]}"; do
	h_etcdctl put "$S/${net/\//-}" "$(value 198.18.0.66 02:ab:00:00:01:01)" >/dev/null
done
# a dual-stack key naming the own subnet
h_etcdctl put "$S/$own.0-24&fd00:10:244:99::-64" "$(value 198.18.0.66 02:ab:00:00:01:01)" >/dev/null
sentinel 2
for net in "${bad2[@]}"; do
	no_route "$net" || h_fail "defect 2: lease $net programmed: $(ip -n "$ns1" route show "$net")"
done
no_route "$own.0/24" || h_fail "defect 2: a key naming the own subnet routed it into the overlay"
h_lacks "defect 2: neighbour in own subnet" "^$own\." ip -n "$ns1" neigh show dev weft.1
for net in "${bad2[@]}"; do
	h_etcdctl del "$S/${net/\//-}" >/dev/null
done
h_etcdctl del "$S/$own.0-24&fd00:10:244:99::-64" "$S/10.244.252.0-24" >/dev/null
h_log "defect 2: no lease outside the network or in the own subnet programmed"
fi

# --- defect 3: prefix aliases of a live peer: another length, then a
# dual-stack key of the same subnet (node 2 must neither lose its entries
# on node 1 nor its own lease)
if want 3; then
peer_env=$(l_env_subnet 2)
peer_ok() { d_has_peer 1 2 && [ "$(l_env_subnet 2)" = "$peer_env" ]; }
for alias in "$S/$peer.0-25" "$S/$peer.0-24&fd00:10:244:98::-64"; do
	h_etcdctl put "$alias" "$(value 198.18.0.68 02:ab:00:00:03:01)" >/dev/null
	sentinel 3
	peer_ok || h_fail "defect 3: the alias $alias replaced node 2's entries (node 2: $(l_env_subnet 2))"
	h_etcdctl del "$alias" >/dev/null
	h_etcdctl del "$S/10.244.253.0-24" >/dev/null
	h_wait_for 5 "sentinel 3 removed" no_route 10.244.253.0/24 || h_fail "sentinel 3 stays"
	peer_ok || h_fail "defect 3: deleting the alias $alias removed node 2's entries"
	sleep 1 # a periodic reconcile cannot hide a removal either way
	peer_ok || h_fail "defect 3: node 2's entries gone after the alias $alias was deleted"
done
h_log "defect 3: node 2 kept its entries"
fi

# --- defect 8: bad PublicIP, VtepMAC, VNI
if want 8; then
i=0
declare -a bad8=()
for v in "$(value 127.0.0.1 02:ab:00:00:08:01)" "$(value 255.255.255.255 02:ab:00:00:08:02)" \
	"$(value 224.0.0.5 02:ab:00:00:08:03)" "$(value 10.244.5.5 02:ab:00:00:08:04)" \
	"$(value 198.18.0.81 ff:ff:ff:ff:ff:ff)" "$(value 198.18.0.82 01:00:5e:00:00:01)" \
	"$(value 198.18.0.83 00:00:00:00:00:00)" "$(value 198.18.0.84 02:ab:00:00:08:08 2)"; do
	i=$((i + 1))
	bad8+=("10.244.23$i.0/24")
	h_etcdctl put "$S/10.244.23$i.0-24" "$v" >/dev/null
done
sentinel 4
for net in "${bad8[@]}"; do
	no_route "$net" || h_fail "defect 8: lease $net programmed"
	h_lacks "defect 8: neighbour for $net" "^${net%.0/24}.0 " ip -n "$ns1" neigh show dev weft.1
done
for ip in 127.0.0.1 255.255.255.255 224.0.0.5 10.244.5.5 198.18.0.84; do
	h_lacks "defect 8: FDB entry to $ip" "dst $ip " bridge -n "$ns1" fdb show dev weft.1
done
bridge -n "$ns1" fdb show dev weft.1 | h_grep -E '^(ff:ff:ff:ff:ff:ff|01:00:5e:00:00:01|00:00:00:00:00:00) dst 198' &&
	h_fail "defect 8: FDB entry for a bad MAC"
h_log "defect 8: no bad PublicIP, MAC or VNI programmed"
for r in outside length own_subnet conflict public_ip mac vni; do
	got=$(d_metric 1 "weft_leases_rejected_total{reason=\"$r\"}")
	[ "${got:-0}" -gt 0 ] || h_fail "rejections for reason $r not counted (${got:-absent})"
done
for net in "${bad8[@]}"; do
	h_etcdctl del "$S/${net/\//-}" >/dev/null
done
fi

# --- a foreign route where a lease wants one: left alone, reported
if want r; then
ip -n "$ns1" route add 10.244.240.0/24 dev eth0 proto static || h_fail "foreign route"
h_etcdctl put "$S/10.244.240.0-24" "$(value 198.18.0.90 02:ab:00:00:09:01)" >/dev/null
sentinel 5
h_wait_for 5 "blocked route reported" sh -c "[ \"\$(ip netns exec $ns1 curl -sf http://127.0.0.1:9872/metrics |
	awk '\$1 == \"weft_routes_blocked\" {print \$2}')\" = 1 ]" || h_fail "blocked route not reported"
ip -n "$ns1" route show 10.244.240.0/24 | h_grep -x '10.244.240.0/24 dev eth0 proto static scope link ' ||
	h_fail "the foreign route was replaced: $(ip -n "$ns1" route show 10.244.240.0/24)"
h_etcdctl del "$S/10.244.240.0-24" >/dev/null
h_etcdctl del "$S/10.244.255.0-24" >/dev/null
h_wait_for 5 "sentinel 5 removed" no_route 10.244.255.0/24 || h_fail "sentinel 5 stays"
ip -n "$ns1" route show 10.244.240.0/24 | h_grep 'proto static' || h_fail "the foreign route was deleted"
# the foreign route goes: the lease's own route follows within a reconcile
h_etcdctl put "$S/10.244.240.0-24" "$(value 198.18.0.90 02:ab:00:00:09:01)" >/dev/null
ip -n "$ns1" route del 10.244.240.0/24 dev eth0 proto static
h_wait_for 5 "lease route after the foreign one left" \
	sh -c "ip -n $ns1 route show proto 87 | grep -q '^10.244.240.0/24 via'" || h_fail "lease route missing"
fi
d_has_peer 1 2 || h_fail "node 2 lost at the end"
l_stop 1
l_stop 2
h_log "PASS"
