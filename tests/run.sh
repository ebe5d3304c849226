#!/usr/bin/env bash
# The whole test suite: installs missing deps, builds the release build
# (warnings are errors) and the ASan/UBSan build, checks formatting, then runs
# every test once through ctest on the sanitizer build.
#   tests/run.sh            everything
#   tests/run.sh -L unit    only tests with that ctest label (any ctest args)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
jobs=$(nproc)

if [ "$(id -u)" -eq 0 ]; then
	./deploy/deps.sh
else
	./deploy/deps.sh || echo "run.sh: not root: integration tests will be skipped" >&2
fi

echo "== release build (build/)"
cmake -S "$src" -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"

echo "== sanitizer build (build-asan/)"
cmake -S "$src" -B build-asan -DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"

echo "== format check"
cmake --build build --target format-check

echo "== tests (sanitizer build)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-asan
ctest --output-on-failure --timeout 600 -j"$jobs" "$@"

# Fuzzing runs with no arguments or when they name it (e.g. -L fuzz,
# -R fuzz.netconf): a clang tree of its own, corpus replay plus 10 s of
# fuzzing per target (tests/fuzz/long.sh fuzzes longer).
if [ $# -eq 0 ] || [[ "$*" == *fuzz* ]]; then
	cd "$src"
	echo "== fuzz build (build-fuzz/, clang + libFuzzer)"
	CC=clang cmake -S "$src" -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DWEFT_FUZZ=ON \
		-DWEFT_SANITIZE=ON -DWEFT_TESTS=OFF >/dev/null
	cmake --build build-fuzz -j"$jobs" --target fuzzers
	echo "== fuzz tests (build-fuzz/)"
	cd build-fuzz
	ctest --output-on-failure -j"$jobs" -L fuzz "$@"
fi
