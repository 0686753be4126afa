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
#include "mtalog.h"
#include "track.h"

enum pm_format { PM_FMT_TEXT, PM_FMT_JSONL };

#define PM_MAX_LOGS 16
#define PM_MAX_EXPECT 16

struct pm_engine_config {
    uint16_t ports[PM_MAX_PORTS];
    int nports;
    uint32_t max_flows;
    uint32_t max_sessions;
    uint32_t max_dests;
    enum pm_format format;
    FILE *out;
    bool color;
    bool progress;                 /* progress on stderr (only when it is a terminal) */
    const char *mta_logs[PM_MAX_LOGS];
    int nlogs;
    struct pm_log_options logopt;
    pm_ns log_offset;              /* PM_NS_NONE: estimate */
    pm_ns since, until;            /* PM_NS_NONE: the capture's own window */
    pm_addr expect_source[PM_MAX_EXPECT];
    int nexpect;
    const char *bundle_dir;        /* NULL: no bundle */
    int argc;
    char **argv;
    const char *subcommand;        /* "analyze", "capture", "probe" */
    uint64_t seed;
};

/* Build the BPF expression that keeps what the analysis needs for these ports. */
void pm_engine_filter(const uint16_t *ports, int nports, char *buf, size_t len);

/* Analyse the given (already opened) input set. Returns the exit status. */
int pm_engine_analyze(const struct pm_engine_config *cfg, struct pm_inputset *in);

#endif
