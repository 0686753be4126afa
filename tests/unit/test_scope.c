/*
 * test_scope.c — each destination's state from its attempts and THE scope table
 * (analyze/scope.c, include/scope.h): the latest attempt per port decides, whatever order the
 * attempts end in; the time of recovery; one test per row of pm_scope_rows[], each with
 * destinations built to select exactly that row, and a test that fails when a row has none;
 * the destination line, the Scope line and the exit status agree about every destination
 * (issue 14.6).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "scope.h"
#include "util.h"

#define S(x) ((pm_ns)(x) * 1000000000LL)

static struct pm_dest D[6];
static struct pm_dest *DS[6];
static size_t ND;

static struct pm_dest *dest(const char *addr, const char *name)
{
    struct pm_dest *d = &D[ND];
    memset(d, 0, sizeof(*d));
    cr_assert(pm_addr_parse(addr, &d->addr));
    if (name) {
        pm_strlcpy(d->name, name, sizeof(d->name));
    }
    d->first_ts = d->last_ts = PM_NS_NONE;
    DS[ND++] = d;
    return d;
}

/* What engine.c's record_dest does for one attempt, minus the samples. */
static void att(struct pm_dest *d, uint16_t port, int sec, enum pm_outcome o, enum pm_verdict v,
                enum pm_owner own)
{
    d->attempts++;
    d->by_outcome[o]++;
    d->by_verdict[v]++;
    d->verdict_owner[v] = (uint8_t)own;
    int pi = -1;
    for (int i = 0; i < d->nports; i++) {
        pi = d->ports[i] == port ? i : pi;
    }
    if (pi < 0 && d->nports < PM_DEST_PORTS) {
        d->ports[d->nports++] = port;
    }
    pm_dest_note(d, port, S(sec), o);
}
#define OK(d, port, sec) att(d, port, sec, PM_OUT_CONNECTED, PM_V_OK, PM_OWN_NONE)
#define DROP(d, port, sec)                                                                    \
    att(d, port, sec, PM_OUT_NO_RESPONSE, PM_V_SILENT_DROP, PM_OWN_RECIPIENT_GATEWAY)
#define RST(d, port, sec)                                                                     \
    att(d, port, sec, PM_OUT_REFUSED, PM_V_REMOTE_REFUSED, PM_OWN_RECIPIENT_POSTMASTER)
#define CUT(d, port, sec) att(d, port, sec, PM_OUT_INCOMPLETE, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN)

static void reset(void) { ND = 0; }

static void decide(struct pm_scope_out *out, uint64_t undecided)
{
    struct pm_scope_in in;
    pm_scope_collect(DS, ND, undecided, 0, &in);
    for (int v = 0; v < PM_V__COUNT; v++) {
        in.verdict_next[v] = v == PM_V_OK ? "" : pm_verdict_name((enum pm_verdict)v);
    }
    pm_scope_decide(&in, out);
}

static enum pm_dest_state state(const struct pm_dest *d)
{
    struct pm_dest_view v;
    pm_dest_view(d, &v);
    return v.state;
}

/* ---- one port's history ---- */

/* The next permutation in lexicographic order; false after the last. */
static bool next_perm(int *p, int n)
{
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1]) {
        i--;
    }
    if (i < 0) {
        return false;
    }
    int j = n - 1;
    while (p[j] <= p[i]) {
        j--;
    }
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = p[l];
        p[l] = p[r];
        p[r] = t;
    }
    return true;
}

Test(dest_state, failed_then_connected_recovered)
{
    reset();
    struct pm_dest *d = dest("203.0.113.10", "mx1.example.net");
    DROP(d, 25, 10);
    OK(d, 25, 70);
    struct pm_dest_view v;
    pm_dest_view(d, &v);
    cr_assert_eq(v.state, PM_DS_RECOVERED);
    cr_assert_eq(v.recovered_at, S(70));
    cr_assert(v.recovered_exact);
    cr_assert_eq(v.verdict, PM_V_SILENT_DROP, "the verdict says what failed");
}

Test(dest_state, connected_then_failed_failing)
{
    reset();
    struct pm_dest *d = dest("203.0.113.10", NULL);
    OK(d, 25, 10);
    DROP(d, 25, 70);
    struct pm_dest_view v;
    pm_dest_view(d, &v);
    cr_assert_eq(v.state, PM_DS_FAILING);
    cr_assert_eq(v.last_ok, S(10));
    cr_assert_eq(v.recovered_at, PM_NS_NONE);
}

Test(dest_state, order_of_arrival_does_not_matter)
{
    /* A silent drop ends 5-75 s after its SYN: it is recorded after a success that started
     * later. Every order of the same attempts gives the same state and time of recovery. */
    static const int secs[] = {10, 20, 30, 40, 50};
    static const bool fail[] = {false, true, true, false, false};
    int perm[5] = {0, 1, 2, 3, 4};
    int n = 0;
    do {
        reset();
        struct pm_dest *d = dest("203.0.113.10", NULL);
        for (int k = 0; k < 5; k++) {
            if (fail[perm[k]]) {
                DROP(d, 25, secs[perm[k]]);
            } else {
                OK(d, 25, secs[perm[k]]);
            }
        }
        struct pm_dest_view v;
        pm_dest_view(d, &v);
        cr_assert_eq(v.state, PM_DS_RECOVERED);
        cr_assert_eq(v.recovered_at, S(40), "order %d %d %d %d %d: recovered at %lld", perm[0],
                     perm[1], perm[2], perm[3], perm[4], (long long)v.recovered_at);
        cr_assert(v.recovered_exact);
        n++;
    } while (next_perm(perm, 5));
    cr_assert_eq(n, 120);
}

Test(dest_state, recovery_time_beyond_the_kept_successes_is_an_upper_bound)
{
    /* Three successes after t=0 arrive before the failure at t=35 that they follow (two are
     * kept): the first success after 35 was left out, so the time is only a bound. */
    reset();
    struct pm_dest *d = dest("203.0.113.10", NULL);
    OK(d, 25, 10);
    OK(d, 25, 20);
    OK(d, 25, 40);
    DROP(d, 25, 35);
    struct pm_dest_view v;
    pm_dest_view(d, &v);
    cr_assert_eq(v.state, PM_DS_RECOVERED);
    cr_assert_eq(v.recovered_at, S(40), "the last success bounds it");
    cr_assert_not(v.recovered_exact);
}

Test(dest_state, same_time_counts_as_failing)
{
    /* A log line's whole second can equal a SYN's time: not proof of recovery. */
    reset();
    struct pm_dest *d = dest("203.0.113.10", NULL);
    DROP(d, 25, 10);
    OK(d, 25, 10);
    cr_assert_eq(state(d), PM_DS_FAILING);
}

Test(dest_state, incomplete_decides_nothing)
{
    reset();
    struct pm_dest *a = dest("203.0.113.10", NULL);
    DROP(a, 25, 10);
    CUT(a, 25, 20);
    cr_assert_eq(state(a), PM_DS_FAILING, "an undecided attempt after a failure");
    struct pm_dest *b = dest("203.0.113.11", NULL);
    CUT(b, 25, 20);
    cr_assert_eq(state(b), PM_DS_INCONCLUSIVE);
    struct pm_dest *c = dest("203.0.113.12", NULL);
    OK(c, 25, 10);
    CUT(c, 587, 20);
    cr_assert_eq(state(c), PM_DS_INCONCLUSIVE, "port 587 is undecided");
}

Test(dest_state, each_port_on_its_own)
{
    /* 587 working does not make 25 work; 25 recovering does not hide 587 failing. */
    reset();
    struct pm_dest *a = dest("203.0.113.10", NULL);
    DROP(a, 25, 10);
    OK(a, 587, 20);
    cr_assert_eq(state(a), PM_DS_FAILING);
    struct pm_dest *b = dest("203.0.113.11", NULL);
    DROP(b, 25, 10);
    OK(b, 25, 20);
    OK(b, 587, 5);
    DROP(b, 587, 30);
    struct pm_dest_view v;
    pm_dest_view(b, &v);
    cr_assert_eq(v.state, PM_DS_FAILING);
    cr_assert_eq(v.port, 587);
    cr_assert_eq(v.last_ok, S(5));
    struct pm_dest *c = dest("203.0.113.12", NULL);
    OK(c, 25, 10);
    OK(c, 587, 20);
    cr_assert_eq(state(c), PM_DS_OK);
}

Test(dest_state, ports_beyond_the_table_share_a_slot)
{
    reset();
    struct pm_dest *d = dest("203.0.113.10", NULL);
    for (uint16_t p = 1; p <= PM_DEST_PORTS; p++) {
        OK(d, p, 1);
    }
    DROP(d, 2525, 10); /* no port slot left */
    cr_assert_eq(state(d), PM_DS_FAILING, "a failure on an extra port is not lost");
}

/* ---- the destination line agrees with the state ---- */

Test(dest_line, says_recovered_and_failing_again)
{
    reset();
    struct pm_dest *r = dest("203.0.113.10", NULL);
    DROP(r, 25, 10);
    OK(r, 25, 70);
    char line[200];
    enum pm_verdict v;
    enum pm_owner o;
    pm_dest_line(r, line, sizeof(line), &v, &o);
    cr_assert(strstr(line, "recovered, connected again at"), "%s", line);
    cr_assert_eq(v, PM_V_SILENT_DROP);
    cr_assert_eq(o, PM_OWN_RECIPIENT_GATEWAY);
    struct pm_dest *f = dest("203.0.113.11", NULL);
    OK(f, 25, 10);
    DROP(f, 25, 70);
    pm_dest_line(f, line, sizeof(line), NULL, NULL);
    cr_assert(strstr(line, "failing again on :25"), "%s", line);
    struct pm_dest *k = dest("203.0.113.12", NULL);
    OK(k, 25, 10);
    pm_dest_line(k, line, sizeof(line), &v, NULL);
    cr_assert_str_eq(line, "1 attempt, all connected: ok");
    cr_assert_eq(v, PM_V_OK);
}

/* ---- THE scope table: one test per row ---- */

/* Builders: each must select exactly its row. */
static void b_no_attempts(void) { dest("203.0.113.10", NULL); }
static void b_recovered_one(void)
{
    struct pm_dest *d = dest("203.0.113.10", "mx1.example.net");
    DROP(d, 25, 10);
    OK(d, 25, 70);
    OK(dest("203.0.113.20", NULL), 25, 15);
}
static void b_recovered_some(void)
{
    for (int i = 0; i < 2; i++) {
        struct pm_dest *d = dest(i ? "203.0.113.20" : "203.0.113.10", NULL);
        DROP(d, 25, 10 + i);
        OK(d, 25, 70 + i);
    }
}
static void b_inconclusive(void)
{
    CUT(dest("203.0.113.10", NULL), 25, 10);
    OK(dest("203.0.113.20", NULL), 25, 10);
}
static void b_none_undecided(void)
{
    struct pm_dest *d = dest("203.0.113.10", NULL);
    OK(d, 25, 10);
    CUT(d, 25, 20);
}
static void b_none(void) { OK(dest("203.0.113.10", NULL), 25, 10); }
static void b_all_elsewhere(void)
{
    RST(dest("203.0.113.10", NULL), 25, 10);
    RST(dest("198.51.100.20", NULL), 25, 10);
}
static void b_all_sender_side(void)
{
    att(dest("203.0.113.10", NULL), 25, 10, PM_OUT_NOT_ON_WIRE, PM_V_LOCAL_FIREWALL,
        PM_OWN_SENDER_HOST);
    att(dest("198.51.100.20", NULL), 25, 10, PM_OUT_NOT_ON_WIRE, PM_V_LOCAL_FIREWALL,
        PM_OWN_SENDER_HOST);
}
static void b_all_one_net(void)
{
    DROP(dest("203.0.113.10", NULL), 25, 10);
    DROP(dest("203.0.113.20", NULL), 25, 10);
}
static void b_all(void)
{
    att(dest("203.0.113.10", NULL), 25, 10, PM_OUT_NO_RESPONSE, PM_V_SILENT_DROP,
        PM_OWN_SENDER_NETWORK);
    att(dest("198.51.100.20", NULL), 25, 10, PM_OUT_NO_RESPONSE, PM_V_SILENT_DROP,
        PM_OWN_SENDER_NETWORK);
}
static void b_one_others_work(void)
{
    struct pm_dest *d = dest("203.0.113.10", "mx1.example.net");
    OK(d, 25, 10);
    DROP(d, 25, 70); /* worked, then failed: failing (pcaps/bundle/retry-works) */
    OK(dest("203.0.113.20", NULL), 25, 75);
}
static void b_one(void) { RST(dest("203.0.113.10", NULL), 25, 10); }
static void b_some(void)
{
    RST(dest("203.0.113.10", NULL), 25, 10);
    DROP(dest("198.51.100.20", NULL), 25, 10);
    OK(dest("192.0.2.30", NULL), 25, 10);
}

/* name, row id, builder, undecided attempts, scope, owner, text that must appear */
#define ROWS(ROW)                                                                             \
    ROW(no_attempts, "no-attempts", b_no_attempts, 0, PM_SCOPE_NONE, PM_OWN_NONE,             \
        "no connection attempts")                                                             \
    ROW(recovered_one, "recovered-one", b_recovered_one, 0, PM_SCOPE_NONE, PM_OWN_NONE,       \
        "no destination failing now: 203.0.113.10 mx1.example.net failed (silent-drop) and "  \
        "connected again at ")                                                                \
    ROW(recovered_some, "recovered-some", b_recovered_some, 0, PM_SCOPE_NONE, PM_OWN_NONE,    \
        "2 destinations failed (mostly silent-drop) and connected again")                     \
    ROW(inconclusive, "inconclusive", b_inconclusive, 1, PM_SCOPE_NONE, PM_OWN_UNKNOWN,       \
        "some attempts are inconclusive")                                                     \
    ROW(none_undecided, "none-undecided", b_none_undecided, 1, PM_SCOPE_NONE, PM_OWN_NONE,    \
        "every destination tried connected")                                                  \
    ROW(none, "none", b_none, 0, PM_SCOPE_NONE, PM_OWN_NONE,                                  \
        "every destination tried connected")                                                  \
    ROW(all_elsewhere, "all-elsewhere", b_all_elsewhere, 0, PM_SCOPE_ALL,                     \
        PM_OWN_RECIPIENT_POSTMASTER, "with remote-refused: the evidence places the cause")    \
    ROW(all_sender_side, "all-sender-side", b_all_sender_side, 0, PM_SCOPE_ALL,               \
        PM_OWN_SENDER_HOST, "(mostly local-firewall): the cause is on the sender's side")     \
    ROW(all_one_net, "all-one-net", b_all_one_net, 0, PM_SCOPE_ALL, PM_OWN_UNKNOWN,           \
        "they are one recipient network")                                                     \
    ROW(all, "all", b_all, 0, PM_SCOPE_ALL, PM_OWN_SENDER_NETWORK,                            \
        "(this host, its network or its provider)")                                           \
    ROW(one_others_work, "one-others-work", b_one_others_work, 0, PM_SCOPE_ONE,               \
        PM_OWN_RECIPIENT_GATEWAY,                                                             \
        "one destination failing (203.0.113.10 mx1.example.net, silent-drop): others work")   \
    ROW(one, "one", b_one, 0, PM_SCOPE_ONE, PM_OWN_RECIPIENT_POSTMASTER,                      \
        "one destination failing (203.0.113.10, remote-refused)")                             \
    ROW(some, "some", b_some, 0, PM_SCOPE_SOME, PM_OWN_UNKNOWN, "2 of 3 destinations failing")

#define AS_ENTRY(name, id, b, u, sc, own, text) {id},
static const struct {
    const char *id;
} tested_rows[] = {ROWS(AS_ENTRY)};

static void check_row(const char *id, void (*build)(void), uint64_t undecided, enum pm_scope sc,
                      enum pm_owner own, const char *text)
{
    reset();
    build();
    struct pm_scope_out out;
    decide(&out, undecided);
    cr_assert_str_eq(out.row->id, id, "selected row %s, expected %s (%s)", out.row->id, id,
                     out.text);
    cr_assert_eq(out.scope, sc, "row %s: scope %s", id, pm_scope_name(out.scope));
    cr_assert_eq(out.owner, own, "row %s: owner %s", id, pm_owner_name(out.owner));
    cr_assert(strstr(out.text, text), "row %s: text \"%s\" lacks \"%s\"", id, out.text, text);
    cr_assert_null(strchr(out.text, '{'), "row %s: a placeholder left: %s", id, out.text);
    cr_assert_null(strchr(out.next, '{'), "row %s: a placeholder left in next: %s", id, out.next);
    cr_assert(out.next[0], "row %s has no next step", id);
    /* The exit status's rule: failures found iff a destination's latest state is failing. */
    uint32_t failing = 0;
    for (size_t i = 0; i < ND; i++) {
        failing += DS[i]->attempts && state(DS[i]) == PM_DS_FAILING;
    }
    cr_assert_eq(out.failing, failing);
    cr_assert_eq(out.failures, failing > 0, "row %s: exit rule", id);
    cr_assert_eq(out.scope == PM_SCOPE_NONE, failing == 0, "row %s: scope none iff none failing",
                 id);
}

#define AS_TEST(name, id, b, u, sc, own, text)                                                \
    Test(scope_row, name) { check_row(id, b, u, sc, own, text); }
ROWS(AS_TEST)

Test(scope, every_row_has_a_test)
{
    char missing[512] = "";
    for (size_t i = 0; i < pm_nscope_rows; i++) {
        bool found = false;
        for (size_t j = 0; j < PM_ARRAY_LEN(tested_rows); j++) {
            found |= strcmp(pm_scope_rows[i].id, tested_rows[j].id) == 0;
        }
        if (!found) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof(missing) - n, " %s", pm_scope_rows[i].id);
        }
    }
    cr_assert_str_eq(missing, "", "scope rows without a test in test_scope.c:%s", missing);
    cr_assert_eq(PM_ARRAY_LEN(tested_rows), pm_nscope_rows, "one test per row, no more");
}

Test(scope, recovered_next_step_is_the_failures_for_when_it_recurs)
{
    reset();
    b_recovered_one();
    struct pm_scope_out out;
    decide(&out, 0);
    cr_assert(strstr(out.next, "Nothing to do now. If it fails again: silent-drop"), "%s",
              out.next);
    cr_assert_not(out.failures, "every failure recovered: exit 0");
}

Test(scope, failing_rows_mention_recovered_others)
{
    reset();
    b_one();
    struct pm_dest *d = dest("198.51.100.20", NULL);
    DROP(d, 25, 5);
    OK(d, 25, 50);
    struct pm_scope_out out;
    decide(&out, 0);
    cr_assert_str_eq(out.row->id, "one-others-work");
    cr_assert(strstr(out.text, "; 1 other failed earlier and connected again"), "%s", out.text);
    cr_assert_eq(out.recovered, 1);
    cr_assert(out.failures);
}

Test(scope, one_destination_names_the_verdict_its_line_gives)
{
    /* The old run-level count gave each verdict present one vote: silent-drop (3 attempts)
     * and inconclusive (1) tied and the enum order chose. The Scope line must name the
     * destination's own verdict, the one on its line. */
    reset();
    struct pm_dest *d = dest("203.0.113.10", NULL);
    att(d, 25, 1, PM_OUT_NO_RESPONSE, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN);
    DROP(d, 25, 2);
    DROP(d, 25, 3);
    DROP(d, 25, 4);
    enum pm_verdict v;
    char line[200];
    pm_dest_line(d, line, sizeof(line), &v, NULL);
    struct pm_scope_out out;
    decide(&out, 0);
    char want[80];
    snprintf(want, sizeof(want), "(203.0.113.10, %s)", pm_verdict_name(v));
    cr_assert(strstr(out.text, want), "line \"%s\", scope \"%s\"", line, out.text);
    cr_assert_eq(v, PM_V_SILENT_DROP);
}

Test(scope, unplaced_failures_still_fail_the_run)
{
    reset();
    b_none();
    struct pm_scope_in in;
    pm_scope_collect(DS, ND, 0, 3, &in);
    struct pm_scope_out out;
    pm_scope_decide(&in, &out);
    cr_assert(out.failures, "failed attempts the destination table could not hold");
}

Test(scope, ids_unique_and_last_row_matches_anything)
{
    for (size_t i = 0; i < pm_nscope_rows; i++) {
        cr_assert(pm_scope_rows[i].id && pm_scope_rows[i].id[0]);
        for (size_t j = i + 1; j < pm_nscope_rows; j++) {
            cr_assert_str_neq(pm_scope_rows[i].id, pm_scope_rows[j].id);
        }
    }
    struct pm_scope_in in;
    memset(&in, 0, sizeof(in));
    cr_assert(pm_scope_rows[pm_nscope_rows - 1].when(&in));
}

Test(scope, a_walk_result_replaces_a_next_step_that_says_to_walk)
{
    /* After a probe's --ttl-walk to the failing destination, Next is the walk's finding, not
     * "run portmortem probe --ttl-walk" (issue 14.6 d). */
    reset();
    b_one();
    struct pm_scope_in in;
    pm_scope_collect(DS, ND, 0, 0, &in);
    in.verdict_next[PM_V_REMOTE_REFUSED] = "Run portmortem probe --ttl-walk 203.0.113.10.";
    struct pm_scope_out out;
    pm_scope_decide(&in, &out);
    cr_assert(strstr(out.next, "--ttl-walk"), "without a walk: %s", out.next);
    in.fail_next = "The TTL walk shows 203.0.113.10 itself answering RST on port 25.";
    pm_scope_decide(&in, &out);
    cr_assert_str_eq(out.next, in.fail_next);
    /* A step that does not send the user to the walk stays, with the finding after it. */
    in.verdict_next[PM_V_REMOTE_REFUSED] = "Tell the postmaster of 203.0.113.10.";
    pm_scope_decide(&in, &out);
    cr_assert_str_eq(out.next, "Tell the postmaster of 203.0.113.10. The TTL walk shows "
                               "203.0.113.10 itself answering RST on port 25.");
}
