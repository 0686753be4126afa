/*
 * util.h — small helpers every module uses: checked allocation (start-up only, never per
 * packet), address and time formatting, text sanitising, and the diagnostics channel
 * (errors that say what failed, why and what to try; warnings printed once per class).
 */
#ifndef PM_UTIL_H
#define PM_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "pm.h"

/* ---- allocation: abort with a clear message on exhaustion (used at start-up) ---- */
void *pm_xcalloc(size_t n, size_t size);
void *pm_xmalloc(size_t size);
void *pm_xreallocarray(void *p, size_t n, size_t size);
char *pm_xstrdup(const char *s);

/* ---- addresses ---- */
/* Format into buf (>= PM_ADDR_STRLEN). Returns buf. "-" for PM_AF_NONE. */
char *pm_addr_str(const pm_addr *a, char *buf);
/* Parse a literal IPv4/IPv6 address (no brackets, no zone). Returns false when invalid. */
bool pm_addr_parse(const char *s, pm_addr *out);
bool pm_addr_eq(const pm_addr *a, const pm_addr *b);
void pm_addr_from_v4(pm_addr *a, const uint8_t b[4]);
void pm_addr_from_v6(pm_addr *a, const uint8_t b[16]);
/* Loopback (127/8, ::1), unspecified, multicast, limited broadcast. */
bool pm_addr_is_loopback(const pm_addr *a);
bool pm_addr_is_unspecified(const pm_addr *a);
bool pm_addr_is_multicast(const pm_addr *a);
bool pm_addr_is_broadcast(const pm_addr *a);
/* Same prefix of `bits` leading bits (families must match). */
bool pm_addr_same_prefix(const pm_addr *a, const pm_addr *b, unsigned bits);

/* ---- time ---- */
/* RFC 3339 UTC with microseconds: 2026-11-28T18:32:49.123456Z. buf >= 32. */
char *pm_time_str(pm_ns t, char *buf, size_t len);
/* Short form for the text report: 18:32:49.123 (UTC); with the date first
 * ("2026-11-28 18:32:49.123") when the report spans more than one day or t lies on
 * another day than the report (pm_time_context). */
char *pm_time_short(pm_ns t, char *buf, size_t len);
/* What the report covers (UTC): times are shown with their date when first and last lie
 * on different days, or when a time lies on another day. PM_NS_NONE: no context (time of
 * day only). Process-wide, like the report it serves. */
void pm_time_context(pm_ns first, pm_ns last);
/* Seconds with millisecond precision, e.g. "3.012" (JSON-like contexts; prefer
 * pm_delay_str for people). */
char *pm_dur_str(pm_ns d, char *buf, size_t len);
/* A delay for people, with its unit: "85 µs", "0.42 ms", "42.1 ms", "3.012 s", "127 s".
 * Never negative: a negative value (clocks out of order) prints as "0 µs"; callers say
 * what the order was. buf >= 24. */
char *pm_delay_str(pm_ns d, char *buf, size_t len);
/* Parse RFC 3339 / ISO 8601 ("2026-11-28T18:32:49Z", "...+01:00", "2026-11-28 18:32:49")
 * or "@EPOCH"; a time without zone is UTC. */
bool pm_time_parse(const char *s, pm_ns *out);
pm_ns pm_now_realtime(void);
pm_ns pm_now_monotonic(void);

/* ---- text from the wire or from logs: attacker-controlled ---- */
/* Copy at most srclen bytes of src into dst (size dstlen, always NUL-terminated), keeping
 * printable ASCII and replacing everything else (controls, DEL, bytes >= 0x80) with '?'.
 * CR/LF/TAB become ' '. Returns the number of bytes written. */
size_t pm_sanitize(char *dst, size_t dstlen, const uint8_t *src, size_t srclen);

/* UTF-8 (RFC 3629): the length of the well-formed sequence at s (at most n bytes), or 0
 * when the byte there starts none (a continuation byte, C0/C1/F5-FF, an overlong form, a
 * surrogate, above U+10FFFF, cut short); *cp gets the code point. */
size_t pm_utf8_seq(const uint8_t *s, size_t n, uint32_t *cp);
/* Code points that act on a terminal or on how a line is read rather than being read: C0
 * and C1 controls, DEL, U+2028/U+2029, the bidirectional formatting characters. */
bool pm_unicode_unsafe(uint32_t cp);
/* For diagnostics on a terminal: like pm_sanitize, but well-formed UTF-8 that is not
 * unsafe (above) is kept whole, so "—" and a UTF-8 file name stay readable; every other
 * byte outside printable ASCII is '?' (CR/LF/TAB ' '). Never cuts a character. */
size_t pm_sanitize_display(char *dst, size_t dstlen, const char *src, size_t srclen);

/* Copy with truncation, always NUL-terminated (BSD strlcpy). Returns strlen(src). */
size_t pm_strlcpy(char *dst, const char *src, size_t size);

/* ---- parsing helpers ---- */
/* The one strict parser of numeric option values (main.c, capture/ and the option table of analyze/opts.c use nothing else):
 * the whole string must be a plain decimal number — an optional sign, digits, and for
 * pm_parse_double/pm_parse_secs an optional fraction and exponent — with no blanks, no
 * hex, no "nan"/"inf", no overflow, and within [min,max]. Returns false otherwise and
 * leaves *out alone. */
bool pm_parse_long(const char *s, long min, long max, long *out);
bool pm_parse_double(const char *s, double min, double max, double *out);
/* Seconds (pm_parse_double) to nanoseconds, rounded to the nearest. */
bool pm_parse_secs(const char *s, double min, double max, pm_ns *out);
/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil): the one date arithmetic of RFC 3339 options and MTA log times, so that
 * neither depends on the TZ environment. m is 1..12, d 1..31 (not checked here). */
int64_t pm_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Parse "25,465,587" into a port list; returns count or -1. */
int pm_parse_ports(const char *s, uint16_t *ports, int max);

/* ---- files written as root (issue 19) ---- */
/* Open PATH for writing (read-write, close-on-exec) so that nothing written as root can be
 * turned against the host. As root (euid 0):
 *   - a symbolic link at PATH is never followed (O_NOFOLLOW), at any point;
 *   - a new file is created with O_EXCL and mode 0600 (*created = true);
 *   - an existing PATH is used only if it is a regular file with a single link, owned by
 *     the real user (tcpdump's replacing of one's own file) or by also_owner (the -Z user,
 *     (uid_t)-1 for none; and then only with no group/other bits, as an earlier run left
 *     it); it is truncated, its owner and mode left alone. A FIFO is
 *     refused without blocking, a device or directory without being opened.
 * Not root: the file is created or truncated (0600), still without following a symlink;
 * pipes, terminals and /dev/null stay allowed (read-write when permitted, else write-only).
 * Returns the descriptor, or -1 with errno set and `why` saying what was refused. The
 * caller never chowns or chmods a file unless *created. */
int pm_open_output(const char *path, uid_t also_owner, bool *created, char *why, size_t whylen);

/* ---- diagnostics ---- */
/* Program name for messages ("portmortem"). */
extern const char *pm_progname;
/* Verbosity: 0 normal, 1 -v, 2 -vv; quiet < 0. */
extern int pm_verbosity;
/* Every diagnostic below is sanitised whole (pm_sanitize_display): pass names and other
 * user- or file-given strings as they are. */
/* "portmortem: <msg>" on stderr. */
void pm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "  hint: <msg>" on stderr: what to try. */
void pm_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pm_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pm_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pm_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "portmortem: <msg>" on stderr, whatever the verbosity (the caller decides): progress
 * notes such as "bundle DIR written". */
void pm_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warn once per class (a static flag at the call site), then only count. */
#define PM_WARN_ONCE(...)                                                                     \
    do {                                                                                      \
        static bool pm_warned_;                                                               \
        if (!pm_warned_) {                                                                    \
            pm_warned_ = true;                                                                \
            pm_warn(__VA_ARGS__);                                                             \
        }                                                                                     \
    } while (0)
/* Fatal: print and exit with the given status. */
_Noreturn void pm_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Count of elements of a true array. */
#define PM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Poison unsafe string functions (masscan's util-safefunc.h idea): any use fails to compile.
 * <string.h> and <stdio.h> are included above so their declarations come first. */
#ifndef PM_ALLOW_UNSAFE
#pragma GCC poison strcpy strcat sprintf vsprintf gets
#endif

#endif
