/*
 * mtalog_postfix.c — owns the Postfix delivery-agent lines (smtp(8), lmtp(8), and the
 * error(8)/retry transports that stand for no connection at all). Formats are in
 * ../shared/reference/mta-log-formats.md §1; the sources cited below are Postfix's.
 *
 * A Postfix smtp process logs one line per failed address while it still has addresses to
 * try (smtp_connect.c: msg_info("%s", STR(why->reason))), and one status line per
 * recipient when the delivery ends (global/log_adhoc.c:
 * "QID: to=<rcpt>, relay=..., delay=, delays=a/b/c/d, dsn=, status=deferred (REASON)").
 * REASON repeats the text of the last failure, so both go through the same reason table
 * below; the loader (mtalog.c) merges a status line into the per-address line it repeats.
 */
#include "mtalog_int.h"

#include "util.h"

/* Programs whose lines matter. "relay" is the stock master.cf name of a second smtp(8)
 * service; "error" and "retry" never connect (qmgr hands them throttled destinations). */
static const char *const pf_smtp_progs[] = {"smtp", "lmtp", "relay"};
static const char *const pf_error_progs[] = {"error", "retry"};

static bool prog_in(pm_span prog, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (sp_eq(prog, list[i])) {
            return true;
        }
    }
    return false;
}

bool pm_mtalog_postfix_wanted(pm_span prog)
{
    return prog_in(prog, pf_smtp_progs, PM_ARRAY_LEN(pf_smtp_progs)) ||
           prog_in(prog, pf_error_progs, PM_ARRAY_LEN(pf_error_progs));
}

/* "NAME[ADDR]" with an optional ":PORT" (smtp_connect.c "connect to %s[%s]:%d"). Returns 1
 * and advances *s; 0 when the brackets hold a unix-domain path (lmtp to a socket: no
 * network attempt); -1 when the brackets, address or port are broken. */
static int endpoint(pm_span *s, struct pm_logentry *e, bool with_port)
{
    ptrdiff_t lb = sp_chr(*s, '[');
    if (lb < 0) {
        return -1;
    }
    pm_span name = sp_head(*s, (size_t)lb);
    if (sp_chr(name, ' ') >= 0 || sp_chr(name, ']') >= 0) {
        return -1;
    }
    pm_span rest = sp_from(*s, (size_t)lb + 1);
    ptrdiff_t rb = sp_chr(rest, ']');
    if (rb < 0) {
        return -1;
    }
    pm_span inner = sp_head(rest, (size_t)rb);
    if (sp_chr(inner, '/') >= 0) {
        return 0;
    }
    if (!pm_mtalog_addr(inner, &e->addr)) {
        return -1;
    }
    pm_mtalog_copy(e->host, sizeof(e->host), name);
    rest = sp_from(rest, (size_t)rb + 1);
    /* ":25" is the port; ": Connection refused" is the separator before the error. */
    if (with_port && rest.n >= 2 && rest.p[0] == ':' && rest.p[1] != ' ') {
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
    *s = rest;
    return 1;
}

/* smtp_proto.c: the phase of the session; the greeting is the one that matters most. */
static uint8_t phase_kind(pm_span phase, uint8_t greeting_kind)
{
    return sp_starts(phase, "receiving the initial server greeting") ? greeting_kind
                                                                     : PM_LK_LOST_LATER;
}

/* "connect to NAME[ADDR]:PORT: ERROR" (smtp_connect.c smtp_connect_sock()). */
static int r_connect(pm_span s, struct pm_logentry *e)
{
    int r = endpoint(&s, e, true);
    if (r <= 0) {
        return r;
    }
    if (!sp_eat(&s, ": ") || s.n == 0) {
        return -1;
    }
    e->kind = PM_LK_CONNECT_FAIL;
    e->err = (uint8_t)pm_mtalog_errclass(s);
    return 1;
}

/* "lost connection with NAME[ADDR] while PHASE" (smtp_trouble.c smtp_stream_except():
 * EOF or RST from the peer). */
static int r_lost(pm_span s, struct pm_logentry *e)
{
    int r = endpoint(&s, e, false);
    if (r <= 0) {
        return r;
    }
    if (!sp_eat(&s, " while ")) {
        return -1;
    }
    e->kind = phase_kind(s, PM_LK_GREETING_LOST);
    e->err = PM_EC_NONE;
    return 1;
}

/* "conversation with NAME[ADDR] timed out while PHASE" (smtp_trouble.c). */
static int r_conversation(pm_span s, struct pm_logentry *e)
{
    int r = endpoint(&s, e, false);
    if (r <= 0) {
        return r;
    }
    if (!sp_eat(&s, " timed out while ")) {
        return -1;
    }
    e->kind = phase_kind(s, PM_LK_GREETING_TIMEOUT);
    e->err = PM_EC_TIMEDOUT;
    return 1;
}

/* The reply code at the start of a server reply: [2-5]xx. */
static bool reply_code(pm_span s, int16_t *code)
{
    uint64_t v;
    pm_span x = s;
    if (!sp_uint(&x, 3, &v) || v < 200 || v > 599) { /* sp_uint refuses a 4th digit */
        return false;
    }
    *code = (int16_t)v;
    return true;
}

/* "host NAME[ADDR] refused to talk to me: 554 ..." (smtp_proto.c, a 4xx/5xx banner) and
 * "host NAME[ADDR] said: 550 ... (in reply to RCPT TO command)" (smtp_trouble.c). Other
 * "host ..." texts (mail loops to myself) are not connection failures. */
static int r_host(pm_span s, struct pm_logentry *e)
{
    int r = endpoint(&s, e, false);
    if (r <= 0) {
        return r;
    }
    if (!sp_eat(&s, " refused to talk to me: ") && !sp_eat(&s, " said: ")) {
        return 0;
    }
    if (!reply_code(s, &e->smtp_code)) {
        return -1;
    }
    e->kind = PM_LK_SMTP_REJECT;
    e->err = PM_EC_NONE;
    return 1;
}

static int pf_reason(pm_span reason, struct pm_logentry *e);

/* "delivery temporarily suspended: PREVIOUS REASON" (qmgr_deliver.c SUSPENDED): qmgr
 * throttled the destination after an earlier failure; no packet is sent. The previous
 * reason's address and error are kept for context, the kind says NO_ATTEMPT. */
static int r_suspended(pm_span s, struct pm_logentry *e)
{
    (void)pf_reason(s, e);
    e->kind = PM_LK_NO_ATTEMPT;
    return 1;
}

/* The reason texts, per-address lines and status reasons alike. */
static const struct {
    const char *prefix;
    int (*parse)(pm_span rest, struct pm_logentry *e);
} pf_reasons[] = {
    {"connect to ", r_connect},
    {"lost connection with ", r_lost},
    {"conversation with ", r_conversation},
    {"host ", r_host},
    {"delivery temporarily suspended: ", r_suspended},
};

static int pf_reason(pm_span reason, struct pm_logentry *e)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(pf_reasons); i++) {
        pm_span rest = reason;
        if (sp_eat(&rest, pf_reasons[i].prefix)) {
            int r = pf_reasons[i].parse(rest, e);
            pm_mtalog_copy(e->text, sizeof(e->text), reason); /* after: suspended recurses */
            return r;
        }
    }
    return 0;
}

/* A queue id before ": ": short (hex, "80AE0C1626C") or long ("4Lr4Qs6xyTz9xzP"). A word
 * of lowercase letters only ("warning") is a severity, not a queue id. */
static bool queue_id(pm_span *s, struct pm_logentry *e)
{
    size_t k = 0;
    bool upper_or_digit = false;
    while (k < s->n && k < PM_LOG_QID && sp_isalnum(s->p[k])) {
        upper_or_digit |= !(s->p[k] >= 'a' && s->p[k] <= 'z');
        k++;
    }
    if (k < 5 || k >= PM_LOG_QID || !upper_or_digit || !sp_starts(sp_from(*s, k), ": ")) {
        return false;
    }
    pm_mtalog_copy(e->queue_id, sizeof(e->queue_id), sp_head(*s, k));
    *s = sp_from(*s, k + 2);
    return true;
}

/* "delays=a/b/c/d": c is the connection set-up time (log_adhoc.c), in seconds with up to
 * two decimals ("0.19", "150", "3.1"). */
static void delays(pm_span v, struct pm_logentry *e)
{
    for (int i = 0; i < 2; i++) {
        ptrdiff_t sl = sp_chr(v, '/');
        if (sl < 0) {
            return;
        }
        v = sp_from(v, (size_t)sl + 1);
    }
    uint64_t whole, ms = 0;
    if (!sp_uint(&v, 9, &whole)) {
        return;
    }
    if (sp_eat(&v, ".")) {
        uint64_t scale = 100;
        for (size_t i = 0; i < v.n && sp_isdigit(v.p[i]) && i < 9; i++) {
            ms += (uint64_t)(v.p[i] - '0') * scale;
            scale /= 10;
        }
    }
    uint64_t total = whole * 1000 + ms;
    e->conn_delay_ms = total > INT32_MAX ? INT32_MAX : (int32_t)total;
}

/* The value of ", KEY=" inside fields (up to the next ", "), or an empty span. */
static bool field(pm_span fields, const char *key, pm_span *val)
{
    ptrdiff_t at = sp_find(fields, key);
    if (at < 0) {
        return false;
    }
    pm_span v = sp_from(fields, (size_t)at + strlen(key));
    ptrdiff_t end = sp_find(v, ", ");
    *val = end >= 0 ? sp_head(v, (size_t)end) : v;
    return true;
}

/* "QID: to=<rcpt>, [orig_to=<...>, ]relay=R, delay=, delays=a/b/c/d, [conn_use=, ]dsn=,
 * status=S (REASON)" (global/log_adhoc.c). */
static int pf_status(pm_span s, bool error_agent, struct pm_logentry *e)
{
    e->from_status = 1;
    /* to=<...>: a quoted local part may hold anything, so the fields start after the
     * first ">, " */
    ptrdiff_t close = sp_find(s, ">, ");
    if (close < 0) {
        return -1;
    }
    pm_mtalog_domain(e, sp_from(sp_head(s, (size_t)close + 1), 3)); /* past "to=" */
    pm_span fields = sp_from(s, (size_t)close + 1);
    ptrdiff_t st = sp_find(fields, ", status=");
    if (st < 0) {
        return -1;
    }
    pm_span status = sp_from(fields, (size_t)st + 9);
    fields = sp_head(fields, (size_t)st + 2);

    pm_span v;
    if (field(fields, ", delays=", &v)) {
        delays(v, e);
    }
    /* relay=none: no session came up; relay=NAME[ADDR]:PORT otherwise. */
    struct pm_logentry relay = {0};
    bool have_relay = false;
    if (field(fields, ", relay=", &v) && !sp_eq(v, "none")) {
        int r = endpoint(&v, &relay, true);
        if (r < 0) {
            return -1;
        }
        have_relay = r > 0;
    }

    /* "deferred (REASON)": the reason runs to the last ')' (Postfix truncates records at
     * 2000 bytes, msg_logger.c, so a missing ')' is tolerated). */
    size_t w = 0;
    while (w < status.n && status.p[w] != ' ' && status.p[w] != ',') {
        w++;
    }
    pm_span word = sp_head(status, w);
    pm_span reason = sp_rtrim(sp_from(status, w));
    if (sp_eat(&reason, " (") || sp_eat(&reason, "(")) {
        if (sp_ends(reason, ")")) {
            reason.n--;
        }
    }

    if (sp_eq(word, "sent")) {
        if (!have_relay) {
            return 0; /* local or unix-domain delivery: no network attempt */
        }
        e->kind = PM_LK_DELIVERED;
        e->err = PM_EC_NONE;
        e->addr = relay.addr;
        e->port = relay.port;
        memcpy(e->host, relay.host, sizeof(e->host));
        pm_mtalog_copy(e->text, sizeof(e->text), reason);
        return 1;
    }
    if (!sp_eq(word, "deferred") && !sp_eq(word, "bounced") && !sp_eq(word, "SOFTBOUNCE")) {
        return 0; /* expired, deliverable, undeliverable: bookkeeping */
    }
    if (error_agent) {
        /* The error transport only replays qmgr's reason: never an attempt. */
        (void)pf_reason(reason, e);
        e->kind = PM_LK_NO_ATTEMPT;
        pm_mtalog_copy(e->text, sizeof(e->text), reason);
        return 1;
    }
    int r = pf_reason(reason, e);
    if (r <= 0) {
        return r; /* DNS failures and other reasons without a connection */
    }
    /* "lost connection with NAME[ADDR]" carries no port; relay= does. */
    if (have_relay && pm_addr_eq(&relay.addr, &e->addr) && e->port == 0) {
        e->port = relay.port;
    }
    return 1;
}

/* "warning: smtp_connect_addr: bind ADDR: ERROR" (smtp_connect.c, smtp_bind_address not
 * on this host: "Cannot assign requested address", musl "Address not available"), and
 * the fatal "bad/malformed smtp_bind_address parameter" of the same function. No
 * destination is known from these lines. */
static int w_bind(pm_span rest, struct pm_logentry *e)
{
    ptrdiff_t sep = sp_find(rest, ": ");
    if (sep < 0) {
        return -1;
    }
    e->kind = PM_LK_BIND_FAIL;
    e->err = (uint8_t)pm_mtalog_errclass(sp_from(rest, (size_t)sep + 2));
    return 1;
}

static int w_badbind(pm_span rest, struct pm_logentry *e)
{
    (void)rest;
    e->kind = PM_LK_BIND_FAIL;
    e->err = PM_EC_OTHER;
    return 1;
}

/* Lines with a severity ("warning: ", "fatal: "), matched after the severity. */
static const struct {
    const char *prefix;
    int (*parse)(pm_span rest, struct pm_logentry *e);
} pf_severity_rules[] = {
    {"smtp_connect_addr: bind ", w_bind},
    {"lmtp_connect_addr: bind ", w_bind},
    {"smtp_connect_addr: bad smtp_bind_address", w_badbind},
    {"smtp_connect_addr: malformed smtp_bind_address", w_badbind},
    {"smtp_connect_addr: bad smtp_bind_address6", w_badbind},
    {"smtp_connect_addr: malformed smtp_bind_address6", w_badbind},
};

static const char *const pf_severities[] = {"warning: ", "fatal: ", "error: ", "panic: "};

int pm_mtalog_postfix(pm_span prog, pm_span msg, struct pm_logentry *e)
{
    e->mta = PM_MTA_POSTFIX;
    bool error_agent = prog_in(prog, pf_error_progs, PM_ARRAY_LEN(pf_error_progs));
    if (!error_agent && !prog_in(prog, pf_smtp_progs, PM_ARRAY_LEN(pf_smtp_progs))) {
        return 0; /* qmgr, cleanup, smtpd, pickup, master, ...: not a delivery attempt */
    }
    for (size_t i = 0; i < PM_ARRAY_LEN(pf_severities); i++) {
        pm_span rest = msg;
        if (!sp_eat(&rest, pf_severities[i])) {
            continue;
        }
        for (size_t j = 0; j < PM_ARRAY_LEN(pf_severity_rules); j++) {
            pm_span r2 = rest;
            if (sp_eat(&r2, pf_severity_rules[j].prefix)) {
                pm_mtalog_copy(e->text, sizeof(e->text), rest);
                return pf_severity_rules[j].parse(r2, e);
            }
        }
        return 0; /* other warnings: TLS, configuration, ... */
    }
    pm_span rest = msg;
    bool have_qid = queue_id(&rest, e);
    if (have_qid && sp_starts(rest, "to=<")) {
        return pf_status(rest, error_agent, e);
    }
    if (error_agent) {
        return 0;
    }
    return pf_reason(rest, e);
}

/* qmgr's "QID: from=<SENDER>, size=N, nrcpt=N (queue active)" (qmgr_message.c): the message
 * entered the active queue; every delivery of this try starts after it. */
bool pm_mtalog_postfix_queued(pm_span prog, pm_span msg, struct pm_logentry *e)
{
    pm_span rest = msg;
    if (!sp_eq(prog, "qmgr") || !queue_id(&rest, e)) {
        return false;
    }
    if (sp_starts(rest, "from=<") && sp_ends(sp_rtrim(rest), "(queue active)")) {
        return true;
    }
    e->queue_id[0] = '\0';
    return false;
}
