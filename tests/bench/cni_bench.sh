#!/usr/bin/env bash
# CNI ADD/DEL latency, process start to exit, for three programs doing the
# same pod attach in the same run, interleaved:
#   weft      this plugin
#   ref       Debian's bridge + host-local (two Go binaries)
#   floor     tests/bench/cni_floor.c: only the kernel work, straight libmnl
#   weft6     this plugin on a dual-stack node (an address of each family)
#   floor6    the floor doing the same kernel work for both families
# Usage: tests/bench/cni_bench.sh [RUNS]   (root; WEFT_BIN defaults to build/bin)
# Prints median and p99 per program and verb, and weft's ratio to the floor
# (single stack and dual stack).
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export WEFT_SRC=$src WEFT_BIN=${WEFT_BIN:-$src/build/bin}
RUNS=${1:-200}
WARMUP=5
source "$src/tests/lib/harness.sh"
h_init
[ -x "$WEFT_BIN/weft" ] || h_fail "no $WEFT_BIN/weft: build first"

# shellcheck disable=SC2046
cc -O2 -Wall -o "$H_TMP/cni_floor" "$src/tests/bench/cni_floor.c" \
	$(pkg-config --cflags --libs libmnl) || h_fail "building the floor program"
NODE="$H_RUN-n1"
h_netns_add "$NODE"
PROGS="weft ref floor weft6 floor6"
for p in $PROGS; do h_netns_add "$H_RUN-$p"; done
printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' \
	>"$H_TMP/subnet.env"
jq -c --arg t "$H_TMP" '{cniVersion: "1.0.0", name: "weftbench", type: "weft",
	subnetFile: ($t + "/subnet.env"), dataDir: ($t + "/cni")}' <<<'{}' >"$H_TMP/weft.json"
jq -c --arg t "$H_TMP" '{cniVersion: "1.0.0", name: "refbench", type: "bridge", bridge: "refbr0",
	isGateway: true, isDefaultGateway: true, hairpinMode: true, ipMasq: false, mtu: 1450,
	ipam: {type: "host-local", dataDir: ($t + "/ref"), ranges: [[{subnet: "10.99.0.0/24"}]]}}' \
	<<<'{}' >"$H_TMP/ref.json"
ip -n "$NODE" link add floorbr0 type bridge
ip -n "$NODE" addr add 10.98.0.1/24 dev floorbr0
ip -n "$NODE" link set floorbr0 up
printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.4.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:4::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' \
	>"$H_TMP/subnet6.env"
jq -c --arg t "$H_TMP" '{cniVersion: "1.0.0", name: "weftbench6", type: "weft", bridge: "cni6",
	subnetFile: ($t + "/subnet6.env"), dataDir: ($t + "/cni")}' <<<'{}' >"$H_TMP/weft6.json"
ip -n "$NODE" link add floorbr6 type bridge
ip -n "$NODE" addr add 10.97.0.1/24 dev floorbr6
ip -n "$NODE" addr add fd00:97::1/64 dev floorbr6 nodad
ip -n "$NODE" link set floorbr6 up

# The loop runs inside the node so every sample is one fork+exec of the
# program under test, nothing else; EPOCHREALTIME needs no extra process.
cat >"$H_TMP/loop.sh" <<'EOL'
set -u
T=$1 RUNS=$2 WARMUP=$3 WEFT=$4 RUN=$5 PROGS=$6
export CNI_PATH=/usr/lib/cni CNI_IFNAME=eth0
us() { local s=${1/./}; echo $((10#$s)); }
for ((i = 1; i <= RUNS + WARMUP; i++)); do
	for p in $PROGS; do
		export CNI_CONTAINERID=bench-$p-$i CNI_NETNS=/run/netns/$RUN-$p
		case $p in
		weft) add() { CNI_COMMAND=ADD "$WEFT" <"$T/weft.json" >/dev/null; }
		      del() { CNI_COMMAND=DEL "$WEFT" <"$T/weft.json"; } ;;
		ref) add() { CNI_COMMAND=ADD /usr/lib/cni/bridge <"$T/ref.json" >/dev/null; }
		     del() { CNI_COMMAND=DEL /usr/lib/cni/bridge <"$T/ref.json"; } ;;
		floor) add() { "$T/cni_floor" add floorbr0 vfloor0 "$CNI_NETNS" \
				10.98.0.$((i % 250 + 2))/24 10.98.0.1; }
		       del() { "$T/cni_floor" del vfloor0; } ;;
		weft6) add() { CNI_COMMAND=ADD "$WEFT" <"$T/weft6.json" >/dev/null; }
		       del() { CNI_COMMAND=DEL "$WEFT" <"$T/weft6.json"; } ;;
		floor6) add() { "$T/cni_floor" add floorbr6 vfloor6 "$CNI_NETNS" \
				10.97.0.$((i % 250 + 2))/24 10.97.0.1 fd00:97::$((i % 250 + 2))/64 fd00:97::1; }
		        del() { "$T/cni_floor" del vfloor6; } ;;
		esac
		t0=$EPOCHREALTIME; add || { echo "ADD $p $i failed" >&2; exit 1; }; t1=$EPOCHREALTIME
		del || { echo "DEL $p $i failed" >&2; exit 1; }; t2=$EPOCHREALTIME
		if ((i > WARMUP)); then
			echo "$p add $(($(us "$t1") - $(us "$t0")))"
			echo "$p del $(($(us "$t2") - $(us "$t1")))"
		fi
	done
done
EOL
h_log "running $RUNS rounds (+$WARMUP warm-up) of $PROGS"
ip netns exec "$NODE" bash "$H_TMP/loop.sh" "$H_TMP" "$RUNS" "$WARMUP" "$WEFT_BIN/weft" "$H_RUN" "$PROGS" \
	>"$H_TMP/samples" || h_fail "benchmark loop"

# stat PROG VERB -> "median p99" in ms
stat() {
	awk -v p="$1" -v v="$2" '$1 == p && $2 == v {print $3}' "$H_TMP/samples" | sort -n |
		awk '{a[NR] = $1} END {m = int((NR + 1) / 2); q = int(NR * 0.99 + 0.999);
			printf "%.2f %.2f", a[m] / 1000, a[q] / 1000}'
}
printf '%-22s %10s %10s %10s %10s\n' program "ADD med" "ADD p99" "DEL med" "DEL p99"
for p in $PROGS; do
	read -r am ap <<<"$(stat "$p" add)"
	read -r dm dp <<<"$(stat "$p" del)"
	printf '%-22s %10s %10s %10s %10s\n' "$p" "$am" "$ap" "$dm" "$dp"
	eval "${p}_add=$am ${p}_del=$dm"
done
# shellcheck disable=SC2154
awk -v wa="$weft_add" -v fa="$floor_add" -v wd="$weft_del" -v fd="$floor_del" \
	-v ra="$ref_add" -v rd="$ref_del" 'BEGIN {
	printf "weft/floor: ADD %.2fx, DEL %.2fx; weft/ref: ADD %.2fx, DEL %.2fx\n",
		wa / fa, wd / fd, wa / ra, wd / rd }'
# shellcheck disable=SC2154
awk -v wa="$weft6_add" -v fa="$floor6_add" -v wd="$weft6_del" -v fd="$floor6_del" 'BEGIN {
	printf "dual stack weft6/floor6: ADD %.2fx, DEL %.2fx\n", wa / fa, wd / fd }'
echo "(ms, $RUNS runs each, $(nproc) cores, kernel $(uname -r))"
# shellcheck disable=SC2154
echo "RESULT runs=$RUNS weft_add_ms=$weft_add weft_del_ms=$weft_del ref_add_ms=$ref_add ref_del_ms=$ref_del floor_add_ms=$floor_add floor_del_ms=$floor_del weft6_add_ms=$weft6_add weft6_del_ms=$weft6_del floor6_add_ms=$floor6_add floor6_del_ms=$floor6_del"
