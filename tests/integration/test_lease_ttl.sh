#!/usr/bin/env bash
# With --lease-ttl 5 the lease is renewed by keepalive alone: after 30 s the
# key is alive on the same etcd lease, its mod_revision never moved, and the
# peer watching it saw no update. A revoked lease is replaced, same subnet.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_cluster 2


l_start 1 --lease-ttl 5
l_start 2 --log-level debug
for n in 1 2; do
	h_wait_for 10 "node $n subnet.env" test -s "$(h_subnet_file "$n")" || h_fail "node $n"
done
key=$(l_key_of 198.18.0.1)
rev=$(l_field "$key" mod_revision)
id=$(l_lease_id "$key")
[ -n "$id" ] && [ "$id" != 0 ] || h_fail "no etcd lease on $key"
# (No `| grep -q` on etcdctl: under pipefail an early grep exit can SIGPIPE
# etcdctl and fail the pipeline.)
ttl_info=$(h_etcdctl lease timetolive "$(printf '%x' "$id")")
[[ $ttl_info == *'granted with TTL(5s)'* ]] || h_fail "lease TTL is not 5 s: $ttl_info"
h_wait_for 5 "node 2 sees node 1" l_sees 2 "$(l_key_subnet "$key")" 198.18.0.1 ||
	h_fail "node 2 does not see node 1"

for t in 10 20 30; do
	sleep 10
	[ -n "$(h_etcdctl get --print-value-only "$key")" ] || h_fail "lease key gone after $t s"
	h_assert_eq "$id" "$(l_lease_id "$key")" "etcd lease after $t s"
	h_assert_eq "$rev" "$(l_field "$key" mod_revision)" "mod_revision after $t s"
	remaining=$(h_etcdctl lease timetolive "$(printf '%x' "$id")" | sed -n 's/.*remaining(\(-*[0-9]*\)s).*/\1/p')
	[ "${remaining:-0}" -ge 1 ] || h_fail "lease about to expire after $t s (remaining ${remaining}s)"
done
# mod_revision never moved, so the peer's watch had nothing to deliver;
# node 2 still holds node 1's entries.
l_sees 2 "$(l_key_subnet "$key")" 198.18.0.1 || h_fail "node 2 lost node 1"
l_alive 1 || h_fail "node 1 exited"

# The lease revoked behind its back: node 1 notices (watch or keepalive) and
# takes the same subnet again on a new lease; subnet.env does not change.
env_before=$(cat "$(h_subnet_file 1)")
h_etcdctl lease revoke "$(printf '%x' "$id")" >/dev/null || h_fail "revoke"
new_lease() { local i; i=$(l_lease_id "$key"); [ -n "$i" ] && [ "$i" != "$id" ]; }
h_wait_for 10 "node 1 re-acquires after the revoke" new_lease ||
	{ cat "$H_TMP/n1.log" >&2; h_fail "no re-acquire after the revoke"; }
h_assert_eq "$key" "$(l_key_of 198.18.0.1)" "subnet after the revoke"
[ "$(l_lease_id "$key")" != "$id" ] || h_fail "still the revoked lease"
h_assert_eq "$env_before" "$(cat "$(h_subnet_file 1)")" "subnet.env after the revoke"
for n in 1 2; do
	l_stop "$n"
done
