#!/usr/bin/env bash
# A node cut off from the underlay while etcd restarts never sees the old
# watch connection close (the reset is lost). The keepalive (every TTL/3)
# times out, which makes weftd drop the watch and reconnect, so once the
# link is back a lease added meanwhile shows up within seconds, not after
# TCP keepalive or the stream's low-speed limit.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_cluster 1
P2=$L_PREFIX/subnets/10.244.202.0-24

l_start 1 --lease-ttl 15 --log-level debug
h_wait_for 10 "node 1 subnet.env" test -s "$(h_subnet_file 1)" || h_fail "node 1"
key=$(l_key_of 198.18.0.1)
sleep 1 # the watch is established

ip -n "$H_RUN-ul" link set n1 down
h_etcd_stop TERM
h_etcd_start
h_etcdctl put "$P2" "$(l_value 198.18.0.97)" >/dev/null
# Only the log shows a keepalive timeout.
h_wait_for 15 "node 1's keepalive times out" grep -q "lease keepalive failed" "$H_TMP/n1.log" ||
	h_fail "no keepalive timeout while cut off"
ip -n "$H_RUN-ul" link set n1 up
h_wait_for 15 "node 1 sees the lease added while it was cut off" \
	l_sees 1 10.244.202.0/24 198.18.0.97 ||
	{ grep -v "peer " "$H_TMP/n1.log" >&2; h_fail "lease not seen after the partition"; }
h_assert_eq "$key" "$(l_key_of 198.18.0.1)" "node 1 lease key"
l_alive 1 || h_fail "node 1 exited"
l_stop 1
