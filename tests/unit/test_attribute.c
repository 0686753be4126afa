/*
 * test_attribute.c — from wire facts and the MTA's words to a finding (include/attribute.h,
 * analyze/attribute.c), with crafted attempts and a small context:
 * RST origin by hop count against the destination's SYN-ACK (one hop short → path-rst, equal
 * → remote-refused, a prefix reference, no reference → low confidence, loopback → local
 * firewall, a race with a SYN-ACK, faster than the path RTT); ICMP by sender and code (the
 * destination, the first hop, the sending host, a router in the destination's network, ARP
 * failure ~3 s after the SYN, TTL exceeded, any router); not-on-wire attempts for every
 * errno (Linux: refused / timed out / EPERM → local firewall; net or host unreachable,
 * EACCES, EINVAL, EADDRNOTAVAIL → local routing); log and packets that contradict each other;
 * capture drops and snaplen cuts lowering confidence; scope and provider pattern; a TTL walk;
 * NAT facts; SMTP policy text; every template filled and every packet cited as FILE#FRAME.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "attribute.h"
#include "pktbuild.h"
#include "util.h"

#define CLI "10.0.0.1"
#define SRV "192.0.2.25"
#define T0 PM_SEC(1700000000)
#define US(x) ((pm_ns)(x) * 1000)

static struct pm_context *ctx;
static struct pm_attr_env env;
static struct pm_vantage_state vs0;
static const char *const labels[] = {"sender.pcap", "outside.pcap"};
static const char *const vnames[] = {"sender", "outside"};
static struct pm_logfile_stats logfiles[1];
static struct pm_logset logs;

static void setup(void)
{
    ctx = pm_context_new(2, 64, 64);
    memset(&env, 0, sizeof(env));
    env.ctx = ctx;
    env.file_labels = labels;
    env.nfiles = 2;
    env.vantage_names = vnames;
    memset(&vs0, 0, sizeof(vs0));
    vs0.local[0] = pb_addr(CLI);
    vs0.nlocal = 1;
    env.vstate[0] = &vs0;
    memset(logfiles, 0, sizeof(logfiles));
    logfiles[0].path = (char *)(uintptr_t) "/var/log/mail.log";
    memset(&logs, 0, sizeof(logs));
    logs.files = logfiles;
    logs.nfiles = 1;
}

static void teardown(void) { pm_context_free(ctx); }

TestSuite(attribute, .init = setup, .fini = teardown);

static struct pm_attempt att(const char *srv, enum pm_answer ans, pm_ns after)
{
    struct pm_attempt a;
    memset(&a, 0, sizeof(a));
    a.id = 9;
    a.family = strchr(srv, ':') ? PM_AF_INET6 : PM_AF_INET;
    a.cli = pb_addr(a.family == PM_AF_INET ? CLI : "2001:db8:1::10");
    a.srv = pb_addr(srv);
    a.sport = 40000;
    a.dport = 25;
    a.isn = 1000;
    a.first_syn = a.last_syn = T0;
    a.syns = 1;
    a.syn_ttl = 64;
    a.syn_ws = 0xff;
    a.syn_ref = (struct pm_pktref){14, 0};
    a.answer = (uint8_t)ans;
    a.last_seen = T0 + after;
    if (ans != PM_ANS_NONE) {
        a.ans.ts = T0 + after;
        a.ans.ref = (struct pm_pktref){15, 0};
    }
    if (ans == PM_ANS_RST) {
        a.n_rst = 1;
        a.ans.ack_ok = 1;
    }
    if (ans == PM_ANS_ICMP) {
        a.n_icmp = 1;
        a.ans.qseq_state = 1;
    }
    return a;
}

/* A SYN-ACK from `srv` with `ttl`, RTT `rtt`: the hop reference a RST is compared with. */
static void learn_synack(const char *srv, uint8_t ttl, pm_ns rtt)
{
    struct pm_attempt r = att(srv, PM_ANS_SYNACK, rtt);
    r.id = 2;
    r.ans.ttl = ttl;
    r.ans.ack_ok = 1;
    r.ans.ref = (struct pm_pktref){3, 0};
    r.n_synack = 1;
    r.banner_code = 220;
    pm_context_learn(ctx, &r, PM_OUT_CONNECTED);
}

static bool has_evidence(const struct pm_finding *f, const char *needle)
{
    for (int i = 0; i < f->nevidence; i++) {
        if (strstr(f->evidence[i], needle)) {
            return true;
        }
    }
    return false;
}

static void assert_filled(const struct pm_finding *f)
{
    cr_assert_null(strchr(f->next_step, '{'), "unfilled template: %s", f->next_step);
    cr_assert_null(strchr(f->clue, '{'), "unfilled template: %s", f->clue);
    cr_assert(f->next_step[0], "no next step");
    cr_assert(f->clue[0], "no clue");
    cr_assert_not_null(f->rule);
    cr_assert_eq(f->verdict, f->rule->verdict);
    cr_assert_eq(f->owner, f->rule->owner);
}

static struct pm_finding run(const struct pm_attempt *a, enum pm_outcome o,
                             const struct pm_smtp_summary *s, const struct pm_logentry *l,
                             const struct pm_nat_facts *n)
{
    struct pm_finding f;
    pm_attribute(&f, &env, a, s, o, l, n);
    assert_filled(&f);
    return f;
}

/* ================================ RST ================================ */

Test(attribute, rst_one_hop_short_of_the_destination_is_path_rst)
{
    learn_synack(SRV, 58, PM_MS(40)); /* 64 - 58: six routers to the MX */
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(35));
    a.ans.ttl = 59; /* five: forged by the router before it */
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    /* One hop: real return paths can differ by one (ECMP, asymmetry): medium. */
    cr_assert_str_eq(f.rule->id, "path-rst-one-hop");
    cr_assert_eq(f.verdict, PM_V_PATH_RST);
    cr_assert_eq(f.owner, PM_OWN_PATH);
    cr_assert_eq(f.confidence, PM_CONF_MEDIUM);
    cr_assert(f.ev & PM_EV(EV_RST_SHORT_ONE));
    cr_assert_eq(f.rst_hops, 5);
    cr_assert_eq(f.rst_expected_hops, 6);
    cr_assert_eq(f.rst_origin, PM_RST_PATH);
    cr_assert_eq(f.rst_ref_src, PM_HOP_SAME_HOST);
    cr_assert(strstr(f.clue, "1 hop short") != NULL, "clue: %s", f.clue);
    cr_assert(strstr(f.next_step, "1 hop before 192.0.2.25") != NULL, "%s", f.next_step);
    cr_assert(has_evidence(&f, "sender.pcap#3"), "the reference packet is cited");
    cr_assert(has_evidence(&f, "sender.pcap#15: RST from 192.0.2.25 TTL 59"));
    cr_assert(f.ev & PM_EV(EV_RST_HOPS_SHORT));
}

Test(attribute, rst_from_as_far_as_the_destination_is_remote_refused)
{
    learn_synack(SRV, 58, PM_MS(40));
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(41));
    a.ans.ttl = 58;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "remote-refused");
    cr_assert_eq(f.verdict, PM_V_REMOTE_REFUSED);
    cr_assert_eq(f.owner, PM_OWN_RECIPIENT_POSTMASTER);
    cr_assert_eq(f.confidence, PM_CONF_HIGH);
    cr_assert_eq(f.rst_origin, PM_RST_DESTINATION);
    cr_assert_eq(f.rst_hops, f.rst_expected_hops);
    cr_assert_not(has_evidence(&f, "faster than half"), "41 ms is a normal RTT here");
}

Test(attribute, rst_from_farther_than_the_reference_is_not_a_forgery)
{
    learn_synack(SRV, 58, PM_MS(40));
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(45));
    a.ans.ttl = 56;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_eq(f.verdict, PM_V_REMOTE_REFUSED);
    cr_assert(has_evidence(&f, "farther than the reference"));
}

Test(attribute, rst_without_a_reference_is_low_confidence)
{
    learn_synack(SRV, 58, PM_MS(40));
    struct pm_attempt a = att("198.51.100.7", PM_ANS_RST, PM_MS(30));
    a.ans.ttl = 50;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "remote-refused-unverified");
    cr_assert_eq(f.verdict, PM_V_REMOTE_REFUSED);
    cr_assert_eq(f.confidence, PM_CONF_LOW);
    cr_assert_eq(f.rst_expected_hops, -1);
    cr_assert_eq(f.rst_origin, PM_RST_UNKNOWN);
    cr_assert(strstr(f.next_step, "198.51.100.7") != NULL);
}

Test(attribute, rst_compared_with_another_host_of_the_prefix)
{
    learn_synack("192.0.2.26", 58, PM_MS(40));
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(30));
    a.ans.ttl = 60;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_eq(f.verdict, PM_V_PATH_RST);
    cr_assert_eq(f.rst_ref_src, PM_HOP_PREFIX);
    cr_assert(strstr(f.clue, "2 hops short") != NULL, "clue: %s", f.clue);
    cr_assert(has_evidence(&f, "same-prefix"));
}

/* Any other packet of the destination (context.c's side tables): here an ICMP echo reply. */
static void learn_other(const char *host, uint8_t ttl, enum pm_hopkind kind, uint16_t port,
                        uint32_t frame)
{
    pm_addr h = pb_addr(host);
    pm_context_learn_packet(ctx, 0, &h, ttl, (struct pm_pktref){frame, 0}, kind, port);
}

Test(attribute, rst_two_hops_short_of_the_hosts_echo_reply_is_high)
{
    learn_other(SRV, 58, PM_HK_ICMP_ECHO, 0, 21); /* six routers */
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(30));
    a.ans.ttl = 60; /* four: two short */
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-rst-hops");
    cr_assert_eq(f.confidence, PM_CONF_HIGH);
    cr_assert_eq(f.rst_ref_src, PM_HOP_SAME_HOST);
    cr_assert(has_evidence(&f, "ICMP echo, TTL 58 at sender.pcap#21"), "the echo reply is cited");
    cr_assert(strstr(f.next_step, "2 hop(s) before") != NULL, "%s", f.next_step);
}

Test(attribute, rst_one_hop_short_and_faster_than_half_the_rtt_is_high)
{
    learn_synack(SRV, 58, PM_MS(40));
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(5)); /* 5 ms against a 40 ms RTT */
    a.ans.ttl = 59;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-rst-one-hop-fast");
    cr_assert_eq(f.confidence, PM_CONF_HIGH);
    cr_assert(f.ev & PM_EV(EV_RST_FAST));
}

Test(attribute, rst_one_hop_short_of_a_neighbour_only_is_low)
{
    learn_other("192.0.2.53", 58, PM_HK_DNS, 53, 2); /* the DNS server beside the MX */
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(30));
    a.ans.ttl = 59;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-rst-prefix-one-hop");
    cr_assert_eq(f.verdict, PM_V_PATH_RST);
    cr_assert_eq(f.confidence, PM_CONF_LOW);
    cr_assert_eq(f.rst_ref_src, PM_HOP_PREFIX);
    cr_assert(has_evidence(&f, "its neighbour 192.0.2.53 is 6 hops away"), "neighbour named");
    cr_assert(has_evidence(&f, "DNS answer from port 53"));
}

Test(attribute, rst_one_hop_beyond_a_neighbour_is_remote_refused_medium)
{
    learn_other("192.0.2.1", 59, PM_HK_ICMP_ECHO, 0, 2); /* the recipient's gateway, 5 */
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(30));
    a.ans.ttl = 58; /* 6: one farther than the neighbour */
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "remote-refused-prefix");
    cr_assert_eq(f.confidence, PM_CONF_MEDIUM);
}

Test(attribute, rst_within_disagreeing_references_is_low_and_unowned)
{
    learn_synack(SRV, 58, PM_MS(40));            /* 6 hops */
    learn_other(SRV, 57, PM_HK_TCP, 443, 30);    /* 7 hops on another flow (ECMP) */
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(41));
    a.ans.ttl = 58; /* 6: as far as one reference, one short of the other */
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "rst-refs-disagree");
    cr_assert_eq(f.verdict, PM_V_REMOTE_REFUSED);
    cr_assert_eq(f.confidence, PM_CONF_LOW);
    cr_assert_eq(f.owner, PM_OWN_UNKNOWN);
    cr_assert(has_evidence(&f, "up to 7 hops"));
    cr_assert(strstr(f.next_step, "--ttl-walk 192.0.2.25") != NULL, "%s", f.next_step);
    /* Below every reference the spread does not matter: two short of the nearest. */
    a.ans.ttl = 60;
    f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-rst-hops");
    cr_assert_eq(f.confidence, PM_CONF_HIGH);
}

Test(attribute, rst_without_a_reference_does_not_blame_the_postmaster)
{
    struct pm_attempt a = att("198.51.100.7", PM_ANS_RST, PM_MS(30));
    a.ans.ttl = 50;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "remote-refused-unverified");
    cr_assert_eq(f.owner, PM_OWN_UNKNOWN);
    cr_assert(strstr(f.next_step, "--ttl-walk 198.51.100.7"), "%s", f.next_step);
    cr_assert(strstr(f.next_step, "other traffic from 198.51.100.7"), "%s", f.next_step);
}

/* Issue 14: the same RST at two capture points (inside and outside a NAT). */
Test(attribute, rst_untouched_at_the_nat_outside_comes_from_right_beyond_it)
{
    learn_synack(SRV, 61, PM_MS(40)); /* the MX: 3 hops from inside */
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(2));
    a.ans.ttl = 63; /* 1 hop inside: the NAT decremented it */
    struct pm_link_info far = {.id = 10, .peer_id = 9, .vantage = 1, .answer = PM_ANS_RST,
                               .ans_ttl = 64, .sport = 61000, .cli = pb_addr("198.51.100.2")};
    struct pm_nat_facts nf = {.multi = true, .peer = &far, .later_vantage = 1};
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, &nf);
    cr_assert_str_eq(f.rule->id, "path-rst-beyond-nat");
    cr_assert_eq(f.owner, PM_OWN_PROVIDER);
    cr_assert_eq(f.confidence, PM_CONF_HIGH);
    cr_assert(has_evidence(&f, "the same RST at outside: TTL 64 (0 hops), here TTL 63"));
    /* One router beyond it (TTL 63 outside, 62 inside): no longer "right beyond". */
    far.ans_ttl = 63;
    a.ans.ttl = 62;
    f = run(&a, PM_OUT_REFUSED, NULL, NULL, &nf);
    cr_assert_str_neq(f.rule->id, "path-rst-beyond-nat");
    cr_assert_eq(f.owner, PM_OWN_PATH, "graded by the hop count alone: %s", f.rule->id);
}

Test(attribute, rst_untouched_inside_and_absent_outside_is_the_nat_itself)
{
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(1));
    a.ans.ttl = 64;
    struct pm_link_info far = {.id = 10, .peer_id = 9, .vantage = 1, .answer = PM_ANS_NONE,
                               .sport = 61000, .cli = pb_addr("198.51.100.2")};
    struct pm_nat_facts nf = {.multi = true, .peer = &far, .later_vantage = 1};
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, &nf);
    cr_assert_str_eq(f.rule->id, "rst-from-nat");
    cr_assert_eq(f.owner, PM_OWN_SENDER_NETWORK);
    cr_assert(has_evidence(&f, "never did"));
}

Test(attribute, rst_on_loopback_is_the_local_firewall)
{
    struct pm_attempt a = att(SRV, PM_ANS_RST, US(50));
    a.ans.ttl = 64;
    a.ans.loopback = 1;
    a.flags = PM_AF_SYN_NOT_CAPTURED;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "local-rst-loopback");
    cr_assert_eq(f.verdict, PM_V_LOCAL_FIREWALL);
    cr_assert_eq(f.owner, PM_OWN_SENDER_HOST);
    cr_assert_eq(f.rst_origin, PM_RST_LOCAL);
    cr_assert(has_evidence(&f, "on loopback"));
    cr_assert(has_evidence(&f, "not in the sender capture"), "the SYN never left");
}

Test(attribute, rst_racing_a_synack_is_injected)
{
    learn_synack(SRV, 58, PM_MS(40));
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(5));
    a.ans.ttl = 58; /* even a perfect TTL copy does not help a forger who lost the race */
    a.flags = PM_AF_ANSWER_RACE;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-rst-race");
    cr_assert_eq(f.verdict, PM_V_PATH_RST);
    cr_assert_eq(f.rst_origin, PM_RST_PATH);
}

Test(attribute, rst_faster_than_the_path_rtt_is_noted)
{
    learn_synack(SRV, 58, PM_MS(80));
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(2));
    a.ans.ttl = 59;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_eq(f.rtt_min, PM_MS(80));
    cr_assert(has_evidence(&f, "faster than half the path's RTT"));
}

/* ================================ ICMP ================================ */

static struct pm_attempt icmp_att(const char *from, uint8_t type, uint8_t code, uint8_t ttl,
                                  pm_ns after)
{
    struct pm_attempt a = att(SRV, PM_ANS_ICMP, after);
    a.ans.from = pb_addr(from);
    a.ans.icmp_type = type;
    a.ans.icmp_code = code;
    a.ans.ttl = ttl;
    return a;
}

Test(attribute, icmp_from_the_destination_is_remote_icmp)
{
    struct pm_attempt a = icmp_att(SRV, 3, 3, 58, PM_MS(40));
    struct pm_finding f = run(&a, PM_OUT_ICMP_UNREACHABLE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "remote-icmp");
    cr_assert_eq(f.verdict, PM_V_REMOTE_ICMP);
    cr_assert_eq(f.owner, PM_OWN_RECIPIENT_POSTMASTER);
    cr_assert(f.icmp_from_dst);
    cr_assert(strstr(f.clue, "the destination itself") != NULL, "%s", f.clue);
    cr_assert(has_evidence(&f, "sender.pcap#15: ICMP 3/3"));
    cr_assert(has_evidence(&f, "sequence number matches"));
}

Test(attribute, icmp_from_the_first_hop_is_the_senders_network)
{
    struct pm_attempt a = icmp_att("10.0.0.254", 3, 13, 64, PM_MS(1));
    struct pm_finding f = run(&a, PM_OUT_ICMP_UNREACHABLE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-icmp-first-hop");
    cr_assert_eq(f.verdict, PM_V_PATH_ICMP);
    cr_assert_eq(f.owner, PM_OWN_SENDER_NETWORK);
    cr_assert_eq(f.icmp_hop, 1);
    cr_assert(strstr(f.clue, "admin-prohibited from 10.0.0.254 at hop 1") != NULL, "%s", f.clue);
    cr_assert(strstr(f.next_step, "10.0.0.254") != NULL, "%s", f.next_step);
}

Test(attribute, icmp_from_the_sending_host_is_the_local_firewall)
{
    struct pm_attempt a = icmp_att(CLI, 3, 3, 64, US(30));
    struct pm_finding f = run(&a, PM_OUT_ICMP_UNREACHABLE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "local-icmp");
    cr_assert_eq(f.verdict, PM_V_LOCAL_FIREWALL);
    cr_assert_eq(f.owner, PM_OWN_SENDER_HOST);
    struct pm_attempt b = icmp_att("127.0.0.1", 3, 3, 64, US(30));
    b.ans.loopback = 1;
    f = run(&b, PM_OUT_ICMP_UNREACHABLE, NULL, NULL, NULL);
    cr_assert_eq(f.verdict, PM_V_LOCAL_FIREWALL);
}

Test(attribute, host_unreachable_after_three_seconds_is_an_arp_failure)
{
    /* the last router (same /24 as the MX) tried to resolve it for 3 s */
    struct pm_attempt a = icmp_att("192.0.2.1", 3, 1, 250, PM_MS(3050));
    a.syns = 1;
    struct pm_finding f = run(&a, PM_OUT_ICMP_UNREACHABLE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-icmp-arp");
    cr_assert_eq(f.verdict, PM_V_PATH_ICMP);
    cr_assert_eq(f.owner, PM_OWN_RECIPIENT_GATEWAY);
    cr_assert(strstr(f.next_step, "192.0.2.1") && strstr(f.next_step, SRV), "%s", f.next_step);
    /* the same error at once is a router's decision, not a resolution failure */
    struct pm_attempt b = icmp_att("192.0.2.1", 3, 1, 250, PM_MS(40));
    f = run(&b, PM_OUT_ICMP_UNREACHABLE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-icmp-recipient-net");
    cr_assert_eq(f.owner, PM_OWN_RECIPIENT_GATEWAY);
    /* IPv6: address unreachable (1/3) after ~3 s of neighbour solicitation */
    struct pm_attempt c = att("2001:db8:2::25", PM_ANS_ICMP, PM_MS(3010));
    c.ans.from = pb_addr("2001:db8:2::1");
    c.ans.icmp_type = 1;
    c.ans.icmp_code = 3;
    c.ans.ttl = 60;
    f = run(&c, PM_OUT_ICMP_UNREACHABLE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-icmp-arp");
}

Test(attribute, ttl_exceeded_is_path_icmp)
{
    struct pm_attempt a = icmp_att("203.0.113.77", 11, 0, 245, PM_MS(25));
    struct pm_finding f = run(&a, PM_OUT_TTL_EXCEEDED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-icmp-ttl");
    cr_assert_eq(f.verdict, PM_V_PATH_ICMP);
    cr_assert_eq(f.owner, PM_OWN_PATH);
    cr_assert_eq(f.icmp_hop, 11, "TTL 245 from 255: 10 routers before it, it is hop 11");
    cr_assert(strstr(f.next_step, "203.0.113.77") && strstr(f.next_step, "hop 11"), "%s",
              f.next_step);
}

Test(attribute, icmp_from_any_other_router_is_path_icmp)
{
    struct pm_attempt a = icmp_att("198.18.0.1", 3, 13, 60, PM_MS(12));
    struct pm_finding f = run(&a, PM_OUT_ICMP_UNREACHABLE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "path-icmp");
    cr_assert_eq(f.owner, PM_OWN_PATH);
    cr_assert_eq(f.icmp_hop, 5);
    cr_assert(strstr(f.clue, "admin-prohibited from 198.18.0.1 at hop 5") != NULL, "%s", f.clue);
}

/* ================================ not on the wire ================================ */

static struct pm_logentry logline(enum pm_logkind kind, enum pm_errclass err, const char *text)
{
    struct pm_logentry l;
    memset(&l, 0, sizeof(l));
    l.ts = T0 + PM_MS(100);
    l.mta = PM_MTA_POSTFIX;
    l.kind = (uint8_t)kind;
    l.err = (uint8_t)err;
    l.addr = pb_addr(SRV);
    l.port = 25;
    l.file = 0;
    l.line = 42;
    pm_strlcpy(l.host, "mx.example.net", sizeof(l.host));
    pm_strlcpy(l.text, text, sizeof(l.text));
    return l;
}

Test(attribute, not_on_wire_by_errno)
{
    env.logs = &logs;
    const struct {
        enum pm_errclass err;
        const char *text;
        const char *rule;
        enum pm_verdict verdict;
    } t[] = {
        {PM_EC_REFUSED, "Connection refused", "local-reject", PM_V_LOCAL_FIREWALL},
        {PM_EC_TIMEDOUT, "Connection timed out", "local-drop", PM_V_LOCAL_FIREWALL},
        {PM_EC_PERM, "Operation not permitted", "local-eperm", PM_V_LOCAL_FIREWALL},
        {PM_EC_NETUNREACH, "Network is unreachable", "local-no-route", PM_V_LOCAL_ROUTING},
        {PM_EC_HOSTUNREACH, "No route to host", "local-unreachable-route", PM_V_LOCAL_ROUTING},
        {PM_EC_HOSTDOWN, "Host is down", "local-unreachable-route", PM_V_LOCAL_ROUTING},
        {PM_EC_ACCES, "Permission denied", "local-prohibit-route", PM_V_LOCAL_ROUTING},
        {PM_EC_INVAL, "Invalid argument", "local-blackhole-route", PM_V_LOCAL_ROUTING},
        {PM_EC_ADDRNOTAVAIL, "Cannot assign requested address", "local-source-address",
         PM_V_LOCAL_ROUTING},
        {PM_EC_OTHER, "Protocol error", "local-unexplained", PM_V_INCONCLUSIVE},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(t); i++) {
        struct pm_logentry l = logline(PM_LK_CONNECT_FAIL, t[i].err, t[i].text);
        struct pm_finding f = run(NULL, PM_OUT_NOT_ON_WIRE, NULL, &l, NULL);
        cr_assert_str_eq(f.rule->id, t[i].rule, "%s", t[i].text);
        cr_assert_eq(f.verdict, t[i].verdict, "%s", t[i].text);
        cr_assert_eq(f.owner, PM_OWN_SENDER_HOST, "%s", t[i].text);
        cr_assert_eq(f.outcome, PM_OUT_NOT_ON_WIRE);
        cr_assert_null(f.a);
        cr_assert_eq(f.log, &l);
        cr_assert(has_evidence(&f, "mail.log:42: mx.example.net: "), "%s: the log line is cited",
                  t[i].text);
        cr_assert(has_evidence(&f, t[i].text));
        cr_assert_not(f.inconsistent);
    }
}

Test(attribute, not_on_wire_next_steps_name_the_destination)
{
    struct pm_logentry l = logline(PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT, "Connection timed out");
    l.port = 0; /* the line does not say: 25 */
    struct pm_finding f = run(NULL, PM_OUT_NOT_ON_WIRE, NULL, &l, NULL);
    cr_assert(strstr(f.next_step, "25") != NULL, "%s", f.next_step);
    l = logline(PM_LK_CONNECT_FAIL, PM_EC_NETUNREACH, "Network is unreachable");
    f = run(NULL, PM_OUT_NOT_ON_WIRE, NULL, &l, NULL);
    cr_assert(strstr(f.next_step, "ip route get 192.0.2.25") != NULL, "%s", f.next_step);
}

/* ================================ log against packets ================================ */

Test(attribute, log_that_the_packets_cannot_explain_is_flagged_and_lowers_confidence)
{
    env.logs = &logs;
    learn_synack(SRV, 58, PM_MS(40));
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(41));
    a.ans.ttl = 58;
    struct pm_logentry l = logline(PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT, "Connection timed out");
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, &l, NULL);
    cr_assert_eq(f.verdict, PM_V_REMOTE_REFUSED, "the packets decide");
    cr_assert(f.inconsistent);
    cr_assert_eq(f.confidence, PM_CONF_MEDIUM, "high, lowered one step");
    cr_assert(strstr(f.inconsistency, "Connection timed out") != NULL, "%s", f.inconsistency);
    cr_assert(strstr(f.inconsistency, "Connection refused") != NULL, "%s", f.inconsistency);
    cr_assert(has_evidence(&f, "inconsistent"));
    /* the consistent line changes nothing */
    l = logline(PM_LK_CONNECT_FAIL, PM_EC_REFUSED, "Connection refused");
    f = run(&a, PM_OUT_REFUSED, NULL, &l, NULL);
    cr_assert_not(f.inconsistent);
    cr_assert_eq(f.confidence, PM_CONF_HIGH);
}

Test(attribute, icmp_codes_against_the_kernels_errno)
{
    /* net/ipv4/icmp.c icmp_err_convert[]: 3/13 → EHOSTUNREACH, 3/0 → ENETUNREACH */
    struct pm_attempt a = icmp_att("198.18.0.1", 3, 13, 60, PM_MS(12));
    struct pm_logentry l = logline(PM_LK_CONNECT_FAIL, PM_EC_HOSTUNREACH, "No route to host");
    struct pm_finding f = run(&a, PM_OUT_ICMP_UNREACHABLE, NULL, &l, NULL);
    cr_assert_not(f.inconsistent);
    l = logline(PM_LK_CONNECT_FAIL, PM_EC_REFUSED, "Connection refused");
    f = run(&a, PM_OUT_ICMP_UNREACHABLE, NULL, &l, NULL);
    cr_assert(f.inconsistent);
    a.ans.icmp_code = 0;
    l = logline(PM_LK_CONNECT_FAIL, PM_EC_NETUNREACH, "Network is unreachable");
    f = run(&a, PM_OUT_ICMP_UNREACHABLE, NULL, &l, NULL);
    cr_assert_not(f.inconsistent);
    /* time exceeded → EHOSTUNREACH (tcp_v4_err) */
    a = icmp_att("203.0.113.77", 11, 0, 245, PM_MS(25));
    l = logline(PM_LK_CONNECT_FAIL, PM_EC_HOSTUNREACH, "No route to host");
    f = run(&a, PM_OUT_TTL_EXCEEDED, NULL, &l, NULL);
    cr_assert_not(f.inconsistent);
    /* net/ipv6/icmp.c tab_unreach[]: 1/1 → EACCES, 1/4 → ECONNREFUSED */
    struct pm_attempt b = att("2001:db8:2::25", PM_ANS_ICMP, PM_MS(10));
    b.ans.from = pb_addr("2001:db8:9::1");
    b.ans.icmp_type = 1;
    b.ans.icmp_code = 1;
    b.ans.ttl = 60;
    l = logline(PM_LK_CONNECT_FAIL, PM_EC_ACCES, "Permission denied");
    f = run(&b, PM_OUT_ICMP_UNREACHABLE, NULL, &l, NULL);
    cr_assert_not(f.inconsistent);
    b.ans.icmp_code = 4;
    l = logline(PM_LK_CONNECT_FAIL, PM_EC_REFUSED, "Connection refused");
    f = run(&b, PM_OUT_ICMP_UNREACHABLE, NULL, &l, NULL);
    cr_assert_not(f.inconsistent);
    l = logline(PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT, "Connection timed out");
    f = run(&b, PM_OUT_ICMP_UNREACHABLE, NULL, &l, NULL);
    cr_assert(f.inconsistent);
}

Test(attribute, greeting_lines_fit_only_handshakes)
{
    struct pm_attempt a = att(SRV, PM_ANS_SYNACK, PM_MS(20));
    a.n_synack = 1;
    a.established = 1;
    a.close = PM_CLOSE_CLI_FIN;
    struct pm_logentry l = logline(PM_LK_GREETING_TIMEOUT, PM_EC_NONE,
                                   "conversation with mx timed out while receiving the initial "
                                   "server greeting");
    struct pm_finding f = run(&a, PM_OUT_NO_BANNER, NULL, &l, NULL);
    cr_assert_str_eq(f.rule->id, "no-banner");
    cr_assert_not(f.inconsistent);
    struct pm_attempt b = att(SRV, PM_ANS_NONE, 0);
    b.syns = 5;
    b.last_syn = T0 + PM_SEC(7);
    f = run(&b, PM_OUT_NO_RESPONSE, NULL, &l, NULL);
    cr_assert(f.inconsistent, "no handshake cannot time out waiting for a greeting");
}

/* ================================ confidence ================================ */

Test(attribute, capture_drops_lower_absence_based_verdicts_only)
{
    env.capture_drops = 12;
    struct pm_logentry l = logline(PM_LK_CONNECT_FAIL, PM_EC_REFUSED, "Connection refused");
    struct pm_finding f = run(NULL, PM_OUT_NOT_ON_WIRE, NULL, &l, NULL);
    cr_assert_eq(f.verdict, PM_V_LOCAL_FIREWALL);
    cr_assert_eq(f.confidence, PM_CONF_MEDIUM, "the missing SYN may be a dropped one");
    cr_assert(f.capture_lost_packets);
    cr_assert(has_evidence(&f, "dropped 12 packets"));
    env.provider_pattern = true;
    struct pm_attempt s = att(SRV, PM_ANS_NONE, 0);
    s.syns = 3;
    s.last_syn = T0 + PM_SEC(3);
    f = run(&s, PM_OUT_NO_RESPONSE, NULL, NULL, NULL);
    cr_assert_eq(f.verdict, PM_V_PROVIDER_BLOCK);
    cr_assert_eq(f.confidence, PM_CONF_MEDIUM);
    /* a RST that was captured does not depend on what was not */
    learn_synack(SRV, 58, PM_MS(40));
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(41));
    a.ans.ttl = 58;
    f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_eq(f.confidence, PM_CONF_HIGH);
    cr_assert_not(f.capture_lost_packets);
}

Test(attribute, truncated_or_evicted_attempts_are_at_most_medium)
{
    learn_synack(SRV, 58, PM_MS(40));
    struct pm_attempt a = att(SRV, PM_ANS_RST, PM_MS(41));
    a.ans.ttl = 58;
    a.flags = PM_AF_TRUNCATED;
    struct pm_finding f = run(&a, PM_OUT_REFUSED, NULL, NULL, NULL);
    cr_assert_eq(f.confidence, PM_CONF_MEDIUM);
    cr_assert(has_evidence(&f, "snaplen"));
}

/* ================================ silence and scope ================================ */

static struct pm_attempt silent(const char *srv, uint16_t dport)
{
    struct pm_attempt a = att(srv, PM_ANS_NONE, 0);
    a.dport = dport;
    a.syns = 4;
    a.last_syn = a.last_seen = T0 + PM_SEC(7);
    return a;
}

Test(attribute, provider_pattern_only_for_port_25)
{
    env.provider_pattern = true;
    struct pm_attempt a = silent(SRV, 25);
    struct pm_finding f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "provider-block");
    cr_assert_eq(f.owner, PM_OWN_PROVIDER);
    cr_assert(has_evidence(&f, "port 25 failed"));
    cr_assert(has_evidence(&f, "sender.pcap#14: 4 SYNs"), "retransmissions are cited");
    a = silent(SRV, 587);
    f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "silent-drop");
}

Test(attribute, silence_to_one_destination_while_others_work)
{
    learn_synack("198.51.100.7", 52, PM_MS(30));
    struct pm_attempt a = silent(SRV, 25);
    pm_context_learn(ctx, &a, PM_OUT_NO_RESPONSE);
    struct pm_finding f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "silent-drop-one-destination");
    cr_assert_eq(f.verdict, PM_V_SILENT_DROP);
    cr_assert_eq(f.owner, PM_OWN_RECIPIENT_GATEWAY);
}

Test(attribute, silence_everywhere_points_at_the_sender)
{
    struct pm_attempt a = silent(SRV, 25), b = silent("198.51.100.7", 25);
    pm_context_learn(ctx, &a, PM_OUT_NO_RESPONSE);
    pm_context_learn(ctx, &b, PM_OUT_NO_RESPONSE);
    struct pm_finding f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "silent-drop-everywhere");
    cr_assert_eq(f.owner, PM_OWN_SENDER_NETWORK);
    cr_assert_eq(f.confidence, PM_CONF_LOW);
}

Test(attribute, a_ttl_walk_says_where_syns_vanish)
{
    struct pm_attempt a = silent(SRV, 25);
    pm_addr srv = pb_addr(SRV), last = pb_addr("203.0.113.9");
    pm_context_drop_hop(ctx, &srv, 7, &last);
    struct pm_finding f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, NULL);
    cr_assert_eq(f.verdict, PM_V_SILENT_DROP);
    cr_assert(strstr(f.clue, "after hop 7 (203.0.113.9)") != NULL, "%s", f.clue);
    cr_assert(has_evidence(&f, "TTL walk"));
}

/* ================================ after the handshake ================================ */

Test(attribute, smtp_policy_quotes_the_reply_and_blocklist_words)
{
    struct pm_attempt a = att(SRV, PM_ANS_SYNACK, PM_MS(20));
    a.n_synack = 1;
    a.established = 1;
    a.banner_code = 220;
    a.worst_code = 554;
    struct pm_smtp_summary s;
    memset(&s, 0, sizeof(s));
    s.banner_code = 220;
    pm_strlcpy(s.banner, "mx.example.net ESMTP", sizeof(s.banner));
    s.nreplies = 1;
    pm_strlcpy(s.replies[0].cmd, "RCPT", sizeof(s.replies[0].cmd));
    s.replies[0].code = 554;
    pm_strlcpy(s.replies[0].text, "5.7.1 Client host blocked using zen.spamhaus.org",
               sizeof(s.replies[0].text));
    s.reject_code = 554;
    pm_strlcpy(s.reject_cmd, "RCPT", sizeof(s.reject_cmd));
    s.masked = 1;
    struct pm_finding f = run(&a, PM_OUT_SMTP_REJECTED, &s, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "smtp-policy");
    cr_assert_eq(f.owner, PM_OWN_RECIPIENT_POSTMASTER);
    cr_assert(strstr(f.clue, "554") && strstr(f.clue, "spamhaus"), "%s", f.clue);
    cr_assert(strstr(f.clue, "blocklist") != NULL, "%s", f.clue);
    cr_assert(has_evidence(&f, "greeting: 220 mx.example.net ESMTP"));
    cr_assert(has_evidence(&f, "reply to RCPT: 554"));
    cr_assert(has_evidence(&f, "masked"));
}

Test(attribute, connected_no_banner_and_closed_early)
{
    struct pm_attempt a = att(SRV, PM_ANS_SYNACK, PM_MS(20));
    a.n_synack = 1;
    a.established = 1;
    a.banner_code = 220;
    struct pm_finding f = run(&a, PM_OUT_CONNECTED, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "ok");
    cr_assert_eq(f.verdict, PM_V_OK);
    cr_assert_eq(f.owner, PM_OWN_NONE);
    cr_assert(has_evidence(&f, "SYN-ACK from 192.0.2.25"));
    a.banner_code = 0;
    f = run(&a, PM_OUT_NO_BANNER, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "no-banner");
    cr_assert_eq(f.verdict, PM_V_NO_BANNER);
    a.close = PM_CLOSE_SRV_RST;
    f = run(&a, PM_OUT_CLOSED_BEFORE_BANNER, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "closed-before-banner");
    cr_assert(strstr(f.clue, "reset before any greeting") != NULL, "%s", f.clue);
}

/* MSS 0 is the decoder's "no MSS option": the evidence then says nothing about an MSS;
 * a real MSS is cited. */
Test(attribute, synack_mss_only_when_the_option_was_there)
{
    struct pm_attempt a = att(SRV, PM_ANS_SYNACK, PM_MS(20));
    a.n_synack = 1;
    a.established = 1;
    a.banner_code = 220;
    a.ans.mss = 0;
    struct pm_finding f = run(&a, PM_OUT_CONNECTED, NULL, NULL, NULL);
    cr_assert(has_evidence(&f, "SYN-ACK from 192.0.2.25"));
    cr_assert_not(has_evidence(&f, "MSS"), "no MSS option, no MSS in the evidence");
    a.ans.mss = 1380;
    f = run(&a, PM_OUT_CONNECTED, NULL, NULL, NULL);
    cr_assert(has_evidence(&f, ", MSS 1380"));
}

Test(attribute, incomplete_and_one_sided)
{
    struct pm_attempt a = att(SRV, PM_ANS_NONE, 0);
    a.flags = PM_AF_CAPTURE_ENDED;
    struct pm_finding f = run(&a, PM_OUT_INCOMPLETE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "incomplete");
    cr_assert_eq(f.confidence, PM_CONF_LOW);
    cr_assert(has_evidence(&f, "capture ended"));
    env.vantage_one_sided[0] = true;
    f = run(&a, PM_OUT_INCOMPLETE, NULL, NULL, NULL);
    cr_assert_str_eq(f.rule->id, "one-sided-capture");
}

/* ================================ NAT ================================ */

Test(attribute, nat_drop_and_its_confidence)
{
    struct pm_attempt a = silent(SRV, 25);
    struct pm_nat_facts n;
    memset(&n, 0, sizeof(n));
    n.multi = true;
    n.nat_drop = true;
    n.later_vantage = 1;
    n.nat_drop_confirmed = true;
    struct pm_finding f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, &n);
    cr_assert_str_eq(f.rule->id, "nat-drop");
    cr_assert_eq(f.owner, PM_OWN_SENDER_NETWORK);
    cr_assert_eq(f.confidence, PM_CONF_HIGH);
    cr_assert(has_evidence(&f, "no such SYN at outside"));
    n.nat_drop_confirmed = false; /* nothing proves both captures see one path */
    f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, &n);
    cr_assert_eq(f.confidence, PM_CONF_MEDIUM);
    n.nat_drop_confirmed = true;
    n.nat_drop_assumed = true;
    f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, &n);
    cr_assert_eq(f.confidence, PM_CONF_MEDIUM);
}

Test(attribute, unexpected_public_source_and_return_drop)
{
    struct pm_link_info peer;
    memset(&peer, 0, sizeof(peer));
    peer.vantage = 1;
    peer.sport = 61000;
    peer.cli = pb_addr("203.0.113.66");
    struct pm_nat_facts n;
    memset(&n, 0, sizeof(n));
    n.multi = true;
    n.peer = &peer;
    n.unexpected_source = true;
    n.expect_known = true;
    n.nrewrites = 1;
    pm_strlcpy(n.rewrites[0], "MSS changed from 1460 to 1400 (clamping)", sizeof(n.rewrites[0]));
    struct pm_attempt a = silent(SRV, 25);
    struct pm_finding f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, &n);
    cr_assert_str_eq(f.rule->id, "nat-rewrite");
    cr_assert(strstr(f.next_step, "203.0.113.66") != NULL, "{src} is the public address: %s",
              f.next_step);
    cr_assert(has_evidence(&f, "translation: 10.0.0.1:40000 inside became 203.0.113.66:61000"));
    cr_assert(has_evidence(&f, "MSS changed"));
    /* the same from an unexpected address, but delivered: ok */
    struct pm_attempt c = att(SRV, PM_ANS_SYNACK, PM_MS(20));
    c.n_synack = 1;
    c.banner_code = 220;
    f = run(&c, PM_OUT_CONNECTED, NULL, NULL, &n);
    cr_assert_str_eq(f.rule->id, "ok");
    /* the far view got an answer that never came back inside */
    n.unexpected_source = false;
    n.return_drop = true;
    f = run(&a, PM_OUT_NO_RESPONSE, NULL, NULL, &n);
    cr_assert_str_eq(f.rule->id, "return-drop");
    cr_assert_eq(f.verdict, PM_V_NAT_DROP);
}

/* ================================ references ================================ */

Test(attribute, evidence_cites_file_and_frame)
{
    struct pm_attempt a = att(SRV, PM_ANS_NONE, 0);
    a.syn_ref = (struct pm_pktref){1234, 1};
    struct pm_finding f = run(&a, PM_OUT_INCOMPLETE, NULL, NULL, NULL);
    cr_assert(strncmp(f.evidence[0], "outside.pcap#1234: SYN 10.0.0.1:40000 > 192.0.2.25:25",
                      strlen("outside.pcap#1234: SYN 10.0.0.1:40000 > 192.0.2.25:25")) == 0,
              "%s", f.evidence[0]);
    char buf[64];
    pm_ref_str(&env, (struct pm_pktref){7, 0}, buf, sizeof(buf));
    cr_assert_str_eq(buf, "sender.pcap#7");
    pm_ref_str(&env, (struct pm_pktref){7, 9}, buf, sizeof(buf));
    cr_assert_str_eq(buf, "capture#7", "an unknown file index is not read out of bounds");
}

Test(attribute, evidence_list_is_capped)
{
    struct pm_finding f;
    memset(&f, 0, sizeof(f));
    for (int i = 0; i < PM_MAX_EVIDENCE + 5; i++) {
        pm_finding_add(&f, "line %d", i);
    }
    cr_assert_eq(f.nevidence, PM_MAX_EVIDENCE);
    cr_assert_str_eq(f.evidence[PM_MAX_EVIDENCE - 1], "line 9");
    char long_text[600];
    memset(long_text, 'y', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    memset(&f, 0, sizeof(f));
    pm_finding_add(&f, "%s", long_text);
    cr_assert_eq(strlen(f.evidence[0]), PM_EVIDENCE_LEN - 1);
    cr_assert_str_eq(pm_rst_origin_name(PM_RST_PATH), "path");
    cr_assert_str_eq(pm_rst_origin_name((enum pm_rst_origin)9), "unknown");
}
