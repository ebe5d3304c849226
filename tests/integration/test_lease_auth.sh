#!/usr/bin/env bash
# etcd with authentication (user, role limited to the prefix): weftd logs in
# with --etcd-username/--etcd-password-file, renews an expired token by
# itself, and exits with a clear message on a wrong password.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
H_ETCD_ARGS=(--auth-token-ttl 1)
h_cluster 2
{
	h_etcdctl user add root:rootpw &&
		h_etcdctl role add root &&
		h_etcdctl user grant-role root root &&
		h_etcdctl role add weft &&
		h_etcdctl role grant-permission weft --prefix=true readwrite "$L_PREFIX/" &&
		h_etcdctl user add weft:s3cret &&
		h_etcdctl user grant-role weft weft &&
		h_etcdctl auth enable
} >"$H_TMP/auth.log" 2>&1 || { cat "$H_TMP/auth.log" >&2; h_fail "auth setup"; }
H_ETCDCTL_TLS="--user root:rootpw"
printf 's3cret\n' >"$H_TMP/pw"
printf 'wrong\n' >"$H_TMP/badpw"

l_start 1 --etcd-username weft --etcd-password-file "$H_TMP/pw" --log-level debug
h_wait_for 10 "node 1 subnet.env with auth" test -s "$(h_subnet_file 1)" ||
	{ cat "$H_TMP/n1.log" >&2; h_fail "no lease with auth"; }
key=$(l_key_of 198.18.0.1)
h_assert_eq "$(l_value 198.18.0.1)" "$(h_etcdctl get --print-value-only "$key")" "lease with auth"

# The token has expired (1 s idle): deleting the key makes weftd write again,
# which needs a fresh token.
sleep 3
h_etcdctl del "$key" >/dev/null
h_wait_for 10 "node 1 re-creates its key with a new token" l_has_key "$key" ||
	{ cat "$H_TMP/n1.log" >&2; h_fail "no re-acquire after the token expired"; }
h_assert_eq "$(l_value 198.18.0.1)" "$(h_etcdctl get --print-value-only "$key")" "re-created lease"

# etcd restarts: every token it issued is void, and the watch learns of it
# in-band only. weftd logs in again and sees a lease added afterwards.
h_etcd_stop TERM
h_etcd_start --auth-token-ttl 1
h_etcdctl put "$L_PREFIX/subnets/10.244.203.0-24" "$(l_value 198.18.0.96)" >/dev/null
h_wait_for 20 "node 1 sees a lease added after the restart" \
	l_sees 1 10.244.203.0/24 198.18.0.96 ||
	{ grep -v "peer " "$H_TMP/n1.log" >&2; h_fail "no watch after the etcd restart"; }

l_start 2 --etcd-username weft --etcd-password-file "$H_TMP/badpw"
h_wait_pid "${L_PID[2]}" 15 || h_fail "weftd kept running with a wrong password"
wait "${L_PID[2]}" && h_fail "exit status 0 with a wrong password"
# The message is in the log only.
grep -q "authentication failed: .*invalid user ID or password" "$H_TMP/n2.log" ||
	{ cat "$H_TMP/n2.log" >&2; h_fail "no clear message for a wrong password"; }
l_stop 1
