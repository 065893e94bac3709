#!/usr/bin/env python3
# chrony-ptpkvm - refclock lines through the real chronyd and through the doctor
#
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of version 2 of the GNU General Public License as
# published by the Free Software Foundation.
#
# One table of refclock directives.  Each is written into a chrony.conf and
#  1. started by the real patched chronyd, which never gets to touch the clock
#     (-x: no clock control, -Q: print only, CAP_SYS_TIME dropped from the
#     bounding set, no command socket or port, -t 0: quit as soon as the
#     refclocks are initialised; timeout 20 as a last resort): it refuses
#     the configuration ("Fatal error : MESSAGE") or starts;
#  2. checked by ptpkvm-doctor --config on the same file: chrony.config must
#     be FAIL exactly when chronyd refuses, and then contain chronyd's MESSAGE.
# The column "chronyd" says what chronyd is expected to do; a line that
# behaves otherwise fails too, so the table documents the accepted forms.

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

# (refclock arguments, "accept" or "refuse", other directives)
TABLE = [
    # the cases of issue 11
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
    # the driver's name is case-sensitive, the directive's is not
    ("ptpkvm auto", "refuse", ""),
    ("PTPKVMX auto", "refuse", ""),
    ("PTPKVM", "refuse", ""),
    # the option names of the other drivers (chronyd stops before the device)
    ("PHC /dev/ptp_kvm:bogus", "refuse", ""),
    ("PHC /dev/ptp_kvm:nocrossts=1:sampels=2", "refuse", ""),
    ("SHM 0:bogus", "refuse", ""),
    ("SOCK /nonexistent/chrony.sock:perm=0600", "refuse", ""),
    # the stock PHC driver stops when it cannot open its device
    ("PHC /dev/ptp_nonexistent", "refuse", ""),
    ("PHC auto", "refuse", ""),
    # chronyd reads the whole file before it starts a refclock
    ("PTPKVM auto:samples=0", "refuse", "makestep 1"),
]


def chronyd_verdict(args, conf):
    """('accept', '') or ('refuse', message) from the real chronyd."""
    cmd = ["setpriv", "--bounding-set=-sys_time", "--inh-caps=-sys_time", "--",
           "timeout", "20", args.chronyd, "-x", "-Q", "-u", "root", "-d", "-t", "0", "-f", conf]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    for line in p.stdout.splitlines():
        if "Fatal error : " in line:
            return "refuse", line.split("Fatal error : ", 1)[1].strip()
    if "Timeout reached" in p.stdout:
        return "accept", ""
    return "unknown", "exit %d: %s" % (p.returncode, p.stdout[-300:])


def doctor_verdict(args, conf):
    """('accept'|'refuse', chrony.config message) from ptpkvm-doctor."""
    p = subprocess.run([args.doctor, "--config", conf, "--json", "--no-chronyc", "--samples", "0"],
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
    args = ap.parse_args()
    work = os.path.abspath(args.workdir)
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)

    seen = set()
    for i, (line, want, extra) in enumerate(TABLE):
        d = os.path.join(work, "%02d" % i)
        os.makedirs(d)
        conf = os.path.join(d, "chrony.conf")
        with open(conf, "w") as f:
            f.write("refclock %s\n%s%spidfile %s/chronyd.pid\ncmdport 0\nport 0\n"
                    "bindcmdaddress /\n" % (line, extra, "\n" if extra else "", d))
        name = "refclock %s%s" % (line, " + " + extra if extra else "")
        got, message = chronyd_verdict(args, conf)
        seen.add(got)
        check(got == want, "chronyd %ss %s" % (want, name), "(got %s %s)" % (got, message))
        doc, text = doctor_verdict(args, conf)
        if got == "refuse":
            check(doc == "refuse" and message in text,
                  "doctor FAILs %s with chronyd's message" % name,
                  "(chronyd: %r; doctor %s: %r)" % (message, doc, text))
        else:
            check(doc == "accept", "doctor accepts %s like chronyd" % name,
                  "(doctor: %r)" % text)
    check(seen == {"accept", "refuse"}, "the table has lines chronyd accepts and refuses",
          str(seen))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
