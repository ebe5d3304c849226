#!/usr/bin/env bash
# CNI ADD/DEL latency as pods accumulate on a node: with E pods already
# attached (E from SIZES, default "1 50 200"), one more pod is added and
# deleted ROUNDS times, by weft and by Debian's bridge + host-local
# (interleaved, same node, each with its own bridge and E pods of its own).
# Prints the medians per size and weft's ratio to the reference.
#
#   WEFT_BIN=build/bin WEFT_SRC=. bash tests/bench/scale_pods.sh
#   SIZES="1 50 200" ROUNDS=30 ...   (defaults)
source "$WEFT_SRC/tests/lib/harness.sh"
h_init
[ -x "$WEFT_BIN/weft" ] || h_fail "no $WEFT_BIN/weft: build first"
read -ra SIZES <<<"${SIZES:-1 50 200}"
ROUNDS=${ROUNDS:-30}
NODE="$H_RUN-n1"
h_netns_add "$NODE"
printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' \
	>"$H_TMP/subnet.env"
jq -c --arg t "$H_TMP" '{cniVersion: "1.0.0", name: "weftbench", type: "weft",
	subnetFile: ($t + "/subnet.env"), dataDir: ($t + "/cni")}' <<<'{}' >"$H_TMP/weft.json"
jq -c --arg t "$H_TMP" '{cniVersion: "1.0.0", name: "refbench", type: "bridge", bridge: "refbr0",
	isGateway: true, isDefaultGateway: true, hairpinMode: true, ipMasq: false, mtu: 1450,
	ipam: {type: "host-local", dataDir: ($t + "/ref"), ranges: [[{subnet: "10.99.0.0/24"}]]}}' \
	<<<'{}' >"$H_TMP/ref.json"

# Runs inside the node netns. fill P FROM TO: ADD pods FROM..TO for P.
# probe ROUNDS: ADD+DEL of one more pod per program, printing "p verb us".
cat >"$H_TMP/loop.sh" <<'EOL'
set -u
T=$1 WEFT=$2 RUN=$3 CMD=$4 A=$5 B=${6:-0}
export CNI_PATH=/usr/lib/cni CNI_IFNAME=eth0
us() { local s=${1/./}; echo $((10#$s)); }
cni() { # cni PROG VERB ID
	export CNI_CONTAINERID=$3 CNI_NETNS=/run/netns/$RUN-$3 CNI_COMMAND=$2
	case $1 in
	weft) "$WEFT" <"$T/weft.json" >/dev/null ;;
	ref) /usr/lib/cni/bridge <"$T/ref.json" >/dev/null ;;
	esac
}
case $CMD in
fill)
	for ((i = A; i <= B; i++)); do
		for p in weft ref; do
			cni $p ADD $p-$i || { echo "fill ADD $p $i failed" >&2; exit 1; }
		done
	done ;;
probe)
	for ((i = 1; i <= A; i++)); do
		for p in weft ref; do
			t0=$EPOCHREALTIME; cni $p ADD $p-probe || { echo "ADD $p failed" >&2; exit 1; }
			t1=$EPOCHREALTIME; cni $p DEL $p-probe || { echo "DEL $p failed" >&2; exit 1; }
			t2=$EPOCHREALTIME
			echo "$p add $(($(us "$t1") - $(us "$t0")))"
			echo "$p del $(($(us "$t2") - $(us "$t1")))"
		done
	done ;;
esac
EOL
inode() { ip netns exec "$NODE" bash "$H_TMP/loop.sh" "$H_TMP" "$WEFT_BIN/weft" "$H_RUN" "$@"; }
med() {
	awk -v p="$1" -v v="$2" '$1 == p && $2 == v {print $3}' "$H_TMP/samples" | sort -n |
		awk '{a[NR] = $1} END {printf "%.2f", a[int((NR + 1) / 2)] / 1000}'
}
for p in weft ref; do h_netns_add "$H_RUN-$p-probe"; done
have=0
out=""
for e in "${SIZES[@]}"; do
	for ((i = have + 1; i <= e; i++)); do
		h_netns_add "$H_RUN-weft-$i"
		h_netns_add "$H_RUN-ref-$i"
	done
	h_log "filling to $e pods per program"
	inode fill $((have + 1)) "$e" || h_fail "filling to $e pods"
	have=$e
	[ "$(ip -n "$NODE" link show master cni0 | grep -c '^[0-9]')" -eq "$e" ] ||
		h_fail "weft bridge does not hold $e pods"
	inode probe "$ROUNDS" >"$H_TMP/samples" || h_fail "probe at $e pods"
	wa=$(med weft add) wd=$(med weft del) ra=$(med ref add) rd=$(med ref del)
	echo "existing pods $e: weft ADD $wa ms, DEL $wd ms; bridge+host-local ADD $ra ms, DEL $rd ms ($ROUNDS rounds)"
	out+=" add_ms_$e=$wa del_ms_$e=$wd ref_add_ms_$e=$ra ref_del_ms_$e=$rd"
done
echo "RESULT rounds=$ROUNDS$out"
