/*
 * capture.h — `portmortem capture`: live capture on one or more interfaces with a kernel
 * BPF filter, the same analysis as `analyze` streamed as attempts finish, -w files with
 * rotation, a followed MTA log, privileges dropped after start-up, kernel drop counts.
 */
#ifndef PM_CAPTURE_H
#define PM_CAPTURE_H

int pm_cmd_capture(int argc, char **argv, int full_argc, char **full_argv);
/* `portmortem watch` (capture/watch.c): capture as a service, with syslog and metrics. */
int pm_cmd_watch(int argc, char **argv, int full_argc, char **full_argv);

#endif
