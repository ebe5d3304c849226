#!/usr/bin/env bash
# 200 ADDs at once on one node (/24): 200 distinct addresses, every store
# file intact, every pod wired; then 200 DELs at once leave the store and the
# bridge empty.
# labels: cni;root
# timeout: 300
source "$WEFT_SRC/tests/integration/cni_common.sh"
cni_setup
N=${CNI_PARALLEL:-200}
conf=$(cni_conf)

h_log "creating $N pod namespaces"
del_pods() { seq 1 "$N" | sed "s/^/netns del $H_RUN-q/" | ip -force -batch - 2>/dev/null; }
h_on_cleanup del_pods
seq 1 "$N" | sed "s/^/netns add $H_RUN-q/" | ip -batch - || h_fail "creating pod namespaces"

mkdir -p "$H_TMP/out" "$H_TMP/err"
start=$(date +%s%N)
pids=()
for i in $(seq 1 "$N"); do
	cni_run ADD "par-$i" "q$i" <<<"$conf" >"$H_TMP/out/$i" 2>"$H_TMP/err/$i" &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do
	wait "$p" || fails=$((fails + 1))
done
h_log "$N parallel ADDs: $(( ($(date +%s%N) - start) / 1000000 )) ms wall, $fails failed"
if [ "$fails" -gt 0 ]; then
	cat "$H_TMP"/out/* | grep code | head -5 >&2
	h_fail "$fails ADDs failed"
fi

# One jq for all results: "<i> <address>" per pod.
(cd "$H_TMP/out" && jq -r '"\(input_filename) \(.ips[0].address)"' $(seq 1 "$N")) >"$H_TMP/addrs" ||
	h_fail "unreadable results"
h_assert_eq "$N" "$(awk '{print $2}' "$H_TMP/addrs" | sort -u | grep -c /24)" \
	"distinct addresses in results"
h_assert_eq "$N" "$(cni_store_ips | wc -l)" "store files"
while read -r i a; do
	h_assert_eq "par-$i"$'\r\n'eth0 "$(<"$DATA_DIR/$NET/${a%/*}")" "store file of $i"
done <"$H_TMP/addrs"
h_assert_eq "$N" "$(cni_host_veths | wc -l)" "host veths"
# Every pod has its address (a sample pings across the bridge).
for i in 1 $((N / 2)) "$N"; do
	a=$(awk -v i="$i" '$1 == i {print $2}' "$H_TMP/addrs")
	ip -n "$H_RUN-q$i" -4 -o addr show eth0 | h_grep "$a" || h_fail "pod $i lacks $a"
	ip netns exec "$H_RUN-q1" ping -c1 -W2 "${a%/*}" >/dev/null || h_fail "ping pod $i"
done

start=$(date +%s%N)
pids=()
for i in $(seq 1 "$N"); do
	cni_run DEL "par-$i" "q$i" <<<"$conf" >"$H_TMP/err/del$i" 2>&1 &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do
	wait "$p" || fails=$((fails + 1))
done
h_log "$N parallel DELs: $(( ($(date +%s%N) - start) / 1000000 )) ms wall, $fails failed"
[ "$fails" -eq 0 ] || { head -3 "$H_TMP"/err/del* >&2; h_fail "$fails DELs failed"; }
h_assert_eq 0 "$(cni_store_ips | wc -l)" "store after DELs"
h_assert_eq "" "$(cni_host_veths)" "host veths after DELs"
h_assert_eq "lock last_reserved_ip.0" "$(ls "$DATA_DIR/$NET" | LC_ALL=C sort -r | xargs)" "store contents"
exit 0
