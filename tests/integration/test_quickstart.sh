#!/usr/bin/env bash
# The README's first command: deploy/quickstart.sh brings up etcd, 3 nodes and
# 6 pods, proves cross-node traffic and masquerade, is idempotent, and its
# `down` leaves no namespace, process or file behind.
# labels: deploy;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
h_init

export WEFT_QS_PREFIX=$H_RUN
qs() { "$WEFT_SRC/deploy/quickstart.sh" "$@"; }
state=/var/lib/$H_RUN-quickstart
# Whatever happens, the cluster goes: the trap removes the namespaces, and
# this kills the processes the quickstart started.
h_on_cleanup 'for f in '"$state"'/*.pid; do kill -KILL "$(cat "$f")"; done; qs down'

qs up >"$H_TMP/up1.log" 2>&1 || { tail -30 "$H_TMP/up1.log" >&2; h_fail "quickstart up failed"; }
grep -q "saw $H_RUN-n1-p1 .* as 198.18.0.1" "$H_TMP/up1.log" || h_fail "no masquerade proof"
[ "$(grep -c "fetched http://" "$H_TMP/up1.log")" -eq 6 ] || h_fail "expected 6 cross-node fetches"
[ "$(grep -c '"PublicIP":"198.18.0' "$H_TMP/up1.log")" -eq 3 ] || h_fail "expected 3 leases listed"

# Running it again replaces the cluster instead of failing on what exists.
qs up >"$H_TMP/up2.log" 2>&1 || { tail -30 "$H_TMP/up2.log" >&2; h_fail "second quickstart up failed"; }
pids=$(cat "$state"/*.pid)
[ "$(echo "$pids" | wc -w)" -eq 8 ] || h_fail "expected 8 processes (etcd, 3 weftd, 4 httpd): $pids"

qs down >/dev/null 2>&1 || h_fail "quickstart down failed"
for pid in $pids; do
	h_wait_pid "$pid" 5 || h_fail "process $pid still runs after down"
done
left=$(ip netns list | awk -v p="$H_RUN-" 'index($1, p) == 1' | wc -l)
h_assert_eq 0 "$left" "namespaces left after down"
for p in "$state" /run/"$H_RUN"-n1 /var/lib/cni/"$H_RUN"-n1; do
	h_no_file "$p" "$p left after down"
done
qs down >/dev/null 2>&1 || h_fail "a second down must succeed"
h_log "quickstart up (twice) and down: clean"
exit 0
