#!/usr/bin/env bash
# tests/lab/run.sh — portmortem's verdicts against the lab's ground truth.
#
#   tests/lab/run.sh [--offline]     every committed fixture in pcaps/lab/ (the default)
#   tests/lab/run.sh --live [NAME..] run the lab scenarios now (root and `ip netns` needed, else
#                                    SKIP with the reason), N at a time, then compare the same way
#   tests/lab/run.sh --all           both
# Options: --fixtures DIR (instead of pcaps/lab), -j N (live parallelism, default 4),
#          --keep (keep the live runs' directory and say where it is).
# Environment: PORTMORTEM  the binary to test (default ./portmortem in the repository root);
#              LAB_CULPRIT strict (default: a culprit not named is a FAIL) or warn.
#
# For each fixture: `portmortem analyze --format jsonl --mta-log LOG VANTAGE=PCAP...`, then for
# each `expect` row of truth.json, the JSONL attempts with the same dst, dport and vantage must
# all carry the expected outcome, verdict and owner; the culprit's address must appear in
# icmp.from, src, dst, a translation/nat field or the evidence text; ICMP type/code and banner
# code, and the confidence (key "confidence"), must match where the row names them. One
# PASS/FAIL line per check, a closing "lab: N passed, N failed, N skipped" line, exit 1 on
# any FAIL.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORTMORTEM=${PORTMORTEM:-$ROOT/portmortem}
CULPRIT_MODE=${LAB_CULPRIT:-strict}
FIXTURES=$ROOT/pcaps/lab
JOBS=4
MODE=offline
KEEP=0
NAMES=()
while [ $# -gt 0 ]; do
    case $1 in
        --offline) MODE=offline; shift ;;
        --live) MODE=live; shift ;;
        --all) MODE=all; shift ;;
        --fixtures) FIXTURES=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -j) JOBS=$2; shift 2 ;;
        -h|--help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
        -*) echo "tests/lab/run.sh: unknown option $1" >&2; exit 2 ;;
        *) NAMES+=("$1"); shift ;;
    esac
done

PASSED=0 FAILED=0 SKIPPED=0 WARNED=0
result() {  # result PASS|FAIL|WARN|SKIP TEXT
    case $1 in
        PASS) PASSED=$((PASSED + 1)) ;;
        FAIL) FAILED=$((FAILED + 1)) ;;
        WARN) WARNED=$((WARNED + 1)) ;;
        SKIP) SKIPPED=$((SKIPPED + 1)) ;;
    esac
    printf '%s %s\n' "$1" "$2"
}

# The comparison of one expectation row with the engine's attempts, as a jq program. Input: the
# attempts (an array); $e: the row; prints "STATUS<TAB>check<TAB>detail" lines.
# shellcheck disable=SC2016  # jq code, not shell expansions
readonly COMPARE='
def addr_in($c): [.icmp.from?, .src?, .dst?, (.translation? // null), (.nat? // null),
                  ((.evidence? // []) | if type == "array" then join(" ") else tostring end)]
                 | map(select(. != null) | tostring | ascii_downcase) | any(contains($c | ascii_downcase));
. as $att
| "\($e.dst):\($e.dport)\(if $e.nth then " attempt \($e.nth)" else "" end)" as $id
| [$att[] | select((.dst // "" | tostring | ascii_downcase) == ($e.dst | ascii_downcase)
                   and .dport == $e.dport and (.vantage // $e.vantage) == $e.vantage)] as $all
  # nth (lab/scenarios.d/scope.sh): the row is about the NTH attempt to dst:dport in time
| (if $e.nth then [($all | sort_by(.ts))[$e.nth - 1] | select(. != null)] else $all end) as $m
| if ($m | length) == 0 then
    "FAIL\t\($id) attempt\tno attempt at vantage \($e.vantage); attempts seen: \(
      [$att[] | "\(.dst):\(.dport)@\(.vantage)"] | unique | join(", ") | if . == "" then "none" else . end)"
  else
    (["outcome", "verdict", "owner"][] as $f
     | ([$m[] | .[$f]] | unique) as $got
     | if $got == [$e[$f]] then "PASS\t\($id) \($f)\t\($e[$f])"
       else "FAIL\t\($id) \($f)\twant \($e[$f]), got \($got | map(tostring) | join(","))" end),
    (if $e.culprit == null then empty
     elif ([$m[] | addr_in($e.culprit)] | all) then "PASS\t\($id) culprit\t\($e.culprit)"
     elif $onwire == false then "WARN\t\($id) culprit\t\($e.culprit) is in no captured packet: only a probe (TTL walk) or live host context can name it"
     else "\(if $mode == "warn" then "WARN" else "FAIL" end)\t\($id) culprit\t\($e.culprit) named nowhere in icmp.from, src, dst, translation/nat or evidence" end),
    (if ($e.key.icmp_type // null) == null then empty
     else ([$m[] | [.icmp.type?, .icmp.code?]] | unique) as $got
     | if $got == [[$e.key.icmp_type, $e.key.icmp_code]] then "PASS\t\($id) icmp\t\($e.key.icmp_type)/\($e.key.icmp_code)"
       else "FAIL\t\($id) icmp\twant \($e.key.icmp_type)/\($e.key.icmp_code), got \($got | map(map(tostring) | join("/")) | join(","))" end end),
    (if ($e.key.mta_error // null) == null then empty
     elif $e.key.mta_error == "status=sent" or $e.key.mta_error == "=>" then
       (if ([$m[] | .mta.kind?] | all(. == "delivered")) then "PASS\t\($id) mta\tdelivered"
        else "FAIL\t\($id) mta\twant the delivered status line, got \([$m[] | .mta.kind?] | map(tostring) | join(","))" end)
     elif ([$m[] | (.mta.error? // "") | contains($e.key.mta_error)] | all) then "PASS\t\($id) mta\t\($e.key.mta_error)"
     else "FAIL\t\($id) mta\twant a matched log line with \"\($e.key.mta_error)\", got \([$m[] | .mta.error?] | map(tostring) | join(" | "))" end),
    (if ($e.key.rst_ttl // null) == null then empty
     else ([$m[] | .rst.ttl?] | unique) as $got
     | if $got == [$e.key.rst_ttl] then "PASS\t\($id) rst-ttl\t\($e.key.rst_ttl)"
       else "FAIL\t\($id) rst-ttl\twant \($e.key.rst_ttl), got \($got | map(tostring) | join(","))" end end),
    (if ($e.key.dst_ttl // null) == null then empty
     else ([$m[] | .rst.expected_hops?] | unique) as $got
     | (if $e.key.dst_ttl <= 64 then 64 - $e.key.dst_ttl elif $e.key.dst_ttl <= 128 then 128 - $e.key.dst_ttl else 255 - $e.key.dst_ttl end) as $hops
     | if $got == [$hops] then "PASS\t\($id) rst-reference\tthe MX is \($hops) hops away"
       else "FAIL\t\($id) rst-reference\twant expected_hops \($hops) (MX TTL \($e.key.dst_ttl)), got \($got | map(tostring) | join(","))" end end),
    (if ($e.key.icmp_delay_s // null) == null then empty
     else ([$m[] | ((.icmp.delay_ms? // -1000000) / 1000 - $e.key.icmp_delay_s) | fabs < 0.6] | all) as $ok
     | if $ok then "PASS\t\($id) icmp-delay\t~\($e.key.icmp_delay_s) s"
       else "FAIL\t\($id) icmp-delay\twant ~\($e.key.icmp_delay_s) s, got \([$m[] | .icmp.delay_ms?] | map(tostring) | join(",")) ms" end end),
    (if ($e.key.public_src // null) == null then empty
     elif ([$m[] | .translation.outside_src?] | all(. == $e.key.public_src)) then "PASS\t\($id) translation\tleaves as \($e.key.public_src)"
     else "FAIL\t\($id) translation\twant outside_src \($e.key.public_src), got \([$m[] | .translation.outside_src?] | map(tostring) | join(","))" end),
    (if ($e.key.confidence // null) == null then empty
     else ([$m[] | .confidence] | unique) as $got
     | if $got == [$e.key.confidence] then "PASS\t\($id) confidence\t\($e.key.confidence)"
       else "FAIL\t\($id) confidence\twant \($e.key.confidence), got \($got | map(tostring) | join(","))" end end),
    (if ($e.key.banner_code // null) == null then empty
     else ([$m[] | .banner.code?] | unique) as $got
     | if $got == [$e.key.banner_code] or $got == [($e.key.banner_code | tostring)] then "PASS\t\($id) banner\t\($e.key.banner_code)"
       else "FAIL\t\($id) banner\twant \($e.key.banner_code), got \($got | map(tostring) | join(","))" end end)
  end'

compare_dir() {  # compare_dir DIR LABEL: run portmortem on one recorded run and check it
    local dir=$1 label=$2 truth=$1/truth.json scenario out err rc=0 args=() k v row line
    scenario=$(jq -r .scenario "$truth")
    while read -r k v; do args+=("$k=$dir/$v"); done < <(jq -r '.captures | to_entries[] | "\(.key) \(.value)"' "$truth")
    # What an operator would tell portmortem about this run: the capture window (a pcap does
    # not record when capture stopped), the ports the MTA used, where mail must leave from.
    while read -r k v; do args+=("$k" "$v"); done < <(jq -r '
        (if .window then "--since @\(.window.since)", "--until @\(.window.until)" else empty end),
        (if .ports then "--ports \(.ports | map(tostring) | join(","))" else empty end),
        ((.expect_source // [])[] | "--expect-source \(.)")' "$truth")
    out=$(mktemp) err=$(mktemp)
    if [ ! -x "$PORTMORTEM" ]; then
        echo "portmortem not found or not executable: $PORTMORTEM (build it, or set PORTMORTEM)" >"$err"
        rc=127
    else
        "$PORTMORTEM" analyze --format jsonl --mta-log "$dir/$(jq -r .mta_log "$truth")" "${args[@]}" \
            >"$out" 2>"$err" </dev/null || rc=$?
    fi
    # Exit 0 (nothing failed), 1 (failures found) and 4 (partial) all mean it ran and reported.
    if [ "$rc" != 0 ] && [ "$rc" != 1 ] && [ "$rc" != 4 ]; then
        while read -r row; do
            result FAIL "$label $scenario $row: portmortem exited $rc: $(head -c 300 "$err" | tr '\n' ' ')"
        done < <(jq -r '.expect[] | "\(.dst):\(.dport)"' "$truth")
        rm -f "$out" "$err"
        return 0
    fi
    local attempts
    if ! attempts=$(jq -c 'select(type == "object" and .type == "attempt")' "$out" 2>/dev/null | jq -sc .); then
        while read -r row; do
            result FAIL "$label $scenario $row: portmortem output is not JSON Lines: $(head -c 200 "$out" | tr '\n' ' ')"
        done < <(jq -r '.expect[] | "\(.dst):\(.dport)"' "$truth")
        rm -f "$out" "$err"
        return 0
    fi
    local culprit onwire cap
    while read -r row; do
        # Is the culprit's address in any captured packet? If not (a forging router, a
        # provider's silent drop, the NAT's inside address), only a probe can name it.
        culprit=$(jq -r '.culprit // empty' <<<"$row")
        onwire=false
        if [ -n "$culprit" ]; then
            # only the captures portmortem was given
            for cap in $(jq -r '.captures[]' "$truth" | sed "s|^|$dir/|"); do
                # IP packets only: an ARP exchange with the culprit (the NAT's outside
                # interface resolving the provider's router, when its cache expired during a
                # slow run) puts its address on the wire but is no evidence about the attempt.
                if [ -n "$(tcpdump -nr "$cap" -c 1 "(ip or ip6) and host $culprit" 2>/dev/null)" ]; then
                    onwire=true
                fi
            done
        fi
        while IFS=$'\t' read -r status check detail; do
            result "$status" "$label $scenario $check: $detail"
        done < <(jq -r --argjson e "$row" --arg mode "$CULPRIT_MODE" --argjson onwire "$onwire" "$COMPARE" <<<"$attempts")
    done < <(jq -c '.expect[]' "$truth")
    outside_window_check "$out" "$label" "$scenario" "$truth"
    scope_check "$out" "$rc" "$label" "$scenario" "$truth"
    rm -f "$out" "$err"
    one_vantage_check "$dir" "$label" "$scenario" "$truth"
    log_window_check "$dir" "$label" "$scenario" "$truth"
}

# Issue 14.6: a truth file's "scope" (lab.sh expect_scope): the summary's scope word, the exit
# status, and the state of the destinations named, which follow each one's latest attempts.
scope_check() {
    local out=$1 rc=$2 label=$3 scenario=$4 truth=$5 want
    want=$(jq -c '.scope // empty' "$truth")
    [ -n "$want" ] || return 0
    while IFS=$'\t' read -r status check detail; do
        result "$status" "$label $scenario $check: $detail"
    done < <(jq -rs --argjson w "$want" --argjson rc "$rc" '
        . as $all
        | (map(select(.type == "summary"))[0] // {}) as $s
        | (if $s.scope == $w.scope then "PASS\tscope\t\($w.scope)"
           else "FAIL\tscope\twant \($w.scope), got \($s.scope): \($s.scope_verdict)" end),
          (if $rc == $w.exit then "PASS\texit\t\($rc)"
           else "FAIL\texit\twant \($w.exit), got \($rc): \($s.scope_verdict)" end),
          ($w.states | to_entries[] as $kv
           | ($all | map(select(.type == "destination" and .dst == $kv.key))[0] // {}) as $d
           | if $d.state == $kv.value then "PASS\t\($kv.key) state\t\($kv.value): \($d.line)"
             else "FAIL\t\($kv.key) state\twant \($kv.value), got \($d.state // "none"): \($d.line // "")" end)' "$out" ||
             printf 'FAIL\tscope\tthe report is not JSON Lines\n')
}

# Issue 4: a log that covers far more time than the capture must not produce not-on-wire
# attempts outside the capture window. The run's own connect-failure lines are copied one
# hour earlier and one hour later (syslog times); only the originals may be judged.
log_window_check() {
    local dir=$1 label=$2 scenario=$3 truth=$4 want log tmp args=() k x
    want=$(jq '[.expect[] | select(.outcome == "not-on-wire")] | length' "$truth")
    [ "$want" -gt 0 ] && [ "$(jq -r .mta "$truth")" = postfix ] || return 0
    log=$dir/$(jq -r .mta_log "$truth")
    tmp=$(mktemp)
    {
        grep 'connect to' "$log" | awk '{ split($3, t, ":"); $3 = sprintf("%02d:%s:%s", (t[1] + 23) % 24, t[2], t[3]); print }'
        cat "$log"
        grep 'connect to' "$log" | awk '{ split($3, t, ":"); $3 = sprintf("%02d:%s:%s", (t[1] + 1) % 24, t[2], t[3]); print }'
    } >"$tmp"
    while read -r k x; do args+=("$k" "$x"); done < <(jq -r '
        (if .window then "--since @\(.window.since)", "--until @\(.window.until)" else empty end),
        (if .ports then "--ports \(.ports | map(tostring) | join(","))" else empty end)' "$truth")
    local out n outside
    out=$("$PORTMORTEM" analyze --format jsonl "${args[@]}" --mta-log "$tmp" \
          "sender=$dir/$(jq -r .captures.sender "$truth")" 2>/dev/null) || true
    rm -f "$tmp"
    n=$(jq -s '[.[] | select(.type == "attempt" and .outcome == "not-on-wire")] | length' <<<"$out")
    outside=$(jq -s '[.[] | select(.type == "summary")][0].correlation.outside_capture_window // 0' <<<"$out")
    if [ "$n" = "$want" ] && [ "$outside" -gt 0 ]; then
        result PASS "$label $scenario log-window: $n not-on-wire inside the window, $outside line(s) outside not judged"
    else
        result FAIL "$label $scenario log-window: want $want not-on-wire and the shifted lines left out, got $n (outside: $outside)"
    fi
}

# Issue 14: a truth file that names log lines outside the capture window (their SYNs may have
# left while nothing was recorded; lab/scenarios.d/window.sh finds them from the order of its
# delivery rounds) wants each listed as outside-window in the summary and cited by no attempt;
# the lines it names inside the window must each be cited by an attempt.
outside_window_check() {
    local out=$1 label=$2 scenario=$3 truth=$4 line
    jq -e '.outside_window.lines' "$truth" >/dev/null 2>&1 || return 0
    local listed cited
    listed=$(jq -sc '[.[] | select(.type == "summary") | .log_lines.outside_window_lines[]?
                      | select(.type == "outside-window") | .line]' "$out")
    cited=$(jq -sc '[.[] | select(.type == "attempt") | .mta.line? | select(. != null)]' "$out")
    for line in $(jq -r '.outside_window.lines[]' "$truth"); do
        if jq -e --argjson l "$line" 'index($l) != null' <<<"$cited" >/dev/null; then
            result FAIL "$label $scenario outside-window: log line $line (outside the capture window) was given a verdict"
        elif jq -e --argjson l "$line" 'index($l) != null' <<<"$listed" >/dev/null; then
            result PASS "$label $scenario outside-window: log line $line listed, no verdict"
        else
            result FAIL "$label $scenario outside-window: log line $line not listed as outside-window (listed: $listed)"
        fi
    done
    for line in $(jq -r '(.inside_window.lines // [])[]' "$truth"); do
        if jq -e --argjson l "$line" 'index($l) != null' <<<"$cited" >/dev/null; then
            result PASS "$label $scenario inside-window: log line $line carried by an attempt"
        else
            result FAIL "$label $scenario inside-window: log line $line (inside the capture window) is in no attempt"
        fi
    done
}

# Issue 6: analysed with the inside capture alone, a NAT scenario must not claim more than one
# vantage point can show (no nat-drop, no nat-rewrite).
one_vantage_check() {
    local dir=$1 label=$2 scenario=$3 truth=$4 v args=() k x
    v=$(jq -r '[.expect[].verdict] | map(select(. == "nat-drop" or . == "nat-rewrite")) | length' "$truth")
    [ "$v" -gt 0 ] || return 0
    while read -r k x; do args+=("$k" "$x"); done < <(jq -r '
        (if .window then "--since @\(.window.since)", "--until @\(.window.until)" else empty end),
        ((.expect_source // [])[] | "--expect-source \(.)")' "$truth")
    local got
    got=$("$PORTMORTEM" analyze --format jsonl "${args[@]}" --mta-log "$dir/$(jq -r .mta_log "$truth")" \
          "sender=$dir/$(jq -r .captures.sender "$truth")" 2>/dev/null |
          jq -r 'select(.type == "attempt") | .verdict' | sort -u | tr '\n' ' ') || true
    if grep -qE 'nat-drop|nat-rewrite' <<<"$got"; then
        result FAIL "$label $scenario one-vantage: the inside capture alone gave $got"
    else
        result PASS "$label $scenario one-vantage: the inside capture alone gives ${got:-nothing}(no NAT verdict)"
    fi
}

run_offline() {
    local t n=0
    for t in "$FIXTURES"/*/truth.json; do
        [ -f "$t" ] || continue
        compare_dir "$(dirname "$t")" offline
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] || result FAIL "offline: no fixtures under $FIXTURES (lab/record-fixtures.sh makes them)"
}

live_skip_reason() {
    [ "$(id -u)" = 0 ] || { echo "not root (the lab creates network namespaces)"; return; }
    local tool
    for tool in ip iptables ip6tables ethtool tcpdump postfix dnsmasq jq python3 timeout; do
        command -v "$tool" >/dev/null 2>&1 || { echo "$tool is not installed (.ci/setup installs it)"; return; }
    done
    local probe="pmlab-probe$$-t"
    if ! ip netns add "$probe" 2>/dev/null; then
        echo "cannot create a network namespace here (ip netns add failed)"
        return
    fi
    ip netns del "$probe" 2>/dev/null || true
}

run_live() {
    local reason
    reason=$(live_skip_reason)
    if [ -n "$reason" ]; then
        result SKIP "live: $reason"
        return 0
    fi
    local work rc=0 line
    work=$(mktemp -d "${TMPDIR:-/tmp}/portmortem-lab-live.XXXXXX")
    echo "live: running the lab scenarios into $work (-j $JOBS)"
    "$ROOT/lab/lab.sh" all "$work" -j "$JOBS" "${NAMES[@]}" || rc=$?
    [ "$rc" = 0 ] || result FAIL "live: lab/lab.sh all exited $rc (see $work/*/lab.log)"
    # Runs that could not happen here (exit 77, e.g. no exim package to be had) are skips.
    while read -r line; do
        result SKIP "live $line"
    done < <(jq -r '.runs[] | select(.rc == 77) | .scenario' "$work/all.json" 2>/dev/null |
        while read -r n; do echo "$n: $(grep -o 'SKIP: .*' "$work/$n/lab.log" | head -1)"; done)
    # The lab's own check first: does each run show what its truth file claims?
    while read -r line; do
        case $line in
            PASS\ *) result PASS "live lab-${line#PASS }" ;;
            FAIL\ *) result FAIL "live lab-${line#FAIL }" ;;
        esac
    done < <("$ROOT/lab/lab.sh" verify "$work" 2>&1 || true)
    local t
    for t in "$work"/*/truth.json; do
        [ -f "$t" ] && compare_dir "$(dirname "$t")" live
    done
    if [ "$KEEP" = 1 ] || [ "$FAILED" -gt 0 ]; then echo "live: runs kept in $work"; else rm -rf "$work"; fi
}

case $MODE in
    offline) run_offline ;;
    live) run_live ;;
    all) run_offline; run_live ;;
esac
[ "$WARNED" = 0 ] || echo "($WARNED culprit warning(s), LAB_CULPRIT=$CULPRIT_MODE)"
echo "lab: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
