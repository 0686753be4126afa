/*
 * bundle_fs.c — owns the bundle directory's file system operations when no store is handed
 * to the bundle (include/bundle.h, pm_bundle_fs_*; capture/bundle_helper.c's store calls
 * the same ones as root): create a file inside the temporary directory (O_EXCL, no
 * symlink), remove the temporary directory, and commit: move the private host context
 * beside DIR, fsync, rename into place without replacing anything (RENAME_NOREPLACE).
 */
#include "bundle_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pm_bundle_fs_create(int dirfd, const char *name)
{
    if (!pm_bundle_name_ok(name)) {
        errno = EINVAL;
        return -1;
    }
    return openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

void pm_bundle_fs_remove(int parentfd, int dirfd, const char *tmpbase)
{
    int d2 = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
                unlinkat(dirfd, de->d_name, 0) != 0 && errno == EISDIR) {
                unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
            }
        }
        closedir(d);
    } else if (d2 >= 0) {
        close(d2);
    }
    unlinkat(parentfd, tmpbase, AT_REMOVEDIR);
}

/* Move the private file out of the bundle, beside DIR as "DIR.<name>", mode 0600 (the host
 * context without --bundle-host-context). It was never listed in the manifest. */
static int fs_rename_dir(int parentfd, int dirfd, const char *tmpbase, const char *base);

static int fs_move_private(int parentfd, int dirfd, const char *base, const char *name)
{
    char out[600];
    if (!pm_bundle_name_ok(name) || (size_t)snprintf(out, sizeof(out), "%s.%s", base, name) >=
                                        sizeof(out)) {
        return EINVAL;
    }
    if (fchmodat(dirfd, name, 0600, 0) != 0) {
        return errno;
    }
    if (renameat2(dirfd, name, parentfd, out, RENAME_NOREPLACE) != 0) {
        int e = errno;
        if (e != EINVAL && e != ENOSYS) {
            return e;
        }
        struct stat st;
        if (fstatat(parentfd, out, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            return EEXIST;
        }
        if (renameat(dirfd, name, parentfd, out) != 0) {
            return errno;
        }
    }
    return 0;
}

/* fsync the directory, rename it into place without replacing anything, fsync the parent.
 * Returns 0 or an errno (EEXIST: DIR appeared meanwhile). */
int pm_bundle_fs_commit(int parentfd, int dirfd, const char *tmpbase, const char *base,
                        const char *private_name)
{
    if (private_name && private_name[0]) {
        int e = fs_move_private(parentfd, dirfd, base, private_name);
        if (e) {
            return e;
        }
    }
    int e = fs_rename_dir(parentfd, dirfd, tmpbase, base);
    if (e && private_name && private_name[0]) {
        char out[600]; /* the bundle is not committed: its private file goes too */
        snprintf(out, sizeof(out), "%s.%s", base, private_name);
        unlinkat(parentfd, out, 0);
    }
    return e;
}

static int fs_rename_dir(int parentfd, int dirfd, const char *tmpbase, const char *base)
{
    if (fsync(dirfd) != 0) {
        return errno;
    }
    if (renameat2(parentfd, tmpbase, parentfd, base, RENAME_NOREPLACE) != 0) {
        int e = errno;
        if (e != EINVAL && e != ENOSYS) {
            return e;
        }
        /* A file system without RENAME_NOREPLACE: check, then a plain rename (a small
         * window, but rename(2) onto a non-empty directory fails anyway). */
        struct stat st;
        if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            return EEXIST;
        }
        if (renameat(parentfd, tmpbase, parentfd, base) != 0) {
            return errno;
        }
    }
    fsync(parentfd); /* durability of the rename; the bundle is complete either way */
    return 0;
}
