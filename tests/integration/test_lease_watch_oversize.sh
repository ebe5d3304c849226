#!/usr/bin/env bash
# Watch messages over weftd's 8 MiB limit. (1) While a node is cut off,
# a peer lease and 10 MiB of junk are written: resuming the watch would
# replay all of it in one message, so the node re-lists (page by page)
# when it reconnects and watches from there; it programs the peer instead
# of reconnecting in a loop.
# (2) One txn puts a peer lease and 9 MiB of junk at one revision, which
# etcd sends as one watch message: the node re-lists rather than resumes
# into the same message again, and programs the peer.
# More than 16 MiB end up under the prefix.
# labels: lease;root;etcd
# timeout: 180
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/bulk_common.sh"
h_init
# Requests up to 16 MiB: a single txn can then make a huge watch message.
H_ETCD_ARGS=(--max-request-bytes 16777216)
h_cluster 1
S=$L_PREFIX/subnets
l_start 1 --log-level debug
h_wait_for 15 "node 1 subnet.env" test -s "$(h_subnet_file 1)" || h_fail "node 1"
sleep 1 # the watch is established

# 1. A break, with a backlog over the limit.
h_etcd_stop TERM
ip -n "$H_RUN-ul" link set n1 down
h_etcd_start "${H_ETCD_ARGS[@]}"
h_etcdctl put "$S/10.244.200.0-24" "$(l_value 198.18.0.97)" >/dev/null || h_fail "peer A"
b_fill "$S/10.244.205.0-24~junk-a" 80 128
ip -n "$H_RUN-ul" link set n1 up
h_wait_for 30 "node 1 programs peer A written while it was cut off" \
	b_has_peer 1 10.244.200.0 198.18.0.97 ||
	{ grep -v "peer " "$H_TMP/n1.log" | tail -20 >&2; h_fail "peer A not seen"; }
r1=$(d_metric 1 weft_etcd_reconnects_total)
sleep 3
r2=$(d_metric 1 weft_etcd_reconnects_total)
h_log "reconnects: $r1, 3 s later $r2"
h_assert_eq "$r1" "$r2" "watch reconnects after the resync (a loop?)"

# 2. One revision (a txn) whose events alone are over the limit.
l_value 198.18.0.98 >"$H_TMP/peer-b"
head -c $((1200 * 1024)) /dev/zero | tr '\0' z >"$H_TMP/big"
args=("$S/10.244.201.0-24=$H_TMP/peer-b")
for i in 1 2 3 4 5 6 7 8; do
	args+=("$S/10.244.206.0-24~big-$i=$H_TMP/big")
done
b_txn "${args[@]}"
h_wait_for 30 "node 1 programs peer B written with 9 MiB in one revision" \
	b_has_peer 1 10.244.201.0 198.18.0.98 ||
	{ grep -v "peer " "$H_TMP/n1.log" | tail -20 >&2; h_fail "peer B not seen"; }
h_assert_eq 1 "$(d_metric 1 weft_etcd_watch_oversize_total)" "oversized watch messages"
r1=$(d_metric 1 weft_etcd_reconnects_total)
sleep 3
h_assert_eq "$r1" "$(d_metric 1 weft_etcd_reconnects_total)" "watch reconnects after the resync"
bytes=$(b_bytes "$S/")
h_log "$((bytes / 1048576)) MiB under $S/, $(d_metric 1 weft_etcd_relists_total) listings"
[ "$bytes" -gt $((16 * 1048576)) ] || h_fail "only $bytes bytes under the prefix"
h_assert_eq 2 "$(d_count 1 neigh)" "neighbours (junk programmed?)"
l_alive 1 || h_fail "node 1 exited"
l_stop 1
