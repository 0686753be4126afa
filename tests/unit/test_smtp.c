/*
 * test_smtp.c — the SMTP session parser (include/smtp.h, analyze/smtp.c) against RFC 5321
 * (reply lines, multi-line replies, the 512-octet line limit, the DATA body ending in "."),
 * RFC 2920 (pipelined commands paired with replies in order), RFC 3207 (STARTTLS: 220 ends
 * the cleartext, 4xx/5xx refuses it), RFC 8314 (implicit TLS), servers that speak something
 * else, masked text from an inspecting firewall, which 4xx/5xx refuse the mail (a 500 to
 * garbage does not, 421 always does), the blocklist words, and the session pool.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "smtp.h"
#include "util.h"

static struct pm_session_pool *pool;

static struct pm_session *fresh(void)
{
    pool = pm_session_pool_new(4);
    uint32_t h = pm_session_alloc(pool);
    cr_assert_neq(h, 0);
    return pm_session_get(pool, h);
}

static void done(void)
{
    pm_session_pool_free(pool);
    pool = NULL;
}

TestSuite(smtp, .fini = done);

static void srv(struct pm_session *s, const char *t)
{
    pm_smtp_server_bytes(s, (const uint8_t *)t, strlen(t));
}

static void cli(struct pm_session *s, const char *t)
{
    pm_smtp_client_bytes(s, (const uint8_t *)t, strlen(t));
}

/* Feed one byte at a time: segment boundaries must not matter. */
static void srv_bytewise(struct pm_session *s, const char *t)
{
    for (; *t; t++) {
        pm_smtp_server_bytes(s, (const uint8_t *)t, 1);
    }
}

static const struct pm_smtp_reply *reply(const struct pm_session *s, int i)
{
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_lt(i, m->nreplies, "only %d replies", m->nreplies);
    return &m->replies[i];
}

Test(smtp, single_line_greeting)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx.example.net ESMTP Postfix\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->banner_code, 220);
    cr_assert_str_eq(m->banner, "mx.example.net ESMTP Postfix");
    cr_assert_eq(m->nreplies, 0, "the greeting is the banner, not a reply");
    cr_assert_eq(m->reject_code, 0);
    cr_assert_eq(m->masked, 0);
}

Test(smtp, multi_line_greeting_joined_and_split_anywhere)
{
    struct pm_session *s = fresh();
    srv_bytewise(s, "220-mx.example.net ESMTP\r\n220-No UCE\r\n220 ready\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->banner_code, 220);
    cr_assert_str_eq(m->banner, "mx.example.net ESMTP No UCE ready");
    /* a bare code as the last line (RFC 5321 allows "220" alone) */
    done();
    s = fresh();
    srv(s, "220-first\n220\n");
    cr_assert_eq(pm_session_summary(s)->banner_code, 220);
    cr_assert_str_eq(pm_session_summary(s)->banner, "first");
}

Test(smtp, greeting_text_is_sanitised)
{
    struct pm_session *s = fresh();
    srv(s, "220 evil\x1b[31m\x7f\xff text\tend\r\n");
    const char *b = pm_session_summary(s)->banner;
    for (const char *p = b; *p; p++) {
        cr_assert(*p >= 0x20 && *p < 0x7f, "byte 0x%02x in the banner", (unsigned char)*p);
    }
    cr_assert(strstr(b, "evil") && strstr(b, "end"));
}

Test(smtp, overlong_lines_are_cut)
{
    struct pm_session *s = fresh();
    char line[1200];
    memset(line, 'a', sizeof(line));
    memcpy(line, "220 ", 4);
    memcpy(line + 1000, "\r\n", 3);
    srv(s, line);
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->banner_code, 220);
    cr_assert_lt(strlen(m->banner), PM_SMTP_TEXT);
    /* the parser still works after the overlong line */
    cli(s, "EHLO c\r\n");
    srv(s, "250 mx\r\n");
    cr_assert_str_eq(reply(s, 0)->cmd, "EHLO");
    cr_assert_eq(reply(s, 0)->code, 250);
}

/* An overlong client line is one command: its tail past the limit is discarded, so the
 * replies stay paired with the commands that follow (RFC 5321 §4.5.3.1.4: 512 octets). */
Test(smtp, overlong_command_tail_is_not_a_second_command)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx\r\n");
    char cmd[700];
    memset(cmd, 'a', sizeof(cmd));
    memcpy(cmd, "MAIL FROM:<", 11);
    memcpy(cmd + 600, ">\r\nRCPT TO:<b@example.net>\r\n", 29);
    cmd[629] = '\0';
    cli(s, cmd);
    srv(s, "250 2.1.0 Ok\r\n550 5.1.1 User unknown\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->nreplies, 2);
    cr_assert_str_eq(reply(s, 0)->cmd, "MAIL");
    cr_assert_str_eq(reply(s, 1)->cmd, "RCPT");
    cr_assert_eq(m->reject_code, 550);
    cr_assert_str_eq(m->reject_cmd, "RCPT");
}

Test(smtp, pipelined_commands_are_matched_in_order)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx ESMTP\r\n");
    cli(s, "EHLO client.example.org\r\n");
    srv(s, "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
    cli(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\n"
           "DATA\r\n");
    srv(s, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <c@example.net>: Recipient address "
           "rejected\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    const char *cmds[] = {"EHLO", "MAIL", "RCPT", "RCPT", "DATA"};
    const int codes[] = {250, 250, 250, 550, 354};
    cr_assert_eq(m->nreplies, 5);
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq(reply(s, i)->cmd, cmds[i], "reply %d", i);
        cr_assert_eq(reply(s, i)->code, codes[i], "reply %d", i);
    }
    cr_assert_eq(m->reject_code, 550);
    cr_assert_str_eq(m->reject_cmd, "RCPT");
    cr_assert(strstr(reply(s, 3)->text, "Recipient address rejected") != NULL);
}

Test(smtp, data_body_is_skipped_and_the_final_reply_is_data_end)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx\r\n");
    cli(s, "MAIL FROM:<a@b>\r\n");
    srv(s, "250 ok\r\n");
    cli(s, "RCPT TO:<c@d>\r\n");
    srv(s, "250 ok\r\n");
    cli(s, "DATA\r\n");
    srv(s, "354 go ahead\r\n");
    /* body lines that look like commands, a dot-stuffed line, then the end */
    cli(s, "QUIT\r\nRCPT TO:<x@y>\r\n..not the end\r\n");
    cli(s, ".\r\n");
    srv(s, "250 2.0.0 queued as ABC123\r\n");
    cli(s, "QUIT\r\n");
    srv(s, "221 bye\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->nreplies, 5);
    cr_assert_str_eq(reply(s, 2)->cmd, "DATA");
    cr_assert_eq(reply(s, 2)->code, 354);
    cr_assert_str_eq(reply(s, 3)->cmd, "DATA-END");
    cr_assert_eq(reply(s, 3)->code, 250);
    cr_assert_str_eq(reply(s, 4)->cmd, "QUIT");
    cr_assert_eq(reply(s, 4)->code, 221);
    cr_assert_eq(m->reject_code, 0);
}

Test(smtp, rejected_data_end_refuses_the_mail)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx\r\n");
    cli(s, "DATA\r\n");
    srv(s, "354 go\r\n");
    cli(s, "Subject: x\r\n\r\nbody\r\n.\r\n");
    srv(s, "554 5.7.1 Message rejected as spam\r\n");
    cr_assert_eq(pm_session_summary(s)->reject_code, 554);
    cr_assert_str_eq(pm_session_summary(s)->reject_cmd, "DATA-END");
}

Test(smtp, starttls_220_ends_the_cleartext)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx ESMTP\r\n");
    cli(s, "EHLO c\r\n");
    srv(s, "250-mx\r\n250-STARTTLS\r\n250 SIZE 10240000\r\n");
    cli(s, "STARTTLS\r\n");
    srv(s, "220 2.0.0 Ready to start TLS\r\n");
    /* what follows is TLS: even bytes that look like replies are not parsed */
    srv(s, "554 this is ciphertext by now\r\n");
    cli(s, "MAIL FROM:<a@b>\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert(m->starttls_offered);
    cr_assert(m->tls);
    cr_assert_not(m->implicit_tls);
    cr_assert_not(m->starttls_refused);
    cr_assert_eq(m->reject_code, 0);
    cr_assert_eq(m->nreplies, 2);
    cr_assert_str_eq(reply(s, 1)->cmd, "STARTTLS");
    cr_assert_eq(reply(s, 1)->code, 220);
}

Test(smtp, starttls_refused)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx\r\n");
    cli(s, "EHLO c\r\n");
    srv(s, "250-mx\r\n250 PIPELINING\r\n");
    cli(s, "STARTTLS\r\n");
    srv(s, "500 #5.5.1 command not recognized\r\n"); /* Cisco ESMTP inspection */
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_not(m->starttls_offered);
    cr_assert(m->starttls_refused);
    cr_assert_not(m->tls);
    cr_assert_eq(m->reject_code, 0, "a refused STARTTLS does not refuse the mail");
    cr_assert_str_eq(reply(s, 1)->cmd, "STARTTLS");
    cr_assert_eq(reply(s, 1)->code, 500);
    /* parsing goes on in cleartext */
    cli(s, "MAIL FROM:<a@b>\r\n");
    srv(s, "250 ok\r\n");
    cr_assert_str_eq(reply(s, 2)->cmd, "MAIL");
}

Test(smtp, masked_banner_and_ehlo)
{
    struct pm_session *s = fresh();
    srv(s, "220 ****************************************\r\n");
    cr_assert(pm_session_summary(s)->masked);
    done();
    s = fresh();
    srv(s, "220 mx.example.net ESMTP\r\n");
    cr_assert_not(pm_session_summary(s)->masked);
    cli(s, "EHLO c\r\n");
    srv(s, "250-mx.example.net\r\n250-XXXXXXXXXXXXXXXX\r\n250 8BITMIME\r\n");
    cr_assert(pm_session_summary(s)->masked);
    cr_assert(pm_smtp_text_masked("XXXXXXXX"));
    cr_assert(pm_smtp_text_masked("banner ********"));
    cr_assert_not(pm_smtp_text_masked("XXXXXXX"));
    cr_assert_not(pm_smtp_text_masked("XXXX****"), "a run is of one character");
    cr_assert_not(pm_smtp_text_masked("mx.example.net ESMTP Exim 4.96"));
}

/* Cisco ASA ESMTP inspection rewrites the STARTTLS keyword in the EHLO reply to
 * "XXXXXXXA" (../shared/reference/anchors-and-wire-signatures.md §c item 8, Cisco ESA
 * Q&A 118550): seven X and an A. The marker the reference names is not recognised. */
Test(smtp, cisco_masked_starttls_keyword_is_recognised)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx\r\n");
    cli(s, "EHLO c\r\n");
    srv(s, "250-mx.example.net\r\n250-PIPELINING\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n");
    cr_assert(pm_session_summary(s)->masked);
}

Test(smtp, implicit_tls_client_hello_first)
{
    struct pm_session *s = fresh();
    const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03};
    const uint8_t shello[] = {0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03};
    pm_smtp_client_bytes(s, hello, sizeof(hello));
    pm_smtp_server_bytes(s, shello, sizeof(shello));
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert(m->implicit_tls);
    cr_assert(m->tls);
    cr_assert_eq(m->banner_code, 0, "the greeting is encrypted: not readable, not absent");
    cr_assert_eq(m->reject_code, 0);
    /* nothing after it is parsed */
    srv(s, "554 no\r\n");
    cr_assert_eq(m->reject_code, 0);
}

Test(smtp, non_smtp_server_bytes)
{
    struct pm_session *s = fresh();
    srv(s, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->banner_code, PM_BANNER_NOT_SMTP);
    cr_assert_eq(m->reject_code, 0);
    srv(s, "554 not parsed any more\r\n");
    cr_assert_eq(m->reject_code, 0);
    const char *bad[] = {"HTTP/1.1 400 Bad Request\r\n", "600 no such class\r\n",
                         "2200 four digits\r\n", "22 short\r\n", "220x no separator\r\n"};
    for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
        done();
        s = fresh();
        srv(s, bad[i]);
        cr_assert_eq(pm_session_summary(s)->banner_code, PM_BANNER_NOT_SMTP, "%s", bad[i]);
    }
}

Test(smtp, only_replies_that_refuse_mail_set_reject_code)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx\r\n");
    cli(s, "GARBAGE\r\n");
    srv(s, "500 5.5.2 Error: command not recognized\r\n");
    cli(s, "EHLO c\r\n");
    srv(s, "502 5.5.2 EHLO not implemented\r\n"); /* the client falls back to HELO */
    cli(s, "VRFY root\r\n");
    srv(s, "550 5.1.1 no\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->reject_code, 0, "500/502/550 to these commands do not refuse the mail");
    cr_assert_eq(m->nreplies, 3, "but errors are kept as replies of interest");
    cli(s, "HELO c\r\n");
    srv(s, "550 5.7.1 Access denied\r\n");
    cr_assert_eq(m->reject_code, 550);
    cr_assert_str_eq(m->reject_cmd, "HELO");
    /* the first refusal stays */
    cli(s, "MAIL FROM:<a@b>\r\n");
    srv(s, "451 4.3.0 try later\r\n");
    cr_assert_eq(m->reject_code, 550);
}

Test(smtp, code_421_always_refuses)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx\r\n");
    cli(s, "NOOP\r\n");
    srv(s, "421 4.4.2 mx Error: timeout exceeded\r\n");
    cr_assert_eq(pm_session_summary(s)->reject_code, 421);
    /* unsolicited, with no command queued */
    done();
    s = fresh();
    srv(s, "220 mx\r\n421 shutting down\r\n");
    cr_assert_eq(pm_session_summary(s)->reject_code, 421);
}

Test(smtp, rejecting_greeting)
{
    struct pm_session *s = fresh();
    srv(s, "554 5.7.1 mx.example.net: Client host rejected: listed at zen.spamhaus.org\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->banner_code, 554);
    cr_assert_eq(m->reject_code, 554);
    cr_assert_str_eq(m->reject_cmd, "GREETING");
    cr_assert(pm_smtp_text_blocklist(m->banner));
}

Test(smtp, client_speaking_first_still_gets_the_greeting)
{
    struct pm_session *s = fresh();
    cli(s, "EHLO eager\r\n"); /* pipelined before the greeting */
    srv(s, "220 mx\r\n250 mx\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->banner_code, 220);
    cr_assert_eq(m->nreplies, 1);
    cr_assert_str_eq(reply(s, 0)->cmd, "EHLO");
}

Test(smtp, errors_displace_successes_when_the_list_is_full)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx\r\n");
    for (int i = 0; i < PM_SMTP_MAX_REPLIES; i++) {
        cli(s, "RCPT TO:<a@b>\r\n");
        srv(s, "250 ok\r\n");
    }
    cli(s, "RCPT TO:<z@b>\r\n");
    srv(s, "550 no such user\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->nreplies, PM_SMTP_MAX_REPLIES);
    cr_assert_eq(m->replies[PM_SMTP_MAX_REPLIES - 1].code, 550);
    /* a success never displaces anything */
    cli(s, "RCPT TO:<y@b>\r\n");
    srv(s, "250 ok\r\n");
    cr_assert_eq(m->replies[PM_SMTP_MAX_REPLIES - 1].code, 550);
}

Test(smtp, broken_stream_before_the_greeting_is_unreadable)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx.exa"); /* the rest was cut */
    pm_smtp_server_broken(s);
    cr_assert_eq(pm_session_summary(s)->banner_code, PM_BANNER_UNREADABLE);
    srv(s, "mple.net\r\n");
    cr_assert_eq(pm_session_summary(s)->banner_code, PM_BANNER_UNREADABLE);
    /* after a greeting a gap does not erase it */
    done();
    s = fresh();
    srv(s, "220 mx\r\n");
    pm_smtp_server_broken(s);
    cr_assert_eq(pm_session_summary(s)->banner_code, 220);
    pm_smtp_client_broken(s);
}

Test(smtp, blocklist_words)
{
    cr_assert(pm_smtp_text_blocklist("5.7.1 Service unavailable; Client host [192.0.2.1] "
                                     "blocked using zen.spamhaus.org"));
    cr_assert(pm_smtp_text_blocklist("Your IP is on a BLACKLIST"));
    cr_assert(pm_smtp_text_blocklist("poor reputation of sending IP"));
    cr_assert(pm_smtp_text_blocklist("listed by SpamCop"));
    cr_assert_not(pm_smtp_text_blocklist("4.2.2 Mailbox full"));
    cr_assert_not(pm_smtp_text_blocklist("5.1.1 User unknown"));
    cr_assert_not(pm_smtp_text_blocklist(""));
}

Test(smtp, session_pool)
{
    struct pm_session_pool *p = pm_session_pool_new(2);
    uint32_t a = pm_session_alloc(p), b = pm_session_alloc(p);
    cr_assert(a && b && a != b);
    cr_assert_eq(pm_session_alloc(p), 0, "full");
    struct pm_session *sa = pm_session_get(p, a);
    srv(sa, "220 x\r\n");
    pm_session_release(p, a);
    uint32_t c = pm_session_alloc(p);
    cr_assert_eq(c, a, "a freed slot is reused");
    cr_assert_eq(pm_session_summary(pm_session_get(p, c))->banner_code, 0, "and reset");
    cr_assert_null(pm_session_get(p, 0));
    cr_assert_null(pm_session_get(p, 99));
    cr_assert_eq(pm_session_peak(p), 2);
    struct pm_seqstate *ss = pm_session_srvseq(pm_session_get(p, c));
    cr_assert_eq(ss->known, 0);
    pm_session_pool_free(p);
}

/* Greylisting (postgrey: "450 4.2.0 <b@example.net>: Recipient address rejected:
 * Greylisted, see http://postgrey.schweikert.ch/help/example.net.html") is a temporary
 * policy, not a blocklist or reputation listing; "Greylisted" must not match "listed". */
Test(smtp, greylisting_is_not_a_blocklist_word)
{
    cr_assert_not(pm_smtp_text_blocklist("4.2.0 <b@example.net>: Recipient address rejected: "
                                         "Greylisted, see http://postgrey.schweikert.ch/help/"));
    cr_assert_not(pm_smtp_text_blocklist("4.7.1 Greylisting in action, please come back later"));
}

/* ================= issue 14, item 7: implicit TLS against plaintext SMTP ================= */

static const uint8_t client_hello[] = {0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4};

/* Postfix smtp_tls_wrappermode = yes towards a plaintext listener: the ClientHello is answered
 * by a plaintext greeting. */
Test(smtp, client_hello_answered_in_plaintext_is_a_mismatch)
{
    struct pm_session *s = fresh();
    pm_smtp_client_bytes(s, client_hello, sizeof(client_hello));
    srv(s, "220 mx ESMTP\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->tls_mismatch, PM_TLS_MISMATCH_CLIENT_TLS);
    cr_assert_eq(m->banner_code, 220);
    cr_assert_not(m->tls);
    cr_assert_not(m->implicit_tls);
}

/* The greeting and the ClientHello cross on the wire (both sides speak at once after the
 * handshake): the same mismatch. */
Test(smtp, client_hello_after_a_plaintext_greeting_is_a_mismatch)
{
    struct pm_session *s = fresh();
    srv(s, "220 mx ESMTP\r\n");
    pm_smtp_client_bytes(s, client_hello, sizeof(client_hello));
    cr_assert_eq(pm_session_summary(s)->tls_mismatch, PM_TLS_MISMATCH_CLIENT_TLS);
}

/* A ClientHello answered in TLS is implicit TLS that works; a ClientHello after STARTTLS's
 * 220 is not even parsed. */
Test(smtp, implicit_tls_and_starttls_are_not_mismatches)
{
    struct pm_session *s = fresh();
    const uint8_t shello[] = {0x16, 0x03, 0x03, 0x00, 0x7a, 0x02};
    pm_smtp_client_bytes(s, client_hello, sizeof(client_hello));
    pm_smtp_server_bytes(s, shello, sizeof(shello));
    cr_assert_eq(pm_session_summary(s)->tls_mismatch, PM_TLS_MISMATCH_NONE);
    done();
    s = fresh();
    srv(s, "220 mx ESMTP\r\n");
    cli(s, "EHLO c\r\n");
    srv(s, "250 STARTTLS\r\n");
    cli(s, "STARTTLS\r\n");
    srv(s, "220 go ahead\r\n");
    pm_smtp_client_bytes(s, client_hello, sizeof(client_hello));
    cr_assert_eq(pm_session_summary(s)->tls_mismatch, PM_TLS_MISMATCH_NONE);
    cr_assert(pm_session_summary(s)->tls);
}

/* TLS records where the greeting belongs, no ClientHello from the client: the listener
 * speaks implicit TLS on a port whose client speaks plaintext. */
Test(smtp, tls_alert_instead_of_a_greeting_is_a_mismatch)
{
    struct pm_session *s = fresh();
    cli(s, "EHLO c\r\n");
    const uint8_t alert[] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46};
    pm_smtp_server_bytes(s, alert, sizeof(alert));
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->tls_mismatch, PM_TLS_MISMATCH_SERVER_TLS);
    cr_assert_eq(m->banner_code, PM_BANNER_NOT_SMTP);
    cr_assert_not(m->implicit_tls);
}

/* ================= issue 14, item 5: a dialogue joined late ================= */

/* The first reply seen is not the greeting; a 553 to a command from before the capture
 * refuses; 500-504 (syntax, sequence) do not; body lines before the first verb are not
 * commands. */
Test(smtp, joined_late)
{
    struct pm_session *s = fresh();
    pm_smtp_joined_late(s);
    srv(s, "250 2.1.0 Ok\r\n");
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert(m->start_unseen);
    cr_assert_eq(m->banner_code, 0);
    cr_assert_eq(m->reject_code, 0);
    srv(s, "502 5.5.2 command not implemented\r\n");
    cr_assert_eq(m->reject_code, 0, "a 502 answers a command, not the mail");
    srv(s, "553 5.7.1 sender rejected\r\n");
    cr_assert_eq(m->reject_code, 553);
    cr_assert_str_eq(m->reject_cmd, "UNKNOWN");
    done();

    s = fresh();
    pm_smtp_joined_late(s);
    cli(s, "Hi Bob, see the figures\r\n");
    cli(s, ".\r\n");
    cli(s, "QUIT\r\n");
    srv(s, "221 bye\r\n");
    m = pm_session_summary(s);
    cr_assert_eq(m->nreplies, 1);
    cr_assert_str_eq(reply(s, 0)->cmd, "QUIT", "body lines before the first verb are skipped");
    cr_assert_not(m->accepted);
}

/* The client's first segment cut by the snaplen, then TLS from the server: implicit TLS or a
 * mismatch cannot be told apart (check-robust found this): unreadable, never a mismatch. */
Test(smtp, tls_from_the_server_after_an_unread_client_start_is_not_a_mismatch)
{
    struct pm_session *s = fresh();
    pm_smtp_client_broken(s);
    const uint8_t shello[] = {0x16, 0x03, 0x03, 0x00, 0x7a, 0x02};
    pm_smtp_server_bytes(s, shello, sizeof(shello));
    const struct pm_smtp_summary *m = pm_session_summary(s);
    cr_assert_eq(m->tls_mismatch, PM_TLS_MISMATCH_NONE);
    cr_assert_eq(m->banner_code, PM_BANNER_UNREADABLE);
}

/* The one reply-line grammar (issue 17.6: smtpcheck.c had its own copy). */
Test(smtp, reply_line_grammar)
{
    bool last = false;
    cr_assert_eq(pm_smtp_reply_line((const uint8_t *)"220 mx ESMTP", 12, &last), 220);
    cr_assert(last);
    cr_assert_eq(pm_smtp_reply_line((const uint8_t *)"250-PIPELINING", 14, &last), 250);
    cr_assert_not(last);
    cr_assert_eq(pm_smtp_reply_line((const uint8_t *)"554", 3, &last), 554);
    cr_assert(last, "a bare code ends the reply");
    const char *bad[] = {"", "22", "120 x", "620 x", "2a0 x", "220x", "220\t", "SSH-2.0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(pm_smtp_reply_line((const uint8_t *)bad[i], strlen(bad[i]), &last), -1,
                     "'%s' is not a reply line", bad[i]);
    }
}
