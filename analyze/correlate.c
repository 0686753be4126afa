/*
 * correlate.c — owns matching MTA log lines to attempts (include/correlate.h).
 *
 * Windows, in capture time: a line about an attempt is written after its first SYN and no
 * later than the MTA gives up. Connect failures end by the kernel's SYN retry limit
 * (tcp_syn_retries 6 ≈ 127 s) or the MTA's connect timer (Postfix 30 s, Exim 5 min capped
 * by the kernel), greeting failures by the greeting timer (Postfix smtp_helo_timeout
 * 300 s, Exim/Sendmail 5 min). We never assume a retry schedule: the window is generous and
 * the earliest compatible line wins, which is what the MTA's one-line-per-address order
 * guarantees.
 *
 * Cost: the index is sorted by (address, time), so a match starts by binary search at the
 * first line of its window, and lines already taken are jumped over through `skip` (path
 * compression: each taken line is stepped over O(1) amortised times). Without both, a flood
 * of attempts to one address walked every earlier line of that address per attempt.
 */
#include "correlate.h"

#include "util.h"

#define TOL PM_SEC(2)              /* syslog times have 1 s resolution, plus slack */
#define CONNECT_MAX PM_SEC(135)    /* kernel SYN retries (127 s) + slack */
#define SESSION_MAX PM_SEC(330)    /* greeting timers (300 s) + slack */
#define OFFSET_SEARCH PM_SEC(600)  /* how far apart log and capture clocks may be */
#define MAX_SAMPLES 4096
#define SAMPLE_SCAN 64             /* lines looked at on each side of an answer for a sample */

struct pm_correlator {
    const struct pm_logset *logs;
    uint32_t *byaddr;        /* indices sorted by (address, port, time) */
    uint32_t *skip;          /* per byaddr position: a later position, all used in between */
    size_t n;
    uint8_t *used;
    size_t indexed;          /* log entries covered by byaddr/used */
    pm_ns samples[MAX_SAMPLES];
    uint32_t nsamples;
    struct pm_corr_stats st;
};

static bool is_session_kind(uint8_t k)
{
    return k == PM_LK_GREETING_LOST || k == PM_LK_GREETING_TIMEOUT || k == PM_LK_SMTP_REJECT ||
           k == PM_LK_LOST_LATER || k == PM_LK_DELIVERED;
}

/* Exim writes "SMTP timeout after initial connection: Connection timed out" both for a
 * greeting that never came and for a connect that timed out (the lab recorded it for SYNs
 * that never left the host): such a line may stand for either. */
static bool may_be_connect_fail(const struct pm_logentry *e)
{
    return e->kind == PM_LK_CONNECT_FAIL ||
           (e->mta == PM_MTA_EXIM && e->kind == PM_LK_GREETING_TIMEOUT &&
            e->err == PM_EC_TIMEDOUT);
}

/* Two lines about the same address and error are one attempt only if one process wrote
 * both (or one is a summary line): two smtp processes failing in the same second are two
 * attempts. */
static bool same_writer(const struct pm_logentry *a, const struct pm_logentry *b)
{
    return a->pid == 0 || b->pid == 0 || a->pid == b->pid || a->from_status || b->from_status;
}

static bool is_matchable(const struct pm_logentry *e)
{
    return e->addr.family != 0 && e->ts != PM_NS_NONE &&
           (e->kind == PM_LK_CONNECT_FAIL || is_session_kind(e->kind));
}

static const struct pm_logset *sort_logs; /* qsort has no context argument */

static int cmp_addr_time(const void *x, const void *y)
{
    const struct pm_logentry *a = &sort_logs->e[*(const uint32_t *)x];
    const struct pm_logentry *b = &sort_logs->e[*(const uint32_t *)y];
    if (a->addr.family != b->addr.family) {
        return a->addr.family < b->addr.family ? -1 : 1;
    }
    int c = memcmp(a->addr.b, b->addr.b, 16);
    if (c) {
        return c;
    }
    if (a->ts != b->ts) {
        return a->ts < b->ts ? -1 : 1;
    }
    return a->line < b->line ? -1 : a->line > b->line;
}

static void build_index(struct pm_correlator *c)
{
    const struct pm_logset *logs = c->logs;
    size_t total = logs ? logs->n : 0;
    free(c->byaddr);
    free(c->skip);
    c->byaddr = pm_xcalloc(total ? total : 1, sizeof(uint32_t));
    c->skip = pm_xcalloc(total ? total : 1, sizeof(uint32_t)); /* 0: the next position */
    uint8_t *used = pm_xcalloc(total ? total : 1, 1);
    if (c->used) {
        memcpy(used, c->used, c->indexed);
        free(c->used);
    }
    c->used = used;
    c->n = 0;
    c->st.no_attempt = c->st.no_address = 0;
    for (size_t i = 0; i < total; i++) {
        const struct pm_logentry *e = &logs->e[i];
        if (e->kind == PM_LK_NO_ATTEMPT) {
            c->st.no_attempt++;
        } else if (e->addr.family == 0) {
            c->st.no_address++;
        }
        if (is_matchable(e)) {
            c->byaddr[c->n++] = (uint32_t)i;
        }
    }
    sort_logs = logs;
    if (c->n > 1) {
        qsort(c->byaddr, c->n, sizeof(uint32_t), cmp_addr_time);
    }
    c->indexed = total;
}

struct pm_correlator *pm_correlator_new(const struct pm_logset *logs, pm_ns given_offset)
{
    struct pm_correlator *c = pm_xcalloc(1, sizeof(*c));
    c->logs = logs;
    build_index(c);
    if (given_offset != PM_NS_NONE) {
        c->st.offset = given_offset;
        c->st.offset_given = true;
    }
    return c;
}

void pm_correlator_refresh(struct pm_correlator *c)
{
    if (c->logs && c->logs->n != c->indexed) {
        build_index(c);
    }
}

void pm_correlator_free(struct pm_correlator *c)
{
    if (!c) {
        return;
    }
    free(c->byaddr);
    free(c->skip);
    free(c->used);
    free(c);
}

/* First index in byaddr whose address is >= addr (binary search). */
static size_t lower_bound(const struct pm_correlator *c, const pm_addr *addr)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct pm_logentry *e = &c->logs->e[c->byaddr[mid]];
        int cmp = e->addr.family != addr->family ? (e->addr.family < addr->family ? -1 : 1)
                                                  : memcmp(e->addr.b, addr->b, 16);
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* First index in byaddr at or after (addr, ts): the first line of addr logged at ts or
 * later, or the first line of the next address. */
static size_t lower_bound_time(const struct pm_correlator *c, const pm_addr *addr, pm_ns ts)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct pm_logentry *e = &c->logs->e[c->byaddr[mid]];
        int cmp = e->addr.family != addr->family ? (e->addr.family < addr->family ? -1 : 1)
                                                  : memcmp(e->addr.b, addr->b, 16);
        if (cmp == 0) {
            cmp = e->ts < ts ? -1 : 0;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The first position >= i whose line is not taken yet (or c->n). Jumps recorded in skip
 * are compressed on the way, so a run of taken lines is crossed once, not per call. */
static size_t next_free(struct pm_correlator *c, size_t i)
{
    size_t j = i;
    while (j < c->n && c->used[c->byaddr[j]]) {
        size_t nx = c->skip[j] > j ? c->skip[j] : j + 1;
        j = nx;
    }
    for (size_t k = i; k < j && k < c->n;) { /* compress: everything in [i, j) jumps to j */
        size_t nx = c->skip[k] > k ? c->skip[k] : k + 1;
        c->skip[k] = (uint32_t)j;
        k = nx;
    }
    return j;
}

static bool port_ok(const struct pm_logentry *e, uint16_t dport)
{
    return e->port == dport || (e->port == 0 && dport == 25);
}

pm_ns pm_correlator_to_capture(const struct pm_correlator *c, pm_ns log_ts)
{
    return log_ts == PM_NS_NONE ? PM_NS_NONE : log_ts - c->st.offset;
}

void pm_correlator_sample(struct pm_correlator *c, const struct pm_attempt *a)
{
    if (c->st.offset_given || c->nsamples >= MAX_SAMPLES || c->n == 0) {
        return;
    }
    /* Sharp pairs only: the kernel ends connect() when the RST or ICMP arrives and the MTA
     * logs at once. */
    if (a->answer != PM_ANS_RST && a->answer != PM_ANS_ICMP) {
        return;
    }
    /* The nearest sharp line in time on either side of the answer: lines are sorted by time
     * within the address, so the first fitting line scanning outwards is the nearest on that
     * side. Each scan is bounded (SAMPLE_SCAN lines) so a flood of lines to one address
     * costs O(log n) per sample, not O(n). */
    pm_ns best = PM_NS_NONE;
    size_t first = lower_bound(c, &a->srv);
    size_t mid = lower_bound_time(c, &a->srv, a->ans.ts);
    for (int side = 0; side < 2; side++) {
        for (size_t k = 0; k < SAMPLE_SCAN; k++) {
            size_t i;
            if (side == 0) {
                i = mid + k;
                if (i >= c->n) {
                    break;
                }
            } else {
                if (mid < first + k + 1) {
                    break;
                }
                i = mid - k - 1;
            }
            const struct pm_logentry *e = &c->logs->e[c->byaddr[i]];
            if (!pm_addr_eq(&e->addr, &a->srv)) {
                break;
            }
            pm_ns dt = e->ts - a->ans.ts;
            if (dt < -OFFSET_SEARCH || dt > OFFSET_SEARCH) {
                break;
            }
            if (!may_be_connect_fail(e) || !port_ok(e, a->dport) || e->err == PM_EC_TIMEDOUT) {
                continue;
            }
            if (best == PM_NS_NONE || (dt < 0 ? -dt : dt) < (best < 0 ? -best : best)) {
                best = dt;
            }
            break;
        }
    }
    if (best != PM_NS_NONE) {
        c->samples[c->nsamples++] = best;
    }
}

static int cmp_ns(const void *x, const void *y)
{
    pm_ns a = *(const pm_ns *)x, b = *(const pm_ns *)y;
    return a < b ? -1 : a > b;
}

void pm_correlator_settle(struct pm_correlator *c)
{
    if (c->st.offset_given) {
        return;
    }
    c->st.offset_samples = c->nsamples;
    if (c->nsamples == 0) {
        c->st.offset = 0;
        return;
    }
    qsort(c->samples, c->nsamples, sizeof(pm_ns), cmp_ns);
    pm_ns median = c->samples[c->nsamples / 2];
    /* Within the log's own resolution the clocks agree: do not shift by noise. */
    c->st.offset = (median > TOL || median < -TOL) ? median : 0;
}

void pm_correlator_reset(struct pm_correlator *c)
{
    memset(c->used, 0, c->indexed);
    memset(c->skip, 0, (c->n ? c->n : 1) * sizeof(uint32_t));
    uint64_t na = c->st.no_attempt, nad = c->st.no_address;
    pm_ns off = c->st.offset;
    bool given = c->st.offset_given;
    uint32_t ns = c->st.offset_samples;
    memset(&c->st, 0, sizeof(c->st));
    c->st.no_attempt = na;
    c->st.no_address = nad;
    c->st.offset = off;
    c->st.offset_given = given;
    c->st.offset_samples = ns;
}

/* Can this line describe an attempt with this outcome? */
static bool kind_fits(const struct pm_logentry *e, enum pm_outcome o)
{
    bool handshake = o == PM_OUT_CONNECTED || o == PM_OUT_SMTP_REJECTED ||
                     o == PM_OUT_NO_BANNER || o == PM_OUT_CLOSED_BEFORE_BANNER;
    if (o == PM_OUT_INCOMPLETE) {
        return true;
    }
    if (may_be_connect_fail(e) && e->kind != PM_LK_CONNECT_FAIL) {
        return true; /* Exim's ambiguous timeout */
    }
    return e->kind == PM_LK_CONNECT_FAIL ? !handshake : handshake;
}

const struct pm_logentry *pm_correlator_match(struct pm_correlator *c, const struct pm_attempt *a,
                                              enum pm_outcome o)
{
    if (c->n == 0) {
        return NULL;
    }
    bool handshake = a->answer == PM_ANS_SYNACK || (a->flags & PM_AF_ONE_SIDED);
    pm_ns start = a->first_syn - TOL;
    pm_ns end = a->last_seen + (handshake ? SESSION_MAX : CONNECT_MAX);
    if (a->answer == PM_ANS_RST || a->answer == PM_ANS_ICMP) {
        end = a->ans.ts + TOL + PM_SEC(2); /* connect() ends on the answer (or the next SYN) */
    }
    long best = -1, fallback = -1;
    /* From the first line of the window (log time = capture time + offset), untaken only. */
    size_t i0 = lower_bound_time(c, &a->srv, start + c->st.offset);
    for (size_t i = next_free(c, i0); i < c->n; i = next_free(c, i + 1)) {
        uint32_t idx = c->byaddr[i];
        const struct pm_logentry *e = &c->logs->e[idx];
        if (!pm_addr_eq(&e->addr, &a->srv)) {
            break;
        }
        if (!port_ok(e, a->dport)) {
            continue;
        }
        pm_ns t = pm_correlator_to_capture(c, e->ts);
        if (t < start) {
            continue;
        }
        if (t > end) {
            break; /* sorted by time within the address */
        }
        if (kind_fits(e, o)) {
            best = (long)idx;
            break;
        }
        if (fallback < 0) {
            fallback = (long)idx;
        }
    }
    long pick = best >= 0 ? best : fallback;
    if (pick < 0) {
        return NULL;
    }
    c->used[pick] = 1;
    c->st.matched++;
    /* Fold in lines that say the same thing about the same attempt (a status line the
     * parser could not merge, one line per recipient). */
    const struct pm_logentry *m = &c->logs->e[pick];
    for (size_t i = next_free(c, lower_bound_time(c, &a->srv, m->ts - TOL)); i < c->n;
         i = next_free(c, i + 1)) {
        uint32_t idx = c->byaddr[i];
        const struct pm_logentry *e = &c->logs->e[idx];
        if (!pm_addr_eq(&e->addr, &a->srv) || e->ts - m->ts > TOL) {
            break;
        }
        if (e->kind != m->kind || e->err != m->err || !port_ok(e, a->dport) ||
            !same_writer(e, m)) {
            continue;
        }
        c->used[idx] = 1;
        c->st.absorbed++;
    }
    return m;
}

const struct pm_logentry *pm_correlator_next_not_on_wire(struct pm_correlator *c,
                                                         pm_ns win_start, pm_ns win_end,
                                                         size_t *cursor)
{
    if (!c->logs) {
        return NULL;
    }
    while (*cursor < c->logs->n) {
        size_t i = (*cursor)++;
        const struct pm_logentry *e = &c->logs->e[i];
        if (c->used[i] || !is_matchable(e)) {
            continue;
        }
        pm_ns t = pm_correlator_to_capture(c, e->ts);
        if (t < win_start - TOL || t > win_end + TOL) {
            c->st.outside_window++;
            continue;
        }
        if (!may_be_connect_fail(e)) {
            c->st.unmatched_session++;
            continue;
        }
        c->used[i] = 1;
        /* Duplicates of this line (its status line) are the same attempt. */
        for (size_t j = i + 1; j < c->logs->n; j++) {
            const struct pm_logentry *d = &c->logs->e[j];
            if (d->ts - e->ts > TOL) {
                break;
            }
            if (!c->used[j] && pm_addr_eq(&d->addr, &e->addr) && d->kind == e->kind &&
                d->err == e->err && d->port == e->port && same_writer(d, e)) {
                c->used[j] = 1;
                c->st.absorbed++;
            }
        }
        c->st.not_on_wire++;
        return e;
    }
    return NULL;
}

const struct pm_corr_stats *pm_correlator_stats(const struct pm_correlator *c) { return &c->st; }
