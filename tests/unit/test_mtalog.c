/*
 * test_mtalog.c — the MTA log parser (include/mtalog.h): every Postfix, Exim and Sendmail
 * shape of ../shared/reference/mta-log-formats.md with glibc and musl errno spellings,
 * IPv4 and IPv6; the lines that stand for no attempt; timestamps, zones and the year of a
 * syslog time; the loader (merging, queue ids, statistics, gzip, CRLF, caps, errors); and
 * hostile input: every line is handed over in a heap buffer of exactly its length, so ASan
 * flags any read past it.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mtalog.h"
#include "util.h"

#define DATA "tests/data/mtalog/"

/* ---- helpers ---- */

static pm_ns at(const char *iso)
{
    pm_ns t;
    cr_assert(pm_time_parse(iso, &t), "bad test time %s", iso);
    return t;
}

static struct pm_log_options opts_utc(void)
{
    struct pm_log_options o = {.tz = "UTC", .ref_time = at("2026-11-28T12:00:00Z")};
    return o;
}

/* Parse from a heap copy of exactly len bytes (no NUL after it). */
static int parse_n(const char *line, size_t len, const struct pm_log_options *o,
                   struct pm_logentry *e)
{
    char *buf = malloc(len ? len : 1);
    cr_assert_not_null(buf);
    memcpy(buf, line, len);
    int r = pm_log_parse_line(buf, len, o, e);
    free(buf);
    return r;
}

static int parse_o(const char *line, const struct pm_log_options *o, struct pm_logentry *e)
{
    return parse_n(line, strlen(line), o, e);
}

static int parse(const char *line, struct pm_logentry *e)
{
    struct pm_log_options o = opts_utc();
    return parse_o(line, &o, e);
}

static const char *addr_s(const struct pm_logentry *e)
{
    static char buf[PM_ADDR_STRLEN];
    return pm_addr_str(&e->addr, buf);
}

/* The kinds that stand for a connection attempt (everything but bind and no-attempt). */
static bool is_attempt(const struct pm_logentry *e)
{
    return e->kind != PM_LK_NO_ATTEMPT && e->kind != PM_LK_BIND_FAIL;
}

#define PF "Nov 28 18:32:49 sender postfix/smtp[5057]: "
#define SM "Jan  1 10:00:00 mta sendmail[1234]: 50AA0Bc1012345: "
#define EX "2025-01-01 10:00:00 1tAbCd-000123-AB "
#define SM_TO "to=<rcpt@example.net>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120000, "

/* ---- Postfix ---- */

Test(mtalog_postfix, connect_refused_lab_line)
{
    struct pm_logentry e;
    cr_assert_eq(parse(PF "connect to 10.99.2.2[10.99.2.2]:25: Connection refused", &e), 1);
    cr_assert_eq(e.mta, PM_MTA_POSTFIX);
    cr_assert_eq(e.kind, PM_LK_CONNECT_FAIL);
    cr_assert_eq(e.err, PM_EC_REFUSED);
    cr_assert_str_eq(addr_s(&e), "10.99.2.2");
    cr_assert_eq(e.port, 25);
    cr_assert_str_eq(e.host, "10.99.2.2");
    cr_assert_eq(e.pid, 5057);
    cr_assert_eq(e.from_status, 0);
    cr_assert_str_eq(e.queue_id, "");
    cr_assert_eq(e.conn_delay_ms, -1);
    cr_assert_str_eq(e.text, "connect to 10.99.2.2[10.99.2.2]:25: Connection refused");
    cr_assert_eq(e.ts, at("2026-11-28T18:32:49Z"));
}

/* §0: every glibc and musl spelling, as Postfix prints them after "connect to". */
Test(mtalog_postfix, every_errno_spelling)
{
    static const struct {
        const char *text;
        enum pm_errclass c;
    } cases[] = {
        {"Connection refused", PM_EC_REFUSED},
        {"Connection timed out", PM_EC_TIMEDOUT},
        {"Operation timed out", PM_EC_TIMEDOUT},
        {"No route to host", PM_EC_HOSTUNREACH},
        {"Host is unreachable", PM_EC_HOSTUNREACH},
        {"Network is unreachable", PM_EC_NETUNREACH},
        {"Network unreachable", PM_EC_NETUNREACH},
        {"Permission denied", PM_EC_ACCES},
        {"Operation not permitted", PM_EC_PERM},
        {"Cannot assign requested address", PM_EC_ADDRNOTAVAIL},
        {"Address not available", PM_EC_ADDRNOTAVAIL},
        {"Host is down", PM_EC_HOSTDOWN},
        {"Connection reset by peer", PM_EC_CONNRESET},
        {"Invalid argument", PM_EC_INVAL},
        {"Protocol error", PM_EC_OTHER},
        {"connection refused", PM_EC_OTHER}, /* case-sensitive, as logged */
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(cases); i++) {
        char line[256];
        snprintf(line, sizeof(line), PF "connect to mx.example[192.0.2.1]:25: %s",
                 cases[i].text);
        struct pm_logentry e;
        cr_assert_eq(parse(line, &e), 1, "%s", cases[i].text);
        cr_assert_eq(e.kind, PM_LK_CONNECT_FAIL);
        cr_assert_eq(e.err, cases[i].c, "%s gave %s", cases[i].text, pm_errclass_name(e.err));
    }
}

Test(mtalog_postfix, ipv6_literals_with_and_without_prefix_and_port)
{
    struct pm_logentry e;
    cr_assert_eq(parse(PF "connect to alt1.gmail-smtp-in.l.google.com[2607:f8b0:4003:c03::1a]"
                          ":25: Cannot assign requested address",
                       &e),
                 1);
    cr_assert_eq(e.addr.family, PM_AF_INET6);
    cr_assert_str_eq(addr_s(&e), "2607:f8b0:4003:c03::1a");
    cr_assert_eq(e.port, 25);
    cr_assert_eq(e.err, PM_EC_ADDRNOTAVAIL);
    cr_assert_str_eq(e.host, "alt1.gmail-smtp-in.l.google.com");

    cr_assert_eq(parse(PF "connect to mx[IPv6:2001:db8::1]:587: Network unreachable", &e), 1);
    cr_assert_str_eq(addr_s(&e), "2001:db8::1");
    cr_assert_eq(e.port, 587);
    cr_assert_eq(e.err, PM_EC_NETUNREACH);

    /* smtp_connect.c: "connect to %s[%s]: %m" when there is no port */
    cr_assert_eq(parse(PF "connect to fd99:2::2[fd99:2::2]: Permission denied", &e), 1);
    cr_assert_eq(e.port, 0);
    cr_assert_str_eq(addr_s(&e), "fd99:2::2");
    cr_assert_eq(e.err, PM_EC_ACCES);
}

Test(mtalog_postfix, status_deferred_carries_queue_id_domain_and_delays)
{
    struct pm_logentry e;
    cr_assert_eq(parse(PF "4DDA4C16102: to=<p_arp_fail@v4b.example>, relay=none, delay=3.1, "
                          "delays=0.01/0/3.1/0, dsn=4.4.1, status=deferred (connect to "
                          "10.99.2.99[10.99.2.99]:25: No route to host)",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_CONNECT_FAIL);
    cr_assert_eq(e.err, PM_EC_HOSTUNREACH);
    cr_assert_eq(e.from_status, 1);
    cr_assert_str_eq(e.queue_id, "4DDA4C16102");
    cr_assert_str_eq(e.domain, "v4b.example");
    cr_assert_eq(e.conn_delay_ms, 3100);
    cr_assert_str_eq(addr_s(&e), "10.99.2.99");
    cr_assert_eq(e.port, 25);

    /* musl spelling from a real Alpine log (bokysan/docker-postfix#21), 150 s set-up */
    cr_assert_eq(parse(PF "DC95C602BA: to=<x@gmail.com>, relay=none, delay=150, "
                          "delays=0.05/0.01/150/0, dsn=4.4.1, status=deferred (connect to "
                          "alt4.gmail-smtp-in.l.google.com[172.217.218.27]:25: Operation timed "
                          "out)",
                       &e),
                 1);
    cr_assert_eq(e.err, PM_EC_TIMEDOUT);
    cr_assert_eq(e.conn_delay_ms, 150000);
    cr_assert_str_eq(e.domain, "gmail.com");

    /* orig_to= and conn_use= between the usual fields */
    cr_assert_eq(parse(PF "ABCDE12345: to=<u@d.example>, orig_to=<alias@x.example>, relay=none, "
                          "delay=2, delays=0/0/2/0, conn_use=2, dsn=4.4.1, status=deferred "
                          "(connect to d.example[192.0.2.9]:25: Connection refused)",
                       &e),
                 1);
    cr_assert_str_eq(e.domain, "d.example");
    cr_assert_eq(e.conn_delay_ms, 2000);
}

Test(mtalog_postfix, greeting_and_later_phases)
{
    struct pm_logentry e;
    cr_assert_eq(parse(PF "C4BBFC162DD: to=<g1@v4.example>, relay=10.99.2.2[10.99.2.2]:25, "
                          "delay=5, delays=0.01/0/5/0, dsn=4.4.2, status=deferred (conversation "
                          "with 10.99.2.2[10.99.2.2] timed out while receiving the initial "
                          "server greeting)",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_GREETING_TIMEOUT);
    cr_assert_eq(e.err, PM_EC_TIMEDOUT);
    cr_assert_eq(e.port, 25, "the port comes from relay=");

    cr_assert_eq(parse(PF "929BCC1637B: to=<g2@v4.example>, relay=10.99.2.2[10.99.2.2]:25, "
                          "delay=0, delays=0/0/0/0, dsn=4.4.2, status=deferred (lost connection "
                          "with 10.99.2.2[10.99.2.2] while receiving the initial server "
                          "greeting)",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_GREETING_LOST);
    cr_assert_eq(e.err, PM_EC_NONE);

    cr_assert_eq(parse(PF "lost connection with mx[192.0.2.1] while sending RCPT TO", &e), 1);
    cr_assert_eq(e.kind, PM_LK_LOST_LATER);
    cr_assert_eq(e.port, 0);
    cr_assert_eq(parse(PF "80AE0C1626C: conversation with mx[192.0.2.1] timed out while "
                          "sending end of data -- message may be sent more than once",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_LOST_LATER);
    cr_assert_str_eq(e.queue_id, "80AE0C1626C");
    cr_assert_eq(parse(PF "lost connection with mx[192.0.2.1] while receiving the STARTTLS "
                          "response",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_LOST_LATER);
}

Test(mtalog_postfix, smtp_rejects_with_code)
{
    struct pm_logentry e;
    cr_assert_eq(parse(PF "55A33C1637D: to=<g3@v4.example>, relay=10.99.2.2[10.99.2.2]:25, "
                          "delay=0, delays=0/0/0/0, dsn=4.7.1, status=deferred (host "
                          "10.99.2.2[10.99.2.2] refused to talk to me: 554 5.7.1 mx.example.net "
                          "Service unavailable; client blocked)",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_SMTP_REJECT);
    cr_assert_eq(e.smtp_code, 554);
    cr_assert_eq(e.err, PM_EC_NONE);

    cr_assert_eq(parse(PF "1C47CC1638D: host 10.99.2.2[10.99.2.2] refused to talk to me: 421 "
                          "4.3.2 Service not available, closing channel",
                       &e),
                 1);
    cr_assert_eq(e.smtp_code, 421);

    cr_assert_eq(parse(PF "3F2A1B2C3D: to=<nobody@example.net>, relay=mx[2001:db8::25]:25, "
                          "delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host "
                          "mx[2001:db8::25] said: 550 5.1.1 <nobody@example.net>: Recipient "
                          "address rejected (in reply to RCPT TO command))",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_SMTP_REJECT);
    cr_assert_eq(e.smtp_code, 550);
    cr_assert_str_eq(addr_s(&e), "2001:db8::25");
    cr_assert_eq(e.port, 25);

    /* a reply without a code is not a reply */
    cr_assert_eq(parse(PF "host mx[192.0.2.1] refused to talk to me: go away", &e), -1);
}

Test(mtalog_postfix, delivered_from_status_sent)
{
    struct pm_logentry e;
    cr_assert_eq(parse(PF "80AE0C1626C: to=<a@gmail.com>, relay=gmail-smtp-in.l.google.com"
                          "[2a00:1450:4013:c01::1b]:25, delay=1.2, delays=0.1/0/0.5/0.6, "
                          "dsn=2.0.0, status=sent (250 2.0.0 OK 1700000000 x)",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_DELIVERED);
    cr_assert_eq(e.err, PM_EC_NONE);
    cr_assert_str_eq(addr_s(&e), "2a00:1450:4013:c01::1b");
    cr_assert_eq(e.port, 25);
    cr_assert_str_eq(e.host, "gmail-smtp-in.l.google.com");
    cr_assert_eq(e.conn_delay_ms, 500);
    cr_assert_str_eq(e.text, "250 2.0.0 OK 1700000000 x");
    /* delivery into a local socket is not a network attempt */
    cr_assert_eq(parse("Nov 28 18:32:49 mx postfix/lmtp[77]: 0123ABCDEF: to=<u@x.example>, "
                       "relay=mx.example[private/dovecot-lmtp], delay=0.1, delays=0/0/0/0.1, "
                       "dsn=2.0.0, status=sent (250 2.0.0 Saved)",
                       &e),
                 0);
}

Test(mtalog_postfix, bind_failure_glibc_and_musl)
{
    struct pm_logentry e;
    cr_assert_eq(parse(PF "warning: smtp_connect_addr: bind 192.0.2.77: Cannot assign "
                          "requested address",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_BIND_FAIL);
    cr_assert_eq(e.err, PM_EC_ADDRNOTAVAIL);
    cr_assert_eq(e.addr.family, PM_AF_NONE, "the destination is not in the line");
    cr_assert_eq(parse(PF "warning: smtp_connect_addr: bind 2001:db8::77: Address not "
                          "available",
                       &e),
                 1);
    cr_assert_eq(e.err, PM_EC_ADDRNOTAVAIL);
    cr_assert_eq(parse(PF "fatal: smtp_connect_addr: bad smtp_bind_address parameter: "
                          "nosuchhost: Name or service not known",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_BIND_FAIL);
    cr_assert_eq(parse(PF "warning: smtp_connect_addr: bind 192.0.2.77", &e), -1);
}

/* §4: these lines stand for no new connection and must never come out as attempts. */
Test(mtalog_postfix, no_attempt_lines_are_never_attempts)
{
    static const char *lines[] = {
        "Apr 30 18:24:37 delta postfix/error[30933]: D9386B16C: to=<vtw2m21on@staging1.pool."
        "testrun.org>, relay=none, delay=38275, delays=38245/31/0/0, dsn=4.4.1, "
        "status=deferred (delivery temporarily suspended: connect to staging1.pool.testrun.org"
        "[46.225.132.204]:25: Connection timed out)",
        "Apr 30 18:24:37 delta postfix/retry[30934]: D9386B16D: to=<a@b.example>, relay=none, "
        "delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (connect to b.example"
        "[192.0.2.1]:25: Connection refused)",
        "Apr 30 18:24:37 delta postfix/error[30935]: D9386B16E: to=<a@b.example>, relay=none, "
        "delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (host b.example[192.0.2.1] "
        "refused to talk to me: 554 no)",
        "Apr 30 18:24:37 delta postfix/smtp[30936]: D9386B16F: to=<a@b.example>, relay=none, "
        "delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (delivery temporarily "
        "suspended: lost connection with b.example[192.0.2.1] while receiving the initial "
        "server greeting)",
        "Apr 30 18:24:37 delta postfix-out/error[30937]: D9386B170: to=<a@b.example>, "
        "relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=bounced (mail for b.example "
        "loops back to myself)",
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(lines); i++) {
        struct pm_logentry e;
        cr_assert_eq(parse(lines[i], &e), 1, "line %zu", i);
        cr_assert_eq(e.kind, PM_LK_NO_ATTEMPT, "line %zu: %s", i, pm_logkind_name(e.kind));
        cr_assert(!is_attempt(&e));
        cr_assert_eq(e.from_status, 1);
    }
    /* the suspended reason keeps the previous failure for context */
    struct pm_logentry e;
    cr_assert_eq(parse(lines[0], &e), 1);
    cr_assert_str_eq(addr_s(&e), "46.225.132.204");
    cr_assert_eq(e.err, PM_EC_TIMEDOUT);
    cr_assert_str_eq(e.queue_id, "D9386B16C");
}

Test(mtalog_postfix, other_daemons_and_bookkeeping_are_ignored)
{
    static const char *lines[] = {
        "Nov 28 18:32:41 sender postfix/qmgr[4996]: 80AE0C1626C: from=<root@sender.example>, "
        "size=300, nrcpt=1 (queue active)",
        "Nov 28 18:32:41 sender postfix/cleanup[5001]: 80AE0C1626C: message-id=<x@y>",
        "Nov 28 18:32:41 sender postfix/smtpd[5002]: connect from localhost[127.0.0.1]",
        "Nov 28 18:32:41 sender postfix/submission/smtpd[5003]: connect from x[192.0.2.1]",
        "Nov 28 18:32:41 sender postfix/qmgr[4996]: 80AE0C1626C: to=<a@b.example>, relay=none, "
        "delay=432000, delays=432000/0/0/0, dsn=4.4.1, status=expired, returned to sender",
        PF "Untrusted TLS connection established to mx[192.0.2.1]:25: TLSv1.3 with cipher x",
        PF "warning: TLS library problem: error:0A000086:SSL routines",
        PF "80AE0C1626C: to=<a@b.example>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.3, "
           "status=deferred (Host or domain name not found. Name service error for "
           "name=b.example type=MX: Host not found, try again)",
        PF "80AE0C1626C: enabling PIX workarounds: disable_esmtp delay_dotcrlf for mx[1.2.3.4]:25",
        PF "host mx[192.0.2.1] greeted me with my own hostname sender.example",
        "Nov 28 18:32:41 sender postfix/lmtp[5004]: connect to private/dovecot-lmtp"
        "[private/dovecot-lmtp]: No such file or directory",
        "Nov 28 18:32:41 sender dovecot: imap-login: Login: user=<x>",
        "Nov 28 18:32:41 sender kernel: [ 1.234] eth0: link up",
        "Nov 28 18:32:41 sender CRON[12]: (root) CMD (run-parts /etc/cron.hourly)",
        "",
        "just some text",
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(lines); i++) {
        struct pm_logentry e;
        cr_assert_eq(parse(lines[i], &e), 0, "line %zu: %s", i, lines[i]);
    }
}

Test(mtalog_postfix, syslog_name_variants)
{
    struct pm_logentry e;
    cr_assert_eq(parse("Nov 28 18:32:49 mx postfix-out/smtp[123]: connect to a[192.0.2.1]:25: "
                       "Connection refused",
                       &e),
                 1);
    cr_assert_eq(e.mta, PM_MTA_POSTFIX);
    cr_assert_eq(e.pid, 123);
    cr_assert_eq(parse("Nov 28 18:32:49 mx postfix/relay[124]: connect to a[192.0.2.1]:25: "
                       "Connection refused",
                       &e),
                 1);
    cr_assert_eq(parse("Nov 28 18:32:49 mx postfix/lmtp[125]: connect to a[192.0.2.1]:24: "
                       "Connection refused",
                       &e),
                 1);
    cr_assert_eq(e.port, 24);
    /* no host in the line (busybox syslogd) and no time at all */
    cr_assert_eq(parse("Nov 28 18:32:49 postfix/smtp[7]: connect to a[192.0.2.1]:25: "
                       "Connection refused",
                       &e),
                 1);
    cr_assert_eq(e.pid, 7);
    cr_assert_eq(parse("postfix/smtp[8]: connect to a[192.0.2.1]:25: Connection refused", &e),
                 1);
    cr_assert_eq(e.ts, PM_NS_NONE);
    cr_assert_eq(e.tskind, PM_TS_NONE);
}

/* ---- Exim ---- */

Test(mtalog_exim, per_host_connect_failures)
{
    static const struct {
        const char *body;
        enum pm_errclass c;
        uint16_t port;
    } cases[] = {
        {"H=mx1.example.net [203.0.113.10] Connection refused", PM_EC_REFUSED, 0},
        {"H=mx1.example.net [203.0.113.10] Connection timed out", PM_EC_TIMEDOUT, 0},
        {"H=mx1.example.net [203.0.113.10] Operation timed out", PM_EC_TIMEDOUT, 0},
        {"H=mx1.example.net [203.0.113.10] No route to host", PM_EC_HOSTUNREACH, 0},
        {"H=mx1.example.net [203.0.113.10] Host is unreachable", PM_EC_HOSTUNREACH, 0},
        {"H=mx1.example.net [203.0.113.10]:25 Network is unreachable", PM_EC_NETUNREACH, 25},
        {"H=mx1.example.net [2001:db8::25]:2525 Permission denied", PM_EC_ACCES, 2525},
        {"H=mx1.example.net [IPv6:2001:db8::25] Network unreachable", PM_EC_NETUNREACH, 0},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(cases); i++) {
        char line[256];
        snprintf(line, sizeof(line), EX "%s", cases[i].body);
        struct pm_logentry e;
        cr_assert_eq(parse(line, &e), 1, "%s", line);
        cr_assert_eq(e.mta, PM_MTA_EXIM);
        cr_assert_eq(e.kind, PM_LK_CONNECT_FAIL);
        cr_assert_eq(e.err, cases[i].c, "%s", line);
        cr_assert_eq(e.port, cases[i].port);
        cr_assert_str_eq(e.queue_id, "1tAbCd-000123-AB");
        cr_assert_str_eq(e.host, "mx1.example.net");
        cr_assert_eq(e.from_status, 0);
    }
}

Test(mtalog_exim, greeting_outcomes)
{
    struct pm_logentry e;
    cr_assert_eq(parse(EX "H=mx1.example.net [203.0.113.10]: SMTP timeout after initial "
                          "connection: Connection timed out",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_GREETING_TIMEOUT);
    cr_assert_eq(e.err, PM_EC_TIMEDOUT);
    cr_assert_eq(parse(EX "H=mx1.example.net [203.0.113.10]:25: Remote host closed connection "
                          "in response to initial connection",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_GREETING_LOST);
    cr_assert_eq(e.port, 25);
    cr_assert_eq(parse(EX "H=mx1.example.net [203.0.113.10]: SMTP error from remote mail server "
                          "after initial connection: 554 5.7.1 go away",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_SMTP_REJECT);
    cr_assert_eq(e.smtp_code, 554);
    cr_assert_eq(parse(EX "H=mx1.example.net [203.0.113.10]: SMTP timeout after MAIL FROM:<a@b>"
                          " (12 bytes written): Connection timed out",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_LOST_LATER);
    cr_assert_eq(parse(EX "H=mx1.example.net [203.0.113.10]: Remote host closed connection in "
                          "response to RCPT TO:<a@b>",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_LOST_LATER);
}

Test(mtalog_exim, defer_lines_with_errno_numbers)
{
    struct pm_logentry e;
    cr_assert_eq(parse(EX "== rcpt@example.net R=dnslookup T=remote_smtp defer (111): "
                          "Connection refused",
                       &e),
                 1);
    cr_assert_eq(e.from_status, 1);
    cr_assert_eq(e.kind, PM_LK_CONNECT_FAIL);
    cr_assert_eq(e.err, PM_EC_REFUSED);
    cr_assert_str_eq(e.domain, "example.net");
    cr_assert_eq(e.addr.family, PM_AF_NONE);

    cr_assert_eq(parse(EX "== rcpt@example.net R=dnslookup T=remote_smtp defer (110): "
                          "Connection timed out H=mx1.example.net [203.0.113.10]: SMTP timeout "
                          "after initial connection",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_GREETING_TIMEOUT);
    cr_assert_str_eq(addr_s(&e), "203.0.113.10");

    /* the errno number decides when the text is not one we know (another libc, NLS) */
    static const struct {
        int num;
        enum pm_errclass c;
    } nums[] = {{110, PM_EC_TIMEDOUT},   {111, PM_EC_REFUSED}, {113, PM_EC_HOSTUNREACH},
                {101, PM_EC_NETUNREACH}, {13, PM_EC_ACCES},    {99, PM_EC_ADDRNOTAVAIL}};
    for (size_t i = 0; i < PM_ARRAY_LEN(nums); i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 EX "== r@example.net R=dnslookup T=remote_smtp defer (%d): Fehler %d "
                    "H=mx [192.0.2.7]:25",
                 nums[i].num, nums[i].num);
        cr_assert_eq(parse(line, &e), 1, "%s", line);
        cr_assert_eq(e.kind, PM_LK_CONNECT_FAIL);
        cr_assert_eq(e.err, nums[i].c, "errno %d", nums[i].num);
        cr_assert_eq(e.port, 25);
    }

    /* -18 ERRNO_SMTPCLOSED */
    cr_assert_eq(parse(EX "== rcpt@example.net R=dnslookup T=remote_smtp defer (-18) "
                          "H=mx1.example.net [203.0.113.10]: Remote host closed connection in "
                          "response to initial connection",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_GREETING_LOST);
    cr_assert_eq(parse(EX "== rcpt@example.net R=dnslookup T=remote_smtp defer (-18)", &e), 1);
    cr_assert_eq(e.kind, PM_LK_LOST_LATER);
    /* broken errno */
    cr_assert_eq(parse(EX "== rcpt@example.net R=dnslookup T=remote_smtp defer (11x): no", &e),
                 -1);
}

Test(mtalog_exim, retry_lines_are_no_attempt)
{
    static const char *lines[] = {
        EX "== rcpt@example.net R=dnslookup T=remote_smtp defer (-54): retry time not reached "
           "for any host for 'example.net'",
        EX "== rcpt@example.net R=dnslookup T=remote_smtp defer (-53): retry time not reached",
        EX "== rcpt@example.net R=dnslookup T=remote_smtp defer (-54): all hosts for "
           "'example.net' have been failing for a long time (and retry time not reached)",
        EX "== rcpt@example.net routing defer (-51): retry time not reached",
        EX "retry time not reached for any host for 'example.net'",
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(lines); i++) {
        struct pm_logentry e;
        cr_assert_eq(parse(lines[i], &e), 1, "%s", lines[i]);
        cr_assert_eq(e.kind, PM_LK_NO_ATTEMPT, "%s", lines[i]);
        cr_assert(!is_attempt(&e));
    }
}

Test(mtalog_exim, delivered_and_failed)
{
    struct pm_logentry e;
    cr_assert_eq(parse(EX "=> rcpt@example.net R=dnslookup T=remote_smtp H=mx1.example.net "
                          "[203.0.113.10]:25 I=[10.99.1.2]:34567 X=TLS1.3:TLS_AES_256_GCM_SHA384"
                          ":256 CV=no S=400 C=\"250 OK id=1x\"",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_DELIVERED);
    cr_assert_str_eq(addr_s(&e), "203.0.113.10");
    cr_assert_eq(e.port, 25);
    cr_assert_str_eq(e.text, "250 OK id=1x");
    cr_assert_str_eq(e.domain, "example.net");
    cr_assert_eq(parse(EX "=> root <root@sender.example> R=local_user T=mail_spool", &e), 0,
                 "local deliveries are not network attempts");
    cr_assert_eq(parse(EX "** nobody@example.net R=dnslookup T=remote_smtp H=mx1.example.net "
                          "[203.0.113.10]: SMTP error from remote mail server after RCPT "
                          "TO:<nobody@example.net>: 550 5.1.1 No such user",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_SMTP_REJECT);
    cr_assert_eq(e.smtp_code, 550);
    cr_assert_eq(e.from_status, 1);
    cr_assert_eq(parse(EX "** nobody@example.net: Unrouteable address", &e), 0);
}

Test(mtalog_exim, timestamp_pid_and_message_id_forms)
{
    struct pm_log_options o = opts_utc();
    struct pm_logentry e;
    /* log_timezone, +millisec, +pid, the older 6-6-2 id */
    cr_assert_eq(parse_o("2025-01-01 10:00:00.250 +0100 [4321] 1ABcde-0001AB-Cd H=mx "
                         "[203.0.113.10] Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2025-01-01T09:00:00.250Z"));
    cr_assert_eq(e.tskind, PM_TS_ISO_ZONED);
    cr_assert_eq(e.pid, 4321);
    cr_assert_str_eq(e.queue_id, "1ABcde-0001AB-Cd");
    /* Exim 4.97 ids are longer (6-11-4) */
    cr_assert_eq(parse_o("2025-01-01 10:00:00 -0530 1tAbCd-00000000123-ABCD H=mx "
                         "[203.0.113.10] Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2025-01-01T15:30:00Z"));
    cr_assert_str_eq(e.queue_id, "1tAbCd-00000000123-ABCD");
    /* zone-less: local time in o->tz */
    o.tz = "+02:00";
    cr_assert_eq(parse_o(EX "H=mx [203.0.113.10] Connection refused", &o, &e), 1);
    cr_assert_eq(e.ts, at("2025-01-01T08:00:00Z"));
    cr_assert_eq(e.tskind, PM_TS_ISO_LOCAL);
    cr_assert_eq(e.year_inferred, 0);
    /* through syslog, with Exim's own stamp inside */
    o.tz = "UTC";
    cr_assert_eq(parse_o("Jan  1 10:00:00 mta exim[99]: 2025-01-01 10:00:07 1tAbCd-000123-AB "
                         "H=mx [203.0.113.10] No route to host",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2025-01-01T10:00:07Z"));
    cr_assert_eq(e.pid, 99);
    cr_assert_eq(e.err, PM_EC_HOSTUNREACH);
}

Test(mtalog_exim, inbound_and_housekeeping_lines_are_ignored)
{
    static const char *lines[] = {
        "2025-01-01 10:00:00 H=(helo.example) [192.0.2.5] F=<a@b> rejected RCPT <c@d>: relay "
        "not permitted",
        EX "<= a@b H=client.example [192.0.2.5] P=esmtp S=123",
        EX "H=client.example [192.0.2.5] F=<a@b> rejected after DATA: spam",
        EX "H=client.example (helo) [192.0.2.5] F=<a@b> rejected",
        EX "Completed",
        "2025-01-01 10:00:00 Start queue run: pid=123",
        "2025-01-01 10:00:00 exim 4.96 daemon started: pid=1, -q30m, listening for SMTP on "
        "port 25 (IPv4)",
        EX "H=mx1.example.net [203.0.113.10]: TLS session: (SSL_connect): error",
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(lines); i++) {
        struct pm_logentry e;
        cr_assert_eq(parse(lines[i], &e), 0, "%s", lines[i]);
    }
}

/* ---- Sendmail ---- */

Test(mtalog_sendmail, deferred_texts)
{
    static const struct {
        const char *stat;
        uint8_t kind;
        enum pm_errclass c;
    } cases[] = {
        {"Deferred: Connection refused by mx1.example.net.", PM_LK_CONNECT_FAIL, PM_EC_REFUSED},
        {"Deferred: Connection timed out with mx1.example.net.", PM_LK_CONNECT_FAIL,
         PM_EC_TIMEDOUT},
        {"Deferred: Operation timed out with mx1.example.net.", PM_LK_CONNECT_FAIL,
         PM_EC_TIMEDOUT},
        {"Deferred: Connection timed out with mx1.example.net. during initial connection",
         PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT},
        {"Deferred: Connection timed out with mx1.example.net. during client greeting",
         PM_LK_GREETING_TIMEOUT, PM_EC_TIMEDOUT},
        {"Deferred: Connection timed out with mx1.example.net. during client RCPT",
         PM_LK_LOST_LATER, PM_EC_TIMEDOUT},
        {"Deferred: mx1.example.net.: No route to host", PM_LK_CONNECT_FAIL,
         PM_EC_HOSTUNREACH},
        {"Deferred: mx1.example.net.: Host is unreachable", PM_LK_CONNECT_FAIL,
         PM_EC_HOSTUNREACH},
        {"Deferred: mx1.example.net.: Network is unreachable", PM_LK_CONNECT_FAIL,
         PM_EC_NETUNREACH},
        {"Deferred: mx1.example.net.: Network unreachable", PM_LK_CONNECT_FAIL,
         PM_EC_NETUNREACH},
        {"Deferred: Connection reset by mx1.example.net. during client greeting",
         PM_LK_GREETING_LOST, PM_EC_CONNRESET},
        {"Deferred: Connection reset by mx1.example.net. during client MAIL", PM_LK_LOST_LATER,
         PM_EC_CONNRESET},
        {"Deferred: Host mx1.example.net. is down", PM_LK_CONNECT_FAIL, PM_EC_HOSTDOWN},
        {"Deferred: 421 4.7.0 Try again later", PM_LK_SMTP_REJECT, PM_EC_NONE},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(cases); i++) {
        char line[512];
        snprintf(line, sizeof(line),
                 SM SM_TO "relay=mx1.example.net. [203.0.113.10], dsn=4.0.0, stat=%s",
                 cases[i].stat);
        struct pm_logentry e;
        cr_assert_eq(parse(line, &e), 1, "%s", cases[i].stat);
        cr_assert_eq(e.mta, PM_MTA_SENDMAIL);
        cr_assert_eq(e.kind, cases[i].kind, "%s: %s", cases[i].stat, pm_logkind_name(e.kind));
        cr_assert_eq(e.err, cases[i].c, "%s", cases[i].stat);
        cr_assert_eq(e.from_status, 1);
        cr_assert_str_eq(e.queue_id, "50AA0Bc1012345");
        cr_assert_str_eq(e.domain, "example.net");
        cr_assert_str_eq(addr_s(&e), "203.0.113.10");
        cr_assert_str_eq(e.host, "mx1.example.net.");
        cr_assert_eq(e.pid, 1234);
    }
}

Test(mtalog_sendmail, relay_forms_sent_and_timeouts)
{
    struct pm_logentry e;
    cr_assert_eq(parse("Jan  1 10:00:00 mta sm-mta[1]: 50AA0Bc1012345: to=<a@example.net>,"
                       "<b@example.org>, delay=00:00:01, mailer=esmtp, pri=1, relay=[2001:db8::25]"
                       ", dsn=2.0.0, stat=Sent (OK id=1x)",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_DELIVERED);
    cr_assert_str_eq(addr_s(&e), "2001:db8::25");
    cr_assert_str_eq(e.domain, "example.net");
    cr_assert_eq(parse(SM SM_TO "relay=mx. [IPv6:2001:db8::26], dsn=4.0.0, stat=Deferred: "
                                "Connection refused by mx.",
                       &e),
                 1);
    cr_assert_str_eq(addr_s(&e), "2001:db8::26");
    cr_assert_eq(parse(SM "timeout waiting for input from mx1.example.net. during client "
                          "greeting",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_GREETING_TIMEOUT);
    cr_assert_eq(e.err, PM_EC_TIMEDOUT);
    cr_assert_str_eq(e.host, "mx1.example.net.");
    cr_assert_eq(e.addr.family, PM_AF_NONE);
    cr_assert_eq(parse(SM "timeout waiting for input from mx1.example.net. during client DATA "
                          "0",
                       &e),
                 1);
    cr_assert_eq(e.kind, PM_LK_LOST_LATER);
    /* local mailer, inbound from= line, other notices */
    cr_assert_eq(parse(SM "to=root, delay=00:00:00, mailer=local, pri=1, dsn=2.0.0, stat=Sent",
                       &e),
                 0);
    cr_assert_eq(parse(SM "from=<a@b>, size=1, class=0, nrcpts=1, msgid=<x@y>, proto=ESMTP, "
                          "daemon=MTA, relay=localhost [127.0.0.1]",
                       &e),
                 0);
    cr_assert_eq(parse(SM "to=<a@b>, relay=mx. [203.0.113.10], dsn=4.0.0, stat=Deferred: Name "
                          "server: mx.: host name lookup failure",
                       &e),
                 0);
    /* broken */
    cr_assert_eq(parse(SM "to=<a@b>, relay=mx. [203.0.113.10, dsn=4.0.0, stat=Deferred: "
                          "Connection refused by mx.",
                       &e),
                 -1);
    cr_assert_eq(parse(SM "to=<a@b>, relay=mx. [203.0.113.10]", &e), -1);
    cr_assert_eq(parse(SM "timeout waiting for input from mx1.example.net.", &e), -1);
}

/* ---- errno and name tables ---- */

Test(mtalog_names, errclass_from_text_and_names)
{
    cr_assert_eq(pm_errclass_from_text("Connection refused"), PM_EC_REFUSED);
    cr_assert_eq(pm_errclass_from_text("Operation timed out"), PM_EC_TIMEDOUT);
    cr_assert_eq(pm_errclass_from_text("Address not available"), PM_EC_ADDRNOTAVAIL);
    cr_assert_eq(pm_errclass_from_text("connect to a[192.0.2.1]:25: Network unreachable"),
                 PM_EC_NETUNREACH);
    cr_assert_eq(pm_errclass_from_text("Connection refused by mx.example."), PM_EC_REFUSED);
    cr_assert_eq(pm_errclass_from_text("mx.example.: Host is unreachable"), PM_EC_HOSTUNREACH);
    cr_assert_eq(pm_errclass_from_text("Connection refusedx"), PM_EC_OTHER);
    cr_assert_eq(pm_errclass_from_text("Success"), PM_EC_OTHER);
    cr_assert_eq(pm_errclass_from_text(""), PM_EC_OTHER);
    cr_assert_eq(pm_errclass_from_text(NULL), PM_EC_OTHER);

    cr_assert_str_eq(pm_errclass_name(PM_EC_REFUSED), "ECONNREFUSED");
    cr_assert_str_eq(pm_errclass_name(PM_EC_TIMEDOUT), "ETIMEDOUT");
    cr_assert_str_eq(pm_errclass_name(PM_EC_ACCES), "EACCES");
    cr_assert_str_eq(pm_errclass_name(PM_EC_ADDRNOTAVAIL), "EADDRNOTAVAIL");
    for (int a = 0; a < PM_EC__COUNT; a++) {
        cr_assert_not_null(pm_errclass_name((enum pm_errclass)a));
        for (int b = a + 1; b < PM_EC__COUNT; b++) {
            cr_assert_str_neq(pm_errclass_name((enum pm_errclass)a),
                              pm_errclass_name((enum pm_errclass)b));
        }
    }
    for (int a = 0; a < PM_LK__COUNT; a++) {
        cr_assert_str_neq(pm_logkind_name((enum pm_logkind)a), "unknown");
        for (int b = a + 1; b < PM_LK__COUNT; b++) {
            cr_assert_str_neq(pm_logkind_name((enum pm_logkind)a),
                              pm_logkind_name((enum pm_logkind)b));
        }
    }
    cr_assert_str_eq(pm_logkind_name(PM_LK__COUNT), "unknown");
    cr_assert_str_eq(pm_mta_name(PM_MTA_POSTFIX), "postfix");
    cr_assert_str_eq(pm_mta_name(PM_MTA_EXIM), "exim");
    cr_assert_str_eq(pm_mta_name(PM_MTA_SENDMAIL), "sendmail");
    cr_assert_str_eq(pm_mta_name(PM_MTA_UNKNOWN), "unknown");
}

/* ---- timestamps and zones ---- */

Test(mtalog_time, syslog_day_paddings_and_fraction)
{
    struct pm_log_options o = opts_utc();
    struct pm_logentry e;
    const char *tail = " mx postfix/smtp[1]: connect to a[192.0.2.1]:25: Connection refused";
    static const struct {
        const char *stamp, *want;
    } cases[] = {
        {"Nov  2 18:32:49", "2026-11-02T18:32:49Z"},
        {"Nov 02 18:32:49", "2026-11-02T18:32:49Z"}, /* Postfix maillog_file: "%b %d" */
        {"Nov 28 18:32:49", "2026-11-28T18:32:49Z"},
        {"Nov 28 18:32:49.123456", "2026-11-28T18:32:49.123456Z"}, /* short-precise */
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(cases); i++) {
        char line[256];
        snprintf(line, sizeof(line), "%s%s", cases[i].stamp, tail);
        cr_assert_eq(parse_o(line, &o, &e), 1, "%s", line);
        cr_assert_eq(e.ts, at(cases[i].want), "%s", cases[i].stamp);
        cr_assert_eq(e.tskind, PM_TS_SYSLOG);
        cr_assert_eq(e.year_inferred, 1);
    }
}

Test(mtalog_time, iso_rfc5424_and_journald)
{
    struct pm_log_options o = opts_utc();
    o.tz = "Asia/Tokyo"; /* must not matter: these carry their zone */
    struct pm_logentry e;
    cr_assert_eq(parse_o("<22>1 2026-11-28T18:32:49.123456+01:00 sender postfix/smtp 5057 - - "
                         "connect to a[192.0.2.1]:25: Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2026-11-28T17:32:49.123456Z"));
    cr_assert_eq(e.tskind, PM_TS_ISO_ZONED);
    cr_assert_eq(e.pid, 5057);
    cr_assert_eq(parse_o("<22>1 2026-11-28T18:32:49Z sender postfix/smtp 5057 ID47 "
                         "[ex@32473 iut=\"3\" note=\"a \\] b\"][x@1 y=\"\"] \xEF\xBB\xBF"
                         "connect to a[192.0.2.1]:25: Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2026-11-28T18:32:49Z"));
    cr_assert_eq(parse_o("2026-11-28T18:32:49.5-05:00 sender postfix/smtp[9]: connect to "
                         "a[192.0.2.1]:25: Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2026-11-28T23:32:49.5Z"));
    cr_assert_eq(parse_o("2026-11-28T18:32:49+0000 sender postfix/smtp[9]: connect to "
                         "a[192.0.2.1]:25: Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2026-11-28T18:32:49Z"));
    cr_assert_eq(e.year_inferred, 0);
    /* ISO without a zone is local time in o->tz (Tokyo, UTC+9) */
    cr_assert_eq(parse_o("2026-11-28T18:32:49 sender postfix/smtp[9]: connect to "
                         "a[192.0.2.1]:25: Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2026-11-28T09:32:49Z"));
    cr_assert_eq(e.tskind, PM_TS_ISO_LOCAL);
}

Test(mtalog_time, zones_fixed_named_and_local)
{
    const char *winter = "Jan 15 12:00:00 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                         "Connection refused";
    const char *summer = "Jul 15 12:00:00 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                         "Connection refused";
    struct pm_log_options o = {.year = 2026, .ref_time = PM_NS_NONE};
    struct pm_logentry e;
    static const struct {
        const char *tz, *winter, *summer;
    } cases[] = {
        {"UTC", "2026-01-15T12:00:00Z", "2026-07-15T12:00:00Z"},
        {"Z", "2026-01-15T12:00:00Z", "2026-07-15T12:00:00Z"},
        {"+01:00", "2026-01-15T11:00:00Z", "2026-07-15T11:00:00Z"},
        {"-0130", "2026-01-15T13:30:00Z", "2026-07-15T13:30:00Z"},
        {"Europe/Berlin", "2026-01-15T11:00:00Z", "2026-07-15T10:00:00Z"}, /* CET / CEST */
        {"America/New_York", "2026-01-15T17:00:00Z", "2026-07-15T16:00:00Z"},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(cases); i++) {
        o.tz = cases[i].tz;
        cr_assert_eq(parse_o(winter, &o, &e), 1);
        cr_assert_eq(e.ts, at(cases[i].winter), "%s winter", cases[i].tz);
        cr_assert_eq(e.year_inferred, 0, "the year was given");
        cr_assert_eq(parse_o(summer, &o, &e), 1);
        cr_assert_eq(e.ts, at(cases[i].summer), "%s summer", cases[i].tz);
    }
    /* the days the clocks change: offsets switch within the day */
    static const struct {
        const char *tz, *line, *want;
    } dst[] = {
        {"Europe/Berlin", "Mar 29 01:30:00", "2026-03-29T00:30:00Z"},
        {"Europe/Berlin", "Mar 29 03:30:00", "2026-03-29T01:30:00Z"},
        {"Europe/Berlin", "Oct 25 01:30:00", "2026-10-24T23:30:00Z"},
        {"Europe/Berlin", "Oct 25 03:30:00", "2026-10-25T02:30:00Z"},
        {"America/New_York", "Mar  8 01:30:00", "2026-03-08T06:30:00Z"},
        {"America/New_York", "Mar  8 03:30:00", "2026-03-08T07:30:00Z"},
        {"America/New_York", "Mar  8 23:30:00", "2026-03-09T03:30:00Z"},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(dst); i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "%s mx postfix/smtp[1]: connect to a[192.0.2.1]:25: Connection refused",
                 dst[i].line);
        o.tz = dst[i].tz;
        cr_assert_eq(parse_o(line, &o, &e), 1);
        cr_assert_eq(e.ts, at(dst[i].want), "%s %s", dst[i].tz, dst[i].line);
    }
    /* a named zone leaves the process's TZ as it was */
    setenv("TZ", "Asia/Kolkata", 1);
    tzset();
    o.tz = "Europe/Berlin";
    cr_assert_eq(parse_o(summer, &o, &e), 1);
    cr_assert_str_eq(getenv("TZ"), "Asia/Kolkata");
    /* tz NULL: the process's zone (TZ), UTC+5:30 */
    o.tz = NULL;
    cr_assert_eq(parse_o(winter, &o, &e), 1);
    cr_assert_eq(e.ts, at("2026-01-15T06:30:00Z"));
    setenv("TZ", "UTC", 1);
    tzset();
    cr_assert_eq(parse_o(winter, &o, &e), 1);
    cr_assert_eq(e.ts, at("2026-01-15T12:00:00Z"), "a TZ change is seen, not cached over");
}

Test(mtalog_time, year_inference_across_new_year)
{
    struct pm_log_options o = {.tz = "UTC", .ref_time = at("2027-01-01T00:10:00Z")};
    struct pm_logentry e;
    cr_assert_eq(parse_o("Dec 31 23:59:30 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                         "Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2026-12-31T23:59:30Z"), "a Dec 31 line near Jan 1 is last year");
    cr_assert_eq(e.year_inferred, 1);
    o.ref_time = at("2026-12-31T23:50:00Z");
    cr_assert_eq(parse_o("Jan  1 00:05:00 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                         "Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2027-01-01T00:05:00Z"), "a Jan 1 line near Dec 31 is next year");
    o.ref_time = at("2026-06-01T00:00:00Z");
    cr_assert_eq(parse_o("Mar  3 10:00:00 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                         "Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2026-03-03T10:00:00Z"));
    /* Feb 29 only exists in leap years */
    o.ref_time = at("2026-06-01T00:00:00Z");
    cr_assert_eq(parse_o("Feb 29 10:00:00 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                         "Connection refused",
                         &o, &e),
                 1);
    cr_assert(e.ts == at("2024-02-29T10:00:00Z") || e.ts == at("2028-02-29T10:00:00Z"));
    /* with a zone: Dec 31 23:30 in Berlin is Dec 31 22:30 UTC */
    o.tz = "Europe/Berlin";
    o.ref_time = at("2027-01-01T00:10:00Z");
    cr_assert_eq(parse_o("Dec 31 23:30:00 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                         "Connection refused",
                         &o, &e),
                 1);
    cr_assert_eq(e.ts, at("2026-12-31T22:30:00Z"));
}

Test(mtalog_time, impossible_times_make_mta_lines_unparseable)
{
    struct pm_logentry e;
    cr_assert_eq(parse("Feb 30 10:00:00 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                       "Connection refused",
                       &e),
                 -1);
    cr_assert_eq(parse("Nov 28 25:00:00 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                       "Connection refused",
                       &e),
                 -1);
    cr_assert_eq(parse("2026-13-01T00:00:00Z mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                       "Connection refused",
                       &e),
                 -1);
    cr_assert_eq(parse("2026-11-28T18:32:49+99:00 mx postfix/smtp[1]: connect to "
                       "a[192.0.2.1]:25: Connection refused",
                       &e),
                 -1);
    /* and the same time on a line of no interest is just ignored */
    cr_assert_eq(parse("Feb 30 10:00:00 mx kernel: hello", &e), 0);
}

Test(mtalog_time, tz_validation)
{
    cr_assert(pm_log_tz_valid(NULL));
    cr_assert(pm_log_tz_valid("UTC"));
    cr_assert(pm_log_tz_valid("+01:00"));
    cr_assert(pm_log_tz_valid("-0130"));
    cr_assert(pm_log_tz_valid("Europe/Berlin"));
    cr_assert(pm_log_tz_valid("CET-1CEST,M3.5.0,M10.5.0/3"));
    cr_assert(!pm_log_tz_valid("Mars/Olympus_Mons"));
    cr_assert(!pm_log_tz_valid("../../etc/passwd"));
    cr_assert(!pm_log_tz_valid("+25:00"));
    cr_assert(!pm_log_tz_valid(""));
    cr_assert(!pm_log_tz_valid("Europe/Berlin\n"));
    cr_assert(!pm_log_tz_valid("UTC+1"), "POSIX sign is inverted: ask for +01:00 instead");
    cr_assert(!pm_log_tz_valid("GMT-2"));
    /* issue 19: a file name is not a zone (glibc would read any file named by TZ=/path),
     * nor is a table that lives beside the zones */
    cr_assert(!pm_log_tz_valid("/etc/passwd"));
    cr_assert(!pm_log_tz_valid(":/etc/passwd"));
    cr_assert(!pm_log_tz_valid("/usr/share/zoneinfo/Europe/Berlin"));
    cr_assert(!pm_log_tz_valid("zone.tab"));
    cr_assert(!pm_log_tz_valid("iso3166.tab"));
}

/* A zone is a TZif file under TZDIR: a FIFO planted there is refused without blocking. */
Test(mtalog_time, tz_validation_reads_only_zone_files, .timeout = 10)
{
    char dir[] = "/tmp/pm-tzdir-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof(p), "%s/Good", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("TZif2 and the rest of a zone file", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/Text", dir);
    f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("not a zone\n", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/Fifo", dir);
    cr_assert_eq(mkfifo(p, 0600), 0);
    setenv("TZDIR", dir, 1);
    cr_assert(pm_log_tz_valid("Good"));
    cr_assert(!pm_log_tz_valid("Text"));
    cr_assert(!pm_log_tz_valid("Fifo"), "a FIFO is no zone, and opening it must not hang");
    cr_assert(!pm_log_tz_valid("Missing"));
    unsetenv("TZDIR");
    const char *names[] = {"Good", "Text", "Fifo"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* ---- hostile lines ---- */

Test(mtalog_hostile, broken_brackets_addresses_and_ports)
{
    static const char *lines[] = {
        PF "connect to mx[999.1.1.1]:25: Connection refused",
        PF "connect to mx[192.0.2.1]:70000: Connection refused",
        PF "connect to mx[192.0.2.1]:99999: Connection refused",
        PF "connect to mx[192.0.2.1]:-1: Connection refused",
        PF "connect to mx[192.0.2.1]:0: Connection refused",
        PF "connect to mx[192.0.2.1:25: Connection refused",
        PF "connect to mx192.0.2.1]:25: Connection refused",
        PF "connect to mx192.0.2.1:25: Connection refused",
        PF "connect to mx[]:25: Connection refused",
        PF "connect to mx[192.0.2.1]:25",
        PF "connect to mx[fe80::1%eth0]:25: Connection refused",
        PF "connect to mx[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb]:25: "
           "Connection refused",
        PF "connect to m x[192.0.2.1]:25: Connection refused",
        PF "lost connection with mx[192.0.2.1]",
        PF "conversation with mx[192.0.2.1] timed out",
        PF "80AE0C1626C: to=<a@b.example>, relay=none, delay=1",
        PF "80AE0C1626C: to=<a@b.example>, relay=mx[192.0.2.300]:25, dsn=2.0.0, status=sent (ok)",
        "Nov 28 18:32:49 mx postfix/smtp[12: connect to mx[192.0.2.1]:25: Connection refused",
        "Nov 28 18:32:49 mx postfix/smtp[99999999999]: connect to mx[192.0.2.1]:25: refused",
        "Nov 28 18:32:49 mx postfix/smtp[]: connect to mx[192.0.2.1]:25: Connection refused",
        EX "H=mx [203.0.113.1000] Connection refused",
        EX "H=mx [203.0.113.10]:65536 Connection refused",
        EX "H=mx [203.0.113.10 Connection refused",
        EX "H=mx 203.0.113.10] Connection refused",
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(lines); i++) {
        struct pm_logentry e;
        cr_assert_eq(parse(lines[i], &e), -1, "line %zu: %s", i, lines[i]);
    }
}

Test(mtalog_hostile, overlong_line_and_fields)
{
    size_t n = 100 * 1024;
    char *big = malloc(n);
    cr_assert_not_null(big);
    const char *head = PF "connect to a[192.0.2.1]:25: ";
    memcpy(big, head, strlen(head));
    memset(big + strlen(head), 'A', n - strlen(head));
    struct pm_logentry e;
    cr_assert_eq(parse_n(big, n, NULL, &e), 1);
    cr_assert_eq(e.err, PM_EC_OTHER);
    cr_assert_lt(strlen(e.text), sizeof(e.text));
    /* a 100 KB host name is cut to the field */
    const char *h2 = PF "connect to ";
    memcpy(big, h2, strlen(h2));
    memset(big + strlen(h2), 'h', n - strlen(h2));
    const char *tail = "[192.0.2.1]:25: Connection refused";
    memcpy(big + n - strlen(tail), tail, strlen(tail));
    cr_assert_eq(parse_n(big, n, NULL, &e), 1);
    cr_assert_eq(strlen(e.host), sizeof(e.host) - 1);
    cr_assert_eq(e.err, PM_EC_REFUSED);
    /* 100 KB of brackets and colons */
    memcpy(big, h2, strlen(h2));
    for (size_t i = strlen(h2); i < n; i++) {
        big[i] = "[]:"[i % 3];
    }
    cr_assert_eq(parse_n(big, n, NULL, &e), -1);
    /* 100 KB without a newline or anything known */
    memset(big, 'x', n);
    cr_assert_eq(parse_n(big, n, NULL, &e), 0);
    free(big);
}

Test(mtalog_hostile, nul_bytes_utf8_and_cr)
{
    struct pm_logentry e;
    /* a NUL inside the address */
    const char l1[] = PF "connect to mx[192.0.2.1\0]:25: Connection refused";
    cr_assert_eq(parse_n(l1, sizeof(l1) - 1, NULL, &e), -1);
    /* a NUL in the error text is sanitised, not a terminator */
    const char l2[] = PF "connect to mx[192.0.2.1]:25: Connection\0refused";
    cr_assert_eq(parse_n(l2, sizeof(l2) - 1, NULL, &e), 1);
    cr_assert_eq(e.err, PM_EC_OTHER);
    cr_assert_not_null(strstr(e.text, "Connection?refused"));
    /* len ends the line even when more bytes follow */
    const char l3[] = PF "connect to mx[192.0.2.1]:25: Connection refused\0GARBAGE[";
    cr_assert_eq(parse_n(l3, strlen(l3), NULL, &e), 1);
    cr_assert_eq(e.err, PM_EC_REFUSED);
    /* cut inside the address */
    cr_assert_eq(parse_n(l3, strlen(PF "connect to mx[192.0."), NULL, &e), -1);
    /* invalid UTF-8 in the host name, CRLF at the end */
    cr_assert_eq(parse(PF "connect to m\xff\xfe\xc3[192.0.2.1]:25: Connection refused\r\n", &e),
                 1);
    cr_assert_str_eq(e.host, "m???");
    cr_assert_eq(e.err, PM_EC_REFUSED);
    cr_assert_null(strchr(e.text, '\r'));
    /* control characters in a banner end up sanitised */
    cr_assert_eq(parse(PF "host mx[192.0.2.1] refused to talk to me: 554 \x1b[31mred\x07", &e), 1);
    for (const char *p = e.text; *p; p++) {
        cr_assert(*p >= 0x20 && *p < 0x7f, "unsanitised byte 0x%02x", (unsigned char)*p);
    }
    /* NULL line with length 0 */
    cr_assert_eq(pm_log_parse_line(NULL, 0, NULL, &e), 0);
}

/* xorshift64*: a fixed seed keeps the run reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void check_sane(int r, const struct pm_logentry *e, const char *what, size_t i)
{
    cr_assert(r >= -1 && r <= 1, "%s %zu: r=%d", what, i, r);
    if (r != 1) {
        return;
    }
    cr_assert_lt(e->kind, PM_LK__COUNT, "%s %zu", what, i);
    cr_assert_lt(e->err, PM_EC__COUNT, "%s %zu", what, i);
    cr_assert(e->mta >= PM_MTA_POSTFIX && e->mta <= PM_MTA_SENDMAIL, "%s %zu", what, i);
    cr_assert(e->addr.family == PM_AF_NONE || e->addr.family == PM_AF_INET ||
                  e->addr.family == PM_AF_INET6,
              "%s %zu", what, i);
    cr_assert_leq(e->tskind, PM_TS_ISO_LOCAL);
    cr_assert_lt(strnlen(e->host, sizeof(e->host)), sizeof(e->host));
    cr_assert_lt(strnlen(e->text, sizeof(e->text)), sizeof(e->text));
    cr_assert_lt(strnlen(e->queue_id, sizeof(e->queue_id)), sizeof(e->queue_id));
    cr_assert_lt(strnlen(e->domain, sizeof(e->domain)), sizeof(e->domain));
    for (const char *p = e->text; *p; p++) {
        cr_assert(*p >= 0x20 && *p < 0x7f, "%s %zu: unsanitised text", what, i);
    }
    if (e->kind == PM_LK_SMTP_REJECT) {
        cr_assert(e->smtp_code == 0 || (e->smtp_code >= 200 && e->smtp_code <= 599));
    }
}

Test(mtalog_hostile, random_and_mutated_lines)
{
    static const char *seeds[] = {
        PF "connect to 10.99.2.2[10.99.2.2]:25: Connection refused",
        PF "4DDA4C16102: to=<p@v4b.example>, relay=none, delay=3.1, delays=0.01/0/3.1/0, "
           "dsn=4.4.1, status=deferred (connect to 10.99.2.99[10.99.2.99]:25: No route to host)",
        PF "C4BBFC162DD: to=<g@v4.example>, relay=10.99.2.2[10.99.2.2]:25, delay=5, "
           "delays=0.01/0/5/0, dsn=4.4.2, status=deferred (conversation with "
           "10.99.2.2[10.99.2.2] timed out while receiving the initial server greeting)",
        PF "host fd99:2::2[fd99:2::2] refused to talk to me: 554 5.7.1 no",
        "<22>1 2026-11-28T18:32:49.123456+01:00 s postfix/smtp 5057 - [a b=\"c\"] connect to "
        "a[2001:db8::1]:25: Operation timed out",
        EX "H=mx1.example.net [203.0.113.10]:25: SMTP timeout after initial connection: "
           "Connection timed out",
        EX "== rcpt@example.net R=dnslookup T=remote_smtp defer (111): Connection refused "
           "H=mx1.example.net [203.0.113.10]:25: x",
        EX "=> rcpt@example.net R=d T=r H=mx [203.0.113.10]:25 C=\"250 ok\"",
        SM SM_TO "relay=mx1.example.net. [203.0.113.10], dsn=4.0.0, stat=Deferred: Connection "
                 "timed out with mx1.example.net. during client greeting",
        SM "timeout waiting for input from mx1.example.net. during client greeting",
    };
    struct pm_log_options o = opts_utc();
    struct pm_logentry e;
    char buf[1024];
    int seen[3] = {0};
    for (size_t i = 0; i < 4000; i++) {
        size_t n = rnd() % 400;
        for (size_t k = 0; k < n; k++) {
            /* bias towards the bytes the parsers look at */
            static const char hot[] = "[]:<>=() .-/@0123456789\r\n\t\"\\";
            uint64_t r = rnd();
            buf[k] = (r & 3) ? (char)(r >> 8) : hot[(r >> 8) % (sizeof(hot) - 1)];
        }
        int r = parse_n(buf, n, &o, &e);
        check_sane(r, &e, "random", i);
        seen[r + 1]++;
    }
    for (size_t i = 0; i < 6000; i++) {
        const char *s = seeds[i % PM_ARRAY_LEN(seeds)];
        size_t n = strlen(s);
        memcpy(buf, s, n);
        int muts = 1 + (int)(rnd() % 4);
        for (int m = 0; m < muts; m++) {
            uint64_t r = rnd();
            size_t pos = n ? (size_t)(r % n) : 0;
            switch ((r >> 32) % 4) {
            case 0: /* replace */
                if (n) {
                    buf[pos] = (char)(r >> 40);
                }
                break;
            case 1: /* delete */
                if (n) {
                    memmove(buf + pos, buf + pos + 1, n - pos - 1);
                    n--;
                }
                break;
            case 2: /* insert a structural byte */
                if (n < sizeof(buf) - 1) {
                    memmove(buf + pos + 1, buf + pos, n - pos);
                    buf[pos] = "[]:( )\0"[(r >> 40) % 7];
                    n++;
                }
                break;
            default: /* truncate */
                n = pos;
                break;
            }
        }
        int r = parse_n(buf, n, &o, &e);
        check_sane(r, &e, "mutated", i);
        seen[r + 1]++;
    }
    /* the mutations must exercise all three outcomes, or this test proves little */
    cr_assert_gt(seen[0], 100, "unparseable %d", seen[0]);
    cr_assert_gt(seen[1], 100, "ignored %d", seen[1]);
    cr_assert_gt(seen[2], 100, "parsed %d", seen[2]);
}

/* ---- loader ---- */

static struct pm_logset load_one(const char *path, const struct pm_log_options *o, int want)
{
    struct pm_logset set;
    memset(&set, 0, sizeof(set));
    cr_assert_eq(pm_logset_load(&set, path, o), want, "%s", path);
    return set;
}

static bool has_line(const struct pm_logset *set, uint32_t file, uint32_t line)
{
    for (size_t i = 0; i < set->n; i++) {
        if (set->e[i].file == file && set->e[i].line == line) {
            return true;
        }
    }
    return false;
}

/* The entry of FILE:LINE, by value (the test fails when there is none). */
static struct pm_logentry by_line(const struct pm_logset *set, uint32_t file, uint32_t line)
{
    struct pm_logentry none;
    memset(&none, 0, sizeof(none));
    for (size_t i = 0; i < set->n; i++) {
        if (set->e[i].file == file && set->e[i].line == line) {
            return set->e[i];
        }
    }
    cr_assert_fail("no entry for %u:%u", file, line);
    return none;
}

Test(mtalog_load, postfix_counts_merges_and_queue_ids)
{
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one(DATA "postfix-maillog", &o, 0);
    cr_assert_eq(set.nfiles, 1);
    const struct pm_logfile_stats *st = &set.files[0];
    cr_assert_str_eq(st->path, DATA "postfix-maillog");
    cr_assert_eq(st->mta, PM_MTA_POSTFIX);
    cr_assert_str_eq(st->format, "syslog");
    cr_assert_eq(st->lines, 22);
    cr_assert_eq(st->parsed, 14);
    cr_assert_eq(st->ignored, 7);
    cr_assert_eq(st->unparseable, 1);
    cr_assert_eq(st->no_attempt, 1);
    cr_assert_eq(st->merged, 2, "both recipients' status lines repeat line 7");
    cr_assert_eq(st->damaged, false);
    cr_assert_eq(set.n, 12);

    /* line 6: an earlier MX of the same delivery learns the queue id and domain */
    struct pm_logentry e = by_line(&set, 0, 6);
    cr_assert_str_eq(e.queue_id, "80AE0C1626C");
    cr_assert_str_eq(e.domain, "v4.example");
    cr_assert_eq(e.err, PM_EC_TIMEDOUT);
    /* line 7 absorbed lines 8 and 9 */
    e = by_line(&set, 0, 7);
    cr_assert_str_eq(e.queue_id, "80AE0C1626C");
    cr_assert_eq(e.conn_delay_ms, 5000);
    cr_assert_eq(e.from_status, 0);
    cr_assert(!has_line(&set, 0, 8));
    cr_assert(!has_line(&set, 0, 9));
    /* line 10: the last address fails only in the status line: it is the attempt */
    e = by_line(&set, 0, 10);
    cr_assert_eq(e.from_status, 1);
    cr_assert_eq(e.kind, PM_LK_CONNECT_FAIL);
    /* lines 12/13: 15 s apart, not the same attempt; 12 still learns the queue id */
    e = by_line(&set, 0, 12);
    cr_assert_str_eq(e.queue_id, "1C47CC1638D");
    cr_assert(has_line(&set, 0, 13));
    /* line 14: the error transport */
    e = by_line(&set, 0, 14);
    cr_assert_eq(e.kind, PM_LK_NO_ATTEMPT);
    /* lines 15/16: other pids, not merged */
    cr_assert(has_line(&set, 0, 15));
    cr_assert_str_eq(by_line(&set, 0, 15).queue_id, "");
    cr_assert(has_line(&set, 0, 16));
    /* line 18: the bind failure belongs to the delivery of line 19 */
    e = by_line(&set, 0, 18);
    cr_assert_eq(e.kind, PM_LK_BIND_FAIL);
    cr_assert_str_eq(e.queue_id, "E1E2E3E4E5");
    e = by_line(&set, 0, 19);
    cr_assert_eq(e.kind, PM_LK_DELIVERED);
    pm_logset_free(&set);
    cr_assert_eq(set.n, 0);
    cr_assert_null(set.e);
}

Test(mtalog_load, exim_defer_lines_merge_into_host_lines)
{
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one(DATA "exim-mainlog", &o, 0);
    const struct pm_logfile_stats *st = &set.files[0];
    cr_assert_eq(st->mta, PM_MTA_EXIM);
    cr_assert_str_eq(st->format, "exim");
    cr_assert_eq(st->lines, 14);
    cr_assert_eq(st->parsed, 10);
    cr_assert_eq(st->ignored, 3);
    cr_assert_eq(st->unparseable, 1);
    cr_assert_eq(st->merged, 3);
    cr_assert_eq(st->no_attempt, 1);
    cr_assert_eq(set.n, 7);
    /* the == line names mx2, so it merges into line 3, not line 2 */
    cr_assert(!has_line(&set, 0, 4));
    cr_assert(!has_line(&set, 0, 6));
    cr_assert(!has_line(&set, 0, 9));
    struct pm_logentry e = by_line(&set, 0, 3);
    cr_assert_str_eq(e.domain, "example.net");
    cr_assert_str_eq(addr_s(&e), "203.0.113.11");
    cr_assert_str_eq(by_line(&set, 0, 2).domain, "example.net");
    cr_assert_eq(by_line(&set, 0, 5).kind, PM_LK_GREETING_TIMEOUT);
    cr_assert_eq(by_line(&set, 0, 7).kind, PM_LK_NO_ATTEMPT);
    cr_assert_eq(by_line(&set, 0, 8).kind, PM_LK_GREETING_LOST);
    /* a defer with no host line before it stands alone */
    e = by_line(&set, 0, 10);
    cr_assert_eq(e.from_status, 1);
    cr_assert_eq(e.err, PM_EC_NETUNREACH);
    cr_assert_eq(by_line(&set, 0, 11).kind, PM_LK_DELIVERED);
    pm_logset_free(&set);
}

Test(mtalog_load, sendmail_duplicates_merge)
{
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one(DATA "sendmail-maillog", &o, 0);
    const struct pm_logfile_stats *st = &set.files[0];
    cr_assert_eq(st->mta, PM_MTA_SENDMAIL);
    cr_assert_eq(st->lines, 9);
    cr_assert_eq(st->parsed, 6);
    cr_assert_eq(st->ignored, 2);
    cr_assert_eq(st->unparseable, 1);
    cr_assert_eq(st->merged, 2);
    cr_assert_eq(set.n, 4);
    cr_assert(!has_line(&set, 0, 3), "second recipient, same attempt");
    cr_assert(!has_line(&set, 0, 5));
    struct pm_logentry e = by_line(&set, 0, 4);
    cr_assert_eq(e.kind, PM_LK_GREETING_TIMEOUT);
    cr_assert_str_eq(addr_s(&e), "203.0.113.10", "the stat= line gave the address");
    cr_assert_str_eq(e.domain, "example.net");
    pm_logset_free(&set);
}

Test(mtalog_load, formats_are_detected)
{
    struct pm_log_options o = opts_utc();
    static const struct {
        const char *file, *fmt;
        uint64_t parsed;
    } cases[] = {
        {DATA "rfc5424.log", "rfc5424", 2},
        {DATA "iso8601.log", "iso8601", 2},
        {DATA "syslog-precise.log", "syslog-precise", 2},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(cases); i++) {
        struct pm_logset set = load_one(cases[i].file, &o, 0);
        cr_assert_str_eq(set.files[0].format, cases[i].fmt);
        cr_assert_eq(set.files[0].parsed, cases[i].parsed, "%s", cases[i].file);
        cr_assert_eq(set.files[0].mta, PM_MTA_POSTFIX);
        pm_logset_free(&set);
    }
}

/* A scratch directory, removed with its files at the end of the test. */
static char scratch[64];

static void scratch_make(void)
{
    snprintf(scratch, sizeof(scratch), "/tmp/pm-mtalog-XXXXXX");
    cr_assert_not_null(mkdtemp(scratch));
}

static void scratch_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", scratch, name);
}

static void scratch_remove(void)
{
    DIR *d = opendir(scratch);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] != '.') {
            char p[512];
            snprintf(p, sizeof(p), "%s/%s", scratch, de->d_name);
            unlink(p);
        }
    }
    closedir(d);
    rmdir(scratch);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    char *buf = malloc(1 << 16);
    cr_assert_not_null(buf);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

Test(mtalog_load, gzip_plain_and_crlf_give_the_same_entries)
{
    scratch_make();
    size_t n;
    char *plain = read_all(DATA "postfix-maillog", &n);
    char gzpath[256], crlfpath[256];
    scratch_path(gzpath, sizeof(gzpath), "maillog.1.gz");
    gzFile gz = gzopen(gzpath, "wb9");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, plain, (unsigned)n), (int)n);
    gzclose(gz);

    /* CRLF line ends */
    char *crlf = malloc(2 * n + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (plain[i] == '\n') {
            crlf[m++] = '\r';
        }
        crlf[m++] = plain[i];
    }
    scratch_path(crlfpath, sizeof(crlfpath), "maillog.crlf");
    write_file(crlfpath, crlf, m);

    struct pm_log_options o = opts_utc();
    struct pm_logset a = load_one(DATA "postfix-maillog", &o, 0);
    struct pm_logset b = load_one(gzpath, &o, 0);
    struct pm_logset c = load_one(crlfpath, &o, 0);
    cr_assert_eq(a.n, 12);
    cr_assert_eq(b.n, a.n);
    cr_assert_eq(c.n, a.n);
    cr_assert_eq(b.files[0].parsed, a.files[0].parsed);
    cr_assert_eq(c.files[0].unparseable, a.files[0].unparseable);
    for (size_t i = 0; i < a.n; i++) {
        cr_assert_eq(a.e[i].ts, b.e[i].ts);
        cr_assert_eq(a.e[i].kind, b.e[i].kind);
        cr_assert_str_eq(a.e[i].text, b.e[i].text);
        cr_assert_str_eq(a.e[i].text, c.e[i].text);
        cr_assert_str_eq(a.e[i].queue_id, c.e[i].queue_id);
    }
    pm_logset_free(&a);
    pm_logset_free(&b);
    pm_logset_free(&c);
    free(plain);
    free(crlf);
    scratch_remove();
}

Test(mtalog_load, truncated_gzip_is_partial_not_fatal)
{
    scratch_make();
    /* enough distinct lines that the compressed stream is long */
    char line[160];
    char gzpath[256], cutpath[256];
    scratch_path(gzpath, sizeof(gzpath), "full.gz");
    gzFile gz = gzopen(gzpath, "wb1");
    cr_assert_not_null(gz);
    for (int i = 0; i < 3000; i++) {
        int len = snprintf(line, sizeof(line),
                           "Nov 28 18:%02d:%02d mx postfix/smtp[%d]: connect to "
                           "a%d.example[10.%d.%d.%d]:25: Connection refused\n",
                           (i / 60) % 60, i % 60, 1000 + i, i, i % 250, (i * 7) % 250, i % 199);
        gzwrite(gz, line, (unsigned)len);
    }
    gzclose(gz);
    size_t n;
    char *all = read_all(gzpath, &n);
    scratch_path(cutpath, sizeof(cutpath), "cut.gz");
    write_file(cutpath, all, n / 2);
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one(cutpath, &o, 0);
    cr_assert(set.files[0].damaged);
    cr_assert_gt(set.n, 100, "the lines before the cut are kept");
    cr_assert_lt(set.n, 3000);
    pm_logset_free(&set);
    free(all);
    scratch_remove();
}

/* Issue 19: --mta-log /dev/zero read forever (one endless "overlong line"). A device is
 * refused outright; a file or stream that runs on without a newline stops at the bound. */
Test(mtalog_load, devices_are_refused, .timeout = 20)
{
    struct pm_logset set;
    memset(&set, 0, sizeof(set));
    struct pm_log_options o = opts_utc();
    cr_assert_eq(pm_logset_load(&set, "/dev/zero", &o), PM_EXIT_USAGE);
    cr_assert_eq(pm_logset_load(&set, "/dev/urandom", &o), PM_EXIT_USAGE);
    pm_logset_free(&set);
}

Test(mtalog_load, no_newline_for_a_megabyte_ends_the_file, .timeout = 20)
{
    scratch_make();
    char path[256];
    const char *good = "Nov 28 18:32:49 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                       "Connection refused\n";
    size_t gl = strlen(good), zeros = (size_t)3 << 20;
    char *buf = calloc(1, 2 * gl + zeros);
    cr_assert_not_null(buf);
    memcpy(buf, good, gl);
    memcpy(buf + gl + zeros, good, gl); /* past the bound: never reached */
    /* lines, then zeros: what came before is kept, the file is partial */
    scratch_path(path, sizeof(path), "zeros.log");
    write_file(path, buf, 2 * gl + zeros);
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one(path, &o, 0);
    cr_assert(set.files[0].damaged);
    cr_assert_eq(set.files[0].lines, 1, "the endless run is not counted as a line");
    cr_assert_eq(set.n, 1);
    pm_logset_free(&set);
    /* zeros from the first byte: not a text log (exit 3), gzip-compressed the same */
    scratch_path(path, sizeof(path), "zeros.gz");
    gzFile gz = gzopen(path, "wb9");
    cr_assert_not_null(gz);
    gzwrite(gz, buf + gl, (unsigned)zeros);
    gzclose(gz);
    memset(&set, 0, sizeof(set));
    cr_assert_eq(pm_logset_load(&set, path, &o), PM_EXIT_UNREADABLE);
    pm_logset_free(&set);
    free(buf);
    scratch_remove();
}

Test(mtalog_load, overlong_lines_are_skipped_to_the_next_newline)
{
    scratch_make();
    char path[256];
    scratch_path(path, sizeof(path), "long.log");
    size_t big = 20000;
    const char *good = "Nov 28 18:32:49 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: "
                       "Connection refused\n";
    size_t gl = strlen(good);
    char *buf = malloc(big + 3 * gl);
    memcpy(buf, good, gl);
    memcpy(buf + gl, good, gl - 1);           /* a good start ... */
    memset(buf + 2 * gl - 1, 'z', big);       /* ... that runs on for 20 KB */
    buf[2 * gl - 1 + big] = '\n';
    memcpy(buf + 2 * gl + big, good, gl - 1); /* last line without a newline */
    write_file(path, buf, 3 * gl - 1 + big);
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one(path, &o, 0);
    cr_assert_eq(set.files[0].lines, 3);
    cr_assert_eq(set.files[0].parsed, 2);
    cr_assert_eq(set.files[0].unparseable, 1);
    cr_assert_eq(set.n, 2);
    cr_assert_eq(set.e[1].line, 3);
    pm_logset_free(&set);
    free(buf);
    scratch_remove();
}

Test(mtalog_load, unreadable_inputs_and_bad_zone)
{
    struct pm_logset set;
    memset(&set, 0, sizeof(set));
    cr_assert_eq(pm_logset_load(&set, "/nonexistent/mail.log", NULL), PM_EXIT_UNREADABLE);
    cr_assert_eq(pm_logset_load(&set, "tests/data/mtalog", NULL), PM_EXIT_UNREADABLE);
    cr_assert_eq(set.nfiles, 0);
    struct pm_log_options o = {.tz = "Mars/Olympus_Mons"};
    cr_assert_eq(pm_logset_load(&set, DATA "postfix-maillog", &o), PM_EXIT_USAGE);
    cr_assert_eq(set.n, 0);
    pm_logset_free(&set);
}

Test(mtalog_load, entry_cap_counts_the_rest)
{
    struct pm_log_options o = opts_utc();
    o.max_entries = 3;
    struct pm_logset set = load_one(DATA "postfix-maillog", &o, 0);
    cr_assert_eq(set.n, 3);
    cr_assert_gt(set.dropped, 0);
    cr_assert_eq(set.n + set.dropped + set.files[0].merged, set.files[0].parsed);
    pm_logset_free(&set);
}

Test(mtalog_load, standard_input)
{
    cr_assert_not_null(freopen(DATA "exim-mainlog", "r", stdin));
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one("-", &o, 0);
    cr_assert_str_eq(set.files[0].path, "-");
    cr_assert_eq(set.files[0].mta, PM_MTA_EXIM);
    cr_assert_eq(set.n, 7);
    pm_logset_free(&set);
}

Test(mtalog_load, several_files_then_sorted_by_time)
{
    scratch_make();
    char path[256];
    scratch_path(path, sizeof(path), "order.log");
    const char *text =
        "Nov 28 18:40:00 mx postfix/smtp[1]: connect to a[192.0.2.1]:25: Connection refused\n"
        "postfix/smtp[2]: connect to b[192.0.2.2]:25: Connection refused\n"
        "Nov 28 18:30:00 mx postfix/smtp[3]: connect to c[192.0.2.3]:25: Connection refused\n"
        "Nov 28 18:30:00 mx postfix/smtp[4]: connect to d[192.0.2.4]:25: Connection refused\n";
    write_file(path, text, strlen(text));
    struct pm_log_options o = opts_utc();
    struct pm_logset set;
    memset(&set, 0, sizeof(set));
    cr_assert_eq(pm_logset_load(&set, path, &o), 0);
    cr_assert_eq(pm_logset_load(&set, DATA "iso8601.log", &o), 0);
    cr_assert_eq(set.nfiles, 2);
    pm_logset_finish(&set);
    cr_assert_eq(set.n, 6);
    for (size_t i = 1; i < set.n; i++) {
        if (set.e[i].ts != PM_NS_NONE) {
            cr_assert_leq(set.e[i - 1].ts, set.e[i].ts);
        }
    }
    cr_assert_eq(set.e[set.n - 1].ts, PM_NS_NONE, "no time sorts last");
    cr_assert_str_eq(set.e[set.n - 1].host, "b");
    /* equal times keep file order */
    cr_assert_str_eq(set.e[0].host, "c");
    cr_assert_str_eq(set.e[1].host, "d");
    cr_assert_eq(set.e[2].file, 1);
    pm_logset_free(&set);
    scratch_remove();
}

Test(mtalog_load, no_mta_lines_is_said)
{
    scratch_make();
    char path[256];
    scratch_path(path, sizeof(path), "auth.log");
    static const char text[] = "Nov 28 18:40:00 mx sshd[1]: Accepted publickey for root\n"
                               "\x89PNG\r\n\x1a\n\x00\x01\x02\n";
    write_file(path, text, sizeof(text) - 1);
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one(path, &o, 0);
    cr_assert_eq(set.files[0].mta, PM_MTA_UNKNOWN);
    cr_assert_eq(set.files[0].parsed, 0);
    cr_assert_eq(set.n, 0);
    pm_logset_free(&set);
    scratch_remove();
}

/* Real output of the lab (Postfix 3.7.11 and Exim 4.96 on Debian 12, one scenario after the
 * other, recorded on this machine): nothing unparseable, the kinds the scenarios provoke,
 * and every status line merged into the per-address line Postfix logged before it. */
Test(mtalog_load, lab_recorded_postfix_log)
{
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one(DATA "postfix-lab-maillog", &o, 0);
    const struct pm_logfile_stats *st = &set.files[0];
    cr_assert_eq(st->lines, 258);
    cr_assert_eq(st->unparseable, 0);
    cr_assert_eq(st->parsed, 72);
    cr_assert_eq(st->merged, 17);
    cr_assert_str_eq(st->format, "syslog");
    uint64_t kinds[PM_LK__COUNT] = {0}, errs[PM_EC__COUNT] = {0};
    for (size_t i = 0; i < set.n; i++) {
        kinds[set.e[i].kind]++;
        errs[set.e[i].err]++;
        if (set.e[i].kind != PM_LK_DELIVERED) {
            cr_assert_eq(set.e[i].from_status, 0, "line %u kept its status line", set.e[i].line);
        }
        cr_assert_neq(set.e[i].queue_id[0], '\0', "line %u has no queue id", set.e[i].line);
    }
    cr_assert_eq(kinds[PM_LK_CONNECT_FAIL], 39);
    cr_assert_eq(kinds[PM_LK_DELIVERED], 13);
    cr_assert_eq(kinds[PM_LK_GREETING_TIMEOUT], 1);
    cr_assert_eq(kinds[PM_LK_SMTP_REJECT], 2);
    cr_assert_eq(errs[PM_EC_REFUSED], 13);
    cr_assert_eq(errs[PM_EC_HOSTUNREACH], 8);
    cr_assert_eq(errs[PM_EC_TIMEDOUT], 9);
    cr_assert_eq(errs[PM_EC_ACCES], 6);
    cr_assert_eq(errs[PM_EC_NETUNREACH], 4);
    pm_logset_free(&set);
}

Test(mtalog_load, lab_recorded_exim_log)
{
    struct pm_log_options o = opts_utc();
    struct pm_logset set = load_one(DATA "exim-lab-mainlog", &o, 0);
    const struct pm_logfile_stats *st = &set.files[0];
    cr_assert_eq(st->mta, PM_MTA_EXIM);
    cr_assert_eq(st->lines, 20);
    cr_assert_eq(st->unparseable, 0);
    cr_assert_eq(st->parsed, 10);
    cr_assert_eq(st->merged, 2);
    cr_assert_eq(set.n, 8);
    uint64_t kinds[PM_LK__COUNT] = {0};
    for (size_t i = 0; i < set.n; i++) {
        kinds[set.e[i].kind]++;
    }
    /* Exim's TCP Fast Open connect returns at once: a silent drop reads as a greeting
     * timeout and an ICMP host-unreachable as "NAME [IP]: No route to host" */
    cr_assert_eq(kinds[PM_LK_GREETING_TIMEOUT], 3);
    cr_assert_eq(kinds[PM_LK_CONNECT_FAIL], 3);
    cr_assert_eq(kinds[PM_LK_DELIVERED], 2);
    pm_logset_free(&set);
}

/* Every line the lab's Postfix (and Exim) wrote parses or is ignorable, and every row of
 * the scenario's truth.json that names an MTA error finds its entry: the destination address
 * and port, and the error text (or a delivery for "status=sent" / Exim's "=>").
 * pcaps/lab/ is recorded by `make lab`; the test skips when it is absent. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *buf = calloc(1, 1 << 20);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The string value after `key` (e.g. "\"dst\": \"") at or after p, before `stop`. */
static bool json_str(const char *p, const char *stop, const char *key, char *out, size_t n)
{
    const char *k = strstr(p, key);
    if (!k || (stop && k > stop)) {
        return false;
    }
    k += strlen(key);
    const char *q = strchr(k, '"');
    if (!q || (size_t)(q - k) >= n) {
        return false;
    }
    memcpy(out, k, (size_t)(q - k));
    out[q - k] = '\0';
    return true;
}

static int check_truth(const char *dir, const char *log, const struct pm_logset *set)
{
    char path[600];
    snprintf(path, sizeof(path), "pcaps/lab/%s/truth.json", dir);
    char *truth = slurp(path);
    if (!truth) {
        return 0;
    }
    int rows = 0;
    for (const char *p = strstr(truth, "\"dst\": \""); p; p = strstr(p + 1, "\"dst\": \"")) {
        const char *next = strstr(p + 1, "\"dst\": \"");
        char dst[64], err[128];
        const char *dp = strstr(p, "\"dport\": ");
        if (!json_str(p, NULL, "\"dst\": \"", dst, sizeof(dst)) || !dp ||
            !json_str(p, next, "\"mta_error\": \"", err, sizeof(err))) {
            continue;
        }
        long dport = strtol(dp + 9, NULL, 10);
        pm_addr want;
        cr_assert(pm_addr_parse(dst, &want), "%s: dst %s", path, dst);
        bool delivered = !strcmp(err, "status=sent") || !strcmp(err, "=>");
        bool found = false;
        for (size_t i = 0; i < set->n && !found; i++) {
            const struct pm_logentry *e = &set->e[i];
            if (!pm_addr_eq(&e->addr, &want) || (e->port && e->port != dport)) {
                continue;
            }
            found = delivered ? e->kind == PM_LK_DELIVERED
                              : is_attempt(e) && e->kind != PM_LK_DELIVERED &&
                                    strstr(e->text, err) != NULL;
        }
        cr_expect(found, "%s/%s: no entry for %s:%ld with \"%s\"", dir, log, dst, dport, err);
        rows++;
    }
    free(truth);
    return rows;
}

Test(mtalog_lab, every_lab_log_line_is_understood)
{
    DIR *d = opendir("pcaps/lab");
    if (!d) {
        cr_skip_test("pcaps/lab/ not recorded (make lab)");
    }
    struct pm_log_options o = {.tz = NULL, .ref_time = PM_NS_NONE};
    int files = 0, rows = 0;
    uint64_t kinds[PM_LK__COUNT] = {0};
    struct dirent *de;
    while ((de = readdir(d))) {
        static const char *const names[] = {"maillog", "exim-mainlog"};
        for (size_t k = 0; k < PM_ARRAY_LEN(names); k++) {
            char path[600];
            snprintf(path, sizeof(path), "pcaps/lab/%s/%s", de->d_name, names[k]);
            FILE *f = fopen(path, "r");
            if (!f) {
                continue;
            }
            files++;
            char line[8192];
            unsigned no = 0;
            while (fgets(line, sizeof(line), f)) {
                no++;
                struct pm_logentry e;
                int r = pm_log_parse_line(line, strlen(line), &o, &e);
                cr_expect_neq(r, -1, "%s:%u does not parse: %s", path, no, line);
                if (r == 1) {
                    kinds[e.kind]++;
                }
            }
            fclose(f);
            struct pm_logset set = load_one(path, &o, 0);
            cr_expect_eq(set.files[0].unparseable, 0, "%s", path);
            rows += check_truth(de->d_name, names[k], &set);
            pm_logset_free(&set);
        }
    }
    closedir(d);
    if (files == 0) {
        cr_skip_test("no maillog under pcaps/lab/*/");
    }
    cr_assert_gt(kinds[PM_LK_CONNECT_FAIL], 0, "the lab provokes connect failures");
    cr_assert_gt(kinds[PM_LK_DELIVERED], 0, "and deliveries");
    cr_assert_gt(rows, 0, "truth.json rows with an MTA error were checked");
}

/* Issue 14 item 1: the stamp's resolution and the lines that say when a message was queued
 * (no connection for it can start earlier). */
Test(mtalog_window, stamp_resolution_is_the_digits_written)
{
    struct pm_logentry e;
    cr_assert_eq(parse(PF "connect to mx[192.0.2.1]:25: Connection refused", &e), 1);
    cr_assert_eq(e.ts_digits, 0);
    cr_assert_eq(pm_logentry_resolution(&e), PM_SEC(1), "classic syslog: whole seconds");
    cr_assert_eq(parse("2026-11-28T18:32:49.123456+00:00 sender postfix/smtp[1]: connect to "
                       "mx[192.0.2.1]:25: Connection refused", &e), 1);
    cr_assert_eq(e.ts_digits, 6);
    cr_assert_eq(pm_logentry_resolution(&e), PM_NS_PER_SEC / 1000000);
    cr_assert_eq(parse("2025-01-01 10:00:00.123 1tAbCd-000123-AB H=mx [192.0.2.1]: Connection "
                       "refused", &e), 1);
    cr_assert_eq(e.ts_digits, 3, "Exim +millisec");
}

Test(mtalog_window, queue_entries_are_anchors_not_attempts)
{
    struct pm_logentry e;
    cr_assert_eq(parse("Nov 28 18:32:41 sender postfix/qmgr[4996]: 80AE0C1626C: "
                       "from=<root@sender.example>, size=300, nrcpt=1 (queue active)", &e), 0);
    cr_assert_eq(e.queued, 1);
    cr_assert_str_eq(e.queue_id, "80AE0C1626C");
    cr_assert_neq(e.ts, PM_NS_NONE);
    cr_assert_eq(parse("Nov 28 18:32:41 sender postfix/qmgr[4996]: 80AE0C1626C: removed", &e), 0);
    cr_assert_eq(e.queued, 0);
    cr_assert_eq(parse("2026-11-28 19:21:49 1xXNzZ-000211-0P <= sender@sender.example U=root "
                       "P=local S=366", &e), 0);
    cr_assert_eq(e.queued, 1);
    cr_assert_str_eq(e.queue_id, "1xXNzZ-000211-0P");
    cr_assert_eq(parse("Nov 28 18:32:41 sender sendmail[77]: 4ASIWfXa012345: from=<a@b>, size=1, "
                       "class=0, nrcpts=1, msgid=<x@y>, proto=ESMTP, relay=localhost", &e), 0);
    cr_assert_eq(e.queued, 1);
    cr_assert_str_eq(e.queue_id, "4ASIWfXa012345");
    /* an anchor needs its time */
    cr_assert_eq(parse("postfix/qmgr[4996]: 80AE0C1626C: from=<a@b>, size=1, nrcpt=1 "
                       "(queue active)", &e), 0);
    cr_assert_eq(e.queued, 0);
}

/* ---- live and offline agree (issue 17.2) ---- */

/* The lines of a log fed one by one as a live capture's follower feeds them (parsed by
 * pm_log_parse_line, then pm_logset_feed: the path of capture/follow.c through
 * pm_engine_log_entry) give the same entries as the file loaded whole: the same status
 * lines merged into the same per-address lines, so the correlator and the verdicts see
 * the same log either way. */
static void live_and_offline_agree(const char *path, uint64_t want_merged)
{
    struct pm_log_options o = opts_utc();
    o.ref_time = at("2026-01-01T00:00:00Z"); /* the file loader's "now", fixed for both */
    struct pm_logset file = load_one(path, &o, 0);
    struct pm_logset live;
    memset(&live, 0, sizeof(live));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char buf[PM_LOG_LINE_MAX];
    uint32_t line = 0;
    while (fgets(buf, sizeof(buf), f)) {
        size_t n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            n--;
        }
        line++;
        struct pm_logentry le;
        memset(&le, 0, sizeof(le));
        int rc = pm_log_parse_line(buf, n, &o, &le);
        le.line = line;
        if (rc == 1) {
            pm_logset_feed(&live, path, &o, &le);
        } else if (rc == 0 && le.queued) {
            pm_logset_add_anchor(&live, &le);
        }
    }
    fclose(f);
    pm_logset_finish(&file);
    pm_logset_finish(&live);
    cr_assert_eq(live.nfiles, 1);
    cr_assert_eq(file.files[0].merged, want_merged, "%s: merged %llu", path,
                 (unsigned long long)file.files[0].merged);
    cr_assert_eq(live.files[0].merged, file.files[0].merged, "%s", path);
    cr_assert_eq(live.files[0].parsed, file.files[0].parsed, "%s", path);
    cr_assert_eq(live.nanchors, file.nanchors, "%s", path);
    cr_assert_eq(live.n, file.n, "%s: %zu live entries, %zu from the file", path, live.n,
                 file.n);
    for (size_t i = 0; i < file.n; i++) {
        const struct pm_logentry *a = &file.e[i], *b = &live.e[i];
        cr_assert_eq(a->line, b->line, "%s entry %zu", path, i);
        cr_assert_eq(a->ts, b->ts, "%s line %u", path, a->line);
        cr_assert_eq(a->kind, b->kind, "%s line %u", path, a->line);
        cr_assert_eq(a->err, b->err, "%s line %u", path, a->line);
        cr_assert(pm_addr_eq(&a->addr, &b->addr), "%s line %u", path, a->line);
        cr_assert_eq(a->port, b->port, "%s line %u", path, a->line);
        cr_assert_eq(a->conn_delay_ms, b->conn_delay_ms, "%s line %u", path, a->line);
        cr_assert_str_eq(a->queue_id, b->queue_id, "%s line %u", path, a->line);
        cr_assert_str_eq(a->domain, b->domain, "%s line %u", path, a->line);
        cr_assert_str_eq(a->host, b->host, "%s line %u", path, a->line);
    }
    pm_logset_free(&file);
    pm_logset_free(&live);
}

Test(mtalog_load, live_lines_merge_as_a_postfix_file_does)
{
    live_and_offline_agree(DATA "postfix-lab-maillog", 17);
}

Test(mtalog_load, live_lines_merge_as_an_exim_file_does)
{
    live_and_offline_agree(DATA "exim-lab-mainlog", 2);
}
