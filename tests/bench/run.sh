#!/usr/bin/env bash
# Every benchmark in one run: builds a release tree, runs each script in
# tests/bench/ with settings that keep the whole run under 10 minutes on
# 2 cores, collects their "RESULT key=value ..." lines and prints one table:
# measure | weft | reference | ratio | target | verdict.
#
#   tests/bench/run.sh            (root; build dir build-bench/, logs in it)
#   BENCH_BUILD=/tmp/b tests/bench/run.sh
#   ONLY="cni pods" tests/bench/run.sh   (a subset: cni pods lease program
#                                        write write6 join storm throughput)
# Not run by ctest: the figures need an otherwise idle machine.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD:-$src/build-bench}
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 77; }
ALL="cni pods lease program write write6 join storm throughput"
read -ra only <<<"${ONLY:-$ALL}"

t_start=$(date +%s)
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DWEFT_SANITIZE=OFF >/dev/null &&
	cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 ||
	{ echo "release build failed, see $build/build.log" >&2; exit 1; }
export WEFT_BIN=$build/bin WEFT_SRC=$src WEFT_BUILD=$build
logs=$build/bench-logs
rm -rf "$logs"
mkdir -p "$logs"
results=$logs/results

# bench NAME CMD...: runs one benchmark (bounded), keeps its log, tags its
# RESULT lines with NAME.
bench() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	echo "[$(date +%T)] $name: $*" >&2
	timeout -k 20 300 "$@" >"$logs/$name.log" 2>&1
	rc=$?
	sed -n "s/^RESULT /$name /p" "$logs/$name.log" >>"$results"
	echo "[$(date +%T)] $name: exit $rc after $(($(date +%s) - t0)) s" >&2
	[ "$rc" -eq 0 ] || failed+=("$name")
	[ "$rc" -eq 0 ] || { echo "$name failed, last lines of $logs/$name.log:" >&2; tail -5 "$logs/$name.log" >&2; }
}
: >"$results"
failed=()
for b in "${only[@]}"; do
	case $b in
	cni) bench cni bash "$src/tests/bench/cni_bench.sh" "${CNI_RUNS:-100}" ;;
	pods) bench pods env ROUNDS="${PODS_ROUNDS:-30}" SIZES="${PODS_SIZES:-1 50 200}" \
		bash "$src/tests/bench/scale_pods.sh" ;;
	lease) bench lease env RUNS="${LEASE_RUNS:-10}" STEADY_S="${LEASE_STEADY_S:-30}" \
		bash "$src/tests/bench/lease_start.sh" ;;
	program) # shellcheck disable=SC2086
		bench program bash "$src/tests/bench/dataplane_program.sh" ${PROGRAM_SIZES:-100 1000 5000} ;;
	write) bench write bash "$src/tests/bench/dataplane_write.sh" "${WRITE_PEERS:-5000}" "${WRITE_ROUNDS:-3}" ;;
	write6) bench write6 bash "$src/tests/bench/dataplane_write.sh" "${WRITE_PEERS:-5000}" \
		"${WRITE_ROUNDS:-3}" dual ;;
	join) bench join bash "$src/tests/bench/dataplane_join.sh" "${JOINS:-30}" ;;
	storm) bench storm bash "$src/tests/bench/scale_storm.sh" ;;
	throughput) bench throughput bash "$src/tests/bench/dataplane_throughput.sh" \
		"${TPUT_ROUNDS:-3}" "${TPUT_SECS:-3}" ;;
	*) echo "unknown benchmark $b" >&2 ;;
	esac
done

echo
echo "weft benchmarks: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)," \
	"kernel $(uname -r), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)," \
	"load $(cut -d' ' -f1-3 /proc/loadavg), total $(($(date +%s) - t_start)) s"
python3 - "$results" <<'EOF'
import sys

r = {}
for line in open(sys.argv[1]):
    name, *kv = line.split()
    d = dict(x.split("=", 1) for x in kv)
    if name == "program":
        name += "." + d["n"]
    r[name] = d

def g(name, key):
    try:
        return float(r[name][key])
    except (KeyError, ValueError):
        return None

def fmt(v, unit):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return ("%.0f" % v if v >= 100 or v == int(v) else "%.1f" % v) + unit

rows = []
# row(measure, weft, ref, target, ok, unit): ok(weft, ref) -> verdict or None (info)
def row(measure, w, ref, target, ok=None, unit=" ms", ref_unit=None):
    ratio = "%.2f" % (w / ref) if isinstance(w, float) and isinstance(ref, float) and ref else "-"
    if w is None:
        verdict = "NOT RUN"
    elif ok is None:
        verdict = "info"
    else:
        verdict = "ok" if ok(w, ref) else "MISS"
    rows.append((measure, fmt(w, unit), fmt(ref, unit if ref_unit is None else ref_unit),
                 ratio, target, verdict))

le = lambda k: (lambda w, ref: ref is not None and w <= k * ref)
below = lambda k: (lambda w, ref: w < k)

row("CNI ADD median vs bridge+host-local", g("cni", "weft_add_ms"), g("cni", "ref_add_ms"),
    "<= 1.0 x ref", le(1.0))
row("CNI DEL median vs bridge+host-local", g("cni", "weft_del_ms"), g("cni", "ref_del_ms"),
    "<= 1.0 x ref", le(1.0))
row("CNI ADD median vs libmnl floor", g("cni", "weft_add_ms"), g("cni", "floor_add_ms"),
    "<= 1.25 x floor", le(1.25))
row("CNI DEL median vs libmnl floor", g("cni", "weft_del_ms"), g("cni", "floor_del_ms"),
    "<= 1.25 x floor", le(1.25))
row("CNI ADD median, dual stack, vs libmnl floor", g("cni", "weft6_add_ms"),
    g("cni", "floor6_add_ms"), "<= 1.25 x floor", le(1.25))
row("CNI DEL median, dual stack, vs libmnl floor", g("cni", "weft6_del_ms"),
    g("cni", "floor6_del_ms"), "<= 1.25 x floor", le(1.25))
sizes = sorted(int(k[len("add_ms_"):]) for k in r.get("pods", {}) if k.startswith("add_ms_"))
for e in sizes:
    row("CNI ADD median, %d pods on node" % e, g("pods", "add_ms_%d" % e),
        g("pods", "ref_add_ms_%d" % e), "<= 1.0 x ref", le(1.0))
if sizes:
    a, b = g("pods", "add_ms_%d" % sizes[0]), g("pods", "add_ms_%d" % sizes[-1])
    row("CNI ADD growth, %d vs %d pods" % (sizes[-1], sizes[0]), b, a, "<= 1.5 x", le(1.5))
row("lease: start to subnet.env, fresh", g("lease", "fresh_ms"), g("lease", "floor_ms"),
    "< 100 ms (ref: exec floor)", below(100))
row("lease: start to subnet.env, restart", g("lease", "restart_ms"), g("lease", "floor_ms"),
    "< 100 ms (ref: exec floor)", below(100))
row("lease: etcd requests per fresh start", g("lease", "req_fresh"), "flannel: O(N) (TimeToLive per lease)",
    "O(1), <= 6", lambda w, ref: w <= 6, unit="")
row("lease: etcd requests per restart", g("lease", "req_restart"), "flannel: Grant+Put+O(N)",
    "O(1), no Put, <= 5", lambda w, ref: w <= 5, unit="")
st = g("lease", "steady_s")
row("lease: etcd requests, %s s steady, TTL 24 h" % fmt(st, ""), g("lease", "req_steady"),
    "flannel: Grant+Put daily", "0", lambda w, ref: w == 0, unit="")
row("lease: etcd requests, %s s steady, TTL 30 s" % fmt(st, ""), g("lease", "req_steady30"),
    "-", "<= 1 keepalive / 10 s",
    lambda w, ref: st is not None and w <= st / 10 + 1, unit="")
rss = g("lease", "rss_anon_kb")
row("lease: weftd RssAnon after start", rss and rss / 1024, 50.0, "< 4 MiB (ref: flannel 50Mi request)",
    below(4), unit=" MiB")
progs = sorted(int(k.split(".")[1]) for k in r if k.startswith("program."))
for n in progs:
    p = "program.%d" % n
    row("program %d peers: kernel writes" % n, g(p, "weftd_kernel_ms"), g(p, "iproute2_ms"),
        "<= 1.0 x ip/bridge -batch", le(1.0))
    row("program %d peers: process start to last ack" % n, g(p, "weftd_ms"), g(p, "iproute2_ms"),
        "info (incl. start, list, lease)")
    v = g(p, "rss_anon_kb")
    row("program %d peers: weftd RssAnon" % n, v and v / 1024, 50.0,
        "< 16 MiB (ref: flannel 50Mi)", below(16), unit=" MiB")
row("kernel writes alone, %s peers, median" % r.get("write", {}).get("n", "5000"),
    g("write", "weft_ms"), g("write", "iproute2_ms"), "<= 1.0 x ip/bridge -batch", le(1.0))
row("kernel writes alone, dual stack, %s peers per family, median"
    % r.get("write6", {}).get("n", "5000"),
    g("write6", "weft_ms"), g("write6", "iproute2_ms"), "<= 1.0 x ip/bridge -batch", le(1.0))
nodes = r.get("join", {}).get("nodes", "10")
row("join, %s nodes: p50 (from put)" % nodes, g("join", "p50_ms"), None, "info")
row("join, %s nodes: p99 (from put)" % nodes, g("join", "p99_ms"), None, "< 100 ms", below(100))
nodes = r.get("storm", {}).get("nodes", "20")
for verb in ("join", "leave"):
    row("storm, %s nodes: %s p50" % (nodes, verb), g("storm", verb + "_p50_ms"), None, "info")
    row("storm, %s nodes: %s p99" % (nodes, verb), g("storm", verb + "_p99_ms"), None, "< 100 ms",
        below(100))
v = g("storm", "rss_anon_kb")
row("storm, %s nodes: largest weftd RssAnon" % nodes, v and v / 1024, 50.0,
    "< 4 MiB (ref: flannel 50Mi)", below(4), unit=" MiB")
row("pod-to-pod TCP vs hand-built iproute2 path", g("throughput", "weft_gbps"),
    g("throughput", "manual_gbps"), ">= 0.95 x ref", lambda w, ref: ref and w >= 0.95 * ref,
    unit=" Gbit/s")

head = ("measure", "weft", "reference", "ratio", "target", "verdict")
wd = [max(len(x[i]) for x in rows + [head]) for i in range(6)]
line = lambda x: "| " + " | ".join(c.ljust(wd[i]) for i, c in enumerate(x)) + " |"
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in wd) + "|")
for x in rows:
    print(line(x))
EOF
echo "logs: $logs"
[ ${#failed[@]} -eq 0 ] || { echo "failed: ${failed[*]}" >&2; exit 1; }
