#!/usr/bin/env bash
# CNI plugin on a dual-stack node (hand-written subnet.env, no weftd): one
# ADD gives a pod an address of each family, a default route per family via
# the bridge, no tentative address (no DAD wait); two pods ping each other
# over IPv6 at once; CHECK, DEL and GC cover both families; results for
# every version; 200 parallel ADDs give 200 distinct pairs; a full IPv6
# range fails the ADD with code 11 and leaves no IPv4 reservation behind;
# an IPv6-only node works too.
# labels: cni;root
# timeout: 420
source "$WEFT_SRC/tests/integration/cni_common.sh"
cni_setup

# cni_subnet6 GW4/LEN GW6/LEN: a dual-stack file ("" for GW4: IPv6 only).
cni_subnet6() {
	{
		[ -z "$1" ] || printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=%s\n' "$1"
		printf 'FLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=%s\n' "$2"
		printf 'FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n'
	} >"$SUBNET_FILE"
}
store6() { ls "$DATA_DIR/$NET" 2>/dev/null | grep -c ':' || true; }
store4() { cni_store_ips | wc -l; }
cni_subnet6 10.244.3.1/24 fd00:10:244:3::1/64

# --- ADD two pods
h_log "== dual-stack ADD"
cni_pod p1
cni_pod p2
r1=$(cni_conf | cni_run ADD ds-1 p1) || h_fail "ADD p1: $r1"
# Straight after ADD: nothing tentative in the pod (no DAD to wait for).
h_assert_eq "" "$(ip -n "$H_RUN-p1" -6 addr show tentative)" "tentative addresses after ADD"
r2=$(cni_conf | cni_run ADD ds-2 p2) || h_fail "ADD p2: $r2"
h_assert_eq "" "$(ip -n "$H_RUN-p2" -6 addr show tentative)" "tentative addresses after ADD"
h_assert_eq 2 "$(jq '.ips | length' <<<"$r1")" "two ips in the result"
a4=$(jq -r '.ips[0].address' <<<"$r1")
a6=$(jq -r '.ips[1].address' <<<"$r1")
b6=$(jq -r '.ips[1].address' <<<"$r2")
h_log "p1 $a4 $a6, p2 $b6"
case $a4 in 10.244.3.*/24) ;; *) h_fail "IPv4 address $a4 outside the subnet" ;; esac
case $a6 in fd00:10:244:3::*/64) ;; *) h_fail "IPv6 address $a6 outside the subnet" ;; esac
[ "$a6" != "$b6" ] || h_fail "same IPv6 address twice"
h_assert_eq fd00:10:244:3::1 "$(jq -r '.ips[1].gateway' <<<"$r1")" "IPv6 gateway"
h_assert_eq 2 "$(jq -r '.ips[1].interface' <<<"$r1")" "IPv6 ips[].interface"
h_assert_eq null "$(jq -r '.ips[1].version' <<<"$r1")" "1.0.0 has no ips[].version"
h_assert_eq '[{"dst":"0.0.0.0/0","gw":"10.244.3.1"},{"dst":"::/0","gw":"fd00:10:244:3::1"}]' \
	"$(jq -c .routes <<<"$r1")" "routes"
# Kernel state: both addresses, both default routes, bridge gateway of both.
ip -n "$H_RUN-p1" -6 -o addr show dev eth0 scope global | h_grep "$a6" || h_fail "pod lacks $a6"
ip -n "$H_RUN-p1" -4 -o addr show dev eth0 | h_grep "$a4" || h_fail "pod lacks $a4"
ip -n "$H_RUN-p1" -6 route show default | h_grep 'via fd00:10:244:3::1' || h_fail "no IPv6 default"
ip -n "$H_RUN-p1" -4 route show default | h_grep 'via 10.244.3.1' || h_fail "no IPv4 default"
ip -n "$NODE" -6 -o addr show cni0 | h_grep 'fd00:10:244:3::1/64' || h_fail "bridge lacks the v6 gw"
ip -n "$NODE" -4 -o addr show cni0 | h_grep '10.244.3.1/24' || h_fail "bridge lacks the v4 gw"
h_assert_eq 1 "$(ip netns exec "$NODE" cat /proc/sys/net/ipv6/conf/all/forwarding)" "v6 forwarding"
# Store: host-local's layout for two ranges.
h_assert_eq "$(printf 'ds-1\r\neth0')" "$(cat "$DATA_DIR/$NET/${a6%/*}")" "IPv6 store file"
h_assert_eq "${b6%/*}" "$(cat "$DATA_DIR/$NET/last_reserved_ip.1")" "last_reserved_ip.1"
h_assert_eq "$(jq -r '.ips[0].address' <<<"$r2" | cut -d/ -f1)" \
	"$(cat "$DATA_DIR/$NET/last_reserved_ip.0")" "last_reserved_ip.0"
# IPv6 between pods through the bridge, at once (the probe first works on IPv4).
ip netns exec "$H_RUN-p1" ping -c1 -W2 "$(jq -r '.ips[0].address' <<<"$r2" | cut -d/ -f1)" \
	>/dev/null || h_fail "p1 cannot ping p2 over IPv4"
ip netns exec "$H_RUN-p1" ping -6 -c1 -W2 "${b6%/*}" >/dev/null || h_fail "p1 cannot ping p2 over IPv6"
ip netns exec "$H_RUN-p2" ping -6 -c1 -W2 "${a6%/*}" >/dev/null || h_fail "p2 cannot ping p1 over IPv6"
ip netns exec "$H_RUN-p1" ping -6 -c1 -W2 fd00:10:244:3::1 >/dev/null || h_fail "p1 cannot ping the v6 gw"

# --- CHECK
h_log "== CHECK"
c1=$(cni_with_prev "$(cni_conf)" "$r1")
cni_run CHECK ds-1 p1 <<<"$c1" >/dev/null || h_fail "CHECK of a good dual-stack attachment"
ip -n "$H_RUN-p1" -6 route del default
out=$(cni_run CHECK ds-1 p1 <<<"$c1") && h_fail "CHECK passed without the IPv6 route"
jq -e '.msg | test("::/0")' <<<"$out" >/dev/null || h_fail "CHECK message: $out"
ip -n "$H_RUN-p1" -6 route add default via fd00:10:244:3::1 dev eth0
cni_run CHECK ds-1 p1 <<<"$c1" >/dev/null || h_fail "CHECK after restoring the route"
ip -n "$H_RUN-p1" -6 addr del "$a6" dev eth0
out=$(cni_run CHECK ds-1 p1 <<<"$c1") && h_fail "CHECK passed without the IPv6 address"
jq -e '.msg | test("missing")' <<<"$out" >/dev/null || h_fail "CHECK message: $out"

# --- results per version
h_log "== results per version"
cni_pod pv
for v in 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
	r=$(CNI_VERSION=$v cni_conf | cni_run ADD "ver-$v" pv) || h_fail "ADD $v: $r"
	h_assert_eq "$v" "$(jq -r .cniVersion <<<"$r")" "cniVersion $v"
	if [[ $v == 0.* ]]; then want='["4","6"]'; else want='[null,null]'; fi
	h_assert_eq "$want" "$(jq -c '[.ips[].version]' <<<"$r")" "ips[].version for $v"
	h_assert_eq 2 "$(jq '[.ips[] | select(.interface == 2)] | length' <<<"$r")" "ips for $v"
	CNI_VERSION=$v cni_conf | cni_run DEL "ver-$v" pv || h_fail "DEL $v"
done

# --- DEL
h_log "== DEL"
cni_conf | cni_run DEL ds-2 p2 || h_fail "DEL p2"
[ ! -e "$DATA_DIR/$NET/${b6%/*}" ] || h_fail "IPv6 reservation kept after DEL"
cni_conf | cni_run DEL ds-2 p2 || h_fail "second DEL p2"
h_assert_eq 1 "$(store6)" "IPv6 reservations after DEL"
h_assert_eq 1 "$(store4)" "IPv4 reservations after DEL"

# --- GC: only ds-1 stays valid; a stale pair of ds-9 goes.
h_log "== GC"
printf 'ds-9\r\neth0' >"$DATA_DIR/$NET/fd00:10:244:3::99"
printf 'ds-9\r\neth0' >"$DATA_DIR/$NET/10.244.3.99"
printf 'not a container id!' >"$DATA_DIR/$NET/fd00:10:244:3::98"
CNI_VERSION=1.1.0 cni_conf '. + {"cni.dev/valid-attachments": [{containerID: "ds-1", ifname: "eth0"}]}' |
	cni_run GC "" "" "" || h_fail "GC"
[ ! -e "$DATA_DIR/$NET/fd00:10:244:3::99" ] || h_fail "GC kept a stale IPv6 reservation"
[ ! -e "$DATA_DIR/$NET/10.244.3.99" ] || h_fail "GC kept a stale IPv4 reservation"
[ -e "$DATA_DIR/$NET/fd00:10:244:3::98" ] || h_fail "GC removed a file that is not a reservation"
[ -e "$DATA_DIR/$NET/${a6%/*}" ] || h_fail "GC removed a valid IPv6 reservation"
rm -f "$DATA_DIR/$NET/fd00:10:244:3::98"
cni_conf | cni_run DEL ds-1 p1 || h_fail "DEL p1"
h_assert_eq 0 "$(store6)" "IPv6 reservations at the end"
h_assert_eq 0 "$(store4)" "IPv4 reservations at the end"

# --- a full IPv6 range: code 11, and no IPv4 reservation left behind
h_log "== full IPv6 range"
cni_subnet6 10.244.3.1/24 fd00:10:244:3::1/126
cni_pod f1
cni_pod f2
cni_pod f3
rf1=$(cni_conf | cni_run ADD full-1 f1) || h_fail "ADD f1: $rf1"
rf2=$(cni_conf | cni_run ADD full-2 f2) || h_fail "ADD f2: $rf2"
h_assert_eq 2 "$(store4)" "IPv4 reservations of the two pods (the probe counts)"
c4=$(cat "$DATA_DIR/$NET/last_reserved_ip.0")
out=$(cni_conf | cni_run ADD full-3 f3) && h_fail "ADD succeeded in a full IPv6 range"
h_assert_eq 11 "$(cni_code "$out")" "code of a full range"
h_assert_eq 2 "$(store4)" "IPv4 reservations after the refused ADD"
h_assert_eq 2 "$(store6)" "IPv6 reservations after the refused ADD"
h_assert_eq "$c4" "$(cat "$DATA_DIR/$NET/last_reserved_ip.0")" "IPv4 cursor after the refused ADD"
h_assert_eq "" "$(ip -n "$H_RUN-f3" -o link show eth0 2>/dev/null)" "no eth0 in the refused pod"
for i in 1 2; do cni_conf | cni_run DEL "full-$i" "f$i" || h_fail "DEL f$i"; done

# --- IPv6-only node
h_log "== IPv6-only node"
cni_subnet6 "" fd00:10:244:3::1/64
r=$(cni_conf | cni_run ADD v6-1 f1) || h_fail "IPv6-only ADD: $r"
h_assert_eq 1 "$(jq '.ips | length' <<<"$r")" "one address on an IPv6-only node"
case $(jq -r '.ips[0].address' <<<"$r") in fd00:10:244:3::*/64) ;; *) h_fail "IPv6-only result: $r" ;; esac
h_assert_eq "" "$(ip -n "$H_RUN-f1" -4 -o addr show dev eth0)" "no IPv4 address on an IPv6-only node"
ip netns exec "$H_RUN-f1" ping -6 -c1 -W2 fd00:10:244:3::1 >/dev/null || h_fail "IPv6-only pod cannot ping the gw"
cni_run CHECK v6-1 f1 <<<"$(cni_with_prev "$(cni_conf)" "$r")" >/dev/null || h_fail "IPv6-only CHECK"
cni_conf | cni_run DEL v6-1 f1 || h_fail "IPv6-only DEL"
h_assert_eq 0 "$(store6)" "IPv6 reservations after the IPv6-only DEL"

# --- 200 parallel dual-stack ADDs
N=${CNI_PARALLEL:-200}
h_log "== $N parallel dual-stack ADDs"
cni_subnet6 10.244.3.1/24 fd00:10:244:3::1/64
conf=$(cni_conf)
del_pods() { seq 1 "$N" | sed "s/^/netns del $H_RUN-q/" | ip -force -batch - 2>/dev/null; }
h_on_cleanup del_pods
seq 1 "$N" | sed "s/^/netns add $H_RUN-q/" | ip -batch - || h_fail "creating pod namespaces"
mkdir -p "$H_TMP/out"
pids=()
for i in $(seq 1 "$N"); do
	cni_run ADD "par-$i" "q$i" <<<"$conf" >"$H_TMP/out/$i" 2>/dev/null &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
[ "$fails" -eq 0 ] || { cat "$H_TMP"/out/* | grep code | head -3 >&2; h_fail "$fails ADDs failed"; }
(cd "$H_TMP/out" && jq -r '"\(.ips[0].address) \(.ips[1].address)"' $(seq 1 "$N")) >"$H_TMP/pairs" ||
	h_fail "unreadable results"
h_assert_eq "$N" "$(awk '{print $1}' "$H_TMP/pairs" | sort -u | grep -c /24)" "distinct IPv4 addresses"
h_assert_eq "$N" "$(awk '{print $2}' "$H_TMP/pairs" | sort -u | grep -c /64)" "distinct IPv6 addresses"
h_assert_eq "$N" "$(store6)" "IPv6 store files"
h_assert_eq "$N" "$(store4)" "IPv4 store files"
pids=()
for i in $(seq 1 "$N"); do
	cni_run DEL "par-$i" "q$i" <<<"$conf" >/dev/null 2>&1 &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
h_assert_eq 0 "$fails" "failed parallel DELs"
h_assert_eq 0 "$(store6)" "IPv6 store after the DELs"
h_assert_eq 0 "$(store4)" "IPv4 store after the DELs"
exit 0
