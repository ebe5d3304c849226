#!/usr/bin/env bash
# Three nodes lease three distinct /24s; etcdctl shows flannel's exact value
# bytes; each subnet.env matches its lease; a restart after SIGTERM and after
# kill -9 keeps the subnet and VtepMAC and rewrites nothing in etcd.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_cluster 3
# Keys that are no vxlan peers: another backend, a broken value, a key that
# names no subnet. They are ignored as peers, and their subnets stay taken.
h_etcdctl put "$L_PREFIX/subnets/10.244.250.0-24" '{"PublicIP":"198.18.0.50","BackendType":"udp"}' >/dev/null
h_etcdctl put "$L_PREFIX/subnets/10.244.251.0-24" 'not json' >/dev/null
h_etcdctl put "$L_PREFIX/subnets/junk" '{"PublicIP":"198.18.0.51","BackendType":"vxlan"}' >/dev/null

for n in 1 2 3; do
	l_start "$n" --log-level debug
done
for n in 1 2 3; do
	h_wait_for 10 "node $n subnet.env" test -s "$(h_subnet_file "$n")" ||
		{ cat "$H_TMP/n$n.log" >&2; h_fail "node $n wrote no subnet.env"; }
done

declare -A KEY
for n in 1 2 3; do
	ip=198.18.0.$n
	KEY[$n]=$(l_key_of "$ip")
	[ -n "${KEY[$n]}" ] || h_fail "no lease for $ip"
	[[ ${KEY[$n]} =~ ^/coreos.com/network/subnets/10\.244\.[0-9]+\.0-24$ ]] ||
		h_fail "bad lease key ${KEY[$n]}"
	h_assert_eq "$(l_value "$ip")" "$(h_etcdctl get --print-value-only "${KEY[$n]}")" \
		"lease value of node $n"
	[ "$(l_field "${KEY[$n]}" lease)" != 0 ] || h_fail "lease of node $n has no etcd lease"
	expected=$(printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=%s\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false' \
		"$(l_gw "${KEY[$n]}")")
	h_assert_eq "$expected" "$(cat "$(h_subnet_file "$n")")" "subnet.env of node $n"
	[ "$(stat -c %a "$(h_subnet_file "$n")")" = 644 ] || h_fail "subnet.env mode"
done
[ "$(printf '%s\n' "${KEY[@]}" | sort -u | wc -l)" = 3 ] || h_fail "leases are not distinct"
h_assert_eq 6 "$(h_etcdctl get --prefix --keys-only "$L_PREFIX/subnets/" | grep -c .)" "key count"
grep -q '10\.244\.25[01]\.0-24' <<<"${KEY[*]}" && h_fail "a taken subnet was leased"
# The first subnet of the network is never leased (SubnetMin skips it).
[[ $(h_etcdctl get --prefix --keys-only "$L_PREFIX/subnets/") == *10.244.0.0-24* ]] &&
	h_fail "10.244.0.0/24 leased"

# Every node reports the two others as peers, never itself.
peers_are() { [ "$(l_metric "$1" weft_peers)" = "$2" ]; }
for n in 1 2 3; do
	h_wait_for 5 "node $n sees 2 peers" peers_are "$n" 2 ||
		h_fail "node $n: $(l_metric "$n" weft_peers) peers"
	own=$(l_key_subnet "${KEY[$n]}")
	l_unseen "$n" "$own" || h_fail "node $n routes its own subnet as a peer"
	for m in 1 2 3; do
		[ "$m" = "$n" ] && continue
		h_wait_for 5 "node $n sees node $m" l_sees "$n" "$(l_key_subnet "${KEY[$m]}")" \
			198.18.0.$m "$(l_vtep_mac 198.18.0.$m)" || h_fail "node $n did not see node $m"
	done
done

for sig in TERM KILL; do
	rev_before=$(l_field "${KEY[1]}" mod_revision)
	l_stop 1 "$sig"
	: >"$H_TMP/n1.log"
	l_start 1
	h_wait_for 10 "node 1 restarted after SIG$sig" l_lease_held 1 ||
		{ cat "$H_TMP/n1.log" >&2; h_fail "no reuse after SIG$sig"; }
	h_assert_eq "${KEY[1]}" "$(l_key_of 198.18.0.1)" "lease key after SIG$sig"
	h_assert_eq "$(l_value 198.18.0.1)" "$(h_etcdctl get --print-value-only "${KEY[1]}")" \
		"lease value after SIG$sig"
	h_assert_eq "$rev_before" "$(l_field "${KEY[1]}" mod_revision)" \
		"mod_revision after SIG$sig (a restart must not rewrite the lease)"
	h_assert_eq "$(l_gw "${KEY[1]}")" "$(l_env_subnet 1)" "subnet.env after SIG$sig"
done
h_assert_eq 6 "$(h_etcdctl get --prefix --keys-only "$L_PREFIX/subnets/" | grep -c .)" \
	"key count after restarts"
for n in 1 2 3; do
	l_stop "$n"
done
