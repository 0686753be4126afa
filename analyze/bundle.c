/*
 * bundle.c — owns the evidence bundle's life cycle (include/bundle.h): the temporary
 * directory beside DIR, collecting what the findings say while the run goes on, writing
 * every file at the end (summary.txt, report.json, evidence.pcapng, escalation-<dst>.txt,
 * mta-log.txt, host-context.txt, VERSION.txt, README.txt, report.html), the manifest and
 * signature, and the rename into place. The pcap slice, the texts, the page and the
 * manifest are written by bundle_slice.c, bundle_text.c, bundle_html.c and
 * bundle_manifest.c (analyze/bundle_int.h).
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
#include "bundle_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <pcap/pcap.h>
#include <zlib.h>

#include "lines.h"
#include "util.h"

#ifndef PM_BUILD_VARIANT
#define PM_BUILD_VARIANT "unknown"
#endif

#define NOTES_LEN 4096
#define LOGREF_TEXT 200

struct bdest {
    pm_addr addr;
    char name[PM_LOG_HOST];
    uint32_t attempts, failing, connected;
    uint32_t by_outcome[PM_OUT__COUNT];
    pm_ns first_fail, last_fail;
    uint16_t dport;
    pm_addr srcs[PM_BUNDLE_MAX_SRCS];
    char src_vantage[PM_BUNDLE_MAX_SRCS][64];
    uint8_t src_public[PM_BUNDLE_MAX_SRCS];
    int nsrcs;
    struct pm_bfind *rep;       /* its first failing attempt, kept in full */
    struct pm_attempt ctx;      /* a successful attempt to it: context for the slice */
    uint32_t ctx_id;
    bool has_ctx, written;
    uint32_t next;              /* hash chain, index+1 */
};

struct logref {
    uint32_t line;
    uint32_t id;
    uint16_t path;
    char text[LOGREF_TEXT];     /* the parsed words, if the line cannot be read again */
};

struct pm_bundle {
    char *dir;                  /* as given (messages) */
    char *base, *tmpbase;       /* names inside the parent directory */
    int parentfd, dirfd;        /* direct mode; -1 with a store */
    struct pm_bundle_store *store; /* NULL: direct mode */
    struct pm_bundle_options opt;
    pm_addr expect[PM_BUNDLE_MAX_SRCS]; /* opt.expect_source, copied */
    struct wfile *json;         /* report.json, streamed during the run */
    struct pm_mf_entry files[PM_BUNDLE_MAX_FILES];
    size_t nfiles;
    /* collected from the findings */
    struct pm_html_row *rows;
    size_t nrows, rowscap;
    uint64_t rows_dropped;
    struct pm_bfind *ladders[PM_BUNDLE_MAX_LADDERS];
    int nladders;
    uint64_t ladders_dropped;
    struct pm_bfind **all;      /* every kept finding (owned) */
    size_t nreps;               /* destinations with a kept representative */
    size_t nall, allcap;
    struct bdest *dests;
    size_t ndests, destscap;
    uint32_t *dhead;
    uint64_t dests_dropped;
    struct logref *logrefs;
    size_t nlogrefs, logrefscap;
    uint64_t logrefs_dropped;
    char *logpaths[PM_BUNDLE_MAX_LOGPATHS];
    int nlogpaths;
    struct pm_slice *slice;
    uint64_t attempts, failing;
    char notes[NOTES_LEN];
    struct pm_redact *rx;       /* --redact, or NULL */
    void *key;                  /* the parsed signing key (pm_bundle_load_key), or NULL */
    char *keypath;
    /* the first write failure */
    int werr;
    char wname[PM_BUNDLE_NAME];
};

static void add_note(struct pm_bundle *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_note(struct pm_bundle *b, const char *fmt, ...)
{
    size_t o = strlen(b->notes);
    if (o + 1 >= sizeof(b->notes)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->notes + o, sizeof(b->notes) - o, fmt, ap);
    va_end(ap);
}

/* ---- file system operations (done here, or by a store) ---- */

int pm_bundle_fs_create(int dirfd, const char *name)
{
    if (!pm_bundle_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    return openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

void pm_bundle_fs_remove(int parentfd, int dirfd, const char *tmpbase)
{
    int d2 = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
                unlinkat(dirfd, de->d_name, 0) != 0 && errno == EISDIR) {
                unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
            }
        }
        closedir(d);
    } else if (d2 >= 0) {
        close(d2);
    }
    unlinkat(parentfd, tmpbase, AT_REMOVEDIR);
}

/* Move the private file out of the bundle, beside DIR as "DIR.<name>", mode 0600 (the host
 * context without --bundle-host-context). It was never listed in the manifest. */
static int fs_rename_dir(int parentfd, int dirfd, const char *tmpbase, const char *base);

static int fs_move_private(int parentfd, int dirfd, const char *base, const char *name)
{
    char out[600];
    if (!pm_bundle_name_ok(name) || (size_t)snprintf(out, sizeof(out), "%s.%s", base, name) >=
                                        sizeof(out)) {
        return EINVAL;
    }
    if (fchmodat(dirfd, name, 0600, 0) != 0) {
        return errno;
    }
    if (renameat2(dirfd, name, parentfd, out, RENAME_NOREPLACE) != 0) {
        int e = errno;
        if (e != EINVAL && e != ENOSYS) {
            return e;
        }
        struct stat st;
        if (fstatat(parentfd, out, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            return EEXIST;
        }
        if (renameat(dirfd, name, parentfd, out) != 0) {
            return errno;
        }
    }
    return 0;
}

/* fsync the directory, rename it into place without replacing anything, fsync the parent.
 * Returns 0 or an errno (EEXIST: DIR appeared meanwhile). */
int pm_bundle_fs_commit(int parentfd, int dirfd, const char *tmpbase, const char *base,
                        const char *private_name)
{
    if (private_name && private_name[0]) {
        int e = fs_move_private(parentfd, dirfd, base, private_name);
        if (e) {
            return e;
        }
    }
    int e = fs_rename_dir(parentfd, dirfd, tmpbase, base);
    if (e && private_name && private_name[0]) {
        char out[600]; /* the bundle is not committed: its private file goes too */
        snprintf(out, sizeof(out), "%s.%s", base, private_name);
        unlinkat(parentfd, out, 0);
    }
    return e;
}

static int fs_rename_dir(int parentfd, int dirfd, const char *tmpbase, const char *base)
{
    if (fsync(dirfd) != 0) {
        return errno;
    }
    if (renameat2(parentfd, tmpbase, parentfd, base, RENAME_NOREPLACE) != 0) {
        int e = errno;
        if (e != EINVAL && e != ENOSYS) {
            return e;
        }
        /* A file system without RENAME_NOREPLACE: check, then a plain rename (a small
         * window, but rename(2) onto a non-empty directory fails anyway). */
        struct stat st;
        if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            return EEXIST;
        }
        if (renameat(parentfd, tmpbase, parentfd, base) != 0) {
            return errno;
        }
    }
    fsync(parentfd); /* durability of the rename; the bundle is complete either way */
    return 0;
}

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

/* ---- files ---- */

static int create_file(struct pm_bundle *b, const char *name)
{
    if (b->store) {
        return b->store->ops->create(b->store, name);
    }
    return pm_bundle_fs_create(b->dirfd, name);
}

static void write_failed(struct pm_bundle *b, const char *name, int err)
{
    if (!b->werr) {
        b->werr = err ? err : EIO;
        pm_strlcpy(b->wname, name, sizeof(b->wname));
    }
}

/* A bundle file being written. The FILE writes through a cookie that keeps the first
 * errno of write(2): stdio may hit ENOSPC in an implicit flush long before the final
 * fflush, and then report nothing useful. fd stays open for fsync and hashing. */
struct wfile {
    FILE *f;
    int fd;
    int err;
    char name[PM_BUNDLE_NAME];
    /* --redact, text files: whole lines are rewritten on their way to the disk */
    struct pm_redact *rx;
    bool log_lines;             /* mta-log.txt: lines copied from the MTA's log */
    char *line, *red;
    size_t nline, linecap, redcap;
};

#define WF_LINE_MAX (1u << 20) /* a longer "line" is rewritten in pieces (cut at a space) */

static ssize_t raw_write(struct wfile *w, const char *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(w->fd, buf + done, n - done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            if (!w->err) {
                w->err = r < 0 ? errno : EIO;
            }
            errno = w->err;
            return done ? (ssize_t)done : 0; /* 0: an error, for fopencookie */
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* The buffered line(s) up to `upto` bytes, redacted, to the disk. */
static bool wf_flush_lines(struct wfile *w, size_t upto)
{
    size_t rn = 0;
    for (size_t at = 0; at < upto;) { /* one line at a time */
        const char *nl = memchr(w->line + at, '\n', upto - at);
        size_t end = nl ? (size_t)(nl - w->line) + 1 : upto;
        pm_redact_text(w->rx, w->line + at, end - at, w->log_lines, &w->red, &rn, &w->redcap);
        at = end;
    }
    bool ok = raw_write(w, w->red, rn) == (ssize_t)rn;
    memmove(w->line, w->line + upto, w->nline - upto);
    w->nline -= upto;
    return ok;
}

static ssize_t wf_write(void *cookie, const char *buf, size_t n)
{
    struct wfile *w = cookie;
    if (!w->rx) {
        return raw_write(w, buf, n);
    }
    if (w->nline + n > w->linecap) {
        w->linecap = PM_MAX(w->nline + n, w->linecap * 2);
        w->line = pm_xreallocarray(w->line, w->linecap, 1);
    }
    memcpy(w->line + w->nline, buf, n);
    w->nline += n;
    char *nl = memrchr(w->line, '\n', w->nline);
    size_t upto = nl ? (size_t)(nl - w->line) + 1 : 0;
    if (!upto && w->nline > WF_LINE_MAX) {
        char *sp = memrchr(w->line, ' ', w->nline);
        upto = sp ? (size_t)(sp - w->line) + 1 : w->nline;
    }
    if (upto && !wf_flush_lines(w, upto)) {
        return 0;
    }
    return (ssize_t)n;
}

static int wf_close(void *cookie)
{
    struct wfile *w = cookie; /* the descriptor is closed by close_file, after fsync, hashing */
    if (w->rx && w->nline) {
        wf_flush_lines(w, w->nline); /* a last line without its newline */
    }
    return 0;
}

static struct wfile *open_file(struct pm_bundle *b, const char *name)
{
    if (b->werr) {
        return NULL;
    }
    if (b->nfiles >= PM_BUNDLE_MAX_FILES) {
        write_failed(b, name, EMFILE);
        return NULL;
    }
    int fd = create_file(b, name);
    if (fd < 0) {
        write_failed(b, name, errno);
        return NULL;
    }
    struct wfile *w = pm_xcalloc(1, sizeof(*w));
    w->fd = fd;
    pm_strlcpy(w->name, name, sizeof(w->name));
    /* --redact: every text file; the capture's packets are rewritten by the slice itself */
    w->rx = strcmp(name, "evidence.pcapng") ? b->rx : NULL;
    w->log_lines = !strcmp(name, "mta-log.txt");
    cookie_io_functions_t io = {.write = wf_write, .close = wf_close};
    w->f = fopencookie(w, "w", io);
    if (!w->f) {
        write_failed(b, name, errno);
        close(fd);
        free(w);
        return NULL;
    }
    return w;
}

/* Flush, fsync and close; record the file's SHA-256 for the manifest. Every error is
 * caught here (a full disk shows up in a write, at fflush or at fsync). */
static int close_file(struct pm_bundle *b, struct wfile *w, bool in_manifest)
{
    if (!w) {
        return -1;
    }
    int e = 0;
    if (fflush(w->f) != 0 || ferror(w->f)) {
        e = w->err ? w->err : EIO;
    }
    e = e ? e : w->err;
    fclose(w->f); /* wf_close writes a last unterminated (redacted) line */
    e = e ? e : w->err;
    if (!e && fsync(w->fd) != 0) {
        e = errno;
    }
    if (!e && in_manifest) {
        struct pm_mf_entry *m = &b->files[b->nfiles];
        pm_strlcpy(m->name, w->name, sizeof(m->name));
        e = pm_sha256_fd(w->fd, m->sha);
        if (!e) {
            b->nfiles++;
        }
    }
    close(w->fd);
    if (e) {
        write_failed(b, w->name, e);
    }
    free(w->line);
    free(w->red);
    free(w);
    return e ? -1 : 0;
}

/* A whole small file from memory. */
static int write_text_file(struct pm_bundle *b, const char *name, const char *text, size_t len)
{
    struct wfile *w = open_file(b, name);
    if (!w) {
        return -1;
    }
    if (len) {
        fwrite(text, 1, len, w->f);
    }
    return close_file(b, w, true);
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
    b->json = open_file(b, "report.json");
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

static uint32_t addr_hash(const pm_addr *a)
{
    uint32_t h = 2166136261u ^ a->family;
    for (int i = 0; i < 16; i++) {
        h = (h ^ a->b[i]) * 16777619u;
    }
    return h;
}

static struct bdest *dest_get(struct pm_bundle *b, const pm_addr *a)
{
    if (!b->dhead) {
        b->dhead = pm_xcalloc(PM_BUNDLE_DEST_BUCKETS, sizeof(*b->dhead));
    }
    uint32_t h = addr_hash(a) & (PM_BUNDLE_DEST_BUCKETS - 1);
    for (uint32_t i = b->dhead[h]; i; i = b->dests[i - 1].next) {
        if (pm_addr_eq(&b->dests[i - 1].addr, a)) {
            return &b->dests[i - 1];
        }
    }
    if (b->ndests >= PM_BUNDLE_MAX_DESTS) {
        b->dests_dropped++;
        return NULL;
    }
    if (b->ndests == b->destscap) {
        b->destscap = b->destscap ? b->destscap * 2 : 64;
        b->dests = pm_xreallocarray(b->dests, b->destscap, sizeof(*b->dests));
    }
    struct bdest *d = &b->dests[b->ndests++];
    memset(d, 0, sizeof(*d));
    d->addr = *a;
    d->first_fail = d->last_fail = PM_NS_NONE;
    d->next = b->dhead[h];
    b->dhead[h] = (uint32_t)b->ndests;
    return d;
}

static int logpath_index(struct pm_bundle *b, const char *path)
{
    for (int i = 0; i < b->nlogpaths; i++) {
        if (!strcmp(b->logpaths[i], path)) {
            return i;
        }
    }
    if (b->nlogpaths >= PM_BUNDLE_MAX_LOGPATHS) {
        return -1;
    }
    b->logpaths[b->nlogpaths] = pm_xstrdup(path);
    return b->nlogpaths++;
}

static void add_src(struct bdest *d, const pm_addr *src, const char *vantage, bool public)
{
    for (int i = 0; i < d->nsrcs; i++) {
        if (pm_addr_eq(&d->srcs[i], src)) {
            d->src_public[i] |= public;
            return;
        }
    }
    if (d->nsrcs < PM_BUNDLE_MAX_SRCS) {
        d->srcs[d->nsrcs] = *src;
        d->src_public[d->nsrcs] = public;
        pm_sanitize(d->src_vantage[d->nsrcs], sizeof(d->src_vantage[0]), (const uint8_t *)vantage,
                    strlen(vantage));
        d->nsrcs++;
    }
}

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
        int pi = logpath_index(b, logpath);
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
    struct bdest *d = dst && dst->family ? dest_get(b, dst) : NULL;
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
            add_src(d, peer_outside ? &peer->cli : &a->cli, peer_outside ? pw : where, true);
            add_src(d, peer_outside ? &a->cli : &peer->cli, peer_outside ? where : pw, false);
        } else if (a) {
            add_src(d, &a->cli, where, false);
        } else if (f->src.family) {
            /* not on the wire: the engine's idea of the sending host's address */
            add_src(d, &f->src, "the sending host; no SYN left it", false);
        } else if (env && env->vstate[0] && env->vstate[0]->nlocal > 0) {
            /* not on the wire: the address this host sends from, as the capture knows it */
            add_src(d, &env->vstate[0]->local[0], "the sending host; no SYN left it", false);
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
    struct wfile *w = open_file(b, "VERSION.txt");
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
    return close_file(b, w, true);
}

static int write_summary(struct pm_bundle *b, struct pm_context *ctx,
                         const struct pm_run_summary *s)
{
    struct wfile *w = open_file(b, "summary.txt");
    if (!w) {
        return -1;
    }
    FILE *f = w->f;
    struct pm_report *r = pm_report_new(PM_FMT_TEXT, f, false);
    pm_report_finish(r, ctx, s);
    pm_report_free(r);
    return close_file(b, w, true);
}

static int write_json_tail(struct pm_bundle *b, struct pm_context *ctx,
                           const struct pm_run_summary *s)
{
    struct pm_report *r = pm_report_new(PM_FMT_JSONL, b->json->f, false);
    pm_report_finish(r, ctx, s);
    pm_report_free(r);
    struct wfile *w = b->json;
    b->json = NULL;
    return close_file(b, w, true);
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
    struct wfile *w = open_file(b, "evidence.pcapng");
    if (!w) {
        return -1;
    }
    FILE *f = w->f;
    char notes[1024] = "";
    uint64_t written = 0;
    if (pm_slice_write(b->slice, f, in ? in->capture_paths : NULL, in ? in->capture_fds : NULL,
                       in ? in->ncaptures : 0, b->rx,
                       notes, sizeof(notes), &written) != 0) {
        write_failed(b, "evidence.pcapng", w->err ? w->err : errno);
    }
    add_note(b, "%s", notes);
    if (b->failing && in && in->ncaptures == 0) {
        add_note(b, "- evidence.pcapng: no capture file to cut packets from (live capture "
                 "without -w); it holds no packets.\n");
    }
    /* Ladders whose packets were not read again are drawn from the attempt's facts. */
    for (int i = 0; i < b->nladders; i++) {
        if (!b->ladders[i]->ev_from_capture) {
            pm_bfind_synth_events(b->ladders[i]);
        }
    }
    return close_file(b, w, true);
}

static int cmp_logref(const void *x, const void *y)
{
    const struct logref *a = x, *c = y;
    if (a->path != c->path) {
        return a->path < c->path ? -1 : 1;
    }
    return a->line < c->line ? -1 : a->line > c->line;
}

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* A log read again for its lines: only a regular file, opened without blocking — a FIFO or
 * `-` was consumed by the parser, and opening a FIFO again would wait for a writer forever
 * (issue 19). The same reader as the parser's (lines.c), so line N here is the report's line
 * N, NUL bytes and overlong lines included. NULL: use the parser's words. */
static struct pm_lines *reopen_log(const char *path)
{
    if (!strcmp(path, "-")) {
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return pm_lines_fdopen(fd, PM_BUNDLE_LOGLINE_COPY); /* closes fd when it fails */
}

/* The matched lines, read again from the logs in one pass per file (gzip or plain: zlib
 * reads both). A log that cannot be read again (standard input, rotated away, no longer
 * readable after a privilege drop) falls back to the words the parser kept. */
static int write_mta_log(struct pm_bundle *b)
{
    struct wfile *w = open_file(b, "mta-log.txt");
    if (!w) {
        return -1;
    }
    FILE *f = w->f;
    if (b->nlogrefs > 1) { /* none matched: logrefs is NULL, which qsort may not be given */
        qsort(b->logrefs, b->nlogrefs, sizeof(*b->logrefs), cmp_logref);
    }
    fputs("# MTA log lines matched to the attempts of this run, as FILE:LINE: TEXT.\n"
          "# Sanitised: bytes outside printable ASCII are shown as '?'.\n", f);
    for (int p = 0; p < b->nlogpaths; p++) {
        fputs("# ", f);
        pm_bundle_put_clean(f, base_of(b->logpaths[p]));
        fputs(" = ", f);
        pm_bundle_put_clean(f, b->logpaths[p]);
        fputc('\n', f);
    }
    size_t i = 0;
    while (i < b->nlogrefs) {
        uint16_t p = b->logrefs[i].path;
        const char *path = b->logpaths[p];
        const char *label = base_of(path);
        struct pm_lines *lr = reopen_log(path);
        uint64_t cur = 0;
        uint32_t last = 0;
        for (; i < b->nlogrefs && b->logrefs[i].path == p; i++) {
            const struct logref *r = &b->logrefs[i];
            if (r->line == last) {
                continue; /* two attempts matched the same line: copy it once */
            }
            last = r->line;
            const char *text = NULL;
            size_t n = 0;
            bool cut = false;
            while (lr && cur < r->line) {
                if (pm_lines_next(lr, &text, &n, &cut) <= 0) {
                    pm_lines_close(lr);
                    lr = NULL;
                    break;
                }
                cur = pm_lines_count(lr);
            }
            pm_bundle_put_clean(f, label);
            fprintf(f, ":%u: ", r->line);
            if (lr && text && cur == r->line) {
                if (n && text[n - 1] == '\r') {
                    n--;
                }
                char clean[PM_BUNDLE_LOGLINE_COPY + 1];
                pm_sanitize(clean, sizeof(clean), (const uint8_t *)text, n);
                pm_bundle_put_clean(f, clean);
                fputs(cut ? " [...]\n" : "\n", f);
            } else {
                pm_bundle_put_clean(f, r->text);
                fputs("   [not read again: the parser's words]\n", f);
            }
        }
        pm_lines_close(lr);
    }
    if (b->nlogrefs == 0) {
        fputs("# (no log line was matched to an attempt)\n", f);
    }
    if (b->logrefs_dropped) {
        fprintf(f, "# %llu more matched lines not copied (at most %d)\n",
                (unsigned long long)b->logrefs_dropped, PM_BUNDLE_MAX_LOGREFS);
    }
    return close_file(b, w, true);
}

static int write_host_context(struct pm_bundle *b, const char *text, bool in_manifest)
{
    struct wfile *w = open_file(b, "host-context.txt");
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
    return close_file(b, w, in_manifest);
}

struct esc_out {
    struct pm_html_text *texts;
    int ntexts;
    uint64_t dropped;
};

static struct bdest *dest_find(struct pm_bundle *b, const pm_addr *a)
{
    if (!b->dhead) {
        return NULL;
    }
    uint32_t h = addr_hash(a) & (PM_BUNDLE_DEST_BUCKETS - 1);
    for (uint32_t i = b->dhead[h]; i; i = b->dests[i - 1].next) {
        if (pm_addr_eq(&b->dests[i - 1].addr, a)) {
            return &b->dests[i - 1];
        }
    }
    return NULL;
}

static int write_one_escalation(struct pm_bundle *b, struct bdest *d, const char *ctxname,
                                const char *const *attached, int nattached, struct esc_out *eo)
{
    d->written = true;
    if (eo->ntexts >= PM_BUNDLE_MAX_ESCALATIONS) {
        eo->dropped++;
        return 0;
    }
    char name[PM_BUNDLE_NAME];
    pm_addr dst = d->addr, mapped;
    if (b->rx && pm_redact_addr(b->rx, &dst, &mapped)) {
        dst = mapped; /* an internal destination: its file name is redacted too */
    }
    pm_bundle_escalation_name(&dst, name, sizeof(name));
    const char *att[PM_BUNDLE_MAX_FILES];
    int na = 0;
    att[na++] = name;
    for (int i = 0; i < nattached && na < PM_BUNDLE_MAX_FILES; i++) {
        att[na++] = attached[i];
    }
    struct pm_esc e = {
        .f = &d->rep->f,
        .mx = d->name[0] ? d->name : ctxname,
        .dst = dst,
        .dport = d->dport ? d->dport : 25,
        .first_fail = d->first_fail,
        .last_fail = d->last_fail,
        .failing = d->failing,
        .attempts = d->attempts,
        .connected = d->connected,
        .attached = att,
        .nattached = na,
    };
    /* The public (post-NAT) address first, the inside one second (issue 16.5): seen at an
     * outside vantage point, else given as --expect-source. */
    bool have_public = false;
    for (int i = 0; i < d->nsrcs; i++) {
        have_public |= d->src_public[i];
    }
    int n = 0;
    for (int i = 0; !have_public && i < b->opt.nexpect && n < PM_BUNDLE_MAX_SRCS; i++) {
        e.srcs[n] = b->opt.expect_source[i];
        e.src_public[n] = 1;
        pm_strlcpy(e.src_vantage[n++], "as given with --expect-source",
                   sizeof(e.src_vantage[0]));
    }
    for (int pass = 1; pass >= 0; pass--) {
        for (int i = 0; i < d->nsrcs && n < PM_BUNDLE_MAX_SRCS; i++) {
            bool dup = false;
            for (int j = 0; j < n; j++) {
                dup |= pm_addr_eq(&e.srcs[j], &d->srcs[i]);
            }
            if (d->src_public[i] == pass && !dup) {
                e.srcs[n] = d->srcs[i];
                e.src_public[n] = d->src_public[i];
                pm_strlcpy(e.src_vantage[n++], d->src_vantage[i], sizeof(e.src_vantage[0]));
            }
        }
    }
    e.nsrcs = n;
    memcpy(e.by_outcome, d->by_outcome, sizeof(e.by_outcome));
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) {
        write_failed(b, name, errno);
        return -1;
    }
    int rc = pm_bundle_write_escalation(m, &e);
    if (fclose(m) != 0 || rc != 0) {
        free(text);
        write_failed(b, name, ENOMEM);
        return -1;
    }
    struct pm_html_text *t = &eo->texts[eo->ntexts++];
    pm_strlcpy(t->name, name, sizeof(t->name));
    t->text = text;
    return write_text_file(b, name, text, len);
}

static int write_escalations(struct pm_bundle *b, struct pm_context *ctx,
                             const char *const *attached, int nattached, struct esc_out *eo)
{
    struct pm_dest **ds = NULL;
    size_t nd = ctx ? pm_context_dests_sorted(ctx, &ds) : 0;
    /* The report's order first (failures first, then by address) ... */
    for (size_t i = 0; i < nd; i++) {
        struct bdest *d = dest_find(b, &ds[i]->addr);
        if (d && d->failing && d->rep && !d->written &&
            write_one_escalation(b, d, ds[i]->name, attached, nattached, eo) != 0) {
            return -1;
        }
    }
    /* ... then any failing destination the context did not keep. */
    for (size_t i = 0; i < b->ndests; i++) {
        struct bdest *d = &b->dests[i];
        if (d->failing && !d->rep) {
            eo->dropped++;
        } else if (d->failing && !d->written &&
                   write_one_escalation(b, d, "", attached, nattached, eo) != 0) {
            return -1;
        }
    }
    if (eo->dropped) {
        add_note(b, "- %llu more failing destinations have no escalation text (at most %d); "
                 "report.json lists them.\n", (unsigned long long)eo->dropped,
                 PM_BUNDLE_MAX_ESCALATIONS);
    }
    return 0;
}

static int write_readme(struct pm_bundle *b, const struct pm_run_summary *s, const char *created,
                        const struct esc_out *eo, bool has_mta, bool has_host, bool signing)
{
    struct wfile *w = open_file(b, "README.txt");
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
    return close_file(b, w, true);
}

static int write_html(struct pm_bundle *b, struct pm_context *ctx, const struct pm_run_summary *s,
                      const char *created, const struct esc_out *eo)
{
    struct wfile *w = open_file(b, "report.html");
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
    return close_file(b, w, true);
}

static int write_manifest(struct pm_bundle *b, const char *sign_key, int *status)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) {
        write_failed(b, PM_MANIFEST, errno);
        return -1;
    }
    pm_manifest_write(m, b->files, b->nfiles);
    if (fclose(m) != 0) {
        free(text);
        write_failed(b, PM_MANIFEST, ENOMEM);
        return -1;
    }
    size_t keep = b->nfiles;
    int rc = write_text_file(b, PM_MANIFEST, text, len);
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
            rc = write_text_file(b, PM_MANIFEST_SIG, sig, strlen(sig));
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
        add_note(b, "- The sending host's context (its addresses, routes and firewall rules) "
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
    rc = rc ? rc : write_escalations(b, ctx, attached, na, &eo);
    rc = rc ? rc : (has_mta ? write_mta_log(b) : 0);
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
