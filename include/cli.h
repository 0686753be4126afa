/*
 * cli.h — option plumbing shared by the subcommands (analyze, capture, probe): long-option
 * codes and the parser of the options they all accept. Lives with main.c.
 */
#ifndef PM_CLI_H
#define PM_CLI_H

#include <errno.h>
#include <getopt.h>

#include "engine.h"

enum {
    PM_OPT_LOG_TZ = 1000,
    PM_OPT_LOG_YEAR,
    PM_OPT_LOG_OFFSET,
    PM_OPT_SINCE,
    PM_OPT_UNTIL,
    PM_OPT_EXPECT_SOURCE,
    PM_OPT_MAX_FLOWS,
    PM_OPT_MAX_SESSIONS,
    PM_OPT_MAX_DESTS,
    PM_OPT_BUNDLE,
    PM_OPT_COLOR,
    PM_OPT_NO_COLOR,
    PM_OPT_NO_PROGRESS,
    PM_OPT_SIGN_KEY,
    PM_OPT_MAX_MEMORY,
    PM_OPT_MTA_CONNECT_TIMEOUT,
    PM_OPT_FILTER,       /* --filter EXPR (analyze, capture): cli_filter.c's rule */
    PM_OPT_BUNDLE_HOST_CONTEXT,
    PM_OPT_REDACT,
    PM_OPT__NEXT = 1100, /* subcommands number their own options from here */
};

void pm_cli_engine_defaults(struct pm_engine_config *cfg, int argc, char **argv);
int pm_cli_common_option(struct pm_engine_config *cfg, int opt, const char *arg);
uint64_t pm_cli_seed(void);
/* Checks across options, after all are parsed (--since before --until). 0 or -1 after a
 * message; the caller exits 2. */
int pm_cli_check(const struct pm_engine_config *cfg);

/* The user's BPF expression for analyze and capture, as in tcpdump: `--filter EXPR`, or the
 * words after the capture files (analyze) or after the options (capture), joined by
 * spaces. Sets *expr (allocated; NULL when none was given). Returns 0 or, after a message,
 * the exit status (2).
 *   analyze: with -r FILE (`nrfiles` > 0) every positional word is the expression; with
 *   --filter every positional word is a file; else `dd`, the index in `words` of a `--`,
 *   ends the files, and without one the leading `words` that are "-", an existing path or
 *   NAME=(existing path or -) are the files (*ninputs of them, from the start of `words`)
 *   and the rest is the expression. A guessed expression that does not compile is
 *   reported as "neither a file nor an expression" (exit 2). */
int pm_cli_split_inputs(char **words, int nwords, int dd, int nrfiles, const char *opt_filter,
                        int *ninputs, char **expr);
/* Does the expression compile (on Ethernet: a syntax check)? 0, or -1 and libpcap's
 * message in err. */
int pm_cli_filter_check(const char *expr, char *err, size_t errlen);

/* The long options every subcommand accepts (handled by pm_cli_common_option), for a
 * subcommand's own struct option table: {COMMON_LONGOPTS, ..., {NULL, 0, NULL, 0}}. */
#define COMMON_LONGOPTS                                                                        \
    {"ports", required_argument, NULL, 'p'}, {"format", required_argument, NULL, 'f'},        \
        {"output", required_argument, NULL, 'o'}, {"mta-log", required_argument, NULL, 'm'},  \
        {"log-tz", required_argument, NULL, PM_OPT_LOG_TZ},                                   \
        {"log-year", required_argument, NULL, PM_OPT_LOG_YEAR},                               \
        {"log-offset", required_argument, NULL, PM_OPT_LOG_OFFSET},                           \
        {"since", required_argument, NULL, PM_OPT_SINCE},                                     \
        {"until", required_argument, NULL, PM_OPT_UNTIL},                                     \
        {"mta-connect-timeout", required_argument, NULL, PM_OPT_MTA_CONNECT_TIMEOUT},         \
        {"expect-source", required_argument, NULL, PM_OPT_EXPECT_SOURCE},                     \
        {"max-flows", required_argument, NULL, PM_OPT_MAX_FLOWS},                             \
        {"max-sessions", required_argument, NULL, PM_OPT_MAX_SESSIONS},                       \
        {"max-dests", required_argument, NULL, PM_OPT_MAX_DESTS},                             \
        {"max-memory", required_argument, NULL, PM_OPT_MAX_MEMORY},                           \
        {"bundle", required_argument, NULL, PM_OPT_BUNDLE},                                   \
        {"sign-key", required_argument, NULL, PM_OPT_SIGN_KEY},                               \
        {"bundle-host-context", no_argument, NULL, PM_OPT_BUNDLE_HOST_CONTEXT},               \
        {"redact", no_argument, NULL, PM_OPT_REDACT},                                         \
        {"color", no_argument, NULL, PM_OPT_COLOR},                                           \
        {"no-color", no_argument, NULL, PM_OPT_NO_COLOR},                                     \
        {"no-progress", no_argument, NULL, PM_OPT_NO_PROGRESS},                               \
        {"quiet", no_argument, NULL, 'q'}, {"verbose", no_argument, NULL, 'v'},               \
        {"help", no_argument, NULL, 'h'}

#endif
