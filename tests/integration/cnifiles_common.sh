# shellcheck shell=bash
# Helpers for the tests of the CNI files weftd keeps (--cni-conf-dir,
# --cni-bin-dir); sourced after the harness, lease_common.sh and
# dataplane_common.sh. Not a test itself.
#
#   cf_conf N / cf_bin N        node N's conflist and installed plugin paths
#   cf_start N [weftd args...]  l_start with node N's CNI directories
#   cf_any CONF BIN             0 if either file exists (the "nothing written" probe)
#   cf_list N CMD CID POD [VALID]
#                               runs node N's written conflist the way libcni does
#   cf_ms_since T0              milliseconds since T0 (date +%s%N)
#
# All node namespaces share one filesystem, so each node has its own
# directories under /run/$H_RUN-nN (removed by the harness), and the
# plugins run with a private /var/lib/cni (a per-node directory bind-mounted
# in a mount namespace of their own), as if each node had its own disk: the
# built-in conflist keeps the plugin's default store, which must not be the
# machine's.

cf_conf() { echo "/run/$H_RUN-n$1/net.d/10-weft.conflist"; }
cf_bin() { echo "/run/$H_RUN-n$1/bin/weft"; }
cf_start() {
	local n=$1
	shift
	l_start "$n" --cni-conf-dir "/run/$H_RUN-n$n/net.d" --cni-bin-dir "/run/$H_RUN-n$n/bin" "$@"
}
cf_any() { [ -e "$1" ] || [ -e "$2" ] || [ -L "$1" ] || [ -L "$2" ]; }
cf_ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# cf_plugin N CMD CID NETNS TYPE: one plugin of node N, config on stdin,
# found through CNI_PATH (the node's bin directory first) as libcni does.
cf_plugin() {
	local n=$1 cmd=$2 cid=$3 netns=$4 type=$5 dir exe="" store
	for dir in "/run/$H_RUN-n$n/bin" /usr/lib/cni; do
		[ -x "$dir/$type" ] && exe=$dir/$type && break
	done
	[ -n "$exe" ] || {
		echo "{\"code\":999,\"msg\":\"plugin $type not found\"}"
		return 1
	}
	store="$H_TMP/var-lib-cni-n$n"
	mkdir -p "$store"
	ip netns exec "$(h_node_ns "$n")" unshare -m env CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" \
		CNI_NETNS="$netns" CNI_IFNAME="${netns:+eth0}" \
		CNI_PATH="/run/$H_RUN-n$n/bin:/usr/lib/cni" \
		sh -c 'mount --bind "$1" /var/lib/cni && exec "$2"' _ "$store" "$exe"
}

# cf_list N CMD CID POD [VALID]: libcni's way with a conflist: each plugin
# gets its object plus the list's name and cniVersion; ADD runs in order
# handing each result on as prevResult and caches the final one; CHECK runs
# in order and DEL in reverse, both with the cached result; STATUS and GC
# (only for lists of version 1.1.0 or later, as libcni) run in order, GC
# with VALID (a JSON array of {containerID, ifname}) under both keys. POD
# is a netns name ("" for GC and STATUS). Prints the final ADD result.
cf_list() {
	local n=$1 cmd=$2 cid=$3 pod=$4 valid=${5:-[]} list count i order conf out prev=""
	local cache="$H_TMP/result-n$1-$3" netns=""
	[ -n "$pod" ] && netns=/run/netns/$pod
	list=$(cat "$(cf_conf "$n")") || return 1
	count=$(jq '.plugins | length' <<<"$list")
	order=$(seq 0 $((count - 1)))
	[ "$cmd" = DEL ] && order=$(seq $((count - 1)) -1 0)
	case $cmd in
	STATUS | GC)
		[ "$(jq -r .cniVersion <<<"$list")" = 1.1.0 ] || {
			echo "{\"code\":1,\"msg\":\"libcni sends $cmd only to 1.1.0 lists\"}"
			return 1
		}
		;;
	CHECK | DEL) prev=$(cat "$cache" 2>/dev/null) ;;
	esac
	for i in $order; do
		conf=$(jq -c --argjson i "$i" '.plugins[$i] + {name: .name, cniVersion: .cniVersion}' \
			<<<"$list")
		[ -n "$prev" ] && conf=$(jq -c --argjson r "$prev" '. + {prevResult: $r}' <<<"$conf")
		[ "$cmd" = GC ] && conf=$(jq -c --argjson v "$valid" \
			'. + {"cni.dev/valid-attachments": $v, "cni.dev/attachments": $v}' <<<"$conf")
		out=$(cf_plugin "$n" "$cmd" "$cid" "$netns" "$(jq -r .type <<<"$conf")" <<<"$conf") || {
			echo "$out"
			return 1
		}
		[ "$cmd" = ADD ] && prev=$out
	done
	if [ "$cmd" = ADD ]; then
		echo "$prev" >"$cache"
		echo "$prev"
	fi
	return 0
}

# cf_pod_ip RESULT: the pod's IPv4 address from an ADD result.
cf_pod_ip() { jq -r '.ips[0].address | split("/")[0]' <<<"$1"; }
