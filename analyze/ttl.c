/*
 * ttl.c — owns initial-TTL and hop-count inference (include/ttl.h). Almost every stack
 * starts at 64 (Linux, BSD, macOS), 128 (Windows) or 255 (network gear, Solaris RSTs);
 * 32 is old Windows. Pure and table-tested.
 */
#include "ttl.h"

uint8_t pm_ttl_initial(uint8_t observed)
{
    static const uint8_t initials[] = {32, 64, 128, 255};
    for (unsigned i = 0; i < sizeof(initials); i++) {
        if (observed <= initials[i]) {
            return initials[i];
        }
    }
    return 255;
}

int pm_ttl_hops(uint8_t observed)
{
    return pm_ttl_initial(observed) - observed;
}
