# shellcheck shell=bash
# Helpers shared by the data-plane tests (test_dataplane_*.sh); sourced
# after the harness and lease_common.sh. Not a test itself.
#
# Pods are made by hand with plain ip commands (the CNI plugin has its own
# tests): per node a bridge cni0 holding the gateway <subnet>.1 and per pod
# a netns $H_RUN-nN-pM with eth0 <subnet>.(M+1), MTU from FLANNEL_MTU.

# d_env N KEY: a value of node N's subnet.env.
d_env() { sed -n "s/^$2=//p" "$(h_subnet_file "$1")"; }

# d_net N: node N's subnet network "10.244.3.0/24"; d_base N: "10.244.3".
d_net() {
	local gw
	gw=$(d_env "$1" FLANNEL_SUBNET)
	echo "${gw%.*}.0/${gw#*/}"
}
d_base() {
	local gw
	gw=$(d_env "$1" FLANNEL_SUBNET)
	gw=${gw%/*}
	echo "${gw%.*}"
}

# d_pod_ip N M: address of pod M on node N.
d_pod_ip() { echo "$(d_base "$1").$(($2 + 1))"; }
d_pod_ns() { echo "$H_RUN-n$1-p$2"; }

# d_pod_add N M: pod M on node N (the node's subnet.env must exist).
d_pod_add() {
	local n=$1 m=$2 node pod mtu gw
	node=$(h_node_ns "$n")
	pod=$(d_pod_ns "$n" "$m")
	mtu=$(d_env "$n" FLANNEL_MTU)
	gw=$(d_env "$n" FLANNEL_SUBNET)
	if ! ip -n "$node" link show cni0 >/dev/null 2>&1; then
		ip -n "$node" link add cni0 mtu "$mtu" type bridge || h_fail "bridge on node $n"
		ip -n "$node" addr add "$gw" dev cni0
		ip -n "$node" link set cni0 up
	fi
	h_netns_add "$pod"
	ip -n "$node" link add "veth$m" mtu "$mtu" type veth peer name eth0 mtu "$mtu" netns "$pod" ||
		h_fail "veth for pod $m on node $n"
	ip -n "$node" link set "veth$m" master cni0 up
	ip -n "$pod" addr add "$(d_pod_ip "$n" "$m")/${gw#*/}" dev eth0
	ip -n "$pod" link set eth0 up
	ip -n "$pod" route add default via "${gw%/*}"
}

# d_ping FROM_N FROM_M TO_IP [ping args]: a few quick pings from a pod.
d_ping() {
	local n=$1 m=$2 to=$3
	shift 3
	ip netns exec "$(d_pod_ns "$n" "$m")" ping -q -c 2 -i 0.2 -W 2 "$@" "$to" >/dev/null
}

# d_tcp FROM_N FROM_M TO_N TO_M: sends 1 MiB pod to pod over TCP and
# compares what arrived.
d_tcp() {
	local fn=$1 fm=$2 tn=$3 tm=$4 port=5201 src dst pid
	src="$H_TMP/tcp-src"
	dst="$H_TMP/tcp-dst-$fn-$tn"
	[ -f "$src" ] || head -c 1048576 /dev/urandom >"$src"
	rm -f "$dst"
	ip netns exec "$(d_pod_ns "$tn" "$tm")" timeout 10 nc -l -n -p "$port" >"$dst" 2>/dev/null &
	pid=$!
	# the listener must be up before the client connects
	h_wait_for 5 "listener in pod $tn/$tm" \
		ip netns exec "$(d_pod_ns "$tn" "$tm")" sh -c "ss -ltn | grep -q ':$port '" ||
		return 1
	ip netns exec "$(d_pod_ns "$fn" "$fm")" timeout 10 nc -N -n "$(d_pod_ip "$tn" "$tm")" \
		"$port" <"$src" || return 1
	wait "$pid"
	cmp -s "$src" "$dst"
}

# d_count NODE_N WHAT: number of weft objects of a kind on node N as the
# standard tools show them (neigh, fdb, route).
d_count() {
	local ns
	ns=$(h_node_ns "$1")
	case $2 in
	neigh) ip -n "$ns" neigh show dev weft.1 nud permanent | grep -c . ;;
	fdb) bridge -n "$ns" fdb show dev weft.1 | grep -c . ;;
	route) ip -n "$ns" route show proto 87 | grep -c . ;;
	esac
}

# d_metrics N: node N's /metrics.
d_metrics() {
	ip netns exec "$(h_node_ns "$1")" curl -sf --max-time 5 http://127.0.0.1:9872/metrics
}

# d_metric N NAME: one sample value ("" if absent).
d_metric() {
	d_metrics "$1" | awk -v n="$2" '$1 == n {print $2}'
}

# d_has_peer N M: node N has exactly node M's objects (neighbour, FDB,
# route) as docs/architecture.md (Kernel objects weftd owns) lists them.
d_has_peer() {
	local ns net base mac
	ns=$(h_node_ns "$1")
	net=$(d_net "$2")
	base=$(d_base "$2")
	mac=$(l_vtep_mac "198.18.0.$2")
	# iproute2 ends some lines with a space
	ip -n "$ns" neigh show dev weft.1 | sed 's/ *$//' | h_grep -x "$base.0 lladdr $mac PERMANENT" &&
		bridge -n "$ns" fdb show dev weft.1 | sed 's/ *$//' |
		h_grep -x "$mac dst 198.18.0.$2 self permanent" &&
		ip -n "$ns" route show proto 87 | sed 's/ *$//' |
		h_grep -x "$net via $base.0 dev weft.1 onlink"
}

# d_lacks_peer N M: none of node M's objects left on node N.
d_lacks_peer() {
	local ns base mac
	ns=$(h_node_ns "$1")
	base=$(d_base "$2")
	mac=$(l_vtep_mac "198.18.0.$2")
	h_none "^$base.0 " ip -n "$ns" neigh show dev weft.1 &&
		h_none "^$mac " bridge -n "$ns" fdb show dev weft.1 &&
		h_none "^$base.0/" ip -n "$ns" route show proto 87
}
