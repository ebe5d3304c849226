#!/usr/bin/env bash
# Installs the validator's npm dependencies from package-lock.json into
# $WEFT_BUILD/k8s-node (never into the source tree) and prints the
# node_modules path for NODE_PATH. Tests running in parallel share one
# install: a lock serialises them, and a stamp of the lock file's hash skips
# `npm ci` when the install is current.
set -euo pipefail
: "${WEFT_SRC:?}" "${WEFT_BUILD:?}"
dir="$WEFT_BUILD/k8s-node"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock -w 600 9 || { echo "setup.sh: lock on $dir not obtained" >&2; exit 1; }
sum=$(cat "$WEFT_SRC/tests/k8s/package.json" "$WEFT_SRC/tests/k8s/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$sum" ] || [ ! -d "$dir/node_modules" ]; then
	rm -f "$dir/.stamp"
	cp "$WEFT_SRC/tests/k8s/package.json" "$WEFT_SRC/tests/k8s/package-lock.json" "$dir/"
	(cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) >&2
	echo "$sum" >"$dir/.stamp"
fi
echo "$dir/node_modules"
