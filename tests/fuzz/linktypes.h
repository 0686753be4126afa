/*
 * linktypes.h — owns the fuzz_decode input format, shared by fuzz_decode.c (which feeds
 * it to the decoder) and mkseeds.c (which writes it from real captures and turns a found
 * input back into a pcap): byte 0 picks an entry of the link-type table, then records.
 */
#ifndef PM_FUZZ_LINKTYPES_H
#define PM_FUZZ_LINKTYPES_H

#include "decode.h"

static const int PM_FUZZ_LINKTYPES[] = {
    PM_LT_ETHERNET, PM_LT_RAW, PM_LT_LINUX_SLL, PM_LT_LINUX_SLL2, PM_LT_NULL, PM_LT_LOOP,
    PM_LT_IPV4, PM_LT_IPV6, PM_LT_NFLOG, 12 /* DLT_RAW */, 14 /* OpenBSD DLT_RAW */,
    147 /* unsupported: USER0 */,
};
#define PM_FUZZ_NLINKTYPES (sizeof(PM_FUZZ_LINKTYPES) / sizeof(PM_FUZZ_LINKTYPES[0]))

/* A record: [dt][caplen:2 big-endian][extra] + caplen bytes (cut at the input's end). dt
 * 0xff steps time +400 s (time-outs fire), 0xfe steps it -1 s (time goes backwards), else
 * dt x 50 ms; extra's bit 0 is the vantage, the rest what the snaplen cut off. */
struct pm_fuzz_rec {
    pm_ns step;
    uint32_t caplen, wirelen;
    uint8_t vantage;
    const uint8_t *data;
};

/* The record at *off; false at the end of the input. */
static inline bool pm_fuzz_next(const uint8_t *d, size_t size, size_t *off,
                                struct pm_fuzz_rec *r)
{
    if (*off + 4 > size) {
        return false;
    }
    uint8_t dt = d[*off], extra = d[*off + 3];
    uint32_t caplen = ((uint32_t)d[*off + 1] << 8) | d[*off + 2];
    *off += 4;
    if (caplen > size - *off) {
        caplen = (uint32_t)(size - *off);
    }
    r->step = dt == 0xff ? PM_SEC(400) : dt == 0xfe ? -PM_SEC(1) : (pm_ns)dt * 50000000;
    r->caplen = caplen;
    r->wirelen = caplen + (extra >> 1);
    r->vantage = extra & 1;
    r->data = d + *off;
    *off += caplen;
    return true;
}

#endif
