#!/usr/bin/env bash
# tests/bundle/run.sh — the evidence bundle (--bundle DIR) and `portmortem verify`, end to end,
# on the lab recordings kept in pcaps/bundle/ (see its README.md):
#
#   - a bundle is written (exit 1: failures found), with no temporary directory left over;
#     `portmortem verify` and `sha256sum -c MANIFEST.sha256` pass; report.json carries the
#     same attempts as the run's own JSON Lines;
#   - the escalation text holds the six fields with the fixture's real values (source IP,
#     destination MX, destination IP, UTC time, result with the RST's TTL, trace);
#   - evidence.pcapng opens with tshark and tcpdump and holds the failing attempt's SYN and its
#     answer (RST, or the router's ICMP), each with a comment naming the attempt; context
#     packets of a successful attempt to the same destination when there is one;
#   - a signed bundle verifies with its public key (also with `openssl pkeyutl`) and fails
#     with another key; one changed byte in EACH file makes verify fail naming that file;
#     a missing and an extra file are named;
#   - a second run into the same DIR is refused (exit 2) and leaves DIR untouched;
#   - a full file system (tmpfs in a private mount namespace; root only, else SKIP) fails
#     cleanly (exit 3, "No space left on device") with nothing left behind;
#   - without root privileges (setpriv to nobody; root only, else SKIP) the same works,
#     the helper process then holding no privilege;
#   - verify with a FIFO planted as summary.txt, MANIFEST.sha256 or MANIFEST.sig does not
#     hang and says "not a regular file"; an analyze --bundle interrupted by SIGINT, SIGTERM
#     or SIGKILL, as root and as nobody, leaves no temporary directory (issue 19);
#   - hostile log text is sanitised in every file and HTML-escaped in report.html;
#   - a log with NUL bytes: mta-log.txt line N is the log's line N for every line the report
#     cites; a log whose lines match nothing gives a bundle that says so (no UBSan report);
#   - report.html renders in headless chromium: the DOM holds the SVG ladders and verdicts,
#     the screenshot is not blank and shows the diagrams' colours (skipped with --no-browser
#     or when chromium is absent).
#
# Usage: tests/bundle/run.sh [--no-browser] [--keep]
# Environment: PORTMORTEM  the binary to test (default ./portmortem in the repository root)
# Prints one PASS/FAIL/SKIP line per check and "bundle: N passed, N failed, N skipped";
# exits 1 on any FAIL.

# pass and fail always succeed, so "test && pass || fail" is an if-then-else here.
# shellcheck disable=SC2015
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORTMORTEM=${PORTMORTEM:-$ROOT/portmortem}
case $PORTMORTEM in /*) ;; *) PORTMORTEM=$ROOT/$PORTMORTEM ;; esac
FIX=$ROOT/pcaps/bundle
BROWSER=1
KEEP=0
while [ $# -gt 0 ]; do
    case $1 in
        --no-browser) BROWSER=0; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,30s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "tests/bundle/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

PASSED=0 FAILED=0 SKIPPED=0
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; }
skip() { SKIPPED=$((SKIPPED + 1)); printf 'SKIP %s\n' "$1"; }
# check NAME COMMAND...: PASS when the command succeeds
check() { local n=$1; shift; if "$@" >/dev/null 2>&1; then pass "$n"; else fail "$n"; fi; }

if [ ! -x "$PORTMORTEM" ]; then
    echo "tests/bundle/run.sh: $PORTMORTEM is not built (make first)" >&2
    exit 2
fi
if [ ! -d "$FIX/mx-no-listener" ]; then
    echo "tests/bundle/run.sh: fixtures missing: $FIX" >&2
    exit 2
fi
for tool in jq tshark sha256sum openssl python3; do
    command -v "$tool" >/dev/null || { echo "tests/bundle/run.sh: $tool is needed" >&2; exit 2; }
done

# Under ASan/UBSan a report must not hide behind exit 1 ("failures found"): give the
# sanitizers their own status, and look for their reports in every stderr at the end.
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=87:print_stacktrace=1}

WORK=$(mktemp -d /tmp/pm-bundle-test.XXXXXX)
chmod 755 "$WORK"
if [ "$KEEP" = 1 ]; then
    trap 'echo "kept: $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
START=$(date +%s)

# bundle SCENARIO DIR [options...]: analyze the scenario's captures into DIR; status in $RC
bundle() {
    local sc=$1 dir=$2
    shift 2
    local f=$FIX/$sc
    local caps=("sender=$f/sender.pcap")
    [ -f "$f/nat-outside.pcap" ] && caps+=("nat-outside=$f/nat-outside.pcap")
    "$PORTMORTEM" analyze --format jsonl --no-progress --mta-log "$f/maillog" --bundle "$dir" \
        "$@" "${caps[@]}" >"$dir.out" 2>"$dir.err"
    RC=$?
}

no_temp_left() { [ -z "$(find "$1" -maxdepth 1 -name '.*.tmp-*' -print -quit)" ]; }

# flip_byte FILE: change the byte in the middle of FILE
flip_byte() {
    python3 - "$1" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
i = len(b) // 2
b[i] = b[i] ^ 0x01 if b[i] ^ 0x01 != 0x0a else b[i] ^ 0x02
open(p, 'wb').write(bytes(b))
EOF
}

tshark_q() { tshark -n -r "$@" 2>/dev/null; }

# ---------------------------------------------------------------- the main bundle
B=$WORK/mx-no-listener
bundle mx-no-listener "$B"
if [ "$RC" = 1 ] && [ -d "$B" ]; then pass "bundle written (exit 1: failures found)"; else
    fail "bundle written (exit 1: failures found)" "exit $RC" "$(cat "$B.err")"; fi
check "no temporary directory left beside the bundle" no_temp_left "$WORK"
EXPECTED="MANIFEST.sha256 README.txt VERSION.txt escalation-203.0.113.10.txt evidence.pcapng mta-log.txt report.html report.json summary.txt"
GOT=$(cd "$B" 2>/dev/null && find . -mindepth 1 -printf '%f\n' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
if [ "$GOT" = "$EXPECTED" ]; then pass "bundle holds the expected files"; else
    fail "bundle holds the expected files" "got: $GOT" "want: $EXPECTED"; fi
OUT=$("$PORTMORTEM" verify "$B" 2>&1); VRC=$?
if [ $VRC = 0 ] && grep -q "OK, 8 files match" <<<"$OUT"; then pass "portmortem verify passes"; else
    fail "portmortem verify passes" "exit $VRC: $OUT"; fi
check "sha256sum -c MANIFEST.sha256 passes" sh -c "cd '$B' && sha256sum --quiet -c MANIFEST.sha256"
# report.json: the attempts and destinations the run itself printed, then one summary
if diff <(grep -E '"type":"(attempt|destination)"' "$B.out") \
        <(grep -E '"type":"(attempt|destination)"' "$B/report.json") >/dev/null &&
   [ "$(jq -r .type "$B/report.json" | tail -1)" = summary ]; then
    pass "report.json holds the run's attempts, destinations and summary"
else
    fail "report.json holds the run's attempts, destinations and summary"
fi

# ---------------------------------------------------------------- escalation: the six fields
ESC=$B/escalation-203.0.113.10.txt
ATT=$(jq -c 'select(.type == "attempt" and .dst == "203.0.113.10")' "$B/report.json" | head -1)
SRC=$(jq -r .src <<<"$ATT")
TS=$(jq -r .ts <<<"$ATT")
MX=$(jq -r .mta.host <<<"$ATT")
LOGLINE=$(jq -r .mta.line <<<"$ATT")
ID=$(jq -r .id <<<"$ATT")
RST_TTL=$(jq -r '.expect[] | select(.dst == "203.0.113.10") | .key.rst_ttl' "$FIX/mx-no-listener/truth.json")
SYNREF=$(jq -r '.evidence[] | select(test(": SYN "))' <<<"$ATT" | head -1 | cut -d: -f1)
esc_has() { grep -qF -- "$2" "$ESC" && pass "escalation: $1" || fail "escalation: $1" "missing: $2"; }
# The fixture has two vantage points: the public (post-NAT) source, as nat-outside saw the
# same SYN, comes first and is the one in the subject; the inside one second (issue 16.5).
PUB=$(jq -r 'select(.type == "attempt" and .dst == "203.0.113.10") | .translation.outside_src // empty' "$B/report.json" | head -1)
[ -n "$PUB" ] || PUB=198.51.100.2
esc_has "subject line: the public source" "Subject: Outbound SMTP from $PUB to 203.0.113.10:25 refused before SMTP banner"
esc_has "source IP: public first, inside second" "Source IP:       $PUB (public, after NAT: the address you see; as seen at nat-outside)
                 $SRC (inside our NAT, before translation; as seen at sender)"
if [ "$(grep -A1 '^Source IP:' "$ESC" | sed 's/^Source IP://' | awk '{print $1}' | tr '\n' ' ')" = "$PUB $SRC " ]; then
    pass "escalation: source lines in order (public, then inside)"
else fail "escalation: source lines in order (public, then inside)" "$(grep -A1 '^Source IP:' "$ESC")"; fi
# What is asked of the NOC must be checkable on their side: our public source, their logs
# at the UTC times, the address that answered; never a portmortem command or our next step.
ASK=$(sed -n '/^What we ask of you/,/^Attached/p' "$ESC")
if grep -qF "from $PUB" <<<"$ASK" && grep -q "times above (UTC)" <<<"$ASK" &&
   ! grep -qi "portmortem\|ttl-walk\|probe\|$SRC" <<<"$ASK" && ! grep -q "^Next step:" "$ESC"; then
    pass "escalation: requests name our public source and their logs, nothing only we can do"
else fail "escalation: requests name our public source and their logs, nothing only we can do" "$ASK"; fi
esc_has "destination MX" "Destination MX:  $MX"
esc_has "destination IP" "Destination IP:  203.0.113.10, TCP port 25"
esc_has "time in UTC" "Time (UTC):      $TS first failing attempt"
esc_has "result in the layer's words" "Result:          TCP port 25 refused before SMTP banner (RST from 203.0.113.10, TTL $RST_TTL, 3 hops; the MX is 3 hops away)"
esc_has "trace: the SYN" "  $SYNREF: SYN $SRC:"
esc_has "trace: the log line" "  maillog:$LOGLINE: mx1.example.net: connect to mx1.example.net[203.0.113.10]:25: Connection refused"
esc_has "verdict and owner" "Who must act:    recipient-postmaster"
esc_has "attachments" "  evidence.pcapng "
[ "$MX" = mx1.example.net ] && [ "$RST_TTL" = 61 ] && [ "$SRC" = 192.0.2.10 ] &&
    pass "escalation values are the fixture's (192.0.2.10, mx1.example.net, TTL 61)" ||
    fail "escalation values are the fixture's" "src=$SRC mx=$MX ttl=$RST_TTL"

# ---------------------------------------------------------------- escalation: --expect-source
# One vantage point (the sender only) and --expect-source: the configured public address is
# the one the provider sees, so it comes first and in the subject; the inside one second.
XS=$WORK/expect-source
"$PORTMORTEM" analyze --format jsonl --no-progress --expect-source 198.51.100.2 \
    --mta-log "$FIX/mx-no-listener/maillog" --bundle "$XS" "sender=$FIX/mx-no-listener/sender.pcap" \
    >"$XS.out" 2>"$XS.err"
XE=$XS/escalation-203.0.113.10.txt
if grep -q "^Subject: Outbound SMTP from 198.51.100.2 to 203.0.113.10:25" "$XE" 2>/dev/null &&
   [ "$(grep -A1 '^Source IP:' "$XE" | sed 's/^Source IP://' | awk '{print $1}' | tr '\n' ' ')" = "198.51.100.2 192.0.2.10 " ] &&
   grep -q "198.51.100.2 (public, after NAT: the address you see; as given with --expect-source)" "$XE"; then
    pass "escalation with --expect-source: the public address first, the inside one second"
else fail "escalation with --expect-source: the public address first, the inside one second" "$(head -12 "$XE" 2>&1)"; fi

# ---------------------------------------------------------------- evidence.pcapng
P=$B/evidence.pcapng
if tshark_q "$P" -c 1000 >/dev/null; then pass "evidence.pcapng opens with tshark"; else
    fail "evidence.pcapng opens with tshark"; fi
if command -v tcpdump >/dev/null; then
    check "evidence.pcapng opens with tcpdump" tcpdump -nr "$P"
fi
SYNC=$(tshark_q "$P" -Y "ip.src==$SRC && ip.dst==203.0.113.10 && tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport==25" -T fields -e frame.comment)
if grep -q "portmortem attempt #$ID: refused, verdict remote-refused" <<<"$SYNC"; then
    pass "evidence.pcapng: the failing SYN, commented with its attempt"
else fail "evidence.pcapng: the failing SYN, commented with its attempt" "$SYNC"; fi
RSTC=$(tshark_q "$P" -Y "ip.src==203.0.113.10 && ip.dst==$SRC && tcp.flags.reset==1 && ip.ttl==$RST_TTL" -T fields -e frame.comment)
if grep -q "portmortem attempt #$ID" <<<"$RSTC"; then pass "evidence.pcapng: the RST that answered it (TTL $RST_TTL)"; else
    fail "evidence.pcapng: the RST that answered it" "$RSTC"; fi
OTHER=$(tshark_q "$P" -Y "ip.addr==203.0.113.20" | wc -l)
[ "$OTHER" = 0 ] && pass "evidence.pcapng: nothing of the destination that worked" ||
    fail "evidence.pcapng: nothing of the destination that worked" "$OTHER packets"
NATC=$(tshark_q "$P" -Y "ip.src==198.51.100.2 && tcp.flags.syn==1" | wc -l)
[ "$NATC" -ge 1 ] && pass "evidence.pcapng: the same SYN outside the NAT" ||
    fail "evidence.pcapng: the same SYN outside the NAT"

# ---------------------------------------------------------------- the other files
LINE=$(sed -n "${LOGLINE}p" "$FIX/mx-no-listener/maillog")
grep -qxF "maillog:$LOGLINE: $LINE" "$B/mta-log.txt" && pass "mta-log.txt: the matched line, as FILE:LINE: TEXT" ||
    fail "mta-log.txt: the matched line" "want: maillog:$LOGLINE: $LINE"
grep -q "^portmortem [0-9]" "$B/VERSION.txt" && grep -q "^command: [^ ]*portmortem analyze .*--bundle $B" "$B/VERSION.txt" &&
    pass "VERSION.txt: version and command line" || fail "VERSION.txt: version and command line"
grep -q "^Scope: one destination failing" "$B/summary.txt" && ! grep -q $'\033' "$B/summary.txt" &&
    pass "summary.txt: the text report without colours" || fail "summary.txt: the text report without colours"

# ---------------------------------------------------------------- --redact (issue 16.5)
# in_any DIR ADDR: is ADDR in any file of DIR, as text or as its raw bytes (the pcap)?
in_any() {
    python3 - "$1" "$2" <<'EOF'
import ipaddress, os, sys
d, a = sys.argv[1], sys.argv[2]
ip = ipaddress.ip_address(a)
forms = [a.encode(), ip.packed]
if ip.version == 6:
    forms += [ip.exploded.encode(), a.replace(':', '-').encode()]
hits = [f for f in sorted(os.listdir(d)) if any(x in open(os.path.join(d, f), 'rb').read() for x in forms)]
print(' '.join(hits))
sys.exit(0 if hits else 1)
EOF
}
# verdicts FILE: the attempts' outcome/verdict/owner when FILE is analysed again, sorted
verdicts() { "$PORTMORTEM" analyze --format jsonl --no-progress "$1" 2>/dev/null |
    jq -c 'select(.type == "attempt") | [.outcome, .verdict, .owner]' | sort | tr '\n' ' '; }
# redact_checks NAME PLAIN REDACTED INSIDE...: the checks every redacted bundle must pass
redact_checks() {
    local n=$1 plain=$2 red=$3 a left="" hits
    shift 3
    for a in "$@"; do
        in_any "$plain" "$a" >/dev/null || { fail "$n: the plain bundle holds $a (the check can fail)"; return; }
        hits=$(in_any "$red" "$a") && left="$left $a in: $hits;"
    done
    if [ -z "$left" ]; then pass "$n: no inside address ($*) in any file, as text or raw bytes"; else
        fail "$n: no inside address in any file, as text or raw bytes" "$left"; fi
    OUT=$("$PORTMORTEM" verify "$red" 2>&1) && (cd "$red" && sha256sum --quiet -c MANIFEST.sha256) >/dev/null 2>&1 &&
        pass "$n: verify and sha256sum -c pass (manifest computed after redaction)" ||
        fail "$n: verify and sha256sum -c pass" "$OUT"
    local v0 v1
    v0=$(verdicts "$plain/evidence.pcapng"); v1=$(verdicts "$red/evidence.pcapng")
    if [ -n "$v1" ] && [ "$v0" = "$v1" ]; then pass "$n: the redacted slice analysed again gives the same verdicts ($v1)"; else
        fail "$n: the redacted slice analysed again gives the same verdicts" "plain: $v0" "redacted: $v1"; fi
    local bad
    bad=$(tshark_q "$red/evidence.pcapng" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
        -T fields -e ip.checksum.status -e tcp.checksum.status |
        tr '\t,' '\n\n' | grep -c '^0$')
    [ "$bad" = 0 ] && [ -n "$(tshark_q "$red/evidence.pcapng" -c 1)" ] &&
        pass "$n: the redacted slice parses, every IP and TCP checksum good (inner ones too)" ||
        fail "$n: the redacted slice parses, every IP and TCP checksum good" "$bad bad"
    grep -q "198.18.0.N (RFC 2544" "$red/README.txt" && pass "$n: README.txt says how addresses were replaced" ||
        fail "$n: README.txt says how addresses were replaced"
}
# Two vantage points (the NAT fixture): the inside source is the sender's, the public one stays.
RA=$WORK/redact-nat
bundle mx-no-listener "$RA" --redact
INSIDE=$(jq -r 'select(.type == "attempt") | .translation.inside_src // empty' "$B/report.json" | sort -u)
[ -n "$INSIDE" ] || INSIDE=192.0.2.10
# shellcheck disable=SC2086
redact_checks "redact (NAT, two vantage points)" "$B" "$RA" $INSIDE
grep -q "^Subject: Outbound SMTP from $PUB to 203.0.113.10:25" "$RA/escalation-203.0.113.10.txt" &&
    grep -q "^                 198.18.0.1 (inside our NAT" "$RA/escalation-203.0.113.10.txt" &&
    pass "redact (NAT): the public source stays, the inside one is its placeholder" ||
    fail "redact (NAT): the public source stays, the inside one is its placeholder" "$(head -11 "$RA/escalation-203.0.113.10.txt")"
# Consistent: every file names the inside source by the same placeholder, and only that one.
PH=$(cd "$RA" && grep -ohE '198\.1[89]\.[0-9]+\.[0-9]+' -- *.txt *.json *.html | sort -u | tr '\n' ' ')
[ "$PH" = "198.18.0.1 " ] && [ "$(grep -l 198.18.0.1 "$RA"/*.json "$RA"/*.html "$RA"/escalation-* | wc -l)" -ge 3 ] &&
    pass "redact (NAT): one placeholder for the inside source, in report.json, report.html and the escalation text" ||
    fail "redact (NAT): one placeholder for the inside source in every file" "placeholders: $PH"
# Host names: the MTA log's syslog host field (ours) and this machine's name are gone.
LOGHOST=$(awk 'NR==1 {print $4}' "$FIX/mx-no-listener/maillog")
if grep -q "[0-9] $LOGHOST postfix" "$B/mta-log.txt" && ! grep -q "[0-9] $LOGHOST postfix" "$RA/mta-log.txt" &&
   grep -q "[0-9] redacted-host-[0-9]* postfix" "$RA/mta-log.txt"; then
    pass "redact: the log lines' host field ($LOGHOST) replaced by a redacted-host-N placeholder"
else fail "redact: the log lines' host field replaced" "$(grep -m2 postfix "$RA/mta-log.txt")"; fi
HN=$(hostname)
if [ "${#HN}" -ge 3 ] && grep -lw -- "$HN" "$RA"/*.txt "$RA"/*.json "$RA"/*.html >/dev/null 2>&1; then
    fail "redact: this host's name ($HN) in no text file" "$(grep -lw -- "$HN" "$RA"/*.txt "$RA"/*.json "$RA"/*.html)"
else pass "redact: this host's name in no text file"; fi
# --expect-source and an ICMP answer from a router: the quoted IP header inside the
# ICMP error is rewritten too (its checksum and the ICMP checksum adjusted).
RP=$WORK/redact-icmp-plain RI=$WORK/redact-icmp
bundle transit-admin-prohibited "$RP" --expect-source 198.51.100.2
bundle transit-admin-prohibited "$RI" --expect-source 198.51.100.2 --redact
redact_checks "redact (ICMP, --expect-source)" "$RP" "$RI" 192.0.2.10
Q=$(tshark_q "$RI/evidence.pcapng" -Y "icmp && ip.dst == 198.18.0.1" -T fields -e ip.src -e ip.dst -e icmp.checksum.status | head -1)
grep -q "198.18.0.1,203.0.113" <<<"$Q" && ! grep -q "192.0.2.10" <<<"$Q" && grep -qP '\t1$' <<<"$Q" &&
    pass "redact (ICMP): the quoted header rewritten, the ICMP checksum good ($Q)" ||
    fail "redact (ICMP): the quoted header rewritten, the ICMP checksum good" "$Q"

# ---------------------------------------------------------------- refusal of an existing DIR
snap() { (cd "$1" && LC_ALL=C ls -la --time-style=full-iso && sha256sum -- *) 2>&1; }
BEFORE=$(snap "$B")
bundle mx-silent-drop "$B"
if [ "$RC" = 2 ] && grep -q "already exists" "$B.err"; then pass "a second run into the same DIR is refused (exit 2)"; else
    fail "a second run into the same DIR is refused (exit 2)" "exit $RC" "$(cat "$B.err")"; fi
[ "$BEFORE" = "$(snap "$B")" ] && pass "the existing DIR is untouched" || fail "the existing DIR is untouched"
check "no temporary directory left after the refusal" no_temp_left "$WORK"

# ---------------------------------------------------------------- signatures and tampering
openssl genpkey -algorithm ed25519 -out "$WORK/key.pem" 2>/dev/null
openssl pkey -in "$WORK/key.pem" -pubout -out "$WORK/pub.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$WORK/key2.pem" 2>/dev/null
openssl pkey -in "$WORK/key2.pem" -pubout -out "$WORK/pub2.pem" 2>/dev/null
S=$WORK/signed
bundle mx-no-listener "$S" --sign-key "$WORK/key.pem"
if [ "$RC" = 1 ] && [ -f "$S/MANIFEST.sig" ]; then pass "signed bundle written"; else
    fail "signed bundle written" "exit $RC" "$(cat "$S.err")"; fi
OUT=$("$PORTMORTEM" verify "$S" --verify-key "$WORK/pub.pem" 2>&1); VRC=$?
[ $VRC = 0 ] && grep -q "signature good" <<<"$OUT" && pass "signed bundle verifies with its public key" ||
    fail "signed bundle verifies with its public key" "exit $VRC: $OUT"
OUT=$("$PORTMORTEM" verify "$S" --verify-key "$WORK/pub2.pem" 2>&1); VRC=$?
[ $VRC = 1 ] && grep -q "^MANIFEST.sig: the signature does not verify" <<<"$OUT" &&
    pass "signed bundle fails with another key (exit 1, names MANIFEST.sig)" ||
    fail "signed bundle fails with another key" "exit $VRC: $OUT"
base64 -d "$S/MANIFEST.sig" >"$WORK/sig.bin" 2>/dev/null
if openssl pkeyutl -verify -pubin -inkey "$WORK/pub.pem" -rawin -in "$S/MANIFEST.sha256" \
        -sigfile "$WORK/sig.bin" 2>&1 | grep -q "Signature Verified Successfully"; then
    pass "openssl pkeyutl verifies MANIFEST.sig (base64 Ed25519 over MANIFEST.sha256)"
else
    fail "openssl pkeyutl verifies MANIFEST.sig"
fi
NFILES=0
for f in "$S"/*; do
    name=$(basename "$f")
    T=$WORK/tamper
    rm -rf "$T"
    cp -a "$S" "$T"
    flip_byte "$T/$name"
    OUT=$("$PORTMORTEM" verify "$T" --verify-key "$WORK/pub.pem" 2>&1); VRC=$?
    # a changed manifest shows as a signature that no longer verifies over it, and as hashes
    # that differ from it: every problem line names it; any other file starts its line
    if [ "$name" = MANIFEST.sha256 ]; then pat="MANIFEST\.sha256"; else pat="^$name: "; fi
    if [ $VRC = 1 ] && grep -q "$pat" <<<"$(sed '$d' <<<"$OUT")"; then
        NFILES=$((NFILES + 1))
    else
        fail "one changed byte in $name makes verify fail naming it" "exit $VRC: $OUT"
    fi
done
[ "$NFILES" = "$(find "$S" -mindepth 1 | wc -l)" ] && pass "one changed byte in each of the $NFILES files: verify fails naming that file"
T=$WORK/tamper
rm -rf "$T"; cp -a "$S" "$T"; rm "$T/mta-log.txt"; echo extra >"$T/notes.txt"
OUT=$("$PORTMORTEM" verify "$T" 2>&1); VRC=$?
[ $VRC = 1 ] && grep -q "^mta-log.txt: missing" <<<"$OUT" && grep -q "^notes.txt: not in the manifest" <<<"$OUT" &&
    pass "verify names a missing and an extra file" || fail "verify names a missing and an extra file" "$OUT"
# FIFOs planted under a bundle's names (issue 19): verify used to block in open(2) forever.
for name in summary.txt MANIFEST.sha256 MANIFEST.sig; do
    T=$WORK/fifo
    rm -rf "$T"; cp -a "$S" "$T"; rm -f "$T/$name"; mkfifo "$T/$name"
    OUT=$(timeout -k 2 20 "$PORTMORTEM" verify "$T" --verify-key "$WORK/pub.pem" 2>&1); VRC=$?
    case $name in
        MANIFEST.sha256) want=3 ;;  # nothing can be checked without the manifest
        *) want=1 ;;
    esac
    [ "$VRC" = "$want" ] && grep -q "$name: not a regular file" <<<"$OUT" &&
        pass "verify with $name a FIFO: no hang, exit $want, '$name: not a regular file'" ||
        fail "verify with $name a FIFO" "exit $VRC (124: it hung): $OUT"
done
rm -rf "$WORK/fifo"
"$PORTMORTEM" verify >/dev/null 2>&1; [ $? = 2 ] && pass "verify without DIR: usage error (exit 2)" || fail "verify without DIR: exit 2"
"$PORTMORTEM" verify "$WORK/nonexistent" >/dev/null 2>&1; [ $? = 3 ] && pass "verify of a missing DIR: exit 3" || fail "verify of a missing DIR: exit 3"
"$PORTMORTEM" verify --help | grep -q "exit status" && pass "verify --help documents the exit status" || fail "verify --help"
bundle mx-no-listener "$WORK/badkey" --sign-key "$WORK/pub.pem"
[ "$RC" = 2 ] && [ ! -e "$WORK/badkey" ] && no_temp_left "$WORK" &&
    pass "a public key given as --sign-key: exit 2, no bundle" || fail "bad --sign-key" "exit $RC"

# ---------------------------------------------------------------- other scenarios
R=$WORK/router
bundle transit-admin-prohibited "$R"
[ "$RC" = 1 ] && "$PORTMORTEM" verify "$R" >/dev/null 2>&1 && pass "router scenario: bundle verifies" ||
    fail "router scenario: bundle verifies" "exit $RC"
grep -q "^Result:          TCP SYN to port 25 answered by ICMP .* from 198.51.100.1 (hop 2)" "$R/escalation-203.0.113.10.txt" &&
    pass "router scenario: result names the ICMP and its hop" || fail "router scenario: result names the ICMP and its hop"
N=$(tshark_q "$R/evidence.pcapng" -Y "ip.src==198.51.100.1 && icmp.type==3 && icmp.code==13" -T fields -e frame.comment | grep -c "portmortem attempt #")
[ "$N" -ge 2 ] && pass "router scenario: evidence.pcapng holds the ICMP admin-prohibited answers" ||
    fail "router scenario: evidence.pcapng holds the ICMP answers" "$N"
D=$WORK/retry
bundle retry-works "$D"
C=$(tshark_q "$D/evidence.pcapng" -Y 'frame.comment contains "portmortem context"' | wc -l)
F=$(tshark_q "$D/evidence.pcapng" -Y "tcp.flags.syn==1 && tcp.flags.ack==0" | wc -l)
[ "$RC" = 1 ] && [ "$C" -ge 3 ] && [ "$F" -ge 6 ] &&
    pass "context: the successful attempt to the failing destination is in evidence.pcapng ($C packets)" ||
    fail "context packets" "exit $RC, $C context packets, $F SYNs"
grep -q "1 of 2 failed (1 no-response); 1 connected" "$D/escalation-203.0.113.10.txt" &&
    pass "context: the escalation says one attempt to it connected" || fail "context: escalation counts"
SD=$WORK/silent
bundle mx-silent-drop "$SD"
grep -q "SYN retransmission 4" "$SD/report.html" && pass "silent drop: the ladder draws each retransmission" ||
    fail "silent drop: the ladder draws each retransmission"

NW=$WORK/notonwire
# The capture's last record (an ARP at 19:19:00.69) is older than the log's line (19:19:01,
# whole seconds): only the window the lab recorded (truth.json, as an operator would give it)
# covers the line whole (issue 14: outside-window otherwise).
bundle local-fw-drop "$NW" --since "@$(jq -r .window.since "$FIX/local-fw-drop/truth.json")" \
    --until "@$(jq -r .window.until "$FIX/local-fw-drop/truth.json")"
NWE=$NW/escalation-203.0.113.10.txt
[ "$RC" = 1 ] && "$PORTMORTEM" verify "$NW" >/dev/null 2>&1 &&
    grep -qF "Result:          no SYN left the sending host: local firewall (the MTA logged \"connect to mx1.example.net[203.0.113.10]:25: Connection timed out\")" "$NWE" &&
    grep -qF "Source IP:       192.0.2.10 (the sending host; no SYN left it)" "$NWE" &&
    grep -q "no SYN left the sending host" "$NW/report.html" &&
    [ "$(tshark_q "$NW/evidence.pcapng" | wc -l)" = 0 ] &&
    pass "not on the wire: escalation says no SYN left (local firewall), empty evidence.pcapng, ladder drawn" ||
    fail "not on the wire" "exit $RC" "$(grep -E "Result|Source" "$NWE" 2>/dev/null)"
# Without the window the capture's own records end before both log lines: both are
# outside-window, listed in the bundle's summary.txt and report.json, and judged nowhere.
OW=$WORK/outside
bundle local-fw-drop "$OW"
[ "$RC" = 0 ] && "$PORTMORTEM" verify "$OW" >/dev/null 2>&1 &&
    grep -q "MTA log lines outside the capture window: 2" "$OW/summary.txt" &&
    grep -q "maillog:6 .*203.0.113.10:25 .*Connection timed out" "$OW/summary.txt" &&
    [ "$(jq -s '[.[] | select(.type == "summary") | .log_lines.outside_window_lines[]
                 | select(.type == "outside-window")] | length' "$OW/report.json")" = 2 ] &&
    [ "$(jq -s '[.[] | select(.type == "attempt")] | length' "$OW/report.json")" = 0 ] &&
    ! ls "$OW"/escalation-* >/dev/null 2>&1 &&
    pass "outside the window: both lines listed in summary.txt and report.json, no verdict, no escalation" ||
    fail "outside the window" "exit $RC" "$(grep -A3 'outside the capture window' "$OW/summary.txt" 2>/dev/null)"

# ---------------------------------------------------------------- hostile log text
H=$WORK/hostile-in
mkdir -p "$H"
cp "$FIX/mx-no-listener/sender.pcap" "$H/"
python3 - "$FIX/mx-no-listener/maillog" "$H/maillog" <<'EOF'
import sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
lines = [l.replace(b'Connection refused', b'Connection refused <script>alert("x")</script> \x1b[2J\xff\xfe\x07\'q\'') for l in lines]
open(sys.argv[2], 'wb').write(b'\n'.join(lines))
EOF
HB=$WORK/hostile
"$PORTMORTEM" analyze --format jsonl --no-progress --mta-log "$H/maillog" --bundle "$HB" "sender=$H/sender.pcap" >/dev/null 2>"$HB.err"
bad=""
for f in "$HB"/*; do
    case $f in *.pcap|*.pcapng) continue ;; esac
    # The tool's own words use UTF-8 (— … µ §), also in the JSON since strings are UTF-8
    # (RFC 8259); the log's bytes are reduced to printable ASCII: nothing else may be there.
    if LC_ALL=C tr -d '\n' <"$f" | sed 's/\xe2\x80\x94//g; s/\xe2\x80\xa6//g; s/\xc2\xb5//g; s/\xc2\xa7//g' |
        LC_ALL=C grep -q '[^ -~]'; then
        bad="$bad $(basename "$f")"
    fi
done
[ -z "$bad" ] && pass "hostile log text: no control character or byte >= 0x80 in any file" ||
    fail "hostile log text sanitised" "raw bytes in:$bad"
! grep -q "<script" "$HB/report.html" && grep -q "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" "$HB/report.html" &&
    grep -q "&#39;q&#39;" "$HB/report.html" &&
    pass "hostile log text is HTML-escaped in report.html" || fail "hostile log text is HTML-escaped in report.html"

# ---------------------------------------------------------------- a log with NUL bytes
# A crash leaves zeros in a log (whole lines of them, or inside a line). The parser and the
# bundle's copy must count lines the same way: mta-log.txt line N is the file's line N (as
# python splits the file at newlines), sanitised, for every line the report cites.
NI=$WORK/nul-in
mkdir -p "$NI"
python3 - "$FIX/mx-no-listener/maillog" "$NI/maillog" <<'EOF2'
import sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
out = [b'\0' * 64, lines[0][:16] + b'\0\0\0' + lines[0][16:]]
for l in lines[1:]:
    out.append(l)
    if b'postfix/qmgr' in l:            # more damage between the lines that matter
        out.append(b'\0\0\0\0 half a line after a crash \0')
open(sys.argv[2], 'wb').write(b'\n'.join(out))
EOF2
NB=$WORK/nul
"$PORTMORTEM" analyze --format jsonl --no-progress --mta-log "$NI/maillog" --bundle "$NB" \
    "sender=$FIX/mx-no-listener/sender.pcap" >"$NB.out" 2>"$NB.err"
NRC=$?
NULCHK=$(python3 - "$NI/maillog" "$NB.out" "$NB/mta-log.txt" <<'EOF2'
import json, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
clean = lambda b: ''.join(' ' if c in (9, 10, 13) else chr(c) if 32 <= c < 127 else '?' for c in b)
cited = sorted({o['mta']['line'] for o in map(json.loads, open(sys.argv[2]))
                if o.get('type') == 'attempt' and o.get('mta')})
copied = {}
for l in open(sys.argv[3], encoding='ascii'):
    if l.startswith('maillog:'):
        n, text = l[len('maillog:'):].rstrip('\n').split(': ', 1)
        copied[int(n)] = text
bad = [n for n in cited if copied.get(n) != clean(lines[n - 1].rstrip(b'\r'))]
print(len(cited), ' '.join(map(str, cited)), 'bad:' + ','.join(map(str, bad)) if bad else 'ok')
EOF2
)
if [ "$NRC" = 1 ] && [ "${NULCHK%% *}" -ge 2 ] && [ "${NULCHK##* }" = ok ]; then
    pass "log with NUL bytes: mta-log.txt line N is the file's line N for every cited line ($NULCHK)"
else
    fail "log with NUL bytes: mta-log.txt line N is the file's line N" "exit $NRC: $NULCHK" "$(cat "$NB/mta-log.txt" 2>/dev/null)"
fi
"$PORTMORTEM" verify "$NB" >/dev/null 2>&1 && pass "log with NUL bytes: the bundle verifies" ||
    fail "log with NUL bytes: the bundle verifies"

# ---------------------------------------------------------------- log lines that match nothing
# No logged line matches an attempt: mta-log.txt says so (and the empty list of matches is
# not sorted: qsort(NULL, 0) is undefined behaviour, which the ASan+UBSan run would report).
grep -v -e "connect to" -e "status=" "$FIX/mx-no-listener/maillog" >"$WORK/nomatch.log"
NM=$WORK/nomatch
"$PORTMORTEM" analyze --format jsonl --no-progress --mta-log "$WORK/nomatch.log" --bundle "$NM" \
    "sender=$FIX/mx-no-listener/sender.pcap" >"$NM.out" 2>"$NM.err"
NRC=$?
[ "$NRC" = 1 ] && grep -q "^# (no log line was matched to an attempt)" "$NM/mta-log.txt" &&
    [ "$(jq -s '[.[] | select(.type == "attempt" and .mta != null)] | length' "$NM.out")" = 0 ] &&
    "$PORTMORTEM" verify "$NM" >/dev/null 2>&1 &&
    pass "log lines matching nothing: mta-log.txt says so, the bundle verifies" ||
    fail "log lines matching nothing" "exit $NRC" "$(cat "$NM.err")"

# ---------------------------------------------------------------- a full file system
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
    for free in 0 16k; do
        M=$WORK/full-$free
        mkdir -p "$M"
        # shellcheck disable=SC2016  # expanded by the inner shell
        unshare -m sh -c '
            mount -t tmpfs -o size=64k tmpfs "$1" || exit 90
            # fill it, then give back $3 bytes: 0 = completely full, else nearly full
            dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
            [ "$3" != 0 ] && truncate -s -"$3" "$1/filler"
            f="'"$FIX"'/mx-no-listener"
            "$2" analyze --format jsonl --no-progress --mta-log "$f/maillog" --bundle "$1/b" \
                "sender=$f/sender.pcap" >/dev/null 2>"$1.err"
            echo $? >"$1.rc"
            ls -A "$1" >"$1.ls"
        ' sh "$M" "$PORTMORTEM" "$free"
        FRC=$(cat "$M.rc" 2>/dev/null)
        if [ "$FRC" = 3 ] && grep -q "No space left on device" "$M.err" && [ "$(cat "$M.ls")" = filler ]; then
            pass "full file system ($free free): exit 3, says why, no half bundle and no temporary directory"
        else
            fail "full file system ($free free)" "exit $FRC; left: $(tr '\n' ' ' <"$M.ls" 2>/dev/null)" "$(cat "$M.err" 2>/dev/null)"
        fi
    done
else
    skip "full file system: needs root and unshare -m (a tmpfs in a private mount namespace)"
fi

# ---------------------------------------------------------------- without root: no helper
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    U=$WORK/unpriv
    mkdir -p "$U" && chmod 1777 "$U"
    # nobody may not reach the checkout (a clone under /root is mode 0700): give it copies of
    # the binary and the fixture in a directory it can read.
    f=$U/in
    mkdir -p "$f" && cp "$FIX/mx-no-listener/maillog" "$FIX/mx-no-listener/sender.pcap" "$f/" &&
        cp "$PORTMORTEM" "$U/portmortem" && chmod -R a+rX "$f" "$U/portmortem" && chmod a+x "$WORK"
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$U/portmortem" analyze --format jsonl \
        --no-progress --mta-log "$f/maillog" --bundle "$U/b" "sender=$f/sender.pcap" \
        >/dev/null 2>"$U.err"
    URC=$?
    OWNER=$(stat -c %U "$U/b" 2>/dev/null)
    if [ "$URC" = 1 ] && [ "$OWNER" = nobody ] && "$PORTMORTEM" verify "$U/b" >/dev/null 2>&1 &&
        no_temp_left "$U"; then
        pass "unprivileged run (nobody): bundle written (through its unprivileged helper) and verifies"
    else
        fail "unprivileged run (nobody)" "exit $URC owner $OWNER" "$(cat "$U.err")"
    fi
else
    skip "unprivileged run: needs root and setpriv"
fi

# ---------------------------------------------------------------- interrupted runs (issue 19)
# `analyze --bundle` killed half-way, by SIGINT (Ctrl-C), SIGTERM or SIGKILL, as root and as
# nobody: the helper process removes the temporary directory; no DIR appears. The run is held
# half-way by an MTA log read from a FIFO whose writer waits. env --default-signal: a
# background job of a script would otherwise ignore SIGINT.
interrupted() {  # interrupted SIGNAL AS-USER(root|nobody) DIR
    local sig=$1 who=$2 dir=$3 fifo pid i left
    fifo=$dir.fifo
    rm -f "$fifo"; mkfifo "$fifo"; chmod 666 "$fifo"
    local pre=()
    [ "$who" = nobody ] && pre=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    { cat "$INT_IN/maillog"; sleep 15; } >"$fifo" &
    local writer=$!
    "${pre[@]}" env --default-signal=INT timeout -k 2 30 "$INT_BIN" analyze --format jsonl \
        --no-progress --mta-log "$fifo" --bundle "$dir" "sender=$INT_IN/sender.pcap" \
        >/dev/null 2>"$dir.err" &
    pid=$!
    for i in $(seq 100); do [ -n "$(find "$(dirname "$dir")" -maxdepth 1 -name ".$(basename "$dir").tmp-*")" ] && break; sleep 0.1; done
    local main
    main=$(pgrep -P "$pid" -x portmortem | head -1)
    [ -n "$main" ] && kill "-$sig" "$main"
    wait "$pid" 2>/dev/null
    kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null
    for i in $(seq 30); do
        left=$(find "$(dirname "$dir")" -maxdepth 1 -name ".$(basename "$dir").tmp-*")
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -n "$main" ] && [ -z "$left" ] && [ ! -e "$dir" ]; then
        pass "interrupted by SIG$sig as $who: no temporary directory and no bundle left"
    else
        fail "interrupted by SIG$sig as $who" "pid '$main', left: $left $( [ -e "$dir" ] && echo "$dir")" "$(head -c 300 "$dir.err")"
    fi
    rm -f "$fifo"
}
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    I=$WORK/int
    mkdir -p "$I/in" && chmod 1777 "$I"
    cp "$FIX/mx-no-listener/maillog" "$FIX/mx-no-listener/sender.pcap" "$I/in/"
    cp "$PORTMORTEM" "$I/portmortem" && chmod -R a+rX "$I/in" "$I/portmortem" && chmod a+x "$WORK"
    INT_IN=$I/in INT_BIN=$I/portmortem
    for who in nobody root; do
        for sig in INT TERM KILL; do interrupted "$sig" "$who" "$I/b-$who-$sig"; done
    done
else
    skip "interrupted runs: needs root (to test both root and nobody) and setpriv"
fi

# ---------------------------------------------------------------- the HTML in a browser
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ "$BROWSER" = 0 ]; then
    skip "report.html in headless chromium (--no-browser)"
elif [ -z "$CHROMIUM" ]; then
    skip "report.html in headless chromium: chromium is not installed"
else
    browse() {  # browse HTML PNG DOM
        local prof
        prof=$(mktemp -d "$WORK/chrome.XXXXXX")
        # shellcheck disable=SC2054  # the comma is chromium's, inside one argument
        local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
                     --disable-background-networking --disable-component-update --disable-sync
                     --user-data-dir="$prof" --window-size=1200,1600)
        # one run: --dump-dom prints the DOM after the page loaded, --screenshot saves it
        timeout 60 "$CHROMIUM" "${flags[@]}" --screenshot="$2" --dump-dom "file://$1" >"$3" 2>/dev/null
    }
    for sc in router:path-icmp silent:silent-drop mx-no-listener:remote-refused; do
        name=${sc%%:*}
        verdict=${sc#*:}
        dir=$WORK/$name
        browse "$dir/report.html" "$WORK/$name.png" "$WORK/$name.dom"
        failing=$(jq -r 'select(.type == "attempt" and .verdict != "ok") | .id' "$dir/report.json" | wc -l)
        svgs=$(grep -o '<svg[^>]*class="ladder"' "$WORK/$name.dom" | wc -l)
        if [ "$svgs" = "$failing" ] && grep -q ">verdict: $verdict<" "$WORK/$name.dom" &&
            grep -q "<polygon\|<line" "$WORK/$name.dom"; then
            pass "chromium DOM ($name): $svgs ladder diagram(s) with the verdict $verdict"
        else
            fail "chromium DOM ($name)" "$svgs svg ladders for $failing failing attempts"
        fi
        PNGCHK=$(python3 - "$WORK/$name.png" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat = 8, b''
while pos < len(data):
    n, t = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if t == b'IHDR':
        w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', body[:13])
        assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        bpp = 3 if ctype == 2 else 4
    elif t == b'IDAT':
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
LO = int.from_bytes(b'\x7f' * stride, 'big')
HI = int.from_bytes(b'\x80' * stride, 'big')
prev = bytes(stride)
colours, red, blue = set(), 0, 0
for y in range(h):
    f = raw[y * (stride + 1)]
    cur = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
    if f == 2:  # Up: bytewise addition without carries between bytes (SWAR on big ints)
        a, b = int.from_bytes(cur, 'big'), int.from_bytes(prev, 'big')
        line = (((a & LO) + (b & LO)) ^ ((a ^ b) & HI)).to_bytes(stride, 'big')
    elif f == 0:
        line = cur
    else:
        line = bytearray(cur)
        for i in range(stride):
            l = line[i - bpp] if i >= bpp else 0
            u = prev[i]
            if f == 1:
                line[i] = (line[i] + l) & 255
            elif f == 3:
                line[i] = (line[i] + (l + u) // 2) & 255
            else:
                c = prev[i - bpp] if i >= bpp else 0
                p = l + u - c
                pa, pb, pc = abs(p - l), abs(p - u), abs(p - c)
                line[i] = (line[i] + (l if pa <= pb and pa <= pc else u if pb <= pc else c)) & 255
        line = bytes(line)
    if y % 2 == 0:
        px = list(zip(line[0::bpp], line[1::bpp], line[2::bpp]))
        colours.update(px)
        red += sum(1 for r, g, b in px if r > 150 and g < 90 and b < 90)
        blue += sum(1 for r, g, b in px if r < 80 and 50 < g < 120 and b > 120)
    prev = line
print(w, h, len(colours), red, blue)
EOF
)
        read -r PW PH PCOL PRED PBLUE <<<"$PNGCHK"
        SIZE=$(stat -c %s "$WORK/$name.png" 2>/dev/null || echo 0)
        if [ "${PW:-0}" = 1200 ] && [ "$SIZE" -gt 20000 ] && [ "${PCOL:-0}" -gt 50 ] &&
            [ "${PRED:-0}" -gt 200 ] && [ "${PBLUE:-0}" -gt 100 ]; then
            pass "chromium screenshot ($name): ${PW}x${PH}, $SIZE bytes, $PCOL colours, diagram red $PRED px / blue $PBLUE px"
        else
            fail "chromium screenshot ($name)" "png: ${PNGCHK:-unreadable}, $SIZE bytes"
        fi
    done
fi

check "no temporary directory left anywhere" no_temp_left "$WORK"
SAN=$(grep -l -E "Sanitizer|runtime error:" "$WORK"/*.err "$WORK"/*/*.err 2>/dev/null | tr '\n' ' ')
[ -z "$SAN" ] && pass "no sanitizer report in any run's standard error" || fail "sanitizer reports" "$SAN"
echo "bundle: $PASSED passed, $FAILED failed, $SKIPPED skipped ($(( $(date +%s) - START )) s)"
[ "$FAILED" = 0 ]
