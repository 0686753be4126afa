/*
 * fuzz_engine.c — owns the libFuzzer target for a whole `portmortem analyze` run on a small
 * capture: the input is a capture file; it goes through pm_inputset_add (with the real BPF
 * filter), pm_engine_analyze (decoder, tracker with a small table, the spool, context,
 * correlation, attribution) and the report writer, JSON Lines for inputs of even length and
 * the text report for odd ones, written to /dev/null. The exit status must be one the
 * output contract defines.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capin.h"
#include "engine.h"
#include "memfile.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static FILE *g_null;
static char g_filter[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_null = fopen("/dev/null", "w");
    if (!g_null) {
        perror("/dev/null");
        abort();
    }
    static const uint16_t ports[] = {25, 465, 587};
    pm_engine_filter(ports, 3, g_filter, sizeof(g_filter));
    pm_verbosity = -1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = pm_fuzz_memfile(data, size);
    static struct pm_inputset in;
    memset(&in, 0, sizeof(in));
    if (pm_inputset_add(&in, path, g_filter) != 0) {
        pm_inputset_close(&in);
        return 0;
    }
    static char arg0[] = "portmortem", arg1[] = "analyze";
    static char *argv[] = {arg0, arg1, NULL};
    struct pm_engine_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.ports[0] = 25;
    cfg.ports[1] = 465;
    cfg.ports[2] = 587;
    cfg.nports = 3;
    cfg.max_flows = 64;
    cfg.max_sessions = 4;
    cfg.max_dests = 64;
    /* odd lengths: text; 0 mod 4: JSON Lines; 6 mod 8: a Zeek log; 2 mod 8: CSV rows
     * (the escaping of packet-derived text) */
    cfg.format = (size & 1) ? PM_FMT_TEXT : (size & 2) ? ((size & 4) ? PM_FMT_ZEEK : PM_FMT_CSV)
                                                       : PM_FMT_JSONL;
    cfg.out = g_null;
    cfg.log_offset = PM_NS_NONE;
    cfg.since = cfg.until = PM_NS_NONE;
    cfg.mta_connect_timeout = PM_NS_NONE;
    cfg.logopt.ref_time = PM_NS_NONE;
    cfg.argc = 2;
    cfg.argv = argv;
    cfg.subcommand = "analyze";
    cfg.seed = 42;
    int rc = pm_engine_analyze(&cfg, &in);
    pm_inputset_close(&in);
    if (rc < PM_EXIT_OK || rc > PM_EXIT_DAMAGED || rc == PM_EXIT_USAGE) {
        __builtin_trap();
    }
    return 0;
}
