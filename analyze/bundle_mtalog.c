/*
 * bundle_mtalog.c — owns mta-log.txt: the MTA log lines matched to the run's attempts
 * (FILE:LINE: TEXT, sorted, each once), read again from the logs through the parser's own
 * reader (lines.c) so that line N is the report's line N; a log that cannot be read again
 * (standard input, a FIFO, rotated away) gives the parser's words instead.
 */
#include "bundle_state.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lines.h"
#include "util.h"

int pm_bnd_logpath_index(struct pm_bundle *b, const char *path)
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
int pm_bnd_write_mta_log(struct pm_bundle *b)
{
    struct wfile *w = pm_bnd_open(b, "mta-log.txt");
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
    return pm_bnd_close(b, w, true);
}
