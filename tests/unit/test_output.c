/*
 * test_output.c — the report's output stream (include/output.h, analyze/output.c): the
 * first write error is kept with its errno even when stdio hits it in an implicit flush
 * long before the end; everything after it is dropped; pm_out_close says so and turns the
 * status into 3; EPIPE (a reader that went away; SIGPIPE ignored as main() does) is kept
 * but is not an error; a healthy stream keeps every byte and the status.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "util.h"

Test(output, full_device_error_kept_and_said, .init = cr_redirect_stderr)
{
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    FILE *f = pm_out_open(fd, "/dev/full", true);
    cr_assert_not_null(f);
    cr_assert_eq(pm_out_error(f), 0);
    for (int i = 0; i < 10000; i++) { /* 300 KB: stdio flushes on its own many times */
        fputs("{\"type\":\"attempt\",\"id\":1,\"x\":\"padding\"}\n", f);
    }
    cr_assert_eq(pm_out_error(f), ENOSPC, "the first error, kept from an implicit flush");
    cr_assert_eq(pm_out_close(f, PM_EXIT_FAILURES), PM_EXIT_UNREADABLE);
    fflush(stderr);
    cr_assert_stderr_eq_str("portmortem: cannot write report to /dev/full: No space left on "
                            "device\n  hint: free some space, or write the report elsewhere "
                            "with -o FILE\n");
}

Test(output, reader_gone_is_not_an_error, .init = cr_redirect_stderr)
{
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[0]);
    FILE *f = pm_out_open(p[1], "standard output", true);
    fputs("{\"type\":\"summary\"}\n", f);
    fflush(f);
    cr_assert_eq(pm_out_error(f), EPIPE);
    cr_assert_eq(pm_out_close(f, PM_EXIT_FAILURES), PM_EXIT_FAILURES, "the run's own status");
    fflush(stderr);
    cr_assert_stderr_eq_str("", "no message");
}

Test(output, healthy_stream_keeps_every_byte)
{
    char path[] = "/tmp/pm-output-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = pm_out_open(fd, path, true);
    size_t total = 0;
    for (int i = 0; i < 5000; i++) {
        total += (size_t)fprintf(f, "line %d\n", i);
    }
    cr_assert_eq(pm_out_close(f, PM_EXIT_OK), PM_EXIT_OK);
    FILE *r = fopen(path, "r");
    char buf[64];
    size_t n = 0, lines = 0;
    while (fgets(buf, sizeof(buf), r)) {
        cr_assert_eq(strncmp(buf, "line ", 5), 0);
        n += strlen(buf);
        lines++;
    }
    fclose(r);
    unlink(path);
    cr_assert_eq(n, total);
    cr_assert_eq(lines, 5000);
}

Test(output, closed_descriptor, .init = cr_redirect_stderr)
{
    int fd = open("/dev/null", O_WRONLY);
    FILE *f = pm_out_open(fd, "standard output", false);
    close(fd);
    fputs("x\n", f);
    cr_assert_eq(pm_out_close(f, PM_EXIT_OK), PM_EXIT_UNREADABLE);
    fflush(stderr);
    cr_assert_stderr_eq_str("portmortem: cannot write report to standard output: Bad file "
                            "descriptor\n");
}
