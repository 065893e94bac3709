#!/usr/bin/env bash
# vm-image.sh qemu DIR | guest SUITE DIR: the cached pieces of make vm-check.
# Prints the directory of the result (DIR/KEY), made once per key.
#
#   qemu   a trixie chroot with qemu-system-x86 (QEMU 10: its igb device
#          has a PHC that advances; bookworm's QEMU does not offer one that
#          works), used for the guests of every release (vm-check.sh runs
#          it in a private mount namespace).
#   guest  the boot files of a Debian SUITE guest: root.ext4 (made with
#          mkfs.ext4 -d, no loop mount), vmlinuz and initrd.img of the
#          release's own kernel.  The distribution's chrony is installed;
#          ours is not (the test installs it in the booted guest).  The test
#          runner of tests/vm (a unit started after multi-user.target) is
#          enabled in it.
#
# Both are made with mmdebstrap from the Debian archive configured in
# /etc/apt (fetch-chrony.sh --archive-entries).  KEY is a hash of what goes
# in: the kind, suite, package list, archive entries and, for the guest,
# this script and the runner files, so a change of any of them makes a new
# image; older images of the same kind and suite are deleted.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "vm-image: error: $*" >&2; exit 1; }

kind=${1:-}
case "$kind" in
  qemu) [ $# -eq 2 ] || die "usage: vm-image.sh qemu DIR"; suite=trixie; dir=$2
    packages=qemu-system-x86
    script= ;;
  guest) [ $# -eq 3 ] || die "usage: vm-image.sh guest SUITE DIR"; suite=$2; dir=$3
    # linuxptp: phc_ctl; python3: the test's PHC reader, the doctor's JSON
    packages=systemd-sysv,udev,kmod,initramfs-tools,linux-image-amd64,apparmor,chrony,linuxptp,python3,procps
    script="$0 $top/tests/vm/vmtest.service $top/tests/vm/vmtest-boot" ;;
  *) die "usage: vm-image.sh qemu DIR | guest SUITE DIR" ;;
esac

entries=$("$top/scripts/fetch-chrony.sh" --archive-entries)
[ -n "$entries" ] || die "no Debian archive configured in /etc/apt"
# shellcheck disable=SC2086
key=$( { echo "$kind $suite $packages"; echo "$entries"; [ -z "$script" ] || cat $script; } |
  sha256sum | cut -c1-12)
out="$dir/$kind-$suite-$key"
if [ -e "$out/.done" ]; then
  echo "$out"
  exit 0
fi

"$top/scripts/ensure-packages.sh" mmdebstrap e2fsprogs >&2
mirrors=()
while read -r uri keyring; do
  if [ "$keyring" = - ]; then mirrors+=("deb $uri $suite main")
  else mirrors+=("deb [signed-by=$keyring] $uri $suite main"); fi
done <<< "$entries"

mkdir -p "$dir"
rm -rf "$dir/$kind-$suite-"*
t0=$SECONDS
if [ "$kind" = qemu ]; then
  mmdebstrap --mode=root --variant=apt --include="$packages" --quiet \
    "$suite" "$out" "${mirrors[@]}" >&2
else
  root="$out/rootfs"
  mkdir -p "$out"
  # The runner and its unit; the kernel's command line comes from
  # vm-check.sh (direct kernel boot), so no boot loader is installed.
  mmdebstrap --mode=root --variant=minbase --include="$packages" --quiet \
    --customize-hook='echo vmtest > "$1/etc/hostname"' \
    --customize-hook='echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "$1/etc/fstab"' \
    --customize-hook="install -m 0755 $top/tests/vm/vmtest-boot \"\$1/usr/local/sbin/vmtest-boot\"" \
    --customize-hook="install -m 0644 $top/tests/vm/vmtest.service \"\$1/etc/systemd/system/vmtest.service\"" \
    --customize-hook='chroot "$1" systemctl enable -q vmtest.service' \
    "$suite" "$root" "${mirrors[@]}" >&2
  cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
  cp "$root"/boot/initrd.img-* "$out/initrd.img"
  # 3 GiB sparse: room for the packages the tests install and their logs
  mkfs.ext4 -q -L vmroot -d "$root" "$out/root.ext4" 3G > /dev/null
  rm -rf "$root"
fi
touch "$out/.done"
echo "vm-image: $kind $suite made in $((SECONDS - t0)) s: $out" >&2
echo "$out"
