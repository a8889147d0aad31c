/*
 * The library's promises under bad input, faults, load and hostile peers,
 * checked through the C ABI with real processes and real sockets.
 *
 *   hardening <test>        runs one test (CTest registers each one)
 *   hardening peer-* ...    a peer process: raw sockets only, it never calls
 *                           into the library, so its runtime never starts
 *
 * Exit 0: passed; 1: failed; 77: skipped (with the reason printed).
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>




/* ---- an event recorder the reader thread fills ---------------------------- */

struct recorder {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int messages;
    size_t bytes;
    int empty_payloads;
    int disconnected;
    int32_t status;
    char reason[512];
    int bad_payloads; /* payloads that do not match what the peer was told to send */
};

static void recorder_init(struct recorder *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
}

static void on_message(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    struct recorder *r = user;
    (void)kind;
    pthread_mutex_lock(&r->lock);
    r->messages++;
    r->bytes += length;
    if (length == 0)
        r->empty_payloads++;
    if (payload == NULL)
        r->bad_payloads++;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

static void on_state(void *user, int32_t event, int32_t status, const char *reason)
{
    struct recorder *r = user;
    if (event != DAPPER_IPC_EVENT_DISCONNECTED)
        return;
    pthread_mutex_lock(&r->lock);
    r->disconnected = 1;
    r->status = status;
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&r->lock);
}

static int wait_until(struct recorder *r, int messages, int disconnected)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECONDS;
    int ok = 1;
    pthread_mutex_lock(&r->lock);
    while (r->messages < messages || (disconnected && !r->disconnected)) {
        if (pthread_cond_timedwait(&r->changed, &r->lock, &deadline) == ETIMEDOUT) {
            ok = 0;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

/* ---- threads blocked in the kernel ------------------------------------------ */

/* A thread's id for wait_in_syscall: the kernel tid on Linux (read from /proc), the
   64-bit thread id of pthread_threadid_np on macOS (what proc_pidinfo takes). */
#if defined(__linux__)
#include <sys/syscall.h>
typedef pid_t thread_ref;
static thread_ref current_thread_ref(void) { return (thread_ref)syscall(SYS_gettid); }
#elif defined(__APPLE__)
#include <libproc.h>
#include <mach/mach.h>
typedef uint64_t thread_ref;
static thread_ref current_thread_ref(void)
{
    uint64_t id = 0;
    pthread_threadid_np(pthread_self(), &id);
    return id;
}
#endif

#if defined(__linux__)
/* Waits until thread `tid` is inside system call `nr` (as /proc reports it), so a test
   acts on a thread that is really blocked there rather than guessing with a sleep. */
static int wait_in_syscall(thread_ref tid, long nr, long nr2)
{
    char path[64], text[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    for (int i = 0; i < WAIT_SECONDS * 1000; i++) {
        FILE *f = fopen(path, "r");
        long current = -2;
        if (f != NULL && fgets(text, sizeof text, f) != NULL)
            current = strtol(text, NULL, 10);
        if (f != NULL)
            fclose(f);
        if (current == nr || current == nr2)
            return 1;
        usleep(1000); /* re-read the kernel's report; it changes only when the thread moves */
    }
    return 0;
}

#if defined(__x86_64__)
#define NR_SENDMSG 46
#define NR_POLL 7
#define NR_PPOLL 271
#elif defined(__aarch64__)
#define NR_SENDMSG 211
#define NR_POLL -100
#define NR_PPOLL 73
#endif
#elif defined(__APPLE__)
/* macOS has no /proc and does not say which system call a thread is in; proc_pidinfo does
   say whether the thread is running or waiting. The thread counts as blocked once it has
   been reported waiting (TH_STATE_WAITING) for 100 consecutive 1 ms samples: weaker than
   Linux's check (it cannot tell sendmsg from poll, or from a lock), but an observation of
   the thread, not a sleep. */
static int wait_in_syscall(thread_ref thread, long nr, long nr2)
{
    (void)nr;
    (void)nr2;
    int waiting = 0;
    for (int i = 0; i < WAIT_SECONDS * 1000; i++) {
        struct proc_threadinfo info;
        if (proc_pidinfo(getpid(), PROC_PIDTHREADID64INFO, thread, &info, (int)sizeof info) != (int)sizeof info)
            return 0;
        waiting = info.pth_run_state == TH_STATE_WAITING ? waiting + 1 : 0;
        if (waiting >= 100)
            return 1;
        usleep(1000);
    }
    return 0;
}

/* Not used on macOS: wait_in_syscall there sees only "waiting", not which call. */
#define NR_SENDMSG 0
#define NR_POLL 0
#define NR_PPOLL 0
#else
#error "wait_in_syscall: no way to observe a blocked thread on this OS (Linux and macOS are supported)"
#endif

/* ---- processes ------------------------------------------------------------ */

/* A pipe whose ends are closed on exec (pipe2 is Linux's; macOS has pipe and fcntl). */
static int cloexec_pipe(int fds[2])
{
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC);
#else
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}


static pid_t spawn_peer(const char *mode, const char *a1, const char *a2)
{
    char *argv[] = {self_exe, (char *)mode, (char *)a1, (char *)a2, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, self_exe, NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "posix_spawn: %s\n", strerror(rc));
        exit(1);
    }
    return pid;
}

static int wait_child(pid_t pid)
{
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

/* A unix listener with a recorder, its reader running. Returns the socket path. */
static const char *listen_unix(dapper_ipc_manager *m, struct recorder *r, uint32_t max_frame)
{
    static char path[256];
    recorder_init(r);
    dapper_ipc_manager_create(m);
    dapper_ipc_set_callbacks(*m, on_message, on_state, r);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.max_frame_size = max_frame;
    if (dapper_ipc_create_listener(*m, &config) != DAPPER_IPC_OK) {
        fprintf(stderr, "create_listener: %s\n", last_error());
        exit(1);
    }
    char args[512];
    size_t length;
    dapper_ipc_launcher_args(*m, args, sizeof args, &length, NULL);
    const char *p = args;
    for (int i = 0; i < 3; i++)
        p += strlen(p) + 1;
    snprintf(path, sizeof path, "%s", p);
    dapper_ipc_start_reader(*m);
    return path;
}

/* ---- peers (raw sockets, no library calls) --------------------------------- */

static int raw_connect(const char *path)
{
    for (int attempt = 0; attempt < 60; attempt++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof addr.sun_path)
            _exit(3);
        memcpy(addr.sun_path, path, strlen(path) + 1);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
            return fd;
        close(fd);
        usleep(50 * 1000); /* the launcher's own retry policy */
    }
    _exit(2);
}

#ifndef MSG_NOSIGNAL /* older macOS SDKs: SO_NOSIGPIPE on the socket instead */
#define MSG_NOSIGNAL 0
#endif

static void put_all(int fd, const void *data, size_t length)
{
    const char *p = data;
#ifdef SO_NOSIGPIPE
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    while (length > 0) {
        ssize_t n = send(fd, p, length, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        p += n;
        length -= (size_t)n;
    }
}

static size_t frame(uint8_t *out, uint8_t kind, const void *payload, uint32_t length)
{
    out[0] = 'D';
    out[1] = 'P';
    out[2] = 1;
    out[3] = kind;
    out[4] = (uint8_t)(length >> 24);
    out[5] = (uint8_t)(length >> 16);
    out[6] = (uint8_t)(length >> 8);
    out[7] = (uint8_t)length;
    memcpy(out + 8, payload, length);
    return 8 + (size_t)length;
}

static int peer_bad(const char *which, const char *path)
{
    int fd = raw_connect(path);
    uint8_t buf[1 << 16];
    static const char json[] = "{\"event\": \"output\"}";
    size_t n = frame(buf, 1, json, sizeof json - 1);

    if (strcmp(which, "random") == 0) {
        srand(12345);
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (uint8_t)rand();
        buf[0] = 'X'; /* never a valid magic by chance */
        put_all(fd, buf, sizeof buf);
    } else if (strcmp(which, "magic") == 0) {
        buf[0] = 'Q';
        put_all(fd, buf, n);
    } else if (strcmp(which, "version") == 0) {
        buf[2] = 2;
        put_all(fd, buf, n);
    } else if (strncmp(which, "header", 6) == 0) {
        put_all(fd, buf, (size_t)atoi(which + 6));
    } else if (strcmp(which, "payload-cut") == 0) {
        put_all(fd, buf, n - 3);
    } else if (strcmp(which, "oversized") == 0) {
        memset(buf + 4, 0xff, 4);
        put_all(fd, buf, 8);
    } else if (strcmp(which, "zero") == 0) {
        n = frame(buf, 1, "", 0);
        put_all(fd, buf, n);
    } else if (strcmp(which, "dribble") == 0) {
        for (size_t i = 0; i < n; i++) {
            put_all(fd, buf + i, 1);
            usleep(2000);
        }
    } else if (strcmp(which, "burst") == 0) {
        size_t one = n, total = 0;
        for (int i = 0; i < 5000; i++) {
            if (total + one > sizeof buf) {
                put_all(fd, buf + one, total); /* frames from offset one on */
                total = 0;
            }
            total += frame(buf + one + total, 1, json, sizeof json - 1);
        }
        put_all(fd, buf + one, total);
    } else if (strcmp(which, "not-json") == 0) {
        static const uint8_t garbage[] = {0xff, 0xfe, 0x00, '{', 0x80};
        size_t m = frame(buf, 1, garbage, sizeof garbage);
        m += frame(buf + m, 1, json, sizeof json - 1);
        put_all(fd, buf, m);
    } else if (strcmp(which, "hang-mid-frame") == 0) {
        put_all(fd, buf, n - 5);
        printf("sent\n"); /* the test kills only once the partial frame is out */
        fflush(stdout);
        pause(); /* until SIGKILL */
    } else if (strcmp(which, "never-read") == 0) {
        pause();
    }
    close(fd);
    return 0;
}

/* Random and mutated valid frames; prints how many inputs it sent. */
static int peer_fuzz(const char *seed_text, const char *path)
{
    unsigned seed = (unsigned)strtoul(seed_text, NULL, 10);
    srand(seed);
    int fd = raw_connect(path);
    uint8_t buf[4096];
    int inputs = 0;
    int frames = 1 + rand() % 64;
    for (int i = 0; i < frames; i++) {
        uint32_t length = (uint32_t)(rand() % 512);
        uint8_t payload[512];
        for (uint32_t j = 0; j < length; j++)
            payload[j] = (uint8_t)(rand() % 4 == 0 ? rand() : "{\"event\": 1}"[j % 12]);
        size_t n = frame(buf, (uint8_t)(1 + rand() % 2), payload, length);
        switch (rand() % 10) {
        case 0: buf[rand() % 8] ^= (uint8_t)(1 + rand() % 255); break; /* flip a header byte */
        case 1: n = (size_t)(rand() % (int)n); break;                 /* cut the frame short */
        case 2: for (size_t j = 0; j < n; j++) buf[j] = (uint8_t)rand(); break; /* noise */
        default: break;                                               /* a valid frame */
        }
        /* Sometimes split the write, sometimes all at once. */
        size_t first = rand() % 2 ? n : (size_t)(rand() % ((int)n + 1));
        put_all(fd, buf, first);
        put_all(fd, buf + first, n - first);
        inputs++;
    }
    close(fd);
    return inputs > 255 ? 255 : inputs;
}

/* ---- tests ---------------------------------------------------------------- */

struct expectation {
    const char *peer;
    int32_t status;
    int messages;
};

static int test_bad_input(void)
{
    static const struct expectation cases[] = {
        {"random", DAPPER_IPC_E_PROTOCOL, 0},    {"magic", DAPPER_IPC_E_PROTOCOL, 0},
        {"version", DAPPER_IPC_E_PROTOCOL, 0},   {"header1", DAPPER_IPC_E_CLOSED, 0},
        {"header2", DAPPER_IPC_E_CLOSED, 0},     {"header3", DAPPER_IPC_E_CLOSED, 0},
        {"header4", DAPPER_IPC_E_CLOSED, 0},     {"header5", DAPPER_IPC_E_CLOSED, 0},
        {"header6", DAPPER_IPC_E_CLOSED, 0},     {"header7", DAPPER_IPC_E_CLOSED, 0},
        {"payload-cut", DAPPER_IPC_E_CLOSED, 0}, {"oversized", DAPPER_IPC_E_FRAME_TOO_LARGE, 0},
        {"zero", DAPPER_IPC_OK, 1},              {"dribble", DAPPER_IPC_OK, 1},
        {"burst", DAPPER_IPC_OK, 5000},          {"not-json", DAPPER_IPC_OK, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dapper_ipc_manager m;
        struct recorder r;
        const char *path = listen_unix(&m, &r, 0);
        pid_t peer = spawn_peer("peer-bad", cases[i].peer, path);
        int done = wait_until(&r, cases[i].messages, 1);
        check(done && r.status == cases[i].status && r.messages == cases[i].messages && r.bad_payloads == 0,
              "%-12s -> %s, %d messages (%s)", cases[i].peer, dapper_ipc_status_string(r.status), r.messages,
              r.reason);
        if (strcmp(cases[i].peer, "zero") == 0)
            check(r.empty_payloads == 1, "a zero-length payload arrives as a zero-length message");
        dapper_ipc_manager_destroy(m);
        wait_child(peer);
    }
    return 0;
}

static int test_fuzz(void)
{
    const char *env = getenv("DAPPER_IPC_FUZZ_SECONDS");
    int seconds = env != NULL ? atoi(env) : 3;
    time_t end = time(NULL) + seconds;
    long connections = 0, inputs = 0;
    for (unsigned seed = 1; time(NULL) < end; seed++) {
        dapper_ipc_manager m;
        struct recorder r;
        const char *path = listen_unix(&m, &r, 4096);
        char seed_text[32];
        snprintf(seed_text, sizeof seed_text, "%u", seed);
        pid_t peer = spawn_peer("peer-fuzz", seed_text, path);
        int status = wait_child(peer);
        inputs += WIFEXITED(status) ? WEXITSTATUS(status) : 0;
        if (!wait_until(&r, 0, 1)) {
            check(0, "seed %u: the connection never ended", seed);
            return 0;
        }
        /* Every ending is one of the defined ones. */
        if (r.status != DAPPER_IPC_OK && r.status != DAPPER_IPC_E_PROTOCOL && r.status != DAPPER_IPC_E_CLOSED &&
            r.status != DAPPER_IPC_E_FRAME_TOO_LARGE) {
            check(0, "seed %u ended with %s: %s", seed, dapper_ipc_status_string(r.status), r.reason);
            return 0;
        }
        dapper_ipc_manager_destroy(m);
        connections++;
    }
    check(connections > 0, "fuzz: %ld connections, %ld inputs in %d s, the host kept running", connections, inputs,
          seconds);
    return 0;
}

static int test_kill_mid_frame(void)
{
    dapper_ipc_manager m;
    struct recorder r;
    const char *path = listen_unix(&m, &r, 0);
    char *argv[] = {self_exe, "peer-bad", "hang-mid-frame", (char *)path, NULL};
    int out;
    pid_t peer = spawn_with_stdout(argv, &out);
    if (peer < 0)
        return 1;
    check(dapper_ipc_wait_for_client(m, WAIT_SECONDS * 1000) == DAPPER_IPC_OK, "the peer connected");
    /* The kill comes once the peer has written its partial frame (it says so); killed
       before that, it would be a clean close between frames, not the case under test. */
    char said[16] = {0};
    check(read(out, said, sizeof said - 1) > 0 && strncmp(said, "sent", 4) == 0, "the peer wrote part of a frame");
    close(out);
    kill(peer, SIGKILL);
    wait_child(peer);
    check(wait_until(&r, 0, 1) && r.status == DAPPER_IPC_E_CLOSED, "SIGKILL mid-frame -> %s (%s)",
          dapper_ipc_status_string(r.status), r.reason);
    dapper_ipc_manager_destroy(m);
    return 0;
}

struct sender {
    dapper_ipc_manager m;
    int32_t status;
    long sent;
    volatile thread_ref tid;
};

static void *send_forever(void *arg)
{
    struct sender *s = arg;
    s->tid = current_thread_ref();
    static uint8_t payload[1 << 20];
    do {
        s->status = dapper_ipc_send(s->m, DAPPER_IPC_KIND_COMMAND, payload, sizeof payload);
        s->sent++;
    } while (s->status == DAPPER_IPC_OK);
    return NULL;
}

/* A peer that never reads: a sender blocks in send; then the peer is killed, or cleanup runs. */
static int sender_blocked_then(int kill_peer)
{
    dapper_ipc_manager m;
    struct recorder r;
    recorder_init(&r);
    dapper_ipc_manager_create(&m);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.send_timeout_ms = -1; /* block for as long as it takes */
    dapper_ipc_create_listener(m, &config);
    char args[512];
    size_t length;
    dapper_ipc_launcher_args(m, args, sizeof args, &length, NULL);
    const char *path = args + strlen("--ipc") + 1 + strlen("unix") + 1 + strlen("--ipc-path") + 1;
    pid_t peer = spawn_peer("peer-bad", "never-read", path);
    check(dapper_ipc_wait_for_client(m, WAIT_SECONDS * 1000) == DAPPER_IPC_OK, "the peer connected");

    struct sender s = {m, DAPPER_IPC_OK, 0, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, send_forever, &s);
    while (s.tid == 0)
        sched_yield();
    /* 1 MiB frames to a peer that never reads: the socket buffer fills and send blocks. */
    check(wait_in_syscall(s.tid, NR_SENDMSG, NR_SENDMSG), "the sender is blocked inside sendmsg");
    if (kill_peer) {
        kill(peer, SIGKILL);
        wait_child(peer);
    } else {
        check(dapper_ipc_cleanup(m) == DAPPER_IPC_OK, "cleanup while another thread is blocked in send");
    }
    pthread_join(thread, NULL);
    check(s.status == DAPPER_IPC_E_CLOSED || (!kill_peer && s.status == DAPPER_IPC_E_NOT_CONNECTED),
          "the blocked send returned %s after %ld frames", dapper_ipc_status_string(s.status), s.sent);
    dapper_ipc_manager_destroy(m);
    if (!kill_peer) {
        kill(peer, SIGKILL);
        wait_child(peer);
    }
    return 0;
}

static int test_kill_mid_send(void) { return sender_blocked_then(1); }
static int test_cleanup_during_send(void) { return sender_blocked_then(0); }

/* A peer that stops reading: send gives up after send_timeout_ms with its own status. */
static int test_slow_peer(void)
{
    dapper_ipc_manager m;
    dapper_ipc_manager_create(&m);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.send_timeout_ms = 300;
    dapper_ipc_create_listener(m, &config);
    char args[512];
    size_t length;
    dapper_ipc_launcher_args(m, args, sizeof args, &length, NULL);
    const char *path = args + strlen("--ipc") + 1 + strlen("unix") + 1 + strlen("--ipc-path") + 1;
    pid_t peer = spawn_peer("peer-bad", "never-read", path);
    dapper_ipc_wait_for_client(m, WAIT_SECONDS * 1000);
    static uint8_t payload[256 * 1024];
    int32_t status = DAPPER_IPC_OK;
    int frames = 0;
    while (status == DAPPER_IPC_OK && frames < 10000) {
        status = dapper_ipc_send(m, DAPPER_IPC_KIND_COMMAND, payload, sizeof payload);
        frames++;
    }
    check(status == DAPPER_IPC_E_SEND_TIMEOUT, "send to a peer that stopped reading: %s after %d frames (%s)",
          dapper_ipc_status_string(status), frames, last_error());
    kill(peer, SIGKILL);
    wait_child(peer);
    dapper_ipc_manager_destroy(m);
    return 0;
}

/* Sends racing with cleanup: each returns OK or an error status; none crashes or hangs. */
static int test_send_vs_cleanup(void)
{
    for (int round = 0; round < 20; round++) {
        dapper_ipc_manager server, client;
        struct recorder r;
        const char *path = listen_unix(&server, &r, 0);
        dapper_ipc_manager_create(&client);
        dapper_ipc_config config;
        dapper_ipc_config_init(&config, sizeof config);
        config.transport = "unix";
        config.path = path;
        dapper_ipc_connect(client, &config);
        pthread_t threads[4];
        struct sender senders[4];
        for (int t = 0; t < 4; t++) {
            senders[t] = (struct sender){client, DAPPER_IPC_OK, 0, 0};
            pthread_create(&threads[t], NULL, send_forever, &senders[t]);
        }
        if (round % 2 == 0)
            dapper_ipc_cleanup(client);
        else
            dapper_ipc_manager_destroy(client);
        int bad = 0;
        for (int t = 0; t < 4; t++) {
            pthread_join(threads[t], NULL);
            if (senders[t].status != DAPPER_IPC_E_CLOSED && senders[t].status != DAPPER_IPC_E_NOT_CONNECTED &&
                senders[t].status != DAPPER_IPC_E_INVALID_HANDLE)
                bad++;
        }
        if (bad) {
            check(0, "round %d: a racing send returned something other than closed / not connected", round);
            return 0;
        }
        dapper_ipc_manager_destroy(client);
        dapper_ipc_manager_destroy(server);
    }
    check(1, "20 rounds of 4 senders racing cleanup/destroy: every send ended with a status");
    return 0;
}

struct waiter {
    dapper_ipc_manager m;
    int32_t status;
    volatile thread_ref tid;
};

static void *wait_forever(void *arg)
{
    struct waiter *w = arg;
    w->tid = current_thread_ref();
    w->status = dapper_ipc_wait_for_client(w->m, -1);
    return NULL;
}

static int test_wait_for_client(void)
{
    dapper_ipc_manager m;
    const char *path;
    dapper_ipc_manager_create(&m);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    dapper_ipc_create_listener(m, &config);

    check(dapper_ipc_wait_for_client(m, 200) == DAPPER_IPC_E_TIMEOUT, "a launcher that never arrives: timeout");

    struct waiter w = {m, 1, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, wait_forever, &w);
    while (w.tid == 0)
        sched_yield();
    check(wait_in_syscall(w.tid, NR_POLL, NR_PPOLL), "the waiter is blocked in poll");
    check(dapper_ipc_cleanup(m) == DAPPER_IPC_OK, "cleanup while another thread waits for a client");
    pthread_join(thread, NULL);
    check(w.status == DAPPER_IPC_E_CANCELLED, "the waiting thread returned %s", dapper_ipc_status_string(w.status));
    dapper_ipc_manager_destroy(m);

    /* A launcher arriving after the wait began (no reader: this thread accepts). */
    dapper_ipc_manager_create(&m);
    dapper_ipc_create_listener(m, &config);
    char args[512];
    size_t length;
    dapper_ipc_launcher_args(m, args, sizeof args, &length, NULL);
    path = args + strlen("--ipc") + 1 + strlen("unix") + 1 + strlen("--ipc-path") + 1;
    struct waiter late = {m, 1, 0};
    pthread_create(&thread, NULL, wait_forever, &late);
    while (late.tid == 0)
        sched_yield();
    check(wait_in_syscall(late.tid, NR_POLL, NR_PPOLL), "the wait has begun before the launcher starts");
    pid_t peer = spawn_peer("peer-bad", "zero", path);
    pthread_join(thread, NULL);
    check(late.status == DAPPER_IPC_OK, "a late launcher is accepted (%s)", dapper_ipc_status_string(late.status));
    wait_child(peer);
    dapper_ipc_manager_destroy(m);
    return 0;
}

/* ---- leaks ---------------------------------------------------------------- */

/* Open descriptors, threads and resident memory: /proc on Linux; /dev/fd and Mach's task
   calls on macOS (without them the counts would read 0 == 0 there and prove nothing). */
#if defined(__APPLE__)
#define FD_DIR "/dev/fd"
static int count_threads(void)
{
    thread_act_array_t threads;
    mach_msg_type_number_t n = 0;
    if (task_threads(mach_task_self(), &threads, &n) != KERN_SUCCESS)
        return -1;
    for (mach_msg_type_number_t i = 0; i < n; i++)
        mach_port_deallocate(mach_task_self(), threads[i]);
    vm_deallocate(mach_task_self(), (vm_address_t)threads, n * sizeof *threads);
    return (int)n;
}

static long rss_kib(void)
{
    mach_task_basic_info_data_t info;
    mach_msg_type_number_t count = MACH_TASK_BASIC_INFO_COUNT;
    if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, (task_info_t)&info, &count) != KERN_SUCCESS)
        return -1;
    return (long)(info.resident_size / 1024);
}
#else
#define FD_DIR "/proc/self/fd"
static int count_threads(void) { return count_dir("/proc/self/task", NULL); }

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kib;
}
#endif

static int one_cycle(void)
{
    dapper_ipc_manager server, client;
    struct recorder rs, rc;
    const char *path = listen_unix(&server, &rs, 0);
    recorder_init(&rc);
    dapper_ipc_manager_create(&client);
    dapper_ipc_set_callbacks(client, on_message, on_state, &rc);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.path = path;
    int ok = dapper_ipc_connect(client, &config) == DAPPER_IPC_OK && dapper_ipc_start_reader(client) == DAPPER_IPC_OK &&
             dapper_ipc_wait_for_client(server, WAIT_SECONDS * 1000) == DAPPER_IPC_OK &&
             dapper_ipc_send(server, DAPPER_IPC_KIND_COMMAND, "{\"seq\":1}", 9) == DAPPER_IPC_OK &&
             dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{\"event\":1}", 11) == DAPPER_IPC_OK &&
             wait_until(&rs, 1, 0) && wait_until(&rc, 1, 0);
    dapper_ipc_manager_destroy(client);
    dapper_ipc_manager_destroy(server);
    pthread_mutex_destroy(&rs.lock);
    pthread_cond_destroy(&rs.changed);
    pthread_mutex_destroy(&rc.lock);
    pthread_cond_destroy(&rc.changed);
    return ok;
}

/* The thread count once it has held for 50 ms (at most 5 s): a reader thread that cleanup
   has joined can still be leaving the kernel's list for a moment after cleanup returns. */
static int settled_threads(void)
{
    int n = count_threads(), held = 0;
    for (int i = 0; i < 1000 && held < 10; i++) {
        usleep(5000);
        int m = count_threads();
        held = m == n ? held + 1 : 0;
        n = m;
    }
    return n;
}

static int test_leaks(void)
{
    const char *env = getenv("DAPPER_IPC_LEAK_CYCLES");
    int cycles = env != NULL ? atoi(env) : 10000;
    /* A temp directory of its own (set before the library's runtime starts, which reads
       TMPDIR once): /tmp is shared with other builds and tests, whose dapper-* entries
       come and go while this runs. */
    char tmp[] = "/tmp/dhard-leaks-XXXXXX";
    if (mkdtemp(tmp) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TMPDIR", tmp, 1);
    for (int i = 0; i < 200; i++) /* warm up: the runtime's own one-time allocations */
        one_cycle();
    int fds0 = count_dir(FD_DIR, NULL), threads0 = settled_threads();
    int files0 = count_dir(tmp, "dapper-");
    long rss0 = rss_kib(), rss_mid = 0, rss_q3 = 0;
    check(fds0 > 0 && threads0 > 0 && rss0 > 0, "the counts are readable here (fds %d, threads %d, rss %ld KiB)",
          fds0, threads0, rss0);
    int ok = 1;
    for (int i = 0; i < cycles && ok; i++) {
        ok = one_cycle();
        if (i == cycles / 2)
            rss_mid = rss_kib();
        if (i == cycles * 3 / 4)
            rss_q3 = rss_kib();
    }
    check(ok, "%d cycles of listen, connect, one message each way, cleanup", cycles);
    int fds1 = count_dir(FD_DIR, NULL), threads1 = settled_threads();
    int files1 = count_dir(tmp, "dapper-");
    long rss1 = rss_kib();
    check(fds1 == fds0, "open file descriptors: %d before, %d after", fds0, fds1);
    check(threads1 == threads0, "threads: %d before, %d after", threads0, threads1);
    check(files1 == files0, "dapper-* entries in %s: %d before, %d after", tmp, files0, files1);
    /* Flat means the second half of the run did not grow: the first half includes the
       allocator and GC settling to their working size, so it is not the figure to judge.
       A leak grows in both quarters of the second half; the GC settling once more (seen
       on a loaded machine: a few MiB at one moment) grows in one. So the smaller of the
       two quarters' growth must stay under 1 MiB: a leak of 1 KiB per cycle adds 2,500 KiB
       to each quarter of 10,000 cycles. */
    long quarter = (cycles - cycles * 3 / 4) > 0 ? cycles - cycles * 3 / 4 : 1;
    long g3 = rss_q3 - rss_mid, g4 = rss1 - rss_q3;
    long least = g3 < g4 ? g3 : g4;
    check(least < 1024,
          "resident memory growth over the second half: %ld KiB (%.1f bytes per cycle); by quarter %ld and %ld KiB, "
          "the smaller %.1f bytes per cycle (bound 1024 KiB); for reference %ld KiB after warm-up, %ld at half, %ld at "
          "the end",
          g3 + g4, (g3 + g4) * 1024.0 / (2 * quarter), g3, g4, least * 1024.0 / quarter, rss0, rss_mid, rss1);
    rmdir(tmp);
    return 0;
}

/* ---- concurrency ---------------------------------------------------------- */

#define SENDERS 16
#define PER_SENDER 10000

struct ordered {
    pthread_mutex_t lock;
    int next[SENDERS];
    int total;
    int errors;
    pthread_cond_t done;
};

static void on_ordered(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    struct ordered *o = user;
    (void)kind;
    int thread = -1, index = -1;
    if (length < 64 && sscanf((const char *)payload, "{\"t\":%d,\"i\":%d}", &thread, &index) == 2 && thread >= 0 &&
        thread < SENDERS) {
        if (o->next[thread] != index)
            o->errors++;
        o->next[thread] = index + 1;
    } else {
        o->errors++;
    }
    pthread_mutex_lock(&o->lock);
    if (++o->total == SENDERS * PER_SENDER)
        pthread_cond_broadcast(&o->done);
    pthread_mutex_unlock(&o->lock);
}

struct blaster {
    dapper_ipc_manager m;
    int thread;
    int failed;
};

static void *blast(void *arg)
{
    struct blaster *b = arg;
    char text[64];
    for (int i = 0; i < PER_SENDER; i++) {
        int n = snprintf(text, sizeof text, "{\"t\":%d,\"i\":%d}", b->thread, i);
        if (dapper_ipc_send(b->m, DAPPER_IPC_KIND_EVENT, text, (size_t)n) != DAPPER_IPC_OK)
            b->failed++;
    }
    return NULL;
}

static int test_concurrency(void)
{
    static struct ordered o = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0, PTHREAD_COND_INITIALIZER};
    dapper_ipc_manager server, client;
    dapper_ipc_manager_create(&server);
    dapper_ipc_set_callbacks(server, on_ordered, NULL, &o);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "tcp";
    dapper_ipc_create_listener(server, &config);
    char args[512];
    size_t length;
    dapper_ipc_launcher_args(server, args, sizeof args, &length, NULL);
    const char *port = args;
    for (int i = 0; i < 5; i++)
        port += strlen(port) + 1;
    dapper_ipc_start_reader(server);
    dapper_ipc_manager_create(&client);
    config.port = atoi(port);
    check(dapper_ipc_connect(client, &config) == DAPPER_IPC_OK, "connect over tcp");

    pthread_t threads[SENDERS];
    struct blaster b[SENDERS];
    for (int t = 0; t < SENDERS; t++) {
        b[t] = (struct blaster){client, t, 0};
        pthread_create(&threads[t], NULL, blast, &b[t]);
    }
    int failed = 0;
    for (int t = 0; t < SENDERS; t++) {
        pthread_join(threads[t], NULL);
        failed += b[t].failed;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECONDS;
    pthread_mutex_lock(&o.lock);
    while (o.total < SENDERS * PER_SENDER)
        if (pthread_cond_timedwait(&o.done, &o.lock, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&o.lock);
    check(failed == 0 && o.total == SENDERS * PER_SENDER && o.errors == 0,
          "%d threads x %d frames: %d arrived whole, %d out of order or torn, %d sends failed", SENDERS, PER_SENDER,
          o.total, o.errors, failed);
    dapper_ipc_manager_destroy(client);
    dapper_ipc_manager_destroy(server);
    return 0;
}

/* ---- security ------------------------------------------------------------- */

static int logged_refusal;

static void on_log(void *user, int32_t level, const char *message)
{
    (void)user;
    if (level == DAPPER_IPC_LOG_WARNING && strstr(message, "only the same user may connect") != NULL)
        logged_refusal = 1;
}

/* Runs as another user (nobody): listens at a path in a shared directory. */
static int peer_uid_listener(const char *path)
{
    dapper_ipc_set_log_callback(on_log, NULL, DAPPER_IPC_LOG_WARNING);
    dapper_ipc_manager m;
    dapper_ipc_manager_create(&m);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.path = path;
    if (dapper_ipc_create_listener(m, &config) != DAPPER_IPC_OK) {
        fprintf(stderr, "listener as another user: %s\n", last_error());
        return 3;
    }
    chmod(path, 0777); /* let the other user reach the socket: only the credential check is left */
    int32_t rc = dapper_ipc_wait_for_client(m, 3000);
    dapper_ipc_manager_destroy(m);
    return rc == DAPPER_IPC_E_TIMEOUT && logged_refusal ? 0 : 4;
}

static int test_peer_of_another_user(void)
{
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
        printf("skipped: needs root and setpriv to run a listener as another user\n");
        return SKIP;
    }
    char dir[] = "/tmp/dapper-uidtest-XXXXXX";
    if (mkdtemp(dir) == NULL || chmod(dir, 0777) != 0)
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/ipc.sock", dir);
    char *argv[] = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                    self_exe, "peer-uid-listener", path, NULL};
    pid_t pid;
    posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
    int fd = raw_connect(path); /* as root: another user than the listener's */
    char byte;
    ssize_t n = recv(fd, &byte, 1, 0);
    check(n == 0, "a client of another user is disconnected at once");
    close(fd);
    int status = wait_child(pid);
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127)) {
        printf("skipped: user nobody cannot run %s (the build tree is not readable to it)\n", self_exe);
        return SKIP;
    }
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the listener refused it, logged the refusal, and kept waiting (exit %d)", WEXITSTATUS(status));
    unlink(path);
    rmdir(dir);
    return 0;
}

/* A child that listens, writes its socket path to `report`, and exits without cleanup. */
static int peer_exit_without_cleanup(const char *report)
{
    dapper_ipc_manager m;
    dapper_ipc_manager_create(&m);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    if (dapper_ipc_create_listener(m, &config) != DAPPER_IPC_OK)
        return 3;
    char args[512];
    size_t length;
    dapper_ipc_launcher_args(m, args, sizeof args, &length, NULL);
    FILE *f = fopen(report, "w");
    fputs(args + strlen("--ipc") + 1 + strlen("unix") + 1 + strlen("--ipc-path") + 1, f);
    fclose(f);
    exit(0); /* no cleanup, no destroy */
}

static int test_exit_without_cleanup(void)
{
    char report[] = "/tmp/dapper-exit-report-XXXXXX";
    int fd = mkstemp(report);
    close(fd);
    int status = wait_child(spawn_peer("peer-exit-without-cleanup", report, NULL));
    char path[256] = {0};
    FILE *f = fopen(report, "r");
    if (f != NULL) {
        if (fgets(path, sizeof path, f) == NULL)
            path[0] = 0;
        fclose(f);
    }
    unlink(report);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0 && path[0] == '/', "the child listened on %s and exited", path);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    struct stat st;
    check(stat(path, &st) != 0 && stat(dir, &st) != 0, "its socket file and private directory are gone");
    return 0;
}

/* fork + exec at once is the safe pattern; the parent's connection keeps working. */
static int test_fork_exec(void)
{
    dapper_ipc_manager server, client;
    struct recorder r, r2;
    const char *path = listen_unix(&server, &r, 0);
    recorder_init(&r2);
    dapper_ipc_manager_create(&client);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.path = path;
    dapper_ipc_connect(client, &config);
    dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{}", 2);
    check(wait_until(&r, 1, 0), "the parent's connection works before fork");

    dapper_ipc_manager second;
    const char *path2 = listen_unix(&second, &r2, 0);
    pid_t child = fork();
    if (child == 0) {
        char *argv[] = {self_exe, "peer-bad", "zero", (char *)path2, NULL};
        execv(self_exe, argv);
        _exit(127);
    }
    check(wait_until(&r2, 1, 1) && r2.status == DAPPER_IPC_OK, "a forked-then-exec'd launcher connected and spoke");
    dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, "{}", 2);
    check(wait_until(&r, 2, 0), "the parent's connection still works after the fork");
    wait_child(child);
    dapper_ipc_manager_destroy(second);
    dapper_ipc_manager_destroy(client);
    dapper_ipc_manager_destroy(server);
    return 0;
}

/* ---- one send deadline --------------------------------------------------- */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

/* Item 9: send_timeout_ms is one deadline for the whole call, also after a partial write. */
static dapper_ipc_manager stalled_connection(pid_t *peer)
{
    dapper_ipc_manager m;
    dapper_ipc_manager_create(&m);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.send_timeout_ms = 1000;
    config.max_frame_size = 32u << 20;
    dapper_ipc_create_listener(m, &config);
    char args[512];
    size_t length;
    dapper_ipc_launcher_args(m, args, sizeof args, &length, NULL);
    *peer = spawn_peer("peer-bad", "never-read", args + strlen("--ipc") + 1 + strlen("unix") + 1 + strlen("--ipc-path") + 1);
    dapper_ipc_wait_for_client(m, WAIT_SECONDS * 1000);
    return m;
}

static int test_send_deadline(void)
{
    static uint8_t big[16u << 20];
    pid_t peer;
    dapper_ipc_manager m = stalled_connection(&peer);
    double t0 = now_ms();
    int32_t rc = dapper_ipc_send(m, DAPPER_IPC_KIND_COMMAND, big, sizeof big);
    double single = now_ms() - t0;
    /* Not early, and ended by the deadline rather than by anything else: a loaded 2-vCPU
       machine has taken 1.6 s, so the upper bound only tells a deadline from none (the
       peer never reads: without one the send would wait until the test kills it). */
    check(rc == DAPPER_IPC_E_SEND_TIMEOUT && single >= 800 && single < 5000,
          "send of 16 MiB to a peer that stopped reading, send_timeout_ms 1000: %s after %.0f ms (%s)",
          dapper_ipc_status_string(rc), single, last_error());
    kill(peer, SIGKILL);
    wait_child(peer);
    dapper_ipc_manager_destroy(m);

    m = stalled_connection(&peer);
    dapper_ipc_frame frames[4];
    for (int i = 0; i < 4; i++)
        frames[i] = (dapper_ipc_frame){.payload = big, .length = sizeof big / 4, .kind = DAPPER_IPC_KIND_COMMAND};
    size_t sent = 99;
    t0 = now_ms();
    rc = dapper_ipc_send_batch(m, frames, 4, &sent);
    double batch = now_ms() - t0;
    check(rc == DAPPER_IPC_E_SEND_TIMEOUT && batch >= 800 && batch < 5000,
          "send_batch of 4 x 4 MiB, send_timeout_ms 1000: %s after %.0f ms, %zu frames whole (%s)",
          dapper_ipc_status_string(rc), batch, sent, last_error());
    kill(peer, SIGKILL);
    wait_child(peer);
    dapper_ipc_manager_destroy(m);
    return 0;
}

/* ---- running out of descriptors, and the reasons connect gives ---------- */

#include <sys/file.h>
#include <sys/resource.h>

static void set_sun_path(struct sockaddr_un *addr, const char *path)
{
    size_t n = strlen(path);
    if (n >= sizeof addr->sun_path)
        n = sizeof addr->sun_path - 1;
    memcpy(addr->sun_path, path, n);
    addr->sun_path[n] = 0;
}

/* A fresh private directory for a test's paths; "dhard-" keeps it out of the leak count. */
static const char *test_dir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/dhard-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

static int32_t listen_at(dapper_ipc_manager *m, const char *transport, const char *path, const char *host)
{
    dapper_ipc_manager_create(m);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = transport;
    config.path = path;
    config.host = host;
    return dapper_ipc_create_listener(*m, &config);
}

static int32_t connect_to(dapper_ipc_manager *m, const char *transport, const char *path, const char *host,
                          int32_t port, int32_t timeout_ms)
{
    dapper_ipc_manager_create(m);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = transport;
    config.path = path;
    config.host = host;
    config.port = port;
    config.connect_timeout_ms = timeout_ms;
    return dapper_ipc_connect(*m, &config);
}

/* A socket file nobody listens on: what a SIGKILLed listener leaves. */
static void make_stale_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    set_sun_path(&addr, path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 4) != 0) {
        perror("stale socket");
        exit(1);
    }
    close(fd);
}

static int no_type_names(const char *message)
{
    return strstr(message, "Exception") == NULL && strstr(message, "System.") == NULL;
}

/* Item 5: running out of file descriptors is E_IO with a plain message, and the
   library works again once descriptors are free. */
static int test_fd_exhaustion(void)
{
    /* Before the limit: a listener whose client will arrive when no fd is left for accept,
       a unix listener to connect to, the runtime started. */
    dapper_ipc_manager waiting, target;
    struct recorder r;
    const char *p = listen_unix(&target, &r, 0);
    char target_path[512];
    snprintf(target_path, sizeof target_path, "%s", p);
    check(listen_at(&waiting, "unix", NULL, NULL) == DAPPER_IPC_OK, "a listener waiting for a client");
    char args[512];
    size_t length;
    dapper_ipc_launcher_args(waiting, args, sizeof args, &length, NULL);
    char waiting_path[512];
    snprintf(waiting_path, sizeof waiting_path, "%s", args + strlen("--ipc") + 1 + strlen("unix") + 1 + strlen("--ipc-path") + 1);
    int client = socket(AF_UNIX, SOCK_STREAM, 0);

    struct rlimit saved, low;
    getrlimit(RLIMIT_NOFILE, &saved);
    low = saved;
    low.rlim_cur = 256;
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) {
        printf("skipped: setrlimit: %s\n", strerror(errno));
        return SKIP;
    }
    static int fillers[1024];
    int filled = 0;
    while (filled < 1024) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        fillers[filled++] = fd;
    }
    int exhausted = errno == EMFILE;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    set_sun_path(&addr, waiting_path);
    int client_connected = connect(client, (struct sockaddr *)&addr, sizeof addr) == 0; /* needs no new fd */

    dapper_ipc_manager m1, m2, m3;
    int32_t rc1 = listen_at(&m1, "unix", NULL, NULL);
    char msg1[512];
    snprintf(msg1, sizeof msg1, "%s", last_error());
    int32_t rc2 = listen_at(&m2, "tcp", NULL, NULL);
    char msg2[512];
    snprintf(msg2, sizeof msg2, "%s", last_error());
    int32_t rc3 = connect_to(&m3, "unix", target_path, NULL, 0, 200);
    char msg3[512];
    snprintf(msg3, sizeof msg3, "%s", last_error());
    int32_t rc4 = dapper_ipc_wait_for_client(waiting, 2000);
    char msg4[512];
    snprintf(msg4, sizeof msg4, "%s", last_error());

    for (int i = 0; i < filled; i++)
        close(fillers[i]);
    setrlimit(RLIMIT_NOFILE, &saved);

    check(exhausted && client_connected, "%d descriptors opened until EMFILE; the client is in the backlog", filled);
    check(rc1 == DAPPER_IPC_E_IO && no_type_names(msg1) && strstr(msg1, "too many open files") != NULL &&
              strstr(msg1, "unix") != NULL && strstr(msg1, "tcp") == NULL,
          "unix create_listener (no tcp fallback for that): %s (%s)", dapper_ipc_status_string(rc1), msg1);
    check(rc2 == DAPPER_IPC_E_IO && no_type_names(msg2) && strstr(msg2, "too many open files") != NULL,
          "tcp create_listener: %s (%s)", dapper_ipc_status_string(rc2), msg2);
    check(rc3 == DAPPER_IPC_E_IO && no_type_names(msg3) && strstr(msg3, "too many open files") != NULL,
          "connect: %s (%s)", dapper_ipc_status_string(rc3), msg3);
    check(rc4 == DAPPER_IPC_E_IO && no_type_names(msg4) && strstr(msg4, "too many open files") != NULL,
          "wait_for_client (accept): %s (%s)", dapper_ipc_status_string(rc4), msg4);

    /* With descriptors back, everything works again. */
    check(dapper_ipc_wait_for_client(waiting, WAIT_SECONDS * 1000) == DAPPER_IPC_OK, "the waiting listener accepts its client now (%s)", last_error());
    dapper_ipc_manager_destroy(m1);
    dapper_ipc_manager_destroy(m2);
    dapper_ipc_manager_destroy(m3);
    check(connect_to(&m3, "unix", target_path, NULL, 0, 2000) == DAPPER_IPC_OK &&
              dapper_ipc_send(m3, DAPPER_IPC_KIND_EVENT, "{}", 2) == DAPPER_IPC_OK && wait_until(&r, 1, 0),
          "a new connection carries a message (%s)", last_error());
    close(client);
    dapper_ipc_manager_destroy(m3);
    dapper_ipc_manager_destroy(waiting);
    dapper_ipc_manager_destroy(target);
    return 0;
}

/* connect names the real reason, in every retry log and in the final error. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char retry_log[8192];
static int retries;

static void on_retry_log(void *user, int32_t level, const char *message)
{
    (void)user;
    (void)level;
    pthread_mutex_lock(&log_lock);
    if (strstr(message, "retrying") != NULL) {
        retries++;
        if (strlen(retry_log) + strlen(message) + 2 < sizeof retry_log) {
            strcat(retry_log, message);
            strcat(retry_log, "\n");
        }
    }
    pthread_mutex_unlock(&log_lock);
}

static int all_lines_contain(const char *text, const char *needle)
{
    char copy[8192];
    snprintf(copy, sizeof copy, "%s", text);
    int lines = 0;
    for (char *line = strtok(copy, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        lines++;
        if (strstr(line, needle) == NULL)
            return 0;
    }
    return lines > 0;
}

static int test_connect_reason(void)
{
    const char *dir = test_dir();
    char path[256], expected[300];
    snprintf(path, sizeof path, "%s/ipc.sock", dir);
    dapper_ipc_set_log_callback(on_retry_log, NULL, DAPPER_IPC_LOG_DEBUG);
    for (int stale = 0; stale < 2; stale++) {
        if (stale)
            make_stale_socket(path);
        snprintf(expected, sizeof expected, stale ? "connection refused" : "no socket file at %s", path);
        pthread_mutex_lock(&log_lock);
        retry_log[0] = 0;
        retries = 0;
        pthread_mutex_unlock(&log_lock);
        dapper_ipc_manager m;
        int32_t rc = connect_to(&m, "unix", path, NULL, 0, 300);
        char message[512];
        snprintf(message, sizeof message, "%s", last_error());
        dapper_ipc_manager_destroy(m);
        pthread_mutex_lock(&log_lock);
        check(rc == DAPPER_IPC_E_CONNECTION_REFUSED && strstr(message, expected) != NULL,
              "connect, %s: %s (%s)", stale ? "a stale socket file" : "no socket file", dapper_ipc_status_string(rc), message);
        check(retries > 0 && all_lines_contain(retry_log, expected) && strstr(retry_log, "Cannot assign") == NULL,
              "%d retry log messages, each says \"%s\"; first: %.*s", retries, expected,
              (int)strcspn(retry_log, "\n"), retry_log);
        pthread_mutex_unlock(&log_lock);
    }
    dapper_ipc_set_log_callback(NULL, NULL, DAPPER_IPC_LOG_DEBUG);
    unlink(path);
    rmdir(dir);
    return 0;
}



/* ---- caller-given unix paths ------------------------------------------- */

/* A raw listener at path (it stays while fd is open). */
static int raw_listen(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    set_sun_path(&addr, path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 4) != 0) {
        perror("raw listener");
        exit(1);
    }
    return fd;
}

static int can_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    set_sun_path(&addr, path);
    int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

/* Item 2: a caller-given path in a missing directory is an error, never a tcp listener. */
static int test_path_missing_directory(void)
{
    const char *dir = test_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/no-such-dir/ipc.sock", dir);
    dapper_ipc_manager m;
    int32_t rc = listen_at(&m, "unix", path, NULL);
    char args[512] = {0};
    size_t length = 0;
    const char *message = last_error();
    check(rc == DAPPER_IPC_E_IO, "create_listener at %s: %s (%s)", path, dapper_ipc_status_string(rc), message);
    check(strstr(message, path) != NULL && strstr(message, "does not exist") != NULL,
          "the message names the path and the reason: %s", message);
    if (rc == DAPPER_IPC_OK) {
        dapper_ipc_launcher_args(m, args, sizeof args, &length, NULL);
        printf("  (it listened on --ipc %s instead)\n", args + strlen("--ipc") + 1);
    }
    dapper_ipc_manager_destroy(m);
    rmdir(dir);
    return 0;
}

/* Item 3: cleanup removes only the socket it bound. */
static int test_cleanup_leaves_replaced_path(void)
{
    const char *dir = test_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/ipc.sock", dir);
    struct stat st;

    /* (a) the socket file was replaced by a regular file */
    dapper_ipc_manager m1;
    int32_t rc = listen_at(&m1, "unix", path, NULL);
    check(rc == DAPPER_IPC_OK, "listener 1 at %s (%s)", path, rc == 0 ? "" : last_error());
    unlink(path);
    FILE *f = fopen(path, "w");
    fputs("precious", f);
    fclose(f);
    dapper_ipc_manager_destroy(m1);
    check(lstat(path, &st) == 0 && S_ISREG(st.st_mode), "a regular file put at the path survives the listener's cleanup");
    unlink(path);

    /* (b) the path was unlinked (a tmp cleaner) and bound by another listener */
    dapper_ipc_manager a, b;
    rc = listen_at(&a, "unix", path, NULL);
    unlink(path);
    int32_t rc2 = listen_at(&b, "unix", path, NULL);
    check(rc == DAPPER_IPC_OK && rc2 == DAPPER_IPC_OK, "listener 2 bound the path after listener 1's socket was unlinked");
    dapper_ipc_manager_destroy(a);
    check(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode), "destroying listener 1 leaves listener 2's socket file");
    check(can_connect(path), "listener 2 is still reachable");
    dapper_ipc_manager_destroy(b);
    check(lstat(path, &st) != 0, "destroying listener 2 removes its own socket file");

    /* and nothing else is left in the directory (no lock file) */
    check(count_dir(dir, NULL) == 0, "the directory is empty afterwards (%d entries)", count_dir(dir, NULL));
    rmdir(dir);
    return 0;
}

/* Item 3, at exit: a child listens at a caller path and exits without cleanup after
   the parent replaced the socket with its own; the exit-time cleanup leaves it. */
static int test_exit_cleanup_leaves_replaced_path(void)
{
    const char *dir = test_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/ipc.sock", dir);
    for (int variant = 0; variant < 2; variant++) {
        int ready[2], go[2];
        if (pipe(ready) != 0 || pipe(go) != 0)
            return 1;
        pid_t child = fork(); /* the parent has not started the library's runtime: safe */
        if (child == 0) {
            dapper_ipc_manager m;
            char c = listen_at(&m, "unix", path, NULL) == DAPPER_IPC_OK ? 'r' : 'x';
            if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
                _exit(3);
            exit(0); /* no cleanup: the exit-time cleanup runs */
        }
        char c = 0;
        if (read(ready[0], &c, 1) != 1 || c != 'r') {
            check(0, "the child listened at %s", path);
            return 0;
        }
        unlink(path);
        int fd = -1;
        if (variant == 0) {
            fd = raw_listen(path);
        } else {
            FILE *f = fopen(path, "w");
            fclose(f);
        }
        struct stat before, after;
        lstat(path, &before);
        if (write(go[1], "g", 1) != 1)
            return 1;
        int status = wait_child(child);
        check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exited without cleanup");
        check(lstat(path, &after) == 0 && after.st_ino == before.st_ino,
              variant == 0 ? "the exit-time cleanup left another listener's socket at the path"
                           : "the exit-time cleanup left a regular file put at the path");
        if (fd >= 0) {
            check(can_connect(path), "that listener is still reachable");
            close(fd);
        }
        unlink(path);
        close(ready[0]);
        close(ready[1]);
        close(go[0]);
        close(go[1]);
    }
    rmdir(dir);
    return 0;
}

/* Waits until the recorder has a message or its connection ended. */
static int wait_message_or_end(struct recorder *r)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECONDS;
    int ok = 1;
    pthread_mutex_lock(&r->lock);
    while (r->messages == 0 && !r->disconnected)
        if (pthread_cond_timedwait(&r->changed, &r->lock, &deadline) == ETIMEDOUT) {
            ok = 0;
            break;
        }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

/* Item 4: two listeners racing for a path holding a stale socket: exactly one wins. */
#define RACE_ROUNDS 300

struct racer {
    const char *path;
    struct latch *start;
    dapper_ipc_manager m;
    int32_t rc;
    char message[512];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.path = r->path;
    barrier_wait(r->start, 2);
    r->rc = dapper_ipc_create_listener(r->m, &config);
    snprintf(r->message, sizeof r->message, "%s", last_error());
    return NULL;
}

static int test_path_race_threads(void)
{
    const char *dir = test_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/ipc.sock", dir);
    int both = 0, none = 0, bad_loser = 0, unreachable = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        make_stale_socket(path);
        static struct latch start = LATCH_INIT;
        start.value = 0; /* both racers of the last round have been joined */
        struct racer r[2] = {{.path = path, .start = &start}, {.path = path, .start = &start}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++) {
            dapper_ipc_manager_create(&r[i].m);
            pthread_create(&t[i], NULL, race, &r[i]);
        }
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        int winners = (r[0].rc == DAPPER_IPC_OK) + (r[1].rc == DAPPER_IPC_OK);
        if (winners == 2)
            both++;
        else if (winners == 0)
            none++;
        else {
            struct racer *loser = r[0].rc == DAPPER_IPC_OK ? &r[1] : &r[0];
            struct racer *winner = r[0].rc == DAPPER_IPC_OK ? &r[0] : &r[1];
            if (loser->rc != DAPPER_IPC_E_ADDRESS_IN_USE) {
                if (bad_loser++ == 0)
                    printf("  round %d: the loser got %s (%s)\n", round, dapper_ipc_status_string(loser->rc), loser->message);
            }
            /* Reachable means served: a client that connects gets its frame to the winner's
               callback (not lost behind the loser's probe connection, which hung up at once). */
            struct recorder rec;
            recorder_init(&rec);
            dapper_ipc_set_callbacks(winner->m, on_message, on_state, &rec);
            int fd = socket(AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un addr = {.sun_family = AF_UNIX};
            set_sun_path(&addr, path);
            uint8_t buf[64];
            size_t n = frame(buf, 1, "{}", 2);
            int served = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
            if (served)
                put_all(fd, buf, n);
            served = served && dapper_ipc_start_reader(winner->m) == DAPPER_IPC_OK && wait_message_or_end(&rec) &&
                     rec.messages == 1;
            if (!served && unreachable++ == 0)
                printf("  round %d: a client of the winner was not served (%d messages, disconnected %d: %s)\n", round,
                       rec.messages, rec.disconnected, rec.reason);
            close(fd);
            dapper_ipc_manager_destroy(winner->m);
            pthread_mutex_destroy(&rec.lock);
            pthread_cond_destroy(&rec.changed);
        }
        dapper_ipc_manager_destroy(r[0].m);
        dapper_ipc_manager_destroy(r[1].m);
        unlink(path);
    }
    check(both == 0 && none == 0, "%d rounds, two threads: both won in %d, neither in %d", RACE_ROUNDS, both, none);
    check(bad_loser == 0, "the loser got E_ADDRESS_IN_USE in every round (%d did not)", bad_loser);
    check(unreachable == 0, "a client of the winner was served (its frame reached the callback) in every round (%d not)",
          unreachable);
    check(count_dir(dir, NULL) == 0, "no lock file or socket left in the directory");
    rmdir(dir);
    return 0;
}

/* A racing process: says 'r' when its runtime is up, races at 'g', reports 'W' (listening),
   'L' (address in use) or 'X', then holds its listener until 'q'. Each byte on its own pipe,
   so one racer can never take the other's signal. */
static int peer_race_listener(const char *path, const char *fds)
{
    int ready = -1, go = -1, quit = -1;
    sscanf(fds, "%d,%d,%d", &ready, &go, &quit);
    dapper_ipc_manager m;
    dapper_ipc_manager_create(&m); /* starts the runtime before the race */
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "unix";
    config.path = path;
    char c = 'r';
    if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
        return 3;
    int32_t rc = dapper_ipc_create_listener(m, &config);
    c = rc == DAPPER_IPC_OK ? 'W' : rc == DAPPER_IPC_E_ADDRESS_IN_USE ? 'L' : 'X';
    if (c == 'X')
        fprintf(stderr, "racer: %s (%s)\n", dapper_ipc_status_string(rc), last_error());
    if (write(ready, &c, 1) != 1 || read(quit, &c, 1) != 1)
        return 3;
    dapper_ipc_manager_destroy(m);
    return 0;
}

static int test_path_race_processes(void)
{
    const char *dir = test_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/ipc.sock", dir);
    const char *env = getenv("DAPPER_IPC_RACE_ROUNDS");
    int rounds = env != NULL ? atoi(env) : RACE_ROUNDS, both = 0, none = 0, other = 0, unreachable = 0;
    for (int round = 0; round < rounds; round++) {
        make_stale_socket(path);
        int ready[2], go[2], quit[2];
        if (cloexec_pipe(ready) != 0 || cloexec_pipe(go) != 0 || cloexec_pipe(quit) != 0)
            return 1;
        /* The racers inherit only their ends (dup'd without close-on-exec). */
        int child_ready = dup(ready[1]), child_go = dup(go[0]), child_quit = dup(quit[0]);
        char fds[48];
        snprintf(fds, sizeof fds, "%d,%d,%d", child_ready, child_go, child_quit);
        pid_t peers[2] = {spawn_peer("peer-race-listener", path, fds), spawn_peer("peer-race-listener", path, fds)};
        close(child_ready); /* a racer that dies ends the parent's reads instead of hanging them */
        close(child_go);
        close(child_quit);
        close(ready[1]);
        close(go[0]);
        close(quit[0]);
        char c[2];
        int ok = read(ready[0], &c[0], 1) == 1 && read(ready[0], &c[1], 1) == 1; /* both runtimes up */
        ok = ok && write(go[1], "gg", 2) == 2;                                     /* race */
        ok = ok && read(ready[0], &c[0], 1) == 1 && read(ready[0], &c[1], 1) == 1; /* results */
        int winners = ok ? (c[0] == 'W') + (c[1] == 'W') : -1;
        int losers = ok ? (c[0] == 'L') + (c[1] == 'L') : -1;
        if (winners == 2)
            both++;
        else if (winners == 0)
            none++;
        else if (losers != 1)
            other++;
        else if (!can_connect(path))
            unreachable++;
        if (!ok && other++ == 0)
            printf("  round %d: a racer did not report\n", round);
        if (write(quit[1], "qq", 2) != 2 && other++ == 0)
            printf("  round %d: a racer was gone\n", round);
        for (int i = 0; i < 2; i++) {
            int status = wait_child(peers[i]);
            if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && other++ == 0)
                printf("  round %d: a racer ended with status 0x%x\n", round, status);
        }
        close(ready[0]);
        close(go[1]);
        close(quit[1]);
        unlink(path);
    }
    check(both == 0 && none == 0 && other == 0,
          "%d rounds, two processes: both won in %d, neither in %d, a loser without E_ADDRESS_IN_USE in %d", rounds,
          both, none, other);
    check(unreachable == 0, "the winner was reachable by a connect in every round (%d not)", unreachable);
    check(count_dir(dir, NULL) == 0, "no lock file or socket left in the directory");
    rmdir(dir);
    return 0;
}

/* The path's lock cannot be used to hang a listener: a lock file of another user is
   refused, and a lock held by someone else for over 5 s gives up. */
static int test_path_lock_held(void)
{
    const char *dir = test_dir();
    char path[256], lock[300];
    snprintf(path, sizeof path, "%s/ipc.sock", dir);
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    flock(fd, LOCK_EX); /* another open file description: the library's flock conflicts with it */
    dapper_ipc_manager m;
    double t0 = now_ms();
    int32_t rc = listen_at(&m, "unix", path, NULL);
    double waited = now_ms() - t0;
    check(rc == DAPPER_IPC_E_ADDRESS_IN_USE && strstr(last_error(), lock) != NULL && waited >= 4000 && waited < 15000,
          "create_listener while %s is held: %s after %.0f ms (%s)", lock, dapper_ipc_status_string(rc), waited,
          last_error());
    dapper_ipc_manager_destroy(m);
    flock(fd, LOCK_UN);
    close(fd);
    rc = listen_at(&m, "unix", path, NULL);
    struct stat st;
    check(rc == DAPPER_IPC_OK && lstat(lock, &st) != 0, "once released: %s, and the lock file is gone",
          dapper_ipc_status_string(rc));
    dapper_ipc_manager_destroy(m);

    if (geteuid() == 0) {
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fchown(fd, 65534, 65534) != 0)
            perror("fchown");
        close(fd);
        rc = listen_at(&m, "unix", path, NULL);
        check(rc == DAPPER_IPC_E_PATH_EXISTS && lstat(lock, &st) == 0 && lstat(path, &st) != 0,
              "a lock file of another user: %s, left alone, nothing bound (%s)", dapper_ipc_status_string(rc),
              last_error());
        dapper_ipc_manager_destroy(m);
        unlink(lock);
    } else {
        printf("  (the lock file of another user needs root to make; not checked)\n");
    }
    rmdir(dir);
    return 0;
}

/* ---- contract gaps of the config ------------------------------------------- */

static int test_config_strings(void)
{
    const char *dir = test_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/bad-\xff\xfe.sock", dir);
    dapper_ipc_manager m;
    int32_t rc = listen_at(&m, "unix", path, NULL);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT && strstr(last_error(), "path") != NULL,
          "a path that is not UTF-8: %s (%s)", dapper_ipc_status_string(rc), last_error());
    check(count_dir(dir, NULL) == 0, "nothing was bound in the directory (%d entries)", count_dir(dir, NULL));
    dapper_ipc_manager_destroy(m);
    rc = connect_to(&m, "unix", path, NULL, 0, -1);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT, "connect to it: %s (%s)", dapper_ipc_status_string(rc), last_error());
    dapper_ipc_manager_destroy(m);
    rc = listen_at(&m, "tcp", NULL, "127.0.0.\xc3");
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT && strstr(last_error(), "host") != NULL,
          "a host that is not UTF-8: %s (%s)", dapper_ipc_status_string(rc), last_error());
    dapper_ipc_manager_destroy(m);

    rc = listen_at(&m, "tcp", NULL, "");
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT && strstr(last_error(), "host") != NULL,
          "an empty host for a listener: %s (%s)", dapper_ipc_status_string(rc), last_error());
    if (rc == DAPPER_IPC_OK) {
        char args[512];
        size_t length;
        int32_t argc = 0;
        dapper_ipc_launcher_args(m, args, sizeof args, &length, &argc);
        printf("  (its launcher args: --ipc-host \"%s\")\n", args + strlen("--ipc") + 1 + strlen("tcp") + 1 + strlen("--ipc-host") + 1);
    }
    dapper_ipc_manager_destroy(m);
    rc = connect_to(&m, "tcp", NULL, "", 1, -1);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT && strstr(last_error(), "host") != NULL,
          "an empty host for connect: %s (%s)", dapper_ipc_status_string(rc), last_error());
    dapper_ipc_manager_destroy(m);
    rmdir(dir);
    return 0;
}

static int test_max_frame_size_ceiling(void)
{
    const uint32_t ceiling = 2147483647u - 8u; /* INT32_MAX minus the 8-byte header */
    const uint32_t values[] = {ceiling + 1, 0x80000000u, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        dapper_ipc_manager m;
        dapper_ipc_manager_create(&m);
        dapper_ipc_config config;
        dapper_ipc_config_init(&config, sizeof config);
        config.transport = "tcp";
        config.max_frame_size = values[i];
        int32_t rc = dapper_ipc_create_listener(m, &config);
        check(rc == DAPPER_IPC_E_INVALID_ARGUMENT, "max_frame_size %u: %s (%s)", values[i], dapper_ipc_status_string(rc),
              last_error());
        dapper_ipc_manager_destroy(m);
    }
    dapper_ipc_manager m;
    dapper_ipc_manager_create(&m);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "tcp";
    config.max_frame_size = ceiling;
    int32_t rc = dapper_ipc_create_listener(m, &config);
    check(rc == DAPPER_IPC_OK, "max_frame_size %u (the ceiling): %s", ceiling, dapper_ipc_status_string(rc));
    dapper_ipc_manager_destroy(m);
    return 0;
}

int main(int argc, char **argv)
{
    test_program_init(argv[0]);
    if (argc >= 4 && strcmp(argv[1], "peer-bad") == 0)
        return peer_bad(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "peer-fuzz") == 0)
        return peer_fuzz(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "peer-exit-without-cleanup") == 0)
        return peer_exit_without_cleanup(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "peer-uid-listener") == 0)
        return peer_uid_listener(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "peer-race-listener") == 0)
        return peer_race_listener(argv[2], argv[3]);

    static const struct named_test tests[] = {
        {"bad-input", test_bad_input},
        {"fuzz", test_fuzz},
        {"kill-mid-frame", test_kill_mid_frame},
        {"kill-mid-send", test_kill_mid_send},
        {"cleanup-during-send", test_cleanup_during_send},
        {"wait-for-client", test_wait_for_client},
        {"slow-peer", test_slow_peer},
        {"send-vs-cleanup", test_send_vs_cleanup},
        {"leaks", test_leaks},
        {"concurrency", test_concurrency},
        {"peer-of-another-user", test_peer_of_another_user},
        {"fork-exec", test_fork_exec},
        {"exit-without-cleanup", test_exit_without_cleanup},
        {"send-deadline", test_send_deadline},
        {"fd-exhaustion", test_fd_exhaustion},
        {"connect-reason", test_connect_reason},
        {"path-missing-directory", test_path_missing_directory},
        {"cleanup-leaves-replaced-path", test_cleanup_leaves_replaced_path},
        {"exit-cleanup-leaves-replaced-path", test_exit_cleanup_leaves_replaced_path},
        {"path-race-threads", test_path_race_threads},
        {"path-race-processes", test_path_race_processes},
        {"path-lock-held", test_path_lock_held},
        {"config-strings", test_config_strings},
        {"max-frame-size-ceiling", test_max_frame_size_ceiling},
    };
    return run_named_test("hardening", argc, argv, tests, sizeof tests / sizeof tests[0]);
}
