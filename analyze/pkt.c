/*
 * pkt.c — owns the bounds-checked cursor (include/pkt.h). This is the only file that reads
 * packet memory directly; every decoder goes through these functions. Keep it tiny and
 * obviously correct: each read checks `off + n <= cap` before touching memory.
 */
#include "pkt.h"

#include <string.h>

pm_cur pm_cur_init(const uint8_t *p, size_t cap, size_t wire)
{
    pm_cur c = {p, cap, wire < cap ? cap : wire, 0, PM_CUR_OK};
    if (p == NULL) {
        c.cap = 0;
    }
    return c;
}

size_t pm_cur_left_wire(const pm_cur *c) { return c->off <= c->wire ? c->wire - c->off : 0; }

size_t pm_cur_left_cap(const pm_cur *c) { return c->off <= c->cap ? c->cap - c->off : 0; }

/* Mark a failed read of n bytes at the current offset: truncated when the bytes exist on
 * the wire but not in the capture, malformed when not even the wire has them. */
static void fail(pm_cur *c, size_t n)
{
    if (c->status != PM_CUR_OK) {
        return;
    }
    c->status = (n <= pm_cur_left_wire(c)) ? PM_CUR_TRUNC : PM_CUR_BAD;
}

/* Can n bytes be read at the current offset? */
static int avail(pm_cur *c, size_t n)
{
    if (c->status != PM_CUR_OK) {
        return 0;
    }
    if (n > pm_cur_left_cap(c)) {
        fail(c, n);
        return 0;
    }
    return 1;
}

uint8_t pm_u8(pm_cur *c)
{
    if (!avail(c, 1)) {
        return 0;
    }
    return c->p[c->off++];
}

uint16_t pm_be16(pm_cur *c)
{
    if (!avail(c, 2)) {
        return 0;
    }
    const uint8_t *q = c->p + c->off;
    c->off += 2;
    return (uint16_t)((q[0] << 8) | q[1]);
}

uint32_t pm_be32(pm_cur *c)
{
    if (!avail(c, 4)) {
        return 0;
    }
    const uint8_t *q = c->p + c->off;
    c->off += 4;
    return ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
}

uint16_t pm_le16(pm_cur *c)
{
    if (!avail(c, 2)) {
        return 0;
    }
    const uint8_t *q = c->p + c->off;
    c->off += 2;
    return (uint16_t)(q[0] | (q[1] << 8));
}

uint32_t pm_le32(pm_cur *c)
{
    if (!avail(c, 4)) {
        return 0;
    }
    const uint8_t *q = c->p + c->off;
    c->off += 4;
    return q[0] | ((uint32_t)q[1] << 8) | ((uint32_t)q[2] << 16) | ((uint32_t)q[3] << 24);
}

void pm_bytes(pm_cur *c, void *dst, size_t n)
{
    if (!avail(c, n)) {
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, c->p + c->off, n);
    c->off += n;
}

void pm_skip(pm_cur *c, size_t n)
{
    if (c->status != PM_CUR_OK) {
        return;
    }
    /* Skipping needs no captured bytes, only wire bytes: a skipped option block that the
     * snaplen cut is fine as long as nothing after it is read. */
    if (n > pm_cur_left_wire(c)) {
        c->status = PM_CUR_BAD;
        return;
    }
    c->off += n;
}

uint8_t pm_peek_u8(const pm_cur *c, size_t at, int *ok)
{
    if (c->status != PM_CUR_OK || at >= c->cap) {
        *ok = 0;
        return 0;
    }
    *ok = 1;
    return c->p[at];
}

uint16_t pm_peek_be16(const pm_cur *c, size_t at, int *ok)
{
    if (c->status != PM_CUR_OK || at > c->cap || c->cap - at < 2) {
        *ok = 0;
        return 0;
    }
    *ok = 1;
    return (uint16_t)((c->p[at] << 8) | c->p[at + 1]);
}

pm_cur pm_sub(pm_cur *c, size_t n)
{
    pm_cur child = {NULL, 0, 0, 0, PM_CUR_BAD};
    if (c->status != PM_CUR_OK) {
        child.status = c->status;
        return child;
    }
    if (n > pm_cur_left_wire(c)) {
        c->status = PM_CUR_BAD;
        return child;
    }
    size_t capleft = pm_cur_left_cap(c);
    child.p = c->p + (c->off < c->cap ? c->off : c->cap);
    child.cap = n < capleft ? n : capleft;
    child.wire = n;
    child.off = 0;
    child.status = PM_CUR_OK;
    c->off += n;
    return child;
}

pm_cur pm_rest(pm_cur *c) { return pm_sub(c, pm_cur_left_wire(c)); }

void pm_cur_clamp(pm_cur *c, size_t n)
{
    if (c->status != PM_CUR_OK) {
        return;
    }
    if (n > c->wire) {
        c->status = PM_CUR_BAD;
        return;
    }
    c->wire = n;
    if (c->cap > n) {
        c->cap = n;
    }
}

/* ---- rewriting a copy (the bundle's --redact) ---- */

bool pm_patch_get(const uint8_t *buf, size_t cap, size_t off, void *out, size_t n)
{
    if (!buf || off > cap || n > cap - off) {
        return false;
    }
    memcpy(out, buf + off, n);
    return true;
}

bool pm_patch_get16(const uint8_t *buf, size_t cap, size_t off, uint16_t *v)
{
    uint8_t b[2];
    if (!pm_patch_get(buf, cap, off, b, 2)) {
        return false;
    }
    *v = (uint16_t)(b[0] << 8 | b[1]);
    return true;
}

bool pm_patch_put16(uint8_t *buf, size_t cap, size_t off, uint16_t v)
{
    if (!buf || off > cap || 2 > cap - off) {
        return false;
    }
    buf[off] = (uint8_t)(v >> 8);
    buf[off + 1] = (uint8_t)v;
    return true;
}
