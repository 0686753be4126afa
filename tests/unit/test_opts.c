/*
 * test_opts.c — the table-driven option parser (analyze/opts.c): each kind of row takes a
 * valid value and refuses NaN, inf, out-of-range, blanks, hex and trailing garbage with
 * PM_OPTS_BAD; flags, strings, callbacks and pass-through rows; unknown options and a
 * missing argument; operands anywhere; the help section from the same rows. Then the shared
 * rows of analyze/cliopts.c: each found by name and bound to its configuration, values
 * written there, bad values refused with exit status 2, the in-order mode of analyze.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "cliopts.h"
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

/* ---- the shared rows (analyze/cliopts.c) ---- */

static char **argv_of(const char **args, int *argc)
{
    static char *argv[32];
    int n = 0;
    while (args[n]) {
        argv[n] = (char *)(uintptr_t)args[n];
        n++;
    }
    argv[n] = NULL;
    *argc = n;
    return argv;
}

Test(cliopts, every_shared_row_is_found_by_name_and_bound)
{
    static struct pm_engine_config cfg;
    struct pm_optdef d[PM_OPTS_MAX];
    size_t n = pm_cli_opts(&cfg, d, PM_OPTS_MAX);
    cr_assert_gt(n, 20u);
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(d[i].name);
        struct pm_optdef one = pm_cli_opt(&cfg, d[i].name);
        cr_assert_str_eq(one.name, d[i].name);
        cr_assert_eq(one.call, d[i].call);
        cr_assert(one.kind == PM_OPT_HELP || one.ctx == &cfg, "--%s is bound", d[i].name);
        struct pm_optdef as = pm_cli_opt_as(&cfg, d[i].name, NULL, NULL);
        cr_assert_null(as.help, "--%s can be hidden", d[i].name);
    }
}

Test(cliopts, values_go_into_the_configuration)
{
    static struct pm_engine_config cfg;
    pm_cli_engine_defaults(&cfg, 0, NULL);
    struct pm_optdef d[PM_OPTS_MAX];
    size_t n = pm_cli_opts(&cfg, d, PM_OPTS_MAX);
    const char *a[] = {"t", "-p", "25,587", "-f", "csv", "--max-flows", "16", "--max-memory",
                       "512M", "--since", "@10", "--until", "@20", "--mta-connect-timeout",
                       "0", "--no-color", "--redact", "--bundle", "/nonexistent/b", "-m", "x",
                       "F", NULL};
    int argc, first = -1;
    char **argv = argv_of(a, &argc);
    cr_assert_eq(pm_opts_parse(d, n, argc, argv, NULL, NULL, &first), PM_OPTS_OK);
    cr_assert_eq(cfg.nports, 2);
    cr_assert_eq(cfg.ports[1], 587);
    cr_assert_eq(cfg.format, PM_FMT_CSV);
    cr_assert_eq(cfg.max_flows, 16u);
    cr_assert_eq(cfg.max_memory, 512ull << 20);
    cr_assert_eq(cfg.since, PM_SEC(10));
    cr_assert_eq(cfg.until, PM_SEC(20));
    cr_assert_eq(cfg.mta_connect_timeout, PM_SEC(PM_KERNEL_SYN_GIVEUP_S));
    cr_assert_not(cfg.color);
    cr_assert(cfg.bundle_redact);
    cr_assert_str_eq(cfg.bundle_dir, "/nonexistent/b");
    cr_assert_null(cfg.bundle_store, "the store is the caller's (capture/), not set here");
    cr_assert_eq(cfg.nlogs, 1);
    cr_assert_eq(pm_cli_check(&cfg), 0);
    cr_assert_eq(first, argc - 1);
    cfg.since = PM_SEC(30);
    cr_assert_eq(pm_cli_check(&cfg), -1, "--since after --until is refused");
}

Test(cliopts, bad_values_are_refused)
{
    static struct pm_engine_config cfg;
    const char *bad[][3] = {
        {"--max-flows", "15"}, {"-p", "0"}, {"-f", "xml"}, {"--log-year", "1969"},
        {"--log-offset", "nan"}, {"--since", "yesterday"}, {"--expect-source", "host"},
        {"--max-memory", "1023K"}, {"--max-dests", "1e3"}, {"--mta-connect-timeout", "-1"},
        {"--log-tz", "../etc/passwd"},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(bad); i++) {
        pm_cli_engine_defaults(&cfg, 0, NULL);
        struct pm_optdef d[PM_OPTS_MAX];
        size_t n = pm_cli_opts(&cfg, d, PM_OPTS_MAX);
        const char *a[] = {"t", bad[i][0], bad[i][1], NULL};
        int argc, first;
        char **argv = argv_of(a, &argc);
        cr_assert_eq(pm_opts_parse(d, n, argc, argv, NULL, NULL, &first), PM_OPTS_BAD,
                     "%s %s", bad[i][0], bad[i][1]);
    }
}

static int take_word(void *ctx, const char *w)
{
    const char **words = ctx;
    int i = 0;
    while (words[i]) {
        i++;
    }
    words[i] = w;
    return 0;
}

Test(cliopts, in_order_mode_keeps_operands_where_they_stand)
{
    static struct pm_engine_config cfg;
    pm_cli_engine_defaults(&cfg, 0, NULL);
    struct pm_optdef d[PM_OPTS_MAX];
    size_t n = pm_cli_opts(&cfg, d, PM_OPTS_MAX);
    const char *words[8] = {NULL};
    const char *a[] = {"t", "a.pcap", "-p", "26", "b.pcap", "--", "host", "-q", NULL};
    int argc, first = -1;
    char **argv = argv_of(a, &argc);
    cr_assert_eq(pm_opts_parse_inorder(d, n, argc, argv, NULL, words, take_word, &first),
                 PM_OPTS_OK);
    cr_assert_str_eq(words[0], "a.pcap");
    cr_assert_str_eq(words[1], "b.pcap");
    cr_assert_null(words[2]);
    cr_assert_eq(cfg.ports[0], 26);
    cr_assert_eq(first, 6, "parsing stops after --: the rest is the expression");
    cr_assert_eq(pm_verbosity, 0, "-q after -- is a word, not an option");
}
