#!/usr/bin/env bash
# etcd replaced by an empty one (data dir lost, revision back to 1): weftd
# notices the revision going back, re-lists, and writes its lease again on
# the same subnet, with the same value; subnet.env stays as it was.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_cluster 1
# Enough revisions that the new etcd starts well below them.
for i in $(seq 1 20); do
	h_etcdctl put /weft-test/filler "$i" >/dev/null
done

l_start 1 --log-level debug
h_wait_for 10 "node 1 subnet.env" test -s "$(h_subnet_file 1)" || h_fail "node 1"
key=$(l_key_of 198.18.0.1)
env_before=$(cat "$(h_subnet_file 1)")

h_etcd_stop TERM
rm -rf "$H_ETCD_DIR/data"
h_etcd_start
h_net_config
h_wait_for 20 "node 1 writes its lease into the new etcd" \
	bash -c "[ -n \"\$(ETCDCTL_API=3 ip netns exec $H_RUN-etcd etcdctl --endpoints http://127.0.0.1:2379 get --keys-only $key)\" ]" ||
	{ grep -v "peer " "$H_TMP/n1.log" >&2; h_fail "lease not re-created"; }
h_assert_eq "$(l_value 198.18.0.1)" "$(h_etcdctl get --print-value-only "$key")" "lease value"
[ "$(l_field "$key" lease)" != 0 ] || h_fail "re-created lease has no TTL"
h_assert_eq "$env_before" "$(cat "$(h_subnet_file 1)")" "subnet.env"
l_alive 1 || h_fail "node 1 exited"
l_stop 1
