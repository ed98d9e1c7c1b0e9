# SPDX-License-Identifier: MIT
# Thin wrapper over CMake. `make check` is what CI runs.
BUILD       ?= build
CHECK_BUILD ?= build-check
TSAN_BUILD  ?= build-tsan
FUZZ_BUILD  ?= build-fuzz
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build check check-scale check-soak test fuzz bench bench-fleet bench-soak bench-maintenance demo demo-stop clean

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
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target roost-cli roostd roost-agent
	cd $(CHECK_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ROOST_TSAN_BIN=$(CURDIR)/$(TSAN_BUILD)/bin \
	  ctest --output-on-failure -j$(JOBS) -LE scale

test: check

# Two roostd instances on one PostgreSQL and one S3 (issue 14; tests/scale/).
# Needs the build of make check; .ci/run runs it after make check.
check-scale: deps
	cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=Debug -DROOST_SANITIZE=ON -DROOST_WERROR=ON >/dev/null
	cmake --build $(CHECK_BUILD) -j$(JOBS)
	cd $(CHECK_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -L scale

# The kill and race tests of make check with many more trials (not in CI's
# budget): kill -9 of roostd, of backups, prune racing backups.
SOAK_TRIALS ?= 200
check-soak: deps
	cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=Debug -DROOST_SANITIZE=ON -DROOST_WERROR=ON
	cmake --build $(CHECK_BUILD) -j$(JOBS)
	set -e; for t in fleet_server_crash repo_crash repo_prune_race; do \
	  echo "== check-soak: test_$$t"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ROOST_BIN=$(CURDIR)/$(CHECK_BUILD)/bin ROOST_SRC=$(CURDIR) \
	  SERVER_CRASH_TRIALS=$(SOAK_TRIALS) CRASH_TRIALS=$(SOAK_TRIALS) PRUNE_ROUNDS=$$(( $(SOAK_TRIALS) / 3 )) \
	  bash tests/integration/test_$$t.sh > $(CHECK_BUILD)/soak-$$t.log 2>&1 \
	    && rc=0 || rc=$$?; \
	  grep -v '^ok' $(CHECK_BUILD)/soak-$$t.log | tail -40; \
	  [ $$rc -eq 0 ] || { echo "check-soak: test_$$t failed (log: $(CHECK_BUILD)/soak-$$t.log)"; exit 1; }; \
	done

# libFuzzer targets (clang). FUZZ_SECONDS per target; new inputs go to fuzz/corpus-new.
FUZZ_SECONDS ?= 60
fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DROOST_FUZZ=ON \
	  -DROOST_SANITIZE=ON -DROOST_TESTS=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	$(BUILD)/bin/bench_cron

# roostd under N agent connections (issue 4's load figures)
bench-fleet: build
	bench/fleet_load

# roostd under 200 agents killed at random and a REST hammer for 30 minutes
# (issue 16; make check runs the same soak scaled down, test_soak.sh)
bench-soak: build
	ROOST_BIN=$(CURDIR)/$(BUILD)/bin bench/soak

# maintenance beside restic forget --prune on >= 1.5 GB / 100 snapshots
bench-maintenance: build
	bench/maintenance

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)

# A fleet of one on this machine: roostd + a local agent, a group, a schedule
# and a backup (scripts/demo.sh). They keep running; `make demo-stop` ends them.
DEMO ?= demo-data
demo: build
	@DEMO=$(DEMO) BIN=$(BUILD)/bin scripts/demo.sh

demo-stop:
	@scripts/demo-stop.sh $(DEMO)
