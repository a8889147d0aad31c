/*
 * The checks every transport must pass, whoever made the connection (the library's own
 * unix and tcp, an adopted socketpair or pipe pair, a transport registered by the host):
 * round trip, batch, pull, the reader's callbacks, and close. A transport is a function
 * that connects two fresh managers to each other; each check runs on a new pair.
 * Include after check.h.
 */
#ifndef DAPPER_IPC_TESTS_TRANSPORT_SUITE_H
#define DAPPER_IPC_TESTS_TRANSPORT_SUITE_H

#include <dapper_ipc.h>

/* Connects *a and *b (fresh managers) to each other; 0, or -1 with the reason printed. */
typedef int (*suite_connect_fn)(dapper_ipc_manager a, dapper_ipc_manager b);

/* A listener of `transport` on a and a client of it on b; config->path is address (may be NULL). */
static int suite_listen_connect(dapper_ipc_manager a, dapper_ipc_manager b, const char *transport,
                                const char *address)
{
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = transport;
    config.path = address;
    char args[512];
    if (dapper_ipc_create_listener(a, &config) != DAPPER_IPC_OK) {
        printf("FAILED: create_listener %s: %s\n", transport, last_error());
        return -1;
    }
    size_t length;
    int32_t argc;
    must(dapper_ipc_launcher_args(a, args, sizeof args, &length, &argc), "launcher_args");
    const char *argv[8] = {"launcher"};
    const char *p = args;
    for (int i = 0; i < argc && i < 7; i++, p += strlen(p) + 1)
        argv[i + 1] = p;
    /* connect_argv: the launcher's way, so a registered transport's address round-trips. */
    if (dapper_ipc_connect_argv(b, argc + 1, argv) != DAPPER_IPC_OK) {
        printf("FAILED: connect_argv %s: %s\n", transport, last_error());
        return -1;
    }
    if (dapper_ipc_wait_for_client(a, WAIT_SECONDS * 1000) != DAPPER_IPC_OK) {
        printf("FAILED: wait_for_client %s: %s\n", transport, last_error());
        return -1;
    }
    return 0;
}

static int suite_pair(suite_connect_fn connect_pair, dapper_ipc_manager *a, dapper_ipc_manager *b)
{
    must(dapper_ipc_manager_create(a), "manager_create");
    must(dapper_ipc_manager_create(b), "manager_create");
    return connect_pair(*a, *b);
}

static void suite_done(dapper_ipc_manager a, dapper_ipc_manager b)
{
    dapper_ipc_manager_destroy(a);
    dapper_ipc_manager_destroy(b);
}

/* Receives one frame with a blocking recv; 0 or the status. */
static int32_t suite_recv(dapper_ipc_manager m, char *buf, size_t cap, size_t *length, int32_t *kind)
{
    return dapper_ipc_recv(m, buf, cap, length, kind, -1);
}

struct suite_big_send {
    dapper_ipc_manager m;
    const void *data;
    size_t length;
    int32_t rc;
};

static void *suite_send_thread(void *arg)
{
    struct suite_big_send *s = arg;
    s->rc = dapper_ipc_send(s->m, DAPPER_IPC_KIND_COMMAND, s->data, s->length);
    return NULL;
}

/* Frames both ways, small and one of 1 MiB (larger than any gathering buffer), each compared. */
static void suite_round_trip(const char *name, suite_connect_fn connect_pair)
{
    dapper_ipc_manager a, b;
    if (suite_pair(connect_pair, &a, &b) != 0) {
        check(0, "%s: round trip: connected", name);
        return;
    }
    static char big[1 << 20], got[1 << 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + 3);
    int ok = 1;
    for (int i = 0; i < 200 && ok; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "{\"seq\":%d}", i);
        ok = dapper_ipc_send(a, DAPPER_IPC_KIND_COMMAND, msg, (size_t)n) == DAPPER_IPC_OK;
        size_t length = 0;
        int32_t kind = 0;
        ok = ok && suite_recv(b, got, sizeof got, &length, &kind) == DAPPER_IPC_OK && length == (size_t)n &&
             kind == DAPPER_IPC_KIND_COMMAND && memcmp(got, msg, (size_t)n) == 0;
        ok = ok && dapper_ipc_send(b, DAPPER_IPC_KIND_EVENT, got, length) == DAPPER_IPC_OK;
        ok = ok && suite_recv(a, got, sizeof got, &length, &kind) == DAPPER_IPC_OK && length == (size_t)n &&
             kind == DAPPER_IPC_KIND_EVENT && memcmp(got, msg, (size_t)n) == 0;
    }
    check(ok, "%s: 200 round trips, each frame intact both ways (%s)", name, ok ? "" : last_error());
    size_t length = 0;
    int32_t kind = 0;
    /* Sent from another thread: it outgrows the kernel's buffers, so it waits for the reader. */
    struct suite_big_send send = {a, big, sizeof big, 99};
    pthread_t sender;
    pthread_create(&sender, NULL, suite_send_thread, &send);
    int big_ok = suite_recv(b, got, sizeof got, &length, &kind) == DAPPER_IPC_OK && length == sizeof big &&
                 memcmp(got, big, sizeof big) == 0;
    pthread_join(sender, NULL);
    check(big_ok && send.rc == DAPPER_IPC_OK, "%s: a 1 MiB frame arrives intact (send %d)", name, send.rc);
    suite_done(a, b);
}

/* send_batch: 1,000 frames in one call arrive in order, frames_sent says all. */
static void suite_batch(const char *name, suite_connect_fn connect_pair)
{
    dapper_ipc_manager a, b;
    if (suite_pair(connect_pair, &a, &b) != 0) {
        check(0, "%s: batch: connected", name);
        return;
    }
    enum { N = 1000 };
    static dapper_ipc_frame frames[N];
    static char payloads[N][16];
    for (int i = 0; i < N; i++) {
        int n = snprintf(payloads[i], sizeof payloads[i], "b%d", i);
        frames[i].kind = DAPPER_IPC_KIND_EVENT;
        frames[i].payload = payloads[i];
        frames[i].length = (size_t)n;
    }
    size_t sent = 0;
    int32_t rc = dapper_ipc_send_batch(a, frames, N, &sent);
    check(rc == DAPPER_IPC_OK && sent == N, "%s: send_batch of %d frames: %d, frames_sent %zu", name, N, rc, sent);
    int in_order = 1;
    for (int i = 0; i < N && in_order; i++) {
        char got[32];
        size_t length = 0;
        in_order = suite_recv(b, got, sizeof got, &length, NULL) == DAPPER_IPC_OK && length == frames[i].length &&
                   memcmp(got, payloads[i], length) == 0;
    }
    check(in_order, "%s: the batch arrives whole and in order", name);
    suite_done(a, b);
}

/* Pull mode: recv_batch takes frames that arrived together in one call; recv on a closed peer is E_CLOSED. */
static void suite_pull(const char *name, suite_connect_fn connect_pair)
{
    dapper_ipc_manager a, b;
    if (suite_pair(connect_pair, &a, &b) != 0) {
        check(0, "%s: pull: connected", name);
        return;
    }
    for (int i = 0; i < 50; i++)
        must(dapper_ipc_send(a, DAPPER_IPC_KIND_COMMAND, "pull", 4), "send");
    int total = 0;
    int ok = 1;
    while (total < 50 && ok) {
        char buf[4096];
        dapper_ipc_frame frames[64];
        size_t count = 0;
        ok = dapper_ipc_recv_batch(b, buf, sizeof buf, frames, 64, &count, -1) == DAPPER_IPC_OK && count > 0;
        for (size_t i = 0; ok && i < count; i++)
            ok = frames[i].length == 4 && memcmp(frames[i].payload, "pull", 4) == 0;
        total += (int)count;
    }
    check(ok && total == 50, "%s: recv_batch delivered all 50 frames (%d)", name, total);
    dapper_ipc_cleanup(a);
    char buf[16];
    size_t length;
    int32_t rc = suite_recv(b, buf, sizeof buf, &length, NULL);
    check(rc == DAPPER_IPC_E_CLOSED, "%s: after the peer's cleanup recv returns E_CLOSED (%d %s)", name, rc,
          rc == DAPPER_IPC_E_CLOSED ? "" : last_error());
    suite_done(a, b);
}

struct suite_reader {
    struct latch frames;
    struct latch disconnected;
    int32_t status;
};

static void suite_on_message(void *user, int32_t kind, const uint8_t *data, size_t length)
{
    (void)kind;
    (void)data;
    (void)length;
    latch_add(&((struct suite_reader *)user)->frames, 1);
}

static void suite_on_state(void *user, int32_t event, int32_t status, const char *reason)
{
    (void)reason;
    struct suite_reader *r = user;
    if (event == DAPPER_IPC_EVENT_DISCONNECTED) {
        r->status = status;
        latch_add(&r->disconnected, 1);
    }
}

/* The reader thread: 2,000 frames reach the callback; the peer's cleanup is a clean DISCONNECTED;
   a send after it fails, and cleanup of a reader blocked on a silent peer returns. */
static void suite_reader_and_close(const char *name, suite_connect_fn connect_pair)
{
    dapper_ipc_manager a, b;
    if (suite_pair(connect_pair, &a, &b) != 0) {
        check(0, "%s: reader: connected", name);
        return;
    }
    struct suite_reader r = {LATCH_INIT, LATCH_INIT, 99};
    must(dapper_ipc_set_callback(b, suite_on_message, suite_on_state, &r), "set_callback");
    must(dapper_ipc_start_reader(b), "start_reader");
    for (int i = 0; i < 2000; i++)
        must(dapper_ipc_send(a, DAPPER_IPC_KIND_COMMAND, "x", 1), "send");
    check(latch_wait(&r.frames, 2000, WAIT_SECONDS), "%s: 2,000 frames reach the reader's callback", name);
    dapper_ipc_cleanup(a);
    check(latch_wait(&r.disconnected, 1, WAIT_SECONDS) && r.status == DAPPER_IPC_OK,
          "%s: the peer's cleanup is reported as a clean DISCONNECTED (status %d)", name, r.status);
    int32_t rc = dapper_ipc_send(a, DAPPER_IPC_KIND_COMMAND, "x", 1);
    check(rc == DAPPER_IPC_E_NOT_CONNECTED, "%s: a send after cleanup fails (%d)", name, rc);
    suite_done(a, b);

    /* A reader blocked on a peer that sends nothing: cleanup wakes it. */
    if (suite_pair(connect_pair, &a, &b) != 0) {
        check(0, "%s: reader: connected again", name);
        return;
    }
    struct suite_reader r2 = {LATCH_INIT, LATCH_INIT, 99};
    must(dapper_ipc_set_callback(b, suite_on_message, suite_on_state, &r2), "set_callback");
    must(dapper_ipc_start_reader(b), "start_reader");
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    dapper_ipc_cleanup(b);
    check(seconds_since(&start) < WAIT_SECONDS, "%s: cleanup of a reader blocked on a silent peer returns (%.3f s)",
          name, seconds_since(&start));
    suite_done(a, b);
}

/* The whole suite over one transport. */
static void run_transport_suite(const char *name, suite_connect_fn connect_pair)
{
    suite_round_trip(name, connect_pair);
    suite_batch(name, connect_pair);
    suite_pull(name, connect_pair);
    suite_reader_and_close(name, connect_pair);
}

#endif
