/*
 * tables.h — the run's bounded tables and its memory budget (--max-memory). Every table
 * that can fill (flows, SMTP sessions, destinations, hop references, the spool, MTA log
 * entries, cross-vantage links) grows on demand, charging what it allocates to one budget,
 * up to that budget or an explicit count cap (--max-flows, --max-sessions, --max-dests).
 * When a table cannot take an entry it reports the loss here: counted per table, said once
 * on standard error at once, listed in the summary (`limits`), and the run exits 4
 * (results partial). No silent degradation (issue 15).
 */
#ifndef PM_TABLES_H
#define PM_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h" /* PM_DEFAULT_MAX_MEMORY */

enum pm_table {
    PM_TAB_FLOWS,     /* open attempts */
    PM_TAB_SESSIONS,  /* SMTP dialogues being recorded */
    PM_TAB_DESTS,     /* destinations summarised */
    PM_TAB_HOPREFS,   /* hop references per host and prefix */
    PM_TAB_SPOOL,     /* finished attempts spooled to $TMPDIR (offline) */
    PM_TAB_LOGS,      /* MTA log entries kept */
    PM_TAB_LINKS,     /* attempts linked across vantage points */
    PM_TAB__COUNT
};


struct pm_table_state {
    uint64_t cap;     /* explicit count cap, 0 = only the memory budget */
    uint64_t peak;    /* most entries held at once (or in all, for append-only tables) */
    uint64_t lost;    /* entries (attempts, dialogues, lines, ...) the table could not take */
    bool by_memory;   /* the first loss came from the memory budget, not the count cap */
    bool cap_derived; /* the cap was derived from --max-memory, not given */
};

/* Start a run: forget earlier counts, set the budget in bytes (0: the default). */
void pm_tables_reset(uint64_t max_memory);
void pm_table_set_cap(enum pm_table t, uint64_t cap);
/* The cap was not given but derived from the budget (the flow table's capacity). */
void pm_table_cap_derived(enum pm_table t);
/* Take `bytes` from the budget; false (nothing taken) when it would go over. */
bool pm_mem_take(size_t bytes);
void pm_mem_give(size_t bytes);
uint64_t pm_mem_used(void);
uint64_t pm_mem_peak(void);
uint64_t pm_mem_budget(void);
/* `n` entries lost in table t, because of the count cap or (by_memory) the budget. The
 * first loss of each table is said on standard error at once. */
void pm_table_lost(enum pm_table t, uint64_t n, bool by_memory);
/* Who is told of each loss after the warning's bookkeeping (one listener: the engine,
 * which tells its sinks); NULL to stop. */
typedef void (*pm_table_lost_fn)(void *ctx, enum pm_table t, uint64_t lost);
void pm_tables_listen(pm_table_lost_fn fn, void *ctx);
void pm_table_peak(enum pm_table t, uint64_t n);
const struct pm_table_state *pm_table_state(enum pm_table t);
/* Any table lost anything: the results are partial (exit 4). */
bool pm_tables_partial(void);

/* Words for the report: JSON key, what an entry is, the options that raise the bound, and
 * what a loss does to the results. */
const char *pm_table_key(enum pm_table t);
const char *pm_table_entry(enum pm_table t);
const char *pm_table_lost_words(enum pm_table t); /* "attempts evicted early", ... */
const char *pm_table_option(enum pm_table t);
const char *pm_table_effect(enum pm_table t);

#endif
