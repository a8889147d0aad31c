/*
 * What the C test programs (hardening.c, lifecycle.c) share: a check that prints
 * "ok:" or "FAILED:" and counts failures, the calling thread's last error, the
 * program's own path (peers are the same program in a peer mode), a child whose
 * stdout the test reads, and main's dispatch to one test of the program's table.
 * Header-only; each program includes it once.
 */
#ifndef DAPPER_IPC_TESTS_CHECK_H
#define DAPPER_IPC_TESTS_CHECK_H

#include <dapper_ipc.h>

#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* The longest any test waits for an event before it calls the promise broken. */
#define WAIT_SECONDS 20

static int failures;

static void check(int condition, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", condition ? "ok" : "FAILED");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (!condition)
        failures++;
}

static const char *last_error(void)
{
    static __thread char message[512];
    dapper_ipc_last_error(message, sizeof message, NULL);
    return message;
}

/* This program's path, for spawning it again as a peer. */
static char self_exe[4096];

/* Call first in main: finds self_exe and makes stdout line-buffered. */
static void test_program_init(const char *argv0)
{
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n <= 0)
        snprintf(self_exe, sizeof self_exe, "%s", argv0);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Spawns argv with its stdout on a pipe; returns the pid (-1 on failure) and the read end in *out. */
static pid_t spawn_with_stdout(char *const argv[], int *out)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    *out = fds[0];
    return pid;
}

/* Exit status of a skipped test (CTest's SKIP_RETURN_CODE), with the reason printed. */
#define SKIP 77

/* One row of a program's test table; CMake reads the names from the rows. */
struct named_test {
    const char *name;
    int (*run)(void);
};

/* Runs the test argv[1] names: 0 passed, 1 failed, SKIP skipped, 2 no such test. */
static int run_named_test(const char *program, int argc, char **argv, const struct named_test *tests, size_t count)
{
    for (size_t i = 0; argc == 2 && i < count; i++) {
        if (strcmp(argv[1], tests[i].name) == 0) {
            int rc = tests[i].run();
            if (rc == SKIP)
                return SKIP;
            printf("%s: %s\n", tests[i].name, failures == 0 ? "passed" : "FAILED");
            return failures == 0 && rc == 0 ? 0 : 1;
        }
    }
    fprintf(stderr, "usage: %s <test>\n", program);
    return 2;
}

#endif
