/*
 * throttle.c — owns the token bucket that paces test SYNs (capture/probe_int.h). Pure: the
 * caller passes CLOCK_MONOTONIC time, so the unit tests drive it with made-up clocks.
 *
 * Why a bucket and not "sleep 1/rate between sends": the probe waits for replies between
 * sends anyway, so a bucket lets it send as soon as the budget allows and never faster.
 * Why a small burst (the caller uses 1): a TTL walk is a handful of packets, and evenly
 * spaced probes are what router ICMP rate limits (Linux: 1/s per destination by default,
 * icmp_ratelimit) tolerate best. Why the gap rule: after a long pause the bucket holds at
 * most `burst` tokens, so a stalled process (SIGSTOP, a suspended VM, a slow DNS answer)
 * cannot release a batch afterwards (masscan #1 overshot its rate 2-4x for lack of this).
 */
#include "probe_int.h"

void pm_throttle_init(struct pm_throttle *t, double rate, double burst, pm_ns now)
{
    /* A rate of 0 or less would never send: treat as the slowest sensible pace. */
    t->rate = rate > 0 ? rate : 0.001;
    t->burst = burst >= 1 ? burst : 1;
    t->tokens = t->burst; /* the first probe goes at once */
    t->last = now;
}

static void refill(struct pm_throttle *t, pm_ns now)
{
    if (now <= t->last) {
        /* The monotonic clock does not go back; if a caller's clock does, wait it out
         * rather than mint tokens from a negative interval. */
        return;
    }
    pm_ns gap = now - t->last;
    t->last = now;
    if (gap >= PM_THROTTLE_GAP) {
        /* Long gap: a full bucket, but never more than a full bucket. */
        t->tokens = t->burst;
        return;
    }
    t->tokens += (double)gap / 1e9 * t->rate;
    if (t->tokens > t->burst) {
        t->tokens = t->burst;
    }
}

bool pm_throttle_take(struct pm_throttle *t, pm_ns now)
{
    refill(t, now);
    /* A tiny epsilon: 3 tokens/s over exactly 1/3 s must give a whole token despite the
     * rounding of the double arithmetic. */
    if (t->tokens >= 1.0 - 1e-9) {
        t->tokens -= 1.0;
        if (t->tokens < 0) {
            t->tokens = 0;
        }
        return true;
    }
    return false;
}

pm_ns pm_throttle_wait(struct pm_throttle *t, pm_ns now)
{
    refill(t, now);
    if (t->tokens >= 1.0 - 1e-9) {
        return 0;
    }
    double need = (1.0 - t->tokens) / t->rate; /* seconds */
    pm_ns ns = (pm_ns)(need * 1e9) + 1;
    return ns > 0 ? ns : 1;
}
