/*
 * probe.c — owns `portmortem probe TARGET` (include/probe.h): the postmaster's manual
 * triage — resolve the MX, test TCP 25 from the real sending address, trace the path —
 * done in one run that records every packet it causes and explains them in the engine's
 * vocabulary. This file is the run itself (the order below, the SMTP checks, the test SYN
 * and the TTL walk, stale addresses, the per-address conclusion's facts); its other rooms
 * are listed in capture/probe_run.h (command line, setup, matcher, printers), the walk's
 * analysis is analyze/walk.c and the conclusion's table capture/probe_verdict.c.
 *
 * Order of a run, and why:
 *   1. Options, then DNS (dns.c): TARGET becomes the only addresses anything may be sent to.
 *      NXDOMAIN and a null MX end the run here: there is nothing to probe.
 *   2. As root: the capture handle (its BPF limited to the targets and ICMP errors), -w,
 *      the libnet raw sockets (only with --inject/--ttl-walk), the TLS context, the engine
 *      (it opens the bundle directory). Then pm_priv_drop(): nothing after this point runs
 *      privileged, and the raw sockets keep working because the kernel checked the
 *      capability when they were created.
 *   3. Per address: the TTL walk first, then the test SYN, then the SMTP checks on the
 *      comparison ports and port 25 last. The engine decides an attempt shortly after its
 *      answer arrives, so whatever the walk learns (the destination's hop count, the hop
 *      after which SYNs vanish) must reach it (pm_engine_hopref / pm_engine_drop_hop)
 *      before the attempts it explains end; a live comparison port likewise gives the
 *      engine the MX's real hop count before port 25's RST is judged.
 *   4. Every captured packet is written to -w and read by our matcher (keyed ISNs, quotes);
 *      all but the TTL walk's packets also go to the engine, which reports the connects and
 *      the test SYN as ordinary attempts. Walk probes with a deliberately small TTL are
 *      expected to die on the way: as attempts they would read as path failures, so they
 *      are reported per hop here instead (and stay in -w).
 *   5. Probe objects ("type":"probe") are written as results come, the engine's attempts
 *      stream in between, and the engine's summary closes the run.
 *
 * Nothing is sent unless asked: without --inject/--ttl-walk the run makes DNS queries and
 * TCP connects only; the raw sockets are not even opened.
 */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bundle_helper.h"
#include "cliopts.h"
#include "context.h"
#include "mtalog.h"
#include "output.h"
#include "priv.h"
#include "probe_run.h"
#include "ttl.h"
#include "util.h"

/* ---------------------------------------------------------------------------------------- */
/* Run state                                                                                */

volatile sig_atomic_t probe_stop;

static void on_signal(int sig)
{
    (void)sig;
    probe_stop = 1;
}

static void keep_capturing_until(struct prober *P, pm_ns first_syn_mono)
{
    pm_ns t = first_syn_mono + PM_NO_RESPONSE_WAIT + PM_MS(300);
    if (t > P->quiet_until) {
        P->quiet_until = t;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* SMTP checks                                                                              */

struct conn_started {
    struct prober *P;
    pm_addr dst;
    uint16_t dport;
};

/* The connect in progress: checks run one at a time, and the callback only gets its local
 * end, so the destination is parked here. */
static struct conn_started g_cs;

static void conn_started_cb(void *ctx, const pm_addr *src, uint16_t sport)
{
    struct prober *P = ctx;
    if (P->nconns >= PM_PROBE_MAX_CONNS) {
        return;
    }
    struct conntrack *c = &P->conns[P->nconns++];
    memset(c, 0, sizeof(*c));
    c->src = *src;
    c->dst = g_cs.dst;
    c->sport = sport;
    c->dport = g_cs.dport;
}

static bool conn_syn_seen(struct prober *P, const pm_addr *dst, uint16_t sport, uint16_t dport)
{
    const struct conntrack *c = probe_find_conn(P, dst, sport, dport);
    return c && c->syn_seen;
}

/* The connect left no SYN on the wire: tell the engine what the MTA in us saw, as a log line
 * would, so that it reports a not-on-wire attempt (local firewall or route) in its words. */
static void feed_not_on_wire(struct prober *P, const struct addrstate *as,
                             const struct portres *pr)
{
    if (!P->eng) {
        return;
    }
    struct pm_logentry le;
    memset(&le, 0, sizeof(le));
    /* Stamped as an MTA stamps its line: when connect() failed, to the nanosecond; its
     * measured duration (conn_delay_ms) bounds when the SYN can have left (the capture-window
     * rule, docs/VERDICTS.md). */
    le.ts = pm_now_realtime();
    le.ts_digits = 9;
    le.tskind = PM_TS_ISO_ZONED;
    le.mta = PM_MTA_UNKNOWN;
    le.kind = pr->r.failed_step == PM_SS_BIND ? PM_LK_BIND_FAIL : PM_LK_CONNECT_FAIL;
    le.err = (uint8_t)pm_errclass_from_text(strerror(pr->r.err));
    le.addr = as->ta.addr;
    le.port = pr->port;
    le.smtp_code = 0;
    le.conn_delay_ms = (int32_t)(pr->r.connect_ns / PM_NS_PER_MS);
    le.line = ++P->log_line;
    pm_strlcpy(le.host, as->ta.name, sizeof(le.host));
    char a[PM_ADDR_STRLEN];
    snprintf(le.text, sizeof(le.text), "probe connect to %s[%s]:%u: %s", as->ta.name,
             pm_addr_str(&as->ta.addr, a), pr->port, strerror(pr->r.err));
    pm_engine_log_entry(P->eng, "probe-connects", &le);
}

static void run_smtp(struct prober *P, struct addrstate *as, struct portres *pr)
{
    struct pm_smtp_cfg sc;
    memset(&sc, 0, sizeof(sc));
    sc.dst = as->ta.addr;
    sc.port = pr->port;
    int k = fam_idx(as->ta.addr.family);
    sc.src = P->o.have_source[k] ? &P->o.source[k] : NULL;
    sc.name = as->ta.pref >= 0 || P->tgt.kind != PM_TK_LITERAL ? as->ta.name : NULL;
    sc.helo = P->helo;
    sc.connect_timeout = P->o.connect_tmo;
    sc.step_timeout = P->o.step_tmo;
    sc.tls = P->tls;
    sc.implicit_tls = pr->port == 465;
    sc.wait = probe_wait_cb;
    sc.wait_ctx = P;
    sc.started = conn_started_cb;
    g_cs.P = P;
    g_cs.dst = as->ta.addr;
    g_cs.dport = pr->port;
    P->connects++;
    pm_ns t_start = pm_now_monotonic();
    pm_smtp_check(&sc, &pr->r);
    if (!pr->r.connected && pr->r.timed_out) {
        keep_capturing_until(P, t_start);
    }
    pr->ran = true;
    pr->syn_seen = -1;
    if (P->cap.p && pr->r.sport) {
        /* Let the capture catch up with the SYN before judging that it never left. */
        if (!conn_syn_seen(P, &as->ta.addr, pr->r.sport, pr->port)) {
            probe_pump(P, -1, 0, pm_now_monotonic() + PM_MS(200), NULL, NULL);
        }
        pr->syn_seen = conn_syn_seen(P, &as->ta.addr, pr->r.sport, pr->port) ? 1 : 0;
        if (!pr->syn_seen && pr->r.failed_step == PM_SS_CONNECT && pr->r.err) {
            feed_not_on_wire(P, as, pr);
        }
    }
    probe_print_smtp(P, as, pr);
}

/* ---------------------------------------------------------------------------------------- */
/* Test SYNs and the TTL walk                                                               */

/* Send one raw SYN, waiting for the token bucket (capturing meanwhile). Returns the index of
 * its record, or -1 (reason in err). */
static int send_probe(struct prober *P, const struct pm_tuple *t, uint8_t ttl, uint8_t attempt,
                      uint8_t kind, char *err, size_t errlen, enum pm_inj_rc *rc_out)
{
    for (;;) {
        if (P->nsent >= P->capsent) {
            *rc_out = PM_INJ_CAP; /* unreachable: the injector refuses first */
            snprintf(err, errlen, "--max-probes %u reached", P->o.max_probes);
            return -1;
        }
        struct pm_sent *s = &P->sent[P->nsent];
        enum pm_inj_rc rc = pm_injector_syn(P->inj, t, ttl, attempt, kind, s, err, errlen);
        *rc_out = rc;
        if (rc == PM_INJ_OK) {
            memset(&P->rep[P->nsent], 0, sizeof(P->rep[0]));
            return (int)P->nsent++;
        }
        if (rc == PM_INJ_ERROR && s->id) {
            /* Sent (and counted) but refused by the kernel: keep no record, report it. */
            return -1;
        }
        if (rc != PM_INJ_RATE) {
            return -1;
        }
        pm_ns w = pm_injector_wait(P->inj, pm_now_monotonic());
        if (probe_pump(P, -1, 0, pm_now_monotonic() + w, NULL, NULL) < 0) {
            *rc_out = PM_INJ_ERROR;
            snprintf(err, errlen, "interrupted");
            return -1;
        }
    }
}

struct reply_wait {
    int from, to; /* sent indices [from, to] */
};

static bool any_reply(struct prober *P, const void *arg)
{
    const struct reply_wait *w = arg;
    for (int i = w->from; i <= w->to; i++) {
        if (i >= 0 && (uint32_t)i < P->nsent && P->rep[i].kind != PM_WR_NONE) {
            return true;
        }
    }
    return false;
}

static void run_walk(struct prober *P, struct addrstate *as)
{
    struct pm_walk *w = &as->w;
    memset(w, 0, sizeof(*w));
    w->ran = true;
    w->dst = as->ta.addr;
    as->wt.src = as->src;
    as->wt.dst = as->ta.addr;
    as->wt.sport = as->probe_port;
    as->wt.dport = 25;
    w->end = PM_WE_NONE;
    uint8_t fam = as->ta.addr.family;
    int gap = 0;
    for (int ttl = 1; ttl <= P->o.max_ttl && ttl <= PM_WALK_MAX_TTL; ttl++) {
        struct pm_walk_hop *h = &w->hop[ttl];
        w->top = ttl;
        int first = -1, last = -1;
        for (int attempt = 0; attempt < P->o.tries; attempt++) {
            char err[200];
            enum pm_inj_rc rc;
            int idx = send_probe(P, &as->wt, (uint8_t)ttl, (uint8_t)attempt, PM_PK_WALK, err,
                                 sizeof(err), &rc);
            if (idx < 0) {
                if (probe_stop) {
                    w->end = PM_WE_STOPPED;
                } else if (rc == PM_INJ_CAP) {
                    w->end = PM_WE_CAP;
                } else {
                    w->end = PM_WE_ERROR;
                    pm_strlcpy(w->error, err, sizeof(w->error));
                }
                break;
            }
            h->probes++;
            if (first < 0) {
                first = idx;
            }
            last = idx;
            h->sent_idx = idx;
            struct reply_wait rw = {first, last};
            int pr = probe_pump(P, -1, 0, pm_now_monotonic() + P->o.wait, any_reply, &rw);
            if (pr < 0) {
                w->end = PM_WE_STOPPED;
                break;
            }
            if (pr == 2) {
                break;
            }
        }
        for (int i = first; i >= 0 && i <= last; i++) {
            if (P->rep[i].kind != PM_WR_NONE) {
                h->r = P->rep[i];
                h->sent_idx = i;
                break;
            }
        }
        if (w->end != PM_WE_NONE) {
            if (h->probes == 0) {
                w->top = ttl - 1;
            }
            break;
        }
        if (h->r.kind == PM_WR_NONE) {
            if (++gap >= P->o.gap_limit) {
                w->end = PM_WE_SILENT;
                break;
            }
            continue;
        }
        gap = 0;
        if (pm_walk_time_exceeded(&h->r, fam)) {
            continue;
        }
        w->end_ttl = ttl; /* SYN-ACK, RST, or an ICMP error that is not time-exceeded */
        break;
    }
    /* Late answers (after we moved on) still count: re-read every hop. */
    for (int ttl = 1; ttl <= w->top; ttl++) {
        struct pm_walk_hop *h = &w->hop[ttl];
        if (h->r.kind != PM_WR_NONE) {
            continue;
        }
        for (uint32_t i = 0; i < P->nsent; i++) {
            const struct pm_sent *s = &P->sent[i];
            if (s->kind == PM_PK_WALK && s->ttl == ttl && s->t.sport == as->wt.sport &&
                pm_addr_eq(&s->t.dst, &as->wt.dst) && P->rep[i].kind != PM_WR_NONE) {
                h->r = P->rep[i];
                h->sent_idx = (int)i;
                break;
            }
        }
    }
    /* What the hops say (analyze/walk.c): the end, the distance, the hop that drops,
     * rejects or forges; then the quote difference in words, which needs what was sent. */
    pm_walk_analyse(w);
    if (w->diff_hop) {
        const struct pm_walk_hop *dh = &w->hop[w->diff_hop];
        pm_qdiff_describe(dh->r.diff, &P->sent[dh->sent_idx], &dh->r.q, w->diff_text,
                          sizeof(w->diff_text));
    }
    /* Tell the engine what the walk established, before the attempts it explains end. */
    if (P->eng) {
        if (w->dest_hops >= 0) {
            struct pm_engine_hopref hr = {.vantage = 0, .host = as->ta.addr,
                                          .hops = w->dest_hops, .src = PM_HOP_TTL_WALK};
            pm_engine_hopref(P->eng, &hr);
        }
        if (w->end == PM_WE_SILENT) {
            pm_engine_drop_hop(P->eng, &as->ta.addr, w->last_hop,
                               w->last_hop ? &w->last_addr : NULL);
        }
        char next[400];
        pm_walk_next(w, next, sizeof(next));
        if (next[0]) {
            pm_engine_walk_next(P->eng, &as->ta.addr, next);
        }
    }
    probe_print_walk(P, as);
}

static void run_syn(struct prober *P, struct addrstate *as)
{
    struct synres *sr = &as->s;
    memset(sr, 0, sizeof(*sr));
    sr->ran = true;
    sr->first_idx = -1;
    sr->t.src = as->src;
    sr->t.dst = as->ta.addr;
    sr->t.sport = as->probe_port;
    sr->t.dport = 25;
    int first = -1, last = -1;
    for (int attempt = 0; attempt < P->o.tries; attempt++) {
        enum pm_inj_rc rc;
        /* attempt 0 every time: the same ISN makes a retry a true retransmission, which the
         * engine folds into one attempt as it does the kernel's own. */
        int idx = send_probe(P, &sr->t, PM_PROBE_SYN_TTL, 0, PM_PK_SYN, sr->error,
                             sizeof(sr->error), &rc);
        if (idx < 0) {
            break;
        }
        sr->sent++;
        if (first < 0) {
            first = idx;
        }
        last = idx;
        struct reply_wait rw = {first, last};
        int pr = probe_pump(P, -1, 0, pm_now_monotonic() + P->o.wait, any_reply, &rw);
        if (pr != 0) {
            break;
        }
    }
    sr->first_idx = first;
    /* A reply to any of the sends is the answer (replies attach to the newest send). */
    const struct pm_walk_reply *r = NULL;
    int ridx = -1;
    for (int i = first; i >= 0 && i <= last; i++) {
        if (P->rep[i].kind != PM_WR_NONE) {
            r = &P->rep[i];
            ridx = i;
            break;
        }
    }
    if (!r && first >= 0) {
        keep_capturing_until(P, P->sent[first].sent_mono);
    }
    bool self = false;
    for (int i = first; i >= 0 && i <= last; i++) {
        self |= P->rep[i].self_rst;
    }
    /* Give our kernel's RST a moment to show up in the capture. */
    if (r && r->kind == PM_WR_SYNACK && !self) {
        probe_pump(P, -1, 0, pm_now_monotonic() + PM_MS(100), NULL, NULL);
        for (int i = first; i >= 0 && i <= last; i++) {
            self |= P->rep[i].self_rst;
        }
    }
    probe_print_syn(P, as, r, ridx, self);
}

/* ---------------------------------------------------------------------------------------- */
/* DNS results and stale addresses                                                          */

static bool in_dns(const struct pm_target *t, const pm_addr *a)
{
    for (int i = 0; i < t->naddrs; i++) {
        if (!t->addrs[i].stale && pm_addr_eq(&t->addrs[i].addr, a)) {
            return true;
        }
    }
    return false;
}

static bool name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.') {
        la--;
    }
    if (lb && b[lb - 1] == '.') {
        lb--;
    }
    return la == lb && la > 0 && !strncasecmp(a, b, la);
}

static void add_stale(struct prober *P, const pm_addr *a, const char *name, const char *origin)
{
    struct pm_target *t = &P->tgt;
    char s[PM_ADDR_STRLEN];
    for (int i = 0; i < t->naddrs; i++) {
        if (pm_addr_eq(&t->addrs[i].addr, a)) {
            return;
        }
    }
    if (t->naddrs >= PM_MAX_TADDRS) {
        t->addrs_dropped++;
        return;
    }
    struct pm_taddr *ta = &t->addrs[t->naddrs++];
    memset(ta, 0, sizeof(*ta));
    ta->addr = *a;
    ta->pref = -1;
    ta->stale = 1;
    pm_strlcpy(ta->name, name && name[0] ? name : pm_addr_str(a, s), sizeof(ta->name));
    pm_strlcpy(ta->origin, origin, sizeof(ta->origin));
}

static int collect_stale(struct prober *P)
{
    struct pm_target *t = &P->tgt;
    if (t->kind == PM_TK_LITERAL) {
        if (P->o.nstale || P->cfg.nlogs) {
            pm_warn("TARGET is an address: --stale and --mta-log have no DNS to compare with");
        }
        return 0;
    }
    for (int i = 0; i < P->o.nstale; i++) {
        if (!in_dns(t, &P->o.stale[i])) {
            add_stale(P, &P->o.stale[i], NULL, "--stale");
        }
    }
    if (P->cfg.nlogs == 0) {
        return 0;
    }
    struct pm_logset ls;
    memset(&ls, 0, sizeof(ls));
    struct pm_log_options lo = P->cfg.logopt;
    lo.ref_time = PM_NS_NONE;
    for (int i = 0; i < P->cfg.nlogs; i++) {
        int rc = pm_logset_load(&ls, P->cfg.mta_logs[i], &lo);
        if (rc != 0) {
            pm_logset_free(&ls);
            return rc;
        }
    }
    pm_logset_finish(&ls);
    for (size_t i = 0; i < ls.n; i++) {
        const struct pm_logentry *e = &ls.e[i];
        if (!e->addr.family || (e->port && e->port != 25)) {
            continue;
        }
        bool ours = name_eq(e->host, t->input) || name_eq(e->domain, t->input);
        for (int m = 0; !ours && m < t->nmx; m++) {
            ours = t->mx[m].name[0] && name_eq(e->host, t->mx[m].name);
        }
        if (!ours || in_dns(t, &e->addr)) {
            continue;
        }
        const char *path = e->file < ls.nfiles ? ls.files[e->file].path : "log";
        const char *base = strrchr(path, '/');
        char origin[120];
        snprintf(origin, sizeof(origin), "%.90s:%u", base ? base + 1 : path, e->line);
        add_stale(P, &e->addr, e->host, origin);
    }
    pm_logset_free(&ls);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Per-address conclusion                                                                   */

static void conclude(struct prober *P, const struct addrstate *as)
{
    const struct portres *p25 = NULL;
    struct pm_probe_facts f;
    memset(&f, 0, sizeof(f));
    size_t ook = 0, oans = 0;
    for (int i = 0; i < as->np; i++) {
        const struct portres *pr = &as->p[i];
        if (!pr->ran) {
            continue;
        }
        if (pr->port == 25) {
            p25 = pr;
            continue;
        }
        f.other_tried++;
        if (pr->r.connected) {
            probe_append(f.other_ok, sizeof(f.other_ok), &ook, "%s%u", ook ? "," : "", pr->port);
        } else if (pr->r.err == ECONNREFUSED && pr->syn_seen == 1) {
            /* A RST (or the host's port-unreachable) to a SYN that was on the wire:
             * something answers for the host, so it is not down. */
            probe_append(f.other_answered, sizeof(f.other_answered), &oans, "%s%u", oans ? "," : "",
                   pr->port);
        }
    }
    if (!p25) {
        return;
    }
    char a[PM_ADDR_STRLEN], wtext[400], wnext[400];
    pm_addr_str(&as->ta.addr, a);
    f.dst = a;
    f.port = 25;
    f.connected = p25->r.connected;
    f.smtp_ok = p25->r.connected && p25->r.failed_step == PM_SS_DONE;
    f.syn_seen = p25->syn_seen;
    f.error = p25->r.error;
    pm_probe_facts_walk(&f, &as->w, wtext, sizeof(wtext), wnext, sizeof(wnext));
    struct pm_probe_verdict pv;
    pm_probe_conclude(&f, &pv);
    if (pv.failed && !as->ta.stale) {
        P->failures++;
    }
    probe_print_ports(P, as, pv.id, pv.text);
}

/* ---------------------------------------------------------------------------------------- */
/* The run                                                                                  */

static void default_helo(struct prober *P)
{
    if (P->o.helo) {
        pm_strlcpy(P->helo, P->o.helo, sizeof(P->helo));
        return;
    }
    char h[256];
    if (gethostname(h, sizeof(h)) == 0 && strchr(h, '.')) {
        h[sizeof(h) - 1] = '\0';
        pm_strlcpy(P->helo, h, sizeof(P->helo));
        return;
    }
    /* No FQDN: an address literal is what RFC 5321 §4.1.4 allows instead. */
    char a[PM_ADDR_STRLEN];
    if (P->have_src[0]) {
        snprintf(P->helo, sizeof(P->helo), "[%s]", pm_addr_str(&P->src[0], a));
    } else if (P->have_src[1]) {
        snprintf(P->helo, sizeof(P->helo), "[IPv6:%s]", pm_addr_str(&P->src[1], a));
    } else {
        pm_strlcpy(P->helo, "localhost", sizeof(P->helo));
    }
}

static int probe_main(struct prober *P)
{
    struct probe_opts *o = &P->o;
    P->out = P->cfg.out;
    P->jsonl = P->cfg.format == PM_FMT_JSONL;

    /* 1. DNS */
    char err[512] = "";
    struct pm_resolver *res = NULL;
    pm_addr lit;
    if (!pm_target_parse_literal(o->target, &lit) || o->nstale) {
        res = pm_resolver_new(o->resolver, err, sizeof(err));
        if (!res) {
            pm_err("%s", err);
            pm_hint("give a DNS server with --resolver IP");
            return o->resolver ? PM_EXIT_USAGE : PM_EXIT_UNREADABLE;
        }
    }
    int rc = pm_target_resolve(res, o->target, o->families, o->no_mx, o->max_addrs, &P->tgt);
    char resolver_name[PM_ADDR_STRLEN + 16];
    pm_strlcpy(resolver_name, res ? pm_resolver_name(res) : "none", sizeof(resolver_name));
    pm_resolver_free(res);
    if (rc != 0) {
        return rc;
    }
    if (!P->tgt.nxdomain && !P->tgt.null_mx) {
        rc = collect_stale(P);
        if (rc != 0) {
            return rc;
        }
    }
    /* Never aim even a connect() at something that is not one host: a DNS answer (or a
     * TARGET) naming a broadcast, multicast or unspecified address is reported, not used.
     * Loopback stays for connects (an MX pointing at 127.0.0.1 is a finding worth showing);
     * test SYNs to it still need --allow-loopback. */
    for (int i = 0; i < P->tgt.naddrs;) {
        struct pm_taddr *ta = &P->tgt.addrs[i];
        const char *why = pm_inject_target_refusal(&ta->addr, true);
        if (!why) {
            i++;
            continue;
        }
        char a[PM_ADDR_STRLEN];
        pm_addr_str(&ta->addr, a);
        if (P->tgt.kind == PM_TK_LITERAL) {
            pm_err("refusing TARGET %s: %s", a, why);
            pm_hint("name one mail server: its domain, host name or unicast address");
            return PM_EXIT_USAGE;
        }
        if (P->tgt.nnotes < PM_TARGET_NOTES) {
            char origin[sizeof(ta->origin)];
            pm_strlcpy(origin, ta->origin, sizeof(origin));
            snprintf(P->tgt.notes[P->tgt.nnotes++], sizeof(P->tgt.notes[0]),
                     "not probed: %s (%.80s) is %s", a, origin, why);
        }
        memmove(ta, ta + 1, sizeof(*ta) * (size_t)(P->tgt.naddrs - i - 1));
        P->tgt.naddrs--;
    }
    probe_print_dns(P, resolver_name);
    if (P->tgt.nxdomain || P->tgt.null_mx) {
        /* Nothing to probe, and a definite answer: mail to TARGET cannot be delivered. */
        return PM_EXIT_FAILURES;
    }
    probe_print_stale(P);
    if (P->tgt.naddrs == 0) {
        probe_txt(P, "  no address to probe\n");
        pm_err("%s has no %s address to probe", o->target,
               o->families == 1 ? "IPv4" : o->families == 2 ? "IPv6" : "IPv4 or IPv6");
        return PM_EXIT_FAILURES;
    }

    /* 2. Everything privileged, then the drop. */
    probe_plan(P);
    default_helo(P);
    if (P->iface[0]) {
        int c = probe_open_capture(P);
        if (c == -2) {
            return PM_EXIT_USAGE;
        }
        if (c < 0 && o->inject) {
            pm_hint("test SYNs are only useful with their answers captured: not sending any");
            return PM_EXIT_UNREADABLE;
        }
        if (c < 0) {
            pm_warn("continuing without a capture: DNS and SMTP checks only, no verdicts");
        }
    } else {
        pm_warn("no interface for the capture (no route to the targets?): DNS and SMTP checks "
                "only; name one with -i");
    }
    if (o->inject && !P->cap.p) {
        pm_err("--inject/--ttl-walk need the capture");
        return PM_EXIT_UNREADABLE;
    }
    if (o->inject) {
        struct pm_injector_cfg ic = {.rate = o->rate, .max_probes = o->max_probes,
                                     .allow_loopback = o->allow_loopback, .iface = P->iface};
        for (int i = 0; i < P->nas; i++) {
            if (!P->as[i].ta.stale) {
                ic.want4 |= P->as[i].ta.addr.family == PM_AF_INET && P->have_src[0];
                ic.want6 |= P->as[i].ta.addr.family == PM_AF_INET6 && P->have_src[1];
            }
        }
        if (ic.want4 || ic.want6) {
            P->inj = pm_injector_open(&ic, err, sizeof(err));
            if (!P->inj) {
                pm_err("%s", err);
                pm_hint("raw sockets need root or CAP_NET_RAW");
                return PM_EXIT_UNREADABLE;
            }
        }
        /* One slot more than the cap: the injector itself refuses (and counts) the probe
         * past it, whatever this file's bookkeeping says. */
        P->capsent = o->max_probes + 1;
        P->sent = pm_xcalloc(P->capsent, sizeof(*P->sent));
        P->rep = pm_xcalloc(P->capsent, sizeof(*P->rep));
        for (int i = 0; i < P->nas; i++) {
            struct addrstate *as = &P->as[i];
            if (as->ta.stale) {
                snprintf(as->inject_refusal, sizeof(as->inject_refusal),
                         "a stale address (not what TARGET resolves to now)");
                continue;
            }
            if (!as->src_ok || !P->inj) {
                snprintf(as->inject_refusal, sizeof(as->inject_refusal),
                         "no source address of its family");
                continue;
            }
            if (!pm_injector_allow(P->inj, &as->ta.addr, as->inject_refusal,
                                   sizeof(as->inject_refusal))) {
                continue;
            }
            /* Reserve the raw probes' source port: bound (not listening, not connected), it is
             * never handed to another connect(), and SYN-ACKs to it still get our kernel's
             * RST because no socket accepts them. */
            int fam = as->ta.addr.family == PM_AF_INET6 ? AF_INET6 : AF_INET;
            int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_storage ss;
            memset(&ss, 0, sizeof(ss));
            socklen_t sl;
            if (fam == AF_INET) {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                s4->sin_family = AF_INET;
                memcpy(&s4->sin_addr, as->src.b, 4);
                sl = sizeof(*s4);
            } else {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                s6->sin6_family = AF_INET6;
                memcpy(&s6->sin6_addr, as->src.b, 16);
                sl = sizeof(*s6);
            }
            if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
                getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
                snprintf(as->inject_refusal, sizeof(as->inject_refusal),
                         "cannot reserve a source port on %s: %s",
                         pm_addr_str(&as->src, err), strerror(errno));
                if (fd >= 0) {
                    close(fd);
                }
                continue;
            }
            as->reserve_fd = fd;
            as->probe_port = fam == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                            : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            as->inject_ok = true;
        }
    }
    err[0] = '\0';
    P->tls = pm_tls_ctx_new(o->ca, err, sizeof(err));
    if (!P->tls) {
        pm_err("%s%s%s", err, o->ca ? ": " : "", o->ca ? o->ca : "");
        pm_hint(o->ca ? "give a PEM file of CA certificates" : "install ca-certificates");
        return PM_EXIT_UNREADABLE;
    }
    const char *vname[1] = {P->iface[0] ? P->iface : "none"};
    const char *flabel[1];
    if (o->wfile) {
        const char *b = strrchr(o->wfile, '/');
        pm_strlcpy(P->label, b ? b + 1 : o->wfile, sizeof(P->label));
    } else {
        pm_strlcpy(P->label, vname[0], sizeof(P->label));
    }
    flabel[0] = P->label;
    if (P->cap.p) {
        P->cfg.subcommand = "probe";
    P->cfg.bundle_store = pm_bundle_helper_start; /* the privileged part of --bundle */
        /* Port 25 is diagnosed; --compare-ports are evidence about the host and never take
         * over the destinations' state, the Scope and Next lines or the exit status. */
        P->cfg.diag_port = 25;
        P->cfg.log_offset = 0; /* our own connect results share the capture's clock */
        P->cfg.nports = 0;
        P->cfg.ports[P->cfg.nports++] = 25;
        for (int i = 0; i < o->ncompare; i++) {
            P->cfg.ports[P->cfg.nports++] = o->compare[i];
        }
        struct pm_engine_source src = {
            .live = true, .nvantage = 1, .vantage_names = vname, .nfiles = 1,
            .file_labels = flabel, .in = NULL, .ifaces = vname, .nifaces = 1,
        };
        P->eng = pm_engine_new(&P->cfg, &src);
        if (!P->eng) {
            return PM_EXIT_USAGE;
        }
        /* Read back through the descriptor: after the drop the -Z user may not be able to
         * open a replaced -w file by name, and the temporary one has no name. */
        if (o->wfile || (P->cfg.bundle_dir && probe_open_temp_capture(P) == 0)) {
            const char *paths[1];
            int fds[1];
            int n = pm_dump_files(P->dump, paths, fds, 1);
            pm_engine_capture_files(P->eng, paths, fds, n);
        }
        /* The bundle shows the host as it was: addresses, routes, firewall rules (read-only
         * commands, run now while we are still root). Without a bundle the routes suffice. */
        if (P->cfg.bundle_dir) {
            pm_hostctx_collect(P->hc, 3000);
        }
        pm_engine_host_context(P->eng, pm_hostctx_text(P->hc));
        for (int i = 0; i < P->nas; i++) {
            /* On-link: zero routers, the RST-origin rule's simplest reference. */
            if (P->as[i].routed && P->as[i].route.kind == PM_RT_ONLINK) {
                struct pm_engine_hopref h = {.vantage = 0, .host = P->as[i].ta.addr, .hops = 0,
                                             .src = PM_HOP_ROUTE};
                pm_engine_hopref(P->eng, &h);
            }
        }
    }
    struct pm_priv_result pr;
    memset(&pr, 0, sizeof(pr));
    rc = pm_priv_drop(o->user, NULL, 0, &pr);
    if (rc != 0) {
        return rc;
    }

    /* 3. The probes. */
    probe_print_header(P);
    for (int i = 0; i < P->nas && !probe_stop; i++) {
        struct addrstate *as = &P->as[i];
        char a[PM_ADDR_STRLEN];
        probe_txt(P, "\n%s (%s%s)\n", pm_addr_str(&as->ta.addr, a), as->ta.origin,
            as->ta.stale ? ", STALE" : "");
        if (as->routed && as->route.text[0]) {
            probe_txt(P, "  route: %s\n", as->route.text);
        }
        if (o->inject && !as->inject_ok) {
            probe_txt(P, "  no test SYNs to %s: %s\n", a, as->inject_refusal);
            if (P->jsonl) {
                struct pm_json jj, *j = &jj;
                probe_jbegin(P, j, "syn");
                pm_json_kaddr(j, "dst", &as->ta.addr);
                pm_json_kstr(j, "name", as->ta.name);
                pm_json_kint(j, "sent", 0);
                pm_json_kstr(j, "refused", as->inject_refusal);
                probe_jend(P, j);
            }
        }
        if (o->walk && as->inject_ok) {
            run_walk(P, as);
        }
        if (o->inject && as->inject_ok && !probe_stop) {
            run_syn(P, as);
        }
        for (int k = 0; k < as->np && !probe_stop; k++) {
            run_smtp(P, as, &as->p[k]);
        }
        conclude(P, as);
    }
    /* Late answers and the last attempts' linger, then the engine's verdicts. */
    if (P->cap.p && !probe_stop) {
        pm_ns until = PM_MAX(pm_now_monotonic() + PM_MS(500), P->quiet_until);
        probe_pump(P, -1, 0, until, NULL, NULL);
    }
    struct pcap_stat st;
    bool have_st = P->cap.p && pcap_stats(P->cap.p, &st) == 0;
    probe_print_run(P, pr.text[0] ? pr.text : "privileges unchanged", &st, have_st);
    int erc = PM_EXIT_OK;
    if (P->eng) {
        struct pm_live_stats ls;
        memset(&ls, 0, sizeof(ls));
        ls.nifs = 1;
        pm_strlcpy(ls.ifs[0].name, P->iface, sizeof(ls.ifs[0].name));
        ls.ifs[0].captured = P->frame;
        if (have_st) {
            ls.received = st.ps_recv;
            ls.dropped = st.ps_drop;
            ls.if_dropped = st.ps_ifdrop;
            ls.ifs[0].stats = true;
            ls.ifs[0].received = st.ps_recv;
            ls.ifs[0].dropped = st.ps_drop;
            ls.ifs[0].if_dropped = st.ps_ifdrop;
        }
        pm_strlcpy(ls.privileges, pr.text, sizeof(ls.privileges));
        pm_engine_live_stats(P->eng, &ls);
        pm_dump_end(P->dump); /* flushed, checked; the engine reads it back for the bundle */
        erc = pm_engine_finish(P->eng);
        P->eng = NULL;
    }
    int mine = P->failures ? PM_EXIT_FAILURES : PM_EXIT_OK;
    if (probe_stop) {
        pm_warn("interrupted: the results above are partial");
    }
    return PM_MAX(erc, mine);
}

int pm_cmd_probe(int argc, char **argv, int full_argc, char **full_argv)
{
    struct prober *P = pm_xcalloc(1, sizeof(*P));
    pm_cli_engine_defaults(&P->cfg, full_argc, full_argv);
    P->cfg.subcommand = "probe";
    int rc = probe_parse_args(P, argc, argv);
    if (rc != 0) {
        pm_out_close(P->cfg.out, 0);
        free(P);
        return rc < 0 ? PM_EXIT_OK : rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns and the run winds down */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = probe_main(P);

    if (P->eng) {
        /* An early error after the engine was made (the privilege drop failed): finish it
         * all the same, so that a --bundle directory is completed rather than left half-made;
         * its summary says that nothing was probed. */
        pm_engine_finish(P->eng);
    }
    for (int i = 0; i < P->nas; i++) {
        if (P->as[i].reserve_fd >= 0) {
            close(P->as[i].reserve_fd);
        }
    }
    pm_dump_close(P->dump, true);
    pm_capif_close(&P->cap);
    pm_injector_close(P->inj);
    pm_hostctx_free(P->hc);
    if (P->tls) {
        pm_tls_ctx_free(P->tls);
    }
    rc = pm_out_close(P->cfg.out, rc); /* a write error: said here, exit 3 (output.h) */
    free(P->sent);
    free(P->rep);
    free(P->as);
    free(P);
    return rc;
}
