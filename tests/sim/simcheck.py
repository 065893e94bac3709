#!/usr/bin/env python3
# chrony-ptpkvm guest simulator: scenario checks (make check)
#
# Copyright (C) 2026 The chrony-ptpkvm authors
# SPDX-License-Identifier: GPL-2.0-only
# This program is free software; you can redistribute it and/or modify it
# under the terms of version 2 of the GNU General Public License.
#
# Runs the fast scenario subset named by tests/sim/expect.txt against the
# real chronyd under the interposer and checks each bound; also checks that
# a whole chronyd run is bit-identical for one seed (also with real
# chronyc queries answered at held moments of virtual time).  Prints one PASS/FAIL
# line per bound and "N passed, N failed".

import argparse
import concurrent.futures
import filecmp
import operator
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import simlib  # noqa: E402
import testlib  # noqa: E402

OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
       "==": operator.eq, "!=": operator.ne}


def parse_expect(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            tok = line.split()
            if len(tok) != 5 or tok[3] not in OPS:
                raise SystemExit("%s:%d: CONFIG SCENARIO[:PHASES] METRIC OP VALUE" % (path, n))
            sc, _, ph = tok[1].partition(":")
            out.append((n, tok[0], sc, int(ph or 1), tok[2], tok[3], tok[4]))
    return out


def value(v):
    try:
        return float(v)
    except ValueError:
        return v


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--chronyd", required=True)
    ap.add_argument("--out", default="build/sim/check")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--expect", default=os.path.join(simlib.SIM_DIR, "expect.txt"),
                    help="bounds file (default: tests/sim/expect.txt)")
    ap.add_argument("--no-determinism", action="store_true",
                    help="skip the bit-identical re-runs (e.g. with another --expect)")
    a = ap.parse_args()
    lib, chronyd, out = (os.path.abspath(x) for x in (a.lib, a.chronyd, a.out))
    chronyd = simlib.snapshot_chronyd(chronyd, out)

    exps = parse_expect(a.expect)
    scen = {s.name: s for s in simlib.load_scenarios(sorted(set(e[2] for e in exps)))}
    groups = sorted(set((e[1], e[2], e[3]) for e in exps))
    futures = {}
    with concurrent.futures.ProcessPoolExecutor(a.jobs) as ex:
        for config, name, nph in groups:
            sc = scen[name]
            for i, ph in enumerate(sc.phases()[:nph]):
                rundir = os.path.join(out, name, config, "n%d-p%02d" % (nph, i))
                futures[(config, name, nph, i)] = ex.submit(
                    simlib.run_one, lib, chronyd, sc, config, rundir, None, ph, 900, True)
        # determinism: the same run twice must give identical truth logs
        psc = scen.get("pause-5") or simlib.load_scenarios(["pause-5"])[0]
        det = [] if a.no_determinism else [
            ex.submit(simlib.run_one, lib, chronyd, psc, "stock-fast",
                      os.path.join(out, "determinism", x), None, 3.0, 900, True)
            for x in ("a", "b")]
        # ... also with chronyc queries answered at held moments
        qsc = simlib.load_scenarios(["pause-360-chronyc"])[0]
        detq = [] if a.no_determinism else [
            ex.submit(simlib.run_one, lib, chronyd, qsc, "ptpkvm",
                      os.path.join(out, "determinism", "q" + x), None, 3.0, 900, True)
            for x in ("a", "b")]
        # ... and with an NTP server on the loopback (sim_ntp.c)
        nsc = simlib.load_scenarios(["ntp-pause-1h"])[0]
        detn = [] if a.no_determinism else [
            ex.submit(simlib.run_one, lib, chronyd, nsc, "ptpkvm-and-ntp",
                      os.path.join(out, "determinism", "n" + x), None, 3.0, 900, True)
            for x in ("a", "b")]
        results = {k: f.result() for k, f in futures.items()}
        det = [d.result() for d in det]
        detq = [d.result() for d in detq]
        detn = [d.result() for d in detn]

    failed_groups = set()
    for n, config, name, nph, met, op, want in exps:
        reps = [results[(config, name, nph, i)] for i in range(min(nph, len(scen[name].phases())))]
        got = simlib.metric(scen[name], reps, met)
        ok = got is not None and OPS[op](got, value(want))
        label = "%s %s:%d %s %s %s" % (config, name, nph, met, op, want)
        if ok:
            testlib.check(True, "%s (got %s)" % (label, got))
        else:
            failed_groups.add((config, name, nph))
            testlib.check(False, label, "(got %s; status %s; see %s)" % (
                got, simlib.metric(scen[name], reps, "status"),
                os.path.dirname(reps[0]["truth"])))
            for r in reps[:1]:
                for l in r.get("log_tail", []):
                    print("     chronyd: %s" % l)

    # Keep the truth logs of failing runs only (they are large)
    for key, rep in results.items():
        if key[:3] not in failed_groups:
            simlib.remove_logs(os.path.dirname(rep["truth"]))

    if a.no_determinism:
        return testlib.finish()
    same = det[0]["status"] == "ok" and filecmp.cmp(det[0]["truth"], det[1]["truth"],
                                                     shallow=False)
    testlib.check(same, "chronyd run with one seed is bit-identical (truth logs)",
                  "%s %s" % (det[0]["truth"], det[1]["truth"]))
    same = detn[0]["status"] == "ok" and filecmp.cmp(detn[0]["truth"], detn[1]["truth"],
                                                      shallow=False)
    testlib.check(same, "... also with an NTP server: bit-identical truth logs",
                  "%s %s" % (detn[0]["truth"], detn[1]["truth"]))

    qa, qb = (os.path.dirname(r["truth"]) for r in detq)
    qfiles = sorted(f for f in os.listdir(qa) if f.startswith("query-"))
    same = (detq[0]["status"] == "ok" and len(qfiles) == len(qsc.queries) and
            filecmp.cmp(detq[0]["truth"], detq[1]["truth"], shallow=False) and
            all(filecmp.cmp(os.path.join(qa, f), os.path.join(qb, f), shallow=False)
                for f in qfiles))
    testlib.check(same, "chronyd run with chronyc queries is bit-identical (truth logs, %d "
                  "answers)" % len(qfiles), "%s %s" % (qa, qb))
    return testlib.finish()


if __name__ == "__main__":
    sys.exit(main())
