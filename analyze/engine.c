/*
 * engine.c — owns one analysis run (include/engine.h).
 *
 * Offline:  records → decode → tracker → finished attempts appended to a spool file
 *           (fixed-size records; memory stays bounded by concurrent flows). At the end,
 *           pass A over the spool learns outcomes, hop references, destination counts and
 *           clock-offset samples; pass B matches the MTA log, attributes every attempt and
 *           reports it, so that a verdict can use everything the capture shows (a later
 *           SYN-ACK from the same host, port 587 working while 25 fails).
 * Live:     each finished attempt is learnt from, matched, attributed and reported at once
 *           with what is known so far: the finished attempts, and the hop references of the
 *           attempts still open (learnt from each SYN-ACK as it arrives). At the stop, the
 *           attempts still open are all learnt from first, then decided (as offline), so that
 *           none is judged without the others. Logged attempts with no SYN are reported when
 *           their line is old enough that a SYN would have been seen.
 * Both:     logged attempts that left nothing on the wire become not-on-wire attempts;
 *           destinations, the summary and the bundle close the run.
 */
#include "engine.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "attribute.h"
#include "bundle.h"
#include "context.h"
#include "correlate.h"
#include "decode.h"
#include "nat.h"
#include "report.h"
#include "tables.h"
#include "scope.h"
#include "util.h"

#define SPOOL_MAGIC 0x706d7370u /* "pmsp" */

struct spool_hdr {
    uint32_t magic;
    uint32_t has_smtp;
};

struct recent_syn {
    pm_addr dst;
    uint16_t dport;
    pm_ns ts;
};

struct pm_engine {
    struct pm_engine_config cfg;
    struct pm_engine_source src;
    struct pm_tracker *tracker;
    FILE *spool;
    FILE *spool_in;           /* read side once writing failed (the write side's buffer is stuck) */
    uint64_t spooled;         /* records fwrite accepted */
    uint64_t spool_lost;      /* finished attempts not written (counted as they come) */
    bool spool_full;          /* a write failed ($TMPDIR full, file size limit): stop writing */
    int spool_werr;
    int spool_error;          /* reading back failed */
    struct pm_context *ctx;
    struct pm_logset logs;
    pm_engine_syn_fn on_syn;  /* live: told of each watched SYN (capture/live.c's routes) */
    void *on_syn_ctx;
    pm_engine_attempt_fn on_attempt; /* capture/watch.c, or NULL */
    void *on_attempt_ctx;
    struct pm_correlator *corr;
    struct pm_report *report;
    struct pm_bundle *bundle;
    struct pm_nat *nat;
    uint64_t merged;          /* far views of linked attempts, reported with the near one */
    uint64_t unplaced_failures; /* failed attempts the full destination table could not hold */
    struct {
        pm_addr addr;
        char next[400];
    } walks[PM_WALK_NEXTS];   /* a probe's TTL walks: the next step each one gives */
    int nwalks;
    struct pm_attr_env env;
    struct pm_run_summary sum;
    const struct pm_vantage_state *vsp[PM_MAX_VANTAGES];
    uint32_t next_id;
    pm_ns t0, now;
    /* live */
    struct spooled *held;     /* at the stop: attempts finalised, learnt from, not decided yet */
    size_t nheld, held_cap;
    bool holding;
    struct recent_syn *recent;
    uint32_t nrecent;
    size_t log_scan;
    pm_ns next_log_scan;
    char *host_context;
    const char *capture_paths[PM_MAX_INPUTS];
    int capture_fds[PM_MAX_INPUTS]; /* -1: read by path; -2: a stream, read once */
    int ncapture_paths;
    uint64_t records;
    uint64_t idle_records;    /* a stream's silence: records when it began, */
    int64_t idle_secs;        /* its length so far, */
    pm_ns idle_base;          /* and the capture time it began at */
    char verdict_next[PM_V__COUNT][360]; /* first next step seen per verdict */
};

uint32_t pm_engine_default_flows(uint64_t max_memory)
{
    /* Open attempts may take up to half the budget: a slot, its extension and its share of
     * the two bucket arrays are ~320 bytes (1.7 M flows at the default 1 GiB). The pools are
     * reserved, not touched: pages are used (and charged) as the slots are. */
    uint64_t m = max_memory ? max_memory : PM_DEFAULT_MAX_MEMORY;
    uint64_t n = m / 2 / 320;
    return n < PM_FLOWS_MIN ? PM_FLOWS_MIN : n > PM_FLOWS_MAX ? PM_FLOWS_MAX : (uint32_t)n;
}

/* ---- per-attempt processing ---- */

/* When the capture at vantage v stopped covering: its last record, filtered or not (a SYN
 * followed by ten seconds of other traffic was watched for ten seconds). */
static pm_ns vantage_end(struct pm_engine *e, int v)
{
    const struct pm_vantage_state *vs = pm_tracker_vantage(e->tracker, v);
    pm_ns end = vs ? vs->last_ts : PM_NS_NONE;
    for (int i = 0; e->src.in && i < e->src.in->n; i++) {
        const struct pm_input *in = &e->src.in->in[i];
        const struct pm_capfile_stats *st = pm_capfile_stats(in->cf);
        if (in->vantage == v && st->last_ts != PM_NS_NONE &&
            (end == PM_NS_NONE || st->last_ts > end)) {
            end = st->last_ts;
        }
    }
    return end;
}

static enum pm_outcome outcome_of(struct pm_engine *e, const struct pm_attempt *a)
{
    pm_ns end = vantage_end(e, a->vantage);
    if (e->src.live && e->now != PM_NS_NONE && (end == PM_NS_NONE || e->now > end)) {
        end = e->now; /* live: the capture covered until now, even if nothing arrived */
    }
    bool one_sided = e->env.vantage_one_sided[a->vantage < PM_MAX_VANTAGES ? a->vantage : 0];
    return pm_attempt_outcome(a, end, one_sided);
}

/* A capture file set that never shows a reply (a record from an address an earlier record
 * went to: capin.c) while this vantage sent SYNs holds one direction only (tcpdump -Q out, a
 * one-way tap). A live capture sees both directions of its interface by construction, and
 * its kernel filter hides the traffic that would prove it: never judged one-directional. */
static bool vantage_one_direction(struct pm_engine *e, int v)
{
    const struct pm_vantage_state *vs = pm_tracker_vantage(e->tracker, v);
    if (e->src.live || !e->src.in || !vs || vs->syns_out == 0 || vs->from_servers > 0) {
        return false;
    }
    uint64_t ip = 0;
    for (int i = 0; i < e->src.in->n; i++) {
        const struct pm_input *in = &e->src.in->in[i];
        if (in->vantage != v) {
            continue;
        }
        const struct pm_capfile_stats *st = pm_capfile_stats(in->cf);
        if (st->two_way) {
            return false;
        }
        ip += st->ip_records;
    }
    return ip > 0;
}

/* A vantage where clients acknowledge SYN-ACKs we never see, and no server packet at all
 * arrives, is one-sided: its silences prove nothing. So is one that holds no inbound packet
 * at all (issue 14). */
static void find_one_sided(struct pm_engine *e)
{
    for (int v = 0; v < e->src.nvantage && v < PM_MAX_VANTAGES; v++) {
        const struct pm_vantage_state *vs = pm_tracker_vantage(e->tracker, v);
        e->env.vantage_one_direction[v] = vantage_one_direction(e, v);
        e->env.vantage_one_sided[v] =
            (vs && vs->one_sided_evidence > 0 && vs->from_servers == 0) ||
            e->env.vantage_one_direction[v];
    }
}

static void record_sample(struct pm_dest *d, const struct pm_finding *f, uint16_t dport,
                          pm_ns ts, const pm_addr *src, uint16_t sport);

static void record_dest(struct pm_engine *e, const struct pm_finding *f, const pm_addr *dst,
                        uint16_t dport, pm_ns ts, const pm_addr *src, uint16_t sport)
{
    struct pm_dest *d = pm_context_dest(e->ctx, dst, true);
    /* A probe's compared ports are evidence: listed with the destination, but its state,
     * verdict, the scope and the exit status are the diagnosed port's (engine.h). */
    bool evidence = e->cfg.diag_port && dport != e->cfg.diag_port;
    if (!d) {
        if (!evidence) {
            e->unplaced_failures += pm_outcome_is_failure(f->outcome); /* exit (scope.c) */
        }
        /* one reported attempt left out of the destination list (flag table-full),
         * counted once per reported attempt */
        pm_context_dest_overflowed(e->ctx);
        pm_table_lost(PM_TAB_DESTS, 1, pm_context_dests_full_by_memory(e->ctx));
        return;
    }
    if (evidence) {
        d->evidence++;
        if (e->cfg.format == PM_FMT_TEXT) {
            record_sample(d, f, dport, ts, src, sport);
        }
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
    int pi = -1;
    for (int i = 0; i < d->nports; i++) {
        if (d->ports[i] == dport) {
            pi = i;
        }
    }
    if (pi < 0 && d->nports < PM_DEST_PORTS) {
        pi = d->nports++;
        d->ports[pi] = dport;
    }
    if (pi >= 0) {
        d->port_ok[pi] += f->outcome == PM_OUT_CONNECTED;
        d->port_fail[pi] += pm_outcome_is_failure(f->outcome) ? 1u : 0u;
    }
    pm_dest_note(d, dport, ts, f->outcome); /* its latest state (scope.c) */
    if (d->nids < PM_DEST_IDS) {
        d->ids[d->nids++] = f->id;
    } else {
        d->ids_truncated = 1;
    }
    if (f->log && f->log->host[0]) {
        pm_context_dest_name(e->ctx, dst, f->log->host);
    }
    if (e->cfg.format == PM_FMT_TEXT) {
        /* the samples are for the text report only: JSON lists every attempt */
        record_sample(d, f, dport, ts, src, sport);
    }
}

/* A verdict's first and last attempt time at this destination, for the text report's
 * counts and time ranges once the samples are full (issue 15.4): kept from the moment the
 * samples hold every attempt so far, seeded from them. Without memory, the ranges are
 * left out and the report says only the counts. */
static void note_vtime(struct pm_dest *d, enum pm_verdict v, pm_ns ts)
{
    if (!d->vtimes && d->nsamples == PM_DEST_SAMPLES && d->samples_dropped == 0) {
        size_t sz = sizeof(*d->vtimes) * PM_V__COUNT;
        if (pm_mem_take(sz)) { /* charged like the samples, and like them kept to the end */
            d->vtimes = malloc(sz);
            if (!d->vtimes) {
                pm_mem_give(sz);
            }
        }
        for (int i = 0; d->vtimes && i < PM_V__COUNT; i++) {
            d->vtimes[i][0] = d->vtimes[i][1] = PM_NS_NONE;
        }
        for (int i = 0; d->vtimes && i < d->nsamples; i++) {
            note_vtime(d, (enum pm_verdict)d->samples[i].verdict, d->samples[i].ts);
        }
    }
    if (!d->vtimes || ts == PM_NS_NONE || (unsigned)v >= PM_V__COUNT) {
        return;
    }
    pm_ns *r = d->vtimes[v];
    if (r[0] == PM_NS_NONE || ts < r[0]) {
        r[0] = ts;
    }
    if (r[1] == PM_NS_NONE || ts > r[1]) {
        r[1] = ts;
    }
}

/* Samples for the text report: failures displace successes; kept in time order. */
static void record_sample(struct pm_dest *d, const struct pm_finding *f, uint16_t dport,
                          pm_ns ts, const pm_addr *src, uint16_t sport)
{
    struct pm_dest_sample smp = {.id = f->id, .ts = ts, .dport = dport,
                                 .outcome = (uint8_t)f->outcome, .verdict = (uint8_t)f->verdict,
                                 .sport = sport};
    if (src) {
        smp.src = *src;
    }
    pm_strlcpy(smp.clue, f->clue, sizeof(smp.clue));
    note_vtime(d, f->verdict, ts);
    int slot = -1;
    if (d->nsamples < PM_DEST_SAMPLES && d->nsamples == d->samples_cap) {
        uint8_t ncap = d->samples_cap ? (uint8_t)(d->samples_cap * 2) : 1;
        ncap = ncap > PM_DEST_SAMPLES ? PM_DEST_SAMPLES : ncap;
        size_t more = (size_t)(ncap - d->samples_cap) * sizeof(*d->samples);
        struct pm_dest_sample *ns = NULL;
        if (pm_mem_take(more)) { /* charged to the budget; not given back before the end */
            ns = realloc(d->samples, ncap * sizeof(*ns));
            if (!ns) {
                pm_mem_give(more);
            }
        }
        if (ns) { /* no memory (or budget): the sample is counted as dropped below */
            d->samples = ns;
            d->samples_cap = ncap;
        }
    }
    if (d->nsamples < d->samples_cap) {
        slot = d->nsamples++;
    } else if (d->nsamples == PM_DEST_SAMPLES && f->verdict != PM_V_OK) {
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
    while (slot > 0 && d->samples[slot - 1].ts > ts) {
        d->samples[slot] = d->samples[slot - 1];
        slot--;
    }
    d->samples[slot] = smp;
}

static void emit_finding(struct pm_engine *e, struct pm_finding *f, const pm_addr *dst,
                         uint16_t dport, pm_ns ts, const pm_addr *src, uint16_t sport)
{
    e->sum.attempts++;
    e->sum.by_outcome[f->outcome]++;
    e->sum.by_verdict[f->verdict]++;
    if (ts != PM_NS_NONE) {
        pm_ns *vt = e->sum.vtime[f->verdict];
        if (e->sum.vtimed[f->verdict]++ == 0) {
            vt[0] = vt[1] = ts;
        }
        vt[0] = ts < vt[0] ? ts : vt[0];
        vt[1] = ts > vt[1] ? ts : vt[1];
    }
    e->sum.inconsistent += f->inconsistent;
    record_dest(e, f, dst, dport, ts, src, sport);
    if (!e->verdict_next[f->verdict][0]) {
        pm_strlcpy(e->verdict_next[f->verdict], f->next_step, sizeof(e->verdict_next[0]));
    }
    pm_report_attempt(e->report, f, &e->env);
    if (e->bundle) {
        pm_bundle_attempt(e->bundle, f, &e->env);
    }
    if (e->on_attempt) {
        e->on_attempt(e->on_attempt_ctx, f, &e->env, dst, dport, ts);
    }
}

/* A bounded table that lost something this attempt's report rests on: its destination
 * (not in the destination list), its far view (NAT facts), or the hop reference an answer
 * would be compared with. */
static uint32_t table_full_flag(struct pm_engine *e, const struct pm_attempt *a)
{
    if (pm_context_dests_overflow(e->ctx) && !pm_context_dest(e->ctx, &a->srv, false)) {
        return PM_AF_TABLE_FULL;
    }
    if (pm_nat_view_lost(e->nat, a)) {
        return PM_AF_TABLE_FULL;
    }
    if (pm_context_hosts_overflow(e->ctx) &&
        (a->answer == PM_ANS_RST || a->answer == PM_ANS_ICMP) &&
        pm_context_hops(e->ctx, a->vantage, &a->srv).hops < 0) {
        return PM_AF_TABLE_FULL;
    }
    return 0;
}

static void prepare_env(struct pm_engine *e)
{
    find_one_sided(e);
    for (int v = 0; v < e->src.nvantage && v < PM_MAX_VANTAGES; v++) {
        e->vsp[v] = pm_tracker_vantage(e->tracker, v);
        e->env.vstate[v] = e->vsp[v];
    }
    e->env.ctx = e->ctx;
    e->env.logs = e->logs.nfiles ? &e->logs : NULL;
    e->env.provider_pattern = pm_context_provider_pattern(e->ctx);
}

/* Live: learn from a finished attempt (what pass A does offline). */
static void live_learn(struct pm_engine *e, const struct pm_attempt *a)
{
    pm_context_learn(e->ctx, a, outcome_of(e, a));
    pm_nat_learn(e->nat, a);
}

/* Live: decide a finished attempt, already learnt from, with what is known now. */
static void live_decide(struct pm_engine *e, const struct pm_attempt *a0,
                        const struct pm_smtp_summary *smtp)
{
    struct pm_attempt flagged;
    const struct pm_attempt *a = a0;
    uint32_t lost = table_full_flag(e, a0);
    if (lost) {
        flagged = *a0;
        flagged.flags |= lost;
        a = &flagged;
    }
    enum pm_outcome o = outcome_of(e, a);
    pm_correlator_refresh(e->corr);
    prepare_env(e);
    struct pm_nat_facts nf;
    if (a->peer.id) {
        /* The far view may still be open: take its current state. */
        struct pm_attempt far;
        if (pm_tracker_snapshot(e->tracker, a->peer.vantage, &a->peer.cli, &a->srv,
                                a->peer.sport, a->dport, &far)) {
            pm_nat_learn_snapshot(e->nat, &far);
        }
    }
    pm_nat_facts(e->nat, a, a->answer != PM_ANS_NONE, &nf);
    if (nf.outer_view) {
        e->merged++;
        return;
    }
    const struct pm_logentry *log = pm_correlator_match(e->corr, a, o);
    struct pm_finding f;
    pm_attribute(&f, &e->env, a, smtp, o, log, &nf);
    emit_finding(e, &f, &a->srv, a->dport, a->first_syn, &a->cli, a->sport);
    fflush(e->cfg.out);
}

static void hold_attempt(struct pm_engine *e, const struct pm_attempt *a,
                         const struct pm_smtp_summary *smtp);

static void on_done(void *ctx, const struct pm_attempt *a, const struct pm_smtp_summary *smtp)
{
    struct pm_engine *e = ctx;
    if (a->id >= e->next_id) {
        e->next_id = a->id + 1;
    }
    if (e->src.live) {
        live_learn(e, a);
        if (e->holding) {
            hold_attempt(e, a, smtp); /* the stop: decided once all are learnt from */
        } else {
            live_decide(e, a, smtp);
        }
        return;
    }
    if (e->spool_full) {
        e->spool_lost++;
        pm_table_lost(PM_TAB_SPOOL, 1, false);
        return;
    }
    struct spool_hdr h = {SPOOL_MAGIC, smtp != NULL};
    errno = 0;
    if (fwrite(&h, sizeof(h), 1, e->spool) != 1 || fwrite(a, sizeof(*a), 1, e->spool) != 1 ||
        (smtp && fwrite(smtp, sizeof(*smtp), 1, e->spool) != 1)) {
        /* $TMPDIR is full (or a file size limit): the attempts spooled so far are still
         * analysed; this one and the later ones are counted as lost (exit 4). */
        e->spool_full = true;
        e->spool_werr = errno ? errno : EIO;
        pm_err("cannot write the spool of finished attempts: %s", strerror(e->spool_werr));
        pm_hint("set TMPDIR to a directory with free space (each attempt needs ~%zu bytes)",
                sizeof(h) + sizeof(*a) + sizeof(*smtp));
        e->spool_lost++;
        pm_table_lost(PM_TAB_SPOOL, 1, false);
        return;
    }
    e->spooled++;
}

/* ---- construction and input ---- */

/* The MTA's connect timer as given; 0 or less (a zeroed config) means "not given": the
 * command line turns Sendmail's "0 = the kernel's" into 127 s before it gets here. */
static pm_ns connect_timeout_of(const struct pm_engine_config *cfg)
{
    return cfg->mta_connect_timeout > 0 ? cfg->mta_connect_timeout : PM_NS_NONE;
}

struct pm_engine *pm_engine_new(const struct pm_engine_config *cfg,
                                const struct pm_engine_source *src)
{
    struct pm_engine *e = pm_xcalloc(1, sizeof(*e));
    e->cfg = *cfg;
    e->src = *src;
    e->t0 = pm_now_monotonic();
    e->now = PM_NS_NONE;
    e->next_id = 1;
    if (cfg->bundle_dir) {
        char err[512];
        struct pm_bundle_options bo = {
            .store = cfg->bundle_store,
            .host_context = cfg->bundle_host_context,
            .redact = cfg->bundle_redact,
            .expect_source = cfg->expect_source,
            .nexpect = cfg->nexpect,
        };
        e->bundle = pm_bundle_open_with(cfg->bundle_dir, &bo, err, sizeof(err));
        if (!e->bundle) {
            pm_err("%s", err);
            free(e);
            return NULL;
        }
        /* The key now, not at the end: a live capture is still root here, and a bad key
         * should stop the run before it starts rather than lose its bundle at the end. */
        if (cfg->sign_key && pm_bundle_load_key(e->bundle, cfg->sign_key) != 0) {
            pm_hint("the bundle was not started; give an unencrypted PEM Ed25519 private key "
                    "(openssl genpkey -algorithm ed25519 -out key.pem)");
            pm_bundle_abort(e->bundle);
            free(e);
            return NULL;
        }
    }
    if (!src->live) {
        /* A file size limit (ulimit -f) then fails the write (EFBIG), which is counted like
         * a full $TMPDIR, instead of killing the run. */
        signal(SIGXFSZ, SIG_IGN);
        e->spool = tmpfile();
        if (!e->spool) {
            pm_err("cannot create a temporary spool file: %s", strerror(errno));
            pm_hint("set TMPDIR to a writable directory with free space");
            if (e->bundle) {
                pm_bundle_abort(e->bundle);
            }
            free(e);
            return NULL;
        }
    } else {
        e->recent = pm_xcalloc(PM_LIVE_RECENT_SYNS, sizeof(*e->recent));
    }
    pm_tables_reset(cfg->max_memory);
    struct pm_track_config tc = {0};
    memcpy(tc.ports, cfg->ports, sizeof(tc.ports));
    tc.nports = cfg->nports;
    tc.max_flows = cfg->max_flows ? cfg->max_flows : pm_engine_default_flows(cfg->max_memory);
    tc.max_sessions = cfg->max_sessions;
    pm_table_set_cap(PM_TAB_FLOWS, tc.max_flows);
    if (!cfg->max_flows) {
        pm_table_cap_derived(PM_TAB_FLOWS);
    }
    pm_table_set_cap(PM_TAB_SESSIONS, cfg->max_sessions);
    pm_table_set_cap(PM_TAB_DESTS, cfg->max_dests);
    tc.seed = cfg->seed;
    tc.nvantage = src->nvantage;
    e->tracker = pm_tracker_new(&tc, on_done, e);
    e->ctx = pm_context_new(src->nvantage, 0, cfg->max_dests);
    e->report = pm_report_new(cfg->format, cfg->out, cfg->color);
    pm_report_set_stream(e->report, src->live);
    e->nat = pm_nat_new(src->nvantage, cfg->expect_source, cfg->nexpect);
    e->env.file_labels = src->file_labels;
    e->env.nfiles = src->nfiles;
    e->env.vantage_names = src->vantage_names;
    if (src->live) {
        e->corr = pm_correlator_new(&e->logs, cfg->log_offset);
        pm_correlator_set_connect_timeout(e->corr, connect_timeout_of(cfg));
        prepare_env(e);
    }
    return e;
}

static void remember_syn(struct pm_engine *e, const struct pm_pkt *p)
{
    if (!e->recent || !(p->flags & PM_TH_SYN) || (p->flags & PM_TH_ACK) ||
        !pm_tracker_port_watched(e->tracker, p->dport)) {
        return;
    }
    struct recent_syn *r = &e->recent[e->nrecent++ % PM_LIVE_RECENT_SYNS];
    r->dst = p->dst;
    r->dport = p->dport;
    r->ts = p->ts;
}

/* Any packet of the capture is a hop reference for its source (context.c), whatever port
 * or protocol it used: a SYN-ACK on 443, a DNS answer, an ICMP echo reply or error. Not a
 * RST (what a forger sends, and what is being judged) and not one that never crossed a
 * wire (a local REJECT answers on loopback in the MX's name). */
static void hop_reference(struct pm_engine *e, const struct pm_pkt *p, uint16_t file)
{
    if (p->family == 0 || p->on_loopback || p->status == PM_PKT_BAD ||
        (p->proto == 6 && (!p->tcp_flags_ok || (p->flags & PM_TH_RST)))) {
        return; /* a TCP segment cut before its flags may be a RST: not learnt from */
    }
    enum pm_hopkind kind = PM_HK_OTHER;
    uint16_t port = 0;
    if (p->frag_later) {
        kind = PM_HK_OTHER;
    } else if (p->proto == 6) {
        kind = (p->flags & (PM_TH_SYN | PM_TH_ACK)) == (PM_TH_SYN | PM_TH_ACK) ? PM_HK_SYNACK
                                                                               : PM_HK_TCP;
        port = p->sport;
    } else if (p->proto == 17) {
        kind = p->sport == 53 ? PM_HK_DNS : PM_HK_UDP;
        port = p->sport;
    } else if (p->proto == 1 || p->proto == 58) {
        bool echo = p->proto == 1 ? (p->icmp_type == 0 || p->icmp_type == 8)
                                  : (p->icmp_type == 128 || p->icmp_type == 129);
        kind = p->icmp_is_error ? PM_HK_ICMP_ERROR : echo ? PM_HK_ICMP_ECHO : PM_HK_ICMP;
    }
    struct pm_pktref ref = {.frame = p->frame, .file = file};
    pm_context_learn_packet(e->ctx, p->vantage, &p->src, p->ttl, ref, kind, port);
}

/* Offline: a record the attempt filter dropped. Only the headers a reference needs are
 * decoded; nothing else happens to it. */
static void side_record(void *ctx, const struct pm_record *rec)
{
    struct pm_engine *e = ctx;
    struct pm_pkt pkt;
    pkt.ts = rec->ts;
    pkt.frame = rec->frame;
    pkt.vantage = rec->vantage;
    pkt.on_loopback = rec->ifloop;
    pm_decode_head(&pkt, rec->linktype, rec->data, rec->caplen, rec->wirelen);
    hop_reference(e, &pkt, rec->file);
}

void pm_engine_packet(struct pm_engine *e, const struct pm_record *rec)
{
    struct pm_pkt pkt;
    pkt.ts = rec->ts;
    pkt.frame = rec->frame;
    pkt.vantage = rec->vantage;
    pkt.on_loopback = rec->ifloop;
    pm_decode(&pkt, rec->linktype, rec->data, rec->caplen, rec->wirelen);
    if (e->recent && pkt.proto == 6 && pkt.tcp_flags_ok) {
        remember_syn(e, &pkt);
    }
    if (e->on_syn && pkt.proto == 6 && pkt.tcp_flags_ok && (pkt.flags & PM_TH_SYN) &&
        !(pkt.flags & (PM_TH_ACK | PM_TH_RST)) && !pkt.on_loopback &&
        pm_tracker_port_watched(e->tracker, pkt.dport)) {
        /* Before the packet is used, as when the caller decoded it a second time itself. */
        e->on_syn(e->on_syn_ctx, pkt.vantage, &pkt.dst);
    }
    if (e->now == PM_NS_NONE || rec->ts > e->now) {
        e->now = rec->ts;
    }
    e->records++;
    hop_reference(e, &pkt, rec->file);
    pm_tracker_packet(e->tracker, &pkt, rec->file);
    if (e->src.live && pkt.proto == 6 && pkt.tcp_flags_ok &&
        (pkt.flags & (PM_TH_SYN | PM_TH_ACK | PM_TH_RST)) == (PM_TH_SYN | PM_TH_ACK) &&
        pm_tracker_port_watched(e->tracker, pkt.sport)) {
        /* A SYN-ACK: its hop count is a reference for the attempts decided while this one is
         * still open (a RST from the same host or /24, the same prefix on another port). The
         * tracker checked it (ack = ISN+1) when it took it as the answer. */
        struct pm_attempt open;
        if (pm_tracker_snapshot(e->tracker, pkt.vantage, &pkt.dst, &pkt.src, pkt.dport,
                                pkt.sport, &open)) {
            pm_context_learn_hops(e->ctx, &open);
        }
    }
}

void pm_engine_set_syn_hook(struct pm_engine *e, pm_engine_syn_fn fn, void *ctx)
{
    e->on_syn = fn;
    e->on_syn_ctx = ctx;
}

void pm_engine_set_attempt_hook(struct pm_engine *e, pm_engine_attempt_fn fn, void *ctx)
{
    e->on_attempt = fn;
    e->on_attempt_ctx = ctx;
}

void pm_engine_side_packet(struct pm_engine *e, const struct pm_record *rec)
{
    side_record(e, rec);
}

/* The /24 or /48 of an address (what the side filter asks for). */
static pm_addr side_prefix(const pm_addr *a)
{
    pm_addr p = *a;
    if (a->family == PM_AF_INET) {
        p.b[3] = 0;
    } else {
        memset(p.b + 6, 0, 10);
    }
    return p;
}

int pm_engine_recent_prefixes(const struct pm_engine *e, pm_addr *out, int max)
{
    int n = 0;
    uint32_t have = PM_MIN(e->nrecent, (uint32_t)PM_LIVE_RECENT_SYNS);
    for (uint32_t k = 0; k < have && n < max; k++) {
        const struct recent_syn *r = &e->recent[(e->nrecent - 1 - k) % PM_LIVE_RECENT_SYNS];
        pm_addr p = side_prefix(&r->dst);
        bool seen = false;
        for (int j = 0; j < n && !seen; j++) {
            seen = pm_addr_eq(&out[j], &p);
        }
        if (!seen) {
            out[n++] = p;
        }
    }
    return n;
}

void pm_engine_hopref(struct pm_engine *e, const struct pm_engine_hopref *h)
{
    pm_context_add_hopref(e->ctx, h->vantage, &h->host, h->hops, (enum pm_hopsrc)h->src);
}

void pm_engine_walk_next(struct pm_engine *e, const pm_addr *dst, const char *next)
{
    int i = 0;
    while (i < e->nwalks && !pm_addr_eq(&e->walks[i].addr, dst)) {
        i++;
    }
    if (i == PM_WALK_NEXTS) {
        return; /* more walked addresses than a probe makes (--max-addrs) */
    }
    e->walks[i].addr = *dst;
    pm_strlcpy(e->walks[i].next, next, sizeof(e->walks[i].next));
    e->nwalks = i == e->nwalks ? i + 1 : e->nwalks;
}

void pm_engine_drop_hop(struct pm_engine *e, const pm_addr *dst, int hop, const pm_addr *last)
{
    pm_context_drop_hop(e->ctx, dst, hop, last);
}

void pm_engine_live_stats(struct pm_engine *e, const struct pm_live_stats *st)
{
    e->sum.live = true;
    e->sum.kernel_received = st->received;
    e->sum.kernel_dropped = st->dropped;
    e->sum.if_dropped = st->if_dropped;
    e->sum.nlive_ifs = st->nifs < 0 ? 0 : PM_MIN(st->nifs, PM_CAP_MAX_IFACES);
    memcpy(e->sum.live_ifs, st->ifs, sizeof(st->ifs[0]) * (size_t)e->sum.nlive_ifs);
    pm_strlcpy(e->sum.privileges, st->privileges, sizeof(e->sum.privileges));
    e->env.capture_drops = st->dropped + st->if_dropped;
}

void pm_engine_host_context(struct pm_engine *e, const char *text)
{
    free(e->host_context);
    e->host_context = text ? pm_xstrdup(text) : NULL;
}

void pm_engine_capture_files(struct pm_engine *e, const char *const *paths, const int *fds,
                             int n)
{
    e->ncapture_paths = 0;
    for (int i = 0; i < n && i < PM_MAX_INPUTS; i++) {
        e->capture_fds[e->ncapture_paths] = fds ? fds[i] : -1;
        e->capture_paths[e->ncapture_paths++] = paths[i];
    }
}

/* ---- MTA log lines and not-on-wire ---- */

static uint32_t log_file_index(struct pm_engine *e, const char *path)
{
    for (uint32_t i = 0; i < e->logs.nfiles; i++) {
        if (!strcmp(e->logs.files[i].path, path)) {
            return i;
        }
    }
    e->logs.files = pm_xreallocarray(e->logs.files, e->logs.nfiles + 1, sizeof(*e->logs.files));
    struct pm_logfile_stats *fs = &e->logs.files[e->logs.nfiles];
    memset(fs, 0, sizeof(*fs));
    fs->path = pm_xstrdup(path);
    fs->format = "followed";
    return e->logs.nfiles++;
}

void pm_engine_log_entry(struct pm_engine *e, const char *path, const struct pm_logentry *le)
{
    size_t max = e->cfg.logopt.max_entries ? e->cfg.logopt.max_entries : (size_t)1 << 28;
    if (le->queued) {
        pm_logset_add_anchor(&e->logs, le); /* when a message was queued: no attempt */
        return;
    }
    uint32_t fi = log_file_index(e, path);
    struct pm_logfile_stats *fs = &e->logs.files[fi];
    fs->lines++;
    fs->parsed++;
    if (le->kind == PM_LK_NO_ATTEMPT) {
        fs->no_attempt++;
    }
    if (le->mta) {
        fs->mta = le->mta;
    }
    if (!pm_logset_reserve(&e->logs, max)) {
        return;
    }
    e->logs.e[e->logs.n] = *le;
    e->logs.e[e->logs.n].file = fi;
    e->logs.n++;
}

/* Was a SYN to dst:dport seen around t (live)? */
static bool recent_syn_to(const struct pm_engine *e, const pm_addr *dst, uint16_t dport, pm_ns t)
{
    uint32_t n = PM_MIN(e->nrecent, (uint32_t)PM_LIVE_RECENT_SYNS);
    for (uint32_t i = 0; i < n; i++) {
        const struct recent_syn *r = &e->recent[i];
        if (r->dport == dport && pm_addr_eq(&r->dst, dst) && r->ts >= t - PM_CORR_CONNECT_MAX &&
            r->ts <= t + PM_CORR_TOL) {
            return true;
        }
    }
    return false;
}

/* The sending host's address at the first vantage, for attempts that left no packet: a
 * SYN source of the same family if any, else the capture host guessed from its records. */
static bool sender_address(struct pm_engine *e, uint8_t family, pm_addr *out)
{
    const struct pm_vantage_state *vs = pm_tracker_vantage(e->tracker, 0);
    for (int i = 0; vs && i < vs->nlocal; i++) {
        if (vs->local[i].family == family) {
            *out = vs->local[i];
            return true;
        }
    }
    for (int i = 0; e->src.in && i < e->src.in->n; i++) {
        if (e->src.in->in[i].vantage == 0 &&
            pm_capfile_host_address(e->src.in->in[i].cf, family, out)) {
            return true;
        }
    }
    return false;
}

static void emit_not_on_wire(struct pm_engine *e, const struct pm_logentry *le, pm_ns ws,
                             pm_ns we)
{
    struct pm_finding f;
    pm_attribute(&f, &e->env, NULL, NULL, PM_OUT_NOT_ON_WIRE, le, NULL);
    f.id = e->next_id++;
    char a[PM_ADDR_STRLEN], h[PM_ADDR_STRLEN], t1[32], t2[32];
    pm_addr host;
    bool have_host = sender_address(e, le->addr.family, &host);
    if (have_host) {
        f.src = host;
    }
    pm_finding_add(&f, "no SYN to %s:%u in the %s capture%s%s%s, which covers %s to %s UTC",
                   pm_addr_str(&le->addr, a), le->port ? le->port : 25,
                   e->src.vantage_names[0], have_host ? " of the sending host (" : "",
                   have_host ? pm_addr_str(&host, h) : "", have_host ? ")" : "",
                   pm_time_short(ws, t1, sizeof(t1)), pm_time_short(we, t2, sizeof(t2)));
    /* Why the whole time its SYNs could have left is inside that window. */
    struct pm_syn_interval iv;
    pm_correlator_syn_interval(e->corr, le, &iv);
    char why[160], d1[32], d2[32], t3[32], t4[32];
    pm_syn_interval_words(&iv, le, why, sizeof(why));
    pm_finding_add(&f, "its SYNs must have left between %s and %s UTC (%s, to the line's time "
                   "plus its %s stamp resolution%s%s%s): inside the capture",
                   pm_time_short(iv.lo, t3, sizeof(t3)), pm_time_short(iv.hi, t4, sizeof(t4)),
                   why, pm_delay_str(iv.resolution, d1, sizeof(d1)),
                   iv.uncertainty ? ", ± " : "",
                   iv.uncertainty ? pm_delay_str(iv.uncertainty, d2, sizeof(d2)) : "",
                   iv.uncertainty ? " of clock offset" : "");
    emit_finding(e, &f, &le->addr, le->port ? le->port : 25,
                 pm_correlator_to_capture(e->corr, le->ts), have_host ? &host : NULL, 0);
}

/* The window in which a logged attempt must have left a SYN on the sender's vantage (the
 * first one): its capture window, or --since/--until. */
static void sender_window(struct pm_engine *e, pm_ns *start, pm_ns *end)
{
    const struct pm_vantage_state *vs = pm_tracker_vantage(e->tracker, 0);
    *start = vs ? vs->first_ts : PM_NS_NONE;
    *end = vs ? vs->last_ts : PM_NS_NONE;
    /* Offline: the files' recording span counts every record, also those the filter
     * dropped (DNS, ARP): a capture with no SYN at all still shows when it ran. */
    for (int i = 0; e->src.in && i < e->src.in->n; i++) {
        const struct pm_input *in = &e->src.in->in[i];
        const struct pm_capfile_stats *st = pm_capfile_stats(in->cf);
        if (in->vantage != 0 || st->first_ts == PM_NS_NONE) {
            continue;
        }
        if (*start == PM_NS_NONE || st->first_ts < *start) {
            *start = st->first_ts;
        }
        if (*end == PM_NS_NONE || st->last_ts > *end) {
            *end = st->last_ts;
        }
    }
    if (e->src.live) {
        *start = e->sum.first_ts != PM_NS_NONE ? e->sum.first_ts : *start;
        if (e->now != PM_NS_NONE) {
            *end = e->now;
        }
    }
    if (e->cfg.since != PM_NS_NONE) {
        *start = e->cfg.since;
    }
    if (e->cfg.until != PM_NS_NONE) {
        *end = e->cfg.until;
    }
}

/* Live: report logged connect failures that are old enough and never had a SYN. */
static void live_log_scan(struct pm_engine *e, bool final)
{
    pm_correlator_refresh(e->corr);
    pm_ns ws, we;
    sender_window(e, &ws, &we);
    if (ws == PM_NS_NONE) {
        return;
    }
    while (e->log_scan < e->logs.n) {
        const struct pm_logentry *le = &e->logs.e[e->log_scan];
        pm_ns t = pm_correlator_to_capture(e->corr, le->ts);
        if (!final && t != PM_NS_NONE && t > e->now - PM_LIVE_LOG_GRACE) {
            break; /* too recent: its SYN (if any) may still be in flight */
        }
        e->log_scan++;
        if (le->kind != PM_LK_CONNECT_FAIL || le->addr.family == 0 || t == PM_NS_NONE) {
            continue;
        }
        if (recent_syn_to(e, &le->addr, le->port ? le->port : 25, t)) {
            continue; /* it did leave: the attempt will carry this line when it ends */
        }
        /* Judged by the same window rule as offline: a line whose SYNs may have left
         * before the capture started is outside-window, never not-on-wire. */
        if (pm_correlator_judge(e->corr, (size_t)(le - e->logs.e), ws, we) == PM_NOWIRE_YES) {
            prepare_env(e);
            emit_not_on_wire(e, le, ws, we);
            fflush(e->cfg.out);
        }
    }
}

void pm_engine_tick(struct pm_engine *e, pm_ns now)
{
    if (e->now == PM_NS_NONE || now > e->now) {
        e->now = now;
    }
    if (e->sum.first_ts == PM_NS_NONE || e->sum.first_ts == 0) {
        e->sum.first_ts = now;
        pm_time_context(now, now); /* a time on a later day is shown with its date */
    }
    pm_tracker_tick(e->tracker, now);
    if (e->src.live && now >= e->next_log_scan) {
        live_log_scan(e, false);
        e->next_log_scan = now + PM_SEC(1);
    }
}

/* ---- offline phase 2 ---- */

struct spooled {
    struct pm_attempt a;
    struct pm_smtp_summary smtp;
    bool has_smtp;
};

static void hold_attempt(struct pm_engine *e, const struct pm_attempt *a,
                         const struct pm_smtp_summary *smtp)
{
    if (e->nheld == e->held_cap) {
        e->held_cap = e->held_cap ? e->held_cap * 2 : 64;
        e->held = pm_xreallocarray(e->held, e->held_cap, sizeof(*e->held));
    }
    struct spooled *h = &e->held[e->nheld++];
    h->a = *a;
    h->has_smtp = smtp != NULL;
    if (smtp) {
        h->smtp = *smtp;
    }
}

/* Live, at the stop: finalise every open attempt, learn from all of them, then decide each
 * in the order they were finalised. Deciding each as it is finalised would judge the first
 * ones without what the later ones show (their SYN-ACK hop counts, port 587 connecting). */
static void live_flush(struct pm_engine *e)
{
    e->holding = true;
    pm_tracker_flush(e->tracker);
    e->holding = false;
    for (size_t i = 0; i < e->nheld; i++) {
        live_decide(e, &e->held[i].a, e->held[i].has_smtp ? &e->held[i].smtp : NULL);
    }
    free(e->held);
    e->held = NULL;
    e->nheld = e->held_cap = 0;
}

/* The stream to read the spool back from, at its start. After a failed write the write
 * stream's buffer cannot be flushed, so a second stream on a dup of the descriptor reads
 * what reached the file. NULL when even that fails. */
static FILE *spool_rewind(struct pm_engine *e)
{
    if (!e->spool_full) {
        rewind(e->spool);
        return e->spool;
    }
    if (!e->spool_in) {
        int fd = dup(fileno(e->spool));
        e->spool_in = fd >= 0 ? fdopen(fd, "rb") : NULL;
        if (!e->spool_in && fd >= 0) {
            close(fd);
        }
    }
    if (!e->spool_in || fseeko(e->spool_in, 0, SEEK_SET) != 0) {
        e->spool_error = errno ? errno : EIO;
        return NULL;
    }
    return e->spool_in;
}

static bool spool_read(struct pm_engine *e, FILE *in, struct spooled *s)
{
    struct spool_hdr h;
    if (!in || fread(&h, sizeof(h), 1, in) != 1) {
        return false;
    }
    bool ok = h.magic == SPOOL_MAGIC && fread(&s->a, sizeof(s->a), 1, in) == 1;
    s->has_smtp = ok && h.has_smtp != 0;
    if (ok && s->has_smtp) {
        ok = fread(&s->smtp, sizeof(s->smtp), 1, in) == 1;
    }
    if (!ok && !e->spool_full) {
        e->spool_error = EIO; /* a record cut short: only a failed write explains that */
    }
    return ok;
}

static int load_logs(struct pm_engine *e)
{
    struct pm_log_options lo = e->cfg.logopt;
    const struct pm_vantage_state *v0 = pm_tracker_vantage(e->tracker, 0);
    /* Syslog times without a year are placed near the capture. */
    lo.ref_time = v0 && v0->first_ts != PM_NS_NONE ? v0->first_ts : PM_NS_NONE;
    for (int i = 0; i < e->cfg.nlogs; i++) {
        int rc = pm_logset_load(&e->logs, e->cfg.mta_logs[i], &lo);
        if (rc != 0) {
            return rc;
        }
    }
    if (e->cfg.nlogs) {
        pm_logset_finish(&e->logs);
    }
    return 0;
}

/* Each vantage's recording span (every record, filtered or not), then the vantage order. */
static void settle_vantages(struct pm_engine *e)
{
    pm_ns ws[PM_MAX_VANTAGES], we[PM_MAX_VANTAGES];
    for (int v = 0; v < PM_MAX_VANTAGES; v++) {
        ws[v] = we[v] = PM_NS_NONE;
    }
    for (int i = 0; e->src.in && i < e->src.in->n; i++) {
        const struct pm_input *in = &e->src.in->in[i];
        const struct pm_capfile_stats *st = pm_capfile_stats(in->cf);
        int v = in->vantage;
        if (v >= PM_MAX_VANTAGES || st->first_ts == PM_NS_NONE) {
            continue;
        }
        if (ws[v] == PM_NS_NONE || st->first_ts < ws[v]) {
            ws[v] = st->first_ts;
        }
        if (we[v] == PM_NS_NONE || st->last_ts > we[v]) {
            we[v] = st->last_ts;
        }
    }
    pm_nat_settle(e->nat, ws, we);
}

static int phase2(struct pm_engine *e)
{
    int rc = load_logs(e);
    if (rc != 0) {
        return rc;
    }
    e->corr = pm_correlator_new(e->cfg.nlogs ? &e->logs : NULL, e->cfg.log_offset);
    pm_correlator_set_connect_timeout(e->corr, connect_timeout_of(&e->cfg));
    find_one_sided(e);
    /* pass A: learn */
    struct spooled s;
    FILE *in = spool_rewind(e);
    uint64_t readable = 0;
    while (spool_read(e, in, &s)) {
        readable++;
        pm_context_learn(e->ctx, &s.a, outcome_of(e, &s.a));
        pm_correlator_sample(e->corr, &s.a);
        pm_nat_learn(e->nat, &s.a);
    }
    pm_correlator_settle(e->corr);
    settle_vantages(e);
    for (size_t i = 0; i < e->logs.n; i++) {
        const struct pm_logentry *le = &e->logs.e[i];
        if (le->addr.family && le->host[0]) {
            pm_context_dest_name(e->ctx, &le->addr, le->host);
        }
    }
    prepare_env(e);
    {
        /* Times in the report carry their date when it spans more than one day. */
        pm_ns first = PM_NS_NONE, last = PM_NS_NONE;
        for (int i = 0; e->src.in && i < e->src.in->n; i++) {
            const struct pm_capfile_stats *st = pm_capfile_stats(e->src.in->in[i].cf);
            if (st->first_ts != PM_NS_NONE) {
                first = first == PM_NS_NONE || st->first_ts < first ? st->first_ts : first;
                last = last == PM_NS_NONE || st->last_ts > last ? st->last_ts : last;
            }
        }
        pm_time_context(first, last);
    }
    /* pass B: correlate, attribute, report */
    pm_correlator_reset(e->corr);
    if (e->spool_full && readable < e->spooled) {
        /* records accepted into the stdio buffer that never reached the file */
        e->spool_lost += e->spooled - readable;
        pm_table_lost(PM_TAB_SPOOL, e->spooled - readable, false);
    }
    in = spool_rewind(e);
    struct pm_finding f;
    struct pm_nat_facts nf;
    while (spool_read(e, in, &s)) {
        s.a.flags |= table_full_flag(e, &s.a);
        enum pm_outcome o = outcome_of(e, &s.a);
        pm_nat_facts(e->nat, &s.a, s.a.answer != PM_ANS_NONE, &nf);
        if (nf.outer_view) {
            e->merged++; /* reported once, as seen closest to the sender */
            continue;
        }
        const struct pm_logentry *log = pm_correlator_match(e->corr, &s.a, o);
        pm_attribute(&f, &e->env, &s.a, s.has_smtp ? &s.smtp : NULL, o, log, &nf);
        emit_finding(e, &f, &s.a.srv, s.a.dport, s.a.first_syn, &s.a.cli, s.a.sport);
    }
    if (e->spool_error) {
        pm_err("cannot read back the spool of finished attempts: %s", strerror(e->spool_error));
        pm_hint("check free space in $TMPDIR (default /tmp)");
        return PM_EXIT_UNREADABLE;
    }
    pm_ns ws, we;
    sender_window(e, &ws, &we);
    if (ws != PM_NS_NONE) {
        size_t cursor = 0;
        const struct pm_logentry *le;
        while ((le = pm_correlator_next_not_on_wire(e->corr, ws, we, &cursor)) != NULL) {
            emit_not_on_wire(e, le, ws, we);
        }
    }
    return 0;
}

/* ---- the end ---- */

/* How full each table got, for the summary's `limits` (losses were counted as they came). */
static void note_table_peaks(struct pm_engine *e)
{
    const struct pm_track_counters *tc = pm_tracker_counters(e->tracker);
    uint64_t dests, hoprefs;
    pm_context_sizes(e->ctx, &dests, &hoprefs);
    pm_table_peak(PM_TAB_FLOWS, tc->flows_peak);
    pm_table_peak(PM_TAB_SESSIONS, tc->sessions_peak);
    pm_table_peak(PM_TAB_DESTS, dests);
    pm_table_peak(PM_TAB_HOPREFS, hoprefs);
    pm_table_peak(PM_TAB_SPOOL, e->spooled);
    pm_table_peak(PM_TAB_LOGS, e->logs.n);
    pm_table_peak(PM_TAB_LINKS, (uint64_t)pm_nat_links(e->nat) * 2);
}

/* The run's scope, from each destination's latest state (analyze/scope.c's table). */
static void scope_words(struct pm_engine *e)
{
    struct pm_dest **ds;
    size_t n = pm_context_dests_sorted(e->ctx, &ds);
    struct pm_run_summary *s = &e->sum;
    struct pm_scope_in in;
    pm_scope_collect(ds, n, s->by_outcome[PM_OUT_INCOMPLETE], e->unplaced_failures, &in);
    for (int v = 0; v < PM_V__COUNT; v++) {
        in.verdict_next[v] = e->verdict_next[v];
    }
    for (int i = 0; in.fail && i < e->nwalks; i++) {
        if (pm_addr_eq(&e->walks[i].addr, &in.fail->addr)) {
            in.fail_next = e->walks[i].next; /* a TTL walk ran to it: its result decides */
        }
    }
    struct pm_scope_out out;
    pm_scope_decide(&in, &out);
    s->dests = out.dests;
    s->dests_failing = out.failing;
    s->dests_recovered = out.recovered;
    s->scope = out.scope;
    s->scope_rule = out.row->id;
    s->scope_owner = out.owner;
    s->failures = out.failures;
    pm_strlcpy(s->scope_text, out.text, sizeof(s->scope_text));
    pm_strlcpy(s->next_step, out.next, sizeof(s->next_step));
}

/* A stream waits for bytes: a second passes on the capture's clock too, so that an attempt
 * nobody answers is still decided when its time is up. */
static void stream_idle(void *ctx)
{
    struct pm_engine *e = ctx;
    if (e->now == PM_NS_NONE) {
        return;
    }
    if (e->records != e->idle_records) {
        e->idle_records = e->records; /* a new silence: count from the latest packet */
        e->idle_secs = 0;
        e->idle_base = e->now;
    }
    /* The clock stays PM_STREAM_IDLE_MARGIN behind the silence: a producer that only paused
     * (ssh, a buffer) must not find its next packets already judged as timed out. */
    e->idle_secs++;
    if (PM_SEC(e->idle_secs) > PM_STREAM_IDLE_MARGIN) {
        pm_engine_tick(e, e->idle_base + PM_SEC(e->idle_secs) - PM_STREAM_IDLE_MARGIN);
    }
}

int pm_engine_analyze(const struct pm_engine_config *cfg, struct pm_inputset *in)
{
    const char *labels[PM_MAX_INPUTS];
    for (int i = 0; i < in->n; i++) {
        const char *p = in->in[i].path;
        const char *b = strrchr(p, '/');
        labels[i] = strcmp(p, "-") == 0 ? "stdin" : b ? b + 1 : p;
    }
    /* One stream (standard input, a pipe, a FIFO) and no MTA log: each attempt is decided
     * and reported as it ends, as a live capture does (`tcpdump -U -w - | portmortem
     * analyze -` may never end). With an MTA log the stream is analysed as a file is: the
     * log's year and clock offset are placed from the whole capture first. */
    bool stream = in->n == 1 && pm_capfile_is_stream(in->in[0].cf) && cfg->nlogs == 0 &&
                  !getenv("PM_STREAM_AS_FILE");
    struct pm_engine_source src = {
        .live = stream,
        .nvantage = in->nvantage,
        .vantage_names = (const char *const *)in->vantage_names,
        .nfiles = in->n,
        .file_labels = labels,
        .in = in,
    };
    struct pm_engine *e = pm_engine_new(cfg, &src);
    if (!e) {
        return PM_EXIT_USAGE;
    }
    const char *paths[PM_MAX_INPUTS];
    int fds[PM_MAX_INPUTS];
    for (int i = 0; i < in->n; i++) {
        paths[i] = labels[i];
        /* a pipe or standard input was read once: the bundle cannot cut it again (-2) */
        fds[i] = pm_capfile_is_stream(in->in[i].cf) ? -2 : -1;
        if (fds[i] == -1) {
            paths[i] = in->in[i].path;
        }
    }
    pm_engine_capture_files(e, paths, fds, in->n);
    pm_inputset_side(in, side_record, e);
    if (stream) {
        pm_inputset_idle(in, stream_idle, e);
    }

    struct pm_record rec;
    uint64_t n = 0;
    pm_ns next_progress = pm_now_monotonic() + PM_SEC(1);
    while (pm_inputset_next(in, &rec) == PM_READ_OK) {
        pm_engine_packet(e, &rec);
        if (cfg->progress && (++n & 0xffff) == 0 && pm_now_monotonic() >= next_progress) {
            uint64_t bytes = 0, size = 0;
            for (int i = 0; i < in->n; i++) {
                const struct pm_capfile_stats *st = pm_capfile_stats(in->in[i].cf);
                bytes += st->bytes;
                size += st->file_size;
            }
            double secs = (double)(pm_now_monotonic() - e->t0) / 1e9;
            fprintf(stderr, "\r%s: %llu/%llu MB (%.0f%%), %llu packets, %llu attempts, "
                    "%.0f MB/s   ", pm_progname, (unsigned long long)(bytes >> 20),
                    (unsigned long long)(size >> 20),
                    size ? 100.0 * (double)bytes / (double)size : 0.0, (unsigned long long)n,
                    (unsigned long long)pm_tracker_counters(e->tracker)->attempts,
                    secs > 0 ? (double)bytes / 1048576.0 / secs : 0.0);
            next_progress = pm_now_monotonic() + PM_SEC(1);
        }
    }
    if (cfg->progress && n > 0xffff) {
        fputc('\n', stderr);
    }
    return pm_engine_finish(e);
}

/* The one teardown of an engine's modules and buffers, after finish or abort (the bundle is
 * settled by then: finished, or aborted). */
static void engine_free(struct pm_engine *e)
{
    pm_report_free(e->report);
    pm_nat_free(e->nat);
    pm_correlator_free(e->corr);
    pm_context_free(e->ctx);
    pm_logset_free(&e->logs);
    pm_tracker_free(e->tracker);
    if (e->spool_in) {
        fclose(e->spool_in);
    }
    if (e->spool) {
        fclose(e->spool);
    }
    free(e->recent);
    free(e->held);
    free(e->host_context);
    free(e);
}

void pm_engine_abort(struct pm_engine *e)
{
    if (!e) {
        return;
    }
    if (e->bundle) {
        pm_bundle_abort(e->bundle);
    }
    engine_free(e);
}

int pm_engine_finish(struct pm_engine *e)
{
    struct pm_run_summary *s = &e->sum;
    if (e->src.live) {
        live_flush(e);
    } else {
        pm_tracker_flush(e->tracker);
    }
    int rc = 0;
    if (e->spool_error) {
        pm_err("cannot write the spool of finished attempts: %s", strerror(e->spool_error));
        pm_hint("check free space in $TMPDIR (default /tmp)");
        rc = PM_EXIT_UNREADABLE;
    } else if (e->src.live) {
        live_log_scan(e, true);
    } else {
        rc = phase2(e);
    }

    s->subcommand = e->cfg.subcommand ? e->cfg.subcommand : "analyze";
    s->argc = e->cfg.argc;
    s->argv = e->cfg.argv;
    s->in = e->src.in;
    s->ifaces = e->src.ifaces;
    s->nifaces = e->src.nifaces;
    s->logs = e->logs.nfiles ? &e->logs : NULL;
    s->tc = pm_tracker_counters(e->tracker);
    s->nvantage = e->src.nvantage;
    s->vantage_names = e->src.vantage_names;
    for (int v = 0; v < e->src.nvantage && v < PM_MAX_VANTAGES; v++) {
        e->vsp[v] = pm_tracker_vantage(e->tracker, v);
    }
    s->vs = e->vsp;
    s->corr = e->corr ? pm_correlator_stats(e->corr) : NULL;
    s->noutside = e->corr ? pm_correlator_outside(e->corr, &s->outside) : 0;
    s->merged = e->merged;
    s->vantage_links = pm_nat_links(e->nat);
    s->npublic = pm_nat_public_addresses(e->nat, &s->publics);
    for (int v = 0; v < e->src.nvantage && v < PM_MAX_VANTAGES; v++) {
        s->vantage_rank[v] = pm_nat_rank(e->nat, v);
        s->vantage_one_direction[v] = e->env.vantage_one_direction[v];
    }
    s->nports = e->cfg.nports;
    for (int i = 0; i < e->cfg.nports; i++) {
        s->ports[i] = e->cfg.ports[i];
    }
    pm_ns live_start = s->first_ts;
    s->first_ts = s->last_ts = PM_NS_NONE;
    for (int v = 0; v < e->src.nvantage; v++) {
        const struct pm_vantage_state *vs = pm_tracker_vantage(e->tracker, v);
        if (vs && vs->first_ts != PM_NS_NONE) {
            if (s->first_ts == PM_NS_NONE || vs->first_ts < s->first_ts) {
                s->first_ts = vs->first_ts;
            }
            if (s->last_ts == PM_NS_NONE || vs->last_ts > s->last_ts) {
                s->last_ts = vs->last_ts;
            }
        }
    }
    if (e->src.live) {
        /* A live capture knows its own window, packets or not. */
        if (live_start != PM_NS_NONE && live_start != 0) {
            s->first_ts = live_start;
        }
        if (e->now != PM_NS_NONE) {
            s->last_ts = e->now;
        }
    }
    for (int i = 0; e->src.in && i < e->src.in->n; i++) {
        const struct pm_capfile_stats *st = pm_capfile_stats(e->src.in->in[i].cf);
        if (st->first_ts != PM_NS_NONE) {
            if (s->first_ts == PM_NS_NONE || st->first_ts < s->first_ts) {
                s->first_ts = st->first_ts;
            }
            if (s->last_ts == PM_NS_NONE || st->last_ts > s->last_ts) {
                s->last_ts = st->last_ts;
            }
        }
        s->records_read += st->records;
        s->records_kept += st->filtered;
        if (st->damaged) {
            s->damaged = true;
            pm_strlcpy(s->damage, st->damage, sizeof(s->damage));
        }
    }
    scope_words(e);
    note_table_peaks(e);
    uint64_t side_missed = pm_context_side_overflow(e->ctx);
    if (side_missed > 0) {
        /* A bound hit is said out loud: these packets gave no hop reference. */
        pm_warn("%llu packets of other traffic came from hosts or prefixes beyond the hop "
                "table's bound and taught nothing: a RST from one of them is judged without "
                "its reference", (unsigned long long)side_missed);
        pm_hint("analyse a capture filtered to the mail servers' networks (tcpdump -w ... "
                "net 203.0.113.0/24) when it holds that much other traffic");
    }
    if (rc != 0) {
        s->exit_status = rc;
    } else if (s->damaged || pm_tables_partial() ||
               (s->live && (s->kernel_dropped || s->if_dropped))) {
        /* damaged input, a bounded table lost something, or the kernel or an interface
         * dropped packets before they reached us (live): the results are partial */
        s->exit_status = PM_EXIT_DAMAGED;
    } else {
        /* 1 when some destination's latest state is failing; 0 when every failure recovered
         * (the Scope line says so): docs/VERDICTS.md, "Scope and exit status". */
        s->exit_status = s->failures ? PM_EXIT_FAILURES : PM_EXIT_OK;
    }
    s->elapsed = pm_now_monotonic() - e->t0;
    if (rc == 0) {
        pm_report_finish(e->report, e->ctx, s);
    }
    if (e->bundle) {
        if (rc == 0) {
            struct pm_bundle_inputs bi = {
                .capture_paths = e->capture_paths,
                .capture_fds = e->capture_fds,
                .ncaptures = e->ncapture_paths,
                .mta_log_paths = e->cfg.mta_logs,
                .nmta_logs = e->cfg.nlogs,
                .host_context = e->host_context,
                .sign_key = e->cfg.sign_key,
            };
            int brc = pm_bundle_finish(e->bundle, e->ctx, s, &bi);
            if (brc != 0 && s->exit_status < brc) {
                s->exit_status = brc;
            }
        } else {
            pm_bundle_abort(e->bundle);
        }
    }
    if (s->damaged) {
        pm_err("%s", s->damage);
        pm_hint("the results above cover the readable part of the capture only");
    }
    int status = s->exit_status;
    engine_free(e);
    return status;
}
