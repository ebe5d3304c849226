#!/usr/bin/env bash
# Programming time: N peer leases are in etcd (one transaction), weftd starts
# on a node and programs a neighbour, an FDB entry and a route per peer. The
# time runs from weftd's start (so it includes the etcd list, the own lease
# and subnet.env) until weftd holds the acks of all 3N writes (it logs that
# line; the objects are counted afterwards, since polling the kernel during
# the run would compete for the RTNL lock). For comparison, the same
# 3N objects go into a fresh node with `ip -batch` + `bridge -batch` in the
# same run. Also prints weftd's RssAnon once programmed.
#
#   WEFT_BIN=build/bin WEFT_SRC=. bash tests/bench/dataplane_program.sh [N...]
#
# Use a release build: sanitizers make weftd several times slower.
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_underlay
h_etcd_start --max-txn-ops 20000 --max-request-bytes 33554432
h_net_config '{"Network":"10.0.0.0/8","SubnetLen":24,"Backend":{"Type":"vxlan"}}'

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# put_peers N: N leases 10.(i/256+1).(i%256).0/24 with PublicIP 198.19.x.y,
# written in one etcd transaction through the v3 HTTP gateway.
put_peers() {
	python3 - "$1" >"$H_TMP/txn.json" <<'EOF'
import base64, json, sys
n = int(sys.argv[1])
ops = []
for i in range(n):
    a, b = i // 256 + 1, i % 256
    key = "/coreos.com/network/subnets/10.%d.%d.0-24" % (a, b)
    ip = "198.19.%d.%d" % (i // 250, i % 250 + 1)
    mac = "02:bb:00:00:%02x:%02x" % (i >> 8, i & 255)
    val = ('{"PublicIP":"%s","PublicIPv6":null,"BackendType":"vxlan",'
           '"BackendData":{"VNI":1,"VtepMAC":"%s"}}' % (ip, mac))
    ops.append({"request_put": {"key": base64.b64encode(key.encode()).decode(),
                                "value": base64.b64encode(val.encode()).decode()}})
print(json.dumps({"success": ops}))
EOF
	ip netns exec "$H_RUN-etcd" curl -sf --max-time 30 -X POST \
		--data-binary @"$H_TMP/txn.json" http://127.0.0.1:2379/v3/kv/txn >/dev/null ||
		h_fail "writing $1 leases"
}

# objects NS: neighbours + FDB entries + routes on weft.1 in NS.
objects() {
	echo $(($(ip -n "$1" neigh show dev weft.1 nud permanent | wc -l) +
		$(bridge -n "$1" fdb show dev weft.1 | wc -l) +
		$(ip -n "$1" -4 route show dev weft.1 | wc -l)))
}

run_weftd() {
	local n=$1 node=$2 ns t0 t1 pid rss
	ns=$(h_node_ns "$node")
	t0=$(ms_now)
	l_start "$node" --log-level info
	pid=${L_PID[$node]}
	# weftd logs the bulk write once every ack is in; polling the kernel
	# itself would compete for the RTNL lock with the writes measured.
	while ! grep -q "wrote $((3 * n)) kernel objects" "$H_TMP/n$node.log"; do
		[ $(($(ms_now) - t0)) -gt 60000 ] && h_fail "weftd did not program $n peers in 60 s"
		l_alive "$node" || h_fail "weftd died: $(tail -5 "$H_TMP/n$node.log")"
		sleep 0.01
	done
	t1=$(ms_now)
	[ "$(objects "$ns")" -eq $((3 * n)) ] || h_fail "weftd made $(objects "$ns") objects"
	rss=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")
	echo "weftd: $n peers, $((3 * n)) objects in $((t1 - t0)) ms (process start to last ack); RssAnon ${rss} kB"
	echo "weftd log: $(grep -o 'wrote [0-9]* kernel objects in [0-9]* ms' "$H_TMP/n$node.log" | tail -1)"
	RESULT_WEFTD=$((t1 - t0))
	RESULT_RSS=$rss
	RESULT_KERNEL=$(grep -o 'wrote [0-9]* kernel objects in [0-9]* ms' "$H_TMP/n$node.log" | tail -1 |
		sed 's/.* in \([0-9]*\) ms/\1/')
	l_stop "$node"
}

run_iproute2() {
	local n=$1 node=$2 ns t0 t1 i a b ip mac
	ns=$(h_node_ns "$node")
	ip -n "$ns" link add weft.1 type vxlan id 1 dstport 8472 local "198.18.0.$node" nolearning
	ip -n "$ns" addr add 10.255.255.0/32 dev weft.1
	ip -n "$ns" link set weft.1 up
	: >"$H_TMP/ip.batch"
	: >"$H_TMP/bridge.batch"
	for ((i = 0; i < n; i++)); do
		a=$((i / 256 + 1))
		b=$((i % 256))
		ip=198.19.$((i / 250)).$((i % 250 + 1))
		mac=$(printf '02:bb:00:00:%02x:%02x' $((i >> 8)) $((i & 255)))
		echo "neigh replace 10.$a.$b.0 lladdr $mac dev weft.1 nud permanent" >>"$H_TMP/ip.batch"
		echo "route replace 10.$a.$b.0/24 via 10.$a.$b.0 dev weft.1 onlink" >>"$H_TMP/ip.batch.2"
		echo "fdb replace $mac dev weft.1 dst $ip self permanent" >>"$H_TMP/bridge.batch"
	done
	cat "$H_TMP/ip.batch.2" >>"$H_TMP/ip.batch"
	rm -f "$H_TMP/ip.batch.2"
	t0=$(ms_now)
	ip -n "$ns" -batch "$H_TMP/ip.batch" || h_fail "ip -batch"
	bridge -n "$ns" -batch "$H_TMP/bridge.batch" || h_fail "bridge -batch"
	t1=$(ms_now)
	[ "$(objects "$ns")" -eq $((3 * n)) ] || h_fail "iproute2 made $(objects "$ns") objects"
	echo "iproute2: $n peers, $((3 * n)) objects in $((t1 - t0)) ms (ip -batch + bridge -batch)"
	RESULT_IP=$((t1 - t0))
	ip -n "$ns" link del weft.1
}

sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1000 5000)
h_node_add 1
h_node_add 2
written=0
for n in "${sizes[@]}"; do
	put_peers "$n"
	# a fresh device each round: the old one goes with its objects
	ip -n "$(h_node_ns 1)" link del weft.1 2>/dev/null
	rm -f "$(h_subnet_file 1)"
	run_weftd "$n" 1
	run_iproute2 "$n" 2
	echo "RESULT n=$n weftd_ms=$RESULT_WEFTD iproute2_ms=$RESULT_IP rss_anon_kb=$RESULT_RSS weftd_kernel_ms=$RESULT_KERNEL"
done
