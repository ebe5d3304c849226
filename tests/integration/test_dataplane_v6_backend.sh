#!/usr/bin/env bash
# The IPv6 VXLAN backend alone, without etcd or weftd: two node namespaces
# on an IPv6 underlay (2001:db8:18::N/64) each drive the backend
# (vxlan6_drive.c) to make weft-v6.1 with their pod subnet
# fd00:10:244:N::/64 and the other node as peer. A pod-like address in each
# subnet (on the node's lo) pings the other over the overlay, full-size
# packets included; the kernel state is asserted with ip/bridge. Deleting a
# peer (flush) and dropping it from a complete list (reconcile) prune its
# neighbour, FDB entry and route; a route of another protocol at a peer's
# prefix keeps weft's route out until it goes.
# labels: dataplane
# timeout: 120
set -euo pipefail
: "${WEFT_SRC:?}" "${WEFT_BUILD:?}"
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 77; }

RUN="w6b$$"
UL=$RUN-ul N1=$RUN-n1 N2=$RUN-n2
T=$(mktemp -d "/tmp/$RUN.XXXX")
cleanup() {
	for ns in "$N1" "$N2" "$UL"; do ip netns del "$ns" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# The driver, linked against the build under test (sanitized if it is).
san=()
grep -q '^WEFT_SANITIZE:BOOL=ON' "$WEFT_BUILD/CMakeCache.txt" 2>/dev/null &&
	san=(-fsanitize=address,undefined)
B=$WEFT_BUILD
cc -std=gnu11 -D_GNU_SOURCE -Wall -Werror "${san[@]}" -I"$WEFT_SRC" -I"$B/generated" \
	-o "$T/drive" "$WEFT_SRC/tests/integration/vxlan6_drive.c" \
	"$B/backend/libweft_backend.a" "$B/backend/libweft_netlink.a" \
	"$B/subnet/libweft_netmath.a" "$B/common/libweft_common.a" \
	$(pkg-config --libs libnftnl libmnl libcrypto)

ip netns add "$UL"
ip -n "$UL" link add br0 type bridge mcast_snooping 0
ip -n "$UL" link set br0 up
for n in 1 2; do
	ns=$RUN-n$n
	ip netns add "$ns"
	ip -n "$UL" link add "ul$n" type veth peer name eth0 netns "$ns"
	ip -n "$UL" link set "ul$n" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "2001:db8:18::$n/64" dev eth0 nodad
	ip -n "$ns" addr add "fd00:10:244:$n::2/128" dev lo
done

drive() { # NODE [-d] [PEER...]: weft-v6.1 on node NODE with the given peers
	local n=$1 d=()
	shift
	[ "${1:-}" = -d ] && { d=(-d); shift; }
	local args=()
	for p in "$@"; do args+=("2001:db8:18::$p" "fd00:10:244:$p::/64"); done
	ip netns exec "$RUN-n$n" "$T/drive" "${d[@]}" "2001:db8:18::$n" \
		"fd00:10:244:$n::/64" 1430 "${args[@]}"
}
ping6() { # NODE DST [SIZE]
	ip netns exec "$RUN-n$1" ping -6 -c 1 -W 2 -s "${3:-56}" -I "fd00:10:244:$1::2" "$2" \
		>/dev/null 2>&1
}
# The probe works: the underlay answers.
ok=0
for _ in 1 2 3 4 5; do
	ip netns exec "$N1" ping -6 -c 1 -W 1 2001:db8:18::2 >/dev/null 2>&1 && { ok=1; break; }
done
[ $ok = 1 ] || fail "underlay ping"
ok "underlay answers ping -6"

# Devices without peers: the overlay does not carry yet (negative).
drive 1 >/dev/null
drive 2 >/dev/null
ping6 1 fd00:10:244:2::2 && fail "overlay ping works without peers"
ok "no peers, no overlay ping"

out1=$(drive 1 2)
out2=$(drive 2 1)
echo "$out1" | grep -q "set peers=1 neighs=1 fdbs=1 routes=1 blocked=0" || fail "n1: $out1"
echo "$out2" | grep -q "set peers=1 neighs=1 fdbs=1 routes=1 blocked=0" || fail "n2: $out2"

link=$(ip -n "$N1" -d link show weft-v6.1)
for want in "mtu 1430" "vxlan id 1 local 2001:db8:18::1" "dstport 8472" "nolearning"; do
	grep -q -- "$want" <<<"$link" || fail "weft-v6.1 lacks '$want': $link"
done
# The address may land a moment after the link (bounded wait).
for _ in $(seq 50); do
	ip -n "$N1" -6 addr show dev weft-v6.1 | grep -q "inet6 fd00:10:244:1::/128" && break
	sleep 0.1
done
ip -n "$N1" -6 addr show dev weft-v6.1 | grep -q "inet6 fd00:10:244:1::/128" ||
	fail "no /128 on weft-v6.1: $(ip -n "$N1" -6 addr show dev weft-v6.1)"
mac2=$(ip -n "$N2" link show weft-v6.1 | awk '/link\/ether/ {print $2}')
mac1=$(ip -n "$N1" link show weft-v6.1 | awk '/link\/ether/ {print $2}')
[ -n "$mac2" ] && [ "$mac1" != "$mac2" ] || fail "VTEP MACs: '$mac1' '$mac2'"
ip -n "$N1" -6 neigh show dev weft-v6.1 | grep -q "fd00:10:244:2:: lladdr $mac2 PERMANENT" ||
	fail "neighbour: $(ip -n "$N1" -6 neigh show dev weft-v6.1)"
bridge -n "$N1" fdb show dev weft-v6.1 | grep -q "$mac2 dst 2001:db8:18::2 self permanent" ||
	fail "fdb: $(bridge -n "$N1" fdb show dev weft-v6.1)"
route=$(ip -n "$N1" -6 route show fd00:10:244:2::/64)
grep -q "via fd00:10:244:2:: dev weft-v6.1 proto 87" <<<"$route" && grep -q onlink <<<"$route" ||
	fail "route: $route"
ok "weft-v6.1: MTU 1430, /128, neighbour, FDB and route towards the peer"

ping6 1 fd00:10:244:2::2 || fail "overlay ping n1 -> n2"
ping6 2 fd00:10:244:1::2 || fail "overlay ping n2 -> n1"
# 1430 bytes inside: 1382 of ICMPv6 payload + 8 + 40; 1500 on the underlay.
ping6 1 fd00:10:244:2::2 1382 || fail "full-size overlay ping"
ok "ping -6 over the overlay both ways, full MTU"

# Deleting the peer (flush) removes its route, neighbour and FDB entry.
out1=$(drive 1 -d 2)
echo "$out1" | grep -q "del peers=0" || fail "n1 del: $out1"
[ -z "$(ip -n "$N1" -6 route show proto 87)" ] || fail "route left: $(ip -n "$N1" -6 route show proto 87)"
ip -n "$N1" -6 neigh show dev weft-v6.1 | grep -q "fd00:10:244:2::" && fail "neighbour left"
bridge -n "$N1" fdb show dev weft-v6.1 | grep -q "$mac2" && fail "fdb entry left"
ping6 1 fd00:10:244:2::2 && fail "overlay ping after delete"
ok "peer delete prunes neighbour, FDB and route"

# A complete list without the peer (reconcile) prunes what an earlier run left.
ip -n "$N2" -6 route show proto 87 | grep -q "fd00:10:244:1::/64" || fail "n2 route missing"
drive 2 >/dev/null
[ -z "$(ip -n "$N2" -6 route show proto 87)" ] || fail "n2 route left"
ip -n "$N2" -6 neigh show dev weft-v6.1 | grep -q "fd00:10:244:1::" && fail "n2 neighbour left"
bridge -n "$N2" fdb show dev weft-v6.1 | grep -q "$mac1" && fail "n2 fdb entry left"
ok "reconcile prunes a peer missing from the complete list"

# Someone else's route at the peer's prefix blocks weft's.
ip -n "$N1" -6 route add fd00:10:244:2::/64 dev lo proto static
out1=$(drive 1 2)
echo "$out1" | grep -q "set peers=1 neighs=1 fdbs=1 routes=0 blocked=1" || fail "blocked: $out1"
route=$(ip -n "$N1" -6 route show fd00:10:244:2::/64)
grep -q "proto static" <<<"$route" && ! grep -q "proto 87" <<<"$route" || fail "route: $route"
ok "a static route at the peer's prefix stays and blocks weft's"
ip -n "$N1" -6 route del fd00:10:244:2::/64 dev lo proto static
out1=$(drive 1 2)
echo "$out1" | grep -q "routes=1 blocked=0" || fail "unblocked: $out1"
drive 2 1 >/dev/null
ping6 1 fd00:10:244:2::2 || fail "overlay ping after unblock"
ok "weft's route back once the other route is gone"
echo PASS
