#!/usr/bin/env python3
# chrony-ptpkvm - ptpkvm-doctor against the guest simulator's emulated ptp_kvm
#
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of version 2 of the GNU General Public License as
# published by the Free Software Foundation.
#
# Runs the real ptpkvm-doctor binary (real device backend: open, ioctl,
# sysfs) under the simulator's LD_PRELOAD library, which emulates ptp_kvm
# with its own clock model, one scenario per run (tests/doctor/sim/*.scn),
# and checks the PHC checks against what each scenario scripted: the offset
# the doctor measures must be the scenario's host - guest offset, the
# hypercall delay at least the model's minimum, and each failure must get
# its meaning (PRECISE ENODEV on tsc, EOPNOTSUPP when the host cannot
# answer, garbage, a NIC PHC at ptp0).  The doctor runs with CAP_SYS_TIME
# dropped from its bounding set, like everything under the simulator.
# Prints "N passed, N failed" last.

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from testlib import check as report, finish  # noqa: E402


def run(args, scenario, samples=20):
    rundir = os.path.join(args.out, scenario)
    if os.path.exists(rundir):
        shutil.rmtree(rundir)
    os.makedirs(os.path.join(rundir, "sim"))
    env = dict(os.environ)
    env.update({
        "LD_PRELOAD": args.lib,
        "SIM_SCENARIO": os.path.join(HERE, "sim", scenario + ".scn"),
        "SIM_TRUTH": os.path.join(rundir, "truth.log"),
        "SIM_DIR": os.path.join(rundir, "sim"),
        "SIM_PHASE": "0",
    })
    cmd = ["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--",
           args.doctor, "--json", "--no-chronyc", "--samples", str(samples)]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        report(False, "%s: JSON report" % scenario, (p.stdout + p.stderr)[-500:])
        return {}
    checks = {c["id"]: c for c in doc["checks"]}
    for c in checks.values():
        print("  %-12s %-4s %s" % (c["id"], c["status"], c["message"][:150]))
    return checks


def st(checks, cid):
    return checks.get(cid, {}).get("status")


def msg(checks, cid):
    c = checks.get(cid, {})
    return c.get("message", "") + " " + c.get("fix", "")


def metric(checks, cid, name):
    v = checks.get(cid, {}).get("metrics", {}).get(name)
    return float("nan") if v is None else v


def start_chronyd(args, name, conf_lines, pace):
    """A real chronyd under the simulator, command socket in its run directory."""
    rundir = os.path.join(args.out, name)
    if os.path.exists(rundir):
        shutil.rmtree(rundir)
    os.makedirs(os.path.join(rundir, "sim"))
    os.makedirs(os.path.join(rundir, "sock"), mode=0o700)
    sock = os.path.join(rundir, "sock", "chronyd.sock")
    conf = os.path.join(rundir, "chronyd.conf")
    with open(conf, "w") as f:
        f.write("\n".join(conf_lines + ["pidfile %s/chronyd.pid" % rundir,
                                        "bindcmdaddress %s" % sock, "cmdport 0", "port 0"]) + "\n")
    env = dict(os.environ)
    env.update({
        "LD_PRELOAD": args.lib,
        "SIM_SCENARIO": os.path.join(HERE, "sim", "chronyd-sync.scn"),
        "SIM_TRUTH": os.path.join(rundir, "truth.log"),
        "SIM_DIR": os.path.join(rundir, "sim"),
        "SIM_PHASE": "0",
        "SIM_PACE": str(pace),
    })
    log = open(os.path.join(rundir, "chronyd.log"), "w")
    proc = subprocess.Popen(["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--",
                             args.chronyd, "-d", "-f", conf, "-u", "root", "-F", "1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    # chronyc wrapper: the doctor runs "<chronyc> -n -c tracking"
    wrapper = os.path.join(rundir, "chronyc")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s -h %s \"$@\"\n" % (args.chronyc, sock))
    os.chmod(wrapper, 0o755)
    deadline = time.time() + 20
    while not os.path.exists(sock) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    return proc, log, wrapper, sock


def stop_chronyd(proc, log):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def doctor_sync(args, wrapper):
    p = subprocess.run([args.doctor, "--json", "--samples", "0", "--chronyc", wrapper],
                       stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
    try:
        return {c["id"]: c for c in json.loads(p.stdout)["checks"]}.get("chrony.sync", {})
    except ValueError:
        return {}


def test_real_chronyd(args):
    # no sources at all: a real chronyd that can never be synchronised
    proc, log, wrapper, _ = start_chronyd(args, "chronyd-nosource", ["makestep 1 3"], 20)
    try:
        c = doctor_sync(args, wrapper)
        report(c.get("status") == "FAIL" and "not synchronised" in c.get("message", ""),
               "real chronyd without sources: chrony.sync FAIL", str(c))
    finally:
        stop_chronyd(proc, log)

    # refclock PTPKVM: wait (with chronyc itself, not the doctor) until synchronised
    proc, log, wrapper, sock = start_chronyd(args, "chronyd-ptpkvm",
                                             ["refclock PTPKVM auto", "makestep 1 3"], 20)
    try:
        w = subprocess.run([args.chronyc, "-h", sock, "waitsync", "120", "0.001", "0", "0.5"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=120)
        report(w.returncode == 0, "real chronyd with refclock PTPKVM synchronises (chronyc waitsync)",
               w.stdout[-300:])
        c = doctor_sync(args, wrapper)
        m = c.get("metrics", {})
        report(c.get("status") == "OK" and "synchronised to KVM0 " in c.get("message", "") and
               m.get("chrony_synchronised") == 1 and m.get("chrony_stratum") == 1 and
               abs(m.get("chrony_system_offset_seconds", 1.0)) < 1e-3,
               "real chronyc CSV parsed: synchronised to KVM0 (the PTPKVM refid), stratum 1, "
               "offset < 1 ms", str(c))
    finally:
        stop_chronyd(proc, log)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doctor", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--chronyd", help="patched chronyd: also test chrony.sync against it")
    ap.add_argument("--chronyc")
    args = ap.parse_args()
    args.doctor = os.path.abspath(args.doctor)
    args.lib = os.path.abspath(args.lib)
    args.out = os.path.abspath(args.out)

    c = run(args, "precise-synced")
    report(st(c, "phc.devices") == "OK" and st(c, "phc.ioctls") == "OK" and
           "PRECISE works" in msg(c, "phc.ioctls"), "kvm-clock: device found, PRECISE works")
    report(st(c, "phc.stats") == "OK" and "PRECISE 20" in msg(c, "phc.stats") and
           abs(metric(c, "phc.stats", "phc_offset_median_seconds")) < 1e-6,
           "kvm-clock, guest on host time: OK, |median offset| < 1 us",
           str(metric(c, "phc.stats", "phc_offset_median_seconds")))

    c = run(args, "precise-10ms")
    report(st(c, "phc.stats") == "WARN" and
           abs(metric(c, "phc.stats", "phc_offset_median_seconds") + 0.010) < 1e-6,
           "guest 10 ms ahead: WARN, measured PHC - REALTIME = -10 ms within 1 us",
           str(metric(c, "phc.stats", "phc_offset_median_seconds")))

    c = run(args, "behind-5s")
    report(st(c, "phc.stats") == "FAIL" and
           abs(metric(c, "phc.stats", "phc_offset_median_seconds") - 5.0) < 1e-6,
           "guest 5 s behind: FAIL, measured +5 s within 1 us",
           str(metric(c, "phc.stats", "phc_offset_median_seconds")))

    c = run(args, "tsc")
    report(st(c, "phc.ioctls") == "OK" and
           "PRECISE: cross-timestamp unavailable (ENODEV on PRECISE: guest clocksource is "
           "not kvm-clock" in msg(c, "phc.ioctls"),
           "tsc: PRECISE ENODEV explained", msg(c, "phc.ioctls"))
    dmin = metric(c, "phc.stats", "phc_delay_min_seconds")
    dmed = metric(c, "phc.stats", "phc_delay_median_seconds")
    report(st(c, "phc.stats") == "OK" and "basic 20" in msg(c, "phc.stats") and
           1.3e-6 <= dmin <= dmed < 20e-6 and
           abs(metric(c, "phc.stats", "phc_offset_median_seconds")) < 5e-6,
           "tsc: basic reads, delay >= the model's 1.3 us hypercall, offset ~0",
           "min %g median %g" % (dmin, dmed))

    c = run(args, "hostfail")
    report(st(c, "phc.ioctls") == "FAIL" and "host cannot answer" in msg(c, "phc.ioctls") and
           st(c, "phc.stats") == "SKIP", "host cannot answer: FAIL with the host-side fix",
           msg(c, "phc.ioctls"))

    c = run(args, "gone")
    report(st(c, "phc.devices") == "FAIL" and st(c, "phc.ioctls") == "SKIP",
           "device absent: phc.devices FAIL", msg(c, "phc.devices"))

    c = run(args, "nic-and-kvm")
    report(st(c, "phc.devices") == "OK" and "/dev/ptp0 is 'ice-0000:3b:00.0'" in
           msg(c, "phc.devices") and "KVM PHC /dev/ptp1" in msg(c, "phc.devices"),
           "NIC at ptp0: KVM PHC ptp1 chosen, ptp0 flagged", msg(c, "phc.devices"))
    report(abs(metric(c, "phc.stats", "phc_offset_median_seconds")) < 1e-6,
           "NIC at ptp0: statistics from the KVM PHC, not the NIC 37 s ahead",
           str(metric(c, "phc.stats", "phc_offset_median_seconds")))

    c = run(args, "garbage")
    report(st(c, "phc.stats") == "FAIL" and "readings of /dev/ptp0 failed" in msg(c, "phc.stats")
           and "invalid" in msg(c, "phc.stats"),
           "garbage readings: FAIL on the failures, no offset judged from the few survivors",
           msg(c, "phc.stats"))

    if args.chronyd:
        if not args.chronyc:
            ap.error("--chronyd needs --chronyc")
        test_real_chronyd(args)

    return finish()


if __name__ == "__main__":
    sys.exit(main())
