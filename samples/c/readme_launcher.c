/* readme_launcher.c: the launcher side. Started by the adapter with
   --ipc unix --ipc-path P (or --ipc tcp --ipc-host H --ipc-port N) among its own
   arguments; connects, answers each command with an event, exits when the adapter
   closes the connection.
   cc readme_launcher.c $(pkg-config --cflags --libs dapper_ipc) -lpthread -o launcher */
#include <dapper_ipc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static dapper_ipc_manager m;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int disconnected;

static void on_message(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    static const char reply[] = "{\"event\": \"stopped\", \"body\": {\"reason\": \"entry\"}}";
    (void)user;
    printf("launcher received kind %d: %.*s\n", (int)kind, (int)length, (const char *)payload);
    dapper_ipc_send(m, DAPPER_IPC_KIND_EVENT, reply, strlen(reply)); /* any thread, callbacks too */
}

static void on_state(void *user, int32_t event, int32_t status, const char *reason)
{
    (void)user, (void)status, (void)reason;
    if (event == DAPPER_IPC_EVENT_DISCONNECTED) { /* the adapter closed: time to leave */
        pthread_mutex_lock(&lock);
        disconnected = 1;
        pthread_cond_signal(&changed);
        pthread_mutex_unlock(&lock);
    }
}

int main(int argc, char **argv)
{
    char message[512];
    dapper_ipc_manager_create(&m);
    dapper_ipc_set_callback(m, on_message, on_state, NULL);
    /* Reads --ipc, --ipc-path, --ipc-host, --ipc-port, --ipc-pipe; ignores the rest. */
    if (dapper_ipc_connect_argv(m, argc, (const char *const *)argv) != DAPPER_IPC_OK ||
        dapper_ipc_start_reader(m) != DAPPER_IPC_OK) {
        dapper_ipc_last_error(message, sizeof message, NULL);
        fprintf(stderr, "launcher: %s\n", message);
        return 1;
    }
    pthread_mutex_lock(&lock);
    while (!disconnected)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    dapper_ipc_manager_destroy(m);
    return 0;
}
