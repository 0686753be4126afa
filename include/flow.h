/*
 * flow.h — the fixed-capacity attempt table. Sized once at start-up; no allocation per
 * packet. Slots are handed out from a bump pointer and then a free list, so memory that
 * was never needed is never touched (RSS follows peak concurrency, not file size). Each
 * live attempt sits on one LRU list per timeout class, so expiry and eviction are O(1).
 */
#ifndef PM_FLOW_H
#define PM_FLOW_H

#include "attempt.h"

/* Timeout classes: how long an attempt may stay idle before it is finalised. */
enum pm_flow_class {
    PM_FC_SYN,      /* SYN sent, no answer yet */
    PM_FC_DONE,     /* answered by RST/ICMP, or closed: linger for duplicates */
    PM_FC_EST,      /* established, SMTP in progress */
    PM_FC__COUNT
};

struct pm_flowkey {
    uint16_t vantage;
    uint8_t family;
    uint8_t pad;
    uint16_t sport, dport;
    uint8_t cli[16], srv[16];
};

struct pm_flowtab;

struct pm_flowtab *pm_flowtab_new(uint32_t capacity, uint64_t seed);
void pm_flowtab_free(struct pm_flowtab *t);
void pm_flowkey_make(struct pm_flowkey *k, uint16_t vantage, const pm_addr *cli,
                     const pm_addr *srv, uint16_t sport, uint16_t dport);
struct pm_attempt *pm_flowtab_find(struct pm_flowtab *t, const struct pm_flowkey *k);
/* A zeroed attempt for key k on class `cls`, or NULL when the table is full. */
struct pm_attempt *pm_flowtab_insert(struct pm_flowtab *t, const struct pm_flowkey *k,
                                     enum pm_flow_class cls);
void pm_flowtab_remove(struct pm_flowtab *t, struct pm_attempt *a);
/* Move to the tail of class `cls` (most recently active). */
void pm_flowtab_touch(struct pm_flowtab *t, struct pm_attempt *a, enum pm_flow_class cls);
/* Least recently active attempt of a class, or NULL. */
struct pm_attempt *pm_flowtab_oldest(struct pm_flowtab *t, enum pm_flow_class cls);
uint32_t pm_flowtab_count(const struct pm_flowtab *t);
uint32_t pm_flowtab_capacity(const struct pm_flowtab *t);
uint32_t pm_flowtab_peak(const struct pm_flowtab *t);
/* Iterate over live attempts (for the final flush): start with *cursor = 0. */
struct pm_attempt *pm_flowtab_next(struct pm_flowtab *t, uint32_t *cursor);

#endif
