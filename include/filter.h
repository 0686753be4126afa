/*
 * filter.h — the BPF expression of the analysis (analyze/filter.c).
 */
#ifndef PM_FILTER_H
#define PM_FILTER_H

#include <stddef.h>
#include <stdint.h>

/* Build the BPF expression that keeps what the analysis needs for these ports. */
void pm_engine_filter(const uint16_t *ports, int nports, char *buf, size_t len);

#endif
