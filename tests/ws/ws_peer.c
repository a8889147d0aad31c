/*
 * A ws listener made through the C ABI, for the browser test (tests/ws/chromium_page.py):
 *
 *   ws_peer COUNT [ORIGINS]
 *
 * Prints "url ws://...", "token T" and the library's log lines ("log: ..."); answers each
 * frame i (kind 1) that is tests/ws/wsframes.py's payload(0, i) with payload(1, i) (kind 2),
 * counting the frames whose bytes differ; prints "received N bad B" and "disconnected
 * STATUS REASON" when the page leaves. Requires the auth token (offered as a subprotocol).
 */
#include <dapper_ipc.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dapper_ipc_manager manager;
static int received, bad;
static uint8_t *scratch;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int ended;

static size_t size_of(int i)
{
    if (i % 1000 == 999)
        return 1u << 20;
    if (i % 100 == 50)
        return 65536 + (size_t)i;
    return ((size_t)i * 7919) % 2048;
}

static void fill(uint8_t *out, int direction, int i)
{
    size_t n = size_of(i);
    for (size_t j = 0; j < n; j++)
        out[j] = (uint8_t)((i * 13 + direction * 101 + (int)(j >> 8) * 7 + (int)(j & 255)) & 255);
}

static void on_message(void *user, int32_t kind, const uint8_t *payload, size_t length)
{
    (void)user;
    int i = received++;
    fill(scratch, 0, i);
    if (kind != 1 || length != size_of(i) || memcmp(scratch, payload, length) != 0)
        bad++;
    fill(scratch, 1, i);
    if (dapper_ipc_send(manager, 2, scratch, size_of(i)) != DAPPER_IPC_OK)
        bad++;
}

static void on_state(void *user, int32_t event, int32_t status, const char *reason)
{
    (void)user;
    if (event != DAPPER_IPC_EVENT_DISCONNECTED)
        return;
    printf("received %d bad %d\ndisconnected %d %s\n", received, bad, status, reason);
    fflush(stdout);
    pthread_mutex_lock(&lock);
    ended = 1;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_log(void *user, int32_t level, const char *message)
{
    (void)user, (void)level;
    printf("log: %s\n", message);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    (void)argc;
    scratch = malloc(1u << 20);
    dapper_ipc_set_log_callback(on_log, NULL, DAPPER_IPC_LOG_DEBUG);
    dapper_ipc_config config;
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = "ws";
    config.flags = DAPPER_IPC_FLAG_REQUIRE_AUTH;
    config.ws_origins = argc > 2 ? argv[2] : NULL;
    if (dapper_ipc_manager_create(&manager) != DAPPER_IPC_OK || dapper_ipc_create_listener(manager, &config) != DAPPER_IPC_OK) {
        char message[512];
        dapper_ipc_last_error(message, sizeof message, NULL);
        fprintf(stderr, "ws_peer: %s\n", message);
        return 1;
    }
    char args[512], token[128];
    size_t length;
    dapper_ipc_launcher_args(manager, args, sizeof args, &length, NULL);
    const char *host = NULL, *port = NULL;
    for (const char *p = args; p < args + length; p += strlen(p) + 1) {
        if (strcmp(p, "--ipc-host") == 0)
            host = p + strlen(p) + 1;
        if (strcmp(p, "--ipc-port") == 0)
            port = p + strlen(p) + 1;
    }
    dapper_ipc_auth_token(manager, token, sizeof token, NULL);
    printf("url ws://%s:%s/\ntoken %s\n", host, port, token);
    fflush(stdout);
    dapper_ipc_set_callback(manager, on_message, on_state, NULL);
    dapper_ipc_start_reader(manager);
    pthread_mutex_lock(&lock);
    while (!ended)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    dapper_ipc_manager_destroy(manager);
    free(scratch);
    return 0;
}
