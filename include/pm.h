/*
 * pm.h — value types shared by every module of portmortem: addresses, times, exit codes,
 * the vocabulary of the output contract (docs/OUTPUT.md).
 * No module state lives here; one header per module declares its own API.
 */
#ifndef PM_H
#define PM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h" /* every tunable: limits, timeouts, table sizes, defaults */

/* The version comes from the Makefile's VERSION (one place for the binary, the man page
 * check and the Debian package), passed as -DPM_VERSION. */
#ifndef PM_VERSION
#error "PM_VERSION is not defined: build with the Makefile (it passes -DPM_VERSION from VERSION)"
#endif
#define PM_SCHEMA 1

/* Exit status, the same for every subcommand (output contract, "Exit status"). */
enum pm_exit {
    PM_EXIT_OK = 0,         /* ran, nothing failed */
    PM_EXIT_FAILURES = 1,   /* ran, failures found */
    PM_EXIT_USAGE = 2,      /* usage error */
    PM_EXIT_UNREADABLE = 3, /* input unreadable or not a capture */
    PM_EXIT_DAMAGED = 4,    /* ran, but input was damaged and results are partial */
};

/* Time: nanoseconds since the Unix epoch, UTC. int64 covers years 1678..2262. */
typedef int64_t pm_ns;
#define PM_NS_PER_SEC INT64_C(1000000000)
#define PM_NS_PER_MS INT64_C(1000000)
#define PM_SEC(s) ((pm_ns)(s) * PM_NS_PER_SEC)
#define PM_MS(ms) ((pm_ns)(ms) * PM_NS_PER_MS)
#define PM_NS_NONE INT64_MIN
/* Every timestamp read from a capture file is clamped to [0, PM_NS_LIMIT) (2^62 ns: 1970 to
 * 2116), so that the engine can take the difference of any two and add it to a third
 * without overflowing (analyze/capin.c). */
#define PM_NS_LIMIT (INT64_C(1) << 62)

/* An IPv4 or IPv6 address. IPv4 lives in b[0..3], the rest is zero so that
 * memcmp/hash over the whole struct is well defined. */
typedef struct pm_addr {
    uint8_t family; /* PM_AF_NONE, PM_AF_INET, PM_AF_INET6 */
    uint8_t b[16];
} pm_addr;
enum { PM_AF_NONE = 0, PM_AF_INET = 4, PM_AF_INET6 = 6 };

#define PM_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */

/* outcome: what the wire shows (contract §outcome). Order is not significant. */
enum pm_outcome {
    PM_OUT_CONNECTED,
    PM_OUT_SMTP_REJECTED,
    PM_OUT_NO_BANNER,
    PM_OUT_CLOSED_BEFORE_BANNER,
    PM_OUT_REFUSED,
    PM_OUT_ICMP_UNREACHABLE,
    PM_OUT_TTL_EXCEEDED,
    PM_OUT_NO_RESPONSE,
    PM_OUT_NOT_ON_WIRE,
    PM_OUT_INCOMPLETE,
    PM_OUT_TLS_MISMATCH, /* handshake; one side spoke TLS, the other plaintext SMTP */
    PM_OUT__COUNT
};

/* verdict: the attribution (contract §verdict). */
enum pm_verdict {
    PM_V_OK,
    PM_V_LOCAL_FIREWALL,
    PM_V_LOCAL_ROUTING,
    PM_V_NAT_REWRITE,
    PM_V_NAT_DROP,
    PM_V_REMOTE_REFUSED,
    PM_V_PATH_RST,
    PM_V_REMOTE_ICMP,
    PM_V_PATH_ICMP,
    PM_V_SILENT_DROP,
    PM_V_PROVIDER_BLOCK,
    PM_V_NO_BANNER,
    PM_V_SMTP_POLICY,
    PM_V_INCONCLUSIVE,
    PM_V_TLS_MISMATCH,   /* implicit TLS against plaintext SMTP on the same connection */
    PM_V__COUNT
};

/* owner: who must act (contract §owner). */
enum pm_owner {
    PM_OWN_NONE,
    PM_OWN_SENDER_HOST,
    PM_OWN_SENDER_NETWORK,
    PM_OWN_PROVIDER,
    PM_OWN_PATH,
    PM_OWN_RECIPIENT_GATEWAY,
    PM_OWN_RECIPIENT_POSTMASTER,
    PM_OWN_UNKNOWN,
    PM_OWN__COUNT
};

enum pm_confidence { PM_CONF_LOW, PM_CONF_MEDIUM, PM_CONF_HIGH };

const char *pm_outcome_name(enum pm_outcome o);
const char *pm_verdict_name(enum pm_verdict v);
const char *pm_owner_name(enum pm_owner o);
const char *pm_confidence_name(enum pm_confidence c);
/* Reverse lookups for tests and option parsing; return -1 when unknown. */
int pm_outcome_from_name(const char *s);
int pm_verdict_from_name(const char *s);
int pm_owner_from_name(const char *s);

/* True when the outcome is a failure to deliver over this attempt. */
bool pm_outcome_is_failure(enum pm_outcome o);

#endif
