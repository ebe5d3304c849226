#!/usr/bin/env bash
# deploy/Dockerfile, unchanged, built with podman on a base made here from
# Debian's packages (tests/integration/image_common.sh), then the image run:
# its size is printed; weftd --version and the plugin's CNI VERSION answer
# from inside it; every shared library of both binaries resolves inside it
# (ldd in the image, whose probe is first shown to catch a missing one).
# Containers run with --network none: nothing in the machine's namespace.
# The first run on a machine makes the base and the build stage's packages
# (minutes); later runs reuse them from /var/cache/weft-test.
# Skipped (exit 77, with the reason) where podman cannot run.
# labels: deploy;podman;image;root
# timeout: 1500
set -uo pipefail
: "${WEFT_SRC:?}"
source "$WEFT_SRC/tests/integration/image_common.sh"
fail() {
	img_log "FAIL: $*"
	exit 1
}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: podman's store needs root" >&2; exit 77; }
img_usable || exit 77

t0=$(date +%s)
img_build || fail "image build"
total=$(($(date +%s) - t0))
size=$(img_pm image inspect --format '{{.Size}}' "$IMG_REF") || fail "inspect"
img_log "image $IMG_REF: $((size / 1000000)) MB (base $(($(img_pm image inspect --format '{{.Size}}' "$IMG_BASE") / 1000000)) MB); ready in $total s (podman build $IMG_BUILD_SECONDS s)"

run() { img_pm run --rm --network none --pull never "$@"; }
# The Dockerfile's entrypoint is weftd.
ver=$(run "$IMG_REF" --version 2>&1) || fail "weftd --version in the image: $ver"
grep -qE '^weftd [0-9]+\.[0-9]+' <<<"$ver" || fail "weftd --version said: $ver"
img_log "in the image: $ver"

plugin=$(run --entrypoint /bin/sh "$IMG_REF" -c 'command -v weft') || fail "no weft on the image's PATH"
h_ver=$(run --entrypoint /bin/sh -e CNI_COMMAND=VERSION "$IMG_REF" -c "echo '{\"cniVersion\":\"1.0.0\"}' | $plugin") ||
	fail "CNI VERSION in the image: $h_ver"
jq -e '.supportedVersions | index("1.0.0")' <<<"$h_ver" >/dev/null ||
	fail "plugin VERSION answer lacks 1.0.0: $h_ver"
img_log "$plugin answers VERSION: $(jq -c .supportedVersions <<<"$h_ver")"

# ldd inside the image: every library found there. The probe first: with
# one library of weftd removed from a throwaway container, ldd reports it.
lib=$(run --entrypoint /usr/bin/ldd "$IMG_REF" /usr/local/bin/weftd) || fail "ldd in the image: $lib"
mnl=$(awk '$1 ~ /^libmnl\.so/ { print $3 }' <<<"$lib")
[ -n "$mnl" ] || fail "weftd does not link libmnl? $lib"
broken=$(run --entrypoint /bin/sh "$IMG_REF" -c "rm -f $mnl; ldd /usr/local/bin/weftd") || true
grep -q 'libmnl.so.* => not found' <<<"$broken" || fail "probe: ldd did not report the removed $mnl: $broken"
for b in /usr/local/bin/weftd "$plugin"; do
	out=$(run --entrypoint /usr/bin/ldd "$IMG_REF" "$b") || fail "ldd $b in the image: $out"
	if grep -q 'not found' <<<"$out"; then
		fail "$b in the image: $(grep 'not found' <<<"$out" | tr '\n' ' ')"
	fi
	img_log "$b: $(grep -c '=>' <<<"$out") libraries, all resolved in the image"
done
img_log "PASS"
