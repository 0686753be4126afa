/*
 * mtalog.c — owns the MTA log reader (include/mtalog.h): the line framing (syslog PRI,
 * timestamp, host, tag; RFC 5424 header; Exim mainlog), the dispatch to the per-MTA parsers
 * (mtalog_postfix.c, mtalog_exim.c, mtalog_sendmail.c; their shared field readers and the
 * errno text table are in mtalog_fields.c), and the
 * loader: bounded line reading from plain or gzip files, per-file statistics, and the
 * merging of summary lines (Postfix status=, Exim ==, Sendmail stat=) into the per-address
 * line they repeat, so that one connection attempt is one entry.
 *
 * Every line is attacker-influenced (a remote server's banner ends up in it): all parsing
 * works on bounded spans (mtalog_int.h) and never reads past the length it was given.
 */
#include "mtalog.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lines.h"
#include "mtalog_int.h"
#include "tables.h"
#include "util.h"

/* ---- names ---- */

const char *pm_mta_name(enum pm_mta m)
{
    switch (m) {
    case PM_MTA_POSTFIX:
        return "postfix";
    case PM_MTA_EXIM:
        return "exim";
    case PM_MTA_SENDMAIL:
        return "sendmail";
    case PM_MTA_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *pm_logkind_name(enum pm_logkind k)
{
    static const char *const names[PM_LK__COUNT] = {
        [PM_LK_CONNECT_FAIL] = "connect-fail",
        [PM_LK_GREETING_LOST] = "greeting-lost",
        [PM_LK_GREETING_TIMEOUT] = "greeting-timeout",
        [PM_LK_SMTP_REJECT] = "smtp-reject",
        [PM_LK_LOST_LATER] = "lost-later",
        [PM_LK_DELIVERED] = "delivered",
        [PM_LK_BIND_FAIL] = "bind-fail",
        [PM_LK_NO_ATTEMPT] = "no-attempt",
    };
    return (unsigned)k < PM_LK__COUNT ? names[k] : "unknown";
}

const char *pm_errclass_name(enum pm_errclass c)
{
    static const char *const names[PM_EC__COUNT] = {
        [PM_EC_NONE] = "none",
        [PM_EC_REFUSED] = "ECONNREFUSED",
        [PM_EC_TIMEDOUT] = "ETIMEDOUT",
        [PM_EC_HOSTUNREACH] = "EHOSTUNREACH",
        [PM_EC_NETUNREACH] = "ENETUNREACH",
        [PM_EC_ACCES] = "EACCES",
        [PM_EC_PERM] = "EPERM",
        [PM_EC_ADDRNOTAVAIL] = "EADDRNOTAVAIL",
        [PM_EC_HOSTDOWN] = "EHOSTDOWN",
        [PM_EC_CONNRESET] = "ECONNRESET",
        [PM_EC_INVAL] = "EINVAL",
        [PM_EC_OTHER] = "other",
    };
    return (unsigned)c < PM_EC__COUNT ? names[c] : "other";
}

/* ---- framing: what precedes the message ---- */

enum tagres { TAG_NO, TAG_OK, TAG_BAD };

struct hdr {
    pm_span tag;  /* "postfix/smtp", "exim4", "sendmail" */
    pm_span msg;  /* after "tag[pid]: " */
    uint32_t pid;
    enum tagres tagres;
    bool exim_main; /* an Exim mainlog line: no host, no tag */
    struct pm_mtalog_ts ts;
};

#define TAG_MAX 128

/* "NAME[PID]: " or "NAME: " at the start of s. TAG_BAD: a NAME with a broken "[PID]"
 * (missing ']', not digits, over 32 bits) — the line names its program but is damaged. */
static enum tagres parse_tag(pm_span *s, struct hdr *h)
{
    pm_span x = *s;
    size_t i = 0;
    while (i < x.n && i <= TAG_MAX && x.p[i] != ' ' && x.p[i] != ':' && x.p[i] != '[' &&
           x.p[i] != ']') {
        i++;
    }
    if (i == 0 || i > TAG_MAX || i >= x.n) {
        return TAG_NO;
    }
    h->tag = sp_head(x, i);
    h->pid = 0;
    if (x.p[i] == '[') {
        pm_span r = sp_from(x, i + 1);
        uint64_t v;
        if (!sp_uint(&r, 10, &v) || v > UINT32_MAX || !sp_eat(&r, "]:") ||
            (r.n && r.p[0] != ' ')) {
            return TAG_BAD;
        }
        h->pid = (uint32_t)v;
        x = r;
    } else if (x.p[i] == ':') {
        x = sp_from(x, i + 1);
        if (x.n && x.p[0] != ' ') {
            return TAG_NO; /* "a:b" is not a tag */
        }
    } else {
        return TAG_NO;
    }
    sp_eat(&x, " ");
    *s = x;
    return TAG_OK;
}

static uint32_t hash32(pm_span s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < s.n; i++) {
        h = (h ^ (uint8_t)s.p[i]) * 16777619u;
    }
    return h;
}

/* After the timestamp: " HOST TAG: msg", or " TAG: msg" when the writer left out the host
 * (busybox syslogd, some container logs). */
static void host_and_tag(pm_span s, struct hdr *h, struct pm_mtalog_meta *m, bool may_host)
{
    size_t sp = 0;
    while (sp < s.n && sp < 8 && s.p[sp] == ' ') {
        sp++;
    }
    s = sp_from(s, sp);
    pm_span x = s;
    enum tagres r = parse_tag(&x, h);
    if (r == TAG_NO && may_host) {
        ptrdiff_t end = sp_chr(s, ' ');
        if (end <= 0) {
            return;
        }
        m->hosthash = hash32(sp_head(s, (size_t)end));
        x = sp_from(s, (size_t)end + 1);
        r = parse_tag(&x, h);
    }
    h->tagres = r;
    h->msg = x;
}

/* RFC 5424: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]" (PRI and "1 "
 * already consumed). NILVALUE "-" stands for any absent field. */
static void rfc5424(pm_span s, const struct pm_log_options *o, struct hdr *h,
                    struct pm_mtalog_meta *m)
{
    m->fmt = PM_LF_RFC5424;
    h->ts.ts = PM_NS_NONE;
    if (!sp_eat(&s, "-") && !pm_mtalog_ts_iso(&s, o, &h->ts)) {
        m->fmt = PM_LF_NONE;
        return;
    }
    pm_span tok[4];
    for (int i = 0; i < 4; i++) {
        if (!sp_eat(&s, " ")) {
            return;
        }
        ptrdiff_t end = sp_chr(s, ' ');
        tok[i] = end >= 0 ? sp_head(s, (size_t)end) : s;
        s = sp_from(s, tok[i].n);
    }
    m->hosthash = hash32(tok[0]);
    if (!sp_eat(&s, " ")) {
        return;
    }
    /* STRUCTURED-DATA: "-" or "[id k="v" ...]..." where a value may hold '\]'. */
    if (!sp_eat(&s, "-")) {
        if (!sp_starts(s, "[")) {
            return;
        }
        while (sp_starts(s, "[")) {
            size_t i = 1;
            bool quoted = false, closed = false;
            for (; i < s.n; i++) {
                char c = s.p[i];
                if (quoted && c == '\\') {
                    i++;
                } else if (c == '"') {
                    quoted = !quoted;
                } else if (!quoted && c == ']') {
                    closed = true;
                    break;
                }
            }
            if (!closed) {
                return;
            }
            s = sp_from(s, i + 1);
        }
    }
    sp_eat(&s, " ");
    sp_eat(&s, "\xEF\xBB\xBF"); /* BOM before a UTF-8 MSG */
    if (sp_eq(tok[1], "-")) {
        return;
    }
    h->tag = tok[1];
    uint64_t pid;
    pm_span p = tok[2];
    h->pid = sp_uint(&p, 10, &pid) && p.n == 0 && pid <= UINT32_MAX ? (uint32_t)pid : 0;
    h->tagres = TAG_OK;
    h->msg = s;
}

static void parse_header(pm_span s, const struct pm_log_options *o, struct hdr *h,
                         struct pm_mtalog_meta *m)
{
    /* "<PRI>" from a network dump or an RFC 5424 file. */
    if (sp_starts(s, "<")) {
        pm_span x = sp_from(s, 1);
        uint64_t pri;
        if (sp_uint(&x, 3, &pri) && pri <= 191 && sp_eat(&x, ">")) {
            if (sp_eat(&x, "1 ")) {
                rfc5424(x, o, h, m);
                return;
            }
            s = x;
        }
    }
    pm_span x = s;
    bool precise = false;
    if (pm_mtalog_ts_iso(&x, o, &h->ts)) {
        m->fmt = PM_LF_ISO8601;
        host_and_tag(x, h, m, true);
    } else if (pm_mtalog_ts_exim(&x, o, &h->ts)) {
        m->fmt = PM_LF_EXIM;
        h->exim_main = true;
        h->msg = x;
    } else if (pm_mtalog_ts_syslog(&x, o, &h->ts, &precise)) {
        m->fmt = precise ? PM_LF_SYSLOG_PRECISE : PM_LF_SYSLOG;
        host_and_tag(x, h, m, true);
    } else {
        /* No time at all: a bare "postfix/smtp[1]: ..." is still worth reading. */
        h->ts.ts = PM_NS_NONE;
        h->ts.kind = PM_TS_NONE;
        host_and_tag(s, h, m, false);
    }
}

/* Which MTA a tag names; `prog` gets the program part of a Postfix tag. Postfix tags are
 * syslog_name "/" program, where syslog_name may itself hold '/' ("postfix/submission")
 * or be a multi-instance name ("postfix-out"). */
static enum pm_mta tag_mta(pm_span tag, pm_span *prog)
{
    ptrdiff_t slash = sp_rchr(tag, '/');
    if (slash >= 0) {
        *prog = sp_from(tag, (size_t)slash + 1);
        if (sp_starts(tag, "postfix") || pm_mtalog_postfix_wanted(*prog)) {
            return PM_MTA_POSTFIX;
        }
        return PM_MTA_UNKNOWN;
    }
    *prog = tag;
    if (sp_eq(tag, "postfix")) {
        return PM_MTA_POSTFIX;
    }
    if (sp_eq(tag, "exim") || sp_eq(tag, "exim4") || sp_starts(tag, "exim-")) {
        return PM_MTA_EXIM;
    }
    if (sp_eq(tag, "sendmail") || sp_eq(tag, "sm-mta") || sp_eq(tag, "sm-msp-queue")) {
        return PM_MTA_SENDMAIL;
    }
    return PM_MTA_UNKNOWN;
}

static void entry_init(struct pm_logentry *e)
{
    memset(e, 0, sizeof(*e));
    e->ts = PM_NS_NONE;
    e->conn_delay_ms = -1;
}

int pm_mtalog_parse(const char *line, size_t len, const struct pm_log_options *o,
                    struct pm_logentry *e, struct pm_mtalog_meta *m)
{
    static const struct pm_log_options defaults = {.ref_time = PM_NS_NONE};
    if (!o) {
        o = &defaults;
    }
    entry_init(e);
    memset(m, 0, sizeof(*m));
    pm_span s = sp_of(line, len);
    while (s.n && (s.p[s.n - 1] == '\n' || s.p[s.n - 1] == '\r')) {
        s.n--;
    }
    struct hdr h;
    memset(&h, 0, sizeof(h));
    h.ts.ts = PM_NS_NONE;
    parse_header(s, o, &h, m);

    int r;
    if (h.exim_main) {
        r = pm_mtalog_exim(h.msg, e);
        if (r != 0) {
            m->mta = PM_MTA_EXIM;
        } else if (pm_mtalog_exim_queued(h.msg, e)) {
            m->mta = PM_MTA_EXIM;
            e->queued = 1;
        }
    } else {
        if (h.tagres == TAG_NO) {
            return 0;
        }
        pm_span prog = sp_of("", 0);
        enum pm_mta mta = tag_mta(h.tag, &prog);
        m->mta = (uint8_t)mta;
        if (mta == PM_MTA_UNKNOWN) {
            return 0;
        }
        if (h.tagres == TAG_BAD) {
            e->mta = (uint8_t)mta;
            return -1;
        }
        switch (mta) {
        case PM_MTA_POSTFIX:
            r = pm_mtalog_postfix(prog, h.msg, e);
            if (r == 0 && pm_mtalog_postfix_queued(prog, h.msg, e)) {
                e->queued = 1;
            }
            break;
        case PM_MTA_SENDMAIL:
            r = pm_mtalog_sendmail(h.msg, e);
            if (r == 0 && pm_mtalog_sendmail_queued(h.msg, e)) {
                e->queued = 1;
            }
            break;
        case PM_MTA_EXIM:
        default: {
            /* Exim through syslog keeps its own stamp (syslog_timestamp, default true):
             * prefer it, it carries the year. */
            pm_span b = h.msg;
            struct pm_mtalog_ts it;
            memset(&it, 0, sizeof(it));
            if (pm_mtalog_ts_exim(&b, o, &it) && !it.bad) {
                h.ts = it;
            }
            r = pm_mtalog_exim(b, e);
            if (r == 0 && pm_mtalog_exim_queued(b, e)) {
                e->queued = 1;
            }
            break;
        }
        }
        if (!e->pid) {
            e->pid = h.pid;
        }
    }
    e->ts = h.ts.ts;
    e->tskind = h.ts.ts == PM_NS_NONE && !h.ts.bad ? PM_TS_NONE : h.ts.kind;
    e->year_inferred = h.ts.year_inferred;
    e->ts_digits = h.ts.digits;
    e->hosthash = m->hosthash;
    if (e->queued && (r != 0 || e->ts == PM_NS_NONE || h.ts.bad)) {
        e->queued = 0; /* an anchor needs a time, and is never also a line of interest */
    }
    if (r == 1 && h.ts.bad) {
        return -1; /* an MTA line with an impossible time (Feb 30, 25:61) */
    }
    return r;
}

int pm_log_parse_line(const char *line, size_t len, const struct pm_log_options *o,
                      struct pm_logentry *e)
{
    struct pm_mtalog_meta m;
    return pm_mtalog_parse(line, len, o, e, &m);
}

/* ---- loader ---- */

#define MERGE_WINDOW PM_SEC(5)    /* summary line vs the line it repeats */
#define ADOPT_WINDOW PM_SEC(3600) /* per-address lines vs their delivery's status line */
#define DEFAULT_MAX_ENTRIES ((size_t)1 << 28) /* no count cap: the memory budget decides */

/* Postfix per-process state: entries logged since the process's last status line wait for
 * that line's queue id (a Postfix pid lives on across deliveries; pids repeat per host). */
struct pf_proc {
    bool used;
    uint32_t pid, hosthash;
    int64_t pending;     /* newest waiting entry (older ones via loader.prev), -1 none */
    int64_t last_status; /* entry the last status line became or merged into, -1 none */
};

struct loader {
    struct pm_logset *set;
    struct pm_log_options o;
    struct pm_logfile_stats *st;
    uint32_t file;
    size_t max;
    size_t start;           /* first entry of this file */
    int64_t *prev;          /* per entry of this file: previous pending entry of its pid */
    size_t prev_cap;
    struct pf_proc *procs;  /* open addressing, power-of-two size */
    size_t procs_cap, procs_used;
    uint64_t fmt_count[PM_LF__COUNT];
    uint64_t mta_parsed[4], mta_seen[4];
};

bool pm_logset_reserve(struct pm_logset *set, size_t max)
{
    if (set->n >= max) {
        set->dropped++;
        pm_table_lost(PM_TAB_LOGS, 1, false);
        return false;
    }
    if (set->n == set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 1024;
        size_t more = (ncap - set->cap) * sizeof(*set->e);
        struct pm_logentry *ne = NULL;
        if (pm_mem_take(more)) {
            ne = realloc(set->e, ncap * sizeof(*ne));
            if (!ne) {
                pm_mem_give(more);
            }
        }
        if (!ne) {
            set->dropped++;
            pm_table_lost(PM_TAB_LOGS, 1, true);
            return false;
        }
        set->charged += more;
        set->e = ne;
        set->cap = ncap;
    }
    return true;
}

static struct pm_logentry *E(struct loader *L, int64_t i)
{
    return &L->set->e[i];
}

static int64_t push(struct loader *L, const struct pm_logentry *e)
{
    struct pm_logset *set = L->set;
    if (!pm_logset_reserve(set, L->max)) {
        return -1;
    }
    size_t rel = set->n - L->start;
    if (rel >= L->prev_cap) {
        /* a followed file's entries interleave with the other files': rel may jump */
        while (rel >= L->prev_cap) {
            L->prev_cap = L->prev_cap ? L->prev_cap * 2 : 1024;
        }
        L->prev = pm_xreallocarray(L->prev, L->prev_cap, sizeof(*L->prev));
    }
    L->prev[rel] = -1;
    set->e[set->n] = *e;
    return (int64_t)set->n++;
}

static struct pf_proc *proc_get(struct loader *L, uint32_t pid, uint32_t hosthash)
{
    if (L->procs_used * 2 >= L->procs_cap) {
        size_t ncap = L->procs_cap ? L->procs_cap * 2 : 256;
        struct pf_proc *n = pm_xcalloc(ncap, sizeof(*n));
        for (size_t i = 0; i < L->procs_cap; i++) {
            if (!L->procs[i].used) {
                continue;
            }
            size_t j = (L->procs[i].pid * 2654435761u ^ L->procs[i].hosthash) & (ncap - 1);
            while (n[j].used) {
                j = (j + 1) & (ncap - 1);
            }
            n[j] = L->procs[i];
        }
        free(L->procs);
        L->procs = n;
        L->procs_cap = ncap;
    }
    size_t j = (pid * 2654435761u ^ hosthash) & (L->procs_cap - 1);
    while (L->procs[j].used) {
        if (L->procs[j].pid == pid && L->procs[j].hosthash == hosthash) {
            return &L->procs[j];
        }
        j = (j + 1) & (L->procs_cap - 1);
    }
    L->procs[j] = (struct pf_proc){.used = true, .pid = pid, .hosthash = hosthash,
                                   .pending = -1, .last_status = -1};
    L->procs_used++;
    return &L->procs[j];
}

static bool within(pm_ns a, pm_ns b, pm_ns window)
{
    if (a == PM_NS_NONE || b == PM_NS_NONE) {
        return true;
    }
    return a > b ? a - b <= window : b - a <= window;
}

/* Does summary line s repeat the earlier line a? Same kind and errno class, same address
 * (a side may lack it when its format never carries one), compatible ports (a lost
 * connection line has none), logged within MERGE_WINDOW. */
static bool repeats(const struct pm_logentry *a, const struct pm_logentry *s, bool a_may_lack,
                    bool s_may_lack)
{
    if (a->kind != s->kind || a->err != s->err || !within(a->ts, s->ts, MERGE_WINDOW)) {
        return false;
    }
    bool a_has = a->addr.family != PM_AF_NONE, s_has = s->addr.family != PM_AF_NONE;
    if (a_has && s_has && !pm_addr_eq(&a->addr, &s->addr)) {
        return false;
    }
    if (a_has != s_has && !(a_has ? s_may_lack : a_may_lack)) {
        return false;
    }
    return a->port == s->port || a->port == 0 || s->port == 0;
}

/* The earlier line learns what only the summary says. */
static void adopt(struct pm_logentry *dst, const struct pm_logentry *src)
{
    if (!dst->queue_id[0]) {
        memcpy(dst->queue_id, src->queue_id, sizeof(dst->queue_id));
    }
    if (!dst->domain[0]) {
        memcpy(dst->domain, src->domain, sizeof(dst->domain));
    }
}

static void merge_into(struct loader *L, struct pm_logentry *t, const struct pm_logentry *s)
{
    adopt(t, s);
    if (t->conn_delay_ms < 0) {
        t->conn_delay_ms = s->conn_delay_ms;
    }
    if (!t->addr.family && s->addr.family) {
        t->addr = s->addr;
        memcpy(t->host, s->host, sizeof(t->host));
    }
    if (!t->port) {
        t->port = s->port;
    }
    L->st->merged++;
}

/* Postfix: per-address lines wait on their pid; the status line names the queue id and
 * recipient, and merges into the line it repeats (or, for the next recipients of the
 * same delivery, into what the first status line became). */
/* A per-address line that already names a queue id belongs to that delivery only. */
static bool same_delivery(const struct pm_logentry *a, const struct pm_logentry *s)
{
    return !a->queue_id[0] || !strcmp(a->queue_id, s->queue_id);
}

static void add_postfix(struct loader *L, const struct pm_logentry *e, uint32_t hosthash)
{
    struct pf_proc *p = proc_get(L, e->pid, hosthash);
    if (!e->from_status) {
        int64_t i = push(L, e);
        if (i >= 0) {
            L->prev[(size_t)i - L->start] = p->pending;
            p->pending = i;
        }
        return;
    }
    int64_t target = -1;
    if (e->kind != PM_LK_NO_ATTEMPT) {
        for (int64_t i = p->pending; i >= 0 && target < 0; i = L->prev[(size_t)i - L->start]) {
            if (!E(L, i)->from_status && same_delivery(E(L, i), e) &&
                repeats(E(L, i), e, false, false)) {
                target = i;
            }
        }
        if (target < 0 && p->last_status >= 0) {
            const struct pm_logentry *t = E(L, p->last_status);
            if (!strcmp(t->queue_id, e->queue_id) && repeats(t, e, false, false)) {
                target = p->last_status;
            }
        }
    }
    for (int64_t i = p->pending; i >= 0; i = L->prev[(size_t)i - L->start]) {
        if (within(E(L, i)->ts, e->ts, ADOPT_WINDOW) && same_delivery(E(L, i), e)) {
            adopt(E(L, i), e);
        }
    }
    p->pending = -1;
    if (target >= 0) {
        merge_into(L, E(L, target), e);
        p->last_status = target;
    } else {
        p->last_status = push(L, e);
    }
}

/* Exim: an == (or **) line merges into the H= line of the same message it repeats. */
static void add_exim(struct loader *L, const struct pm_logentry *e)
{
    if (!e->from_status || e->kind == PM_LK_NO_ATTEMPT || e->kind == PM_LK_DELIVERED ||
        !e->queue_id[0]) {
        push(L, e);
        return;
    }
    int64_t target = -1;
    int64_t stop = (int64_t)L->start;
    if ((int64_t)L->set->n - PM_LOG_SCAN_BACK > stop) {
        stop = (int64_t)L->set->n - PM_LOG_SCAN_BACK;
    }
    for (int64_t i = (int64_t)L->set->n - 1; i >= stop; i--) {
        struct pm_logentry *c = E(L, i);
        if (c->mta != PM_MTA_EXIM || c->from_status || strcmp(c->queue_id, e->queue_id)) {
            continue;
        }
        if (target < 0 && repeats(c, e, false, true)) {
            target = i;
        }
        adopt(c, e); /* every host line of the message learns the recipient domain */
    }
    if (target >= 0) {
        merge_into(L, E(L, target), e);
    } else {
        push(L, e);
    }
}

/* Sendmail: one stat= line per recipient repeats the same failure in the same second; a
 * greeting timeout line ("timeout waiting for input") has no address, its stat= has. */
static void add_sendmail(struct loader *L, const struct pm_logentry *e)
{
    if (!e->from_status || !e->queue_id[0] || e->kind == PM_LK_DELIVERED) {
        push(L, e);
        return;
    }
    int64_t target = -1;
    int64_t stop = (int64_t)L->start;
    if ((int64_t)L->set->n - PM_LOG_SCAN_BACK > stop) {
        stop = (int64_t)L->set->n - PM_LOG_SCAN_BACK;
    }
    for (int64_t i = (int64_t)L->set->n - 1; i >= stop && target < 0; i--) {
        struct pm_logentry *c = E(L, i);
        if (c->mta != PM_MTA_SENDMAIL || strcmp(c->queue_id, e->queue_id)) {
            continue;
        }
        if (c->from_status) {
            bool same_second = c->ts != PM_NS_NONE && e->ts != PM_NS_NONE &&
                               c->ts / PM_NS_PER_SEC == e->ts / PM_NS_PER_SEC;
            if (same_second && pm_addr_eq(&c->addr, &e->addr) && repeats(c, e, false, false)) {
                target = i;
            }
        } else if (repeats(c, e, true, false)) {
            target = i;
        }
    }
    if (target >= 0) {
        merge_into(L, E(L, target), e);
    } else {
        push(L, e);
    }
}

/* One parsed entry into the set, merged the way its MTA repeats itself: the one path of
 * a line from a file (take_line) and of a followed line (pm_logset_feed). */
static void add_entry(struct loader *L, const struct pm_logentry *e)
{
    switch (e->mta) {
    case PM_MTA_POSTFIX:
        add_postfix(L, e, e->hosthash);
        break;
    case PM_MTA_EXIM:
        add_exim(L, e);
        break;
    case PM_MTA_SENDMAIL:
        add_sendmail(L, e);
        break;
    default:
        push(L, e);
        break;
    }
}

static void take_line(struct loader *L, const char *p, size_t n, bool overlong)
{
    struct pm_logfile_stats *st = L->st;
    st->lines++;
    if (overlong) {
        st->unparseable++;
        return;
    }
    struct pm_logentry e;
    struct pm_mtalog_meta m;
    int r = pm_mtalog_parse(p, n, &L->o, &e, &m);
    L->fmt_count[m.fmt < PM_LF__COUNT ? m.fmt : 0]++;
    L->mta_seen[m.mta & 3]++;
    if (r < 0) {
        st->unparseable++;
        return;
    }
    if (r == 0) {
        st->ignored++;
        if (e.queued) {
            pm_logset_add_anchor(L->set, &e);
        }
        return;
    }
    st->parsed++;
    L->mta_parsed[e.mta & 3]++;
    if (e.kind == PM_LK_NO_ATTEMPT) {
        st->no_attempt++;
    }
    e.file = L->file;
    e.line = st->lines > UINT32_MAX ? UINT32_MAX : (uint32_t)st->lines;
    e.hosthash = m.hosthash;
    add_entry(L, &e);
}

static void open_failed(const char *path, int err)
{
    pm_err("cannot read MTA log %s: %s", path, strerror(err));
    if (err == EACCES || err == EPERM) {
        pm_hint("mail logs are usually readable by root or group adm only: run as root, or "
                "copy the log somewhere readable");
    } else if (err == EISDIR) {
        pm_hint("name the log file itself, e.g. /var/log/mail.log (Debian), /var/log/maillog "
                "(RHEL), or the Exim mainlog");
    } else {
        pm_hint("check the path; with journald write the log out first (journalctl -u "
                "postfix -o short-iso > mail.log) or pass - to read standard input");
    }
}

static void detect(struct loader *L)
{
    struct pm_logfile_stats *st = L->st;
    const uint64_t *counts = L->mta_parsed;
    if (!counts[1] && !counts[2] && !counts[3]) {
        counts = L->mta_seen;
    }
    st->mta = PM_MTA_UNKNOWN;
    uint64_t most = 0;
    for (uint8_t m = PM_MTA_POSTFIX; m <= PM_MTA_SENDMAIL; m++) {
        if (counts[m] > most) {
            most = counts[m];
            st->mta = m;
        }
    }
    int best = PM_LF_NONE;
    most = 0;
    for (int f = PM_LF_NONE + 1; f < PM_LF__COUNT; f++) {
        if (L->fmt_count[f] > most) {
            most = L->fmt_count[f];
            best = f;
        }
    }
    st->format = pm_mtalog_fmt_name((enum pm_logfmt)best);
}

int pm_logset_load(struct pm_logset *set, const char *path, const struct pm_log_options *o)
{
    static const struct pm_log_options defaults = {.ref_time = PM_NS_NONE};
    if (!o) {
        o = &defaults;
    }
    if (!pm_log_tz_valid(o->tz)) {
        pm_err("unknown time zone \"%s\" for the MTA log", o->tz);
        pm_hint("use UTC, an offset such as +01:00, or a tz database name such as "
                "Europe/Berlin (see /usr/share/zoneinfo)");
        return PM_EXIT_USAGE;
    }
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        open_failed(is_stdin ? "(standard input)" : path, errno);
        return PM_EXIT_UNREADABLE;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(fd);
        open_failed(path, EISDIR);
        return PM_EXIT_UNREADABLE;
    }
    if (!is_stdin && fstat(fd, &sb) == 0 && (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode))) {
        /* /dev/zero, /dev/urandom, a disk: endless or not text. A pipe, a FIFO and standard
         * input stay allowed (journalctl ... | portmortem analyze --mta-log - ...). */
        close(fd);
        pm_err("cannot read MTA log %s: it is a device, not a log file", path);
        pm_hint("give the log file, a pipe, or - for standard input");
        return PM_EXIT_USAGE;
    }
    /* zlib reads gzip (magic 1f 8b) and passes anything else through unchanged; lines
     * keep their length (a NUL byte is data), as for the bundle's copy (lines.c). */
    struct pm_lines *lr = pm_lines_fdopen(fd, PM_LOG_LINE_MAX);
    if (!lr) {
        open_failed(path, errno ? errno : ENOMEM);
        return PM_EXIT_UNREADABLE;
    }

    set->files = pm_xreallocarray(set->files, set->nfiles + 1, sizeof(*set->files));
    if (set->feeds) { /* followed files too: this one is not (pm_logset_feed) */
        set->feeds = pm_xreallocarray(set->feeds, set->nfiles + 1, sizeof(*set->feeds));
        set->feeds[set->nfiles] = NULL;
    }
    struct pm_logfile_stats *st = &set->files[set->nfiles];
    memset(st, 0, sizeof(*st));
    st->path = pm_xstrdup(path);
    st->format = "none";

    struct loader L;
    memset(&L, 0, sizeof(L));
    L.set = set;
    L.o = *o;
    if (L.o.ref_time == PM_NS_NONE) {
        L.o.ref_time = pm_now_realtime(); /* one "now" for the whole file */
    }
    L.st = st;
    L.file = set->nfiles;
    L.max = o->max_entries ? o->max_entries : DEFAULT_MAX_ENTRIES;
    L.start = set->n;
    set->nfiles++;

    int rc = 0;
    const char *text;
    size_t len;
    bool cut;
    int got;
    while ((got = pm_lines_next(lr, &text, &len, &cut)) > 0) {
        take_line(&L, text, len, cut); /* a cut line is too long: counted, not parsed */
    }
    if (got < 0) {
        if (pm_lines_count(lr) == 0 && pm_lines_no_newline(lr)) {
            pm_err("cannot read MTA log %s: no line break in its first %llu bytes: not a text log",
                   path, (unsigned long long)pm_lines_bytes(lr));
            pm_hint("give the MTA's text log (plain or gzip), one entry per line");
            rc = PM_EXIT_UNREADABLE;
        } else if (pm_lines_bytes(lr) == 0) {
            pm_err("cannot read MTA log %s: %s", path, pm_lines_why(lr));
            pm_hint("is it a text or gzip-compressed log file?");
            rc = PM_EXIT_UNREADABLE;
        } else {
            pm_warn("%s: reading stopped after line %llu: %s; entries from this file "
                    "are partial", path, (unsigned long long)st->lines, pm_lines_why(lr));
        }
        st->damaged = true;
    }
    pm_lines_close(lr);
    free(L.prev);
    free(L.procs);

    detect(&L);
    if (rc == 0 && st->lines > 0 && !L.mta_seen[1] && !L.mta_seen[2] && !L.mta_seen[3]) {
        pm_warn("%s: no Postfix, Exim or Sendmail lines among %llu lines", path,
                (unsigned long long)st->lines);
        pm_hint("give the mail log: /var/log/mail.log (Debian), /var/log/maillog (RHEL), "
                "Exim's mainlog, or journalctl -u postfix -o short-iso > mail.log");
    }
    return rc;
}

static int cmp_entry(const void *pa, const void *pb)
{
    const struct pm_logentry *a = pa, *b = pb;
    bool an = a->ts == PM_NS_NONE, bn = b->ts == PM_NS_NONE;
    if (an != bn) {
        return an ? 1 : -1;
    }
    if (!an && a->ts != b->ts) {
        return a->ts < b->ts ? -1 : 1;
    }
    /* Equal times keep file order: (file, line) is the order entries were added in. */
    if (a->file != b->file) {
        return a->file < b->file ? -1 : 1;
    }
    return a->line < b->line ? -1 : a->line > b->line;
}

void pm_logset_finish(struct pm_logset *set)
{
    if (set->n > 1) {
        qsort(set->e, set->n, sizeof(*set->e), cmp_entry);
    }
}

void pm_logset_add_anchor(struct pm_logset *set, const struct pm_logentry *e)
{
    if (!e->queued || e->ts == PM_NS_NONE || !e->queue_id[0]) {
        return;
    }
    if (set->nanchors >= PM_LOG_MAX_ANCHORS) {
        set->anchors_dropped++; /* a line without its anchor is only judged more cautiously */
        return;
    }
    if (set->nanchors == set->anchors_cap) {
        set->anchors_cap = set->anchors_cap ? set->anchors_cap * 2 : 256;
        set->anchors = pm_xreallocarray(set->anchors, set->anchors_cap, sizeof(*set->anchors));
    }
    struct pm_loganchor *a = &set->anchors[set->nanchors++];
    a->ts = e->ts;
    a->mta = e->mta;
    memcpy(a->queue_id, e->queue_id, sizeof(a->queue_id));
}

pm_ns pm_logentry_resolution(const struct pm_logentry *e)
{
    pm_ns r = PM_NS_PER_SEC;
    for (int i = 0; i < e->ts_digits && r > 1; i++) {
        r /= 10;
    }
    return r;
}

/* ---- followed files (live): the same merge, one entry at a time ---- */

/* A followed file's loader, kept between its lines. Its statistics are found by index
 * (set->files moves when a file is added). */
struct pm_logfeed {
    struct loader L;
};

void pm_logset_feed(struct pm_logset *set, const char *path, const struct pm_log_options *o,
                    const struct pm_logentry *le)
{
    uint32_t fi = 0;
    while (fi < set->nfiles && strcmp(set->files[fi].path, path)) {
        fi++;
    }
    if (fi == set->nfiles) {
        set->files = pm_xreallocarray(set->files, set->nfiles + 1, sizeof(*set->files));
        set->feeds = pm_xreallocarray(set->feeds, set->nfiles + 1, sizeof(*set->feeds));
        struct pm_logfile_stats *fs = &set->files[fi];
        memset(fs, 0, sizeof(*fs));
        fs->path = pm_xstrdup(path);
        fs->format = "followed";
        struct pm_logfeed *f = pm_xcalloc(1, sizeof(*f));
        f->L.set = set;
        f->L.o = *o;
        f->L.file = fi;
        f->L.max = o->max_entries ? o->max_entries : DEFAULT_MAX_ENTRIES;
        f->L.start = set->n;
        set->feeds[fi] = f;
        set->nfiles++;
    } else if (!set->feeds || !set->feeds[fi]) {
        return; /* a file loaded whole is not also followed */
    }
    struct loader *L = &set->feeds[fi]->L;
    L->st = &set->files[fi];
    L->st->lines++;
    L->st->parsed++;
    if (le->kind == PM_LK_NO_ATTEMPT) {
        L->st->no_attempt++;
    }
    if (le->mta) {
        L->st->mta = le->mta;
    }
    struct pm_logentry e = *le;
    e.file = fi;
    add_entry(L, &e);
}

void pm_logset_free(struct pm_logset *set)
{
    for (uint32_t i = 0; set->feeds && i < set->nfiles; i++) {
        if (set->feeds[i]) {
            free(set->feeds[i]->L.prev);
            free(set->feeds[i]->L.procs);
            free(set->feeds[i]);
        }
    }
    free(set->feeds);
    for (uint32_t i = 0; i < set->nfiles; i++) {
        free(set->files[i].path);
    }
    free(set->files);
    free(set->e);
    pm_mem_give(set->charged);
    free(set->anchors);
    memset(set, 0, sizeof(*set));
}
