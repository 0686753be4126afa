/*
 * mtalog.h — MTA log lines in: Postfix, Exim and Sendmail connection and greeting failures
 * (../shared/reference/mta-log-formats.md), with their timestamps (classic syslog, RFC 5424
 * / ISO 8601, journald short-iso / short-precise, Postfix maillog_file), errno texts in
 * glibc and musl spelling, IPv4 and IPv6 literals. Every line is hostile: lengths,
 * brackets, ports and addresses are all checked; a line that does not parse is counted
 * and skipped.
 */
#ifndef PM_MTALOG_H
#define PM_MTALOG_H

#include "pm.h"

enum pm_mta { PM_MTA_UNKNOWN, PM_MTA_POSTFIX, PM_MTA_EXIM, PM_MTA_SENDMAIL };

/* What a line says happened. */
enum pm_logkind {
    PM_LK_CONNECT_FAIL,     /* connect() failed with an errno (refused, timed out, ...) */
    PM_LK_GREETING_LOST,    /* connected; the server closed/reset before the greeting */
    PM_LK_GREETING_TIMEOUT, /* connected; no greeting before the MTA's timer */
    PM_LK_SMTP_REJECT,      /* connected; a 4xx/5xx greeting or reply */
    PM_LK_LOST_LATER,       /* connected; lost or timed out after the greeting */
    PM_LK_DELIVERED,        /* a session that delivered (status=sent, =>, stat=Sent) */
    PM_LK_BIND_FAIL,        /* the local bind failed: no packet can have left */
    PM_LK_NO_ATTEMPT,       /* suspended / retry time not reached: no new connection */
    PM_LK__COUNT
};

/* The errno behind the text (mta-log-formats.md §0). */
enum pm_errclass {
    PM_EC_NONE,
    PM_EC_REFUSED,       /* ECONNREFUSED: "Connection refused" */
    PM_EC_TIMEDOUT,      /* ETIMEDOUT: "Connection timed out" / musl "Operation timed out" */
    PM_EC_HOSTUNREACH,   /* EHOSTUNREACH: "No route to host" / musl "Host is unreachable" */
    PM_EC_NETUNREACH,    /* ENETUNREACH: "Network is unreachable" / musl "Network unreachable" */
    PM_EC_ACCES,         /* EACCES: "Permission denied" */
    PM_EC_PERM,          /* EPERM: "Operation not permitted" */
    PM_EC_ADDRNOTAVAIL,  /* EADDRNOTAVAIL: "Cannot assign requested address" / musl "Address not available" */
    PM_EC_HOSTDOWN,      /* EHOSTDOWN: "Host is down" */
    PM_EC_CONNRESET,     /* ECONNRESET: "Connection reset by peer" */
    PM_EC_INVAL,         /* EINVAL: "Invalid argument" (a blackhole route) */
    PM_EC_OTHER,
    PM_EC__COUNT
};

/* How the timestamp was written. */
enum pm_tskind {
    PM_TS_NONE,       /* no usable time */
    PM_TS_SYSLOG,     /* "Nov 28 18:32:49": no year, no zone */
    PM_TS_ISO_ZONED,  /* RFC 5424 / ISO 8601 / journald short-iso with an offset */
    PM_TS_ISO_LOCAL,  /* ISO-like without a zone (Exim's default "2025-01-01 10:00:00") */
};

#define PM_LOG_HOST 96
#define PM_LOG_TEXT 160
#define PM_LOG_QID 32
#define PM_LOG_DOMAIN 96

struct pm_logentry {
    pm_ns ts;                 /* UTC after zone and year resolution; PM_NS_NONE if none */
    uint8_t tskind;           /* enum pm_tskind */
    uint8_t mta;              /* enum pm_mta */
    uint8_t kind;             /* enum pm_logkind */
    uint8_t err;              /* enum pm_errclass (PM_EC_NONE for SMTP_REJECT/DELIVERED) */
    uint8_t from_status;      /* a summary line (Postfix status=, Exim ==/defer, Sendmail stat=) */
    uint8_t year_inferred;    /* syslog time: the year was chosen, not logged */
    uint8_t ts_digits;        /* fraction digits the stamp carried: 0 = whole seconds
                               * (classic syslog), 6 = µs; see pm_logentry_resolution() */
    uint8_t queued;           /* a line that stands for no attempt but says when a message
                               * entered the queue (Postfix qmgr "(queue active)", Exim "<=",
                               * Sendmail "from="): returned as ignored (0) with ts, mta,
                               * pid and queue_id filled — an anchor for the correlator */
    uint32_t hosthash;        /* hash of the syslog HOSTNAME (pids are per host), 0 none */
    pm_addr addr;             /* destination address (family 0 when the line has none) */
    uint16_t port;            /* 0 when the line does not say (caller assumes 25) */
    int16_t smtp_code;        /* SMTP_REJECT: the reply code */
    int32_t conn_delay_ms;    /* Postfix delays= third field in ms (connection set-up), -1 */
    uint32_t pid;             /* process id from the syslog tag, 0 unknown */
    uint32_t file;            /* index into pm_logset.files */
    uint32_t line;            /* 1-based line number */
    char host[PM_LOG_HOST];   /* destination name as logged (sanitised) */
    char text[PM_LOG_TEXT];   /* the failure text as logged (sanitised) */
    char queue_id[PM_LOG_QID];
    char domain[PM_LOG_DOMAIN]; /* recipient domain when the line names a recipient */
};

struct pm_logfile_stats {
    char *path;
    uint8_t mta;              /* detected MTA (most lines) */
    const char *format;       /* detected timestamp format: "syslog", "rfc5424", ... */
    uint64_t lines;
    uint64_t parsed;          /* lines recognised as one of the kinds above */
    uint64_t ignored;         /* well-formed lines of no interest (other daemons, ...) */
    uint64_t unparseable;     /* lines that claim to be MTA lines but do not parse */
    uint64_t no_attempt;      /* PM_LK_NO_ATTEMPT lines */
    uint64_t merged;          /* summary lines merged into the per-address line before them */
    bool damaged;             /* reading stopped early (gzip data corrupt or truncated, I/O
                               * error): the entries from this file are partial */
};

struct pm_log_options {
    const char *tz;           /* zone for zone-less times: NULL = local zone, "UTC",
                               * "+01:00", or a tz database name */
    int year;                 /* year for syslog times; 0 = infer from ref_time */
    pm_ns ref_time;           /* capture start, for year inference (PM_NS_NONE: now) */
    size_t max_entries;       /* cap on entries kept (0 = none: the memory budget decides) */
};

/* When a message entered the queue: no connection for it can have started earlier. */
struct pm_loganchor {
    pm_ns ts;
    uint8_t mta;
    char queue_id[PM_LOG_QID];
};

struct pm_logset {
    struct pm_logentry *e;    /* attempts and outcomes, sorted by ts after load */
    size_t n, cap;
    struct pm_loganchor *anchors; /* queue entries (bounded: PM_LOG_MAX_ANCHORS) */
    size_t nanchors, anchors_cap;
    uint64_t anchors_dropped;
    struct pm_logfile_stats *files;
    uint32_t nfiles;
    uint64_t dropped;         /* entries over max_entries or the memory budget */
    size_t charged;           /* bytes of e[] taken from the memory budget */
    struct pm_logfeed **feeds; /* per file: its follower's merge state (pm_logset_feed), or
                                * NULL (loaded whole); NULL when no file is followed */
};

/* Room for one more entry in set->e (at most `max` entries; growth charged to the memory
 * budget). False when there is none: the entry is counted as dropped and the loss reported
 * (include/tables.h). */
bool pm_logset_reserve(struct pm_logset *set, size_t max);

/* Live: one parsed line of interest of a followed file `path` (capture/follow.c parses it;
 * the first line of a path adds the file, format "followed"). It is merged exactly as
 * pm_logset_load merges a file's lines (a Postfix status= or Exim == line into the line it
 * repeats), so live and offline see the same entries. Entries stay in arrival order (no
 * pm_logset_finish). Anchors (le->queued) go to pm_logset_add_anchor instead. */
void pm_logset_feed(struct pm_logset *set, const char *path, const struct pm_log_options *o,
                    const struct pm_logentry *le);

/* Load one file ("-" = standard input; gzip-compressed files are detected by magic and
 * decompressed with zlib). Returns 0, or PM_EXIT_UNREADABLE after printing what failed
 * and what to try (PM_EXIT_USAGE when o->tz is not a usable zone). May be called several
 * times to add files. A file that breaks off (corrupt gzip, read error) still returns 0
 * with what was read and files[i].damaged set. */
int pm_logset_load(struct pm_logset *set, const char *path, const struct pm_log_options *o);
/* Keep an anchor line (e->queued); counted in anchors_dropped past the bound. */
void pm_logset_add_anchor(struct pm_logset *set, const struct pm_logentry *e);
/* The time resolution of a line's stamp: 1 s for classic syslog, 1 µs for 6 digits. */
pm_ns pm_logentry_resolution(const struct pm_logentry *e);

/* Sort entries by time (stable); call after the last load. */
void pm_logset_finish(struct pm_logset *set);
void pm_logset_free(struct pm_logset *set);

/* Parse one line (no trailing newline needed; not NUL-terminated necessarily). Returns 1
 * and fills *e for a line of interest, 0 for a line to ignore, -1 for an unparseable MTA
 * line. `o` supplies the zone and year. Pure: used by the loader, unit tests, fuzzers. */
int pm_log_parse_line(const char *line, size_t len, const struct pm_log_options *o,
                      struct pm_logentry *e);

/* errno text → class, accepting glibc and musl spellings; PM_EC_OTHER if unknown. */
enum pm_errclass pm_errclass_from_text(const char *text);
const char *pm_errclass_name(enum pm_errclass c); /* "ECONNREFUSED", ... */
const char *pm_mta_name(enum pm_mta m);           /* "postfix", "exim", "sendmail" */
const char *pm_logkind_name(enum pm_logkind k);
/* True when `tz` is usable as pm_log_options.tz: NULL, "UTC"/"Z", a fixed offset
 * ("+01:00", "-0130"), a tz database name present on this system, or a POSIX TZ rule.
 * pm_logset_load() refuses an unusable zone; callers may check --log-tz earlier. */
bool pm_log_tz_valid(const char *tz);

#endif
