/*
 * test_context.c — the cross-attempt knowledge tables (analyze/context.c): hop references
 * per (vantage, host) and per (vantage, prefix) in tables that start small and double up
 * to their bound. Every entry learnt must survive the growth, a table at its bound must
 * count what it could not learn and keep what it holds, and vantages must not mix. The
 * tables of other traffic (issue 14) are bounded apart from the attempts' and merged on
 * lookup; prefixes are /24 and /48.
 */
#include <criterion/criterion.h>

#include "context.h"
#include "util.h"

static pm_addr host_n(uint32_t n)
{
    pm_addr a;
    memset(&a, 0, sizeof(a));
    a.family = PM_AF_INET;
    a.b[0] = 198;
    a.b[1] = (uint8_t)(n >> 16);
    a.b[2] = (uint8_t)(n >> 8);
    a.b[3] = (uint8_t)n;
    return a;
}

/* 6,000 hosts: several doublings past the starting size, on two vantages. */
Test(context, hop_references_survive_table_growth)
{
    struct pm_context *c = pm_context_new(2, 65536, 64);
    for (uint32_t i = 0; i < 6000; i++) {
        pm_addr h = host_n(i);
        pm_context_add_hopref(c, 0, &h, (int)(i % 30) + 1, PM_HOP_TTL_WALK);
        pm_context_add_hopref(c, 1, &h, (int)(i % 7) + 1, PM_HOP_TTL_WALK);
    }
    for (uint32_t i = 0; i < 6000; i++) {
        pm_addr h = host_n(i);
        struct pm_hopref r0 = pm_context_hops(c, 0, &h), r1 = pm_context_hops(c, 1, &h);
        cr_assert_eq(r0.hops, (int)(i % 30) + 1, "host %u vantage 0", i);
        cr_assert_eq(r1.hops, (int)(i % 7) + 1, "host %u vantage 1", i);
        cr_assert_eq(r0.src, PM_HOP_TTL_WALK);
    }
    cr_assert_eq(pm_context_hosts_overflow(c), 0);
    pm_addr unknown = host_n(70000);
    unknown.b[0] = 203;
    cr_assert_eq(pm_context_hops(c, 0, &unknown).hops, -1, "never learnt: unknown");
    pm_context_free(c);
}

/* A bound of 64 hosts: the table never holds more than half its slots (128), so host 65
 * and later are counted, not learnt, and the first 64 stay. */
Test(context, full_host_table_counts_what_it_cannot_learn)
{
    struct pm_context *c = pm_context_new(1, 64, 64);
    for (uint32_t i = 0; i < 200; i++) {
        pm_addr h = host_n(i * 256); /* one host per /24: the prefix table fills too */
        pm_context_add_hopref(c, 0, &h, 5, PM_HOP_TTL_WALK);
    }
    cr_assert_eq(pm_context_hosts_overflow(c), 200 - 64);
    for (uint32_t i = 0; i < 64; i++) {
        pm_addr h = host_n(i * 256);
        cr_assert_eq(pm_context_hops(c, 0, &h).hops, 5, "host %u kept", i);
    }
    pm_addr late = host_n(199 * 256);
    cr_assert_eq(pm_context_hops(c, 0, &late).hops, -1, "host 200 was not learnt");
    /* Re-learning a host already held is not an overflow. */
    pm_addr h0 = host_n(0);
    pm_context_add_hopref(c, 0, &h0, 4, PM_HOP_TTL_WALK);
    cr_assert_eq(pm_context_hosts_overflow(c), 200 - 64);
    pm_context_free(c);
}

/* Issue 14: other traffic has its own bounded tables. A capture full of other hosts fills them
 * and is counted there, while the attempts' references (learnt later, in pass A) still find
 * room; a lookup merges both, with the smallest and largest count. */
Test(context, other_traffic_cannot_crowd_out_the_attempts_references)
{
    struct pm_context *c = pm_context_new(1, 64, 64);
    struct pm_pktref ref = {1, 0};
    for (uint32_t i = 0; i < 200; i++) {
        pm_addr h = host_n(i * 256);
        pm_context_learn_packet(c, 0, &h, 60, ref, PM_HK_TCP, 443);
    }
    /* 64 hosts fit (128 slots, half full at most), 32 prefixes (64 slots): the rest counted */
    cr_assert_eq(pm_context_side_overflow(c), (200 - 64) + (200 - 32), "hosts and prefixes");
    cr_assert_eq(pm_context_hosts_overflow(c), 0);
    pm_addr mx = host_n(250 * 256); /* not among the other traffic's first 64 */
    pm_context_add_hopref(c, 0, &mx, 7, PM_HOP_TTL_WALK);
    cr_assert_eq(pm_context_hops(c, 0, &mx).hops, 7, "the attempts' table had room");
    /* merged: a host seen both ways, 4 hops in one and 6 in the other */
    pm_addr h0 = host_n(0);
    pm_context_add_hopref(c, 0, &h0, 6, PM_HOP_TTL_WALK);
    struct pm_hopref r = pm_context_hops(c, 0, &h0);
    cr_assert_eq(r.hops, 4, "64 - 60: the other traffic's echo is nearer");
    cr_assert_eq(r.hops_hi, 6);
    cr_assert_eq(r.src, PM_HOP_SAME_HOST);
    cr_assert_eq(r.kind, PM_HK_TCP);
    cr_assert_eq(r.port, 443);
    pm_context_free(c);
}

/* A prefix reference names its neighbour; /48 for IPv6; an unguessable TTL teaches nothing. */
Test(context, prefix_references_and_what_is_not_learnt)
{
    struct pm_context *c = pm_context_new(1, 64, 64);
    struct pm_pktref ref = {9, 0};
    pm_addr dns, mx, far6, near6;
    memset(&dns, 0, sizeof(dns));
    dns.family = PM_AF_INET;
    dns.b[0] = 203, dns.b[1] = 0, dns.b[2] = 113, dns.b[3] = 53;
    mx = dns;
    mx.b[3] = 10;
    pm_context_learn_packet(c, 0, &dns, 61, ref, PM_HK_DNS, 53);
    struct pm_hopref r = pm_context_hops(c, 0, &mx);
    cr_assert_eq(r.src, PM_HOP_PREFIX);
    cr_assert_eq(r.hops, 3);
    cr_assert(pm_addr_eq(&r.from, &dns), "the neighbour that gave it");
    cr_assert_eq(r.rtt_min, PM_NS_NONE);
    memset(&near6, 0, sizeof(near6));
    near6.family = PM_AF_INET6;
    near6.b[0] = 0x20, near6.b[1] = 0x01, near6.b[2] = 0x0d, near6.b[3] = 0xb8, near6.b[5] = 4;
    far6 = near6;
    far6.b[7] = 9;  /* another /64 of the same /48 */
    near6.b[15] = 0x53;
    far6.b[15] = 0x10;
    pm_context_learn_packet(c, 0, &near6, 58, ref, PM_HK_ICMP_ECHO, 0);
    cr_assert_eq(pm_context_hops(c, 0, &far6).hops, 6, "same /48");
    far6.b[5] = 5;
    cr_assert_eq(pm_context_hops(c, 0, &far6).hops, -1, "another /48");
    pm_addr odd = mx;
    odd.b[3] = 77;
    odd.b[2] = 7;
    pm_context_learn_packet(c, 0, &odd, 200, ref, PM_HK_UDP, 123); /* 255 - 200: 55 hops */
    cr_assert_eq(pm_context_hops(c, 0, &odd).hops, -1, "beyond PM_MAX_HOPS: no reference");
    pm_context_free(c);
}
