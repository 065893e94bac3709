#!/usr/bin/env python3
# chrony-ptpkvm: acceptance figures of the PTPKVM driver (make ptpkvm-bench)
#
# Copyright (C) 2026 The chrony-ptpkvm authors
# SPDX-License-Identifier: GPL-2.0-only
# This program is free software; you can redistribute it and/or modify it
# under the terms of version 2 of the GNU General Public License.
#
# Runs the driver's recovery scenarios in the guest simulator (tests/sim,
# same chronyd, same seeds) for `refclock PTPKVM auto` and stock
# `refclock PHC poll 1` + `makestep 0.1 -1`, and prints one Markdown table
# with what the simulator's own bench does not show: besides recovery and
# steps from the ground truth, the time until chronyd has the source
# selected again after the event (chronyd's own state: its selection log
# lines as the simulator records them in the truth log at true time; the
# bound is in tests/sim/expect.txt), the driver's own count of steps and
# flushes (its exit line), and the steady-state RMS over several seeds.
# Prints figures only; the bounds are in tests/sim/expect.txt.

import argparse
import concurrent.futures
import os
import re
import statistics
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "sim"))
import simlib  # noqa: E402

fmt = simlib.fmt_duration

PAUSES = ["pause-0.2", "pause-5", "pause-360", "pause-1d", "pause-360x3", "coldboot-360"]
STEADY = ["steady-precise", "steady-basic"]
CONFIGS = ["ptpkvm", "stock-fast"]
EXIT_RE = re.compile(r"PTPKVM \S+: .* (\d+) steps, (\d+) flushes")


def driver_counts(rundir):
    """(driver steps, driver flushes) from the driver's exit line."""
    path = os.path.join(rundir, "chronyd.log")
    lines = open(path, errors="replace").read().splitlines() if os.path.exists(path) else []
    steps, flushes = None, None
    for l in lines:
        m = EXIT_RE.search(l)
        if m:
            steps, flushes = int(m.group(1)), int(m.group(2))
    return steps, flushes


def run(args):
    lib, chronyd, sc, config, rundir, seed, phase = args
    rep = simlib.run_one(lib, chronyd, sc, config, rundir, seed, phase, 1800, False)
    rep["drv_steps"], rep["drv_flushes"] = driver_counts(rundir)
    return rep


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--chronyd", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seeds", default="1,2,3,4,5")
    a = ap.parse_args()
    lib, chronyd, out = (os.path.abspath(x) for x in (a.lib, a.chronyd, a.out))
    seeds = [int(s) for s in a.seeds.split(",")]

    scen = {s.name: s for s in simlib.load_scenarios(PAUSES + STEADY)}
    jobs = {}
    with concurrent.futures.ProcessPoolExecutor(a.jobs) as ex:
        for name in PAUSES:
            sc = scen[name]
            for c in CONFIGS:
                for i, ph in enumerate(sc.phases()):
                    rd = os.path.join(out, name, c, "p%02d" % i)
                    jobs[(name, c, i)] = ex.submit(run, (lib, chronyd, sc, c, rd, None, ph))
        for name in STEADY:
            sc = scen[name]
            for c in CONFIGS:
                for s in seeds:
                    rd = os.path.join(out, name, c, "s%d" % s)
                    jobs[(name, c, s)] = ex.submit(run, (lib, chronyd, sc, c, rd, s, 0.0))
        res = {k: f.result() for k, f in jobs.items()}

    print("PTPKVM acceptance figures (%s)" % chronyd)
    print()
    print("| scenario | config | runs | <1 ms after event: max / median | <10 us: max "
          "| steps (truth) | driver steps / flushes | #* again after the event: median / max |")
    print("|---|---|---|---|---|---|---|---|")
    for name in PAUSES:
        sc = scen[name]
        for c in CONFIGS:
            reps = [res[(name, c, i)] for i in range(len(sc.phases()))]
            recs = [x for r in reps for x in simlib.tabulated_recoveries(r, sc.recovery)]
            r1 = sorted(float("inf") if x["rec_1ms"] is None else x["rec_1ms"] for x in recs)
            r10 = [float("inf") if x["rec_10us"] is None else x["rec_10us"] for x in recs]
            steps = sum(len(x["steps"]) for x in recs)
            drv = "-"
            if c == "ptpkvm":
                drv = "%d / %d" % (sum(r["drv_steps"] or 0 for r in reps),
                                   sum(r["drv_flushes"] or 0 for r in reps))
            sel = sorted(float("inf") if x.get("sel") is None else x["sel"] for x in recs)
            print("| %s | %s | %d (%s) | %s / %s | %s | %d | %s | %s / %s |" % (
                name, c, len(reps), ",".join(sorted(set(r["status"] for r in reps))),
                fmt(max(r1)), fmt(r1[(len(r1) - 1) // 2]), fmt(max(r10)), steps, drv,
                fmt(sel[(len(sel) - 1) // 2]), fmt(max(sel))))
    print()
    print("| scenario | config | seeds | steady RMS per seed (ns) | mean | steps in window "
          "| driver steps / flushes (incl. start) | hypercalls/s | #* in window (min) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in STEADY:
        for c in CONFIGS:
            reps = [res[(name, c, s)] for s in seeds]
            rms = [r["windows"]["steady"]["rms"] * 1e9 if r["windows"].get("steady") else
                   float("nan") for r in reps]
            st = sum(r["windows"]["steady"]["steps"] for r in reps if r["windows"].get("steady"))
            drv = "-"
            if c == "ptpkvm":
                drv = "%d / %d" % (sum(r["drv_steps"] or 0 for r in reps),
                                   sum(r["drv_flushes"] or 0 for r in reps))
            hc = [r["hypercalls_per_s"] for r in reps if r["hypercalls_per_s"]]
            selw = [r["windows"]["steady"]["selected"] for r in reps if r["windows"].get("steady")]
            print("| %s | %s | %s | %s | %.2f | %d | %s | %.2f | %s |" % (
                name, c, ",".join(map(str, seeds)), " ".join("%.2f" % x for x in rms),
                statistics.mean(rms), st, drv, statistics.mean(hc) if hc else float("nan"),
                "%.1f %%" % (100 * min(selw)) if selw else "-"))
    bad = [k for k, r in res.items() if r["status"] != "ok"]
    print()
    print("%d runs, %d not ok%s" % (len(res), len(bad),
                                    (": " + " ".join("/".join(map(str, k)) for k in bad)) if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
