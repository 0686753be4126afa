/*
 * fuzz_decode.c — owns the libFuzzer target for the packet decoder and the attempt tracker.
 *
 * Input format (so that one input is a short packet sequence, not a single frame, and the
 * tracker's state machine is reached, not only the decoder):
 *   byte 0          link type selector (index into PM_FUZZ_LINKTYPES, linktypes.h, modulo its length)
 *   then records:   [dt:u8][caplen:u16 BE][extra:u8][caplen bytes]
 *                   dt:    0xff = +400 s (timeouts fire), 0xfe = -1 s (time goes backwards),
 *                          else dt * 50 ms
 *                   extra: bit 0 = vantage (two vantages), bits 1-7 = wire bytes beyond the
 *                          capture (a snaplen cut)
 * The last record takes what is left when fewer than caplen bytes remain. Each frame is
 * copied into a buffer of exactly its capture length so ASan sees any overread.
 *
 * The tracker runs with a tiny table (16 flows, 2 SMTP sessions) so eviction, session
 * exhaustion and time-outs are all reachable; every finished attempt goes through
 * pm_attempt_outcome / conn_state / reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attempt.h"
#include "decode.h"
#include "linktypes.h"
#include "track.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pm_ns g_end;
static volatile unsigned g_sink;

static void on_done(void *ctx, const struct pm_attempt *a, const struct pm_smtp_summary *smtp)
{
    (void)ctx;
    enum pm_outcome o = pm_attempt_outcome(a, g_end, (a->id & 1) != 0);
    const char *cs = pm_attempt_conn_state(a);
    const char *rs = pm_attempt_reason(a);
    g_sink += (unsigned)o + (unsigned)strlen(cs) + (unsigned)(rs ? strlen(rs) : 0) + /* NULL for a mid-stream join */
              (unsigned)strnlen(a->history, sizeof(a->history));
    if (smtp) {
        g_sink += (unsigned)smtp->nreplies + (unsigned)strlen(smtp->banner);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    int linktype = PM_FUZZ_LINKTYPES[data[0] % PM_FUZZ_NLINKTYPES];
    struct pm_track_config tc = {
        .ports = {25, 465, 587},
        .nports = 3,
        .max_flows = 16,
        .max_sessions = 2,
        .seed = 1,
        .nvantage = 2,
    };
    struct pm_tracker *t = pm_tracker_new(&tc, on_done, NULL);
    pm_ns ts = PM_SEC(1700000000);
    size_t off = 1;
    uint32_t frame = 0;
    struct pm_fuzz_rec r;
    while (pm_fuzz_next(data, size, &off, &r)) {
        ts += r.step;
        uint32_t caplen = r.caplen;
        uint8_t *frame_buf = malloc(caplen ? caplen : 1);
        if (caplen) {
            memcpy(frame_buf, r.data, caplen);
        }
        struct pm_pkt pkt;
        memset(&pkt, 0xa5, sizeof(pkt)); /* pm_decode must set what it reports */
        pkt.ts = ts;
        pkt.frame = ++frame;
        pkt.vantage = r.vantage;
        pkt.on_loopback = 0;
        pm_decode(&pkt, linktype, frame_buf, caplen, r.wirelen);
        if (pkt.status == PM_PKT_OK && pkt.proto == 6) {
            /* What the report would print from a decoded TCP packet. */
            g_sink += pkt.sport + pkt.dport + pkt.opts.nkinds;
        }
        if (pkt.has_quote) {
            g_sink += (unsigned)strlen(pm_icmp_text(pkt.family, pkt.icmp_type, pkt.icmp_code));
            g_sink += (unsigned)strlen(pm_icmp_reason(pkt.family, pkt.icmp_type, pkt.icmp_code));
        }
        pm_tracker_packet(t, &pkt, 0);
        free(frame_buf);
    }
    g_end = ts;
    pm_tracker_flush(t);
    pm_tracker_free(t);
    return 0;
}
