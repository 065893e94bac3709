#!/bin/sh
# test-patches.sh: the patch series are held once and the patched chrony
# shows it.  Every patch exists once: patches/VERSION/ holds the version's
# series, links to the patches in patches/common (used by several versions)
# and the version's own patches, none of which repeats a change of another
# patch file.  Patch headers are reproducible and say what and why (a
# Subject and a message, no dates).  For the chrony built here
# ($CHRONY_DIR): no chrony file but the driver table (refclock.c) names the
# driver, and chronyd -v lists +PTPKVM among its features.  That each
# series applies without fuzz is checked by the build (make chrony).
set -u

. "$(dirname "$0")/lib.sh"

p="$top/patches"
versions=$(awk '!/^#/ && NF == 3 { print $1 }' "$p/chrony-versions")

# series_ok V: each entry of V's series is a link to ../common/ENTRY or a
# regular file of V's own, and V's directory holds nothing else.
series_ok() {
  ok=0
  for f in $(cat "$p/$1/series"); do
    if [ -L "$p/$1/$f" ]; then
      [ "$(readlink "$p/$1/$f")" = "../common/$f" ] && [ -f "$p/common/$f" ] ||
        { echo "  $1/$f: a link, but not to ../common/$f"; ok=1; }
    elif [ ! -f "$p/$1/$f" ]; then
      echo "  $1/$f: named in the series, missing"; ok=1
    fi
  done
  for f in $(cd "$p/$1" && ls); do
    [ "$f" = series ] || grep -qx -- "$f" "$p/$1/series" ||
      { echo "  $1/$f: in no series"; ok=1; }
  done
  return $ok
}

# common_ok: each patch in patches/common is used by two versions or more.
common_ok() {
  ok=0
  for f in $(cd "$p/common" && ls); do
    n=$(cat $(for v in $versions; do echo "$p/$v/series"; done) | grep -cx -- "$f")
    [ "$n" -ge 2 ] || { echo "  common/$f: used by $n version(s)"; ok=1; }
  done
  return $ok
}

# changes FILE: the lines a patch removes and adds, without its line numbers.
changes() { grep -E '^[-+]' "$1" | grep -vE '^(---|\+\+\+) '; }

# no_copies: no two patch files make the same changes.
no_copies() {
  for f in $(find "$p" -name '*.patch' -type f); do
    echo "$(changes "$f" | sha256sum | cut -c1-64) ${f#$p/}"
  done | sort | awk '$1 == last { print "  " name " and " $2 " make the same changes"; bad = 1 }
    { last = $1; name = $2 } END { exit bad }'
}

# headers_ok: a Subject, a message, and no date or file time in any header.
headers_ok() {
  ok=0
  for f in $(find "$p" -name '*.patch' -type f); do
    sed '/^--- /,$d' "$f" > "$tmp/hdr"
    grep -q '^Subject: \[PATCH\] [a-z_]*: ' "$tmp/hdr" &&
      [ "$(grep -cv '^\(From\|Subject\):\|^$' "$tmp/hdr")" -ge 2 ] ||
      { echo "  ${f#$p/}: no 'Subject: [PATCH] area: ...' and message"; ok=1; }
    grep -nE '^(Date:|(---|\+\+\+) .*[0-9]{4}-[0-9]{2}-[0-9]{2})' "$f" | sed "s|^|  ${f#$p/}:|" |
      grep . && ok=1
  done
  return $ok
}

# generic_code_ok: in the patched tree, no chrony source but refclock.c
# names the driver, and there only in its entry of the driver table.
generic_code_ok() {
  names=$(cd "$CHRONY_DIR" && grep -l PTPKVM -- *.c *.h | grep -v '^refclock_ptpkvm\|^config.h$')
  [ "$names" = refclock.c ] || { echo "  PTPKVM named in: $names"; return 1; }
  grep -n PTPKVM "$CHRONY_DIR/refclock.c" > "$tmp/lines"
  [ "$(wc -l < "$tmp/lines")" -eq 3 ] || { sed 's/^/  /' "$tmp/lines"; return 1; }
}

features_ok() {
  "$CHRONYD" -v > "$tmp/v" 2>&1
  grep -q '^chronyd (chrony) version .*(.*+PTPKVM.*)' "$tmp/v" || { cat "$tmp/v"; return 1; }
}

for v in $versions; do
  check "patches/$v: series of links to common patches and own patches" series_ok "$v"
done
check "patches/common: each patch used by two versions or more" common_ok
check "no patch file repeats the changes of another" no_copies
check "patch headers: subject and message, no dates" headers_ok
check "chrony $CHRONY_VERSION: only the driver table names PTPKVM" generic_code_ok
check "chrony $CHRONY_VERSION: chronyd -v lists +PTPKVM" features_ok
finish
