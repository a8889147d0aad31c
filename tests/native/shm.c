/*
 * The shm transport (shared-memory rings set up over a unix socket) through the C ABI:
 * 10,000 frames each way of 0 B to 4 MiB, byte for byte, in every receive mode; a peer
 * SIGKILLed in the middle of a frame; a peer scribbling random bytes over the rings;
 * a full ring and the send timeout; fds and mappings over 10,000 connect/cleanup cycles.
 *
 *   shm <test>                    runs one test (CTest registers each row of the table in main)
 *   shm peer-writer PATH          connects to PATH and sends one 8 MiB frame (killed meanwhile)
 *   shm scribbler PATH SECONDS    connects to PATH again and again for SECONDS, each time
 *                                 writing random bytes over the shared memory while it sends
 *   shm scribble SECONDS          the scribbler test for SECONDS (the 10 s run: bench/README.md)
 *
 * Exit 0: passed; 1: failed; 77: skipped (not Linux).
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include "check.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FRAMES 10000
#define MAX_FRAME (4u << 20)

/* Frame i's length: 0 and 4 MiB exactly, mostly small, every 100th large. */
static size_t length_of(int i)
{
    if (i % 1000 == 0)
        return i % 2000 == 0 ? 0 : MAX_FRAME;
    if (i % 100 == 50)
        return ((size_t)i * 2654435761u) % (MAX_FRAME + 1);
    return ((size_t)i * 7919u) % 2048;
}

static uint8_t byte_of(int i, size_t offset, int direction)
{
    return (uint8_t)(i * 31 + offset * 7 + (offset >> 11) + direction * 101);
}

static uint8_t *frame_bytes(int i, int direction, uint8_t *buf)
{
    size_t n = length_of(i);
    for (size_t k = 0; k < n; k++)
        buf[k] = byte_of(i, k, direction);
    return buf;
}

/* What one receiving end checks: frames in order, each byte for byte. */
struct receiver {
    int direction; /* the sender's */
    int next;
    int bad;
    struct latch done;
};

static void take(struct receiver *r, const uint8_t *payload, size_t length)
{
    int i = r->next++;
    if (length != length_of(i)) {
        if (r->bad++ == 0)
            printf("frame %d: %zu bytes, expected %zu\n", i, length, length_of(i));
    } else {
        for (size_t k = 0; k < length; k++) {
            if (payload[k] != byte_of(i, k, r->direction)) {
                if (r->bad++ == 0)
                    printf("frame %d: byte %zu differs\n", i, k);
                break;
            }
        }
    }
    if (r->next == FRAMES)
        latch_add(&r->done, 1);
}

static void on_message(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    (void)kind;
    take(user, payload, length);
}

static void on_batch(void *user, const dapper_ipc_frame *frames, size_t count)
{
    for (size_t i = 0; i < count; i++)
        take(user, frames[i].payload, frames[i].length);
}

enum mode { CALLBACKS, BATCH, PULL };

struct side {
    dapper_ipc_manager m;
    int direction;
    enum mode mode;
    struct receiver r;
    int send_failed;
    int recv_failed;
};

static void *sender(void *arg)
{
    struct side *s = arg;
    uint8_t *buf = malloc(MAX_FRAME);
    if (s->mode == BATCH) {
        /* Small frames in batches of up to 64, a large one alone. */
        dapper_ipc_frame frames[64];
        uint8_t *bufs = malloc(64 * 2048);
        for (int i = 0; i < FRAMES && !s->send_failed;) {
            size_t n = 0;
            while (i < FRAMES && n < 64 && length_of(i) <= 2048) {
                frames[n] = (dapper_ipc_frame){frame_bytes(i, s->direction, bufs + n * 2048), length_of(i), DAPPER_IPC_KIND_EVENT};
                n++, i++;
            }
            if (n == 0) {
                frames[0] = (dapper_ipc_frame){frame_bytes(i, s->direction, buf), length_of(i), DAPPER_IPC_KIND_EVENT};
                n = 1, i++;
            }
            size_t sent = 0;
            if (dapper_ipc_send_batch(s->m, frames, n, &sent) != DAPPER_IPC_OK) {
                printf("send_batch: %s\n", last_error());
                s->send_failed = 1;
            }
        }
        free(bufs);
    } else {
        for (int i = 0; i < FRAMES && !s->send_failed; i++) {
            if (dapper_ipc_send(s->m, DAPPER_IPC_KIND_EVENT, frame_bytes(i, s->direction, buf), length_of(i)) != DAPPER_IPC_OK) {
                printf("send %d: %s\n", i, last_error());
                s->send_failed = 1;
            }
        }
    }
    free(buf);
    return NULL;
}

static void *puller(void *arg)
{
    struct side *s = arg;
    uint8_t *buf = malloc(MAX_FRAME);
    while (s->r.next < FRAMES) {
        size_t length;
        int32_t kind;
        int32_t rc = dapper_ipc_recv(s->m, buf, MAX_FRAME, &length, &kind, WAIT_SECONDS * 1000);
        if (rc != DAPPER_IPC_OK) {
            printf("recv after %d frames: %d %s\n", s->r.next, rc, last_error());
            s->recv_failed = 1;
            break;
        }
        take(&s->r, buf, length);
    }
    free(buf);
    return NULL;
}

/* A client's config for the shm listener at path (send timeout: send_timeout_ms, 0 the default). */
static dapper_ipc_config client_config(const char *path, int32_t send_timeout_ms)
{
    dapper_ipc_config config = config_for("shm");
    config.path = path;
    config.connect_timeout_ms = WAIT_SECONDS * 1000;
    config.send_timeout_ms = send_timeout_ms;
    return config;
}

static void connect_shm(dapper_ipc_manager client, const char *path, int32_t send_timeout_ms)
{
    dapper_ipc_config config = client_config(path, send_timeout_ms);
    must(dapper_ipc_connect(client, &config), "connect");
}

/* A server listening on shm (rings of ring_bytes, 0 the default) and a client connected
   to it and accepted; args keeps the listener's launcher arguments. */
static void shm_pair(dapper_ipc_manager *server, dapper_ipc_manager *client, uint32_t ring_bytes, int32_t send_timeout_ms,
                     char args[512])
{
    *server = new_manager("create server");
    *client = new_manager("create client");
    dapper_ipc_config config = config_for("shm");
    config.shm_ring_bytes = ring_bytes;
    connect_shm(*client, listen_on(*server, &config, args), send_timeout_ms);
    must(dapper_ipc_wait_for_client(*server, WAIT_SECONDS * 1000), "wait_for_client");
}

static int round_trip(enum mode mode)
{
    struct side sides[2];
    memset(sides, 0, sizeof sides);
    char args[512];
    shm_pair(&sides[0].m, &sides[1].m, 0, 0, args);
    check(strcmp(args, "--ipc") == 0 && strcmp(args + 6, "shm") == 0, "the launcher arguments say --ipc shm (%s %s)", args, args + 6);

    pthread_t threads[4];
    for (int k = 0; k < 2; k++) {
        struct side *s = &sides[k];
        s->direction = k;
        s->mode = mode;
        s->r.direction = 1 - k;
        s->r.done = (struct latch)LATCH_INIT;
        if (mode == CALLBACKS)
            must(dapper_ipc_set_callback(s->m, on_message, NULL, &s->r), "set_callback");
        else if (mode == BATCH)
            must(dapper_ipc_set_batch_callback(s->m, on_batch, NULL, &s->r), "set_batch_callback");
        if (mode == PULL)
            pthread_create(&threads[2 + k], NULL, puller, s);
        else
            must(dapper_ipc_start_reader(s->m), "start_reader");
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int k = 0; k < 2; k++)
        pthread_create(&threads[k], NULL, sender, &sides[k]);
    for (int k = 0; k < 2; k++)
        pthread_join(threads[k], NULL);
    for (int k = 0; k < 2; k++) {
        if (mode == PULL)
            pthread_join(threads[2 + k], NULL);
        else
            latch_wait(&sides[k].r.done, 1, WAIT_SECONDS * 3);
    }
    printf("both directions in %.2f s\n", seconds_since(&start));
    for (int k = 0; k < 2; k++) {
        check(!sides[k].send_failed, "side %d sent all %d frames", k, FRAMES);
        check(sides[k].r.next == FRAMES && sides[k].r.bad == 0 && !sides[k].recv_failed,
              "side %d received %d of %d frames, %d not byte for byte", k, sides[k].r.next, FRAMES, sides[k].r.bad);
    }
    must(dapper_ipc_manager_destroy(sides[1].m), "destroy client");
    must(dapper_ipc_manager_destroy(sides[0].m), "destroy server");
    return 0;
}

static int test_round_trip_callbacks(void) { return round_trip(CALLBACKS); }
static int test_round_trip_batch(void) { return round_trip(BATCH); }
static int test_round_trip_pull(void) { return round_trip(PULL); }

/* ---- a peer killed in the middle of a frame ------------------------------------- */

static int peer_writer(const char *path)
{
    dapper_ipc_manager m = new_manager("create");
    connect_shm(m, path, 0);
    size_t n = 8u << 20; /* eight times the ring: the send waits for room inside the frame */
    uint8_t *buf = calloc(1, n);
    printf("sending\n");
    dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, buf, n);
    printf("sent?\n");
    return 0;
}

/* Waits until the process sleeps on a futex (its send waits for room in the ring). */
static int sleeps_on_futex(pid_t pid)
{
    char path[64], wchan[128];
    snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (seconds_since(&start) < WAIT_SECONDS) {
        FILE *f = fopen(path, "r");
        size_t n = f != NULL ? fread(wchan, 1, sizeof wchan - 1, f) : 0;
        if (f != NULL)
            fclose(f);
        wchan[n] = 0;
        if (strstr(wchan, "futex") != NULL)
            return 1;
        usleep(1000);
    }
    return 0;
}

struct state_seen {
    struct latch ended;
    int status;
    char reason[512];
    int frames;
};

static void on_state(void *user, int32_t event, int32_t status, const char *reason)
{
    struct state_seen *s = user;
    if (event == DAPPER_IPC_EVENT_DISCONNECTED) {
        s->status = status;
        snprintf(s->reason, sizeof s->reason, "%s", reason);
        latch_add(&s->ended, 1);
    }
}

static void on_frame_count(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    (void)kind, (void)payload, (void)length;
    ((struct state_seen *)user)->frames++;
}

static int peer_killed(int pull)
{
    dapper_ipc_manager m = new_manager("create");
    dapper_ipc_config config = config_for("shm");
    char args[512];
    const char *path = listen_on(m, &config, args);
    int out = -1;
    char *argv[] = {self_exe, "peer-writer", (char *)path, NULL};
    pid_t pid = spawn_with_stdout(argv, &out);
    must(dapper_ipc_wait_for_client(m, WAIT_SECONDS * 1000), "wait_for_client");
    check(sleeps_on_futex(pid), "the peer waits for room in the middle of its 8 MiB frame");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(out);

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (pull) {
        uint8_t *buf = malloc(16u << 20);
        size_t length;
        int32_t kind;
        int32_t rc = dapper_ipc_recv(m, buf, 16u << 20, &length, &kind, WAIT_SECONDS * 1000);
        check(rc == DAPPER_IPC_E_CLOSED, "recv returns E_CLOSED, not the partial frame nor a timeout (%d: %s)", rc, last_error());
        free(buf);
    } else {
        struct state_seen seen = {.ended = LATCH_INIT};
        must(dapper_ipc_set_callback(m, on_frame_count, on_state, &seen), "set_callback");
        must(dapper_ipc_start_reader(m), "start_reader");
        check(latch_wait(&seen.ended, 1, WAIT_SECONDS), "the reader reports DISCONNECTED");
        check(seen.status == DAPPER_IPC_E_CLOSED && seen.frames == 0,
              "with E_CLOSED and no partial frame delivered (status %d, %d frames: %s)", seen.status, seen.frames, seen.reason);
    }
    printf("the end was seen %.3f s after the kill\n", seconds_since(&start));
    must(dapper_ipc_manager_destroy(m), "destroy");
    return 0;
}

static int test_peer_killed_mid_write_callbacks(void) { return peer_killed(0); }
static int test_peer_killed_mid_write_pull(void) { return peer_killed(1); }

/* ---- backpressure: a full ring and the send timeout ------------------------------ */

static int test_full_ring_send_times_out(void)
{
    dapper_ipc_manager server, client;
    char args[512];
    shm_pair(&server, &client, 65536, 300, args);

    static uint8_t payload[4096];
    int sent = 0;
    int32_t rc;
    while ((rc = dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, payload, sizeof payload)) == DAPPER_IPC_OK && sent < 1000)
        sent++;
    check(rc == DAPPER_IPC_E_SEND_TIMEOUT, "a send into a full 64 KiB ring nobody reads times out (%d after %d frames: %s)", rc, sent, last_error());
    check(sent == 65536 / (4096 + 8), "after exactly the frames that fit whole (%d)", sent);

    /* Nothing of the refused frame went out: the reader gets exactly the frames sent. */
    uint8_t buf[8192];
    int got = 0;
    size_t length;
    int32_t kind;
    while (dapper_ipc_recv(server, buf, sizeof buf, &length, &kind, 0) == DAPPER_IPC_OK && length == sizeof payload)
        got++;
    check(got == sent, "the reader takes the %d frames sent, whole (%d)", sent, got);
    check(dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, payload, sizeof payload) == DAPPER_IPC_OK, "and the connection is still usable");
    must(dapper_ipc_manager_destroy(client), "destroy client");
    must(dapper_ipc_manager_destroy(server), "destroy server");
    return 0;
}

/* ---- the auth token travels on the socket, before the shared memory ---------------- */

static int test_auth_token(void)
{
    dapper_ipc_manager server = new_manager("create server");
    dapper_ipc_config config = config_for("shm");
    config.flags = DAPPER_IPC_FLAG_REQUIRE_AUTH;
    char args[512];
    const char *path = listen_on(server, &config, args);
    char token[128];
    must(dapper_ipc_auth_token(server, token, sizeof token, NULL), "auth_token");

    /* A wrong token is refused: the listener keeps waiting, and that client's sends fail. */
    dapper_ipc_manager wrong = new_manager("create wrong");
    dapper_ipc_config cc = client_config(path, 2000);
    cc.auth_token = "not-the-token";
    must(dapper_ipc_connect(wrong, &cc), "connect with a wrong token");
    check(dapper_ipc_wait_for_client(server, 500) == DAPPER_IPC_E_TIMEOUT, "a client with a wrong token is not accepted");
    check(dapper_ipc_send(wrong, DAPPER_IPC_KIND_EVENT, "x", 1) != DAPPER_IPC_OK, "and its send fails (%s)", last_error());
    must(dapper_ipc_manager_destroy(wrong), "destroy wrong");

    dapper_ipc_manager client = new_manager("create client");
    cc.auth_token = token;
    must(dapper_ipc_connect(client, &cc), "connect");
    check(dapper_ipc_wait_for_client(server, WAIT_SECONDS * 1000) == DAPPER_IPC_OK, "the client with the token is accepted");
    check(dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "hello", 5) == DAPPER_IPC_OK, "its send goes through the ring");
    uint8_t b[16];
    size_t length = 0;
    int32_t kind;
    check(dapper_ipc_recv(server, b, sizeof b, &length, &kind, WAIT_SECONDS * 1000) == DAPPER_IPC_OK && length == 5
              && memcmp(b, "hello", 5) == 0, "and arrives as the first frame (the auth frame is not delivered)");
    must(dapper_ipc_manager_destroy(client), "destroy client");
    must(dapper_ipc_manager_destroy(server), "destroy server");
    return 0;
}

/* ---- a hostile peer scribbling over the shared memory ---------------------------- */

/* The shared memory as this process maps it (the library's own mapping). */
static uint8_t *find_mapping(size_t *size)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    uint8_t *found = NULL;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        if (strstr(line, "memfd:dapper_ipc_shm") != NULL && sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
            found = (uint8_t *)lo;
            *size = hi - lo;
        }
    }
    if (f != NULL)
        fclose(f);
    return found;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Rounds of: connect, send frames while writing random values over the control words
   (indices, wait words, closed flags) and the data of both rings, then clean up. */
static int scribbler(const char *path, int seconds)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    static uint8_t payload[3000];
    rng_state ^= (uint64_t)getpid() << 20;
    while (seconds_since(&start) < seconds) {
        dapper_ipc_manager m = new_manager("create");
        dapper_ipc_config config = client_config(path, 200);
        if (dapper_ipc_connect(m, &config) != DAPPER_IPC_OK) {
            dapper_ipc_manager_destroy(m);
            continue;
        }
        /* The first send joins the shared memory (the listener passes it when it accepts). */
        dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, payload, 10);
        size_t size = 0;
        uint8_t *shm = find_mapping(&size);
        struct timespec round;
        clock_gettime(CLOCK_MONOTONIC, &round);
        while (shm != NULL && seconds_since(&round) < 0.2) {
            dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, payload, rnd() % sizeof payload);
            for (int k = 0; k < 4; k++) {
                uint64_t r = rnd();
                switch (r % 6) {
                case 0: /* a ring's write or read index: anything, or near the truth */
                    *(volatile uint64_t *)(shm + 4096 * (1 + (r >> 8) % 2) + 64 * ((r >> 9) % 2)) =
                        (r >> 10) % 2 ? rnd() : *(volatile uint64_t *)(shm + 4096 * (1 + (r >> 8) % 2)) + (rnd() % 100000) - 50000;
                    break;
                case 1: /* the wait words and the closed flag */
                    *(volatile uint32_t *)(shm + 4096 * (1 + (r >> 8) % 2) + 64 * (2 + (r >> 9) % 3)) = (uint32_t)rnd() % 4;
                    break;
                case 2: /* the header */
                    shm[(r >> 8) % 16] = (uint8_t)rnd();
                    break;
                default: /* frame headers and payloads in the rings */
                    shm[3 * 4096 + (r >> 8) % (size - 3 * 4096)] = (uint8_t)rnd();
                    break;
                }
            }
        }
        dapper_ipc_manager_destroy(m);
    }
    return 0;
}

static int scribble(int seconds)
{
    char dir[] = "/tmp/dapper-shm-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/ipc.sock", dir);
    char secs[16];
    snprintf(secs, sizeof secs, "%d", seconds);
    int out = -1;
    char *argv[] = {self_exe, "scribbler", path, secs, NULL};
    pid_t pid = spawn_with_stdout(argv, &out);
    int fds_before = -1;
    int rounds = 0, protocol = 0, clean = 0, unexplained = 0;
    static uint8_t payload[1000];
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (seconds_since(&start) < seconds + 1) {
        dapper_ipc_manager m = new_manager("create");
        dapper_ipc_config config = config_for("shm");
        config.path = path;
        config.send_timeout_ms = 100;
        config.shm_ring_bytes = 65536;
        must(dapper_ipc_create_listener(m, &config), "create_listener");
        if (fds_before < 0)
            fds_before = count_dir("/proc/self/fd", NULL);
        struct state_seen seen = {.ended = LATCH_INIT};
        must(dapper_ipc_set_callback(m, on_frame_count, on_state, &seen), "set_callback");
        if (dapper_ipc_wait_for_client(m, 2000) == DAPPER_IPC_OK) {
            must(dapper_ipc_start_reader(m), "start_reader");
            /* Our own frames go into a ring whose read index the peer scribbles too. */
            for (int i = 0; i < 200 && seen.ended.value == 0; i++)
                if (dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, payload, (size_t)i * 5) != DAPPER_IPC_OK)
                    break;
            if (!latch_wait(&seen.ended, 1, WAIT_SECONDS)) {
                check(0, "round %d: no end seen within %d s of a hostile peer's round (a hang)", rounds, WAIT_SECONDS);
                break;
            }
            rounds++;
            if (seen.status == DAPPER_IPC_E_PROTOCOL || seen.status == DAPPER_IPC_E_FRAME_TOO_LARGE)
                protocol++;
            else if (seen.status == DAPPER_IPC_OK || seen.status == DAPPER_IPC_E_CLOSED)
                clean++;
            else if (unexplained++ == 0)
                printf("round %d ended with %d: %s\n", rounds, seen.status, seen.reason);
            if (seen.status != DAPPER_IPC_OK && strlen(seen.reason) < 10)
                check(0, "round %d: status %d comes with a reason (%s)", rounds, seen.status, seen.reason);
            if (protocol == 1 && (seen.status == DAPPER_IPC_E_PROTOCOL))
                printf("a protocol error, as reported: %s\n", seen.reason);
        }
        must(dapper_ipc_manager_destroy(m), "destroy");
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the scribbler itself ran to its end without a crash");
            pid = -1;
            break;
        }
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close(out);
    rmdir(dir);
    printf("%d rounds: %d ended in a protocol error, %d closed, %d otherwise\n", rounds, protocol, clean, unexplained);
    check(rounds >= 3, "several rounds with the hostile peer ran (%d)", rounds);
    check(protocol > 0, "impossible indices or headers were reported as E_PROTOCOL (%d rounds)", protocol);
    check(unexplained == 0, "every round ended in a protocol error or a close (%d did not)", unexplained);
    int fds_after = count_dir("/proc/self/fd", NULL);
    check(fds_after <= fds_before, "no descriptor left behind (%d before, %d after)", fds_before, fds_after);
    return 0;
}

static int test_scribbler(void) { return scribble(2); }

/* ---- fds and mappings over 10,000 connect/cleanup cycles ------------------------- */

static int count_maps(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (needle == NULL || strstr(line, needle) != NULL)
            n++;
    if (f != NULL)
        fclose(f);
    return n;
}

static int test_cycles_leave_nothing(void)
{
    int fds = -1, maps = -1, shm = -1;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < 10000; i++) {
        if (i == 100) {
            /* After the runtime's own first-use allocations have settled. */
            fds = count_dir("/proc/self/fd", NULL);
            maps = count_maps(NULL);
            shm = count_maps("dapper_ipc_shm");
        }
        dapper_ipc_manager server, client;
        char args[512];
        shm_pair(&server, &client, 4096, 0, args);
        must(dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "x", 1), "send");
        uint8_t b[8];
        size_t length;
        int32_t kind;
        must(dapper_ipc_recv(server, b, sizeof b, &length, &kind, WAIT_SECONDS * 1000), "recv");
        must(dapper_ipc_manager_destroy(client), "destroy client");
        must(dapper_ipc_manager_destroy(server), "destroy server");
    }
    int fds_after = count_dir("/proc/self/fd", NULL);
    int maps_after = count_maps(NULL);
    int shm_after = count_maps("dapper_ipc_shm");
    printf("10,000 cycles in %.1f s\n", seconds_since(&start));
    check(shm == 0 && shm_after == 0, "no shared memory stays mapped (%d, then %d)", shm, shm_after);
    check(fds_after <= fds, "no descriptor leaks (%d after 100 cycles, %d after 10,000)", fds, fds_after);
    /* The runtime's heap may map a few more regions as it grows; a leak per cycle would be thousands. */
    check(maps_after <= maps + 50, "no mapping leaks (%d after 100 cycles, %d after 10,000)", maps, maps_after);
    return 0;
}

int main(int argc, char **argv)
{
    test_program_init(argv[0]);
#if !defined(__linux__)
    printf("skipped: the shm transport is Linux only\n");
    return SKIP;
#endif
    if (argc == 3 && strcmp(argv[1], "peer-writer") == 0)
        return peer_writer(argv[2]);
    if (argc == 4 && strcmp(argv[1], "scribbler") == 0)
        return scribbler(argv[2], atoi(argv[3]));
    if (argc == 3 && strcmp(argv[1], "scribble") == 0) {
        scribble(atoi(argv[2]));
        return failures == 0 ? 0 : 1;
    }

    static const struct named_test tests[] = {
        {"round-trip-callbacks", test_round_trip_callbacks},
        {"round-trip-batch", test_round_trip_batch},
        {"round-trip-pull", test_round_trip_pull},
        {"peer-killed-mid-write-callbacks", test_peer_killed_mid_write_callbacks},
        {"peer-killed-mid-write-pull", test_peer_killed_mid_write_pull},
        {"full-ring-send-times-out", test_full_ring_send_times_out},
        {"auth-token", test_auth_token},
        {"scribbler", test_scribbler},
        {"cycles-leave-nothing", test_cycles_leave_nothing},
    };
    return run_named_test("shm", argc, argv, tests, sizeof tests / sizeof tests[0]);
}
