#!/usr/bin/env bash
# Runs one libFuzzer target.
#   fuzz.sh replay <binary> <corpus dir>
#       every input of the corpus once; fails on any crash, leak or timeout
#   fuzz.sh fuzz <binary> <corpus dir> <seconds> <work dir> [dict]
#       fuzzes from the corpus; new inputs go to <work dir>/corpus (emptied
#       first, the seed corpus is never written), a crash to <work dir>/
# libFuzzer's own checks apply to both: leaks, per-input timeout, RSS limit.
set -euo pipefail

mode=${1:?mode}
bin=${2:?binary}
corpus=${3:?corpus dir}
# Per input: a parser that needs seconds for a few KiB is a bug.
opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

case $mode in
replay)
	shopt -s nullglob
	inputs=("$corpus"/*)
	if [ ${#inputs[@]} -eq 0 ]; then
		echo "fuzz.sh: no inputs in $corpus" >&2
		exit 1
	fi
	exec "$bin" "${opts[@]}" "${inputs[@]}"
	;;
fuzz)
	secs=${4:?seconds}
	work=${5:?work dir}
	dict=${6:-}
	rm -rf "$work"
	mkdir -p "$work/corpus"
	args=("${opts[@]}" -max_total_time="$secs" -artifact_prefix="$work/")
	[ -n "$dict" ] && args+=(-dict="$dict")
	rc=0
	"$bin" "${args[@]}" "$work/corpus" "$corpus" || rc=$?
	if [ $rc -ne 0 ]; then
		for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
			[ -e "$f" ] || continue
			echo "fuzz.sh: reproducer $f (rerun: $bin $f); once fixed, keep it in $corpus" >&2
		done
	fi
	exit $rc
	;;
*)
	echo "fuzz.sh: unknown mode $mode" >&2
	exit 2
	;;
esac
