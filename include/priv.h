/*
 * priv.h — root only as long as needed. Everything privileged (capture handles, raw
 * sockets, output files and directories) is opened first; then pm_priv_drop() switches to
 * an unprivileged user, sets no-new-privileges, and verifies the new ids, refusing to go
 * on if any step failed. Callers report the result (summary `privileges`).
 *
 * Implemented in capture/priv.c; used by `capture` and `probe`.
 */
#ifndef PM_PRIV_H
#define PM_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h" /* PM_PRIV_DEFAULT_USER, PM_PRIV_MAX_GROUPS */


struct pm_priv_result {
    bool was_root;
    bool dropped;
    uid_t uid;
    gid_t gid;
    char user[64];
    char text[160]; /* "dropped to nobody (uid 65534, gid 65534), no_new_privs set" */
};

/* Drop to `user` (NULL: "nobody"), keeping the supplementary groups in keep (e.g. the
 * group that may read the MTA log, so rotation can be followed). When not root, does
 * nothing and says so. Returns 0, or an exit status after printing what failed. */
int pm_priv_drop(const char *user, const gid_t *keep, int nkeep, struct pm_priv_result *out);

/* Vet the target user before anything is opened, so that a typo in -Z is a usage error
 * (exit 2) and not a half-started capture: unknown user, or one with uid 0 or primary
 * group 0. Only meaningful as root; returns 0 or PM_EXIT_USAGE after printing why. */
int pm_priv_check_user(const char *user);

/* The group to keep so that `path` can be reopened after the drop: its group when the
 * file is group-readable and the group is not root's. Returns false when there is none. */
bool pm_priv_group_for_file(const char *path, gid_t *gid);

/* What the kernel says about this process, from /proc/self/status (or any text in that
 * format: the tests feed it /proc/PID/status of another process). */
struct pm_proc_creds {
    bool have_uid, have_gid, have_caps, have_nnp;
    uid_t uid[4];                 /* real, effective, saved, filesystem */
    gid_t gid[4];
    int ngroups;
    gid_t groups[PM_PRIV_MAX_GROUPS];
    uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
    int no_new_privs;             /* -1: the kernel does not report it */
};
bool pm_priv_parse_status(const char *text, struct pm_proc_creds *out);
bool pm_priv_read_status(struct pm_proc_creds *out);

#endif
