#!/usr/bin/env bash
# deb-check.sh VERSION SIM_LIB: install test of the packages built by
# build-deb.sh (build/deb/VERSION/out) in a clean chroot of their Debian
# release, as a stock guest would get them:
#   the distribution's chrony first, then ours over it with apt (dependencies
#   from the archive): version, conffile and user kept; chronyd -v; a real
#   start of the installed chronyd with refclock PTPKVM (-x, CAP_SYS_TIME
#   dropped from its bounding set, checked in /proc); ptpkvm-doctor --json;
#   systemd-analyze verify and systemd-delta of the units with our drop-ins;
#   the AppArmor profile; dpkg -L against the files of "make
#   install-guest"; the simulator's
#   pause-360 bounds (tests/sim/expect.txt) with the chronyd of the .deb;
#   then apt remove (only configuration left), the distribution's chronyd
#   with our left conffile, apt purge (the file tree as before the install).
# The chroot (mmdebstrap, variant "important" plus systemd, udev, python3,
# kmod, apparmor) exists only for the test; the simulator runs inside it
# because the binary links against the release's libraries.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "deb-check: error: $*" >&2; exit 1; }

passed=0
failed=0
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; fi
}

# --- the test, run by deb-chroot.sh while the chroot ROOT exists ----------
if [ "${1:-}" = --in-chroot ]; then
  version=$2 sim_lib=$3 work=$4 root=$5
  debs="$top/build/deb/$version/out"
  inroot() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }
  # --autoremove also removes what chrony pulled in and a package of the
  # chroot merely recommends or suggests (apt would keep it: not our
  # packages' doing)
  apt_in() { inroot apt-get -q -y -o Dpkg::Options::=--force-confold \
    -o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false \
    "$@" < /dev/null \
    >> "$work/apt.log" 2>&1; }
  # the file tree (not /proc, /sys, /dev, /run, /tmp, caches, logs and the
  # package manager's own bookkeeping), with the sums of /etc's files
  snapshot() {
    inroot sh -c 'find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run \
        -o -path /tmp -o -path /root -o -path /var/cache -o -path /var/log \
        -o -path /var/lib/apt -o -path /var/lib/dpkg \) -prune -o -print | sort;
      find /etc -xdev -type f -exec sha256sum {} + | sort -k 2' > "$1"
  }
  # run_chronyd LOG: the installed chronyd with the packaged conf.d (not
  # chrony.conf, whose pool lines would send NTP requests out), -x (no
  # clock control) and -F 1 as Debian starts it, without CAP_SYS_TIME in its
  # bounding set, for 5 s; sets pid, alive, capbnd
  run_chronyd() {
    rm -f "$root/run/chrony/chronyd.pid"
    printf 'confdir /etc/chrony/conf.d\ncmdport 0\n' > "$root/tmp/deb-check-chrony.conf"
    inroot sh -c 'exec setpriv --bounding-set=-sys_time --inh-caps=-sys_time -- \
        chronyd -x -d -F 1 -f /tmp/deb-check-chrony.conf' > "$1" 2>&1 &
    sleep 5
    pid=$(cat "$root/run/chrony/chronyd.pid" 2>/dev/null || true)
    capbnd=$( [ -n "$pid" ] && awk '/^CapBnd:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
    alive=no
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=yes
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    wait
    sed 's/^/    chronyd: /' "$1"
  }
  # difference of two snapshots, one line per path
  changes() { diff "$1" "$2" | sed -n 's/^[<>] //p' | awk '{ print $NF }' | sort -u; }

  rm -rf "$work" && mkdir -p "$work"
  ours=$(dpkg-deb -f "$debs"/chrony_*.deb Version)
  # everything of the stock system is wanted: autoremove must not take it
  inroot sh -c 'apt-mark manual $(dpkg-query -W -f "\${Package}\n")' > /dev/null
  snapshot "$work/before"

  # 1. the distribution's chrony, a user's edit of its configuration
  apt_in install chrony || die "apt-get install chrony (the distribution's) failed"
  distro=$(inroot dpkg-query -W -f '${Version}' chrony)
  echo "deb-check: the distribution's chrony $distro installed; ours is $ours"
  check "our version $ours sorts above the distribution's $distro" \
    inroot dpkg --compare-versions "$ours" gt "$distro"
  echo "# deb-check: a user's edit" >> "$root/etc/chrony/chrony.conf"
  uid=$(inroot id -u _chrony)

  # 2. ours over it, dependencies from the archive
  mkdir -p "$root/tmp/debs"
  cp "$debs"/*.deb "$root/tmp/debs/"
  t0=$SECONDS
  apt_in install "/tmp/debs/$(basename "$debs"/chrony_*.deb)" \
    "/tmp/debs/$(basename "$debs"/chrony-ptpkvm_*.deb)" ||
    { tail -n 30 "$work/apt.log"; die "apt-get install of our packages failed"; }
  echo "deb-check: apt-get install of our packages: $((SECONDS - t0)) s"
  check "apt installed chrony $ours" \
    test "$(inroot dpkg-query -W -f '${Version} ${db:Status-Status}' chrony)" = "$ours installed"
  check "apt installed chrony-ptpkvm $ours" \
    test "$(inroot dpkg-query -W -f '${Version} ${db:Status-Status}' chrony-ptpkvm)" = "$ours installed"
  check "the user's edit of chrony.conf is kept" grep -q '^# deb-check: a user' "$root/etc/chrony/chrony.conf"
  check "the _chrony user is kept (uid $uid)" test "$(inroot id -u _chrony)" = "$uid"

  # 3. chronyd -v; the binary is the one in the .deb
  inroot chronyd -v > "$work/chronyd-v.txt" 2>&1
  cat "$work/chronyd-v.txt"
  check "chronyd -v names chrony $version" grep -q "version $version " "$work/chronyd-v.txt"
  mkdir -p "$work/deb-x"
  dpkg-deb -x "$debs"/chrony_*.deb "$work/deb-x"
  check "the installed chronyd is the one of the .deb (dpkg-deb -x)" \
    cmp -s "$work/deb-x/usr/sbin/chronyd" "$root/usr/sbin/chronyd"

  # 4. a real start: the packaged conf.d (refclock PTPKVM through
  #    conf.d/ptpkvm.conf) with -x, CAP_SYS_TIME out of the bounding set
  run_chronyd "$work/chronyd-x.log"
  check "chronyd -x with the packaged conf.d runs 5 s (pid ${pid:-none})" test "$alive" = yes
  check "chronyd ran without CAP_SYS_TIME in its bounding set (CapBnd ${capbnd:-?})" \
    test -n "$capbnd" -a $(( 0x${capbnd:-0} >> 25 & 1 )) -eq 0
  check "chronyd added the PTPKVM refclock from conf.d (no fatal error)" \
    sh -c "! grep -qi 'fatal' '$work/chronyd-x.log' && grep -q 'KVM0\|PTPKVM' '$work/chronyd-x.log'"

  # 5. ptpkvm-doctor --json on this (device-less) system
  inroot ptpkvm-doctor --json > "$work/doctor.json" 2> "$work/doctor.err"
  echo "deb-check: ptpkvm-doctor exit code $?"
  check "ptpkvm-doctor --json: the packaged refclock line and modules-load.d file seen" \
    python3 - "$work/doctor.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ids = {c["id"]: c for c in d["checks"]}
for c in d["checks"]:
    print("    doctor: %-20s %-4s %s" % (c["id"], c["status"], c["message"][:90]))
assert d["tool"] == "ptpkvm-doctor" and len(d["checks"]) >= 10, d
# the line is found through chrony.conf -> conf.d/ptpkvm.conf -> the include;
# its status depends on this machine having a KVM PHC or not
r = ids["chrony.refclock"]
assert "/usr/share/chrony/ptpkvm-refclock.conf" in r["message"], r
assert "refclock PTPKVM auto" in r["message"], r
b = ids["kernel.ptp_kvm_boot"]
assert b["status"] == "OK" and "/usr/lib/modules-load.d/ptp_kvm.conf" in b["message"], b
PY

  # 6. the units with our drop-ins
  inroot systemd-analyze verify --man=no chrony.service chrony-wait.service > "$work/verify.log" 2>&1
  rc=$?
  sed 's/^/    verify: /' "$work/verify.log"
  check "systemd-analyze verify chrony.service chrony-wait.service" \
    sh -c "[ $rc -eq 0 ] && ! grep -qi 'ptpkvm' '$work/verify.log'"
  inroot systemd-delta --no-pager --type=extended > "$work/delta.log" 2>&1
  for u in chrony.service chrony-wait.service; do
    check "systemd-delta: $u extended by our drop-in" \
      grep -q "$u.d/50-ptpkvm.conf" "$work/delta.log"
  done

  # 7. dpkg -L lists every file of "make install-guest" (prefix /usr); the
  #    .sample snippet of the source install is the active conf.d file here
  rm -rf "$work/guest"
  make -s -C "$top" install-guest DESTDIR="$work/guest" prefix=/usr sysconfdir=/etc \
    > "$work/install-guest.log" 2>&1 || die "make install-guest failed (see $work/install-guest.log)"
  inroot dpkg -L chrony-ptpkvm > "$work/dpkg-L.txt"
  missing=
  while read -r f; do
    f=${f#"$work/guest"}
    [ "$f" = /etc/chrony/conf.d/ptpkvm.conf.sample ] && f=/etc/chrony/conf.d/ptpkvm.conf
    grep -qx -e "$f" -e "$f.gz" "$work/dpkg-L.txt" || missing="$missing $f"
  done < <(find "$work/guest" -type f | sort)
  check "dpkg -L chrony-ptpkvm lists every guest file${missing:+ (missing:$missing)}" test -z "$missing"
  check "the udev rule gives the KVM PHC to group _chrony" \
    grep -q 'GROUP="_chrony"' "$root/usr/lib/udev/rules.d/61-ptpkvm.rules"
  # AppArmor: our rules are in chronyd's profile and it compiles (not loaded:
  # -Q; this machine's kernel has no AppArmor to enforce it)
  inroot apparmor_parser -Q -K /etc/apparmor.d/usr.sbin.chronyd > "$work/apparmor.log" 2>&1
  rc=$?
  sed 's/^/    apparmor_parser: /' "$work/apparmor.log"
  check "chronyd's AppArmor profile has our sysfs rule and compiles" \
    sh -c "[ $rc -eq 0 ] && grep -q '@{sys}/class/ptp/ r,' '$root/etc/apparmor.d/usr.sbin.chronyd'"

  # 8. the simulator's pause-360 bounds with this chronyd, inside the chroot
  mkdir -p "$root/tmp/ptpkvm/tests" "$root/tmp/ptpkvm/lib"
  cp -r "$top/tests/sim" "$top/tests/testlib.py" "$root/tmp/ptpkvm/tests/"
  cp "$sim_lib" "$root/tmp/ptpkvm/lib/libsimguest.so"
  grep -E '^ptpkvm pause-360:' "$top/tests/sim/expect.txt" > "$root/tmp/ptpkvm/expect.txt"
  echo "deb-check: simulator, $(wc -l < "$root/tmp/ptpkvm/expect.txt") bounds of tests/sim/expect.txt for pause-360"
  t0=$SECONDS
  inroot python3 /tmp/ptpkvm/tests/sim/simcheck.py --lib /tmp/ptpkvm/lib/libsimguest.so \
    --chronyd /usr/sbin/chronyd --out /tmp/ptpkvm/out --jobs 2 \
    --expect /tmp/ptpkvm/expect.txt > "$work/sim.log" 2>&1
  rc=$?
  sed 's/^/    sim: /' "$work/sim.log"
  echo "deb-check: simulator: $((SECONDS - t0)) s"
  check "simulator: pause-360 bounds pass with the chronyd of the .deb" \
    sh -c "[ $rc -eq 0 ] && grep -q '^[1-9][0-9]* passed, 0 failed' '$work/sim.log'"
  rm -rf "$root/tmp/ptpkvm" "$root/tmp/debs"

  # 9. apt remove (with the dependencies apt installed for chrony) keeps
  #    the configuration, as Debian defines it: the conffiles of the removed
  #    packages, what their maintainer scripts keep until purge (chrony's
  #    ucf-managed files and ucf's records, the _chrony user, /var/lib/chrony,
  #    AppArmor's local include, service enablement links and
  #    deb-systemd-helper's records).  Anything else left is an error.
  apt_in remove --autoremove chrony chrony-ptpkvm || die "apt-get remove failed"
  snapshot "$work/removed"
  conffiles=$(inroot dpkg-query -W -f '${db:Status-Status} ${binary:Package}\n' |
    awk '$1 == "config-files" { print $2 }' | while read -r p; do
      inroot dpkg-query -W -f '${Conffiles}\n' "$p" | awk 'NF { print $1 }'; done
    awk '{ print $2 }' "$root/var/lib/ucf/hashfile" 2>/dev/null)
  changes "$work/before" "$work/removed" | while read -r f; do
    case "$f" in
      /etc/passwd|/etc/group|/etc/shadow|/etc/gshadow|/etc/passwd-|/etc/group-|/etc/shadow-|\
      /etc/gshadow-|/var/lib/ucf|/var/lib/ucf/*|/var/lib/chrony|/var/lib/systemd/deb-systemd-helper-*|\
      /etc/apparmor.d/local|/etc/apparmor.d/local/usr.sbin.chronyd|/etc/rc[0-6S].d/[SK][0-9][0-9]chrony|\
      /etc/systemd/system/chronyd.service|/etc/systemd/system/*.wants/chrony.service)
        echo "    kept by remove (state until purge): $f" ;;
      *)
        if echo "$conffiles" | grep -qx -- "$f" || echo "$conffiles" | grep -q -- "^$f/"; then
          echo "    kept by remove (conffile): $f"
        else
          echo "    LEFT after remove: $f"
        fi ;;
    esac
  done > "$work/removed.txt"
  cat "$work/removed.txt"
  check "apt remove leaves only configuration behind" sh -c "! grep -q LEFT '$work/removed.txt'"

  # 10. back to the distribution's chrony with our conffile still there: the
  #     include of conf.d/ptpkvm.conf matches nothing, the stock chronyd runs
  apt_in install chrony || die "apt-get install chrony (the distribution's) failed"
  check "the distribution's chrony $distro is back" \
    test "$(inroot dpkg-query -W -f '${Version}' chrony)" = "$distro"
  check "our conf.d/ptpkvm.conf was left by remove" test -f "$root/etc/chrony/conf.d/ptpkvm.conf"
  run_chronyd "$work/chronyd-stock.log"
  check "the distribution's chronyd runs with the left conf.d/ptpkvm.conf" \
    sh -c "[ $alive = yes ] && ! grep -qi 'fatal\|PTPKVM' '$work/chronyd-stock.log'"

  # 11. purge: the file tree is as before the install, except for the
  #     backup copies that adduser/deluser leave of the user database (the
  #     database itself must be back as it was) and the empty
  #     /etc/apparmor.d/disable that dh_apparmor's postrm snippet removes
  #     (in Debian's chrony as well)
  apt_in purge --autoremove chrony chrony-ptpkvm || die "apt-get purge failed"
  snapshot "$work/purged"
  extra=$(changes "$work/before" "$work/purged" | grep -v -x -e /etc/passwd- -e /etc/group- \
    -e /etc/shadow- -e /etc/gshadow- -e /etc/apparmor.d/disable)
  [ -z "$extra" ] || echo "$extra" | sed 's/^/    changed after purge: /'
  check "apt purge leaves the file tree as before the install" test -z "$extra"

  echo "deb-check: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi

# --- main -------------------------------------------------------------------
[ $# -eq 2 ] || die "usage: deb-check.sh VERSION SIM_LIB"
version=$1
sim_lib=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
[ "$(id -u)" -eq 0 ] || die "must run as root (the test chroot)"
suite=$(awk -v v="$version" '!/^#/ && NF == 3 && $1 == v { print $2 }' "$top/patches/chrony-versions")
[ -n "$suite" ] || die "unsupported CHRONY_VERSION '$version'"
ls "$top/build/deb/$version/out"/chrony_*.deb "$top/build/deb/$version/out"/chrony-ptpkvm_*.deb \
  > /dev/null 2>&1 || die "no packages in build/deb/$version/out: run 'make deb CHRONY_VERSION=$version' first"
[ -f "$sim_lib" ] || die "no simulator library $sim_lib"
"$top/scripts/ensure-packages.sh" mmdebstrap

start=$SECONDS
"$top/scripts/deb-chroot.sh" "$suite" important systemd,udev,python3,kmod,apparmor "$top/build/deb/$version" \
  "$top/scripts/deb-check.sh" --in-chroot "$version" "$sim_lib" "$top/build/deb/$version/check"
rc=$?
echo "deb-check: make deb-check CHRONY_VERSION=$version took $((SECONDS - start)) s"
exit $rc
