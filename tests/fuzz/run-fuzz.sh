#!/bin/sh
# run-fuzz.sh FUZZER SECONDS CORPUS SEEDS: run a libFuzzer target and report
# what it executed.  Prints "NAME: R runs over I inputs in S s, no crash"
# from libFuzzer's own final statistics; exits non-zero on a crash, a leak,
# a timeout, or when the statistics say nothing ran.
#
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
set -u

fuzzer=$1 seconds=$2 corpus=$3 seeds=$4
name=$(basename "$fuzzer")
log=$corpus.log
mkdir -p "$corpus"

"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
  -rss_limit_mb=1024 "$corpus" "$seeds" > "$log" 2>&1
status=$?

stat() { sed -n "s/^stat::$1: *\([0-9][0-9]*\)\$/\1/p" "$log" | tail -n 1; }
runs=$(stat number_of_executed_units)
secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
new=$(stat new_units_added)
# the inputs it started from (seeds and the kept corpus): "INFO: seed corpus: files: N" (libFuzzer >= 10)
inputs=$(sed -n 's/^INFO: seed corpus: files: \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)

if [ "$status" -ne 0 ]; then
  grep -E '^(==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -n 20 >&2
  echo "$name: FAILED (exit status $status after ${runs:-?} runs; log: $log)" >&2
  exit 1
fi
if [ -z "$runs" ] || [ "$runs" -eq 0 ]; then
  echo "$name: FAILED: no executed inputs in libFuzzer's statistics (log: $log)" >&2
  exit 1
fi
echo "$name: $runs runs over ${inputs:-?} inputs in ${secs:-?} s (${new:-0} new corpus units), no crash"
