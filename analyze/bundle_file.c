/*
 * bundle_file.c — owns one file of the bundle being written (analyze/bundle_state.h): it is
 * created through the store (or directly), written through a stdio cookie that keeps the
 * first write error (a full disk can show up in an implicit flush), rewritten line by line
 * by --redact on its way to the disk, then flushed, fsync'ed and hashed for the manifest.
 * Also README.txt's notes and the first failure, which pm_bundle_finish reports.
 */
#include "bundle_state.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

void pm_bnd_note(struct pm_bundle *b, const char *fmt, ...)
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

static int bnd_create_file(struct pm_bundle *b, const char *name)
{
    if (b->store) {
        return b->store->ops->create(b->store, name);
    }
    return pm_bundle_fs_create(b->dirfd, name);
}

void pm_bnd_write_failed(struct pm_bundle *b, const char *name, int err)
{
    if (!b->werr) {
        b->werr = err ? err : EIO;
        pm_strlcpy(b->wname, name, sizeof(b->wname));
    }
}

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
    struct wfile *w = cookie; /* the descriptor is closed by pm_bnd_close, after fsync, hashing */
    if (w->rx && w->nline) {
        wf_flush_lines(w, w->nline); /* a last line without its newline */
    }
    return 0;
}

struct wfile *pm_bnd_open(struct pm_bundle *b, const char *name)
{
    if (b->werr) {
        return NULL;
    }
    if (b->nfiles >= PM_BUNDLE_MAX_FILES) {
        pm_bnd_write_failed(b, name, EMFILE);
        return NULL;
    }
    int fd = bnd_create_file(b, name);
    if (fd < 0) {
        pm_bnd_write_failed(b, name, errno);
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
        pm_bnd_write_failed(b, name, errno);
        close(fd);
        free(w);
        return NULL;
    }
    return w;
}

/* Flush, fsync and close; record the file's SHA-256 for the manifest. Every error is
 * caught here (a full disk shows up in a write, at fflush or at fsync). */
int pm_bnd_close(struct pm_bundle *b, struct wfile *w, bool in_manifest)
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
        pm_bnd_write_failed(b, w->name, e);
    }
    free(w->line);
    free(w->red);
    free(w);
    return e ? -1 : 0;
}

/* A whole small file from memory. */
int pm_bnd_write_text(struct pm_bundle *b, const char *name, const char *text, size_t len)
{
    struct wfile *w = pm_bnd_open(b, name);
    if (!w) {
        return -1;
    }
    if (len) {
        fwrite(text, 1, len, w->f);
    }
    return pm_bnd_close(b, w, true);
}
