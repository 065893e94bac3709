#!/usr/bin/env python3
# chrony-ptpkvm - tests of ptpkvm-doctor against generated fixture trees
#
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of version 2 of the GNU General Public License as
# published by the Free Software Foundation.
#
# Runs the real ptpkvm-doctor binary with --root on fixture trees that this
# script generates (fake /sys, /proc, /dev, /etc, /lib/modules, a CPUID
# description, a fake chronyc, the build's chronyd with the libraries it
# loads, asked by the doctor in a chroot), one tree per scenario, and checks the status
# of each check, every WARN and FAIL path, the JSON schema, exit codes, the
# Prometheus file, the unprivileged run and the installed guest assets.
# Prints "N passed, N failed" last; exit status 1 if anything failed.

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from testlib import check as report, finish, prom_samples, run  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KVM_NAME = "KVM virtual PTP"
PULL_DROPIN = "/usr/lib/systemd/system/chrony.service.d/50-ptpkvm.conf"
VERDICT = "/run/chrony/ptpkvm.conf"
RELEASE = "6.1.0-test-amd64"
STATUSES = ("OK", "WARN", "FAIL", "SKIP")
EXPECTED_IDS = [
    "kvm.guest", "kernel.ptp_kvm", "kernel.ptp_kvm_boot", "phc.devices",
    "chrony.config", "chrony.driver", "chrony.refclock", "chrony.makestep", "chrony.update",
    "phc.access",
    "phc.ioctls", "phc.stats", "clocksource.current",
    "kernel.clock_log", "services.time", "chrony.sync",
    "ptpkvm.status",
]
GOOD_CSV = ("50484330,PHC0,1,1763770000.123456789,0.000000012,-0.000000020,"
            "0.000000030,-12.345,0.000,0.010,0.000000001,0.000010000,2.0,Normal")

ARGS = None


# ---------------------------------------------------------------- fixtures

def install_binary(binary, root, at=None):
    """Copy binary (to at, a path in root) and the libraries ldd names into root."""
    out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, universal_newlines=True).stdout
    files = [(binary, at or binary)]
    files += [(p, p) for p in re.findall(r"(/\S+) \(0x", out)]
    for src, dst in files:
        dst = os.path.join(root, dst.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            shutil.copy(src, dst)


def link_tree(src, dst):
    """Hard-link every file of src into dst (same layout)."""
    for d, _, names in os.walk(src):
        out = os.path.join(dst, os.path.relpath(d, src))
        os.makedirs(out, exist_ok=True)
        for n in names:
            if not os.path.exists(os.path.join(out, n)):
                try:
                    os.link(os.path.join(d, n), os.path.join(out, n))
                except OSError:
                    shutil.copy2(os.path.join(d, n), os.path.join(out, n))


class Tree:
    """A fake root filesystem describing one guest."""

    def __init__(self, name):
        self.root = os.path.join(ARGS.workdir, name)
        if os.path.lexists(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        link_tree(ARGS.chronyd_root, self.root)

    def path(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def write(self, rel, text, mode=0o644):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if os.path.lexists(p):
            os.unlink(p)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)

    def remove(self, rel):
        p = self.path(rel)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.unlink(p)

    def symlink(self, rel, target):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if os.path.lexists(p):
            os.unlink(p)
        os.symlink(target, p)

    # --- pieces of a guest
    def cpuid(self, hypervisor=1, sigs=((0x40000000, "KVMKVMKVM"),)):
        text = "hypervisor %d\n" % hypervisor
        for leaf, sig in sigs:
            text += "signature 0x%08x %s\n" % (leaf, sig)
        self.write("/ptpkvm-doctor.cpuid", text)

    def phc(self, index, name, mode=0o640, gid=None):
        self.write("/sys/class/ptp/ptp%d/clock_name" % index, name + "\n")
        self.write("/dev/ptp%d" % index, "", mode)
        os.chown(self.path("/dev/ptp%d" % index), -1, os.getgid() if gid is None else gid)

    def process(self, pid, comm, ppid=1):
        self.write("/proc/%d/comm" % pid, comm + "\n")
        self.write("/proc/%d/stat" % pid,
                   "%d (%s) S %d %d %d 0 -1 4194560 0 0 0 0\n" % (pid, comm, ppid, pid, pid))

    def chronyc(self, output, status=0):
        # checks that the doctor asks exactly for CSV tracking without DNS
        self.write("/usr/bin/chronyc",
                   "#!/bin/sh\n"
                   "[ \"$*\" = \"-n -c tracking\" ] || { echo \"bad args: $*\" >&2; exit 9; }\n"
                   "cat <<'EOF'\n%s\nEOF\nexit %d\n" % (output, status), 0o755)

    def chronyd_stub(self, features):
        """A chronyd that answers -v with these features and -p with the file."""
        install_binary("/bin/sh", self.root)
        self.write("/usr/sbin/chronyd",
                   "#!/bin/sh\n[ \"$1\" = -v ] && { echo 'chronyd (chrony) version 4.6.1 "
                   "(%s)'; exit 0; }\nwhile IFS= read -r l; do echo \"$l\"; done < \"$3\"\n"
                   % features, 0o755)

    def chrony_conf(self, text, path="/etc/chrony/chrony.conf"):
        self.write(path, text)

    def packaged(self):
        """chrony-ptpkvm's files (the repository's own), and the
        /run/chrony/ptpkvm.conf its ExecStartPre writes for a chronyd with the driver."""
        for rel, dst in (("guest/systemd/chrony.service.d/50-ptpkvm.conf", PULL_DROPIN),
                         ("guest/systemd/modprobe@ptp_kvm.service.d/50-ptpkvm.conf",
                          "/usr/lib/systemd/system/modprobe@ptp_kvm.service.d/50-ptpkvm.conf"),
                         ("guest/chrony/ptpkvm.conf", "/etc/chrony/ptpkvm.conf"),
                         ("guest/chrony/conf.d/ptpkvm.conf", "/etc/chrony/conf.d/ptpkvm.conf")):
            with open(os.path.join(TOP, rel)) as f:
                self.write(dst, f.read())
        self.write(VERDICT, "# chrony-ptpkvm: in use: /etc/chrony/ptpkvm.conf for "
                   "/usr/sbin/chronyd (chrony 4.6.1, PTPKVM driver)\nrefclock PTPKVM auto\n")

    def status_file(self, index=0, pid=412, state="running", failing=0, reads=1000,
                    failures=0, mode="precise", disruptions=(), tail="end\n"):
        """The PTPKVM driver's status file (format 1, docs/monitoring.md);
        disruptions: (when, size, cause, delay, action) tuples."""
        totals = {}
        for d in disruptions:
            totals[d[2]] = totals.get(d[2], 0) + 1
        steps = sum(1 for d in disruptions if d[4] == "step")
        text = ("ptpkvm-status 1\npid %d\nstate %s\ndevice /dev/ptp0\nmode %s\n"
                "best_mode precise\nmode_since 1000000000.000000000\nfailing %d\n"
                "reads %d\nread_failures %d\nsamples 200\nsteps %d\nflushes %d\n" %
                (pid, state, mode, failing, reads, failures, steps, len(disruptions)))
        for cause, n in sorted(totals.items()):
            text += "disruptions %s %d\n" % (cause, n)
        for when, size, cause, delay, action in disruptions:
            text += "disruption %.9f %+.9f %s %.6f %s %s by %+.6f s\n" % (
                when, size, cause, delay, action, action, size)
        self.write("/run/chrony/ptpkvm-%d.status" % index, text + tail)


def healthy(name):
    """A KVM guest set up right: every check OK (PHC ioctls need a real device)."""
    t = Tree(name)
    t.cpuid()
    t.write("/proc/sys/kernel/osrelease", RELEASE + "\n")
    t.write("/proc/modules", "ptp_kvm 20480 0 - Live 0x0000000000000000\n"
            "ptp 36864 1 ptp_kvm, Live 0x0000000000000000\n")
    t.write("/proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\n"
            "flags\t\t: fpu tsc msr constant_tsc nonstop_tsc hypervisor\n\n")
    t.write("/lib/modules/%s/modules.dep" % RELEASE,
            "kernel/drivers/ptp/ptp.ko.xz:\n"
            "kernel/drivers/ptp/ptp_kvm.ko.xz: kernel/drivers/ptp/ptp.ko.xz\n")
    t.write("/lib/modules/%s/modules.builtin" % RELEASE, "kernel/drivers/char/mem.ko\n")
    t.phc(0, KVM_NAME)
    t.symlink("/dev/ptp_kvm", "ptp0")
    t.write("/sys/devices/system/clocksource/clocksource0/current_clocksource", "kvm-clock\n")
    t.write("/sys/devices/system/clocksource/clocksource0/available_clocksource",
            "kvm-clock tsc acpi_pm \n")
    t.write("/dev/kmsg", "kvm-clock: Using msrs 4b564d01 and 4b564d00\n"
            "clocksource: Switched to clocksource kvm-clock\n")
    gid = os.getgid()
    t.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
            "_chrony:x:4243:%d:Chrony daemon,,,:/var/lib/chrony:/usr/sbin/nologin\n" % gid)
    t.write("/etc/group", "root:x:0:\nptpgrp:x:%d:\n" % gid if gid != 0 else
            "root:x:0:\n")
    t.chrony_conf("# Debian-like\npool 2.debian.pool.ntp.org iburst\n"
                  "makestep 1 3\nconfdir /etc/chrony/conf.d\n")
    t.packaged()
    t.process(1, "systemd", 0)
    t.process(412, "chronyd")
    t.chronyc(GOOD_CSV)
    t.status_file(disruptions=[(1000000000.5, 360.0, "pause", 0.2, "step")])
    return t


# ---------------------------------------------------------------- running

def run_doctor(tree, *extra, as_nobody=False, path=None):
    """path: a directory of stub programs put first in PATH"""
    cmd = [ARGS.doctor, "--root", tree.root] + list(extra)
    if as_nobody:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    env = dict(os.environ, PATH=path + ":" + os.environ["PATH"]) if path else None
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, env=env)


STATUS_KEYS = {"file", "refclock", "pid", "state", "stale", "updated", "device", "mode",
               "best_mode", "mode_since", "failing", "counters", "disruptions_total", "disruptions"}


def details_problems(c):
    """ptpkvm.status alone has details (docs/monitoring.md): one object per file"""
    d = c.get("details")
    if d is None:
        return [] if c["id"] != "ptpkvm.status" or c["status"] == "SKIP" else ["no details"]
    if c["id"] != "ptpkvm.status" or set(d) != {"dir", "files"} or not d["files"]:
        return ["%s: details %s" % (c["id"], str(d)[:100])]
    return ["details file keys %s" % sorted(f) for f in d["files"]
            if set(f) != STATUS_KEYS and set(f) != {"file", "error"} or
            "disruptions" in f and any(set(x) != {"when", "size", "cause", "delay", "action",
                                                  "text"} for x in f["disruptions"])]


def check_schema(doc):
    """Validate the JSON report; returns a list of problems."""
    problems = []
    want = {"tool": str, "version": str, "schema": int, "root": str, "uid": int,
            "status": str, "exit_code": int, "checks": list, "unreadable": list}
    for key, typ in want.items():
        if key not in doc:
            problems.append("missing key %s" % key)
        elif not isinstance(doc[key], typ) or (typ is int and isinstance(doc[key], bool)):
            problems.append("key %s is not %s" % (key, typ.__name__))
    if problems:
        return problems
    if set(doc) - set(want):
        problems.append("unexpected keys %s" % sorted(set(doc) - set(want)))
    if doc["tool"] != "ptpkvm-doctor" or doc["schema"] != 1:
        problems.append("tool/schema")
    ids = set()
    worst = 0
    for c in doc["checks"]:
        if set(c) - {"details"} != {"id", "status", "message", "fix", "metrics"}:
            problems.append("check keys %s" % sorted(c))
            continue
        if not re.match(r"^[a-z_]+\.[a-z_]+$", c["id"]) or c["id"] in ids:
            problems.append("bad or duplicate id %r" % c["id"])
        ids.add(c["id"])
        if c["status"] not in STATUSES:
            problems.append("bad status %r" % c["status"])
            continue
        if not isinstance(c["message"], str) or not c["message"]:
            problems.append("%s: empty message" % c["id"])
        if c["status"] in ("WARN", "FAIL") and not c["fix"]:
            problems.append("%s: %s without a fix" % (c["id"], c["status"]))
        if c["status"] in ("OK", "SKIP") and c["fix"]:
            problems.append("%s: fix on %s" % (c["id"], c["status"]))
        if "\n" in c["fix"]:
            problems.append("%s: fix is not one line" % c["id"])
        if not isinstance(c["metrics"], dict):
            problems.append("%s: metrics not an object" % c["id"])
        else:
            for k, v in c["metrics"].items():
                if not re.match(r"^[a-z_]+$", k) or not (v is None or isinstance(v, (int, float))):
                    problems.append("%s: bad metric %r=%r" % (c["id"], k, v))
        problems += details_problems(c)
        if c["status"] != "SKIP":
            worst = max(worst, STATUSES.index(c["status"]))
    if doc["exit_code"] != worst or doc["status"] != STATUSES[worst]:
        problems.append("status %s/exit %d but worst check is %s" %
                        (doc["status"], doc["exit_code"], STATUSES[worst]))
    for u in doc["unreadable"]:
        if not isinstance(u, str):
            problems.append("unreadable entry not a string")
    return problems


def statuses(tree, *extra, as_nobody=False, path=None):
    """Run with --json; validate; return ({id: status}, {id: check}, doc, proc)."""
    proc = run_doctor(tree, "--json", *extra, as_nobody=as_nobody, path=path)
    try:
        doc = json.loads(proc.stdout)
    except ValueError as e:
        report(False, "json parse", "%s: %s / %s" % (e, proc.stdout[:300], proc.stderr[:300]))
        return {}, {}, None, proc
    problems = check_schema(doc)
    if problems:
        report(False, "schema %s" % os.path.basename(tree.root), "; ".join(problems))
    if proc.returncode != doc["exit_code"]:
        report(False, "exit code %s" % os.path.basename(tree.root),
               "process %d, json %d" % (proc.returncode, doc["exit_code"]))
    return ({c["id"]: c["status"] for c in doc["checks"]},
            {c["id"]: c for c in doc["checks"]}, doc, proc)


def expect(name, tree, expected, *extra, as_nobody=False, contains=None, path=None):
    """expected: {check id: status}; contains: {check id: substring of message/fix}."""
    st, checks, doc, proc = statuses(tree, *extra, as_nobody=as_nobody, path=path)
    bad = ["%s=%s (want %s)" % (k, st.get(k), v) for k, v in expected.items() if st.get(k) != v]
    for k, sub in (contains or {}).items():
        c = checks.get(k)
        if not c or sub not in c["message"] + " " + c["fix"]:
            bad.append("%s lacks %r (%s)" % (k, sub, c and c["message"]))
    report(not bad, name, "; ".join(bad))
    return st, checks, doc


# ---------------------------------------------------------------- scenarios

def test_healthy():
    t = healthy("healthy")
    want = {i: "OK" for i in EXPECTED_IDS}
    # a regular file is not a PHC: the ioctl probe and phc_reader's discovery
    # must say so (tests/doctor/test_doctor_phc.c runs them on PHCs)
    want.update({"phc.ioctls": "FAIL", "phc.stats": "SKIP", "chrony.refclock": "FAIL",
                 "chrony.update": "SKIP"})
    st, checks, doc = expect("healthy tree: every non-device check OK", t, want,
                             contains={"phc.ioctls": "GETCAPS",
                                       "kernel.ptp_kvm_boot": "modprobe@ptp_kvm.service (pulled "
                                       "in by %s, only under KVM)" % PULL_DROPIN,
                                       "chrony.refclock": "refclock PTPKVM auto: /dev/ptp0: not a "
                                                          "character device",
                                       "chrony.driver": "has the PTPKVM driver; %s: in use" % VERDICT})
    report(doc is not None and [c["id"] for c in doc["checks"]] == EXPECTED_IDS,
           "every check reported once, in order",
           doc and str([c["id"] for c in doc["checks"]]))


def test_kvm():
    t = healthy("kvm-nohv")
    t.cpuid(hypervisor=0, sigs=())
    expect("kvm: bare metal -> FAIL", t, {"kvm.guest": "FAIL"}, contains={"kvm.guest": "not a virtual"})
    t.cpuid(sigs=((0x40000000, "Microsoft Hv"),))
    expect("kvm: Hyper-V only -> FAIL", t, {"kvm.guest": "FAIL"}, contains={"kvm.guest": "Microsoft Hv"})
    t.cpuid(sigs=((0x40000000, "Microsoft Hv"), (0x40000100, "KVMKVMKVM")))
    expect("kvm: KVM behind Hyper-V enlightenments -> OK", t, {"kvm.guest": "OK"},
           contains={"kvm.guest": "0x40000100"})
    t.remove("/ptpkvm-doctor.cpuid")
    expect("kvm: no CPUID data -> SKIP", t, {"kvm.guest": "SKIP"})


def test_module():
    t = healthy("mod-builtin")
    t.write("/proc/modules", "ptp 36864 0 - Live 0x0\n")
    t.write("/lib/modules/%s/modules.builtin" % RELEASE, "kernel/drivers/ptp/ptp_kvm.ko\n")
    expect("module: built in -> OK, boot OK", t,
           {"kernel.ptp_kvm": "OK", "kernel.ptp_kvm_boot": "OK"}, contains={"kernel.ptp_kvm": "built"})

    t = healthy("mod-noboot")
    t.remove(PULL_DROPIN)
    expect("module: loaded, no chrony drop-in -> boot WARN", t,
           {"kernel.ptp_kvm": "OK", "kernel.ptp_kvm_boot": "WARN"},
           contains={"kernel.ptp_kvm_boot": "install chrony-ptpkvm"})
    t.write("/etc/modules", "# /etc/modules\nloop\nptp_kvm\n")
    expect("module: /etc/modules counts -> boot OK", t, {"kernel.ptp_kvm_boot": "OK"},
           contains={"kernel.ptp_kvm_boot": "/etc/modules"})
    t.remove("/etc/modules")
    t.write("/usr/lib/modules-load.d/ptp-kvm.conf", "ptp-kvm\n")
    expect("module: /usr/lib/modules-load.d, dash spelling -> boot OK", t,
           {"kernel.ptp_kvm_boot": "OK"})

    t = healthy("mod-notloaded")
    t.write("/proc/modules", "ptp 36864 0 - Live 0x0\n")
    t.remove("/sys/class/ptp")
    t.remove("/dev/ptp0")
    t.remove("/dev/ptp_kvm")
    expect("module: available, not loaded, no PHC -> FAIL", t,
           {"kernel.ptp_kvm": "FAIL", "phc.devices": "FAIL"}, contains={"kernel.ptp_kvm": "modprobe"})
    t.phc(0, KVM_NAME)
    expect("module: available, not in /proc/modules, PHC present -> WARN", t,
           {"kernel.ptp_kvm": "WARN"})

    t = healthy("mod-missing")
    t.write("/proc/modules", "ptp 36864 0 - Live 0x0\n")
    t.write("/lib/modules/%s/modules.dep" % RELEASE, "kernel/drivers/ptp/ptp.ko.xz:\n")
    t.remove("/sys/class/ptp")
    expect("module: not in the kernel at all -> FAIL, boot SKIP", t,
           {"kernel.ptp_kvm": "FAIL", "kernel.ptp_kvm_boot": "SKIP"},
           contains={"kernel.ptp_kvm": "CONFIG_PTP_1588_CLOCK_KVM"})
    t.remove("/proc/modules")
    t.remove("/lib/modules")
    expect("module: kernel without module support -> FAIL", t, {"kernel.ptp_kvm": "FAIL"},
           contains={"kernel.ptp_kvm": "no module support"})
    t.phc(0, KVM_NAME)
    expect("module: not in any list, but a KVM PHC exists -> WARN", t, {"kernel.ptp_kvm": "WARN",
           "phc.devices": "OK"})


def test_module_truth():
    """What happened, not which file exists: a failed load, a machine without KVM."""
    t = healthy("mod-failed")
    t.write("/proc/modules", "ptp 36864 0 - Live 0x0\n")
    t.remove("/sys/class/ptp")
    st, checks, _ = expect("module: pulled in, load failed on KVM -> FAIL, never 'loaded'", t,
                           {"kernel.ptp_kvm": "FAIL", "kernel.ptp_kvm_boot": "SKIP"},
                           contains={"kernel.ptp_kvm": "the load failed",
                                     "kernel.ptp_kvm_boot": "not loaded now"})
    report("journalctl -b -u modprobe@ptp_kvm" in checks["kernel.ptp_kvm"]["fix"],
           "module: the fix names the unit that ran modprobe", checks["kernel.ptp_kvm"]["fix"])
    report("loaded at boot" not in checks["kernel.ptp_kvm_boot"]["message"] and
           "modprobe ptp_kvm (" not in checks["kernel.ptp_kvm"]["fix"],
           "module: a failed load is not called loaded, no modprobe advice")
    t.cpuid(sigs=())
    expect("module: no KVM signature, packaged drop-in -> boot SKIP naming it", t,
           {"kvm.guest": "FAIL", "kernel.ptp_kvm": "SKIP", "kernel.ptp_kvm_boot": "SKIP"},
           contains={"kernel.ptp_kvm_boot": "not a KVM guest: nothing to load at boot; skipped: "
                                            "modprobe@ptp_kvm.service (pulled in by " + PULL_DROPIN})
    t.write("/etc/modules-load.d/ptp_kvm.conf", "# comment\nptp_kvm\n")
    st, checks, _ = expect("module: no KVM signature, hand-written modules-load.d entry -> boot WARN", t,
                           {"kvm.guest": "FAIL", "kernel.ptp_kvm": "SKIP",
                            "kernel.ptp_kvm_boot": "WARN", "phc.devices": "FAIL"},
                           contains={"kernel.ptp_kvm": "not a KVM guest, so PTPKVM cannot work",
                                     "kernel.ptp_kvm_boot": "systemd-modules-load.service fail",
                                     "phc.devices": "not a KVM guest"})
    text = " ".join(c["message"] + " " + c["fix"] for c in checks.values())
    report("modprobe ptp_kvm (" not in text and "PRECISE" not in text,
           "module: without KVM no modprobe advice and no word of a KVM PHC", text[:300])
    t.remove("/etc/modules-load.d/ptp_kvm.conf")
    t.remove(PULL_DROPIN)
    t.write("/usr/lib/systemd/system/ptpkvm-load.service",
            "[Unit]\nConditionVirtualization=kvm\n[Service]\nExecStart=/sbin/modprobe ptp_kvm\n")
    expect("module: no KVM, a unit that loads it under KVM -> boot SKIP", t,
           {"kernel.ptp_kvm_boot": "SKIP"}, contains={"kernel.ptp_kvm_boot": "not a KVM guest"})
    t.cpuid()
    t.write("/proc/modules", "ptp_kvm 20480 0 - Live 0x0\n")
    expect("module: KVM, loaded by a unit -> boot OK naming it", t, {"kernel.ptp_kvm_boot": "OK"},
           contains={"kernel.ptp_kvm_boot": "ptpkvm-load.service"})


def test_devices():
    t = healthy("dev-nolink")
    t.remove("/dev/ptp_kvm")
    expect("devices: no /dev/ptp_kvm -> WARN", t, {"phc.devices": "WARN"},
           contains={"phc.devices": "udev"})

    t.write("/dev/ptp_kvm", "")
    expect("devices: /dev/ptp_kvm is not a symlink -> WARN", t, {"phc.devices": "WARN"},
           contains={"phc.devices": "not a symlink"})

    t = healthy("dev-wronglink")
    t.remove("/sys/class/ptp")
    t.phc(0, "mlx5_ptp")
    t.phc(1, KVM_NAME)
    t.symlink("/dev/ptp_kvm", "/dev/ptp0")
    st, checks, _ = expect("devices: /dev/ptp_kvm -> NIC PHC -> FAIL", t, {"phc.devices": "FAIL"},
                           contains={"phc.devices": "/dev/ptp1"})
    t.symlink("/dev/ptp_kvm", "ptp1")
    expect("devices: KVM PHC is ptp1, ptp0 is a NIC -> OK with note", t, {"phc.devices": "OK"},
           contains={"phc.devices": "/dev/ptp0 is 'mlx5_ptp'"})

    t = healthy("dev-none")
    t.remove("/sys/class/ptp")
    t.phc(0, "hyperv")
    expect("devices: only another PHC -> FAIL, listing it", t, {"phc.devices": "FAIL",
           "phc.access": "SKIP", "phc.ioctls": "SKIP"}, contains={"phc.devices": "'hyperv'"})


def test_access():
    t = healthy("access")
    os.chmod(t.path("/dev/ptp0"), 0o600)
    expect("access: mode 0600 -> WARN (chronyd cannot reopen)", t, {"phc.access": "WARN"},
           contains={"phc.access": "_chrony"})
    os.chmod(t.path("/dev/ptp0"), 0o604)
    expect("access: world-readable -> OK", t, {"phc.access": "OK"})
    # membership through /etc/group instead of the primary group
    gid = os.getgid()
    t.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n_chrony:x:4243:4244::/:/bin/false\n")
    t.write("/etc/group", "chronygrp:x:4244:\ndevgrp:x:%d:someone,_chrony\n" % gid)
    os.chmod(t.path("/dev/ptp0"), 0o640)
    expect("access: supplementary group -> OK", t, {"phc.access": "OK"})
    t.write("/etc/group", "chronygrp:x:4244:\ndevgrp:x:%d:someone\n" % gid)
    expect("access: not a member -> WARN", t, {"phc.access": "WARN"})
    t.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\nchrony:x:4243:%d::/:/bin/false\n" % gid)
    expect("access: RHEL user 'chrony' -> OK", t, {"phc.access": "OK"},
           contains={"phc.access": "user chrony "})
    t.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
    expect("access: no chrony user -> SKIP", t, {"phc.access": "SKIP"})
    t.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\nntpuser:x:4243:%d::/:/bin/false\n" % gid)
    t.write("/etc/chrony/conf.d/user.conf", "user ntpuser\n")
    expect("access: 'user' directive of chrony.conf is honoured", t, {"phc.access": "OK"},
           contains={"phc.access": "ntpuser"})


def test_chrony_config():
    """Which file the doctor gives chronyd, and what it makes of chronyd's
    answer; which device a line opens is tested on PHCs in test_doctor_phc.c,
    whether chronyd accepts a line in test_refclock_table.py."""
    t = healthy("conf")
    t.remove("/etc/chrony")
    expect("config: none -> WARN, refclock/makestep SKIP", t,
           {"chrony.config": "WARN", "chrony.refclock": "SKIP", "chrony.makestep": "SKIP"})
    t.chrony_conf("server 192.0.2.1 iburst\nrefclock PHC /dev/ptp7 poll 2\nmakestep 1 -1\n",
                  "/etc/chrony.conf")
    expect("config: RHEL path; stock PHC on a missing device: chronyd refuses -> FAIL", t,
           {"chrony.config": "FAIL", "chrony.refclock": "SKIP", "chrony.makestep": "SKIP"},
           contains={"chrony.config": "Could not open PHC /dev/ptp7 (/dev/ptp7: cannot open: "
                                      "No such file or directory"})
    t.chrony_conf("refclock PTPKVM auto\n", "/etc/chrony.conf")
    expect("config: RHEL path found", t, {"chrony.config": "OK"},
           contains={"chrony.config": "/etc/chrony.conf"})
    t.chrony_conf("pool pool.ntp.org\nrefclock SHM 0\n", "/etc/chrony.conf")
    expect("config: no PHC refclock -> FAIL; no makestep -> WARN", t,
           {"chrony.refclock": "FAIL", "chrony.makestep": "WARN"},
           contains={"chrony.refclock": "PTPKVM auto"})
    t.chrony_conf("refclock SHM 0\nmakestep 1 3\n", "/etc/chrony.conf")
    expect("config: makestep with a limit and no PTPKVM -> WARN", t, {"chrony.makestep": "WARN"},
           contains={"chrony.makestep": "first 3 updates"})
    t.chrony_conf("refclock SHM 0\nmakestep 1\n", "/etc/chrony.conf")
    expect("config: chronyd's own error line, verbatim -> FAIL", t,
           {"chrony.config": "FAIL", "chrony.makestep": "SKIP"},
           contains={"chrony.config": "Fatal error : Missing arguments for makestep directive "
                                      "at line 2 in file /etc/chrony.conf"})
    # include globbing and line numbers are chronyd's; all files are read
    # before the first refclock is started
    t.chrony_conf("include /etc/chrony/extra/*.conf\nmakestep x 1\n", "/etc/chrony.conf")
    t.write("/etc/chrony/extra/10-kvm.conf", "\n\n! comment\nREFCLOCK PTPKVM auto:samples=0\n")
    expect("config: parse errors of any file come before driver errors", t,
           {"chrony.config": "FAIL"},
           contains={"chrony.config": "Could not parse makestep directive at line 2 in file "
                                      "/etc/chrony.conf"})
    t.chrony_conf("include /etc/chrony/extra/*.conf\n", "/etc/chrony.conf")
    expect("config: the refused refclock line of an included file", t, {"chrony.config": "FAIL"},
           contains={"chrony.config": "invalid refclock PTPKVM option samples=0"})
    t.write("/etc/chrony/extra/10-kvm.conf", "\n\n! comment\nREFCLOCK PTPKVM auto\n")
    expect("config: included PTPKVM line without makestep -> makestep OK", t,
           {"chrony.config": "OK", "chrony.makestep": "OK"},
           contains={"chrony.refclock": "refclock PTPKVM auto"})
    # PTPKVM's own step policy, from the driver's option parser
    t.chrony_conf("refclock PTPKVM auto:step=0 poll 2\nmakestep 1 3\n", "/etc/chrony.conf")
    expect("config: PTPKVM step=0 with limited makestep -> WARN", t,
           {"chrony.makestep": "WARN"}, contains={"chrony.makestep": "never steps"})
    t.chrony_conf("refclock PTPKVM auto:step=0.000\nmakestep 1 3\n", "/etc/chrony.conf")
    expect("config: PTPKVM step=0.000 is step=0 too -> WARN", t,
           {"chrony.makestep": "WARN"}, contains={"chrony.makestep": "never steps"})
    t.chrony_conf("refclock PTPKVM /dev/ptp_kvm:nocrossts:maxsteps=3\n", "/etc/chrony.conf")
    expect("config: PTPKVM maxsteps=3 -> WARN", t, {"chrony.makestep": "WARN"},
           contains={"chrony.makestep": "maxsteps=3"})
    t.chrony_conf("refclock PTPKVM auto:step=0\nmakestep 1 -1\n", "/etc/chrony.conf")
    expect("config: PTPKVM step=0 with unlimited makestep -> OK", t, {"chrony.makestep": "OK"})
    t.chrony_conf("refclock PTPKVM auto:step=0.1:maxsteps=-1:samples=5\n", "/etc/chrony.conf")
    expect("config: PTPKVM step=0.1 maxsteps=-1 -> OK", t, {"chrony.makestep": "OK"})
    # confdir: a file in an earlier directory hides one of the same name later
    t.chrony_conf("confdir /etc/chrony/a /etc/chrony/b\nmakestep 1 -1\n", "/etc/chrony.conf")
    t.write("/etc/chrony/a/kvm.conf", "# disabled\n")
    t.write("/etc/chrony/b/kvm.conf", "refclock PTPKVM auto\n")
    expect("config: confdir precedence (earlier dir wins) -> FAIL", t, {"chrony.refclock": "FAIL"},
           contains={"chrony.refclock": "no refclock uses the KVM PHC"})
    # --config: another file, under --root
    t.write("/srv/test.conf", "refclock PTPKVM auto:bogus\n")
    expect("config: --config FILE is read instead", t, {"chrony.config": "FAIL"}, "--config",
           "/srv/test.conf", contains={"chrony.config": "/srv/test.conf: Invalid refclock "
                                       "driver option bogus"})
    t.remove("/usr/sbin/chronyd")
    expect("config: no chronyd -> WARN naming --chronyd", t, {"chrony.config": "WARN",
           "chrony.driver": "SKIP"}, contains={"chrony.config": "--chronyd"})


def test_driver_and_update():
    """A chronyd without the PTPKVM driver, and a newer chrony in apt."""
    t = healthy("driver")
    t.chronyd_stub("+CMDMON +NTP +REFCLOCK")
    t.chrony_conf("refclock PTPKVM auto\nmakestep 1 3\n")
    st, checks, _ = expect("driver: chronyd without PTPKVM -> FAIL, loud, with the fix", t,
                           {"chrony.driver": "FAIL", "chrony.config": "FAIL"},
                           contains={"chrony.driver": "make deb",
                                     "chrony.config": "unknown refclock driver PTPKVM"})
    report(checks.get("chrony.driver", {}).get("message", "").startswith("refclock PTPKVM NOT USED"),
           "driver: the finding says PTPKVM is not used")
    # what ptpkvm-refclock writes for that chronyd: the verdict, no refclock line
    t.chrony_conf("makestep 1 3\nconfdir /etc/chrony/conf.d\n")
    verdict = ("refclock PTPKVM NOT USED: /usr/sbin/chronyd (chrony 4.6.1+deb13u9) has no PTPKVM "
               "driver; to bring it back, build chrony-ptpkvm on this chrony (make deb)")
    t.write(VERDICT, "# chrony-ptpkvm: %s\n" % verdict)
    st, checks, _ = expect("driver: ptpkvm-refclock's verdict -> FAIL quoting it, with the fix", t,
                           {"chrony.driver": "FAIL", "chrony.config": "OK"},
                           contains={"chrony.driver": verdict + " (%s)" % VERDICT})
    report("make deb" in checks.get("chrony.driver", {}).get("fix", ""),
           "driver: the verdict's finding has the rebuild command as its fix")
    t.chronyd_stub("+CMDMON +NTP +REFCLOCK +PTPKVM")
    expect("driver: chronyd has the driver, last start said NOT USED -> WARN restart", t,
           {"chrony.driver": "WARN"}, contains={"chrony.driver": "said: " + verdict})
    t.remove(VERDICT)
    expect("driver: the +PTPKVM feature flag is enough", t,
           {"chrony.driver": "OK", "chrony.config": "OK"})

    stub = os.path.join(ARGS.workdir, "apt-stub")
    os.makedirs(stub, exist_ok=True)

    def apt_cache(installed, *others):
        table = "".join("     %s 500\n        500 http://archive.invalid/ trixie/main amd64 "
                        "Packages\n" % v for v in others)
        with open(os.path.join(stub, "apt-cache"), "w") as f:
            f.write("#!/bin/sh\ncat <<'EOF'\nchrony:\n  Installed: %s\n  Candidate: %s\n"
                    "  Version table:\n *** %s 100\n        100 /var/lib/dpkg/status\n%sEOF\n"
                    % (installed, installed, installed, table))
        os.chmod(os.path.join(stub, "apt-cache"), 0o755)

    apt_cache("4.6.1-3+ptpkvm1", "4.6.1-3+deb13u2", "4.6.1-3")
    expect("update: the distribution offers a newer revision -> WARN with make deb", t,
           {"chrony.update": "WARN"}, path=stub,
           contains={"chrony.update": "offers chrony 4.6.1-3+deb13u2, newer than 4.6.1-3"})
    expect("update: the fix is the rebuild command", t, {"chrony.update": "WARN"}, path=stub,
           contains={"chrony.update": "run `make deb` in the chrony-ptpkvm source tree"})
    apt_cache("4.6.1-3+deb13u2+ptpkvm1", "4.6.1-3+deb13u2", "4.6.1-3")
    expect("update: built on the newest -> OK", t, {"chrony.update": "OK"}, path=stub)
    apt_cache("4.6.1-3+deb13u2", "4.6.1-3+deb13u2")
    expect("update: the distribution's chrony -> SKIP", t, {"chrony.update": "SKIP"}, path=stub)


def test_clocksource():
    t = healthy("cs")
    cs = "/sys/devices/system/clocksource/clocksource0/"
    t.write(cs + "current_clocksource", "tsc\n")
    expect("clocksource: tsc -> OK, explains PRECISE ENODEV", t, {"clocksource.current": "OK"},
           contains={"clocksource.current": "ENODEV"})
    t.write("/proc/cpuinfo", "flags\t\t: fpu tsc constant_tsc hypervisor\n")
    expect("tsc flags: tsc without nonstop_tsc -> WARN", t, {"clocksource.current": "WARN"},
           contains={"clocksource.current": "lacks nonstop_tsc"})
    t.write(cs + "current_clocksource", "kvm-clock\n")
    expect("tsc flags: missing but kvm-clock in use -> OK", t, {"clocksource.current": "OK"})
    t.write("/proc/cpuinfo", "processor : 0\nFeatures : fp asimd\n")
    t.write(cs + "current_clocksource", "tsc\n")
    expect("tsc flags: no x86 flags -> OK", t, {"clocksource.current": "OK"})
    t.write(cs + "current_clocksource", "hpet\n")
    expect("clocksource: hpet -> WARN", t, {"clocksource.current": "WARN"},
           contains={"clocksource.current": "echo kvm-clock"})
    t.write(cs + "current_clocksource", "refined-jiffies\n")
    expect("clocksource: jiffies -> FAIL", t, {"clocksource.current": "FAIL"})
    t.remove("/sys/devices")
    expect("clocksource: unreadable -> SKIP", t, {"clocksource.current": "SKIP"})

    t = healthy("kmsg")
    t.write("/dev/kmsg", "clocksource: Switched to clocksource tsc\n"
            "clocksource: timekeeping watchdog on CPU1: Marking clocksource 'tsc' as unstable"
            " because the skew is too large:\n"
            "clocksource: Switched to clocksource kvm-clock\n")
    _, checks, _ = expect("kernel log: tsc marked unstable -> WARN", t, {"kernel.clock_log": "WARN"},
                          contains={"kernel.clock_log": "unstable"})
    report(checks.get("kernel.clock_log", {}).get("metrics", {}).get(
        "kernel_unstable_clock_messages") == 1, "kernel log: counts the matching lines")
    t.remove("/dev/kmsg")
    expect("kernel log: unreadable -> SKIP (never required)", t, {"kernel.clock_log": "SKIP"})


def test_services():
    t = healthy("svc")
    t.process(500, "systemd-timesyn")
    expect("services: chronyd + timesyncd -> FAIL", t, {"services.time": "FAIL"},
           contains={"services.time": "systemd-timesyn[500]"})
    t.remove("/proc/500")
    t.process(600, "chronyd", ppid=412)
    _, checks, _ = expect("services: chronyd's own helper is not a second instance -> OK", t,
                          {"services.time": "OK"})
    report(checks.get("services.time", {}).get("metrics", {}).get("chronyd_instances") == 1,
           "services: chronyd_instances metric is 1")
    t.process(601, "chronyd", ppid=1)
    expect("services: two chronyd -> FAIL", t, {"services.time": "FAIL"})
    t.remove("/proc/600")
    t.remove("/proc/601")
    t.process(700, "phc2sys")
    expect("services: chronyd + phc2sys -> FAIL", t, {"services.time": "FAIL"})
    t.remove("/proc/700")
    t.remove("/proc/412")
    t.process(800, "ntpd")
    expect("services: ntpd alone -> WARN", t, {"services.time": "WARN"},
           contains={"services.time": "chrony"})
    t.remove("/proc/800")
    expect("services: nothing -> WARN", t, {"services.time": "WARN"})
    t.remove("/proc/1")
    t.process(900, "bash")
    expect("services: hidepid-like /proc is reported", t, {"services.time": "WARN"},
           contains={"services.time": "hidepid"})


def test_sync():
    t = healthy("sync")
    _, checks, _ = expect("sync: synchronised to PHC0 -> OK", t, {"chrony.sync": "OK"},
                          contains={"chrony.sync": "PHC0"})
    m = checks.get("chrony.sync", {}).get("metrics", {})
    report(m.get("chrony_synchronised") == 1 and abs(m.get("chrony_frequency_ppm", 0) + 12.345) < 1e-9,
           "sync: metrics parsed from the CSV", str(m))
    t.chronyc("00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,"
              "0.000,1.000000000,1.000000000,0.0,Not synchronised")
    expect("sync: not synchronised -> FAIL", t, {"chrony.sync": "FAIL"})
    t.chronyc(GOOD_CSV.replace("50484330,PHC0,1", "7F7F0101,,10"))
    expect("sync: local reference -> WARN", t, {"chrony.sync": "WARN"})
    t.chronyc(GOOD_CSV.replace("50484330,PHC0,1", "C0000201,192.0.2.1,2"))
    expect("sync: NTP server selected although a refclock is set -> WARN", t,
           {"chrony.sync": "WARN"}, contains={"chrony.sync": "192.0.2.1"})
    t.chronyc(GOOD_CSV.replace(",0.000000012,", ",-0.250000000,"))
    expect("sync: large remaining correction -> WARN", t, {"chrony.sync": "WARN"},
           contains={"chrony.sync": "-0.250000"})
    t.chronyc("506 Cannot talk to daemon", status=1)
    expect("sync: chronyd not answering -> WARN (not FAIL)", t, {"chrony.sync": "WARN"})
    t.chronyc("garbage,1,2")
    expect("sync: unexpected output -> WARN", t, {"chrony.sync": "WARN"})
    t.write("/usr/bin/chronyc", "#!/bin/sh\nexec sleep 30\n", 0o755)
    expect("sync: chronyc hangs -> killed after --timeout, WARN", t, {"chrony.sync": "WARN"},
           "--timeout", "1", contains={"chrony.sync": "timed out"})
    t.remove("/usr/bin/chronyc")
    expect("sync: no chronyc -> WARN", t, {"chrony.sync": "WARN"}, contains={"chrony.sync": "not found"})
    expect("sync: --no-chronyc -> SKIP", t, {"chrony.sync": "SKIP"}, "--no-chronyc")
    t.chronyc(GOOD_CSV)
    os.rename(t.path("/usr/bin/chronyc"), t.path("/usr/bin/mychronyc"))
    expect("sync: --chronyc PATH is used", t, {"chrony.sync": "OK"}, "--chronyc",
           t.path("/usr/bin/mychronyc"))


def test_status():
    """ptpkvm.status: the driver's status files in /run/chrony"""
    now = time.time()
    t = healthy("status")
    prom = os.path.join(ARGS.workdir, "status.prom")
    st, checks, doc = expect("status: old step, reads working -> OK", t, {"ptpkvm.status": "OK"},
                             "--prometheus", prom,
                             contains={"ptpkvm.status": "ptpkvm-0.status: /dev/ptp0, mode "
                                       "precise, 1000 reads (0 failed), 1 steps, 1 flushes"})
    f = [c for c in doc["checks"] if c["id"] == "ptpkvm.status"][0]["details"]["files"][0]
    want = {"file": "ptpkvm-0.status", "refclock": "0", "pid": 412, "state": "running",
            "stale": False, "device": "/dev/ptp0", "mode": "precise", "failing": False,
            "counters": {"reads": 1000, "read_failures": 0, "samples": f["counters"]["samples"],
                         "steps": 1, "flushes": 1},
            "disruptions": [{"when": 1000000000.5, "size": 360.0, "cause": "pause", "delay": 0.2,
                             "action": "step", "text": f["disruptions"][0]["text"]}]}
    bad = ["%s=%s (want %s)" % (k, f.get(k), v) for k, v in want.items() if f.get(k) != v]
    report(not bad and f["disruptions_total"]["pause"] == 1 and
           abs(f["updated"] - os.stat(t.path("/run/chrony/ptpkvm-0.status")).st_mtime) < 1e-6,
           "status: JSON details of the file", "; ".join(bad) or str(f)[:300])
    m = prom_samples(prom)
    want = {'ptpkvm_reads_total{refclock="0"}': 1000, 'ptpkvm_read_failures_total{refclock="0"}': 0,
            'ptpkvm_steps_total{refclock="0"}': 1, 'ptpkvm_flushes_total{refclock="0"}': 1,
            'ptpkvm_reading_mode{refclock="0",mode="precise"}': 1,
            'ptpkvm_reading_mode{refclock="0",mode="basic"}': 0,
            'ptpkvm_reading_mode_fallback{refclock="0"}': 0,
            'ptpkvm_disruptions_total{refclock="0",cause="pause"}': 1,
            'ptpkvm_disruptions_total{refclock="0",cause="host_step"}': 0,
            'ptpkvm_last_disruption_size_seconds{refclock="0"}': 360,
            'ptpkvm_last_disruption_timestamp_seconds{refclock="0"}': 1000000000.5,
            'ptpkvm_last_disruption_stepped{refclock="0"}': 1,
            'ptpkvm_info{refclock="0",device="/dev/ptp0",state="running"}': 1}
    bad = ["%s=%s (want %s)" % (k, m.get(k), v) for k, v in want.items() if m.get(k) != v]
    report(not bad, "status: Prometheus metrics", "; ".join(bad))
    proc = run_doctor(t)
    report("2001-09-09T01:46:40Z pause      +360.000000 s step  detected after 0.20 s"
           in proc.stdout, "status: text lists the disruptions", proc.stdout[-600:])

    t.status_file(disruptions=[(now - 600, 360.0, "pause", 0.2, "step")])
    expect("status: step 10 min ago -> WARN", t, {"ptpkvm.status": "WARN"},
           contains={"ptpkvm.status": "clock stepped by +360.000000 s (pause) 10 min ago"})
    t.status_file(disruptions=[(now - 600, 0.5, "pause", 0.2, "flush")])
    expect("status: a recent flush without step -> OK", t, {"ptpkvm.status": "OK"})
    t.status_file(failing=1, failures=30, mode="basic")
    st, checks, doc = expect("status: reads failing -> WARN", t, {"ptpkvm.status": "WARN"},
                             "--prometheus", prom, contains={"ptpkvm.status": "reads are failing"})
    m = prom_samples(prom)
    report(m.get('ptpkvm_reading_failing{refclock="0"}') == 1 and
           m.get('ptpkvm_read_failures_total{refclock="0"}') == 30 and
           m.get('ptpkvm_reading_mode_fallback{refclock="0"}') == 1 and
           'ptpkvm_last_disruption_size_seconds{refclock="0"}' not in m,
           "status: failing, fallback mode, no disruption in Prometheus", str(m)[:300])
    t.status_file(pid=999)
    expect("status: chronyd gone -> WARN (stale)", t, {"ptpkvm.status": "WARN"},
           contains={"ptpkvm.status": "stale: chronyd pid 999 is not running"})
    t.status_file(pid=999, state="stopped")
    expect("status: stopped chronyd -> OK, said so", t, {"ptpkvm.status": "OK"},
           contains={"ptpkvm.status": "(chronyd stopped)"})
    t.status_file(tail="")
    t.status_file(index=1)
    t.write("/run/chrony/ptpkvm-1.status.tmp", "partial")
    st, checks, doc = expect("status: truncated file -> WARN naming the problem", t,
                             {"ptpkvm.status": "WARN"}, "--prometheus", prom,
                             contains={"ptpkvm.status": "/run/chrony/ptpkvm-0.status: line 14: "
                                       "no 'end' line (file truncated?)"})
    m = prom_samples(prom)
    files = [c for c in doc["checks"] if c["id"] == "ptpkvm.status"][0]["details"]["files"]
    report([sorted(f) for f in files] == [["error", "file"], sorted(STATUS_KEYS)] and
           "line 14" in files[0]["error"], "status: JSON details, the bad file's error", str(files)[:300])
    report("ptpkvm-1.status: /dev/ptp0" in checks["ptpkvm.status"]["message"] and
           "ptpkvm-1.status.tmp" not in checks["ptpkvm.status"]["message"] and
           'ptpkvm_reads_total{refclock="1"}' in m and
           'ptpkvm_reads_total{refclock="0"}' not in m,
           "status: two files, the bad one only reported, the temporary one ignored",
           checks["ptpkvm.status"]["message"][:300])
    t.remove("/run/chrony")
    expect("status: no run directory -> SKIP", t, {"ptpkvm.status": "SKIP"},
           contains={"ptpkvm.status": "no PTPKVM status file in /run/chrony"})
    if os.getuid() == 0:
        with nobody_workdir():
            t = healthy("status-nobody")
            t.status_file()
            os.chmod(t.path("/run/chrony"), 0o750)
            expect("status: run directory not readable -> SKIP, says how", t,
                   {"ptpkvm.status": "SKIP"}, as_nobody=True,
                   contains={"ptpkvm.status": "run the doctor as root"})


def test_cli():
    t = healthy("cli")
    t.write("/sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet\n")
    proc = run_doctor(t)
    report(proc.returncode == 2 and "[WARN] clocksource.current" in proc.stdout
           and "fix: echo kvm-clock" in proc.stdout and "summary: FAIL" in proc.stdout,
           "text: statuses, one-line fixes, summary", proc.stdout[-400:])
    proc = run_doctor(t, "--quiet")
    report(proc.returncode == 2 and proc.stdout == "", "--quiet prints nothing, keeps exit code")

    prom = os.path.join(t.root, "textfile", "ptpkvm.prom")
    os.makedirs(os.path.dirname(prom), exist_ok=True)
    with open(prom, "w") as f:
        f.write("stale\n")
    old_ino = os.stat(prom).st_ino
    proc = run_doctor(t, "--quiet", "--prometheus", prom)
    text = open(prom).read()
    lines = [l for l in text.splitlines() if l and not l.startswith("#")]
    good_lines = all(re.match(r'^ptpkvm_doctor_[a-z_]+(\{check="[a-z_.]+"\})? -?[0-9.e+-]+$', l) or
                     re.match(r'^ptpkvm_[a-z_]+\{refclock="0"(,[a-z]+="[^"]*")*\} -?[0-9.]+$', l)
                     for l in lines)
    report(proc.returncode == 2 and good_lines and "ptpkvm_doctor_status 2" in lines
           and 'ptpkvm_doctor_check_status{check="clocksource.current"} 1' in lines
           and "stale" not in text, "prometheus: format and values", text[:300])
    report(os.stat(prom).st_ino != old_ino and
           os.listdir(os.path.dirname(prom)) == ["ptpkvm.prom"],
           "prometheus: replaced by rename, no temporary file left",
           str(os.listdir(os.path.dirname(prom))))
    names = [l.split()[2] for l in text.splitlines() if l.startswith("# TYPE")]
    report(len(names) == len(set(names)), "prometheus: each metric declared once", str(names))

    proc = run_doctor(t, "--prometheus", os.path.join(t.root, "no", "such", "dir", "x.prom"))
    report(proc.returncode == 3 and "cannot write" in proc.stderr,
           "prometheus: unwritable path -> exit 3")
    proc = run_doctor(t, "--bogus")
    report(proc.returncode == 3, "bad option -> exit 3")
    proc = run_doctor(t, "--samples", "-1")
    report(proc.returncode == 3, "bad --samples -> exit 3")
    proc = run_doctor(t, "--timeout", "0")
    report(proc.returncode == 3, "bad --timeout -> exit 3")
    proc = run_doctor(t, "extra-argument")
    report(proc.returncode == 3, "stray argument -> exit 3")
    proc = subprocess.run([ARGS.doctor, "--root", os.path.join(t.root, "missing")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    report(proc.returncode == 3, "--root that is no directory -> exit 3")
    # read-only by construction: nothing in the binary can set or steer a clock
    proc = subprocess.run(["nm", "-D", "--undefined-only", ARGS.doctor], stdout=subprocess.PIPE,
                          universal_newlines=True)
    imports = {l.split()[-1].split("@")[0] for l in proc.stdout.splitlines() if l.strip()}
    forbidden = imports & {"adjtimex", "ntp_adjtime", "clock_adjtime", "clock_settime",
                           "settimeofday", "stime", "adjtime", "syscall"}
    report(proc.returncode == 0 and "ioctl" in imports and not forbidden,
           "binary imports no clock-setting call (needs no CAP_SYS_TIME)", str(forbidden))
    proc = subprocess.run([ARGS.doctor, "--help"], stdout=subprocess.PIPE)
    report(proc.returncode == 0 and b"--prometheus" in proc.stdout, "--help")


@contextlib.contextmanager
def nobody_workdir():
    """Fixture trees and a copy of the doctor in a directory another user can
    reach (the build tree may lie below a directory only root can enter)."""
    saved, saved_doctor = ARGS.workdir, ARGS.doctor
    ARGS.workdir = tempfile.mkdtemp(prefix="ptpkvm-doctor-nobody-")
    os.chmod(ARGS.workdir, 0o755)
    try:
        ARGS.doctor = os.path.join(ARGS.workdir, "ptpkvm-doctor")
        shutil.copy(saved_doctor, ARGS.doctor)
        os.chmod(ARGS.doctor, 0o755)
        yield
    finally:
        shutil.rmtree(ARGS.workdir, ignore_errors=True)
        ARGS.workdir, ARGS.doctor = saved, saved_doctor


def test_unprivileged():
    """Run as a non-root user: it must work and say what it could not read."""
    with nobody_workdir():
        t = healthy("nobody")
        t.remove("/dev/ptp_kvm")
        # root-only device and kernel log; as a non-root runner mode 0 does the same
        mode = 0o600 if os.getuid() == 0 else 0
        os.chmod(t.path("/dev/ptp0"), mode)
        os.chmod(t.path("/dev/kmsg"), mode)
        st, checks, doc, proc = statuses(t, as_nobody=(os.getuid() == 0))
    if doc is None:
        report(False, "unprivileged: no report", proc.stderr)
        return
    report(doc["uid"] != 0, "unprivileged: runs as non-root", str(doc["uid"]))
    ioctls = checks.get("phc.ioctls", {})
    report(st.get("phc.ioctls") == "SKIP" and "Permission denied" in ioctls.get("message", ""),
           "unprivileged: device not readable -> SKIP with the reason", str(ioctls))
    report(st.get("kernel.clock_log") == "SKIP", "unprivileged: kernel log -> SKIP")
    unread = " ".join(doc["unreadable"])
    report("/dev/ptp0" in unread and "/dev/kmsg" in unread,
           "unprivileged: unreadable paths listed", unread)
    want = {i: "OK" for i in EXPECTED_IDS}
    want.update({"phc.ioctls": "SKIP", "phc.stats": "SKIP", "kernel.clock_log": "SKIP",
                 "phc.devices": "WARN", "phc.access": "WARN", "chrony.config": "SKIP",
                 "chrony.driver": "SKIP", "chrony.refclock": "SKIP", "chrony.makestep": "SKIP",
                 "chrony.update": "SKIP"})
    bad = ["%s=%s" % (k, st.get(k)) for k in want if st.get(k) != want[k]]
    report(not bad and proc.returncode == 1,
           "unprivileged: everything else checked; only WARNs -> exit 1",
           "rc=%d %s" % (proc.returncode, bad))


def test_installed_assets():
    """The files make install-guest put under DESTDIR, and the doctor's view of them."""
    d = ARGS.destdir
    if not d:
        return
    files = {
        "usr/lib/udev/rules.d/61-ptpkvm.rules": None,
        "usr/lib/systemd/system/chrony.service.d/50-ptpkvm.conf": None,
        "usr/lib/systemd/system/chrony-wait.service.d/50-ptpkvm.conf": None,
        "usr/lib/systemd/system/modprobe@ptp_kvm.service.d/50-ptpkvm.conf": None,
        "usr/lib/chrony-ptpkvm/ptpkvm-refclock": None,
        "etc/chrony/ptpkvm.conf": None,
        "etc/chrony/conf.d/ptpkvm.conf": None,
        "usr/bin/ptpkvm-doctor": None,
        "usr/share/man/man8/ptpkvm-doctor.8": None,
    }
    # every page the doctor's advice names (tools/*.c: DOC_DocPath)
    for page in ("configuration", "monitoring", "setup", "troubleshooting"):
        files["usr/share/doc/chrony-ptpkvm/%s.md" % page] = None
    for rel in files:
        report(os.path.isfile(os.path.join(d, rel)), "installed: %s" % rel)
    rules = open(os.path.join(d, "usr/lib/udev/rules.d/61-ptpkvm.rules")).read()
    rule_lines = [l for l in rules.splitlines() if l.strip() and not l.startswith("#")]
    ok = "@" not in rules and 'GROUP="_chrony"' in rules and 'SYMLINK+="ptp_kvm"' in rules
    for l in rule_lines:
        for part in [p.strip() for p in l.split(",")]:
            ok &= bool(re.match(r'^(ACTION|SUBSYSTEM|ATTR\{clock_name\}|SYMLINK|TAG|GROUP|MODE|'
                                r'GOTO|LABEL)(==|!=|\+=|=)"[^"]*"$', part))
    report(ok, "installed udev rule: substituted group, well-formed keys", rules)
    for unit in ("chrony.service.d", "chrony-wait.service.d", "modprobe@ptp_kvm.service.d"):
        text = open(os.path.join(d, "usr/lib/systemd/system", unit, "50-ptpkvm.conf")).read()
        body = [l for l in text.splitlines() if l and not l.startswith("#")]
        good = bool(body) and body[0] in ("[Unit]", "[Service]") and \
            all(re.match(r"^(\[[A-Za-z]+\]|[A-Za-z]+=.*)$", l) for l in body)
        report(good, "installed drop-in %s is a unit file" % unit)
    # systemd's own parser on the drop-ins, applied to stub units of the same names
    units = tempfile.mkdtemp(prefix="ptpkvm-units-")
    try:
        shutil.copytree(os.path.join(d, "usr/lib/systemd/system"), units, dirs_exist_ok=True)
        for name in ("chrony.service", "chrony-wait.service"):
            with open(os.path.join(units, name), "w") as f:
                f.write("[Unit]\nDescription=stub\n[Service]\nType=oneshot\nExecStart=/bin/true\n")
        env = dict(os.environ, SYSTEMD_UNIT_PATH=units + ":")
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", "chrony.service",
                            "chrony-wait.service", "modprobe@ptp_kvm.service"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, cwd=units)
        # chronyc need not be installed on the build machine; everything else counts
        problems = [l for l in p.stdout.splitlines() if l.strip() and "is not executable" not in l]
        report(not problems, "installed drop-ins pass systemd-analyze verify", "; ".join(problems))
    finally:
        shutil.rmtree(units, ignore_errors=True)
    man = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l",
                          os.path.join(d, "usr/share/man/man8/ptpkvm-doctor.8")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         env=dict(os.environ, MANWIDTH="80"))
    report(man.returncode == 0 and not man.stderr and "--chronyd" in man.stdout and
           "EXIT STATUS" in man.stdout, "installed manual page renders without warnings",
           man.stderr[:300])
    wait = open(os.path.join(d, "usr/lib/systemd/system/chrony-wait.service.d/50-ptpkvm.conf")).read()
    report("ExecStart=\n" in wait and "waitsync" in wait, "chrony-wait drop-in resets ExecStart")

    report("confdir /run/chrony" in open(os.path.join(d, "etc/chrony/conf.d/ptpkvm.conf")).read(),
           "installed conf.d/ptpkvm.conf reads /run/chrony")
    # a guest with only the installed assets (module loaded, the helper's file written)
    t = healthy("installed")
    for rel in (PULL_DROPIN, "/usr/lib/systemd/system/modprobe@ptp_kvm.service.d/50-ptpkvm.conf",
                "/etc/chrony/conf.d/ptpkvm.conf"):
        t.write(rel, open(os.path.join(d, rel.lstrip("/"))).read())
    t.remove(VERDICT)
    helper = os.path.join(d, "usr/lib/chrony-ptpkvm/ptpkvm-refclock")
    text = open(helper).read().replace("/etc/chrony/ptpkvm.conf",
                                       os.path.join(d, "etc/chrony/ptpkvm.conf"))
    text = text.replace("/run/chrony/ptpkvm.conf", t.path(VERDICT))
    subprocess.run(["sh", "-c", text, "ptpkvm-refclock", t.path("/usr/sbin/chronyd")], check=False)
    expect("installed assets: boot OK, the helper's file read, chronyd accepts its line", t,
           {"kernel.ptp_kvm_boot": "OK", "chrony.config": "OK", "chrony.makestep": "OK",
            "chrony.driver": "OK"},
           contains={"chrony.refclock": "refclock PTPKVM", "chrony.driver": "in use"})


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--doctor")
    ap.add_argument("--workdir")
    ap.add_argument("--chronyd", help="the build's chronyd, put in every fixture tree")
    ap.add_argument("--make-root", default=None,
                    help="only put --chronyd and its libraries into this directory")
    ap.add_argument("--only-install", action="store_true",
                    help="only the checks of the installed guest assets")
    ap.add_argument("--destdir", default=None)
    ap.add_argument("--check-json", default=None,
                    help="only validate this JSON report against the schema")
    ARGS = ap.parse_args()
    if ARGS.check_json:
        with open(ARGS.check_json) as f:
            doc = json.load(f)
        problems = check_schema(doc)
        ids = [c["id"] for c in doc.get("checks", [])]
        report(not problems, "schema of %s" % ARGS.check_json, "; ".join(problems))
        report(ids == EXPECTED_IDS, "every check reported once, in order", str(ids))
        # apt knows no chrony-ptpkvm package on the build machine
        report(doc.get("exit_code") == 0 and
               all(c["status"] == "OK" for c in doc["checks"] if c["id"] != "chrony.update"),
               "healthy fake guest: all OK, exit_code 0")
        return finish()
    if ARGS.make_root:
        shutil.rmtree(ARGS.make_root, ignore_errors=True)
        install_binary(os.path.abspath(ARGS.chronyd), ARGS.make_root, "/usr/sbin/chronyd")
        return 0
    ARGS.doctor = os.path.abspath(ARGS.doctor)
    if os.path.isdir(ARGS.workdir):
        shutil.rmtree(ARGS.workdir)
    os.makedirs(ARGS.workdir)

    if not ARGS.doctor or not ARGS.workdir or not ARGS.chronyd:
        ap.error("--doctor, --workdir and --chronyd are required")
    ARGS.chronyd_root = os.path.join(ARGS.workdir, "chronyd-root")
    install_binary(os.path.abspath(ARGS.chronyd), ARGS.chronyd_root, "/usr/sbin/chronyd")
    tests = (test_healthy, test_kvm, test_module, test_module_truth, test_devices, test_access,
             test_chrony_config, test_driver_and_update, test_clocksource, test_services, test_sync,
             test_status, test_cli,
             test_unprivileged)
    if ARGS.only_install:
        if not ARGS.destdir:
            ap.error("--only-install needs --destdir")
        tests = (test_installed_assets,)
    run(tests)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
