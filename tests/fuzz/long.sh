#!/usr/bin/env bash
# Longer fuzzing than the test suite's 10 s: builds the fuzz tree (clang,
# ASan + UBSan, libFuzzer), replays each seed corpus, then fuzzes every
# target for the given time, a few at a time, and prints a summary.
#   tests/fuzz/long.sh                  every target, 60 s each, nproc at once
#   tests/fuzz/long.sh -t 300 netconf   one target, 5 minutes
# Options: -t SECONDS per target (default 60), -j JOBS in parallel (default
# nproc), -B DIR build tree (default build-fuzz), -n skip the build,
# -m merge inputs that add coverage into tests/fuzz/corpus/<name>/.
# A crash leaves its reproducer in DIR/fuzz-long/<name>/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
secs=60
jobs=$(nproc)
build=$src/build-fuzz
do_build=1
merge=0
while getopts "t:j:B:nm" opt; do
	case $opt in
	t) secs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	B) build=$(realpath -m "$OPTARG") ;;
	n) do_build=0 ;;
	m) merge=1 ;;
	*) sed -n '2,12p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

if [ $do_build -eq 1 ]; then
	CC=clang cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DWEFT_FUZZ=ON \
		-DWEFT_SANITIZE=ON -DWEFT_TESTS=OFF >/dev/null
	cmake --build "$build" -j"$(nproc)" --target fuzzers
fi

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for f in "$src"/tests/fuzz/fuzz_*.c; do
		n=${f##*/fuzz_}
		names+=("${n%.c}")
	done
fi

out=$build/fuzz-long
mkdir -p "$out"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
	local name=$1 bin=$build/fuzz/fuzz_$1 corpus=$src/tests/fuzz/corpus/$1
	local dict=$src/tests/fuzz/$1.dict log=$out/$1.log rc=0
	[ -f "$dict" ] || dict=
	{
		bash "$src/tests/fuzz/fuzz.sh" replay "$bin" "$corpus" &&
			bash "$src/tests/fuzz/fuzz.sh" fuzz "$bin" "$corpus" "$secs" "$out/$name" $dict
	} >"$log" 2>&1 || rc=$?
	if [ $rc -eq 0 ] && [ $merge -eq 1 ]; then
		"$bin" -merge=1 "$corpus" "$out/$name/corpus" >>"$log" 2>&1 || rc=$?
	fi
	echo $rc >"$out/$name.rc"
}

for name in "${names[@]}"; do
	if [ ! -x "$build/fuzz/fuzz_$name" ]; then
		echo "long.sh: no target fuzz_$name in $build/fuzz" >&2
		exit 2
	fi
	rm -f "$out/$name.rc"
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	echo "== fuzz_$name: ${secs}s"
	run_one "$name" &
done
wait

failed=0
printf '%-16s %-6s %12s %10s %8s\n' target result executions exec/s cov
for name in "${names[@]}"; do
	rc=$(cat "$out/$name.rc" 2>/dev/null || echo 1)
	log=$out/$name.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -oE 'DONE +cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
	result=ok
	if [ "$rc" != 0 ]; then
		result=FAIL
		failed=1
	fi
	printf '%-16s %-6s %12s %10s %8s\n' "$name" "$result" "${execs:--}" "${rate:--}" "${cov:--}"
	[ "$rc" = 0 ] || grep -E 'ERROR|property does not hold|reproducer' "$log" | head -5 | sed 's/^/    /'
done
exit $failed
