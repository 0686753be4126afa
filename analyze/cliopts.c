/*
 * cliopts.c — owns the options every subcommand shares (include/cliopts.h): the defaults
 * of a run, one row per shared option (long name, short letter, argument, help line with
 * its default from include/config.h, and the handler that checks the value and writes it
 * into the engine configuration), the checks across options, and the rule that tells the
 * capture files of `analyze` from the words of a BPF expression. analyze (main.c), capture
 * (capture/live.c) and probe (capture/probe_opts.c) take these rows into their own tables
 * for the parser of analyze/opts.c; nothing here calls main.c or capture/.
 */
#include "cliopts.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtalog.h"
#include "output.h"
#include "util.h"

uint64_t pm_cli_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        seed = (uint64_t)pm_now_monotonic() ^ ((uint64_t)getpid() << 32);
    }
    return seed;
}

void pm_cli_engine_defaults(struct pm_engine_config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ports[0] = PM_DEFAULT_PORT;
    cfg->nports = 1;
    /* No count caps by default: every table grows on demand within one memory budget
     * (--max-memory, 1 GiB), and a table that fills says so (docs/ARCHITECTURE.md). */
    cfg->max_flows = 0;
    cfg->max_sessions = 0;
    cfg->max_dests = 0;
    cfg->max_memory = 0;
    /* Text unless -f says otherwise, wherever the report goes (a terminal, `| less`, -o
     * FILE): a format that changes with what standard output is surprises the reader (issue
     * 16.3). Only the colours depend on the terminal. */
    cfg->format = PM_FMT_TEXT;
    cfg->out = stdout; /* every write checked (main, output.c) */
    cfg->color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    cfg->progress = isatty(STDERR_FILENO);
    cfg->log_offset = PM_NS_NONE;
    cfg->since = cfg->until = PM_NS_NONE;
    cfg->mta_connect_timeout = PM_NS_NONE;
    cfg->logopt.ref_time = PM_NS_NONE;
    cfg->argc = argc;
    cfg->argv = argv;
    cfg->seed = pm_cli_seed();
}

/* ---- the shared options: one handler per row (ctx is the engine configuration); each
 * returns 0, or -1 after saying what is wrong (exit 2) ---- */

static int opt_ports(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    int n = pm_parse_ports(arg, cfg->ports, PM_MAX_PORTS);
    if (n < 0) {
        pm_err("bad --ports '%s': give up to %d ports 1-65535, comma-separated", arg,
               PM_MAX_PORTS);
        return -1;
    }
    cfg->nports = n;
    return 0;
}

/* The words of -f and their formats: a table, so a new format is a row. */
static const struct {
    const char *word;
    enum pm_format fmt;
} formats[] = {
    {"text", PM_FMT_TEXT}, {"jsonl", PM_FMT_JSONL}, {"json", PM_FMT_JSONL},
    {"zeek", PM_FMT_ZEEK}, {"csv", PM_FMT_CSV},
};

static int opt_format(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    for (size_t i = 0; i < PM_ARRAY_LEN(formats); i++) {
        if (!strcmp(arg, formats[i].word)) {
            cfg->format = formats[i].fmt;
            return 0;
        }
    }
    pm_err("bad --format '%s': use text, jsonl, zeek or csv", arg);
    return -1;
}

static int opt_output(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    /* Opened before any privilege drop, as root for capture and probe: no symlink
     * followed, only a regular file, an existing one only if ours (util.h). */
    bool created;
    char why[256];
    struct stat dev;
    int fd;
    if (lstat(arg, &dev) == 0 && S_ISCHR(dev.st_mode)) {
        /* A terminal, /dev/null, /dev/stdout's target, /dev/full: the report goes there
         * as tcpdump's -w - would; nothing is created, truncated or chowned, and a write
         * error is said and exits 3 (issue 19 item 5). Not a symlink (lstat). */
        fd = open(arg, O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
        pm_strlcpy(why, strerror(errno), sizeof(why));
    } else {
        fd = pm_open_output(arg, (uid_t)-1, &created, why, sizeof(why));
    }
    FILE *f = fd >= 0 ? pm_out_open(fd, arg, true) : NULL;
    if (!f) {
        if (fd >= 0) {
            pm_strlcpy(why, strerror(errno), sizeof(why));
            close(fd);
        }
        pm_err("cannot write %s: %s", arg, why);
        return -1;
    }
    pm_out_close(cfg->out, 0); /* standard output, or an earlier -o: nothing written yet */
    cfg->out = f;
    cfg->color = false;
    return 0;
}

static int opt_mta_log(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    if (cfg->nlogs >= PM_MAX_LOGS) {
        pm_err("at most %d --mta-log files", PM_MAX_LOGS);
        return -1;
    }
    cfg->mta_logs[cfg->nlogs++] = arg;
    return 0;
}

static int opt_log_tz(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    if (!pm_log_tz_valid(arg)) {
        pm_err("bad --log-tz '%s': UTC, an offset like +01:00, a tz database name such as "
               "Europe/Berlin, or a POSIX TZ rule; not a file name", arg);
        return -1;
    }
    cfg->logopt.tz = arg;
    return 0;
}

static int opt_log_year(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    long v;
    if (!pm_parse_long(arg, 1970, PM_LOG_YEAR_MAX, &v)) {
        pm_err("bad --log-year '%s'", arg);
        return -1;
    }
    cfg->logopt.year = (int)v;
    return 0;
}

static int opt_log_offset(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    if (!pm_parse_secs(arg, -86400 * 365.0, 86400 * 365.0, &cfg->log_offset)) {
        pm_err("bad --log-offset '%s': seconds, -31536000 to 31536000, e.g. 2.5 or -3600", arg);
        return -1;
    }
    return 0;
}

static int opt_mta_connect_timeout(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    pm_ns t;
    if (!pm_parse_secs(arg, 0, 86400, &t)) {
        pm_err("bad --mta-connect-timeout '%s': seconds, 0 to 86400, e.g. "
               PM_STR(PM_POSTFIX_CONNECT_TIMEOUT_S) " (Postfix's "
               "smtp_connect_timeout) or 300 (Exim's connect_timeout)", arg);
        return -1;
    }
    /* Sendmail's Timeout.connect 0 means "the kernel's": no shorter than its retries. */
    cfg->mta_connect_timeout = t == 0 ? PM_SEC(PM_KERNEL_SYN_GIVEUP_S) : t;
    return 0;
}

static int parse_time(const char *opt, const char *arg, pm_ns *t)
{
    if (!pm_time_parse(arg, t)) {
        pm_err("bad %s '%s': use a real date and time in RFC 3339 (2026-11-28T18:30:00Z) "
               "or @EPOCH", opt, arg);
        return -1;
    }
    return 0;
}

static int opt_since(void *ctx, const char *arg)
{
    return parse_time("--since", arg, &((struct pm_engine_config *)ctx)->since);
}

static int opt_until(void *ctx, const char *arg)
{
    return parse_time("--until", arg, &((struct pm_engine_config *)ctx)->until);
}

static int opt_expect_source(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    if (cfg->nexpect >= PM_MAX_EXPECT || !pm_addr_parse(arg, &cfg->expect_source[cfg->nexpect])) {
        pm_err("bad --expect-source '%s': an IPv4 or IPv6 address", arg);
        return -1;
    }
    cfg->nexpect++;
    return 0;
}

/* A count cap: --max-flows, --max-sessions, --max-dests, with its range in the message. */
static int parse_cap(const char *opt, const char *arg, long min, long max, uint32_t *dst)
{
    long v;
    if (!pm_parse_long(arg, min, max, &v)) {
        pm_err("bad --%s '%s': %ld to %ld", opt, arg, min, max);
        return -1;
    }
    *dst = (uint32_t)v;
    return 0;
}

static int opt_max_flows(void *ctx, const char *arg)
{
    return parse_cap("max-flows", arg, PM_FLOWS_MIN, PM_FLOWS_MAX,
                     &((struct pm_engine_config *)ctx)->max_flows);
}

static int opt_max_sessions(void *ctx, const char *arg)
{
    return parse_cap("max-sessions", arg, 1, PM_SESSIONS_MAX,
                     &((struct pm_engine_config *)ctx)->max_sessions);
}

static int opt_max_dests(void *ctx, const char *arg)
{
    return parse_cap("max-dests", arg, PM_DESTS_MIN, PM_DESTS_MAX,
                     &((struct pm_engine_config *)ctx)->max_dests);
}

static int opt_max_memory(void *ctx, const char *arg)
{
    struct pm_engine_config *cfg = ctx;
    char *end;
    errno = 0;
    unsigned long long m = strtoull(arg, &end, 10);
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end == 'i' && shift) {
        end++; /* "512MiB" */
    }
    if (*end == 'B' && shift) {
        end++;
    }
    if (errno || end == arg || *end != '\0' || arg[0] == '-' || m > (1ull << 40) >> shift ||
        (m << shift) < (1ull << 20)) {
        pm_err("bad --max-memory '%s': a size from 1M to 1T, e.g. 512M or 4G", arg);
        return -1;
    }
    cfg->max_memory = (uint64_t)m << shift;
    return 0;
}

/* --bundle DIR: the directory only; how it is made (a root helper, capture/bundle_helper.c)
 * is the caller's cfg->bundle_store, set by main.c, live.c and probe.c, not by this
 * privilege-free room. */
static int opt_bundle(void *ctx, const char *arg)
{
    ((struct pm_engine_config *)ctx)->bundle_dir = arg;
    return 0;
}

static int opt_sign_key(void *ctx, const char *arg)
{
    ((struct pm_engine_config *)ctx)->sign_key = arg;
    return 0;
}

static int opt_bundle_host_context(void *ctx, const char *arg)
{
    (void)arg;
    ((struct pm_engine_config *)ctx)->bundle_host_context = true;
    return 0;
}

static int opt_redact(void *ctx, const char *arg)
{
    (void)arg;
    ((struct pm_engine_config *)ctx)->bundle_redact = true;
    return 0;
}

static int opt_color(void *ctx, const char *arg)
{
    (void)arg;
    ((struct pm_engine_config *)ctx)->color = true;
    return 0;
}

static int opt_no_color(void *ctx, const char *arg)
{
    (void)arg;
    ((struct pm_engine_config *)ctx)->color = false;
    return 0;
}

static int opt_no_progress(void *ctx, const char *arg)
{
    (void)arg;
    ((struct pm_engine_config *)ctx)->progress = false;
    return 0;
}

static int opt_quiet(void *ctx, const char *arg)
{
    (void)ctx;
    (void)arg;
    pm_verbosity = -1;
    return 0;
}

static int opt_verbose(void *ctx, const char *arg)
{
    (void)ctx;
    (void)arg;
    pm_verbosity++;
    return 0;
}

#define ROW(name_, short_, kind_, fn_, arg_, help_)                                          \
    {.name = name_, .short_name = short_, .kind = kind_, .call = fn_, .arg = arg_,          \
     .help = help_}

/* The shared options, in the order of analyze's --help (the fullest). Each subcommand takes
 * them all (analyze), or by name with its own help line (capture, probe). */
static const struct pm_optdef shared[] = {
    ROW("ports", 'p', PM_OPT_CALL, opt_ports, "LIST",
        "watched ports (default " PM_STR(PM_DEFAULT_PORT) "; e.g. 25,465,587)"),
    ROW("format", 'f', PM_OPT_CALL, opt_format, "FMT",
        "text (the default, wherever the output goes), jsonl\n"
        "(every object of the output contract), zeek (a Zeek\n"
        "conn.log: TSV with #fields/#types headers and\n"
        "portmortem's pm_* columns) or csv (the same columns,\n"
        "a header row, RFC 4180)"),
    ROW("output", 'o', PM_OPT_CALL, opt_output, "FILE",
        "write the report to FILE instead of standard output"),
    ROW("mta-log", 'm', PM_OPT_CALL, opt_mta_log, "FILE",
        "the MTA's log (Postfix, Exim, Sendmail; gzip ok; - for\n"
        "standard input); repeatable"),
    ROW("log-tz", 0, PM_OPT_CALL, opt_log_tz, "ZONE",
        "zone of log times that carry none (default: local zone)"),
    ROW("log-year", 0, PM_OPT_CALL, opt_log_year, "YEAR",
        "year of syslog times (default: inferred from the capture)"),
    ROW("log-offset", 0, PM_OPT_CALL, opt_log_offset, "SECS",
        "log clock minus capture clock (default: estimated)"),
    ROW("since", 0, PM_OPT_CALL, opt_since, "TIME",
        "the capture window starts at TIME (RFC 3339 or @epoch)"),
    ROW("until", 0, PM_OPT_CALL, opt_until, "TIME",
        "... and ends at TIME (for sparse captures)"),
    {.name = "mta-connect-timeout", .kind = PM_OPT_CALL, .call = opt_mta_connect_timeout,
     .arg = "SECS",
     .help = "\nthe MTA's connect timeout (Postfix smtp_connect_timeout,\n"
             "Exim connect_timeout, Sendmail Timeout.connect; default:\n"
             PM_STR(PM_POSTFIX_CONNECT_TIMEOUT_S) " for Postfix, the kernel's "
             PM_STR(PM_KERNEL_SYN_GIVEUP_S) " s for the others)"},
    ROW("expect-source", 0, PM_OPT_CALL, opt_expect_source, "IP",
        "the public address mail must leave from; repeatable"),
    ROW("max-memory", 0, PM_OPT_CALL, opt_max_memory, "SIZE",
        "memory the growing tables may take, e.g. 512M, 4G\n"
        "(default " PM_STR(PM_DEFAULT_MAX_MEMORY_GIB) "G); a full table is reported (exit 4)"),
    ROW("max-flows", 0, PM_OPT_CALL, opt_max_flows, "N",
        "cap on concurrent attempts (default: what --max-memory\n"
        "allows, 1.7 M at 1G)"),
    ROW("max-sessions", 0, PM_OPT_CALL, opt_max_sessions, "N",
        "cap on concurrent SMTP dialogues (default: none)"),
    ROW("max-dests", 0, PM_OPT_CALL, opt_max_dests, "N",
        "cap on destinations summarised (default: none)"),
    ROW("bundle", 0, PM_OPT_CALL, opt_bundle, "DIR",
        "also write an evidence bundle into the new directory DIR"),
    ROW("sign-key", 0, PM_OPT_CALL, opt_sign_key, "KEY",
        "sign the bundle's manifest (PEM Ed25519 private key)"),
    {.name = "bundle-host-context", .kind = PM_OPT_CALL_FLAG, .call = opt_bundle_host_context,
     .help = "\nput host-context.txt (our addresses, routes, firewall\n"
             "rules) in the bundle; by default it is kept beside it,\n"
             "as DIR.host-context.txt, for us only"},
    ROW("redact", 0, PM_OPT_CALL_FLAG, opt_redact, NULL,
        "replace internal addresses and host names in every\n"
        "bundle file, the packets included (README.txt says how)"),
    {.name = "color", .kind = PM_OPT_CALL_FLAG, .call = opt_color,
     .label = "    --color / --no-color", .help = ""},
    ROW("no-color", 0, PM_OPT_CALL_FLAG, opt_no_color, NULL, NULL),
    ROW("no-progress", 0, PM_OPT_CALL_FLAG, opt_no_progress, NULL,
        "no progress line on standard error"),
    ROW("quiet", 'q', PM_OPT_CALL_FLAG, opt_quiet, NULL, "no warnings"),
    ROW("verbose", 'v', PM_OPT_CALL_FLAG, opt_verbose, NULL,
        "more detail on standard error (repeat for debug)"),
    {.name = "help", .short_name = 'h', .kind = PM_OPT_HELP, .help = ""},
};

static struct pm_optdef bound_row(const struct pm_optdef *row, struct pm_engine_config *cfg)
{
    struct pm_optdef d = *row;
    d.ctx = cfg;
    return d;
}

size_t pm_cli_opts(struct pm_engine_config *cfg, struct pm_optdef *d, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < PM_ARRAY_LEN(shared) && n < max; i++) {
        d[n++] = bound_row(&shared[i], cfg);
    }
    return n;
}

struct pm_optdef pm_cli_opt(struct pm_engine_config *cfg, const char *name)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(shared); i++) {
        if (!strcmp(shared[i].name, name)) {
            return bound_row(&shared[i], cfg);
        }
    }
    pm_err("internal: no shared option --%s (analyze/cliopts.c)", name);
    abort();
}

struct pm_optdef pm_cli_opt_as(struct pm_engine_config *cfg, const char *name,
                               const char *label, const char *help)
{
    struct pm_optdef d = pm_cli_opt(cfg, name);
    d.label = label;
    d.help = help;
    return d;
}

int pm_cli_check(const struct pm_engine_config *cfg)
{
    if (cfg->since != PM_NS_NONE && cfg->until != PM_NS_NONE && cfg->since >= cfg->until) {
        char a[40], b[40];
        pm_err("--since %s is not before --until %s: the capture window would be empty",
               pm_time_str(cfg->since, a, sizeof(a)), pm_time_str(cfg->until, b, sizeof(b)));
        return -1;
    }
    return 0;
}

/* ---- files or filter words (analyze, capture): the rule is in cli.h ---- */

int pm_cli_filter_check(const char *expr, char *err, size_t errlen)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 262144);
    struct bpf_program prog;
    if (!dead) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN);
    if (rc == 0) {
        pcap_freecode(&prog);
    } else {
        snprintf(err, errlen, "%s", pcap_geterr(dead));
    }
    pcap_close(dead);
    return rc == 0 ? 0 : -1;
}

/* "-", an existing path, or NAME=FILE whose FILE is one of those (pm_inputset_add's rule
 * for telling a vantage name from a path: no '/' before the '='). */
static bool input_word(const char *w)
{
    struct stat sb;
    if (strcmp(w, "-") == 0 || stat(w, &sb) == 0) {
        return true;
    }
    const char *eq = strchr(w, '=');
    if (eq && eq != w && eq - w < 64 && memchr(w, '/', (size_t)(eq - w)) == NULL) {
        return strcmp(eq + 1, "-") == 0 || stat(eq + 1, &sb) == 0;
    }
    return false;
}

static char *join_words(const char **w, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        len += strlen(w[i]) + 1;
    }
    char *out = pm_xmalloc(len);
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        o += (size_t)snprintf(out + o, len - o, "%s%s", i ? " " : "", w[i]);
    }
    return out;
}

int pm_cli_split_inputs(const char **words, int nwords, int dd, int nrfiles, const char *opt_filter,
                        int *ninputs, char **expr)
{
    *expr = NULL;
    int first = 0; /* the first word of the expression */
    bool guessed = false;
    if (nrfiles > 0) {
        first = 0; /* -r FILE: every word is the expression, as tcpdump -r */
    } else if (opt_filter) {
        /* --filter EXPR: every word is a file; words that read as a second expression are
         * said to be one */
        while (first < nwords && input_word(words[first])) {
            first++;
        }
        char perr[PCAP_ERRBUF_SIZE + 64];
        char *e = first < nwords ? join_words(words + first, nwords - first) : NULL;
        bool second = e && pm_cli_filter_check(e, perr, sizeof(perr)) == 0;
        free(e);
        if (!second) {
            first = nwords;
        }
    } else if (dd >= 0) {
        first = dd; /* FILE... -- EXPR */
    } else {
        while (first < nwords && input_word(words[first])) {
            first++;
        }
        guessed = true;
        if (first == 0 && nwords > 0) {
            /* No file at all: the words are taken as files (they cannot be opened: exit 3
             * with the reason), unless they read as an expression with nothing to filter. */
            char perr[PCAP_ERRBUF_SIZE + 64];
            char *e = join_words(words, nwords);
            bool is_expr = pm_cli_filter_check(e, perr, sizeof(perr)) == 0;
            free(e);
            if (is_expr) {
                pm_err("'%s' is not a capture file, and the words from there on read as a "
                       "filter expression with no capture to apply it to", words[0]);
                pm_hint("give the capture first: portmortem analyze capture.pcap host "
                        "203.0.113.10, or -r FILE, or - for standard input");
                return PM_EXIT_USAGE;
            }
            *ninputs = nwords;
            return 0;
        }
    }
    *ninputs = nrfiles > 0 ? 0 : first;
    if (first < nwords) {
        if (opt_filter) {
            pm_err("two filter expressions: --filter '%s' and the words '%s' after the files",
                   opt_filter, words[first]);
            pm_hint("give the expression once (the words after the files, or --filter)");
            return PM_EXIT_USAGE;
        }
        *expr = join_words(words + first, nwords - first);
    } else if (opt_filter) {
        *expr = pm_xstrdup(opt_filter);
    }
    char perr[PCAP_ERRBUF_SIZE + 64];
    if (*expr && guessed && pm_cli_filter_check(*expr, perr, sizeof(perr)) != 0) {
        /* The first word after the files could be a mistyped file name or a bad filter. */
        struct stat sb;
        int serr = stat(words[first], &sb) == 0 ? 0 : errno;
        pm_err("'%s' is neither a capture file (cannot open %s: %s) nor the start of a valid "
               "filter expression ('%s': %s)", words[first], words[first],
               serr ? strerror(serr) : "not a file", *expr, perr);
        pm_hint("check the file name; or write the filter as in tcpdump (host 203.0.113.10 "
                "and port 25), or separate files from the filter with --");
        free(*expr);
        *expr = NULL;
        return PM_EXIT_USAGE;
    }
    if (*expr && !guessed && pm_cli_filter_check(*expr, perr, sizeof(perr)) != 0) {
        pm_err("bad filter expression '%s': %s", *expr, perr);
        pm_hint("write it as for tcpdump, e.g. host 203.0.113.10 and port 25");
        free(*expr);
        *expr = NULL;
        return PM_EXIT_USAGE;
    }
    return 0;
}
