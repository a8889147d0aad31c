/*
 * Connection health through the C ABI: the statistics (exact counts in every receive
 * mode), heartbeats that find a frozen peer (SIGSTOP), and that a peer without
 * heartbeats sees nothing new.
 *
 *   health <test>                        runs one test (CTest registers each row of the
 *                                        table in main)
 *   health peer-beat T ROLE ADDR HB      a peer process with the library and heartbeats:
 *                                        ROLE connect connects to ADDR; ROLE listen
 *                                        listens and prints its address; then it answers
 *                                        until killed
 *
 * Exit 0: passed; 1: failed.
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static dapper_ipc_stats stats_of(dapper_ipc_manager m)
{
    dapper_ipc_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    must(dapper_ipc_get_stats(m, &s), "get_stats");
    return s;
}

static void connect_to(dapper_ipc_manager client, const char *transport, const char *address, int32_t heartbeat_ms)
{
    dapper_ipc_config config = config_for(transport);
    config.heartbeat_ms = heartbeat_ms;
    config.connect_timeout_ms = WAIT_SECONDS * 1000;
    if (strcmp(transport, "tcp") == 0)
        config.port = atoi(address);
    else
        config.path = address;
    must(dapper_ipc_connect(client, &config), "connect");
}

/* A listener and a library client connected to it, both with heartbeat_ms hb. */
static void connected_pair(dapper_ipc_manager *server, dapper_ipc_manager *client, const char *transport,
                           int32_t server_hb, int32_t client_hb)
{
    must(dapper_ipc_manager_create(server), "create server");
    must(dapper_ipc_manager_create(client), "create client");
    dapper_ipc_config config = config_for(transport);
    config.heartbeat_ms = server_hb;
    char args[512];
    connect_to(*client, transport, listen_on(*server, &config, args), client_hb);
    must(dapper_ipc_wait_for_client(*server, WAIT_SECONDS * 1000), "wait_for_client");
}

static int raw_connect_to(const char *transport, const char *address)
{
    int tcp = strcmp(transport, "tcp") == 0;
    int fd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;
    if (tcp) {
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(address))};
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
        rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    } else {
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof addr.sun_path, "%s", address);
        rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- statistics: exact in every receive mode ---------------------------------- */

/* Frames of lengths 0, 1, ..., N-1 (mod 300) from the client, M back from the server:
   the totals are known in advance. */
#define UP 1000
#define DOWN 700
static uint64_t bytes_of(int count)
{
    uint64_t total = 0;
    for (int i = 0; i < count; i++)
        total += 8 + (uint64_t)(i % 300);
    return total;
}

struct counter {
    struct latch frames;
    uint64_t bytes;
};

static void on_message_count(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    struct counter *c = user;
    (void)kind, (void)payload;
    c->bytes += 8 + length;
    latch_add(&c->frames, 1);
}

static void on_batch_count(void *user, const dapper_ipc_frame *frames, size_t count)
{
    struct counter *c = user;
    for (size_t i = 0; i < count; i++)
        c->bytes += 8 + frames[i].length;
    latch_add(&c->frames, (int)count);
}

static void send_known(dapper_ipc_manager m, int count, int32_t kind)
{
    static uint8_t payload[300];
    memset(payload, 'x', sizeof payload);
    for (int i = 0; i < count; i++)
        must(dapper_ipc_send(m, kind, payload, (size_t)(i % 300)), "send");
}

enum mode { CALLBACKS, BATCH, PULL };

struct sender {
    dapper_ipc_manager m;
    int count;
    int32_t kind;
};

static void *send_thread(void *arg)
{
    struct sender *s = arg;
    send_known(s->m, s->count, s->kind);
    return NULL;
}

/* Receives `count` frames on m in the mode; returns the bytes the host saw. */
static uint64_t receive_known(dapper_ipc_manager m, enum mode mode, struct counter *c, int count)
{
    if (mode != PULL) {
        check(latch_wait(&c->frames, count, WAIT_SECONDS), "all %d frames delivered (%d)", count, c->frames.value);
        return c->bytes;
    }
    static uint8_t buf[1 << 16];
    dapper_ipc_frame frames[64];
    uint64_t bytes = 0;
    int got = 0;
    while (got < count) {
        size_t n = 0;
        int32_t rc = dapper_ipc_recv_batch(m, buf, sizeof buf, frames, 64, &n, WAIT_SECONDS * 1000);
        if (rc != DAPPER_IPC_OK) {
            check(0, "recv_batch: %d %s", rc, last_error());
            break;
        }
        for (size_t i = 0; i < n; i++)
            bytes += 8 + frames[i].length;
        got += (int)n;
    }
    check(got == count, "pull: %d of %d frames", got, count);
    return bytes;
}

static int stats_exact(enum mode mode, int32_t heartbeat_ms)
{
    dapper_ipc_manager server, client;
    connected_pair(&server, &client, "unix", heartbeat_ms, heartbeat_ms);
    struct counter at_server = {LATCH_INIT, 0}, at_client = {LATCH_INIT, 0};
    if (mode == CALLBACKS) {
        must(dapper_ipc_set_callbacks(server, on_message_count, NULL, &at_server), "callbacks");
        must(dapper_ipc_set_callbacks(client, on_message_count, NULL, &at_client), "callbacks");
    } else if (mode == BATCH) {
        must(dapper_ipc_set_batch_callback(server, on_batch_count, NULL, &at_server), "batch callback");
        must(dapper_ipc_set_batch_callback(client, on_batch_count, NULL, &at_client), "batch callback");
    }
    if (mode != PULL) {
        must(dapper_ipc_start_reader(server), "start_reader");
        must(dapper_ipc_start_reader(client), "start_reader");
    }
    dapper_ipc_stats before = stats_of(server);
    check(before.state == DAPPER_IPC_STATE_CONNECTED && before.connects == 1 && before.frames_sent == 0 &&
              before.last_send_ms_ago == -1 && before.last_receive_ms_ago == -1,
          "a fresh connection: connected, 1 connect, nothing counted, last send/receive never (state %d)",
          before.state);

    /* Sent from threads: in pull mode nobody reads until receive_known. */
    struct sender up = {client, UP, DAPPER_IPC_KIND_EVENT}, down = {server, DOWN, DAPPER_IPC_KIND_COMMAND};
    pthread_t up_thread, down_thread;
    pthread_create(&up_thread, NULL, send_thread, &up);
    pthread_create(&down_thread, NULL, send_thread, &down);
    uint64_t seen_by_server = receive_known(server, mode, &at_server, UP);
    uint64_t seen_by_client = receive_known(client, mode, &at_client, DOWN);
    pthread_join(up_thread, NULL);
    pthread_join(down_thread, NULL);

    if (heartbeat_ms > 0) {
        /* Heartbeats flow both ways meanwhile: wait until each end has a round trip. */
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while ((stats_of(server).heartbeat_rtt_us < 0 || stats_of(client).heartbeat_rtt_us < 0) &&
               seconds_since(&start) < WAIT_SECONDS) {
            if (mode == PULL) {
                /* In pull mode control frames are read (and answered) inside recv. */
                size_t n = 0;
                uint8_t b[16];
                dapper_ipc_frame f[1];
                dapper_ipc_recv_batch(server, b, sizeof b, f, 1, &n, 5);
                dapper_ipc_recv_batch(client, b, sizeof b, f, 1, &n, 5);
            } else {
                usleep(10 * 1000);
            }
        }
        dapper_ipc_stats s = stats_of(server), c = stats_of(client);
        check(s.heartbeat_rtt_us >= 0 && c.heartbeat_rtt_us >= 0, "heartbeats answered both ways: rtt %lld / %lld us",
              (long long)s.heartbeat_rtt_us, (long long)c.heartbeat_rtt_us);
    }

    dapper_ipc_stats s = stats_of(server), c = stats_of(client);
    check(c.frames_sent == UP && s.frames_received == UP, "frames up: sent %llu, received %llu, expected %d",
          (unsigned long long)c.frames_sent, (unsigned long long)s.frames_received, UP);
    check(s.frames_sent == DOWN && c.frames_received == DOWN, "frames down: sent %llu, received %llu, expected %d",
          (unsigned long long)s.frames_sent, (unsigned long long)c.frames_received, DOWN);
    check(c.bytes_sent == bytes_of(UP) && s.bytes_received == bytes_of(UP) && seen_by_server == bytes_of(UP),
          "bytes up, headers included: sent %llu, received %llu, host saw %llu, expected %llu",
          (unsigned long long)c.bytes_sent, (unsigned long long)s.bytes_received,
          (unsigned long long)seen_by_server, (unsigned long long)bytes_of(UP));
    check(s.bytes_sent == bytes_of(DOWN) && c.bytes_received == bytes_of(DOWN) && seen_by_client == bytes_of(DOWN),
          "bytes down: sent %llu, received %llu, host saw %llu, expected %llu", (unsigned long long)s.bytes_sent,
          (unsigned long long)c.bytes_received, (unsigned long long)seen_by_client,
          (unsigned long long)bytes_of(DOWN));
    check(s.last_send_ms_ago >= 0 && s.last_receive_ms_ago >= 0 && c.last_send_ms_ago >= 0 &&
              c.last_receive_ms_ago >= 0,
          "last send and receive known on both ends");
    check(heartbeat_ms > 0 || (s.heartbeat_rtt_us == -1 && c.heartbeat_rtt_us == -1),
          "no heartbeat round trip without heartbeats");

    /* The peer leaves: closed until cleanup; the counts stay for the manager's life. */
    dapper_ipc_cleanup(client);
    if (mode == PULL) {
        uint8_t b[16];
        dapper_ipc_frame f[1];
        size_t n;
        check(dapper_ipc_recv_batch(server, b, sizeof b, f, 1, &n, WAIT_SECONDS * 1000) == DAPPER_IPC_E_CLOSED,
              "pull: the peer's close");
    } else {
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (stats_of(server).state != DAPPER_IPC_STATE_CLOSED && seconds_since(&start) < WAIT_SECONDS)
            usleep(5 * 1000);
    }
    check(stats_of(server).state == DAPPER_IPC_STATE_CLOSED, "state CLOSED once the peer left");
    dapper_ipc_cleanup(server);
    s = stats_of(server);
    check(s.state == DAPPER_IPC_STATE_IDLE && s.frames_received == UP && s.connects == 1,
          "after cleanup: IDLE, counts kept");
    dapper_ipc_manager_destroy(client);
    dapper_ipc_manager_destroy(server);
    return 0;
}

static int test_stats_callbacks(void) { return stats_exact(CALLBACKS, 0); }
static int test_stats_batch(void) { return stats_exact(BATCH, 0); }
static int test_stats_pull(void) { return stats_exact(PULL, 0); }
/* 100 ms: 3 x 20 ms of silence is within a loaded 2-vCPU machine's reach (a 20 ms period
   once declared the pull-mode peer dead beside the 100,000-frame reconnect tests). */
static int test_stats_callbacks_heartbeats(void) { return stats_exact(CALLBACKS, 100); }
static int test_stats_batch_heartbeats(void) { return stats_exact(BATCH, 100); }
static int test_stats_pull_heartbeats(void) { return stats_exact(PULL, 100); }

static int test_stats_arguments(void)
{
    dapper_ipc_manager m = new_manager("create");
    check(dapper_ipc_get_stats(m, NULL) == DAPPER_IPC_E_INVALID_ARGUMENT, "NULL out");
    dapper_ipc_stats s;
    memset(&s, 0, sizeof s);
    check(dapper_ipc_get_stats(m, &s) == DAPPER_IPC_E_INVALID_ARGUMENT, "struct_size 0: %s", last_error());
    dapper_ipc_manager bogus = {987654321};
    s.struct_size = sizeof s;
    check(dapper_ipc_get_stats(bogus, &s) == DAPPER_IPC_E_INVALID_HANDLE, "never-issued handle");

    /* A program built against a shorter struct: nothing past its struct_size is written. */
    memset(&s, 0xAB, sizeof s);
    s.struct_size = 12; /* ends inside frames_sent: only whole fields are written */
    must(dapper_ipc_get_stats(m, &s), "get_stats, struct_size 12");
    const uint8_t *raw = (const uint8_t *)&s;
    int untouched = 1;
    for (size_t i = 8; i < sizeof s; i++)
        untouched &= raw[i] == 0xAB;
    check(s.state == DAPPER_IPC_STATE_IDLE && untouched, "struct_size 12: state written, nothing after offset 8");

    dapper_ipc_config config = config_for("unix");
    char args[512];
    listen_on(m, &config, args);
    check(stats_of(m).state == DAPPER_IPC_STATE_LISTENING, "a listener waiting: LISTENING");
    dapper_ipc_manager_destroy(m);
    return 0;
}

/* A raw peer that never reads: sends wait, and that wait is counted. */
static int test_stats_send_blocked(void)
{
    dapper_ipc_manager server = new_manager("create");
    dapper_ipc_config config = config_for("unix");
    config.send_timeout_ms = 200;
    char args[512];
    int raw = raw_connect_to("unix", listen_on(server, &config, args));
    must(dapper_ipc_wait_for_client(server, WAIT_SECONDS * 1000), "wait_for_client");
    static uint8_t payload[4096];
    int32_t rc = DAPPER_IPC_OK;
    for (int i = 0; i < 100000 && rc == DAPPER_IPC_OK; i++)
        rc = dapper_ipc_send(server, DAPPER_IPC_KIND_COMMAND, payload, sizeof payload);
    dapper_ipc_stats s = stats_of(server);
    check(rc == DAPPER_IPC_E_SEND_TIMEOUT, "the send to a peer that does not read timed out (%d)", rc);
    check(s.send_blocked_ns >= 150u * 1000 * 1000, "send_blocked_ns counts the wait: %llu ns (send timeout 200 ms)",
          (unsigned long long)s.send_blocked_ns);
    close(raw);
    dapper_ipc_manager_destroy(server);
    return 0;
}

/* ---- heartbeats ----------------------------------------------------------------- */

static int peer_beat(const char *transport, const char *role, const char *address, int hb)
{
    dapper_ipc_manager m = new_manager("create");
    if (strcmp(role, "listen") == 0) {
        dapper_ipc_config config = config_for(transport);
        config.heartbeat_ms = hb;
        char args[512];
        printf("%s\n", listen_on(m, &config, args));
        fflush(stdout);
    } else {
        connect_to(m, transport, address, hb);
    }
    must(dapper_ipc_start_reader(m), "start_reader");
    for (;;)
        pause();
    return 0;
}

struct events {
    struct latch connected, disconnected;
    int32_t status;
    char reason[256];
    struct timespec at;
};

static void on_state(void *user, int32_t event, int32_t status, const char *reason)
{
    struct events *e = user;
    if (event == DAPPER_IPC_EVENT_CONNECTED) {
        latch_add(&e->connected, 1);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &e->at);
    e->status = status;
    snprintf(e->reason, sizeof e->reason, "%s", reason);
    latch_add(&e->disconnected, 1);
}

static void on_message_ignore(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    (void)user, (void)kind, (void)payload, (void)length;
}

#define HB 100

/* The host (listening, or connecting to a peer that listens) and a peer process with
   heartbeats; once heartbeats flow the peer is frozen with SIGSTOP. */
static int frozen_peer(const char *transport, int host_listens, int pull)
{
    dapper_ipc_manager host = new_manager("create");
    struct events ev = {LATCH_INIT, LATCH_INIT, 0, "", {0, 0}};
    char args[512];
    pid_t pid;
    int out = -1;
    if (host_listens) {
        dapper_ipc_config config = config_for(transport);
        config.heartbeat_ms = HB;
        const char *address = listen_on(host, &config, args);
        char hb[16];
        snprintf(hb, sizeof hb, "%d", HB);
        char *argv[] = {self_exe, "peer-beat", (char *)transport, "connect", (char *)address, hb, NULL};
        pid = spawn_with_stdout(argv, &out);
        must(dapper_ipc_wait_for_client(host, WAIT_SECONDS * 1000), "wait_for_client");
    } else {
        char hb[16];
        snprintf(hb, sizeof hb, "%d", HB);
        char *argv[] = {self_exe, "peer-beat", (char *)transport, "listen", "-", hb, NULL};
        pid = spawn_with_stdout(argv, &out);
        char address[256] = "";
        FILE *f = fdopen(out, "r");
        if (pid < 0 || f == NULL || fgets(address, sizeof address, f) == NULL) {
            check(0, "the peer printed its address");
            return 1;
        }
        address[strcspn(address, "\n")] = 0;
        connect_to(host, transport, address, HB);
    }
    if (!pull) {
        must(dapper_ipc_set_callbacks(host, on_message_ignore, on_state, &ev), "callbacks");
        must(dapper_ipc_start_reader(host), "start_reader");
    }

    /* Heartbeats flow: a round trip is measured (pull mode: inside recv). */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uint8_t b[64];
    dapper_ipc_frame f[1];
    size_t n;
    while (stats_of(host).heartbeat_rtt_us < 0 && seconds_since(&start) < WAIT_SECONDS) {
        if (pull)
            dapper_ipc_recv_batch(host, b, sizeof b, f, 1, &n, 10);
        else
            usleep(10 * 1000);
    }
    check(stats_of(host).heartbeat_rtt_us >= 0, "%s: heartbeats answered (rtt %lld us)", transport,
          (long long)stats_of(host).heartbeat_rtt_us);

    struct timespec stopped;
    kill(pid, SIGSTOP);
    clock_gettime(CLOCK_MONOTONIC, &stopped);
    int32_t status;
    const char *reason;
    if (pull) {
        status = dapper_ipc_recv_batch(host, b, sizeof b, f, 1, &n, WAIT_SECONDS * 1000);
        clock_gettime(CLOCK_MONOTONIC, &ev.at);
        reason = last_error();
    } else {
        check(latch_wait(&ev.disconnected, 1, WAIT_SECONDS), "%s: DISCONNECTED reported", transport);
        status = ev.status;
        reason = ev.reason;
    }
    double took = (double)(ev.at.tv_sec - stopped.tv_sec) + (double)(ev.at.tv_nsec - stopped.tv_nsec) / 1e9;
    int silent_ms = -1;
    check(status == DAPPER_IPC_E_TIMEOUT && sscanf(reason, "peer unresponsive for %d ms", &silent_ms) == 1 &&
              silent_ms >= 3 * HB,
          "%s%s: frozen peer declared dead: status %d, \"%s\", %.0f ms after SIGSTOP (heartbeat_ms %d; bench/run.sh "
          "holds the 3 x heartbeat_ms + 100 ms bound)",
          transport, pull ? " (pull)" : "", status, reason, took * 1000, HB);
    check(stats_of(host).state == DAPPER_IPC_STATE_CLOSED, "state CLOSED");

    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    waitpid(pid, NULL, 0);
    close(out);
    dapper_ipc_manager_destroy(host);
    return 0;
}

static int test_frozen_peer_unix(void) { return frozen_peer("unix", 1, 0); }
static int test_frozen_peer_tcp(void) { return frozen_peer("tcp", 0, 0); }
static int test_frozen_peer_pull_unix(void) { return frozen_peer("unix", 1, 1); }
static int test_frozen_peer_pull_tcp(void) { return frozen_peer("tcp", 0, 1); }

/* Reads what arrives on fd within ms (poll), appending to buf; returns the total. */
static size_t read_for(int fd, uint8_t *buf, size_t cap, size_t have, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (have < cap) {
        ssize_t r = recv(fd, buf + have, cap - have, 0);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    return have;
}

/* A listener with heartbeats and a stock client (an ordinary first frame): the client
   receives exactly the host's frames, nothing else, over several heartbeat periods. */
static int test_stock_client_sees_nothing_new(void)
{
    dapper_ipc_manager server = new_manager("create");
    dapper_ipc_config config = config_for("unix");
    config.heartbeat_ms = 20;
    char args[512];
    int raw = raw_connect_to("unix", listen_on(server, &config, args));
    static const uint8_t hello[] = {'D', 'P', 1, 1, 0, 0, 0, 2, '{', '}'};
    send(raw, hello, sizeof hello, MSG_NOSIGNAL);
    struct counter c = {LATCH_INIT, 0};
    must(dapper_ipc_set_callbacks(server, on_message_count, NULL, &c), "callbacks");
    must(dapper_ipc_start_reader(server), "start_reader");
    check(latch_wait(&c.frames, 1, WAIT_SECONDS), "the stock client's frame delivered");
    must(dapper_ipc_send(server, DAPPER_IPC_KIND_COMMAND, "{\"a\":1}", 7), "send");
    uint8_t buf[256];
    size_t got = read_for(raw, buf, sizeof buf, 0, 10 * 20);
    static const uint8_t expected[] = {'D', 'P', 1, 2, 0, 0, 0, 7, '{', '"', 'a', '"', ':', '1', '}'};
    check(got == sizeof expected && memcmp(buf, expected, sizeof expected) == 0,
          "over 10 heartbeat periods the stock client received exactly the host's one frame (%zu bytes)", got);
    close(raw);
    dapper_ipc_manager_destroy(server);
    return 0;
}

/* A client with heartbeats and a raw listener: the announcement, a kind 3 frame, comes
   first; with no answer, nothing else of the library's follows. */
static int test_unanswered_announcement(void)
{
    char dir[] = "/tmp/dapper-health-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char path[64];
    snprintf(path, sizeof path, "%s/s", dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 1) != 0)
        return 1;
    dapper_ipc_manager client = new_manager("create");
    connect_to(client, "unix", path, 20);
    int fd = accept(lfd, NULL, NULL);
    must(dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{}", 2), "send");
    uint8_t buf[256];
    size_t got = read_for(fd, buf, sizeof buf, 0, 10 * 20);
    check(got >= 8 && buf[0] == 'D' && buf[3] == 3, "the first frame is the kind 3 announcement");
    size_t first = got >= 8 ? 8 + ((size_t)buf[6] << 8 | buf[7]) : 0;
    static const uint8_t host[] = {'D', 'P', 1, 1, 0, 0, 0, 2, '{', '}'};
    check(got == first + sizeof host && memcmp(buf + first, host, sizeof host) == 0,
          "then only the host's frame, over 10 heartbeat periods (%zu bytes in all)", got);
    check(stats_of(client).heartbeat_rtt_us == -1 && stats_of(client).frames_sent == 1,
          "no round trip, and the announcement is not counted as a frame");
    close(fd);
    close(lfd);
    unlink(path);
    rmdir(dir);
    dapper_ipc_manager_destroy(client);
    return 0;
}

/* A client with heartbeats, a listener without: the announcement never reaches the
   listener's host, and no heartbeats run. */
static int test_one_end_without_heartbeats(void)
{
    dapper_ipc_manager server, client;
    connected_pair(&server, &client, "unix", 0, 20);
    struct counter c = {LATCH_INIT, 0};
    must(dapper_ipc_set_callbacks(server, on_message_count, NULL, &c), "callbacks");
    must(dapper_ipc_start_reader(server), "start_reader");
    must(dapper_ipc_start_reader(client), "start_reader");
    must(dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{}", 2), "send");
    check(latch_wait(&c.frames, 1, WAIT_SECONDS), "the host's frame delivered");
    usleep(10 * 20 * 1000); /* ten heartbeat periods, in which nothing else may arrive */
    dapper_ipc_stats s = stats_of(server);
    check(c.frames.value == 1 && s.frames_received == 1 && c.bytes == 10,
          "the listener's host got only its peer's one frame (%d frames)", c.frames.value);
    check(s.heartbeat_rtt_us == -1 && stats_of(client).heartbeat_rtt_us == -1, "no heartbeats ran");
    dapper_ipc_manager_destroy(client);
    dapper_ipc_manager_destroy(server);
    return 0;
}

/* With the auth token required the announcement comes second, after the auth frame, and
   heartbeats run as without it. */
static int test_heartbeats_after_the_auth_frame(void)
{
    dapper_ipc_manager server, client;
    must(dapper_ipc_manager_create(&server), "create");
    must(dapper_ipc_manager_create(&client), "create");
    dapper_ipc_config config = config_for("unix");
    config.heartbeat_ms = 100; /* long enough that a loaded machine never takes a stall for a dead peer */
    config.flags = DAPPER_IPC_FLAG_REQUIRE_AUTH;
    char args[512], token[128];
    const char *path = listen_on(server, &config, args);
    must(dapper_ipc_auth_token(server, token, sizeof token, NULL), "auth_token");
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.path = path;
    config.heartbeat_ms = 100;
    config.auth_token = token;
    must(dapper_ipc_connect(client, &config), "connect");
    struct counter c = {LATCH_INIT, 0};
    must(dapper_ipc_set_callbacks(server, on_message_count, NULL, &c), "callbacks");
    must(dapper_ipc_start_reader(server), "start_reader");
    must(dapper_ipc_start_reader(client), "start_reader");
    must(dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{}", 2), "send");
    check(latch_wait(&c.frames, 1, WAIT_SECONDS), "the client's frame delivered");
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while ((stats_of(server).heartbeat_rtt_us < 0 || stats_of(client).heartbeat_rtt_us < 0) &&
           seconds_since(&start) < WAIT_SECONDS)
        usleep(1000);
    check(stats_of(server).heartbeat_rtt_us >= 0 && stats_of(client).heartbeat_rtt_us >= 0,
          "heartbeats run after the auth frame");
    check(c.frames.value == 1 && stats_of(server).frames_received == 1, "only the host's frame reached the host");
    dapper_ipc_manager_destroy(client);
    dapper_ipc_manager_destroy(server);
    return 0;
}

/* 200 cycles of listen, connect with heartbeats, traffic until heartbeats flow, cleanup:
   the heartbeat threads end with their connections, and descriptors are not kept. */
static int test_heartbeat_cycles_leave_nothing(void)
{
    if (count_dir("/proc/self/task", NULL) == 0) {
        printf("heartbeat-cycles-leave-nothing SKIPPED: no /proc/self/task here\n");
        return SKIP;
    }
    dapper_ipc_manager server, client;
    must(dapper_ipc_manager_create(&server), "create");
    must(dapper_ipc_manager_create(&client), "create");
    int beating = 0, threads_before = 0, fds_before = 0;
    for (int cycle = -1; cycle < 200; cycle++) {
        if (cycle == 0) {
            /* After one warm-up cycle: the runtime's own threads and descriptors exist now. */
            threads_before = count_dir("/proc/self/task", NULL);
            fds_before = count_dir("/proc/self/fd", NULL);
            beating = 0;
        }
        dapper_ipc_config config;
        dapper_ipc_config_init(&config, sizeof config);
        config.transport = cycle & 1 ? "tcp" : "unix";
        config.heartbeat_ms = 20; /* 3 x 20 ms of stall before a peer counts as dead: enough under load */
        char args[512];
        connect_to(client, config.transport, listen_on(server, &config, args), 5);
        must(dapper_ipc_wait_for_client(server, WAIT_SECONDS * 1000), "wait_for_client");
        must(dapper_ipc_start_reader(server), "start_reader");
        must(dapper_ipc_start_reader(client), "start_reader");
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (stats_of(client).heartbeat_rtt_us < 0 && seconds_since(&start) < WAIT_SECONDS)
            usleep(1000);
        beating += stats_of(client).heartbeat_rtt_us >= 0;
        /* Each end's turn to close first. */
        dapper_ipc_cleanup(cycle % 3 ? client : server);
        dapper_ipc_cleanup(cycle % 3 ? server : client);
    }
    int threads_after = count_dir("/proc/self/task", NULL), fds_after = count_dir("/proc/self/fd", NULL);
    check(beating == 200, "heartbeats ran in every cycle (%d of 200)", beating);
    check(threads_after <= threads_before, "threads: %d before, %d after 200 cycles",
          threads_before, threads_after);
    check(fds_after <= fds_before, "descriptors: %d before, %d after", fds_before, fds_after);
    dapper_ipc_manager_destroy(client);
    dapper_ipc_manager_destroy(server);
    return 0;
}

int main(int argc, char **argv)
{
    test_program_init(argv[0]);
    if (argc >= 6 && strcmp(argv[1], "peer-beat") == 0)
        return peer_beat(argv[2], argv[3], argv[4], atoi(argv[5]));

    static const struct named_test tests[] = {
        {"stats-callbacks", test_stats_callbacks},
        {"stats-batch", test_stats_batch},
        {"stats-pull", test_stats_pull},
        {"stats-callbacks-heartbeats", test_stats_callbacks_heartbeats},
        {"stats-batch-heartbeats", test_stats_batch_heartbeats},
        {"stats-pull-heartbeats", test_stats_pull_heartbeats},
        {"stats-arguments", test_stats_arguments},
        {"stats-send-blocked", test_stats_send_blocked},
        {"frozen-peer-unix", test_frozen_peer_unix},
        {"frozen-peer-tcp", test_frozen_peer_tcp},
        {"frozen-peer-pull-unix", test_frozen_peer_pull_unix},
        {"frozen-peer-pull-tcp", test_frozen_peer_pull_tcp},
        {"stock-client-sees-nothing-new", test_stock_client_sees_nothing_new},
        {"unanswered-announcement", test_unanswered_announcement},
        {"one-end-without-heartbeats", test_one_end_without_heartbeats},
        {"heartbeats-after-the-auth-frame", test_heartbeats_after_the_auth_frame},
        {"heartbeat-cycles-leave-nothing", test_heartbeat_cycles_leave_nothing},
    };
    return run_named_test("health", argc, argv, tests, sizeof tests / sizeof tests[0]);
}
