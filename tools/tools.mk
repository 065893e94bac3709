# chrony-ptpkvm -- make fragment for ptpkvm-doctor, its tests and the guest assets
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Included by the top-level Makefile (which defines TOP, BUILD, PHCR_LIB,
# ENSURE, CHRONYD, CHRONYC, DESTDIR, prefix, bindir, sysconfdir).  Targets:
#   doctor         build/tools/ptpkvm-doctor                (ALL_TARGETS)
#   doctor-check   all of the following                     (CHECK_TARGETS)
#     doctor-check-fixtures  real binary with --root on generated fixture trees,
#                            chrony.sync on a stub chronyc
#     doctor-check-install   install-guest into a scratch DESTDIR, verified
#     doctor-check-asan      the fixture trees again under ASan/UBSan
#     doctor-check-table     one table of configuration lines through the real
#                            chronyd (-p, and started) and the doctor
#                            (VERSION_CHECK_TARGETS)
#     doctor-check-sim       real binary on the simulator's ptp_kvm (the PHC
#                            checks), real chronyds asked by it (PTPKVM, a NIC
#                            PHC, a replaced binary) (VERSION_CHECK_TARGETS)
#     doctor-check-status-sim  the driver's status file after pause-360x3 in the
#                            simulator, read by the doctor (--json, --prometheus)
#                            and checked against the simulator's truth
#   install-guest  udev rule, /etc/chrony/ptpkvm.conf, conf.d/ptpkvm.conf,
#                  ptpkvm-refclock, systemd drop-ins, the doctor, its manual
#                  page and the pages its advice names
#                                                            (INSTALL_TARGETS)

DOCTOR_DIR := $(BUILD)/tools
DOCTOR := $(DOCTOR_DIR)/ptpkvm-doctor
DOCTOR_SRCS := $(wildcard $(TOP)/tools/*.c)
# the driver's option parser and its status file module (with the parser of
# the file) are compiled in (they are chrony-free), never copied
DOCTOR_DRIVER_SRCS := $(TOP)/refclock_ptpkvm_opts.c $(TOP)/refclock_ptpkvm_status.c
DOCTOR_DRIVER_HDRS := $(TOP)/refclock_ptpkvm.h
DOCTOR_OBJS := $(patsubst $(TOP)/tools/%.c,$(DOCTOR_DIR)/%.o,$(DOCTOR_SRCS)) \
  $(patsubst $(TOP)/%.c,$(DOCTOR_DIR)/%.o,$(DOCTOR_DRIVER_SRCS))
DOCTOR_CFLAGS := -O2 -g -fPIE -D_FORTIFY_SOURCE=2 -Wall -Wextra -Wno-format-truncation -std=gnu11 \
  -I$(TOP)/include -I$(TOP)/tools -I$(TOP)
DOCTOR_LDFLAGS := -pie

DOCTOR_TEST_DIR := $(BUILD)/doctor-tests

# Guest asset locations (Debian defaults; RHEL: CHRONY_GROUP=chrony
# CHRONY_UNIT=chronyd.service).
udevrulesdir ?= $(prefix)/lib/udev/rules.d
systemdunitdir ?= $(prefix)/lib/systemd/system
ptpkvmlibdir ?= $(prefix)/lib/chrony-ptpkvm
docdir ?= $(prefix)/share/doc/chrony-ptpkvm
CHRONY_GROUP ?= _chrony
CHRONY_UNIT ?= chrony.service
CHRONY_CONFDIR ?= $(sysconfdir)/chrony/conf.d

PACKAGES += python3

ALL_TARGETS += doctor
CHECK_TARGETS += doctor-check
INSTALL_TARGETS += install-guest

.PHONY: doctor doctor-check doctor-check-fixtures doctor-check-install \
  doctor-check-asan doctor-check-sim doctor-check-table install-guest

doctor: $(DOCTOR)

$(DOCTOR_DIR)/%.o: $(TOP)/tools/%.c $(wildcard $(TOP)/tools/*.h) $(wildcard $(TOP)/include/*.h) \
    $(DOCTOR_DRIVER_HDRS) | deps
	@mkdir -p $(DOCTOR_DIR)
	$(CC) $(DOCTOR_CFLAGS) -c -o $@ $<

$(DOCTOR_DIR)/refclock_%.o: $(TOP)/refclock_%.c $(DOCTOR_DRIVER_HDRS) | deps
	@mkdir -p $(DOCTOR_DIR)
	$(CC) $(DOCTOR_CFLAGS) -c -o $@ $<

$(DOCTOR): $(DOCTOR_OBJS) $(PHCR_LIB)
	$(CC) $(DOCTOR_LDFLAGS) -o $@ $(DOCTOR_OBJS) $(PHCR_LIB) -lm

doctor-check-fixtures: $(DOCTOR) chrony
	@$(ENSURE) python3 util-linux
	python3 $(TOP)/tests/doctor/test_fixtures.py --doctor $(DOCTOR) --chronyd $(CHRONYD) \
	  --workdir $(DOCTOR_TEST_DIR)/fixtures

# install-guest into a scratch DESTDIR (Debian layout), then check the files and
# that a guest with only these assets satisfies the doctor
doctor-check-install: $(DOCTOR) chrony
	@$(ENSURE) python3 systemd man-db
	rm -rf $(DOCTOR_TEST_DIR)/destdir
	$(MAKE) --no-print-directory install-guest DESTDIR=$(DOCTOR_TEST_DIR)/destdir prefix=/usr \
	  sysconfdir=/etc
	python3 $(TOP)/tests/doctor/test_fixtures.py --doctor $(DOCTOR) --chronyd $(CHRONYD) \
	  --workdir $(DOCTOR_TEST_DIR)/fixtures-install --destdir $(DOCTOR_TEST_DIR)/destdir \
	  --only-install

# The fixture trees again with AddressSanitizer and UBSan (every source compiled
# in, phc_reader included; any report aborts the run)
DOCTOR_ASAN_DIR := $(DOCTOR_TEST_DIR)/asan
DOCTOR_ASAN_FLAGS := -O1 -g -fwrapv -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer -Wall -Wextra -Wno-format-truncation -std=gnu11 \
  -I$(TOP)/include -I$(TOP)/tools -I$(TOP)
DOCTOR_ASAN_DEPS := $(wildcard $(TOP)/tools/*.c $(TOP)/tools/*.h $(TOP)/phc_reader/*.c \
  $(TOP)/phc_reader/*.h $(TOP)/include/*.h) $(DOCTOR_DRIVER_SRCS) $(DOCTOR_DRIVER_HDRS)

$(DOCTOR_ASAN_DIR)/ptpkvm-doctor: $(DOCTOR_ASAN_DEPS) | deps
	@mkdir -p $(DOCTOR_ASAN_DIR)
	$(CC) $(DOCTOR_ASAN_FLAGS) -o $@ $(TOP)/tools/*.c $(DOCTOR_DRIVER_SRCS) $(TOP)/phc_reader/*.c -lm

doctor-check-asan: $(DOCTOR_ASAN_DIR)/ptpkvm-doctor chrony
	@$(ENSURE) python3 util-linux
	ASAN_OPTIONS=detect_leaks=1 python3 $(TOP)/tests/doctor/test_fixtures.py --chronyd $(CHRONYD) \
	  --doctor $(DOCTOR_ASAN_DIR)/ptpkvm-doctor --workdir $(DOCTOR_TEST_DIR)/fixtures-asan

# chronyd and the doctor agree on every line of the table (chrony 4.3 and
# 4.9 too: each has options the others lack)
doctor-check-table: $(DOCTOR) chrony
	@$(ENSURE) python3 util-linux
	python3 $(TOP)/tests/doctor/test_refclock_table.py --doctor $(DOCTOR) --chronyd $(CHRONYD) \
	  --version $(CHRONY_VERSION) --workdir $(DOCTOR_TEST_DIR)/refclock-table-$(CHRONY_VERSION)

VERSION_CHECK_TARGETS += doctor-check-table

DOCTOR_CHECKS := doctor-check-fixtures doctor-check-install doctor-check-asan doctor-check-table

# The real binary (real device backend) under the guest simulator's emulated
# ptp_kvm, and chrony.sync against a real patched chronyd (refclock PTPKVM)
# running under the simulator, asked by the real chronyc; when the
# simulator's fragment is present
ifneq ($(SIM_LIB),)
doctor-check-sim: $(DOCTOR) $(SIM_LIB) chrony
	@$(ENSURE) python3 util-linux
	python3 $(TOP)/tests/doctor/test_sim.py --doctor $(DOCTOR) --lib $(SIM_LIB) \
	  --out $(DOCTOR_TEST_DIR)/sim --chronyd $(CHRONYD) --chronyc $(CHRONYC)

DOCTOR_CHECKS += doctor-check-sim

# The real patched chronyd writes its status file in the simulator; the
# doctor's JSON and Prometheus output must match the truth log
.PHONY: doctor-check-status-sim
doctor-check-status-sim: $(DOCTOR) $(SIM_LIB) chrony
	@$(ENSURE) python3 util-linux
	python3 $(TOP)/tests/doctor/test_status_sim.py --doctor $(DOCTOR) --lib $(SIM_LIB) \
	  --chronyd $(CHRONYD) --out $(DOCTOR_TEST_DIR)/status-sim

DOCTOR_CHECKS += doctor-check-status-sim
# the status file through the configure patch and chrony's command socket
# path on chrony 4.3 and 4.9 too
VERSION_CHECK_TARGETS += doctor-check-status-sim
# chronyc's CSV and the refclock's reference ID on chrony 4.3 and 4.9 too
VERSION_CHECK_TARGETS += doctor-check-sim
endif

doctor-check: $(DOCTOR_CHECKS)

install-guest: $(DOCTOR)
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(ptpkvmlibdir) $(DESTDIR)$(udevrulesdir) \
	  $(DESTDIR)$(systemdunitdir)/$(CHRONY_UNIT).d \
	  $(DESTDIR)$(systemdunitdir)/chrony-wait.service.d \
	  $(DESTDIR)$(systemdunitdir)/modprobe@ptp_kvm.service.d \
	  $(DESTDIR)$(CHRONY_CONFDIR) $(DESTDIR)$(docdir)
	install -m 0755 $(DOCTOR) $(DESTDIR)$(bindir)/ptpkvm-doctor
	install -d $(DESTDIR)$(mandir)/man8
	install -m 0644 $(TOP)/tools/ptpkvm-doctor.8 $(DESTDIR)$(mandir)/man8/ptpkvm-doctor.8
	install -m 0755 $(TOP)/guest/chrony/ptpkvm-refclock $(DESTDIR)$(ptpkvmlibdir)/ptpkvm-refclock
	sed 's/@CHRONY_GROUP@/$(CHRONY_GROUP)/g' $(TOP)/guest/udev/61-ptpkvm.rules.in \
	  > $(DESTDIR)$(udevrulesdir)/61-ptpkvm.rules
	chmod 0644 $(DESTDIR)$(udevrulesdir)/61-ptpkvm.rules
	sed -e 's|@PTPKVM_HELPER@|$(ptpkvmlibdir)/ptpkvm-refclock|g' -e 's|@CHRONYD@|$(sbindir)/chronyd|g' \
	  $(TOP)/guest/systemd/chrony.service.d/50-ptpkvm.conf \
	  > $(DESTDIR)$(systemdunitdir)/$(CHRONY_UNIT).d/50-ptpkvm.conf
	chmod 0644 $(DESTDIR)$(systemdunitdir)/$(CHRONY_UNIT).d/50-ptpkvm.conf
	install -m 0644 $(TOP)/guest/systemd/chrony-wait.service.d/50-ptpkvm.conf \
	  $(DESTDIR)$(systemdunitdir)/chrony-wait.service.d/50-ptpkvm.conf
	install -m 0644 $(TOP)/guest/systemd/modprobe@ptp_kvm.service.d/50-ptpkvm.conf \
	  $(DESTDIR)$(systemdunitdir)/modprobe@ptp_kvm.service.d/50-ptpkvm.conf
	install -m 0644 $(TOP)/guest/chrony/ptpkvm.conf $(DESTDIR)$(CHRONY_CONFDIR)/../ptpkvm.conf
	install -m 0644 $(TOP)/guest/chrony/conf.d/ptpkvm.conf $(DESTDIR)$(CHRONY_CONFDIR)/ptpkvm.conf
	install -m 0644 $(TOP)/guest/systemd/app-after-time-sync.conf \
	  $(addprefix $(TOP)/docs/,configuration.md monitoring.md setup.md troubleshooting.md) \
	  $(DESTDIR)$(docdir)/
