#!/usr/bin/env python3
# chrony-ptpkvm guest simulator: benchmark driver (make bench)
#
# Copyright (C) 2026 The chrony-ptpkvm authors
# SPDX-License-Identifier: GPL-2.0-only
# This program is free software; you can redistribute it and/or modify it
# under the terms of version 2 of the GNU General Public License.
#
# Runs every scenario (every sweep phase) for every configuration with the
# same seeds, in parallel, prints one Markdown table of recovery times,
# recovered fractions, steady-state error, steps and hypercalls/s, writes
# it with date, chrony version and seeds to docs/benchmarks.md, and plots
# the error around a 360 s pause for the three configurations (gnuplot).

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simcal  # noqa: E402
import simcallgrind  # noqa: E402
import simlib  # noqa: E402

PLOT_SCENARIO = "pause-360"


fmt_s = simlib.fmt_duration


def fmt_err(v):
    if v is None:
        return "-"
    if v < 1e-6:
        return "%.0f ns" % (v * 1e9)
    if v < 1e-3:
        return "%.1f us" % (v * 1e6)
    if v < 1:
        return "%.1f ms" % (v * 1e3)
    return "%.3g s" % v


def stats(values):
    """median/min/max with None (never recovered) ordered as infinity"""
    key = [v if v is not None else float("inf") for v in values]
    if not key:
        return None
    med = statistics.median_low(key)
    conv = lambda x: None if x == float("inf") else x  # noqa: E731
    return conv(med), conv(min(key)), conv(max(key))


def row(sc, config, reps):
    status = {}
    for r in reps:
        status[r["status"]] = status.get(r["status"], 0) + 1
    st = ", ".join("%s%s" % ("%d " % n if len(reps) > 1 else "", s)
                   for s, n in sorted(status.items()))
    ok = [r for r in reps if r["status"] == "ok"]
    cells = [sc.name, config, st, str(len(reps))]
    recs = [x for r in ok for x in simlib.tabulated_recoveries(r, sc.recovery)]
    if not ok or not recs:
        return cells + ["-"] * 10
    r1 = [x["rec_1ms"] for x in recs]
    r10 = [x["rec_10us"] for x in recs]
    s1, s10 = stats(r1), stats(r10)
    w1 = sum(1 for v in r1 if v is not None and v <= 1.0) / len(r1)
    w60 = sum(1 for v in r1 if v is not None and v <= 60.0) / len(r1)
    wname = sc.windows[0][0] if sc.windows else None
    rms = [r["windows"][wname]["rms"] for r in ok if wname and r["windows"].get(wname)]
    mx = [r["windows"][wname]["max"] for r in ok if wname and r["windows"].get(wname)]
    steps = [len(x["steps"]) for x in recs]
    hcps = [r["hypercalls_per_s"] for r in ok if r["hypercalls_per_s"] is not None]
    cells += [
        "%s / %s / %s" % tuple(fmt_s(v) for v in s1),
        "%s" % fmt_s(s10[0]),
        "%.0f %%" % (100 * w1),
        "%.0f %%" % (100 * w60),
        "%s (%s)" % (fmt_err(statistics.mean(rms)), wname) if rms else "-",
        fmt_err(max(mx)) if mx else "-",
        "%d" % sum(steps),
        "%.2f" % statistics.mean(hcps) if hcps else "-",
        sel_cell(config, recs),
        events_cell(ok),
    ]
    return cells


def events_cell(ok):
    """Worst run: steps made by another program, failed ioctls, guest kernel
    log lines, selection changes after the first selection."""
    keys = ("external_steps", "failed_ioctls", "kernel_log_lines", "selection_changes")
    vals = [max((len(r[k]) if isinstance(r[k], list) else r[k]) for r in ok) for k in keys]
    return " / ".join("%d" % v for v in vals)


def sel_cell(config, recs):
    """chronyd's own selection state: time until the source is selected
    again for good after the event (median / max); '-' for programs."""
    if config in simlib.PROGRAMS:
        return "-"
    s = stats([x.get("sel") for x in recs])
    return "%s / %s" % (fmt_s(s[0]), fmt_s(s[2]))


HEADER = ["scenario", "config", "status", "runs",
          "recovery <1 ms median / min / max", "<10 us median", "<=1 s", "<=60 s",
          "RMS error (window)", "max error (window)", "steps", "hypercalls/s",
          "selected again (chronyd) median / max",
          "ext. steps / failed ioctls / kernel log lines / selection changes (max)"]


def table(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


# Tables of the error bound chronyd holds per sample, the time until
# chronyd says it is synchronised again, two sources on one device
CAL_SCENARIOS = ["steady-precise", "steady-basic", "noisy-steady", "noisy-100us-steady",
                 "noisy-sys-steady", "noisy-precise-steady", "pause-360"]
RESYNC_SCENARIOS = ["pause-0.2", "pause-360", "pause-1d", "hoststep-plus1"]
DUP_SCENARIOS = ["dup-pause-1h", "ntp-pause-1h", "ntp-wrong-pause-1h"]


def calibration_table(sel):
    """sel: [(scenario, config, reports)] -> Markdown table of simcal.pooled"""
    out = ["| scenario | config | runs | samples | covered (\|true error\| <= bound) | "
           "median bound / \|true error\| | median \|true error\| | median bound | "
           "max \|true error\| | not resolved / not mapped |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for sc, c, reps in sel:
        ok = [r for r in reps if r["status"] == "ok"]
        cal = simcal.pooled([r.get("calibration") for r in ok])
        if cal is None:
            out.append("| %s | %s | %d | 0 | - | - | - | - | - | - |" % (sc.name, c, len(reps)))
            continue
        r = cal["median_ratio"]
        out.append("| %s | %s | %d | %d | %.2f %% | %s | %s | %s | %s | %d / %d |" % (
            sc.name, c, len(reps), cal["n"], 100 * cal["coverage"],
            "%.1f" % r if r >= 1 else "%.2g" % r,
            fmt_err(cal["median_abs_error"]), fmt_err(cal["median_bound"]),
            fmt_err(cal["max_abs_error"]), cal["unresolved"], cal["unmapped"]))
    return "\n".join(out)


def med_max(vals):
    """"median / max" of times (None = never); "-" without values"""
    vals = [v for v in vals if v != "-"]
    if not vals:
        return "-"
    s = stats(vals)
    return "%s / %s" % (fmt_s(s[0]), fmt_s(s[2]))


def within(vals, lim=1.0):
    vals = [v for v in vals if v != "-"]
    if not vals:
        return "-"
    return "%d/%d" % (sum(1 for v in vals if v is not None and v <= lim), len(vals))


def resync_table(sel):
    out = ["| scenario | config | runs | \|error\| < 1 ms median / max | `#*` again (log) "
           "median / max | `#*` at every later checkpoint median / max | leap status Normal "
           "at every later checkpoint median / max | `#*` (log) / Normal within 1 s |",
           "|---|---|---|---|---|---|---|---|"]
    for sc, c, reps in sel:
        recs = [x for r in reps if r["status"] == "ok"
                for x in simlib.tabulated_recoveries(r, sc.recovery)]
        if not recs:
            out.append("| %s | %s | %d | - | - | - | - | - |" % (sc.name, c, len(reps)))
            continue
        out.append("| %s | %s | %d | %s | %s | %s | %s | %s, %s |" % (
            sc.name, c, len(reps), med_max([x["rec_1ms"] for x in recs]),
            med_max([x["sel"] for x in recs]),
            med_max([x.get("sel_chronyc", "-") for x in recs]),
            med_max([x.get("leap_normal", "-") for x in recs]),
            within([x["sel"] for x in recs]), within([x.get("leap_normal", "-") for x in recs])))
    return "\n".join(out)


def dup_table(sel):
    out = ["| scenario | config | runs | selection changes after the first selection "
           "median / max | `#*` again after the resume (log) median / max | RMS error (window) |",
           "|---|---|---|---|---|---|"]
    for sc, c, reps in sel:
        ok = [r for r in reps if r["status"] == "ok"]
        if not ok:
            out.append("| %s | %s | %d | - | - | - |" % (sc.name, c, len(reps)))
            continue
        ch = sorted(r["selection_changes"] for r in ok)
        recs = [x for r in ok for x in simlib.tabulated_recoveries(r, sc.recovery)]
        wname = sc.windows[0][0] if sc.windows else None
        rms = [r["windows"][wname]["rms"] for r in ok if wname and r["windows"].get(wname)]
        out.append("| %s | %s | %d | %d / %d | %s | %s |" % (
            sc.name, c, len(reps), ch[(len(ch) - 1) // 2], ch[-1],
            med_max([x["sel"] for x in recs]),
            "%s (%s)" % (fmt_err(statistics.mean(rms)), wname) if rms else "-"))
    return "\n".join(out)


SYNC_CALIBRATION_TEXT = (
    "Calibration: for every raw sample of a refclock, chronyd's own `log refclocks` "
    "line (refclock.c `log_sample()`: sample time, raw offset = reference - system "
    "time, dispersion) is compared with the simulator's ground truth: the sample's "
    "guest time is mapped to true time t on the truth grid (guest REALTIME - H(t), "
    "with chronyd's frequency changes and clock steps from the truth log), the true "
    "raw offset is H(t) - guest REALTIME(t), and the sample's true error is the "
    "difference (tests/sim/simcal.py). The bound is the sample's dispersion as "
    "chronyd holds it (precision, or the driver's error bound where larger (patch "
    "0005), plus chronyd's own correction dispersion); a refclock's root distance "
    "adds only delay/2 = 0.5 ns (refclock default `delay 1e-9`). covered = fraction "
    "of samples with |true error| <= bound (goal >= 99 %); the median "
    "ratio is pooled over all samples of all runs (2 % bins; goal <= ~10). Samples "
    "with |raw offset| >= 10 ms are not resolved (chronyd prints 7 significant "
    "digits) and left out: they occur only between a disruption and the step.\n\n"
    "Synchronised again: `#*` (log) = time from the event until chronyd has its "
    "source selected for good, from its log lines (resolution: virtual time); the "
    "checkpoint columns come from the real `chronyc sources` / `chronyc tracking` run "
    "at held moments 0.1, 0.2, ... 1.0, 1.5, 2, 3, 5, 10, 20, 60, 300 s after the "
    "event: time until the first checkpoint from which every later one shows `#*` / "
    "\"Leap status : Normal\" (an upper bound at that resolution; `never` = not at "
    "the last checkpoint; a loss between two checkpoints is not seen). 0 = never lost "
    "(at the checkpoints: the one before the event showed it too). chronyd marks "
    "itself unsynchronised only after an unknown step (reference.c `handle_slew()`: "
    "`LCL_ChangeUnknownStep` -> `REF_SetUnsynchronised()`), which the PTPKVM driver's "
    "step and flush notify: \"Not synchronised\" until the burst of polls (patch 0004) "
    "has given chronyd three fresh samples. Stock `refclock PHC` keeps `#*` and "
    "Normal after a pause until its source is unselected (`#?`, a sample 360 s off), "
    "and chrony 4.6.1 keeps Normal even then (`unselect_selected_source()` in "
    "sources.c leaves the leap status): its 0 is chronyd's claim while the clock is "
    "minutes off, which is why the error recovery is shown next to it.\n\n"
    "Two sources on one device, or next to an NTP server (the simulator's, "
    "tests/sim/sim_ntp.c: 0.1 ms of path asymmetry; in ntp-wrong-pause-1h the "
    "server is 1.5 ms off the host): chronyd's selection changes after its first "
    "selection over 1 h with a 360 s pause (a flush after the pause is at least 2: "
    "none selected, then selected again).\n\n")


# Plain names for the plot's legend
PLOT_NAMES = {
    "ptpkvm": "refclock PTPKVM auto (this project)",
    "stock-fast": "stock refclock PHC, poll 1, makestep 0.1 -1",
    "stock-default": "stock refclock PHC, chrony's defaults (makestep 1 3)",
    "phc2sys": "phc2sys (linuxptp defaults)",
}


def plot_recovery(dat):
    """Seconds after the resume from which every later point of a plot data
    file is within 1 ms (None: not at its end)."""
    since = None
    with open(dat) as f:
        for line in f:
            p = line.split()
            if len(p) == 2 and float(p[0]) >= 0:
                since = (since if since is not None else float(p[0])) \
                    if float(p[1]) < 1e-3 else None
    return since


def plot(runs, png, workdir):
    """|error| vs time around the pause of the runs' scenario, from the truth
    logs: from 60 s before the pause to the end of the data (top), and the
    first 30 s after the resume (bottom).  No guest code runs while the VM
    is stopped, so the truth log has no samples there: the pause is a shaded
    band and the lines break at it."""
    os.makedirs(workdir, exist_ok=True)
    series, span = [], None
    for config, truth in runs:
        if not truth or not os.path.exists(truth):
            continue
        _, grid, events = simlib.read_truth(truth)
        pause = next((e["t"] for e in events if e["kind"] == "pause"), None)
        resume = next((e["t"] for e in events if e["kind"] == "resume"), None)
        if resume is None or pause is None:
            continue
        dat = os.path.join(workdir, "%s.dat" % config)
        first, last, before = None, None, False
        with open(dat, "w") as f:
            for t, e, _, paused in grid:
                if t < pause - 60 or paused or pause <= t < resume:
                    before = before or t < pause
                    continue
                if before and t >= resume:
                    f.write("\n")          # a break in the line at the pause
                before = t < pause
                f.write("%.6f %.12g\n" % (t - resume, max(abs(e), 1e-10)))
                first = t - resume if first is None else first
                last = t - resume
        if first is None:
            continue
        rec = plot_recovery(dat)
        span = (first, last, pause - resume) if span is None else \
            (min(span[0], first), max(span[1], last), span[2])
        series.append((config, dat, rec))
    if not series:
        return False
    x0, x1, p0 = span
    plen = -p0
    gp = os.path.join(workdir, "plot.gp")
    plots = ", ".join('"%s" using 1:2 with lines lw 2 title "%s: within 1 ms %s"' % (
        d, PLOT_NAMES.get(c, c), "never" if r is None else "after " + fmt_s(r))
        for c, d, r in series)
    what = "%g s VM pause" % plen if plen < 86400 else "%g-day VM pause" % (plen / 86400)
    with open(gp, "w") as f:
        f.write('set terminal pngcairo size 1100,900 font ",10"\nset output "%s"\n' % png)
        f.write('set multiplot layout 2,1\n')
        f.write('set logscale y\nset format y "10^{%T}"\nset grid\nset key top right\n')
        f.write('set ylabel "guest clock error |guest - host| (s)"\nset yrange [1e-10:1e4]\n')
        f.write('set style rect fc rgb "gray90" fs solid 1.0 noborder\n')
        f.write('set object 1 rect from %g, graph 0 to 0, graph 1 behind\n' % p0)
        f.write('set label 1 "VM paused %s:\\nno guest code runs;\\nthe guest clock stands still,\\n'
                'the host clock runs on" at %g, graph 0.5 center\n' % (what.split(" VM")[0], p0 / 2))
        f.write('set title "How far the guest clock is from the host clock around a %s '
                '(simulated guest, lower is better)"\n' % what)
        f.write('set xlabel "seconds since the VM resumed"\n')
        f.write('set xrange [%g:%g]\nplot %s\n' % (x0, x1, plots))
        f.write('unset object 1\nunset label 1\n')
        f.write('set title "Zoom on the first 30 s after the resume: when each clock is back '
                'within 1 ms (dashed line) of the host"\n')
        f.write('set xlabel "seconds since the VM resumed (ground truth from the simulator, '
                'every 1 ms for %s after the resume, else every 10 ms)"\n' % "5 s")
        f.write('set arrow 1 from -1, 1e-3 to %g, 1e-3 nohead dt 2 lc rgb "black"\n'
                'set label 2 "1 ms" at 29, 2e-3 right\n' % min(30, x1))
        f.write('set xrange [-1:%g]\nplot %s\n' % (min(30, x1), plots))
        f.write('unset multiplot\n')
    subprocess.run(["gnuplot", gp], check=True)
    return True


def chrony_version(chronyd):
    try:
        out = subprocess.run([chronyd, "-v"], capture_output=True, text=True).stdout
        return out.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--chronyd", required=True)
    ap.add_argument("--out", default="build/sim/bench")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--doc")
    ap.add_argument("--png")
    ap.add_argument("--chrony-version", default="")
    ap.add_argument("--scenario", action="append")
    ap.add_argument("--config", action="append")
    ap.add_argument("--results", help="no runs: tables and document from the results.json "
                    "an earlier run of the same scenarios wrote")
    ap.add_argument("--wall", type=float, default=0.0,
                    help="with --results: that run's wall time (s), for the document")
    ap.add_argument("--no-callgrind", action="store_true",
                    help="skip the instructions-per-poll table (valgrind)")
    a = ap.parse_args()

    lib, chronyd, out = (os.path.abspath(x) for x in (a.lib, a.chronyd, a.out))
    for f in (lib, chronyd):
        if not os.access(f, os.R_OK):
            raise SystemExit("simbench: %s is missing" % f)
    version = chrony_version(chronyd)
    chronyd = simlib.snapshot_chronyd(chronyd, out)
    scenarios = simlib.load_scenarios(a.scenario)
    configs_of = {sc.name: a.config or simlib.available_configs(sc) for sc in scenarios}
    configs = sorted(set(c for v in configs_of.values() for c in v),
                     key=lambda c: (simlib.CONFIG_ORDER + sorted(simlib.CONFIGS) +
                                    list(simlib.PROGRAMS)).index(c))
    t0 = time.time()
    futures = {}
    if a.results:
        # re-render the tables and the document from an earlier run's reports
        with open(a.results) as f:
            results = {(k.split("/")[0], k.split("/")[1], int(k.split("/")[2])): v
                       for k, v in json.load(f).items()}
    with concurrent.futures.ProcessPoolExecutor(a.jobs) as ex:
        # Longest runs first for a better schedule on few cores
        order = sorted(scenarios, key=lambda s: -s.duration * s.sweep[0])
        for sc in ([] if a.results else order):
            for c in configs_of[sc.name]:
                for i, ph in enumerate(sc.phases()):
                    rundir = os.path.join(out, sc.name, c, "p%02d" % i)
                    keep = sc.name == PLOT_SCENARIO and i == 0
                    futures[(sc.name, c, i)] = ex.submit(
                        simlib.run_one, lib, chronyd, sc, c, rundir, None, ph, 900, keep)
        if not a.results:
            results = {k: f.result() for k, f in futures.items()}
    wall = a.wall if a.results else time.time() - t0

    rows = []
    for sc in scenarios:
        for c in configs_of[sc.name]:
            reps = [results[(sc.name, c, i)] for i in range(len(sc.phases()))]
            rows.append(row(sc, c, reps))
    tab = table(rows)
    print(tab)

    def pick(names):
        return [(sc, c, [results[(sc.name, c, i)] for i in range(len(sc.phases()))])
                for sc in scenarios if sc.name in names for c in configs_of[sc.name]
                if c not in simlib.PROGRAMS]
    extra = []
    for title, fn, names in (
            ("Error bound calibration", calibration_table, CAL_SCENARIOS),
            ("Synchronised again after a disruption", resync_table,
             RESYNC_SCENARIOS),
            ("Two sources on one device, or next to NTP, 1 h with a pause", dup_table,
             DUP_SCENARIOS)):
        sel = pick(names)
        if sel:
            extra.append("## %s\n\n%s" % (title, fn(sel)))
            print("\n" + extra[-1])
    nruns = len(results)
    print("\n%d runs in %.0f s wall time with %d jobs" % (nruns, wall, a.jobs))

    cg = None
    if not a.no_callgrind and shutil.which("valgrind"):
        cg = simcallgrind.table(simcallgrind.measure(lib, chronyd, os.path.join(out, "callgrind")))
        print("\nInstructions per driver call (valgrind --tool=callgrind)\n")
        print("\n".join(cg))
    elif not a.no_callgrind:
        print("\ninstructions per driver call: not measured (valgrind is not installed)")

    if not a.results:
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({"%s/%s/%d" % k: v for k, v in results.items()}, f)

    png_ok = False
    if a.png:
        runs = [(c, results.get((PLOT_SCENARIO, c, 0), {}).get("truth"))
                for c in configs_of.get(PLOT_SCENARIO, [])]
        png_ok = plot(runs, a.png, os.path.join(out, "plot"))
        print("plot: %s" % (a.png if png_ok else "not written (no data)"))

    if a.doc:
        seeds = sorted(set("%s=%d" % (sc.name, sc.seed) for sc in scenarios))
        with open(a.doc, "w") as f:
            f.write("<!-- Copyright (C) 2026 The chrony-ptpkvm authors. GPL-2.0-only. -->\n")
            f.write("# Benchmarks: simulated KVM guest\n\n")
            f.write("Generated by `make bench` (tests/sim/simbench.py); do not edit by hand.\n\n")
            f.write("- date: %s\n" % datetime.datetime.now(datetime.timezone.utc)
                    .strftime("%Y-%m-%d %H:%M UTC"))
            if a.results:
                f.write("- written from the reports of the run that finished %s "
                        "(`simbench.py --results %s`; runs as below)\n" % (
                            datetime.datetime.fromtimestamp(
                                os.path.getmtime(a.results), datetime.timezone.utc)
                            .strftime("%Y-%m-%d %H:%M UTC"), os.path.relpath(a.results)))
            f.write("- chronyd: %s (CHRONY_VERSION=%s)\n" % (version, a.chrony_version))
            f.write("- machine: %s, %d cores, %d jobs; %d runs in %.0f s\n" % (
                platform.platform(), os.cpu_count() or 0, a.jobs, nruns, wall))
            f.write("- seeds (scenario file `seed`, default 1): %s\n" % ", ".join(seeds))
            f.write("- phases: sweep N SPAN runs phase k at frac(k x 0.618034) x SPAN s\n")
            f.write("- configurations: %s\n\n" % "; ".join(
                "`%s` = `%s`" % (c, simlib.describe(c)) for c in configs))
            f.write(tab + "\n\n")
            f.write(
                "Definitions (all from the simulator's truth log, never from chronyd):\n"
                "recovery = time from the scenario's event (`resume` after a pause, "
                "`host_step`, `clocksource`, `window_end` of a fault window, or `start`) "
                "until |guest REALTIME - host| stays below the threshold up to the next "
                "disturbance or the end of the run; `never` = still above at that point. "
                "The median is the lower median over all runs and events; `<=1 s` / "
                "`<=60 s` are the fractions recovered below 1 ms within that time. "
                "RMS/max are over the scenario's first window (named in brackets). "
                "steps = clock steps (ADJ_SETOFFSET/settime) after the event. "
                "hypercalls/s = hypercalls made while the VM runs per second of running "
                "VM time: paused time and any hypercall counted during a pause are left "
                "out, in kvm-clock and tsc mode alike (a stopped VM runs no code; the "
                "simulator makes none, `make check` asserts it). "
                "A status other than `ok` means chronyd did not run to the end "
                "(e.g. `exited-at-start`: the configuration is refused at start).\n\n"
                "One column is chronyd's own state, not an error measurement: "
                "`selected again (chronyd)` = time from the event until chronyd has its "
                "refclock selected (`#*` in `chronyc sources`) and keeps it up to the next "
                "disturbance or the end (0 = never lost it, `never` = none selected at "
                "that point), from chronyd's log lines (\"Selected source\", \"Can't "
                "synchronise\", \"Reset all sources\"), which the simulator copies into "
                "the truth log at the true time they are written.\n\n"
                "Last column (worst run): steps of the guest clock made by another "
                "program (scenario events, not chronyd), failed PHC ioctls, guest kernel "
                "log lines the ptp_kvm driver would print (failed hypercalls, "
                "pr_err_ratelimited: 10 per 5 s per call site) and chronyd's selection "
                "changes after its first selection (flapping).\n\n")
            if extra:
                f.write("\n\n".join(extra) + "\n\n" + SYNC_CALIBRATION_TEXT)
            f.write("## Instructions per driver call\n\n")
            if cg:
                f.write("\n".join(cg) + "\n\n" + simcallgrind.DEFINITION + "\n\n")
            else:
                f.write("Not measured in this run (valgrind missing or --no-callgrind).\n\n")
            if png_ok:
                f.write("Plot: `build/sim/pause360.png` (|error| around a 360 s pause, "
                        "phase 0; regenerate with `make bench`).\n")
        print("wrote %s" % a.doc)


if __name__ == "__main__":
    main()
