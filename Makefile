# Osprey: the two commands in the README are `make run` and `make test`.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all setup build run test test-fast test-asan fuzz bench clean

all: build

setup:
	@scripts/setup

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Installs, builds, and serves on http://127.0.0.1:8000 with the models found.
run: build
	scripts/run

# The whole suite: unit, integration (real binary on loopback, redis, node SDK)
# and the slow accuracy (coco128 mAP) tests.
test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 1800

# Everything but the slow accuracy tests.
test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j 2 -LE slow

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer, built -O1 -g1 (quick to build, line
# numbers in reports); the accuracy tests are excluded: same code, many times slower.
test-asan: setup
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
	  -DOSPREY_SANITIZE=ON -DOSPREY_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2 -LE 'slow|fuzz'

# libFuzzer targets built with clang, each run for OSPREY_FUZZ_SECONDS.
fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOSPREY_FUZZ=ON \
	  -DOSPREY_SANITIZE=ON -DOSPREY_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzz_all
	cd $(BUILD_FUZZ) && ctest --output-on-failure -L fuzz

# The benchmark commands one after another (each prints its own figures).
bench: build
	bench/health.sh
	bench/detect.sh
	bench/gateway/run.sh
	$(BUILD)/bench/access/osprey_bench_access

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
