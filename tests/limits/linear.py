#!/usr/bin/env python3
"""linear.py — `make check-linear`: analysis time is linear in the attempts to ONE destination
and port (issue 19). A flood of SYNs to one (destination, port) used to make every removal
walk a chain holding all of them: 50 k attempts took 3.9 s, 100 k 16 s, 1 M never finished.

The generator writes N and 4N attempts' worth of packets to one destination and port
(pmgen mix --storm --destinations 1); portmortem analyses each. The CPU time of the 4N run
must stay below 10x the N run (linear: ~4x; the old quadratic code: ~16x). CPU time, not wall
time, is taken from getrusage of the child, and the minimum of two runs, so that a loaded
machine does not make the test flaky. The outcome counts are checked against the truth too,
so that the test cannot pass by analysing nothing.

usage: linear.py PORTMORTEM PMGEN
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

N_PACKETS = 40000      # ~26 k attempts: quadratic behaviour shows plainly at 4x this
RATIO_MAX = 10.0
REPEATS = 2


def cpu_of(argv, out):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        rc = subprocess.call(argv, stdout=f, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return rc, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    tmp = tempfile.mkdtemp(prefix="pm-linear.")
    try:
        return run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp):
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    pm, pmgen = sys.argv[1], sys.argv[2]
    fail = False
    cpu = {}
    attempts = {}
    for k in (1, 4):
        cap = os.path.join(tmp, "flood%d.pcap" % k)
        truth = os.path.join(tmp, "flood%d.truth.json" % k)
        subprocess.check_call([pmgen, "mix", "--storm", "--destinations", "1", "--seed", "7",
                               "--packets", str(N_PACKETS * k), "-o", cap, "--truth", truth])
        with open(truth) as f:
            t = json.load(f)
        out = os.path.join(tmp, "out%d.jsonl" % k)
        best = None
        for _ in range(REPEATS):
            rc, c = cpu_of([pm, "analyze", "--format", "jsonl", "--no-progress", cap], out)
            if rc not in (0, 1):
                print("check-linear: FAIL: portmortem exited %d on %s" % (rc, cap))
                return 1
            best = c if best is None else min(best, c)
        with open(out) as f:
            summary = json.loads(f.read().splitlines()[-1])
        got = {o: n for o, n in summary["attempts"]["outcomes"].items() if n}
        want = {o: n for o, n in t["outcomes"].items() if n}
        if got != want:
            print("check-linear: FAIL: %dN: outcome counts %s, truth %s" % (k, got, want))
            fail = True
        cpu[k] = best
        attempts[k] = t["attempts"]
    ratio = cpu[4] / max(cpu[1], 0.005)
    print("check-linear: %d attempts to one destination and port: %.3f s CPU; %d: %.3f s "
          "(%.1fx for %.1fx the attempts; at most %.0fx)" % (
              attempts[1], cpu[1], attempts[4], cpu[4], ratio, attempts[4] / attempts[1],
              RATIO_MAX))
    if ratio >= RATIO_MAX:
        print("check-linear: FAIL: not linear in the attempts to one key (a chain walked on "
              "each removal or lookup?)")
        fail = True
    if not fail:
        print("check-linear: ok")
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
