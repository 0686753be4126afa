#!/bin/sh
# regress.sh — owns running the tool over every capture in pcaps/fuzz-regressions/ (inputs
# that once crashed or misled a fuzz target): each must end with a documented exit status
# and, when it is not 0 or 1, a message on standard error that names the file; no sanitizer
# or UBSan report, no signal. A file FOO.pcap may have FOO.exit holding the exact expected
# status; otherwise 0, 1, 3 and 4 are all acceptable (2 is a usage error: never for a file).
#
#   tests/fuzz/regress.sh PORTMORTEM DIR
set -u
PM=$1
DIR=$2
n=0
fail=0
for f in "$DIR"/*; do
    case $f in *.exit|*.md|*.txt) continue ;; esac
    [ -f "$f" ] || continue
    n=$((n + 1))
    err=$(mktemp)
    "$PM" analyze --ports 25,465,587 --format jsonl --no-progress "$f" > /dev/null 2> "$err"
    rc=$?
    want="0 1 3 4"
    [ -f "${f%.*}.exit" ] && want=$(cat "${f%.*}.exit")
    ok=0
    for w in $want; do [ "$rc" = "$w" ] && ok=1; done
    if grep -qE 'AddressSanitizer|runtime error|LeakSanitizer|UndefinedBehaviorSanitizer' "$err"; then
        ok=0
    fi
    if [ "$rc" -ge 3 ] && ! grep -q "$(basename "$f")" "$err"; then
        echo "regress: $f: exit $rc without a message naming the file" >&2
        ok=0
    fi
    if [ $ok = 0 ]; then
        echo "regress: FAIL $f: exit $rc (expected one of: $want)" >&2
        head -20 "$err" | sed 's/^/  /' >&2
        fail=1
    fi
    rm -f "$err"
done
[ $fail = 0 ] && echo "regress: $n fuzz-found captures: documented exit status, clear messages ($PM)"
exit $fail
