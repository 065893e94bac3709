#!/bin/sh
# smoke-chronyd.sh CHRONYD: check that a freshly built patched chronyd runs,
# knows the PTPKVM driver and still rejects unknown drivers.
#
# chronyd never gets the chance to touch the clock here: it runs with -x
# (no clock control), -Q (print offset only, never set), and with
# CAP_SYS_TIME removed from its bounding set.
set -eu

chronyd=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "smoke-chronyd: FAIL: $*" >&2; exit 1; }
nocap() { setpriv --bounding-set=-sys_time --inh-caps=-sys_time -- "$@"; }

"$chronyd" -v | grep -q '^chronyd (chrony) version' || fail "chronyd -v"

conf() {
  cat > "$tmp/chrony.conf" <<CONF
refclock $1 ${2:-auto}
pidfile $tmp/chronyd.pid
driftfile $tmp/drift
cmdport 0
port 0
CONF
}

conf PTPKVM
nocap "$chronyd" -p -f "$tmp/chrony.conf" > "$tmp/out" 2>&1 ||
  fail "chronyd -p rejected 'refclock PTPKVM auto': $(cat "$tmp/out")"
grep -q '^refclock PTPKVM auto' "$tmp/out" || fail "chronyd -p did not print the refclock line"

conf PTPKVMX
if nocap timeout 20 "$chronyd" -x -Q -u root -d -f "$tmp/chrony.conf" > "$tmp/out" 2>&1; then
  fail "chronyd accepted 'refclock PTPKVMX'"
fi
grep -q 'unknown refclock driver PTPKVMX' "$tmp/out" ||
  fail "no 'unknown refclock driver' error for PTPKVMX: $(cat "$tmp/out")"

# PTPKVM option errors stop chronyd at start (before any device access),
# naming the option and its valid form, or the valid options
ptpkvm_rejects() {
  conf PTPKVM "$1"
  if nocap timeout 20 "$chronyd" -x -Q -u root -d -f "$tmp/chrony.conf" > "$tmp/out" 2>&1; then
    fail "chronyd accepted 'refclock PTPKVM $1'"
  fi
  grep -qF "$2" "$tmp/out" || fail "no '$2' for 'refclock PTPKVM $1': $(cat "$tmp/out")"
}
ptpkvm_rejects auto:samples=0 "invalid refclock PTPKVM option samples=0: valid form is samples=<1-25>"
ptpkvm_rejects auto:step=-1 "option step=-1: valid form is step=<seconds, 0 = never step, up to 1e9>"
ptpkvm_rejects auto:step=2e9 "option step=2e9: valid form is step=<seconds, 0 = never step, up to 1e9>"
ptpkvm_rejects auto:sampels=5 "Invalid refclock driver option sampels=5 (valid options: nocrossts,"
# device specs that can never resolve stop chronyd too, naming the valid forms
for spec in AUTO ptp0 '""'; do
  ptpkvm_rejects "$spec" "refclock PTPKVM: invalid device '$spec': valid forms are 'auto'"
done

echo "smoke-chronyd: $("$chronyd" -v | head -n 1): PTPKVM accepted, PTPKVMX rejected, bad PTPKVM options and devices rejected"
