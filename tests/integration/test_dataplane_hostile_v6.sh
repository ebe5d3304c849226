#!/usr/bin/env bash
# Hostile IPv6 parts of lease keys and values in a dual-stack network: an
# IPv6 subnet outside IPv6Network or of another length, an unusable or
# foreign PublicIPv6, node 1's own IPv6 subnet, a multicast or missing IPv6
# VTEP MAC, another IPv6 VNI, a key with its families swapped. Each is
# refused with its reason in /metrics and programs nothing, IPv4 or IPv6;
# a valid lease written after them is programmed (the watch got that far),
# and deleting them brings the gauges back to 0.
# labels: dataplane;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
# The nodes draw their subnets below the made-up ones (x.90 and up), so a
# route found there can only come from a hostile lease.
h_cluster 2 '{"Network":"10.244.0.0/16","SubnetMax":"10.244.89.0","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","IPv6SubnetMax":"fd00:10:244:89::","Backend":{"Type":"vxlan"}}'
h_node_v6 1
h_node_v6 2
ns1=$(h_node_ns 1)
l_start 1
l_start 2
for n in 1 2; do
	h_wait_for 15 "node $n dual-stack subnet.env" \
		grep -q '^FLANNEL_IPV6_SUBNET=' "$(h_subnet_file "$n")" ||
		h_fail "node $n: no IPv6 subnet: $(cat "$H_TMP/n$n.log")"
done
v6of() { sed -n 's/^FLANNEL_IPV6_SUBNET=\(.*\)1\/64$/\1\/64/p' "$(h_subnet_file "$1")"; }
own6=$(v6of 1)
peer6=$(v6of 2)
[ -n "$own6" ] && [ -n "$peer6" ] || h_fail "no IPv6 subnets in subnet.env"
routes6() { ip -n "$ns1" -6 route show proto 87; }
# The probe: node 1 programs node 2's IPv6 subnet.
h_wait_for 10 "node 1 routes node 2's $peer6" bash -c "ip -n $ns1 -6 route show proto 87 | grep -q '^$peer6 '" ||
	h_fail "node 1 has no IPv6 route to node 2: $(routes6)"

# value N [PUBLICIPV6] [V6MAC] [V6VNI]: a dual-stack value for a made-up host N.
value() {
	printf '{"PublicIP":"198.18.0.%s","PublicIPv6":"%s","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:%02x"},"BackendV6Data":{"VNI":%s,"VtepMAC":"%s"}}' \
		"$1" "${2:-2001:db8:18::$1}" "$1" "${4:-1}" "${3:-$(printf '02:00:00:00:01:%02x' "$1")}"
}
P=$L_PREFIX/subnets
declare -A hostile=(
	[outside_ipv6]="$P/10.244.90.0-24&fd00:10:245::-64|$(value 90)"
	[length_ipv6]="$P/10.244.91.0-24&fd00:10:244:90::-60|$(value 91)"
	[public_ipv6]="$P/10.244.92.0-24&fd00:10:244:92::-64|$(value 92 ff02::1)"
	[own_ipv6]="$P/10.244.93.0-24&fd00:10:244:93::-64|$(value 93 2001:db8:18::1)"
	[own_subnet_ipv6]="$P/10.244.94.0-24&${own6%/64}-64|$(value 94)"
	[mac_ipv6]="$P/10.244.95.0-24&fd00:10:244:95::-64|$(value 95 '' 01:00:5e:00:00:01)"
	[vni_ipv6]="$P/10.244.96.0-24&fd00:10:244:96::-64|$(value 96 '' '' 2)"
)
swapped="$P/fd00:10:244:97::-64&10.244.97.0-24"
for reason in "${!hostile[@]}"; do
	h_etcdctl put "${hostile[$reason]%%|*}" "${hostile[$reason]#*|}" >/dev/null || h_fail "put $reason"
done
h_etcdctl put "$swapped" "$(value 97)" >/dev/null || h_fail "put swapped"
h_etcdctl put "$P/10.244.99.0-24&fd00:10:244:99::-64" "$(value 99)" >/dev/null || h_fail "put marker"
h_wait_for 10 "node 1 programs the marker lease" bash -c "ip -n $ns1 -6 route show proto 87 | grep -q '^fd00:10:244:99::/64 '" ||
	h_fail "marker not programmed: $(routes6)"

metrics=$(ip netns exec "$ns1" curl -sf --max-time 5 http://127.0.0.1:9872/metrics) || h_fail "no metrics"
for reason in "${!hostile[@]}"; do
	got=$(awk -v n="weft_leases_rejected{reason=\"$reason\"}" '$1 == n {print $2}' <<<"$metrics")
	[ "${got:-0}" -ge 1 ] || h_fail "$reason: not counted (weft_leases_rejected=$got)"
	h_log "$reason: refused ($got)"
done
# Nothing of theirs reached the kernel, in either family; the marker and
# node 2 did (the probes above), so the listings work.
h_lacks "a hostile IPv6 route" '^fd00:10:244:9[0-7]::|^fd00:10:245' routes6
h_lacks "a hostile IPv4 route" '^10\.244\.9[0-7]\.0/24' ip -n "$ns1" -4 route show proto 87
h_lacks "a hostile IPv6 neighbour" 'fd00:10:24[45]:9[0-7]::|fd00:10:245::' ip -n "$ns1" -6 neigh show dev weft-v6.1
h_lacks "an FDB entry to a hostile VTEP" 'dst 2001:db8:18::9[0-7] |dst ff02::1 ' bridge -n "$ns1" fdb show dev weft-v6.1

for reason in "${!hostile[@]}"; do
	h_etcdctl del "${hostile[$reason]%%|*}" >/dev/null
done
h_etcdctl del "$swapped" >/dev/null
h_wait_for 10 "node 1's rejection gauges back to 0" bash -c \
	"ip netns exec $ns1 curl -sf --max-time 5 http://127.0.0.1:9872/metrics |
	awk '/^weft_leases_rejected\\{/ && \$2 != 0 {bad=1} END {exit bad}'" ||
	h_fail "gauges stay: $(l_metric 1 'weft_leases_rejected{reason="own_ipv6"}')"
h_wait_for 10 "node 1 still routes node 2" bash -c "ip -n $ns1 -6 route show proto 87 | grep -q '^$peer6 '" ||
	h_fail "node 2's IPv6 route went"
for n in 1 2; do l_stop "$n"; done
