# shellcheck shell=bash
# Helpers shared by the lease-plane tests (test_lease_*.sh); sourced after
# the harness. Not a test itself.

L_PREFIX=${H_PREFIX:-/coreos.com/network}
declare -A L_PID

# l_vtep_mac IP [VNI]: the VTEP MAC docs/etcd-schema.md derives (02 + SHA-256[0:5]).
l_vtep_mac() {
	local ip=$1 vni=${2:-1} a b c d
	IFS=. read -r a b c d <<<"$ip"
	printf '02:%s\n' "$(printf '%02x%02x%02x%02x%08x' "$a" "$b" "$c" "$d" "$vni" |
		xxd -r -p | sha256sum | cut -c1-10 | sed 's/../&:/g; s/:$//')"
}

# l_value IP [VNI]: the lease value byte for byte.
l_value() {
	printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":%s,"VtepMAC":"%s"}}' \
		"$1" "${2:-1}" "$(l_vtep_mac "$1" "${2:-1}")"
}

# l_start N [weftd args...]: weftd on node N; log in $H_TMP/nN.log.
l_start() {
	local n=$1
	shift
	h_bg "$(h_node_ns "$n")" "$H_TMP/n$n.log" "$WEFT_BIN/weftd" \
		--etcd-endpoints "${L_ENDPOINTS:-$H_ETCD_ENDPOINT}" \
		--subnet-file "$(h_subnet_file "$n")" "$@"
	L_PID[$n]=$H_LAST_PID
}

# l_stop N [SIGNAL]: stop node N's weftd; fails the test unless a SIGTERM
# exit is clean (status 0, which also means no leak under ASan).
l_stop() {
	local n=$1 sig=${2:-TERM} pid=${L_PID[$1]} rc
	kill -"$sig" "$pid" 2>/dev/null || h_fail "weftd of node $n is not running"
	h_wait_pid "$pid" 10 || h_fail "weftd of node $n did not exit after SIG$sig"
	wait "$pid" 2>/dev/null
	rc=$?
	if [ "$sig" = TERM ] && [ "$rc" -ne 0 ]; then
		tail -20 "$H_TMP/n$n.log" >&2
		h_fail "weftd of node $n exited $rc after SIGTERM"
	fi
	return 0
}

# l_alive N: weftd of node N still runs.
l_alive() { kill -0 "${L_PID[$1]}" 2>/dev/null; }

# l_env_subnet N: FLANNEL_SUBNET of node N's subnet.env ("" if none).
l_env_subnet() {
	sed -n 's/^FLANNEL_SUBNET=//p' "$(h_subnet_file "$1")" 2>/dev/null
}

# l_key_of IP: the lease key holding PublicIP IP ("" if none).
l_key_of() {
	h_etcdctl get --prefix "$L_PREFIX/subnets/" | paste - - |
		awk -v ip="\"PublicIP\":\"$1\"" 'index($2, ip) {print $1; exit}'
}

# l_key_subnet KEY -> 10.244.3.0/24; l_gw KEY -> 10.244.3.1/24
l_key_subnet() { basename "$1" | sed 's/-/\//'; }
l_gw() {
	local s a b c d
	s=$(basename "$1")
	IFS=. read -r a b c d <<<"${s%-*}"
	echo "$a.$b.$c.$((d + 1))/${s#*-}"
}

# l_field KEY FIELD: a field of the key from `etcdctl get -w json` (numbers
# come back as JSON numbers; lease IDs lose precision in jq, so only use
# this for revisions and the presence of a lease).
l_field() {
	h_etcdctl get "$1" -w json | jq -r ".kvs[0].$2 // 0"
}

# l_wait_log N SECONDS REGEX: until node N's log matches.
l_wait_log() {
	h_wait_for "$2" "node $1 log /$3/" grep -Eq "$3" "$H_TMP/n$1.log"
}
