/*
 * test_opts.c — the table-driven option parser (capture/opts.c): each kind of row takes a
 * valid value and refuses NaN, inf, out-of-range, blanks, hex and trailing garbage with
 * PM_OPTS_BAD; flags, strings, callbacks and pass-through rows; unknown options and a
 * missing argument; operands anywhere; the help section from the same rows.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "util.h"

struct vals {
    bool flag;
    const char *str;
    int n;
    unsigned u;
    double rate;
    pm_ns wait;
    int calls;
    int passed_code;
    const char *passed_arg;
};

static int on_call(void *ctx, const char *arg)
{
    struct vals *v = ctx;
    if (arg && !strcmp(arg, "no")) {
        return -1;
    }
    v->calls++;
    return 0;
}

static int on_other(void *ctx, int code, const char *arg)
{
    struct vals *v = ctx;
    if (code == 'x') {
        return 0; /* "not ours" */
    }
    if (arg && !strcmp(arg, "bad")) {
        return -1;
    }
    v->passed_code = code;
    v->passed_arg = arg;
    return 1;
}

static size_t table(struct vals *v, struct pm_optdef *d)
{
    const struct pm_optdef rows[] = {
        {.name = "flag", .kind = PM_OPT_FLAG, .dst = &v->flag, .help = "a flag"},
        {.name = "str", .short_name = 's', .kind = PM_OPT_STRING, .dst = &v->str, .arg = "S",
         .help = "a string\nsecond line"},
        {.name = "count", .kind = PM_OPT_INT, .dst = &v->n, .min = 1, .max = 64, .arg = "N",
         .help = "a count"},
        {.name = "cap", .kind = PM_OPT_UINT, .dst = &v->u, .min = 1, .max = 10000},
        {.name = "rate", .kind = PM_OPT_DOUBLE, .dst = &v->rate, .min = 0.01, .max = 100,
         .unit = "per second"},
        {.name = "wait", .kind = PM_OPT_SECONDS, .dst = &v->wait, .min = 0.05, .max = 30,
         .unit = "seconds"},
        {.name = "call", .kind = PM_OPT_CALL, .call = on_call},
        {.short_name = '4', .kind = PM_OPT_CALL_FLAG, .call = on_call, .label = "-4, -6",
         .help = "family"},
        {.name = "format", .short_name = 'f', .kind = PM_OPT_PASS, .code = 'f'},
        {.name = "color", .kind = PM_OPT_PASS_FLAG, .code = 1234},
        {.name = "other", .short_name = 'x', .kind = PM_OPT_PASS_FLAG, .code = 'x'},
        {.name = "help", .short_name = 'h', .kind = PM_OPT_HELP},
    };
    memcpy(d, rows, sizeof(rows));
    return PM_ARRAY_LEN(rows);
}

/* Parse a NULL-terminated argument list (argv[0] included). */
static int parse(struct vals *v, int *first, const char **args)
{
    static char *argv[32];
    int argc = 0;
    while (args[argc]) {
        argv[argc] = (char *)(uintptr_t)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    struct pm_optdef d[PM_OPTS_MAX];
    size_t n = table(v, d);
    int f = -1;
    int rc = pm_opts_parse(d, n, argc, argv, on_other, v, &f);
    if (first) {
        *first = f;
    }
    return rc;
}

Test(opts, every_kind_takes_a_valid_value)
{
    struct vals v;
    memset(&v, 0, sizeof(v));
    int first = 0;
    const char *a[] = {"t", "--flag", "-s", "abc", "--count", "64", "--cap", "10000", "--rate",
                       "0.01", "--wait", "0.05", "--call", "yes", "-4", "-f", "jsonl",
                       "--color", "TARGET", NULL};
    cr_assert_eq(parse(&v, &first, a), PM_OPTS_OK);
    cr_assert(v.flag);
    cr_assert_str_eq(v.str, "abc");
    cr_assert_eq(v.n, 64);
    cr_assert_eq(v.u, 10000u);
    cr_assert_float_eq(v.rate, 0.01, 1e-12);
    cr_assert_eq(v.wait, PM_MS(50));
    cr_assert_eq(v.calls, 2);
    cr_assert_eq(v.passed_code, 1234, "the last pass-through row was --color");
    cr_assert_eq(first, 18);
}

Test(opts, numbers_refuse_nan_inf_range_blanks_hex_and_garbage)
{
    static const char *bad[] = {"nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e999",
                                "99999999999999999999", "0x10", "0x1p3", " 5", "5 ", "5x",
                                "", "-", "--5", "1..2", "0", "65", "-1"};
    static const char *opts[] = {"--count", "--cap", "--rate", "--wait"};
    for (size_t o = 0; o < PM_ARRAY_LEN(opts); o++) {
        for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
            if (!strcmp(opts[o], "--rate") && !strcmp(bad[i], "65")) {
                continue; /* within --rate's range */
            }
            if (!strcmp(opts[o], "--cap") && !strcmp(bad[i], "65")) {
                continue;
            }
            if (!strcmp(opts[o], "--wait") && !strcmp(bad[i], "65")) {
                continue; /* out of range, tested below */
            }
            struct vals v;
            memset(&v, 0, sizeof(v));
            const char *a[] = {"t", opts[o], bad[i], "TARGET", NULL};
            cr_assert_eq(parse(&v, NULL, a), PM_OPTS_BAD, "%s '%s' accepted", opts[o], bad[i]);
            cr_assert_eq(v.n, 0);
            cr_assert_eq(v.u, 0u);
            cr_assert(v.rate == 0.0 && v.wait == 0, "%s '%s' wrote a value", opts[o], bad[i]);
        }
    }
    struct vals v;
    memset(&v, 0, sizeof(v));
    const char *a[] = {"t", "--wait", "30.5", NULL};
    cr_assert_eq(parse(&v, NULL, a), PM_OPTS_BAD);
    const char *b[] = {"t", "--rate", "100.5", NULL};
    cr_assert_eq(parse(&v, NULL, b), PM_OPTS_BAD);
}

Test(opts, a_refusing_callback_is_a_bad_value)
{
    struct vals v;
    memset(&v, 0, sizeof(v));
    const char *a[] = {"t", "--call", "no", NULL};
    cr_assert_eq(parse(&v, NULL, a), PM_OPTS_BAD);
    const char *b[] = {"t", "-f", "bad", NULL};
    cr_assert_eq(parse(&v, NULL, b), PM_OPTS_BAD, "the fallback's -1");
}

Test(opts, unknown_options_and_missing_arguments)
{
    struct vals v;
    memset(&v, 0, sizeof(v));
    const char *a[] = {"t", "--bogus", NULL};
    cr_assert_eq(parse(&v, NULL, a), PM_OPTS_UNKNOWN);
    const char *b[] = {"t", "--count", NULL};
    cr_assert_eq(parse(&v, NULL, b), PM_OPTS_UNKNOWN);
    const char *c[] = {"t", "-x", NULL};
    cr_assert_eq(parse(&v, NULL, c), PM_OPTS_UNKNOWN, "a pass-through the fallback disowns");
}

Test(opts, help_stops_but_a_bad_value_before_it_wins)
{
    struct vals v;
    memset(&v, 0, sizeof(v));
    const char *a[] = {"t", "--count", "3", "-h", NULL};
    cr_assert_eq(parse(&v, NULL, a), PM_OPTS_HELP);
    cr_assert_eq(v.n, 3);
    const char *b[] = {"t", "--count", "99", "-h", NULL};
    cr_assert_eq(parse(&v, NULL, b), PM_OPTS_BAD);
}

Test(opts, operands_may_come_first)
{
    struct vals v;
    memset(&v, 0, sizeof(v));
    int first = 0;
    const char *a[] = {"t", "TARGET", "--flag", NULL};
    cr_assert_eq(parse(&v, &first, a), PM_OPTS_OK);
    cr_assert(v.flag);
    cr_assert_eq(first, 2);
}

Test(opts, help_section_from_the_rows)
{
    struct vals v;
    struct pm_optdef d[PM_OPTS_MAX];
    size_t n = table(&v, d);
    char buf[2048];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    cr_assert(f);
    pm_opts_help(f, d, n);
    fclose(f);
    cr_assert(strstr(buf, "      --flag              a flag\n"), "%s", buf);
    cr_assert(strstr(buf, "  -s, --str S             a string\n"
                          "                          second line\n"), "%s", buf);
    cr_assert(strstr(buf, "  -4, -6                  family\n"), "%s", buf);
    cr_assert(!strstr(buf, "--cap"), "a row without help is not listed");
}
