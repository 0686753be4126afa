/*
 * scope.h — where the run's answer about destinations comes from, in one place: each
 * destination's state from its latest attempts (failing, recovered, inconclusive, ok), its
 * verdict and one-line summary, and the run's scope table (analyze/scope.c). The destination
 * lines, the Scope line, the JSON destination and summary objects, the bundle and the exit
 * status all read these, so they cannot disagree about a destination.
 */
#ifndef PM_SCOPE_H
#define PM_SCOPE_H

#include "context.h"

/* A destination's state (JSON destination `state`). Per port, the latest decided attempt
 * (connected, or a failure outcome; `incomplete` decides nothing) is the port's state; the
 * destination is failing when one of its ports is, recovered when none is but one failed
 * before it connected again, ok when every port connected and none failed, inconclusive
 * when a port has nothing but undecided attempts. */
enum pm_dest_state { PM_DS_OK, PM_DS_RECOVERED, PM_DS_INCONCLUSIVE, PM_DS_FAILING, PM_DS__COUNT };
const char *pm_dest_state_name(enum pm_dest_state s);

/* Record one attempt of a destination (its port, first-SYN or log time, outcome). */
void pm_dest_note(struct pm_dest *d, uint16_t dport, pm_ns ts, enum pm_outcome o);
void pm_port_hist_add(struct pm_port_hist *h, pm_ns ts, enum pm_outcome o);

struct pm_dest_view {
    enum pm_dest_state state;
    enum pm_verdict verdict;  /* the most common verdict other than ok; ok when none */
    enum pm_owner owner;      /* the owner the rules gave that verdict here */
    uint32_t verdict_n;       /* attempts with that verdict */
    pm_ns recovered_at;       /* recovered: the first connected attempt after the last
                               * failure (the latest over the ports that recovered) */
    bool recovered_exact;     /* false: recovered_at is an upper bound (PM_PORT_OKS) */
    pm_ns last_ok;            /* failing: the failing port's last connected attempt before its
                               * last failure ("failing again"); PM_NS_NONE when it never did */
    uint16_t port;            /* failing or recovered: that port */
};
void pm_dest_view(const struct pm_dest *d, struct pm_dest_view *v);

/* One destination's one-line verdict ("3 attempts, all refused: path-rst (path)"). */
void pm_dest_line(const struct pm_dest *d, char *buf, size_t len, enum pm_verdict *dv,
                  enum pm_owner *down);

/* ---- the run's scope ---- */

/* What the scope table looks at, collected over the destinations. */
struct pm_scope_in {
    uint32_t counted;                  /* destinations with attempts */
    uint32_t by_state[PM_DS__COUNT];
    uint64_t undecided;                /* attempts with outcome incomplete in the run */
    uint64_t unplaced_failures;        /* failed attempts no destination could hold */
    enum pm_verdict top;               /* most common verdict of the failing destinations */
    enum pm_owner top_owner;
    bool one_net;                      /* every destination in the first failing one's /24 (/48) */
    const struct pm_dest *fail;        /* the first failing destination (sorted order) */
    const struct pm_dest *rec;         /* the destination that recovered last */
    struct pm_dest_view rec_view;
    enum pm_verdict rec_top;           /* most common verdict of the recovered destinations */
    const char *verdict_next[PM_V__COUNT]; /* a next step per verdict (the first attempt's);
                                            * set by the caller after pm_scope_collect */
    const char *fail_next;             /* the first failing destination's own next step (a
                                        * probe's TTL walk to it): before the top verdict's */
};
void pm_scope_collect(struct pm_dest *const *ds, size_t n, uint64_t undecided,
                      uint64_t unplaced_failures, struct pm_scope_in *in);

/* A row of the scope table: the first row whose condition holds gives the summary's `scope`
 * word, the owner it points at (`scope_owner`), the Scope line and the run's Next line.
 * Templates: {failing} {total} {top} {dest} {one_net} {also} {rn} {rdest} {rtop} {rat} {rby}
 * {undecided}; next NULL: the next step of the top verdict, with fail_next after it (or
 * instead of it, when that step says to run the TTL walk). */
#define PM_SCOPE_OWNER_TOP (-1) /* the owner the rules gave the top verdict */
struct pm_scope_row {
    const char *id;
    bool (*when)(const struct pm_scope_in *in);
    enum pm_scope scope;
    int owner; /* enum pm_owner, or PM_SCOPE_OWNER_TOP */
    const char *text;
    const char *next;
};
extern const struct pm_scope_row pm_scope_rows[];
extern const size_t pm_nscope_rows;

struct pm_scope_out {
    const struct pm_scope_row *row;
    enum pm_scope scope;
    enum pm_owner owner;
    uint32_t dests, failing, recovered;
    bool failures;                     /* the exit status's "failures found" (docs/VERDICTS.md) */
    char text[400];
    char next[400];
};
void pm_scope_decide(const struct pm_scope_in *in, struct pm_scope_out *out);

#endif
