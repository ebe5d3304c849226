#!/usr/bin/env bash
# Builds a small weft-like node in a throwaway network namespace (bridge,
# veth pair on it, a vxlan device, addresses, routes, neighbours, FDB) and
# captures the kernel's rtnetlink messages about it as fuzz_netlink seeds.
# Needs root.   tests/fuzz/capture_netlink.sh /tmp/nlseeds
set -euo pipefail
out=${1:?out dir}
ns=fzseed-nl-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
n() { ip -n "$ns" "$@"; }
n link set lo up
n link add ul0 type veth peer name ul1
n addr add 198.18.0.1/24 dev ul0
n link set ul0 up
n link set ul1 up
n link add weft.1 type vxlan id 1 local 198.18.0.1 dev ul0 dstport 8472 nolearning
n addr add 10.244.1.0/32 dev weft.1
n link set weft.1 up
n link add cni0 type bridge
n addr add 10.244.1.1/24 dev cni0
n link set cni0 up
n link add veth0a1b2c3d type veth peer name eth0
n link set veth0a1b2c3d master cni0 alias weft:ctr1:eth0
n link set veth0a1b2c3d type bridge_slave hairpin on
n link set veth0a1b2c3d up
n neigh add 10.244.2.0 lladdr 02:a1:b2:c3:d4:e5 dev weft.1 nud permanent
n neigh add 10.244.3.0 lladdr 02:a1:b2:c3:d4:e6 dev weft.1 nud permanent
n -6 neigh add fd00::2 lladdr 02:a1:b2:c3:d4:e7 dev weft.1 nud permanent
bridge -n "$ns" fdb append 02:a1:b2:c3:d4:e5 dev weft.1 dst 198.18.0.2 self permanent
bridge -n "$ns" fdb append 00:00:00:00:00:00 dev weft.1 dst 198.18.0.3 self permanent
bridge -n "$ns" fdb append 02:a1:b2:c3:d4:e8 dev weft.1 dst fd00::3 self permanent 2>/dev/null || true
n route add 10.244.2.0/24 via 10.244.2.0 dev weft.1 onlink proto 251
n route add 10.244.3.0/24 via 10.244.3.0 dev weft.1 onlink proto 251 metric 100
n route add default via 198.18.0.254 dev ul0 src 198.18.0.1
n route add 10.250.0.0/16 via 198.18.0.2 table 1000
ip netns exec "$ns" python3 "$(dirname "$0")/capture_netlink.py" "$out"
