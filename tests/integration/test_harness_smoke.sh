#!/usr/bin/env bash
# The harness itself: etcd and 3 nodes on the underlay, etcdctl from every
# node reaches etcd, and a run that fails half-way leaves nothing behind.
# labels: harness;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
h_init

h_cluster 3 ""
h_ext_add

for n in 1 2 3; do
	ns=$(h_node_ns "$n")
	ETCDCTL_API=3 ip netns exec "$ns" etcdctl --dial-timeout=2s \
		--endpoints "$H_ETCD_ENDPOINT" put "/smoke/n$n" "hello from $n" >/dev/null ||
		h_fail "node $n cannot write to etcd over the underlay"
	got=$(ETCDCTL_API=3 ip netns exec "$ns" etcdctl --endpoints "$H_ETCD_ENDPOINT" \
		get --print-value-only "/smoke/n$n")
	h_assert_eq "hello from $n" "$got" "value read back by node $n"
	ip netns exec "$ns" ping -c1 -W2 -q "$H_EXT_IP" >/dev/null ||
		h_fail "node $n cannot reach the external host"
done
h_assert_eq 3 "$(h_etcdctl get --prefix --keys-only /smoke/ | grep -c .)" "keys in etcd"

# The root namespace must not have grown any link.
root_links=$(ip -o link show | grep -c "$H_RUN" || true)
h_assert_eq 0 "$root_links" "links with the run prefix in the root namespace"

# A nested run that starts etcd and a node, then fails: its trap must remove
# its namespaces, its etcd and its scratch directory.
inner=wti$(printf '%x' $RANDOM)
set +e
H_RUN=$inner bash -c '
	source "$WEFT_SRC/tests/lib/harness.sh"
	h_init
	h_underlay
	h_etcd_start
	h_node_add 1
	echo "$H_ETCD_PID" > '"$H_TMP/inner.pid"'
	echo "$H_TMP" > '"$H_TMP/inner.tmp"'
	h_fail "deliberate failure"
' 2>"$H_TMP/inner.log"
rc=$?
set -e
[ "$rc" -ne 0 ] || h_fail "the failing inner run exited 0"
inner_pid=$(cat "$H_TMP/inner.pid")
[ -n "$inner_pid" ] && [ -s "$H_TMP/inner.tmp" ] || h_fail "probe broken: the inner run recorded nothing"
kill -0 "$inner_pid" 2>/dev/null && h_fail "inner etcd (pid $inner_pid) still runs"
left=$(ip netns list | awk -v p="$inner-" 'index($1, p) == 1' | wc -l)
h_assert_eq 0 "$left" "namespaces left by the failed inner run"
h_no_file "$(cat "$H_TMP/inner.tmp")" "inner scratch directory left behind"
h_log "failed inner run cleaned up: no netns, no etcd, no scratch dir"

# A run killed with SIGKILL (as ctest does on a timeout) cannot clean up;
# the next run's h_init reaps its namespaces, processes and paths.
bash -c '
	source "$WEFT_SRC/tests/lib/harness.sh"
	h_init
	h_underlay
	h_etcd_start
	h_node_add 1
	echo "$H_RUN $H_ETCD_PID $H_TMP" > '"$H_TMP/killed.info"'
	exec sleep 60
' >"$H_TMP/killed.log" 2>&1 &
killed_shell=$!
h_wait_for 30 "killed run set up" test -s "$H_TMP/killed.info" || h_fail "inner run did not start"
read -r krun kpid ktmp <"$H_TMP/killed.info"
[ -n "$ktmp" ] || h_fail "probe broken: the killed run recorded nothing"
kill -KILL "$killed_shell"
wait "$killed_shell" 2>/dev/null || true
[ "$(ip netns list | awk -v p="$krun-" 'index($1, p) == 1' | wc -l)" -gt 0 ] ||
	h_fail "the killed run should have left namespaces behind"
h_reap_stale
left=$(ip netns list | awk -v p="$krun-" 'index($1, p) == 1' | wc -l)
h_assert_eq 0 "$left" "namespaces of the killed run after reaping"
h_wait_pid "$kpid" 5 || h_fail "etcd of the killed run (pid $kpid) still runs"
h_no_file "$ktmp" "scratch dir of the killed run left"
h_no_file "/run/$krun-n1" "/run/$krun-n1 left"
h_log "killed run reaped: no netns, no etcd, no paths"
exit 0
