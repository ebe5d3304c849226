#!/usr/bin/env bash
# The allocator and stray reservations: a node holding a live lease keeps
# it at restart even when a reservation carries its PublicIP; after
# SubnetLen changes, no node draws a subnet inside a lease of the old length.
# labels: lease;root;etcd
# timeout: 120
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_cluster 3
S=$L_PREFIX/subnets
# want SECTION: runs a section unless ACCEPT_ONLY (e.g. "7") leaves it out;
# for checking one defect at a time against an older build.
want() { [ -z "${ACCEPT_ONLY:-}" ] || [[ ",$ACCEPT_ONLY," == *",$1,"* ]]; }

# --- defect 8: a reservation with this node's PublicIP does not move a node
# holding a live lease. 10.244.1.0/24 (the lowest subnet) is held by someone
# else first, so the live lease sorts after it.
h_etcdctl put "$S/10.244.1.0-24" "$(l_value 198.18.0.99)" >/dev/null
l_start 1
h_wait_for 10 "node 1 subnet.env" test -s "$(h_subnet_file 1)" || h_fail "node 1 no subnet.env"
live=$(l_key_of 198.18.0.1)
[ -n "$live" ] && [ "$live" != "$S/10.244.1.0-24" ] || h_fail "node 1 lease: '$live'"
[ "$(l_field "$live" lease)" != 0 ] || h_fail "probe: $live has no etcd lease"
if want 8; then
l_stop 1
h_etcdctl del "$S/10.244.1.0-24" >/dev/null
h_etcdctl put "$S/10.244.1.0-24" "$(l_value 198.18.0.1)" >/dev/null # reservation
l_start 1
h_wait_for 10 "node 1 holds a lease after restart" l_lease_held 1 ||
	h_fail "node 1 acquired nothing after restart"
sleep 1
[ "$(l_env_subnet 1)" = "$(l_gw "$live")" ] ||
	h_fail "defect 8: node 1 moved from $live to $(l_env_subnet 1) at restart"
h_etcdctl get "$live" --print-value-only | h_grep '"PublicIP":"198.18.0.1"' ||
	h_fail "defect 8: node 1's live lease $live was orphaned"
[ "$(l_field "$live" lease)" != 0 ] || h_fail "defect 8: $live lost its etcd lease"
h_log "defect 8: node 1 kept $live"
fi
l_stop 1
h_etcdctl del "$S/10.244.1.0-24" >/dev/null

# --- defect 7: SubnetLen 24 -> 25. Node 1's /24 stays leased; the only /25
# the range offers outside it is the next /24's first half.
base=$(basename "$live")
base=${base%-24}
IFS=. read -r a b c d <<<"$base"
next="$a.$b.$((c + 1)).0"
h_net_config "{\"Network\":\"10.244.0.0/16\",\"SubnetLen\":25,\"SubnetMin\":\"$base\",\"SubnetMax\":\"$next\",\"Backend\":{\"Type\":\"vxlan\"}}"
l_start 2
l_start 3
lease_or_full() { l_lease_held "$1" || grep -q 'no free subnet' "$H_TMP/n$1.log"; }
for n in 2 3; do
	# Exhaustion shows in the log only (weft_lease_held stays 0 either way).
	h_wait_for 10 "node $n: lease or exhaustion" lease_or_full "$n" ||
		h_fail "node $n: neither lease nor exhaustion"
done
got=()
for n in 2 3; do
	s=$(l_env_subnet "$n")
	h_log "node $n: ${s:-no subnet}"
	case $s in
	"$a.$b.$c."*) h_fail "defect 7: node $n drew $s inside node 1's $base/24" ;;
	"") ;;
	*) got+=("$s") ;;
	esac
done
[ "${#got[@]}" = 1 ] && [ "${got[0]}" = "$a.$b.$((c + 1)).1/25" ] ||
	h_fail "expected exactly one node on $next/25, got: ${got[*]}"
h_log "defect 7: no /25 inside the live /24"
l_stop 2
l_stop 3
h_log "PASS"
