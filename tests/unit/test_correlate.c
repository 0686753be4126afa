/*
 * test_correlate.c — MTA log lines to attempts (include/correlate.h, analyze/correlate.c):
 * matching by address, port (a line without a port means 25) and time window (RST/ICMP
 * answers end connect() at once; silences and sessions get the MTA timers), the kind of line
 * that fits the outcome, one line per attempt in order for MX bursts and repeated attempts,
 * duplicate status lines absorbed, the clock offset estimated from sharp pairs (RST/ICMP and
 * their "refused"/"no route" lines) and not applied within ±2 s, a given offset, not-on-wire
 * candidates only inside the capture window, refresh keeping matched marks, reset, counters.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "pktbuild.h"
#include "util.h"

#define SRV "192.0.2.25"
#define T0 PM_SEC(1795890769)

static struct pm_logentry ents[32];
static struct pm_logset ls;

static void reset_logs(void)
{
    memset(ents, 0, sizeof(ents));
    memset(&ls, 0, sizeof(ls));
    ls.e = ents;
    ls.cap = PM_ARRAY_LEN(ents);
}

TestSuite(correlate, .init = reset_logs);

/* Append a line (callers add them in time order, as pm_logset_finish leaves them). */
static struct pm_logentry *add(pm_ns ts, const char *addr, uint16_t port, enum pm_logkind kind,
                               enum pm_errclass err)
{
    cr_assert_lt(ls.n, ls.cap);
    struct pm_logentry *e = &ents[ls.n];
    memset(e, 0, sizeof(*e));
    e->ts = ts;
    e->mta = PM_MTA_POSTFIX;
    e->kind = (uint8_t)kind;
    e->err = (uint8_t)err;
    if (addr) {
        e->addr = pb_addr(addr);
    }
    e->port = port;
    e->line = (uint32_t)ls.n + 1;
    e->pid = 100;
    ls.n++;
    return e;
}

static struct pm_attempt att(const char *srv, uint16_t dport, pm_ns first, enum pm_answer ans,
                             pm_ns after)
{
    struct pm_attempt a;
    memset(&a, 0, sizeof(a));
    a.family = PM_AF_INET;
    a.cli = pb_addr("10.0.0.1");
    a.srv = pb_addr(srv);
    a.sport = 40000;
    a.dport = dport;
    a.first_syn = a.last_syn = a.last_seen = first;
    a.syns = 1;
    a.answer = (uint8_t)ans;
    if (ans != PM_ANS_NONE) {
        a.ans.ts = a.last_seen = first + after;
    }
    return a;
}

Test(correlate, matches_address_port_and_time)
{
    add(T0 + PM_MS(60), "198.51.100.7", 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    add(T0 + PM_MS(70), SRV, 587, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_logentry *want = add(T0 + PM_MS(80), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), want);
    cr_assert_null(pm_correlator_match(c, &a, PM_OUT_REFUSED), "a line matches one attempt");
    cr_assert_eq(pm_correlator_stats(c)->matched, 1);
    /* the port-587 line belongs to a port-587 attempt */
    struct pm_attempt b = att(SRV, 587, T0, PM_ANS_RST, PM_MS(50));
    cr_assert_eq(pm_correlator_match(c, &b, PM_OUT_REFUSED), &ents[1]);
    pm_correlator_free(c);
}

Test(correlate, a_line_without_port_means_25)
{
    struct pm_logentry *l = add(T0 + PM_MS(80), SRV, 0, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt b = att(SRV, 587, T0, PM_ANS_RST, PM_MS(50));
    cr_assert_null(pm_correlator_match(c, &b, PM_OUT_REFUSED));
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), l);
    pm_correlator_free(c);
}

Test(correlate, time_windows)
{
    add(T0 - PM_SEC(5), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);  /* before the SYN */
    add(T0 + PM_SEC(10), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED); /* long after a RST */
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    cr_assert_null(pm_correlator_match(c, &a, PM_OUT_REFUSED),
                   "connect() ends on the RST: a line 10 s later is another attempt");
    /* a silence can be logged much later (kernel SYN retries, MTA timer) */
    struct pm_attempt s = att(SRV, 25, T0, PM_ANS_NONE, 0);
    s.syns = 3;
    s.last_syn = s.last_seen = T0 + PM_SEC(3);
    cr_assert_eq(pm_correlator_match(c, &s, PM_OUT_NO_RESPONSE), &ents[1]);
    pm_correlator_free(c);
    /* ... but not beyond any connect timer */
    reset_logs();
    add(T0 + PM_SEC(400), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT);
    c = pm_correlator_new(&ls, PM_NS_NONE);
    cr_assert_null(pm_correlator_match(c, &s, PM_OUT_NO_RESPONSE));
    pm_correlator_free(c);
}

Test(correlate, the_kind_that_fits_the_outcome_wins)
{
    add(T0 + PM_SEC(1), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT);
    struct pm_logentry *d = add(T0 + PM_SEC(5), SRV, 25, PM_LK_DELIVERED, PM_EC_NONE);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_SYNACK, PM_MS(20));
    cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_CONNECTED), d);
    pm_correlator_free(c);
    /* with no fitting line the nearest one is returned, so the contradiction shows */
    reset_logs();
    struct pm_logentry *g = add(T0 + PM_SEC(1), SRV, 25, PM_LK_GREETING_LOST, PM_EC_NONE);
    c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt r = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    cr_assert_eq(pm_correlator_match(c, &r, PM_OUT_REFUSED), g);
    pm_correlator_free(c);
}

Test(correlate, mx_burst_maps_one_line_per_attempt_in_order)
{
    const char *mx[] = {"192.0.2.25", "198.51.100.7", "203.0.113.40"};
    for (int i = 0; i < 3; i++) {
        add(T0 + PM_MS(100 + 30 * i), mx[i], 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    }
    /* the first MX again half a minute later (a retry) */
    add(T0 + PM_SEC(30) + PM_MS(100), mx[0], 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    for (int i = 0; i < 3; i++) {
        struct pm_attempt a = att(mx[i], 25, T0 + PM_MS(30 * i), PM_ANS_RST, PM_MS(60));
        cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), &ents[i], "MX %d", i);
    }
    struct pm_attempt again = att(mx[0], 25, T0 + PM_SEC(30), PM_ANS_RST, PM_MS(60));
    cr_assert_eq(pm_correlator_match(c, &again, PM_OUT_REFUSED), &ents[3]);
    cr_assert_eq(pm_correlator_stats(c)->matched, 4);
    cr_assert_eq(pm_correlator_stats(c)->absorbed, 0);
    pm_correlator_free(c);
}

Test(correlate, duplicate_status_lines_are_absorbed)
{
    struct pm_logentry *l = add(T0 + PM_MS(80), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_logentry *st = add(T0 + PM_MS(90), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    st->from_status = 1; /* status=deferred (connect to ...: Connection refused) */
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), l);
    size_t cur = 0;
    cr_assert_null(pm_correlator_next_not_on_wire(c, T0 - PM_SEC(60), T0 + PM_SEC(60), &cur),
                   "the status line is not a second, not-on-wire attempt");
    cr_assert_eq(pm_correlator_stats(c)->absorbed, 1, "folded when judged");
    pm_correlator_free(c);
}

/* Two smtp processes delivering in parallel to one MX both log "Connection refused" in the
 * same second, for two attempts (two SYNs, two RSTs). correlate.h: "one line matches at most
 * one attempt, in time order"; the second attempt must get the second process's line, not
 * have it folded into the first as a duplicate. */
Test(correlate, parallel_deliveries_to_one_mx_get_their_own_lines)
{
    struct pm_logentry *l1 = add(T0 + PM_MS(80), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_logentry *l2 = add(T0 + PM_MS(85), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    l1->pid = 4101;
    l2->pid = 4102;
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    struct pm_attempt b = att(SRV, 25, T0 + PM_MS(2), PM_ANS_RST, PM_MS(50));
    b.sport = 40001;
    cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), l1);
    cr_assert_eq(pm_correlator_match(c, &b, PM_OUT_REFUSED), l2);
    cr_assert_eq(pm_correlator_stats(c)->absorbed, 0);
    pm_correlator_free(c);
}

/* One smtp(8) process delivers message after message: with mx1 refusing, it logs
 * "connect to mx1...: Connection refused" for each, a second apart, each its own connect()
 * (its own SYN and RST). The same process and the same text within the tolerance must not
 * fold the second line into the first attempt (seen in the watch lab: the second and third
 * attempts of a round were left without a line, or took the next round's). */
Test(correlate, one_process_refused_twice_is_two_attempts)
{
    struct pm_logentry *l1 = add(T0 + PM_MS(80), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_logentry *l2 = add(T0 + PM_MS(1280), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    /* l1 as logged (no queue id on a "connect to" line); l2 merged with its status line */
    pm_strlcpy(l2->queue_id, "BBBB2", sizeof(l2->queue_id));
    /* an unmerged status line of the second message: it restates l2, not l1 */
    struct pm_logentry *s2 = add(T0 + PM_MS(1290), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    s2->from_status = 1;
    pm_strlcpy(s2->queue_id, "BBBB2", sizeof(s2->queue_id));
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    struct pm_attempt b = att(SRV, 25, T0 + PM_MS(1200), PM_ANS_RST, PM_MS(50));
    b.sport = 40001;
    cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), l1);
    cr_assert_eq(pm_correlator_match(c, &b, PM_OUT_REFUSED), l2, "l2 is not folded into l1");
    size_t cur = 0;
    cr_assert_null(pm_correlator_next_not_on_wire(c, T0 - PM_SEC(60), T0 + PM_SEC(60), &cur),
                   "l2's status line is not a not-on-wire attempt");
    cr_assert_eq(pm_correlator_stats(c)->absorbed, 1, "l2's status line folds into l2");
    pm_correlator_free(c);
}

/* Three messages delivered by one smtp process, one connection each, 0.3 s apart: each
 * attempt takes its own status=sent line. Over one cached connection (one attempt) the
 * other two lines are folded into the first when judged, never not-on-wire. */
Test(correlate, delivered_lines_of_one_process_one_per_connection)
{
    struct pm_logentry *l[3];
    for (int i = 0; i < 3; i++) {
        l[i] = add(T0 + PM_MS(300 * i + 100), SRV, 25, PM_LK_DELIVERED, PM_EC_NONE);
        l[i]->from_status = 1;
    }
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    for (int i = 0; i < 3; i++) {
        struct pm_attempt a = att(SRV, 25, T0 + PM_MS(300 * i), PM_ANS_SYNACK, PM_MS(1));
        a.sport = (uint16_t)(40000 + i);
        cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_CONNECTED), l[i], "connection %d", i);
    }
    pm_correlator_free(c);
    c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt one = att(SRV, 25, T0, PM_ANS_SYNACK, PM_MS(1));
    cr_assert_eq(pm_correlator_match(c, &one, PM_OUT_CONNECTED), l[0]);
    size_t cur = 0;
    cr_assert_null(pm_correlator_next_not_on_wire(c, T0 - PM_SEC(60), T0 + PM_SEC(60), &cur));
    cr_assert_eq(pm_correlator_stats(c)->absorbed, 2);
    pm_correlator_free(c);
}

Test(correlate, clock_offset_from_sharp_pairs)
{
    /* the log's clock runs 90 s ahead of the capture's */
    const char *mx[] = {"192.0.2.25", "198.51.100.7", "203.0.113.40", "192.0.2.26",
                        "198.51.100.8"};
    struct pm_attempt as[5];
    for (int i = 0; i < 5; i++) {
        as[i] = att(mx[i], 25, T0 + PM_SEC(60 * i), PM_ANS_RST, PM_MS(40));
        add(as[i].ans.ts + PM_SEC(90) + PM_MS(300), mx[i], 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    }
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    for (int i = 0; i < 5; i++) {
        pm_correlator_sample(c, &as[i]);
    }
    pm_correlator_settle(c);
    const struct pm_corr_stats *st = pm_correlator_stats(c);
    cr_assert_eq(st->offset_samples, 5);
    cr_assert_not(st->offset_given);
    cr_assert_eq(st->offset, PM_SEC(90) + PM_MS(300));
    cr_assert_eq(pm_correlator_to_capture(c, T0 + PM_SEC(100)), T0 + PM_SEC(10) - PM_MS(300));
    cr_assert_eq(pm_correlator_to_capture(c, PM_NS_NONE), PM_NS_NONE);
    pm_correlator_reset(c);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(pm_correlator_match(c, &as[i], PM_OUT_REFUSED), &ents[i], "pair %d", i);
    }
    cr_assert_eq(pm_correlator_stats(c)->offset, PM_SEC(90) + PM_MS(300), "reset keeps it");
    pm_correlator_free(c);
}

Test(correlate, silences_are_not_sharp_pairs)
{
    struct pm_attempt s = att(SRV, 25, T0, PM_ANS_NONE, 0);
    s.syns = 3;
    s.last_syn = s.last_seen = T0 + PM_SEC(3);
    add(T0 + PM_SEC(120), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    pm_correlator_sample(c, &s);
    pm_correlator_settle(c);
    cr_assert_eq(pm_correlator_stats(c)->offset_samples, 0);
    cr_assert_eq(pm_correlator_stats(c)->offset, 0);
    pm_correlator_free(c);
}

Test(correlate, offset_within_two_seconds_is_not_applied)
{
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(40));
    add(a.ans.ts + PM_MS(1500), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    pm_correlator_sample(c, &a);
    pm_correlator_settle(c);
    cr_assert_eq(pm_correlator_stats(c)->offset_samples, 1);
    cr_assert_eq(pm_correlator_stats(c)->offset, 0, "syslog's 1 s resolution, not a skew");
    pm_correlator_free(c);
}

Test(correlate, given_offset_is_used)
{
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(40));
    struct pm_logentry *l = add(T0 - PM_SEC(30) + PM_MS(100), SRV, 25, PM_LK_CONNECT_FAIL,
                                PM_EC_REFUSED);
    struct pm_correlator *c = pm_correlator_new(&ls, -PM_SEC(30));
    pm_correlator_sample(c, &a);
    pm_correlator_settle(c);
    const struct pm_corr_stats *st = pm_correlator_stats(c);
    cr_assert(st->offset_given);
    cr_assert_eq(st->offset, -PM_SEC(30));
    cr_assert_eq(st->offset_samples, 0);
    cr_assert_eq(pm_correlator_to_capture(c, T0), T0 + PM_SEC(30));
    cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), l);
    pm_correlator_free(c);
}

Test(correlate, not_on_wire_only_inside_the_window)
{
    add(T0 - PM_SEC(100), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);       /* before */
    struct pm_logentry *in = add(T0 + PM_SEC(10), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    add(T0 + PM_SEC(10) + PM_MS(400), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED)->from_status = 1;
    add(T0 + PM_SEC(20), SRV, 25, PM_LK_GREETING_TIMEOUT, PM_EC_NONE);      /* a session */
    add(T0 + PM_SEC(30), NULL, 0, PM_LK_NO_ATTEMPT, PM_EC_NONE);             /* suspended */
    add(T0 + PM_SEC(40), NULL, 0, PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT);        /* no address */
    add(T0 + PM_SEC(59) + PM_MS(500), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED); /* edge */
    add(T0 + PM_SEC(500), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);       /* after */
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    size_t cur = 0;
    const struct pm_logentry *e = pm_correlator_next_not_on_wire(c, T0, T0 + PM_SEC(60), &cur);
    cr_assert_eq(e, in);
    /* 59.5 s stamped in whole seconds happened in [59.5, 60.5): past the window's end, so
     * its SYN may have left after the capture stopped: outside-window (issue 14). */
    cr_assert_null(pm_correlator_next_not_on_wire(c, T0, T0 + PM_SEC(60), &cur));
    const struct pm_corr_stats *st = pm_correlator_stats(c);
    cr_assert_eq(st->not_on_wire, 1);
    cr_assert_eq(st->absorbed, 1);
    cr_assert_eq(st->outside_window, 3);
    const struct pm_corr_outside *o;
    cr_assert_eq(pm_correlator_outside(c, &o), 3);
    cr_assert_eq(o[0].idx, 0);
    cr_assert_eq(o[1].idx, 6);
    cr_assert_eq(o[1].iv.hi, T0 + PM_SEC(60) + PM_MS(500), "the line's time + 1 s resolution");
    cr_assert_eq(o[2].idx, 7);
    cr_assert_eq(st->unmatched_session, 1);
    cr_assert_eq(st->no_attempt, 1);
    cr_assert_eq(st->no_address, 1);
    pm_correlator_free(c);
}

Test(correlate, matched_lines_are_never_not_on_wire)
{
    add(T0 + PM_MS(80), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    cr_assert_not_null(pm_correlator_match(c, &a, PM_OUT_REFUSED));
    size_t cur = 0;
    cr_assert_null(pm_correlator_next_not_on_wire(c, T0 - PM_SEC(5), T0 + PM_SEC(60), &cur));
    /* reset: a second pass sees the line free again */
    pm_correlator_reset(c);
    cr_assert_eq(pm_correlator_stats(c)->matched, 0);
    cur = 0;
    cr_assert_not_null(pm_correlator_next_not_on_wire(c, T0 - PM_SEC(5), T0 + PM_SEC(60), &cur));
    pm_correlator_free(c);
}

Test(correlate, refresh_keeps_matched_marks)
{
    add(T0 + PM_MS(80), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), &ents[0]);
    /* live: a line is appended to the log */
    struct pm_logentry *late = add(T0 + PM_SEC(20), "198.51.100.7", 25, PM_LK_CONNECT_FAIL,
                                   PM_EC_TIMEDOUT);
    pm_correlator_refresh(c);
    size_t cur = 0;
    cr_assert_eq(pm_correlator_next_not_on_wire(c, T0, T0 + PM_SEC(60), &cur), late,
                 "the matched line stays matched; the new one is found");
    cr_assert_null(pm_correlator_next_not_on_wire(c, T0, T0 + PM_SEC(60), &cur));
    /* and the new line is matchable by address after the refresh */
    pm_correlator_reset(c);
    struct pm_attempt b = att("198.51.100.7", 25, T0 + PM_SEC(10), PM_ANS_NONE, 0);
    b.syns = 3;
    b.last_syn = b.last_seen = T0 + PM_SEC(13);
    cr_assert_eq(pm_correlator_match(c, &b, PM_OUT_NO_RESPONSE), late);
    pm_correlator_free(c);
}

Test(correlate, no_logs)
{
    struct pm_correlator *c = pm_correlator_new(NULL, PM_NS_NONE);
    struct pm_attempt a = att(SRV, 25, T0, PM_ANS_RST, PM_MS(50));
    pm_correlator_sample(c, &a);
    pm_correlator_settle(c);
    cr_assert_null(pm_correlator_match(c, &a, PM_OUT_REFUSED));
    size_t cur = 0;
    cr_assert_null(pm_correlator_next_not_on_wire(c, T0, T0 + PM_SEC(1), &cur));
    cr_assert_eq(pm_correlator_stats(c)->offset, 0);
    pm_correlator_refresh(c);
    pm_correlator_free(c);
}

/* ---- the capture window (issue 14 item 1): a line is judged not-on-wire only when the
 * whole interval in which its SYNs must have left lies inside the capture window ---- */

static enum pm_nowire judge1(pm_ns ws, pm_ns we, pm_ns connect_timeout)
{
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    pm_correlator_set_connect_timeout(c, connect_timeout);
    enum pm_nowire r = PM_NOWIRE_SKIP;
    for (size_t i = 0; i < ls.n; i++) {
        enum pm_nowire x = pm_correlator_judge(c, i, ws, we);
        r = x != PM_NOWIRE_SKIP ? x : r;
    }
    pm_correlator_free(c);
    return r;
}

Test(correlate, whole_second_stamp_just_before_the_capture_is_outside)
{
    /* Seen: "17:55:55 ... Connection refused" with the capture from 17:55:56.3. */
    add(T0 - PM_SEC(1), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    cr_assert_eq(judge1(T0 + PM_MS(300), T0 + PM_SEC(60), PM_NS_NONE), PM_NOWIRE_OUTSIDE);
}

Test(correlate, whole_second_stamp_just_after_the_capture_is_outside)
{
    /* Seen: "17:56:01" when the capture ended at 17:55:59.4. */
    add(T0 + PM_SEC(5), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_NETUNREACH);
    cr_assert_eq(judge1(T0 - PM_SEC(60), T0 + PM_SEC(3) + PM_MS(400), PM_NS_NONE),
                 PM_NOWIRE_OUTSIDE);
}

Test(correlate, stamp_resolution_decides_at_the_end_edge)
{
    /* 2.5 s before the end: a whole-second stamp may be 1 s later, a µs stamp may not. */
    struct pm_logentry *e = add(T0 + PM_SEC(57) + PM_MS(500), SRV, 25, PM_LK_CONNECT_FAIL,
                                PM_EC_REFUSED);
    e->ts = T0 + PM_SEC(59); /* whole seconds: [59, 60) */
    cr_assert_eq(judge1(T0, T0 + PM_SEC(59) + PM_MS(500), PM_NS_NONE), PM_NOWIRE_OUTSIDE);
    reset_logs();
    e = add(T0 + PM_SEC(59), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    e->ts_digits = 6; /* [59.000000, 59.000001) */
    cr_assert_eq(judge1(T0, T0 + PM_SEC(59) + PM_MS(500), PM_NS_NONE), PM_NOWIRE_YES);
}

Test(correlate, timed_out_needs_the_whole_connect_timeout_inside)
{
    /* Seen: a "Connection timed out" logged inside the capture whose SYNs left 30 s
     * earlier, before the capture began. Postfix's default smtp_connect_timeout is 30 s. */
    add(T0 + PM_SEC(20), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT);
    cr_assert_eq(judge1(T0, T0 + PM_SEC(120), PM_NS_NONE), PM_NOWIRE_OUTSIDE);
    /* the user says the MTA gives up after 5 s */
    cr_assert_eq(judge1(T0, T0 + PM_SEC(120), PM_SEC(5)), PM_NOWIRE_YES);
    /* Exim/Sendmail: the kernel's SYN retries (127 s) bound it, not Postfix's 30 s */
    ents[0].mta = PM_MTA_EXIM;
    cr_assert_eq(judge1(T0 - PM_SEC(100), T0 + PM_SEC(120), PM_NS_NONE), PM_NOWIRE_OUTSIDE);
    cr_assert_eq(judge1(T0 - PM_SEC(110), T0 + PM_SEC(120), PM_NS_NONE), PM_NOWIRE_YES);
}

Test(correlate, refused_and_no_route_take_about_nothing)
{
    add(T0 + PM_SEC(5), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    cr_assert_eq(judge1(T0 + PM_SEC(3), T0 + PM_SEC(60), PM_NS_NONE), PM_NOWIRE_YES);
    cr_assert_eq(judge1(T0 + PM_SEC(3) + PM_MS(1), T0 + PM_SEC(60), PM_NS_NONE),
                 PM_NOWIRE_OUTSIDE, "a RST may answer the first retransmission");
    reset_logs();
    add(T0 + PM_SEC(5), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_HOSTUNREACH);
    cr_assert_eq(judge1(T0 + PM_SEC(2), T0 + PM_SEC(60), PM_NS_NONE), PM_NOWIRE_OUTSIDE,
                 "an ARP failure answers 3 s after the SYN");
    cr_assert_eq(judge1(T0 + PM_SEC(1), T0 + PM_SEC(60), PM_NS_NONE), PM_NOWIRE_YES);
}

Test(correlate, the_queue_entry_bounds_the_connect_start)
{
    /* A timed-out line 20 s into the capture, whose message was queued 2 s into it: its SYNs
     * left after the queue entry, so the default 30 s does not reach before the capture. */
    struct pm_loganchor an = {.ts = T0 + PM_SEC(2), .mta = PM_MTA_POSTFIX};
    pm_strlcpy(an.queue_id, "4ABCDE1234", sizeof(an.queue_id));
    ls.anchors = &an;
    ls.nanchors = 1;
    struct pm_logentry *e = add(T0 + PM_SEC(20), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT);
    pm_strlcpy(e->queue_id, "4ABCDE1234", sizeof(e->queue_id));
    cr_assert_eq(judge1(T0, T0 + PM_SEC(120), PM_NS_NONE), PM_NOWIRE_YES);
    /* another message's entry says nothing about this one */
    pm_strlcpy(e->queue_id, "4ABCDE9999", sizeof(e->queue_id));
    cr_assert_eq(judge1(T0, T0 + PM_SEC(120), PM_NS_NONE), PM_NOWIRE_OUTSIDE);
    /* a Postfix line without a queue id takes it from its process's next status line */
    e->queue_id[0] = '\0';
    struct pm_logentry *st = add(T0 + PM_SEC(21), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT);
    st->from_status = 1;
    pm_strlcpy(st->queue_id, "4ABCDE1234", sizeof(st->queue_id));
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_syn_interval iv;
    pm_correlator_syn_interval(c, e, &iv);
    cr_assert_eq(iv.lo, T0 + PM_SEC(2));
    cr_assert_eq(iv.hi, T0 + PM_SEC(21));
    cr_assert_str_eq(iv.anchor_what, "queued");
    /* the same pid on another host is another process: no queue id from it */
    st->hosthash = 7;
    pm_correlator_syn_interval(c, e, &iv);
    cr_assert_eq(iv.lo, T0 + PM_SEC(20) - PM_SEC(31));
    pm_correlator_free(c);
    ls.anchors = NULL;
    ls.nanchors = 0;
}

Test(correlate, the_same_process_previous_line_bounds_the_connect_start)
{
    add(T0 + PM_SEC(5), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT);
    struct pm_logentry *e = add(T0 + PM_SEC(10), "198.51.100.7", 25, PM_LK_CONNECT_FAIL,
                                PM_EC_TIMEDOUT);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_syn_interval iv;
    pm_correlator_syn_interval(c, e, &iv);
    cr_assert_eq(iv.lo, T0 + PM_SEC(5), "one smtp process connects to one address at a time");
    e->pid = 101;
    pm_correlator_syn_interval(c, e, &iv);
    cr_assert_eq(iv.lo, T0 + PM_SEC(10) - PM_SEC(31), "another process says nothing");
    pm_correlator_free(c);
}

Test(correlate, clock_offset_uncertainty_widens_the_interval)
{
    /* Sharp pairs whose log lines come 0.2 .. 1.6 s after the answers: the median is not
     * applied (within the 2 s tolerance) and is the uncertainty left. */
    const pm_ns lag[5] = {PM_MS(200), PM_MS(900), PM_MS(1200), PM_MS(1400), PM_MS(1600)};
    for (int i = 0; i < 5; i++) {
        char a[32];
        snprintf(a, sizeof(a), "192.0.2.%d", 30 + i);
        add(T0 + PM_SEC(10 * i) + PM_MS(50) + lag[i], a, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    }
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    for (int i = 0; i < 5; i++) {
        char a[32];
        snprintf(a, sizeof(a), "192.0.2.%d", 30 + i);
        struct pm_attempt x = att(a, 25, T0 + PM_SEC(10 * i), PM_ANS_RST, PM_MS(50));
        pm_correlator_sample(c, &x);
    }
    pm_correlator_settle(c);
    const struct pm_corr_stats *st = pm_correlator_stats(c);
    cr_assert_eq(st->offset, 0);
    cr_assert_eq(st->offset_uncertainty, PM_MS(1200));
    struct pm_syn_interval iv;
    pm_correlator_syn_interval(c, &ents[2], &iv);
    cr_assert_eq(iv.hi, ents[2].ts + PM_SEC(1) + PM_MS(1200));
    cr_assert_eq(iv.lo, ents[2].ts - PM_SEC(2) - PM_MS(1200));
    pm_correlator_free(c);
    /* a given offset is taken as exact */
    c = pm_correlator_new(&ls, PM_SEC(3));
    pm_correlator_syn_interval(c, &ents[2], &iv);
    cr_assert_eq(iv.uncertainty, 0);
    cr_assert_eq(iv.hi, ents[2].ts - PM_SEC(3) + PM_SEC(1));
    pm_correlator_free(c);
}

Test(correlate, exim_ambiguous_timeout_may_include_the_greeting_timer)
{
    struct pm_logentry *e = add(T0 + PM_SEC(100), SRV, 25, PM_LK_GREETING_TIMEOUT,
                                PM_EC_TIMEDOUT);
    e->mta = PM_MTA_EXIM;
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_syn_interval iv;
    pm_correlator_syn_interval(c, e, &iv);
    cr_assert_eq(iv.connect_max, PM_SEC(128) + PM_SEC(300));
    pm_correlator_free(c);
}

Test(correlate, no_window_judges_nothing)
{
    add(T0, SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    cr_assert_eq(judge1(PM_NS_NONE, PM_NS_NONE, PM_NS_NONE), PM_NOWIRE_OUTSIDE);
}

Test(correlate, a_probe_connect_is_bounded_by_its_measured_duration)
{
    /* capture/probe.c feeds its own connects: stamped when connect() failed, to the ns,
     * with the measured duration: the interval is that connect, not the kernel's 127 s. */
    struct pm_logentry *e = add(T0 + PM_SEC(5), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_TIMEDOUT);
    e->mta = PM_MTA_UNKNOWN;
    e->ts_digits = 9;
    e->conn_delay_ms = 3000;
    cr_assert_eq(judge1(T0 + PM_SEC(1), T0 + PM_SEC(6), PM_NS_NONE), PM_NOWIRE_YES);
    cr_assert_eq(judge1(T0 + PM_SEC(2) + PM_MS(500), T0 + PM_SEC(6), PM_NS_NONE),
                 PM_NOWIRE_OUTSIDE, "the connect began at T0+2 s");
}
/* A flood of attempts to one address, each logged: every attempt takes its own line, in
 * order, and lines already taken are jumped over (skip pointers): the earliest free line of
 * the window wins even after thousands of matches to the same address. */
Test(correlate, flood_to_one_address_matches_each_line_once_in_order)
{
    enum { N = 20000 };
    static struct pm_logentry big[N];
    memset(big, 0, sizeof(big));
    struct pm_logset fl;
    memset(&fl, 0, sizeof(fl));
    fl.e = big;
    fl.cap = N;
    for (int i = 0; i < N; i++) {
        struct pm_logentry *e = &big[fl.n++];
        e->ts = T0 + PM_MS(10) * i + PM_MS(5); /* 5 ms after each attempt's RST */
        e->mta = PM_MTA_POSTFIX;
        e->kind = PM_LK_CONNECT_FAIL;
        e->err = PM_EC_REFUSED;
        e->addr = pb_addr(SRV);
        e->port = 25;
        e->line = (uint32_t)i + 1;
        e->pid = (uint32_t)(1000 + i); /* one smtp process per attempt: never folded */
    }
    struct pm_correlator *c = pm_correlator_new(&fl, PM_SEC(0));
    for (int i = 0; i < N; i++) {
        /* every attempt's window covers ~400 earlier lines: only the skip pointers keep this
         * from walking them */
        struct pm_attempt a = att(SRV, 25, T0 + PM_MS(10) * i, PM_ANS_RST, PM_MS(1));
        const struct pm_logentry *m = pm_correlator_match(c, &a, PM_OUT_REFUSED);
        cr_assert_not_null(m, "attempt %d matched", i);
        cr_assert_eq(m->line, (uint32_t)i + 1, "attempt %d took line %u", i, m->line);
    }
    cr_assert_eq(pm_correlator_stats(c)->matched, N);
    size_t cursor = 0;
    cr_assert_null(pm_correlator_next_not_on_wire(c, T0, T0 + PM_SEC(1000), &cursor),
                   "every line was taken");
    pm_correlator_free(c);
}

/* ---- the index (issue 19): per-address buckets, lines appended as a followed log grows ---- */

/* A followed log grows one line between decisions: each refresh indexes only the new line,
 * so the work over the whole run follows the number of lines, where the old index re-sorted
 * the whole log per refresh (n log n each, quadratic over a day). */
Test(correlate, refresh_work_follows_new_lines)
{
    enum { N = 6000 };
    struct pm_logentry *big = calloc(N, sizeof(*big));
    cr_assert_not_null(big);
    ls.e = big;
    ls.cap = N;
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    char addr[32];
    for (int i = 0; i < N; i++) {
        struct pm_logentry *e = &big[ls.n];
        e->ts = T0 + PM_SEC(1) * i; /* 7 s apart per address: one line per window */
        e->mta = PM_MTA_POSTFIX;
        e->kind = PM_LK_CONNECT_FAIL;
        e->err = PM_EC_REFUSED;
        snprintf(addr, sizeof(addr), "198.51.100.%d", i % 7); /* few addresses: long buckets */
        e->addr = pb_addr(addr);
        e->port = 25;
        e->line = (uint32_t)i + 1;
        ls.n++;
        pm_correlator_refresh(c);
    }
    cr_assert_eq(pm_correlator_index_work(c), N, "one placement per line, got %llu",
                 (unsigned long long)pm_correlator_index_work(c));
    /* and every line is still found by its attempt, in order */
    for (int i = 0; i < N; i += 997) {
        snprintf(addr, sizeof(addr), "198.51.100.%d", i % 7);
        struct pm_attempt a = att(addr, 25, T0 + PM_SEC(1) * i - PM_MS(5), PM_ANS_RST, PM_MS(1));
        cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), &big[i], "line %d", i);
    }
    pm_correlator_free(c);
    free(big);
}

/* Two log files merged live may deliver a line earlier than one already indexed: it takes its
 * place in time (and the jumps over taken lines are redone), so matching stays in time order. */
Test(correlate, line_out_of_order_takes_its_place)
{
    /* 5 s apart: more than the tolerance within which equal lines fold into one */
    struct pm_logentry *l2 = add(T0 + PM_SEC(6), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    struct pm_attempt a2 = att(SRV, 25, T0 + PM_SEC(6) - PM_MS(20), PM_ANS_RST, PM_MS(10));
    cr_assert_eq(pm_correlator_match(c, &a2, PM_OUT_REFUSED), l2);
    struct pm_logentry *l1 = add(T0 + PM_SEC(1), SRV, 25, PM_LK_CONNECT_FAIL, PM_EC_REFUSED);
    pm_correlator_refresh(c);
    cr_assert_eq(pm_correlator_index_work(c), 3, "appended, then stepped back once");
    struct pm_attempt a1 = att(SRV, 25, T0 + PM_SEC(1) - PM_MS(20), PM_ANS_RST, PM_MS(10));
    cr_assert_eq(pm_correlator_match(c, &a1, PM_OUT_REFUSED), l1);
    pm_correlator_reset(c);
    cr_assert_eq(pm_correlator_match(c, &a1, PM_OUT_REFUSED), l1, "after a reset too");
    cr_assert_eq(pm_correlator_match(c, &a2, PM_OUT_REFUSED), l2);
    pm_correlator_free(c);
}

/* Many addresses make the bucket table grow (rehash): every address keeps its lines. */
Test(correlate, many_addresses_survive_growth)
{
    enum { N = 3000 };
    struct pm_logentry *big = calloc(N, sizeof(*big));
    cr_assert_not_null(big);
    ls.e = big;
    ls.cap = N;
    char addr[48];
    for (int i = 0; i < N; i++) {
        struct pm_logentry *e = &big[i];
        e->ts = T0 + PM_MS(i);
        e->mta = PM_MTA_POSTFIX;
        e->kind = PM_LK_CONNECT_FAIL;
        e->err = PM_EC_REFUSED;
        snprintf(addr, sizeof(addr), "2001:db8::%x:%x", i / 256, i % 256);
        e->addr = pb_addr(addr);
        e->port = 25;
        e->line = (uint32_t)i + 1;
    }
    ls.n = N;
    struct pm_correlator *c = pm_correlator_new(&ls, PM_NS_NONE);
    for (int i = N - 1; i >= 0; i -= 131) {
        snprintf(addr, sizeof(addr), "2001:db8::%x:%x", i / 256, i % 256);
        struct pm_attempt a = att(addr, 25, T0 + PM_MS(i) - PM_MS(5), PM_ANS_RST, PM_MS(1));
        a.family = PM_AF_INET6;
        cr_assert_eq(pm_correlator_match(c, &a, PM_OUT_REFUSED), &big[i], "address %s", addr);
    }
    struct pm_attempt none = att("2001:db8::ffff:1", 25, T0, PM_ANS_RST, PM_MS(1));
    cr_assert_null(pm_correlator_match(c, &none, PM_OUT_REFUSED));
    pm_correlator_free(c);
}
