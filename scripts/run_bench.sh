#!/usr/bin/env bash
# Builds and runs the PSI benchmark (called by `make bench`). Extra arguments go to
# consort_psi_bench, e.g. scripts/run_bench.sh --log2n=16 --transport=socket.
# BUILD selects the build directory (default: build, as the Makefile uses).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
JOBS="${JOBS:-2}"

scripts/bootstrap.sh
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONSORT_BUILD_BENCH=ON
fi
cmake --build "$BUILD" -j "$JOBS" --target consort_psi_bench

echo "== $(date -u +%Y-%m-%d) $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores"
echo "== load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$#" -eq 0 ]; then
  set -- --log2n=16,20 --transport=grpc
fi
"$BUILD/bench/psi/consort_psi_bench" "$@"
