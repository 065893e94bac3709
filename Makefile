# chrony-ptpkvm -- top-level Makefile
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Orchestrates the build: Debian packages -> chrony source (verified) ->
# patch series -> libphcr -> patched chronyd/chronyc -> tests -> demo.
# Components add their own targets through make fragments (phc_reader,
# unit tests, simulator, tools); this file owns the chrony build.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD := $(TOP)/build
CHRONY_VERSION ?= 4.6.1
CHRONY_TARBALL ?=

SUPPORTED_VERSIONS := $(shell awk '!/^\#/ && NF == 3 { print $$1 }' $(TOP)/patches/chrony-versions)
ifeq ($(filter $(CHRONY_VERSION),$(SUPPORTED_VERSIONS)),)
$(error unsupported CHRONY_VERSION=$(CHRONY_VERSION) (supported: $(SUPPORTED_VERSIONS)))
endif

CHRONY_DIR := $(BUILD)/chrony-$(CHRONY_VERSION)
CHRONY_SRC := $(BUILD)/src/chrony-$(CHRONY_VERSION).tar.gz
CHRONYD := $(CHRONY_DIR)/chronyd
CHRONYC := $(CHRONY_DIR)/chronyc
PATCH_DIR := $(TOP)/patches/$(CHRONY_VERSION)
PATCHES := $(addprefix $(PATCH_DIR)/,$(shell cat $(PATCH_DIR)/series 2>/dev/null))
ENSURE := $(TOP)/scripts/ensure-packages.sh
# The driver's files, linked into the patched tree (the configure patch
# compiles every refclock_ptpkvm*.c it finds there).
DRIVER_FILES := $(wildcard $(TOP)/refclock_ptpkvm*.c $(TOP)/refclock_ptpkvm*.h)

# Installation directories (Debian layout for the configuration).
DESTDIR ?=
prefix ?= /usr/local
bindir ?= $(prefix)/bin
sbindir ?= $(prefix)/sbin
mandir ?= $(prefix)/share/man
sysconfdir ?= /etc

# phc_reader, release build linked into chronyd (PIE like chrony's objects).
PHCR_DIR := $(BUILD)/phcr
PHCR_LIB := $(PHCR_DIR)/libphcr.a
PHCR_SRCS := $(wildcard $(TOP)/phc_reader/*.c)
PHCR_OBJS := $(patsubst $(TOP)/phc_reader/%.c,$(PHCR_DIR)/%.o,$(PHCR_SRCS))
PHCR_CFLAGS := -O2 -g -fPIE -fwrapv -D_FORTIFY_SOURCE=2 -Wall -Wextra -std=gnu11 \
  -I$(TOP)/include

# chrony configured as Debian does, where the dependencies exist.
CHRONY_CONFIGURE_FLAGS := --prefix=$(prefix) --bindir=$(bindir) --sbindir=$(sbindir) \
  --mandir=$(mandir) --sysconfdir=$(sysconfdir)/chrony --with-user=_chrony \
  --enable-scfilter --enable-ntp-signd --chronyrundir=/run/chrony \
  --with-pidfile=/run/chrony/chronyd.pid --with-hwclockfile=/etc/adjtime \
  --host-system=Linux

# Debian packages for building chrony and the project; fragments add theirs.
PACKAGES := build-essential pkg-config patch linux-libc-dev \
  libcap-dev libseccomp-dev libedit-dev nettle-dev libgnutls28-dev libcmocka-dev

CHECK_TARGETS := patches-check
ALL_TARGETS :=
INSTALL_TARGETS :=
BENCH_TARGETS :=
# Checks CI also runs against chrony 4.3 and 4.9 (e.g. the driver's tests).
VERSION_CHECK_TARGETS := patches-check

export TOP BUILD CHRONY_VERSION CHRONY_DIR CHRONYD CHRONYC PHCR_LIB ENSURE

.PHONY: print-version-checks print-prefix build-check patches-check all deps chrony chrony-unit-check chrony-smoke check demo bench \
  install install-chrony clean FORCE

all: chrony

include $(wildcard $(TOP)/tests/unit/unit.mk \
  $(TOP)/tests/sim/sim.mk $(TOP)/tools/tools.mk $(TOP)/mk/deb.mk $(TOP)/mk/vm.mk)

# Re-evaluated after the fragments, which may add packages and targets.
all: $(ALL_TARGETS)

deps:
	@$(ENSURE) $(sort $(PACKAGES))

# The tarball is fetched once and verified; a given CHRONY_TARBALL is
# verified and copied again on every run.
$(CHRONY_SRC): $(TOP)/scripts/fetch-chrony.sh $(TOP)/patches/chrony-versions \
    $(if $(CHRONY_TARBALL),FORCE) | deps
	CHRONY_TARBALL="$(CHRONY_TARBALL)" $(TOP)/scripts/fetch-chrony.sh \
	  $(CHRONY_VERSION) $(BUILD)/src

# Fresh tree, then the series (patches/VERSION/series: links to the patches
# in patches/common, and the version's own patches); patch refuses fuzz
# (-F0), so any hunk that does not apply exactly fails the build.
$(CHRONY_DIR)/.ptpkvm-patched: $(CHRONY_SRC) $(PATCH_DIR)/series $(PATCHES) \
    $(TOP)/Makefile
	rm -rf $(CHRONY_DIR)
	tar -xzf $(CHRONY_SRC) -C $(BUILD)
	@for p in $$(cat $(PATCH_DIR)/series); do \
	  echo "applying $(CHRONY_VERSION)/$$p"; \
	  patch -d $(CHRONY_DIR) -p1 -F0 -N --no-backup-if-mismatch -s \
	    < $(PATCH_DIR)/$$p || { echo "error: patch $$p does not apply to chrony $(CHRONY_VERSION)" >&2; exit 1; }; \
	done
	@if find $(CHRONY_DIR) -name '*.rej' -o -name '*.orig' | grep .; then \
	  echo "error: rejected or fuzzy hunks above" >&2; exit 1; fi
	touch $@

# chrony is configured again whenever its flags or the driver's files
# change (prefix=..., a driver file added or removed).
CHRONY_FLAGS_STAMP := $(CHRONY_DIR)/.ptpkvm-configure-flags
CHRONY_FLAGS_ID := $(CHRONY_CONFIGURE_FLAGS) $(notdir $(DRIVER_FILES))
$(CHRONY_FLAGS_STAMP): $(CHRONY_DIR)/.ptpkvm-patched FORCE
	@echo '$(CHRONY_FLAGS_ID)' | cmp -s - $@ || \
	  echo '$(CHRONY_FLAGS_ID)' > $@

$(CHRONY_DIR)/Makefile: $(CHRONY_DIR)/.ptpkvm-patched $(CHRONY_FLAGS_STAMP) | deps
	rm -rf $(CHRONY_DIR)/refclock_ptpkvm*.[ch] $(CHRONY_DIR)/.deps
	ln -s $(DRIVER_FILES) $(CHRONY_DIR)/
	cd $(CHRONY_DIR) && CPPFLAGS="-I$(TOP)/include" LDFLAGS="-L$(PHCR_DIR)" \
	  ./configure $(CHRONY_CONFIGURE_FLAGS) > configure.log 2>&1 || \
	  { cat configure.log; exit 1; }
	@grep -q 'define CHRONYD_FEATURES ".*+PTPKVM' $(CHRONY_DIR)/config.h || \
	  { echo "error: chrony configured without FEAT_PTPKVM (no PHC support?)" >&2; exit 1; }
	@echo "chrony $(CHRONY_VERSION) configured:" \
	  $$(sed -n 's/^#define FEAT_\([A-Z0-9]*\) 1$$/+\1/p' $(CHRONY_DIR)/config.h | sort | tr '\n' ' ')

$(PHCR_DIR)/%.o: $(TOP)/phc_reader/%.c | deps
	@mkdir -p $(PHCR_DIR)
	$(CC) $(PHCR_CFLAGS) -MMD -MP -c -o $@ $<

-include $(PHCR_OBJS:.o=.d)

$(PHCR_LIB): $(PHCR_OBJS)
	@mkdir -p $(PHCR_DIR)
	rm -f $@ && ar rcs $@ $(PHCR_OBJS)

# chrony's dependency files (gcc -MM) name our headers without phony
# targets: one that names a header since removed is dropped and remade.
chrony: $(CHRONY_DIR)/Makefile $(PHCR_LIB)
	@if [ -e $(CHRONYD) ] && [ $(PHCR_LIB) -nt $(CHRONYD) ]; then rm -f $(CHRONYD); fi
	@for d in $$(grep -l '$(TOP)/include/' $(CHRONY_DIR)/.deps/*.d 2>/dev/null); do \
	  for h in $$(grep -o '$(TOP)/include/[^ :\\]*' $$d); do \
	    [ -e $$h ] || { rm -f $$d; break; }; done; done
	$(MAKE) -C $(CHRONY_DIR) chronyd chronyc
	@$(TOP)/scripts/smoke-chronyd.sh $(CHRONYD)

# chrony's own unit tests, run on the patched tree.
chrony-unit-check: chrony
	$(MAKE) -C $(CHRONY_DIR)/test/unit check

# The build machinery's own checks (fetch errors, checksum, versions).
build-check: chrony
	CHRONY_VERSION=$(CHRONY_VERSION) $(TOP)/tests/build/test-fetch.sh
	$(TOP)/tests/build/test-install.sh

# The patch series held once, the patched chrony naming the driver only in
# its driver table and showing +PTPKVM in chronyd -v.
patches-check: chrony
	$(TOP)/tests/build/test-patches.sh

print-prefix:
	@echo $(prefix)

check: all build-check $(CHECK_TARGETS) chrony-unit-check

# sim-demo after everything is built, in this make: a sub-make would run
# the chrony target (and its smoke test line) a second time
demo: sim-demo
sim-demo: all

bench: all $(BENCH_TARGETS)

install-chrony: chrony
	$(MAKE) -C $(CHRONY_DIR) install DESTDIR=$(DESTDIR)

install: install-chrony $(INSTALL_TARGETS)

clean:
	rm -rf $(BUILD) $(TOP)/autom4te.cache

FORCE:

# Extra targets CI runs for each other supported chrony version.
print-version-checks:
	@echo $(VERSION_CHECK_TARGETS)
