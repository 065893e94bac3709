#!/bin/sh
# chrony-ptpkvm guest simulator: self-tests of the simulator
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Runs sim_selftest in each mode under the interposer with CAP_SYS_TIME
# dropped from the bounding set, each with its own small scenario, checks
# that a fixed seed makes runs bit-identical (and another seed does not),
# checks the log tap, the truth-log metrics (simlib_test.py) and the truth
# events of the modelled disruptions (external steps, suspend injection, leap
# seconds, ratelimited kernel log lines, a cheap 12-day pause), and prints
# the total counted from what ran as "N passed, N failed".
# Usage: selftest.sh LIBSIMGUEST SIM_SELFTEST OUTDIR
set -u
lib=$1 prog=$2 out=$3
rm -rf "$out" && mkdir -p "$out"
total_pass=0 total_fail=0

quiet='guest_wander_ppm 0
hc_jitter 0
spike_prob 0
precise_noise 0
duration 1000000'

scenario() { # name extra-lines
  printf '%s\n%s\n' "$quiet" "$2" > "$out/$1.scn"
}
scenario drift ''
scenario ntp 'guest_freq_ppm 0
guest_offset 0.25
ntp_delay 0.001
ntp_jitter 0
ntp_asym 0.0004'
scenario setoffset 'read_cost 0'
scenario freq 'read_cost 0'
scenario pause 'at 100 pause 5'
scenario pause-tsc 'clocksource tsc
at 100 pause 5
at 200 pause 5'
scenario precise 'at 100 clocksource tsc'
scenario sysfs 'phc 0 other 37 ice-0000:3b:00.0
phc 1 kvm 0 KVM virtual PTP'
scenario faults 'at 0 gone 30
at 100 hostfail 100
at 330 eintr 20 1
at 430 garbage 20 1
at 500 gone 1000'
scenario loud ''
scenario safety ''
scenario logtap 'read_cost 0
guest_freq_ppm 0'
scenario query 'read_cost 0
guest_freq_ppm 0
at 10 query q1'
scenario guest-step 'guest_freq_ppm 0
at 100 guest_step -360.5
at 200 guest_step 0.25'
scenario suspend 'guest_freq_ppm 0
at 100.3 suspend 50
at 200 guest_step 5
at 300.3 suspend 50'
scenario suspend-rtc 'guest_freq_ppm 0
persistent_clock rtc
at 100.3 suspend 50'
scenario migrate 'guest_freq_ppm 0
at 100 migrate 30
at 150 clocksource tsc
at 200 migrate 30'
# t=1000 is 2017-01-01T00:00:00Z (the last real leap second)
scenario leap 'guest_freq_ppm 0
epoch 1483227800
at 1000 host_leap 1
at 87399 host_leap -1
at 173800 host_leap 1'
scenario einval 'at 100 precise_einval 10 1'
scenario pre50 'kernel_pre50 1
at 100 hostfail 100'
scenario klog 'at 5 hostfail 110'
scenario tsnoise 'guest_freq_ppm 0
sys_ts_noise 5e-6'
scenario phcnoise 'guest_freq_ppm 0
phc_ts_noise 5e-6'
scenario longpause 'duration 1100000
grid 1
at 100 pause 1036800'
printf '%s\nread_cost 0\nduration 1000\n' "$quiet" > "$out/wait.scn"
printf 'duration 1000\n' > "$out/noise.scn"

run() { # mode scenario seed tag
  mkdir -p "$out/$4"
  SIM_SCENARIO="$out/$2.scn" SIM_SEED=$3 SIM_DIR="$out/$4" SIM_TRUTH="$out/$4.truth" \
    setpriv --bounding-set=-sys_time --inh-caps=-sys_time -- \
    env LD_PRELOAD="$lib" "$prog" "$1" > "$out/$4.out" 2>"$out/$4.err"
}

count() { # file
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1)
  if [ -z "$line" ]; then
    echo "FAIL $1: no summary line"; cat "$1"; sed 's/^/  stderr: /' "${1%.out}.err"
    total_fail=$((total_fail + 1)); return
  fi
  grep -E '^(PASS|FAIL)' "$1"
  total_pass=$((total_pass + $(echo "$line" | cut -d' ' -f1)))
  total_fail=$((total_fail + $(echo "$line" | cut -d' ' -f3)))
}

for mode in drift setoffset freq pause pause-tsc precise sysfs faults loud safety wait logtap \
            guest-step suspend suspend-rtc migrate leap einval pre50 klog tsnoise phcnoise longpause \
            ntp; do
  run $mode $mode 1 $mode
  count "$out/$mode.out"
done

# The truth-log metrics on hand-written logs (selection, hypercalls/s)
python3 "$(dirname "$0")/simlib_test.py" > "$out/simlib.out" 2> "$out/simlib.err"
count "$out/simlib.out"

# A query at a held moment: the command runs (without the interposer) at
# exactly 10 s, virtual time does not move while it runs (it takes >= 0.2 s
# of real time), and the sleep around it still ends at 20 s
SIM_QUERY='sleep 0.2; echo "answer ${LD_PRELOAD:-no-preload} ${SIM_SCENARIO:-no-sim}"' \
  SIM_QUERY_OUT="$out" run query query 1 query
count "$out/query.out"
q=$(awk '$1 == "E" && $3 ~ /^query/ { printf "%.9f %s %s %s;", $2, $3, $4, $5 }' "$out/query.truth")
want="10.000000000 query_start name=q1 ;10.000000000 query name=q1 status=0;"
if [ "$q" = "$want" ] && [ "$(cat "$out/query-q1.txt")" = "answer no-preload no-sim" ]; then
  echo "PASS query: run at 10 s with time held, clean environment, output kept"
  total_pass=$((total_pass + 1))
else
  echo "FAIL query: events '$q', output '$(cat "$out/query-q1.txt" 2>&1)'"
  total_fail=$((total_fail + 1))
fi

# Paced virtual time (SIM_PACE=50: 100 s of virtual sleep >= 2 s real)
SIM_PACE=50 run wait wait 1 wait-paced
count "$out/wait-paced.out"

# Hypercall counter: the precise mode makes PRECISE (1) + EXTENDED (0, no
# gettimex64) + SYS_OFFSET x25 (25) + 26 samples (EINVAL, 0) + PRECISE in
# tsc mode (1, then ENODEV) + GETCAPS (0) + SYS_OFFSET2 x3 (3) = 30
hc=$(sed -n 's/^E [0-9.]* exit hypercalls=\([0-9]*\).*/\1/p' "$out/precise.truth")
if [ "$hc" = 30 ]; then
  echo "PASS hypercall counter: 30 for the precise mode's ioctls"; total_pass=$((total_pass + 1))
else
  echo "FAIL hypercall counter: '$hc' instead of 30"; total_fail=$((total_fail + 1))
fi

pass() { echo "PASS $1"; total_pass=$((total_pass + 1)); }
fail() { echo "FAIL $1"; total_fail=$((total_fail + 1)); }
ev() { # truth event: print "t kind args" of events of a kind
  awk -v k="$2" '$1 == "E" && $3 == k { $1 = ""; print }' "$out/$1.truth"
}

# guest_step: recorded as steps made by another program, never as chronyd's
n_ext=$(ev guest-step external_step | wc -l); n_step=$(ev guest-step step | wc -l)
if [ "$n_ext" = 2 ] && [ "$n_step" = 0 ] && ev guest-step external_step | grep -q 'size=-360.5'; then
  pass "guest_step: 2 external_step events, no step event"
else
  fail "guest_step: $n_ext external_step, $n_step step events"
fi
# suspend: pause/resume events with cause=suspend and the injected time
inj=$(ev suspend resume | sed -n '1s/.*injected=\([0-9.]*\).*/\1/p')
if ev suspend pause | grep -q 'cause=suspend' && [ -n "$inj" ] &&
   awk -v x="$inj" 'BEGIN { exit !(x > 49.98 && x < 49.995) }'; then
  pass "suspend: truth log has cause=suspend and injected=$inj (50 s - 10 ms compensation)"
else
  fail "suspend: events '$(ev suspend resume | head -1)'"
fi
# leap: host and guest leap events, none of them a step
hl=$(ev leap host_leap | wc -l); gl=$(ev leap guest_leap | wc -l); st=$(ev leap step | wc -l)
if [ "$hl" = 3 ] && [ "$gl" = 2 ] && [ "$st" = 1 ]; then
  pass "leap: 3 host_leap, 2 guest_leap events, 1 step (the test's own)"
else
  fail "leap: $hl host_leap, $gl guest_leap, $st step events"
fi
# kernel log lines: 1000 failing PRECISE and 1000 failing SYS_OFFSET 0.1 s
# apart; each pr_err_ratelimited() site prints 10 lines per 5 s window
# (windows of 50 calls: 20 windows x 10 lines + 19 "callbacks suppressed")
exitline=$(ev klog exit)
case "$exitline" in
  *"failed_ioctls=2000 failed_hypercalls=2000 kernel_log_lines=438 basic_ioctls=1000"*)
    pass "klog: 2000 failed ioctls and hypercalls, 438 ratelimited kernel log lines, 1000 basic";;
  *) fail "klog: exit event '$exitline'";;
esac
# pre-5.0: the failed samples are failed hypercalls but no failed ioctl
exitline=$(ev pre50 exit)
case "$exitline" in
  *"failed_ioctls=4 failed_hypercalls=6 kernel_log_lines=6 basic_ioctls=2"*)
    pass "pre-5.0: 3 ENOTTY + 1 EOPNOTSUPP ioctls, 5+1 failed hypercalls logged, 2 basic";;
  *) fail "pre-5.0: exit event '$exitline'";;
esac
# A 12-day pause: no grid line while paused, a small log
size=$(wc -c < "$out/longpause.truth")
inpause=$(awk '$1 == "G" && $2 > 100.5 && $2 < 1036899.5' "$out/longpause.truth" | wc -l)
res=$(ev longpause resume | awk '{ printf "%.0f", $1 }')
if [ "$size" -lt 200000 ] && [ "$inpause" = 0 ] && [ "$res" = 1036900 ]; then
  pass "12-day pause: $size bytes of truth log, no grid line while paused, resume at 1036900 s"
else
  fail "12-day pause: $size bytes, $inpause paused grid lines, resume at '$res'"
fi

# Log tap: chronyd's selection lines on stderr become selection events at
# the true time they were written (10 s apart), nothing from other streams
sel=$(awk '$1 == "E" && $3 == "selection" { printf "%.6f %s %s;", $2, $4, $5 }' "$out/logtap.truth")
want="0.000000 state=selected source=TAP0;10.000000 state=none ;20.000000 state=reset ;"
if [ "$sel" = "$want" ]; then
  echo "PASS log tap: selected/none/reset events at 0/10/20 s, other streams ignored"
  total_pass=$((total_pass + 1))
else
  echo "FAIL log tap: '$sel' instead of '$want'"; total_fail=$((total_fail + 1))
fi
if printf 'Selected source TAP0\nCan'"'"'t synchronise: no selectable sources\n2026-01-01T00:00:00Z Reset all sources\n' |
   cmp -s - "$out/logtap.err"; then
  echo "PASS log tap: stderr unchanged"; total_pass=$((total_pass + 1))
else
  echo "FAIL log tap: stderr changed (see $out/logtap.err)"; total_fail=$((total_fail + 1))
fi

# Determinism: same seed -> identical outputs and truth logs; other seed -> different
run noise noise 5 noise-a
run noise noise 5 noise-b
run noise noise 6 noise-c
if cmp -s "$out/noise-a.out" "$out/noise-b.out" && cmp -s "$out/noise-a.truth" "$out/noise-b.truth" \
   && [ -s "$out/noise-a.truth" ]; then
  echo "PASS seed 5 twice: bit-identical readings and truth log"; total_pass=$((total_pass + 1))
else
  echo "FAIL seed 5 twice differ"; total_fail=$((total_fail + 1))
fi
if ! cmp -s "$out/noise-a.out" "$out/noise-c.out"; then
  echo "PASS seed 6 gives different readings"; total_pass=$((total_pass + 1))
else
  echo "FAIL seed 6 gives the same readings"; total_fail=$((total_fail + 1))
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
