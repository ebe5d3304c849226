#!/usr/bin/env bash
# Captures real etcd v3 gateway answers as seed inputs for the etcd fuzz
# targets, from an etcd in a throwaway network namespace (needs root):
#   tests/fuzz/capture_etcd.sh /tmp/seeds   then copy what is new into
#   corpus/etcd_response/ (resp/*) and corpus/etcd_watch/ (watch/*).
set -euo pipefail
out=${1:?out dir}
ns=fzseed-$$
dd=$(mktemp -d)
pid=
wpid=
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null || true
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	sleep 0.5
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$dd"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" etcd --data-dir "$dd/d" --listen-client-urls http://127.0.0.1:2379 \
	--advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 >"$dd/log" 2>&1 &
pid=$!
E=http://127.0.0.1:2379
x() { ip netns exec "$ns" curl -s --max-time 5 "$@"; }
for i in $(seq 50); do x $E/health >/dev/null && break; sleep 0.1; done
mkdir -p "$out/resp" "$out/watch"
b64() { printf '%s' "$1" | base64 -w0; }
K1=$(b64 /coreos.com/network/subnets/10.244.3.0-24)
K2=$(b64 /coreos.com/network/subnets/10.244.4.0-24)
V1=$(b64 '{"PublicIP":"198.18.0.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:a1:b2:c3:d4:e5"}}')
P=$(b64 /coreos.com/network/subnets/)
PE=$(b64 /coreos.com/network/subnets0)
# watch from the start, in the background
x -N -X POST $E/v3/watch -d "{\"create_request\":{\"key\":\"$P\",\"range_end\":\"$PE\",\"progress_notify\":true}}" >"$out/watch/stream_events" &
wpid=$!
sleep 0.3
x -X POST $E/v3/lease/grant -d '{"TTL":30}' >"$out/resp/grant"
LID=$(sed -n 's/.*"ID":"\([0-9]*\)".*/\1/p' "$out/resp/grant")
x -X POST $E/v3/kv/put -d "{\"key\":\"$K1\",\"value\":\"$V1\",\"lease\":\"$LID\"}" >"$out/resp/put"
x -X POST $E/v3/kv/txn -d "{\"compare\":[{\"key\":\"$K2\",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"$K2\",\"value\":\"$V1\"}}],\"failure\":[{\"request_range\":{\"key\":\"$K2\"}}]}" >"$out/resp/txn_ok"
x -X POST $E/v3/kv/txn -d "{\"compare\":[{\"key\":\"$K2\",\"target\":\"CREATE\",\"result\":\"EQUAL\",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"$K2\",\"value\":\"$V1\"}}],\"failure\":[{\"request_range\":{\"key\":\"$K2\"}}]}" >"$out/resp/txn_failed"
x -X POST $E/v3/kv/txn -d "{\"compare\":[{\"key\":\"$K2\",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"1\"}],\"success\":[{\"request_delete_range\":{\"key\":\"$K2\"}}]}" >"$out/resp/txn_delete_failed"
x -X POST $E/v3/kv/range -d "{\"key\":\"$P\",\"range_end\":\"$PE\"}" >"$out/resp/range"
x -X POST $E/v3/kv/range -d "{\"key\":\"$(b64 /nope)\"}" >"$out/resp/range_empty"
x -X POST $E/v3/lease/keepalive -d "{\"ID\":\"$LID\"}" >"$out/resp/keepalive"
x -X POST $E/v3/lease/keepalive -d '{"ID":"12345"}' >"$out/resp/keepalive_lost"
x -X POST $E/v3/kv/deleterange -d "{\"key\":\"$K2\"}" >"$out/resp/delete"
x -X POST $E/v3/lease/revoke -d "{\"ID\":\"$LID\"}" >"$out/resp/revoke"
x -X POST $E/v3/lease/revoke -d '{"ID":"12345"}' >"$out/resp/error_revoke_unknown"
x -X POST $E/v3/kv/range -d '{"key":"Zm8"}' >"$out/resp/error_b64"
x -X POST $E/v3/auth/authenticate -d '{"name":"root","password":"x"}' >"$out/resp/error_auth"
x -X POST $E/v3/kv/nothing -d '{}' >"$out/resp/error_plain" || true
sleep 0.3
# compaction as seen by a new watch from an old revision
REV=$(sed -n 's/.*"revision":"\([0-9]*\)".*/\1/p' "$out/resp/delete")
x -X POST $E/v3/kv/compaction -d "{\"revision\":\"$REV\"}" >/dev/null
x -N --max-time 1 -X POST $E/v3/watch -d "{\"create_request\":{\"key\":\"$P\",\"range_end\":\"$PE\",\"start_revision\":\"2\"}}" >"$out/watch/stream_compacted" || true
kill "$wpid"; wpid=
# graceful shutdown while a watch is open
x -N -X POST $E/v3/watch -d "{\"create_request\":{\"key\":\"$P\",\"range_end\":\"$PE\"}}" >"$out/watch/stream_shutdown" &
wpid=$!
sleep 0.3
kill "$pid"; wait "$pid" || true; pid=
wait "$wpid" || true; wpid=
