/*
 * mtalog_sendmail.c — owns Sendmail 8.x delivery lines (syslog tags sendmail, sm-mta,
 * sm-msp-queue): "QID: to=<rcpt>, ..., relay=HOST [IP], dsn=, stat=STATUS" from
 * deliver.c logdelivery(), and "QID: timeout waiting for input from HOST during PHASE"
 * from util.c sfgets(). Formats: ../shared/reference/mta-log-formats.md §3.
 *
 * The connection errors are not plain strerror texts: err.c sm_errstring() rewrites them
 * with the host name, so ECONNREFUSED reads "Connection refused by HOST", ETIMEDOUT
 * "Connection timed out with HOST[ during PHASE]", ECONNRESET "Connection reset by
 * HOST[ during PHASE]" and EHOSTDOWN "Host HOST is down"; the unreachable errors become
 * "HOST: <strerror>" in deliver.c giveresponse(). PHASE is SmtpPhase: "initial connection"
 * while connecting (daemon.c makeconnection), "client greeting" while waiting for the
 * banner (usersmtp.c smtpinit), "client MAIL" and so on later.
 */
#include "mtalog_int.h"

#include "util.h"

/* The SmtpPhase suffix decides what a timeout or reset means. */
static uint8_t phase_kind(pm_span phase, bool have_phase, uint8_t greeting_kind,
                          uint8_t connect_kind)
{
    if (!have_phase || sp_starts(phase, "initial connection")) {
        return connect_kind;
    }
    return sp_starts(phase, "client greeting") ? greeting_kind : PM_LK_LOST_LATER;
}

/* "HOST[ during PHASE]": the host part goes to e->host unless relay= gave one. */
static void host_and_phase(pm_span s, struct pm_logentry *e, pm_span *phase, bool *have)
{
    ptrdiff_t d = sp_find(s, " during ");
    *have = d >= 0;
    pm_span host = d >= 0 ? sp_head(s, (size_t)d) : s;
    *phase = d >= 0 ? sp_from(s, (size_t)d + 8) : sp_of("", 0);
    if (!e->host[0]) {
        pm_mtalog_copy(e->host, sizeof(e->host), host);
    }
}

static int d_refused(pm_span rest, struct pm_logentry *e)
{
    if (!e->host[0]) {
        pm_mtalog_copy(e->host, sizeof(e->host), rest);
    }
    e->kind = PM_LK_CONNECT_FAIL;
    e->err = PM_EC_REFUSED;
    return 1;
}

static int d_timeout(pm_span rest, struct pm_logentry *e)
{
    pm_span phase;
    bool have;
    host_and_phase(rest, e, &phase, &have);
    e->kind = phase_kind(phase, have, PM_LK_GREETING_TIMEOUT, PM_LK_CONNECT_FAIL);
    e->err = PM_EC_TIMEDOUT;
    return 1;
}

/* err.c without CurHostName: "Connection timed out during PHASE". */
static int d_timeout_nohost(pm_span rest, struct pm_logentry *e)
{
    e->kind = phase_kind(rest, true, PM_LK_GREETING_TIMEOUT, PM_LK_CONNECT_FAIL);
    e->err = PM_EC_TIMEDOUT;
    return 1;
}

static int d_reset(pm_span rest, struct pm_logentry *e)
{
    pm_span phase;
    bool have;
    host_and_phase(rest, e, &phase, &have);
    e->kind = have && sp_starts(phase, "client greeting") ? PM_LK_GREETING_LOST
                                                          : PM_LK_LOST_LATER;
    e->err = PM_EC_CONNRESET;
    return 1;
}

/* "Host HOST is down" (EHOSTDOWN). */
static int d_hostdown(pm_span rest, struct pm_logentry *e)
{
    if (!sp_ends(rest, " is down")) {
        return 0;
    }
    if (!e->host[0]) {
        pm_mtalog_copy(e->host, sizeof(e->host), sp_head(rest, rest.n - 8));
    }
    e->kind = PM_LK_CONNECT_FAIL;
    e->err = PM_EC_HOSTDOWN;
    return 1;
}

static const struct {
    const char *prefix;
    int (*parse)(pm_span rest, struct pm_logentry *e);
} sm_deferred[] = {
    {"Connection refused by ", d_refused},
    {"Connection timed out with ", d_timeout},
    {"Operation timed out with ", d_timeout}, /* musl strerror */
    {"Connection timed out during ", d_timeout_nohost},
    {"Operation timed out during ", d_timeout_nohost},
    {"Connection reset by ", d_reset},
    {"Host ", d_hostdown},
};

/* "stat=Deferred: TEXT" */
static int st_deferred(pm_span text, struct pm_logentry *e)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(sm_deferred); i++) {
        pm_span rest = text;
        if (sp_eat(&rest, sm_deferred[i].prefix)) {
            int r = sm_deferred[i].parse(rest, e);
            if (r != 0) {
                return r;
            }
        }
    }
    /* A server reply: "Deferred: 421 4.7.0 Try again later". */
    uint64_t code;
    pm_span x = text;
    if (sp_uint(&x, 3, &code) && code >= 400 && code <= 599 && (x.n == 0 || x.p[0] == ' ')) {
        e->kind = PM_LK_SMTP_REJECT;
        e->err = PM_EC_NONE;
        e->smtp_code = (int16_t)code;
        return 1;
    }
    /* giveresponse(): "HOST: No route to host", or a bare strerror. */
    ptrdiff_t sep = sp_find(text, ": ");
    pm_span err = sep >= 0 ? sp_from(text, (size_t)sep + 2) : text;
    enum pm_errclass c = pm_mtalog_errclass(err);
    if (c == PM_EC_OTHER) {
        return 0; /* name server trouble, local errors: no connection */
    }
    if (sep >= 0 && !e->host[0]) {
        pm_mtalog_copy(e->host, sizeof(e->host), sp_head(text, (size_t)sep));
    }
    e->kind = PM_LK_CONNECT_FAIL;
    e->err = (uint8_t)c;
    return 1;
}

/* "relay=HOST [IP]", "relay=[IP]", "relay=HOST" (no address: local mailers). Returns 1
 * with an address, 0 without, -1 when the brackets or the address are broken. */
static int relay(pm_span v, struct pm_logentry *e)
{
    ptrdiff_t lb = sp_chr(v, '[');
    if (lb < 0) {
        pm_mtalog_copy(e->host, sizeof(e->host), v);
        return 0;
    }
    pm_span rest = sp_from(v, (size_t)lb + 1);
    ptrdiff_t rb = sp_chr(rest, ']');
    if (rb < 0 || !pm_mtalog_addr(sp_head(rest, (size_t)rb), &e->addr)) {
        return -1;
    }
    pm_mtalog_copy(e->host, sizeof(e->host), sp_rtrim(sp_head(v, (size_t)lb)));
    return 1;
}

/* "to=RCPTS, ..., relay=..., dsn=..., stat=STATUS" (deliver.c logdelivery()). */
static int sm_delivery(pm_span s, struct pm_logentry *e)
{
    ptrdiff_t st = sp_find(s, ", stat=");
    if (st < 0) {
        return -1;
    }
    pm_span fields = sp_head(s, (size_t)st + 2);
    pm_span stat = sp_from(s, (size_t)st + 7);
    e->from_status = 1;

    ptrdiff_t to_end = sp_find(fields, ", ");
    pm_mtalog_domain(e, sp_head(fields, to_end >= 0 ? (size_t)to_end : fields.n));

    bool have_addr = false;
    ptrdiff_t ra = sp_find(fields, ", relay=");
    if (ra >= 0) {
        pm_span v = sp_from(fields, (size_t)ra + 8);
        ptrdiff_t end = sp_find(v, ", ");
        int r = relay(end >= 0 ? sp_head(v, (size_t)end) : v, e);
        if (r < 0) {
            return -1;
        }
        have_addr = r > 0;
    }
    pm_mtalog_copy(e->text, sizeof(e->text), stat);

    pm_span rest = stat;
    if (sp_eat(&rest, "Sent")) {
        if (!have_addr) {
            return 0; /* local delivery */
        }
        e->kind = PM_LK_DELIVERED;
        e->err = PM_EC_NONE;
        return 1;
    }
    if (sp_eat(&rest, "Deferred: ")) {
        return st_deferred(rest, e);
    }
    return 0; /* Deferred without reason, bounces of other kinds, queued, ... */
}

/* "timeout waiting for input from HOST during PHASE" (util.c sfgets(); LOG_NOTICE). */
static int sm_timeout(pm_span s, struct pm_logentry *e)
{
    ptrdiff_t d = sp_find(s, " during ");
    if (d < 0) {
        return -1;
    }
    pm_mtalog_copy(e->host, sizeof(e->host), sp_head(s, (size_t)d));
    pm_span phase = sp_from(s, (size_t)d + 8);
    e->kind = phase_kind(phase, true, PM_LK_GREETING_TIMEOUT, PM_LK_CONNECT_FAIL);
    e->err = PM_EC_TIMEDOUT;
    return 1;
}

static const struct {
    const char *prefix;
    int (*parse)(pm_span rest, struct pm_logentry *e);
} sm_rules[] = {
    {"to=", sm_delivery},
    {"timeout waiting for input from ", sm_timeout},
};

int pm_mtalog_sendmail(pm_span msg, struct pm_logentry *e)
{
    e->mta = PM_MTA_SENDMAIL;
    /* The queue id: "50AA0Bc1012345" (8.18), older forms are alike; 8..20 alnum. */
    size_t k = 0;
    while (k < msg.n && k <= 20 && sp_isalnum(msg.p[k])) {
        k++;
    }
    if (k < 8 || k > 20 || !sp_starts(sp_from(msg, k), ": ")) {
        return 0;
    }
    pm_mtalog_copy(e->queue_id, sizeof(e->queue_id), sp_head(msg, k));
    pm_span rest = sp_from(msg, k + 2);
    for (size_t i = 0; i < PM_ARRAY_LEN(sm_rules); i++) {
        pm_span r = rest;
        if (sp_eat(&r, sm_rules[i].prefix)) {
            pm_mtalog_copy(e->text, sizeof(e->text), rest); /* to= lines keep stat= only */
            return sm_rules[i].parse(r, e);
        }
    }
    return 0;
}

/* "QID: from=<SENDER>, size=N, ..." (srvrsmtp/collect: the envelope was accepted): no
 * delivery of the message can start earlier. */
bool pm_mtalog_sendmail_queued(pm_span msg, struct pm_logentry *e)
{
    size_t k = 0;
    while (k < msg.n && k <= 20 && sp_isalnum(msg.p[k])) {
        k++;
    }
    if (k < 8 || k > 20 || !sp_starts(sp_from(msg, k), ": from=")) {
        return false;
    }
    pm_mtalog_copy(e->queue_id, sizeof(e->queue_id), sp_head(msg, k));
    return true;
}
