/*
 * capture_int.h — the pieces of `portmortem capture`, private to the capture/ sources.
 * live.c drives them: handles (handle.c), -w files (dump.c), the followed MTA log
 * (follow.c), the host context and per-destination routes (hostctx.c), privileges (priv.c,
 * public in include/priv.h because the probe uses it too).
 */
#ifndef PM_CAPTURE_INT_H
#define PM_CAPTURE_INT_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mtalog.h"
#include "pm.h"

/* ---- handle.c: one live capture handle per interface ---- */


struct pm_cap_opts {
    int snaplen;
    int buffer_kib;
    bool immediate;
    bool promisc;
};

struct pm_capif {
    char name[64];
    pcap_t *p;
    int fd;             /* pcap_get_selectable_fd */
    int dlt;            /* pcap_datalink */
    int linktype;       /* normalised LINKTYPE_* for pm_record */
    bool loopback;      /* IFF_LOOPBACK: records carry ifloop */
    bool dead;          /* a read failed: no more packets from it */
    bool nano;          /* timestamps in nanoseconds */
    char filter[1400];  /* the BPF expression installed */
    /* the merge's look-ahead: one packet read but not yet fed */
    bool has_next;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint32_t frame;     /* packets taken from this handle so far (1-based frame numbers) */
};

/* Create, configure, activate and filter one handle. Returns 0, or an exit status after
 * printing what failed, why and what to try. */
int pm_capif_open(struct pm_capif *c, const char *name, const struct pm_cap_opts *o,
                  const char *filter);
void pm_capif_close(struct pm_capif *c);
/* Interface names present (for messages): "lo, eth0, ..." */
void pm_capif_list(char *buf, size_t len);

/* ---- dump.c: -w files, one (or a ring of -W) per interface ---- */

struct pm_dump;
struct pm_dump_opts {
    const char *path;     /* -w FILE */
    uint64_t max_bytes;   /* -C (bytes), 0: no rotation */
    int nfiles;           /* -W, 0: no ring */
    bool temporary;       /* a private temp file (for --bundle without -w): never named */
    uid_t owner;          /* chown the files to it (the -Z user), (uid_t)-1: leave */
    gid_t group;
};
/* The file name(s) for interface `iface` (index i of n). Exposed for tests/docs. */
void pm_dump_name(char *out, size_t len, const char *path, const char *iface, int nifaces,
                  int k, int nfiles);
/* Open (as root, before the drop) every file this interface will ever write. */
struct pm_dump *pm_dump_open(pcap_t *p, const char *iface, int nifaces,
                             const struct pm_dump_opts *o);
void pm_dump_packet(struct pm_dump *d, const struct pcap_pkthdr *h, const u_char *data);
void pm_dump_flush(struct pm_dump *d);
/* Files that hold packets, oldest first, with their read-write descriptors (fds may be
 * NULL). A temporary file has no name on disk: its "path" is only a label. Both valid until
 * pm_dump_close. */
int pm_dump_paths(const struct pm_dump *d, const char **paths, int *fds, int max);
/* Every file opened, used or not, in ring order (the probe names its one file to the engine
 * before it holds packets). Same lifetime as pm_dump_paths. */
int pm_dump_files(const struct pm_dump *d, const char **paths, int *fds, int max);
uint64_t pm_dump_packets(const struct pm_dump *d);
/* Flush and close the file being written (the paths stay valid, for the bundle). */
void pm_dump_end(struct pm_dump *d);
/* Close everything; `unlink_temp`: remove a temporary file now. */
void pm_dump_close(struct pm_dump *d, bool unlink_temp);
/* A private, read-write temporary capture file in $TMPDIR (or /tmp) that has no name: made
 * with O_TMPFILE, or unlinked at once after mkostemps. *named: it could not be unlinked,
 * `path` is its name (remove it at the end); else `path` is only a label. -1 after a
 * message. */
int pm_temp_capture(const char *tag, char *path, size_t pathlen, bool *named);

/* ---- ring.c: the watch's capture ring (-C MB per file, -W files) ---- */

/* The -w base path under ring_dir and the bytes per file, so that nifaces rings of nfiles
 * files each stay under mb*nfiles MB in all. -1 when the bound is too small for one
 * full-size packet per file. */
int pm_ring_plan(const char *ring_dir, uint64_t mb, int nfiles, int nifaces, char *wpath,
                 size_t len, uint64_t *per_file);
/* Bytes of the regular files in ring_dir (and their number in *nfiles, may be NULL). */
uint64_t pm_ring_disk_bytes(const char *ring_dir, int *nfiles);

/* ---- watch.c: `portmortem watch` around live.c's loop ---- */

struct pm_watch;
struct pm_engine;
struct pollfd;
/* Option codes of watch's own long options (capture's are below 1200). */
enum {
    PM_WOPT_STATE_DIR = 1200,
    PM_WOPT_SYSLOG,
    PM_WOPT_SYSLOG_SOCKET,
    PM_WOPT_SYSLOG_RATE,
    PM_WOPT_METRICS_FILE,
    PM_WOPT_METRICS_LISTEN,
    PM_WOPT_BUNDLE_DIR,
    PM_WOPT_BUNDLE_MAX,
    PM_WOPT_BUNDLE_INTERVAL,
};
#define PM_WATCH_LONGOPTS                                                                      \
    {"state-dir", required_argument, NULL, PM_WOPT_STATE_DIR},                                \
        {"ring-size", required_argument, NULL, 'C'},                                          \
        {"ring-files", required_argument, NULL, 'W'},                                         \
        {"syslog", no_argument, NULL, PM_WOPT_SYSLOG},                                        \
        {"syslog-socket", required_argument, NULL, PM_WOPT_SYSLOG_SOCKET},                    \
        {"syslog-rate", required_argument, NULL, PM_WOPT_SYSLOG_RATE},                        \
        {"metrics-file", required_argument, NULL, PM_WOPT_METRICS_FILE},                      \
        {"metrics-listen", required_argument, NULL, PM_WOPT_METRICS_LISTEN},                  \
        {"bundle-dir", required_argument, NULL, PM_WOPT_BUNDLE_DIR},                          \
        {"bundle-max", required_argument, NULL, PM_WOPT_BUNDLE_MAX},                          \
        {"bundle-min-interval", required_argument, NULL, PM_WOPT_BUNDLE_INTERVAL}
struct pm_watch *pm_watch_new(void);
/* 1 taken, 0 not a watch option, -1 after a message. -C/-W are the ring's. */
int pm_watch_option(struct pm_watch *w, int opt, const char *arg);
/* After parsing: the ring's -w path, bytes per file and file count. -1 after a message. */
int pm_watch_check(struct pm_watch *w, int nifaces, const char **wpath, uint64_t *max_bytes,
                   int *nfiles);
/* As root, before the capture files open: the state directory (handed to owner), the syslog
 * socket, the metrics listener. 0 or an exit status after a message. */
int pm_watch_setup(struct pm_watch *w, uid_t owner, gid_t group, const uint16_t *ports,
                   int nports);
struct pm_engine_config;
bool pm_watch_attach(struct pm_watch *w, struct pm_engine *e,
                     const struct pm_engine_config *cfg);
/* The HTTP descriptors to poll (listener and clients), then serve them after poll. */
int pm_watch_pollfds(struct pm_watch *w, struct pollfd *pfd, int max);
void pm_watch_serve(struct pm_watch *w, pm_ns mono);
/* Every loop tick: capture counters, suppressed records, the files every 10 s. */
void pm_watch_tick(struct pm_watch *w, const struct pm_capif *cap, int ncap, pm_ns mono);
/* The last files; 1 when a bound of the watch itself was hit (destinations forgotten). */
int pm_watch_finish(struct pm_watch *w, const struct pm_capif *cap, int ncap);
void pm_watch_usage(FILE *f);
/* `capture` and `watch` (w != NULL) share live.c's command line and loop. */
int pm_capture_main(int argc, char **argv, int full_argc, char **full_argv, struct pm_watch *w);

/* ---- follow.c: an MTA log followed like tail -F ---- */

struct pm_follow;
struct pm_follow_stats {
    uint64_t lines, of_interest, unparseable, overlong, reopened, truncated;
    uint64_t bytes;
    int last_errno;
};
typedef void (*pm_follow_cb)(void *ctx, const char *path, const struct pm_logentry *le);
/* Open (as root) and position at the end (or the start). Returns NULL after printing why. */
struct pm_follow *pm_follow_open(const char *path, bool from_start,
                                 const struct pm_log_options *lo, pm_follow_cb cb, void *ctx);
/* Read what has been appended; detect rotation and truncation (check_name: also stat the
 * path, e.g. once a second). */
void pm_follow_poll(struct pm_follow *f, bool check_name);
const struct pm_follow_stats *pm_follow_stats(const struct pm_follow *f);
const char *pm_follow_path(const struct pm_follow *f);
void pm_follow_close(struct pm_follow *f);

/* ---- hostctx.c: host context and routes ---- */

struct pm_hostctx;
struct pm_hostctx *pm_hostctx_new(const uint16_t *ports, int nports);
/* Addresses, routes, SYN sysctls, firewall rules touching the ports (read-only commands,
 * each bounded by timeout_ms). Once, at start, as root. */
void pm_hostctx_collect(struct pm_hostctx *h, int timeout_ms);

enum pm_route_kind { PM_RT_UNKNOWN, PM_RT_ONLINK, PM_RT_GATEWAY, PM_RT_LOCAL, PM_RT_REFUSED };
struct pm_route {
    enum pm_route_kind kind;
    pm_addr gateway;
    char oif[32];
    char text[160];
};
/* Route to dst (netlink RTM_GETROUTE; no privilege needed). Asked once per destination:
 * returns false when it was already asked (or the table of asked ones is full). */
bool pm_hostctx_route(struct pm_hostctx *h, const pm_addr *dst, const char *why,
                      struct pm_route *out);
/* A line for the context text (e.g. how the log following went). */
void pm_hostctx_note(struct pm_hostctx *h, const char *line);
/* The whole text: what was collected at start plus one line per routed destination. */
const char *pm_hostctx_text(struct pm_hostctx *h);
void pm_hostctx_free(struct pm_hostctx *h);

/* Relevance filters for firewall dumps (exposed for unit tests). */
bool pm_fw_line_mentions_port(const char *line, const uint16_t *ports, int nports);

#endif
