#!/usr/bin/env python3
# chrony-ptpkvm guest simulator: report of one truth log
#
# Copyright (C) 2026 The chrony-ptpkvm authors
# SPDX-License-Identifier: GPL-2.0-only
# This program is free software; you can redistribute it and/or modify it
# under the terms of version 2 of the GNU General Public License.
#
# Computes the metrics of an existing truth log (recovery after every
# disturbance, RMS/max error in the scenario's windows, steps,
# hypercalls/s) and prints them as JSON.  The scenario file supplies the
# windows; by default it is looked up by the name in the log's header.
#   tests/sim/simreport.py build/sim/bench/pause-5/ptpkvm/p00/truth.log

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simlib  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", help="scenario name or path (default: from the header)")
    ap.add_argument("--target", type=float, default=0.0,
                    help="the configuration's target offset from the host (simlib.CONFIG_TARGET)")
    ap.add_argument("truth")
    a = ap.parse_args()
    name = a.scenario or simlib.read_truth(a.truth)[0].get("scenario", "")
    path = name if os.path.exists(name) else os.path.join(simlib.SCENARIO_DIR, name + ".scn")
    if not os.path.exists(path) and name == "demo":
        path = os.path.join(simlib.SIM_DIR, "demo.scn")
    if not os.path.exists(path):
        raise SystemExit("scenario %r not found; give --scenario" % name)
    rep = simlib.analyse(a.truth, simlib.Scenario(path), a.target)
    rep.pop("header", None)
    json.dump(rep, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
