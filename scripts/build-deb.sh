#!/usr/bin/env bash
# build-deb.sh VERSION: Debian packages chrony and chrony-ptpkvm for the
# Debian release that carries chrony VERSION (patches/chrony-versions), in
# build/deb/VERSION/out/.
#
# 1. Debian's chrony source package for that release (fetch-chrony.sh
#    --source-package: private apt state, orig tarball checked against our
#    pin, whatever Debian revision the archive offers now), or the one of
#    CHRONY_DSC=/path/to/chrony_REVISION.dsc (a local revision: its files
#    beside it, the orig tarball checked against our pin).
# 2. Unpacked with dpkg-source; our patch series (patches/VERSION) and a
#    patch adding the project's sources go into debian/patches/ptpkvm/ and
#    are applied with dpkg-source's own quilt handling (no fuzz); the files of
#    packaging/debian/ go into debian/; a changelog entry VERSION+ptpkvm1.
# 3. dpkg-buildpackage (source and binaries, chrony's own tests included)
#    inside a clean chroot of the release made by mmdebstrap from the Debian
#    archive configured in /etc/apt; build dependencies from debian/control
#    (apt-get build-dep); lintian from the release, which must report no
#    error.  The chroot is a temporary directory under build/deb/VERSION
#    that mmdebstrap removes (with its mounts) when done.
# The log is build/deb/VERSION/build.log.  PTPKVM_REVISION (default 1) is
# the number after "+ptpkvm"; DEBFULLNAME/DEBEMAIL name the maintainer.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "build-deb: error: $*" >&2; exit 1; }

# --in-chroot PKGDIR OUTDIR TREE ROOT: step 3, run by deb-chroot.sh on this
# machine while the chroot ROOT exists.
if [ "${1:-}" = --in-chroot ]; then
  pkg=$2 result=$3 tree=$4 root=$5
  rm -rf "$result" && mkdir -p "$result"
  cp -a "$pkg" "$root/build"
  inroot() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }
  t0=$SECONDS
  inroot sh -c "cd /build && apt-get -q -y --no-install-recommends build-dep ./$tree" > "$result/build-dep.log" 2>&1 ||
    { tail -n 30 "$result/build-dep.log"; die "apt-get build-dep failed"; }
  echo "build-deb: build dependencies installed from $tree/debian/control ($((SECONDS - t0)) s)"
  t0=$SECONDS
  # chrony's own tests start chronyd (with -x): no CAP_SYS_TIME for any of it
  buildpkg() {
    inroot setpriv --bounding-set=-sys_time --inh-caps=-sys_time -- \
      sh -c "cd /build/$tree && DEB_BUILD_OPTIONS='parallel=2 ${DEB_BUILD_OPTIONS:-}' dpkg-buildpackage -us -uc" \
      > "$result/dpkg-buildpackage.log" 2>&1
  }
  if ! buildpkg; then
    # chrony's system tests (test/system, run by dh_auto_test) wait for
    # chronyd with fixed timeouts; on a loaded 2-core machine 099-scfilter's
    # cmdmon step has timed out now and then.  A failure there is retried
    # once; any other failure, or the same one twice, stops the build.
    grep -q 'dh_auto_test: error' "$result/dpkg-buildpackage.log" ||
      { tail -n 60 "$result/dpkg-buildpackage.log"; die "dpkg-buildpackage failed (see $result/dpkg-buildpackage.log)"; }
    grep -E '^ *FAILED [0-9]+ ' "$result/dpkg-buildpackage.log" | sed 's/^/build-deb: chrony test stage: /'
    mv "$result/dpkg-buildpackage.log" "$result/dpkg-buildpackage.first.log"
    echo "build-deb: chrony's test stage failed (log kept in $result/dpkg-buildpackage.first.log); building once more"
    # the failed run's files, which debian/rules clean leaves and
    # dpkg-source -b would refuse as upstream changes
    rm -rf "$root/build/$tree/test/system/tmp"
    buildpkg ||
      { tail -n 60 "$result/dpkg-buildpackage.log"; die "dpkg-buildpackage failed twice (see $result/dpkg-buildpackage.log)"; }
  fi
  echo "build-deb: dpkg-buildpackage ($((SECONDS - t0)) s)"
  grep -E '^(chrony [0-9.]* configured|dpkg-source: info: using patch list)' "$result/dpkg-buildpackage.log" || true
  t0=$SECONDS
  inroot apt-get -q -y --no-install-recommends install lintian > "$result/lintian-install.log" 2>&1 ||
    die "installing lintian failed (see $result/lintian-install.log)"
  inroot sh -c "cd /build && lintian --version && lintian --fail-on none *.changes" > "$result/lintian.log" 2>&1 ||
    die "lintian did not run (see $result/lintian.log)"
  echo "build-deb: lintian ($((SECONDS - t0)) s)"
  (cd "$root/build" && cp *.deb *.changes *.buildinfo *.dsc *.debian.tar.* *.orig.tar.* "$result/")
  exit 0
fi

[ $# -eq 1 ] || die "usage: build-deb.sh VERSION"
version=$1
pins="$top/patches/chrony-versions"
suite=$(awk -v v="$version" '!/^#/ && NF == 3 && $1 == v { print $2 }' "$pins")
[ -n "$suite" ] || die "unsupported CHRONY_VERSION '$version'"
[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap builds the chroot with chroot(2))"

out="$top/build/deb/$version"
mkdir -p "$out"
exec > >(tee "$out/build.log") 2>&1
start=$(date +%s)

"$top/scripts/ensure-packages.sh" dpkg-dev mmdebstrap

echo "build-deb: chrony $version for Debian '$suite'"
src="$out/src"
if [ -n "${CHRONY_DSC:-}" ]; then
  [ -f "$CHRONY_DSC" ] || die "CHRONY_DSC=$CHRONY_DSC: no such file"
  want=$(awk -v v="$version" '!/^#/ && NF == 3 && $1 == v { print $3 }' "$pins")
  orig="$(dirname "$CHRONY_DSC")/chrony_$version.orig.tar.gz"
  [ -f "$orig" ] && [ "$(sha256sum < "$orig" | cut -d' ' -f1)" = "$want" ] ||
    die "CHRONY_DSC: $orig missing or not the pinned chrony $version tarball"
  rm -rf "$src" && mkdir -p "$src"
  for f in "$(basename "$CHRONY_DSC")" $(awk '/^Files:/ { f = 1; next } /^[^ ]/ { f = 0 } f { print $3 }' "$CHRONY_DSC"); do
    cp "$(dirname "$CHRONY_DSC")/$f" "$src/"
  done
  sed -n 's/^Version: //p' "$CHRONY_DSC" > "$src/debian-version"
  echo "build-deb: local source package $CHRONY_DSC (orig tarball sha256 verified)"
else
  "$top/scripts/fetch-chrony.sh" --source-package "$version" "$src"
fi
debver=$(cat "$src/debian-version")
pkgver="$debver+ptpkvm${PTPKVM_REVISION:-1}"
dpkg --compare-versions "$pkgver" gt "$debver" || die "$pkgver does not sort above $debver"
commit=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
# the commit's time: the changelog date, and every mtime in the patch
# headers (a rebuild of the same commit gives the same source package)
epoch=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)
echo "build-deb: Debian revision $debver -> package version $pkgver (chrony-ptpkvm $commit)"

# --- 2. the source tree ---------------------------------------------------
pkg="$out/pkg"
tree="$pkg/chrony-$version"
rm -rf "$pkg"
mkdir -p "$pkg"
dpkg-source -q -x "$src"/chrony_*.dsc "$tree" > "$out/dpkg-source-x.log" 2>&1 ||
  die "dpkg-source -x of Debian's chrony $debver failed (see $out/dpkg-source-x.log)"
cp "$src/chrony_$version.orig.tar.gz" "$pkg/"
[ ! -f "$src/chrony_$version.orig.tar.gz.asc" ] || cp "$src/chrony_$version.orig.tar.gz.asc" "$pkg/"

# The project's files as one patch creating them (a/ empty, b/ the files).
stage="$out/sources-patch"
rm -rf "$stage"
mkdir -p "$stage/a" "$stage/b/ptpkvm/docs"
cp "$top"/refclock_ptpkvm*.c "$top"/refclock_ptpkvm*.h "$stage/b/"
cp -r "$top/phc_reader" "$top/include" "$top/tools" "$top/guest" "$stage/b/ptpkvm/"
cp "$top"/docs/{configuration,monitoring,setup,troubleshooting}.md "$stage/b/ptpkvm/docs/"
find "$stage/b" \( -name '*.mk' -o -name '*.o' -o -name '*.a' \) -delete
find "$stage" -exec touch -h -d "@$epoch" {} +

pdir="$tree/debian/patches/ptpkvm"
mkdir -p "$pdir"
{
  echo "Description: add the chrony-ptpkvm sources"
  echo " The PTPKVM refclock driver (refclock_ptpkvm*), libphcr (ptpkvm/phc_reader,"
  echo " ptpkvm/include), ptpkvm-doctor (ptpkvm/tools), the guest files"
  echo " (ptpkvm/guest) and the guest documentation (ptpkvm/docs), from"
  echo " chrony-ptpkvm $commit.  Built by debian/ptpkvm.mk."
  echo "Author: The chrony-ptpkvm authors"
  echo "Forwarded: not-needed"
  echo "---"
  (cd "$stage" && TZ=UTC diff -Naur a b) || [ $? -eq 1 ]
} > "$pdir/0000-add-chrony-ptpkvm-sources.patch"
echo "ptpkvm/0000-add-chrony-ptpkvm-sources.patch" >> "$tree/debian/patches/series"
for p in $(cat "$top/patches/$version/series"); do
  cp "$top/patches/$version/$p" "$pdir/"
  echo "ptpkvm/$p" >> "$tree/debian/patches/series"
done

# dpkg-source applies the patches not yet applied, in series order, with
# patch -F0 (no fuzz), as dpkg-buildpackage will.
if ! (cd "$tree" && dpkg-source --before-build .) > "$out/apply.log" 2>&1; then
  cat "$out/apply.log"
  die "our patch series (patches/$version) does not apply to Debian's chrony $debver \
(a new Debian revision may have changed what it patches): update patches/$version (see $out/apply.log)"
fi
grep -h 'applying' "$out/apply.log" || true

# debian/: the chrony-ptpkvm package and the build of our sources.
deb="$tree/debian"
for t in override_dh_auto_build override_dh_auto_install override_dh_installchangelogs; do
  ! grep -q "^$t:" "$deb/rules" ||
    die "Debian's chrony $debver debian/rules now has $t; merge it with packaging/debian/ptpkvm.mk"
done
grep -q '^ *\#include <local/usr.sbin.chronyd>' "$deb/usr.sbin.chronyd" ||
  die "Debian's chrony $debver AppArmor profile has no local include line to insert our rules before"
grep -q '^#DEBHELPER#$' "$deb/prerm" ||
  die "Debian's chrony $debver debian/prerm has no #DEBHELPER# line to insert our stop before"
p="$top/packaging/debian"
cp "$p/ptpkvm.mk" "$p/chrony-ptpkvm.install" "$p/chrony-ptpkvm.docs" "$p/chrony-ptpkvm.manpages" \
  "$p/chrony-ptpkvm.triggers" "$p/chrony-ptpkvm.postinst" "$p/chrony-ptpkvm.postrm" "$deb/"
printf '\ninclude debian/ptpkvm.mk\n' >> "$deb/rules"
# Debian's rules name chrony's units without a package (one binary package
# until now): give them to chrony, or dh_installsystemd looks for them in
# chrony-ptpkvm too.
sed -i '/^override_dh_installsystemd:/,/^$/ s/^\tdh_installsystemd /\tdh_installsystemd -pchrony /' "$deb/rules"
echo "ptpkvm/build/" >> "$deb/clean"
cat "$p/control.in" >> "$deb/control"
cat "$p/copyright.in" >> "$deb/copyright"
# AppArmor: our rules right before the profile's local include
awk -v f="$p/apparmor.in" '
  /^ *#include <local\/usr.sbin.chronyd>/ && !done { while ((getline l < f) > 0) print l; print ""; done = 1 }
  { print }' "$deb/usr.sbin.chronyd" > "$deb/usr.sbin.chronyd.new"
mv "$deb/usr.sbin.chronyd.new" "$deb/usr.sbin.chronyd"
# chrony's prerm: chronyd stopped before another chrony replaces ours
awk -v f="$p/prerm.in" '
  /^#DEBHELPER#$/ && !done { while ((getline l < f) > 0) print l; done = 1 }
  { print }' "$deb/prerm" > "$deb/prerm.new"
cat "$deb/prerm.new" > "$deb/prerm" && rm "$deb/prerm.new"
maint="${DEBFULLNAME:-The chrony-ptpkvm authors} <${DEBEMAIL:-chrony-ptpkvm@example.org}>"
# This is not Debian's upload: the builder maintains it (Debian's
# maintainer is named in the changelog entry), and Debian's repository is
# not this package's (no Vcs-* fields).
orig_maint=$(sed -n 's/^Maintainer: //p' "$deb/control")
sed -i -e "s/^Maintainer: .*/Maintainer: $maint/" -e '/^Vcs-/d' "$deb/control"
date=$(date -R -u -d "@$epoch")
# UNRELEASED: a local build, not an upload to the release (lintian accepts it)
{
  echo "chrony ($pkgver) UNRELEASED; urgency=medium"
  echo
  echo "  * chrony-ptpkvm $commit on Debian's chrony $debver"
  echo "    (maintained in Debian by $orig_maint):"
  echo "    - the PTPKVM refclock driver, with libphcr, linked into chronyd"
  echo "      (debian/patches/ptpkvm/, debian/ptpkvm.mk)"
  echo "    - new binary package chrony-ptpkvm: guest files and ptpkvm-doctor"
  echo "    - AppArmor: read the PHCs' clock_name in sysfs"
  echo "    - prerm: chronyd stopped before another chrony replaces it"
  echo
  echo " -- $maint  $date"
  echo
  cat "$deb/changelog"
} > "$deb/changelog.new"
mv "$deb/changelog.new" "$deb/changelog"

# --- 3. the build in a clean chroot of the release -------------------------
"$top/scripts/deb-chroot.sh" "$suite" buildd "" "$out" \
  "$top/scripts/build-deb.sh" --in-chroot "$pkg" "$out/out" "chrony-$version"

grep -E '^(E|W): ' "$out/out/lintian.log" | sort | uniq -c || true
if grep -q '^E: ' "$out/out/lintian.log"; then
  die "lintian reports errors (see $out/out/lintian.log)"
fi
echo "build-deb: packages in $out/out:"
(cd "$out/out" && ls -1 *.deb)
echo "build-deb: make deb CHRONY_VERSION=$version took $(( $(date +%s) - start )) s"
