/*
 * The session lifecycle under hostile use, through the C ABI: what cleanup and
 * destroy promise about callbacks still running, readers of one manager, managers
 * destroying each other from their callbacks, and frames sent before a close.
 *
 *   lifecycle <test>               runs one test (CTest registers each one of the
 *                                  table in main; CMake reads the names from there)
 *   lifecycle peer-drain T ADDR    a peer process: raw sockets only, never the library
 *
 * Exit 0: passed; 1: failed.
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A new manager listening on transport with the default config. */
static dapper_ipc_manager listening(const char *transport, char args[512], const char **last)
{
    dapper_ipc_manager server;
    must(dapper_ipc_manager_create(&server), "create");
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = transport;
    *last = listen_on(server, &config, args);
    return server;
}

/* A listener (unix unless told) and a library client connected to it. */
static void connected_pair(dapper_ipc_manager *server, dapper_ipc_manager *client, const char *transport)
{
    char args[512];
    const char *last; /* the path, or the port */
    *server = listening(transport, args, &last);
    must(dapper_ipc_manager_create(client), "create client");
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = transport;
    if (strcmp(transport, "tcp") == 0) {
        config.host = "127.0.0.1";
        config.port = atoi(last);
    } else {
        config.path = last;
    }
    must(dapper_ipc_connect(*client, &config), "connect");
    must(dapper_ipc_wait_for_client(*server, WAIT_SECONDS * 1000), "wait_for_client");
}

/* ---- cleanup from a callback, then cleanup/destroy elsewhere ------------------ */

struct long_callback {
    dapper_ipc_manager self;
    struct latch entered;
    volatile int returned;
    int use_destroy_inside;
};

/* Cleans up its own manager, then keeps working for a while: the host's cleanup or
   destroy on another thread must not return before this does. */
static void on_message_cleanup_then_work(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    struct long_callback *c = user;
    (void)kind, (void)payload, (void)length;
    if (c->use_destroy_inside)
        dapper_ipc_manager_destroy(c->self);
    else
        dapper_ipc_cleanup(c->self);
    latch_add(&c->entered, 1);
    usleep(1000 * 1000); /* the work a real callback does after its cleanup */
    c->returned = 1;
}

static int callback_cleanup_then(int destroy)
{
    static struct long_callback c = {.entered = LATCH_INIT};
    c.returned = 0;
    c.entered.value = 0;
    dapper_ipc_manager server, client;
    connected_pair(&server, &client, "unix");
    c.self = server;
    must(dapper_ipc_set_callbacks(server, on_message_cleanup_then_work, NULL, &c), "set_callbacks");
    must(dapper_ipc_start_reader(server), "start_reader");
    must(dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{}", 2), "send");
    check(latch_wait(&c.entered, 1, WAIT_SECONDS), "the callback ran and cleaned up its own manager");
    int32_t status = destroy ? dapper_ipc_manager_destroy(server) : dapper_ipc_cleanup(server);
    check(status == DAPPER_IPC_OK, "%s on the main thread: %d", destroy ? "destroy" : "cleanup", status);
    check(c.returned, "%s returned only after the callback that ran cleanup had returned", destroy ? "destroy" : "cleanup");
    if (!destroy)
        dapper_ipc_manager_destroy(server);
    dapper_ipc_manager_destroy(client);
    return 0;
}

static int test_callback_cleanup_then_destroy(void) { return callback_cleanup_then(1); }
static int test_callback_cleanup_then_cleanup(void) { return callback_cleanup_then(0); }

/* ---- a callback that cleans up and listens again: never two readers at once ---- */

struct relisten {
    dapper_ipc_manager self;
    pthread_mutex_t lock;
    int active;  /* callbacks of this manager running now */
    int overlap; /* times two ran at once */
    int relistened;
    struct latch connected_again;
};

static void enter(struct relisten *r)
{
    pthread_mutex_lock(&r->lock);
    if (++r->active > 1)
        r->overlap++;
    pthread_mutex_unlock(&r->lock);
}

static void leave(struct relisten *r)
{
    pthread_mutex_lock(&r->lock);
    r->active--;
    pthread_mutex_unlock(&r->lock);
}

/* macOS has neither SOCK_CLOEXEC nor (in older SDKs) MSG_NOSIGNAL: close-on-exec with
   fcntl, and SO_NOSIGPIPE on the socket instead of the send flag. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static int raw_socket(int domain)
{
#ifdef SOCK_CLOEXEC
    int fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
#else
    int fd = socket(domain, SOCK_STREAM, 0);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
#ifdef SO_NOSIGPIPE
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return fd;
}

static int raw_connect_unix(const char *path)
{
    int fd = raw_socket(AF_UNIX);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        close(fd);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A raw client of a listener at `address` (its last launcher argument: the unix path, or
   the tcp port on 127.0.0.1); -1 when the connect fails. */
static int raw_connect_to(const char *transport, const char *address)
{
    if (strcmp(transport, "tcp") != 0)
        return raw_connect_unix(address);
    int fd = raw_socket(AF_INET);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(address))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int relisten_client = -1;

static void on_message_relisten(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    struct relisten *r = user;
    (void)kind, (void)payload, (void)length;
    enter(r);
    if (!r->relistened) {
        r->relistened = 1;
        dapper_ipc_cleanup(r->self);
        dapper_ipc_config config;
        dapper_ipc_config_init(&config, sizeof config);
        config.transport = "unix";
        char args[512];
        size_t n;
        if (dapper_ipc_create_listener(r->self, &config) == DAPPER_IPC_OK &&
            dapper_ipc_launcher_args(r->self, args, sizeof args, &n, NULL) == DAPPER_IPC_OK &&
            dapper_ipc_start_reader(r->self) == DAPPER_IPC_OK) {
            const char *path = args;
            for (int i = 0; i < 3; i++)
                path += strlen(path) + 1;
            /* A client arrives at once: the new reader accepts it and would report it
               while this callback is still running. */
            relisten_client = raw_connect_unix(path);
        }
        usleep(300 * 1000); /* the rest of this callback's work */
    }
    leave(r);
}

static void on_state_relisten(void *user, int32_t event, int32_t status, const char *reason)
{
    struct relisten *r = user;
    (void)status, (void)reason;
    enter(r);
    if (event == DAPPER_IPC_EVENT_CONNECTED && r->relistened)
        latch_add(&r->connected_again, 1);
    leave(r);
}

static int test_callback_relisten_one_reader_at_a_time(void)
{
    static struct relisten r = {.lock = PTHREAD_MUTEX_INITIALIZER, .connected_again = LATCH_INIT};
    dapper_ipc_manager server, client;
    connected_pair(&server, &client, "unix");
    r.self = server;
    must(dapper_ipc_set_callbacks(server, on_message_relisten, on_state_relisten, &r), "set_callbacks");
    must(dapper_ipc_start_reader(server), "start_reader");
    must(dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{}", 2), "send");
    check(latch_wait(&r.connected_again, 1, WAIT_SECONDS), "the listener made in the callback accepted its client");
    must(dapper_ipc_manager_destroy(server), "destroy");
    pthread_mutex_lock(&r.lock);
    int overlap = r.overlap, active = r.active;
    pthread_mutex_unlock(&r.lock);
    check(overlap == 0, "no two callbacks of the manager ran at once (%d overlaps)", overlap);
    check(active == 0, "no callback runs after destroy returned (%d running)", active);
    if (relisten_client >= 0)
        close(relisten_client);
    dapper_ipc_manager_destroy(client);
    return 0;
}

/* ---- two callbacks destroying each other's managers --------------------------- */

struct crossed {
    dapper_ipc_manager other;
    struct latch *both_inside;
    struct latch *returned;
    int32_t status;
};

static void on_message_destroy_other(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    struct crossed *c = user;
    (void)kind, (void)payload, (void)length;
    barrier_wait(c->both_inside, 2); /* both readers are in a callback now */
    c->status = dapper_ipc_manager_destroy(c->other);
    latch_add(c->returned, 1);
}

static int test_callbacks_destroying_each_other(void)
{
    static struct latch barrier = LATCH_INIT;
    static struct latch returned = LATCH_INIT;
    static struct crossed a, b;
    dapper_ipc_manager sa, ca, sb, cb;
    connected_pair(&sa, &ca, "unix");
    connected_pair(&sb, &cb, "unix");
    a = (struct crossed){.other = sb, .both_inside = &barrier, .returned = &returned};
    b = (struct crossed){.other = sa, .both_inside = &barrier, .returned = &returned};
    must(dapper_ipc_set_callbacks(sa, on_message_destroy_other, NULL, &a), "set_callbacks a");
    must(dapper_ipc_set_callbacks(sb, on_message_destroy_other, NULL, &b), "set_callbacks b");
    must(dapper_ipc_start_reader(sa), "start_reader a");
    must(dapper_ipc_start_reader(sb), "start_reader b");
    must(dapper_ipc_send(ca, DAPPER_IPC_KIND_EVENT, "{}", 2), "send a");
    must(dapper_ipc_send(cb, DAPPER_IPC_KIND_EVENT, "{}", 2), "send b");
    int ok = latch_wait(&returned, 2, WAIT_SECONDS);
    check(ok, "both destroys called from the two callbacks returned (no deadlock)");
    if (!ok) {
        fflush(stdout);
        _exit(1); /* deadlocked threads cannot be cleaned up */
    }
    check(a.status == DAPPER_IPC_OK && b.status == DAPPER_IPC_OK, "both destroys succeeded: %d, %d", a.status, b.status);
    int connected = 1;
    check(dapper_ipc_is_connected(sa, &connected) == DAPPER_IPC_E_INVALID_HANDLE &&
              dapper_ipc_is_connected(sb, &connected) == DAPPER_IPC_E_INVALID_HANDLE,
          "both handles are retired");
    dapper_ipc_manager_destroy(ca);
    dapper_ipc_manager_destroy(cb);
    return 0;
}

/* ---- every frame sent before cleanup reaches the peer, then end-of-file -------- */

#define FRAMES 10000
#define PAYLOAD 1024

static int recv_all(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            return r == 0 && got == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

/* Connects, sends one frame the host never reads, then reads frame by frame (header,
   then payload, as the launcher does) until end-of-file. Prints the count and how the
   stream ended. With stay, it then keeps its end open until it is killed: a peer that
   is alive and never closes. */
static int peer_drain(const char *transport, const char *address, int stay)
{
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        fd = raw_connect_to(transport, address);
        if (fd < 0)
            usleep(50 * 1000);
    }
    if (fd < 0)
        return 2;
    static const uint8_t unread[] = {'D', 'P', 1, 1, 0, 0, 0, 2, '{', '}'};
    if (send(fd, unread, sizeof unread, MSG_NOSIGNAL) != (ssize_t)sizeof unread)
        return 3;
    static uint8_t payload[PAYLOAD];
    int frames = 0;
    const char *end = "eof";
    while (1) {
        uint8_t header[8];
        int r = recv_all(fd, header, sizeof header);
        if (r == 0)
            break;
        uint32_t length = (uint32_t)header[4] << 24 | (uint32_t)header[5] << 16 | (uint32_t)header[6] << 8 | header[7];
        if (r < 0 || length > sizeof payload || recv_all(fd, payload, length) != 1) {
            end = errno == ECONNRESET ? "reset" : "cut";
            break;
        }
        frames++;
    }
    printf("frames=%d end=%s\n", frames, end);
    fflush(stdout);
    while (stay)
        pause();
    return 0;
}

static int frames_before(const char *transport, int destroy, int stay)
{
    char args[512];
    const char *last; /* the path, or the port */
    dapper_ipc_manager server = listening(transport, args, &last);

    char *argv[] = {self_exe, stay ? "peer-drain-stay" : "peer-drain", (char *)transport, (char *)last, NULL};
    int out;
    pid_t pid = spawn_with_stdout(argv, &out);
    if (pid < 0)
        return 1;
    must(dapper_ipc_wait_for_client(server, WAIT_SECONDS * 1000), "wait_for_client");

    /* No reader: the peer's frame stays unread. Batches keep the host ahead of the peer,
       so frames are still queued in the kernel when cleanup runs. */
    static uint8_t payload[PAYLOAD];
    memset(payload, 'x', sizeof payload);
    dapper_ipc_frame batch[100];
    for (int i = 0; i < 100; i++)
        batch[i] = (dapper_ipc_frame){.payload = payload, .length = sizeof payload, .kind = DAPPER_IPC_KIND_COMMAND};
    int sent = 0;
    for (int i = 0; i < FRAMES / 100; i++) {
        size_t n = 0;
        if (dapper_ipc_send_batch(server, batch, 100, &n) != DAPPER_IPC_OK) {
            printf("send_batch: %s\n", last_error());
            break;
        }
        sent += (int)n;
    }
    check(sent == FRAMES, "%s: every send returned OK (%d frames)", transport, sent);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int32_t status = destroy ? dapper_ipc_manager_destroy(server) : dapper_ipc_cleanup(server);
    double took = seconds_since(&start);
    check(status == DAPPER_IPC_OK, "%s returned OK", destroy ? "destroy" : "cleanup");
    /* The peer reads as fast as it can and never closes: once it has everything, nothing
       is left to wait for. Half the linger tells "waited for the delivery" from "waited
       for the peer to close". */
    if (stay)
        check(took < 1.0, "%s returned without waiting for the peer to close (%.3f s; the linger is 2 s)",
              destroy ? "destroy" : "cleanup", took);
    if (!destroy)
        dapper_ipc_manager_destroy(server);

    char report[128] = {0};
    FILE *f = fdopen(out, "r");
    if (f == NULL || fgets(report, sizeof report, f) == NULL)
        snprintf(report, sizeof report, "(no report)");
    if (f != NULL)
        fclose(f);
    int wstatus = 0;
    if (stay)
        kill(pid, SIGTERM);
    waitpid(pid, &wstatus, 0);
    int frames = -1;
    char end[16] = "";
    sscanf(report, "frames=%d end=%15s", &frames, end);
    check(frames == FRAMES && strcmp(end, "eof") == 0,
          "%s over %s: the peer read every frame sent, then end-of-file (%d frames, then %s)",
          destroy ? "destroy" : "cleanup", transport, frames, end);
    return 0;
}

static int test_no_frame_lost_at_cleanup_tcp(void) { return frames_before("tcp", 0, 0); }
static int test_no_frame_lost_at_destroy_tcp(void) { return frames_before("tcp", 1, 0); }
static int test_no_frame_lost_at_cleanup_unix(void) { return frames_before("unix", 0, 0); }
static int test_no_frame_lost_at_destroy_unix(void) { return frames_before("unix", 1, 0); }
static int test_no_frame_lost_peer_stays_cleanup_tcp(void) { return frames_before("tcp", 0, 1); }
static int test_no_frame_lost_peer_stays_destroy_tcp(void) { return frames_before("tcp", 1, 1); }
static int test_no_frame_lost_peer_stays_cleanup_unix(void) { return frames_before("unix", 0, 1); }
static int test_no_frame_lost_peer_stays_destroy_unix(void) { return frames_before("unix", 1, 1); }

/* ---- abort: no linger, and it ends a linger under way ------------------------- */

struct lingering {
    dapper_ipc_manager m;
    struct latch returned;
};

static void *cleanup_thread(void *arg)
{
    struct lingering *l = arg;
    dapper_ipc_cleanup(l->m);
    latch_add(&l->returned, 1);
    return NULL;
}

/* Connects a raw tcp client that never reads and never closes, and sends to it until
   send gives up (send_timeout_ms 200): the peer's receive queue and ours are full, so
   what we sent is still in flight when cleanup runs. */
static int stalled_tcp_peer(dapper_ipc_manager server)
{
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "tcp";
    config.send_timeout_ms = 200;
    char args[512];
    const char *port = listen_on(server, &config, args);
    int fd = raw_connect_to("tcp", port);
    if (fd < 0) {
        printf("FAILED: connect to 127.0.0.1:%s\n", port);
        exit(1);
    }
    must(dapper_ipc_wait_for_client(server, WAIT_SECONDS * 1000), "wait_for_client");
    static uint8_t payload[64 * 1024];
    int32_t status;
    int sent = 0;
    while ((status = dapper_ipc_send(server, DAPPER_IPC_KIND_COMMAND, payload, sizeof payload)) == DAPPER_IPC_OK)
        sent++;
    check(status == DAPPER_IPC_E_SEND_TIMEOUT, "send gave up once the peer's queue was full (%d frames went out): %s",
          sent, last_error());
    return fd;
}

/* Data of ours in flight to a peer that does not read keeps cleanup in its linger (2 s);
   abort on another thread ends it at once, and abort alone never lingers. */
static int test_abort_ends_a_linger(void)
{
    static struct lingering l = {.returned = LATCH_INIT};
    dapper_ipc_manager server;
    must(dapper_ipc_manager_create(&server), "create");
    int stalled = stalled_tcp_peer(server);

    l.m = server;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pthread_t t;
    pthread_create(&t, NULL, cleanup_thread, &l);
    check(!latch_wait(&l.returned, 1, 1), "cleanup lingers while what it sent is in flight to a peer that does not read");
    check(dapper_ipc_abort(server) == DAPPER_IPC_OK, "abort on another thread: %s", last_error());
    check(latch_wait(&l.returned, 1, 1), "the lingering cleanup returned once abort ran (%.2f s after it began)",
          seconds_since(&start));
    pthread_join(t, NULL);

    /* abort alone, with another stalled peer: no linger at all. */
    int stalled2 = stalled_tcp_peer(server);
    clock_gettime(CLOCK_MONOTONIC, &start);
    check(dapper_ipc_abort(server) == DAPPER_IPC_OK, "abort");
    double took = seconds_since(&start);
    check(took < 1.0, "abort did not linger (%.3f s; the linger is 2 s)", took);
    close(stalled);
    close(stalled2);
    dapper_ipc_manager_destroy(server);
    return 0;
}

/* ---- close with a live peer: nothing to wait for once the peer has it all ------ */

static void on_message_count(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    (void)kind, (void)payload, (void)length;
    latch_add(user, 1);
}

struct live_peer_run {
    const char *transport;
    int failures;
    double slowest;
};

/* The adapter and its launcher as two managers of one process (the launcher without a
   reader, its frame unread): a frame each way, then both destroyed in either order,
   neither side closing on its own first. And a raw
   client that neither reads nor closes, holding the frame we sent unread. Each close
   must return well inside the linger: half of it tells "waited for the peer" apart. */
static void *live_peer_cycles(void *arg)
{
    struct live_peer_run *run = arg;
    for (int i = 0; i < 10; i++) {
        struct latch got = LATCH_INIT;
        dapper_ipc_manager server, client;
        connected_pair(&server, &client, run->transport);
        must(dapper_ipc_set_callbacks(server, on_message_count, NULL, &got), "set_callbacks");
        must(dapper_ipc_start_reader(server), "start_reader");
        /* The client has no reader: it never reacts to the server's close on its own. */
        must(dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{}", 2), "send");
        must(dapper_ipc_send(server, DAPPER_IPC_KIND_COMMAND, "{}", 2), "send (server)");
        if (!latch_wait(&got, 1, WAIT_SECONDS)) {
            __atomic_add_fetch(&run->failures, 1, __ATOMIC_SEQ_CST);
            break;
        }
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        if (i % 2) {
            dapper_ipc_manager_destroy(server);
            dapper_ipc_manager_destroy(client);
        } else {
            dapper_ipc_manager_destroy(client);
            dapper_ipc_manager_destroy(server);
        }
        double took = seconds_since(&start);
        if (took >= 1.0) {
            printf("cycle %d (%s first) took %.3f s\n", i, i % 2 ? "server" : "client", took);
            __atomic_add_fetch(&run->failures, 1, __ATOMIC_SEQ_CST);
        }
    }
    return NULL;
}

static int close_with_a_live_peer(const char *transport)
{
    struct live_peer_run run = {.transport = transport};
    pthread_t threads[4];
    for (int t = 0; t < 4; t++)
        pthread_create(&threads[t], NULL, live_peer_cycles, &run);
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);
    check(run.failures == 0, "%s: 4 threads x 10 cycles, both orders: every pair of destroys returned within half "
          "the linger (%d did not)", transport, run.failures);

    /* A raw peer that neither reads nor closes: the frame sits in its receive queue. */
    char args[512];
    const char *last;
    dapper_ipc_manager server = listening(transport, args, &last);
    int silent = raw_connect_to(transport, last);
    must(silent >= 0 ? DAPPER_IPC_OK : DAPPER_IPC_E_IO, "connect");
    must(dapper_ipc_wait_for_client(server, WAIT_SECONDS * 1000), "wait_for_client");
    must(dapper_ipc_send(server, DAPPER_IPC_KIND_COMMAND, "{}", 2), "send");
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    check(dapper_ipc_cleanup(server) == DAPPER_IPC_OK, "cleanup");
    double took = seconds_since(&start);
    check(took < 1.0, "%s: cleanup with a peer that neither reads nor closes, our frame delivered: %.3f s "
          "(the linger is 2 s)", transport, took);
    uint8_t frame[10];
    check(recv(silent, frame, sizeof frame, MSG_WAITALL) == 10 && frame[0] == 'D' && frame[7] == 2,
          "%s: the silent peer still reads the frame", transport);
    close(silent);
    dapper_ipc_manager_destroy(server);
    return 0;
}

static int test_close_with_a_live_peer_unix(void) { return close_with_a_live_peer("unix"); }
static int test_close_with_a_live_peer_tcp(void) { return close_with_a_live_peer("tcp"); }

int main(int argc, char **argv)
{
    test_program_init(argv[0]);
    if (argc >= 4 && strcmp(argv[1], "peer-drain") == 0)
        return peer_drain(argv[2], argv[3], 0);
    if (argc >= 4 && strcmp(argv[1], "peer-drain-stay") == 0)
        return peer_drain(argv[2], argv[3], 1);

    static const struct named_test tests[] = {
        {"callback-cleanup-then-destroy", test_callback_cleanup_then_destroy},
        {"callback-cleanup-then-cleanup", test_callback_cleanup_then_cleanup},
        {"callback-relisten-one-reader-at-a-time", test_callback_relisten_one_reader_at_a_time},
        {"callbacks-destroying-each-other", test_callbacks_destroying_each_other},
        {"no-frame-lost-at-cleanup-tcp", test_no_frame_lost_at_cleanup_tcp},
        {"no-frame-lost-at-destroy-tcp", test_no_frame_lost_at_destroy_tcp},
        {"no-frame-lost-at-cleanup-unix", test_no_frame_lost_at_cleanup_unix},
        {"no-frame-lost-at-destroy-unix", test_no_frame_lost_at_destroy_unix},
        {"no-frame-lost-peer-stays-cleanup-tcp", test_no_frame_lost_peer_stays_cleanup_tcp},
        {"no-frame-lost-peer-stays-destroy-tcp", test_no_frame_lost_peer_stays_destroy_tcp},
        {"no-frame-lost-peer-stays-cleanup-unix", test_no_frame_lost_peer_stays_cleanup_unix},
        {"no-frame-lost-peer-stays-destroy-unix", test_no_frame_lost_peer_stays_destroy_unix},
        {"close-with-a-live-peer-unix", test_close_with_a_live_peer_unix},
        {"close-with-a-live-peer-tcp", test_close_with_a_live_peer_tcp},
        {"abort-ends-a-linger", test_abort_ends_a_linger},
    };
    return run_named_test("lifecycle", argc, argv, tests, sizeof tests / sizeof tests[0]);
}
