#!/usr/bin/env bash
# tests/schema/run.sh — every JSON object portmortem writes, validated against docs/schema/
# (JSON Schema draft 2020-12) by a real validator: Debian's python3-jsonschema, run by
# /usr/bin/python3 (the python3 on PATH may be another interpreter without it).
#
#   tests/schema/run.sh PORTMORTEM PMGEN
#
# What is validated (each stream also must end with exactly one summary):
#   golden    every pcaps/gen/*.truth.json capture, analysed as check-golden does (-f jsonl)
#   lab       every committed lab fixture (pcaps/lab/*/truth.json), analysed as the lab's
#             offline suite does (tests/lab/run.sh: its captures, window, ports,
#             --expect-source and MTA log), once with -f jsonl and once with -f json
#   bundle    report.json of a bundle made from each pcaps/bundle/ fixture
#   live      as root, in a private network namespace of its own (unshare -n, loopback
#             only): `probe -f jsonl --inject` against a tiny SMTP listener on 587 and
#             nothing on 25 (its test SYN refused: loopback), `capture -i lo --duration`
#             during the same connections (summary with capture_drops and privileges), and
#             `probe --inject --ttl-walk --allow-loopback` (walk and syn objects); skipped
#             with the reason otherwise
#   partial   a pmgen storm with its tables forced small (limits.*.full_by, flags evicted and
#             table-full) and a golden capture cut short (damaged, damage)
# The closed vocabularies of the source (outcome, verdict, owner names, the rule and scope
# tables, attempt flags, the probe's conclusions) must equal the schema's enums.
# And first, that the check can fail: real objects from this run with an unknown key added
# (at the top and nested) and with a value off a closed vocabulary (outcome, verdict, owner,
# confidence, conn_state, rst.origin, a probe's result) must each be rejected, naming the
# key. A failure prints FILE:LINE: TYPE: KEY.PATH: reason; the outputs are kept and named.
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 PORTMORTEM PMGEN" >&2; exit 2; }
pm=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
pmgen=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
V=("$PY" "$here/validate.py" --schema-dir "$root/docs/schema")

if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
    echo "check-schema: $PY has no jsonschema module: apt-get install python3-jsonschema (sh .ci/setup does)" >&2
    exit 1
fi
command -v jq >/dev/null || { echo "check-schema: jq is required" >&2; exit 2; }

out=$(mktemp -d "${TMPDIR:-/tmp}/pm-schema.XXXXXX")
keep=0
trap '[ $keep = 1 ] || rm -rf "$out"' EXIT
mkdir -p "$out/golden" "$out/lab" "$out/bundle" "$out/live" "$out/neg"
fail=0
cd "$root" || exit 2

# An analysis must run and report: exit 0, 1 or 4; anything else leaves no stream to check.
ran() {  # ran RC WHAT ERRFILE
    case $1 in 0|1|4) return 0 ;; esac
    echo "FAIL $2: portmortem exited $1: $(head -c 300 "$3" | tr '\n' ' ')"
    fail=1
    return 1
}

# ---- golden: as tests/golden/run.sh runs them -----------------------------------------
n=0
for t in pcaps/gen/*.truth.json; do
    base=${t%.truth.json}
    cap=$base.pcap
    [ -f "$cap" ] || cap=$base.pcapng
    label=$(basename "$base")
    ports=$(jq -r '.ports | join(",")' "$t")
    printf '%s\0%s\0%s\0' "$cap" "$ports" "$out/golden/$label.jsonl"
    n=$((n + 1))
done | xargs -0 -n 3 -P 2 sh -c '"$0" analyze --format jsonl --no-progress --ports "$2" "$1" \
        >"$3" 2>"$3.err"; echo $? >"$3.rc"' "$pm"
for rcf in "$out"/golden/*.rc; do
    f=${rcf%.rc}
    ran "$(cat "$rcf")" "golden ${f##*/}" "$f.err" || rm -f "$f"
done

# ---- lab fixtures: the arguments tests/lab/run.sh (compare_dir) gives --------------------
for truth in pcaps/lab/*/truth.json; do
    dir=${truth%/truth.json}
    name=${dir##*/}
    args=()
    while read -r k v; do args+=("$k=$dir/$v"); done < <(jq -r '.captures | to_entries[] | "\(.key) \(.value)"' "$truth")
    while read -r k v; do args+=("$k" "$v"); done < <(jq -r '
        (if .window then "--since @\(.window.since)", "--until @\(.window.until)" else empty end),
        (if .ports then "--ports \(.ports | map(tostring) | join(","))" else empty end),
        ((.expect_source // [])[] | "--expect-source \(.)")' "$truth")
    for fmt in jsonl json; do
        o=$out/lab/$name.$fmt
        "$pm" analyze --format "$fmt" --mta-log "$dir/$(jq -r .mta_log "$truth")" "${args[@]}" \
            >"$o" 2>"$o.err" </dev/null
        ran $? "lab $name -f $fmt" "$o.err" || rm -f "$o"
    done
done

# ---- bundles: report.json ------------------------------------------------------------------
for dir in pcaps/bundle/*/; do
    name=$(basename "$dir")
    b=$out/bundle/$name
    "$pm" analyze --format jsonl --ports 25,587 --mta-log "$dir/maillog" "sender=$dir/sender.pcap" \
        --bundle "$b" >"$out/bundle/$name.stdout" 2>"$out/bundle/$name.err" </dev/null
    if ran $? "bundle $name" "$out/bundle/$name.err"; then
        if [ -f "$b/report.json" ]; then
            cp "$b/report.json" "$out/bundle/$name.report.json"
        else
            echo "FAIL bundle $name: no report.json in the bundle"
            fail=1
        fi
    fi
    rm -rf "$b"
done

# has FILE [JQ-ARGS...] FILTER: some object of the JSON Lines FILE makes FILTER true (jq 1.6's -e
# looks at the last input only, so slurp).
has() { local f=$1; shift; jq -s -e "${@:1:$#-1}" "map(select(${!#})) | length > 0" "$f" >/dev/null 2>&1; }

# ---- live: probe and capture in a private network namespace --------------------------------
live_reason=
if [ "$(id -u)" != 0 ]; then live_reason="not root"
elif ! command -v unshare >/dev/null || ! timeout 5 unshare -n true 2>/dev/null; then
    live_reason="unshare -n (a private network namespace) is not allowed here"
fi
if [ -z "$live_reason" ]; then
    # In the namespace: loopback only. A listener on 587 that speaks just enough SMTP
    # (greeting, EHLO, QUIT), nothing on 25 (refused); a capture on lo for the same
    # connections; then probe, which captures on lo itself.
    timeout -k 2 120 unshare -n bash -c '
        pm=$1 o=$2 py=$3
        ip link set lo up || exit 1
        "$py" -c "
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", 587)); s.listen(8); s.settimeout(40)
while True:
    try:
        c, _ = s.accept()
    except OSError:
        break
    c.settimeout(5); f = c.makefile(\"rb\")
    c.sendall(b\"220 schema.test ESMTP\\r\\n\")
    try:
        for line in f:
            w = line[:4].upper()
            if w in (b\"EHLO\", b\"HELO\"):
                c.sendall(b\"250-schema.test\\r\\n250-PIPELINING\\r\\n250 8BITMIME\\r\\n\")
            elif w == b\"QUIT\":
                c.sendall(b\"221 bye\\r\\n\"); break
            else:
                c.sendall(b\"502 no\\r\\n\")
    except OSError:
        pass
    c.close()
" & lpid=$!
        sleep 0.5
        "$pm" capture -i lo --ports 25,587 --duration 4 --format jsonl >"$o/capture.jsonl" 2>"$o/capture.err" &
        cpid=$!
        sleep 1
        # --inject without --allow-loopback: the test SYN is refused (a "syn" object saying why)
        "$pm" probe --format jsonl --compare-ports 587 --inject 127.0.0.1 >"$o/probe.jsonl" 2>"$o/probe.err"
        echo $? >"$o/probe.rc"
        wait $cpid; echo $? >"$o/capture.rc"
        # raw test SYN and a short TTL walk over loopback: the "walk" and "syn" shapes
        "$pm" probe --format jsonl --inject --ttl-walk --allow-loopback --max-ttl 3 127.0.0.1 \
            >"$o/probe-walk.jsonl" 2>"$o/probe-walk.err"
        echo $? >"$o/probe-walk.rc"
        kill $lpid 2>/dev/null; wait $lpid 2>/dev/null
        exit 0' sh "$pm" "$out/live" "$PY"
    for w in probe probe-walk capture; do
        rc=$(cat "$out/live/$w.rc" 2>/dev/null || echo none)
        ran "$rc" "live $w" "$out/live/$w.err" || rm -f "$out/live/$w.jsonl"
    done
    # The probe stream must hold the shapes this run exercises, or the check proves little.
    if [ -f "$out/live/probe.jsonl" ]; then
        for c in dns plan smtp ports run; do
            has "$out/live/probe.jsonl" --arg c "$c" '.type == "probe" and .check == $c' ||
                { echo "FAIL live probe: no \"check\":\"$c\" object"; fail=1; }
        done
        has "$out/live/probe.jsonl" '.check == "syn" and .refused' ||
            { echo "FAIL live probe: no refused test SYN (\"check\":\"syn\" with \"refused\")"; fail=1; }
        has "$out/live/probe.jsonl" '.check == "smtp" and .greeting and .ehlo' ||
            { echo "FAIL live probe: no smtp check with a greeting and an EHLO reply"; fail=1; }
    fi
    if [ -f "$out/live/probe-walk.jsonl" ]; then
        for c in walk syn; do
            has "$out/live/probe-walk.jsonl" --arg c "$c" '.type == "probe" and .check == $c and (.refused | not)' ||
                { echo "FAIL live probe --ttl-walk: no \"check\":\"$c\" object"; fail=1; }
        done
    fi
    if [ -f "$out/live/capture.jsonl" ]; then
        has "$out/live/capture.jsonl" '.type == "summary" and .subcommand == "capture" and (.capture_drops | type) == "object"' ||
            { echo "FAIL live capture: no summary with capture_drops"; fail=1; }
    fi
else
    echo "check-schema: live probe and capture skipped: $live_reason"
fi

# ---- partial results: a full table and a damaged capture --------------------------------------
# The limits and damage keys hold values (full_by, damage, flags evicted/table-full) that a
# clean run never writes.
# A storm over many destinations (pmgen, as check-limits makes it), its tables forced small.
o=$out/lab/partial-limits.jsonl
if "$pmgen" mix --storm --packets 3000 --seed 3 -o "$out/storm.pcap" --truth "$out/storm.truth.json" \
        >"$o.err" 2>&1; then
    "$pm" analyze --format jsonl --no-progress --max-flows 16 --max-dests 16 --max-sessions 16 \
        "$out/storm.pcap" >"$o" 2>"$o.err" </dev/null
    ran $? "partial-limits" "$o.err" || rm -f "$o"
else
    echo "FAIL partial-limits: $pmgen could not make the storm capture: $(head -c 300 "$o.err")"
    fail=1
fi
cap=$(ls -S pcaps/gen/*.eth.pcap | head -1)
head -c $(( $(stat -c %s "$cap") * 2 / 3 )) "$cap" >"$out/cut.pcap"
o=$out/lab/partial-damaged.jsonl
"$pm" analyze --format jsonl --ports 25,465,587 "$out/cut.pcap" >"$o" 2>"$o.err" </dev/null
ran $? "partial-damaged" "$o.err" || rm -f "$o"
[ -f "$out/lab/partial-limits.jsonl" ] && { has "$out/lab/partial-limits.jsonl" '.type == "summary" and .limits.partial' ||
    { echo "FAIL partial-limits: the summary does not say partial (the run hit no bound)"; fail=1; }; }
[ -f "$out/lab/partial-damaged.jsonl" ] && { has "$out/lab/partial-damaged.jsonl" '.type == "summary" and .damaged' ||
    { echo "FAIL partial-damaged: the summary does not say damaged"; fail=1; }; }

# ---- closed vocabularies: the source's lists equal the schema's enums -----------------------------
# A word added to one of these tables (a rule, a flag, a verdict...) must be added to the schema
# too, even before any fixture produces it.
vocab() {  # vocab WHAT SCHEMA-FILE JQ-PATH FILE GREP-REGEX SED-EXPR
    local want got
    want=$(grep -oE "$5" "$4" | sed -E "$6" | sort -u)
    got=$(jq -r "$3 | .[] | select(. != null) | tostring" "docs/schema/$2" | sort -u)
    if [ -z "$want" ]; then
        echo "FAIL vocabulary $1: found no words in $4 (did the table's layout change? update tests/schema/run.sh)"
        fail=1
    elif [ "$want" != "$got" ]; then
        echo "FAIL vocabulary $1: $4 and docs/schema/$2 ($3) differ:"
        diff <(echo "$want") <(echo "$got") | grep '^[<>]' | sed "s|^<|    only in $4:|; s|^>|    only in the schema:|"
        fail=1
    fi
}
C='.["$defs"]'
vocab outcome common.schema.json "$C.outcome.enum" analyze/vocab.c '\[PM_OUT_[A-Z_]+\] = "[a-z-]+"' 's/.*"(.*)"/\1/'
vocab verdict common.schema.json "$C.verdict.enum" analyze/verdicts.c '\[PM_V_[A-Z_]+\] = \{"[a-z-]+"' 's/.*"(.*)"/\1/'
vocab owner common.schema.json "$C.owner.enum" analyze/vocab.c '\[PM_OWN_[A-Z_]+\] = "[a-z-]+"' 's/.*"(.*)"/\1/'
vocab rule common.schema.json "$C.rule.enum" analyze/rules.c '^    \{"[a-z0-9-]+",' 's/^    \{"(.*)",/\1/'
vocab scope_rule common.schema.json "$C.scope_rule.enum" analyze/scope.c '^    \{"[a-z0-9-]+", w_' 's/^    \{"(.*)", w_/\1/'
vocab flag common.schema.json "$C.flag.enum" analyze/report_json.c '\{PM_AF_[A-Z_]+, "[a-z-]+"\}' 's/.*"(.*)".*/\1/'
vocab probe-verdict probe.schema.json "$C.ports.properties.verdict.enum" capture/probe_verdict.c '^    \{"[a-z0-9-]+", w_' 's/^    \{"(.*)", w_/\1/'

# ---- the check can fail ----------------------------------------------------------------------
# Real objects of this run, each broken in one way; each must be rejected naming the key.
src=$out/lab/transit-forged-rst.jsonl
neg() {  # neg NAME FILE JQ-SELECT JQ-BREAK WANT-IN-MESSAGE
    local obj
    obj=$(jq -c "$3" "$2" 2>/dev/null | head -1)
    if [ -z "$obj" ]; then echo "FAIL negative $1: no object to break in ${2#"$out"/}"; fail=1; return; fi
    printf '%s\n' "$obj" | jq -c "$4" >"$out/neg/$1.jsonl"
    if "${V[@]}" --expect-fail "$out/neg/$1.jsonl" >"$out/neg/$1.log" 2>&1 &&
        grep -qF -- "$5" "$out/neg/$1.log"; then
        :
    else
        echo "FAIL negative $1: a broken object was not rejected with '$5':"
        sed 's/^/    /' "$out/neg/$1.log"
        fail=1
    fi
}
neg extra-top "$src" 'select(.type == "attempt")' '. + {"added_without_schema": 1}' ': attempt: added_without_schema: Additional properties'
neg extra-rst "$src" 'select(.type == "attempt" and .rst)' '.rst.added = true' ': attempt: rst.added: Additional properties'
neg extra-summary "$src" 'select(.type == "summary")' '.packets.added = 0' ': summary: packets.added: Additional properties'
neg extra-dest "$src" 'select(.type == "destination")' '.added = null' ': destination: added: Additional properties'
neg extra-outside "$out/lab/window-edges.jsonl" 'select(.type == "summary")' '.log_lines.outside_window_lines[0].added = 1' 'log_lines.outside_window_lines.0.added: Additional'
neg bad-outcome "$src" 'select(.type == "attempt")' '.outcome = "refused-ish"' ': attempt: outcome: '"'"'refused-ish'"'"' is not one of'
neg bad-verdict "$src" 'select(.type == "attempt")' '.verdict = "firewall"' ': attempt: verdict: '"'"'firewall'"'"' is not one of'
neg bad-owner "$src" 'select(.type == "destination")' '.owner = "nobody"' ': destination: owner: '"'"'nobody'"'"' is not one of'
neg bad-confidence "$src" 'select(.type == "attempt")' '.confidence = "certain"' ': attempt: confidence: '"'"'certain'"'"' is not one of'
neg bad-conn-state "$src" 'select(.type == "attempt" and .conn_state)' '.conn_state = "S9"' ': attempt: conn_state: '"'"'S9'"'"' is not one of'
neg bad-rst-origin "$src" 'select(.type == "attempt" and .rst)' '.rst.origin = "elsewhere"' ': attempt: rst.origin: '"'"'elsewhere'"'"' is not one of'
neg bad-scope "$src" 'select(.type == "summary")' '.scope = "everything"' ': summary: scope: '"'"'everything'"'"' is not one of'
neg missing-rule "$src" 'select(.type == "attempt")' 'del(.rule)' ': attempt: rule: '"'"'rule'"'"' is a required property'
if [ -f "$out/live/probe.jsonl" ]; then
    neg probe-extra "$out/live/probe.jsonl" 'select(.check == "smtp")' '.greeting.added = 1' ': probe/smtp: greeting.added: Additional'
    neg probe-result "$out/live/probe.jsonl" 'select(.check == "smtp")' '.result = "maybe"' ': probe/smtp: result: '"'"'maybe'"'"' is not one of'
fi

# ---- the validation itself --------------------------------------------------------------------
files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$out/golden" "$out/lab" "$out/bundle" "$out/live" \
    -type f \( -name '*.jsonl' -o -name '*.json' -o -name '*.report.json' \) -print0 | sort -z)
ngold=$(find "$out/golden" -name '*.jsonl' | wc -l)
nlab=$(find "$out/lab" -type f ! -name '*.err' | wc -l)
if [ "$ngold" -lt 100 ] || [ "$nlab" -lt 60 ]; then
    echo "FAIL check-schema: too few outputs to validate ($ngold golden, $nlab lab): something did not run"
    fail=1
fi
if ! "${V[@]}" "${files[@]}" >"$out/validate.log" 2>&1; then
    grep -v '^check-schema:' "$out/validate.log" | sed "s|$out/||" | head -60
    tail -1 "$out/validate.log"
    fail=1
else
    tail -1 "$out/validate.log" | sed "s|\$| (golden $ngold, lab $nlab, bundle $(find "$out/bundle" -name '*.report.json' | wc -l), live $(find "$out/live" -name '*.jsonl' | wc -l); $(ls "$out/neg"/*.jsonl | wc -l) broken objects rejected)|"
fi
if [ $fail != 0 ]; then
    keep=1
    echo "check-schema: FAILED; the outputs are kept in $out"
    exit 1
fi
echo "check-schema: passed"
