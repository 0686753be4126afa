/* live.c — placeholder until live capture lands (include/capture.h). */
#include "capture.h"
#include "pm.h"
#include "util.h"

int pm_cmd_capture(int argc, char **argv, int full_argc, char **full_argv)
{
    (void)argc; (void)argv; (void)full_argc; (void)full_argv;
    pm_err("capture is not built yet");
    return PM_EXIT_USAGE;
}
