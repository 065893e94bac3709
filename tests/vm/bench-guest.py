#!/usr/bin/env python3
# chrony-ptpkvm: the guest's clock on the virtio-serial port of make vm-bench.
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# Owns /dev/virtio-ports/vmbench (a virtio port opens once): a thread
# writes "T <CLOCK_REALTIME>" every 10 ms; the main thread sets up each
# configuration of CONFIGS in turn, restarts chrony, waits for it to
# synchronise, sends "M ready NAME SUMMARY" and "E <evidence>" lines and
# waits for the host's "next" line (the host pauses the guest meanwhile;
# its "report" asks for "M report SUMMARY" after a pause).  "M done" at the
# end.
import os
import subprocess
import threading
import time

PORT = "/dev/virtio-ports/vmbench"
OURS = "/etc/chrony/conf.d/ptpkvm.conf"
ASIDE = "/var/lib/vmbench-ptpkvm.conf"
BENCH = "/etc/chrony/conf.d/vmbench.conf"
# name: lines added in conf.d (None: the package's configuration as installed)
CONFIGS = [
    ("stock", "refclock PHC /dev/ptp_kvm poll 1\nmakestep 0.1 -1\n"),
    ("ptpkvm", None),
]

fd = os.open(PORT, os.O_RDWR)
lock = threading.Lock()


def send(line):
    with lock:
        os.write(fd, (line + "\n").encode())


def stamper():
    while True:
        with lock:
            t = time.clock_gettime_ns(time.CLOCK_REALTIME)
            os.write(fd, b"T %d.%09d\n" % divmod(t, 1000000000))
        time.sleep(0.01)


def host_line():
    buf = b""
    while not buf.endswith(b"\n"):
        buf += os.read(fd, 1)
    return buf.decode().strip()


def sh(cmd):
    r = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return r.stdout.strip()


def configure(extra):
    if extra is None:
        if os.path.exists(ASIDE):
            os.rename(ASIDE, OURS)
        if os.path.exists(BENCH):
            os.remove(BENCH)
    else:
        if os.path.exists(OURS):
            os.rename(OURS, ASIDE)
        with open(BENCH, "w") as f:
            f.write(extra)
    sh("systemctl restart chrony")


def summary():
    """chronyd's state in one line, and the evidence behind it"""
    active = sh("systemctl is-active chrony")
    sources = sh("chronyc -n sources 2>&1")
    tracking = sh("chronyc -n tracking 2>&1")
    journal = sh("journalctl -b -u chrony -n 6 --no-pager -o cat")
    sel = [l for l in sources.splitlines() if l[1:2] == "*"]
    systime = [l for l in tracking.splitlines() if l.startswith("System time")]
    if active != "active":
        fatal = [l for l in journal.splitlines() if "Fatal" in l or "rror" in l]
        one = "chronyd %s%s" % (active, (": " + fatal[-1]) if fatal else "")
    elif sel:
        one = "chronyd selected %s; %s" % (sel[0].split()[1],
                                           systime[0] if systime else "no tracking")
    else:
        one = "chronyd running without a selected source"
    return one, [sources, tracking, journal]


def main():
    threading.Thread(target=stamper, daemon=True).start()
    kvm = os.path.exists("/dev/ptp_kvm")
    for name, extra in CONFIGS:
        configure(extra)
        # chronyc waitsync TRIES MAX-CORRECTION MAX-SKEW INTERVAL: until
        # the clock is within 1 ms, at most 90 s (10 s without ptp_kvm)
        sh("chronyc waitsync %d 0.001 0 1" % (90 if kvm else 10))
        one, evidence = summary()
        for text in evidence:
            for line in text.splitlines():
                send("E " + line)
        send("M ready %s /dev/ptp_kvm:%s; %s" % (name, "yes" if kvm else "absent", one))
        while True:
            cmd = host_line()
            if cmd == "next":
                break
            if cmd == "report":
                send("M report " + summary()[0])
    send("M done")
    time.sleep(0.5)


main()
