/*
 * follow.c — owns following a growing MTA log during a live capture, like `tail -F`, so
 * that attempts which never reach the wire (a local firewall, a missing route) are
 * reported as they happen.
 *
 *  - Opened as root before the privilege drop; positioned at the end (only new lines
 *    matter live) or, with --mta-log-from-start, at the beginning. Starting at the end
 *    backs up to the last newline, so a line being written right now is not cut in two.
 *    Lines before the end are counted so that FILE:LINE citations match the file (up to
 *    FOLLOW_COUNT_MAX bytes; beyond, numbers count from where following began).
 *  - Each poll reads what was appended (bounded per call, so a huge backlog cannot starve
 *    the capture loop); complete lines go to pm_log_parse_line() and matches to the
 *    callback; a partial last line waits for its newline in a bounded buffer (an overlong
 *    line is counted and skipped: MTA lines of interest are short, a 8 KiB one is noise or
 *    hostile).
 *  - Truncation (copytruncate: the file got shorter than what we read): start over at 0.
 *  - Rotation (the name now points to another inode: logrotate's rename + create): finish
 *    the old file (its last unterminated line counts as a line), then open the new one
 *    from its start. After the privilege drop this open runs as the -Z user with the log's
 *    group kept (priv.c), which is why that group is kept; when it still fails, say so
 *    once and keep trying. A path that vanished (rotated, not yet recreated) is waited for.
 *  - "-" (standard input) or a FIFO is a stream: read as it comes, no rotation checks
 *    (`journalctl -f -o short-iso | portmortem capture ... --mta-log -`).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture_int.h"
#include "util.h"

#define FOLLOW_COUNT_MAX ((off_t)1 << 30)

struct pm_follow {
    char *path;
    int fd;
    bool stream;         /* stdin or a FIFO: no position, no rotation */
    bool own_fd;         /* close it at the end (not stdin) */
    dev_t dev;
    ino_t ino;
    off_t off;           /* bytes of the current file consumed */
    uint32_t line;       /* lines of the current file consumed */
    char buf[PM_LOG_LINE_MAX];
    size_t have;
    bool overlong;       /* discarding the rest of a too-long line */
    struct pm_log_options lo;
    pm_follow_cb cb;
    void *ctx;
    struct pm_follow_stats st;
    bool warned_reopen, warned_gone;
};

static void emit_line(struct pm_follow *f, const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n')) {
        n--;
    }
    f->line++;
    f->st.lines++;
    struct pm_logentry le;
    memset(&le, 0, sizeof(le));
    int rc = pm_log_parse_line(s, n, &f->lo, &le);
    if (rc == 1) {
        le.line = f->line;
        f->st.of_interest++;
        f->cb(f->ctx, f->path, &le);
    } else if (rc == 0 && le.queued) {
        le.line = f->line; /* a message entered the queue: an anchor, not an attempt */
        f->cb(f->ctx, f->path, &le);
    } else if (rc < 0) {
        f->st.unparseable++;
    }
}

static void consume(struct pm_follow *f, const char *data, size_t n)
{
    f->st.bytes += n;
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) + 1 : n;
        if (f->overlong) {
            if (nl) {
                f->overlong = false; /* the skipped line ends here */
            }
        } else if (f->have + take > sizeof(f->buf)) {
            /* Too long for any line we care about: count it, skip to its newline. */
            f->st.overlong++;
            f->line++;
            f->st.lines++;
            f->have = 0;
            f->overlong = nl == NULL;
        } else {
            memcpy(f->buf + f->have, data, take);
            f->have += take;
            if (nl) {
                emit_line(f, f->buf, f->have);
                f->have = 0;
            }
        }
        data += take;
        n -= take;
    }
}

/* A file that ends (rotated away): its last line needs no newline to be complete. */
static void flush_partial(struct pm_follow *f)
{
    if (f->have > 0 && !f->overlong) {
        emit_line(f, f->buf, f->have);
    }
    f->have = 0;
    f->overlong = false;
}

/* Read up to the bound; returns false on a read error. */
static bool read_available(struct pm_follow *f)
{
    char chunk[65536];
    size_t total = 0;
    while (total < PM_FOLLOW_READ_PER_POLL) {
        if (f->stream) {
            struct pollfd p = {.fd = f->fd, .events = POLLIN};
            if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) {
                return true;
            }
        }
        ssize_t n = read(f->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            if (errno == EAGAIN) {
                return true;
            }
            f->st.last_errno = errno;
            return false;
        }
        if (n == 0) {
            if (f->stream && f->fd >= 0) {
                /* The writer closed the pipe: nothing more will come. */
                flush_partial(f);
                if (f->own_fd) {
                    close(f->fd);
                }
                f->fd = -1;
            }
            return true;
        }
        consume(f, chunk, (size_t)n);
        f->off += n;
        total += (size_t)n;
    }
    return true;
}

/* Position at the end, backing up to just after the last newline, and count the lines
 * before it. */
static void seek_end(struct pm_follow *f, off_t size)
{
    off_t start = size;
    char tail[PM_LOG_LINE_MAX];
    off_t from = size > (off_t)sizeof(tail) ? size - (off_t)sizeof(tail) : 0;
    ssize_t n = pread(f->fd, tail, (size_t)(size - from), from);
    if (n > 0) {
        ssize_t i = n;
        while (i > 0 && tail[i - 1] != '\n') {
            i--;
        }
        start = i > 0 ? from + i : (from == 0 ? 0 : size);
    }
    uint32_t lines = 0;
    if (start <= FOLLOW_COUNT_MAX) {
        char chunk[65536];
        off_t pos = 0;
        while (pos < start) {
            ssize_t r = pread(f->fd, chunk, (size_t)PM_MIN((off_t)sizeof(chunk), start - pos), pos);
            if (r <= 0) {
                break;
            }
            for (ssize_t i = 0; i < r; i++) {
                lines += chunk[i] == '\n';
            }
            pos += r;
        }
    } else {
        pm_warn("%s is over 1 GiB: line numbers in the evidence count from where following "
                "began, not from the start of the file", f->path);
    }
    f->line = lines;
    f->off = start;
    lseek(f->fd, start, SEEK_SET);
}

struct pm_follow *pm_follow_open(const char *path, bool from_start,
                                 const struct pm_log_options *lo, pm_follow_cb cb, void *ctx)
{
    struct pm_follow *f = pm_xcalloc(1, sizeof(*f));
    f->path = pm_xstrdup(path);
    f->lo = *lo;
    f->cb = cb;
    f->ctx = ctx;
    if (!strcmp(path, "-")) {
        f->fd = STDIN_FILENO;
        f->stream = true;
        return f;
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f->fd < 0) {
        int e = errno;
        pm_err("cannot follow the MTA log %s: %s", path, strerror(e));
        pm_hint(e == ENOENT ? "give the file the MTA writes (Debian: /var/log/mail.log; "
                              "Postfix maillog_file), or --mta-log - with journalctl -f"
                            : "run as root, or as a user that can read it");
        free(f->path);
        free(f);
        return NULL;
    }
    f->own_fd = true;
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        pm_err("cannot follow the MTA log %s: %s", path, strerror(errno));
        pm_follow_close(f);
        return NULL;
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        /* /dev/zero or a disk is endless or no text; a terminal is what `-` is for. */
        pm_err("cannot follow the MTA log %s: it is a device, not a log file", path);
        pm_hint("give the log file, a FIFO, or - for standard input");
        pm_follow_close(f);
        return NULL;
    }
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
        f->stream = true;
        return f;
    }
    if (!S_ISREG(st.st_mode)) {
        pm_err("cannot follow the MTA log %s: not a regular file or a pipe", path);
        pm_follow_close(f);
        return NULL;
    }
    /* Regular file: back to blocking reads (they never block on a regular file). */
    fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (!from_start) {
        seek_end(f, st.st_size);
    }
    return f;
}

static void reopen(struct pm_follow *f, const struct stat *st)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        f->st.last_errno = errno;
        if (!f->warned_reopen) {
            f->warned_reopen = true;
            pm_warn("%s was rotated but the new file cannot be opened: %s", f->path,
                    strerror(errno));
            pm_hint("as uid %u, the log must be readable by that user or a group it keeps "
                    "(-Z USER; the log's group is kept when the log is group-readable); "
                    "retrying every second", (unsigned)geteuid());
        }
        return;
    }
    f->warned_reopen = false;
    flush_partial(f);
    close(f->fd);
    f->fd = fd;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->off = 0;
    f->line = 0;
    f->st.reopened++;
    pm_info("%s was rotated: following the new file from its start", f->path);
}

void pm_follow_poll(struct pm_follow *f, bool check_name)
{
    if (!f || f->fd < 0) {
        return;
    }
    if (!read_available(f) && !f->stream) {
        PM_WARN_ONCE("reading %s failed: %s", f->path, strerror(f->st.last_errno));
    }
    if (f->stream || f->fd < 0) {
        return;
    }
    struct stat st;
    if (fstat(f->fd, &st) == 0 && st.st_size < f->off) {
        /* copytruncate: the same file started over. Lines begin again at 1. */
        f->st.truncated++;
        f->have = 0;
        f->overlong = false;
        f->off = 0;
        f->line = 0;
        lseek(f->fd, 0, SEEK_SET);
        pm_info("%s was truncated: reading it from the start", f->path);
        read_available(f);
    }
    if (!check_name) {
        return;
    }
    struct stat nst;
    if (stat(f->path, &nst) != 0) {
        if (!f->warned_gone && errno != ENOENT) {
            f->warned_gone = true;
            pm_warn("cannot check %s for rotation: %s", f->path, strerror(errno));
        }
        return; /* gone (rotated, not recreated yet): keep the old file open */
    }
    f->warned_gone = false;
    if (nst.st_ino != f->ino || nst.st_dev != f->dev) {
        read_available(f); /* the writer may have added to the old file before switching */
        reopen(f, &nst);
        if (f->ino == nst.st_ino) {
            read_available(f);
        }
    }
}

const struct pm_follow_stats *pm_follow_stats(const struct pm_follow *f) { return &f->st; }
const char *pm_follow_path(const struct pm_follow *f) { return f->path; }

void pm_follow_close(struct pm_follow *f)
{
    if (!f) {
        return;
    }
    if (f->fd >= 0 && f->own_fd) {
        close(f->fd);
    }
    free(f->path);
    free(f);
}
