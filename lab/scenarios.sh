# lab/scenarios.sh — the lab's scenario table, sourced by lab/lab.sh.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the knobs set here are read by lab.sh
#
# One function per scenario, a few declarative lines each:
#   describe FAMILY TEXT           ipv4 or ipv6, and what the scenario does
#   send RCPT...                   one message per recipient (example.net: MX mx1 then mx2;
#                                  submit.example: transport smtp:[mx1.example.net]:587;
#                                  arp.example: MX ghost 203.0.113.99; v6.example: AAAA-only MXs)
#   setup ROLE CMD...              a firewall rule or route in one host (sender nat r1 r2 mx1 mx2)
#   expect DST DPORT OUTCOME VERDICT OWNER CULPRIT [KEY]
#                                  one row of truth.json per destination address and port
# Knobs (plain assignments): NAT_TARGET=(...) the NAT's POSTROUTING target; MX_PORTS_mx1="587"
# the ports mx1's smtpd listens on; PF_EXTRA_<role> extra main.cf lines; MTA=exim.
#
# The outcome/verdict/owner words are the output contract's (JSONL `attempt` objects).
# CULPRIT is whoever caused it: the router's sender-facing address for its ICMP or forged RST,
# the MX's address, the sender's own address for local causes, the NAT's unexpected public
# address, the NAT's inside address when it drops. KEY holds the decisive evidence that
# `lab.sh verify` checks in the capture and the MTA log.

SCENARIOS=(
    success local-fw-drop local-fw-reject-rst local-fw-reject-icmp
    local-route-none local-route-prohibit local-route-unreachable
    nat-drop nat-rewrite
    transit-admin-prohibited transit-host-unreachable transit-net-unreachable transit-forged-rst
    mx-no-listener mx-silent-drop mx-icmp tarpit greeting-554 greeting-421
    provider-block arp-failure ttl-expiry
    v6-success v6-mx-no-listener v6-transit-admin-prohibited v6-mx-silent-drop
    v6-local-fw-reject v6-local-route-prohibit
    exim-mx-no-listener exim-mx-silent-drop exim-local-fw-drop exim-transit-host-unreachable
)

# Used by several rows: mx2 answers normally after mx1 failed.
mx2_delivers() { expect "$MX24" 25 connected ok none - '{"banner_code":220,"mta_error":"status=sent"}'; }
mx2_delivers6() { expect "$MX26" 25 connected ok none - '{"banner_code":220,"mta_error":"status=sent"}'; }
# Both MX addresses fail the same way (the cause sits before the MX LAN).
both_mx() { expect "$MX14" 25 "$@"; expect "$MX24" 25 "$@"; }
both_mx6() { expect "$MX16" 25 "$@"; expect "$MX26" 25 "$@"; }
recipient() { [ "$SCN_PHASE" = declare ] && send "$@"; return 0; }

scn_success() {
    describe ipv4 "normal delivery to mx1"
    recipient user@example.net
    expect "$MX14" 25 connected ok none - '{"banner_code":220,"mta_error":"status=sent"}'
}

# --- the sender's own host --------------------------------------------------------------------
scn_local_fw_drop() {
    describe ipv4 "sender OUTPUT drops tcp dport 25: connect() retransmits into the drop (no SYN reaches the tap) and times out"
    recipient user@example.net
    setup sender iptables -w -A OUTPUT -p tcp --dport 25 -j DROP
    both_mx not-on-wire local-firewall sender-host "$SENDER4" '{"mta_error":"Connection timed out"}'
}
scn_local_fw_reject_rst() {
    describe ipv4 "sender OUTPUT rejects tcp dport 25 with tcp-reset: the RST is seen on loopback only"
    recipient user@example.net
    setup sender iptables -w -A OUTPUT -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    both_mx not-on-wire local-firewall sender-host "$SENDER4" '{"mta_error":"Connection refused","loopback":"rst"}'
}
scn_local_fw_reject_icmp() {
    describe ipv4 "sender OUTPUT rejects tcp dport 25 (icmp-port-unreachable, seen on loopback only)"
    recipient user@example.net
    setup sender iptables -w -A OUTPUT -p tcp --dport 25 -j REJECT
    both_mx not-on-wire local-firewall sender-host "$SENDER4" '{"mta_error":"Connection refused","loopback":"icmp"}'
}
scn_local_route_none() {
    describe ipv4 "sender has no route to the MX LAN (default route removed, only a host route to the DNS server)"
    recipient user@example.net
    setup sender ip route del default
    setup sender ip route add "$DNS4/32" via "$NATIN4"
    both_mx not-on-wire local-routing sender-host "$SENDER4" '{"mta_error":"Network is unreachable"}'
}
scn_local_route_prohibit() {
    describe ipv4 "sender has 'prohibit' routes for both MX addresses (EACCES)"
    recipient user@example.net
    setup sender ip route add prohibit "$MX14/32"
    setup sender ip route add prohibit "$MX24/32"
    both_mx not-on-wire local-routing sender-host "$SENDER4" '{"mta_error":"Permission denied"}'
}
scn_local_route_unreachable() {
    describe ipv4 "sender has 'unreachable' routes for both MX addresses (EHOSTUNREACH)"
    recipient user@example.net
    setup sender ip route add unreachable "$MX14/32"
    setup sender ip route add unreachable "$MX24/32"
    both_mx not-on-wire local-routing sender-host "$SENDER4" '{"mta_error":"No route to host"}'
}

# --- the sender's network (NAT router) --------------------------------------------------------
scn_nat_drop() {
    describe ipv4 "the NAT router's FORWARD chain drops tcp dport 25: SYNs leave the sender, none leave the NAT"
    recipient user@example.net
    setup nat iptables -w -A FORWARD -p tcp --dport 25 -j DROP
    both_mx no-response nat-drop sender-network "$NATIN4" '{"mta_error":"Connection timed out","nat_outside_syns":0}'
}
scn_nat_rewrite() {
    describe ipv4 "the NAT SNATs to 198.51.100.99 instead of its own address; both MX reset connections from that source"
    NAT_TARGET=(SNAT --to-source "$NATALT4")
    recipient user@example.net
    setup r1 ip route add "$NATALT4/32" via "$NATOUT4"
    setup mx1 iptables -w -A INPUT -s "$NATALT4" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    setup mx2 iptables -w -A INPUT -s "$NATALT4" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    both_mx refused nat-rewrite sender-network "$NATALT4" '{"mta_error":"Connection refused","rst_ttl":61,"public_src":"198.51.100.99"}'
}

# --- the path -----------------------------------------------------------------------------------
scn_transit_admin_prohibited() {
    describe ipv4 "transit router r1 rejects tcp dport 25 with ICMP 3/13 admin-prohibited"
    recipient user@example.net
    setup r1 iptables -w -A FORWARD -p tcp --dport 25 -j REJECT --reject-with icmp-admin-prohibited
    both_mx icmp-unreachable path-icmp path "$R1DOWN4" '{"icmp_type":3,"icmp_code":13,"mta_error":"No route to host"}'
}
scn_transit_host_unreachable() {
    describe ipv4 "transit router r1 rejects tcp dport 25 with ICMP 3/1 host-unreachable"
    recipient user@example.net
    setup r1 iptables -w -A FORWARD -p tcp --dport 25 -j REJECT --reject-with icmp-host-unreachable
    both_mx icmp-unreachable path-icmp path "$R1DOWN4" '{"icmp_type":3,"icmp_code":1,"mta_error":"No route to host"}'
}
scn_transit_net_unreachable() {
    describe ipv4 "transit router r1 rejects tcp dport 25 with ICMP 3/0 net-unreachable"
    recipient user@example.net
    setup r1 iptables -w -A FORWARD -p tcp --dport 25 -j REJECT --reject-with icmp-net-unreachable
    both_mx icmp-unreachable path-icmp path "$R1DOWN4" '{"icmp_type":3,"icmp_code":0,"mta_error":"Network is unreachable"}'
}
scn_transit_forged_rst() {
    describe ipv4 "r2 forges a RST for mx1/mx2 port 25 (TTL one hop higher than the MX's own); port 587 to mx1 passes and shows the MX's real TTL"
    recipient user@example.net user@submit.example
    setup r2 iptables -w -A FORWARD -d "$MX14" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    setup r2 iptables -w -A FORWARD -d "$MX24" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    # mx1 also talks on 587 in this run, so its genuine TTL (61) is in the same capture.
    expect "$MX14" 25 refused path-rst path "$R2DOWN4" '{"mta_error":"Connection refused","rst_ttl":62,"dst_ttl":61}'
    expect "$MX24" 25 refused path-rst path "$R2DOWN4" '{"mta_error":"Connection refused","rst_ttl":62}'
    expect "$MX14" 587 connected ok none - '{"banner_code":220,"mta_error":"status=sent"}'
}
scn_provider_block() {
    describe ipv4 "provider router r1 silently drops tcp dport 25 to everything; port 587 to mx1 passes"
    recipient user@example.net user@submit.example
    setup r1 iptables -w -A FORWARD -p tcp --dport 25 -j DROP
    both_mx no-response provider-block provider "$R1DOWN4" '{"mta_error":"Connection timed out"}'
    expect "$MX14" 587 connected ok none - '{"banner_code":220,"mta_error":"status=sent"}'
}
scn_arp_failure() {
    describe ipv4 "MX of arp.example is 203.0.113.99 on the MX LAN where no host answers ARP; r2 sends ICMP 3/1 after ~3 s"
    recipient user@arp.example
    expect "$GHOST4" 25 icmp-unreachable path-icmp recipient-gateway "$R2DOWN4" '{"icmp_type":3,"icmp_code":1,"icmp_delay_s":3,"mta_error":"No route to host"}'
}
scn_ttl_expiry() {
    describe ipv4 "routing loop between r1 and r2 for mx1's address: the SYN's TTL runs out (ICMP 11/0); mx2 delivers"
    recipient user@example.net
    setup r2 ip route add "$MX14/32" via "$R1UP4"
    expect "$MX14" 25 ttl-exceeded path-icmp path "$R1DOWN4" '{"icmp_type":11,"icmp_code":0,"mta_error":"No route to host"}'
    mx2_delivers
}

# --- the recipient ----------------------------------------------------------------------------
scn_mx_no_listener() {
    describe ipv4 "mx1 has no listener on port 25 (its kernel answers RST); mx2 delivers"
    MX_PORTS_mx1="587"
    recipient user@example.net
    expect "$MX14" 25 refused remote-refused recipient-postmaster "$MX14" '{"mta_error":"Connection refused","rst_ttl":61}'
    mx2_delivers
}
scn_mx_silent_drop() {
    describe ipv4 "mx1 INPUT drops tcp dport 25; mx2 delivers"
    recipient user@example.net
    setup mx1 iptables -w -A INPUT -p tcp --dport 25 -j DROP
    expect "$MX14" 25 no-response silent-drop recipient-gateway "$MX14" '{"mta_error":"Connection timed out"}'
    mx2_delivers
}
scn_mx_icmp() {
    describe ipv4 "mx1 INPUT rejects tcp dport 25 with its own ICMP 3/3 port-unreachable; mx2 delivers"
    recipient user@example.net
    setup mx1 iptables -w -A INPUT -p tcp --dport 25 -j REJECT --reject-with icmp-port-unreachable
    expect "$MX14" 25 icmp-unreachable remote-icmp recipient-postmaster "$MX14" '{"icmp_type":3,"icmp_code":3,"mta_error":"Connection refused"}'
    mx2_delivers
}
scn_tarpit() {
    describe ipv4 "mx1 accepts the connection but never greets (smtpd sleep before the banner); mx2 delivers"
    PF_EXTRA_mx1=$'smtpd_delay_reject = no\nsmtpd_client_restrictions = sleep 60, permit'
    recipient user@example.net
    expect "$MX14" 25 no-banner no-banner recipient-postmaster "$MX14" '{"mta_error":"timed out while receiving the initial server greeting"}'
    mx2_delivers
}
scn_greeting_554() {
    describe ipv4 "mx1 greets with 554 (client restriction evaluated at connect); mx2 delivers"
    PF_EXTRA_mx1=$'smtpd_delay_reject = no\nsmtpd_client_restrictions = reject'
    recipient user@example.net
    expect "$MX14" 25 smtp-rejected smtp-policy recipient-postmaster "$MX14" '{"banner_code":554,"mta_error":"refused to talk to me: 554"}'
    mx2_delivers
}
scn_greeting_421() {
    describe ipv4 "mx1 greets with 421 and closes; mx2 delivers"
    PF_EXTRA_mx1=$'smtpd_delay_reject = no\nsmtpd_client_restrictions = check_client_access static:{421 4.3.2 Service not available, closing channel}'
    recipient user@example.net
    expect "$MX14" 25 smtp-rejected smtp-policy recipient-postmaster "$MX14" '{"banner_code":421,"mta_error":"refused to talk to me: 421"}'
    mx2_delivers
}

# --- IPv6 (v6.example has AAAA-only MX hosts; the sender runs inet_protocols = all) -----------
scn_v6_success() {
    describe ipv6 "normal delivery to mx1 over IPv6"
    recipient user@v6.example
    expect "$MX16" 25 connected ok none - '{"banner_code":220,"mta_error":"status=sent"}'
}
scn_v6_mx_no_listener() {
    describe ipv6 "mx1 has no listener on port 25 (kernel RST over IPv6); mx2 delivers"
    MX_PORTS_mx1="587"
    recipient user@v6.example
    expect "$MX16" 25 refused remote-refused recipient-postmaster "$MX16" '{"mta_error":"Connection refused","rst_ttl":61}'
    mx2_delivers6
}
scn_v6_transit_admin_prohibited() {
    describe ipv6 "r1 rejects tcp dport 25 with ICMPv6 1/1 administratively prohibited (EACCES, 'Permission denied')"
    recipient user@v6.example
    setup r1 ip6tables -w -A FORWARD -p tcp --dport 25 -j REJECT --reject-with icmp6-adm-prohibited
    both_mx6 icmp-unreachable path-icmp path "$R1DOWN6" '{"icmp_type":1,"icmp_code":1,"mta_error":"Permission denied"}'
}
scn_v6_mx_silent_drop() {
    describe ipv6 "mx1 ip6tables INPUT drops tcp dport 25; mx2 delivers"
    recipient user@v6.example
    setup mx1 ip6tables -w -A INPUT -p tcp --dport 25 -j DROP
    expect "$MX16" 25 no-response silent-drop recipient-gateway "$MX16" '{"mta_error":"Connection timed out"}'
    mx2_delivers6
}
scn_v6_local_fw_reject() {
    describe ipv6 "sender ip6tables OUTPUT rejects tcp dport 25 (icmp6-port-unreachable, loopback only)"
    recipient user@v6.example
    setup sender ip6tables -w -A OUTPUT -p tcp --dport 25 -j REJECT
    both_mx6 not-on-wire local-firewall sender-host "$SENDER6" '{"mta_error":"Connection refused","loopback":"icmp"}'
}
scn_v6_local_route_prohibit() {
    describe ipv6 "sender has IPv6 'prohibit' routes for both MX addresses (EACCES)"
    recipient user@v6.example
    setup sender ip -6 route add prohibit "$MX16/128"
    setup sender ip -6 route add prohibit "$MX26/128"
    both_mx6 not-on-wire local-routing sender-host "$SENDER6" '{"mta_error":"Permission denied"}'
}

# --- Exim as the sending MTA (issue 4): same network causes, Exim's log lines ------------------
scn_exim_mx_no_listener() {
    MTA=exim
    describe ipv4 "Exim sender; mx1 has no listener on port 25 (kernel RST); mx2 delivers"
    MX_PORTS_mx1="587"
    recipient user@example.net
    expect "$MX14" 25 refused remote-refused recipient-postmaster "$MX14" '{"mta_error":"Connection refused","rst_ttl":61}'
    expect "$MX24" 25 connected ok none - '{"banner_code":220,"mta_error":"=>"}'
}
scn_exim_mx_silent_drop() {
    MTA=exim
    describe ipv4 "Exim sender; mx1 INPUT drops tcp dport 25; mx2 delivers"
    recipient user@example.net
    setup mx1 iptables -w -A INPUT -p tcp --dport 25 -j DROP
    expect "$MX14" 25 no-response silent-drop recipient-gateway "$MX14" '{"mta_error":"timed out"}'
    expect "$MX24" 25 connected ok none - '{"banner_code":220,"mta_error":"=>"}'
}
scn_exim_local_fw_drop() {
    MTA=exim
    describe ipv4 "Exim sender; sender OUTPUT drops tcp dport 25 (no SYN on the wire)"
    recipient user@example.net
    setup sender iptables -w -A OUTPUT -p tcp --dport 25 -j DROP
    both_mx not-on-wire local-firewall sender-host "$SENDER4" '{"mta_error":"timed out"}'
}
scn_exim_transit_host_unreachable() {
    MTA=exim
    describe ipv4 "Exim sender; r1 rejects tcp dport 25 with ICMP 3/1 host-unreachable"
    recipient user@example.net
    setup r1 iptables -w -A FORWARD -p tcp --dport 25 -j REJECT --reject-with icmp-host-unreachable
    both_mx icmp-unreachable path-icmp path "$R1DOWN4" '{"icmp_type":3,"icmp_code":1,"mta_error":"No route to host"}'
}

# More scenarios, one file per topic (lab/scenarios.d/*.sh, read in name order): each file
# appends its names with SCENARIOS+=(...) and defines its scn_* functions the same way as above.
for _scn_file in "${LAB_DIR:-$(dirname "${BASH_SOURCE[0]}")}"/scenarios.d/*.sh; do
    [ -e "$_scn_file" ] || continue
    # shellcheck source=/dev/null
    . "$_scn_file"
done
unset _scn_file
