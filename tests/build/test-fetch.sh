#!/bin/sh
# test-fetch.sh: checks of scripts/fetch-chrony.sh and the Makefile's version
# handling that need no download: unsupported versions are refused with the
# supported list, a tarball with one byte changed is rejected with the
# checksum error, the pinned tarball is accepted, and a machine without any
# Debian entry gets a clear error.  Uses the tarball already fetched by the
# build (build/src/chrony-$CHRONY_VERSION.tar.gz).
set -u

. "$(dirname "$0")/lib.sh"

fetch="$top/scripts/fetch-chrony.sh"
version=${CHRONY_VERSION:-4.6.1}
good="$top/build/src/chrony-$version.tar.gz"

# expect RC PATTERN CMD...: CMD exits with RC and its stderr matches PATTERN.
expect() {
  want_rc=$1; pattern=$2; shift 2
  "$@" > "$tmp/out" 2>&1
  rc=$?
  [ "$rc" -eq "$want_rc" ] || { echo "  exit $rc, expected $want_rc: $(cat "$tmp/out")"; return 1; }
  grep -q -- "$pattern" "$tmp/out" || { echo "  no '$pattern' in: $(cat "$tmp/out")"; return 1; }
}

[ -f "$good" ] || { echo "missing $good: run 'make chrony' first"; exit 1; }
sum=$(sha256sum "$good" | awk '{ print $1 }')

check "unknown version lists the supported ones" \
  expect 1 "unsupported CHRONY_VERSION '4.7' (supported: 4.3, 4.6.1, 4.9)" "$fetch" 4.7 "$tmp/out1"
check "make refuses an unknown CHRONY_VERSION" \
  expect 2 "unsupported CHRONY_VERSION=9.9 (supported: 4.3 4.6.1 4.9)" make -C "$top" -s CHRONY_VERSION=9.9 chrony

cp "$good" "$tmp/chrony-$version.tar.gz"
check "pinned tarball accepted" \
  expect 0 "sha256 verified" env CHRONY_TARBALL="$tmp/chrony-$version.tar.gz" "$fetch" "$version" "$tmp/ok"
check "accepted tarball is byte-identical" cmp -s "$good" "$tmp/ok/chrony-$version.tar.gz"

# Flip one bit of one byte in the middle of the file.
python3 - "$tmp/chrony-$version.tar.gz" <<'PY'
import sys
p = sys.argv[1]
d = bytearray(open(p, 'rb').read())
d[len(d) // 2] ^= 0x01
open(p, 'wb').write(d)
PY
check "one changed byte is rejected with file, expected and actual sums" \
  expect 1 "checksum mismatch for $tmp/chrony-$version.tar.gz: expected sha256 $sum, got " \
  env CHRONY_TARBALL="$tmp/chrony-$version.tar.gz" "$fetch" "$version" "$tmp/bad"
check "nothing is left behind for a rejected tarball" test ! -e "$tmp/bad/chrony-$version.tar.gz"
check "missing CHRONY_TARBALL named" \
  expect 1 "CHRONY_TARBALL=$tmp/nonexistent.tar.gz: no such file" \
  env CHRONY_TARBALL="$tmp/nonexistent.tar.gz" "$fetch" "$version" "$tmp/bad"

mkdir -p "$tmp/etc-apt/sources.list.d"
check "no Debian entry configured" \
  expect 1 "no Debian archive entry configured in $tmp/etc-apt" \
  env APT_ETC="$tmp/etc-apt" "$fetch" "$version" "$tmp/none"

check "no package-mirror host name in the repository" \
  sh -c "! git -C '$top' grep -n -i -E '(deb|ftp|security|snapshot|cdn-[a-z]+|httpredir)\\.debian\\.org|archive\\.ubuntu\\.com|mirrors?\\.[a-z0-9-]+\\.[a-z]' -- ':!tests/build/test-fetch.sh'"

finish
