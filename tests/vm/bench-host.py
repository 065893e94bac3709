#!/usr/bin/env python3
# chrony-ptpkvm: the host side of make vm-bench (run by scripts/vm-bench.sh).
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# bench-host.py RUNDIR ACCEL TITLE PAUSES WATCH: talks to the running guest
# through two sockets in RUNDIR: qmp.sock (QMP: stop, cont) and bench.sock
# (the guest's virtio-serial port, bench-guest.py).  Each "T" line of the
# guest is paired with the host's CLOCK_REALTIME at its arrival; for each
# configuration the guest announces ("M ready"), every pause of PAUSES
# (seconds) is: 3 s of reference, QMP stop, PAUSE s, QMP cont, WATCH s of
# watching.  Offset = (guest - host at arrival) - its median over the
# reference, so the port's constant latency cancels; its spread over the
# reference is the resolution.  Prints the Markdown report on stdout.
import json
import os
import select
import socket
import statistics
import sys
import time

REF_S = 3.0
LIMIT = 1e-3
NO_KVM = ("not measurable under TCG: no ptp_kvm device in the guest; chronyd has "
          "no source that reveals the pause")


def now():
    return time.clock_gettime(time.CLOCK_REALTIME)


def connect(path, limit=60):
    end = time.monotonic() + limit
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


class Qmp:
    def __init__(self, path):
        self.f = connect(path).makefile("rw")
        json.loads(self.f.readline())  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name):
        self.f.write(json.dumps({"execute": name}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r:
                return
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (name, r["error"]))


class Port:
    """the guest's lines with their arrival time; T stamps kept apart"""

    def __init__(self, path):
        self.s = connect(path)
        self.buf = b""
        self.stamps = []  # (host arrival, guest time)
        self.eof = False

    def poll(self, timeout):
        """reads what arrives within timeout s; returns the non-T lines"""
        lines = []
        r, _, _ = select.select([self.s], [], [], max(timeout, 0))
        if not r:
            return lines
        data = self.s.recv(65536)
        t = now()
        if not data:
            self.eof = True
            return lines
        self.buf += data
        *whole, self.buf = self.buf.split(b"\n")
        for raw in whole:
            line = raw.decode(errors="replace")
            if line.startswith("T "):
                self.stamps.append((t, float(line[2:])))
            else:
                lines.append(line)
        return lines

    def run_for(self, seconds, log):
        end = now() + seconds
        while now() < end and not self.eof:
            for line in self.poll(end - now()):
                log(line)

    def send(self, line):
        self.s.sendall((line + "\n").encode())


def fmt(s):
    if s is None:
        return "-"
    a = abs(s)
    if a >= 1:
        return "%.3f s" % s
    if a >= 1e-3:
        return "%.2f ms" % (s * 1e3)
    return "%.0f us" % (s * 1e6)


def pause(qmp, port, seconds, watch, log):
    """one stop/cont; returns the measured values"""
    start = len(port.stamps)
    port.run_for(REF_S, log)
    ref = [g - h for h, g in port.stamps[start:]]
    if len(ref) < 10:
        raise RuntimeError("only %d stamps in %.0f s before the stop" % (len(ref), REF_S))
    base = statistics.median(ref)
    q = statistics.quantiles(ref, n=20)
    last_h, last_g = port.stamps[-1]
    qmp.cmd("stop")
    t_stop = now()
    port.run_for(seconds, log)
    qmp.cmd("cont")
    t_cont = now()
    n_cont = len(port.stamps)
    port.run_for(watch, log)
    after = [(h - t_cont, g - h - base) for h, g in port.stamps[n_cont:]]
    if not after:
        raise RuntimeError("no stamps from the guest after cont")
    bad = [i for i, (_, off) in enumerate(after) if abs(off) >= LIMIT]
    if not bad:
        rec = after[0][0]
    elif bad[-1] + 1 < len(after):
        rec = after[bad[-1] + 1][0]
    else:
        rec = None
    first_h, first_g = port.stamps[n_cont]
    return {
        "stopped": t_cont - t_stop,
        "first": after[0][1],
        "last": after[-1][1],
        "rec": rec,
        "guest_adv": first_g - last_g,
        "host_adv": first_h - last_h,
        "res": (q[18] - q[0], max(ref) - min(ref), len(ref)),
    }


def main():
    run, accel, title, pauses, watch = sys.argv[1:6]
    pauses = [float(p) for p in pauses.split()]
    watch = float(watch)
    qmp = Qmp(os.path.join(run, "qmp.sock"))
    port = Port(os.path.join(run, "bench.sock"))
    evidence = []
    rows = []

    def log(line):
        if line.startswith("E "):
            evidence.append(line[2:])
        elif line:
            print("vm-bench: guest: " + line, file=sys.stderr, flush=True)

    while not port.eof:
        for line in port.poll(1):
            if line.startswith("M ready "):
                name, info = line[8:].split(" ", 1)
                print("vm-bench: %s: %s" % (name, info), file=sys.stderr, flush=True)
                for e in evidence:
                    print("  | " + e, file=sys.stderr)
                evidence.clear()
                for p in pauses:
                    m = pause(qmp, port, p, watch, log)
                    port.send("report")
                    port.run_for(5, log)
                    rows.append((p, name, info, m))
                    print("vm-bench: %s, pause %g s: offset after cont %s, after %g s %s" %
                          (name, p, fmt(m["first"]), watch, fmt(m["last"])),
                          file=sys.stderr, flush=True)
                port.send("next")
            elif line == "M done":
                port.eof = True
                break
            else:
                log(line)
    if not rows:
        raise SystemExit("vm-bench: the guest sent no configuration")

    print("# Benchmarks: QEMU guest paused through QMP\n")
    print("Generated by `make vm-bench` (scripts/vm-bench.sh); one run per cell.\n")
    print("- date: %s; %s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), title))
    print("- accelerator: %s; pauses %s s, each watched %g s after `cont`" %
          (accel, " ".join("%g" % p for p in pauses), watch))
    print("- offset: the guest writes its CLOCK_REALTIME every 10 ms to a virtio-serial "
          "port; the host subtracts its own CLOCK_REALTIME at the line's arrival and the "
          "median of that difference over the %g s before `stop` (the port's latency, and "
          "under TCG the unsynchronised guest's offset before the pause)" % REF_S)
    print("- resolution: the spread of that difference over the %g s before `stop` "
          "(p5-p95 / min-max per row)" % REF_S)
    print("- configurations: `stock` = `refclock PHC /dev/ptp_kvm poll 1` + "
          "`makestep 0.1 -1`; `ptpkvm` = `refclock PTPKVM auto` (the package's default, "
          "with Debian's `makestep 1 3`)\n")
    print("| pause | config | runs | recovery <1 ms median / min / max | offset right after "
          "`cont` | guest clock during the pause | offset after %g s | resolution | "
          "chronyd before the pause |" % watch)
    print("|---|---|---|---|---|---|---|---|---|")
    for p, name, info, m in rows:
        if m["rec"] is not None:
            rec = " / ".join([fmt(m["rec"])] * 3)
        elif "/dev/ptp_kvm:absent" in info:
            rec = NO_KVM if accel == "tcg" else "not measurable: no /dev/ptp_kvm in the guest"
        else:
            rec = "never within %g s" % watch
        during = "advanced %s while the host's advanced %s" % (fmt(m["guest_adv"]),
                                                               fmt(m["host_adv"]))
        res = "%s / %s (%d stamps)" % (fmt(m["res"][0]), fmt(m["res"][1]), m["res"][2])
        print("| %g s | %s | 1 | %s | %s | %s | %s | %s | %s |" %
              (p, name, rec, fmt(m["first"]), during, fmt(m["last"]), res,
               info.replace("|", "/")))


main()
