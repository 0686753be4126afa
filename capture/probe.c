/* probe.c — placeholder until the probe lands (include/probe.h). */
#include "probe.h"
#include "pm.h"
#include "util.h"

int pm_cmd_probe(int argc, char **argv, int full_argc, char **full_argv)
{
    (void)argc; (void)argv; (void)full_argc; (void)full_argv;
    pm_err("probe is not built yet");
    return PM_EXIT_USAGE;
}
