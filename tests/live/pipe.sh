#!/usr/bin/env bash
# tests/live/pipe.sh — a real `tcpdump -U -w -` piped into `portmortem analyze -` in the lab's
# sender while the scenario's real connection attempts happen (issue 16, item 1), as root.
#
#   tests/live/pipe.sh [--keep] [NAME...]     default: mx-no-listener greeting-554
#
# Each scenario is one `lab/lab.sh all` run (its own namespaces pmlab-<runid>-*, made, cleaned
# up by its traps and bounded in time by lab.sh itself), with the lab's sender hook running in
# the sender's namespace from before the first mail until LAB_GRACE (20) s after the MTA settled:
#
#   tcpdump -i eth0 -U -w - 'tcp port 25 or tcp port 587 or icmp or icmp6' |
#       portmortem analyze -f jsonl -p 25,587 - | (each line stamped with its arrival time)
#
# SIGINT ends tcpdump (portmortem ignores it: it must read on to the end of the pipe, then
# decide what is still open and write its summary). Checks per scenario: the report ends with
# a summary (exit status 0 or 1 as its exit_status says, read from standard input, no damage);
# every truth.json row (dst, dport) has attempts, all with the row's outcome, verdict and owner
# (no --mta-log: what the wire shows decides); greeting-554: its attempts, closed by the MX, are
# reported while the pipe is still open (at least 3 s before the summary, which comes only
# after tcpdump stopped): one stream is reported as it goes.
# Output: PASS/FAIL/SKIP per check, "live-pipe: N passed, N failed, N skipped"; exit 1 on any
# FAIL. Not root, no namespaces, a missing tool: SKIP with the reason. Bounded: timeout(1)
# LIVE_PIPE_LIMIT (300) s around `lab.sh all`, and each run by the lab's own watchdog
# (LAB_RUN_LIMIT, 240 s here: Postfix starts slowly on a loaded machine).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORTMORTEM=${PORTMORTEM:-$ROOT/portmortem}
LIMIT=${LIVE_PIPE_LIMIT:-300}
NAMES=(mx-no-listener greeting-554)
KEEP=0
[ "${1:-}" = --keep ] && { KEEP=1; shift; }
[ $# -gt 0 ] && NAMES=("$@")

PASSED=0 FAILED=0 SKIPPED=0
result() {
    case $1 in
        PASS) PASSED=$((PASSED + 1)) ;;
        FAIL) FAILED=$((FAILED + 1)) ;;
        SKIP) SKIPPED=$((SKIPPED + 1)) ;;
    esac
    printf '%s live-pipe %s\n' "$1" "$2"
}
finish() {
    echo "live-pipe: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" = 0 ]
}
skip_reason() {
    [ "$(id -u)" = 0 ] || { echo "not root (the lab creates network namespaces)"; return; }
    local tool
    for tool in ip iptables ethtool tcpdump postfix dnsmasq jq timeout setsid; do
        command -v "$tool" >/dev/null 2>&1 || { echo "$tool is not installed (.ci/setup installs it)"; return; }
    done
    [ -x "$PORTMORTEM" ] || { echo "no portmortem binary at $PORTMORTEM"; return; }
    local probe="pmlab-pcheck$$"
    ip netns add "$probe" 2>/dev/null || { echo "cannot create a network namespace here"; return; }
    ip netns del "$probe" 2>/dev/null || true
}
reason=$(skip_reason)
if [ -n "$reason" ]; then
    result SKIP "all: $reason"
    finish
    exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmlivepipe.XXXXXX")
LAB_PID=""
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -n "$LAB_PID" ]; then
        # lab.sh all passes the signal on; each run stops its hook and tears down.
        kill -TERM "$LAB_PID" 2>/dev/null
        for _ in $(seq 60); do kill -0 "$LAB_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$LAB_PID" 2>/dev/null
        wait "$LAB_PID" 2>/dev/null
    fi
    if [ "$KEEP" = 1 ] || [ "$FAILED" -gt 0 ] || [ "$rc" != 0 ]; then
        echo "live-pipe: runs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The hook (bash -c in the sender namespace, its own process group; the lab SIGINTs the group).
# tcpdump's standard error is the hook's (hook.err: "listening on" tells the lab it is ready);
# portmortem and the stamper ignore SIGINT (set before exec, kept across it): only tcpdump
# stops, and the end of its pipe ends the analysis.
# shellcheck disable=SC2089,SC2090
LAB_SENDER_HOOK="tcpdump -i eth0 -U -w - 'tcp port 25 or tcp port 587 or icmp or icmp6' \
| (trap '' INT; $(printf '%q' "$PORTMORTEM") analyze \
--no-progress -f jsonl -p 25,587 - 2>\"\$LAB_OUTDIR/pipe.err\"; echo \$? >\"\$LAB_OUTDIR/pipe.rc\") \
| (trap '' INT; while IFS= read -r l; do printf '%s\t%s\n' \"\$(date +%s.%N)\" \"\$l\"; done \
>\"\$LAB_OUTDIR/pipe.tsv\")"
# shellcheck disable=SC2090
export LAB_SENDER_HOOK
export LAB_SENDER_HOOK_READY='listening on'

echo "live-pipe: ${#NAMES[@]} runs into $WORK: ${NAMES[*]} (LAB_GRACE=20)"
LAB_GRACE=20 LAB_RUN_LIMIT=${LAB_RUN_LIMIT:-240} timeout -k 30 "$LIMIT" "$ROOT/lab/lab.sh" all "$WORK/runs" -j 2 "${NAMES[@]}" \
    >"$WORK/lab.out" 2>&1 &
LAB_PID=$!
rc=0
wait "$LAB_PID" || rc=$?
LAB_PID=""
[ "$rc" = 0 ] || result FAIL "lab.sh all exited $rc (timeout: 124; see $WORK/runs/*/lab.log)"
sed 's/^/  /' "$WORK/lab.out"

for n in "${NAMES[@]}"; do
    d=$WORK/runs/$n
    run_rc=$(jq -r --arg n "$n" '.runs[] | select(.scenario == $n) | .rc' "$WORK/runs/all.json" 2>/dev/null || echo '?')
    if [ "$run_rc" = 77 ]; then
        result SKIP "$n: $(grep -o 'SKIP: .*' "$d/lab.log" | head -1)"
        continue
    fi
    if [ "$run_rc" != 0 ] || [ ! -f "$d/truth.json" ] || [ ! -f "$d/pipe.tsv" ]; then
        result FAIL "$n: the lab run failed (rc $run_rc): $(tail -c 300 "$d/hook.err" 2>/dev/null | tr '\n' ' ')"
        continue
    fi
    cut -f2- "$d/pipe.tsv" >"$d/pipe.jsonl"
    last=$(tail -n 1 "$d/pipe.jsonl")
    prc=$(cat "$d/pipe.rc" 2>/dev/null || echo '?')
    if jq -e --argjson rc "${prc//[!0-9]/9}" '.type == "summary" and .exit_status == $rc and
            ($rc == 0 or $rc == 1) and .damaged == false and .inputs.files[0].path == "-"' \
            <<<"$last" >/dev/null 2>&1; then
        result PASS "$n: the piped report ends with a summary (standard input, exit $prc = its exit_status, not damaged)"
    else
        result FAIL "$n: piped report: exit $prc, last line $(head -c 300 <<<"$last")" "$(head -c 300 "$d/pipe.err")"
        continue
    fi
    while read -r row; do
        dst=$(jq -r .dst <<<"$row") dport=$(jq -r .dport <<<"$row")
        want=$(jq -r '"\(.outcome) \(.verdict) \(.owner)"' <<<"$row")
        got=$(jq -r --arg d "$dst" --argjson p "$dport" \
            'select(.type == "attempt" and .dst == $d and .dport == $p) | "\(.outcome) \(.verdict) \(.owner)"' \
            "$d/pipe.jsonl" | sort -u | tr '\n' ';')
        if [ "$got" = "$want;" ]; then
            result PASS "$n $dst:$dport from the pipe: $want"
        else
            result FAIL "$n $dst:$dport from the pipe: want $want, got ${got%;}"
        fi
    done < <(jq -c '.expect[]' "$d/truth.json")
    if [ "$n" = greeting-554 ]; then
        # attempts that ended (closed by the MX) come out while tcpdump still runs
        t_sum=$(tail -n 1 "$d/pipe.tsv" | cut -f1)
        t_att=$(awk -F'\t' 'index($2, "\"type\":\"attempt\"") { print $1 }' "$d/pipe.tsv" | sort -n | tail -1)
        if [ -n "$t_att" ] && awk -v a="$t_att" -v s="$t_sum" 'BEGIN { exit !(a < s - 3) }'; then
            result PASS "$n: its attempts were reported $(awk -v a="$t_att" -v s="$t_sum" 'BEGIN { printf "%.1f", s - a }') s before the pipe ended (streamed)"
        else
            result FAIL "$n: attempts not streamed (last attempt at ${t_att:-none}, summary at $t_sum)"
        fi
    fi
done
finish
