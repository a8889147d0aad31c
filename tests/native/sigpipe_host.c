/*
 * A C host with the default SIGPIPE disposition: loading the library must not
 * change it, and sending to a peer that has gone must return an error code
 * instead of killing the process. `sigpipe_host tls`: the same over tls, whose
 * writes go through OpenSSL (exit 77 where OpenSSL 3 cannot be loaded).
 */
#define _POSIX_C_SOURCE 200809L
#include <dapper_ipc.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

static int check(int condition, const char *what)
{
    printf("%s: %s\n", condition ? "ok" : "FAILED", what);
    return condition ? 0 : 1;
}

int main(int argc, char **argv)
{
    int tls = argc > 1 && strcmp(argv[1], "tls") == 0;
    struct sigaction before, after;
    signal(SIGPIPE, SIG_DFL);
    sigaction(SIGPIPE, NULL, &before);

    dapper_ipc_manager server, client;
    dapper_ipc_config config;
    int failures = 0;
    dapper_ipc_manager_create(&server);
    dapper_ipc_manager_create(&client);
    dapper_ipc_config_init(&config, sizeof config);
    config.transport = tls ? "tls" : "unix";
    int32_t created = dapper_ipc_create_listener(server, &config);
    if (tls && created == DAPPER_IPC_E_UNSUPPORTED) {
        char why[512] = "";
        dapper_ipc_last_error(why, sizeof why, NULL);
        printf("SKIP: %s\n", why);
        return 77;
    }
    failures += check(created == DAPPER_IPC_OK, "create_listener");

    char args[1024];
    size_t length;
    dapper_ipc_launcher_args(server, args, sizeof args, &length, NULL);
    const char *path = args;
    for (int i = 0; i < 3; i++)
        path += strlen(path) + 1; /* --ipc unix --ipc-path <path> */
    config.path = path;
    if (tls) {
        /* The launcher's way: its arguments, the certificate's fingerprint among them. */
        const char *list[16];
        int count = 0;
        for (const char *a = args; a < args + length && count < 16; a += strlen(a) + 1)
            list[count++] = a;
        failures += check(dapper_ipc_connect_argv(client, count, list) == DAPPER_IPC_OK, "connect_argv");
    } else {
        failures += check(dapper_ipc_connect(client, &config) == DAPPER_IPC_OK, "connect");
    }
    failures += check(dapper_ipc_wait_for_client(server, 5000) == DAPPER_IPC_OK, "wait_for_client");

    sigaction(SIGPIPE, NULL, &after);
    failures += check(after.sa_handler == before.sa_handler, "SIGPIPE disposition unchanged by the library");

    /* The peer leaves; the next sends hit a closed socket. */
    failures += check(dapper_ipc_cleanup(server) == DAPPER_IPC_OK, "server cleanup");
    int32_t status = DAPPER_IPC_OK;
    char payload[4096];
    memset(payload, ' ', sizeof payload);
    for (int i = 0; i < 1000 && status == DAPPER_IPC_OK; i++)
        status = dapper_ipc_send(client, DAPPER_IPC_KIND_EVENT, payload, sizeof payload);
    failures += check(status == DAPPER_IPC_E_CLOSED, "send to a departed peer returns DAPPER_IPC_E_CLOSED");
    dapper_ipc_frame frames[3];
    for (int i = 0; i < 3; i++)
        frames[i] = (dapper_ipc_frame){.payload = payload, .length = sizeof payload, .kind = DAPPER_IPC_KIND_EVENT};
    size_t sent = 99;
    status = dapper_ipc_send_batch(client, frames, 3, &sent);
    failures += check(status == DAPPER_IPC_E_CLOSED && sent == 0,
                      "send_batch to a departed peer returns DAPPER_IPC_E_CLOSED with nothing sent");

    dapper_ipc_manager_destroy(client);
    dapper_ipc_manager_destroy(server);
    printf("%s\n", failures == 0 ? "all checks passed" : "some checks FAILED");
    return failures == 0 ? 0 : 1;
}
