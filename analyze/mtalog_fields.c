/*
 * mtalog_fields.c — owns the field readers every per-MTA log parser shares: the errno text
 * table (glibc and musl strerror texts, and the Linux errno numbers Exim logs), the address,
 * port and recipient-domain readers, and the sanitising copy. They sit below mtalog.c and
 * the parsers (mtalog_postfix.c, mtalog_exim.c, mtalog_sendmail.c) so that the dispatcher and
 * the parsers do not call each other in a loop.
 *
 * Every span is attacker-influenced (a remote server's text ends up in the log line): each
 * reader works on a bounded span and never reads past its length.
 */
#include "mtalog.h"

#include "mtalog_int.h"
#include "util.h"

/* ---- errno texts (mta-log-formats.md §0): glibc strerror and musl __strerror.h ---- */

static const struct {
    const char *text;
    uint8_t cls;
} errtexts[] = {
    {"Connection refused", PM_EC_REFUSED},
    {"Connection timed out", PM_EC_TIMEDOUT},
    {"Operation timed out", PM_EC_TIMEDOUT}, /* musl */
    {"No route to host", PM_EC_HOSTUNREACH},
    {"Host is unreachable", PM_EC_HOSTUNREACH}, /* musl */
    {"Network is unreachable", PM_EC_NETUNREACH},
    {"Network unreachable", PM_EC_NETUNREACH}, /* musl */
    {"Permission denied", PM_EC_ACCES},
    {"Operation not permitted", PM_EC_PERM},
    {"Cannot assign requested address", PM_EC_ADDRNOTAVAIL},
    {"Address not available", PM_EC_ADDRNOTAVAIL}, /* musl */
    {"Host is down", PM_EC_HOSTDOWN},
    {"Connection reset by peer", PM_EC_CONNRESET},
    {"Invalid argument", PM_EC_INVAL},
};

enum pm_errclass pm_mtalog_errclass(pm_span s)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(errtexts); i++) {
        size_t k = strlen(errtexts[i].text);
        /* As logged, case-sensitive; a word must not continue past the text. */
        if (sp_starts(s, errtexts[i].text) && (s.n == k || !sp_isalnum(s.p[k]))) {
            return (enum pm_errclass)errtexts[i].cls;
        }
    }
    return PM_EC_OTHER;
}

enum pm_errclass pm_errclass_from_text(const char *text)
{
    if (!text) {
        return PM_EC_OTHER;
    }
    pm_span s = sp_of(text, strlen(text));
    /* The text itself, or the errno at the end of "connect to X[Y]:25: Connection refused". */
    for (;;) {
        enum pm_errclass c = pm_mtalog_errclass(s);
        if (c != PM_EC_OTHER) {
            return c;
        }
        ptrdiff_t sep = sp_find(s, ": ");
        if (sep < 0) {
            return PM_EC_OTHER;
        }
        s = sp_from(s, (size_t)sep + 2);
    }
}

/* Linux errno numbers as Exim logs them in "defer (111)". */
enum pm_errclass pm_mtalog_errclass_num(long num)
{
    switch (num) {
    case 111:
        return PM_EC_REFUSED;
    case 110:
        return PM_EC_TIMEDOUT;
    case 113:
        return PM_EC_HOSTUNREACH;
    case 101:
        return PM_EC_NETUNREACH;
    case 13:
        return PM_EC_ACCES;
    case 1:
        return PM_EC_PERM;
    case 99:
        return PM_EC_ADDRNOTAVAIL;
    case 112:
        return PM_EC_HOSTDOWN;
    case 104:
        return PM_EC_CONNRESET;
    case 22:
        return PM_EC_INVAL;
    default:
        return PM_EC_OTHER;
    }
}

/* ---- shared field helpers ---- */

bool pm_mtalog_addr(pm_span in, pm_addr *out)
{
    char buf[PM_ADDR_STRLEN];
    memset(out, 0, sizeof(*out));
    if (in.n >= 5 && (memcmp(in.p, "IPv6:", 5) == 0 || memcmp(in.p, "ipv6:", 5) == 0)) {
        in = sp_from(in, 5);
    }
    if (in.n == 0 || in.n >= sizeof(buf) || sp_chr(in, '\0') >= 0) {
        return false;
    }
    memcpy(buf, in.p, in.n);
    buf[in.n] = '\0';
    return pm_addr_parse(buf, out);
}

bool pm_mtalog_port(pm_span digits, uint16_t *out)
{
    uint64_t v;
    pm_span x = digits;
    if (!sp_uint(&x, 5, &v) || x.n != 0 || v == 0 || v > 65535) {
        return false;
    }
    *out = (uint16_t)v;
    return true;
}

void pm_mtalog_copy(char *dst, size_t dstlen, pm_span s)
{
    pm_sanitize(dst, dstlen, (const uint8_t *)s.p, s.n);
}

void pm_mtalog_domain(struct pm_logentry *e, pm_span r)
{
    sp_eat(&r, "<");
    size_t end = 0;
    while (end < r.n && r.p[end] != '>' && r.p[end] != ',' && r.p[end] != ' ') {
        end++;
    }
    r = sp_head(r, end);
    ptrdiff_t at = sp_rchr(r, '@');
    if (at < 0 || (size_t)at + 1 >= r.n) {
        return;
    }
    pm_mtalog_copy(e->domain, sizeof(e->domain), sp_from(r, (size_t)at + 1));
}
