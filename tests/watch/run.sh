#!/usr/bin/env bash
# tests/watch/run.sh — `portmortem watch` live, as root, in three private network namespaces
# of its own (pmwatch-<pid>-{s,r,m}; documentation prefixes only; nothing is added to the
# root namespace; the trap and a watchdog delete them). About 25 s on an idle machine (60 s seen with the machine loaded).
#
#   [s: sender] eth0 ---- in0 [r: router] out0 ---- eth0 [m: MX host, 203.0.113.10 on lo]
#   192.0.2.10/24          192.0.2.1   198.51.100.1/30    198.51.100.2/30
#
# Scenario: the MX talks SMTP on 587 (its real distance in the capture); r forges a RST for
# port 25 (iptables REJECT --reject-with tcp-reset): four attempts to port 25 are path-rst.
# An answered attempt stays open for its SYN retry span (75 s, analyze/track.c) before it is
# decided; this test stops before that, so they are decided at SIGTERM, which is also
# checked: what is decided at the stop still reaches syslog and the last metrics file. (The
# recovery is unit-tested in tests/unit/test_watch.c and run for real in the lab test.)
# Checked:
#   - the ring: exactly -W 3 files under STATE/ring, each a pcap under -C 1 MB, packets in it;
#   - syslog: records received on a unix datagram socket this script opens (python3), each
#     "<PRI>1 TIMESTAMP HOST portmortem PID MSGID - JSON": path-rst attempts at PRI 20 (mail,
#     warning), one dest-state "failing" record (verdict path-rst);
#   - the metrics file: portmortem_attempts_total{verdict="path-rst",owner="path",port="25"}
#     equal to the path-rst attempt records, destinations_failing 1;
#   - the automatic bundle (settled path-rst): one, named in the record, `verify` accepts it;
#   - SIGHUP does not stop it; SIGTERM does, with exit status 0, within 10 s; state.json;
#   - the records' JSON against docs/schema (tests/schema/validate.py).
# Not root or no namespaces: SKIP, exit 0. Output: PASS/FAIL lines, exit 1 on a FAIL.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORTMORTEM=${PORTMORTEM:-$ROOT/portmortem}
SMTP=$ROOT/tests/live/smtp.py
LIMIT=${WATCH_LIMIT:-150}
FAILED=0
pass() { printf 'PASS %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; }

if [ "$(id -u)" != 0 ]; then echo "SKIP watch: not root"; exit 0; fi
P=pmwatch-$$
NS_S=$P-s NS_R=$P-r NS_M=$P-m
if ! ip netns add "$NS_S" 2>/dev/null; then echo "SKIP watch: cannot create a network namespace"; exit 0; fi
T=$(mktemp -d /tmp/pm-watch.XXXXXX)
chmod 755 "$T"

teardown() {
    local n pid
    for n in "$NS_S" "$NS_R" "$NS_M"; do
        for pid in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns delete "$n" 2>/dev/null
    done
}
cleanup() {
    [ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
    [ -n "${RECV:-}" ] && kill "$RECV" 2>/dev/null
    teardown
    if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# The watchdog: a whole run past LIMIT seconds is killed and its namespaces deleted.
( sleep "$LIMIT"; echo "FAIL watch: over ${LIMIT}s, killed" >&2; kill -TERM $$ 2>/dev/null ) &
WATCHDOG=$!

at() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
for n in "$NS_R" "$NS_M"; do ip netns add "$n"; done
for n in "$NS_S" "$NS_R" "$NS_M"; do ip -n "$n" link set lo up; done
link() {
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
    if command -v ethtool >/dev/null 2>&1; then
        at "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
        at "$3" ethtool -K "$4" tx off >/dev/null 2>&1 || true
    fi
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}
link "$NS_S" eth0 "$NS_R" in0
link "$NS_R" out0 "$NS_M" eth0
at "$NS_R" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
ip -n "$NS_S" addr add 192.0.2.10/24 dev eth0
ip -n "$NS_R" addr add 192.0.2.1/24 dev in0
ip -n "$NS_R" addr add 198.51.100.1/30 dev out0
ip -n "$NS_M" addr add 198.51.100.2/30 dev eth0
ip -n "$NS_M" addr add 203.0.113.10/32 dev lo
ip -n "$NS_S" route add default via 192.0.2.1
ip -n "$NS_R" route add 203.0.113.0/24 via 198.51.100.2
ip -n "$NS_M" route add default via 198.51.100.1
at "$NS_R" iptables -w -A FORWARD -d 203.0.113.10 -p tcp --dport 25 -j REJECT --reject-with tcp-reset
at "$NS_M" python3 "$SMTP" server 203.0.113.10 587 </dev/null >/dev/null 2>&1 &

# The syslog receiver: a unix datagram socket of our own, one record per line.
mkdir -m 777 "$T/metrics"
/usr/bin/env python3 - "$T/log.sock" "$T/records" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "w") as out:
    while True:
        out.write(s.recv(65536).decode("utf-8", "replace").replace("\n", "\\n") + "\n"); out.flush()
PY
RECV=$!
for _ in $(seq 50); do [ -S "$T/log.sock" ] && break; sleep 0.1; done

# not through at(): a backgrounded function is a subshell, and $! would be that subshell
ip netns exec "$NS_S" "$PORTMORTEM" watch -i eth0 -p 25,587 --state-dir "$T/state" -C 1 -W 3 \
    --syslog --syslog-socket "$T/log.sock" --metrics-file "$T/metrics/portmortem.prom" \
    -Z nobody >"$T/out" 2>"$T/err" &
PM=$!
for _ in $(seq 100); do grep -q "dropped to" "$T/err" 2>/dev/null && break; sleep 0.1; done
client() { at "$NS_S" timeout 10 python3 "$SMTP" client 203.0.113.10 "$1" 3 "${2:-0}" 2>&1 || true; }
client 587 >>"$T/clients"
# in parallel: each is its own attempt (its own source port); the run stays short
C=()
for i in 1 2 3 4; do client 25 >>"$T/clients" & C+=($!); done
wait "${C[@]}"
date -u +%T.%N >>"$T/clients"
kill -HUP "$PM"
sleep 1.5
if kill -0 "$PM" 2>/dev/null; then pass "SIGHUP: still running"; else fail "SIGHUP stopped watch"; fi
# some bulk through the ring (587 with data): the ring must rotate and stay bounded
C=()
for i in 1 2 3; do client 587 1500000 >/dev/null & C+=($!); done
wait "${C[@]}"
sleep 2.5
kill -TERM "$PM"
rc=
for _ in $(seq 100); do kill -0 "$PM" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PM" 2>/dev/null; then
    fail "SIGTERM: still running after 10 s"; kill -KILL "$PM"; wait "$PM"
else
    wait "$PM"; rc=$?
    if [ "$rc" = 0 ]; then pass "SIGTERM: exit 0"; else fail "SIGTERM: exit $rc (want 0)" "$(tail -5 "$T/err")"; fi
fi
sleep 0.3

# the automatic bundle: written from the ring when the destination started failing with a
# settled verdict, and `portmortem verify` accepts it
nb=0
for b in "$T"/state/bundles/*; do
    [ -d "$b" ] || continue
    nb=$((nb + 1))
    if "$PORTMORTEM" verify "$b" >"$T/verify" 2>&1; then pass "bundle: verify accepts $(basename "$b")"
    else fail "bundle: verify refuses $b" "$(tail -3 "$T/verify")"; fi
done
[ "$nb" = 1 ] && pass "bundle: one automatic bundle" || fail "bundle: $nb automatic bundles (want 1)"

/usr/bin/env python3 - "$T" <<'PY' || FAILED=$((FAILED + 1))
import glob, json, os, re, sys
T = sys.argv[1]
bad = 0
def check(ok, what, detail=""):
    global bad
    print(("PASS " if ok else "FAIL ") + what + ("" if ok or not detail else "\n     " + detail))
    bad += 0 if ok else 1

ring = sorted(glob.glob(T + "/state/ring/*"))
sizes = [os.path.getsize(f) for f in ring]
check(len(ring) == 3, "ring: -W 3 files", str(ring))
check(all(s <= 1000000 for s in sizes), "ring: every file under -C 1 MB", str(sizes))
magic = [open(f, "rb").read(4) for f in ring]
check(all(m in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") for m in magic), "ring: pcap files")
check(sum(sizes) > 1000000, "ring: rotated (more than one file's worth written)", str(sizes))

rx = re.compile(r'^<(\d+)>1 (\S+) (\S+) portmortem (\d+) (\S+) - (\{.*\})$')
recs = []
for line in open(T + "/records"):
    m = rx.match(line.rstrip("\n"))
    check(m is not None, "syslog: RFC 5424 record", line[:200]) if m is None else None
    if m:
        recs.append((int(m.group(1)), m.group(5), json.loads(m.group(6))))
att = [r for r in recs if r[1] == "attempt"]
ds = [r for r in recs if r[1] == "dest-state"]
prst = [r for r in att if r[2].get("verdict") == "path-rst" and r[2].get("dport", r[2].get("port")) in (25, None)]
check(len(prst) >= 3, "syslog: path-rst attempt records (%d)" % len(prst),
      str([(r[0], r[2].get("verdict")) for r in att]))
check(all(r[0] == 2 * 8 + 4 for r in prst), "syslog: path-rst at PRI 20 (mail.warning)")
ok587 = [r for r in att if r[2].get("verdict") == "ok"]
check(ok587 and all(r[0] == 2 * 8 + 6 for r in ok587), "syslog: ok attempts at PRI 22 (mail.info)")
states = [(r[0], r[2]["state"], r[2]["verdict"], r[2]["port"], r[2]["dest"]) for r in ds]
fl = [s for s in states if s[1] == "failing" and s[3] == 25]
rc = [s for s in states if s[1] == "recovered" and s[3] == 25]
check(len(fl) == 1 and fl[0][2] == "path-rst" and fl[0][0] == 20 and fl[0][4] == "203.0.113.10",
      "syslog: one dest-state failing, path-rst, 203.0.113.10:25", str(states))
bnames = [r[2].get("bundle") for r in ds if r[2].get("state") == "failing"]
check(bnames and bnames[0] and os.path.isdir(bnames[0]), "syslog: the failing record names its bundle",
      str(bnames))
if ds:
    d = ds[0][2]
    check(all(k in d for k in ("type", "dest", "port", "state", "verdict", "owner", "confidence", "since")),
          "syslog: dest-state fields", str(d))

prom = open(T + "/metrics/portmortem.prom").read()
m = re.search(r'^portmortem_attempts_total\{verdict="path-rst",owner="path",port="25"\} (\d+)$', prom, re.M)
check(m is not None and int(m.group(1)) == len(prst), "metrics: path-rst attempts = syslog records",
      prom[:600])
check(re.search(r'^portmortem_destinations_failing 1$', prom, re.M) is not None,
      "metrics: one destination failing")
check(re.search(r'^portmortem_bundles_written_total 1$', prom, re.M) is not None,
      "metrics: one bundle written")
check(re.search(r'^portmortem_capture_packets_total\{interface="eth0"\} [1-9]', prom, re.M) is not None,
      "metrics: packets counted on eth0")
check(not os.path.exists(T + "/metrics/portmortem.prom.tmp"), "metrics: no temporary file left")
st = json.load(open(T + "/state/state.json"))
check(st.get("type") == "watch-state" and st.get("ring_bytes", 1 << 60) <= st.get("ring_bound_bytes", 0),
      "state.json: written, ring under its bound", str(st)[:300])
sys.exit(1 if bad else 0)
PY
# the records' JSON against the published schema (attempt, dest-state), when Debian's
# python3-jsonschema is there (check-schema's validator)
sed -n 's/^<[0-9]*>1 [^ ]* [^ ]* portmortem [0-9]* \(attempt\|dest-state\) - //p' "$T/records" >"$T/records.jsonl"
if /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
    if [ -s "$T/records.jsonl" ] && /usr/bin/python3 "$ROOT/tests/schema/validate.py" --no-summary "$T/records.jsonl" >"$T/schema" 2>&1; then
        pass "syslog: records' JSON valid against docs/schema ($(wc -l <"$T/records.jsonl") objects)"
    else
        fail "syslog: records' JSON against docs/schema" "$(tail -5 "$T/schema")"
    fi
else
    echo "SKIP schema: /usr/bin/python3 has no jsonschema (python3-jsonschema)"
fi

echo "watch: $([ "$FAILED" = 0 ] && echo passed || echo "$FAILED failed")"
[ "$FAILED" = 0 ]
