/*
 * test_context.c — the cross-attempt knowledge tables (analyze/context.c): hop references
 * per (vantage, host) and per (vantage, prefix) in tables that start small and double up
 * to their bound. Every entry learnt must survive the growth, a table at its bound must
 * count what it could not learn and keep what it holds, and vantages must not mix.
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
