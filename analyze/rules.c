/*
 * rules.c — owns THE attribution table: evidence in, verdict out, first match wins, the
 * last row matches everything. Data only; analyze/attribute.c computes the evidence and
 * docs/VERDICTS.md explains every verdict. Each row has a stable id that a unit test
 * feeds with crafted evidence (tests/unit/test_rules.c fails when a row has no test).
 *
 * Order is the argument: what the sending host did to itself (local), then what a second
 * vantage point proves (NAT), then what cannot be forged by the far end (the provider
 * pattern across ports), then the answers in order of how much they prove.
 */
#include "attribute.h"
#include "util.h"

#define E(x) PM_EV(EV_##x)

const struct pm_rule pm_rules[] = {
    /* --- the SYN never left, or the answer came from this host itself --- */
    {"local-rst-loopback", E(RST) | E(RST_LOCAL), 0, PM_V_LOCAL_FIREWALL, PM_OWN_SENDER_HOST,
     PM_CONF_HIGH, "RST came from this host's own stack (loopback): a local REJECT rule",
     "Find the OUTPUT rule rejecting TCP {dport} to {dst} (nft list ruleset; iptables -S "
     "OUTPUT; ip6tables -S OUTPUT) and remove it or add an accept for the MTA."},
    {"local-icmp", E(ICMP) | E(ICMP_LOCAL), 0, PM_V_LOCAL_FIREWALL, PM_OWN_SENDER_HOST,
     PM_CONF_HIGH, "the ICMP error came from this host itself: a local REJECT rule",
     "Find the OUTPUT rule rejecting TCP {dport} to {dst} (nft list ruleset; iptables -S "
     "OUTPUT) and remove it or add an accept for the MTA."},
    {"local-reject", E(NOT_ON_WIRE) | E(LOG_REFUSED), 0, PM_V_LOCAL_FIREWALL,
     PM_OWN_SENDER_HOST, PM_CONF_HIGH,
     "refused with no SYN on the wire: a local REJECT rule answered",
     "Look for an OUTPUT REJECT rule for TCP {dport} (nft list ruleset; iptables -S OUTPUT) "
     "on this host."},
    {"local-drop", E(NOT_ON_WIRE) | E(LOG_TIMEDOUT), 0, PM_V_LOCAL_FIREWALL,
     PM_OWN_SENDER_HOST, PM_CONF_HIGH,
     "timed out with no SYN on the wire: dropped on this host before the interface",
     "Look for an OUTPUT DROP rule for TCP {dport} (nft list ruleset; iptables -S OUTPUT) and "
     "for 'nf_conntrack: table full' in the kernel log."},
    {"local-eperm", E(NOT_ON_WIRE) | E(LOG_PERM), 0, PM_V_LOCAL_FIREWALL, PM_OWN_SENDER_HOST,
     PM_CONF_HIGH, "operation not permitted with no SYN on the wire: a local firewall",
     "Look for an OUTPUT rule for TCP {dport} (nft list ruleset; iptables -S OUTPUT)."},
    {"local-no-route", E(NOT_ON_WIRE) | E(LOG_NETUNREACH), 0, PM_V_LOCAL_ROUTING,
     PM_OWN_SENDER_HOST, PM_CONF_HIGH, "network unreachable with no SYN: no local route",
     "Check the route: ip route get {dst} (and ip -6 route for IPv6); add the missing "
     "default route or disable the address family in the MTA."},
    {"local-unreachable-route", E(NOT_ON_WIRE) | E(LOG_HOSTUNREACH), 0, PM_V_LOCAL_ROUTING,
     PM_OWN_SENDER_HOST, PM_CONF_HIGH,
     "no route to host with no SYN: an 'unreachable' route on this host",
     "Check ip route get {dst} for an 'unreachable' route and remove it."},
    {"local-prohibit-route", E(NOT_ON_WIRE) | E(LOG_ACCES), 0, PM_V_LOCAL_ROUTING,
     PM_OWN_SENDER_HOST, PM_CONF_HIGH,
     "permission denied with no SYN: a 'prohibit' route on this host",
     "Check ip route get {dst} for a 'prohibit' route (or an ip rule) and remove it."},
    {"local-blackhole-route", E(NOT_ON_WIRE) | E(LOG_INVAL), 0, PM_V_LOCAL_ROUTING,
     PM_OWN_SENDER_HOST, PM_CONF_HIGH, "invalid argument with no SYN: a 'blackhole' route",
     "Check ip route get {dst} for a 'blackhole' route and remove it."},
    {"local-source-address", E(NOT_ON_WIRE) | E(LOG_ADDRNOTAVAIL), 0, PM_V_LOCAL_ROUTING,
     PM_OWN_SENDER_HOST, PM_CONF_HIGH,
     "the source address is not available on this host",
     "Check smtp_bind_address / the MTA's interface setting and ip addr: the address it "
     "binds to is missing (containers: no IPv6)."},
    {"local-unexplained", E(NOT_ON_WIRE), 0, PM_V_INCONCLUSIVE, PM_OWN_SENDER_HOST,
     PM_CONF_LOW, "the MTA tried and no SYN left this host, for a reason its log does not say",
     "Check local firewall rules and routes for {dst}; capture on the interface that routes "
     "to {dst} (ip route get {dst})."},

    /* --- a second vantage point shows where it changed --- */
    {"nat-drop", E(NAT_DROP), 0, PM_V_NAT_DROP, PM_OWN_SENDER_NETWORK, PM_CONF_HIGH,
     "the SYN entered the NAT and never left it",
     "Check the NAT/edge firewall's forward rules for TCP {dport} to {dst}: SYNs enter and "
     "do not leave."},
    {"nat-rewrite", E(NAT_REWRITE), E(CONNECTED), PM_V_NAT_REWRITE, PM_OWN_SENDER_NETWORK, PM_CONF_HIGH,
     "the mail left from an unexpected public address",
     "Fix the SNAT rule so mail leaves from the expected address, not {src}: the "
     "recipient's allow-lists, SPF and PTR see {src}."},
    {"return-drop", E(RETURN_DROP), 0, PM_V_NAT_DROP, PM_OWN_SENDER_NETWORK, PM_CONF_HIGH,
     "the answer reached the NAT's outside and never came inside",
     "Check the NAT/edge firewall's rules and conntrack for the return traffic from {dst}."},

    /* --- port 25 blocked while other ports work --- */
    {"provider-block", E(NO_RESPONSE) | E(PROVIDER_PATTERN), 0, PM_V_PROVIDER_BLOCK,
     PM_OWN_PROVIDER, PM_CONF_HIGH,
     "port 25 unanswered everywhere while another port works: outbound 25 is blocked",
     "Ask the provider to lift the outbound port-25 block for this host (attach the bundle), "
     "or relay through the provider's smarthost on 587."},

    /* --- a RST answered --- */
    {"path-rst-race", E(RST) | E(ANSWER_RACE), 0, PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_HIGH,
     "a RST and a SYN-ACK both answered: the RST was injected on the path",
     "Send the evidence to the provider/network team: a device on the path injects RSTs for "
     "TCP {dport} to {dst}; find it with portmortem probe --ttl-walk {dst}."},
    /* Two capture points saw the RST (or only the inner one did): its TTL at both says
     * where it came from, whatever the destination's distance (docs/VERDICTS.md). */
    {"rst-from-nat", E(RST) | E(RST_FROM_NAT), 0, PM_V_PATH_RST, PM_OWN_SENDER_NETWORK,
     PM_CONF_HIGH, "the NAT itself reset the connection: its RST never left it",
     "Check the NAT/edge firewall for a REJECT (tcp-reset) of TCP {dport} to {dst} in its "
     "forward rules (nft list ruleset; iptables -S FORWARD)."},
    {"path-rst-beyond-nat", E(RST) | E(RST_BEYOND_NAT) | E(RST_HOPS_SHORT), 0, PM_V_PATH_RST,
     PM_OWN_PROVIDER, PM_CONF_HIGH,
     "the device right beyond the NAT forged the RST (its TTL was untouched at the NAT's "
     "outside)",
     "Ask the provider why its first router beyond your NAT resets TCP {dport} to {dst} "
     "(attach the bundle); relay through its smarthost on 587 meanwhile."},

    /* Graded by the quality of the hop reference (docs/VERDICTS.md, "Grading a RST's
     * origin"): the host's own packets and 2+ hops (or a RST faster than half the RTT) are
     * high; one hop (ECMP and asymmetric return paths differ by one) or only neighbours in
     * the prefix are one step lower each; references that disagree, or none, are low. */
    {"path-rst-hops", E(RST) | E(RST_HOPS_SHORT), E(RST_SHORT_ONE) | E(RST_REF_PREFIX),
     PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_HIGH,
     "the RST came from fewer hops than the destination: forged on the path",
     "A device {short} hop(s) before {dst} forges RSTs for TCP {dport}: send the evidence to "
     "the network team of that hop (portmortem probe --ttl-walk {dst} names it)."},
    {"path-rst-one-hop-fast", E(RST) | E(RST_HOPS_SHORT) | E(RST_SHORT_ONE) | E(RST_FAST),
     E(RST_REF_PREFIX), PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_HIGH,
     "the RST came from one hop short of the destination, faster than the SYN could reach it: "
     "forged on the path",
     "A device 1 hop before {dst} forges RSTs for TCP {dport}: send the evidence to the "
     "network team of that hop (portmortem probe --ttl-walk {dst} names it)."},
    {"path-rst-one-hop", E(RST) | E(RST_HOPS_SHORT) | E(RST_SHORT_ONE), E(RST_REF_PREFIX),
     PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_MEDIUM,
     "the RST came from one hop short of the destination: forged on the path, unless the "
     "return paths differ by a hop",
     "Confirm with portmortem probe --ttl-walk {dst} (it names the hop that answers the SYN), "
     "then send the evidence to the network team of the device 1 hop before {dst}."},
    {"path-rst-prefix", E(RST) | E(RST_HOPS_SHORT) | E(RST_REF_PREFIX), E(RST_SHORT_ONE),
     PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_MEDIUM,
     "the RST came from fewer hops than every other host of the destination's network",
     "Confirm with portmortem probe --ttl-walk {dst} ({dst} itself sent nothing to compare "
     "with), then send the evidence to the network team of the device {short} hop(s) before "
     "it."},
    {"path-rst-prefix-one-hop", E(RST) | E(RST_HOPS_SHORT) | E(RST_REF_PREFIX) |
     E(RST_SHORT_ONE), 0, PM_V_PATH_RST, PM_OWN_PATH, PM_CONF_LOW,
     "the RST came from one hop short of the destination's neighbours; {dst} itself may sit "
     "one hop closer than they do",
     "Run portmortem probe --ttl-walk {dst} to learn its own distance, or capture again with "
     "other traffic from {dst} in it (ping {dst} while the MTA retries)."},
    {"rst-refs-disagree", E(RST) | E(RST_REFS_DISAGREE), 0, PM_V_REMOTE_REFUSED,
     PM_OWN_UNKNOWN, PM_CONF_LOW,
     "a RST answered; the destination's hop references disagree, so its origin is unsure",
     "Run portmortem probe --ttl-walk {dst}: it names the hop that answers TCP {dport} "
     "(the references disagree: ECMP, a route change, or a neighbour behind another router)."},
    {"remote-refused", E(RST) | E(RST_HOPS_MATCH), E(RST_REF_PREFIX), PM_V_REMOTE_REFUSED,
     PM_OWN_RECIPIENT_POSTMASTER, PM_CONF_HIGH,
     "the destination itself reset the connection (nothing listening, or its own firewall)",
     "Tell the postmaster of {name}: {dst} refuses TCP {dport} (no SMTP service listening "
     "or a host firewall REJECT)."},
    {"remote-refused-prefix", E(RST) | E(RST_HOPS_MATCH) | E(RST_REF_PREFIX), 0,
     PM_V_REMOTE_REFUSED, PM_OWN_RECIPIENT_POSTMASTER, PM_CONF_MEDIUM,
     "the RST came from as far as the destination's network (its neighbours; nothing from "
     "{dst} itself to compare)",
     "Tell the postmaster of {name}: {dst} refuses TCP {dport}; if they see no such refusal, "
     "run portmortem probe --ttl-walk {dst} (a device in front of it may answer)."},
    {"rst-reference-cut", E(RST) | E(RST_NO_REF) | E(CAPTURE_CUT), 0, PM_V_INCONCLUSIVE,
     PM_OWN_UNKNOWN, PM_CONF_LOW,
     "a RST answered; the packets that would give the destination's distance were cut",
     "Capture with a snaplen of at least 256 bytes (tcpdump -s 256) so SYN-ACKs are readable, "
     "or run portmortem probe --ttl-walk {dst}."},
    {"remote-refused-unverified", E(RST) | E(RST_NO_REF), 0, PM_V_REMOTE_REFUSED,
     PM_OWN_UNKNOWN, PM_CONF_LOW,
     "a RST answered; with no hop reference, {dst} cannot be told from a forger on the path",
     "Not settled: run portmortem probe --ttl-walk {dst} (it names the hop that answers TCP "
     "{dport}), or capture again with other traffic from {dst} or its network in it (ping "
     "{dst}, or any connection to it, while the MTA retries); only then ask the postmaster of "
     "{name}."},

    /* --- an ICMP error answered --- */
    {"remote-icmp", E(ICMP) | E(ICMP_FROM_DST), 0, PM_V_REMOTE_ICMP,
     PM_OWN_RECIPIENT_POSTMASTER, PM_CONF_HIGH,
     "the destination host itself rejected the SYN with ICMP",
     "Tell the postmaster of {name}: {dst} rejects TCP {dport} with ICMP (a host firewall "
     "REJECT rule)."},
    {"path-icmp-ttl", E(ICMP) | E(ICMP_TTL), 0, PM_V_PATH_ICMP, PM_OWN_PATH, PM_CONF_HIGH,
     "the SYN's TTL ran out at a router: a routing loop or a far too long path",
     "Send the evidence to the network team of {router} (hop {hop}): the path to {dst} "
     "loops or is too long."},
    {"path-icmp-first-hop", E(ICMP) | E(ICMP_HOP1), 0, PM_V_PATH_ICMP, PM_OWN_SENDER_NETWORK,
     PM_CONF_HIGH, "the sender's own gateway rejected the SYN",
     "Check the first router {router}: it rejects TCP {dport} to {dst} (firewall rule or "
     "missing route)."},
    {"path-icmp-arp", E(ICMP) | E(ICMP_ARP), 0, PM_V_PATH_ICMP, PM_OWN_RECIPIENT_GATEWAY,
     PM_CONF_HIGH,
     "the last router could not reach {dst} on its LAN (host unreachable after ~3 s)",
     "Tell the recipient's network team: their router {router} cannot resolve {dst} "
     "(ARP/ND failure): the MX is down or no longer on that LAN."},
    {"path-icmp-recipient-net", E(ICMP) | E(ICMP_DST_NET), 0, PM_V_PATH_ICMP,
     PM_OWN_RECIPIENT_GATEWAY, PM_CONF_MEDIUM,
     "a router in the destination's own network rejected the SYN",
     "Tell the recipient's network team: {router} (hop {hop}) rejects TCP {dport} to {dst}."},
    {"path-icmp", E(ICMP), 0, PM_V_PATH_ICMP, PM_OWN_PATH, PM_CONF_HIGH,
     "a router on the path rejected the SYN",
     "Send the evidence to the network team of {router} (hop {hop}): it rejects TCP {dport} "
     "to {dst}."},

    /* --- the edges of the evidence (issue 14): a mode mismatch, a dialogue the capture
     * joined late or left early. Before the rows they refine. --- */
    {"tls-mismatch-sender", E(TLS_MISMATCH) | E(TLS_SENDER_SIDE), 0, PM_V_TLS_MISMATCH,
     PM_OWN_SENDER_HOST, PM_CONF_HIGH,
     "implicit TLS against plaintext SMTP: the sending MTA uses the wrong mode for port {dport}",
     "Fix the sending MTA's TLS mode for port {dport}: implicit TLS (Postfix "
     "smtp_tls_wrappermode = yes) on 465 only, plaintext then STARTTLS on 25 and 587."},
    {"tls-mismatch", E(TLS_MISMATCH), 0, PM_V_TLS_MISMATCH, PM_OWN_RECIPIENT_POSTMASTER,
     PM_CONF_HIGH,
     "implicit TLS against plaintext SMTP: {dst} speaks the wrong mode on port {dport}",
     "Tell the postmaster of {name}: port {dport} on {dst} must speak implicit TLS on 465 "
     "(RFC 8314) and plaintext with STARTTLS on 25/587; this listener does the other."},
    {"smtp-policy-start-unseen", E(SMTP_REJECT) | E(REPLY_CMD_UNSEEN), 0, PM_V_SMTP_POLICY,
     PM_OWN_RECIPIENT_POSTMASTER, PM_CONF_MEDIUM,
     "the server refused with 4xx/5xx; the command it answered is before the capture",
     "Read the reply text and contact the postmaster of {name}; capture from the start of a "
     "delivery (postqueue -f while capturing) to see what it refused."},
    {"ok-dialogue-cut", E(CONNECTED) | E(DIALOGUE_CUT), 0, PM_V_OK, PM_OWN_NONE, PM_CONF_LOW,
     "connected and greeted; the capture ended before the dialogue did",
     "The network path works; capture until the delivery ends (the MTA's log says how) to "
     "see whether the mail itself was accepted."},

    /* --- the handshake completed --- */
    {"smtp-policy", E(SMTP_REJECT), 0, PM_V_SMTP_POLICY, PM_OWN_RECIPIENT_POSTMASTER,
     PM_CONF_HIGH, "the server answered 4xx/5xx: a policy decision past the network",
     "Read the reply text and contact the postmaster of {name} (blocklist, reputation, "
     "greylisting or rate limits); the network is fine."},
    {"no-banner", E(NO_BANNER), 0, PM_V_NO_BANNER, PM_OWN_RECIPIENT_POSTMASTER, PM_CONF_HIGH,
     "connected, but the server never sent its greeting",
     "Tell the postmaster of {name}: {dst} accepts TCP {dport} but never greets (tarpit, "
     "overload, or a proxy in front of it)."},
    {"closed-before-banner", E(CLOSED_EARLY), 0, PM_V_NO_BANNER, PM_OWN_RECIPIENT_POSTMASTER,
     PM_CONF_HIGH, "connected, and the server closed before any greeting",
     "Tell the postmaster of {name}: {dst} closes connections before greeting (connection "
     "limits, or it drops this client early)."},
    {"ok", E(CONNECTED), 0, PM_V_OK, PM_OWN_NONE, PM_CONF_HIGH, "connected and greeted",
     "Nothing to do for this attempt."},

    /* --- nothing answered --- */
    {"silent-drop-capture-cut", E(NO_RESPONSE) | E(CAPTURE_CUT), 0, PM_V_INCONCLUSIVE,
     PM_OWN_UNKNOWN, PM_CONF_LOW,
     "SYNs unanswered, but this capture cut other replies: where they are dropped cannot be told",
     "Capture with a snaplen of at least 256 bytes (tcpdump -s 256); then the other attempts "
     "show whether it is one destination, every destination, or port 25 only."},
    {"silent-drop-one-destination", E(NO_RESPONSE) | E(SCOPE_ONE), 0, PM_V_SILENT_DROP,
     PM_OWN_RECIPIENT_GATEWAY, PM_CONF_MEDIUM,
     "SYNs unanswered, while other destinations work: dropped at or near {dst}",
     "Tell the recipient's network team: SYNs to {dst}:{dport} get no answer while other "
     "mail servers work; portmortem probe --ttl-walk {dst} shows where they vanish."},
    {"silent-drop-everywhere", E(NO_RESPONSE) | E(SCOPE_ALL), 0, PM_V_SILENT_DROP,
     PM_OWN_SENDER_NETWORK, PM_CONF_LOW,
     "SYNs unanswered to every destination: dropped on the sender's side",
     "Check your own egress firewall, then ask the provider whether outbound 25 is blocked; "
     "portmortem probe --compare-ports 587,465 {dst} tells a port block from a dead path."},
    {"silent-drop", E(NO_RESPONSE), 0, PM_V_SILENT_DROP, PM_OWN_UNKNOWN, PM_CONF_MEDIUM,
     "SYNs unanswered: dropped somewhere between here and {dst}",
     "Run portmortem probe --ttl-walk {dst} to find the hop after which SYNs vanish."},

    /* --- not enough to say --- */
    {"one-sided-capture", E(ONE_SIDED), 0, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN, PM_CONF_LOW,
     "this capture does not see the servers' replies",
     "Capture where both directions pass (the sending host itself, or -i any)."},
    {"incomplete", E(INCOMPLETE), 0, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN, PM_CONF_LOW,
     "the capture ended too early or kept too little to tell",
     "Capture longer, with a snaplen of at least 256 bytes (tcpdump -s 256)."},
    {"inconclusive", 0, 0, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN, PM_CONF_LOW,
     "insufficient evidence", "Capture on the sending host during a retry, with its MTA log."},
};
const size_t pm_nrules = PM_ARRAY_LEN(pm_rules);

const struct pm_rule *pm_rules_match(pm_evset ev)
{
    for (size_t i = 0; i < pm_nrules; i++) {
        const struct pm_rule *r = &pm_rules[i];
        if ((ev & r->need) == r->need && (ev & r->forbid) == 0) {
            return r;
        }
    }
    return &pm_rules[pm_nrules - 1];
}
