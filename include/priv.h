/*
 * priv.h — root only as long as needed. Everything privileged (capture handles, raw
 * sockets, output files and directories) is opened first; then pm_priv_drop() switches to
 * an unprivileged user, sets no-new-privileges, and verifies the new ids, refusing to go
 * on if any step failed. Callers report the result (summary `privileges`).
 */
#ifndef PM_PRIV_H
#define PM_PRIV_H

#include <stdbool.h>
#include <sys/types.h>

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

#endif
