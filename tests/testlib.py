# chrony-ptpkvm - the PASS/FAIL harness of the Python tests
#
# SPDX-License-Identifier: GPL-2.0-only
# Copyright (C) 2026 The chrony-ptpkvm authors
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of version 2 of the GNU General Public License as
# published by the Free Software Foundation.
#
# check() prints one "PASS name" or "FAIL name detail" line per assertion and
# counts it; run() calls test functions, counting an exception as a failure
# instead of aborting the rest; finish() prints the closing "N passed, N
# failed" line from those counts and returns the exit status (1 if anything
# failed or nothing was checked).

import traceback

counts = {"passed": 0, "failed": 0}


def check(ok, name, detail=""):
    """Count and print one assertion; returns ok."""
    ok = bool(ok)
    counts["passed" if ok else "failed"] += 1
    print("PASS %s" % name if ok else "FAIL %s %s" % (name, detail))
    return ok


def run(tests):
    """Call each test; an exception fails that test, the others still run."""
    for test in tests:
        try:
            test()
        except Exception as e:
            traceback.print_exc()
            check(False, test.__name__, "exception %r" % e)


def finish():
    """Print "N passed, N failed"; exit status 1 on a failure or no check at all."""
    print("%d passed, %d failed" % (counts["passed"], counts["failed"]))
    return 1 if counts["failed"] or not counts["passed"] else 0


def prom_samples(path):
    """{'name{labels}': value} of a Prometheus text file"""
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
    return out
