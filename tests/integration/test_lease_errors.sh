#!/usr/bin/env bash
# Setup errors. Bad flags and bad local files exit at once with a clear
# message; what etcd holds or whether it answers can change, so a missing or
# malformed config and unreachable endpoints are logged and retried, and the
# daemon carries on once they are fixed. Also: --net-config-file is written
# only when <prefix>/config is absent, and a dead first endpoint fails over.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_cluster 4 ""
NS1=$(h_node_ns 1)

# expect_exit CODE REGEX ARGS...: weftd in node 1's netns exits CODE, says REGEX.
expect_exit() {
	local code=$1 re=$2 out rc
	shift 2
	out=$(timeout 10 ip netns exec "$NS1" "$WEFT_BIN/weftd" "$@" 2>&1)
	rc=$?
	[ "$rc" -eq "$code" ] || h_fail "weftd $*: exit $rc, wanted $code ($out)"
	grep -Eq -- "$re" <<<"$out" || h_fail "weftd $*: message '$out' lacks /$re/"
}
expect_exit 2 "unknown option '--bogus'" --bogus
expect_exit 2 "--lease-ttl: '1' is not a number of seconds" --lease-ttl 1
WEFTD_LEASE_TTL=x expect_exit 2 "WEFTD_LEASE_TTL: 'x'"
expect_exit 2 "must start with http:// or https://" --etcd-endpoints 198.18.0.254:2379
expect_exit 2 "--etcd-certfile and --etcd-keyfile go together" --etcd-certfile /etc/hostname
expect_exit 1 "--iface nosuch0: no such interface" --iface nosuch0
expect_exit 1 "--iface 198.18.9.9: no interface has this address" --iface 198.18.9.9
expect_exit 1 "--net-config-file /nonexistent: No such file" --net-config-file /nonexistent
echo '{"Network":"10.244.0.0/16","SubnetLen":40}' >"$H_TMP/bad.json"
expect_exit 1 "--net-config-file $H_TMP/bad.json: .*SubnetLen" --net-config-file "$H_TMP/bad.json"
expect_exit 0 "^weftd [0-9]" --version
ip netns exec "$NS1" "$WEFT_BIN/weftd" --help >"$H_TMP/help.txt" || h_fail "--help"
grep -q -- "--lease-ttl SECONDS" "$H_TMP/help.txt" || h_fail "--help lacks --lease-ttl"

# No config in etcd: waits and says so; a config written later is picked up.
# The log greps in this file check messages, which only the log holds.
l_start 1
l_wait_log 1 10 "no network config at /coreos.com/network/config" || h_fail "no message"
l_alive 1 || h_fail "exited without a config"
# A malformed one: named field, still waiting.
h_net_config '{"Network":"10.244.0.0/33"}'
l_wait_log 1 15 "network config at /coreos.com/network/config is invalid: .*Network" ||
	h_fail "malformed config not reported"
l_alive 1 || h_fail "exited on a malformed config"
h_net_config
h_wait_for 15 "node 1 leases once the config is fixed" test -s "$(h_subnet_file 1)" ||
	h_fail "no lease after fixing the config"

# --net-config-file under a fresh prefix is written; under an existing one not.
echo '{"Network":"10.77.0.0/16","Backend":{"Type":"vxlan","VNI":7}}' >"$H_TMP/net.json"
l_start 2 --etcd-prefix /weft-test/net --net-config-file "$H_TMP/net.json" --iface 198.18.0.2
h_wait_for 10 "node 2 subnet.env" test -s "$(h_subnet_file 2)" || h_fail "node 2"
h_assert_eq "$(cat "$H_TMP/net.json")" "$(h_etcdctl get --print-value-only /weft-test/net/config)" \
	"config written from --net-config-file"
grep -q "^FLANNEL_NETWORK=10.77.0.0/16$" "$(h_subnet_file 2)" || h_fail "node 2 network"
key=$(h_etcdctl get --prefix --keys-only /weft-test/net/subnets/ | grep .)
h_assert_eq "$(l_value 198.18.0.2 7)" "$(h_etcdctl get --print-value-only "$key")" "VNI 7 lease"
l_start 3 --net-config-file "$H_TMP/net.json" --iface eth0
h_wait_for 10 "node 3 subnet.env" test -s "$(h_subnet_file 3)" || h_fail "node 3"
grep -q "^FLANNEL_NETWORK=10.244.0.0/16$" "$(h_subnet_file 3)" ||
	h_fail "an existing config was overwritten"
grep -q "already stored" "$H_TMP/n3.log" || h_fail "ignored file not logged"
h_assert_eq "$(l_value 198.18.0.3)" "$(h_etcdctl get --print-value-only "$(l_key_of 198.18.0.3)")" \
	"lease of the node with --iface eth0"

# Unreachable endpoints: retried, logged, never fatal; a dead first endpoint
# (nothing answers at .253) fails over to the live one.
l_start 4 --etcd-endpoints "http://198.18.0.253:2379"
l_wait_log 4 15 "etcd read of the network config failed: .*198.18.0.253" ||
	h_fail "unreachable endpoint not reported"
l_alive 4 || h_fail "exited on an unreachable endpoint"
l_stop 4
rm -f "$(h_subnet_file 4)"
: >"$H_TMP/n4.log"
l_start 4 --etcd-endpoints "http://198.18.0.253:2379,$H_ETCD_ENDPOINT"
h_wait_for 20 "node 4 leases through the second endpoint" test -s "$(h_subnet_file 4)" ||
	{ cat "$H_TMP/n4.log" >&2; h_fail "no failover"; }
for n in 1 2 3 4; do
	l_stop "$n"
done
