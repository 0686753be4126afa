#!/usr/bin/env bash
# tests/hostile/run.sh — hostile conditions (issue 19): option values, input files and paths
# that must not be turned against the host, and nothing that can hang.
#
#   options   every numeric option of analyze, capture and probe refuses NaN, inf, overflow,
#             out-of-range, blanks, hex and trailing garbage with exit 2 and a message, and
#             takes a plain valid value; impossible dates, --since not before --until, a file
#             name as --log-tz: exit 2; --mta-log /dev/zero: exit 2 at once, a stream of zeros
#             on standard input ends with exit 3 (no line break in 1 MiB).
#   write     (root) capture -w and probe -w in a private network namespace (unshare -n, lo
#             only): a new file is 0600 and handed to the -Z user; a symlink (its target
#             untouched), a FIFO (no hang), /dev/full (not chowned), a hard link, a file planted
#             by another user (untouched) and a -Z user's file readable by others are refused
#             with exit 2 and a reason; root's own file is replaced with its mode kept; -o the
#             same.
#   temp      (root) capture --bundle without -w: nothing appears in TMPDIR while it runs, and
#             after SIGKILL neither a temporary capture nor the bundle's temporary directory
#             is left.
#   key       (root) --sign-key readable only by root, with capture --bundle: the key is read
#             before the privilege drop; the bundle is signed and verifies.
#   helper    (root) the bundle helper's capabilities, read from /proc while it runs: none
#             (CapPrm, CapEff, CapBnd 0) when DIR's parent is root's, only CAP_DAC_OVERRIDE
#             when it belongs to another user; NoNewPrivs 1 either way.
#
# Every command runs under `timeout`. Prints PASS/FAIL/SKIP per check and
# "hostile: N passed, N failed, N skipped"; exits 1 on any FAIL. Not root: the root parts
# SKIP with the reason.
# Usage: tests/hostile/run.sh [--keep]     Environment: PORTMORTEM (default ./portmortem)
# shellcheck disable=SC2015  # pass/fail always succeed: "a && pass || fail" is if-then-else
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORTMORTEM=${PORTMORTEM:-$ROOT/portmortem}
case $PORTMORTEM in /*) ;; *) PORTMORTEM=$ROOT/$PORTMORTEM ;; esac
FIX=$ROOT/pcaps/bundle/mx-no-listener
KEEP=0
[ "${1:-}" = --keep ] && KEEP=1

PASSED=0 FAILED=0 SKIPPED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'SKIP %s\n' "$1"; }

[ -x "$PORTMORTEM" ] || { echo "tests/hostile/run.sh: $PORTMORTEM is not built" >&2; exit 2; }
WORK=$(mktemp -d /tmp/pm-hostile.XXXXXX)
chmod 755 "$WORK"
cleanup() { if [ "$KEEP" = 1 ] || [ "$FAILED" -gt 0 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

# run CMD...: the tool bounded to 20 s; status in RC, stderr in $WORK/err
run() { timeout -k 2 20 "$PORTMORTEM" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null; RC=$?; }

# ---------------------------------------------------------------- options
BAD=(nan NaN -nan inf -inf infinity 1e999 -1e999 99999999999999999999 0x10 0x1p3 " 5" "5 " 5x
     "" - "--5" 1..2)
# expect_bad LABEL ARGS...: the last argument is replaced by each bad value in turn
expect_bad() {
    local label=$1 v bad=""
    shift
    for v in "${BAD[@]}"; do
        run "${@:1:$#-1}" "$v"
        if [ "$RC" != 2 ] || ! grep -q "bad" "$WORK/err"; then
            bad="$bad [$v]->$RC"
        fi
    done
    [ -z "$bad" ] && pass "options: $label refuses NaN, inf, overflow, blanks, hex, garbage (exit 2)" ||
        fail "options: $label" "accepted or wrong status:$bad" "$(head -c 200 "$WORK/err")"
}
CAP=(analyze --no-progress -f jsonl "sender=$FIX/sender.pcap")
for o in --log-year --log-offset --max-flows --max-sessions --max-dests; do
    # the option goes before the file: analyze OPTS... OPT VALUE FILE
    bad=""
    for v in "${BAD[@]}"; do
        run analyze --no-progress -f jsonl "$o" "$v" "$FIX/sender.pcap"
        { [ "$RC" = 2 ] && grep -q "bad" "$WORK/err"; } || bad="$bad [$v]->$RC"
    done
    [ -z "$bad" ] && pass "options: analyze $o refuses NaN, inf, overflow, blanks, hex, garbage (exit 2)" ||
        fail "options: analyze $o" "accepted or wrong status:$bad"
done
declare -A GOOD=([--log-year]=2026 [--log-offset]=-2.5 [--max-flows]=4096 [--max-sessions]=100 [--max-dests]=64)
for o in "${!GOOD[@]}"; do
    run "${CAP[@]:0:4}" "$o" "${GOOD[$o]}" "${CAP[4]}"
    [ "$RC" = 0 ] || [ "$RC" = 1 ] && pass "options: analyze $o ${GOOD[$o]} is accepted (exit $RC)" ||
        fail "options: analyze $o ${GOOD[$o]} refused" "exit $RC: $(head -c 200 "$WORK/err")"
done
run analyze --log-offset -31536001 "$FIX/sender.pcap"
[ "$RC" = 2 ] && pass "options: --log-offset beyond a year is refused" || fail "options: --log-offset -31536001" "exit $RC"

# capture and probe: the values are checked while parsing, before anything is opened; -h
# after a valid value shows that value was taken (exit 0).
for o in -C -W -s -B -c --duration; do expect_bad "capture $o" capture "$o" x; done
for o in --connect-timeout --smtp-timeout --max-ttl --tries --wait --gap-limit --rate \
         --max-probes --max-addrs; do
    expect_bad "probe $o" probe 192.0.2.1 "$o" x
done
declare -A PGOOD=([--connect-timeout]=0.5 [--smtp-timeout]=3 [--max-ttl]=12 [--tries]=2 [--wait]=0.05
                  [--gap-limit]=3 [--rate]=0.01 [--max-probes]=10 [--max-addrs]=2)
bad=""
for o in "${!PGOOD[@]}"; do
    run probe 192.0.2.1 "$o" "${PGOOD[$o]}" -h
    [ "$RC" = 0 ] || bad="$bad $o=${PGOOD[$o]}->$RC"
done
[ -z "$bad" ] && pass "options: probe takes valid values at the bounds (0.01 /s, 0.05 s ...)" || fail "options: probe valid values" "$bad"
bad=""
for a in "-C 100 -W 3" "-s 96" "-B 256" "-c 1" "--duration 0.5"; do
    # shellcheck disable=SC2086  # the pairs are meant to split
    run capture $a -h
    [ "$RC" = 0 ] || bad="$bad [$a]->$RC"
done
[ -z "$bad" ] && pass "options: capture takes valid values" || fail "options: capture valid values" "$bad"
for v in 0.009 100.5 0 -1; do run probe 192.0.2.1 --rate "$v" -h; [ "$RC" = 2 ] || bad="$bad rate=$v"; done
for v in 0.04 30.5; do run probe 192.0.2.1 --wait "$v" -h; [ "$RC" = 2 ] || bad="$bad wait=$v"; done
[ -z "$bad" ] && pass "options: probe --rate and --wait outside their range: exit 2" || fail "options: ranges" "$bad"

# dates, the window, the zone
for d in 2026-02-30 2026-02-29T10:00:00Z 2026-04-31 2026-13-01 2026-11-28T24:00:00Z "@nan" "@1e9" "@ 5"; do
    run analyze --since "$d" "$FIX/sender.pcap"
    [ "$RC" = 2 ] && grep -q "bad --since" "$WORK/err" || bad="$bad since=$d->$RC"
done
[ -z "$bad" ] && pass "options: impossible dates are refused (2026-02-30, 2026-04-31, ...)" || fail "options: dates" "$bad"
run analyze --since 2026-11-28T20:00:00Z --until 2026-11-28T19:00:00Z "$FIX/sender.pcap"
[ "$RC" = 2 ] && grep -q "is not before --until" "$WORK/err" && pass "options: --since after --until: exit 2" ||
    fail "options: --since after --until" "exit $RC: $(cat "$WORK/err")"
run analyze --since @1795890000 --until @1795890000 "$FIX/sender.pcap"
[ "$RC" = 2 ] && pass "options: --since equal to --until: exit 2" || fail "options: --since = --until" "exit $RC"
run analyze --no-progress -f jsonl --since 2028-02-29 --until 2028-03-01T00:00:00+01:00 "$FIX/sender.pcap"
[ "$RC" = 0 ] || [ "$RC" = 1 ] && pass "options: a leap day and an offset are a valid window" ||
    fail "options: leap-day window refused" "exit $RC: $(cat "$WORK/err")"
for z in /etc/passwd :/etc/passwd /usr/share/zoneinfo/Europe/Berlin zone.tab ../../etc/passwd; do
    run analyze --log-tz "$z" "$FIX/sender.pcap"
    [ "$RC" = 2 ] && grep -q "bad --log-tz" "$WORK/err" || bad="$bad $z->$RC"
    run capture --log-tz "$z" -i lo
    [ "$RC" = 2 ] || bad="$bad capture:$z->$RC"
done
[ -z "$bad" ] && pass "options: a file name as --log-tz is refused (analyze and capture)" || fail "options: --log-tz" "$bad"
run analyze --no-progress -f jsonl --log-tz Europe/Berlin --mta-log "$FIX/maillog" "$FIX/sender.pcap"
[ "$RC" = 1 ] && pass "options: --log-tz Europe/Berlin still works" || fail "options: --log-tz Europe/Berlin" "exit $RC"

# --mta-log that never ends
run analyze --mta-log /dev/zero "$FIX/sender.pcap"
[ "$RC" = 2 ] && grep -q "is a device" "$WORK/err" && pass "options: --mta-log /dev/zero: exit 2, 'a device'" ||
    fail "options: --mta-log /dev/zero" "exit $RC: $(head -c 300 "$WORK/err")"
timeout -k 2 20 "$PORTMORTEM" analyze --mta-log - "$FIX/sender.pcap" </dev/zero >/dev/null 2>"$WORK/err"; RC=$?
[ "$RC" = 3 ] && grep -q "no line break" "$WORK/err" && pass "options: --mta-log - fed by /dev/zero ends: exit 3, 'no line break'" ||
    fail "options: --mta-log - </dev/zero" "exit $RC: $(head -c 300 "$WORK/err")"
{ cat "$FIX/maillog"; head -c 3000000 /dev/zero; } >"$WORK/zlog"
run analyze --no-progress -f jsonl --mta-log "$WORK/zlog" "$FIX/sender.pcap"
[ "$RC" = 1 ] && grep -q "without a line break" "$WORK/err" && grep -q '"verdict":"remote-refused"' "$WORK/out" &&
    pass "options: a log that runs into zeros keeps its lines and says it is partial" ||
    fail "options: log then zeros" "exit $RC: $(head -c 300 "$WORK/err")"

# ---------------------------------------------------------------- as root
reason=""
if [ "$(id -u)" != 0 ]; then reason="not root"
elif ! id nobody >/dev/null 2>&1; then reason="no user nobody"
elif ! timeout 5 unshare -n true 2>/dev/null; then reason="unshare -n (a private network namespace) is not allowed here"
fi
if [ -n "$reason" ]; then
    for t in write temp key helper; do skip "$t: $reason"; done
    echo "hostile: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" = 0 ]
    exit
fi

# in_ns CMD...: in a private network namespace of this test alone (lo only; it vanishes with
# the command), bounded.
in_ns() { timeout -k 2 30 unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"; }
NOBODY=$(id -u nobody)
# main_pid MARK: the portmortem process whose command line holds MARK and whose parent is
# not portmortem (that one is the bundle helper); helper_pid PID: its portmortem child.
main_pid() {
    local p
    for p in $(pgrep -f -- "$1"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = portmortem ] || continue
        [ "$(cat "/proc/$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)/comm" 2>/dev/null)" = portmortem ] && continue
        echo "$p"
        return
    done
}
helper_pid() { pgrep -P "$1" -x portmortem | head -1; }
D=$WORK/w
mkdir -p "$D" && chmod 1777 "$D"
cap_w() {  # cap_w PATH [more args]: capture -w PATH on lo for a moment; RC, $WORK/err
    in_ns "$PORTMORTEM" capture -i lo -f jsonl --duration 0.3 -w "$@" </dev/null >"$WORK/out" 2>"$WORK/err"
    RC=$?
}
cap_w "$D/new.pcap"
[ "$RC" = 0 ] && [ "$(stat -c '%a %u' "$D/new.pcap")" = "600 $NOBODY" ] &&
    pass "write: a new -w file is 0600 and belongs to the -Z user" ||
    fail "write: new -w file" "exit $RC, $(stat -c '%a %U' "$D/new.pcap" 2>&1)" "$(head -c 300 "$WORK/err")"
echo precious >"$D/target"
ln -s "$D/target" "$D/link"
cap_w "$D/link"
[ "$RC" = 2 ] && grep -q "symbolic link" "$WORK/err" && [ "$(cat "$D/target")" = precious ] &&
    pass "write: -w through a symlink is refused, its target untouched" || fail "write: symlink" "exit $RC: $(head -c 300 "$WORK/err")"
mkfifo "$D/fifo"
cap_w "$D/fifo"
[ "$RC" = 2 ] && grep -q "FIFO" "$WORK/err" && pass "write: -w FIFO is refused without hanging" ||
    fail "write: FIFO" "exit $RC: $(head -c 300 "$WORK/err")"
BEFORE=$(stat -c '%u %g %a' /dev/full)
cap_w /dev/full
[ "$RC" = 2 ] && grep -q "device" "$WORK/err" && [ "$(stat -c '%u %g %a' /dev/full)" = "$BEFORE" ] &&
    pass "write: -w /dev/full is refused and the device keeps its owner and mode" ||
    fail "write: /dev/full" "exit $RC, now $(stat -c '%u %g %a' /dev/full): $(head -c 300 "$WORK/err")"
echo theirs >"$D/planted"; chmod 666 "$D/planted"; chown 1234 "$D/planted"
cap_w "$D/planted"
[ "$RC" = 2 ] && grep -q "uid 1234" "$WORK/err" && [ "$(cat "$D/planted")" = theirs ] &&
    [ "$(stat -c '%a %u' "$D/planted")" = "666 1234" ] &&
    pass "write: a 0666 file planted by another user is refused and left as it was" ||
    fail "write: planted file" "exit $RC: $(head -c 300 "$WORK/err")"
echo old >"$D/zopen"; chmod 644 "$D/zopen"; chown nobody "$D/zopen"
cap_w "$D/zopen"
[ "$RC" = 2 ] && grep -q "mode 0644" "$WORK/err" && pass "write: a -Z user's file readable by others is refused" ||
    fail "write: -Z user's 0644 file" "exit $RC: $(head -c 300 "$WORK/err")"
echo keep >"$D/mine"; ln "$D/mine" "$D/hard"
cap_w "$D/hard"
[ "$RC" = 2 ] && grep -q "hard link" "$WORK/err" && [ "$(cat "$D/mine")" = keep ] &&
    pass "write: a hard link is refused, the other name keeps its content" || fail "write: hard link" "exit $RC: $(head -c 300 "$WORK/err")"
echo yesterday >"$D/own.pcap"; chmod 640 "$D/own.pcap"
cap_w "$D/own.pcap"
[ "$RC" = 0 ] && [ "$(stat -c '%a %u' "$D/own.pcap")" = "640 0" ] && ! grep -q yesterday "$D/own.pcap" &&
    timeout 20 "$PORTMORTEM" analyze -f jsonl "$D/own.pcap" >/dev/null 2>&1 &&
    pass "write: root's own file is replaced (tcpdump's habit), owner and mode kept" ||
    fail "write: own file" "exit $RC, $(stat -c '%a %u' "$D/own.pcap")" "$(head -c 300 "$WORK/err")"
cap_w "$D/second.pcap" -o "$D/link"
[ "$RC" = 2 ] && [ "$(cat "$D/target")" = precious ] && [ ! -e "$D/second.pcap" ] &&
    pass "write: -o through a symlink is refused before anything is opened" || fail "write: -o symlink" "exit $RC"
in_ns "$PORTMORTEM" probe 127.0.0.1 --connect-timeout 1 --smtp-timeout 1 -w "$D/link" </dev/null >"$WORK/out" 2>"$WORK/err"; RC=$?
[ "$RC" = 2 ] && grep -q "symbolic link" "$WORK/err" && [ "$(cat "$D/target")" = precious ] &&
    pass "write: probe -w through a symlink is refused, its target untouched" ||
    fail "write: probe -w symlink" "exit $RC: $(head -c 300 "$WORK/err")"
in_ns "$PORTMORTEM" probe 127.0.0.1 --connect-timeout 1 --smtp-timeout 1 -w "$D/probe.pcap" --bundle "$D/pb" </dev/null >"$WORK/out" 2>"$WORK/err"; RC=$?
[ "$RC" -le 1 ] && [ "$(stat -c '%a %u' "$D/probe.pcap")" = "600 $NOBODY" ] && "$PORTMORTEM" verify "$D/pb" >/dev/null &&
    [ "$(tshark -n -r "$D/pb/evidence.pcapng" 2>/dev/null | wc -l)" -ge 2 ] &&
    pass "write: probe -w makes a new 0600 file; the bundle reads its packets back after the drop" ||
    fail "write: probe -w new file" "exit $RC, $(stat -c '%a %U' "$D/probe.pcap" 2>&1)" "$(head -c 300 "$WORK/err")"

# ---------------------------------------------------------------- temporary files, SIGKILL
T=$WORK/t
mkdir -p "$T/tmp" && chmod 1777 "$T/tmp"
TMPDIR=$T/tmp timeout -k 2 30 unshare -n sh -c 'ip link set lo up && exec "$@"' sh \
    "$PORTMORTEM" capture -i lo -f jsonl --duration 20 --bundle "$T/b" </dev/null >"$T/out" 2>"$T/err" &
TPID=$!
for _ in $(seq 100); do grep -q "dropped to" "$T/err" 2>/dev/null && break; sleep 0.1; done
INTMP=$(ls -A "$T/tmp")
TMPDIRS=$(find "$T" -maxdepth 1 -name '.b.tmp-*' | wc -l)
PM=$(main_pid "--bundle $T/b")
if [ -n "$PM" ] && [ -z "$INTMP" ] && [ "$TMPDIRS" = 1 ]; then
    pass "temp: while the capture runs, TMPDIR holds nothing (the capture file has no name)"
else
    fail "temp: while running" "pid '${PM}', TMPDIR: '$INTMP', bundle temp dirs: $TMPDIRS" "$(head -c 300 "$T/err")"
fi
[ -n "$PM" ] && kill -KILL "$PM"
wait "$TPID" 2>/dev/null
for _ in $(seq 30); do [ -z "$(find "$T" -maxdepth 1 -name '.b.tmp-*')" ] && break; sleep 0.1; done
[ -z "$(ls -A "$T/tmp")" ] && [ -z "$(find "$T" -maxdepth 1 -name '.b.tmp-*')" ] && [ ! -e "$T/b" ] &&
    pass "temp: after SIGKILL nothing is left: no capture file, no bundle temporary directory" ||
    fail "temp: after SIGKILL" "left: $(ls -A "$T" "$T/tmp" | tr '\n' ' ')"

# ---------------------------------------------------------------- the signing key, root only
K=$WORK/k
mkdir -p "$K" && chmod 755 "$K"
openssl genpkey -algorithm ed25519 -out "$K/key.pem" 2>/dev/null && chmod 600 "$K/key.pem"
openssl pkey -in "$K/key.pem" -pubout -out "$K/pub.pem" 2>/dev/null
in_ns "$PORTMORTEM" capture -i lo -f jsonl --duration 0.5 --bundle "$K/b" --sign-key "$K/key.pem" </dev/null >"$K/out" 2>"$K/err"; RC=$?
[ "$RC" -le 1 ] && grep -q "dropped to nobody" "$K/err" && grep -q "manifest signed" "$K/err" &&
    "$PORTMORTEM" verify "$K/b" --verify-key "$K/pub.pem" 2>&1 | grep -q "signature good" &&
    pass "key: a key readable only by root signs the bundle of a capture that dropped to nobody" ||
    fail "key: root-only key" "exit $RC: $(tail -c 400 "$K/err")"
in_ns "$PORTMORTEM" capture -i lo -f jsonl --duration 5 --bundle "$K/b2" --sign-key "$K/pub.pem" </dev/null >"$K/out" 2>"$K/err"; RC=$?
[ "$RC" = 2 ] && ! grep -q "listening" "$K/err" && [ ! -e "$K/b2" ] && [ -z "$(find "$K" -name '.b2.tmp-*')" ] &&
    pass "key: a bad key stops the capture before it starts (exit 2, nothing left)" ||
    fail "key: bad key" "exit $RC: $(head -c 300 "$K/err")"

# ---------------------------------------------------------------- the bundle helper's capabilities
# helper_caps PARENT LABEL WANT_PRM: run a capture with --bundle PARENT/b and read the helper
# (the capture's child) from /proc while it runs.
helper_caps() {
    local parent=$1 label=$2 want=$3 cpid pm h st
    in_ns "$PORTMORTEM" capture -i lo -f jsonl --duration 3 --bundle "$parent/b" </dev/null >"$WORK/out" 2>"$WORK/err" &
    cpid=$!
    for _ in $(seq 100); do grep -q "dropped to" "$WORK/err" 2>/dev/null && break; sleep 0.1; done
    pm=$(main_pid "--bundle $parent/b")
    h=$(helper_pid "${pm:-0}")
    st=$(cat "/proc/${h:-0}/status" 2>/dev/null)
    wait "$cpid" 2>/dev/null
    local prm eff bnd nnp uid
    prm=$(awk '/^CapPrm:/{print $2}' <<<"$st"); eff=$(awk '/^CapEff:/{print $2}' <<<"$st")
    bnd=$(awk '/^CapBnd:/{print $2}' <<<"$st"); nnp=$(awk '/^NoNewPrivs:/{print $2}' <<<"$st")
    uid=$(awk '/^Uid:/{print $3}' <<<"$st")
    echo "  helper $h ($label): Uid $uid CapPrm $prm CapEff $eff CapBnd $bnd NoNewPrivs $nnp"
    [ -n "$h" ] && [ "$prm" = "$want" ] && [ "$eff" = "$want" ] && [ "$bnd" = "$want" ] && [ "$nnp" = 1 ] &&
        "$PORTMORTEM" verify "$parent/b" >/dev/null 2>&1 &&
        pass "helper: $label: CapPrm/CapEff/CapBnd $want, NoNewPrivs 1, and the bundle is written" ||
        fail "helper: $label" "want $want; $(head -c 300 "$WORK/err")"
}
H1=$WORK/h1
mkdir -p "$H1" && chmod 755 "$H1"
helper_caps "$H1" "DIR's parent is root's" 0000000000000000
H2=$WORK/h2
mkdir -p "$H2" && chown 1234 "$H2" && chmod 755 "$H2"
helper_caps "$H2" "DIR's parent belongs to uid 1234" 0000000000000002

echo "hostile: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
