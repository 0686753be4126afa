/*
 * watch.h — the pure parts of `portmortem watch` (issue 18; docs/WATCH.md), testable
 * without root or sockets: RFC 5424 records and their rate limit (analyze/syslog_out.c),
 * the per-destination failing/recovered state (analyze/deststate.c) and the Prometheus
 * text exposition (analyze/metrics.c). capture/watch.c drives them from the capture loop.
 */
#ifndef PM_WATCH_H
#define PM_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "pm.h"

/* ---- syslog_out.c ---- */

/* RFC 5424 §6.2.1: facility mail is 2; severities used here. */
enum { PM_SYSLOG_FAC_MAIL = 2 };
enum { PM_SEV_WARNING = 4, PM_SEV_NOTICE = 5, PM_SEV_INFO = 6 };

/* One record: "<PRI>1 TIMESTAMP HOST portmortem PID MSGID - MSG" (no trailing newline;
 * a datagram is one record). HOST and MSGID are cut to RFC 5424's lengths and anything
 * not printable US-ASCII in them becomes '_' (the nil value "-" when empty). Returns the
 * length, or 0 when the record would not fit in `len` (nothing usable is in buf). */
size_t pm_syslog_format(char *buf, size_t len, int severity, pm_ns ts, const char *host,
                        long pid, const char *msgid, const char *msg);

/* At most `per_sec` records per wall-clock second; the rest are counted. */
struct pm_rate {
    uint32_t per_sec;
    int64_t sec;              /* the second being counted */
    uint32_t used;
    uint64_t pending;         /* suppressed in the current second(s), not yet said */
    uint64_t suppressed;      /* in all (the metric) */
};
void pm_rate_init(struct pm_rate *r, uint32_t per_sec);
/* May a record go out at `now_sec`? false: it is counted as suppressed. */
bool pm_rate_take(struct pm_rate *r, int64_t now_sec);
/* Once the second has moved on: how many were suppressed since the last report (then
 * reset), to be said in one "suppressed N records" record; 0 when none. */
uint64_t pm_rate_report(struct pm_rate *r, int64_t now_sec);

/* ---- deststate.c ---- */

enum pm_dstate_change { PM_DSC_NONE, PM_DSC_FAILING, PM_DSC_RECOVERED };

struct pm_dstate_entry {
    pm_addr dst;
    uint16_t port;
    bool used;
    bool failing;
    bool settled;             /* it started failing on a settled verdict (medium or high) */
    uint32_t consecutive;     /* failed attempts in a row */
    pm_ns since;              /* when the current state began (attempt time) */
    pm_ns last;               /* the last attempt seen (for eviction) */
    pm_ns last_ok;            /* the latest ok attempt (PM_NS_NONE: none) */
    pm_ns last_bundle;        /* monotonic time of its last auto bundle (0: none) */
    enum pm_verdict verdict;  /* of the attempt that changed the state */
    enum pm_owner owner;
    enum pm_confidence confidence;
};

struct pm_dstate {
    uint32_t fail_after;
    int n;
    int failing;
    uint64_t evicted;         /* destinations forgotten (table full) */
    struct pm_dstate_entry e[PM_WATCH_MAX_DESTS];
};

void pm_dstate_init(struct pm_dstate *s, uint32_t fail_after);
/* One decided attempt. A failure is any verdict but ok; `fail_after` in a row, or one
 * settled failure (confidence medium or high, not inconclusive), makes the destination
 * failing; the first ok recovers it. Attempts are decided out of order (a refused one
 * lingers for its retry span, an ok one closes in seconds): a failure older than an ok
 * attempt already seen is stale and changes nothing. *entry: the destination's entry (valid until the next
 * call). */
enum pm_dstate_change pm_dstate_update(struct pm_dstate *s, const pm_addr *dst, uint16_t port,
                                       enum pm_verdict v, enum pm_owner o,
                                       enum pm_confidence c, pm_ns ts,
                                       struct pm_dstate_entry **entry);
/* The dest-state JSON object (docs/OUTPUT.md "dest-state"), one line without "\n".
 * `bundle` may be NULL. Returns the length, 0 when it does not fit. */
size_t pm_dstate_json(char *buf, size_t len, const struct pm_dstate_entry *d,
                      const char *bundle);

/* ---- metrics.c ---- */

enum { PM_METRIC_TABLES = 8 };

struct pm_metrics {
    uint16_t ports[PM_MAX_PORTS];
    int nports;
    uint64_t attempts[PM_V__COUNT][PM_OWN__COUNT][PM_MAX_PORTS];
    uint64_t attempts_other_port[PM_V__COUNT][PM_OWN__COUNT]; /* port not in the list */
    int nifs;
    char ifname[PM_CAP_MAX_IFACES][64];
    uint64_t packets[PM_CAP_MAX_IFACES];
    uint64_t kdrops[PM_CAP_MAX_IFACES];
    uint64_t ifdrops[PM_CAP_MAX_IFACES];
    int ntables;
    const char *table[PM_METRIC_TABLES];
    double usage[PM_METRIC_TABLES];
    int failing;
    pm_ns last_decided;       /* PM_NS_NONE: none yet */
    uint64_t bundles;
    uint64_t syslog_suppressed;
};

void pm_metrics_init(struct pm_metrics *m, const uint16_t *ports, int nports);
void pm_metrics_attempt(struct pm_metrics *m, enum pm_verdict v, enum pm_owner o,
                        uint16_t port, pm_ns ts);
/* The text exposition format 0.0.4 (Prometheus), into f. */
void pm_metrics_write(const struct pm_metrics *m, FILE *f);

#endif
