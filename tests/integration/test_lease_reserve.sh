#!/usr/bin/env bash
# Reservations and exhaustion. Network 10.5.0.0/22 with /24s leaves three
# subnets. A reservation put with etcdctl (no lease) goes to the node with
# that PublicIP and never gets a TTL; a fourth node finds nothing free, says
# so clearly, keeps running and gets the subnet released by another node.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_cluster 4 '{"Network":"10.5.0.0/22","SubnetLen":24,"Backend":{"Type":"vxlan"}}'
RES=$L_PREFIX/subnets/10.5.2.0-24
h_etcdctl put "$RES" '{"PublicIP":"198.18.0.2","BackendType":"vxlan"}' >/dev/null

l_start 2
h_wait_for 10 "node 2 subnet.env" test -s "$(h_subnet_file 2)" || h_fail "node 2 got no subnet"
h_assert_eq 10.5.2.1/24 "$(l_env_subnet 2)" "node 2 got its reservation"
h_assert_eq "$(l_value 198.18.0.2)" "$(h_etcdctl get --print-value-only "$RES")" \
	"reservation value refreshed with the VtepMAC"
h_assert_eq 0 "$(l_field "$RES" lease)" "reservation lease"

for n in 1 3; do
	l_start "$n"
done
for n in 1 3; do
	h_wait_for 10 "node $n subnet.env" test -s "$(h_subnet_file "$n")" ||
		h_fail "node $n got no subnet"
done
[ "$(l_env_subnet 1)" != 10.5.2.1/24 ] && [ "$(l_env_subnet 3)" != 10.5.2.1/24 ] ||
	h_fail "the reserved subnet went to another node"

l_start 4
# The exhaustion message, and that it comes once, are in the log only.
h_wait_for 10 "node 4 reports exhaustion" grep -q "no free subnet: all 3 subnets from 10.5.1.0/24 to 10.5.3.0/24 are leased" \
	"$H_TMP/n4.log" || { cat "$H_TMP/n4.log" >&2; h_fail "no exhaustion message"; }
sleep 6 # one retry round
l_alive 4 || h_fail "node 4 exited on exhaustion"
h_no_file "$(h_subnet_file 4)" "node 4 wrote a subnet.env without a lease"
h_assert_eq 1 "$(grep -c 'no free subnet' "$H_TMP/n4.log")" "exhaustion logged once"

# Node 1 leaves and its lease is released: node 4 takes it at once.
freed=$(l_key_of 198.18.0.1)
l_stop 1
h_etcdctl del "$freed" >/dev/null
h_wait_for 5 "node 4 gets the freed subnet" test -s "$(h_subnet_file 4)" ||
	{ cat "$H_TMP/n4.log" >&2; h_fail "node 4 did not get the freed subnet"; }
h_assert_eq "$(l_gw "$freed")" "$(l_env_subnet 4)" "node 4's subnet"
h_assert_eq "$(l_value 198.18.0.4)" "$(h_etcdctl get --print-value-only "$freed")" "node 4's lease"

# A restart of the reserved node keeps the reservation lease-less.
l_stop 2
: >"$H_TMP/n2.log"
l_start 2
h_wait_for 10 "node 2 holds a lease after restart" l_lease_held 2 ||
	h_fail "node 2 did not take its reservation again"
h_assert_eq 10.5.2.1/24 "$(l_env_subnet 2)" "node 2's subnet after restart"
h_assert_eq 0 "$(l_field "$RES" lease)" "reservation lease after restart"

# Deleting the reservation while node 2 runs: it re-creates its key, now with
# a lease of its own (same subnet, still free).
h_etcdctl del "$RES" >/dev/null
own_lease() { l_has_key "$RES" && [ "$(l_field "$RES" lease)" != 0 ]; }
h_wait_for 10 "node 2 re-creates its key on a lease" own_lease || h_fail "node 2 did not re-acquire"
[ "$(l_field "$RES" lease)" != 0 ] || h_fail "re-created lease has no TTL"
for n in 2 3 4; do
	l_stop "$n"
done
