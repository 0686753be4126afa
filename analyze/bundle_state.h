/*
 * bundle_state.h — the evidence bundle's state while it is being made (struct pm_bundle),
 * shared by analyze/bundle.c (life cycle: open, collect, finish, abort) and its rooms:
 * bundle_fs.c (the directory: create, remove, commit), bundle_file.c (one file being
 * written: checked writes, --redact on the way, fsync, its hash for the manifest),
 * bundle_dest.c (the failing destinations and their escalation texts) and bundle_mtalog.c
 * (the matched MTA log lines, mta-log.txt). Private to analyze/bundle*.c.
 */
#ifndef PM_BUNDLE_STATE_H
#define PM_BUNDLE_STATE_H

#include <stdbool.h>
#include <stdio.h>

#include "bundle_int.h"

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

/* ---- bundle_file.c ---- */

/* Add a line to README.txt's notes (what a cap left out), as printf. */
void pm_bnd_note(struct pm_bundle *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first write failure is kept (and said by pm_bundle_finish). */
void pm_bnd_write_failed(struct pm_bundle *b, const char *name, int err);
/* A new file of the bundle, through the store or directly; NULL after a failure (kept). */
struct wfile *pm_bnd_open(struct pm_bundle *b, const char *name);
/* Flush, fsync, close; its SHA-256 into the manifest when in_manifest. 0 or -1 (kept). */
int pm_bnd_close(struct pm_bundle *b, struct wfile *w, bool in_manifest);
/* A whole small file from memory. */
int pm_bnd_write_text(struct pm_bundle *b, const char *name, const char *text, size_t len);

/* ---- bundle_dest.c ---- */

/* The escalation texts written, for report.html. */
struct esc_out {
    struct pm_html_text *texts;
    int ntexts;
    uint64_t dropped;
};
/* The destination's entry, made on first sight; NULL when the table is full (counted). */
struct bdest *pm_bnd_dest_get(struct pm_bundle *b, const pm_addr *a);
/* The destination's entry, or NULL. */
struct bdest *pm_bnd_dest_find(struct pm_bundle *b, const pm_addr *a);
/* A source address the destination was tried from, with the vantage point that saw it. */
void pm_bnd_dest_add_src(struct bdest *d, const pm_addr *src, const char *vantage, bool public);
/* escalation-<dst>.txt for every failing destination, in the report's order. 0 or -1. */
int pm_bnd_write_escalations(struct pm_bundle *b, struct pm_context *ctx,
                             const char *const *attached, int nattached, struct esc_out *eo);

/* ---- bundle_mtalog.c ---- */

/* The index of a log file's path among those the bundle copies lines from; -1: full. */
int pm_bnd_logpath_index(struct pm_bundle *b, const char *path);
/* mta-log.txt: the matched lines, read again from the logs. 0 or -1. */
int pm_bnd_write_mta_log(struct pm_bundle *b);

#endif
