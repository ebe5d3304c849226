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
# A missing key prints "no-such-key", so "lease is 0" cannot pass on a typo.
l_field() {
	h_etcdctl get "$1" -w json | jq -r "if (.kvs // []) == [] then \"no-such-key\" else .kvs[0].$2 // 0 end"
}

# l_lease_id KEY: the etcd lease id of KEY, decimal ("" if none).
l_lease_id() { h_etcdctl get "$1" -w fields | sed -n 's/^"Lease" : //p'; }

# l_create_rev KEY: the key's create_revision (changes when it is written anew).
l_create_rev() { l_field "$1" create_revision; }

# l_sees N SUBNET [PUBLICIP [MAC]]: node N's kernel holds weft's route to
# SUBNET (and, given PUBLICIP, an FDB entry towards it, for MAC when given):
# the peer was taken in.
l_sees() {
	local ns
	ns=$(h_node_ns "$1")
	ip -n "$ns" route show proto 87 | h_grep "^$2 " || return 1
	[ -z "${3:-}" ] || bridge -n "$ns" fdb show dev weft.1 | h_grep "^${4:-.*} dst $3 "
}

# l_lease_held N: node N's /metrics says it holds its subnet lease.
l_lease_held() { [ "$(l_metric "$1" weft_lease_held)" = 1 ]; }

# l_has_key KEY: etcd holds KEY.
l_has_key() { [ -n "$(h_etcdctl get --keys-only "$1")" ]; }

# l_unseen N SUBNET: node N's routes can be listed and none is weft's to SUBNET.
l_unseen() { h_none "^$2 " ip -n "$(h_node_ns "$1")" route show proto 87; }

# l_metric N NAME: one sample of node N's /metrics ("" if absent).
l_metric() {
	ip netns exec "$(h_node_ns "$1")" curl -sf --max-time 5 http://127.0.0.1:9872/metrics |
		awk -v n="$2" '$1 == n {print $2}'
}

# l_wait_log N SECONDS REGEX: until node N's log matches. Only for what
# nothing but the log shows (error messages, the reason of a decision).
l_wait_log() {
	h_wait_for "$2" "node $1 log /$3/" grep -Eq "$3" "$H_TMP/n$1.log"
}
