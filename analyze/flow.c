/*
 * flow.c — owns the attempt table (include/flow.h): a slot pool, a chained hash over a
 * power-of-two bucket array, and one doubly linked LRU list per timeout class.
 *
 * Keys are hashed with a per-run random seed (hostile traffic cannot aim at one bucket).
 * The key is the attempt's own direction (client, server), not a sorted pair: a reply is
 * looked up by swapping its addresses, which is cheaper than sorting and just as exact
 * because only the SYN sender may create an attempt.
 */
#include "flow.h"

#include "util.h"

#define NIL UINT32_MAX

struct slot {
    struct pm_attempt a;   /* first member: slot_of() depends on it */
    uint32_t hnext;        /* hash chain, or free list link */
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
    uint32_t *buckets;
    uint32_t mask;
    uint64_t seed;
    uint32_t head[PM_FC__COUNT], tail[PM_FC__COUNT];
};

struct pm_flowtab *pm_flowtab_new(uint32_t capacity, uint64_t seed)
{
    struct pm_flowtab *t = pm_xcalloc(1, sizeof(*t));
    if (capacity < 16) {
        capacity = 16;
    }
    t->cap = capacity;
    /* calloc of a large block is fresh zero pages from mmap: untouched slots cost nothing. */
    t->slots = pm_xcalloc(capacity, sizeof(struct slot));
    uint32_t nb = 16;
    while (nb < capacity && nb < (1u << 31)) {
        nb <<= 1;
    }
    t->buckets = pm_xmalloc((size_t)nb * sizeof(uint32_t));
    memset(t->buckets, 0xff, (size_t)nb * sizeof(uint32_t));
    t->mask = nb - 1;
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
    free(t->slots);
    free(t->buckets);
    free(t);
}

void pm_flowkey_make(struct pm_flowkey *k, uint16_t vantage, const pm_addr *cli,
                     const pm_addr *srv, uint16_t sport, uint16_t dport)
{
    memset(k, 0, sizeof(*k)); /* padding is part of the hashed and compared bytes */
    k->vantage = vantage;
    k->family = cli->family;
    k->sport = sport;
    k->dport = dport;
    memcpy(k->cli, cli->b, 16);
    memcpy(k->srv, srv->b, 16);
}

/* 64-bit mix (splitmix64 finaliser) over the key words, seeded. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static uint32_t hash_key(const struct pm_flowtab *t, const struct pm_flowkey *k)
{
    uint64_t w[5];
    memcpy(w, k, sizeof(w)); /* sizeof(struct pm_flowkey) == 40 */
    uint64_t h = t->seed;
    for (int i = 0; i < 5; i++) {
        h = mix(h ^ w[i]);
    }
    return (uint32_t)h & t->mask;
}

_Static_assert(sizeof(struct pm_flowkey) == 40, "flow key must be 40 bytes, no hidden padding");

/* The key of a live attempt, rebuilt from its fields (no second copy per slot). */
static void key_of(const struct pm_attempt *a, struct pm_flowkey *k)
{
    pm_flowkey_make(k, a->vantage, &a->cli, &a->srv, a->sport, a->dport);
}

static int key_matches(const struct pm_attempt *a, const struct pm_flowkey *k)
{
    return a->vantage == k->vantage && a->sport == k->sport && a->dport == k->dport &&
           a->cli.family == k->family && memcmp(a->cli.b, k->cli, 16) == 0 &&
           memcmp(a->srv.b, k->srv, 16) == 0;
}

static struct slot *slot_of(struct pm_attempt *a) { return (struct slot *)(void *)a; }

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

struct pm_attempt *pm_flowtab_find(struct pm_flowtab *t, const struct pm_flowkey *k)
{
    for (uint32_t i = t->buckets[hash_key(t, k)]; i != NIL; i = t->slots[i].hnext) {
        if (key_matches(&t->slots[i].a, k)) {
            return &t->slots[i].a;
        }
    }
    return NULL;
}

struct pm_attempt *pm_flowtab_insert(struct pm_flowtab *t, const struct pm_flowkey *k,
                                     enum pm_flow_class cls)
{
    uint32_t i;
    if (t->free_head != NIL) {
        i = t->free_head;
        t->free_head = t->slots[i].hnext;
    } else if (t->bump < t->cap) {
        i = t->bump++;
    } else {
        return NULL;
    }
    struct slot *s = &t->slots[i];
    memset(&s->a, 0, sizeof(s->a));
    /* The caller fills the attempt; set the key fields now so the slot is findable. */
    s->a.vantage = k->vantage;
    s->a.family = k->family;
    s->a.sport = k->sport;
    s->a.dport = k->dport;
    s->a.cli.family = s->a.srv.family = k->family;
    memcpy(s->a.cli.b, k->cli, 16);
    memcpy(s->a.srv.b, k->srv, 16);
    s->live = 1;
    uint32_t b = hash_key(t, k);
    s->hnext = t->buckets[b];
    t->buckets[b] = i;
    lru_append(t, s, (uint8_t)cls);
    t->count++;
    if (t->count > t->peak) {
        t->peak = t->count;
    }
    return &s->a;
}

void pm_flowtab_remove(struct pm_flowtab *t, struct pm_attempt *a)
{
    struct slot *s = slot_of(a);
    uint32_t i = idx_of(t, s);
    struct pm_flowkey k;
    key_of(a, &k);
    uint32_t *pp = &t->buckets[hash_key(t, &k)];
    while (*pp != NIL && *pp != i) {
        pp = &t->slots[*pp].hnext;
    }
    if (*pp == i) {
        *pp = s->hnext;
    }
    lru_unlink(t, s);
    s->live = 0;
    /* LIFO reuse keeps the working set in the pages already touched. */
    s->hnext = t->free_head;
    t->free_head = i;
    t->count--;
}

void pm_flowtab_touch(struct pm_flowtab *t, struct pm_attempt *a, enum pm_flow_class cls)
{
    struct slot *s = slot_of(a);
    lru_unlink(t, s);
    lru_append(t, s, (uint8_t)cls);
}

struct pm_attempt *pm_flowtab_oldest(struct pm_flowtab *t, enum pm_flow_class cls)
{
    uint32_t i = t->head[cls];
    return i == NIL ? NULL : &t->slots[i].a;
}

uint32_t pm_flowtab_count(const struct pm_flowtab *t) { return t->count; }
uint32_t pm_flowtab_capacity(const struct pm_flowtab *t) { return t->cap; }
uint32_t pm_flowtab_peak(const struct pm_flowtab *t) { return t->peak; }

struct pm_attempt *pm_flowtab_next(struct pm_flowtab *t, uint32_t *cursor)
{
    while (*cursor < t->bump) {
        struct slot *s = &t->slots[(*cursor)++];
        if (s->live) {
            return &s->a;
        }
    }
    return NULL;
}
