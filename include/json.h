/*
 * json.h — a minimal streaming JSON writer for JSON Lines: one object per line, strings
 * escaped per RFC 8259 §7. Well-formed UTF-8 (RFC 3629) is written as it is; control
 * characters (C0, DEL, C1), U+2028/U+2029 and the bidirectional formatting characters as
 * \uXXXX; each byte that is not part of a well-formed UTF-8 sequence as \ufffd (U+FFFD).
 * The output is valid UTF-8 and valid JSON for any input (analyze/json.c says why).
 */
#ifndef PM_JSON_H
#define PM_JSON_H

#include <stdio.h>

#include "pm.h"


struct pm_json {
    FILE *f;
    int depth;
    size_t len;                         /* bytes waiting in buf */
    char buf[PM_JSON_BUF];              /* written to f when a top-level value ends */
    unsigned char first[PM_JSON_DEPTH]; /* no member written yet at this depth */
    unsigned char pretty;               /* not used for JSONL */
};

void pm_json_init(struct pm_json *j, FILE *f);
/* Hand what is buffered to the FILE (done by itself whenever a top-level value ends). */
void pm_json_flush(struct pm_json *j);
void pm_json_obj_begin(struct pm_json *j);
void pm_json_obj_end(struct pm_json *j);   /* at depth 0 also writes "\n" */
void pm_json_arr_begin(struct pm_json *j);
void pm_json_arr_end(struct pm_json *j);
void pm_json_key(struct pm_json *j, const char *key);
void pm_json_str(struct pm_json *j, const char *s);
void pm_json_strn(struct pm_json *j, const char *s, size_t n);
void pm_json_int(struct pm_json *j, long long v);
void pm_json_uint(struct pm_json *j, unsigned long long v);
void pm_json_double(struct pm_json *j, double v, int decimals);
/* A duration in nanoseconds as milliseconds with 3 decimals (the bytes of "%.3f" of
 * d / 1e6), or null when d is PM_NS_NONE. */
void pm_json_ms(struct pm_json *j, pm_ns d);
void pm_json_bool(struct pm_json *j, bool v);
void pm_json_null(struct pm_json *j);
void pm_json_addr(struct pm_json *j, const pm_addr *a);   /* string, or null when unset */
void pm_json_time(struct pm_json *j, pm_ns t);            /* RFC 3339, or null */
/* key + value shorthands */
void pm_json_kstr(struct pm_json *j, const char *k, const char *v);
void pm_json_kint(struct pm_json *j, const char *k, long long v);
void pm_json_kuint(struct pm_json *j, const char *k, unsigned long long v);
void pm_json_kbool(struct pm_json *j, const char *k, bool v);
void pm_json_kaddr(struct pm_json *j, const char *k, const pm_addr *a);
void pm_json_ktime(struct pm_json *j, const char *k, pm_ns t);

/* Escape into a buffer (the same rules, without the quotes), always terminated; stops
 * before an escape or UTF-8 sequence that would not fit. */
size_t pm_json_escape(char *dst, size_t dstlen, const char *s);

#endif
