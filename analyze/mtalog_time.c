/*
 * mtalog_time.c — owns the timestamps of MTA log lines: the shapes (classic syslog with and
 * without fraction, Postfix maillog_file, RFC 5424 / ISO 8601 / journald short-iso, Exim's
 * mainlog stamp), the year of a year-less syslog time (nearest to the reference time), and
 * the conversion of a zone-less local time to UTC in the zone the user names (--log-tz):
 * the process's own zone, "UTC", a fixed offset, or a tz database name.
 *
 * Zone names are resolved with the C library (setenv TZ + tzset + mktime, then the previous
 * TZ is restored). That is slow and touches the environment, so the UTC offset is cached
 * per zone and local hour: a log of a million lines costs one mktime per distinct hour.
 * The cache makes this file not thread-safe; the parser runs on one thread.
 */
#include "mtalog_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* ---- calendar ---- */

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : dm[m - 1];
}

/* Broken-down civil time, no zone. */
struct civil {
    int y, mo, d, h, mi, s;
    pm_ns frac; /* nanoseconds */
};

/* Years a pm_ns can hold with margin: PM_LOG_YEAR_MIN..PM_LOG_YEAR_MAX (config.h). */
static bool civil_valid(const struct civil *c)
{
    return c->y >= PM_LOG_YEAR_MIN && c->y <= PM_LOG_YEAR_MAX && c->mo >= 1 && c->mo <= 12 &&
           c->d >= 1 && c->d <= days_in_month(c->y, c->mo) && c->h <= 23 && c->mi <= 59 &&
           c->s <= 60;
}

/* Seconds since the epoch as if the civil time were UTC. */
static int64_t civil_naive(const struct civil *c)
{
    return pm_days_from_civil(c->y, (unsigned)c->mo, (unsigned)c->d) * 86400 + c->h * 3600 +
           c->mi * 60 + c->s;
}

/* ---- zones ---- */

/* "UTC", "Z", "GMT", "+01:00", "-0130", "+02": a fixed offset in seconds east. */
static bool fixed_offset(const char *tz, int32_t *off)
{
    if (!strcmp(tz, "UTC") || !strcmp(tz, "utc") || !strcmp(tz, "Z") || !strcmp(tz, "z") ||
        !strcmp(tz, "GMT") || !strcmp(tz, "Etc/UTC") || !strcmp(tz, "UTC0")) {
        *off = 0;
        return true;
    }
    if (tz[0] != '+' && tz[0] != '-') {
        return false;
    }
    pm_span s = sp_of(tz + 1, strlen(tz + 1));
    uint64_t h, m = 0;
    pm_span hs = sp_head(s, 2);
    if (hs.n != 2 || !sp_uint(&hs, 2, &h) || hs.n != 0) {
        return false;
    }
    s = sp_from(s, 2);
    sp_eat(&s, ":");
    if (s.n) {
        if (s.n != 2 || !sp_uint(&s, 2, &m) || s.n != 0) {
            return false;
        }
    }
    if (h > 18 || m > 59) {
        return false;
    }
    int32_t v = (int32_t)(h * 3600 + m * 60);
    *off = tz[0] == '-' ? -v : v;
    return true;
}

/* A regular file that begins with the TZif magic; opened without blocking (a FIFO planted
 * under TZDIR must not hang the start-up). */
static bool is_tzif(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    char magic[4];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
              memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

bool pm_log_tz_valid(const char *tz)
{
    int32_t off;
    if (!tz || fixed_offset(tz, &off)) {
        return true;
    }
    size_t n = strlen(tz);
    if (n == 0 || n > 255) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)tz[i] <= ' ' || (unsigned char)tz[i] >= 0x7f) {
            return false;
        }
    }
    const char *name = tz[0] == ':' ? tz + 1 : tz;
    if (strstr(name, "..")) {
        return false;
    }
    /* "UTC+1" is a POSIX rule meaning one hour *behind* UTC, the opposite of what people
     * who write it mean: refuse it and let the caller suggest "+01:00". */
    if ((!strncmp(name, "UTC", 3) || !strncmp(name, "GMT", 3)) &&
        (name[3] == '+' || name[3] == '-')) {
        return false;
    }
    /* A file name is not a zone: glibc would read any file given as TZ=/path (as root,
     * during a capture), and one that is not a zone file silently means UTC. */
    if (name[0] == '/') {
        return false;
    }
    /* A tz database name: a zone file (it starts with "TZif", RFC 8536 §3.1) under TZDIR
     * or the usual place — not zone.tab or another table that lives beside the zones. */
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    if (is_tzif(path)) {
        return true;
    }
    /* A POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3", "<+03>-3"): name then offset. */
    size_t i = 0;
    if (name[0] == '<') {
        const char *gt = strchr(name, '>');
        if (!gt || gt - name < 4) {
            return false;
        }
        i = (size_t)(gt - name) + 1;
    } else {
        while ((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= 'a' && name[i] <= 'z')) {
            i++;
        }
        if (i < 3) {
            return false;
        }
    }
    if (name[i] == '+' || name[i] == '-') {
        i++;
    }
    /* The offset: hh[:mm[:ss]], hh at most 24 (POSIX), then the end, a DST name or a rule
     * — so that "iso3166.tab" (a table beside the zones) is not taken for a rule. */
    int hh = 0, nd = 0;
    while (sp_isdigit(name[i]) && nd < 3) {
        hh = hh * 10 + (name[i++] - '0');
        nd++;
    }
    if (nd == 0 || nd > 2 || hh > 24) {
        return false;
    }
    for (int k = 0; k < 2 && name[i] == ':'; k++) {
        if (!sp_isdigit(name[i + 1]) || !sp_isdigit(name[i + 2])) {
            return false;
        }
        i += 3;
    }
    char c = name[i];
    return c == '\0' || c == ',' || c == '<' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* mktime() in the current TZ environment: offset of `naive` local time. */
static bool mktime_offset(int64_t naive, int32_t *off)
{
    time_t nt = (time_t)naive;
    struct tm tm;
    if (!gmtime_r(&nt, &tm)) {
        return false;
    }
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1) {
        return false; /* (also 1969-12-31T23:59:59Z, no log time of interest) */
    }
    int64_t d = naive - (int64_t)t;
    if (d < -26 * 3600 || d > 26 * 3600) {
        return false;
    }
    *off = (int32_t)d;
    return true;
}

/* Offset with TZ temporarily set to `name`; the previous TZ (or its absence) is restored. */
static bool named_offset(const char *name, int64_t naive, int32_t *off)
{
    const char *old = getenv("TZ");
    char *saved = old ? pm_xstrdup(old) : NULL;
    bool ok = false;
    if (setenv("TZ", name, 1) == 0) {
        tzset();
        ok = mktime_offset(naive, off);
    }
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    return ok;
}

/* Offsets are cached per local day, and per local hour on the few days a zone changes
 * its offset (transitions fall on hour boundaries in practice): a log spanning three years
 * costs about a thousand mktime() calls however its lines are ordered. The cache belongs to
 * one zone; asking for another (or TZ changing under the process zone, tz NULL) empties
 * it, so a caller that changes TZ never sees stale offsets. */
#define TZC_KEY 64
struct tzc_day {
    bool used;
    bool split; /* the offset changes during this day: use the hour slots */
    int64_t day;
    int32_t off;
};
struct tzc_hour {
    bool used;
    int64_t hour;
    int32_t off;
};
static struct {
    bool valid, local;
    char key[TZC_KEY];
    struct tzc_day days[PM_TZ_CACHE_DAYS];
    struct tzc_hour hours[PM_TZ_CACHE_HOURS];
} tzc;

static int64_t floordiv(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static bool offset_at(const char *tz, int64_t naive, int32_t *off)
{
    return tz ? named_offset(tz, naive, off) : mktime_offset(naive, off);
}

static bool zone_offset(const char *tz, int64_t naive, int32_t *off)
{
    if (tz && fixed_offset(tz, off)) {
        return true;
    }
    const char *key = tz ? tz : getenv("TZ");
    if (!key) {
        key = "";
    }
    if (strlen(key) >= TZC_KEY) {
        return offset_at(tz, floordiv(naive, 3600) * 3600, off); /* too long to cache */
    }
    if (!tzc.valid || tzc.local != (tz == NULL) || strcmp(tzc.key, key) != 0) {
        memset(&tzc, 0, sizeof(tzc));
        tzc.valid = true;
        tzc.local = tz == NULL;
        pm_strlcpy(tzc.key, key, sizeof(tzc.key));
    }
    int64_t day = floordiv(naive, 86400), hour = floordiv(naive, 3600);
    struct tzc_day *d = &tzc.days[(uint64_t)day % PM_TZ_CACHE_DAYS];
    if (!d->used || d->day != day) {
        int32_t first, last;
        if (!offset_at(tz, day * 86400, &first) || !offset_at(tz, day * 86400 + 23 * 3600, &last)) {
            return false;
        }
        *d = (struct tzc_day){.used = true, .split = first != last, .day = day, .off = first};
    }
    if (!d->split) {
        *off = d->off;
        return true;
    }
    struct tzc_hour *h = &tzc.hours[(uint64_t)hour % PM_TZ_CACHE_HOURS];
    if (!h->used || h->hour != hour) {
        int32_t o;
        if (!offset_at(tz, hour * 3600, &o)) {
            return false;
        }
        *h = (struct tzc_hour){.used = true, .hour = hour, .off = o};
    }
    *off = h->off;
    return true;
}

/* Zone-less civil time → UTC ns in o->tz. */
static bool local_to_utc(const struct civil *c, const struct pm_log_options *o, pm_ns *out)
{
    int64_t naive = civil_naive(c);
    int32_t off;
    if (!zone_offset(o->tz, naive, &off)) {
        return false;
    }
    *out = PM_SEC(naive - off) + c->frac;
    return true;
}

/* ---- shapes ---- */

/* Exactly n digits at s[at..]. */
static bool digits_at(pm_span s, size_t at, size_t n, int *out)
{
    if (at + n > s.n) {
        return false;
    }
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s.p[at + i];
        if (!sp_isdigit(ch)) {
            return false;
        }
        v = v * 10 + (ch - '0');
    }
    *out = v;
    return true;
}

/* ".123456" (or ",123"): up to 9 digits kept, up to 32 consumed. Returns bytes used. */
static size_t fraction(pm_span s, size_t at, pm_ns *frac)
{
    *frac = 0;
    if (at >= s.n || (s.p[at] != '.' && s.p[at] != ',') || at + 1 >= s.n ||
        !sp_isdigit(s.p[at + 1])) {
        return 0;
    }
    size_t i = at + 1;
    pm_ns scale = PM_NS_PER_SEC / 10;
    while (i < s.n && sp_isdigit(s.p[i]) && i - at <= 32) {
        *frac += (s.p[i] - '0') * scale;
        scale /= 10;
        i++;
    }
    return i - at;
}

/* "HH:MM:SS" at s[at..]. */
static bool hms_at(pm_span s, size_t at, struct civil *c)
{
    return digits_at(s, at, 2, &c->h) && at + 2 < s.n && s.p[at + 2] == ':' &&
           digits_at(s, at + 3, 2, &c->mi) && at + 5 < s.n && s.p[at + 5] == ':' &&
           digits_at(s, at + 6, 2, &c->s);
}

static pm_ns now_or(pm_ns ref)
{
    return ref == PM_NS_NONE ? pm_now_realtime() : ref;
}

bool pm_mtalog_ts_syslog(pm_span *s, const struct pm_log_options *o, struct pm_mtalog_ts *t,
                         bool *precise)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    pm_span x = *s;
    struct civil c = {0};
    *t = (struct pm_mtalog_ts){.ts = PM_NS_NONE, .kind = PM_TS_NONE};
    if (x.n < 14) {
        return false;
    }
    for (int i = 0; i < 12; i++) {
        if (memcmp(x.p, months[i], 3) == 0) {
            c.mo = i + 1;
        }
    }
    if (!c.mo || x.p[3] != ' ') {
        return false;
    }
    /* Day: "28", " 2" (RFC 3164 pads with a space), "02" (Postfix msg_logger.c uses
     * strftime "%b %d", zero-padded), or a lone "2". */
    size_t at = 4;
    if (x.p[at] == ' ') {
        at++;
    }
    int d1, d2;
    if (!digits_at(x, at, 1, &d1)) {
        return false;
    }
    if (digits_at(x, at + 1, 1, &d2)) {
        c.d = d1 * 10 + d2;
        at += 2;
    } else {
        c.d = d1;
        at += 1;
    }
    if (at >= x.n || x.p[at] != ' ' || !hms_at(x, at + 1, &c)) {
        return false;
    }
    at += 9;
    size_t fl = fraction(x, at, &c.frac);
    at += fl;
    if (at < x.n && x.p[at] != ' ') {
        return false;
    }
    *precise = fl > 0;
    uint8_t digits = (uint8_t)(fl > 1 ? PM_MIN(fl - 1, 9u) : 0);
    *s = sp_from(x, at);

    t->kind = PM_TS_SYSLOG;
    t->ts = PM_NS_NONE;
    t->digits = digits;
    t->bad = true;
    if (c.d < 1 || c.d > 31 || c.h > 23 || c.mi > 59 || c.s > 60) {
        return true;
    }
    if (o->year) {
        c.y = o->year;
        if (civil_valid(&c) && local_to_utc(&c, o, &t->ts)) {
            t->bad = false;
        }
        return true;
    }
    /* No year in the line: of last year, this year and next year (of the reference time),
     * take the one that puts the line nearest to the reference. A Dec 31 line read with a
     * Jan 1 capture belongs to the year before. */
    pm_ns ref = now_or(o->ref_time);
    time_t rs = (time_t)(ref / PM_NS_PER_SEC);
    struct tm rtm;
    if (!gmtime_r(&rs, &rtm)) {
        return true;
    }
    int ry = rtm.tm_year + 1900;
    pm_ns best = PM_NS_NONE;
    uint64_t best_dist = UINT64_MAX;
    /* Feb 29 exists only in leap years: widen to +-4 years when +-1 had none. */
    for (int span = 1; span <= 4 && best == PM_NS_NONE; span += 3) {
        for (int y = ry - span; y <= ry + span; y++) {
            c.y = y;
            pm_ns cand;
            if (!civil_valid(&c) || !local_to_utc(&c, o, &cand)) {
                continue;
            }
            uint64_t dist = cand > ref ? (uint64_t)(cand - ref) : (uint64_t)(ref - cand);
            if (dist < best_dist) {
                best_dist = dist;
                best = cand;
            }
        }
    }
    if (best != PM_NS_NONE) {
        t->ts = best;
        t->year_inferred = 1;
        t->bad = false;
    }
    return true;
}

/* "YYYY-MM-DD" at the start. */
static bool date_at(pm_span s, struct civil *c)
{
    return digits_at(s, 0, 4, &c->y) && s.n > 4 && s.p[4] == '-' &&
           digits_at(s, 5, 2, &c->mo) && s.n > 7 && s.p[7] == '-' &&
           digits_at(s, 8, 2, &c->d);
}

/* Zone suffix at s[at..]: "Z", "+HH:MM", "+HHMM", "+HH". Returns bytes used, 0 if none,
 * sets *bad for a malformed one. */
static size_t zone_at(pm_span s, size_t at, int32_t *off, bool *has, bool *bad)
{
    *has = false;
    if (at >= s.n) {
        return 0;
    }
    if (s.p[at] == 'Z' || s.p[at] == 'z') {
        *has = true;
        *off = 0;
        return 1;
    }
    if (s.p[at] != '+' && s.p[at] != '-') {
        return 0;
    }
    int h, m = 0;
    size_t i = at + 1;
    if (!digits_at(s, i, 2, &h)) {
        *bad = true;
        return 0;
    }
    i += 2;
    if (i < s.n && s.p[i] == ':') {
        i++;
    }
    if (digits_at(s, i, 2, &m)) {
        i += 2;
    }
    if (h > 23 || m > 59) {
        *bad = true;
    }
    *has = true;
    *off = (h * 3600 + m * 60) * (s.p[at] == '-' ? -1 : 1);
    return i - at;
}

static void finish_iso(const struct civil *c, bool has_zone, int32_t off,
                       const struct pm_log_options *o, struct pm_mtalog_ts *t)
{
    t->ts = PM_NS_NONE;
    t->year_inferred = 0;
    if (!civil_valid(c)) {
        t->bad = true;
        t->kind = has_zone ? PM_TS_ISO_ZONED : PM_TS_ISO_LOCAL;
        return;
    }
    if (has_zone) {
        t->kind = PM_TS_ISO_ZONED;
        t->ts = PM_SEC(civil_naive(c) - off) + c->frac;
    } else {
        t->kind = PM_TS_ISO_LOCAL;
        if (!local_to_utc(c, o, &t->ts)) {
            t->bad = true;
        }
    }
}

bool pm_mtalog_ts_iso(pm_span *s, const struct pm_log_options *o, struct pm_mtalog_ts *t)
{
    pm_span x = *s;
    struct civil c = {0};
    if (!date_at(x, &c) || x.n < 19 || (x.p[10] != 'T' && x.p[10] != 't') ||
        !hms_at(x, 11, &c)) {
        return false;
    }
    size_t at = 19;
    size_t fl = fraction(x, at, &c.frac);
    at += fl;
    bool has = false, bad = false;
    int32_t off = 0;
    at += zone_at(x, at, &off, &has, &bad);
    if (at < x.n && x.p[at] != ' ') {
        return false;
    }
    *s = sp_from(x, at);
    t->bad = bad;
    t->digits = (uint8_t)(fl > 1 ? PM_MIN(fl - 1, 9u) : 0);
    finish_iso(&c, has, off, o, t);
    if (bad) {
        t->bad = true;
        t->ts = PM_NS_NONE;
    }
    return true;
}

bool pm_mtalog_ts_exim(pm_span *s, const struct pm_log_options *o, struct pm_mtalog_ts *t)
{
    pm_span x = *s;
    struct civil c = {0};
    if (!date_at(x, &c) || x.n < 19 || x.p[10] != ' ' || !hms_at(x, 11, &c)) {
        return false;
    }
    size_t at = 19;
    /* log_selector +millisec adds ".mmm"; log_timezone adds " +HHMM" (tod.c %+03d%02d). */
    size_t fl = fraction(x, at, &c.frac);
    at += fl;
    t->digits = (uint8_t)(fl > 1 ? PM_MIN(fl - 1, 9u) : 0);
    if (at < x.n && x.p[at] != ' ') {
        return false;
    }
    bool has = false, bad = false;
    int32_t off = 0;
    if (at + 6 <= x.n && (x.p[at + 1] == '+' || x.p[at + 1] == '-')) {
        int hhmm;
        if (digits_at(x, at + 2, 4, &hhmm) && (at + 6 == x.n || x.p[at + 6] == ' ')) {
            at += 1 + zone_at(x, at + 1, &off, &has, &bad);
        }
    }
    *s = sp_from(x, at);
    t->bad = bad;
    finish_iso(&c, has, off, o, t);
    if (bad) {
        t->bad = true;
        t->ts = PM_NS_NONE;
    }
    return true;
}

const char *pm_mtalog_fmt_name(enum pm_logfmt f)
{
    switch (f) {
    case PM_LF_SYSLOG:
        return "syslog";
    case PM_LF_SYSLOG_PRECISE:
        return "syslog-precise";
    case PM_LF_RFC5424:
        return "rfc5424";
    case PM_LF_ISO8601:
        return "iso8601";
    case PM_LF_EXIM:
        return "exim";
    case PM_LF_NONE:
    case PM_LF__COUNT:
        break;
    }
    return "none";
}
