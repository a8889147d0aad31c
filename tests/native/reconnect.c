/*
 * DAPPER_IPC_FLAG_RECONNECT through the C ABI: a fault-injecting proxy (tcp or unix)
 * between a listener and its client cuts the connection every ~500 frames (at any byte,
 * mid-frame included) while 100,000 numbered frames flow each way; both hosts must see
 * each frame exactly once and in order, and every send must succeed. Also: a listener
 * whose process was restarted refuses the resume, and the client reports DISCONNECTED
 * saying so; more unacknowledged data than the resume buffer fails the resume, saying
 * so; a stock client of a listener with the flag sees no byte of difference.
 * RECONNECT_TEST_LOG=1 prints the library's log.
 *
 *   reconnect <test>             runs one test (CTest registers each row of the table)
 *   reconnect peer-listen PORT   a listener process with the flag on tcp PORT (0: any);
 *                                prints its port, then takes frames until killed
 *
 * Exit 0: passed; 1: failed.
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define FRAMES 100000
#define CUT_EVERY 500
#define FRAME_BYTES (8 + 8)

/* Copies a NUL-terminated string into dst[cap], cut to fit. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* "tcp", or "tls" for the tls variants (the proxy then cuts tls records mid-way, and each
   reconnect is a fresh handshake through it, pinned to the listener's certificate). */
static const char *ip_transport = "tcp";
static char pinned[128];

/* Listens (tcp on port, or unix when port < 0) and returns the address: the port, or the
   socket path in path_out. */
static int listen_at(dapper_ipc_manager m, int port, int flags, char path_out[256])
{
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = port < 0 ? "unix" : ip_transport;
    config.port = port < 0 ? 0 : port;
    config.flags = (uint32_t)flags;
    must(dapper_ipc_create_listener(m, &config), "create_listener");
    char args[512];
    size_t length;
    int32_t argc;
    must(dapper_ipc_launcher_args(m, args, sizeof args, &length, &argc), "launcher_args");
    if (port >= 0 && strcmp(ip_transport, "tls") == 0) {
        must(dapper_ipc_tls_fingerprint(m, pinned, sizeof pinned, NULL), "tls_fingerprint");
        argc -= 2; /* the port comes before --ipc-tls-fingerprint <pin> */
    }
    const char *last = args;
    for (int i = 0; i < argc - 1; i++)
        last += strlen(last) + 1;
    if (path_out != NULL)
        copy_text(path_out, 256, last);
    return port < 0 ? 0 : atoi(last);
}

static int listen_port(dapper_ipc_manager m, int port, int flags) { return listen_at(m, port, flags, NULL); }

static void connect_at(dapper_ipc_manager m, int port, const char *path, int flags, uint32_t resume_bytes)
{
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = path != NULL ? "unix" : ip_transport;
    config.tls_fingerprint = path == NULL && strcmp(ip_transport, "tls") == 0 ? pinned : NULL;
    config.port = port;
    config.path = path;
    config.flags = (uint32_t)flags;
    config.connect_timeout_ms = WAIT_SECONDS * 1000;
    config.reconnect_timeout_ms = WAIT_SECONDS * 1000;
    config.resume_buffer_bytes = resume_bytes;
    must(dapper_ipc_connect(m, &config), "connect");
}

static void connect_port(dapper_ipc_manager m, int port, int flags) { connect_at(m, port, NULL, flags, 0); }

/* ---- the fault-injecting proxy ------------------------------------------------ */

struct proxy {
    int listen_fd;
    int upstream_port;
    char upstream_path[256]; /* unix when not empty */
    char path[256];          /* the proxy's own unix path */
    long every;              /* bytes (both ways) before a cut */
    long stall_after;        /* client-to-listener bytes after which the client is no longer read (0: never) */
    volatile int cut_now;    /* set by the test: cut at once */
    volatile long upward;    /* client-to-listener bytes passed on the current connection */
    volatile int stop;
    int cuts;
    pthread_t thread;
};

static int unix_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    copy_text(addr.sun_path, sizeof addr.sun_path, path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One client at a time (the client only reconnects after the drop): relays both ways and,
   once about CUT_EVERY frames' worth of bytes have passed in both directions together,
   relays only up to a byte chosen at random (mostly inside a frame) and closes both. */
static void *proxy_main(void *arg)
{
    struct proxy *p = arg;
    unsigned seed = 12345;
    while (!p->stop) {
        struct pollfd lp = {.fd = p->listen_fd, .events = POLLIN};
        if (poll(&lp, 1, 100) <= 0)
            continue;
        int down = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (down < 0)
            continue;
        int up = p->upstream_path[0] ? unix_connect(p->upstream_path) : tcp_connect(p->upstream_port);
        if (up < 0) {
            close(down);
            continue;
        }
        long budget = p->every + (long)(rand_r(&seed) % (4 * FRAME_BYTES));
        long upward = 0;
        p->upward = 0;
        uint8_t buf[65536];
        int alive = 1;
        while (alive && !p->stop) {
            if (p->cut_now) {
                /* What the client sent and the proxy did not read is lost with the connection. */
                p->cut_now = 0;
                p->cuts++;
                break;
            }
            int stalled = p->stall_after > 0 && upward >= p->stall_after;
            struct pollfd fds[2] = {{.fd = down, .events = stalled ? 0 : POLLIN}, {.fd = up, .events = POLLIN}};
            if (poll(fds, 2, 20) <= 0)
                continue;
            for (int i = 0; i < 2 && alive; i++) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                int from = i == 0 ? down : up, to = i == 0 ? up : down;
                /* Never past the stall point in one read: one large read (a proxy thread
                   scheduled late under load) once passed all 2,000 frames before it. */
                size_t cap = sizeof buf;
                if (i == 0 && p->stall_after > 0 && (size_t)(p->stall_after - upward) < cap)
                    cap = (size_t)(p->stall_after - upward);
                ssize_t n = recv(from, buf, cap, 0);
                if (n <= 0) {
                    alive = 0;
                    break;
                }
                size_t pass = (size_t)n;
                if (i == 0) {
                    upward += n;
                    p->upward = upward;
                }
                int cut = 0;
                if ((long)pass >= budget) {
                    pass = (size_t)budget;
                    cut = 1;
                }
                budget -= (long)pass;
                if (write_all(to, buf, pass) != 0 || cut)
                    alive = 0;
                if (cut)
                    p->cuts++;
            }
        }
        close(down);
        close(up);
    }
    return NULL;
}

/* A proxy to upstream_port (tcp), or to upstream_path (unix, when not NULL: the proxy
   then listens on a unix path of its own beside it), cutting every `every` bytes. */
static void proxy_start(struct proxy *p, int upstream_port, const char *upstream_path, long every)
{
    memset(p->path, 0, sizeof p->path);
    memset(p->upstream_path, 0, sizeof p->upstream_path);
    p->every = every;
    p->stall_after = 0;
    p->cut_now = 0;
    p->upward = 0;
    if (upstream_path != NULL) {
        snprintf(p->upstream_path, sizeof p->upstream_path, "%s", upstream_path);
        snprintf(p->path, sizeof p->path, "%s.proxy", upstream_path);
        p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        copy_text(addr.sun_path, sizeof addr.sun_path, p->path);
        bind(p->listen_fd, (struct sockaddr *)&addr, sizeof addr);
    } else {
        p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
        bind(p->listen_fd, (struct sockaddr *)&addr, sizeof addr);
    }
    listen(p->listen_fd, 8);
    p->upstream_port = upstream_port;
    p->stop = 0;
    p->cuts = 0;
    pthread_create(&p->thread, NULL, proxy_main, p);
}

static int proxy_port(struct proxy *p)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    getsockname(p->listen_fd, (struct sockaddr *)&addr, &len);
    return ntohs(addr.sin_port);
}

static void proxy_stop(struct proxy *p)
{
    p->stop = 1;
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
    if (p->path[0])
        unlink(p->path);
}

/* ---- a host: numbered frames, checked on arrival ------------------------------ */

struct host {
    dapper_ipc_manager m;
    struct latch received;
    uint64_t next;        /* the number the next frame must carry */
    int out_of_order;
    struct latch reconnecting, connected, disconnected;
    char reason[512];
    char reconnect_reason[512]; /* the last RECONNECTING's */
    int recv_in_state_callback; /* set: RECONNECTING calls recv without limit, its status kept below */
    int32_t state_callback_recv;
};

/* Set in a peer process: each frame is sent back. */
static int echo_frames;

static void on_frame(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    struct host *h = user;
    if (echo_frames)
        dapper_ipc_send(h->m, kind, payload, length);
    uint64_t n = 0;
    for (size_t i = 0; i < 8 && length == 8; i++)
        n = n << 8 | payload[i];
    if (kind != DAPPER_IPC_KIND_EVENT || length != 8 || n != h->next) {
        if (h->out_of_order++ < 5)
            printf("frame %llu arrived where %llu was due\n", (unsigned long long)n, (unsigned long long)h->next);
        if (length == 8 && n < h->next)
            return; /* a duplicate: not counted */
        h->next = n;
    }
    h->next++;
    latch_add(&h->received, 1);
}

static void on_state(void *user, int32_t event, int32_t status, const char *reason)
{
    struct host *h = user;
    (void)status;
    if (event == DAPPER_IPC_EVENT_RECONNECTING) {
        if (h->recv_in_state_callback) {
            uint8_t buf[64];
            size_t length = 0;
            int32_t kind = 0;
            h->state_callback_recv = dapper_ipc_recv(h->m, buf, sizeof buf, &length, &kind, -1);
        }
        snprintf(h->reconnect_reason, sizeof h->reconnect_reason, "%s", reason);
        latch_add(&h->reconnecting, 1);
    } else if (event == DAPPER_IPC_EVENT_CONNECTED) {
        latch_add(&h->connected, 1);
    } else {
        snprintf(h->reason, sizeof h->reason, "%s", reason);
        latch_add(&h->disconnected, 1);
    }
}

static void host_init(struct host *h)
{
    memset(h, 0, sizeof *h);
    struct latch zero = LATCH_INIT;
    h->received = h->reconnecting = h->connected = h->disconnected = zero;
    must(dapper_ipc_manager_create(&h->m), "create");
    must(dapper_ipc_set_callbacks(h->m, on_frame, on_state, h), "callbacks");
}

struct sender {
    dapper_ipc_manager m;
    int failed;
    int32_t status;
};

static void *send_numbered(void *arg)
{
    struct sender *s = arg;
    for (uint64_t n = 0; n < FRAMES; n++) {
        uint8_t payload[8];
        for (int i = 0; i < 8; i++)
            payload[i] = (uint8_t)(n >> (56 - 8 * i));
        int32_t rc = dapper_ipc_send(s->m, DAPPER_IPC_KIND_EVENT, payload, sizeof payload);
        if (rc != DAPPER_IPC_OK) {
            s->failed++;
            s->status = rc;
            printf("send %llu: %d %s\n", (unsigned long long)n, rc, last_error());
            return NULL;
        }
    }
    return NULL;
}

static int cut_every_500_frames(int unix_socket)
{
    struct host server, client;
    host_init(&server);
    host_init(&client);
    char path[256];
    int port = listen_at(server.m, unix_socket ? -1 : 0, DAPPER_IPC_FLAG_RECONNECT, path);
    struct proxy proxy;
    proxy_start(&proxy, port, unix_socket ? path : NULL, (long)CUT_EVERY * 2 * FRAME_BYTES);
    must(dapper_ipc_start_reader(server.m), "server start_reader");
    connect_at(client.m, unix_socket ? 0 : proxy_port(&proxy), unix_socket ? proxy.path : NULL,
               DAPPER_IPC_FLAG_RECONNECT, 0);
    must(dapper_ipc_start_reader(client.m), "client start_reader");

    struct sender up = {client.m, 0, 0}, down = {server.m, 0, 0};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, send_numbered, &up);
    pthread_create(&t2, NULL, send_numbered, &down);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    check(up.failed == 0 && down.failed == 0, "every send of 2 x %d succeeded across the cuts", FRAMES);
    int all_server = latch_wait(&server.received, FRAMES, 10 * WAIT_SECONDS);
    int all_client = latch_wait(&client.received, FRAMES, 10 * WAIT_SECONDS);
    check(all_server && all_client, "both hosts received all %d frames (server %d, client %d)", FRAMES,
          server.received.value, client.received.value);
    check(server.out_of_order == 0 && client.out_of_order == 0,
          "each frame exactly once and in order (out of order or duplicated: server %d, client %d)",
          server.out_of_order, client.out_of_order);
    int cuts = proxy.cuts;
    check(cuts >= FRAMES * 2 / CUT_EVERY / 4, "the proxy cut the connection %d times", cuts);
    check(client.reconnecting.value >= 1 && client.connected.value >= client.reconnecting.value,
          "the client reported RECONNECTING %d times and CONNECTED %d times", client.reconnecting.value,
          client.connected.value);
    check(server.disconnected.value == 0 && client.disconnected.value == 0,
          "no DISCONNECTED on either end (%s%s)", server.reason, client.reason);
    dapper_ipc_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    must(dapper_ipc_get_stats(client.m, &s), "stats");
    check(s.frames_received == FRAMES && s.frames_sent == FRAMES,
          "the client's statistics count each frame once (sent %llu, received %llu)",
          (unsigned long long)s.frames_sent, (unsigned long long)s.frames_received);
    printf("cuts: %d, client reconnects: %d\n", cuts, client.reconnecting.value);
    dapper_ipc_manager_destroy(client.m);
    dapper_ipc_manager_destroy(server.m);
    proxy_stop(&proxy);
    return 0;
}

static int test_cut_every_500_frames_tcp(void) { return cut_every_500_frames(0); }
static int test_cut_every_500_frames_unix(void) { return cut_every_500_frames(1); }
static int test_cut_every_500_frames_tls(void)
{
    ip_transport = "tls";
    return cut_every_500_frames(0);
}

/* ---- the pull mode resumes too ------------------------------------------------ */

/* One end drains with recv_batch, woken by poll() on its readable handle. */
struct puller {
    struct host *h;
    intptr_t handle;      /* the readable handle at the start */
    int poll_timeouts;    /* poll waited WAIT_SECONDS without the handle becoming readable */
    int32_t error;        /* a status other than OK and E_TIMEOUT */
};

static void *pull_numbered(void *arg)
{
    struct puller *p = arg;
    static uint8_t buf[65536];
    dapper_ipc_frame frames[256];
    while (p->h->received.value < FRAMES) {
        struct pollfd pfd = {.fd = (int)p->handle, .events = POLLIN};
        if (poll(&pfd, 1, WAIT_SECONDS * 1000) <= 0) {
            p->poll_timeouts++;
            return NULL;
        }
        size_t count = 0;
        int32_t rc = dapper_ipc_recv_batch(p->h->m, buf, sizeof buf, frames, 256, &count, 0);
        if (rc == DAPPER_IPC_E_TIMEOUT)
            continue;
        if (rc != DAPPER_IPC_OK) {
            p->error = rc;
            printf("recv_batch: %d %s\n", rc, last_error());
            return NULL;
        }
        for (size_t i = 0; i < count; i++)
            on_frame(p->h, frames[i].kind, frames[i].payload, frames[i].length);
    }
    return NULL;
}

/* As cuts-mid-frame, with one end in the pull mode (recv_batch on a thread of the test,
   woken by poll on the readable handle) and the other with the reader thread. */
static int pull_with_cuts(int listener_pulls)
{
    struct host server, client;
    host_init(&server);
    host_init(&client);
    int port = listen_port(server.m, 0, DAPPER_IPC_FLAG_RECONNECT);
    struct proxy proxy;
    proxy_start(&proxy, port, NULL, (long)CUT_EVERY * 2 * FRAME_BYTES);
    if (!listener_pulls)
        must(dapper_ipc_start_reader(server.m), "server start_reader");
    connect_port(client.m, proxy_port(&proxy), DAPPER_IPC_FLAG_RECONNECT);
    struct host *pulling = listener_pulls ? &server : &client;
    if (listener_pulls) {
        /* The handle watches a connection: the client first. */
        must(dapper_ipc_wait_for_client(server.m, WAIT_SECONDS * 1000), "wait_for_client");
        must(dapper_ipc_start_reader(client.m), "client start_reader");
    }

    struct puller puller = {pulling, 0, 0, 0};
    must(dapper_ipc_readable_handle(pulling->m, &puller.handle), "readable_handle");
    struct sender up = {client.m, 0, 0}, down = {server.m, 0, 0};
    pthread_t t1, t2, t3;
    pthread_create(&t3, NULL, pull_numbered, &puller);
    pthread_create(&t1, NULL, send_numbered, &up);
    pthread_create(&t2, NULL, send_numbered, &down);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    check(up.failed == 0 && down.failed == 0, "every send of 2 x %d succeeded across the cuts", FRAMES);
    struct host *calling = listener_pulls ? &client : &server;
    int all_calling = latch_wait(&calling->received, FRAMES, 10 * WAIT_SECONDS);
    pthread_join(t3, NULL);
    check(puller.poll_timeouts == 0 && puller.error == 0,
          "poll on the readable handle woke for every frame, recv_batch never failed (poll timeouts %d, status %d)",
          puller.poll_timeouts, puller.error);
    check(all_calling && pulling->received.value == FRAMES,
          "both hosts received all %d frames (pulling %d, callbacks %d)", FRAMES, pulling->received.value,
          calling->received.value);
    check(server.out_of_order == 0 && client.out_of_order == 0,
          "each frame exactly once and in order (out of order or duplicated: server %d, client %d)",
          server.out_of_order, client.out_of_order);
    int cuts = proxy.cuts;
    check(cuts >= FRAMES * 2 / CUT_EVERY / 4, "the proxy cut the connection %d times", cuts);
    check(pulling->reconnecting.value >= 1 && pulling->connected.value >= pulling->reconnecting.value,
          "the pulling end reported RECONNECTING %d times and CONNECTED %d times", pulling->reconnecting.value,
          pulling->connected.value);
    check(server.disconnected.value == 0 && client.disconnected.value == 0,
          "no DISCONNECTED on either end (%s%s)", server.reason, client.reason);
    intptr_t again = -1;
    must(dapper_ipc_readable_handle(pulling->m, &again), "readable_handle again");
    check(again == puller.handle, "the readable handle is the same across %d reconnects (%ld, then %ld)",
          pulling->reconnecting.value, (long)puller.handle, (long)again);
    dapper_ipc_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    must(dapper_ipc_get_stats(pulling->m, &s), "stats");
    check(s.frames_received == FRAMES && s.frames_sent == FRAMES,
          "the pulling end's statistics count each frame once (sent %llu, received %llu)",
          (unsigned long long)s.frames_sent, (unsigned long long)s.frames_received);
    printf("cuts: %d, pulling end's reconnects: %d\n", cuts, pulling->reconnecting.value);
    dapper_ipc_manager_destroy(client.m);
    dapper_ipc_manager_destroy(server.m);
    proxy_stop(&proxy);
    return 0;
}

static int test_client_pulls_through_cuts(void) { return pull_with_cuts(0); }
static int test_listener_pulls_through_cuts(void) { return pull_with_cuts(1); }

/* A listener in the pull mode whose client left for good: recv returns the frames it
   sent first, then E_CLOSED once the wait for its return (reconnect_timeout_ms) is over,
   on every later call too; the handle wakes poll for that end. */
static int test_pull_ends_when_the_client_is_gone(void)
{
    struct host server, client;
    host_init(&server);
    host_init(&client);
    /* The state callback runs on the thread that fills recv's queue: a recv there that
       waited without limit would wait for itself (it hung before it was refused). */
    server.recv_in_state_callback = 1;
    dapper_ipc_config config = config_for("tcp");
    config.flags = DAPPER_IPC_FLAG_RECONNECT;
    config.reconnect_timeout_ms = 300;
    char args[512];
    int port = atoi(listen_on(server.m, &config, args));
    connect_port(client.m, port, DAPPER_IPC_FLAG_RECONNECT);
    must(dapper_ipc_wait_for_client(server.m, WAIT_SECONDS * 1000), "wait_for_client");
    intptr_t handle = -1;
    must(dapper_ipc_readable_handle(server.m, &handle), "readable_handle");
    for (uint64_t n = 0; n < 10; n++) {
        uint8_t payload[8] = {0, 0, 0, 0, 0, 0, 0, (uint8_t)n};
        must(dapper_ipc_send(client.m, DAPPER_IPC_KIND_EVENT, payload, sizeof payload), "send");
    }
    int taken = 0, polls_in_vain = 0;
    int32_t rc = DAPPER_IPC_OK;
    uint8_t buf[64];
    while (taken < 10) {
        struct pollfd pfd = {.fd = (int)handle, .events = POLLIN};
        if (poll(&pfd, 1, WAIT_SECONDS * 1000) <= 0) {
            polls_in_vain++;
            break;
        }
        size_t length = 0;
        int32_t kind = 0;
        rc = dapper_ipc_recv(server.m, buf, sizeof buf, &length, &kind, 0);
        if (rc == DAPPER_IPC_OK && length == 8 && buf[7] == taken)
            taken++;
        else if (rc != DAPPER_IPC_E_TIMEOUT)
            break;
    }
    check(taken == 10, "recv took the 10 frames in order (%d, last status %d)", taken, rc);
    dapper_ipc_manager_destroy(client.m);
    struct pollfd pfd = {.fd = (int)handle, .events = POLLIN};
    int woke = poll(&pfd, 1, WAIT_SECONDS * 1000) == 1;
    size_t length = 0;
    int32_t kind = 0;
    int32_t end = dapper_ipc_recv(server.m, buf, sizeof buf, &length, &kind, 0);
    char reason[512];
    copy_text(reason, sizeof reason, last_error());
    int32_t again = dapper_ipc_recv(server.m, buf, sizeof buf, &length, &kind, 0);
    check(woke && polls_in_vain == 0, "poll on the readable handle woke for the frames and for the end");
    check(end == DAPPER_IPC_E_CLOSED && again == DAPPER_IPC_E_CLOSED,
          "recv returns E_CLOSED once the client did not come back, and again (%d, %d: %s)", end, again, reason);
    check(server.reconnecting.value == 1 && server.disconnected.value == 1,
          "the listener reported RECONNECTING (%d) then DISCONNECTED (%d: %s)", server.reconnecting.value,
          server.disconnected.value, server.reason);
    check(server.state_callback_recv == DAPPER_IPC_E_INVALID_STATE,
          "recv inside the state callback is refused, not left waiting for its own thread (%d)",
          server.state_callback_recv);
    dapper_ipc_manager_destroy(server.m);
    return 0;
}

struct blocked_recv {
    dapper_ipc_manager m;
    int32_t status;
};

static void *recv_without_limit(void *arg)
{
    struct blocked_recv *b = arg;
    uint8_t buf[64];
    size_t length = 0;
    int32_t kind = 0;
    b->status = dapper_ipc_recv(b->m, buf, sizeof buf, &length, &kind, -1);
    return NULL;
}

/* Cleanup on another thread ends a recv waiting without limit in the pull mode with the
   flag: E_CANCELLED. */
static int test_pull_cleanup_cancels_recv(void)
{
    struct host server, client;
    host_init(&server);
    host_init(&client);
    int port = listen_port(server.m, 0, DAPPER_IPC_FLAG_RECONNECT);
    must(dapper_ipc_start_reader(server.m), "server start_reader");
    connect_port(client.m, port, DAPPER_IPC_FLAG_RECONNECT);
    uint8_t payload[8] = {0};
    must(dapper_ipc_send(server.m, DAPPER_IPC_KIND_EVENT, payload, sizeof payload), "send");
    uint8_t buf[64];
    size_t length = 0;
    int32_t kind = 0;
    must(dapper_ipc_recv(client.m, buf, sizeof buf, &length, &kind, WAIT_SECONDS * 1000), "recv the first frame");
    struct blocked_recv b = {client.m, 1};
    pthread_t t;
    pthread_create(&t, NULL, recv_without_limit, &b);
    /* readable_handle refuses while another thread is inside recv: that says it waits. */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    intptr_t handle;
    int32_t probe;
    while ((probe = dapper_ipc_readable_handle(client.m, &handle)) == DAPPER_IPC_OK && seconds_since(&start) < WAIT_SECONDS)
        sched_yield();
    check(probe == DAPPER_IPC_E_INVALID_STATE, "the recv without limit is waiting (%d)", probe);
    must(dapper_ipc_cleanup(client.m), "cleanup");
    pthread_join(t, NULL);
    check(b.status == DAPPER_IPC_E_CANCELLED, "cleanup ended the recv without limit with E_CANCELLED (%d)", b.status);
    dapper_ipc_manager_destroy(client.m);
    dapper_ipc_manager_destroy(server.m);
    return 0;
}

/* ---- more unacknowledged data than the resume buffer: refused, not lost -------- */

/* The proxy passes the first ~100 frames, then stops reading the client, whose next 1,900
   wait in the kernel; the cut loses them. The client's 4 KiB ring keeps only the last ~300
   frames, so the listener, which has ~100, cannot be given what it lacks. */
static int test_past_the_resume_buffer(void)
{
    struct host server, client;
    host_init(&server);
    host_init(&client);
    int port = listen_port(server.m, 0, DAPPER_IPC_FLAG_RECONNECT);
    struct proxy proxy;
    proxy_start(&proxy, port, NULL, 1L << 40);
    proxy.stall_after = 100 * FRAME_BYTES;
    must(dapper_ipc_start_reader(server.m), "server start_reader");
    connect_at(client.m, proxy_port(&proxy), NULL, DAPPER_IPC_FLAG_RECONNECT, 4096);
    must(dapper_ipc_start_reader(client.m), "client start_reader");
    int32_t rc = DAPPER_IPC_OK;
    for (uint64_t n = 0; n < 2000 && rc == DAPPER_IPC_OK; n++) {
        uint8_t payload[8];
        for (int i = 0; i < 8; i++)
            payload[i] = (uint8_t)(n >> (56 - 8 * i));
        rc = dapper_ipc_send(client.m, DAPPER_IPC_KIND_EVENT, payload, sizeof payload);
    }
    check(rc == DAPPER_IPC_OK, "2,000 sends went to the kernel (%d)", rc);
    /* A proxy thread starved under load may not have passed even the offer yet. */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (proxy.upward < proxy.stall_after && seconds_since(&start) < WAIT_SECONDS)
        usleep(1000);
    check(proxy.upward >= proxy.stall_after, "the proxy passed the first ~100 frames (%ld bytes)", proxy.upward);
    proxy.cut_now = 1;
    check(latch_wait(&client.reconnecting, 1, WAIT_SECONDS), "the cut made the client report RECONNECTING");
    check(latch_wait(&client.disconnected, 1, WAIT_SECONDS), "then DISCONNECTED");
    printf("reason: %s\n", client.reason);
    check(strstr(client.reason, "resume buffer") != NULL,
          "the reason says the frames the listener lacks were past the resume buffer");
    check(latch_wait(&server.disconnected, 1, WAIT_SECONDS) && strstr(server.reason, "resume") != NULL,
          "the listener reports DISCONNECTED too (%s)", server.reason);
    check(server.out_of_order == 0 && server.received.value < 2000,
          "the listener got no frame out of order or twice (%d delivered)", server.received.value);
    dapper_ipc_manager_destroy(client.m);
    dapper_ipc_manager_destroy(server.m);
    proxy_stop(&proxy);
    return 0;
}

/* ---- a restarted listener refuses the resume ---------------------------------- */

/* A listener process with the flag: tcp on port (0: any), or unix on path when path is
   not "-"; heartbeats every heartbeat_ms (0: off). Prints the port (0 for unix). */
static int peer_listen(int port, const char *path, int heartbeat_ms)
{
    struct host h;
    host_init(&h);
    echo_frames = 1;
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    int unix_socket = strcmp(path, "-") != 0;
    config.transport = unix_socket ? "unix" : "tcp";
    config.port = port;
    config.path = unix_socket ? path : NULL;
    config.flags = DAPPER_IPC_FLAG_RECONNECT;
    config.heartbeat_ms = heartbeat_ms;
    config.reconnect_timeout_ms = WAIT_SECONDS * 1000;
    must(dapper_ipc_create_listener(h.m, &config), "create_listener");
    int got = 0;
    if (!unix_socket) {
        char args[512];
        size_t length;
        int32_t argc;
        must(dapper_ipc_launcher_args(h.m, args, sizeof args, &length, &argc), "launcher_args");
        const char *last = args;
        for (int i = 0; i < argc - 1; i++)
            last += strlen(last) + 1;
        got = atoi(last);
    }
    printf("%d\n", got);
    fflush(stdout);
    must(dapper_ipc_start_reader(h.m), "start_reader");
    for (;;)
        pause();
    return 0;
}

static pid_t spawn_peer_listener(int port, const char *path, int heartbeat_ms, int *got_port)
{
    char port_arg[16], hb_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    snprintf(hb_arg, sizeof hb_arg, "%d", heartbeat_ms);
    char *argv[] = {self_exe, "peer-listen", port_arg, (char *)(path != NULL ? path : "-"), hb_arg, NULL};
    int out = -1;
    pid_t pid = spawn_with_stdout(argv, &out);
    char line[32] = {0};
    size_t have = 0;
    while (pid > 0 && have < sizeof line - 1) {
        ssize_t n = read(out, line + have, 1);
        if (n <= 0 || line[have] == '\n')
            break;
        have++;
    }
    if (out >= 0)
        close(out);
    *got_port = atoi(line);
    return pid;
}


/* A unix socket path in a fresh folder under the temporary directory. */
static void temp_socket_path(char path[256])
{
    const char *tmp = getenv("TMPDIR");
    char folder[200];
    snprintf(folder, sizeof folder, "%s/dapper-reconnect-XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
    check(mkdtemp(folder) != NULL, "a scratch folder for the socket");
    snprintf(path, 256, "%s/ipc.sock", folder);
}

static void remove_socket_path(const char *path)
{
    char folder[256];
    copy_text(folder, sizeof folder, path);
    char *slash = strrchr(folder, '/');
    unlink(path);
    if (slash != NULL) {
        *slash = 0;
        rmdir(folder);
    }
}

static int restarted_listener_refuses(int unix_socket)
{
    int port = 0;
    char path[256] = {0};
    if (unix_socket)
        temp_socket_path(path);
    pid_t first = spawn_peer_listener(0, unix_socket ? path : NULL, 0, &port);
    check(first > 0 && (unix_socket || port > 0), "a listener process with the flag listens on %s",
          unix_socket ? path : "a tcp port");
    struct host client;
    host_init(&client);
    connect_at(client.m, port, unix_socket ? path : NULL, DAPPER_IPC_FLAG_RECONNECT, 0);
    must(dapper_ipc_start_reader(client.m), "start_reader");
    uint8_t zero[8] = {0};
    for (int i = 0; i < 10; i++)
        must(dapper_ipc_send(client.m, DAPPER_IPC_KIND_EVENT, zero, sizeof zero), "send");
    /* The listener answers the offer before it reads these frames, so with the first echo
       the answer is in: the session was agreed, and only the new process can refuse it. */
    check(latch_wait(&client.received, 1, WAIT_SECONDS), "the listener echoed a frame");
    kill(first, SIGKILL);
    waitpid(first, NULL, 0);
    check(latch_wait(&client.reconnecting, 1, WAIT_SECONDS), "the client reported RECONNECTING");
    int again;
    pid_t second = spawn_peer_listener(port, unix_socket ? path : NULL, 0, &again);
    check(second > 0 && again == port, "a new listener process took its place (port %d)", again);
    check(latch_wait(&client.disconnected, 1, WAIT_SECONDS), "the client reported DISCONNECTED");
    printf("reason: %s\n", client.reason);
    check(strstr(client.reason, "resume refused") != NULL && strstr(client.reason, "new process") != NULL,
          "the reason says the resume was refused by a new process");
    check(client.connected.value == 1, "no CONNECTED after the first one (%d)", client.connected.value);
    int32_t rc = dapper_ipc_send(client.m, DAPPER_IPC_KIND_EVENT, "x", 1);
    check(rc == DAPPER_IPC_E_CLOSED, "a send after it fails with E_CLOSED (%d: %s)", rc, last_error());
    dapper_ipc_manager_destroy(client.m);
    kill(second, SIGKILL);
    waitpid(second, NULL, 0);
    if (unix_socket)
        remove_socket_path(path);
    return 0;
}

static int test_restarted_listener_refuses(void) { return restarted_listener_refuses(0); }
static int test_restarted_listener_refuses_unix(void) { return restarted_listener_refuses(1); }

/* ---- heartbeats keep running across resumes ------------------------------------ */

/* Heartbeats (100 ms) and the flag on both ends, the listener another process behind the
   cutting proxy: two cuts, each resumed, then the listener is frozen (SIGSTOP). Only
   heartbeats find a frozen peer (its socket stays open), so the client's RECONNECTING
   with "peer unresponsive" shows them running on the third connection. */
static int test_heartbeats_after_resumes(void)
{
    int port;
    pid_t peer = spawn_peer_listener(0, NULL, 100, &port);
    check(peer > 0 && port > 0, "a listener process with heartbeats and the flag listens on %d", port);
    struct proxy proxy;
    proxy_start(&proxy, port, NULL, 1L << 40);
    struct host client;
    host_init(&client);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "tcp";
    config.port = proxy_port(&proxy);
    config.flags = DAPPER_IPC_FLAG_RECONNECT;
    config.heartbeat_ms = 100;
    config.connect_timeout_ms = WAIT_SECONDS * 1000;
    config.reconnect_timeout_ms = 2000;
    must(dapper_ipc_connect(client.m, &config), "connect");
    must(dapper_ipc_start_reader(client.m), "start_reader");
    check(latch_wait(&client.connected, 1, WAIT_SECONDS), "connected");
    for (int cut = 1; cut <= 2; cut++) {
        dapper_ipc_stats s = {.struct_size = sizeof s};
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (dapper_ipc_get_stats(client.m, &s) == DAPPER_IPC_OK && s.heartbeat_rtt_us < 0 &&
               seconds_since(&start) < WAIT_SECONDS)
            usleep(5000);
        check(s.heartbeat_rtt_us >= 0, "heartbeats answered before cut %d", cut);
        proxy.cut_now = 1;
        check(latch_wait(&client.connected, 1 + cut, WAIT_SECONDS), "cut %d resumed (CONNECTED %d times)", cut,
              client.connected.value);
        check(strstr(client.reconnect_reason, "unresponsive") == NULL, "the cut was a drop (%s)",
              client.reconnect_reason);
    }
    kill(peer, SIGSTOP);
    check(latch_wait(&client.reconnecting, 3, WAIT_SECONDS), "the frozen listener was noticed after two resumes");
    printf("reason: %s\n", client.reconnect_reason);
    check(strstr(client.reconnect_reason, "peer unresponsive for") != NULL,
          "by the heartbeats: the reason says the peer was unresponsive");
    kill(peer, SIGKILL);
    kill(peer, SIGCONT);
    waitpid(peer, NULL, 0);
    check(latch_wait(&client.disconnected, 1, WAIT_SECONDS), "with the listener gone, DISCONNECTED follows (%s)",
          client.reason);
    check(strstr(client.reason, "peer unresponsive for") != NULL,
          "and its reason still says the peer went unresponsive first (%s)", client.reason);
    dapper_ipc_manager_destroy(client.m);
    proxy_stop(&proxy);
    return 0;
}

/* ---- another process in the client's place: the listener refuses it ------------ */

static int read_full_fd(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, WAIT_SECONDS * 1000) <= 0)
            return -1;
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A client with the flag (in this process) resumes nothing: it is cut off by the proxy's
   closing while it is gone, and a raw socket that speaks the resume protocol with a session
   id of its own comes to the listener in its place. The listener refuses it with the
   reason and reports DISCONNECTED; the impostor reads the refusal. */
static int test_another_process_in_the_clients_place(void)
{
    struct host server, client;
    host_init(&server);
    host_init(&client);
    int port = listen_port(server.m, 0, DAPPER_IPC_FLAG_RECONNECT);
    must(dapper_ipc_start_reader(server.m), "server start_reader");
    struct proxy proxy;
    proxy_start(&proxy, port, NULL, 1L << 40);
    connect_port(client.m, proxy_port(&proxy), DAPPER_IPC_FLAG_RECONNECT);
    must(dapper_ipc_start_reader(client.m), "client start_reader");
    must(dapper_ipc_send(client.m, DAPPER_IPC_KIND_EVENT, "12345678", 8), "send");
    check(latch_wait(&server.received, 1, WAIT_SECONDS), "the listener got the client's frame");
    /* The client leaves for good (its reconnects find nobody: the proxy is gone). */
    proxy_stop(&proxy);
    proxy.cut_now = 0;
    dapper_ipc_manager_destroy(client.m);
    check(latch_wait(&server.reconnecting, 1, WAIT_SECONDS), "the listener waits for its client (RECONNECTING)");
    int raw = tcp_connect(port);
    check(raw >= 0, "an impostor connects");
    uint8_t rejoin[8 + 26] = {'D', 'P', 1, 3, 0, 0, 0, 26, 5, 1};
    for (int i = 0; i < 16; i++)
        rejoin[10 + i] = (uint8_t)(0xA5 ^ i); /* a session id the listener never saw */
    check(write_all(raw, rejoin, sizeof rejoin) == 0, "the impostor sends a rejoin");
    uint8_t header[8];
    check(read_full_fd(raw, header, sizeof header) == 0 && header[3] == 3, "it gets a control frame back");
    uint32_t length = (uint32_t)header[4] << 24 | (uint32_t)header[5] << 16 | (uint32_t)header[6] << 8 | header[7];
    uint8_t body[512] = {0};
    check(length > 1 && length < sizeof body && read_full_fd(raw, body, length) == 0 && body[0] == 6,
          "a refusal (type 6)");
    printf("refusal: %.*s\n", (int)length - 1, (const char *)body + 1);
    check(strstr((const char *)body + 1, "different process") != NULL, "saying a different process came");
    close(raw);
    check(latch_wait(&server.disconnected, 1, WAIT_SECONDS), "the listener reports DISCONNECTED");
    printf("reason: %s\n", server.reason);
    check(strstr(server.reason, "different process connected in place of the client") != NULL,
          "with the reason that another process took the client's place");
    check(server.received.value == 1, "nothing of the impostor's was delivered");
    dapper_ipc_manager_destroy(server.m);
    return 0;
}

/* ---- a client with the flag, a listener without it: the drop ends it at once ----- */

/* The listener (this library, without the flag) drops the client's offer and never
   answers it; when it goes away, the client's one reconnect finds nobody and the client
   reports DISCONNECTED with that reason at once instead of retrying for
   reconnect_timeout_ms (ten minutes here: only the quick end fits in the wait). */
static int test_listener_without_the_flag(void)
{
    struct host server, client;
    host_init(&server);
    host_init(&client);
    int port = listen_port(server.m, 0, 0);
    must(dapper_ipc_start_reader(server.m), "server start_reader");
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "tcp";
    config.port = port;
    config.flags = DAPPER_IPC_FLAG_RECONNECT;
    config.connect_timeout_ms = WAIT_SECONDS * 1000;
    config.reconnect_timeout_ms = 600000;
    must(dapper_ipc_connect(client.m, &config), "connect");
    must(dapper_ipc_start_reader(client.m), "client start_reader");
    uint8_t zero[8] = {0};
    must(dapper_ipc_send(client.m, DAPPER_IPC_KIND_EVENT, zero, sizeof zero), "client send");
    must(dapper_ipc_send(server.m, DAPPER_IPC_KIND_EVENT, zero, sizeof zero), "server send");
    check(latch_wait(&server.received, 1, WAIT_SECONDS) && latch_wait(&client.received, 1, WAIT_SECONDS),
          "one frame each way");
    dapper_ipc_cleanup(server.m);
    check(latch_wait(&client.disconnected, 1, WAIT_SECONDS), "the client reported DISCONNECTED without waiting out reconnect_timeout_ms");
    printf("reason: %s\n", client.reason);
    check(strstr(client.reason, "never answered") != NULL && strstr(client.reason, "DAPPER_IPC_FLAG_RECONNECT") != NULL,
          "the reason says the listener never answered the offer and lacks the flag");
    check(client.connected.value == 1, "no CONNECTED after the first one (%d)", client.connected.value);
    int32_t rc = dapper_ipc_send(client.m, DAPPER_IPC_KIND_EVENT, zero, sizeof zero);
    check(rc == DAPPER_IPC_E_CLOSED || rc == DAPPER_IPC_E_NOT_CONNECTED, "a send after it fails (%d: %s)", rc, last_error());
    dapper_ipc_manager_destroy(client.m);
    dapper_ipc_manager_destroy(server.m);
    return 0;
}

/* ---- a stock client of a listener with the flag sees nothing new --------------- */

static int test_stock_client_sees_nothing_new(void)
{
    struct host server;
    host_init(&server);
    int port = listen_port(server.m, 0, DAPPER_IPC_FLAG_RECONNECT);
    must(dapper_ipc_start_reader(server.m), "start_reader");
    int raw = tcp_connect(port);
    static const uint8_t frame[] = {'D', 'P', 1, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0};
    write_all(raw, frame, sizeof frame);
    check(latch_wait(&server.received, 1, WAIT_SECONDS), "the stock client's frame delivered");
    must(dapper_ipc_send(server.m, DAPPER_IPC_KIND_COMMAND, "{}", 2), "send");
    uint8_t buf[256];
    size_t got = 0;
    struct pollfd p = {.fd = raw, .events = POLLIN};
    while (poll(&p, 1, 300) > 0) {
        ssize_t n = recv(raw, buf + got, sizeof buf - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    static const uint8_t expected[] = {'D', 'P', 1, 2, 0, 0, 0, 2, '{', '}'};
    check(got == sizeof expected && memcmp(buf, expected, sizeof expected) == 0,
          "the stock client received exactly the host's one frame (%zu bytes)", got);
    close(raw);
    check(latch_wait(&server.disconnected, 1, WAIT_SECONDS) && server.reconnecting.value == 0,
          "its leaving is DISCONNECTED, as without the flag (%s)", server.reason);
    dapper_ipc_manager_destroy(server.m);
    return 0;
}

static void on_log(void *user, int32_t level, const char *message)
{
    (void)user;
    printf("log %d: %s\n", level, message);
}

int main(int argc, char **argv)
{
    test_program_init(argv[0]);
    if (getenv("RECONNECT_TEST_LOG") != NULL)
        dapper_ipc_set_log_callback(on_log, NULL, DAPPER_IPC_LOG_DEBUG);
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 5 && strcmp(argv[1], "peer-listen") == 0)
        return peer_listen(atoi(argv[2]), argv[3], atoi(argv[4]));

    static const struct named_test tests[] = {
        {"cuts-mid-frame-tcp", test_cut_every_500_frames_tcp},
        {"cuts-mid-frame-unix", test_cut_every_500_frames_unix},
        {"cuts-mid-record-tls", test_cut_every_500_frames_tls},
        {"client-pulls-through-cuts", test_client_pulls_through_cuts},
        {"listener-pulls-through-cuts", test_listener_pulls_through_cuts},
        {"pull-ends-when-the-client-is-gone", test_pull_ends_when_the_client_is_gone},
        {"pull-cleanup-cancels-recv", test_pull_cleanup_cancels_recv},
        {"past-the-resume-buffer", test_past_the_resume_buffer},
        {"restarted-listener-refuses", test_restarted_listener_refuses},
        {"restarted-listener-refuses-unix", test_restarted_listener_refuses_unix},
        {"heartbeats-after-resumes", test_heartbeats_after_resumes},
        {"another-process-in-the-clients-place", test_another_process_in_the_clients_place},
        {"listener-without-the-flag", test_listener_without_the_flag},
        {"stock-client-sees-nothing-new", test_stock_client_sees_nothing_new},
    };
    return run_named_test("reconnect", argc, argv, tests, sizeof tests / sizeof tests[0]);
}
