/*
 * emit.c — owns the benchmark's "bytes only" row (docs/PERFORMANCE.md, issue 15.2): the
 * least work any program does to write portmortem's JSON Lines for a storm, without reading
 * or judging a packet. `emit LINES BYTES` writes LINES lines of BYTES bytes each (the
 * attempt count and the average line length of portmortem's output on the same capture)
 * to standard output: each line is a fixed template copied with memcpy, in which eight
 * integers (an id, ports, times, counts) are formatted by hand, written in 64 KiB blocks.
 * Timed beside the libpcap floor, it shows what share of a target the output alone takes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 65536

static size_t put_u64(char *o, uint64_t v)
{
    char b[24];
    size_t i = sizeof(b);
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(o, b + i, sizeof(b) - i);
    return sizeof(b) - i;
}

static int write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(1, p, n);
        if (w <= 0) {
            perror("emit: write");
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: emit LINES BYTES (writes LINES lines of BYTES bytes)\n");
        return 2;
    }
    unsigned long long lines = strtoull(argv[1], NULL, 10);
    size_t bytes = (size_t)strtoull(argv[2], NULL, 10);
    if (bytes < 200 || bytes > 16384) {
        fprintf(stderr, "emit: BYTES must be 200..16384\n");
        return 2;
    }
    char *tmpl = malloc(bytes);
    char *buf = malloc(BLOCK + 2 * bytes);
    if (!tmpl || !buf) {
        fprintf(stderr, "emit: out of memory\n");
        return 1;
    }
    memset(tmpl, 'x', bytes);
    size_t len = 0;
    for (unsigned long long n = 0; n < lines; n++) {
        char *o = buf + len;
        memcpy(o, tmpl, bytes);
        size_t at = 0;
        for (int k = 0; k < 8; k++) { /* eight numbers per line, as in an attempt object */
            at += put_u64(o + at, n * 2654435761u + (uint64_t)k * 1000003u);
            o[at++] = ',';
        }
        o[bytes - 1] = '\n';
        len += bytes;
        if (len >= BLOCK) {
            if (write_all(buf, len) < 0) {
                return 1;
            }
            len = 0;
        }
    }
    if (len && write_all(buf, len) < 0) {
        return 1;
    }
    free(tmpl);
    free(buf);
    return 0;
}
