# vm-qemu.sh: sourced by vm-check.sh and vm-bench.sh (bash); what both
# need to start a guest.
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# The caller sets qemu (trixie's QEMU chroot, vm-image.sh qemu) and run
# (the run directory with vmlinuz and initrd.img) and defines die.

# qemu TIMEOUT ARG...: trixie's qemu-system-x86_64 with the run directory
# as /mnt, /dev and /proc mounted in its chroot for this process only
qemu() {
  local limit=$1; shift
  timeout --kill-after=10 "$limit" unshare --mount --propagation private -- \
    sh -c 'q=$1 r=$2; shift 2
      mount --rbind /dev "$q/dev" && mount -t proc proc "$q/proc" &&
      mount --bind "$r" "$q/mnt" && exec chroot "$q" "$@"' \
    sh "$qemu" "$run" qemu-system-x86_64 -nodefaults -no-user-config -display none \
    -machine q35 -m 1G -smp 2 -kernel /mnt/vmlinuz -initrd /mnt/initrd.img "$@"
}

# vm_accel NAME: sets accel (kvm or tcg; VM_ACCEL forces one) and cpu.  The
# kernel must really run under KVM: the probe boots the guest's kernel with
# an init that does not exist; its panic (panic=-1: reboot, and -no-reboot
# ends QEMU) on the console shows that it ran.  NAME starts the message
# on stderr when it falls back to TCG.
vm_accel() {
  accel=${VM_ACCEL:-auto}
  if [ "$accel" = auto ]; then
    accel=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
      qemu 60 -accel kvm -cpu host -no-reboot -serial "file:/mnt/kvm-probe.log" \
        -append "console=ttyS0 panic=-1 rdinit=/vmtest-no-init init=/vmtest-no-init" \
        > "$run/kvm-probe.qemu.log" 2>&1
      if grep -q 'Kernel panic' "$run/kvm-probe.log" 2>/dev/null; then
        accel=kvm
      else
        echo "$1: /dev/kvm present but the guest kernel does not boot under it" \
          "($(grep -v warning "$run/kvm-probe.qemu.log" | head -n 1)$(tail -n 1 "$run/kvm-probe.log" 2>/dev/null)); using TCG" >&2
      fi
    fi
  fi
  case "$accel" in
    kvm) cpu=host ;;
    tcg) cpu=max ;;
    *) die "VM_ACCEL=$accel: kvm, tcg or auto" ;;
  esac
}
