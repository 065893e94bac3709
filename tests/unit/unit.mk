# chrony-ptpkvm -- make fragment for the unit tests of the driver and phc_reader
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Included by the top-level Makefile.  Builds the cmocka tests of the
# driver's chrony-independent units (refclock_ptpkvm_opts.c, the decisions
# of refclock_ptpkvm_decide.c, the status file of refclock_ptpkvm_status.c)
# from tests/unit/ptpkvm_*_test.c, each of which #includes the units it
# tests (as chrony's own tests do), under ASan+UBSan, into
# $(BUILD)/ptpkvm-unit/ and runs them.  Target:
#   ptpkvm-check   the adapter's unit tests                  (CHECK_TARGETS)

# The fake device answers the syscalls of the code under test (fake_phc.h)
FAKE_WRAP := -Wl,--wrap=open,--wrap=close,--wrap=ioctl,--wrap=fstat,--wrap=opendir

PTPKVM_U_DIR := $(BUILD)/ptpkvm-unit
PTPKVM_U_NAMES := $(patsubst $(TOP)/tests/unit/%.c,%,$(wildcard $(TOP)/tests/unit/ptpkvm_*_test.c))
PTPKVM_U_BINS := $(addprefix $(PTPKVM_U_DIR)/,$(PTPKVM_U_NAMES))
PTPKVM_U_SRCS := $(PHCR_SRCS) $(TOP)/tests/unit/fake_phc.c $(TOP)/tests/model/ptpkvm_model.c
PTPKVM_U_HDRS := $(wildcard $(TOP)/refclock_ptpkvm*.[ch]) $(wildcard $(TOP)/include/*.h) \
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
	$(CC) $(PTPKVM_U_CFLAGS) $(FAKE_WRAP) -o $@ $< $(PTPKVM_U_SRCS) \
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

# phc_reader's tests, fuzzer and benchmark (the top-level Makefile builds
# $(PHCR_LIB) itself).  Targets:
#   phcr-check     cmocka tests under ASan+UBSan, then under valgrind
#                  (memcheck) without sanitizers, then the fuzzer for
#                  PHCR_FUZZ_SECONDS, and the example of docs/phc_reader.md
#                  compiled and linked                             (CHECK_TARGETS)
#   phcr-fuzz      the libFuzzer target alone (clang)
#   bench-reader   ns per filter + detect pass over 25 readings (the
#                  driver's jump detector)                         (BENCH_TARGETS)
# Everything is built under $(BUILD)/phcr/ from the sources directly (no
# intermediate objects, so the top-level object rule is not involved).

PHCR_T_DIR := $(BUILD)/phcr
PHCR_T_LIBSRCS := $(wildcard $(TOP)/phc_reader/*.c)
PHCR_T_HDRS := $(wildcard $(TOP)/include/phcr*.h $(TOP)/phc_reader/*.h) \
  $(TOP)/tests/unit/fake_phc.h $(TOP)/tests/model/ptpkvm_model.h
PHCR_T_FAKE := $(TOP)/tests/unit/fake_phc.c $(TOP)/tests/model/ptpkvm_model.c
PHCR_T_NAMES := $(patsubst $(TOP)/tests/unit/%.c,%,$(wildcard $(TOP)/tests/unit/phcr_*_test.c))
PHCR_T_ASAN := $(addprefix $(PHCR_T_DIR)/asan/,$(PHCR_T_NAMES))
PHCR_T_PLAIN := $(addprefix $(PHCR_T_DIR)/plain/,$(PHCR_T_NAMES))
PHCR_T_BENCH := $(PHCR_T_DIR)/phcr_bench
PHCR_T_FUZZ := $(PHCR_T_DIR)/phcr_fuzz
PHCR_T_EXAMPLE := $(PHCR_T_DIR)/phcr_example
PHCR_FUZZ_SECONDS ?= 60

PHCR_T_CFLAGS := -std=gnu11 -g -Wall -Wextra -Werror -I$(TOP)/include \
  -I$(TOP)/phc_reader -I$(TOP)/tests/unit -I$(TOP)/tests/model
PHCR_T_SANFLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer
PHCR_T_CMOCKA = $$(pkg-config --cflags --libs cmocka)
PHCR_VALGRIND := valgrind -q --tool=memcheck --leak-check=full \
  --errors-for-leak-kinds=definite,indirect --error-exitcode=99

PHCR_PACKAGES := libcmocka-dev valgrind clang pkg-config
PACKAGES += $(PHCR_PACKAGES)

CHECK_TARGETS += phcr-check
BENCH_TARGETS += bench-reader

.PHONY: phcr-deps phcr-check phcr-check-asan phcr-check-valgrind phcr-fuzz \
  phcr-fuzz-build bench-reader phcr-tests

phcr-deps:
	@$(ENSURE) $(PHCR_PACKAGES)

phcr-tests: $(PHCR_T_ASAN) $(PHCR_T_PLAIN)

$(PHCR_T_DIR)/asan/%: $(TOP)/tests/unit/%.c $(PHCR_T_LIBSRCS) $(PHCR_T_FAKE) \
    $(PHCR_T_HDRS) | phcr-deps
	@mkdir -p $(@D)
	$(CC) $(PHCR_T_CFLAGS) $(PHCR_T_SANFLAGS) $(FAKE_WRAP) -o $@ $< $(PHCR_T_LIBSRCS) \
	  $(PHCR_T_FAKE) $(PHCR_T_CMOCKA) -lm

$(PHCR_T_DIR)/plain/%: $(TOP)/tests/unit/%.c $(PHCR_T_LIBSRCS) $(PHCR_T_FAKE) \
    $(PHCR_T_HDRS) | phcr-deps
	@mkdir -p $(@D)
	$(CC) $(PHCR_T_CFLAGS) -O1 $(FAKE_WRAP) -o $@ $< $(PHCR_T_LIBSRCS) $(PHCR_T_FAKE) \
	  $(PHCR_T_CMOCKA) -lm

# Each program prints cmocka's summary; a failing one fails the target.
phcr-check-asan: $(PHCR_T_ASAN)
	@set -e; for t in $(PHCR_T_ASAN); do echo "== asan+ubsan: $$(basename $$t)"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $$t; done

# Under valgrind the 10^6-sample soak is shortened (PHCR_SOAK_SAMPLES); the
# full run happens under ASan above.
phcr-check-valgrind: $(PHCR_T_PLAIN)
	@set -e; for t in $(PHCR_T_PLAIN); do echo "== valgrind: $$(basename $$t)"; \
	  PHCR_SOAK_SAMPLES=100000 $(PHCR_VALGRIND) $$t; done

phcr-check: phcr-check-asan phcr-check-valgrind phcr-fuzz $(PHCR_T_EXAMPLE)
	@echo "phcr-check: all phc_reader checks passed"

# The fuzzer is its own device (it wraps the same calls)
$(PHCR_T_FUZZ): $(TOP)/tests/fuzz/phcr_fuzz.c $(PHCR_T_LIBSRCS) \
    $(PHCR_T_HDRS) $(wildcard $(TOP)/refclock_ptpkvm*.[ch]) | phcr-deps
	@mkdir -p $(@D)
	clang $(PHCR_T_CFLAGS) -I$(TOP) -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all $(FAKE_WRAP) -o $@ $< $(PHCR_T_LIBSRCS) -lm

# The documented example, cut from the page (the C block after "## Example"),
# built as the page says: public headers and the library only.
$(PHCR_T_EXAMPLE): $(TOP)/docs/phc_reader.md $(PHCR_LIB)
	@mkdir -p $(@D)
	sed -n '/^## Example/,/^```$$/p' $< | sed -n '/^```c$$/,/^```$$/p' | \
	  sed '1d;$$d' > $@.c
	test -s $@.c
	$(CC) -std=gnu11 -Wall -Wextra -Werror -I$(TOP)/include -o $@ $@.c $(PHCR_LIB) -lm

phcr-fuzz-build: $(PHCR_T_FUZZ)

phcr-fuzz: $(PHCR_T_FUZZ)
	sh $(TOP)/tests/fuzz/run-fuzz.sh $(PHCR_T_FUZZ) $(PHCR_FUZZ_SECONDS) \
	  $(PHCR_T_DIR)/fuzz-corpus $(TOP)/tests/fuzz/seeds

# Release flags, like $(PHCR_LIB).
$(PHCR_T_BENCH): $(TOP)/tests/unit/phcr_bench.c $(PHCR_T_LIBSRCS) $(PHCR_T_FAKE) \
    $(PHCR_T_HDRS) $(wildcard $(TOP)/refclock_ptpkvm*.[ch]) | phcr-deps
	@mkdir -p $(@D)
	$(CC) -O2 -g -fPIE -fwrapv -D_FORTIFY_SOURCE=2 -std=gnu11 -Wall -Wextra $(FAKE_WRAP) -I$(TOP) \
	  -I$(TOP)/include -I$(TOP)/phc_reader -I$(TOP)/tests/unit -I$(TOP)/tests/model -o $@ $< \
	  $(PHCR_T_LIBSRCS) \
	  $(PHCR_T_FAKE) -lm

# Wall-clock table, then instructions per pass counted by callgrind (does
# not depend on the machine's load): difference of 20000 and 0 passes.
bench-reader: $(PHCR_T_BENCH)
	$(PHCR_T_BENCH)
	@echo "instructions per pass (valgrind --tool=callgrind, 20000 passes):"
	@for s in 0 1 2; do \
	  for n in 0 20000; do \
	    valgrind --tool=callgrind --callgrind-out-file=$(PHCR_T_DIR)/cg.$$s.$$n \
	      $(PHCR_T_BENCH) --only $$s $$n > /dev/null 2>&1 || exit 1; \
	  done; \
	  a=$$(sed -n 's/^summary: //p' $(PHCR_T_DIR)/cg.$$s.0); \
	  b=$$(sed -n 's/^summary: //p' $(PHCR_T_DIR)/cg.$$s.20000); \
	  case $$s in 0) n="validate";; 1) n="validate + filter";; \
	    *) n="validate + filter + jump detect";; esac; \
	  echo "  $$n: $$(( (b - a) / 20000 ))"; \
	done
