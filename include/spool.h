/*
 * spool.h — the offline engine's spool: finished attempts (and their SMTP summaries)
 * written to an unnamed temporary file as fixed-size records, read back twice at the end
 * (pass A learns, pass B decides: analyze/engine.c). Memory stays bounded by the open
 * flows, whatever the capture's length. A failed write ($TMPDIR full, a file size limit)
 * stops writing: what was written is still analysed, the rest counted lost (exit 4).
 */
#ifndef PM_SPOOL_H
#define PM_SPOOL_H

#include <stdio.h>

#include "attempt.h"
#include "smtp.h"

struct pm_spooled {
    struct pm_attempt a;
    struct pm_smtp_summary smtp;
    bool has_smtp;
};

struct pm_spool {
    FILE *w;
    FILE *r;          /* read side once writing failed (the write side's buffer is stuck) */
    uint64_t spooled; /* records fwrite accepted */
    uint64_t lost;    /* finished attempts not written (counted as they come) */
    bool full;        /* a write failed: stop writing */
    int werr;
    int error;        /* reading back failed */
};

/* False (errno set) when no temporary file could be made. */
bool pm_spool_open(struct pm_spool *s);
/* One finished attempt; a failed write says why once and counts the loss (tables.h). */
void pm_spool_put(struct pm_spool *s, const struct pm_attempt *a,
                  const struct pm_smtp_summary *smtp);
/* The stream to read from, at its start; NULL (s->error set) when even that fails. */
FILE *pm_spool_rewind(struct pm_spool *s);
/* The next record; false at the end (s->error set when a record was cut short). */
bool pm_spool_read(struct pm_spool *s, FILE *in, struct pm_spooled *out);
void pm_spool_close(struct pm_spool *s);

#endif
