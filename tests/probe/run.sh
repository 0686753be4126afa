#!/usr/bin/env bash
# tests/probe/run.sh — `portmortem probe` (issue 8) against the lab's topology, as root.
#
#   tests/probe/run.sh [--keep] [TEST...]
#   tests: plain tls admin forged provider mxdrop natdrop v6 dns localfw mss dual compare
#          (default: all)
#
# The topology is the lab's own (lab/README.md: sender - nat - r1 - r2 - MX LAN with mx1, mx2
# and a dnsmasq serving example.net MX 10 mx1, MX 20 mx2), built by lab/lab.sh's functions:
# they are sourced (lab.sh runs its main only when executed) with LAB_PREFIX=pmprobe (so `lab.sh
# cleanup` never mistakes this run for a dead lab run).
# The firewall rules of each case are the lab scenarios' own (`SCN_PHASE=setup scn_NAME`),
# flushed between cases. mx1 gets a test certificate (generated here with openssl) for
# STARTTLS; mx2 offers no TLS.
#
#   plain     probe example.net -4 --compare-ports 587,465 --stale 203.0.113.30 --mta-log LOG,
#             with tcpdump on the sender's eth0: no raw packet — every TCP packet the sender
#             sends belongs to one of the connects the probe reports, nothing but DNS besides;
#             the stale addresses (from --stale and from the log) are flagged and get no SYN
#             other than a connect; STARTTLS against the system CA store fails verification;
#             mx1's port 465 (added here: smtpd_tls_wrappermode) talks implicit TLS
#   tls       probe example.net -4 --ttl-walk --compare-ports 587 --ca CERT (default rate):
#             the walk reaches both MX at TTL 4 (hops 192.0.2.1, 198.51.100.1, 198.51.100.6);
#             quotes match what was sent; the test SYN gets a SYN-ACK that our kernel resets;
#             mx1's certificate: subject CN=mx1.example.net, verified; mx2: STARTTLS not
#             offered; raw SYNs in -w are paced by --rate 3 (>= 0.3 s apart) and match the count
#   admin     r1 REJECT icmp-admin-prohibited: rejected at hop 2 by 198.51.100.1 (3/13); the
#             engine calls the port-25 attempts path-icmp
#   forged    r2 REJECT tcp-reset for the MX: the RST crosses 2 routers although the probe
#             needed TTL 4: forged at hop 3 = 198.51.100.6; the engine calls the port-25
#             attempts path-rst
#   provider  r1 DROP tcp/25: SYNs vanish after hop 2 (198.51.100.1); 587 connects, 25 does
#             not (port-25-blocked); the engine says provider-block
#   mxdrop    mx1 INPUT DROP tcp/25: SYNs to mx1 vanish after hop 3 (198.51.100.6); mx2 reached
#   natdrop   nat FORWARD DROP tcp/25, --max-probes 5: vanish after hop 1 (192.0.2.1); the cap
#             stops the second walk and is counted
#   v6        r1 ip6tables REJECT icmp6-adm-prohibited: rejected at hop 2 by 2001:db8:2::1
#             (ICMPv6 1/1), raw IPv6 SYNs through libnet
#   dns       against tests/probe/dnsd.py (a second address in the lab's dns namespace): a null
#             MX (exit 1, nothing sent even with --inject), NXDOMAIN (exit 1), no MX (the
#             implicit MX, asked over an IPv6 --resolver), a null MX next to a real one
#             (ignored with a note), SERVFAIL (exit 3), a compression loop (exit 3, malformed)
#   localfw   the sender's own OUTPUT DROP (lab scenario local-fw-drop): the connect's SYN never
#             reaches the wire, the engine says not-on-wire / local-firewall, and the raw SYN
#             is refused by the kernel (EPERM), which the walk reports
#   mss       the NAT clamps the MSS of forwarded SYNs (iptables TCPMSS): the quotes from hop 2 on
#             differ from the SYN sent (tcp.mss 1460 -> 1200), hop 1's does not: rewrite at hop 2
#   dual      both families at once with --source per family and --inject: four addresses,
#             raw IPv4 and IPv6 SYNs answered, every connect from its --source; --bundle works
#   compare   issue 14.6: mx1 resets 587: port 25 works, so the run is port-25-ok, no
#             destination failing, exit 0 (587 is evidence, never the diagnosis); then mx1 also
#             drops 25: 587's RST proves the host up, so port-25-blocked, not host-unreachable
# After each walk (admin, forged, provider) Next uses the walk's result, never "run --ttl-walk".
#
# Bounded: PROBE_LIMIT seconds (default 300) for the whole script, enforced by the lab's
# watchdog (its own process: it tears the namespaces down even if this script is SIGKILLed);
# each probe run also runs under timeout(1). Output: PASS/FAIL/SKIP per check, then
# "probe: N passed, N failed, N skipped"; exit 1 on any FAIL. Not root, no namespaces or a
# missing tool: SKIP with the reason, exit 0.
# shellcheck disable=SC2016  # jq programs and a sed replacement: $ is theirs, not the shell's
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORTMORTEM=${PORTMORTEM:-$ROOT/portmortem}
LIMIT=${PROBE_LIMIT:-300}
export LAB_TMP=${LAB_TMP:-/tmp}

KEEP=0
TESTS=()
ALL=(plain tls admin forged provider mxdrop natdrop v6 dns localfw mss dual compare)
while [ $# -gt 0 ]; do
    case $1 in
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,53s/^# \{0,1\}//p' "$0"; exit 0 ;;
        plain|tls|admin|forged|provider|mxdrop|natdrop|v6|dns|localfw|mss|dual|compare) TESTS+=("$1"); shift ;;
        *) echo "tests/probe/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "${#TESTS[@]}" -gt 0 ] || TESTS=("${ALL[@]}")

PASSED=0 FAILED=0 SKIPPED=0
result() {  # result PASS|FAIL|SKIP TEXT
    case $1 in
        PASS) PASSED=$((PASSED + 1)) ;;
        FAIL) FAILED=$((FAILED + 1)) ;;
        SKIP) SKIPPED=$((SKIPPED + 1)) ;;
    esac
    printf '%s probe %s\n' "$1" "$2"
}
finish() {
    echo "probe: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" = 0 ]
}

skip_reason() {
    [ "$(id -u)" = 0 ] || { echo "not root (the tests create network namespaces and capture)"; return; }
    local tool
    for tool in ip iptables ip6tables jq openssl tcpdump timeout dnsmasq postfix ethtool od python3; do
        command -v "$tool" >/dev/null 2>&1 || { echo "$tool is not installed (.ci/setup installs it)"; return; }
    done
    [ -x "$PORTMORTEM" ] || { echo "no portmortem binary at $PORTMORTEM (make, or set PORTMORTEM)"; return; }
    [ -f "$ROOT/lab/lab.sh" ] || { echo "lab/lab.sh is missing"; return; }
    id nobody >/dev/null 2>&1 || { echo "there is no user nobody to drop to"; return; }
    local n="pmprobe-check$$"
    ip netns add "$n" 2>/dev/null || { echo "cannot create a network namespace here"; return; }
    ip netns del "$n" 2>/dev/null || true
}
reason=$(skip_reason)
if [ -n "$reason" ]; then
    result SKIP "all: $reason"
    finish
    exit 0
fi

# ---------------------------------------------------------------------------------------------
# The lab's functions, with our own namespace prefix (LAB_PREFIX, exported: the lab's watchdog
# below is lab/lab.sh itself and must tear down pmprobe-<runid>-*, not pmlab-<runid>-*). Sourced,
# lab/lab.sh only defines its functions; it dispatches only when run as a command.
export LAB_PREFIX=pmprobe
RUNID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
STATE=$LAB_TMP/pmprobe-$RUNID
mkdir -m 755 "$STATE"
mkdir -p "$STATE/out"
# shellcheck source=lab/lab.sh
. "$ROOT/lab/lab.sh"
if [ "$LAB_PREFIX" != pmprobe ]; then
    rm -rf "$STATE"
    result FAIL "setup: lab/lab.sh ignored LAB_PREFIX (prefix '$LAB_PREFIX'): update tests/probe/run.sh"
    finish
    exit 1
fi
for f in build_topology write_resolvers start_dns start_mx wait_dns teardown_run capture stop_captures at ns write_owner; do
    if ! declare -F "$f" >/dev/null; then
        rm -rf "$STATE"
        result FAIL "setup: lab/lab.sh no longer defines $f: update tests/probe/run.sh"
        finish
        exit 1
    fi
done
write_owner "$STATE"  # pid and start time: `LAB_PREFIX=pmprobe lab/lab.sh cleanup` leaves us alone

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [ "${#CAP_PIDS[@]}" -gt 0 ] && stop_captures
    if [ "$KEEP" = 1 ]; then
        cp -r "$STATE/out" "$LAB_TMP/pmprobe-$RUNID-kept" 2>/dev/null
        echo "probe: kept the outputs in $LAB_TMP/pmprobe-$RUNID-kept" >&2
    fi
    teardown_run "$RUNID"
    [ -n "${WATCHDOG_PID:-}" ] && kill "$WATCHDOG_PID" 2>/dev/null
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$ROOT/lab/lab.sh" _watchdog "$RUNID" $$ "$LIMIT" </dev/null >/dev/null 2>&1 &
WATCHDOG_PID=$!

T0=$(date +%s)
OUTDIR=$STATE/out
SCENARIO=probe-tests
FAMILY=ipv4 MTA=postfix DESCRIPTION="" SYN_RETRIES=3 SYN_LINEAR=4
NAT_TARGET=(MASQUERADE)
RCPTS=() EXPECT=() SETUP=()
# shellcheck disable=SC2034  # read by the lab's start_mx through ${!name}
MX_PORTS_mx1="25 587" MX_PORTS_mx2="25 587"

# mx1's test certificate: self-signed, for its MX name.
CERT=$STATE/mx1-cert.pem KEY=$STATE/mx1-key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=mx1.example.net/O=portmortem probe test" \
    -addext "subjectAltName=DNS:mx1.example.net" -keyout "$KEY" -out "$CERT" 2>"$STATE/openssl.err" ||
    { result FAIL "setup: openssl could not make the test certificate: $(cat "$STATE/openssl.err")"; exit 1; }
chmod 644 "$CERT"
chmod 600 "$KEY"
# shellcheck disable=SC2034
PF_EXTRA_mx1=$(printf '%s\n' "smtpd_tls_security_level = may" "smtpd_tls_cert_file = $CERT" \
    "smtpd_tls_key_file = $KEY")
# shellcheck disable=SC2034
PF_EXTRA_mx2="" PF_EXTRA_sender=""

build_topology
write_resolvers
start_dns
start_mx mx1 "$MX14" "$MX16"
# The lab's minimal master.cf has no tlsmgr, without which smtpd refuses TLS ("no entropy for
# TLS key generation"): add it to mx1 and reload.
printf 'tlsmgr    unix  - - n 1000? 1 tlsmgr\n' >>"$STATE/pf-mx1/etc/master.cf"
# And port 465 with implicit TLS (RFC 8314), for the --compare-ports 465 check.
printf '465       inet  n - n - - smtpd -o smtpd_tls_wrappermode=yes\n' >>"$STATE/pf-mx1/etc/master.cf"
timeout 20 ip netns exec "$(ns mx1)" postfix -c "$STATE/pf-mx1/etc" reload >/dev/null 2>&1 ||
    { result FAIL "setup: postfix reload on mx1 failed"; exit 1; }
start_mx mx2 "$MX24" "$MX26"
wait_dns
echo "probe: lab topology $LAB_PREFIX-$RUNID up in $(( $(date +%s) - T0 )) s" >&2

# Undo a case's firewall rules (the filter tables only: the NAT's masquerade stays).
flush_rules() {
    local role
    for role in sender nat r1 r2 mx1 mx2; do
        at "$role" iptables -w -F
        at "$role" ip6tables -w -F
    done
}
# apply SCENARIO-FUNCTION: the lab scenario's own setup commands.
apply() { SCN_PHASE=setup "$1"; }

# run NAME ARGS...: portmortem probe in the sender namespace; JSONL in $OUTDIR/NAME.jsonl.
# An exit status of 2 or more is a FAIL unless RUN_RC says that status is the point.
run() {
    local name=$1 rc=0; shift
    timeout -k 5 150 ip netns exec "$(ns sender)" "$PORTMORTEM" probe -f jsonl "$@" \
        >"$OUTDIR/$name.jsonl" 2>"$OUTDIR/$name.err" || rc=$?
    echo "$rc" >"$OUTDIR/$name.rc"
    if [ "$rc" -ge 2 ] && [ "$rc" != "${RUN_RC:-}" ]; then
        result FAIL "$name: portmortem probe exited $rc: $(head -c 600 "$OUTDIR/$name.err")"
    fi
}
# The same in the text format (what a person at a terminal reads): $OUTDIR/NAME.txt.
run_text() {
    local name=$1 rc=0; shift
    timeout -k 5 150 ip netns exec "$(ns sender)" "$PORTMORTEM" probe -f text "$@" \
        >"$OUTDIR/$name.txt" 2>"$OUTDIR/$name.err" || rc=$?
    echo "$rc" >"$OUTDIR/$name.rc"
}
# rc_is NAME STATUS TEXT
rc_is() {
    local got
    got=$(cat "$OUTDIR/$1.rc")
    if [ "$got" = "$2" ]; then result PASS "$1: $3"; else result FAIL "$1: $3 (exit status $got, want $2)"; fi
}
# check NAME TEXT FILTER: the jq FILTER over the run's JSONL (slurped) must give true.
check() {
    local name=$1 text=$2 filter=$3
    if jq -e -s "$filter" "$OUTDIR/$name.jsonl" >/dev/null 2>"$OUTDIR/$name.jqerr"; then
        result PASS "$name: $text"
    else
        result FAIL "$name: $text"
        jq -c -s 'map(select(.type == "probe" and (.check == "walk" or .check == "syn" or .check == "ports")) | del(.hops)) | .[]' \
            "$OUTDIR/$name.jsonl" 2>/dev/null | head -c 3000 | sed 's/^/    /' >&2 || true
        jq -c -s 'map(select(.type == "attempt") | {dst, dport, outcome, verdict, owner}) | .[]' \
            "$OUTDIR/$name.jsonl" 2>/dev/null | head -c 2000 | sed 's/^/    /' >&2 || true
        sed 's/^/    stderr: /' "$OUTDIR/$name.err" | head -5 >&2
    fi
}
# jq helpers: the walk / smtp / attempts of one destination.
readonly JQ_DEFS='
def walk($d): map(select(.type == "probe" and .check == "walk" and .dst == $d))[0];
def smtp($d; $p): map(select(.type == "probe" and .check == "smtp" and .dst == $d and .dport == $p))[0];
def attempts($d; $p): map(select(.type == "attempt" and .dst == $d and .dport == $p));
def hopfrom($w; $t): ($w.hops[] | select(.ttl == $t) | .from);
'
# Two tries per TTL: routers rate-limit their ICMP (Linux: a burst of 6, then 1/s per peer), so a
# single probe per hop can meet silence that is not a drop.
WALKOPTS=(--ttl-walk --rate 10 --wait 1 --tries 2 --gap-limit 2 --connect-timeout 3 --smtp-timeout 5)

# ---------------------------------------------------------------------------------------------
t_plain() {
    flush_rules
    local log=$STATE/maillog
    printf '%s\n' \
        "Nov 28 10:00:01 sender postfix/smtp[4242]: 4AB12C0DEF: connect to mx2.example.net[203.0.113.31]:25: Connection timed out" \
        >"$log"
    chmod 644 "$log"
    capture sender eth0 "$OUTDIR/plain-wire.pcap"
    run plain example.net -4 --compare-ports 587,465 --stale 203.0.113.30 --mta-log "$log" \
        --resolver "$DNS4" --connect-timeout 5 --smtp-timeout 5
    stop_captures
    check plain "exit status 1 (the stale addresses do not connect) and a summary last" \
        '(last | .type == "summary")'
    check plain "no raw packet without --inject: no test SYN, no walk, nothing injected" \
        '(map(select(.type == "probe" and (.check == "syn" or .check == "walk"))) | length == 0)
         and (map(select(.type == "probe" and .check == "run"))[0] | .injected == 0)'
    check plain "--stale 203.0.113.30 is flagged as a stale cache" \
        'map(select(.type == "probe" and .check == "stale" and .addr == "203.0.113.30"))[0]
         | .origin == "--stale"'
    check plain "the MTA log's 203.0.113.31 for mx2.example.net is flagged, with its line" \
        'map(select(.type == "probe" and .check == "stale" and .addr == "203.0.113.31"))[0]
         | (.origin | endswith(":1")) and .name == "mx2.example.net"'
    check plain "DNS: MX 10 mx1, MX 20 mx2, their IPv4 addresses in order" \
        'map(select(.type == "probe" and .check == "dns"))[0]
         | [.mx[].name] == ["mx1.example.net", "mx2.example.net"]
           and ([.addresses[] | select(.stale | not) | .addr] == ["203.0.113.10", "203.0.113.20"])'
    check plain "STARTTLS on mx1 without --ca: handshake done, verification fails (self-signed)" \
        "$JQ_DEFS"' smtp("203.0.113.10"; 25) | .tls.handshake and .tls.verify == "failed"
         and (.tls.verify_text | test("self.signed"))'
    check plain "port 465 on mx1: implicit TLS first, then the greeting inside it" \
        "$JQ_DEFS"' smtp("203.0.113.10"; 465) | .result == "ok" and .tls.implicit
         and (.tls.subject | test("CN=mx1.example.net")) and .greeting.code == 220
         and .starttls == null and .quit_code == 221'
    check plain "port 465 on mx2 (no listener): refused, and 587 still connects" \
        "$JQ_DEFS"' (smtp("203.0.113.20"; 465) | .failed_step == "connect" and .errno_text == "Connection refused")
         and (smtp("203.0.113.20"; 587) | .result == "ok")'
    # The wire, as tcpdump saw it on the sender's interface during the run.
    local sports wire bad
    sports=$(jq -r -s 'map(select(.type == "probe" and .check == "smtp" and .sport != null) | .sport) | .[]' \
        "$OUTDIR/plain.jsonl" | sort -u | tr '\n' ' ')
    wire=$(tcpdump -nn -r "$OUTDIR/plain-wire.pcap" 'ip and src host 192.0.2.10' 2>/dev/null || true)
    # "HH:MM:SS.us IP 192.0.2.10.SPORT > DST.DPORT: ...": DNS (to port 53) or a reported connect.
    bad=$(printf '%s\n' "$wire" | awk -v ports="$sports" '
        BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) ok[p[i]] = 1 }
        NF == 0 { next }
        { ns = split($3, s, "."); sp = s[ns]; nd = split($5, d, "."); dp = d[nd]; sub(/:$/, "", dp)
          if (dp == "53") next
          if ($0 ~ / Flags \[/ && (sp in ok)) next
          print }')
    if [ -n "$sports" ] && [ -z "$bad" ] && printf '%s\n' "$wire" | grep -q 'Flags \[S\]'; then
        result PASS "plain: on the wire only DNS and the reported connects ($(printf '%s\n' "$wire" | grep -c 'Flags \[S\]') SYNs)"
    else
        result FAIL "plain: unexpected packets from the sender: $(printf '%s\n' "$bad" | head -3)"
    fi
    if printf '%s\n' "$wire" | grep -q '> 203\.0\.113\.3[01]\.25: Flags \[S\]'; then
        result PASS "plain: the stale addresses got a connect (and nothing else)"
    else
        result FAIL "plain: no connect SYN to the stale addresses seen"
    fi
}

t_tls() {
    flush_rules
    run tls example.net -4 --ttl-walk --compare-ports 587 --ca "$CERT" --resolver "$DNS4" \
        --wait 1 --tries 1 --connect-timeout 3 --smtp-timeout 5 -w "$OUTDIR/tls.pcap"
    rc_is tls 0 "exit status 0: nothing failed"
    check tls "walk to mx1 reaches it at TTL 4 through 192.0.2.1, 198.51.100.1, 198.51.100.6" \
        "$JQ_DEFS"' walk("203.0.113.10") as $w | $w.end == "reached" and $w.end_ttl == 4
         and $w.destination_hops == 3 and hopfrom($w; 1) == "192.0.2.1"
         and hopfrom($w; 2) == "198.51.100.1" and hopfrom($w; 3) == "198.51.100.6"
         and ($w.hops[3].self_rst == true)'
    check tls "walk to mx2 reaches it at TTL 4" \
        "$JQ_DEFS"' walk("203.0.113.20") | .end == "reached" and .end_ttl == 4'
    check tls "ICMP quotes match what was sent (Linux NAT restores them; no rewrite)" \
        "$JQ_DEFS"' [walk("203.0.113.10"), walk("203.0.113.20")]
         | all(.rewrite == null and ([.hops[] | select(.icmp) | .quote.diff | length] | add) == 0
               and ([.hops[] | select(.icmp) | .quote.partial] | any | not))'
    check tls "test SYN: SYN-ACK from mx1, reset by our own kernel (keyed ISN)" \
        'map(select(.type == "probe" and .check == "syn" and .dst == "203.0.113.10"))[0]
         | .answer == "syn-ack" and .self_rst == true and .reply_hops == 3'
    check tls "mx1 STARTTLS: subject CN=mx1.example.net, verified against mx1.example.net" \
        "$JQ_DEFS"' smtp("203.0.113.10"; 25) | .starttls.offered and .starttls.code == 220
         and (.tls.subject | test("CN=mx1.example.net")) and .tls.verify == "ok"
         and .tls.verified_name == "mx1.example.net" and (.tls.not_after | test("^20[0-9]{2}-"))
         and (.tls.protocol | startswith("TLS")) and .quit_code == 221'
    check tls "mx2: STARTTLS not offered, reported as a sign" \
        "$JQ_DEFS"' smtp("203.0.113.20"; 25) | (.starttls.offered | not)
         and (.signs | any(test("STARTTLS is not offered")))'
    check tls "the engine: every attempt connected/ok (the test SYN via our kernel's RST)" \
        'map(select(.type == "attempt")) | length >= 6 and all(.outcome == "connected" and .verdict == "ok")'
    check tls "walk packets stay out of the engine; the run counts them" \
        'map(select(.type == "probe" and .check == "run"))[0] | .walk_packets > 0 and .injected == 10'
    # Pacing: raw SYNs (those from the walks' fixed source ports) at --rate 3 (default).
    local ports gaps n min
    ports=$(jq -r -s 'map(select(.type == "probe" and .check == "walk") | .sport) | .[]' \
        "$OUTDIR/tls.jsonl" | tr '\n' ' ')
    gaps=$(tcpdump -tt -nn -r "$OUTDIR/tls.pcap" 'tcp[tcpflags] == tcp-syn and src host 192.0.2.10' 2>/dev/null |
        awk -v ports="$ports" 'BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) ok[p[i]] = 1 }
            { split($3, a, "."); if (!(a[5] in ok)) next; c++
              if (prev != "") { g = $1 - prev; if (min == "" || g < min) min = g } prev = $1 }
            END { printf "%d %s\n", c, (min == "" ? "none" : min) }')
    n=${gaps% *} min=${gaps#* }
    if [ "$n" = 10 ] && [ "$min" != none ] && awk -v m="$min" 'BEGIN { exit !(m >= 0.30) }'; then
        result PASS "tls: 10 raw SYNs in -w, at least ${min}s apart (--rate 3)"
    else
        result FAIL "tls: raw SYNs in -w: $n (want 10), smallest gap $min s (want >= 0.30)"
    fi
}

t_admin() {
    flush_rules
    apply scn_transit_admin_prohibited
    run admin example.net -4 "${WALKOPTS[@]}" --compare-ports 587 --resolver "$DNS4"
    check admin "walk to mx1: rejected at hop 2 by 198.51.100.1, ICMP 3/13" \
        "$JQ_DEFS"' walk("203.0.113.10") | .end == "rejected" and .reject.hop == 2
         and .reject.addr == "198.51.100.1" and .reject.icmp_type == 3 and .reject.icmp_code == 13
         and .end_ttl == 3'
    check admin "walk to mx2: the same router rejects" \
        "$JQ_DEFS"' walk("203.0.113.20") | .end == "rejected" and .reject.addr == "198.51.100.1"'
    check admin "the engine: port-25 attempts are icmp-unreachable / path-icmp from 198.51.100.1" \
        "$JQ_DEFS"' (attempts("203.0.113.10"; 25) + attempts("203.0.113.20"; 25)) as $a
         | ($a | length) >= 4 and ($a | all(.outcome == "icmp-unreachable" and .verdict == "path-icmp"
           and .icmp.from == "198.51.100.1"))'
    check admin "after the walk, Next names the rejecting hop, not 'run --ttl-walk'" \
        'map(select(.type == "summary"))[0].next_step
         | test("hop 2 \\(198\\.51\\.100\\.1\\) rejecting") and (test("--ttl-walk") | not)'
    check admin "587 still connects" \
        "$JQ_DEFS"' smtp("203.0.113.10"; 587) | .result == "ok"'
    run_text admin-text example.net -4 "${WALKOPTS[@]}" --resolver "$DNS4" --max-addrs 1
    if grep -q '=> rejected at hop 2 by 198.51.100.1 with ICMP' "$OUTDIR/admin-text.txt" &&
        grep -Eq '^ +3 +198\.51\.100\.1 .*admin-prohibited \(3/13\)' "$OUTDIR/admin-text.txt"; then
        result PASS "admin: the text report shows the walk and names the rejecting hop"
    else
        result FAIL "admin: the text report lacks the walk's verdict: $(head -c 800 "$OUTDIR/admin-text.txt")"
    fi
    [ "$KEEP" = 1 ] && sed 's/^/    | /' "$OUTDIR/admin-text.txt" >&2
    return 0
}

t_forged() {
    flush_rules
    apply scn_transit_forged_rst
    run forged example.net -4 "${WALKOPTS[@]}" --compare-ports 587 --resolver "$DNS4" \
        --bundle "$OUTDIR/forged-bundle"
    check forged "walk to mx1: RST from 2 routers at TTL 4: forged at hop 3 = 198.51.100.6" \
        "$JQ_DEFS"' walk("203.0.113.10") | .end == "forged-rst" and .end_ttl == 4
         and .forged_rst.hop == 3 and .forged_rst.addr == "198.51.100.6"
         and .forged_rst.rst_hops == 2 and .forged_rst.expected_hops == 3'
    [ "$KEEP" = 1 ] && run_text forged-text example.net -4 "${WALKOPTS[@]}" --resolver "$DNS4" \
        --max-addrs 1 --compare-ports 587 && sed 's/^/    | /' "$OUTDIR/forged-text.txt" >&2
    check forged "walk to mx2: forged as well" \
        "$JQ_DEFS"' walk("203.0.113.20") | .end == "forged-rst" and .forged_rst.hop == 3'
    check forged "after the walk, Next uses its result (hop 3 = 198.51.100.6), not 'run --ttl-walk'" \
        'map(select(.type == "summary"))[0].next_step
         | test("forged by hop 3 = 198\\.51\\.100\\.6") and (test("--ttl-walk") | not)'
    check forged "the conclusion cites the walk: blocked on the path, forged by hop 3" \
        'map(select(.type == "probe" and .check == "ports" and .dst == "203.0.113.10"))[0]
         | .verdict == "port-25-blocked" and (.text | test("the TTL walk: .*forged on the path by hop 3"))'
    check forged "the engine: port-25 attempts are refused / path-rst" \
        "$JQ_DEFS"' (attempts("203.0.113.10"; 25) + attempts("203.0.113.20"; 25)) as $a
         | ($a | length) >= 4 and ($a | all(.outcome == "refused" and .verdict == "path-rst"))'
    # --bundle without -w: the probe keeps a temporary capture for the bundle, then removes it.
    local n
    n=$(tcpdump -nn -r "$OUTDIR/forged-bundle/evidence.pcapng" 2>/dev/null | grep -c 'Flags \[R' || true)
    if [ "${n:-0}" -ge 2 ] && [ -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'portmortem-probe-*')" ]; then
        result PASS "forged: --bundle without -w: the bundle's evidence.pcapng holds the forged RSTs ($n), no temporary file left"
    else
        result FAIL "forged: bundle evidence.pcapng has $n RSTs; temporary files: $(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'portmortem-probe-*' | head -3)"
    fi
}

t_provider() {
    flush_rules
    apply scn_provider_block
    run provider example.net -4 "${WALKOPTS[@]}" --compare-ports 587 --resolver "$DNS4"
    check provider "walk: SYNs to port 25 vanish after hop 2 (198.51.100.1), both MX" \
        "$JQ_DEFS"' [walk("203.0.113.10"), walk("203.0.113.20")]
         | all(.end == "silent" and .silent_after.hop == 2 and .silent_after.addr == "198.51.100.1")'
    [ "$KEEP" = 1 ] && run_text provider-text example.net -4 "${WALKOPTS[@]}" --resolver "$DNS4" \
        --max-addrs 1 --compare-ports 587 && sed 's/^/    | /' "$OUTDIR/provider-text.txt" >&2
    check provider "ports: 587 connects, 25 does not: port-25-blocked, both MX" \
        'map(select(.type == "probe" and .check == "ports")) | length == 2
         and all(.verdict == "port-25-blocked" and .ports["587"] == "ok" and .ports["25"] == "no-connect")'
    check provider "the engine: port-25 attempts are no-response / provider-block" \
        "$JQ_DEFS"' (attempts("203.0.113.10"; 25) + attempts("203.0.113.20"; 25)) as $a
         | ($a | length) >= 4 and ($a | all(.outcome == "no-response" and .verdict == "provider-block"))'
    check provider "after the walk, Next names the hop SYNs vanish after, not 'run --ttl-walk'" \
        'map(select(.type == "summary"))[0].next_step
         | test("passing hop 2 \\(198\\.51\\.100\\.1\\)") and (test("--ttl-walk") | not)'
    check provider "the engine cites the walk's drop hop" \
        "$JQ_DEFS"' attempts("203.0.113.10"; 25) | any(.evidence | any(test("hop 2")))'
}

t_mxdrop() {
    flush_rules
    apply scn_mx_silent_drop
    run mxdrop example.net -4 "${WALKOPTS[@]}" --resolver "$DNS4"
    check mxdrop "walk to mx1: SYNs vanish after hop 3 (198.51.100.6, the MX LAN's router)" \
        "$JQ_DEFS"' walk("203.0.113.10") | .end == "silent" and .silent_after.hop == 3
         and .silent_after.addr == "198.51.100.6"'
    check mxdrop "walk to mx2: reached at TTL 4" \
        "$JQ_DEFS"' walk("203.0.113.20") | .end == "reached" and .end_ttl == 4'
    check mxdrop "the engine: mx1's port-25 attempts are no-response, mx2's connected" \
        "$JQ_DEFS"' (attempts("203.0.113.10"; 25) | length >= 2 and all(.outcome == "no-response"))
         and (attempts("203.0.113.20"; 25) | all(.outcome == "connected"))'
}

t_natdrop() {
    flush_rules
    apply scn_nat_drop
    run natdrop example.net -4 "${WALKOPTS[@]}" --max-probes 5 --resolver "$DNS4"
    check natdrop "walk to mx1: SYNs vanish after hop 1 (192.0.2.1, the sender's NAT)" \
        "$JQ_DEFS"' walk("203.0.113.10") | .end == "silent" and .silent_after.hop == 1
         and .silent_after.addr == "192.0.2.1"'
    check natdrop "--max-probes 5: the cap ends the second walk, and is counted" \
        "$JQ_DEFS"' (walk("203.0.113.20") | .end == "max-probes")
         and (map(select(.type == "probe" and .check == "run"))[0] | .injected == 5 and .cap_refused >= 1)'
}

t_v6() {
    flush_rules
    apply scn_v6_transit_admin_prohibited
    run v6 v6.example -6 "${WALKOPTS[@]}" --resolver "$DNS4"
    check v6 "walk to mx1 (IPv6): rejected at hop 2 by 2001:db8:2::1, ICMPv6 1/1" \
        "$JQ_DEFS"' walk("2001:db8:4::10") | .end == "rejected" and .reject.hop == 2
         and .reject.addr == "2001:db8:2::1" and .reject.icmp_type == 1 and .reject.icmp_code == 1
         and hopfrom(.; 1) == "2001:db8:1::1"'
    check v6 "the engine: port-25 attempts are path-icmp" \
        "$JQ_DEFS"' attempts("2001:db8:4::10"; 25) | length >= 2 and all(.verdict == "path-icmp")'
}

t_dns() {
    flush_rules
    ip -n "$(ns dns)" addr add 203.0.113.54/24 dev eth0
    ip -n "$(ns dns)" addr add 2001:db8:4::54/64 dev eth0 nodad
    ip netns exec "$(ns dns)" python3 "$ROOT/tests/probe/dnsd.py" 203.0.113.54 2001:db8:4::54 \
        </dev/null >"$STATE/dnsd.out" 2>&1 &
    local i
    for i in $(seq 50); do grep -q listening "$STATE/dnsd.out" 2>/dev/null && break; sleep 0.1; done
    local D=(-4 --resolver 203.0.113.54 --connect-timeout 3 --smtp-timeout 5)
    run nullmx nullmx.test "${D[@]}" --inject
    rc_is nullmx 1 "null MX: exit status 1"
    check nullmx "null MX (RFC 7505): said, and nothing probed (not even with --inject)" \
        '(map(select(.type == "probe" and .check == "dns"))[0] | .null_mx and (.addresses | length) == 0)
         and (map(select(.type == "probe" and (.check == "smtp" or .check == "syn"))) | length == 0)'
    run nx nx.test "${D[@]}"
    rc_is nx 1 "NXDOMAIN: exit status 1"
    check nx "NXDOMAIN: the domain does not exist, nothing probed" \
        '(map(select(.type == "probe" and .check == "dns"))[0] | .nxdomain)
         and (map(select(.type == "probe" and .check == "smtp")) | length == 0)'
    run nomx nomx.test -4 --resolver 2001:db8:4::54 --connect-timeout 3 --smtp-timeout 5
    check nomx "no MX: the domain's own A is the implicit MX (asked over an IPv6 --resolver)" \
        "$JQ_DEFS"' (map(select(.type == "probe" and .check == "dns"))[0]
         | .kind == "implicit-mx" and .resolver == "2001:db8:4::54"
           and [.addresses[].addr] == ["203.0.113.20"])
         and (smtp("203.0.113.20"; 25) | .result == "ok")'
    run mixed mixed.test "${D[@]}"
    check mixed "null MX next to a real MX: ignored with a note, the real one probed" \
        '(map(select(.type == "probe" and .check == "dns"))[0]
         | (.notes | any(test("null MX"))) and [.addresses[].addr] == ["203.0.113.20"])'
    RUN_RC=3 run fail fail.test "${D[@]}"
    rc_is fail 3 "SERVFAIL: exit status 3 (an MTA would defer), nothing probed"
    if grep -q 'MX lookup of fail.test through 203.0.113.54 failed' "$OUTDIR/fail.err"; then
        result PASS "fail: the message says which lookup failed, and where"
    else
        result FAIL "fail: message: $(cat "$OUTDIR/fail.err")"
    fi
    RUN_RC=3 run loop loop.test "${D[@]}"
    rc_is loop 3 "a compression loop in the MX answer: exit status 3"
    if grep -q 'malformed' "$OUTDIR/loop.err"; then
        result PASS "loop: reported as a malformed answer"
    else
        result FAIL "loop: message: $(cat "$OUTDIR/loop.err")"
    fi
}

t_localfw() {
    flush_rules
    apply scn_local_fw_drop
    run localfw example.net -4 --ttl-walk --tries 1 --wait 0.5 --max-ttl 3 --connect-timeout 3 \
        --resolver "$DNS4" --max-addrs 1
    check localfw "connect: its SYN never reached the wire (syn_on_wire false)" \
        "$JQ_DEFS"' smtp("203.0.113.10"; 25) | .failed_step == "connect" and .syn_on_wire == false'
    check localfw "the engine: not-on-wire / local-firewall for it" \
        "$JQ_DEFS"' attempts("203.0.113.10"; 25) | length >= 1
         and any(.outcome == "not-on-wire" and .verdict == "local-firewall")'
    check localfw "the walk says the local firewall refused the raw SYN itself" \
        "$JQ_DEFS"' walk("203.0.113.10") | .end == "error" and (.text | test("not permitted"))'
}

t_mss() {
    flush_rules
    # A middlebox rewrite for the quote diff: the NAT clamps the MSS of forwarded SYNs.
    at nat iptables -w -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200
    run mss example.net -4 --ttl-walk --tries 1 --wait 1 --rate 10 --resolver "$DNS4" --max-addrs 1
    at nat iptables -w -t mangle -F FORWARD
    check mss "the quote diff places the MSS rewrite between us and hop 2 (the NAT, hop 1, clamps)" \
        "$JQ_DEFS"' walk("203.0.113.10") | .rewrite.hop == 2
         and (.rewrite.fields | test("tcp.mss 1460 -> 1200"))
         and (.hops[0].quote.diff | length) == 0 and (.hops[1].quote.diff | any(test("tcp.mss")))'
}

t_dual() {
    flush_rules
    run dual example.net --inject --tries 1 --wait 1 --rate 10 --compare-ports 587 \
        --source 192.0.2.10 --source 2001:db8:1::10 --resolver "$DNS4" --bundle "$OUTDIR/dual-bundle"
    check dual "both families: 4 addresses, a test SYN-ACK from each (IPv4 and IPv6 raw SYNs)" \
        'map(select(.type == "probe" and .check == "syn" and .answer == "syn-ack" and .self_rst))
         | length == 4 and ([.[].dst] | sort) == ["2001:db8:4::10", "2001:db8:4::20", "203.0.113.10", "203.0.113.20"]'
    check dual "every connect from the given --source of its family, and ok" \
        'map(select(.type == "probe" and .check == "smtp")) | length == 8
         and all(.result == "ok" and (.src == "192.0.2.10" or .src == "2001:db8:1::10"))'
    check dual "the engine: 12 attempts, all connected" \
        'map(select(.type == "attempt")) | length == 12 and all(.outcome == "connected")'
    if [ -d "$OUTDIR/dual-bundle" ]; then
        result PASS "dual: --bundle wrote the engine's evidence bundle ($(find "$OUTDIR/dual-bundle" -type f | wc -l) files)"
    else
        result FAIL "dual: no bundle directory: $(head -c 400 "$OUTDIR/dual.err")"
    fi
}

# Issue 14.6 c: compared ports are evidence about the host, never the diagnosis.
t_compare() {
    flush_rules
    at mx1 iptables -w -A INPUT -p tcp --dport 587 -j REJECT --reject-with tcp-reset
    run compare-ok "$MX14" -4 --compare-ports 587 --connect-timeout 3 --smtp-timeout 5
    check compare-ok "port 25 works, 587 is refused: port-25-ok" \
        'map(select(.type == "probe" and .check == "ports")) | length == 1
         and .[0].verdict == "port-25-ok" and .[0].ports["587"] == "no-connect"'
    check compare-ok "the refused 587 takes over neither Scope nor Next: no destination failing" \
        'map(select(.type == "summary"))[0]
         | .scope == "none" and .destinations.failing == 0 and (.next_step | test("587") | not)'
    check compare-ok "the destination is port 25's: ok, the 587 attempt listed as evidence" \
        'map(select(.type == "destination" and .dst == "203.0.113.10"))[0]
         | .state == "ok" and (.line | test("1 more on compared ports"))'
    rc_is compare-ok 0 "exit status 0: the diagnosed port works, whatever 587 does"
    at mx1 iptables -w -I INPUT -p tcp --dport 25 -j DROP
    run compare-rst "$MX14" -4 --compare-ports 587 --connect-timeout 3 --smtp-timeout 5
    check compare-rst "25 silent, 587 answers with a RST: the host is up, TCP 25 blocked (not host-unreachable)" \
        'map(select(.type == "probe" and .check == "ports"))[0]
         | .verdict == "port-25-blocked" and (.text | test("port 587 answers"))
           and (.text | test("TCP 25 is blocked on the path or at the host"))
           and (.text | test("down") | not)'
    check compare-rst "Scope and the destination speak of port 25 (silent-drop), not of 587's RST" \
        'map(select(.type == "summary"))[0] as $s
         | map(select(.type == "destination" and .dst == "203.0.113.10"))[0] as $d
         | $s.scope == "one-destination" and ($s.scope_verdict | test("silent-drop"))
           and $d.state == "failing" and $d.verdict == "silent-drop"'
    rc_is compare-rst 1 "exit status 1: port 25 fails"
}

for t in "${TESTS[@]}"; do
    ts=$(date +%s)
    "t_$t"
    echo "probe: $t took $(( $(date +%s) - ts )) s" >&2
done
echo "probe: all done in $(( $(date +%s) - T0 )) s" >&2
finish
