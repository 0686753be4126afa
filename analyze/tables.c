/*
 * tables.c — owns the run's table bookkeeping and memory budget (include/tables.h). One run
 * per process, so the state is a file-level singleton that the engine resets at start-up;
 * the tables call in only when they grow or lose something, never per packet.
 */
#include "tables.h"

#include "util.h"

static struct {
    uint64_t budget, used, peak;
    struct pm_table_state t[PM_TAB__COUNT];
    bool warned[PM_TAB__COUNT];
} S = {.budget = PM_DEFAULT_MAX_MEMORY};

/* Per table: JSON key, what an entry is, what was lost, the option(s), effect of a loss. */
static const struct {
    const char *key, *entry, *lost, *option, *effect;
} info[PM_TAB__COUNT] = {
    [PM_TAB_FLOWS] = {"flows", "open attempts", "attempts evicted early",
                      "--max-flows or --max-memory",
                      "the least recently active attempt was finalised early (flag "
                      "\"evicted\", outcome often incomplete)"},
    [PM_TAB_SESSIONS] = {"smtp_sessions", "SMTP dialogues", "SMTP dialogues not recorded",
                         "--max-sessions or --max-memory",
                         "the dialogue was not recorded (flag \"smtp-not-recorded\"): no "
                         "banner, so the attempt is incomplete"},
    [PM_TAB_DESTS] = {"destinations", "destinations", "attempts left out of the destination list",
                      "--max-dests or --max-memory",
                      "the destination is missing from the destination list and the scope "
                      "(flag \"table-full\" on its attempts)"},
    [PM_TAB_HOPREFS] = {"hop_references", "hop references", "hop references not kept",
                        "--max-memory",
                        "hop counts not learnt: a forged RST or a router's ICMP may not be "
                        "told from the destination's own answer (flag \"table-full\")"},
    [PM_TAB_SPOOL] = {"spool", "finished attempts", "finished attempts not spooled, not reported",
                      "free space in $TMPDIR (or a larger file size limit)",
                      "attempts not written to the spool are not reported"},
    [PM_TAB_LOGS] = {"mta_log_entries", "MTA log entries", "MTA log entries not kept",
                     "--max-memory",
                     "later log lines are counted, not matched: attempts may lack their "
                     "log line and not-on-wire attempts may be missed"},
    [PM_TAB_LINKS] = {"vantage_links", "cross-vantage links", "cross-vantage views not kept",
                      "--max-memory",
                      "the far view of a linked attempt was not kept: NAT facts missing "
                      "(flag \"table-full\")"},
};

/* Who hears each loss (the engine, for its sinks), kept apart from S: set after a reset. */
static pm_table_lost_fn lost_fn;
static void *lost_ctx;

void pm_tables_listen(pm_table_lost_fn fn, void *ctx)
{
    lost_fn = fn;
    lost_ctx = ctx;
}

void pm_tables_reset(uint64_t max_memory)
{
    memset(&S, 0, sizeof(S));
    S.budget = max_memory ? max_memory : PM_DEFAULT_MAX_MEMORY;
}

void pm_table_set_cap(enum pm_table t, uint64_t cap) { S.t[t].cap = cap; }
void pm_table_cap_derived(enum pm_table t) { S.t[t].cap_derived = true; }

bool pm_mem_take(size_t bytes)
{
    if (bytes > S.budget || S.used > S.budget - bytes) {
        return false;
    }
    S.used += bytes;
    if (S.used > S.peak) {
        S.peak = S.used;
    }
    return true;
}

void pm_mem_give(size_t bytes) { S.used = bytes > S.used ? 0 : S.used - bytes; }
uint64_t pm_mem_used(void) { return S.used; }
uint64_t pm_mem_peak(void) { return S.peak; }
uint64_t pm_mem_budget(void) { return S.budget; }

void pm_table_lost(enum pm_table t, uint64_t n, bool by_memory)
{
    if (n == 0) {
        return;
    }
    struct pm_table_state *s = &S.t[t];
    if (s->lost == 0) {
        s->by_memory = by_memory;
    }
    s->lost += n;
    if (lost_fn) {
        lost_fn(lost_ctx, t, n);
    }
    if (S.warned[t]) {
        return;
    }
    S.warned[t] = true;
    char bound[96];
    if (by_memory || s->cap == 0) {
        snprintf(bound, sizeof(bound), "the memory budget of %llu MiB (--max-memory) is spent",
                 (unsigned long long)(S.budget >> 20));
    } else {
        snprintf(bound, sizeof(bound), "it holds %llu %s at most%s", (unsigned long long)s->cap,
                 info[t].entry, s->cap_derived ? ", what --max-memory allows" : "");
    }
    if (t == PM_TAB_SPOOL) {
        snprintf(bound, sizeof(bound), "writing to $TMPDIR failed");
    }
    pm_warn("the %s table is full (%s): %s; results are partial (exit status 4)",
            info[t].key, bound, info[t].effect);
    if (pm_verbosity >= 0) {
        pm_hint("raise the bound: %s", info[t].option);
    }
}

void pm_table_peak(enum pm_table t, uint64_t n)
{
    if (n > S.t[t].peak) {
        S.t[t].peak = n;
    }
}

const struct pm_table_state *pm_table_state(enum pm_table t) { return &S.t[t]; }

bool pm_tables_partial(void)
{
    for (int t = 0; t < PM_TAB__COUNT; t++) {
        if (S.t[t].lost) {
            return true;
        }
    }
    return false;
}

const char *pm_table_key(enum pm_table t) { return info[t].key; }
const char *pm_table_entry(enum pm_table t) { return info[t].entry; }
const char *pm_table_lost_words(enum pm_table t) { return info[t].lost; }
const char *pm_table_option(enum pm_table t) { return info[t].option; }
const char *pm_table_effect(enum pm_table t) { return info[t].effect; }
