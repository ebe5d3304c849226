#!/usr/bin/env bash
# More than 16 MiB under <prefix>/subnets/ (junk keys with 128 KiB values,
# between two real peer leases): a new node still lists everything, page by
# page at one revision, skips the junk, programs both peers and becomes
# ready. A single value larger than a whole page is skipped, not retried. A
# compaction past the listing's revision half-way restarts the listing.
# labels: lease;root;etcd
# timeout: 180
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/bulk_common.sh"
h_init
h_cluster 1
S=$L_PREFIX/subnets
h_etcdctl put "$S/10.244.200.0-24" "$(l_value 198.18.0.97)" >/dev/null || h_fail "peer A"
h_etcdctl put "$S/10.244.210.0-24" "$(l_value 198.18.0.98)" >/dev/null || h_fail "peer B"
# Junk sorts between the two peers ("10.244.205..." < "10.244.210...").
t0=$(date +%s)
b_fill "$S/10.244.205.0-24~junk-" 140 128
# One value of 1.4 MiB: alone larger than the listing's 1 MiB page.
head -c $((1400 * 1024)) /dev/zero | tr '\0' y >"$H_TMP/huge"
h_etcdctl put "$S/10.244.206.0-24~huge" <"$H_TMP/huge" >/dev/null || h_fail "huge value"
bytes=$(b_bytes "$S/")
h_log "$((bytes / 1048576)) MiB under $S/ in $(($(date +%s) - t0)) s"
[ "$bytes" -gt $((16 * 1048576)) ] || h_fail "only $bytes bytes under the prefix"

l_start 1 --log-level debug
# Compacted past the listing's revision once its first page is in: the
# listing starts over at the current revision.
h_wait_for 20 "node 1 is listing" bash -c \
	"ip netns exec $(h_node_ns 1) curl -sf --max-time 1 http://127.0.0.1:9872/metrics | grep -q '^weft_etcd_list_pages_total [1-9]'" ||
	h_fail "no listing page"
h_etcdctl put /weft-test/filler x >/dev/null
rev=$(h_etcdctl get /weft-test/filler -w json | jq .header.revision)
h_etcdctl compaction "$rev" >/dev/null || h_fail "compaction"
h_wait_for 30 "node 1 ready" \
	ip netns exec "$(h_node_ns 1)" curl -sf --max-time 2 http://127.0.0.1:9872/readyz ||
	{ tail -20 "$H_TMP/n1.log" >&2; h_fail "node 1 never became ready"; }
h_wait_for 10 "peer A programmed" b_has_peer 1 10.244.200.0 198.18.0.97 ||
	{ grep -v "peer " "$H_TMP/n1.log" | tail -20 >&2; h_fail "peer A missing"; }
h_wait_for 10 "peer B (after the junk) programmed" b_has_peer 1 10.244.210.0 198.18.0.98 ||
	{ grep -v "peer " "$H_TMP/n1.log" | tail -20 >&2; h_fail "peer B missing"; }
h_assert_eq 2 "$(d_count 1 neigh)" "neighbours (junk programmed?)"
[ "$(d_metric 1 weft_etcd_list_skipped_total)" -ge 1 ] || h_fail "the huge value was not skipped"
[ "$(d_metric 1 weft_etcd_list_pages_total)" -gt 3 ] ||
	h_fail "listing took $(d_metric 1 weft_etcd_list_pages_total) pages"
[ "$(d_metric 1 weft_etcd_list_restarts_total)" -ge 1 ] ||
	h_fail "listing not restarted after the compaction"
h_log "$(grep -o 'listed .*' "$H_TMP/n1.log" | tail -1)"
l_alive 1 || h_fail "node 1 exited"
l_stop 1
