/*
 * cliopts.h — the options every subcommand shares (analyze, capture, probe), as one table
 * of rows for the table parser (include/opts.h): long name, short letter, argument, help
 * text (its defaults from include/config.h) and handler, each row bound to the engine
 * configuration it fills. Also the checks across options and the rule that tells capture
 * files from filter words. Privilege-free (analyze/cliopts.c): main.c and capture/ call it,
 * it calls neither (tests/layers keeps it so).
 */
#ifndef PM_CLIOPTS_H
#define PM_CLIOPTS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "opts.h"

/* The defaults of a run: port 25, text, colours on a terminal, no caps but the memory
 * budget, a fresh random seed. argc/argv are the whole command line (for the bundle). */
void pm_cli_engine_defaults(struct pm_engine_config *cfg, int argc, char **argv);
uint64_t pm_cli_seed(void);

/* Every shared row, in the order of analyze's --help, bound to cfg: at most `max` rows
 * written to d; returns how many. */
size_t pm_cli_opts(struct pm_engine_config *cfg, struct pm_optdef *d, size_t max);
/* One shared row by its long name ("format"), bound to cfg, with the table's help line.
 * An unknown name is a programming error: said, and abort(). */
struct pm_optdef pm_cli_opt(struct pm_engine_config *cfg, const char *name);
/* The same with the subcommand's own left column (`label`, NULL: the usual one) and help
 * line (`help`, NULL: accepted but not listed). */
struct pm_optdef pm_cli_opt_as(struct pm_engine_config *cfg, const char *name,
                               const char *label, const char *help);

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
int pm_cli_split_inputs(const char **words, int nwords, int dd, int nrfiles, const char *opt_filter,
                        int *ninputs, char **expr);
/* Does the expression compile (on Ethernet: a syntax check)? 0, or -1 and libpcap's
 * message in err. */
int pm_cli_filter_check(const char *expr, char *err, size_t errlen);

#endif
