/*
 * engine_files.c — owns the offline input loop of `portmortem analyze` (include/engine.h,
 * pm_engine_analyze): the opened capture files' records, each decoded once and handed to
 * the engine; the records the attempt filter dropped, as hop references only; a stream's
 * idle clock; the progress line. Everything else happens in analyze/engine.c.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "util.h"

/* Offline: a record the attempt filter dropped (only the headers a hop reference needs
 * are decoded, in the engine). */
static void side_record(void *ctx, const struct pm_record *rec)
{
    pm_engine_side_packet(ctx, rec);
}

/* A stream waits for bytes: a second passes on the capture's clock too, so that an attempt
 * nobody answers is still decided when its time is up. */
struct idle {
    struct pm_engine *e;
    uint64_t records; /* a stream's silence: records when it began, */
    int64_t secs;     /* its length so far, */
    pm_ns base;       /* and the capture time it began at */
};

static void stream_idle(void *ctx)
{
    struct idle *d = ctx;
    pm_ns now = pm_engine_now(d->e);
    if (now == PM_NS_NONE) {
        return;
    }
    if (pm_engine_records(d->e) != d->records) {
        d->records = pm_engine_records(d->e); /* a new silence: count from the latest packet */
        d->secs = 0;
        d->base = now;
    }
    /* The clock stays PM_STREAM_IDLE_MARGIN behind the silence: a producer that only paused
     * (ssh, a buffer) must not find its next packets already judged as timed out. */
    d->secs++;
    if (PM_SEC(d->secs) > PM_STREAM_IDLE_MARGIN) {
        pm_engine_tick(d->e, d->base + PM_SEC(d->secs) - PM_STREAM_IDLE_MARGIN);
    }
}

int pm_engine_analyze(const struct pm_engine_config *cfg, struct pm_inputset *in)
{
    const char *labels[PM_MAX_INPUTS];
    for (int i = 0; i < in->n; i++) {
        const char *p = in->in[i].path;
        const char *b = strrchr(p, '/');
        labels[i] = strcmp(p, "-") == 0 ? "stdin" : b ? b + 1 : p;
    }
    /* One stream (standard input, a pipe, a FIFO) and no MTA log: each attempt is decided
     * and reported as it ends, as a live capture does (`tcpdump -U -w - | portmortem
     * analyze -` may never end). With an MTA log the stream is analysed as a file is: the
     * log's year and clock offset are placed from the whole capture first. */
    bool stream = in->n == 1 && pm_capfile_is_stream(in->in[0].cf) && cfg->nlogs == 0 &&
                  !getenv("PM_STREAM_AS_FILE");
    struct pm_engine_source src = {
        .live = stream,
        .nvantage = in->nvantage,
        .vantage_names = (const char *const *)in->vantage_names,
        .nfiles = in->n,
        .file_labels = labels,
        .in = in,
    };
    struct pm_engine *e = pm_engine_new(cfg, &src);
    if (!e) {
        return PM_EXIT_USAGE;
    }
    const char *paths[PM_MAX_INPUTS];
    int fds[PM_MAX_INPUTS];
    for (int i = 0; i < in->n; i++) {
        paths[i] = labels[i];
        /* a pipe or standard input was read once: the bundle cannot cut it again (-2) */
        fds[i] = pm_capfile_is_stream(in->in[i].cf) ? -2 : -1;
        if (fds[i] == -1) {
            paths[i] = in->in[i].path;
        }
    }
    pm_engine_capture_files(e, paths, fds, in->n);
    pm_inputset_side(in, side_record, e);
    struct idle idle = {.e = e};
    if (stream) {
        pm_inputset_idle(in, stream_idle, &idle);
    }
    pm_ns t0 = pm_now_monotonic();

    struct pm_record rec;
    uint64_t n = 0;
    pm_ns next_progress = pm_now_monotonic() + PM_SEC(1);
    while (pm_inputset_next(in, &rec) == PM_READ_OK) {
        struct pm_pkt pkt;
        pm_engine_decode(&rec, &pkt); /* the one decode of this record */
        pm_engine_pkt(e, &pkt, rec.file);
        if (cfg->progress && (++n & 0xffff) == 0 && pm_now_monotonic() >= next_progress) {
            uint64_t bytes = 0, size = 0;
            for (int i = 0; i < in->n; i++) {
                const struct pm_capfile_stats *st = pm_capfile_stats(in->in[i].cf);
                bytes += st->bytes;
                size += st->file_size;
            }
            double secs = (double)(pm_now_monotonic() - t0) / 1e9;
            fprintf(stderr, "\r%s: %llu/%llu MB (%.0f%%), %llu packets, %llu attempts, "
                    "%.0f MB/s   ", pm_progname, (unsigned long long)(bytes >> 20),
                    (unsigned long long)(size >> 20),
                    size ? 100.0 * (double)bytes / (double)size : 0.0, (unsigned long long)n,
                    (unsigned long long)pm_engine_attempts(e),
                    secs > 0 ? (double)bytes / 1048576.0 / secs : 0.0);
            next_progress = pm_now_monotonic() + PM_SEC(1);
        }
    }
    if (cfg->progress && n > 0xffff) {
        fputc('\n', stderr);
    }
    return pm_engine_finish(e);
}
