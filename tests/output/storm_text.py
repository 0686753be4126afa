#!/usr/bin/env python3
"""tests/output/storm_text.py — `make check-storm-text` (issue 15.4): a storm a person reads.

Generates two storms with the project's generator (the bench rows' kind, smaller): one over
tens of thousands of destinations (`pmgen mix --storm`) and one at a single destination
(`--destinations 1`, the flood-one row's shape). Each is analysed twice, as the text report
and as JSON Lines, and:

  * the text report stays within a screenful (LINES_MAX lines) however many attempts;
  * every number in it equals what the JSON Lines say: the Totals per outcome (summary),
    each destination shown (its attempt count, its count per verdict, and each verdict's
    first and last attempt time, from the attempt objects), the destinations not shown by
    their verdict (destinations, attempts, first and last time), every attempt by verdict
    (count, destinations with such an attempt, first and last time); shown + rolled-up
    destinations are all of the JSON's destination objects; the attempts shown in full
    (#id) are attempt objects of that destination with that outcome and verdict;
  * a small incident (a lab fixture) has none of the storm's sections.

Usage: storm_text.py PORTMORTEM PMGEN. Exit 0 when every check passed.
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

PM, PMGEN = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LINES_MAX = 70  # a screenful-ish: a 24-line terminal scrolls three times, a 70-line one never

T = r"(?:\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}:\d{2}\.\d{3}"
RE_DEST = re.compile(r"^(\S+)  (?:\S+  )?(\d+) attempts?, ")
RE_SAMPLE = re.compile(r"^  (%s)  #(\d+)\s+\S+\s+:(\d+)\s+(\S+)\s+(\S+) " % T)
RE_DVERD = re.compile(r"^      (\S+)\s+(\d+) attempts?\s*(?:  (%s) to (%s))?$" % (T, T))
RE_REST = re.compile(r"^      (\S+)\s+(\d+) destinations?\s+(\d+) attempts?\s*(?:  (%s) to (%s))?$"
                     % (T, T))
RE_ALL = re.compile(r"^      (\S+)\s+(\d+) attempts? at (\d+) destinations?(?:  (%s) to (%s))?$"
                    % (T, T))

fails, passes = [], 0


def check(cond, what):
    global passes
    if cond:
        passes += 1
    else:
        fails.append(what)


def short(ts):
    """The JSON's RFC 3339 time as the text report prints it (HH:MM:SS.mmm, truncated)."""
    m = re.match(r"^\d{4}-\d{2}-\d{2}T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$", ts)
    return "%s.%s" % (m.group(1), (m.group(2) or "").ljust(3, "0")[:3])


def run(args, fmt):
    p = subprocess.run([PM, "analyze", "--no-progress"] + (["-f", fmt] if fmt else []) + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    if p.returncode not in (0, 1):
        fails.append("%s: exit %d: %s" % (fmt or "text", p.returncode, p.stderr[:300]))
    return p.stdout.decode("utf-8", "replace")


def compare(label, cap):
    text = run([cap], None)  # no -f: the text report is the default
    objs = [json.loads(x) for x in run([cap], "jsonl").splitlines() if x.strip()]
    att = [o for o in objs if o["type"] == "attempt"]
    dests = {o["dst"]: o for o in objs if o["type"] == "destination"}
    summ = [o for o in objs if o["type"] == "summary"][-1]
    lines = text.splitlines()
    print("%s: %d attempts, %d destinations; the text report has %d lines" %
          (label, len(att), len(dests), len(lines)))
    check(len(lines) <= LINES_MAX, "%s: the text report has %d lines (at most %d)"
          % (label, len(lines), LINES_MAX))
    by_id = {a["id"]: a for a in att}
    times = collections.defaultdict(list)  # (dst, verdict) -> [ts]
    vtimes = collections.defaultdict(list)  # verdict -> [ts]
    for a in att:
        times[(a["dst"], a["verdict"])].append(a["ts"])
        vtimes[a["verdict"]].append(a["ts"])

    # Totals per outcome
    tot = [x for x in lines if x.startswith("Totals: ")]
    check(len(tot) == 1, "%s: one Totals line" % label)
    if tot:
        got = dict((k, int(n)) for n, k in re.findall(r"(\d+) (\S+?)(?:,|$)", tot[0][8:])
                   if k not in ("attempts",))
        check(got == summ["attempts"]["outcomes"], "%s: Totals %r, JSON summary %r"
              % (label, got, summ["attempts"]["outcomes"]))
        check(tot[0].startswith("Totals: %d attempts" % summ["attempts"]["total"]),
              "%s: Totals attempts vs JSON %d" % (label, summ["attempts"]["total"]))

    # sections
    shown, cur, section = [], None, "dests"
    rest, allv = {}, {}
    for x in lines:
        if x.startswith("… ") and "more destination" in x:
            section = "rest"
            continue
        if x.startswith("All ") and x.endswith("attempts by verdict:"):
            section = "all"
            continue
        if x.startswith("Scope:"):
            section = "end"
        m = RE_DEST.match(x)
        if section == "dests" and m and m.group(1) in dests:
            cur = {"dst": m.group(1), "attempts": int(m.group(2)), "verdicts": {}, "samples": []}
            shown.append(cur)
            continue
        m = RE_SAMPLE.match(x)
        if section == "dests" and m and cur:
            cur["samples"].append((int(m.group(2)), m.group(4), m.group(5)))
            continue
        m = RE_DVERD.match(x)
        if section == "dests" and m and cur:
            cur["verdicts"][m.group(1)] = (int(m.group(2)), m.group(3), m.group(4))
            continue
        m = RE_REST.match(x)
        if section == "rest" and m:
            rest[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(4), m.group(5))
            continue
        m = RE_ALL.match(x)
        if section == "all" and m:
            allv[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(4), m.group(5))
    check(shown and allv, "%s: the storm sections are there (destinations shown, by verdict)"
          % label)

    for d in shown:
        j = dests[d["dst"]]
        check(d["attempts"] == j["attempts"], "%s %s: %d attempts, JSON %d"
              % (label, d["dst"], d["attempts"], j["attempts"]))
        got = {v: c for v, (c, _, _) in d["verdicts"].items()}
        check(got == j["verdicts"], "%s %s: verdicts %r, JSON %r" % (label, d["dst"], got, j["verdicts"]))
        for v, (c, lo, hi) in d["verdicts"].items():
            ts = times[(d["dst"], v)]
            check(lo == short(min(ts)) and hi == short(max(ts)),
                  "%s %s %s: %s to %s, JSON attempts %s to %s" % (label, d["dst"], v, lo, hi,
                                                               short(min(ts)), short(max(ts))))
        check(0 < len(d["samples"]) <= 3, "%s %s: %d attempts in full (1 to 3)"
              % (label, d["dst"], len(d["samples"])))
        for i, outcome, verdict in d["samples"]:
            a = by_id.get(i)
            check(a and a["dst"] == d["dst"] and a["outcome"] == outcome and a["verdict"] == verdict,
                  "%s: attempt #%d shown under %s as %s/%s is not so in the JSON" %
                  (label, i, d["dst"], outcome, verdict))

    names = set(x["dst"] for x in shown)
    want = collections.defaultdict(lambda: [0, 0, None, None])
    for dst, j in dests.items():
        if dst in names:
            continue
        w = want[j["verdict"]]
        w[0] += 1
        w[1] += j["attempts"]
        w[2] = j["first_ts"] if w[2] is None else min(w[2], j["first_ts"])
        w[3] = j["last_ts"] if w[3] is None else max(w[3], j["last_ts"])
    want = {v: (w[0], w[1], short(w[2]), short(w[3])) for v, w in want.items()}
    check(rest == want, "%s: destinations not shown, by verdict: %r, JSON %r" % (label, rest, want))
    check(len(shown) + sum(r[0] for r in rest.values()) == len(dests),
          "%s: shown + rolled-up destinations = the JSON's %d" % (label, len(dests)))

    want = {}
    for v, c in summ["attempts"]["verdicts"].items():
        nd = sum(1 for j in dests.values() if j["verdicts"].get(v))
        want[v] = (c, nd, short(min(vtimes[v])), short(max(vtimes[v])))
    check(allv == want, "%s: every attempt by verdict: %r, JSON %r" % (label, allv, want))


def main():
    for x in (PM, PMGEN):
        if not os.access(x, os.X_OK):
            print("storm_text.py: %s is not built" % x, file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as tmp:
        storms = {
            "storm (many destinations)": ["--storm", "--packets", "200000", "--seed", "1"],
            "flood (one destination)": ["--storm", "--destinations", "1", "--packets", "40000",
                                        "--seed", "1"],
        }
        for label, args in storms.items():
            cap = os.path.join(tmp, "storm.pcap")
            subprocess.run([PMGEN, "mix", "-o", cap, "--truth", cap + ".truth.json"] + args,
                           check=True, stdout=subprocess.DEVNULL)
            compare(label, cap)
        # a small incident reads as before: no storm section
        d = os.path.join(ROOT, "pcaps", "lab", "transit-forged-rst")
        small = run(["--ports", "25,587", "--mta-log", os.path.join(d, "maillog"),
                     "sender=" + os.path.join(d, "sender.pcap")], None)
        check("by verdict" not in small and "more destination" not in small and
              "#1 " in small and "#3 " in small,
              "small incident: the storm layout was used: %r" % small[:300])
    for f in fails:
        print("FAIL " + f)
    print("check-storm-text: %d checks passed, %d failed" % (passes, len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
