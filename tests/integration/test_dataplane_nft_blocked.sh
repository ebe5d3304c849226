#!/usr/bin/env bash
# The masquerade table cannot be applied: another program owns a table
# named "ip weft" (nftables' owner flag: only the socket that made it may
# change or delete it). The device comes up, but weftd writes no
# subnet.env, /readyz says why (503) and /metrics shows the table missing;
# once that program exits (its table goes with it) weftd applies its own
# table, writes subnet.env and becomes ready.
# labels: dataplane;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
h_init
h_underlay
h_etcd_start
h_node_add 1
h_net_config '{"Network":"10.244.0.0/16","SubnetMax":"10.244.199.0","Backend":{"Type":"vxlan"}}'
ns1=$(h_node_ns 1)

# The holder: an interactive nft whose socket owns table ip weft for as
# long as its input stays open.
mkfifo "$H_TMP/holder.in"
# shellcheck disable=SC2016
h_bg "$ns1" "$H_TMP/holder.log" sh -c 'exec nft -i <"$0"' "$H_TMP/holder.in"
holder=$H_LAST_PID
exec 7>"$H_TMP/holder.in"
h_on_cleanup "exec 7>&-"
echo 'add table ip weft { flags owner; }' >&7
h_wait_for 5 "table ip weft held" ip netns exec "$ns1" nft list table ip weft ||
	h_fail "no holder: $(cat "$H_TMP/holder.log")"
# The probe for "weft cannot take it over": a plain delete is refused.
ip netns exec "$ns1" nft delete table ip weft 2>/dev/null && h_fail "the table is not owned"

l_start 1 --ip-masq
readyz() {
	ip netns exec "$ns1" curl -s --max-time 2 -w ' %{http_code}' http://127.0.0.1:9872/readyz
}
h_wait_for 10 "node 1 lease" bash -c "[ \"\$(ip netns exec $ns1 curl -sf --max-time 2 \
	http://127.0.0.1:9872/metrics | awk '\$1 == \"weft_lease_held\" {print \$2}')\" = 1 ]" ||
	h_fail "node 1 holds no lease"
h_wait_for 5 "weft.1 up" ip -n "$ns1" link show weft.1 up || h_fail "no device"
h_wait_for 5 "node 1 not ready, with the reason" \
	bash -c "[[ \"\$(ip netns exec $ns1 curl -s --max-time 2 -w ' %{http_code}' http://127.0.0.1:9872/readyz)\" == 'not ready: data plane not programmed yet'*503 ]]" ||
	h_fail "readyz: $(readyz)"
# Give a late write the time it would need.
sleep 2
[ -e "$(h_subnet_file 1)" ] && h_fail "subnet.env written while the masquerade table is missing"
h_assert_eq 0 "$(d_metric 1 weft_nftables_applied)" "weft_nftables_applied while blocked"
h_assert_eq 0 "$(d_metric 1 weft_ready)" "weft_ready while blocked"
[ "$(d_metric 1 weft_netlink_errors_total)" -ge 1 ] ||
	h_fail "weft_netlink_errors_total $(d_metric 1 weft_netlink_errors_total)"
ip netns exec "$ns1" nft list table ip weft | h_grep masquerade && h_fail "weft's rules went in"

# The holder exits; its table goes with it.
exec 7>&-
h_kill "$holder"
h_wait_for 15 "node 1 ready once the table is free" \
	ip netns exec "$ns1" curl -sf --max-time 2 http://127.0.0.1:9872/readyz ||
	h_fail "node 1 never became ready: $(readyz)"
test -s "$(h_subnet_file 1)" || h_fail "node 1 ready without subnet.env"
h_assert_eq true "$(d_env 1 FLANNEL_IPMASQ)" "FLANNEL_IPMASQ"
h_assert_eq 1 "$(d_metric 1 weft_nftables_applied)" "weft_nftables_applied after recovery"
ip netns exec "$ns1" nft list table ip weft | h_grep masquerade || h_fail "weft's table missing"
l_stop 1
