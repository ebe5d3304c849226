#!/usr/bin/env bash
# The device cannot come up (its UDP port is taken): weftd says why on
# /readyz (503), writes no subnet.env and keeps retrying; once the port is
# free the device comes up with its peers, subnet.env follows and /readyz
# turns 200. Without --ip-masq no weft table
# exists; a leftover one from an earlier --ip-masq run is removed.
# labels: dataplane;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
h_init
h_cluster 2
ns1=$(h_node_ns 1)

# Someone holds UDP 8472 on node 1.
h_bg "$ns1" "$H_TMP/squatter.log" nc -u -l -n 0.0.0.0 8472
squatter=$H_LAST_PID
h_wait_for 5 "port 8472 taken" ip netns exec "$ns1" sh -c "ss -uln | grep -q ':8472 '" ||
	h_fail "no squatter"
# and an old weft table is left over
ip netns exec "$ns1" nft add table ip weft

l_start 1
l_start 2
has_lease() { [ -n "$(l_key_of 198.18.0.1)" ]; }
h_wait_for 10 "node 1 lease" has_lease || h_fail "node 1 got no lease"
readyz() {
	ip netns exec "$ns1" curl -s --max-time 2 -w ' %{http_code}' http://127.0.0.1:9872/readyz
}
h_wait_for 5 "node 1 not ready, with the reason" \
	bash -c "[[ \"\$(ip netns exec $ns1 curl -s --max-time 2 -w ' %{http_code}' http://127.0.0.1:9872/readyz)\" == 'not ready: data plane not programmed yet'*503 ]]" ||
	h_fail "readyz: $(readyz)"
h_lacks "stale weft table kept" 'table ip weft' ip netns exec "$ns1" nft list tables
# subnet.env promises a working node: not before the device is up.
h_no_file "$(h_subnet_file 1)" "subnet.env written while the device is down"

h_kill "$squatter"
h_wait_for 5 "node 1 ready once the port is free" \
	ip netns exec "$ns1" curl -sf --max-time 2 http://127.0.0.1:9872/readyz ||
	h_fail "node 1 never became ready: $(readyz)"
test -s "$(h_subnet_file 1)" || h_fail "node 1 ready without subnet.env"
h_wait_for 5 "node 1 has node 2" d_has_peer 1 2 || h_fail "node 1 lacks node 2"
[ "$(d_metric 1 weft_netlink_errors_total)" -ge 0 ] || h_fail "metrics"
d_pod_add 1 1
d_pod_add 2 1
d_ping 1 1 "$(d_pod_ip 2 1)" || h_fail "pod 1 -> pod 2"
for n in 1 2; do
	l_stop "$n"
done
