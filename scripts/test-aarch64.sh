#!/usr/bin/env bash
# Cross-builds the kernels, the model runtime and their tests for AArch64
# with Debian's cross compiler, and runs the tests under qemu-aarch64, so
# that the NEON fast paths (src/ops/arm/) are tested on an x86 machine.
#
#   scripts/test-aarch64.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-aarch64. Needs gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user (scripts/setup.sh installs them) and
# the pinned models (scripts/fetch-models.sh). Tests that need FFmpeg or
# MQTT (vision, net, command line) are not built. The NEON-sensitive tests
# run twice, with VERGE_CPU=neon and VERGE_CPU=scalar. Exits 1 if any
# test fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-aarch64}
cc=aarch64-linux-gnu-gcc
qemu=qemu-aarch64
sysroot=/usr/aarch64-linux-gnu

for tool in "$cc" "$qemu"; do
    if ! command -v "$tool" >/dev/null; then
        echo "test-aarch64: $tool is missing; run scripts/setup.sh" >&2
        exit 1
    fi
done
"$root/scripts/fetch-models.sh" "$root/.cache/models"

mkdir -p "$build/obj" "$build/tests"
cflags=(-std=c11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Werror
        -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DVERGE_HAVE_NEON=1
        -I"$root/include" -I"$root/src" -I"$root/tests")

# The library: core, operators (reference, portable fast-path glue, NEON kernels), model.
objects=()
for source in "$root"/src/core/*.c "$root"/src/ops/*.c "$root"/src/ops/arm/*.c "$root"/src/model/*.c; do
    object=$build/obj/$(basename "$(dirname "$source")")_$(basename "${source%.c}").o
    if [ ! -f "$object" ] || [ "$source" -nt "$object" ] || [ "$0" -nt "$object" ]; then
        "$cc" "${cflags[@]}" -c "$source" -o "$object"
    fi
    objects+=("$object")
done
rm -f "$build/libverge_aarch64.a"
aarch64-linux-gnu-ar rcs "$build/libverge_aarch64.a" "${objects[@]}"

# Every test of core, ops and model that needs nothing beyond them.
tests=()
for source in "$root"/tests/core/test_*.c "$root"/tests/ops/test_*.c "$root"/tests/model/test_*.c; do
    if grep -qE '#include "verge/(media|vision)\.h"' "$source"; then
        continue
    fi
    name=$(basename "${source%.c}")
    "$cc" "${cflags[@]}" "$source" "$build/libverge_aarch64.a" -lm -lpthread -o "$build/tests/$name"
    tests+=("$name")
done

export VERGE_TEST_DATA=$root/tests/data
export VERGE_MODEL_DIR=$root/.cache/models
export QEMU_LD_PREFIX=$sysroot
failed=()
run() {
    local name=$1 cpu=$2 status=0

    VERGE_CPU=$cpu "$qemu" "$build/tests/$name" >"$build/tests/$name.$cpu.log" 2>&1 || status=$?
    # 77: the test found nothing to test on this CPU (see tests/CMakeLists.txt).
    if [ "$status" -eq 0 ] || [ "$status" -eq 77 ]; then
        echo "passed  $name (VERGE_CPU=$cpu): $(tail -n 1 "$build/tests/$name.$cpu.log")"
    else
        echo "FAILED  $name (VERGE_CPU=$cpu), exit status $status; log: $build/tests/$name.$cpu.log"
        failed+=("$name/$cpu")
    fi
}
for name in "${tests[@]}"; do
    run "$name" neon
    case "$name" in
        test_golden|test_fusion|test_conv_residual) run "$name" scalar ;;
    esac
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "test-aarch64: ${#failed[@]} failed: ${failed[*]}" >&2
    exit 1
fi
echo "test-aarch64: all ${#tests[@]} tests passed under $($qemu --version | head -n 1)"
