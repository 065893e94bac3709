#!/usr/bin/env python3
# chrony-ptpkvm guest simulator: run one scenario
#
# Copyright (C) 2026 The chrony-ptpkvm authors
# SPDX-License-Identifier: GPL-2.0-only
# This program is free software; you can redistribute it and/or modify it
# under the terms of version 2 of the GNU General Public License.
#
# Runs the real chronyd under the interposer for one scenario and one or
# more configurations (all sweep phases, or the ones given), and prints
# the per-run reports as JSON (or a one-line summary per run).  Example:
#   tests/sim/simrun.py --lib build/sim/libsimguest.so \
#     --chronyd build/chrony-4.6.1/chronyd --config stock-fast pause-5

import argparse
import concurrent.futures
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simlib  # noqa: E402


def fmt(v, unit=""):
    if v is None:
        return "-"
    return "%.6g%s" % (v, unit)


def summary(rep, kind):
    recs = simlib.tabulated_recoveries(rep, kind)
    parts = ["%-16s %-14s phase=%-9s %-16s" % (rep["scenario"], rep["config"],
                                                rep["phase"], rep["status"])]
    for r in recs:
        parts.append("%s@%.1f: <1ms %s <10us %s max %s steps %d" % (
            r["kind"], r["t"], fmt(r["rec_1ms"], "s"), fmt(r["rec_10us"], "s"),
            fmt(r["max_abs_err"], "s"), len(r["steps"])))
    for name, w in sorted(rep["windows"].items()):
        if w:
            parts.append("%s: rms %s max %s" % (name, fmt(w["rms"], "s"), fmt(w["max"], "s")))
    parts.append("hc/s %s; external steps %d; failed ioctls %d; kernel log lines %d; "
                 "selection changes %d" % (fmt(rep["hypercalls_per_s"]),
                                           len(rep["external_steps"]), rep["failed_ioctls"],
                                           rep["kernel_log_lines"], rep["selection_changes"]))
    return "\n   ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--chronyd", required=True)
    ap.add_argument("--out", default="build/sim/run")
    ap.add_argument("--config", action="append", help="configuration (repeatable)")
    ap.add_argument("--phase", action="append", type=int, help="phase index (repeatable)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("scenario", help="name in tests/sim/scenarios or a path")
    a = ap.parse_args()

    path = a.scenario if os.path.exists(a.scenario) else \
        os.path.join(simlib.SCENARIO_DIR, a.scenario + ".scn")
    sc = simlib.Scenario(path)
    configs = a.config or simlib.available_configs(sc)
    phs = sc.phases()
    idx = a.phase if a.phase is not None else range(len(phs))
    jobs = []
    with concurrent.futures.ProcessPoolExecutor(a.jobs) as ex:
        for c in configs:
            for i in idx:
                rundir = os.path.join(os.path.abspath(a.out), sc.name, c, "p%02d" % i)
                jobs.append(ex.submit(simlib.run_one, os.path.abspath(a.lib),
                                      os.path.abspath(a.chronyd), sc, c, rundir,
                                      a.seed, phs[i]))
        reps = [j.result() for j in jobs]
    if a.json:
        json.dump(reps, sys.stdout, indent=1)
        print()
    else:
        for r in reps:
            print(summary(r, sc.recovery))


if __name__ == "__main__":
    main()
