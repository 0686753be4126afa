/*
 * util.c — owns the small shared helpers declared in util.h: checked allocation,
 * address/time formatting and parsing, sanitising of attacker-controlled text, and the
 * diagnostics channel on stderr. No packet logic here.
 */
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* RFC 5952 text, the bytes glibc's inet_ntop gives (it called sprintf per group, the most
 * expensive step of a storm's attempt): lowercase hex groups without leading zeros, the
 * first longest run of two or more zero groups as "::". The forms with a dotted IPv4 tail
 * (a zero run from the start of five or more groups: IPv4-mapped and -compatible) are
 * left to inet_ntop itself. */
static char *ipv6_str(const uint8_t *b, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    unsigned w[8];
    int best = -1, best_len = 0;
    for (int i = 0, run = 0; i < 8; i++) {
        w[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
        run = w[i] == 0 ? run + 1 : 0;
        if (run > best_len) {
            best_len = run;
            best = i - run + 1;
        }
    }
    if (best_len < 2) {
        best = -1;
    } else if (best == 0 && best_len >= 5) {
        inet_ntop(AF_INET6, b, buf, PM_ADDR_STRLEN);
        return buf;
    }
    char *o = buf;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *o++ = ':';
            *o++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len) {
            *o++ = ':';
        }
        unsigned v = w[i];
        int started = 0;
        for (int sh = 12; sh >= 0; sh -= 4) {
            unsigned d = (v >> sh) & 15;
            if (d || started || sh == 0) {
                *o++ = hex[d];
                started = 1;
            }
        }
    }
    *o = '\0';
    return buf;
}

char *pm_addr_str(const pm_addr *a, char *buf)
{
    if (a->family == PM_AF_INET) {
        ipv4_str(a->b, buf);
    } else if (a->family == PM_AF_INET6) {
        ipv6_str(a->b, buf);
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
    size_t n = strlen(last);
    if (n + sizeof(frac) <= len) {
        memcpy(buf, last, n);
        memcpy(buf + n, frac, sizeof(frac));
    } else {
        snprintf(buf, len, "%s%s", last, frac);
    }
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

/* Days from 1970-01-01 (util.h), so that parsing never depends on the TZ environment. */
int64_t pm_days_from_civil(int64_t y, unsigned m, unsigned d)
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
    /* Days of that month in that year (Gregorian leap years): 2026-02-30 is no date. */
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && leap) || h > 23 ||
        mi > 59 || sec > 60) {
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
    int64_t days = pm_days_from_civil(Y, (unsigned)M, (unsigned)D);
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

/* RFC 3629 §4's table of well-formed byte sequences. */
size_t pm_utf8_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        *cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        *cp = c & 0x0fu;
        if (c == 0xe0) {
            lo = 0xa0; /* overlong below U+0800 */
        } else if (c == 0xed) {
            hi = 0x9f; /* U+D800-U+DFFF: surrogates */
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        *cp = c & 0x07u;
        if (c == 0xf0) {
            lo = 0x90; /* overlong below U+10000 */
        } else if (c == 0xf4) {
            hi = 0x8f; /* above U+10FFFF */
        }
    } else {
        return 0; /* 80-BF continuation, C0/C1 overlong, F5-FF never used */
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    *cp = (*cp << 6) | (s[1] & 0x3fu);
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
        *cp = (*cp << 6) | (s[i] & 0x3fu);
    }
    return len;
}

bool pm_unicode_unsafe(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t pm_sanitize_display(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    if (dstlen == 0) {
        return 0;
    }
    const uint8_t *s = (const uint8_t *)src;
    size_t n = 0, i = 0;
    while (i < srclen) {
        uint32_t cp;
        size_t len = pm_utf8_seq(s + i, srclen - i, &cp);
        if (len > 1 && !pm_unicode_unsafe(cp)) {
            if (n + len >= dstlen) {
                break; /* never half a character */
            }
            memcpy(dst + n, s + i, len);
            n += len;
            i += len;
            continue;
        }
        if (n + 1 >= dstlen) {
            break;
        }
        /* ASCII as pm_sanitize keeps it; an unsafe character or an ill-formed byte: one ? */
        uint8_t c = s[i];
        dst[n++] = c == '\r' || c == '\n' || c == '\t' ? ' ' : c >= 0x20 && c < 0x7f ? (char)c : '?';
        i += len > 1 ? len : 1;
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

/* The shape of a plain decimal number: [-+]digits[.digits][e[-+]digits], nothing before or
 * after. strtol/strtod alone accept leading blanks, "nan", "inf", "0x1p3" and, for strtod,
 * overflow to HUGE_VAL; every option value goes through this check first, so that none of
 * those reaches a range check (NaN compares false with everything and passed them all). */
static bool decimal_shape(const char *s, bool allow_fraction)
{
    const char *p = s;
    if (*p == '-' || *p == '+') {
        p++;
    }
    size_t int_digits = 0, frac_digits = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        int_digits++;
    }
    if (allow_fraction && *p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0) {
        return false;
    }
    if (allow_fraction && (*p == 'e' || *p == 'E')) {
        p++;
        if (*p == '-' || *p == '+') {
            p++;
        }
        size_t exp_digits = 0;
        while (*p >= '0' && *p <= '9') {
            p++;
            exp_digits++;
        }
        if (exp_digits == 0) {
            return false;
        }
    }
    return *p == '\0';
}

bool pm_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !decimal_shape(s, false)) {
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

bool pm_parse_double(const char *s, double min, double max, double *out)
{
    if (!s || !decimal_shape(s, true)) {
        return false;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* ERANGE: overflow (HUGE_VAL) or underflow; isfinite() and the range catch the rest. */
    if (errno || *end != '\0' || !isfinite(v) || !(v >= min && v <= max)) {
        return false;
    }
    *out = v;
    return true;
}

bool pm_parse_secs(const char *s, double min, double max, pm_ns *out)
{
    double d;
    /* pm_ns holds about +-292 years: a bound beyond that would overflow the conversion. */
    if (!(min >= -9.0e9 && max <= 9.0e9) || !pm_parse_double(s, min, max, &d)) {
        return false;
    }
    *out = (pm_ns)llround(d * 1e9);
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

/* ---- files written as root ---- */

int pm_open_output(const char *path, uid_t also_owner, bool *created, char *why, size_t whylen)
{
    *created = false;
    why[0] = '\0';
    bool strict = geteuid() == 0;
    if (!strict) {
        /* Nobody's privileges to abuse: a user may write to a pipe, a terminal or /dev/null
         * as always, but not through a symbolic link planted at the path. */
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EACCES) {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        }
        if (fd < 0) {
            snprintf(why, whylen, "%s%s", strerror(errno),
                     errno == ELOOP ? " (a symbolic link: portmortem does not follow one)" : "");
        }
        return fd;
    }
    /* 1. A new file: O_EXCL makes it ours, 0600 (the umask can only take bits away). */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd >= 0) {
        *created = true;
        return fd;
    }
    if (errno != EEXIST) {
        int e = errno;
        snprintf(why, whylen, "%s%s", strerror(e),
                 e == ELOOP ? " (a symbolic link: portmortem does not follow one as root)" : "");
        errno = e;
        return -1;
    }
    /* 2. Something is there. Look before opening (opening a device can have effects of its
     * own), then open without following and without blocking (a FIFO), and look again at
     * what was opened: the name may have changed in between. */
    struct stat st;
    const char *refuse = NULL;
    int e = 0;
    if (lstat(path, &st) != 0) {
        e = errno;
    } else if (S_ISLNK(st.st_mode)) {
        refuse = "it is a symbolic link; portmortem does not follow one as root";
        e = ELOOP;
    } else if (!S_ISREG(st.st_mode)) {
        refuse = S_ISFIFO(st.st_mode)  ? "it is a FIFO, not a regular file"
                 : S_ISDIR(st.st_mode) ? "it is a directory, not a regular file"
                 : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "it is a device, not a regular file"
                                                              : "it is not a regular file";
        e = EINVAL;
    } else {
        fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            e = errno;
        } else if (fstat(fd, &st) != 0) {
            e = errno;
        } else if (!S_ISREG(st.st_mode)) {
            refuse = "it is not a regular file";
            e = EINVAL;
        } else if (st.st_nlink != 1) {
            /* A hard link planted to another file (a password database, a log) would make
             * the truncation below destroy that file. */
            refuse = "it has more than one name (a hard link); a file with other names is "
                     "never overwritten";
            e = EMLINK;
        } else if (st.st_uid != getuid() && st.st_uid != also_owner) {
            /* Planted by another user: root would truncate it and fill it with packets that
             * user can read (its mode is theirs). tcpdump's habit of replacing a file the
             * user owns stays; anything else is refused. */
            snprintf(why, whylen, "it exists and belongs to uid %u, not to uid %u running "
                     "portmortem; an existing file is only replaced when it is ours",
                     (unsigned)st.st_uid, (unsigned)getuid());
            e = EPERM;
        } else if (st.st_uid != getuid() && (st.st_mode & 077)) {
            /* The -Z user's file, as an earlier run left it (0600) — but this one others may
             * read or write (mode 0666: whoever made it so would read the packets). */
            snprintf(why, whylen, "it exists with mode %04o: others could read what is written; "
                     "an earlier run leaves 0600", (unsigned)(st.st_mode & 07777));
            e = EPERM;
        }
    }
    if (!e && ftruncate(fd, 0) != 0) {
        e = errno;
    }
    if (e) {
        if (fd >= 0) {
            close(fd);
        }
        if (refuse) {
            pm_strlcpy(why, refuse, whylen);
        } else if (!why[0]) {
            pm_strlcpy(why, strerror(e), whylen);
        }
        errno = e;
        return -1;
    }
    /* Replaced, not created: its owner and mode are left as they were. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

/* ---- diagnostics ---- */

/* THE way a diagnostic reaches the terminal: the whole message, file names, interface
 * names and anything else a user or a file gave included, goes through
 * pm_sanitize_display(), so that no escape sequence, control character or ill-formed byte
 * from a name reaches stderr, while the tool's own UTF-8 (— §) and UTF-8 names stay. */
static void vmsg(const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    char raw[2048], clean[sizeof(raw)];
    int n = vsnprintf(raw, sizeof(raw), fmt, ap);
    if (n < 0) {
        n = 0;
        raw[0] = '\0';
    }
    size_t len = (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1;
    pm_sanitize_display(clean, sizeof(clean), raw, len);
    fprintf(stderr, "%s%s%s\n", prefix, clean, (size_t)n >= sizeof(raw) ? " [...]" : "");
}

void pm_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", pm_progname);
    vmsg("", fmt, ap);
    va_end(ap);
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
