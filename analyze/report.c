/*
 * report.c — owns the output formats (include/report.h) and the report's life cycle: the
 * text report, Zeek conn.log and CSV rows here; the JSON Lines objects are built by
 * report_json.c with the writer of json.c. The text report is for a tired person: per destination a
 * header and a line per attempt (time, source, outcome, verdict, the decisive clue), then
 * the scope verdict, the next step and the totals. Colours only on a terminal.
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

struct pm_report {
    enum pm_format fmt;
    FILE *out;
    bool color;
    bool stream;
    bool table_head; /* zeek, csv: the header is written (before the first row) */
    struct pm_json j;
};

/* ANSI colours, used only when the output is a terminal and NO_COLOR is unset (a verdict's
 * own colour is in the verdict table, analyze/verdicts.c). */
#define C_YELLOW "\033[33m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_OFF "\033[0m"

struct pm_report *pm_report_new(enum pm_format fmt, FILE *out, bool color)
{
    struct pm_report *r = pm_xcalloc(1, sizeof(*r));
    r->fmt = fmt;
    r->out = out;
    r->color = color;
    pm_json_init(&r->j, out);
    return r;
}

void pm_report_set_stream(struct pm_report *r, bool stream) { r->stream = stream; }

bool pm_report_prints_evidence(const struct pm_report *r)
{
    return !r || r->fmt == PM_FMT_JSONL;
}

void pm_report_free(struct pm_report *r)
{
    if (r) {
        fflush(r->out);
        free(r);
    }
}

/* ---- Zeek conn.log and CSV ---- */

/* One row per attempt, in the columns of Zeek's conn.log (base/protocols/conn/main.zeek,
 * Conn::Info, in its order and units) followed by portmortem's own. Zeek's ASCII writer
 * reads a value it does not know as unset (`-`); we write `-` wherever the tool does not
 * measure what Zeek would (packet and IP byte counts, gaps, the site's local networks). */
enum col_type { CT_TIME, CT_STRING, CT_ADDR, CT_PORT, CT_ENUM, CT_INTERVAL, CT_COUNT, CT_BOOL,
                CT_SET_STRING };

static const struct {
    const char *name;
    enum col_type type;
} table_cols[] = {
    {"ts", CT_TIME}, {"uid", CT_STRING}, {"id.orig_h", CT_ADDR}, {"id.orig_p", CT_PORT},
    {"id.resp_h", CT_ADDR}, {"id.resp_p", CT_PORT}, {"proto", CT_ENUM},
    {"service", CT_STRING}, {"duration", CT_INTERVAL}, {"orig_bytes", CT_COUNT},
    {"resp_bytes", CT_COUNT}, {"conn_state", CT_STRING}, {"local_orig", CT_BOOL},
    {"local_resp", CT_BOOL}, {"missed_bytes", CT_COUNT}, {"history", CT_STRING},
    {"orig_pkts", CT_COUNT}, {"orig_ip_bytes", CT_COUNT}, {"resp_pkts", CT_COUNT},
    {"resp_ip_bytes", CT_COUNT}, {"tunnel_parents", CT_SET_STRING},
    /* portmortem's columns: the output contract's words (docs/FORMATS.md) */
    {"pm_id", CT_COUNT}, {"pm_vantage", CT_STRING}, {"pm_outcome", CT_STRING},
    {"pm_verdict", CT_STRING}, {"pm_owner", CT_STRING}, {"pm_confidence", CT_STRING},
    {"pm_rule", CT_STRING}, {"pm_flags", CT_SET_STRING}, {"pm_clue", CT_STRING},
};

static const char *const col_type_name[] = {
    [CT_TIME] = "time", [CT_STRING] = "string", [CT_ADDR] = "addr", [CT_PORT] = "port",
    [CT_ENUM] = "enum", [CT_INTERVAL] = "interval", [CT_COUNT] = "count", [CT_BOOL] = "bool",
    [CT_SET_STRING] = "set[string]",
};

/* A cell: unset (NULL), or text; a set cell holds its elements apart, NUL-separated. */
struct cell {
    const char *v;
    int nelem; /* sets: elements in v ("a\0b\0") */
};

/* Zeek's ASCII writer escapes a byte it cannot write as is as \xNN: the separator, every
 * byte that is not printable ASCII (UTF-8 too: LogAscii::enable_utf_8=F form, which every
 * Zeek reader accepts), and the backslash itself; in a set, the set separator. An empty
 * string is the empty marker; a string that reads as the unset or empty marker gets its
 * first byte escaped, so that it cannot be taken for one. */
static void zeek_str(FILE *o, const char *v, size_t n, bool in_set)
{
    if (n == 0) {
        fputs("(empty)", o);
        return;
    }
    bool marker = (n == 1 && v[0] == '-') || (n == 7 && !memcmp(v, "(empty)", 7));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((i == 0 && marker) || c < 0x20 || c >= 0x7f || c == '\\' || (in_set && c == ',')) {
            fprintf(o, "\\x%02x", c);
        } else {
            fputc(c, o);
        }
    }
}

/* RFC 4180 §2: a field with a comma, a double quote, CR or LF is quoted, its quotes
 * doubled. */
static void csv_str(FILE *o, const char *v, size_t n)
{
    if (strcspn(v, ",\"\r\n") >= n) {
        fwrite(v, 1, n, o);
        return;
    }
    fputc('"', o);
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"') {
            fputc('"', o);
        }
        fputc(v[i], o);
    }
    fputc('"', o);
}

static void table_cell(FILE *o, bool zeek, enum col_type t, const struct cell *c)
{
    if (!c->v) {
        if (zeek) {
            fputc('-', o);
        }
        return;
    }
    if (t == CT_SET_STRING) {
        if (zeek && c->nelem == 0) {
            fputs("(empty)", o);
            return;
        }
        /* CSV: the elements joined by commas, quoted as one field */
        char joined[512];
        size_t jn = 0;
        const char *e = c->v;
        for (int i = 0; i < c->nelem; i++) {
            size_t n = strlen(e);
            if (zeek) {
                if (i) {
                    fputc(',', o);
                }
                zeek_str(o, e, n, true);
            } else if (jn + n + 1 < sizeof(joined)) {
                if (i) {
                    joined[jn++] = ',';
                }
                memcpy(joined + jn, e, n);
                jn += n;
            }
            e += n + 1;
        }
        if (!zeek) {
            csv_str(o, joined, jn);
        }
        return;
    }
    if (t == CT_STRING && zeek) {
        zeek_str(o, c->v, strlen(c->v), false);
    } else if (t == CT_STRING) {
        csv_str(o, c->v, strlen(c->v));
    } else {
        fputs(c->v, o); /* numbers, addresses, T/F, tcp: nothing to escape */
    }
}

/* Zeek's #open/#close stamps: the wall clock, local time, as its ASCII writer writes them. */
static void zeek_stamp(FILE *o, const char *tag)
{
    char b[32] = "-";
    time_t now = (time_t)(pm_now_realtime() / 1000000000);
    struct tm tm;
    if (localtime_r(&now, &tm)) {
        strftime(b, sizeof(b), "%Y-%m-%d-%H-%M-%S", &tm);
    }
    fprintf(o, "#%s\t%s\n", tag, b);
}

static void table_head(struct pm_report *r)
{
    FILE *o = r->out;
    bool zeek = r->fmt == PM_FMT_ZEEK;
    r->table_head = true;
    if (zeek) {
        fputs("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n"
              "#path\tconn\n", o);
        zeek_stamp(o, "open");
        fputs("#fields", o);
        for (size_t i = 0; i < PM_ARRAY_LEN(table_cols); i++) {
            fprintf(o, "\t%s", table_cols[i].name);
        }
        fputs("\n#types", o);
        for (size_t i = 0; i < PM_ARRAY_LEN(table_cols); i++) {
            fprintf(o, "\t%s", col_type_name[table_cols[i].type]);
        }
        fputc('\n', o);
        return;
    }
    for (size_t i = 0; i < PM_ARRAY_LEN(table_cols); i++) {
        fprintf(o, "%s%s", i ? "," : "", table_cols[i].name);
    }
    fputs("\r\n", o); /* RFC 4180 §2.1: CRLF ends every record */
}

/* Seconds since the epoch with 6 decimals (Zeek's time and interval), from nanoseconds. */
static const char *zeek_secs(pm_ns t, char *b, size_t len)
{
    int64_t sec = t / 1000000000, ns = t % 1000000000;
    if (ns < 0) {
        sec--;
        ns += 1000000000;
    }
    snprintf(b, len, "%lld.%06lld", (long long)sec, (long long)(ns / 1000));
    return b;
}

/* Zeek-style uid: "C" and a base-62 hash of what identifies the attempt in this report
 * (its id and endpoints as written), so that a JSON Lines run of the same capture gives
 * the same uid for the same attempt (docs/FORMATS.md). FNV-1a, 64 bits. */
static void table_uid(char *out, uint32_t id, const char *oh, const char *op, const char *rh,
                      const char *rp)
{
    char key[200];
    snprintf(key, sizeof(key), "%u|%s|%s|%s|%s", id, oh, op, rh, rp);
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = key; *p; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    }
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    out[0] = 'C';
    for (int i = 1; i <= 11; i++) { /* 62^11 > 2^64 */
        out[i] = b62[h % 62];
        h /= 62;
    }
    out[12] = '\0';
}

static void table_row(struct pm_report *r, const struct pm_finding *f,
                      const struct pm_attr_env *env)
{
    FILE *o = r->out;
    bool zeek = r->fmt == PM_FMT_ZEEK;
    if (!r->table_head) {
        table_head(r);
    }
    const struct pm_attempt *a = f->a;
    const struct pm_logentry *l = f->log;
    char ts[32], uid[16], oh[PM_ADDR_STRLEN], op[8], rh[PM_ADDR_STRLEN], rp[8], dur[32],
        ob[16], rb[16], id[16];
    char flags[400];
    int nflags = 0;
    size_t fl = 0;
    pm_ns t = a ? a->first_syn : (l ? l->ts : PM_NS_NONE);
    const pm_addr *src = a ? &a->cli : &f->src;
    const pm_addr *dst = a ? &a->srv : (l ? &l->addr : NULL);
    pm_addr none = {0};
    pm_addr_str(src, oh);
    pm_addr_str(dst ? dst : &none, rh);
    if (a) {
        snprintf(op, sizeof(op), "%u", a->sport);
    } else {
        snprintf(op, sizeof(op), "-");
    }
    snprintf(rp, sizeof(rp), "%u", a ? a->dport : (l && l->port ? l->port : 25));
    table_uid(uid, f->id, oh, op, rh, rp);
    snprintf(id, sizeof(id), "%u", f->id);
    bool have_dur = a && a->last_seen != PM_NS_NONE && a->last_seen > a->first_syn;
    if (have_dur) {
        zeek_secs(a->last_seen - a->first_syn, dur, sizeof(dur));
    }
    if (a) {
        snprintf(ob, sizeof(ob), "%u", a->cli_bytes);
        snprintf(rb, sizeof(rb), "%u", a->srv_bytes);
        for (size_t i = 0; i < pm_report_nflag_names; i++) {
            size_t n = strlen(pm_report_flag_names[i].name);
            if ((a->flags & pm_report_flag_names[i].bit) && fl + n + 1 <= sizeof(flags)) {
                memcpy(flags + fl, pm_report_flag_names[i].name, n + 1);
                fl += n + 1;
                nflags++;
            }
        }
    }
    bool smtp = a && (a->banner_code > 0 || (f->smtp && f->smtp->banner_code > 0));
    const char *vantage = env->vantage_names ? env->vantage_names[a ? a->vantage : 0] : NULL;
    const struct cell cells[PM_ARRAY_LEN(table_cols)] = {
        {t != PM_NS_NONE ? zeek_secs(t, ts, sizeof(ts)) : NULL, 0},
        {uid, 0},
        {src->family ? oh : NULL, 0},
        {a ? op : NULL, 0},
        {dst && dst->family ? rh : NULL, 0},
        {rp, 0},
        {"tcp", 0},
        {smtp ? "smtp" : NULL, 0},
        {have_dur ? dur : NULL, 0},
        {a ? ob : NULL, 0},
        {a ? rb : NULL, 0},
        {a ? pm_attempt_conn_state(a) : NULL, 0},
        {NULL, 0}, /* local_orig: Site::local_nets is Zeek's configuration, not ours */
        {NULL, 0},
        {NULL, 0}, /* missed_bytes: content gaps are not measured */
        {a ? a->history : NULL, 0},
        {NULL, 0}, /* packet and IP byte counts are not kept per attempt */
        {NULL, 0},
        {NULL, 0},
        {NULL, 0},
        {NULL, 0}, /* tunnel_parents: tunnels are not decoded */
        {id, 0},
        {vantage, 0},
        {pm_outcome_name(f->outcome), 0},
        {pm_verdict_name(f->verdict), 0},
        {pm_owner_name(f->owner), 0},
        {pm_confidence_name(f->confidence), 0},
        {f->rule ? f->rule->id : NULL, 0},
        {a ? flags : NULL, nflags},
        {f->clue, 0},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(table_cols); i++) {
        if (i) {
            fputc(zeek ? '\t' : ',', o);
        }
        table_cell(o, zeek, table_cols[i].type, &cells[i]);
    }
    fputs(zeek ? "\n" : "\r\n", o);
}

static const char *verdict_color(const struct pm_report *r, enum pm_verdict v);

/* Live text: one line per attempt as it finishes. */
static void text_stream_line(struct pm_report *r, const struct pm_finding *f)
{
    char t[32], src[PM_ADDR_STRLEN + 8] = "(not on wire)", dst[PM_ADDR_STRLEN + 8] = "?";
    const struct pm_attempt *a = f->a;
    const struct pm_logentry *l = f->log;
    char x[PM_ADDR_STRLEN];
    pm_ns ts = a ? a->first_syn : (l ? l->ts : PM_NS_NONE);
    unsigned dport = a ? a->dport : (l && l->port ? l->port : 25);
    if (a) {
        snprintf(src, sizeof(src), a->family == PM_AF_INET6 ? "[%s]:%u" : "%s:%u",
                 pm_addr_str(&a->cli, x), a->sport);
        snprintf(dst, sizeof(dst), "%s", pm_addr_str(&a->srv, x));
    } else if (l) {
        snprintf(dst, sizeof(dst), "%s", pm_addr_str(&l->addr, x));
    }
    fprintf(r->out, "%s  #%-4u %-22s > %s:%u  %-20s %s%s%s (%s, %s)  %s\n",
            pm_time_short(ts, t, sizeof(t)), f->id, src, dst, dport,
            pm_outcome_name(f->outcome), verdict_color(r, f->verdict),
            pm_verdict_name(f->verdict), r->color ? C_OFF : "", pm_owner_name(f->owner),
            pm_confidence_name(f->confidence), f->clue);
    fflush(r->out);
}

void pm_report_attempt(struct pm_report *r, const struct pm_finding *f,
                       const struct pm_attr_env *env)
{
    if (r->fmt == PM_FMT_JSONL) {
        pm_report_attempt_json(r->out, f, env);
    } else if (r->fmt == PM_FMT_ZEEK || r->fmt == PM_FMT_CSV) {
        table_row(r, f, env);
        if (r->stream) {
            fflush(r->out); /* live: each row as its attempt ends, like the text lines */
        }
    } else if (r->stream) {
        text_stream_line(r, f);
    }
}

/* ---- destinations ---- */

/* ---- destinations and summary: report_json.c ---- */

static const char *verdict_color(const struct pm_report *r, enum pm_verdict v)
{
    return r->color ? pm_verdict_info(v)->ansi : "";
}


/* The MTA log lines the capture window does not cover: counted, the first few shown, and
 * never a verdict (docs/VERDICTS.md, "The capture window"). */
static void text_outside(struct pm_report *r, const struct pm_run_summary *s)
{
    if (!s->corr || !s->logs || s->corr->outside_window == 0) {
        return;
    }
    FILE *o = r->out;
    const char *D = r->color ? C_DIM : "", *X = r->color ? C_OFF : "";
    fprintf(o, "        MTA log lines outside the capture window: %llu (their SYNs may have left "
               "while nothing was recorded: no verdict; give --since/--until or capture "
               "longer)\n", (unsigned long long)s->corr->outside_window);
    for (size_t i = 0; i < s->noutside && i < PM_TEXT_OUTSIDE_SHOWN; i++) {
        const struct pm_corr_outside *x = &s->outside[i];
        const struct pm_logentry *l = &s->logs->e[x->idx];
        char a[PM_ADDR_STRLEN], t1[40], t2[40];
        const char *path = l->file < s->logs->nfiles ? s->logs->files[l->file].path : "";
        const char *b = strrchr(path, '/');
        fprintf(o, "          %s%s:%u%s  %s:%u  %s  (SYNs %s to %s)\n", D, b ? b + 1 : path,
                l->line, X, pm_addr_str(&l->addr, a), l->port ? l->port : 25, l->text,
                pm_time_short(x->iv.lo, t1, sizeof(t1)), pm_time_short(x->iv.hi, t2, sizeof(t2)));
    }
    if (s->corr->outside_window > PM_TEXT_OUTSIDE_SHOWN) {
        fprintf(o, "          %s… %llu more (use --format jsonl for all)%s\n", D,
                (unsigned long long)(s->corr->outside_window - PM_TEXT_OUTSIDE_SHOWN), X);
    }
}


static void text_sample(struct pm_report *r, const struct pm_dest_sample *sm)
{
    const char *D = r->color ? C_DIM : "", *X = r->color ? C_OFF : "";
    char buf[64], src[PM_ADDR_STRLEN + 8] = "(not on wire)";
    if (sm->src.family && sm->outcome != PM_OUT_NOT_ON_WIRE) {
        char sa[PM_ADDR_STRLEN];
        pm_addr_str(&sm->src, sa);
        snprintf(src, sizeof(src), sm->src.family == PM_AF_INET6 ? "[%s]:%u" : "%s:%u", sa,
                 sm->sport);
    }
    fprintf(r->out, "  %s%s%s  #%-4u %-22s :%-4u %-20s %s%-14s%s %s\n", D,
            pm_time_short(sm->ts, buf, sizeof(buf)), X, sm->id, src, sm->dport,
            pm_outcome_name((enum pm_outcome)sm->outcome),
            verdict_color(r, (enum pm_verdict)sm->verdict),
            pm_verdict_name((enum pm_verdict)sm->verdict), X, sm->clue);
}

/* "first to last" of a verdict, or nothing when a time is unknown. */
static void text_range(FILE *o, pm_ns lo, pm_ns hi)
{
    char t1[40], t2[40];
    if (lo != PM_NS_NONE && hi != PM_NS_NONE) {
        fprintf(o, "  %s to %s", pm_time_short(lo, t1, sizeof(t1)),
                pm_time_short(hi, t2, sizeof(t2)));
    }
}

/* A storm's destination: after its first attempts, every verdict it had with the count and
 * the first and last time (the samples are every attempt until vtimes exists). */
static void text_dest_verdicts(struct pm_report *r, const struct pm_dest *d, uint32_t more)
{
    FILE *o = r->out;
    const char *D = r->color ? C_DIM : "", *X = r->color ? C_OFF : "";
    if (more >= d->attempts && d->nsamples == 0) { /* none shown above */
        fprintf(o, "  %sby verdict (use --format jsonl for each attempt):%s\n", D, X);
    } else {
        fprintf(o, "  %s… %u more attempt%s (use --format jsonl for all); all %u by verdict:%s\n",
                D, more, more == 1 ? "" : "s", d->attempts, X);
    }
    for (int v = 0; v < PM_V__COUNT; v++) {
        if (!d->by_verdict[v]) {
            continue;
        }
        pm_ns lo = PM_NS_NONE, hi = PM_NS_NONE;
        if (d->vtimes) {
            lo = d->vtimes[v][0];
            hi = d->vtimes[v][1];
        } else if (!d->samples_dropped) {
            for (int k = 0; k < d->nsamples; k++) {
                const struct pm_dest_sample *sm = &d->samples[k];
                if (sm->verdict == v && (lo == PM_NS_NONE || sm->ts < lo)) {
                    lo = sm->ts;
                }
                if (sm->verdict == v && (hi == PM_NS_NONE || sm->ts > hi)) {
                    hi = sm->ts;
                }
            }
        }
        fprintf(o, "      %s%-16s%s %8u attempt%s", verdict_color(r, (enum pm_verdict)v),
                pm_verdict_name((enum pm_verdict)v), X, d->by_verdict[v],
                d->by_verdict[v] == 1 ? " " : "s");
        text_range(o, lo, hi);
        fputc('\n', o);
    }
}

/* A storm's rest: the destinations not shown, by their verdict (count, attempts, first and
 * last time), then every attempt by verdict (count, destinations, first and last time). */
static void text_storm(struct pm_report *r, struct pm_dest **ds, size_t n, const size_t *top,
                       size_t ntop, const struct pm_run_summary *s)
{
    FILE *o = r->out;
    const char *B = r->color ? C_BOLD : "", *X = r->color ? C_OFF : "";
    struct {
        uint64_t dests, attempts;
        pm_ns lo, hi;
    } g[PM_V__COUNT];
    uint64_t at[PM_V__COUNT] = {0}; /* destinations with an attempt of that verdict */
    uint64_t rest = 0;
    for (int v = 0; v < PM_V__COUNT; v++) {
        g[v].dests = g[v].attempts = 0;
        g[v].lo = g[v].hi = PM_NS_NONE;
    }
    for (size_t i = 0; i < n; i++) {
        const struct pm_dest *d = ds[i];
        if (d->attempts == 0) {
            continue;
        }
        for (int v = 0; v < PM_V__COUNT; v++) {
            at[v] += d->by_verdict[v] > 0;
        }
        bool shown = false;
        for (size_t k = 0; k < ntop; k++) {
            shown |= top[k] == i;
        }
        if (shown) {
            continue; /* listed above */
        }
        char line[200];
        enum pm_verdict dv;
        pm_dest_line(d, line, sizeof(line), &dv, NULL);
        rest++;
        g[dv].dests++;
        g[dv].attempts += d->attempts;
        if (d->first_ts != PM_NS_NONE && (g[dv].lo == PM_NS_NONE || d->first_ts < g[dv].lo)) {
            g[dv].lo = d->first_ts;
        }
        if (d->last_ts != PM_NS_NONE && (g[dv].hi == PM_NS_NONE || d->last_ts > g[dv].hi)) {
            g[dv].hi = d->last_ts;
        }
    }
    if (rest) {
        fprintf(o, "\n%s… %llu more destination%s%s (use --format jsonl for all), by their "
                   "verdict:\n", B, (unsigned long long)rest, rest == 1 ? "" : "s", X);
        for (int v = 0; v < PM_V__COUNT; v++) {
            if (!g[v].dests) {
                continue;
            }
            fprintf(o, "      %s%-16s%s %8llu destination%s %8llu attempt%s",
                    verdict_color(r, (enum pm_verdict)v), pm_verdict_name((enum pm_verdict)v),
                    X, (unsigned long long)g[v].dests, g[v].dests == 1 ? " " : "s",
                    (unsigned long long)g[v].attempts, g[v].attempts == 1 ? " " : "s");
            text_range(o, g[v].lo, g[v].hi);
            fputc('\n', o);
        }
    }
    fprintf(o, "\n%sAll %llu attempts by verdict:%s\n", B, (unsigned long long)s->attempts, X);
    for (int v = 0; v < PM_V__COUNT; v++) {
        if (!s->by_verdict[v]) {
            continue;
        }
        fprintf(o, "      %s%-16s%s %8llu attempt%s at %llu destination%s",
                verdict_color(r, (enum pm_verdict)v), pm_verdict_name((enum pm_verdict)v), X,
                (unsigned long long)s->by_verdict[v], s->by_verdict[v] == 1 ? " " : "s",
                (unsigned long long)at[v], at[v] == 1 ? "" : "s");
        if (s->vtimed[v]) {
            text_range(o, s->vtime[v][0], s->vtime[v][1]);
        }
        fputc('\n', o);
    }
}

static void text_report(struct pm_report *r, struct pm_context *ctx,
                        const struct pm_run_summary *s)
{
    FILE *o = r->out;
    const char *B = r->color ? C_BOLD : "", *D = r->color ? C_DIM : "", *X = r->color ? C_OFF : "";
    char t1[40], t2[40], buf[64];
    fprintf(o, "%sportmortem %s%s", B, PM_VERSION, X);
    if (s->in && s->in->n) {
        fprintf(o, " — %d capture file%s", s->in->n, s->in->n == 1 ? "" : "s");
    }
    if (s->nifaces) {
        fprintf(o, " — %d interface%s", s->nifaces, s->nifaces == 1 ? "" : "s");
    }
    if (s->logs && s->logs->nfiles) {
        fprintf(o, ", %u MTA log%s", s->logs->nfiles, s->logs->nfiles == 1 ? "" : "s");
    }
    if (s->first_ts != PM_NS_NONE) {
        fprintf(o, ", %s to %s UTC", pm_time_str(s->first_ts, t1, sizeof(t1)),
                pm_time_short(s->last_ts, t2, sizeof(t2)));
    }
    fputc('\n', o);

    struct pm_dest **ds;
    size_t n = pm_context_dests_sorted(ctx, &ds);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        nd += ds[i]->attempts > 0;
    }
    /* A storm (issue 15.4): more attempts or destinations than a person reads one by one.
     * Then the first destinations with their first attempts in full, each destination's
     * counts and time ranges per verdict, the other destinations by their verdict, and
     * every attempt by verdict: one screen whatever the size; JSON Lines list each. A
     * small incident reads as before: every destination, up to PM_DEST_SAMPLES attempts. */
    bool storm = s->attempts > PM_TEXT_STORM_ATTEMPTS || nd > PM_TEXT_STORM_DESTS;
    /* In a storm the destinations shown are the ones with the most attempts (ties: the
     * usual order, failures first), listed in the usual order. */
    size_t top[PM_TEXT_STORM_DESTS_SHOWN], ntop = 0;
    for (size_t i = 0; storm && i < n; i++) {
        if (ds[i]->attempts == 0) {
            continue;
        }
        size_t k = ntop < PM_TEXT_STORM_DESTS_SHOWN ? ntop++ : PM_TEXT_STORM_DESTS_SHOWN;
        while (k > 0 && ds[top[k - 1]]->attempts < ds[i]->attempts) {
            if (k < PM_TEXT_STORM_DESTS_SHOWN) {
                top[k] = top[k - 1];
            }
            k--;
        }
        if (k < PM_TEXT_STORM_DESTS_SHOWN) {
            top[k] = i;
        }
    }
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        const struct pm_dest *d = ds[i];
        bool in_top = false;
        for (size_t k = 0; k < ntop; k++) {
            in_top |= top[k] == i;
        }
        if (d->attempts == 0 || (storm && !in_top)) {
            continue;
        }
        shown++;
        char line[200], a[PM_ADDR_STRLEN];
        enum pm_verdict dv;
        pm_dest_line(d, line, sizeof(line), &dv, NULL);
        fprintf(o, "\n%s%s%s%s%s  %s%s%s\n", B, pm_addr_str(&d->addr, a), X,
                d->name[0] ? "  " : "", d->name, verdict_color(r, dv), line, X);
        int nsm =
            storm && d->nsamples > PM_TEXT_STORM_SAMPLES ? PM_TEXT_STORM_SAMPLES : d->nsamples;
        for (int k = 0; k < nsm; k++) {
            text_sample(r, &d->samples[k]);
        }
        uint32_t more = d->samples_dropped + (uint32_t)(d->nsamples - nsm);
        if (storm && !more && !d->nsamples) {
            more = d->attempts; /* no samples (the bundle's summary.txt of a JSON run) */
        }
        if (more && storm) {
            text_dest_verdicts(r, d, more);
        } else if (more) {
            fprintf(o, "  %s… %u more attempt%s (use --format jsonl for all)%s\n", D, more,
                    more == 1 ? "" : "s", X);
        }
    }
    if (storm) {
        text_storm(r, ds, n, top, ntop, s);
    }
    fprintf(o, "\n%sScope:%s %s\n", B, X, s->scope_text);
    if (s->next_step[0]) {
        fprintf(o, "%sNext:%s  %s\n", B, X, s->next_step);
    }
    fprintf(o, "%sTotals:%s %llu attempt%s", B, X, (unsigned long long)s->attempts,
            s->attempts == 1 ? "" : "s");
    for (int k = 0; k < PM_OUT__COUNT; k++) {
        if (s->by_outcome[k]) {
            fprintf(o, ", %llu %s", (unsigned long long)s->by_outcome[k],
                    pm_outcome_name((enum pm_outcome)k));
        }
    }
    const struct pm_track_counters *tc = s->tc;
    fprintf(o, "\n        %llu packets read, %llu kept by the filter, %llu decoded, %llu "
               "truncated, %llu malformed",
            (unsigned long long)(s->live ? tc->records : s->records_read),
            (unsigned long long)tc->records, (unsigned long long)tc->decoded,
            (unsigned long long)tc->truncated, (unsigned long long)tc->malformed);
    if (tc->unsupported_link) {
        fprintf(o, ", %llu of an unsupported link type", (unsigned long long)tc->unsupported_link);
    }
    if (tc->evictions) {
        fprintf(o, ", %llu flow-table evictions", (unsigned long long)tc->evictions);
    }
    if (s->live) {
        fprintf(o, "; kernel: %llu received, %llu dropped, %llu dropped by the interface%s",
                (unsigned long long)s->kernel_received, (unsigned long long)s->kernel_dropped,
                (unsigned long long)s->if_dropped, s->nlive_ifs > 1 ? " (" : "");
        for (int i = 0; s->nlive_ifs > 1 && i < s->nlive_ifs; i++) {
            const struct pm_live_ifstats *li = &s->live_ifs[i];
            fprintf(o, "%s%s %llu/%llu/%llu", i ? ", " : "", li->name,
                    (unsigned long long)li->received, (unsigned long long)li->dropped,
                    (unsigned long long)li->if_dropped);
        }
        fprintf(o, "%s", s->nlive_ifs > 1 ? ")" : "");
    }
    fputc('\n', o);
    if (s->live && (s->kernel_dropped || s->if_dropped)) {
        fprintf(o, "        %sCapture loss: %llu packets dropped by the kernel, %llu by the "
                   "interface before portmortem saw them (raise: -B; narrower --ports); results "
                   "are partial%s\n", r->color ? C_YELLOW : "",
                (unsigned long long)s->kernel_dropped, (unsigned long long)s->if_dropped, X);
    }
    if (s->npublic > 0) {
        fprintf(o, "        mail leaves the NAT as:");
        for (int i = 0; i < s->npublic; i++) {
            char pa[PM_ADDR_STRLEN];
            fprintf(o, " %s", pm_addr_str(&s->publics[i], pa));
        }
        fprintf(o, " (%u SYNs matched across vantage points)\n", s->vantage_links);
    }
    if (s->logs && s->corr) {
        fprintf(o, "        MTA log: %llu lines matched to packets, %llu not on the wire, clock "
                   "offset %s s%s\n",
                (unsigned long long)s->corr->matched, (unsigned long long)s->corr->not_on_wire,
                pm_dur_str(s->corr->offset, buf, sizeof(buf)),
                s->corr->offset_given ? " (given)" : "");
    }
    text_outside(r, s);
    if (s->inconsistent) {
        fprintf(o, "        %s%llu attempt%s where the log and the packets disagree (see "
                   "evidence)%s\n", r->color ? C_YELLOW : "", (unsigned long long)s->inconsistent,
                s->inconsistent == 1 ? "" : "s", X);
    }
    for (int t = 0; t < PM_TAB__COUNT; t++) {
        const struct pm_table_state *st = pm_table_state((enum pm_table)t);
        if (st->lost) {
            fprintf(o, "        %sLimit: the %s table was full: %llu %s (raise: %s); results "
                       "are partial%s\n", r->color ? C_YELLOW : "", pm_table_key((enum pm_table)t),
                    (unsigned long long)st->lost, pm_table_lost_words((enum pm_table)t),
                    pm_table_option((enum pm_table)t), X);
        }
    }
    if (s->live && s->privileges[0]) {
        fprintf(o, "        %s\n", s->privileges);
    }
}

void pm_report_finish(struct pm_report *r, struct pm_context *ctx,
                      const struct pm_run_summary *s)
{
    if (r->fmt == PM_FMT_JSONL) {
        struct pm_dest **ds;
        size_t n = pm_context_dests_sorted(ctx, &ds);
        for (size_t i = 0; i < n; i++) {
            if (ds[i]->attempts) {
                pm_report_json_dest(&r->j, ds[i]);
            }
        }
        pm_report_json_summary(&r->j, s, pm_context_dests_overflow(ctx));
    } else if (r->fmt == PM_FMT_ZEEK || r->fmt == PM_FMT_CSV) {
        /* One row per attempt and nothing else: the destinations and the summary are the
         * JSON Lines' and the text report's; Zeek's log ends with its #close line. */
        if (!r->table_head) {
            table_head(r);
        }
        if (r->fmt == PM_FMT_ZEEK) {
            zeek_stamp(r->out, "close");
        }
    } else {
        text_report(r, ctx, s);
    }
    fflush(r->out);
}
