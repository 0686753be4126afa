/*
 * test_walk.c — the TTL walk's analysis (analyze/walk.c): crafted hops in, the end, the
 * destination's distance and the hop that drops, rejects or forges out; one test per
 * conclusion row (and a test that fails when a row has none), each checking the row's words,
 * verdict, owner, confidence and next step.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "util.h"
#include "walk.h"

#define DST "203.0.113.10"

static void addr(pm_addr *a, const char *s)
{
    cr_assert(pm_addr_parse(s, a), "%s", s);
}

static struct pm_walk *new_walk(const char *dst)
{
    static struct pm_walk w;
    memset(&w, 0, sizeof(w));
    w.ran = true;
    addr(&w.dst, dst);
    return &w;
}

/* An answer at `ttl` from `from`; its own TTL says how far it came (64 minus hops). */
static void answer(struct pm_walk *w, int ttl, int kind, const char *from, int reply_hops,
                   uint8_t icmp_type, uint8_t icmp_code)
{
    struct pm_walk_hop *h = &w->hop[ttl];
    h->probes = 1;
    h->sent_idx = ttl;
    h->r.kind = (uint8_t)kind;
    h->r.ttl = (uint8_t)(64 - reply_hops);
    h->r.icmp_type = icmp_type;
    h->r.icmp_code = icmp_code;
    addr(&h->r.from, from);
    if (ttl > w->top) {
        w->top = ttl;
    }
}

static void silent(struct pm_walk *w, int ttl)
{
    w->hop[ttl].probes = 2;
    if (ttl > w->top) {
        w->top = ttl;
    }
}

/* Routers 192.0.2.1, 198.51.100.1, 198.51.100.6 answer time-exceeded at TTL 1..n. */
static void routers(struct pm_walk *w, int n)
{
    static const char *r[] = {"192.0.2.1", "198.51.100.1", "198.51.100.6"};
    for (int i = 1; i <= n; i++) {
        answer(w, i, PM_WR_ICMP, r[i - 1], i - 1, 11, 0);
    }
}

static const struct pm_walk_row *decide(struct pm_walk *w, char *text, char *next)
{
    pm_walk_analyse(w);
    pm_walk_text(w, text, 400);
    pm_walk_next(w, next, 400);
    return pm_walk_conclude(w);
}

static const char *tested[] = {
    "walk-reached",      "walk-rst",         "walk-forged-rst",
    "walk-rejected",     "walk-destination-icmp", "walk-silent-after-hop",
    "walk-silent-from-first-hop", "walk-max-ttl", "walk-max-probes",
    "walk-interrupted",  "walk-error",       "walk-no-result",
};

Test(walk, every_row_has_a_test)
{
    cr_assert_eq(pm_walk_nrows, PM_ARRAY_LEN(tested), "one test per row");
    for (size_t i = 0; i < pm_walk_nrows; i++) {
        bool found = false;
        for (size_t k = 0; k < PM_ARRAY_LEN(tested); k++) {
            found |= !strcmp(pm_walk_rows[i].id, tested[k]);
        }
        cr_assert(found, "row %s has no test", pm_walk_rows[i].id);
    }
}

Test(walk_row, walk_reached)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 3);
    answer(w, 4, PM_WR_SYNACK, DST, 3, 0, 0);
    w->end_ttl = 4;
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-reached");
    cr_assert_eq(w->end, PM_WE_REACHED);
    cr_assert_eq(w->dest_hops, 3);
    cr_assert_eq(w->last_hop, 3);
    cr_assert(r->host_up && !r->located);
    cr_assert_eq(r->verdict, PM_V_OK);
    cr_assert_eq(r->owner, PM_OWN_NONE);
    cr_assert_str_eq(text, "port 25 is open along this path: 203.0.113.10 answered SYN-ACK at "
                           "TTL 4 (3 routers away)");
    cr_assert_str_eq(next, "", "nothing to do when port 25 is open on the path");
    cr_assert_str_eq(pm_walk_end_name(w->end), "reached");
}

Test(walk_row, walk_rst)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 3);
    answer(w, 4, PM_WR_RST, DST, 3, 0, 0); /* crossed 3 routers: as far as the probe went */
    w->end_ttl = 4;
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-rst");
    cr_assert_eq(w->dest_hops, 3);
    cr_assert(r->host_up);
    cr_assert_eq(r->verdict, PM_V_REMOTE_REFUSED);
    cr_assert_eq(r->owner, PM_OWN_RECIPIENT_POSTMASTER);
    cr_assert(strstr(text, "answered RST at TTL 4"), "%s", text);
    cr_assert(strstr(next, "tell its postmaster"), "%s", next);
}

Test(walk_row, walk_forged_rst)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 3);
    answer(w, 4, PM_WR_RST, DST, 2, 0, 0); /* crossed only 2 routers, the probe needed TTL 4 */
    w->end_ttl = 4;
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-forged-rst");
    cr_assert_eq(w->end, PM_WE_RST_FORGED);
    cr_assert_eq(w->forged_rst_hops, 2);
    cr_assert_eq(w->forged_hop, 3);
    char a[PM_ADDR_STRLEN];
    cr_assert_str_eq(pm_addr_str(&w->forged_addr, a), "198.51.100.6",
                     "the forging hop is the one that answered time-exceeded at TTL 3");
    cr_assert_eq(w->dest_hops, 3);
    cr_assert(r->located && !r->host_up);
    cr_assert_eq(r->verdict, PM_V_PATH_RST);
    cr_assert_eq(r->owner, PM_OWN_PATH);
    cr_assert(strstr(text, "forged on the path by hop 3 = 198.51.100.6"), "%s", text);
    cr_assert(strstr(next, "forged by hop 3 = 198.51.100.6"), "%s", next);
}

Test(walk, forged_rst_from_a_hop_that_never_answered_names_no_address)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 2);
    silent(w, 3);
    answer(w, 4, PM_WR_RST, DST, 2, 0, 0);
    w->end_ttl = 4;
    decide(w, text, next);
    cr_assert_eq(w->end, PM_WE_RST_FORGED);
    cr_assert_eq(w->forged_addr.family, 0);
    cr_assert(strstr(text, "by hop 3") && !strstr(text, " = "), "%s", text);
}

Test(walk_row, walk_rejected)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 2);
    /* TTL 3 answered by hop 2's router with admin-prohibited (3/13): it rejects. */
    answer(w, 3, PM_WR_ICMP, "198.51.100.1", 1, 3, 13);
    w->end_ttl = 3;
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-rejected");
    cr_assert_eq(w->reject_hop, 2, "placed where it answered time-exceeded itself");
    char a[PM_ADDR_STRLEN];
    cr_assert_str_eq(pm_addr_str(&w->reject_addr, a), "198.51.100.1");
    cr_assert_eq(w->dest_hops, -1);
    cr_assert(r->located);
    cr_assert_eq(r->verdict, PM_V_PATH_ICMP);
    cr_assert_eq(r->owner, PM_OWN_PATH);
    cr_assert(strstr(text, "rejected at hop 2 by 198.51.100.1 with ICMP"), "%s", text);
    cr_assert(strstr(next, "hop 2 (198.51.100.1) rejecting"), "%s", next);
}

Test(walk, a_rejecting_router_that_never_said_time_exceeded_is_placed_by_its_ttl)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 1);
    silent(w, 2);
    answer(w, 3, PM_WR_ICMP, "198.51.100.99", 1, 3, 13); /* its own TTL: 1 router crossed */
    w->end_ttl = 3;
    decide(w, text, next);
    cr_assert_eq(w->end, PM_WE_REJECTED);
    cr_assert_eq(w->reject_hop, 2);
    /* an ICMP TTL that says it came from beyond the probe's reach: the probe's TTL */
    w = new_walk(DST);
    answer(w, 1, PM_WR_ICMP, "192.0.2.9", 10, 3, 13);
    w->end_ttl = 1;
    decide(w, text, next);
    cr_assert_eq(w->reject_hop, 1);
}

Test(walk_row, walk_destination_icmp)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 3);
    answer(w, 4, PM_WR_ICMP, DST, 3, 3, 3); /* the MX itself: port unreachable */
    w->end_ttl = 4;
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-destination-icmp");
    cr_assert_eq(w->dest_hops, 3);
    cr_assert(r->host_up);
    cr_assert_eq(r->verdict, PM_V_REMOTE_ICMP);
    cr_assert(strstr(text, "203.0.113.10 itself rejects port 25 with ICMP"), "%s", text);
    cr_assert(strstr(next, "a host firewall REJECT"), "%s", next);
}

Test(walk_row, walk_silent_after_hop)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 2);
    silent(w, 3);
    silent(w, 4);
    w->end = PM_WE_SILENT;
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-silent-after-hop");
    cr_assert_eq(w->last_hop, 2);
    cr_assert(r->located);
    cr_assert_eq(r->verdict, PM_V_SILENT_DROP);
    cr_assert_eq(r->owner, PM_OWN_PATH);
    cr_assert_eq(r->confidence, PM_CONF_MEDIUM);
    cr_assert(strstr(text, "pass hop 2 (198.51.100.1) and vanish after it"), "%s", text);
    cr_assert(strstr(next, "passing hop 2 (198.51.100.1)"), "%s", next);
    cr_assert_str_eq(pm_walk_end_name(w->end), "silent");
}

Test(walk_row, walk_silent_from_first_hop)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    silent(w, 1);
    silent(w, 2);
    w->end = PM_WE_SILENT;
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-silent-from-first-hop");
    cr_assert_eq(r->confidence, PM_CONF_LOW, "no hop answered: a weak conclusion");
    cr_assert(strstr(text, "no hop answered at all"), "%s", text);
    cr_assert(strstr(next, "OUTPUT rules"), "%s", next);
}

Test(walk, a_late_answer_turns_silence_into_an_end)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 2);
    silent(w, 3);
    w->end = PM_WE_SILENT;
    /* hop 3's admin-prohibited arrived after the walk had moved on */
    answer(w, 3, PM_WR_ICMP, "198.51.100.6", 2, 3, 13);
    decide(w, text, next);
    cr_assert_eq(w->end, PM_WE_REJECTED);
    cr_assert_eq(w->end_ttl, 3);
    cr_assert_eq(w->reject_hop, 3);
}

Test(walk_row, walk_max_ttl)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 3);
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-max-ttl");
    cr_assert_eq(r->verdict, PM_V_INCONCLUSIVE);
    cr_assert_str_eq(text, "no end within TTL 3; last answer from hop 3");
    cr_assert(strstr(next, "larger --max-ttl"), "%s", next);
}

Test(walk_row, walk_max_probes)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 1);
    w->end = PM_WE_CAP;
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-max-probes");
    cr_assert_eq(r->verdict, PM_V_INCONCLUSIVE);
    cr_assert(strstr(text, "--max-probes reached at TTL 1"), "%s", text);
    cr_assert(strstr(next, "larger --max-probes"), "%s", next);
    cr_assert_str_eq(pm_walk_end_name(w->end), "max-probes");
}

Test(walk_row, walk_interrupted)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 2);
    w->end = PM_WE_STOPPED;
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-interrupted");
    cr_assert_str_eq(text, "interrupted at TTL 2");
    cr_assert_str_eq(next, "");
}

Test(walk_row, walk_error)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    w->end = PM_WE_ERROR;
    pm_strlcpy(w->error, "Operation not permitted", sizeof(w->error));
    const struct pm_walk_row *r = decide(w, text, next);
    cr_assert_str_eq(r->id, "walk-error");
    cr_assert_str_eq(text, "could not send: Operation not permitted");
    cr_assert(strstr(next, "could not send (Operation not permitted)"), "%s", next);
}

Test(walk_row, walk_no_result)
{
    /* A walk not analysed: no end yet. */
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    const struct pm_walk_row *r = pm_walk_conclude(w);
    pm_walk_text(w, text, sizeof(text));
    pm_walk_next(w, next, sizeof(next));
    cr_assert_str_eq(r->id, "walk-no-result");
    cr_assert_str_eq(text, "no result");
    cr_assert_str_eq(next, "");
    cr_assert_str_eq(pm_walk_end_name(w->end), "none");
}

Test(walk, ipv6_time_exceeded_is_type_3)
{
    struct pm_walk *w = new_walk("2001:db8:4::10");
    char text[400], next[400];
    answer(w, 1, PM_WR_ICMP, "2001:db8:1::1", 0, 3, 0);
    answer(w, 2, PM_WR_ICMP, "2001:db8:2::1", 1, 1, 1); /* ICMPv6 admin-prohibited */
    w->end_ttl = 2;
    decide(w, text, next);
    cr_assert_eq(w->last_hop, 1);
    cr_assert_eq(w->end, PM_WE_REJECTED);
    cr_assert_eq(w->reject_hop, 2, "placed by its own hop limit (1 router crossed)");
    cr_assert_str_eq(pm_walk_reply_word(&w->hop[1].r, PM_AF_INET6), "time-exceeded");
    cr_assert(!pm_walk_time_exceeded(&w->hop[1].r, PM_AF_INET), "type 3 is unreachable in v4");
}

Test(walk, the_first_differing_quote_is_the_rewrite_hop)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 3);
    w->hop[2].r.diff = 1u << 11;
    w->hop[3].r.diff = 1u << 11;
    decide(w, text, next);
    cr_assert_eq(w->diff_hop, 2);
}

Test(walk, hostile_bounds_are_clamped)
{
    struct pm_walk *w = new_walk(DST);
    char text[400], next[400];
    routers(w, 2);
    w->end_ttl = 40; /* beyond the hops probed */
    decide(w, text, next);
    cr_assert_eq(w->end_ttl, 0);
    cr_assert_eq(w->end, PM_WE_MAXTTL);
    w = new_walk(DST);
    w->top = 1000;
    w->end = PM_WE_SILENT;
    decide(w, text, next);
    cr_assert_eq(w->top, PM_WALK_MAX_TTL);
}
