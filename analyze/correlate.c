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
 * Cost: lines are indexed per server address (a hash of buckets, each sorted by time), so a
 * match starts by binary search at the first line of its window in its address's bucket, and
 * lines already taken are jumped over through `skip` (path compression: each taken line is
 * stepped over O(1) amortised times). Without both, a flood of attempts to one address walked
 * every earlier line of that address per attempt. Adding a line is O(1) amortised (an append,
 * or a short step back for a line out of order), so live capture, which refreshes the index
 * before each decision while the followed log grows, no longer re-sorts the whole log per
 * decision (issue 19). Queue entries (anchors) are indexed the same way by (MTA, queue id).
 */
#include "correlate.h"

#include <sys/random.h>
#include <time.h>

#include "util.h"

/* The windows and timers (PM_CORR_*, the MTAs' default connect timers) are in config.h. */

/* One key's positions (log entry or anchor indices), sorted by (time, line, position). */
struct tbucket {
    uint32_t *pos;
    uint32_t *skip;          /* per position: a later position, all used in between (0: next) */
    uint32_t n, cap;
};

/* Buckets found by an open-addressing hash of their key (linear probing, load <= 1/2). The
 * hash is seeded per run so that log lines naming chosen addresses cannot pile into one
 * probe sequence. */
struct tindex {
    struct tbucket *b;
    uint32_t nb, capb;
    uint32_t *slot;          /* bucket number + 1; 0: empty */
    uint32_t nslot;          /* a power of two, or 0 */
    uint64_t seed;
};

struct pm_correlator {
    const struct pm_logset *logs;
    struct tindex byaddr;    /* matchable entries by server address */
    size_t n;                /* matchable entries indexed */
    uint8_t *used;
    size_t used_cap;
    size_t indexed;          /* log entries covered by byaddr/used */
    pm_ns samples[PM_CORR_MAX_SAMPLES];
    uint32_t nsamples;
    struct pm_corr_stats st;
    struct tindex anchors;   /* logs->anchors by (mta, queue id) */
    size_t nanchors;         /* anchors indexed */
    struct pm_corr_outside *outside; /* the first PM_CORR_OUTSIDE_LIST lines outside */
    size_t noutside;
    uint64_t index_work;     /* see pm_correlator_index_work */
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

/* Whether line e, of the same kind and error as the matched line m and close to it, says
 * again what m said about the same attempt. Only a summary line can (Postfix status=, Exim
 * ==, Sendmail stat=: one per recipient of a message, and one per message delivered over a
 * cached connection). A second "connect to ...: Connection refused" line is a second
 * connect(), even from the same process a second later: an smtp(8) process delivers
 * message after message, each with its own SYN. For a connect failure a summary line that
 * names a message m does not name (another queue id, or m has none: the parser merges a
 * message's status line into its connect line) is that message's own attempt. */
static bool restates(const struct pm_logentry *e, const struct pm_logentry *m)
{
    if (!e->from_status) {
        return false;
    }
    if (e->kind == PM_LK_CONNECT_FAIL && e->queue_id[0] && strcmp(e->queue_id, m->queue_id) != 0) {
        return false;
    }
    return true;
}

static bool is_matchable(const struct pm_logentry *e)
{
    return e->addr.family != 0 && e->ts != PM_NS_NONE &&
           (e->kind == PM_LK_CONNECT_FAIL || is_session_kind(e->kind));
}

/* ---- the bucket index ----------------------------------------------------------------- */

enum tkind { TK_ADDR, TK_ANCHOR };

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static uint64_t hash_bytes(uint64_t seed, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = seed ^ 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ULL; /* FNV-1a, then a finaliser to spread it */
    }
    return mix64(h);
}

/* A key by value: a server address, or an MTA and queue id. Lookups build one from what
 * they search for; a bucket's key is read from its first position. */
struct tkey {
    enum tkind k;
    const pm_addr *addr;
    uint8_t mta;
    const char *qid;         /* at most PM_LOG_QID bytes, NUL-terminated if shorter */
};

static struct tkey key_of(const struct pm_correlator *c, enum tkind k, uint32_t i)
{
    if (k == TK_ADDR) {
        return (struct tkey){.k = k, .addr = &c->logs->e[i].addr};
    }
    const struct pm_loganchor *a = &c->logs->anchors[i];
    return (struct tkey){.k = k, .mta = a->mta, .qid = a->queue_id};
}

static uint64_t key_hash(const struct tkey *key, uint64_t seed)
{
    if (key->k == TK_ADDR) {
        return hash_bytes(seed ^ key->addr->family, key->addr->b, 16);
    }
    return hash_bytes(seed ^ key->mta, key->qid, strnlen(key->qid, PM_LOG_QID));
}

static bool key_eq(const struct tkey *x, const struct tkey *y)
{
    if (x->k == TK_ADDR) {
        return pm_addr_eq(x->addr, y->addr);
    }
    return x->mta == y->mta && !strncmp(x->qid, y->qid, PM_LOG_QID);
}

/* Order inside a bucket: time, then the line (per file), then the position itself, so that
 * the order never depends on arrival. */
static bool pos_before(const struct pm_correlator *c, enum tkind k, uint32_t i, uint32_t j)
{
    if (k == TK_ADDR) {
        const struct pm_logentry *a = &c->logs->e[i], *b = &c->logs->e[j];
        if (a->ts != b->ts) {
            return a->ts < b->ts;
        }
        if (a->line != b->line) {
            return a->line < b->line;
        }
    } else {
        pm_ns ta = c->logs->anchors[i].ts, tb = c->logs->anchors[j].ts;
        if (ta != tb) {
            return ta < tb;
        }
    }
    return i < j;
}

static struct tindex *tindex_of(struct pm_correlator *c, enum tkind k)
{
    return k == TK_ADDR ? &c->byaddr : &c->anchors;
}

static void tindex_free(struct tindex *t)
{
    for (uint32_t b = 0; b < t->nb; b++) {
        free(t->b[b].pos);
        free(t->b[b].skip);
    }
    free(t->b);
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

static void tindex_rehash(struct pm_correlator *c, enum tkind k, uint32_t nslot)
{
    struct tindex *t = tindex_of(c, k);
    free(t->slot);
    t->slot = pm_xcalloc(nslot, sizeof(uint32_t));
    t->nslot = nslot;
    for (uint32_t b = 0; b < t->nb; b++) {
        struct tkey key = key_of(c, k, t->b[b].pos[0]);
        uint32_t h = (uint32_t)key_hash(&key, t->seed) & (nslot - 1);
        while (t->slot[h]) {
            h = (h + 1) & (nslot - 1);
        }
        t->slot[h] = b + 1;
    }
}

/* The slot of `key`'s bucket, or the empty slot where it would go (the table has slots). */
static uint32_t tindex_slot(const struct pm_correlator *c, const struct tindex *t,
                            const struct tkey *key)
{
    uint32_t h = (uint32_t)key_hash(key, t->seed) & (t->nslot - 1);
    while (t->slot[h]) {
        struct tkey have = key_of(c, key->k, t->b[t->slot[h] - 1].pos[0]);
        if (key_eq(&have, key)) {
            break;
        }
        h = (h + 1) & (t->nslot - 1);
    }
    return h;
}

/* The bucket of `key`, or NULL. */
static struct tbucket *tindex_lookup(const struct pm_correlator *c, const struct tindex *t,
                                     const struct tkey *key)
{
    if (!t->nslot) {
        return NULL;
    }
    uint32_t h = tindex_slot(c, t, key);
    return t->slot[h] ? &t->b[t->slot[h] - 1] : NULL;
}

/* Position i joins its key's bucket: appended, or stepped back past later lines (a line
 * out of time order; the bucket's skips are then cleared, as they may jump over it). */
static void tindex_add(struct pm_correlator *c, enum tkind k, uint32_t i)
{
    struct tindex *t = tindex_of(c, k);
    if ((uint64_t)(t->nb + 1) * 2 > t->nslot) {
        tindex_rehash(c, k, t->nslot ? t->nslot * 2 : 64);
    }
    struct tkey key = key_of(c, k, i);
    uint32_t h = tindex_slot(c, t, &key);
    if (!t->slot[h]) { /* a new key: a new bucket */
        if (t->nb == t->capb) {
            t->capb = t->capb ? t->capb * 2 : 64;
            t->b = pm_xreallocarray(t->b, t->capb, sizeof(*t->b));
        }
        memset(&t->b[t->nb], 0, sizeof(t->b[t->nb]));
        t->slot[h] = ++t->nb;
    }
    struct tbucket *b = &t->b[t->slot[h] - 1];
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->pos = pm_xreallocarray(b->pos, b->cap, sizeof(uint32_t));
        b->skip = pm_xreallocarray(b->skip, b->cap, sizeof(uint32_t));
    }
    uint32_t at = b->n;
    c->index_work++;
    while (at > 0 && pos_before(c, k, i, b->pos[at - 1])) {
        b->pos[at] = b->pos[at - 1];
        at--;
        c->index_work++;
    }
    b->pos[at] = i;
    b->n++;
    if (at + 1 < b->n) {
        memset(b->skip, 0, b->n * sizeof(uint32_t));
    } else {
        b->skip[at] = 0;
    }
}

static uint64_t run_seed(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        r = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&r; /* only spreads keys */
    }
    return r;
}

/* Index what the log set gained since the last call (live: lines appended, never
 * reordered), keeping which lines are already matched. */
static void index_new(struct pm_correlator *c)
{
    const struct pm_logset *logs = c->logs;
    size_t total = logs ? logs->n : 0;
    if (total > c->used_cap) {
        size_t cap = c->used_cap ? c->used_cap : 64;
        while (cap < total) {
            cap *= 2;
        }
        c->used = pm_xreallocarray(c->used, cap, 1);
        memset(c->used + c->used_cap, 0, cap - c->used_cap);
        c->used_cap = cap;
    }
    for (size_t i = c->indexed; i < total; i++) {
        const struct pm_logentry *e = &logs->e[i];
        if (e->kind == PM_LK_NO_ATTEMPT) {
            c->st.no_attempt++;
        } else if (e->addr.family == 0) {
            c->st.no_address++;
        }
        if (is_matchable(e)) {
            tindex_add(c, TK_ADDR, (uint32_t)i);
            c->n++;
        }
    }
    c->indexed = total;
    size_t na = logs ? logs->nanchors : 0;
    for (size_t i = c->nanchors; i < na; i++) {
        tindex_add(c, TK_ANCHOR, (uint32_t)i);
    }
    c->nanchors = na;
}

struct pm_correlator *pm_correlator_new(const struct pm_logset *logs, pm_ns given_offset)
{
    struct pm_correlator *c = pm_xcalloc(1, sizeof(*c));
    c->logs = logs;
    c->byaddr.seed = run_seed();
    c->anchors.seed = mix64(c->byaddr.seed + 1);
    index_new(c);
    if (given_offset != PM_NS_NONE) {
        c->st.offset = given_offset;
        c->st.offset_given = true;
    }
    c->st.connect_timeout = PM_NS_NONE;
    return c;
}

void pm_correlator_set_connect_timeout(struct pm_correlator *c, pm_ns t)
{
    c->st.connect_timeout = t;
}

void pm_correlator_refresh(struct pm_correlator *c)
{
    if (c->logs && (c->logs->n != c->indexed || c->logs->nanchors != c->nanchors)) {
        index_new(c);
    }
}

uint64_t pm_correlator_index_work(const struct pm_correlator *c) { return c->index_work; }

void pm_correlator_free(struct pm_correlator *c)
{
    if (!c) {
        return;
    }
    tindex_free(&c->byaddr);
    tindex_free(&c->anchors);
    free(c->used);
    free(c->outside);
    free(c);
}

/* The bucket of lines about this server address, or NULL. */
static struct tbucket *addr_bucket(const struct pm_correlator *c, const pm_addr *addr)
{
    struct tkey key = {.k = TK_ADDR, .addr = addr};
    return tindex_lookup(c, &c->byaddr, &key);
}

/* First position in the bucket of a line logged at ts or later (or b->n). */
static uint32_t lower_bound_time(const struct pm_correlator *c, const struct tbucket *b,
                                 pm_ns ts)
{
    uint32_t lo = 0, hi = b->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->logs->e[b->pos[mid]].ts < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The first position >= i whose line is not taken yet (or b->n). Jumps recorded in skip
 * are compressed on the way, so a run of taken lines is crossed once, not per call. */
static uint32_t next_free(const struct pm_correlator *c, struct tbucket *b, uint32_t i)
{
    uint32_t j = i;
    while (j < b->n && c->used[b->pos[j]]) {
        j = b->skip[j] > j ? b->skip[j] : j + 1;
    }
    for (uint32_t k = i; k < j && k < b->n;) { /* compress: everything in [i, j) jumps to j */
        uint32_t nx = b->skip[k] > k ? b->skip[k] : k + 1;
        b->skip[k] = j;
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
    if (c->st.offset_given || c->nsamples >= PM_CORR_MAX_SAMPLES || c->n == 0) {
        return;
    }
    /* Sharp pairs only: the kernel ends connect() when the RST or ICMP arrives and the MTA
     * logs at once. */
    if (a->answer != PM_ANS_RST && a->answer != PM_ANS_ICMP) {
        return;
    }
    /* The nearest sharp line in time on either side of the answer: lines are sorted by time
     * within the address, so the first fitting line scanning outwards is the nearest on that
     * side. Each scan is bounded (PM_CORR_SAMPLE_SCAN lines) so a flood of lines to one address
     * costs O(log n) per sample, not O(n). */
    pm_ns best = PM_NS_NONE;
    const struct tbucket *b = addr_bucket(c, &a->srv);
    if (!b) {
        return;
    }
    uint32_t mid = lower_bound_time(c, b, a->ans.ts);
    for (int side = 0; side < 2; side++) {
        for (uint32_t k = 0; k < PM_CORR_SAMPLE_SCAN; k++) {
            uint32_t i;
            if (side == 0) {
                i = mid + k;
                if (i >= b->n) {
                    break;
                }
            } else {
                if (mid < k + 1) {
                    break;
                }
                i = mid - k - 1;
            }
            const struct pm_logentry *e = &c->logs->e[b->pos[i]];
            pm_ns dt = e->ts - a->ans.ts;
            if (dt < -PM_CORR_OFFSET_SEARCH || dt > PM_CORR_OFFSET_SEARCH) {
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
    c->st.offset = (median > PM_CORR_TOL || median < -PM_CORR_TOL) ? median : 0;
    /* How far off the applied offset may be: what it left unapplied, or the spread of the
     * middle half of the samples, whichever is larger. (Each sample is itself off by up to
     * the line's resolution, which the window rule adds on its own.) */
    pm_ns unapplied = median - c->st.offset;
    unapplied = unapplied < 0 ? -unapplied : unapplied;
    pm_ns spread = (c->samples[(c->nsamples * 3) / 4] - c->samples[c->nsamples / 4]) / 2;
    c->st.offset_uncertainty = unapplied > spread ? unapplied : spread;
}

void pm_correlator_reset(struct pm_correlator *c)
{
    if (c->used) { /* NULL while no log line was indexed: memset(NULL, 0, 0) is undefined */
        memset(c->used, 0, c->indexed);
    }
    for (uint32_t b = 0; b < c->byaddr.nb; b++) {
        memset(c->byaddr.b[b].skip, 0, c->byaddr.b[b].n * sizeof(uint32_t));
    }
    uint64_t na = c->st.no_attempt, nad = c->st.no_address;
    pm_ns off = c->st.offset;
    bool given = c->st.offset_given;
    uint32_t ns = c->st.offset_samples;
    pm_ns unc = c->st.offset_uncertainty, ct = c->st.connect_timeout;
    memset(&c->st, 0, sizeof(c->st));
    c->st.no_attempt = na;
    c->st.no_address = nad;
    c->st.offset = off;
    c->st.offset_given = given;
    c->st.offset_samples = ns;
    c->st.offset_uncertainty = unc;
    c->st.connect_timeout = ct;
    c->noutside = 0;
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
    pm_ns start = a->first_syn - PM_CORR_TOL;
    pm_ns end = a->last_seen + (handshake ? PM_CORR_SESSION_MAX : PM_CORR_CONNECT_MAX);
    if (a->answer == PM_ANS_RST || a->answer == PM_ANS_ICMP) {
        /* connect() ends on the answer (or the next SYN) */
        end = a->ans.ts + PM_CORR_TOL + PM_SEC(2);
    }
    struct tbucket *b = addr_bucket(c, &a->srv);
    if (!b) {
        return NULL;
    }
    long best = -1, fallback = -1;
    /* From the first line of the window (log time = capture time + offset), untaken only. */
    uint32_t i0 = lower_bound_time(c, b, start + c->st.offset);
    for (uint32_t i = next_free(c, b, i0); i < b->n; i = next_free(c, b, i + 1)) {
        uint32_t idx = b->pos[i];
        const struct pm_logentry *e = &c->logs->e[idx];
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
    /* Lines that say the same thing again (a status line the parser could not merge, one
     * per recipient or per message over a cached connection) are not folded in here: a
     * second attempt a moment later may be the one they belong to (one smtp process,
     * message after message, a connection each). What no attempt took is folded when it is
     * judged (restated_by_used). */
    const struct pm_logentry *m = &c->logs->e[pick];
    return m;
}

static void note_outside(struct pm_correlator *c, size_t i, const struct pm_syn_interval *iv)
{
    c->st.outside_window++;
    c->used[i] = 1; /* its status-line duplicates are the same line: not listed twice */
    if (c->noutside >= PM_CORR_OUTSIDE_LIST) {
        return;
    }
    if (!c->outside) {
        c->outside = pm_xcalloc(PM_CORR_OUTSIDE_LIST, sizeof(*c->outside));
    }
    c->outside[c->noutside].idx = (uint32_t)i;
    c->outside[c->noutside].iv = *iv;
    c->noutside++;
}

size_t pm_correlator_outside(const struct pm_correlator *c, const struct pm_corr_outside **list)
{
    *list = c->outside;
    return c->noutside;
}

/* The MTA's connect timer for this line: as given, or the MTA's default. */
static pm_ns mta_timer(const struct pm_correlator *c, const struct pm_logentry *e)
{
    if (c->st.connect_timeout != PM_NS_NONE) {
        return c->st.connect_timeout + PM_CORR_TIMER_SLACK;
    }
    return PM_SEC(e->mta == PM_MTA_POSTFIX ? PM_POSTFIX_CONNECT_TIMEOUT_S
                                           : PM_KERNEL_SYN_GIVEUP_S) +
           PM_CORR_TIMER_SLACK;
}

static pm_ns connect_max(const struct pm_correlator *c, const struct pm_logentry *e)
{
    pm_ns timer = mta_timer(c, e);
    if (e->kind != PM_LK_CONNECT_FAIL) {
        /* Exim's timeout may be a connect or a greeting one */
        return timer + PM_CORR_EXIM_GREETING;
    }
    pm_ns span;
    switch (e->err) {
    case PM_EC_REFUSED:
        span = PM_CORR_SPAN_REFUSED;
        break;
    case PM_EC_HOSTUNREACH:
    case PM_EC_HOSTDOWN:
    case PM_EC_NETUNREACH:
    case PM_EC_ACCES:
        span = PM_CORR_SPAN_UNREACH;
        break;
    case PM_EC_PERM:
    case PM_EC_INVAL:
    case PM_EC_ADDRNOTAVAIL:
        span = PM_CORR_SPAN_LOCAL;
        break;
    default: /* ETIMEDOUT, and anything unknown: as long as the timer lets it */
        span = timer;
        break;
    }
    span = span < timer ? span : timer;
    /* A probe's own connect (no MTA) carries its measured duration, to the millisecond. */
    if (e->mta == PM_MTA_UNKNOWN && e->conn_delay_ms >= 0) {
        pm_ns measured = PM_MS(e->conn_delay_ms) + PM_MS(1);
        span = measured < span ? measured : span;
    }
    return span;
}

/* Latest anchor (the message entered the queue) for (mta, qid) at or before ts. */
static pm_ns queued_at(const struct pm_correlator *c, uint8_t mta, const char *qid, pm_ns ts)
{
    const struct pm_logset *logs = c->logs;
    struct tkey key = {.k = TK_ANCHOR, .mta = mta, .qid = qid};
    const struct tbucket *b = tindex_lookup(c, &c->anchors, &key);
    if (!b) {
        return PM_NS_NONE;
    }
    uint32_t lo = 0, hi = b->n;
    while (lo < hi) { /* first anchor of this queue id later than ts */
        uint32_t mid = lo + (hi - lo) / 2;
        if (logs->anchors[b->pos[mid]].ts <= ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo ? logs->anchors[b->pos[lo - 1]].ts : PM_NS_NONE;
}

static bool same_process(const struct pm_logentry *a, const struct pm_logentry *b)
{
    return a->mta == PM_MTA_POSTFIX && b->mta == PM_MTA_POSTFIX && a->pid && a->pid == b->pid &&
           a->hosthash == b->hosthash && a->file == b->file;
}

/* What the log itself says about when this connect began: after the message entered the
 * queue (its queue id: the line's own, or for a Postfix line the next status line of the
 * same process), and for Postfix after the same smtp process's previous line (one process
 * delivers one message at a time and connects to one address at a time). */
static pm_ns log_anchor(const struct pm_correlator *c, const struct pm_logentry *e,
                        const char **what)
{
    const struct pm_logset *logs = c->logs;
    pm_ns best = PM_NS_NONE;
    *what = NULL;
    size_t idx = (size_t)(e - logs->e);
    const char *qid = e->queue_id[0] ? e->queue_id : NULL;
    if (!qid && e->mta == PM_MTA_POSTFIX) {
        for (size_t j = idx + 1; j < logs->n && j <= idx + PM_CORR_ANCHOR_SCAN; j++) {
            const struct pm_logentry *d = &logs->e[j];
            if (same_process(d, e) && d->from_status && d->queue_id[0]) {
                qid = d->queue_id;
                break;
            }
        }
    }
    if (qid) {
        pm_ns q = queued_at(c, e->mta, qid, e->ts);
        if (q != PM_NS_NONE) {
            best = q;
            *what = "queued";
        }
    }
    if (e->mta == PM_MTA_POSTFIX) {
        for (size_t k = 1; k <= PM_CORR_ANCHOR_SCAN && k <= idx; k++) {
            const struct pm_logentry *d = &logs->e[idx - k];
            if (same_process(d, e) && d->ts != PM_NS_NONE && d->ts <= e->ts) {
                if (best == PM_NS_NONE || d->ts > best) {
                    best = d->ts;
                    *what = "same process's previous line";
                }
                break;
            }
        }
    }
    return best;
}

void pm_correlator_syn_interval(const struct pm_correlator *c, const struct pm_logentry *e,
                                struct pm_syn_interval *iv)
{
    memset(iv, 0, sizeof(*iv));
    iv->anchor = PM_NS_NONE;
    iv->resolution = pm_logentry_resolution(e);
    iv->uncertainty = c->st.offset_given ? 0 : c->st.offset_uncertainty;
    iv->connect_max = connect_max(c, e);
    if (e->ts == PM_NS_NONE) {
        iv->lo = iv->hi = PM_NS_NONE;
        return;
    }
    /* Syslog, Postfix, Exim and Sendmail stamp with the time truncated to the shown
     * precision: the event happened in [ts, ts + resolution). */
    pm_ns lo = e->ts - iv->connect_max;
    pm_ns anchor = c->logs ? log_anchor(c, e, &iv->anchor_what) : PM_NS_NONE;
    if (anchor != PM_NS_NONE && anchor > lo) {
        lo = anchor;
        iv->anchor = anchor;
    } else {
        iv->anchor_what = NULL;
    }
    iv->lo = pm_correlator_to_capture(c, lo) - iv->uncertainty;
    iv->hi = pm_correlator_to_capture(c, e->ts + iv->resolution) + iv->uncertainty;
}

/* Line i restates a line already matched or judged just before it (same address, kind,
 * error, port and writer, within the tolerance): the same attempt, not another one. */
static bool restated_by_used(const struct pm_correlator *c, size_t i)
{
    const struct pm_logentry *e = &c->logs->e[i];
    for (size_t j = i; j-- > 0;) {
        const struct pm_logentry *d = &c->logs->e[j];
        if (e->ts - d->ts > PM_CORR_TOL) {
            break;
        }
        if (c->used[j] && pm_addr_eq(&d->addr, &e->addr) && d->kind == e->kind &&
            d->err == e->err && d->port == e->port && same_writer(d, e) && restates(e, d)) {
            return true;
        }
    }
    return false;
}

/* Duplicates of line i (its status lines: restates) are the same attempt. */
static void fold_duplicates(struct pm_correlator *c, size_t i)
{
    const struct pm_logentry *e = &c->logs->e[i];
    for (size_t j = i + 1; j < c->logs->n; j++) {
        const struct pm_logentry *d = &c->logs->e[j];
        if (d->ts - e->ts > PM_CORR_TOL) {
            break;
        }
        if (!c->used[j] && pm_addr_eq(&d->addr, &e->addr) && d->kind == e->kind &&
            d->err == e->err && d->port == e->port && same_writer(d, e) && restates(d, e)) {
            c->used[j] = 1;
            c->st.absorbed++;
        }
    }
}

enum pm_nowire pm_correlator_judge(struct pm_correlator *c, size_t i, pm_ns win_start,
                                   pm_ns win_end)
{
    if (!c->logs || i >= c->logs->n || i >= c->indexed) {
        return PM_NOWIRE_SKIP;
    }
    const struct pm_logentry *e = &c->logs->e[i];
    if (c->used[i] || !is_matchable(e)) {
        return PM_NOWIRE_SKIP;
    }
    if (restated_by_used(c, i)) {
        c->used[i] = 1;
        c->st.absorbed++;
        return PM_NOWIRE_SKIP;
    }
    struct pm_syn_interval iv;
    pm_correlator_syn_interval(c, e, &iv);
    if (!may_be_connect_fail(e)) {
        /* A session line (connected, then lost) without packets is only counted; outside
         * the window it is counted and listed as such. */
        pm_ns t = pm_correlator_to_capture(c, e->ts);
        if (win_start == PM_NS_NONE || t < win_start - PM_CORR_TOL || t > win_end + PM_CORR_TOL) {
            note_outside(c, i, &iv);
            return PM_NOWIRE_OUTSIDE;
        }
        c->st.unmatched_session++;
        return PM_NOWIRE_SKIP;
    }
    /* The rule: not-on-wire only when the whole interval in which its SYNs must have left
     * lies inside the capture window. */
    if (win_start == PM_NS_NONE || win_end == PM_NS_NONE || iv.lo < win_start ||
        iv.hi > win_end) {
        note_outside(c, i, &iv);
        fold_duplicates(c, i);
        return PM_NOWIRE_OUTSIDE;
    }
    c->used[i] = 1;
    fold_duplicates(c, i);
    c->st.not_on_wire++;
    return PM_NOWIRE_YES;
}

void pm_syn_interval_words(const struct pm_syn_interval *iv, const struct pm_logentry *e,
                           char *buf, size_t len)
{
    char t[32], d[32];
    if (iv->anchor_what && iv->anchor != PM_NS_NONE) {
        snprintf(buf, len, "from the %s at %s", !strcmp(iv->anchor_what, "queued")
                                                    ? "message's queue entry"
                                                    : iv->anchor_what,
                 pm_time_short(iv->anchor, t, sizeof(t)));
    } else {
        snprintf(buf, len, "from the line's time minus %s, the longest a connect ending in %s "
                 "can take", pm_delay_str(iv->connect_max, d, sizeof(d)),
                 e->kind == PM_LK_CONNECT_FAIL && e->err
                     ? pm_errclass_name((enum pm_errclass)e->err)
                     : "a timeout (connect or greeting)");
    }
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
        if (pm_correlator_judge(c, i, win_start, win_end) == PM_NOWIRE_YES) {
            return &c->logs->e[i];
        }
    }
    return NULL;
}

const struct pm_corr_stats *pm_correlator_stats(const struct pm_correlator *c) { return &c->st; }

/* ---- live: the ring of recent SYNs ---- */

/* A logged connect failure is not-on-wire only when no SYN to its destination left around
 * its time; live, the attempts are gone once decided, so the SYNs are remembered here (a
 * fixed ring: the oldest is overwritten, no allocation per packet). */
struct recent_syn {
    pm_addr dst;
    uint16_t dport;
    pm_ns ts;
};

struct pm_synring {
    struct recent_syn r[PM_LIVE_RECENT_SYNS];
    uint32_t n; /* SYNs ever added: the next slot is n % PM_LIVE_RECENT_SYNS */
};

struct pm_synring *pm_synring_new(void) { return pm_xcalloc(1, sizeof(struct pm_synring)); }

void pm_synring_free(struct pm_synring *s) { free(s); }

void pm_synring_add(struct pm_synring *s, const pm_addr *dst, uint16_t dport, pm_ns ts)
{
    struct recent_syn *r = &s->r[s->n++ % PM_LIVE_RECENT_SYNS];
    r->dst = *dst;
    r->dport = dport;
    r->ts = ts;
}

bool pm_synring_seen(const struct pm_synring *s, const pm_addr *dst, uint16_t dport, pm_ns t)
{
    uint32_t n = PM_MIN(s->n, (uint32_t)PM_LIVE_RECENT_SYNS);
    for (uint32_t i = 0; i < n; i++) {
        const struct recent_syn *r = &s->r[i];
        if (r->dport == dport && pm_addr_eq(&r->dst, dst) && r->ts >= t - PM_CORR_CONNECT_MAX &&
            r->ts <= t + PM_CORR_TOL) {
            return true;
        }
    }
    return false;
}

/* The /24 or /48 of an address (what the side filter asks for). */
static pm_addr side_prefix(const pm_addr *a)
{
    pm_addr p = *a;
    if (a->family == PM_AF_INET) {
        p.b[3] = 0;
    } else {
        memset(p.b + 6, 0, 10);
    }
    return p;
}

int pm_synring_prefixes(const struct pm_synring *s, pm_addr *out, int max)
{
    int n = 0;
    uint32_t have = PM_MIN(s->n, (uint32_t)PM_LIVE_RECENT_SYNS);
    for (uint32_t k = 0; k < have && n < max; k++) {
        const struct recent_syn *r = &s->r[(s->n - 1 - k) % PM_LIVE_RECENT_SYNS];
        pm_addr p = side_prefix(&r->dst);
        bool seen = false;
        for (int j = 0; j < n && !seen; j++) {
            seen = pm_addr_eq(&out[j], &p);
        }
        if (!seen) {
            out[n++] = p;
        }
    }
    return n;
}
