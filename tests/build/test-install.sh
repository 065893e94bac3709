#!/bin/sh
# test-install.sh: `make install DESTDIR=...` puts the patched chronyd and
# chronyc under DESTDIR with the configured prefix, the installed chronyd is
# the patched one (it knows refclock PTPKVM), and nothing is written outside
# DESTDIR.  Runs with the build's current prefix, so the build is reused.
set -u

. "$(dirname "$0")/lib.sh"

prefix=$(make -s -C "$top" print-prefix)
if ! check "make install DESTDIR=..." sh -c "make -s -C '$top' install DESTDIR='$tmp/dest' > '$tmp/log' 2>&1"; then
  cat "$tmp/log"
  finish
  exit 1
fi

check "chronyd installed in DESTDIR$prefix/sbin" test -x "$tmp/dest$prefix/sbin/chronyd"
check "chronyc installed in DESTDIR$prefix/bin" test -x "$tmp/dest$prefix/bin/chronyc"
check "installed chronyd is the patched one" \
  sh -c "'$top/scripts/smoke-chronyd.sh' '$tmp/dest$prefix/sbin/chronyd' > '$tmp/smoke' 2>&1"
check "installed chronyc runs" sh -c "'$tmp/dest$prefix/bin/chronyc' -v | grep -q 'chronyc (chrony) version'"

finish
