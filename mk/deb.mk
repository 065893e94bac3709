# chrony-ptpkvm -- make fragment for the Debian packages
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Included by the top-level Makefile.  Targets (root; CHRONY_VERSION picks
# the release: 4.6.1 trixie, 4.3 bookworm):
#   deb        chrony + chrony-ptpkvm .debs built from Debian's chrony source
#              package in a clean chroot of the release (scripts/build-deb.sh),
#              in build/deb/$(CHRONY_VERSION)/out
#   deb-check  install and apt lifecycle test of those packages in a clean
#              chroot of the release (scripts/deb-check.sh); run by .ci/run,
#              not by `make check` (it needs the chroots and the packages)
# CHRONY_DSC=/path/to/chrony_REVISION.dsc builds on that local Debian source
# revision instead of the archive's.

DEB_OUT := $(BUILD)/deb/$(CHRONY_VERSION)/out

.PHONY: deb deb-check

deb:
	$(TOP)/scripts/build-deb.sh $(CHRONY_VERSION)

# the simulator library is preloaded into the packaged chronyd
deb-check: $(SIM_LIB)
	$(TOP)/scripts/deb-check.sh $(CHRONY_VERSION) $(SIM_LIB)
