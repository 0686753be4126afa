/*
 * test_json.c — the JSON Lines writer (include/json.h, analyze/json.c): RFC 8259 §7 string
 * escaping (quote, backslash, the named control escapes, every other control character as
 * \u00XX, DEL and the C1 controls too, embedded NUL); UTF-8 per RFC 3629 (well-formed
 * sequences copied, at every length boundary; overlong forms, surrogates, code points above
 * U+10FFFF, stray and missing continuation bytes each replaced byte by byte with \ufffd;
 * line separators and bidi controls escaped; random bytes always give valid UTF-8 as glibc's
 * iconv judges it, with no raw control character),
 * commas between members and elements at every depth, one object per line, null for unset
 * addresses and times, RFC 3339 times, and the buffer escaper's truncation.
 */
#include <criterion/criterion.h>

#include <iconv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "pktbuild.h"
#include "util.h"

static char *buf;
static size_t buflen;
static FILE *mem;
static struct pm_json j;

static void open_mem(void)
{
    buf = NULL;
    buflen = 0;
    mem = open_memstream(&buf, &buflen);
    cr_assert_not_null(mem);
    pm_json_init(&j, mem);
}

static const char *text(void)
{
    fflush(mem);
    return buf;
}

static void close_mem(void)
{
    if (mem) {
        fclose(mem);
        mem = NULL;
    }
    free(buf);
    buf = NULL;
}

TestSuite(json, .init = open_mem, .fini = close_mem);

Test(json, string_escaping)
{
    pm_json_str(&j, "a\"b\\c\n\r\t\x01\x1f\x7f\x80\xff/z");
    /* 0x80 and 0xff alone are not UTF-8: each becomes U+FFFD */
    cr_assert_str_eq(text(),
                     "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\\u007f\\ufffd\\ufffd/z\"");
}

Test(json, embedded_nul_and_null_string)
{
    pm_json_strn(&j, "a\0b", 3);
    cr_assert_str_eq(text(), "\"a\\u0000b\"");
    close_mem();
    open_mem();
    pm_json_str(&j, NULL);
    cr_assert_str_eq(text(), "null");
}

Test(json, every_control_character_is_escaped)
{
    char in[32];
    for (int i = 1; i < 32; i++) {
        in[i - 1] = (char)i;
    }
    in[31] = '\0';
    pm_json_str(&j, in);
    const char *t = text();
    for (const char *p = t; *p; p++) {
        cr_assert((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
                  "raw byte 0x%02x in JSON output", (unsigned char)*p);
    }
    size_t escapes = 0;
    for (const char *p = t; *p; p++) {
        escapes += *p == '\\';
    }
    cr_assert_eq(escapes, 31, "one escape per control character");
    cr_assert(strstr(t, "\\u000b") != NULL, "VT has no short escape in RFC 8259");
}

Test(json, object_with_members_arrays_and_values)
{
    pm_addr v4 = pb_addr("192.0.2.1"), none;
    memset(&none, 0, sizeof(none));
    pm_json_obj_begin(&j);
    pm_json_kstr(&j, "type", "attempt");
    pm_json_key(&j, "arr");
    pm_json_arr_begin(&j);
    pm_json_int(&j, 1);
    pm_json_int(&j, -2);
    pm_json_str(&j, NULL);
    pm_json_arr_end(&j);
    pm_json_kbool(&j, "b", true);
    pm_json_kbool(&j, "f", false);
    pm_json_kuint(&j, "u", 18446744073709551615ull);
    pm_json_kint(&j, "i", -9223372036854775807ll - 1);
    pm_json_kaddr(&j, "ip", &v4);
    pm_json_kaddr(&j, "none", &none);
    pm_json_ktime(&j, "t", PM_SEC(1700000000) + 123456789);
    pm_json_ktime(&j, "n", PM_NS_NONE);
    pm_json_key(&j, "d");
    pm_json_double(&j, 1.5, 3);
    pm_json_obj_end(&j);
    cr_assert_str_eq(text(), "{\"type\":\"attempt\",\"arr\":[1,-2,null],\"b\":true,\"f\":false,"
                             "\"u\":18446744073709551615,\"i\":-9223372036854775808,"
                             "\"ip\":\"192.0.2.1\",\"none\":null,"
                             "\"t\":\"2023-11-14T22:13:20.123456Z\",\"n\":null,\"d\":1.500}\n");
}

Test(json, nesting_and_one_object_per_line)
{
    pm_json_obj_begin(&j);
    pm_json_key(&j, "o");
    pm_json_obj_begin(&j);
    pm_json_kint(&j, "k", 1);
    pm_json_key(&j, "e");
    pm_json_arr_begin(&j);
    pm_json_arr_end(&j);
    pm_json_obj_end(&j);
    pm_json_key(&j, "list");
    pm_json_arr_begin(&j);
    pm_json_obj_begin(&j);
    pm_json_kstr(&j, "a", "x");
    pm_json_obj_end(&j);
    pm_json_obj_begin(&j);
    pm_json_obj_end(&j);
    pm_json_arr_end(&j);
    pm_json_kint(&j, "p", 2);
    pm_json_obj_end(&j);
    pm_json_obj_begin(&j);
    pm_json_kstr(&j, "type", "summary");
    pm_json_obj_end(&j);
    cr_assert_str_eq(text(), "{\"o\":{\"k\":1,\"e\":[]},\"list\":[{\"a\":\"x\"},{}],\"p\":2}\n"
                             "{\"type\":\"summary\"}\n");
}

Test(json, keys_are_escaped_too)
{
    pm_json_obj_begin(&j);
    pm_json_kstr(&j, "we\"ird\n", "v");
    pm_json_obj_end(&j);
    cr_assert_str_eq(text(), "{\"we\\\"ird\\n\":\"v\"}\n");
}

Test(json, ipv6_address)
{
    pm_addr v6 = pb_addr("2001:db8::25");
    pm_json_addr(&j, &v6);
    pm_json_addr(&j, NULL);
    cr_assert_str_eq(text(), "\"2001:db8::25\"null");
}

Test(json, deep_nesting_stays_in_bounds)
{
    for (int i = 0; i < PM_JSON_DEPTH + 4; i++) {
        pm_json_arr_begin(&j);
    }
    for (int i = 0; i < PM_JSON_DEPTH + 4; i++) {
        pm_json_arr_end(&j);
    }
    cr_assert_eq(j.depth, 0);
    const char *t = text();
    size_t open = 0, close = 0;
    for (const char *p = t; *p; p++) {
        open += *p == '[';
        close += *p == ']';
    }
    cr_assert_eq(open, (size_t)PM_JSON_DEPTH + 4);
    cr_assert_eq(close, open);
}

Test(json, buffer_escaper)
{
    char out[64];
    size_t n = pm_json_escape(out, sizeof(out), "a\"b\\\x01\xe9\xc3\xa9");
    cr_assert_str_eq(out, "a\\\"b\\\\\\u0001\\ufffd\xc3\xa9", "Latin-1 e-acute replaced, UTF-8 kept");
    cr_assert_eq(n, strlen(out));
    /* never a partial escape at the end, always terminated */
    char small[8];
    memset(small, 'Z', sizeof(small));
    pm_json_escape(small, sizeof(small), "\x01\x02");
    cr_assert_str_eq(small, "\\u0001");
    char tiny[3];
    pm_json_escape(tiny, sizeof(tiny), "abcdef");
    cr_assert_lt(strlen(tiny), sizeof(tiny));
    cr_assert_eq(strncmp(tiny, "abcdef", strlen(tiny)), 0, "a prefix of the escaped text");
    char one[1] = {'Z'};
    pm_json_escape(one, sizeof(one), "abc");
    cr_assert_eq(one[0], '\0');
}

/* The escaped form of s (n bytes), without the quotes, as a fresh string. */
static const char *esc(const char *s, size_t n)
{
    close_mem();
    open_mem();
    pm_json_strn(&j, s, n);
    const char *t = text();
    size_t l = strlen(t);
    cr_assert(l >= 2 && t[0] == '"' && t[l - 1] == '"');
    static char out[1024];
    cr_assert_lt(l, sizeof(out));
    memcpy(out, t + 1, l - 2);
    out[l - 2] = '\0';
    return out;
}
#define ESC(lit) esc(lit, sizeof(lit) - 1)

Test(json, utf8_well_formed_is_copied)
{
    /* the tool's own words, and one of each length */
    cr_assert_str_eq(ESC("RFC 5321 \xc2\xa7" "5.1 \xe2\x80\x94 caf\xc3\xa9 \xe4\xb8\xad \xf0\x9d\x84\x9e"),
                     "RFC 5321 \xc2\xa7" "5.1 \xe2\x80\x94 caf\xc3\xa9 \xe4\xb8\xad \xf0\x9d\x84\x9e");
    /* every boundary of RFC 3629's table that is a character, not a control */
    static const char *const ok[] = {
        "\xc2\xa0",         /* U+00A0, first after the C1 controls */
        "\xdf\xbf",         /* U+07FF, last of two bytes */
        "\xe0\xa0\x80",     /* U+0800, first of three */
        "\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",     /* U+E000, just above them */
        "\xef\xbf\xbd",     /* U+FFFD itself */
        "\xef\xbf\xbf",     /* U+FFFF, last of three */
        "\xf0\x90\x80\x80", /* U+10000, first of four */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF, the last code point */
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(ok); i++) {
        cr_assert_str_eq(esc(ok[i], strlen(ok[i])), ok[i], "boundary %zu", i);
    }
}

Test(json, utf8_controls_and_separators_are_escaped)
{
    cr_assert_str_eq(ESC("\xc2\x80"), "\\u0080", "U+0080, a C1 control");
    cr_assert_str_eq(ESC("\xc2\x9b[31m"), "\\u009b[31m", "U+009B: CSI, a terminal escape");
    cr_assert_str_eq(ESC("\xc2\x9f"), "\\u009f");
    cr_assert_str_eq(ESC("a\xe2\x80\xa8" "b\xe2\x80\xa9"), "a\\u2028b\\u2029", "line/paragraph separators");
    cr_assert_str_eq(ESC("\xe2\x80\xae" "txt.exe"), "\\u202etxt.exe", "right-to-left override");
    cr_assert_str_eq(ESC("\xe2\x81\xa6\xe2\x81\xa9"), "\\u2066\\u2069", "bidi isolates");
    cr_assert_str_eq(ESC("\x1b[2J\x7f"), "\\u001b[2J\\u007f");
}

Test(json, utf8_ill_formed_bytes_become_replacement_characters)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
        const char *why;
    } cases[] = {
        {"\x80", 1, "\\ufffd", "a lone continuation byte"},
        {"\xbf\xbf", 2, "\\ufffd\\ufffd", "two of them"},
        {"\xc0\xaf", 2, "\\ufffd\\ufffd", "overlong '/' (C0 is never used)"},
        {"\xc1\xbf", 2, "\\ufffd\\ufffd", "overlong U+007F"},
        {"\xe0\x80\xaf", 3, "\\ufffd\\ufffd\\ufffd", "overlong three-byte '/'"},
        {"\xe0\x9f\xbf", 3, "\\ufffd\\ufffd\\ufffd", "overlong U+07FF"},
        {"\xf0\x80\x80\xaf", 4, "\\ufffd\\ufffd\\ufffd\\ufffd", "overlong four-byte '/'"},
        {"\xf0\x8f\xbf\xbf", 4, "\\ufffd\\ufffd\\ufffd\\ufffd", "overlong U+FFFF"},
        {"\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd", "U+D800, a surrogate"},
        {"\xed\xbf\xbf", 3, "\\ufffd\\ufffd\\ufffd", "U+DFFF, a surrogate"},
        {"\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd", "U+110000, above the last"},
        {"\xf5\x80\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd", "F5 is never used"},
        {"\xfe\xff", 2, "\\ufffd\\ufffd", "FE FF (a UTF-16 BOM)"},
        {"\xe2\x80", 2, "\\ufffd\\ufffd", "cut short at the end"},
        {"\xe2\x80" "A", 3, "\\ufffd\\ufffdA", "cut short by ASCII, which survives"},
        {"\xf0\x9d\x84" "\xc3\xa9", 5, "\\ufffd\\ufffd\\ufffd\xc3\xa9", "cut short by a good one"},
        {"\xc3", 1, "\\ufffd", "a lead byte alone"},
        {"caf\xe9", 4, "caf\\ufffd", "Latin-1, not UTF-8"},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(cases); i++) {
        cr_assert_str_eq(esc(cases[i].in, cases[i].len), cases[i].out, "%s", cases[i].why);
    }
}

/* glibc's iconv as an independent judge of well-formed UTF-8 (it rejects overlong forms and
 * surrogates). */
static bool iconv_valid(const char *s, size_t n)
{
    iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
    cr_assert_neq(cd, (iconv_t)-1);
    char out[8192];
    char *in = (char *)(uintptr_t)s, *o = out;
    size_t il = n, ol = sizeof(out);
    size_t r = iconv(cd, &in, &il, &o, &ol);
    iconv_close(cd);
    return r != (size_t)-1 && il == 0;
}

Test(json, random_bytes_always_give_valid_utf8_and_no_raw_control)
{
    cr_assert(iconv_valid("\xe2\x80\x94", 3) && !iconv_valid("\xed\xa0\x80", 3) &&
                  !iconv_valid("\xc0\xaf", 2),
              "the judge itself");
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char in[64];
    for (int round = 0; round < 20000; round++) {
        size_t n = 1 + (size_t)(round % 63);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* lean towards the bytes UTF-8 is made of */
            unsigned b = (unsigned)(x >> 24) & 0xff;
            in[i] = (char)((x & 3) == 0 ? (0x80 | (b & 0x3f)) : (x & 3) == 1 ? (0xc0 | (b & 0x3f)) : b);
        }
        const char *t = esc(in, n);
        size_t l = strlen(t);
        cr_assert(iconv_valid(t, l), "round %d: output is not UTF-8", round);
        for (size_t i = 0; i < l; i++) {
            unsigned char c = (unsigned char)t[i];
            cr_assert(c >= 0x20 && c != 0x7f, "round %d: raw control 0x%02x", round, c);
            if (c == '"') {
                cr_assert(i > 0 && t[i - 1] == '\\', "round %d: unescaped quote", round);
            }
        }
        /* the buffer escaper agrees with the stream writer when it has room */
        char eb[1024];
        char z[64];
        memcpy(z, in, n);
        z[n] = '\0';
        size_t zl = strlen(z);
        pm_json_escape(eb, sizeof(eb), z);
        cr_assert_str_eq(eb, esc(z, zl), "round %d", round);
    }
}

Test(json, buffer_escaper_never_cuts_a_utf8_sequence)
{
    char out[6];
    pm_json_escape(out, sizeof(out), "ab\xe2\x80\x94");
    cr_assert_str_eq(out, "ab\xe2\x80\x94");
    char small[5];
    pm_json_escape(small, sizeof(small), "ab\xe2\x80\x94");
    cr_assert_str_eq(small, "ab", "the dash does not fit whole: left out");
}

/* pm_json_ms formats by hand: its bytes must be printf's "%.3f" of ns / 1e6 for every
 * duration, including the exact halves (x.xxx5 ms) it hands back to printf, negative and
 * very long ones. A fixed set around the rounding edges plus a pseudo-random sweep. */
Test(json, milliseconds_are_printf_bytes)
{
    static const long long edge[] = {0, 1, 499, 500, 501, 999, 1000, 1499, 1500, 1501,
                                     999499, 999500, 999501, 1000000, 123456789,
                                     -1, -500, -1500, 999999999999999LL, 1000000000000000LL,
                                     4000000000000000123LL};
    uint64_t x = 88172645463325252ull;
    for (int k = 0; k < 20000; k++) {
        long long d;
        if (k < (int)(sizeof(edge) / sizeof(edge[0]))) {
            d = edge[k];
        } else {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift64 */
            d = (long long)(x % 100000000000ull);
            if (k % 3 == 0) {
                d = d / 1000 * 1000 + 500; /* an exact half */
            }
        }
        close_mem();
        open_mem();
        pm_json_ms(&j, d);
        char want[64];
        snprintf(want, sizeof(want), "%.3f", (double)d / 1e6);
        cr_assert_str_eq(text(), want, "duration %lld ns", d);
    }
    close_mem();
    open_mem();
    pm_json_ms(&j, PM_NS_NONE);
    cr_assert_str_eq(text(), "null");
}

/* Output longer than the writer's own buffer still comes out whole and in order. */
Test(json, object_larger_than_the_buffer)
{
    static char big[3 * PM_JSON_BUF];
    memset(big, 'a', sizeof(big) - 1);
    big[100] = '"'; /* one escape inside */
    pm_json_obj_begin(&j);
    pm_json_kstr(&j, "k", big);
    pm_json_kuint(&j, "n", 7);
    pm_json_obj_end(&j);
    const char *t = text();
    cr_assert_eq(strlen(t), 2 + 4 + (sizeof(big) - 1) + 1 + 2 + 4 + 1 + 2);
    cr_assert(strncmp(t, "{\"k\":\"aaa", 9) == 0);
    cr_assert(strstr(t, "a\\\"a") != NULL);
    cr_assert_str_eq(t + strlen(t) - 9, "\",\"n\":7}\n");
}
