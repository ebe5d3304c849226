# shellcheck shell=bash
# The scoped-credential lifecycle both least-privilege tests run (one logs in
# with a password over etcd's gateway, one is named by its certificate's
# Common Name over gRPC); sourced after lease_common.sh. Not a test itself.
#
# sc_lifecycle: nodes 1-3 with "${NODE[@]}" against the etcd started with
# "${ETCD_ARGS[@]}", the config $netconf in $H_TMP/net-conf.json: fresh
# start writing the config, a reservation updated by its owner, peers
# joining, keepalive past the TTL, restart onto the same key and etcd lease,
# a peer leaving, an etcd restart. Leaves nodes 1 and 3 running and sets
# key1 (node 1's key) for the probes that follow.

lease_id() { l_lease_id "$@"; }
has_route() { l_sees "$@"; }
no_route() { l_unseen "$@"; }

sc_lifecycle() {
	local n sub pair remaining RES key2 sub1 sub2 sub3 id1

	# Fresh start: the config is absent, so node 1 writes it as weft.
	[ -z "$(h_etcdctl get "$L_PREFIX/config")" ] || h_fail "config present before the start"
	l_start 1 "${NODE[@]}" --net-config-file "$H_TMP/net-conf.json"
	h_wait_for 15 "node 1 subnet.env as weft" test -s "$(h_subnet_file 1)" ||
		{ cat "$H_TMP/n1.log" >&2; h_fail "no lease as weft"; }
	h_assert_eq "$(jq -cS . <<<"$netconf")" "$(h_etcdctl get --print-value-only "$L_PREFIX/config" | jq -cS .)" \
		"config written by weft"
	key1=$(l_key_of 198.18.0.1)
	h_assert_eq "$(l_value 198.18.0.1)" "$(h_etcdctl get --print-value-only "$key1")" "node 1 lease"
	id1=$(lease_id "$key1")
	[ "${id1:-0}" != 0 ] || h_fail "node 1's key has no etcd lease"

	# A reservation with an outdated value: node 3 takes it and updates it.
	RES=$L_PREFIX/subnets/10.244.150.0-24
	h_etcdctl put "$RES" '{"PublicIP":"198.18.0.3","BackendType":"vxlan"}' >/dev/null
	l_start 3 "${NODE[@]}"
	l_start 2 "${NODE[@]}"
	for n in 2 3; do
		h_wait_for 15 "node $n subnet.env as weft" test -s "$(h_subnet_file "$n")" ||
			{ cat "$H_TMP/n$n.log" >&2; h_fail "node $n got no lease"; }
	done
	h_assert_eq 10.244.150.1/24 "$(l_env_subnet 3)" "node 3 took its reservation"
	h_assert_eq "$(l_value 198.18.0.3)" "$(h_etcdctl get --print-value-only "$RES")" "reservation updated"
	h_assert_eq 0 "$(l_field "$RES" lease)" "reservation stays without lease"
	key2=$(l_key_of 198.18.0.2)
	sub1=$(l_key_subnet "$key1") sub2=$(l_key_subnet "$key2") sub3=10.244.150.0/24
	# Peers joining: every node programs the other two.
	for pair in "1 $sub2" "1 $sub3" "2 $sub1" "2 $sub3" "3 $sub1" "3 $sub2"; do
		read -r n sub <<<"$pair"
		h_wait_for 10 "node $n routes $sub" has_route "$n" "$sub" || h_fail "node $n has no route to $sub"
	done

	# Keepalive: the lease TTL (4 s) (and a password login's 2 s tokens) run
	# out twice over; the key lives on the same etcd lease.
	sleep 8
	h_assert_eq "$id1" "$(lease_id "$key1")" "node 1's etcd lease after 8 s"
	remaining=$(h_etcdctl lease timetolive "$(printf '%x' "$id1")" | sed -n 's/.*remaining(\(-*[0-9]*\)s).*/\1/p')
	[ "${remaining:-0}" -gt 0 ] || h_fail "node 1's lease not renewed (remaining ${remaining:-?} s)"

	# Restart: node 1 takes its own key back (same subnet, same etcd lease).
	l_stop 1
	: >"$H_TMP/n1.log"
	l_start 1 "${NODE[@]}" --net-config-file "$H_TMP/net-conf.json"
	# Reuse: the same key on the same etcd lease (checked below) once it holds it.
	h_wait_for 15 "node 1 holds its lease again" l_lease_held 1 ||
		{ cat "$H_TMP/n1.log" >&2; h_fail "node 1 did not reuse its lease after the restart"; }
	h_assert_eq "$key1" "$(l_key_of 198.18.0.1)" "node 1 key after restart"
	h_assert_eq "$id1" "$(lease_id "$key1")" "node 1 etcd lease after restart"
	h_assert_eq "$(jq -cS . <<<"$netconf")" "$(h_etcdctl get --print-value-only "$L_PREFIX/config" | jq -cS .)" \
		"config untouched by the restart"

	# A peer leaving: node 2 dies, its lease expires, nodes 1 and 3 drop it.
	l_stop 2 KILL
	for n in 1 3; do
		h_wait_for 15 "node $n drops $sub2" no_route "$n" "$sub2" || h_fail "node $n kept $sub2"
	done
	has_route 1 "$sub3" || h_fail "node 1 lost its route to node 3"

	# etcd restarts: tokens and connections are void. Watch and keepalive come
	# back as weft.
	h_etcd_stop TERM
	h_etcd_start "${ETCD_ARGS[@]}"
	h_etcdctl put "$L_PREFIX/subnets/10.244.203.0-24" "$(l_value 198.18.0.96)" >/dev/null
	for n in 1 3; do
		h_wait_for 20 "node $n sees a lease added after the etcd restart" has_route "$n" 10.244.203.0/24 ||
			{ tail -20 "$H_TMP/n$n.log" >&2; h_fail "node $n: no watch after the etcd restart"; }
	done
	sleep 6
	h_assert_eq "$id1" "$(lease_id "$key1")" "node 1's etcd lease after the etcd restart"
	for n in 1 3; do
		l_alive "$n" || h_fail "weftd of node $n exited"
	done
}
