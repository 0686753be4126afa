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

/* ---- where the bundle's files are created (issue 17.4) ----
 * The bundle writer (analyze/) never forks, changes its credentials or passes descriptors:
 * it is handed a store that creates its files, commits the directory into place or removes
 * it. Without one it does the same operations itself (pm_bundle_fs_*: plain openat/rename,
 * no privilege). capture/bundle_helper.c provides the store a privileged run needs: a
 * helper process that keeps root's ownership of the temporary directory after the main
 * process drops its privileges. */
struct pm_bundle_store;
struct pm_bundle_store_ops {
    /* A new file NAME (a checked plain name) in the temporary directory, opened read-write:
     * the descriptor, or -1 with errno set. */
    int (*create)(struct pm_bundle_store *s, const char *name);
    /* fsync and rename the temporary directory to DIR (never replacing anything). A file
     * named `private_name` (or NULL) is first moved out, beside DIR as "DIR.<name>", mode
     * 0600: ours, not for the people the bundle goes to. Returns 0 or an errno (the
     * temporary directory is then removed). Frees the store either way. */
    int (*commit)(struct pm_bundle_store *s, const char *private_name);
    /* Remove the temporary directory; frees the store. */
    void (*abort)(struct pm_bundle_store *s);
};
struct pm_bundle_store {
    const struct pm_bundle_store_ops *ops;
};
/* Make a store over the temporary directory (dirfd, named tmpbase in parentfd; DIR is base
 * there). On success the store owns both descriptors; NULL (errno set) leaves them to the
 * caller, which then writes directly. */
typedef struct pm_bundle_store *pm_bundle_store_start(int parentfd, int dirfd,
                                                      const char *tmpbase, const char *base);

/* The operations themselves, for a store and for the direct mode (no privilege used). */
int pm_bundle_fs_create(int dirfd, const char *name);
int pm_bundle_fs_commit(int parentfd, int dirfd, const char *tmpbase, const char *base,
                        const char *private_name);
void pm_bundle_fs_remove(int parentfd, int dirfd, const char *tmpbase);

/* What the command line asks of the bundle (issue 16.5). */
struct pm_bundle_options {
    pm_bundle_store_start *store;      /* NULL: write directly (no helper process) */
    bool host_context;                 /* --bundle-host-context: host-context.txt in the
                                        * bundle; without it, beside it as DIR.host-context.txt */
    bool redact;                       /* --redact: internal addresses and host names replaced */
    const pm_addr *expect_source;      /* --expect-source: our public addresses */
    int nexpect;
};

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
/* The same with options (NULL: the defaults, as pm_bundle_open). */
struct pm_bundle *pm_bundle_open_with(const char *dir, const struct pm_bundle_options *o,
                                      char *err, size_t errlen);
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
