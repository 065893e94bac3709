#!/usr/bin/env python3
# chrony-ptpkvm - end-to-end test of the PTPKVM status file
#
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of version 2 of the GNU General Public License as
# published by the Free Software Foundation.
#
# Runs the real patched chronyd ("refclock PTPKVM auto") in the guest
# simulator on scenario pause-360x3, phase 0 (tests/sim/simrun.py), takes
# the status file the driver wrote next to chronyd's command socket (the
# simulator puts the socket in <run>/sock/, so the file is
# <run>/sock/ptpkvm-0.status), puts it where the doctor looks
# (<root>/run/chrony/) and runs ptpkvm-doctor --root --json --prometheus.
# Asserts the doctor's JSON details against the simulator's truth log: the
# three pauses listed with sizes within 1 ms of the true error at each
# resume, acted upon within 1 s of it, the cold-start offset, the steps
# counted as the simulator saw them, no failed reads, the final "stopped"
# state written at exit, and the Prometheus file carrying the same values.
# Prints "N passed, N failed" last; exit status 1 if anything failed.

import argparse
import json
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests"))
from testlib import check as report, finish, prom_samples  # noqa: E402

TOLERANCE = 1e-3        # size of a disruption vs the truth (s)
ACT_WITHIN = 1.0        # disruption acted upon after the resume (s of true time)


def read_truth(path):
    """epoch, initial guest offset, [(t, err)] of the resumes, [(t, size)] of
    the non-zero steps, number of PHC ioctl errors, hypercalls at exit"""
    head, resumes, steps, ioctl_errors, hypercalls = {}, [], [], 0, None
    with open(path) as f:
        for line in f:
            if line.startswith("H "):
                head = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            if not line.startswith("E "):
                continue
            parts = line.split()
            t, kind = float(parts[1]), parts[2]
            kv = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
            if kind == "resume":
                resumes.append((t, float(kv["err"])))
            elif kind == "step" and float(kv["size"]) != 0.0:
                steps.append((t, float(kv["size"])))
            elif kind == "phc_ioctl_error":
                ioctl_errors += 1
            elif kind == "exit":
                hypercalls = int(kv["hypercalls"])
    return (float(head["epoch"]), float(head["guest_offset"]), resumes, steps, ioctl_errors,
            hypercalls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doctor", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--chronyd", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    proc = subprocess.run([sys.executable, os.path.join(TOP, "tests", "sim", "simrun.py"),
                           "--lib", a.lib, "--chronyd", a.chronyd, "--out", a.out,
                           "--config", "ptpkvm", "--phase", "0", "--json", "pause-360x3"],
                          stdout=subprocess.PIPE, universal_newlines=True, timeout=600)
    rep = json.loads(proc.stdout)[0] if proc.returncode == 0 else {}
    report(rep.get("status") == "ok", "simulator run of pause-360x3 phase 0", proc.stdout[-300:])
    rundir = os.path.join(a.out, "pause-360x3", "ptpkvm", "p00")
    status = os.path.join(rundir, "sock", "ptpkvm-0.status")
    if not os.path.exists(status):
        report(False, "status file next to the command socket", status)
        return finish()
    report(oct(os.stat(status).st_mode & 0o7777) == "0o644" and
           not [n for n in os.listdir(os.path.dirname(status)) if n.endswith(".tmp")],
           "status file mode 0644, no temporary file left")

    root = os.path.join(a.out, "root")
    os.makedirs(os.path.join(root, "run", "chrony"))
    shutil.copy(status, os.path.join(root, "run", "chrony"))
    prom = os.path.join(a.out, "ptpkvm.prom")
    proc = subprocess.run([a.doctor, "--root", root, "--no-chronyc", "--samples", "0", "--json",
                           "--prometheus", prom], stdout=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
    doc = json.loads(proc.stdout)
    check = [c for c in doc["checks"] if c["id"] == "ptpkvm.status"][0]
    files = check.get("details", {}).get("files", [])
    report(check["status"] == "OK" and len(files) == 1 and "error" not in files[0],
           "doctor reads the status file", json.dumps(check)[:400])
    if not files or "error" in files[0]:
        return finish()
    f = files[0]
    m = prom_samples(prom)

    epoch, guest_offset, resumes, steps, ioctl_errors, hypercalls = \
        read_truth(os.path.join(rundir, "truth.log"))
    pauses = [d for d in f["disruptions"] if d["cause"] == "pause"]
    report(len(resumes) == 3 and len(pauses) == 3 and f["disruptions_total"]["pause"] == 3,
           "three pauses listed (truth: %d resumes)" % len(resumes), str(pauses)[:300])
    for i, ((t, err), d) in enumerate(zip(resumes, pauses)):
        act = [s for s in steps if t <= s[0] <= t + ACT_WITHIN]
        report(abs(d["size"] - (-err)) <= TOLERANCE,
               "pause %d: size %+.9f s, truth %+.9f s" % (i + 1, d["size"], -err))
        report(d["action"] == "step" and len(act) == 1 and
               epoch + t <= d["when"] <= epoch + t + ACT_WITHIN,
               "pause %d: stepped within %g s of the resume" % (i + 1, ACT_WITHIN),
               "when %.3f resume %.3f steps %s" % (d["when"], epoch + t, act))
        report(act and act[0][0] - t <= d["delay"] <= ACT_WITHIN,
               "pause %d: detection delay %.3f s bounds the true %.3f s" %
               (i + 1, d["delay"], act[0][0] - t if act else -1))
    cold = [d for d in f["disruptions"] if d["cause"] == "cold_start"]
    report(len(cold) == 1 and abs(cold[0]["size"] - (-guest_offset)) <= TOLERANCE,
           "cold start: size within 1 ms of the initial offset %+.6f s" % -guest_offset,
           str(cold))
    report(len(f["disruptions"]) == len(pauses) + len(cold),
           "no other disruption", str(f["disruptions"])[:300])

    c = f["counters"]
    report(c["steps"] == len(steps) and c["flushes"] >= c["steps"],
           "steps counted as the simulator saw them (%d)" % len(steps), str(c))
    report(c["read_failures"] == ioctl_errors == 0 and 0 < c["reads"] <= hypercalls and
           c["samples"] > 0, "reads: none failed, each at least one hypercall", str(c))
    report(f["state"] == "stopped" and f["device"].startswith("/dev/ptp") and
           f["mode"] == "precise", "final state written at exit (stopped, device, mode)", str(f)[:200])

    want = {"ptpkvm_reads_total": c["reads"], "ptpkvm_read_failures_total": c["read_failures"],
            "ptpkvm_steps_total": c["steps"], "ptpkvm_flushes_total": c["flushes"],
            "ptpkvm_samples_total": c["samples"],
            "ptpkvm_last_disruption_size_seconds": pauses[-1]["size"] if pauses else None,
            "ptpkvm_last_disruption_timestamp_seconds": pauses[-1]["when"] if pauses else None}
    bad = ["%s %s != %s" % (k, m.get('%s{refclock="0"}' % k), v) for k, v in want.items()
           if v is None or abs(m.get('%s{refclock="0"}' % k, float("nan")) - v) > 1e-6]
    if resumes:
        last = m.get('ptpkvm_last_disruption_size_seconds{refclock="0"}', float("nan"))
        if not abs(last - (-resumes[-1][1])) <= TOLERANCE:
            bad.append("last size %s vs truth %s" % (last, -resumes[-1][1]))
    for cause, n in (("pause", 3), ("cold_start", 1), ("host_step", 0)):
        if m.get('ptpkvm_disruptions_total{refclock="0",cause="%s"}' % cause) != n:
            bad.append("disruptions_total{cause=%s} != %d" % (cause, n))
    if m.get('ptpkvm_reading_mode{refclock="0",mode="precise"}') != 1:
        bad.append("reading_mode precise")
    report(not bad, "Prometheus file carries the matching counters", "; ".join(bad))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
