/*
 * test_track.c — the per-packet attempt state machine (include/track.h, analyze/track.c),
 * driven with frames built by pktbuild and decoded by pm_decode, as the engine does:
 * a SYN makes an attempt; retransmissions with the same ISN fold in; a new ISN on the same
 * 4-tuple is a new attempt; a full SMTP dialogue (greeting, EHLO, MAIL, RCPT, DATA, QUIT) is
 * summarised with Zeek's history letters in order; RST and ICMP answers (joined through the
 * quote, and by sequence number when a NAT rewrote the quoted source); frag-needed and other
 * ICMP errors after the handshake are not answers; a one-sided capture; an orphan RST on
 * loopback reconstructs the attempt; a SYN-ACK whose flags the snaplen cut; timeouts per
 * class through pm_tracker_tick; eviction when the table is full; capture end; the same SYN
 * at two vantage points linked both ways; counters.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "pktbuild.h"
#include "track.h"
#include "util.h"

#define CLI "10.0.0.1"
#define SRV "192.0.2.25"
#define RTR "10.99.1.1"
#define T0 PM_SEC(1700000000)
#define ISN 1000u
#define SISN 5000u

struct done_log {
    struct pm_attempt a[64];
    struct pm_smtp_summary s[64];
    bool has_s[64];
    int n;
};

static void on_done(void *ctx, const struct pm_attempt *a, const struct pm_smtp_summary *s)
{
    struct done_log *d = ctx;
    cr_assert(d->n < 64);
    d->a[d->n] = *a;
    d->has_s[d->n] = s != NULL;
    if (s) {
        d->s[d->n] = *s;
    }
    d->n++;
}

static struct pm_tracker *mk(struct done_log *d, int nvantage, uint32_t max_flows,
                             uint32_t max_sessions)
{
    memset(d, 0, sizeof(*d));
    struct pm_track_config c = {.ports = {25, 465, 587}, .nports = 3, .max_flows = max_flows,
                                .max_sessions = max_sessions, .seed = 42, .nvantage = nvantage};
    return pm_tracker_new(&c, on_done, d);
}

static uint32_t g_frame;

/* Feed raw IP bytes (LINKTYPE_RAW), optionally cut to caplen. */
static void feed_raw(struct pm_tracker *t, const uint8_t *b, size_t n, size_t caplen, pm_ns ts,
                     uint16_t vantage)
{
    struct pm_pkt p;
    pb_decode(&p, PM_LT_RAW, b, caplen ? caplen : n, n, ts, ++g_frame, vantage);
    pm_tracker_packet(t, &p, vantage);
}

static void seg(struct pm_tracker *t, pm_ns ts, const char *src, uint16_t sport, const char *dst,
                uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, const char *payload,
                uint8_t ttl)
{
    uint8_t b[PB_MAX];
    size_t n = pb_seg(b, sizeof(b), src, sport, dst, dport, flags, seq, ack, payload,
                      payload ? strlen(payload) : 0, ttl);
    feed_raw(t, b, n, 0, ts, 0);
}

static void syn(struct pm_tracker *t, pm_ns ts, uint16_t sport, uint32_t isn)
{
    seg(t, ts, CLI, sport, SRV, 25, PM_TH_SYN, isn, 0, NULL, 64);
}

/* A SYN with the Linux options (MSS 1460, SACK, TS 12345, WS 7). */
static void syn_opts(struct pm_tracker *t, pm_ns ts, uint16_t vantage, const char *src,
                     uint16_t sport, uint32_t isn, uint8_t ttl)
{
    uint8_t l4[128], b[PB_MAX];
    struct pb_tcp tc = {.sport = sport, .dport = 25, .seq = isn, .flags = PM_TH_SYN,
                        .win = 64240, .opts = pb_linux_syn_opts, .optlen = 20};
    size_t n = pb_tcp(l4, sizeof(l4), &tc);
    struct pb_ip ip = {.family = PM_AF_INET, .src = src, .dst = SRV, .proto = 6, .ttl = ttl,
                       .frag = PB_DF, .id = 0x4242};
    n = pb_ip(b, sizeof(b), &ip, l4, n);
    feed_raw(t, b, n, 0, ts, vantage);
}

/* A conversation on CLI:40000 > SRV:25 with sequence numbers kept. */
struct conv {
    struct pm_tracker *t;
    uint32_t c, s; /* next sequence number of client and server */
    pm_ns ts;
};

static void handshake(struct conv *v)
{
    syn(v->t, v->ts, 40000, ISN);
    v->ts += PM_MS(20);
    seg(v->t, v->ts, SRV, 25, CLI, 40000, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    v->ts += PM_MS(1);
    seg(v->t, v->ts, CLI, 40000, SRV, 25, PM_TH_ACK, ISN + 1, SISN + 1, NULL, 64);
    v->c = ISN + 1;
    v->s = SISN + 1;
}

static void srv_says(struct conv *v, const char *text)
{
    v->ts += PM_MS(10);
    seg(v->t, v->ts, SRV, 25, CLI, 40000, PM_TH_ACK | PM_TH_PSH, v->s, v->c, text, 58);
    v->s += (uint32_t)strlen(text);
}

static void cli_says(struct conv *v, const char *text)
{
    v->ts += PM_MS(10);
    seg(v->t, v->ts, CLI, 40000, SRV, 25, PM_TH_ACK | PM_TH_PSH, v->c, v->s, text, 64);
    v->c += (uint32_t)strlen(text);
}

static void srv_flags(struct conv *v, uint8_t flags)
{
    v->ts += PM_MS(10);
    seg(v->t, v->ts, SRV, 25, CLI, 40000, flags, v->s, v->c, NULL, 58);
    if (flags & PM_TH_FIN) {
        v->s++;
    }
}

static void cli_flags(struct conv *v, uint8_t flags)
{
    v->ts += PM_MS(10);
    seg(v->t, v->ts, CLI, 40000, SRV, 25, flags, v->c, v->s, NULL, 64);
    if (flags & PM_TH_FIN) {
        v->c++;
    }
}

/* An ICMPv4 error from `from` quoting `quote` (n bytes). */
static void icmp_err(struct pm_tracker *t, pm_ns ts, const char *from, uint8_t type, uint8_t code,
                     uint32_t rest, const uint8_t *quote, size_t qn, size_t caplen)
{
    uint8_t l4[PB_MAX], b[PB_MAX];
    size_t n = pb_icmp(l4, sizeof(l4), type, code, rest, quote, qn);
    struct pb_ip ip = {.family = PM_AF_INET, .src = from, .dst = CLI, .proto = 1, .ttl = 63};
    n = pb_ip(b, sizeof(b), &ip, l4, n);
    feed_raw(t, b, n, caplen, ts, 0);
}

static size_t syn_bytes(uint8_t *b, size_t cap, const char *src, uint16_t sport, uint32_t isn)
{
    return pb_seg(b, cap, src, sport, SRV, 25, PM_TH_SYN, isn, 0, NULL, 0, 63);
}

/* ================================ SYNs ================================ */

Test(track, syn_makes_an_attempt)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn_opts(t, T0, 0, CLI, 40000, ISN, 64);
    cr_assert_eq(d.n, 0, "open until an answer, a timeout or the end");
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    const struct pm_attempt *a = &d.a[0];
    pm_addr cli = pb_addr(CLI), srv = pb_addr(SRV);
    cr_assert(pm_addr_eq(&a->cli, &cli));
    cr_assert(pm_addr_eq(&a->srv, &srv));
    cr_assert_eq(a->family, PM_AF_INET);
    cr_assert_eq(a->sport, 40000);
    cr_assert_eq(a->dport, 25);
    cr_assert_eq(a->isn, ISN);
    cr_assert_eq(a->syns, 1);
    cr_assert_eq(a->first_syn, T0);
    cr_assert_eq(a->answer, PM_ANS_NONE);
    cr_assert_eq(a->syn_ttl, 64);
    cr_assert_eq(a->syn_mss, 1460);
    cr_assert_eq(a->syn_ws, 7);
    cr_assert_eq(a->syn_tsval, 12345u);
    cr_assert_eq(a->syn_ip_id, 0x4242);
    cr_assert_neq(a->id, 0);
    cr_assert_eq(a->syn_ref.frame, g_frame);
    cr_assert_str_eq(a->history, "S");
    cr_assert(a->flags & PM_AF_CAPTURE_ENDED);
    cr_assert_eq(d.has_s[0], false, "no session without a handshake");
    const struct pm_track_counters *c = pm_tracker_counters(t);
    cr_assert_eq(c->attempts, 1);
    cr_assert_eq(c->records, 1);
    cr_assert_eq(c->decoded, 1);
    const struct pm_vantage_state *vs = pm_tracker_vantage(t, 0);
    cr_assert_eq(vs->syns_out, 1);
    cr_assert(pm_vantage_is_local(vs, &cli), "a SYN's source is the sending host");
    cr_assert_not(pm_vantage_is_local(vs, &srv));
    cr_assert_eq(vs->first_ts, T0);
    pm_tracker_free(t);
}

Test(track, unwatched_port_makes_no_attempt)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    seg(t, T0, CLI, 40000, SRV, 80, PM_TH_SYN, ISN, 0, NULL, 64);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 0);
    cr_assert(pm_tracker_port_watched(t, 587));
    cr_assert_not(pm_tracker_port_watched(t, 80));
    pm_tracker_free(t);
}

Test(track, retransmissions_with_the_same_isn_fold_in)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    syn(t, T0 + PM_SEC(1), 40000, ISN);
    syn(t, T0 + PM_SEC(3), 40000, ISN);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.a[0].syns, 3);
    cr_assert_eq(d.a[0].first_syn, T0);
    cr_assert_eq(d.a[0].last_syn, T0 + PM_SEC(3));
    cr_assert_str_eq(d.a[0].history, "S", "same ISN: Zeek logs no extra S");
    cr_assert_eq(pm_tracker_counters(t)->syn_retransmissions, 2);
    cr_assert_eq(pm_tracker_counters(t)->attempts, 1);
    pm_tracker_free(t);
}

Test(track, a_new_isn_on_the_same_tuple_is_a_new_attempt)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    syn(t, T0 + PM_SEC(1), 40000, ISN);
    syn(t, T0 + PM_SEC(5), 40000, ISN + 777777);
    cr_assert_eq(d.n, 1, "the old attempt ends when its tuple is reused");
    cr_assert(d.a[0].flags & PM_AF_ISN_REUSED);
    cr_assert_eq(d.a[0].syns, 2);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.a[1].isn, ISN + 777777);
    cr_assert_eq(d.a[1].syns, 1);
    cr_assert_neq(d.a[0].id, d.a[1].id);
    cr_assert_eq(pm_tracker_counters(t)->isn_reuse, 1);
    cr_assert_eq(pm_tracker_counters(t)->attempts, 2);
    pm_tracker_free(t);
}

/* ================================ the SMTP dialogue ================================ */

Test(track, full_smtp_session)
{
    struct done_log d;
    struct conv v = {.t = mk(&d, 1, 64, 16), .ts = T0};
    handshake(&v);
    srv_says(&v, "220 mx.example.net ESMTP ready\r\n");
    cli_says(&v, "EHLO client.example.org\r\n");
    srv_says(&v, "250-mx.example.net\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
    cli_says(&v, "MAIL FROM:<a@example.org>\r\n");
    srv_says(&v, "250 2.1.0 Ok\r\n");
    cli_says(&v, "RCPT TO:<b@example.net>\r\n");
    srv_says(&v, "250 2.1.5 Ok\r\n");
    cli_says(&v, "DATA\r\n");
    srv_says(&v, "354 End data with <CR><LF>.<CR><LF>\r\n");
    /* body lines are not commands: were they queued, the next reply would pair with them */
    cli_says(&v, "Subject: hi\r\n\r\nRCPT TO:<not@a.command>\r\n.\r\n");
    srv_says(&v, "250 2.0.0 Ok: queued as 4XyZ\r\n");
    cli_says(&v, "QUIT\r\n");
    srv_says(&v, "221 2.0.0 Bye\r\n");
    srv_flags(&v, PM_TH_FIN | PM_TH_ACK);
    cli_flags(&v, PM_TH_FIN | PM_TH_ACK);
    srv_flags(&v, PM_TH_ACK);
    pm_tracker_flush(v.t);
    cr_assert_eq(d.n, 1);
    const struct pm_attempt *a = &d.a[0];
    cr_assert_eq(a->answer, PM_ANS_SYNACK);
    cr_assert_eq(a->ans.ttl, 58);
    cr_assert(a->ans.ack_ok);
    cr_assert(a->established);
    cr_assert_eq(a->n_synack, 1);
    cr_assert_eq(a->banner_code, 220);
    cr_assert_eq(a->worst_code, 0);
    cr_assert_eq(a->close, PM_CLOSE_SRV_FIN);
    cr_assert_not(a->flags & (PM_AF_BAD_SYNACK | PM_AF_SRV_DATA_UNREAD | PM_AF_ONE_SIDED));
    cr_assert_gt(a->srv_bytes, 100);
    cr_assert_gt(a->cli_bytes, 100);
    /* Zeek letters, in order of first appearance: SYN, SYN-ACK, pure ACK, responder data,
     * originator data, responder FIN, originator FIN (then a pure ACK from the responder). */
    cr_assert_str_eq(a->history, "ShAdDfFa");
    cr_assert(d.has_s[0]);
    const struct pm_smtp_summary *s = &d.s[0];
    cr_assert_eq(s->banner_code, 220);
    cr_assert_str_eq(s->banner, "mx.example.net ESMTP ready");
    cr_assert(s->starttls_offered);
    cr_assert_eq(s->reject_code, 0);
    const char *cmds[] = {"EHLO", "MAIL", "RCPT", "DATA", "DATA-END", "QUIT"};
    const int codes[] = {250, 250, 250, 354, 250, 221};
    cr_assert_eq(s->nreplies, 6);
    for (int i = 0; i < 6; i++) {
        cr_assert_str_eq(s->replies[i].cmd, cmds[i], "reply %d", i);
        cr_assert_eq(s->replies[i].code, codes[i], "reply %d", i);
    }
    pm_tracker_free(v.t);
}

Test(track, rejected_rcpt_is_recorded)
{
    struct done_log d;
    struct conv v = {.t = mk(&d, 1, 64, 16), .ts = T0};
    handshake(&v);
    srv_says(&v, "220 mx ESMTP\r\n");
    cli_says(&v, "EHLO c\r\n");
    srv_says(&v, "250 mx\r\n");
    cli_says(&v, "MAIL FROM:<a@b>\r\n");
    srv_says(&v, "250 ok\r\n");
    cli_says(&v, "RCPT TO:<c@d>\r\n");
    srv_says(&v, "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org\r\n");
    pm_tracker_flush(v.t);
    cr_assert_eq(d.a[0].banner_code, 220);
    cr_assert_eq(d.a[0].worst_code, 554);
    cr_assert_eq(d.s[0].reject_code, 554);
    cr_assert_str_eq(d.s[0].reject_cmd, "RCPT");
    pm_tracker_free(v.t);
}

Test(track, server_bytes_cut_by_snaplen_make_the_banner_unreadable)
{
    struct done_log d;
    struct conv v = {.t = mk(&d, 1, 64, 16), .ts = T0};
    handshake(&v);
    const char *greet = "220 mx.example.net ESMTP Postfix (Debian/GNU)\r\n";
    uint8_t b[PB_MAX];
    size_t n = pb_seg(b, sizeof(b), SRV, 25, CLI, 40000, PM_TH_ACK | PM_TH_PSH, v.s, v.c, greet,
                      strlen(greet), 58);
    feed_raw(v.t, b, n, 68 - 14, v.ts + PM_MS(5), 0); /* tcpdump's old 68-byte snaplen */
    pm_tracker_flush(v.t);
    cr_assert_eq(d.a[0].banner_code, PM_BANNER_UNREADABLE, "cut is \"unknown\", not \"none\"");
    cr_assert(d.a[0].flags & PM_AF_TRUNCATED);
    cr_assert_eq(pm_tracker_counters(v.t)->truncated, 1);
    pm_tracker_free(v.t);
}

Test(track, sessions_pool_exhausted_drops_the_dialogue_not_the_attempt)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 1);
    syn(t, T0, 40000, ISN);
    syn(t, T0, 40001, ISN + 5);
    seg(t, T0 + 10, SRV, 25, CLI, 40000, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    seg(t, T0 + 20, SRV, 25, CLI, 40001, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 6, NULL, 58);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 2);
    int dropped = 0;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(d.a[i].answer, PM_ANS_SYNACK);
        dropped += (d.a[i].flags & PM_AF_SMTP_DROPPED) != 0;
    }
    cr_assert_eq(dropped, 1);
    cr_assert_eq(pm_tracker_counters(t)->sessions_dropped, 1);
    pm_tracker_free(t);
}

/* ================================ answers ================================ */

Test(track, rst_answers_the_syn)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    seg(t, T0 + PM_MS(30), SRV, 25, CLI, 40000, PM_TH_RST | PM_TH_ACK, 0, ISN + 1, NULL, 59);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    const struct pm_attempt *a = &d.a[0];
    cr_assert_eq(a->answer, PM_ANS_RST);
    cr_assert_eq(a->ans.ttl, 59);
    cr_assert(a->ans.ack_ok);
    cr_assert_eq(a->ans.ts, T0 + PM_MS(30));
    cr_assert_eq(a->n_rst, 1);
    cr_assert_eq(a->ans.loopback, 0);
    cr_assert_str_eq(a->history, "Sr");
    cr_assert_str_eq(pm_attempt_conn_state(a), "REJ");
    cr_assert_str_eq(pm_attempt_reason(a), "reset");
    pm_tracker_free(t);
}

Test(track, rst_with_a_wrong_ack_is_still_the_answer_but_not_ack_ok)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    seg(t, T0 + PM_MS(30), SRV, 25, CLI, 40000, PM_TH_RST | PM_TH_ACK, 0, ISN + 99, NULL, 64);
    pm_tracker_flush(t);
    cr_assert_eq(d.a[0].answer, PM_ANS_RST);
    cr_assert_not(d.a[0].ans.ack_ok);
    pm_tracker_free(t);
}

Test(track, icmp_answer_joined_through_the_quote)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    uint8_t q[PB_MAX];
    syn_bytes(q, sizeof(q), CLI, 40000, ISN);
    icmp_err(t, T0 + PM_MS(2), RTR, 3, 13, 0, q, 28, 0);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    const struct pm_attempt *a = &d.a[0];
    cr_assert_eq(a->answer, PM_ANS_ICMP);
    cr_assert_eq(a->ans.icmp_type, 3);
    cr_assert_eq(a->ans.icmp_code, 13);
    pm_addr r = pb_addr(RTR);
    cr_assert(pm_addr_eq(&a->ans.from, &r));
    cr_assert_eq(a->ans.ttl, 63);
    cr_assert_eq(a->ans.qttl, 63);
    cr_assert_eq(a->ans.qseq_state, 1, "the quoted sequence number is our ISN");
    cr_assert_eq(a->ans.qsrc_differs, 0);
    cr_assert_eq(a->ans.qbytes, 28);
    cr_assert_eq(a->n_icmp, 1);
    cr_assert_str_eq(a->history, "S", "Zeek logs the ICMP as its own flow");
    cr_assert_str_eq(pm_attempt_conn_state(a), "S0");
    cr_assert_str_eq(pm_attempt_reason(a), "admin-prohibited");
    pm_tracker_free(t);
}

Test(track, icmp_joined_by_sequence_when_the_quoted_source_was_rewritten)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    uint8_t q[PB_MAX];
    syn_bytes(q, sizeof(q), "203.0.113.5", 61000, ISN); /* as it left the NAT */
    icmp_err(t, T0 + PM_MS(9), RTR, 3, 1, 0, q, 28, 0);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1, "no second, reconstructed attempt");
    const struct pm_attempt *a = &d.a[0];
    cr_assert_eq(a->answer, PM_ANS_ICMP);
    cr_assert_eq(a->ans.qsrc_differs, 1);
    pm_addr pub = pb_addr("203.0.113.5");
    cr_assert(pm_addr_eq(&a->ans.qsrc, &pub));
    cr_assert_eq(a->ans.qsport, 61000);
    pm_tracker_free(t);
}

Test(track, icmp_quoting_another_sequence_number_is_not_joined_by_fallback)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    uint8_t q[PB_MAX];
    size_t qn = syn_bytes(q, sizeof(q), "203.0.113.5", 61000, ISN + 1);
    q[20 + 13] = PM_TH_ACK; /* the full quote shows it was not a SYN either */
    icmp_err(t, T0 + PM_MS(9), RTR, 3, 1, 0, q, qn, 0);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.a[0].answer, PM_ANS_NONE);
    cr_assert_eq(pm_tracker_counters(t)->orphan_icmp, 1);
    pm_tracker_free(t);
}

Test(track, frag_needed_and_errors_after_the_handshake_are_not_answers)
{
    struct done_log d;
    struct conv v = {.t = mk(&d, 1, 64, 16), .ts = T0};
    handshake(&v);
    srv_says(&v, "220 mx ESMTP\r\n");
    uint8_t q[PB_MAX];
    size_t qn = pb_seg(q, sizeof(q), CLI, 40000, SRV, 25, PM_TH_ACK | PM_TH_PSH, v.c, v.s,
                       "EHLO x\r\n", 8, 63);
    icmp_err(v.t, v.ts + PM_MS(1), RTR, 3, 4, 1400, q, qn, 0); /* RFC 1191 */
    icmp_err(v.t, v.ts + PM_MS(2), RTR, 3, 1, 0, q, qn, 0);    /* soft error (RFC 1122) */
    pm_tracker_flush(v.t);
    cr_assert_eq(d.n, 1);
    const struct pm_attempt *a = &d.a[0];
    cr_assert_eq(a->answer, PM_ANS_SYNACK);
    cr_assert(a->flags & PM_AF_FRAG_NEEDED);
    cr_assert(a->flags & PM_AF_ICMP_ESTABLISHED);
    cr_assert_eq(a->n_icmp, 0);
    cr_assert_eq(a->banner_code, 220);
    const struct pm_track_counters *c = pm_tracker_counters(v.t);
    cr_assert_eq(c->frag_needed, 1);
    cr_assert_eq(c->icmp_established, 1);
    pm_tracker_free(v.t);
}

Test(track, frag_needed_during_syn_sent_is_not_an_answer)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    uint8_t q[PB_MAX];
    syn_bytes(q, sizeof(q), CLI, 40000, ISN);
    icmp_err(t, T0 + PM_MS(2), RTR, 3, 4, 576, q, 28, 0);
    pm_tracker_flush(t);
    cr_assert_eq(d.a[0].answer, PM_ANS_NONE);
    cr_assert(d.a[0].flags & PM_AF_FRAG_NEEDED);
    pm_tracker_free(t);
}

Test(track, one_icmp_per_queued_syn_is_counted_once_as_answer)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    syn(t, T0 + PM_SEC(1), 40000, ISN);
    uint8_t q[PB_MAX];
    syn_bytes(q, sizeof(q), CLI, 40000, ISN);
    icmp_err(t, T0 + PM_MS(3050), "192.0.2.1", 3, 1, 0, q, 28, 0);
    icmp_err(t, T0 + PM_MS(3051), "192.0.2.1", 3, 1, 0, q, 28, 0);
    pm_tracker_flush(t);
    cr_assert_eq(d.a[0].answer, PM_ANS_ICMP);
    cr_assert_eq(d.a[0].n_icmp, 2);
    cr_assert_eq(d.a[0].ans.ts, T0 + PM_MS(3050), "the first one is the answer");
    pm_tracker_free(t);
}

Test(track, icmp_whose_quote_the_snaplen_cut_marks_silence_unreadable)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    uint8_t q[PB_MAX];
    size_t qn = syn_bytes(q, sizeof(q), CLI, 40000, ISN);
    icmp_err(t, T0 + PM_MS(5), RTR, 3, 13, 0, q, qn, 20 + 8 + 12); /* quote cut in its IP header */
    pm_tracker_flush(t);
    cr_assert_eq(d.a[0].answer, PM_ANS_NONE);
    cr_assert(d.a[0].flags & PM_AF_UNREADABLE_ANSWER);
    cr_assert_eq(pm_tracker_counters(t)->unreadable_answers, 1);
    cr_assert_eq(pm_attempt_outcome(&d.a[0], T0 + PM_SEC(60), false), PM_OUT_INCOMPLETE);
    pm_tracker_free(t);
}

Test(track, snaplen_cut_synack_is_an_unreadable_answer)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    uint8_t b[PB_MAX];
    size_t n = pb_seg(b, sizeof(b), SRV, 25, CLI, 40000, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1,
                      NULL, 0, 58);
    feed_raw(t, b, n, 20 + 8, T0 + PM_MS(20), 0); /* ports and sequence, no flags */
    pm_tracker_flush(t);
    const struct pm_attempt *a = &d.a[0];
    cr_assert_eq(a->answer, PM_ANS_NONE);
    cr_assert(a->flags & PM_AF_UNREADABLE_ANSWER);
    cr_assert(a->flags & PM_AF_TRUNCATED);
    cr_assert_eq(pm_attempt_outcome(a, T0 + PM_SEC(60), false), PM_OUT_INCOMPLETE,
                 "something answered: not a silent drop");
    pm_tracker_free(t);
}

Test(track, synack_cut_after_the_flags_still_answers)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    uint8_t b[PB_MAX];
    size_t n = pb_seg(b, sizeof(b), SRV, 25, CLI, 40000, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1,
                      NULL, 0, 58);
    feed_raw(t, b, n, 20 + 14, T0 + PM_MS(20), 0);
    pm_tracker_flush(t);
    cr_assert_eq(d.a[0].answer, PM_ANS_SYNACK);
    cr_assert(d.a[0].flags & PM_AF_TRUNCATED);
    pm_tracker_free(t);
}

Test(track, synack_acking_something_else_is_flagged)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    seg(t, T0 + PM_MS(20), SRV, 25, CLI, 40000, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 5000, NULL, 58);
    pm_tracker_flush(t);
    cr_assert(d.a[0].flags & PM_AF_BAD_SYNACK);
    cr_assert_not(d.a[0].ans.ack_ok);
    pm_tracker_free(t);
}

Test(track, synack_after_a_rst_is_an_answer_race)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    seg(t, T0 + PM_MS(5), SRV, 25, CLI, 40000, PM_TH_RST | PM_TH_ACK, 0, ISN + 1, NULL, 62);
    seg(t, T0 + PM_MS(40), SRV, 25, CLI, 40000, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    pm_tracker_flush(t);
    cr_assert_eq(d.a[0].answer, PM_ANS_RST, "the first answer stays the answer");
    cr_assert(d.a[0].flags & PM_AF_ANSWER_RACE);
    pm_tracker_free(t);
}

Test(track, client_gave_up_and_self_rst)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    seg(t, T0 + PM_SEC(30), CLI, 40000, SRV, 25, PM_TH_RST, ISN + 1, 0, NULL, 64);
    /* a raw probe: SYN, SYN-ACK, and our own stack resets it (no socket behind the SYN) */
    syn(t, T0, 40001, ISN);
    seg(t, T0 + PM_MS(20), SRV, 25, CLI, 40001, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    seg(t, T0 + PM_MS(21), CLI, 40001, SRV, 25, PM_TH_RST, ISN + 1, 0, NULL, 64);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 2);
    for (int i = 0; i < 2; i++) {
        const struct pm_attempt *a = &d.a[i];
        if (a->sport == 40000) {
            cr_assert(a->flags & PM_AF_CLIENT_GAVE_UP);
            cr_assert_str_eq(a->history, "SR");
            cr_assert_str_eq(pm_attempt_conn_state(a), "RSTOS0");
        } else {
            cr_assert(a->flags & PM_AF_SELF_RST);
            cr_assert_str_eq(a->history, "ShR");
            cr_assert_eq(pm_attempt_outcome(a, T0 + PM_SEC(60), false), PM_OUT_CONNECTED);
            cr_assert_str_eq(pm_attempt_conn_state(a), "RSTO");
        }
    }
    pm_tracker_free(t);
}

/* ================================ capture shapes ================================ */

Test(track, one_sided_capture_is_not_a_silent_drop)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    /* the client acknowledges a SYN-ACK this capture never shows, then talks */
    seg(t, T0 + PM_MS(30), CLI, 40000, SRV, 25, PM_TH_ACK, ISN + 1, SISN + 1, NULL, 64);
    seg(t, T0 + PM_MS(60), CLI, 40000, SRV, 25, PM_TH_ACK | PM_TH_PSH, ISN + 1, SISN + 30,
        "EHLO c\r\n", 64);
    pm_tracker_flush(t);
    const struct pm_attempt *a = &d.a[0];
    cr_assert(a->flags & PM_AF_ONE_SIDED);
    cr_assert(a->established);
    cr_assert_eq(a->answer, PM_ANS_NONE);
    cr_assert_eq(pm_tracker_vantage(t, 0)->one_sided_evidence, 1);
    cr_assert_eq(pm_tracker_vantage(t, 0)->from_servers, 0);
    enum pm_outcome o = pm_attempt_outcome(a, T0 + PM_SEC(120), false);
    cr_assert_neq(o, PM_OUT_NO_RESPONSE);
    cr_assert_eq(o, PM_OUT_INCOMPLETE);
    pm_tracker_free(t);
}

Test(track, orphan_rst_on_loopback_reconstructs_the_attempt)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    /* OUTPUT REJECT --reject-with tcp-reset: the RST comes from the local stack on lo */
    uint8_t ip[PB_MAX], f[PB_MAX];
    size_t n = pb_seg(ip, sizeof(ip), SRV, 25, CLI, 40000, PM_TH_RST | PM_TH_ACK, 0, ISN + 1,
                      NULL, 0, 64);
    size_t fl = pb_sll(f, sizeof(f), 0, 772, 0x0800, ip, n);
    struct pm_pkt p;
    pb_decode(&p, PM_LT_LINUX_SLL, f, fl, fl, T0, 7, 0);
    pm_tracker_packet(t, &p, 0);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    const struct pm_attempt *a = &d.a[0];
    cr_assert(a->flags & PM_AF_SYN_NOT_CAPTURED);
    cr_assert_eq(a->isn, ISN, "the ISN is what the RST acknowledges minus one");
    cr_assert_eq(a->answer, PM_ANS_RST);
    cr_assert_eq(a->ans.loopback, 1);
    pm_addr cli = pb_addr(CLI);
    cr_assert(pm_addr_eq(&a->cli, &cli));
    cr_assert_eq(a->sport, 40000);
    cr_assert_eq(a->dport, 25);
    cr_assert_eq(a->syn_ref.frame, 7);
    cr_assert_eq(pm_tracker_counters(t)->syn_not_captured, 1);
    pm_tracker_free(t);
}

/* Off loopback a lone RST or SYN-ACK is the start of a connection the capture joined late
 * (issue 14, item 5): picked up as a partial attempt, never as a refusal or a connection
 * whose SYN we saw. */
Test(track, orphan_rst_and_synack_off_loopback_are_late_joins)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    seg(t, T0, SRV, 25, CLI, 40000, PM_TH_RST | PM_TH_ACK, 0, ISN + 1, NULL, 58);
    seg(t, T0, SRV, 25, CLI, 40001, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(pm_tracker_counters(t)->orphan_rst, 1);
    cr_assert_eq(pm_tracker_counters(t)->synack_without_syn, 1);
    cr_assert_eq(pm_tracker_counters(t)->late_joined, 2);
    for (int i = 0; i < 2; i++) {
        const struct pm_attempt *a = &d.a[i];
        cr_assert(a->flags & PM_AF_SYN_NOT_CAPTURED);
        cr_assert_eq(a->syns, 0);
        cr_assert_eq(a->history[0], '^', "first packet from the responder: Zeek's flip");
        if (a->sport == 40000) {
            cr_assert(a->flags & PM_AF_MIDSTREAM);
            cr_assert_neq(a->answer, PM_ANS_RST, "a RST mid-stream is a close, not a refusal");
            cr_assert_eq(pm_attempt_outcome(a, T0 + PM_SEC(60), false), PM_OUT_INCOMPLETE);
            cr_assert_str_eq(pm_attempt_conn_state(a), "RSTRH");
            cr_assert_null(pm_attempt_reason(a));
        } else {
            cr_assert_not(a->flags & PM_AF_MIDSTREAM);
            cr_assert_eq(a->answer, PM_ANS_SYNACK);
            cr_assert_eq(a->isn, ISN);
            cr_assert_str_eq(pm_attempt_conn_state(a), "OTH");
        }
    }
    pm_tracker_free(t);
}

/* The capture starts after the SYN: SYN-ACK, 554 greeting, QUIT, close. The SYN-ACK fixes
 * where the server's stream starts, so the greeting is read as the greeting. */
Test(track, joined_after_the_syn_reads_the_greeting)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    struct conv v = {.t = t, .ts = T0, .c = ISN + 1, .s = SISN + 1};
    seg(t, v.ts, SRV, 25, CLI, 40000, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    cli_flags(&v, PM_TH_ACK);
    srv_says(&v, "554 5.7.1 no thanks\r\n");
    cli_says(&v, "QUIT\r\n");
    srv_says(&v, "221 bye\r\n");
    srv_flags(&v, PM_TH_FIN | PM_TH_ACK);
    cli_flags(&v, PM_TH_FIN | PM_TH_ACK);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    const struct pm_attempt *a = &d.a[0];
    cr_assert(a->flags & PM_AF_SYN_NOT_CAPTURED);
    cr_assert_not(a->flags & PM_AF_MIDSTREAM);
    cr_assert_eq(a->banner_code, 554);
    cr_assert_eq(pm_attempt_outcome(a, v.ts, false), PM_OUT_SMTP_REJECTED);
    pm_tracker_free(t);
}

/* The capture starts just before the server's 553 to RCPT (nothing of the handshake, the
 * greeting or the command): still a refusal, with the command unknown. */
Test(track, joined_just_before_a_553_is_a_refusal)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    struct conv v = {.t = t, .ts = T0, .c = ISN + 200, .s = SISN + 900};
    srv_says(&v, "553 5.7.1 <x@example.net>: Sender address rejected\r\n");
    cli_says(&v, "QUIT\r\n");
    srv_says(&v, "221 bye\r\n");
    srv_flags(&v, PM_TH_FIN | PM_TH_ACK);
    cli_flags(&v, PM_TH_FIN | PM_TH_ACK);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    const struct pm_attempt *a = &d.a[0];
    cr_assert(a->flags & PM_AF_MIDSTREAM);
    cr_assert(a->flags & PM_AF_SYN_NOT_CAPTURED);
    cr_assert_eq(a->history[0], '^');
    cr_assert_eq(a->banner_code, 0, "the first reply seen is not the greeting");
    cr_assert_eq(a->worst_code, 553);
    cr_assert(d.has_s[0]);
    cr_assert(d.s[0].start_unseen);
    cr_assert_str_eq(d.s[0].reject_cmd, "UNKNOWN");
    cr_assert_eq(pm_attempt_outcome(a, v.ts, false), PM_OUT_SMTP_REJECTED);
    cr_assert_str_eq(pm_attempt_conn_state(a), "SF", "both partial endpoints closed");
    pm_tracker_free(t);
}

/* Joined mid-dialogue with only successes in view: partial (incomplete), never ok; with the
 * message accepted in view: connected. */
Test(track, joined_mid_dialogue_without_a_decision_is_incomplete)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    struct conv v = {.t = t, .ts = T0, .c = ISN + 200, .s = SISN + 900};
    cli_says(&v, "the rest of a body line\r\n");
    cli_says(&v, "QUIT\r\n");
    srv_says(&v, "221 bye\r\n");
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    cr_assert(d.a[0].flags & PM_AF_MIDSTREAM);
    cr_assert_neq(d.a[0].history[0], '^', "the client spoke first here");
    cr_assert(d.a[0].flags & PM_AF_DIALOGUE_CUT);
    cr_assert_eq(pm_attempt_outcome(&d.a[0], v.ts + PM_SEC(60), false), PM_OUT_INCOMPLETE);
    cr_assert_str_eq(pm_attempt_conn_state(&d.a[0]), "OTH");
    pm_tracker_free(t);

    t = mk(&d, 1, 64, 16);
    v = (struct conv){.t = t, .ts = T0, .c = ISN + 200, .s = SISN + 900};
    cli_says(&v, "Subject: hi\r\n"); /* inside the body: not a command */
    cli_says(&v, "\r\n.\r\n");
    srv_says(&v, "250 2.0.0 Ok: queued as ABC\r\n");
    cli_says(&v, "QUIT\r\n");
    srv_says(&v, "221 bye\r\n");
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    cr_assert_not(d.a[0].flags & PM_AF_MAIL_ACCEPTED,
                  "the end of DATA was not recognised: the body began before the capture");
    cr_assert_eq(pm_attempt_outcome(&d.a[0], v.ts + PM_SEC(60), false), PM_OUT_INCOMPLETE);
    pm_tracker_free(t);

    t = mk(&d, 1, 64, 16);
    v = (struct conv){.t = t, .ts = T0, .c = ISN + 200, .s = SISN + 900};
    cli_says(&v, "DATA\r\n");
    srv_says(&v, "354 go ahead\r\n");
    cli_says(&v, "Subject: hi\r\n\r\nhello\r\n.\r\n");
    srv_says(&v, "250 2.0.0 Ok: queued as ABC\r\n");
    pm_tracker_flush(t);
    cr_assert(d.a[0].flags & PM_AF_MAIL_ACCEPTED);
    cr_assert_not(d.a[0].flags & PM_AF_DIALOGUE_CUT, "accepted: nothing decisive is missing");
    cr_assert_eq(pm_attempt_outcome(&d.a[0], v.ts, false), PM_OUT_CONNECTED);
    pm_tracker_free(t);
}

/* A greeted dialogue still open at the capture's end is marked cut; one that closed is not. */
/* Exim pipelines MAIL, RCPT, DATA and closes its side in the same segment: the client's FIN
 * with commands unanswered is not the end of the dialogue (the lab's exim-rcpt-553 cut
 * before the 553 said "ok" at high confidence before this). */
Test(track, client_fin_with_commands_unanswered_is_cut)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    struct conv v = {.t = t, .ts = T0};
    handshake(&v);
    srv_says(&v, "220 mx ESMTP\r\n");
    cli_says(&v, "EHLO c\r\n");
    srv_says(&v, "250 PIPELINING\r\n");
    v.ts += PM_MS(10);
    const char *pipe = "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
    seg(t, v.ts, CLI, 40000, SRV, 25, PM_TH_ACK | PM_TH_PSH | PM_TH_FIN, v.c, v.s, pipe, 64);
    pm_tracker_flush(t);
    cr_assert(d.has_s[0]);
    cr_assert_eq(d.s[0].unanswered, 3);
    cr_assert(d.a[0].flags & PM_AF_DIALOGUE_CUT);
    pm_tracker_free(t);

    /* QUIT answered, then the client closes: complete, not cut */
    t = mk(&d, 1, 64, 16);
    v = (struct conv){.t = t, .ts = T0};
    handshake(&v);
    srv_says(&v, "220 mx ESMTP\r\n");
    cli_says(&v, "QUIT\r\n");
    srv_says(&v, "221 bye\r\n");
    cli_flags(&v, PM_TH_FIN | PM_TH_ACK);
    pm_tracker_flush(t);
    cr_assert_not(d.a[0].flags & PM_AF_DIALOGUE_CUT);
    pm_tracker_free(t);
}

Test(track, dialogue_open_at_the_end_is_cut)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    struct conv v = {.t = t, .ts = T0};
    handshake(&v);
    srv_says(&v, "220 mx ESMTP\r\n");
    cli_says(&v, "EHLO c\r\n");
    pm_tracker_flush(t);
    cr_assert(d.a[0].flags & PM_AF_DIALOGUE_CUT);
    cr_assert(d.a[0].flags & PM_AF_CAPTURE_ENDED);
    cr_assert_eq(pm_attempt_outcome(&d.a[0], v.ts, false), PM_OUT_CONNECTED);
    pm_tracker_free(t);
}

Test(track, local_icmp_without_syn_reconstructs_the_attempt)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    /* OUTPUT REJECT --reject-with icmp-port-unreachable, seen on lo (127.0.0.1 as sender) */
    uint8_t q[PB_MAX];
    size_t qn = syn_bytes(q, sizeof(q), CLI, 40000, ISN);
    icmp_err(t, T0, "127.0.0.1", 3, 3, 0, q, qn, 0);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    cr_assert(d.a[0].flags & PM_AF_SYN_NOT_CAPTURED);
    cr_assert_eq(d.a[0].answer, PM_ANS_ICMP);
    cr_assert_eq(d.a[0].isn, ISN);
    cr_assert(d.a[0].ans.loopback);
    pm_tracker_free(t);
}

/* ================================ time ================================ */

Test(track, timeouts_per_class)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    /* SYN sent, unanswered: PM_TMO_SYN */
    syn(t, T0, 40000, ISN);
    /* answered by a RST: kept for the retry span, PM_TMO_RETRY (issue 14, item 4) */
    syn(t, T0, 40001, ISN);
    seg(t, T0 + PM_MS(50), SRV, 25, CLI, 40001, PM_TH_RST | PM_TH_ACK, 0, ISN + 1, NULL, 58);
    /* closed by the client after the handshake: lingers PM_TMO_DONE */
    syn(t, T0, 40003, ISN);
    seg(t, T0 + PM_MS(50), SRV, 25, CLI, 40003, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    seg(t, T0 + PM_MS(50), CLI, 40003, SRV, 25, PM_TH_RST, ISN + 1, 0, NULL, 64);
    /* established and silent: PM_TMO_EST */
    syn(t, T0, 40002, ISN);
    seg(t, T0 + PM_MS(50), SRV, 25, CLI, 40002, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    seg(t, T0 + PM_MS(51), CLI, 40002, SRV, 25, PM_TH_ACK, ISN + 1, SISN + 1, NULL, 64);

    pm_tracker_tick(t, T0 + PM_TMO_DONE - PM_SEC(1));
    cr_assert_eq(d.n, 0);
    pm_tracker_tick(t, T0 + PM_MS(50) + PM_TMO_DONE + PM_MS(1));
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.a[0].sport, 40003);
    cr_assert_not(d.a[0].flags & PM_AF_CAPTURE_ENDED, "a timeout is not the capture's end");
    pm_tracker_tick(t, T0 + PM_TMO_SYN - PM_SEC(1));
    cr_assert_eq(d.n, 1, "the RST-answered attempt waits out the retry span");
    pm_tracker_tick(t, T0 + PM_MS(50) + PM_TMO_RETRY + PM_SEC(1));
    cr_assert_eq(d.n, 3);
    cr_assert(d.a[1].sport == 40000 || d.a[2].sport == 40000);
    cr_assert(d.a[1].sport == 40001 || d.a[2].sport == 40001);
    pm_tracker_tick(t, T0 + PM_TMO_EST - PM_SEC(1));
    cr_assert_eq(d.n, 3);
    pm_tracker_tick(t, T0 + PM_TMO_EST + PM_SEC(1));
    cr_assert_eq(d.n, 4);
    cr_assert_eq(d.a[3].sport, 40002);
    /* time never runs backwards */
    pm_tracker_tick(t, T0);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 4);
    pm_tracker_free(t);
}

Test(track, retransmission_keeps_the_attempt_alive)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    pm_tracker_tick(t, T0 + PM_SEC(60));
    syn(t, T0 + PM_SEC(60), 40000, ISN);
    pm_tracker_tick(t, T0 + PM_SEC(100));
    cr_assert_eq(d.n, 0, "idle time counts from the last SYN");
    pm_tracker_tick(t, T0 + PM_SEC(60) + PM_TMO_SYN + PM_SEC(1));
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.a[0].syns, 2);
    pm_tracker_free(t);
}

/* Issue 14, item 4: Windows retries a SYN 3 s and 6 s after the first, with the same ISN,
 * although each was answered by ICMP: one attempt for the whole series. */
Test(track, syn_retries_after_icmp_answers_are_one_attempt)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    static const int at_ms[] = {0, 3000, 9000};
    for (int i = 0; i < 3; i++) {
        pm_ns ts = T0 + PM_MS(at_ms[i]);
        syn(t, ts, 40000, ISN);
        uint8_t q[PB_MAX];
        size_t qn = syn_bytes(q, sizeof(q), CLI, 40000, ISN);
        icmp_err(t, ts + PM_MS(3), RTR, 3, 13, 0, q, qn, 0);
    }
    pm_tracker_tick(t, T0 + PM_SEC(30));
    cr_assert_eq(d.n, 0, "still inside the retry span");
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.a[0].syns, 3);
    cr_assert_eq(d.a[0].n_icmp, 3);
    cr_assert_eq(d.a[0].answer, PM_ANS_ICMP);
    cr_assert(d.a[0].flags & PM_AF_RETRY_ANSWERED);
    cr_assert_not(d.a[0].flags & PM_AF_ANSWER_RACE);
    cr_assert_eq(pm_tracker_counters(t)->attempts, 1);
    pm_tracker_free(t);
}

/* ... also after a RST, and a retry that is then accepted is a connection, not a race. */
Test(track, syn_retry_after_a_rst_then_accepted_is_not_a_race)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    syn(t, T0, 40000, ISN);
    seg(t, T0 + PM_MS(20), SRV, 25, CLI, 40000, PM_TH_RST | PM_TH_ACK, 0, ISN + 1, NULL, 58);
    syn(t, T0 + PM_MS(500), 40000, ISN);
    seg(t, T0 + PM_MS(520), SRV, 25, CLI, 40000, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    seg(t, T0 + PM_MS(521), CLI, 40000, SRV, 25, PM_TH_ACK, ISN + 1, SISN + 1, NULL, 64);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.a[0].syns, 2);
    cr_assert_eq(d.a[0].answer, PM_ANS_SYNACK);
    cr_assert(d.a[0].flags & PM_AF_RETRY_ANSWERED);
    cr_assert_not(d.a[0].flags & PM_AF_ANSWER_RACE);
    cr_assert(d.a[0].established);
    pm_tracker_free(t);
}

/* A full table closes an answered attempt that has lingered PM_TMO_DONE first, without
 * calling it evicted (its answer is complete), and counts it. */
Test(track, full_table_closes_answered_attempts_first)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 16, 16);
    syn(t, T0, 30000, ISN);
    seg(t, T0 + PM_MS(10), SRV, 25, CLI, 30000, PM_TH_RST | PM_TH_ACK, 0, ISN + 1, NULL, 58);
    for (uint16_t i = 1; i < 16; i++) {
        syn(t, T0 + PM_MS(i), (uint16_t)(30000 + i), ISN + i);
    }
    syn(t, T0 + PM_SEC(6), 31000, ISN);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.a[0].sport, 30000);
    cr_assert_not(d.a[0].flags & PM_AF_EVICTED);
    cr_assert_eq(pm_tracker_counters(t)->answered_closed_early, 1);
    cr_assert_eq(pm_tracker_counters(t)->evictions, 0);
    pm_tracker_free(t);
}

Test(track, eviction_when_the_table_is_full)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 16, 16);
    for (uint16_t i = 0; i < 16; i++) {
        syn(t, T0 + PM_MS(i), (uint16_t)(30000 + i), ISN + i);
    }
    cr_assert_eq(d.n, 0);
    syn(t, T0 + PM_MS(100), 31000, ISN);
    cr_assert_eq(d.n, 1);
    cr_assert(d.a[0].flags & PM_AF_EVICTED);
    cr_assert_eq(d.a[0].sport, 30000, "the least recently active goes first");
    cr_assert_eq(pm_tracker_counters(t)->evictions, 1);
    cr_assert_eq(pm_attempt_outcome(&d.a[0], T0 + PM_SEC(60), false), PM_OUT_INCOMPLETE,
                 "evicted early: its silence proves nothing");
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 17);
    cr_assert_eq(pm_tracker_counters(t)->flows_peak, 16);
    for (int i = 1; i < 17; i++) {
        cr_assert(d.a[i].flags & PM_AF_CAPTURE_ENDED);
        cr_assert_not(d.a[i].flags & PM_AF_EVICTED);
    }
    pm_tracker_free(t);
}

/* The events (pm_tracker_set_events): what the owner hears while attempts are open. */
struct ev_log {
    struct pm_attempt synack, far;
    int nsynack, nfar;
    int done_before_far; /* attempts reported (d.n) when the far view was told */
    struct done_log *d;
};

static void ev_synack(void *ctx, const struct pm_attempt *open)
{
    struct ev_log *l = ctx;
    l->synack = *open;
    l->nsynack++;
}

static void ev_far(void *ctx, const struct pm_attempt *far)
{
    struct ev_log *l = ctx;
    l->far = *far;
    l->nfar++;
    l->done_before_far = l->d->n;
}

Test(track, a_synack_is_told_with_its_open_attempt)
{
    struct done_log d;
    struct ev_log l = {.d = &d};
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    struct pm_track_events ev = {.ctx = &l, .synack = ev_synack, .far_open = ev_far};
    pm_tracker_set_events(t, &ev);
    syn(t, T0, 40000, ISN);
    syn(t, T0 + PM_SEC(1), 40000, ISN);
    cr_assert_eq(l.nsynack, 0);
    seg(t, T0 + PM_SEC(1) + PM_MS(20), SRV, 25, CLI, 40000, PM_TH_SYN | PM_TH_ACK, SISN,
        ISN + 1, NULL, 58);
    cr_assert_eq(l.nsynack, 1);
    cr_assert_eq(d.n, 0); /* still open */
    cr_assert_eq(l.synack.syns, 2);
    cr_assert_eq(l.synack.answer, PM_ANS_SYNACK);
    cr_assert_eq(l.synack.ans.ttl, 58);
    /* a SYN-ACK from a port nobody watches tells nothing */
    seg(t, T0 + PM_SEC(2), SRV, 80, CLI, 40001, PM_TH_SYN | PM_TH_ACK, SISN, ISN + 1, NULL, 58);
    cr_assert_eq(l.nsynack, 1);
    cr_assert_eq(l.nfar, 0); /* one vantage: no far view */
    pm_tracker_free(t);
}

Test(track, a_far_view_still_open_is_told_before_its_near_view_ends)
{
    struct done_log d;
    struct ev_log l = {.d = &d};
    struct pm_tracker *t = mk(&d, 2, 64, 16);
    struct pm_track_events ev = {.ctx = &l, .far_open = ev_far};
    pm_tracker_set_events(t, &ev);
    syn_opts(t, T0, 0, CLI, 40000, ISN, 64);                      /* inside the NAT */
    syn_opts(t, T0 + PM_MS(1), 1, "203.0.113.5", 61000, ISN, 63); /* outside, translated */
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 2);
    /* the first one finalised heard of the second, still open; the second heard nothing */
    cr_assert_eq(l.nfar, 1);
    cr_assert_eq(l.done_before_far, 0);
    cr_assert_eq(l.far.id, d.a[1].id);
    cr_assert_eq(l.far.peer.id, d.a[0].id);
    cr_assert_eq(l.nsynack, 0);
    pm_tracker_free(t);
}

/* ================================ two vantage points ================================ */

Test(track, the_same_syn_at_two_vantages_is_linked_both_ways)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 2, 64, 16);
    syn_opts(t, T0, 0, CLI, 40000, ISN, 64);                      /* inside the NAT */
    syn_opts(t, T0 + PM_MS(1), 1, "203.0.113.5", 61000, ISN, 63); /* outside, translated */
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 2);
    const struct pm_attempt *in = d.a[0].vantage == 0 ? &d.a[0] : &d.a[1];
    const struct pm_attempt *out = d.a[0].vantage == 0 ? &d.a[1] : &d.a[0];
    cr_assert_eq(in->peer.id, out->id);
    cr_assert_eq(out->peer.id, in->id);
    cr_assert_eq(in->peer.vantage, 1);
    cr_assert_eq(out->peer.vantage, 0);
    cr_assert_eq(in->peer.sport, 61000);
    cr_assert_eq(out->peer.sport, 40000);
    pm_addr pub = pb_addr("203.0.113.5"), cli = pb_addr(CLI);
    cr_assert(pm_addr_eq(&in->peer.cli, &pub));
    cr_assert(pm_addr_eq(&out->peer.cli, &cli));
    cr_assert_eq(pm_tracker_counters(t)->vantage_links, 1);
    pm_tracker_free(t);
}

/* A SYN with chosen IP ID and TCP timestamp (the fields a NAT leaves alone). */
static void syn_fp(struct pm_tracker *t, pm_ns ts, uint16_t vantage, const char *src,
                   uint16_t sport, uint32_t isn, uint8_t ttl, uint16_t ipid, uint32_t tsval)
{
    uint8_t opts[20], l4[128], b[PB_MAX];
    memcpy(opts, pb_linux_syn_opts, sizeof(opts));
    opts[8] = (uint8_t)(tsval >> 24); /* TSval is bytes 8..11 of this layout */
    opts[9] = (uint8_t)(tsval >> 16);
    opts[10] = (uint8_t)(tsval >> 8);
    opts[11] = (uint8_t)tsval;
    struct pb_tcp tc = {.sport = sport, .dport = 25, .seq = isn, .flags = PM_TH_SYN,
                        .win = 64240, .opts = opts, .optlen = 20};
    size_t n = pb_tcp(l4, sizeof(l4), &tc);
    struct pb_ip ip = {.family = PM_AF_INET, .src = src, .dst = SRV, .proto = 6, .ttl = ttl,
                       .frag = PB_DF, .id = ipid};
    n = pb_ip(b, sizeof(b), &ip, l4, n);
    feed_raw(t, b, n, 0, ts, vantage);
}

/* A NAT with a sequence-number randomiser and port translation: the ISN and the source port
 * change, the TCP timestamp does not — that alone links the two sightings. */
Test(track, isn_randomiser_and_port_translation_still_link_by_timestamp)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 2, 64, 16);
    syn_fp(t, T0, 0, CLI, 40000, ISN, 64, 0x1111, 777001);
    syn_fp(t, T0 + PM_MS(1), 1, "203.0.113.5", 61000, ISN ^ 0x5a5a5a5au, 63, 0x2222, 777001);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 2);
    const struct pm_attempt *in = d.a[0].vantage == 0 ? &d.a[0] : &d.a[1];
    const struct pm_attempt *out = d.a[0].vantage == 0 ? &d.a[1] : &d.a[0];
    cr_assert_eq(in->peer.id, out->id, "linked by TSval although ISN, port and IP ID differ");
    cr_assert_eq(in->peer.sport, 61000);
    cr_assert_neq(in->isn, out->isn);
    pm_tracker_free(t);
}

/* Nothing a NAT preserves is shared (different ISN, TSval and IP ID): two different SYNs to
 * the same MX in the same second must not be linked. */
Test(track, syns_sharing_nothing_that_survives_nat_are_not_linked)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 2, 64, 16);
    syn_fp(t, T0, 0, CLI, 40000, ISN, 64, 0x1111, 777001);
    syn_fp(t, T0 + PM_MS(1), 1, "203.0.113.5", 61000, ISN + 99, 63, 0x3333, 888002);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.a[0].peer.id, 0);
    cr_assert_eq(d.a[1].peer.id, 0);
    pm_tracker_free(t);
}

Test(track, syns_far_apart_in_time_are_not_linked)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 2, 64, 16);
    syn_opts(t, T0, 0, CLI, 40000, ISN, 64);
    syn_opts(t, T0 + PM_SEC(10), 1, "203.0.113.5", 61000, ISN, 63);
    pm_tracker_flush(t);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.a[0].peer.id, 0);
    cr_assert_eq(d.a[1].peer.id, 0);
    cr_assert_eq(pm_tracker_counters(t)->vantage_links, 0);
    pm_tracker_free(t);
}

/* ================================ counters ================================ */

Test(track, packet_counters)
{
    struct done_log d;
    struct pm_tracker *t = mk(&d, 1, 64, 16);
    uint8_t b[PB_MAX], f[PB_MAX];
    size_t n = pb_seg(b, sizeof(b), CLI, 40000, SRV, 25, PM_TH_SYN, ISN, 0, NULL, 0, 64);
    struct pm_pkt p;
    pb_decode(&p, 147, b, n, n, T0, 1, 0); /* unsupported link type */
    pm_tracker_packet(t, &p, 0);
    uint8_t arp[28] = {0};
    size_t fl = pb_eth(f, sizeof(f), NULL, 0, 0x0806, arp, sizeof(arp));
    pb_decode(&p, PM_LT_ETHERNET, f, fl, fl, T0 + 1, 2, 0);
    pm_tracker_packet(t, &p, 0);
    pb_decode(&p, PM_LT_RAW, b, 34, n, T0 + 2, 3, 0); /* window cut: still a SYN */
    pm_tracker_packet(t, &p, 0);
    b[0] = 0x44; /* IHL 4: malformed */
    pb_decode(&p, PM_LT_RAW, b, n, n, T0 + 3, 4, 0);
    pm_tracker_packet(t, &p, 0);
    pb_decode(&p, PM_LT_RAW, b, n, n, T0 - PM_SEC(1), 5, 0); /* older than the newest */
    pm_tracker_packet(t, &p, 0);
    pm_tracker_flush(t);
    const struct pm_track_counters *c = pm_tracker_counters(t);
    cr_assert_eq(c->records, 5);
    cr_assert_eq(c->unsupported_link, 1);
    cr_assert_eq(c->not_ip, 1);
    cr_assert_eq(c->truncated, 1);
    cr_assert_eq(c->malformed, 2);
    cr_assert_eq(c->time_backwards, 1);
    cr_assert_eq(d.n, 1, "the truncated SYN made an attempt");
    cr_assert(d.a[0].flags & PM_AF_TRUNCATED);
    pm_tracker_free(t);
}
