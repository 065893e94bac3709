#!/usr/bin/env python3
# chrony-ptpkvm guest simulator: instructions per driver poll (callgrind)
#
# Copyright (C) 2026 The chrony-ptpkvm authors
# SPDX-License-Identifier: GPL-2.0-only
# This program is free software; you can redistribute it and/or modify it
# under the terms of version 2 of the GNU General Public License.
#
# Measures the instructions chronyd executes per call of the refclock
# driver entry points (DESIGN.md section 6): ptpkvm_poll (full read) and
# sentinel_timeout (cheap sentinel read) of refclock PTPKVM, and phc_poll of
# the stock refclock PHC, in the same patched chronyd running a short steady
# scenario under the interposer with CAP_SYS_TIME dropped, once with PRECISE
# readings (kvm-clock) and once with basic readings (tsc).  valgrind
# --tool=callgrind runs chronyd with collection switched on only inside the
# entry point (--toggle-collect), so the total is the inclusive cost of
# every call; the cost of calls into the simulator (libsimguest.so: the
# emulated ioctl/clock_gettime, i.e. what would be the kernel) is taken out
# using the call graph, so the figures are chronyd's, phc_reader's and
# libc's user-space instructions.  Prints a Markdown table; no assertions.

import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simlib  # noqa: E402

# (config, entry point) pairs measured
ENTRIES = [("ptpkvm", "ptpkvm_poll"), ("ptpkvm", "sentinel_timeout"),
           ("stock-fast", "phc_poll")]
# (label, scenario) of the reading modes
MODES = [("PRECISE", "steady-precise"), ("basic (tsc)", "steady-basic")]
DURATION = 600.0
# the driver's exit line: "... N reads (M sentinel, F failed) ..."
READS_RE = re.compile(r"PTPKVM \S+: (\d+) reads \((\d+) sentinel")


def parse(path, fn_name, simobj):
    """(calls of fn_name, total Ir collected, Ir inside the simulator) of a
    callgrind output written with --compress-strings=no."""
    total = sim = calls = 0
    ob = cur_fn = cob = cfn = None
    pending = None          # (cfn, cob, count) of a calls= line
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                cost = int(line.split()[1]) if len(line.split()) > 1 else 0
                if pending is not None:
                    tfn, tob, n = pending
                    if tfn == fn_name:
                        calls += n
                    # a call from outside the simulator into it
                    if tob == simobj and ob != simobj:
                        sim += cost
                    pending = None
                else:
                    total += cost
                continue
            key, _, val = line.partition("=")
            if key == "ob":
                ob = val
            elif key == "fn":
                cur_fn = val
            elif key == "cob":
                cob = val
            elif key == "cfn":
                cfn = val
            elif key == "calls":
                pending = (cfn, cob if cob is not None else ob, int(val.split()[0]))
                cob = None
    return calls, total, sim


def run(lib, chronyd, config, scenario, fn_name, rundir):
    simlib.prepare_rundir(rundir)
    conf = os.path.join(rundir, "chronyd.conf")
    simlib.write_conf(conf, config, rundir)
    sc = simlib.load_scenarios([scenario])[0]
    env = simlib.sim_env(lib, sc.path, os.path.join(rundir, "truth.log"),
                         os.path.join(rundir, "sim"), duration=DURATION)
    out = os.path.join(rundir, "callgrind.out")
    cmd = simlib.chronyd_command(chronyd, conf, lib=lib)
    i = cmd.index(chronyd)
    cmd[i:i] = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                "--compress-strings=no", "--compress-pos=no", "--collect-atstart=no",
                "--toggle-collect=" + fn_name]
    logpath = os.path.join(rundir, "chronyd.log")
    with open(logpath, "w") as log:
        rc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            timeout=1800).returncode
    m = READS_RE.search(open(logpath, errors="replace").read())
    sentinel_reads = int(m.group(2)) if m else None
    rep = simlib.analyse(os.path.join(rundir, "truth.log"), sc)
    status = simlib.classify(rep, rc, [])
    calls, total, sim = parse(out, fn_name, os.path.abspath(lib)) if os.path.exists(out) \
        else (0, 0, 0)
    return {"config": config, "scenario": scenario, "fn": fn_name, "status": status,
            "calls": calls, "total": total, "sim": sim, "duration": rep["duration"],
            "sentinel_reads": sentinel_reads}


def measure(lib, chronyd, out):
    lib, chronyd = os.path.abspath(lib), os.path.abspath(chronyd)
    res = []
    for label, scenario in MODES:
        for config, fn_name in ENTRIES:
            r = run(lib, chronyd, config, scenario, fn_name,
                    os.path.join(out, scenario, config, fn_name))
            r["mode"] = label
            res.append(r)
    return res


def table(res):
    lines = [
        "| readings | configuration | entry point | calls in %.0f s | instructions per call "
        "(without the simulator) | simulator's share per call | instructions/s of the driver |"
        % DURATION,
        "|---|---|---|---|---|---|---|"]
    for r in res:
        if r["status"] != "ok" or not r["calls"]:
            lines.append("| %s | %s | `%s` | %s | - | - | - |" % (
                r["mode"], r["config"], r["fn"], r["status"]))
            continue
        own = r["total"] - r["sim"]
        per = "%.0f" % (own / r["calls"])
        if r["fn"] == "sentinel_timeout" and r["sentinel_reads"]:
            per += " (%.0f per sentinel read; %d reads)" % (own / r["sentinel_reads"],
                                                           r["sentinel_reads"])
        lines.append("| %s | %s | `%s` | %d | %s | %.0f | %.0f |" % (
            r["mode"], r["config"], r["fn"], r["calls"], per,
            r["sim"] / r["calls"], own / r["duration"]))
        both = [x for x in res if x["mode"] == r["mode"] and x["config"] == r["config"]]
        if r is both[-1] and len(both) > 1 and all(x["status"] == "ok" for x in both):
            lines.append("| %s | %s | all entry points | %d | | | %.0f |" % (
                r["mode"], r["config"], sum(x["calls"] for x in both),
                sum((x["total"] - x["sim"]) / x["duration"] for x in both)))
    return lines


DEFINITION = (
    "Instructions (callgrind Ir) executed inside each driver entry point per call, "
    "inclusive of everything it calls (phc_reader, chrony's refclock filter via "
    "RCL_AddSample, libc), averaged over all calls of a %.0f s run (seed 1, including the "
    "start-up step); the instructions of the simulator's emulated ioctl/clock_gettime "
    "(standing in for the kernel and the hypercall, which callgrind cannot see on a real "
    "guest) are left out and shown apart. `sentinel_timeout` runs every sentinel interval "
    "and returns early when no sentinel read is due (per sentinel read = all its "
    "instructions / the driver's count of sentinel reads, an upper bound). The figures "
    "are deterministic for a given run directory; other directories moved them by up to "
    "0.3 %% (path strings and alignment in libc). chronyd runs with -F 1 under valgrind "
    "(the simulator records the seccomp filter instead of loading it, so valgrind is not "
    "affected)." % DURATION)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--chronyd", required=True)
    ap.add_argument("--out", default="build/sim/callgrind")
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    chronyd = simlib.snapshot_chronyd(a.chronyd, out)
    res = measure(a.lib, chronyd, out)
    print("Instructions per driver call (valgrind --tool=callgrind)")
    print()
    print("\n".join(table(res)))
    print()
    print(DEFINITION)
    bad = [r for r in res if r["status"] != "ok" or not r["calls"]]
    print()
    print("%d runs, %d not ok" % (len(res), len(bad)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
