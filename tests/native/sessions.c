/*
 * Subprocess sessions on one shared listener, through the C ABI with real processes:
 * many launcher-like children on one endpoint, each routed by its hello; refusals that
 * leave the other sessions alone; a child that dies; cleanup with sessions open; and
 * connect/cleanup cycles with descriptors, threads and files back where they were.
 *
 *   sessions <test>                      runs one test (CTest registers each one of the
 *                                        table in main; CMake reads the names from there)
 *   sessions child ID PINGS [launcher args...]
 *                                        a launcher-like child: connects with the library
 *                                        (connect_argv), says hello as ID, sends PINGS
 *                                        events, then answers each command with an echo
 *                                        until "exit" or end-of-file
 *
 * Exit 0: passed; 1: failed.
 */
#define _GNU_SOURCE
#include <dapper_ipc.h>

#include "check.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 16
#define PINGS 5
#define ECHOES 20

/* ---- the child ------------------------------------------------------------ */

static int hello_payload(char *out, size_t cap, const char *id)
{
    return snprintf(out, cap, "{\"event\": \"dapper/sessionHello\", \"body\": {\"sessionId\": \"%s\", "
                              "\"parentSessionId\": \"root\", \"pid\": %d}}", id, (int)getpid());
}

static int child_main(int argc, char **argv)
{
    const char *id = argv[2];
    int pings = atoi(argv[3]);
    dapper_ipc_manager m;
    must(dapper_ipc_manager_create(&m), "child: create");
    must(dapper_ipc_connect_argv(m, argc, (const char *const *)argv), "child: connect_argv");
    char frame[512];
    int n = hello_payload(frame, sizeof frame, id);
    must(dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, frame, (size_t)n), "child: hello");
    for (int i = 0; i < pings; i++) {
        n = snprintf(frame, sizeof frame, "{\"event\":\"ping\",\"sessionId\":\"%s\",\"seq\":%d}", id, i);
        must(dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, frame, (size_t)n), "child: ping");
    }
    char in[512];
    while (1) {
        size_t length = 0;
        int32_t kind = 0;
        if (dapper_ipc_recv(m, in, sizeof in - 1, &length, &kind, -1) != DAPPER_IPC_OK)
            break; /* end-of-file: the host closed */
        in[length] = 0;
        if (strstr(in, "\"exit\"") != NULL)
            break;
        /* The echo carries the command as it came, so the host sees any cross-talk. */
        n = snprintf(frame, sizeof frame, "{\"event\":\"echo\",\"sessionId\":\"%s\",\"of\":%s}", id, in);
        if (dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, frame, (size_t)n) != DAPPER_IPC_OK)
            break;
    }
    dapper_ipc_manager_destroy(m);
    return 0;
}

/* ---- the host's helpers --------------------------------------------------- */

/* The listener's launcher arguments, split into a static array (valid until the next call). */
static int launcher_args(dapper_ipc_session_listener l, char **args)
{
    static char buf[1024];
    size_t length = 0;
    int32_t argc = 0;
    must(dapper_ipc_session_listener_launcher_args(l, buf, sizeof buf, &length, &argc), "launcher_args");
    char *p = buf;
    for (int i = 0; i < argc; i++) {
        args[i] = p;
        p += strlen(p) + 1;
    }
    return argc;
}

static pid_t spawn_child(dapper_ipc_session_listener l, const char *id, int pings)
{
    char *largs[16];
    int largc = launcher_args(l, largs);
    char count[16];
    snprintf(count, sizeof count, "%d", pings);
    char *argv[32] = {self_exe, "child", (char *)id, count};
    int argc = 4;
    for (int i = 0; i < largc; i++)
        argv[argc++] = largs[i];
    argv[argc] = NULL;
    pid_t pid;
    if (posix_spawn(&pid, self_exe, NULL, NULL, argv, environ) != 0)
        return -1;
    return pid;
}

static int exited_cleanly(pid_t pid)
{
    int status = 0;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static dapper_ipc_session_listener listening(const char *transport, int32_t hello_ms, uint32_t hello_max)
{
    dapper_ipc_session_listener l;
    must(dapper_ipc_session_listener_create(&l), "session_listener_create");
    must(dapper_ipc_session_listener_set_hello_limits(l, hello_ms, hello_max), "set_hello_limits");
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = transport;
    must(dapper_ipc_session_listener_listen(l, &config), "session_listener_listen");
    return l;
}

/* Takes one frame within WAIT_SECONDS into buf (NUL-terminated); the status. */
static int32_t take(dapper_ipc_manager m, char *buf, size_t cap)
{
    size_t length = 0;
    int32_t kind = 0;
    int32_t status = dapper_ipc_recv(m, buf, cap - 1, &length, &kind, WAIT_SECONDS * 1000);
    buf[status == DAPPER_IPC_OK ? length : 0] = 0;
    return status;
}

/* The pings of session id, then ECHOES commands answered in order, each naming its
   session: 1 when every frame was this session's own. */
static int converse(dapper_ipc_manager m, const char *id, int pings)
{
    char buf[1024], want[256];
    int ok = 1;
    for (int i = 0; i < pings && ok; i++) {
        snprintf(want, sizeof want, "{\"event\":\"ping\",\"sessionId\":\"%s\",\"seq\":%d}", id, i);
        ok = take(m, buf, sizeof buf) == DAPPER_IPC_OK && strcmp(buf, want) == 0;
        if (!ok)
            printf("  session %s ping %d: got '%s' (%s)\n", id, i, buf, last_error());
    }
    for (int i = 0; i < ECHOES && ok; i++) {
        char command[128];
        int n = snprintf(command, sizeof command, "{\"command\":\"echo\",\"to\":\"%s\",\"seq\":%d}", id, i);
        ok = dapper_ipc_send(m, DAPPER_IPC_KIND_COMMAND, command, (size_t)n) == DAPPER_IPC_OK;
        snprintf(want, sizeof want, "{\"event\":\"echo\",\"sessionId\":\"%s\",\"of\":%s}", id, command);
        ok = ok && take(m, buf, sizeof buf) == DAPPER_IPC_OK && strcmp(buf, want) == 0;
        if (!ok)
            printf("  session %s echo %d: got '%s' (%s)\n", id, i, buf, last_error());
    }
    return ok;
}

static void say_exit(dapper_ipc_manager m)
{
    dapper_ipc_send(m, DAPPER_IPC_KIND_COMMAND, "{\"command\":\"exit\"}", 18);
}

/* ---- the log: what a refusal says ------------------------------------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_changed = PTHREAD_COND_INITIALIZER;
static char log_text[64 * 1024];
static size_t log_used;

static void on_log(void *user, int32_t level, const char *message)
{
    (void)user;
    if (level < DAPPER_IPC_LOG_WARNING)
        return;
    pthread_mutex_lock(&log_lock);
    size_t n = strlen(message);
    if (log_used + n + 2 < sizeof log_text) {
        memcpy(log_text + log_used, message, n);
        log_used += n;
        log_text[log_used++] = '\n';
        log_text[log_used] = 0;
    }
    pthread_cond_broadcast(&log_changed);
    pthread_mutex_unlock(&log_lock);
}

/* Waits until a warning line contains both needles; prints that line. */
static int logged(const char *needle, const char *also)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECONDS;
    int found = 0;
    pthread_mutex_lock(&log_lock);
    while (!found) {
        for (char *line = log_text; line != NULL && *line && !found;) {
            char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            char one[1024];
            snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one ? len : sizeof one - 1), line);
            if (strstr(one, needle) != NULL && (also == NULL || strstr(one, also) != NULL)) {
                found = 1;
                printf("  logged: %s\n", one);
            }
            line = end ? end + 1 : NULL;
        }
        if (!found && pthread_cond_timedwait(&log_changed, &log_lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&log_lock);
    return found;
}

/* ---- raw clients (this process, plain sockets): the peers that misbehave ---- */

static int connect_to(int domain, const struct sockaddr *address, socklen_t length)
{
    int fd = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, address, length) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int raw_connect(dapper_ipc_session_listener l)
{
    char *args[16];
    int argc = launcher_args(l, args);
    if (argc >= 4 && strcmp(args[1], "unix") == 0) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", args[3]);
        return connect_to(AF_UNIX, (struct sockaddr *)&a, sizeof a);
    }
    if (argc >= 6) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(args[5]))};
        inet_pton(AF_INET, args[3], &a.sin_addr);
        return connect_to(AF_INET, (struct sockaddr *)&a, sizeof a);
    }
    return -1;
}

static int raw_frame(int fd, int kind, const char *payload, uint32_t claimed)
{
    size_t n = strlen(payload);
    uint8_t header[8] = {'D', 'P', 1, (uint8_t)kind, (uint8_t)(claimed >> 24), (uint8_t)(claimed >> 16),
                         (uint8_t)(claimed >> 8), (uint8_t)claimed};
    return send(fd, header, 8, MSG_NOSIGNAL) == 8 && (n == 0 || send(fd, payload, n, MSG_NOSIGNAL) == (ssize_t)n);
}

static int raw_hello(int fd, const char *id)
{
    char hello[512];
    int n = hello_payload(hello, sizeof hello, id);
    return raw_frame(fd, DAPPER_IPC_KIND_EVENT, hello, (uint32_t)n);
}

/* The listener closed this client: end-of-file (or a reset) within WAIT_SECONDS. */
static int closed_by_listener(int fd)
{
    struct timeval tv = {.tv_sec = WAIT_SECONDS};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b;
    ssize_t n = recv(fd, &b, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* ---- the tests -------------------------------------------------------------- */

static int many_children(const char *transport)
{
    dapper_ipc_session_listener l = listening(transport, 0, 0);
    char ids[CHILDREN][32];
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        snprintf(ids[i], sizeof ids[i], "child-%02d", i);
        must(dapper_ipc_session_listener_expect(l, ids[i]), "expect");
    }
    /* All sixteen start at once; they connect in whatever order the OS runs them. */
    for (int i = 0; i < CHILDREN; i++)
        pids[i] = spawn_child(l, ids[i], PINGS);
    dapper_ipc_manager m[CHILDREN];
    for (int i = CHILDREN - 1; i >= 0; i--) { /* accepted in the reverse order */
        int32_t s = dapper_ipc_session_listener_accept(l, ids[i], WAIT_SECONDS * 1000, &m[i]);
        check(s == DAPPER_IPC_OK, "session %s accepted (%d %s)", ids[i], s, s ? last_error() : "");
        if (s != DAPPER_IPC_OK)
            return 1;
    }
    int all = 1;
    for (int i = 0; i < CHILDREN; i++) {
        char hello[512], want[64];
        size_t length = 0;
        must(dapper_ipc_session_hello(m[i], hello, sizeof hello, &length), "session_hello");
        snprintf(want, sizeof want, "\"sessionId\": \"%s\"", ids[i]);
        char pid[32];
        snprintf(pid, sizeof pid, "\"pid\": %d}", (int)pids[i]);
        all &= strstr(hello, want) != NULL && strstr(hello, pid) != NULL && length == strlen(hello) + 1;
    }
    check(all, "each manager's hello is its own child's (session id and pid)");
    /* Interleaved: one echo on each session in turn would hide nothing a sequence would. */
    int clean = 1;
    for (int i = 0; i < CHILDREN; i++)
        clean &= converse(m[i], ids[i], PINGS);
    check(clean, "%d sessions: %d pings and %d echoes each, every frame on its own session", CHILDREN, PINGS,
          ECHOES);
    for (int i = 0; i < CHILDREN; i++)
        say_exit(m[i]);
    int exited = 1;
    for (int i = 0; i < CHILDREN; i++)
        exited &= exited_cleanly(pids[i]);
    check(exited, "every child exited cleanly");
    for (int i = 0; i < CHILDREN; i++)
        dapper_ipc_manager_destroy(m[i]);
    must(dapper_ipc_session_listener_destroy(l), "session_listener_destroy");
    return 0;
}

static int test_sixteen_children_unix(void) { return many_children("unix"); }
static int test_sixteen_children_tcp(void) { return many_children("tcp"); }

static int test_refusals_leave_the_others_alone(void)
{
    dapper_ipc_set_log_callback(on_log, NULL, DAPPER_IPC_LOG_WARNING);
    dapper_ipc_session_listener l = listening("unix", 500, 512);
    must(dapper_ipc_session_listener_expect(l, "good-1"), "expect");
    must(dapper_ipc_session_listener_expect(l, "good-2"), "expect");
    pid_t p1 = spawn_child(l, "good-1", PINGS);
    dapper_ipc_manager m1, m2;
    must(dapper_ipc_session_listener_accept(l, "good-1", WAIT_SECONDS * 1000, &m1), "accept good-1");
    char mypid[32];
    snprintf(mypid, sizeof mypid, "(peer pid %d)", (int)getpid());

    int unknown = raw_connect(l);
    check(raw_hello(unknown, "stranger") && closed_by_listener(unknown), "an unknown session id is closed");
    check(logged("session 'stranger' was not expected", mypid), "... and logged with the peer's pid");

    int dup = raw_connect(l);
    check(raw_hello(dup, "good-1") && closed_by_listener(dup), "a duplicate of a connected session is closed");
    check(logged("duplicate hello: session 'good-1'", mypid), "... and logged");

    int command = raw_connect(l);
    check(raw_frame(command, DAPPER_IPC_KIND_COMMAND, "{\"command\":\"initialize\"}", 24) &&
              closed_by_listener(command),
          "a first frame that is a command is closed");
    check(logged("its first frame is of kind 2", NULL), "... and logged");

    int other = raw_connect(l);
    check(raw_frame(other, DAPPER_IPC_KIND_EVENT, "{\"event\":\"output\"}", 18) && closed_by_listener(other),
          "a first event that is not a hello is closed");
    check(logged("is not a session hello", NULL), "... and logged");

    int garbage = raw_connect(l);
    check(send(garbage, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL) == 18 && closed_by_listener(garbage),
          "bytes that are not a frame are closed");
    check(logged("not a DP v1 frame", NULL), "... and logged");

    int large = raw_connect(l);
    check(raw_frame(large, DAPPER_IPC_KIND_EVENT, "", 100000) && closed_by_listener(large),
          "a hello larger than the limit is closed unread");
    check(logged("larger than the limit of 512 bytes", NULL), "... and logged");

    int silent = raw_connect(l);
    check(silent >= 0 && closed_by_listener(silent), "a client silent until the deadline is closed");
    check(logged("no whole hello within 500 ms", NULL), "... and logged");

    /* The sessions go on: the first one, connected before all that, and one after. */
    pid_t p2 = spawn_child(l, "good-2", PINGS);
    must(dapper_ipc_session_listener_accept(l, "good-2", WAIT_SECONDS * 1000, &m2), "accept good-2");
    check(converse(m1, "good-1", PINGS) && converse(m2, "good-2", PINGS),
          "the session connected before the refusals and one connected after both work");
    say_exit(m1);
    say_exit(m2);
    check(exited_cleanly(p1) && exited_cleanly(p2), "both children exited cleanly");
    close(unknown);
    close(dup);
    close(command);
    close(other);
    close(garbage);
    close(large);
    close(silent);
    dapper_ipc_manager_destroy(m1);
    dapper_ipc_manager_destroy(m2);
    must(dapper_ipc_session_listener_destroy(l), "destroy");
    dapper_ipc_set_log_callback(NULL, NULL, DAPPER_IPC_LOG_WARNING);
    return 0;
}

static int32_t offer_only_friends(void *user, const char *session_id, const uint8_t *hello, size_t length)
{
    int *offers = user;
    __atomic_add_fetch(offers, 1, __ATOMIC_SEQ_CST);
    return strncmp(session_id, "friend-", 7) == 0 && memmem(hello, length, session_id, strlen(session_id)) != NULL;
}

static int test_offer_callback_accepts_and_refuses(void)
{
    dapper_ipc_set_log_callback(on_log, NULL, DAPPER_IPC_LOG_WARNING);
    dapper_ipc_session_listener l = listening("unix", 0, 0);
    int offers = 0;
    dapper_ipc_manager m;
    int32_t s = dapper_ipc_session_listener_accept(l, "friend-1", 0, &m);
    check(s == DAPPER_IPC_E_INVALID_STATE, "without an offer callback, accept of an id not expected: E_INVALID_STATE (%d)", s);
    must(dapper_ipc_session_listener_set_offer_callback(l, offer_only_friends, &offers), "set_offer_callback");
    int foe = raw_connect(l);
    check(raw_hello(foe, "foe-1") && closed_by_listener(foe), "the offer callback's refusal closes the client");
    check(logged("offer callback refused session 'foe-1'", NULL), "... and is logged");
    pid_t friend = spawn_child(l, "friend-1", PINGS);
    /* With a callback set, accept waits for an id nobody expected: it may be offered. */
    s = dapper_ipc_session_listener_accept(l, "friend-1", WAIT_SECONDS * 1000, &m);
    check(s == DAPPER_IPC_OK, "the session the callback accepted is accepted by id (%d %s)", s, s ? last_error() : "");
    check(s == DAPPER_IPC_OK && converse(m, "friend-1", PINGS), "and works");
    check(__atomic_load_n(&offers, __ATOMIC_SEQ_CST) == 2, "the callback was offered both sessions");
    if (s == DAPPER_IPC_OK) {
        say_exit(m);
        dapper_ipc_manager_destroy(m);
    }
    check(exited_cleanly(friend), "the child exited cleanly");
    close(foe);
    must(dapper_ipc_session_listener_destroy(l), "destroy");
    dapper_ipc_set_log_callback(NULL, NULL, DAPPER_IPC_LOG_WARNING);
    return 0;
}

static int test_a_child_that_dies(void)
{
    dapper_ipc_session_listener l = listening("unix", 0, 0);
    must(dapper_ipc_session_listener_expect(l, "doomed"), "expect");
    must(dapper_ipc_session_listener_expect(l, "survivor"), "expect");
    pid_t doomed = spawn_child(l, "doomed", 1);
    pid_t survivor = spawn_child(l, "survivor", PINGS);
    dapper_ipc_manager md, ms;
    must(dapper_ipc_session_listener_accept(l, "doomed", WAIT_SECONDS * 1000, &md), "accept doomed");
    must(dapper_ipc_session_listener_accept(l, "survivor", WAIT_SECONDS * 1000, &ms), "accept survivor");
    char buf[512];
    check(take(md, buf, sizeof buf) == DAPPER_IPC_OK, "the doomed child's ping arrived");
    kill(doomed, SIGKILL);
    int status = 0;
    waitpid(doomed, &status, 0);
    int32_t s = take(md, buf, sizeof buf);
    check(s == DAPPER_IPC_E_CLOSED, "its session sees the connection end: E_CLOSED (%d)", s);
    int32_t connected = 1;
    dapper_ipc_is_connected(md, &connected);
    check(connected == 0, "and is not connected");
    check(converse(ms, "survivor", PINGS), "the other session goes on");
    say_exit(ms);
    check(exited_cleanly(survivor), "the survivor exited cleanly");
    dapper_ipc_manager_destroy(md);
    dapper_ipc_manager_destroy(ms);
    must(dapper_ipc_session_listener_destroy(l), "destroy");
    return 0;
}

/* Messages delivered by the readers of every open session, and disconnects reported. */
struct counted {
    struct latch messages;
    int disconnects;
};

static void on_counted_message(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    struct counted *c = user;
    (void)kind, (void)payload, (void)length;
    latch_add(&c->messages, 1);
}

static void on_counted_state(void *user, int32_t event, int32_t status, const char *reason)
{
    struct counted *c = user;
    (void)status, (void)reason;
    if (event == DAPPER_IPC_EVENT_DISCONNECTED)
        __atomic_add_fetch(&c->disconnects, 1, __ATOMIC_SEQ_CST);
}

static int test_destroy_with_sessions_open(void)
{
    dapper_ipc_session_listener l = listening("unix", 0, 0);
    char *args[16];
    launcher_args(l, args);
    char path[512];
    snprintf(path, sizeof path, "%s", args[3]);
    enum { OPEN = 3 };
    const char *ids[OPEN] = {"open-a", "open-b", "open-c"};
    pid_t pids[OPEN];
    dapper_ipc_manager m[OPEN];
    struct counted c = {LATCH_INIT, 0};
    for (int i = 0; i < OPEN; i++) {
        must(dapper_ipc_session_listener_expect(l, ids[i]), "expect");
        pids[i] = spawn_child(l, ids[i], 1);
        must(dapper_ipc_session_listener_accept(l, ids[i], WAIT_SECONDS * 1000, &m[i]), "accept");
        must(dapper_ipc_set_callback(m[i], on_counted_message, on_counted_state, &c), "set_callback");
        must(dapper_ipc_start_reader(m[i]), "start_reader");
    }
    check(latch_wait(&c.messages, OPEN, WAIT_SECONDS), "each open session's reader delivered its ping");
    /* An expected session whose child is connected but not accepted is ended too. */
    must(dapper_ipc_session_listener_expect(l, "never-accepted"), "expect");
    int waiting = raw_connect(l);
    raw_hello(waiting, "never-accepted");

    must(dapper_ipc_session_listener_destroy(l), "destroy with sessions open");
    int exited = 1;
    for (int i = 0; i < OPEN; i++)
        exited &= exited_cleanly(pids[i]);
    check(exited, "every child saw end-of-file and exited");
    check(closed_by_listener(waiting), "the client never accepted is closed");
    int all_closed = 1;
    for (int i = 0; i < OPEN; i++) {
        int32_t connected = 1;
        dapper_ipc_is_connected(m[i], &connected);
        all_closed &= connected == 0 && dapper_ipc_send(m[i], DAPPER_IPC_KIND_COMMAND, "{}", 2) != DAPPER_IPC_OK;
    }
    check(all_closed, "every session's manager is cleaned up (not connected, sends fail)");
    check(__atomic_load_n(&c.disconnects, __ATOMIC_SEQ_CST) == 0,
          "a close the host asked for is not reported as a disconnect");
    check(access(path, F_OK) != 0, "the socket file is gone");
    int destroyed = 1;
    for (int i = 0; i < OPEN; i++)
        destroyed &= dapper_ipc_manager_destroy(m[i]) == DAPPER_IPC_OK;
    check(destroyed, "the session handles stay valid until destroyed");
    close(waiting);
    return 0;
}

static int one_cycle(dapper_ipc_session_listener l, int i)
{
    char id[32], buf[256];
    snprintf(id, sizeof id, "cycle-%d", i);
    dapper_ipc_manager m;
    if (dapper_ipc_session_listener_expect(l, id) != DAPPER_IPC_OK)
        return 0;
    int fd = raw_connect(l);
    int ok = fd >= 0 && raw_hello(fd, id) && raw_frame(fd, DAPPER_IPC_KIND_EVENT, "{\"event\":\"x\"}", 13) &&
             dapper_ipc_session_listener_accept(l, id, WAIT_SECONDS * 1000, &m) == DAPPER_IPC_OK;
    if (!ok)
        return 0;
    ok = take(m, buf, sizeof buf) == DAPPER_IPC_OK && strcmp(buf, "{\"event\":\"x\"}") == 0 &&
         dapper_ipc_send(m, DAPPER_IPC_KIND_COMMAND, "{}", 2) == DAPPER_IPC_OK;
    uint8_t frame[10];
    ok = ok && recv(fd, frame, sizeof frame, MSG_WAITALL) == (ssize_t)sizeof frame;
    close(fd); /* the launcher leaves first, so cleanup has no linger to wait out */
    dapper_ipc_manager_destroy(m);
    return ok;
}

static int test_cycles_leave_nothing_behind(void)
{
    const char *env = getenv("DAPPER_IPC_SESSION_CYCLES");
    int cycles = env != NULL ? atoi(env) : 1000;
    char tmp[] = "/tmp/dsess-cycles-XXXXXX";
    if (mkdtemp(tmp) == NULL)
        return 1;
    setenv("TMPDIR", tmp, 1); /* before the runtime starts: it reads TMPDIR once */
    /* Warm-up: the runtime's one-time threads and allocations. */
    dapper_ipc_session_listener l = listening("unix", 0, 0);
    for (int i = 0; i < 50; i++)
        one_cycle(l, i);
    must(dapper_ipc_session_listener_destroy(l), "destroy");
    int fds0 = count_dir("/proc/self/fd", NULL), threads0 = count_dir("/proc/self/task", NULL);
    int files0 = count_dir(tmp, "dapper-");
    check(fds0 > 0 && threads0 > 0, "the counts are readable here (fds %d, threads %d)", fds0, threads0);

    l = listening("unix", 0, 0);
    check(count_dir(tmp, "dapper-") == files0 + 1, "the listener made its private directory");
    int ok = 1;
    for (int i = 0; i < cycles && ok; i++)
        ok = one_cycle(l, 1000 + i);
    check(ok, "%d cycles of expect, connect, hello, one frame each way, cleanup on one listener", cycles);
    must(dapper_ipc_session_listener_destroy(l), "destroy");
    int fds1 = count_dir("/proc/self/fd", NULL), threads1 = count_dir("/proc/self/task", NULL);
    int files1 = count_dir(tmp, "dapper-");
    check(fds1 == fds0, "open file descriptors: %d before, %d after", fds0, fds1);
    check(threads1 == threads0, "threads: %d before, %d after", threads0, threads1);
    check(files1 == files0, "dapper-* entries in %s: %d before, %d after", tmp, files0, files1);
    rmdir(tmp);
    return 0;
}

static int test_bad_arguments(void)
{
    dapper_ipc_session_listener l;
    must(dapper_ipc_session_listener_create(&l), "create");
    dapper_ipc_manager m;
    check(dapper_ipc_session_listener_create(NULL) == DAPPER_IPC_E_INVALID_ARGUMENT, "create(NULL)");
    check(dapper_ipc_session_listener_expect(l, NULL) == DAPPER_IPC_E_INVALID_ARGUMENT, "expect(NULL)");
    check(dapper_ipc_session_listener_expect(l, "") == DAPPER_IPC_E_INVALID_ARGUMENT, "expect(\"\")");
    check(dapper_ipc_session_listener_expect(l, "\xff") == DAPPER_IPC_E_INVALID_ARGUMENT, "expect(not UTF-8)");
    check(dapper_ipc_session_listener_accept(l, "x", 0, NULL) == DAPPER_IPC_E_INVALID_ARGUMENT, "accept(NULL out)");
    check(dapper_ipc_session_listener_set_hello_limits(l, -1, 0) == DAPPER_IPC_E_INVALID_ARGUMENT,
          "a negative hello timeout");
    check(dapper_ipc_session_listener_launcher_args(l, NULL, 0, NULL, NULL) == DAPPER_IPC_E_INVALID_STATE,
          "launcher_args before listen");
    must(dapper_ipc_session_listener_expect(l, "once"), "expect before listen");
    check(dapper_ipc_session_listener_expect(l, "once") == DAPPER_IPC_E_INVALID_STATE, "expect twice");
    check(dapper_ipc_session_listener_accept(l, "once", 0, &m) == DAPPER_IPC_E_TIMEOUT && m.id == 0,
          "accept with nobody there: E_TIMEOUT, the handle zeroed");
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "pipe";
    check(dapper_ipc_session_listener_listen(l, &config) == DAPPER_IPC_E_UNSUPPORTED, "the pipe transport");
    must(dapper_ipc_session_listener_listen(l, NULL), "listen with the defaults");
    check(dapper_ipc_session_listener_listen(l, NULL) == DAPPER_IPC_E_INVALID_STATE, "listen twice");
    check(dapper_ipc_session_listener_auth_token(l, NULL, 0, NULL) == DAPPER_IPC_E_INVALID_STATE,
          "auth_token without REQUIRE_AUTH");
    dapper_ipc_manager plain;
    dapper_ipc_manager_create(&plain);
    check(dapper_ipc_session_hello(plain, NULL, 0, NULL) == DAPPER_IPC_E_INVALID_STATE,
          "session_hello of a manager no listener made");
    dapper_ipc_manager_destroy(plain);
    must(dapper_ipc_session_listener_destroy(l), "destroy");
    check(dapper_ipc_session_listener_destroy(l) == DAPPER_IPC_E_INVALID_HANDLE, "destroy twice");
    return 0;
}

static int test_auth_before_hello(void)
{
    dapper_ipc_session_listener l;
    must(dapper_ipc_session_listener_create(&l), "create");
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.flags = DAPPER_IPC_FLAG_REQUIRE_AUTH;
    must(dapper_ipc_session_listener_listen(l, &config), "listen with REQUIRE_AUTH");
    char token[128];
    must(dapper_ipc_session_listener_auth_token(l, token, sizeof token, NULL), "auth_token");
    must(dapper_ipc_session_listener_expect(l, "authed"), "expect");
    must(dapper_ipc_session_listener_expect(l, "tokenless"), "expect");
    int bare = raw_connect(l);
    check(raw_hello(bare, "tokenless") && closed_by_listener(bare), "a hello without the token first is closed");
    setenv(DAPPER_IPC_AUTH_TOKEN_ENV, token, 1);
    pid_t child = spawn_child(l, "authed", PINGS);
    unsetenv(DAPPER_IPC_AUTH_TOKEN_ENV);
    dapper_ipc_manager m;
    must(dapper_ipc_session_listener_accept(l, "authed", WAIT_SECONDS * 1000, &m), "accept");
    check(converse(m, "authed", PINGS), "a child with the token in its environment is routed and works");
    say_exit(m);
    check(exited_cleanly(child), "the child exited cleanly");
    close(bare);
    dapper_ipc_manager_destroy(m);
    must(dapper_ipc_session_listener_destroy(l), "destroy");
    return 0;
}

int main(int argc, char **argv)
{
    test_program_init(argv[0]);
    if (argc >= 4 && strcmp(argv[1], "child") == 0)
        return child_main(argc, argv);

    static const struct named_test tests[] = {
        {"sixteen-children-unix", test_sixteen_children_unix},
        {"sixteen-children-tcp", test_sixteen_children_tcp},
        {"refusals-leave-the-others-alone", test_refusals_leave_the_others_alone},
        {"offer-callback-accepts-and-refuses", test_offer_callback_accepts_and_refuses},
        {"a-child-that-dies", test_a_child_that_dies},
        {"destroy-with-sessions-open", test_destroy_with_sessions_open},
        {"cycles-leave-nothing-behind", test_cycles_leave_nothing_behind},
        {"bad-arguments", test_bad_arguments},
        {"auth-before-hello", test_auth_before_hello},
    };
    return run_named_test("sessions", argc, argv, tests, sizeof tests / sizeof tests[0]);
}
