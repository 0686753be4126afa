/*
 * priv.c — owns the privilege drop (include/priv.h): the one place that calls setgroups,
 * setres[ug]id, the capability syscalls and PR_SET_NO_NEW_PRIVS.
 *
 * The order follows p0f's drop_privs() and tcpdump's droproot(), adapted to Linux:
 *   1. resolve the user while /etc/passwd and NSS are still readable (before anything);
 *   2. supplementary groups: the user's own (getgrouplist, as initgroups would) plus the
 *      groups the caller must keep (the MTA log's group, so a rotated log can be reopened),
 *      never group 0;
 *   3. empty the capability bounding set and the ambient set while we still hold
 *      CAP_SETPCAP: nothing run later can get a capability back, whatever its file caps;
 *   4. setresgid, then setresuid (gid first: after the uid change we could not change it);
 *      leaving uid 0 clears the permitted and effective capabilities (no SECBIT_KEEP_CAPS);
 *   5. PR_SET_NO_NEW_PRIVS: execve can no longer grant anything (setuid binaries, file caps);
 *   6. capset(all zero) for good measure, then VERIFY from both sides — the syscalls
 *      (getresuid, getresgid, getgroups, and setuid(0) must fail) and the kernel's own
 *      account in /proc/self/status (CapEff/CapPrm/CapAmb/CapBnd 0, NoNewPrivs 1). Any
 *      doubt means exit 3: a tool that parses hostile packets must not do so as root.
 * No chroot: the followed MTA log is reopened by path after rotation, and the engine reads
 * the -w files and the log again at the end for the bundle. Linux has no pledge/unveil;
 * the capability and no-new-privs state is the closest equivalent we can verify.
 */
#include "priv.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pm.h"
#include "util.h"

/* ---- /proc/self/status ---- */

static bool parse_ids(const char *v, unsigned *out, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        unsigned long x = strtoul(v, &end, 10);
        if (end == v || errno != 0 || x > UINT32_MAX) {
            return false;
        }
        out[i] = (unsigned)x;
        v = end;
    }
    return true;
}

bool pm_priv_parse_status(const char *text, struct pm_proc_creds *out)
{
    memset(out, 0, sizeof(*out));
    out->no_new_privs = -1;
    const char *line = text;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[1024];
        if (len < sizeof(buf)) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            char *colon = strchr(buf, ':');
            if (colon) {
                *colon = '\0';
                const char *k = buf, *v = colon + 1;
                unsigned ids[4];
                if (!strcmp(k, "Uid") && parse_ids(v, ids, 4)) {
                    for (int i = 0; i < 4; i++) {
                        out->uid[i] = (uid_t)ids[i];
                    }
                    out->have_uid = true;
                } else if (!strcmp(k, "Gid") && parse_ids(v, ids, 4)) {
                    for (int i = 0; i < 4; i++) {
                        out->gid[i] = (gid_t)ids[i];
                    }
                    out->have_gid = true;
                } else if (!strcmp(k, "Groups")) {
                    const char *p = v;
                    while (out->ngroups < PM_PRIV_MAX_GROUPS) {
                        char *end;
                        unsigned long g = strtoul(p, &end, 10);
                        if (end == p) {
                            break;
                        }
                        out->groups[out->ngroups++] = (gid_t)g;
                        p = end;
                    }
                } else if (!strncmp(k, "Cap", 3)) {
                    char *end;
                    uint64_t c = strtoull(v, &end, 16);
                    if (end != v) {
                        if (!strcmp(k, "CapInh")) {
                            out->cap_inh = c;
                        } else if (!strcmp(k, "CapPrm")) {
                            out->cap_prm = c;
                        } else if (!strcmp(k, "CapEff")) {
                            out->cap_eff = c;
                            out->have_caps = true;
                        } else if (!strcmp(k, "CapBnd")) {
                            out->cap_bnd = c;
                        } else if (!strcmp(k, "CapAmb")) {
                            out->cap_amb = c;
                        }
                    }
                } else if (!strcmp(k, "NoNewPrivs")) {
                    out->no_new_privs = atoi(v);
                    out->have_nnp = true;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return out->have_uid && out->have_gid;
}

bool pm_priv_read_status(struct pm_proc_creds *out)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) {
        memset(out, 0, sizeof(*out));
        out->no_new_privs = -1;
        return false;
    }
    char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return pm_priv_parse_status(text, out);
}

/* ---- helpers ---- */

/* The user record, copied out of NSS's static storage. */
struct user_rec {
    uid_t uid;
    gid_t gid;
    char name[64];
};

static bool lookup_user(const char *user, struct user_rec *u)
{
    char buf[16384];
    struct passwd pw, *res = NULL;
    int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
    if (rc != 0 || !res) {
        return false;
    }
    u->uid = pw.pw_uid;
    u->gid = pw.pw_gid;
    pm_strlcpy(u->name, pw.pw_name, sizeof(u->name));
    return true;
}

int pm_priv_check_user(const char *user)
{
    if (!user) {
        user = PM_PRIV_DEFAULT_USER;
    }
    if (geteuid() != 0) {
        return 0; /* nothing will be dropped: nothing to vet */
    }
    struct user_rec u;
    if (!lookup_user(user, &u)) {
        pm_err("unknown user '%s' for -Z: cannot drop privileges to it", user);
        pm_hint("use an existing unprivileged user, e.g. -Z nobody, or create one: "
                "useradd --system --no-create-home --shell /usr/sbin/nologin portmortem");
        return PM_EXIT_USAGE;
    }
    if (u.uid == 0) {
        pm_err("-Z %s: that user has uid 0, so dropping to it would keep root", user);
        pm_hint("portmortem refuses to parse packets as root; name an unprivileged user");
        return PM_EXIT_USAGE;
    }
    if (u.gid == 0) {
        pm_err("-Z %s: that user's primary group is 0 (root)", user);
        pm_hint("give the user its own group, or name another user");
        return PM_EXIT_USAGE;
    }
    return 0;
}

bool pm_priv_group_for_file(const char *path, gid_t *gid)
{
    struct stat st;
    if (!path || !strcmp(path, "-") || stat(path, &st) != 0) {
        return false;
    }
    if (!(st.st_mode & S_IRGRP) || st.st_gid == 0) {
        return false;
    }
    *gid = st.st_gid;
    return true;
}

static int capset_zero(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    return (int)syscall(SYS_capset, &hdr, data);
}

static int cap_last(void)
{
    int last = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f) {
        int v;
        if (fscanf(f, "%d", &v) == 1 && v > 0 && v < 64) {
            last = v;
        }
        fclose(f);
    }
    return last;
}

static int fail(const char *user, const char *step, int err)
{
    pm_err("cannot drop privileges to %s: %s failed: %s", user, step, strerror(err));
    pm_hint("refusing to go on as root with packets from the network; check that the user "
            "exists and that no security module (seccomp, LSM) blocks the call");
    return PM_EXIT_UNREADABLE; /* issue 7: a failed drop exits 3 */
}

static int verify_fail(const char *user, const char *what)
{
    pm_err("privilege drop to %s did not hold: %s", user, what);
    pm_hint("refusing to go on; run under a kernel/container that allows setresuid and "
            "PR_SET_NO_NEW_PRIVS, or report this with /proc/self/status");
    return PM_EXIT_UNREADABLE;
}

/* Verify from the syscalls and from /proc; fills `caps_clear` for the text. */
static int verify(const char *user, uid_t uid, gid_t gid, bool want_bnd_clear, bool *caps_clear)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid) {
        return verify_fail(user, "getresuid does not report the new uid everywhere");
    }
    if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid) {
        return verify_fail(user, "getresgid does not report the new gid everywhere");
    }
    if (uid == 0 || gid == 0) {
        return verify_fail(user, "uid or gid is still 0");
    }
    gid_t groups[PM_PRIV_MAX_GROUPS * 2];
    int n = getgroups((int)PM_ARRAY_LEN(groups), groups);
    if (n < 0) {
        return verify_fail(user, "getgroups failed");
    }
    for (int i = 0; i < n; i++) {
        if (groups[i] == 0) {
            return verify_fail(user, "group 0 (root) is still a supplementary group");
        }
    }
    /* The decisive test (p0f, OpenSSH): getting root back must be impossible. */
    if (setuid(0) == 0 || seteuid(0) == 0) {
        return verify_fail(user, "setuid(0) succeeded after the drop");
    }
    if (setgid(0) == 0) {
        return verify_fail(user, "setgid(0) succeeded after the drop");
    }
    struct pm_proc_creds pc;
    if (!pm_priv_read_status(&pc)) {
        return verify_fail(user, "cannot read /proc/self/status to check capabilities");
    }
    if (pc.have_uid && (pc.uid[0] != uid || pc.uid[1] != uid || pc.uid[2] != uid ||
                        pc.uid[3] != uid)) {
        return verify_fail(user, "/proc/self/status still shows another uid");
    }
    if (pc.have_caps && (pc.cap_eff || pc.cap_prm || pc.cap_amb || pc.cap_inh)) {
        return verify_fail(user, "capabilities remain (CapEff/CapPrm/CapInh/CapAmb not 0)");
    }
    if (pc.have_nnp && pc.no_new_privs != 1) {
        return verify_fail(user, "NoNewPrivs is not 1");
    }
    *caps_clear = pc.have_caps && (!want_bnd_clear || pc.cap_bnd == 0);
    return 0;
}

static void groups_text(char *buf, size_t len)
{
    gid_t groups[PM_PRIV_MAX_GROUPS];
    int n = getgroups((int)PM_ARRAY_LEN(groups), groups);
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && o < len; i++) {
        o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? "," : "", (unsigned)groups[i]);
    }
}

/* ---- the drop ---- */

int pm_priv_drop(const char *user, const gid_t *keep, int nkeep, struct pm_priv_result *out)
{
    memset(out, 0, sizeof(*out));
    if (!user) {
        user = PM_PRIV_DEFAULT_USER;
    }
    pm_strlcpy(out->user, user, sizeof(out->user));
    uid_t r, e, s;
    if (getresuid(&r, &e, &s) != 0) {
        return fail(user, "getresuid", errno);
    }
    out->was_root = r == 0 || e == 0 || s == 0;

    if (!out->was_root) {
        /* Not root: nothing to switch. Whatever capabilities file caps or an ambient set
         * gave us (CAP_NET_RAW for capture) were needed only to open the handles. */
        struct pm_proc_creds pc;
        bool had_caps = pm_priv_read_status(&pc) && (pc.cap_eff || pc.cap_prm || pc.cap_amb);
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        int cap_rc = capset_zero();
        int nnp_rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        out->uid = e;
        out->gid = getegid();
        snprintf(out->text, sizeof(out->text),
                 "not started as root (uid %u): nothing to drop%s%s", (unsigned)e,
                 nnp_rc == 0 ? ", no_new_privs set" : "",
                 had_caps ? (cap_rc == 0 ? ", capabilities cleared" : ", capabilities KEPT")
                          : "");
        return 0;
    }

    struct user_rec u;
    if (!lookup_user(user, &u)) {
        pm_err("unknown user '%s' for -Z: cannot drop privileges to it", user);
        pm_hint("use an existing unprivileged user, e.g. -Z nobody");
        return PM_EXIT_UNREADABLE;
    }
    if (u.uid == 0 || u.gid == 0) {
        pm_err("cannot drop privileges to %s: that user has uid 0 or primary group 0", user);
        pm_hint("name an unprivileged user with -Z (default " PM_PRIV_DEFAULT_USER ")");
        return PM_EXIT_UNREADABLE;
    }

    /* 2. Supplementary groups: the user's own, plus those to keep (never 0). */
    gid_t groups[PM_PRIV_MAX_GROUPS];
    int ng = (int)PM_ARRAY_LEN(groups);
    if (getgrouplist(u.name, u.gid, groups, &ng) < 0) {
        ng = 1; /* more than we keep: the primary group alone is enough to run */
        groups[0] = u.gid;
    }
    for (int i = 0; i < nkeep; i++) {
        if (keep[i] == 0) {
            pm_warn("not keeping group 0 (root) after the privilege drop");
            continue;
        }
        bool dup = false;
        for (int j = 0; j < ng; j++) {
            dup |= groups[j] == keep[i];
        }
        if (!dup && ng < (int)PM_ARRAY_LEN(groups)) {
            groups[ng++] = keep[i];
        }
    }
    int w = 0;
    for (int i = 0; i < ng; i++) {
        if (groups[i] != 0) {
            groups[w++] = groups[i];
        }
    }
    ng = w;
    if (setgroups((size_t)ng, groups) != 0) {
        return fail(user, "setgroups", errno);
    }

    /* 3. Capability bounding set and ambient set, while CAP_SETPCAP is still ours. */
    bool bnd_ok = true;
    int last = cap_last();
    for (int c = 0; c <= last; c++) {
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) {
            bnd_ok = false; /* e.g. a container without CAP_SETPCAP: report, not fatal */
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);

    /* 4. gid first, then uid. */
    if (setresgid(u.gid, u.gid, u.gid) != 0) {
        return fail(user, "setresgid", errno);
    }
    if (setresuid(u.uid, u.uid, u.uid) != 0) {
        return fail(user, "setresuid", errno);
    }
    /* 5. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return fail(user, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
    }
    /* 6. Leaving uid 0 cleared them already; an explicit capset covers SECBIT_KEEP_CAPS
     * inherited from a parent. */
    if (capset_zero() != 0) {
        return fail(user, "capset (clearing capabilities)", errno);
    }
    bool caps_clear = false;
    int rc = verify(user, u.uid, u.gid, bnd_ok, &caps_clear);
    if (rc != 0) {
        return rc;
    }
    out->dropped = true;
    out->uid = u.uid;
    out->gid = u.gid;
    char gtext[64];
    groups_text(gtext, sizeof(gtext));
    snprintf(out->text, sizeof(out->text),
             "dropped to %s (uid %u, gid %u, groups %s), no_new_privs set, %s", user,
             (unsigned)u.uid, (unsigned)u.gid, gtext,
             caps_clear ? (bnd_ok ? "no capabilities (bounding set empty)" : "no capabilities")
                        : "capabilities unverified");
    return 0;
}
