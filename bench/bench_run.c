/*
 * Runs one command and prints its wall time in seconds and its peak
 * resident set size in KiB ("SECONDS KIB"), measured with wait4(), so the
 * benchmark scripts need no external timing tool.
 *
 * Usage: bench_run COMMAND [ARG]...
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec t0;
    struct timespec t1;
    struct rusage ru;
    int status = 0;
    pid_t pid;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_run COMMAND [ARG]...\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid = fork();
    if (pid < 0) {
        perror("bench_run: fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror("bench_run: exec");
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("bench_run: wait4");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.3f %ld\n", (double)(t1.tv_sec - t0.tv_sec) +
           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, ru.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
