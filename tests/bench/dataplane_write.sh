#!/usr/bin/env bash
# Kernel write speed alone, without etcd: weft's backend (dataplane_write.c)
# against `ip -batch` + `bridge -batch` writing the same 3N objects, each in
# a private network namespace (unshare), ROUNDS times alternating; prints
# every run and the medians. MODE "dual" writes N IPv4 and N IPv6 peers
# (weft.1 and weft-v6.1, 6N objects) in each run, as on a dual-stack node.
#
#   WEFT_BUILD=build-release WEFT_SRC=. bash tests/bench/dataplane_write.sh [N] [ROUNDS] [v4|dual]
set -euo pipefail
: "${WEFT_BUILD:?WEFT_BUILD must name a (release) build directory}"
: "${WEFT_SRC:?WEFT_SRC must name the source tree}"
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 77; }
N=${1:-5000}
ROUNDS=${2:-5}
MODE=${3:-v4}
case $MODE in v4 | dual) ;; *) echo "MODE is v4 or dual" >&2; exit 2 ;; esac
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
	printf -v mac '02:bb:00:%02x:%02x:%02x' $((i >> 16 & 255)) $((i >> 8 & 255)) $((i & 255))
	ip=$((0xc6130000 + i + 1))
	ip="$((ip >> 24)).$((ip >> 16 & 255)).$((ip >> 8 & 255)).$((ip & 255))"
	echo "neigh replace $net lladdr $mac dev weft.1 nud permanent" >>"$TMP/neigh"
	echo "route replace $net/24 via $net dev weft.1 onlink proto 87" >>"$TMP/route"
	echo "fdb replace $mac dev weft.1 dst $ip self permanent" >>"$TMP/fdb"
done
# the IPv6 peers of dataplane_write.c: fd00:10:244:(i+1)::/64 behind
# 2001:db8:18::(i+2), on weft-v6.1
if [ "$MODE" = dual ]; then
	for ((i = 0; i < N; i++)); do
		printf -v net 'fd00:10:244:%x::' $((i + 1))
		x=$((i + 2))
		printf -v mac '02:cc:00:%02x:%02x:%02x' $((i >> 16 & 255)) $((i >> 8 & 255)) $((i & 255))
		printf -v ip '2001:db8:18::%x:%x' $((x >> 16)) $((x & 0xffff))
		echo "neigh replace $net lladdr $mac dev weft-v6.1 nud permanent" >>"$TMP/neigh"
		echo "route replace $net/64 via $net dev weft-v6.1 onlink proto 87" >>"$TMP/route"
		echo "fdb replace $mac dev weft-v6.1 dst $ip self permanent" >>"$TMP/fdb"
	done
fi
cat "$TMP/neigh" "$TMP/route" >"$TMP/ip.batch"

iproute2_run() {
	unshare --net bash -c '
		ip link add weft.1 type vxlan id 1 dstport 8472 local 198.18.0.1 nolearning
		ip addr add 10.0.0.0/32 dev weft.1
		ip link set weft.1 up
		devs=weft.1
		if [ "$3" = dual ]; then
			ip link add weft-v6.1 type vxlan id 1 dstport 8472 local 2001:db8:18::1 nolearning
			ip addr add fd00:10:244::/128 dev weft-v6.1 nodad
			ip link set weft-v6.1 up
			devs="weft.1 weft-v6.1"
		fi
		t0=$(date +%s%N)
		ip -batch "$1" && bridge -batch "$2"
		t1=$(date +%s%N)
		n=0
		for d in $devs; do
			n=$((n + $(ip neigh show dev $d nud permanent | wc -l) +
				$(bridge fdb show dev $d | grep -c " dst ") +
				$(ip -4 route show dev $d proto 87 | wc -l) + $(ip -6 route show dev $d proto 87 | wc -l)))
		done
		echo "iproute2: $n objects written in $(((t1 - t0) / 1000000)) ms"' _ "$TMP/ip.batch" "$TMP/fdb" "$MODE"
}

objs=$((3 * N))
[ "$MODE" = v4 ] || objs=$((6 * N))
w=() r=()
for ((k = 1; k <= ROUNDS; k++)); do
	if [ "$MODE" = dual ]; then out=$("$TMP/write" "$N" dual); else out=$("$TMP/write" "$N"); fi
	echo "$out"
	w+=("$(sed -n 's/.* written in \([0-9]*\) ms.*/\1/p' <<<"$out")")
	out=$(iproute2_run)
	echo "$out"
	grep -q "^iproute2: $objs objects" <<<"$out" || { echo "iproute2 wrote a wrong count" >&2; exit 1; }
	r+=("$(sed -n 's/.* written in \([0-9]*\) ms.*/\1/p' <<<"$out")")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
echo "RESULT n=$N weft_ms=$(median "${w[@]}") iproute2_ms=$(median "${r[@]}") rounds=$ROUNDS mode=$MODE"
