#!/usr/bin/env bash
# 20 daemons start at once against a config that leaves exactly 20 subnets:
# their create-if-absent txns collide, the losers retry with other subnets,
# and all 20 end up with distinct leases; none exits.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
N=20
h_cluster $N '{"Network":"10.10.0.0/16","SubnetMin":"10.10.1.0","SubnetMax":"10.10.20.0","Backend":{"Type":"vxlan"}}'

# Freeze etcd so every daemon's first requests wait in its backlog, then
# release them together: all list the same empty set and pick at once.
kill -STOP "$H_ETCD_PID"
for n in $(seq 1 $N); do
	l_start "$n"
done
h_wait_for 20 "$N daemons started" \
	bash -c "[ \$(cat $H_TMP/n*.log | grep -c 'starting') -eq $N ]" ||
	{ kill -CONT "$H_ETCD_PID"; h_fail "daemons did not start"; }
kill -CONT "$H_ETCD_PID"
start=$(date +%s%N)

all_env() {
	for n in $(seq 1 $N); do
		[ -s "$(h_subnet_file "$n")" ] || return 1
	done
}
h_wait_for 30 "all $N subnet.env files" all_env || {
	tail -5 "$H_TMP"/n*.log >&2
	h_fail "not every node got a subnet"
}
h_log "all $N leased $(( ($(date +%s%N) - start) / 1000000 )) ms after etcd resumed"

for n in $(seq 1 $N); do
	l_alive "$n" || h_fail "weftd of node $n exited"
done
keys=$(h_etcdctl get --prefix --keys-only "$L_PREFIX/subnets/" | grep .)
h_assert_eq $N "$(echo "$keys" | sort -u | wc -l)" "distinct leases"
envs=$(for n in $(seq 1 $N); do l_env_subnet "$n"; done | sort -u | wc -l)
h_assert_eq $N "$envs" "distinct subnets in subnet.env files"
for n in $(seq 1 $N); do
	key=$(l_key_of "198.18.0.$n")
	[ -n "$key" ] || h_fail "node $n holds no lease"
	h_assert_eq "$(l_gw "$key")" "$(l_env_subnet "$n")" "subnet.env of node $n"
done
races=$(cat "$H_TMP"/n*.log | grep -c 'taken concurrently')
h_log "lost races logged: $races"
[ "$races" -ge 1 ] || h_fail "no lost race was logged"
