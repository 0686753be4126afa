/*
 * mtalog_exim.c — owns Exim 4 delivery lines, from the mainlog ("2025-01-01 10:00:00
 * [pid] MSGID ...") or from syslog ("exim[123]: ..."); the caller has taken the time off.
 * Formats: ../shared/reference/mta-log-formats.md §2; sources cited are Exim's src/src.
 *
 *   MSGID H=NAME [IP][:PORT] STRERROR                 transports/smtp.c write_logs(), no
 *   MSGID H=NAME [IP][:PORT]: MESSAGE[: STRERROR]        message / with message
 *   MSGID == RCPT R=router T=transport defer (ERRNO)[: STRERROR][ H=NAME [IP][:PORT]][: MESSAGE]
 *                                                      deliver.c deferral_log()
 *   MSGID ** RCPT ... H=NAME [IP]...: [STRERROR: ]MESSAGE   deliver.c failure_log()
 *   MSGID => RCPT R=... T=... H=NAME [IP][:PORT] ...     deliver.c delivery_log()
 *
 * The per-host H= line is the attempt; the == line summarises the address and is merged
 * into it by the loader (mtalog.c). ERRNO is Linux's errno, or one of Exim's own negative
 * codes (src/src/macros.h): -18 ERRNO_SMTPCLOSED, and the retry codes at or below
 * ERRNO_RETRY_BASE (-52) such as -54 ERRNO_HRETRY "retry time not reached for any host",
 * which are logged only with log_selector +retry_defer and stand for no attempt at all.
 *
 * Caveat seen in the lab (Exim 4.96): with TCP Fast Open (hosts_try_fastopen, default on)
 * connect() returns before the handshake, so SYNs that are never answered end as "SMTP
 * timeout after initial connection" — the same text as a server that accepted and stayed
 * silent. The kind says GREETING_TIMEOUT; only the packets tell the two apart.
 */
#include "mtalog_int.h"

#include "util.h"

#define EXIM_ERRNO_SMTPCLOSED (-18)
#define EXIM_ERRNO_RETRY_BASE (-52)

/* "NAME [IP]" or "[IP]", then ":PORT" when log_selector has +outgoing_port. Returns 1 and
 * advances *s; 0 for the inbound form "(helo) [IP]" / "name (helo) [IP]"; -1 when broken. */
static int endpoint(pm_span *s, struct pm_logentry *e)
{
    pm_span x = *s;
    pm_span name = sp_of("", 0);
    if (!sp_starts(x, "[")) {
        ptrdiff_t sp = sp_find(x, " [");
        if (sp < 0) {
            return sp_chr(x, '(') >= 0 ? 0 : -1;
        }
        name = sp_head(x, (size_t)sp);
        if (name.n == 0 || name.p[0] == '(' || sp_chr(name, ' ') >= 0) {
            return 0;
        }
        x = sp_from(x, (size_t)sp + 1);
    }
    pm_span rest = sp_from(x, 1);
    ptrdiff_t rb = sp_chr(rest, ']');
    if (rb < 0 || !pm_mtalog_addr(sp_head(rest, (size_t)rb), &e->addr)) {
        return -1;
    }
    rest = sp_from(rest, (size_t)rb + 1);
    if (rest.n >= 2 && rest.p[0] == ':' && rest.p[1] != ' ') {
        pm_span digits = sp_from(rest, 1);
        size_t k = 0;
        while (k < digits.n && k < 8 && sp_isdigit(digits.p[k])) {
            k++;
        }
        if (!pm_mtalog_port(sp_head(digits, k), &e->port)) {
            return -1;
        }
        rest = sp_from(digits, k);
    }
    pm_mtalog_copy(e->host, sizeof(e->host), name);
    *s = rest;
    return 1;
}

static bool initial(pm_span phase)
{
    return sp_starts(phase, "initial connection");
}

/* smtp.c check_response(): "SMTP timeout after COMMAND" (command_timeout; the greeting
 * wait is "initial connection"). */
static int m_timeout(pm_span rest, struct pm_logentry *e)
{
    e->kind = initial(rest) ? PM_LK_GREETING_TIMEOUT : PM_LK_LOST_LATER;
    e->err = PM_EC_TIMEDOUT;
    return 1;
}

/* smtp.c: EOF or ECONNRESET become ERRNO_SMTPCLOSED with this text. */
static int m_closed(pm_span rest, struct pm_logentry *e)
{
    e->kind = initial(rest) ? PM_LK_GREETING_LOST : PM_LK_LOST_LATER;
    e->err = PM_EC_NONE;
    return 1;
}

/* "SMTP error from remote mail server after COMMAND: CODE text"; COMMAND may hold ':'
 * ("RCPT TO:<a@b>"), so the code is the first ": [2-5]xx " after it. */
static int m_smtp_error(pm_span rest, struct pm_logentry *e)
{
    pm_span x = rest;
    for (;;) {
        ptrdiff_t c = sp_find(x, ": ");
        if (c < 0) {
            return -1;
        }
        x = sp_from(x, (size_t)c + 2);
        pm_span d = x;
        uint64_t code;
        if (sp_uint(&d, 3, &code) && code >= 200 && code <= 599 &&
            (d.n == 0 || d.p[0] == ' ' || d.p[0] == '-')) {
            e->kind = PM_LK_SMTP_REJECT;
            e->err = PM_EC_NONE;
            e->smtp_code = (int16_t)code;
            return 1;
        }
    }
}

static int m_no_attempt(pm_span rest, struct pm_logentry *e)
{
    (void)rest;
    e->kind = PM_LK_NO_ATTEMPT;
    e->err = PM_EC_NONE;
    return 1;
}

/* The MESSAGE part of H=, == and ** lines. */
static const struct {
    const char *prefix;
    int (*parse)(pm_span rest, struct pm_logentry *e);
} ex_messages[] = {
    {"SMTP timeout after ", m_timeout},
    {"Remote host closed connection in response to ", m_closed},
    {"SMTP error from remote mail server after ", m_smtp_error},
    {"retry time not reached", m_no_attempt},
    {"all hosts", m_no_attempt}, /* checked below: "... have been failing for a long time" */
};

static bool retry_text(pm_span s)
{
    return sp_find(s, "retry time not reached") >= 0 ||
           sp_find(s, "have been failing for a long time") >= 0;
}

static int ex_message(pm_span m, struct pm_logentry *e)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(ex_messages); i++) {
        pm_span rest = m;
        if (!sp_eat(&rest, ex_messages[i].prefix)) {
            continue;
        }
        if (ex_messages[i].parse == m_no_attempt && !retry_text(m)) {
            return 0;
        }
        return ex_messages[i].parse(rest, e);
    }
    /* A bare errno text, or "NAME [IP]: errno text": smtp.c check_response() words a
     * failed read of the greeting that way when the error is not a close. With TCP Fast
     * Open (hosts_try_fastopen, on by default) connect() returns at once and an ICMP
     * error for the SYN only surfaces on that read, so it is a connect failure:
     * "H=mx1 [203.0.113.10]:25: mx1 [203.0.113.10]: No route to host" (lab, Exim 4.96). */
    enum pm_errclass c = pm_mtalog_errclass(m);
    if (c == PM_EC_OTHER) {
        ptrdiff_t last = -1, at;
        pm_span x = m;
        while ((at = sp_find(x, ": ")) >= 0) {
            last = (x.p - m.p) + at;
            x = sp_from(x, (size_t)at + 2);
        }
        if (last >= 0 && sp_chr(sp_head(m, (size_t)last), '[') >= 0) {
            c = pm_mtalog_errclass(sp_from(m, (size_t)last + 2));
        }
    }
    if (c == PM_EC_OTHER) {
        return 0;
    }
    e->kind = PM_LK_CONNECT_FAIL;
    e->err = (uint8_t)c;
    return 1;
}

/* "H=..." right after the message id: one failed host. */
static int ex_host(pm_span s, struct pm_logentry *e)
{
    int r = endpoint(&s, e);
    if (r <= 0) {
        return r;
    }
    if (sp_eat(&s, ": ")) {
        return ex_message(s, e);
    }
    if (!sp_eat(&s, " ") || sp_chr(s, '=') >= 0) {
        return 0; /* "H=... F=<...> rejected ...": an inbound line */
    }
    enum pm_errclass c = pm_mtalog_errclass(s);
    if (c == PM_EC_OTHER) {
        return 0;
    }
    e->kind = PM_LK_CONNECT_FAIL;
    e->err = (uint8_t)c;
    return 1;
}

/* The recipient token after "== ", "** ", "=> ": domain of the first address. */
static pm_span rcpt(pm_span s, struct pm_logentry *e)
{
    ptrdiff_t sp = sp_chr(s, ' ');
    pm_mtalog_domain(e, sp >= 0 ? sp_head(s, (size_t)sp) : s);
    return sp >= 0 ? sp_from(s, (size_t)sp + 1) : sp_of("", 0);
}

static int ex_defer(pm_span s, struct pm_logentry *e)
{
    s = rcpt(s, e);
    ptrdiff_t d = sp_find(s, "defer (");
    if (d < 0) {
        return 0;
    }
    e->from_status = 1;
    pm_mtalog_copy(e->text, sizeof(e->text), sp_from(s, (size_t)d));
    pm_span x = sp_from(s, (size_t)d + 7);
    bool neg = sp_eat(&x, "-");
    uint64_t v;
    if (!sp_uint(&x, 6, &v) || !sp_eat(&x, ")")) {
        return -1;
    }
    long err_no = neg ? -(long)v : (long)v;

    pm_span strerr = sp_of("", 0), msg = sp_of("", 0);
    if (err_no > 0 && sp_eat(&x, ": ")) {
        ptrdiff_t h = sp_find(x, " H="), c = sp_find(x, ": ");
        size_t end = x.n;
        if (h >= 0) {
            end = (size_t)h;
        }
        if (c >= 0 && (size_t)c < end) {
            end = (size_t)c;
        }
        strerr = sp_head(x, end);
        x = sp_from(x, end);
    }
    if (sp_eat(&x, " H=")) {
        if (endpoint(&x, e) != 1) {
            return -1;
        }
    }
    if (sp_eat(&x, ": ")) {
        msg = x;
    }

    if (err_no <= EXIM_ERRNO_RETRY_BASE || retry_text(msg)) {
        e->kind = PM_LK_NO_ATTEMPT;
        e->err = PM_EC_NONE;
        return 1;
    }
    if (msg.n) {
        int r = ex_message(msg, e);
        if (r != 0) {
            return r;
        }
    }
    if (err_no > 0) {
        enum pm_errclass c = pm_mtalog_errclass(strerr);
        e->kind = PM_LK_CONNECT_FAIL;
        e->err = (uint8_t)(c != PM_EC_OTHER ? c : pm_mtalog_errclass_num(err_no));
        return 1;
    }
    if (err_no == EXIM_ERRNO_SMTPCLOSED) {
        e->kind = PM_LK_LOST_LATER; /* closed; the phase was not logged */
        e->err = PM_EC_NONE;
        return 1;
    }
    return 0;
}

static int ex_fail(pm_span s, struct pm_logentry *e)
{
    s = rcpt(s, e);
    ptrdiff_t h = sp_find(s, " H=");
    if (h < 0) {
        return 0; /* routing failures: no host, no connection */
    }
    e->from_status = 1;
    pm_span x = sp_from(s, (size_t)h + 3);
    int r = endpoint(&x, e);
    if (r <= 0) {
        return r;
    }
    ptrdiff_t c = sp_find(x, ": ");
    if (c < 0) {
        return 0;
    }
    pm_span msg = sp_from(x, (size_t)c + 2);
    pm_mtalog_copy(e->text, sizeof(e->text), msg);
    r = ex_message(msg, e);
    if (r == 0) {
        /* ": STRERROR: MESSAGE" when basic_errno > 0. */
        ptrdiff_t c2 = sp_find(msg, ": ");
        if (c2 >= 0) {
            r = ex_message(sp_from(msg, (size_t)c2 + 2), e);
        }
    }
    return r;
}

static int ex_delivered(pm_span s, struct pm_logentry *e)
{
    s = rcpt(s, e);
    ptrdiff_t h = sp_find(s, " H=");
    if (h < 0) {
        return 0; /* local delivery */
    }
    pm_span x = sp_from(s, (size_t)h + 3);
    int r = endpoint(&x, e);
    if (r <= 0) {
        return r;
    }
    e->kind = PM_LK_DELIVERED;
    e->err = PM_EC_NONE;
    e->from_status = 1;
    ptrdiff_t c = sp_find(x, " C=\"");
    pm_mtalog_copy(e->text, sizeof(e->text), c >= 0 ? sp_from(x, (size_t)c + 4) : x);
    if (sp_ends(sp_of(e->text, strlen(e->text)), "\"")) {
        e->text[strlen(e->text) - 1] = '\0';
    }
    return 1;
}

static const struct {
    const char *prefix;
    int (*parse)(pm_span rest, struct pm_logentry *e);
} ex_rules[] = {
    {"H=", ex_host}, {"== ", ex_defer}, {"** ", ex_fail}, {"=> ", ex_delivered},
    {"-> ", ex_delivered},
};

/* Message id: "1tAbCd-000123-AB" (6-6-2, base62) or Exim 4.97's longer 6-11-4 form. */
static bool msgid(pm_span *s, struct pm_logentry *e)
{
    static const size_t minlen[3] = {6, 6, 2}, maxlen[3] = {6, 11, 4};
    size_t at = 0;
    for (int part = 0; part < 3; part++) {
        size_t k = 0;
        while (at + k < s->n && k <= maxlen[part] && sp_isalnum(s->p[at + k])) {
            k++;
        }
        if (k < minlen[part] || k > maxlen[part]) {
            return false;
        }
        at += k;
        if (part < 2) {
            if (at >= s->n || s->p[at] != '-') {
                return false;
            }
            at++;
        }
    }
    if (at < s->n && s->p[at] != ' ') {
        return false;
    }
    pm_mtalog_copy(e->queue_id, sizeof(e->queue_id), sp_head(*s, at));
    *s = sp_from(*s, at < s->n ? at + 1 : at);
    return true;
}

int pm_mtalog_exim(pm_span body, struct pm_logentry *e)
{
    e->mta = PM_MTA_EXIM;
    pm_span s = body;
    while (sp_eat(&s, " ")) {
    }
    /* log_selector +pid: "[1234] " before the message id (log.c log_write()). */
    if (sp_starts(s, "[")) {
        pm_span x = sp_from(s, 1);
        uint64_t v;
        if (sp_uint(&x, 10, &v) && v <= UINT32_MAX && sp_eat(&x, "] ")) {
            e->pid = (uint32_t)v;
            s = x;
        }
    }
    if (!msgid(&s, e)) {
        return 0; /* daemon, queue runner and inbound connection lines */
    }
    for (size_t i = 0; i < PM_ARRAY_LEN(ex_rules); i++) {
        pm_span rest = s;
        if (sp_eat(&rest, ex_rules[i].prefix)) {
            /* The whole line after the id; == ** => narrow it to their failure text. */
            pm_mtalog_copy(e->text, sizeof(e->text), s);
            return ex_rules[i].parse(rest, e);
        }
    }
    if (retry_text(s)) {
        pm_mtalog_copy(e->text, sizeof(e->text), s);
        return m_no_attempt(s, e);
    }
    return 0;
}

/* "ID <= SENDER ..." (a message arrived): no delivery of it can start earlier. */
bool pm_mtalog_exim_queued(pm_span body, struct pm_logentry *e)
{
    pm_span s = body;
    while (sp_eat(&s, " ")) {
    }
    if (sp_starts(s, "[")) {
        pm_span x = sp_from(s, 1);
        uint64_t v;
        if (sp_uint(&x, 10, &v) && v <= UINT32_MAX && sp_eat(&x, "] ")) {
            s = x;
        }
    }
    if (!msgid(&s, e)) {
        return false;
    }
    if (sp_starts(s, "<= ")) {
        return true;
    }
    e->queue_id[0] = '\0';
    return false;
}
