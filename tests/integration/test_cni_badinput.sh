#!/usr/bin/env bash
# Bad input table: every case exits 1 with the error code docs/cni.md (Errors) names,
# a message, the request's cniVersion when known, and leaves no veth, no pod
# interface and no reservation behind.
# labels: cni;root
# timeout: 300
source "$WEFT_SRC/tests/integration/cni_common.sh"
cni_setup
cni_pod p1
good=$(cni_conf)
n=0

# check_case NAME CODE OUTPUT: the error object is right.
check_case() {
	local name=$1 code=$2 out=$3 got
	n=$((n + 1))
	got=$(jq -r 'if (.msg | length > 5) and (.cniVersion | type == "string")
		then .code else "incomplete" end' <<<"$out" 2>/dev/null)
	h_assert_eq "$code" "$got" "case '$name' (output: $out)"
	h_log "ok: $name -> $code"
}

# no_leftovers WHAT: no host veth, no reservation, no pod interface.
no_leftovers() {
	h_assert_eq "" "$(cni_host_veths)" "$1: host veths"
	h_assert_eq 0 "$(cni_store_ips | wc -l)" "$1: reservations"
	h_no_link "$H_RUN-p1" eth0 "$1: eth0 left in the pod"
	return 0
}

# expect NAME CODE CMD STDIN [ENV...]: run the plugin with ADD-style env,
# overridden by ENV assignments, and check the outcome.
expect() {
	local name=$1 code=$2 cmd=$3 in=$4 out rc a
	local -a unset=() set=(CNI_COMMAND="$cmd" CNI_CONTAINERID=ctr-bad
		CNI_NETNS="/run/netns/$H_RUN-p1" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni)
	shift 4
	for a in "$@"; do
		case $a in
		-u) ;;
		*=*) set+=("$a") ;;
		*) unset+=(-u "$a") ;;
		esac
	done
	# An unset variable must not come back through the defaults.
	for a in "${unset[@]}"; do
		[ "$a" = -u ] && continue
		set=("${set[@]/#$a=*/}")
	done
	set=($(printf '%s\n' "${set[@]}" | grep -a .))
	out=$(ip netns exec "$NODE" env "${unset[@]}" "${set[@]}" "$WEFT_BIN/weft" <<<"$in")
	rc=$?
	h_assert_eq 1 "$rc" "case '$name' exit status"
	check_case "$name" "$code" "$out"
}

# Decoding and config (6, 7, 1)
expect "malformed JSON" 6 ADD '{"cniVersion":'
expect "empty stdin" 6 ADD ''
expect "JSON array" 6 ADD '[1,2]'
expect "missing cniVersion" 7 ADD "$(jq -c 'del(.cniVersion)' <<<"$good")"
expect "cniVersion not a string" 7 ADD "$(jq -c '.cniVersion = 1' <<<"$good")"
expect "missing name" 7 ADD "$(jq -c 'del(.name)' <<<"$good")"
expect "missing type" 7 ADD "$(jq -c 'del(.type)' <<<"$good")"
expect "unsupported version 0.2.0" 1 ADD "$(jq -c '.cniVersion = "0.2.0"' <<<"$good")"
expect "unknown version 9.9.9" 1 ADD "$(jq -c '.cniVersion = "9.9.9"' <<<"$good")"
expect "CHECK below 0.4.0" 1 CHECK "$(jq -c '.cniVersion = "0.3.1"' <<<"$good")"
expect "GC below 1.1.0" 1 GC "$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$good")"
expect "name with a path" 7 ADD "$(jq -c '.name = "../etc"' <<<"$good")"
expect "bridge not a string" 7 ADD "$(jq -c '.bridge = 5' <<<"$good")"
expect "bridge name too long" 7 ADD "$(jq -c '.bridge = "abcdefghijklmnopq"' <<<"$good")"
expect "hairpinMode not a bool" 7 ADD "$(jq -c '.hairpinMode = "yes"' <<<"$good")"
expect "mtu negative" 7 ADD "$(jq -c '.mtu = -5' <<<"$good")"
expect "mtu a string" 7 ADD "$(jq -c '.mtu = "1400"' <<<"$good")"
expect "prevResult not an object" 7 ADD "$(jq -c '.prevResult = [1]' <<<"$good")"
expect "CHECK without prevResult" 7 CHECK "$good"
no_leftovers "decoding and config cases"

# Environment (4)
expect "no CNI_COMMAND" 4 ADD "$good" -u CNI_COMMAND
expect "unknown CNI_COMMAND" 4 FOO "$good"
expect "ADD without CNI_CONTAINERID" 4 ADD "$good" -u CNI_CONTAINERID
expect "ADD without CNI_NETNS" 4 ADD "$good" -u CNI_NETNS
expect "ADD without CNI_IFNAME" 4 ADD "$good" CNI_IFNAME=
expect "DEL without CNI_IFNAME" 4 DEL "$good" -u CNI_IFNAME
expect "GC without CNI_PATH" 4 GC "$(jq -c '.cniVersion = "1.1.0"' <<<"$good")" -u CNI_PATH
expect "CNI_NETNS missing path" 4 ADD "$good" CNI_NETNS=/run/netns/$H_RUN-nope
expect "CNI_NETNS a plain file" 4 ADD "$good" CNI_NETNS="$SUBNET_FILE"
expect "CNI_NETNS the node itself" 4 ADD "$good" CNI_NETNS=/run/netns/$NODE
expect "CNI_NETNS not UTF-8" 4 ADD "$good" CNI_NETNS=$'/run/netns/\xff'
expect "ifname 16 bytes" 4 ADD "$good" CNI_IFNAME=abcdefghijklmnop
expect "ifname with /" 4 ADD "$good" CNI_IFNAME=et/h0
expect "ifname with :" 4 ADD "$good" CNI_IFNAME=eth0:1
expect "ifname .." 4 ADD "$good" CNI_IFNAME=..
expect "container id with /" 4 ADD "$good" CNI_CONTAINERID=a/../../b
expect "container id starting with ." 4 ADD "$good" CNI_CONTAINERID=.hidden
expect "DEL container id with /" 4 DEL "$good" CNI_CONTAINERID=../x
no_leftovers "environment cases"

# subnet.env (11, 7)
mv "$SUBNET_FILE" "$SUBNET_FILE.off"
expect "subnet.env missing" 11 ADD "$good"
printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=banana\n' >"$SUBNET_FILE"
expect "subnet.env malformed" 7 ADD "$good"
mv "$SUBNET_FILE.off" "$SUBNET_FILE"
no_leftovers "subnet.env cases"

# The bridge name is taken by something else (7).
ip -n "$NODE" link add notbr0 type veth peer name notbr1
expect "bridge is not a bridge" 7 ADD "$(jq -c '.bridge = "notbr0"' <<<"$good")"
ip -n "$NODE" link del notbr0
no_leftovers "bridge that is not a bridge"

# Exhausted subnet (11): a /30 has exactly one pod address.
cni_subnet 10.244.9.1/30
cni_pod p0
out=$(cni_run ADD ctr-first p0 <<<"$good") || h_fail "ADD into the /30: $out"
h_assert_eq 10.244.9.2/30 "$(jq -r '.ips[0].address' <<<"$out")" "only address of a /30"
out=$(cni_run ADD ctr-bad p1 <<<"$good")
n=$((n + 1))
h_assert_eq 11 "$(cni_code "$out")" "exhausted subnet code"
h_assert_eq 1 "$(cni_store_ips | wc -l)" "exhausted: only the first reservation"
h_assert_eq 1 "$(cni_host_veths | wc -l)" "exhausted: only the first veth"
h_no_link "$H_RUN-p1" eth0 "exhausted ADD left eth0"
out=$(CNI_VERSION=1.1.0 cni_conf | cni_run STATUS "" "" "") && h_fail "STATUS ready while full"
h_assert_eq 50 "$(cni_code "$out")" "STATUS while full"
cni_run DEL ctr-first p0 <<<"$good" || h_fail "DEL of the /30 pod"
cni_subnet 10.244.3.1/24

# A pod interface of that name exists: the kernel refuses the veth, the
# reservation made for it is rolled back.
ip -n "$H_RUN-p1" link add eth0 type veth peer name eth0peer
out=$(cni_run ADD ctr-bad p1 <<<"$good")
n=$((n + 1))
h_assert_eq 999 "$(cni_code "$out")" "existing ifname code"
h_assert_eq 0 "$(cni_store_ips | wc -l)" "existing ifname: reservation rolled back"
h_assert_eq "" "$(cni_host_veths)" "existing ifname: host veth"
ip -n "$H_RUN-p1" link del eth0

# A failure after the veth exists (the pod already has a default route):
# veth and reservation are both rolled back.
ip -n "$H_RUN-p1" link add dummyish type veth peer name dpeer
ip -n "$H_RUN-p1" addr add 192.0.2.1/24 dev dummyish
ip -n "$H_RUN-p1" link set dummyish up
ip -n "$H_RUN-p1" link set dpeer up
ip -n "$H_RUN-p1" route add default via 192.0.2.2
out=$(cni_run ADD ctr-bad p1 <<<"$good")
check_case "route conflict after veth" 999 "$out"
no_leftovers "route conflict after veth"
jq -e '.msg | test("route")' <<<"$out" >/dev/null || h_fail "unclear: $out"

h_log "$n bad inputs checked"
[ "$n" -ge 25 ] || h_fail "too few cases"
exit 0
