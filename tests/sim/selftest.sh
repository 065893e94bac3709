#!/bin/sh
# chrony-ptpkvm guest simulator: self-tests of the simulator
# Copyright (C) 2026 The chrony-ptpkvm authors.  GPL-2.0-only.
#
# Runs sim_selftest in each mode under the interposer with CAP_SYS_TIME
# dropped from the bounding set, each with its own small scenario, checks
# that a fixed seed makes runs bit-identical (and another seed does not),
# checks the log tap and the truth-log metrics (simlib_test.py), and prints the total as "N passed, N failed".
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

for mode in drift setoffset freq pause pause-tsc precise sysfs faults loud safety wait logtap; do
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
