/*
 * instream.h — a capture's bytes from anywhere: a descriptor that cannot seek (standard
 * input, a pipe, a FIFO, /dev/fd/N of a process substitution) and gzip, xz or zstd
 * compression recognised by the first bytes, never by the name. The decoded bytes are
 * read through a stdio FILE (fopencookie), so that libpcap's pcap_fopen_offline and our
 * pcapng reader read them as they read a file. Memory is a fixed pair of buffers plus
 * the decoder's own state (bounded below): it never grows with the input.
 */
#ifndef PM_INSTREAM_H
#define PM_INSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pm_codec { PM_CODEC_NONE = 0, PM_CODEC_GZIP, PM_CODEC_XZ, PM_CODEC_ZSTD };

/* The compression the first bytes announce (gzip 1f 8b, RFC 1952 §2.3.1; xz FD '7zXZ' 00,
 * the .xz file format §2.1.1.1; zstd 28 B5 2F FD, RFC 8878 §3.1.1), or NONE. Needs 6
 * bytes to tell xz; fewer are judged on what there is. */
enum pm_codec pm_codec_detect(const uint8_t *p, size_t n);
const char *pm_codec_name(enum pm_codec c); /* "gzip", "xz", "zstd", "none" */

struct pm_instream;

/* Take over `fd` (closed with the stream). The first bytes are read at once to tell the
 * compression. NULL and a message when the descriptor cannot be read or the decoder
 * cannot start. */
struct pm_instream *pm_instream_new(int fd, const char *label, char *err, size_t errlen);
enum pm_codec pm_instream_codec(const struct pm_instream *s);
/* Decoded bytes at the start, without consuming them (for format detection): up to n
 * (n <= 64); returns how many there are. */
size_t pm_instream_peek(struct pm_instream *s, uint8_t *buf, size_t n);
/* The FILE that reads the decoded bytes from the start; fclose() frees the stream. Call
 * once. NULL (the stream freed) when stdio cannot make one. */
FILE *pm_instream_file(struct pm_instream *s);
/* What went wrong in the decoder or the read ("" when nothing did): a damaged compressed
 * stream, or one that ends before its end marker (truncated). Valid until fclose. */
const char *pm_instream_error(const struct pm_instream *s);
/* While the stream waits for bytes (a pipe from a capture with nothing to say), call
 * fn(ctx) about once a second: the analysis lets its timeouts fire meanwhile. */
void pm_instream_set_idle(struct pm_instream *s, void (*fn)(void *ctx), void *ctx);
/* Compressed bytes taken from the descriptor so far. */
uint64_t pm_instream_raw_bytes(const struct pm_instream *s);

#endif
