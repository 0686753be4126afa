/*
 * probe_verdict.c — owns the probe's per-address conclusion (the `ports` object and the
 * "=>" line under each address): what the checks of one address say about the port being
 * diagnosed (25). A table like the engine's rules: the first row whose condition holds wins.
 *
 * Compared ports (--compare-ports) are evidence about the host, never the diagnosis: a
 * connect, a banner or even a RST on another port proves that something answers for the
 * host, so a silent port 25 there is blocked on the path or at the host, not a dead host.
 * The TTL walk's result, when it ran, is what the conclusion cites about where.
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

static const struct {
    const char *id;
    pv_when when;
    bool failed;
    pv_text text;
} rows[] = {
    {"port-25-ok", w_ok, false, t_ok},
    {"port-25-smtp-problem", w_smtp, true, t_smtp},
    {"port-25-stopped-locally", w_local, true, t_local},
    /* Another port connected or answered, or the walk reached the host: it is up. */
    {"port-25-blocked", w_blocked, true, t_blocked},
    {"host-unreachable", w_unreachable, true, t_unreachable},
    {"port-25-failed", w_failed, true, t_failed},
};

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
}
