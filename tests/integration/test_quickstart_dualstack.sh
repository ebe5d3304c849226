#!/usr/bin/env bash
# deploy/quickstart.sh --dual-stack: the same cluster with an IPv6 underlay;
# every pod gets both families, pods talk across nodes over IPv4 and IPv6,
# and reach the external host through masquerade in both families. `down`
# leaves nothing behind.
# labels: deploy;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
h_init

export WEFT_QS_PREFIX=$H_RUN
qs() { "$WEFT_SRC/deploy/quickstart.sh" "$@"; }
state=/var/lib/$H_RUN-quickstart
h_on_cleanup 'for f in '"$state"'/*.pid; do kill -KILL "$(cat "$f")"; done; qs down'

qs --dual-stack up >"$H_TMP/up.log" 2>&1 || {
	tail -30 "$H_TMP/up.log" >&2
	h_fail "quickstart --dual-stack up failed"
}
grep -q "saw $H_RUN-n1-p1 .* as 198.18.0.1\$" "$H_TMP/up.log" || h_fail "no IPv4 masquerade proof"
grep -q "saw $H_RUN-n1-p1 (fd00:10:244:.* as 2001:db8:18::1\$" "$H_TMP/up.log" ||
	h_fail "no IPv6 masquerade proof"
h_assert_eq 6 "$(grep -c 'fetched http://10\.244\.' "$H_TMP/up.log")" "IPv4 cross-node fetches"
h_assert_eq 6 "$(grep -c 'fetched http://\[fd00:10:244:' "$H_TMP/up.log")" "IPv6 cross-node fetches"

# The state itself: dual-stack leases in etcd, both pairs in subnet.env,
# the IPv6 device and its peers' routes, the ip6 masquerade table.
leases=$(ip netns exec "$H_RUN-etcd" env ETCDCTL_API=3 etcdctl get --prefix --keys-only \
	/coreos.com/network/subnets | grep -c '^/coreos.com/network/subnets/10\.244\.[0-9]*\.0-24&fd00:10:244:[0-9a-f]*::-64$')
h_assert_eq 3 "$leases" "dual-stack lease keys"
sf=/run/$H_RUN-n1/subnet.env
grep -qx 'FLANNEL_IPV6_NETWORK=fd00:10:244::/56' "$sf" || h_fail "no FLANNEL_IPV6_NETWORK: $(cat "$sf")"
grep -q '^FLANNEL_IPV6_SUBNET=fd00:10:244:[0-9a-f]*::1/64$' "$sf" || h_fail "no FLANNEL_IPV6_SUBNET"
h_assert_eq 2 "$(ip -n "$H_RUN-n1" -6 route show dev weft-v6.1 proto 87 | wc -l)" "IPv6 peer routes"
ip netns exec "$H_RUN-n1" nft list table ip6 weft >/dev/null || h_fail "no ip6 weft table"
pids=$(cat "$state"/*.pid)
# etcd, 3 weftd, 3 pod httpd, the external httpd for each family
h_assert_eq 9 "$(echo "$pids" | wc -w)" "processes"

qs down >/dev/null 2>&1 || h_fail "quickstart down failed"
for pid in $pids; do
	h_wait_pid "$pid" 5 || h_fail "process $pid still runs after down"
done
left=$(ip netns list | awk -v p="$H_RUN-" 'index($1, p) == 1' | wc -l)
h_assert_eq 0 "$left" "namespaces left after down"
h_no_file "$state" "$state left after down"
h_log "quickstart --dual-stack up and down: clean"
exit 0
