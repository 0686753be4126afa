/*
 * runstat.c — owns measuring one command for the benchmark: wall time, user and system CPU
 * time and peak RSS of that command alone. bench.py cannot take the RSS from its own
 * children: a child forked from the Python interpreter inherits the interpreter's RSS high
 * mark through exec (ru_maxrss would read ~24 MB for a program that uses 2). This small
 * program is exec'd first and forks the command, so the command's high mark starts from
 * runstat's few hundred kilobytes.
 *
 *   runstat OUT COMMAND [ARGS...]    writes "wall_s user_s sys_s maxrss_kb exit" to OUT;
 *                                     exits with the command's status
 *
 * RUNSTAT_TIMEOUT=SECONDS in the environment kills the command after that long (exit 124).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
    if (child > 0) {
        kill(child, SIGKILL);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: runstat OUT COMMAND [ARGS...]\n");
        return 125;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("runstat: fork");
        return 125;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "runstat: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    child = pid;
    const char *tmo = getenv("RUNSTAT_TIMEOUT");
    if (tmo && atoi(tmo) > 0) {
        signal(SIGALRM, on_alarm);
        alarm((unsigned)atoi(tmo));
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("runstat: wait4");
            return 125;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int code = timed_out ? 124 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return 125;
    }
    fprintf(f, "%.6f %.6f %.6f %ld %d\n",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss, code);
    fclose(f);
    return code;
}
