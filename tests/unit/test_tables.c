/*
 * test_tables.c — the bounded tables and the memory budget (include/tables.h): the budget
 * refuses what would go over it and takes nothing then; a loss is counted per table and
 * remembered as by count or by memory; each table that grows on demand (flow buckets,
 * SMTP sessions, destinations, hop references, cross-vantage links, MTA log entries) keeps
 * every entry across its growth, stops at its bound or the budget, and reports the loss;
 * the flow table's (destination, port) chain survives removals in any order (doubly linked)
 * and a rehash.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "context.h"
#include "flow.h"
#include "mtalog.h"
#include "nat.h"
#include "pktbuild.h"
#include "smtp.h"
#include "tables.h"
#include "util.h"

static void quiet(void)
{
    pm_verbosity = -1; /* the first loss of each table warns on stderr: not in test logs */
}

TestSuite(tables, .init = quiet);

Test(tables, budget_refuses_past_the_bound_and_takes_nothing_then)
{
    pm_tables_reset(1u << 20);
    cr_assert_eq(pm_mem_budget(), 1u << 20);
    cr_assert(pm_mem_take(600 * 1024));
    cr_assert_not(pm_mem_take(600 * 1024), "1.2 MiB does not fit in 1 MiB");
    cr_assert_eq(pm_mem_used(), 600 * 1024, "a refused take took nothing");
    cr_assert(pm_mem_take(400 * 1024));
    pm_mem_give(1000 * 1024);
    cr_assert_eq(pm_mem_used(), 0);
    cr_assert_eq(pm_mem_peak(), 1000 * 1024);
    cr_assert_not(pm_mem_take((size_t)-1), "no overflow past the budget");
    pm_tables_reset(0);
    cr_assert_eq(pm_mem_budget(), PM_DEFAULT_MAX_MEMORY);
}

Test(tables, losses_are_counted_per_table_and_make_the_run_partial)
{
    pm_tables_reset(0);
    cr_assert_not(pm_tables_partial());
    pm_table_set_cap(PM_TAB_SESSIONS, 2);
    pm_table_lost(PM_TAB_SESSIONS, 3, false);
    pm_table_lost(PM_TAB_SESSIONS, 2, true);
    const struct pm_table_state *s = pm_table_state(PM_TAB_SESSIONS);
    cr_assert_eq(s->lost, 5);
    cr_assert_eq(s->cap, 2);
    cr_assert_not(s->by_memory, "the first loss decides why the table was full");
    cr_assert_eq(pm_table_state(PM_TAB_FLOWS)->lost, 0);
    cr_assert(pm_tables_partial());
    pm_table_lost(PM_TAB_LINKS, 0, true);
    cr_assert_eq(pm_table_state(PM_TAB_LINKS)->lost, 0, "losing nothing is no loss");
    for (int t = 0; t < PM_TAB__COUNT; t++) {
        cr_assert(pm_table_key((enum pm_table)t) && *pm_table_key((enum pm_table)t));
        cr_assert(strlen(pm_table_option((enum pm_table)t)) > 3, "every table names a remedy");
    }
    pm_tables_reset(0);
    cr_assert_not(pm_tables_partial());
}

static struct pm_flowkey key_n(uint32_t n, uint16_t dport)
{
    struct pm_flowkey k;
    pm_addr c = pb_addr("10.0.0.1"), s = pb_addr("192.0.2.25");
    c.b[2] = (uint8_t)(n >> 8); /* many clients, one destination and port */
    c.b[3] = (uint8_t)n;
    pm_flowkey_make(&k, 0, &c, &s, (uint16_t)(1024 + (n >> 16)), dport);
    return k;
}

Test(tables, one_destination_chain_survives_removals_in_any_order_and_rehash)
{
    pm_tables_reset(0);
    enum { N = 70000 }; /* past the 65,536 buckets the table starts with: one rehash */
    struct pm_flowtab *t = pm_flowtab_new(N + 16, 5);
    static struct pm_flow *f[N];
    for (uint32_t i = 0; i < N; i++) {
        struct pm_flowkey k = key_n(i, 25);
        f[i] = pm_flowtab_insert(t, &k, PM_FC_SYN);
        cr_assert_not_null(f[i]);
        f[i]->id = i + 1;
    }
    pm_addr srv = pb_addr("192.0.2.25");
    struct pm_flow *out[4];
    cr_assert_eq(pm_flowtab_by_dst(t, &srv, 25, out, 4), 4);
    /* remove every third from the front, then the rest from the back */
    for (uint32_t i = 0; i < N; i += 3) {
        pm_flowtab_remove(t, f[i]);
    }
    for (uint32_t i = N; i-- > 0;) {
        if (i % 3) {
            struct pm_flowkey k = key_n(i, 25);
            cr_assert_eq(pm_flowtab_find(t, &k), f[i], "flow %u still found", i);
            cr_assert_eq(f[i]->id, i + 1);
            pm_flowtab_remove(t, f[i]);
            cr_assert_null(pm_flowtab_find(t, &k));
        }
    }
    cr_assert_eq(pm_flowtab_count(t), 0);
    cr_assert_eq(pm_flowtab_by_dst(t, &srv, 25, out, 4), 0, "the chain is empty, not broken");
    pm_flowtab_free(t);
    cr_assert_eq(pm_mem_used(), 0, "the table gives back what it took");
}

Test(tables, flow_table_stops_at_the_budget_and_says_so)
{
    pm_tables_reset(1u << 20); /* 1 MiB: ~3,400 slots of 304 bytes */
    struct pm_flowtab *t = pm_flowtab_new(100000, 5);
    uint32_t n = 0;
    for (; n < 100000; n++) {
        struct pm_flowkey k = key_n(n, 25);
        if (!pm_flowtab_insert(t, &k, PM_FC_SYN)) {
            break;
        }
    }
    cr_assert_gt(n, 3000);
    cr_assert_lt(n, 3500);
    cr_assert(pm_flowtab_mem_full(t), "full by memory, not by its capacity");
    cr_assert_leq(pm_mem_used(), 1u << 20);
    pm_flowtab_free(t);
    pm_tables_reset(0);
}

Test(tables, session_pool_grows_in_chunks_and_keeps_handles)
{
    pm_tables_reset(0);
    struct pm_session_pool *p = pm_session_pool_new(0);
    static uint32_t h[5000];
    for (int i = 0; i < 5000; i++) {
        h[i] = pm_session_alloc(p);
        cr_assert_neq(h[i], 0);
        pm_session_cliseq(pm_session_get(p, h[i]))->next = (uint32_t)i;
    }
    for (int i = 0; i < 5000; i++) {
        cr_assert_eq(pm_session_cliseq(pm_session_get(p, h[i]))->next, (uint32_t)i,
                     "a session does not move when the pool grows");
    }
    cr_assert_eq(pm_session_peak(p), 5000);
    cr_assert_gt(pm_mem_used(), 5000 * 2000);
    pm_session_pool_free(p);
    cr_assert_eq(pm_mem_used(), 0);
    /* an explicit cap */
    p = pm_session_pool_new(3);
    cr_assert_neq(pm_session_alloc(p), 0);
    cr_assert_neq(pm_session_alloc(p), 0);
    uint32_t third = pm_session_alloc(p);
    cr_assert_neq(third, 0);
    cr_assert_eq(pm_session_alloc(p), 0);
    cr_assert_not(pm_session_mem_full(p), "full by the cap");
    pm_session_release(p, third);
    cr_assert_eq(pm_session_alloc(p), third, "freed slots are reused");
    pm_session_pool_free(p);
    /* the budget */
    pm_tables_reset(1u << 20);
    p = pm_session_pool_new(0);
    uint32_t n = 0;
    while (pm_session_alloc(p)) {
        n++;
    }
    cr_assert_eq(n, 0, "a 2.2 MB chunk does not fit in 1 MiB");
    cr_assert(pm_session_mem_full(p));
    pm_session_pool_free(p);
    pm_tables_reset(0);
}

static pm_addr nth_addr(uint32_t i)
{
    pm_addr a = pb_addr("198.51.100.0");
    a.b[1] = (uint8_t)(i >> 16);
    a.b[2] = (uint8_t)(i >> 8);
    a.b[3] = (uint8_t)i;
    return a;
}

Test(tables, destinations_grow_and_keep_their_counts)
{
    pm_tables_reset(0);
    struct pm_context *c = pm_context_new(1, 0, 0);
    for (uint32_t i = 0; i < 5000; i++) {
        pm_addr a = nth_addr(i);
        struct pm_dest *d = pm_context_dest(c, &a, true);
        cr_assert_not_null(d);
        d->attempts = i + 7;
    }
    for (uint32_t i = 0; i < 5000; i++) {
        pm_addr a = nth_addr(i);
        struct pm_dest *d = pm_context_dest(c, &a, false);
        cr_assert_not_null(d, "destination %u kept across growth", i);
        cr_assert_eq(d->attempts, i + 7);
    }
    uint64_t nd, nh;
    pm_context_sizes(c, &nd, &nh);
    cr_assert_eq(nd, 5000);
    cr_assert_eq(pm_context_dests_overflow(c), 0);
    pm_context_free(c);
    cr_assert_eq(pm_mem_used(), 0);
    /* with a cap: the lookups past it fail (the engine counts each reported attempt once,
     * pm_context_dest_overflowed), the table says it was not the budget */
    c = pm_context_new(1, 0, 100);
    uint64_t refused = 0;
    for (uint32_t i = 0; i < 150; i++) {
        pm_addr a = nth_addr(i);
        if (!pm_context_dest(c, &a, true)) {
            refused++;
            pm_context_dest_overflowed(c);
        }
    }
    cr_assert_eq(refused, 50);
    cr_assert_eq(pm_context_dests_overflow(c), 50);
    cr_assert_not(pm_context_dests_full_by_memory(c));
    pm_context_free(c);
}

Test(tables, scope_facts_follow_every_change)
{
    pm_tables_reset(0);
    struct pm_context *c = pm_context_new(1, 0, 0);
    struct pm_attempt a;
    memset(&a, 0, sizeof(a));
    a.cli = pb_addr("192.0.2.10");
    a.srv = pb_addr("203.0.113.10");
    a.dport = 25;
    pm_context_learn(c, &a, PM_OUT_REFUSED);
    struct pm_scope_facts f = pm_context_scope_facts(c);
    cr_assert_eq(f.dests, 1);
    cr_assert_eq(f.dests25, 1);
    cr_assert_eq(f.dests25_fail_only, 1);
    a.dport = 587;
    pm_context_learn(c, &a, PM_OUT_CONNECTED);
    f = pm_context_scope_facts(c);
    cr_assert_eq(f.dests, 1);
    cr_assert_eq(f.dests_other_ok, 1);
    cr_assert_eq(f.dests25_other_ok, 1);
    cr_assert(pm_context_provider_pattern(c));
    a.dport = 25;
    pm_context_learn(c, &a, PM_OUT_CONNECTED);
    f = pm_context_scope_facts(c);
    cr_assert_eq(f.dests25_ok, 1);
    cr_assert_eq(f.dests25_fail_only, 0, "moved from failing-only to ok, not counted twice");
    cr_assert_eq(f.dests25_other_ok, 0);
    cr_assert_not(pm_context_provider_pattern(c));
    pm_context_free(c);
}

Test(tables, link_table_grows_then_stops_at_the_budget)
{
    pm_tables_reset(0);
    struct pm_nat *n = pm_nat_new(2, NULL, 0);
    struct pm_attempt a;
    memset(&a, 0, sizeof(a));
    for (uint32_t i = 1; i <= 4000; i++) {
        a.id = i;
        a.peer.id = i + 100000;
        pm_nat_learn(n, &a);
    }
    cr_assert_eq(pm_nat_links(n), 2000, "4,000 entries kept across growth");
    a.id = 1;
    a.peer.id = 100001;
    cr_assert_not(pm_nat_view_lost(n, &a));
    pm_nat_free(n);
    cr_assert_eq(pm_mem_used(), 0);
    pm_tables_reset(1u << 20); /* 1 MiB: 64-byte entries, half full at most */
    n = pm_nat_new(2, NULL, 0);
    for (uint32_t i = 1; i <= 20000; i++) {
        a.id = i;
        a.peer.id = 0xffffff; /* never stored */
        pm_nat_learn(n, &a);
    }
    cr_assert_gt(pm_table_state(PM_TAB_LINKS)->lost, 0);
    cr_assert(pm_table_state(PM_TAB_LINKS)->by_memory);
    a.id = 20000;
    cr_assert(pm_nat_view_lost(n, &a), "the far view of a late attempt is known to be lost");
    pm_nat_free(n);
    pm_tables_reset(0);
}

Test(tables, log_entries_stop_at_the_cap_or_the_budget)
{
    pm_tables_reset(0);
    struct pm_logset set;
    memset(&set, 0, sizeof(set));
    for (int i = 0; i < 3000; i++) {
        cr_assert(pm_logset_reserve(&set, 5000));
        memset(&set.e[set.n], 0, sizeof(set.e[0]));
        set.e[set.n++].line = (uint32_t)i + 1;
    }
    cr_assert_not(pm_logset_reserve(&set, 3000), "the count cap");
    cr_assert_eq(set.dropped, 1);
    cr_assert_eq(set.e[2999].line, 3000);
    pm_logset_free(&set);
    cr_assert_eq(pm_mem_used(), 0);
    pm_tables_reset(1u << 20);
    memset(&set, 0, sizeof(set));
    size_t kept = 0;
    while (pm_logset_reserve(&set, (size_t)1 << 28)) {
        set.n++;
        kept++;
    }
    cr_assert_gt(kept, 1000);
    cr_assert_lt(kept, (1u << 20) / sizeof(set.e[0]) + 1);
    cr_assert(pm_table_state(PM_TAB_LOGS)->by_memory);
    pm_logset_free(&set);
    pm_tables_reset(0);
}
