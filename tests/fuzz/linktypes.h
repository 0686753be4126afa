/*
 * linktypes.h — owns the link-type selector table shared by fuzz_decode.c (byte 0 of an
 * input picks an entry) and mkseeds.c (which writes that byte for a real capture's type).
 */
#ifndef PM_FUZZ_LINKTYPES_H
#define PM_FUZZ_LINKTYPES_H

#include "decode.h"

static const int PM_FUZZ_LINKTYPES[] = {
    PM_LT_ETHERNET, PM_LT_RAW, PM_LT_LINUX_SLL, PM_LT_LINUX_SLL2, PM_LT_NULL, PM_LT_LOOP,
    PM_LT_IPV4, PM_LT_IPV6, PM_LT_NFLOG, 12 /* DLT_RAW */, 14 /* OpenBSD DLT_RAW */,
    147 /* unsupported: USER0 */,
};
#define PM_FUZZ_NLINKTYPES (sizeof(PM_FUZZ_LINKTYPES) / sizeof(PM_FUZZ_LINKTYPES[0]))

#endif
