/*
 * test_lines.c — the log line reader (include/lines.h, analyze/lines.c): NUL bytes inside a
 * line are data (the line keeps its real length and the lines after it keep their numbers),
 * plain and gzip files give the same lines, the last line needs no newline, '\r' is kept,
 * an overlong line is cut and still counts as one line, a truncated gzip file returns the
 * lines before the damage and then says why; and the MTA log loader numbers a line after
 * NUL-damaged ones as its position in the file.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lines.h"
#include "mtalog.h"
#include "util.h"

static char dir[64];

static void mkscratch(void)
{
    snprintf(dir, sizeof(dir), "/tmp/pm-lines-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rmscratch(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(lines, .init = mkscratch, .fini = rmscratch);

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void write_plain(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile g = gzopen(path, "wb");
    cr_assert_not_null(g);
    cr_assert_eq(gzwrite(g, data, (unsigned)n), (int)n);
    cr_assert_eq(gzclose(g), Z_OK);
}

/* A log as a crash leaves it: zeros inside a line, a line of zeros, a line that is only a
 * NUL, CRLF, an empty line, and a last line without a newline. */
static const char CRASHED[] = "first\n"
                              "sec\0ond\0\n"
                              "\0\0\0\0\0\0\0\0\n"
                              "\0\n"
                              "crlf\r\n"
                              "\n"
                              "last";
static const struct {
    const char *text;
    size_t len;
} WANT[] = {{"first", 5}, {"sec\0ond\0", 8}, {"\0\0\0\0\0\0\0\0", 8}, {"\0", 1},
            {"crlf\r", 5}, {"", 0}, {"last", 4}};

static void expect_crashed_lines(const char *path)
{
    struct pm_lines *r = pm_lines_open(path, 64);
    cr_assert_not_null(r, "%s", path);
    const char *t;
    size_t n;
    bool cut;
    for (size_t i = 0; i < PM_ARRAY_LEN(WANT); i++) {
        cr_assert_eq(pm_lines_next(r, &t, &n, &cut), 1, "line %zu", i + 1);
        cr_assert_eq(n, WANT[i].len, "line %zu: length %zu, want %zu", i + 1, n, WANT[i].len);
        cr_assert_eq(memcmp(t, WANT[i].text, n), 0, "line %zu: bytes differ", i + 1);
        cr_assert_not(cut);
        cr_assert_eq(pm_lines_count(r), i + 1);
    }
    cr_assert_eq(pm_lines_next(r, &t, &n, &cut), 0, "the end, once");
    cr_assert_eq(pm_lines_next(r, &t, &n, &cut), 0, "the end stays the end");
    cr_assert_null(pm_lines_why(r));
    cr_assert_eq(pm_lines_bytes(r), sizeof(CRASHED) - 1);
    pm_lines_close(r);
}

Test(lines, nul_bytes_are_data_plain)
{
    char p[128];
    path_of(p, sizeof(p), "crashed.log");
    write_plain(p, CRASHED, sizeof(CRASHED) - 1);
    expect_crashed_lines(p);
}

Test(lines, nul_bytes_are_data_gzip)
{
    char p[128];
    path_of(p, sizeof(p), "crashed.log.gz");
    write_gz(p, CRASHED, sizeof(CRASHED) - 1);
    expect_crashed_lines(p);
}

Test(lines, lines_across_chunk_boundaries)
{
    /* 20000 lines of 7 bytes with a NUL in each: the 64 KiB chunks end inside lines. */
    size_t nl = 20000, sz = nl * 8;
    char *buf = malloc(sz);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < nl; i++) {
        snprintf(buf + i * 8, 8, "%06zu", i);
        buf[i * 8 + 3] = '\0';
        buf[i * 8 + 7] = '\n';
    }
    char p[128];
    path_of(p, sizeof(p), "many.log");
    write_plain(p, buf, sz);
    struct pm_lines *r = pm_lines_open(p, 100);
    cr_assert_not_null(r);
    const char *t;
    size_t n;
    size_t i = 0;
    while (pm_lines_next(r, &t, &n, NULL) == 1) {
        cr_assert_eq(n, 7, "line %zu", i + 1);
        cr_assert_eq(memcmp(t, buf + i * 8, 7), 0, "line %zu", i + 1);
        i++;
    }
    cr_assert_eq(i, nl);
    pm_lines_close(r);
    free(buf);
}

Test(lines, overlong_line_is_cut_and_counts_once)
{
    char text[300];
    memset(text, 'x', sizeof(text));
    memcpy(text, "a\n", 2);
    text[250] = '\n';
    memcpy(text + 251, "after\n", 6);
    char p[128];
    path_of(p, sizeof(p), "long.log");
    write_plain(p, text, 257);
    struct pm_lines *r = pm_lines_open(p, 100);
    const char *t;
    size_t n;
    bool cut;
    cr_assert_eq(pm_lines_next(r, &t, &n, &cut), 1);
    cr_assert(n == 1 && !cut);
    cr_assert_eq(pm_lines_next(r, &t, &n, &cut), 1);
    cr_assert_eq(n, 100, "cut to the maximum");
    cr_assert(cut);
    cr_assert_eq(pm_lines_next(r, &t, &n, &cut), 1);
    cr_assert(n == 5 && !cut && memcmp(t, "after", 5) == 0, "the next line is whole");
    cr_assert_eq(pm_lines_count(r), 3);
    cr_assert_eq(pm_lines_next(r, &t, &n, &cut), 0);
    pm_lines_close(r);
}

Test(lines, truncated_gzip_returns_the_lines_then_says_why)
{
    char text[4096];
    size_t o = 0;
    for (int i = 0; i < 200; i++) {
        o += (size_t)snprintf(text + o, sizeof(text) - o, "l%03d\n", i);
    }
    char p[128];
    path_of(p, sizeof(p), "cut.log.gz");
    write_gz(p, text, o);
    /* cut off the gzip trailer and the end of the deflate stream */
    FILE *f = fopen(p, "rb");
    char gz[8192];
    size_t gl = fread(gz, 1, sizeof(gz), f);
    fclose(f);
    cr_assert_gt(gl, 40);
    write_plain(p, gz, gl - 20);
    struct pm_lines *r = pm_lines_open(p, 100);
    const char *t;
    size_t n;
    int rc;
    uint64_t got = 0;
    while ((rc = pm_lines_next(r, &t, &n, NULL)) == 1) {
        got++;
    }
    cr_assert_eq(rc, -1, "a damaged file is an error, not an end");
    cr_assert_lt(got, 200);
    cr_assert_not_null(pm_lines_why(r));
    cr_assert_str_eq(pm_lines_why(r), "compressed data ends early (truncated)");
    cr_assert_eq(pm_lines_next(r, &t, &n, NULL), -1, "the error stays");
    pm_lines_close(r);
}

Test(lines, missing_file_and_bad_arguments)
{
    cr_assert_null(pm_lines_open("/nonexistent/x.log", 10));
    cr_assert_eq(errno, ENOENT);
    int fd = open("/dev/null", O_RDONLY);
    cr_assert_null(pm_lines_fdopen(fd, 0));
    cr_assert_eq(errno, EINVAL);
    pm_lines_close(NULL);
}

/* The loader numbers lines as the reader does: a connect failure after NUL-damaged lines is
 * cited with its position in the file (the 6th line here), in plain and gzip files alike. */
static void expect_loader_line(const char *p)
{
    struct pm_log_options o = {.tz = "UTC", .ref_time = PM_SEC(1795000000)};
    struct pm_logset set;
    memset(&set, 0, sizeof(set));
    cr_assert_eq(pm_logset_load(&set, p, &o), 0);
    cr_assert_eq(set.nfiles, 1);
    cr_assert_eq(set.files[0].lines, 7);
    cr_assert_eq(set.n, 1, "one attempt: %zu", set.n);
    cr_assert_eq(set.e[0].line, 6);
    cr_assert_eq(set.e[0].err, PM_EC_REFUSED);
    pm_logset_free(&set);
}

static const char DAMAGED[] =
    "Nov 28 18:30:00 mx postfix/qmgr[9]: 1A2B3C: from=<a@b>, size=1, nrcpt=1 (queue active)\n"
    "Nov 28 18:30:01 mx postf\0\0\0\0ix/smtp[1]: zeros in the middle\n"
    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\n"
    "\0\n"
    "\0\0\0\0Nov 28 18:30:02 mx postfix/smtp[2]: zeros first\n"
    "Nov 28 18:30:03 mx postfix/smtp[3]: connect to mx1.example.net[203.0.113.10]:25: "
    "Connection refused\n"
    "Nov 28 18:30:04 mx postfix/qmgr[9]: 1A2B3C: removed";

Test(lines, loader_numbers_lines_after_nul_bytes)
{
    char p[128];
    path_of(p, sizeof(p), "maillog");
    write_plain(p, DAMAGED, sizeof(DAMAGED) - 1);
    expect_loader_line(p);
    path_of(p, sizeof(p), "maillog.gz");
    write_gz(p, DAMAGED, sizeof(DAMAGED) - 1);
    expect_loader_line(p);
}
