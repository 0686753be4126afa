/*
 * context.c — owns the cross-attempt knowledge (include/context.h): hop references per
 * (vantage, host) and (vantage, prefix), and the destination table. Open addressing; the
 * host and prefix tables start small and double up to the bound set at start-up (a table
 * spread over its full bound would touch a page per host, so resident memory would follow
 * the number of hosts ever seen times 4 KB); a full table stops learning and counts what it
 * missed. The destination table grows the same way (array and index double together). All
 * growth is charged to the run's memory budget (include/tables.h); a table that reaches its
 * bound or the budget reports the loss there (stderr, summary `limits`, exit 4).
 *
 * Two pairs of hop tables: one learnt from the attempts (their SYN-ACKs, the destination's
 * own ICMP errors, a probe's TTL walk), one from every other packet of the capture (any
 * port or protocol, also what the attempt filter drops). They are separate so that a
 * capture full of other traffic cannot fill the table before the attempts, which are learnt
 * from only after the whole capture was read, get a place; a lookup merges both. Each entry
 * keeps the smallest and the largest hop count any reference gave: the grading of a RST's
 * origin (attribute.c) needs to know when references disagree.
 */
#include "context.h"

#include "attribute.h"
#include "scope.h"
#include "tables.h"
#include "ttl.h"
#include "util.h"

struct hostent_ {
    uint8_t used;
    uint16_t vantage;
    pm_addr addr; /* host, or the masked prefix */
    struct pm_hopref ref;
};

/* An open-addressing table of hostent_ that grows by doubling up to max_cap. */
struct htab {
    struct hostent_ *tab;
    uint32_t cap, n, max_cap;
    size_t charged; /* bytes taken from the memory budget by growth */
};

struct pm_context {
    int nvantage;
    struct htab hosts;
    struct htab prefixes;
    uint64_t hosts_overflow;
    struct htab side, side_prefixes; /* from every other packet (pm_context_learn_packet) */
    uint64_t side_overflow;
    uint64_t unplaced_failures;      /* failed attempts the full destination table could not hold */
    struct {                         /* the last packet's host: a stream of packets from one
                                      * host at one distance changes nothing after its first */
        bool valid;
        uint16_t vantage;
        int hops;
        pm_addr addr;
    } last;
    struct pm_dest *dests;
    uint32_t dests_cap, dests_n, dests_max; /* allocated, used, bound */
    size_t dests_charged;
    bool dests_full_by_memory;
    uint32_t *dest_slots; /* hash → index+1 */
    uint32_t dest_mask;
    struct pm_scope_facts running; /* the scope facts, kept up to date by each change */
    uint64_t dests_overflow;
    struct pm_dest **sorted;
};

const char *pm_hopsrc_name(enum pm_hopsrc s)
{
    static const char *const n[] = {"none", "same-attempt", "same-host", "icmp-from-destination",
                                    "ttl-walk", "same-prefix", "route"};
    return (unsigned)s < PM_ARRAY_LEN(n) ? n[s] : "none";
}

const char *pm_hopkind_name(enum pm_hopkind k)
{
    static const char *const n[] = {"packet", "SYN-ACK", "TCP segment", "DNS answer",
                                    "UDP datagram", "ICMP error", "ICMP echo", "ICMP message",
                                    "packet"};
    return (unsigned)k < PM_ARRAY_LEN(n) ? n[k] : "packet";
}

const char *pm_scope_name(enum pm_scope s)
{
    static const char *const n[] = {"none", "one-destination", "some-destinations",
                                    "all-destinations"};
    return (unsigned)s < PM_ARRAY_LEN(n) ? n[s] : "none";
}


static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 16;
    while (p < n && p < (1u << 30)) {
        p <<= 1;
    }
    return p;
}

struct pm_context *pm_context_new(int nvantage, uint32_t max_hosts, uint32_t max_dests)
{
    struct pm_context *c = pm_xcalloc(1, sizeof(*c));
    c->nvantage = nvantage;
    max_hosts = max_hosts && max_hosts < PM_CTX_HOSTS_LIMIT ? max_hosts : PM_CTX_HOSTS_LIMIT;
    max_dests = max_dests && max_dests < (uint32_t)PM_DESTS_MAX ? max_dests
                                                                : (uint32_t)PM_DESTS_MAX;
    c->hosts.max_cap = pow2_at_least(max_hosts * 2);
    c->hosts.cap = c->hosts.max_cap < PM_CTX_HTAB_START ? c->hosts.max_cap : PM_CTX_HTAB_START;
    c->hosts.tab = pm_xcalloc(c->hosts.cap, sizeof(*c->hosts.tab));
    c->prefixes.max_cap = pow2_at_least(max_hosts);
    c->prefixes.cap =
        c->prefixes.max_cap < PM_CTX_HTAB_START ? c->prefixes.max_cap : PM_CTX_HTAB_START;
    c->prefixes.tab = pm_xcalloc(c->prefixes.cap, sizeof(*c->prefixes.tab));
    c->side.max_cap = c->hosts.max_cap;
    c->side.cap = c->hosts.cap;
    c->side.tab = pm_xcalloc(c->side.cap, sizeof(*c->side.tab));
    c->side_prefixes.max_cap = c->prefixes.max_cap;
    c->side_prefixes.cap = c->prefixes.cap;
    c->side_prefixes.tab = pm_xcalloc(c->side_prefixes.cap, sizeof(*c->side_prefixes.tab));
    c->dests_max = max_dests;
    c->dests_cap = max_dests < PM_CTX_DESTS_START ? max_dests : PM_CTX_DESTS_START;
    c->dests = pm_xcalloc(c->dests_cap, sizeof(*c->dests));
    uint32_t slots = pow2_at_least(c->dests_cap * 2);
    c->dest_slots = pm_xcalloc(slots, sizeof(uint32_t));
    c->dest_mask = slots - 1;
    return c;
}

void pm_context_free(struct pm_context *c)
{
    if (!c) {
        return;
    }
    pm_mem_give(c->hosts.charged + c->prefixes.charged + c->side.charged +
                c->side_prefixes.charged + c->dests_charged);
    free(c->hosts.tab);
    free(c->prefixes.tab);
    free(c->side.tab);
    free(c->side_prefixes.tab);
    for (uint32_t i = 0; i < c->dests_n; i++) {
        free(c->dests[i].samples);
        free(c->dests[i].vtimes);
    }
    free(c->dests);
    free(c->dest_slots);
    free(c->sorted);
    free(c);
}

static uint32_t addr_hash(const pm_addr *a, uint16_t v)
{
    uint32_t h = 2166136261u ^ v;
    h = (h ^ a->family) * 16777619u;
    for (int i = 0; i < 16; i++) {
        h = (h ^ a->b[i]) * 16777619u;
    }
    return h;
}

/* Double the table (bounded by max_cap) and re-insert every entry. False when it cannot. */
static bool htab_grow(struct htab *t)
{
    if (t->cap >= t->max_cap) {
        return false;
    }
    uint32_t ncap = t->cap * 2;
    if (!pm_mem_take((size_t)t->cap * sizeof(struct hostent_))) {
        return false; /* the memory budget is spent: stay at this size, count the misses */
    }
    struct hostent_ *nt = calloc(ncap, sizeof(*nt));
    if (!nt) {
        pm_mem_give((size_t)t->cap * sizeof(struct hostent_));
        return false; /* out of memory: stay at this size and count the misses */
    }
    for (uint32_t j = 0; j < t->cap; j++) {
        const struct hostent_ *e = &t->tab[j];
        if (!e->used) {
            continue;
        }
        uint32_t i = addr_hash(&e->addr, e->vantage) & (ncap - 1);
        while (nt[i].used) {
            i = (i + 1) & (ncap - 1);
        }
        nt[i] = *e;
    }
    free(t->tab);
    t->tab = nt;
    t->charged += (size_t)t->cap * sizeof(struct hostent_);
    t->cap = ncap;
    return true;
}

/* The entry for (vantage, address); with create, a new one when absent. The pointer is
 * valid until the next call with create on the same table (it may grow). */
static struct hostent_ *host_slot(struct htab *t, uint64_t *overflow, uint16_t v,
                                  const pm_addr *a, bool create)
{
    if (create && t->n >= t->cap / 2) { /* keep the load factor low: probes stay short */
        htab_grow(t);
    }
    uint32_t cap = t->cap, mask = cap - 1;
    for (uint32_t i = addr_hash(a, v) & mask, probes = 0; probes < cap;
         i = (i + 1) & mask, probes++) {
        struct hostent_ *e = &t->tab[i];
        if (!e->used) {
            if (!create) {
                return NULL;
            }
            if (t->n >= cap / 2) { /* at its bound, or the budget stopped its growth */
                (*overflow)++;
                pm_table_lost(PM_TAB_HOPREFS, 1, t->cap < t->max_cap);
                return NULL;
            }
            e->used = 1;
            e->vantage = v;
            e->addr = *a;
            e->ref.hops = e->ref.hops_hi = -1;
            e->ref.rtt_min = PM_NS_NONE;
            t->n++;
            return e;
        }
        if (e->vantage == v && pm_addr_eq(&e->addr, a)) {
            return e;
        }
    }
    return NULL;
}

static pm_addr prefix_of(const pm_addr *a)
{
    pm_addr p = *a;
    if (a->family == PM_AF_INET) {
        p.b[3] = 0; /* /24 */
    } else {
        memset(p.b + 6, 0, 10); /* /48: a site (RFC 6177); its LANs are /64s of it */
    }
    return p;
}

/* Keep the smallest hop count (and the packet that gave it; at equal counts the better
 * source) and the largest: a host's own packets can only arrive with fewer decrements if
 * the path got shorter, never because of a forgery (forged RSTs are not learnt from), and
 * a spread between the two says the references disagree. */
static void note_ref(struct hostent_ *e, int hops, uint8_t ttl, struct pm_pktref ref,
                     enum pm_hopsrc src, pm_ns rtt, enum pm_hopkind kind, uint16_t port,
                     const pm_addr *from)
{
    if (!e) {
        return;
    }
    e->ref.samples++;
    if (e->ref.hops < 0 || hops < e->ref.hops || (hops == e->ref.hops && src < e->ref.src)) {
        e->ref.hops = hops;
        e->ref.src = src;
        e->ref.ttl = ttl;
        e->ref.ref = ref;
        e->ref.kind = (uint8_t)kind;
        e->ref.port = port;
        e->ref.from = *from;
    }
    if (hops > e->ref.hops_hi) {
        e->ref.hops_hi = hops;
    }
    if (rtt != PM_NS_NONE && (e->ref.rtt_min == PM_NS_NONE || rtt < e->ref.rtt_min)) {
        e->ref.rtt_min = rtt;
    }
}

static void learn_hops(struct pm_context *c, const struct pm_attempt *a)
{
    int hops = -1;
    enum pm_hopsrc src = PM_HOP_NONE;
    enum pm_hopkind kind = PM_HK_NONE;
    uint16_t port = 0;
    pm_ns rtt = PM_NS_NONE;
    if (a->answer == PM_ANS_SYNACK && a->ans.ack_ok && !a->ans.loopback) {
        hops = pm_ttl_hops(a->ans.ttl);
        src = PM_HOP_SAME_HOST;
        kind = PM_HK_SYNACK;
        port = a->dport;
        rtt = a->ans.ts - a->last_syn >= 0 ? a->ans.ts - a->last_syn : PM_NS_NONE;
    } else if (a->answer == PM_ANS_ICMP && pm_addr_eq(&a->ans.from, &a->srv) &&
               !a->ans.loopback) {
        hops = pm_ttl_hops(a->ans.ttl);
        src = PM_HOP_ICMP_DST;
        kind = PM_HK_ICMP_ERROR;
    }
    if (hops < 0 || hops > PM_MAX_HOPS) {
        return;
    }
    struct hostent_ *e = host_slot(&c->hosts, &c->hosts_overflow,
                                   a->vantage, &a->srv, true);
    note_ref(e, hops, a->ans.ttl, a->ans.ref, src, rtt, kind, port, &a->srv);
    pm_addr p = prefix_of(&a->srv);
    struct hostent_ *pe = host_slot(&c->prefixes, &c->hosts_overflow, a->vantage, &p, true);
    note_ref(pe, hops, a->ans.ttl, a->ans.ref, PM_HOP_PREFIX, PM_NS_NONE, kind, port, &a->srv);
}

void pm_context_learn_packet(struct pm_context *c, int vantage, const pm_addr *host,
                             uint8_t ttl, struct pm_pktref ref, enum pm_hopkind kind,
                             uint16_t port)
{
    int hops = pm_ttl_hops(ttl);
    if (hops > PM_MAX_HOPS || host->family == 0) {
        return; /* an initial TTL we cannot guess (or a hostile one): no reference */
    }
    uint16_t v = (uint16_t)vantage;
    if (c->last.valid && c->last.vantage == v && c->last.hops == hops &&
        pm_addr_eq(&c->last.addr, host)) {
        return; /* the same host at the same distance as the packet before: nothing new */
    }
    struct hostent_ *e = host_slot(&c->side, &c->side_overflow, v, host, true);
    enum pm_hopsrc src = kind == PM_HK_ICMP_ERROR ? PM_HOP_ICMP_DST : PM_HOP_SAME_HOST;
    note_ref(e, hops, ttl, ref, src, PM_NS_NONE, kind, port, host);
    pm_addr p = prefix_of(host);
    struct hostent_ *pe = host_slot(&c->side_prefixes, &c->side_overflow, v, &p, true);
    note_ref(pe, hops, ttl, ref, PM_HOP_PREFIX, PM_NS_NONE, kind, port, host);
    if (e && pe) {
        c->last.valid = true;
        c->last.vantage = v;
        c->last.hops = hops;
        c->last.addr = *host;
    }
}

void pm_context_learn_hops(struct pm_context *c, const struct pm_attempt *a) { learn_hops(c, a); }

void pm_context_add_hopref(struct pm_context *c, int vantage, const pm_addr *host, int hops,
                           enum pm_hopsrc src)
{
    struct pm_pktref none = {0, 0};
    struct hostent_ *e = host_slot(&c->hosts, &c->hosts_overflow,
                                   (uint16_t)vantage, host, true);
    note_ref(e, hops, 0, none, src, PM_NS_NONE, PM_HK_NONE, 0, host);
}

/* One reference from an entry of the attempts' table and one of the other traffic's: the
 * smallest count and the packet that gave it (at equal counts the attempt's, which has an
 * RTT, then the better source), the largest count, the samples of both. */
static struct pm_hopref merge_refs(const struct hostent_ *a, const struct hostent_ *b)
{
    struct pm_hopref none = {.hops = -1, .hops_hi = -1, .src = PM_HOP_NONE,
                             .rtt_min = PM_NS_NONE};
    const struct pm_hopref *ra = a && a->ref.hops >= 0 ? &a->ref : NULL;
    const struct pm_hopref *rb = b && b->ref.hops >= 0 ? &b->ref : NULL;
    if (!ra && !rb) {
        return none;
    }
    if (!ra || !rb) {
        return ra ? *ra : *rb;
    }
    struct pm_hopref r = *ra;
    if (rb->hops < ra->hops || (rb->hops == ra->hops && rb->src < ra->src)) {
        r = *rb;
        r.rtt_min = ra->rtt_min;
    }
    r.hops_hi = PM_MAX(ra->hops_hi, rb->hops_hi);
    r.samples = ra->samples + rb->samples;
    return r;
}

struct pm_hopref pm_context_hops(const struct pm_context *c, int vantage, const pm_addr *host)
{
    struct pm_context *mc = (struct pm_context *)(uintptr_t)c; /* lookups do not modify */
    uint16_t v = (uint16_t)vantage;
    struct pm_hopref r = merge_refs(host_slot(&mc->hosts, &mc->hosts_overflow, v, host, false),
                                    host_slot(&mc->side, &mc->side_overflow, v, host, false));
    if (r.hops >= 0) {
        return r;
    }
    pm_addr p = prefix_of(host);
    r = merge_refs(host_slot(&mc->prefixes, &mc->hosts_overflow, v, &p, false),
                   host_slot(&mc->side_prefixes, &mc->side_overflow, v, &p, false));
    if (r.hops >= 0) {
        r.src = PM_HOP_PREFIX;
        r.rtt_min = PM_NS_NONE; /* another host's round trip says nothing about this one */
    }
    return r;
}

/* ---- destinations ---- */

/* Add (sign 1) or remove (sign -1) one destination's share of the scope facts: they are
 * kept up to date as destinations change, so that asking for them is O(1) (live mode asks
 * once per attempt; recounting every destination each time was O(attempts x dests)). */
static void facts_add(struct pm_scope_facts *f, const struct pm_dest *d, int sign)
{
    uint32_t u = (uint32_t)sign; /* wraps: adding -1 subtracts one */
    f->dests += u;
    if (d->ok_other) {
        f->dests_other_ok += u;
    }
    if (d->ok25 + d->fail25 == 0) {
        return;
    }
    f->dests25 += u;
    if (d->ok25) {
        f->dests25_ok += u;
    } else if (d->fail25) {
        f->dests25_fail_only += u;
        if (d->ok_other) {
            f->dests25_other_ok += u;
        }
    }
}

/* Double the destination array and its index (bounded by dests_max and the budget). The
 * array may move: pm_dest pointers are valid until the next call that creates one. */
static bool dests_grow(struct pm_context *c)
{
    if (c->dests_cap >= c->dests_max) {
        return false;
    }
    uint32_t ncap = c->dests_cap * 2 < c->dests_max ? c->dests_cap * 2 : c->dests_max;
    uint32_t nslots = pow2_at_least(ncap * 2);
    size_t more = (size_t)(ncap - c->dests_cap) * sizeof(*c->dests) +
                  (size_t)(nslots - (c->dest_mask + 1)) * sizeof(uint32_t);
    if (!pm_mem_take(more)) {
        return false;
    }
    struct pm_dest *nd = realloc(c->dests, (size_t)ncap * sizeof(*nd));
    uint32_t *ns = calloc(nslots, sizeof(uint32_t));
    if (!nd || !ns) {
        if (nd) {
            c->dests = nd; /* the old block moved; the capacity stays what it was */
        }
        free(ns);
        pm_mem_give(more);
        return false;
    }
    /* (the new entries are not cleared here: pm_context_dest clears each one it hands out;
     * clearing the whole doubled array as well was a tenth of a storm's run) */
    c->dests_charged += more;
    c->dests = nd;
    c->dests_cap = ncap;
    free(c->dest_slots);
    c->dest_slots = ns;
    c->dest_mask = nslots - 1;
    for (uint32_t k = 0; k < c->dests_n; k++) {
        uint32_t i = addr_hash(&c->dests[k].addr, 0) & c->dest_mask;
        while (c->dest_slots[i]) {
            i = (i + 1) & c->dest_mask;
        }
        c->dest_slots[i] = k + 1;
    }
    return true;
}

struct pm_dest *pm_context_dest(struct pm_context *c, const pm_addr *addr, bool create)
{
    for (uint32_t i = addr_hash(addr, 0) & c->dest_mask;; i = (i + 1) & c->dest_mask) {
        uint32_t s = c->dest_slots[i];
        if (s == 0) {
            if (!create) {
                return NULL;
            }
            if (c->dests_n >= c->dests_cap) {
                if (!dests_grow(c)) {
                    /* Not counted here: an attempt is looked up more than once (learnt,
                     * then reported); the engine counts it once (pm_context_dest_overflowed). */
                    c->dests_full_by_memory = c->dests_cap < c->dests_max;
                    return NULL;
                }
                /* the index was rebuilt: find the free slot again */
                i = addr_hash(addr, 0) & c->dest_mask;
                while (c->dest_slots[i]) {
                    i = (i + 1) & c->dest_mask;
                }
            }
            struct pm_dest *d = &c->dests[c->dests_n++];
            memset(d, 0, sizeof(*d));
            d->addr = *addr;
            d->first_ts = d->last_ts = PM_NS_NONE;
            facts_add(&c->running, d, 1);
            c->dest_slots[i] = c->dests_n;
            return d;
        }
        if (pm_addr_eq(&c->dests[s - 1].addr, addr)) {
            return &c->dests[s - 1];
        }
    }
}

void pm_context_dest_name(struct pm_context *c, const pm_addr *addr, const char *name)
{
    struct pm_dest *d = pm_context_dest(c, addr, false);
    if (d && !d->name[0] && name && *name) {
        pm_strlcpy(d->name, name, sizeof(d->name));
    }
}

void pm_context_drop_hop(struct pm_context *c, const pm_addr *addr, int hop, const pm_addr *last)
{
    struct pm_dest *d = pm_context_dest(c, addr, true);
    if (d) {
        d->drop_after_hop = hop;
        if (last) {
            d->drop_last = *last;
        }
    }
}

void pm_context_learn(struct pm_context *c, const struct pm_attempt *a, enum pm_outcome o)
{
    learn_hops(c, a);
    struct pm_dest *d = pm_context_dest(c, &a->srv, true);
    if (!d) {
        return;
    }
    /* For scope, a completed handshake is what shows the port passes, greeting or not (the
     * snaplen may have cut it): only the network path is in question here. */
    bool ok = o == PM_OUT_CONNECTED || o == PM_OUT_SMTP_REJECTED || a->answer == PM_ANS_SYNACK;
    bool fail = pm_outcome_is_failure(o) && !ok;
    facts_add(&c->running, d, -1);
    if (a->dport == 25) {
        d->ok25 += ok;
        d->fail25 += fail;
    } else {
        d->ok_other += ok;
        d->fail_other += fail;
    }
    facts_add(&c->running, d, 1);
    bool seen = false;
    for (int i = 0; i < d->nports; i++) {
        seen |= d->ports[i] == a->dport;
    }
    if (!seen && d->nports < PM_DEST_PORTS) {
        d->ports[d->nports++] = a->dport;
    }
}

static int dest_cmp(const void *x, const void *y)
{
    const struct pm_dest *a = *(const struct pm_dest *const *)x;
    const struct pm_dest *b = *(const struct pm_dest *const *)y;
    uint32_t fa = a->attempts - a->by_outcome[PM_OUT_CONNECTED];
    uint32_t fb = b->attempts - b->by_outcome[PM_OUT_CONNECTED];
    if ((fa > 0) != (fb > 0)) {
        return fa > 0 ? -1 : 1;
    }
    if (a->addr.family != b->addr.family) {
        return a->addr.family < b->addr.family ? -1 : 1;
    }
    return memcmp(a->addr.b, b->addr.b, 16);
}

size_t pm_context_dests_sorted(struct pm_context *c, struct pm_dest ***out)
{
    free(c->sorted);
    c->sorted = pm_xcalloc(c->dests_n ? c->dests_n : 1, sizeof(*c->sorted));
    for (uint32_t i = 0; i < c->dests_n; i++) {
        c->sorted[i] = &c->dests[i];
    }
    qsort(c->sorted, c->dests_n, sizeof(*c->sorted), dest_cmp);
    *out = c->sorted;
    return c->dests_n;
}

void pm_context_dest_overflowed(struct pm_context *c) { c->dests_overflow++; }
uint64_t pm_context_dests_overflow(const struct pm_context *c) { return c->dests_overflow; }
uint64_t pm_context_hosts_overflow(const struct pm_context *c) { return c->hosts_overflow; }
bool pm_context_dests_full_by_memory(const struct pm_context *c) { return c->dests_full_by_memory; }
uint64_t pm_context_side_overflow(const struct pm_context *c) { return c->side_overflow; }

void pm_context_sizes(const struct pm_context *c, uint64_t *dests, uint64_t *hoprefs)
{
    *dests = c->dests_n;
    *hoprefs = (uint64_t)c->hosts.n + c->prefixes.n + c->side.n + c->side_prefixes.n;
}

struct pm_scope_facts pm_context_scope_facts(const struct pm_context *c)
{
    return c->running;
}

bool pm_context_provider_pattern(const struct pm_context *c)
{
    struct pm_scope_facts f = pm_context_scope_facts(c);
    /* Port 25 fails to every destination tried on it, none succeeds, and another watched
     * port works in the same capture (best: to the same hosts). */
    return f.dests25 > 0 && f.dests25_ok == 0 && f.dests25_fail_only == f.dests25 &&
           f.dests_other_ok > 0;
}

/* ---- counting reported attempts per destination (the destinations list) ---- */

static void record_sample(struct pm_dest *d, const struct pm_finding *f, uint16_t dport,
                          pm_ns ts, const pm_addr *src, uint16_t sport);

void pm_context_count(struct pm_context *c, const struct pm_finding *f, const pm_addr *dst,
                      uint16_t dport, pm_ns ts, const pm_addr *src, uint16_t sport,
                      bool evidence, bool samples)
{
    struct pm_dest *d = pm_context_dest(c, dst, true);
    if (!d) {
        if (!evidence) {
            c->unplaced_failures += pm_outcome_is_failure(f->outcome); /* exit (scope.c) */
        }
        /* one reported attempt left out of the destination list (flag table-full),
         * counted once per reported attempt */
        pm_context_dest_overflowed(c);
        pm_table_lost(PM_TAB_DESTS, 1, pm_context_dests_full_by_memory(c));
        return;
    }
    if (evidence) {
        d->evidence++;
        if (samples) {
            record_sample(d, f, dport, ts, src, sport);
        }
        return;
    }
    d->attempts++;
    d->by_outcome[f->outcome]++;
    d->by_verdict[f->verdict]++;
    d->verdict_owner[f->verdict] = (uint8_t)f->owner;
    if (d->first_ts == PM_NS_NONE || ts < d->first_ts) {
        d->first_ts = ts;
    }
    if (d->last_ts == PM_NS_NONE || ts > d->last_ts) {
        d->last_ts = ts;
    }
    int pi = -1;
    for (int i = 0; i < d->nports; i++) {
        if (d->ports[i] == dport) {
            pi = i;
        }
    }
    if (pi < 0 && d->nports < PM_DEST_PORTS) {
        pi = d->nports++;
        d->ports[pi] = dport;
    }
    if (pi >= 0) {
        d->port_ok[pi] += f->outcome == PM_OUT_CONNECTED;
        d->port_fail[pi] += pm_outcome_is_failure(f->outcome) ? 1u : 0u;
    }
    pm_dest_note(d, dport, ts, f->outcome); /* its latest state (scope.c) */
    if (d->nids < PM_DEST_IDS) {
        d->ids[d->nids++] = f->id;
    } else {
        d->ids_truncated = 1;
    }
    if (f->log && f->log->host[0]) {
        pm_context_dest_name(c, dst, f->log->host);
    }
    if (samples) {
        record_sample(d, f, dport, ts, src, sport);
    }
}

/* A verdict's first and last attempt time at this destination, for the text report's
 * counts and time ranges once the samples are full (issue 15.4): kept from the moment the
 * samples hold every attempt so far, seeded from them. Without memory, the ranges are
 * left out and the report says only the counts. */
static void note_vtime(struct pm_dest *d, enum pm_verdict v, pm_ns ts)
{
    if (!d->vtimes && d->nsamples == PM_DEST_SAMPLES && d->samples_dropped == 0) {
        size_t sz = sizeof(*d->vtimes) * PM_V__COUNT;
        if (pm_mem_take(sz)) { /* charged like the samples, and like them kept to the end */
            d->vtimes = malloc(sz);
            if (!d->vtimes) {
                pm_mem_give(sz);
            }
        }
        for (int i = 0; d->vtimes && i < PM_V__COUNT; i++) {
            d->vtimes[i][0] = d->vtimes[i][1] = PM_NS_NONE;
        }
        for (int i = 0; d->vtimes && i < d->nsamples; i++) {
            note_vtime(d, (enum pm_verdict)d->samples[i].verdict, d->samples[i].ts);
        }
    }
    if (!d->vtimes || ts == PM_NS_NONE || (unsigned)v >= PM_V__COUNT) {
        return;
    }
    pm_ns *r = d->vtimes[v];
    if (r[0] == PM_NS_NONE || ts < r[0]) {
        r[0] = ts;
    }
    if (r[1] == PM_NS_NONE || ts > r[1]) {
        r[1] = ts;
    }
}

/* Samples for the text report: failures displace successes; kept in time order. */
static void record_sample(struct pm_dest *d, const struct pm_finding *f, uint16_t dport,
                          pm_ns ts, const pm_addr *src, uint16_t sport)
{
    struct pm_dest_sample smp = {.id = f->id, .ts = ts, .dport = dport,
                                 .outcome = (uint8_t)f->outcome, .verdict = (uint8_t)f->verdict,
                                 .sport = sport};
    if (src) {
        smp.src = *src;
    }
    pm_strlcpy(smp.clue, f->clue, sizeof(smp.clue));
    note_vtime(d, f->verdict, ts);
    int slot = -1;
    if (d->nsamples < PM_DEST_SAMPLES && d->nsamples == d->samples_cap) {
        uint8_t ncap = d->samples_cap ? (uint8_t)(d->samples_cap * 2) : 1;
        ncap = ncap > PM_DEST_SAMPLES ? PM_DEST_SAMPLES : ncap;
        size_t more = (size_t)(ncap - d->samples_cap) * sizeof(*d->samples);
        struct pm_dest_sample *ns = NULL;
        if (pm_mem_take(more)) { /* charged to the budget; not given back before the end */
            ns = realloc(d->samples, ncap * sizeof(*ns));
            if (!ns) {
                pm_mem_give(more);
            }
        }
        if (ns) { /* no memory (or budget): the sample is counted as dropped below */
            d->samples = ns;
            d->samples_cap = ncap;
        }
    }
    if (d->nsamples < d->samples_cap) {
        slot = d->nsamples++;
    } else if (d->nsamples == PM_DEST_SAMPLES && f->verdict != PM_V_OK) {
        for (int i = 0; i < PM_DEST_SAMPLES; i++) {
            if (d->samples[i].verdict == PM_V_OK) {
                memmove(&d->samples[i], &d->samples[i + 1],
                        sizeof(smp) * (size_t)(PM_DEST_SAMPLES - 1 - i));
                slot = PM_DEST_SAMPLES - 1;
                break;
            }
        }
    }
    if (slot < 0) {
        d->samples_dropped++;
        return;
    }
    while (slot > 0 && d->samples[slot - 1].ts > ts) {
        d->samples[slot] = d->samples[slot - 1];
        slot--;
    }
    d->samples[slot] = smp;
}

uint64_t pm_context_unplaced_failures(const struct pm_context *c) { return c->unplaced_failures; }
