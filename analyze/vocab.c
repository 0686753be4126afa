/*
 * vocab.c — owns the words of the output contract (docs/OUTPUT.md):
 * outcome, owner and confidence names (the verdict words are a column of the verdict table,
 * analyze/verdicts.c). Tests and docs use these strings; renaming one is a schema change.
 */
#include <string.h>

#include "pm.h"
#include "util.h"

static const char *const outcome_names[PM_OUT__COUNT] = {
    [PM_OUT_CONNECTED] = "connected",
    [PM_OUT_SMTP_REJECTED] = "smtp-rejected",
    [PM_OUT_NO_BANNER] = "no-banner",
    [PM_OUT_CLOSED_BEFORE_BANNER] = "closed-before-banner",
    [PM_OUT_REFUSED] = "refused",
    [PM_OUT_ICMP_UNREACHABLE] = "icmp-unreachable",
    [PM_OUT_TTL_EXCEEDED] = "ttl-exceeded",
    [PM_OUT_NO_RESPONSE] = "no-response",
    [PM_OUT_NOT_ON_WIRE] = "not-on-wire",
    [PM_OUT_INCOMPLETE] = "incomplete",
    [PM_OUT_TLS_MISMATCH] = "tls-mismatch",
};

static const char *const owner_names[PM_OWN__COUNT] = {
    [PM_OWN_NONE] = "none",
    [PM_OWN_SENDER_HOST] = "sender-host",
    [PM_OWN_SENDER_NETWORK] = "sender-network",
    [PM_OWN_PROVIDER] = "provider",
    [PM_OWN_PATH] = "path",
    [PM_OWN_RECIPIENT_GATEWAY] = "recipient-gateway",
    [PM_OWN_RECIPIENT_POSTMASTER] = "recipient-postmaster",
    [PM_OWN_UNKNOWN] = "unknown",
};

static const char *const confidence_names[] = {"low", "medium", "high"};

const char *pm_outcome_name(enum pm_outcome o)
{
    return (unsigned)o < PM_OUT__COUNT ? outcome_names[o] : "incomplete";
}

const char *pm_owner_name(enum pm_owner o)
{
    return (unsigned)o < PM_OWN__COUNT ? owner_names[o] : "unknown";
}

const char *pm_confidence_name(enum pm_confidence c)
{
    return (unsigned)c < PM_ARRAY_LEN(confidence_names) ? confidence_names[c] : "low";
}

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++) {
        if (names[i] && strcmp(names[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

int pm_outcome_from_name(const char *s) { return lookup(outcome_names, PM_OUT__COUNT, s); }
int pm_owner_from_name(const char *s) { return lookup(owner_names, PM_OWN__COUNT, s); }

bool pm_outcome_is_failure(enum pm_outcome o)
{
    return o != PM_OUT_CONNECTED && o != PM_OUT_INCOMPLETE;
}
