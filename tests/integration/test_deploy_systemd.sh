#!/usr/bin/env bash
# deploy/systemd: weftd.service passes `systemd-analyze verify` without a
# single warning (against the weftd under test), keeps the settings the
# product relies on (Type=notify, Restart=always, EnvironmentFile, network
# capabilities only) and scores as well hardened in `systemd-analyze
# security`; broken copies are caught. weftd.env names exactly the options
# `weftd --help` prints; 10-weft.link matches weft's VXLAN device and nothing
# else. No systemd has to run: everything is checked offline.
# labels: deploy
# timeout: 300
set -euo pipefail
: "${WEFT_SRC:?}" "${WEFT_BIN:?}"

log() { echo "[$(date +%T)] $*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

dir="$WEFT_SRC/deploy/systemd"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (Debian package systemd)"
tmp=$(mktemp -d /tmp/weft-systemd.XXXX)
trap 'rm -rf "$tmp"' EXIT

# verify UNITFILE: systemd-analyze verify must succeed and print nothing.
# The unit is checked under its own name, ExecStart pointing at the build.
verify() {
	local d out rc=0
	d=$(mktemp -d "$tmp/v.XXXX")
	sed "s#^ExecStart=/usr/local/bin/weftd#ExecStart=$WEFT_BIN/weftd#" "$1" >"$d/weftd.service"
	out=$(cd "$d" && systemd-analyze verify "$d/weftd.service" 2>&1) || rc=$?
	printf '%s' "$out" >"$d/log"
	[ "$rc" -eq 0 ] && [ -z "$out" ]
}

unit="$dir/weftd.service"
verify "$unit" || fail "systemd-analyze verify: $(cat "$tmp"/v.*/log)"
log "weftd.service: systemd-analyze verify clean"

# The settings the product relies on.
setting() { sed -n "s/^$1=//p" "$unit" | tail -1; }
[ "$(setting Type)" = notify ] || fail "Type must be notify (weftd sends READY=1)"
[ "$(setting Restart)" = always ] || fail "Restart must be always"
[ "$(setting EnvironmentFile)" = -/etc/weft/weftd.env ] || fail "EnvironmentFile must be -/etc/weft/weftd.env"
[ "$(setting ExecStart)" = /usr/local/bin/weftd ] || fail "ExecStart must be /usr/local/bin/weftd"
[ "$(setting RuntimeDirectory)" = weft ] || fail "RuntimeDirectory must be weft (/run/weft)"
[ "$(setting RuntimeDirectoryPreserve)" = yes ] || fail "/run/weft must survive restarts"
read -ra caps <<<"$(setting CapabilityBoundingSet)"
[ "$(printf '%s\n' "${caps[@]}" | sort | tr '\n' ' ')" = "CAP_NET_ADMIN CAP_NET_RAW " ] ||
	fail "CapabilityBoundingSet must be CAP_NET_ADMIN CAP_NET_RAW, is ${caps[*]}"

# Hardening as systemd rates it (0 = locked down, 10 = fully exposed).
sec=$(cd "$tmp" && systemd-analyze security --offline=true --root=/ "$unit" 2>&1 |
	sed -n 's/.*Overall exposure level for weftd.service: \([0-9.]*\).*/\1/p')
[ -n "$sec" ] || fail "systemd-analyze security gave no exposure level"
awk -v s="$sec" 'BEGIN { exit !(s <= 3.5) }' || fail "exposure level $sec, expected <= 3.5"
log "weftd.service: exposure level $sec"

# Broken copies must not pass.
n=0
for edit in 's/^Type=notify/Type=notfy/' 's/^Restart=always/Restart=sometimes/' \
	's/^\[Service\]/[Servce]/' 's/^RestartSec=2/RestartSecs=2/' \
	's/^ProtectSystem=strict/ProtectSystem=strickt/' "s#^ExecStart=/usr/local/bin/weftd#ExecStart=/nonexistent/weftd#" \
	's/^TimeoutStartSec=120/TimeoutStartSec=two minutes/'; do
	sed "$edit" "$unit" >"$tmp/broken.service"
	cmp -s "$tmp/broken.service" "$unit" && fail "edit '$edit' changed nothing"
	if verify "$tmp/broken.service"; then
		fail "systemd-analyze verify accepted a unit broken by '$edit'"
	fi
	n=$((n + 1))
done
log "weftd.service: $n broken copies rejected"

# weftd.env: systemd EnvironmentFile lines, and exactly weftd's options.
env="$dir/weftd.env"
bad=$(grep -vnE '^(#.*|[A-Z_][A-Z0-9_]*=[^ ]*|)$' "$env" || true)
[ -z "$bad" ] || fail "weftd.env lines that are not comments or VAR=value: $bad"
help=$(unshare --net "$WEFT_BIN/weftd" --help 2>/dev/null ||
	unshare --user --map-root-user --net "$WEFT_BIN/weftd" --help) || fail "weftd --help failed"
want=$(sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' <<<"$help" | grep -vxE 'help|version' |
	tr 'a-z-' 'A-Z_' | sed 's/^/WEFTD_/' | sort)
[ -n "$want" ] || fail "weftd --help lists no options"
# check_env FILE: every option once, nothing else.
check_env() {
	local have
	have=$(sed -n 's/^#\{0,1\}\(WEFTD_[A-Z0-9_]*\)=.*/\1/p' "$1" | sort)
	[ "$have" = "$want" ] || {
		echo "differs from weftd --help: $(diff <(echo "$want") <(echo "$have") | grep '^[<>]' | tr '\n' ' ')"
		return 1
	}
}
out=$(check_env "$env") || fail "weftd.env $out"
log "weftd.env: names all $(wc -l <<<"$want") options of weftd --help"
sed 's/^WEFTD_ETCD_ENDPOINTS=/WEFTD_ETCD_ENDPOINT=/' "$env" >"$tmp/typo.env"
check_env "$tmp/typo.env" >/dev/null && fail "a misspelt variable in weftd.env passed"
grep -v '^#WEFTD_LOG_LEVEL=' "$env" >"$tmp/short.env"
check_env "$tmp/short.env" >/dev/null && fail "weftd.env without WEFTD_LOG_LEVEL passed"

# 10-weft.link: matches weft.<VNI> by kernel name and turns the MAC policy off.
link="$dir/10-weft.link"
ini() { awk -v s="[$2]" -v k="$3" '/^\[/ { in_s = ($0 == s) } in_s && index($0, k "=") == 1 { sub(/^[^=]*=/, ""); print }' "$1"; }
[ "$(ini "$link" Link MACAddressPolicy)" = none ] || fail "10-weft.link: [Link] MACAddressPolicy must be none"
glob=$(ini "$link" Match OriginalName)
[ -n "$glob" ] || fail "10-weft.link: no [Match] OriginalName"
[ "$(grep -c '^\[' "$link")" -eq 2 ] || fail "10-weft.link: expected exactly [Match] and [Link]"
for name in weft.1 weft.42 weft.16777215; do
	# shellcheck disable=SC2053
	[[ $name == $glob ]] || fail "10-weft.link does not match $name"
done
for name in eth0 cni0 flannel.1 veth0a1b2c3d weft0 lo; do
	# shellcheck disable=SC2053
	[[ $name == $glob ]] && fail "10-weft.link also matches $name"
done
log "10-weft.link: matches weft.<VNI> only, MACAddressPolicy=none"
log "PASS"
