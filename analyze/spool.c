/*
 * spool.c — owns the offline engine's spool of finished attempts (include/spool.h): a
 * tmpfile of fixed-size records, each a header (magic, whether an SMTP summary follows),
 * the attempt, and the summary if any. Written and read by this process only.
 */
#include "spool.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tables.h"
#include "util.h"

#define SPOOL_MAGIC 0x706d7370u /* "pmsp" */

struct spool_hdr {
    uint32_t magic;
    uint32_t has_smtp;
};

bool pm_spool_open(struct pm_spool *s)
{
    memset(s, 0, sizeof(*s));
    s->w = tmpfile();
    return s->w != NULL;
}

void pm_spool_put(struct pm_spool *s, const struct pm_attempt *a,
                  const struct pm_smtp_summary *smtp)
{
    if (s->full) {
        s->lost++;
        pm_table_lost(PM_TAB_SPOOL, 1, false);
        return;
    }
    struct spool_hdr h = {SPOOL_MAGIC, smtp != NULL};
    errno = 0;
    if (fwrite(&h, sizeof(h), 1, s->w) != 1 || fwrite(a, sizeof(*a), 1, s->w) != 1 ||
        (smtp && fwrite(smtp, sizeof(*smtp), 1, s->w) != 1)) {
        /* $TMPDIR is full (or a file size limit): the attempts spooled so far are still
         * analysed; this one and the later ones are counted as lost (exit 4). */
        s->full = true;
        s->werr = errno ? errno : EIO;
        pm_err("cannot write the spool of finished attempts: %s", strerror(s->werr));
        pm_hint("set TMPDIR to a directory with free space (each attempt needs ~%zu bytes)",
                sizeof(h) + sizeof(*a) + sizeof(*smtp));
        s->lost++;
        pm_table_lost(PM_TAB_SPOOL, 1, false);
        return;
    }
    s->spooled++;
}

/* After a failed write the write stream's buffer cannot be flushed, so a second stream on
 * a dup of the descriptor reads what reached the file. */
FILE *pm_spool_rewind(struct pm_spool *s)
{
    if (!s->full) {
        rewind(s->w);
        return s->w;
    }
    if (!s->r) {
        int fd = dup(fileno(s->w));
        s->r = fd >= 0 ? fdopen(fd, "rb") : NULL;
        if (!s->r && fd >= 0) {
            close(fd);
        }
    }
    if (!s->r || fseeko(s->r, 0, SEEK_SET) != 0) {
        s->error = errno ? errno : EIO;
        return NULL;
    }
    return s->r;
}

bool pm_spool_read(struct pm_spool *s, FILE *in, struct pm_spooled *out)
{
    struct spool_hdr h;
    if (!in || fread(&h, sizeof(h), 1, in) != 1) {
        return false;
    }
    bool ok = h.magic == SPOOL_MAGIC && fread(&out->a, sizeof(out->a), 1, in) == 1;
    out->has_smtp = ok && h.has_smtp != 0;
    if (ok && out->has_smtp) {
        ok = fread(&out->smtp, sizeof(out->smtp), 1, in) == 1;
    }
    if (!ok && !s->full) {
        s->error = EIO; /* a record cut short: only a failed write explains that */
    }
    return ok;
}

void pm_spool_close(struct pm_spool *s)
{
    if (s->r) {
        fclose(s->r);
    }
    if (s->w) {
        fclose(s->w);
    }
    s->r = s->w = NULL;
}
