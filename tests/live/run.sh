#!/usr/bin/env bash
# tests/live/run.sh — `portmortem capture` tested live (issue 7), as root, in private
# network namespaces.
#
#   tests/live/run.sh [--keep] [TEST...]    tests: verdicts sigint rotation nonroot (default: all)
#
# Topology (namespaces pmlive-<runid>-{s,r,m}; documentation prefixes only; nothing is added
# to the root namespace; no traffic leaves the three namespaces):
#
#   [s: sender] eth0 ---- in0 [r: router] out0 ---- eth0 [m: MX host]
#   192.0.2.10/24          192.0.2.1   198.51.100.1/30    198.51.100.2, and on its lo:
#   2001:db8:1::10/64      2001:db8:1::1 2001:db8:2::1    203.0.113.10-15/32, 2001:db8:3::10
#
#   203.0.113.10  no listener: the MX kernel answers RST              refused / remote-refused
#   203.0.113.11  r (the first router) REJECT icmp-admin-prohibited  icmp-unreachable / path-icmp
#                 (owner sender-network: the router is the sender's own gateway)
#   203.0.113.12  m INPUT DROP                                       no-response / silent-drop
#   203.0.113.13  s OUTPUT REJECT (ICMP), MTA log line          not-on-wire / local-firewall
#   203.0.113.15  s OUTPUT REJECT tcp-reset, line in the ROTATED log   not-on-wire / local-firewall
#   203.0.113.14  an SMTP server (tests/live/smtp.py) greeting 220              connected / ok
#   2001:db8:3::10 no listener over IPv6                              refused / remote-refused
#
# Tests:
#   verdicts  capture -i eth0 -w FILE --mta-log LOG in the sender during all of the above:
#             the verdicts stream as attempts end (the not-on-wire ones before the capture
#             stops), match the expected ones, and equal `portmortem analyze` of the -w file
#             and the log; the MTA log is rotated mid-run and still followed (after the drop);
#             /proc/PID/status, read from outside while it runs, shows no root: Uid/Gid all
#             nobody, Groups without 0 (adm kept for the log), CapEff 0, NoNewPrivs 1.
#   sigint    capture -i eth0 -i lo --bundle DIR, SIGINT in the middle of an attempt: the
#             report ends with a complete summary object (exit status = its exit_status),
#             the bundle is complete (when bundles are built), the temporary pcap is gone.
#   rotation  -w with -C 1 -W 3: a ring of three files, each a valid capture under 1 MB.
#   nonroot   started as nobody: says so, fails to open the interface with a hint, exit 3.
#
# Every run is bounded: LIVE_LIMIT seconds (default 180) for the whole script, enforced by a
# separate watchdog process that also tears the namespaces down if this script is killed;
# each capture runs with --duration as a second bound. Output: one PASS/FAIL/SKIP line per
# check, then "live: N passed, N failed, N skipped"; exit 1 on any FAIL. Not root, or no
# network namespaces: SKIP with the reason, exit 0.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/live
PORTMORTEM=${PORTMORTEM:-$ROOT/portmortem}
LIMIT=${LIVE_LIMIT:-180}
PREFIX_BASE=pmlive

# ---------------------------------------------------------------------------------------------
# The watchdog: its own process, so it outlives a SIGKILLed run and still cleans up.
teardown() {  # teardown PREFIX: end every process in the run's namespaces, delete them
    local prefix=$1 n pid pids=()
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-" || true); do
        for pid in $(ip netns pids "$n" 2>/dev/null || true); do pids+=("$pid"); done
    done
    if [ "${#pids[@]}" -gt 0 ]; then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        sleep 0.3
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-" || true); do
        ip netns del "$n" 2>/dev/null || true
    done
}
if [ "${1:-}" = _watchdog ]; then
    owner=$2 prefix=$3 limit=$4 t=0
    while kill -0 "$owner" 2>/dev/null && [ "$t" -lt "$limit" ]; do sleep 1; t=$((t + 1)); done
    if kill -0 "$owner" 2>/dev/null; then
        echo "live watchdog: tests/live/run.sh exceeded ${limit}s, stopping it" >&2
        kill -TERM "$owner" 2>/dev/null || true
        for _ in $(seq 10); do kill -0 "$owner" 2>/dev/null || break; sleep 1; done
        kill -KILL "$owner" 2>/dev/null || true
    fi
    teardown "$prefix"
    exit 0
fi

KEEP=0
TESTS=()
while [ $# -gt 0 ]; do
    case $1 in
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,40s/^# \{0,1\}//p' "$0"; exit 0 ;;
        verdicts|sigint|rotation|nonroot) TESTS+=("$1"); shift ;;
        *) echo "tests/live/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "${#TESTS[@]}" -gt 0 ] || TESTS=(verdicts sigint rotation nonroot)

PASSED=0 FAILED=0 SKIPPED=0
result() {  # result PASS|FAIL|SKIP TEXT
    case $1 in
        PASS) PASSED=$((PASSED + 1)) ;;
        FAIL) FAILED=$((FAILED + 1)) ;;
        SKIP) SKIPPED=$((SKIPPED + 1)) ;;
    esac
    printf '%s live %s\n' "$1" "$2"
}
finish() {
    echo "live: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" = 0 ]
}

skip_reason() {
    [ "$(id -u)" = 0 ] || { echo "not root (the tests create network namespaces and capture)"; return; }
    local tool
    for tool in ip iptables ip6tables python3 jq timeout; do
        command -v "$tool" >/dev/null 2>&1 || { echo "$tool is not installed (.ci/setup installs it)"; return; }
    done
    [ -x "$PORTMORTEM" ] || { echo "no portmortem binary at $PORTMORTEM (make, or set PORTMORTEM)"; return; }
    id nobody >/dev/null 2>&1 || { echo "there is no user nobody to drop to"; return; }
    local probe="$PREFIX_BASE-probe$$"
    ip netns add "$probe" 2>/dev/null || { echo "cannot create a network namespace here (ip netns add failed)"; return; }
    ip netns del "$probe" 2>/dev/null || true
}
reason=$(skip_reason)
if [ -n "$reason" ]; then
    result SKIP "all: $reason"
    finish
    exit 0
fi

RUNID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
PREFIX=$PREFIX_BASE-$RUNID
NS_S=$PREFIX-s NS_R=$PREFIX-r NS_M=$PREFIX-m
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmlive-$RUNID.XXXXXX")
# The capture runs as nobody after start-up and reads back what it wrote: the directories
# on the way must be traversable.
chmod 755 "$WORK"
PIDS=()

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    teardown "$PREFIX"
    [ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
    if [ "$KEEP" = 1 ] || [ "$FAILED" -gt 0 ]; then
        echo "live: work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$HERE/run.sh" _watchdog $$ "$PREFIX" "$LIMIT" </dev/null >/dev/null 2>&1 &
WATCHDOG=$!

at() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# link A IFA B IFB: the veth pair is created inside A with its peer put straight into B, so the
# root namespace never holds either end.
link() {
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
    # veth leaves checksums to offload that never happens: off, so -w files carry valid ones.
    if command -v ethtool >/dev/null 2>&1; then
        at "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
        at "$3" ethtool -K "$4" tx off >/dev/null 2>&1 || true
    fi
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}

build() {
    local n
    for n in "$NS_S" "$NS_R" "$NS_M"; do
        ip netns add "$n"
        ip -n "$n" link set lo up
        at "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
            net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 >/dev/null
    done
    at "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
    # The sender's SYN schedule, as the lab sets it: SYNs at +0..4 s within a 5 s connect timer.
    at "$NS_S" sysctl -qw net.ipv4.tcp_syn_retries=3 >/dev/null
    at "$NS_S" sysctl -qw net.ipv4.tcp_syn_linear_timeouts=4 >/dev/null 2>&1 || true
    link "$NS_S" eth0 "$NS_R" in0
    link "$NS_R" out0 "$NS_M" eth0
    ip -n "$NS_S" addr add 192.0.2.10/24 dev eth0
    ip -n "$NS_S" addr add 2001:db8:1::10/64 dev eth0 nodad
    ip -n "$NS_R" addr add 192.0.2.1/24 dev in0
    ip -n "$NS_R" addr add 2001:db8:1::1/64 dev in0 nodad
    ip -n "$NS_R" addr add 198.51.100.1/30 dev out0
    ip -n "$NS_R" addr add 2001:db8:2::1/64 dev out0 nodad
    ip -n "$NS_M" addr add 198.51.100.2/30 dev eth0
    ip -n "$NS_M" addr add 2001:db8:2::2/64 dev eth0 nodad
    for n in 10 11 12 13 14 15; do ip -n "$NS_M" addr add "203.0.113.$n/32" dev lo; done
    ip -n "$NS_M" addr add 2001:db8:3::10/128 dev lo
    ip -n "$NS_S" route add default via 192.0.2.1
    ip -n "$NS_S" -6 route add default via 2001:db8:1::1
    ip -n "$NS_R" route add 203.0.113.0/24 via 198.51.100.2
    ip -n "$NS_R" -6 route add 2001:db8:3::/64 via 2001:db8:2::2
    ip -n "$NS_M" route add default via 198.51.100.1
    ip -n "$NS_M" -6 route add default via 2001:db8:2::1
    at "$NS_R" iptables -w -A FORWARD -d 203.0.113.11 -p tcp --dport 25 -j REJECT --reject-with icmp-admin-prohibited
    at "$NS_M" iptables -w -A INPUT -d 203.0.113.12 -p tcp --dport 25 -j DROP
    at "$NS_S" iptables -w -A OUTPUT -d 203.0.113.13 -p tcp --dport 25 -j REJECT
    at "$NS_S" iptables -w -A OUTPUT -d 203.0.113.15 -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    at "$NS_M" python3 "$HERE/smtp.py" server 203.0.113.14 25 </dev/null >/dev/null 2>&1 &
    PIDS+=("$!")
    local i
    for i in $(seq 50); do
        at "$NS_M" ss -Hltn 'sport = :25' 2>/dev/null | grep -q 203.0.113.14 && return 0
        sleep 0.1
    done
    echo "the test SMTP server did not start" >&2
    return 1
}

client() {  # client HOST [TIMEOUT] [BYTES]: one connection attempt from the sender
    at "$NS_S" timeout 20 python3 "$HERE/smtp.py" client "$1" 25 "${2:-5}" "${3:-0}" 2>&1 || true
}

# A Postfix smtp line as the MTA would log it (syslog time, local zone).
logline() {  # logline FILE HOST ADDR TEXT
    printf '%s sender postfix/smtp[%d]: connect to %s[%s]:25: %s\n' \
        "$(date '+%b %e %H:%M:%S')" "$((RANDOM + 1000))" "$2" "$3" "$4" >>"$1"
}

# start_capture DIR ARGS...: portmortem capture in the sender; sets CAP_PID. Waits until it
# listens and has dropped privileges (its stderr says so), bounded.
start_capture() {
    local dir=$1 i
    shift
    # `ip netns exec` execs portmortem in place: $! is portmortem's own pid.
    ip netns exec "$NS_S" "$PORTMORTEM" capture "$@" </dev/null >"$dir/stdout" 2>"$dir/stderr" &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    for i in $(seq 100); do
        grep -q 'dropped to\|not started as root' "$dir/stderr" 2>/dev/null && return 0
        kill -0 "$CAP_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "capture did not start: $(head -c 600 "$dir/stderr")" >&2
    return 1
}

stop_capture() {  # stop_capture SIGNAL: returns the exit status in CAP_RC
    local i
    kill "-$1" "$CAP_PID" 2>/dev/null || true
    for i in $(seq 100); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
    CAP_RC=0
    wait "$CAP_PID" || CAP_RC=$?
}

wait_for() {  # wait_for SECONDS FILE JQ-FILTER: until the JSONL file has a line it selects
    local t=$(( $1 * 10 )) i
    for i in $(seq "$t"); do
        [ -s "$2" ] && jq -e -s "$3" "$2" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# check_proc PID LABEL: the drop, seen from outside (issue 7: "checked from outside, in /proc").
check_proc() {
    local pid=$1 label=$2 st nobody_uid nobody_gid adm_gid
    st=$(cat "/proc/$pid/status" 2>/dev/null) || { result FAIL "$label: /proc/$pid/status unreadable"; return; }
    nobody_uid=$(id -u nobody) nobody_gid=$(id -g nobody)
    adm_gid=$(getent group adm | cut -d: -f3 || true)
    local uid gid groups capeff capprm nnp
    uid=$(awk '/^Uid:/{print $2,$3,$4,$5}' <<<"$st")
    gid=$(awk '/^Gid:/{print $2,$3,$4,$5}' <<<"$st")
    groups=$(awk '/^Groups:/{$1=""; print}' <<<"$st")
    capeff=$(awk '/^CapEff:/{print $2}' <<<"$st")
    capprm=$(awk '/^CapPrm:/{print $2}' <<<"$st")
    nnp=$(awk '/^NoNewPrivs:/{print $2}' <<<"$st")
    printf '  /proc/%s/status (%s): Uid %s | Gid %s | Groups%s | CapEff %s | CapPrm %s | CapBnd %s | NoNewPrivs %s\n' \
        "$pid" "$label" "$uid" "$gid" "$groups" "$capeff" "$capprm" \
        "$(awk '/^CapBnd:/{print $2}' <<<"$st")" "$nnp"
    [ "$uid" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] && result PASS "$label: Uid all $nobody_uid" ||
        result FAIL "$label: Uid is '$uid', want $nobody_uid everywhere"
    [ "$gid" = "$nobody_gid $nobody_gid $nobody_gid $nobody_gid" ] && result PASS "$label: Gid all $nobody_gid" ||
        result FAIL "$label: Gid is '$gid', want $nobody_gid everywhere"
    if grep -qw 0 <<<"$groups"; then result FAIL "$label: group 0 among the groups ($groups)"
    else result PASS "$label: no group 0 ($groups)"; fi
    if [ -n "$adm_gid" ] && [ -n "${3:-}" ]; then
        grep -qw "$adm_gid" <<<"$groups" && result PASS "$label: the log's group adm ($adm_gid) kept" ||
            result FAIL "$label: the log's group adm ($adm_gid) was not kept ($groups)"
    fi
    [ "$capeff" = 0000000000000000 ] && [ "$capprm" = 0000000000000000 ] &&
        result PASS "$label: CapEff and CapPrm 0" || result FAIL "$label: capabilities remain (CapEff $capeff, CapPrm $capprm)"
    [ "$nnp" = 1 ] && result PASS "$label: NoNewPrivs 1" || result FAIL "$label: NoNewPrivs is '$nnp'"
}

# The (dst, dport, outcome, verdict, owner) rows of a JSONL report, sorted, one a line.
rows() { jq -r 'select(.type == "attempt") | [.dst, (.dport|tostring), .outcome, .verdict, .owner] | join(" ")' "$1" | sort; }

# ---------------------------------------------------------------------------------------------
test_verdicts() {
    local d=$WORK/verdicts log
    mkdir -p "$d"
    chmod 755 "$d"
    log=$d/maillog
    # As Debian keeps /var/log/mail.log: root:adm 0640. nobody reads it only through adm.
    install -m 0640 -g adm /dev/null "$log"
    echo "$(date '+%b %e %H:%M:%S') sender postfix/master[1]: daemon started -- version 3.7.11" >>"$log"
    start_capture "$d" -i eth0 -w "$d/cap.pcap" --mta-log "$log" -f jsonl --duration 90 || {
        result FAIL "verdicts: capture did not start: $(head -c 400 "$d/stderr" | tr '\n' ' ')"; return; }
    check_proc "$CAP_PID" "drop (after start-up)" adm
    local t0 out
    t0=$(date +%s.%N)
    out=$(client 203.0.113.12 5); echo "  client 203.0.113.12 (silent drop): $out"
    out=$(client 203.0.113.10); echo "  client 203.0.113.10 (no listener): $out"
    out=$(client 203.0.113.11); echo "  client 203.0.113.11 (admin-prohibited): $out"
    out=$(client 203.0.113.13); echo "  client 203.0.113.13 (local REJECT): $out"
    logline "$log" mx13.example.net 203.0.113.13 "Connection refused"
    # logrotate's way: rename, create anew (root:adm 0640), the MTA writes to the new file.
    sleep 1.5
    mv "$log" "$log.1"
    install -m 0640 -g adm /dev/null "$log"
    sleep 1.5
    out=$(client 203.0.113.15); echo "  client 203.0.113.15 (local REJECT tcp-reset): $out"
    logline "$log" mx15.example.net 203.0.113.15 "Connection refused"
    out=$(client 2001:db8:3::10); echo "  client 2001:db8:3::10 (no listener, IPv6): $out"
    out=$(client 192.0.2.1); echo "  client 192.0.2.1 (the on-link router, no listener): $out"
    out=$(client 203.0.113.14); echo "  client 203.0.113.14 (SMTP server): $out"
    # Verdicts stream: the not-on-wire ones must be out before the capture is stopped (the
    # engine reports a logged attempt without SYN once its line is 10 s old).
    if wait_for 25 "$d/stdout" '[.[] | select(.type == "attempt" and .outcome == "not-on-wire")] | length >= 2'; then
        result PASS "verdicts: both not-on-wire attempts reported while the capture runs ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s after the first attempt)"
    else
        result FAIL "verdicts: the not-on-wire attempts were not streamed before the stop"
    fi
    check_proc "$CAP_PID" "drop (after the log rotation)" adm
    stop_capture INT
    [ "$CAP_RC" = 1 ] && result PASS "verdicts: exit status 1 (failures found) after SIGINT" ||
        result FAIL "verdicts: exit status $CAP_RC, want 1 (stderr: $(tail -c 300 "$d/stderr" | tr '\n' ' '))"
    tail -n 1 "$d/stdout" | jq -e '.type == "summary" and .schema == 1' >/dev/null &&
        result PASS "verdicts: the report ends with the summary" || result FAIL "verdicts: no summary at the end"
    jq -e -s '[.[] | select(.type == "summary")][0] | .capture_drops.dropped == 0 and (.privileges | test("^dropped to nobody"))' \
        "$d/stdout" >/dev/null && result PASS "verdicts: summary has capture_drops and the privilege drop" ||
        result FAIL "verdicts: summary lacks capture_drops.dropped 0 or privileges: $(tail -n1 "$d/stdout" | jq -c '{capture_drops, privileges}' 2>/dev/null)"
    local want got row
    # 2001:db8:3::10: a RST with no hop reference at all (no other packet from that host or
    # its /48) stays remote-refused, but its owner is unknown, not the recipient's postmaster
    # (docs/VERDICTS.md, "Grading a RST's origin", issue 14 item 3).
    want=$(cat <<'EOF'
192.0.2.1 25 refused remote-refused recipient-postmaster
2001:db8:3::10 25 refused remote-refused unknown
203.0.113.10 25 refused remote-refused recipient-postmaster
203.0.113.11 25 icmp-unreachable path-icmp sender-network
203.0.113.12 25 no-response silent-drop recipient-gateway
203.0.113.13 25 not-on-wire local-firewall sender-host
203.0.113.14 25 connected ok none
203.0.113.15 25 not-on-wire local-firewall sender-host
EOF
)
    got=$(rows "$d/stdout")
    while read -r row; do
        grep -qxF "$row" <<<"$got" && result PASS "verdicts: live $row" ||
            result FAIL "verdicts: live: want '$row'; got: $(grep "^${row%% *} " <<<"$got" | tr '\n' ';')"
    done <<<"$want"
    [ "$(wc -l <<<"$got")" = "$(wc -l <<<"$want")" ] && result PASS "verdicts: live: no other attempts" ||
        result FAIL "verdicts: live: $(wc -l <<<"$got") attempts, want $(wc -l <<<"$want"): $(tr '\n' ';' <<<"$got")"
    # The route lookup as destinations appear: 192.0.2.1 is on-link, a hop reference of 0
    # routers for its RST.
    jq -e -s '[.[] | select(.type == "attempt" and .dst == "192.0.2.1")][0].rst.expected_hops == 0' "$d/stdout" >/dev/null &&
        result PASS "verdicts: the on-link destination's RST is judged against 0 expected hops (route lookup)" ||
        result FAIL "verdicts: on-link 192.0.2.1: rst = $(jq -c -s '[.[] | select(.type == "attempt" and .dst == "192.0.2.1")][0].rst' "$d/stdout")"
    # The same traffic offline: the -w file and both halves of the rotated log.
    local off rc=0
    "$PORTMORTEM" analyze -f jsonl --mta-log "$log.1" --mta-log "$log" "eth0=$d/cap.pcap" \
        >"$d/offline.jsonl" 2>"$d/offline.err" || rc=$?
    off=$(rows "$d/offline.jsonl")
    if [ "$off" = "$got" ]; then
        result PASS "verdicts: offline analyze of the -w file gives the same $(wc -l <<<"$off") verdicts (exit $rc)"
    else
        result FAIL "verdicts: offline differs: $(diff <(echo "$got") <(echo "$off") | grep '^[<>]' | tr '\n' ';')"
    fi
}

# ---------------------------------------------------------------------------------------------
test_sigint() {
    local d=$WORK/sigint
    mkdir -p "$d/tmp"
    chmod 755 "$d"
    chmod 1777 "$d/tmp"  # like /tmp: the temporary pcap is removed by its owner, nobody
    TMPDIR=$d/tmp start_capture "$d" -i eth0 -i lo --bundle "$d/bundle" -f jsonl --duration 60 || {
        if grep -q 'bundle' "$d/stderr"; then
            result SKIP "sigint: --bundle refused here ($(head -n1 "$d/stderr")): testing without it"
            TMPDIR=$d/tmp start_capture "$d" -i eth0 -i lo -f jsonl --duration 60 || {
                result FAIL "sigint: capture did not start: $(head -c 400 "$d/stderr" | tr '\n' ' ')"; return; }
        else
            result FAIL "sigint: capture did not start: $(head -c 400 "$d/stderr" | tr '\n' ' ')"; return
        fi
    }
    local bundle=0
    tr '\0' ' ' <"/proc/$CAP_PID/cmdline" | grep -q -- '--bundle' && bundle=1
    check_proc "$CAP_PID" "drop (two interfaces)"
    client 203.0.113.10 >/dev/null
    # A silent drop in progress: SIGINT while its SYNs are still being retransmitted.
    client 203.0.113.12 5 >/dev/null &
    local cpid=$!
    sleep 2
    stop_capture INT
    wait "$cpid" 2>/dev/null || true
    local last status
    last=$(tail -n 1 "$d/stdout")
    if jq -e '.type == "summary" and .schema == 1 and (.exit_status|type) == "number" and .scope != null' <<<"$last" >/dev/null 2>&1; then
        result PASS "sigint: the report ends with a complete summary object"
    else
        result FAIL "sigint: last line is not a summary: $(head -c 200 <<<"$last")"
        return
    fi
    status=$(jq -r .exit_status <<<"$last")
    [ "$CAP_RC" = "$status" ] && result PASS "sigint: exit status $CAP_RC = the summary's exit_status" ||
        result FAIL "sigint: exit status $CAP_RC but the summary says $status"
    jq -e '[.inputs.interfaces[]] == ["eth0", "lo"] and ([.capture.vantages[].name] == ["eth0", "lo"])' <<<"$last" >/dev/null &&
        result PASS "sigint: two interfaces, two vantages (eth0, lo)" ||
        result FAIL "sigint: interfaces/vantages: $(jq -c '{i: .inputs.interfaces, v: [.capture.vantages[].name]}' <<<"$last")"
    jq -e -s '[.[] | select(.type == "attempt" and .dst == "203.0.113.10" and .outcome == "refused")] | length == 1' "$d/stdout" >/dev/null &&
        result PASS "sigint: the attempt finished before the signal is reported" ||
        result FAIL "sigint: no refused attempt to 203.0.113.10 in the report"
    jq -e -s '[.[] | select(.type == "attempt" and .dst == "203.0.113.12")] | length == 1' "$d/stdout" >/dev/null &&
        result PASS "sigint: the attempt cut by the signal is reported ($(jq -r -s '[.[] | select(.type == "attempt" and .dst == "203.0.113.12")][0].outcome' "$d/stdout"))" ||
        result FAIL "sigint: the attempt in progress at SIGINT is missing"
    grep -q 'stopping (SIGINT)' "$d/stderr" && result PASS "sigint: stderr says why it stopped" ||
        result FAIL "sigint: no 'stopping (SIGINT)' on stderr"
    if [ "$bundle" = 1 ]; then
        if [ -d "$d/bundle" ] && [ -s "$d/bundle/MANIFEST.sha256" ]; then
            result PASS "sigint: bundle complete ($(ls "$d/bundle" | wc -l) files, MANIFEST.sha256)"
            if "$PORTMORTEM" verify "$d/bundle" >/dev/null 2>&1; then
                result PASS "sigint: portmortem verify accepts the bundle"
            else
                result FAIL "sigint: portmortem verify rejects the bundle"
            fi
        else
            result FAIL "sigint: no complete bundle at $d/bundle"
        fi
    fi
    # Issue 16.5: the host context stays out of the bundle (it goes to third parties) unless
    # --bundle-host-context; it is kept beside it, for us, as DIR.host-context.txt (0600).
    if [ "$bundle" = 1 ]; then
        [ ! -e "$d/bundle/host-context.txt" ] && [ -f "$d/bundle.host-context.txt" ] &&
            [ "$(stat -c %a "$d/bundle.host-context.txt")" = 600 ] &&
            result PASS "sigint: host context kept beside the bundle (0600), not in it" ||
            result FAIL "sigint: host context not beside the bundle as bundle.host-context.txt"
    fi
    if [ "$bundle" = 1 ] && [ -f "$d/bundle.host-context.txt" ]; then
        local hc=$d/bundle.host-context.txt
        grep -q 'ipv4 default via 192.0.2.1 dev eth0' "$hc" && grep -q 'eth0 *192.0.2.10/24' "$hc" &&
            result PASS "sigint: host context has the addresses and the default route" ||
            result FAIL "sigint: host context lacks the address or default route"
        grep -q 'tcp dport 25 .*reject\|--dport 25 -j REJECT' "$hc" &&
            result PASS "sigint: host context has the sender's REJECT rules for port 25" ||
            result FAIL "sigint: host context lacks the firewall rules for port 25"
        grep -q '203.0.113.10 (first seen in eth0): via gateway 192.0.2.1' "$hc" &&
            result PASS "sigint: host context has the route to the destination as it appeared" ||
            result FAIL "sigint: host context lacks the per-destination route"
    fi
    [ -z "$(ls -A "$d/tmp")" ] && result PASS "sigint: the temporary pcap was removed" ||
        result FAIL "sigint: left in TMPDIR: $(ls "$d/tmp" | tr '\n' ' ')"
}

# ---------------------------------------------------------------------------------------------
test_rotation() {
    local d=$WORK/rotation f n=0 big=0
    mkdir -p "$d"
    chmod 755 "$d"
    start_capture "$d" -i eth0 -w "$d/cap.pcap" -C 1 -W 3 -f jsonl --duration 60 || {
        result FAIL "rotation: capture did not start: $(head -c 400 "$d/stderr" | tr '\n' ' ')"; return; }
    # About 6 MB over one SMTP connection: at snaplen 512, ~2.3 MB of capture, > 2 rotations.
    client 203.0.113.14 10 6000000 >/dev/null
    sleep 0.5
    stop_capture TERM
    for f in "$d"/cap.0.pcap "$d"/cap.1.pcap "$d"/cap.2.pcap; do
        [ -f "$f" ] || { result FAIL "rotation: $f missing"; continue; }
        n=$((n + 1))
        local size
        size=$(stat -c %s "$f")
        [ "$size" -gt 900000 ] && big=$((big + 1))
        [ "$size" -le 1000600 ] || result FAIL "rotation: $f is $size bytes, over -C 1 (1,000,000) by more than a packet"
        "$PORTMORTEM" analyze -f jsonl "$f" >/dev/null 2>&1 && [ "$(stat -c %U "$f")" = nobody ] || {
            local rc=$?; [ "$rc" = 1 ] || [ "$rc" = 0 ] || result FAIL "rotation: $f is not a readable capture (analyze exit $rc)"; }
    done
    [ "$n" = 3 ] && result PASS "rotation: -W 3 made cap.0.pcap cap.1.pcap cap.2.pcap" || true
    [ "$big" -ge 2 ] && result PASS "rotation: the ring wrapped: $big files near 1 MB, all readable" ||
        result FAIL "rotation: only $big files near 1 MB (sizes: $(stat -c '%n=%s' "$d"/cap.*.pcap | tr '\n' ' '))"
    [ ! -e "$d/cap.pcap" ] && result PASS "rotation: no unnumbered file beside the ring" || result FAIL "rotation: $d/cap.pcap exists"
    [ "$CAP_RC" = 0 ] && result PASS "rotation: SIGTERM ends the capture normally (exit 0: nothing failed)" ||
        result FAIL "rotation: exit $CAP_RC after SIGTERM, want 0"
}

# ---------------------------------------------------------------------------------------------
# Not root at start: it says so, and the capture fails with a hint (exit 3), cleanly.
test_nonroot() {
    local d=$WORK/nonroot rc=0
    mkdir -p "$d"
    command -v setpriv >/dev/null 2>&1 || { result SKIP "nonroot: setpriv (util-linux) not installed"; return; }
    # nobody may not reach the checkout (a clone under /root is mode 0700): run a copy.
    cp "$PORTMORTEM" "$d/portmortem" && chmod a+rx "$d" "$d/portmortem" "$WORK"
    at "$NS_S" timeout 20 setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
        --inh-caps=-all "$d/portmortem" capture -i eth0 --duration 1 -f jsonl \
        </dev/null >"$d/stdout" 2>"$d/stderr" || rc=$?
    [ "$rc" = 3 ] && result PASS "nonroot: exit 3 when the interface cannot be opened" ||
        result FAIL "nonroot: exit $rc, want 3 ($(head -c 300 "$d/stderr" | tr '\n' ' '))"
    grep -q 'not running as root' "$d/stderr" && grep -q 'permission denied' "$d/stderr" &&
        grep -q 'hint: run as root' "$d/stderr" &&
        result PASS "nonroot: says it is not root, what failed, and to run as root" ||
        result FAIL "nonroot: messages: $(head -c 400 "$d/stderr" | tr '\n' ' ')"
}

# ---------------------------------------------------------------------------------------------
T0=$(date +%s)
if ! build 2>"$WORK/build.err"; then
    result FAIL "topology: $(tr '\n' ' ' <"$WORK/build.err" | head -c 400)"
    finish
    exit 1
fi
for t in "${TESTS[@]}"; do "test_$t"; done
echo "live: done in $(( $(date +%s) - T0 )) s (namespaces $PREFIX-*)"
finish
