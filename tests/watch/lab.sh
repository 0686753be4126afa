#!/usr/bin/env bash
# tests/watch/lab.sh — the acceptance test of `portmortem watch` (issue 18) in a lab of its own,
# with real components from Debian: rsyslog (two of them, forwarding over TCP), Prometheus
# (scraping the watch's /metrics every second, queried through its HTTP API), the watch started
# under the sandbox its systemd unit asks for (applied by hand where systemd is not PID 1), a
# scripted outage (a transit router forges RSTs, then the rule goes and attempts succeed), MTA
# log rotation by rename and by copytruncate in the middle, an automatic bundle that `verify`
# accepts, and the ring's disk use under -C 1 -W 3 through a short SYN flood.
#
#   tests/watch/lab.sh              the acceptance run (root; PORTMORTEM, SYNFLOOD from the env)
#   tests/watch/lab.sh --selftest   the harness alone, with stand-ins for the watch: `logger
#                                   --socket` into the rsyslog relay, a static metrics file served
#                                   by python's http.server, tcpdump -C/-W for the ring
#
# Topology (namespaces pmw-<id>-<role>, made here, removed by the EXIT trap; documentation
# prefixes only, nothing in the root namespace):
#
#   snd 192.0.2.10 --- 192.0.2.1 r1 198.51.100.1 --- 198.51.100.2 r2 203.0.113.1 --- 203.0.113.10 mx
#                                   198.51.100.9 --- 198.51.100.10 col
#
# snd: the watch, the sender's rsyslog (own unix socket), the driver making SMTP attempts and
# writing Postfix lines. r1: the transit router that forges RSTs (0 hops from snd, the MX is 2:
# path-rst-hops). col: the collector rsyslog (imtcp) and Prometheus. Output: PASS/FAIL lines,
# a summary line, exit 1 if anything failed; SKIP (exit 0) when not root. Artifacts of the last
# run (syslog records, logs, metrics, state.json) are copied to build/watch-lab/.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PORTMORTEM=${PORTMORTEM:-$ROOT/build/release/portmortem}
SYNFLOOD=${SYNFLOOD:-$ROOT/build/release/tests/bench/synflood}
UNIT=${WATCHLAB_UNIT:-$ROOT/debian/portmortem-watch.service}
LIMIT=${WATCHLAB_LIMIT:-175}        # seconds for the whole run; a watchdog ends it after that
OUT=${WATCHLAB_OUT:-$ROOT/build/watch-lab}
PY=/usr/bin/python3
MODE=real
case "${1:-}" in
    --selftest) MODE=selftest ;;
    "") ;;
    *) echo "usage: tests/watch/lab.sh [--selftest]" >&2; exit 2 ;;
esac

# The ring's bound under test (-C MB -W N) and the outage's size.
RING_C=1 RING_W=3
N_OK1=3 N_RST=3 N_OK2=3          # attempts before, in each of the 3 outage rounds, after
FLOOD_RATE=20000 FLOOD_SECS=4
FAIL_WAIT=${WATCHLAB_FAIL_WAIT:-90}   # seconds for the failing record (the 75 s span + margin)

readonly SND4=192.0.2.10 R1IN4=192.0.2.1 R1UP4=198.51.100.1 R2DOWN4=198.51.100.2
readonly R2LAN4=203.0.113.1 MX4=203.0.113.10 R1COL4=198.51.100.9 COL4=198.51.100.10
readonly METRICS_PORT=9187 SYSLOG_PORT=10514 PROM_PORT=9090
readonly ROLES="snd r1 r2 mx col"

if [ "$(id -u)" != 0 ]; then echo "SKIP: tests/watch/lab.sh needs root (network namespaces)"; exit 0; fi
ip netns list >/dev/null 2>&1 || { echo "SKIP: no network namespaces here"; exit 0; }
missing=""
for t in ip ethtool iptables rsyslogd prometheus curl jq setpriv unshare findmnt tcpdump timeout; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
[ -x "$PY" ] || missing="$missing $PY"
if [ -n "$missing" ]; then
    echo "FAIL: missing tools:$missing (run .ci/setup --test: rsyslog and prometheus are in TEST_PKGS)"
    exit 1
fi

ID=$(printf '%04x%02x' $(($$ & 0xffff)) $((RANDOM & 0xff)))
PFX=pmw-$ID
T=$(mktemp -d "/run/pmw-lab.$ID.XXXXXX") || exit 1
chmod 0755 "$T"          # the watch's user must reach the syslog socket and the maillog
STATE=$T/state
mkdir -p "$T/run" "$T/rs1" "$T/rs2" "$T/prom" "$STATE" "$OUT"
MAILLOG=$T/maillog
: >"$MAILLOG"; chmod 0644 "$MAILLOG"
SOCK=$T/run/log.sock
COLLECTED=$T/collected.log
PROM_URL=http://$COL4:$PROM_PORT
NSES=()
WATCH_PID=""
npass=0 nfail=0
MAINPID=$$

say() { printf '%s watch-lab[%s]: %s\n' "$(date -u +%T)" "$ID" "$*" >&2; }
pass() { npass=$((npass + 1)); echo "PASS $1${2:+: $2}"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $1: $2"; }
check() {  # check NAME WHY CMD...: PASS when CMD succeeds, FAIL with WHY otherwise
    local name=$1 why=$2; shift 2
    if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}
at() { local role=$1; shift; ip netns exec "$PFX-$role" "$@"; }
nowiso() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
# wait_for SECS WHAT CMD...: poll CMD every 0.2 s; false (with a message) after SECS.
wait_for() {
    local secs=$1 what=$2; shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$end" ]; then say "timeout (${secs}s) waiting for $what"; return 1; fi
        sleep 0.2
    done
}

cleanup() {
    set +e
    trap - EXIT INT TERM HUP
    [ -n "${WD_PID:-}" ] && kill "$WD_PID" 2>/dev/null
    if [ -n "${SYSTEMD_UNIT:-}" ]; then
        systemctl stop "$SYSTEMD_UNIT" 2>/dev/null; systemctl reset-failed "$SYSTEMD_UNIT" 2>/dev/null
    fi
    local n p
    for n in "${NSES[@]}"; do
        for p in $(ip netns pids "$n" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
    done
    sleep 0.5
    for n in "${NSES[@]}"; do
        for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$n" 2>/dev/null
    done
    # Keep what a reader needs to judge the run (not the ring: it is megabytes of flood).
    rm -rf "$OUT/last"; mkdir -p "$OUT/last"
    cp -p "$T"/*.log "$T"/*.conf "$T"/*.yml "$T"/*.txt "$T"/maillog* "$OUT/last/" 2>/dev/null
    cp -p "$STATE/state.json" "$OUT/last/" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP
# The watchdog: the whole run is bounded even if a component hangs.
# Its sleep must not hold our stdout open (a `| tail` reader would wait for it), and it goes
# with the watchdog when cleanup ends that.
(
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$LIMIT" >/dev/null 2>&1 & sp=$!
    wait "$sp" || exit 0
    echo "FAIL watch-lab: time limit of ${LIMIT}s reached" >&2
    kill -TERM "$MAINPID"
) &
WD_PID=$!

# ---------------------------------------------------------------------------------------------
# Topology.
link() {  # link A IFA B IFB: a veth pair made in A with its peer put straight into B
    ip -n "$PFX-$1" link add "$2" type veth peer name "$4" netns "$PFX-$3"
    at "$1" ethtool -K "$2" tx off >/dev/null   # veth leaves checksums unfilled otherwise
    at "$3" ethtool -K "$4" tx off >/dev/null
    ip -n "$PFX-$1" link set "$2" up
    ip -n "$PFX-$3" link set "$4" up
}
build() {
    local r
    for r in $ROLES; do
        ip netns add "$PFX-$r" || return 1
        NSES+=("$PFX-$r")
        ip -n "$PFX-$r" link set lo up
        at "$r" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    for r in r1 r2; do at "$r" sysctl -qw net.ipv4.ip_forward=1; done
    # connect() to a silent address gives up after ~3 s instead of ~2 min.
    at snd sysctl -qw net.ipv4.tcp_syn_retries=2
    link snd eth0 r1 in0
    link r1 up0 r2 down0
    link r2 lan0 mx eth0
    link r1 col0 col eth0
    ip -n "$PFX-snd" addr add "$SND4/24" dev eth0
    ip -n "$PFX-r1" addr add "$R1IN4/24" dev in0
    ip -n "$PFX-r1" addr add "$R1UP4/30" dev up0
    ip -n "$PFX-r2" addr add "$R2DOWN4/30" dev down0
    ip -n "$PFX-r2" addr add "$R2LAN4/24" dev lan0
    ip -n "$PFX-mx" addr add "$MX4/24" dev eth0
    ip -n "$PFX-r1" addr add "$R1COL4/30" dev col0
    ip -n "$PFX-col" addr add "$COL4/30" dev eth0
    ip -n "$PFX-snd" route add default via "$R1IN4"
    ip -n "$PFX-r1" route add 203.0.113.0/24 via "$R2DOWN4"
    ip -n "$PFX-r2" route add default via "$R1UP4"
    ip -n "$PFX-mx" route add default via "$R2LAN4"
    ip -n "$PFX-col" route add default via "$R1COL4"
}

# ---------------------------------------------------------------------------------------------
# rsyslog: the sender's (imuxsock on its own socket, RFC 5424 parsed as is, forwarded over TCP
# with octet-counted framing, RFC 5425 style) and the collector's (imtcp, raw message to a file).
# Neither reads /etc/rsyslog.conf nor touches /dev/log: -f names the config, SysSock is off.
start_rsyslogs() {
    cat >"$T/rs2.conf" <<EOF
\$MaxMessageSize 64k
global(workDirectory="$T/rs2")
module(load="imtcp")
input(type="imtcp" port="$SYSLOG_PORT" address="$COL4")
template(name="raw" type="string" string="%rawmsg%\n")
*.* action(type="omfile" file="$COLLECTED" template="raw")
EOF
    cat >"$T/rs1.conf" <<EOF
\$MaxMessageSize 64k
global(workDirectory="$T/rs1")
module(load="imuxsock" SysSock.Use="off")
# useSpecialParser off: the standard parser chain reads the RFC 5424 header (MSGID included);
# no rate limit here: the watch's own --syslog-rate is what is under test.
input(type="imuxsock" socket="$SOCK" useSpecialParser="off" parseHostname="on"
      useSysTimeStamp="off" ratelimit.interval="0")
*.* action(type="omfwd" target="$COL4" port="$SYSLOG_PORT" protocol="tcp"
           TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
           queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
*.* action(type="omfile" file="$T/rs1-local.log" template="RSYSLOG_SyslogProtocol23Format")
EOF
    at col rsyslogd -n -f "$T/rs2.conf" -i "$T/rs2/pid" >"$T/rsyslog-col.out.log" 2>&1 &
    wait_for 10 "collector rsyslog listening" at col bash -c "exec 3<>/dev/tcp/$COL4/$SYSLOG_PORT" ||
        return 1
    at snd rsyslogd -n -f "$T/rs1.conf" -i "$T/rs1/pid" >"$T/rsyslog-snd.out.log" 2>&1 &
    wait_for 10 "sender rsyslog socket" test -S "$SOCK" || return 1
    chmod 0666 "$SOCK"   # the watch writes as its own user after the drop
}

# Prometheus: Debian's server, own config and storage, listening inside the collector namespace.
start_prometheus() {
    cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: portmortem
    static_configs:
      - targets: ['$SND4:$METRICS_PORT']
EOF
    at col prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
        --web.listen-address="$COL4:$PROM_PORT" --log.level=warn >"$T/prometheus.out.log" 2>&1 &
    wait_for 30 "Prometheus ready" at col curl -sf --max-time 2 "$PROM_URL/-/ready"
}
# promql QUERY: the sum of the instant vector's values through the HTTP API, "none" if empty.
promql() {
    at col curl -sf --max-time 5 --data-urlencode "query=$1" "$PROM_URL/api/v1/query" |
        jq -r 'if .status != "success" then "error" elif (.data.result|length) == 0 then "none"
               else ([.data.result[].value[1] | tonumber] | add) end'
}
prom_is() { [ "$(promql "$1")" = "$2" ]; }
prom_ge() { local v; v=$(promql "$1"); [[ "$v" =~ ^[0-9.e+]+$ ]] && awk -v v="$v" -v w="$2" 'BEGIN{exit !(v>=w)}'; }

start_mx() {
    at mx "$PY" "$HERE/driver.py" mx 25 >"$T/mx.out.log" 2>&1 &
    wait_for 10 "MX listening" at snd bash -c "exec 3<>/dev/tcp/$MX4/25"
}

# ---------------------------------------------------------------------------------------------
# The sandbox: what the unit asks systemd for, applied by hand (systemd is not PID 1 here).
# Reproduced: the capability bounding set (setpriv --bounding-set), NoNewPrivileges
# (--no-new-privs), UMask (umask), ProtectSystem=strict (every mount of a private mount namespace remounted
# read-only, /proc /sys /dev left as they are, as systemd does), ReadWritePaths/StateDirectory
# (the state directory bind-mounted read-write), PrivateTmp (fresh tmpfs on /tmp and /var/tmp),
# ProtectHome (empty read-only tmpfs on /home, /root, /run/user), the run user (the program drops
# to it itself: the unit starts it as root with --user). docs/TESTING.md lists what is not.
unit_value() {  # the last value of a unit directive ("" when the unit or the directive is absent)
    [ -f "$UNIT" ] || return 0
    sed -n "s/^[[:space:]]*$1=//p" "$UNIT" | tail -1
}
sandbox_setup() {
    local caps c
    caps=$(unit_value CapabilityBoundingSet)
    if [ -z "$caps" ]; then
        if [ "$MODE" = selftest ]; then echo "NOTE no CapabilityBoundingSet in $UNIT: using the spec's set"
        else fail unit-file "no CapabilityBoundingSet in $UNIT: using the spec's set"; fi
        caps="CAP_NET_RAW CAP_NET_ADMIN CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE"
    else
        pass unit-file "$UNIT: CapabilityBoundingSet=$caps"
    fi
    BOUNDING=-all
    for c in $caps; do c=${c#CAP_}; BOUNDING="$BOUNDING,+${c,,}"; done
    UMASK=$(unit_value UMask); UMASK=${UMASK:-0022}
    RUNUSER=portmortem
    id "$RUNUSER" >/dev/null 2>&1 || RUNUSER=nobody   # the lab does not add users to the machine
    cat >"$T/sandbox.sh" <<'EOF'
# Runs inside `unshare --mount --propagation private` in the sender's namespace:
#   sandbox.sh STATE BOUNDING UMASK CMD...
set -e
state=$1 bounding=$2; umask "$3"; shift 3
findmnt -rn -o TARGET | sort -u | while read -r mp; do
    case $mp in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
    mount -o remount,bind,ro "$mp" 2>/dev/null || echo "sandbox: $mp stays writable" >&2
done
mount --bind "$state" "$state"
mount -o remount,bind,rw "$state"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
[ -d /var/tmp ] && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
for d in /home /root /run/user; do
    [ -d "$d" ] && mount -t tmpfs -o ro,mode=0755 tmpfs "$d"
done
exec setpriv --bounding-set "$bounding" --no-new-privs -- "$@"
EOF
}
sandboxed() { at snd unshare --mount --propagation private bash "$T/sandbox.sh" "$STATE" "$BOUNDING" "$UMASK" "$@"; }

# The sandbox itself, checked with a probe in it (whatever the watch does afterwards).
check_sandbox() {
    local out
    out=$(sandboxed bash -c '
        touch /etc/pmw-probe 2>/dev/null && echo etc-writable
        touch "$0/pmw-probe" && echo state-writable && rm -f "$0/pmw-probe"
        ls /root 2>/dev/null | head -1 | grep -q . && echo home-visible
        grep -E "^(NoNewPrivs|CapBnd):" /proc/self/status' "$STATE" 2>&1)
    echo "$out" >"$T/sandbox-probe.txt"
    local want
    want=$(setpriv --bounding-set "$BOUNDING" -- grep '^CapBnd:' /proc/self/status)
    if ! grep -q etc-writable <<<"$out" && grep -q state-writable <<<"$out" &&
        ! grep -q home-visible <<<"$out" && grep -q 'NoNewPrivs:[[:space:]]*1' <<<"$out" &&
        grep -qF "$want" <<<"$out"; then
        pass sandbox "/ read-only, state dir writable, /root hidden, no-new-privs, $want"
    else
        fail sandbox "probe in the sandbox said: $(tr '\n' ' ' <<<"$out")"
    fi
}

# ---------------------------------------------------------------------------------------------
# Drivers: attempts with Postfix lines, the outage, rotation, the flood.
send() {  # send PORT COUNT [GAP]: prints the driver's JSON counts
    at snd "$PY" "$HERE/driver.py" send "$MAILLOG" "$MX4" "$1" "$2" mx1.example.net ${3:+"$3"}
}
forge_on() { at r1 iptables -w -A FORWARD -d "$MX4" -p tcp --dport 25 -j REJECT --reject-with tcp-reset; }
forge_off() { at r1 iptables -w -D FORWARD -d "$MX4" -p tcp --dport 25 -j REJECT --reject-with tcp-reset; }
rotate_rename() {  # what logrotate does without copytruncate: rename, new empty file
    mv "$MAILLOG" "$MAILLOG.1" && : >"$MAILLOG" && chmod 0644 "$MAILLOG"
}
rotate_copytruncate() { cp -p "$MAILLOG" "$MAILLOG.2" && : >"$MAILLOG"; }
ring_bytes() { find "$1" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END{print s+0}'; }
ring_files() { find "$1" -type f 2>/dev/null | wc -l; }
# flood_and_measure RINGDIR: SYNs to port 25 out of the sender's eth0 for FLOOD_SECS, to a
# documentation MAC nobody owns (r1 drops them unseen: no replies, no forwarding), while the
# ring's size is sampled every 0.2 s; the bound is C*W MB plus one snap length per file
# (tcpdump -C checks the size after a write).
flood_and_measure() {
    local ring=$1 smac max=0 maxf=0 b f end
    local bound=$((RING_C * RING_W * 1000000 + RING_W * 262144))
    if [ ! -x "$SYNFLOOD" ]; then fail ring-bound "no $SYNFLOOD (make build/release/tests/bench/synflood)"; return; fi
    smac=$(at snd cat /sys/class/net/eth0/address)
    at snd timeout $((FLOOD_SECS + 10)) "$SYNFLOOD" eth0 "$smac" 00:00:5e:00:53:01 "$FLOOD_RATE" \
        "$FLOOD_SECS" >"$T/synflood.txt" 2>&1 &
    local fpid=$!
    end=$((SECONDS + FLOOD_SECS + 4))
    while [ "$SECONDS" -lt "$end" ]; do
        b=$(ring_bytes "$ring"); f=$(ring_files "$ring")
        [ "$b" -gt "$max" ] && max=$b
        [ "$f" -gt "$maxf" ] && maxf=$f
        sleep 0.2
    done
    wait "$fpid"
    local sent; sent=$(awk '/^sent/{print $2}' "$T/synflood.txt")
    echo "ring max ${max} bytes in ${maxf} files, bound ${bound}; flood: $(cat "$T/synflood.txt")" \
        >"$T/ring.txt"
    if [ "${sent:-0}" -lt $((FLOOD_RATE * FLOOD_SECS / 4)) ]; then
        fail ring-bound "the flood did not run: $(tr '\n' ' ' <"$T/synflood.txt")"
    elif [ "$max" -le "$bound" ] && [ "$maxf" -le "$RING_W" ] && [ "$max" -gt 0 ]; then
        pass ring-bound "$(cat "$T/ring.txt")"
    else
        fail ring-bound "$(cat "$T/ring.txt")"
    fi
}

# ---------------------------------------------------------------------------------------------
# Syslog records as the collector wrote them, parsed (driver.py syslog) into $T/records.json.
parse_records() { "$PY" "$HERE/driver.py" syslog "$COLLECTED" >"$T/records.json" 2>/dev/null; }
# rec_count JQ-FILTER: how many parsed records the filter selects.
rec_count() { parse_records && jq "[.[] | select($1)] | length" "$T/records.json"; }
rec_ge() { local n; n=$(rec_count "$1") && [ "${n:-0}" -ge "$2" ]; }

# =============================================================================================
say "namespaces $PFX-*, temp $T, mode $MODE"
build || { fail topology "could not build the namespaces"; exit 1; }
start_rsyslogs || { fail rsyslog "the relay did not start (see $OUT/last/rsyslog-*.log)"; exit 1; }
start_prometheus || { fail prometheus "did not become ready (see $OUT/last/prometheus.out.log)"; exit 1; }
start_mx || { fail mx "the MX listener did not start"; exit 1; }
sandbox_setup
check_sandbox
pass setup "rsyslog x2, Prometheus, MX in $PFX-*"

if [ "$MODE" = selftest ]; then
    # --- stand-ins: the pieces work without the watch --------------------------------------
    at snd logger --socket "$SOCK" --rfc5424=notq --socket-errors=on -t portmortem -p mail.warning \
        --msgid dest-state '{"type":"dest-state","dest":"203.0.113.10","port":25,"state":"failing"}'
    check syslog-relay "the logger record did not come back through both rsyslogs" \
        wait_for 15 "relayed record" rec_ge '.rfc5424 and .app=="portmortem" and .msgid=="dest-state" and .facility==2 and .severity==4 and .json.state=="failing"' 1
    mkdir -p "$T/www"
    printf 'portmortem_attempts_total{verdict="path-rst",owner="path",port="25"} 9\nportmortem_destinations_failing 0\n' \
        >"$T/www/metrics"
    at snd "$PY" -m http.server --bind "$SND4" --directory "$T/www" "$METRICS_PORT" \
        >"$T/httpserver.out.log" 2>&1 &
    check prometheus-scrape "PromQL did not return 9 from the static file" \
        wait_for 20 "Prometheus scrape" prom_is 'sum(portmortem_attempts_total{verdict="path-rst"})' 9
    r=$(send 25 2); check outage-ok "before: $r" grep -q '"ok": 2' <<<"$r"
    forge_on; r=$(send 25 2); check outage-rst "forged RST: $r" grep -q '"refused": 2' <<<"$r"
    rotate_rename; r=$(send 25 1)
    check rotate-rename "new maillog after rename" grep -q 'Connection refused' "$MAILLOG"
    rotate_copytruncate
    check rotate-copytruncate "maillog not emptied" test ! -s "$MAILLOG"
    forge_off; r=$(send 25 2); check outage-recovered "after: $r" grep -q '"ok": 2' <<<"$r"
    mkdir -p "$STATE/ring"
    at snd timeout $((FLOOD_SECS + 6)) tcpdump -Z root -i eth0 -n -s 262144 -C "$RING_C" -W "$RING_W" \
        -w "$STATE/ring/ring" 'tcp port 25' >"$T/tcpdump.out.log" 2>&1 &
    sleep 1
    flood_and_measure "$STATE/ring"
    echo "watch lab ($MODE): $npass passed, $nfail failed"
    [ "$nfail" = 0 ]; exit
fi

# --- the real run -------------------------------------------------------------------------
if ! "$PORTMORTEM" watch --help >/dev/null 2>&1; then
    fail watch-command "$PORTMORTEM has no working 'watch' command ($("$PORTMORTEM" watch --help 2>&1 | head -1))"
    echo "watch lab: $npass passed, $nfail failed"; exit 1
fi
check unit-sandbox "$UNIT lacks NoNewPrivileges=yes, ProtectSystem=strict, PrivateTmp=yes or ProtectHome=yes" \
    test "$(unit_value NoNewPrivileges) $(unit_value ProtectSystem) $(unit_value PrivateTmp) $(unit_value ProtectHome)" = "yes strict yes yes"
WATCH_ARGS=(watch -i eth0 --state-dir "$STATE" -C "$RING_C" -W "$RING_W" --user "$RUNUSER"
    --mta-log "$MAILLOG" --syslog --syslog-socket "$SOCK" --metrics-listen "$SND4:$METRICS_PORT")
SYSTEMD_UNIT=""
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1 && [ -f "$UNIT" ]; then
    # systemd is PID 1: the unit's own sandboxing directives, given to a transient service in
    # the sender's namespace (NetworkNamespacePath, systemd >= 242). StateDirectory and
    # ReadWritePaths are replaced by the lab's state directory (nothing under /var/lib), and
    # the options file by the lab's command line. Not exercised on the CI machine (no systemd).
    props=()
    while IFS= read -r line; do
        case $line in
            Exec*=*|Type=*|EnvironmentFile=*|StateDirectory*=*|ReadWritePaths=*|Restart*=*|"") ;;
            [A-Z]*=*) props+=(-p "$line") ;;
        esac
    done < <(sed -n '/^\[Service\]/,/^\[/{/^\[/d;s/^[[:space:]]*//;/^#/d;p}' "$UNIT")
    SYSTEMD_UNIT=$PFX-watch.service
    systemd-run --quiet --unit "$SYSTEMD_UNIT" -p RemainAfterExit=yes \
        -p NetworkNamespacePath="/run/netns/$PFX-snd" -p ReadWritePaths="$STATE" \
        -p StandardOutput="file:$T/watch.out.log" -p StandardError="file:$T/watch.err.log" \
        "${props[@]}" -- "$PORTMORTEM" "${WATCH_ARGS[@]}"
    WATCH_PID=$(systemctl show -p MainPID --value "$SYSTEMD_UNIT")
    say "systemd-run $SYSTEMD_UNIT (pid $WATCH_PID) with ${#props[@]} properties from the unit"
else
    # Started straight from this shell (no function, no subshell in between): ip netns exec,
    # unshare, bash and setpriv each exec the next, so $! is the watch itself.
    ip netns exec "$PFX-snd" unshare --mount --propagation private bash "$T/sandbox.sh" "$STATE" \
        "$BOUNDING" "$UMASK" "$PORTMORTEM" "${WATCH_ARGS[@]}" >"$T/watch.out.log" 2>"$T/watch.err.log" &
    WATCH_PID=$!
fi
alive() { kill -0 "$WATCH_PID" 2>/dev/null; }
metrics_up() { at col curl -sf --max-time 2 "http://$SND4:$METRICS_PORT/metrics" >"$T/metrics-first.txt"; }
if ! wait_for 20 "/metrics answering" metrics_up; then
    fail watch-start "no /metrics on $SND4:$METRICS_PORT within 20 s; alive: $(alive && echo yes || echo no); stderr: $(tail -3 "$T/watch.err.log" | tr '\n' ' ')"
    echo "watch lab: $npass passed, $nfail failed"; exit 1
fi
pass watch-start "/metrics answering from the sandboxed watch (pid $WATCH_PID)"
# The running watch: dropped to its user, bounding set and no_new_privs as the unit's.
st=$(cat "/proc/$WATCH_PID/status" 2>/dev/null)
want_bnd=$(setpriv --bounding-set "$BOUNDING" -- grep '^CapBnd:' /proc/self/status)
uid=$(id -u "$RUNUSER")
check watch-privileges "status: $(grep -E '^(Uid|NoNewPrivs|CapBnd|CapEff):' <<<"$st" | tr '\n' ' ')" \
    bash -c '[[ "$0" =~ Uid:[[:space:]]+'"$uid"'[[:space:]] ]] && grep -q "NoNewPrivs:[[:space:]]*1" <<<"$0" && grep -qF "$1" <<<"$0"' "$st" "$want_bnd"
check watch-readonly-root "the watch's / is not read-only" \
    bash -c 'awk '\''$5=="/" {print $6}'\'' /proc/'"$WATCH_PID"'/mountinfo | grep -q "^ro"'
missing_m=""
for m in portmortem_attempts_total portmortem_destinations_failing portmortem_capture_packets_total \
    portmortem_capture_drops_total portmortem_table_usage_ratio portmortem_last_decided_timestamp_seconds \
    portmortem_bundles_written_total portmortem_syslog_suppressed_total; do
    grep -q "^# TYPE $m " "$T/metrics-first.txt" || missing_m="$missing_m $m"
done
check metrics-names "not exposed:$missing_m" test -z "$missing_m"
check prometheus-target-up "Prometheus does not see the target up" \
    wait_for 15 "target up" prom_is 'up{job="portmortem"}' 1

# Phase A: deliveries work.
r=$(send 25 "$N_OK1"); check lab-before "attempts before the outage: $r" grep -q "\"ok\": $N_OK1" <<<"$r"
# Phase B: r1 forges RSTs; three rounds with the MTA log rotated between them.
forge_on
# Each rotation 1.5 s after the round's last line: the watch reads its logs every 200 ms and
# looks for rotation once a second, so a line lost here is lost by the follower, not the race
# that copytruncate has by nature (lines written between the copy and the truncation).
# The refused attempts 1.2 s apart: Postfix stamps its lines to the second, so two attempts to
# one address in the same second could not be told apart by their lines (the engine may then
# rightly attach neither); a real MTA's retries of one destination are farther apart still.
t_b1=$(nowiso); r1=$(send 25 "$N_RST" 1.2)
sleep 1.5; rotate_rename
t_b2=$(nowiso); r2=$(send 25 "$N_RST" 1.2)
sleep 1.5; rotate_copytruncate
t_b3=$(nowiso); r3=$(send 25 "$N_RST" 1.2)
t_c=$(nowiso)
check lab-outage "forged RSTs: $r1 $r2 $r3" bash -c "grep -c '\"refused\": $N_RST' <<<'$r1
$r2
$r3' | grep -qx 3"
# The destination goes failing, with a bundle.
FAILING='.msgid=="dest-state" and .json.type=="dest-state" and .json.state=="failing" and .json.dest=="'$MX4'" and .json.port==25'
# The engine keeps a refused attempt open for its SYN retry span (75 s, analyze/track.c) before
# deciding it, even after the MTA logged that it gave up: wait for all of them (the recovery
# must come after them, or it would come first) and say how long it took.
RST='.msgid=="attempt" and .json.type=="attempt" and .json.dst=="'$MX4'" and .json.dport==25 and .json.verdict=="path-rst"'
t0=$SECONDS
if wait_for "$FAIL_WAIT" "path-rst records" rec_ge "$RST" $((3 * N_RST)); then
    pass syslog-decided "all $((3 * N_RST)) path-rst records at the collector $((SECONDS - t0)) s after the last forged RST"
else
    fail syslog-decided "$(rec_count "$RST") of $((3 * N_RST)) path-rst records at the collector ${FAIL_WAIT} s after the last forged RST"
fi
check syslog-failing "no dest-state failing record for $MX4:25 reached the collector" \
    wait_for 5 "failing record" rec_ge "$FAILING" 1
# Phase C: recovery.
forge_off
sleep 1
r=$(send 25 "$N_OK2")
check lab-after "attempts after the outage: $r" grep -q "\"ok\": $N_OK2" <<<"$r"
RECOVERED='.msgid=="dest-state" and .json.state=="recovered" and .json.dest=="'$MX4'" and .json.port==25 and .severity==5'
check syslog-recovered "no dest-state recovered record (severity notice) for $MX4:25 at the collector" \
    wait_for "$(rec_ge "$FAILING" 1 && echo 25 || echo 5)" "recovered record" rec_ge "$RECOVERED" 1
kill -HUP "$WATCH_PID" 2>/dev/null; sleep 1
check sighup-survives "the watch died on SIGHUP" alive

# Syslog records: every line RFC 5424 from portmortem, facility mail, JSON message.
parse_records
n_all=$(jq length "$T/records.json")
n_bad=$(jq '[.[] | select((.rfc5424 and .app=="portmortem" and .facility==2 and (.msgid=="attempt" or .msgid=="dest-state" or .msgid=="suppressed") and (.json|type)=="object")|not)] | length' "$T/records.json")
check syslog-format "$n_bad of $n_all records are not RFC 5424 portmortem/mail with a JSON message (first: $(jq -c '[.[] | select(.rfc5424|not) ][0]' "$T/records.json"))" \
    test "$n_all" -gt 0 -a "$n_bad" = 0
n=$(rec_count "$RST and .severity==4")
check syslog-path-rst "path-rst attempt records (severity warning): $n, want $((3 * N_RST))" test "$n" = $((3 * N_RST))
n=$(rec_count '.msgid=="attempt" and .json.dst=="'$MX4'" and .json.verdict=="ok" and .severity==6')
check syslog-ok "ok attempt records (severity info): $n, want $((N_OK1 + N_OK2))" test "$n" = $((N_OK1 + N_OK2))
n=$(rec_count "$RST and .json.confidence==\"high\"")
check path-rst-high "path-rst attempts with confidence high (RST 0 hops, MX 2): $n of $((3 * N_RST))" test "$n" = $((3 * N_RST))
# Correlation with the MTA log across both rotations: each round's attempts carry their own
# line (a connect-fail line stamped in the attempt's second or the next: the driver logs it
# right after connect() fails, and the attempts are 1.2 s apart).
for round in "1 $t_b1 $t_b2 before-rotation" "2 $t_b2 $t_b3 after-rename" "3 $t_b3 $t_c after-copytruncate"; do
    set -- $round
    n=$(rec_count "$RST and .json.ts >= \"$2\" and .json.ts < \"$3\" and (.json.mta|type)==\"object\" and (.json.mta.error // \"\" | test(\"Connection refused\")) and (((.json.mta.ts // \"1970-01-01T00:00:00\")[0:19] + \"Z\" | fromdateiso8601) - (.json.ts[0:19] + \"Z\" | fromdateiso8601) | . >= 0 and . <= 1)")
    got=$(jq -r "[.[] | select($RST and .json.ts >= \"$2\" and .json.ts < \"$3\") | \"\\(.json.sport)->\\(.json.mta.file // \"none\" | sub(\".*/\"; \"\")):\\(.json.mta.line // \"-\")\"] | join(\" \")" "$T/records.json")
    check "mta-log-$4" "round $1: $n of $N_RST path-rst attempts carry their Postfix line (sport->file:line: $got)" test "$n" = "$N_RST"
done
# The bundle named in the failing record, accepted by verify.
bundle=$(jq -r "[.[] | select($FAILING) | .json.bundle // empty][0] // empty" "$T/records.json")
if [ -z "$bundle" ]; then
    fail bundle-named "the failing record names no bundle; in $STATE/bundles: $(ls "$STATE/bundles" 2>/dev/null | tr '\n' ' ')"
    bundle=$(find "$STATE/bundles" -mindepth 1 -maxdepth 1 2>/dev/null | head -1)
else
    pass bundle-named "$bundle"
fi
if [ -n "$bundle" ] && [ -e "$bundle" ]; then
    if "$PORTMORTEM" verify "$bundle" >"$T/verify.txt" 2>&1; then
        pass bundle-verify "$(tail -1 "$T/verify.txt")"
    else
        fail bundle-verify "portmortem verify rejected $bundle: $(tail -2 "$T/verify.txt" | tr '\n' ' ')"
    fi
else
    fail bundle-verify "no bundle on disk (${bundle:-none})"
fi
# Prometheus, through its HTTP API, after the outage and the recovery.
Q_RST='sum(portmortem_attempts_total{verdict="path-rst",port="25"})'
Q_OK='sum(portmortem_attempts_total{verdict="ok",port="25"})'
check promql-path-rst "$Q_RST = $(promql "$Q_RST"), want $((3 * N_RST))" \
    wait_for 10 "path-rst count" prom_is "$Q_RST" $((3 * N_RST))
check promql-ok "$Q_OK = $(promql "$Q_OK"), want $((N_OK1 + N_OK2))" \
    wait_for 10 "ok count" prom_is "$Q_OK" $((N_OK1 + N_OK2))
check promql-failing-seen "max_over_time(portmortem_destinations_failing[5m]) = $(promql 'max_over_time(portmortem_destinations_failing[5m])')" \
    prom_ge 'max_over_time(portmortem_destinations_failing[5m])' 1
check promql-failing-now "portmortem_destinations_failing = $(promql portmortem_destinations_failing), want 0" \
    wait_for 10 "failing back to 0" prom_is portmortem_destinations_failing 0
check promql-bundles "portmortem_bundles_written_total = $(promql portmortem_bundles_written_total)" \
    prom_ge portmortem_bundles_written_total 1
for q in "$Q_RST" "$Q_OK" 'max_over_time(portmortem_destinations_failing[5m])' portmortem_destinations_failing \
    portmortem_bundles_written_total; do
    printf '%s = %s\n' "$q" "$(promql "$q")"
done >"$T/promql.txt"
# The flood, the ring under its bound.
flood_and_measure "$STATE/ring"
check watch-survives-flood "the watch died during the flood: $(tail -3 "$T/watch.err.log" | tr '\n' ' ')" alive
at col curl -sf --max-time 3 "http://$SND4:$METRICS_PORT/metrics" >"$T/metrics-last.txt"
# Stop as systemd would: SIGTERM, exit 0 (or 4: a bound was hit, e.g. by the flood), state.json.
kill -TERM "$WATCH_PID" 2>/dev/null
rc=timeout
for _ in $(seq 1 75); do alive || break; sleep 0.2; done
if ! alive; then
    if [ -n "$SYSTEMD_UNIT" ]; then rc=$(systemctl show -p ExecMainStatus --value "$SYSTEMD_UNIT")
    else wait "$WATCH_PID"; rc=$?; fi
fi
check watch-stop "SIGTERM: exit status $rc (want 0 or 4 within 15 s)" bash -c "[ '$rc' = 0 ] || [ '$rc' = 4 ]"
check state-json "no parsable $STATE/state.json" jq -e 'type=="object"' "$STATE/state.json" >/dev/null
echo "watch lab: $npass passed, $nfail failed"
[ "$nfail" = 0 ]
