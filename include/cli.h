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
