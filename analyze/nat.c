/*
 * nat.c — owns the multi-vantage analysis (include/nat.h). The tracker links the same SYN
 * seen at two vantage points; here we remember what each side saw (a bounded table keyed
 * by attempt id), decide which vantage is closer to the sender, and for each attempt state
 * what changed between the vantages: the translation (source address and port), sequence
 * numbers (a randomiser), MSS (clamping), options, TTL beyond one router, DSCP/ECN.
 */
#include "nat.h"

#include <stdarg.h>

#include "tables.h"
#include "util.h"


struct pm_nat {
    int nvantage;
    pm_addr expect[16];
    int nexpect;
    struct pm_link_info *links; /* open addressing by id; id 0 = empty */
    uint32_t cap, n;
    uint64_t overflow;
    size_t charged;             /* bytes taken from the memory budget by growth */
    int rank[64];
    pm_ns win_start[64], win_end[64];
    pm_addr publics[PM_NAT_PUBLIC_MAX];
    int npublic;
    /* per inside source: the last public address it left from */
    struct {
        pm_addr inside, public_;
    } last[PM_NAT_CHANGE_MAX];
    int nlast;
};

struct pm_nat *pm_nat_new(int nvantage, const pm_addr *expect, int nexpect)
{
    struct pm_nat *n = pm_xcalloc(1, sizeof(*n));
    n->nvantage = nvantage;
    for (int i = 0; i < nexpect && i < 16; i++) {
        n->expect[n->nexpect++] = expect[i];
    }
    n->cap = nvantage > 1 ? PM_NAT_LINK_START : 16;
    n->links = pm_xcalloc(n->cap, sizeof(*n->links));
    for (int v = 0; v < 64; v++) {
        n->rank[v] = v;
        n->win_start[v] = n->win_end[v] = PM_NS_NONE;
    }
    return n;
}

void pm_nat_free(struct pm_nat *n)
{
    if (n) {
        pm_mem_give(n->charged);
        free(n->links);
        free(n);
    }
}

static struct pm_link_info *find_slot(struct pm_nat *n, uint32_t id, bool create)
{
    uint32_t mask = n->cap - 1;
    for (uint32_t i = (id * 2654435761u) & mask, k = 0; k < n->cap; i = (i + 1) & mask, k++) {
        if (n->links[i].id == id) {
            return &n->links[i];
        }
        if (n->links[i].id == 0) {
            if (!create) {
                return NULL;
            }
            n->n++;
            n->links[i].id = id;
            return &n->links[i];
        }
    }
    return NULL;
}

/* Double the table (open addressing, load at most 1/2) within PM_NAT_LINK_MAX and the budget. */
static bool grow(struct pm_nat *n)
{
    if (n->cap >= PM_NAT_LINK_MAX || n->nvantage < 2) {
        return false;
    }
    size_t more = (size_t)n->cap * sizeof(*n->links);
    if (!pm_mem_take(more)) {
        return false;
    }
    struct pm_link_info *old = n->links;
    uint32_t ocap = n->cap;
    n->links = calloc((size_t)ocap * 2, sizeof(*n->links));
    if (!n->links) {
        n->links = old;
        pm_mem_give(more);
        return false;
    }
    n->cap = ocap * 2;
    n->n = 0;
    n->charged += more;
    for (uint32_t i = 0; i < ocap; i++) {
        struct pm_link_info *l = old[i].id ? find_slot(n, old[i].id, true) : NULL;
        if (l) {
            *l = old[i];
        }
    }
    free(old);
    return true;
}

static struct pm_link_info *slot(struct pm_nat *n, uint32_t id, bool create)
{
    if (create && n->n >= n->cap / 2) {
        struct pm_link_info *l = find_slot(n, id, false);
        if (l) {
            return l;
        }
        if (!grow(n)) {
            n->overflow++;
            pm_table_lost(PM_TAB_LINKS, 1, n->cap < PM_NAT_LINK_MAX);
            return NULL;
        }
    }
    return find_slot(n, id, create);
}

bool pm_nat_view_lost(const struct pm_nat *n, const struct pm_attempt *a)
{
    struct pm_nat *mn = (struct pm_nat *)(uintptr_t)n; /* lookups do not modify */
    return a->peer.id && n->overflow && !slot(mn, a->peer.id, false);
}

static void store(struct pm_nat *n, const struct pm_attempt *a)
{
    struct pm_link_info *l = slot(n, a->id, true);
    if (!l) {
        return;
    }
    l->peer_id = a->peer.id;
    l->vantage = a->vantage;
    l->answer = a->answer;
    l->syn_ttl = a->syn_ttl;
    l->syn_tos = a->syn_tos;
    l->syn_ws = a->syn_ws;
    l->syn_optsig = a->syn_optsig;
    l->sport = a->sport;
    l->syn_mss = a->syn_mss;
    l->isn = a->isn;
    l->cli = a->cli;
    l->first_syn = a->first_syn;
    l->ans_ts = a->answer ? a->ans.ts : PM_NS_NONE;
    l->ans_ttl = a->answer ? a->ans.ttl : 0;
}

void pm_nat_learn(struct pm_nat *n, const struct pm_attempt *a)
{
    if (a->peer.id) {
        store(n, a);
    }
}

void pm_nat_learn_snapshot(struct pm_nat *n, const struct pm_attempt *far) { store(n, far); }

uint32_t pm_nat_links(const struct pm_nat *n) { return n->n / 2; }

void pm_nat_settle(struct pm_nat *n, const pm_ns *win_start, const pm_ns *win_end)
{
    int nv = PM_MIN(n->nvantage, 64);
    for (int v = 0; v < nv; v++) {
        n->win_start[v] = win_start[v];
        n->win_end[v] = win_end[v];
    }
    if (nv < 2) {
        return;
    }
    /* votes[a][b]: linked pairs in which vantage a looked closer to the sender than b:
     * a higher TTL (fewer routers passed), or at equal TTL the earlier sighting. */
    static uint32_t votes[64][64];
    memset(votes, 0, sizeof(votes));
    for (uint32_t i = 0; i < n->cap; i++) {
        const struct pm_link_info *l = &n->links[i];
        if (!l->id || !l->peer_id) {
            continue;
        }
        const struct pm_link_info *p = slot(n, l->peer_id, false);
        if (!p || p->vantage >= 64 || l->vantage >= 64 || p->vantage == l->vantage) {
            continue;
        }
        if (l->syn_ttl > p->syn_ttl ||
            (l->syn_ttl == p->syn_ttl && l->first_syn < p->first_syn)) {
            votes[l->vantage][p->vantage]++;
        }
    }
    long score[64] = {0};
    for (int a = 0; a < nv; a++) {
        for (int b = 0; b < nv; b++) {
            score[a] += (long)votes[a][b] - (long)votes[b][a];
        }
    }
    /* Rank by score, ties by the order the inputs were given in. */
    int order[64];
    for (int v = 0; v < nv; v++) {
        order[v] = v;
    }
    for (int i = 1; i < nv; i++) {
        for (int j = i; j > 0 && score[order[j]] > score[order[j - 1]]; j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    }
    for (int r = 0; r < nv; r++) {
        n->rank[order[r]] = r;
    }
}

int pm_nat_rank(const struct pm_nat *n, int vantage)
{
    return (vantage >= 0 && vantage < 64) ? n->rank[vantage] : vantage;
}

static bool expected(const struct pm_nat *n, const pm_addr *a)
{
    for (int i = 0; i < n->nexpect; i++) {
        if (pm_addr_eq(&n->expect[i], a)) {
            return true;
        }
    }
    return false;
}

static void note_public(struct pm_nat *n, const pm_addr *a)
{
    for (int i = 0; i < n->npublic; i++) {
        if (pm_addr_eq(&n->publics[i], a)) {
            return;
        }
    }
    if (n->npublic < PM_NAT_PUBLIC_MAX) {
        n->publics[n->npublic++] = *a;
    }
}

int pm_nat_public_addresses(const struct pm_nat *n, const pm_addr **out)
{
    *out = n->publics;
    return n->npublic;
}

static void rewrite(struct pm_nat_facts *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rewrite(struct pm_nat_facts *f, const char *fmt, ...)
{
    if (f->nrewrites >= PM_NAT_REWRITES) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->rewrites[f->nrewrites++], sizeof(f->rewrites[0]), fmt, ap);
    va_end(ap);
}

void pm_nat_facts(struct pm_nat *n, const struct pm_attempt *a, bool answered,
                  struct pm_nat_facts *out)
{
    memset(out, 0, sizeof(*out));
    out->later_vantage = -1;
    out->multi = n->nvantage > 1;
    if (!out->multi) {
        return;
    }
    int myrank = pm_nat_rank(n, a->vantage);
    if (a->peer.id) {
        const struct pm_link_info *p = slot(n, a->peer.id, false);
        if (!p) {
            return; /* the far view was not kept (table full): say nothing */
        }
        out->peer = p;
        if (pm_nat_rank(n, p->vantage) < myrank) {
            out->outer_view = true;
            return;
        }
        note_public(n, &p->cli);
        out->expect_known = n->nexpect > 0;
        if (n->nexpect > 0 && !expected(n, &p->cli)) {
            out->unexpected_source = true;
        }
        /* A change of public address for the same inside source. */
        int slotidx = -1;
        for (int i = 0; i < n->nlast; i++) {
            if (pm_addr_eq(&n->last[i].inside, &a->cli)) {
                slotidx = i;
            }
        }
        if (slotidx >= 0 && !pm_addr_eq(&n->last[slotidx].public_, &p->cli)) {
            out->public_changed = true;
            out->prev_public = n->last[slotidx].public_;
        }
        if (slotidx < 0 && n->nlast < PM_NAT_CHANGE_MAX) {
            slotidx = n->nlast++;
            n->last[slotidx].inside = a->cli;
        }
        if (slotidx >= 0) {
            n->last[slotidx].public_ = p->cli;
        }
        if (p->answer != PM_ANS_NONE && !answered) {
            out->return_drop = true;
        }
        char x[PM_ADDR_STRLEN];
        if (p->isn != a->isn) {
            rewrite(out, "sequence numbers rewritten (ISN %u inside, %u outside: a randomiser)",
                    a->isn, p->isn);
        }
        if (p->syn_mss != a->syn_mss) {
            rewrite(out, "MSS changed from %u to %u (clamping)", a->syn_mss, p->syn_mss);
        }
        if (p->syn_optsig != a->syn_optsig || p->syn_ws != a->syn_ws) {
            rewrite(out, "TCP options changed between the vantage points");
        }
        if (a->syn_ttl > p->syn_ttl + 1) {
            rewrite(out, "TTL fell by %d between the vantage points (more than one router, or "
                    "rewritten)", a->syn_ttl - p->syn_ttl);
        }
        if (p->syn_tos != a->syn_tos) {
            rewrite(out, "DSCP/ECN changed from 0x%02x to 0x%02x", a->syn_tos, p->syn_tos);
        }
        (void)x;
        return;
    }
    /* Not linked: did a later vantage record while this SYN should have passed it? */
    for (int v = 0; v < n->nvantage && v < 64; v++) {
        if (pm_nat_rank(n, v) <= myrank) {
            continue;
        }
        /* It was recording when the SYN should have passed. A pcap does not say when the
         * capture stopped: a last record older than the SYNs (a quiet outside, everything
         * dropped) is taken as "ran on", but said so, at lower confidence. */
        if (n->win_start[v] != PM_NS_NONE && n->win_start[v] <= a->first_syn + PM_SEC(1)) {
            out->later_vantage = v;
            out->nat_drop = true;
            out->nat_drop_confirmed = pm_nat_links(n) > 0;
            out->nat_drop_assumed = n->win_end[v] < a->last_syn;
            break;
        }
    }
}
