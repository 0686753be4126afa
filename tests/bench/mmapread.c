/*
 * mmapread.c — owns the benchmark's prototype of a memory-mapped reader for classic pcap
 * files, measured against libpcap's pcap_next_ex (floor.c) to see whether libpcap's reader
 * is the bottleneck. It maps the whole file read-only (MADV_SEQUENTIAL), checks the file
 * header (magic in either byte order, µs or ns), then walks the records in place with the
 * same checks libpcap makes (caplen <= snaplen-or-256K, record inside the file), and runs
 * the same compiled BPF program through pcap_offline_filter on each record, with no copy.
 *
 *   mmapread [-p PORTS] [-n] FILE...    -n: no filter (pure record walk); prints "kept N"
 */
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "util.h"

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

int main(int argc, char **argv)
{
    uint16_t ports[PM_MAX_PORTS] = {25};
    int nports = 1, nofilter = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-p") && i + 1 < argc) {
            nports = pm_parse_ports(argv[++i], ports, PM_MAX_PORTS);
            if (nports < 0) {
                return 2;
            }
        } else if (!strcmp(argv[i], "-n")) {
            nofilter = 1;
        } else {
            fprintf(stderr, "usage: mmapread [-p PORTS] [-n] FILE...\n");
            return 2;
        }
    }
    char filter[1024];
    pm_engine_filter(ports, nports, filter, sizeof(filter));
    unsigned long long kept = 0;
    for (; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size < 24) {
            fprintf(stderr, "mmapread: %s: cannot open or too short\n", argv[i]);
            return 3;
        }
        size_t size = (size_t)sb.st_size;
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            perror("mmap");
            return 3;
        }
        madvise(map, size, MADV_SEQUENTIAL);
        const uint8_t *m = map;
        uint32_t magic;
        memcpy(&magic, m, 4);
        int swap;
        if (magic == 0xa1b2c3d4u || magic == 0xa1b23c4du) {
            swap = 0;
        } else if (magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u) {
            swap = 1;
        } else {
            fprintf(stderr, "mmapread: %s: not a classic pcap\n", argv[i]);
            return 3;
        }
        uint32_t snap = rd32(m + 16, swap);
        int linktype = (int)(rd32(m + 20, swap) & 0x03ffffff);
        uint32_t maxcap = snap > 262144 ? snap : 262144;
        pcap_t *dead = pcap_open_dead(linktype, (int)maxcap);
        struct bpf_program prog;
        if (!nofilter && pcap_compile(dead, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            fprintf(stderr, "mmapread: filter: %s\n", pcap_geterr(dead));
            return 3;
        }
        size_t off = 24;
        while (off + 16 <= size) {
            struct pcap_pkthdr h;
            h.ts.tv_sec = rd32(m + off, swap);
            h.ts.tv_usec = rd32(m + off + 4, swap);
            h.caplen = rd32(m + off + 8, swap);
            h.len = rd32(m + off + 12, swap);
            off += 16;
            if (h.caplen > maxcap || h.caplen > size - off) {
                fprintf(stderr, "mmapread: %s: damaged record at byte %zu\n", argv[i], off - 16);
                return 4;
            }
            if (nofilter || pcap_offline_filter(&prog, &h, m + off)) {
                kept++;
            }
            off += h.caplen;
        }
        if (!nofilter) {
            pcap_freecode(&prog);
        }
        pcap_close(dead);
        munmap(map, size);
        close(fd);
    }
    printf("kept %llu\n", kept);
    return 0;
}
