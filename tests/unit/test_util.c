/*
 * test_util.c — the shared helpers (include/util.h, analyze/util.c) and the vocabulary of the
 * output contract (include/pm.h, analyze/vocab.c): pm_sanitize of attacker-controlled text,
 * pm_strlcpy, address parsing and formatting (IPv4, IPv6, canonical forms, bad input) and
 * the address predicates, RFC 3339 time parsing (Z, offsets, fractions, @epoch, no zone,
 * bad input) and formatting (microseconds, before 1970, none), durations, strict number and
 * port-list parsing, and every outcome/verdict/owner/confidence word exactly as the contract
 * spells it, round-tripped.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <string.h>

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
                         "2026-11-28T18:3x:49Z", "yesterday", "2026-11-28X18:32:49"};
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

/* ================================ vocabulary ================================ */

/* The words exactly as ../shared/reference/output-contract.md spells them. */
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
