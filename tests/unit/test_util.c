/*
 * test_util.c — the shared helpers (include/util.h, analyze/util.c) and the vocabulary of the
 * output contract (include/pm.h, analyze/vocab.c): pm_sanitize of attacker-controlled text,
 * pm_sanitize_display and the diagnostics channel (escape sequences and ill-formed UTF-8 in
 * a name never reach stderr; the tool's own UTF-8 does),
 * pm_strlcpy, address parsing and formatting (IPv4, IPv6, canonical forms, bad input) and
 * the address predicates, RFC 3339 time parsing (Z, offsets, fractions, @epoch, no zone,
 * bad input) and formatting (microseconds, before 1970, none), durations, strict number and
 * port-list parsing, and every outcome/verdict/owner/confidence word exactly as the contract
 * spells it, round-tripped.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <arpa/inet.h>
#include <limits.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pktbuild.h"
#include "pm.h"
#include "util.h"

/* ================================ text ================================ */

Test(util, sanitize_keeps_printable_ascii_only)
{
    char out[64];
    const uint8_t in[] = "a\r\nb\tc\x01\x7f\xc3\xa9~ z";
    size_t n = pm_sanitize(out, sizeof(out), in, sizeof(in) - 1);
    cr_assert_str_eq(out, "a  b c????~ z");
    cr_assert_eq(n, strlen(out));
    /* an embedded NUL does not end the copy early: it is replaced too */
    const uint8_t nul[] = {'x', 0, 'y'};
    pm_sanitize(out, sizeof(out), nul, 3);
    cr_assert_str_eq(out, "x?y");
}

Test(util, sanitize_truncates_and_terminates)
{
    char out[4] = {'Z', 'Z', 'Z', 'Z'};
    size_t n = pm_sanitize(out, sizeof(out), (const uint8_t *)"abcdef", 6);
    cr_assert_str_eq(out, "abc");
    cr_assert_eq(n, 3);
    n = pm_sanitize(out, sizeof(out), (const uint8_t *)"", 0);
    cr_assert_str_eq(out, "");
    cr_assert_eq(n, 0);
    cr_assert_eq(pm_sanitize(out, 0, (const uint8_t *)"abc", 3), 0, "no room: no write");
}

Test(util, sanitize_display_keeps_utf8_and_nothing_that_acts_on_a_terminal)
{
    char out[128];
    const char in[] = "\xc2\xa7 \xe2\x80\x94 caf\xc3\xa9 "   /* kept: the tool's own, a name */
                      "\x1b[2J\x07\x7f|\r\n\t|"           /* C0, DEL; CR LF TAB as spaces */
                      "\xc2\x9b" "31m|"                     /* C1 CSI: one character, one ? */
                      "\xe2\x80\xae\xe2\x80\xa8|"           /* RLO, line separator */
                      "\xff\xc0\xaf\xed\xa0\x80\xe2\x80";    /* ill-formed: one ? per byte */
    size_t n = pm_sanitize_display(out, sizeof(out), in, sizeof(in) - 1);
    cr_assert_str_eq(out, "\xc2\xa7 \xe2\x80\x94 caf\xc3\xa9 ?[2J??|   |?31m|??|????????");
    cr_assert_eq(n, strlen(out));
    /* never half a character: the dash does not fit whole in 4 bytes + NUL after "ab" */
    char small[5];
    pm_sanitize_display(small, sizeof(small), "ab\xe2\x80\x94", 5);
    cr_assert_str_eq(small, "ab");
    char none[1] = {'Z'};
    cr_assert_eq(pm_sanitize_display(none, sizeof(none), "abc", 3), 0);
    cr_assert_eq(none[0], '\0');
    /* a NUL inside the given length is a control, not the end */
    pm_sanitize_display(out, sizeof(out), "a\0b", 3);
    cr_assert_str_eq(out, "a?b");
}

/* Every diagnostic goes through the same sanitiser, whatever its arguments. */
Test(util, diagnostics_are_sanitised_whole, .init = cr_redirect_stderr)
{
    pm_err("cannot read %s: %s", "x\x1b]0;pwned\x07\xff.log", "\xe2\x80\x94 reason");
    pm_hint("try %s", "\xe2\x80\xae" "gol.exe");
    pm_say("bundle %s written", "d\r\nfake: line");
    fflush(stderr);
    cr_assert_stderr_eq_str("portmortem: cannot read x?]0;pwned??.log: \xe2\x80\x94 reason\n"
                            "  hint: try ?gol.exe\n"
                            "portmortem: bundle d  fake: line written\n");
}

Test(util, strlcpy)
{
    char out[5];
    cr_assert_eq(pm_strlcpy(out, "hello world", sizeof(out)), 11);
    cr_assert_str_eq(out, "hell");
    cr_assert_eq(pm_strlcpy(out, "hi", sizeof(out)), 2);
    cr_assert_str_eq(out, "hi");
}

/* ================================ addresses ================================ */

Test(util, address_round_trips)
{
    const char *canonical[] = {"192.0.2.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::1",
                               "::", "fe80::1:2", "2001:db8:0:1:2:3:4:5", "::ffff:192.0.2.1"};
    for (size_t i = 0; i < PM_ARRAY_LEN(canonical); i++) {
        pm_addr a;
        char s[PM_ADDR_STRLEN];
        cr_assert(pm_addr_parse(canonical[i], &a), "%s", canonical[i]);
        cr_assert_str_eq(pm_addr_str(&a, s), canonical[i]);
    }
    pm_addr a;
    char s[PM_ADDR_STRLEN];
    cr_assert(pm_addr_parse("2001:0DB8:0000:0000:0000:0000:0000:0001", &a));
    cr_assert_str_eq(pm_addr_str(&a, s), "2001:db8::1", "RFC 5952 form");
    cr_assert(pm_addr_parse("192.0.2.1", &a));
    cr_assert_eq(a.family, PM_AF_INET);
    static const uint8_t zero[12];
    cr_assert_eq(memcmp(a.b + 4, zero, 12), 0, "IPv4 leaves the rest zero for memcmp/hash");
    cr_assert(pm_addr_parse("2001:db8::1", &a));
    cr_assert_eq(a.family, PM_AF_INET6);
    memset(&a, 0, sizeof(a));
    cr_assert_str_eq(pm_addr_str(&a, s), "-");
}

/* pm_addr_str formats IPv4 by hand (glibc's inet_ntop goes through sprintf): it must agree
 * with inet_ntop for one-, two- and three-digit octets in every position. */
Test(util, ipv4_text_agrees_with_inet_ntop)
{
    static const uint8_t octets[] = {0, 1, 9, 10, 19, 99, 100, 101, 109, 110, 199, 200, 249,
                                     250, 255};
    for (size_t i = 0; i < sizeof(octets); i++) {
        for (int pos = 0; pos < 4; pos++) {
            pm_addr a;
            memset(&a, 0, sizeof(a));
            a.family = PM_AF_INET;
            a.b[0] = 192;
            a.b[1] = 0;
            a.b[2] = 2;
            a.b[3] = 7;
            a.b[pos] = octets[i];
            char mine[PM_ADDR_STRLEN], libc[INET_ADDRSTRLEN];
            pm_addr_str(&a, mine);
            cr_assert_not_null(inet_ntop(AF_INET, a.b, libc, sizeof(libc)));
            cr_assert_str_eq(mine, libc, "octet %u at %d", octets[i], pos);
        }
    }
}

Test(util, address_bad_input)
{
    const char *bad[] = {"", "256.0.0.1", "1.2.3", "1.2.3.4.5", "::g", "[::1]", "fe80::1%eth0",
                         "192.0.2.1/24", " 192.0.2.1", "192.0.2.1 ", "1:2:3:4:5:6:7:8:9",
                         "0x7f.1", "localhost",
                         "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc"};
    for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
        pm_addr a;
        memset(&a, 0xaa, sizeof(a));
        cr_assert_not(pm_addr_parse(bad[i], &a), "\"%s\" parsed", bad[i]);
        cr_assert_eq(a.family, PM_AF_NONE, "\"%s\": output cleared", bad[i]);
    }
    pm_addr a;
    cr_assert_not(pm_addr_parse(NULL, &a));
}

Test(util, address_predicates)
{
    pm_addr a = pb_addr("127.5.5.5"), b = pb_addr("::1"), c = pb_addr("::2");
    cr_assert(pm_addr_is_loopback(&a));
    cr_assert(pm_addr_is_loopback(&b));
    cr_assert_not(pm_addr_is_loopback(&c));
    pm_addr m4 = pb_addr("224.0.0.251"), m6 = pb_addr("ff02::1"), u = pb_addr("192.0.2.1");
    cr_assert(pm_addr_is_multicast(&m4));
    cr_assert(pm_addr_is_multicast(&m6));
    cr_assert_not(pm_addr_is_multicast(&u));
    pm_addr bc = pb_addr("255.255.255.255"), z4 = pb_addr("0.0.0.0"), z6 = pb_addr("::");
    cr_assert(pm_addr_is_broadcast(&bc));
    cr_assert_not(pm_addr_is_broadcast(&u));
    cr_assert(pm_addr_is_unspecified(&z4));
    cr_assert(pm_addr_is_unspecified(&z6));
    cr_assert_not(pm_addr_is_unspecified(&u));
    /* equality includes the family */
    pm_addr v4 = pb_addr("1.2.3.4"), v6 = pb_addr("102:304::");
    cr_assert_eq(memcmp(v4.b, v6.b, 16), 0);
    cr_assert_not(pm_addr_eq(&v4, &v6));
}

Test(util, same_prefix)
{
    pm_addr a = pb_addr("192.0.2.1"), b = pb_addr("192.0.2.200"), c = pb_addr("192.0.3.1");
    cr_assert(pm_addr_same_prefix(&a, &b, 24));
    cr_assert_not(pm_addr_same_prefix(&a, &b, 25));
    cr_assert_not(pm_addr_same_prefix(&a, &c, 24));
    cr_assert(pm_addr_same_prefix(&a, &c, 22));
    cr_assert(pm_addr_same_prefix(&a, &c, 0));
    cr_assert(pm_addr_same_prefix(&a, &a, 200), "bits beyond 32 are clamped");
    pm_addr x = pb_addr("2001:db8:1:2::1"), y = pb_addr("2001:db8:1:2:ffff::9");
    pm_addr z = pb_addr("2001:db8:1:3::1");
    cr_assert(pm_addr_same_prefix(&x, &y, 64));
    cr_assert_not(pm_addr_same_prefix(&x, &z, 64));
    cr_assert(pm_addr_same_prefix(&x, &z, 63));
    pm_addr v6 = pb_addr("c000:201::");
    cr_assert_not(pm_addr_same_prefix(&a, &v6, 16), "families differ");
    pm_addr none;
    memset(&none, 0, sizeof(none));
    cr_assert_not(pm_addr_same_prefix(&none, &none, 0));
}

/* ================================ time ================================ */

#define T_2026 INT64_C(1795890769) /* 2026-11-28T18:32:49Z */

static pm_ns parse(const char *s)
{
    pm_ns t = 0;
    cr_assert(pm_time_parse(s, &t), "\"%s\" did not parse", s);
    return t;
}

Test(util, time_parse_rfc3339)
{
    cr_assert_eq(parse("2026-11-28T18:32:49Z"), PM_SEC(T_2026));
    cr_assert_eq(parse("2026-11-28t18:32:49z"), PM_SEC(T_2026));
    cr_assert_eq(parse("2026-11-28 18:32:49"), PM_SEC(T_2026), "no zone: UTC");
    cr_assert_eq(parse("2026-11-28T19:32:49+01:00"), PM_SEC(T_2026));
    cr_assert_eq(parse("2026-11-28T17:02:49-0130"), PM_SEC(T_2026));
    cr_assert_eq(parse("2026-11-29T04:32:49+10"), PM_SEC(T_2026));
    cr_assert_eq(parse("2026-11-28T18:32:49.5Z"), PM_SEC(T_2026) + PM_MS(500));
    cr_assert_eq(parse("2026-11-28T18:32:49,123456789+00:00"), PM_SEC(T_2026) + 123456789);
    cr_assert_eq(parse("2026-11-28T18:32:49.000001Z"), PM_SEC(T_2026) + 1000);
    cr_assert_eq(parse("2026-11-28"), PM_SEC(INT64_C(1795824000)));
    cr_assert_eq(parse("2026-11-28T18:32Z"), PM_SEC(T_2026 - 49));
    cr_assert_eq(parse("2000-02-29T00:00:00Z"), PM_SEC(INT64_C(951782400)), "leap day");
    cr_assert_eq(parse("1999-12-31T23:59:60Z"), PM_SEC(INT64_C(946684800)), "leap second");
    cr_assert_eq(parse("1970-01-01T00:00:00Z"), 0);
    /* the last day of each month, leap years by the Gregorian rule */
    parse("2026-01-31");
    parse("2026-02-28");
    parse("2028-02-29");
    parse("2096-02-29");
    parse("2026-03-31");
    parse("2026-04-30");
    parse("2026-12-31");
}

Test(util, time_parse_epoch)
{
    cr_assert_eq(parse("@1795890769"), PM_SEC(T_2026));
    cr_assert_eq(parse("@0"), 0);
    pm_ns t;
    cr_assert_not(pm_time_parse("@-5", &t));
    cr_assert_not(pm_time_parse("@12x", &t));
    cr_assert_not(pm_time_parse("@", &t));
}

Test(util, time_parse_bad_input)
{
    const char *bad[] = {"", "2026", "2026-11", "2026/11/28", "2026-13-01T00:00:00Z",
                         "2026-00-10", "2026-11-32", "2026-11-28T24:00:00Z",
                         "2026-11-28T18:60:00Z", "2026-11-28T18:32:61Z",
                         "2026-11-28T18:32:49Zjunk", "2026-11-28T18:32:49+1", "2026-11-28T1",
                         "2026-11-28T18:3x:49Z", "yesterday", "2026-11-28X18:32:49",
                         /* days the month does not have (issue 19) */
                         "2026-02-30", "2026-02-29T00:00:00Z", "1900-02-29", "2026-04-31",
                         "2026-06-31T12:00:00Z", "2026-09-31", "2026-11-31"};
    for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
        pm_ns t;
        cr_assert_not(pm_time_parse(bad[i], &t), "\"%s\" parsed", bad[i]);
    }
}

Test(util, time_format)
{
    char b[40];
    cr_assert_str_eq(pm_time_str(PM_SEC(1700000000) + 123456789, b, sizeof(b)),
                     "2023-11-14T22:13:20.123456Z", "microseconds, truncated");
    cr_assert_str_eq(pm_time_str(PM_SEC(T_2026), b, sizeof(b)), "2026-11-28T18:32:49.000000Z");
    cr_assert_str_eq(pm_time_str(-1, b, sizeof(b)), "1969-12-31T23:59:59.999999Z");
    cr_assert_str_eq(pm_time_str(PM_NS_NONE, b, sizeof(b)), "null");
    cr_assert_str_eq(pm_time_short(PM_SEC(1700000000) + 123456789, b, sizeof(b)),
                     "22:13:20.123");
    cr_assert_str_eq(pm_time_short(PM_NS_NONE, b, sizeof(b)), "--:--:--");
    /* what pm_time_str writes, pm_time_parse reads back */
    pm_ns t = PM_SEC(1700000000) + 123456000;
    cr_assert_eq(parse(pm_time_str(t, b, sizeof(b))), t);
}

/* pm_time_str keeps the formatted second of its last call: alternating seconds, the same
 * second with other fractions, and a short buffer must all still come out right. */
Test(util, time_format_cache_does_not_leak_between_calls)
{
    char b[40];
    for (int round = 0; round < 3; round++) {
        cr_assert_str_eq(pm_time_str(PM_SEC(1700000000) + 5000, b, sizeof(b)),
                         "2023-11-14T22:13:20.000005Z");
        cr_assert_str_eq(pm_time_str(PM_SEC(1700000001) + 999999999, b, sizeof(b)),
                         "2023-11-14T22:13:21.999999Z");
        cr_assert_str_eq(pm_time_str(PM_SEC(1700000001), b, sizeof(b)),
                         "2023-11-14T22:13:21.000000Z");
        cr_assert_str_eq(pm_time_str(PM_NS_NONE, b, sizeof(b)), "null");
    }
    char small[11];
    cr_assert_str_eq(pm_time_str(PM_SEC(1700000000), small, sizeof(small)), "2023-11-14",
                     "truncated to the buffer, terminated");
}

Test(util, durations)
{
    char b[32];
    cr_assert_str_eq(pm_dur_str(PM_MS(3012), b, sizeof(b)), "3.012");
    cr_assert_str_eq(pm_dur_str(0, b, sizeof(b)), "0.000");
    cr_assert_str_eq(pm_dur_str(-PM_MS(500), b, sizeof(b)), "-0.500");
    cr_assert_str_eq(pm_dur_str(PM_SEC(75) + 999999, b, sizeof(b)), "75.000", "ns truncated");
}

/* ================================ numbers and ports ================================ */

Test(util, parse_long)
{
    long v;
    cr_assert(pm_parse_long("25", 1, 65535, &v));
    cr_assert_eq(v, 25);
    cr_assert(pm_parse_long("-3", -5, 5, &v));
    cr_assert_eq(v, -3);
    const char *bad[] = {"", "25x", "x25", "0x19", "65536", "0", "99999999999999999999999"};
    for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
        cr_assert_not(pm_parse_long(bad[i], 1, 65535, &v), "\"%s\"", bad[i]);
    }
    cr_assert_not(pm_parse_long(NULL, 0, 1, &v));
}

/* Issue 19: NaN compared false with both bounds and passed every range check; strtod also
 * took "inf", hex, leading blanks and overflowed to HUGE_VAL. One parser refuses them all. */
Test(util, parse_long_is_strict)
{
    long v = 42;
    const char *bad[] = {" 25", "25 ", "\t25", "+", "-", "2 5", "25\n", "1e3", "25.0",
                         "nan", "inf", "9223372036854775808", "-9223372036854775809"};
    for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
        cr_assert_not(pm_parse_long(bad[i], LONG_MIN, LONG_MAX, &v), "\"%s\"", bad[i]);
    }
    cr_assert_eq(v, 42, "a refused value leaves *out alone");
    cr_assert(pm_parse_long("+25", 1, 65535, &v));
    cr_assert_eq(v, 25);
    cr_assert(pm_parse_long("9223372036854775807", 0, LONG_MAX, &v));
    cr_assert_eq(v, LONG_MAX);
}

Test(util, parse_double)
{
    double d = 7;
    cr_assert(pm_parse_double("2.5", 0, 10, &d));
    cr_assert_float_eq(d, 2.5, 1e-12);
    cr_assert(pm_parse_double("-3600", -86400, 86400, &d));
    cr_assert_float_eq(d, -3600.0, 1e-12);
    cr_assert(pm_parse_double(".5", 0, 1, &d));
    cr_assert_float_eq(d, 0.5, 1e-12);
    cr_assert(pm_parse_double("5.", 0, 10, &d));
    cr_assert_float_eq(d, 5.0, 1e-12);
    cr_assert(pm_parse_double("1e2", 0, 1000, &d));
    cr_assert_float_eq(d, 100.0, 1e-12);
    cr_assert(pm_parse_double("0.01", 0.01, 100, &d), "the bounds are inclusive");
    d = 7;
    const char *bad[] = {"", "nan", "NaN", "-nan", "nan(0x1)", "inf", "-inf", "infinity",
                         "1e999", "-1e999", "0x10", "0x1p3", " 1", "1 ", "1s", "1,5", ".",
                         "-", "e5", "1e", "1e+", "--1", "1..2", "101", "-0.001"};
    for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
        cr_assert_not(pm_parse_double(bad[i], 0, 100, &d), "\"%s\"", bad[i]);
    }
    cr_assert_float_eq(d, 7.0, 1e-12, "a refused value leaves *out alone");
    cr_assert_not(pm_parse_double(NULL, 0, 1, &d));
}

Test(util, parse_secs)
{
    pm_ns t = 0;
    cr_assert(pm_parse_secs("2.5", 0, 10, &t));
    cr_assert_eq(t, PM_MS(2500));
    cr_assert(pm_parse_secs("0.1", 0.1, 600, &t));
    cr_assert_eq(t, PM_MS(100), "rounded, not truncated (0.1 is not exact in binary)");
    cr_assert(pm_parse_secs("-3600", -31536000, 31536000, &t));
    cr_assert_eq(t, -PM_SEC(3600));
    cr_assert_not(pm_parse_secs("nan", 0.05, 30, &t));
    cr_assert_not(pm_parse_secs("inf", 0.05, 30, &t));
    cr_assert_not(pm_parse_secs("31", 0.05, 30, &t));
    cr_assert_not(pm_parse_secs("1", 0, 1e300, &t), "a bound pm_ns cannot hold is refused");
}

Test(util, parse_ports)
{
    uint16_t p[16];
    cr_assert_eq(pm_parse_ports("25,465,587", p, 16), 3);
    cr_assert_eq(p[0], 25);
    cr_assert_eq(p[1], 465);
    cr_assert_eq(p[2], 587);
    cr_assert_eq(pm_parse_ports("25", p, 16), 1);
    cr_assert_eq(pm_parse_ports("25,587,25,587", p, 16), 2, "duplicates folded");
    cr_assert_eq(p[1], 587);
    cr_assert_eq(pm_parse_ports("65535", p, 16), 1);
    const char *bad[] = {"", ",", "25,", ",25", "25,,587", "0", "65536", "25-30", "25 587",
                         "smtp", "-25", "1234567"};
    for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
        cr_assert_eq(pm_parse_ports(bad[i], p, 16), -1, "\"%s\"", bad[i]);
    }
    cr_assert_eq(pm_parse_ports("1,2,3", p, 2), -1, "more ports than room");
}

/* ================================ files written as root ================================ */

static char oscratch[64];

static const char *opath(const char *name)
{
    static char p[128];
    snprintf(p, sizeof(p), "%s/%s", oscratch, name);
    return p;
}

static void put(const char *name, const char *text, mode_t mode, uid_t uid)
{
    FILE *f = fopen(opath(name), "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(opath(name), mode), 0);
    cr_assert_eq(chown(opath(name), uid, (gid_t)-1), 0);
}

static off_t size_of(const char *path)
{
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0, "%s", path);
    return st.st_size;
}

/* Issue 19: every path opened as root for writing. Run as root (make check is); each case
 * is what a local user could plant in a shared directory. */
Test(util, open_output_as_root, .timeout = 20)
{
    if (geteuid() != 0) {
        cr_skip_test("needs root: the rules are those of files written as root");
    }
    snprintf(oscratch, sizeof(oscratch), "/tmp/pm-out-XXXXXX");
    cr_assert_not_null(mkdtemp(oscratch));
    char why[256];
    bool created = true;
    int fd;

    /* a new file: created, 0600 whatever the umask allows more of */
    mode_t old = umask(0);
    fd = pm_open_output(opath("new.pcap"), (uid_t)-1, &created, why, sizeof(why));
    umask(old);
    cr_assert_geq(fd, 0, "%s", why);
    cr_assert(created);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600);
    close(fd);

    /* a symlink is never followed: its target keeps its bytes */
    put("target", "precious", 0644, 0);
    char target[128];
    snprintf(target, sizeof(target), "%s", opath("target"));
    cr_assert_eq(symlink(target, opath("link")), 0);
    fd = pm_open_output(opath("link"), (uid_t)-1, &created, why, sizeof(why));
    cr_assert_eq(fd, -1);
    cr_assert_eq(errno, ELOOP);
    cr_assert(strstr(why, "symbolic link"), "%s", why);
    cr_assert_eq(size_of(opath("target")), 8);

    /* a FIFO: refused at once (open(2) without O_NONBLOCK would wait for a reader) */
    cr_assert_eq(mkfifo(opath("fifo"), 0666), 0);
    fd = pm_open_output(opath("fifo"), (uid_t)-1, &created, why, sizeof(why));
    cr_assert_eq(fd, -1);
    cr_assert(strstr(why, "FIFO"), "%s", why);

    /* a device: refused, neither opened nor handed to anyone */
    struct stat before, after;
    cr_assert_eq(stat("/dev/null", &before), 0);
    fd = pm_open_output("/dev/null", 65534, &created, why, sizeof(why));
    cr_assert_eq(fd, -1);
    cr_assert(strstr(why, "device"), "%s", why);
    cr_assert_eq(stat("/dev/null", &after), 0);
    cr_assert_eq(after.st_uid, before.st_uid);
    cr_assert_eq(after.st_mode, before.st_mode);

    /* a directory */
    fd = pm_open_output(oscratch, (uid_t)-1, &created, why, sizeof(why));
    cr_assert_eq(fd, -1);

    /* a hard link to a file of ours: the other name's content must survive */
    put("mine", "keep me", 0600, 0);
    char mine[128];
    snprintf(mine, sizeof(mine), "%s", opath("mine"));
    cr_assert_eq(link(mine, opath("hard")), 0);
    fd = pm_open_output(opath("hard"), (uid_t)-1, &created, why, sizeof(why));
    cr_assert_eq(fd, -1);
    cr_assert_eq(errno, EMLINK);
    cr_assert_eq(size_of(opath("mine")), 7);

    /* planted by another user, 0666: refused, untouched */
    put("planted", "theirs", 0666, 1234);
    fd = pm_open_output(opath("planted"), 65534, &created, why, sizeof(why));
    cr_assert_eq(fd, -1);
    cr_assert_eq(errno, EPERM);
    cr_assert(strstr(why, "uid 1234"), "%s", why);
    cr_assert_eq(size_of(opath("planted")), 6);

    /* the -Z user's file as an earlier run left it (0600): replaced; but 0644: refused */
    put("zuser", "old capture", 0600, 65534);
    fd = pm_open_output(opath("zuser"), 65534, &created, why, sizeof(why));
    cr_assert_geq(fd, 0, "%s", why);
    cr_assert_not(created);
    close(fd);
    cr_assert_eq(size_of(opath("zuser")), 0, "truncated");
    put("zopen", "old capture", 0644, 65534);
    fd = pm_open_output(opath("zopen"), 65534, &created, why, sizeof(why));
    cr_assert_eq(fd, -1);
    cr_assert(strstr(why, "0644"), "%s", why);

    /* root's own file (tcpdump replaces it too): truncated, owner and mode kept */
    put("own", "yesterday", 0640, 0);
    fd = pm_open_output(opath("own"), (uid_t)-1, &created, why, sizeof(why));
    cr_assert_geq(fd, 0, "%s", why);
    cr_assert_not(created);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640, "the mode of a file we did not create is kept");
    cr_assert_eq(st.st_size, 0);
    cr_assert_eq(write(fd, "x", 1), 1);
    char c;
    cr_assert_eq(pread(fd, &c, 1, 0), 1, "read-write: the bundle reads it back");
    close(fd);

    const char *names[] = {"new.pcap", "target", "link", "fifo", "mine", "hard", "planted",
                           "zuser", "zopen", "own"};
    for (size_t i = 0; i < PM_ARRAY_LEN(names); i++) {
        unlink(opath(names[i]));
    }
    cr_assert_eq(rmdir(oscratch), 0, "nothing else was created");
}

/* ================================ vocabulary ================================ */

/* The words exactly as docs/OUTPUT.md (the output contract) spells them. */
Test(vocab, outcome_words_match_the_contract)
{
    const char *words[PM_OUT__COUNT] = {
        [PM_OUT_CONNECTED] = "connected",
        [PM_OUT_SMTP_REJECTED] = "smtp-rejected",
        [PM_OUT_NO_BANNER] = "no-banner",
        [PM_OUT_CLOSED_BEFORE_BANNER] = "closed-before-banner",
        [PM_OUT_REFUSED] = "refused",
        [PM_OUT_ICMP_UNREACHABLE] = "icmp-unreachable",
        [PM_OUT_TTL_EXCEEDED] = "ttl-exceeded",
        [PM_OUT_NO_RESPONSE] = "no-response",
        [PM_OUT_NOT_ON_WIRE] = "not-on-wire",
        [PM_OUT_INCOMPLETE] = "incomplete",
        [PM_OUT_TLS_MISMATCH] = "tls-mismatch", /* issue 14, item 7: an added word */
    };
    for (int o = 0; o < PM_OUT__COUNT; o++) {
        cr_assert_str_eq(pm_outcome_name((enum pm_outcome)o), words[o]);
        cr_assert_eq(pm_outcome_from_name(words[o]), o);
    }
    cr_assert_eq(pm_outcome_from_name("Connected"), -1, "exact spelling only");
    cr_assert_eq(pm_outcome_from_name("timeout"), -1);
    cr_assert_str_eq(pm_outcome_name((enum pm_outcome)99), "incomplete");
}

Test(vocab, verdict_words_match_the_contract)
{
    const char *words[PM_V__COUNT] = {
        [PM_V_OK] = "ok",
        [PM_V_LOCAL_FIREWALL] = "local-firewall",
        [PM_V_LOCAL_ROUTING] = "local-routing",
        [PM_V_NAT_REWRITE] = "nat-rewrite",
        [PM_V_NAT_DROP] = "nat-drop",
        [PM_V_REMOTE_REFUSED] = "remote-refused",
        [PM_V_PATH_RST] = "path-rst",
        [PM_V_REMOTE_ICMP] = "remote-icmp",
        [PM_V_PATH_ICMP] = "path-icmp",
        [PM_V_SILENT_DROP] = "silent-drop",
        [PM_V_PROVIDER_BLOCK] = "provider-block",
        [PM_V_NO_BANNER] = "no-banner",
        [PM_V_SMTP_POLICY] = "smtp-policy",
        [PM_V_INCONCLUSIVE] = "inconclusive",
        [PM_V_TLS_MISMATCH] = "tls-mismatch", /* issue 14, item 7: an added word */
    };
    for (int v = 0; v < PM_V__COUNT; v++) {
        cr_assert_str_eq(pm_verdict_name((enum pm_verdict)v), words[v]);
        cr_assert_eq(pm_verdict_from_name(words[v]), v);
    }
    cr_assert_eq(pm_verdict_from_name(""), -1);
    cr_assert_str_eq(pm_verdict_name((enum pm_verdict)-1), "inconclusive");
}

Test(vocab, owner_and_confidence_words_match_the_contract)
{
    const char *words[PM_OWN__COUNT] = {
        [PM_OWN_NONE] = "none",
        [PM_OWN_SENDER_HOST] = "sender-host",
        [PM_OWN_SENDER_NETWORK] = "sender-network",
        [PM_OWN_PROVIDER] = "provider",
        [PM_OWN_PATH] = "path",
        [PM_OWN_RECIPIENT_GATEWAY] = "recipient-gateway",
        [PM_OWN_RECIPIENT_POSTMASTER] = "recipient-postmaster",
        [PM_OWN_UNKNOWN] = "unknown",
    };
    for (int o = 0; o < PM_OWN__COUNT; o++) {
        cr_assert_str_eq(pm_owner_name((enum pm_owner)o), words[o]);
        cr_assert_eq(pm_owner_from_name(words[o]), o);
    }
    cr_assert_eq(pm_owner_from_name("postmaster"), -1);
    cr_assert_str_eq(pm_owner_name((enum pm_owner)42), "unknown");
    cr_assert_str_eq(pm_confidence_name(PM_CONF_HIGH), "high");
    cr_assert_str_eq(pm_confidence_name(PM_CONF_MEDIUM), "medium");
    cr_assert_str_eq(pm_confidence_name(PM_CONF_LOW), "low");
    cr_assert_str_eq(pm_confidence_name((enum pm_confidence)7), "low");
}

Test(vocab, which_outcomes_are_failures)
{
    cr_assert_not(pm_outcome_is_failure(PM_OUT_CONNECTED));
    cr_assert_not(pm_outcome_is_failure(PM_OUT_INCOMPLETE), "not proven either way");
    const enum pm_outcome fail[] = {PM_OUT_SMTP_REJECTED, PM_OUT_NO_BANNER,
                                    PM_OUT_CLOSED_BEFORE_BANNER, PM_OUT_REFUSED,
                                    PM_OUT_ICMP_UNREACHABLE, PM_OUT_TTL_EXCEEDED,
                                    PM_OUT_NO_RESPONSE, PM_OUT_NOT_ON_WIRE};
    for (size_t i = 0; i < PM_ARRAY_LEN(fail); i++) {
        cr_assert(pm_outcome_is_failure(fail[i]), "%s", pm_outcome_name(fail[i]));
    }
}

/* pm.h: "int64 covers years 1678..2262". A time outside that range cannot be represented;
 * it must be refused, not computed with a signed overflow (UBSan aborts on it). */
Test(util, time_parse_out_of_range_is_refused)
{
    pm_ns t;
    cr_assert_not(pm_time_parse("9999-12-31T23:59:59Z", &t));
    cr_assert_not(pm_time_parse("2263-01-01T00:00:00Z", &t));
    cr_assert(pm_time_parse("2262-01-01T00:00:00Z", &t));
    cr_assert_gt(t, 0);
}

/* Issue 14 item 8: delays people can read — never "0.000 s", never negative. */
Test(util, delays_with_their_unit)
{
    char b[32];
    cr_assert_str_eq(pm_delay_str(PM_MS(3012), b, sizeof(b)), "3.012 s");
    cr_assert_str_eq(pm_delay_str(PM_SEC(127), b, sizeof(b)), "127 s");
    cr_assert_str_eq(pm_delay_str(PM_SEC(1), b, sizeof(b)), "1 s");
    cr_assert_str_eq(pm_delay_str(PM_MS(420), b, sizeof(b)), "420 ms");
    cr_assert_str_eq(pm_delay_str((PM_MS(42) + 100000), b, sizeof(b)), "42.1 ms");
    cr_assert_str_eq(pm_delay_str((PM_MS(1) + 230000), b, sizeof(b)), "1.23 ms");
    cr_assert_str_eq(pm_delay_str(85000, b, sizeof(b)), "85 µs", "sub-millisecond in µs");
    cr_assert_str_eq(pm_delay_str(400, b, sizeof(b)), "400 ns");
    cr_assert_str_eq(pm_delay_str(0, b, sizeof(b)), "0 µs");
    cr_assert_str_eq(pm_delay_str(-PM_MS(500), b, sizeof(b)), "0 µs", "never negative");
}

/* Issue 14 item 8: a report spanning more than one day shows dates. */
Test(util, times_carry_the_date_across_days)
{
    char b[40];
    pm_ns t = PM_SEC(1700000000) + 123456789; /* 2023-11-14 22:13:20 */
    pm_time_context(t - PM_SEC(60), t + PM_SEC(60));
    cr_assert_str_eq(pm_time_short(t, b, sizeof(b)), "22:13:20.123", "one day: time only");
    cr_assert_str_eq(pm_time_short(t + PM_SEC(7200), b, sizeof(b)), "2023-11-15 00:13:20.123",
                     "a time on another day than the report's shows its date");
    pm_time_context(t, t + PM_SEC(7200));
    cr_assert_str_eq(pm_time_short(t, b, sizeof(b)), "2023-11-14 22:13:20.123",
                     "a report across midnight dates every time");
    pm_time_context(PM_NS_NONE, PM_NS_NONE);
    cr_assert_str_eq(pm_time_short(t + PM_SEC(7200), b, sizeof(b)), "00:13:20.123");
}

/* pm_days_from_civil is the one date arithmetic of --since/--until and the MTA log times
 * (issue 17.6: it was copied in mtalog_time.c). Day counts from Python's datetime.date. */
Test(util, days_from_civil_counts_days_from_the_epoch)
{
    cr_assert_eq(pm_days_from_civil(1970, 1, 1), 0);
    cr_assert_eq(pm_days_from_civil(1969, 12, 31), -1);
    cr_assert_eq(pm_days_from_civil(1900, 1, 1), -25567);
    cr_assert_eq(pm_days_from_civil(2000, 3, 1), 11017);
    cr_assert_eq(pm_days_from_civil(2026, 12, 7), 20794);
    cr_assert_eq(pm_days_from_civil(2200, 12, 31), 84370);
    /* leap rules: 2000 and 2024 have a 29 February, 1900 and 2100 do not */
    cr_assert_eq(pm_days_from_civil(2000, 3, 1) - pm_days_from_civil(2000, 2, 28), 2);
    cr_assert_eq(pm_days_from_civil(2024, 3, 1) - pm_days_from_civil(2024, 2, 28), 2);
    cr_assert_eq(pm_days_from_civil(1900, 3, 1) - pm_days_from_civil(1900, 2, 28), 1);
    cr_assert_eq(pm_days_from_civil(2100, 3, 1) - pm_days_from_civil(2100, 2, 28), 1);
}

/* pm_addr_str formats IPv6 by hand: the bytes must be inet_ntop's for every address. A
 * pseudo-random sweep biased to zero groups (where "::" goes) and 0xffff (the IPv4-mapped
 * form inet_ntop still writes). */
Test(util, ipv6_text_is_inet_ntop_bytes)
{
    uint64_t x = 88172645463325252ull;
    for (int k = 0; k < 200000; k++) {
        pm_addr a;
        memset(&a, 0, sizeof(a));
        a.family = PM_AF_INET6;
        for (int i = 0; i < 8; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            unsigned r = (unsigned)(x % 6), v;
            v = r < 3 ? 0 : r == 3 ? (unsigned)(x >> 8) % 16 : r == 4 ? 0xffff
                                                            : (unsigned)(x >> 16) & 0xffff;
            a.b[2 * i] = (uint8_t)(v >> 8);
            a.b[2 * i + 1] = (uint8_t)v;
        }
        char got[PM_ADDR_STRLEN], want[INET6_ADDRSTRLEN];
        pm_addr_str(&a, got);
        cr_assert_not_null(inet_ntop(AF_INET6, a.b, want, sizeof(want)));
        cr_assert_str_eq(got, want);
    }
}
