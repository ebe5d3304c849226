#!/usr/bin/env bash
# Hostile node-local input. GC with a malformed attachment list is code 7
# and deletes nothing; GC leaves store entries and ports it cannot prove are
# weft's. Links planted at the store lock, the address cursor and
# subnet.env, and at the temp file weftd writes subnet.env through, never
# lead a write elsewhere; FIFOs in their place fail (or are skipped) at
# once; a subnet.env with 100 KB of comments is read; a CNI_NETNS link loop
# or FIFO gets its own error.
# labels: cni;root;etcd
# timeout: 180
source "$WEFT_SRC/tests/integration/cni_common.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
cni_setup underlay
CNI_VERSION=1.1.0
good=$(cni_conf)
STORE="$DATA_DIR/$NET"
TARGET="$H_TMP/precious"

# a file outside everything weft owns; its content and mode must not change
printf 'precious\n' >"$TARGET"
chmod 0600 "$TARGET"
target_intact() {
	h_assert_eq "precious" "$(cat "$TARGET")" "$1: target content"
	h_assert_eq 600 "$(stat -c %a "$TARGET")" "$1: target mode"
	h_assert_eq 1 "$(stat -c %h "$TARGET")" "$1: target links"
}

# quick SECONDS cni_run ARGS...: the plugin finishes within SECONDS (prints
# its stdout); a hang fails the test instead of blocking it.
export -f cni_run
export NODE H_RUN WEFT_BIN
quick() {
	local s=$1 t0 rc
	shift
	t0=$(date +%s%N)
	timeout "$s" bash -c '"$@"' quick "$@"
	rc=$?
	[ "$rc" = 124 ] && h_fail "hung: $*"
	h_log "took $((($(date +%s%N) - t0) / 1000000)) ms: ${*:1:2}"
	return "$rc"
}

for p in p1 p2; do
	cni_pod "$p"
	cni_run ADD "ctr-$p" "$p" <<<"$good" >/dev/null || h_fail "ADD $p"
done
# state: 2 veths, 2 reservations, 2 pod addresses
snapshot() {
	echo "veths: $(cni_host_veths | sort | tr '\n' ' ')"
	echo "store: $(cni_store_ips | sort | tr '\n' ' ')"
	for p in p1 p2; do
		echo "$p: $(ip -n "$H_RUN-$p" -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')"
	done
}
before=$(snapshot)
h_log "$before"
[ "$(cni_host_veths | wc -l)" = 2 ] && [ "$(cni_store_ips | wc -l)" = 2 ] ||
	h_fail "the probes do not see both attachments: $before"

# --- GC with malformed lists: code 7, nothing deleted
gc_bad() {
	local name=$1 conf out
	conf=$(jq -c "$2" <<<"$good")
	out=$(cni_run GC "" "" "" <<<"$conf") && h_fail "GC accepted $name"
	h_assert_eq 7 "$(cni_code "$out")" "GC $name (output: $out)"
	h_assert_eq "$before" "$(snapshot)" "GC $name: attachments"
	h_log "ok: GC $name -> 7 ($(jq -r .msg <<<"$out"))"
}
gc_bad "entries not objects" '. + {"cni.dev/valid-attachments": [1, "ctr-p1"]}'
gc_bad "containerID a number" '. + {"cni.dev/valid-attachments": [{containerID: 5, ifname: "eth0"}]}'
gc_bad "containerID null" '. + {"cni.dev/valid-attachments": [{containerID: null}]}'
gc_bad "containerID missing" '. + {"cni.dev/valid-attachments": [{ifname: "eth0"}]}'
gc_bad "containerID invalid" '. + {"cni.dev/valid-attachments": [{containerID: "../x"}]}'
gc_bad "ifname a number" '. + {"cni.dev/valid-attachments": [{containerID: "ctr-p1", ifname: 7}]}'
gc_bad "ifname invalid" '. + {"cni.dev/valid-attachments": [{containerID: "ctr-p1", ifname: "a/b"}]}'
gc_bad "one good, one bad" '. + {"cni.dev/valid-attachments": [{containerID: "ctr-p1", ifname: "eth0"}, []]}'
gc_bad "list an object" '. + {"cni.dev/valid-attachments": {containerID: "ctr-p1"}}'
gc_bad "list a string" '. + {"cni.dev/valid-attachments": "ctr-p1"}'
gc_bad "list null" '. + {"cni.dev/valid-attachments": null}'
gc_bad "list missing" '.'
gc_bad "old key malformed" '. + {"cni.dev/attachments": [{containerID: true}]}'

# Not provably weft's: a store entry whose owner is no container ID, and a
# port of the bridge with a weft alias that does not match its name.
printf 'not a container!\r\neth0' >"$STORE/10.244.3.200"
ip -n "$NODE" link add vethforeign type veth peer name xforeign
ip -n "$NODE" link set vethforeign master cni0 alias "weft:ctr-gone:eth0"

# A well-formed list works: p2 goes, p1 and the foreign things stay.
out=$(jq -c '. + {"cni.dev/valid-attachments": [{containerID: "ctr-p1", ifname: "eth0"}]}' \
	<<<"$good" | cni_run GC "" "" "") || h_fail "GC with a good list: $out"
h_assert_eq 1 "$(cni_host_veths | grep -vc vethforeign)" "GC: weft veths left"
h_assert_eq "$(grep '^p1:' <<<"$before")" "$(snapshot | grep '^p1:')" "GC: p1 intact"
p1ip=$(grep '^p1:' <<<"$before" | awk '{print $2}' | cut -d/ -f1)
h_assert_eq "$(printf '%s\n' 10.244.3.200 "$p1ip" | sort)" "$(cni_store_ips | sort)" "GC: store"
h_no_link "$H_RUN-p2" eth0 "GC left p2's interface"
test -e "$STORE/10.244.3.200" || h_fail "GC deleted an entry that is not provably weft's"
ip -n "$NODE" link show vethforeign >/dev/null 2>&1 || h_fail "GC deleted a port that is not weft's"
# An empty list: nothing is valid, every weft attachment goes.
out=$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$good" | cni_run GC "" "" "") ||
	h_fail "GC with an empty list: $out"
h_assert_eq "10.244.3.200" "$(cni_store_ips)" "store after the empty list"
h_assert_eq "vethforeign" "$(cni_host_veths)" "veths after the empty list"
ip -n "$NODE" link del vethforeign
rm "$STORE/10.244.3.200"

# --- store lock planted as a link (to a file, and dangling)
rm -f "$STORE/lock"
ln -s "$TARGET" "$STORE/lock"
out=$(cni_run ADD ctr-p1 p1 <<<"$good") && h_fail "ADD through a lock link"
jq -e '.msg | test("address store")' <<<"$out" >/dev/null || h_fail "lock link: $out"
h_log "lock link: $(jq -c . <<<"$out")"
target_intact "lock link"
rm "$STORE/lock"
ln -s "$H_TMP/created-by-lock" "$STORE/lock"
out=$(cni_run ADD ctr-p1 p1 <<<"$good") && h_fail "ADD through a dangling lock link"
jq -e '.msg | test("address store")' <<<"$out" >/dev/null || h_fail "dangling lock link: $out"
h_no_file "$H_TMP/created-by-lock" "the lock link's target was created"
rm "$STORE/lock"
mkfifo "$STORE/lock"
out=$(quick 5 cni_run ADD ctr-p1 p1 <<<"$good") && h_fail "ADD with a lock FIFO"
jq -e '.details | test("not a regular file")' <<<"$out" >/dev/null || h_fail "lock FIFO: $out"
rm "$STORE/lock"
h_assert_eq "" "$(cni_host_veths)" "nothing attached through a lock link"

# --- address cursor: a link is not followed, a FIFO is skipped at once
rm -f "$STORE/last_reserved_ip.0"
ln -s "$TARGET" "$STORE/last_reserved_ip.0"
out=$(quick 5 cni_run ADD ctr-p1 p1 <<<"$good") || h_fail "ADD with a cursor link: $out"
target_intact "cursor link"
cni_run DEL ctr-p1 p1 <<<"$good" || h_fail "DEL p1"
rm "$STORE/last_reserved_ip.0"
mkfifo "$STORE/last_reserved_ip.0"
out=$(quick 5 cni_run ADD ctr-p1 p1 <<<"$good") || h_fail "ADD with a cursor FIFO: $out"
# a FIFO named like an address: never read, never deleted
mkfifo "$STORE/10.244.3.201"
quick 5 cni_run DEL ctr-p1 p1 <<<"$good" || h_fail "DEL with a FIFO in the store"
out=$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$good" | quick 5 cni_run GC "" "" "") ||
	h_fail "GC with a FIFO in the store: $out"
test -p "$STORE/10.244.3.201" || h_fail "GC removed the FIFO"
rm "$STORE/10.244.3.201" "$STORE/last_reserved_ip.0"

# --- subnet.env: a FIFO fails at once, a link is read, 100 KB of comments are fine
mv "$SUBNET_FILE" "$SUBNET_FILE.real"
mkfifo "$SUBNET_FILE"
out=$(quick 5 cni_run ADD ctr-p1 p1 <<<"$good") && h_fail "ADD with a subnet.env FIFO"
h_assert_eq 7 "$(cni_code "$out")" "subnet.env FIFO code"
jq -e '.details | test("not a regular file")' <<<"$out" >/dev/null || h_fail "unclear: $out"
rm "$SUBNET_FILE"
ln -s "$SUBNET_FILE.real" "$SUBNET_FILE"
out=$(cni_run ADD ctr-p1 p1 <<<"$good") || h_fail "ADD with subnet.env a link: $out"
cni_run DEL ctr-p1 p1 <<<"$good" || h_fail "DEL p1"
rm "$SUBNET_FILE"
{
	for _ in $(seq 1600); do printf '# %061d\n' 0; done
	cat "$SUBNET_FILE.real"
} >"$SUBNET_FILE"
h_log "subnet.env with comments: $(stat -c %s "$SUBNET_FILE") bytes"
out=$(cni_run ADD ctr-p1 p1 <<<"$good") || h_fail "ADD with 100 KB of comments: $out"
cni_run DEL ctr-p1 p1 <<<"$good" || h_fail "DEL p1"
head -c 1100000 /dev/zero | tr '\0' '#' >"$SUBNET_FILE"
out=$(cni_run ADD ctr-p1 p1 <<<"$good") && h_fail "ADD with a 1.1 MB subnet.env"
jq -e '.details | test("larger than 1 MiB")' <<<"$out" >/dev/null || h_fail "unclear: $out"
mv "$SUBNET_FILE.real" "$SUBNET_FILE"

# --- CNI_NETNS: a link loop and a FIFO get their own messages, at once
ln -s "$H_TMP/loop-b" "$H_TMP/loop-a"
ln -s "$H_TMP/loop-a" "$H_TMP/loop-b"
out=$(cni_run ADD ctr-p1 "$H_TMP/loop-a" <<<"$good") && h_fail "ADD into a link loop"
h_assert_eq 4 "$(cni_code "$out")" "link loop code"
jq -e '(.msg | test("own namespace") | not) and (.details | test("symbolic links"))' \
	<<<"$out" >/dev/null || h_fail "link loop: $out"
mkfifo "$H_TMP/netns-fifo"
out=$(quick 5 cni_run ADD ctr-p1 "$H_TMP/netns-fifo" <<<"$good") && h_fail "ADD into a FIFO"
h_assert_eq 4 "$(cni_code "$out")" "FIFO netns code"
jq -e '.msg | test("not a network namespace")' <<<"$out" >/dev/null || h_fail "FIFO netns: $out"
h_assert_eq "" "$(cni_host_veths)" "nothing attached by the bad netns cases"
h_assert_eq 0 "$(cni_store_ips | wc -l)" "no reservation left by the bad cases"

# --- weftd's subnet.env write: links at the old temp name and at the path
h_etcd_start
h_net_config
envf=$(h_subnet_file 1)
ln -s "$TARGET" "$envf"
l_start 1
ln -s "$TARGET" "$envf.tmp.${L_PID[1]}"
h_wait_for 20 "subnet.env written" test -f "$envf" -a ! -L "$envf" ||
	h_fail "weftd wrote no subnet.env"
grep -q '^FLANNEL_SUBNET=' "$envf" || h_fail "subnet.env: $(cat "$envf")"
h_assert_eq 644 "$(stat -c %a "$envf")" "subnet.env mode"
target_intact "weftd's links"
test -L "$envf.tmp.${L_PID[1]}" || h_fail "the planted temp link is gone"
l_stop 1
exit 0
