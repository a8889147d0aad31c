/* readme_adapter.c: the adapter side. Listens, starts the launcher with the
   listener's arguments, sends one command, prints the reply, closes.
   cc readme_adapter.c $(pkg-config --cflags --libs dapper_ipc) -lpthread -o adapter
   ./adapter ./launcher */
#define _POSIX_C_SOURCE 200809L
#include <dapper_ipc.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int replies;

static int ok(int32_t status, const char *what)
{
    char message[512];
    if (status == DAPPER_IPC_OK)
        return 1;
    dapper_ipc_last_error(message, sizeof message, NULL);
    fprintf(stderr, "adapter: %s: %s\n", what, message);
    return 0;
}

/* On the library's reader thread; payload is valid during the call only. */
static void on_message(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    (void)user;
    printf("adapter received kind %d: %.*s\n", (int)kind, (int)length, (const char *)payload);
    pthread_mutex_lock(&lock);
    replies++;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_state(void *user, int32_t event, int32_t status, const char *reason)
{
    (void)user;
    printf("adapter: %s (%s) %s\n", event == DAPPER_IPC_EVENT_CONNECTED ? "connected" : "disconnected",
           dapper_ipc_status_string(status), reason);
}

int main(int argc, char **argv)
{
    static const char command[] = "{\"seq\": 1, \"type\": \"request\", \"command\": \"threads\"}";
    dapper_ipc_manager m;
    dapper_ipc_config cfg;
    char args[1024], *child_argv[16];
    size_t length;
    int32_t count;
    pid_t child;
    int n = 0, status = 0, got;
    struct timespec deadline;

    if (argc != 2) {
        fprintf(stderr, "usage: %s LAUNCHER\n", argv[0]);
        return 2;
    }
    dapper_ipc_manager_create(&m);
    dapper_ipc_set_callback(m, on_message, on_state, NULL);
    dapper_ipc_config_init(&cfg, sizeof cfg); /* never writes past what you pass */
    cfg.transport = "unix";                   /* or "tcp", or NULL for the platform default */
    if (!ok(dapper_ipc_create_listener(m, &cfg), "create_listener"))
        return 1;
    /* "--ipc\0unix\0--ipc-path\0/tmp/dapper-.../ipc.sock\0": the launcher's arguments */
    if (!ok(dapper_ipc_launcher_args(m, args, sizeof args, &length, &count), "launcher_args"))
        return 1;
    child_argv[n++] = argv[1];
    for (char *a = args; a < args + length && n < 15; a += strlen(a) + 1)
        child_argv[n++] = a;
    child_argv[n] = NULL;
    if (posix_spawn(&child, argv[1], NULL, NULL, child_argv, environ) != 0) {
        perror("adapter: posix_spawn");
        return 1;
    }

    /* The reader accepts the launcher, then calls on_message for each frame. Sending
       needs a connected launcher: wait for it first (send before it arrived fails
       with DAPPER_IPC_E_NOT_CONNECTED). */
    if (!ok(dapper_ipc_start_reader(m), "start_reader") || !ok(dapper_ipc_wait_for_client(m, 10000), "wait_for_client") ||
        !ok(dapper_ipc_send(m, DAPPER_IPC_KIND_COMMAND, command, strlen(command)), "send"))
        return 1;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&lock);
    while (replies == 0 && pthread_cond_timedwait(&changed, &lock, &deadline) == 0)
        ;
    got = replies;
    pthread_mutex_unlock(&lock);

    dapper_ipc_manager_destroy(m); /* cleanup (the launcher sees end-of-file) + retire the handle */
    waitpid(child, &status, 0);
    printf("adapter: %d reply, launcher exited with %d\n", got, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return got == 1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
