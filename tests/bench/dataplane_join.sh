#!/usr/bin/env bash
# Join convergence across 10 nodes: a lease is put into etcd and the time
# until its route is present on every node is measured (`ip -ts monitor
# route` on each node; the clock starts just before the put). Repeated
# JOINS times; prints p50 and p99 (nearest rank) in ms.
#
#   WEFT_BIN=build/bin WEFT_SRC=. bash tests/bench/dataplane_join.sh [JOINS]
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
h_init
h_underlay
h_etcd_start
h_net_config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'
NODES=${NODES:-10}
JOINS=${1:-50}

for ((n = 1; n <= NODES; n++)); do
	h_node_add "$n"
	l_start "$n" --log-level "${LOG_LEVEL:-warn}"
done
for ((n = 1; n <= NODES; n++)); do
	h_wait_for 20 "node $n subnet.env" test -s "$(h_subnet_file "$n")" || h_fail "node $n"
done
for ((n = 1; n <= NODES; n++)); do
	ip -n "$(h_node_ns "$n")" -ts monitor route >"$H_TMP/mon$n" 2>&1 &
	H_PIDS+=($!)
done
sleep 0.5

taken=$(h_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | grep -o '10\.244\.[0-9]*')
free=()
for ((b = 200; b < 256 && ${#free[@]} < JOINS; b++)); do
	grep -qx "10.244.$b" <<<"$taken" || free+=("$b")
done
for ((b = 100; b < 200 && ${#free[@]} < JOINS; b++)); do
	grep -qx "10.244.$b" <<<"$taken" || free+=("$b")
done
[ ${#free[@]} -ge "$JOINS" ] || h_fail "not enough free subnets"

# One long-lived client does every put and notes the time around each
# (process start-up would dwarf what is measured).
printf '%s\n' "${free[@]:0:$JOINS}" >"$H_TMP/free"
ip netns exec "$H_RUN-etcd" python3 - "$H_TMP/free" >"$H_TMP/puts" <<'EOF2' || h_fail "puts failed"
import base64, json, sys, time, urllib.request
for i, b in enumerate(open(sys.argv[1]).read().split()):
    key = "/coreos.com/network/subnets/10.244.%s.0-24" % b
    val = ('{"PublicIP":"198.18.1.%d","PublicIPv6":null,"BackendType":"vxlan",'
           '"BackendData":{"VNI":1,"VtepMAC":"02:cc:00:00:00:%02x"}}' % (i + 1, i + 1))
    body = json.dumps({"key": base64.b64encode(key.encode()).decode(),
                       "value": base64.b64encode(val.encode()).decode()}).encode()
    t0 = time.time()
    urllib.request.urlopen("http://127.0.0.1:2379/v3/kv/put", body, timeout=5).read()
    t1 = time.time()
    print(b, "%.6f" % t0, "%.6f" % t1, flush=True)
    time.sleep(0.2)
EOF2
sleep 1

# ip -ts prints [YYYY-MM-DDTHH:MM:SS.uuuuuu] (local time) before each message.
python3 - "$H_TMP" "$NODES" >"$H_TMP/lat" <<'EOF2' || h_fail "a route never reached a node"
import datetime, re, sys
tmp, nodes = sys.argv[1], int(sys.argv[2])
seen = []
for n in range(1, nodes + 1):
    first = {}
    for line in open("%s/mon%d" % (tmp, n)):
        m = re.match(r"\[([^]]*)\] (10\.244\.\d+)\.0/24 via", line)
        if m and m.group(2) not in first:
            first[m.group(2)] = datetime.datetime.fromisoformat(m.group(1)).timestamp()
    seen.append(first)
for line in open(tmp + "/puts"):
    b, t, acked = line.split()
    net = "10.244." + b
    if any(net not in f for f in seen):
        sys.exit(1)
    last = max(f[net] for f in seen)
    print(int((last - float(t)) * 1000), int((last - float(acked)) * 1000))
EOF2
count=$(wc -l <"$H_TMP/lat")
pct() { sort -n | sed -n "$(((count * $1 + 99) / 100))p"; }
p50=$(cut -d' ' -f1 "$H_TMP/lat" | pct 50)
p99=$(cut -d' ' -f1 "$H_TMP/lat" | pct 99)
a50=$(cut -d' ' -f2 "$H_TMP/lat" | pct 50)
a99=$(cut -d' ' -f2 "$H_TMP/lat" | pct 99)
echo "join convergence over $NODES nodes, $count joins, from the put request: p50 ${p50} ms, p99 ${p99} ms"
echo "  from the put's answer (etcd committed): p50 ${a50} ms, p99 ${a99} ms"
echo "RESULT nodes=$NODES joins=$count p50_ms=$p50 p99_ms=$p99 acked_p50_ms=$a50 acked_p99_ms=$a99"
