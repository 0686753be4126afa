#!/usr/bin/env bash
# tests/output/run.sh — the report's output stream (analyze/output.c) and the exit status
# around it (docs/portmortem.1, EXIT STATUS):
#
#   - a report that cannot be written (-o /dev/full, standard output on /dev/full, a closed
#     standard output) exits 3 and says "portmortem: cannot write report to NAME: REASON";
#     the same for help texts and verify's lines (standard output checked at exit);
#   - with --bundle, the bundle is still written and verifies when the report fails;
#   - a reader that goes away (`| head -1` on a 3 MB report; a pipe whose reader is closed
#     before the first write, which gives EPIPE every time) is not an error: no message, no
#     death by SIGPIPE (141), the exit status is the run's own (the same run into
#     /dev/null), and the bundle is complete and verifies;
#   - file names with escape sequences, bidi controls and ill-formed UTF-8: sanitised in
#     every message (their UTF-8 kept), and in the JSON a string jq and python read back
#     as the name with each ill-formed byte replaced by U+FFFD;
#   - capture -o /dev/full and capture > /dev/full exit 3 with the message (root only: a
#     capture on the loopback of a new, empty network namespace, else SKIP);
#   - no sanitizer report in any run (the ASan+UBSan build runs this too).
#
# Environment: PORTMORTEM (default ./portmortem), PMGEN (the capture generator; default
# build/release/tests/gen/pmgen). Prints PASS/FAIL/SKIP per check; exits 1 on any FAIL.

# shellcheck disable=SC2015  # pass and fail always succeed
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORTMORTEM=${PORTMORTEM:-$ROOT/portmortem}
PMGEN=${PMGEN:-$ROOT/build/release/tests/gen/pmgen}
case $PORTMORTEM in /*) ;; *) PORTMORTEM=$ROOT/$PORTMORTEM ;; esac
case $PMGEN in /*) ;; *) PMGEN=$ROOT/$PMGEN ;; esac
FIX=$ROOT/pcaps/bundle/mx-no-listener

PASSED=0 FAILED=0 SKIPPED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'SKIP %s\n' "$1"; }

for x in "$PORTMORTEM" "$PMGEN"; do
    [ -x "$x" ] || { echo "tests/output/run.sh: $x is not built" >&2; exit 2; }
done
for tool in jq python3; do
    command -v "$tool" >/dev/null || { echo "tests/output/run.sh: $tool is needed" >&2; exit 2; }
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=87:print_stacktrace=1}

WORK=$(mktemp -d /tmp/pm-output-test.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

# A report far larger than a pipe's buffer (64 KiB), so that `| head -1` closes its end
# while the report is still being written: 3000 packets of a SYN storm.
BIG=$WORK/storm.pcap
"$PMGEN" mix --storm -o "$BIG" --packets 3000 >/dev/null 2>&1 || { echo "pmgen failed" >&2; exit 2; }
SMALL=(--mta-log "$FIX/maillog" "sender=$FIX/sender.pcap")
an() { "$PORTMORTEM" analyze --no-progress "$@"; }

# The run's own status, report into /dev/null (which never fails).
an -f jsonl "$BIG" >/dev/null 2>"$WORK/big-null.err"; BIGRC=$?
an -f jsonl "${SMALL[@]}" >/dev/null 2>"$WORK/small-null.err"; SMALLRC=$?
[ "$BIGRC" = 1 ] && [ "$SMALLRC" = 1 ] && pass "the runs into /dev/null: exit 1 (failures found)" ||
    fail "the runs into /dev/null" "big $BIGRC small $SMALLRC"
SIZE=$(an -f jsonl "$BIG" 2>/dev/null | wc -c)
[ "$SIZE" -gt 1000000 ] && pass "the large report is $SIZE bytes (more than a pipe holds)" ||
    fail "the large report is large" "$SIZE bytes"

# ---------------------------------------------------------------- write errors: exit 3
# expect_err NAME RC ERRFILE MESSAGE
expect_err() {
    if [ "$2" = 3 ] && grep -qxF "$4" "$3"; then pass "$1: exit 3, \"$4\""; else
        fail "$1" "exit $2, want 3 and: $4" "$(cat "$3")"; fi
}
an -f jsonl -o /dev/full "${SMALL[@]}" 2>"$WORK/o-full.err"
expect_err "-o /dev/full" $? "$WORK/o-full.err" "portmortem: cannot write report to /dev/full: No space left on device"
an -f jsonl "${SMALL[@]}" >/dev/full 2>"$WORK/stdout-full.err"
expect_err "jsonl > /dev/full" $? "$WORK/stdout-full.err" "portmortem: cannot write report to standard output: No space left on device"
an -f text "${SMALL[@]}" >/dev/full 2>"$WORK/text-full.err"
expect_err "text > /dev/full" $? "$WORK/text-full.err" "portmortem: cannot write report to standard output: No space left on device"
an -f jsonl "$BIG" >/dev/full 2>"$WORK/big-full.err"
expect_err "a 3 MB report > /dev/full (fails in a flush long before the end)" $? "$WORK/big-full.err" \
    "portmortem: cannot write report to standard output: No space left on device"
[ "$(grep -c "cannot write" "$WORK/big-full.err")" = 1 ] && pass "the write error is said once" ||
    fail "the write error is said once" "$(cat "$WORK/big-full.err")"
an -f jsonl "${SMALL[@]}" >&- 2>"$WORK/closed.err"
expect_err "closed standard output" $? "$WORK/closed.err" "portmortem: cannot write report to standard output: Bad file descriptor"
"$PORTMORTEM" --help >/dev/full 2>"$WORK/help-full.err"
expect_err "--help > /dev/full" $? "$WORK/help-full.err" "portmortem: cannot write to standard output: No space left on device"
"$PORTMORTEM" analyze --help >/dev/full 2>"$WORK/ahelp-full.err"
expect_err "analyze --help > /dev/full" $? "$WORK/ahelp-full.err" "portmortem: cannot write to standard output: No space left on device"

B=$WORK/full-bundle
an -f jsonl -o /dev/full --bundle "$B" "${SMALL[@]}" 2>"$WORK/full-bundle.err"; RC=$?
"$PORTMORTEM" verify "$B" >/dev/full 2>"$WORK/verify-full.err"
expect_err "verify > /dev/full" $? "$WORK/verify-full.err" "portmortem: cannot write to standard output: No space left on device"
[ "$RC" = 3 ] && "$PORTMORTEM" verify "$B" >/dev/null 2>&1 &&
    [ "$(jq -s '[.[] | select(.type == "attempt")] | length' "$B/report.json")" -ge 1 ] &&
    pass "-o /dev/full --bundle: exit 3, and the bundle is written and verifies" ||
    fail "-o /dev/full --bundle" "exit $RC" "$(cat "$WORK/full-bundle.err")"

# ---------------------------------------------------------------- the reader goes away
B=$WORK/head
an -f jsonl --bundle "$B" "$BIG" 2>"$WORK/head.err" | head -1 >"$WORK/head.out"
RC=${PIPESTATUS[0]}
if [ "$RC" = "$BIGRC" ] && [ "$(jq -r .type "$WORK/head.out")" = attempt ] &&
    "$PORTMORTEM" verify "$B" >/dev/null 2>&1; then
    pass "| head -1 --bundle: exit $RC (the run's), the first attempt printed, the bundle verifies"
else
    fail "| head -1 --bundle" "exit $RC (the run's: $BIGRC)" "$(cat "$WORK/head.err")"
fi
! grep -v "^portmortem: bundle .* written" "$WORK/head.err" | grep -q . &&
    pass "| head -1: no message but the bundle's" || fail "| head -1: no message" "$(cat "$WORK/head.err")"
[ "$(jq -s '[.[] | select(.type == "attempt")] | length' "$B/report.json")" = \
  "$(an -f jsonl "$BIG" 2>/dev/null | jq -s '[.[] | select(.type == "attempt")] | length')" ] &&
    [ "$(jq -r .type "$B/report.json" | tail -1)" = summary ] &&
    pass "| head -1: the bundle's report.json holds every attempt and the summary" ||
    fail "| head -1: the bundle's report.json is complete"

# A pipe whose reader is closed before anything is written: EPIPE on the first write, every
# time (head -1 races with the writer on a small report; this does not).
closed_pipe() {  # closed_pipe ERRFILE COMMAND...: run with stdout on a reader-less pipe
    python3 - "$@" <<'EOF2'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
err = open(sys.argv[1], 'wb')
p = subprocess.run(sys.argv[2:], stdout=w, stderr=err)
print(p.returncode)
EOF2
}
for fmt in jsonl text; do
    B=$WORK/epipe-$fmt
    RC=$(closed_pipe "$WORK/epipe-$fmt.err" "$PORTMORTEM" analyze --no-progress -f "$fmt" --bundle "$B" "${SMALL[@]}")
    if [ "$RC" = "$SMALLRC" ] && "$PORTMORTEM" verify "$B" >/dev/null 2>&1 &&
        ! grep -v "^portmortem: bundle .* written" "$WORK/epipe-$fmt.err" | grep -q .; then
        pass "reader gone before the first write ($fmt): exit $RC (the run's), no message, the bundle verifies"
    else
        fail "reader gone before the first write ($fmt)" "exit $RC (the run's: $SMALLRC)" "$(cat "$WORK/epipe-$fmt.err")"
    fi
done
RC=$(closed_pipe "$WORK/epipe-help.err" "$PORTMORTEM" --help)
[ "$RC" = 0 ] && ! grep -q . "$WORK/epipe-help.err" && pass "--help into a reader-less pipe: exit 0, no message" ||
    fail "--help into a reader-less pipe" "exit $RC" "$(cat "$WORK/epipe-help.err")"

# ---------------------------------------------------------------- names in messages and JSON
# A file name may hold anything but '/' and NUL. In a diagnostic it is sanitised (no escape
# sequence, control character or ill-formed UTF-8 reaches the terminal; UTF-8 stays); in the
# JSON it is a string that jq and python read back: valid UTF-8 kept, controls escaped (the
# value keeps them), each ill-formed byte U+FFFD.
NAME=$(printf 'cap-\xc2\xa7\xe2\x80\x94-\xff\xfe-\x1b[31mRED-\xed\xa0\x80-\xe2\x80\xaeexe\x07.pcap')
LOGN=$(printf 'log-\x1b]0;title\x07-caf\xe9.log')
cp "$FIX/sender.pcap" "$WORK/$NAME"
cp "$FIX/maillog" "$WORK/$LOGN"
an -f jsonl "$WORK/nonexistent-$NAME" >/dev/null 2>"$WORK/name-missing.err"; RC=$?
WANT="portmortem: cannot open $WORK/nonexistent-cap-"$'\xc2\xa7\xe2\x80\x94'"-??-?[31mRED-???-?exe?.pcap: No such file or directory"
if [ "$RC" = 3 ] && grep -qxF "$WANT" "$WORK/name-missing.err"; then
    pass "a missing file's name in the message: sanitised, its UTF-8 kept"
else
    fail "a missing file's name in the message" "exit $RC" "$(cat -v "$WORK/name-missing.err")"
fi
an -f jsonl -v --mta-log "$WORK/$LOGN" --bundle "$WORK/$NAME.d" "$WORK/$NAME" >"$WORK/name.json" 2>"$WORK/name.err"; RC=$?
# nothing on stderr but printable ASCII and well-formed UTF-8 without controls
if [ "$RC" = 1 ] && python3 - "$WORK/name.err" <<'EOF2'
import sys, unicodedata
t = open(sys.argv[1], 'rb').read().decode('utf-8')            # raises on ill-formed UTF-8
bad = [c for c in t if c != '\n' and unicodedata.category(c) in ('Cc', 'Cf', 'Zl', 'Zp')]
sys.exit(1 if bad or '\u00a7\u2014' not in t else 0)
EOF2
then pass "-v run on those names: stderr is clean UTF-8 (no control, bidi or ill-formed byte; the name's § — kept)"
else fail "-v run on those names: stderr is clean" "exit $RC" "$(cat -v "$WORK/name.err")"; fi
if jq -e . "$WORK/name.json" >/dev/null 2>&1 && jq -e . "$WORK/$NAME.d/report.json" >/dev/null 2>&1 &&
    python3 - "$WORK/name.json" "$WORK/$NAME.d/report.json" "$WORK" <<'EOF2'
import json, sys
want_cap = sys.argv[3] + '/cap-\u00a7\u2014-\ufffd\ufffd-\x1b[31mRED-\ufffd\ufffd\ufffd-\u202eexe\x07.pcap'
want_log = sys.argv[3] + '/log-\x1b]0;title\x07-caf\ufffd.log'
for f in sys.argv[1:3]:
    raw = open(f, 'rb').read()
    raw.decode('utf-8')                                           # valid UTF-8, strictly
    objs = [json.loads(l) for l in raw.split(b'\n') if l]
    s = objs[-1]
    assert s['type'] == 'summary', f
    assert s['inputs']['files'][0]['path'] == want_cap, (f, s['inputs']['files'][0]['path'])
    assert s['inputs']['mta_logs'][0]['path'] == want_log, (f, s['inputs']['mta_logs'][0]['path'])
    assert not any(b < 0x20 or b == 0x7f for b in raw.replace(b'\n', b'')), 'a raw control'
EOF2
then pass "JSON with those names: jq and python read it; the names come back (UTF-8 kept, controls escaped, ill-formed bytes U+FFFD)"
else fail "JSON with those names: valid, the names come back"; fi

# ---------------------------------------------------------------- capture
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
    for how in "-o /dev/full" "> /dev/full"; do
        # shellcheck disable=SC2016  # expanded by the inner shell
        unshare -n sh -c '
            ip link set lo up
            if [ "$2" = "-o /dev/full" ]; then
                timeout 30 "$1" capture -i lo --duration 0.5 -f jsonl -o /dev/full 2>"$3.err"
            else
                timeout 30 "$1" capture -i lo --duration 0.5 -f jsonl >/dev/full 2>"$3.err"
            fi
            echo $? >"$3.rc"' sh "$PORTMORTEM" "$how" "$WORK/capture"
        RC=$(cat "$WORK/capture.rc")
        WANT="standard output"
        [ "$how" = "-o /dev/full" ] && WANT=/dev/full
        expect_err "capture $how (loopback of a new network namespace)" "$RC" "$WORK/capture.err" \
            "portmortem: cannot write report to $WANT: No space left on device"
        cp "$WORK/capture.err" "$WORK/capture-$RC-${how//[^a-z]/}.err"
    done
else
    skip "capture -o /dev/full: needs root and unshare -n"
fi

SAN=$(grep -l -E "Sanitizer|runtime error:" "$WORK"/*.err 2>/dev/null | tr '\n' ' ')
[ -z "$SAN" ] && pass "no sanitizer report in any run's standard error" || fail "sanitizer reports" "$SAN"
echo "output: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
