/*
 * Subprocess sessions on one shared listener: the time from a child's connect to its
 * session being ready on the adapter's side (dapper_ipc_session_listener_accept returned
 * the session's manager), for K children connecting at once.
 *
 *   sessions run <unix|tcp> <children> <rounds>
 *       each round: K session ids expected, K threads waiting in accept (one per id), K
 *       children spawned at once; each child stamps CLOCK_MONOTONIC just before connect()
 *       and sends it in its hello ("t", an extra member the parser ignores); the accepting
 *       thread stamps the moment accept returned. Prints p50_us=, p99_us=, max_us=, n=.
 *   sessions raw <unix|tcp> <children> <rounds>
 *       the baseline: the same children and clock, and a hand-written shared endpoint in
 *       raw C (what an adapter writes without the library): one thread accepts each client
 *       and reads its hello frame with blocking reads; ready when the hello is read.
 *   sessions child <unix|tcp> <path|port> <session-id>
 *       a raw C launcher: connect, hello, wait for end-of-file.
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_CHILDREN 64

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* One connect attempt; -1 when it failed. */
static int connect_once(const char *transport, const char *where)
{
    int fd;
    int rc;
    if (strcmp(transport, "unix") == 0) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", where);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(where))};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int child(const char *transport, const char *where, const char *id)
{
    /* The launcher's policy: up to 60 attempts, 50 ms apart (a full backlog refuses). The
       clock starts at the attempt that connected. */
    int64_t stamp = 0;
    int fd = -1;
    for (int attempt = 0; attempt < 60 && fd < 0; attempt++) {
        if (attempt > 0)
            usleep(50000);
        stamp = now_ns();
        fd = connect_once(transport, where);
    }
    if (fd < 0)
        return 2;
    char frame[512];
    int n = snprintf(frame + 8, sizeof frame - 8,
                     "{\"event\":\"dapper/sessionHello\",\"body\":{\"sessionId\":\"%s\",\"pid\":%d,\"t\":%lld}}", id,
                     (int)getpid(), (long long)stamp);
    memcpy(frame, "DP\x01\x01", 4);
    frame[4] = (char)(n >> 24), frame[5] = (char)(n >> 16), frame[6] = (char)(n >> 8), frame[7] = (char)n;
    if (write(fd, frame, (size_t)n + 8) != n + 8)
        return 3;
    char b;
    while (read(fd, &b, 1) > 0) {
    }
    close(fd);
    return 0;
}

struct waiter {
    dapper_ipc_session_listener listener;
    char id[32];
    int64_t latency_ns;
    int ok;
};

static void *accept_one(void *arg)
{
    struct waiter *w = arg;
    dapper_ipc_manager m;
    if (dapper_ipc_session_listener_accept(w->listener, w->id, 10000, &m) != DAPPER_IPC_OK)
        return NULL;
    int64_t ready = now_ns();
    char hello[512];
    const char *t;
    if (dapper_ipc_session_hello(m, hello, sizeof hello, NULL) == DAPPER_IPC_OK && (t = strstr(hello, "\"t\":")) != NULL) {
        w->latency_ns = ready - atoll(t + 4);
        w->ok = 1;
    }
    dapper_ipc_manager_destroy(m);
    return NULL;
}

static int compare(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Prints the percentiles of n samples (of the expected count) and frees them. */
static int report(int64_t *samples, int n, int expected)
{
    if (n == 0) {
        fprintf(stderr, "sessions: no session became ready\n");
        free(samples);
        return 1;
    }
    qsort(samples, (size_t)n, sizeof *samples, compare);
    printf("p50_us=%.1f p99_us=%.1f max_us=%.1f n=%d missing=%d\n", samples[n / 2] / 1e3,
           samples[n * 99 / 100 < n ? n * 99 / 100 : n - 1] / 1e3, samples[n - 1] / 1e3, n, expected - n);
    free(samples);
    return 0;
}

static int run(const char *transport, int children, int rounds, const char *self)
{
    dapper_ipc_session_listener l;
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = transport;
    if (dapper_ipc_session_listener_create(&l) != DAPPER_IPC_OK || dapper_ipc_session_listener_listen(l, &config) != 0) {
        fprintf(stderr, "sessions: listen failed\n");
        return 1;
    }
    char args[1024];
    size_t length;
    int32_t argc;
    dapper_ipc_session_listener_launcher_args(l, args, sizeof args, &length, &argc);
    const char *a[8];
    const char *p = args;
    for (int i = 0; i < argc && i < 8; i++, p += strlen(p) + 1)
        a[i] = p;
    const char *where = strcmp(transport, "unix") == 0 ? a[3] : a[5];

    int64_t *samples = calloc((size_t)children * (size_t)rounds, sizeof *samples);
    int n = 0;
    struct waiter w[MAX_CHILDREN];
    pthread_t threads[MAX_CHILDREN];
    pid_t pids[MAX_CHILDREN];
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < children; i++) {
            w[i] = (struct waiter){.listener = l};
            snprintf(w[i].id, sizeof w[i].id, "r%d-c%d", r, i);
            dapper_ipc_session_listener_expect(l, w[i].id);
            pthread_create(&threads[i], NULL, accept_one, &w[i]);
        }
        for (int i = 0; i < children; i++) {
            char *argv[] = {(char *)self, "child", (char *)transport, (char *)where, w[i].id, NULL};
            posix_spawn(&pids[i], self, NULL, NULL, argv, environ);
        }
        for (int i = 0; i < children; i++) {
            pthread_join(threads[i], NULL);
            waitpid(pids[i], NULL, 0);
            if (w[i].ok)
                samples[n++] = w[i].latency_ns;
        }
    }
    dapper_ipc_session_listener_destroy(l);
    return report(samples, n, children * rounds);
}

static int read_all(int fd, char *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return 0;
        got += (size_t)r;
    }
    return 1;
}

static int raw(const char *transport, int children, int rounds, const char *self)
{
    char path[108], where[128];
    int fd;
    if (strcmp(transport, "unix") == 0) {
        snprintf(path, sizeof path, "/tmp/dapper-bench-sessions-%d.sock", (int)getpid());
        unlink(path);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
            return 1;
        snprintf(where, sizeof where, "%s", path);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        socklen_t len = sizeof a;
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
            return 1;
        snprintf(where, sizeof where, "%d", ntohs(a.sin_port));
        path[0] = 0;
    }
    listen(fd, 64);
    int64_t *samples = calloc((size_t)children * (size_t)rounds, sizeof *samples);
    int n = 0;
    pid_t pids[MAX_CHILDREN];
    int clients[MAX_CHILDREN];
    for (int r = 0; r < rounds; r++) {
        char ids[MAX_CHILDREN][32];
        for (int i = 0; i < children; i++) {
            snprintf(ids[i], sizeof ids[i], "r%d-c%d", r, i);
            char *argv[] = {(char *)self, "child", (char *)transport, where, ids[i], NULL};
            posix_spawn(&pids[i], self, NULL, NULL, argv, environ);
        }
        for (int i = 0; i < children; i++) {
            struct pollfd ready = {.fd = fd, .events = POLLIN};
            clients[i] = poll(&ready, 1, 10000) == 1 ? accept(fd, NULL, NULL) : -1;
            char frame[520];
            const char *t;
            if (clients[i] >= 0 && read_all(clients[i], frame, 8)) {
                size_t len = ((size_t)(uint8_t)frame[4] << 24) | ((size_t)(uint8_t)frame[5] << 16) |
                             ((size_t)(uint8_t)frame[6] << 8) | (uint8_t)frame[7];
                if (len < 511 && read_all(clients[i], frame, len)) {
                    int64_t ready = now_ns();
                    frame[len] = 0;
                    if ((t = strstr(frame, "\"t\":")) != NULL)
                        samples[n++] = ready - atoll(t + 4);
                }
            }
        }
        /* Accepted in any order: every connection is closed before any child is waited for. */
        for (int i = 0; i < children; i++)
            if (clients[i] >= 0)
                close(clients[i]);
        for (int i = 0; i < children; i++)
            waitpid(pids[i], NULL, 0);
    }
    close(fd);
    if (path[0])
        unlink(path);
    return report(samples, n, children * rounds);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "child") == 0)
        return child(argv[2], argv[3], argv[4]);
    if (argc == 5 && (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "raw") == 0)) {
        int children = atoi(argv[3]);
        if (children < 1 || children > MAX_CHILDREN)
            return 2;
        char self[4096];
        ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
        self[k > 0 ? k : 0] = 0;
        return (strcmp(argv[1], "raw") == 0 ? raw : run)(argv[2], children, atoi(argv[4]), k > 0 ? self : argv[0]);
    }
    fprintf(stderr, "usage: sessions run|raw <unix|tcp> <children> <rounds> | sessions child ...\n");
    return 2;
}
