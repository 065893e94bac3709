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
# script generates (/etc, units, /run/chrony, the build's chronyd with the
# libraries it loads, asked by the doctor in a chroot), one tree per
# scenario, and checks what --root checks (configuration, driver, packages,
# boot loading, status files; the device and kernel checks say they are
# skipped), every WARN and FAIL path of those, the JSON schema, exit codes,
# the Prometheus file, the unprivileged run and the installed guest assets.
# chrony.sync runs without --root, on a stub chronyc.  The device and
# kernel checks run under the guest simulator (test_sim.py) and in a booted
# guest (make vm-check).
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
PULL_DROPIN = "/usr/lib/systemd/system/chrony.service.d/50-ptpkvm.conf"
VERDICT = "/run/chrony/ptpkvm.conf"
STATUSES = ("OK", "WARN", "FAIL", "SKIP")
EXPECTED_IDS = [
    "kvm.guest", "phc.devices", "kernel.ptp_kvm", "kernel.ptp_kvm_boot",
    "chrony.config", "chrony.driver", "chrony.refclock", "chrony.update",
    "phc.read", "clocksource.current", "chrony.sync", "ptpkvm.status",
]
# what --root does not look at
ROOT_SKIPPED = ["kvm.guest", "phc.devices", "kernel.ptp_kvm", "phc.read",
                "clocksource.current", "chrony.sync"]
ROOT_SKIP = "skipped: --root (devices are checked on the running system)"
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

    # --- pieces of a guest
    def process(self, pid, comm, ppid=1):
        self.write("/proc/%d/comm" % pid, comm + "\n")
        self.write("/proc/%d/stat" % pid,
                   "%d (%s) S %d %d %d 0 -1 4194560 0 0 0 0\n" % (pid, comm, ppid, pid, pid))

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
        /run/chrony/ptpkvm.conf its helper writes for a chronyd with the driver."""
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
    """The files of a KVM guest image set up right: every check --root makes OK."""
    t = Tree(name)
    t.chrony_conf("# Debian-like\npool 2.debian.pool.ntp.org iburst\n"
                  "makestep 1 3\nconfdir /etc/chrony/conf.d\n")
    t.packaged()
    t.process(412, "chronyd")
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
    want = {"tool": str, "schema": int, "root": str, "uid": int,
            "status": str, "exit_code": int, "checks": list}
    for key, typ in want.items():
        if key not in doc:
            problems.append("missing key %s" % key)
        elif not isinstance(doc[key], typ) or (typ is int and isinstance(doc[key], bool)):
            problems.append("key %s is not %s" % (key, typ.__name__))
    if problems:
        return problems
    if set(doc) - set(want):
        problems.append("unexpected keys %s" % sorted(set(doc) - set(want)))
    if doc["tool"] != "ptpkvm-doctor" or doc["schema"] != 2:
        problems.append("tool/schema")
    ids = set()
    worst = 0
    for c in doc["checks"]:
        if set(c) - {"details"} != {"id", "status", "message", "fix"}:
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
        problems += details_problems(c)
        if c["status"] != "SKIP":
            worst = max(worst, STATUSES.index(c["status"]))
    if doc["exit_code"] != worst or doc["status"] != STATUSES[worst]:
        problems.append("status %s/exit %d but worst check is %s" %
                        (doc["status"], doc["exit_code"], STATUSES[worst]))
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
    # a tree's /sys and /proc are not the running system's: never judged
    t.write("/sys/devices/system/clocksource/clocksource0/current_clocksource", "jiffies\n")
    t.write("/sys/class/ptp/ptp0/clock_name", "KVM virtual PTP\n")
    t.write("/proc/modules", "ptp 36864 0 - Live 0x0\n")
    want = {i: "OK" for i in EXPECTED_IDS}
    want.update({i: "SKIP" for i in ROOT_SKIPPED})
    want.update({"chrony.refclock": "SKIP", "chrony.update": "SKIP"})
    st, checks, doc = expect("healthy tree: every check of files OK, devices skipped", t, want,
                             contains={"kernel.ptp_kvm_boot": "modprobe@ptp_kvm.service (pulled "
                                       "in by %s, only under KVM)" % PULL_DROPIN,
                                       "chrony.refclock": "refclock PTPKVM auto: device " +
                                                          ROOT_SKIP,
                                       "chrony.driver": "has the PTPKVM driver; %s: in use" % VERDICT})
    report(doc is not None and [c["id"] for c in doc["checks"]] == EXPECTED_IDS,
           "every check reported once, in order",
           doc and str([c["id"] for c in doc["checks"]]))
    report(doc is not None and all(checks[i]["message"] == ROOT_SKIP for i in ROOT_SKIPPED),
           "--root: the device and kernel checks say why they are skipped")


def test_boot():
    """What loads ptp_kvm at boot, from the tree's files."""
    t = healthy("boot")
    t.remove(PULL_DROPIN)
    expect("boot: no chrony drop-in, no entry -> WARN", t, {"kernel.ptp_kvm_boot": "WARN"},
           contains={"kernel.ptp_kvm_boot": "install chrony-ptpkvm"})
    t.write("/etc/modules", "# /etc/modules\nloop\nptp_kvm\n")
    expect("boot: /etc/modules counts -> OK", t, {"kernel.ptp_kvm_boot": "OK"},
           contains={"kernel.ptp_kvm_boot": "/etc/modules"})
    t.remove("/etc/modules")
    t.write("/usr/lib/modules-load.d/ptp-kvm.conf", "ptp-kvm\n")
    expect("boot: /usr/lib/modules-load.d, dash spelling -> OK", t,
           {"kernel.ptp_kvm_boot": "OK"}, contains={"kernel.ptp_kvm_boot": "ptp-kvm.conf"})
    t.remove("/usr/lib/modules-load.d")
    t.write("/etc/systemd/system/chronyd.service.d/x.conf",
            "[Unit]\nWants=modprobe@ptp_kvm.service\n")
    expect("boot: RHEL's chronyd.service drop-in -> OK", t, {"kernel.ptp_kvm_boot": "OK"},
           contains={"kernel.ptp_kvm_boot": "modprobe@ptp_kvm.service (pulled in by "
                                            "/etc/systemd/system/chronyd.service.d/x.conf"})


def test_chrony_config():
    """Which file the doctor gives chronyd, and what it makes of chronyd's
    answer; which device a line opens is tested under the simulator (test_sim.py),
    whether chronyd accepts a line in test_refclock_table.py."""
    t = healthy("conf")
    t.remove("/etc/chrony")
    expect("config: none -> WARN, refclock SKIP", t,
           {"chrony.config": "WARN", "chrony.refclock": "SKIP"})
    t.chrony_conf("refclock PTPKVM auto\n", "/etc/chrony.conf")
    expect("config: RHEL path found", t, {"chrony.config": "OK"},
           contains={"chrony.config": "/etc/chrony.conf"})
    t.chrony_conf("pool pool.ntp.org\nrefclock SHM 0\n", "/etc/chrony.conf")
    expect("config: no PHC refclock -> FAIL", t, {"chrony.refclock": "FAIL"},
           contains={"chrony.refclock": "PTPKVM auto"})
    t.chrony_conf("refclock SHM 0\nmakestep 1\n", "/etc/chrony.conf")
    expect("config: chronyd's own error line, verbatim -> FAIL", t,
           {"chrony.config": "FAIL", "chrony.refclock": "SKIP"},
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
    expect("config: included PTPKVM line", t, {"chrony.config": "OK"},
           contains={"chrony.refclock": "refclock PTPKVM auto"})
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
                           contains={"chrony.driver": "%s: %s" % (VERDICT, verdict)})
    report("make deb" in checks.get("chrony.driver", {}).get("fix", ""),
           "driver: the verdict's finding has the rebuild command as its fix")
    t.chronyd_stub("+CMDMON +NTP +REFCLOCK +PTPKVM")
    expect("driver: chronyd has the driver, last start said NOT USED -> WARN restart", t,
           {"chrony.driver": "WARN"}, contains={"chrony.driver": "%s: %s" % (VERDICT, verdict)})
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


def test_sync():
    """chrony.sync asks the running chronyd: without --root, a stub chronyc"""
    d = os.path.join(ARGS.workdir, "sync")
    os.makedirs(d, exist_ok=True)
    conf, stub = os.path.join(d, "chrony.conf"), os.path.join(d, "chronyc")
    with open(conf, "w") as f:
        f.write("refclock PTPKVM auto\n")

    def chronyc(output, status=0):
        # checks that the doctor asks exactly for CSV tracking without DNS
        with open(stub, "w") as f:
            f.write("#!/bin/sh\n[ \"$*\" = \"-n -c tracking\" ] || { echo \"bad args: $*\" >&2; "
                    "exit 9; }\ncat <<'EOF'\n%s\nEOF\nexit %d\n" % (output, status))
        os.chmod(stub, 0o755)

    def sync(name, want, contains="", *extra):
        p = subprocess.run([ARGS.doctor, "--json", "--samples", "0", "--chronyd", ARGS.chronyd,
                            "--config", conf, "--chronyc", stub] + list(extra),
                           stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
        c = {c["id"]: c for c in json.loads(p.stdout)["checks"]}.get("chrony.sync", {})
        report(c.get("status") == want and contains in c.get("message", "") + c.get("fix", ""),
               name, str(c))

    chronyc(GOOD_CSV)
    sync("sync: synchronised to PHC0 -> OK, offset and frequency from the CSV", "OK",
         "synchronised to PHC0 (stratum 1), offset +0.000000012 s, RMS offset 0.000000030 s, "
         "frequency -12.345 ppm")
    chronyc("00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,"
            "0.000,1.000000000,1.000000000,0.0,Not synchronised")
    sync("sync: not synchronised -> FAIL", "FAIL")
    chronyc(GOOD_CSV.replace("50484330,PHC0,1", "7F7F0101,,10"))
    sync("sync: local reference -> WARN", "WARN", "local clock")
    chronyc(GOOD_CSV.replace("50484330,PHC0,1", "C0000201,192.0.2.1,2"))
    sync("sync: NTP server selected although a refclock is set -> WARN", "WARN", "192.0.2.1")
    chronyc(GOOD_CSV.replace(",0.000000012,", ",-0.250000000,"))
    sync("sync: large remaining correction -> WARN", "WARN", "-0.250000")
    chronyc("506 Cannot talk to daemon", status=1)
    sync("sync: chronyd not answering -> WARN (not FAIL), chronyc's words",
         "WARN", "(506 Cannot talk to daemon)")
    chronyc("garbage,1,2")
    sync("sync: unexpected output -> WARN", "WARN", "unexpected")
    with open(stub, "w") as f:
        f.write("#!/bin/sh\nexec sleep 30\n")
    sync("sync: chronyc hangs -> killed after the time limit, WARN", "WARN", "timed out")
    with open(stub, "w") as f:
        f.write("#!/bin/sh\ntrap '' TERM\nexec sleep 30\n")
    sync("sync: chronyc ignores TERM -> KILLed a second later, WARN", "WARN", "timed out")
    os.unlink(stub)
    sync("sync: no chronyc -> WARN", "WARN", "No such file")
    sync("sync: --no-chronyc -> SKIP", "SKIP", "", "--no-chronyc")


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
    t.remove(PULL_DROPIN)
    t.chrony_conf("pool pool.ntp.org\n")
    proc = run_doctor(t)
    report(proc.returncode == 2 and "[WARN] kernel.ptp_kvm_boot" in proc.stdout
           and "fix: install chrony-ptpkvm" in proc.stdout and "summary: FAIL" in proc.stdout,
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
           and 'ptpkvm_doctor_check_status{check="kernel.ptp_kvm_boot"} 1' in lines
           and "stale" not in text, "prometheus: format and values", text[:300])
    report(os.stat(prom).st_ino != old_ino and
           os.listdir(os.path.dirname(prom)) == ["ptpkvm.prom"],
           "prometheus: replaced by rename, no temporary file left",
           str(os.listdir(os.path.dirname(prom))))
    names = [l.split()[2] for l in text.splitlines() if l.startswith("# TYPE")]
    report(len(names) == len(set(names)), "prometheus: each metric declared once", str(names))
    # each metric's type as docs/monitoring.md's table gives it
    types = dict(l.split()[2:4] for l in text.splitlines() if l.startswith("# TYPE"))
    doc = re.findall(r"^\| `(ptpkvm_[a-z_]+)[^`]*` \| (\w+) \|",
                     open(os.path.join(TOP, "docs", "monitoring.md")).read(), re.M)
    report(len(doc) == 16 and all(types.get(n) == t for n, t in doc),
           "prometheus: types as docs/monitoring.md says", str(doc))

    proc = run_doctor(t, "--prometheus", os.path.join(t.root, "no", "such", "dir", "x.prom"))
    report(proc.returncode == 3 and "cannot write" in proc.stderr,
           "prometheus: unwritable path -> exit 3")
    proc = run_doctor(t, "--bogus")
    report(proc.returncode == 3, "bad option -> exit 3")
    proc = run_doctor(t, "--samples", "-1")
    report(proc.returncode == 3, "bad --samples -> exit 3")
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
        # chronyd's run directory, root's only; as a non-root runner mode 0 does the same
        os.chmod(t.path("/run/chrony"), 0o700 if os.getuid() == 0 else 0)
        st, checks, doc, proc = statuses(t, as_nobody=(os.getuid() == 0))
    if doc is None:
        report(False, "unprivileged: no report", proc.stderr)
        return
    report(doc["uid"] != 0, "unprivileged: runs as non-root", str(doc["uid"]))
    report("Permission denied" in checks["ptpkvm.status"]["message"],
           "unprivileged: the unreadable run directory is named with the reason",
           checks["ptpkvm.status"]["message"])
    want = {i: "SKIP" for i in EXPECTED_IDS}
    want["kernel.ptp_kvm_boot"] = "OK"
    bad = ["%s=%s" % (k, st.get(k)) for k in want if st.get(k) != want[k]]
    report(not bad and proc.returncode == 0 and
           "run the doctor as root" in checks["ptpkvm.status"]["message"] and
           "as non-root" in checks["chrony.config"]["message"],
           "unprivileged: what needs root says so; nothing else fails -> exit 0",
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
    # a link where the file goes (chronyd's user owns /run/chrony): replaced,
    # never written through
    victim = t.path("/etc/victim")
    t.write("/etc/victim", "victim\n")
    t.remove(VERDICT)
    os.symlink(victim, t.path(VERDICT))
    helper = os.path.join(d, "usr/lib/chrony-ptpkvm/ptpkvm-refclock")
    text = open(helper).read().replace("/etc/chrony/ptpkvm.conf",
                                       os.path.join(d, "etc/chrony/ptpkvm.conf"))
    text = text.replace("/run/chrony/ptpkvm.conf", t.path(VERDICT))
    ran = subprocess.run(["sh", "-c", text, "ptpkvm-refclock", t.path("/usr/sbin/chronyd"), "-v"],
                         stdout=subprocess.PIPE, text=True, check=False)
    report("chronyd (chrony) version 4.6.1" in ran.stdout,
           "the helper runs chronyd with the unit's options after it")
    report(open(victim).read() == "victim\n" and not os.path.islink(t.path(VERDICT)),
           "the helper replaces a link at its file, never writes through it")
    expect("installed assets: boot OK, the helper's file read, chronyd accepts its line", t,
           {"kernel.ptp_kvm_boot": "OK", "chrony.config": "OK", "chrony.driver": "OK"},
           contains={"chrony.refclock": "refclock PTPKVM", "chrony.driver": "in use"})


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--doctor")
    ap.add_argument("--workdir")
    ap.add_argument("--chronyd", help="the build's chronyd, put in every fixture tree")
    ap.add_argument("--only-install", action="store_true",
                    help="only the checks of the installed guest assets")
    ap.add_argument("--destdir", default=None)
    ARGS = ap.parse_args()
    ARGS.doctor = os.path.abspath(ARGS.doctor)
    if os.path.isdir(ARGS.workdir):
        shutil.rmtree(ARGS.workdir)
    os.makedirs(ARGS.workdir)

    if not ARGS.doctor or not ARGS.workdir or not ARGS.chronyd:
        ap.error("--doctor, --workdir and --chronyd are required")
    ARGS.chronyd_root = os.path.join(ARGS.workdir, "chronyd-root")
    install_binary(os.path.abspath(ARGS.chronyd), ARGS.chronyd_root, "/usr/sbin/chronyd")
    tests = (test_healthy, test_boot, test_chrony_config, test_driver_and_update, test_sync,
             test_status, test_cli, test_unprivileged)
    if ARGS.only_install:
        if not ARGS.destdir:
            ap.error("--only-install needs --destdir")
        tests = (test_installed_assets,)
    run(tests)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
