#!/usr/bin/env bash
# etcd restored from an older snapshot with the original bootstrap flags
# (cluster and member IDs unchanged), then written to until its revision
# passes the one the node last saw, all before the node can reconnect. The
# node re-lists when it reconnects: it drops the peer the snapshot lacks and
# programs the one written after the restore. While it cannot reach etcd
# for longer than 20 s, /readyz says the peer view is not in sync, and it
# is ready again once it is.
# labels: lease;root;etcd
# timeout: 180
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/bulk_common.sh"
h_init
h_cluster 1
S=$L_PREFIX/subnets
header() {
	ip netns exec "$H_RUN-etcd" curl -s --max-time 5 -X POST http://127.0.0.1:2379/v3/kv/range \
		-d '{"key":"AA=="}'
}
field() { sed -n "s/.*\"$1\":\"\([0-9]*\)\".*/\1/p"; }
readyz() {
	ip netns exec "$(h_node_ns 1)" curl -s --max-time 2 -w ' %{http_code}' \
		http://127.0.0.1:9872/readyz
}
ready() { [[ "$(readyz)" == *200 ]]; }
stale() { [[ "$(readyz)" == "not ready: peer view not in sync"*503 ]]; }

l_start 1 --log-level debug
h_wait_for 15 "node 1 ready" ready ||
	h_fail "node 1 not ready: $(readyz)"
h_etcdctl snapshot save "$H_TMP/snap.db" >/dev/null 2>&1 || h_fail "snapshot save"
h_etcdctl put "$S/10.244.200.0-24" "$(l_value 198.18.0.97)" >/dev/null || h_fail "peer A"
h_wait_for 10 "node 1 programs peer A" b_has_peer 1 10.244.200.0 198.18.0.97 ||
	h_fail "peer A not programmed"
before=$(header)
old_rev=$(field revision <<<"$before")
h_log "before: $before"

h_etcd_stop TERM
# Cut off from the underlay: the node cannot reconnect before the end.
ip -n "$H_RUN-ul" link set n1 down
mv "$H_ETCD_DIR/data" "$H_ETCD_DIR/data.old"
ETCDCTL_API=3 etcdctl snapshot restore "$H_TMP/snap.db" --data-dir "$H_ETCD_DIR/data" \
	--name weft-test --initial-cluster weft-test=http://127.0.0.1:2380 \
	--initial-advertise-peer-urls http://127.0.0.1:2380 >"$H_TMP/restore.log" 2>&1 ||
	{ cat "$H_TMP/restore.log" >&2; h_fail "snapshot restore"; }
h_etcd_start
h_etcdctl put "$S/10.244.201.0-24" "$(l_value 198.18.0.98)" >/dev/null || h_fail "peer B"
for _ in $(seq 1 $((old_rev + 5))); do
	rev=$(field revision <<<"$(header)")
	[ "$rev" -gt $((old_rev + 2)) ] && break
	h_etcdctl put /weft-test/filler x >/dev/null
done
after=$(header)
h_log "restored: $after"
[ "$(field revision <<<"$after")" -gt "$old_rev" ] || h_fail "revision did not pass $old_rev"
# The hard case: nothing in the header says the history changed.
for f in cluster_id member_id; do
	h_assert_eq "$(field $f <<<"$before")" "$(field $f <<<"$after")" "$f after the restore"
done
h_wait_for 30 "node 1 reports the stale peer view" stale ||
	{ tail -20 "$H_TMP/n1.log" >&2; h_fail "readyz while cut off from etcd: $(readyz)"; }
h_log "cut off: $(readyz)"

ip -n "$H_RUN-ul" link set n1 up
h_wait_for 20 "node 1 programs peer B (written after the restore)" \
	b_has_peer 1 10.244.201.0 198.18.0.98 ||
	{ grep -v "peer " "$H_TMP/n1.log" | tail -20 >&2; h_fail "peer B not seen"; }
no_a() { ! b_has_peer 1 10.244.200.0 198.18.0.97; }
h_wait_for 10 "node 1 drops peer A (not in the snapshot)" no_a || h_fail "peer A kept"
h_wait_for 10 "node 1 ready again" ready ||
	h_fail "node 1 not ready after the restore: $(readyz)"
h_assert_eq 1 "$(d_count 1 neigh)" "neighbours"
l_alive 1 || h_fail "node 1 exited"
l_stop 1
