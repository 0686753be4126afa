#!/bin/sh
# valgrind.sh — owns the Valgrind (memcheck) pass of `make check`: the release tool over a
# few fixtures chosen to walk different paths, and the Criterion unit runner with a few
# suites. Any invalid access, use of uninitialised memory or definite/indirect leak fails.
#
#   tests/fuzz/valgrind.sh "VALGRIND FLAGS" PORTMORTEM UNIT_RUNNER "SUITES"
#
# Criterion runs each test in a child process and does not fail a test whose child exits
# with Valgrind's error status after the test passed, so the children's reports go to log
# files (--log-file=...%p) and any non-empty log is a failure.
set -u
VG=$1
PM=$2
UNIT=$3
SUITES=$4
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
fail=0
n=0

run() { # expected-statuses description args...
    want=$1
    what=$2
    shift 2
    n=$((n + 1))
    # shellcheck disable=SC2086
    $VG --log-file="$TMP/vg.$n.log" "$PM" "$@" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    ok=0
    for w in $want; do [ "$rc" = "$w" ] && ok=1; done
    if [ -s "$TMP/vg.$n.log" ] || [ $ok = 0 ]; then
        echo "valgrind: FAIL $what: exit $rc (expected $want)" >&2
        cat "$TMP/vg.$n.log" >&2
        head -5 "$TMP/err" | sed 's/^/  stderr: /' >&2
        fail=1
    else
        echo "valgrind: ok   $what (exit $rc)"
    fi
}

# Fixtures: the lab's recorded incidents when present (with their MTA logs), else any
# capture under pcaps/.
pick() { # directory name under pcaps/lab
    [ -f "pcaps/lab/$1/sender.pcap" ] && echo "pcaps/lab/$1"
}
first=pcaps/lab/success/sender.pcap
[ -f "$first" ] || first=$(find pcaps -name '*.pcap' -type f ! -path '*fuzz-regressions*' 2>/dev/null \
    | sort | head -1)
if [ -z "$first" ]; then
    echo "valgrind: no capture under pcaps/: nothing to run the tool on" >&2
    exit 1
fi
done_any=0
for d in success mx-no-listener transit-admin-prohibited v6-mx-silent-drop greeting-554; do
    dir=$(pick $d) || continue
    [ -n "$dir" ] || continue
    done_any=1
    log=
    [ -f "$dir/maillog" ] && log="--mta-log $dir/maillog"
    [ -f "$dir/exim-mainlog" ] && log="--mta-log $dir/exim-mainlog"
    # shellcheck disable=SC2086
    run "0 1" "$dir (jsonl, with its MTA log)" analyze --format jsonl --no-progress $log \
        "$dir/sender.pcap"
done
if [ $done_any = 0 ]; then
    run "0 1" "$first (jsonl)" analyze --format jsonl --no-progress "$first"
fi
# Two vantages merged, text report.
if [ -f pcaps/lab/nat-drop/sender.pcap ] && [ -f pcaps/lab/nat-drop/nat-outside.pcap ]; then
    run "0 1" "two vantages, text report" analyze --format text --no-color --no-progress \
        inside=pcaps/lab/nat-drop/sender.pcap outside=pcaps/lab/nat-drop/nat-outside.pcap
else
    run "0 1" "$first (text)" analyze --format text --no-color --no-progress "$first"
fi
# pcapng (our own block reader), when editcap can make one.
if command -v editcap >/dev/null 2>&1 && editcap -F pcapng "$first" "$TMP/ng.pcapng" 2>/dev/null; then
    run "0 1" "pcapng copy of $first" analyze --format jsonl --no-progress "$TMP/ng.pcapng"
fi
# A damaged capture: the file cut in the middle of a record (exit 4, partial results).
size=$(wc -c < "$first")
head -c $((size - 7)) "$first" > "$TMP/cut.pcap"
run "4" "capture cut mid-record" analyze --format jsonl --no-progress "$TMP/cut.pcap"
# Not a capture at all (exit 3).
printf 'this is not a capture file, it is a line of text\n' > "$TMP/not-a-capture.pcap"
run "3" "not a capture" analyze --format jsonl --no-progress "$TMP/not-a-capture.pcap"

# The unit runner: one job, each suite's child processes traced.
for s in $SUITES; do
    rm -f "$TMP"/unit.*.log
    # shellcheck disable=SC2086
    $VG --trace-children=yes --log-file="$TMP/unit.%p.log" "$UNIT" --filter "$s/*" -j1 \
        > "$TMP/out" 2>&1
    rc=$?
    bad=$(find "$TMP" -name 'unit.*.log' -size +0c | head -1)
    tested=$(grep -o 'Tested: [0-9]*' "$TMP/out" | awk '{print $2}')
    if [ -n "$bad" ] || [ "$rc" != 0 ]; then
        echo "valgrind: FAIL unit suite $s (exit $rc)" >&2
        find "$TMP" -name 'unit.*.log' -size +0c -exec cat {} + >&2
        tail -5 "$TMP/out" >&2
        fail=1
    elif [ "${tested:-0}" = 0 ]; then
        echo "valgrind: FAIL unit suite $s: no test matched $s/*" >&2
        fail=1
    else
        echo "valgrind: ok   unit suite $s ($tested tests)"
    fi
done
[ $fail = 0 ] && echo "valgrind: no errors, no leaks"
exit $fail
