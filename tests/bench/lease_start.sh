#!/usr/bin/env bash
# Lease-plane benchmark against an etcd on the same machine (its own netns,
# one veth hop away):
#   - start-to-subnet.env latency: exec of weftd until subnet.env exists,
#     for a fresh lease (grant + create txn) and for a restart (lease reused);
#   - etcd requests per start and per steady-state interval, counted by etcd
#     itself (grpc_server_started_total on its /metrics, by method);
#   - weftd's RssAnon once the lease is held.
#
#   WEFT_BIN=build/bin WEFT_SRC=. bash tests/bench/lease_start.sh
#   RUNS=20 STEADY_S=60 ...   (defaults)
#
# Use a release build: sanitizers make weftd several times slower.
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_underlay
h_etcd_start
h_node_add 1
h_net_config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'
RUNS=${RUNS:-20}
STEADY_S=${STEADY_S:-60}
NS=$(h_node_ns 1)
ENV=$(h_subnet_file 1)

# etcd_requests: "Method count" lines from etcd's server-side counters.
etcd_requests() {
	ip netns exec "$H_RUN-etcd" curl -s http://127.0.0.1:2379/metrics |
		sed -n 's/^grpc_server_started_total{grpc_method="\([A-Za-z]*\)".*} \([0-9]*\)$/\1 \2/p' |
		awk '$2 > 0'
}
# diff_requests BEFORE AFTER: per-method increase, then the total.
diff_requests() {
	awk 'NR == FNR {b[$1] = $2; next} {d = $2 - b[$1]; if (d > 0) {printf "%s=%d ", $1, d; t += d}}
		END {printf "total=%d\n", t}' <(echo "$1") <(echo "$2")
}

# One timed start: prints milliseconds until subnet.env exists, leaves
# weftd running with its pid in $H_TMP/pid.
timed_start() {
	python3 - "$NS" "$WEFT_BIN/weftd" "$H_ETCD_ENDPOINT" "$ENV" "$H_TMP" "$@" <<'PY'
import os, subprocess, sys, time
ns, weftd, ep, env, tmp = sys.argv[1:6]
extra = sys.argv[6:]
log = open(os.path.join(tmp, "n1.log"), "a")
t0 = time.perf_counter()
p = subprocess.Popen(["nsenter", "--net=/run/netns/" + ns, weftd, "--etcd-endpoints", ep,
                      "--subnet-file", env] + extra, stdout=log, stderr=log)
while not os.path.exists(env):
    if p.poll() is not None or time.perf_counter() - t0 > 10:
        print("-1"); sys.exit(0)
    time.sleep(0.0005)
print("%.1f" % ((time.perf_counter() - t0) * 1000))
open(os.path.join(tmp, "pid"), "w").write(str(p.pid))
PY
}
stop_weftd() {
	local pid
	pid=$(cat "$H_TMP/pid")
	kill -TERM "$pid"
	h_wait_pid "$pid" 10 || h_fail "weftd did not stop"
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
p90() { sort -n | awk '{a[NR] = $1} END {i = int(NR * 0.9 + 0.5); if (i < 1) i = 1; print a[i]}'; }

# The floor: exec and dynamic linking alone (weftd --version).
floor=()
for i in $(seq 1 "$RUNS"); do
	floor+=("$(python3 -c '
import subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(["nsenter", "--net=/run/netns/" + sys.argv[1], sys.argv[2], "--version"],
               stdout=subprocess.DEVNULL, check=True)
print("%.1f" % ((time.perf_counter() - t0) * 1000))' "$NS" "$WEFT_BIN/weftd")")
done

fresh=() restart=()
for i in $(seq 1 "$RUNS"); do
	key=$(l_key_of 198.18.0.1)
	[ -n "$key" ] && h_etcdctl del "$key" >/dev/null
	rm -f "$ENV"
	t=$(timed_start)
	[ "$t" != -1 ] || h_fail "fresh start $i got no subnet"
	fresh+=("$t")
	stop_weftd
	rm -f "$ENV"
	t=$(timed_start)
	[ "$t" != -1 ] || h_fail "restart $i got no subnet"
	restart+=("$t")
	stop_weftd
done
h_log "start to subnet.env, fresh lease (ms): ${fresh[*]}"
h_log "start to subnet.env, reused lease (ms): ${restart[*]}"
FRESH_MED=$(printf '%s\n' "${fresh[@]}" | median)
REST_MED=$(printf '%s\n' "${restart[@]}" | median)

# Requests of one fresh start and one restart, counted by etcd.
key=$(l_key_of 198.18.0.1)
h_etcdctl del "$key" >/dev/null
rm -f "$ENV"
b=$(etcd_requests)
timed_start >/dev/null
sleep 1
REQ_FRESH=$(diff_requests "$b" "$(etcd_requests)")
RSS=$(awk '/RssAnon/ {print $2 " " $3}' "/proc/$(cat "$H_TMP/pid")/status")
RSS_TOTAL=$(awk '/VmRSS/ {print $2 " " $3}' "/proc/$(cat "$H_TMP/pid")/status")
stop_weftd
b=$(etcd_requests)
timed_start >/dev/null
sleep 1
REQ_RESTART=$(diff_requests "$b" "$(etcd_requests)")

# Steady state with the default TTL, then with a 30 s TTL.
b=$(etcd_requests)
sleep "$STEADY_S"
REQ_STEADY=$(diff_requests "$b" "$(etcd_requests)")
stop_weftd
timed_start --lease-ttl 30 >/dev/null
sleep 1
b=$(etcd_requests)
sleep "$STEADY_S"
REQ_STEADY30=$(diff_requests "$b" "$(etcd_requests)")
stop_weftd

cat <<REPORT
== lease plane benchmark ($RUNS runs, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), etcd $(etcd --version | sed -n 's/etcd Version: //p'))
exec floor (weftd --version):       median $(printf '%s\n' "${floor[@]}" | median) ms, p90 $(printf '%s\n' "${floor[@]}" | p90) ms
start -> subnet.env, fresh lease:   median $FRESH_MED ms, p90 $(printf '%s\n' "${fresh[@]}" | p90) ms
start -> subnet.env, reused lease:  median $REST_MED ms, p90 $(printf '%s\n' "${restart[@]}" | p90) ms
etcd requests, fresh start:         $REQ_FRESH
etcd requests, restart:             $REQ_RESTART
etcd requests, ${STEADY_S} s steady, TTL 86400: $REQ_STEADY
etcd requests, ${STEADY_S} s steady, TTL 30:    $REQ_STEADY30
weftd memory after start:           RssAnon $RSS (VmRSS $RSS_TOTAL)
REPORT
echo "RESULT runs=$RUNS floor_ms=$(printf '%s\n' "${floor[@]}" | median) fresh_ms=$FRESH_MED restart_ms=$REST_MED" \
	"req_fresh=${REQ_FRESH##*total=} req_restart=${REQ_RESTART##*total=} req_steady=${REQ_STEADY##*total=}" \
	"req_steady30=${REQ_STEADY30##*total=} steady_s=$STEADY_S rss_anon_kb=${RSS% *}"
