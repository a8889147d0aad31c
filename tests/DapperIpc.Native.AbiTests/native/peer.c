/* A launcher in its own process, on its own copy of the library: connects with the
   --ipc arguments it was given, echoes each command (kind 2) back as an event (kind 1),
   and exits 0 when the adapter closes the connection. */
#include "dapper_ipc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended = PTHREAD_COND_INITIALIZER;
static int done;
static dapper_ipc_manager manager;

static void on_message(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    (void)user;
    if (kind == DAPPER_IPC_KIND_COMMAND)
        dapper_ipc_send(manager, DAPPER_IPC_KIND_EVENT, payload, length);
}

static void on_state(void *user, int32_t event, int32_t status, const char *reason)
{
    (void)user;
    (void)status;
    (void)reason;
    if (event == DAPPER_IPC_EVENT_DISCONNECTED) {
        pthread_mutex_lock(&lock);
        done = 1;
        pthread_cond_signal(&ended);
        pthread_mutex_unlock(&lock);
    }
}

int main(int argc, char **argv)
{
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--ipc") == 0) config.transport = argv[i + 1];
        if (strcmp(argv[i], "--ipc-path") == 0) config.path = argv[i + 1];
        if (strcmp(argv[i], "--ipc-host") == 0) config.host = argv[i + 1];
        if (strcmp(argv[i], "--ipc-port") == 0) config.port = atoi(argv[i + 1]);
    }
    if (dapper_ipc_manager_create(&manager) != DAPPER_IPC_OK ||
        dapper_ipc_set_callbacks(manager, on_message, on_state, NULL) != DAPPER_IPC_OK ||
        dapper_ipc_connect(manager, &config) != DAPPER_IPC_OK || dapper_ipc_start_reader(manager) != DAPPER_IPC_OK) {
        char message[256];
        dapper_ipc_last_error(message, sizeof message, NULL);
        fprintf(stderr, "peer: %s\n", message);
        return 1;
    }
    pthread_mutex_lock(&lock);
    while (!done)
        pthread_cond_wait(&ended, &lock);
    pthread_mutex_unlock(&lock);
    dapper_ipc_manager_destroy(manager);
    return 0;
}
