/*
 * capin.h — capture files in: classic pcap (µs/ns, either byte order, through libpcap) and
 * pcapng (several sections, interfaces and link types, through our own bounded block
 * reader because libpcap 1.10 refuses a pcapng whose interfaces differ in link type and
 * does not expose the interface of a packet). Several files are merged by time.
 */
#ifndef PM_CAPIN_H
#define PM_CAPIN_H

#include "pm.h"

struct pm_record {
    pm_ns ts;
    uint32_t caplen, wirelen;
    int linktype;          /* LINKTYPE_* (normalised) */
    const uint8_t *data;   /* valid until the next read on the same file */
    uint32_t frame;        /* 1-based record number in its file */
    uint16_t file;         /* index of the file in the input set */
    uint16_t vantage;      /* vantage index (files sharing a label share one) */
    uint8_t ifloop;        /* the interface is a loopback (pcapng if_name "lo"/"lo0") */
};

enum pm_read { PM_READ_OK = 0, PM_READ_EOF = 1, PM_READ_DAMAGED = 2 };

/* The side path: called with each record the filter drops (valid during the call only). */
typedef void (*pm_side_fn)(void *ctx, const struct pm_record *rec);

struct pm_capfile_stats {
    uint64_t records;      /* records read (before filtering) */
    uint64_t filtered;     /* records the BPF filter passed */
    uint64_t bytes;        /* file bytes consumed so far */
    uint64_t file_size;
    pm_ns first_ts, last_ts;   /* recording span: every record, filtered or not */
    uint64_t ip_records;   /* IP records looked at for their direction (below) */
    int two_way;           /* a record went to an address an earlier record came from: the
                            * file holds both directions (not proven: one direction only,
                            * e.g. tcpdump -Q out) */
    int damaged;           /* the file ended in damage */
    char damage[256];      /* what was wrong and where */
};

struct pm_capfile;

/* For Ethernet: the same expression also for frames with up to three stacked 802.1Q/802.1ad
 * tags. libpcap's `vlan` shifts the offsets of everything after it, hence the nesting:
 * E or (vlan and (E or (vlan and (E or (vlan and E))))). */
void pm_filter_with_vlans(const char *expr, char *out, size_t len);

/* Open one capture: a path, or "-" for standard input. A regular uncompressed file is read
 * by the block reader; anything else (a pipe, a FIFO, /dev/fd/N, a gzip, xz or zstd file
 * told by its first bytes) is streamed through instream.c. Returns NULL and writes a
 * message (what, why) into err when the file cannot be read or is not a capture. `filter` is a BPF expression applied to every record
 * (NULL: keep all); where it does not compile for a link type, all records pass. */
struct pm_capfile *pm_capfile_open(const char *path, const char *filter, char *err,
                                   size_t errlen);
/* The same through a descriptor the caller keeps (read from offset 0 on a duplicate): a
 * live capture's -w or temporary file, read back after the privilege drop. `label` names
 * it in messages. The duplicate shares the file offset: only for a file no longer written
 * (the capture has ended). */
struct pm_capfile *pm_capfile_open_fd(int fd, const char *label, const char *filter, char *err,
                                      size_t errlen);
/* Next record that passes the filter. DAMAGED: the rest of the file is unreadable; the
 * message is in the stats. */
enum pm_read pm_capfile_next(struct pm_capfile *cf, struct pm_record *rec);
/* The user's BPF expression (--filter, or the words after the files): records it does not
 * match are skipped before anything looks at them (no attempt, no hop reference), as if the
 * capture did not hold them; they still count as read and still mark the recording span.
 * Compiled against the file's link type (pcapng: per link type, on first use). 0, or -1
 * with libpcap's message in err when it does not compile. */
int pm_capfile_user_filter(struct pm_capfile *cf, const char *expr, char *err, size_t errlen);
uint64_t pm_capfile_unmatched(const struct pm_capfile *cf);
/* Not a regular file (standard input, a pipe, a FIFO, /dev/fd/N): read once, it cannot be
 * read again for the bundle's evidence slice. */
bool pm_capfile_is_stream(const struct pm_capfile *cf);
/* "gzip", "xz", "zstd" when the bytes were compressed, else NULL. */
const char *pm_capfile_compression(const struct pm_capfile *cf);
const struct pm_capfile_stats *pm_capfile_stats(const struct pm_capfile *cf);
const char *pm_capfile_format(const struct pm_capfile *cf); /* "pcap", "pcap-ns", "pcapng" */
/* The address of the capturing host, guessed from the first records (filtered or not): the
 * one address present in most of them. False when there is no clear winner. */
bool pm_capfile_host_address(const struct pm_capfile *cf, uint8_t family, pm_addr *out);
int pm_capfile_first_linktype(const struct pm_capfile *cf);
void pm_capfile_close(struct pm_capfile *cf);

/* ---- a set of files merged by time ---- */

struct pm_input {
    char *path;
    char *label;      /* vantage name */
    uint16_t vantage;
    struct pm_capfile *cf;
    struct pm_record next;
    int has_next;
    int done;
};

struct pm_inputset {
    struct pm_input in[PM_MAX_INPUTS];
    int n;
    int nvantage;
    char *vantage_names[PM_MAX_INPUTS];
    uint64_t linktype_unsupported;   /* records of link types we do not decode */
    const char *user_filter;          /* the user's BPF expression for every input, or NULL */
    int damaged;                      /* some file ended in damage */
};

/* Add "FILE" or "NAME=FILE". Files with the same NAME share one vantage. Returns 0, or an
 * exit status (PM_EXIT_USAGE / PM_EXIT_UNREADABLE) after printing why. */
int pm_inputset_add(struct pm_inputset *set, const char *spec, const char *filter);
/* Next record across all files in time order. EOF when all are done. */
enum pm_read pm_inputset_next(struct pm_inputset *set, struct pm_record *rec);
/* Hand every record the filter drops to `fn` (NULL: none), as it is read: the hop
 * references come from all of a capture's traffic, not only what the attempts need. */
void pm_inputset_side(struct pm_inputset *set, pm_side_fn fn, void *ctx);
void pm_inputset_close(struct pm_inputset *set);
/* Call fn(ctx) about once a second while a stream input (not a regular file) waits for
 * bytes. */
void pm_inputset_idle(struct pm_inputset *set, void (*fn)(void *ctx), void *ctx);

#endif
