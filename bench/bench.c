/*
 * The library against raw sockets: same framing, same payloads, same machine.
 *
 *   bench rtt  <lib|lib-hb|lib-wait|lib-pull|lib-nagle|raw> <unix|tcp> <iterations> <max-seconds> [samples-file]
 *       round trips of 128-byte DP v1 frames with a child process that echoes them;
 *       prints n= p50_us= p90_us= p99_us= and, with samples-file, appends every sample
 *       (µs, native doubles) to it so several runs can be pooled.
 *   bench tput <lib|lib-batch|raw|raw-bufread> <unix|tcp> <payload-bytes> <count>
 *       one direction, frames back to back to a child that acknowledges the last one;
 *       prints MBps= frames_per_s=. lib-batch: dapper_ipc_send_batch with 64 frames per
 *       call (the same library child receives). raw-bufread: the raw sender, and a raw
 *       receiver that reads up to 64 KiB per recv as the library does (a diagnostic
 *       baseline).
 *   bench recv <lib|raw> <unix|tcp> <count>
 *       receive rate: a raw C child floods 128-byte frames (large batched writes); this
 *       side takes them one by one: lib through the message callback, raw with read(8) +
 *       read(n). prints msgs_per_s=. The ceiling under the Python figures.
 *
 * The measuring process listens; the peer is this program started again (child-lib or
 * child-raw), so both ends of a pair use the same implementation.
 *   lib:      the reply is sent from the message callback, on the library's reader thread,
 *             on both ends (the fastest documented pattern: no thread hop).
 *   lib-wait: the callback hands the frame to a waiting thread (condition variable),
 *             which sends the reply, on both ends (for comparison).
 *   lib-pull: no reader thread: the request is sent and the response taken with
 *             dapper_ipc_recv on the same thread, on both ends (the pull mode).
 *   lib-nagle: lib-pull's measuring side against a raw C peer without TCP_NODELAY that
 *             answers with two frames written separately (the launcher; tcp only).
 *   raw:      blocking read(8), read(n), one write per frame, TCP_NODELAY on tcp.
 *
 * Every process arms alarm() (a stuck run dies instead of hanging), children die with
 * their parent (PR_SET_PDEATHSIG), every loop is bounded in count and time.
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_SECONDS 90 /* any single bench process */
#define WAIT_SECONDS 60     /* any single wait for the peer */

extern char **environ;
static char self_exe[4096];

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void fail(const char *what)
{
    fprintf(stderr, "bench: %s failed\n", what);
    exit(1);
}

static void die(const char *what)
{
    char message[256] = "";
    dapper_ipc_last_error(message, sizeof message, NULL);
    fprintf(stderr, "bench: %s failed: %s\n", what, message);
    exit(1);
}

/* A DP v1 frame whose payload is a JSON object of exactly `length` bytes, shaped like a
   DAP request: {"seq":1,"type":"request","command":"evaluate","arguments":{"expression":"xx..."}} */
static size_t make_frame(uint8_t *out, uint8_t kind, size_t length)
{
    static const char head[] = "{\"seq\":1,\"type\":\"request\",\"command\":\"evaluate\",\"arguments\":{\"expression\":\"";
    static const char tail[] = "\"}}";
    out[0] = 'D', out[1] = 'P', out[2] = 1, out[3] = kind;
    out[4] = (uint8_t)(length >> 24), out[5] = (uint8_t)(length >> 16), out[6] = (uint8_t)(length >> 8),
    out[7] = (uint8_t)length;
    uint8_t *p = out + 8;
    size_t h = sizeof head - 1, t = sizeof tail - 1;
    if (length >= h + t) {
        memcpy(p, head, h);
        memset(p + h, 'x', length - h - t);
        memcpy(p + length - t, tail, t);
    } else if (length >= 2) {
        memset(p, ' ', length);
        p[0] = '{', p[length - 1] = '}';
    } else {
        memset(p, ' ', length);
    }
    return 8 + length;
}

/* ---- raw sockets ---------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        p += r, n -= (size_t)r;
    }
    return 1;
}

static int write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        p += w, n -= (size_t)w;
    }
    return 1;
}

static int raw_listen(const char *transport, char *endpoint, size_t cap)
{
    int fd;
    if (strcmp(transport, "unix") == 0) {
        char dir[] = "/tmp/dapper-bench-XXXXXX";
        if (!mkdtemp(dir))
            fail("mkdtemp");
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(endpoint, cap, "%s/raw.sock", dir);
        memcpy(a.sun_path, endpoint, strlen(endpoint) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
            fail("bind");
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
            fail("bind");
        getsockname(fd, (struct sockaddr *)&a, &len);
        snprintf(endpoint, cap, "%d", ntohs(a.sin_port));
    }
    if (listen(fd, 1) != 0)
        fail("listen");
    return fd;
}

static void raw_unlisten(int listener, const char *transport, char *endpoint)
{
    close(listener);
    if (strcmp(transport, "unix") == 0) {
        unlink(endpoint);
        *strrchr(endpoint, '/') = 0;
        rmdir(endpoint);
    }
}

static int raw_nodelay = 1; /* 0 for the echo2-nagle peer: a launcher that never sets TCP_NODELAY */

static int raw_connect(const char *transport, const char *endpoint)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd, rc;
        if (strcmp(transport, "unix") == 0) {
            struct sockaddr_un a = {.sun_family = AF_UNIX};
            if (strlen(endpoint) >= sizeof a.sun_path)
                fail("unix path length");
            memcpy(a.sun_path, endpoint, strlen(endpoint) + 1);
            fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        } else {
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(endpoint)),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            rc = connect(fd, (struct sockaddr *)&a, sizeof a);
            int one = 1;
            if (raw_nodelay)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (rc == 0)
            return fd;
        close(fd);
        usleep(20000);
    }
    fail("connect");
    return -1;
}

static int raw_accept(int listener, const char *transport)
{
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        fail("accept");
    if (strcmp(transport, "tcp") == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* ---- library -------------------------------------------------------------- */

struct lib_state {
    dapper_ipc_manager m;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    /* rtt */
    double *samples;
    long iterations, i;
    double t0, deadline;
    uint8_t payload[128];
    /* lib-wait: frames handed from the callback to a waiting thread */
    long arrived, taken;
    uint8_t slot[128];
    size_t slot_length;
    /* tput */
    long expected, received;
};

static struct lib_state st = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static struct timespec deadline_in(int seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += seconds;
    return t;
}

static void finish(void)
{
    pthread_mutex_lock(&st.lock);
    st.done = 1;
    pthread_cond_broadcast(&st.cond);
    pthread_mutex_unlock(&st.lock);
}

static void wait_done(void)
{
    struct timespec until = deadline_in(WAIT_SECONDS);
    pthread_mutex_lock(&st.lock);
    while (!st.done)
        if (pthread_cond_timedwait(&st.cond, &st.lock, &until) == ETIMEDOUT)
            fail("waiting for the peer (timed out)");
    pthread_mutex_unlock(&st.lock);
}

/* lib-wait: the callback copies the frame and wakes the waiting thread. */
static void on_handoff(void *u, int32_t kind, const uint8_t *p, size_t n)
{
    (void)u, (void)kind;
    pthread_mutex_lock(&st.lock);
    st.slot_length = n < sizeof st.slot ? n : sizeof st.slot;
    memcpy(st.slot, p, st.slot_length);
    st.arrived++;
    pthread_cond_broadcast(&st.cond);
    pthread_mutex_unlock(&st.lock);
}

/* lib-wait: waits for the next handed-off frame; 0 when the connection ended. */
static int take_handoff(uint8_t *out, size_t *n)
{
    struct timespec until = deadline_in(WAIT_SECONDS);
    pthread_mutex_lock(&st.lock);
    while (st.arrived == st.taken && !st.done)
        if (pthread_cond_timedwait(&st.cond, &st.lock, &until) == ETIMEDOUT)
            fail("waiting for a frame (timed out)");
    int got = st.arrived > st.taken;
    if (got) {
        st.taken++;
        memcpy(out, st.slot, st.slot_length);
        *n = st.slot_length;
    }
    pthread_mutex_unlock(&st.lock);
    return got;
}

static void on_rtt_reply(void *u, int32_t kind, const uint8_t *p, size_t n)
{
    (void)u, (void)kind, (void)p, (void)n;
    double t = now_us();
    st.samples[st.i++] = t - st.t0;
    if (st.i == st.iterations || t > st.deadline) {
        finish();
        return;
    }
    st.t0 = now_us();
    if (dapper_ipc_send(st.m, DAPPER_IPC_KIND_COMMAND, st.payload, sizeof st.payload) != DAPPER_IPC_OK)
        die("send");
}

static void on_echo(void *u, int32_t kind, const uint8_t *p, size_t n)
{
    (void)u, (void)kind;
    dapper_ipc_send(st.m, DAPPER_IPC_KIND_EVENT, p, n);
}

static void on_sink(void *u, int32_t kind, const uint8_t *p, size_t n)
{
    (void)u, (void)kind, (void)p, (void)n;
    if (++st.received == st.expected) {
        uint8_t ack[8 + 2];
        make_frame(ack, 1, 2);
        dapper_ipc_send(st.m, DAPPER_IPC_KIND_EVENT, ack + 8, 2);
    }
}

static void on_ack(void *u, int32_t kind, const uint8_t *p, size_t n)
{
    (void)u, (void)kind, (void)p, (void)n;
    finish();
}

static void on_state(void *u, int32_t event, int32_t status, const char *reason)
{
    (void)u, (void)status, (void)reason;
    if (event == DAPPER_IPC_EVENT_DISCONNECTED)
        finish();
}

/* heartbeat_ms of every manager of this run (and of its children, through the
   environment): lib-hb runs the round trip with heartbeats on. */
static int32_t heartbeat_ms(void)
{
    const char *v = getenv("DAPPER_BENCH_HEARTBEAT_MS");
    return v ? (int32_t)atoi(v) : 0;
}

/* shm: DAPPER_BENCH_SHM_SPIN_US sets shm_spin_us at both ends (unset: the default). */
static int32_t shm_spin_us(void)
{
    const char *v = getenv("DAPPER_BENCH_SHM_SPIN_US");
    return v ? (int32_t)atoi(v) : 0;
}

static void lib_listen_opt(const char *transport, dapper_ipc_message_cb cb, char *args, size_t cap, size_t *len,
                           int reader)
{
    if (dapper_ipc_manager_create(&st.m) != DAPPER_IPC_OK)
        die("manager_create");
    dapper_ipc_set_callbacks(st.m, cb, on_state, NULL);
    dapper_ipc_config c;
    dapper_ipc_config_init(&c, sizeof c);
    c.transport = transport;
    c.heartbeat_ms = heartbeat_ms();
    c.shm_spin_us = shm_spin_us();
    /* A fixed port where a relay (stunnel, in run.py) forwards to the listener. */
    const char *port = getenv("DAPPER_BENCH_LISTEN_PORT");
    c.port = port ? atoi(port) : 0;
    if (dapper_ipc_create_listener(st.m, &c) != DAPPER_IPC_OK)
        die("create_listener");
    if (dapper_ipc_launcher_args(st.m, args, cap, len, NULL) != DAPPER_IPC_OK)
        die("launcher_args");
    if (reader && dapper_ipc_start_reader(st.m) != DAPPER_IPC_OK)
        die("start_reader");
}

static void lib_listen(const char *transport, dapper_ipc_message_cb cb, char *args, size_t cap, size_t *len)
{
    lib_listen_opt(transport, cb, args, cap, len, 1);
}

static pid_t spawn(char *const argv[])
{
    pid_t pid;
    if (posix_spawn(&pid, self_exe, NULL, NULL, argv, environ) != 0)
        fail("posix_spawn");
    return pid;
}

/* Starts `self child-lib <role> <expected> <launcher args...>` for the library listener. */
static pid_t spawn_lib_child(const char *role, const char *expected, char *args, size_t len)
{
    char *argv[16] = {self_exe, "child-lib", (char *)role, (char *)expected};
    int n = 4;
    for (char *a = args; a < args + len && n < 15; a += strlen(a) + 1)
        argv[n++] = a;
    argv[n] = NULL;
    return spawn(argv);
}

static void reap(pid_t child)
{
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "bench: the child did not exit cleanly (status %d)\n", status);
}

/* The child for the library: role echo|echo-wait|sink, then the launcher arguments. */
static int lib_child(const char *role, long expected, int argc, char **argv)
{
    dapper_ipc_config c;
    dapper_ipc_config_init(&c, sizeof c);
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ipc")) c.transport = argv[i + 1];
        if (!strcmp(argv[i], "--ipc-path")) c.path = argv[i + 1];
        if (!strcmp(argv[i], "--ipc-host")) c.host = argv[i + 1];
        if (!strcmp(argv[i], "--ipc-port")) c.port = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--ipc-tls-fingerprint")) c.tls_fingerprint = argv[i + 1];
    }
    /* The relay's port instead of the listener's (stunnel in front of tcp, in run.py). */
    const char *relay = getenv("DAPPER_BENCH_CONNECT_PORT");
    if (relay)
        c.port = atoi(relay);
    c.heartbeat_ms = heartbeat_ms();
    c.shm_spin_us = shm_spin_us();
    st.expected = expected;
    int wait_mode = strcmp(role, "echo-wait") == 0;
    dapper_ipc_message_cb cb = wait_mode ? on_handoff : strcmp(role, "echo") == 0 ? on_echo : on_sink;
    dapper_ipc_manager_create(&st.m);
    dapper_ipc_set_callbacks(st.m, cb, on_state, NULL);
    if (dapper_ipc_connect(st.m, &c) != DAPPER_IPC_OK)
        die("connect");
    if (strcmp(role, "echo-pull") == 0) {
        /* The pull mode: recv on this thread, reply from it, no reader thread. */
        uint8_t frame[256];
        size_t n;
        while (dapper_ipc_recv(st.m, frame, sizeof frame, &n, NULL, -1) == DAPPER_IPC_OK)
            if (dapper_ipc_send(st.m, DAPPER_IPC_KIND_EVENT, frame, n) != DAPPER_IPC_OK)
                break;
        dapper_ipc_manager_destroy(st.m);
        return 0;
    }
    if (dapper_ipc_start_reader(st.m) != DAPPER_IPC_OK)
        die("start_reader");
    if (wait_mode) {
        uint8_t frame[128];
        size_t n;
        while (take_handoff(frame, &n))
            dapper_ipc_send(st.m, DAPPER_IPC_KIND_EVENT, frame, n);
    } else {
        wait_done(); /* until the measuring side closes */
    }
    dapper_ipc_manager_destroy(st.m);
    return 0;
}

static int raw_child(const char *role, long expected, const char *transport, const char *endpoint)
{
    int fd = raw_connect(transport, endpoint);
    size_t cap = 2 * 1024 * 1024;
    uint8_t *buf = malloc(cap);
    long received = 0;
    for (;;) {
        if (!read_full(fd, buf, 8))
            break;
        size_t n = (size_t)buf[4] << 24 | (size_t)buf[5] << 16 | (size_t)buf[6] << 8 | buf[7];
        if (n + 8 > cap || !read_full(fd, buf + 8, n))
            break;
        if (strcmp(role, "flood") == 0) {
            /* A start signal arrived: send `expected` 128-byte events as fast as the
               reader takes them (batched, so the sender is never what is measured). */
            uint8_t *batch = buf + cap / 2;
            size_t one = make_frame(buf, 1, 128), per = (cap / 2) / one;
            for (size_t k = 0; k < per; k++)
                memcpy(batch + k * one, buf, one);
            for (long left = expected; left > 0;) {
                long now = left < (long)per ? left : (long)per;
                if (!write_full(fd, batch, (size_t)now * one))
                    break;
                left -= now;
            }
        } else if (strcmp(role, "echo") == 0) {
            buf[3] = 1;
            if (!write_full(fd, buf, 8 + n))
                break;
        } else if (strcmp(role, "echo2-nagle") == 0) {
            /* The real launcher: an event, then the response, two separate writes, no
               TCP_NODELAY: Nagle holds the second until the first is acknowledged. */
            buf[3] = 1;
            if (!write_full(fd, buf, 8 + n) || !write_full(fd, buf, 8 + n))
                break;
        } else if (++received == expected) {
            size_t m = make_frame(buf, 1, 2);
            write_full(fd, buf, m);
        }
    }
    free(buf);
    close(fd);
    return 0;
}

/* The sink with the library's reading strategy in plain C: one recv of up to 64 KiB,
   every complete frame in it parsed in place (a diagnostic baseline for the receive side). */
static int raw_buffered_sink(long expected, const char *transport, const char *endpoint)
{
    int fd = raw_connect(transport, endpoint);
    size_t cap = 2 * 1024 * 1024 + 64 * 1024, start = 0, end = 0;
    uint8_t *buf = malloc(cap);
    long received = 0;
    while (received < expected) {
        size_t want = end + 64 * 1024 <= cap ? 64 * 1024 : cap - end;
        ssize_t r = recv(fd, buf + end, want, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        end += (size_t)r;
        while (end - start >= 8) {
            size_t n = (size_t)buf[start + 4] << 24 | (size_t)buf[start + 5] << 16 | (size_t)buf[start + 6] << 8 |
                       buf[start + 7];
            if (end - start < 8 + n)
                break;
            start += 8 + n;
            received++;
        }
        memmove(buf, buf + start, end - start);
        end -= start, start = 0;
    }
    size_t m = make_frame(buf, 1, 2);
    write_full(fd, buf, m);
    while (read_full(fd, buf, 8)) /* until the measuring side closes */
        ;
    free(buf);
    close(fd);
    return 0;
}

/* ---- measurements ----------------------------------------------------------- */

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report_rtt(double *s, long n, const char *file)
{
    if (n <= 0)
        fail("rtt: no samples");
    if (file) {
        FILE *f = fopen(file, "ab");
        if (!f || fwrite(s, sizeof *s, (size_t)n, f) != (size_t)n)
            fail("writing samples");
        fclose(f);
    }
    qsort(s, (size_t)n, sizeof *s, cmp);
    printf("n=%ld p50_us=%.2f p90_us=%.2f p99_us=%.2f\n", n, s[n / 2], s[(long)(n * 0.90)], s[(long)(n * 0.99)]);
}

static int rtt(const char *impl, const char *transport, long iterations, double seconds, const char *file)
{
    if (strcmp(impl, "lib-hb") == 0) {
        /* The callback round trip with heartbeats every 100 ms on both ends. */
        setenv("DAPPER_BENCH_HEARTBEAT_MS", "100", 1);
        impl = "lib";
    }
    long warmup = iterations / 10 + 10, total = iterations + warmup, got = 0;
    double *samples = calloc((size_t)total, sizeof *samples);
    double deadline = now_us() + seconds * 1e6;
    if (strcmp(impl, "lib-pull") == 0 || strcmp(impl, "lib-nagle") == 0) {
        /* The request from this thread, the response awaited on it with dapper_ipc_recv
           (no reader thread on either side). lib-nagle: the peer is raw C without
           TCP_NODELAY answering with two frames written separately; both are taken. */
        int nagle = strcmp(impl, "lib-nagle") == 0;
        char args[512];
        size_t len;
        uint8_t frame[8 + 128], reply[256];
        make_frame(frame, 2, 128);
        memcpy(st.payload, frame + 8, 128);
        lib_listen_opt(transport, NULL, args, sizeof args, &len, 0);
        pid_t child;
        if (nagle) {
            char *port = args;
            for (char *a = args; a < args + len; a += strlen(a) + 1)
                port = a; /* the last argument: the port (tcp) */
            char *argv[] = {self_exe, "child-raw", "echo2-nagle", "0", (char *)transport, port, NULL};
            child = spawn(argv);
        } else {
            child = spawn_lib_child("echo-pull", "0", args, len);
        }
        if (dapper_ipc_wait_for_client(st.m, WAIT_SECONDS * 1000) != DAPPER_IPC_OK)
            die("wait_for_client");
        size_t n;
        for (got = 0; got < total; got++) {
            double t0 = now_us();
            if (t0 > deadline)
                break;
            if (dapper_ipc_send(st.m, DAPPER_IPC_KIND_COMMAND, st.payload, sizeof st.payload) != DAPPER_IPC_OK)
                die("send");
            /* -1: a blocking wait, as raw's blocking read (the watchdog bounds the run); a
               positive timeout adds a poll() before the recv. */
            if (dapper_ipc_recv(st.m, reply, sizeof reply, &n, NULL, -1) != DAPPER_IPC_OK)
                die("recv");
            if (nagle && dapper_ipc_recv(st.m, reply, sizeof reply, &n, NULL, -1) != DAPPER_IPC_OK)
                die("recv");
            samples[got] = now_us() - t0;
        }
        dapper_ipc_manager_destroy(st.m);
        reap(child);
    } else if (strncmp(impl, "lib", 3) == 0) {
        int wait_mode = strcmp(impl, "lib-wait") == 0;
        char args[512];
        size_t len;
        st.samples = samples;
        st.iterations = total;
        st.deadline = deadline;
        uint8_t frame[8 + 128];
        make_frame(frame, 2, 128); /* the library writes its own header: keep the payload */
        memcpy(st.payload, frame + 8, 128);
        lib_listen(transport, wait_mode ? on_handoff : on_rtt_reply, args, sizeof args, &len);
        pid_t child = spawn_lib_child(wait_mode ? "echo-wait" : "echo", "0", args, len);
        if (dapper_ipc_wait_for_client(st.m, WAIT_SECONDS * 1000) != DAPPER_IPC_OK)
            die("wait_for_client");
        if (wait_mode) {
            uint8_t reply[128];
            size_t n;
            for (got = 0; got < total; got++) {
                double t0 = now_us();
                if (t0 > deadline)
                    break;
                if (dapper_ipc_send(st.m, DAPPER_IPC_KIND_COMMAND, st.payload, sizeof st.payload) != DAPPER_IPC_OK)
                    die("send");
                if (!take_handoff(reply, &n))
                    fail("rtt: the peer left");
                samples[got] = now_us() - t0;
            }
        } else {
            st.t0 = now_us();
            if (dapper_ipc_send(st.m, DAPPER_IPC_KIND_COMMAND, st.payload, sizeof st.payload) != DAPPER_IPC_OK)
                die("send");
            wait_done();
            got = st.i;
        }
        dapper_ipc_manager_destroy(st.m);
        reap(child);
    } else {
        char endpoint[256];
        int listener = raw_listen(transport, endpoint, sizeof endpoint);
        char *argv[] = {self_exe, "child-raw", "echo", "0", (char *)transport, endpoint, NULL};
        pid_t child = spawn(argv);
        int fd = raw_accept(listener, transport);
        uint8_t frame[8 + 128], reply[8 + 128];
        size_t n = make_frame(frame, 2, 128);
        for (got = 0; got < total; got++) {
            double t0 = now_us();
            if (t0 > deadline)
                break;
            if (!write_full(fd, frame, n) || !read_full(fd, reply, 8) || !read_full(fd, reply + 8, 128))
                fail("rtt: the peer left");
            samples[got] = now_us() - t0;
        }
        close(fd);
        raw_unlisten(listener, transport, endpoint);
        reap(child);
    }
    long kept = got - warmup;
    if (kept < 1) /* ran out of time during warm-up: keep what there is */
        warmup = 0, kept = got;
    report_rtt(samples + warmup, kept, file);
    free(samples);
    return 0;
}

static int tput(const char *impl, const char *transport, size_t payload, long count)
{
    uint8_t *frame = malloc(8 + payload);
    size_t n = make_frame(frame, 2, payload);
    char count_text[32];
    snprintf(count_text, sizeof count_text, "%ld", count);
    double elapsed;
    if (strncmp(impl, "lib", 3) == 0) {
        char args[512];
        size_t len;
        lib_listen(transport, on_ack, args, sizeof args, &len);
        pid_t child = spawn_lib_child("sink", count_text, args, len);
        if (dapper_ipc_wait_for_client(st.m, WAIT_SECONDS * 1000) != DAPPER_IPC_OK)
            die("wait_for_client");
        enum { PER_BATCH = 64 };
        dapper_ipc_frame batch[PER_BATCH];
        for (int i = 0; i < PER_BATCH; i++)
            batch[i] = (dapper_ipc_frame){.payload = frame + 8, .length = payload, .kind = DAPPER_IPC_KIND_COMMAND};
        int batched = strcmp(impl, "lib-batch") == 0;
        double t0 = now_us();
        for (long i = 0; i < count;) {
            if (batched) {
                size_t k = count - i < PER_BATCH ? (size_t)(count - i) : PER_BATCH;
                if (dapper_ipc_send_batch(st.m, batch, k, NULL) != DAPPER_IPC_OK)
                    die("send_batch");
                i += (long)k;
            } else {
                if (dapper_ipc_send(st.m, DAPPER_IPC_KIND_COMMAND, frame + 8, payload) != DAPPER_IPC_OK)
                    die("send");
                i++;
            }
        }
        wait_done();
        elapsed = now_us() - t0;
        dapper_ipc_manager_destroy(st.m);
        reap(child);
    } else {
        char endpoint[256];
        int listener = raw_listen(transport, endpoint, sizeof endpoint);
        char *role = strcmp(impl, "raw-bufread") == 0 ? "sink-buffered" : "sink";
        char *argv[] = {self_exe, "child-raw", role, count_text, (char *)transport, endpoint, NULL};
        pid_t child = spawn(argv);
        int fd = raw_accept(listener, transport);
        double t0 = now_us();
        for (long i = 0; i < count; i++)
            if (!write_full(fd, frame, n)) /* one write per frame */
                fail("tput: the peer left");
        uint8_t ack[16];
        if (!read_full(fd, ack, 10))
            fail("tput: no acknowledgement");
        elapsed = now_us() - t0;
        close(fd);
        raw_unlisten(listener, transport, endpoint);
        reap(child);
    }
    free(frame);
    double seconds = elapsed / 1e6;
    printf("MBps=%.1f frames_per_s=%.0f\n", (double)payload * (double)count / seconds / 1e6, (double)count / seconds);
    return 0;
}

/* Handshake: from connect to the end of the first 128-byte round trip, both ends in this
   process (the listener made, and its reader started, before the clock starts: for tls the
   certificate is made then). Prints p50_us= and p99_us= over `runs` fresh connections. */
static void on_handshake_echo(void *user, int32_t kind, const uint8_t *p, size_t n)
{
    (void)kind;
    dapper_ipc_send(*(dapper_ipc_manager *)user, DAPPER_IPC_KIND_EVENT, p, n);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int handshake(const char *transport, long runs)
{
    double *samples = calloc((size_t)runs, sizeof *samples);
    for (long i = 0; i < runs; i++) {
        static dapper_ipc_manager server;
        dapper_ipc_manager client;
        dapper_ipc_config c;
        char args[1024];
        const char *argv[16];
        size_t len;
        int argc = 0;
        if (dapper_ipc_manager_create(&server) != DAPPER_IPC_OK || dapper_ipc_manager_create(&client) != DAPPER_IPC_OK)
            die("manager_create");
        dapper_ipc_set_callbacks(server, on_handshake_echo, NULL, &server);
        dapper_ipc_config_init(&c, sizeof c);
        c.transport = transport;
        if (dapper_ipc_create_listener(server, &c) != DAPPER_IPC_OK)
            die("create_listener");
        if (dapper_ipc_launcher_args(server, args, sizeof args, &len, NULL) != DAPPER_IPC_OK)
            die("launcher_args");
        for (char *a = args; a < args + len && argc < 16; a += strlen(a) + 1)
            argv[argc++] = a;
        if (dapper_ipc_start_reader(server) != DAPPER_IPC_OK)
            die("start_reader");
        uint8_t payload[128] = {0}, reply[256];
        size_t n;
        double t0 = now_us();
        if (dapper_ipc_connect_argv(client, argc, argv) != DAPPER_IPC_OK)
            die("connect_argv");
        if (dapper_ipc_send(client, DAPPER_IPC_KIND_COMMAND, payload, sizeof payload) != DAPPER_IPC_OK)
            die("send");
        if (dapper_ipc_recv(client, reply, sizeof reply, &n, NULL, WAIT_SECONDS * 1000) != DAPPER_IPC_OK)
            die("recv");
        samples[i] = now_us() - t0;
        dapper_ipc_manager_destroy(client);
        dapper_ipc_manager_destroy(server);
    }
    qsort(samples, (size_t)runs, sizeof *samples, compare_doubles);
    printf("p50_us=%.1f p99_us=%.1f\n", samples[runs / 2], samples[runs * 99 / 100]);
    free(samples);
    return 0;
}

/* Receive rate: the raw C flood child writes `count` 128-byte frames in large batches; this
   side takes them one by one (lib: the message callback; raw: read(8) + read(n)). */
static void on_count(void *u, int32_t kind, const uint8_t *p, size_t n)
{
    (void)u, (void)kind, (void)p, (void)n;
    if (++st.received == st.expected)
        finish();
}

static int recv_rate(const char *impl, const char *transport, long count)
{
    char count_text[32];
    snprintf(count_text, sizeof count_text, "%ld", count);
    uint8_t go[8 + 2];
    make_frame(go, 2, 2);
    double elapsed;
    if (strcmp(impl, "lib") == 0) {
        char args[512];
        size_t len;
        st.expected = count;
        lib_listen(transport, on_count, args, sizeof args, &len);
        /* the flood child is raw C: hand it the path or port, the last launcher argument */
        char *endpoint = args;
        for (char *a = args; a < args + len; a += strlen(a) + 1)
            endpoint = a;
        char *argv[] = {self_exe, "child-raw", "flood", count_text, (char *)transport, endpoint, NULL};
        pid_t child = spawn(argv);
        if (dapper_ipc_wait_for_client(st.m, WAIT_SECONDS * 1000) != DAPPER_IPC_OK)
            die("wait_for_client");
        double t0 = now_us();
        if (dapper_ipc_send(st.m, DAPPER_IPC_KIND_COMMAND, go + 8, 2) != DAPPER_IPC_OK)
            die("send");
        wait_done();
        elapsed = now_us() - t0;
        dapper_ipc_manager_destroy(st.m);
        reap(child);
    } else {
        char endpoint[256];
        int listener = raw_listen(transport, endpoint, sizeof endpoint);
        char *argv[] = {self_exe, "child-raw", "flood", count_text, (char *)transport, endpoint, NULL};
        pid_t child = spawn(argv);
        int fd = raw_accept(listener, transport);
        uint8_t buf[8 + 65536];
        double t0 = now_us();
        if (!write_full(fd, go, sizeof go))
            fail("recv: the peer left");
        for (long i = 0; i < count; i++) {
            if (!read_full(fd, buf, 8))
                fail("recv: the peer left");
            size_t n = (size_t)buf[6] << 8 | buf[7];
            if (!read_full(fd, buf + 8, n))
                fail("recv: the peer left");
        }
        elapsed = now_us() - t0;
        close(fd);
        raw_unlisten(listener, transport, endpoint);
        reap(child);
    }
    printf("msgs_per_s=%.0f\n", (double)count / (elapsed / 1e6));
    return 0;
}

/* detect: a peer of the library with heartbeats is frozen (SIGSTOP) once heartbeats
   flow; the time until the host's DISCONNECTED, per run, in ms. */
static int detect(const char *transport, int32_t hb, int runs)
{
    char text[16];
    snprintf(text, sizeof text, "%d", (int)hb);
    setenv("DAPPER_BENCH_HEARTBEAT_MS", text, 1);
    double worst = 0, sum = 0;
    for (int r = 0; r < runs; r++) {
        char args[512];
        size_t len;
        st.done = 0;
        lib_listen(transport, on_echo, args, sizeof args, &len);
        pid_t child = spawn_lib_child("echo", "0", args, len);
        if (dapper_ipc_wait_for_client(st.m, WAIT_SECONDS * 1000) != DAPPER_IPC_OK)
            die("wait_for_client");
        dapper_ipc_stats s = {.struct_size = sizeof s};
        double until = now_us() + WAIT_SECONDS * 1e6;
        while (dapper_ipc_get_stats(st.m, &s) == DAPPER_IPC_OK && s.heartbeat_rtt_us < 0 && now_us() < until)
            usleep(1000);
        usleep((useconds_t)(r * 37 % hb) * 1000); /* freeze at varying points of the period */
        double t0 = now_us();
        kill(child, SIGSTOP);
        wait_done();
        double took = (now_us() - t0) / 1000;
        worst = took > worst ? took : worst;
        sum += took;
        kill(child, SIGKILL);
        kill(child, SIGCONT);
        waitpid(child, NULL, 0);
        dapper_ipc_manager_destroy(st.m);
    }
    printf("detect_mean_ms=%.1f detect_max_ms=%.1f bound_ms=%d runs=%d\n", sum / runs, worst, 3 * (int)hb + 100, runs);
    return 0;
}

int main(int argc, char **argv)
{
    ssize_t r = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (r > 0)
        self_exe[r] = 0;
    alarm(WATCHDOG_SECONDS);
    if (argc >= 2 && strncmp(argv[1], "child-", 6) == 0)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (argc >= 4 && strcmp(argv[1], "child-lib") == 0)
        return lib_child(argv[2], atol(argv[3]), argc - 4, argv + 4);
    if (argc >= 6 && strcmp(argv[1], "child-raw") == 0 && strcmp(argv[2], "sink-buffered") == 0)
        return raw_buffered_sink(atol(argv[3]), argv[4], argv[5]);
    if (argc >= 6 && strcmp(argv[1], "child-raw") == 0 && strcmp(argv[2], "echo2-nagle") == 0)
        raw_nodelay = 0;
    if (argc >= 6 && strcmp(argv[1], "child-raw") == 0)
        return raw_child(argv[2], atol(argv[3]), argv[4], argv[5]);
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "rtt") == 0)
        return rtt(argv[2], argv[3], atol(argv[4]), atof(argv[5]), argc == 7 ? argv[6] : NULL);
    if (argc == 5 && strcmp(argv[1], "detect") == 0)
        return detect(argv[2], (int32_t)atoi(argv[3]), atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "recv") == 0)
        return recv_rate(argv[2], argv[3], atol(argv[4]));
    if (argc == 6 && strcmp(argv[1], "tput") == 0)
        return tput(argv[2], argv[3], (size_t)atol(argv[4]), atol(argv[5]));
    if (argc == 4 && strcmp(argv[1], "handshake") == 0)
        return handshake(argv[2], atol(argv[3]));
    fprintf(stderr, "usage: bench rtt <lib|lib-hb|lib-wait|lib-pull|lib-nagle|raw> <unix|tcp> <n> <max-seconds> [samples-file]\n"
                    "       bench detect <unix|tcp> <heartbeat-ms> <runs>\n"
                    "       bench tput <lib|lib-batch|raw|raw-bufread> <unix|tcp> <payload-bytes> <count>\n"
                    "       bench recv <lib|raw> <unix|tcp> <count>\n"
                    "       bench handshake <tcp|tls|...> <runs>\n");
    return 2;
}
