# chrony-ptpkvm -- make fragment for the PTPKVM driver's unit tests
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Included by the top-level Makefile.  Builds the cmocka tests of the
# driver's chrony-independent units (refclock_ptpkvm_opts.c, the decisions
# of refclock_ptpkvm_decide.c, the status file of refclock_ptpkvm_status.c)
# from tests/unit/ptpkvm_*_test.c, each of which #includes the units it
# tests (as chrony's own tests do), under ASan+UBSan, into
# $(BUILD)/ptpkvm-unit/ and runs them.  Target:
#   ptpkvm-check   the adapter's unit tests                  (CHECK_TARGETS)

PTPKVM_U_DIR := $(BUILD)/ptpkvm-unit
PTPKVM_U_NAMES := $(patsubst $(TOP)/tests/unit/%.c,%,$(wildcard $(TOP)/tests/unit/ptpkvm_*_test.c))
PTPKVM_U_BINS := $(addprefix $(PTPKVM_U_DIR)/,$(PTPKVM_U_NAMES))
PTPKVM_U_SRCS := $(PHCR_SRCS) $(TOP)/tests/unit/fake_phc.c $(TOP)/tests/model/ptpkvm_model.c
PTPKVM_U_HDRS := $(wildcard $(TOP)/refclock_ptpkvm_*.[ch]) $(wildcard $(TOP)/include/*.h) \
  $(TOP)/tests/unit/fake_phc.h
PTPKVM_U_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -I$(TOP) \
  -I$(TOP)/include -I$(TOP)/phc_reader -I$(TOP)/tests/unit -I$(TOP)/tests/model \
  -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

CHECK_TARGETS += ptpkvm-check

.PHONY: ptpkvm-unit-deps ptpkvm-check

ptpkvm-unit-deps:
	@$(ENSURE) build-essential pkg-config libcmocka-dev

$(PTPKVM_U_DIR)/%: $(TOP)/tests/unit/%.c $(PTPKVM_U_SRCS) $(PTPKVM_U_HDRS) | ptpkvm-unit-deps
	@mkdir -p $(PTPKVM_U_DIR)
	$(CC) $(PTPKVM_U_CFLAGS) -o $@ $< $(PTPKVM_U_SRCS) \
	  $$(pkg-config --cflags --libs cmocka) -lm

ptpkvm-check: $(PTPKVM_U_BINS)
	@set -e; for t in $(PTPKVM_U_BINS); do echo "== $$t"; TMPDIR=$(PTPKVM_U_DIR) $$t; done

# The driver against the chrony version being built (CHRONY_VERSION), in
# the guest simulator: a subset of the acceptance bounds (see the file).
VERSION_CHECK_TARGETS += ptpkvm-check ptpkvm-version-check

.PHONY: ptpkvm-version-check

ptpkvm-version-check: chrony sim-lib
	@python3 $(TOP)/tests/sim/simcheck.py --lib $(BUILD)/sim/libsimguest.so \
	  --chronyd $(CHRONYD) --out $(BUILD)/ptpkvm-unit/sim-$(CHRONY_VERSION) \
	  --expect $(TOP)/tests/unit/ptpkvm_versions.expect

# Acceptance figures of the driver (printed table, no assertions): pause
# sweeps, chronyd's reselection after the event (selection events in the
# truth log; the bound is in tests/sim/expect.txt), the driver's
# steps/flushes, steady RMS over 5 seeds, PTPKVM vs stock refclock PHC.
BENCH_TARGETS += ptpkvm-bench

.PHONY: ptpkvm-bench

ptpkvm-bench: chrony sim-lib
	@python3 $(TOP)/tests/unit/ptpkvm_bench.py --lib $(BUILD)/sim/libsimguest.so \
	  --chronyd $(CHRONYD) --out $(BUILD)/ptpkvm-unit/bench-$(CHRONY_VERSION)
