/*
 * util.c — owns the small shared helpers declared in util.h: checked allocation,
 * address/time formatting and parsing, sanitising of attacker-controlled text, and the
 * diagnostics channel on stderr. No packet logic here.
 */
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *pm_progname = "portmortem";
int pm_verbosity = 0;

/* ---- allocation ---- */

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "%s: out of memory allocating %zu bytes\n", pm_progname, n);
    fprintf(stderr, "  hint: lower --max-flows or free memory\n");
    exit(PM_EXIT_UNREADABLE);
}

void *pm_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        oom(n * size);
    }
    return p;
}

void *pm_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        oom(size);
    }
    return p;
}

void *pm_xreallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        oom(SIZE_MAX);
    }
    size_t bytes = n * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) {
        oom(bytes);
    }
    return q;
}

char *pm_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = pm_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

/* ---- addresses ---- */

/* Dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf. */
static char *ipv4_str(const uint8_t *b, char *buf)
{
    char *o = buf;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100) {
            *o++ = (char)('0' + v / 100);
        }
        if (v >= 10) {
            *o++ = (char)('0' + v / 10 % 10);
        }
        *o++ = (char)('0' + v % 10);
        *o++ = i < 3 ? '.' : '\0';
    }
    return buf;
}

char *pm_addr_str(const pm_addr *a, char *buf)
{
    if (a->family == PM_AF_INET) {
        ipv4_str(a->b, buf);
    } else if (a->family == PM_AF_INET6) {
        inet_ntop(AF_INET6, a->b, buf, PM_ADDR_STRLEN);
    } else {
        buf[0] = '-';
        buf[1] = '\0';
    }
    return buf;
}

bool pm_addr_parse(const char *s, pm_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s || strlen(s) >= PM_ADDR_STRLEN) {
        return false;
    }
    if (inet_pton(AF_INET, s, out->b) == 1) {
        out->family = PM_AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, out->b) == 1) {
        out->family = PM_AF_INET6;
        return true;
    }
    memset(out, 0, sizeof(*out));
    return false;
}

bool pm_addr_eq(const pm_addr *a, const pm_addr *b)
{
    return a->family == b->family && memcmp(a->b, b->b, 16) == 0;
}

void pm_addr_from_v4(pm_addr *a, const uint8_t b[4])
{
    memset(a, 0, sizeof(*a));
    a->family = PM_AF_INET;
    memcpy(a->b, b, 4);
}

void pm_addr_from_v6(pm_addr *a, const uint8_t b[16])
{
    a->family = PM_AF_INET6;
    memcpy(a->b, b, 16);
}

bool pm_addr_is_loopback(const pm_addr *a)
{
    static const uint8_t v6lo[16] = {[15] = 1};
    if (a->family == PM_AF_INET) {
        return a->b[0] == 127;
    }
    return a->family == PM_AF_INET6 && memcmp(a->b, v6lo, 16) == 0;
}

bool pm_addr_is_unspecified(const pm_addr *a)
{
    static const uint8_t zero[16];
    if (a->family == PM_AF_INET) {
        return memcmp(a->b, zero, 4) == 0;
    }
    return a->family != PM_AF_INET6 || memcmp(a->b, zero, 16) == 0;
}

bool pm_addr_is_multicast(const pm_addr *a)
{
    if (a->family == PM_AF_INET) {
        return (a->b[0] & 0xf0) == 0xe0;
    }
    return a->family == PM_AF_INET6 && a->b[0] == 0xff;
}

bool pm_addr_is_broadcast(const pm_addr *a)
{
    return a->family == PM_AF_INET && a->b[0] == 255 && a->b[1] == 255 && a->b[2] == 255 &&
           a->b[3] == 255;
}

bool pm_addr_same_prefix(const pm_addr *a, const pm_addr *b, unsigned bits)
{
    if (a->family != b->family || a->family == PM_AF_NONE) {
        return false;
    }
    unsigned max = a->family == PM_AF_INET ? 32 : 128;
    if (bits > max) {
        bits = max;
    }
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a->b, b->b, full) != 0) {
        return false;
    }
    if (rest == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a->b[full] & mask) == (b->b[full] & mask);
}

/* ---- time ---- */

static void split(pm_ns t, time_t *sec, long *nsec)
{
    pm_ns s = t / PM_NS_PER_SEC, n = t % PM_NS_PER_SEC;
    if (n < 0) {
        n += PM_NS_PER_SEC;
        s -= 1;
    }
    *sec = (time_t)s;
    *nsec = (long)n;
}

char *pm_time_str(pm_ns t, char *buf, size_t len)
{
    /* The date and time to the second change rarely between consecutive calls: keep the
     * last one (single-threaded; the cache is per process). */
    static time_t last_sec = (time_t)-1;
    static char last[24]; /* "YYYY-MM-DDTHH:MM:SS" */
    time_t sec;
    long nsec;
    split(t, &sec, &nsec);
    if (t == PM_NS_NONE) {
        snprintf(buf, len, "null");
        return buf;
    }
    if (sec != last_sec) {
        struct tm tm;
        if (!gmtime_r(&sec, &tm)) {
            snprintf(buf, len, "null");
            return buf;
        }
        snprintf(last, sizeof(last), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        last_sec = sec;
    }
    char frac[9];
    long us = nsec / 1000;
    frac[0] = '.';
    for (int i = 6; i >= 1; i--) {
        frac[i] = (char)('0' + us % 10);
        us /= 10;
    }
    frac[7] = 'Z';
    frac[8] = '\0';
    snprintf(buf, len, "%s%s", last, frac);
    return buf;
}

static int64_t ctx_first_day = INT64_MIN, ctx_last_day = INT64_MIN;

static int64_t utc_day(pm_ns t)
{
    int64_t s = t / PM_NS_PER_SEC;
    return (s >= 0 ? s : s - 86399) / 86400;
}

void pm_time_context(pm_ns first, pm_ns last)
{
    if (first == PM_NS_NONE || last == PM_NS_NONE) {
        ctx_first_day = ctx_last_day = INT64_MIN;
        return;
    }
    ctx_first_day = utc_day(first < last ? first : last);
    ctx_last_day = utc_day(first < last ? last : first);
}

char *pm_time_short(pm_ns t, char *buf, size_t len)
{
    time_t sec;
    long nsec;
    struct tm tm;
    split(t, &sec, &nsec);
    if (t == PM_NS_NONE || !gmtime_r(&sec, &tm)) {
        snprintf(buf, len, "--:--:--");
        return buf;
    }
    int64_t day = utc_day(t);
    bool dated = ctx_first_day != INT64_MIN &&
                 (ctx_first_day != ctx_last_day || day != ctx_first_day);
    if (dated) {
        snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03ld", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nsec / 1000000);
    } else {
        snprintf(buf, len, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 nsec / 1000000);
    }
    return buf;
}

char *pm_delay_str(pm_ns d, char *buf, size_t len)
{
    if (d == PM_NS_NONE || d <= 0) {
        snprintf(buf, len, "0 µs");
    } else if (d < PM_NS_PER_MS) {
        /* below a millisecond: whole microseconds, or nanoseconds below one */
        snprintf(buf, len, d < 1000 ? "%lld ns" : "%lld µs",
                 (long long)(d < 1000 ? d : d / 1000));
    } else if (d < PM_MS(10)) {
        snprintf(buf, len, "%.2f ms", (double)d / 1e6);
    } else if (d < PM_MS(100)) {
        snprintf(buf, len, "%.1f ms", (double)d / 1e6);
    } else if (d < PM_NS_PER_SEC) {
        snprintf(buf, len, "%lld ms", (long long)(d / PM_NS_PER_MS));
    } else if (d % PM_NS_PER_SEC == 0) {
        snprintf(buf, len, "%lld s", (long long)(d / PM_NS_PER_SEC));
    } else if (d < PM_SEC(100)) {
        snprintf(buf, len, "%lld.%03lld s", (long long)(d / PM_NS_PER_SEC),
                 (long long)((d % PM_NS_PER_SEC) / PM_NS_PER_MS));
    } else {
        snprintf(buf, len, "%lld s", (long long)(d / PM_NS_PER_SEC));
    }
    return buf;
}

char *pm_dur_str(pm_ns d, char *buf, size_t len)
{
    const char *sign = d < 0 ? "-" : "";
    if (d < 0) {
        d = -d;
    }
    snprintf(buf, len, "%s%lld.%03lld", sign, (long long)(d / PM_NS_PER_SEC),
             (long long)((d % PM_NS_PER_SEC) / PM_NS_PER_MS));
    return buf;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil), so that parsing never depends on the TZ environment. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool pm_time_parse(const char *s, pm_ns *out)
{
    if (s[0] == '@') {
        long v;
        if (!pm_parse_long(s + 1, 0, 9000000000L, &v)) {
            return false;
        }
        *out = PM_SEC(v);
        return true;
    }
    int Y, M, D, h = 0, mi = 0, sec = 0;
    if (strlen(s) < 10 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) ||
        s[7] != '-' || !digits(s + 8, 2, &D)) {
        return false;
    }
    const char *p = s + 10;
    pm_ns frac = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') { /* RFC 3339 §5.6: "t" allowed */
        p++;
        if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi)) {
            return false;
        }
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec)) {
                return false;
            }
            p += 3;
            if (*p == '.' || *p == ',') {
                p++;
                pm_ns scale = PM_NS_PER_SEC / 10;
                while (isdigit((unsigned char)*p)) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
    }
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om = 0;
        int sign = *p == '-' ? -1 : 1;
        p++;
        if (!digits(p, 2, &oh)) {
            return false;
        }
        p += 2;
        if (*p == ':') {
            p++;
        }
        if (isdigit((unsigned char)*p)) {
            if (!digits(p, 2, &om)) {
                return false;
            }
            p += 2;
        }
        offset = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0') {
        return false;
    }
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
    /* pm_ns covers 1678..2262: a time outside it is refused, not wrapped. */
    if (secs > INT64_MAX / PM_NS_PER_SEC - 1 || secs < INT64_MIN / PM_NS_PER_SEC + 1) {
        return false;
    }
    *out = PM_SEC(secs) + frac;
    return true;
}

pm_ns pm_now_realtime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return PM_SEC(ts.tv_sec) + ts.tv_nsec;
}

pm_ns pm_now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return PM_SEC(ts.tv_sec) + ts.tv_nsec;
}

/* ---- sanitising ---- */

size_t pm_sanitize(char *dst, size_t dstlen, const uint8_t *src, size_t srclen)
{
    if (dstlen == 0) {
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < srclen && n + 1 < dstlen; i++) {
        uint8_t ch = src[i];
        if (ch == '\r' || ch == '\n' || ch == '\t') {
            ch = ' ';
        } else if (ch < 0x20 || ch >= 0x7f) {
            ch = '?';
        }
        dst[n++] = (char)ch;
    }
    dst[n] = '\0';
    return n;
}

size_t pm_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

/* ---- parsing ---- */

bool pm_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s) {
        return false;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

int pm_parse_ports(const char *s, uint16_t *ports, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char tok[8];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof(tok) || n >= max) {
            return -1;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        long v;
        if (!pm_parse_long(tok, 1, 65535, &v)) {
            return -1;
        }
        bool dup = false;
        for (int i = 0; i < n; i++) {
            dup |= ports[i] == (uint16_t)v;
        }
        if (!dup) {
            ports[n++] = (uint16_t)v;
        }
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) {
                return -1;
            }
        }
    }
    return n > 0 ? n : -1;
}

/* ---- diagnostics ---- */

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s%s", prefix, prefix[0] ? "" : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void pm_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", pm_progname);
    vmsg("", fmt, ap);
    va_end(ap);
}

void pm_hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("  hint: ", fmt, ap);
    va_end(ap);
}

void pm_warn(const char *fmt, ...)
{
    if (pm_verbosity < 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: warning: ", pm_progname);
    vmsg("", fmt, ap);
    va_end(ap);
}

void pm_info(const char *fmt, ...)
{
    if (pm_verbosity < 1) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", pm_progname);
    vmsg("", fmt, ap);
    va_end(ap);
}

void pm_debug(const char *fmt, ...)
{
    if (pm_verbosity < 2) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: debug: ", pm_progname);
    vmsg("", fmt, ap);
    va_end(ap);
}

void pm_die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", pm_progname);
    vmsg("", fmt, ap);
    va_end(ap);
    exit(status);
}
