/*
 * ttl.h — initial TTL and hop distance (p0f's guess_dist(), fp_tcp.c): the initial TTL is
 * the smallest of 32, 64, 128, 255 not below the observed one; hops = initial - observed
 * (the number of routers that decremented it). A hop count above PM_MAX_HOPS is suspect.
 */
#ifndef PM_TTL_H
#define PM_TTL_H

#include <stdint.h>

#include "config.h" /* PM_MAX_HOPS */

uint8_t pm_ttl_initial(uint8_t observed);
int pm_ttl_hops(uint8_t observed);

#endif
