#!/usr/bin/env bash
# A local weft cluster in network namespaces, for real: etcd, three nodes each
# running weftd, two pods per node made through the weft CNI plugin exactly
# as a container runtime calls it, and an external host behind the nodes.
#
#   sudo ./deploy/quickstart.sh         build, start (or restart) the cluster, prove it works
#   sudo ./deploy/quickstart.sh --dual-stack
#                                       the same with IPv6 too: an IPv6 underlay, pods with
#                                       both families, proofs over IPv4 and IPv6
#   sudo ./deploy/quickstart.sh down    remove everything it made
#   sudo ./deploy/quickstart.sh status  show what runs
#
# Environment: WEFT_QS_PREFIX (default "weft") names every namespace and path;
# WEFT_BIN uses prebuilt binaries instead of building build/bin.
# Nothing touches this machine's own network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD

P=${WEFT_QS_PREFIX:-weft}
NODES=3
PODS=2
STATE=/var/lib/$P-quickstart
ETCD_IP=198.18.0.254
EXT_IP=198.18.0.200
ETCD_URL=http://$ETCD_IP:2379
NETCONF='{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":1}}'
# --dual-stack: the IPv6 underlay 2001:db8:18::N/64 beside 198.18.0.N/24.
DUAL=
EXT_IP6=2001:db8:18::c8
NETCONF6='{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan","VNI":1}}'

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() {
	echo "quickstart: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (it creates network namespaces)"

node_ns() { echo "$P-n$1"; }
pod_ns() { echo "$P-n$1-p$2"; }
subnet_file() { echo "/run/$P-n$1/subnet.env"; }
cni_dir() { echo "/var/lib/cni/$P-n$1"; }

# Starts a long-running process inside a namespace; its pid goes to a file
# so `down` can stop it by pid.
start_bg() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" "$@" </dev/null >"$STATE/$name.log" 2>&1 &
	echo $! >"$STATE/$name.pid"
	disown
}

stop_pid() {
	local f=$1 pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -TERM "$pid" 2>/dev/null; then
		for i in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

wait_for() {
	local secs=$1 what=$2 i
	shift 2
	for i in $(seq $((secs * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$what: not within $secs s"
}

cni() {
	local cmd=$1 n=$2 m=$3
	ip netns exec "$(node_ns "$n")" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$(pod_ns "$n" "$m")" \
		CNI_NETNS="/run/netns/$(pod_ns "$n" "$m")" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
		"$BIN/weft" <"$STATE/cni-n$n.json"
}

down() {
	local f n m ns
	[ -d "$STATE" ] || [ -n "$(ip netns list | awk -v p="$P-" 'index($1, p) == 1')" ] || return 0
	say "removing the $P quickstart cluster"
	for f in "$STATE"/*.pid; do
		[ -e "$f" ] && stop_pid "$f"
	done
	# Release the pods' addresses the way a runtime would, then drop the rest.
	if [ -x "${BIN:-}/weft" ]; then
		for n in $(seq $NODES); do
			for m in $(seq $PODS); do
				[ -f "$STATE/cni-n$n.json" ] && ip netns list | grep -qw "$(pod_ns "$n" "$m")" &&
					cni DEL "$n" "$m" >/dev/null 2>&1 || true
			done
		done
	fi
	for ns in $(ip netns list | awk -v p="$P-" 'index($1, p) == 1 {print $1}'); do
		ip netns del "$ns"
	done
	for n in $(seq $NODES); do
		rm -rf "/run/$P-n$n" "$(cni_dir "$n")"
	done
	rm -rf "$STATE"
}

status() {
	local f
	ip netns list | awk -v p="$P-" 'index($1, p) == 1 {print "netns " $1}'
	for f in "$STATE"/*.pid; do
		[ -e "$f" ] || continue
		if kill -0 "$(cat "$f")" 2>/dev/null; then
			echo "$(basename "$f" .pid): running, pid $(cat "$f")"
		else
			echo "$(basename "$f" .pid): not running"
		fi
	done
}

netns_add() {
	ip netns add "$1"
	ip -n "$1" link set lo up
}

# eth0 in NS, its peer on the underlay bridge; both ends born in namespaces.
# An optional IPv6 address goes on without duplicate address detection.
attach() {
	ip -n "$1" link add eth0 type veth peer name "$2" netns "$P-ul"
	ip -n "$P-ul" link set "$2" master br0 up
	ip -n "$1" addr add "$3" dev eth0
	[ -z "${4:-}" ] || ip -n "$1" addr add "$4" dev eth0 nodad
	ip -n "$1" link set eth0 up
}

build() {
	if [ -n "${WEFT_BIN:-}" ]; then
		BIN=$WEFT_BIN
		return
	fi
	say "installing dependencies"
	./deploy/deps.sh
	say "building"
	cmake -S "$SRC" -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j"$(nproc)" >/dev/null
	BIN=$SRC/build/bin
}

# The pod's address of one family (4 or 6) from its CNI result.
pod_ip() {
	jq -r --arg f "${3:-4}" '.ips[] | .address | select(contains(":") == ($f == "6")) |
		split("/")[0]' "$STATE/pod-n$1-p$2.json"
}

up() {
	local n m ns
	mkdir -p "$STATE"

	say "underlay, etcd and an external host"
	netns_add "$P-ul"
	ip -n "$P-ul" link add br0 type bridge
	ip -n "$P-ul" link set br0 up
	netns_add "$P-etcd"
	attach "$P-etcd" etcd "$ETCD_IP/24"
	start_bg "$P-etcd" etcd etcd --name "$P" --data-dir "$STATE/etcd" \
		--listen-client-urls "$ETCD_URL,http://127.0.0.1:2379" --advertise-client-urls "$ETCD_URL" \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster "$P=http://127.0.0.1:2380" --log-level warn
	wait_for 30 "etcd" ip netns exec "$P-etcd" env ETCDCTL_API=3 etcdctl \
		--endpoints http://127.0.0.1:2379 endpoint health
	netns_add "$P-ext"
	attach "$P-ext" ext "$EXT_IP/24" ${DUAL:+"$EXT_IP6/64"}
	# The external host answers with the address it sees the client as.
	mkdir -p "$STATE/www-ext/cgi-bin"
	printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%%s\\n" "$REMOTE_ADDR"\n' \
		>"$STATE/www-ext/cgi-bin/whoami"
	chmod +x "$STATE/www-ext/cgi-bin/whoami"
	start_bg "$P-ext" httpd-ext busybox httpd -f -p "$EXT_IP:80" -h "$STATE/www-ext"
	if [ -n "$DUAL" ]; then
		start_bg "$P-ext" httpd-ext6 busybox httpd -f -p "[$EXT_IP6]:80" -h "$STATE/www-ext"
		echo "$NETCONF6" >"$STATE/net-conf.json"
	else
		echo "$NETCONF" >"$STATE/net-conf.json"
	fi

	for n in $(seq $NODES); do
		ns=$(node_ns "$n")
		say "node $n: namespace $ns, eth0 198.18.0.$n${DUAL:+ and 2001:db8:18::$n}, weftd"
		netns_add "$ns"
		attach "$ns" "n$n" "198.18.0.$n/24" ${DUAL:+"2001:db8:18::$n/64"}
		ip -n "$ns" route add default via "$EXT_IP"
		[ -z "$DUAL" ] || ip -n "$ns" -6 route add default via "$EXT_IP6"
		mkdir -p "/run/$ns" "$(cni_dir "$n")"
		start_bg "$ns" "weftd-n$n" "$BIN/weftd" --etcd-endpoints "$ETCD_URL" \
			--net-config-file "$STATE/net-conf.json" --subnet-file "$(subnet_file "$n")" \
			--ip-masq ${DUAL:+--public-ipv6 "2001:db8:18::$n"}
		jq -n --arg sf "$(subnet_file "$n")" --arg dd "$(cni_dir "$n")" \
			'{cniVersion: "1.0.0", name: "weft", type: "weft", subnetFile: $sf, dataDir: $dd}' \
			>"$STATE/cni-n$n.json"
	done
	for n in $(seq $NODES); do
		wait_for 30 "weftd on node $n ready" ip netns exec "$(node_ns "$n")" \
			curl -sf --max-time 1 http://127.0.0.1:9872/readyz
	done

	for n in $(seq $NODES); do
		for m in $(seq $PODS); do
			ns=$(pod_ns "$n" "$m")
			netns_add "$ns"
			cni ADD "$n" "$m" >"$STATE/pod-n$n-p$m.json" ||
				die "CNI ADD for $ns failed: $(cat "$STATE/pod-n$n-p$m.json")"
			say "pod $ns: $(pod_ip "$n" "$m")${DUAL:+ $(pod_ip "$n" "$m" 6)} (CNI ADD through the weft plugin)"
		done
	done
	# A web server in one pod on each node.
	for n in $(seq $NODES); do
		mkdir -p "$STATE/www-n$n"
		echo "hello from pod $(pod_ns "$n" 1)" >"$STATE/www-n$n/index.html"
		start_bg "$(pod_ns "$n" 1)" "httpd-n$n" busybox httpd -f -p 80 -h "$STATE/www-n$n"
	done
}

# prove_family 4|6: every pod pings every pod on the other nodes and fetches a
# page from each other node; a pod reaches the external host as its node.
prove_family() {
	local f=$1 n m t ip url page seen ext want tag=
	[ "$f" = 4 ] || tag=" (IPv6)"
	say "proof$tag: every pod reaches every pod on the other nodes"
	for n in $(seq $NODES); do
		for t in $(seq $NODES); do
			[ "$n" = "$t" ] && continue
			for m in $(seq $PODS); do
				ip=$(pod_ip "$t" "$m" "$f")
				[ -n "$ip" ] || die "pod $(pod_ns "$t" "$m") has no IPv$f address"
				wait_for 10 "ping $(pod_ns "$n" 1) -> $ip" ip netns exec "$(pod_ns "$n" 1)" \
					ping -"$f" -c1 -W1 "$ip"
			done
			ip=$(pod_ip "$t" 1 "$f")
			url=http://$ip/
			[ "$f" = 4 ] || url="http://[$ip]/"
			page=
			for _ in $(seq 20); do
				page=$(ip netns exec "$(pod_ns "$n" 2)" curl -sfg --max-time 2 "$url" 2>/dev/null) && break
				sleep 0.2
			done
			[ "$page" = "hello from pod $(pod_ns "$t" 1)" ] ||
				die "page from $url fetched by $(pod_ns "$n" 2): '$page'"
			echo "  $(pod_ns "$n" 2) fetched $url: $page"
		done
	done
	say "proof$tag: a pod reaches the external host through masquerade"
	if [ "$f" = 4 ]; then
		ext=$EXT_IP url="http://$EXT_IP/cgi-bin/whoami" want=198.18.0.1
	else
		ext=$EXT_IP6 url="http://[$EXT_IP6]/cgi-bin/whoami" want=2001:db8:18::1
	fi
	# busybox httpd puts an IPv6 REMOTE_ADDR in brackets
	seen=$(ip netns exec "$(pod_ns 1 1)" curl -sfg --max-time 5 "$url" | tr -d '[]') ||
		die "pod could not reach the external host $ext"
	[ "$seen" = "$want" ] || die "external host saw '$seen', expected the node address $want"
	echo "  $ext saw $(pod_ns 1 1) ($(pod_ip 1 1 "$f")) as $seen"
}

prove() {
	prove_family 4
	[ -z "$DUAL" ] || prove_family 6
}

show() {
	cat <<EOT

weft quickstart cluster "$P" is up: $NODES nodes, $((NODES * PODS)) pods, etcd at $ETCD_URL.

Subnet leases in etcd (flannel's schema):
  ip netns exec $P-etcd env ETCDCTL_API=3 etcdctl get --prefix /coreos.com/network/subnets
$(ip netns exec "$P-etcd" env ETCDCTL_API=3 etcdctl get --prefix /coreos.com/network/subnets | paste - - | sed 's/^/    /')

Kernel state of node 1:
  ip -n $P-n1 -d link show weft.1
  ip -n $P-n1 neigh show dev weft.1; bridge -n $P-n1 fdb show dev weft.1
  ip -n $P-n1 route show proto 87;   ip netns exec $P-n1 nft list table ip weft
$(ip -n "$P-n1" route show proto 87 | sed 's/^/    /')
${DUAL:+
  ip -n $P-n1 -d link show weft-v6.1; ip -n $P-n1 -6 route show proto 87
  ip netns exec $P-n1 nft list table ip6 weft
$(ip -n "$P-n1" -6 route show proto 87 | sed 's/^/    /')
}
subnet.env of node 1 ($(subnet_file 1)):
$(sed 's/^/    /' "$(subnet_file 1)")

Health and metrics of node 1:
  ip netns exec $P-n1 curl -s http://127.0.0.1:9872/metrics

A shell in a pod:   ip netns exec $(pod_ns 1 1) sh
Logs:               $STATE/*.log
Tear down:          sudo ${WEFT_QS_PREFIX:+WEFT_QS_PREFIX=$P }$0 down
EOT
}

CMD=
for arg in "$@"; do
	case $arg in
	--dual-stack) DUAL=1 ;;
	up | down | status) CMD=$arg ;;
	*) die "usage: $0 [--dual-stack] [up|down|status]" ;;
	esac
done

case ${CMD:-up} in
down)
	BIN=${WEFT_BIN:-$SRC/build/bin}
	down
	;;
status)
	status
	;;
up)
	build
	down
	trap 'echo "quickstart: failed; logs in $STATE, remove with: $0 down" >&2' ERR
	up
	prove
	show
	;;
*)
	die "usage: $0 [--dual-stack] [up|down|status]"
	;;
esac
