/*
 * Library against raw sockets, same framing, same machine, one run.
 *
 *   bench rtt  <lib|raw> <unix|tcp> <iterations>        round trips of 128-byte frames: p50 p99 (µs)
 *   bench tput <lib|raw> <unix|tcp> <payload> <count>   one direction, back to back: MB/s frames/s
 *
 * The measuring process listens; the peer is this program started again (echo or sink
 * role), so both sides of each pair use the same implementation. Library round trips are
 * driven from the message callback (the reply to a reply is sent from the callback), so
 * no thread hop is measured that a host would not have: the documented fastest pattern.
 * Raw: blocking read(8) + read(n) + one write per frame, like the launcher.
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
static char self_exe[4096];

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void die(const char *what)
{
    char message[256] = "";
    dapper_ipc_last_error(message, sizeof message, NULL);
    fprintf(stderr, "bench: %s failed %s\n", what, message);
    exit(1);
}

static size_t make_frame(uint8_t *out, uint8_t kind, size_t length)
{
    out[0] = 'D', out[1] = 'P', out[2] = 1, out[3] = kind;
    out[4] = (uint8_t)(length >> 24), out[5] = (uint8_t)(length >> 16), out[6] = (uint8_t)(length >> 8),
    out[7] = (uint8_t)length;
    /* 128 bytes of JSON-looking payload */
    memset(out + 8, ' ', length);
    if (length >= 2)
        out[8] = '{', out[8 + length - 1] = '}';
    return 8 + length;
}

/* ---- raw sockets ---------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return 0;
        p += r, n -= (size_t)r;
    }
    return 1;
}

static void write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            exit(2);
        p += w, n -= (size_t)w;
    }
}

static int raw_listen(const char *transport, char *endpoint, size_t cap)
{
    int fd;
    if (strcmp(transport, "unix") == 0) {
        char dir[] = "/tmp/dapper-bench-XXXXXX";
        mkdtemp(dir);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(endpoint, cap, "%s/raw.sock", dir);
        memcpy(a.sun_path, endpoint, strlen(endpoint) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        bind(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        fd = socket(AF_INET, SOCK_STREAM, 0);
        bind(fd, (struct sockaddr *)&a, sizeof a);
        getsockname(fd, (struct sockaddr *)&a, &len);
        snprintf(endpoint, cap, "%d", ntohs(a.sin_port));
    }
    listen(fd, 1);
    return fd;
}

static int raw_connect(const char *transport, const char *endpoint)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd;
        int rc;
        if (strcmp(transport, "unix") == 0) {
            struct sockaddr_un a = {.sun_family = AF_UNIX};
            memcpy(a.sun_path, endpoint, strlen(endpoint) + 1);
            fd = socket(AF_UNIX, SOCK_STREAM, 0);
            rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        } else {
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(endpoint)),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            fd = socket(AF_INET, SOCK_STREAM, 0);
            rc = connect(fd, (struct sockaddr *)&a, sizeof a);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (rc == 0)
            return fd;
        close(fd);
        usleep(20000);
    }
    exit(3);
}

static int raw_accept(int listener, const char *transport)
{
    int fd = accept(listener, NULL, NULL);
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
    pthread_cond_t done_cond;
    int done;
    /* rtt */
    double *samples;
    long iterations, i;
    double t0;
    uint8_t payload[128];
    /* tput */
    long expected, received;
};

static struct lib_state st = {.lock = PTHREAD_MUTEX_INITIALIZER, .done_cond = PTHREAD_COND_INITIALIZER};

static void finish(void)
{
    pthread_mutex_lock(&st.lock);
    st.done = 1;
    pthread_cond_signal(&st.done_cond);
    pthread_mutex_unlock(&st.lock);
}

static void wait_done(void)
{
    pthread_mutex_lock(&st.lock);
    while (!st.done)
        pthread_cond_wait(&st.done_cond, &st.lock);
    pthread_mutex_unlock(&st.lock);
}

static void on_rtt_reply(void *u, int32_t kind, const uint8_t *p, size_t n)
{
    (void)u, (void)kind, (void)p, (void)n;
    double t = now_us();
    st.samples[st.i++] = t - st.t0;
    if (st.i == st.iterations) {
        finish();
        return;
    }
    st.t0 = now_us();
    dapper_ipc_send(st.m, DAPPER_IPC_KIND_COMMAND, st.payload, sizeof st.payload);
}

static void on_echo(void *u, int32_t kind, const uint8_t *p, size_t n)
{
    (void)u, (void)kind;
    dapper_ipc_send(st.m, DAPPER_IPC_KIND_EVENT, p, n);
}

static void on_sink(void *u, int32_t kind, const uint8_t *p, size_t n)
{
    (void)u, (void)kind, (void)p, (void)n;
    if (++st.received == st.expected)
        dapper_ipc_send(st.m, DAPPER_IPC_KIND_EVENT, "{}", 2);
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

static void lib_listen(const char *transport, dapper_ipc_message_cb cb, char *args, size_t cap, size_t *len)
{
    dapper_ipc_manager_create(&st.m);
    dapper_ipc_set_callbacks(st.m, cb, on_state, NULL);
    dapper_ipc_config c;
    dapper_ipc_config_init(&c, sizeof c);
    c.transport = transport;
    if (dapper_ipc_create_listener(st.m, &c) != DAPPER_IPC_OK)
        die("create_listener");
    dapper_ipc_launcher_args(st.m, args, cap, len, NULL);
    dapper_ipc_start_reader(st.m);
}

static pid_t spawn(char *const argv[])
{
    pid_t pid;
    if (posix_spawn(&pid, self_exe, NULL, NULL, argv, environ) != 0)
        exit(4);
    return pid;
}

/* The child for the library: role echo|sink, then the launcher arguments. */
static int lib_child(const char *role, long expected, int argc, char **argv)
{
    dapper_ipc_config c;
    dapper_ipc_config_init(&c, sizeof c);
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ipc")) c.transport = argv[i + 1];
        if (!strcmp(argv[i], "--ipc-path")) c.path = argv[i + 1];
        if (!strcmp(argv[i], "--ipc-host")) c.host = argv[i + 1];
        if (!strcmp(argv[i], "--ipc-port")) c.port = atoi(argv[i + 1]);
    }
    st.expected = expected;
    dapper_ipc_manager_create(&st.m);
    dapper_ipc_set_callbacks(st.m, strcmp(role, "echo") == 0 ? on_echo : on_sink, on_state, NULL);
    if (dapper_ipc_connect(st.m, &c) != DAPPER_IPC_OK)
        die("connect");
    dapper_ipc_start_reader(st.m);
    wait_done(); /* until the measuring side closes */
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
        if (!read_full(fd, buf + 8, n))
            break;
        if (strcmp(role, "flood") == 0) {
            /* a start signal arrived: send `expected` 128-byte events back to back, batched */
            size_t one = make_frame(buf, 1, 128), filled = 0;
            for (long i = 0; i < expected; i++) {
                if (filled + one > cap) {
                    write_full(fd, buf + cap / 2, filled);
                    filled = 0;
                }
                if (filled == 0)
                    memcpy(buf + cap / 2, buf, one);
                else
                    memcpy(buf + cap / 2 + filled, buf, one);
                filled += one;
                if (filled + one > cap / 2) {
                    write_full(fd, buf + cap / 2, filled);
                    filled = 0;
                }
            }
            if (filled)
                write_full(fd, buf + cap / 2, filled);
        } else if (strcmp(role, "echo") == 0) {
            buf[3] = 1;
            write_full(fd, buf, 8 + n);
        } else if (++received == expected) {
            size_t m = make_frame(buf, 1, 2);
            write_full(fd, buf, m);
        }
    }
    return 0;
}

/* ---- measurements ----------------------------------------------------------- */

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report_rtt(double *s, long n)
{
    qsort(s, (size_t)n, sizeof *s, cmp);
    printf("p50_us=%.2f p99_us=%.2f\n", s[n / 2], s[(long)(n * 0.99)]);
}

static int rtt(const char *impl, const char *transport, long iterations)
{
    double *samples = calloc((size_t)iterations, sizeof *samples);
    long warmup = iterations / 10 + 10;
    if (strcmp(impl, "lib") == 0) {
        char args[512];
        size_t len;
        st.samples = calloc((size_t)(iterations + warmup), sizeof *samples);
        st.iterations = iterations + warmup;
        memset(st.payload, ' ', sizeof st.payload);
        st.payload[0] = '{', st.payload[127] = '}';
        lib_listen(transport, on_rtt_reply, args, sizeof args, &len);
        char *argv[16] = {self_exe, "child-lib", "echo", "0"};
        int n = 4;
        for (char *a = args; a < args + len; a += strlen(a) + 1)
            argv[n++] = a;
        argv[n] = NULL;
        pid_t child = spawn(argv);
        dapper_ipc_wait_for_client(st.m, 10000);
        st.t0 = now_us();
        dapper_ipc_send(st.m, DAPPER_IPC_KIND_COMMAND, st.payload, sizeof st.payload);
        wait_done();
        dapper_ipc_manager_destroy(st.m);
        waitpid(child, NULL, 0);
        memcpy(samples, st.samples + warmup, (size_t)iterations * sizeof *samples);
    } else {
        char endpoint[256];
        int listener = raw_listen(transport, endpoint, sizeof endpoint);
        char *argv[] = {self_exe, "child-raw", "echo", "0", (char *)transport, endpoint, NULL};
        pid_t child = spawn(argv);
        int fd = raw_accept(listener, transport);
        uint8_t frame[8 + 128], reply[8 + 128];
        size_t n = make_frame(frame, 2, 128);
        for (long i = 0; i < iterations + warmup; i++) {
            double t0 = now_us();
            write_full(fd, frame, n);
            read_full(fd, reply, 8);
            read_full(fd, reply + 8, 128);
            if (i >= warmup)
                samples[i - warmup] = now_us() - t0;
        }
        close(fd);
        close(listener);
        waitpid(child, NULL, 0);
        if (strcmp(transport, "unix") == 0) {
            unlink(endpoint);
            *strrchr(endpoint, '/') = 0;
            rmdir(endpoint);
        }
    }
    report_rtt(samples, iterations);
    return 0;
}

static int tput(const char *impl, const char *transport, size_t payload, long count)
{
    uint8_t *frame = malloc(8 + payload);
    size_t n = make_frame(frame, 2, payload);
    char count_text[32];
    snprintf(count_text, sizeof count_text, "%ld", count);
    double elapsed;
    if (strcmp(impl, "lib") == 0) {
        char args[512];
        size_t len;
        lib_listen(transport, on_ack, args, sizeof args, &len);
        char *argv[16] = {self_exe, "child-lib", "sink", count_text};
        int k = 4;
        for (char *a = args; a < args + len; a += strlen(a) + 1)
            argv[k++] = a;
        argv[k] = NULL;
        pid_t child = spawn(argv);
        dapper_ipc_wait_for_client(st.m, 10000);
        double t0 = now_us();
        for (long i = 0; i < count; i++)
            if (dapper_ipc_send(st.m, DAPPER_IPC_KIND_COMMAND, frame + 8, payload) != DAPPER_IPC_OK)
                die("send");
        wait_done();
        elapsed = now_us() - t0;
        dapper_ipc_manager_destroy(st.m);
        waitpid(child, NULL, 0);
    } else {
        char endpoint[256];
        int listener = raw_listen(transport, endpoint, sizeof endpoint);
        char *argv[] = {self_exe, "child-raw", "sink", count_text, (char *)transport, endpoint, NULL};
        pid_t child = spawn(argv);
        int fd = raw_accept(listener, transport);
        double t0 = now_us();
        for (long i = 0; i < count; i++)
            write_full(fd, frame, n); /* one write per frame */
        uint8_t ack[16];
        read_full(fd, ack, 10);
        elapsed = now_us() - t0;
        close(fd);
        close(listener);
        waitpid(child, NULL, 0);
        if (strcmp(transport, "unix") == 0) {
            unlink(endpoint);
            *strrchr(endpoint, '/') = 0;
            rmdir(endpoint);
        }
    }
    double seconds = elapsed / 1e6;
    printf("MBps=%.1f frames_per_s=%.0f\n", (double)payload * (double)count / seconds / 1e6, (double)count / seconds);
    return 0;
}

int main(int argc, char **argv)
{
    ssize_t r = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (r > 0)
        self_exe[r] = 0;
    if (argc >= 4 && strcmp(argv[1], "child-lib") == 0)
        return lib_child(argv[2], atol(argv[3]), argc - 4, argv + 4);
    if (argc >= 6 && strcmp(argv[1], "child-raw") == 0)
        return raw_child(argv[2], atol(argv[3]), argv[4], argv[5]);
    if (argc == 5 && strcmp(argv[1], "rtt") == 0)
        return rtt(argv[2], argv[3], atol(argv[4]));
    if (argc == 6 && strcmp(argv[1], "tput") == 0)
        return tput(argv[2], argv[3], (size_t)atol(argv[4]), atol(argv[5]));
    fprintf(stderr, "usage: bench rtt <lib|raw> <unix|tcp> <n> | bench tput <lib|raw> <unix|tcp> <payload> <count>\n");
    return 2;
}
