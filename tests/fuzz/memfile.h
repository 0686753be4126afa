/*
 * memfile.h — owns the fuzz targets' way of handing an input to code that opens a path:
 * the bytes go into one memfd per process (rewritten for every input), and the code under
 * test opens /proc/self/fd/N, which is a fresh open file description with its own offset.
 */
#ifndef PM_FUZZ_MEMFILE_H
#define PM_FUZZ_MEMFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Write data into the process's memfd; returns its path (static storage). */
static inline const char *pm_fuzz_memfile(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("pm-fuzz-input", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) {
        perror("ftruncate");
        abort();
    }
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0) {
            perror("pwrite");
            abort();
        }
        done += (size_t)w;
    }
    return path;
}

#endif
