#!/usr/bin/env bash
# etcd stopped for 30 s and restarted on the same data dir: both daemons keep
# running and keep their subnets. Node 1 is also cut off from the underlay
# while, with etcd back, a peer lease is removed, another added and the
# history compacted past its watch revision: when it comes back it re-lists
# (as after any break; resuming from its old revision would fail anyway)
# and reports both changes. Node 2 sees them too.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_cluster 2
P1=$L_PREFIX/subnets/10.244.200.0-24
P2=$L_PREFIX/subnets/10.244.201.0-24
h_etcdctl put "$P1" "$(l_value 198.18.0.99)" >/dev/null

for n in 1 2; do
	l_start "$n" --log-level debug
done
declare -A KEY ENV CREV
for n in 1 2; do
	h_wait_for 10 "node $n subnet.env" test -s "$(h_subnet_file "$n")" || h_fail "node $n"
	KEY[$n]=$(l_key_of "198.18.0.$n")
	ENV[$n]=$(cat "$(h_subnet_file "$n")")
	CREV[$n]=$(l_create_rev "${KEY[$n]}")
	h_wait_for 5 "node $n sees P1" l_sees "$n" 10.244.200.0/24 198.18.0.99 ||
		h_fail "node $n does not see P1"
done

h_etcd_stop TERM
h_log "etcd down for 30 s"
sleep 30
for n in 1 2; do
	l_alive "$n" || h_fail "node $n exited while etcd was down"
	[ "$(l_metric "$n" weft_etcd_reconnects_total)" -ge 1 ] ||
		h_fail "node $n did not notice the outage (no watch restart counted)"
done

ip -n "$H_RUN-ul" link set n1 down
h_etcd_start
h_etcdctl del "$P1" >/dev/null
h_etcdctl put "$P2" "$(l_value 198.18.0.98)" >/dev/null
rev=$(h_etcdctl endpoint status -w json | jq -r '.[0].Status.header.revision')
h_etcdctl compaction "$rev" >/dev/null || h_fail "compaction at $rev"
h_log "compacted at revision $rev"

h_wait_for 15 "node 2 sees P1 removed" l_unseen 2 10.244.200.0/24 ||
	h_fail "node 2 missed the removal"
h_wait_for 5 "node 2 sees P2" l_sees 2 10.244.201.0/24 198.18.0.98 ||
	h_fail "node 2 missed the addition"
l_sees 1 10.244.200.0/24 198.18.0.99 || h_fail "node 1 heard etcd while cut off"

lists=$(l_metric 1 weft_etcd_relists_total)
[ -n "$lists" ] || h_fail "no weft_etcd_relists_total from node 1"
relisted() { [ "$(l_metric 1 weft_etcd_relists_total)" -gt "$lists" ]; }
ip -n "$H_RUN-ul" link set n1 up
h_wait_for 20 "node 1 re-lists when it reconnects" relisted ||
	{ tail -20 "$H_TMP/n1.log" >&2; h_fail "node 1 did not resync"; }
h_wait_for 5 "node 1 sees P1 removed" l_unseen 1 10.244.200.0/24 ||
	h_fail "node 1 missed the removal"
h_wait_for 5 "node 1 sees P2" l_sees 1 10.244.201.0/24 198.18.0.98 ||
	h_fail "node 1 missed the addition"

for n in 1 2; do
	l_alive "$n" || h_fail "node $n exited"
	h_assert_eq "${KEY[$n]}" "$(l_key_of "198.18.0.$n")" "node $n lease key"
	h_assert_eq "${ENV[$n]}" "$(cat "$(h_subnet_file "$n")")" "node $n subnet.env"
	# A re-acquisition would have written the key anew.
	h_assert_eq "${CREV[$n]}" "$(l_create_rev "${KEY[$n]}")" "node $n lease create_revision"
	l_stop "$n"
done
