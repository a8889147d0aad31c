/*
 * What the C test programs (hardening.c, lifecycle.c) share: a check that prints
 * "ok:" or "FAILED:" and counts failures, the calling thread's last error, a new manager and
 * a config for a transport, a listener's address, a directory's
 * entry count, the program's own path (peers are the same program in a peer mode), a child whose
 * stdout the test reads, and main's dispatch to one test of the program's table.
 * Header-only; each program includes it once.
 */
#ifndef DAPPER_IPC_TESTS_CHECK_H
#define DAPPER_IPC_TESTS_CHECK_H

#include <dapper_ipc.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <mach-o/dyld.h> /* _NSGetExecutablePath: macOS has no /proc */
#include <stdint.h>
#endif

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

/* A call that must succeed for the test to go on: otherwise the program ends, failed. */
static inline void must(int32_t status, const char *what)
{
    if (status != DAPPER_IPC_OK) {
        printf("FAILED: %s: %d %s\n", what, status, last_error());
        exit(1);
    }
}

/* A new manager, or the program ends failed (what names it in the failure). */
static inline dapper_ipc_manager new_manager(const char *what)
{
    dapper_ipc_manager m;
    must(dapper_ipc_manager_create(&m), what);
    return m;
}

/* A config with the defaults and this transport. */
static inline dapper_ipc_config config_for(const char *transport)
{
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = transport;
    return config;
}

static inline double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Creates the listener that config describes and returns its last launcher argument (the
   unix path or the tcp port), which lives in args. */
static inline const char *listen_on(dapper_ipc_manager server, const dapper_ipc_config *config, char args[512])
{
    must(dapper_ipc_create_listener(server, config), "create_listener");
    size_t length;
    int32_t argc;
    must(dapper_ipc_launcher_args(server, args, 512, &length, &argc), "launcher_args");
    const char *last = args;
    for (int i = 0; i < argc - 1; i++)
        last += strlen(last) + 1;
    return last;
}

/* This program's path, for spawning it again as a peer. */
static char self_exe[4096];

/* Call first in main: finds self_exe and makes stdout line-buffered. */
static void test_program_init(const char *argv0)
{
#if defined(__APPLE__)
    uint32_t size = sizeof self_exe;
    int found = _NSGetExecutablePath(self_exe, &size) == 0;
#else
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    int found = n > 0;
#endif
    if (!found)
        snprintf(self_exe, sizeof self_exe, "%s", argv0);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* A latch: one side adds, the other waits for a count (bounded, so a broken promise
   fails the test instead of hanging it). */
struct latch {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int value;
};
#define LATCH_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static void latch_add(struct latch *l, int n)
{
    pthread_mutex_lock(&l->lock);
    l->value += n;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

static int latch_wait(struct latch *l, int at_least, int seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    int ok = 1;
    pthread_mutex_lock(&l->lock);
    while (l->value < at_least && ok)
        ok = pthread_cond_timedwait(&l->cond, &l->lock, &deadline) != ETIMEDOUT;
    pthread_mutex_unlock(&l->lock);
    return ok;
}

/* A one-use barrier for `parties` threads, from a latch (macOS has no pthread_barrier_t):
   each arrives, and none goes on before all have arrived. */
static inline void barrier_wait(struct latch *l, int parties)
{
    latch_add(l, 1);
    latch_wait(l, parties, WAIT_SECONDS);
}

/* Spawns argv with its stdout on a pipe; returns the pid (-1 on failure) and the read end in *out. */
static inline pid_t spawn_with_stdout(char *const argv[], int *out)
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

/* The entries of a directory (whose names start with prefix, unless it is NULL): open
   descriptors in /proc/self/fd, threads in /proc/self/task, files a test left. */
static inline int count_dir(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && (prefix == NULL || strncmp(e->d_name, prefix, strlen(prefix)) == 0))
            n++;
    if (d != NULL)
        closedir(d);
    return n;
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
