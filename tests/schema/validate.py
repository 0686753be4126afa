#!/usr/bin/python3
"""tests/schema/validate.py — validates portmortem's JSON Lines against docs/schema/.

Run with Debian's interpreter (/usr/bin/python3) and python3-jsonschema (Draft 2020-12):

    validate.py [--schema-dir DIR] [--expect-fail] FILE...

Every line of every FILE (or every element, when a FILE is one JSON array) must be one JSON object valid against report.schema.json (which
dispatches on "type" to attempt/destination/summary/probe), and every stream must end with
exactly one summary object. Each failure is printed as

    FILE:LINE: TYPE: KEY.PATH: what is wrong

(KEY.PATH names the offending key: for a key the schema does not know, the key itself).
Exit 0 when everything is valid, 1 otherwise. With --expect-fail the sense is inverted per
file: each FILE must hold at least one invalid object (the negative tests), and the errors
are still printed so the log shows why each was rejected.
"""
import argparse
import json
import os
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator, RefResolver
except ImportError:
    sys.stderr.write("check-schema: python3-jsonschema is missing for %s: "
                     "apt-get install python3-jsonschema (or sh .ci/setup)\n" % sys.executable)
    sys.exit(2)


def load_schemas(d):
    store = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".schema.json"):
            continue
        path = os.path.join(d, name)
        with open(path, encoding="utf-8") as f:
            s = json.load(f)
        Draft202012Validator.check_schema(s)  # a broken schema file fails loudly
        if s.get("$id", "").rsplit("/", 1)[-1] != name:
            raise SystemExit("check-schema: %s: $id must end in /%s" % (path, name))
        store[s["$id"]] = s
    return store


def key_path(err):
    parts = [str(p) for p in err.absolute_path]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = err.schema.get("properties", {})
        extra = [k for k in err.instance if k not in allowed]
        if extra:
            parts.append(extra[0])
    elif err.validator == "required":
        m = re.match(r"'(.*)' is a required property", err.message)
        if m:
            parts.append(m.group(1))
    return ".".join(parts) if parts else "(object)"


def leaf_errors(err):
    """The innermost errors: an if/then or anyOf failure is explained by its context."""
    if err.context:
        out = []
        for c in err.context:
            out.extend(leaf_errors(c))
        # anyOf [X, null]: when X's branch failed deeper inside, "is not of type 'null'" only
        # repeats that the value is not null; keep the deeper reason.
        deepest = max(len(e.absolute_path) for e in out)
        return [e for e in out if not (e.validator == "type" and len(e.absolute_path) < deepest)]
    return [err]


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--schema-dir", default=os.path.join(here, "..", "..", "docs", "schema"))
    ap.add_argument("--expect-fail", action="store_true")
    # objects that are not a run's report (watch's syslog records): no summary expected
    ap.add_argument("--no-summary", action="store_true")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()

    store = load_schemas(a.schema_dir)
    top = store["https://portmortem.invalid/schema/1/report.schema.json"]
    resolver = RefResolver(base_uri=top["$id"], referrer=top, store=store)
    v = Draft202012Validator(top, resolver=resolver)

    bad_files = 0
    objects = 0
    for path in a.files:
        errors = []
        summaries = []
        last_type = None
        with open(path, encoding="utf-8", errors="strict") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        items = list(enumerate(lines, 1))
        if lines and lines[0].lstrip().startswith("["):
            # One JSON document holding an array of the same objects (a form a `-f json`
            # may take): each element is checked as a line would be; N is its index + 1.
            try:
                doc = json.loads("\n".join(lines))
                items = [(i, json.dumps(o)) for i, o in enumerate(doc, 1)]
            except ValueError as e:
                items = []
                errors.append("%s:1: (not JSON): %s" % (path, e))
        for n, line in items:
            if not line.strip():
                errors.append("%s:%d: (blank line): a JSON Lines stream has no blank lines" % (path, n))
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                errors.append("%s:%d: (not JSON): %s" % (path, n, e))
                continue
            objects += 1
            t = obj.get("type", "(no type)") if isinstance(obj, dict) else "(not an object)"
            if t == "probe" and isinstance(obj.get("check"), str):
                t = "probe/" + obj["check"]
            last_type = t
            if t == "summary":
                summaries.append(n)
            seen = set()
            for err in sorted(v.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
                for leaf in leaf_errors(err):
                    msg = "%s:%d: %s: %s: %s" % (path, n, t, key_path(leaf), leaf.message[:300])
                    if msg not in seen:
                        seen.add(msg)
                        errors.append(msg)
        if not a.expect_fail and not a.no_summary:
            if len(summaries) != 1:
                errors.append("%s: want exactly one summary object, found %d (lines %s)"
                              % (path, len(summaries), summaries))
            elif last_type != "summary":
                errors.append("%s: the summary (line %d) is not the last object" % (path, summaries[0]))
        for e in errors:
            print(("rejected as expected: " if a.expect_fail else "") + e)
        if a.expect_fail and not errors:
            print("%s: every object is valid, but this file must be rejected" % path)
            bad_files += 1
        elif not a.expect_fail and errors:
            bad_files += 1
    if bad_files:
        print("check-schema: %d of %d files %s" % (bad_files, len(a.files),
              "were accepted though invalid" if a.expect_fail else "have objects that do not match docs/schema/"))
        return 1
    print("check-schema: %d objects in %d files %s" % (objects, len(a.files),
          "all rejected as they must be" if a.expect_fail else "valid"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
