# chrony-ptpkvm guest simulator -- make fragment (included by the top Makefile)
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Builds the LD_PRELOAD guest simulator (build/sim/libsimguest.so) and its
# self-test program, and defines sim-check (simulator self-tests and the
# fast scenario subset against the real chronyd), sim-bench (all scenarios
# x configurations, instructions per driver call with callgrind,
# docs/benchmarks.md, build/sim/pause360.png) and
# sim-demo (paced side-by-side run with live chronyc output).

SIM_SRC := $(TOP)/tests/sim
SIM_OUT := $(BUILD)/sim
SIM_LIB := $(SIM_OUT)/libsimguest.so
SIM_SELFTEST := $(SIM_OUT)/sim_selftest
SIM_LIB_SRCS := $(addprefix $(SIM_SRC)/,sim_interpose.c sim_model.c sim_phc.c sim_scenario.c sim_log.c sim_ntp.c \
  sim_query.c sim_guestlog.c) $(TOP)/tests/model/ptpkvm_model.c
SIM_CFLAGS := -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter -I$(TOP)/tests/model \
  -Wno-missing-field-initializers -Wno-nonnull-compare
SIM_PACKAGES := python3 gnuplot-nox util-linux libseccomp2 linuxptp
# Jobs for the scenario runs (2 cores on the reference machine)
SIM_JOBS ?= 2

CHECK_TARGETS += sim-check
BENCH_TARGETS += sim-bench

.PHONY: sim-bench-deps sim-deps sim-lib sim-selftest-check sim-scenario-check sim-check sim-bench sim-demo

sim-deps:
	@$(ENSURE) $(SIM_PACKAGES)

$(SIM_LIB): $(SIM_LIB_SRCS) $(SIM_SRC)/sim.h $(TOP)/tests/model/ptpkvm_model.h | sim-deps
	@mkdir -p $(SIM_OUT)
	$(CC) $(SIM_CFLAGS) -fPIC -shared -o $@ $(SIM_LIB_SRCS) -ldl -lm -lpthread

$(SIM_SELFTEST): $(SIM_SRC)/sim_selftest.c
	@mkdir -p $(SIM_OUT)
	$(CC) $(SIM_CFLAGS) -o $@ $< -lm -ldl

sim-lib: $(SIM_LIB)

# valgrind for the instructions-per-poll table of the bench (callgrind)
sim-bench-deps:
	@$(ENSURE) valgrind

# The simulator's own tests (model exactness, pause, PRECISE/ENODEV,
# determinism, CAP_SYS_TIME safety), then the fast scenario subset with
# the real chronyd.
sim-selftest-check: $(SIM_LIB) $(SIM_SELFTEST)
	@sh $(SIM_SRC)/selftest.sh $(SIM_LIB) $(SIM_SELFTEST) $(SIM_OUT)/selftest

sim-scenario-check: $(SIM_LIB) chrony
	@python3 $(SIM_SRC)/simcheck.py --lib $(SIM_LIB) --chronyd $(CHRONYD) \
	  --out $(SIM_OUT)/check --jobs $(SIM_JOBS)

sim-check: sim-selftest-check sim-scenario-check

sim-bench: $(SIM_LIB) chrony sim-bench-deps
	@python3 $(SIM_SRC)/simbench.py --lib $(SIM_LIB) --chronyd $(CHRONYD) \
	  --out $(SIM_OUT)/bench --jobs $(SIM_JOBS) --doc $(TOP)/docs/benchmarks.md \
	  --png $(SIM_OUT)/pause360.png --chrony-version $(CHRONY_VERSION)

sim-demo: $(SIM_LIB) chrony
	@python3 $(SIM_SRC)/simdemo.py --lib $(SIM_LIB) --chronyd $(CHRONYD) \
	  --chronyc $(CHRONYC) --doctor $(BUILD)/tools/ptpkvm-doctor --out $(SIM_OUT)/demo
