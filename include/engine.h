/*
 * engine.h — one analysis run: inputs (capture files or a live source) in, attempts,
 * destinations and a summary out, in JSON Lines or as a text report. The offline path
 * spools finished attempts to a temporary file so that verdicts can use what the whole
 * capture shows (a later SYN-ACK from the same host, port 587 working while 25 fails)
 * while memory stays bounded by concurrent flows; the live path decides as attempts end.
 */
#ifndef PM_ENGINE_H
#define PM_ENGINE_H

#include <stdio.h>

#include "capin.h"
#include "filter.h"
#include "mtalog.h"
#include "track.h"

/* The report's formats (-f): text for people, JSON Lines (the output contract), and two
 * one-line-per-attempt tables for other tools: a Zeek conn.log (ASCII writer, TSV) and CSV. */
enum pm_format { PM_FMT_TEXT, PM_FMT_JSONL, PM_FMT_ZEEK, PM_FMT_CSV };


struct pm_engine_config {
    uint16_t ports[PM_MAX_PORTS];
    int nports;
    uint32_t max_flows;            /* 0: as many as --max-memory allows */
    uint32_t max_sessions;         /* 0: no count cap, only the memory budget */
    uint32_t max_dests;            /* 0: no count cap, only the memory budget */
    uint64_t max_memory;           /* bytes all growing tables may take (0: 1 GiB) */
    enum pm_format format;
    FILE *out;
    bool color;
    bool progress;                 /* progress on stderr (only when it is a terminal) */
    const char *mta_logs[PM_MAX_LOGS];
    int nlogs;
    struct pm_log_options logopt;
    pm_ns log_offset;              /* PM_NS_NONE: estimate */
    pm_ns since, until;            /* PM_NS_NONE: the capture's own window */
    pm_ns mta_connect_timeout;     /* the MTA's connect timer as given; PM_NS_NONE: the
                                    * MTA's default (docs/VERDICTS.md) */
    pm_addr expect_source[PM_MAX_EXPECT];
    int nexpect;
    const char *bundle_dir;        /* NULL: no bundle */
    const char *sign_key;          /* bundle signing key (PEM Ed25519), or NULL */
    bool bundle_host_context;      /* --bundle-host-context: host-context.txt inside DIR */
    bool bundle_redact;            /* --redact: internal addresses and host names replaced */
    /* Who creates the bundle's files (capture/bundle_helper.c's helper process, set by the
     * command line), or NULL: the bundle writes them directly (include/bundle.h). */
    struct pm_bundle_store *(*bundle_store)(int parentfd, int dirfd, const char *tmpbase,
                                            const char *base);
    int argc;
    char **argv;
    const char *subcommand;        /* "analyze", "capture", "probe" */
    uint16_t diag_port;            /* probe: the port diagnosed; attempts to other ports are
                                    * reported but are evidence only (not in the destinations'
                                    * state, scope or exit status); 0: every port counts */
    uint64_t seed;
};

/* pm_engine_filter, the BPF expression of the analysis: filter.h (analyze/filter.c). */

/* The flow table's capacity when --max-flows is not given: what the memory budget allows. */
uint32_t pm_engine_default_flows(uint64_t max_memory);

/* Analyse the given (already opened) input set. Returns the exit status. */
int pm_engine_analyze(const struct pm_engine_config *cfg, struct pm_inputset *in);

/* ---- the engine as an object (live capture and probes drive it packet by packet) ---- */

struct pm_engine;
struct pm_record;
struct pm_logentry;

struct pm_engine_source {
    bool live;                         /* decide and report attempts as they finish */
    int nvantage;
    const char *const *vantage_names;  /* one per vantage */
    int nfiles;
    const char *const *file_labels;    /* evidence names per input index ("eth0", "a.pcap") */
    struct pm_inputset *in;            /* offline inputs (for the summary), or NULL */
    const char *const *ifaces;         /* live interfaces (for the summary), or NULL */
    int nifaces;
};

/* Live statistics for the summary (pcap_stats and the privilege drop). */
struct pm_live_ifstats {
    char name[64];
    bool stats;         /* pcap_stats answered (else the counts are unknown, 0) */
    uint64_t captured;  /* packets portmortem took from the handle */
    uint64_t received;  /* ps_recv: passed the kernel filter (Linux: drops included) */
    uint64_t dropped;   /* ps_drop: the kernel's ring was full */
    uint64_t if_dropped; /* ps_ifdrop: the interface's own drops since the capture began */
};
struct pm_live_stats {
    uint64_t received, dropped, if_dropped; /* summed over the interfaces */
    char privileges[160];
    int nifs;
    struct pm_live_ifstats ifs[PM_CAP_MAX_IFACES];
};

/* A hop reference learnt outside the capture (a probe's TTL walk, a live route). */
struct pm_engine_hopref {
    int vantage;
    pm_addr host;
    int hops;
    int src; /* enum pm_hopsrc */
};

/* Returns NULL after printing why (e.g. the bundle directory exists). Opens the bundle
 * directory, so call it before dropping privileges. */
struct pm_engine *pm_engine_new(const struct pm_engine_config *cfg,
                                const struct pm_engine_source *src);
void pm_engine_packet(struct pm_engine *e, const struct pm_record *rec);
/* Live: let timeouts fire while no packet arrives. */
void pm_engine_tick(struct pm_engine *e, pm_ns now);
/* Live: one parsed MTA log line (from a followed log). `path` names its file. */
void pm_engine_log_entry(struct pm_engine *e, const char *path, const struct pm_logentry *le);
void pm_engine_hopref(struct pm_engine *e, const struct pm_engine_hopref *h);
/* Live: called from pm_engine_packet for each SYN (no ACK, no RST) to a watched port that
 * did not arrive on a loopback interface, with its vantage and destination, before the
 * packet is used: the packet is decoded once (capture/live.c asks the kernel's route). */
typedef void (*pm_engine_syn_fn)(void *ctx, int vantage, const pm_addr *dst);
void pm_engine_set_syn_hook(struct pm_engine *e, pm_engine_syn_fn fn, void *ctx);
/* Live: called once per decided attempt, after it is reported (capture/watch.c: syslog,
 * metrics, destination state). `dst`/`dport` name the destination, `ts` the first SYN (or
 * the log line) time. The one place the watch attaches; an output sink may replace it. */
struct pm_finding;
struct pm_attr_env;
typedef void (*pm_engine_attempt_fn)(void *ctx, const struct pm_finding *f,
                                     const struct pm_attr_env *env, const pm_addr *dst,
                                     uint16_t dport, pm_ns ts);
void pm_engine_set_attempt_hook(struct pm_engine *e, pm_engine_attempt_fn fn, void *ctx);
/* Live: a packet of the side handle (other traffic from the destinations' networks): a hop
 * reference for its source, never part of an attempt. */
void pm_engine_side_packet(struct pm_engine *e, const struct pm_record *rec);
/* Live: the /24 (IPv4) or /48 (IPv6) prefixes of the destinations of the most recent SYNs,
 * newest first, at most `max`: what the side filter should let through. */
int pm_engine_recent_prefixes(const struct pm_engine *e, pm_addr *out, int max);
/* A probe's TTL walk localised a silent drop: SYNs to dst got time-exceeded up to `hop`
 * (from `last`, may be NULL) and nothing beyond. */
void pm_engine_drop_hop(struct pm_engine *e, const pm_addr *dst, int hop, const pm_addr *last);
/* A probe's TTL walk to dst ended with this next step: the run's Next line uses it for dst
 * instead of one that says to run the walk (kept for up to PM_WALK_NEXTS addresses). */
#define PM_WALK_NEXTS 64
void pm_engine_walk_next(struct pm_engine *e, const pm_addr *dst, const char *next);
void pm_engine_live_stats(struct pm_engine *e, const struct pm_live_stats *st);
/* Live: host context text for the bundle (addresses, routes, firewall rules). */
void pm_engine_host_context(struct pm_engine *e, const char *text);
/* Live: capture files written with -w (or a temporary one), for the bundle's pcap slice.
 * fds (or NULL): a read-write descriptor per file to read it back through (>= 0), so that
 * a file the unprivileged user cannot open by name, or one with no name, still serves;
 * -1 reads that file by its path. The descriptors stay the caller's. */
void pm_engine_capture_files(struct pm_engine *e, const char *const *paths, const int *fds,
                             int n);
/* End of input: final verdicts, destinations, summary, bundle. Returns the exit status
 * and frees the engine. */
int pm_engine_finish(struct pm_engine *e);
/* A fatal error elsewhere (e.g. the privilege drop failed): discard everything, remove a
 * half-written bundle, free the engine. Reports nothing. */
void pm_engine_abort(struct pm_engine *e);

#endif
