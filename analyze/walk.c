/*
 * walk.c — owns the TTL walk's analysis (include/walk.h): from the answers per TTL, where TCP
 * 25 to one destination ends, and the conclusion rows (end → words, verdict, owner,
 * confidence, next step). Pure: capture/probe.c sends the SYNs, matches the answers (keyed
 * ISNs, ICMP quotes) and hands the hops over; nothing here touches a packet or a socket.
 *
 * The reasoning per end (docs/PROBE.md, "The TTL walk"):
 *  - A SYN-ACK at TTL n: the destination is n - 1 routers away and port 25 is open on the path.
 *  - A RST at TTL n: a genuine RST from the destination crossed as many routers as our probe
 *    needed (n - 1); one whose own TTL says it crossed fewer was made by the device that many
 *    hops (+1) away: forged on the path (TTL inference: ttl.h, p0f's guess_dist()).
 *  - An ICMP error other than time-exceeded: from the destination, its own firewall; from
 *    anyone else, the router that rejects — placed where it answered time-exceeded itself,
 *    else by its ICMP's own TTL, else at the probe's TTL.
 *  - Silence for --gap-limit hops in a row: the drop is after the last router that answered.
 */
#include "walk.h"

#include <stdio.h>
#include <string.h>

#include "ttl.h"
#include "util.h"

bool pm_walk_time_exceeded(const struct pm_walk_reply *r, uint8_t family)
{
    return r->kind == PM_WR_ICMP && ((family == PM_AF_INET && r->icmp_type == 11) ||
                                     (family == PM_AF_INET6 && r->icmp_type == 3));
}

const char *pm_walk_reply_word(const struct pm_walk_reply *r, uint8_t family)
{
    switch (r->kind) {
    case PM_WR_SYNACK:
        return "syn-ack";
    case PM_WR_RST:
        return "rst";
    case PM_WR_ICMP:
        if (pm_walk_time_exceeded(r, family)) {
            return "time-exceeded";
        }
        return pm_icmp_reason(family, r->icmp_type, r->icmp_code);
    default:
        return "none";
    }
}

static void end_at_rst(struct pm_walk *w, const struct pm_walk_reply *e, uint8_t fam)
{
    /* The RST's own TTL says how many routers it crossed. A genuine RST from the destination
     * crossed as many as our probe needed to reach it (end_ttl - 1); one that crossed fewer
     * was made by the device at hop (its hops + 1). */
    int rh = pm_ttl_hops(e->ttl);
    w->dest_hops = w->end_ttl - 1;
    if (rh >= w->end_ttl - 1) {
        w->end = PM_WE_RST;
        return;
    }
    w->end = PM_WE_RST_FORGED;
    w->forged_rst_hops = rh;
    w->forged_hop = rh + 1;
    if (rh + 1 <= w->top && pm_walk_time_exceeded(&w->hop[rh + 1].r, fam)) {
        w->forged_addr = w->hop[rh + 1].r.from;
    }
}

static void end_at_icmp(struct pm_walk *w, const struct pm_walk_reply *e, uint8_t fam)
{
    if (pm_addr_eq(&e->from, &w->dst)) {
        w->end = PM_WE_DEST_ICMP;
        w->dest_hops = w->end_ttl - 1;
        return;
    }
    w->end = PM_WE_REJECTED;
    w->reject_addr = e->from;
    /* The rejecting router's hop: where it answered time-exceeded itself, else its ICMP's
     * own TTL, else the probe's TTL. */
    w->reject_hop = 0;
    for (int ttl = 1; ttl < w->end_ttl; ttl++) {
        if (pm_walk_time_exceeded(&w->hop[ttl].r, fam) &&
            pm_addr_eq(&w->hop[ttl].r.from, &e->from)) {
            w->reject_hop = ttl;
        }
    }
    if (!w->reject_hop) {
        int hh = pm_ttl_hops(e->ttl);
        w->reject_hop = hh >= 0 && hh < w->end_ttl ? hh + 1 : w->end_ttl;
    }
}

void pm_walk_analyse(struct pm_walk *w)
{
    uint8_t fam = w->dst.family;
    if (w->top > PM_WALK_MAX_TTL) {
        w->top = PM_WALK_MAX_TTL;
    }
    if (w->end_ttl < 0 || w->end_ttl > w->top) {
        w->end_ttl = 0; /* not a hop that was probed: no end from it */
    }
    if (w->end == PM_WE_SILENT) {
        /* A late answer (it came after the walk moved on) may still turn silence into an
         * end: the first hop that answered with anything but time-exceeded. */
        for (int ttl = 1; ttl <= w->top; ttl++) {
            if (w->hop[ttl].r.kind != PM_WR_NONE &&
                !pm_walk_time_exceeded(&w->hop[ttl].r, fam)) {
                w->end = PM_WE_NONE;
                w->end_ttl = ttl;
                break;
            }
        }
    } else if (w->end == PM_WE_NONE && w->end_ttl == 0) {
        w->end = PM_WE_MAXTTL;
    }
    w->dest_hops = -1;
    w->last_hop = 0;
    w->diff_hop = 0;
    for (int ttl = 1; ttl <= w->top; ttl++) {
        const struct pm_walk_hop *h = &w->hop[ttl];
        if (h->r.kind == PM_WR_NONE) {
            continue;
        }
        if (pm_walk_time_exceeded(&h->r, fam) && ttl > w->last_hop) {
            w->last_hop = ttl;
            w->last_addr = h->r.from;
        }
        if (h->r.kind == PM_WR_ICMP && h->r.diff && !w->diff_hop) {
            w->diff_hop = ttl;
        }
    }
    if (w->end_ttl <= 0) {
        return;
    }
    const struct pm_walk_reply *e = &w->hop[w->end_ttl].r;
    switch (e->kind) {
    case PM_WR_SYNACK:
        w->end = PM_WE_REACHED;
        w->dest_hops = w->end_ttl - 1;
        break;
    case PM_WR_RST:
        end_at_rst(w, e, fam);
        break;
    case PM_WR_ICMP:
        end_at_icmp(w, e, fam);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The conclusion rows                                                                      */

static const char *dst_str(const struct pm_walk *w, char *buf)
{
    return pm_addr_str(&w->dst, buf);
}

/* The ICMP that ended the walk, in words. */
static const char *end_icmp(const struct pm_walk *w)
{
    if (w->end_ttl <= 0 || w->end_ttl > w->top) {
        return "?";
    }
    const struct pm_walk_reply *e = &w->hop[w->end_ttl].r;
    return pm_icmp_text(w->dst.family, e->icmp_type, e->icmp_code);
}

static void nothing(const struct pm_walk *w, char *buf, size_t len)
{
    (void)w;
    if (len) {
        buf[0] = '\0';
    }
}

static void t_reached(const struct pm_walk *w, char *buf, size_t len)
{
    char d[PM_ADDR_STRLEN];
    snprintf(buf, len, "port 25 is open along this path: %s answered SYN-ACK at TTL %d "
             "(%d routers away)", dst_str(w, d), w->end_ttl, w->dest_hops);
}

static void t_rst(const struct pm_walk *w, char *buf, size_t len)
{
    char d[PM_ADDR_STRLEN];
    snprintf(buf, len, "%s (%d routers away) answered RST at TTL %d: nothing listens on "
             "port 25 there, or its own firewall resets", dst_str(w, d), w->dest_hops,
             w->end_ttl);
}
static void n_rst(const struct pm_walk *w, char *buf, size_t len)
{
    char d[PM_ADDR_STRLEN];
    snprintf(buf, len, "The TTL walk shows %s itself (%d routers away) answering RST on "
             "port 25: tell its postmaster (nothing listens, or its own firewall resets).",
             dst_str(w, d), w->dest_hops);
}

static void t_forged(const struct pm_walk *w, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN], d[PM_ADDR_STRLEN];
    snprintf(buf, len, "a RST claiming to be from %s came from %d routers away, but the "
             "probe needed TTL %d to get it: forged on the path by hop %d%s%s",
             dst_str(w, d), w->forged_rst_hops, w->end_ttl, w->forged_hop,
             w->forged_addr.family ? " = " : "",
             w->forged_addr.family ? pm_addr_str(&w->forged_addr, a) : "");
}
static void n_forged(const struct pm_walk *w, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN], d[PM_ADDR_STRLEN];
    snprintf(buf, len, "The TTL walk shows RSTs for TCP 25 to %s forged by hop %d%s%s: send "
             "the evidence (this report, the -w capture) to the network team of that hop.",
             dst_str(w, d), w->forged_hop, w->forged_addr.family ? " = " : "",
             w->forged_addr.family ? pm_addr_str(&w->forged_addr, a) : "");
}

static void t_rejected(const struct pm_walk *w, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN];
    snprintf(buf, len, "rejected at hop %d by %s with ICMP %s (answering the TTL %d probe)",
             w->reject_hop, pm_addr_str(&w->reject_addr, a), end_icmp(w), w->end_ttl);
}
static void n_rejected(const struct pm_walk *w, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN], d[PM_ADDR_STRLEN];
    snprintf(buf, len, "The TTL walk shows hop %d (%s) rejecting TCP 25 to %s with ICMP %s: "
             "send the evidence to that router's network team.", w->reject_hop,
             pm_addr_str(&w->reject_addr, a), dst_str(w, d), end_icmp(w));
}

static void t_dest_icmp(const struct pm_walk *w, char *buf, size_t len)
{
    char d[PM_ADDR_STRLEN];
    snprintf(buf, len, "%s itself rejects port 25 with ICMP %s (%d routers away)",
             dst_str(w, d), end_icmp(w), w->dest_hops);
}
static void n_dest_icmp(const struct pm_walk *w, char *buf, size_t len)
{
    char d[PM_ADDR_STRLEN];
    snprintf(buf, len, "The TTL walk shows %s itself rejecting port 25 with ICMP %s: tell "
             "its postmaster (a host firewall REJECT).", dst_str(w, d), end_icmp(w));
}

static void t_silent_after(const struct pm_walk *w, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN];
    snprintf(buf, len, "SYNs to port 25 pass hop %d (%s) and vanish after it: the drop is at "
             "the next hop or the one after", w->last_hop, pm_addr_str(&w->last_addr, a));
}
static void n_silent_after(const struct pm_walk *w, char *buf, size_t len)
{
    char a[PM_ADDR_STRLEN], d[PM_ADDR_STRLEN];
    pm_addr_str(&w->last_addr, a);
    snprintf(buf, len, "The TTL walk shows SYNs to %s:25 passing hop %d (%s) and vanishing "
             "after it: dropped where %s forwards them or at the next hop; send the evidence "
             "to the network team of %s.", dst_str(w, d), w->last_hop, a, a, a);
}

static void t_silent_first(const struct pm_walk *w, char *buf, size_t len)
{
    (void)w;
    snprintf(buf, len, "no hop answered at all: the SYNs vanish before the first router (a "
             "local drop, or routers that never send time-exceeded)");
}
static void n_silent_first(const struct pm_walk *w, char *buf, size_t len)
{
    char d[PM_ADDR_STRLEN];
    snprintf(buf, len, "The TTL walk got no answer from any hop: look at this host's OUTPUT "
             "rules and its gateway's firewall for TCP 25 to %s.", dst_str(w, d));
}

static void t_maxttl(const struct pm_walk *w, char *buf, size_t len)
{
    snprintf(buf, len, "no end within TTL %d; last answer from hop %d", w->top, w->last_hop);
}
static void n_maxttl(const struct pm_walk *w, char *buf, size_t len)
{
    char d[PM_ADDR_STRLEN];
    snprintf(buf, len, "The TTL walk to %s found no end within TTL %d (last answer from hop "
             "%d): walk again with a larger --max-ttl.", dst_str(w, d), w->top, w->last_hop);
}

static void t_cap(const struct pm_walk *w, char *buf, size_t len)
{
    snprintf(buf, len, "stopped: --max-probes reached at TTL %d", w->top);
}
static void n_cap(const struct pm_walk *w, char *buf, size_t len)
{
    char d[PM_ADDR_STRLEN];
    snprintf(buf, len, "The TTL walk to %s stopped at --max-probes (TTL %d): walk again with "
             "a larger --max-probes.", dst_str(w, d), w->top);
}

static void t_stopped(const struct pm_walk *w, char *buf, size_t len)
{
    snprintf(buf, len, "interrupted at TTL %d", w->top);
}

static void t_error(const struct pm_walk *w, char *buf, size_t len)
{
    snprintf(buf, len, "could not send: %s", w->error);
}
static void n_error(const struct pm_walk *w, char *buf, size_t len)
{
    char d[PM_ADDR_STRLEN];
    snprintf(buf, len, "The TTL walk to %s could not send (%s): fix that and walk again.",
             dst_str(w, d), w->error);
}

static void t_none(const struct pm_walk *w, char *buf, size_t len)
{
    (void)w;
    snprintf(buf, len, "no result");
}

#define ANY_HOP (-1)

/* Ordered: the ends in which the destination itself answered, then those that locate the
 * failure on the path, then the walks that ended before any conclusion. The verdict, owner
 * and confidence are the engine's for the same evidence (analyze/rules.c): a forged RST is
 * path-rst, a router's reject path-icmp; silence after a hop is a silent drop whose owner
 * the walk alone cannot name beyond "the path" (medium: routers that rate-limit their ICMP
 * can look silent); silence from the first hop on may be this host's own firewall or
 * routers that never answer (low). */
const struct pm_walk_row pm_walk_rows[] = {
    {"walk-reached", PM_WE_REACHED, ANY_HOP, "reached", true, false, PM_V_OK, PM_OWN_NONE,
     PM_CONF_HIGH, t_reached, nothing},
    {"walk-rst", PM_WE_RST, ANY_HOP, "rst", true, false, PM_V_REMOTE_REFUSED,
     PM_OWN_RECIPIENT_POSTMASTER, PM_CONF_HIGH, t_rst, n_rst},
    {"walk-forged-rst", PM_WE_RST_FORGED, ANY_HOP, "forged-rst", false, true, PM_V_PATH_RST,
     PM_OWN_PATH, PM_CONF_HIGH, t_forged, n_forged},
    {"walk-rejected", PM_WE_REJECTED, ANY_HOP, "rejected", false, true, PM_V_PATH_ICMP,
     PM_OWN_PATH, PM_CONF_HIGH, t_rejected, n_rejected},
    {"walk-destination-icmp", PM_WE_DEST_ICMP, ANY_HOP, "destination-icmp", true, false,
     PM_V_REMOTE_ICMP, PM_OWN_RECIPIENT_POSTMASTER, PM_CONF_HIGH, t_dest_icmp, n_dest_icmp},
    {"walk-silent-after-hop", PM_WE_SILENT, 1, "silent", false, true, PM_V_SILENT_DROP,
     PM_OWN_PATH, PM_CONF_MEDIUM, t_silent_after, n_silent_after},
    {"walk-silent-from-first-hop", PM_WE_SILENT, 0, "silent", false, true, PM_V_SILENT_DROP,
     PM_OWN_UNKNOWN, PM_CONF_LOW, t_silent_first, n_silent_first},
    {"walk-max-ttl", PM_WE_MAXTTL, ANY_HOP, "max-ttl", false, false, PM_V_INCONCLUSIVE,
     PM_OWN_UNKNOWN, PM_CONF_LOW, t_maxttl, n_maxttl},
    {"walk-max-probes", PM_WE_CAP, ANY_HOP, "max-probes", false, false, PM_V_INCONCLUSIVE,
     PM_OWN_UNKNOWN, PM_CONF_LOW, t_cap, n_cap},
    {"walk-interrupted", PM_WE_STOPPED, ANY_HOP, "interrupted", false, false,
     PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN, PM_CONF_LOW, t_stopped, nothing},
    {"walk-error", PM_WE_ERROR, ANY_HOP, "error", false, false, PM_V_INCONCLUSIVE,
     PM_OWN_UNKNOWN, PM_CONF_LOW, t_error, n_error},
    /* Last, matches every walk: no end decided (pm_walk_analyse() not run, or no hop). */
    {"walk-no-result", PM_WE_NONE, ANY_HOP, "none", false, false, PM_V_INCONCLUSIVE,
     PM_OWN_UNKNOWN, PM_CONF_LOW, t_none, nothing},
};
const size_t pm_walk_nrows = PM_ARRAY_LEN(pm_walk_rows);

const struct pm_walk_row *pm_walk_conclude(const struct pm_walk *w)
{
    for (size_t i = 0; i + 1 < pm_walk_nrows; i++) {
        const struct pm_walk_row *r = &pm_walk_rows[i];
        if (r->end == w->end &&
            (r->hop_known == ANY_HOP || r->hop_known == (w->last_hop > 0 ? 1 : 0))) {
            return r;
        }
    }
    return &pm_walk_rows[pm_walk_nrows - 1];
}

const char *pm_walk_end_name(enum pm_walk_end e)
{
    for (size_t i = 0; i < pm_walk_nrows; i++) {
        if (pm_walk_rows[i].end == e) {
            return pm_walk_rows[i].name;
        }
    }
    return "none";
}

void pm_walk_text(const struct pm_walk *w, char *buf, size_t len)
{
    pm_walk_conclude(w)->text(w, buf, len);
}

void pm_walk_next(const struct pm_walk *w, char *buf, size_t len)
{
    pm_walk_conclude(w)->next(w, buf, len);
}
