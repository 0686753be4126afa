/*
 * main.c — the command line: parse and validate arguments, then dispatch to one
 * subcommand. No packet logic lives here. Exit codes are the output contract's.
 *
 *   portmortem analyze [options] FILE|NAME=FILE|- ... [EXPRESSION]  (or -r FILE ... EXPR)
 *   portmortem capture -i IFACE [-i IFACE ...] [options]       (capture/)
 *   portmortem watch -i IFACE --state-dir DIR [options]        (capture/watch.c)
 *   portmortem probe TARGET [options]                          (capture/)
 *   portmortem verify DIR [--verify-key KEY]                   (analyze/bundle)
 */
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <getopt.h>
#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include "bundle.h"
#include "bundle_helper.h"
#include "capin.h"
#include "capture.h"
#include "probe.h"
#include "cli.h"
#include "engine.h"
#include "output.h"
#include "util.h"

static void usage_main(FILE *f)
{
    fprintf(f,
            "usage: portmortem COMMAND [options]\n"
            "\n"
            "Why can't this server open SMTP connections, and who has to fix it?\n"
            "\n"
            "commands:\n"
            "  analyze FILE...     read pcap/pcapng captures (files, -, pipes; gzip/xz/zstd; a\n"
            "                      BPF expression may follow) and explain every SMTP connection\n"
            "                      attempt (with --mta-log: also attempts that never left)\n"
            "  capture -i IFACE    the same, live, as root (drops privileges after start-up)\n"
            "  watch -i IFACE      always on: a capture ring, syslog records, Prometheus metrics\n"
            "  probe TARGET        active checks: MX lookup, SMTP/STARTTLS, test SYNs, TTL walk\n"
            "  verify DIR          check an evidence bundle's manifest and signature\n"
            "\n"
            "  portmortem COMMAND --help    options of a command\n"
            "  portmortem -V, --version\n"
            "\n"
            "exit status: 0 nothing failed, 1 failures found, 2 usage error,\n"
            "             3 input unreadable or not a capture,\n"
            "             4 partial results (damaged input, or a bounded table was full)\n"
            "the manual: man portmortem (in the source tree: man -l docs/portmortem.1)\n");
}

static void usage_analyze(FILE *f)
{
    fprintf(f,
            "usage: portmortem analyze [options] FILE|NAME=FILE ... [EXPRESSION]\n"
            "       portmortem analyze [options] -r FILE [-r FILE ...] [EXPRESSION]\n"
            "\n"
            "Read pcap/pcapng captures (several are merged by time; NAME=FILE names a vantage\n"
            "point, e.g. inside=lan.pcap outside=wan.pcap) and report, per TCP connection\n"
            "attempt to an SMTP port, what happened on the wire and why.\n"
            "\n"
            "A FILE may be - (standard input), a pipe, a FIFO or <(...), and gzip, xz or zstd\n"
            "compressed (told by its content). One stream without --mta-log is reported as\n"
            "it goes: ssh mx tcpdump -U -w - 'tcp port 25 or icmp' | portmortem analyze -\n"
            "A BPF EXPRESSION (as for tcpdump) narrows what is analysed: with -r every word\n"
            "after the options is the expression; otherwise the leading words that are\n"
            "existing files (or -) are the inputs and the rest is the expression; -- ends\n"
            "the files.\n"
            "\n"
            "options:\n"
            "  -r, --read FILE         a capture to read (repeatable; - for standard input)\n"
            "      --filter EXPR       the BPF expression (then every word is a file)\n"
            "  -p, --ports LIST        watched ports (default " PM_STR(PM_DEFAULT_PORT)
            "; e.g. 25,465,587)\n"
            "  -f, --format FMT        text (the default, wherever the output goes), jsonl\n"
            "                          (every object of the output contract), zeek (a Zeek\n"
            "                          conn.log: TSV with #fields/#types headers and\n"
            "                          portmortem's pm_* columns) or csv (the same columns,\n"
            "                          a header row, RFC 4180)\n"
            "  -o, --output FILE       write the report to FILE instead of standard output\n"
            "  -m, --mta-log FILE      the MTA's log (Postfix, Exim, Sendmail; gzip ok; - for\n"
            "                          standard input); repeatable\n"
            "      --log-tz ZONE       zone of log times that carry none (default: local zone)\n"
            "      --log-year YEAR     year of syslog times (default: inferred from the capture)\n"
            "      --log-offset SECS   log clock minus capture clock (default: estimated)\n"
            "      --since TIME        the capture window starts at TIME (RFC 3339 or @epoch)\n"
            "      --until TIME        ... and ends at TIME (for sparse captures)\n"
            "      --mta-connect-timeout SECS\n"
            "                          the MTA's connect timeout (Postfix smtp_connect_timeout,\n"
            "                          Exim connect_timeout, Sendmail Timeout.connect; default:\n"
            "                          " PM_STR(PM_POSTFIX_CONNECT_TIMEOUT_S)
            " for Postfix, the kernel's " PM_STR(PM_KERNEL_SYN_GIVEUP_S) " s for the others)\n"
            "      --expect-source IP  the public address mail must leave from; repeatable\n"
            "      --max-memory SIZE   memory the growing tables may take, e.g. 512M, 4G\n"
            "                          (default " PM_STR(PM_DEFAULT_MAX_MEMORY_GIB)
            "G); a full table is reported (exit 4)\n"
            "      --max-flows N       cap on concurrent attempts (default: what --max-memory\n"
            "                          allows, 1.7 M at 1G)\n"
            "      --max-sessions N    cap on concurrent SMTP dialogues (default: none)\n"
            "      --max-dests N       cap on destinations summarised (default: none)\n"
            "      --bundle DIR        also write an evidence bundle into the new directory DIR\n"
            "      --sign-key KEY      sign the bundle's manifest (PEM Ed25519 private key)\n"
            "      --bundle-host-context\n"
            "                          put host-context.txt (our addresses, routes, firewall\n"
            "                          rules) in the bundle; by default it is kept beside it,\n"
            "                          as DIR.host-context.txt, for us only\n"
            "      --redact            replace internal addresses and host names in every\n"
            "                          bundle file, the packets included (README.txt says how)\n"
            "      --color / --no-color\n"
            "      --no-progress       no progress line on standard error\n"
            "  -q, --quiet             no warnings\n"
            "  -v, --verbose           more detail on standard error (repeat for debug)\n"
            "  -h, --help\n"
            "\n"
            "the manual: man portmortem\n");
}

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

/* Options shared by analyze, capture and probe. Returns 1 if handled, 0 if not ours,
 * -1 on a bad value (message printed). */
int pm_cli_common_option(struct pm_engine_config *cfg, int opt, const char *arg)
{
    long v;
    switch (opt) {
    case 'p': {
        int n = pm_parse_ports(arg, cfg->ports, PM_MAX_PORTS);
        if (n < 0) {
            pm_err("bad --ports '%s': give up to %d ports 1-65535, comma-separated", arg,
                   PM_MAX_PORTS);
            return -1;
        }
        cfg->nports = n;
        return 1;
    }
    case 'f':
        if (!strcmp(arg, "text")) {
            cfg->format = PM_FMT_TEXT;
        } else if (!strcmp(arg, "jsonl") || !strcmp(arg, "json")) {
            cfg->format = PM_FMT_JSONL;
        } else if (!strcmp(arg, "zeek")) {
            cfg->format = PM_FMT_ZEEK;
        } else if (!strcmp(arg, "csv")) {
            cfg->format = PM_FMT_CSV;
        } else {
            pm_err("bad --format '%s': use text, jsonl, zeek or csv", arg);
            return -1;
        }
        return 1;
    case 'o': {
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
        return 1;
    }
    case 'm':
        if (cfg->nlogs >= PM_MAX_LOGS) {
            pm_err("at most %d --mta-log files", PM_MAX_LOGS);
            return -1;
        }
        cfg->mta_logs[cfg->nlogs++] = arg;
        return 1;
    case PM_OPT_LOG_TZ:
        if (!pm_log_tz_valid(arg)) {
            pm_err("bad --log-tz '%s': UTC, an offset like +01:00, a tz database name such as "
                   "Europe/Berlin, or a POSIX TZ rule; not a file name", arg);
            return -1;
        }
        cfg->logopt.tz = arg;
        return 1;
    case PM_OPT_LOG_YEAR:
        if (!pm_parse_long(arg, 1970, PM_LOG_YEAR_MAX, &v)) {
            pm_err("bad --log-year '%s'", arg);
            return -1;
        }
        cfg->logopt.year = (int)v;
        return 1;
    case PM_OPT_LOG_OFFSET:
        if (!pm_parse_secs(arg, -86400 * 365.0, 86400 * 365.0, &cfg->log_offset)) {
            pm_err("bad --log-offset '%s': seconds, -31536000 to 31536000, e.g. 2.5 or -3600",
                   arg);
            return -1;
        }
        return 1;
    case PM_OPT_MTA_CONNECT_TIMEOUT: {
        pm_ns t;
        if (!pm_parse_secs(arg, 0, 86400, &t)) {
            pm_err("bad --mta-connect-timeout '%s': seconds, 0 to 86400, e.g. "
                   PM_STR(PM_POSTFIX_CONNECT_TIMEOUT_S) " (Postfix's "
                   "smtp_connect_timeout) or 300 (Exim's connect_timeout)", arg);
            return -1;
        }
        /* Sendmail's Timeout.connect 0 means "the kernel's": no shorter than its retries. */
        cfg->mta_connect_timeout = t == 0 ? PM_SEC(PM_KERNEL_SYN_GIVEUP_S) : t;
        return 1;
    }
    case PM_OPT_SINCE:
    case PM_OPT_UNTIL: {
        pm_ns t;
        if (!pm_time_parse(arg, &t)) {
            pm_err("bad %s '%s': use a real date and time in RFC 3339 (2026-11-28T18:30:00Z) "
                   "or @EPOCH", opt == PM_OPT_SINCE ? "--since" : "--until", arg);
            return -1;
        }
        if (opt == PM_OPT_SINCE) {
            cfg->since = t;
        } else {
            cfg->until = t;
        }
        return 1;
    }
    case PM_OPT_EXPECT_SOURCE:
        if (cfg->nexpect >= PM_MAX_EXPECT || !pm_addr_parse(arg, &cfg->expect_source[cfg->nexpect])) {
            pm_err("bad --expect-source '%s': an IPv4 or IPv6 address", arg);
            return -1;
        }
        cfg->nexpect++;
        return 1;
    case PM_OPT_MAX_FLOWS:
        if (!pm_parse_long(arg, PM_FLOWS_MIN, PM_FLOWS_MAX, &v)) {
            pm_err("bad --max-flows '%s': " PM_STR(PM_FLOWS_MIN) " to " PM_STR(PM_FLOWS_MAX), arg);
            return -1;
        }
        cfg->max_flows = (uint32_t)v;
        return 1;
    case PM_OPT_MAX_SESSIONS:
        if (!pm_parse_long(arg, 1, PM_SESSIONS_MAX, &v)) {
            pm_err("bad --max-sessions '%s': 1 to " PM_STR(PM_SESSIONS_MAX), arg);
            return -1;
        }
        cfg->max_sessions = (uint32_t)v;
        return 1;
    case PM_OPT_MAX_DESTS:
        if (!pm_parse_long(arg, PM_DESTS_MIN, PM_DESTS_MAX, &v)) {
            pm_err("bad --max-dests '%s': " PM_STR(PM_DESTS_MIN) " to " PM_STR(PM_DESTS_MAX), arg);
            return -1;
        }
        cfg->max_dests = (uint32_t)v;
        return 1;
    case PM_OPT_MAX_MEMORY: {
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
        return 1;
    }
    case PM_OPT_BUNDLE:
        cfg->bundle_dir = arg;
        cfg->bundle_store = pm_bundle_helper_start; /* capture/: the privileged part */
        return 1;
    case PM_OPT_BUNDLE_HOST_CONTEXT:
        cfg->bundle_host_context = true;
        return 1;
    case PM_OPT_REDACT:
        cfg->bundle_redact = true;
        return 1;
    case PM_OPT_SIGN_KEY:
        cfg->sign_key = arg;
        return 1;
    case PM_OPT_COLOR:
        cfg->color = true;
        return 1;
    case PM_OPT_NO_COLOR:
        cfg->color = false;
        return 1;
    case PM_OPT_NO_PROGRESS:
        cfg->progress = false;
        return 1;
    case 'q':
        pm_verbosity = -1;
        return 1;
    case 'v':
        pm_verbosity++;
        return 1;
    default:
        return 0;
    }
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

static char *join_words(char **w, int n)
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

int pm_cli_split_inputs(char **words, int nwords, int dd, int nrfiles, const char *opt_filter,
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

static int cmd_analyze(int argc, char **argv, int full_argc, char **full_argv)
{
    struct pm_engine_config cfg;
    pm_cli_engine_defaults(&cfg, full_argc, full_argv);
    cfg.subcommand = "analyze";
    static const struct option longopts[] = {COMMON_LONGOPTS,
                                             {"read", required_argument, NULL, 'r'},
                                             {"filter", required_argument, NULL, PM_OPT_FILTER},
                                             {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    /* In order ('-' first): a word that is not an option comes back as opt 1, so that the
     * files, the filter words and a `--` between them keep their order. */
    char **words = pm_xcalloc((size_t)argc + 1, sizeof(*words));
    char **rfiles = pm_xcalloc((size_t)argc + 1, sizeof(*rfiles));
    int nwords = 0, nrfiles = 0, dd = -1;
    const char *opt_filter = NULL;
    while ((opt = getopt_long(argc, argv, "-p:f:o:m:r:qvh", longopts, NULL)) != -1) {
        if (opt == 1) {
            words[nwords++] = optarg;
            continue;
        }
        if (opt == 'r') {
            rfiles[nrfiles++] = optarg;
            continue;
        }
        if (opt == PM_OPT_FILTER) {
            opt_filter = optarg;
            continue;
        }
        if (opt == 'h') {
            free(words);
            free(rfiles);
            usage_analyze(stdout);
            return PM_EXIT_OK;
        }
        int rc = pm_cli_common_option(&cfg, opt, optarg);
        if (rc <= 0) {
            free(words);
            free(rfiles);
            if (rc == 0) {
                usage_analyze(stderr);
            }
            return PM_EXIT_USAGE;
        }
    }
    if (optind < argc || (optind > 1 && strcmp(argv[optind - 1], "--") == 0)) {
        dd = nwords; /* getopt stopped at `--`: the words after it are the expression */
        while (optind < argc) {
            words[nwords++] = argv[optind++];
        }
    }
    if (pm_cli_check(&cfg) != 0) {
        free(words);
        free(rfiles);
        return PM_EXIT_USAGE;
    }
    int ninputs = 0;
    char *expr = NULL;
    int src = pm_cli_split_inputs(words, nwords, dd, nrfiles, opt_filter, &ninputs, &expr);
    char **inputs = nrfiles ? rfiles : words;
    ninputs = nrfiles ? nrfiles : ninputs;
    if (src == 0 && ninputs == 0) {
        pm_err("analyze needs at least one capture file");
        pm_hint("portmortem analyze capture.pcap --mta-log /var/log/mail.log (or -r FILE; "
                "- reads standard input)");
        src = PM_EXIT_USAGE;
    }
    int nstdin = 0;
    for (int i = 0; src == 0 && i < ninputs; i++) {
        const char *eq = strchr(inputs[i], '=');
        const char *path = eq && memchr(inputs[i], '/', (size_t)(eq - inputs[i])) == NULL &&
                                   eq != inputs[i] ? eq + 1 : inputs[i];
        for (int l = 0; strcmp(path, "-") == 0 && l < cfg.nlogs; l++) {
            if (strcmp(cfg.mta_logs[l], "-") == 0) {
                nstdin++; /* --mta-log - reads standard input too */
            }
        }
        if (strcmp(path, "-") == 0 && (++nstdin > 1 || isatty(STDIN_FILENO))) {
            pm_err(nstdin > 1 ? "standard input (-) is given twice (a capture and another "
                   "capture or --mta-log -)" :
                   "standard input (-) is a terminal, not a capture");
            pm_hint("pipe a capture into it: tcpdump -U -w - 'tcp port 25 or icmp or icmp6' "
                    "| portmortem analyze -");
            src = PM_EXIT_USAGE;
        }
    }
    if (src != 0) {
        free(words);
        free(rfiles);
        free(expr);
        return src;
    }
    char filter[1024];
    pm_engine_filter(cfg.ports, cfg.nports, filter, sizeof(filter));
    static struct pm_inputset in;
    in.user_filter = expr;
    for (int i = 0; i < ninputs; i++) {
        int rc = pm_inputset_add(&in, inputs[i], filter);
        if (rc != 0) {
            pm_inputset_close(&in);
            free(words);
            free(rfiles);
            free(expr);
            return rc;
        }
    }
    int rc = pm_engine_analyze(&cfg, &in);
    pm_inputset_close(&in);
    free(words);
    free(rfiles);
    free(expr);
    /* A report cut by a write error is not a result: say so, exit 3 (output.h). */
    return pm_out_close(cfg.out, rc);
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage_main(stderr);
        return PM_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage_main(stdout);
        return PM_EXIT_OK;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("portmortem %s (%s build)\n", PM_VERSION, PM_BUILD_VARIANT);
        return PM_EXIT_OK;
    }
    if (!strcmp(cmd, "analyze")) {
        return cmd_analyze(argc - 1, argv + 1, argc, argv);
    }
    if (!strcmp(cmd, "capture")) {
        return pm_cmd_capture(argc - 1, argv + 1, argc, argv);
    }
    if (!strcmp(cmd, "watch")) {
        return pm_cmd_watch(argc - 1, argv + 1, argc, argv);
    }
    if (!strcmp(cmd, "probe")) {
        return pm_cmd_probe(argc - 1, argv + 1, argc, argv);
    }
    if (!strcmp(cmd, "verify")) {
        return pm_cmd_verify(argc - 1, argv + 1);
    }
    pm_err("unknown command '%s'", cmd);
    pm_hint("portmortem --help lists the commands");
    return PM_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    /* A reader that goes away (| head) is an EPIPE on a write, handled where the report is
     * written (output.c), not a signal that kills the run before its bundle is written. */
    signal(SIGPIPE, SIG_IGN);
    /* Every write to standard output is checked: the report, help texts, verify's lines. */
    stdout = pm_out_stdout();
    return pm_out_close_stdout(dispatch(argc, argv));
}
