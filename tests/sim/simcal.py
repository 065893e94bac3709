# chrony-ptpkvm guest simulator: calibration of the error bound of samples
#
# Copyright (C) 2026 The chrony-ptpkvm authors
# SPDX-License-Identifier: GPL-2.0-only
# This program is free software; you can redistribute it and/or modify it
# under the terms of version 2 of the GNU General Public License.
#
# How well the error bound chronyd holds for each refclock sample covers the
# sample's true error.  Inputs: chronyd's own `log refclocks` file (one line
# per raw sample: cooked sample time to the microsecond, raw offset = ref -
# sys, cooked offset, dispersion; refclock.c log_sample()) and the
# simulator's truth log (grid of guest REALTIME - H(t) over true time t).
# Each sample's guest time is mapped to true time on the truth grid, where
# the true raw offset is H(t) - guest REALTIME(t) = -err(t); the sample's
# true error is raw + err(t), its bound its dispersion.  Python 3 standard
# library only.

import bisect
import calendar
import math

# chronyd prints offsets with 7 significant digits (%13.6e): from 10 ms on
# the printed raw offset is coarser than 1 ns and its error is not resolved
RAW_RESOLVED = 0.01

# log10 bins of bound/|error| (2 % wide) for medians over pooled runs
BINS_PER_DECADE = 50


def read_refclock_log(path):
    """[(refid, cooked sample time as (s, us) since the Unix epoch, raw offset,
    cooked offset, dispersion)] of the raw (unfiltered) sample lines, in the
    order chronyd wrote them.  Format (chrony 4.3-4.9 refclock.c):
    `YYYY-MM-DD HH:MM:SS.uuuuuu REFID DP L P raw cooked disp`; the filter's
    output lines have `-` as DP and are skipped."""
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) != 9 or p[3] == "-" or "." not in p[1]:
                continue
            try:
                hms, us = p[1].split(".")
                y, mo, d = (int(x) for x in p[0].split("-"))
                h, mi, s = (int(x) for x in hms.split(":"))
                sec = calendar.timegm((y, mo, d, h, mi, s))
                out.append((p[2], (sec, int(us)), float(p[6]), float(p[7]), float(p[8])))
            except ValueError:
                continue
    return out


def host_model(header, events):
    """h(t) = host REALTIME - epoch at true time t, or None where the truth
    log does not determine it (host frequency wander is a random walk)."""
    try:
        if float(header.get("host_wander_ppm", 0)) != 0.0:
            return None
        off = float(header.get("host_offset", 0))
        freq = float(header.get("host_freq_ppm", 0)) * 1e-6
    except ValueError:
        return None
    jumps = sorted((e["t"], float(e["size"])) for e in events if e["kind"] == "host_step")
    jumps += [(e["t"], -float(e["leap"])) for e in events if e["kind"] == "host_leap"]
    jumps.sort()
    times = [t for t, _ in jumps]
    cum, acc = [], 0.0
    for _, x in jumps:
        acc += x
        cum.append(acc)

    def h(t):
        i = bisect.bisect_right(times, t)
        return off + t * (1.0 + freq) + (cum[i - 1] if i else 0.0)
    return h


def guest_jumps(events):
    """[(t, size)] of every step of the guest's REALTIME: chronyd's own, by
    another program, a leap second the guest kernel applied, the sleep time
    injected at a resume from suspend."""
    out = []
    for e in events:
        k = e["kind"]
        if k in ("step", "external_step") and float(e.get("size", 0)) != 0.0:
            out.append((e["t"], float(e["size"])))
        elif k == "guest_leap":
            out.append((e["t"], -float(e.get("leap", 0))))
        elif k == "resume" and float(e.get("injected", 0)) != 0.0:
            out.append((e["t"], float(e["injected"])))
    return sorted(out)


def read_rates(truth):
    """[(t, rate)] of the guest kernel's NTP rate (rate_ppm of the truth
    log's `adjtimex` events, which simlib.read_truth leaves out) where it
    changes: REALTIME runs at the counter rate times (1 + rate)."""
    out, last = [], None
    with open(truth, errors="replace") as f:
        for line in f:
            if line.startswith("E ") and " adjtimex " in line:
                p = line.split()
                r = next((float(x[9:]) * 1e-6 for x in p if x.startswith("rate_ppm=")), None)
                if r is not None and r != last:
                    out.append((float(p[1]), r))
                    last = r
    return out


def guest_pieces(grid, events, h, rates=()):
    """The guest clock g(t) = guest REALTIME - epoch as linear pieces
    [(t0, g0, t1, g1)].  Between grid points g runs at the counter rate
    (constant within an interval: the simulator draws wander at whole
    seconds, which are grid points) times the NTP rate, which chronyd
    changes with adjtimex; each interval is split where the rate changes
    and where the guest clock steps (size from the step's event), and the
    counter rate is solved from the interval's two ends."""
    pts = [(t, err + h(t)) for t, err, _, _ in grid if not math.isnan(err)]
    jumps = guest_jumps(events)
    pieces, j, k, rate = [], 0, 0, 0.0
    for (t0, g0), (t1, g1) in zip(pts, pts[1:]):
        while k < len(rates) and rates[k][0] <= t0:
            rate = rates[k][1]
            k += 1
        cuts = []               # (t, new rate or None, jump size)
        while j < len(jumps) and jumps[j][0] <= t1:
            tj, x = jumps[j]
            # a jump at a grid point whose G line still shows the old time
            # belongs to the next interval
            if tj == t1 and abs(g1 - g0 - (t1 - t0)) < abs(x) / 2:
                break
            if tj >= t0:
                cuts.append((tj, None, x))
            j += 1
        kk = k
        while kk < len(rates) and rates[kk][0] < t1:
            cuts.append((rates[kk][0], rates[kk][1], 0.0))
            kk += 1
        if not cuts:
            pieces.append((t0, g0, t1, g1))
            continue
        cuts.sort(key=lambda c: c[0])
        segs, ta, r = [], t0, rate
        for tc, rc, x in cuts:
            segs.append((ta, tc, r, x))
            ta = tc
            if rc is not None:
                r = rc
        segs.append((ta, t1, r, 0.0))
        weight = sum((tb - ta) * (1.0 + r) for ta, tb, r, _ in segs)
        total = sum(x for _, _, _, x in segs)
        c = (g1 - g0 - total) / weight if weight > 0 else 0.0
        ga = g0
        for ta, tb, r, x in segs:
            gb = ga + c * (tb - ta) * (1.0 + r)
            if tb > ta:
                pieces.append((ta, ga, tb, gb))
            ga = gb + x
    return pieces


def true_errors(samples, pieces, h, epoch, target=0.0):
    """[(refid, t, true error of the raw offset, dispersion)] per sample;
    samples that fall on no piece (before the first grid point, or while
    the guest clock jumps) and samples whose printed raw offset does not
    resolve 1 ns (RAW_RESOLVED: right after a disruption, before the clock
    is corrected) are left out.  The sample's own time is its
    cooked time less chronyd's correction (correction = raw - cooked +
    the refclock's `offset` option, refclock.c RCL_AddSample); pieces are
    searched in true-time order from the previous sample's, so that a guest
    time that occurs twice (a backward step) maps to the right moment."""
    out, k = [], 0
    for refid, (sec, us), raw, cooked, disp in samples:
        if abs(raw) >= RAW_RESOLVED:
            continue
        s = (sec - epoch) + us * 1e-6 - (raw - cooked + target)
        i = k
        while i < len(pieces):
            t0, g0, t1, g1 = pieces[i]
            if g0 <= s < g1 and t1 > t0:
                break
            i += 1
        if i == len(pieces):
            continue
        k = i
        t0, g0, t1, g1 = pieces[i]
        t = t0 + (s - g0) / (g1 - g0) * (t1 - t0)
        err = s - h(t)              # guest REALTIME - H at that moment
        out.append((refid, t, raw + err, disp))
    return out


def summarise(errs):
    """n, covered (|error| <= bound), median |error| and bound, and a
    histogram of log10(bound/|error|) (for pooled medians)."""
    if not errs:
        return None
    absd = sorted(abs(e) for _, _, e, _ in errs)
    bounds = sorted(d for _, _, _, d in errs)
    hist = {}
    for _, _, e, d in errs:
        r = d / abs(e) if e else float("inf")
        key = "inf" if r == float("inf") else str(int(math.floor(math.log10(r) *
                                                                  BINS_PER_DECADE)))
        hist[key] = hist.get(key, 0) + 1
    return {"n": len(errs), "covered": sum(1 for _, _, e, d in errs if abs(e) <= d),
            "median_abs_error": absd[(len(absd) - 1) // 2],
            "max_abs_error": absd[-1],
            "median_bound": bounds[(len(bounds) - 1) // 2], "ratio_hist": hist}


def calibration(refclock_log, truth, header, grid, events, target=0.0):
    """The calibration of one run (None if chronyd wrote no samples or the
    host clock is not determined by the truth log)."""
    h = host_model(header, events)
    if h is None or not grid:
        return None
    samples = read_refclock_log(refclock_log)
    # the grid's errors are against host + target (simlib.read_truth)
    grid = [(t, e + target, hc, p) for t, e, hc, p in grid]
    pieces = guest_pieces(grid, events, h, read_rates(truth))
    errs = true_errors(samples, pieces, h, int(header["epoch"]), target)
    rep = summarise(errs)
    if rep is not None:
        rep["unresolved"] = sum(1 for x in samples if abs(x[2]) >= RAW_RESOLVED)
        rep["unmapped"] = len(samples) - len(errs) - rep["unresolved"]
    return rep


def pooled(cals):
    """Coverage and median bound/|error| over runs (None entries skipped):
    the median from the merged histograms (2 % resolution)."""
    cals = [c for c in cals if c]
    if not cals:
        return None
    n = sum(c["n"] for c in cals)
    hist = {}
    for c in cals:
        for k, v in c["ratio_hist"].items():
            hist[k] = hist.get(k, 0) + v
    keys = sorted(hist, key=lambda k: float("inf") if k == "inf" else int(k))
    acc, med = 0, None
    for k in keys:
        acc += hist[k]
        if acc >= (n + 1) // 2:
            med = float("inf") if k == "inf" else 10 ** ((int(k) + 0.5) / BINS_PER_DECADE)
            break
    meds = sorted(c["median_abs_error"] for c in cals)
    bnds = sorted(c["median_bound"] for c in cals)
    return {"n": n, "coverage": sum(c["covered"] for c in cals) / n, "median_ratio": med,
            "median_abs_error": meds[(len(meds) - 1) // 2],
            "median_bound": bnds[(len(bnds) - 1) // 2],
            "max_abs_error": max(c["max_abs_error"] for c in cals),
            "unmapped": sum(c.get("unmapped", 0) for c in cals),
            "unresolved": sum(c.get("unresolved", 0) for c in cals)}
