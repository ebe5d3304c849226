#!/usr/bin/env bash
# A 3-member etcd cluster; both daemons list the leader first in
# --etcd-endpoints. The leader is killed with -9: the cluster elects another,
# the daemons move their keepalive and watch to the next endpoint: each
# renews its own etcd lease (15 s TTL) through another member, a peer lease
# written after the kill reaches both nodes, and 10 ms pings between the
# pods in both directions lose nothing. With F_MEMBER_FAULT=partition
# (test_fault_etcd_partition.sh) the member is cut off instead of killed.
# labels: fault;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/fault_common.sh"
h_init
h_underlay
f_etcd_cluster
f_nodes 2
h_net_config

# Member 2 becomes the leader and the first endpoint of every daemon.
lead=$(f_etcd_leader) || h_fail "no etcd leader"
if [ "$lead" != 2 ]; then
	m2=$(f_etcdctl 1 member list | awk -F', ' '$3 == "m2" {print $1}')
	f_etcdctl "$lead" move-leader "$m2" >/dev/null || h_fail "move-leader to m2"
fi
m2_leads() { [ "$(f_etcd_leader)" = 2 ]; }
h_wait_for 10 "member 2 leads" m2_leads || h_fail "member 2 is not the leader"
L_ENDPOINTS=$(f_etcd_endpoints 2 1 3)

TTL=15
f_mesh 2 --lease-ttl "$TTL" --log-level debug
f_snapshot 2
declare -A LEASE
for n in 1 2; do
	LEASE[$n]=$(f_lease_id "${F_KEY[$n]}")
	[ -n "${LEASE[$n]}" ] && [ "${LEASE[$n]}" != 0 ] || h_fail "node $n has no etcd lease"
	d_metric "$n" weft_etcd_reconnects_total >"$H_TMP/reconnects$n"
done

f_ping_start a 1 2
f_ping_start b 2 1
sleep 1
t_kill=$(f_now)
if [ "${F_MEMBER_FAULT:-kill}" = partition ]; then
	# No reset reaches the daemons: only a timeout shows the member is gone.
	ip -n "$H_RUN-ul" link set e2 down || h_fail "cutting off member 2"
	h_log "etcd member 2 (leader, first endpoint) cut off from the underlay"
	gone_msg="lease keepalive failed: http://${F_ETCD_IP[2]}:2379"
else
	h_kill "${F_ETCD_PID[2]}" KILL
	h_log "etcd member 2 (leader, first endpoint) killed"
	gone_msg="etcd watch broke (http://${F_ETCD_IP[2]}:2379"
fi
h_wait_for 10 "a new etcd leader" f_etcd_leader 1 3 || h_fail "no new leader"
h_log "new leader: member $(f_etcd_leader 1 3)"

P=$L_PREFIX/subnets/10.244.200.0-24
h_etcdctl put "$P" "$(l_value 198.18.0.99)" >/dev/null || h_fail "writing a peer lease"
has_p() {
	ip -n "$(h_node_ns "$1")" neigh show dev weft.1 |
		grep -q "^10.244.200.0 lladdr $(l_vtep_mac 198.18.0.99) PERMANENT"
}
for n in 1 2; do
	h_wait_for 30 "node $n programs the peer written after the fault" has_p "$n" || {
		tail -20 "$H_TMP/n$n.log" >&2
		h_fail "node $n's watch did not fail over"
	}
	h_log "node $n: new peer programmed $(awk -v a="$t_kill" -v b="$(f_now)" \
		'BEGIN {printf "%.2f", b - a}') s after the fault"
	# Which endpoint failed is in the log only.
	grep -qF "$gone_msg" "$H_TMP/n$n.log" || h_fail "node $n did not log: $gone_msg"
done

# A keepalive answered after the kill (only another member can answer it)
# moves the expiry past kill + TTL; the etcd lease stays the same.
for n in 1 2; do
	h_wait_for $((TTL / 3 + 15)) "node $n renews its lease through another member" \
		f_metric_ge "$n" weft_lease_expiry_timestamp_seconds \
		"$(awk -v t="$t_kill" -v l="$TTL" 'BEGIN {printf "%.3f", t + l}')" ||
		h_fail "node $n did not renew its lease after the kill"
done
for n in 1 2; do
	l_alive "$n" || h_fail "node $n exited"
	h_assert_eq "${LEASE[$n]}" "$(f_lease_id "${F_KEY[$n]}")" "node $n etcd lease"
	left=$(h_etcdctl lease timetolive "$(printf '%x' "${LEASE[$n]}")" |
		sed -n 's/.*remaining(\(-*[0-9]*\)s).*/\1/p')
	[ "${left:-0}" -ge 1 ] || h_fail "node $n lease about to expire (remaining ${left}s)"
	f_reused "$n"
	f_metric_ge "$n" weft_etcd_reconnects_total $(($(cat "$H_TMP/reconnects$n") + 1)) ||
		h_fail "node $n counted no watch restart"
	h_log "node $n: lease ${LEASE[$n]} alive, ${left} s left of ${TTL} s"
done
f_same_leases 2
for n in 1 2; do
	d_has_peer "$n" $((3 - n)) || h_fail "node $n lost its peer"
done
f_ping_no_loss a b
for n in 1 2; do
	l_stop "$n"
done
