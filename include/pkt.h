/*
 * pkt.h — THE bounds-checked reader. Every byte that comes from a packet, a capture file or
 * a quoted header is read through a pm_cur; no other module dereferences packet memory.
 *
 * A cursor is a window [p, p+cap) of captured bytes that stands for `wire` bytes on the wire
 * (wire >= cap when the capture's snaplen cut the packet). Reading past `cap` but within
 * `wire` is TRUNCATED (the bytes existed, we did not keep them); reading past `wire` is
 * MALFORMED (the packet claims something its own lengths contradict). Errors are sticky:
 * after the first failure every read returns 0 and the status stays set, so a parser checks
 * once per header instead of after every field (tcpdump.org's GET_* guarantee without
 * longjmp). Cursors are plain values: sub-windows are struct copies, never allocations.
 */
#ifndef PM_PKT_H
#define PM_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pm_cur_status {
    PM_CUR_OK = 0,
    PM_CUR_TRUNC = 1, /* ran into the capture's snaplen */
    PM_CUR_BAD = 2,   /* ran past the packet's own declared length */
};

typedef struct pm_cur {
    const uint8_t *p; /* first byte of the window */
    size_t cap;       /* captured bytes in the window */
    size_t wire;      /* bytes the window stands for on the wire (>= cap) */
    size_t off;       /* read position, 0..wire */
    int status;       /* enum pm_cur_status, sticky */
} pm_cur;

/* A window over captured bytes `cap` of a packet whose wire length is `wire`.
 * wire < cap is treated as wire = cap (a lying record header cannot widen reads). */
pm_cur pm_cur_init(const uint8_t *p, size_t cap, size_t wire);

static inline int pm_cur_ok(const pm_cur *c) { return c->status == PM_CUR_OK; }
/* Bytes left before the end of the wire window / of the captured bytes. */
size_t pm_cur_left_wire(const pm_cur *c);
size_t pm_cur_left_cap(const pm_cur *c);

uint8_t pm_u8(pm_cur *c);
uint16_t pm_be16(pm_cur *c);
uint32_t pm_be32(pm_cur *c);
uint16_t pm_le16(pm_cur *c);
uint32_t pm_le32(pm_cur *c);
/* Copy n bytes into dst (zero-filled on failure). */
void pm_bytes(pm_cur *c, void *dst, size_t n);
/* Advance n bytes without reading. */
void pm_skip(pm_cur *c, size_t n);
/* Read at an absolute offset without moving (for peeking at a type field). */
uint8_t pm_peek_u8(const pm_cur *c, size_t at, int *ok);
uint16_t pm_peek_be16(const pm_cur *c, size_t at, int *ok);

/* Take the next n wire bytes as a sub-window and advance past them. The child's cap is
 * what of those n bytes was captured. If n exceeds the wire bytes left, the parent becomes
 * MALFORMED and the child is empty and BAD. */
pm_cur pm_sub(pm_cur *c, size_t n);
/* The rest of the window as a sub-window (advances to the end). */
pm_cur pm_rest(pm_cur *c);
/* Narrow this window's wire length to `n` bytes from its start (an IP total length that
 * is shorter than the frame: Ethernet padding). n larger than wire is MALFORMED. */
void pm_cur_clamp(pm_cur *c, size_t n);

/* Rewriting a private copy of a frame (the bundle's --redact): a 16-bit big-endian word
 * or n bytes at `off`, only when all of it lies within the `cap` captured bytes. They return
 * false (and change nothing) otherwise. */
bool pm_patch_get16(const uint8_t *buf, size_t cap, size_t off, uint16_t *v);
bool pm_patch_put16(uint8_t *buf, size_t cap, size_t off, uint16_t v);
bool pm_patch_get(const uint8_t *buf, size_t cap, size_t off, void *out, size_t n);

#endif
