# lab/scenarios.d/hops.sh — issue 14, items 2 and 3: where a forged RST's hop reference comes
# from, and how sure the verdict can be with it (docs/VERDICTS.md, "Grading a RST's origin").
# Sourced by lab/scenarios.sh; uses the vocabulary of lab/lab.sh (describe, recipient, setup,
# expect) and its two knobs `during` (traffic made while the captures run) and TRIM_EXTRA
# (what lab/record-fixtures.sh keeps besides the SMTP ports, ICMP, ARP and DNS).
#
# As the sender sees it (lab/README.md): the MX hosts and the DNS server beside them are 3 hops
# away (TTL 61), r2's LAN address 203.0.113.1 is 2 (TTL 62), r1 is 1 (TTL 63); at the NAT's
# outside capture everything is one hop nearer (r1: TTL 64, untouched). Only port 25
# carries mail in these runs; the MX's other traffic is HTTP on port 80, which the attempt
# filter (--ports 25,587) never passes: its SYN-ACK reaches the hop table through the side
# path. The confidence the grading must give is in each row's key ("confidence"), checked by
# tests/lab/run.sh.

SCENARIOS+=(hops-forged-rst-http hops-forged-rst-dns-only hops-forged-rst-beyond-nat
            hops-neighbour-closer hops-neighbours-disagree)

# A web server on ROLE's address ADDR, port 80, for the run (the namespace's teardown ends it).
web_server() {
    setup "$1" bash -c "cd / && exec /usr/bin/python3 -m http.server --bind $2 80 >/dev/null 2>&1 &"
}
# The sender fetches http://ADDR/ once the captures run (retried while the server starts).
fetch_from() {
    during sender "for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -m 2 -o /dev/null http://$1/ && exit 0; sleep 0.3; done; exit 1"
}

scn_hops_forged_rst_http() {
    describe ipv4 "r2 forges a RST for mx1/mx2 port 25 (TTL 62: one hop short of the MX's 61); the sender also fetches http://mx1/, whose SYN-ACK (TTL 61, port 80, not a watched port) is mx1's own hop reference"
    recipient user@example.net
    TRIM_EXTRA="tcp port 80"
    web_server mx1 "$MX14"
    fetch_from "$MX14"
    setup r2 iptables -w -A FORWARD -d "$MX14" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    setup r2 iptables -w -A FORWARD -d "$MX24" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    # mx1: its own packets on port 80 say 3 hops, the RST 2: one hop short of the host's own
    # reference, medium. mx2 sent nothing: one hop short of its neighbours (mx1, the DNS
    # server), low.
    expect "$MX14" 25 refused path-rst path "$R2DOWN4" '{"mta_error":"Connection refused","rst_ttl":62,"dst_ttl":61,"confidence":"medium"}'
    expect "$MX24" 25 refused path-rst path "$R2DOWN4" '{"mta_error":"Connection refused","rst_ttl":62,"confidence":"low"}'
}

scn_hops_forged_rst_dns_only() {
    describe ipv4 "r2 forges a RST for mx1/mx2 port 25 (TTL 62); nothing else from the MX hosts, only the DNS server beside them (TTL 61) gives their network's distance"
    recipient user@example.net
    setup r2 iptables -w -A FORWARD -d "$MX14" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    setup r2 iptables -w -A FORWARD -d "$MX24" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    both_mx refused path-rst path "$R2DOWN4" '{"mta_error":"Connection refused","rst_ttl":62,"confidence":"low"}'
}

scn_hops_forged_rst_beyond_nat() {
    describe ipv4 "r1, the router right beyond the NAT, forges a RST for mx1/mx2 port 25: TTL 64 at the NAT's outside, 63 inside; the sender also fetches http://mx1/ (TTL 61)"
    recipient user@example.net
    TRIM_EXTRA="tcp port 80"
    web_server mx1 "$MX14"
    fetch_from "$MX14"
    setup r1 iptables -w -A FORWARD -d "$MX14" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    setup r1 iptables -w -A FORWARD -d "$MX24" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    # Seen at both capture points, the RST's TTL was untouched at the outside one: sent on
    # the NAT's outside segment, by the provider's router (lab/README.md: r1 is the provider).
    both_mx refused path-rst provider "$R1DOWN4" '{"mta_error":"Connection refused","rst_ttl":63,"confidence":"high"}'
}

scn_hops_neighbour_closer() {
    describe ipv4 "mx1 has no listener on port 25 (its own RST, TTL 61); the sender also fetches http://203.0.113.1/ from r2 (TTL 62): a neighbour one hop closer than mx1; mx2 delivers"
    MX_PORTS_mx1="587"
    recipient user@example.net
    TRIM_EXTRA="tcp port 80"
    web_server r2 "$R2LAN4"
    fetch_from "$R2LAN4"
    # mx1's references are its neighbours only (r2 at 2 hops, mx2 and the DNS server at 3):
    # the RST from 3 is as far as the farthest of them: remote-refused, medium.
    expect "$MX14" 25 refused remote-refused recipient-postmaster "$MX14" '{"mta_error":"Connection refused","rst_ttl":61,"confidence":"medium"}'
    mx2_delivers
}

scn_hops_neighbours_disagree() {
    describe ipv4 "r2 forges a RST for mx1 port 25 (TTL 62); mx1's neighbours are 2 hops (r2's LAN address, fetched over HTTP) and 3 hops (mx2, the DNS server) away: the references disagree; mx2 delivers"
    recipient user@example.net
    TRIM_EXTRA="tcp port 80"
    web_server r2 "$R2LAN4"
    fetch_from "$R2LAN4"
    setup r2 iptables -w -A FORWARD -d "$MX14" -p tcp --dport 25 -j REJECT --reject-with tcp-reset
    # As far as one neighbour, one hop short of the others: the hop count cannot decide, so
    # the RST stays remote-refused at low confidence and nobody is blamed yet.
    expect "$MX14" 25 refused remote-refused unknown "$R2DOWN4" '{"mta_error":"Connection refused","rst_ttl":62,"confidence":"low"}'
    mx2_delivers
}
