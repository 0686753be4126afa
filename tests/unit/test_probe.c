/* test_probe.c — the probe's pure parts (capture/probe_int.h): the keyed ISN (round trip,
 * rejection of wrong ISNs, tuples and keys), SipHash-2-4 against the paper's vector, the token
 * bucket, target refusal, DNS answer parsing of crafted and hostile messages, the
 * quote-vs-sent diff, SMTP reply reading and address literals. */
#include <criterion/criterion.h>

#include <string.h>

#include "../../capture/probe_int.h"
#include "util.h"

/* ---- keyed ISN ---- */

static struct pm_tuple tuple4(void)
{
    struct pm_tuple t;
    memset(&t, 0, sizeof(t));
    pm_addr_parse("192.0.2.10", &t.src);
    pm_addr_parse("203.0.113.10", &t.dst);
    t.sport = 40123;
    t.dport = 25;
    return t;
}

static const struct pm_cookie_key KEY = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

Test(probe_cookie, siphash_matches_the_reference_vector)
{
    /* SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e → a129ca6149be45e5. */
    uint8_t m[15];
    for (int i = 0; i < 15; i++) {
        m[i] = (uint8_t)i;
    }
    cr_assert_eq(pm_siphash24(&KEY, m, sizeof(m)), 0xa129ca6149be45e5ULL);
    /* and the empty message: 726fdb47dd0e0e31 */
    cr_assert_eq(pm_siphash24(&KEY, m, 0), 0x726fdb47dd0e0e31ULL);
}

Test(probe_cookie, round_trip_recovers_ttl_attempt_and_kind)
{
    struct pm_tuple t = tuple4();
    for (int ttl = 1; ttl <= 255; ttl += 7) {
        for (int at = 0; at < 8; at++) {
            for (int kind = 0; kind < 2; kind++) {
                uint32_t isn = pm_cookie_isn(&KEY, &t, (uint8_t)ttl, (uint8_t)at, (uint8_t)kind);
                uint8_t gt = 0, ga = 0, gk = 0;
                cr_assert(pm_cookie_check(&KEY, &t, isn, &gt, &ga, &gk), "ttl %d at %d", ttl, at);
                cr_assert_eq(gt, ttl);
                cr_assert_eq(ga, at);
                cr_assert_eq(gk, kind);
            }
        }
    }
}

Test(probe_cookie, wrong_isn_tuple_or_key_is_rejected)
{
    struct pm_tuple t = tuple4();
    uint32_t isn = pm_cookie_isn(&KEY, &t, 5, 1, PM_PK_WALK);
    /* Every single-bit change of the MAC bits, and of the TTL/attempt/kind bits (the MAC
     * covers them), must fail. */
    for (int b = 0; b < 32; b++) {
        cr_assert(!pm_cookie_check(&KEY, &t, isn ^ (1u << b), NULL, NULL, NULL), "bit %d", b);
    }
    struct pm_tuple u = t;
    u.sport++;
    cr_assert(!pm_cookie_check(&KEY, &u, isn, NULL, NULL, NULL), "another source port");
    u = t;
    pm_addr_parse("203.0.113.20", &u.dst);
    cr_assert(!pm_cookie_check(&KEY, &u, isn, NULL, NULL, NULL), "another destination");
    struct pm_cookie_key k2 = KEY;
    k2.k1 ^= 1;
    cr_assert(!pm_cookie_check(&k2, &t, isn, NULL, NULL, NULL), "another run's key");
    cr_assert(!pm_cookie_check(&KEY, &t, isn & ~0xffu, NULL, NULL, NULL), "TTL 0 is never ours");
}

Test(probe_cookie, random_isns_are_almost_never_accepted)
{
    /* 20 MAC bits: a blind spoofer hits with p = 2^-20 per packet. 200000 guesses → ~0.2. */
    struct pm_tuple t = tuple4();
    uint32_t x = 0x12345678u;
    int hits = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        hits += pm_cookie_check(&KEY, &t, x, NULL, NULL, NULL);
    }
    cr_assert_leq(hits, 4, "%d random ISNs accepted", hits);
}

Test(probe_cookie, ipv6_tuples_work_too)
{
    struct pm_tuple t;
    memset(&t, 0, sizeof(t));
    pm_addr_parse("2001:db8:1::10", &t.src);
    pm_addr_parse("2001:db8:4::10", &t.dst);
    t.sport = 50000;
    t.dport = 25;
    uint32_t isn = pm_cookie_isn(&KEY, &t, 3, 0, PM_PK_WALK);
    cr_assert(pm_cookie_check(&KEY, &t, isn, NULL, NULL, NULL));
    struct pm_tuple v4 = tuple4();
    v4.sport = 50000;
    cr_assert(!pm_cookie_check(&KEY, &v4, isn, NULL, NULL, NULL));
}

/* ---- token bucket ---- */

Test(probe_throttle, first_probe_at_once_then_paced)
{
    struct pm_throttle t;
    pm_ns t0 = PM_SEC(1000);
    pm_throttle_init(&t, 3.0, 1.0, t0);
    cr_assert(pm_throttle_take(&t, t0));
    cr_assert(!pm_throttle_take(&t, t0), "burst 1: the second must wait");
    pm_ns w = pm_throttle_wait(&t, t0);
    cr_assert(w > PM_MS(330) && w <= PM_MS(334), "wait %lld ns", (long long)w);
    cr_assert(!pm_throttle_take(&t, t0 + PM_MS(300)));
    cr_assert(pm_throttle_take(&t, t0 + PM_MS(334)));
}

Test(probe_throttle, never_faster_than_the_rate_over_time)
{
    struct pm_throttle t;
    pm_ns now = 0;
    pm_throttle_init(&t, 3.0, 1.0, now);
    int sent = 0;
    /* A greedy caller polling every millisecond for 10 s. */
    for (int i = 0; i <= 10000; i++, now += PM_MS(1)) {
        sent += pm_throttle_take(&t, now);
    }
    cr_assert(sent >= 30 && sent <= 31, "%d in 10 s at 3/s", sent);
}

Test(probe_throttle, a_long_gap_gives_one_bucket_not_a_burst)
{
    struct pm_throttle t;
    pm_throttle_init(&t, 3.0, 1.0, 0);
    cr_assert(pm_throttle_take(&t, 0));
    pm_ns later = PM_SEC(3600); /* an hour asleep */
    cr_assert(pm_throttle_take(&t, later));
    cr_assert(!pm_throttle_take(&t, later), "the hour must not have saved up tokens");
    cr_assert(!pm_throttle_take(&t, later + PM_MS(100)));
}

Test(probe_throttle, clock_going_back_mints_nothing)
{
    struct pm_throttle t;
    pm_throttle_init(&t, 10.0, 1.0, PM_SEC(100));
    cr_assert(pm_throttle_take(&t, PM_SEC(100)));
    cr_assert(!pm_throttle_take(&t, PM_SEC(50)));
    cr_assert(!pm_throttle_take(&t, PM_SEC(100)));
    cr_assert(pm_throttle_take(&t, PM_SEC(100) + PM_MS(101)));
}

Test(probe_throttle, rates_below_one_per_second_are_honoured)
{
    struct pm_throttle t;
    pm_throttle_init(&t, 0.5, 1.0, 0);
    cr_assert(pm_throttle_take(&t, 0));
    cr_assert(!pm_throttle_take(&t, PM_MS(1999)));
    cr_assert(pm_throttle_take(&t, PM_MS(2000)));
}

/* ---- target refusal ---- */

static const char *refusal(const char *s, bool allow_lo)
{
    pm_addr a;
    cr_assert(pm_addr_parse(s, &a), "%s parses", s);
    return pm_inject_target_refusal(&a, allow_lo);
}

Test(probe_target, refuses_what_is_not_one_host)
{
    const char *bad[] = {"255.255.255.255", "224.0.0.1",  "239.1.2.3", "0.0.0.0",
                         "0.1.2.3",         "240.0.0.1",  "ff02::1",   "::",
                         "::ffff:192.0.2.1", "fe80::1"};
    for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
        cr_assert_not_null(refusal(bad[i], true), "%s must be refused", bad[i]);
    }
    cr_assert(strstr(refusal("255.255.255.255", false), "broadcast"));
    cr_assert(strstr(refusal("224.0.0.1", false), "multicast"));
    cr_assert(strstr(refusal("::", false), "unspecified"));
}

Test(probe_target, loopback_only_with_the_flag)
{
    cr_assert_not_null(refusal("127.0.0.1", false));
    cr_assert_not_null(refusal("::1", false));
    cr_assert_null(refusal("127.0.0.1", true));
    cr_assert_null(refusal("::1", true));
}

Test(probe_target, accepts_unicast)
{
    cr_assert_null(refusal("203.0.113.10", false));
    cr_assert_null(refusal("2001:db8:4::10", false));
    cr_assert_null(refusal("198.51.100.255", false), "a /24's .255 is only known locally");
}

Test(probe_target, address_literals_as_smtp_writes_them)
{
    pm_addr a;
    cr_assert(pm_target_parse_literal("203.0.113.10", &a) && a.family == PM_AF_INET);
    cr_assert(pm_target_parse_literal("[203.0.113.10]", &a) && a.family == PM_AF_INET);
    cr_assert(pm_target_parse_literal("[IPv6:2001:db8::1]", &a) && a.family == PM_AF_INET6);
    cr_assert(pm_target_parse_literal("2001:db8::1", &a) && a.family == PM_AF_INET6);
    cr_assert(!pm_target_parse_literal("[2001:db8::1]", &a), "RFC 5321 needs the IPv6: tag");
    cr_assert(!pm_target_parse_literal("[IPv6:203.0.113.10]", &a));
    cr_assert(!pm_target_parse_literal("example.net", &a));
    cr_assert(!pm_target_parse_literal("[]", &a));
    cr_assert(!pm_target_parse_literal("[", &a));
}

/* ---- DNS answers ---- */

struct msg {
    uint8_t b[1024];
    size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
    cr_assert(m->n + n <= sizeof(m->b));
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
static void put8(struct msg *m, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(m, &b, 1);
}
static void put16(struct msg *m, unsigned v)
{
    put8(m, v >> 8);
    put8(m, v & 0xff);
}
static void put32(struct msg *m, uint32_t v)
{
    put16(m, v >> 16);
    put16(m, v & 0xffff);
}
static void name(struct msg *m, const char *dotted)
{
    const char *p = dotted;
    while (*p) {
        const char *e = strchr(p, '.');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        put8(m, (unsigned)l);
        put(m, p, l);
        p += l;
        if (*p == '.') {
            p++;
        }
    }
    put8(m, 0);
}

/* Header + question for qname/qtype; ancount as given. */
static void header(struct msg *m, unsigned an, const char *qname, unsigned qtype)
{
    m->n = 0;
    put16(m, 0x1234);
    put16(m, 0x8580); /* response, AA, RD, RA, NOERROR */
    put16(m, 1);
    put16(m, an);
    put16(m, 0);
    put16(m, 0);
    name(m, qname);
    put16(m, qtype);
    put16(m, 1);
}

/* A record header with the owner as a pointer to the question name (offset 12). */
static void rrhead(struct msg *m, unsigned type, unsigned rdlen)
{
    put16(m, 0xc00c);
    put16(m, type);
    put16(m, 1);
    put32(m, 300);
    put16(m, rdlen);
}

static void mx(struct msg *m, unsigned pref, const char *exch)
{
    struct msg tmp = {.n = 0};
    name(&tmp, exch);
    rrhead(m, 15, (unsigned)(2 + tmp.n));
    put16(m, pref);
    put(m, tmp.b, tmp.n);
}

Test(probe_dns, two_mx_records)
{
    struct msg m;
    header(&m, 2, "example.net", 15);
    mx(&m, 20, "mx2.example.net");
    mx(&m, 10, "mx1.example.net");
    struct pm_mx out[4];
    char err[200] = "";
    int n = pm_dns_parse_mx(m.b, m.n, out, 4, err, sizeof(err));
    cr_assert_eq(n, 2, "%s", err);
    cr_assert_eq(out[0].pref, 20);
    cr_assert_str_eq(out[0].name, "mx2.example.net");
    cr_assert_eq(out[1].pref, 10);
    cr_assert_str_eq(out[1].name, "mx1.example.net");
}

Test(probe_dns, compressed_exchange_name)
{
    /* Exchange "mx1" + pointer to "example.net" in the question (offset 12). */
    struct msg m;
    header(&m, 1, "example.net", 15);
    rrhead(&m, 15, 2 + 4 + 2);
    put16(&m, 10);
    put8(&m, 3);
    put(&m, "mx1", 3);
    put16(&m, 0xc00c);
    struct pm_mx out[2];
    char err[200] = "";
    cr_assert_eq(pm_dns_parse_mx(m.b, m.n, out, 2, err, sizeof(err)), 1, "%s", err);
    cr_assert_str_eq(out[0].name, "mx1.example.net");
}

Test(probe_dns, null_mx_is_the_root_name)
{
    struct msg m;
    header(&m, 1, "example.org", 15);
    rrhead(&m, 15, 3);
    put16(&m, 0);
    put8(&m, 0);
    struct pm_mx out[2];
    char err[200] = "";
    cr_assert_eq(pm_dns_parse_mx(m.b, m.n, out, 2, err, sizeof(err)), 1, "%s", err);
    cr_assert_eq(out[0].pref, 0);
    cr_assert_str_eq(out[0].name, "", "the root is stored as an empty name");
}

Test(probe_dns, other_types_are_skipped_and_max_is_respected)
{
    struct msg m;
    header(&m, 3, "example.net", 15);
    /* a CNAME on the way */
    struct msg tmp = {.n = 0};
    name(&tmp, "alias.example.net");
    rrhead(&m, 5, (unsigned)tmp.n);
    put(&m, tmp.b, tmp.n);
    mx(&m, 10, "a.example.net");
    mx(&m, 20, "b.example.net");
    struct pm_mx out[1];
    char err[200] = "";
    cr_assert_eq(pm_dns_parse_mx(m.b, m.n, out, 1, err, sizeof(err)), 2, "counted beyond max");
    cr_assert_str_eq(out[0].name, "a.example.net");
}

Test(probe_dns, a_and_aaaa_records)
{
    struct msg m;
    header(&m, 2, "mx1.example.net", 1);
    rrhead(&m, 1, 4);
    put32(&m, 0xcb00710a);
    rrhead(&m, 1, 4);
    put32(&m, 0xcb007114);
    pm_addr a[4];
    char err[200] = "";
    cr_assert_eq(pm_dns_parse_addrs(m.b, m.n, PM_AF_INET, a, 4, err, sizeof(err)), 2, "%s", err);
    char s[PM_ADDR_STRLEN];
    cr_assert_str_eq(pm_addr_str(&a[0], s), "203.0.113.10");
    cr_assert_str_eq(pm_addr_str(&a[1], s), "203.0.113.20");
    /* The same message read for AAAA has none. */
    cr_assert_eq(pm_dns_parse_addrs(m.b, m.n, PM_AF_INET6, a, 4, err, sizeof(err)), 0);

    header(&m, 1, "mx1.example.net", 28);
    rrhead(&m, 28, 16);
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    put(&m, v6, 16);
    cr_assert_eq(pm_dns_parse_addrs(m.b, m.n, PM_AF_INET6, a, 4, err, sizeof(err)), 1, "%s", err);
    cr_assert_str_eq(pm_addr_str(&a[0], s), "2001:db8:4::10");
}

Test(probe_dns, wrong_rdata_lengths_are_malformed)
{
    struct msg m;
    char err[200];
    pm_addr a[2];
    header(&m, 1, "x.example", 1);
    rrhead(&m, 1, 5);
    put32(&m, 0x01020304);
    put8(&m, 5);
    cr_assert_eq(pm_dns_parse_addrs(m.b, m.n, PM_AF_INET, a, 2, err, sizeof(err)), -1);
    cr_assert(strstr(err, "5 bytes"), "%s", err);

    header(&m, 1, "x.example", 28);
    rrhead(&m, 28, 4);
    put32(&m, 0x01020304);
    cr_assert_eq(pm_dns_parse_addrs(m.b, m.n, PM_AF_INET6, a, 2, err, sizeof(err)), -1);

    struct pm_mx out[2];
    header(&m, 1, "x.example", 15);
    rrhead(&m, 15, 2); /* a preference and no name */
    put16(&m, 10);
    cr_assert_eq(pm_dns_parse_mx(m.b, m.n, out, 2, err, sizeof(err)), -1);
}

Test(probe_dns, exchange_name_running_past_its_rdata_is_malformed)
{
    /* RDATA length says 2+4 but the name "mx1.example.net" is longer: its labels continue
     * into whatever follows. */
    struct msg m;
    header(&m, 1, "x.example", 15);
    rrhead(&m, 15, 6);
    put16(&m, 10);
    name(&m, "mx1.example.net");
    struct pm_mx out[2];
    char err[200] = "";
    cr_assert_eq(pm_dns_parse_mx(m.b, m.n, out, 2, err, sizeof(err)), -1);
}

Test(probe_dns, compression_loops_are_malformed)
{
    struct pm_mx out[2];
    char err[200] = "";
    /* In the exchange: a pointer to itself. */
    struct msg m;
    header(&m, 1, "loop.test", 15);
    size_t at = m.n + 12 + 2; /* owner(2) + fixed(10) + preference(2) */
    rrhead(&m, 15, 4);
    put16(&m, 10);
    put16(&m, 0xc000 | (unsigned)at);
    cr_assert_eq(pm_dns_parse_mx(m.b, m.n, out, 2, err, sizeof(err)), -1);
    cr_assert(strstr(err, "broken") || strstr(err, "malformed"), "%s", err);

    /* In the owner name: two pointers pointing at each other. */
    header(&m, 1, "loop.test", 15);
    size_t p1 = m.n;
    put16(&m, 0xc000 | (unsigned)(p1 + 2));
    put16(&m, 0xc000 | (unsigned)p1);
    put16(&m, 15);
    put16(&m, 1);
    put32(&m, 60);
    put16(&m, 3);
    put16(&m, 0);
    put8(&m, 0);
    cr_assert_eq(pm_dns_parse_mx(m.b, m.n, out, 2, err, sizeof(err)), -1);
}

Test(probe_dns, pointers_past_the_end_and_lying_counts)
{
    struct pm_mx out[2];
    pm_addr a[2];
    char err[200] = "";
    struct msg m;
    /* A pointer beyond the message. */
    header(&m, 1, "x.test", 15);
    rrhead(&m, 15, 4);
    put16(&m, 10);
    put16(&m, 0xc000 | 0x3ff);
    cr_assert_eq(pm_dns_parse_mx(m.b, m.n, out, 2, err, sizeof(err)), -1);
    /* ancount 5, one record present: ns_initparse fails. */
    header(&m, 5, "x.test", 1);
    rrhead(&m, 1, 4);
    put32(&m, 1);
    cr_assert_eq(pm_dns_parse_addrs(m.b, m.n, PM_AF_INET, a, 2, err, sizeof(err)), -1);
    cr_assert(strstr(err, "malformed"), "%s", err);
    /* qdcount 65535 */
    header(&m, 0, "x.test", 1);
    m.b[4] = m.b[5] = 0xff;
    cr_assert_eq(pm_dns_parse_addrs(m.b, m.n, PM_AF_INET, a, 2, err, sizeof(err)), -1);
    /* RDATA length beyond the end. */
    header(&m, 1, "x.test", 1);
    rrhead(&m, 1, 400);
    put32(&m, 1);
    cr_assert_eq(pm_dns_parse_addrs(m.b, m.n, PM_AF_INET, a, 2, err, sizeof(err)), -1);
    /* Shorter than a header. */
    cr_assert_eq(pm_dns_parse_addrs(m.b, 11, PM_AF_INET, a, 2, err, sizeof(err)), -1);
    cr_assert_eq(pm_dns_parse_mx(m.b, 0, out, 2, err, sizeof(err)), -1);
}

Test(probe_dns, every_truncation_of_a_good_answer_is_safe)
{
    struct msg m;
    header(&m, 2, "example.net", 15);
    mx(&m, 10, "mx1.example.net");
    mx(&m, 20, "mx2.example.net");
    struct pm_mx out[4];
    char err[200];
    for (size_t n = 0; n < m.n; n++) {
        int r = pm_dns_parse_mx(m.b, n, out, 4, err, sizeof(err));
        cr_assert(r <= 1, "a cut answer at %zu gave %d records", n, r);
    }
    cr_assert_eq(pm_dns_parse_mx(m.b, m.n, out, 4, err, sizeof(err)), 2);
}

Test(probe_dns, random_bytes_never_crash)
{
    uint8_t b[300];
    uint32_t x = 0x9e3779b9u;
    struct pm_mx out[4];
    pm_addr a[4];
    char err[200];
    for (int i = 0; i < 20000; i++) {
        size_t n = 12 + (x % 280);
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b[k] = (uint8_t)x;
        }
        b[4] = 0; /* one question at most, to get past the header now and then */
        b[5] = (uint8_t)(x & 1);
        (void)pm_dns_parse_mx(b, n, out, 4, err, sizeof(err));
        (void)pm_dns_parse_addrs(b, n, PM_AF_INET6, a, 4, err, sizeof(err));
    }
}

/* ---- quote vs sent ---- */

static struct pm_sent sent4(void)
{
    struct pm_sent s;
    memset(&s, 0, sizeof(s));
    s.t = tuple4();
    s.ttl = 3;
    s.isn = 0xdeadb003u;
    s.ip_id = 4242;
    s.tos = 0;
    s.ip_len = 60;
    s.tcp_flags = 0x02;
    s.win = 64240;
    s.mss = 1460;
    s.wscale = 7;
    s.sack_ok = 1;
    s.has_ts = 1;
    s.tsval = 777;
    s.optlen = 20;
    s.nkinds = 4;
    s.kinds[0] = 2;
    s.kinds[1] = 4;
    s.kinds[2] = 8;
    s.kinds[3] = 3;
    return s;
}

/* The full quote a Linux router sends (RFC 1812: as much as fits). */
static struct pm_quote quote_of(const struct pm_sent *s)
{
    struct pm_quote q;
    memset(&q, 0, sizeof(q));
    q.family = PM_AF_INET;
    q.src = s->t.src;
    q.dst = s->t.dst;
    q.proto = 6;
    q.ttl = 1;
    q.tos = s->tos;
    q.ip_id = s->ip_id;
    q.ip_len = s->ip_len;
    q.sport = s->t.sport;
    q.dport = s->t.dport;
    q.seq = s->isn;
    q.has_ports = q.has_seq = q.has_tcp = 1;
    q.tcp_flags = s->tcp_flags;
    q.tcp_win = s->win;
    q.opts.mss = s->mss;
    q.opts.wscale = s->wscale;
    q.opts.has_ws = 1;
    q.opts.sack_ok = 1;
    q.opts.has_ts = 1;
    q.opts.tsval = s->tsval;
    q.opts.nkinds = s->nkinds;
    memcpy(q.opts.kinds, s->kinds, s->nkinds);
    q.bytes = 60;
    return q;
}

Test(probe_quote, identical_quote_differs_in_nothing)
{
    struct pm_sent s = sent4();
    struct pm_quote q = quote_of(&s);
    bool partial = true;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), 0u);
    cr_assert(!partial);
}

Test(probe_quote, each_rewrite_is_named)
{
    struct pm_sent s = sent4();
    struct pm_quote q;
    bool partial;
    q = quote_of(&s);
    pm_addr_parse("198.51.100.2", &q.src);
    q.sport = 1024;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), (uint32_t)(PM_QD_SRC | PM_QD_SPORT), "NAT");
    q = quote_of(&s);
    q.seq = 0x11111111;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), (uint32_t)PM_QD_SEQ, "seq randomiser");
    q = quote_of(&s);
    q.ip_id = 1;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), (uint32_t)PM_QD_IPID);
    q = quote_of(&s);
    q.tos = 0x02;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), (uint32_t)PM_QD_ECN);
    q = quote_of(&s);
    q.tos = 0x28;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), (uint32_t)PM_QD_DSCP);
    q = quote_of(&s);
    q.opts.mss = 1400;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), (uint32_t)PM_QD_MSS, "MSS clamping");
    char buf[200];
    pm_qdiff_describe(PM_QD_MSS, &s, &q, buf, sizeof(buf));
    cr_assert_str_eq(buf, "tcp.mss 1460 -> 1400");
    q = quote_of(&s);
    q.tcp_win = 1024;
    q.opts.tsval = 1;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), (uint32_t)(PM_QD_WIN | PM_QD_TS));
    q = quote_of(&s);
    pm_addr_parse("203.0.113.99", &q.dst);
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), (uint32_t)PM_QD_DST, "DNAT");
}

Test(probe_quote, stripped_options_are_a_rewrite_not_a_short_quote)
{
    struct pm_sent s = sent4();
    struct pm_quote q = quote_of(&s);
    memset(&q.opts, 0, sizeof(q.opts));
    q.ip_len = 40; /* the middlebox removed all 20 option bytes */
    q.bytes = 40;
    bool partial = true;
    uint32_t d = pm_quote_diff(&s, &q, &partial);
    cr_assert(!partial);
    cr_assert(d & PM_QD_OPTS);
    cr_assert(d & PM_QD_MSS);
    cr_assert(d & PM_QD_LEN);
    cr_assert(d & PM_QD_WSCALE);
    cr_assert(d & PM_QD_TS);
}

Test(probe_quote, rfc792_quote_is_partial)
{
    struct pm_sent s = sent4();
    struct pm_quote q = quote_of(&s);
    /* 20 + 8 bytes: ports and sequence only. */
    q.has_tcp = 0;
    q.tcp_flags = 0;
    q.tcp_win = 0;
    memset(&q.opts, 0, sizeof(q.opts));
    q.bytes = 28;
    bool partial = false;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), 0u);
    cr_assert(partial);
    q.seq ^= 1;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), (uint32_t)PM_QD_SEQ, "seq still compared");
    /* Header but options cut (and not shown as removed: the length says they were there). */
    q = quote_of(&s);
    memset(&q.opts, 0, sizeof(q.opts));
    q.bytes = 40;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), 0u);
    cr_assert(partial);
}

Test(probe_quote, another_family_compares_nothing)
{
    struct pm_sent s = sent4();
    struct pm_quote q = quote_of(&s);
    q.family = PM_AF_INET6;
    bool partial = false;
    cr_assert_eq(pm_quote_diff(&s, &q, &partial), 0u);
    cr_assert(partial);
}

Test(probe_quote, names_cover_every_bit)
{
    for (unsigned b = 0; b < PM_QD__BITS; b++) {
        cr_assert(strcmp(pm_qdiff_name(b), "?") != 0);
    }
    cr_assert_str_eq(pm_qdiff_name(PM_QD__BITS), "?");
}

/* ---- SMTP replies ---- */

static void feed(struct pm_reply_reader *r, const char *s)
{
    size_t n = strlen(s), o = 0;
    while (o < n && !r->done) {
        o += pm_reply_feed(r, (const uint8_t *)s + o, n - o);
    }
}

Test(probe_smtp, multiline_ehlo_reply_lists_extensions)
{
    struct pm_reply_reader r;
    pm_reply_reset(&r);
    feed(&r, "250-mx1.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
             "250-starttls\r\n250 8BITMIME\r\n");
    cr_assert(r.done && !r.bad);
    cr_assert_eq(r.code, 250);
    cr_assert_str_eq(r.first, "mx1.example.net");
    cr_assert_eq(r.next, 4);
    cr_assert_str_eq(r.ext[1], "SIZE");
    cr_assert_str_eq(r.ext[2], "STARTTLS", "keywords are upper-cased");
}

Test(probe_smtp, reply_split_across_reads)
{
    struct pm_reply_reader r;
    pm_reply_reset(&r);
    const char *parts[] = {"22", "0 mx.example ESMTP", "\r", "\n"};
    for (size_t i = 0; i < PM_ARRAY_LEN(parts); i++) {
        cr_assert(!r.done);
        feed(&r, parts[i]);
    }
    cr_assert(r.done && !r.bad);
    cr_assert_eq(r.code, 220);
    cr_assert_str_eq(r.first, "mx.example ESMTP");
}

Test(probe_smtp, stops_at_the_end_of_a_reply)
{
    struct pm_reply_reader r;
    pm_reply_reset(&r);
    const char *s = "220 hi\r\n250 more\r\n";
    size_t used = pm_reply_feed(&r, (const uint8_t *)s, strlen(s));
    cr_assert(r.done);
    cr_assert_eq(used, 8, "the next reply's bytes stay unread");
}

Test(probe_smtp, garbage_and_endless_replies_are_bad)
{
    struct pm_reply_reader r;
    pm_reply_reset(&r);
    feed(&r, "SSH-2.0-OpenSSH_9.2\r\n");
    cr_assert(r.done && r.bad);
    pm_reply_reset(&r);
    for (int i = 0; i < 100 && !r.done; i++) {
        feed(&r, "220-still talking\r\n");
    }
    cr_assert(r.done && r.bad, "a reply longer than PM_REPLY_MAX_LINES lines");
    pm_reply_reset(&r);
    feed(&r, "6xx nope\r\n");
    cr_assert(r.bad);
}

Test(probe_smtp, overlong_line_is_cut_not_overflowed)
{
    struct pm_reply_reader r;
    pm_reply_reset(&r);
    char big[5000];
    memset(big, 'A', sizeof(big));
    memcpy(big, "220 ", 4);
    big[sizeof(big) - 3] = '\r';
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    feed(&r, big);
    cr_assert(r.done && !r.bad && r.overlong);
    cr_assert_eq(r.code, 220);
    cr_assert_lt(strlen(r.first), sizeof(r.first));
}

Test(probe_smtp, hostile_bytes_are_sanitised)
{
    struct pm_reply_reader r;
    pm_reply_reset(&r);
    feed(&r, "220 evil\x1b[31m\x07\xff text\r\n");
    cr_assert(r.done && !r.bad);
    for (const char *p = r.first; *p; p++) {
        cr_assert(*p >= 0x20 && *p < 0x7f, "byte 0x%02x", (unsigned char)*p);
    }
}
