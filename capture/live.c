/*
 * live.c — owns `portmortem capture` (include/capture.h): the command line, the start-up
 * sequence that opens everything privileged and then drops root, and the capture loop
 * that feeds the engine (analyze/engine.c) in live mode.
 *
 * Start-up, in this order (docs/CAPTURE.md "Privilege timeline"):
 *   1. parse and vet options (an unknown -Z user is a usage error before anything opens);
 *   2. as root: host context (addresses, routes, firewall rules), the followed MTA logs,
 *      the capture handles with their kernel filter, the -w files (or a temporary file
 *      when --bundle is given without -w), the bundle directory (pm_engine_new);
 *   3. pm_priv_drop(): -Z user (default nobody), keeping the logs' groups; exit 3 if the
 *      drop does not verify;
 *   4. the loop, unprivileged: poll() over every handle's descriptor with a timeout so that
 *      pm_engine_tick() runs about every 200 ms; packets from several interfaces are merged
 *      by timestamp (one look-ahead packet per handle); the MTA logs are read on every
 *      round and checked for rotation once a second;
 *   5. the end (--duration, --count, SIGINT/SIGTERM/SIGHUP, or every handle failing):
 *      drain what the kernel already holds, pcap_stats per handle, close the -w files,
 *      then pm_engine_finish() writes the last verdicts, the summary and the bundle.
 * Signals only set a flag (async-signal-safe); everything else happens in the loop.
 *
 * The side handles (one per interface, docs/CAPTURE.md "Hop references from other traffic"):
 * the kernel filter passes only what the attempts need, but a forged RST is judged by the
 * MX's distance, which any other packet of the MX or its network gives. A second handle per
 * interface, opened with the first (as root), passes nothing at first; about once a second
 * its filter is set (no privilege needed on a socket already open) to the /24s and /48s of
 * the destinations of the latest SYNs, minus what the main filter passes. Its packets join
 * the merge and the -w file (so `analyze` of that file sees the same references), but at
 * most PM_SIDE_BUDGET per interface per tick: a busy web server beside the MX cannot slow the
 * attempts down; what the budget leaves waits in its small ring, or is dropped there.
 */
#include "capture.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture_int.h"
#include "bundle_helper.h"
#include "cliopts.h"
#include "context.h"
#include "engine.h"
#include "output.h"
#include "priv.h"
#include "util.h"

#define TICK_INTERVAL PM_MS(200)
#define NAME_CHECK_INTERVAL PM_SEC(1)
#define FINAL_DRAIN_LIMIT PM_SEC(2)
#define SIDE_UPDATE PM_SEC(1)    /* at most one new side filter per second */

struct capture_opts {
    const char *ifaces[PM_CAP_MAX_IFACES];
    int nifaces;
    const char *wpath;
    uint64_t max_bytes; /* -C, bytes */
    int nfiles;         /* -W */
    struct pm_cap_opts h;
    const char *user;
    bool user_given;
    double duration;    /* seconds, 0: none */
    uint64_t count;     /* packets, 0: none */
    bool log_from_start;
    char *expr;         /* the user's BPF expression (--filter or the words), or NULL */
    const char *opt_filter; /* --filter EXPR */
    struct pm_watch *watch; /* `portmortem watch` (capture/watch.c), or NULL */
};

struct run {
    struct pm_engine_config *cfg;
    struct capture_opts *o;
    struct pm_engine *e;
    struct pm_capif cap[PM_CAP_MAX_IFACES];
    struct pm_dump *dump[PM_CAP_MAX_IFACES];
    int ncap;
    struct pm_follow *follow[PM_MAX_LOGS];
    int nfollow;
    struct pm_hostctx *hc;
    uint64_t packets;
    bool handle_failed;
    pm_ns margin;       /* ticks stay this far behind the clock: packets still in a block */
    /* side handles: other traffic from the destinations' networks (hop references) */
    struct pm_capif side[PM_CAP_MAX_IFACES];
    int side_left[PM_CAP_MAX_IFACES]; /* budget left in this tick */
    pm_addr side_pfx[PM_SIDE_PREFIXES];
    int nside_pfx;
    pm_ns next_side_update;
    char main_filter[1024]; /* the tool's own filter (the side handle subtracts it) */
    char cap_filter[2048];  /* what the capture handles get: it, AND the user's expression */
    uint64_t side_packets, side_filters;
    bool drop_said[PM_CAP_MAX_IFACES]; /* the first capture loss of each handle was said */
};

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_signals; /* how many stop signals arrived */
static volatile sig_atomic_t g_hup;     /* watch: SIGHUP, reopen the followed logs */

static void on_hup(int sig)
{
    (void)sig;
    g_hup = 1;
}

static void on_signal(int sig)
{
    g_stop = sig;
    if (g_signals < 100) {
        g_signals++;
    }
}

/* ---- options: capture's own rows, then the shared ones (analyze/cliopts.c) ---- */

static int opt_iface(void *ctx, const char *arg)
{
    struct capture_opts *o = ctx;
    if (o->nifaces >= PM_CAP_MAX_IFACES) {
        pm_err("at most %d -i interfaces", PM_CAP_MAX_IFACES);
        return -1;
    }
    if (strlen(arg) == 0 || strlen(arg) >= 32) {
        pm_err("bad interface name '%s'", arg);
        return -1;
    }
    for (int i = 0; i < o->nifaces; i++) {
        if (!strcmp(o->ifaces[i], arg)) {
            pm_err("interface %s given twice", arg);
            return -1;
        }
    }
    o->ifaces[o->nifaces++] = arg;
    return 0;
}

static int opt_write(void *ctx, const char *arg)
{
    if (!strcmp(arg, "-")) {
        pm_err("-w - is not supported: standard output carries the report");
        pm_hint("give a file name; `portmortem analyze FILE` reads it again later");
        return -1;
    }
    ((struct capture_opts *)ctx)->wpath = arg;
    return 0;
}

static int opt_file_size(void *ctx, const char *arg)
{
    long v;
    if (!pm_parse_long(arg, 1, 1000000, &v)) {
        pm_err("bad -C '%s': megabytes (1,000,000 bytes), 1 to 1000000", arg);
        return -1;
    }
    ((struct capture_opts *)ctx)->max_bytes = (uint64_t)v * 1000000u;
    return 0;
}

static int opt_file_count(void *ctx, const char *arg)
{
    long v;
    if (!pm_parse_long(arg, 1, 1000, &v)) {
        pm_err("bad -W '%s': a number of files, 1 to 1000", arg);
        return -1;
    }
    ((struct capture_opts *)ctx)->nfiles = (int)v;
    return 0;
}

static int opt_snaplen(void *ctx, const char *arg)
{
    long v;
    if (!pm_parse_long(arg, 96, 262144, &v)) {
        pm_err("bad --snaplen '%s': 96 to 262144 bytes", arg);
        pm_hint("below 96 the TCP options of a SYN and the quote of an ICMP error are cut");
        return -1;
    }
    ((struct capture_opts *)ctx)->h.snaplen = (int)v;
    return 0;
}

static int opt_buffer(void *ctx, const char *arg)
{
    long v;
    if (!pm_parse_long(arg, 256, 4L * 1024 * 1024, &v)) {
        pm_err("bad -B '%s': KiB, 256 to 4194304", arg);
        return -1;
    }
    ((struct capture_opts *)ctx)->h.buffer_kib = (int)v;
    return 0;
}

static int opt_count(void *ctx, const char *arg)
{
    long v;
    if (!pm_parse_long(arg, 1, 0x7fffffffL, &v)) {
        pm_err("bad --count '%s': a number of packets", arg);
        return -1;
    }
    ((struct capture_opts *)ctx)->count = (uint64_t)v;
    return 0;
}

static int opt_user(void *ctx, const char *arg)
{
    struct capture_opts *o = ctx;
    o->user = arg;
    o->user_given = true;
    return 0;
}

static int opt_duration(void *ctx, const char *arg)
{
    /* 1 ms at least: 0 (or below) would mean "stop at once" and is a typo, not a wish. */
    if (!pm_parse_double(arg, 0.001, 86400.0 * 366, &((struct capture_opts *)ctx)->duration)) {
        pm_err("bad --duration '%s': seconds, 0.001 to 31622400, e.g. 60 or 0.5", arg);
        return -1;
    }
    return 0;
}

static int opt_no_immediate(void *ctx, const char *arg)
{
    (void)arg;
    ((struct capture_opts *)ctx)->h.immediate = false;
    return 0;
}

#define CALL(name_, short_, kind_, fn_, arg_, help_)                                         \
    {.name = name_, .short_name = short_, .kind = kind_, .call = fn_, .arg = arg_, .help = help_}

/* capture's command line, in the order of its --help: *nown of the rows are its own (the
 * "capture:" section), the rest are shared with analyze, with capture's help lines. */
static size_t capture_rows(struct capture_opts *o, struct pm_engine_config *cfg,
                           struct pm_optdef *d, size_t *nown)
{
    /* `watch` keeps its ring itself: no -w, and -C/-W size the ring (capture/watch.c parses
     * them, through watch_option). Their help is pm_watch_usage's. */
    const struct pm_optdef ring_rows[] = {
        {.name = "state-dir", .kind = PM_OPT_PASS, .code = PM_WOPT_STATE_DIR},
        {.name = "ring-size", .short_name = 'C', .kind = PM_OPT_PASS, .code = 'C'},
        {.name = "ring-files", .short_name = 'W', .kind = PM_OPT_PASS, .code = 'W'},
        {.name = "syslog", .kind = PM_OPT_PASS_FLAG, .code = PM_WOPT_SYSLOG},
        {.name = "syslog-socket", .kind = PM_OPT_PASS, .code = PM_WOPT_SYSLOG_SOCKET},
        {.name = "syslog-rate", .kind = PM_OPT_PASS, .code = PM_WOPT_SYSLOG_RATE},
        {.name = "metrics-file", .kind = PM_OPT_PASS, .code = PM_WOPT_METRICS_FILE},
        {.name = "metrics-listen", .kind = PM_OPT_PASS, .code = PM_WOPT_METRICS_LISTEN},
        {.name = "bundle-dir", .kind = PM_OPT_PASS, .code = PM_WOPT_BUNDLE_DIR},
        {.name = "bundle-max", .kind = PM_OPT_PASS, .code = PM_WOPT_BUNDLE_MAX},
        {.name = "bundle-min-interval", .kind = PM_OPT_PASS, .code = PM_WOPT_BUNDLE_INTERVAL},
    };
    const struct pm_optdef file_rows[] = {
        CALL("write", 'w', PM_OPT_CALL, opt_write, "FILE",
             "also write the packets (pcap); one file per interface\n"
             "when several (FILE.IFACE.pcap)"),
        CALL("file-size", 'C', PM_OPT_CALL, opt_file_size, "MB",
             "rotate -w files at MB megabytes (1,000,000 bytes) ..."),
        CALL("file-count", 'W', PM_OPT_CALL, opt_file_count, "N",
             "... over a ring of N files (FILE.0.pcap ...; needs -C)"),
    };
    const struct pm_optdef own[] = {
        CALL("interface", 'i', PM_OPT_CALL, opt_iface, "IFACE",
             "interface to capture on (repeatable; `any` for all)"),
        CALL("snaplen", 's', PM_OPT_CALL, opt_snaplen, "BYTES",
             "bytes kept per packet (default " PM_STR(PM_CAP_DEFAULT_SNAPLEN) ")"),
        CALL("buffer-size", 'B', PM_OPT_CALL, opt_buffer, "KIB",
             "kernel capture buffer per interface (default "
             PM_STR(PM_CAP_DEFAULT_BUFFER_KIB) " KiB)"),
        {.name = "immediate", .kind = PM_OPT_FLAG, .dst = &o->h.immediate},
        CALL("no-immediate", 0, PM_OPT_CALL_FLAG, opt_no_immediate, NULL,
             "batch packets (TPACKET_V3 blocks, up to " PM_STR(PM_CAP_BLOCK_TIMEOUT_MS)
             " ms late)"),
        {.name = "promisc", .kind = PM_OPT_FLAG, .dst = &o->h.promisc,
         .help = "promiscuous mode (default off: this host's traffic)"},
        CALL("duration", 0, PM_OPT_CALL, opt_duration, "SECS", "stop after SECS seconds"),
        CALL("count", 'c', PM_OPT_CALL, opt_count, "N",
             "stop after N captured packets (as tcpdump -c)"),
        CALL("user", 'Z', PM_OPT_CALL, opt_user, "USER",
             "drop root to USER after start-up (default " PM_PRIV_DEFAULT_USER ")"),
        {.name = "mta-log-from-start", .kind = PM_OPT_FLAG, .dst = &o->log_from_start,
         .help = "read the whole --mta-log first (default: new lines)"},
        {.name = "filter", .kind = PM_OPT_STRING, .dst = &o->opt_filter, .arg = "EXPR",
         .help = "a BPF expression ANDed with the kernel filter (or give\n"
                 "it as the words after the options, as for tcpdump)"},
    };
    const struct pm_optdef shared[] = {
        pm_cli_opt(cfg, "ports"),
        pm_cli_opt_as(cfg, "format", NULL,
                      "text (the default), jsonl, zeek (conn.log TSV) or csv;\n"
                      "each attempt is written as it ends"),
        pm_cli_opt(cfg, "output"),
        pm_cli_opt_as(cfg, "mta-log", NULL, "follow the MTA's log (like tail -F; - for stdin)"),
        pm_cli_opt_as(cfg, "log-tz", "    --log-tz ZONE, --log-year YEAR, --log-offset SECS, "
                      "--mta-connect-timeout SECS", ""),
        pm_cli_opt_as(cfg, "log-year", NULL, NULL),
        pm_cli_opt_as(cfg, "log-offset", NULL, NULL),
        pm_cli_opt_as(cfg, "mta-connect-timeout", NULL, NULL),
        pm_cli_opt_as(cfg, "since", NULL, NULL),
        pm_cli_opt_as(cfg, "until", NULL, NULL),
        pm_cli_opt(cfg, "expect-source"),
        pm_cli_opt_as(cfg, "max-memory", "    --max-memory SIZE, --max-flows N, --max-sessions N, "
                      "--max-dests N", ""),
        pm_cli_opt_as(cfg, "max-flows", NULL, NULL),
        pm_cli_opt_as(cfg, "max-sessions", NULL, NULL),
        pm_cli_opt_as(cfg, "max-dests", NULL, NULL),
        pm_cli_opt_as(cfg, "bundle", NULL, "write an evidence bundle into the new directory DIR"),
        pm_cli_opt(cfg, "sign-key"),
        pm_cli_opt_as(cfg, "bundle-host-context", NULL,
                      "\nhost-context.txt inside the bundle (default: beside\n"
                      "it as DIR.host-context.txt, for us only)"),
        pm_cli_opt_as(cfg, "redact", NULL,
                      "replace internal addresses and host names in the bundle"),
        pm_cli_opt(cfg, "color"),
        pm_cli_opt(cfg, "no-color"),
        pm_cli_opt_as(cfg, "no-progress", NULL, NULL),
        pm_cli_opt(cfg, "quiet"),
        pm_cli_opt_as(cfg, "verbose", NULL, "more detail on standard error"),
        pm_cli_opt(cfg, "help"),
    };
    size_t n = 0;
    if (o->watch) {
        memcpy(d + n, ring_rows, sizeof(ring_rows));
        n += PM_ARRAY_LEN(ring_rows);
    } else {
        memcpy(d + n, file_rows, sizeof(file_rows));
        n += PM_ARRAY_LEN(file_rows);
    }
    memcpy(d + n, own, sizeof(own));
    n += PM_ARRAY_LEN(own);
    *nown = n;
    memcpy(d + n, shared, sizeof(shared));
    return n + PM_ARRAY_LEN(shared);
}

/* watch's rows (PM_OPT_PASS): 1 handled, -1 a bad value (message printed). */
static int watch_option(void *ctx, int code, const char *arg)
{
    return pm_watch_option(((struct capture_opts *)ctx)->watch, code, arg);
}

static void usage_capture(struct capture_opts *o, struct pm_engine_config *cfg, FILE *f)
{
    struct pm_optdef defs[PM_OPTS_MAX];
    size_t nown;
    size_t n = capture_rows(o, cfg, defs, &nown);
    if (o->watch) {
        /* watch's own section (pm_watch_usage), then every capture option it takes. */
        pm_watch_usage(f);
        fprintf(f, "\ncapture:\n");
        pm_opts_help(f, defs, nown);
        fprintf(f, "\nanalysis and output (as for analyze):\n");
        pm_opts_help(f, defs + nown, n - nown);
        return;
    }
    fprintf(f,
            "usage: portmortem capture -i IFACE [-i IFACE ...] [options] [EXPRESSION]\n"
            "\n"
            "Capture live (as root) and report each TCP connection attempt to an SMTP port as\n"
            "it ends: outcome, verdict, who must act, evidence. Several -i are several vantage\n"
            "points, merged by time. Root is dropped right after start-up (-Z).\n"
            "\n"
            "capture:\n");
    pm_opts_help(f, defs, nown);
    fprintf(f, "\nanalysis and output (as for analyze):\n");
    pm_opts_help(f, defs + nown, n - nown);
    fprintf(f,
            "\n"
            "A BPF expression after the options (or --filter EXPR), as for tcpdump, narrows what\n"
            "is captured: it is ANDed with portmortem's own filter (e.g. host 203.0.113.10).\n"
            "\n"
            "Stops at --duration, --count, or Ctrl-C / SIGTERM: the last verdicts, the summary\n"
            "and the bundle are written before exiting (exit status as for analyze).\n"
            "See man portmortem and docs/CAPTURE.md.\n");
}

/* ---- log lines ---- */

static void on_log_entry(void *ctx, const char *path, const struct pm_logentry *le)
{
    struct run *r = ctx;
    if (le->addr.family) {
        struct pm_route rt;
        pm_hostctx_route(r->hc, &le->addr, "the MTA log", &rt);
    }
    pm_engine_log_entry(r->e, path, le);
}

/* ---- packets ---- */

/* A SYN to a watched port names a destination: ask the kernel how it routes there. An
 * on-link destination is 0 routers away: a hop reference for telling its own RST/ICMP
 * from a forged one (the weakest reference; the capture's own SYN-ACKs outrank it).
 * Called by feed() with the packet it decoded, before the engine takes that same decoded
 * packet: each packet is decoded once. */
static void learn_route(void *ctx, int i, const pm_addr *dst)
{
    struct run *r = ctx;
    if (i < 0 || i >= r->ncap || r->cap[i].loopback) {
        return;
    }
    struct pm_route rt;
    if (pm_hostctx_route(r->hc, dst, r->cap[i].name, &rt) && rt.kind == PM_RT_ONLINK) {
        struct pm_engine_hopref h = {.vantage = i, .host = *dst, .hops = 0,
                                     .src = PM_HOP_ROUTE};
        pm_engine_hopref(r->e, &h);
    }
}

static pm_ns hdr_ts(const struct pm_capif *c)
{
    return PM_SEC(c->hdr->ts.tv_sec) +
           (c->nano ? (pm_ns)c->hdr->ts.tv_usec : (pm_ns)c->hdr->ts.tv_usec * 1000);
}

static void feed(struct run *r, int i)
{
    struct pm_capif *c = &r->cap[i];
    c->has_next = false;
    c->frame++;
    r->packets++;
    /* To disk first: the evidence exists even if the analysis of this packet is cut
     * short by a signal. */
    pm_dump_packet(r->dump[i], c->hdr, c->data);
    struct pm_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.ts = hdr_ts(c);
    rec.caplen = c->hdr->caplen;
    rec.wirelen = c->hdr->len < c->hdr->caplen ? c->hdr->caplen : c->hdr->len;
    rec.linktype = c->linktype;
    rec.data = c->data;
    rec.frame = c->frame;
    rec.file = (uint16_t)i;
    rec.vantage = (uint16_t)i;
    rec.ifloop = c->loopback;
    struct pm_pkt pkt;
    pm_engine_decode(&rec, &pkt); /* the one decode of this packet */
    if (pkt.proto == 6 && pkt.tcp_flags_ok && (pkt.flags & PM_TH_SYN) &&
        !(pkt.flags & (PM_TH_ACK | PM_TH_RST)) && !pkt.on_loopback &&
        pm_engine_port_watched(r->e, pkt.dport)) {
        learn_route(r, pkt.vantage, &pkt.dst); /* before the packet is used */
    }
    pm_engine_pkt(r->e, &pkt, rec.file);
}

/* A side packet of interface i: into the -w file (numbered with the interface's main
 * packets, so its evidence references hold in that file), then a hop reference only. */
static void feed_side(struct run *r, int i)
{
    struct pm_capif *s = &r->side[i];
    struct pm_capif *c = &r->cap[i];
    s->has_next = false;
    r->side_left[i]--;
    c->frame++;
    r->side_packets++;
    pm_dump_packet(r->dump[i], s->hdr, s->data);
    struct pm_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.ts = hdr_ts(s);
    rec.caplen = s->hdr->caplen;
    rec.wirelen = s->hdr->len < s->hdr->caplen ? s->hdr->caplen : s->hdr->len;
    rec.linktype = s->linktype;
    rec.data = s->data;
    rec.frame = c->frame;
    rec.file = (uint16_t)i;
    rec.vantage = (uint16_t)i;
    rec.ifloop = c->loopback;
    pm_engine_side_packet(r->e, &rec);
}

/* The side handle's look-ahead, within its budget. A failure only ends the side path. */
static bool fetch_side(struct run *r, int i)
{
    struct pm_capif *s = &r->side[i];
    if (!s->p || s->dead || r->side_left[i] <= 0) {
        return false;
    }
    int rc = pcap_next_ex(s->p, &s->hdr, &s->data);
    if (rc == 1) {
        s->has_next = true;
        return true;
    }
    if (rc < 0) {
        s->dead = true;
    }
    return false;
}

/* Set the side filters to the prefixes of the latest destinations, when they changed. The
 * main filter is subtracted: those packets already reach the engine. Untagged frames only. */
static void side_update(struct run *r)
{
    pm_addr pfx[PM_SIDE_PREFIXES];
    int n = pm_engine_recent_prefixes(r->e, pfx, PM_SIDE_PREFIXES);
    if (n == 0 || (n == r->nside_pfx && !memcmp(pfx, r->side_pfx, sizeof(pfx[0]) * (size_t)n))) {
        return;
    }
    char expr[4096];
    size_t o = (size_t)snprintf(expr, sizeof(expr), "(");
    for (int k = 0; k < n && o < sizeof(expr); k++) {
        char a[PM_ADDR_STRLEN];
        pm_addr_str(&pfx[k], a);
        o += (size_t)snprintf(expr + o, sizeof(expr) - o, "%ssrc net %s/%d", k ? " or " : "", a,
                              pfx[k].family == PM_AF_INET ? 24 : 48);
    }
    if (o < sizeof(expr)) {
        o += (size_t)snprintf(expr + o, sizeof(expr) - o, ") and not (%s)", r->main_filter);
    }
    if (o >= sizeof(expr)) {
        return; /* cannot happen with PM_SIDE_PREFIXES; keep the old filter */
    }
    memcpy(r->side_pfx, pfx, sizeof(pfx[0]) * (size_t)n);
    r->nside_pfx = n;
    for (int i = 0; i < r->ncap; i++) {
        struct pm_capif *s = &r->side[i];
        struct bpf_program prog;
        if (!s->p || s->dead || pcap_compile(s->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            continue;
        }
        if (pcap_setfilter(s->p, &prog) != 0) {
            pm_debug("side filter on %s: %s", s->name, pcap_geterr(s->p));
        } else {
            r->side_filters++;
        }
        pcap_freecode(&prog);
    }
}

/* Take the next packet of handle i into its look-ahead. Returns false when it has none
 * now (or failed). */
static bool fetch(struct run *r, int i)
{
    struct pm_capif *c = &r->cap[i];
    int rc = pcap_next_ex(c->p, &c->hdr, &c->data);
    if (rc == 1) {
        c->has_next = true;
        return true;
    }
    if (rc == 0) {
        return false;
    }
    c->dead = true;
    if (rc != PCAP_ERROR_BREAK) {
        r->handle_failed = true;
        pm_err("capture on %s stopped: %s", c->name, pcap_geterr(c->p));
        pm_hint("the interface went down or away; the verdicts cover what was captured "
                "until now (exit status 4)");
    }
    return false;
}

/* Feed what the handles hold, oldest first across interfaces and side handles (a side
 * handle is index ncap + i in this merge). A stop signal ends the round at once (a flood
 * keeps the handles full: a round must not outlast a SIGINT); after the stop, `deadline`
 * bounds the final drain and a second signal ends it. */
static void drain(struct run *r, uint64_t budget, pm_ns deadline)
{
    bool empty[2 * PM_CAP_MAX_IFACES] = {false};
    for (uint64_t n = 0; n < budget; n++) {
        if (r->o->count && r->packets >= r->o->count) {
            return;
        }
        if (deadline == PM_NS_NONE ? g_stop != 0
                                   : g_signals > 1 ||
                                         ((n & 255) == 0 && pm_now_monotonic() >= deadline)) {
            return;
        }
        int best = -1;
        pm_ns best_ts = 0;
        for (int i = 0; i < r->ncap; i++) {
            struct pm_capif *c = &r->cap[i];
            if (c->dead) {
                continue;
            }
            if (!c->has_next && !empty[i] && !fetch(r, i)) {
                empty[i] = true;
            }
            if (c->has_next && (best < 0 || hdr_ts(c) < best_ts)) {
                best = i;
                best_ts = hdr_ts(c);
            }
        }
        for (int i = 0; i < r->ncap; i++) {
            struct pm_capif *s = &r->side[i];
            if (!s->has_next && !empty[r->ncap + i] && !fetch_side(r, i)) {
                empty[r->ncap + i] = true;
            }
            if (s->has_next && (best < 0 || hdr_ts(s) < best_ts)) {
                best = r->ncap + i;
                best_ts = hdr_ts(s);
            }
        }
        if (best < 0) {
            return;
        }
        if (best >= r->ncap) {
            feed_side(r, best - r->ncap);
        } else {
            feed(r, best);
        }
    }
}

static bool all_dead(const struct run *r)
{
    for (int i = 0; i < r->ncap; i++) {
        if (!r->cap[i].dead) {
            return false;
        }
    }
    return true;
}

/* ---- capture loss ---- */

/* Packets the kernel (ring full) or the interface dropped never reach the analysis: said
 * on standard error as soon as the counters move (checked once a second), in the summary,
 * and the run exits 4 (issue 15: no silent degradation). */
static void check_drops(struct run *r)
{
    for (int i = 0; i < r->ncap; i++) {
        struct pcap_stat ps;
        if (r->drop_said[i] || !r->cap[i].p || r->cap[i].dead || pcap_stats(r->cap[i].p, &ps)) {
            continue;
        }
        if (ps.ps_drop || ps.ps_ifdrop) {
            r->drop_said[i] = true;
            pm_warn("%s is losing packets: %u dropped by the kernel (capture buffer full), %u "
                    "by the interface, of %u received so far: the results will be partial "
                    "(exit 4)", r->cap[i].name, ps.ps_drop, ps.ps_ifdrop, ps.ps_recv);
            pm_hint("give the kernel a bigger buffer (-B %d), or a narrower --ports",
                    PM_MIN(r->o->h.buffer_kib * 4, 4 * 1024 * 1024));
        }
    }
}

/* ---- the loop ---- */

static const char *stop_reason(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
    }
}

static void loop(struct run *r)
{
    pm_ns t_end = r->o->duration > 0 ? pm_now_monotonic() + (pm_ns)(r->o->duration * 1e9)
                                     : PM_NS_NONE;
    pm_ns next_tick = pm_now_monotonic();
    pm_ns next_name_check = next_tick + NAME_CHECK_INTERVAL;
    pm_ns next_drop_check = next_tick + NAME_CHECK_INTERVAL;
    struct pollfd pfd[PM_CAP_MAX_IFACES + 1 + PM_WATCH_HTTP_CLIENTS];
    const char *why = NULL;
    for (;;) {
        if (g_stop) {
            why = stop_reason(g_stop);
            break;
        }
        pm_ns mono = pm_now_monotonic();
        if (t_end != PM_NS_NONE && mono >= t_end) {
            why = "--duration";
            break;
        }
        if (r->o->count && r->packets >= r->o->count) {
            why = "--count";
            break;
        }
        if (all_dead(r)) {
            why = "every capture failed";
            break;
        }
        int oerr = pm_out_error(r->cfg->out);
        if (oerr) {
            /* The reason is said once, at the end (pm_out_close); EPIPE is no error. */
            why = oerr == EPIPE ? "the reader of the report went away"
                                : "the report cannot be written";
            break;
        }
        int n = 0;
        for (int i = 0; i < r->ncap; i++) {
            pfd[n].fd = r->cap[i].dead ? -1 : r->cap[i].fd; /* poll ignores fd -1 */
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            n++;
        }
        if (r->o->watch) {
            n += pm_watch_pollfds(r->o->watch, pfd + n, (int)(sizeof(pfd) / sizeof(pfd[0])) - n);
        }
        pm_ns wait = next_tick - mono;
        if (t_end != PM_NS_NONE && t_end - mono < wait) {
            wait = t_end - mono;
        }
        int ms = wait <= 0 ? 0 : (int)((wait + PM_NS_PER_MS - 1) / PM_NS_PER_MS);
        if (poll(pfd, (nfds_t)n, ms) < 0 && errno != EINTR) {
            pm_err("poll failed: %s", strerror(errno));
            why = "poll failed";
            break;
        }
        drain(r, PM_LIVE_DRAIN_BUDGET, PM_NS_NONE);
        mono = pm_now_monotonic();
        if (r->o->watch) {
            pm_watch_serve(r->o->watch, mono);
        }
        if (g_hup) {
            /* watch: logrotate's postrotate says the log moved; look now, not in a second */
            g_hup = 0;
            next_name_check = mono;
            next_tick = mono;
        }
        if (mono >= next_tick) {
            bool name_check = mono >= next_name_check;
            for (int i = 0; i < r->nfollow; i++) {
                pm_follow_poll(r->follow[i], name_check);
            }
            if (name_check) {
                next_name_check = mono + NAME_CHECK_INTERVAL;
            }
            if (mono >= next_drop_check) {
                check_drops(r);
                next_drop_check = mono + NAME_CHECK_INTERVAL;
            }
            for (int i = 0; i < r->ncap; i++) {
                pm_dump_flush(r->dump[i]);
            }
            pm_engine_tick(r->e, pm_now_realtime() - r->margin);
            next_tick = mono + TICK_INTERVAL;
            for (int i = 0; i < r->ncap; i++) {
                r->side_left[i] = PM_SIDE_BUDGET;
            }
            if (mono >= r->next_side_update) {
                side_update(r);
                r->next_side_update = mono + SIDE_UPDATE;
            }
            if (r->o->watch) {
                pm_watch_tick(r->o->watch, r->cap, r->ncap, mono);
            }
        }
    }
    /* What the kernel already captured belongs to the run: take it (bounded). */
    pm_ns limit = pm_now_monotonic() + FINAL_DRAIN_LIMIT;
    uint64_t before;
    do {
        before = r->packets;
        drain(r, PM_LIVE_DRAIN_BUDGET, limit);
    } while (r->packets != before && pm_now_monotonic() < limit && g_signals < 2);
    for (int i = 0; i < r->nfollow; i++) {
        pm_follow_poll(r->follow[i], true);
    }
    pm_engine_tick(r->e, pm_now_realtime());
    if (pm_verbosity >= 0 && why) {
        pm_say("stopping (%s) after %llu packets", why, (unsigned long long)r->packets);
    }
}

/* ---- start-up and the end ---- */

static void print_listening(const struct run *r, const struct pm_priv_result *pr)
{
    if (pm_verbosity < 0) {
        return;
    }
    for (int i = 0; i < r->ncap; i++) {
        const struct pm_capif *c = &r->cap[i];
        const char *dl = pcap_datalink_val_to_name(c->dlt);
        pm_say("listening on %s (%s, snaplen %d, buffer %d KiB, %s)%s", c->name, dl ? dl : "?",
               r->o->h.snaplen, r->o->h.buffer_kib,
               r->o->h.immediate ? "immediate" : "TPACKET_V3 blocks",
               c->loopback ? ", loopback" : "");
    }
    if (pm_verbosity >= 1) {
        pm_say("filter: %s", r->cap[0].filter);
    }
    for (int i = 0; i < r->nfollow; i++) {
        pm_say("following %s", pm_follow_path(r->follow[i]));
    }
    pm_say("%s", pr->text);
    fflush(stderr);
}

static void cleanup(struct run *r, bool unlink_temp)
{
    for (int i = 0; i < r->ncap; i++) {
        pm_dump_close(r->dump[i], unlink_temp);
        r->dump[i] = NULL;
        pm_capif_close(&r->cap[i]);
        pm_capif_close(&r->side[i]);
    }
    for (int i = 0; i < r->nfollow; i++) {
        pm_follow_close(r->follow[i]);
    }
    r->nfollow = 0;
    pm_hostctx_free(r->hc);
    r->hc = NULL;
}

static void finish_stats(struct run *r, const struct pm_priv_result *pr)
{
    struct pm_live_stats st;
    memset(&st, 0, sizeof(st));
    for (int i = 0; i < r->ncap && i < PM_CAP_MAX_IFACES; i++) {
        struct pm_live_ifstats *li = &st.ifs[st.nifs++];
        pm_strlcpy(li->name, r->cap[i].name, sizeof(li->name));
        li->captured = r->cap[i].frame;
        struct pcap_stat ps;
        if (!r->cap[i].p || pcap_stats(r->cap[i].p, &ps) != 0) {
            pm_warn("no kernel statistics for %s: %s", r->cap[i].name,
                    r->cap[i].p ? pcap_geterr(r->cap[i].p) : "closed");
            continue;
        }
        li->stats = true;
        li->received = ps.ps_recv;
        li->dropped = ps.ps_drop;
        li->if_dropped = ps.ps_ifdrop;
        st.received += ps.ps_recv;
        st.dropped += ps.ps_drop;
        st.if_dropped += ps.ps_ifdrop;
        if (pm_verbosity >= 0) {
            pm_say("%s: %u packets captured, %u received by filter, %u dropped by kernel, %u "
                   "dropped by interface", r->cap[i].name, r->cap[i].frame, ps.ps_recv,
                   ps.ps_drop, ps.ps_ifdrop);
        }
        if (ps.ps_drop || ps.ps_ifdrop) {
            pm_warn("%s lost packets (%u dropped by the kernel, %u by the interface): the "
                    "results are partial (exit 4); the verdicts that rest on silence "
                    "(no-response, not-on-wire) are less certain", r->cap[i].name, ps.ps_drop,
                    ps.ps_ifdrop);
            pm_hint("give the kernel a bigger buffer (-B %d), or a narrower --ports",
                    PM_MIN(r->o->h.buffer_kib * 4, 4 * 1024 * 1024));
        }
    }
    pm_strlcpy(st.privileges, pr->text, sizeof(st.privileges));
    pm_engine_live_stats(r->e, &st);
}

static void note_follow_stats(struct run *r)
{
    for (int i = 0; i < r->nfollow; i++) {
        const struct pm_follow_stats *fs = pm_follow_stats(r->follow[i]);
        char line[512];
        snprintf(line, sizeof(line),
                 "followed %s: %llu lines, %llu of interest, %llu unparseable, %llu overlong, "
                 "%llu reopened after rotation, %llu truncations",
                 pm_follow_path(r->follow[i]), (unsigned long long)fs->lines,
                 (unsigned long long)fs->of_interest, (unsigned long long)fs->unparseable,
                 (unsigned long long)fs->overlong, (unsigned long long)fs->reopened,
                 (unsigned long long)fs->truncated);
        pm_hostctx_note(r->hc, line);
        pm_info("%s", line);
    }
}

static int setup_and_run(struct run *r, struct capture_opts *o, struct pm_engine_config *cfg)
{
    bool root = geteuid() == 0;
    uid_t owner = (uid_t)-1;
    gid_t group = (gid_t)-1;
    if (root) {
        struct passwd *pw = getpwnam(o->user);
        if (pw) {
            owner = pw->pw_uid;
            group = pw->pw_gid;
        }
    } else {
        pm_warn("not running as root (uid %u): opening the interfaces needs CAP_NET_RAW, and "
                "there is no root to drop", (unsigned)geteuid());
        if (o->user_given) {
            pm_warn("-Z %s ignored: only root can change to another user", o->user);
        }
    }

    /* 2a. Host context, while we may still read the firewall. */
    r->hc = pm_hostctx_new(cfg->ports, cfg->nports);
    pm_hostctx_collect(r->hc, PM_HOSTCTX_CMD_TIMEOUT_MS);

    /* 2a'. watch: the state directory (the ring goes in it), syslog, the metrics port. */
    if (o->watch) {
        int rc = pm_watch_setup(o->watch, owner, group, cfg->ports, cfg->nports);
        if (rc != 0) {
            return rc;
        }
    }

    /* 2b. MTA logs: opened now, their groups kept across the drop for rotation. */
    gid_t keep[PM_MAX_LOGS];
    int nkeep = 0;
    for (int i = 0; i < cfg->nlogs; i++) {
        r->follow[i] = pm_follow_open(cfg->mta_logs[i], o->log_from_start, &cfg->logopt,
                                      on_log_entry, r);
        if (!r->follow[i]) {
            return PM_EXIT_UNREADABLE;
        }
        r->nfollow++;
        gid_t g;
        if (pm_priv_group_for_file(cfg->mta_logs[i], &g)) {
            keep[nkeep++] = g;
        }
    }

    /* 2c. Capture handles with the kernel filter. The capture window starts when the
     * first one is activated. */
    pm_ns t_start = pm_now_realtime();
    char *filter = r->main_filter;
    pm_engine_filter(cfg->ports, cfg->nports, filter, sizeof(r->main_filter));
    if (o->expr) {
        /* The user's expression narrows the capture handles only; the side handle keeps
         * subtracting the tool's own filter, as before (docs/CAPTURE.md). */
        if ((size_t)snprintf(r->cap_filter, sizeof(r->cap_filter), "(%s) and (%s)", filter,
                             o->expr) >= sizeof(r->cap_filter)) {
            pm_err("the filter expression is too long (%zu bytes)", strlen(o->expr));
            return PM_EXIT_USAGE;
        }
        filter = r->cap_filter;
    }
    for (int i = 0; i < o->nifaces; i++) {
        int rc = pm_capif_open(&r->cap[i], o->ifaces[i], &o->h, filter);
        if (rc != 0) {
            return rc;
        }
        r->ncap++;
    }
    /* The side handles (see the top of the file): small, header-only, passing nothing until
     * the first destinations are known. Without one the verdicts only lack references. */
    struct pm_cap_opts so = {.snaplen = PM_SIDE_SNAPLEN, .buffer_kib = PM_SIDE_BUFFER_KIB,
                             .immediate = o->h.immediate, .promisc = false};
    /* "Nothing" must be an expression libpcap's optimiser cannot prove empty ("ip and not
     * ip" is refused: "expression rejects all packets"): an IPv4 header's first byte holds
     * version 4 and a length of at least 5 words, never 0. */
    for (int i = 0; i < r->ncap; i++) {
        int rc = pm_capif_open(&r->side[i], o->ifaces[i], &so, "ip and ip[0] = 0");
        if (rc != 0) {
            pm_warn("continuing without the side capture on %s: hop references come from the "
                    "watched traffic only", o->ifaces[i]);
            memset(&r->side[i], 0, sizeof(r->side[i]));
        }
        r->side_left[i] = PM_SIDE_BUDGET;
    }

    /* 2d. -w files, or a temporary one per interface for the bundle's pcap slice. */
    if (o->wpath || cfg->bundle_dir) {
        struct pm_dump_opts d = {.path = o->wpath, .max_bytes = o->max_bytes,
                                 .nfiles = o->wpath ? o->nfiles : 0,
                                 .temporary = o->wpath == NULL, .owner = owner,
                                 .group = group};
        for (int i = 0; i < r->ncap; i++) {
            r->dump[i] = pm_dump_open(r->cap[i].p, r->cap[i].name, r->ncap, &d);
            if (!r->dump[i]) {
                /* -w names something unusable (or TMPDIR is): the caller's to fix, as for
                 * -o and probe -w. */
                return PM_EXIT_USAGE;
            }
        }
    }

    /* 2e. The engine: opens the bundle directory (root may be needed to create it). */
    struct pm_engine_source src = {
        .live = true,
        .nvantage = r->ncap,
        .vantage_names = o->ifaces,
        .nfiles = r->ncap,
        .file_labels = o->ifaces,
        .in = NULL,
        .ifaces = o->ifaces,
        .nifaces = r->ncap,
    };
    r->e = pm_engine_new(cfg, &src);
    if (!r->e) {
        return PM_EXIT_USAGE;
    }
    if (o->watch && !pm_watch_attach(o->watch, r->e, cfg)) {
        pm_engine_abort(r->e);
        r->e = NULL;
        return PM_EXIT_USAGE;
    }

    /* 3. Drop root. */
    struct pm_priv_result pr;
    int rc = pm_priv_drop(o->user, keep, nkeep, &pr);
    if (rc != 0) {
        /* Refuse to parse a single packet: no finish, no report (it would be empty); a
         * bundle directory already created is removed. */
        pm_engine_abort(r->e);
        r->e = NULL;
        return rc;
    }
    for (int i = 0; i < r->nfollow && pr.dropped; i++) {
        const char *p = pm_follow_path(r->follow[i]);
        if (strcmp(p, "-") && access(p, R_OK) != 0) {
            pm_warn("%s will not be readable by %s after a rotation (%s): following stops there",
                    p, pr.user, strerror(errno));
            pm_hint("make the log group-readable (Debian: root:adm 0640) or pick -Z USER "
                    "that can read it");
        }
    }

    /* 4. Signals only set a flag; a second one kills at once (SA_RESETHAND). The -w files
     * are flushed every round, so even then they hold what was captured. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o->watch) {
        /* a service's SIGHUP means "reopen the logs" (logrotate), never "stop" */
        struct sigaction sh;
        memset(&sh, 0, sizeof(sh));
        sh.sa_handler = on_hup;
        sigemptyset(&sh.sa_mask);
        sigaction(SIGHUP, &sh, NULL);
    } else {
        sigaction(SIGHUP, &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN); /* a closed report pipe is an EPIPE (output.h) */

    r->margin = o->h.immediate ? PM_MS(20) : PM_MS(PM_CAP_BLOCK_TIMEOUT_MS + 50);
    /* The window began at activation: the handles have been capturing since then, and
     * their first packets are taken in the first round. */
    pm_engine_tick(r->e, t_start);
    print_listening(r, &pr);
    loop(r);

    /* 5. The end. */
    finish_stats(r, &pr);
    const char *paths[PM_MAX_INPUTS];
    int fds[PM_MAX_INPUTS];
    int npaths = 0;
    for (int i = 0; i < r->ncap; i++) {
        pm_dump_end(r->dump[i]);
        npaths += pm_dump_paths(r->dump[i], paths + npaths, fds + npaths,
                                PM_MAX_INPUTS - npaths);
    }
    if (npaths) {
        pm_engine_capture_files(r->e, paths, fds, npaths);
    }
    note_follow_stats(r);
    pm_engine_host_context(r->e, pm_hostctx_text(r->hc));
    rc = pm_engine_finish(r->e); /* the attempts still open are decided here: the hook */
    r->e = NULL;
    int wrc = o->watch ? pm_watch_finish(o->watch, r->cap, r->ncap) : 0;
    if (o->watch) {
        /* a service stopped on purpose: failures found are its normal output (syslog,
         * metrics); only a bound hit (exit 4) is said in the status */
        if (rc == PM_EXIT_FAILURES) {
            rc = PM_EXIT_OK;
        }
        if (wrc && rc < PM_EXIT_DAMAGED) {
            rc = PM_EXIT_DAMAGED;
        }
    }
    if (r->handle_failed && rc < PM_EXIT_DAMAGED) {
        rc = PM_EXIT_DAMAGED;
    }
    if (o->wpath && pm_verbosity >= 0) {
        for (int i = 0; i < npaths; i++) {
            pm_say("wrote %s", paths[i]);
        }
    }
    return rc;
}

int pm_cmd_capture(int argc, char **argv, int full_argc, char **full_argv)
{
    return pm_capture_main(argc, argv, full_argc, full_argv, NULL);
}

int pm_cmd_watch(int argc, char **argv, int full_argc, char **full_argv)
{
    return pm_capture_main(argc, argv, full_argc, full_argv, pm_watch_new());
}

int pm_capture_main(int argc, char **argv, int full_argc, char **full_argv, struct pm_watch *w)
{
    struct pm_engine_config cfg;
    pm_cli_engine_defaults(&cfg, full_argc, full_argv);
    cfg.subcommand = w ? "watch" : "capture";
    cfg.progress = false;
    static struct capture_opts o;
    memset(&o, 0, sizeof(o));
    o.h.snaplen = PM_CAP_DEFAULT_SNAPLEN;
    o.h.buffer_kib = PM_CAP_DEFAULT_BUFFER_KIB;
    o.h.immediate = true;
    o.user = PM_PRIV_DEFAULT_USER;
    o.watch = w;
    cfg.bundle_store = pm_bundle_helper_start; /* the privileged part of --bundle */
    struct pm_optdef defs[PM_OPTS_MAX];
    size_t nown;
    size_t ndefs = capture_rows(&o, &cfg, defs, &nown);
    int first = argc;
    int prc = pm_opts_parse(defs, ndefs, argc, argv, w ? watch_option : NULL, &o, &first);
    if (prc != PM_OPTS_OK) {
        if (prc == PM_OPTS_HELP || prc == PM_OPTS_UNKNOWN) {
            usage_capture(&o, &cfg, prc == PM_OPTS_HELP ? stdout : stderr);
        }
        return prc == PM_OPTS_HELP ? PM_EXIT_OK : PM_EXIT_USAGE;
    }
    const char *opt_filter = o.opt_filter;
    if (first < argc || opt_filter) {
        /* As tcpdump: the words after the options are a filter expression. A capture file
         * given by mistake reads as neither, and the message says both. */
        if (opt_filter && first < argc) {
            pm_err("two filter expressions: --filter '%s' and the words '%s'", opt_filter,
                   argv[first]);
            pm_hint("give the expression once");
            return PM_EXIT_USAGE;
        }
        size_t len = opt_filter ? strlen(opt_filter) + 1 : 1;
        for (int i = first; i < argc; i++) {
            len += strlen(argv[i]) + 1;
        }
        char *expr = pm_xmalloc(len);
        size_t off = (size_t)snprintf(expr, len, "%s", opt_filter ? opt_filter : "");
        for (int i = first; i < argc; i++) {
            off += (size_t)snprintf(expr + off, len - off, "%s%s", i > first ? " " : "",
                                    argv[i]);
        }
        char perr[PCAP_ERRBUF_SIZE + 64];
        if (pm_cli_filter_check(expr, perr, sizeof(perr)) != 0) {
            struct stat sb;
            if (first < argc && stat(argv[first], &sb) == 0) {
                pm_err("capture takes no capture files ('%s'), and the words are not a filter "
                       "expression either (%s)", argv[first], perr);
                pm_hint("to analyse a capture file: portmortem analyze %s", argv[first]);
            } else {
                pm_err("bad filter expression '%s': %s", expr, perr);
                pm_hint("write it as for tcpdump, e.g. host 203.0.113.10 and port 25");
            }
            free(expr);
            return PM_EXIT_USAGE;
        }
        o.expr = expr;
    }
    if (o.nifaces == 0) {
        char list[512];
        pm_capif_list(list, sizeof(list));
        pm_err("capture needs an interface: -i IFACE");
        pm_hint("interfaces here: %s; -i any captures on all of them", list);
        return PM_EXIT_USAGE;
    }
    if (w && pm_watch_check(w, o.nifaces, &o.wpath, &o.max_bytes, &o.nfiles) != 0) {
        return PM_EXIT_USAGE;
    }
    if (o.nfiles && !o.max_bytes) {
        pm_err("-W needs -C: the ring of files rotates by size");
        return PM_EXIT_USAGE;
    }
    if (o.max_bytes && !o.nfiles) {
        pm_err("-C needs -W N: every -w file is opened as root before privileges are "
               "dropped, so their number must be known at start");
        pm_hint("e.g. -C 100 -W 10 keeps the newest 1 GB in 10 files");
        return PM_EXIT_USAGE;
    }
    if ((o.max_bytes || o.nfiles) && !o.wpath) {
        pm_err("-C and -W rotate the -w files: give -w FILE");
        return PM_EXIT_USAGE;
    }
    if (o.nfiles * o.nifaces > PM_MAX_INPUTS) {
        pm_warn("-W %d on %d interfaces makes %d files; the bundle cuts its slice from the "
                "first %d in time", o.nfiles, o.nifaces, o.nfiles * o.nifaces, PM_MAX_INPUTS);
    }
    if (pm_cli_check(&cfg) != 0) {
        return PM_EXIT_USAGE;
    }
    if (!pm_log_tz_valid(cfg.logopt.tz)) {
        pm_err("bad --log-tz '%s': UTC, an offset like +01:00, or a zone name", cfg.logopt.tz);
        return PM_EXIT_USAGE;
    }
    if (geteuid() == 0) {
        int rc = pm_priv_check_user(o.user);
        if (rc != 0) {
            return rc;
        }
    }

    static struct run r;
    memset(&r, 0, sizeof(r));
    r.cfg = &cfg;
    r.o = &o;
    int rc = setup_and_run(&r, &o, &cfg);
    free(o.expr);
    o.expr = NULL;
    bool finished = r.e == NULL;
    if (!finished) {
        /* Start-up failed after the engine existed (the drop): nothing ran. */
        pm_hint("nothing was captured and no report written (a bundle in progress is "
                "removed by its helper)");
    }
    cleanup(&r, true);
    return pm_out_close(cfg.out, rc); /* a write error: said here, exit 3 (output.h) */
}
