/*
 * test_attempt.c — reading a finished attempt (include/attempt.h, analyze/attempt.c):
 * pm_attempt_outcome for every outcome of the output contract and its edge cases (silence
 * is "no-response" only after PM_NO_RESPONSE_WAIT of capture or retransmissions spanning it;
 * one-sided vantages, unreadable answers and evictions are "incomplete"; a self-RST of a
 * SYN-ACK is "connected"; a client giving up is "no-banner"; a server FIN/RST before the
 * banner is "closed-before-banner"; 4xx/5xx is "smtp-rejected"), pm_attempt_conn_state
 * against Zeek's conn_state() (scripts/base/protocols/conn/main.zeek) and TCP endpoint state
 * machine (TCPSessionAdapter.cc), and pm_attempt_reason (nmap --reason).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "attempt.h"
#include "smtp.h"
#include "util.h"

#define T0 PM_SEC(1700000000)

static struct pm_attempt base(void)
{
    struct pm_attempt a;
    memset(&a, 0, sizeof(a));
    a.id = 1;
    a.family = PM_AF_INET;
    a.dport = 25;
    a.sport = 40000;
    a.isn = 1000;
    a.first_syn = a.last_syn = a.last_seen = T0;
    a.syns = 1;
    a.syn_ws = 0xff;
    pm_strlcpy(a.history, "S", sizeof(a.history));
    return a;
}

static struct pm_attempt answered(enum pm_answer ans, pm_ns after)
{
    struct pm_attempt a = base();
    a.answer = (uint8_t)ans;
    a.ans.ts = T0 + after;
    a.last_seen = a.ans.ts;
    if (ans == PM_ANS_SYNACK) {
        a.n_synack = 1;
        pm_strlcpy(a.history, "Sh", sizeof(a.history));
    } else if (ans == PM_ANS_RST) {
        a.n_rst = 1;
        pm_strlcpy(a.history, "Sr", sizeof(a.history));
    } else if (ans == PM_ANS_ICMP) {
        a.n_icmp = 1;
    }
    return a;
}

/* An established attempt whose server sent a greeting `code`. */
static struct pm_attempt greeted(int code)
{
    struct pm_attempt a = answered(PM_ANS_SYNACK, PM_MS(20));
    a.established = 1;
    a.banner_code = (int16_t)code;
    a.srv_bytes = 40;
    pm_strlcpy(a.history, "ShAd", sizeof(a.history));
    return a;
}

#define END_LATE (T0 + PM_SEC(600))

/* ================================ outcome ================================ */

Test(attempt_outcome, rst_is_refused)
{
    struct pm_attempt a = answered(PM_ANS_RST, PM_MS(30));
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_REFUSED);
    cr_assert_eq(pm_attempt_outcome(&a, PM_NS_NONE, false), PM_OUT_REFUSED);
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, true), PM_OUT_REFUSED,
                 "an answer is an answer even at a mostly one-sided vantage");
}

Test(attempt_outcome, icmp_unreachable_and_ttl_exceeded_by_family)
{
    struct pm_attempt a = answered(PM_ANS_ICMP, PM_MS(3));
    a.ans.icmp_type = 3;
    a.ans.icmp_code = 13;
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_ICMP_UNREACHABLE);
    a.ans.icmp_type = 11;
    a.ans.icmp_code = 0;
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_TTL_EXCEEDED);
    a.family = PM_AF_INET6;
    a.ans.icmp_type = 1;
    a.ans.icmp_code = 4;
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_ICMP_UNREACHABLE);
    a.ans.icmp_type = 3; /* ICMPv6 time exceeded, not "destination unreachable" */
    a.ans.icmp_code = 0;
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_TTL_EXCEEDED);
}

Test(attempt_outcome, silence_needs_the_wait_or_retransmissions_over_it)
{
    struct pm_attempt a = base();
    cr_assert_eq(pm_attempt_outcome(&a, T0 + PM_NO_RESPONSE_WAIT, false), PM_OUT_NO_RESPONSE);
    cr_assert_eq(pm_attempt_outcome(&a, T0 + PM_NO_RESPONSE_WAIT - 1, false), PM_OUT_INCOMPLETE,
                 "the capture may have ended before the answer");
    cr_assert_eq(pm_attempt_outcome(&a, PM_NS_NONE, false), PM_OUT_INCOMPLETE);
    /* retransmissions prove the silence by themselves, whatever the capture end */
    a.syns = 3;
    a.last_syn = T0 + PM_NO_RESPONSE_WAIT;
    cr_assert_eq(pm_attempt_outcome(&a, PM_NS_NONE, false), PM_OUT_NO_RESPONSE);
    cr_assert_eq(pm_attempt_outcome(&a, a.last_syn, false), PM_OUT_NO_RESPONSE);
    /* ... but not when they span less than the wait (kernels differ: no fixed schedule) */
    a.last_syn = T0 + PM_SEC(1);
    cr_assert_eq(pm_attempt_outcome(&a, T0 + PM_SEC(1), false), PM_OUT_INCOMPLETE);
}

Test(attempt_outcome, evicted_silence_proves_nothing_unless_retransmitted)
{
    struct pm_attempt a = base();
    a.flags = PM_AF_EVICTED;
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_INCOMPLETE);
    a.syns = 2;
    a.last_syn = T0 + PM_SEC(4);
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_NO_RESPONSE);
}

Test(attempt_outcome, one_sided_or_unreadable_is_incomplete)
{
    struct pm_attempt a = base();
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, true), PM_OUT_INCOMPLETE,
                 "a vantage that never sees servers cannot prove silence");
    a.syns = 4;
    a.last_syn = T0 + PM_SEC(7);
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, true), PM_OUT_INCOMPLETE);
    a = base();
    a.flags = PM_AF_ONE_SIDED;
    a.established = 1;
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_INCOMPLETE);
    a = base();
    a.flags = PM_AF_UNREADABLE_ANSWER;
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_INCOMPLETE);
}

Test(attempt_outcome, greeting_2xx_is_connected_4xx_5xx_rejected)
{
    struct pm_attempt a = greeted(220);
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_CONNECTED);
    cr_assert_eq(pm_attempt_outcome(&a, PM_NS_NONE, false), PM_OUT_CONNECTED);
    a = greeted(421);
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_SMTP_REJECTED);
    a = greeted(554);
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_SMTP_REJECTED);
    a = greeted(220);
    a.worst_code = 550; /* a later reply refused the mail */
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_SMTP_REJECTED);
    a.worst_code = 0;
    a.close = PM_CLOSE_SRV_FIN; /* a server closing after its greeting is not "before" */
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_CONNECTED);
}

Test(attempt_outcome, server_spoke_but_not_smtp_or_unreadably)
{
    struct pm_attempt a = greeted(PM_BANNER_NOT_SMTP);
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_CONNECTED);
    a = greeted(PM_BANNER_UNREADABLE);
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_INCOMPLETE,
                 "a banner cut by the snaplen is unknown, not absent");
    a = greeted(0);
    a.flags = PM_AF_SRV_DATA_UNREAD;
    cr_assert_eq(pm_attempt_outcome(&a, END_LATE, false), PM_OUT_INCOMPLETE);
}

Test(attempt_outcome, silent_server_is_no_banner_only_after_the_wait)
{
    struct pm_attempt a = answered(PM_ANS_SYNACK, PM_MS(20));
    a.established = 1;
    cr_assert_eq(pm_attempt_outcome(&a, a.ans.ts + PM_BANNER_WAIT, false), PM_OUT_NO_BANNER);
    cr_assert_eq(pm_attempt_outcome(&a, a.ans.ts + PM_BANNER_WAIT - 1, false),
                 PM_OUT_INCOMPLETE);
    cr_assert_eq(pm_attempt_outcome(&a, PM_NS_NONE, false), PM_OUT_INCOMPLETE);
}

Test(attempt_outcome, server_closes_before_banner)
{
    struct pm_attempt a = answered(PM_ANS_SYNACK, PM_MS(20));
    a.established = 1;
    a.close = PM_CLOSE_SRV_FIN;
    a.close_ts = T0 + PM_MS(25);
    cr_assert_eq(pm_attempt_outcome(&a, a.close_ts, false), PM_OUT_CLOSED_BEFORE_BANNER);
    a.close = PM_CLOSE_SRV_RST;
    cr_assert_eq(pm_attempt_outcome(&a, a.close_ts, false), PM_OUT_CLOSED_BEFORE_BANNER);
}

Test(attempt_outcome, client_gave_up_waiting_is_no_banner)
{
    struct pm_attempt a = answered(PM_ANS_SYNACK, PM_MS(20));
    a.established = 1;
    a.close = PM_CLOSE_CLI_FIN;
    a.close_ts = T0 + PM_SEC(300);
    cr_assert_eq(pm_attempt_outcome(&a, a.close_ts, false), PM_OUT_NO_BANNER);
    a.close = PM_CLOSE_CLI_RST;
    cr_assert_eq(pm_attempt_outcome(&a, a.close_ts, false), PM_OUT_NO_BANNER);
}

Test(attempt_outcome, self_rst_of_a_synack_is_connected)
{
    struct pm_attempt a = answered(PM_ANS_SYNACK, PM_MS(20));
    a.flags = PM_AF_SELF_RST;
    a.close = PM_CLOSE_CLI_RST;
    pm_strlcpy(a.history, "ShR", sizeof(a.history));
    cr_assert_eq(pm_attempt_outcome(&a, T0 + PM_SEC(1), false), PM_OUT_CONNECTED,
                 "the port answered; the SYN had no socket behind it");
}

Test(attempt_outcome, tls_without_a_readable_greeting_is_connected)
{
    struct pm_attempt a = answered(PM_ANS_SYNACK, PM_MS(20));
    a.established = 1;
    a.flags = PM_AF_TLS;
    a.srv_bytes = 3000;
    a.cli_bytes = 500;
    cr_assert_eq(pm_attempt_outcome(&a, T0 + PM_SEC(1), false), PM_OUT_CONNECTED);
}

/* Implicit TLS (port 465): the server answered the ClientHello in TLS, then the client
 * closed first. The server spoke: the attempt connected (tests/golden/xfail.txt lists the
 * same bug for implicit-tls-465-4). */
Test(attempt_outcome, tls_then_client_close_is_connected)
{
    struct pm_attempt a = answered(PM_ANS_SYNACK, PM_MS(20));
    a.established = 1;
    a.flags = PM_AF_TLS;
    a.srv_bytes = 3000;
    a.cli_bytes = 500;
    a.close = PM_CLOSE_CLI_FIN;
    cr_assert_eq(pm_attempt_outcome(&a, T0 + PM_SEC(1), false), PM_OUT_CONNECTED);
}

Test(attempt_outcome, every_outcome_is_reachable)
{
    bool seen[PM_OUT__COUNT] = {false};
    struct pm_attempt as[12];
    int n = 0;
    as[n++] = greeted(220);
    as[n++] = greeted(554);
    as[n] = answered(PM_ANS_SYNACK, 0);
    as[n].established = 1;
    n++;
    as[n] = answered(PM_ANS_SYNACK, 0);
    as[n++].close = PM_CLOSE_SRV_RST;
    as[n++] = answered(PM_ANS_RST, 0);
    as[n] = answered(PM_ANS_ICMP, 0);
    as[n++].ans.icmp_type = 3;
    as[n] = answered(PM_ANS_ICMP, 0);
    as[n++].ans.icmp_type = 11;
    as[n++] = base();
    as[n] = greeted(220);
    as[n++].flags = PM_AF_TLS_MISMATCH;
    for (int i = 0; i < n; i++) {
        seen[pm_attempt_outcome(&as[i], END_LATE, false)] = true;
    }
    struct pm_attempt inc = base();
    seen[pm_attempt_outcome(&inc, T0, false)] = true;
    for (int o = 0; o < PM_OUT__COUNT; o++) {
        if (o == PM_OUT_NOT_ON_WIRE) {
            cr_assert_not(seen[o], "not-on-wire comes from the log, never from packets");
            continue;
        }
        cr_assert(seen[o], "outcome %s not produced", pm_outcome_name((enum pm_outcome)o));
    }
}

/* ================================ Zeek conn_state ================================ */

static const char *cs(const char *history, uint16_t n_synack, uint32_t flags, uint8_t close)
{
    static struct pm_attempt a;
    a = base();
    pm_strlcpy(a.history, history, sizeof(a.history));
    a.n_synack = n_synack;
    a.flags = flags;
    a.close = close;
    return pm_attempt_conn_state(&a);
}

Test(attempt_conn_state, zeek_states)
{
    /* SYN seen, no reply */
    cr_assert_str_eq(cs("S", 0, 0, 0), "S0");
    /* responder RST while the originator is in SYN_SENT */
    cr_assert_str_eq(cs("Sr", 0, 0, 0), "REJ");
    /* established (the SYN-ACK moves both endpoints to ESTABLISHED), not closed */
    cr_assert_str_eq(cs("Sh", 1, 0, 0), "S1");
    cr_assert_str_eq(cs("ShAdD", 1, 0, 0), "S1");
    /* both FINs */
    cr_assert_str_eq(cs("ShAdDfF", 1, 0, PM_CLOSE_SRV_FIN), "SF");
    /* only the originator closed */
    cr_assert_str_eq(cs("ShADF", 1, 0, PM_CLOSE_CLI_FIN), "S2");
    /* only the responder closed */
    cr_assert_str_eq(cs("ShAdf", 1, 0, PM_CLOSE_SRV_FIN), "S3");
    /* established, originator aborted */
    cr_assert_str_eq(cs("ShADR", 1, 0, PM_CLOSE_CLI_RST), "RSTO");
    /* SYN, SYN-ACK and our own RST: the responder is ESTABLISHED, so RSTO */
    cr_assert_str_eq(cs("ShR", 1, PM_AF_SELF_RST, PM_CLOSE_CLI_RST), "RSTO");
    /* established, responder aborted; also before the originator's ACK (the SYN-ACK already
     * made the originator ESTABLISHED in Zeek's state machine) */
    cr_assert_str_eq(cs("ShAdr", 1, 0, PM_CLOSE_SRV_RST), "RSTR");
    cr_assert_str_eq(cs("Shr", 1, 0, PM_CLOSE_SRV_RST), "RSTR");
    /* originator SYN then RST, no SYN-ACK (^?S[^HAFGIQ]*R) */
    cr_assert_str_eq(cs("SR", 0, PM_AF_CLIENT_GAVE_UP, PM_CLOSE_CLI_RST), "RSTOS0");
    /* originator SYN then FIN, no SYN-ACK: half open */
    cr_assert_str_eq(cs("SF", 0, PM_AF_CLIENT_GAVE_UP, PM_CLOSE_CLI_FIN), "SH");
    /* the originator's SYN was not seen: SYN-ACK then RST / FIN from the responder */
    cr_assert_str_eq(cs("hr", 1, PM_AF_SYN_NOT_CAPTURED, PM_CLOSE_SRV_RST), "RSTRH");
    cr_assert_str_eq(cs("hf", 1, PM_AF_SYN_NOT_CAPTURED, PM_CLOSE_SRV_FIN), "SHR");
    /* midstream traffic only */
    cr_assert_str_eq(cs("Dd", 0, PM_AF_SYN_NOT_CAPTURED, 0), "OTH");
    cr_assert_str_eq(cs("h", 1, PM_AF_SYN_NOT_CAPTURED, 0), "OTH");
}

/* Zeek's TCP analyzer keeps an originator in SYN_SENT when it ACKs or sends data without a
 * SYN-ACK from the responder (UpdateSYN_SentState changes state only on FIN/RST), and the
 * responder stays INACTIVE: conn_state() gives S0 ("possible_split_routing" weird), not S1. */
Test(attempt_conn_state, one_sided_capture_is_s0_in_zeek)
{
    cr_assert_str_eq(cs("SAD", 0, PM_AF_ONE_SIDED, 0), "S0");
}

/* conn_state() checks the responder first: whenever the responder is in RESET the state is
 * REJ (no bytes either way), RSTRH or RSTR — also when the originator reset first. */
Test(attempt_conn_state, responder_reset_after_originator_reset_is_rstr_or_rej)
{
    struct pm_attempt a = base();
    pm_strlcpy(a.history, "ShADdRr", sizeof(a.history));
    a.n_synack = 1;
    a.close = PM_CLOSE_CLI_RST;
    a.cli_bytes = 10;
    a.srv_bytes = 30;
    cr_assert_str_eq(pm_attempt_conn_state(&a), "RSTR");
    pm_strlcpy(a.history, "ShARr", sizeof(a.history));
    a.cli_bytes = a.srv_bytes = 0;
    cr_assert_str_eq(pm_attempt_conn_state(&a), "REJ");
}

/* UpdateClosedState: a RST from an endpoint that already sent its FIN, when the peer had
 * closed too, changes nothing — both stay CLOSED and the connection is SF. */
Test(attempt_conn_state, rst_after_both_fins_is_still_sf)
{
    cr_assert_str_eq(cs("ShAdDfFR", 1, 0, PM_CLOSE_SRV_FIN), "SF");
}

/* ================================ nmap reason ================================ */

Test(attempt_reason, nmap_words)
{
    struct pm_attempt a = answered(PM_ANS_SYNACK, 0);
    cr_assert_str_eq(pm_attempt_reason(&a), "syn-ack");
    a = answered(PM_ANS_RST, 0);
    cr_assert_str_eq(pm_attempt_reason(&a), "reset");
    a = answered(PM_ANS_ICMP, 0);
    a.ans.icmp_type = 3;
    a.ans.icmp_code = 13;
    cr_assert_str_eq(pm_attempt_reason(&a), "admin-prohibited");
    a.ans.icmp_code = 1;
    cr_assert_str_eq(pm_attempt_reason(&a), "host-unreach");
    a.ans.icmp_type = 11;
    a.ans.icmp_code = 0;
    cr_assert_str_eq(pm_attempt_reason(&a), "time-exceeded");
    a.family = PM_AF_INET6;
    a.ans.icmp_type = 1;
    a.ans.icmp_code = 4;
    cr_assert_str_eq(pm_attempt_reason(&a), "port-unreach");
    a.ans.icmp_code = 1;
    cr_assert_str_eq(pm_attempt_reason(&a), "admin-prohibited");
    a = base();
    cr_assert_str_eq(pm_attempt_reason(&a), "no-response");
}
