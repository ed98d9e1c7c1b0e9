# SPDX-License-Identifier: MIT
# Thin wrapper over CMake. `make check` is what CI runs.
BUILD       ?= build
CHECK_BUILD ?= build-check
TSAN_BUILD  ?= build-tsan
FUZZ_BUILD  ?= build-fuzz
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build check test fuzz bench demo clean

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROOST_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# Everything, warnings as errors, under ASan + UBSan; the threaded engine
# also under ThreadSanitizer (tests/integration/test_repo_threads.sh).
check: deps
	cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=Debug -DROOST_SANITIZE=ON -DROOST_WERROR=ON
	cmake --build $(CHECK_BUILD) -j$(JOBS)
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROOST_TESTS=OFF \
	  -DCMAKE_C_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread >/dev/null
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target roost-cli
	cd $(CHECK_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ROOST_TSAN_BIN=$(CURDIR)/$(TSAN_BUILD)/bin \
	  ctest --output-on-failure -j$(JOBS)

test: check

# libFuzzer targets (clang). FUZZ_SECONDS per target; new inputs go to fuzz/corpus-new.
FUZZ_SECONDS ?= 60
fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DROOST_FUZZ=ON \
	  -DROOST_SANITIZE=ON -DROOST_TESTS=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	$(BUILD)/bin/bench_cron

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)

# Until the server and agent exist the demo runs the engine and the cron preview.
DEMO ?= demo-data
demo: build
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "== roost repo init -r $(DEMO)/repo"
	@ROOST_PASSWORD=demo $(BUILD)/bin/roost repo init -r $(DEMO)/repo
	@echo "== roost repo backup -r $(DEMO)/repo docs include"
	@ROOST_PASSWORD=demo ROOST_CACHE_DIR=$(DEMO)/cache $(BUILD)/bin/roost repo backup -r $(DEMO)/repo docs include
	@echo "== roost repo snapshots -r $(DEMO)/repo"
	@ROOST_PASSWORD=demo $(BUILD)/bin/roost repo snapshots -r $(DEMO)/repo
	@echo "== roost repo restore -r $(DEMO)/repo latest --target $(DEMO)/restore"
	@ROOST_PASSWORD=demo $(BUILD)/bin/roost repo restore -r $(DEMO)/repo latest --target $(DEMO)/restore
	@echo "== roost repo check -r $(DEMO)/repo --read-data"
	@ROOST_PASSWORD=demo $(BUILD)/bin/roost repo check -r $(DEMO)/repo --read-data
	@echo "== roost cron next '0 9 * * MON-FRI' --count 5"
	@$(BUILD)/bin/roost cron next '0 9 * * MON-FRI' --count 5
	@echo "== roost cron next 'CRON_TZ=America/New_York 30 2 * * *' --from 2026-03-06T00:00:00Z --count 3  (02:30 on 03-08 does not exist)"
	@$(BUILD)/bin/roost cron next 'CRON_TZ=America/New_York 30 2 * * *' --from 2026-03-06T00:00:00Z --count 3
	@echo "== roost cron next '0 0 * * 8'  (invalid: exit 2)"
	@$(BUILD)/bin/roost cron next '0 0 * * 8' || true
	@echo "The repository is in $(DEMO)/repo (password: demo). Try:"
	@echo "  ROOST_PASSWORD=demo $(BUILD)/bin/roost repo ls -r $(DEMO)/repo latest"
	@echo "  ROOST_PASSWORD=demo $(BUILD)/bin/roost repo stats -r $(DEMO)/repo" 
