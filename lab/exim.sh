# lab/exim.sh — Exim as the sending MTA (issue 4), sourced by lab/lab.sh.
# shellcheck shell=bash
#
# Debian's exim4 packages conflict with postfix, so they are never installed: `apt-get download`
# fetches exim4-daemon-light (and libidn12, the one library it needs that the host lacks) into
# a cache, `dpkg-deb -x` unpacks them there, and the binary runs from the cache with its own
# configuration (-C), spool directory and log directory.
#
# The binary has the user "Debian-exim" compiled in and refuses to start without it. Rather than
# add a user to the host, the sender namespace gets its own /etc/passwd and /etc/group copies
# with that user in /etc/netns/<ns>/, which `ip netns exec` bind-mounts (like resolv.conf) for
# the processes it starts; they go when the namespace's /etc/netns directory is removed.

EXIM_CACHE=${LAB_EXIM_CACHE:-/var/cache/portmortem-lab}
EXIM_UID=64990   # uid/gid of Debian-exim inside the sender namespace only
EXIM_PKGS="exim4-daemon-light libidn12"

exim_bin() { echo "$EXIM_CACHE/exim/root/usr/sbin/exim4"; }
# Exim re-executes itself (exim_path) for each delivery with a scrubbed environment, so the
# loader's path to the unpacked libidn must come from a wrapper, not from the caller's env.
exim_wrapper() { echo "$EXIM_CACHE/exim/exim4"; }
exim_libs() { echo "$EXIM_CACHE/exim/root/usr/lib/x86_64-linux-gnu"; }

# Fetch and unpack once; flock because parallel runs may all want it at the same moment.
# Called as a condition (set -e is off there), so every step checks for itself.
exim_fetch() {
    mkdir -p "$EXIM_CACHE" || return 1
    (
        flock 9 || exit 1
        [ -x "$(exim_wrapper)" ] && exit 0
        rm -rf "$EXIM_CACHE/exim"
        mkdir -p "$EXIM_CACHE/exim/debs" && cd "$EXIM_CACHE/exim/debs" || exit 1
        # shellcheck disable=SC2086  # a word list of package names
        if ! apt-get download $EXIM_PKGS >/dev/null 2>&1; then
            apt-get update -qq >/dev/null 2>&1
            # shellcheck disable=SC2086
            apt-get download $EXIM_PKGS >/dev/null 2>&1 ||
                { echo "apt-get download $EXIM_PKGS failed" >&2; exit 1; }
        fi
        for deb in ./*.deb; do dpkg-deb -x "$deb" "$EXIM_CACHE/exim/root" || exit 1; done
        # The lab always runs exim as root. Unpacked setuid, the loader would run its re-execs
        # in secure mode and ignore LD_LIBRARY_PATH (then libidn is not found).
        chmod u-s,g-s "$(exim_bin)" || exit 1
        dpkg-deb -f ./exim4-daemon-light_*.deb Version >"$EXIM_CACHE/exim/version"
        missing=$(LD_LIBRARY_PATH=$(exim_libs) ldd "$(exim_bin)" | awk '/not found/{print $1}')
        [ -z "$missing" ] || { echo "exim needs libraries not on this host: $missing" >&2; exit 1; }
        # Written last: its presence means the cache is complete.
        printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$(exim_libs)" "$(exim_bin)" \
            >"$(exim_wrapper)" && chmod 755 "$(exim_wrapper)"
    ) 9>"$EXIM_CACHE/exim.lock"
}

exim_version() { echo "exim $(cat "$EXIM_CACHE/exim/version" 2>/dev/null || echo unknown)"; }
exim_dir() { echo "$STATE/exim"; }
mta_log_path_exim() { echo "$(exim_dir)/log/exim-mainlog"; }

start_exim() {
    local d etc
    d=$(exim_dir)
    etc=/etc/netns/$(ns sender)
    mkdir -p "$d/spool" "$d/log" "$etc"
    chown -R "$EXIM_UID:$EXIM_UID" "$d/spool" "$d/log"
    cp /etc/passwd "$etc/passwd"
    cp /etc/group "$etc/group"
    echo "Debian-exim:x:$EXIM_UID:$EXIM_UID:exim (portmortem lab):/nonexistent:/usr/sbin/nologin" >>"$etc/passwd"
    echo "Debian-exim:x:$EXIM_UID:" >>"$etc/group"
    local v6=true
    [ "$FAMILY" = ipv6 ] && v6=false
    cat >"$d/exim.conf" <<EOF
exim_path = $(exim_wrapper)
keep_environment =
primary_hostname = sender.example
qualify_domain = sender.example
spool_directory = $d/spool
log_file_path = $d/log/exim-%slog
# outgoing_port: the per-host lines carry [address]:port, like Postfix's.
log_selector = +outgoing_port +outgoing_interface +delivery_size
disable_ipv6 = $v6
local_interfaces = <; $SENDER4 ; $SENDER6
trusted_users = root
never_users =
queue_only = false

begin routers
dnslookup:
  driver = dnslookup
  transport = remote_smtp
  ignore_target_hosts = <; 0.0.0.0 ; 127.0.0.0/8 ; ::1
  no_more

begin transports
remote_smtp:
  driver = smtp
  # Like the Postfix sender: give up a silent connect or a silent greeting after 5 s.
  connect_timeout = 5s
  command_timeout = 5s
  hosts_avoid_tls = *

begin retry
${EXIM_RETRY_RULE:-*  *  F,10m,1m}
EOF
    chmod 644 "$d/exim.conf"
}

exim_submit() {
    # -odb: accept, then deliver in a background process, as a queueing MTA does.
    printf 'From: sender@sender.example\nTo: %s\nSubject: portmortem lab %s\n\nlab test\n' \
        "$1" "$SCENARIO" |
        timeout 20 ip netns exec "$(ns sender)" "$(exim_wrapper)" -C "$(exim_dir)/exim.conf" ${LAB_EXIM_DEBUG:+-d} -odb \
            -f sender@sender.example -- "$1" 2>>"$(exim_dir)/submit.err"
}

exim_stop() {
    local f
    for f in "$(exim_dir)"/log/exim-*log; do
        [ -f "$f" ] && cp "$f" "$OUTDIR/${f##*/}"
    done
    return 0
}
