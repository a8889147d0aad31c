/*
 * Streams the host brings, beside the library's own unix socket, all in one process (two
 * managers, the echoing one on its reader thread, the measuring one on this thread with
 * dapper_ipc_recv): round trips of 128-byte frames over
 *   unix      create_listener + connect
 *   adopted   a socketpair, each end given to dapper_ipc_adopt
 *   plugin    the same socketpair, one end driven through a registered transport whose
 *             read and write ops are recv and send on it (so the only difference from
 *             "adopted" is the plugin path)
 * and a one-way stream of 128-byte frames (send per frame) for the per-frame cost.
 * Prints name=value figures for bench/run.py.
 *   adopt <rtt-count> <stream-count>
 */
#include <dapper_ipc.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    char message[512];
    dapper_ipc_last_error(message, sizeof message, NULL);
    fprintf(stderr, "bench adopt: %s: %s\n", what, message);
    exit(1);
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* ---- the plugin: a connection is a heap int, the descriptor ("fd:N" is the address). */

static int32_t sock_connect(void *user, const char *address, int32_t timeout_ms, void **connection)
{
    (void)user;
    (void)timeout_ms;
    int *box = malloc(sizeof *box);
    *box = atoi(address + 3);
    *connection = box;
    return DAPPER_IPC_OK;
}

static intptr_t sock_read(void *user, void *c, void *buf, size_t cap)
{
    (void)user;
    for (;;) {
        ssize_t n = recv(*(int *)c, buf, cap, 0);
        if (n >= 0 || errno != EINTR)
            return n >= 0 ? n : DAPPER_IPC_E_IO;
    }
}

static intptr_t sock_write(void *user, void *c, const void *buf, size_t len)
{
    (void)user;
    for (;;) {
        ssize_t n = send(*(int *)c, buf, len, MSG_NOSIGNAL);
        if (n >= 0 || errno != EINTR)
            return n >= 0 ? n : DAPPER_IPC_E_CLOSED;
    }
}

static void sock_shutdown(void *user, void *c)
{
    (void)user;
    shutdown(*(int *)c, SHUT_RDWR);
}

static void sock_close(void *user, void *c)
{
    (void)user;
    close(*(int *)c);
    free(c);
}

/* ---- the echoing side */

static dapper_ipc_manager echo_manager;
static volatile long sunk;

static void on_echo(void *user, int32_t kind, const uint8_t *data, size_t length)
{
    (void)user;
    (void)kind;
    dapper_ipc_send(echo_manager, DAPPER_IPC_KIND_EVENT, data, length);
}

static void on_sink(void *user, int32_t kind, const uint8_t *data, size_t length)
{
    (void)user;
    (void)kind;
    (void)data;
    (void)length;
    __atomic_add_fetch(&sunk, 1, __ATOMIC_RELEASE);
}

/* Connects a (measuring) and b (echoing or sinking) over `how`. */
static void connect_pair(const char *how, dapper_ipc_manager *a, dapper_ipc_manager *b)
{
    dapper_ipc_manager_create(a);
    dapper_ipc_manager_create(b);
    if (strcmp(how, "unix") == 0) {
        dapper_ipc_config c;
        dapper_ipc_config_init(&c, sizeof c);
        c.transport = "unix";
        if (dapper_ipc_create_listener(*b, &c) != DAPPER_IPC_OK)
            die("create_listener");
        char args[512];
        size_t length;
        int32_t argc;
        dapper_ipc_launcher_args(*b, args, sizeof args, &length, &argc);
        const char *argv[8] = {"x"};
        const char *p = args;
        for (int i = 0; i < argc; i++, p += strlen(p) + 1)
            argv[i + 1] = p;
        if (dapper_ipc_connect_argv(*a, argc + 1, argv) != DAPPER_IPC_OK || dapper_ipc_wait_for_client(*b, 10000) != 0)
            die("connect");
        return;
    }
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    if (dapper_ipc_adopt(*b, sv[1], sv[1], 0) != DAPPER_IPC_OK)
        die("adopt");
    if (strcmp(how, "adopted") == 0) {
        if (dapper_ipc_adopt(*a, sv[0], sv[0], 0) != DAPPER_IPC_OK)
            die("adopt");
        return;
    }
    char address[32];
    snprintf(address, sizeof address, "fd:%d", sv[0]);
    dapper_ipc_config c;
    dapper_ipc_config_init(&c, sizeof c);
    c.transport = "benchsock";
    c.path = address;
    if (dapper_ipc_connect(*a, &c) != DAPPER_IPC_OK)
        die("connect benchsock");
}

static int compare(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static void rtt(const char *how, long n)
{
    dapper_ipc_manager a, b;
    connect_pair(how, &a, &b);
    echo_manager = b;
    dapper_ipc_set_callback(b, on_echo, NULL, NULL);
    dapper_ipc_start_reader(b);
    uint8_t frame[128] = {0}, got[256];
    double *samples = malloc(sizeof(double) * (size_t)n);
    for (long i = -n / 10; i < n; i++) { /* a tenth as warm-up */
        double start = now_us();
        size_t length;
        if (dapper_ipc_send(a, DAPPER_IPC_KIND_COMMAND, frame, sizeof frame) != 0 ||
            dapper_ipc_recv(a, got, sizeof got, &length, NULL, -1) != 0)
            die("round trip");
        if (i >= 0)
            samples[i] = now_us() - start;
    }
    qsort(samples, (size_t)n, sizeof(double), compare);
    printf("%s_rtt_p50_us=%.2f\n%s_rtt_p99_us=%.2f\n", how, samples[n / 2], how, samples[n * 99 / 100]);
    free(samples);
    dapper_ipc_manager_destroy(a);
    dapper_ipc_manager_destroy(b);
}

static void stream(const char *how, long n)
{
    dapper_ipc_manager a, b;
    connect_pair(how, &a, &b);
    sunk = 0;
    dapper_ipc_set_callback(b, on_sink, NULL, NULL);
    dapper_ipc_start_reader(b);
    uint8_t frame[128] = {0};
    double start = now_us();
    for (long i = 0; i < n; i++)
        if (dapper_ipc_send(a, DAPPER_IPC_KIND_COMMAND, frame, sizeof frame) != 0)
            die("send");
    while (__atomic_load_n(&sunk, __ATOMIC_ACQUIRE) < n)
        sched_yield();
    double took = now_us() - start;
    printf("%s_stream_ns_per_frame=%.1f\n", how, took * 1000 / n);
    dapper_ipc_manager_destroy(a);
    dapper_ipc_manager_destroy(b);
}

int main(int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[1], "adopt") != 0) {
        fprintf(stderr, "usage: adopt adopt <rtt-count> <stream-count>\n");
        return 2;
    }
    dapper_ipc_transport_ops ops;
    memset(&ops, 0, sizeof ops);
    ops.struct_size = sizeof ops;
    ops.connect = sock_connect;
    ops.read = sock_read;
    ops.write = sock_write;
    ops.shutdown = sock_shutdown;
    ops.close = sock_close;
    if (dapper_ipc_register_transport("benchsock", &ops, NULL) != DAPPER_IPC_OK)
        die("register_transport");
    long n = atol(argv[2]), frames = atol(argv[3]);
    const char *hows[] = {"unix", "adopted", "plugin"};
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 3; k++) {
            const char *how = hows[(k + round) % 3];
            rtt(how, n);
            stream(how, frames);
        }
    return 0;
}
