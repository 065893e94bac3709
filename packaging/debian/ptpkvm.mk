# chrony-ptpkvm -- included by debian/rules of the chrony source package
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# libphcr (ptpkvm/phc_reader) is built as a static library with the
# package's build flags and linked into chronyd by the configure patch
# (-lphcr, directories through CPPFLAGS/LDFLAGS, as the project's Makefile
# does); ptpkvm-doctor, the udev rule, the chrony.service drop-in (the
# path of ptpkvm-refclock) and ptpkvm-refclock are built for chrony-ptpkvm.
# chronyd is installed into debian/chrony (with two binary packages
# dh_auto_install would use debian/tmp).

PTPKVM_SRC := $(CURDIR)/ptpkvm
PTPKVM_OUT := $(CURDIR)/ptpkvm/build
PTPKVM_GROUP := _chrony
PTPKVM_HELPER := /usr/lib/chrony-ptpkvm/ptpkvm-refclock

export DEB_CPPFLAGS_MAINT_APPEND := -I$(PTPKVM_SRC)/include
export DEB_LDFLAGS_MAINT_APPEND := -L$(PTPKVM_OUT)
include /usr/share/dpkg/buildflags.mk

PHCR_OBJS := $(patsubst $(PTPKVM_SRC)/phc_reader/%.c,$(PTPKVM_OUT)/phcr/%.o,\
  $(wildcard $(PTPKVM_SRC)/phc_reader/*.c))
# The doctor uses the driver's option parser and status file format: the
# driver's files sit in the top directory of the chrony tree
DOCTOR_SRCS := $(wildcard $(PTPKVM_SRC)/tools/*.c) \
  $(CURDIR)/refclock_ptpkvm_opts.c $(CURDIR)/refclock_ptpkvm_status.c

$(PTPKVM_OUT)/phcr/%.o: $(PTPKVM_SRC)/phc_reader/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fwrapv -std=gnu11 -c -o $@ $<

$(PTPKVM_OUT)/libphcr.a: $(PHCR_OBJS)
	rm -f $@ && ar rcs $@ $^

$(PTPKVM_OUT)/ptpkvm-doctor: $(DOCTOR_SRCS) $(PTPKVM_OUT)/libphcr.a
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-format-truncation -std=gnu11 -I$(PTPKVM_SRC)/tools \
	  -iquote $(CURDIR) \
	  $(LDFLAGS) -o $@ $(DOCTOR_SRCS) $(PTPKVM_OUT)/libphcr.a -lm

$(PTPKVM_OUT)/61-ptpkvm.rules: $(PTPKVM_SRC)/guest/udev/61-ptpkvm.rules.in
	@mkdir -p $(dir $@)
	sed 's/@CHRONY_GROUP@/$(PTPKVM_GROUP)/g' $< > $@

$(PTPKVM_OUT)/chrony.service.d/50-ptpkvm.conf: \
    $(PTPKVM_SRC)/guest/systemd/chrony.service.d/50-ptpkvm.conf
	@mkdir -p $(dir $@)
	sed -e 's|@PTPKVM_HELPER@|$(PTPKVM_HELPER)|g' -e 's|@CHRONYD@|/usr/sbin/chronyd|g' $< > $@

# a patch cannot carry the executable mode
$(PTPKVM_OUT)/ptpkvm-refclock: $(PTPKVM_SRC)/guest/chrony/ptpkvm-refclock
	install -D -m 0755 $< $@

override_dh_auto_build: $(PTPKVM_OUT)/libphcr.a $(PTPKVM_OUT)/ptpkvm-doctor \
    $(PTPKVM_OUT)/61-ptpkvm.rules $(PTPKVM_OUT)/chrony.service.d/50-ptpkvm.conf \
    $(PTPKVM_OUT)/ptpkvm-refclock
	grep -q 'define FEAT_PTPKVM' config.h || \
	  { echo "error: chrony configured without FEAT_PTPKVM" >&2; exit 1; }
	dh_auto_build

override_dh_auto_install:
	dh_auto_install --destdir=debian/chrony

# chrony's NEWS.Debian is about chrony: not in chrony-ptpkvm's documentation
override_dh_installchangelogs:
	dh_installchangelogs
	rm -f debian/chrony-ptpkvm/usr/share/doc/chrony-ptpkvm/NEWS.Debian
