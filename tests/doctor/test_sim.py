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
# Runs the real ptpkvm-doctor binary (phc_reader's real syscalls: open,
# ioctl, sysfs) under the simulator's LD_PRELOAD library, which emulates
# ptp_kvm with its own clock model, one scenario per run
# (tests/doctor/sim/*.scn), and checks the PHC checks against what each
# scenario scripted: the offset the doctor measures must be the scenario's
# host - guest offset, the hypercall delay at least the model's minimum,
# and each failure must get its meaning (PRECISE ENODEV on tsc, EOPNOTSUPP
# when the host cannot answer, garbage, a NIC PHC at ptp0).  Then real
# chronyds under the simulator, asked by the doctor: not synchronised,
# synchronised through refclock PTPKVM, synchronised to a NIC's PHC, and
# running a binary replaced on disk.  Everything runs with CAP_SYS_TIME
# dropped from its bounding set.
# Prints "N passed, N failed" last.

import argparse
import json
import re
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from testlib import check as report, finish  # noqa: E402


def run(args, scenario, samples=20, extra=("--no-chronyc",)):
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
           args.doctor, "--json", "--samples", str(samples)] + list(extra)
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


def figure(checks, label):
    """A number of phc.read's message: 'median' (offset, s), 'delay' (min,
    median in us)"""
    m = msg(checks, "phc.read")
    if label == "median":
        m = re.search(r"min/median/max [-+.0-9]+/([-+.0-9]+)/", m)
        return float(m.group(1)) if m else float("nan")
    m = re.search(r"delay min/median ([.0-9]+)/([.0-9]+) us", m)
    return (float(m.group(1)) * 1e-6, float(m.group(2)) * 1e-6) if m else (float("nan"),) * 2


def start_chronyd(args, name, conf_lines, pace, scenario="chronyd-sync", binary=None):
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
        "SIM_SCENARIO": os.path.join(HERE, "sim", scenario + ".scn"),
        "SIM_TRUTH": os.path.join(rundir, "truth.log"),
        "SIM_DIR": os.path.join(rundir, "sim"),
        "SIM_PHASE": "0",
        "SIM_PACE": str(pace),
    })
    log = open(os.path.join(rundir, "chronyd.log"), "w")
    proc = subprocess.Popen(["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--",
                             binary or args.chronyd, "-d", "-f", conf, "-u", "root", "-F", "1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    # chronyc wrapper: the doctor runs "<chronyc> -n -c tracking"; outside
    # the simulator of a doctor that runs under it
    wrapper = os.path.join(rundir, "chronyc")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec env -u LD_PRELOAD %s -h %s \"$@\"\n" % (args.chronyc, sock))
    os.chmod(wrapper, 0o755)
    deadline = time.time() + 20
    while not os.path.exists(sock) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    return proc, log, wrapper, sock, conf


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
    proc, log, wrapper, _, _ = start_chronyd(args, "chronyd-nosource", ["makestep 1 3"], 20)
    try:
        c = doctor_sync(args, wrapper)
        report(c.get("status") == "FAIL" and "not synchronised" in c.get("message", ""),
               "real chronyd without sources: chrony.sync FAIL", str(c))
    finally:
        stop_chronyd(proc, log)

    # refclock PTPKVM: wait (with chronyc itself, not the doctor) until synchronised
    proc, log, wrapper, sock, _ = start_chronyd(args, "chronyd-ptpkvm",
                                             ["refclock PTPKVM auto", "makestep 1 3"], 20)
    try:
        w = subprocess.run([args.chronyc, "-h", sock, "waitsync", "120", "0.001", "0", "0.5"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=120)
        report(w.returncode == 0, "real chronyd with refclock PTPKVM synchronises (chronyc waitsync)",
               w.stdout[-300:])
        c = doctor_sync(args, wrapper)
        m = re.search(r"synchronised to KVM0 \(stratum 1\), offset ([-+.0-9]+) s",
                      c.get("message", ""))
        report(c.get("status") == "OK" and m and abs(float(m.group(1))) < 1e-3,
               "real chronyc CSV parsed: synchronised to KVM0 (the PTPKVM refid), stratum 1, "
               "offset < 1 ms", str(c))
    finally:
        stop_chronyd(proc, log)

    # the stock PHC driver on a NIC's PHC, run from a binary since removed
    # (an upgrade without a restart); the doctor under the same scenario
    copy = os.path.join(args.out, "chronyd-removed")
    shutil.copy(args.chronyd, copy)
    proc, log, wrapper, sock, conf = start_chronyd(args, "chronyd-nic", [
        "refclock PHC /dev/ptp0 poll 0", "makestep 1 -1"], 20, "nic-and-kvm", copy)
    os.unlink(copy)
    try:
        w = subprocess.run([args.chronyc, "-h", sock, "waitsync", "120", "0.001", "0", "0.5"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=120)
        report(w.returncode == 0, "real chronyd synchronises to the NIC's PHC", w.stdout[-300:])
        c = run(args, "nic-and-kvm", 0, ["--config", conf, "--chronyd", args.chronyd,
                                         "--chronyc", wrapper])
        report(st(c, "chrony.refclock") == "FAIL" and "is /dev/ptp0 with clock_name "
               "'ice-0000:3b:00.0', not 'KVM virtual PTP'" in msg(c, "chrony.refclock"),
               "NIC PHC: the refclock line is not the host's clock", msg(c, "chrony.refclock"))
        report(st(c, "chrony.sync") == "WARN" and "synchronised to refclock PHC0, a PHC with "
               "clock_name 'ice-0000:3b:00.0'" in msg(c, "chrony.sync"),
               "NIC PHC: chronyd synchronised to it is flagged", msg(c, "chrony.sync"))
        report(st(c, "chrony.driver") == "WARN" and "the running chronyd (pid %d) is a binary "
               "since replaced on disk" % proc.pid in msg(c, "chrony.driver"),
               "a running chronyd whose binary was replaced: restart", msg(c, "chrony.driver"))
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
    report(st(c, "phc.devices") == "OK" and st(c, "phc.read") == "OK" and
           "reading mode precise; 20/20 reads" in msg(c, "phc.read") and
           abs(figure(c, "median")) < 1e-6,
           "kvm-clock, guest on host time: device found, PRECISE works, |median offset| < 1 us",
           msg(c, "phc.read"))

    c = run(args, "precise-10ms")
    report(st(c, "phc.read") == "WARN" and abs(figure(c, "median") + 0.010) < 1e-6,
           "guest 10 ms ahead: WARN, measured PHC - REALTIME = -10 ms within 1 us",
           msg(c, "phc.read"))

    c = run(args, "behind-5s")
    report(st(c, "phc.read") == "FAIL" and abs(figure(c, "median") - 5.0) < 1e-6,
           "guest 5 s behind: FAIL, measured +5 s within 1 us", msg(c, "phc.read"))

    c = run(args, "tsc")
    dmin, dmed = figure(c, "delay")
    report(st(c, "phc.read") == "OK" and "reading mode basic; precise: cross-timestamp "
           "unavailable (ENODEV on PRECISE: guest clocksource is not kvm-clock" in msg(c, "phc.read")
           and "extended: EOPNOTSUPP, not implemented by ptp_kvm (normal)" in msg(c, "phc.read"),
           "tsc: basic reads, PRECISE ENODEV and EXTENDED EOPNOTSUPP explained", msg(c, "phc.read"))
    report(1.3e-6 <= dmin <= dmed < 20e-6 and abs(figure(c, "median")) < 5e-6,
           "tsc: delay >= the model's 1.3 us hypercall, offset ~0", "min %g median %g" % (dmin, dmed))

    c = run(args, "hostfail")
    report(st(c, "phc.read") == "FAIL" and
           "all 20 readings failed (last: host cannot answer (EOPNOTSUPP" in msg(c, "phc.read")
           and "host side: use a TSC clocksource" in msg(c, "phc.read"),
           "host cannot answer: FAIL with the host-side fix", msg(c, "phc.read"))

    c = run(args, "gone")
    report(st(c, "phc.devices") == "FAIL" and st(c, "phc.read") == "SKIP" and
           "no PHC with clock_name 'KVM virtual PTP'" in msg(c, "phc.devices"),
           "device absent: phc.devices FAIL", msg(c, "phc.devices"))

    c = run(args, "nic-and-kvm")
    report(st(c, "phc.devices") == "OK" and "/dev/ptp0 'ice-0000:3b:00.0'" in
           msg(c, "phc.devices") and "KVM PHC /dev/ptp1" in msg(c, "phc.devices"),
           "NIC at ptp0: KVM PHC ptp1 chosen, ptp0 named", msg(c, "phc.devices"))
    report(abs(figure(c, "median")) < 1e-6 and "/dev/ptp1:" in msg(c, "phc.read"),
           "NIC at ptp0: statistics from the KVM PHC, not the NIC 37 s ahead", msg(c, "phc.read"))

    c = run(args, "garbage")
    report(st(c, "phc.read") == "FAIL" and
           "readings failed (last: device returned invalid readings)" in msg(c, "phc.read"),
           "garbage readings: FAIL on the failures, no offset judged from the few survivors",
           msg(c, "phc.read"))

    if args.chronyd:
        if not args.chronyc:
            ap.error("--chronyd needs --chronyc")
        test_real_chronyd(args)

    return finish()


if __name__ == "__main__":
    sys.exit(main())
