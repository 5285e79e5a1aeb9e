# Thin wrapper over CMake. Every target installs missing Debian packages
# first (as root) or prints the apt-get line to run (otherwise).
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX  ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps build demo check bench fuzz install asan style clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target sealflow_cli
	scripts/demo $(BUILD)

check: build
	tools/checksrc
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	cmake --build $(BUILD) -j $(JOBS) --target bench_programs
	scripts/bench $(BUILD)

fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSF_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS)
	scripts/fuzz build-fuzz

asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSF_SANITIZE=ON \
	    -DSF_WERROR=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) -E '_sh$$'

install: build
	cmake --install $(BUILD)

style:
	tools/checksrc

clean:
	rm -rf $(BUILD) build-asan build-fuzz
