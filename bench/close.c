/* How long closing takes when the peer has everything: connect a listening manager and a
   client, exchange one frame, then time the pair of destroys, in both orders, from many
   threads at once. The peer never closes first on its own, so a close that waits for the
   peer's end-of-file shows up as the whole linger.

     close <unix|tcp> <threads> <cycles per thread> [samples.bin]

   Prints p50/p99/max over every cycle, for each order ("server first": the listening
   side is destroyed while its connected client is alive; "client first"). */
#include "dapper_ipc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *transport;
static long cycles;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void on_message(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    (void)kind, (void)payload, (void)length;
    __atomic_add_fetch((int *)user, 1, __ATOMIC_SEQ_CST);
}

static void fail(const char *what)
{
    char message[512];
    dapper_ipc_last_error(message, sizeof message, NULL);
    fprintf(stderr, "close bench: %s: %s\n", what, message);
    exit(1);
}

struct worker {
    pthread_t thread;
    double *server_first, *client_first; /* microseconds, cycles / 2 each */
    long n_server_first, n_client_first;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (long i = 0; i < cycles; i++) {
        int got = 0;
        dapper_ipc_manager server, client;
        dapper_ipc_config config;
        if (dapper_ipc_manager_create(&server) != DAPPER_IPC_OK)
            fail("manager_create");
        dapper_ipc_set_callback(server, on_message, NULL, &got);
        dapper_ipc_config_init(&config, sizeof config);
        config.transport = transport;
        if (dapper_ipc_create_listener(server, &config) != DAPPER_IPC_OK)
            fail("create_listener");
        char args[1024];
        size_t length = 0;
        int32_t argc = 0;
        const char *argv[8];
        int n = 0;
        if (dapper_ipc_launcher_args(server, args, sizeof args, &length, &argc) != DAPPER_IPC_OK)
            fail("launcher_args");
        for (size_t o = 0; o < length && n < 8; o += strlen(args + o) + 1)
            argv[n++] = args + o;
        if (dapper_ipc_start_reader(server) != DAPPER_IPC_OK)
            fail("start_reader");
        if (dapper_ipc_manager_create(&client) != DAPPER_IPC_OK)
            fail("manager_create");
        if (dapper_ipc_connect_argv(client, n, argv) != DAPPER_IPC_OK)
            fail("connect_argv");
        if (dapper_ipc_wait_for_client(server, 10000) != DAPPER_IPC_OK)
            fail("wait_for_client");
        if (dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{\"s\":0}", 7) != DAPPER_IPC_OK)
            fail("send");
        while (!__atomic_load_n(&got, __ATOMIC_SEQ_CST))
            usleep(50);
        double start = now_us();
        if (i % 2) {
            dapper_ipc_manager_destroy(server);
            dapper_ipc_manager_destroy(client);
            w->server_first[w->n_server_first++] = now_us() - start;
        } else {
            dapper_ipc_manager_destroy(client);
            dapper_ipc_manager_destroy(server);
            w->client_first[w->n_client_first++] = now_us() - start;
        }
    }
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *all, long n)
{
    qsort(all, (size_t)n, sizeof *all, by_value);
    printf("%s_p50_ms=%.3f %s_p99_ms=%.3f %s_max_ms=%.3f %s_n=%ld ", name, all[n / 2] / 1e3, name,
           all[n * 99 / 100 < n ? n * 99 / 100 : n - 1] / 1e3, name, all[n - 1] / 1e3, name, n);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: close <unix|tcp> <threads> <cycles per thread> [samples.bin]\n");
        return 2;
    }
    transport = argv[1];
    int threads = atoi(argv[2]);
    cycles = atol(argv[3]);
    struct worker *workers = calloc((size_t)threads, sizeof *workers);
    for (int t = 0; t < threads; t++) {
        workers[t].server_first = calloc((size_t)cycles, sizeof(double));
        workers[t].client_first = calloc((size_t)cycles, sizeof(double));
        pthread_create(&workers[t].thread, NULL, work, &workers[t]);
    }
    double *server_first = calloc((size_t)(threads * cycles), sizeof(double));
    double *client_first = calloc((size_t)(threads * cycles), sizeof(double));
    long ns = 0, nc = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(workers[t].thread, NULL);
        memcpy(server_first + ns, workers[t].server_first, (size_t)workers[t].n_server_first * sizeof(double));
        ns += workers[t].n_server_first;
        memcpy(client_first + nc, workers[t].client_first, (size_t)workers[t].n_client_first * sizeof(double));
        nc += workers[t].n_client_first;
    }
    if (ns)
        report("server_first", server_first, ns);
    if (nc)
        report("client_first", client_first, nc);
    printf("\n");
    return 0;
}
