# shellcheck shell=bash
# Helpers shared by the dual-stack and IPv6-only data-plane tests; sourced
# after the harness, lease_common.sh, dataplane_common.sh and
# fault_common.sh. Not a test itself.
#
#   ds_pod N NAME          pod $H_RUN-nN-NAME made by the weft plugin from
#                          node N's subnet.env; DS_IP4/DS_IP6 (also kept in
#                          DS_POD4[N-NAME], DS_POD6[N-NAME])
#   ds_net6 N / ds_base6 N node N's IPv6 subnet fd00:10:244:3::/64 / fd00:10:244:3::
#   ds_wait_node N         subnet.env written, ready; ds_facts N caches its
#                          subnets and VTEP MACs for the checks below
#   ds_has_peer6 N M       node N holds node M's IPv6 neighbour, FDB entry, route
#   ds_has_peer4 N M       the same for IPv4 (d_has_peer from the cache)
#   ds_lacks_peer6 N M     none of M's IPv6 ones
#   ds_src_watch NS        record the source of every ICMPv6 echo request NS gets
#   ds_seen_tcp ...        the source a TCP listener sees
#   ds_ping_start NAME FROM_NS TO_IP   10 ms pings (stopped by f_ping_no_loss)

declare -A DS_POD4 DS_POD6
DS_CNI_NET=weftnet

# ds_ready N: node N's /readyz answers 200.
ds_ready() {
	ip netns exec "$(h_node_ns "$1")" curl -sf --max-time 1 http://127.0.0.1:9872/readyz
}

# ds_wait_node N: node N wrote subnet.env and is ready; its facts cached.
ds_wait_node() {
	h_wait_for 30 "node $1 subnet.env" test -s "$(h_subnet_file "$1")" ||
		{ tail -20 "$H_TMP/n$1.log" >&2; h_fail "node $1 wrote no subnet.env"; }
	h_wait_for 10 "node $1 ready" ds_ready "$1" || h_fail "node $1 not ready"
	ds_facts "$1"
}

# ds_facts N: cache node N's subnets and VTEP MACs from its subnet.env
# (polling checks stay cheap; the values outlive the node's departure).
declare -A DS_NET4 DS_BASE4 DS_MAC4 DS_NET6 DS_BASE6 DS_MAC6
ds_facts() {
	local n=$1
	DS_NET4[$n]="" DS_BASE4[$n]="" DS_MAC4[$n]="" DS_NET6[$n]="" DS_BASE6[$n]="" DS_MAC6[$n]=""
	if [ -n "$(d_env "$n" FLANNEL_SUBNET)" ]; then
		DS_NET4[$n]=$(d_net "$n")
		DS_BASE4[$n]=$(d_base "$n")
		DS_MAC4[$n]=$(l_vtep_mac "198.18.0.$n")
	fi
	if [ -n "$(d_env "$n" FLANNEL_IPV6_SUBNET)" ]; then
		DS_NET6[$n]=$(ds_net6 "$n") || h_fail "node $n: ${DS_NET6[$n]}"
		DS_BASE6[$n]=$(ds_base6 "$n")
		DS_MAC6[$n]=$(ds_vtep_mac6 "2001:db8:18::$n")
	fi
}

ds_pod_ns() { echo "$H_RUN-n$1-$2"; }

# ds_pod N NAME: a pod on node N made by the weft plugin as a runtime calls
# it, the config naming the node's subnet.env and its own store.
ds_pod() {
	local n=$1 ns out
	ns=$(ds_pod_ns "$1" "$2")
	h_netns_add "$ns"
	out=$(jq -nc --arg sf "$(h_subnet_file "$n")" --arg dd "$(h_cni_dir "$n")" --arg nm "$DS_CNI_NET" \
		'{cniVersion: "1.0.0", name: $nm, type: "weft", subnetFile: $sf, dataDir: $dd}' |
		ip netns exec "$(h_node_ns "$n")" env CNI_COMMAND=ADD CNI_CONTAINERID="$n-$2" \
			CNI_NETNS="/run/netns/$ns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni "$WEFT_BIN/weft") ||
		h_fail "ADD of pod $2 on node $n: $out"
	DS_IP4=$(jq -r '[.ips[].address | select(contains(".")) | sub("/.*"; "")][0] // ""' <<<"$out")
	DS_IP6=$(jq -r '[.ips[].address | select(contains(":")) | sub("/.*"; "")][0] // ""' <<<"$out")
	DS_POD4[$n-$2]=$DS_IP4
	DS_POD6[$n-$2]=$DS_IP6
	h_log "pod $2 on node $n: ${DS_IP4:-no IPv4} ${DS_IP6:-no IPv6}"
}

# ds_net6 N: "fd00:10:244:3::/64" from FLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64;
# ds_base6 N: "fd00:10:244:3::" (the subnet's network address).
ds_base6() {
	local gw
	gw=$(d_env "$1" FLANNEL_IPV6_SUBNET)
	gw=${gw%/*}
	[[ $gw == *::1 ]] || { echo "unexpected-FLANNEL_IPV6_SUBNET-$gw"; return 1; }
	echo "${gw%1}"
}
ds_net6() {
	local gw
	gw=$(d_env "$1" FLANNEL_IPV6_SUBNET)
	echo "$(ds_base6 "$1")/${gw#*/}"
}

# ds_vtep_mac6 IP6 [VNI]: 02 + SHA-256 over the 16 address bytes and the VNI.
ds_vtep_mac6() {
	printf '02:%s\n' "$(printf '%s%08x' "$(ds_ip6_hex "$1")" "${2:-1}" | xxd -r -p | sha256sum |
		cut -c1-10 | sed 's/../&:/g; s/:$//')"
}

# ds_ip6_hex ADDR: the 16 bytes of an IPv6 address (no dotted tail) as hex.
ds_ip6_hex() {
	local head=$1 tail="" out="" g i
	local -a h t
	if [[ $1 == *::* ]]; then
		head=${1%%::*}
		tail=${1#*::}
	fi
	IFS=: read -ra h <<<"$head"
	IFS=: read -ra t <<<"$tail"
	for g in "${h[@]}"; do out+=$(printf %04x "0x$g"); done
	for ((i = ${#h[@]} + ${#t[@]}; i < 8; i++)); do out+=0000; done
	for g in "${t[@]}"; do out+=$(printf %04x "0x$g"); done
	echo "$out"
}

# ds_has_peer6 N M: node N has node M's IPv6 objects: neighbour
# <net> lladdr <mac>, FDB <mac> dst 2001:db8:18::M, route <net>/64 via <net>
# dev weft-v6.1 onlink (weft's protocol 87). Needs ds_facts M.
ds_has_peer6() {
	local ns=$H_RUN-n$1 net=${DS_NET6[$2]:-} base=${DS_BASE6[$2]:-} mac=${DS_MAC6[$2]:-}
	[ -n "$net" ] || return 1
	ip -n "$ns" -6 neigh show dev weft-v6.1 | sed 's/ *$//' | h_grep -x "$base lladdr $mac PERMANENT" &&
		bridge -n "$ns" fdb show dev weft-v6.1 | sed 's/ *$//' |
		h_grep -x "$mac dst 2001:db8:18::$2 self permanent" &&
		ip -n "$ns" -6 route show proto 87 | h_grep -E "^$net via $base dev weft-v6\.1 .*onlink"
}

# ds_has_peer4 N M: d_has_peer from cached facts (needs ds_facts M).
ds_has_peer4() {
	local ns=$H_RUN-n$1 net=${DS_NET4[$2]:-} base=${DS_BASE4[$2]:-} mac=${DS_MAC4[$2]:-}
	[ -n "$net" ] || return 1
	ip -n "$ns" neigh show dev weft.1 | sed 's/ *$//' | h_grep -x "$base.0 lladdr $mac PERMANENT" &&
		bridge -n "$ns" fdb show dev weft.1 | sed 's/ *$//' |
		h_grep -x "$mac dst 198.18.0.$2 self permanent" &&
		ip -n "$ns" route show proto 87 | sed 's/ *$//' | h_grep -x "$net via $base.0 dev weft.1 onlink"
}

# ds_lacks_peer6 N M: node N's IPv6 objects can be listed (the device
# exists) and none is node M's (needs ds_facts M).
ds_lacks_peer6() {
	local ns=$H_RUN-n$1 base=${DS_BASE6[$2]:-} mac=${DS_MAC6[$2]:-}
	[ -n "$base" ] || return 1
	h_none "^$base " ip -n "$ns" -6 neigh show dev weft-v6.1 &&
		h_none "^$mac " bridge -n "$ns" fdb show dev weft-v6.1 &&
		h_none "^$base/" ip -n "$ns" -6 route show proto 87
}

# ds_count6 N KIND: node N's IPv6 objects of a kind (neigh, fdb, route).
ds_count6() {
	local ns
	ns=$(h_node_ns "$1")
	case $2 in
	neigh) ip -n "$ns" -6 neigh show dev weft-v6.1 nud permanent | grep -c . ;;
	fdb) bridge -n "$ns" fdb show dev weft-v6.1 | grep -c . ;;
	route) ip -n "$ns" -6 route show proto 87 | grep -c . ;;
	esac
}

# ds_key_of6 IP6: the lease key whose value has PublicIPv6 IP6 ("" if none).
ds_key_of6() {
	h_etcdctl get --prefix "$L_PREFIX/subnets/" | paste - - |
		awk -v ip="\"PublicIPv6\":\"$1\"" 'index($2, ip) {print $1; exit}'
}

# ds_src_watch NS: from now on NS records the source address of every
# ICMPv6 echo request it receives (an nft set in NS's own table);
# ds_src_seen NS lists them, one per line.
ds_src_watch() {
	ip netns exec "$1" nft -f - <<'EOF' || h_fail "nft source watch in $1"
table ip6 seen {
	set src { type ipv6_addr; flags dynamic; size 256; }
	chain in { type filter hook input priority 0; icmpv6 type echo-request add @src { ip6 saddr }; }
}
EOF
}
ds_src_seen() {
	ip netns exec "$1" nft -j list set ip6 seen src | jq -r '.nftables[] | .set? // empty | .elem[]?' |
		sort
}

# ds_seen_tcp NS PORT FROM_NS TO_IP: the source address a TCP listener in
# NS sees when FROM_NS connects to TO_IP:PORT ("" if none connected).
ds_seen_tcp() {
	local ns=$1 port=$2 from=$3 to=$4 log="$H_TMP/seen.$2" pid fam=-4
	[[ $to == *:* ]] && fam=-6
	rm -f "$log"
	# OpenBSD nc listens on one family only: IPv4 unless told otherwise.
	ip netns exec "$ns" timeout 10 nc "$fam" -l -v -n -p "$port" >/dev/null 2>"$log" &
	pid=$!
	h_wait_for 5 "listener :$port" ip netns exec "$ns" sh -c "ss -ltn | grep -q ':$port '" ||
		return 1
	echo hello | ip netns exec "$from" timeout 5 nc -N -n "$to" "$port" >/dev/null 2>&1
	wait "$pid"
	sed -n 's/^Connection received on \([0-9a-f:.]*\) .*/\1/p' "$log"
}

# ds_tcp FROM_NS TO_NS TO_IP PORT: 1 MiB over TCP, compared on arrival.
ds_tcp() {
	local from=$1 to=$2 ip=$3 port=$4 src="$H_TMP/tcp-src" dst="$H_TMP/tcp-dst" pid fam=-4
	[[ $ip == *:* ]] && fam=-6
	[ -f "$src" ] || head -c 1048576 /dev/urandom >"$src"
	rm -f "$dst"
	ip netns exec "$to" timeout 15 nc "$fam" -l -n -p "$port" >"$dst" 2>/dev/null &
	pid=$!
	h_wait_for 5 "listener :$port" ip netns exec "$to" sh -c "ss -ltn | grep -q ':$port '" ||
		return 1
	ip netns exec "$from" timeout 15 nc -N -n "$ip" "$port" <"$src" || return 1
	wait "$pid"
	cmp -s "$src" "$dst"
}

# ds_ping NS IP [ping args]: a quick ping (either family) that must be answered.
ds_ping() {
	local ns=$1 ip=$2
	shift 2
	ip netns exec "$ns" ping -q -c 2 -i 0.2 -W 2 "$@" "$ip" >/dev/null
}

# ds_ping_start NAME FROM_NS TO_IP: 10 ms pings in rounds as f_ping_start
# (either family); f_ping_no_loss NAME ends and checks them.
ds_ping_start() {
	rm -f "$H_TMP/ping-$1.out" "$H_TMP/ping-$1.stop"
	# shellcheck disable=SC2016
	h_bg "$2" "$H_TMP/ping-$1.out" bash -c '
		trap "kill \$p 2>/dev/null; exit 0" TERM
		while [ ! -e "$1" ]; do
			ping -D -n -i 0.01 -W 1 -c "$3" "$2" & p=$!
			wait $p
		done' _ "$H_TMP/ping-$1.stop" "$3" "$F_PING_ROUND"
	F_PING_PID[$1]=$H_LAST_PID
}
