# shellcheck shell=bash
# netns test harness: underlay bridge, etcd, nodes and an external host, each a network namespace.
#
#   source "$WEFT_SRC/tests/lib/harness.sh"
#   h_init                 # root check (exit 77 if not root), run prefix, cleanup trap
#   h_underlay             # netns $H_RUN-ul with bridge br0
#   h_etcd_start           # etcd in netns $H_RUN-etcd on 198.18.0.254:2379
#   h_node_add 1           # netns $H_RUN-n1, eth0 198.18.0.1/24 on the underlay
#   h_ext_add              # "external" host $H_RUN-ext on 198.18.0.200
#   h_cluster 3            # all of the above but the external host, plus the
#                          # default network config in etcd
#   h_bg "$H_RUN-n1" log cmd...   # start a process in a netns, remembered for cleanup
#
# Nothing is attached to the root namespace: every veth is created with both
# ends already inside test namespaces. Everything the run made is removed on
# exit (also on failure or signal); processes are killed by pid.

set -uo pipefail

H_ETCD_IP=198.18.0.254
H_EXT_IP=198.18.0.200
H_EXT_IP6=2001:db8:18::c8
H_PIDS=()
H_NETNS=()
H_DIRS=()
H_CLEANUPS=()

h_log() { echo "[$(date +%T.%3N)] $*" >&2; }
h_fail() {
	h_log "FAIL: $*"
	exit 1
}

# h_init: must be the first call. Sets H_RUN (unique, short: it prefixes
# netns names) and H_TMP (a private scratch directory).
h_init() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: integration tests need root (network namespaces)" >&2
		exit 77
	fi
	# wt<pid of this shell>x<random>: the pid lets later runs find leftovers.
	H_RUN=${H_RUN:-wt$(printf '%xx%04x' $$ $RANDOM)}
	h_reap_stale
	H_TMP=$(mktemp -d "/tmp/$H_RUN.XXXX")
	H_DIRS+=("$H_TMP")
	trap h_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	: "${WEFT_BIN:?WEFT_BIN must name the directory holding weftd and weft}"
	h_log "run $H_RUN, scratch $H_TMP"
}

# h_reap_stale: removes what earlier runs left when they were killed without
# running their trap (ctest kills a test that times out with SIGKILL): their
# namespaces, the processes inside them (by pid) and their paths. Only runs
# whose owning shell is gone are touched, so parallel tests are safe.
h_reap_stale() {
	local ns run owner pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $ns =~ ^(wt([0-9a-f]+)x[0-9a-f]{4})- ]] || continue
		run=${BASH_REMATCH[1]}
		owner=$((16#${BASH_REMATCH[2]}))
		kill -0 "$owner" 2>/dev/null && continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
		rm -rf "/tmp/$run".* "/run/$run"-* "/var/lib/cni/$run"-* "/var/lib/$run"-quickstart
		h_log "removed $ns, left by a killed run"
	done
}

# h_on_cleanup CMD: run CMD (eval'd) at cleanup, before netns are deleted.
h_on_cleanup() { H_CLEANUPS+=("$1"); }

h_cleanup() {
	local rc=$? pid i ns
	trap - EXIT INT TERM
	for ((i = ${#H_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${H_CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	for pid in "${H_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${H_PIDS[@]}"; do
		h_wait_pid "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
	done
	for ns in "${H_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	# Anything a test created by hand with the run prefix goes too.
	for ns in $(ip netns list 2>/dev/null | awk -v p="$H_RUN-" 'index($1, p) == 1 {print $1}'); do
		ip netns del "$ns" 2>/dev/null || true
	done
	for i in "${H_DIRS[@]}"; do
		rm -rf "$i"
	done
	if [ "$rc" -eq 0 ]; then
		h_log "PASS"
	else
		h_log "exit $rc"
	fi
	exit "$rc"
}

# h_wait_pid PID SECONDS: wait for a process to exit (not necessarily our child).
h_wait_pid() {
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		# A zombie child counts as gone once reaped.
		if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then
			wait "$pid" 2>/dev/null
			return 0
		fi
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	return 0
}

# h_wait_for SECONDS DESCRIPTION CMD...: poll CMD every 50 ms until it succeeds.
# Prints how long it took; returns 1 on timeout.
h_wait_for() {
	local limit=$1 desc=$2 start now
	shift 2
	start=$(date +%s%N)
	while :; do
		if "$@" >/dev/null 2>&1; then
			now=$(date +%s%N)
			H_WAITED_MS=$(((now - start) / 1000000))
			h_log "$desc: after ${H_WAITED_MS} ms"
			return 0
		fi
		now=$(date +%s%N)
		if [ $(((now - start) / 1000000)) -ge $((limit * 1000)) ]; then
			h_log "$desc: not within ${limit} s"
			return 1
		fi
		sleep 0.05
	done
}

# h_netns_add NAME: a namespace with lo up, remembered for cleanup.
h_netns_add() {
	ip netns add "$1" || h_fail "ip netns add $1"
	H_NETNS+=("$1")
	ip -n "$1" link set lo up
}

# h_underlay: the L2 segment every node, etcd and the external host hang off.
h_underlay() {
	h_netns_add "$H_RUN-ul"
	ip -n "$H_RUN-ul" link add br0 type bridge || h_fail "underlay bridge"
	ip -n "$H_RUN-ul" link set br0 up
}

# h_attach NS PORTNAME ADDR/LEN: eth0 in NS, its peer PORTNAME on the
# underlay bridge. Both ends are created inside namespaces.
h_attach() {
	local ns=$1 port=$2 addr=$3
	ip -n "$ns" link add eth0 type veth peer name "$port" netns "$H_RUN-ul" ||
		h_fail "veth for $ns"
	ip -n "$H_RUN-ul" link set "$port" master br0 up
	ip -n "$ns" addr add "$addr" dev eth0
	ip -n "$ns" link set eth0 up
}

# h_node_add N: node netns $H_RUN-nN, eth0 198.18.0.N/24, forwarding on,
# default route via the external host. Sets per-node paths:
#   /run/$H_RUN-nN/ (subnet.env lives here) and /var/lib/cni/$H_RUN-nN
h_node_add() {
	local n=$1 ns="$H_RUN-n$1"
	h_netns_add "$ns"
	h_attach "$ns" "n$n" "198.18.0.$n/24"
	ip -n "$ns" route add default via "$H_EXT_IP" dev eth0
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	mkdir -p "/run/$ns" "/var/lib/cni/$ns"
	H_DIRS+=("/run/$ns" "/var/lib/cni/$ns")
}

# h_node_ns N, h_subnet_file N, h_cni_dir N: names and paths for node N.
h_node_ns() { echo "$H_RUN-n$1"; }
h_subnet_file() { echo "/run/$H_RUN-n$1/subnet.env"; }
h_cni_dir() { echo "/var/lib/cni/$H_RUN-n$1"; }

# h_ext_add: a host outside the overlay (checks masquerade); it has
# $H_EXT_IP6 too, for nodes given an IPv6 underlay.
h_ext_add() {
	h_netns_add "$H_RUN-ext"
	h_attach "$H_RUN-ext" ext "$H_EXT_IP/24"
	ip -n "$H_RUN-ext" addr add "$H_EXT_IP6/64" dev eth0 nodad
}

# h_node_v6 N: node N also gets the IPv6 underlay 2001:db8:18::N/64 (no
# duplicate address detection: the address is usable at once), IPv6
# forwarding and a default route via the external host.
h_node_v6() {
	local ns="$H_RUN-n$1"
	ip -n "$ns" addr add "2001:db8:18::$1/64" dev eth0 nodad || h_fail "IPv6 underlay on node $1"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
	ip -n "$ns" -6 route add default via "$H_EXT_IP6" dev eth0
}

# h_bg NS LOGFILE CMD...: start CMD inside NS in the background; sets H_LAST_PID.
h_bg() {
	local ns=$1 logf=$2
	shift 2
	ip netns exec "$ns" "$@" >>"$logf" 2>&1 &
	H_LAST_PID=$!
	H_PIDS+=("$H_LAST_PID")
}

# h_kill PID [SIGNAL]: signal a process and wait (bounded) for it to exit.
h_kill() {
	local pid=$1 sig=${2:-TERM}
	kill -"$sig" "$pid" 2>/dev/null || return 0
	h_wait_pid "$pid" 10 || {
		kill -KILL "$pid" 2>/dev/null
		h_wait_pid "$pid" 5
	}
}

# h_etcd_start [extra etcd args...]: etcd in netns $H_RUN-etcd, reachable at
# http://198.18.0.254:2379 over the underlay and 127.0.0.1:2379 inside.
# Sets H_ETCD_PID, H_ETCD_DIR, H_ETCD_ENDPOINT. Extra args replace the
# client URLs when they set --listen-client-urls (TLS tests do).
h_etcd_start() {
	local ns="$H_RUN-etcd" scheme=${H_ETCD_SCHEME:-http}
	if [ -z "${H_ETCD_DIR:-}" ]; then
		h_netns_add "$ns"
		h_attach "$ns" etcd "$H_ETCD_IP/24"
		H_ETCD_DIR="$H_TMP/etcd"
		mkdir -p "$H_ETCD_DIR"
	fi
	H_ETCD_ENDPOINT="$scheme://$H_ETCD_IP:2379"
	h_bg "$ns" "$H_TMP/etcd.log" etcd --name weft-test --data-dir "$H_ETCD_DIR/data" \
		--listen-client-urls "$scheme://$H_ETCD_IP:2379,$scheme://127.0.0.1:2379" \
		--advertise-client-urls "$H_ETCD_ENDPOINT" \
		--listen-peer-urls http://127.0.0.1:2380 \
		--initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster weft-test=http://127.0.0.1:2380 \
		--log-level warn "$@"
	H_ETCD_PID=$H_LAST_PID
	h_wait_for 30 "etcd healthy" h_etcdctl endpoint health ||
		{ tail -20 "$H_TMP/etcd.log" >&2; h_fail "etcd did not start"; }
}

# h_etcd_stop [SIGNAL]: stop etcd, keep its data dir for a restart.
h_etcd_stop() {
	h_kill "$H_ETCD_PID" "${1:-TERM}"
}

# h_etcdctl ARGS...: etcdctl v3 against the test etcd, from inside its netns.
# Honours H_ETCDCTL_TLS (extra flags for TLS runs).
h_etcdctl() {
	# shellcheck disable=SC2086
	ETCDCTL_API=3 ip netns exec "$H_RUN-etcd" etcdctl --dial-timeout=2s --command-timeout=5s \
		--endpoints "${H_ETCD_SCHEME:-http}://127.0.0.1:2379" ${H_ETCDCTL_TLS:-} "$@"
}

# The network config most tests use. Tests that write peer leases by hand
# use subnets from 10.244.200.0 up; "SubnetMax" keeps every node below them.
H_NET_CONFIG='{"Network":"10.244.0.0/16","SubnetMax":"10.244.199.0","Backend":{"Type":"vxlan"}}'

# h_net_config [JSON]: write the network config (H_NET_CONFIG by default)
# to <prefix>/config.
h_net_config() {
	h_etcdctl put "${H_PREFIX:-/coreos.com/network}/config" "${1:-$H_NET_CONFIG}" >/dev/null ||
		h_fail "could not write the network config"
}

# h_cluster N [JSON]: the whole test cluster in one call: the underlay,
# etcd, nodes 1..N and the network config (H_NET_CONFIG unless JSON is
# given; an empty JSON writes none). etcd gets the extra arguments in the
# array H_ETCD_ARGS when set. weftd is started per node by the test
# (l_start, lease_common.sh), since each test picks its flags.
h_cluster() {
	local n config=${2-$H_NET_CONFIG}
	h_underlay
	h_etcd_start ${H_ETCD_ARGS[@]+"${H_ETCD_ARGS[@]}"}
	for n in $(seq 1 "$1"); do
		h_node_add "$n"
	done
	[ -z "$config" ] || h_net_config "$config"
}

# h_grep ARGS...: grep -q that reads all its input. Under pipefail a
# `producer | grep -q` fails at random when grep exits before the producer
# is done writing (SIGPIPE); use `producer | h_grep PATTERN` instead.
h_grep() { grep "$@" >/dev/null; }

# h_assert_eq EXPECTED ACTUAL WHAT
h_assert_eq() {
	[ "$1" = "$2" ] || h_fail "$3: expected '$1', got '$2'"
}

# Negative checks first prove that their probe works, so a misspelt
# namespace, path or command fails the test instead of passing it.

# h_no_link NS DEV WHAT: NS answers (its lo is listed) and holds no DEV.
h_no_link() {
	ip -n "$1" link show lo >/dev/null 2>&1 || h_fail "$3: probe broken, no netns $1"
	ip -n "$1" link show "$2" >/dev/null 2>&1 && h_fail "$3"
	return 0
}

# h_no_file PATH WHAT: PATH's directory exists and PATH does not.
h_no_file() {
	local dir
	dir=$(dirname "$1")
	[ -d "$dir" ] || h_fail "$2: probe broken, no directory $dir"
	{ [ -e "$1" ] || [ -L "$1" ]; } && h_fail "$2"
	return 0
}

# h_lacks WHAT ERE CMD...: CMD succeeds (the probe works) and no line of
# its output matches ERE.
h_lacks() {
	local what=$1 ere=$2 out
	shift 2
	out=$("$@" 2>&1) || h_fail "$what: probe broken: $* failed: $out"
	grep -E -- "$ere" <<<"$out" >&2 && h_fail "$what"
	return 0
}

# h_none ERE CMD...: predicate form of h_lacks for h_wait_for: true when CMD
# succeeds and prints no line matching ERE; false also when CMD fails.
h_none() {
	local ere=$1 out
	shift
	out=$("$@" 2>/dev/null) || return 1
	! grep -qE -- "$ere" <<<"$out"
}

# h_podman_conf DIR PLUGIN_DIR NET_DIR NETWORK [CONTAINERS_LINE]: podman's
# containers.conf and storage.conf in DIR, for podman as a CNI runtime on a
# test node (runc, cgroupfs, vfs, every state path inside DIR).
h_podman_conf() {
	local dir=$1 plugins=$2 netdir=$3 net=$4 extra=${5:-}
	mkdir -p "$dir/tmp"
	cat >"$dir/containers.conf" <<EOC
[containers]
$extra
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
tmp_dir = "$dir/tmp"
runtime = "runc"
[network]
network_backend = "cni"
cni_plugin_dirs = ["$plugins", "/usr/lib/cni"]
network_config_dir = "$netdir"
default_network = "$net"
EOC
	cat >"$dir/storage.conf" <<EOC
[storage]
driver = "vfs"
graphroot = "$dir/root"
runroot = "$dir/run"
EOC
}
