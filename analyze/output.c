/*
 * output.c — owns the report's output stream (include/output.h): a stdio stream over a
 * cookie that writes with write(2) and keeps the first errno. stdio alone cannot say why a
 * report was cut: an implicit flush fails with ENOSPC long before the final fflush, errno
 * is overwritten by then, and stdout is never closed by the program. Here the first error
 * is kept, everything after it dropped (a report with a hole in the middle, written after
 * space was freed, would be worse than one cut at a known point), and pm_out_close() says
 * what failed. EPIPE is the reader going away: dropped without a message (output.h).
 */
#include "output.h"

#include <errno.h>
#include <unistd.h>

#include "util.h"

#define MAX_STREAMS 4

struct outstate {
    FILE *f;
    int fd;
    bool own;
    int err; /* first write errno; 0 while all is well */
    int said; /* the error pm_out_close already reported (stdout) */
    char *name; /* for messages: a path, or "standard output" */
};

static struct outstate *streams[MAX_STREAMS];

static struct outstate *find(FILE *f)
{
    for (int i = 0; f && i < MAX_STREAMS; i++) {
        if (streams[i] && streams[i]->f == f) {
            return streams[i];
        }
    }
    return NULL;
}

static ssize_t out_write(void *cookie, const char *buf, size_t n)
{
    struct outstate *s = cookie;
    size_t done = 0;
    while (!s->err && done < n) {
        ssize_t r = write(s->fd, buf + done, n - done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            s->err = r < 0 ? errno : EIO;
            break;
        }
        done += (size_t)r;
    }
    /* Claim it all: stdio keeps no half-written buffer to retry, and the error is ours. */
    return (ssize_t)n;
}

static int out_close(void *cookie)
{
    (void)cookie; /* the descriptor is closed by pm_out_close, which checks it */
    return 0;
}

FILE *pm_out_open(int fd, const char *name, bool own)
{
    int slot = -1;
    for (int i = 0; i < MAX_STREAMS; i++) {
        if (!streams[i]) {
            slot = i;
            break;
        }
    }
    if (slot < 0 || fd < 0) {
        errno = slot < 0 ? EMFILE : EBADF;
        return NULL;
    }
    struct outstate *s = pm_xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->own = own;
    s->name = pm_xstrdup(name);
    cookie_io_functions_t io = {.write = out_write, .close = out_close};
    s->f = fopencookie(s, "w", io);
    if (!s->f) {
        int e = errno;
        free(s->name);
        free(s);
        errno = e;
        return NULL;
    }
    /* A person at a terminal sees each line as it is made (the live report); elsewhere
     * large blocks. */
    if (isatty(fd)) {
        setvbuf(s->f, NULL, _IOLBF, 0);
    } else {
        setvbuf(s->f, NULL, _IOFBF, 64 * 1024);
    }
    streams[slot] = s;
    return s->f;
}

FILE *pm_out_stdout(void)
{
    FILE *f = pm_out_open(STDOUT_FILENO, "standard output", false);
    return f ? f : stdout;
}

int pm_out_error(FILE *f)
{
    struct outstate *s = find(f);
    if (s) {
        return s->err;
    }
    return f && ferror(f) ? EIO : 0;
}

static int report(const char *what, const char *name, int err, int rc)
{
    if (err == 0 || err == EPIPE) {
        return rc;
    }
    pm_err("cannot write %s%s: %s", what, name, strerror(err));
    if ((err == ENOSPC || err == EDQUOT) && what[0] == 'r') {
        pm_hint("free some space, or write the report elsewhere with -o FILE");
    }
    return PM_EXIT_UNREADABLE;
}

int pm_out_close(FILE *f, int rc)
{
    struct outstate *s = find(f);
    if (!s) {
        if (!f || f == stdout) {
            return rc; /* checked at exit by pm_out_close_stdout */
        }
        int err = fflush(f) != 0 || ferror(f) ? (errno ? errno : EIO) : 0;
        if (fclose(f) != 0 && !err) {
            err = errno ? errno : EIO;
        }
        return report("report to ", "the output", err, rc);
    }
    fflush(s->f); /* any error lands in s->err */
    if (s->f == stdout) {
        /* The process's standard output stays open for what follows; its error is said
         * here once, in the report's words, and again only if something new fails. */
        rc = report("report to ", s->name, s->err, rc);
        s->said = s->err;
        return rc;
    }
    fclose(s->f);
    if (s->own && close(s->fd) != 0 && !s->err && errno != EINTR) {
        s->err = errno; /* NFS and some others report a failed write at close */
    }
    for (int i = 0; i < MAX_STREAMS; i++) {
        if (streams[i] == s) {
            streams[i] = NULL;
        }
    }
    rc = report("report to ", s->name, s->err, rc);
    free(s->name);
    free(s);
    return rc;
}

int pm_out_close_stdout(int rc)
{
    struct outstate *s = find(stdout);
    if (s) {
        fflush(stdout);
        if (s->err && s->err == s->said) {
            return s->err == EPIPE ? rc : PM_EXIT_UNREADABLE; /* already said */
        }
        return report("to ", s->name, s->err, rc);
    }
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) {
        return rc;
    }
    return report("to ", "standard output", errno ? errno : EIO, rc);
}
