/*
 * Transports a host brings, through the C ABI: dapper_ipc_adopt over a socketpair and a
 * pipe pair (owned handles closed exactly once, borrowed ones left open), transports
 * registered with dapper_ipc_register_transport (an in-memory queue pair and a wrapped
 * tcp socket, test_plugins.h), each running the shared transport suite
 * (transport_suite.h) that the library's own unix and tcp run too, plugin ops that fail
 * or block, and the stdio transport between this program and a copy of itself.
 */
#include "check.h"
#include "transport_suite.h"
#include "test_plugins.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

static int is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

static void register_plugins(void)
{
    static int done;
    if (done++)
        return;
    dapper_ipc_transport_ops m = memq_ops, t = tcpwrap_ops;
    must(dapper_ipc_register_transport("memq", &m, NULL), "register memq");
    must(dapper_ipc_register_transport("tcpwrap", &t, NULL), "register tcpwrap");
}

static int connect_unix(dapper_ipc_manager a, dapper_ipc_manager b) { return suite_listen_connect(a, b, "unix", NULL); }
static int connect_tcp(dapper_ipc_manager a, dapper_ipc_manager b) { return suite_listen_connect(a, b, "tcp", NULL); }
static int connect_memq(dapper_ipc_manager a, dapper_ipc_manager b) { return suite_listen_connect(a, b, "memq", NULL); }
static int connect_tcpwrap(dapper_ipc_manager a, dapper_ipc_manager b) { return suite_listen_connect(a, b, "tcpwrap", NULL); }

static int connect_socketpair(dapper_ipc_manager a, dapper_ipc_manager b)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    if (dapper_ipc_adopt(a, sv[0], sv[0], 0) != DAPPER_IPC_OK || dapper_ipc_adopt(b, sv[1], sv[1], 0) != DAPPER_IPC_OK) {
        printf("FAILED: adopt: %s\n", last_error());
        return -1;
    }
    return 0;
}

static int connect_pipes(dapper_ipc_manager a, dapper_ipc_manager b)
{
    int ab[2], ba[2];
    if (pipe(ab) != 0 || pipe(ba) != 0)
        return -1;
    if (dapper_ipc_adopt(a, ba[0], ab[1], 0) != DAPPER_IPC_OK || dapper_ipc_adopt(b, ab[0], ba[1], 0) != DAPPER_IPC_OK) {
        printf("FAILED: adopt: %s\n", last_error());
        return -1;
    }
    return 0;
}

static int test_suite_unix(void) { run_transport_suite("unix", connect_unix); return 0; }
static int test_suite_tcp(void) { run_transport_suite("tcp", connect_tcp); return 0; }
static int test_suite_adopted_socketpair(void) { run_transport_suite("adopted socketpair", connect_socketpair); return 0; }
static int test_suite_adopted_pipes(void) { run_transport_suite("adopted pipe pair", connect_pipes); return 0; }

static int test_suite_plugin_memq(void)
{
    register_plugins();
    run_transport_suite("plugin memq", connect_memq);
    return 0;
}

static int test_suite_plugin_tcpwrap(void)
{
    register_plugins();
    run_transport_suite("plugin tcpwrap", connect_tcpwrap);
    return 0;
}

/* A socketpair and two pipes, adopted with flags: manager s over the socket's end sv[0],
   manager p reading ba[0] and writing ab[1]; the other ends stay the test's. */
static void adopt_socket_and_pipes(int sv[2], int ab[2], int ba[2], dapper_ipc_manager *s, dapper_ipc_manager *p, int32_t flags)
{
    must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0 ? 0 : -1, "socketpair");
    must(pipe(ab) == 0 && pipe(ba) == 0 ? 0 : -1, "pipe");
    must(dapper_ipc_manager_create(s), "create");
    must(dapper_ipc_manager_create(p), "create");
    must(dapper_ipc_adopt(*s, sv[0], sv[0], flags), "adopt socket");
    must(dapper_ipc_adopt(*p, ba[0], ab[1], flags), "adopt pipes");
}

/* Owned: closed at cleanup, and only then: a descriptor that reuses the number afterwards
   survives the manager's destroy. The peer reads end-of-file. */
static int test_adopt_owned_closed_exactly_once(void)
{
    int sv[2], ab[2], ba[2];
    dapper_ipc_manager s, p;
    adopt_socket_and_pipes(sv, ab, ba, &s, &p, 0);
    check(is_open(sv[0]) && is_open(ba[0]) && is_open(ab[1]), "adopted descriptors stay open while connected");
    dapper_ipc_cleanup(s);
    dapper_ipc_cleanup(p);
    check(!is_open(sv[0]) && errno == EBADF, "the owned socket is closed at cleanup");
    check(!is_open(ba[0]) && !is_open(ab[1]), "both owned pipe ends are closed at cleanup");
    char c;
    check(recv(sv[1], &c, 1, 0) == 0, "the socket's peer reads end-of-file");
    check(read(ab[0], &c, 1) == 0, "the pipe's reader reads end-of-file");
    /* The numbers are free now: take them back and see that nothing closes them again. */
    int reuse[3];
    for (int i = 0; i < 3; i++)
        reuse[i] = open("/dev/null", O_RDONLY);
    int reused = 0;
    for (int i = 0; i < 3; i++)
        reused += reuse[i] == sv[0] || reuse[i] == ba[0] || reuse[i] == ab[1];
    dapper_ipc_cleanup(s);
    dapper_ipc_cleanup(p);
    dapper_ipc_manager_destroy(s);
    dapper_ipc_manager_destroy(p);
    check(reused == 3, "the three freed numbers were reused (%d of 3)", reused);
    check(is_open(reuse[0]) && is_open(reuse[1]) && is_open(reuse[2]),
          "a second cleanup and destroy close nothing more (the reused descriptors are open)");
    for (int i = 0; i < 3; i++)
        close(reuse[i]);
    close(sv[1]);
    close(ab[0]);
    close(ba[1]);

    /* An owned handle is closed whatever adopt returns: here the manager is busy. */
    int sv2[2];
    must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv2) == 0 ? 0 : -1, "socketpair");
    dapper_ipc_manager busy = new_manager("create");
    int sv3[2];
    must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv3) == 0 ? 0 : -1, "socketpair");
    must(dapper_ipc_adopt(busy, sv3[0], sv3[0], 0), "adopt");
    int32_t rc = dapper_ipc_adopt(busy, sv2[0], sv2[0], 0);
    check(rc == DAPPER_IPC_E_INVALID_STATE && !is_open(sv2[0]),
          "adopt into a connected manager: E_INVALID_STATE, and the owned handle is closed (%d)", rc);
    rc = dapper_ipc_adopt(busy, sv2[1], sv2[1], 0x80);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT && !is_open(sv2[1]), "unknown flag bits: E_INVALID_ARGUMENT, closed (%d)", rc);
    dapper_ipc_manager_destroy(busy);
    close(sv3[1]);
    return 0;
}

/* Borrowed: cleanup ends the stream but the descriptors stay the host's. */
static int test_adopt_borrowed_stays_open(void)
{
    int sv[2], ab[2], ba[2];
    dapper_ipc_manager s, p;
    adopt_socket_and_pipes(sv, ab, ba, &s, &p, DAPPER_IPC_ADOPT_BORROW);
    must(dapper_ipc_send(s, DAPPER_IPC_KIND_EVENT, "hi", 2), "send");
    must(dapper_ipc_send(p, DAPPER_IPC_KIND_EVENT, "hi", 2), "send");
    dapper_ipc_manager_destroy(s);
    dapper_ipc_manager_destroy(p);
    check(is_open(sv[0]) && is_open(ba[0]) && is_open(ab[1]), "borrowed descriptors are open after destroy");
    char frame[10];
    check(recv(sv[1], frame, sizeof frame, MSG_WAITALL) == 10 && memcmp(frame + 8, "hi", 2) == 0,
          "the frame sent over the borrowed socket arrived");
    check(read(ab[0], frame, sizeof frame) == 10 && memcmp(frame + 8, "hi", 2) == 0,
          "the frame sent over the borrowed pipe arrived");
    /* The pipe was never closed by the library: the host's write still reaches the reader. */
    check(write(ab[1], "z", 1) == 1 && read(ab[0], frame, 1) == 1 && frame[0] == 'z',
          "the host still uses the borrowed pipe after destroy");
    int fds[] = {sv[0], sv[1], ab[0], ab[1], ba[0], ba[1]};
    for (int i = 0; i < 6; i++)
        check(close(fds[i]) == 0, "the host closes descriptor %d itself", fds[i]);
    return 0;
}

/* The pull mode's handle over an adopted pipe pair: readable once a frame waits, and recv
   with a timeout returns E_TIMEOUT, then the frame. */
static int test_adopt_pipes_pull_handle(void)
{
    dapper_ipc_manager a, b;
    must(suite_pair(connect_pipes, &a, &b), "connect pipes");
    intptr_t handle = -1;
    int32_t rc = dapper_ipc_readable_handle(b, &handle);
    check(rc == DAPPER_IPC_OK && handle >= 0, "readable_handle over adopted pipes (%d %s)", rc, last_error());
    char buf[16];
    size_t length;
    rc = dapper_ipc_recv(b, buf, sizeof buf, &length, NULL, 0);
    check(rc == DAPPER_IPC_E_TIMEOUT, "recv with timeout 0 and nothing sent: E_TIMEOUT (%d)", rc);
    struct pollfd p = {(int)handle, POLLIN, 0};
    check(poll(&p, 1, 0) == 0, "the handle is not readable while nothing waits");
    must(dapper_ipc_send(a, DAPPER_IPC_KIND_EVENT, "ready", 5), "send");
    check(poll(&p, 1, WAIT_SECONDS * 1000) == 1, "the handle turns readable when a frame arrives");
    rc = dapper_ipc_recv(b, buf, sizeof buf, &length, NULL, 0);
    check(rc == DAPPER_IPC_OK && length == 5 && memcmp(buf, "ready", 5) == 0, "recv(0) then takes it (%d)", rc);
    suite_done(a, b);
    return 0;
}

/* 300 cycles of adopt, a frame each way, destroy (pipes, socketpairs, a plugin): no
   descriptor or thread is left behind (the pipes' wake pipes included). */
static int test_no_leaks(void)
{
    register_plugins();
    suite_connect_fn kinds[] = {connect_pipes, connect_socketpair, connect_memq};
    for (int warm = 0; warm < 2; warm++) { /* the runtime's own threads and descriptors start on first use */
        for (int k = 0; k < 3; k++) {
            dapper_ipc_manager a, b;
            must(suite_pair(kinds[k], &a, &b), "connect");
            suite_done(a, b);
        }
    }
    int fds = count_dir("/proc/self/fd", NULL), threads = count_dir("/proc/self/task", NULL);
    int ok = 1;
    for (int i = 0; i < 300 && ok; i++) {
        dapper_ipc_manager a, b;
        ok = suite_pair(kinds[i % 3], &a, &b) == 0;
        char buf[8];
        size_t length;
        ok = ok && dapper_ipc_send(a, DAPPER_IPC_KIND_COMMAND, "x", 1) == 0 &&
             dapper_ipc_recv(b, buf, sizeof buf, &length, NULL, -1) == 0 &&
             dapper_ipc_send(b, DAPPER_IPC_KIND_EVENT, "y", 1) == 0 &&
             dapper_ipc_recv(a, buf, sizeof buf, &length, NULL, -1) == 0;
        suite_done(a, b);
    }
    check(ok, "300 cycles of adopt (pipes, socketpair) and a registered transport, a frame each way");
    int fds_after = count_dir("/proc/self/fd", NULL), threads_after = count_dir("/proc/self/task", NULL);
    check(fds_after == fds, "no descriptor left behind (%d before, %d after)", fds, fds_after);
    /* One thread of slack for the runtime's own (a pool thread it may start late); a leak
       per cycle would leave hundreds. */
    check(threads_after <= threads + 1, "no thread left behind (%d before, %d after)", threads, threads_after);
    return 0;
}

static int test_adopt_bad_input(void)
{
    dapper_ipc_manager m = new_manager("create");
    int32_t rc = dapper_ipc_adopt(m, -1, -1, DAPPER_IPC_ADOPT_BORROW);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT, "a negative handle: E_INVALID_ARGUMENT (%d %s)", rc, last_error());
    int fd = open("/dev/null", O_RDONLY);
    close(fd);
    rc = dapper_ipc_adopt(m, fd, fd, DAPPER_IPC_ADOPT_BORROW);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT && strstr(last_error(), "not open") != NULL,
          "a closed descriptor: E_INVALID_ARGUMENT naming it (%d %s)", rc, last_error());
    int sv[2];
    must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0 ? 0 : -1, "socketpair");
    rc = dapper_ipc_adopt(m, sv[0], sv[1], DAPPER_IPC_ADOPT_BORROW);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT, "two different sockets: E_INVALID_ARGUMENT (%d %s)", rc, last_error());
    /* A borrowed socket offered to a busy manager: refused before the library touches it. */
    dapper_ipc_manager busy = new_manager("create");
    int other[2];
    must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other) == 0 ? 0 : -1, "socketpair");
    must(dapper_ipc_adopt(busy, other[0], other[0], 0), "adopt");
    rc = dapper_ipc_adopt(busy, sv[0], sv[0], DAPPER_IPC_ADOPT_BORROW);
    char c = 0;
    check(rc == DAPPER_IPC_E_INVALID_STATE && send(sv[0], "k", 1, 0) == 1 && recv(sv[1], &c, 1, 0) == 1 && c == 'k',
          "a busy manager refuses a borrowed socket and leaves it working, not shut down (%d)", rc);
    dapper_ipc_manager_destroy(busy);
    close(other[1]);
    dapper_ipc_manager bogus = {0};
    rc = dapper_ipc_adopt(bogus, sv[0], sv[0], DAPPER_IPC_ADOPT_BORROW);
    check(rc == DAPPER_IPC_E_INVALID_HANDLE && is_open(sv[0]), "a bogus manager: E_INVALID_HANDLE, borrowed left open (%d)", rc);
    close(sv[0]);
    close(sv[1]);
    dapper_ipc_manager_destroy(m);
    return 0;
}

static int test_plugin_names(void)
{
    register_plugins();
    dapper_ipc_transport_ops ops = memq_ops;
    const char *builtin[] = {"unix", "TCP", "pipe", "ws", "auto", "stdio"};
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        int32_t rc = dapper_ipc_register_transport(builtin[i], &ops, NULL);
        check(rc == DAPPER_IPC_E_INVALID_ARGUMENT && strstr(last_error(), "built-in") != NULL,
              "registering '%s' is refused: a built-in cannot be replaced (%d %s)", builtin[i], rc, last_error());
    }
    int32_t rc = dapper_ipc_register_transport("memq", &ops, NULL);
    check(rc == DAPPER_IPC_E_INVALID_STATE, "registering memq twice: E_INVALID_STATE (%d)", rc);
    rc = dapper_ipc_register_transport("bad name!", &ops, NULL);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT, "a name with a space and '!': E_INVALID_ARGUMENT (%d)", rc);
    dapper_ipc_transport_ops small = ops;
    small.struct_size = 4;
    rc = dapper_ipc_register_transport("small", &small, NULL);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT, "struct_size too small: E_INVALID_ARGUMENT (%d)", rc);
    dapper_ipc_transport_ops no_read = ops;
    no_read.read = NULL;
    rc = dapper_ipc_register_transport("noread", &no_read, NULL);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT, "no read op: E_INVALID_ARGUMENT (%d)", rc);
    rc = dapper_ipc_register_transport(NULL, &ops, NULL);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT, "NULL name: E_INVALID_ARGUMENT (%d)", rc);
    rc = dapper_ipc_register_transport("x", NULL, NULL);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT, "NULL ops: E_INVALID_ARGUMENT (%d)", rc);
    dapper_ipc_manager m = new_manager("create");
    dapper_ipc_config config = config_for("nosuch");
    rc = dapper_ipc_create_listener(m, &config);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT && strstr(last_error(), "memq") != NULL,
          "an unknown transport lists the registered ones (%d %s)", rc, last_error());
    config.transport = "memq";
    config.path = "nobody-listens-here";
    rc = dapper_ipc_connect(m, &config);
    check(rc == DAPPER_IPC_E_CONNECTION_REFUSED && strstr(last_error(), "connect") != NULL,
          "the plugin's connect status comes back with the op named (%d %s)", rc, last_error());
    dapper_ipc_manager_destroy(m);
    return 0;
}

/* ---- ops that fail or block: memq with a switch in front of read and write. */

static volatile int faulty_read_fails, faulty_write_fails;
static struct latch stuck_entered = LATCH_INIT;
static volatile int stuck_writes;

static intptr_t faulty_read(void *user, void *c, void *buf, size_t cap)
{
    if (faulty_read_fails)
        return DAPPER_IPC_E_IO;
    return memq_read(user, c, buf, cap);
}

/* When stuck_writes is set: blocks until shutdown, as a write to a peer that stopped reading. */
static intptr_t faulty_write(void *user, void *c, const void *buf, size_t len)
{
    if (faulty_write_fails)
        return DAPPER_IPC_E_IO;
    if (stuck_writes) {
        struct memq_end *e = c;
        pthread_mutex_lock(&e->pair->lock);
        latch_add(&stuck_entered, 1);
        while (!e->shut)
            pthread_cond_wait(&e->pair->cond, &e->pair->lock);
        pthread_mutex_unlock(&e->pair->lock);
        return DAPPER_IPC_E_CLOSED;
    }
    return memq_write(user, c, buf, len);
}

static void register_faulty(void)
{
    static int done;
    if (done++)
        return;
    register_plugins();
    dapper_ipc_transport_ops ops = memq_ops;
    ops.read = faulty_read;
    ops.write = faulty_write;
    must(dapper_ipc_register_transport("faulty", &ops, NULL), "register faulty");
}

static int connect_faulty(dapper_ipc_manager a, dapper_ipc_manager b) { return suite_listen_connect(a, b, "faulty", NULL); }

struct disconnect_seen {
    struct latch latch;
    int32_t status;
    char reason[256];
};

static void record_state(void *user, int32_t event, int32_t status, const char *reason)
{
    struct disconnect_seen *d = user;
    if (event == DAPPER_IPC_EVENT_DISCONNECTED) {
        d->status = status;
        snprintf(d->reason, sizeof d->reason, "%s", reason ? reason : "");
        latch_add(&d->latch, 1);
    }
}

static void ignore_message(void *user, int32_t kind, const uint8_t *data, size_t length)
{
    (void)user;
    (void)kind;
    (void)data;
    (void)length;
}

static int test_plugin_op_fails(void)
{
    register_faulty();
    dapper_ipc_manager a, b;
    must(suite_pair(connect_faulty, &a, &b), "connect faulty");
    struct disconnect_seen seen = {LATCH_INIT, 0, ""};
    must(dapper_ipc_set_callback(b, ignore_message, record_state, &seen), "set_callback");
    faulty_read_fails = 1;
    must(dapper_ipc_start_reader(b), "start_reader");
    check(latch_wait(&seen.latch, 1, WAIT_SECONDS) && seen.status == DAPPER_IPC_E_IO &&
              strstr(seen.reason, "faulty") != NULL && strstr(seen.reason, "read") != NULL,
          "a read op failing ends the connection: DISCONNECTED, E_IO, reason '%s'", seen.reason);
    faulty_read_fails = 0;
    faulty_write_fails = 1;
    int32_t rc = dapper_ipc_send(a, DAPPER_IPC_KIND_COMMAND, "x", 1);
    check(rc == DAPPER_IPC_E_IO && strstr(last_error(), "write") != NULL,
          "a write op failing fails the send with its status and the op named (%d %s)", rc, last_error());
    faulty_write_fails = 0;
    rc = dapper_ipc_send(a, DAPPER_IPC_KIND_COMMAND, "x", 1);
    check(rc == DAPPER_IPC_E_CLOSED, "a write that cut a frame closed the connection: the next send is E_CLOSED (%d)", rc);
    suite_done(a, b);
    return 0;
}

struct blocked_send {
    dapper_ipc_manager m;
    int32_t rc;
    struct latch done;
};

static void *send_blocking(void *arg)
{
    struct blocked_send *s = arg;
    s->rc = dapper_ipc_send(s->m, DAPPER_IPC_KIND_COMMAND, "stuck", 5);
    latch_add(&s->done, 1);
    return NULL;
}

struct cleanup_call {
    dapper_ipc_manager m;
    struct latch done;
};

static void *cleanup_thread(void *arg)
{
    struct cleanup_call *c = arg;
    dapper_ipc_cleanup(c->m);
    latch_add(&c->done, 1);
    return NULL;
}

static int test_plugin_op_blocks(void)
{
    register_faulty();
    dapper_ipc_manager a, b;
    must(suite_pair(connect_faulty, &a, &b), "connect faulty");
    /* A read blocked on a silent peer: cleanup returns (shutdown woke the read). */
    must(dapper_ipc_set_callback(b, ignore_message, NULL, NULL), "set_callback");
    must(dapper_ipc_start_reader(b), "start_reader");
    struct cleanup_call c = {b, LATCH_INIT};
    pthread_t t;
    pthread_create(&t, NULL, cleanup_thread, &c);
    check(latch_wait(&c.done, 1, WAIT_SECONDS), "cleanup of a manager whose read op blocks returns");
    pthread_join(t, NULL);

    /* A write blocked (the peer stopped reading): cleanup wakes it, the send fails. */
    stuck_writes = 1;
    struct blocked_send s = {a, 99, LATCH_INIT};
    pthread_create(&t, NULL, send_blocking, &s);
    check(latch_wait(&stuck_entered, 1, WAIT_SECONDS), "the write op is blocked");
    struct cleanup_call c2 = {a, LATCH_INIT};
    pthread_t t2;
    pthread_create(&t2, NULL, cleanup_thread, &c2);
    check(latch_wait(&c2.done, 1, WAIT_SECONDS), "cleanup of a manager whose write op blocks returns");
    check(latch_wait(&s.done, 1, WAIT_SECONDS) && s.rc == DAPPER_IPC_E_CLOSED,
          "the blocked send fails with E_CLOSED (%d)", s.rc);
    pthread_join(t, NULL);
    pthread_join(t2, NULL);
    stuck_writes = 0;
    suite_done(a, b);
    return 0;
}

/* ---- stdio: this program spawns itself as the launcher side. */

#define STDIO_FRAMES 10000

/* The child: connect over its own stdin/stdout, print to stdout the whole time, echo
   every frame and send its own. */
static int stdio_child(void)
{
    dapper_ipc_manager m = new_manager("create");
    const char *argv[] = {"launcher", "--ipc", "stdio"};
    must(dapper_ipc_connect_argv(m, 3, argv), "connect_argv --ipc stdio");
    for (int i = 0; i < STDIO_FRAMES; i++) {
        char buf[64];
        size_t length;
        printf("stray printf %d\n", i); /* must land on stderr, not in the stream */
        if (i % 100 == 0)
            fflush(stdout);
        must(dapper_ipc_recv(m, buf, sizeof buf, &length, NULL, -1), "recv");
        must(dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, buf, length), "echo");
        int n = snprintf(buf, sizeof buf, "child %d", i);
        must(dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, buf, (size_t)n), "send");
    }
    fflush(stdout);
    dapper_ipc_manager_destroy(m);
    return 0;
}

static int test_stdio_spawned_child(void)
{
    int to_child[2], from_child[2];
    must(pipe(to_child) == 0 && pipe(from_child) == 0 ? 0 : -1, "pipe");
    int devnull = open("/dev/null", O_WRONLY);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
    posix_spawn_file_actions_adddup2(&actions, devnull, 2); /* the child's stray prints */
    char *child_argv[] = {self_exe, "stdio-child", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, self_exe, &actions, NULL, child_argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(to_child[0]);
    close(from_child[1]);
    close(devnull);
    must(rc == 0 ? 0 : -1, "spawn the child");
    dapper_ipc_manager m = new_manager("create");
    must(dapper_ipc_adopt(m, from_child[0], to_child[1], 0), "adopt the child's pipes");
    int echoes = 0, own = 0, intact = 1;
    for (int i = 0; i < STDIO_FRAMES && intact; i++) {
        char msg[64], got[64];
        int n = snprintf(msg, sizeof msg, "parent %d", i);
        must(dapper_ipc_send(m, DAPPER_IPC_KIND_COMMAND, msg, (size_t)n), "send");
        for (int k = 0; k < 2 && intact; k++) {
            size_t length = 0;
            int32_t r = dapper_ipc_recv(m, got, sizeof got - 1, &length, NULL, WAIT_SECONDS * 1000);
            intact = r == DAPPER_IPC_OK;
            got[intact ? length : 0] = 0;
            char want[64];
            snprintf(want, sizeof want, "child %d", i);
            if (intact && strcmp(got, msg) == 0)
                echoes++;
            else if (intact && strcmp(got, want) == 0)
                own++;
            else {
                intact = 0;
                printf("unexpected frame (%d): '%s' %s\n", r, got, last_error());
            }
        }
    }
    check(echoes == STDIO_FRAMES && own == STDIO_FRAMES,
          "%d frames each way over the child's stdio, while it printf'd to stdout throughout (echoes %d, its own %d)",
          STDIO_FRAMES, echoes, own);
    size_t length;
    char got[16];
    int32_t end = dapper_ipc_recv(m, got, sizeof got, &length, NULL, WAIT_SECONDS * 1000);
    check(end == DAPPER_IPC_E_CLOSED, "the child's exit is end-of-file on its stdout: E_CLOSED (%d)", end);
    int status = 0;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exited cleanly (%d)", status);
    dapper_ipc_manager_destroy(m);
    return 0;
}

static int test_stdio_has_no_listener(void)
{
    dapper_ipc_manager m = new_manager("create");
    dapper_ipc_config config = config_for("stdio");
    int32_t rc = dapper_ipc_create_listener(m, &config);
    check(rc == DAPPER_IPC_E_INVALID_ARGUMENT && strstr(last_error(), "adopt") != NULL,
          "create_listener over stdio: E_INVALID_ARGUMENT pointing at adopt (%d %s)", rc, last_error());
    dapper_ipc_manager_destroy(m);
    return 0;
}

int main(int argc, char **argv)
{
    test_program_init(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    if (argc == 2 && strcmp(argv[1], "stdio-child") == 0)
        return stdio_child();
    static const struct named_test tests[] = {
        {"suite-unix", test_suite_unix},
        {"suite-tcp", test_suite_tcp},
        {"suite-adopted-socketpair", test_suite_adopted_socketpair},
        {"suite-adopted-pipes", test_suite_adopted_pipes},
        {"suite-plugin-memq", test_suite_plugin_memq},
        {"suite-plugin-tcpwrap", test_suite_plugin_tcpwrap},
        {"adopt-owned-closed-exactly-once", test_adopt_owned_closed_exactly_once},
        {"adopt-borrowed-stays-open", test_adopt_borrowed_stays_open},
        {"adopt-bad-input", test_adopt_bad_input},
        {"adopt-pipes-pull-handle", test_adopt_pipes_pull_handle},
        {"no-leaks", test_no_leaks},
        {"plugin-names", test_plugin_names},
        {"plugin-op-fails", test_plugin_op_fails},
        {"plugin-op-blocks", test_plugin_op_blocks},
        {"stdio-spawned-child", test_stdio_spawned_child},
        {"stdio-has-no-listener", test_stdio_has_no_listener},
    };
    return run_named_test("transports", argc, argv, tests, sizeof tests / sizeof tests[0]);
}
