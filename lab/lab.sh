#!/usr/bin/env bash
# lab/lab.sh — portmortem's network-namespace lab.
#
#   lab/lab.sh list                      scenarios, one a line: name, family, MTA, description
#   lab/lab.sh run NAME OUTDIR           build a private topology, run one scenario, record it
#   lab/lab.sh all OUTDIR [-j N] [NAME..] run every scenario (or the named ones), N at a time
#   lab/lab.sh verify OUTDIR             check a recorded run against its truth.json (wire + log)
#   lab/lab.sh cleanup [--force]         remove what killed runs left behind
#
# LAB_SENDER_HOOK='CMD' runs CMD in the sender's namespace during `run` (see start_hook);
# LAB_PREFIX overrides the namespace prefix (pmlab). lab/README.md has every knob.
# Every run builds its own copy of the topology (lab/README.md) in namespaces named
# pmlab-<runid>-<role>, so runs can go in parallel. Nothing is added to the root namespace:
# veth pairs are created inside a namespace with their peer placed straight into another one.
# A trap tears the run down on every exit, and a separate watchdog process kills the run and
# cleans up after it when it overstays LAB_RUN_LIMIT seconds or dies without cleaning up.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_SELF="$LAB_DIR/lab.sh"
# shellcheck source=lab/scenarios.sh
. "$LAB_DIR/scenarios.sh"

# The namespace prefix: pmlab, or LAB_PREFIX from the environment (a tool that builds the lab's
# topology with these functions for its own purpose, e.g. tests/probe/run.sh with pmprobe, so
# `lab.sh cleanup` never takes its runs for dead lab runs). Exported, so the watchdog and any
# `lab.sh` the run starts use the same one.
LAB_PREFIX=${LAB_PREFIX:-pmlab}
[[ "$LAB_PREFIX" =~ ^[a-z][a-z0-9]{1,15}$ ]] ||
    { echo "lab.sh: LAB_PREFIX must be 2-16 lowercase letters and digits, got '$LAB_PREFIX'" >&2; exit 2; }
readonly LAB_PREFIX
export LAB_PREFIX
LAB_TMP=${LAB_TMP:-/tmp}
RUN_LIMIT=${LAB_RUN_LIMIT:-150}     # seconds one run may take before the watchdog ends it
SETTLE_LIMIT=${LAB_SETTLE_LIMIT:-60} # seconds to wait for the MTA's final status lines
GRACE=${LAB_GRACE:-2}               # seconds the captures keep running after the last event

# ---------------------------------------------------------------------------------------------
# Addresses. Documentation prefixes only (RFC 5737, RFC 3849). The namespaces have no link to
# the root namespace, so lab packets cannot reach a real host even where the machine itself uses
# one of these prefixes (a VM's uplink may well be 192.0.2.0/24: the lab never touches it).
readonly SENDER4=192.0.2.10 NATIN4=192.0.2.1
readonly NATOUT4=198.51.100.2 R1DOWN4=198.51.100.1 R1UP4=198.51.100.5 R2DOWN4=198.51.100.6
readonly R2LAN4=203.0.113.1 MX14=203.0.113.10 MX24=203.0.113.20 DNS4=203.0.113.53
readonly GHOST4=203.0.113.99 NATALT4=198.51.100.99
readonly SENDER6=2001:db8:1::10 NATIN6=2001:db8:1::1
readonly NATOUT6=2001:db8:2::2 R1DOWN6=2001:db8:2::1 R1UP6=2001:db8:3::1 R2DOWN6=2001:db8:3::2
readonly R2LAN6=2001:db8:4::1 MX16=2001:db8:4::10 MX26=2001:db8:4::20 DNS6=2001:db8:4::53
readonly ROLES="sender nat r1 r2 sw mx1 mx2 dns"

log() { printf '%s lab[%s]: %s\n' "$(date +%T)" "${RUNID:-main}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Namespace helpers. ns ROLE prints this run's namespace name for ROLE.
ns() { printf '%s-%s-%s' "$LAB_PREFIX" "$RUNID" "$1"; }
# at ROLE CMD...: run CMD in ROLE's namespace through `ip netns exec`, which also bind-mounts
# /etc/netns/<ns>/resolv.conf over /etc/resolv.conf: that is how each host gets the lab resolver.
at() { local role=$1; shift; ip netns exec "$(ns "$role")" "$@"; }
fw() { local role=$1; shift; at "$role" iptables -w "$@"; }

# link A IFA B IFB: a veth pair created inside A's namespace with its peer put directly into B's,
# so the root namespace never holds either end even for an instant.
link() {
    local a=$1 ifa=$2 b=$3 ifb=$4
    ip -n "$(ns "$a")" link add "$ifa" type veth peer name "$ifb" netns "$(ns "$b")"
    # veth leaves TCP/UDP checksums to "hardware" that never computes them: with TX checksum
    # offload on, every capture shows bad checksums. Off, the kernel fills them in before the tap.
    at "$a" ethtool -K "$ifa" tx off >/dev/null
    at "$b" ethtool -K "$ifb" tx off >/dev/null
    ip -n "$(ns "$a")" link set "$ifa" up
    ip -n "$(ns "$b")" link set "$ifb" up
}
addr() { ip -n "$(ns "$1")" addr add "$3" dev "$2" ${4:+"$4"}; }
addr6() { addr "$1" "$2" "$3" nodad; }  # nodad: usable at once, no 1-2 s DAD wait, no DAD noise
route() { local role=$1; shift; ip -n "$(ns "$role")" route add "$@"; }
route6() { local role=$1; shift; ip -n "$(ns "$role")" -6 route add "$@"; }
sysctls() { local role=$1; shift; at "$role" sysctl -qw "$@" >/dev/null; }

# ---------------------------------------------------------------------------------------------
# Topology:
#   sender --eth0/in0-- nat --out0/down0-- r1 --up0/down0-- r2 --lan0-- [sw: br0] -- mx1, mx2, dns
build_topology() {
    local role
    for role in $ROLES; do
        ip netns add "$(ns "$role")"
        ip -n "$(ns "$role")" link set lo up
        # Set before any interface exists so every interface inherits them: no DAD and no router
        # solicitations (quiet captures, instant addresses), and no reverse-path filter (the
        # ttl-expiry loop and the nat-rewrite return path are asymmetric on purpose).
        sysctls "$role" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
            net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
            net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    done
    # The switch is a plain L2 bridge; without IPv6 on its ports it adds no ND/MLD chatter.
    sysctls sw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    for role in nat r1 r2; do
        sysctls "$role" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    done
    # The sender's SYN retry schedule decides when connect() gives up on silence: set it on
    # purpose (per-namespace sysctls) and record it in the truth file.
    sysctls sender "net.ipv4.tcp_syn_retries=$SYN_RETRIES" \
        "net.ipv4.tcp_syn_linear_timeouts=$SYN_LINEAR"

    link sender eth0 nat in0
    link nat out0 r1 down0
    link r1 up0 r2 down0
    ip -n "$(ns sw)" link add br0 type bridge
    ip -n "$(ns sw)" link set br0 up
    local h
    for h in r2:lan0 mx1:eth0 mx2:eth0 dns:eth0; do
        link sw "p-${h%%:*}" "${h%%:*}" "${h#*:}"
        ip -n "$(ns sw)" link set "p-${h%%:*}" master br0
    done

    addr sender eth0 "$SENDER4/24";  addr6 sender eth0 "$SENDER6/64"
    addr nat in0 "$NATIN4/24";       addr6 nat in0 "$NATIN6/64"
    addr nat out0 "$NATOUT4/30";     addr6 nat out0 "$NATOUT6/64"
    addr r1 down0 "$R1DOWN4/30";     addr6 r1 down0 "$R1DOWN6/64"
    addr r1 up0 "$R1UP4/30";         addr6 r1 up0 "$R1UP6/64"
    addr r2 down0 "$R2DOWN4/30";     addr6 r2 down0 "$R2DOWN6/64"
    addr r2 lan0 "$R2LAN4/24";       addr6 r2 lan0 "$R2LAN6/64"
    addr mx1 eth0 "$MX14/24";        addr6 mx1 eth0 "$MX16/64"
    addr mx2 eth0 "$MX24/24";        addr6 mx2 eth0 "$MX26/64"
    addr dns eth0 "$DNS4/24";        addr6 dns eth0 "$DNS6/64"

    route sender default via "$NATIN4";   route6 sender default via "$NATIN6"
    route nat default via "$R1DOWN4";     route6 nat default via "$R1DOWN6"
    # r1 is the provider: it knows the MX LAN behind r2 and, for IPv6 (no NAT), the sender LAN.
    # It has no default route, so nothing the lab sends can even be aimed at a real address.
    route r1 203.0.113.0/24 via "$R2DOWN4"
    route6 r1 2001:db8:4::/64 via "$R2DOWN6"
    route6 r1 2001:db8:1::/64 via "$NATOUT6"
    route r2 default via "$R1UP4";        route6 r2 default via "$R1UP6"
    for h in mx1 mx2 dns; do
        route "$h" default via "$R2LAN4"; route6 "$h" default via "$R2LAN6"
    done
    # Normal NAT: the sender LAN leaves as the NAT's outside address. IPv6 is routed, not NATed.
    fw nat -t nat -A POSTROUTING -o out0 -s 192.0.2.0/24 -j "${NAT_TARGET[@]}"
}

# ---------------------------------------------------------------------------------------------
# Per-namespace resolver: `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf, so the
# sender's MTA and the MX hosts ask the lab's dnsmasq and never the host's resolver.
write_resolvers() {
    local role
    for role in sender mx1 mx2; do
        mkdir -p "/etc/netns/$(ns "$role")"
        printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$DNS4" \
            >"/etc/netns/$(ns "$role")/resolv.conf"
    done
}

start_dns() {
    local conf=$STATE/dnsmasq.conf
    # --local=/zone/: answer from these records only, NODATA/NXDOMAIN otherwise, never forward
    # (there is no upstream, and a SERVFAIL on an AAAA lookup would stall the MTA).
    cat >"$conf" <<EOF
no-resolv
no-hosts
no-poll
bind-interfaces
listen-address=$DNS4
listen-address=$DNS6
local=/example.net/
local=/submit.example/
local=/arp.example/
local=/v6.example/
local=/sender.example/
local=/2.0.192.in-addr.arpa/
local=/100.51.198.in-addr.arpa/
local=/113.0.203.in-addr.arpa/
local=/8.b.d.0.1.0.0.2.ip6.arpa/
mx-host=example.net,mx1.example.net,10
mx-host=example.net,mx2.example.net,20
host-record=mx1.example.net,$MX14,$MX16
host-record=mx2.example.net,$MX24,$MX26
host-record=dns.example.net,$DNS4,$DNS6
mx-host=submit.example,mx1.example.net,10
mx-host=arp.example,ghost.arp.example,10
host-record=ghost.arp.example,$GHOST4
mx-host=v6.example,mx1.v6.example,10
mx-host=v6.example,mx2.v6.example,20
host-record=mx1.v6.example,$MX16
host-record=mx2.v6.example,$MX26
host-record=sender.example,$SENDER4,$SENDER6
EOF
    ip netns exec "$(ns dns)" dnsmasq --keep-in-foreground --conf-file="$conf" --pid-file= --user=root \
        --log-facility="$STATE/dnsmasq.log" --log-queries </dev/null >>"$STATE/dnsmasq.out" 2>&1 &
}

# ---------------------------------------------------------------------------------------------
# Postfix instances. Each has its own config dir, queue and data dirs and log file; chroot is off
# (the chroot would need copies of resolv.conf and libraries); the host's /etc/postfix is never
# read for configuration and the host instance is never started.
master_cf() {  # master_cf WITH_SMTPD [PORT...]: a minimal master.cf, listeners on PORTs
    local port
    for port in "$@"; do
        [ "$port" = 25 ] && port=smtp
        printf '%-9s inet  n - n - - smtpd\n' "$port"
    done
    cat <<'EOF'
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
tlsmgr    unix  - - n 1000? 1 tlsmgr
EOF
    # tlsmgr (issue 14): the smtp client's TLS needs its entropy and session cache, or it
    # disables TLS ("no entropy for TLS key generation"); it starts only when TLS is used.
}

# postfix_instance ROLE LOGFILE INET_INTERFACES INET_PROTOCOLS MYHOSTNAME [PORT...]
# Writes $STATE/pf-ROLE/{main.cf,master.cf}; extra main.cf lines come from PF_EXTRA_<role>.
postfix_instance() {
    local role=$1 logfile=$2 ifaces=$3 protos=$4 host=$5; shift 5
    local dir=$STATE/pf-$role extra_var="PF_EXTRA_$role"
    # Config, queue and data side by side, not nested: `postfix check` walks the config dir and
    # would flag the postfix-owned queue directories inside it. The data dir is postfix's own.
    mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
    chown postfix: "$dir/data"
    cat >"$dir/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $logfile
maillog_file_prefixes = $(dirname "$logfile")
myhostname = $host
mydomain = ${host#*.}
myorigin = \$myhostname
mydestination =
relayhost =
inet_interfaces = $ifaces
inet_protocols = $protos
alias_maps =
alias_database =
biff = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
${!extra_var:-}
EOF
    master_cf "$@" >"$dir/etc/master.cf"
    # 60 s: `postfix start` runs postconf, postsuper and postlog several times; on a loaded
    # machine (make check's offline lane beside the live lab) 30 s was seen to run out.
    timeout 60 ip netns exec "$(ns "$role")" postfix -c "$dir/etc" start >>"$STATE/postfix-$role.out" 2>&1 ||
        { cat "$STATE/postfix-$role.out" >&2; die "postfix $role did not start"; }
}

start_mx() {  # start_mx ROLE V4 V6: a receiving MX, smtpd on 25 and 587, mail discarded
    local role=$1 v4=$2 v6=$3 ports_var="MX_PORTS_$1" rest_var="PF_EXTRA_$1"
    # The MX accepts anything for anyone and throws it away: it exists to answer SMTP.
    printf -v "$rest_var" '%s\n' \
        "smtpd_peername_lookup = no" "mynetworks = 0.0.0.0/0 [::]/0" \
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" \
        "default_transport = discard:lab" "relay_transport = discard:lab" \
        "smtpd_banner = \$myhostname ESMTP portmortem-lab" "${!rest_var:-}"
    # shellcheck disable=SC2086  # the port list is a word list on purpose
    postfix_instance "$role" "$OUTDIR/$role-maillog" "$v4, [$v6]" all "$role.example.net" \
        ${!ports_var:-25 587}
}

start_sender() {
    local protos=ipv4 ifaces=$SENDER4
    [ "$FAMILY" = ipv6 ] && { protos=all; ifaces="$SENDER4, [$SENDER6]"; }
    # Short timers: a failing connect gives up within 5 s, a silent greeting within 5 s. A
    # deferred message is not retried within the run (backoff 30 s > a run's settle time), so
    # each message makes exactly one delivery attempt and the truth file can list every attempt.
    PF_EXTRA_sender=$(printf '%s\n' \
        "smtp_connect_timeout = 5s" "smtp_helo_timeout = 5s" \
        "queue_run_delay = 30s" "minimal_backoff_time = 30s" "maximal_backoff_time = 60s" \
        "maximal_queue_lifetime = 5m" "bounce_queue_lifetime = 5m" \
        "transport_maps = inline:{submit.example=smtp:[mx1.example.net]:587}" \
        "${PF_EXTRA_sender:-}")
    postfix_instance sender "$OUTDIR/maillog" "$ifaces" "$protos" sender.example
}

# ---------------------------------------------------------------------------------------------
# Captures. tcpdump -U writes each packet as it comes; SIGINT makes it flush and close the file.
CAP_PIDS=()
capture() {  # capture ROLE IFACE FILE
    local err=$STATE/tcpdump-$1-$2.err i
    # `ip netns exec` directly, not through the `at` function: a backgrounded function is a
    # subshell, and $! would be that subshell instead of tcpdump (which then never hears SIGINT).
    ip netns exec "$(ns "$1")" tcpdump -i "$2" -n -s 0 -U -Z root -w "$3" </dev/null 2>"$err" &
    CAP_PIDS+=("$!")
    for i in $(seq 50); do  # wait until it is really listening, or early packets are lost
        grep -q 'listening on' "$err" 2>/dev/null && return 0
        sleep 0.1
    done
    die "tcpdump on $1/$2 did not start (try $i): $(cat "$err")"
}
start_captures() {  # the three captures every run keeps (sender LAN, sender lo, NAT outside)
    capture sender eth0 "$OUTDIR/sender.pcap"
    capture sender lo "$OUTDIR/sender-lo.pcap"
    capture nat out0 "$OUTDIR/nat-outside.pcap"
}
# SIGINT makes tcpdump flush and close its file; wait for that, but never forever.
stop_captures() {
    local pid i alive
    for pid in "${CAP_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
    for i in $(seq 50); do
        alive=0
        for pid in "${CAP_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    [ "$alive" = 1 ] && log "warning: tcpdump still running after SIGINT ($i tries), killing it"
    for pid in "${CAP_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    CAP_PIDS=()
}

# ---------------------------------------------------------------------------------------------
# The sender hook: LAB_SENDER_HOOK, a shell command run (bash -c) in the sender's namespace while
# the scenario happens: a live capture, a probe, anything that must see the run from the sending
# host. Started right after the captures, before mail is submitted; stopped with SIGINT after
# the MTA settled (and LAB_GRACE), before the captures stop. It runs in its own session and
# process group (setsid), so the SIGINT reaches every process of the command, and in the sender
# namespace, so the run's teardown ends whatever is left of it. Its stdout and stderr go to
# hook.out and hook.err in OUTDIR, its exit status to hook.rc (and run.json).
#   LAB_SENDER_HOOK_READY  an extended regex: wait (LAB_HOOK_READY_LIMIT s, 20) until hook.err or
#                          hook.out matches before mail is submitted; the run fails otherwise
#   LAB_HOOK_STOP_LIMIT    seconds to wait after the SIGINT (10), then SIGKILL
# Exported to it: LAB_OUTDIR, LAB_SENDER_MAILLOG (the sender MTA's log), LAB_SCENARIO,
# LAB_FAMILY, LAB_MTA, LAB_RUNID, LAB_SENDER_NS.
HOOK=${LAB_SENDER_HOOK:-}
HOOK_READY=${LAB_SENDER_HOOK_READY:-}
HOOK_READY_LIMIT=${LAB_HOOK_READY_LIMIT:-20}
HOOK_STOP_LIMIT=${LAB_HOOK_STOP_LIMIT:-10}
HOOK_PID="" HOOK_RC=""
start_hook() {
    [ -n "$HOOK" ] || return 0
    log "sender hook: $HOOK"
    # `ip netns exec` and setsid exec in place (setsid forks only when the caller leads its
    # process group, and a background job of a script without job control never does), so $!
    # is the hook's bash and the leader of its own process group.
    LAB_OUTDIR=$OUTDIR LAB_SENDER_MAILLOG=$(mta_log_path) LAB_SCENARIO=$SCENARIO \
        LAB_FAMILY=$FAMILY LAB_MTA=$MTA LAB_RUNID=$RUNID LAB_SENDER_NS=$(ns sender) \
        ip netns exec "$(ns sender)" setsid bash -c "$HOOK" \
        </dev/null >"$OUTDIR/hook.out" 2>"$OUTDIR/hook.err" &
    HOOK_PID=$!
    local i pgid=""
    for i in $(seq 20); do  # until it is the setsid'ed bash (a fraction of a second)
        pgid=$(cat "/proc/$HOOK_PID/stat" 2>/dev/null) && pgid=${pgid##*) } &&
            pgid=$(cut -d' ' -f3 <<<"$pgid")  # after "pid (comm) ": state ppid pgrp
        [ "$pgid" = "$HOOK_PID" ] && break
        alive "$HOOK_PID" || break
        sleep 0.05
    done
    [ "$pgid" = "$HOOK_PID" ] || log "warning: the sender hook is not its own process group (pgid '$pgid'): SIGINT goes to its bash only"
    [ -n "$HOOK_READY" ] || return 0
    for i in $(seq $((HOOK_READY_LIMIT * 10))); do
        # Ready: let the hook's capture run 1.2 s before the first mail. The MTA stamps its
        # lines in whole seconds, so a message queued in the capture's first second has a
        # queue-entry line stamped before the capture began: its refused connect could not
        # be proven inside the window and is (rightly) outside-window, not a verdict. Seen
        # on a loaded run of the live lab (local-fw-reject-rst).
        if grep -qE -- "$HOOK_READY" "$OUTDIR/hook.err" "$OUTDIR/hook.out" 2>/dev/null; then
            sleep 1.2
            return 0
        fi
        alive "$HOOK_PID" || break
        sleep 0.1
    done
    die "the sender hook did not say /$HOOK_READY/ within ${HOOK_READY_LIMIT}s (or ended): $(tail -c 600 "$OUTDIR/hook.err" 2>/dev/null)"
}
# SIGINT to the hook's process group; wait for it (HOOK_STOP_LIMIT), then SIGKILL the group.
stop_hook() {
    [ -n "$HOOK_PID" ] || return 0
    local i pid=$HOOK_PID rc=0
    HOOK_PID=""
    kill -INT -- "-$pid" 2>/dev/null || kill -INT "$pid" 2>/dev/null || true
    for i in $(seq $((HOOK_STOP_LIMIT * 10))); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
        log "warning: the sender hook still runs ${HOOK_STOP_LIMIT}s after SIGINT, killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    HOOK_RC=$rc
    echo "$rc" >"$OUTDIR/hook.rc"
    log "sender hook ended, exit status $rc"
}

# ---------------------------------------------------------------------------------------------
# Teardown, shared by the trap, the watchdog and `cleanup`. Processes are ended by the ids that
# `ip netns pids` reports for this run's namespaces: everything the lab started (Postfix,
# dnsmasq, tcpdump) lives in one of them, and nothing else does.
teardown_run() {  # teardown_run RUNID
    local id=$1 n pid pids=() left
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$LAB_PREFIX-$id-" || true); do
        for pid in $(ip netns pids "$n" 2>/dev/null || true); do pids+=("$pid"); done
    done
    if [ "${#pids[@]}" -gt 0 ]; then
        # tcpdump first with SIGINT so a killed run still leaves readable captures.
        for pid in "${pids[@]}"; do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = tcpdump ] && kill -INT "$pid" 2>/dev/null
        done
        sleep 0.3
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            left=0
            for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
            [ "$left" = 0 ] && break
            sleep 0.2
        done
        kill -KILL "${pids[@]}" 2>/dev/null || true
    fi
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$LAB_PREFIX-$id-" || true); do
        ip netns del "$n" 2>/dev/null || true
    done
    rm -rf "/etc/netns/$LAB_PREFIX-$id-"* 2>/dev/null || true
    if [ -z "${LAB_KEEP:-}" ]; then rm -rf "${LAB_TMP:?}/$LAB_PREFIX-$id"; fi
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    # The hook first (as in a normal run), so that it still sees the packets it was waiting for.
    stop_hook
    [ "${#CAP_PIDS[@]}" -gt 0 ] && stop_captures
    # Save the MX and DNS logs next to the run before the state dir goes.
    [ -f "$STATE/dnsmasq.log" ] && cp "$STATE/dnsmasq.log" "$OUTDIR/dnsmasq.log" 2>/dev/null
    teardown_run "$RUNID"
    [ -n "${WATCHDOG_PID:-}" ] && kill "$WATCHDOG_PID" 2>/dev/null
    exit "$rc"
}

# The watchdog is its own process (not a subshell of the run), so it survives a SIGKILLed run
# and still cleans up after it.
# alive PID: running, not a zombie (a SIGKILLed run stays a zombie until its parent reaps it,
# and kill -0 would call that alive).
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}
# started PID: the process's start time (clock ticks since boot, /proc/PID/stat field 22): with
# the pid it names one process, whatever runs it (a pid alone may have been reused).
started() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    # shellcheck disable=SC2086  # split into fields on purpose
    set -- $stat
    echo "${20}"
}
# write_owner STATE: "PID STARTTIME" of this shell, for `cleanup` to tell a live run from a dead
# one (also for runs of other tools that use the lab's functions under their own LAB_PREFIX).
write_owner() { echo "$$ $(started $$)" >"$1/owner.pid"; }
# owner_alive FILE: the owner recorded in FILE still runs. Old files hold only a pid: then it
# must also look like the lab (lab.sh in its command line).
owner_alive() {
    local pid start
    read -r pid start <"$1" 2>/dev/null || return 1
    [ -n "$pid" ] && alive "$pid" || return 1
    if [ -n "$start" ]; then
        [ "$(started "$pid")" = "$start" ]
    else
        grep -q 'lab.sh' "/proc/$pid/cmdline" 2>/dev/null
    fi
}

cmd_watchdog() {  # _watchdog RUNID PID LIMIT
    local id=$1 pid=$2 limit=$3 ticks=0
    while alive "$pid" && [ "$ticks" -lt $((limit * 2)) ]; do sleep 0.5; ticks=$((ticks + 1)); done
    if alive "$pid"; then
        echo "lab watchdog: run $id exceeded ${limit}s, stopping it" >&2
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 40); do alive "$pid" || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    RUNID=$id teardown_run "$id"
}

# ---------------------------------------------------------------------------------------------
# One scenario run.
cmd_run() {
    [ $# -eq 2 ] || die "usage: lab.sh run NAME OUTDIR"
    local name=$1
    scenario_exists "$name" || die "unknown scenario '$name' (lab.sh list)"
    [ "$(id -u)" = 0 ] || die "the lab needs root (network namespaces)"
    mkdir -p "$2"
    OUTDIR=$(cd "$2" && pwd)
    RUNID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
    STATE=$LAB_TMP/$LAB_PREFIX-$RUNID
    # 755: the Postfix daemons run as user postfix and must reach their queue directories.
    mkdir -m 755 "$STATE"
    write_owner "$STATE"
    rm -f "$OUTDIR"/*.pcap "$OUTDIR"/maillog "$OUTDIR"/*-maillog "$OUTDIR"/truth.json \
        "$OUTDIR"/run.json "$OUTDIR"/command "$OUTDIR"/dnsmasq.log \
        "$OUTDIR"/hook.out "$OUTDIR"/hook.err "$OUTDIR"/hook.rc
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    "$LAB_SELF" _watchdog "$RUNID" $$ "$RUN_LIMIT" </dev/null >/dev/null &  # stderr kept: its notice
    WATCHDOG_PID=$!

    local t0 t1
    t0=$(date +%s.%N)
    # Scenario defaults; the scenario function below changes what it needs.
    FAMILY=ipv4 MTA=postfix DESCRIPTION="" SYN_RETRIES=3 SYN_LINEAR=4
    NAT_TARGET=(MASQUERADE)
    RCPTS=() EXPECT=() SETUP=() RUN_DRIVER="" TRUTH_EXTRA="{}" T_SINCE="" T_UNTIL=""
    EXIM_RETRY_RULE=""  # knob: the Exim sender's retry rule (lab/exim.sh; default F,10m,1m)
    LATER_RCPTS=() LATER_STEPS=0 LATER_FINALS=0 SCOPE_EXPECT=""  # the `later` knob, below
    # Knobs of lab/scenarios.d/hops.sh: traffic to make during the capture (`during`), and
    # what record-fixtures.sh keeps besides its TRIM filter (recorded in run.json).
    DURING=() TRIM_EXTRA=""
    # shellcheck disable=SC2034  # read through ${!name} in start_mx / postfix_instance
    PF_EXTRA_sender="" PF_EXTRA_mx1="" PF_EXTRA_mx2="" MX_PORTS_mx1="25 587" MX_PORTS_mx2="25 587"
    # Knob (issue 14): the ports the truth file tells portmortem to watch (--ports); a
    # scenario that delivers to 465 adds it.
    LAB_PORTS="25 587"
    SCN_PHASE=declare "scn_${name//-/_}"

    log "scenario $name ($FAMILY): $DESCRIPTION"
    # Exim comes from the Debian archive on first use; without it the run cannot happen here,
    # which is a skip (exit 77, as automake's test drivers use it), not a lab failure.
    if [ "$MTA" = exim ] && ! exim_fetch; then
        log "SKIP: exim is not available (apt-get download $EXIM_PKGS failed)"
        exit 77
    fi
    build_topology
    # Record what the kernel really has, not what was asked for.
    SYN_RETRIES=$(at sender sysctl -n net.ipv4.tcp_syn_retries)
    SYN_LINEAR=$(at sender sysctl -n net.ipv4.tcp_syn_linear_timeouts)
    write_resolvers
    start_dns
    # Scenario-specific firewall rules and routes, now that the hosts exist.
    SCN_PHASE=setup "scn_${name//-/_}"
    start_mx mx1 "$MX14" "$MX16"
    start_mx mx2 "$MX24" "$MX26"
    if [ "$MTA" = postfix ]; then start_sender; else start_exim; fi
    wait_dns

    local t_send rcpt
    if [ -n "$RUN_DRIVER" ]; then
        # Knob RUN_DRIVER=FUNCTION (lab/scenarios.d/window.sh): the scenario runs its own
        # timeline instead of "captures, all mail, stop" — it submits mail (submit, settle),
        # starts the captures late (start_captures) and stops them early (stop_captures),
        # and sets T_SINCE/T_UNTIL: whole seconds the captures surely covered (the truth
        # file's window). TRUTH_EXTRA (a JSON object) is merged into truth.json.
        "$RUN_DRIVER"
        t_send=$T_SINCE t1=$T_UNTIL
    else
        start_captures
        start_hook
        run_during
        t_send=$(date +%s.%N)
        for rcpt in "${RCPTS[@]}"; do submit "$rcpt"; done
        settle "${#RCPTS[@]}"
        # A change in the middle of a run (knob `later`, lab/scenarios.d/scope.sh): once the
        # first messages reached their final status, the scenario's `later` commands run (a
        # rule removed, a queue flush), then its `send_later` messages go out, and the run
        # waits for LATER_FINALS final status lines in all (default: one per message sent).
        if [ "$LATER_STEPS" -gt 0 ] || [ "${#LATER_RCPTS[@]}" -gt 0 ]; then
            sleep 1 # the change comes visibly after the first attempts in the captures
            SCN_PHASE=later "scn_${name//-/_}"
            for rcpt in "${LATER_RCPTS[@]}"; do submit "$rcpt"; done
            settle "$(( LATER_FINALS > 0 ? LATER_FINALS : ${#RCPTS[@]} + ${#LATER_RCPTS[@]} ))"
        fi
        sleep "$GRACE"
        stop_hook
        stop_captures
        t1=$(date +%s.%N)
    fi
    stop_mtas

    write_truth "$t_send" "$t1"
    write_run_json "$name" "$t0" "$t_send" "$t1"
    log "done in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s -> $OUTDIR"
}

wait_dns() {  # the resolver must answer before mail goes out, or the first attempt is a DNS one
    local i
    for i in $(seq 50); do
        at sender getent hosts mx1.example.net >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "lab DNS does not answer: $(tail -3 "$STATE/dnsmasq.out" 2>/dev/null)"
}

submit() {
    local rcpt=$1
    if [ "$MTA" = postfix ]; then
        printf 'From: sender@sender.example\nTo: %s\nSubject: portmortem lab %s\n\nlab test\n' \
            "$rcpt" "$SCENARIO" |
            timeout 20 ip netns exec "$(ns sender)" sendmail -C "$STATE/pf-sender/etc" \
                -f sender@sender.example -- "$rcpt"
    else
        exim_submit "$rcpt"
    fi
}

# settle N: wait until the MTA has logged a final status for N messages (one delivery attempt
# each), bounded by SETTLE_LIMIT.
settle() {
    local want=$1 i have=0 pattern='status=(sent|deferred|bounced)'
    [ "$MTA" = exim ] && pattern=' (=>|==|\*\*) '
    for i in $(seq $((SETTLE_LIMIT * 5))); do
        have=$(grep -cE "$pattern" "$(mta_log_path)" 2>/dev/null || true)
        [ "${have:-0}" -ge "$want" ] && return 0
        sleep 0.2
    done
    log "warning: only ${have:-0} of $want messages reached a final status in ${SETTLE_LIMIT}s"
}
mta_log_path() { if [ "$MTA" = exim ]; then mta_log_path_exim; else echo "$OUTDIR/maillog"; fi; }

stop_mtas() {
    local role
    for role in sender mx1 mx2; do
        [ -d "$STATE/pf-$role" ] &&
            timeout 20 ip netns exec "$(ns "$role")" postfix -c "$STATE/pf-$role/etc" stop >/dev/null 2>&1
    done
    [ "$MTA" = exim ] && exim_stop
    return 0
}

# write_truth SINCE UNTIL: the captures ran from before SINCE (mail submitted) to UNTIL
# (captures stopped). A pcap does not record when capture stopped, so the window, the ports
# the lab's MTA uses and the addresses mail must leave from go into the truth file: the tests
# pass them to portmortem (--since/--until, --ports, --expect-source) as an operator would.
write_truth() {
    local log_name=maillog since=$1 until=$2
    [ "$MTA" = exim ] && log_name=exim-mainlog
    printf '%s\n' "${EXPECT[@]}" | jq -s \
        --arg scenario "$SCENARIO" --arg family "$FAMILY" --arg mta "$MTA" \
        --arg description "$DESCRIPTION" --arg log "$log_name" \
        --argjson retries "$SYN_RETRIES" --argjson linear "$SYN_LINEAR" \
        --argjson since "$since" --argjson until "$until" \
        --arg src4 "$NATOUT4" --arg src6 "$SENDER6" --argjson extra "${TRUTH_EXTRA:-{\}}" \
        --arg ports "$LAB_PORTS" \
        '{scenario: $scenario, family: $family, mta: $mta, description: $description,
          sysctl: {tcp_syn_retries: $retries, tcp_syn_linear_timeouts: $linear},
          captures: {sender: "sender.pcap", "nat-outside": "nat-outside.pcap"},
          extra_captures: {"sender-lo": "sender-lo.pcap"},
          window: {since: ($since | floor), until: ($until | ceil)},
          ports: ($ports | split(" ") | map(tonumber)), expect_source: [$src4, $src6],
          mta_log: $log, expect: .} + $extra' >"$OUTDIR/truth.json"
    if [ -n "$SCOPE_EXPECT" ]; then  # expect_scope (lab/scenarios.d/scope.sh)
        jq --argjson scope "$SCOPE_EXPECT" '. + {scope: $scope}' "$OUTDIR/truth.json" \
            >"$OUTDIR/truth.json.tmp" && mv "$OUTDIR/truth.json.tmp" "$OUTDIR/truth.json"
    fi
}

write_run_json() {
    local name=$1 t0=$2 ts=$3 t1=$4 cmdline
    cmdline="lab/lab.sh run $name $OUTDIR"
    printf '%s\n' "$cmdline" >"$OUTDIR/command"
    printf '%s\n' "${SETUP[@]}" | jq -R 'select(length > 0)' | jq -s \
        --arg cmd "$cmdline" --arg runid "$RUNID" --arg kernel "$(uname -r)" \
        --arg mta_version "$(mta_version)" --arg date "$(date -u +%FT%TZ)" \
        --argjson t0 "$t0" --argjson ts "$ts" --argjson t1 "$t1" \
        --argjson retries "$SYN_RETRIES" --argjson linear "$SYN_LINEAR" \
        --arg prefix "$LAB_PREFIX-$RUNID-" --arg hook "$HOOK" --arg hook_rc "$HOOK_RC" \
        --arg trim_extra "$TRIM_EXTRA" \
        '{command: $cmd, runid: $runid, namespace_prefix: $prefix, date: $date,
          kernel: $kernel, mta_version: $mta_version,
          sysctl: {"net.ipv4.tcp_syn_retries": $retries,
                   "net.ipv4.tcp_syn_linear_timeouts": $linear},
          started: $t0, mail_submitted: $ts, captures_stopped: $t1,
          seconds: (($t1 - $t0) * 10 | round / 10), scenario_setup: .}
         + (if $hook == "" then {} else {sender_hook: {command: $hook,
              exit_status: ($hook_rc | tonumber? // null)}} end)
         + (if $trim_extra == "" then {} else {trim_extra: $trim_extra} end)' >"$OUTDIR/run.json"
}
mta_version() {
    if [ "$MTA" = exim ]; then exim_version; else postconf -d -h mail_version 2>/dev/null; fi
}

# ---------------------------------------------------------------------------------------------
# Vocabulary for lab/scenarios.sh. In the declare phase only the variables are set; in the setup
# phase the commands run (and are recorded in run.json, so the README shows what was done).
describe() { FAMILY=$1; DESCRIPTION=$2; }
send() { RCPTS+=("$@"); }
setup() {  # setup ROLE CMD...: run CMD in ROLE's namespace during the setup phase
    [ "$SCN_PHASE" = setup ] || return 0
    SETUP+=("$1: ${*:2}")
    at "$@"
}
# later ROLE CMD...: run CMD in ROLE's namespace after the first messages settled (recorded
# in run.json as "later ROLE: CMD"); send_later RCPT...: messages submitted after that.
later() {
    case $SCN_PHASE in
        declare) LATER_STEPS=$((LATER_STEPS + 1)) ;;
        later) SETUP+=("later $1: ${*:2}"); at "$@" ;;
    esac
    return 0
}
send_later() { [ "$SCN_PHASE" = declare ] && LATER_RCPTS+=("$@"); return 0; }
# expect_scope SCOPE EXIT [DST=STATE...]: what the run's summary must say (scope word, exit
# status) and the state of destinations (scope.c); goes into truth.json as "scope".
expect_scope() {
    [ "$SCN_PHASE" = declare ] || return 0
    local scope=$1 exit=$2 states="{}" kv
    shift 2
    for kv in "$@"; do
        states=$(jq -c --arg k "${kv%%=*}" --arg v "${kv#*=}" '. + {($k): $v}' <<<"$states")
    done
    SCOPE_EXPECT=$(jq -nc --arg scope "$scope" --argjson exit "$exit" --argjson states "$states" \
        '{scope: $scope, exit: $exit, states: $states}')
}
# during ROLE 'SHELL COMMAND': run it in ROLE's namespace once the captures listen, before the
# mail is submitted, bounded by 15 s: traffic a scenario needs in the capture besides the mail
# (another connection to the MX on a port the attempt filter ignores: a hop reference). Shown
# in run.json's scenario_setup as "ROLE (during the capture): COMMAND".
during() {
    [ "$SCN_PHASE" = declare ] || return 0
    DURING+=("$1" "$2")
}
run_during() {
    local i role
    for ((i = 0; i < ${#DURING[@]}; i += 2)); do
        role=${DURING[i]}
        SETUP+=("$role (during the capture): ${DURING[i + 1]}")
        timeout 15 ip netns exec "$(ns "$role")" bash -c "${DURING[i + 1]}" </dev/null \
            >/dev/null 2>&1 || log "warning: '${DURING[i + 1]}' in $role failed"
    done
}
# expect DST DPORT OUTCOME VERDICT OWNER CULPRIT [KEY-JSON] [VANTAGE] [NTH]
# NTH (1, 2, ...): the row is about the NTH attempt to DST:DPORT in time (a scenario that
# tries the same destination more than once); without it, about every attempt to it.
# CULPRIT "-" when there is none (success). KEY holds the decisive evidence (ICMP type/code,
# RST TTL, banner code, MTA error text) that `lab.sh verify` checks on the wire and in the log.
expect() {
    [ "$SCN_PHASE" = declare ] || return 0
    local culprit=${6:--}
    EXPECT+=("$(jq -nc --arg dst "$1" --argjson dport "$2" --arg outcome "$3" --arg verdict "$4" \
        --arg owner "$5" --arg culprit "$culprit" --argjson key "${7:-{\}}" \
        --arg vantage "${8:-sender}" --arg nth "${9:-}" \
        '{dst: $dst, dport: $dport, outcome: $outcome, verdict: $verdict, owner: $owner,
          culprit: (if $culprit == "-" then null else $culprit end), vantage: $vantage,
          key: $key} + (if $nth == "" then {} else {nth: ($nth | tonumber)} end)')")
}

# ---------------------------------------------------------------------------------------------
cmd_list() {
    local s
    for s in "${SCENARIOS[@]}"; do
        FAMILY=ipv4 DESCRIPTION="" MTA=postfix
        SCN_PHASE=list "scn_${s//-/_}"
        printf '%-30s %-5s %-8s %s\n' "$s" "$FAMILY" "$MTA" "$DESCRIPTION"
    done
}
scenario_exists() { local s; for s in "${SCENARIOS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

stop_children() {
    local p
    for p in "${pid_of[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait
}

# all OUTDIR [-j N] [NAME...]: each scenario in its own run (own namespaces), N at a time.
cmd_all() {
    [ $# -ge 1 ] || die "usage: lab.sh all OUTDIR [-j N] [NAME...]"
    local out=$1 jobs=4 names=() n
    shift
    while [ $# -gt 0 ]; do
        case $1 in
            -j) jobs=$2; shift 2 ;;
            -j*) jobs=${1#-j}; shift ;;
            *) scenario_exists "$1" || die "unknown scenario '$1'"; names+=("$1"); shift ;;
        esac
    done
    [ "${#names[@]}" -gt 0 ] || names=("${SCENARIOS[@]}")
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    declare -gA pid_of=()
    local t0 running=0 failed=0
    t0=$(date +%s)
    # Children clean up after themselves (trap + watchdog); on INT/TERM pass the signal on.
    trap 'stop_children; exit 130' INT TERM
    for n in "${names[@]}"; do
        while [ "$running" -ge "$jobs" ]; do wait -n || true; running=$((running - 1)); done
        mkdir -p "$out/$n"
        # timeout bounds the run even if its watchdog were gone; -k: hard kill after 15 s more.
        timeout -k 15 "$((RUN_LIMIT + 20))" "$LAB_SELF" run "$n" "$out/$n" >"$out/$n/lab.log" 2>&1 &
        pid_of[$n]=$!
        running=$((running + 1))
    done
    local results=() rc secs skipped=0 note
    for n in "${names[@]}"; do
        rc=0
        wait "${pid_of[$n]}" || rc=$?
        secs=$(jq -r '.seconds // "?"' "$out/$n/run.json" 2>/dev/null || echo "?")
        note=""
        case $rc in
            0) ;;
            77) skipped=$((skipped + 1)); note="skipped: $(grep -o 'SKIP: .*' "$out/$n/lab.log" | head -1)" ;;
            *) failed=$((failed + 1)); note="failed, see $out/$n/lab.log" ;;
        esac
        printf '%-30s rc=%-3s %6ss %s\n' "$n" "$rc" "$secs" "$note"
        results+=("$(jq -nc --arg n "$n" --argjson rc "$rc" --arg s "$secs" '{scenario:$n,rc:$rc,seconds:$s}')")
    done
    trap - INT TERM
    local total=$(( $(date +%s) - t0 ))
    printf '%s\n' "${results[@]}" | jq -s --argjson total "$total" --argjson jobs "$jobs" \
        '{jobs: $jobs, total_seconds: $total, runs: .}' >"$out/all.json"
    echo "all: ${#names[@]} runs, $failed failed, $skipped skipped, ${total}s with -j $jobs"
    [ "$failed" = 0 ]
}

# cleanup [--force]: remove namespaces, /etc/netns dirs, processes and temp dirs of lab runs whose
# owner is gone. --force also takes runs that are still going.
cmd_cleanup() {
    local force=0 id ids=() owner n
    [ "${1:-}" = --force ] && force=1
    [ "$(id -u)" = 0 ] || die "cleanup needs root"
    for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$LAB_PREFIX-" || true); do
        id=${n#"$LAB_PREFIX"-}; ids+=("${id%%-*}")
    done
    for n in /etc/netns/"$LAB_PREFIX"-* "$LAB_TMP"/"$LAB_PREFIX"-*; do
        [ -e "$n" ] || continue
        id=${n##*/}; id=${id#"$LAB_PREFIX"-}; ids+=("${id%%-*}")
    done
    [ "${#ids[@]}" -gt 0 ] || { echo "cleanup: nothing to do"; return 0; }
    for id in $(printf '%s\n' "${ids[@]}" | sort -u); do
        owner=$(awk '{print $1; exit}' "$LAB_TMP/$LAB_PREFIX-$id/owner.pid" 2>/dev/null || true)
        if [ "$force" = 0 ] && owner_alive "$LAB_TMP/$LAB_PREFIX-$id/owner.pid"; then
            echo "cleanup: run $id is still running (pid $owner); --force to remove it anyway"
            continue
        fi
        if [ -n "$owner" ] && [ "$force" = 1 ]; then kill -TERM "$owner" 2>/dev/null || true; fi
        RUNID=$id LAB_KEEP='' teardown_run "$id"
        echo "cleanup: removed run $id"
    done
}

# ---------------------------------------------------------------------------------------------
# Exim (issue 4) lives in its own file; it is only sourced here so `run` can call it.
# shellcheck source=lab/exim.sh
. "$LAB_DIR/exim.sh"
# shellcheck source=lab/verify.sh
. "$LAB_DIR/verify.sh"

main() {
    local cmd=${1:-}
    [ $# -gt 0 ] && shift
    case $cmd in
        list) cmd_list ;;
        run) SCENARIO=${1:-}; cmd_run "$@" ;;
        all) cmd_all "$@" ;;
        verify) cmd_verify "$@" ;;
        cleanup) cmd_cleanup "$@" ;;
        _watchdog) cmd_watchdog "$@" ;;
        *) sed -n '2,8s/^# \{0,1\}//p' "$LAB_SELF" >&2; exit 2 ;;
    esac
}
# Sourced (`. lab/lab.sh`, for its functions, as tests/probe/run.sh does): define, do not run.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
