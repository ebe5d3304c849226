#!/usr/bin/env bash
# etcd is killed (-9) and stays down for 60 s while pods on three nodes ping
# each other every 10 ms in a ring: no reply is lost. All daemons keep
# running; when etcd is back on the same data dir each one renews its own
# etcd lease by keepalive (30 s TTL, so a daemon that did not renew would
# lose it), keeps its subnet and subnet.env without re-acquiring, and its
# peer watch works again (a lease written afterwards reaches every node).
# labels: fault;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/fault_common.sh"
DOWN_S=${FAULT_ETCD_DOWN_S:-60}
TTL=30
h_init
h_cluster 3
f_mesh 3 --lease-ttl "$TTL"
f_snapshot 3
declare -A LEASE
for n in 1 2 3; do
	LEASE[$n]=$(f_lease_id "${F_KEY[$n]}")
done

for n in 1 2 3; do
	f_ping_start "$n" "$n" $((n % 3 + 1))
done
sleep 1
h_etcd_stop KILL
h_log "etcd killed; down for $DOWN_S s"
sleep "$DOWN_S"
for n in 1 2 3; do
	l_alive "$n" || h_fail "node $n exited while etcd was down"
	f_metric_ge "$n" weft_etcd_reconnects_total 1 || h_fail "node $n did not notice the outage"
done
t_back=$(f_now)
h_etcd_start
h_log "etcd back after $(awk -v a="$t_back" -v b="$(f_now)" 'BEGIN {printf "%.1f", b - a}') s of start-up"

# A keepalive answered after the restart moves the expiry past it.
for n in 1 2 3; do
	h_wait_for $((TTL / 3 + 15)) "node $n renews its lease after the outage" \
		f_metric_ge "$n" weft_lease_expiry_timestamp_seconds "$(f_now)" ||
		h_fail "node $n did not renew its lease"
done
P=$L_PREFIX/subnets/10.244.200.0-24
h_etcdctl put "$P" "$(l_value 198.18.0.99)" >/dev/null || h_fail "writing a peer lease"
has_p() {
	ip -n "$(h_node_ns "$1")" neigh show dev weft.1 |
		grep -q "^10.244.200.0 lladdr $(l_vtep_mac 198.18.0.99) PERMANENT"
}
for n in 1 2 3; do
	h_wait_for 10 "node $n programs a peer written after the outage" has_p "$n" ||
		{ tail -20 "$H_TMP/n$n.log" >&2; h_fail "node $n's watch did not resume"; }
done
f_ping_no_loss 1 2 3

f_same_leases 3
for n in 1 2 3; do
	l_alive "$n" || h_fail "node $n exited"
	h_assert_eq "${LEASE[$n]}" "$(f_lease_id "${F_KEY[$n]}")" "node $n etcd lease"
	left=$(h_etcdctl lease timetolive "$(printf '%x' "${LEASE[$n]}")" |
		sed -n 's/.*remaining(\(-*[0-9]*\)s).*/\1/p')
	[ "${left:-0}" -ge 1 ] || h_fail "node $n lease about to expire (remaining ${left}s)"
	f_reused "$n"
	h_log "node $n: lease ${LEASE[$n]} on ${F_KEY[$n]##*/} kept, ${left} s left of ${TTL} s"
done
for n in 1 2 3; do
	l_stop "$n"
done
