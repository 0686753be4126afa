/*
 * json.c — owns JSON output (include/json.h). Every string goes through one escaper.
 */
#include "json.h"

#include "util.h"

/*
 * Output goes into the writer's own buffer (PM_JSON_BUF) and reaches the FILE in one
 * fwrite when a top-level value ends or the buffer fills: a storm writes a ~1 KB object per
 * attempt, and per-token stdio calls (and printf for numbers) were most of its cost
 * (docs/PERFORMANCE.md). Integers, milliseconds and keys are formatted by hand.
 */

void pm_json_init(struct pm_json *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->len = 0;
    j->pretty = 0;
    memset(j->first, 0, sizeof(j->first));
}

void pm_json_flush(struct pm_json *j)
{
    if (j->len) {
        fwrite_unlocked(j->buf, 1, j->len, j->f);
        j->len = 0;
    }
}

/* Room for n more bytes, when the buffer can hold them at all. */
static inline bool room(struct pm_json *j, size_t n)
{
    if (j->len + n > sizeof(j->buf)) {
        pm_json_flush(j);
    }
    return n <= sizeof(j->buf);
}

static inline void put_c(struct pm_json *j, char c)
{
    if (j->len >= sizeof(j->buf)) {
        pm_json_flush(j);
    }
    j->buf[j->len++] = c;
}

static void put_n(struct pm_json *j, const char *s, size_t n)
{
    if (room(j, n)) {
        memcpy(j->buf + j->len, s, n);
        j->len += n;
    } else {
        fwrite_unlocked(s, 1, n, j->f); /* longer than the buffer: straight through */
    }
}

/* A top-level value is complete: hand it on. */
static inline void done(struct pm_json *j)
{
    if (j->depth <= 0) {
        pm_json_flush(j);
    }
}

static void sep(struct pm_json *j)
{
    if (j->depth > 0 && j->depth < PM_JSON_DEPTH) {
        if (!j->first[j->depth]) {
            put_c(j, ',');
        }
        j->first[j->depth] = 0;
    }
}

static void open_(struct pm_json *j, char c)
{
    sep(j);
    put_c(j, c);
    j->depth++;
    if (j->depth < PM_JSON_DEPTH) {
        j->first[j->depth] = 1;
    }
}

void pm_json_obj_begin(struct pm_json *j) { open_(j, '{'); }
void pm_json_arr_begin(struct pm_json *j) { open_(j, '['); }

void pm_json_obj_end(struct pm_json *j)
{
    put_c(j, '}');
    j->depth--;
    if (j->depth == 0) {
        put_c(j, '\n');
    }
    done(j);
}

void pm_json_arr_end(struct pm_json *j)
{
    put_c(j, ']');
    j->depth--;
    done(j);
}

/*
 * Strings are UTF-8 (RFC 8259 §8.1). One classifier decides, for the bytes at s, how many
 * of them form the next unit and whether that unit is copied as it is or written as an
 * escape:
 *   - printable ASCII is copied; '"' and '\' get their two-character escapes;
 *   - control characters are escaped: \n \r \t by name, every other C0 control, DEL and the
 *     C1 controls (U+0080-U+009F, which terminals obey as escape sequences) as \u00XX;
 *   - U+2028/U+2029 (line and paragraph separators) and the bidirectional formatting
 *     characters (U+202A-U+202E, U+2066-U+2069), which reorder or break what a person sees
 *     of the raw file, are escaped as \uXXXX: the value is the same, the view is not;
 *   - any other well-formed UTF-8 sequence (RFC 3629 §4: no overlong forms, no surrogates
 *     U+D800-U+DFFF, nothing above U+10FFFF) is copied unchanged (the tool's own "§", "—");
 *   - each byte that does not belong to a well-formed sequence (a stray continuation byte,
 *     a sequence cut short, C0/C1/F5-FF, an overlong form, an encoded surrogate) becomes
 *     U+FFFD REPLACEMENT CHARACTER, written as the escape \ufffd, one per byte. The output
 *     is therefore always valid UTF-8 and valid JSON, whatever the input.
 * Text from the wire and from logs was already made printable ASCII by pm_sanitize; this is
 * the second line of defence, and what keeps file names and the tool's own words intact.
 */

/* The next unit at s: returns the input bytes it takes; esc gets the escape to write
 * instead of them, or "" when they are copied. */
static size_t json_unit(const unsigned char *s, size_t n, char esc[8])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[0];
    uint32_t cp;
    size_t len = 1;
    esc[0] = '\0';
    switch (c) {
    case '"': memcpy(esc, "\\\"", 3); return 1;
    case '\\': memcpy(esc, "\\\\", 3); return 1;
    case '\n': memcpy(esc, "\\n", 3); return 1;
    case '\r': memcpy(esc, "\\r", 3); return 1;
    case '\t': memcpy(esc, "\\t", 3); return 1;
    default: break;
    }
    if (c >= 0x20 && c < 0x7f) {
        return 1;
    }
    if (c < 0x80) {
        cp = c; /* C0 control or DEL */
    } else if ((len = pm_utf8_seq(s, n, &cp)) == 0) {
        cp = 0xfffd; /* not well-formed: this byte is replaced */
        len = 1;
    } else if (!pm_unicode_unsafe(cp)) {
        return len; /* well-formed and harmless: copied */
    }
    esc[0] = '\\';
    esc[1] = 'u';
    esc[2] = hex[(cp >> 12) & 15];
    esc[3] = hex[(cp >> 8) & 15];
    esc[4] = hex[(cp >> 4) & 15];
    esc[5] = hex[cp & 15];
    esc[6] = '\0';
    return len;
}

static inline bool plain_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Any byte of w zero (exact as an "any"; Hacker's Delight 6-1). */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define HAS_ZERO(w) (((w) - ONES) & ~(w) & HIGHS)

/* The length of the run at s of printable ASCII other than '"' and '\\' (copied as it
 * is), eight bytes at a time: text is almost all of it. */
static size_t plain_len(const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t bad = (w & HIGHS) |                      /* >= 0x80 */
                       ((w - 0x20 * ONES) & ~w & HIGHS) | /* < 0x20 */
                       HAS_ZERO(w ^ (0x7f * ONES)) | HAS_ZERO(w ^ ('"' * ONES)) |
                       HAS_ZERO(w ^ ('\\' * ONES));
        if (bad) {
            break;
        }
    }
    while (i < n && plain_byte(s[i])) {
        i++;
    }
    return i;
}

static void put_escaped(struct pm_json *j, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    put_c(j, '"');
    size_t run = 0; /* start of the current run of bytes copied as they are */
    size_t i = 0;
    while (i < n) {
        i += plain_len(u + i, n - i); /* the common case: printable ASCII */
        if (i >= n) {
            break;
        }
        char esc[8];
        size_t take = json_unit(u + i, n - i, esc);
        if (esc[0]) {
            if (i > run) {
                put_n(j, s + run, i - run);
            }
            put_n(j, esc, strlen(esc));
            run = i + take;
        }
        i += take;
    }
    if (n > run) {
        put_n(j, s + run, n - run);
    }
    put_c(j, '"');
}

static void put_u64(struct pm_json *j, unsigned long long v)
{
    char b[24];
    int i = sizeof(b);
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_n(j, b + i, sizeof(b) - (size_t)i);
}

size_t pm_json_escape(char *dst, size_t dstlen, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0;
    while (i < n) {
        char esc[8];
        size_t take = json_unit(u + i, n - i, esc);
        const char *out = esc[0] ? esc : s + i;
        size_t len = esc[0] ? strlen(esc) : take;
        if (o + len >= dstlen) {
            break; /* never a partial escape or a cut UTF-8 sequence */
        }
        memcpy(dst + o, out, len);
        o += len;
        i += take;
    }
    if (dstlen) {
        dst[o < dstlen ? o : dstlen - 1] = '\0';
    }
    return o;
}

void pm_json_key(struct pm_json *j, const char *key)
{
    sep(j);
    /* Keys are the tool's own words: copied when they need no escape (the usual case). */
    size_t n = strlen(key);
    if (n + 3 <= sizeof(j->buf) && plain_len((const unsigned char *)key, n) == n &&
        room(j, n + 3)) {
        char *o = j->buf + j->len;
        o[0] = '"';
        memcpy(o + 1, key, n);
        o[n + 1] = '"';
        o[n + 2] = ':';
        j->len += n + 3;
    } else {
        put_escaped(j, key, n);
        put_c(j, ':');
    }
    if (j->depth < PM_JSON_DEPTH) {
        j->first[j->depth] = 1; /* the value that follows needs no comma */
    }
}

void pm_json_str(struct pm_json *j, const char *s)
{
    if (!s) {
        pm_json_null(j);
        return;
    }
    pm_json_strn(j, s, strlen(s));
}

void pm_json_strn(struct pm_json *j, const char *s, size_t n)
{
    sep(j);
    put_escaped(j, s, n);
    done(j);
}

void pm_json_int(struct pm_json *j, long long v)
{
    sep(j);
    if (v < 0) {
        put_c(j, '-');
        put_u64(j, 0ull - (unsigned long long)v);
    } else {
        put_u64(j, (unsigned long long)v);
    }
    done(j);
}

void pm_json_uint(struct pm_json *j, unsigned long long v)
{
    sep(j);
    put_u64(j, v);
    done(j);
}

void pm_json_double(struct pm_json *j, double v, int decimals)
{
    sep(j);
    char b[64];
    int n = snprintf(b, sizeof(b), "%.*f", decimals, v);
    if (n > 0 && (size_t)n < sizeof(b)) {
        put_n(j, b, (size_t)n);
    } else {
        pm_json_flush(j);
        fprintf(j->f, "%.*f", decimals, v); /* (a huge value: printf's own bytes) */
    }
    done(j);
}

/* Below this many nanoseconds (11.5 days) the double d / 1e6 is within 1e-7 ms of the
 * exact value, far closer than the 0.5 ns that separates any integer d from a rounding
 * boundary of "%.3f" (unless d ends in exactly 500 ns, a tie in the decimal value that
 * the binary double may put on either side): the integer rounding below gives printf's
 * bytes. Anything else goes through printf. */
#define MS_EXACT_NS 1000000000000000LL

void pm_json_ms(struct pm_json *j, pm_ns d)
{
    if (d == PM_NS_NONE) {
        pm_json_null(j);
        return;
    }
    if (d < 0 || d >= MS_EXACT_NS || d % 1000 == 500) {
        pm_json_double(j, (double)d / 1e6, 3);
        return;
    }
    sep(j);
    unsigned long long us = (unsigned long long)(d + 500) / 1000; /* round half up */
    put_u64(j, us / 1000);
    char frac[4] = {'.', (char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10),
                    (char)('0' + us % 10)};
    put_n(j, frac, 4);
    done(j);
}

void pm_json_bool(struct pm_json *j, bool v)
{
    sep(j);
    if (v) {
        put_n(j, "true", 4);
    } else {
        put_n(j, "false", 5);
    }
    done(j);
}

void pm_json_null(struct pm_json *j)
{
    sep(j);
    put_n(j, "null", 4);
    done(j);
}

void pm_json_addr(struct pm_json *j, const pm_addr *a)
{
    if (!a || a->family == PM_AF_NONE) {
        pm_json_null(j);
        return;
    }
    char b[PM_ADDR_STRLEN];
    pm_json_str(j, pm_addr_str(a, b));
}

void pm_json_time(struct pm_json *j, pm_ns t)
{
    if (t == PM_NS_NONE) {
        pm_json_null(j);
        return;
    }
    char b[40];
    pm_json_str(j, pm_time_str(t, b, sizeof(b)));
}

void pm_json_kstr(struct pm_json *j, const char *k, const char *v)
{
    pm_json_key(j, k);
    pm_json_str(j, v);
}

void pm_json_kint(struct pm_json *j, const char *k, long long v)
{
    pm_json_key(j, k);
    pm_json_int(j, v);
}

void pm_json_kuint(struct pm_json *j, const char *k, unsigned long long v)
{
    pm_json_key(j, k);
    pm_json_uint(j, v);
}

void pm_json_kbool(struct pm_json *j, const char *k, bool v)
{
    pm_json_key(j, k);
    pm_json_bool(j, v);
}

void pm_json_kaddr(struct pm_json *j, const char *k, const pm_addr *a)
{
    pm_json_key(j, k);
    pm_json_addr(j, a);
}

void pm_json_ktime(struct pm_json *j, const char *k, pm_ns t)
{
    pm_json_key(j, k);
    pm_json_time(j, t);
}
