#!/usr/bin/env bash
# tests/lab/selftest.sh — tests the lab test harness (tests/lab/run.sh) with a fake engine:
# a perfect fake must pass everything, each kind of wrong answer must fail, and the live mode
# must SKIP with a reason when it cannot create namespaces. Needs no root and no real engine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FAKE=$ROOT/tests/lab/fake-portmortem.sh
FIX=${LAB_FIXTURES:-$ROOT/pcaps/lab}
ok=0 bad=0

check() {  # check NAME WANT_RC GREP_PATTERN MIN_COUNT -- ENV...: run the harness, assert
    local name=$1 want_rc=$2 pattern=$3 min=$4 rc=0 out n
    shift 5
    out=$(env PORTMORTEM="$FAKE" "$@" "$ROOT/tests/lab/run.sh" --fixtures "$FIX" 2>&1) || rc=$?
    n=$(grep -cE "$pattern" <<<"$out" || true)
    if [ "$rc" = "$want_rc" ] && [ "$n" -ge "$min" ]; then
        echo "PASS selftest $name (rc=$rc, $n line(s) matching '$pattern')"; ok=$((ok + 1))
    else
        echo "FAIL selftest $name: rc=$rc (want $want_rc), $n line(s) matching '$pattern' (want >= $min)"
        tail -5 <<<"$out" | sed 's/^/    /'
        bad=$((bad + 1))
    fi
}

fixtures=$(find "$FIX" -name truth.json 2>/dev/null | wc -l)
rows=$(cat "$FIX"/*/truth.json 2>/dev/null | jq -s '[.[].expect | length] | add // 0')
[ "$fixtures" -gt 0 ] || { echo "selftest: no fixtures in $FIX"; exit 1; }

check perfect 0 '^lab: [0-9]+ passed, 0 failed' 1 -- FAKE_PM_MODE=perfect
check perfect-covers-every-row 0 '^PASS offline .* outcome: ' "$rows" -- FAKE_PM_MODE=perfect
check wrong-verdict 1 '^FAIL offline .* verdict: want ' "$fixtures" -- FAKE_PM_MODE=wrong-verdict
check missing-attempt 1 '^FAIL offline .* attempt: no attempt' "$fixtures" -- FAKE_PM_MODE=missing
check crash 1 '^FAIL offline .*portmortem exited 3' "$rows" -- FAKE_PM_MODE=crash
check garbage 1 '^FAIL offline .*not JSON Lines' "$rows" -- FAKE_PM_MODE=garbage
check no-culprit-strict 1 '^FAIL offline .* culprit: ' 1 -- FAKE_PM_MODE=no-culprit
check no-culprit-warn 0 '^WARN offline .* culprit: ' 1 -- FAKE_PM_MODE=no-culprit LAB_CULPRIT=warn
check missing-binary 1 "portmortem not found" "$rows" -- PORTMORTEM=/nonexistent
scoped=$(cat "$FIX"/*/truth.json 2>/dev/null | jq -s '[.[] | select(.scope)] | length')
if [ "$scoped" -gt 0 ]; then  # truth files with a run-level scope (lab/scenarios.d/scope.sh)
    check perfect-covers-every-scope 0 '^PASS offline .* exit: ' "$scoped" -- FAKE_PM_MODE=perfect
    check wrong-scope 1 '^FAIL offline .* (exit|state): want ' "$((scoped * 2))" -- FAKE_PM_MODE=wrong-scope
fi

# Live mode without the right to make namespaces must SKIP, not fail.
# (Only where that user can reach the checkout: a clone inside a mode-0700 directory is not.)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
    ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$ROOT/tests/lab/run.sh"; then
    echo "SKIP selftest live-skip-unprivileged: user 65534 cannot reach $ROOT (a private directory)"
elif [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    rc=0
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$ROOT/tests/lab/run.sh" --live 2>&1) || rc=$?
    if [ "$rc" = 0 ] && grep -q '^SKIP live: not root' <<<"$out"; then
        echo "PASS selftest live-skip-unprivileged"; ok=$((ok + 1))
    else
        echo "FAIL selftest live-skip-unprivileged: rc=$rc: $out"; bad=$((bad + 1))
    fi
fi

echo "selftest: $ok passed, $bad failed"
[ "$bad" = 0 ]
