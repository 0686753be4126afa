/*
 * test_nat.c — several vantage points (include/nat.h, analyze/nat.c): ranking the vantages
 * from linked pairs (a higher TTL is closer to the sender; at equal TTL the earlier
 * sighting; without links the order given), the facts for a linked attempt (the far view,
 * merged), for an unlinked one (dropped inside the NAT while the later vantage recorded,
 * confirmed or assumed), an unexpected public source with --expect-source, a change of
 * public address, an answer dropped on the way back, and every rewrite listed.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "nat.h"
#include "pktbuild.h"
#include "util.h"

#define SRV "192.0.2.25"
#define T0 PM_SEC(1700000000)

static struct pm_attempt view(uint32_t id, uint32_t peer, uint16_t vantage, const char *cli,
                              uint16_t sport, uint8_t ttl, pm_ns t)
{
    struct pm_attempt a;
    memset(&a, 0, sizeof(a));
    a.id = id;
    a.vantage = vantage;
    a.family = PM_AF_INET;
    a.cli = pb_addr(cli);
    a.srv = pb_addr(SRV);
    a.sport = sport;
    a.dport = 25;
    a.isn = 1000;
    a.first_syn = a.last_syn = a.last_seen = t;
    a.syns = 1;
    a.syn_ttl = ttl;
    a.syn_mss = 1460;
    a.syn_ws = 7;
    a.syn_optsig = 0x5a;
    if (peer) {
        a.peer.id = peer;
        a.peer.vantage = vantage ? 0 : 1;
    }
    return a;
}

static void settle(struct pm_nat *n, pm_ns s0, pm_ns e0, pm_ns s1, pm_ns e1)
{
    pm_ns ws[2] = {s0, s1}, we[2] = {e0, e1};
    pm_nat_settle(n, ws, we);
}

Test(nat, the_vantage_with_the_higher_ttl_is_closer_to_the_sender)
{
    struct pm_nat *n = pm_nat_new(2, NULL, 0);
    struct pm_attempt in = view(1, 2, 0, "10.0.0.1", 40000, 64, T0);
    struct pm_attempt out = view(2, 1, 1, "203.0.113.5", 61000, 63, T0 + PM_MS(1));
    pm_nat_learn(n, &in);
    pm_nat_learn(n, &out);
    settle(n, T0, T0 + PM_SEC(10), T0, T0 + PM_SEC(10));
    cr_assert_eq(pm_nat_rank(n, 0), 0);
    cr_assert_eq(pm_nat_rank(n, 1), 1);
    cr_assert_eq(pm_nat_links(n), 1);
    pm_nat_free(n);
    /* the files given the other way round: the ranking follows the TTL, not the order */
    n = pm_nat_new(2, NULL, 0);
    struct pm_attempt out0 = view(1, 2, 0, "203.0.113.5", 61000, 63, T0 + PM_MS(1));
    struct pm_attempt in1 = view(2, 1, 1, "10.0.0.1", 40000, 64, T0);
    pm_nat_learn(n, &out0);
    pm_nat_learn(n, &in1);
    settle(n, T0, T0 + PM_SEC(10), T0, T0 + PM_SEC(10));
    cr_assert_eq(pm_nat_rank(n, 1), 0);
    cr_assert_eq(pm_nat_rank(n, 0), 1);
    pm_nat_free(n);
}

Test(nat, equal_ttl_ranks_by_first_sighting_and_no_links_by_input_order)
{
    struct pm_nat *n = pm_nat_new(2, NULL, 0);
    struct pm_attempt a = view(1, 2, 0, "203.0.113.5", 61000, 64, T0 + PM_MS(3));
    struct pm_attempt b = view(2, 1, 1, "10.0.0.1", 40000, 64, T0);
    pm_nat_learn(n, &a);
    pm_nat_learn(n, &b);
    settle(n, T0, T0 + PM_SEC(10), T0, T0 + PM_SEC(10));
    cr_assert_eq(pm_nat_rank(n, 1), 0, "seen first: closer to the sender");
    pm_nat_free(n);
    n = pm_nat_new(2, NULL, 0);
    struct pm_attempt lone = view(1, 0, 1, "10.0.0.1", 40000, 64, T0);
    pm_nat_learn(n, &lone); /* not linked: not remembered */
    settle(n, T0, T0 + PM_SEC(10), T0, T0 + PM_SEC(10));
    cr_assert_eq(pm_nat_links(n), 0);
    cr_assert_eq(pm_nat_rank(n, 0), 0);
    cr_assert_eq(pm_nat_rank(n, 1), 1);
    pm_nat_free(n);
}

Test(nat, linked_attempts_near_and_far_view)
{
    struct pm_nat *n = pm_nat_new(2, NULL, 0);
    struct pm_attempt in = view(1, 2, 0, "10.0.0.1", 40000, 64, T0);
    struct pm_attempt out = view(2, 1, 1, "203.0.113.5", 61000, 63, T0 + PM_MS(1));
    pm_nat_learn(n, &in);
    pm_nat_learn(n, &out);
    settle(n, T0, T0 + PM_SEC(10), T0, T0 + PM_SEC(10));
    struct pm_nat_facts f;
    pm_nat_facts(n, &in, false, &f);
    cr_assert(f.multi);
    cr_assert_not(f.outer_view);
    cr_assert_not_null(f.peer);
    pm_addr pub = pb_addr("203.0.113.5");
    cr_assert(pm_addr_eq(&f.peer->cli, &pub));
    cr_assert_eq(f.peer->sport, 61000);
    cr_assert_eq(f.peer->vantage, 1);
    cr_assert_not(f.nat_drop);
    cr_assert_eq(f.nrewrites, 0, "a plain translation with one router between: no rewrite");
    cr_assert_not(f.expect_known);
    cr_assert_not(f.unexpected_source);
    pm_nat_facts(n, &out, false, &f);
    cr_assert(f.outer_view, "the far view is reported with the near one");
    const pm_addr *pubs;
    cr_assert_eq(pm_nat_public_addresses(n, &pubs), 1);
    cr_assert(pm_addr_eq(&pubs[0], &pub));
    pm_nat_free(n);
}

Test(nat, unlinked_syn_at_the_inner_vantage_is_a_nat_drop)
{
    struct pm_nat *n = pm_nat_new(2, NULL, 0);
    struct pm_attempt in = view(1, 2, 0, "10.0.0.1", 40000, 64, T0);
    struct pm_attempt out = view(2, 1, 1, "203.0.113.5", 61000, 63, T0 + PM_MS(1));
    pm_nat_learn(n, &in);
    pm_nat_learn(n, &out);
    settle(n, T0, T0 + PM_SEC(100), T0 - PM_SEC(5), T0 + PM_SEC(100));
    struct pm_attempt lost = view(5, 0, 0, "10.0.0.1", 40002, 64, T0 + PM_SEC(20));
    lost.syns = 3;
    lost.last_syn = T0 + PM_SEC(23);
    struct pm_nat_facts f;
    pm_nat_facts(n, &lost, false, &f);
    cr_assert(f.nat_drop);
    cr_assert_eq(f.later_vantage, 1);
    cr_assert(f.nat_drop_confirmed, "other SYNs did cross between the vantages");
    cr_assert_not(f.nat_drop_assumed);
    cr_assert_null(f.peer);
    /* an unlinked SYN at the outer vantage has no later vantage to miss it */
    struct pm_attempt far = view(6, 0, 1, "203.0.113.5", 61001, 63, T0 + PM_SEC(20));
    pm_nat_facts(n, &far, false, &f);
    cr_assert_not(f.nat_drop);
    cr_assert_eq(f.later_vantage, -1);
    pm_nat_free(n);
}

Test(nat, nat_drop_needs_the_later_vantage_recording)
{
    struct pm_nat *n = pm_nat_new(2, NULL, 0);
    /* no links at all, the outer capture started after the SYN */
    settle(n, T0, T0 + PM_SEC(100), T0 + PM_SEC(50), T0 + PM_SEC(100));
    struct pm_attempt lost = view(5, 0, 0, "10.0.0.1", 40002, 64, T0 + PM_SEC(20));
    struct pm_nat_facts f;
    pm_nat_facts(n, &lost, false, &f);
    cr_assert_not(f.nat_drop);
    pm_nat_free(n);
    /* recording from before, but its last record is older than the SYNs: assumed */
    n = pm_nat_new(2, NULL, 0);
    settle(n, T0, T0 + PM_SEC(100), T0 - PM_SEC(5), T0 + PM_SEC(1));
    pm_nat_facts(n, &lost, false, &f);
    cr_assert(f.nat_drop);
    cr_assert(f.nat_drop_assumed);
    cr_assert_not(f.nat_drop_confirmed, "no SYN crossed: maybe not the same path");
    pm_nat_free(n);
}

Test(nat, unexpected_source_against_expect_source)
{
    pm_addr expect[1] = {pb_addr("203.0.113.5")};
    for (int want_unexpected = 0; want_unexpected <= 1; want_unexpected++) {
        struct pm_nat *n = pm_nat_new(2, expect, 1);
        const char *pub = want_unexpected ? "203.0.113.9" : "203.0.113.5";
        struct pm_attempt in = view(1, 2, 0, "10.0.0.1", 40000, 64, T0);
        struct pm_attempt out = view(2, 1, 1, pub, 61000, 63, T0 + PM_MS(1));
        pm_nat_learn(n, &in);
        pm_nat_learn(n, &out);
        settle(n, T0, T0 + PM_SEC(10), T0, T0 + PM_SEC(10));
        struct pm_nat_facts f;
        pm_nat_facts(n, &in, false, &f);
        cr_assert(f.expect_known);
        cr_assert_eq(f.unexpected_source, want_unexpected, "left as %s", pub);
        pm_nat_free(n);
    }
}

Test(nat, a_change_of_public_address_is_noticed)
{
    struct pm_nat *n = pm_nat_new(2, NULL, 0);
    struct pm_attempt in1 = view(1, 2, 0, "10.0.0.1", 40000, 64, T0);
    struct pm_attempt out1 = view(2, 1, 1, "203.0.113.5", 61000, 63, T0 + PM_MS(1));
    struct pm_attempt in2 = view(3, 4, 0, "10.0.0.1", 40001, 64, T0 + PM_SEC(30));
    struct pm_attempt out2 = view(4, 3, 1, "203.0.113.6", 61001, 63, T0 + PM_SEC(30) + 1);
    pm_nat_learn(n, &in1);
    pm_nat_learn(n, &out1);
    pm_nat_learn(n, &in2);
    pm_nat_learn(n, &out2);
    settle(n, T0, T0 + PM_SEC(60), T0, T0 + PM_SEC(60));
    struct pm_nat_facts f;
    pm_nat_facts(n, &in1, true, &f);
    cr_assert_not(f.public_changed);
    pm_nat_facts(n, &in2, true, &f);
    cr_assert(f.public_changed);
    pm_addr prev = pb_addr("203.0.113.5");
    cr_assert(pm_addr_eq(&f.prev_public, &prev));
    const pm_addr *pubs;
    cr_assert_eq(pm_nat_public_addresses(n, &pubs), 2);
    cr_assert_eq(pm_nat_links(n), 2);
    pm_nat_free(n);
}

Test(nat, an_answer_seen_outside_only_is_a_return_drop)
{
    struct pm_nat *n = pm_nat_new(2, NULL, 0);
    struct pm_attempt in = view(1, 2, 0, "10.0.0.1", 40000, 64, T0);
    struct pm_attempt out = view(2, 1, 1, "203.0.113.5", 61000, 63, T0 + PM_MS(1));
    out.answer = PM_ANS_SYNACK;
    out.ans.ts = T0 + PM_MS(30);
    pm_nat_learn(n, &in);
    pm_nat_learn(n, &out);
    settle(n, T0, T0 + PM_SEC(10), T0, T0 + PM_SEC(10));
    struct pm_nat_facts f;
    pm_nat_facts(n, &in, false, &f);
    cr_assert(f.return_drop);
    pm_nat_facts(n, &in, true, &f);
    cr_assert_not(f.return_drop);
    pm_nat_free(n);
}

static bool has_rewrite(const struct pm_nat_facts *f, const char *needle)
{
    for (int i = 0; i < f->nrewrites; i++) {
        if (strstr(f->rewrites[i], needle)) {
            return true;
        }
    }
    return false;
}

Test(nat, rewrites_are_listed)
{
    struct pm_nat *n = pm_nat_new(2, NULL, 0);
    struct pm_attempt in = view(1, 2, 0, "10.0.0.1", 40000, 64, T0);
    struct pm_attempt out = view(2, 1, 1, "203.0.113.5", 61000, 60, T0 + PM_MS(1));
    out.isn = 99999;
    out.syn_mss = 1400;
    out.syn_tos = 0x04;
    out.syn_optsig = 0x11;
    pm_nat_learn(n, &in);
    pm_nat_learn(n, &out);
    settle(n, T0, T0 + PM_SEC(10), T0, T0 + PM_SEC(10));
    struct pm_nat_facts f;
    pm_nat_facts(n, &in, true, &f);
    cr_assert_eq(f.nrewrites, 5);
    cr_assert(has_rewrite(&f, "ISN 1000 inside, 99999 outside"));
    cr_assert(has_rewrite(&f, "MSS changed from 1460 to 1400"));
    cr_assert(has_rewrite(&f, "TCP options changed"));
    cr_assert(has_rewrite(&f, "TTL fell by 4"));
    cr_assert(has_rewrite(&f, "DSCP/ECN changed from 0x00 to 0x04"));
    pm_nat_free(n);
}

Test(nat, a_single_vantage_has_no_nat_facts)
{
    struct pm_nat *n = pm_nat_new(1, NULL, 0);
    struct pm_attempt a = view(1, 0, 0, "10.0.0.1", 40000, 64, T0);
    pm_nat_learn(n, &a);
    pm_ns ws[1] = {T0}, we[1] = {T0 + PM_SEC(1)};
    pm_nat_settle(n, ws, we);
    struct pm_nat_facts f;
    pm_nat_facts(n, &a, false, &f);
    cr_assert_not(f.multi);
    cr_assert_not(f.nat_drop);
    cr_assert_null(f.peer);
    cr_assert_eq(pm_nat_rank(n, 0), 0);
    pm_nat_free(n);
}
