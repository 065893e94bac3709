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
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import simlib  # noqa: E402
import testlib  # noqa: E402


def check(ok, name, got):
    testlib.check(ok, name, "(got %r)" % (got,))


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


def log_with(err, events, end=100.0, step=0.1, pause=None):
    """A truth log with grid error err(t) every `step` s (no grid line while
    paused, as the simulator writes them) and the given E lines."""
    out = ["H scenario=test seed=1"]
    ev = sorted(events)
    n = int(round(end / step))
    for k in range(n + 1):
        t = k * step
        while ev and ev[0][0] <= t + 1e-9:
            out.append("E %.9f %s" % ev.pop(0))
        if pause and pause[0] <= t < pause[1]:
            continue
        out.append("G %.6f %.12f %d" % (t, err(t), k))
    out.append("E %.9f end hypercalls=%d failed_ioctls=12 failed_hypercalls=12 "
               "kernel_log_lines=9" % (end, n))
    f = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    f.write("\n".join(out) + "\n")
    f.close()
    return f.name


def disruption_metrics():
    sel = "selection state=selected source=KVM0"
    # a step by another program at 10 s during a pause from 8 s to 13 s
    ev = [(10.0, "external_step size=5.0"), (8.0, "pause duration=5 mode=kvm-clock "
          "cause=pause hypercalls=0"), (13.0, "resume err=5 hypercalls=0 injected=0"),
          (30.0, "counts failed_ioctls=5 failed_hypercalls=5 kernel_log_lines=4 basic_ioctls=1"),
          (60.0, "counts failed_ioctls=12 failed_hypercalls=12 kernel_log_lines=9 "
           "basic_ioctls=3"),
          (45.0, "window_start kind=hostfail duration=5 p=0"),
          (50.0, "window_end kind=hostfail duration=5 p=0"), (53.0, "good_read"),
          (3.0, sel), (40.0, "selection state=none"), (41.0, sel),
          (60.0, "selection state=selected source=PHC0")]
    path = log_with(lambda t: 5.0 if 10.0 <= t < 20.0 else 2e-3 + 1e-8, ev, pause=(8.0, 13.0))
    sc = FakeScenario([("a", 20, 50), ("b", 40, 70)])
    sc.recovery = "external_step"
    try:
        rep = simlib.analyse(path, sc, 0.002)
        rep0 = simlib.analyse(path, sc)
    finally:
        os.unlink(path)
    rep["status"] = rep0["status"] = "ok"
    rec = simlib.tabulated_recoveries(rep, "external_step")[0]
    check(near(rec["rec_1ms"], 10.0, 1e-6) and near(rec["rec_1ms_run"], 7.0, 1e-6),
          "recovery 10 s after an external step in a pause, 7 s of it running", rec)
    check(simlib.tabulated_recoveries(rep0, "external_step")[0]["rec_1ms"] is None,
          "2 ms off is not recovered without the target offset", None)
    check(near(simlib.metric(sc, [rep], "rec_1ms_run@external_step.max"), 7.0, 1e-6) and
          near(simlib.metric(sc, [rep], "rec_1ms@good_read.max"), 0.0, 1e-6),
          "rec_1ms_run@KIND and rec_1ms@KIND metrics", None)
    check(simlib.metric(sc, [rep], "external_steps") == 1 and
          simlib.metric(sc, [rep], "all_steps") == 0, "external steps are not chronyd's", None)
    w = rep["windows"]
    check((w["a"]["failed_ioctls"], w["b"]["failed_ioctls"], w["b"]["kernel_log_lines"],
           w["b"]["basic_ioctls"]) == (5, 7, 5, 2), "failed ioctls / log lines / basic per window",
          w)
    check(simlib.metric(sc, [rep], "failed_ioctls") == 12 and
          simlib.metric(sc, [rep], "kernel_log_lines") == 9, "totals from the end event", None)
    check(near(simlib.metric(sc, [rep], "good_read_delay"), 3.0, 1e-6),
          "first good reading 3 s after the outage", rep["good_read_delay"])
    check(simlib.metric(sc, [rep], "selection_changes") == 3,
          "3 selection changes after the first selection", rep["selection_changes"])


def calibration_metrics():
    """simcal: the true error of each refclock sample from a hand-made truth
    log whose guest clock is known exactly: a counter 0.2 ppm fast, chronyd
    slowing the clock by 0.2 ppm at t = 50.5 (a kink between grid points),
    a step of +5 ms at t = 70.3 (the clock 5 ms behind before it); samples
    with known true errors before and after each."""
    import calendar
    import simcal
    epoch, c, ta, r, ts, step = 1000000000, 2e-7, 50.5, -2e-7, 70.3, 0.005

    def err(t):                 # guest REALTIME - H(t), H(t) = epoch + t
        e = 1e-6 + c * min(t, ta)
        if t > ta:
            e += ((1 + c) * (1 + r) - 1) * (t - ta)
        return e - (step if t < ts else 0.0)

    lines = ["H scenario=test seed=1 epoch=%d host_offset=0 host_freq_ppm=0 "
             "host_wander_ppm=0" % epoch]
    for t in range(0, 101):
        if t == 51:
            lines.append("E %.9f adjtimex modes=0x2 rate_ppm=%.9f" % (ta, r * 1e6))
        if t == 71:
            lines.append("E %.9f step size=%.9f via=adjtimex" % (ts, step))
        lines.append("G %.6f %.12f 0" % (t, err(t)))
    lines.append("E 100.000000000 end hypercalls=0")
    d = tempfile.mkdtemp()
    path = os.path.join(d, "truth.log")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    # (true time, true error of the raw offset, dispersion); the last one is
    # 0.2 s off: its printed raw offset does not resolve 1 ns
    samples = [(20.25, 3e-8, 4e-8), (50.75, 3e-8, 4e-8), (70.1, -5e-8, 4e-8),
               (70.8, 2e-8, 4e-8), (80.4, 1e-8, 2e-7), (90.0, 0.2, 1e-7)]
    with open(os.path.join(d, "refclocks.log"), "w") as f:
        f.write("   Date (UTC) Time         Refid  DP L P  Raw offset   Cooked offset      Disp.\n")
        for t, e, disp in samples:
            g = t + err(t)      # guest time of the sample (us-exact below)
            sec, us = int(g), int(round((g - int(g)) * 1e6))
            g = sec + us * 1e-6
            raw = -err(g - err(g)) + e
            stamp = "%s.%06d" % ("%04d-%02d-%02d %02d:%02d:%02d" % tuple(
                __import__("time").gmtime(epoch + sec)[:6]), us)
            f.write("%s KVM0    0 N 0 %13.6e %13.6e %10.3e\n" % (stamp, raw, raw, disp))
            f.write("%s KVM0    - N -       -       %13.6e %10.3e\n" % (stamp, raw, disp))
    header, grid, events = simlib.read_truth(path)
    h = simcal.host_model(header, events)
    pieces = simcal.guest_pieces(grid, events, h, simcal.read_rates(path))
    got = simcal.true_errors(simcal.read_refclock_log(os.path.join(d, "refclocks.log")),
                             pieces, h, epoch)
    want = [e for _, e, _ in samples[:5]]
    check(len(got) == 5 and all(near(g[2], w, 1e-9) for g, w in zip(got, want)),
          "true error of each sample within 1 ns (rate kink, step, before and after)",
          [(round(g[1], 3), g[2]) for g in got])
    cal = simcal.calibration(os.path.join(d, "refclocks.log"), path, header, grid, events)
    check(cal["n"] == 5 and cal["covered"] == 4 and cal["unresolved"] == 1 and
          cal["unmapped"] == 0, "coverage 4 of 5, one sample not resolved", cal)
    pool = simcal.pooled([cal, cal])
    check(pool["n"] == 10 and near(pool["coverage"], 0.8) and
          near(pool["median_ratio"], 4e-8 / 3e-8, 0.03),
          "pooled: coverage 0.8, median bound/|error| 1.33", pool)
    shutil.rmtree(d)

    # time until `#*` / Normal at every later chronyc checkpoint
    q = {n: {"t": t, "selected": s, "normal": s} for n, t, s in (
        ("before", 5.0, True), ("a", 10.1, False), ("b", 10.2, True), ("c", 10.5, False),
        ("d", 11.0, True), ("e", 12.0, True))}
    got = [simlib.checkpoint_recovery(q, 10.0, 20.0, "normal"),
           simlib.checkpoint_recovery(q, 11.5, 20.0, "selected"),
           simlib.checkpoint_recovery(q, 30.0, 40.0, "normal"),
           simlib.checkpoint_recovery(dict(q, f={"t": 13.0, "normal": False}), 10.0, 20.0,
                                      "normal")]
    check(near(got[0], 1.0) and got[1] == 0.0 and got[2] == "-" and got[3] is None,
          "checkpoints: 1.0 s, 0 (never lost), - (none), never", got)


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
    # ... but a switch to another source (two sources) is no gap
    rep = analyse([(3.0, sel), (605.5, none), (606.0, sel), (616.0, sel.replace("KVM0", "KVM1"))],
                  win, pause=pause)
    check(near(resume_sel(rep)[0], 1.0) and rep["selection_changes"] == 3,
          "switch between sources: selected 1 s after the resume, 3 changes",
          (resume_sel(rep), rep["selection_changes"]))
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
    # all hypercalls / running time (the pause's counted) would give 17.5
    check(near(rep["hypercalls"] / (1800.0 - 360.0), 17.5, 0.01),
          "all hypercalls / running time would be 17.5/s", rep["hypercalls"])
    # window rates leave the pause out too
    rep = analyse([], [("all", 0, 1800)], pause=(600.0, 960.0), rate=14, hc_in_pause=14)
    check(near(rep["windows"]["all"]["hypercalls_per_s"], 14.0, 0.02),
          "window hypercalls/s across a pause", rep["windows"]["all"]["hypercalls_per_s"])

    disruption_metrics()
    calibration_metrics()

    # durations in the tables
    got = [simlib.fmt_duration(v) for v in
           (None, float("inf"), 0, 2e-6, 0.9996e-3, 0.184, 0.99951, 3.12)]
    check(got == ["never", "never", "0", "2 us", "1 ms", "184 ms", "1.0 s", "3.1 s"],
          "duration formatting (units chosen after rounding, never)", got)

    return testlib.finish()


if __name__ == "__main__":
    sys.exit(main())
