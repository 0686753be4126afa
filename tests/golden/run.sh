#!/usr/bin/env bash
# tests/golden/run.sh — `make check-golden`: every golden capture in pcaps/gen/ analysed by
# portmortem and compared field by field with the truth pmgen wrote for it (compare.jq), plus
# the report's own invariants (invariants.jq), the exit status, the summary object, and that
# regenerating the fixtures gives byte-identical files.
#
#   tests/golden/run.sh PORTMORTEM PMGEN
#
# Per-check PASS/FAIL lines go to tests/out/golden-<variant>.log; standard output shows one
# PASS line per capture and every failing check. Known portmortem bugs are listed in
# tests/golden/xfail.txt and reported as XFAIL (loudly), never silently skipped.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

# Worker: --one PORTMORTEM RESDIR [TRUTH PORTS]... (run by xargs, two at a time). Writes
# RESDIR/LABEL.stream (see stream.jq) and, on a sanitizer report, RESDIR/LABEL.san.
if [ "${1:-}" = --one ]; then
    pm=$2 res=$3
    shift 3
    set +e # one broken capture must not hide the ones after it
    while [ $# -ge 2 ]; do
        t=$1 ports=$2
        shift 2
        base=${t%.truth.json}
        label=$(basename "$base")
        cap=$base.pcap
        [ -f "$cap" ] || cap=$base.pcapng
        for _ in 1 2; do
            "$pm" analyze --format jsonl --no-progress --ports "$ports" "$cap" \
                > "$res/$label.out" 2> "$res/$label.err"
            rc=$?
            # 126/127: the binary could not be started (relinked under us by a parallel
            # make); that is no result at all, so try once more.
            [ $rc -eq 126 ] || [ $rc -eq 127 ] || break
            sleep 1
        done
        if san_hit "$res/$label.err"; then
            grep -m1 -E 'Sanitizer|runtime error' "$res/$label.err" > "$res/$label.san"
        fi
        {
            printf '{"_cap":"%s","_rc":%d}\n' "$label" "$rc"
            tr '\n' ' ' < "$t"
            echo
            cat "$res/$label.out"
            echo '{"_end":true}'
        } > "$res/$label.stream"
    done
    exit 0
fi

[ $# -eq 2 ] || { echo "usage: $0 PORTMORTEM PMGEN" >&2; exit 2; }
pm=$1 pmgen=$2
command -v jq > /dev/null || { echo "check-golden: jq is required" >&2; exit 2; }
san_env
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/res" "$root/tests/out"
log="$root/tests/out/golden-$(variant_of "$pm").log"
start=$(date +%s)

# 1. The fixtures are exactly what the generator writes today.
if "$here/regen.sh" -p "$pmgen" -o "$tmp/regen" > "$tmp/regen.log" 2>&1 &&
    diff -r -q "$root/pcaps/gen" "$tmp/regen" > "$tmp/regen.diff" 2>&1; then
    echo "PASS regen pcaps/gen is byte-identical to a fresh tests/golden/regen.sh" > "$tmp/results"
else
    {
        echo "FAIL regen pcaps/gen: differs from a fresh regeneration (run make regen-golden and commit)"
        sed 's/^/    /' "$tmp/regen.log" "$tmp/regen.diff" | head -20
    } > "$tmp/results"
fi

# 2. Every capture analysed (two at a time), then one jq run compares them all.
jq -r '"\(input_filename) \(.ports | join(","))"' "$root"/pcaps/gen/*.truth.json > "$tmp/list"
xargs -P2 -n16 "$0" --one "$pm" "$tmp/res" < "$tmp/list"
while read -r t _; do
    label=$(basename "$t" .truth.json)
    if [ ! -s "$tmp/res/$label.stream" ]; then
        echo "FAIL $label harness: no result (the runner itself failed)" >> "$tmp/results"
    fi
    if [ -s "$tmp/res/$label.san" ]; then
        echo "FAIL $label sanitizer: $(cat "$tmp/res/$label.san")" >> "$tmp/results"
    fi
done < "$tmp/list"
cat "$tmp"/res/*.stream | jq -n -R -r -L "$here" -f "$here/compare.jq" >> "$tmp/results" ||
    echo "FAIL harness compare.jq: jq failed" >> "$tmp/results"
cp "$tmp/results" "$log"

# 3. Tally, with the known failures.
xfail_load "$here/xfail.txt"
declare -A xused=() failed=() checks=()
npass=0 nfail=0 nxfail=0
while IFS= read -r line; do
    case $line in
        PASS*)
            npass=$((npass + 1))
            l=${line#PASS }
            l=${l%% *}
            checks[$l]=$((${checks[$l]:-0} + 1))
            ;;
        FAIL*)
            rest=${line#FAIL }
            l=${rest%% *}
            hit=$(xfail_match "$line" || true)
            if [ -n "$hit" ]; then
                xused[$hit]=1
                echo "XFAIL $rest"
                nxfail=$((nxfail + 1))
            else
                echo "$line"
                nfail=$((nfail + 1))
                failed[$l]=1
            fi
            ;;
        *) echo "$line" ;;
    esac
done < "$tmp/results"
for l in $(printf '%s\n' "${!checks[@]}" | sort); do
    [ -n "${failed[$l]:-}" ] || echo "PASS $l (${checks[$l]} checks)"
done
for p in "${XPAT[@]}"; do
    [ -n "${xused[$p]:-}" ] ||
        echo "XPASS '$p' matched no failing check: portmortem may be fixed; remove it from tests/golden/xfail.txt"
done
echo "check-golden: $(wc -l < "$tmp/list") captures, $npass checks passed, $nfail failed, $nxfail known failures (XFAIL), $(( $(date +%s) - start )) s; every check in ${log#"$root"/}"
if [ "$nxfail" -gt 0 ]; then
    echo "check-golden: !!! $nxfail checks fail because of known portmortem bugs (tests/golden/xfail.txt) !!!"
fi
[ "$nfail" = 0 ]
