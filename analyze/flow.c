/*
 * flow.c — owns the open-attempt table (include/flow.h): two slot pools (hot records and
 * extensions), a chained hash on the exact key over a power-of-two bucket array, a second
 * chained hash on (destination, port), and one doubly linked LRU list per timeout class.
 * Both hash chains are doubly linked: removing a flow never walks a chain. A flood of
 * attempts to one destination and port puts them all on one (destination, port) chain, and
 * a singly linked chain made every removal walk it (issue 19: 100 k attempts took 16 s,
 * 1 M never finished); now insert, remove, touch and expiry are O(1), and a lookup walks
 * only its exact-key bucket (seeded hash, load factor at most 1).
 *
 * Keys are hashed with a per-run random seed (hostile traffic cannot aim at one bucket).
 * The key is the attempt's own direction (client, server), not a sorted pair: a reply is
 * looked up by swapping its addresses, which is cheaper than sorting and just as exact
 * because only the SYN sender may create an attempt.
 */
#include "flow.h"

#include "tables.h"
#include "util.h"

#define NIL UINT32_MAX

struct slot {
    struct pm_flow f;      /* first member: slot_of() depends on it */
    uint32_t hnext;        /* exact-key hash chain, or free list link */
    uint32_t hprev;        /* previous on the exact-key chain, NIL at its head */
    uint32_t xnext;        /* (destination, port) chain, most recent first */
    uint32_t xprev;        /* previous on that chain, NIL at its head */
    uint32_t lprev, lnext; /* LRU list of the class */
    uint8_t cls;
    uint8_t live;
};

struct pm_flowtab {
    struct slot *slots;
    uint32_t cap;
    uint32_t bump;         /* slots [0, bump) have been handed out at least once */
    uint32_t free_head;
    uint32_t count, peak;
    uint32_t *buckets, *xbuckets;
    uint32_t mask, nbuckets_max;
    uint64_t seed;
    bool mem_full;         /* the last insert failed on the memory budget, not the capacity */
    uint32_t head[PM_FC__COUNT], tail[PM_FC__COUNT];
    struct pm_flow_ext *ext;
    uint32_t ext_bump, ext_free; /* 1-based handles; 0 = none */
};

static void set_buckets(struct pm_flowtab *t, uint32_t nb)
{
    t->buckets = pm_xmalloc((size_t)nb * sizeof(uint32_t));
    t->xbuckets = pm_xmalloc((size_t)nb * sizeof(uint32_t));
    memset(t->buckets, 0xff, (size_t)nb * sizeof(uint32_t));
    memset(t->xbuckets, 0xff, (size_t)nb * sizeof(uint32_t));
    t->mask = nb - 1;
}

struct pm_flowtab *pm_flowtab_new(uint32_t capacity, uint64_t seed)
{
    struct pm_flowtab *t = pm_xcalloc(1, sizeof(*t));
    if (capacity < 16) {
        capacity = 16;
    }
    t->cap = capacity;
    /* calloc of a large block is fresh zero pages from mmap: untouched slots cost nothing.
     * Slots are charged to the memory budget as the bump pointer hands them out. */
    t->slots = pm_xcalloc(capacity, sizeof(struct slot));
    t->ext = pm_xcalloc(capacity, sizeof(struct pm_flow_ext));
    uint32_t nb = 16;
    while (nb < capacity && nb < (1u << 31)) {
        nb <<= 1;
    }
    t->nbuckets_max = nb;
    set_buckets(t, nb < PM_FLOW_BUCKETS_START ? nb : PM_FLOW_BUCKETS_START);
    t->seed = seed;
    t->free_head = NIL;
    for (int c = 0; c < PM_FC__COUNT; c++) {
        t->head[c] = t->tail[c] = NIL;
    }
    return t;
}

void pm_flowtab_free(struct pm_flowtab *t)
{
    if (!t) {
        return;
    }
    pm_mem_give((size_t)t->bump * (sizeof(struct slot) + sizeof(struct pm_flow_ext)));
    if (t->mask + 1 > PM_FLOW_BUCKETS_START) {
        pm_mem_give((size_t)(t->mask + 1 - PM_FLOW_BUCKETS_START) * 2 * sizeof(uint32_t));
    }
    free(t->slots);
    free(t->ext);
    free(t->buckets);
    free(t->xbuckets);
    free(t);
}

void pm_flowkey_make(struct pm_flowkey *k, uint16_t vantage, const pm_addr *cli,
                     const pm_addr *srv, uint16_t sport, uint16_t dport)
{
    memset(k, 0, sizeof(*k)); /* padding is part of the hashed bytes */
    k->vantage = vantage;
    k->family = cli->family;
    k->sport = sport;
    k->dport = dport;
    memcpy(k->cli, cli->b, 16);
    memcpy(k->srv, srv->b, 16);
}

void pm_flow_cli(const struct pm_flow *f, pm_addr *a)
{
    a->family = f->family;
    memcpy(a->b, f->cli, 16);
}

void pm_flow_srv(const struct pm_flow *f, pm_addr *a)
{
    a->family = f->family;
    memcpy(a->b, f->srv, 16);
}

/* 64-bit mix (splitmix64 finaliser), seeded. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

_Static_assert(sizeof(struct pm_flowkey) == 40, "flow key must be 40 bytes, no hidden padding");

static uint32_t hash_key(const struct pm_flowtab *t, const struct pm_flowkey *k)
{
    uint64_t w[5];
    memcpy(w, k, sizeof(w));
    uint64_t h = t->seed;
    for (int i = 0; i < 5; i++) {
        h = mix(h ^ w[i]);
    }
    return (uint32_t)h & t->mask;
}

static uint32_t hash_dst(const struct pm_flowtab *t, uint8_t family, const uint8_t srv[16],
                         uint16_t dport)
{
    uint64_t w[2];
    memcpy(w, srv, 16);
    uint64_t h = mix(t->seed ^ 0x5bd1e995u ^ ((uint64_t)family << 16) ^ dport);
    h = mix(h ^ w[0]);
    h = mix(h ^ w[1]);
    return (uint32_t)h & t->mask;
}

static void key_of(const struct pm_flow *f, struct pm_flowkey *k)
{
    memset(k, 0, sizeof(*k));
    k->vantage = f->vantage;
    k->family = f->family;
    k->sport = f->sport;
    k->dport = f->dport;
    memcpy(k->cli, f->cli, 16);
    memcpy(k->srv, f->srv, 16);
}

static int key_matches(const struct pm_flow *f, const struct pm_flowkey *k)
{
    return f->vantage == k->vantage && f->sport == k->sport && f->dport == k->dport &&
           f->family == k->family && memcmp(f->cli, k->cli, 16) == 0 &&
           memcmp(f->srv, k->srv, 16) == 0;
}

static struct slot *slot_of(struct pm_flow *f) { return (struct slot *)(void *)f; }

static uint32_t idx_of(const struct pm_flowtab *t, const struct slot *s)
{
    return (uint32_t)(s - t->slots);
}

static void lru_unlink(struct pm_flowtab *t, struct slot *s)
{
    if (s->lprev != NIL) {
        t->slots[s->lprev].lnext = s->lnext;
    } else {
        t->head[s->cls] = s->lnext;
    }
    if (s->lnext != NIL) {
        t->slots[s->lnext].lprev = s->lprev;
    } else {
        t->tail[s->cls] = s->lprev;
    }
    s->lprev = s->lnext = NIL;
}

static void lru_append(struct pm_flowtab *t, struct slot *s, uint8_t cls)
{
    uint32_t i = idx_of(t, s);
    s->cls = cls;
    s->lnext = NIL;
    s->lprev = t->tail[cls];
    if (t->tail[cls] != NIL) {
        t->slots[t->tail[cls]].lnext = i;
    } else {
        t->head[cls] = i;
    }
    t->tail[cls] = i;
}

static void chain_in(struct pm_flowtab *t, uint32_t i)
{
    struct slot *s = &t->slots[i];
    struct pm_flowkey k;
    key_of(&s->f, &k);
    uint32_t b = hash_key(t, &k);
    s->hprev = NIL;
    s->hnext = t->buckets[b];
    if (s->hnext != NIL) {
        t->slots[s->hnext].hprev = i;
    }
    t->buckets[b] = i;
    uint32_t xb = hash_dst(t, s->f.family, s->f.srv, s->f.dport);
    s->xprev = NIL;
    s->xnext = t->xbuckets[xb];
    if (s->xnext != NIL) {
        t->slots[s->xnext].xprev = i;
    }
    t->xbuckets[xb] = i;
}

/* Double both bucket arrays and chain every live flow again: O(flows), once per doubling,
 * so O(1) amortised per insert. Out of memory (or budget): keep the current arrays, the
 * chains just get longer. */
static void rehash(struct pm_flowtab *t)
{
    uint32_t nb = (t->mask + 1) * 2;
    size_t bytes = (size_t)(nb / 2) * 2 * sizeof(uint32_t);
    if (!pm_mem_take(bytes)) {
        return;
    }
    free(t->buckets);
    free(t->xbuckets);
    set_buckets(t, nb);
    /* Oldest first, so that each chain ends up most recently active first; the SYN class
     * last, so that unanswered SYNs (what ICMP quotes and other vantages look for) lead. */
    static const uint8_t order[] = {PM_FC_EST, PM_FC_DONE, PM_FC_ANSWERED, PM_FC_SYN};
    /* every class exactly once: a class chained twice would make a chain a cycle */
    _Static_assert(sizeof(order) == PM_FC__COUNT, "rehash order must name every flow class");
    for (int c = 0; c < PM_FC__COUNT; c++) {
        for (uint32_t i = t->head[order[c]]; i != NIL; i = t->slots[i].lnext) {
            chain_in(t, i);
        }
    }
}

struct pm_flow *pm_flowtab_find(struct pm_flowtab *t, const struct pm_flowkey *k)
{
    for (uint32_t i = t->buckets[hash_key(t, k)]; i != NIL; i = t->slots[i].hnext) {
        if (key_matches(&t->slots[i].f, k)) {
            return &t->slots[i].f;
        }
    }
    return NULL;
}

struct pm_flow *pm_flowtab_insert(struct pm_flowtab *t, const struct pm_flowkey *k,
                                  enum pm_flow_class cls)
{
    uint32_t i;
    t->mem_full = false;
    if (t->free_head != NIL) {
        i = t->free_head;
        t->free_head = t->slots[i].hnext;
    } else if (t->bump < t->cap) {
        /* A slot never used before: its pages (and its extension's) get touched now. */
        if (!pm_mem_take(sizeof(struct slot) + sizeof(struct pm_flow_ext))) {
            t->mem_full = true;
            return NULL;
        }
        i = t->bump++;
    } else {
        return NULL;
    }
    if (t->count >= t->mask + 1 && t->mask + 1 < t->nbuckets_max) {
        rehash(t);
    }
    struct slot *s = &t->slots[i];
    memset(&s->f, 0, sizeof(s->f));
    s->f.vantage = k->vantage;
    s->f.family = k->family;
    s->f.sport = k->sport;
    s->f.dport = k->dport;
    memcpy(s->f.cli, k->cli, 16);
    memcpy(s->f.srv, k->srv, 16);
    s->live = 1;
    chain_in(t, i);
    lru_append(t, s, (uint8_t)cls);
    t->count++;
    if (t->count > t->peak) {
        t->peak = t->count;
    }
    return &s->f;
}

/* O(1): the neighbours are known, only the head of the chain needs its bucket. */
static void unchain_h(struct pm_flowtab *t, struct slot *s, uint32_t *head)
{
    if (s->hprev != NIL) {
        t->slots[s->hprev].hnext = s->hnext;
    } else {
        *head = s->hnext;
    }
    if (s->hnext != NIL) {
        t->slots[s->hnext].hprev = s->hprev;
    }
}

static void unchain_x(struct pm_flowtab *t, struct slot *s, uint32_t *head)
{
    if (s->xprev != NIL) {
        t->slots[s->xprev].xnext = s->xnext;
    } else {
        *head = s->xnext;
    }
    if (s->xnext != NIL) {
        t->slots[s->xnext].xprev = s->xprev;
    }
    s->xnext = s->xprev = NIL;
}

void pm_flowtab_remove(struct pm_flowtab *t, struct pm_flow *f)
{
    struct slot *s = slot_of(f);
    uint32_t i = idx_of(t, s);
    struct pm_flowkey k;
    key_of(f, &k);
    unchain_h(t, s, &t->buckets[hash_key(t, &k)]);
    unchain_x(t, s, &t->xbuckets[hash_dst(t, f->family, f->srv, f->dport)]);
    lru_unlink(t, s);
    if (f->ext) {
        t->ext[f->ext - 1].next_free = t->ext_free;
        t->ext_free = f->ext;
        f->ext = 0;
    }
    s->live = 0;
    /* LIFO reuse keeps the working set in the pages already touched. */
    s->hprev = NIL;
    s->hnext = t->free_head;
    t->free_head = i;
    t->count--;
}

void pm_flowtab_touch(struct pm_flowtab *t, struct pm_flow *f, enum pm_flow_class cls)
{
    struct slot *s = slot_of(f);
    lru_unlink(t, s);
    lru_append(t, s, (uint8_t)cls);
}

struct pm_flow *pm_flowtab_oldest(struct pm_flowtab *t, enum pm_flow_class cls)
{
    uint32_t i = t->head[cls];
    return i == NIL ? NULL : &t->slots[i].f;
}

uint32_t pm_flowtab_count(const struct pm_flowtab *t) { return t->count; }
uint32_t pm_flowtab_capacity(const struct pm_flowtab *t) { return t->cap; }
uint32_t pm_flowtab_peak(const struct pm_flowtab *t) { return t->peak; }
bool pm_flowtab_mem_full(const struct pm_flowtab *t) { return t->mem_full; }

struct pm_flow_ext *pm_flowtab_ext(struct pm_flowtab *t, struct pm_flow *f)
{
    if (f->ext) {
        return &t->ext[f->ext - 1];
    }
    uint32_t h;
    if (t->ext_free) {
        h = t->ext_free;
        t->ext_free = t->ext[h - 1].next_free;
    } else if (t->ext_bump < t->cap) {
        h = ++t->ext_bump;
    } else {
        return NULL;
    }
    memset(&t->ext[h - 1], 0, sizeof(t->ext[0]));
    f->ext = h;
    return &t->ext[h - 1];
}

struct pm_flow_ext *pm_flowtab_ext_peek(struct pm_flowtab *t, const struct pm_flow *f)
{
    return f->ext ? &t->ext[f->ext - 1] : NULL;
}

int pm_flowtab_by_dst(struct pm_flowtab *t, const pm_addr *srv, uint16_t dport,
                      struct pm_flow **out, int max)
{
    int n = 0;
    for (uint32_t i = t->xbuckets[hash_dst(t, srv->family, srv->b, dport)];
         i != NIL && n < max; i = t->slots[i].xnext) {
        struct pm_flow *f = &t->slots[i].f;
        if (f->dport == dport && f->family == srv->family && memcmp(f->srv, srv->b, 16) == 0) {
            out[n++] = f;
        }
    }
    return n;
}
