/*
 * report_json.c — owns the JSON Lines objects of the output contract
 * (docs/OUTPUT.md, docs/schema/): one "attempt" object per attempt (also written into
 * evidence bundles), then one "destination" object per destination and the "summary".
 * Built with json.c's buffered writer: each object reaches the FILE in one write.
 */
#include "report.h"
#include "report_int.h"

#include <time.h>
#include <unistd.h>

#include "correlate.h"
#include "json.h"
#include "ttl.h"
#include "tables.h"
#include "util.h"
#include "verdicts.h"

/* ---- one attempt ---- */

/* The attempt flags by name (JSON `flags`, the Zeek and CSV `pm_flags`). */
const struct pm_report_flag pm_report_flag_names[] = {
    {PM_AF_SYN_NOT_CAPTURED, "syn-not-captured"}, {PM_AF_TRUNCATED, "truncated"},
    {PM_AF_MALFORMED, "malformed"}, {PM_AF_ONE_SIDED, "one-sided"},
    {PM_AF_EVICTED, "evicted"}, {PM_AF_CAPTURE_ENDED, "capture-ended"},
    {PM_AF_BAD_SYNACK, "bad-synack"}, {PM_AF_SRV_DATA_UNREAD, "server-data-unread"},
    {PM_AF_ICMP_ESTABLISHED, "icmp-after-handshake"}, {PM_AF_FRAG_NEEDED, "frag-needed"},
    {PM_AF_ANSWER_RACE, "answer-race"}, {PM_AF_CLIENT_GAVE_UP, "client-gave-up"},
    {PM_AF_TLS, "tls"}, {PM_AF_SMTP_DROPPED, "smtp-not-recorded"},
    {PM_AF_ISN_REUSED, "replaced-by-new-isn"}, {PM_AF_SELF_RST, "client-reset-syn-ack"},
    {PM_AF_UNREADABLE_ANSWER, "unreadable-answer"},
    {PM_AF_SRV_REPLIES_UNREAD, "server-replies-unread"},
    {PM_AF_TABLE_FULL, "table-full"},
    {PM_AF_MIDSTREAM, "midstream"}, {PM_AF_DIALOGUE_CUT, "dialogue-cut"},
    {PM_AF_RETRY_ANSWERED, "retried-after-answer"}, {PM_AF_MAIL_ACCEPTED, "mail-accepted"},
    {PM_AF_TLS_MISMATCH, "tls-mismatch"},
};
const size_t pm_report_nflag_names = PM_ARRAY_LEN(pm_report_flag_names);

static void json_flags(struct pm_json *j, uint32_t fl)
{
    pm_json_key(j, "flags");
    pm_json_arr_begin(j);
    for (size_t i = 0; i < pm_report_nflag_names; i++) {
        if (fl & pm_report_flag_names[i].bit) {
            pm_json_str(j, pm_report_flag_names[i].name);
        }
    }
    pm_json_arr_end(j);
}

static void json_ms(struct pm_json *j, const char *k, pm_ns d)
{
    pm_json_key(j, k);
    pm_json_ms(j, d);
}

static void json_mta(struct pm_json *j, const struct pm_finding *f, const struct pm_attr_env *env)
{
    const struct pm_logentry *l = f->log;
    pm_json_key(j, "mta");
    if (!l) {
        pm_json_null(j);
        return;
    }
    pm_json_obj_begin(j);
    const char *path = env->logs && l->file < env->logs->nfiles ? env->logs->files[l->file].path
                                                                : "";
    pm_json_kstr(j, "file", path);
    pm_json_kuint(j, "line", l->line);
    pm_json_kstr(j, "mta", pm_mta_name((enum pm_mta)l->mta));
    pm_json_kstr(j, "kind", pm_logkind_name((enum pm_logkind)l->kind));
    pm_json_kstr(j, "error", l->text);
    pm_json_kstr(j, "errno", l->err ? pm_errclass_name((enum pm_errclass)l->err) : NULL);
    pm_json_kstr(j, "queue_id", l->queue_id[0] ? l->queue_id : NULL);
    pm_json_kstr(j, "domain", l->domain[0] ? l->domain : NULL);
    pm_json_kstr(j, "host", l->host[0] ? l->host : NULL);
    pm_json_ktime(j, "ts", l->ts);
    pm_json_kbool(j, "consistent", !f->inconsistent);
    pm_json_obj_end(j);
}

void pm_report_attempt_json(FILE *out, const struct pm_finding *f, const struct pm_attr_env *env)
{
    struct pm_json jj, *j = &jj;
    pm_json_init(j, out);
    const struct pm_attempt *a = f->a;
    const struct pm_logentry *l = f->log;
    pm_json_obj_begin(j);
    pm_json_kstr(j, "type", "attempt");
    pm_json_kuint(j, "id", f->id);
    pm_json_ktime(j, "ts", a ? a->first_syn : (l ? l->ts : PM_NS_NONE));
    uint8_t fam = a ? a->family : (l ? l->addr.family : 0);
    pm_json_kstr(j, "family", fam == PM_AF_INET6 ? "ipv6" : "ipv4");
    if (a) {
        pm_json_kaddr(j, "src", &a->cli);
        pm_json_kuint(j, "sport", a->sport);
        pm_json_kaddr(j, "dst", &a->srv);
        pm_json_kuint(j, "dport", a->dport);
        pm_json_kstr(j, "vantage", env->vantage_names ? env->vantage_names[a->vantage] : "");
        pm_json_kuint(j, "syns", a->syns);
    } else {
        pm_json_kaddr(j, "src", &f->src);
        pm_json_key(j, "sport");
        pm_json_null(j);
        pm_json_kaddr(j, "dst", l ? &l->addr : NULL);
        pm_json_kuint(j, "dport", l && l->port ? l->port : 25);
        pm_json_kstr(j, "vantage", env->vantage_names ? env->vantage_names[0] : "");
        pm_json_kuint(j, "syns", 0);
    }
    pm_json_kstr(j, "outcome", pm_outcome_name(f->outcome));
    pm_json_kstr(j, "verdict", pm_verdict_name(f->verdict));
    pm_json_kstr(j, "owner", pm_owner_name(f->owner));
    pm_json_kstr(j, "confidence", pm_confidence_name(f->confidence));
    pm_json_key(j, "evidence");
    pm_json_arr_begin(j);
    for (int i = 0; i < f->nevidence; i++) {
        pm_json_str(j, f->evidence[i]);
    }
    pm_json_arr_end(j);
    pm_json_kstr(j, "next_step", f->next_step);
    pm_json_kstr(j, "rule", f->rule ? f->rule->id : NULL);
    pm_json_kstr(j, "clue", f->clue);
    if (a) {
        pm_json_kstr(j, "conn_state", pm_attempt_conn_state(a));
        pm_json_kstr(j, "history", a->history);
        pm_json_kstr(j, "reason", pm_attempt_reason(a));
    } else {
        pm_json_key(j, "conn_state");
        pm_json_null(j);
        pm_json_key(j, "history");
        pm_json_null(j);
        /* nmap -sT words for the errno a connect() got without a packet */
        const char *reason = "no-response";
        if (l) {
            switch (l->err) {
            case PM_EC_REFUSED: reason = "conn-refused"; break;
            case PM_EC_HOSTUNREACH: reason = "host-unreach"; break;
            case PM_EC_NETUNREACH: reason = "net-unreach"; break;
            case PM_EC_ACCES: reason = "admin-prohibited"; break;
            case PM_EC_PERM: reason = "perm-denied"; break;
            default: break;
            }
        }
        pm_json_kstr(j, "reason", reason);
    }
    if (a) {
        pm_json_ktime(j, "last_syn", a->last_syn);
        pm_json_kuint(j, "isn", a->isn);
        pm_json_kuint(j, "syn_ttl", a->syn_ttl);
        if (a->answer == PM_ANS_SYNACK) {
            pm_json_key(j, "synack");
            pm_json_obj_begin(j);
            pm_json_kuint(j, "ttl", a->ans.ttl);
            pm_json_kint(j, "hops", pm_ttl_hops(a->ans.ttl));
            json_ms(j, "rtt_ms", pm_attempt_answer_delay(a));
            pm_json_kuint(j, "window", a->ans.win);
            pm_json_kuint(j, "mss", a->ans.mss);
            pm_json_obj_end(j);
        }
        pm_json_key(j, "icmp");
        if (a->answer == PM_ANS_ICMP) {
            pm_json_obj_begin(j);
            pm_json_kuint(j, "type", a->ans.icmp_type);
            pm_json_kuint(j, "code", a->ans.icmp_code);
            pm_json_kstr(j, "text", pm_icmp_text(a->family, a->ans.icmp_type, a->ans.icmp_code));
            pm_json_kaddr(j, "from", &a->ans.from);
            pm_json_kbool(j, "from_is_destination", f->icmp_from_dst);
            pm_json_kuint(j, "ttl", a->ans.ttl);
            pm_json_key(j, "hop");
            if (f->icmp_hop > 0) {
                pm_json_int(j, f->icmp_hop);
            } else {
                pm_json_null(j);
            }
            json_ms(j, "delay_ms", a->ans.ts >= a->first_syn ? a->ans.ts - a->first_syn : 0);
            pm_json_kuint(j, "count", a->n_icmp);
            pm_json_key(j, "quoted");
            pm_json_obj_begin(j);
            pm_json_kaddr(j, "src", &a->cli);
            pm_json_kuint(j, "sport", a->sport);
            pm_json_kaddr(j, "dst", &a->srv);
            pm_json_kuint(j, "dport", a->dport);
            pm_json_kuint(j, "ttl", a->ans.qttl);
            pm_json_kuint(j, "bytes", a->ans.qbytes);
            pm_json_key(j, "seq_matches");
            if (a->ans.qseq_state == 0) {
                pm_json_null(j);
            } else {
                pm_json_bool(j, a->ans.qseq_state == 1);
            }
            pm_json_obj_end(j);
            pm_json_obj_end(j);
        } else {
            pm_json_null(j);
        }
        pm_json_key(j, "rst");
        if (a->answer == PM_ANS_RST) {
            pm_json_obj_begin(j);
            pm_json_kuint(j, "ttl", a->ans.ttl);
            pm_json_kint(j, "hops", f->rst_hops);
            pm_json_key(j, "expected_hops");
            if (f->rst_expected_hops >= 0) {
                pm_json_int(j, f->rst_expected_hops);
            } else {
                pm_json_null(j);
            }
            pm_json_kstr(j, "expected_from", f->rst_expected_hops >= 0
                                                 ? pm_hopsrc_name(f->rst_ref_src)
                                                 : NULL);
            pm_json_kuint(j, "ip_id", a->ans.ip_id);
            pm_json_kuint(j, "window", a->ans.win);
            pm_json_kbool(j, "ack_ok", a->ans.ack_ok);
            pm_json_kbool(j, "df", a->ans.df);
            json_ms(j, "delay_ms", pm_attempt_answer_delay(a));
            json_ms(j, "rtt_ms", f->rtt_min);
            pm_json_kstr(j, "origin", pm_rst_origin_name(f->rst_origin));
            pm_json_kuint(j, "count", a->n_rst);
            pm_json_obj_end(j);
        } else {
            pm_json_null(j);
        }
        const struct pm_smtp_summary *s = f->smtp;
        pm_json_key(j, "banner");
        if (s && s->banner_code > 0) {
            pm_json_obj_begin(j);
            pm_json_kint(j, "code", s->banner_code);
            pm_json_kstr(j, "text", s->banner);
            pm_json_obj_end(j);
        } else if (a->banner_code == PM_BANNER_UNREADABLE) {
            pm_json_obj_begin(j);
            pm_json_key(j, "code");
            pm_json_null(j);
            pm_json_kstr(j, "text", "(sent, but not captured)");
            pm_json_obj_end(j);
        } else {
            pm_json_null(j);
        }
        pm_json_key(j, "smtp");
        pm_json_arr_begin(j);
        for (int i = 0; s && i < s->nreplies; i++) {
            pm_json_obj_begin(j);
            pm_json_kstr(j, "command", s->replies[i].cmd);
            pm_json_kint(j, "code", s->replies[i].code);
            pm_json_kstr(j, "text", s->replies[i].text);
            pm_json_obj_end(j);
        }
        pm_json_arr_end(j);
        if (s) {
            pm_json_kbool(j, "starttls_offered", s->starttls_offered);
            pm_json_kbool(j, "masked", s->masked);
        }
        const struct pm_nat_facts *nat = f->nat;
        pm_json_key(j, "translation");
        if (nat && nat->peer) {
            pm_json_obj_begin(j);
            pm_json_kstr(j, "outside_vantage", env->vantage_names
                                                   ? env->vantage_names[nat->peer->vantage]
                                                   : NULL);
            pm_json_kaddr(j, "inside_src", &a->cli);
            pm_json_kuint(j, "inside_sport", a->sport);
            pm_json_kaddr(j, "outside_src", &nat->peer->cli);
            pm_json_kuint(j, "outside_sport", nat->peer->sport);
            pm_json_key(j, "expected_source");
            if (nat->expect_known) {
                pm_json_bool(j, !nat->unexpected_source);
            } else {
                pm_json_null(j);
            }
            pm_json_kbool(j, "answer_outside", nat->peer->answer != PM_ANS_NONE);
            pm_json_key(j, "rewrites");
            pm_json_arr_begin(j);
            for (int i = 0; i < nat->nrewrites; i++) {
                pm_json_str(j, nat->rewrites[i]);
            }
            pm_json_arr_end(j);
            pm_json_obj_end(j);
        } else {
            pm_json_null(j);
        }
        if (nat && nat->multi && !nat->peer) {
            pm_json_kbool(j, "seen_at_later_vantage", false);
        }
        static const char *const closes[] = {NULL, "server-fin", "server-rst", "client-fin",
                                             "client-rst"};
        pm_json_kstr(j, "close", a->close < PM_ARRAY_LEN(closes) ? closes[a->close] : NULL);
        json_flags(j, a->flags);
    }
    json_mta(j, f, env);
    pm_json_obj_end(j);
}

void pm_report_json_dest(struct pm_json *j, const struct pm_dest *d)
{
    char line[200];
    enum pm_verdict v;
    enum pm_owner o;
    pm_dest_line(d, line, sizeof(line), &v, &o);
    pm_json_obj_begin(j);
    pm_json_kstr(j, "type", "destination");
    pm_json_kaddr(j, "dst", &d->addr);
    pm_json_kstr(j, "family", d->addr.family == PM_AF_INET6 ? "ipv6" : "ipv4");
    pm_json_kstr(j, "name", d->name[0] ? d->name : NULL);
    pm_json_key(j, "ports");
    pm_json_arr_begin(j);
    for (int i = 0; i < d->nports; i++) {
        pm_json_uint(j, d->ports[i]);
    }
    pm_json_arr_end(j);
    pm_json_kuint(j, "attempts", d->attempts);
    pm_json_key(j, "outcomes");
    pm_json_obj_begin(j);
    for (int i = 0; i < PM_OUT__COUNT; i++) {
        if (d->by_outcome[i]) {
            pm_json_kuint(j, pm_outcome_name((enum pm_outcome)i), d->by_outcome[i]);
        }
    }
    pm_json_obj_end(j);
    pm_json_key(j, "verdicts");
    pm_json_obj_begin(j);
    for (int i = 0; i < PM_V__COUNT; i++) {
        if (d->by_verdict[i]) {
            pm_json_kuint(j, pm_verdict_name((enum pm_verdict)i), d->by_verdict[i]);
        }
    }
    pm_json_obj_end(j);
    pm_json_key(j, "ids");
    pm_json_arr_begin(j);
    for (int i = 0; i < d->nids; i++) {
        pm_json_uint(j, d->ids[i]);
    }
    pm_json_arr_end(j);
    pm_json_kbool(j, "ids_truncated", d->ids_truncated);
    pm_json_kstr(j, "verdict", pm_verdict_name(v));
    pm_json_kstr(j, "owner", pm_owner_name(o));
    struct pm_dest_view dv;
    pm_dest_view(d, &dv);
    pm_json_kstr(j, "state", pm_dest_state_name(dv.state));
    pm_json_ktime(j, "recovered_at", dv.recovered_at);
    pm_json_kstr(j, "line", line);
    pm_json_ktime(j, "first_ts", d->first_ts);
    pm_json_ktime(j, "last_ts", d->last_ts);
    pm_json_obj_end(j);
}

/* ---- summary ---- */

static void json_counts(struct pm_json *j, const char *key, const uint64_t *c, int n,
                        const char *(*name)(int))
{
    pm_json_key(j, key);
    pm_json_obj_begin(j);
    for (int i = 0; i < n; i++) {
        if (c[i]) {
            pm_json_kuint(j, name(i), c[i]);
        }
    }
    pm_json_obj_end(j);
}

static const char *oname(int i) { return pm_outcome_name((enum pm_outcome)i); }
static const char *vname(int i) { return pm_verdict_name((enum pm_verdict)i); }

/* The bounded tables (include/tables.h): per table its count cap (null: only the memory
 * budget), how full it got, what it lost and the option that raises the bound. */
static void json_limits(struct pm_json *j)
{
    pm_json_key(j, "limits");
    pm_json_obj_begin(j);
    pm_json_kuint(j, "max_memory", pm_mem_budget());
    pm_json_kuint(j, "memory_peak", pm_mem_peak());
    pm_json_kbool(j, "partial", pm_tables_partial());
    pm_json_key(j, "tables");
    pm_json_obj_begin(j);
    for (int t = 0; t < PM_TAB__COUNT; t++) {
        const struct pm_table_state *st = pm_table_state((enum pm_table)t);
        pm_json_key(j, pm_table_key((enum pm_table)t));
        pm_json_obj_begin(j);
        pm_json_key(j, "bound");
        if (st->cap) {
            pm_json_uint(j, st->cap);
        } else {
            pm_json_null(j);
        }
        pm_json_kuint(j, "peak", st->peak);
        pm_json_kuint(j, "lost", st->lost);
        pm_json_kstr(j, "full_by", !st->lost ? NULL
                                   : t == PM_TAB_SPOOL ? "disk"
                                   : st->by_memory || !st->cap || st->cap_derived ? "memory"
                                                                                  : "bound");
        pm_json_kstr(j, "option", pm_table_option((enum pm_table)t));
        pm_json_obj_end(j);
    }
    pm_json_obj_end(j);
    pm_json_obj_end(j);
}

/* One MTA log line outside the capture window: where it is, what it says, and the interval
 * its SYNs must have left in, which the capture does not cover whole. Never a verdict. */
static void json_outside_line(struct pm_json *j, const struct pm_run_summary *s,
                              const struct pm_corr_outside *o)
{
    const struct pm_logentry *l = &s->logs->e[o->idx];
    char why[160];
    pm_json_obj_begin(j);
    pm_json_kstr(j, "type", "outside-window");
    pm_json_kstr(j, "file", l->file < s->logs->nfiles ? s->logs->files[l->file].path : "");
    pm_json_kuint(j, "line", l->line);
    pm_json_ktime(j, "ts", l->ts);
    pm_json_kstr(j, "mta", pm_mta_name((enum pm_mta)l->mta));
    pm_json_kstr(j, "kind", pm_logkind_name((enum pm_logkind)l->kind));
    pm_json_kstr(j, "errno", l->err ? pm_errclass_name((enum pm_errclass)l->err) : NULL);
    pm_json_kstr(j, "error", l->text);
    pm_json_kaddr(j, "dst", &l->addr);
    pm_json_kuint(j, "dport", l->port ? l->port : 25);
    pm_json_kstr(j, "host", l->host[0] ? l->host : NULL);
    pm_json_kstr(j, "queue_id", l->queue_id[0] ? l->queue_id : NULL);
    pm_json_ktime(j, "syn_from", o->iv.lo);
    pm_json_ktime(j, "syn_to", o->iv.hi);
    pm_syn_interval_words(&o->iv, l, why, sizeof(why));
    pm_json_kstr(j, "syn_from_why", why);
    json_ms(j, "resolution_ms", o->iv.resolution);
    json_ms(j, "offset_uncertainty_ms", o->iv.uncertainty);
    pm_json_obj_end(j);
}

static void json_log_lines(struct pm_json *j, const struct pm_run_summary *s)
{
    pm_json_key(j, "log_lines");
    if (!s->corr || !s->logs) {
        pm_json_null(j);
        return;
    }
    pm_json_obj_begin(j);
    pm_json_kuint(j, "outside_window", s->corr->outside_window);
    pm_json_kuint(j, "outside_window_listed", s->noutside);
    pm_json_key(j, "mta_connect_timeout_s");
    if (s->corr->connect_timeout == PM_NS_NONE) {
        pm_json_null(j);
    } else {
        pm_json_double(j, (double)s->corr->connect_timeout / 1e9, 3);
    }
    pm_json_key(j, "clock_offset_uncertainty_s");
    pm_json_double(j, (double)s->corr->offset_uncertainty / 1e9, 3);
    pm_json_key(j, "outside_window_lines");
    pm_json_arr_begin(j);
    for (size_t i = 0; i < s->noutside; i++) {
        json_outside_line(j, s, &s->outside[i]);
    }
    pm_json_arr_end(j);
    pm_json_obj_end(j);
}

void pm_report_json_summary(struct pm_json *j, const struct pm_run_summary *s,
                            uint64_t overflow)
{
    const struct pm_track_counters *tc = s->tc;
    pm_json_obj_begin(j);
    pm_json_kstr(j, "type", "summary");
    pm_json_kint(j, "schema", PM_SCHEMA);
    pm_json_kstr(j, "version", PM_VERSION);
    pm_json_kstr(j, "subcommand", s->subcommand);
    pm_json_key(j, "command");
    pm_json_arr_begin(j);
    for (int i = 0; i < s->argc; i++) {
        pm_json_str(j, s->argv[i]);
    }
    pm_json_arr_end(j);
    pm_json_key(j, "ports");
    pm_json_arr_begin(j);
    for (int i = 0; i < s->nports; i++) {
        pm_json_uint(j, s->ports[i]);
    }
    pm_json_arr_end(j);

    pm_json_key(j, "inputs");
    pm_json_obj_begin(j);
    pm_json_key(j, "files");
    pm_json_arr_begin(j);
    for (int i = 0; s->in && i < s->in->n; i++) {
        const struct pm_input *in = &s->in->in[i];
        const struct pm_capfile_stats *st = pm_capfile_stats(in->cf);
        pm_json_obj_begin(j);
        pm_json_kstr(j, "path", in->path);
        pm_json_kstr(j, "vantage", in->label);
        pm_json_kstr(j, "format", pm_capfile_format(in->cf));
        pm_json_kstr(j, "linktype", pm_linktype_name(pm_capfile_first_linktype(in->cf)));
        pm_json_kuint(j, "records", st->records);
        pm_json_kbool(j, "damaged", st->damaged);
        pm_json_kstr(j, "damage", st->damaged ? st->damage : NULL);
        pm_json_obj_end(j);
    }
    pm_json_arr_end(j);
    pm_json_key(j, "interfaces");
    pm_json_arr_begin(j);
    for (int i = 0; i < s->nifaces; i++) {
        pm_json_str(j, s->ifaces[i]);
    }
    pm_json_arr_end(j);
    pm_json_key(j, "mta_logs");
    pm_json_arr_begin(j);
    for (uint32_t i = 0; s->logs && i < s->logs->nfiles; i++) {
        const struct pm_logfile_stats *ls = &s->logs->files[i];
        pm_json_obj_begin(j);
        pm_json_kstr(j, "path", ls->path);
        pm_json_kstr(j, "mta", pm_mta_name((enum pm_mta)ls->mta));
        pm_json_kstr(j, "format", ls->format);
        pm_json_kuint(j, "lines", ls->lines);
        pm_json_kuint(j, "parsed", ls->parsed);
        pm_json_kuint(j, "unparseable", ls->unparseable);
        pm_json_kuint(j, "no_attempt", ls->no_attempt);
        pm_json_obj_end(j);
    }
    pm_json_arr_end(j);
    pm_json_obj_end(j);

    pm_json_key(j, "capture");
    pm_json_obj_begin(j);
    pm_json_ktime(j, "first", s->first_ts);
    pm_json_ktime(j, "last", s->last_ts);
    pm_json_key(j, "vantages");
    pm_json_arr_begin(j);
    for (int v = 0; v < s->nvantage; v++) {
        const struct pm_vantage_state *vs = s->vs[v];
        pm_json_obj_begin(j);
        pm_json_kstr(j, "name", s->vantage_names[v]);
        pm_json_kint(j, "order", s->vantage_rank[v]);
        pm_json_ktime(j, "first", vs ? vs->first_ts : PM_NS_NONE);
        pm_json_ktime(j, "last", vs ? vs->last_ts : PM_NS_NONE);
        pm_json_kuint(j, "records", vs ? vs->records : 0);
        /* issue 14: no inbound packet at all; attempts picked up after their start */
        pm_json_kbool(j, "one_direction", s->vantage_one_direction[v]);
        pm_json_kuint(j, "late_joined", vs ? vs->late_joined : 0);
        pm_json_key(j, "local_addresses");
        pm_json_arr_begin(j);
        for (int i = 0; vs && i < vs->nlocal; i++) {
            pm_json_addr(j, &vs->local[i]);
        }
        pm_json_arr_end(j);
        pm_json_obj_end(j);
    }
    pm_json_arr_end(j);
    pm_json_obj_end(j);

    pm_json_kuint(j, "vantage_links", s->vantage_links);
    pm_json_kuint(j, "merged_far_views", s->merged);
    pm_json_key(j, "public_addresses");
    pm_json_arr_begin(j);
    for (int i = 0; i < s->npublic; i++) {
        pm_json_addr(j, &s->publics[i]);
    }
    pm_json_arr_end(j);
    pm_json_key(j, "packets");
    pm_json_obj_begin(j);
    pm_json_kuint(j, "read", s->live ? tc->records : s->records_read);
    pm_json_kuint(j, "kept_by_filter", tc->records);
    pm_json_kuint(j, "decoded", tc->decoded);
    pm_json_kuint(j, "truncated", tc->truncated);
    pm_json_kuint(j, "malformed", tc->malformed);
    pm_json_kuint(j, "unsupported_link_type", tc->unsupported_link);
    pm_json_kuint(j, "not_ip", tc->not_ip);
    pm_json_kuint(j, "fragments", tc->fragments);
    pm_json_kuint(j, "orphan_icmp", tc->orphan_icmp);
    pm_json_kuint(j, "orphan_rst", tc->orphan_rst);
    pm_json_kuint(j, "icmp_after_handshake", tc->icmp_established);
    pm_json_kuint(j, "frag_needed", tc->frag_needed);
    pm_json_kuint(j, "time_backwards", tc->time_backwards);
    pm_json_kuint(j, "unreadable_answers", tc->unreadable_answers);
    pm_json_obj_end(j);
    pm_json_key(j, "capture_drops");
    if (s->live) {
        pm_json_obj_begin(j);
        pm_json_kuint(j, "received", s->kernel_received);
        pm_json_kuint(j, "dropped", s->kernel_dropped);
        pm_json_kuint(j, "if_dropped", s->if_dropped);
        /* issue 15.3: per interface, with what portmortem took from each handle */
        pm_json_key(j, "interfaces");
        pm_json_arr_begin(j);
        for (int i = 0; i < s->nlive_ifs; i++) {
            const struct pm_live_ifstats *li = &s->live_ifs[i];
            pm_json_obj_begin(j);
            pm_json_kstr(j, "name", li->name);
            pm_json_kbool(j, "stats", li->stats);
            pm_json_kuint(j, "captured", li->captured);
            pm_json_kuint(j, "received", li->received);
            pm_json_kuint(j, "dropped", li->dropped);
            pm_json_kuint(j, "if_dropped", li->if_dropped);
            pm_json_obj_end(j);
        }
        pm_json_arr_end(j);
        pm_json_obj_end(j);
    } else {
        pm_json_null(j);
    }
    pm_json_key(j, "flows");
    pm_json_obj_begin(j);
    pm_json_kuint(j, "capacity", tc->flows_capacity);
    pm_json_kuint(j, "peak", tc->flows_peak);
    pm_json_kuint(j, "evictions", tc->evictions);
    pm_json_kuint(j, "sessions_peak", tc->sessions_peak);
    pm_json_kuint(j, "sessions_dropped", tc->sessions_dropped);
    pm_json_kuint(j, "destinations_overflow", overflow);
    pm_json_obj_end(j);
    json_limits(j);

    pm_json_key(j, "attempts");
    pm_json_obj_begin(j);
    pm_json_kuint(j, "total", s->attempts);
    pm_json_kuint(j, "syn_retransmissions", tc->syn_retransmissions);
    pm_json_kuint(j, "isn_reuse", tc->isn_reuse);
    pm_json_kuint(j, "syn_not_captured", tc->syn_not_captured);
    pm_json_kuint(j, "late_joined", tc->late_joined);
    pm_json_kuint(j, "answered_closed_early", tc->answered_closed_early);
    pm_json_kuint(j, "duplicate_records", tc->duplicates);
    pm_json_kuint(j, "inconsistent_with_log", s->inconsistent);
    json_counts(j, "outcomes", s->by_outcome, PM_OUT__COUNT, oname);
    json_counts(j, "verdicts", s->by_verdict, PM_V__COUNT, vname);
    pm_json_obj_end(j);

    pm_json_key(j, "correlation");
    if (s->corr && s->logs) {
        pm_json_obj_begin(j);
        pm_json_key(j, "clock_offset_s");
        pm_json_double(j, (double)s->corr->offset / 1e9, 3);
        pm_json_kbool(j, "offset_given", s->corr->offset_given);
        pm_json_kuint(j, "offset_samples", s->corr->offset_samples);
        pm_json_kuint(j, "matched", s->corr->matched);
        pm_json_kuint(j, "duplicates_folded", s->corr->absorbed);
        pm_json_kuint(j, "not_on_wire", s->corr->not_on_wire);
        pm_json_kuint(j, "session_lines_without_packets", s->corr->unmatched_session);
        pm_json_kuint(j, "outside_capture_window", s->corr->outside_window);
        pm_json_kuint(j, "no_attempt_lines", s->corr->no_attempt);
        pm_json_obj_end(j);
    } else {
        pm_json_null(j);
    }
    json_log_lines(j, s);
    pm_json_key(j, "destinations");
    pm_json_obj_begin(j);
    pm_json_kuint(j, "total", s->dests);
    pm_json_kuint(j, "failing", s->dests_failing);
    pm_json_kuint(j, "recovered", s->dests_recovered);
    pm_json_obj_end(j);
    pm_json_kstr(j, "scope", pm_scope_name(s->scope));
    pm_json_kstr(j, "scope_rule", s->scope_rule);
    pm_json_kstr(j, "scope_owner", pm_owner_name(s->scope_owner));
    pm_json_kstr(j, "scope_verdict", s->scope_text);
    pm_json_kstr(j, "next_step", s->next_step);
    if (s->live) {
        pm_json_kstr(j, "privileges", s->privileges);
    }
    pm_json_kbool(j, "damaged", s->damaged);
    pm_json_kstr(j, "damage", s->damaged ? s->damage : NULL);
    pm_json_kint(j, "exit_status", s->exit_status);
    json_ms(j, "elapsed_ms", s->elapsed);
    pm_json_obj_end(j);
}

/* ---- text ---- */

/* A verdict's colour is a column of the verdict table (analyze/verdicts.c). */
