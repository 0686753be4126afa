/*
 * output.h — the report's output stream (standard output or -o FILE). Every write is
 * checked: the first error is kept with its errno and later writes are dropped, so a full
 * disk gives one clear message and exit status 3 instead of a silently truncated report.
 * A reader that goes away (EPIPE: `portmortem analyze ... | head -1`; SIGPIPE is ignored)
 * is not an error: the rest of the report is dropped, the run finishes in order (the
 * bundle is still written) and the exit status is the run's own.
 */
#ifndef PM_OUTPUT_H
#define PM_OUTPUT_H

#include <stdio.h>

#include "pm.h"

/* A stream writing to fd. NAME is used in messages ("standard output", a path). OWN: close
 * fd at pm_out_close (and check that close). Line-buffered on a terminal. NULL on failure. */
FILE *pm_out_open(int fd, const char *name, bool own);
/* Standard output through such a stream: main() assigns it to stdout (glibc allows that),
 * so the report, help texts and verify's output are all checked. */
FILE *pm_out_stdout(void);
/* 0 while every write succeeded; else the first errno (EPIPE: the reader went away).
 * For a stream not made here: EIO when ferror() is set, else 0. */
int pm_out_error(FILE *f);
/* Flush and close. A write, flush or close error other than EPIPE is reported
 * ("portmortem: cannot write report to NAME: REASON") and turns RC into PM_EXIT_UNREADABLE;
 * otherwise RC is returned unchanged. */
int pm_out_close(FILE *f, int rc);
/* At exit: flush stdout and say what failed, unless pm_out_close already did. */
int pm_out_close_stdout(int rc);

#endif
