#!/usr/bin/env bash
# Kernel write speed alone, without etcd: weft's backend (dataplane_write.c)
# against `ip -batch` + `bridge -batch` writing the same 3N objects, each in
# a private network namespace (unshare), ROUNDS times alternating; prints
# every run and the medians.
#
#   WEFT_BUILD=build-release WEFT_SRC=. bash tests/bench/dataplane_write.sh [N] [ROUNDS]
set -euo pipefail
: "${WEFT_BUILD:?WEFT_BUILD must name a (release) build directory}"
: "${WEFT_SRC:?WEFT_SRC must name the source tree}"
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 77; }
N=${1:-5000}
ROUNDS=${2:-5}
TMP=$(mktemp -d /tmp/weft-write.XXXX)
trap 'rm -rf "$TMP"' EXIT

cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$WEFT_SRC" -I"$WEFT_BUILD/generated" \
	-o "$TMP/write" "$WEFT_SRC/tests/bench/dataplane_write.c" \
	"$WEFT_BUILD/backend/libweft_backend.a" "$WEFT_BUILD/backend/libweft_netlink.a" \
	"$WEFT_BUILD/subnet/libweft_netmath.a" "$WEFT_BUILD/common/libweft_common.a" \
	$(pkg-config --libs libnftnl libmnl jansson)

# the same objects as dataplane_write.c
for ((i = 0; i < N; i++)); do
	s=$(((i + 1) << 8))
	net="10.$((s >> 16 & 255)).$((s >> 8 & 255)).0"
	mac=$(printf '02:bb:00:%02x:%02x:%02x' $((i >> 16 & 255)) $((i >> 8 & 255)) $((i & 255)))
	ip=$((0xc6130000 + i + 1))
	ip="$((ip >> 24)).$((ip >> 16 & 255)).$((ip >> 8 & 255)).$((ip & 255))"
	echo "neigh replace $net lladdr $mac dev weft.1 nud permanent" >>"$TMP/neigh"
	echo "route replace $net/24 via $net dev weft.1 onlink proto 87" >>"$TMP/route"
	echo "fdb replace $mac dev weft.1 dst $ip self permanent" >>"$TMP/fdb"
done
cat "$TMP/neigh" "$TMP/route" >"$TMP/ip.batch"

iproute2_run() {
	unshare --net bash -c '
		ip link add weft.1 type vxlan id 1 dstport 8472 local 198.18.0.1 nolearning
		ip addr add 10.0.0.0/32 dev weft.1
		ip link set weft.1 up
		t0=$(date +%s%N)
		ip -batch "$1" && bridge -batch "$2"
		t1=$(date +%s%N)
		n=$(( $(ip neigh show dev weft.1 | wc -l) + $(bridge fdb show dev weft.1 | wc -l) +
			$(ip route show proto 87 | wc -l) ))
		echo "iproute2: $n objects written in $(((t1 - t0) / 1000000)) ms"' _ "$TMP/ip.batch" "$TMP/fdb"
}

w=() r=()
for ((k = 1; k <= ROUNDS; k++)); do
	out=$("$TMP/write" "$N")
	echo "$out"
	w+=("$(sed -n 's/.* written in \([0-9]*\) ms.*/\1/p' <<<"$out")")
	out=$(iproute2_run)
	echo "$out"
	r+=("$(sed -n 's/.* written in \([0-9]*\) ms.*/\1/p' <<<"$out")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
echo "RESULT n=$N weft_ms=$(median "${w[@]}") iproute2_ms=$(median "${r[@]}") rounds=$ROUNDS"
