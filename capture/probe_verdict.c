/*
 * probe_verdict.c — owns the probe's per-address conclusion (the `ports` object and the
 * "=>" line under each address): what the checks of one address say about the port being
 * diagnosed (25). A table like the engine's rules: the first row whose condition holds wins.
 *
 * Compared ports (--compare-ports) are evidence about the host, never the diagnosis: a
 * connect, a banner or even a RST on another port proves that something answers for the
 * host, so a silent port 25 there is blocked on the path or at the host, not a dead host.
 * The TTL walk's result, when it ran, is what the conclusion cites about where, and where
 * the checks alone cannot say why port 25 fails, the walk's row (analyze/walk.c) gives the
 * verdict, owner, confidence and next step.
 */
#include "probe_int.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

typedef bool (*pv_when)(const struct pm_probe_facts *f);
typedef void (*pv_text)(const struct pm_probe_facts *f, char *buf, size_t len);

static bool host_up(const struct pm_probe_facts *f)
{
    return f->other_ok[0] || f->other_answered[0] || f->walk_host_up;
}

static bool w_ok(const struct pm_probe_facts *f) { return f->connected && f->smtp_ok; }
static bool w_smtp(const struct pm_probe_facts *f) { return f->connected; }
static bool w_local(const struct pm_probe_facts *f) { return f->syn_seen == 0; }
static bool w_blocked(const struct pm_probe_facts *f) { return host_up(f); }
static bool w_unreachable(const struct pm_probe_facts *f) { return f->other_tried > 0; }
static bool w_failed(const struct pm_probe_facts *f)
{
    (void)f;
    return true;
}

/* "; the TTL walk: ..." when the walk ran. */
static const char *walk_clause(const struct pm_probe_facts *f, char *buf, size_t len)
{
    if (!f->walk_ran || !f->walk_text || !f->walk_text[0]) {
        return "";
    }
    snprintf(buf, len, "; the TTL walk: %s", f->walk_text);
    return buf;
}

static void t_ok(const struct pm_probe_facts *f, char *buf, size_t len)
{
    snprintf(buf, len, "%s accepts SMTP on port %u from here", f->dst, f->port);
}
static void t_smtp(const struct pm_probe_facts *f, char *buf, size_t len)
{
    snprintf(buf, len, "%s: TCP to port %u works, the SMTP dialogue does not (%s)", f->dst,
             f->port, f->error);
}
static void t_local(const struct pm_probe_facts *f, char *buf, size_t len)
{
    snprintf(buf, len, "%s: the SYN to port %u never left this host (%s): a local firewall "
             "rule or route", f->dst, f->port, f->error);
}
static void t_blocked(const struct pm_probe_facts *f, char *buf, size_t len)
{
    char why[160], wc[420];
    size_t o = 0;
    why[0] = '\0';
    if (f->other_ok[0]) {
        o += (size_t)snprintf(why + o, sizeof(why) - o, "port %s connects", f->other_ok);
    }
    if (f->other_answered[0] && o < sizeof(why)) {
        o += (size_t)snprintf(why + o, sizeof(why) - o, "%sport %s answers", o ? ", " : "",
                              f->other_answered);
    }
    if (f->walk_host_up && o < sizeof(why)) {
        snprintf(why + o, sizeof(why) - o, "%sthe TTL walk reached it", o ? ", " : "");
    }
    snprintf(buf, len, "%s is up (%s) but port %u fails (%s): TCP %u is blocked on the path or "
             "at the host%s", f->dst, why, f->port, f->error, f->port,
             walk_clause(f, wc, sizeof(wc)));
}
static void t_unreachable(const struct pm_probe_facts *f, char *buf, size_t len)
{
    char wc[420];
    if (f->walk_located) {
        snprintf(buf, len, "%s answers on no port tried (%s on %u)%s", f->dst, f->error, f->port,
                 walk_clause(f, wc, sizeof(wc)));
    } else {
        snprintf(buf, len, "%s answers on no port tried (%s on %u): the host is down or "
                 "everything to it is blocked%s", f->dst, f->error, f->port,
                 walk_clause(f, wc, sizeof(wc)));
    }
}
static void t_failed(const struct pm_probe_facts *f, char *buf, size_t len)
{
    char wc[420];
    snprintf(buf, len, "%s: port %u fails (%s)%s%s", f->dst, f->port, f->error,
             walk_clause(f, wc, sizeof(wc)),
             f->walk_located ? "" : "; --compare-ports 587,465 tells a port block from a dead "
                                    "host");
}

static void n_none(const struct pm_probe_facts *f, char *buf, size_t len)
{
    (void)f;
    if (len) {
        buf[0] = '\0';
    }
}
static void n_smtp(const struct pm_probe_facts *f, char *buf, size_t len)
{
    snprintf(buf, len, "Read the failed SMTP step above (%s) and show it to the postmaster of "
             "%s when the reply is theirs.", f->error, f->dst);
}
static void n_local(const struct pm_probe_facts *f, char *buf, size_t len)
{
    snprintf(buf, len, "Look for an OUTPUT rule or route for TCP %u to %s on this host (nft "
             "list ruleset; iptables -S OUTPUT; ip route get %s).", f->port, f->dst, f->dst);
}
static void n_walk(const struct pm_probe_facts *f, char *buf, size_t len)
{
    snprintf(buf, len, "Trace TCP %u to %s hop by hop: portmortem probe %s --ttl-walk (as "
             "root).", f->port, f->dst, f->dst);
}

/* Columns: id, condition, failed (exit status), words; then the engine's vocabulary
 * (verdict, owner, confidence) and the next step; `walk` says that a walk naming a failure
 * replaces those four (the checks alone cannot say why port 25 fails). */
static const struct {
    const char *id;
    pv_when when;
    bool failed;
    pv_text text;
    enum pm_verdict verdict;
    enum pm_owner owner;
    enum pm_confidence confidence;
    pv_text next;
    bool walk;
} rows[] = {
    {"port-25-ok", w_ok, false, t_ok, PM_V_OK, PM_OWN_NONE, PM_CONF_HIGH, n_none, false},
    {"port-25-smtp-problem", w_smtp, true, t_smtp, PM_V_SMTP_POLICY,
     PM_OWN_RECIPIENT_POSTMASTER, PM_CONF_MEDIUM, n_smtp, false},
    {"port-25-stopped-locally", w_local, true, t_local, PM_V_LOCAL_FIREWALL, PM_OWN_SENDER_HOST,
     PM_CONF_HIGH, n_local, false},
    /* Another port connected or answered, or the walk reached the host: it is up. */
    {"port-25-blocked", w_blocked, true, t_blocked, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN,
     PM_CONF_LOW, n_walk, true},
    {"host-unreachable", w_unreachable, true, t_unreachable, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN,
     PM_CONF_LOW, n_walk, true},
    {"port-25-failed", w_failed, true, t_failed, PM_V_INCONCLUSIVE, PM_OWN_UNKNOWN, PM_CONF_LOW,
     n_walk, true},
};

void pm_probe_facts_walk(struct pm_probe_facts *f, const struct pm_walk *w, char *text,
                         size_t tlen, char *next, size_t nlen)
{
    if (!w || !w->ran) {
        return;
    }
    const struct pm_walk_row *row = pm_walk_conclude(w);
    row->text(w, text, tlen);
    row->next(w, next, nlen);
    f->walk_ran = true;
    f->walk_text = text;
    f->walk_next = next;
    f->walk_row = row;
    f->walk_host_up = row->host_up;
    f->walk_located = row->located;
}

const size_t pm_probe_nverdicts = PM_ARRAY_LEN(rows);
const char *pm_probe_verdict_id(size_t i) { return i < PM_ARRAY_LEN(rows) ? rows[i].id : NULL; }

void pm_probe_conclude(const struct pm_probe_facts *f, struct pm_probe_verdict *v)
{
    size_t i = 0;
    while (i + 1 < PM_ARRAY_LEN(rows) && !rows[i].when(f)) {
        i++;
    }
    v->id = rows[i].id;
    v->failed = rows[i].failed;
    rows[i].text(f, v->text, sizeof(v->text));
    v->verdict = rows[i].verdict;
    v->owner = rows[i].owner;
    v->confidence = rows[i].confidence;
    rows[i].next(f, v->next, sizeof(v->next));
    const struct pm_walk_row *wr = f->walk_ran ? f->walk_row : NULL;
    if (rows[i].walk && wr && wr->verdict != PM_V_OK && wr->verdict != PM_V_INCONCLUSIVE) {
        v->verdict = wr->verdict;
        v->owner = wr->owner;
        v->confidence = wr->confidence;
    }
    if (rows[i].walk && f->walk_ran && f->walk_next && f->walk_next[0]) {
        /* After a walk, its own next step, never "run the walk" (issue 14.6). */
        pm_strlcpy(v->next, f->walk_next, sizeof(v->next));
    }
}
