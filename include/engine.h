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
/* One packet, decoded once by whoever read it: pm_engine_decode fills pkt from a capture
 * record (the engine's own file loop, capture/live.c, capture/probe_match.c), and
 * pm_engine_pkt takes the decoded packet (`file`: its input index, for evidence).
 * pm_engine_packet does both. No allocation per packet. */
struct pm_pkt;
void pm_engine_decode(const struct pm_record *rec, struct pm_pkt *pkt);
void pm_engine_pkt(struct pm_engine *e, const struct pm_pkt *p, uint16_t file);
void pm_engine_packet(struct pm_engine *e, const struct pm_record *rec);
/* Is this a port the analysis watches (a SYN to it starts an attempt)? */
bool pm_engine_port_watched(const struct pm_engine *e, uint16_t port);
/* One more output for the findings (include/sink.h), after the report and the bundle the
 * configuration asks for; before the first packet. False (after saying why) when the list
 * (PM_MAX_SINKS) is full. The sink's ctx stays the caller's. */
struct pm_sink;
bool pm_engine_add_sink(struct pm_engine *e, const struct pm_sink *s);
/* The engine's clock (the newest packet or tick, PM_NS_NONE before any), the packets it
 * took, and the attempts the tracker started: for the input loops' idle clock and
 * progress line (analyze/engine_files.c). */
pm_ns pm_engine_now(const struct pm_engine *e);
uint64_t pm_engine_records(const struct pm_engine *e);
uint64_t pm_engine_attempts(const struct pm_engine *e);
/* Live: let timeouts fire while no packet arrives. */
void pm_engine_tick(struct pm_engine *e, pm_ns now);
/* Live: one parsed MTA log line (from a followed log). `path` names its file. */
void pm_engine_log_entry(struct pm_engine *e, const char *path, const struct pm_logentry *le);
void pm_engine_hopref(struct pm_engine *e, const struct pm_engine_hopref *h);
/* A packet that is no part of an attempt (live: the side handle's other traffic from the
 * destinations' networks; offline: a record the attempt filter dropped): a hop reference
 * for its source. Only its first headers are decoded (pm_decode_head). */
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
