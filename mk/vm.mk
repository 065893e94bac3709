# chrony-ptpkvm -- make fragment for the guest test
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Included by the top-level Makefile.  Target (root; CHRONY_VERSION picks
# the release: 4.6.1 trixie, 4.3 bookworm):
#   vm-check   boots a Debian guest of the release under QEMU (KVM when it
#              works here, TCG otherwise, no network), installs the
#              packages of make deb in it under systemd and AppArmor and
#              prints one PASS/FAIL line per check (scripts/vm-check.sh,
#              tests/vm/); runs make deb first when they are missing.

.PHONY: vm-check

vm-check:
	$(TOP)/scripts/vm-check.sh $(CHRONY_VERSION)

# vm-bench: the same guest paused through QMP (5 s and 60 s; VM_BENCH_PAUSES
# "5 60 360" for the full set), the guest's offset measured from the host
# for the stock PHC refclock and PTPKVM; table on stdout and in
# build/vm/bench-$(CHRONY_VERSION).md (scripts/vm-bench.sh).
.PHONY: vm-bench

vm-bench:
	$(TOP)/scripts/vm-bench.sh $(CHRONY_VERSION)

# vm-lifecycle: the same guest through the apt lifecycle (upgrade,
# full-upgrade, --only-upgrade, rollback, remove, purge, reinstall; the
# packaged ptpkvm.conf and an administrator's line), a newer distribution
# revision offered from a local repository; restart and reboot checks
# (VM_TEST=lifecycle scripts/vm-check.sh, tests/vm/lifecycle).
.PHONY: vm-lifecycle

vm-lifecycle:
	VM_TEST=lifecycle $(TOP)/scripts/vm-check.sh $(CHRONY_VERSION)
