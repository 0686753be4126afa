/*
 * test_ttl.c — initial TTL and hop distance (include/ttl.h, analyze/ttl.c), checked against
 * p0f v3's guess_dist() (fp_tcp.c): the initial TTL is the smallest of 32, 64, 128, 255 not
 * below the observed one, and the distance is their difference — at every boundary.
 */
#include <criterion/criterion.h>

#include "ttl.h"
#include "util.h"

Test(ttl, initial_and_hops_at_every_boundary)
{
    const struct {
        uint8_t seen, initial;
        int hops;
    } t[] = {
        {0, 32, 32},    {1, 32, 31},    {32, 32, 0},   {33, 64, 31},
        {63, 64, 1},    {64, 64, 0},    {65, 128, 63}, {127, 128, 1},
        {128, 128, 0},  {129, 255, 126}, {254, 255, 1}, {255, 255, 0},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(t); i++) {
        cr_assert_eq(pm_ttl_initial(t[i].seen), t[i].initial, "TTL %u", t[i].seen);
        cr_assert_eq(pm_ttl_hops(t[i].seen), t[i].hops, "TTL %u", t[i].seen);
    }
}

Test(ttl, lab_rsts_differ_by_one_hop)
{
    /* the lab: server RST TTL 63 (one router), router-forged RST TTL 64 (none) */
    cr_assert_eq(pm_ttl_hops(63) - pm_ttl_hops(64), 1);
    for (int v = 0; v <= 255; v++) {
        int h = pm_ttl_hops((uint8_t)v);
        cr_assert(h >= 0 && h <= 126, "TTL %d gives %d hops", v, h);
        cr_assert_geq(pm_ttl_initial((uint8_t)v), v);
    }
}
