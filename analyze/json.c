/*
 * json.c — owns JSON output (include/json.h). Every string goes through one escaper.
 */
#include "json.h"

#include "util.h"

/* One thread writes a report: skip stdio's per-call lock. */
#define PUTC(c, f) putc_unlocked((c), (f))

void pm_json_init(struct pm_json *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
}

static void sep(struct pm_json *j)
{
    if (j->depth > 0 && j->depth < PM_JSON_DEPTH) {
        if (!j->first[j->depth]) {
            PUTC(',', j->f);
        }
        j->first[j->depth] = 0;
    }
}

static void open_(struct pm_json *j, char c)
{
    sep(j);
    PUTC(c, j->f);
    j->depth++;
    if (j->depth < PM_JSON_DEPTH) {
        j->first[j->depth] = 1;
    }
}

void pm_json_obj_begin(struct pm_json *j) { open_(j, '{'); }
void pm_json_arr_begin(struct pm_json *j) { open_(j, '['); }

void pm_json_obj_end(struct pm_json *j)
{
    PUTC('}', j->f);
    j->depth--;
    if (j->depth == 0) {
        PUTC('\n', j->f);
    }
}

void pm_json_arr_end(struct pm_json *j)
{
    PUTC(']', j->f);
    j->depth--;
}

static void put_escaped(FILE *f, const char *s, size_t n)
{
    PUTC('"', f);
    size_t run = 0; /* start of the current run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            continue;
        }
        if (i > run) {
            fwrite_unlocked(s + run, 1, i - run, f);
        }
        run = i + 1;
        switch (c) {
        case '"': fputs_unlocked("\\\"", f); break;
        case '\\': fputs_unlocked("\\\\", f); break;
        case '\n': fputs_unlocked("\\n", f); break;
        case '\r': fputs_unlocked("\\r", f); break;
        case '\t': fputs_unlocked("\\t", f); break;
        default: fprintf(f, "\\u%04x", c);
        }
    }
    if (n > run) {
        fwrite_unlocked(s + run, 1, n - run, f);
    }
    PUTC('"', f);
}

static void put_u64(FILE *f, unsigned long long v)
{
    char b[24];
    int i = sizeof(b);
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fwrite_unlocked(b + i, 1, sizeof(b) - (size_t)i, f);
}

size_t pm_json_escape(char *dst, size_t dstlen, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < dstlen; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(dst + o, dstlen - o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    if (dstlen) {
        dst[o < dstlen ? o : dstlen - 1] = '\0';
    }
    return o;
}

void pm_json_key(struct pm_json *j, const char *key)
{
    sep(j);
    put_escaped(j->f, key, strlen(key));
    PUTC(':', j->f);
    if (j->depth < PM_JSON_DEPTH) {
        j->first[j->depth] = 1; /* the value that follows needs no comma */
    }
}

void pm_json_str(struct pm_json *j, const char *s)
{
    if (!s) {
        pm_json_null(j);
        return;
    }
    pm_json_strn(j, s, strlen(s));
}

void pm_json_strn(struct pm_json *j, const char *s, size_t n)
{
    sep(j);
    put_escaped(j->f, s, n);
}

void pm_json_int(struct pm_json *j, long long v)
{
    sep(j);
    if (v < 0) {
        PUTC('-', j->f);
        put_u64(j->f, 0ull - (unsigned long long)v);
    } else {
        put_u64(j->f, (unsigned long long)v);
    }
}

void pm_json_uint(struct pm_json *j, unsigned long long v)
{
    sep(j);
    put_u64(j->f, v);
}

void pm_json_double(struct pm_json *j, double v, int decimals)
{
    sep(j);
    fprintf(j->f, "%.*f", decimals, v);
}

void pm_json_bool(struct pm_json *j, bool v)
{
    sep(j);
    fputs(v ? "true" : "false", j->f);
}

void pm_json_null(struct pm_json *j)
{
    sep(j);
    fputs("null", j->f);
}

void pm_json_addr(struct pm_json *j, const pm_addr *a)
{
    if (!a || a->family == PM_AF_NONE) {
        pm_json_null(j);
        return;
    }
    char b[PM_ADDR_STRLEN];
    pm_json_str(j, pm_addr_str(a, b));
}

void pm_json_time(struct pm_json *j, pm_ns t)
{
    if (t == PM_NS_NONE) {
        pm_json_null(j);
        return;
    }
    char b[40];
    pm_json_str(j, pm_time_str(t, b, sizeof(b)));
}

void pm_json_kstr(struct pm_json *j, const char *k, const char *v)
{
    pm_json_key(j, k);
    pm_json_str(j, v);
}

void pm_json_kint(struct pm_json *j, const char *k, long long v)
{
    pm_json_key(j, k);
    pm_json_int(j, v);
}

void pm_json_kuint(struct pm_json *j, const char *k, unsigned long long v)
{
    pm_json_key(j, k);
    pm_json_uint(j, v);
}

void pm_json_kbool(struct pm_json *j, const char *k, bool v)
{
    pm_json_key(j, k);
    pm_json_bool(j, v);
}

void pm_json_kaddr(struct pm_json *j, const char *k, const pm_addr *a)
{
    pm_json_key(j, k);
    pm_json_addr(j, a);
}

void pm_json_ktime(struct pm_json *j, const char *k, pm_ns t)
{
    pm_json_key(j, k);
    pm_json_time(j, t);
}
