/*
 * ring.c — owns the bound of `portmortem watch`'s capture ring (DIR/ring/): -C MB per
 * file and -W files, as tcpdump's -C/-W, and the promise that the ring never holds more
 * than C*W MB on disk. The files themselves are dump.c's (every one opened as root before
 * the drop, rotated by reusing the oldest descriptor, a file never passing its size: the
 * packet that would pass it starts the next file). With several interfaces each gets its own
 * W files, so each file gets C/n of the size: the total stays C*W whatever n is.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "capture_int.h"
#include "util.h"

int pm_ring_plan(const char *ring_dir, uint64_t mb, int nfiles, int nifaces, char *wpath,
                 size_t len, uint64_t *per_file)
{
    if (nifaces < 1 || nfiles < 1 || mb < 1) {
        return -1;
    }
    /* the bound in bytes, split over the interfaces; at least one snaplen-sized packet
     * (the largest, 262,144 bytes, plus its 16-byte header and the 24-byte file header)
     * must fit in a file, or a file could pass its size by that one packet */
    uint64_t bytes = mb * 1000000u / (uint64_t)nifaces;
    if (bytes < 262144u + 16u + 24u) {
        return -1;
    }
    *per_file = bytes;
    if ((size_t)snprintf(wpath, len, "%s/portmortem.pcap", ring_dir) >= len) {
        return -1;
    }
    return 0;
}

uint64_t pm_ring_disk_bytes(const char *ring_dir, int *nfiles)
{
    uint64_t total = 0;
    int n = 0;
    DIR *d = opendir(ring_dir);
    if (!d) {
        if (nfiles) {
            *nfiles = 0;
        }
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode)) {
            total += (uint64_t)sb.st_size;
            n++;
        }
    }
    closedir(d);
    if (nfiles) {
        *nfiles = n;
    }
    return total;
}
