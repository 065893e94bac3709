#!/usr/bin/env bash
# deb-check.sh VERSION SIM_LIB: install test of the packages built by
# build-deb.sh (build/deb/VERSION/out) in a clean chroot of their Debian
# release, as a stock guest would get them, from a local apt repository
# (file:) in the chroot:
#   the distribution's chrony first, then ours over it with apt (dependencies
#   from the archive): version, conffile and user kept; chronyd -v; a real
#   start of the installed chronyd with refclock PTPKVM (-x, CAP_SYS_TIME
#   dropped from its bounding set, checked in /proc) after the unit's
#   ExecStart; ptpkvm-doctor --json; systemd-analyze verify and
#   systemd-delta of the units with our drop-ins; the AppArmor profile;
#   dpkg -L against the files of guest/; the simulator's pause-360 bounds
#   (tests/sim/expect.txt) with the chronyd of the .deb;
#   then the apt lifecycle with a newer distribution revision of chrony in
#   the repository (the distribution's .deb re-versioned): upgrade,
#   full-upgrade, --only-upgrade, the rollback to the distribution's
#   version, remove, purge, reinstall, each from our installed pair, with
#   the default /etc/chrony/ptpkvm.conf and with an admin's own line; after
#   each, what systemd would run at chronyd's start (the drop-ins'
#   ExecStart with -v, /run/chrony kept as across a restart), then the
#   installed chronyd must parse chrony.conf (-p) and start, with the PTPKVM
#   line exactly when it has the driver, and the warning when it has not;
#   finally apt remove (only configuration left) and apt purge (the file
#   tree as before the install).
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
  # run_chronyd LOG [SECONDS]: the installed chronyd with the packaged
  # conf.d (not chrony.conf, whose pool lines would send NTP requests out),
  # -x (no clock control) and -F 1 as Debian starts it, without CAP_SYS_TIME
  # in its bounding set, for 5 s; sets pid, alive, capbnd
  run_chronyd() {
    rm -f "$root/run/chrony/chronyd.pid"
    printf 'confdir /etc/chrony/conf.d\ncmdport 0\n' > "$root/tmp/deb-check-chrony.conf"
    inroot sh -c 'exec setpriv --bounding-set=-sys_time --inh-caps=-sys_time -- \
        chronyd -x -d -F 1 -f /tmp/deb-check-chrony.conf' > "$1" 2>&1 &
    sleep "${2:-5}"
    pid=$(cat "$root/run/chrony/chronyd.pid" 2>/dev/null || true)
    capbnd=$( [ -n "$pid" ] && awk '/^CapBnd:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
    alive=no
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=yes
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    wait
    sed 's/^/    chronyd: /' "$1"
  }
  # start_unit: what systemd does at a start of chrony.service:
  # /run/chrony as its RuntimeDirectory (_chrony, 0700; kept across
  # restarts, so an old file is still there), then the ExecStart of the
  # installed drop-ins (the last one; "!": as root) with DAEMON_OPTS=-v:
  # ptpkvm-refclock writes /run/chrony/ptpkvm.conf and execs chronyd -v,
  # which prints its version and exits; the output (the journal's) goes to
  # prestart.log
  start_unit() {
    mkdir -p "$root/run/chrony"
    inroot chown _chrony:_chrony /run/chrony && chmod 0700 "$root/run/chrony"
    : > "$work/prestart.log"
    cat "$root"/usr/lib/systemd/system/chrony.service.d/*.conf 2>/dev/null |
      sed -n 's/^ExecStart=[!-]*//p' | tail -n 1 | while read -r cmd; do
        inroot env DAEMON_OPTS=-v setpriv --bounding-set=-sys_time --inh-caps=-sys_time -- \
          sh -c "$cmd" < /dev/null >> "$work/prestart.log" 2>&1
      done
    sed 's/^/    ExecStart: /' "$work/prestart.log"
  }
  # verify STEP WANT: after start_unit, the installed chronyd parses
  # chrony.conf (-p) and runs 2 s with the packaged conf.d; the PTPKVM line
  # is in its configuration if and only if WANT is yes; where chrony-ptpkvm
  # is installed but chronyd has no driver, the warning says so
  verify() {
    local step=$1 want=$2
    has=no
    start_unit
    inroot setpriv --bounding-set=-sys_time --inh-caps=-sys_time -- \
      chronyd -p -f /etc/chrony/chrony.conf > "$work/p.txt" 2>&1
    local prc=$?
    grep -q '^refclock PTPKVM' "$work/p.txt" && has=yes
    grep -h '^refclock' "$work/p.txt" | sed 's/^/    chronyd -p: /'
    run_chronyd "$work/run.log" 2 > /dev/null
    check "$step: chronyd -p parses chrony.conf" test "$prc" -eq 0
    check "$step: chronyd starts (alive after 2 s, no fatal error)" \
      sh -c "[ $alive = yes ] && ! grep -qi fatal '$work/run.log'"
    check "$step: refclock PTPKVM in chronyd's configuration: $has (want $want)" test "$has" = "$want"
    [ -f "$root/usr/lib/chrony-ptpkvm/ptpkvm-refclock" ] ||
      check "$step: no /run/chrony/ptpkvm.conf without chrony-ptpkvm" test ! -e "$root/run/chrony/ptpkvm.conf"
    if [ "$want" = no ] && [ -f "$root/usr/lib/chrony-ptpkvm/ptpkvm-refclock" ]; then
      check "$step: the warning names the missing driver and the way back" \
        grep -q '^<4>chrony-ptpkvm: refclock PTPKVM NOT USED: .*make deb' "$work/prestart.log"
    fi
  }
  state() {
    local st
    st=$(inroot dpkg-query -W -f '${db:Status-Abbrev}${Version}' "$1" 2>/dev/null | tr -s ' ')
    case $st in ""|un*) echo - ;; *) echo "$st" ;; esac
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

  # 2. ours over it from a local repository, dependencies from the archive
  repo="$root/srv/deb-check-repo"
  mkdir -p "$repo"
  cp "$debs"/*.deb "$repo/"
  publish() {
    (cd "$repo" && dpkg-scanpackages -m . > Packages 2> /dev/null) &&
      echo "deb [trusted=yes] file:/srv/deb-check-repo ./" > "$root/etc/apt/sources.list.d/deb-check.list" &&
      apt_in update
  }
  publish || die "the local repository failed"
  t0=$SECONDS
  apt_in install chrony chrony-ptpkvm ||
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

  # 4. a real start: the unit's ExecStart (-v), then the packaged conf.d
  #    (refclock PTPKVM through conf.d/ptpkvm.conf and /run/chrony) with -x,
  #    CAP_SYS_TIME out of the bounding set
  start_unit
  check "ptpkvm-refclock: /run/chrony/ptpkvm.conf says in use, with the line of /etc/chrony/ptpkvm.conf" \
    sh -c "head -n 1 '$root/run/chrony/ptpkvm.conf' | grep -q '^# chrony-ptpkvm: in use' &&
      grep -qx 'refclock PTPKVM auto' '$root/run/chrony/ptpkvm.conf'"
  check "ptpkvm-refclock ran chronyd after it, with the unit's options (chronyd -v)" \
    grep -q '^chronyd (chrony) version .*+PTPKVM' "$work/prestart.log"
  run_chronyd "$work/chronyd-x.log"
  check "chronyd -x with the packaged conf.d runs 5 s (pid ${pid:-none})" test "$alive" = yes
  check "chronyd ran without CAP_SYS_TIME in its bounding set (CapBnd ${capbnd:-?})" \
    test -n "$capbnd" -a $(( 0x${capbnd:-0} >> 25 & 1 )) -eq 0
  check "chronyd added the PTPKVM refclock from conf.d (no fatal error)" \
    sh -c "! grep -qi 'fatal' '$work/chronyd-x.log' && grep -q 'KVM0\|PTPKVM' '$work/chronyd-x.log'"

  # 5. ptpkvm-doctor --json on this (device-less) system
  inroot ptpkvm-doctor --json > "$work/doctor.json" 2> "$work/doctor.err"
  echo "deb-check: ptpkvm-doctor exit code $?"
  check "ptpkvm-doctor --json: the packaged refclock line, driver verdict and boot loading seen" \
    python3 - "$work/doctor.json" "$root" <<'PY'
import json, os, re, sys
d = json.load(open(sys.argv[1]))
ids = {c["id"]: c for c in d["checks"]}
for c in d["checks"]:
    print("    doctor: %-20s %-4s %s" % (c["id"], c["status"], c["message"][:90]))
assert d["tool"] == "ptpkvm-doctor" and len(d["checks"]) >= 10, d
# chronyd -p read it through conf.d/ptpkvm.conf -> /run/chrony; its status
# depends on this machine having a KVM PHC or not
r = ids["chrony.refclock"]
assert "refclock PTPKVM auto" in r["message"], r
v = ids["chrony.driver"]
assert v["status"] == "OK" and "/run/chrony/ptpkvm.conf: in use" in v["message"], v
# no ptp_kvm here: the drop-in is named, nothing is called loaded
b = ids["kernel.ptp_kvm_boot"]
assert b["status"] == "SKIP" and "modprobe@ptp_kvm.service (pulled in by " \
    "/usr/lib/systemd/system/chrony.service.d/50-ptpkvm.conf, only under KVM)" in b["message"], b
# every page the advice names is installed
pages = re.findall(r"/usr/share/doc/chrony-ptpkvm/[\w.-]+", json.dumps(d))
missing = [p for p in pages if not os.path.isfile(sys.argv[2] + p)]
print("    doctor: pages named: %s" % " ".join(sorted(set(pages))))
assert not missing, missing
PY
  for page in configuration monitoring setup troubleshooting; do
    check "doc page $page.md installed (named by the doctor's advice)" \
      sh -c "ls '$root/usr/share/doc/chrony-ptpkvm/$page.md'* > /dev/null 2>&1"
  done
  check "man ptpkvm-doctor is installed" test -f "$root/usr/share/man/man8/ptpkvm-doctor.8.gz"
  check "no NEWS.Debian of chrony in chrony-ptpkvm" \
    test ! -e "$root/usr/share/doc/chrony-ptpkvm/NEWS.Debian.gz"

  # 6. the units with our drop-ins
  inroot systemd-analyze verify --man=no chrony.service chrony-wait.service modprobe@ptp_kvm.service \
    > "$work/verify.log" 2>&1
  rc=$?
  sed 's/^/    verify: /' "$work/verify.log"
  check "systemd-analyze verify chrony.service chrony-wait.service modprobe@ptp_kvm.service" \
    sh -c "[ $rc -eq 0 ] && ! grep -qi 'ptpkvm' '$work/verify.log'"
  inroot systemd-delta --no-pager --type=extended > "$work/delta.log" 2>&1
  # (systemd-delta lists no drop-in of a template's instance such as
  # modprobe@ptp_kvm.service: verify above has loaded that one)
  for u in chrony.service chrony-wait.service; do
    check "systemd-delta: $u extended by our drop-in" \
      grep -q "$u.d/50-ptpkvm.conf" "$work/delta.log"
  done
  # our ExecStart is the release's own with the helper in front of chronyd
  deb_start=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/chrony.service")
  our_start=$(sed -n 's/^ExecStart=\(.\)/\1/p' "$root/usr/lib/systemd/system/chrony.service.d/50-ptpkvm.conf")
  echo "    chrony.service: ExecStart=$deb_start; our drop-in: ExecStart=$our_start"
  check "the drop-in's ExecStart is the release's with ptpkvm-refclock in front of chronyd" \
    test "$our_start" = "${deb_start/\/usr\/sbin\/chronyd/\/usr\/lib\/chrony-ptpkvm\/ptpkvm-refclock /usr/sbin/chronyd}"

  # 7. dpkg -L lists every file of guest/ (a template without its .in, the
  #    application example as a document)
  inroot dpkg -L chrony-ptpkvm > "$work/dpkg-L.txt"
  missing=
  while read -r f; do
    b=$(basename "$f" .in)
    grep -q -e "/$b\$" -e "/$b.gz\$" "$work/dpkg-L.txt" || missing="$missing $f"
    case $f in */*.d/*) d=$(basename "$(dirname "$f")")
      grep -q "/$d/$b\$" "$work/dpkg-L.txt" || missing="$missing $f" ;; esac
  done < <(cd "$top" && find guest -type f | sort)
  check "dpkg -L chrony-ptpkvm lists every file of guest/${missing:+ (missing:$missing)}" test -z "$missing"
  check "the udev rule gives the KVM PHC to group _chrony" \
    grep -q 'GROUP="_chrony"' "$root/usr/lib/udev/rules.d/61-ptpkvm.rules"
  # AppArmor: our rules are in chronyd's profile and it compiles (not loaded:
  # -Q; this machine's kernel has no AppArmor to enforce it)
  inroot apparmor_parser -Q -K /etc/apparmor.d/usr.sbin.chronyd > "$work/apparmor.log" 2>&1
  rc=$?
  sed 's/^/    apparmor_parser: /' "$work/apparmor.log"
  check "chronyd's AppArmor profile has our sysfs rule and compiles" \
    sh -c "[ $rc -eq 0 ] && grep -q '@{sys}/class/ptp/ r,' '$root/etc/apparmor.d/usr.sbin.chronyd'"
  # what conf.d/ptpkvm.conf relies on under any chronyd's profile, ours or
  # the distribution's: /run/chrony and its files readable
  check "chronyd's AppArmor profile lets it read /run/chrony/ and its files" \
    grep -q '^ *@{run}/chrony/{,\*} rw,' "$root/etc/apparmor.d/usr.sbin.chronyd"

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
  rm -rf "$root/tmp/ptpkvm"

  # 9. the apt lifecycle.  The distribution's next revision: its chrony
  #    .deb (the version installed first) re-versioned, offered beside ours.
  inroot sh -c "cd /srv/deb-check-repo && apt-get -q -o APT::Sandbox::User=root download chrony=$distro" \
    >> "$work/apt.log" 2>&1 || die "apt-get download chrony=$distro failed"
  newer=$(echo "$distro" | perl -pe 's/(\d+)$/$1 + 1/e')
  rm -rf "$work/newer" && dpkg-deb -R "$repo"/chrony_"${distro#*:}"_*.deb "$work/newer"
  sed -i "s/^Version: .*/Version: $newer/" "$work/newer/DEBIAN/control"
  rm "$repo"/chrony_"${distro#*:}"_*.deb
  dpkg-deb -b "$work/newer" "$repo/chrony_${newer}_test.deb" > /dev/null || die "dpkg-deb -b failed"
  publish || die "the local repository failed"
  echo "deb-check: offered: chrony $newer (the distribution's, re-versioned), ours $ours; archive: $distro"
  check "the newer revision $newer sorts above ours" inroot dpkg --compare-versions "$newer" gt "$ours"
  custom='refclock PTPKVM auto poll -1'
  printf '%-34s %-8s %-40s %-40s %s\n' path config chrony chrony-ptpkvm PTPKVM > "$work/table.txt"
  # path CONFIG NAME PRE WANT_CHRONY WANT_PTPKVM WANT_LINE APT-ARGS...: from
  # our pair installed and started (CONFIG: the packaged ptpkvm.conf or the
  # admin's line), apt-get PRE (if any) and apt-get APT-ARGS; the versions
  # (or "-") apt leaves, and the PTPKVM line in chronyd's configuration
  path() {
    local config=$1 name=$2 pre=$3 wchrony=$4 wptpkvm=$5 wline=$6 n c p
    shift 6
    apt_in install --allow-downgrades "chrony=$ours" "chrony-ptpkvm=$ours" ||
      die "reinstalling our pair failed"
    [ "$config" = default ] || sed -i "s/^refclock PTPKVM.*/$custom/" "$root/etc/chrony/ptpkvm.conf"
    start_unit > /dev/null
    [ -z "$pre" ] || apt_in $pre
    n=$(wc -l < "$work/apt.log")
    apt_in "$@" || echo "    apt-get $* failed"
    tail -n +$((n + 1)) "$work/apt.log" > "$work/apt-step.log"
    grep -A2 -E 'REMOVED|kept back|DOWNGRADED|will be upgraded|NEW packages' "$work/apt-step.log" |
      sed 's/^/    apt: /'
    c=$(state chrony) p=$(state chrony-ptpkvm)
    echo "deb-check: $name ($config): apt-get ${pre:+$pre; }$*: chrony $c, chrony-ptpkvm $p"
    check "$name ($config): chrony $wchrony" test "$c" = "$wchrony"
    check "$name ($config): chrony-ptpkvm $wptpkvm" test "$p" = "$wptpkvm"
    verify "$name ($config)" "$wline"
    [ "$wptpkvm" != "ii $ours" ] || [ "$wchrony" = "ii $ours" ] ||
      check "$name ($config): apt's output says PTPKVM is not used (dpkg trigger)" \
        grep -q '^chrony-ptpkvm: refclock PTPKVM NOT USED' "$work/apt-step.log"
    ! grep -qx "$custom" "$root/etc/chrony/ptpkvm.conf" 2>/dev/null || [ "$wline" = no ] ||
      check "$name ($config): the admin's line is used" grep -qx "$custom" "$root/run/chrony/ptpkvm.conf"
    printf '%-34s %-8s %-40s %-40s %s\n' "$name" "$config" "$c" "$p" "$has" >> "$work/table.txt"
  }
  for config in default custom; do
    path $config "our pair (nothing to do)" "" "ii $ours" "ii $ours" yes install chrony-ptpkvm
    path $config "apt upgrade" "" "ii $newer" "ii $ours" no upgrade
    path $config "apt full-upgrade" "" "ii $newer" "ii $ours" no full-upgrade
    path $config "install --only-upgrade chrony" "" "ii $newer" "ii $ours" no install --only-upgrade chrony
    path $config "install chrony=<distribution>" "" "ii $distro" "ii $ours" no \
      install --allow-downgrades "chrony=$distro"
    path $config "remove chrony-ptpkvm" "" "ii $ours" "rc $ours" no remove chrony-ptpkvm
    path $config "chrony=<distribution>, remove" "" "ii $distro" "rc $ours" no \
      install --allow-downgrades "chrony=$distro" chrony-ptpkvm-
    path $config "purge chrony-ptpkvm" "" "ii $ours" "-" no purge chrony-ptpkvm
    path $config "reinstall after purge" "purge chrony-ptpkvm" "ii $ours" "ii $ours" yes install chrony-ptpkvm
  done
  echo "deb-check: what apt did, from our pair installed (PTPKVM: the line in chronyd's configuration)"
  cat "$work/table.txt"
  rm -f "$root/etc/apt/sources.list.d/deb-check.list"
  rm -rf "$repo"
  apt_in update

  # 10. apt remove (with the dependencies apt installed for chrony) keeps
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

  # 11. purge: the file tree is as before the install, except for the
  #     backup copies that adduser/deluser leave of the user database (the
  #     database itself must be back as it was) and the empty
  #     /etc/apparmor.d/disable that dh_apparmor's postrm snippet removes
  #     (in Debian's chrony as well)
  #     The packages in state rc are purged with them (ucf, removed by the
  #     autoremove above), as "apt purge ~c" would.
  apt_in purge --autoremove chrony chrony-ptpkvm \
    $(inroot dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 == "rc" { print $2 }') ||
    die "apt-get purge failed"
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
"$top/scripts/ensure-packages.sh" mmdebstrap dpkg-dev

start=$SECONDS
"$top/scripts/deb-chroot.sh" "$suite" important systemd,udev,python3,kmod,apparmor "$top/build/deb/$version" \
  "$top/scripts/deb-check.sh" --in-chroot "$version" "$sim_lib" "$top/build/deb/$version/check"
rc=$?
echo "deb-check: make deb-check CHRONY_VERSION=$version took $((SECONDS - start)) s"
exit $rc
