#!/usr/bin/env bash
# Benchmarks `verge features` (features from memory, and the whole command
# from a CSV file to a CSV file) against pandas doing the same jobs, and
# prints a Markdown report for docs/benchmarks.md.
#
#   bench/features/run.sh [BUILD_DIR] [WORK_DIR]
#
# BUILD_DIR is the CMake build folder (default: build), configured and built
# here. WORK_DIR holds the CSV files (default: a new folder in /tmp); put it
# on the file system you want to measure. Installs Debian's python3-pandas
# when no python3 can import pandas (tests never need it). Environment:
# POINTS (default 10000000), RUNS (default 5), PANDAS_RUNS (default 3).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
work=${2:-$(mktemp -d /tmp/verge-features-bench.XXXXXX)}
mkdir -p "$work"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target verge verge_signal -j 2 >/dev/null
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$root/include" -I"$root/src" \
    "$root/bench/features/bench_features.c" "$build/libverge_signal.a" "$build/libverge_core.a" \
    -lm -lpthread -o "$work/bench_features"

find_pandas() {
    for candidate in python3 /usr/bin/python3; do
        if command -v "$candidate" >/dev/null && "$candidate" -c "import pandas" 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

python=$(find_pandas || true)
if [ -z "$python" ] && command -v apt-get >/dev/null; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    echo "bench: installing python3-pandas for the comparison" >&2
    $sudo apt-get install -y -qq --no-install-recommends python3-pandas >&2 || true
    python=$(find_pandas || true)
fi

python3 "$root/bench/features/run_bench.py" "$build/verge" "$work/bench_features" "$work" \
    ${python:+"$python"}
