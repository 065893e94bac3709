#!/usr/bin/env bash
# vm-check.sh VERSION: boot a Debian guest of the release that carries chrony
# VERSION (patches/chrony-versions), install our packages in it under
# systemd and AppArmor, and print the guest's checks (tests/vm/run):
# one "PASS|FAIL|SKIP name: evidence" line each, then a summary.  Exits 1
# on any FAIL or when the guest did not finish.
#
# Packages: build/deb/VERSION/out (make deb when missing).  Guest image and
# QEMU: scripts/vm-image.sh, cached under build/vm.  Per run, in
# build/vm/run-VERSION: a copy of the image's root disk, a test disk made
# with mkfs.ext4 -d (the test, our .debs), the kernel console
# (console.log), the test's output (results.log, the guest's second serial
# port) and the guest's logs (out/, copied from the test disk with
# debugfs).  QEMU is trixie's, run from its chroot in a private mount
# namespace (nothing stays mounted); the guest gets no network (an igb NIC
# without backend, for its PHC), -accel kvm when /dev/kvm works here (a
# boot probe), TCG otherwise; VM_ACCEL=kvm|tcg forces one (both in
# scripts/vm-qemu.sh, shared with vm-bench.sh).  VM_TIMEOUT (default 900 s)
# bounds the whole guest run: a hung guest is killed and reported.
#
# VM_TEST=lifecycle (make vm-lifecycle) runs tests/vm/lifecycle instead,
# in build/vm/lifecycle-VERSION: the apt paths from our pair, one reboot
# after each group of them.  Its test disk holds an apt repository (repo/)
# with our pair, the distribution's chrony of the image (apt-get download
# from the configured archive, through a private apt state in build/vm)
# and a newer revision of it: that .deb re-versioned with dpkg-deb, as
# scripts/deb-check.sh makes it; unattended-upgrades and its dependencies;
# a Release file naming it the release's security archive.  Default
# VM_TIMEOUT 2400 s.  VM_PATHS selects paths: words PATH (both
# configurations) or CONFIG.PATH, e.g. "default.upgrade rollback" (the
# names of its PASS/FAIL lines).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "vm-check: error: $*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: vm-check.sh VERSION"
version=$1
suite=$(awk -v v="$version" '!/^#/ && $1 == v { print $2 }' "$top/patches/chrony-versions")
case "$suite" in
  trixie|bookworm) ;;
  *) die "no guest test for chrony '$version' (suite '${suite:-unknown}'; trixie and bookworm are tested)" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap, QEMU's chroot)"
test=${VM_TEST:-check}
case "$test" in
  check) name=run; limit=900 ;;
  lifecycle) name=lifecycle; limit=2400 ;;
  *) die "VM_TEST=$test: check or lifecycle" ;;
esac
t_all=$SECONDS

debs="$top/build/deb/$version/out"
if ! ls "$debs"/chrony_*.deb "$debs"/chrony-ptpkvm_*.deb > /dev/null 2>&1; then
  echo "vm-check: no packages in $debs: make deb CHRONY_VERSION=$version"
  make -C "$top" --no-print-directory deb CHRONY_VERSION="$version" || die "make deb failed"
fi
deb_chrony=$(ls "$debs"/chrony_*.deb)
deb_ptpkvm=$(ls "$debs"/chrony-ptpkvm_*.deb)

t0=$SECONDS
qemu=$("$top/scripts/vm-image.sh" qemu "$top/build/vm") || die "QEMU chroot failed"
image=$("$top/scripts/vm-image.sh" guest "$suite" "$top/build/vm") || die "guest image failed"
t_image=$((SECONDS - t0))

run="$top/build/vm/$name-$version"
rm -rf "$run" && mkdir -p "$run/disk/debs"
cp --sparse=always "$image/root.ext4" "$run/root.ext4"
cp "$image/vmlinuz" "$image/initrd.img" "$run/"
if [ "$test" = check ]; then
  cp "$top/tests/vm/run" "$top/tests/vm/phcstep.py" "$run/disk/"
  cp "$deb_chrony" "$deb_ptpkvm" "$run/disk/debs/"
else
  "$top/scripts/ensure-packages.sh" dpkg-dev >&2
  cp "$top/tests/vm/lifecycle" "$run/disk/run"
  repo="$run/disk/repo"
  mkdir -p "$repo"
  cp "$deb_chrony" "$deb_ptpkvm" "$repo/"
  ours=$(dpkg-deb -f "$deb_chrony" Version)
  distro=$(debugfs -R "cat /var/lib/dpkg/status" "$run/root.ext4" 2>/dev/null |
    awk '/^Package: / { p = $2 } p == "chrony" && /^Version: / { print $2; exit }')
  [ -n "$distro" ] || die "no chrony in the guest image"
  # the distribution's .deb of the image's version, and unattended-upgrades
  # with what it needs beyond the image (apt resolves it against the
  # image's dpkg status), once per version
  apt="$top/build/vm/apt-$suite"
  aptopts=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts="$apt/parts"
    -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Dir::State::status=/dev/null
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root -o APT::Architecture=amd64)
  if ! ls "$apt/chrony_${distro#*:}_"*.deb "$apt"/uu/unattended-upgrades_*.deb > /dev/null 2>&1; then
    rm -rf "$apt" && mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$apt/uu/partial"
    "$top/scripts/fetch-chrony.sh" --archive-entries | while read -r uri keyring; do
      if [ "$keyring" = - ]; then echo "deb $uri $suite main"
      else echo "deb [signed-by=$keyring] $uri $suite main"; fi
    done > "$apt/sources.list"
    debugfs -R "cat /var/lib/dpkg/status" "$run/root.ext4" > "$apt/status.image" 2> /dev/null
    { apt-get "${aptopts[@]}" -q update && (cd "$apt" && apt-get "${aptopts[@]}" -q download "chrony=$distro") &&
      apt-get "${aptopts[@]}" -o Dir::State::status="$apt/status.image" -o Dir::Cache::archives="$apt/uu" \
        -q -y --download-only install unattended-upgrades; } \
      > "$apt/download.log" 2>&1 || die "apt-get download failed (see $apt/download.log)"
  fi
  cp "$apt/chrony_${distro#*:}_"*.deb "$apt"/uu/*.deb "$repo/"
  newer=$(echo "$distro" | perl -pe 's/(\d+)$/$1 + 1/e')
  dpkg-deb -R "$repo/chrony_${distro#*:}_"*.deb "$run/newer"
  sed -i "s/^Version: .*/Version: $newer/" "$run/newer/DEBIAN/control"
  dpkg-deb -b "$run/newer" "$repo/chrony_${newer#*:}_amd64.deb" > /dev/null || die "dpkg-deb -b failed"
  rm -rf "$run/newer"
  (cd "$repo" && dpkg-scanpackages -m . > Packages 2> /dev/null) || die "dpkg-scanpackages failed"
  # the repository poses as the release's security archive, which
  # unattended-upgrades' default Origins-Pattern takes updates from
  { echo "Origin: Debian"; echo "Label: Debian-Security"
    echo "Suite: $suite-security"; echo "Codename: $suite-security"; echo "Date: $(date -R -u)"
    echo "SHA256:"; echo " $(sha256sum < "$repo/Packages" | cut -d' ' -f1) $(stat -c %s "$repo/Packages") Packages"
  } > "$repo/Release"
  echo "$ours" > "$run/disk/ours"; echo "$distro" > "$run/disk/distro"; echo "$newer" > "$run/disk/newer"
  echo "${VM_PATHS:-}" > "$run/disk/paths"
  dpkg --compare-versions "$newer" gt "$ours" && dpkg --compare-versions "$ours" gt "$distro" ||
    die "versions do not sort distro $distro < ours $ours < newer $newer"
  echo "vm-check: repository: chrony $distro (the image's), $ours (ours), $newer (re-versioned)"
fi
dpkg-deb -f "$deb_chrony" Version > "$run/disk/expect"
mkfs.ext4 -q -L vmtest -d "$run/disk" "$run/test.ext4" 128M > /dev/null || die "mkfs.ext4 of the test disk failed"

# shellcheck source=vm-qemu.sh
. "$top/scripts/vm-qemu.sh"
vm_accel vm-check

# audit=1: seccomp kills are audited (audit_seccomp() returns early when
# audit is off); kauditd prints records through printk_ratelimit() when no
# auditd runs, and the queue holds audit_backlog_limit records: both
# lifted, so no line is lost before the test reads the kernel log.
cmdline="root=/dev/vda rw console=ttyS0 vmtest.accel=$accel audit=1 audit_backlog_limit=8192"
cmdline="$cmdline sysctl.kernel.printk_ratelimit=0 log_buf_len=8M loglevel=4"
# reboot=force: the restarting CPU does not stop the others first
# (Documentation/x86/x86_64/boot-options.rst: "can make reboot more
# reliable").  Under TCG bookworm's 6.1 can hang after "reboot: Restarting
# system", CPU 0 stopped and CPU 1 waiting; systemd has synced and
# unmounted the disks by then.
cmdline="$cmdline reboot=force"
timeout_s=${VM_TIMEOUT:-$limit}
echo "vm-$test: chrony $version, $suite guest, $accel, packages $(cat "$run/disk/expect"); image ready in $t_image s; limit $timeout_s s"
t0=$SECONDS
qemu "$timeout_s" -accel "$accel" -cpu "$cpu" -append "$cmdline" \
  -drive file=/mnt/root.ext4,format=raw,if=virtio -drive file=/mnt/test.ext4,format=raw,if=virtio \
  -device igb -serial file:/mnt/console.log -serial file:/mnt/results.log \
  > "$run/qemu.log" 2>&1
qrc=$?
t_guest=$((SECONDS - t0))
debugfs -R "rdump /out $run" "$run/test.ext4" > /dev/null 2>&1

tr -d '\r' < "$run/results.log" 2>/dev/null | grep -E '^(PASS|FAIL|SKIP|INFO) |^  \| ' > "$run/verdicts.txt"
cat "$run/verdicts.txt"
passed=$(grep -c '^PASS ' "$run/verdicts.txt")
failed=$(grep -c '^FAIL ' "$run/verdicts.txt")
skipped=$(grep -c '^SKIP ' "$run/verdicts.txt")
if ! grep -q '^INFO test done' "$run/verdicts.txt"; then
  what="QEMU exit $qrc"
  [ "$qrc" = 124 ] && what="killed after $timeout_s s"
  echo "FAIL harness: the guest did not finish the test ($what; console: $run/console.log)"
  grep -v -i warning "$run/qemu.log" | head -n 5 | sed 's/^/  | /'
  tr -d '\r' < "$run/console.log" 2>/dev/null | tail -n 8 | sed 's/^/  | /'
  failed=$((failed + 1))
fi
boots=$(grep -c '^INFO phase' "$run/verdicts.txt")
echo "vm-$test: chrony $version ($suite, $accel): $passed passed, $failed failed, $skipped skipped;" \
  "image $t_image s, guest $t_guest s ($boots boots), total $((SECONDS - t_all)) s; logs in $run"
[ "$failed" -eq 0 ]
