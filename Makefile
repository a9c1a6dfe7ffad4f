# The two commands a newcomer needs (see README.md): `make demo`, `make check`.
# Everything else here is a convenience over CMake + Ninja + ctest.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
BUILD_FUZZ ?= build-fuzz
CMAKE_ARGS ?=
JOBS       ?= $(shell nproc)

.PHONY: all deps build demo check asan tsan fuzz bench install clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_ARGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/tools/cvmbus/cvmbus run --report $(BUILD)/report.html
	@echo "report: $(BUILD)/report.html (open it in a browser)"

check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer (clang).
asan: deps
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=Debug -DCVMBUS_SANITIZE=address,undefined -DCVMBUS_BENCH=OFF
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS) -LE nosan

# Threaded code under ThreadSanitizer: the tests labelled "tsan".
tsan: deps
	cmake -S . -B $(BUILD_TSAN) -G Ninja -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=Debug -DCVMBUS_SANITIZE=thread -DCVMBUS_BENCH=OFF
	cmake --build $(BUILD_TSAN) -j $(JOBS)
	cd $(BUILD_TSAN) && ctest --output-on-failure -j $(JOBS) -L tsan

bench: build
	$(BUILD)/bench/ring_bench

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) $(BUILD_FUZZ)

# ---- fuzzing (owned by fuzz/; see docs/SECURITY.md, "Fuzzing") -------------
# Configures and builds the libFuzzer targets in $(BUILD_FUZZ) (clang, ASan +
# UBSan) and runs each for FUZZ_SECONDS from its seed corpus; fails on a crash.
FUZZ_SECONDS ?= 60

fuzz: deps
	cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCVMBUS_SANITIZE=address,undefined \
	  -DCVMBUS_FUZZ=ON -DCVMBUS_BENCH=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target cvmbus_fuzz
	BUILD_FUZZ=$(BUILD_FUZZ) fuzz/run.sh $(FUZZ_SECONDS)

# ---- network benchmark (owned by bench/net.sh; docs/BENCHMARKS.md, "Network")
# Root and iperf3 needed. iperf3 TCP through `cvmbus net` (host and
# confidential paths) and through bench/tap_forward between the same two
# namespaces, NET_BENCH_SECONDS each, NET_BENCH_REPS interleaved rounds,
# medians and ratios.
NET_BENCH_SECONDS ?= 5
NET_BENCH_REPS    ?= 3

.PHONY: bench-net
bench-net: build
	bench/net.sh $(BUILD) $(NET_BENCH_SECONDS) $(NET_BENCH_REPS)

# ---- control-plane benchmark (owned by bench/control_bench.c; docs/BENCHMARKS.md,
# "Control plane"). Connect, open and close of 1, 64, 512 and 2047 channels
# (isolation none, then SNP without a paravisor) through the real platform,
# host glue and guest; medians of CONTROL_BENCH_REPS fresh stacks each.
CONTROL_BENCH_REPS ?= 5

.PHONY: bench-process
bench-process: build
	$(BUILD)/bench/process_bench --reps 5

.PHONY: bench-control
bench-control: build
	$(BUILD)/bench/control_bench --reps $(CONTROL_BENCH_REPS)

# ---- storage benchmark (owned by bench/storage.sh; docs/BENCHMARKS.md, "Storage")
# nbdkit, fio and nbdkit-plugin-dev needed (make deps). fio 4k random and
# 128k sequential reads (queue depth 16) through the cvmbus NBD export,
# both paths, against nbdkit's file plugin on the same image; then the
# in-process storage_bench. About 1.5 minutes with the defaults.
STORAGE_BENCH_SECONDS ?= 8
STORAGE_BENCH_REPS    ?= 1

.PHONY: bench-storage
bench-storage: build
	bench/storage.sh $(BUILD) $(STORAGE_BENCH_SECONDS) $(STORAGE_BENCH_REPS)
