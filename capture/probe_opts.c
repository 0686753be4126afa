/*
 * probe_opts.c — owns the probe's command line (capture/probe_run.h): its options as rows
 * of a table for analyze/opts.c (each with its kind, range, destination and help line),
 * the handful that need more than a range check (an address per family, a port list, a
 * HELO name), the options every subcommand shares (rows of analyze/cliopts.c, with the
 * probe's own help lines), and --help.
 */
#include <string.h>

#include "cliopts.h"
#include "opts.h"
#include "probe_run.h"
#include "util.h"

static int opt_ipv4(void *ctx, const char *arg)
{
    (void)arg;
    ((struct prober *)ctx)->o.families = 1;
    return 0;
}

static int opt_ipv6(void *ctx, const char *arg)
{
    (void)arg;
    ((struct prober *)ctx)->o.families = 2;
    return 0;
}

static int opt_source(void *ctx, const char *arg)
{
    struct probe_opts *o = &((struct prober *)ctx)->o;
    pm_addr a;
    if (!pm_addr_parse(arg, &a)) {
        pm_err("bad --source '%s': the MTA's bind address, an IPv4 or IPv6 literal", arg);
        return -1;
    }
    int k = fam_idx(a.family);
    if (o->have_source[k]) {
        pm_err("--source given twice for %s: one address per family", k ? "IPv6" : "IPv4");
        return -1;
    }
    o->source[k] = a;
    o->have_source[k] = true;
    return 0;
}

static int opt_compare(void *ctx, const char *arg)
{
    struct probe_opts *o = &((struct prober *)ctx)->o;
    int n = pm_parse_ports(arg, o->compare, PM_PROBE_MAX_COMPARE);
    if (n < 0) {
        pm_err("bad --compare-ports '%s': up to %d ports, e.g. 587,465", arg, PM_PROBE_MAX_COMPARE);
        return -1;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (o->compare[i] != 25) {
            o->compare[k++] = o->compare[i]; /* port 25 is always checked, and last */
        }
    }
    o->ncompare = k;
    return 0;
}

static int opt_helo(void *ctx, const char *arg)
{
    if (!*arg || strlen(arg) > 250 || strpbrk(arg, " \r\n\t")) {
        pm_err("bad --helo '%s': one host name without spaces", arg);
        return -1;
    }
    ((struct prober *)ctx)->o.helo = arg;
    return 0;
}

static int opt_stale(void *ctx, const char *arg)
{
    struct probe_opts *o = &((struct prober *)ctx)->o;
    if (o->nstale >= PM_PROBE_MAX_STALE || !pm_addr_parse(arg, &o->stale[o->nstale])) {
        pm_err("bad --stale '%s': an IPv4 or IPv6 address (at most %d)", arg, PM_PROBE_MAX_STALE);
        return -1;
    }
    o->nstale++;
    return 0;
}

#define NUM(name_, kind_, dst_, min_, max_, unit_, arg_, help_)                              \
    {.name = name_, .kind = kind_, .dst = dst_, .min = min_, .max = max_, .unit = unit_,     \
     .arg = arg_, .help = help_}
#define CALL(name_, short_, kind_, fn_, arg_, help_)                                         \
    {.name = name_, .short_name = short_, .kind = kind_, .call = fn_, .arg = arg_, .help = help_}
/* The probe's command line, in the order of its --help. Ranges: --tries has 3 bits of the
 * keyed ISN (inject.c); --max-ttl stops at PM_WALK_MAX_TTL; --max-addrs at the resolver's
 * table (PM_MAX_TADDRS). */
static size_t probe_optdefs(struct prober *P, struct pm_optdef *d)
{
    struct probe_opts *o = &P->o;
    const struct pm_optdef rows[] = {
        {.name = "resolver", .kind = PM_OPT_STRING, .dst = &o->resolver, .arg = "IP",
         .help = "DNS server to ask (default: /etc/resolv.conf)"},
        {.name = "no-mx", .kind = PM_OPT_FLAG, .dst = &o->no_mx,
         .help = "TARGET is a host: skip the MX lookup"},
        {.short_name = '4', .kind = PM_OPT_CALL_FLAG, .call = opt_ipv4, .label = "-4, -6",
         .help = "IPv4 / IPv6 addresses only"},
        CALL(NULL, '6', PM_OPT_CALL_FLAG, opt_ipv6, NULL, NULL),
        CALL("source", 0, PM_OPT_CALL, opt_source, "IP",
             "the MTA's bind address (smtp_bind_address); once per\n"
             "family (default: what the route to the MX picks)"),
        {.name = "interface", .short_name = 'i', .kind = PM_OPT_STRING, .dst = &o->iface,
         .arg = "IFACE", .help = "capture interface (default: the one --source is on)"},
        CALL("compare-ports", 0, PM_OPT_CALL, opt_compare, "L",
             "also check these ports, e.g. 587,465 (465: implicit TLS):\n"
             "tells a port-25 block from a dead host"),
        CALL("helo", 0, PM_OPT_CALL, opt_helo, "NAME", "EHLO name (default: this host's name)"),
        {.name = "ca", .kind = PM_OPT_STRING, .dst = &o->ca, .arg = "FILE",
         .help = "CA certificates for the STARTTLS check (default: system)"},
        NUM("connect-timeout", PM_OPT_SECONDS, &o->connect_tmo, 0.1, 600, "seconds", "S",
            "connect() timeout (default " PM_STR(PM_PROBE_CONNECT_TIMEOUT_S) ")"),
        NUM("smtp-timeout", PM_OPT_SECONDS, &o->step_tmo, 0.1, 600, "seconds", "S",
            "timeout per SMTP step (default " PM_STR(PM_PROBE_SMTP_TIMEOUT_S) ")"),
        {.name = "inject", .kind = PM_OPT_FLAG, .dst = &o->inject,
         .help = "send test SYNs (see above)"},
        {.name = "ttl-walk", .kind = PM_OPT_FLAG, .dst = &o->walk,
         .help = "trace port 25 hop by hop (see above)"},
        NUM("max-ttl", PM_OPT_INT, &o->max_ttl, 1, PM_WALK_MAX_TTL, NULL, "N",
            "highest TTL of the walk (default " PM_STR(PM_PROBE_MAX_TTL) ", at most "
            PM_STR(PM_WALK_MAX_TTL) ")"),
        NUM("tries", PM_OPT_INT, &o->tries, 1, 8, NULL, "N",
            "probes per TTL and test SYNs per address (default " PM_STR(PM_PROBE_TRIES) ")"),
        NUM("wait", PM_OPT_SECONDS, &o->wait, 0.05, 30, "seconds", "S",
            "wait for each probe's answer (default " PM_STR(PM_PROBE_WAIT_S) ")"),
        NUM("gap-limit", PM_OPT_INT, &o->gap_limit, 1, 16, NULL, "N",
            "silent hops in a row that end the walk (default " PM_STR(PM_PROBE_GAP_LIMIT) ")"),
        NUM("rate", PM_OPT_DOUBLE, &o->rate, 0.01, 100, "test SYNs per second", "PPS",
            "raw SYNs per second (default " PM_STR(PM_PROBE_RATE) ")"),
        NUM("max-probes", PM_OPT_UINT, &o->max_probes, 1, 10000, NULL, "N",
            "raw SYNs for the whole run (default " PM_STR(PM_PROBE_MAX_PROBES) ")"),
        {.name = "allow-loopback", .kind = PM_OPT_FLAG, .dst = &o->allow_loopback,
         .help = "permit loopback/own targets (tests only)"},
        CALL("stale", 0, PM_OPT_CALL, opt_stale, "IP",
             "an address the MTA tried (from its log); repeatable:\n"
             "flagged when the DNS no longer lists it, and connected to"),
        pm_cli_opt_as(&P->cfg, "mta-log", NULL,
                      "the MTA's log: addresses it tried for TARGET's hosts that\n"
                      "the DNS no longer lists are flagged as a stale cache"),
        NUM("max-addrs", PM_OPT_INT, &o->max_addrs, 1, PM_MAX_TADDRS, NULL, "N",
            "addresses probed at most (default " PM_STR(PM_PROBE_MAX_ADDRS) ")"),
        {.short_name = 'w', .kind = PM_OPT_STRING, .dst = &o->wfile, .arg = "FILE",
         .help = "keep the probe's own capture (pcap)"},
        /* -Z as for `capture` and tcpdump */
        {.name = "user", .short_name = 'Z', .kind = PM_OPT_STRING, .dst = &o->user,
         .arg = "USER", .help = "drop privileges to USER (default " PM_PRIV_DEFAULT_USER ")"},
        pm_cli_opt_as(&P->cfg, "format", NULL, "text (the default) or jsonl"),
        pm_cli_opt_as(&P->cfg, "output", NULL, "write the report to FILE"),
        pm_cli_opt(&P->cfg, "bundle"),
        pm_cli_opt(&P->cfg, "sign-key"),
        pm_cli_opt_as(&P->cfg, "bundle-host-context", NULL,
                      "host-context.txt inside the bundle (default: beside\n"
                      "it as DIR.host-context.txt, for us only)"),
        pm_cli_opt_as(&P->cfg, "redact", NULL,
                      "replace internal addresses and host names in the bundle"),
        pm_cli_opt_as(&P->cfg, "log-tz", "    --log-tz ZONE, --log-year YEAR  ",
                      "how to read --mta-log times"),
        pm_cli_opt_as(&P->cfg, "log-year", NULL, NULL),
        pm_cli_opt_as(&P->cfg, "color", NULL, NULL),
        pm_cli_opt_as(&P->cfg, "no-color", NULL, NULL),
        pm_cli_opt_as(&P->cfg, "no-progress", NULL, NULL),
        pm_cli_opt_as(&P->cfg, "quiet", "-q, --quiet / -v, --verbose / -h, --help", ""),
        pm_cli_opt_as(&P->cfg, "verbose", NULL, NULL),
        pm_cli_opt_as(&P->cfg, "help", NULL, NULL),
    };
    memcpy(d, rows, sizeof(rows));
    return PM_ARRAY_LEN(rows);
}

static void usage_probe(struct prober *P, FILE *f)
{
    struct pm_optdef defs[PM_OPTS_MAX];
    size_t n = probe_optdefs(P, defs);
    fprintf(f,
            "usage: portmortem probe [options] TARGET\n"
            "\n"
            "Active checks against the mail servers of TARGET: a domain (its MX records, in\n"
            "preference order, then their A/AAAA; without MX the domain's own address, as an\n"
            "MTA does), a host name (--no-mx) or an address ([192.0.2.1], [IPv6:2001:db8::1]).\n"
            "Every packet the probe causes is captured and explained like `capture` does.\n"
            "\n"
            "What is sent, and only this:\n"
            "  always            DNS queries for TARGET (MX, A, AAAA) to the resolver, and per\n"
            "                    address one TCP connect() to port 25 (and each --compare-ports\n"
            "                    port) from --source, with greeting, EHLO, STARTTLS and QUIT\n"
            "  --inject          also raw TCP SYNs (libnet) to port 25 of the addresses TARGET\n"
            "                    resolved to, TTL 64, from --source and one fixed source port,\n"
            "                    up to --tries per address; our kernel resets any SYN-ACK\n"
            "  --ttl-walk        (implies --inject) raw SYNs with TTL 1, 2, ... --max-ttl to\n"
            "                    port 25, --tries per TTL, until a SYN-ACK, a RST, an ICMP error\n"
            "                    other than time-exceeded, or --gap-limit silent hops in a row\n"
            "  raw SYNs are paced by --rate and stop at --max-probes for the whole run; they go\n"
            "  only to addresses TARGET resolved to (never --stale ones), never to broadcast,\n"
            "  multicast, unspecified, this host's own or loopback addresses.\n"
            "\n"
            "options:\n");
    pm_opts_help(f, defs, n);
    fprintf(f,
            "\n"
            "Needs root for the capture and raw sockets (privileges are dropped right after they\n"
            "are open). Without root only the DNS and SMTP checks run.\n"
            "See man portmortem and docs/PROBE.md.\n");
}

int probe_parse_args(struct prober *P, int argc, char **argv)
{
    struct probe_opts *o = &P->o;
    o->families = 3;
    o->connect_tmo = PM_SEC(PM_PROBE_CONNECT_TIMEOUT_S);
    o->step_tmo = PM_SEC(PM_PROBE_SMTP_TIMEOUT_S);
    o->max_ttl = PM_PROBE_MAX_TTL;
    o->tries = PM_PROBE_TRIES;
    o->wait = PM_SEC(PM_PROBE_WAIT_S);
    o->gap_limit = PM_PROBE_GAP_LIMIT;
    o->rate = PM_PROBE_RATE;
    o->max_probes = PM_PROBE_MAX_PROBES;
    o->max_addrs = PM_PROBE_MAX_ADDRS;
    struct pm_optdef defs[PM_OPTS_MAX];
    size_t n = probe_optdefs(P, defs);
    int first = argc;
    switch (pm_opts_parse(defs, n, argc, argv, NULL, P, &first)) {
    case PM_OPTS_OK:
        break;
    case PM_OPTS_HELP:
        usage_probe(P, stdout);
        return -1;
    case PM_OPTS_UNKNOWN:
        usage_probe(P, stderr);
        return PM_EXIT_USAGE;
    default:
        return PM_EXIT_USAGE;
    }
    o->inject |= o->walk; /* the walk's SYNs are raw SYNs */
    if (P->cfg.format == PM_FMT_ZEEK || P->cfg.format == PM_FMT_CSV) {
        /* A probe's own checks (MX lookup, TTL walk, STARTTLS) are no rows of a conn.log. */
        pm_err("probe writes text or jsonl, not %s: its checks are not connection rows",
               P->cfg.format == PM_FMT_ZEEK ? "zeek" : "csv");
        pm_hint("portmortem probe TARGET -w probe.pcap, then portmortem analyze -f %s "
                "probe.pcap", P->cfg.format == PM_FMT_ZEEK ? "zeek" : "csv");
        return PM_EXIT_USAGE;
    }
    if (first != argc - 1) {
        pm_err(first >= argc ? "probe needs a TARGET" : "probe takes one TARGET");
        pm_hint("portmortem probe example.net --compare-ports 587 --ttl-walk");
        return PM_EXIT_USAGE;
    }
    o->target = argv[first];
    for (int k = 0; k < 2; k++) {
        if (o->have_source[k] && !(o->families & (1 << k))) {
            pm_warn("--source %s is ignored: -%c limits the probe to the other family",
                    k ? "(IPv6)" : "(IPv4)", k ? '4' : '6');
        }
    }
    return 0;
}

