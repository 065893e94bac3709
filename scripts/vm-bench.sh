#!/usr/bin/env bash
# vm-bench.sh VERSION: pause a Debian guest of the release that carries
# chrony VERSION through QMP and measure, from outside the guest, how long
# chronyd takes to bring the guest's clock back within 1 ms of the host's.
#
# The guest is vm-check's (scripts/vm-image.sh: same image, same QEMU from
# the trixie chroot, our packages from build/deb/VERSION/out installed in
# the booted guest by tests/vm/bench-run).  For each configuration (stock
# "refclock PHC /dev/ptp_kvm poll 1" + "makestep 0.1 -1"; the package's
# default "refclock PTPKVM auto") and each pause of VM_BENCH_PAUSES
# (seconds, default "5 60"; the full set is "5 60 360"): QMP stop, wait,
# cont, then VM_BENCH_WATCH (default 30) s of watching.
#
# The offset is measured outside the guest: tests/vm/bench-guest.py writes
# the guest's CLOCK_REALTIME every 10 ms to a virtio-serial port, and
# tests/vm/bench-host.py pairs each line with the host's CLOCK_REALTIME at
# its arrival; the median over the 3 s before the stop is subtracted (the
# port's latency) and the spread over those 3 s is printed as the
# resolution of each row.  A paused guest's clock stops with it, so right
# after cont the offset is minus the pause; chronyd must correct it.
# Recovery: the time from cont to the first stamp after which every stamp
# of the watch is within 1 ms.
#
# KVM when the guest kernel boots under it here (the probe of
# scripts/vm-qemu.sh), TCG otherwise (VM_ACCEL=kvm|tcg forces one).  Under
# TCG the guest has no ptp_kvm: the run still boots, pauses and measures the
# stopped clock, and its recovery cells say that they are not measurable
# and why.  Under TCG on 2 cores with other builds running the default run
# takes 7-9 minutes (boot and apt-get install 3-4 of them).
# Output: a Markdown table on stdout and in build/vm/bench-VERSION.md; the
# guest's progress on stderr; logs in build/vm/bench-VERSION/.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "vm-bench: error: $*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: vm-bench.sh VERSION"
version=$1
suite=$(awk -v v="$version" '!/^#/ && $1 == v { print $2 }' "$top/patches/chrony-versions")
case "$suite" in
  trixie|bookworm) ;;
  *) die "no guest for chrony '$version' (suite '${suite:-unknown}'; trixie and bookworm are tested)" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap, QEMU's chroot)"
pauses=${VM_BENCH_PAUSES:-5 60}
watch=${VM_BENCH_WATCH:-30}

debs="$top/build/deb/$version/out"
if ! ls "$debs"/chrony_*.deb "$debs"/chrony-ptpkvm_*.deb > /dev/null 2>&1; then
  echo "vm-bench: no packages in $debs: make deb CHRONY_VERSION=$version" >&2
  make -C "$top" --no-print-directory deb CHRONY_VERSION="$version" >&2 || die "make deb failed"
fi
qemu=$("$top/scripts/vm-image.sh" qemu "$top/build/vm") || die "QEMU chroot failed"
image=$("$top/scripts/vm-image.sh" guest "$suite" "$top/build/vm") || die "guest image failed"

run="$top/build/vm/bench-$version"
rm -rf "$run" && mkdir -p "$run/disk/debs"
cp --sparse=always "$image/root.ext4" "$run/root.ext4"
cp "$image/vmlinuz" "$image/initrd.img" "$run/"
cp "$top/tests/vm/bench-run" "$run/disk/run"
cp "$top/tests/vm/bench-guest.py" "$run/disk/"
cp "$debs"/chrony_*.deb "$debs"/chrony-ptpkvm_*.deb "$run/disk/debs/"
mkfs.ext4 -q -L vmtest -d "$run/disk" "$run/test.ext4" 128M > /dev/null || die "mkfs.ext4 of the test disk failed"

# shellcheck source=vm-qemu.sh
. "$top/scripts/vm-qemu.sh"
vm_accel vm-bench

# the guest's whole life: boot and install (TCG: about 2 min), per
# configuration chronyd's start (at most 90 s) and every pause with its
# reference, watch and report
limit=$(awk -v p="$pauses" -v w="$watch" 'BEGIN { n = split(p, a, " "); s = 0
  for (i = 1; i <= n; i++) s += a[i] + w + 10; printf "%d", 300 + 2 * (100 + s) }')
echo "vm-bench: chrony $version, $suite guest, $accel, pauses $pauses s, watch $watch s; limit $limit s" >&2
qemu "$limit" -accel "$accel" -cpu "$cpu" \
  -append "root=/dev/vda rw console=ttyS0 vmtest.accel=$accel" \
  -drive file=/mnt/root.ext4,format=raw,if=virtio -drive file=/mnt/test.ext4,format=raw,if=virtio \
  -serial file:/mnt/console.log -serial file:/mnt/results.log \
  -qmp unix:/mnt/qmp.sock,server=on,wait=off \
  -device virtio-serial-pci -chardev socket,id=bench,path=/mnt/bench.sock,server=on,wait=off \
  -device virtserialport,chardev=bench,name=vmbench \
  > "$run/qemu.log" 2>&1 &
qpid=$!

title="chrony $version ($suite guest, packages $(dpkg-deb -f "$(ls "$run"/disk/debs/chrony_*.deb)" Version))"
python3 "$top/tests/vm/bench-host.py" "$run" "$accel" "$title" "$pauses" "$watch" > "$run/bench.md"
rc=$?
wait "$qpid"
qrc=$?
debugfs -R "rdump /out $run" "$run/test.ext4" > /dev/null 2>&1
tr -d '\r' < "$run/results.log" 2>/dev/null | grep -E '^(FAIL|INFO) |^  \| ' >&2
if [ "$rc" -ne 0 ]; then
  echo "vm-bench: FAIL: the bench did not finish (host driver exit $rc, QEMU exit $qrc; console: $run/console.log)" >&2
  tr -d '\r' < "$run/console.log" 2>/dev/null | tail -n 8 | sed 's/^/  | /' >&2
  exit 1
fi
cp "$run/bench.md" "$top/build/vm/bench-$version.md"
cat "$run/bench.md"
echo "vm-bench: table in build/vm/bench-$version.md; logs in $run" >&2
