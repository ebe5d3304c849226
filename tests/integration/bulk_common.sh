# shellcheck shell=bash
# Helpers for tests that put large amounts of data into etcd; sourced after
# the harness and lease_common.sh. Not a test itself.

# b_fill PREFIX COUNT KB: COUNT junk keys PREFIX<i> with values of KB KiB
# each (etcd takes up to about 1.5 MiB per request), written by one curl
# over one connection to the gateway (an etcdctl per key takes 5x longer).
# Keys sort where the caller puts PREFIX, so a test can place junk between
# real leases.
b_fill() {
	local pfx=$1 count=$2 kb=$3 v i f args=() codes
	v=$(head -c $((kb * 1024)) /dev/zero | tr '\0' x | base64 -w0)
	for i in $(seq -w 1 "$count"); do
		f="$H_TMP/put.$i"
		printf '{"key":"%s","value":"%s"}' "$(printf '%s' "$pfx$i" | base64 -w0)" "$v" >"$f"
		args+=(--next -s -o /dev/null -w '%{http_code}\n' -X POST
			http://127.0.0.1:2379/v3/kv/put -d @"$f")
	done
	codes=$(ip netns exec "$H_RUN-etcd" curl --max-time 120 "${args[@]:1}")
	rm -f "$H_TMP"/put.*
	[ "$(grep -c '^200$' <<<"$codes")" = "$count" ] ||
		h_fail "writing junk under $pfx: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
}

# b_bytes PREFIX: bytes of the values under PREFIX.
b_bytes() {
	h_etcdctl get --prefix "$1" --print-value-only | wc -c
}

# b_has_peer N SUBNET PUBLIC_IP: node N has the peer's neighbour entry.
b_has_peer() {
	ip -n "$(h_node_ns "$1")" neigh show dev weft.1 |
		h_grep "^$2 lladdr $(l_vtep_mac "$3") PERMANENT"
}

# b_txn KEY=VALUE_FILE...: one txn (one revision, so one watch message)
# putting every KEY to the content of its file, through the gateway.
b_txn() {
	local kv f="$H_TMP/txn.json" sep= code
	printf '{"success":[' >"$f"
	for kv in "$@"; do
		printf '%s{"request_put":{"key":"%s","value":"%s"}}' "$sep" \
			"$(printf '%s' "${kv%%=*}" | base64 -w0)" "$(base64 -w0 <"${kv#*=}")" >>"$f"
		sep=,
	done
	printf ']}' >>"$f"
	code=$(ip netns exec "$H_RUN-etcd" curl -s --max-time 60 -o "$H_TMP/txn.out" \
		-w '%{http_code}' -X POST http://127.0.0.1:2379/v3/kv/txn -d @"$f")
	rm -f "$f"
	[ "$code" = 200 ] || h_fail "txn: HTTP $code $(head -c 300 "$H_TMP/txn.out")"
}
