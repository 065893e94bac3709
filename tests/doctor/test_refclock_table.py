#!/usr/bin/env python3
# chrony-ptpkvm - configuration lines through the real chronyd and through the doctor
#
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of version 2 of the GNU General Public License as
# published by the Free Software Foundation.
#
# One table of configuration lines, run against the chronyd of one version
# (CHRONY_VERSION; CI runs 4.3, 4.6.1 and 4.9).  Each is written into a
# chrony.conf and
#  1. parsed by that chronyd's `-p` (the whole grammar of its version), and
#     started by it, never touching the clock (-x: no clock control, -Q:
#     print only, CAP_SYS_TIME dropped from the bounding set, no command
#     socket or port, -t 0: quit as soon as the refclocks are initialised;
#     timeout 20 as a last resort): it refuses the configuration ("Fatal
#     error : MESSAGE") or starts;
#  2. checked by ptpkvm-doctor --chronyd (that chronyd) --config (the file):
#     chrony.config must be FAIL exactly when chronyd refuses, and then
#     contain chronyd's MESSAGE (a refusal of -p, or of the PTPKVM driver).
# Rows marked "p" name drivers the doctor does not judge (other drivers'
# options, unknown driver names): there the doctor must agree with -p, and
# chronyd is not started.  The column "chronyd" says what chronyd is
# expected to do, per version where versions differ; a line that behaves
# otherwise fails too, so the table documents the accepted forms.

import argparse
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from testlib import check, finish  # noqa: E402

LONG_NAME = "x" * 63
LEAP = "leapsectz right/UTC"

NEW_IN_49 = {"4.3": "refuse", "4.6.1": "refuse", "4.9": "accept"}
NEW_IN_46 = {"4.3": "refuse", "4.6.1": "accept", "4.9": "accept"}
LEAPLIST = "leapseclist /usr/share/zoneinfo/leap-seconds.list"

# (refclock arguments, chronyd's verdict, other directives[, "p"])
TABLE = [
    # the driver's own options
    ("PTPKVM auto:step=abc", "refuse", ""),
    ("PTPKVM auto:unknownopt=1", "refuse", ""),
    ("PTPKVM auto:clockname=", "refuse", ""),
    ("PTPKVM auto:sentinel=0.0001", "refuse", ""),
    ("PTPKVM AUTO", "refuse", ""),
    ("PTPKVM ptp0", "refuse", ""),
    ('PTPKVM ""', "refuse", ""),
    ("PTPKVM relative/ptp0", "refuse", ""),
    ("PTPKVM /dev/ptp0", "accept", ""),
    ("PTPKVM /dev/ptp_kvm:samples=5", "accept", ""),
    ("PTPKVM auto", "accept", ""),
    ("PTPKVM auto:", "accept", ""),
    # flags take no value
    ("PTPKVM auto:nocrossts:noextended", "accept", ""),
    ("PTPKVM auto:nocrossts=1", "refuse", ""),
    ("PTPKVM auto:noextended=yes", "refuse", ""),
    # limits of every option, both sides
    ("PTPKVM auto:samples=1", "accept", ""),
    ("PTPKVM auto:samples=25", "accept", ""),
    ("PTPKVM auto:samples=0", "refuse", ""),
    ("PTPKVM auto:samples=26", "refuse", ""),
    ("PTPKVM auto:samples=5x", "refuse", ""),
    ("PTPKVM auto:step=0", "accept", ""),
    ("PTPKVM auto:step=1e9", "accept", ""),
    ("PTPKVM auto:step=0x10", "accept", ""),
    ("PTPKVM auto:step=-1", "refuse", ""),
    ("PTPKVM auto:step=2e9", "refuse", ""),
    ("PTPKVM auto:step=nan", "refuse", ""),
    ("PTPKVM auto:jump=0.00001", "accept", ""),
    ("PTPKVM auto:jump=1e9", "accept", ""),
    ("PTPKVM auto:jump=0.000001", "refuse", ""),
    ("PTPKVM auto:jump=0", "refuse", ""),
    ("PTPKVM auto:confirm=1", "accept", ""),
    ("PTPKVM auto:confirm=10", "accept", ""),
    ("PTPKVM auto:confirm=0", "refuse", ""),
    ("PTPKVM auto:confirm=11", "refuse", ""),
    ("PTPKVM auto:maxsteps=-1", "accept", ""),
    ("PTPKVM auto:maxsteps=1000000000", "accept", ""),
    ("PTPKVM auto:maxsteps=-2", "refuse", ""),
    ("PTPKVM auto:maxsteps=1000000001", "refuse", ""),
    ("PTPKVM auto:sentinel=0", "accept", ""),
    ("PTPKVM auto:sentinel=0.01", "accept", ""),
    ("PTPKVM auto:sentinel=60", "accept", ""),
    ("PTPKVM auto:sentinel=61", "refuse", ""),
    ("PTPKVM auto:reprobe=0", "accept", ""),
    ("PTPKVM auto:reprobe=1e6", "accept", ""),
    ("PTPKVM auto:reprobe=-1", "refuse", ""),
    ("PTPKVM auto:reprobe=1000001", "refuse", ""),
    ("PTPKVM auto:clockname=KVM_virtual_PTP", "accept", ""),
    ("PTPKVM auto:clockname=" + LONG_NAME, "accept", ""),
    ("PTPKVM auto:clockname=" + LONG_NAME + "y", "refuse", ""),
    # option names as chrony's RCL_CheckDriverOptions/RCL_GetDriverOption match them
    ("PTPKVM auto:sample=5", "refuse", ""),
    ("PTPKVM auto:samplesx=5", "refuse", ""),
    ("PTPKVM auto::samples=5", "refuse", ""),
    ("PTPKVM auto:samples=5:samples=abc", "accept", ""),
    # generic options, parsed by chrony
    ("PTPKVM auto poll 2", "accept", ""),
    ("PTPKVM auto offset 0.5", "accept", ""),
    ("PTPKVM auto noselect", "accept", ""),
    ("PTPKVM auto PREFER trust require", "accept", ""),
    ("PTPKVM auto dpoll -2", "accept", ""),
    ("PTPKVM auto refid KVM stratum 15 filter 4 delay 1e-9 precision 1e-9", "accept", ""),
    ("PTPKVM auto minsamples 2 maxsamples 8 maxdispersion 1 width 0.1", "accept", ""),
    ("PTPKVM auto tai", "refuse", ""),
    ("PTPKVM auto tai", "accept", LEAP),
    ("PTPKVM auto poll", "refuse", ""),
    ("PTPKVM auto poll abc", "refuse", ""),
    ("PTPKVM auto poll 2x", "refuse", ""),
    ("PTPKVM auto offset x", "refuse", ""),
    ("PTPKVM auto refid TOOLONG", "refuse", ""),
    ("PTPKVM auto stratum 16", "refuse", ""),
    ("PTPKVM auto bogus 1", "refuse", ""),
    ("PTPKVM", "refuse", ""),
    # what one version has and another has not
    ("PTPKVM auto maxunreach 3", NEW_IN_49, ""),
    ("PTPKVM auto tai", NEW_IN_46, LEAPLIST),
    ("PTPKVM auto", NEW_IN_46, "ptpdomain 1"),
    ("RTC /dev/rtc0", "accept", "", "p"),
    # a comment after a directive is part of it
    ("PTPKVM auto", "refuse", "makestep 1 3 # at boot"),
    # driver names and other drivers' options are chronyd's (at start)
    ("ptpkvm auto", "accept", "", "p"),
    ("PTPKVMX auto", "accept", "", "p"),
    ("SHM 0:bogus", "accept", "", "p"),
    ("SOCK /nonexistent/chrony.sock:perm=0600", "accept", "", "p"),
    # the stock PHC driver stops when it cannot open its device
    ("PHC /dev/ptp_kvm:bogus", "refuse", ""),
    # the stock PHC driver stops when it cannot open its device
    ("PHC /dev/ptp_nonexistent", "refuse", ""),
    ("PHC auto", "refuse", ""),
    # chronyd reads the whole file before it starts a refclock
    ("PTPKVM auto:samples=0", "refuse", "makestep 1"),
]


def chronyd_verdict(args, conf, parse_only):
    """('accept', '') or ('refuse', message) from the real chronyd."""
    cmd = ["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--",
           "timeout", "20", args.chronyd, "-f", conf]
    cmd += ["-p"] if parse_only else ["-x", "-Q", "-u", "root", "-d", "-t", "0"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    for line in p.stdout.splitlines():
        if "Fatal error : " in line:
            return "refuse", line.split("Fatal error : ", 1)[1].strip()
    if ("Timeout reached" in p.stdout) if not parse_only else p.returncode == 0:
        return "accept", ""
    return "unknown", "exit %d: %s" % (p.returncode, p.stdout[-300:])


def doctor_verdict(args, conf):
    """('accept'|'refuse', chrony.config message) from ptpkvm-doctor."""
    p = subprocess.run([args.doctor, "--chronyd", args.chronyd, "--config", conf, "--json",
                        "--no-chronyc", "--samples", "0"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=60)
    try:
        checks = {c["id"]: c for c in json.loads(p.stdout)["checks"]}
    except (ValueError, KeyError):
        return "unknown", "exit %d: %s %s" % (p.returncode, p.stdout[:200], p.stderr[:200])
    c = checks.get("chrony.config", {})
    return ("refuse" if c.get("status") == "FAIL" else "accept"), c.get("message", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doctor", required=True)
    ap.add_argument("--chronyd", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--version", required=True, help="chronyd's version (CHRONY_VERSION)")
    args = ap.parse_args()
    work = os.path.abspath(args.workdir)
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)

    seen = set()
    for i, (line, want, extra, *p_only) in enumerate(TABLE):
        want = want.get(args.version, "accept") if isinstance(want, dict) else want
        d = os.path.join(work, "%02d" % i)
        os.makedirs(d)
        conf = os.path.join(d, "chrony.conf")
        with open(conf, "w") as f:
            f.write("refclock %s\n%s%spidfile %s/chronyd.pid\ncmdport 0\nport 0\n"
                    "bindcmdaddress /\n" % (line, extra, "\n" if extra else "", d))
        name = "refclock %s%s" % (line, " + " + extra if extra else "")
        got, message = chronyd_verdict(args, conf, True)
        by = "-p"
        if got == "accept" and not p_only:
            got, message = chronyd_verdict(args, conf, False)
            by = "start" if got == "refuse" else by
        seen.add(got)
        check(got == want, "chronyd %s %ss %s" % (args.version, want, name),
              "(got %s %s)" % (got, message))
        doc, text = doctor_verdict(args, conf)
        # chronyd's own words: of -p, or of the PTPKVM driver at start
        words = by == "-p" or "PTPKVM" in message
        if got == "refuse":
            check(doc == "refuse" and (not words or message in text),
                  "doctor FAILs %s like chronyd %s %s" % (name, args.version, by),
                  "(chronyd: %r; doctor %s: %r)" % (message, doc, text))
        else:
            check(doc == "accept", "doctor accepts %s like chronyd %s" % (name, args.version),
                  "(doctor: %r)" % text)
    check(seen == {"accept", "refuse"}, "the table has lines chronyd accepts and refuses",
          str(seen))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
