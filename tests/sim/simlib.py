# chrony-ptpkvm guest simulator: runner and report library
#
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of version 2 of the GNU General Public License as
# published by the Free Software Foundation.
#
# This program is distributed in the hope that it will be useful, but
# WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
# General Public License for more details.
#
# SPDX-License-Identifier: GPL-2.0-only
#
# Shared code of the simulator's tools: the chronyd configurations under
# test, reading scenario files (including the runner/report directives the
# interposer ignores: sweep, window, recovery, description), running one
# real chronyd under the interposer with CAP_SYS_TIME dropped from the
# bounding set, and computing every metric from the ground-truth log only
# (recovery after each disturbance, RMS/max error in windows, steps,
# hypercalls per second).  Python 3 standard library only.

import json
import math
import os
import shutil
import subprocess
import tempfile

import simcal

SIM_DIR = os.path.dirname(os.path.abspath(__file__))
SCENARIO_DIR = os.path.join(SIM_DIR, "scenarios")

# The refclock line (and other configuration lines) per configuration.
# {dev} is the device path.  A new configuration needs one entry here.
# {rundir} is the run directory ({rundir}/leap-seconds.list is written for
# every run, see write_leap_list).
CONFIGS = {
    "ptpkvm": ["refclock PTPKVM auto"],
    "stock-fast": ["refclock PHC {dev} poll 1", "makestep 0.1 -1"],
    "stock-default": ["refclock PHC {dev}", "makestep 1 3"],
    # control for the selection bounds of make check (never selected)
    "ptpkvm-noselect": ["refclock PTPKVM auto noselect"],
    # Debian's default makestep next to PTPKVM
    "ptpkvm-makestep": ["refclock PTPKVM auto", "makestep 1 3"],
    # a known offset: the clock should end at host + 0.002 (CONFIG_TARGET)
    "ptpkvm-offset": ["refclock PTPKVM auto offset 0.002"],
    "stock-offset": ["refclock PHC {dev} poll 1 offset 0.002", "makestep 0.1 -1"],
    # two PTPKVM lines on one device by two paths; PTPKVM next to stock PHC
    "ptpkvm-dup": ["refclock PTPKVM auto", "refclock PTPKVM {dev}"],
    "ptpkvm-and-phc": ["refclock PTPKVM auto", "refclock PHC {dev}"],
    # an NTP server on the host's network (tests/sim/sim_ntp.c), alone and
    # next to PTPKVM or stock PHC
    "ntp": ["server 127.0.0.123 iburst", "makestep 1 3"],
    "ptpkvm-and-ntp": ["refclock PTPKVM auto", "server 127.0.0.123 iburst"],
    "stock-and-ntp": ["refclock PHC {dev} poll 1", "makestep 0.1 -1",
                      "server 127.0.0.123 iburst"],
    # a PHC counting TAI (scenarios with `phc N kvm-tai 37 ...`); chrony
    # refuses `tai` without leapseclist or leapsectz
    "ptpkvm-tai": ["refclock PTPKVM auto tai", "leapseclist {rundir}/leap-seconds.list"],
    "stock-tai": ["refclock PHC {dev} poll 1 tai", "makestep 0.1 -1",
                  "leapseclist {rundir}/leap-seconds.list"],
    # leap information in the guest (host-leap scenarios)
    "ptpkvm-leaplist": ["refclock PTPKVM auto", "leapseclist {rundir}/leap-seconds.list"],
    "stock-leaplist": ["refclock PHC {dev} poll 1", "makestep 0.1 -1",
                       "leapseclist {rundir}/leap-seconds.list"],
    "ptpkvm-leaptz": ["refclock PTPKVM auto", "leapsectz right/UTC"],
}
CONFIG_ORDER = ["ptpkvm", "stock-fast", "stock-default"]

# Where a configuration puts the clock relative to the host (chrony's
# refclock `offset`: system time = reference time + offset, refclock.c);
# every error metric is measured against host + target.
CONFIG_TARGET = {"ptpkvm-offset": 0.002, "stock-offset": 0.002}

# The leap seconds of UTC (TAI - UTC from 10 s on 1972-01-01), as in IERS
# Bulletin C / leap-seconds.list: the first day on which each new offset holds
LEAP_DATES = [
    (1972, 1), (1972, 7), (1973, 1), (1974, 1), (1975, 1), (1976, 1), (1977, 1),
    (1978, 1), (1979, 1), (1980, 1), (1981, 7), (1982, 7), (1983, 7), (1985, 7),
    (1988, 1), (1990, 1), (1991, 1), (1992, 7), (1993, 7), (1994, 7), (1996, 1),
    (1997, 7), (1999, 1), (2006, 1), (2009, 1), (2012, 7), (2015, 7), (2017, 1),
]
NTP_UNIX_OFFSET = 2208988800


def write_leap_list(path, expires_unix=4102444800):
    """A leap-seconds.list (NTP seconds since 1900, TAI - UTC) that chrony's
    leapseclist reads (leapdb.c: `#$` update time, `#@` expiry, entries);
    the default expiry is 2100-01-01 so that no scenario date warns."""
    import calendar
    lines = ["# leap seconds for the chrony-ptpkvm simulator",
             "#$\t%d" % (calendar.timegm((2024, 1, 1, 0, 0, 0)) + NTP_UNIX_OFFSET),
             "#@\t%d" % (expires_unix + NTP_UNIX_OFFSET)]
    for i, (y, m) in enumerate(LEAP_DATES):
        lines.append("%d\t%d" % (calendar.timegm((y, m, 1, 0, 0, 0)) + NTP_UNIX_OFFSET, 10 + i))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")

def fmt_duration(v):
    """A recovery or selection time for the tables: "never" for None or
    infinity, "0", then us / ms / s with the unit chosen after rounding
    (0.9996 ms is "1 ms", not "1000 us")."""
    if v is None or v == float("inf"):
        return "never"
    if v == 0:
        return "0"
    if v < 0.9995e-3:
        return "%.0f us" % (v * 1e6)
    if v < 0.9995:
        return "%.0f ms" % (v * 1e3)
    return "%.1f s" % v


# Other programs run as anchors in the same scenarios ({phc} = /dev/ptpN of
# the scenario's KVM PHC: linuxptp cannot take the /dev/ptp_kvm symlink).
PROGRAMS = {
    "phc2sys": ["phc2sys", "-s", "{phc}", "-c", "CLOCK_REALTIME", "-O", "0", "-R", "1",
                "-m", "-q"],
}


def describe(config):
    if config in PROGRAMS:
        return " ".join(PROGRAMS[config]).format(phc="/dev/ptpN")
    return " + ".join(CONFIGS[config]).format(dev="/dev/ptp_kvm", rundir="RUNDIR")


def available_configs(scenario=None):
    """The bench's configurations, plus a scenario's own `configs` line."""
    extra = [c for c in (scenario.extra_configs if scenario else []) if c not in CONFIG_ORDER]
    return CONFIG_ORDER + extra + [p for p in PROGRAMS if shutil.which(PROGRAMS[p][0])]

# Low-discrepancy phase offsets: k * golden ratio (mod 1) of the span, so
# that the phases are spread over the poll cycle of every configuration
# (2 s with poll 1, 16 s with chrony's default poll 4).
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0

# Events after which the clock is disturbed and recovery is measured
DISTURB_START = ("pause", "host_step", "clocksource", "window_start", "external_step",
                 "host_leap")
# Events from which recovery is measured (besides `start`): disturbances,
# and two moments that are no disturbance themselves: chronyd noticing a
# step made by someone else (its jump detector) and the first reading the
# host answered after a hostfail/gone window
RECOVERY_FROM = ("resume", "host_step", "clocksource", "external_step", "host_leap",
                 "jump_detected", "good_read")


def phases(n, span):
    return [round(((k * GOLDEN) % 1.0) * span, 6) for k in range(n)]


class Scenario:
    """A scenario file: model lines for the interposer plus directives."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.description = ""
        self.sweep = (1, 0.0)
        self.windows = []           # (name, start, end)
        self.recovery = "resume"    # event kind whose recovery is tabulated
        self.duration = 600.0
        self.seed = 1
        self.kvm_index = 0
        self.queries = []           # names of `at T query NAME` checkpoints
        self.extra_configs = []     # `configs NAME...`: also run in the bench
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                tok = line.split()
                if tok[0] == "description":
                    self.description = line.split(None, 1)[1]
                elif tok[0] == "sweep":
                    self.sweep = (int(tok[1]), float(tok[2]))
                elif tok[0] == "window":
                    self.windows.append((tok[1], float(tok[2]), float(tok[3])))
                elif tok[0] == "recovery":
                    self.recovery = tok[1]
                elif tok[0] == "configs":
                    self.extra_configs += [c for c in tok[1:] if c not in self.extra_configs]
                elif tok[0] == "duration":
                    self.duration = float(tok[1])
                elif tok[0] == "seed":
                    self.seed = int(tok[1], 0)
                elif tok[0] == "at" and len(tok) == 4 and tok[2] == "query":
                    self.queries.append(tok[3])
                elif tok[0] == "phc" and len(tok) > 2 and tok[2].startswith("kvm"):
                    if not getattr(self, "_kvm_seen", False):
                        self.kvm_index, self._kvm_seen = int(tok[1]), True

    def phases(self):
        return phases(*self.sweep)


def load_scenarios(names=None):
    out = []
    for fn in sorted(os.listdir(SCENARIO_DIR)):
        if fn.endswith(".scn"):
            sc = Scenario(os.path.join(SCENARIO_DIR, fn))
            if names is None or sc.name in names:
                out.append(sc)
    if names is not None:
        missing = set(names) - set(s.name for s in out)
        if missing:
            raise SystemExit("unknown scenarios: %s" % " ".join(sorted(missing)))
    return out


def snapshot_chronyd(chronyd, out):
    """Run a private copy of chronyd, so that a rebuild of the tree during a
    long bench or check cannot make runs fail half-way."""
    os.makedirs(out, exist_ok=True)
    copy = os.path.join(out, "chronyd")
    shutil.copy2(chronyd, copy + ".tmp")
    os.replace(copy + ".tmp", copy)
    chronyc = os.path.join(os.path.dirname(os.path.abspath(chronyd)), "chronyc")
    if not os.path.exists(chronyc):
        # an installed chronyd (/usr/sbin) has its chronyc on PATH (/usr/bin)
        chronyc = shutil.which("chronyc") or chronyc
    if os.path.exists(chronyc):
        shutil.copy2(chronyc, os.path.join(out, "chronyc.tmp"))
        os.replace(os.path.join(out, "chronyc.tmp"), os.path.join(out, "chronyc"))
    return copy


def query_command(chronyd, rundir):
    """The command a scenario's `at T query NAME` runs (SIM_QUERY): the real
    chronyc next to chronyd, asking this run's chronyd for its sources.
    chronyc makes its own socket under the server socket's directory
    (chronyc.PID/RANDOM/sock, at most 108 bytes), so it is given a short
    symlink to the run's socket directory, in a directory of this run's own
    (/tmp/chrony-sim-q.XXXXXX, removed by remove_query_link): runs and
    simulators on one machine share nothing.
    `tracking` adds chronyd's leap status ("Leap status : Normal")."""
    chronyc = os.path.join(os.path.dirname(os.path.abspath(chronyd)), "chronyc")
    link = os.path.join(tempfile.mkdtemp(prefix="chrony-sim-q.", dir="/tmp"), "s")
    os.symlink(os.path.join(rundir, "sock"), link)
    with open(os.path.join(rundir, "query-link"), "w") as f:
        f.write(link)
    return "%s -h %s/chronyd.sock -n -m sources tracking" % (chronyc, link)


def remove_query_link(rundir):
    """Remove a run's chronyc symlink and its private directory."""
    try:
        with open(os.path.join(rundir, "query-link")) as f:
            link = f.read()
    except FileNotFoundError:
        return
    os.unlink(link)
    os.rmdir(os.path.dirname(link))
    os.unlink(os.path.join(rundir, "query-link"))


def write_conf(path, config, rundir, dev="/dev/ptp_kvm", extra=()):
    lines = [l.format(dev=dev, rundir=rundir)
             for l in (CONFIGS[config] if config in CONFIGS else config)]
    lines += list(extra)
    lines += [
        # chronyd's own record of each refclock sample (raw offset and the
        # dispersion it holds, for the calibration metric) and of each
        # reference update (its leap status), see calibration()/leap_timeline()
        "logdir %s" % rundir,
        "log refclocks tracking",
        "pidfile %s/chronyd.pid" % rundir,
        "bindcmdaddress %s/sock/chronyd.sock" % rundir,
        "cmdport 0",
        "port 0",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def chronyd_command(chronyd, conf, scfilter=1, lib=None):
    """chronyd under a bounding set without CAP_SYS_TIME: anything that
    escapes the interposer fails with EPERM instead of moving the clock.
    The interposer is preloaded into chronyd only (via env), not setpriv."""
    cmd = ["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--"]
    if lib:
        cmd += ["env", "LD_PRELOAD=" + lib]
    cmd += [chronyd, "-d", "-f", conf, "-u", "root"]
    if scfilter:
        cmd += ["-F", str(scfilter)]
    return cmd


def sim_env(lib, scenario, truth, simdir, seed=None, phase=0.0, pace=None, duration=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)     # given to chronyd only, see chronyd_command
    env.update({
        "SIM_SCENARIO": scenario,
        "SIM_TRUTH": truth,
        "SIM_DIR": simdir,
        "SIM_PHASE": "%.6f" % phase,
    })
    if seed is not None:
        env["SIM_SEED"] = str(seed)
    if pace is not None:
        env["SIM_PACE"] = str(pace)
    if duration is not None:
        env["SIM_DURATION"] = str(duration)
    return env


def prepare_rundir(rundir):
    if os.path.exists(rundir):
        shutil.rmtree(rundir)
    os.makedirs(os.path.join(rundir, "sim"))
    os.makedirs(os.path.join(rundir, "sock"), mode=0o700)
    os.chmod(os.path.join(rundir, "sock"), 0o700)


def run_one(lib, chronyd, scenario, config, rundir, seed=None, phase=0.0,
            timeout=900, keep_truth=True):
    """Run chronyd for one scenario/config/phase; return the report dict."""
    prepare_rundir(rundir)
    conf = os.path.join(rundir, "chronyd.conf")
    truth = os.path.join(rundir, "truth.log")
    log = os.path.join(rundir, "chronyd.log")
    env = sim_env(lib, scenario.path, truth, os.path.join(rundir, "sim"), seed, phase)
    if scenario.queries and config not in PROGRAMS:
        env["SIM_QUERY"] = query_command(chronyd, rundir)
        env["SIM_QUERY_OUT"] = rundir
    if config in PROGRAMS:
        cmd = ["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--",
               "env", "LD_PRELOAD=" + lib] + \
              [a.format(phc="/dev/ptp%d" % scenario.kvm_index) for a in PROGRAMS[config]]
    else:
        write_leap_list(os.path.join(rundir, "leap-seconds.list"))
        write_conf(conf, config, rundir)
        cmd = chronyd_command(chronyd, conf, lib=lib)
    with open(log, "w") as logf:
        try:
            p = subprocess.run(cmd, env=env, stdout=logf,
                               stderr=subprocess.STDOUT, timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        finally:
            if "SIM_QUERY" in env:
                remove_query_link(rundir)
    rep = analyse(truth, scenario, CONFIG_TARGET.get(config, 0.0))
    rep.update({"config": config, "phase": phase, "exit_code": rc,
                "seed": seed if seed is not None else scenario.seed})
    with open(log, errors="replace") as f:
        tail = f.read().splitlines()[-6:]
    rep["log_tail"] = tail
    rep["status"] = classify(rep, rc, tail)
    with open(os.path.join(rundir, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    if not keep_truth:
        remove_logs(rundir)
    return rep


def remove_logs(rundir):
    """Remove a run's large logs (truth log, chronyd's refclocks and tracking
    logs) once its report is written."""
    for name in ("truth.log", "refclocks.log", "tracking.log"):
        path = os.path.join(rundir, name)
        if os.path.exists(path):
            os.unlink(path)


def classify(rep, rc, tail):
    if rc == "timeout":
        return "timeout"
    if rc in (126, 127) and not rep.get("header"):
        return "exec-failed"
    if rep.get("seccomp_violation"):
        return "killed-by-seccomp"
    if rep.get("fatal"):
        return "simulator-fatal"
    if isinstance(rc, int) and rc < 0:
        return "killed-by-signal-%d" % -rc
    if not rep.get("ended"):
        if rep.get("last_t", 0.0) < 1.0:
            return "exited-at-start"
        return "exited-early"
    if rc != 0:
        return "exit-code-%s" % rc
    return "ok"


# ---------------------------------------------------------------------------
# Truth-log analysis


def parse_kv(tokens):
    d = {}
    for t in tokens:
        if "=" in t:
            k, v = t.split("=", 1)
            d[k] = v.strip('"')
    return d


def read_truth(path, target=0.0):
    """Return (header dict, grid samples [(t, err, hc, paused)], events);
    err is guest REALTIME - (host + target)."""
    header, grid, events = {}, [], []
    if not os.path.exists(path):
        return header, grid, events
    with open(path) as f:
        for line in f:
            c = line[0]
            if c == "G":
                p = line.split()
                grid.append((float(p[1]), float(p[2]) - target, int(p[3]), len(p) > 4))
            elif c == "E":
                p = line.split()
                ev = parse_kv(p[3:])
                if "kind" in ev:
                    ev["what"] = ev.pop("kind")
                ev["t"] = float(p[1])
                ev["kind"] = p[2]
                if p[2] != "adjtimex":
                    events.append(ev)
            elif c == "H":
                header = parse_kv(line.split()[1:])
    return header, grid, events


def recovery(grid, i0, t0, t_end, threshold):
    """Time from t0 until |err| < threshold for good (up to t_end), or None
    if the error is still above the threshold at t_end."""
    last_bad = None
    first_good_after = None
    i = i0
    n = len(grid)
    while i < n and grid[i][0] < t_end:
        t, e = grid[i][0], grid[i][1]
        if abs(e) >= threshold or grid[i][3]:
            last_bad = i
            first_good_after = None
        elif first_good_after is None:
            first_good_after = t
        i += 1
    if first_good_after is None:
        return None
    return max(0.0, first_good_after - t0)


def index_at(grid, t):
    lo, hi = 0, len(grid)
    while lo < hi:
        mid = (lo + hi) // 2
        if grid[mid][0] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def paused_intervals(events, grid, t_end):
    """[(t_pause, t_resume, hypercalls at pause, at resume)] of every pause,
    clipped to the end of the run.  The hypercall counts come from the
    pause/resume events (without them: from the nearest grid samples)."""
    out, cur = [], None
    for e in events:
        if e["kind"] == "pause":
            hc = e.get("hypercalls")
            cur = (e["t"], int(hc) if hc is not None else hc_at(grid, e["t"], before=True))
        elif e["kind"] == "resume" and cur is not None:
            hc = e.get("hypercalls")
            out.append((cur[0], e["t"], cur[1], int(hc) if hc is not None else hc_at(grid, e["t"])))
            cur = None
    if cur is not None and cur[0] < t_end:
        out.append((cur[0], t_end, cur[1], grid[-1][2] if grid else cur[1]))
    return out


def hc_at(grid, t, before=False):
    i = index_at(grid, t)
    if before and i > 0:
        i -= 1
    i = min(i, len(grid) - 1)
    return grid[i][2] if grid else 0


def running_rate(hc0, hc1, t0, t1, pauses):
    """Hypercalls per second of running VM time in [t0, t1): hypercalls made
    during pauses and the paused time are both left out, in kvm-clock and
    in tsc mode alike (a stopped VM runs no code, whatever its clocksource
    does meanwhile).  Returns (rate, hypercalls during pauses)."""
    paused_t, paused_hc = 0.0, 0
    for p0, p1, h0, h1 in pauses:
        a, b = max(p0, t0), min(p1, t1)
        if b > a:
            paused_t += b - a
            if p0 >= t0 and p1 <= t1:
                paused_hc += h1 - h0
    run = (t1 - t0) - paused_t
    if run <= 0:
        return None, paused_hc
    return (hc1 - hc0 - paused_hc) / run, paused_hc


def window_stats(grid, t0, t1, pauses=()):
    i, n = index_at(grid, t0), len(grid)
    s2, mx, cnt, hc0, hc1 = 0.0, 0.0, 0, None, None
    while i < n and grid[i][0] < t1:
        t, e, hc, paused = grid[i]
        if hc0 is None:
            hc0 = (t, hc)
        hc1 = (t, hc)
        if not paused:
            s2 += e * e
            mx = max(mx, abs(e))
            cnt += 1
        i += 1
    if not cnt:
        return None
    hcps = None
    if hc0 and hc1 and hc1[0] > hc0[0]:
        hcps = running_rate(hc0[1], hc1[1], hc0[0], hc1[0], pauses)[0]
    return {"rms": math.sqrt(s2 / cnt), "max": mx, "samples": cnt, "hypercalls_per_s": hcps}


# chronyd's own selection state, from the `selection` events the simulator
# copies from chronyd's log lines ("Selected source X" -> selected; "Can't
# synchronise: ..." and "Reset all sources" -> none).  chronyd logs a
# selection only when it changes, so every `selected` event ends a gap.
# This is what `chronyc sources` shows as `#*`; it is chronyd's view, not an
# error measurement (errors come from the grid only).

def selection_timeline(events):
    """[(t, the selected source's name, or False)]"""
    return [(e["t"], e.get("source", "?") if e.get("state") == "selected" else False)
            for e in events if e["kind"] == "selection"]


def selected_at(tl, t):
    st = False
    for t1, s in tl:
        if t1 > t:
            break
        st = s
    return st


def reselection(tl, t0, horizon):
    """Time from t0 until chronyd has a source selected and keeps it up to
    the horizon: 0 if it stayed selected throughout, None if it has none
    selected at the horizon.  A switch to another source is no gap; the
    same source selected again was a silent unselection."""
    cur = selected_at(tl, t0)
    since = t0 if cur else None
    for t, s in tl:
        if t0 < t < horizon:
            if not (s and cur and s != cur and since is not None):
                since = t if s else None
            cur = s
    return None if since is None else since - t0


def selection_stats(tl, t0, t1):
    """Fraction of [t0, t1) with a source selected, and the unselections."""
    if t1 <= t0:
        return None, 0
    state, last, sel_t, unsel = selected_at(tl, t0), t0, 0.0, 0
    for t, s in tl:
        if t0 < t < t1:
            if state:
                sel_t += t - last
            if state and not s:
                unsel += 1
            state, last = s, t
    if state:
        sel_t += t1 - last
    return sel_t / (t1 - t0), unsel


def running_time(pauses, t0, t1):
    """Seconds of [t0, t1) during which the VM ran (pauses left out)."""
    run = t1 - t0
    for p0, p1, _, _ in pauses:
        a, b = max(p0, t0), min(p1, t1)
        if b > a:
            run -= b - a
    return run


def counts_at(counts, t):
    """(failed ioctls, failed hypercalls, kernel log lines, basic reading
    ioctls) at time t from
    the `counts` events (each one is written at the grid point after a
    change, so the resolution is the grid)."""
    cur = (0, 0, 0, 0)
    for tc, c in counts:
        if tc > t:
            break
        cur = c
    return cur


def analyse(truth, scenario, target=0.0):
    header, grid, events = read_truth(truth, target)
    rep = {"scenario": scenario.name, "truth": truth, "header": header, "target": target}
    ended = [e for e in events if e["kind"] == "end"]
    rep["ended"] = bool(ended)
    rep["last_t"] = grid[-1][0] if grid else 0.0
    rep["fatal"] = next((e.get("msg") for e in events if e["kind"] == "fatal"), None)
    rep["seccomp_violation"] = next((e.get("ioctl") for e in events
                                     if e["kind"] == "seccomp_violation"), None)
    t_end = ended[0]["t"] if ended else rep["last_t"]
    rep["duration"] = t_end
    hc = grid[-1][2] if grid else 0
    rep["hypercalls"] = hc
    # per second of running VM time (see running_rate)
    pauses = paused_intervals(events, grid, t_end)
    rep["hypercalls_per_s"], rep["hypercalls_paused"] = running_rate(0, hc, 0.0, t_end, pauses)
    tl = selection_timeline(events)
    rep["selections"] = len([x for x in tl if x[1]])
    steps = [{"t": e["t"], "size": float(e["size"])} for e in events if e["kind"] == "step"
             and abs(float(e["size"])) > 0.0]
    rep["steps"] = steps
    # steps of the guest clock made by another program (not chronyd)
    rep["external_steps"] = [{"t": e["t"], "size": float(e["size"])} for e in events
                             if e["kind"] == "external_step"]
    # selection changes after chronyd first selected a source (flapping)
    first = next((i for i, x in enumerate(tl) if x[1]), None)
    rep["selection_changes"] = 0 if first is None else len(tl) - first - 1
    # failures the guest kernel sees (totals from the exit or end event)
    last = next((e for e in reversed(events) if e["kind"] in ("exit", "end")
                 and "failed_ioctls" in e), {})
    for k in ("failed_ioctls", "failed_hypercalls", "kernel_log_lines"):
        rep[k] = int(last.get(k, 0))
    counts = [(e["t"], (int(e["failed_ioctls"]), int(e["failed_hypercalls"]),
                        int(e["kernel_log_lines"]), int(e.get("basic_ioctls", 0))))
              for e in events if e["kind"] == "counts"]
    # time from the end of each hostfail/gone window to the first reading
    # the host answered (inf if none came before the end of the run)
    ends = [e["t"] for e in events if e["kind"] == "window_end"
            and e.get("what") in ("hostfail", "gone")]
    goods = [e["t"] for e in events if e["kind"] == "good_read"]
    rep["good_read_delay"] = [next((g - t for g in goods if g >= t), None) for t in ends]

    # Disturbances and their recoveries
    starts = sorted(e["t"] for e in events if e["kind"] in DISTURB_START)
    points = [{"kind": "start", "t": 0.0}]
    for e in events:
        if e["kind"] in RECOVERY_FROM:
            points.append({"kind": e["kind"], "t": e["t"]})
        elif e["kind"] == "window_end":
            points.append({"kind": "window_end:" + e.get("what", ""), "t": e["t"]})
    queries = read_queries(os.path.dirname(truth), events)
    recs = []
    for p in points:
        t0 = p["t"]
        horizon = min([s for s in starts if s > t0 + 1e-9] + [t_end])
        i0 = index_at(grid, t0)
        seg = [abs(g[1]) for g in grid[i0:index_at(grid, horizon)] if not g[3]]
        r1 = recovery(grid, i0, t0, horizon, 1e-3)
        recs.append({
            "kind": p["kind"], "t": t0, "horizon": horizon,
            "rec_1ms": r1,
            # the same in running (not paused) time of the VM
            "rec_1ms_run": None if r1 is None else running_time(pauses, t0, t0 + r1),
            "rec_10us": recovery(grid, i0, t0, horizon, 1e-5),
            "max_abs_err": max(seg) if seg else None,
            "steps": [s for s in steps if t0 <= s["t"] < horizon],
            "sel": reselection(tl, t0, horizon),
            # the same from the chronyc checkpoints, and chronyd's leap status
            "sel_chronyc": checkpoint_recovery(queries, t0, horizon, "selected"),
            "leap_normal": checkpoint_recovery(queries, t0, horizon, "normal"),
        })
    rep["recoveries"] = recs
    rep["queries"] = queries
    # the error bound chronyd holds per refclock sample vs the true error
    reflog = os.path.join(os.path.dirname(truth), "refclocks.log")
    rep["calibration"] = simcal.calibration(reflog, truth, header, grid, events, target) \
        if os.path.exists(reflog) else None
    rep["windows"] = {}
    for name, w0, w1 in scenario.windows:
        st = window_stats(grid, w0, min(w1, t_end), pauses)
        if st is not None:
            st["steps"] = len([s for s in steps if w0 <= s["t"] <= w1])
            st["external_steps"] = len([s for s in rep["external_steps"] if w0 <= s["t"] <= w1])
            c0, c1 = counts_at(counts, w0), counts_at(counts, min(w1, t_end))
            st["failed_ioctls"] = c1[0] - c0[0]
            st["failed_hypercalls"] = c1[1] - c0[1]
            st["kernel_log_lines"] = c1[2] - c0[2]
            st["basic_ioctls"] = c1[3] - c0[3]
            st["selected"], st["unselections"] = selection_stats(tl, w0, min(w1, t_end))
        rep["windows"][name] = st
    return rep


def read_queries(rundir, events):
    """The answers of the `at T query NAME` checkpoints: true time, exit
    status, the source lines of `chronyc sources`, whether one of them is
    the selected source (`#*`), and the leap status `chronyc tracking`
    reports (normal: "Normal")."""
    out = {}
    for e in events:
        if e["kind"] != "query":
            continue
        name = e.get("name", "")
        path = os.path.join(rundir, "query-%s.txt" % name)
        text = open(path, errors="replace").read() if os.path.exists(path) else ""
        lines = [l for l in text.splitlines() if l[:1] in "#^=" and not l.startswith("==")]
        leap = next((l.split(":", 1)[1].strip() for l in text.splitlines()
                     if l.startswith("Leap status")), None)
        ok = e.get("status") == "0"
        out[name] = {"t": e["t"], "status": e.get("status"), "sources": lines,
                     "selected": ok and any(l.startswith("#*") for l in lines),
                     "leap": leap, "normal": ok and leap == "Normal"}
    return out


def checkpoint_recovery(queries, t0, horizon, key):
    """From the chronyc checkpoints in [t0, horizon): time from t0 to the
    first checkpoint from which every later one shows `key` (selected or
    normal), an upper bound at the checkpoints' resolution; 0 if the last
    checkpoint before t0 showed it too (never lost at the checkpoints); None
    if the last one does not, "-" (no value) if there is no checkpoint."""
    qs = sorted((q["t"], q[key]) for q in queries.values() if t0 <= q["t"] < horizon)
    if not qs:
        return "-"
    before = [(t, q[key]) for t, q in ((q["t"], q) for q in queries.values()) if t < t0]
    since = t0 if before and max(before)[1] else None
    for t, ok in qs:
        since = (since if since is not None else t) if ok else None
    return None if since is None else since - t0


def tabulated_recoveries(rep, kind):
    """The recoveries of an event kind (the scenario's tabulated one, or the
    KIND of a metric `rec_1ms@KIND.max`)."""
    return [r for r in rep.get("recoveries", []) if r["kind"] == kind or
            r["kind"].startswith(kind + ":")]


# ---------------------------------------------------------------------------
# Metrics over a set of runs (for expectations and tables)

INF = float("inf")


def _agg(values, how):
    vals = [INF if v is None else v for v in values]
    if not vals:
        return None
    vals.sort()
    if how == "max":
        return vals[-1]
    if how == "min":
        return vals[0]
    if how == "median":
        return vals[(len(vals) - 1) // 2]
    if how == "mean":
        return sum(vals) / len(vals)
    raise KeyError(how)


def metric(scenario, reps, name):
    """Named metric over runs of one scenario/config:
    status (common status or 'mixed:...'), rec_1ms.{max,min,median},
    rec_10us.{...}, sel.{...} (time until chronyd has its source selected
    for good, chronyd's own state), frac_1s, frac_60s (fraction recovered
    below 1 ms within 1 s / 60 s), steps (steps after the tabulated events),
    window.NAME.{rms,max,steps,unselections} (worst over runs),
    window.NAME.selected (fraction of the window with a source selected,
    lowest over runs), hypercalls_per_s (mean over runs, per second of
    running VM time), hypercalls_paused (sum: hypercalls while paused).
    rec_1ms_run.{...}: the recovery in running (not paused) VM time.
    A recovery metric may name its event kind: rec_1ms@KIND.max (KIND =
    resume, external_step, jump_detected, good_read, host_leap, ...;
    default the scenario's `recovery`).  all_steps / external_steps: every
    step of the runs made by chronyd / by another program (sum);
    failed_ioctls, failed_hypercalls, kernel_log_lines, selection_changes:
    worst run; window.NAME.{failed_ioctls,failed_hypercalls,
    kernel_log_lines,basic_ioctls,external_steps} (worst run);
    good_read_delay: longest time from the end of a hostfail/gone window to
    the first reading the host answered (worst run).
    From the chronyc checkpoints: chronyc.NAME / chronyc_leap.NAME (fraction
    of runs whose answer shows `#*` / "Leap status : Normal"),
    sel_chronyc.{...} / leap_normal.{...} (time until the first checkpoint
    from which every later one shows it).  calibration.{coverage,
    median_ratio,n}: the per-sample error bounds pooled over runs (simcal)."""
    if name == "status":
        st = sorted(set(r["status"] for r in reps))
        return st[0] if len(st) == 1 else "mixed:" + ",".join(st)
    ok = [r for r in reps if r["status"] == "ok"]
    kind = scenario.recovery
    if "@" in name.split(".")[0]:
        head, _, rest = name.partition(".")
        head, _, kind = head.partition("@")
        name = head + "." + rest if rest else head
    recs = [x for r in ok for x in tabulated_recoveries(r, kind)]
    parts = name.split(".")
    if parts[0] in ("rec_1ms", "rec_10us", "sel", "rec_1ms_run", "sel_chronyc",
                    "leap_normal"):
        vals = [x.get(parts[0]) for x in recs]
        if not recs or len(ok) < len(reps) or "-" in vals:
            return INF
        return _agg(vals, parts[1])
    if parts[0] in ("frac_1s", "frac_60s"):
        lim = 1.0 if parts[0] == "frac_1s" else 60.0
        if not recs or len(ok) < len(reps):
            return 0.0
        return sum(1 for x in recs if x["rec_1ms"] is not None and x["rec_1ms"] <= lim) / len(recs)
    if parts[0] == "steps":
        return sum(len(x["steps"]) for x in recs)
    if parts[0] in ("all_steps", "external_steps"):
        # every step of the run (chronyd's / another program's), all runs
        key = "steps" if parts[0] == "all_steps" else "external_steps"
        return sum(len(r[key]) for r in ok) if len(ok) == len(reps) else INF
    if parts[0] == "good_read_delay":
        # worst delay from an outage's end to the first good reading
        if not ok or len(ok) < len(reps):
            return INF
        vals = [INF if v is None else v for r in ok for v in r["good_read_delay"]]
        return max(vals) if vals else INF
    if parts[0] in ("failed_ioctls", "failed_hypercalls", "kernel_log_lines",
                    "selection_changes"):
        # worst run
        return max(r[parts[0]] for r in ok) if ok and len(ok) == len(reps) else INF
    if parts[0] == "window":
        vals = [r["windows"].get(parts[1]) for r in ok]
        if not vals or None in vals or len(ok) < len(reps):
            return INF
        if parts[2] == "selected":
            return min(v[parts[2]] for v in vals)
        return max(v[parts[2]] for v in vals)
    if parts[0] in ("chronyc", "chronyc_leap"):
        # fraction of the runs whose chronyc answer at checkpoint NAME shows
        # a selected source (`#*`) / leap status Normal; a missing or failed
        # query counts as not
        if not reps or len(ok) < len(reps):
            return 0.0
        key = "selected" if parts[0] == "chronyc" else "normal"
        name = name.split(".", 1)[1]
        return sum(1 for r in ok if r.get("queries", {}).get(name, {}).get(key)) / len(ok)
    if parts[0] == "calibration":
        # the error bound chronyd holds per refclock sample (simcal.py),
        # pooled over runs: coverage (fraction with |true error| <= bound),
        # median_ratio (bound / |true error|), n (samples)
        if not ok or len(ok) < len(reps):
            return None
        cal = simcal.pooled([r.get("calibration") for r in ok])
        return None if cal is None else cal[parts[1]]
    if parts[0] == "hypercalls_paused":
        return sum(r["hypercalls_paused"] for r in ok) if len(ok) == len(reps) else INF
    if parts[0] == "hypercalls_per_s":
        vals = [r["hypercalls_per_s"] for r in ok if r["hypercalls_per_s"] is not None]
        return sum(vals) / len(vals) if vals else None
    raise KeyError(name)
