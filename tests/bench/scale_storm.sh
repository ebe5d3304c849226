#!/usr/bin/env bash
# Join/leave storm across a netns cluster: NODES nodes (default 20) each run
# weftd; then PEERS peer leases (default 50) are put into etcd in bursts of
# BURST back to back, GAP_MS apart, and afterwards deleted in the same bursts.
# `ip -ts monitor route` on every node stamps each route's arrival and
# removal. Per event, latency = the moment the last node has the route
# (join) or has dropped it (leave), minus the put/delete request. Prints
# p50 and p99 (nearest rank) of joins and leaves, and the weftd RssAnon.
#
#   WEFT_BIN=build/bin WEFT_SRC=. bash tests/bench/scale_storm.sh
#   NODES=20 PEERS=50 BURST=10 GAP_MS=500 ...   (defaults)
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_underlay
h_etcd_start
h_net_config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'
NODES=${NODES:-20}
PEERS=${PEERS:-50}
BURST=${BURST:-10}
GAP_MS=${GAP_MS:-500}

for ((n = 1; n <= NODES; n++)); do
	h_node_add "$n"
	l_start "$n" --log-level warn
done
for ((n = 1; n <= NODES; n++)); do
	h_wait_for 30 "node $n subnet.env" test -s "$(h_subnet_file "$n")" || h_fail "node $n"
done
# every node must have programmed every other node before the storm
for ((n = 1; n <= NODES; n++)); do
	h_wait_for 30 "node $n mesh" sh -c "[ \$(ip -n $(h_node_ns "$n") -4 route show dev weft.1 | wc -l) -ge $((NODES - 1)) ]" ||
		h_fail "node $n has not programmed its $((NODES - 1)) peers"
done
for ((n = 1; n <= NODES; n++)); do
	ip -n "$(h_node_ns "$n")" -ts monitor route >"$H_TMP/mon$n" 2>&1 &
	H_PIDS+=($!)
done
sleep 0.5

taken=$(h_etcdctl get --prefix --keys-only /coreos.com/network/subnets/ | grep -o '10\.244\.[0-9]*')
free=()
for ((b = 255; b > 0 && ${#free[@]} < PEERS; b--)); do
	grep -qx "10.244.$b" <<<"$taken" || free+=("$b")
done
[ ${#free[@]} -ge "$PEERS" ] || h_fail "not enough free subnets"
printf '%s\n' "${free[@]:0:$PEERS}" >"$H_TMP/free"

# One long-lived client does every put and delete and notes the time around
# each (process start-up would dwarf what is measured).
ip netns exec "$H_RUN-etcd" python3 - "$H_TMP/free" "$BURST" "$GAP_MS" >"$H_TMP/events" <<'EOF2' ||
import base64, json, sys, time, urllib.request
nets = open(sys.argv[1]).read().split()
burst, gap = int(sys.argv[2]), int(sys.argv[3]) / 1000.0
b64 = lambda s: base64.b64encode(s.encode()).decode()
def call(path, body):
    urllib.request.urlopen("http://127.0.0.1:2379/v3/kv/" + path,
                           json.dumps(body).encode(), timeout=5).read()
for verb in ("join", "leave"):
    for s in range(0, len(nets), burst):
        for i, b in enumerate(nets[s:s + burst], s):
            key = "/coreos.com/network/subnets/10.244.%s.0-24" % b
            t0 = time.time()
            if verb == "join":
                val = ('{"PublicIP":"198.18.2.%d","PublicIPv6":null,"BackendType":"vxlan",'
                       '"BackendData":{"VNI":1,"VtepMAC":"02:cc:00:00:00:%02x"}}' % (i + 1, i + 1))
                call("put", {"key": b64(key), "value": b64(val)})
            else:
                call("deleterange", {"key": b64(key)})
            print(verb, b, "%.6f" % t0, "%.6f" % time.time(), flush=True)
        time.sleep(gap)
    time.sleep(1)
EOF2
	h_fail "puts or deletes failed"
sleep 1

# ip -ts prints [YYYY-MM-DDTHH:MM:SS.uuuuuu] (local time) before each message;
# a removal reads "Deleted 10.244.b.0/24 via ...".
python3 - "$H_TMP" "$NODES" >"$H_TMP/lat" <<'EOF2' || h_fail "a route never reached or never left a node"
import datetime, re, sys
tmp, nodes = sys.argv[1], int(sys.argv[2])
seen = []
for n in range(1, nodes + 1):
    first = {}
    for line in open("%s/mon%d" % (tmp, n)):
        m = re.match(r"\[([^]]*)\] (Deleted )?(10\.244\.\d+)\.0/24 via", line)
        if m:
            k = ("leave" if m.group(2) else "join", m.group(3))
            first.setdefault(k, datetime.datetime.fromisoformat(m.group(1)).timestamp())
    seen.append(first)
bad = 0
for line in open(tmp + "/events"):
    verb, b, t, acked = line.split()
    k = (verb, "10.244." + b)
    missing = [n + 1 for n, f in enumerate(seen) if k not in f]
    if missing:
        print("%s of 10.244.%s.0/24 never seen on nodes %s" % (verb, b, missing), file=sys.stderr)
        bad += 1
        continue
    last = max(f[k] for f in seen)
    print(verb, int((last - float(t)) * 1000))
sys.exit(1 if bad else 0)
EOF2
pct() { awk -v v="$1" '$1 == v {print $2}' "$H_TMP/lat" | sort -n |
	awk -v q="$2" '{a[NR] = $1} END {i = int((NR * q + 99) / 100); if (i < 1) i = 1; print a[i]}'; }
joins=$(grep -c '^join' "$H_TMP/lat")
leaves=$(grep -c '^leave' "$H_TMP/lat")
[ "$joins" -eq "$PEERS" ] && [ "$leaves" -eq "$PEERS" ] || h_fail "counted $joins joins, $leaves leaves"
rss=0
for ((n = 1; n <= NODES; n++)); do
	l_alive "$n" || h_fail "weftd of node $n died: $(tail -5 "$H_TMP/n$n.log")"
	r=$(awk '/RssAnon/ {print $2}' "/proc/${L_PID[$n]}/status")
	((r > rss)) && rss=$r
done
echo "storm over $NODES nodes, $PEERS peers in bursts of $BURST every $GAP_MS ms, from the request until the last node:"
echo "  join:  p50 $(pct join 50) ms, p99 $(pct join 99) ms"
echo "  leave: p50 $(pct leave 50) ms, p99 $(pct leave 99) ms"
echo "  largest weftd RssAnon: $rss kB"
echo "RESULT nodes=$NODES peers=$PEERS burst=$BURST join_p50_ms=$(pct join 50) join_p99_ms=$(pct join 99) leave_p50_ms=$(pct leave 50) leave_p99_ms=$(pct leave 99) rss_anon_kb=$rss"
for ((n = 1; n <= NODES; n++)); do
	l_stop "$n"
done
