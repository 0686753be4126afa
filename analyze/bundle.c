/*
 * bundle.c — owns the evidence bundle's life cycle (include/bundle.h): the temporary
 * directory beside DIR, collecting what the findings say while the run goes on, writing
 * every file at the end (summary.txt, report.json, evidence.pcapng, escalation-<dst>.txt,
 * mta-log.txt, host-context.txt, VERSION.txt, README.txt, report.html), the manifest and
 * signature, and the rename into place. The other rooms (analyze/bundle_int.h,
 * analyze/bundle_state.h): bundle_fs.c the directory's file system operations,
 * bundle_file.c one file being written (checked, redacted, fsync'ed, hashed),
 * bundle_dest.c the failing destinations and their escalation texts, bundle_mtalog.c
 * mta-log.txt, bundle_slice.c the pcap slice, bundle_text.c the escalation words,
 * bundle_html.c the page, bundle_manifest.c the manifest and signature, bundle_redact.c
 * --redact.
 *
 * Why a temporary directory and rename(2): a reader (a person, a ticket system, rsync)
 * must never see half a bundle. Everything is written and fsync'ed inside
 * ".DIR.tmp-XXXXXX" in DIR's parent, then renamed with RENAME_NOREPLACE, so that DIR either
 * does not exist or is complete, and an existing DIR is never replaced, even one created
 * while we wrote. Any failed write removes the temporary directory.
 *
 * Where the files are created: through the store the caller hands pm_bundle_open_with()
 * (include/bundle.h: create, commit, abort). A live capture opens everything as root and
 * then drops to an unprivileged user, who can neither create files in a root-owned 0700
 * directory nor rename it in DIR's parent; capture/bundle_helper.c's store is a helper
 * process that keeps root for exactly those three operations (issue 17.4: the privileged
 * code lives in capture/, analyze/ holds no fork, credential change or descriptor passing).
 * Without a store the same operations are done here directly (pm_bundle_fs_*), with
 * whatever rights the process has.
 */
#include "bundle_state.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <pcap/pcap.h>
#include <zlib.h>

#include "util.h"

#ifndef PM_BUILD_VARIANT
#define PM_BUILD_VARIANT "unknown"
#endif

static void bundle_free(struct pm_bundle *b)
{
    for (size_t i = 0; i < b->nall; i++) {
        free(b->all[i]);
    }
    free(b->all);
    free(b->rows);
    free(b->dests);
    free(b->dhead);
    free(b->logrefs);
    for (int i = 0; i < b->nlogpaths; i++) {
        free(b->logpaths[i]);
    }
    pm_slice_free(b->slice);
    pm_redact_free(b->rx);
    pm_manifest_key_free(b->key); /* OpenSSL clears the private key's memory as it frees it */
    free(b->keypath);
    free(b->dir);
    free(b->base);
    free(b->tmpbase);
    free(b);
}


/* ---- open ---- */

static void random_suffix(char *buf, size_t n)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t r[16];
    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        uint64_t x = (uint64_t)pm_now_monotonic() ^ ((uint64_t)getpid() << 20);
        for (size_t i = 0; i < sizeof(r); i++) {
            r[i] = (uint8_t)(x >> (i % 8 * 8)) ^ (uint8_t)i;
        }
    }
    for (size_t i = 0; i + 1 < n && i < sizeof(r); i++) {
        buf[i] = set[r[i] % (sizeof(set) - 1)];
    }
    buf[PM_MIN(n - 1, sizeof(r))] = '\0';
}


struct pm_bundle *pm_bundle_open(const char *dir, char *err, size_t errlen)
{
    return pm_bundle_open_with(dir, NULL, err, errlen);
}

struct pm_bundle *pm_bundle_open_with(const char *dir, const struct pm_bundle_options *o,
                                      char *err, size_t errlen)
{
    if (!dir || !dir[0]) {
        snprintf(err, errlen, "--bundle needs a directory name (a new directory, e.g. "
                 "--bundle incident-1)");
        return NULL;
    }
    char *path = pm_xstrdup(dir);
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/') {
        path[--pl] = '\0';
    }
    char *slash = strrchr(path, '/');
    const char *parent = ".";
    const char *base = path;
    if (slash) {
        *slash = '\0';
        parent = slash == path ? "/" : path;
        base = slash + 1;
    }
    if (!base[0] || !strcmp(base, ".") || !strcmp(base, "..")) {
        snprintf(err, errlen, "cannot write a bundle to %s: give the name of a new directory "
                 "(e.g. --bundle incident-1)", dir);
        free(path);
        return NULL;
    }
    if (strlen(base) > 200) {
        snprintf(err, errlen, "cannot write a bundle to %s: the directory name is longer than "
                 "200 bytes; choose a shorter one", dir);
        free(path);
        return NULL;
    }
    int parentfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parentfd < 0) {
        snprintf(err, errlen, "cannot write the bundle %s: its parent directory %s: %s; create "
                 "the parent first or choose another place", dir, parent, strerror(errno));
        free(path);
        return NULL;
    }
    struct stat st;
    int exists = fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
    if (exists != ENOENT) {
        if (exists == 0) {
            snprintf(err, errlen, "bundle directory %s already exists: a bundle never "
                     "overwrites anything; choose a new name or move the old one away", dir);
        } else {
            snprintf(err, errlen, "cannot write the bundle %s: %s", dir, strerror(exists));
        }
        close(parentfd);
        free(path);
        return NULL;
    }
    char tmpbase[256], rnd[8];
    int tries = 0;
    for (;;) {
        random_suffix(rnd, sizeof(rnd) - 1);
        snprintf(tmpbase, sizeof(tmpbase), ".%s.tmp-%s", base, rnd);
        if (mkdirat(parentfd, tmpbase, 0700) == 0) {
            break;
        }
        if (errno != EEXIST || ++tries > 100) {
            snprintf(err, errlen, "cannot write the bundle %s: creating its temporary "
                     "directory in %s failed: %s; choose a writable place", dir, parent,
                     strerror(errno));
            close(parentfd);
            free(path);
            return NULL;
        }
    }
    int dirfd = openat(parentfd, tmpbase, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0) {
        snprintf(err, errlen, "cannot write the bundle %s: %s", dir, strerror(errno));
        unlinkat(parentfd, tmpbase, AT_REMOVEDIR);
        close(parentfd);
        free(path);
        return NULL;
    }
    struct pm_bundle *b = pm_xcalloc(1, sizeof(*b));
    b->dir = pm_xstrdup(dir);
    b->base = pm_xstrdup(base);
    b->tmpbase = pm_xstrdup(tmpbase);
    b->parentfd = parentfd;
    b->dirfd = dirfd;
    b->slice = pm_slice_new();
    if (o) {
        b->opt = *o;
        b->opt.nexpect = PM_MIN(o->nexpect, PM_BUNDLE_MAX_SRCS);
        for (int i = 0; i < b->opt.nexpect; i++) {
            b->expect[i] = o->expect_source[i];
        }
        b->opt.expect_source = b->expect;
    }
    if (b->opt.redact) {
        b->rx = pm_redact_new();
        for (int i = 0; i < b->opt.nexpect; i++) {
            pm_redact_mark(b->rx, &b->expect[i], true); /* what the outside team must see */
        }
        /* Our own host name: as a log line's host field, and its dotted forms anywhere. */
        char host[256];
        if (gethostname(host, sizeof(host) - 1) == 0) {
            host[sizeof(host) - 1] = '\0';
            pm_redact_name(b->rx, host, strchr(host, '.') != NULL);
            char *dot = strchr(host, '.');
            if (dot) {
                *dot = '\0';
                pm_redact_name(b->rx, host, false);
            }
        }
    }
    free(path);
    /* Root or not: the store's helper is also what removes the temporary directory when the
     * run is interrupted (SIGINT, SIGTERM, even SIGKILL of `analyze`, which has no handler).
     * The store owns the directory descriptors from now on. */
    if (b->opt.store) {
        b->store = b->opt.store(b->parentfd, b->dirfd, b->tmpbase, b->base);
        if (b->store) {
            b->dirfd = b->parentfd = -1;
        } else {
            pm_debug("bundle: no helper process (%s): writing directly", strerror(errno));
        }
    }
    b->json = pm_bnd_open(b, "report.json");
    if (!b->json) {
        snprintf(err, errlen, "cannot write the bundle %s: creating report.json failed: %s",
                 dir, strerror(b->werr));
        pm_bundle_abort(b);
        return NULL;
    }
    return b;
}

int pm_bundle_load_key(struct pm_bundle *b, const char *keypath)
{
    char err[600];
    int status = 0;
    void *k = pm_manifest_key_load(keypath, err, sizeof(err), &status);
    if (!k) {
        pm_err("%s", err);
        return status ? status : PM_EXIT_UNREADABLE;
    }
    pm_manifest_key_free(b->key);
    free(b->keypath);
    b->key = k;
    b->keypath = pm_xstrdup(keypath);
    return 0;
}

/* ---- collecting ---- */

/* --redact: which of this attempt's addresses are ours. The public one (the source an
 * outside vantage point saw, --expect-source) is never replaced; when one is known, the
 * addresses inside (the inside vantage point's source and local addresses) are. */
static void mark_for_redaction(struct pm_bundle *b, const struct pm_finding *f,
                               const struct pm_attr_env *env)
{
    const struct pm_attempt *a = f->a;
    const struct pm_link_info *peer = f->nat ? f->nat->peer : NULL;
    bool multi = f->nat && f->nat->multi;
    if (a && peer && peer->cli.family && !pm_addr_eq(&peer->cli, &a->cli)) {
        bool peer_outside = peer->vantage > a->vantage;
        pm_redact_mark(b->rx, peer_outside ? &peer->cli : &a->cli, true);
        pm_redact_mark(b->rx, peer_outside ? &a->cli : &peer->cli, false);
    }
    if (!(multi || b->opt.nexpect > 0)) {
        return; /* one vantage, no public address given: only the internal ranges */
    }
    if (a && a->vantage == 0 && !(peer && peer->vantage < a->vantage)) {
        pm_redact_mark(b->rx, &a->cli, false);
    }
    if (!a && f->src.family) {
        pm_redact_mark(b->rx, &f->src, false);
    }
    const struct pm_vantage_state *vs = env ? env->vstate[0] : NULL;
    for (int i = 0; vs && i < vs->nlocal; i++) {
        pm_redact_mark(b->rx, &vs->local[i], false);
    }
}

static struct pm_bfind *keep_finding(struct pm_bundle *b, const struct pm_finding *f,
                                     const char *vantage, const char *logfile)
{
    struct pm_bfind *bf = pm_xmalloc(sizeof(*bf));
    pm_bfind_copy(bf, f, vantage, logfile);
    if (b->nall == b->allcap) {
        b->allcap = b->allcap ? b->allcap * 2 : 64;
        b->all = pm_xreallocarray(b->all, b->allcap, sizeof(*b->all));
    }
    b->all[b->nall++] = bf;
    return bf;
}

void pm_bundle_attempt(struct pm_bundle *b, const struct pm_finding *f,
                       const struct pm_attr_env *env)
{
    if (!b || !f) {
        return;
    }
    if (b->rx) {
        mark_for_redaction(b, f, env); /* before the attempt's first line is written */
    }
    pm_report_attempt_json(b->json->f, f, env);
    b->attempts++;
    const struct pm_attempt *a = f->a;
    const struct pm_logentry *l = f->log;
    const char *vantage = "";
    if (env && env->vantage_names) {
        vantage = env->vantage_names[a && a->vantage < PM_MAX_VANTAGES ? a->vantage : 0];
    }
    const char *logpath = "";
    if (l && env && env->logs && l->file < env->logs->nfiles) {
        logpath = env->logs->files[l->file].path;
    }
    bool failing = pm_outcome_is_failure(f->outcome) && f->verdict != PM_V_OK;
    pm_ns ts = a ? a->first_syn : (l ? l->ts : PM_NS_NONE);

    /* the MTA log line, to copy into mta-log.txt */
    if (l && logpath[0]) {
        int pi = pm_bnd_logpath_index(b, logpath);
        if (pi < 0 || b->nlogrefs >= PM_BUNDLE_MAX_LOGREFS) {
            b->logrefs_dropped++;
        } else {
            if (b->nlogrefs == b->logrefscap) {
                b->logrefscap = b->logrefscap ? b->logrefscap * 2 : 64;
                b->logrefs = pm_xreallocarray(b->logrefs, b->logrefscap, sizeof(*b->logrefs));
            }
            struct logref *r = &b->logrefs[b->nlogrefs++];
            r->line = l->line;
            r->id = f->id;
            r->path = (uint16_t)pi;
            snprintf(r->text, sizeof(r->text), "%s%s%s", l->host, l->host[0] ? ": " : "",
                     l->text);
        }
    }

    /* a row of the findings table */
    int16_t ladder = -1;
    struct pm_bfind *bf = NULL;
    if (failing) {
        b->failing++;
        if (b->nladders < PM_BUNDLE_MAX_LADDERS) {
            bf = keep_finding(b, f, vantage, logpath);
            ladder = (int16_t)b->nladders;
            b->ladders[b->nladders++] = bf;
        } else {
            b->ladders_dropped++;
        }
    }
    if (b->nrows < PM_BUNDLE_MAX_ROWS) {
        if (b->nrows == b->rowscap) {
            b->rowscap = b->rowscap ? b->rowscap * 2 : 64;
            b->rows = pm_xreallocarray(b->rows, b->rowscap, sizeof(*b->rows));
        }
        struct pm_html_row *r = &b->rows[b->nrows++];
        memset(r, 0, sizeof(*r));
        r->id = f->id;
        r->ts = ts;
        if (a) {
            r->src = a->cli;
            r->dst = a->srv;
            r->sport = a->sport;
            r->dport = a->dport;
            r->has_src = 1;
        } else if (l) {
            r->dst = l->addr;
            r->dport = l->port ? l->port : 25;
        }
        r->outcome = (uint8_t)f->outcome;
        r->verdict = (uint8_t)f->verdict;
        r->owner = (uint8_t)f->owner;
        r->confidence = (uint8_t)f->confidence;
        r->ladder = ladder;
        pm_strlcpy(r->clue, f->clue, sizeof(r->clue));
    } else {
        b->rows_dropped++;
    }

    /* the destination: escalation facts and a successful attempt for context */
    const pm_addr *dst = a ? &a->srv : (l ? &l->addr : NULL);
    struct bdest *d = dst && dst->family ? pm_bnd_dest_get(b, dst) : NULL;
    if (d) {
        d->attempts++;
        if (!d->name[0] && l && l->host[0]) {
            pm_strlcpy(d->name, l->host, sizeof(d->name));
        }
        if (f->outcome == PM_OUT_CONNECTED) {
            d->connected++;
            if (!d->has_ctx && a) {
                d->ctx = *a;
                d->ctx_id = f->id;
                d->has_ctx = true;
            }
        }
    }
    if (failing && d) {
        d->failing++;
        d->by_outcome[f->outcome]++;
        if (ts != PM_NS_NONE) {
            if (d->first_fail == PM_NS_NONE || ts < d->first_fail) {
                d->first_fail = ts;
            }
            if (d->last_fail == PM_NS_NONE || ts > d->last_fail) {
                d->last_fail = ts;
            }
        }
        if (!d->dport) {
            d->dport = a ? a->dport : (l && l->port ? l->port : 25);
        }
        char where[64];
        snprintf(where, sizeof(where), "as seen at %s", vantage[0] ? vantage : "the capture");
        /* Issue 16.5: the provider knows us by our public address. With two vantage points
         * the same SYN seen further out (the NAT's outside, a later vantage) carries it. */
        const struct pm_link_info *peer = f->nat ? f->nat->peer : NULL;
        if (a && peer && peer->cli.family && !pm_addr_eq(&peer->cli, &a->cli)) {
            bool peer_outside = peer->vantage > a->vantage;
            char pw[64];
            const char *pv = env && env->vantage_names && peer->vantage < PM_MAX_VANTAGES
                                 ? env->vantage_names[peer->vantage] : "";
            snprintf(pw, sizeof(pw), "as seen at %s", pv && pv[0] ? pv : "the other capture");
            pm_bnd_dest_add_src(d, peer_outside ? &peer->cli : &a->cli, peer_outside ? pw : where, true);
            pm_bnd_dest_add_src(d, peer_outside ? &a->cli : &peer->cli, peer_outside ? where : pw, false);
        } else if (a) {
            pm_bnd_dest_add_src(d, &a->cli, where, false);
        } else if (f->src.family) {
            /* not on the wire: the engine's idea of the sending host's address */
            pm_bnd_dest_add_src(d, &f->src, "the sending host; no SYN left it", false);
        } else if (env && env->vstate[0] && env->vstate[0]->nlocal > 0) {
            /* not on the wire: the address this host sends from, as the capture knows it */
            pm_bnd_dest_add_src(d, &env->vstate[0]->local[0], "the sending host; no SYN left it", false);
        }
        /* Kept in full for its escalation text; beyond the cap only counted (a capture
         * with thousands of failing destinations must not keep thousands of findings). */
        if (!d->rep && (bf || b->nreps < PM_BUNDLE_MAX_ESCALATIONS)) {
            d->rep = bf ? bf : keep_finding(b, f, vantage, logpath);
            b->nreps++;
        }
    }
    if (failing && a) {
        pm_slice_add(b->slice, a, f->nat ? f->nat->peer : NULL, f->id, f->outcome, f->verdict,
                     f->owner, false, bf);
    }
}

/* ---- finish: the files ---- */

static void put_arg(FILE *out, const char *s)
{
    bool plain = s[0] != '\0';
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_./=:,@%+-", c))) {
            plain = false;
        }
    }
    if (plain) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            fputs("'\\''", out);
        } else {
            unsigned char c = (unsigned char)*p;
            fputc(c >= 0x20 && c < 0x7f ? c : '?', out);
        }
    }
    fputc('\'', out);
}

static void put_command(FILE *out, const struct pm_run_summary *s)
{
    for (int i = 0; s && i < s->argc; i++) {
        if (i) {
            fputc(' ', out);
        }
        put_arg(out, s->argv[i]);
    }
}

static int write_version(struct pm_bundle *b, const struct pm_run_summary *s, const char *created)
{
    struct wfile *w = pm_bnd_open(b, "VERSION.txt");
    if (!w) {
        return -1;
    }
    FILE *f = w->f;
    fprintf(f, "portmortem %s\nbuild: %s\nschema: %d\ncreated: %s\ncommand: ", PM_VERSION,
            PM_BUILD_VARIANT, PM_SCHEMA, created);
    put_command(f, s);
    fprintf(f, "\nsubcommand: %s\n", s && s->subcommand ? s->subcommand : "analyze");
    fprintf(f, "libpcap: %s\nopenssl: %s\nzlib: %s\n", pcap_lib_version(),
            OpenSSL_version(OPENSSL_VERSION), zlibVersion());
    return pm_bnd_close(b, w, true);
}

static int write_summary(struct pm_bundle *b, struct pm_context *ctx,
                         const struct pm_run_summary *s)
{
    struct wfile *w = pm_bnd_open(b, "summary.txt");
    if (!w) {
        return -1;
    }
    FILE *f = w->f;
    struct pm_report *r = pm_report_new(PM_FMT_TEXT, f, false);
    pm_report_finish(r, ctx, s);
    pm_report_free(r);
    return pm_bnd_close(b, w, true);
}

static int write_json_tail(struct pm_bundle *b, struct pm_context *ctx,
                           const struct pm_run_summary *s)
{
    struct pm_report *r = pm_report_new(PM_FMT_JSONL, b->json->f, false);
    pm_report_finish(r, ctx, s);
    pm_report_free(r);
    struct wfile *w = b->json;
    b->json = NULL;
    return pm_bnd_close(b, w, true);
}

static int write_slice(struct pm_bundle *b, const struct pm_bundle_inputs *in)
{
    /* One successful attempt per failing destination, for comparison. */
    for (size_t i = 0; i < b->ndests; i++) {
        struct bdest *d = &b->dests[i];
        if (d->failing && d->has_ctx) {
            pm_slice_add(b->slice, &d->ctx, NULL, d->ctx_id, PM_OUT_CONNECTED, PM_V_OK,
                         PM_OWN_NONE, true, NULL);
        }
    }
    struct wfile *w = pm_bnd_open(b, "evidence.pcapng");
    if (!w) {
        return -1;
    }
    FILE *f = w->f;
    char notes[1024] = "";
    uint64_t written = 0;
    if (pm_slice_write(b->slice, f, in ? in->capture_paths : NULL, in ? in->capture_fds : NULL,
                       in ? in->ncaptures : 0, b->rx,
                       notes, sizeof(notes), &written) != 0) {
        pm_bnd_write_failed(b, "evidence.pcapng", w->err ? w->err : errno);
    }
    pm_bnd_note(b, "%s", notes);
    if (b->failing && in && in->ncaptures == 0) {
        pm_bnd_note(b, "- evidence.pcapng: no capture file to cut packets from (live capture "
                 "without -w); it holds no packets.\n");
    }
    /* Ladders whose packets were not read again are drawn from the attempt's facts. */
    for (int i = 0; i < b->nladders; i++) {
        if (!b->ladders[i]->ev_from_capture) {
            pm_bfind_synth_events(b->ladders[i]);
        }
    }
    return pm_bnd_close(b, w, true);
}


static int write_host_context(struct pm_bundle *b, const char *text, bool in_manifest)
{
    struct wfile *w = pm_bnd_open(b, "host-context.txt");
    if (!w) {
        return -1;
    }
    FILE *f = w->f;
    /* Interface names and rule comments are not ours: sanitise, keeping the lines. */
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char clean[4096];
        pm_sanitize(clean, sizeof(clean), (const uint8_t *)p, n);
        fputs(clean, f);
        fputc('\n', f);
        p += n + (nl ? 1 : 0);
    }
    return pm_bnd_close(b, w, in_manifest);
}


static int write_readme(struct pm_bundle *b, const struct pm_run_summary *s, const char *created,
                        const struct esc_out *eo, bool has_mta, bool has_host, bool signing)
{
    struct wfile *w = pm_bnd_open(b, "README.txt");
    if (!w) {
        return -1;
    }
    FILE *f = w->f;
    fprintf(f, "portmortem evidence bundle\n==========================\n\n"
            "Written by portmortem %s on %s from:\n  ", PM_VERSION, created);
    put_command(f, s);
    fputs("\n\nScope:     ", f);
    pm_bundle_put_clean(f, s ? s->scope_text : "");
    fputs("\nNext step: ", f);
    pm_bundle_put_clean(f, s ? s->next_step : "");
    fprintf(f, "\nAttempts:  %llu, of which %llu failing; %d escalation text%s\n\nFiles\n",
            (unsigned long long)b->attempts, (unsigned long long)b->failing, eo->ntexts,
            eo->ntexts == 1 ? "" : "s");
    fputs("  summary.txt          the text report, as printed on a terminal (no colours)\n"
          "  report.json          JSON Lines: one object per attempt, per destination, then the "
          "summary\n"
          "  evidence.pcapng      pcapng: the packets of the failing attempts (SYNs, answers, "
          "ICMP errors\n"
          "                       quoting them) and of one successful attempt per failing "
          "destination;\n"
          "                       each packet's comment names its attempt (Wireshark: "
          "pkt_comment, tshark\n"
          "                       -r evidence.pcapng -T fields -e frame.comment)\n", f);
    for (int i = 0; i < eo->ntexts; i++) {
        fprintf(f, "  %-20s the text to send to who must act\n", eo->texts[i].name);
    }
    if (has_mta) {
        fputs("  mta-log.txt          the MTA log lines matched to attempts (FILE:LINE: TEXT)\n",
              f);
    }
    if (has_host) {
        fputs("  host-context.txt     the sending host's addresses, routes and firewall rules\n",
              f);
    }
    fputs("  report.html          open in a browser (works offline): a ladder diagram per "
          "failing attempt\n"
          "  VERSION.txt          the tool's version, build and exact command line\n"
          "  README.txt           this file\n"
          "  " PM_MANIFEST "      SHA-256 of every other file: cd DIR && sha256sum -c "
          PM_MANIFEST "\n", f);
    if (signing) {
        fputs("  " PM_MANIFEST_SIG "         Ed25519 signature of " PM_MANIFEST " (base64): "
              "portmortem verify DIR --verify-key PUB.pem\n", f);
    }
    fputs("\nText from packets and logs is sanitised in every file: bytes outside printable "
          "ASCII\nappear as '?'. Times are UTC.\n", f);
    if (b->rx) {
        pm_redact_describe(b->rx, f);
    }
    if (b->notes[0] || b->ladders_dropped || b->rows_dropped || b->dests_dropped) {
        fputs("\nNotes\n", f);
        fputs(b->notes, f);
        if (b->ladders_dropped) {
            fprintf(f, "- report.html draws %d ladder diagrams; %llu more failing attempts are "
                    "only in its table and in report.json.\n", PM_BUNDLE_MAX_LADDERS,
                    (unsigned long long)b->ladders_dropped);
        }
        if (b->rows_dropped) {
            fprintf(f, "- report.html lists %d attempts; %llu more are in report.json.\n",
                    PM_BUNDLE_MAX_ROWS, (unsigned long long)b->rows_dropped);
        }
        if (b->dests_dropped) {
            fprintf(f, "- %llu attempts went to destinations beyond the %d the bundle tracks: no "
                    "escalation text or context packets for them.\n",
                    (unsigned long long)b->dests_dropped, PM_BUNDLE_MAX_DESTS);
        }
    }
    return pm_bnd_close(b, w, true);
}

static int write_html(struct pm_bundle *b, struct pm_context *ctx, const struct pm_run_summary *s,
                      const char *created, const struct esc_out *eo)
{
    struct wfile *w = pm_bnd_open(b, "report.html");
    if (!w) {
        return -1;
    }
    FILE *f = w->f;
    struct pm_html_input h = {
        .ctx = ctx,
        .s = s,
        .rows = b->rows,
        .nrows = b->nrows,
        .rows_dropped = b->rows_dropped,
        .ladders = b->ladders,
        .nladders = b->nladders,
        .ladders_dropped = b->ladders_dropped,
        .texts = eo->texts,
        .ntexts = eo->ntexts,
        .created = created,
        .notes = b->notes,
    };
    pm_bundle_write_html(f, &h);
    return pm_bnd_close(b, w, true);
}

static int write_manifest(struct pm_bundle *b, const char *sign_key, int *status)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) {
        pm_bnd_write_failed(b, PM_MANIFEST, errno);
        return -1;
    }
    pm_manifest_write(m, b->files, b->nfiles);
    if (fclose(m) != 0) {
        free(text);
        pm_bnd_write_failed(b, PM_MANIFEST, ENOMEM);
        return -1;
    }
    size_t keep = b->nfiles;
    int rc = pm_bnd_write_text(b, PM_MANIFEST, text, len);
    if (rc == 0 && sign_key) {
        char sig[128], err[600];
        int st = b->key ? pm_manifest_sign_with(b->key, b->keypath, text, len, sig, sizeof(sig),
                                                err, sizeof(err))
                        : pm_manifest_sign(sign_key, text, len, sig, sizeof(sig), err,
                                           sizeof(err));
        if (st != 0) {
            pm_err("%s", err);
            *status = st;
            rc = -1;
        } else {
            rc = pm_bnd_write_text(b, PM_MANIFEST_SIG, sig, strlen(sig));
        }
    }
    b->nfiles = keep; /* the manifest does not list itself or the signature */
    free(text);
    return rc;
}

int pm_bundle_finish(struct pm_bundle *b, struct pm_context *ctx, const struct pm_run_summary *s,
                     const struct pm_bundle_inputs *in)
{
    if (!b) {
        return 0;
    }
    char created[40];
    pm_time_str(pm_now_realtime(), created, sizeof(created));
    int status = PM_EXIT_UNREADABLE;
    const char *sign_key = in ? in->sign_key : NULL;
    if (sign_key && !b->key) {
        /* Check the key before the work, not after it (the engine loads it at the start,
         * pm_bundle_load_key; this is for callers that did not). */
        char sig[128], err[600];
        int st = pm_manifest_sign(sign_key, "", 0, sig, sizeof(sig), err, sizeof(err));
        if (st) {
            pm_err("%s", err);
            pm_hint("the bundle %s was not written. The key is read when the bundle is "
                    "finished: after a live capture dropped its privileges, it must be "
                    "readable by that user", b->dir);
            pm_bundle_abort(b);
            return st;
        }
    }
    bool has_mta = (in && in->nmta_logs > 0) || b->nlogrefs > 0;
    bool has_host = in && in->host_context;
    /* Issue 16.5: our addresses, routes and firewall rules are not for the outside team
     * unless asked for (--bundle-host-context): otherwise the file is written unlisted and
     * moved out beside DIR at the commit (DIR.host-context.txt, 0600). */
    bool host_inside = has_host && b->opt.host_context;
    if (has_host && !host_inside) {
        pm_bnd_note(b, "- The sending host's context (its addresses, routes and firewall rules) "
                 "is kept out of this bundle: it is beside it, for us, as %s.host-context.txt "
                 "(--bundle-host-context puts it in the bundle).\n", b->base);
    }

    /* What every escalation text lists as attached. */
    const char *attached[16];
    int na = 0;
    attached[na++] = "evidence.pcapng";
    if (has_mta) {
        attached[na++] = "mta-log.txt";
    }
    if (host_inside) {
        attached[na++] = "host-context.txt";
    }
    attached[na++] = "report.html";
    attached[na++] = "report.json";
    attached[na++] = "summary.txt";
    attached[na++] = "VERSION.txt";
    attached[na++] = "README.txt";
    attached[na++] = PM_MANIFEST;
    if (sign_key) {
        attached[na++] = PM_MANIFEST_SIG;
    }

    struct esc_out eo = {.texts = pm_xcalloc(PM_BUNDLE_MAX_ESCALATIONS, sizeof(*eo.texts))};
    int rc = write_json_tail(b, ctx, s);
    rc = rc ? rc : write_summary(b, ctx, s);
    rc = rc ? rc : write_slice(b, in);
    rc = rc ? rc : pm_bnd_write_escalations(b, ctx, attached, na, &eo);
    rc = rc ? rc : (has_mta ? pm_bnd_write_mta_log(b) : 0);
    rc = rc ? rc : (has_host ? write_host_context(b, in->host_context, host_inside) : 0);
    rc = rc ? rc : write_version(b, s, created);
    rc = rc ? rc : write_readme(b, s, created, &eo, has_mta, host_inside, sign_key != NULL);
    rc = rc ? rc : write_html(b, ctx, s, created, &eo);
    rc = rc ? rc : write_manifest(b, sign_key, &status);
    for (int i = 0; i < eo.ntexts; i++) {
        free(eo.texts[i].text);
    }
    free(eo.texts);
    if (rc == 0) {
        const char *priv = has_host && !b->opt.host_context ? "host-context.txt" : NULL;
        struct pm_bundle_store *st = b->store;
        b->store = NULL;
        int e = st ? st->ops->commit(st, priv)
                   : pm_bundle_fs_commit(b->parentfd, b->dirfd, b->tmpbase, b->base, priv);
        if (e == 0) {
            size_t nfiles = b->nfiles + 1 + (sign_key ? 1 : 0);
            if (b->dirfd >= 0) {
                close(b->dirfd);
                close(b->parentfd);
            }
            if (pm_verbosity >= 0) {
                /* Say where it is: the report itself went to standard output. */
                pm_say("bundle %s written: %zu files%s", b->dir, nfiles,
                       sign_key ? ", manifest signed" : "");
            }
            bundle_free(b);
            return 0;
        }
        if (!st) { /* a store removed the temporary directory itself */
            pm_bundle_fs_remove(b->parentfd, b->dirfd, b->tmpbase);
            close(b->dirfd);
            close(b->parentfd);
        }
        if (e == EEXIST || e == ENOTEMPTY) {
            pm_err("bundle %s was not written: the directory appeared while the bundle was being "
                   "written; it was left untouched", b->dir);
            pm_hint("run again with a new --bundle name");
        } else {
            pm_err("bundle %s was not written: renaming it into place failed: %s", b->dir,
                   strerror(e));
            pm_hint("nothing was left behind; check the permissions of its parent directory");
        }
        bundle_free(b);
        return PM_EXIT_UNREADABLE;
    }
    if (b->werr) {
        pm_err("bundle %s was not written: writing %s failed: %s", b->dir, b->wname,
               strerror(b->werr));
        pm_hint("no half bundle was left behind; free space on that file system or give "
                "--bundle a directory elsewhere");
    }
    pm_bundle_abort(b);
    return status;
}

void pm_bundle_abort(struct pm_bundle *b)
{
    if (!b) {
        return;
    }
    if (b->json) {
        fclose(b->json->f);
        close(b->json->fd);
        free(b->json->line);
        free(b->json->red);
        free(b->json);
        b->json = NULL;
    }
    if (b->store) {
        struct pm_bundle_store *st = b->store;
        b->store = NULL;
        st->ops->abort(st);
    } else if (b->dirfd >= 0) {
        pm_bundle_fs_remove(b->parentfd, b->dirfd, b->tmpbase);
        close(b->dirfd);
        close(b->parentfd);
    }
    bundle_free(b);
}
