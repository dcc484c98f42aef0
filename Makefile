# The commands people type. The build itself is CMake's (build/, build-asan/).
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_SECONDS ?= 60
ARGS ?=

.PHONY: all build run test unit asan fuzz bench clean format

all: build

build:
	@scripts/install-deps build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Build and serve on port 8080 (HTTP/1.1 and cleartext HTTP/2).
run: build
	@scripts/run-server $(BUILD)/objectd $(ARGS)

# Every test: normal build, then ASan+UBSan build (with the fuzz run).
test:
	@scripts/install-deps test
	@scripts/test-all

asan:
	@scripts/install-deps test
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DOBJECTD_SANITIZE=ON \
	    -DOBJECTD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure

fuzz:
	@scripts/install-deps test
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DOBJECTD_SANITIZE=ON \
	    -DOBJECTD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target fuzz_h1_request
	@scripts/run-fuzz $(ASAN_BUILD)/fuzz_h1_request fuzz/corpus/h1_request \
	    $(FUZZ_SECONDS)

bench: build
	@scripts/install-deps test
	@bash bench/http1.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
