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
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "bundle_helper.h"
#include "capin.h"
#include "capture.h"
#include "probe.h"
#include "cliopts.h"
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

/* What analyze takes beside the shared options: the files and the filter (analyze_rows). */
struct analyze_args {
    struct pm_engine_config *cfg;
    const char **words; /* the operands, in order: files, then filter words */
    int nwords;
    const char **rfiles; /* -r FILE */
    int nrfiles;
    const char *opt_filter;
};

static int opt_read(void *ctx, const char *arg)
{
    struct analyze_args *a = ctx;
    a->rfiles[a->nrfiles++] = arg;
    return 0;
}

static int add_word(void *ctx, const char *w)
{
    struct analyze_args *a = ctx;
    a->words[a->nwords++] = w;
    return 0;
}

/* analyze's command line: its own two rows, then every shared one (analyze/cliopts.c). */
static size_t analyze_rows(struct analyze_args *a, struct pm_optdef *d)
{
    const struct pm_optdef own[] = {
        {.name = "read", .short_name = 'r', .kind = PM_OPT_CALL, .call = opt_read,
         .arg = "FILE", .help = "a capture to read (repeatable; - for standard input)"},
        {.name = "filter", .kind = PM_OPT_STRING, .dst = &a->opt_filter, .arg = "EXPR",
         .help = "the BPF expression (then every word is a file)"},
    };
    memcpy(d, own, sizeof(own));
    return PM_ARRAY_LEN(own) + pm_cli_opts(a->cfg, d + PM_ARRAY_LEN(own),
                                           PM_OPTS_MAX - PM_ARRAY_LEN(own));
}

static void usage_analyze(struct analyze_args *a, FILE *f)
{
    struct pm_optdef defs[PM_OPTS_MAX];
    size_t n = analyze_rows(a, defs);
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
            "options:\n");
    pm_opts_help(f, defs, n);
    fprintf(f, "\nthe manual: man portmortem\n");
}

static int cmd_analyze(int argc, char **argv, int full_argc, char **full_argv)
{
    struct pm_engine_config cfg;
    pm_cli_engine_defaults(&cfg, full_argc, full_argv);
    cfg.subcommand = "analyze";
    cfg.bundle_store = pm_bundle_helper_start; /* capture/: the privileged part of --bundle */
    /* In order: a word that is not an option is taken where it stands, so that the files,
     * the filter words and a `--` between them keep their order. */
    const char **words = pm_xcalloc((size_t)argc + 1, sizeof(*words));
    const char **rfiles = pm_xcalloc((size_t)argc + 1, sizeof(*rfiles));
    struct analyze_args a = {.cfg = &cfg, .words = words, .rfiles = rfiles};
    struct pm_optdef defs[PM_OPTS_MAX];
    size_t n = analyze_rows(&a, defs);
    int first = argc, dd = -1;
    int prc = pm_opts_parse_inorder(defs, n, argc, argv, NULL, &a, add_word, &first);
    if (prc != PM_OPTS_OK) {
        if (prc == PM_OPTS_HELP || prc == PM_OPTS_UNKNOWN) {
            usage_analyze(&a, prc == PM_OPTS_HELP ? stdout : stderr);
        }
        free(words);
        free(rfiles);
        return prc == PM_OPTS_HELP ? PM_EXIT_OK : PM_EXIT_USAGE;
    }
    int nwords = a.nwords, nrfiles = a.nrfiles;
    const char *opt_filter = a.opt_filter;
    if (first < argc || (first > 1 && strcmp(argv[first - 1], "--") == 0)) {
        dd = nwords; /* parsing stopped at `--`: the words after it are the expression */
        while (first < argc) {
            words[nwords++] = argv[first++];
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
    const char **inputs = nrfiles ? rfiles : words;
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
