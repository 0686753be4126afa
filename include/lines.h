/*
 * lines.h — reading a log file line by line, plain or gzip-compressed, with each line's
 * real length. A NUL byte inside a line (common in a log written while the machine
 * crashed: the file system leaves zeros where the last blocks were) is data, not the end
 * of the line: every reader of MTA logs (the parser in mtalog.c, the bundle's mta-log.txt
 * in bundle.c) goes through here, so that line N is the same line for all of them.
 */
#ifndef PM_LINES_H
#define PM_LINES_H

#include "pm.h"

struct pm_lines;

/* Open PATH (or take FD, which is then owned) for reading. zlib reads gzip members and
 * passes any other bytes through unchanged. A line longer than MAX bytes is returned cut
 * to MAX with *cut set, and the rest of it up to its newline skipped: it still counts as
 * one line. NULL with errno set on failure. */
struct pm_lines *pm_lines_open(const char *path, size_t max);
struct pm_lines *pm_lines_fdopen(int fd, size_t max);

/* The next line, without its '\n' (a '\r' before it is kept: the caller decides). The last
 * line needs no newline. Returns 1 with a line (valid until the next call), 0 at the end,
 * -1 when reading failed (pm_lines_why says why; the lines before were returned). */
int pm_lines_next(struct pm_lines *r, const char **line, size_t *len, bool *cut);

/* Why reading stopped early ("compressed data ends early (truncated)", an errno text, or
 * zlib's message), or NULL when it did not. */
const char *pm_lines_why(const struct pm_lines *r);
/* Reading stopped because a line ran past 1 MiB without a line break (not a text log). */
bool pm_lines_no_newline(const struct pm_lines *r);
uint64_t pm_lines_count(const struct pm_lines *r);  /* lines returned so far */
uint64_t pm_lines_bytes(const struct pm_lines *r);  /* bytes read (uncompressed) */
void pm_lines_close(struct pm_lines *r);

#endif
