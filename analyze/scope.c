/*
 * scope.c — owns each destination's state and the run's scope table. A destination's state
 * follows its latest attempts, port by port: one that failed and then connected has
 * recovered, one that connected and then failed is failing again. The text report's
 * destination lines, the Scope and Next lines, the JSON destination and summary objects and
 * the exit status all come from here (docs/VERDICTS.md, "Scope"), so that none of them can
 * say a destination works while another says it fails.
 *
 * The scope table is data like the rules table (analyze/rules.c): the first row whose
 * condition holds gives the scope word, the owner it points at, the Scope line and the Next
 * line. tests/unit/test_scope.c has a test per row and fails when a row has none.
 */
#include "scope.h"

#include <stdio.h>
#include <string.h>

#include "util.h"
#include "verdicts.h"

const char *pm_dest_state_name(enum pm_dest_state s)
{
    static const char *const n[] = {"ok", "recovered", "inconclusive", "failing"};
    return (unsigned)s < PM_DS__COUNT ? n[s] : "inconclusive";
}

/* ---- one port's history ---- */

/* Attempts are recorded as they end, not as they start: a silent drop ends 5-75 s after its
 * SYN, later than a success that started after it. So the times are kept in the order they
 * happened, whatever the order they arrive in: the latest failure and success are maxima, and
 * the first success after the latest failure (the time of recovery) is the smallest of the
 * successes after it, of which the PM_PORT_OKS earliest are kept. */
void pm_port_hist_add(struct pm_port_hist *h, pm_ns ts, enum pm_outcome o)
{
    if (o == PM_OUT_CONNECTED) {
        if (h->nok++ == 0 || ts > h->last_ok) {
            h->last_ok = ts;
        }
        if (h->nfail > 0 && ts <= h->last_fail) {
            return; /* before the latest failure: not a recovery */
        }
        int n = h->nok_after;
        if (n == PM_PORT_OKS) {
            if (ts >= h->ok_after[n - 1]) {
                h->later_lost = 1;
                return;
            }
            h->later_lost = 1; /* the latest kept one falls out: it is later than ts */
            n--;
        }
        int i = n;
        while (i > 0 && h->ok_after[i - 1] > ts) {
            h->ok_after[i] = h->ok_after[i - 1];
            i--;
        }
        h->ok_after[i] = ts;
        h->nok_after = (uint8_t)(n + 1);
        return;
    }
    if (!pm_outcome_is_failure(o)) {
        h->nundecided++; /* incomplete: decides nothing */
        return;
    }
    if (h->nfail++ > 0 && ts <= h->last_fail) {
        return; /* an older failure that ended late changes nothing */
    }
    h->last_fail = ts;
    if (h->nok == 0 || ts >= h->last_ok) {
        /* Every success seen is before this failure: nothing after it, nothing unknown. */
        h->nok_after = 0;
        h->later_lost = h->inexact = 0;
        return;
    }
    int keep = 0;
    for (int i = 0; i < h->nok_after; i++) {
        if (h->ok_after[i] > ts) {
            h->ok_after[keep++] = h->ok_after[i];
        }
    }
    h->nok_after = (uint8_t)keep;
    if (keep == 0 && h->later_lost) {
        /* Successes after ts were left out earlier (as later than the kept ones, which this
         * failure passed): the earliest of them is unknown, last_ok bounds it. */
        h->inexact = 1;
    }
}

enum port_state { PS_NONE, PS_OK, PS_RECOVERED, PS_FAILING };

static enum port_state port_state(const struct pm_port_hist *h)
{
    if (h->nfail == 0) {
        return h->nok ? PS_OK : PS_NONE;
    }
    /* A failure and a success at the same time (a log line's whole second): failing. */
    return h->nok && h->last_ok > h->last_fail ? PS_RECOVERED : PS_FAILING;
}

static pm_ns recovered_at(const struct pm_port_hist *h, bool *exact)
{
    if (h->nok_after > 0) {
        *exact = !h->inexact;
        return h->ok_after[0];
    }
    *exact = false;
    return h->last_ok;
}

void pm_dest_note(struct pm_dest *d, uint16_t dport, pm_ns ts, enum pm_outcome o)
{
    int slot = PM_DEST_PORTS; /* ports beyond PM_DEST_PORTS share the last slot */
    for (int i = 0; i < d->nports && i < PM_DEST_PORTS; i++) {
        if (d->ports[i] == dport) {
            slot = i;
        }
    }
    pm_port_hist_add(&d->hist[slot], ts, o);
}

/* ---- one destination ---- */

void pm_dest_view(const struct pm_dest *d, struct pm_dest_view *v)
{
    memset(v, 0, sizeof(*v));
    v->recovered_at = v->last_ok = PM_NS_NONE;
    v->owner = PM_OWN_NONE;
    v->verdict = pm_verdict_top(d->by_verdict, PM_V_OK, &v->verdict_n); /* verdicts.c */
    if (v->verdict_n) {
        v->owner = (enum pm_owner)d->verdict_owner[v->verdict];
    }
    bool failing = false, recovered = false, undecided = false, decided = false;
    pm_ns fail_at = PM_NS_NONE;
    v->recovered_exact = true;
    for (int i = 0; i <= PM_DEST_PORTS; i++) {
        const struct pm_port_hist *h = &d->hist[i];
        if (!h->nfail && !h->nok && !h->nundecided) {
            continue; /* no attempt recorded on it (a probe's compared port: evidence only) */
        }
        uint16_t port = i < d->nports && i < PM_DEST_PORTS ? d->ports[i] : 0;
        switch (port_state(h)) {
        case PS_NONE:
            undecided = true;
            break;
        case PS_OK:
            decided = true;
            break;
        case PS_RECOVERED: {
            decided = recovered = true;
            bool exact;
            pm_ns at = recovered_at(h, &exact);
            if (!failing && (v->recovered_at == PM_NS_NONE || at > v->recovered_at)) {
                v->recovered_at = at;
                v->port = port;
            }
            v->recovered_exact &= exact;
            break;
        }
        case PS_FAILING:
            decided = true;
            /* The port that failed last speaks for the destination. */
            if (!failing || h->last_fail > fail_at) {
                fail_at = h->last_fail;
                v->port = port;
                v->last_ok = h->nok ? h->last_ok : PM_NS_NONE;
            }
            failing = true;
            break;
        }
    }
    if (failing) {
        v->state = PM_DS_FAILING;
        v->recovered_at = PM_NS_NONE;
    } else if (recovered) {
        v->state = PM_DS_RECOVERED;
    } else if (undecided || !decided) {
        v->state = PM_DS_INCONCLUSIVE;
    } else {
        v->state = PM_DS_OK;
    }
    if (v->state != PM_DS_RECOVERED) {
        v->recovered_exact = false;
    }
}

void pm_dest_line(const struct pm_dest *d, char *buf, size_t len, enum pm_verdict *dv,
                  enum pm_owner *down)
{
    struct pm_dest_view v;
    pm_dest_view(d, &v);
    uint32_t ok = d->by_outcome[PM_OUT_CONNECTED];
    const char *s = d->attempts == 1 ? "" : "s";
    char t[40];
    if (v.verdict_n == 0) {
        snprintf(buf, len, "%u attempt%s, all connected: ok", d->attempts, s);
    } else if (v.verdict == PM_V_INCONCLUSIVE && v.verdict_n == d->attempts) {
        snprintf(buf, len, "%u attempt%s, inconclusive", d->attempts, s);
    } else if (ok == 0) {
        snprintf(buf, len, "%u attempt%s, %s: %s (%s)", d->attempts, s,
                 v.verdict_n == d->attempts ? (d->attempts == 1 ? "failed" : "all failed")
                                            : "none connected",
                 pm_verdict_name(v.verdict), pm_owner_name(v.owner));
    } else if (v.state == PM_DS_RECOVERED) {
        snprintf(buf, len, "%u attempts, %u connected, %u %s (%s): recovered, connected again %s %s",
                 d->attempts, ok, v.verdict_n, pm_verdict_name(v.verdict),
                 pm_owner_name(v.owner), v.recovered_exact ? "at" : "by",
                 pm_time_short(v.recovered_at, t, sizeof(t)));
    } else if (v.state == PM_DS_FAILING && v.last_ok != PM_NS_NONE) {
        snprintf(buf, len, "%u attempts, %u connected, %u %s (%s): failing again on :%u "
                 "(last connected %s)", d->attempts, ok, v.verdict_n,
                 pm_verdict_name(v.verdict), pm_owner_name(v.owner), v.port,
                 pm_time_short(v.last_ok, t, sizeof(t)));
    } else {
        snprintf(buf, len, "%u attempts, %u connected, %u %s (%s)", d->attempts, ok, v.verdict_n,
                 pm_verdict_name(v.verdict), pm_owner_name(v.owner));
    }
    if (d->evidence) {
        size_t o = strlen(buf);
        snprintf(buf + o, len - o, "; %u more on compared ports (evidence only)", d->evidence);
    }
    if (dv) {
        *dv = v.verdict;
    }
    if (down) {
        *down = v.owner;
    }
}

/* ---- the run ---- */

void pm_scope_collect(struct pm_dest *const *ds, size_t n, uint64_t undecided,
                      uint64_t unplaced_failures, struct pm_scope_in *in)
{
    memset(in, 0, sizeof(*in)); /* verdict_next too: the caller fills it in afterwards */
    in->undecided = undecided;
    in->unplaced_failures = unplaced_failures;
    in->top = in->rec_top = PM_V_INCONCLUSIVE;
    in->top_owner = PM_OWN_UNKNOWN;
    uint32_t fcount[PM_V__COUNT] = {0}, rcount[PM_V__COUNT] = {0};
    enum pm_owner fowner[PM_V__COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct pm_dest *d = ds[i];
        if (d->attempts == 0) {
            continue;
        }
        struct pm_dest_view v;
        pm_dest_view(d, &v);
        in->counted++;
        in->by_state[v.state]++;
        if (v.state == PM_DS_FAILING) {
            if (!in->fail) {
                in->fail = d;
            }
            if (fcount[v.verdict]++ == 0) {
                fowner[v.verdict] = v.owner;
            }
        } else if (v.state == PM_DS_RECOVERED) {
            rcount[v.verdict]++;
            if (!in->rec || v.recovered_at > in->rec_view.recovered_at) {
                in->rec = d;
                in->rec_view = v;
            }
        }
    }
    /* The same count as a destination's own verdict (pm_dest_view), over destinations. */
    uint32_t topn;
    in->top = pm_verdict_top(fcount, PM_V_INCONCLUSIVE, &topn);
    if (topn) {
        in->top_owner = fowner[in->top];
    }
    in->rec_top = pm_verdict_top(rcount, PM_V_INCONCLUSIVE, NULL);
    in->one_net = in->fail != NULL;
    for (size_t i = 0; in->fail && i < n; i++) {
        const pm_addr *f = &in->fail->addr;
        if (ds[i]->attempts &&
            !pm_addr_same_prefix(&ds[i]->addr, f, f->family == PM_AF_INET ? 24 : 48)) {
            in->one_net = false;
        }
    }
}

#define FAILING(in) ((in)->by_state[PM_DS_FAILING])
#define RECOVERED(in) ((in)->by_state[PM_DS_RECOVERED])
#define WORKING(in) ((in)->by_state[PM_DS_OK] + (in)->by_state[PM_DS_RECOVERED])

/* Verdicts that place the cause themselves (a router's ICMP, a forged RST, the MX's own
 * answer), and those that name the sender's side: the verdict table's `side` column
 * (analyze/verdicts.c). */
static bool top_elsewhere(enum pm_verdict v)
{
    enum pm_vside s = pm_verdict_info(v)->side;
    return s == PM_SIDE_PATH || s == PM_SIDE_THEIRS;
}
static bool top_sender_side(enum pm_verdict v) { return pm_verdict_info(v)->side == PM_SIDE_OURS; }
static bool all_failing(const struct pm_scope_in *in)
{
    return FAILING(in) == in->counted && in->counted >= 2;
}

static bool w_no_attempts(const struct pm_scope_in *in) { return in->counted == 0; }
static bool w_recovered_one(const struct pm_scope_in *in)
{
    return FAILING(in) == 0 && RECOVERED(in) == 1;
}
static bool w_recovered_some(const struct pm_scope_in *in)
{
    return FAILING(in) == 0 && RECOVERED(in) > 1;
}
static bool w_inconclusive(const struct pm_scope_in *in)
{
    return FAILING(in) == 0 && in->by_state[PM_DS_INCONCLUSIVE] > 0;
}
static bool w_none_undecided(const struct pm_scope_in *in)
{
    return FAILING(in) == 0 && in->undecided > 0;
}
static bool w_none(const struct pm_scope_in *in) { return FAILING(in) == 0; }
static bool w_all_elsewhere(const struct pm_scope_in *in)
{
    return all_failing(in) && top_elsewhere(in->top);
}
static bool w_all_sender_side(const struct pm_scope_in *in)
{
    return all_failing(in) && top_sender_side(in->top);
}
static bool w_all_one_net(const struct pm_scope_in *in) { return all_failing(in) && in->one_net; }
static bool w_all(const struct pm_scope_in *in) { return all_failing(in); }
static bool w_one_others_work(const struct pm_scope_in *in)
{
    return FAILING(in) == 1 && WORKING(in) > 0;
}
static bool w_one(const struct pm_scope_in *in) { return FAILING(in) == 1; }
static bool w_some(const struct pm_scope_in *in)
{
    (void)in;
    return true;
}

#define NEXT_CAPTURE_RETRY                                                                    \
    "Capture on the sending host for a minute during a retry (postqueue -f), with a snaplen "  \
    "of 256 or more and the MTA log."

const struct pm_scope_row pm_scope_rows[] = {
    {"no-attempts", w_no_attempts, PM_SCOPE_NONE, PM_OWN_NONE,
     "no connection attempts to the watched ports in this input",
     "Check --ports and that the capture covers a delivery attempt (run postqueue -f while "
     "capturing)."},
    /* A destination's latest state is what counts: one that failed and then connected is
     * not failing. */
    {"recovered-one", w_recovered_one, PM_SCOPE_NONE, PM_OWN_NONE,
     "no destination failing now: {rdest} failed ({rtop}) and connected again {rat}{undecided}",
     "Nothing to do now. If it fails again: {rnext}"},
    {"recovered-some", w_recovered_some, PM_SCOPE_NONE, PM_OWN_NONE,
     "no destination failing now: {rn} destinations failed (mostly {rtop}) and connected "
     "again, the last {rat}{undecided}",
     "Nothing to do now. If they fail again: {rnext}"},
    {"inconclusive", w_inconclusive, PM_SCOPE_NONE, PM_OWN_UNKNOWN,
     "no destination proven failing, but some attempts are inconclusive (the capture ended or "
     "kept too little)",
     NEXT_CAPTURE_RETRY},
    {"none-undecided", w_none_undecided, PM_SCOPE_NONE, PM_OWN_NONE,
     "no destination failing: every destination tried connected", NEXT_CAPTURE_RETRY},
    {"none", w_none, PM_SCOPE_NONE, PM_OWN_NONE,
     "no destination failing: every destination tried connected",
     "Nothing to do; if mail is still stuck, capture during a retry (postqueue -f) with the MTA "
     "log."},
    /* Every destination failing points at the sender's side, unless the verdicts themselves
     * place the fault elsewhere or all destinations are one recipient's network. */
    {"all-elsewhere", w_all_elsewhere, PM_SCOPE_ALL, PM_SCOPE_OWNER_TOP,
     "all {failing} destinations failing, with {top}{one_net}: the evidence places the cause "
     "(see Next), not the sender's side", NULL},
    {"all-sender-side", w_all_sender_side, PM_SCOPE_ALL, PM_SCOPE_OWNER_TOP,
     "all {failing} destinations failing (mostly {top}): the cause is on the sender's side",
     NULL},
    {"all-one-net", w_all_one_net, PM_SCOPE_ALL, PM_OWN_UNKNOWN,
     "all {failing} destinations failing (mostly {top}), but they are one recipient network: "
     "the cause may be that recipient or its path; try another recipient to tell", NULL},
    {"all", w_all, PM_SCOPE_ALL, PM_SCOPE_OWNER_TOP,
     "all {failing} destinations failing (mostly {top}): the cause is on the sender's side "
     "(this host, its network or its provider)", NULL},
    {"one-others-work", w_one_others_work, PM_SCOPE_ONE, PM_SCOPE_OWNER_TOP,
     "one destination failing ({dest}, {top}): others work, so the cause is at that recipient "
     "or on its path{also}", NULL},
    {"one", w_one, PM_SCOPE_ONE, PM_SCOPE_OWNER_TOP, "one destination failing ({dest}, {top}){also}",
     NULL},
    {"some", w_some, PM_SCOPE_SOME, PM_OWN_UNKNOWN,
     "{failing} of {total} destinations failing (mostly {top}): look at what they share "
     "(provider, path, recipient){also}", NULL},
};
const size_t pm_nscope_rows = PM_ARRAY_LEN(pm_scope_rows);

static void dest_name(const struct pm_dest *d, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN];
    if (!d) {
        snprintf(buf, len, "?");
        return;
    }
    snprintf(buf, len, "%s%s%s", pm_addr_str(&d->addr, a), d->name[0] ? " " : "", d->name);
}

/* One placeholder's text (templates above; an unknown name stays as written). */
static void value(const struct pm_scope_in *in, const char *key, size_t klen, char *v,
                  size_t vlen)
{
#define KEY(s) (klen == sizeof(s) - 1 && memcmp(key, s, klen) == 0)
    char t[40];
    v[0] = '\0';
    if (KEY("failing")) {
        snprintf(v, vlen, "%u", FAILING(in));
    } else if (KEY("total")) {
        snprintf(v, vlen, "%u", in->counted);
    } else if (KEY("top")) {
        snprintf(v, vlen, "%s", pm_verdict_name(in->top));
    } else if (KEY("dest")) {
        dest_name(in->fail, v, vlen);
    } else if (KEY("one_net")) {
        snprintf(v, vlen, "%s", in->one_net ? " (they are one recipient network)" : "");
    } else if (KEY("also")) {
        if (RECOVERED(in)) {
            snprintf(v, vlen, "; %u other%s failed earlier and connected again", RECOVERED(in),
                     RECOVERED(in) == 1 ? "" : "s");
        }
    } else if (KEY("rn")) {
        snprintf(v, vlen, "%u", RECOVERED(in));
    } else if (KEY("rdest")) {
        dest_name(in->rec, v, vlen);
    } else if (KEY("rtop")) {
        snprintf(v, vlen, "%s", pm_verdict_name(in->rec_top));
    } else if (KEY("rat")) {
        snprintf(v, vlen, "%s %s", in->rec_view.recovered_exact ? "at" : "by",
                 pm_time_short(in->rec_view.recovered_at, t, sizeof(t)));
    } else if (KEY("rnext")) {
        const char *nx = in->verdict_next[in->rec_top];
        snprintf(v, vlen, "%s", nx && *nx ? nx
                                          : "capture during the failure (postqueue -f) with the "
                                            "MTA log.");
    } else if (KEY("undecided")) {
        if (in->by_state[PM_DS_INCONCLUSIVE]) {
            snprintf(v, vlen, "; some attempts are inconclusive (the capture ended or kept too "
                              "little)");
        }
    } else {
        snprintf(v, vlen, "{%.*s}", (int)klen, key);
    }
#undef KEY
}

static void expand(const struct pm_scope_in *in, const char *tmpl, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = tmpl; *p && o + 1 < len;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            out[o++] = *p++;
            out[o] = '\0';
            continue;
        }
        char v[300];
        value(in, p + 1, (size_t)(close - p - 1), v, sizeof(v));
        o += (size_t)snprintf(out + o, len - o, "%s", v);
        if (o >= len) {
            o = len - 1;
        }
        p = close + 1;
    }
}

void pm_scope_decide(const struct pm_scope_in *in, struct pm_scope_out *out)
{
    memset(out, 0, sizeof(*out));
    const struct pm_scope_row *r = &pm_scope_rows[pm_nscope_rows - 1];
    for (size_t i = 0; i < pm_nscope_rows; i++) {
        if (pm_scope_rows[i].when(in)) {
            r = &pm_scope_rows[i];
            break;
        }
    }
    out->row = r;
    out->scope = r->scope;
    out->owner = r->owner == PM_SCOPE_OWNER_TOP ? in->top_owner : (enum pm_owner)r->owner;
    out->dests = in->counted;
    out->failing = FAILING(in);
    out->recovered = RECOVERED(in);
    /* Exit status 1: some destination's latest state is failing (or a failed attempt had no
     * destination to count it in: the table was full, its latest state is unknown). */
    out->failures = FAILING(in) > 0 || in->unplaced_failures > 0;
    expand(in, r->text, out->text, sizeof(out->text));
    if (r->next) {
        expand(in, r->next, out->next, sizeof(out->next));
    } else {
        const char *nx = in->verdict_next[in->top] ? in->verdict_next[in->top] : "";
        if (in->fail_next && in->fail_next[0]) {
            /* A probe's TTL walk ran to it: a step that says to run the walk gives way to
             * the walk's finding; any other step (ask the provider, tell the postmaster)
             * stays, with the finding after it. */
            if (strstr(nx, "--ttl-walk") || !nx[0]) {
                nx = in->fail_next;
            } else {
                snprintf(out->next, sizeof(out->next), "%s %s", nx, in->fail_next);
                nx = NULL;
            }
        }
        if (nx) {
            pm_strlcpy(out->next, nx, sizeof(out->next));
        }
    }
}
