/*
 * floor.c — owns the benchmark's libpcap floor: the least any libpcap-based reader of a
 * capture must do. It opens each file with pcap_open_offline, installs THE SAME BPF
 * expression portmortem uses (pm_engine_filter for the given ports) with pcap_setfilter,
 * and counts what pcap_next_ex returns. Nothing is decoded. portmortem's own reader does
 * the same work plus a per-record pcap_offline_filter call (capin.c), so the difference
 * between the two is everything portmortem adds.
 *
 *   floor [-p PORTS] [-v] FILE...     prints "kept N" (-v: and the filter, on stderr)
 *   floor [-p PORTS] -F               prints the filter expression and exits
 *   floor -B BYTES ...                experiment: fopen + setvbuf(BYTES) + pcap_fopen_offline
 *                                     instead of pcap_open_offline (whose FILE has stdio's
 *                                     default 4 KiB buffer: one read(2) per 4 KiB)
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "util.h"

int main(int argc, char **argv)
{
    uint16_t ports[PM_MAX_PORTS] = {25};
    int nports = 1, verbose = 0, print_filter = 0, i = 1;
    long bufsize = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-p") && i + 1 < argc) {
            nports = pm_parse_ports(argv[++i], ports, PM_MAX_PORTS);
            if (nports < 0) {
                fprintf(stderr, "floor: bad ports %s\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else if (!strcmp(argv[i], "-B") && i + 1 < argc) {
            bufsize = atol(argv[++i]);
        } else if (!strcmp(argv[i], "-F")) {
            print_filter = 1;
        } else {
            fprintf(stderr, "usage: floor [-p PORTS] [-v] FILE...\n");
            return 2;
        }
    }
    if (print_filter) {
        char f[1024];
        pm_engine_filter(ports, nports, f, sizeof(f));
        printf("%s\n", f);
        return 0;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: floor [-p PORTS] [-v] FILE...\n");
        return 2;
    }
    char filter[1024];
    pm_engine_filter(ports, nports, filter, sizeof(filter));
    if (verbose) {
        fprintf(stderr, "floor: filter: %s\n", filter);
    }
    unsigned long long kept = 0;
    for (; i < argc; i++) {
        char err[PCAP_ERRBUF_SIZE];
        pcap_t *p;
        if (bufsize > 0) {
            FILE *f = fopen(argv[i], "rb");
            if (!f || setvbuf(f, NULL, _IOFBF, (size_t)bufsize) != 0) {
                fprintf(stderr, "floor: %s: cannot open\n", argv[i]);
                return 3;
            }
            p = pcap_fopen_offline(f, err);
        } else {
            p = pcap_open_offline(argv[i], err);
        }
        if (!p) {
            fprintf(stderr, "floor: %s: %s\n", argv[i], err);
            return 3;
        }
        struct bpf_program prog;
        if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(p, &prog) != 0) {
            fprintf(stderr, "floor: %s: filter: %s\n", argv[i], pcap_geterr(p));
            return 3;
        }
        struct pcap_pkthdr *h;
        const u_char *d;
        int rc;
        while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
            kept++;
        }
        if (rc != PCAP_ERROR_BREAK) {
            fprintf(stderr, "floor: %s: %s\n", argv[i], pcap_geterr(p));
            return 4;
        }
        pcap_freecode(&prog);
        pcap_close(p);
    }
    printf("kept %llu\n", kept);
    return 0;
}
