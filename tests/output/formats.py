#!/usr/bin/env python3
"""tests/output/formats.py — `make check-formats` (issue 16.3): the report formats read back.

For every golden capture (pcaps/gen/, with the ports its truth names) and every lab fixture
(pcaps/lab/, with its MTA log, vantage names, window and ports), portmortem runs three times
on the same input: --format jsonl, --format zeek and --format csv. Then:

  * the Zeek log is read by a reader written from Zeek's ASCII log format, not from
    portmortem's code: the #separator line (\\xNN), #set_separator, #empty_field,
    #unset_field, #path conn, #open and #close stamps (%Y-%m-%d-%H-%M-%S), #fields and
    #types of the same arity, every line with exactly that many fields, every value
    type-checked by its #type (time, interval: seconds with 6 decimals; addr: an IP
    address; port: 0-65535; count: a non-negative integer; bool: T or F; enum; string;
    set[string]) and unescaped (\\xNN, the empty and unset markers);
  * the CSV is read with Python's csv module: the header names the same columns, every row
    has as many fields;
  * both are compared row by row, field by field, with the JSON Lines' attempt objects of
    the same input: uid (recomputed from the JSON as docs/FORMATS.md defines it), addresses,
    ports, ts, conn_state, history, outcome, verdict, owner, confidence, rule, flags, clue;
    the number of rows equals the number of attempt objects, and the Zeek log carries no
    other line (no destinations, no summary);
  * the text report is the default wherever standard output goes: a file, a pipe, -o FILE
    (no JSON, no colour escape) — the JSON Lines are never implicit.
  * a vantage name with a tab, a comma, a backslash, a non-ASCII letter and one that reads
    as the empty marker comes back through both readers as the JSON has it.

Usage: formats.py PORTMORTEM [ROOT]. Exit 0 when every check passed, 1 otherwise.
"""
import concurrent.futures
import csv
import io
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile

PM = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "./portmortem"
ROOT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
ROOT = os.path.abspath(ROOT)

fails = []
passes = 0


def fail(what):
    fails.append(what)


# ---- Zeek's ASCII log format, as a reader sees it ----

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}$")
DECIMAL6 = re.compile(r"^-?\d+\.\d{6}$")


def unescape(s):
    """Zeek ASCII: \\xNN stands for the byte NN; everything else is itself (bytes, UTF-8)."""
    out = bytearray()
    b = s.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(b):
        if b[i:i + 2] == b"\\x" and i + 4 <= len(b) and re.match(rb"[0-9a-fA-F]{2}", b[i + 2:i + 4]):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def zeek_value(raw, typ, meta, where):
    """One field by its #type: None when unset, else the Python value. Raises ValueError."""
    if raw == meta["unset_field"]:
        return None
    if typ.startswith("set[") or typ.startswith("vector[") or typ.startswith("table["):
        inner = typ[typ.index("[") + 1:-1]
        if raw == meta["empty_field"]:
            return []
        return [zeek_value(e, inner, meta, where) for e in raw.split(meta["set_separator"])]
    if typ in ("time", "interval"):
        if not DECIMAL6.match(raw):
            raise ValueError("%s: %r is not seconds with 6 decimals (%s)" % (where, raw, typ))
        return float(raw)
    if typ == "count":
        if not re.match(r"^\d+$", raw):
            raise ValueError("%s: %r is not a count" % (where, raw))
        return int(raw)
    if typ == "port":
        if not re.match(r"^\d+$", raw) or int(raw) > 65535:
            raise ValueError("%s: %r is not a port" % (where, raw))
        return int(raw)
    if typ == "addr":
        return str(ipaddress.ip_address(raw))
    if typ == "bool":
        if raw not in ("T", "F"):
            raise ValueError("%s: %r is not T or F" % (where, raw))
        return raw == "T"
    if typ == "enum":
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_:]*$", raw):
            raise ValueError("%s: %r is not an enum identifier" % (where, raw))
        return raw
    if typ == "string":
        if raw == meta["empty_field"]:
            return ""
        if meta["separator"] in raw:
            raise ValueError("%s: unescaped separator in %r" % (where, raw))
        return unescape(raw)
    raise ValueError("%s: unknown type %r" % (where, typ))


def read_zeek(text, where):
    """Parse a Zeek ASCII log: (meta, [row dict]). Raises ValueError on any violation."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or not lines[0].startswith("#separator "):
        raise ValueError("%s: the first line is not #separator" % where)
    sep_spec = lines[0][len("#separator "):]
    if not re.match(r"^\\x[0-9a-f]{2}$", sep_spec):
        raise ValueError("%s: #separator %r is not \\xNN" % (where, sep_spec))
    sep = chr(int(sep_spec[2:], 16))
    meta = {"separator": sep}
    rows, fields, types, closed = [], None, None, False
    for n, line in enumerate(lines[1:], start=2):
        at = "%s line %d" % (where, n)
        if closed:
            raise ValueError("%s: a line after #close" % at)
        if line.startswith("#"):
            key, _, val = line[1:].partition(sep)
            if key in ("set_separator", "empty_field", "unset_field", "path"):
                meta[key] = val
            elif key in ("open", "close"):
                if not STAMP.match(val):
                    raise ValueError("%s: #%s %r is not %%Y-%%m-%%d-%%H-%%M-%%S" % (at, key, val))
                meta[key] = val
                closed = key == "close"
            elif key == "fields":
                fields = val.split(sep)
            elif key == "types":
                types = val.split(sep)
            else:
                raise ValueError("%s: unknown header #%s" % (at, key))
            continue
        for k in ("set_separator", "empty_field", "unset_field", "path", "open"):
            if k not in meta:
                raise ValueError("%s: a row before the #%s header" % (at, k))
        if fields is None or types is None or len(fields) != len(types):
            raise ValueError("%s: #fields and #types missing or of different arity" % at)
        vals = line.split(sep)
        if len(vals) != len(fields):
            raise ValueError("%s: %d fields, #fields has %d" % (at, len(vals), len(fields)))
        rows.append({f: zeek_value(v, t, meta, "%s %s" % (at, f))
                     for f, v, t in zip(fields, vals, types)})
    if not closed:
        raise ValueError("%s: no #close line at the end" % where)
    if meta.get("path") != "conn":
        raise ValueError("%s: #path is %r, not conn" % (where, meta.get("path")))
    return meta, fields, types, rows


# ---- what the JSON Lines say, in the tables' terms ----

def uid_of(j):
    """docs/FORMATS.md: "C" + base-62 (11 digits, least significant first) of FNV-1a 64 over
    "id|orig_h|orig_p|resp_h|resp_p" as the table writes them ("-" when unset)."""
    key = "%d|%s|%s|%s|%s" % (j["id"], j["src"] or "-",
                              "-" if j["sport"] is None else j["sport"],
                              j["dst"] or "-", j["dport"])
    h = 0xcbf29ce484222325
    for c in key.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    out = "C"
    for _ in range(11):
        out += digits[h % 62]
        h //= 62
    return out


def epoch_us(ts):
    """An RFC 3339 time of the JSON (UTC, up to microseconds) as integer microseconds."""
    import datetime
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$", ts)
    if not m:
        raise ValueError("JSON ts %r is not RFC 3339 UTC" % ts)
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    frac = (m.group(2) or "").ljust(6, "0")[:6]
    return int(base.timestamp()) * 1000000 + int(frac)


def expected(j):
    """The table's columns as the JSON attempt object gives them (None: unset)."""
    return {
        "uid": uid_of(j),
        "id.orig_h": j["src"] and str(ipaddress.ip_address(j["src"])),
        "id.orig_p": j["sport"],
        "id.resp_h": j["dst"] and str(ipaddress.ip_address(j["dst"])),
        "id.resp_p": j["dport"],
        "proto": "tcp",
        "conn_state": j.get("conn_state"),
        "history": j.get("history"),
        "pm_id": j["id"],
        "pm_vantage": j.get("vantage"),
        "pm_outcome": j["outcome"],
        "pm_verdict": j["verdict"],
        "pm_owner": j["owner"],
        "pm_confidence": j["confidence"],
        "pm_rule": j.get("rule"),
        "pm_flags": j.get("flags"),
        "pm_clue": j.get("clue"),
    }


def compare(label, fmt, rows, attempts, ts_of):
    global passes
    if len(rows) != len(attempts):
        fail("%s %s: %d rows, JSON Lines have %d attempts" % (label, fmt, len(rows), len(attempts)))
        return
    for row, j in zip(rows, attempts):
        want = expected(j)
        for k, v in want.items():
            got = row.get(k)
            if fmt == "csv" and v == "":
                v = None  # CSV has one empty cell for an empty string and for unset
            if k == "pm_flags" and v is not None:
                got = sorted(got or [])
                v = sorted(v)
            if got != v:
                fail("%s %s attempt #%s %s: got %r, JSON says %r" % (label, fmt, j["id"], k, got, v))
                return
        if j["ts"] is not None and ts_of(row) != epoch_us(j["ts"]):
            fail("%s %s attempt #%s ts: %r vs JSON %s" % (label, fmt, j["id"], row["ts"], j["ts"]))
            return
    passes += 1


def read_csv(text, fields, where):
    if "\r\n" not in text and text:
        raise ValueError("%s: records do not end with CRLF (RFC 4180 §2.1)" % where)
    rd = csv.reader(io.StringIO(text, newline=""))
    header = next(rd)
    if header != fields:
        raise ValueError("%s: header %r differs from the Zeek #fields %r" % (where, header, fields))
    rows = []
    for n, rec in enumerate(rd, start=2):
        if len(rec) != len(header):
            raise ValueError("%s row %d: %d fields, header has %d" % (where, n, len(rec), len(header)))
        rows.append(dict(zip(header, rec)))
    return rows


def csv_typed(row, types):
    """CSV cells by the Zeek #types: empty is unset (strings: empty means unset too, as the
    JSON's null and "" are never both possible for one of these columns)."""
    out = {}
    for (k, v), t in zip(row.items(), types):
        if v == "":
            out[k] = None
        elif t in ("count", "port"):
            out[k] = int(v)
        elif t == "addr":
            out[k] = str(ipaddress.ip_address(v))
        elif t.startswith("set["):
            out[k] = v.split(",")
        else:
            out[k] = v
    return out


def run(argv):
    p = subprocess.run([PM] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape"), \
        p.stderr.decode("utf-8", "replace")


def check_one(label, args):
    """Run the three formats on one input and compare. Returns (label, [failures], passed)."""
    global fails, passes
    mine_f, mine_p = [], 0
    rcs = {}
    outs = {}
    for fmt in ("jsonl", "zeek", "csv"):
        rc, out, err = run(["analyze", "--no-progress", "-f", fmt] + args)
        if rc not in (0, 1, 4):
            return label, ["%s -f %s: exit %d: %s" % (label, fmt, rc, err[:300])], 0
        rcs[fmt], outs[fmt] = rc, out
    if len(set(rcs.values())) != 1:
        mine_f.append("%s: exit status differs by format: %r" % (label, rcs))
    objs = [json.loads(x) for x in outs["jsonl"].splitlines() if x.strip()]
    attempts = [o for o in objs if o.get("type") == "attempt"]
    saved_f, saved_p = fails, passes
    fails, passes = [], 0
    try:
        meta, fields, types, zrows = read_zeek(outs["zeek"], label + " zeek")
        compare(label, "zeek", zrows, attempts, lambda r: round(r["ts"] * 1e6))
        crows = [csv_typed(r, types) for r in read_csv(outs["csv"], fields, label + " csv")]
        compare(label, "csv", crows, attempts,
                lambda r: int(r["ts"].replace(".", "")) if r["ts"] else None)
    except (ValueError, KeyError, StopIteration) as e:
        fails.append("%s: %s" % (label, e))
    mine_f += fails
    mine_p = passes
    fails, passes = saved_f, saved_p
    return label, mine_f, mine_p


def golden_jobs():
    d = os.path.join(ROOT, "pcaps", "gen")
    for t in sorted(os.listdir(d)):
        if not t.endswith(".truth.json"):
            continue
        base = os.path.join(d, t[:-len(".truth.json")])
        cap = base + ".pcap" if os.path.exists(base + ".pcap") else base + ".pcapng"
        with open(os.path.join(d, t)) as f:
            ports = ",".join(str(p) for p in json.load(f)["ports"])
        yield "golden/" + os.path.basename(base), ["--ports", ports, cap]


def lab_jobs():
    d = os.path.join(ROOT, "pcaps", "lab")
    for name in sorted(os.listdir(d)):
        t = os.path.join(d, name, "truth.json")
        if not os.path.exists(t):
            continue
        with open(t) as f:
            tr = json.load(f)
        args = ["--mta-log", os.path.join(d, name, tr["mta_log"])]
        if tr.get("window"):
            args += ["--since", "@%s" % tr["window"]["since"], "--until", "@%s" % tr["window"]["until"]]
        if tr.get("ports"):
            args += ["--ports", ",".join(str(p) for p in tr["ports"])]
        for e in tr.get("expect_source") or []:
            args += ["--expect-source", e]
        args += ["%s=%s" % (k, os.path.join(d, name, v)) for k, v in tr["captures"].items()]
        yield "lab/" + name, args


def text_default():
    """Text wherever standard output goes: a file, a pipe, -o FILE; no colour off a terminal."""
    cap = os.path.join(ROOT, "pcaps", "lab", "transit-forged-rst")
    args = ["analyze", "--no-progress", "--ports", "25,587", "--mta-log",
            os.path.join(cap, "maillog"), "sender=" + os.path.join(cap, "sender.pcap")]
    with tempfile.TemporaryDirectory() as tmp:
        outs = {}
        f = os.path.join(tmp, "redirected.txt")
        with open(f, "wb") as fh:
            subprocess.run([PM] + args, stdout=fh, stderr=subprocess.DEVNULL)
        outs["stdout to a file"] = open(f, "rb").read()
        p = subprocess.run([PM] + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        outs["stdout to a pipe"] = p.stdout
        o = os.path.join(tmp, "report.txt")
        subprocess.run([PM] + args[:1] + ["-o", o] + args[1:], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        outs["-o report.txt"] = open(o, "rb").read()
        e = dict(os.environ)
        e.pop("NO_COLOR", None)
        p = subprocess.run(["sh", "-c", '"$@" | cat', "sh", PM] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, env=e)
        outs["| cat, NO_COLOR unset"] = p.stdout
    for how, b in outs.items():
        t = b.decode("utf-8", "replace")
        lines = t.splitlines()
        json_lines = [x for x in lines if x.startswith("{")]
        if not lines or not lines[0].startswith("portmortem ") or json_lines or "\033[" in t \
                or not any(x.startswith("Scope:") for x in lines):
            fail("text default, %s: not the plain text report: %r" % (how, t[:200]))
        else:
            global passes
            passes += 1


def hostile_vantage():
    """A vantage name that needs every escape comes back as the JSON has it."""
    cap = os.path.join(ROOT, "pcaps", "lab", "transit-forged-rst", "sender.pcap")
    # ("-" itself cannot be given: the command line reads "-=FILE" as an option.)
    for name in ("in\tside,\\é", "(empty)", "x-"):
        label, f, p = check_one("vantage %r" % name, ["--ports", "25,587", "%s=%s" % (name, cap)])
        fails.extend(f)
        global passes
        passes += p


def main():
    if not os.access(PM, os.X_OK):
        print("formats.py: %s is not built" % PM, file=sys.stderr)
        return 2
    global passes
    text_default()
    hostile_vantage()
    jobs = list(golden_jobs()) + list(lab_jobs())
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        for label, f, p in ex.map(lambda j: check_one(*j), jobs):
            fails.extend(f)
            passes += p
    for f in fails:
        print("FAIL " + f)
    print("check-formats: %d inputs (golden and lab) read back from Zeek TSV and CSV against "
          "their JSON Lines; %d checks passed, %d failed" % (len(jobs), passes, len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
