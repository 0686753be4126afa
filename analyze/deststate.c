/*
 * deststate.c — owns the per-destination state of `portmortem watch` (include/watch.h):
 * a destination (address and port) is "failing" after PM_WATCH_FAIL_AFTER failed attempts
 * in a row, or at once on a settled failure (a verdict other than ok and inconclusive, at
 * medium or high confidence), and "recovered" on its first ok attempt. Only the changes are
 * said (syslog dest-state records, the failing gauge, auto bundles); the table is bounded
 * (PM_WATCH_MAX_DESTS): when full, the least recently seen destination that is not failing
 * is forgotten (or, if every one is failing, the least recently seen), and counted.
 */
#include "watch.h"

#include <string.h>

#include "json.h"
#include "util.h"

void pm_dstate_init(struct pm_dstate *s, uint32_t fail_after)
{
    memset(s, 0, sizeof(*s));
    s->fail_after = fail_after ? fail_after : 1;
}

static bool same_addr(const pm_addr *a, const pm_addr *b)
{
    return a->family == b->family && !memcmp(a->b, b->b, a->family == PM_AF_INET ? 4 : 16);
}

static struct pm_dstate_entry *slot_for(struct pm_dstate *s, const pm_addr *dst, uint16_t port)
{
    for (int i = 0; i < s->n; i++) {
        if (s->e[i].port == port && same_addr(&s->e[i].dst, dst)) {
            return &s->e[i];
        }
    }
    if (s->n < PM_WATCH_MAX_DESTS) {
        return &s->e[s->n++];
    }
    int victim = -1;
    for (int pass = 0; pass < 2 && victim < 0; pass++) {
        for (int i = 0; i < s->n; i++) {
            if ((pass == 1 || !s->e[i].failing) &&
                (victim < 0 || s->e[i].last < s->e[victim].last)) {
                victim = i;
            }
        }
    }
    if (s->e[victim].failing) {
        s->failing--;
    }
    s->evicted++;
    memset(&s->e[victim], 0, sizeof(s->e[victim]));
    return &s->e[victim];
}

enum pm_dstate_change pm_dstate_update(struct pm_dstate *s, const pm_addr *dst, uint16_t port,
                                       enum pm_verdict v, enum pm_owner o,
                                       enum pm_confidence c, pm_ns ts,
                                       struct pm_dstate_entry **entry)
{
    struct pm_dstate_entry *d = slot_for(s, dst, port);
    if (!d->used) {
        d->used = true;
        d->dst = *dst;
        d->port = port;
        d->since = ts;
        d->last_ok = PM_NS_NONE;
    }
    if (ts > d->last) {
        d->last = ts;
    }
    if (entry) {
        *entry = d;
    }
    enum pm_dstate_change ch = PM_DSC_NONE;
    if (v == PM_V_OK) {
        if (d->last_ok == PM_NS_NONE || ts > d->last_ok) {
            d->last_ok = ts;
        }
        d->consecutive = 0;
        if (d->failing) {
            d->failing = false;
            d->settled = false;
            s->failing--;
            ch = PM_DSC_RECOVERED;
        }
    } else if (d->last_ok != PM_NS_NONE && ts < d->last_ok) {
        /* stale: an ok attempt after it was seen already */
    } else {
        if (d->consecutive < UINT32_MAX) {
            d->consecutive++;
        }
        bool settled = c >= PM_CONF_MEDIUM && v != PM_V_INCONCLUSIVE;
        if (!d->failing && (settled || d->consecutive >= s->fail_after)) {
            d->failing = true;
            d->settled = settled;
            s->failing++;
            ch = PM_DSC_FAILING;
        }
    }
    if (ch != PM_DSC_NONE) {
        d->since = ts;
        d->verdict = v;
        d->owner = o;
        d->confidence = c;
    }
    return ch;
}

size_t pm_dstate_json(char *buf, size_t len, const struct pm_dstate_entry *d, const char *bundle)
{
    FILE *f = fmemopen(buf, len, "w");
    if (!f) {
        return 0;
    }
    struct pm_json j;
    pm_json_init(&j, f);
    pm_json_obj_begin(&j);
    pm_json_kstr(&j, "type", "dest-state");
    pm_json_kaddr(&j, "dest", &d->dst);
    pm_json_kuint(&j, "port", d->port);
    pm_json_kstr(&j, "state", d->failing ? "failing" : "recovered");
    pm_json_kstr(&j, "verdict", pm_verdict_name(d->verdict));
    pm_json_kstr(&j, "owner", pm_owner_name(d->owner));
    pm_json_kstr(&j, "confidence", pm_confidence_name(d->confidence));
    pm_json_ktime(&j, "since", d->since);
    pm_json_kuint(&j, "consecutive_failures", d->consecutive);
    if (bundle) {
        pm_json_kstr(&j, "bundle", bundle);
    }
    pm_json_obj_end(&j);
    bool bad = ferror(f) != 0;
    long n = ftell(f);
    fclose(f);
    if (bad || n <= 0 || (size_t)n >= len) {
        return 0;
    }
    /* the writer ends a top-level object with "\n": a syslog MSG has none */
    if (buf[n - 1] == '\n') {
        n--;
    }
    buf[n] = '\0';
    return (size_t)n;
}
