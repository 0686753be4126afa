/*
 * opts.c — owns the table-driven command-line parser (include/opts.h): getopt_long's long
 * and short option tables built from a subcommand's rows, each value checked by the strict
 * parsers of util.h (no NaN, inf, blanks, hex, overflow or trailing garbage; within its
 * range) and written where its row says, and the --help options section from the same rows.
 * One row per option instead of one hand-written case each: a new option is a row, its
 * check and its help line come with it.
 */
#include "opts.h"

#include <getopt.h>
#include <string.h>

#include "util.h"

/* getopt_long's value for a row without a short letter nor a pass-through code. */
#define CODE_BASE 0x2000

static bool takes_arg(enum pm_opt_kind k)
{
    return k != PM_OPT_FLAG && k != PM_OPT_CALL_FLAG && k != PM_OPT_PASS_FLAG &&
           k != PM_OPT_HELP;
}

static int code_of(const struct pm_optdef *d, size_t i)
{
    if (d->short_name) {
        return (unsigned char)d->short_name;
    }
    if (d->kind == PM_OPT_PASS || d->kind == PM_OPT_PASS_FLAG) {
        return d->code;
    }
    return CODE_BASE + (int)i;
}

/* "bad --wait 'x': seconds, 0.05 to 30" */
static void bad_number(const struct pm_optdef *d, const char *arg)
{
    char name[64];
    if (d->name) {
        snprintf(name, sizeof(name), "--%s", d->name);
    } else {
        snprintf(name, sizeof(name), "-%c", d->short_name);
    }
    pm_err("bad %s '%s': %s%s%.10g to %.10g", name, arg, d->unit ? d->unit : "",
           d->unit ? ", " : "", d->min, d->max);
}

static int take(const struct pm_optdef *d, const char *arg, pm_opts_other_fn other, void *ctx)
{
    long v;
    switch (d->kind) {
    case PM_OPT_FLAG:
        *(bool *)d->dst = true;
        return PM_OPTS_OK;
    case PM_OPT_STRING:
        *(const char **)d->dst = arg;
        return PM_OPTS_OK;
    case PM_OPT_INT:
    case PM_OPT_UINT:
        if (!pm_parse_long(arg, (long)d->min, (long)d->max, &v)) {
            bad_number(d, arg);
            return PM_OPTS_BAD;
        }
        if (d->kind == PM_OPT_INT) {
            *(int *)d->dst = (int)v;
        } else {
            *(unsigned *)d->dst = (unsigned)v;
        }
        return PM_OPTS_OK;
    case PM_OPT_DOUBLE:
        if (!pm_parse_double(arg, d->min, d->max, (double *)d->dst)) {
            bad_number(d, arg);
            return PM_OPTS_BAD;
        }
        return PM_OPTS_OK;
    case PM_OPT_SECONDS:
        if (!pm_parse_secs(arg, d->min, d->max, (pm_ns *)d->dst)) {
            bad_number(d, arg);
            return PM_OPTS_BAD;
        }
        return PM_OPTS_OK;
    case PM_OPT_CALL:
    case PM_OPT_CALL_FLAG:
        return d->call(d->ctx ? d->ctx : ctx, arg) == 0 ? PM_OPTS_OK : PM_OPTS_BAD;
    case PM_OPT_PASS:
    case PM_OPT_PASS_FLAG: {
        int rc = other ? other(ctx, d->code, arg) : 0;
        return rc > 0 ? PM_OPTS_OK : rc < 0 ? PM_OPTS_BAD : PM_OPTS_UNKNOWN;
    }
    case PM_OPT_HELP:
    default:
        return PM_OPTS_HELP;
    }
}

static int parse(const struct pm_optdef *defs, size_t n, int argc, char **argv,
                 pm_opts_other_fn other, void *ctx, int (*word)(void *ctx, const char *w),
                 int *first_operand)
{
    struct option lo[PM_OPTS_MAX + 1];
    char so[3 * PM_OPTS_MAX + 2];
    size_t nl = 0, ns = 0;
    if (word) {
        so[ns++] = '-'; /* in order: an operand comes back as code 1 */
    }
    if (n > PM_OPTS_MAX) {
        pm_err("internal: %zu options in one table, at most %d", n, PM_OPTS_MAX);
        return PM_OPTS_BAD;
    }
    for (size_t i = 0; i < n; i++) {
        const struct pm_optdef *d = &defs[i];
        bool a = takes_arg(d->kind);
        if (d->name) {
            lo[nl].name = d->name;
            lo[nl].has_arg = a ? required_argument : no_argument;
            lo[nl].flag = NULL;
            lo[nl].val = code_of(d, i);
            nl++;
        }
        if (d->short_name) {
            so[ns++] = d->short_name;
            if (a) {
                so[ns++] = ':';
            }
        }
    }
    memset(&lo[nl], 0, sizeof(lo[nl]));
    so[ns] = '\0';
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
        if (c == 1 && word) {
            if (word(ctx, optarg) != 0) {
                return PM_OPTS_BAD;
            }
            continue;
        }
        const struct pm_optdef *d = NULL;
        for (size_t i = 0; i < n && !d; i++) {
            if (code_of(&defs[i], i) == c) {
                d = &defs[i];
            }
        }
        if (!d) {
            return PM_OPTS_UNKNOWN; /* getopt has said what was wrong */
        }
        int rc = take(d, optarg, other, ctx);
        if (rc != PM_OPTS_OK) {
            return rc;
        }
    }
    *first_operand = optind;
    return PM_OPTS_OK;
}

int pm_opts_parse(const struct pm_optdef *defs, size_t n, int argc, char **argv,
                  pm_opts_other_fn other, void *ctx, int *first_operand)
{
    return parse(defs, n, argc, argv, other, ctx, NULL, first_operand);
}

int pm_opts_parse_inorder(const struct pm_optdef *defs, size_t n, int argc, char **argv,
                          pm_opts_other_fn other, void *ctx,
                          int (*word)(void *ctx, const char *w), int *first_operand)
{
    return parse(defs, n, argc, argv, other, ctx, word, first_operand);
}

/* The left column: "-i, --interface IFACE", "    --rate PPS", "-w FILE". */
static void left_column(const struct pm_optdef *d, char *buf, size_t len)
{
    if (d->label) {
        pm_strlcpy(buf, d->label, len);
        return;
    }
    const char *arg = takes_arg(d->kind) && d->arg ? d->arg : NULL;
    if (d->short_name && d->name) {
        snprintf(buf, len, "-%c, --%s%s%s", d->short_name, d->name, arg ? " " : "",
                 arg ? arg : "");
    } else if (d->short_name) {
        snprintf(buf, len, "-%c%s%s", d->short_name, arg ? " " : "", arg ? arg : "");
    } else {
        snprintf(buf, len, "    --%s%s%s", d->name ? d->name : "?", arg ? " " : "",
                 arg ? arg : "");
    }
}

void pm_opts_help(FILE *f, const struct pm_optdef *defs, size_t n)
{
    enum { INDENT = 2, COLUMN = 26 };
    for (size_t i = 0; i < n; i++) {
        const struct pm_optdef *d = &defs[i];
        if (!d->help) {
            continue;
        }
        char left[128];
        left_column(d, left, sizeof(left));
        if (!d->help[0]) {
            fprintf(f, "%*s%s\n", INDENT, "", left);
            continue;
        }
        /* A help that starts with "\n" begins under the column (a long left column). */
        int used = INDENT + (int)strlen(left);
        fprintf(f, "%*s%s%*s", INDENT, "", left,
                d->help[0] == '\n' ? 0 : used < COLUMN ? COLUMN - used : 1, "");
        for (const char *p = d->help; *p;) {
            const char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            fprintf(f, "%.*s\n", (int)l, p);
            if (!nl) {
                break;
            }
            p = nl + 1;
            fprintf(f, "%*s", COLUMN, "");
        }
    }
}
