#!/usr/bin/env python3
# chrony-ptpkvm guest simulator: the demo (make demo)
#
# Copyright (C) 2026 The chrony-ptpkvm authors
# SPDX-License-Identifier: GPL-2.0-only
# This program is free software; you can redistribute it and/or modify it
# under the terms of version 2 of the GNU General Public License.
#
# Without a KVM PHC: runs `refclock PTPKVM auto` and stock `refclock PHC
# /dev/ptp_kvm poll 1` + `makestep 0.1 -1` side by side, two real chronyd
# processes in a paced simulation (SIM_PACE=3, ~80 s wall time) of a 360 s
# VM pause, shows real `chronyc sources` / `chronyc tracking` (asked at held
# moments of virtual time, the same for both runs) before the
# pause, right after the resume and after recovery, then the recovery
# table from the truth logs and the plot's path.
# With a real KVM PHC (/dev/ptp_kvm or a "KVM virtual PTP" clock): runs the
# patched chronyd with -x (never controls the clock) against it and shows
# `chronyc sources` plus delay/offset statistics of the device.

import argparse
import fcntl
import itertools
import os
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simlib  # noqa: E402
import simbench  # noqa: E402

PACE = 3
DEMO_CONFIGS = ["ptpkvm", "stock-fast"]


def banner(text):
    print("\n" + "=" * 78 + "\n" + text + "\n" + "=" * 78, flush=True)


def chronyc(chronyc_bin, sock, *cmd):
    try:
        p = subprocess.run([chronyc_bin, "-h", sock, "-n", "-m"] + list(cmd),
                           capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).rstrip()
    except subprocess.TimeoutExpired:
        return "(chronyc timed out)"


def last_time(truth):
    """Latest true time in a (live) truth log and the resume time if any."""
    t, resume = None, None
    try:
        with open(truth, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().decode(errors="replace").splitlines()[1:]
        with open(truth) as f:
            for line in f:
                if line.startswith("E ") and " resume " in line:
                    resume = float(line.split()[1])
                    break
    except OSError:
        return None, None
    for line in reversed(lines):
        p = line.split()
        if len(p) >= 2 and p[0] in ("G", "E"):
            try:
                t = float(p[1])
                break
            except ValueError:
                continue
    return t, resume


def true_error(truth, t):
    """guest REALTIME - host at true time t (the last grid sample at or
    before t), from the truth log"""
    err = None
    with open(truth, errors="replace") as f:
        for line in f:
            if line.startswith("G "):
                p = line.split()
                if float(p[1]) > t:
                    break
                err = float(p[2])
    return err


def wait_until(runs, pred, timeout=300):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if all(r["proc"].poll() is not None or pred(*last_time(r["truth"])) for r in runs):
            return True
        time.sleep(0.1)
    return False


def show(runs, name, t_query, title):
    """The answers of checkpoint NAME (demo.scn `at T query NAME`: the real
    `chronyc sources` and `chronyc tracking`, asked while the simulator
    holds each run's virtual time at T, so both runs answer for the same
    simulated moment)."""
    wait_until(runs, lambda t, res: t is not None and t > t_query)
    banner(title)
    for r in runs:
        path = os.path.join(r["rundir"], "query-%s.txt" % name)
        if not os.path.exists(path):
            print("--- %s: no answer (chronyd %s)" % (r["config"], "exited with %s" %
                  r["proc"].returncode if r["proc"].poll() is not None else "running"))
            continue
        print("--- %s  [%s]  simulated time %g s" % (
            r["config"], " + ".join(simlib.CONFIGS[r["config"]]).format(dev="/dev/ptp_kvm"),
            t_query))
        with open(path, errors="replace") as f:
            print(f.read().rstrip())
        err = true_error(r["truth"], t_query)
        print(">>> the simulator's ground truth at this moment: the guest clock is %s the host "
              "clock" % ("-" if err is None else "%s %s" % (
                  simbench.fmt_err(abs(err)), "behind" if err < 0 else "ahead of")))
        print(flush=True)


def simulated(a):
    sc = simlib.Scenario(os.path.join(simlib.SIM_DIR, "demo.scn"))
    out = os.path.abspath(a.out)
    runs = []
    banner("Simulated KVM guest: a 360 s VM pause, paced at %dx real time "
           "(no KVM PHC on this machine)" % PACE)
    for c in DEMO_CONFIGS:
        rundir = os.path.join(out, c)
        simlib.prepare_rundir(rundir)
        conf = os.path.join(rundir, "chronyd.conf")
        simlib.write_conf(conf, c, rundir)
        truth = os.path.join(rundir, "truth.log")
        env = simlib.sim_env(os.path.abspath(a.lib), sc.path, truth,
                             os.path.join(rundir, "sim"), pace=PACE)
        env["SIM_QUERY"] = simlib.query_command(os.path.abspath(a.chronyd), rundir)
        env["SIM_QUERY_OUT"] = rundir
        log = open(os.path.join(rundir, "chronyd.log"), "w")
        proc = subprocess.Popen(simlib.chronyd_command(os.path.abspath(a.chronyd), conf,
                                                       lib=os.path.abspath(a.lib)),
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        runs.append({"config": c, "proc": proc, "truth": truth, "rundir": rundir,
                     "sock": os.path.join(rundir, "sock", "chronyd.sock"), "log": log})
    time.sleep(2)
    for r in runs:
        if r["proc"].poll() is not None:
            with open(os.path.join(r["rundir"], "chronyd.log")) as f:
                print("%s: chronyd exited at start (exit %s):\n  %s" % (
                    r["config"], r["proc"].returncode, "\n  ".join(f.read().splitlines()[-5:])))

    show(runs, "before", 140, "Before the pause (simulated t = 140 s; the pause starts at 150 s)")
    show(runs, "resume+1s", 511, "1 s after the resume (t = 511 s): the guest clock stood still "
         "for 360 s while the host clock ran on")
    show(runs, "resume+60s", 570, "60 s after the resume (t = 570 s)")

    for r in runs:
        try:
            r["proc"].wait(timeout=120)
        except subprocess.TimeoutExpired:
            r["proc"].terminate()
            r["proc"].wait()
        r["log"].close()
        simlib.remove_query_link(r["rundir"])

    banner("Recovery after the 360 s pause (from the simulator's truth log)")
    print("| config | status | clock within 1 ms of the host | within 10 us | steps | "
          "`#*` again (chronyd's log) | RMS error before the pause |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        rep = simlib.analyse(r["truth"], sc)
        rc = r["proc"].returncode
        status = simlib.classify(rep, rc, [])
        rec = simlib.tabulated_recoveries(rep, "resume")
        w = rep["windows"].get("steady-before")
        if rec:
            x = rec[0]
            print("| %s | %s | %s | %s | %d | %s | %s |" % (
                r["config"], status, simbench.fmt_s(x["rec_1ms"]),
                simbench.fmt_s(x["rec_10us"]), len(x["steps"]), simbench.fmt_s(x["sel"]),
                simbench.fmt_err(w["rms"]) if w else "-"))
        else:
            print("| %s | %s | - | - | - | - | - |" % (r["config"], status))
    print("(`#*` again: time after the resume until chronyd has its source selected for "
          "good; 0 = it never dropped it, even with a sample 360 s off)")
    doctor(a, runs[0])
    png = os.path.join(out, "demo.png")
    if simbench.plot([(r["config"], r["truth"]) for r in runs], png, os.path.join(out, "plot")):
        print("\nPlot of this run: %s" % png)
    bench_png = os.path.join(os.path.dirname(out), "pause360.png")
    print("Benchmark plot (make bench, all configurations): %s%s" % (
        bench_png, "" if os.path.exists(bench_png) else " (not generated yet)"))
    print("Truth logs: %s" % ", ".join(r["truth"] for r in runs))


def doctor(a, run):
    """The disruption record: ptpkvm-doctor reading the status file the
    PTPKVM driver wrote next to chronyd's command socket in this run
    (tests/doctor/test_status_sim.py does the same), put where the doctor
    looks for it (<root>/run/chrony/).  Only the doctor's ptpkvm.status
    check and its disruption metrics are shown: its other checks look at
    this machine, which has no ptp_kvm."""
    status = os.path.join(run["rundir"], "sock", "ptpkvm-0.status")
    banner("The disruption record monitoring reads: ptpkvm-doctor on this run's status file")
    if not a.doctor or not os.access(a.doctor, os.X_OK):
        print("ptpkvm-doctor not built (%s); `make doctor` builds it" % a.doctor)
        return
    if not os.path.exists(status):
        print("no status file: %s" % status)
        return
    root = os.path.join(os.path.dirname(run["rundir"]), "doctor-root")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "run", "chrony"))
    shutil.copy(status, os.path.join(root, "run", "chrony"))
    prom = os.path.join(os.path.dirname(run["rundir"]), "ptpkvm.prom")
    cmd = [a.doctor, "--root", root, "--no-chronyc", "--samples", "0", "--prometheus", prom]
    print("$ %s   (status file from %s)" % (" ".join(cmd), status))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.splitlines()
    start = next((i for i, l in enumerate(out) if "ptpkvm.status" in l), None)
    if start is None:
        print("(the doctor printed no ptpkvm.status check)")
        return
    block = [out[start]] + [l for l in itertools.takewhile(
        lambda l: l.startswith(" "), out[start + 1:])]
    print("\n".join(block))
    _, _, events = simlib.read_truth(run["truth"])
    resume = next((e["t"] for e in events if e["kind"] == "resume"), None)
    step = next((e for e in events if e["kind"] == "step" and resume is not None and
                 e["t"] >= resume and float(e["size"]) != 0.0), None)
    if step:
        print("(\"detected after\" is the driver's bound; the simulator saw the step of %+.6f s "
              "%s after the resume)" % (float(step["size"]), simbench.fmt_s(step["t"] - resume)))
    print("\nPrometheus textfile (%s), disruption metrics:" % prom)
    with open(prom) as f:
        for line in f:
            if line.startswith(("ptpkvm_disruptions_total", "ptpkvm_last_disruption",
                                "ptpkvm_steps_total")) and not line.rstrip().endswith(" 0"):
                print("  " + line.rstrip())


# ---------------------------------------------------------------------------
# Real KVM PHC


def find_kvm_phc():
    if os.path.exists("/dev/ptp_kvm"):
        return "/dev/ptp_kvm"
    try:
        for d in sorted(os.listdir("/sys/class/ptp")):
            with open("/sys/class/ptp/%s/clock_name" % d) as f:
                if f.read().strip() == "KVM virtual PTP":
                    return "/dev/" + d
    except OSError:
        pass
    return None


def phc_stats(dev, rounds=20):
    """Offset and delay of basic PTP_SYS_OFFSET readings (25 samples each)."""
    size = 16 + 51 * 16
    req = (1 << 30) | (size << 16) | (ord("=") << 8) | 5      # _IOW('=', 5, ...)
    delays, offsets = [], []
    fd = os.open(dev, os.O_RDONLY)
    try:
        for _ in range(rounds):
            buf = bytearray(struct.pack("I3I", 25, 0, 0, 0) + bytes(51 * 16))
            fcntl.ioctl(fd, req, buf)
            ts = [struct.unpack_from("qI", buf, 16 + 16 * i) for i in range(51)]
            ts = [s * 1000000000 + n for s, n in ts]      # integer ns: exact
            for i in range(25):
                pre, phc, post = ts[2 * i], ts[2 * i + 1], ts[2 * i + 2]
                delays.append((post - pre) * 1e-9)
                offsets.append((pre + post - 2 * phc) * 0.5e-9)
            time.sleep(0.05)
    finally:
        os.close(fd)
    return delays, offsets


def real(a, dev):
    banner("Real KVM PHC found: %s -- running the patched chronyd with -x "
           "(no clock control)" % dev)
    rundir = os.path.abspath(os.path.join(a.out, "real"))
    simlib.prepare_rundir(rundir)
    conf = os.path.join(rundir, "chronyd.conf")
    simlib.write_conf(conf, ["refclock PTPKVM auto", "refclock PHC %s poll 1" % dev], rundir)
    sock = os.path.join(rundir, "sock", "chronyd.sock")
    cmd = simlib.chronyd_command(os.path.abspath(a.chronyd), conf)
    cmd.insert(cmd.index("-d"), "-x")
    with open(os.path.join(rundir, "chronyd.log"), "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            for t in (20, 40):
                time.sleep(20)
                if proc.poll() is not None:
                    break
                banner("chronyc sources after %d s" % t)
                print(chronyc(a.chronyc, sock, "sources", "-v"))
                print(chronyc(a.chronyc, sock, "sourcestats"))
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait()
    with open(os.path.join(rundir, "chronyd.log")) as f:
        print("chronyd log (tail):\n  " + "\n  ".join(f.read().splitlines()[-8:]))
    delays, offsets = phc_stats(dev)
    delays.sort()
    offsets.sort()
    med = lambda v: v[len(v) // 2]  # noqa: E731
    banner("PTP_SYS_OFFSET statistics of %s (%d samples)" % (dev, len(delays)))
    print("delay  (post - pre): min %.0f ns  median %.0f ns  max %.0f ns" % (
        delays[0] * 1e9, med(delays) * 1e9, delays[-1] * 1e9))
    print("offset (sys - phc): min %+.0f ns  median %+.0f ns  max %+.0f ns" % (
        offsets[0] * 1e9, med(offsets) * 1e9, offsets[-1] * 1e9))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--chronyd", required=True)
    ap.add_argument("--chronyc", required=True)
    ap.add_argument("--doctor", help="ptpkvm-doctor, run on the PTPKVM run's status file")
    ap.add_argument("--out", default="build/sim/demo")
    ap.add_argument("--simulate", action="store_true",
                    help="simulate even if a real KVM PHC exists")
    a = ap.parse_args()
    dev = None if a.simulate else find_kvm_phc()
    if dev:
        real(a, dev)
    else:
        simulated(a)


if __name__ == "__main__":
    main()
