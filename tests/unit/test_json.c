/*
 * test_json.c — the JSON Lines writer (include/json.h, analyze/json.c): RFC 8259 §7 string
 * escaping (quote, backslash, the named control escapes, every other control character as
 * \u00XX, DEL and bytes >= 0x80 escaped again as a second line of defence, embedded NUL),
 * commas between members and elements at every depth, one object per line, null for unset
 * addresses and times, RFC 3339 times, and the buffer escaper's truncation.
 */
#include <criterion/criterion.h>

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
    cr_assert_str_eq(text(),
                     "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\\u007f\\u0080\\u00ff/z\"");
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
    size_t n = pm_json_escape(out, sizeof(out), "a\"b\\\x01\xe9");
    cr_assert_str_eq(out, "a\\\"b\\\\\\u0001\\u00e9");
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
