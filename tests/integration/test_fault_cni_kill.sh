#!/usr/bin/env bash
# 50 ADDs are started at once on one node; half of the plugin processes are
# killed with -9 at moments spread over the time an ADD takes (some before
# they reserved an address, some between reservation, veth and alias, some
# almost done). Then, as a runtime would: GC with the finished attachments
# as the valid list frees every address of the killed ones, a DEL of each
# killed id removes what GC cannot attribute (a veth whose ADD died before
# it got its alias), and nothing leaks: the store holds exactly the
# finished attachments, the bridge exactly their veths, no pod of a killed
# ADD keeps an interface. Killed ids can be added again, and a GC with
# an empty list leaves the store and the bridge empty.
# labels: fault;cni;root
# timeout: 300
source "$WEFT_SRC/tests/integration/cni_common.sh"
cni_setup
N=50
CNI_VERSION=1.1.0
conf=$(cni_conf)
# Kill delays are spread over the time one ADD takes here (measured).
cni_pod cal
t=$(date +%s%N)
cni_conf | cni_run ADD cal cal >/dev/null || h_fail "calibration ADD"
SPAN_MS=$((($(date +%s%N) - t) / 1000000))
cni_conf | cni_run DEL cal cal >/dev/null || h_fail "calibration DEL"
PLUGIN=$(readlink -f "$WEFT_BIN/weft")
h_log "one ADD takes $SPAN_MS ms: kills land 0..$SPAN_MS ms after the plugin started"
for i in $(seq 1 "$N"); do
	ip netns add "$H_RUN-k$i" || h_fail "netns $i"
done
del_pods() {
	local k
	for k in $(seq 1 "$N"); do
		ip netns del "$H_RUN-k$k" 2>/dev/null
	done
}
h_on_cleanup del_pods

# The plugin itself is the background job: ip netns exec and env exec it.
add_bg() {
	ip netns exec "$NODE" env CNI_COMMAND=ADD CNI_CONTAINERID="kill-$1" \
		CNI_NETNS="/run/netns/$H_RUN-k$1" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
		"$WEFT_BIN/weft" <<<"$conf" >"$H_TMP/out/$1" 2>"$H_TMP/err/$1" &
	PID[$1]=$!
	H_PIDS+=("$!")
}

# par_run CMD I...: the plugin for kill-I, all at once; fails if one does.
par_run() {
	local cmd=$1 i p rc=0 pids=()
	shift
	for i in "$@"; do
		cni_conf | cni_run "$cmd" "kill-$i" "k$i" >"$H_TMP/$cmd/$i" &
		pids+=("$!")
	done
	for p in "${pids[@]}"; do
		wait "$p" || rc=1
	done
	[ "$cmd" = ADD ] && for i in "$@"; do
		cp "$H_TMP/$cmd/$i" "$H_TMP/out/$i"
	done
	return $rc
}

mkdir -p "$H_TMP/out" "$H_TMP/err" "$H_TMP/ADD" "$H_TMP/DEL"
declare -A PID RC
start=$(date +%s%N)
killers=()
for i in $(seq 1 "$N"); do
	add_bg "$i"
	# Odd ones die once the plugin runs (not ip or env before it), after
	# delays spread evenly over the time one ADD takes.
	if [ $((i % 2)) = 1 ]; then
		d=$(((i / 2) * SPAN_MS / (N / 2)))
		(
			p=${PID[$i]}
			until [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$PLUGIN" ]; do
				kill -0 "$p" 2>/dev/null || exit 0
				sleep 0.01
			done
			sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
			kill -KILL "$p" 2>/dev/null
		) &
		killers+=("$!")
		H_PIDS+=("$!")
	fi
done
for i in $(seq 1 "$N"); do
	wait "${PID[$i]}"
	RC[$i]=$?
done
for p in "${killers[@]}"; do
	wait "$p"
done
h_log "$N ADDs with kills: $((($(date +%s%N) - start) / 1000000)) ms wall"
done_ids=() killed=() failed=0
for i in $(seq 1 "$N"); do
	case ${RC[$i]} in
	0) done_ids+=("$i") ;;
	137) killed+=("$i") ;;
	*)
		failed=$((failed + 1))
		h_log "ADD $i exited ${RC[$i]}: $(cat "$H_TMP/out/$i")"
		;;
	esac
done
h_log "finished ${#done_ids[@]}, killed ${#killed[@]}, failed otherwise $failed"
[ "$failed" -eq 0 ] || h_fail "ADDs failed without being killed"
[ "${#killed[@]}" -ge 10 ] || h_fail "only ${#killed[@]} ADDs were still running when killed"

# What the kills left behind, before any cleanup: store owners and host
# veth aliases (a pod interface exists exactly while its host veth does).
owned_by() { grep -l "^kill-$1"$'\r' "$DATA_DIR/$NET"/[0-9]* 2>/dev/null; }
veths_on_bridge() {
	ip -n "$NODE" -o link show master cni0 type veth 2>/dev/null | awk -F': ' '{print $2}' |
		cut -d@ -f1
}
aliases() {
	ip -n "$NODE" -o link show master cni0 type veth 2>/dev/null |
		awk '{a = "-"; for (i = 1; i < NF; i++) if ($i == "alias") a = $(i + 1); print a}'
}
owners=$(awk 'FNR == 1 {sub(/\r$/, ""); print}' "$DATA_DIR/$NET"/[0-9]* 2>/dev/null)
al=$(aliases)
debris_ip=0 debris_veth=0
for i in "${killed[@]}"; do
	grep -qx "kill-$i" <<<"$owners" && debris_ip=$((debris_ip + 1))
	grep -qx "weft:kill-$i:eth0" <<<"$al" && debris_veth=$((debris_veth + 1))
done
no_alias=$(grep -cx -- - <<<"$al")
h_log "killed ADDs left $debris_ip reserved addresses, $debris_veth veth pairs," \
	"$no_alias veths without alias"
[ $((debris_ip + debris_veth + no_alias)) -gt 0 ] || h_fail "no kill landed in the middle of an ADD"

# --- GC keeps the finished attachments, frees the rest
valid=$(for i in "${done_ids[@]}"; do echo "kill-$i"; done |
	jq -R '{containerID: ., ifname: "eth0"}' | jq -sc .)
cni_conf ". + {\"cni.dev/valid-attachments\": $valid}" | cni_run GC "" "" "" >"$H_TMP/gc.out" ||
	h_fail "GC: $(cat "$H_TMP/gc.out")"
h_assert_eq "${#done_ids[@]}" "$(cni_store_ips | wc -l)" "reserved addresses after GC"
for i in "${killed[@]}"; do
	owned_by "$i" >/dev/null && h_fail "GC left the address of killed ADD $i"
done
left=$(veths_on_bridge | wc -l)
h_log "after GC: $(cni_store_ips | wc -l) addresses, $left veths on cni0" \
	"(${#done_ids[@]} finished attachments)"
# GC removes every veth it can attribute; only alias-less ones may stay.
h_assert_eq $((${#done_ids[@]} + no_alias)) "$left" "veths on cni0 after GC"

# --- DEL of every killed id, as the runtime does after a failed ADD
t=$(date +%s%N)
par_run DEL "${killed[@]}" || h_fail "a DEL of a killed id failed"
h_log "${#killed[@]} DELs of killed ids: $((($(date +%s%N) - t) / 1000000)) ms wall"
h_assert_eq "${#done_ids[@]}" "$(cni_store_ips | wc -l)" "reserved addresses after DEL"
h_assert_eq "${#done_ids[@]}" "$(veths_on_bridge | wc -l)" "veths on cni0 after DEL"
h_assert_eq "${#done_ids[@]}" "$(cni_host_veths | wc -l)" "veths in the node after DEL"
for i in "${killed[@]}"; do
	h_no_link "$H_RUN-k$i" eth0 "pod $i keeps an eth0"
done
for i in "${done_ids[@]}"; do
	a=$(jq -r '.ips[0].address' "$H_TMP/out/$i")
	h_assert_eq "$(printf 'kill-%s\r\neth0' "$i")" "$(cat "$DATA_DIR/$NET/${a%/*}")" "store file of $i"
	ip -n "$H_RUN-k$i" -4 -o addr show eth0 | h_grep "$a" || h_fail "pod $i lost $a"
done
extra=$(ls -A "$DATA_DIR/$NET" | grep -Ev '^([0-9]+\.){3}[0-9]+$|^lock$|^last_reserved_ip\.0$' || true)
h_assert_eq "" "$extra" "stray files in the store"

# --- killed ids work again (a sample); then GC of everything
again=("${killed[@]: -5}") # the latest kills left the most behind
par_run ADD "${again[@]}" || h_fail "adding a killed id again failed"
h_log "${#again[@]} killed ids added again"
total=$((${#done_ids[@]} + ${#again[@]}))
h_assert_eq "$total" "$(cni_store_ips | wc -l)" "reserved addresses after re-adding"
h_assert_eq "$total" "$(for i in "${done_ids[@]}" "${again[@]}"; do
	jq -r '.ips[0].address' "$H_TMP/out/$i"
done | sort -u | wc -l)" "distinct addresses"
cni_conf '. + {"cni.dev/valid-attachments": []}' | cni_run GC "" "" "" >"$H_TMP/gc.out" ||
	h_fail "GC of all: $(cat "$H_TMP/gc.out")"
h_assert_eq 0 "$(cni_store_ips | wc -l)" "store after GC of all"
h_assert_eq "" "$(cni_host_veths)" "host veths after GC of all"
h_assert_eq "lock last_reserved_ip.0" "$(ls "$DATA_DIR/$NET" | LC_ALL=C sort -r | xargs)" \
	"store contents"
exit 0
