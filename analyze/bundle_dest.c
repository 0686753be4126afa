/*
 * bundle_dest.c — owns the bundle's failing destinations: a bounded table (hash of the
 * address, PM_BUNDLE_MAX_DESTS, what it leaves out counted) of what the escalation text of
 * each needs beyond the context's destination table (analyze/context.c): the sources it was
 * tried from and by which vantage point, its first failing attempt kept in full, its
 * outcome counts; and the escalation-<dst>.txt files written from it, in the report's order
 * (the context's sorted destinations), public source first.
 */
#include "bundle_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static uint32_t addr_hash(const pm_addr *a)
{
    uint32_t h = 2166136261u ^ a->family;
    for (int i = 0; i < 16; i++) {
        h = (h ^ a->b[i]) * 16777619u;
    }
    return h;
}

struct bdest *pm_bnd_dest_get(struct pm_bundle *b, const pm_addr *a)
{
    if (!b->dhead) {
        b->dhead = pm_xcalloc(PM_BUNDLE_DEST_BUCKETS, sizeof(*b->dhead));
    }
    uint32_t h = addr_hash(a) & (PM_BUNDLE_DEST_BUCKETS - 1);
    for (uint32_t i = b->dhead[h]; i; i = b->dests[i - 1].next) {
        if (pm_addr_eq(&b->dests[i - 1].addr, a)) {
            return &b->dests[i - 1];
        }
    }
    if (b->ndests >= PM_BUNDLE_MAX_DESTS) {
        b->dests_dropped++;
        return NULL;
    }
    if (b->ndests == b->destscap) {
        b->destscap = b->destscap ? b->destscap * 2 : 64;
        b->dests = pm_xreallocarray(b->dests, b->destscap, sizeof(*b->dests));
    }
    struct bdest *d = &b->dests[b->ndests++];
    memset(d, 0, sizeof(*d));
    d->addr = *a;
    d->first_fail = d->last_fail = PM_NS_NONE;
    d->next = b->dhead[h];
    b->dhead[h] = (uint32_t)b->ndests;
    return d;
}

void pm_bnd_dest_add_src(struct bdest *d, const pm_addr *src, const char *vantage, bool public)
{
    for (int i = 0; i < d->nsrcs; i++) {
        if (pm_addr_eq(&d->srcs[i], src)) {
            d->src_public[i] |= public;
            return;
        }
    }
    if (d->nsrcs < PM_BUNDLE_MAX_SRCS) {
        d->srcs[d->nsrcs] = *src;
        d->src_public[d->nsrcs] = public;
        pm_sanitize(d->src_vantage[d->nsrcs], sizeof(d->src_vantage[0]), (const uint8_t *)vantage,
                    strlen(vantage));
        d->nsrcs++;
    }
}

struct bdest *pm_bnd_dest_find(struct pm_bundle *b, const pm_addr *a)
{
    if (!b->dhead) {
        return NULL;
    }
    uint32_t h = addr_hash(a) & (PM_BUNDLE_DEST_BUCKETS - 1);
    for (uint32_t i = b->dhead[h]; i; i = b->dests[i - 1].next) {
        if (pm_addr_eq(&b->dests[i - 1].addr, a)) {
            return &b->dests[i - 1];
        }
    }
    return NULL;
}

static int write_one_escalation(struct pm_bundle *b, struct bdest *d, const char *ctxname,
                                const char *const *attached, int nattached, struct esc_out *eo)
{
    d->written = true;
    if (eo->ntexts >= PM_BUNDLE_MAX_ESCALATIONS) {
        eo->dropped++;
        return 0;
    }
    char name[PM_BUNDLE_NAME];
    pm_addr dst = d->addr, mapped;
    if (b->rx && pm_redact_addr(b->rx, &dst, &mapped)) {
        dst = mapped; /* an internal destination: its file name is redacted too */
    }
    pm_bundle_escalation_name(&dst, name, sizeof(name));
    const char *att[PM_BUNDLE_MAX_FILES];
    int na = 0;
    att[na++] = name;
    for (int i = 0; i < nattached && na < PM_BUNDLE_MAX_FILES; i++) {
        att[na++] = attached[i];
    }
    struct pm_esc e = {
        .f = &d->rep->f,
        .mx = d->name[0] ? d->name : ctxname,
        .dst = dst,
        .dport = d->dport ? d->dport : 25,
        .first_fail = d->first_fail,
        .last_fail = d->last_fail,
        .failing = d->failing,
        .attempts = d->attempts,
        .connected = d->connected,
        .attached = att,
        .nattached = na,
    };
    /* The public (post-NAT) address first, the inside one second (issue 16.5): seen at an
     * outside vantage point, else given as --expect-source. */
    bool have_public = false;
    for (int i = 0; i < d->nsrcs; i++) {
        have_public |= d->src_public[i];
    }
    int n = 0;
    for (int i = 0; !have_public && i < b->opt.nexpect && n < PM_BUNDLE_MAX_SRCS; i++) {
        e.srcs[n] = b->opt.expect_source[i];
        e.src_public[n] = 1;
        pm_strlcpy(e.src_vantage[n++], "as given with --expect-source",
                   sizeof(e.src_vantage[0]));
    }
    for (int pass = 1; pass >= 0; pass--) {
        for (int i = 0; i < d->nsrcs && n < PM_BUNDLE_MAX_SRCS; i++) {
            bool dup = false;
            for (int j = 0; j < n; j++) {
                dup |= pm_addr_eq(&e.srcs[j], &d->srcs[i]);
            }
            if (d->src_public[i] == pass && !dup) {
                e.srcs[n] = d->srcs[i];
                e.src_public[n] = d->src_public[i];
                pm_strlcpy(e.src_vantage[n++], d->src_vantage[i], sizeof(e.src_vantage[0]));
            }
        }
    }
    e.nsrcs = n;
    memcpy(e.by_outcome, d->by_outcome, sizeof(e.by_outcome));
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) {
        pm_bnd_write_failed(b, name, errno);
        return -1;
    }
    int rc = pm_bundle_write_escalation(m, &e);
    if (fclose(m) != 0 || rc != 0) {
        free(text);
        pm_bnd_write_failed(b, name, ENOMEM);
        return -1;
    }
    struct pm_html_text *t = &eo->texts[eo->ntexts++];
    pm_strlcpy(t->name, name, sizeof(t->name));
    t->text = text;
    return pm_bnd_write_text(b, name, text, len);
}

int pm_bnd_write_escalations(struct pm_bundle *b, struct pm_context *ctx,
                             const char *const *attached, int nattached, struct esc_out *eo)
{
    struct pm_dest **ds = NULL;
    size_t nd = ctx ? pm_context_dests_sorted(ctx, &ds) : 0;
    /* The report's order first (failures first, then by address) ... */
    for (size_t i = 0; i < nd; i++) {
        struct bdest *d = pm_bnd_dest_find(b, &ds[i]->addr);
        if (d && d->failing && d->rep && !d->written &&
            write_one_escalation(b, d, ds[i]->name, attached, nattached, eo) != 0) {
            return -1;
        }
    }
    /* ... then any failing destination the context did not keep. */
    for (size_t i = 0; i < b->ndests; i++) {
        struct bdest *d = &b->dests[i];
        if (d->failing && !d->rep) {
            eo->dropped++;
        } else if (d->failing && !d->written &&
                   write_one_escalation(b, d, "", attached, nattached, eo) != 0) {
            return -1;
        }
    }
    if (eo->dropped) {
        pm_bnd_note(b, "- %llu more failing destinations have no escalation text (at most %d); "
                 "report.json lists them.\n", (unsigned long long)eo->dropped,
                 PM_BUNDLE_MAX_ESCALATIONS);
    }
    return 0;
}
