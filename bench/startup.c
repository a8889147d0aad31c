/*
 * The cost of the library itself, in a fresh process each time.
 *
 *   startup time <libdapper_ipc.so>
 *       dlopen, then a listener and a client in this process (both through the library:
 *       create listener, connect, start both readers), one message each way. Prints the
 *       time from just before dlopen to the second message's arrival, and dlopen alone.
 *   startup rss <libdapper_ipc.so> <bench-binary>
 *       VmRSS before dlopen and after the first round trip of a process that loads the
 *       library and holds exactly one connection: a listener here, the peer is the raw C
 *       echo child of `bench` in its own process (so only this side's cost is counted).
 *
 * The library is dlopen'ed (not linked) so its load is inside the measurement.
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int got;

static void on_message(void *u, int32_t k, const uint8_t *p, size_t n)
{
    (void)u, (void)k, (void)p, (void)n;
    pthread_mutex_lock(&lock);
    got++;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}

static void wait_got(int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&lock);
    while (got < n)
        if (pthread_cond_timedwait(&cond, &lock, &until) == ETIMEDOUT) {
            fprintf(stderr, "startup: no message within 10 s\n");
            exit(1);
        }
    pthread_mutex_unlock(&lock);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static void check(int32_t status, const char *what)
{
    if (status != DAPPER_IPC_OK) {
        fprintf(stderr, "startup: %s failed with status %d\n", what, status);
        exit(1);
    }
}

#define BIND(name) __typeof__(&dapper_ipc_##name) name = (__typeof__(&dapper_ipc_##name))dlsym(h, "dapper_ipc_" #name)

/* 128-byte JSON payload, as the round-trip benchmark sends. */
static char payload[129];

int main(int argc, char **argv)
{
    alarm(30);
    if (argc < 3 || (strcmp(argv[1], "time") && strcmp(argv[1], "rss")) || (!strcmp(argv[1], "rss") && argc < 4)) {
        fprintf(stderr, "usage: startup time <library> | startup rss <library> <bench-binary>\n");
        return 2;
    }
    int rss_mode = strcmp(argv[1], "rss") == 0;
    snprintf(payload, sizeof payload, "{\"seq\":1,\"type\":\"request\",\"command\":\"evaluate\",\"arguments\":{\"expression\":\"%0*d\"}}",
             128 - 77, 0);

    long rss0 = rss_kib();
    double t0 = now_ms();
    void *h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    double t_loaded = now_ms();
    BIND(manager_create); BIND(config_init); BIND(create_listener); BIND(launcher_args); BIND(connect);
    BIND(set_callbacks); BIND(start_reader); BIND(wait_for_client); BIND(send); BIND(manager_destroy);

    dapper_ipc_manager s, c;
    dapper_ipc_config a, b;
    char args[512];
    size_t len;
    check(manager_create(&s), "manager_create");
    double t_first_call = now_ms(); /* the first call into the library starts its runtime */
    check(set_callbacks(s, on_message, NULL, NULL), "set_callbacks");
    config_init(&a, sizeof a);
    a.transport = "unix";
    check(create_listener(s, &a), "create_listener");
    check(launcher_args(s, args, sizeof args, &len, NULL), "launcher_args");
    check(start_reader(s), "start_reader");
    double t_listening = now_ms();
    const char *path = args + strlen("--ipc") + 1 + strlen("unix") + 1 + strlen("--ipc-path") + 1;

    pid_t child = 0;
    double t_connected = 0;
    if (rss_mode) {
        /* the peer: the raw C echo of bench, in its own process */
        char *cargv[] = {argv[3], "child-raw", "echo", "0", "unix", (char *)path, NULL};
        if (posix_spawn(&child, argv[3], NULL, NULL, cargv, environ) != 0) {
            fprintf(stderr, "startup: cannot start %s\n", argv[3]);
            return 1;
        }
        check(wait_for_client(s, 10000), "wait_for_client");
        check(send(s, DAPPER_IPC_KIND_COMMAND, payload, 128), "send");
        wait_got(1);
    } else {
        check(manager_create(&c), "manager_create");
        check(set_callbacks(c, on_message, NULL, NULL), "set_callbacks");
        config_init(&b, sizeof b);
        b.transport = "unix";
        b.path = path;
        check(connect(c, &b), "connect");
        check(start_reader(c), "start_reader");
        check(wait_for_client(s, 10000), "wait_for_client");
        t_connected = now_ms();
        check(send(s, DAPPER_IPC_KIND_COMMAND, payload, 128), "send");
        wait_got(1);
        check(send(c, DAPPER_IPC_KIND_EVENT, payload, 128), "send");
        wait_got(2);
    }
    double t1 = now_ms();
    long rss1 = rss_kib();
    printf("load_to_first_round_trip_ms=%.3f dlopen_ms=%.3f first_call_ms=%.3f listen_ms=%.3f connect_ms=%.3f "
           "round_trip_ms=%.3f rss_gain_kib=%ld\n",
           t1 - t0, t_loaded - t0, t_first_call - t_loaded, t_listening - t_first_call,
           rss_mode ? 0.0 : t_connected - t_listening, rss_mode ? 0.0 : t1 - t_connected, rss1 - rss0);
    if (!rss_mode)
        manager_destroy(c);
    manager_destroy(s);
    if (child)
        waitpid(child, NULL, 0);
    return 0;
}
