/*
 * opts.h — a table-driven command-line parser (analyze/opts.c): a subcommand lists its
 * options once — long name, short letter, kind of argument with its range, where the value
 * goes, help text — and gets getopt_long's tables, strict value checks and its --help
 * options section from that one list. Numbers go through util.h's strict parsers: NaN, inf,
 * blanks, hex, overflow, trailing garbage and out-of-range values are refused with
 * "bad --NAME 'VALUE': ..." and exit status 2.
 *
 * Used by every subcommand: `analyze` (main.c), `capture` (capture/live.c) and `probe`
 * (capture/probe_opts.c); the options they share are rows of analyze/cliopts.c
 * (include/cliopts.h), bound to the engine configuration through `ctx`. Privilege-free, in
 * analyze/, so that main.c, capture/ and analyze/ all call down to it (no circle).
 */
#ifndef PM_OPTS_H
#define PM_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum pm_opt_kind {
    PM_OPT_FLAG,       /* bool *: set to true */
    PM_OPT_STRING,     /* const char **: the argument as given */
    PM_OPT_INT,        /* int *: a decimal integer in [min, max] */
    PM_OPT_UINT,       /* unsigned *: a decimal integer in [min, max], min >= 0 */
    PM_OPT_DOUBLE,     /* double *: a decimal number in [min, max] */
    PM_OPT_SECONDS,    /* pm_ns *: seconds (a decimal number in [min, max]) to nanoseconds */
    PM_OPT_CALL,       /* call(ctx, arg): 0, or -1 after its own message */
    PM_OPT_CALL_FLAG,  /* call(ctx, NULL), no argument */
    PM_OPT_PASS,       /* handed to the parser's `other` callback with `code` and the argument */
    PM_OPT_PASS_FLAG,  /* the same, without an argument */
    PM_OPT_HELP,       /* stop: the caller prints its usage (pm_opts_parse returns PM_OPTS_HELP) */
};

struct pm_optdef {
    const char *name;     /* long name without "--"; NULL: short only */
    char short_name;      /* 0: long only */
    enum pm_opt_kind kind;
    void *dst;            /* where the value goes (see the kinds) */
    double min, max;      /* the range of a number */
    const char *unit;     /* words before the range in the message: "seconds" gives
                           * "bad --wait 'x': seconds, 0.05 to 30"; NULL: "1 to 8" */
    int (*call)(void *ctx, const char *arg);
    void *ctx;            /* PM_OPT_CALL*: what `call` gets (NULL: the parser's ctx); a
                           * shared row carries its own (cliopts.c: the engine config) */
    int code;             /* PM_OPT_PASS*: the code handed to `other` */
    /* Help: `arg` names the argument ("N", "IP"); `help` is the text (NULL: not listed, "":
     * the left column alone; "\n" starts a continuation line); `label` replaces the left
     * column ("-4, -6"). */
    const char *arg;
    const char *help;
    const char *label;
};

/* What pm_opts_parse returns. */
enum {
    PM_OPTS_OK = 0,
    PM_OPTS_HELP = 1,     /* a PM_OPT_HELP row: print the usage to standard output, exit 0 */
    PM_OPTS_BAD = 2,      /* a bad value (message printed): exit 2 */
    PM_OPTS_UNKNOWN = 3,  /* an unknown option or a missing argument (getopt said which):
                           * print the usage to standard error, exit 2 */
};

/* The fallback for PM_OPT_PASS rows: 1 handled, 0 not its option, -1 a bad value (message
 * printed). */
typedef int (*pm_opts_other_fn)(void *ctx, int code, const char *arg);

#define PM_OPTS_MAX 64 /* rows per table */

/* Parse argv[1..] in order (getopt_long, permuting: operands may come anywhere). On
 * PM_OPTS_OK, *first_operand is the index of the first operand (argc when none). Values are
 * written as they are parsed: a later bad value leaves the earlier ones set. */
int pm_opts_parse(const struct pm_optdef *defs, size_t n, int argc, char **argv,
                  pm_opts_other_fn other, void *ctx, int *first_operand);

/* As pm_opts_parse, but in order (getopt's "-" mode): each operand is handed to
 * word(ctx, operand) where it stands among the options, so that files, filter words and a
 * `--` keep their order (analyze). Parsing stops at `--`; *first_operand is the index after
 * it (argc when none). word returns 0, or -1 after a message (PM_OPTS_BAD). */
int pm_opts_parse_inorder(const struct pm_optdef *defs, size_t n, int argc, char **argv,
                          pm_opts_other_fn other, void *ctx,
                          int (*word)(void *ctx, const char *w), int *first_operand);

/* The options section of a usage text: one row per listed option, the help at column 26. */
void pm_opts_help(FILE *f, const struct pm_optdef *defs, size_t n);

#endif
