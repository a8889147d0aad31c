/*
 * The adapter and the launcher in one program.
 *
 *   dapper_ipc_sample [--transport auto|unix|tcp]
 *       The adapter: creates a listener, starts itself again as the launcher with
 *       the listener's arguments, sends commands, prints the replies, cleans up.
 *   dapper_ipc_sample --ipc unix --ipc-path P | --ipc tcp --ipc-host H --ipc-port N
 *       The launcher: connects with dapper_ipc_connect_argv, answers each command with a response event, and
 *       sends one unsolicited "stopped" event.
 *
 * POSIX (posix_spawn, pthreads). Exits 0 on success; every wait is bounded.
 */
#define _POSIX_C_SOURCE 200809L
#include <dapper_ipc.h>

#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define COMMANDS 3
#define WAIT_SECONDS 10

/* ---- shared helpers ------------------------------------------------------ */

static int fail(const char *who, const char *what, int32_t status)
{
    char message[512];
    dapper_ipc_last_error(message, sizeof message, NULL);
    fprintf(stderr, "[%s] %s failed: %s (%d): %s\n", who, what, dapper_ipc_status_string(status), (int)status,
            message);
    return 1;
}

static void on_log(void *user_data, int32_t level, const char *message)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "[%s] library %s: %s\n", (const char *)user_data, names[level & 3], message);
}

/* A counter the reader thread bumps and the main thread waits on, with a deadline. */
struct progress {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int received;
    int disconnected;
    const char *who;
};

static void progress_bump(struct progress *p, int messages, int disconnected)
{
    pthread_mutex_lock(&p->lock);
    p->received += messages;
    p->disconnected |= disconnected;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

/* Waits until at least `count` messages arrived (or, with count < 0, a disconnect). */
static int progress_wait(struct progress *p, int count)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECONDS;
    int ok = 1;
    pthread_mutex_lock(&p->lock);
    while (count >= 0 ? p->received < count : !p->disconnected) {
        if (pthread_cond_timedwait(&p->changed, &p->lock, &deadline) == ETIMEDOUT) {
            ok = 0;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

static void on_state(void *user_data, int32_t event, int32_t status, const char *reason)
{
    struct progress *p = user_data;
    printf("[%s] %s (%s): %s\n", p->who, event == DAPPER_IPC_EVENT_CONNECTED ? "connected" : "disconnected",
           dapper_ipc_status_string(status), reason);
    fflush(stdout);
    if (event == DAPPER_IPC_EVENT_DISCONNECTED)
        progress_bump(p, 0, 1);
}

/* ---- the launcher -------------------------------------------------------- */

struct launcher {
    struct progress progress;
    dapper_ipc_manager manager;
};

static void launcher_on_message(void *user_data, int32_t kind, const uint8_t *payload, size_t length)
{
    struct launcher *l = user_data;
    printf("[launcher] received kind %d: %.*s\n", (int)kind, (int)length, (const char *)payload);
    fflush(stdout);
    if (kind != DAPPER_IPC_KIND_COMMAND)
        return; /* the launcher ignores what is not a command */

    /* Reply from the callback: send is allowed on the reader thread. */
    char reply[256];
    const char *seq = strstr((const char *)payload, "\"seq\": ");
    int id = seq != NULL && (size_t)(seq - (const char *)payload) < length ? atoi(seq + 7) : 0;
    int n = snprintf(reply, sizeof reply, "{\"event\": \"response\", \"id\": %d, \"success\": true, \"body\": {}}", id);
    int32_t rc = dapper_ipc_send(l->manager, DAPPER_IPC_KIND_EVENT, reply, (size_t)n);
    if (rc != DAPPER_IPC_OK)
        fail("launcher", "send reply", rc);
    progress_bump(&l->progress, 1, 0);
}

static int run_launcher(int argc, char **argv)
{
    static struct launcher l = {{PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, "launcher"}, {0}};
    int32_t rc;
    if ((rc = dapper_ipc_manager_create(&l.manager)) != DAPPER_IPC_OK)
        return fail("launcher", "manager_create", rc);
    if ((rc = dapper_ipc_set_callback(l.manager, launcher_on_message, on_state, &l)) != DAPPER_IPC_OK)
        return fail("launcher", "set_callback", rc);
    /* --ipc unix --ipc-path P (or tcp/pipe), as the adapter passed them; the rest of
       argv is ignored. */
    if ((rc = dapper_ipc_connect_argv(l.manager, argc, (const char *const *)argv)) != DAPPER_IPC_OK)
        return fail("launcher", "connect_argv", rc);
    if ((rc = dapper_ipc_start_reader(l.manager)) != DAPPER_IPC_OK)
        return fail("launcher", "start_reader", rc);

    static const char stopped[] = "{\"event\": \"stopped\", \"body\": {\"reason\": \"entry\", \"threadId\": 1}}";
    printf("[launcher] sending: %s\n", stopped);
    if ((rc = dapper_ipc_send(l.manager, DAPPER_IPC_KIND_EVENT, stopped, sizeof stopped - 1)) != DAPPER_IPC_OK)
        return fail("launcher", "send", rc);

    /* Serve until the adapter closes the connection. */
    if (!progress_wait(&l.progress, -1)) {
        fprintf(stderr, "[launcher] the adapter did not close within %d s\n", WAIT_SECONDS);
        return 1;
    }
    dapper_ipc_manager_destroy(l.manager);
    printf("[launcher] answered %d commands, exiting\n", l.progress.received);
    return l.progress.received == COMMANDS ? 0 : 1;
}

/* ---- the adapter --------------------------------------------------------- */

static void adapter_on_message(void *user_data, int32_t kind, const uint8_t *payload, size_t length)
{
    struct progress *p = user_data;
    printf("[adapter] received kind %d: %.*s\n", (int)kind, (int)length, (const char *)payload);
    fflush(stdout);
    progress_bump(p, 1, 0);
}

static const char *self_path(const char *argv0)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return argv0;
    path[n] = '\0';
    return path;
}

static int run_adapter(const char *argv0, const char *transport)
{
    static struct progress p = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, "adapter"};
    dapper_ipc_manager m;
    int32_t rc;
    if ((rc = dapper_ipc_manager_create(&m)) != DAPPER_IPC_OK)
        return fail("adapter", "manager_create", rc);
    if ((rc = dapper_ipc_set_callback(m, adapter_on_message, on_state, &p)) != DAPPER_IPC_OK)
        return fail("adapter", "set_callback", rc);

    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = transport;
    if ((rc = dapper_ipc_create_listener(m, &config)) != DAPPER_IPC_OK)
        return fail("adapter", "create_listener", rc);

    char args[1024];
    size_t length;
    int32_t count;
    if ((rc = dapper_ipc_launcher_args(m, args, sizeof args, &length, &count)) != DAPPER_IPC_OK)
        return fail("adapter", "launcher_args", rc);

    /* argv for the child: ourselves, then the launcher arguments as returned. */
    char *child_argv[16];
    int n = 0;
    child_argv[n++] = (char *)self_path(argv0);
    printf("[adapter] launcher arguments:");
    for (char *a = args; a < args + length && n < 15; a += strlen(a) + 1) {
        child_argv[n++] = a;
        printf(" %s", a);
    }
    printf("\n");
    child_argv[n] = NULL;
    const char *socket_path = count >= 4 && strcmp(child_argv[2], "unix") == 0 ? child_argv[4] : NULL;

    pid_t child;
    int spawn_error = posix_spawn(&child, child_argv[0], NULL, NULL, child_argv, environ);
    if (spawn_error != 0) {
        fprintf(stderr, "[adapter] cannot start the launcher: %s\n", strerror(spawn_error));
        return 1;
    }

    int ok = 1;
    if ((rc = dapper_ipc_start_reader(m)) != DAPPER_IPC_OK)
        return fail("adapter", "start_reader", rc);
    if ((rc = dapper_ipc_wait_for_client(m, WAIT_SECONDS * 1000)) != DAPPER_IPC_OK)
        ok = !fail("adapter", "wait_for_client", rc);

    static const char *commands[COMMANDS] = {
        "{\"seq\": 1, \"type\": \"request\", \"command\": \"setBreakpoints\", \"arguments\": {\"lines\": [3]}}",
        "{\"seq\": 2, \"type\": \"request\", \"command\": \"configurationDone\", \"arguments\": {}}",
        "{\"seq\": 3, \"type\": \"request\", \"command\": \"continue\", \"arguments\": {\"threadId\": 1}}",
    };
    for (int i = 0; ok && i < COMMANDS; i++) {
        printf("[adapter] sending: %s\n", commands[i]);
        if ((rc = dapper_ipc_send(m, DAPPER_IPC_KIND_COMMAND, commands[i], strlen(commands[i]))) != DAPPER_IPC_OK)
            ok = !fail("adapter", "send", rc);
    }

    /* One unsolicited event plus one response per command. */
    if (ok && !progress_wait(&p, COMMANDS + 1)) {
        fprintf(stderr, "[adapter] got %d of %d messages within %d s\n", p.received, COMMANDS + 1, WAIT_SECONDS);
        ok = 0;
    }

    if ((rc = dapper_ipc_cleanup(m)) != DAPPER_IPC_OK)
        ok = !fail("adapter", "cleanup", rc);

    int child_status = 0;
    if (waitpid(child, &child_status, 0) != child || !WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
        fprintf(stderr, "[adapter] the launcher failed (status %d)\n", child_status);
        ok = 0;
    }

    if (socket_path != NULL) {
        struct stat st;
        char directory[1024];
        snprintf(directory, sizeof directory, "%s", socket_path);
        char *slash = strrchr(directory, '/');
        if (slash != NULL)
            *slash = '\0';
        if (stat(socket_path, &st) == 0 || stat(directory, &st) == 0) {
            fprintf(stderr, "[adapter] cleanup left %s behind\n", socket_path);
            ok = 0;
        }
    }

    dapper_ipc_manager_destroy(m);
    printf("[adapter] %s over %s\n", ok ? "done" : "FAILED", transport ? transport : "auto");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *transport = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ipc") == 0)
            return run_launcher(argc, argv);
        if (strcmp(argv[i], "--transport") == 0 && i + 1 < argc)
            transport = argv[++i];
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    dapper_ipc_set_log_callback(on_log, "adapter", DAPPER_IPC_LOG_INFO);
    printf("[adapter] libdapper_ipc %s\n", dapper_ipc_version());
    return run_adapter(argv[0], transport);
}
