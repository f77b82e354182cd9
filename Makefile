# Entry points for people and CI. Each target installs what it needs first
# (Debian packages, pinned models), so `make demo` and `make test` work on a
# fresh Debian 12 machine. The build itself is CMake; see CMakeLists.txt.

BUILD ?= build
SANITIZE_BUILD ?= build-sanitize
JOBS ?= $(shell nproc)
MODELS := .cache/models
DEMO_OUT ?= annotated
# ON turns compiler warnings into errors (CI sets it).
WERROR ?= OFF

.PHONY: all deps models build demo test test-sanitize test-aarch64 clean

all: build

deps:
	@scripts/setup.sh

models: deps
	@scripts/fetch-models.sh $(MODELS)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVERGE_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Runs the main job on bundled real photos and a real video.
demo: build models
	$(BUILD)/verge detect $(MODELS)/face_detection_short_range.tflite \
	    tests/data/images/grace_hopper.jpg tests/data/images/astronaut.png \
	    tests/data/images/coffee.png tests/data/video/vtest_10s.mp4 \
	    --max-frames 30 --out $(DEMO_OUT)
	@echo "annotated copies written to $(DEMO_OUT)/" >&2

# Runs the whole test suite, then again under AddressSanitizer and UBSan.
test: build models
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-sanitize

test-sanitize: deps models
	@cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVERGE_SANITIZE=ON \
	    -DVERGE_WERROR=$(WERROR) >/dev/null
	@cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	cd $(SANITIZE_BUILD) && ctest --output-on-failure -j $(JOBS)

# Cross-builds the kernels and their tests for AArch64 and runs them under qemu-aarch64.
test-aarch64: deps models
	@scripts/test-aarch64.sh

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD)
