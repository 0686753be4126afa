/*
 * lines.c — owns line reading of log files (include/lines.h): one bounded chunk buffer
 * and one bounded line buffer per file; lines are split at '\n' only, and carry their
 * length, so a NUL byte inside a line neither ends it nor shifts the lines after it
 * (fgets/gzgets followed by strlen would do both).
 */
#include "lines.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "util.h"

/* A run this long without a newline is not a log (/dev/zero on standard input, a disk image,
 * a gzip bomb of zeros): reading stops there with a reason instead of skipping "one line"
 * forever. */
#define NO_NEWLINE_MAX ((uint64_t)1 << 20)

struct pm_lines {
    gzFile gz;
    char *chunk;
    size_t have, off; /* bytes in chunk, bytes of them consumed */
    char *line;
    size_t max, ll;
    uint64_t run; /* bytes of the current line, skipped ones included */
    bool done, no_newline;
    int status; /* what next() returns once done: 0 end, -1 error */
    uint64_t lines, bytes;
    char why[200];
};

struct pm_lines *pm_lines_fdopen(int fd, size_t max)
{
    if (max == 0) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    errno = 0;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        int err = errno ? errno : ENOMEM;
        close(fd);
        errno = err;
        return NULL;
    }
    gzbuffer(gz, 128 * 1024);
    struct pm_lines *r = pm_xcalloc(1, sizeof(*r));
    r->gz = gz;
    r->max = max;
    r->chunk = pm_xmalloc(PM_LINES_CHUNK);
    r->line = pm_xmalloc(max);
    return r;
}

struct pm_lines *pm_lines_open(const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? NULL : pm_lines_fdopen(fd, max);
}

/* A short read: the end, or an error to explain. */
static void stopped(struct pm_lines *r, int got)
{
    r->done = true;
    int zerr = Z_OK;
    const char *msg = gzerror(r->gz, &zerr);
    if (got >= 0 && (zerr == Z_OK || zerr == Z_STREAM_END)) {
        r->status = 0;
        return;
    }
    r->status = -1;
    /* zlib prefixes its message with "<fd:N>: "; the caller names the file. */
    if (msg && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": ")) {
        msg = strstr(msg, ": ") + 2;
    }
    const char *why = zerr == Z_ERRNO       ? strerror(errno)
                      : zerr == Z_BUF_ERROR ? "compressed data ends early (truncated)"
                      : msg && *msg         ? msg
                                            : "read error";
    pm_strlcpy(r->why, why, sizeof(r->why));
}

int pm_lines_next(struct pm_lines *r, const char **line, size_t *len, bool *cut)
{
    bool any = false, over = false;
    r->ll = 0;
    r->run = 0;
    for (;;) {
        if (r->run > NO_NEWLINE_MAX) {
            r->done = true;
            r->no_newline = true;
            r->status = -1;
            snprintf(r->why, sizeof(r->why), "more than %llu bytes without a line break",
                     (unsigned long long)NO_NEWLINE_MAX);
            r->off = r->have;
            return -1; /* the endless "line" is not returned as one */
        }
        if (r->off == r->have) {
            if (r->done) {
                if (!any) {
                    return r->status;
                }
                break; /* the last line, without a newline */
            }
            int got = gzread(r->gz, r->chunk, PM_LINES_CHUNK);
            if (got <= 0) {
                stopped(r, got);
                continue;
            }
            r->have = (size_t)got;
            r->off = 0;
            r->bytes += (uint64_t)got;
        }
        any = true;
        const char *s = r->chunk + r->off;
        size_t avail = r->have - r->off;
        const char *nl = memchr(s, '\n', avail);
        size_t seg = nl ? (size_t)(nl - s) : avail;
        size_t room = r->max - r->ll;
        if (seg > room) {
            over = true; /* keep the first max bytes; skip the rest up to the newline */
        }
        memcpy(r->line + r->ll, s, PM_MIN(seg, room));
        r->ll += PM_MIN(seg, room);
        r->off += seg;
        r->run += seg;
        if (nl) {
            r->off++;
            break;
        }
    }
    r->lines++;
    *line = r->line;
    *len = r->ll;
    if (cut) {
        *cut = over;
    }
    return 1;
}

const char *pm_lines_why(const struct pm_lines *r)
{
    return r->status < 0 ? r->why : NULL;
}

bool pm_lines_no_newline(const struct pm_lines *r) { return r->no_newline; }
uint64_t pm_lines_count(const struct pm_lines *r) { return r->lines; }
uint64_t pm_lines_bytes(const struct pm_lines *r) { return r->bytes; }

void pm_lines_close(struct pm_lines *r)
{
    if (!r) {
        return;
    }
    gzclose(r->gz);
    free(r->chunk);
    free(r->line);
    free(r);
}
