/*
 * syslog_out.c — owns the syslog records of `portmortem watch` (include/watch.h): their
 * RFC 5424 form and the per-second rate limit that keeps a storm of failures from flooding
 * the site's log pipeline. Pure: the socket that carries them is capture/watch.c's.
 *
 * RFC 5424 §6: SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG], HEADER = PRI VERSION SP
 * TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID. PRI is facility * 8 + severity
 * (§6.2.1); TIMESTAMP is RFC 3339 with at most 6 fraction digits (§6.2.3); HOSTNAME is at
 * most 255, APP-NAME 48, PROCID 128, MSGID 32 printable US-ASCII characters (§6.2.4-7), "-"
 * when nil. We send no structured data ("-") and the JSON object as MSG; MSG without a BOM
 * is not declared UTF-8 (§6.4), and our JSON writer escapes everything outside ASCII's
 * printable range only where it must, so a receiver that treats it as opaque bytes is fine.
 */
#include "watch.h"

#include <string.h>

#include "util.h"

/* Copy an RFC 5424 header field: printable US-ASCII (33..126) only, cut at max. */
static void header_field(char *out, size_t max, const char *in)
{
    size_t n = 0;
    for (; in && in[n] && n < max; n++) {
        unsigned char c = (unsigned char)in[n];
        out[n] = (c >= 33 && c <= 126) ? (char)c : '_';
    }
    if (n == 0) {
        out[n++] = '-';
    }
    out[n] = '\0';
}

size_t pm_syslog_format(char *buf, size_t len, int severity, pm_ns ts, const char *host,
                        long pid, const char *msgid, const char *msg)
{
    char h[256], id[33], t[40];
    header_field(h, 255, host);
    header_field(id, 32, msgid);
    if (severity < 0 || severity > 7) {
        severity = PM_SEV_NOTICE;
    }
    int n = snprintf(buf, len, "<%d>1 %s %s portmortem %ld %s - %s",
                     PM_SYSLOG_FAC_MAIL * 8 + severity, pm_time_str(ts, t, sizeof(t)), h, pid,
                     id, msg ? msg : "");
    if (n < 0 || (size_t)n >= len) {
        if (len) {
            buf[0] = '\0';
        }
        return 0;
    }
    return (size_t)n;
}

void pm_rate_init(struct pm_rate *r, uint32_t per_sec)
{
    memset(r, 0, sizeof(*r));
    r->per_sec = per_sec;
    r->sec = INT64_MIN;
}

bool pm_rate_take(struct pm_rate *r, int64_t now_sec)
{
    if (now_sec != r->sec) {
        r->sec = now_sec;
        r->used = 0;
    }
    if (r->used < r->per_sec) {
        r->used++;
        return true;
    }
    r->pending++;
    r->suppressed++;
    return false;
}

uint64_t pm_rate_report(struct pm_rate *r, int64_t now_sec)
{
    if (r->pending == 0 || now_sec == r->sec) {
        return 0;
    }
    uint64_t n = r->pending;
    r->pending = 0;
    return n;
}
