/*
 * bundle.h — the evidence bundle for a network or provider team (--bundle DIR): the text
 * report, the JSON report, a pcap slice with only the failing attempts' packets (and their
 * ICMP errors, probe packets and a little context), one filled-in escalation text per
 * failing destination, the matched MTA log lines, the host context when live, the tool's
 * version and command line, report.html with a ladder diagram per failing attempt, and
 * MANIFEST.sha256 (optionally signed, Ed25519). Written to a temporary directory beside DIR
 * and renamed into place only when complete; an existing DIR is never touched.
 */
#ifndef PM_BUNDLE_H
#define PM_BUNDLE_H

#include "attribute.h"
#include "context.h"
#include "report.h"

struct pm_bundle;

/* What the bundle needs besides the findings, known only at the end of a run. */
struct pm_bundle_inputs {
    const char *const *capture_paths;  /* files to cut the pcap slice from (offline inputs,
                                        * or the live/probe capture written with -w) */
    const int *capture_fds;            /* or NULL: per file, a descriptor to read it through
                                        * (>= 0, kept open by the caller) or -1: by path,
                                        * or -2: a stream already read (left out, noted) */
    int ncaptures;
    const char *const *mta_log_paths;  /* to copy the matched lines from */
    int nmta_logs;
    const char *host_context;          /* live: addresses, routes, firewall rules (text), or NULL */
    const char *sign_key;              /* PEM Ed25519 private key, or NULL */
};

/* Prepare the bundle (as early as possible: in live mode before privileges are dropped).
 * Refuses an existing DIR. Returns NULL and a message (what failed, what to try). */
struct pm_bundle *pm_bundle_open(const char *dir, char *err, size_t errlen);
/* Read and parse the signing key now, while the caller may still be root (issue 19: a key
 * readable only by root used to be read at the end, after the drop, and the whole capture
 * was lost). Returns 0, or an exit status after printing why; the bundle is unchanged. */
int pm_bundle_load_key(struct pm_bundle *b, const char *keypath);
/* Every finding of the run, in report order (the bundle copies what it keeps). */
void pm_bundle_attempt(struct pm_bundle *b, const struct pm_finding *f,
                       const struct pm_attr_env *env);
/* Write everything, the manifest and the signature, and rename into place. Returns 0, or
 * an exit status after printing why (the temporary directory is removed: no half bundle). */
int pm_bundle_finish(struct pm_bundle *b, struct pm_context *ctx,
                     const struct pm_run_summary *s, const struct pm_bundle_inputs *in);
/* Give up (a fatal error elsewhere): remove the temporary directory. */
void pm_bundle_abort(struct pm_bundle *b);

/* `portmortem verify DIR [--verify-key KEY]`: check every hash of MANIFEST.sha256 and the
 * signature; name what differs. Returns the exit status. */
int pm_cmd_verify(int argc, char **argv);

#endif
