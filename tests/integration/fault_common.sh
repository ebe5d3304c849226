# shellcheck shell=bash
# Helpers shared by the fault-injection tests (test_fault_*.sh); sourced
# after the harness, lease_common.sh and dataplane_common.sh. Not a test.
#
#   f_nodes N                  node namespaces 1..N on the underlay
#   f_mesh N [weftd args]      weftd on nodes 1..N, pod 1 on each node, full
#                              mesh checked (etcd and the config must exist)
#   f_ping_start NAME FROM TO  10 ms pings pod FROM/1 -> pod TO/1 (rounds)
#   f_ping_stop NAME           ends them, sums and prints the counts
#   f_etcd_cluster             3 etcd members (the harness's is one of them)
#   f_snapshot / f_same_leases subnet.env and lease key of every node

# Debugging aid: with F_KEEP_LOGS=DIR the logs of a run are copied there.
if [ -n "${F_KEEP_LOGS:-}" ]; then
	# shellcheck disable=SC2016
	h_on_cleanup 'mkdir -p "$F_KEEP_LOGS" && cp "$H_TMP"/*.log "$H_TMP"/*.out "$F_KEEP_LOGS"/'
fi
declare -A F_PING_PID F_ENV F_KEY F_CREV F_LEASE

# f_nodes N: node namespaces 1..N on the underlay.
f_nodes() {
	local n
	for n in $(seq 1 "$1"); do
		h_node_add "$n"
	done
}

# f_mesh N [weftd args...]: weftd on nodes 1..N (already added), one pod
# each, every node holding exactly every other node's entries.
f_mesh() {
	local n m count=$1
	shift
	for n in $(seq 1 "$count"); do
		l_start "$n" "$@"
	done
	for n in $(seq 1 "$count"); do
		h_wait_for 30 "node $n subnet.env" test -s "$(h_subnet_file "$n")" ||
			{ tail -20 "$H_TMP/n$n.log" >&2; h_fail "node $n wrote no subnet.env"; }
		d_pod_add "$n" 1
	done
	for n in $(seq 1 "$count"); do
		for m in $(seq 1 "$count"); do
			[ "$m" = "$n" ] && continue
			h_wait_for 30 "node $n has node $m" d_has_peer "$n" "$m" ||
				h_fail "mesh incomplete: node $n lacks node $m"
		done
	done
	# Underlay and pod ARP resolved before any counting starts.
	for n in $(seq 1 "$count"); do
		for m in $(seq 1 "$count"); do
			[ "$m" = "$n" ] && continue
			d_ping "$n" 1 "$(d_pod_ip "$m" 1)" -c 1 ||
				h_fail "pod $n -> pod $m before the fault"
		done
	done
}

# f_mesh_exact N: every node 1..N has exactly the other N-1 peers' entries.
f_mesh_exact() {
	local n m kind count=$1
	for n in $(seq 1 "$count"); do
		for m in $(seq 1 "$count"); do
			[ "$m" = "$n" ] && continue
			d_has_peer "$n" "$m" || return 1
		done
		for kind in neigh fdb route; do
			[ "$(d_count "$n" "$kind")" = $((count - 1)) ] || return 1
		done
	done
}

# f_ping_start NAME FROM_N TO_N: pings every 10 ms from pod 1 of node
# FROM_N to pod 1 of node TO_N, in rounds of -c F_PING_ROUND (each with its
# own summary) until f_ping_stop; lines carry timestamps (-D).
F_PING_ROUND=${F_PING_ROUND:-100}
f_ping_start() {
	local name=$1 from=$2 to=$3
	rm -f "$H_TMP/ping-$name.out" "$H_TMP/ping-$name.stop"
	# shellcheck disable=SC2016
	h_bg "$(d_pod_ns "$from" 1)" "$H_TMP/ping-$name.out" bash -c '
		trap "kill \$p 2>/dev/null; exit 0" TERM
		while [ ! -e "$1" ]; do
			ping -D -n -i 0.01 -W 1 -c "$2" "$3" & p=$!
			wait $p
		done' _ "$H_TMP/ping-$name.stop" "$F_PING_ROUND" "$(d_pod_ip "$to" 1)"
	F_PING_PID[$name]=$H_LAST_PID
}

# f_ping_stop NAME...: end the pings after their current round (all of
# them at once); sets F_SENT, F_RECV, F_LOST of the last NAME (sums over its
# rounds) and logs the counts of each.
f_ping_stop() {
	local name out ms
	for name in "$@"; do
		touch "$H_TMP/ping-$name.stop"
	done
	for name in "$@"; do
		out=$H_TMP/ping-$name.out
		h_wait_pid "${F_PING_PID[$name]}" 30 || h_fail "ping $name did not stop"
		read -r F_SENT F_RECV ms < <(awk '/packets transmitted/ {s += $1; r += $4
			t += substr($NF, 1, length($NF) - 2)} END {print s + 0, r + 0, t + 0}' "$out")
		[ "$F_SENT" -gt 0 ] || h_fail "ping $name printed no summary"
		F_LOST=$((F_SENT - F_RECV))
		h_log "ping $name: sent $F_SENT, received $F_RECV, lost $F_LOST" \
			"($(grep -c 'packets transmitted' "$out") rounds of $F_PING_ROUND," \
			"one every $((ms / F_SENT)) ms)"
	done
}

# f_ping_no_loss NAME...: f_ping_stop, then no reply may be missing and
# none may come twice.
f_ping_no_loss() {
	local name
	f_ping_stop "$@"
	for name in "$@"; do
		awk '/packets transmitted/ {s += $1; r += $4} END {exit s != r}' \
			"$H_TMP/ping-$name.out" || h_fail "ping $name lost replies"
		if grep 'packets transmitted' "$H_TMP/ping-$name.out" | h_grep 'duplicates\|errors'; then
			grep 'packets transmitted' "$H_TMP/ping-$name.out" >&2
			h_fail "ping $name: duplicates or errors"
		fi
	done
}

# f_ping_first_after NAME EPOCH: seconds (3 decimals) from EPOCH to the
# first reply received after it ("" if none).
f_ping_first_after() {
	awk -v t="$2" -F'[][]' '/bytes from/ && $2 + 0 > t {printf "%.3f\n", $2 - t; exit}' \
		"$H_TMP/ping-$1.out"
}

# f_snapshot N: remember subnet.env and lease key of nodes 1..N.
f_snapshot() {
	local n
	for n in $(seq 1 "$1"); do
		F_ENV[$n]=$(cat "$(h_subnet_file "$n")")
		F_KEY[$n]=$(l_key_of "198.18.0.$n")
		[ -n "${F_KEY[$n]}" ] || h_fail "node $n has no lease key"
		F_CREV[$n]=$(l_create_rev "${F_KEY[$n]}")
		F_LEASE[$n]=$(l_lease_id "${F_KEY[$n]}")
	done
}

# f_reused N: node N still holds the key f_snapshot saw, on the same etcd
# lease, never written anew (same create_revision): its lease was reused,
# not acquired again.
f_reused() {
	h_assert_eq "${F_KEY[$1]}" "$(l_key_of "198.18.0.$1")" "node $1 lease key"
	h_assert_eq "${F_CREV[$1]}" "$(l_create_rev "${F_KEY[$1]}")" "node $1 lease create_revision"
	h_assert_eq "${F_LEASE[$1]}" "$(l_lease_id "${F_KEY[$1]}")" "node $1 etcd lease"
}

# f_same_leases N: subnet.env and lease key of nodes 1..N as in f_snapshot.
f_same_leases() {
	local n
	for n in $(seq 1 "$1"); do
		h_assert_eq "${F_ENV[$n]}" "$(cat "$(h_subnet_file "$n")")" "node $n subnet.env"
		h_assert_eq "${F_KEY[$n]}" "$(l_key_of "198.18.0.$n")" "node $n lease key"
	done
}

# f_lease_id KEY: the etcd lease ID (decimal) a key is attached to.
f_lease_id() { l_lease_id "$1"; }

# f_metric_ge N NAME VALUE: node N's metric NAME is at least VALUE.
f_metric_ge() {
	local v
	v=$(d_metric "$1" "$2")
	[ -n "$v" ] && awk -v a="$v" -v b="$3" 'BEGIN {exit !(a + 0 >= b + 0)}'
}

# f_monitor N: record node N's route and neighbour changes with timestamps
# (ip -ts monitor) until cleanup.
f_monitor() {
	h_bg "$(h_node_ns "$1")" "$H_TMP/mon-n$1.out" ip -ts monitor route neigh
}

# f_route_deleted_at N NET: epoch (ms) at which node N's route to NET (e.g.
# 10.244.3.0/24) was deleted ("" if not seen).
f_route_deleted_at() {
	local ts
	ts=$(awk -v net="$2" '$2 == "Deleted" && $3 == net {print substr($1, 2, length($1) - 2); exit}' \
		"$H_TMP/mon-n$1.out")
	[ -n "$ts" ] && date -d "$ts" +%s.%3N
}

# f_now: wall clock with milliseconds (matches ping -D).
f_now() { date +%s.%3N; }

# f_etcd_cluster: a 3-member etcd cluster on the underlay. Member weft-test
# is the harness's (netns $H_RUN-etcd, 198.18.0.254, so h_etcdctl keeps
# working through it); members m2 and m3 live in netns $H_RUN-e2/-e3 on
# 198.18.0.253/.252. Sets F_ETCD_PID[2], F_ETCD_PID[3] and F_ETCD_IP[k];
# the harness's H_ETCD_PID is member 1.
declare -A F_ETCD_PID F_ETCD_IP
F_ETCD_IP=([1]=198.18.0.254 [2]=198.18.0.253 [3]=198.18.0.252)
f_etcd_cluster() {
	local k ns cluster="weft-test=http://${F_ETCD_IP[1]}:2380"
	for k in 2 3; do
		cluster+=",m$k=http://${F_ETCD_IP[$k]}:2380"
	done
	for k in 2 3; do
		ns="$H_RUN-e$k"
		h_netns_add "$ns"
		h_attach "$ns" "e$k" "${F_ETCD_IP[$k]}/24"
		h_bg "$ns" "$H_TMP/etcd$k.log" etcd --name "m$k" --data-dir "$H_TMP/etcd$k" \
			--listen-client-urls "http://${F_ETCD_IP[$k]}:2379,http://127.0.0.1:2379" \
			--advertise-client-urls "http://${F_ETCD_IP[$k]}:2379" \
			--listen-peer-urls "http://${F_ETCD_IP[$k]}:2380" \
			--initial-advertise-peer-urls "http://${F_ETCD_IP[$k]}:2380" \
			--initial-cluster "$cluster" --initial-cluster-token "$H_RUN" \
			--initial-cluster-state new --log-level warn
		F_ETCD_PID[$k]=$H_LAST_PID
	done
	# The harness's member waits for a healthy cluster (needs a quorum).
	h_etcd_start --listen-peer-urls "http://${F_ETCD_IP[1]}:2380" \
		--initial-advertise-peer-urls "http://${F_ETCD_IP[1]}:2380" \
		--initial-cluster "$cluster" --initial-cluster-token "$H_RUN" \
		--initial-cluster-state new
	F_ETCD_PID[1]=$H_ETCD_PID
	h_wait_for 20 "3 etcd members healthy" f_etcd_all_healthy ||
		h_fail "etcd cluster not healthy"
}

# f_etcd_endpoints K...: comma list of the client URLs of members K...
f_etcd_endpoints() {
	local k out=
	for k in "$@"; do
		out+="${out:+,}http://${F_ETCD_IP[$k]}:2379"
	done
	echo "$out"
}

# f_etcdctl K ARGS...: etcdctl against member K only, from its netns.
f_etcdctl() {
	local ns=$H_RUN-e$1
	[ "$1" = 1 ] && ns=$H_RUN-etcd
	shift
	ETCDCTL_API=3 ip netns exec "$ns" etcdctl --dial-timeout=2s --command-timeout=5s \
		--endpoints http://127.0.0.1:2379 "$@"
}

f_etcd_all_healthy() {
	f_etcdctl 1 endpoint health && f_etcdctl 2 endpoint health && f_etcdctl 3 endpoint health
}

# f_etcd_leader [K...]: member number of the current leader, asked of
# members K... (default all three); fails if none of them leads.
f_etcd_leader() {
	local k st id lead ks=("$@")
	[ $# -gt 0 ] || ks=(1 2 3)
	for k in "${ks[@]}"; do
		st=$(f_etcdctl "$k" endpoint status -w fields 2>/dev/null) || continue
		id=$(sed -n 's/^"MemberID" : //p' <<<"$st")
		lead=$(sed -n 's/^"Leader" : //p' <<<"$st")
		if [ -n "$id" ] && [ "$id" = "$lead" ]; then
			echo "$k"
			return 0
		fi
	done
	return 1
}
