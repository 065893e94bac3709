#!/usr/bin/env python3
# chrony-ptpkvm guest simulator: tests of the truth-log metrics
#
# Copyright (C) 2026 The chrony-ptpkvm authors
# SPDX-License-Identifier: GPL-2.0-only
# This program is free software; you can redistribute it and/or modify it
# under the terms of version 2 of the GNU General Public License.
#
# Checks simlib's metrics on small hand-written truth logs whose answers
# are known: the reselection time after a disturbance and the selected
# fraction of a window (chronyd's selection events, including a selection
# lost for good, one never made and a silent unselection), and hypercalls
# per second of running VM time, also when hypercalls were counted during a
# pause (as the model did in tsc mode before a paused VM stopped running
# code).  Prints PASS/FAIL lines and "N passed, N failed".

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simlib  # noqa: E402

passed = failed = 0


def check(ok, name, got):
    global passed, failed
    if ok:
        passed += 1
        print("PASS %s" % name)
    else:
        failed += 1
        print("FAIL %s (got %r)" % (name, got))


def near(a, b, eps=1e-9):
    return a is not None and b is not None and abs(a - b) <= eps


class FakeScenario:
    name = "test"
    recovery = "resume"

    def __init__(self, windows):
        self.windows = windows


def truth(lines, rate=14, pause=None, hc_in_pause=0, end=1800.0):
    """A truth log: grid every 1 s with `rate` hypercalls/s while running,
    `hc_in_pause` per second while paused, a pause (t0, t1) and extra E lines."""
    out = ["H scenario=test seed=1"]
    hc, t, ev = 0, 0.0, sorted(lines)
    while t <= end:
        paused = pause is not None and pause[0] <= t < pause[1]
        while ev and ev[0][0] <= t:
            out.append("E %.9f %s" % ev.pop(0))
        if pause and t == pause[0]:
            out.append("E %.9f pause duration=%.9f mode=tsc hypercalls=%d" % (
                t, pause[1] - pause[0], hc))
        if pause and t == pause[1]:
            out.append("E %.9f resume err=0.0 hypercalls=%d" % (t, hc))
        out.append("G %.6f %.12f %d%s" % (t, 1e-8, hc, " P" if paused else ""))
        hc += hc_in_pause if paused else rate
        t += 1.0
    out.append("E %.9f end hypercalls=%d" % (end, hc - rate))
    f = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    f.write("\n".join(out) + "\n")
    f.close()
    return f.name


def analyse(lines, windows=(), **kw):
    path = truth(lines, **kw)
    try:
        return simlib.analyse(path, FakeScenario(list(windows)))
    finally:
        os.unlink(path)


def resume_sel(rep):
    return [r["sel"] for r in simlib.tabulated_recoveries(rep, "resume")]


def main():
    sel = "selection state=selected source=KVM0"
    none = "selection state=none"
    pause = (600.0, 605.0)
    win = [("before", 300, 600), ("after", 620, 1800)]

    # selected at 3 s, lost 0.5 s after the resume, again 3 s later
    rep = analyse([(3.0, sel), (605.5, none), (608.0, sel)], win, pause=pause)
    check(near(resume_sel(rep)[0], 3.0), "reselection 3 s after the resume", resume_sel(rep))
    check(rep["windows"]["before"]["selected"] == 1.0 and
          rep["windows"]["before"]["unselections"] == 0, "selected all the window before",
          rep["windows"]["before"])
    # selected throughout: 0
    rep = analyse([(3.0, sel)], win, pause=pause)
    check(resume_sel(rep) == [0.0], "stayed selected: reselection 0", resume_sel(rep))
    # lost for good: never
    rep = analyse([(3.0, sel), (606.0, none)], win, pause=pause)
    check(resume_sel(rep) == [None], "lost and never selected again: None", resume_sel(rep))
    check(near(rep["windows"]["after"]["selected"], 0.0) and
          rep["windows"]["after"]["unselections"] == 0, "window after: never selected",
          rep["windows"]["after"])
    # never selected at all
    rep = analyse([(100.0, none)], win, pause=pause)
    check(resume_sel(rep) == [None] and rep["windows"]["before"]["selected"] == 0.0,
          "never selected: None, fraction 0", (resume_sel(rep), rep["windows"]["before"]))
    # a gap inside a window: fraction and count
    rep = analyse([(3.0, sel), (400.0, none), (430.0, sel)], win, pause=pause)
    w = rep["windows"]["before"]
    check(near(w["selected"], 0.9) and w["unselections"] == 1, "30 s gap in 300 s: 0.9, 1", w)
    # a second 'Selected' without a logged loss ends a silent gap: counts from it
    rep = analyse([(3.0, sel), (607.0, sel)], win, pause=pause)
    check(near(resume_sel(rep)[0], 2.0), "silent unselection: from the next selection",
          resume_sel(rep))
    # the metric over runs: worst reselection, never = inf, lowest fraction
    sc = FakeScenario(win)
    reps = []
    for lines in ([(3.0, sel), (605.5, none), (608.0, sel)],
                  [(3.0, sel), (605.5, none), (611.0, sel)]):
        r = analyse(lines, win, pause=pause)
        r["status"] = "ok"
        reps.append(r)
    check(near(simlib.metric(sc, reps, "sel.max"), 6.0), "sel.max over runs",
          simlib.metric(sc, reps, "sel.max"))
    r = analyse([(3.0, sel), (606.0, none)], win, pause=pause)
    r["status"] = "ok"
    check(simlib.metric(sc, reps + [r], "sel.max") == simlib.INF, "sel.max with a never: inf",
          simlib.metric(sc, reps + [r], "sel.max"))
    check(simlib.metric(sc, reps + [r], "window.after.selected") == 0.0,
          "window.after.selected: lowest over runs", None)

    # hypercalls/s: 14/s running, a 360 s pause
    rep = analyse([], pause=(600.0, 960.0), rate=14)
    check(near(rep["hypercalls_per_s"], 14.0, 1e-6) and rep["hypercalls_paused"] == 0,
          "14/s with a 360 s pause", (rep["hypercalls_per_s"], rep["hypercalls_paused"]))
    # hypercalls counted while paused are not running-time hypercalls
    rep = analyse([], pause=(600.0, 960.0), rate=14, hc_in_pause=14)
    check(near(rep["hypercalls_per_s"], 14.0, 1e-6) and rep["hypercalls_paused"] == 14 * 360,
          "hypercalls during a pause: reported apart, rate still 14/s",
          (rep["hypercalls_per_s"], rep["hypercalls_paused"]))
    # the former definition (all hypercalls / running time) would give 17.5
    check(near(rep["hypercalls"] / (1800.0 - 360.0), 17.5, 0.01),
          "all hypercalls / running time would be 17.5/s", rep["hypercalls"])
    # window rates leave the pause out too
    rep = analyse([], [("all", 0, 1800)], pause=(600.0, 960.0), rate=14, hc_in_pause=14)
    check(near(rep["windows"]["all"]["hypercalls_per_s"], 14.0, 0.02),
          "window hypercalls/s across a pause", rep["windows"]["all"]["hypercalls_per_s"])

    # durations in the tables
    got = [simlib.fmt_duration(v) for v in
           (None, float("inf"), 0, 2e-6, 0.9996e-3, 0.184, 0.99951, 3.12)]
    check(got == ["never", "never", "0", "2 us", "1 ms", "184 ms", "1.0 s", "3.1 s"],
          "duration formatting (units chosen after rounding, never)", got)

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
