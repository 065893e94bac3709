#!/usr/bin/env python3
# chrony-ptpkvm: step the guest's clock and time chronyd's correction.
#
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# phcstep.py DEVICE STEP TIMEOUT, in the guest of make vm-check: moves
# CLOCK_REALTIME by STEP seconds with date -s, as another program would,
# then reads the PHC DEVICE against CLOCK_REALTIME (clock_gettime on the
# PHC's dynamic clock id, FD_TO_CLOCKID in the kernel's posix-clock.h)
# until |PHC - REALTIME| < 1 ms, and prints
#   corrected T s: ...   (T on CLOCK_MONOTONIC, from the return of date)
#   not corrected: ...   (after TIMEOUT s)
# with the offsets before and after the step and the largest |offset| in
# the 2 s after the correction.
import os
import subprocess
import sys
import time

LIMIT = 1e-3


def offset(clk):
    """PHC - REALTIME in s, REALTIME read around the PHC (best of 3)."""
    best = None
    for _ in range(3):
        a = time.clock_gettime_ns(time.CLOCK_REALTIME)
        p = time.clock_gettime_ns(clk)
        b = time.clock_gettime_ns(time.CLOCK_REALTIME)
        if best is None or b - a < best[0]:
            best = (b - a, p - (a + b) // 2)
    return best[1] / 1e9


def main():
    dev, step, timeout = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    fd = os.open(dev, os.O_RDONLY)
    clk = ((~fd) << 3) | 3
    before = offset(clk)
    target = time.clock_gettime(time.CLOCK_REALTIME) + step
    subprocess.run(["date", "-s", "@%.6f" % target], check=True, stdout=subprocess.DEVNULL)
    t0 = time.monotonic()
    after = offset(clk)
    off, n = after, 1
    while abs(off) >= LIMIT and time.monotonic() - t0 < timeout:
        time.sleep(0.002)
        off, n = offset(clk), n + 1
    t = time.monotonic() - t0
    if abs(off) >= LIMIT:
        print("not corrected: |offset| %.6f s after %.1f s (offset before the step %+.6f s, "
              "after it %+.3f s, %d readings)" % (abs(off), t, before, after, n))
        return 1
    worst = 0.0
    t1 = time.monotonic()
    while time.monotonic() - t1 < 2.0:
        worst = max(worst, abs(offset(clk)))
        time.sleep(0.01)
    print("corrected %.3f s after the step (|offset| < 1 ms; offset before the step %+.6f s, "
          "after it %+.3f s, %d readings; largest |offset| in the 2 s after: %.6f s)"
          % (t, before, after, n, worst))
    return 0 if worst < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
