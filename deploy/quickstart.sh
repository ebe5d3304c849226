#!/usr/bin/env bash
# Sets up and runs weft for real on this machine: installs deps and builds.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
echo "quickstart: built build/bin/weftd and build/bin/weft"
