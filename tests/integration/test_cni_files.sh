#!/usr/bin/env bash
# The CNI files weftd owns (--cni-conf-dir, --cni-bin-dir): a bad template
# is refused at start; with etcd down nothing is written; once the node is
# ready the conflist and the plugin appear; deleted or corrupted, they come
# back; SIGTERM leaves them. The written conflist, run as libcni runs it,
# gives pods on two nodes that ping each other; a template of weft alone at
# cniVersion 1.1.0 gets STATUS and GC through the conflist.
# labels: cni;deploy;root;etcd
# timeout: 180
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/cnifiles_common.sh"
h_init
h_cluster 2

ready() { ip netns exec "$(h_node_ns "$1")" curl -sf --max-time 1 http://127.0.0.1:9872/readyz; }
mtime_ns() { stat -c %.9Y "$1" | tr -d .; }

# --- a template that is no conflist of weft's is refused before anything runs
echo '{"cniVersion":"1.0.0","name":"weft","plugins":[{"type":"bridge"}]}' >"$H_TMP/bad.conflist"
out=$(ip netns exec "$(h_node_ns 1)" timeout 10 "$WEFT_BIN/weftd" --etcd-endpoints "$H_ETCD_ENDPOINT" \
	--subnet-file "$(h_subnet_file 1)" --cni-conf-dir "/run/$H_RUN-n1/net.d" \
	--cni-bin-dir "/run/$H_RUN-n1/bin" --cni-conf-template "$H_TMP/bad.conflist" 2>&1)
rc=$?
h_assert_eq 1 "$rc" "weftd exit status with a bad template"
grep -q 'bad.conflist: no plugin of type "weft"' <<<"$out" || h_fail "unclear error: $out"
h_log "refused: $(tail -1 <<<"$out")"

# --- the probe sees files that exist ...
mkdir -p "$H_TMP/probe"
cf_any "$H_TMP/probe/c" "$H_TMP/probe/b" && h_fail "probe sees files in an empty directory"
touch "$H_TMP/probe/b"
cf_any "$H_TMP/probe/c" "$H_TMP/probe/b" || h_fail "probe misses an existing plugin"
rm "$H_TMP/probe/b"
ln -s nowhere "$H_TMP/probe/c"
cf_any "$H_TMP/probe/c" "$H_TMP/probe/b" || h_fail "probe misses a dangling conflist link"
cf_any "$(cf_conf 1)" "$(cf_bin 1)" && h_fail "files exist before the test wrote any"
h_no_file "$(dirname "$(cf_conf 1)")" "the refused run created the conflist directory"

# ... and with etcd down, weftd writes nothing while not ready.
h_etcd_stop
cf_start 1
deadline=$((SECONDS + 4))
while [ "$SECONDS" -lt "$deadline" ]; do
	cf_any "$(cf_conf 1)" "$(cf_bin 1)" && h_fail "CNI files written while the node is not ready"
	[ -e "/run/$H_RUN-n1/net.d" ] || [ -e "/run/$H_RUN-n1/bin" ] &&
		h_fail "CNI directories made while the node is not ready"
	l_alive 1 || h_fail "weftd exited while etcd was down"
	sleep 0.1
done
# weftd answers, and answers not ready (a dead probe would also fail "ready").
# 5 s: an ASan weftd on a loaded 2-core CI machine (test_health_flood bounds
# the probe's latency).
h_assert_eq 503 "$(ip netns exec "$(h_node_ns 1)" curl -s -o /dev/null -w '%{http_code}' \
	--max-time 5 http://127.0.0.1:9872/readyz)" "readyz of node 1 without etcd"
h_log "etcd down for 4 s: no CNI file, no directory"

# --- etcd back: readiness, then the files
h_etcd_start
h_wait_for 30 "node 1 ready" ready 1 || { tail -20 "$H_TMP/n1.log" >&2; h_fail "node 1 not ready"; }
h_wait_for 2 "node 1 CNI files after /readyz" test -s "$(cf_conf 1)" -a -s "$(cf_bin 1)" ||
	h_fail "CNI files not there 2 s after readiness"
env_ns=$(mtime_ns "$(h_subnet_file 1)")
for f in "$(cf_conf 1)" "$(cf_bin 1)"; do
	d=$((($(mtime_ns "$f") - env_ns) / 1000))
	h_log "$(basename "$f") written $((d / 1000)).$(printf %03d $((d % 1000))) ms after subnet.env"
	[ "$d" -ge 0 ] || h_fail "$f written before subnet.env (before readiness)"
	[ "$d" -le 2000000 ] || h_fail "$f written more than 2 s after readiness"
done
cmp -s "$WEFT_BIN/weft" "$(cf_bin 1)" || h_fail "installed plugin differs from $WEFT_BIN/weft"
h_assert_eq 755 "$(stat -c %a "$(cf_bin 1)")" "plugin mode"
h_assert_eq 644 "$(stat -c %a "$(cf_conf 1)")" "conflist mode"
want=$(jq -c -n --arg sf "$(h_subnet_file 1)" '{name: "weft", cniVersion: "1.0.0",
	plugins: [{type: "weft", subnetFile: $sf}, {type: "portmap", capabilities: {portMappings: true}}]}')
h_assert_eq "$want" "$(jq -c . "$(cf_conf 1)")" "built-in conflist"
h_lacks "temp files left" '^\.' ls -A "/run/$H_RUN-n1/net.d" "/run/$H_RUN-n1/bin"

# --- deleted or corrupted while weftd runs: restored within 1 s
# restore WHAT PATH REF CMD...: CMD breaks PATH; weftd must put REF's bytes
# back within 1 s. The figure is the restored file's time stamp (weftd's
# write) minus the moment before CMD; the poll only confirms the content.
restore() {
	local what=$1 path=$2 ref=$3 t0 ms
	shift 3
	t0=$(date +%s%N)
	"$@"
	while ! cmp -s "$ref" "$path"; do
		[ "$(cf_ms_since "$t0")" -lt 5000 ] || h_fail "$what: not restored"
		sleep 0.01
	done
	ms=$((($(mtime_ns "$path") - t0) / 1000000))
	h_log "$what: restored after $ms ms (poll saw it after $(cf_ms_since "$t0") ms)"
	[ "$ms" -lt 1000 ] || h_fail "$what: restored after $ms ms, not within 1 s"
}
cp "$(cf_conf 1)" "$H_TMP/conflist.ref"
restore "conflist deleted" "$(cf_conf 1)" "$H_TMP/conflist.ref" rm -f "$(cf_conf 1)"
restore "conflist corrupted" "$(cf_conf 1)" "$H_TMP/conflist.ref" \
	sh -c 'echo "{\"broken\":" >"$1"' _ "$(cf_conf 1)"
restore "plugin deleted" "$(cf_bin 1)" "$WEFT_BIN/weft" rm -f "$(cf_bin 1)"
restore "plugin corrupted" "$(cf_bin 1)" "$WEFT_BIN/weft" \
	sh -c 'printf "#!/bin/sh\nexit 0\n" >"$1"' _ "$(cf_bin 1)"
restore "conflist directory removed" "$(cf_conf 1)" "$H_TMP/conflist.ref" \
	rm -rf "/run/$H_RUN-n1/net.d"
h_assert_eq 644 "$(stat -c %a "$(cf_conf 1)")" "conflist mode after restores"
h_assert_eq 755 "$(stat -c %a "$(cf_bin 1)")" "plugin mode after restores"
# weftd's own writes do not feed back: the files stay put.
ino=$(stat -c %i "$(cf_conf 1)")
sleep 1
h_assert_eq "$ino" "$(stat -c %i "$(cf_conf 1)")" "conflist inode a second later"

# --- the written conflist gives pods that talk across nodes
cf_start 2
h_wait_for 30 "node 2 CNI files" test -s "$(cf_conf 2)" -a -s "$(cf_bin 2)" ||
	h_fail "node 2 wrote no CNI files"
for n in 1 2; do
	h_netns_add "$H_RUN-n$n-p1"
	r=$(cf_list "$n" ADD "ctr-n$n-p1" "$H_RUN-n$n-p1") || h_fail "ADD through node $n's conflist: $r"
	declare "IP$n=$(cf_pod_ip "$r")"
	cf_list "$n" CHECK "ctr-n$n-p1" "$H_RUN-n$n-p1" >/dev/null ||
		h_fail "CHECK through node $n's conflist"
done
h_wait_for 15 "node 1 has node 2" d_has_peer 1 2 || h_fail "mesh incomplete"
h_wait_for 15 "node 2 has node 1" d_has_peer 2 1 || h_fail "mesh incomplete"
ip netns exec "$H_RUN-n1-p1" ping -q -c 3 -i 0.2 -W 2 "$IP2" >/dev/null ||
	h_fail "pod n1 -> pod n2 ($IP2)"
ip netns exec "$H_RUN-n2-p1" ping -q -c 3 -i 0.2 -W 2 "$IP1" >/dev/null ||
	h_fail "pod n2 -> pod n1 ($IP1)"
h_log "pods $IP1 (node 1) and $IP2 (node 2) made through the written conflists ping each other"
# A 1.0.0 list gets no STATUS from libcni; the plugin refuses it there too.
r=$(cf_plugin 1 STATUS "" "" weft <<<"$(jq -c '.plugins[0] + {name, cniVersion}' "$(cf_conf 1)")")
h_assert_eq 1 "$(jq -r .code <<<"$r")" "STATUS code at cniVersion 1.0.0"

# --- SIGTERM leaves both files
cp "$(cf_bin 1)" "$H_TMP/plugin.ref"
l_stop 1
cmp -s "$H_TMP/conflist.ref" "$(cf_conf 1)" || h_fail "conflist changed or gone after SIGTERM"
cmp -s "$H_TMP/plugin.ref" "$(cf_bin 1)" || h_fail "plugin changed or gone after SIGTERM"
h_log "SIGTERM: conflist and plugin left in place"

# --- weft alone at 1.1.0 from a template: STATUS and GC through the conflist
jq -n --arg sf "$(h_subnet_file 1)" '{cniVersion: "1.1.0", name: "weft",
	plugins: [{type: "weft", subnetFile: $sf}]}' >"$H_TMP/v11.conflist"
cf_start 1 --cni-conf-template "$H_TMP/v11.conflist"
h_wait_for 15 "node 1 ready again" ready 1 || h_fail "node 1 not ready after restart"
h_wait_for 2 "node 1 conflist from the template" cmp -s "$H_TMP/v11.conflist" "$(cf_conf 1)" ||
	h_fail "template not written"
r=$(cf_list 1 STATUS "" "") || h_fail "STATUS through the 1.1.0 conflist: $r"
h_netns_add "$H_RUN-n1-p2"
r=$(cf_list 1 ADD ctr-n1-p2 "$H_RUN-n1-p2") || h_fail "ADD at 1.1.0: $r"
IP3=$(cf_pod_ip "$r")
h_assert_eq 1.1.0 "$(jq -r .cniVersion <<<"$r")" "result version"
ip netns exec "$H_RUN-n1-p2" ping -q -c 2 -i 0.2 -W 2 "$IP2" >/dev/null || h_fail "pod $IP3 -> $IP2"
veth() {
	local links
	links=$(ip -n "$(h_node_ns 1)" -o link show) || { echo probe-broken; return 0; }
	grep -c "alias weft:$1:eth0" <<<"$links" || true
}
h_assert_eq 1 "$(veth ctr-n1-p2)" "host veth of the second pod before GC"
# Both pods valid: GC keeps them.
both='[{"containerID":"ctr-n1-p1","ifname":"eth0"},{"containerID":"ctr-n1-p2","ifname":"eth0"}]'
r=$(cf_list 1 GC "" "" "$both") || h_fail "GC through the 1.1.0 conflist: $r"
h_assert_eq 1 "$(veth ctr-n1-p2)" "host veth of the second pod after a GC that keeps it"
# Only the first valid: the second pod's veth and address go, the first still pings.
r=$(cf_list 1 GC "" "" '[{"containerID":"ctr-n1-p1","ifname":"eth0"}]') || h_fail "GC: $r"
h_assert_eq 0 "$(veth ctr-n1-p2)" "host veth of the collected pod"
h_no_file "$H_TMP/var-lib-cni-n1/networks/weft/$IP3" "address $IP3 still reserved after GC"
[ -e "$H_TMP/var-lib-cni-n1/networks/weft/$IP1" ] || h_fail "GC released the valid pod's $IP1"
ip netns exec "$H_RUN-n1-p1" ping -q -c 2 -i 0.2 -W 2 "$IP2" >/dev/null ||
	h_fail "valid pod lost connectivity after GC"
h_log "1.1.0 conflist: STATUS ok, GC kept $IP1 and collected $IP3"
l_stop 1
l_stop 2
exit 0
