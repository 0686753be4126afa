/*
 * bundle_helper.c — owns the privileged part of writing an evidence bundle (issue 17.4): the
 * store (include/bundle.h: create, commit, abort) that a capture or probe started as root
 * hands to the bundle writer in analyze/, which itself never forks, changes credentials or
 * passes descriptors.
 *
 * Why a helper process: live capture opens everything as root and then drops to an
 * unprivileged user. That user cannot create files in a root-owned 0700 directory nor
 * rename it in DIR's parent. So the store, made while still root (pm_bundle_open_with, at
 * engine start), forks a tiny helper that stays uid 0 and does exactly three things on
 * request over a socketpair: create a file with a checked name inside the temporary
 * directory (the descriptor is passed back with SCM_RIGHTS), commit (fsync + rename, after
 * moving a private file out beside DIR), abort (remove). It keeps no capability but
 * CAP_DAC_OVERRIDE, and that only when DIR's parent is not writable by uid 0 through its mode
 * bits (helper_restrict, issue 19). It ignores SIGINT and SIGTERM (the capture's own signal
 * handling finishes the bundle) and removes the temporary directory when the main process
 * goes away without committing, so even a killed run leaves no half bundle — which is why
 * it runs without root too (an interrupted `analyze --bundle`, issue 19), there with no
 * privilege at all. The operations themselves are analyze/bundle.c's pm_bundle_fs_*.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle.h"
#include "bundle_helper.h"
#include "util.h"


struct helper_store {
    struct pm_bundle_store s;   /* first: the writer sees only this */
    int sock;
    pid_t helper;
};

enum { OP_CREATE = 1, OP_COMMIT, OP_ABORT };

struct hmsg {
    int32_t op;
    int32_t err;
    char name[PM_BUNDLE_NAME];
};

static int send_reply(int sock, int err, int fd)
{
    struct hmsg m = {.op = 0, .err = err};
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(m) ? 0 : -1;
}

static void close_all_but(const int *keep, int n)
{
    int lo = 3;
    for (;;) {
        int next = -1;
        for (int i = 0; i < n; i++) {
            if (keep[i] >= lo && (next < 0 || keep[i] < next)) {
                next = keep[i];
            }
        }
        if (next < 0) {
            close_range((unsigned)lo, ~0u, 0);
            return;
        }
        if (next > lo) {
            close_range((unsigned)lo, (unsigned)next - 1, 0);
        }
        lo = next + 1;
    }
}

/* What the helper keeps of root (issue 19). It stays uid 0, because it owns the temporary
 * directory (root's, 0700) and creates the files in it as their owner: no capability needed
 * for that. The only thing uid 0 alone may not do is write into DIR's parent (rename into
 * place, remove on abort) when that directory belongs to someone else, e.g. --bundle
 * /home/alice/incident: that takes CAP_DAC_OVERRIDE. So the helper keeps CAP_DAC_OVERRIDE
 * when the parent's mode bits do not already let uid 0 write and search it, and nothing
 * else: not in the effective, permitted, inheritable or ambient sets, not in the bounding
 * set; and no-new-privs, so that nothing it could execute gains any. Returns a short text
 * for the debug log; failures are not fatal (the helper does no more than before). */
static const char *helper_restrict(int parentfd)
{
    if (geteuid() != 0) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        return "not root: no capabilities to drop";
    }
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct cur[2], data[2];
    memset(cur, 0, sizeof(cur));
    if (syscall(SYS_capget, &hdr, cur) != 0) {
        return "capget failed: capabilities unchanged";
    }
    /* 1. Would uid 0 without the DAC capabilities be let in by the parent's mode bits? The
     * kernel answers for the effective set (AT_EACCESS), lowered for the question only. */
    const uint32_t dac = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) |
                         (1u << CAP_FOWNER);
    memcpy(data, cur, sizeof(data));
    data[0].effective &= ~dac;
    bool need = true;
    if (syscall(SYS_capset, &hdr, data) == 0) {
        need = faccessat(parentfd, ".", W_OK | X_OK, AT_EACCESS) != 0;
    }
    uint32_t keep = need ? cur[0].permitted & (1u << CAP_DAC_OVERRIDE) : 0;
    /* 2. The bounding set, while CAP_SETPCAP is still effective; then the ambient set. */
    for (int c = 0; c < 64; c++) {
        if (!(c < 32 && (keep & (1u << c)))) {
            prctl(PR_CAPBSET_DROP, c, 0, 0, 0); /* EINVAL past the kernel's last: fine */
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    /* 3. Effective and permitted: `keep` only; inheritable: nothing. */
    memset(data, 0, sizeof(data));
    data[0].effective = data[0].permitted = keep;
    if (syscall(SYS_capset, &hdr, data) != 0) {
        return "capset failed: capabilities unchanged";
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    memset(cur, 0, sizeof(cur));
    if (syscall(SYS_capget, &hdr, cur) != 0 || cur[0].permitted != keep || cur[1].permitted) {
        return "capabilities not as set";
    }
    return keep ? "kept CAP_DAC_OVERRIDE only (DIR's parent is not root's to write)"
                : "no capabilities (uid 0 may write DIR's parent by its mode)";
}

static _Noreturn void helper_main(int sock, int parentfd, int dirfd, const char *tmpbase,
                                  const char *base)
{
    /* The capture finishes the bundle on SIGINT/SIGTERM; the helper must outlive them. */
    static const int ign[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN,
                              SIGTTOU, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < PM_ARRAY_LEN(ign); i++) {
        signal(ign[i], SIG_IGN);
    }
    const int keep[] = {sock, parentfd, dirfd};
    close_all_but(keep, 3);
    pm_debug("bundle helper %d: %s", (int)getpid(), helper_restrict(parentfd));
    for (;;) {
        struct hmsg m;
        ssize_t n = recv(sock, &m, sizeof(m), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n != (ssize_t)sizeof(m)) {
            /* The main process is gone (or talks nonsense) without committing. */
            pm_bundle_fs_remove(parentfd, dirfd, tmpbase);
            _exit(0);
        }
        m.name[sizeof(m.name) - 1] = '\0';
        if (m.op == OP_CREATE) {
            int fd = pm_bundle_fs_create(dirfd, m.name);
            send_reply(sock, fd < 0 ? errno : 0, fd);
            if (fd >= 0) {
                close(fd);
            }
            continue;
        }
        int err = 0;
        if (m.op == OP_COMMIT) {
            err = pm_bundle_fs_commit(parentfd, dirfd, tmpbase, base,
                                      m.name[0] ? m.name : NULL);
        }
        if (m.op != OP_COMMIT || err) {
            pm_bundle_fs_remove(parentfd, dirfd, tmpbase);
        }
        send_reply(sock, err, -1);
        _exit(0);
    }
}

static int helper_call(struct helper_store *b, int op, const char *name, int *fdout)
{
    struct hmsg m = {.op = op, .err = 0};
    pm_strlcpy(m.name, name ? name : "", sizeof(m.name));
    if (send(b->sock, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
        return errno ? errno : EIO;
    }
    struct hmsg r;
    struct iovec iov = {.iov_base = &r, .iov_len = sizeof(r)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof(u.buf)};
    ssize_t n;
    do {
        n = recvmsg(b->sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(r)) {
        return n < 0 ? errno : EPIPE;
    }
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int))) {
            memcpy(&fd, CMSG_DATA(c), sizeof(int));
        }
    }
    if (fdout) {
        *fdout = fd;
    } else if (fd >= 0) {
        close(fd);
    }
    if (r.err == 0 && fdout && fd < 0) {
        return EIO;
    }
    return r.err;
}

static void helper_wait(struct helper_store *b)
{
    if (b->sock >= 0) {
        close(b->sock);
        b->sock = -1;
    }
    if (b->helper > 0) {
        while (waitpid(b->helper, NULL, 0) < 0 && errno == EINTR) {
        }
        b->helper = 0;
    }
}


static int hs_create(struct pm_bundle_store *s, const char *name)
{
    struct helper_store *h = (struct helper_store *)s;
    int fd = -1;
    int e = helper_call(h, OP_CREATE, name, &fd);
    if (e) {
        errno = e;
        return -1;
    }
    return fd;
}

static int hs_commit(struct pm_bundle_store *s, const char *private_name)
{
    struct helper_store *h = (struct helper_store *)s;
    int e = helper_call(h, OP_COMMIT, private_name ? private_name : "", NULL);
    helper_wait(h); /* on failure the helper removed the temporary directory */
    free(h);
    return e;
}

static void hs_abort(struct pm_bundle_store *s)
{
    struct helper_store *h = (struct helper_store *)s;
    helper_call(h, OP_ABORT, "", NULL);
    helper_wait(h);
    free(h);
}

static const struct pm_bundle_store_ops helper_ops = {
    .create = hs_create,
    .commit = hs_commit,
    .abort = hs_abort,
};

struct pm_bundle_store *pm_bundle_helper_start(int parentfd, int dirfd, const char *tmpbase,
                                               const char *base)
{
    char tb[256], bs[256];
    if (pm_strlcpy(tb, tmpbase, sizeof(tb)) >= sizeof(tb) ||
        pm_strlcpy(bs, base, sizeof(bs)) >= sizeof(bs)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        return NULL;
    }
    fflush(NULL); /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        errno = e;
        return NULL;
    }
    if (pid == 0) {
        /* The helper needs two names and two descriptors, nothing else of the parent's:
         * every other descriptor is closed in helper_main. The signing key is loaded only
         * after this fork (pm_bundle_load_key), so the helper never holds it. */
        close(sv[0]);
        helper_main(sv[1], parentfd, dirfd, tb, bs);
    }
    close(sv[1]);
    struct helper_store *h = pm_xcalloc(1, sizeof(*h));
    h->s.ops = &helper_ops;
    h->sock = sv[0];
    h->helper = pid;
    /* The main process keeps no handle on the directories: everything goes through the
     * helper from now on. */
    close(dirfd);
    close(parentfd);
    return &h->s;
}
