#!/bin/sh
# fetch-chrony.sh VERSION OUTDIR: put a verified chrony-VERSION.tar.gz in OUTDIR.
# fetch-chrony.sh --source-package VERSION OUTDIR: put Debian's whole chrony
#   source package (.dsc, orig tarball, Debian tarball) of the suite that
#   carries VERSION in OUTDIR, the orig tarball verified; the Debian version
#   offered is printed and written to OUTDIR/debian-version.
# fetch-chrony.sh --archive-entries: print "URI KEYRING" of each Debian archive
#   entry configured in /etc/apt (KEYRING "-" when none is given).
#
# The tarball is Debian's upstream tarball (chrony_VERSION.orig.tar.gz), fetched
# with `apt-get source --download-only --tar-only` from the Debian archive this
# machine is already configured for: the URIs and keyring of the Debian entries
# in /etc/apt are copied into a private deb-src list under OUTDIR/apt, with
# private lists and cache directories, so the system's apt state is untouched.
# Any Debian revision that carries the pinned upstream tarball will do.
# APT_ETC (default /etc/apt) is where the existing entries are read from.
# With CHRONY_TARBALL=/path/to/chrony-VERSION.tar.gz the given file is used
# instead.  Either way the file must match the sha256 pinned in
# patches/chrony-versions.
set -eu

apt_etc=${APT_ETC:-/etc/apt}

top=$(cd "$(dirname "$0")/.." && pwd)
pins="$top/patches/chrony-versions"
retry="$top/scripts/archive-retry.sh"

die() { echo "fetch-chrony: error: $*" >&2; exit "${EXIT_CODE:-1}"; }

mode=tarball
case "${1:-}" in
  --source-package) mode=source; shift ;;
  --archive-entries) mode=entries; shift ;;
esac
[ "$mode" = entries ] || [ $# -eq 2 ] ||
  die "usage: fetch-chrony.sh [--source-package] VERSION OUTDIR | --archive-entries"

if [ "$mode" = entries ]; then
  version=; outdir=
else
  version=$1
  outdir=$2

  supported=$(awk '!/^#/ && NF == 3 { printf "%s%s", sep, $1; sep=", " }' "$pins")
  line=$(awk -v v="$version" '!/^#/ && $1 == v' "$pins")
  [ -n "$line" ] || die "unsupported CHRONY_VERSION '$version' (supported: $supported)"
  suite=$(echo "$line" | awk '{ print $2 }')
  want=$(echo "$line" | awk '{ print $3 }')

  mkdir -p "$outdir"
  outdir=$(cd "$outdir" && pwd)   # apt resolves relative Dir:: paths under /etc/apt
  tarball="$outdir/chrony-$version.tar.gz"
fi

verify() {
  have=$(sha256sum "$1" | awk '{ print $1 }')
  [ "$have" = "$want" ] ||
    die "checksum mismatch for $1: expected sha256 $want, got $have"
}

if [ "$mode" = tarball ] && [ -n "${CHRONY_TARBALL:-}" ]; then
  [ -f "$CHRONY_TARBALL" ] || die "CHRONY_TARBALL=$CHRONY_TARBALL: no such file"
  verify "$CHRONY_TARBALL"
  cp "$CHRONY_TARBALL" "$tarball.tmp" && mv "$tarball.tmp" "$tarball"
  echo "fetch-chrony: using $CHRONY_TARBALL (sha256 verified)"
  exit 0
fi

if [ "$mode" = tarball ] && [ -f "$tarball" ]; then
  verify "$tarball"
  echo "fetch-chrony: $tarball already present (sha256 verified)"
  exit 0
fi

# Collect "URI keyring" pairs of the Debian archive (not security, not
# third-party repositories) from deb822 .sources files and one-line lists.
apt_entries() {
  for f in "$apt_etc"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; keys = ""; suites = ""; enabled = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Signed-By:/) { keys = $i; sub(/^Signed-By:[ \t]*/, "", keys) }
          if ($i ~ /^Suites:/) { suites = $i }
          if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
        }
        if (!enabled || suites !~ /(bookworm|trixie|forky|sid|unstable|testing|stable)([ \t]|$)/) next
        n = split(uris, u, /[ \t]+/)
        for (j = 1; j <= n; j++) if (u[j] != "") print u[j], (keys == "" ? "-" : keys)
      }' "$f"
  done
  for f in "$apt_etc"/sources.list "$apt_etc"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -n 's/^[ \t]*deb\(-src\)\?[ \t]\+\(\[[^]]*\][ \t]\+\)\?\([^ \t]\+\)[ \t]\+\(bookworm\|trixie\|forky\|sid\|unstable\|testing\|stable\)\([ \t].*\)\?$/\3 -/p' "$f"
  done
}

entries=$(apt_entries | grep -v -e '-security' | sort -u)
[ -n "$entries" ] ||
  die "no Debian archive entry configured in $apt_etc (sources.list or sources.list.d); add one, or set CHRONY_TARBALL=/path/to/chrony-$version.tar.gz"
if [ "$mode" = entries ]; then
  echo "$entries"
  exit 0
fi

aptdir="$outdir/apt"
rm -rf "$aptdir"
mkdir -p "$aptdir/sources.list.d" "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/download"
: > "$aptdir/sources.list"
echo "$entries" | while read -r uri key; do
  {
    echo "Types: deb-src"
    echo "URIs: $uri"
    echo "Suites: $suite"
    echo "Components: main"
    if [ "$key" != "-" ]; then
      echo "Signed-By: $key"
    fi
    echo
  } >> "$aptdir/sources.list.d/chrony-src.sources"
done

set -- -o Dir::Etc::SourceList="$aptdir/sources.list" \
  -o Dir::Etc::SourceParts="$aptdir/sources.list.d" \
  -o Dir::State::Lists="$aptdir/lists" \
  -o Dir::Cache="$aptdir/cache" \
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root

echo "fetch-chrony: updating a private deb-src index for '$suite' under $aptdir"
"$retry" apt-get "$@" -q update --error-on=any > "$aptdir/update.log" 2>&1 ||
  die "download failed: apt-get update for deb-src '$suite' (see $aptdir/update.log)"

offered=$(apt-cache "$@" showsrc chrony 2>/dev/null | awk '/^Version:/ { print $2 }')
[ -n "$offered" ] ||
  die "download failed: the private index for '$suite' lists no chrony source at all (see $aptdir/update.log)"
debver=$(echo "$offered" |
  awk -v v="$version" 'index($1, v "-") == 1 || index($1, "1:" v "-") == 1 { print $1; exit }')
[ -n "$debver" ] ||
  EXIT_CODE=3 die "chrony $version is not offered by the archive's '$suite' suite (offered: $(echo $offered))"

if [ "$mode" = source ]; then
  # The .dsc and both tarballs, their sums checked by apt against the signed
  # Sources index; the orig tarball is checked against our pin as well.
  echo "fetch-chrony: downloading Debian's chrony source package $debver ('$suite')"
  (cd "$aptdir/download" && "$retry" apt-get "$@" -q source --download-only "chrony=$debver") \
    > "$aptdir/download.log" 2>&1 ||
    die "download failed: apt-get source chrony=$debver (see $aptdir/download.log)"
  dsc=$(ls "$aptdir"/download/chrony_*.dsc 2>/dev/null | head -n 1)
  orig="$aptdir/download/chrony_$version.orig.tar.gz"
  [ -n "$dsc" ] && [ -f "$orig" ] ||
    die "download failed: .dsc or orig tarball missing after apt-get source (see $aptdir/download.log)"
  verify "$orig"
  rm -f "$outdir"/chrony_*
  mv "$aptdir"/download/chrony_* "$outdir/"
  echo "$debver" > "$outdir/debian-version"
  echo "fetch-chrony: Debian revision offered for '$suite': chrony $debver (orig tarball sha256 verified)"
  exit 0
fi

echo "fetch-chrony: downloading chrony $debver (upstream tarball only)"
(cd "$aptdir/download" && "$retry" apt-get "$@" -q source --download-only --tar-only "chrony=$debver") \
  > "$aptdir/download.log" 2>&1 ||
  die "download failed: apt-get source chrony=$debver (see $aptdir/download.log)"

orig="$aptdir/download/chrony_$version.orig.tar.gz"
[ -f "$orig" ] || die "download failed: $orig missing after apt-get source (see $aptdir/download.log)"
verify "$orig"
mv "$orig" "$tarball"
echo "fetch-chrony: $tarball (sha256 verified)"
