#!/usr/bin/env bash
# tests/live/flood.sh — `make check-live-flood` (issue 19.1): a SYN flood must not blind the
# live capture nor keep it from stopping. Before issue 19, 2,000 SYN/s to one destination made
# `portmortem capture` fall minutes behind and ignore SIGINT; the table fixes are measured by
# `make bench` (flood-one, live-flood) and `make check-linear`, and this test proves the stop:
#
#   two namespaces made here (pmflood-PID-a, -b) on a veth pair, documentation prefixes only
#   (192.0.2.1/.2; SYN sources 198.51.100.0/24, destinations 203.0.113.1-16, answered by b's
#   kernel with RSTs); tests/bench/synflood sends SYNs from a for FLOOD_SECS while
#   `portmortem capture -i` runs in a; SIGINT in the middle of the flood.
#
# Checks: the capture exits within STOP_LIMIT seconds of SIGINT while the flood goes on (a
# liveness bound, generous for a loaded machine: the stop path drains at most 2 s), with the
# documented exit status, stderr saying why it stopped, and the JSON summary as the report's
# last line, counting attempts; and a second run stopped by SIGINT twice ends at once.
# Root only; skips with the reason otherwise. Every run is bounded (60 s, then killed); a trap deletes
# the namespaces on every exit. Nothing is added to the namespace the test runs in.
#
# usage: PORTMORTEM=... SYNFLOOD=... tests/live/flood.sh
set -u

PM=${PORTMORTEM:-build/release/portmortem}
SYNFLOOD=${SYNFLOOD:-build/release/tests/bench/synflood}
RATE=${FLOOD_RATE:-10000}     # SYN/s: 5x the rate that used to stall the capture
FLOOD_SECS=${FLOOD_SECS:-25}
STOP_LIMIT=${STOP_LIMIT:-10}

pass=0 fail=0
result() { # PASS|FAIL text
    echo "$1 $2"
    if [ "$1" = PASS ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
}

if [ "$(id -u)" != 0 ]; then
    echo "SKIP live-flood: needs root (network namespaces, AF_PACKET)"
    exit 0
fi
if ! ip netns add "pmflood-probe-$$" 2>/dev/null; then
    echo "SKIP live-flood: cannot create network namespaces here (ip netns add failed)"
    exit 0
fi
ip netns del "pmflood-probe-$$"
for f in "$PM" "$SYNFLOOD"; do
    if [ ! -x "$f" ]; then
        echo "FAIL live-flood: $f is not built (make $f)"
        exit 1
    fi
done

NA="pmflood-$$-a" NB="pmflood-$$-b" IA="pmf$(( $$ % 100000 ))a" IB="pmf$(( $$ % 100000 ))b"
MA=02:00:00:00:54:0a MB=02:00:00:00:54:0b
TMP=$(mktemp -d /tmp/pm-flood.XXXXXX)
FLOOD_PID=
cleanup() {
    [ -n "$FLOOD_PID" ] && kill "$FLOOD_PID" 2>/dev/null
    ip netns pids "$NA" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$NA" 2>/dev/null
    ip netns del "$NB" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

set -e
ip netns add "$NA"
ip netns add "$NB"
ip -n "$NA" link add "$IA" address "$MA" type veth peer name "$IB" address "$MB" netns "$NB"
ip -n "$NA" link set lo up
ip -n "$NB" link set lo up
ip -n "$NA" addr add 192.0.2.1/24 dev "$IA"
ip -n "$NB" addr add 192.0.2.2/24 dev "$IB"
ip -n "$NA" link set "$IA" up
ip -n "$NB" link set "$IB" up
ip -n "$NA" neigh replace 192.0.2.2 lladdr "$MB" dev "$IA" nud permanent
ip -n "$NB" neigh replace 192.0.2.1 lladdr "$MA" dev "$IB" nud permanent
ip -n "$NB" route add local 203.0.113.0/24 dev lo
ip -n "$NB" route add 198.51.100.0/24 via 192.0.2.1
set +e

now_ms() { date +%s%3N; }

# One run: capture, flood, SIGINT (twice when asked) after `after` seconds of flood.
# Sets RC, STOP_MS (SIGINT to exit), and leaves $TMP/NAME.{jsonl,err}.
run_one() { # name after_secs sigints
    local name=$1 after=$2 nsig=$3
    # `ip netns exec` execs portmortem in place: $! is portmortem's own pid (SIGINT reaches
    # it, and its handler replaces the ignore a background job inherits).
    ip netns exec "$NA" "$PM" capture -i "$IA" -f jsonl -o "$TMP/$name.jsonl" --no-progress \
        </dev/null 2>"$TMP/$name.err" &
    local cap=$!
    local i
    for i in $(seq 1 150); do # up to 15 s for the handle to open and the drop
        grep -q "dropped to" "$TMP/$name.err" 2>/dev/null && break
        sleep 0.1
    done
    ip netns exec "$NA" "$SYNFLOOD" "$IA" "$MA" "$MB" "$RATE" "$FLOOD_SECS" \
        >"$TMP/$name.flood" 2>&1 &
    FLOOD_PID=$!
    sleep "$after"
    local t0
    t0=$(now_ms)
    kill -INT "$cap" 2>/dev/null
    if [ "$nsig" -gt 1 ]; then
        sleep 0.2
        kill -INT "$cap" 2>/dev/null
    fi
    for i in $(seq 1 600); do # the bound of the run: 60 s, then it is killed
        kill -0 "$cap" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$cap" 2>/dev/null && kill -KILL "$cap" 2>/dev/null
    RC=0
    wait "$cap" || RC=$?
    STOP_MS=$(( $(now_ms) - t0 ))
    FLOOD_RUNNING=no
    kill -0 "$FLOOD_PID" 2>/dev/null && FLOOD_RUNNING=yes
    kill "$FLOOD_PID" 2>/dev/null
    wait "$FLOOD_PID" 2>/dev/null
    FLOOD_PID=
}

# 1. One SIGINT in the middle of the flood.
run_one one 8 1
limit_ms=$((STOP_LIMIT * 1000))
[ "$FLOOD_RUNNING" = yes ] && result PASS "flood: still flooding when the capture stopped" ||
    result FAIL "flood: the flood ended before the capture stopped (test proves nothing)"
[ "$STOP_MS" -le "$limit_ms" ] &&
    result PASS "flood: capture stopped ${STOP_MS} ms after SIGINT at $RATE SYN/s (bound ${limit_ms} ms)" ||
    result FAIL "flood: capture took ${STOP_MS} ms to stop after SIGINT at $RATE SYN/s (bound ${limit_ms} ms)"
case $RC in
    0|1|4) result PASS "flood: documented exit status ($RC)" ;;
    *) result FAIL "flood: exit status $RC (stderr: $(tail -3 "$TMP/one.err" | tr '\n' ' '))" ;;
esac
grep -q 'stopping (SIGINT)' "$TMP/one.err" && result PASS "flood: stderr says why it stopped" ||
    result FAIL "flood: no 'stopping (SIGINT)' on stderr"
last=$(tail -n 1 "$TMP/one.jsonl" 2>/dev/null)
attempts=$(printf '%s' "$last" | jq -r 'select(.type == "summary") | .attempts.total' 2>/dev/null)
if [ -n "$attempts" ] && [ "$attempts" -gt 0 ] 2>/dev/null; then
    result PASS "flood: the summary is the last line ($attempts attempts counted)"
else
    result FAIL "flood: no summary with attempts as the report's last line: ${last:0:200}"
fi
decided=$(jq -c 'select(.type == "attempt")' "$TMP/one.jsonl" 2>/dev/null | wc -l)
[ "$decided" -gt 0 ] && result PASS "flood: attempts decided during the flood ($decided)" ||
    result FAIL "flood: no attempt decided during the flood"

# 2. Two SIGINTs: the second ends the process at once.
run_one two 5 2
[ "$STOP_MS" -le "$limit_ms" ] &&
    result PASS "flood: a second SIGINT ends it (${STOP_MS} ms)" ||
    result FAIL "flood: ${STOP_MS} ms to end after a second SIGINT (bound ${limit_ms} ms)"
[ "$RC" != 137 ] && result PASS "flood: ended by itself, not by the test's kill (exit $RC)" ||
    result FAIL "flood: had to be killed"

echo "live-flood: $pass passed, $fail failed"
[ "$fail" = 0 ]
