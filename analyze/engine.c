/*
 * engine.c — owns one analysis run (include/engine.h).
 *
 *   phase 1  records → decode → tracker → finished attempts appended to a spool file
 *            (fixed-size records; memory stays bounded by concurrent flows)
 *   phase 2  pass A over the spool: outcomes, hop references, destination counts, clock
 *            offset samples; then the MTA logs are matched (pass B) and every attempt is
 *            attributed and reported; unmatched logged attempts inside the capture window
 *            become not-on-wire attempts; destinations and the summary close the report.
 */
#include "engine.h"

#include <errno.h>
#include <unistd.h>

#include "attribute.h"
#include "context.h"
#include "correlate.h"
#include "decode.h"
#include "report.h"
#include "util.h"

#define SPOOL_MAGIC 0x706d7370u /* "pmsp" */

struct spool_hdr {
    uint32_t magic;
    uint32_t has_smtp;
};

struct run {
    const struct pm_engine_config *cfg;
    struct pm_inputset *in;
    struct pm_tracker *tracker;
    FILE *spool;
    uint64_t spooled;
    int spool_error;
    struct pm_context *ctx;
    struct pm_logset logs;
    struct pm_correlator *corr;
    struct pm_report *report;
    struct pm_attr_env env;
    struct pm_run_summary sum;
    const char *file_labels[PM_MAX_INPUTS];
    const struct pm_vantage_state *vsp[PM_MAX_VANTAGES];
    pm_ns t0;
};

void pm_engine_filter(const uint16_t *ports, int nports, char *buf, size_t len)
{
    /* Keep: TCP to/from the watched ports; ICMP errors (unreachable, source quench, time
     * exceeded, parameter problem); ICMPv6 errors (types 1-4); IPv4 later fragments and
     * IPv6 packets whose next header is an extension header (their transport header is not
     * where BPF looks). Everything else never reaches the decoder. */
    size_t o = (size_t)snprintf(buf, len, "(tcp and (");
    for (int i = 0; i < nports && o < len; i++) {
        o += (size_t)snprintf(buf + o, len - o, "%sport %u", i ? " or " : "", ports[i]);
    }
    if (o < len) {
        snprintf(buf + o, len - o,
                 ")) or (icmp and (icmp[icmptype] == icmp-unreach or icmp[icmptype] == "
                 "icmp-timxceed or icmp[icmptype] == icmp-paramprob or icmp[icmptype] == "
                 "icmp-sourcequench)) or (icmp6 and ip6[40] < 5) or "
                 "(ip and ip[6:2] & 0x1fff != 0) or "
                 "(ip6 and ip6[6] != 6 and ip6[6] != 17 and ip6[6] != 58)");
    }
}

/* ---- phase 1 ---- */

static void on_done(void *ctx, const struct pm_attempt *a, const struct pm_smtp_summary *smtp)
{
    struct run *r = ctx;
    if (r->spool_error) {
        return;
    }
    struct spool_hdr h = {SPOOL_MAGIC, smtp != NULL};
    if (fwrite(&h, sizeof(h), 1, r->spool) != 1 || fwrite(a, sizeof(*a), 1, r->spool) != 1 ||
        (smtp && fwrite(smtp, sizeof(*smtp), 1, r->spool) != 1)) {
        r->spool_error = errno ? errno : EIO;
        return;
    }
    r->spooled++;
}

static void progress(struct run *r, bool final)
{
    if (!r->cfg->progress) {
        return;
    }
    uint64_t bytes = 0, size = 0, recs = 0;
    for (int i = 0; i < r->in->n; i++) {
        const struct pm_capfile_stats *st = pm_capfile_stats(r->in->in[i].cf);
        bytes += st->bytes;
        size += st->file_size;
        recs += st->records;
    }
    pm_ns el = pm_now_monotonic() - r->t0;
    double secs = (double)el / 1e9;
    fprintf(stderr, "\r%s: %llu/%llu MB (%.0f%%), %llu packets, %llu attempts, %.1f MB/s%s",
            pm_progname, (unsigned long long)(bytes >> 20), (unsigned long long)(size >> 20),
            size ? 100.0 * (double)bytes / (double)size : 0.0, (unsigned long long)recs,
            (unsigned long long)pm_tracker_counters(r->tracker)->attempts,
            secs > 0 ? (double)bytes / 1048576.0 / secs : 0.0, final ? "\n" : "   ");
}

static void phase1(struct run *r)
{
    struct pm_record rec;
    struct pm_pkt pkt;
    uint64_t n = 0;
    pm_ns next_progress = pm_now_monotonic() + PM_SEC(1);
    while (pm_inputset_next(r->in, &rec) == PM_READ_OK) {
        pkt.ts = rec.ts;
        pkt.frame = rec.frame;
        pkt.vantage = rec.vantage;
        pkt.on_loopback = rec.ifloop;
        pm_decode(&pkt, rec.linktype, rec.data, rec.caplen, rec.wirelen);
        pm_tracker_packet(r->tracker, &pkt, rec.file);
        if (r->cfg->progress && (++n & 0xffff) == 0 && pm_now_monotonic() >= next_progress) {
            progress(r, false);
            next_progress = pm_now_monotonic() + PM_SEC(1);
        }
    }
    pm_tracker_flush(r->tracker);
    if (r->cfg->progress && n > 0xffff) {
        progress(r, true);
    }
}

/* ---- phase 2 ---- */

struct spooled {
    struct pm_attempt a;
    struct pm_smtp_summary smtp;
    bool has_smtp;
};

static bool spool_read(struct run *r, struct spooled *s)
{
    struct spool_hdr h;
    if (fread(&h, sizeof(h), 1, r->spool) != 1) {
        return false;
    }
    if (h.magic != SPOOL_MAGIC || fread(&s->a, sizeof(s->a), 1, r->spool) != 1) {
        r->spool_error = EIO;
        return false;
    }
    s->has_smtp = h.has_smtp != 0;
    if (s->has_smtp && fread(&s->smtp, sizeof(s->smtp), 1, r->spool) != 1) {
        r->spool_error = EIO;
        return false;
    }
    return true;
}

static enum pm_outcome outcome_of(struct run *r, const struct pm_attempt *a)
{
    const struct pm_vantage_state *vs = pm_tracker_vantage(r->tracker, a->vantage);
    pm_ns end = vs ? vs->last_ts : PM_NS_NONE;
    bool one_sided = r->env.vantage_one_sided[a->vantage < PM_MAX_VANTAGES ? a->vantage : 0];
    return pm_attempt_outcome(a, end, one_sided);
}

/* A vantage where clients acknowledge SYN-ACKs we never see, and no server packet at all
 * arrives, is one-sided: its silences prove nothing. */
static void find_one_sided(struct run *r)
{
    for (int v = 0; v < r->in->nvantage && v < PM_MAX_VANTAGES; v++) {
        const struct pm_vantage_state *vs = pm_tracker_vantage(r->tracker, v);
        r->env.vantage_one_sided[v] = vs && vs->one_sided_evidence > 0 && vs->from_servers == 0;
    }
}

static void record_dest(struct run *r, const struct pm_finding *f, const pm_addr *dst,
                        uint16_t dport, pm_ns ts, const pm_addr *src, uint16_t sport)
{
    struct pm_dest *d = pm_context_dest(r->ctx, dst, true);
    if (!d) {
        return;
    }
    d->attempts++;
    d->by_outcome[f->outcome]++;
    d->by_verdict[f->verdict]++;
    d->verdict_owner[f->verdict] = (uint8_t)f->owner;
    if (d->first_ts == PM_NS_NONE || ts < d->first_ts) {
        d->first_ts = ts;
    }
    if (d->last_ts == PM_NS_NONE || ts > d->last_ts) {
        d->last_ts = ts;
    }
    bool seen = false;
    for (int i = 0; i < d->nports; i++) {
        seen |= d->ports[i] == dport;
    }
    if (!seen && d->nports < PM_DEST_PORTS) {
        d->ports[d->nports++] = dport;
    }
    if (d->nids < PM_DEST_IDS) {
        d->ids[d->nids++] = f->id;
    } else {
        d->ids_truncated = 1;
    }
    if (f->log && f->log->host[0]) {
        pm_context_dest_name(r->ctx, dst, f->log->host);
    }
    /* Samples for the text report: keep failures over successes, in time order. */
    struct pm_dest_sample smp = {.id = f->id, .ts = ts, .dport = dport,
                                 .outcome = (uint8_t)f->outcome, .verdict = (uint8_t)f->verdict,
                                 .sport = sport};
    if (src) {
        smp.src = *src;
    }
    pm_strlcpy(smp.clue, f->clue, sizeof(smp.clue));
    int slot = -1;
    if (d->nsamples < PM_DEST_SAMPLES) {
        slot = d->nsamples++;
    } else if (f->verdict != PM_V_OK) {
        for (int i = 0; i < PM_DEST_SAMPLES; i++) {
            if (d->samples[i].verdict == PM_V_OK) {
                memmove(&d->samples[i], &d->samples[i + 1],
                        sizeof(smp) * (size_t)(PM_DEST_SAMPLES - 1 - i));
                slot = PM_DEST_SAMPLES - 1;
                break;
            }
        }
    }
    if (slot < 0) {
        d->samples_dropped++;
        return;
    }
    /* insertion in time order */
    while (slot > 0 && d->samples[slot - 1].ts > ts) {
        d->samples[slot] = d->samples[slot - 1];
        slot--;
    }
    d->samples[slot] = smp;
}

static void count_finding(struct run *r, const struct pm_finding *f)
{
    r->sum.attempts++;
    r->sum.by_outcome[f->outcome]++;
    r->sum.by_verdict[f->verdict]++;
    r->sum.inconsistent += f->inconsistent;
}

/* The capture window the not-on-wire judgement uses: the sender's vantage (the first one),
 * or --since/--until. */
static void sender_window(struct run *r, pm_ns *start, pm_ns *end)
{
    const struct pm_vantage_state *vs = pm_tracker_vantage(r->tracker, 0);
    *start = vs ? vs->first_ts : PM_NS_NONE;
    *end = vs ? vs->last_ts : PM_NS_NONE;
    if (r->cfg->since != PM_NS_NONE) {
        *start = r->cfg->since;
    }
    if (r->cfg->until != PM_NS_NONE) {
        *end = r->cfg->until;
    }
}

static void scope_words(struct run *r)
{
    struct pm_dest **ds;
    size_t n = pm_context_dests_sorted(r->ctx, &ds);
    uint32_t failing = 0, ok = 0;
    const struct pm_dest *first_fail = NULL;
    int verdict_counts[PM_V__COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct pm_dest *d = ds[i];
        uint32_t good = d->by_outcome[PM_OUT_CONNECTED];
        uint32_t bad = 0;
        for (int o = 0; o < PM_OUT__COUNT; o++) {
            if (pm_outcome_is_failure((enum pm_outcome)o)) {
                bad += d->by_outcome[o];
            }
        }
        if (bad > 0 && good == 0) {
            failing++;
            if (!first_fail) {
                first_fail = d;
            }
            for (int v = 0; v < PM_V__COUNT; v++) {
                verdict_counts[v] += d->by_verdict[v] > 0;
            }
        } else if (good > 0) {
            ok++;
        }
    }
    r->sum.dests = (uint32_t)n;
    r->sum.dests_failing = failing;
    enum pm_verdict top = PM_V_INCONCLUSIVE;
    int topn = 0;
    for (int v = 0; v < PM_V__COUNT; v++) {
        if (v != PM_V_OK && verdict_counts[v] > topn) {
            topn = verdict_counts[v];
            top = (enum pm_verdict)v;
        }
    }
    char a[PM_ADDR_STRLEN];
    uint64_t undecided = r->sum.by_outcome[PM_OUT_INCOMPLETE];
    if (failing == 0) {
        r->sum.scope = PM_SCOPE_NONE;
        snprintf(r->sum.scope_text, sizeof(r->sum.scope_text), "%s",
                 n == 0 ? "no connection attempts to the watched ports in this input"
                 : undecided && ok < n
                     ? "no destination proven failing, but some attempts are inconclusive "
                       "(the capture ended or kept too little)"
                     : "no destination failing: every destination tried connected");
        snprintf(r->sum.next_step, sizeof(r->sum.next_step), "%s",
                 n ? "Nothing to do; if mail is still stuck, capture during a retry "
                     "(postqueue -f) with the MTA log."
                   : "Check the ports (--ports) and that the capture covers a delivery "
                     "attempt (postqueue -f while capturing).");
        return;
    }
    if (failing == n && n >= 2) {
        r->sum.scope = PM_SCOPE_ALL;
        snprintf(r->sum.scope_text, sizeof(r->sum.scope_text),
                 "all %u destinations failing (mostly %s): the cause is on the sender's side "
                 "(this host, its network or its provider)", failing, pm_verdict_name(top));
    } else if (failing == 1) {
        pm_addr_str(&first_fail->addr, a);
        r->sum.scope = PM_SCOPE_ONE;
        snprintf(r->sum.scope_text, sizeof(r->sum.scope_text),
                 "one destination failing (%s%s%s, %s)%s", a,
                 first_fail->name[0] ? " " : "", first_fail->name, pm_verdict_name(top),
                 ok ? ": others work, so the cause is at that recipient or on its path"
                    : "");
    } else {
        r->sum.scope = PM_SCOPE_SOME;
        snprintf(r->sum.scope_text, sizeof(r->sum.scope_text),
                 "%u of %zu destinations failing (mostly %s): look at what they share "
                 "(provider, path, recipient)", failing, n, pm_verdict_name(top));
    }
    /* The next step of the most common failing verdict, from its rule. */
    for (size_t i = 0; i < pm_nrules; i++) {
        if (pm_rules[i].verdict == top) {
            r->sum.next_step[0] = '\0';
            break;
        }
    }
}

static void emit_finding(struct run *r, struct pm_finding *f, const pm_addr *dst,
                         uint16_t dport, pm_ns ts, const pm_addr *src, uint16_t sport)
{
    count_finding(r, f);
    record_dest(r, f, dst, dport, ts, src, sport);
    pm_report_attempt(r->report, f, &r->env);
    if (r->sum.next_step[0] == '\0' && f->verdict != PM_V_OK &&
        f->verdict != PM_V_INCONCLUSIVE) {
        pm_strlcpy(r->sum.next_step, f->next_step, sizeof(r->sum.next_step));
    }
}

static int phase2(struct run *r)
{
    const struct pm_engine_config *cfg = r->cfg;
    find_one_sided(r);
    for (int v = 0; v < r->in->nvantage && v < PM_MAX_VANTAGES; v++) {
        r->vsp[v] = pm_tracker_vantage(r->tracker, v);
        r->env.vstate[v] = r->vsp[v];
    }
    /* MTA logs: loaded now, so that syslog times without a year are placed near the
     * capture. */
    struct pm_log_options lo = cfg->logopt;
    const struct pm_vantage_state *v0 = pm_tracker_vantage(r->tracker, 0);
    lo.ref_time = v0 && v0->first_ts != PM_NS_NONE ? v0->first_ts : PM_NS_NONE;
    for (int i = 0; i < cfg->nlogs; i++) {
        int rc = pm_logset_load(&r->logs, cfg->mta_logs[i], &lo);
        if (rc != 0) {
            return rc;
        }
    }
    if (cfg->nlogs) {
        pm_logset_finish(&r->logs);
    }
    r->corr = pm_correlator_new(cfg->nlogs ? &r->logs : NULL, cfg->log_offset);
    r->env.logs = cfg->nlogs ? &r->logs : NULL;

    /* pass A: learn */
    struct spooled s;
    rewind(r->spool);
    while (spool_read(r, &s)) {
        enum pm_outcome o = outcome_of(r, &s.a);
        pm_context_learn(r->ctx, &s.a, o);
        pm_correlator_sample(r->corr, &s.a);
    }
    pm_correlator_settle(r->corr);
    /* MX names from the log, so the text report and next steps can say who to call. */
    for (size_t i = 0; i < r->logs.n; i++) {
        const struct pm_logentry *e = &r->logs.e[i];
        if (e->addr.family && e->host[0] && strcmp(e->host, "none") != 0) {
            pm_context_dest_name(r->ctx, &e->addr, e->host);
        }
    }
    r->env.ctx = r->ctx;
    r->env.provider_pattern = pm_context_provider_pattern(r->ctx);

    /* Fresh destination counters for the verdict pass (pass A only filled port counts). */
    struct pm_dest **ds;
    size_t nd = pm_context_dests_sorted(r->ctx, &ds);
    for (size_t i = 0; i < nd; i++) {
        ds[i]->attempts = 0;
        memset(ds[i]->by_outcome, 0, sizeof(ds[i]->by_outcome));
        memset(ds[i]->by_verdict, 0, sizeof(ds[i]->by_verdict));
    }

    /* pass B: correlate, attribute, report */
    pm_correlator_reset(r->corr);
    rewind(r->spool);
    struct pm_finding f;
    uint32_t max_id = 0;
    while (spool_read(r, &s)) {
        enum pm_outcome o = outcome_of(r, &s.a);
        const struct pm_logentry *log = pm_correlator_match(r->corr, &s.a, o);
        pm_attribute(&f, &r->env, &s.a, s.has_smtp ? &s.smtp : NULL, o, log);
        emit_finding(r, &f, &s.a.srv, s.a.dport, s.a.first_syn, &s.a.cli, s.a.sport);
        if (s.a.id > max_id) {
            max_id = s.a.id;
        }
    }
    if (r->spool_error) {
        pm_err("cannot read back the spool of finished attempts: %s", strerror(r->spool_error));
        pm_hint("check free space in $TMPDIR (default /tmp)");
        return PM_EXIT_UNREADABLE;
    }
    /* Logged attempts that left nothing on the wire. */
    pm_ns ws, we;
    sender_window(r, &ws, &we);
    if (ws != PM_NS_NONE) {
        size_t cursor = 0;
        const struct pm_logentry *e;
        while ((e = pm_correlator_next_not_on_wire(r->corr, ws, we, &cursor)) != NULL) {
            pm_attribute(&f, &r->env, NULL, NULL, PM_OUT_NOT_ON_WIRE, e);
            f.id = ++max_id;
            char a[PM_ADDR_STRLEN], t1[32], t2[32];
            pm_finding_add(&f, "no SYN to %s:%u in the %s capture, which covers %s to %s UTC",
                           pm_addr_str(&e->addr, a), e->port ? e->port : 25,
                           r->in->vantage_names[0], pm_time_short(ws, t1, sizeof(t1)),
                           pm_time_short(we, t2, sizeof(t2)));
            emit_finding(r, &f, &e->addr, e->port ? e->port : 25,
                         pm_correlator_to_capture(r->corr, e->ts), NULL, 0);
        }
    }
    return 0;
}

/* ---- run ---- */

int pm_engine_analyze(const struct pm_engine_config *cfg, struct pm_inputset *in)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    r.cfg = cfg;
    r.in = in;
    r.t0 = pm_now_monotonic();
    struct pm_track_config tc = {0};
    memcpy(tc.ports, cfg->ports, sizeof(tc.ports));
    tc.nports = cfg->nports;
    tc.max_flows = cfg->max_flows;
    tc.max_sessions = cfg->max_sessions;
    tc.seed = cfg->seed;
    tc.nvantage = in->nvantage;
    r.tracker = pm_tracker_new(&tc, on_done, &r);
    r.spool = tmpfile();
    if (!r.spool) {
        pm_err("cannot create a temporary spool file: %s", strerror(errno));
        pm_hint("set TMPDIR to a writable directory with free space");
        pm_tracker_free(r.tracker);
        return PM_EXIT_UNREADABLE;
    }
    r.ctx = pm_context_new(in->nvantage, 65536, cfg->max_dests);
    r.report = pm_report_new(cfg->format, cfg->out, cfg->color);
    for (int i = 0; i < in->n; i++) {
        const char *p = in->in[i].path;
        const char *b = strrchr(p, '/');
        r.file_labels[i] = b ? b + 1 : p;
    }
    r.env.file_labels = r.file_labels;
    r.env.nfiles = in->n;
    r.env.vantage_names = (const char *const *)in->vantage_names;

    phase1(&r);
    if (r.spool_error) {
        pm_err("cannot write the spool of finished attempts: %s", strerror(r.spool_error));
        pm_hint("check free space in $TMPDIR (default /tmp)");
    }
    int rc = phase2(&r);

    /* Summary. */
    struct pm_run_summary *s = &r.sum;
    s->subcommand = cfg->subcommand ? cfg->subcommand : "analyze";
    s->argc = cfg->argc;
    s->argv = cfg->argv;
    s->in = in;
    s->logs = cfg->nlogs ? &r.logs : NULL;
    s->tc = pm_tracker_counters(r.tracker);
    s->nvantage = in->nvantage;
    s->vantage_names = (const char *const *)in->vantage_names;
    s->vs = r.vsp;
    s->corr = r.corr ? pm_correlator_stats(r.corr) : NULL;
    s->nports = cfg->nports;
    for (int i = 0; i < cfg->nports; i++) {
        s->ports[i] = cfg->ports[i];
    }
    s->first_ts = s->last_ts = PM_NS_NONE;
    for (int v = 0; v < in->nvantage; v++) {
        const struct pm_vantage_state *vs = pm_tracker_vantage(r.tracker, v);
        if (vs && vs->first_ts != PM_NS_NONE) {
            if (s->first_ts == PM_NS_NONE || vs->first_ts < s->first_ts) {
                s->first_ts = vs->first_ts;
            }
            if (s->last_ts == PM_NS_NONE || vs->last_ts > s->last_ts) {
                s->last_ts = vs->last_ts;
            }
        }
    }
    for (int i = 0; i < in->n; i++) {
        const struct pm_capfile_stats *st = pm_capfile_stats(in->in[i].cf);
        s->records_read += st->records;
        s->records_kept += st->filtered;
        if (st->damaged) {
            s->damaged = true;
            pm_strlcpy(s->damage, st->damage, sizeof(s->damage));
        }
    }
    scope_words(&r);
    uint64_t failures = 0;
    for (int o = 0; o < PM_OUT__COUNT; o++) {
        if (pm_outcome_is_failure((enum pm_outcome)o)) {
            failures += s->by_outcome[o];
        }
    }
    if (rc != 0) {
        s->exit_status = rc;
    } else if (s->damaged) {
        s->exit_status = PM_EXIT_DAMAGED;
    } else {
        s->exit_status = failures ? PM_EXIT_FAILURES : PM_EXIT_OK;
    }
    s->elapsed = pm_now_monotonic() - r.t0;
    if (rc == 0) {
        pm_report_finish(r.report, r.ctx, s);
    }
    if (s->damaged) {
        pm_err("%s", s->damage);
        pm_hint("the results above cover the readable part of the capture only");
    }
    int status = s->exit_status;
    pm_report_free(r.report);
    pm_correlator_free(r.corr);
    pm_context_free(r.ctx);
    pm_logset_free(&r.logs);
    pm_tracker_free(r.tracker);
    fclose(r.spool);
    return status;
}
