/*
 * test_flow.c — the fixed-capacity table of open attempts (include/flow.h, analyze/flow.c):
 * insert/find/remove, keys that differ only in vantage, port or address family are distinct,
 * one LRU list per timeout class (order, touch, move between classes, oldest per class),
 * capacity exhaustion returns NULL, LIFO reuse of freed slots, the extension pool (lazy,
 * zeroed, freed with its flow), lookup by (destination, port) most recent first, and that
 * the hash seed changes nothing a caller can observe.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "flow.h"
#include "pktbuild.h"
#include "util.h"

static struct pm_flowkey key(uint16_t v, const char *cli, const char *srv, uint16_t sport,
                             uint16_t dport)
{
    struct pm_flowkey k;
    pm_addr c = pb_addr(cli), s = pb_addr(srv);
    pm_flowkey_make(&k, v, &c, &s, sport, dport);
    return k;
}

Test(flow, insert_find_remove)
{
    struct pm_flowtab *t = pm_flowtab_new(64, 1);
    struct pm_flowkey k = key(0, "10.0.0.1", "192.0.2.25", 40000, 25);
    cr_assert_null(pm_flowtab_find(t, &k));
    struct pm_flow *f = pm_flowtab_insert(t, &k, PM_FC_SYN);
    cr_assert_not_null(f);
    cr_assert_eq(f->sport, 40000);
    cr_assert_eq(f->dport, 25);
    cr_assert_eq(f->family, PM_AF_INET);
    cr_assert_eq(f->id, 0, "a new flow is zeroed apart from its key");
    cr_assert_eq(f->ext, 0);
    pm_addr c, s, wc = pb_addr("10.0.0.1"), ws = pb_addr("192.0.2.25");
    pm_flow_cli(f, &c);
    pm_flow_srv(f, &s);
    cr_assert(pm_addr_eq(&c, &wc));
    cr_assert(pm_addr_eq(&s, &ws));
    cr_assert_eq(pm_flowtab_find(t, &k), f);
    cr_assert_eq(pm_flowtab_count(t), 1);
    /* the reverse direction is another key: replies are looked up by swapping */
    struct pm_flowkey rk = key(0, "192.0.2.25", "10.0.0.1", 25, 40000);
    cr_assert_null(pm_flowtab_find(t, &rk));
    pm_flowtab_remove(t, f);
    cr_assert_null(pm_flowtab_find(t, &k));
    cr_assert_eq(pm_flowtab_count(t), 0);
    cr_assert_eq(pm_flowtab_peak(t), 1);
    cr_assert_null(pm_flowtab_oldest(t, PM_FC_SYN));
    pm_flowtab_free(t);
}

Test(flow, keys_differing_in_vantage_port_or_family_are_distinct)
{
    struct pm_flowtab *t = pm_flowtab_new(64, 7);
    struct pm_flowkey ks[] = {
        key(0, "1.2.3.4", "5.6.7.8", 40000, 25),
        key(1, "1.2.3.4", "5.6.7.8", 40000, 25),       /* vantage */
        key(0, "1.2.3.4", "5.6.7.8", 40001, 25),       /* source port */
        key(0, "1.2.3.4", "5.6.7.8", 40000, 587),      /* destination port */
        key(0, "102:304::", "506:708::", 40000, 25),   /* same 16 bytes, IPv6 */
        key(0, "1.2.3.4", "5.6.7.9", 40000, 25),       /* server */
        key(0, "1.2.3.5", "5.6.7.8", 40000, 25),       /* client */
    };
    struct pm_flow *fs[PM_ARRAY_LEN(ks)];
    for (size_t i = 0; i < PM_ARRAY_LEN(ks); i++) {
        fs[i] = pm_flowtab_insert(t, &ks[i], PM_FC_SYN);
        fs[i]->id = (uint32_t)i + 100;
    }
    cr_assert_eq(pm_flowtab_count(t), PM_ARRAY_LEN(ks));
    for (size_t i = 0; i < PM_ARRAY_LEN(ks); i++) {
        struct pm_flow *f = pm_flowtab_find(t, &ks[i]);
        cr_assert_eq(f, fs[i], "key %zu", i);
        cr_assert_eq(f->id, i + 100);
    }
    cr_assert_eq(fs[4]->family, PM_AF_INET6);
    pm_flowtab_free(t);
}

Test(flow, lru_order_touch_and_oldest_per_class)
{
    struct pm_flowtab *t = pm_flowtab_new(16, 3);
    struct pm_flowkey ka = key(0, "10.0.0.1", "192.0.2.1", 1, 25);
    struct pm_flowkey kb = key(0, "10.0.0.1", "192.0.2.1", 2, 25);
    struct pm_flowkey kc = key(0, "10.0.0.1", "192.0.2.1", 3, 25);
    struct pm_flow *a = pm_flowtab_insert(t, &ka, PM_FC_SYN);
    struct pm_flow *b = pm_flowtab_insert(t, &kb, PM_FC_SYN);
    struct pm_flow *c = pm_flowtab_insert(t, &kc, PM_FC_SYN);
    cr_assert_eq(pm_flowtab_oldest(t, PM_FC_SYN), a);
    cr_assert_null(pm_flowtab_oldest(t, PM_FC_DONE));
    cr_assert_null(pm_flowtab_oldest(t, PM_FC_EST));
    pm_flowtab_touch(t, a, PM_FC_SYN); /* a becomes the most recent */
    cr_assert_eq(pm_flowtab_oldest(t, PM_FC_SYN), b);
    pm_flowtab_touch(t, b, PM_FC_DONE); /* b moves to another class */
    cr_assert_eq(pm_flowtab_oldest(t, PM_FC_SYN), c);
    cr_assert_eq(pm_flowtab_oldest(t, PM_FC_DONE), b);
    pm_flowtab_touch(t, c, PM_FC_EST);
    cr_assert_eq(pm_flowtab_oldest(t, PM_FC_SYN), a);
    cr_assert_eq(pm_flowtab_oldest(t, PM_FC_EST), c);
    pm_flowtab_remove(t, a);
    cr_assert_null(pm_flowtab_oldest(t, PM_FC_SYN));
    pm_flowtab_remove(t, b);
    cr_assert_null(pm_flowtab_oldest(t, PM_FC_DONE));
    cr_assert_eq(pm_flowtab_oldest(t, PM_FC_EST), c);
    /* removal from the middle of a list keeps the rest linked */
    struct pm_flowkey kd = key(0, "10.0.0.1", "192.0.2.1", 4, 25);
    struct pm_flowkey ke = key(0, "10.0.0.1", "192.0.2.1", 5, 25);
    struct pm_flow *d = pm_flowtab_insert(t, &kd, PM_FC_EST);
    struct pm_flow *e = pm_flowtab_insert(t, &ke, PM_FC_EST);
    pm_flowtab_remove(t, d);
    cr_assert_eq(pm_flowtab_oldest(t, PM_FC_EST), c);
    pm_flowtab_remove(t, c);
    cr_assert_eq(pm_flowtab_oldest(t, PM_FC_EST), e);
    pm_flowtab_free(t);
}

Test(flow, capacity_exhaustion_returns_null)
{
    struct pm_flowtab *t = pm_flowtab_new(4, 9); /* below the minimum: raised to 16 */
    cr_assert_eq(pm_flowtab_capacity(t), 16);
    uint32_t cap = pm_flowtab_capacity(t);
    for (uint32_t i = 0; i < cap; i++) {
        struct pm_flowkey k = key(0, "10.0.0.1", "192.0.2.1", (uint16_t)(1000 + i), 25);
        cr_assert_not_null(pm_flowtab_insert(t, &k, PM_FC_SYN), "slot %u", i);
    }
    struct pm_flowkey k = key(0, "10.0.0.1", "192.0.2.1", 9999, 25);
    cr_assert_null(pm_flowtab_insert(t, &k, PM_FC_SYN));
    cr_assert_eq(pm_flowtab_count(t), cap);
    cr_assert_eq(pm_flowtab_peak(t), cap);
    /* a removal makes room again */
    struct pm_flowkey k0 = key(0, "10.0.0.1", "192.0.2.1", 1000, 25);
    pm_flowtab_remove(t, pm_flowtab_find(t, &k0));
    cr_assert_not_null(pm_flowtab_insert(t, &k, PM_FC_SYN));
    cr_assert_not_null(pm_flowtab_find(t, &k));
    pm_flowtab_free(t);
}

Test(flow, freed_slots_are_reused_last_in_first_out)
{
    struct pm_flowtab *t = pm_flowtab_new(32, 5);
    struct pm_flowkey k[6];
    struct pm_flow *f[6];
    for (int i = 0; i < 3; i++) {
        k[i] = key(0, "10.0.0.1", "192.0.2.1", (uint16_t)(i + 1), 25);
        f[i] = pm_flowtab_insert(t, &k[i], PM_FC_SYN);
    }
    pm_flowtab_remove(t, f[1]);
    k[3] = key(0, "10.0.0.1", "192.0.2.1", 4, 25);
    f[3] = pm_flowtab_insert(t, &k[3], PM_FC_SYN);
    cr_assert_eq(f[3], f[1], "the slot freed last is handed out first");
    pm_flowtab_remove(t, f[0]);
    pm_flowtab_remove(t, f[2]);
    k[4] = key(0, "10.0.0.1", "192.0.2.1", 5, 25);
    k[5] = key(0, "10.0.0.1", "192.0.2.1", 6, 25);
    f[4] = pm_flowtab_insert(t, &k[4], PM_FC_SYN);
    f[5] = pm_flowtab_insert(t, &k[5], PM_FC_SYN);
    cr_assert_eq(f[4], f[2]);
    cr_assert_eq(f[5], f[0]);
    cr_assert_eq(pm_flowtab_find(t, &k[5]), f[5]);
    cr_assert_null(pm_flowtab_find(t, &k[0]), "the old key is gone from its chain");
    cr_assert_eq(pm_flowtab_peak(t), 3);
    pm_flowtab_free(t);
}

Test(flow, extension_pool_is_lazy_zeroed_and_freed_with_the_flow)
{
    struct pm_flowtab *t = pm_flowtab_new(16, 11);
    struct pm_flowkey k1 = key(0, "10.0.0.1", "192.0.2.1", 1, 25);
    struct pm_flow *f = pm_flowtab_insert(t, &k1, PM_FC_SYN);
    cr_assert_null(pm_flowtab_ext_peek(t, f));
    struct pm_flow_ext *x = pm_flowtab_ext(t, f);
    cr_assert_not_null(x);
    cr_assert_neq(f->ext, 0);
    cr_assert_eq(pm_flowtab_ext(t, f), x, "one extension per flow");
    cr_assert_eq(pm_flowtab_ext_peek(t, f), x);
    cr_assert_eq(x->n_rst, 0);
    x->n_rst = 7;
    x->session = 3;
    pm_flowtab_remove(t, f);
    struct pm_flowkey k2 = key(0, "10.0.0.1", "192.0.2.1", 2, 25);
    struct pm_flow *g = pm_flowtab_insert(t, &k2, PM_FC_SYN);
    cr_assert_eq(g->ext, 0, "a reused slot does not inherit the old extension");
    cr_assert_null(pm_flowtab_ext_peek(t, g));
    struct pm_flow_ext *y = pm_flowtab_ext(t, g);
    cr_assert_eq(y, x, "the freed extension is reused");
    cr_assert_eq(y->n_rst, 0, "and handed out zeroed");
    cr_assert_eq(y->session, 0);
    /* the pool has the table's capacity: every flow can have one */
    for (uint16_t p = 10; p < 10 + 15; p++) {
        struct pm_flowkey k = key(0, "10.0.0.1", "192.0.2.1", p, 25);
        struct pm_flow *h = pm_flowtab_insert(t, &k, PM_FC_SYN);
        cr_assert_not_null(h);
        cr_assert_not_null(pm_flowtab_ext(t, h));
    }
    pm_flowtab_free(t);
}

Test(flow, by_destination_most_recent_first)
{
    struct pm_flowtab *t = pm_flowtab_new(64, 13);
    struct pm_flowkey k1 = key(0, "10.0.0.1", "192.0.2.25", 1, 25);
    struct pm_flowkey k2 = key(1, "203.0.113.5", "192.0.2.25", 61000, 25);
    struct pm_flowkey k3 = key(0, "10.0.0.1", "192.0.2.25", 3, 587);
    struct pm_flowkey k4 = key(0, "10.0.0.1", "192.0.2.26", 4, 25);
    struct pm_flowkey k5 = key(0, "10.0.0.2", "192.0.2.25", 5, 25);
    struct pm_flow *f1 = pm_flowtab_insert(t, &k1, PM_FC_SYN);
    struct pm_flow *f2 = pm_flowtab_insert(t, &k2, PM_FC_SYN);
    pm_flowtab_insert(t, &k3, PM_FC_SYN);
    pm_flowtab_insert(t, &k4, PM_FC_SYN);
    struct pm_flow *f5 = pm_flowtab_insert(t, &k5, PM_FC_EST);
    pm_addr srv = pb_addr("192.0.2.25");
    struct pm_flow *out[8];
    int n = pm_flowtab_by_dst(t, &srv, 25, out, 8);
    cr_assert_eq(n, 3);
    cr_assert_eq(out[0], f5);
    cr_assert_eq(out[1], f2);
    cr_assert_eq(out[2], f1);
    cr_assert_eq(pm_flowtab_by_dst(t, &srv, 25, out, 2), 2, "at most max");
    cr_assert_eq(pm_flowtab_by_dst(t, &srv, 465, out, 8), 0);
    pm_flowtab_remove(t, f2);
    n = pm_flowtab_by_dst(t, &srv, 25, out, 8);
    cr_assert_eq(n, 2);
    cr_assert_eq(out[0], f5);
    cr_assert_eq(out[1], f1);
    pm_addr srv6 = pb_addr("c000:219::"); /* the IPv4 address's bytes as IPv6 */
    cr_assert_eq(pm_flowtab_by_dst(t, &srv6, 25, out, 8), 0);
    pm_flowtab_free(t);
}

/* The same operations under two seeds: everything a caller sees is the same. */
static void run_ops(uint64_t seed, uint32_t *found, uint16_t *oldest_sport, int *bydst)
{
    struct pm_flowtab *t = pm_flowtab_new(256, seed);
    for (uint16_t i = 0; i < 200; i++) {
        char cli[32];
        snprintf(cli, sizeof(cli), "10.0.%u.%u", i / 50, i % 50 + 1);
        struct pm_flowkey k = key((uint16_t)(i % 3), cli, i % 2 ? "192.0.2.25" : "192.0.2.26",
                                  (uint16_t)(30000 + i), 25);
        struct pm_flow *f = pm_flowtab_insert(t, &k, (enum pm_flow_class)(i % PM_FC__COUNT));
        cr_assert_not_null(f);
        f->id = i + 1;
        if (i % 7 == 0) {
            pm_flowtab_remove(t, f);
        }
    }
    *found = 0;
    for (uint16_t i = 0; i < 200; i++) {
        char cli[32];
        snprintf(cli, sizeof(cli), "10.0.%u.%u", i / 50, i % 50 + 1);
        struct pm_flowkey k = key((uint16_t)(i % 3), cli, i % 2 ? "192.0.2.25" : "192.0.2.26",
                                  (uint16_t)(30000 + i), 25);
        struct pm_flow *f = pm_flowtab_find(t, &k);
        if (f) {
            cr_assert_eq(f->id, (uint32_t)i + 1);
            (*found)++;
        }
    }
    *oldest_sport = pm_flowtab_oldest(t, PM_FC_SYN)->sport;
    pm_addr srv = pb_addr("192.0.2.25");
    struct pm_flow *out[256];
    *bydst = pm_flowtab_by_dst(t, &srv, 25, out, 256);
    pm_flowtab_free(t);
}

Test(flow, hash_seed_does_not_change_results)
{
    uint32_t f1, f2;
    uint16_t o1, o2;
    int d1, d2;
    run_ops(0, &f1, &o1, &d1);
    run_ops(0x9e3779b97f4a7c15ull, &f2, &o2, &d2);
    cr_assert_eq(f1, 200 - 29, "every key not removed is found (29 multiples of 7 below 200)");
    cr_assert_eq(f1, f2);
    cr_assert_eq(o1, o2);
    cr_assert_eq(d1, d2);
    cr_assert_eq(d1, 100 - 14, "odd i to .25, minus the removed odd multiples of 7");
}
