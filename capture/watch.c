/*
 * watch.c — owns `portmortem watch` (issue 18; docs/WATCH.md): the always-on mode of
 * `capture`. The capture loop is live.c's (same options, same start-up, same privilege drop);
 * this file adds what a long-running service needs around it:
 *   - the state directory (DIR/ring/, DIR/bundles/, DIR/state.json), made as root before
 *     the drop and handed to the run user;
 *   - the capture ring: -C/-W files under DIR/ring/ (ring.c's bound, dump.c's files);
 *   - each decided attempt (an output sink, include/sink.h: the one place we attach) to the
 *     destination state (analyze/deststate.c), the metrics (analyze/metrics.c) and, with
 *     --syslog, as an RFC 5424 record (analyze/syslog_out.c) sent to a unix datagram socket;
 *   - the metrics: a node_exporter textfile rewritten atomically every 10 s and at exit,
 *     and/or a minimal HTTP server for GET /metrics, polled from the capture loop after the
 *     drop (bounded requests, 1 s per client, a few clients at once);
 *   - state.json, the last state (counts, failing destinations), atomically every 10 s.
 * Signals: SIGTERM/SIGINT stop (live.c), SIGHUP reopens the followed logs at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attribute.h"
#include "capin.h"
#include "capture_int.h"
#include "engine.h"
#include "filter.h"
#include "sink.h"
#include "report.h"
#include "tables.h"
#include "util.h"
#include "watch.h"

struct http_client {
    int fd;                    /* -1: free */
    pm_ns deadline;            /* monotonic */
    size_t in;                 /* request bytes read */
    char req[PM_WATCH_HTTP_REQ_MAX];
    char *out;                 /* PM_WATCH_METRICS_MAX + header room, allocated at start */
    size_t outlen, outoff;     /* outlen 0: still reading */
};

struct pm_watch {
    /* options */
    const char *state_dir;
    long ring_mb, ring_files;
    bool syslog;
    const char *syslog_socket;
    long syslog_rate;
    const char *metrics_file;
    const char *metrics_listen;
    const char *bundle_dir;
    long bundle_max, bundle_interval;
    /* paths */
    char ring_dir[4096];
    char bundles_dir[4096];
    char state_path[4096];
    char wpath[4096];
    /* run */
    int syslog_fd;
    struct sockaddr_un syslog_addr;
    socklen_t syslog_addrlen;
    uint64_t syslog_sent, syslog_failed, syslog_toolong;
    char host[256];
    long pid;
    struct pm_rate rate;
    struct pm_dstate ds;
    struct pm_metrics m;
    FILE *jf;                  /* fmemopen over jbuf: the attempt's JSON, reused */
    char jbuf[PM_WATCH_SYSLOG_MAX];
    char rec[PM_WATCH_SYSLOG_MAX + 512];
    int listen_fd;
    struct http_client cl[PM_WATCH_HTTP_CLIENTS];
    uint64_t http_served, http_refused;
    const struct pm_engine_config *cfg; /* for the auto bundles' offline analysis */
    pid_t bundler[8];          /* auto bundles being written (child processes) */
    uint64_t bundles_failed;
    pm_ns next_write;          /* monotonic */
    pm_ns next_second;
    uint64_t transitions;
};

static struct pm_watch g_watch;

/* ---- options ---- */

struct pm_watch *pm_watch_new(void)
{
    struct pm_watch *w = &g_watch;
    memset(w, 0, sizeof(*w));
    w->ring_mb = PM_WATCH_RING_MB;
    w->ring_files = PM_WATCH_RING_FILES;
    w->syslog_socket = "/dev/log";
    w->syslog_rate = PM_WATCH_SYSLOG_RATE;
    w->bundle_max = PM_WATCH_BUNDLE_MAX;
    w->bundle_interval = PM_WATCH_BUNDLE_INTERVAL;
    w->syslog_fd = -1;
    w->listen_fd = -1;
    for (int i = 0; i < PM_WATCH_HTTP_CLIENTS; i++) {
        w->cl[i].fd = -1;
    }
    return w;
}

int pm_watch_option(struct pm_watch *w, int opt, const char *arg)
{
    switch (opt) {
    case PM_WOPT_STATE_DIR:
        w->state_dir = arg;
        return 1;
    case 'C':
        if (!pm_parse_long(arg, 1, 1000000, &w->ring_mb)) {
            pm_err("bad --ring-size '%s': megabytes per ring file, 1 to 1000000", arg);
            return -1;
        }
        return 1;
    case 'W':
        if (!pm_parse_long(arg, 1, 1000, &w->ring_files)) {
            pm_err("bad --ring-files '%s': a number of files, 1 to 1000", arg);
            return -1;
        }
        return 1;
    case PM_WOPT_SYSLOG:
        w->syslog = true;
        return 1;
    case PM_WOPT_SYSLOG_SOCKET:
        if (strlen(arg) >= sizeof(w->syslog_addr.sun_path)) {
            pm_err("--syslog-socket '%s' is too long for a unix socket path (%zu bytes at most)",
                   arg, sizeof(w->syslog_addr.sun_path) - 1);
            return -1;
        }
        w->syslog_socket = arg;
        w->syslog = true;
        return 1;
    case PM_WOPT_SYSLOG_RATE:
        if (!pm_parse_long(arg, 1, 100000, &w->syslog_rate)) {
            pm_err("bad --syslog-rate '%s': records per second, 1 to 100000", arg);
            return -1;
        }
        return 1;
    case PM_WOPT_METRICS_FILE:
        w->metrics_file = arg;
        return 1;
    case PM_WOPT_METRICS_LISTEN:
        w->metrics_listen = arg;
        return 1;
    case PM_WOPT_BUNDLE_DIR:
        w->bundle_dir = arg;
        return 1;
    case PM_WOPT_BUNDLE_MAX:
        if (!pm_parse_long(arg, 1, 10000, &w->bundle_max)) {
            pm_err("bad --bundle-max '%s': bundles kept, 1 to 10000", arg);
            return -1;
        }
        return 1;
    case PM_WOPT_BUNDLE_INTERVAL:
        if (!pm_parse_long(arg, 0, 86400 * 7, &w->bundle_interval)) {
            pm_err("bad --bundle-min-interval '%s': seconds, 0 to 604800", arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

int pm_watch_check(struct pm_watch *w, int nifaces, const char **wpath, uint64_t *max_bytes,
                   int *nfiles)
{
    if (!w->state_dir) {
        pm_err("watch needs --state-dir DIR (the ring, the bundles and state.json go there)");
        pm_hint("the systemd unit passes /var/lib/portmortem");
        return -1;
    }
    if (snprintf(w->ring_dir, sizeof(w->ring_dir), "%s/ring", w->state_dir) >=
            (int)sizeof(w->ring_dir) ||
        snprintf(w->state_path, sizeof(w->state_path), "%s/state.json", w->state_dir) >=
            (int)sizeof(w->state_path) ||
        snprintf(w->bundles_dir, sizeof(w->bundles_dir), "%s",
                 w->bundle_dir ? w->bundle_dir : "") >= (int)sizeof(w->bundles_dir)) {
        pm_err("--state-dir '%s' is too long", w->state_dir);
        return -1;
    }
    if (!w->bundle_dir) {
        snprintf(w->bundles_dir, sizeof(w->bundles_dir), "%s/bundles", w->state_dir);
    }
    if (pm_ring_plan(w->ring_dir, (uint64_t)w->ring_mb, (int)w->ring_files, nifaces, w->wpath,
                     sizeof(w->wpath), max_bytes) != 0) {
        pm_err("--ring-size %ld MB is too small for %d interfaces: each file must hold at "
               "least one full-size packet (262,144 bytes)", w->ring_mb, nifaces);
        pm_hint("give -C %d or more", nifaces);
        return -1;
    }
    *wpath = w->wpath;
    *nfiles = (int)w->ring_files;
    return 0;
}

/* ---- start-up, as root ---- */

/* mkdir -p one level, 0750, handed to the run user (only a directory this run made, or
 * one already owned by that user or root: never chown through a link). */
static int make_dir(const char *path, uid_t owner, gid_t group)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        pm_err("cannot create %s: %s", path, strerror(errno));
        pm_hint("create it (0750, owned by the run user) or give another --state-dir");
        return -1;
    }
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        pm_err("%s is not a directory (a symbolic link is refused)", path);
        return -1;
    }
    if (owner != (uid_t)-1 && sb.st_uid != owner && chown(path, owner, group) != 0) {
        pm_err("cannot hand %s to the run user: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int open_listen(struct pm_watch *w)
{
    char host[256];
    const char *colon = strrchr(w->metrics_listen, ':');
    if (!colon || colon == w->metrics_listen || !colon[1] ||
        (size_t)(colon - w->metrics_listen) >= sizeof(host)) {
        pm_err("bad --metrics-listen '%s': ADDR:PORT, e.g. 127.0.0.1:9469 or [::1]:9469",
               w->metrics_listen);
        return -1;
    }
    const char *h = w->metrics_listen;
    size_t hl = (size_t)(colon - h);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0) {
        pm_err("bad --metrics-listen '%s': %s (a numeric address and port)", w->metrics_listen,
               gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
        pm_err("cannot listen on %s: %s", w->metrics_listen, strerror(errno));
        pm_hint("is the port in use? pick another (9469 is ours by convention)");
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    w->listen_fd = fd;
    for (int i = 0; i < PM_WATCH_HTTP_CLIENTS; i++) {
        w->cl[i].out = pm_xmalloc(PM_WATCH_METRICS_MAX + 256);
    }
    return 0;
}

int pm_watch_setup(struct pm_watch *w, uid_t owner, gid_t group, const uint16_t *ports,
                   int nports)
{
    if (make_dir(w->state_dir, owner, group) != 0 || make_dir(w->ring_dir, owner, group) != 0 ||
        make_dir(w->bundles_dir, owner, group) != 0) {
        return PM_EXIT_USAGE;
    }
    pm_rate_init(&w->rate, (uint32_t)w->syslog_rate);
    pm_dstate_init(&w->ds, PM_WATCH_FAIL_AFTER);
    pm_metrics_init(&w->m, ports, nports);
    if (gethostname(w->host, sizeof(w->host)) != 0) {
        pm_strlcpy(w->host, "-", sizeof(w->host));
    }
    w->host[sizeof(w->host) - 1] = '\0';
    w->pid = (long)getpid();
    w->jf = fmemopen(w->jbuf, sizeof(w->jbuf), "w");
    if (!w->jf) {
        pm_err("cannot set up the record buffer: %s", strerror(errno));
        return PM_EXIT_USAGE;
    }
    if (w->syslog) {
        /* Unconnected: each record is a sendto(), so a restarted syslog daemon (a new
         * socket at the same path) is reached again without reconnecting. */
        w->syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (w->syslog_fd < 0) {
            pm_err("cannot open a unix datagram socket for syslog: %s", strerror(errno));
            return PM_EXIT_USAGE;
        }
        w->syslog_addr.sun_family = AF_UNIX;
        pm_strlcpy(w->syslog_addr.sun_path, w->syslog_socket, sizeof(w->syslog_addr.sun_path));
        w->syslog_addrlen = (socklen_t)sizeof(w->syslog_addr);
        if (access(w->syslog_socket, W_OK) != 0) {
            pm_warn("syslog socket %s: %s; records are counted as failed until it appears",
                    w->syslog_socket, strerror(errno));
        }
    }
    if (w->metrics_listen && open_listen(w) != 0) {
        return PM_EXIT_USAGE;
    }
    return 0;
}

/* ---- syslog ---- */

static void syslog_send(struct pm_watch *w, int sev, pm_ns ts, const char *msgid, const char *msg)
{
    size_t n = pm_syslog_format(w->rec, sizeof(w->rec), sev, ts, w->host, w->pid, msgid, msg);
    if (n == 0) {
        w->syslog_toolong++;
        return;
    }
    if (sendto(w->syslog_fd, w->rec, n, MSG_NOSIGNAL, (struct sockaddr *)&w->syslog_addr,
               w->syslog_addrlen) < 0) {
        if (w->syslog_failed++ == 0) {
            pm_warn("sending to syslog (%s) failed: %s; later failures are counted in "
                    "state.json", w->syslog_socket, strerror(errno));
        }
        return;
    }
    w->syslog_sent++;
}

static void syslog_record(struct pm_watch *w, int sev, pm_ns ts, const char *msgid,
                          const char *msg)
{
    if (w->syslog_fd < 0) {
        return;
    }
    int64_t sec = pm_now_realtime() / PM_NS_PER_SEC;
    uint64_t said = pm_rate_report(&w->rate, sec);
    if (said) {
        char m[96];
        snprintf(m, sizeof(m), "{\"type\":\"suppressed\",\"records\":%llu}",
                 (unsigned long long)said);
        syslog_send(w, PM_SEV_WARNING, pm_now_realtime(), "suppressed", m);
    }
    if (pm_rate_take(&w->rate, sec)) {
        syslog_send(w, sev, ts, msgid, msg);
    }
    w->m.syslog_suppressed = w->rate.suppressed;
}

/* ---- auto bundles ---- */

/* Remove a bundle directory (a tree of plain files we wrote); no symlink is followed. */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep at most bundle_max - 1 of our bundles (names start with the UTC time, so the name
 * order is the age order), making room for the next one. Other entries are left alone. */
static void prune_bundles(struct pm_watch *w)
{
    DIR *d = opendir(w->bundles_dir);
    if (!d) {
        return;
    }
    char *names[1024];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 1024) {
        if (strlen(de->d_name) >= 16 && de->d_name[8] == 'T' && de->d_name[15] == 'Z' &&
            de->d_name[0] >= '0' && de->d_name[0] <= '9') {
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
    for (int i = 0; i < n; i++) {
        if (names[i] && n - i >= w->bundle_max) {
            char p[4400];
            snprintf(p, sizeof(p), "%s/%s", w->bundles_dir, names[i]);
            if (nftw(p, rm_entry, 8, FTW_DEPTH | FTW_PHYS) != 0) {
                pm_warn("cannot remove the old bundle %s: %s", p, strerror(errno));
            }
        }
        free(names[i]);
    }
}

/* The child: analyse the ring (every non-empty file, as `analyze` would) into a bundle. */
static void bundle_child(struct pm_watch *w, const char *dir)
{
    pm_verbosity = -1;
    struct pm_engine_config c = *w->cfg;
    c.bundle_dir = dir;
    c.bundle_store = NULL; /* the bundles directory is the run user's own */
    c.out = fopen("/dev/null", "w");
    c.format = PM_FMT_JSONL;
    c.progress = false;
    if (!c.out) {
        _exit(3);
    }
    static struct pm_inputset in;
    char filter[1024];
    pm_engine_filter(c.ports, c.nports, filter, sizeof(filter));
    DIR *d = opendir(w->ring_dir);
    struct dirent *de;
    char names[PM_MAX_INPUTS][4400];
    int n = 0;
    while (d && (de = readdir(d)) != NULL && n < PM_MAX_INPUTS) {
        struct stat sb;
        snprintf(names[n], sizeof(names[n]), "%s/%s", w->ring_dir, de->d_name);
        if (lstat(names[n], &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 24) {
            n++;
        }
    }
    if (d) {
        closedir(d);
    }
    for (int i = 0; i < n; i++) {
        if (pm_inputset_add(&in, names[i], filter) != 0) {
            _exit(3);
        }
    }
    int rc = n ? pm_engine_analyze(&c, &in) : 3;
    _exit(rc);
}

/* A destination started failing on a settled verdict: a bundle from the ring, at most one
 * per destination per --bundle-min-interval, written by a child process so the capture
 * goes on. Returns the bundle's path (in `path`), or false. */
static bool auto_bundle(struct pm_watch *w, struct pm_dstate_entry *d, char *path, size_t len)
{
    pm_ns mono = pm_now_monotonic();
    if (!w->cfg || (d->last_bundle && mono - d->last_bundle < PM_SEC(w->bundle_interval))) {
        return false;
    }
    int slot = -1;
    for (int i = 0; i < (int)(sizeof(w->bundler) / sizeof(w->bundler[0])); i++) {
        if (w->bundler[i] == 0) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        return false; /* several already being written: this one waits for the next chance */
    }
    char t[40], a[PM_ADDR_STRLEN];
    time_t now = (time_t)(pm_now_realtime() / PM_NS_PER_SEC);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(t, sizeof(t), "%Y%m%dT%H%M%SZ", &tm);
    pm_addr_str(&d->dst, a);
    for (char *c = a; *c; c++) {
        if (*c == ':') {
            *c = '_';
        }
    }
    if ((size_t)snprintf(path, len, "%s/%s-%s-%u", w->bundles_dir, t, a, d->port) >= len) {
        return false;
    }
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        return false;
    }
    prune_bundles(w);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        pm_warn("cannot start the bundle for %s: %s", a, strerror(errno));
        return false;
    }
    if (pid == 0) {
        bundle_child(w, path);
    }
    w->bundler[slot] = pid;
    d->last_bundle = mono;
    return true;
}

static void reap_bundles(struct pm_watch *w, bool block)
{
    for (int i = 0; i < (int)(sizeof(w->bundler) / sizeof(w->bundler[0])); i++) {
        int st;
        if (w->bundler[i] && waitpid(w->bundler[i], &st, block ? 0 : WNOHANG) == w->bundler[i]) {
            w->bundler[i] = 0;
            if (WIFEXITED(st) && WEXITSTATUS(st) != PM_EXIT_USAGE &&
                WEXITSTATUS(st) != PM_EXIT_UNREADABLE) {
                w->m.bundles++;
            } else {
                w->bundles_failed++;
                pm_warn("an automatic bundle failed (status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            }
        }
    }
}

/* ---- the watch as an output sink (include/sink.h) ---- */

static void on_attempt(void *ctx, const struct pm_finding *f, const struct pm_attr_env *env,
                       const pm_addr *dst, uint16_t dport, pm_ns ts)
{
    struct pm_watch *w = ctx;
    pm_ns when = ts != PM_NS_NONE ? ts : pm_now_realtime();
    pm_metrics_attempt(&w->m, f->verdict, f->owner, dport, when);
    if (w->syslog_fd >= 0) {
        rewind(w->jf);
        pm_report_attempt_json(w->jf, f, env);
        fflush(w->jf);
        long n = ftell(w->jf);
        if (n > 0 && (size_t)n < sizeof(w->jbuf) - 1 && !ferror(w->jf)) {
            w->jbuf[n] = '\0';
            if (w->jbuf[n - 1] == '\n') {
                w->jbuf[n - 1] = '\0';
            }
            syslog_record(w, f->verdict == PM_V_OK ? PM_SEV_INFO : PM_SEV_WARNING, when,
                          "attempt", w->jbuf);
        } else {
            clearerr(w->jf);
            w->syslog_toolong++;
        }
    }
    struct pm_dstate_entry *d;
    enum pm_dstate_change ch =
        pm_dstate_update(&w->ds, dst, dport, f->verdict, f->owner, f->confidence, when, &d);
    w->m.failing = w->ds.failing;
    if (ch == PM_DSC_NONE) {
        return;
    }
    w->transitions++;
    char bpath[4400];
    bool bundled = ch == PM_DSC_FAILING && d->settled &&
                   auto_bundle(w, d, bpath, sizeof(bpath));
    char js[5600];
    if (pm_dstate_json(js, sizeof(js), d, bundled ? bpath : NULL) == 0) {
        return;
    }
    if (pm_verbosity >= 0) {
        pm_say("%s", js);
    }
    syslog_record(w, ch == PM_DSC_FAILING ? PM_SEV_WARNING : PM_SEV_NOTICE, when, "dest-state",
                  js);
}

/* The watch as an output sink (include/sink.h): each decided attempt, and each logged one
 * that left nothing on the wire, with its destination and time. */
static void sink_attempt(void *ctx, const struct pm_finding *f, const struct pm_attr_env *env)
{
    if (f->a) {
        on_attempt(ctx, f, env, &f->a->srv, f->a->dport, f->a->first_syn);
    }
}

static void sink_nowire(void *ctx, const struct pm_finding *f, const struct pm_attr_env *env)
{
    if (f->log) {
        on_attempt(ctx, f, env, &f->log->addr, f->log->port ? f->log->port : 25, f->log->ts);
    }
}

bool pm_watch_attach(struct pm_watch *w, struct pm_engine *e,
                     const struct pm_engine_config *cfg)
{
    w->cfg = cfg;
    const struct pm_sink s = {
        .name = "watch",
        .ctx = w,
        .on_attempt = sink_attempt,
        .on_nowire = sink_nowire,
    };
    if (!pm_engine_add_sink(e, &s)) {
        pm_err("watch: no room for one more output (" PM_STR(PM_MAX_SINKS) " at most)");
        return false;
    }
    return true;
}

/* ---- metrics and state files ---- */

static void capture_stats(struct pm_watch *w, const struct pm_capif *cap, int ncap)
{
    w->m.nifs = ncap < PM_CAP_MAX_IFACES ? ncap : PM_CAP_MAX_IFACES;
    for (int i = 0; i < w->m.nifs; i++) {
        pm_strlcpy(w->m.ifname[i], cap[i].name, sizeof(w->m.ifname[i]));
        w->m.packets[i] = cap[i].frame;
        struct pcap_stat ps;
        if (cap[i].p && !cap[i].dead && pcap_stats(cap[i].p, &ps) == 0) {
            w->m.kdrops[i] = ps.ps_drop;
            w->m.ifdrops[i] = ps.ps_ifdrop;
        }
    }
    int t = 0;
    w->m.table[t] = "memory";
    w->m.usage[t++] = pm_mem_budget() ? (double)pm_mem_peak() / (double)pm_mem_budget() : 0;
    static const enum pm_table tabs[] = {PM_TAB_FLOWS, PM_TAB_SESSIONS, PM_TAB_DESTS,
                                         PM_TAB_LOGS};
    for (size_t k = 0; k < sizeof(tabs) / sizeof(tabs[0]) && t < PM_METRIC_TABLES; k++) {
        const struct pm_table_state *ts = pm_table_state(tabs[k]);
        w->m.table[t] = pm_table_key(tabs[k]);
        w->m.usage[t++] = ts->cap ? (double)ts->peak / (double)ts->cap : 0;
    }
    w->m.ntables = t;
}

/* Write `path` atomically: PATH.tmp then rename (a reader never sees half a file). */
static int write_atomic(const char *path, void (*fill)(struct pm_watch *, FILE *),
                        struct pm_watch *w)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    fill(w, f);
    bool bad = ferror(f) != 0;
    bad |= fflush(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void fill_metrics(struct pm_watch *w, FILE *f) { pm_metrics_write(&w->m, f); }

static void fill_state(struct pm_watch *w, FILE *f)
{
    char t[40];
    int nf = 0;
    uint64_t ring = pm_ring_disk_bytes(w->ring_dir, &nf);
    fprintf(f, "{\"type\":\"watch-state\",\"time\":\"%s\",\"destinations_failing\":%d,"
               "\"destinations_tracked\":%d,\"destinations_evicted\":%llu,"
               "\"state_changes\":%llu,\"ring_bytes\":%llu,\"ring_files\":%d,"
               "\"ring_bound_bytes\":%llu,\"syslog_sent\":%llu,\"syslog_suppressed\":%llu,"
               "\"syslog_failed\":%llu,\"syslog_too_long\":%llu,\"http_served\":%llu,\"failing\":[",
            pm_time_str(pm_now_realtime(), t, sizeof(t)), w->ds.failing, w->ds.n,
            (unsigned long long)w->ds.evicted, (unsigned long long)w->transitions,
            (unsigned long long)ring, nf,
            (unsigned long long)((uint64_t)w->ring_mb * 1000000u * (uint64_t)w->ring_files),
            (unsigned long long)w->syslog_sent, (unsigned long long)w->rate.suppressed,
            (unsigned long long)w->syslog_failed, (unsigned long long)w->syslog_toolong,
            (unsigned long long)w->http_served);
    bool first = true;
    char js[1024];
    for (int i = 0; i < w->ds.n; i++) {
        if (w->ds.e[i].used && w->ds.e[i].failing &&
            pm_dstate_json(js, sizeof(js), &w->ds.e[i], NULL)) {
            fprintf(f, "%s%s", first ? "" : ",", js);
            first = false;
        }
    }
    fputs("]}\n", f);
}

static void write_files(struct pm_watch *w)
{
    if (w->metrics_file && write_atomic(w->metrics_file, fill_metrics, w) != 0) {
        pm_warn("cannot write the metrics file %s: %s", w->metrics_file, strerror(errno));
        pm_hint("its directory must be writable by the run user (node_exporter's textfile "
                "directory, e.g. /var/lib/prometheus/node-exporter, group-writable)");
    }
    if (write_atomic(w->state_path, fill_state, w) != 0) {
        pm_warn("cannot write %s: %s", w->state_path, strerror(errno));
    }
}

void pm_watch_tick(struct pm_watch *w, const struct pm_capif *cap, int ncap, pm_ns mono)
{
    if (mono >= w->next_second) {
        reap_bundles(w, false);
        capture_stats(w, cap, ncap);
        /* a suppressed count is said even when no new record comes to carry it */
        if (w->syslog_fd >= 0) {
            uint64_t said = pm_rate_report(&w->rate, pm_now_realtime() / PM_NS_PER_SEC);
            if (said) {
                char m[96];
                snprintf(m, sizeof(m), "{\"type\":\"suppressed\",\"records\":%llu}",
                         (unsigned long long)said);
                syslog_send(w, PM_SEV_WARNING, pm_now_realtime(), "suppressed", m);
            }
        }
        w->next_second = mono + PM_SEC(1);
    }
    if (mono >= w->next_write) {
        write_files(w);
        w->next_write = mono + PM_SEC(PM_WATCH_WRITE_INTERVAL);
    }
}

/* ---- HTTP GET /metrics ---- */

static void client_close(struct http_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->in = c->outlen = c->outoff = 0;
}

static void client_answer(struct pm_watch *w, struct http_client *c)
{
    /* Request line (RFC 9112 §3): METHOD SP TARGET SP VERSION. Only GET /metrics (with or
     * without a query) is served; anything else is answered and closed. */
    const char *status = "200 OK";
    bool ok = false;
    if (!strncmp(c->req, "GET ", 4)) {
        const char *t = c->req + 4;
        if (!strncmp(t, "/metrics", 8) && (t[8] == ' ' || t[8] == '?')) {
            ok = true;
        } else {
            status = "404 Not Found";
        }
    } else {
        status = "405 Method Not Allowed";
    }
    size_t cap = PM_WATCH_METRICS_MAX + 256;
    size_t body = 0;
    const size_t hdr_room = 200;
    if (ok) {
        FILE *f = fmemopen(c->out + hdr_room, cap - hdr_room, "w");
        if (f) {
            pm_metrics_write(&w->m, f);
            fflush(f);
            long n = ftell(f);
            body = n > 0 && (size_t)n < cap - hdr_room ? (size_t)n : 0;
            fclose(f);
        }
    }
    char hdr[200];
    int hl = snprintf(hdr, sizeof(hdr),
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
                      ok ? body : 0);
    if (hl < 0 || (size_t)hl >= sizeof(hdr)) {
        client_close(c);
        return;
    }
    /* the header right before the body, in the same buffer */
    memcpy(c->out + hdr_room - (size_t)hl, hdr, (size_t)hl);
    c->outoff = hdr_room - (size_t)hl;
    c->outlen = hdr_room + (ok ? body : 0);
    if (ok) {
        w->http_served++;
    } else {
        w->http_refused++;
    }
}

int pm_watch_pollfds(struct pm_watch *w, struct pollfd *pfd, int max)
{
    int n = 0;
    if (w->listen_fd < 0) {
        return 0;
    }
    if (n < max) {
        pfd[n].fd = w->listen_fd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        n++;
    }
    for (int i = 0; i < PM_WATCH_HTTP_CLIENTS && n < max; i++) {
        pfd[n].fd = w->cl[i].fd;
        pfd[n].events = w->cl[i].outlen ? POLLOUT : POLLIN;
        pfd[n].revents = 0;
        n++;
    }
    return n;
}

void pm_watch_serve(struct pm_watch *w, pm_ns mono)
{
    if (w->listen_fd < 0) {
        return;
    }
    /* accept what is waiting, while a slot is free */
    for (int i = 0; i < PM_WATCH_HTTP_CLIENTS; i++) {
        if (w->cl[i].fd >= 0) {
            continue;
        }
        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            break;
        }
        w->cl[i].fd = fd;
        w->cl[i].in = w->cl[i].outlen = w->cl[i].outoff = 0;
        w->cl[i].deadline = mono + PM_MS(PM_WATCH_HTTP_TIMEOUT_MS);
    }
    for (int i = 0; i < PM_WATCH_HTTP_CLIENTS; i++) {
        struct http_client *c = &w->cl[i];
        if (c->fd < 0) {
            continue;
        }
        if (mono >= c->deadline) {
            client_close(c);
            continue;
        }
        if (!c->outlen) {
            ssize_t r = recv(c->fd, c->req + c->in, sizeof(c->req) - 1 - c->in, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                client_close(c);
                continue;
            }
            if (r > 0) {
                c->in += (size_t)r;
                c->req[c->in] = '\0';
            }
            if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
                client_answer(w, c);
            } else if (c->in >= sizeof(c->req) - 1) {
                client_close(c); /* a request this long is not a scrape */
                w->http_refused++;
                continue;
            }
        }
        if (c->fd >= 0 && c->outlen) {
            ssize_t s = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
            if (s < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                client_close(c);
                continue;
            }
            if (s > 0) {
                c->outoff += (size_t)s;
            }
            if (c->outoff >= c->outlen) {
                client_close(c);
            }
        }
    }
}

/* ---- the end ---- */

int pm_watch_finish(struct pm_watch *w, const struct pm_capif *cap, int ncap)
{
    reap_bundles(w, true); /* a bundle being written is finished, not cut */
    capture_stats(w, cap, ncap);
    write_files(w);
    if (pm_verbosity >= 0) {
        pm_say("watch: %llu state changes, %d destinations failing, %llu syslog records sent "
               "(%llu suppressed, %llu failed)",
               (unsigned long long)w->transitions, w->ds.failing,
               (unsigned long long)w->syslog_sent, (unsigned long long)w->rate.suppressed,
               (unsigned long long)w->syslog_failed);
    }
    for (int i = 0; i < PM_WATCH_HTTP_CLIENTS; i++) {
        client_close(&w->cl[i]);
        free(w->cl[i].out);
        w->cl[i].out = NULL;
    }
    if (w->listen_fd >= 0) {
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    if (w->syslog_fd >= 0) {
        close(w->syslog_fd);
        w->syslog_fd = -1;
    }
    if (w->jf) {
        fclose(w->jf);
        w->jf = NULL;
    }
    return w->ds.evicted ? 1 : 0;
}

void pm_watch_usage(FILE *f)
{
    fprintf(f,
            "usage: portmortem watch -i IFACE [-i IFACE ...] --state-dir DIR [options]\n"
            "\n"
            "Always on (as a service): capture SYN/RST/ICMP of the watched ports into a bounded\n"
            "ring of files, follow the MTA log across rotation, decide attempts as they end,\n"
            "and report them to syslog and Prometheus. Every capture option works here too\n"
            "(portmortem capture --help).\n"
            "\n"
            "watch:\n"
            "      --state-dir DIR     the ring (DIR/ring), bundles (DIR/bundles), state.json\n"
            "  -C, --ring-size MB      bytes per ring file (default %d)\n"
            "  -W, --ring-files N      ring files kept (default %d); at most C*W MB on disk\n"
            "      --syslog            each attempt and destination state change to syslog\n"
            "                          (RFC 5424, facility mail, the JSON object as message)\n"
            "      --syslog-socket PATH  the local syslog socket (default /dev/log)\n"
            "      --syslog-rate N     at most N records per second (default %d)\n"
            "      --metrics-file PATH  Prometheus textfile, rewritten every %d s and at exit\n"
            "      --metrics-listen ADDR:PORT  serve GET /metrics over HTTP\n"
            "      --bundle-dir DIR    auto bundles (default STATE/bundles)\n"
            "      --bundle-max N      bundles kept (default %d)\n"
            "      --bundle-min-interval SECS  per destination (default %d)\n"
            "\n"
            "SIGHUP reopens the followed logs; SIGTERM/SIGINT stop (exit 0, or 4 if a bound\n"
            "was hit). See docs/WATCH.md.\n",
            PM_WATCH_RING_MB, PM_WATCH_RING_FILES, PM_WATCH_SYSLOG_RATE,
            PM_WATCH_WRITE_INTERVAL, PM_WATCH_BUNDLE_MAX, PM_WATCH_BUNDLE_INTERVAL);
}
