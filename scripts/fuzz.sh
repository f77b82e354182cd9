#!/usr/bin/env bash
# Builds the libFuzzer target of the TFLite loader with clang and runs it for
# SECONDS seconds (default 60), starting from the pinned models as seeds.
# The growing corpus stays in BUILD/fuzz-corpus/tflite between runs; inputs
# that crash or hang land in BUILD/fuzz-findings/. Extra arguments go to
# libFuzzer (for example -jobs=2 or -max_len=65536).
#
# usage: scripts/fuzz.sh [SECONDS] [LIBFUZZER_FLAG...]
# environment: VERGE_FUZZ_BUILD (default build-fuzz), VERGE_MODEL_DIR (default .cache/models)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
build=${VERGE_FUZZ_BUILD:-$root/build-fuzz}
models=${VERGE_MODEL_DIR:-$root/.cache/models}

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang is missing; run scripts/setup.sh" >&2
  exit 1
fi
if ! ls "$models"/*.tflite >/dev/null 2>&1; then
  "$root/scripts/fetch-models.sh" "$models"
fi

CC=clang cmake -S "$root" -B "$build" -DVERGE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_tflite -j "${JOBS:-2}"

corpus=$build/fuzz-corpus/tflite
seeds=$build/fuzz-seeds/tflite
findings=$build/fuzz-findings
mkdir -p "$corpus" "$seeds" "$findings"
cp "$models"/*.tflite "$seeds"/

# -timeout flags inputs that take seconds: a loader must not be that slow on any file.
"$build/fuzz/fuzz_tflite" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$findings/" "$@" "$corpus" "$seeds"
