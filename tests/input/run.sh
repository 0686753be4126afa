#!/usr/bin/env bash
# tests/input/run.sh — captures from anywhere and the user's filter (issue 16, items 1-2),
# end to end on committed fixtures:
#
#   - gzip, xz and zstd captures (made here with gzip/xz/zstd from the fixtures, pcap and
#     pcapng), a compressed file renamed to .pcap (told by content, not by name), standard
#     input (a pipe and a redirect), -r -, a FIFO and bash process substitution: each gives
#     the plain file's JSON (names of the input aside);
#   - a truncated .gz, .xz and .zst and a corrupted .gz: a clear message, the attempts read
#     before the cut, exit 4 (partial results), never a crash;
#   - one stream is reported as it goes: through a FIFO whose writer is still open, the
#     attempts whose time is up are out before the capture ends; memory does not grow with the
#     size of a piped, compressed capture (4x the input, the same peak RSS within 25 %);
#   - the filter: FILE EXPR, -r FILE EXPR, --filter EXPR, FILE -- EXPR narrow a capture of
#     three destinations to one host (only its attempts, with the same verdicts); a bad
#     expression exits 2 with libpcap's message; a word that is neither a file nor an
#     expression is named as both; a missing file alone still exits 3; capture's filter;
#   - a bundle from standard input says its packets could not be cut again, and verifies;
#   - no sanitizer report in any run (the ASan+UBSan build runs this too).
#
# Environment: PORTMORTEM (default ./portmortem), PMGEN (default
# build/release/tests/gen/pmgen). Prints PASS/FAIL/SKIP per check; exits 1 on any FAIL.

# shellcheck disable=SC2015  # pass and fail always succeed
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORTMORTEM=${PORTMORTEM:-$ROOT/portmortem}
PMGEN=${PMGEN:-$ROOT/build/release/tests/gen/pmgen}
case $PORTMORTEM in /*) ;; *) PORTMORTEM=$ROOT/$PORTMORTEM ;; esac
case $PMGEN in /*) ;; *) PMGEN=$ROOT/$PMGEN ;; esac

PASSED=0 FAILED=0 SKIPPED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'SKIP %s\n' "$1"; }

for x in "$PORTMORTEM" "$PMGEN"; do
    [ -x "$x" ] || { echo "tests/input/run.sh: $x is not built" >&2; exit 2; }
done
for tool in jq python3 gzip xz zstd editcap; do
    command -v "$tool" >/dev/null || { echo "tests/input/run.sh: $tool is needed" >&2; exit 2; }
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=87:print_stacktrace=1}

WORK=$(mktemp -d /tmp/pm-input-test.XXXXXX)
trap 'exec 3>&- 2>/dev/null; rm -rf "$WORK"' EXIT

FIX=$ROOT/pcaps/lab/window-edges/sender.pcap      # three destinations: ok, refused, ICMP
FIX2=$ROOT/pcaps/lab/mx-no-listener/sender.pcap
an() { "$PORTMORTEM" analyze --no-progress -f jsonl "$@"; }

# The report with the input's names taken out: the file's base name (evidence labels), its
# vantage name and its path (the summary's inputs and command line) become X, V and P. The
# spool's peak goes too: a stream decided as it goes spools nothing (docs/CAPTURE.md).
norm() { # label vantage path < jsonl
    jq -cS --arg b "$1" --arg v "$2" --arg p "$3" 'del(.elapsed_ms, .command, .limits.tables.spool.peak) | walk(if type == "string"
        then (if . == $p then "P" elif . == $v then "V" else gsub($b; "X") end) else . end)'
}
plain() { an "$1" 2>"$WORK/plain.err" | norm "$(basename "$1")" "$2" "$1"; }

# ------------------------------------------------------------------ the same report from anywhere
cp "$FIX" "$WORK/we.pcap"
editcap -F pcapng "$FIX" "$WORK/we.pcapng" 2>/dev/null || fail "editcap -F pcapng"
for f in we.pcap we.pcapng; do
    WANT=$(plain "$WORK/$f" we)
    [ "$(printf '%s\n' "$WANT" | grep -c '"type":"attempt"')" = 3 ] ||
        fail "$f: the plain file gives three attempts" "$WANT"
    gzip -c "$WORK/$f" >"$WORK/$f.gz"
    xz -c "$WORK/$f" >"$WORK/$f.xz"
    zstd -qc "$WORK/$f" >"$WORK/$f.zst"
    for z in gz xz zst; do
        GOT=$(an "$WORK/$f.$z" 2>"$WORK/$f.$z.err" | norm "$f.$z" we "$WORK/$f.$z")
        [ "$GOT" = "$WANT" ] && pass "$f.$z: the same report as the plain file" ||
            fail "$f.$z: the same report as the plain file" "$(diff <(echo "$WANT") <(echo "$GOT") | head -5)"
        # the compressed bytes on standard input (a pipe)
        GOT=$(cat "$WORK/$f.$z" | an - 2>"$WORK/$f.$z.pipe.err" | norm stdin stdin -)
        [ "$GOT" = "$WANT" ] && pass "$f.$z piped into analyze -: the same report" ||
            fail "$f.$z piped into analyze -" "$(diff <(echo "$WANT") <(echo "$GOT") | head -5)"
    done
    # told by content: a gzip file named .pcap, an xz one named .pcapng
    cp "$WORK/$f.gz" "$WORK/renamed-gz-$f"
    GOT=$(an "$WORK/renamed-gz-$f" 2>"$WORK/renamed.err" | norm "renamed-gz-$f" "renamed-gz-we" "$WORK/renamed-gz-$f")
    [ "$GOT" = "$WANT" ] && pass "$f: gzip data named $f is read by its content" ||
        fail "$f: gzip data named $f" "$(head -3 "$WORK/renamed.err")"
    # plain bytes from a pipe, a redirect, -r -, a FIFO, a process substitution
    GOT=$(cat "$WORK/$f" | an - 2>"$WORK/pipe.err" | norm stdin stdin -)
    [ "$GOT" = "$WANT" ] && pass "$f: cat | analyze -" || fail "$f: cat | analyze -" "$(diff <(echo "$WANT") <(echo "$GOT") | head -5)"
    GOT=$(an - <"$WORK/$f" 2>"$WORK/redir.err" | norm stdin stdin -)
    [ "$GOT" = "$WANT" ] && pass "$f: analyze - < FILE" || fail "$f: analyze - < FILE" "$(head -3 "$WORK/redir.err")"
    GOT=$(cat "$WORK/$f" | an -r - 2>"$WORK/r.err" | norm stdin stdin -)
    [ "$GOT" = "$WANT" ] && pass "$f: cat | analyze -r -" || fail "$f: analyze -r -" "$(head -3 "$WORK/r.err")"
    mkfifo "$WORK/fifo"
    cat "$WORK/$f" >"$WORK/fifo" &
    GOT=$(timeout 30 "$PORTMORTEM" analyze --no-progress -f jsonl "$WORK/fifo" 2>"$WORK/fifo.err" | norm fifo fifo "$WORK/fifo")
    wait
    rm -f "$WORK/fifo"
    [ "$GOT" = "$WANT" ] && pass "$f: a FIFO" || fail "$f: a FIFO" "$(head -3 "$WORK/fifo.err")"
    GOT=$(an <(cat "$WORK/$f") 2>"$WORK/procsub.err")
    FD=$(printf '%s\n' "$GOT" | jq -r 'select(.type == "summary") | .command[-1] // empty' 2>/dev/null)
    GOT=$(printf '%s\n' "$GOT" | norm "$(basename "${FD:-/dev/fd/63}")" "$(basename "${FD:-/dev/fd/63}")" "${FD:-/dev/fd/63}")
    [ "$GOT" = "$WANT" ] && pass "$f: bash process substitution <(cat FILE)" ||
        fail "$f: process substitution" "$(diff <(echo "$WANT") <(echo "$GOT") | head -5)" "$(head -3 "$WORK/procsub.err")"
done

# ------------------------------------------------------------------ damaged compressed streams
FULL=$(an "$WORK/we.pcap" 2>/dev/null | grep -c '"type":"attempt"')
for z in gz xz zst; do
    SIZE=$(stat -c %s "$WORK/we.pcap.$z")
    head -c $((SIZE * 2 / 3)) "$WORK/we.pcap.$z" >"$WORK/cut.pcap.$z"
    an "$WORK/cut.pcap.$z" >"$WORK/cut.$z.out" 2>"$WORK/cut.$z.err"; RC=$?
    N=$(grep -c '"type":"attempt"' "$WORK/cut.$z.out")
    case $z in gz) codec=gzip ;; zst) codec=zstd ;; *) codec=$z ;; esac
    if grep -q "the $codec stream ends before its end marker" "$WORK/cut.$z.err" &&
        { [ "$RC" = 4 ] || [ "$RC" = 3 ]; } && [ "$N" -le "$FULL" ]; then
        pass "a $z capture cut at 2/3: 'ends before its end marker', exit $RC, $N of $FULL attempts"
    else
        fail "a cut $z capture" "exit $RC, $N attempts" "$(head -3 "$WORK/cut.$z.err")"
    fi
done
# gzip: the cut leaves records before it readable, so the partial result is exit 4
[ "$(grep -c '"type":"attempt"' "$WORK/cut.gz.out")" -ge 1 ] &&
    grep -q '"damaged":true' "$WORK/cut.gz.out" && pass "the cut .gz: a partial result (attempts and damaged:true in the summary)" ||
    fail "the cut .gz gives a partial result" "$(tail -c 300 "$WORK/cut.gz.out")"
python3 - "$WORK/we.pcap.gz" "$WORK/corrupt.pcap.gz" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
for i in range(len(d) // 2, len(d) // 2 + 16):
    d[i] ^= 0x5a
open(sys.argv[2], 'wb').write(d)
EOF
an "$WORK/corrupt.pcap.gz" >/dev/null 2>"$WORK/corrupt.err"; RC=$?
{ [ "$RC" = 4 ] || [ "$RC" = 3 ]; } && grep -qE "damaged gzip data|ends before its end marker" "$WORK/corrupt.err" &&
    pass "a corrupted .gz: '$(grep -oE "damaged gzip data[^:]*|ends before its end marker" "$WORK/corrupt.err" | head -1)', exit $RC" ||
    fail "a corrupted .gz" "exit $RC" "$(head -3 "$WORK/corrupt.err")"
printf '\x1f\x8b\x08' | an - >/dev/null 2>"$WORK/tiny.err"; RC=$?
[ "$RC" = 3 ] && grep -q "gzip stream ends before" "$WORK/tiny.err" && pass "three bytes of a gzip header on stdin: exit 3, said" ||
    fail "three gzip bytes" "exit $RC" "$(cat "$WORK/tiny.err")"

# ------------------------------------------------------------------ a stream is reported as it goes
# The fixture's three attempts, then its first SYN again 200 s later (a new attempt): through
# a FIFO whose writer stays open, the three are decided and out before the writer closes
# (their time is up when the late packet comes), with the plain file's verdicts.
python3 - "$FIX" "$WORK/late.pcap" <<'PYEOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:4] == b'\xd4\xc3\xb2\xa1', 'a little-endian microsecond pcap'
out, off, first_syn = bytearray(d[:24]), 24, None
while off + 16 <= len(d):
    sec, usec, cap, wire = struct.unpack('<IIII', d[off:off + 16])
    rec = d[off:off + 16 + cap]
    out += rec
    # Ethernet, IPv4, TCP to port 25 with SYN alone: the first attempt's SYN
    if first_syn is None and cap > 54 and rec[16 + 12:16 + 14] == b'\x08\x00' and rec[16 + 23] == 6:
        ihl = (rec[16 + 14] & 15) * 4
        tcp = 16 + 14 + ihl
        if struct.unpack('>H', rec[tcp + 2:tcp + 4])[0] == 25 and rec[tcp + 13] & 0x12 == 0x02:
            first_syn = (sec, usec, rec[16:])
    off += 16 + cap
sec, usec, data = first_syn
out += struct.pack('<IIII', sec + 200, usec, len(data), len(data)) + data
open(sys.argv[2], 'wb').write(out)
PYEOF
mkfifo "$WORK/live"
"$PORTMORTEM" analyze --no-progress -f jsonl "$WORK/live" >"$WORK/live.out" 2>"$WORK/live.err" &
PM=$!
exec 3>"$WORK/live"
cat "$WORK/late.pcap" >&3
EARLY=0
for _ in $(seq 1 100); do
    EARLY=$(grep -c '"type":"attempt"' "$WORK/live.out")
    [ "$EARLY" -ge 3 ] && break
    sleep 0.1
done
exec 3>&-
wait $PM; RC=$?
TOTAL=$(grep -c '"type":"attempt"' "$WORK/live.out")
[ "$EARLY" = 3 ] && [ "$TOTAL" = 4 ] &&
    pass "a FIFO still open: the 3 attempts whose time is up are out before it closes (4 in all, exit $RC)" ||
    fail "attempts reported as they end" "early $EARLY, total $TOTAL, exit $RC" "$(head -3 "$WORK/live.err")"
WANT=$(an "$FIX" 2>/dev/null | jq -c 'select(.type == "attempt") | [.dst, .outcome, .verdict, .confidence]' | sort)
GOT=$(head -3 "$WORK/live.out" | jq -c 'select(.type == "attempt") | [.dst, .outcome, .verdict, .confidence]' | sort)
[ "$GOT" = "$WANT" ] && pass "the streamed attempts have the plain file's outcomes, verdicts and confidence" ||
    fail "streamed verdicts" "$(diff <(echo "$WANT") <(echo "$GOT") | head -4)"

# Memory: 4x the input through gzip and a pipe, the same peak (the tables hold concurrent
# attempts and destinations, never the input).
"$PMGEN" mix -o "$WORK/m1.pcap" --size 6M --seed 5 >/dev/null 2>&1
"$PMGEN" mix -o "$WORK/m4.pcap" --size 24M --seed 5 >/dev/null 2>&1
gzip -1 "$WORK/m1.pcap" "$WORK/m4.pcap"
RSS=$(python3 - "$PORTMORTEM" "$WORK/m1.pcap.gz" "$WORK/m4.pcap.gz" <<'EOF'
import resource, subprocess, sys
out = []
for f in sys.argv[2:]:
    # a fresh interpreter per size, so that RUSAGE_CHILDREN is that run's peak alone
    r = subprocess.run([sys.executable, '-c', '''
import resource, subprocess, sys
cat = subprocess.Popen(["cat", sys.argv[2]], stdout=subprocess.PIPE)
subprocess.run([sys.argv[1], "analyze", "--no-progress", "-f", "jsonl", "-"], stdin=cat.stdout,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
cat.wait()
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)''', sys.argv[1], f],
        capture_output=True, text=True)
    out.append(r.stdout.strip() or "0")
print(" ".join(out))
EOF
)
read -r R1 R4 <<<"$RSS"
if [ "${R1:-0}" -gt 0 ] && [ "$R4" -le $((R1 * 5 / 4)) ]; then
    pass "peak memory of a piped .gz: $R1 KiB for 6 MB, $R4 KiB for 24 MB (no growth with the input)"
else
    fail "memory bounded on a stream" "6 MB: ${R1:-?} KiB, 24 MB: ${R4:-?} KiB"
fi

# ------------------------------------------------------------------ the filter
attempts() { jq -c 'select(.type == "attempt") | [.dst, .dport, .outcome, .verdict]' | sort; }
ALL=$(an "$WORK/we.pcap" 2>/dev/null | attempts)
ONE=$(printf '%s\n' "$ALL" | grep '"203.0.113.10"')
[ -n "$ONE" ] && [ "$(printf '%s\n' "$ALL" | jq -r '.[0]' | sort -u | wc -l)" = 3 ] ||
    fail "the fixture has three destinations, one of them 203.0.113.10" "$ALL"
check_narrow() { # name, args...
    local name=$1
    shift
    local got
    got=$(an "$@" 2>"$WORK/narrow.err" | attempts)
    [ "$got" = "$ONE" ] && pass "$name: only 203.0.113.10's attempt, with its verdict" ||
        fail "$name" "$got" "$(head -2 "$WORK/narrow.err")"
}
check_narrow "FILE host 203.0.113.10" "$WORK/we.pcap" host 203.0.113.10
check_narrow "FILE 'dst host 203.0.113.10 or src host 203.0.113.10' (one word)" "$WORK/we.pcap" 'dst host 203.0.113.10 or src host 203.0.113.10'
check_narrow "-r FILE host 203.0.113.10" -r "$WORK/we.pcap" host 203.0.113.10
check_narrow "--filter 'host 203.0.113.10' FILE" --filter 'host 203.0.113.10' "$WORK/we.pcap"
check_narrow "FILE -- host 203.0.113.10" "$WORK/we.pcap" -- host 203.0.113.10
check_narrow "pcapng FILE host 203.0.113.10" "$WORK/we.pcapng" host 203.0.113.10
check_narrow "a .xz FILE host 203.0.113.10" "$WORK/we.pcap.xz" host 203.0.113.10
GOT=$(cat "$WORK/we.pcap.zst" | an - host 203.0.113.10 2>/dev/null | attempts)
[ "$GOT" = "$ONE" ] && pass "zstd on stdin: - host 203.0.113.10" || fail "zstd on stdin with a filter" "$GOT"
GOT=$(PM_PCAP_READER=libpcap an "$WORK/we.pcap" host 203.0.113.10 2>/dev/null | attempts)
[ "$GOT" = "$ONE" ] && pass "the same with libpcap's reader (PM_PCAP_READER=libpcap)" || fail "libpcap reader filter" "$GOT"
GOT=$(an "$WORK/we.pcap" host 198.51.100.77 2>/dev/null | attempts)
[ -z "$GOT" ] && pass "a host with no traffic: no attempt" || fail "a host with no traffic" "$GOT"

an "$WORK/we.pcap" tcp prt 25 >/dev/null 2>"$WORK/bad.err"; RC=$?
[ "$RC" = 2 ] && grep -q "syntax error" "$WORK/bad.err" && grep -q "neither a capture file" "$WORK/bad.err" &&
    pass "FILE tcp prt 25: exit 2, libpcap's 'syntax error', and 'neither a capture file nor ... a valid filter expression'" ||
    fail "a bad trailing expression" "exit $RC" "$(cat "$WORK/bad.err")"
an --filter 'tcp prt 25' "$WORK/we.pcap" >/dev/null 2>"$WORK/bad2.err"; RC=$?
[ "$RC" = 2 ] && grep -q "bad filter expression 'tcp prt 25': .*syntax error" "$WORK/bad2.err" &&
    pass "--filter 'tcp prt 25': exit 2, 'bad filter expression' with libpcap's message" ||
    fail "--filter bad" "exit $RC" "$(cat "$WORK/bad2.err")"
an "$WORK/we.pcap" "$WORK/no-such.pcap" >/dev/null 2>"$WORK/nf.err"; RC=$?
[ "$RC" = 2 ] && grep -q "is neither a capture file (cannot open $WORK/no-such.pcap: No such file or directory) nor the start of a valid filter expression" "$WORK/nf.err" &&
    pass "FILE missing.pcap: exit 2, names both possibilities (no such file; not an expression)" ||
    fail "a trailing missing file" "exit $RC" "$(cat "$WORK/nf.err")"
an "$WORK/no-such.pcap" >/dev/null 2>"$WORK/nf1.err"; RC=$?
[ "$RC" = 3 ] && grep -q "cannot open $WORK/no-such.pcap: No such file or directory" "$WORK/nf1.err" &&
    pass "missing.pcap alone: exit 3, 'cannot open' (as before)" || fail "a missing file alone" "exit $RC" "$(cat "$WORK/nf1.err")"
an tcp port 25 >/dev/null 2>"$WORK/nofile.err"; RC=$?
[ "$RC" = 2 ] && grep -q "filter expression with no capture" "$WORK/nofile.err" &&
    pass "an expression and no file: exit 2, said" || fail "an expression and no file" "exit $RC" "$(cat "$WORK/nofile.err")"
an "$WORK/we.pcap" "$FIX2" >/dev/null 2>&1; RC=$?
[ "$RC" = 1 ] && pass "two existing files are both inputs (no filter): exit 1" || fail "two files" "exit $RC"
an --filter 'host 203.0.113.10' "$WORK/we.pcap" host 203.0.113.10 >/dev/null 2>"$WORK/two.err"; RC=$?
[ "$RC" = 2 ] && grep -q "two filter expressions" "$WORK/two.err" && pass "--filter and trailing words: exit 2" ||
    fail "two expressions" "exit $RC" "$(cat "$WORK/two.err")"
"$PORTMORTEM" capture -i lo tcp prt 25 >/dev/null 2>"$WORK/cap.err"; RC=$?
[ "$RC" = 2 ] && grep -q "bad filter expression 'tcp prt 25'" "$WORK/cap.err" &&
    pass "capture -i lo tcp prt 25: exit 2 before anything starts" || fail "capture bad filter" "exit $RC" "$(cat "$WORK/cap.err")"
"$PORTMORTEM" capture -i lo "$WORK/we.pcap" >/dev/null 2>"$WORK/cap2.err"; RC=$?
[ "$RC" = 2 ] && grep -q "capture takes no capture files" "$WORK/cap2.err" && grep -q "portmortem analyze" "$WORK/cap2.err" &&
    pass "capture -i lo FILE: exit 2, says it is neither (and to use analyze)" || fail "capture FILE" "exit $RC" "$(cat "$WORK/cap2.err")"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
    # The kernel filter with the expression ANDed: in an empty network namespace, lo only.
    unshare -n sh -c 'ip link set lo up; timeout 20 "$1" capture -i lo --duration 0.3 -f jsonl \
        -v host 203.0.113.10 >/dev/null 2>"$2"' sh "$PORTMORTEM" "$WORK/capf.err"; RC=$?
    [ "$RC" = 0 ] && grep -q "and (host 203.0.113.10)" "$WORK/capf.err" &&
        pass "capture -i lo host 203.0.113.10: the kernel filter is the tool's AND the expression" ||
        fail "capture with an expression" "exit $RC" "$(grep -i filter "$WORK/capf.err" | head -3)"
else
    skip "capture's kernel filter with an expression: needs root and unshare -n"
fi

# ------------------------------------------------------------------ a bundle from a stream
cat "$WORK/we.pcap" | an --bundle "$WORK/bundle" - >/dev/null 2>"$WORK/bundle.err"; RC=$?
if [ "$RC" = 1 ] && grep -rqs "was a stream" "$WORK/bundle" && "$PORTMORTEM" verify "$WORK/bundle" >/dev/null 2>&1; then
    pass "--bundle from standard input: written, says the packets could not be cut again, verifies"
else
    fail "--bundle from standard input" "exit $RC" "$(head -3 "$WORK/bundle.err")"
fi

SAN=$(grep -l -E "Sanitizer|runtime error:" "$WORK"/*.err 2>/dev/null | tr '\n' ' ')
[ -z "$SAN" ] && pass "no sanitizer report in any run's standard error" || fail "sanitizer reports" "$SAN"
echo "input: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
