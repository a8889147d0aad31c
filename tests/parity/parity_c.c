/*
 * The C side of tests/parity/run.py: runs the cases of tests/parity/cases.json through
 * the C ABI. run.py hands them over flattened, one step a line, values without spaces:
 *   case NAME
 *   MANAGER OP key=value ...      (MANAGER: a or b)
 *   end
 * and reads one line per case: NAME <tab> STEP <tab> STATUS <tab> MESSAGE: the step whose
 * outcome it is (the first that failed, else the last; from 0), its status as a number and
 * the library's message for it (tabs, newlines and backslashes escaped).
 */
#include <dapper_ipc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE 4096
#define MAX_FIELDS 16

typedef struct {
    dapper_ipc_manager handle;
    int is_listener;
} manager;

static manager managers[2];
static dapper_ipc_session_listener sessions; /* the case's session listener */

static manager *named(const char *name) { return name[0] == 'b' ? &managers[1] : &managers[0]; }

/* The value of key among fields[first..count), or NULL. */
static const char *field(char **fields, int first, int count, const char *key) {
    size_t n = strlen(key);
    for (int i = first; i < count; i++) {
        if (strncmp(fields[i], key, n) == 0 && fields[i][n] == '=') return fields[i] + n + 1;
    }
    return NULL;
}

static int32_t number(const char *text) { return text ? (int32_t)strtol(text, NULL, 10) : 0; }

static void fill_config(dapper_ipc_config *c, char **fields, int first, int count) {
    dapper_ipc_config_init_default(c);
    c->transport = field(fields, first, count, "transport");
    c->host = field(fields, first, count, "host");
    c->path = field(fields, first, count, "path");
    c->port = number(field(fields, first, count, "port"));
    c->max_frame_size = (uint32_t)strtoul(field(fields, first, count, "max_frame_size") ?
                                          field(fields, first, count, "max_frame_size") : "0", NULL, 10);
    c->connect_timeout_ms = number(field(fields, first, count, "connect_timeout_ms"));
    c->send_timeout_ms = number(field(fields, first, count, "send_timeout_ms"));
    c->client_wait_ms = number(field(fields, first, count, "client_wait_ms"));
    c->auth_token = field(fields, first, count, "auth_token");
    const char *auth = field(fields, first, count, "require_auth");
    c->flags = auth && strcmp(auth, "true") == 0 ? DAPPER_IPC_FLAG_REQUIRE_AUTH : 0;
}

/* connect to=X: the launcher arguments of X's listener, parsed as a launcher would. */
static int32_t connect_to(manager *m, manager *target) {
    char buf[1024];
    size_t length = 0;
    int32_t argc = 0;
    int32_t status = dapper_ipc_launcher_args(target->handle, buf, sizeof buf, &length, &argc);
    if (status != DAPPER_IPC_OK) return status;
    const char *argv[16];
    const char *at = buf;
    for (int32_t i = 0; i < argc && i < 16; i++) {
        argv[i] = at;
        at += strlen(at) + 1;
    }
    return dapper_ipc_connect_argv(m->handle, argc, argv);
}

static int32_t step(char **fields, int count) {
    manager *m = named(fields[0]);
    const char *op = fields[1];
    dapper_ipc_config config;
    if (strcmp(op, "listen") == 0) {
        fill_config(&config, fields, 2, count);
        int32_t status = dapper_ipc_create_listener(m->handle, &config);
        if (status == DAPPER_IPC_OK) m->is_listener = 1;
        return status;
    }
    if (strcmp(op, "connect") == 0) {
        const char *to = field(fields, 2, count, "to");
        if (to) return connect_to(m, named(to));
        fill_config(&config, fields, 2, count);
        return dapper_ipc_connect(m->handle, &config);
    }
    if (strcmp(op, "wait") == 0) return dapper_ipc_wait_for_client(m->handle, number(field(fields, 2, count, "timeout_ms")));
    if (strcmp(op, "send") == 0) {
        size_t size = (size_t)number(field(fields, 2, count, "size"));
        char *payload = malloc(size + 1);
        memset(payload, 'x', size);
        int32_t status = dapper_ipc_send(m->handle, m->is_listener ? DAPPER_IPC_KIND_COMMAND : DAPPER_IPC_KIND_EVENT,
                                         payload, size);
        free(payload);
        return status;
    }
    if (strcmp(op, "start_reader") == 0) return dapper_ipc_start_reader(m->handle);
    if (strcmp(op, "launcher_args") == 0) {
        char buf[1024];
        return dapper_ipc_launcher_args(m->handle, buf, sizeof buf, NULL, NULL);
    }
    if (strcmp(op, "auth_token") == 0) {
        char buf[128];
        return dapper_ipc_auth_token(m->handle, buf, sizeof buf, NULL);
    }
    if (strcmp(op, "cleanup") == 0) return dapper_ipc_cleanup(m->handle);
    if (strcmp(op, "session_listen") == 0) {
        fill_config(&config, fields, 2, count);
        return dapper_ipc_session_listener_listen(sessions, &config);
    }
    const char *id = field(fields, 2, count, "id");
    if (strcmp(op, "expect") == 0) return dapper_ipc_session_listener_expect(sessions, id);
    if (strcmp(op, "accept") == 0) {
        dapper_ipc_manager accepted;
        int32_t status = dapper_ipc_session_listener_accept(sessions, id, number(field(fields, 2, count, "timeout_ms")),
                                                            &accepted);
        if (status == DAPPER_IPC_OK) dapper_ipc_manager_destroy(accepted);
        return status;
    }
    if (strcmp(op, "session_launcher_args") == 0) {
        char buf[1024];
        return dapper_ipc_session_listener_launcher_args(sessions, buf, sizeof buf, NULL, NULL);
    }
    fprintf(stderr, "parity_c: unknown op '%s'\n", op);
    exit(2);
}

static void print_escaped(const char *text) {
    for (; *text; text++) {
        if (*text == '\t') fputs("\\t", stdout);
        else if (*text == '\n') fputs("\\n", stdout);
        else if (*text == '\\') fputs("\\\\", stdout);
        else putchar(*text);
    }
}

int main(void) {
    char line[MAX_LINE];
    char name[256] = "";
    int32_t status = DAPPER_IPC_OK;
    char message[2048] = "";
    int failed = 0; /* a step failed: the case's outcome is that step's */
    int at = -1;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *fields[MAX_FIELDS];
        int count = 0;
        for (char *token = strtok(line, " "); token && count < MAX_FIELDS; token = strtok(NULL, " ")) fields[count++] = token;
        if (count == 0) continue;
        if (strcmp(fields[0], "case") == 0) {
            snprintf(name, sizeof name, "%s", fields[1]);
            for (int i = 0; i < 2; i++) {
                managers[i].is_listener = 0;
                if (dapper_ipc_manager_create(&managers[i].handle) != DAPPER_IPC_OK) return 2;
            }
            if (dapper_ipc_session_listener_create(&sessions) != DAPPER_IPC_OK) return 2;
            status = DAPPER_IPC_OK;
            message[0] = '\0';
            failed = 0;
            at = -1;
        } else if (strcmp(fields[0], "end") == 0) {
            printf("%s\t%d\t%d\t", name, at, (int)status);
            print_escaped(message);
            putchar('\n');
            fflush(stdout);
            dapper_ipc_session_listener_destroy(sessions);
            for (int i = 0; i < 2; i++) dapper_ipc_manager_destroy(managers[i].handle);
        } else if (!failed) {
            at++;
            status = step(fields, count);
            message[0] = '\0';
            if (status != DAPPER_IPC_OK) {
                dapper_ipc_last_error(message, sizeof message, NULL);
                failed = 1;
            }
        }
    }
    return 0;
}
