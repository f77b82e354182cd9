#!/usr/bin/env bash
# Preprocessing and start-up benchmarks (results: docs/benchmarks.md).
#
#   bench/vision/run.sh [BUILD_DIR] [RUNS]
#
# 1. letterbox preprocessing of synthetic frames into 128x128 and 192x192
#    model inputs: verge against libswscale doing the same job in the same
#    process (bench_preprocess, median of RUNS calls, default 300)
# 2. start-up: median wall time of 50 runs of `verge --version`, which loads
#    the binary and its shared libraries and exits
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
RUNS=${2:-300}

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target verge bench_preprocess -j 2 >/dev/null

echo "### Letterbox preprocessing"
echo
"$BUILD/bench/vision/bench_preprocess" "$RUNS"
echo

echo "### Start-up"
echo
times=()
for _ in $(seq 50); do
    start=$(date +%s%N)
    "$BUILD/verge" --version >/dev/null
    end=$(date +%s%N)
    times+=($(((end - start) / 1000)))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 25p)
libraries=$(ldd "$BUILD/verge" | wc -l)
echo "verge --version: median $((median / 1000)).$(printf '%03d' $((median % 1000))) ms over 50 runs," \
     "$libraries shared libraries mapped"
