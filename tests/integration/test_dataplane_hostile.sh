#!/usr/bin/env bash
# Hostile etcd content harms no node: while pods ping every 10 ms (across
# nodes and on one node), a third party writes 40 hostile lease keys
# covering every acceptance rule, then deletes them. No reply is lost, the
# routing tables outside weft's own routes stay byte-identical, every real
# peer keeps its entries, nothing of the hostile keys is left, and the
# rejections are counted in /metrics. Pods are wired by the weft plugin,
# called as a runtime calls it.
# labels: dataplane;root;etcd
# timeout: 360
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/fault_common.sh"
h_init
h_cluster 2
l_start 1
l_start 2
for n in 1 2; do
	h_wait_for 10 "node $n subnet.env" test -s "$(h_subnet_file "$n")" || h_fail "node $n no subnet.env"
done
S=$L_PREFIX/subnets

# pod N NAME: netns $H_RUN-nN-NAME wired by the weft plugin; sets POD_IP.
pod() {
	local n=$1 ns=$H_RUN-n$1-$2 out
	h_netns_add "$ns"
	out=$(jq -nc --arg sf "$(h_subnet_file "$n")" --arg dd "$(h_cni_dir "$n")" \
		'{cniVersion: "1.0.0", name: "weftnet", type: "weft", subnetFile: $sf, dataDir: $dd}' |
		ip netns exec "$(h_node_ns "$n")" env CNI_COMMAND=ADD CNI_CONTAINERID="$2" \
			CNI_NETNS="/run/netns/$ns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni "$WEFT_BIN/weft") ||
		h_fail "ADD of pod $2 on node $n: $out"
	POD_IP=$(jq -r '.ips[0].address' <<<"$out")
	POD_IP=${POD_IP%/*}
}
pod 1 p1
a_ip=$POD_IP
pod 1 p2
b_ip=$POD_IP
pod 2 p1
c_ip=$POD_IP
for n in 1 2; do
	m=$((3 - n))
	h_wait_for 5 "node $n has node $m" d_has_peer "$n" "$m" || h_fail "mesh incomplete"
done

# ping NAME FROM_POD_NS TO_IP: 10 ms pings in rounds, as f_ping_start.
ping_start() {
	rm -f "$H_TMP/ping-$1.out" "$H_TMP/ping-$1.stop"
	# shellcheck disable=SC2016
	h_bg "$2" "$H_TMP/ping-$1.out" bash -c '
		trap "kill \$p 2>/dev/null; exit 0" TERM
		while [ ! -e "$1" ]; do
			ping -D -n -i 0.01 -W 1 -c 100 "$2" & p=$!
			wait $p
		done' _ "$H_TMP/ping-$1.stop" "$3"
	F_PING_PID[$1]=$H_LAST_PID
}
for p in "$H_RUN-n1-p1 $c_ip" "$H_RUN-n1-p1 $b_ip" "$H_RUN-n2-p1 $a_ip"; do
	read -r ns ip <<<"$p"
	h_wait_for 5 "$ns reaches $ip" ip netns exec "$ns" ping -q -c 1 -W 1 "$ip" ||
		h_fail "probe: $ns cannot reach $ip"
done
ping_start cross "$H_RUN-n1-p1" "$c_ip"
ping_start local "$H_RUN-n1-p2" "$a_ip"
ping_start back "$H_RUN-n2-p1" "$b_ip"

# Routing tables without weft's own routes, both families, every table.
tables() {
	local ns
	ns=$(h_node_ns "$1")
	{
		ip -n "$ns" -4 route show table all
		ip -n "$ns" -6 route show table all
	} | grep -v ' proto 87 '
}
weft_routes() { ip -n "$(h_node_ns "$1")" route show proto 87; }
# The pods' host veths get IPv6 link-local addresses (and their routes)
# a moment after they come up: snapshot once that has settled.
settled() {
	local ns
	ns=$(h_node_ns "$1")
	[ -z "$(ip -n "$ns" -6 addr show tentative)" ] || return 1
	tables "$1" >"$H_TMP/tables-$1.a"
	sleep 0.3
	tables "$1" | cmp -s - "$H_TMP/tables-$1.a"
}
for n in 1 2; do
	h_wait_for 10 "node $n's tables settled" settled "$n" || h_fail "node $n's tables never settled"
	tables "$n" >"$H_TMP/tables-$n.before"
	weft_routes "$n" >"$H_TMP/weft-$n.before"
	h_grep ' proto kernel ' "$H_TMP/tables-$n.before" || h_fail "probe: no kernel route on node $n"
done
same_tables() {
	local n
	for n in 1 2; do
		tables "$n" | cmp -s - "$H_TMP/tables-$n.before" || {
			tables "$n" | diff "$H_TMP/tables-$n.before" - >&2
			h_fail "$1: node $n's routing table changed outside weft's own routes"
		}
		d_has_peer "$n" $((3 - n)) || h_fail "$1: node $n lost node $((3 - n))'s entries"
	done
}

own1=$(d_base 1)
own2=$(d_base 2)
IFS=. read -r _ _ o1 <<<"$own1"
IFS=. read -r _ _ o2 <<<"$own2"
good_mac=02:ab:00:00:66:01
val() { # val IP MAC [VNI [TYPE]]
	printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"%s","BackendData":{"VNI":%s,"VtepMAC":"%s"}}' \
		"$1" "${4:-vxlan}" "${3:-1}" "$2"
}
ok=$(val 198.18.0.66 $good_mac)
declare -A hostile=(
	# subnets that are not an acceptable peer subnet
	["198.18.0.0-24"]=$ok ["198.18.0.254-31"]=$ok ["198.18.0.0-16"]=$ok
	["10.99.0.0-24"]=$ok ["128.0.0.0-1"]=$ok ["0.0.0.0-0"]=$ok ["0.0.0.0-1"]=$ok
	["10.244.0.0-16"]=$ok ["10.0.0.0-8"]=$ok ["10.244.0.0-17"]=$ok
	# halves and aliases of both nodes' subnets
	["$own1.0-25"]=$ok ["$own1.128-25"]=$ok ["$own1.2-31"]=$ok ["10.244.$((o1 & ~1)).0-23"]=$ok
	["$own1.0-24&fd00:10:244:1::-64"]=$ok
	["$own2.0-25"]=$ok ["$own2.128-26"]=$ok ["10.244.$((o2 & ~1)).0-23"]=$ok
	["$own2.0-24&fd00:10:244:2::-64"]=$ok
	# bad PublicIPs
	["10.244.201.0-24"]=$(val 127.0.0.1 $good_mac) ["10.244.202.0-24"]=$(val 255.255.255.255 $good_mac)
	["10.244.203.0-24"]=$(val 224.0.0.5 $good_mac) ["10.244.204.0-24"]=$(val 0.0.0.0 $good_mac)
	["10.244.205.0-24"]=$(val 10.244.5.5 $good_mac) ["10.244.206.0-24"]=$(val 198.18.0.1 $good_mac)
	["10.244.207.0-24"]=$(val 169.254.0.1 $good_mac)
	# bad VtepMACs
	["10.244.211.0-24"]=$(val 198.18.0.66 ff:ff:ff:ff:ff:ff) ["10.244.212.0-24"]=$(val 198.18.0.66 01:00:5e:00:00:01)
	["10.244.213.0-24"]=$(val 198.18.0.66 00:00:00:00:00:00) ["10.244.214.0-24"]=$(val 198.18.0.66 33:33:00:00:00:01)
	["10.244.215.0-24"]='{"PublicIP":"198.18.0.66","BackendType":"vxlan"}'
	# wrong VNI, other backends
	["10.244.221.0-24"]=$(val 198.18.0.66 $good_mac 2) ["10.244.222.0-24"]=$(val 198.18.0.66 $good_mac 0)
	["10.244.223.0-24"]=$(val 198.18.0.66 $good_mac 1 host-gw)
	# junk values and keys
	["10.244.231.0-24"]='not json' ["10.244.232.0-24"]='' ["10.244.233.0-24"]='[1,2]'
	["10.244.234.0-24"]='{"PublicIP":"198.18.0.999"}' ["10.244.235.1-24"]=$ok ["junk"]=$ok
	["10.244.300.0-24"]=$ok
)
[ "${#hostile[@]}" -ge 30 ] || h_fail "only ${#hostile[@]} hostile keys"
sleep 1 # pings under way before the first write
# hostile_all put|del KEYS...: writes or deletes the keys through etcd's
# JSON gateway, twenty requests at a time (each waits for etcd's disk, and
# concurrent ones share a sync); after every twenty the tables are checked.
b64() { printf '%s' "$1" | base64 -w0; }
hostile_all() {
	local verb=$1 i=0 k body url pid pids=()
	shift
	for k in "$@"; do
		if [ "$verb" = put ]; then
			url=/v3/kv/put
			body="{\"key\":\"$(b64 "$S/$k")\",\"value\":\"$(b64 "${hostile[$k]}")\"}"
		else
			url=/v3/kv/deleterange
			body="{\"key\":\"$(b64 "$S/$k")\"}"
		fi
		ip netns exec "$H_RUN-etcd" curl -sf --max-time 10 -o /dev/null \
			"http://127.0.0.1:2379$url" -d "$body" &
		pids+=($!)
		i=$((i + 1))
		if [ $((i % 20)) = 0 ] || [ "$i" = $# ]; then
			for pid in "${pids[@]}"; do
				wait "$pid" || h_fail "a hostile $verb failed"
			done
			pids=()
			same_tables "after $i hostile ${verb}s"
		fi
	done
}
hostile_all put "${!hostile[@]}"
h_log "${#hostile[@]} hostile keys written"
# A valid lease written last: once both nodes have it, every hostile key
# before it was handled (watch events arrive in order).
h_etcdctl put "$S/10.244.250.0-24" "$(val 198.18.0.77 02:ab:00:00:77:01)" >/dev/null
for n in 1 2; do
	h_wait_for 5 "node $n has the marker lease" \
		sh -c "ip -n $(h_node_ns "$n") route show proto 87 | grep -q '^10.244.250.0/24 via'" ||
		h_fail "node $n never programmed the marker"
done
same_tables "all hostile keys present"
sleep 1 # reconcile rounds with everything in place
same_tables "hostile keys present for 1 s"
for r in outside length own_subnet conflict own_ip public_ip mac vni backend value; do
	got=$(d_metric 1 "weft_leases_rejected_total{reason=\"$r\"}")
	[ "${got:-0}" -gt 0 ] || h_fail "node 1: rejections for $r not counted (${got:-absent})"
done
d_metrics 1 | grep '^weft_leases_rejected' >&2

hostile_all del "${!hostile[@]}"
h_etcdctl del "$S/10.244.250.0-24" >/dev/null
for n in 1 2; do
	h_wait_for 5 "node $n: weft's routes as before" \
		sh -c "ip -n $(h_node_ns "$n") route show proto 87 | cmp -s - $H_TMP/weft-$n.before" ||
		h_fail "node $n: weft's routes differ after the deletions: $(weft_routes "$n")"
done
sleep 1 # a reconcile round after the last deletion
same_tables "hostile keys deleted"
for n in 1 2; do
	for kind in neigh fdb route; do
		[ "$(d_count "$n" "$kind")" = 1 ] || h_fail "node $n: $(d_count "$n" "$kind") ${kind}s left, want 1"
	done
	[ "$(d_metric "$n" weft_routes_blocked)" = 0 ] || h_fail "node $n: routes reported blocked"
done
f_ping_no_loss cross local back
l_stop 1
l_stop 2
