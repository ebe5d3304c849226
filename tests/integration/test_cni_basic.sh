#!/usr/bin/env bash
# CNI plugin on one node: ADD for two pods (they ping each other and the
# gateway), results shaped like Debian's bridge + host-local for every
# version, CHECK, DEL (idempotent, without netns, without subnet.env),
# VERSION, STATUS and GC.
# labels: cni;root
# timeout: 420
source "$WEFT_SRC/tests/integration/cni_common.sh"
cni_setup

# --- VERSION and STATUS
h_log "== VERSION and STATUS"
out=$(CNI_COMMAND=VERSION "$WEFT_BIN/weft" <<<'{"cniVersion":"0.4.0"}') || h_fail "VERSION"
h_assert_eq 0.4.0 "$(jq -r .cniVersion <<<"$out")" "VERSION echoes the asked version"
h_assert_eq '["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]' "$(jq -c .supportedVersions <<<"$out")" \
	"supported versions"
out=$(CNI_COMMAND=VERSION "$WEFT_BIN/weft" </dev/null) || h_fail "VERSION without stdin"

CNI_VERSION=1.1.0
mv "$SUBNET_FILE" "$SUBNET_FILE.off"
out=$(cni_conf | cni_run STATUS "" "" "") && h_fail "STATUS ready without subnet.env"
h_assert_eq 50 "$(cni_code "$out")" "STATUS code without subnet.env"
mv "$SUBNET_FILE.off" "$SUBNET_FILE"
cni_conf | cni_run STATUS "" "" "" || h_fail "STATUS with subnet.env"
CNI_VERSION=1.0.0

# --- ADD two pods
h_log "== ADD two pods"
cni_pod p1
cni_pod p2
r1=$(cni_conf | cni_run ADD ctr-1 p1) || h_fail "ADD p1: $r1"
r2=$(cni_conf | cni_run ADD ctr-2 p2) || h_fail "ADD p2: $r2"
a1=$(jq -r '.ips[0].address' <<<"$r1")
a2=$(jq -r '.ips[0].address' <<<"$r2")
h_log "p1 $a1, p2 $a2"
[ "$a1" != "$a2" ] || h_fail "same address twice"
for a in "$a1" "$a2"; do
	case $a in 10.244.3.*/24) ;; *) h_fail "address $a outside the node subnet" ;; esac
done
h_assert_eq 10.244.3.1 "$(jq -r '.ips[0].gateway' <<<"$r1")" "gateway"
h_assert_eq 2 "$(jq -r '.ips[0].interface' <<<"$r1")" "ips[].interface"
h_assert_eq "/run/netns/$H_RUN-p1" "$(jq -r '.interfaces[2].sandbox' <<<"$r1")" "sandbox"
h_assert_eq cni0 "$(jq -r '.interfaces[0].name' <<<"$r1")" "bridge name"
# MACs in the result are the real ones.
h_assert_eq "$(ip -n "$H_RUN-p1" -j link show eth0 | jq -r '.[0].address')" \
	"$(jq -r '.interfaces[2].mac' <<<"$r1")" "pod MAC"
hv=$(jq -r '.interfaces[1].name' <<<"$r1")
h_assert_eq "$(ip -n "$NODE" -j link show "$hv" | jq -r '.[0].address')" \
	"$(jq -r '.interfaces[1].mac' <<<"$r1")" "host veth MAC"
h_assert_eq "$(ip -n "$NODE" -j link show cni0 | jq -r '.[0].address')" \
	"$(jq -r '.interfaces[0].mac' <<<"$r1")" "bridge MAC"
# Kernel state: bridge address, hairpin, alias, MTU, lo, routes, forwarding.
ip -n "$NODE" -4 -o addr show cni0 | h_grep '10.244.3.1/24' || h_fail "bridge lacks the gateway"
ip -n "$NODE" -d -j link show "$hv" | jq -e '.[0].linkinfo.info_slave_data.hairpin == true' \
	>/dev/null || h_fail "hairpin off"
h_assert_eq "weft:ctr-1:eth0" "$(ip -n "$NODE" -j link show "$hv" | jq -r '.[0].ifalias')" "alias"
h_assert_eq 1450 "$(ip -n "$H_RUN-p1" -j link show eth0 | jq -r '.[0].mtu')" "pod MTU"
ip -n "$H_RUN-p1" -j link show lo | jq -e '.[0].flags | index("UP")' >/dev/null || h_fail "lo down"
ip -n "$H_RUN-p1" route show default | h_grep 'via 10.244.3.1' || h_fail "no default route"
h_assert_eq 1 "$(ip netns exec "$NODE" cat /proc/sys/net/ipv4/ip_forward)" "ip_forward"
h_assert_eq "$(printf 'ctr-1\r\neth0')" "$(cat "$DATA_DIR/$NET/${a1%/*}")" "store file"
h_assert_eq "${a2%/*}" "$(cat "$DATA_DIR/$NET/last_reserved_ip.0")" "last_reserved_ip.0"

ip netns exec "$H_RUN-p1" ping -c1 -W2 "${a2%/*}" >/dev/null || h_fail "p1 cannot ping p2"
ip netns exec "$H_RUN-p2" ping -c1 -W2 "${a1%/*}" >/dev/null || h_fail "p2 cannot ping p1"
ip netns exec "$H_RUN-p1" ping -c1 -W2 10.244.3.1 >/dev/null || h_fail "p1 cannot ping the gateway"

# --- same attachment twice, and an ifname that exists: refused, nothing leaks
h_log "== same attachment twice, and an ifname that exists: refused, nothing leaks"
out=$(cni_conf | cni_run ADD ctr-1 p1) && h_fail "second ADD of one attachment succeeded"
h_assert_eq 999 "$(cni_code "$out")" "second ADD of one attachment ($out)"
out=$(cni_conf | cni_run ADD ctr-9 p1) && h_fail "ADD over an existing eth0 succeeded"
jq -e '.msg | test("exists")' <<<"$out" >/dev/null || h_fail "unclear message: $out"
h_assert_eq 2 "$(cni_store_ips | wc -l)" "reservations after refused ADDs"

# --- CHECK
h_log "== CHECK"
c1=$(cni_with_prev "$(cni_conf)" "$r1")
cni_run CHECK ctr-1 p1 <<<"$c1" || h_fail "CHECK of a good attachment"
ip -n "$H_RUN-p1" route del default
out=$(cni_run CHECK ctr-1 p1 <<<"$c1") && h_fail "CHECK passed without the route"
jq -e '.msg | test("route 0.0.0.0/0")' <<<"$out" >/dev/null || h_fail "unclear CHECK error: $out"
ip -n "$H_RUN-p1" route add default via 10.244.3.1
cni_run CHECK ctr-1 p1 <<<"$c1" || h_fail "CHECK after restoring the route"
ip -n "$H_RUN-p1" addr del "$a1" dev eth0
out=$(cni_run CHECK ctr-1 p1 <<<"$c1") && h_fail "CHECK passed without the address"
jq -e '.msg | test("address '"$a1"' missing")' <<<"$out" >/dev/null ||
	h_fail "unclear CHECK error: $out"
out=$(cni_run CHECK ctr-1 p1 <<<"$(cni_conf)") && h_fail "CHECK without prevResult passed"
h_assert_eq 7 "$(cni_code "$out")" "CHECK without prevResult"

# --- DEL: frees the address and the veth; twice; without netns; without subnet.env
h_log "== DEL: frees the address and the veth; twice; without netns; without subnet.env"
cni_run DEL ctr-1 p1 <<<"$c1" || h_fail "DEL p1"
h_no_file "$DATA_DIR/$NET/${a1%/*}" "DEL left the reservation"
h_no_link "$NODE" "$hv" "DEL left the host veth"
h_no_link "$H_RUN-p1" eth0 "DEL left the pod interface"
cni_run DEL ctr-1 p1 <<<"$c1" || h_fail "second DEL"
ip netns del "$H_RUN-p2"
mv "$SUBNET_FILE" "$SUBNET_FILE.off"
cni_conf | cni_run DEL ctr-2 "" || h_fail "DEL without netns and subnet.env"
mv "$SUBNET_FILE.off" "$SUBNET_FILE"
cni_conf | cni_run DEL ctr-2 p2 || h_fail "DEL with a vanished netns path"
h_assert_eq 0 "$(cni_store_ips | wc -l)" "reservations after DELs"
h_assert_eq "" "$(cni_host_veths)" "host veths after DELs"
# An ADD that died after creating the veth but before naming it: DEL still
# recognises the veth (no alias yet) and frees everything.
cni_pod p3
r3=$(cni_conf | cni_run ADD ctr-3 p3) || h_fail "ADD p3: $r3"
ip -n "$NODE" link set dev "$(jq -r '.interfaces[1].name' <<<"$r3")" alias ""
cni_conf | cni_run DEL ctr-3 p3 || h_fail "DEL after a half-done ADD"
h_assert_eq 0 "$(cni_store_ips | wc -l)" "reservations after DEL of a half-done ADD"
h_assert_eq "" "$(cni_host_veths)" "host veths after DEL of a half-done ADD"
# An ADD that died right after reserving: only the store file exists.
printf 'ctr-dead\r\neth0' >"$DATA_DIR/$NET/10.244.3.250"
cni_conf | cni_run DEL ctr-dead "" || h_fail "DEL of a reservation without veth"
h_no_file "$DATA_DIR/$NET/10.244.3.250" "DEL left a reservation without veth"
# A veth of that name owned by another attachment is not touched.
r3=$(cni_conf | cni_run ADD ctr-3 p3) || h_fail "ADD p3 again: $r3"
ip -n "$NODE" link set dev "$(jq -r '.interfaces[1].name' <<<"$r3")" alias "weft:someone:else"
cni_conf | cni_run DEL ctr-3 p3 || h_fail "DEL next to a foreign veth"
h_assert_eq 1 "$(cni_host_veths | wc -l)" "foreign veth kept"
ip -n "$NODE" link del "$(jq -r '.interfaces[1].name' <<<"$r3")"

# --- result shape per version, against Debian's bridge + host-local
h_log "== result shape per version, against Debian's bridge + host-local"
keys() { jq -c '[paths | map(if type == "number" then 0 else . end)] | unique'; }
ref_conf() {
	jq -c --arg v "$1" --arg dd "$H_TMP/ref" '{cniVersion: $v, name: "refnet", type: "bridge",
		bridge: "refbr0", isGateway: true, isDefaultGateway: true, hairpinMode: true,
		ipam: {type: "host-local", dataDir: $dd, ranges: [[{subnet: "10.99.0.0/24"}]]}}' <<<'{}'
}
i=0
for v in 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
	i=$((i + 1))
	cni_pod "v$i"
	cni_pod "r$i"
	mine=$(CNI_VERSION=$v cni_conf | cni_run ADD "ver-$i" "v$i") || h_fail "ADD $v: $mine"
	h_assert_eq "$v" "$(jq -r .cniVersion <<<"$mine")" "result version"
	refv=$v
	[ "$v" = 1.1.0 ] && refv=1.0.0 # Debian's plugins stop at 1.0.0; 1.1 kept the shape
	ref=$(CNI_PLUGIN=/usr/lib/cni/bridge cni_run ADD "ref-$i" "r$i" <<<"$(ref_conf "$refv")") || h_fail "reference ADD $refv: $ref"
	h_assert_eq "$(keys <<<"$ref")" "$(keys <<<"$mine")" "key set for $v"
	if [ "$v" != 0.3.0 ] && [ "$v" != 0.3.1 ]; then
		cni_run CHECK "ver-$i" "v$i" <<<"$(cni_with_prev "$(CNI_VERSION=$v cni_conf)" "$mine")" ||
			h_fail "CHECK $v"
	fi
	cni_run DEL "ver-$i" "v$i" <<<"$(cni_with_prev "$(CNI_VERSION=$v cni_conf)" "$mine")" ||
		h_fail "DEL $v"
	CNI_PLUGIN=/usr/lib/cni/bridge cni_run DEL "ref-$i" "r$i" <<<"$(ref_conf "$refv")" || h_fail "reference DEL"
done
ip -n "$NODE" link del refbr0

# --- options: no default gateway, own MTU, hairpin off
h_log "== options: no default gateway, own MTU, hairpin off"
cni_pod o1
out=$(cni_conf '. + {isDefaultGateway: false, mtu: 1300, hairpinMode: false}' |
	cni_run ADD opt-1 o1) || h_fail "ADD with options: $out"
h_assert_eq '[{"dst":"10.244.0.0/16","gw":"10.244.3.1"}]' "$(jq -c .routes <<<"$out")" "routes"
ip -n "$H_RUN-o1" route show 10.244.0.0/16 | h_grep 'via 10.244.3.1' || h_fail "overlay route"
h_lacks "default route without isDefaultGateway" . ip -n "$H_RUN-o1" route show default
h_assert_eq 1300 "$(ip -n "$H_RUN-o1" -j link show eth0 | jq -r '.[0].mtu')" "mtu option"
hv=$(jq -r '.interfaces[1].name' <<<"$out")
ip -n "$NODE" -d -j link show "$hv" | jq -e '.[0].linkinfo.info_slave_data.hairpin == false' \
	>/dev/null || h_fail "hairpin not off"
cni_run CHECK opt-1 o1 <<<"$(cni_with_prev "$(cni_conf '. + {isDefaultGateway: false}')" "$out")" ||
	h_fail "CHECK with overlay route"
cni_conf | cni_run DEL opt-1 o1 || h_fail "DEL opt-1"

# --- GC: keeps what is listed, frees the rest (both key spellings)
h_log "== GC: keeps what is listed, frees the rest (both key spellings)"
CNI_VERSION=1.1.0
for n in 1 2 3; do
	cni_pod "g$n"
	cni_conf | cni_run ADD "gc-$n" "g$n" >/dev/null || h_fail "ADD gc-$n"
done
# Another network on the node (own name, own bridge): GC of this one must
# not touch it.
other=$(cni_conf '. + {name: "othernet", bridge: "cni1"}')
cni_pod x1
cni_run ADD gc-x x1 <<<"$other" >/dev/null || h_fail "ADD on the other network"
# A reservation whose ADD died before the veth existed.
printf 'gc-dead\r\neth0' >"$DATA_DIR/$NET/10.244.3.200"
out=$(cni_conf | cni_run GC "" "" "") && h_fail "GC without an attachment list"
h_assert_eq 7 "$(cni_code "$out")" "GC without list"
cni_conf '. + {"cni.dev/attachments": [{containerID: "gc-1", ifname: "eth0"},
	{containerID: "gc-2", ifname: "eth0"}]}' | cni_run GC "" "" "" || h_fail "GC (old key)"
h_assert_eq 2 "$(cni_store_ips | wc -l)" "reservations after first GC"
h_assert_eq 3 "$(cni_host_veths | wc -l)" "veths after first GC (two kept, one of othernet)"
h_no_link "$H_RUN-g3" eth0 "GC left gc-3's pod interface"
cni_conf '. + {"cni.dev/valid-attachments": [{containerID: "gc-2", ifname: "eth0"}]}' |
	cni_run GC "" "" "" || h_fail "GC (new key)"
h_assert_eq 1 "$(cni_store_ips | wc -l)" "reservations after second GC"
cni_conf '. + {"cni.dev/valid-attachments": []}' | cni_run GC "" "" "" || h_fail "GC (empty list)"
h_assert_eq 0 "$(cni_store_ips | wc -l)" "reservations after GC of everything"
h_assert_eq 1 "$(cni_host_veths | wc -l)" "veths after GC of everything (other network's)"
h_assert_eq 1 "$(ls "$DATA_DIR/othernet" | grep -c '^10\.')" "other network's reservation"
ip -n "$H_RUN-x1" link show eth0 >/dev/null || h_fail "GC touched the other network's pod"
cni_run DEL gc-x x1 <<<"$other" || h_fail "DEL on the other network"
h_assert_eq "" "$(cni_host_veths)" "veths at the end"
exit 0
