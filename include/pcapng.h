/*
 * pcapng.h — a bounded reader for pcapng (draft-ietf-opsawg-pcapng): sections of either
 * byte order, any number of interfaces with their own link type, snaplen, timestamp
 * resolution and offset; Enhanced, Simple and obsolete Packet Blocks. Every length in the
 * file is checked before use; one reusable block buffer, capped in size.
 */
#ifndef PM_PCAPNG_H
#define PM_PCAPNG_H

#include <stdio.h>

#include "pm.h"

struct pm_ng_record {
    pm_ns ts;
    uint32_t caplen, wirelen;
    int linktype;
    uint32_t ifid;
    uint8_t ifloop;
    const uint8_t *data;
};

struct pm_pcapng;

/* Takes ownership of f (positioned at the start). NULL + message when the first block is
 * not a valid Section Header Block. */
struct pm_pcapng *pm_pcapng_open(FILE *f, char *err, size_t errlen);
/* 0: a packet; 1: end of file; -1: damaged (message in err). */
int pm_pcapng_next(struct pm_pcapng *ng, struct pm_ng_record *rec, char *err, size_t errlen);
uint64_t pm_pcapng_offset(const struct pm_pcapng *ng);
int pm_pcapng_first_linktype(const struct pm_pcapng *ng);
void pm_pcapng_close(struct pm_pcapng *ng);

#endif
