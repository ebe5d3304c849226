#!/usr/bin/env bash
# A rolling restart as a DaemonSet update does it: on each of three nodes in
# turn weftd gets SIGTERM, a new weftd starts and the next node waits until
# it is ready. Pods made through the conflist weftd wrote ping each other in
# a ring every 10 ms throughout: no reply is lost. The CNI files weftd owns
# are neither removed by the exit nor rewritten by the new weftd, which
# keeps them from then on.
# labels: fault;cni;root;etcd
# timeout: 240
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/fault_common.sh"
source "$WEFT_SRC/tests/integration/cnifiles_common.sh"
h_init
h_cluster 3

ready() { ip netns exec "$(h_node_ns "$1")" curl -sf --max-time 1 http://127.0.0.1:9872/readyz; }
files_id() { stat -c '%i %Y' "$(cf_conf "$1")" "$(cf_bin "$1")" | tr '\n' ' '; }

for n in 1 2 3; do
	cf_start "$n"
done
for n in 1 2 3; do
	h_wait_for 30 "node $n CNI files" test -s "$(cf_conf "$n")" -a -s "$(cf_bin "$n")" ||
		{ tail -20 "$H_TMP/n$n.log" >&2; h_fail "node $n wrote no CNI files"; }
	# Pod 1 of each node through its conflist, where the ping helpers expect it.
	h_netns_add "$(d_pod_ns "$n" 1)"
	r=$(cf_list "$n" ADD "ctr-n$n" "$(d_pod_ns "$n" 1)") || h_fail "ADD on node $n: $r"
	h_assert_eq "$(d_pod_ip "$n" 1)" "$(cf_pod_ip "$r")" "pod address on node $n"
done
for n in 1 2 3; do
	for m in 1 2 3; do
		[ "$m" = "$n" ] && continue
		h_wait_for 30 "node $n has node $m" d_has_peer "$n" "$m" || h_fail "mesh incomplete"
	done
done
for n in 1 2 3; do
	d_ping "$n" 1 "$(d_pod_ip $((n % 3 + 1)) 1)" -c 1 || h_fail "pod $n -> next before the restarts"
done
f_snapshot 3
declare -A FILES
for n in 1 2 3; do
	FILES[$n]=$(files_id "$n")
done

for n in 1 2 3; do
	f_ping_start "$n" "$n" $((n % 3 + 1))
done
sleep 1
for n in 1 2 3; do
	t0=$(date +%s%N)
	l_stop "$n"
	cf_start "$n"
	h_wait_for 15 "node $n ready after SIGTERM and restart" ready "$n" ||
		{ tail -20 "$H_TMP/n$n.log" >&2; h_fail "node $n not ready after restart"; }
	h_log "node $n: stop to ready in $(cf_ms_since "$t0") ms"
	f_reused "$n"
	sleep 0.5
done
sleep 1
f_ping_no_loss 1 2 3

f_same_leases 3
for n in 1 2 3; do
	l_alive "$n" || h_fail "node $n exited"
	# Same inode and time stamp: still the first weftd's files, untouched.
	h_assert_eq "${FILES[$n]}" "$(files_id "$n")" "node $n CNI files (inode, mtime)"
	cmp -s "$WEFT_BIN/weft" "$(cf_bin "$n")" || h_fail "node $n plugin changed"
	# ... because the new weftd found them right (only its log tells), and it
	# owns them: a deleted conflist comes back.
	grep -q "CNI config $(cf_conf "$n") already in place" "$H_TMP/n$n.log" ||
		h_fail "node $n: the new weftd did not check its CNI files"
	rm "$(cf_conf "$n")"
	h_wait_for 2 "node $n conflist restored by the new weftd" test -s "$(cf_conf "$n")" ||
		h_fail "node $n: the new weftd does not keep its conflist"
done
f_mesh_exact 3 || h_fail "kernel entries after the restarts are not exact"
for n in 1 2 3; do
	l_stop "$n"
done
