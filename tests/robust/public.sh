#!/usr/bin/env bash
# tests/robust/public.sh — `make check-public`: portmortem on the public captures in
# ../shared/pcaps-public/ (never copied into the repository; skipped when absent).
#
#   real/       exit 0 or 1, valid JSONL with its summary, the report's invariants
#               (tests/golden/invariants.jq: no verdict that contradicts its own evidence),
#               and, where SOURCES.md's description fixes an answer, that answer (table below)
#   malformed/  exit 0, 1, 3 or 4 — 3 and 4 with a message on standard error — never a crash
#               or a sanitizer report; attempts before the damage are still reported
#
#   tests/robust/public.sh PORTMORTEM
#
# PM_PUBLIC_DIR overrides the location (default ../shared/pcaps-public from the top of the
# tree). Known portmortem bugs are listed in tests/robust/public-xfail.txt (printed as XFAIL).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../golden/lib.sh
. "$root/tests/golden/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 PORTMORTEM" >&2; exit 2; }
pm=$1
pub=${PM_PUBLIC_DIR:-$root/../shared/pcaps-public}
if [ ! -d "$pub/real" ] && [ ! -d "$pub/malformed" ]; then
    echo "SKIP: ../shared/pcaps-public not found (public captures are not part of the repository)"
    exit 0
fi
command -v jq > /dev/null || { echo "check-public: jq is required" >&2; exit 2; }
san_env
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm-public.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$root/tests/out"
log="$root/tests/out/public-$(variant_of "$pm").log"
start=$(date +%s)

# FILE | PORTS | jq filter over $A (the attempts) and $rc, emitting one string per problem.
# Each row states what SOURCES.md says the packets hold. (Single quotes on purpose: the
# filters are jq, not shell.)
# shellcheck disable=SC2016
expect() {
    case $1 in
    zeek_smtp_one-sided_client-only.pcap) echo '25|
        (if ($A | length) == 0 then "no attempt reported for the client SYN" else empty end),
        ($A[] | select(.outcome == "no-response" or .verdict == "silent-drop")
              | "only the client direction was captured, yet \(.outcome)/\(.verdict)")' ;;
    zeek_smtp_ipv4_2sessions+https_icmp-fragneeded-midstream.pcap) echo '25|
        ([$A[] | select(.dport == 25)] as $s
         | (if ($s | length) != 2 then "expected 2 port-25 attempts, got \($s | length)" else empty end),
           ($s[] | select(.outcome != "connected")
                 | "\(.sport): \(.outcome)/\(.verdict): frag-needed mid-stream is not a rejection"))' ;;
    suricata_smtp_connected_no-banner_server-fin.pcap) echo '25|
        (if ([$A[] | .outcome] != ["closed-before-banner"]) then
           "expected one closed-before-banner attempt, got \([$A[] | .outcome])" else empty end)' ;;
    arkime_smtp_521-after-data.pcap) echo '587|rejected($A; 521)' ;;
    arkime_smtp_rcpt-553.pcap) echo '587|rejected($A; 553)' ;;
    arkime_submission587_421-after-data.pcap) echo '587|after_queued($A; 421)' ;;
    zeek_smtp_451_multi-rcpt.pcap) echo '25|after_queued($A; 451)' ;;
    suricata_smtp_pipelining_553_554_rejections.pcap) echo '25|rejected($A; 553), rejected($A; 554)' ;;
    suricata_smtp_4sessions_472_500_501.pcap) echo '25,465|
        ([$A[] | select(.dst == "197.26.11.151")] as $s
         | if ($s | length) != 1 then "expected the CommuniGate session, got \($s | length)"
           elif $s[0].outcome != "smtp-rejected" or ([$s[0].smtp[] | .code] | index(472)) == null
           then "CommuniGate 472: got \($s[0].outcome) \([$s[0].smtp[] | .code])" else empty end)' ;;
    suricata_smtp_single-syn_no-answer.pcap) echo '25|
        (if ([$A[] | .outcome] != ["incomplete"]) then
           "one SYN and the capture ends: expected incomplete, got \([$A[] | .outcome])" else empty end)' ;;
    ndpi_nmap-synscan_25-rst_465-587-no-answer.pcap) echo '25,465,587|
        (if ([$A[] | select(.dport == 25)] | length) == 0 then "no port-25 attempt" else empty end),
        ($A[] | select(.dport == 25 and .outcome != "refused") | "port 25 answered by RST-ACK: got \(.outcome)"),
        ($A[] | select(.dport != 25 and (.outcome | IN("no-response", "incomplete") | not))
              | "port \(.dport) never answered: got \(.outcome)")' ;;
    zeek_smtp_ipv6_google_banner220.pcap) echo '25|
        (if ([$A[] | [.family, .outcome, .banner.code]] != [["ipv6", "connected", 220]]) then
           "expected one IPv6 attempt connected with 220, got \([$A[] | [.family, .outcome, .banner.code]])"
         else empty end)' ;;
    ndpi_port465_client-tls-hello_server-plain-220.pcapng | suricata_port465_client-tls-first_plain-220.pcap) echo '465|
        # A TLS ClientHello answered by a plaintext 220 on 465 (implicit TLS, RFC 8314) is a
        # mode mismatch, not a working connection (issue 14 item 7).
        (if ([$A[] | [.outcome, .verdict, .banner.code]] != [["tls-mismatch", "tls-mismatch", 220]]) then
           "the server answered a plaintext 220 on 465: got \([$A[] | [.outcome, .verdict, .banner.code]])" else empty end)' ;;
    ndpi_emotet_smtp587_auth.pcap) echo '587|
        (if ([$A[] | select(.dport == 587) | [.outcome, .banner.code]] != [["connected", 220]]) then
           "one port-587 session with a 220: got \([$A[] | [.dport, .outcome]])" else empty end)' ;;
    zeek_pop3_syn-rst-retries_port110.pcap) echo '110|
        ([$A[] | select(.outcome == "refused")] as $r
         | (if ($r | length) != 2 then "expected 2 refused attempts, got \($r | length)" else empty end),
           ($r[] | select(.syns != 3) | "\(.dst): 3 SYNs with one ISN, got syns \(.syns)")),
        (if ([$A[] | select(.outcome == "connected")] | length) != 5 then
           "expected 5 connected sessions, got \([$A[] | .outcome])" else empty end)' ;;
    suricata_syn-retransmissions-no-answer_443_80.pcap) echo '443,80|
        (if ($A | length) != 26 then "expected 26 attempts, got \($A | length)" else empty end),
        ($A[] | select(.outcome | IN("refused", "icmp-unreachable", "ttl-exceeded"))
              | "no RST or ICMP in this capture, yet \(.outcome)"),
        (if ([$A[] | select(.reason == "syn-ack")] | length) != 13 then "expected 13 answered" else empty end)' ;;
    suricata_ipv6_icmp6-noroute-from-router_quoting-syn443.pcap) echo '443|
        (if ($A | length) == 0 then "no attempt" else empty end),
        ($A[] | select(.outcome != "icmp-unreachable" or .reason != "no-route" or .icmp.from != "2001:db8:1::3")
              | "ICMPv6 no-route from 2001:db8:1::3: got \(.outcome) \(.reason) \(.icmp.from)")' ;;
    ndpi_instagram_icmp-port-unreach-tcp443_syn-not-captured.pcap) echo '443|
        ([$A[] | select(.icmp != null)] as $i
         | (if ($i | length) == 0 then "the port-unreachables quoting SYNs were not linked" else empty end),
           ($i[] | select(.outcome != "icmp-unreachable" or .reason != "port-unreach" or .icmp.from != .src)
                 | "port unreachable from the host itself: got \(.outcome) \(.reason) from \(.icmp.from)"))' ;;
    ndpi_gnutella_icmp-host-unreach-from-gateway_8byte-tcp-quote.pcap) echo '45079,9010,14384,6523,4315|
        ([$A[] | select(.dport == 45079 or .dport == 9010)] as $i
         | (if ($i | length) == 0 then "host-unreachables not linked" else empty end),
           ($i[] | select(.outcome != "icmp-unreachable" or .reason != "host-unreach" or .icmp.from != "10.0.2.2")
                 | "\(.dport): host unreachable from 10.0.2.2: got \(.outcome) \(.reason) \(.icmp.from)"),
           ($i[] | select(.owner != "sender-network")
                 | "\(.dport): the ICMP came from 10.0.2.2, the first-hop gateway of the sender (hop \(.icmp.hop)): owner \(.owner), rule \(.rule)")),
        ($A[] | select(.dport == 14384 or .dport == 6523 or .dport == 4315) | select(.outcome != "refused")
              | "\(.dport): refused by RST-ACK, got \(.outcome)")' ;;
    zeek_nflog_http-handshake.pcap) echo '80|
        (if ([$A[] | [.outcome, .syns]] != [["connected", 1]]) then
           "one SYN logged at 3 netfilter hooks: expected connected with syns 1, got \([$A[] | [.outcome, .syns]])" else empty end)' ;;
    zeek_vlan-qinqinq_http-handshake.pcap) echo '80|
        (if ($A | length) != 1 then "one HTTP session inside three VLAN tags: got \($A | length) attempts" else empty end)' ;;
    pcapplusplus_linktype-raw-ipv6_syn.pcap) echo '80|
        (if ([$A[] | .outcome] != ["incomplete"]) then "a single SYN: got \([$A[] | .outcome])" else empty end)' ;;
    pcapplusplus_pcap-big-endian_nanosec_tcp-handshake.pcap) echo '8000|
        (if ([$A[] | .outcome] != ["connected"]) then "a complete session: got \([$A[] | .outcome])" else empty end)' ;;
    suricata_sll2_tcp-handshake.pcap | tcpdump_sll_nanosec-pcap_tcp-handshake.pcap) echo '80|
        (if ($A | length) != 1 then "one handshake: got \($A | length) attempts" else empty end),
        ($A[] | select(.outcome | IN("connected", "incomplete") | not) | "a handshake is no failure: \(.outcome)")' ;;
    pcapplusplus_pcapng_many-interfaces.pcapng) echo '443|
        (if ($A | length) != 2 then "two TLS handshakes: got \($A | length) attempts" else empty end)' ;;
    # malformed/
    suricata_smtp_truncated-file_garbage-record-header.pcap) echo '25|
        (if $rc != 4 then "a garbage record header: expected exit 4, got \($rc)" else empty end),
        (if ([$A[] | select(.dport == 25)] | length) == 0 then "the session before the damage was not reported" else empty end)' ;;
    suricata_trailing-partial-record-header.pcap) echo '80|
        (if $rc != 4 then "a partial trailing record: expected exit 4, got \($rc)" else empty end),
        (if ($A | length) == 0 then "the attempts before the damage were not reported" else empty end)' ;;
    ndpi_fuzz_nsec_snaplen0_record-cut.pcap | suricata_fuzz_huge-caplen_record-cut.pcap) echo '25|
        (if $rc != 4 then "a cut record: expected exit 4, got \($rc)" else empty end)' ;;
    pcapparser_not-a-capture_commview-like.bin) echo '25|
        (if $rc != 3 then "not a capture: expected exit 3, got \($rc)" else empty end)' ;;
    zeek_smtp25_syn-options-cut-by-snaplen.pcap) echo '25|
        (if ($A | length) != 1 then "a SYN cut by the snaplen is still a SYN: got \($A | length) attempts" else empty end),
        ($A[] | select(.outcome | IN("no-banner", "closed-before-banner"))
              | "every payload is cut (banner unknown), yet \(.outcome)")' ;;
    *) echo '25,465,587|empty' ;;
    esac
}

# shellcheck disable=SC2016
prelude='
include "invariants";
def codes: [.smtp[]? | .code];
def rejected($A; $c): ($A | map(select(.outcome == "smtp-rejected" and (codes | index($c)) != null)) | length) as $n
  | if $n == 0 then "expected an smtp-rejected attempt with reply \($c), got \([$A[] | [.outcome, codes]])" else empty end;
def after_queued($A; $c): $A[] | select((codes | index($c)) == null or (.outcome | IN("connected", "smtp-rejected") | not))
  | "a 250-queued message then \($c) at idle timeout: got \(.outcome) \(codes)";
'

: > "$tmp/results"
for kind in real malformed; do
    [ -d "$pub/$kind" ] || continue
    for f in "$pub/$kind"/*; do
        [ -f "$f" ] || continue
        name=$(basename "$f")
        spec=$(expect "$name")
        ports=${spec%%|*}
        filter=${spec#*|}
        rc=0
        "$pm" analyze --format jsonl --no-progress --ports "$ports" "$f" > "$tmp/out" 2> "$tmp/err" || rc=$?
        label="$kind/$name"
        problems=()
        if san_hit "$tmp/err"; then
            problems+=("sanitizer: $(grep -m1 -E 'Sanitizer|runtime error' "$tmp/err")")
        fi
        if [ "$kind" = real ]; then
            case $rc in 0|1) ;; *) problems+=("exit: $rc, expected 0 or 1 ($(head -c 200 "$tmp/err"))") ;; esac
        else
            case $rc in
                0|1) ;;
                3|4) grep -q 'portmortem' "$tmp/err" || problems+=("message: exit $rc without a message on stderr") ;;
                *) problems+=("exit: $rc, expected 0, 1, 3 or 4 ($(head -c 200 "$tmp/err"))") ;;
            esac
        fi
        if [ "$rc" != 3 ] && [ "$rc" -le 4 ]; then
            if ! jq -e . "$tmp/out" > /dev/null 2>&1; then
                problems+=("report: not valid JSON lines")
            else
                mapfile -t more < <(jq -n -r -L "$root/tests/golden" --argjson rc "$rc" --slurpfile out "$tmp/out" "
                    $prelude
                    [\$out[] | select(.type == \"attempt\")] as \$A
                    | (summary_violations(\$out) | \"summary: \(.)\"),
                      (violations(\$A) | \"invariants: \(.)\"),
                      ($filter | \"expected: \(.)\")" 2>&1 || echo "harness: jq failed")
                problems+=("${more[@]}")
            fi
        fi
        if [ ${#problems[@]} -eq 0 ]; then
            echo "PASS $label (exit $rc, $(jq -s '[.[] | select(.type == "attempt")] | length' "$tmp/out" 2>/dev/null || echo 0) attempts)" >> "$tmp/results"
        else
            for p in "${problems[@]}"; do
                [ -n "$p" ] && echo "FAIL $label $p" >> "$tmp/results"
            done
        fi
    done
done

# Two captures of the same pattern must get the same outcome: a message accepted (250
# queued), then the server's idle-timeout reply (421 in one, 451 in the other).
o1=$("$pm" analyze --format jsonl --no-progress --ports 587 "$pub/real/arkime_submission587_421-after-data.pcap" 2> /dev/null |
    jq -r 'select(.type == "attempt") | .outcome' || true)
o2=$("$pm" analyze --format jsonl --no-progress --ports 25 "$pub/real/zeek_smtp_451_multi-rcpt.pcap" 2> /dev/null |
    jq -r 'select(.type == "attempt") | .outcome' || true)
if [ -n "$o1" ] && [ "$o1" = "$o2" ]; then
    echo "PASS consistency 421/451 after a queued message both give $o1" >> "$tmp/results"
elif [ -n "$o1$o2" ]; then
    echo "FAIL consistency 421-vs-451: a queued message then an idle-timeout 4xx: 421 gives $o1, 451 gives $o2" >> "$tmp/results"
fi
cp "$tmp/results" "$log"

xfail_load "$here/public-xfail.txt"
declare -A xused=()
npass=0 nfail=0 nxfail=0
while IFS= read -r line; do
    case $line in
        PASS*) npass=$((npass + 1)); echo "$line" ;;
        FAIL*)
            hit=$(xfail_match "$line" || true)
            if [ -n "$hit" ]; then
                xused[$hit]=1
                nxfail=$((nxfail + 1))
                echo "XFAIL ${line#FAIL }"
            else
                nfail=$((nfail + 1))
                echo "$line"
            fi
            ;;
    esac
done < "$tmp/results"
for p in "${XPAT[@]}"; do
    [ -n "${xused[$p]:-}" ] || echo "XPASS '$p' matched nothing: remove it from tests/robust/public-xfail.txt"
done
echo "check-public: $npass captures passed, $nfail failures, $nxfail known (XFAIL), $(( $(date +%s) - start )) s; log in ${log#"$root"/}"
if [ "$nxfail" -gt 0 ]; then
    echo "check-public: !!! $nxfail findings are known portmortem bugs (tests/robust/public-xfail.txt) !!!"
fi
[ "$nfail" = 0 ]
