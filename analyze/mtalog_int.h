/*
 * mtalog_int.h — private to the MTA log parser (analyze/mtalog*.c), not part of the public
 * interface (include/mtalog.h). Holds the bounded byte-span toolkit every parser uses (a log
 * line is never NUL-terminated and may contain NUL bytes, so no str* function ever touches
 * it), the line header shared between the framing code and the per-MTA parsers, and the
 * time helpers of mtalog_time.c.
 */
#ifndef PM_MTALOG_INT_H
#define PM_MTALOG_INT_H

#include <stddef.h>
#include <string.h>

#include "mtalog.h"

/* ---- spans: a pointer and a length, never read past n ---- */

typedef struct {
    const char *p; /* never NULL, even when n == 0 (memchr/memmem must not get NULL) */
    size_t n;
} pm_span;

static inline pm_span sp_of(const char *p, size_t n)
{
    pm_span s = {p ? p : "", p ? n : 0};
    return s;
}

/* Drop the first k bytes (clamped). */
static inline pm_span sp_from(pm_span s, size_t k)
{
    if (k > s.n) {
        k = s.n;
    }
    return sp_of(s.p + k, s.n - k);
}

/* Keep the first k bytes (clamped). */
static inline pm_span sp_head(pm_span s, size_t k)
{
    return sp_of(s.p, k < s.n ? k : s.n);
}

static inline bool sp_starts(pm_span s, const char *lit)
{
    size_t k = strlen(lit);
    return s.n >= k && memcmp(s.p, lit, k) == 0;
}

static inline bool sp_ends(pm_span s, const char *lit)
{
    size_t k = strlen(lit);
    return s.n >= k && memcmp(s.p + s.n - k, lit, k) == 0;
}

static inline bool sp_eq(pm_span s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* Consume lit when s starts with it. */
static inline bool sp_eat(pm_span *s, const char *lit)
{
    if (!sp_starts(*s, lit)) {
        return false;
    }
    *s = sp_from(*s, strlen(lit));
    return true;
}

/* Offset of the first occurrence of lit, or -1. */
static inline ptrdiff_t sp_find(pm_span s, const char *lit)
{
    size_t k = strlen(lit);
    if (k == 0 || k > s.n) {
        return -1;
    }
    const char *q = memmem(s.p, s.n, lit, k);
    return q ? q - s.p : -1;
}

static inline ptrdiff_t sp_chr(pm_span s, char c)
{
    const char *q = s.n ? memchr(s.p, c, s.n) : NULL;
    return q ? q - s.p : -1;
}

static inline ptrdiff_t sp_rchr(pm_span s, char c)
{
    const char *q = s.n ? memrchr(s.p, c, s.n) : NULL;
    return q ? q - s.p : -1;
}

static inline pm_span sp_rtrim(pm_span s)
{
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t')) {
        s.n--;
    }
    return s;
}

static inline bool sp_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool sp_isalnum(char c)
{
    return sp_isdigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Parse 1..maxd decimal digits at the start of *s into *v and consume them. Fails (nothing
 * consumed) when there is no digit or more than maxd digits follow. */
static inline bool sp_uint(pm_span *s, size_t maxd, uint64_t *v)
{
    size_t i = 0;
    uint64_t x = 0;
    while (i < s->n && sp_isdigit(s->p[i])) {
        if (i == maxd) {
            return false;
        }
        x = x * 10 + (uint64_t)(s->p[i] - '0');
        i++;
    }
    if (i == 0) {
        return false;
    }
    *v = x;
    *s = sp_from(*s, i);
    return true;
}

/* ---- shared parsing helpers (mtalog.c) ---- */

/* The inside of "[...]": optional "IPv6:" prefix (Postfix/Exim/Sendmail may write it),
 * then an IPv4 or IPv6 literal. False for anything else (a length, NUL, zone, garbage). */
bool pm_mtalog_addr(pm_span in, pm_addr *out);
/* A port as digits: 1..65535, at most 5 digits, nothing else. */
bool pm_mtalog_port(pm_span digits, uint16_t *out);
/* The class of an errno text at the start of `s` (glibc and musl spellings). */
enum pm_errclass pm_mtalog_errclass(pm_span s);
/* Class for a Linux errno number (Exim's "defer (111)"). */
enum pm_errclass pm_mtalog_errclass_num(long num);
/* Sanitised copy into a fixed field. */
void pm_mtalog_copy(char *dst, size_t dstlen, pm_span s);
/* Domain of the first recipient in "<user@domain>" / "user@domain" / "<a@b>,<c@d>". */
void pm_mtalog_domain(struct pm_logentry *e, pm_span rcpt);

/* ---- per-MTA message parsers: 1 line of interest, 0 ignore, -1 unparseable ---- */

/* Postfix: `prog` is the last component of the syslog tag ("smtp", "error", ...). */
int pm_mtalog_postfix(pm_span prog, pm_span msg, struct pm_logentry *e);
/* True when `prog` names a Postfix program whose lines this parser reads. */
bool pm_mtalog_postfix_wanted(pm_span prog);
/* Exim: a mainlog line after its timestamp, or a syslog message after the tag. */
int pm_mtalog_exim(pm_span body, struct pm_logentry *e);
/* Sendmail: the syslog message after "sendmail[pid]: ". */
int pm_mtalog_sendmail(pm_span msg, struct pm_logentry *e);

/* Anchor lines: a message entered the queue (no connection for it can start earlier).
 * Each fills e->queue_id and returns true for its MTA's form. */
bool pm_mtalog_postfix_queued(pm_span prog, pm_span msg, struct pm_logentry *e);
bool pm_mtalog_exim_queued(pm_span body, struct pm_logentry *e);
bool pm_mtalog_sendmail_queued(pm_span msg, struct pm_logentry *e);

/* ---- time (mtalog_time.c) ---- */

/* Detected timestamp layout of a line; names in pm_mtalog_fmt_name(). */
enum pm_logfmt {
    PM_LF_NONE,
    PM_LF_SYSLOG,         /* "Nov 28 18:32:49" (also Postfix maillog_file "Nov 02 ...") */
    PM_LF_SYSLOG_PRECISE, /* "Nov 28 18:32:49.123456" (journald short-precise) */
    PM_LF_RFC5424,        /* "<22>1 2026-11-28T18:32:49.123456+01:00 host app pid msgid sd" */
    PM_LF_ISO8601,        /* "2026-11-28T18:32:49.123456+00:00 host tag:" (rsyslog, short-iso) */
    PM_LF_EXIM,           /* "2025-01-01 10:00:00[.123][ +0100]" (Exim mainlog) */
    PM_LF__COUNT
};
const char *pm_mtalog_fmt_name(enum pm_logfmt f);

struct pm_mtalog_ts {
    pm_ns ts;              /* PM_NS_NONE when absent or invalid */
    uint8_t kind;          /* enum pm_tskind */
    uint8_t year_inferred;
    uint8_t digits;        /* fraction digits written (0: whole seconds) */
    bool bad;              /* the shape matched but the values are impossible (Feb 30, 25:00) */
};

/* Each consumes the timestamp at the start of *s on success (the shape matched; check
 * t->bad for the values) and leaves *s alone otherwise. */
bool pm_mtalog_ts_syslog(pm_span *s, const struct pm_log_options *o, struct pm_mtalog_ts *t,
                         bool *precise);
/* ISO 8601 with 'T' (RFC 5424, rsyslog, journald short-iso); a missing zone means o->tz. */
bool pm_mtalog_ts_iso(pm_span *s, const struct pm_log_options *o, struct pm_mtalog_ts *t);
/* Exim's "YYYY-MM-DD HH:MM:SS[.mmm][ +HHMM]" (src/src/tod.c tod_log / tod_log_zone). */
bool pm_mtalog_ts_exim(pm_span *s, const struct pm_log_options *o, struct pm_mtalog_ts *t);

/* ---- the full parse with what the loader needs beyond the entry ---- */

struct pm_mtalog_meta {
    uint8_t fmt;       /* enum pm_logfmt of the timestamp, PM_LF_NONE if none */
    uint8_t mta;       /* MTA named by the tag even when the line is ignored */
    uint32_t hosthash; /* hash of the syslog HOSTNAME (Postfix pids are per host) */
};

int pm_mtalog_parse(const char *line, size_t len, const struct pm_log_options *o,
                    struct pm_logentry *e, struct pm_mtalog_meta *m);

#endif
