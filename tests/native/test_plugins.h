/*
 * Transports a host brings, written the way a host would (dapper_ipc_transport_ops):
 * "memq", an in-memory queue pair between two managers of this process (connect finds
 * the listener by address), and "tcpwrap", a plain loopback tcp socket driven with
 * recv/send. Both honour the ops' threading contract: shutdown wakes a blocked accept,
 * read or write from another thread; close frees once nothing runs.
 * Include after check.h.
 */
#ifndef DAPPER_IPC_TESTS_TEST_PLUGINS_H
#define DAPPER_IPC_TESTS_TEST_PLUGINS_H

#include <dapper_ipc.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

/* ---- memq: one lock per pair, each end's incoming bytes in a growing buffer. */

struct memq_pair;

struct memq_end {
    struct memq_pair *pair;
    char *data;
    size_t start, end, cap; /* unread bytes: data[start..end) */
    int shut;               /* this end was shut down: it reads end-of-file, writes fail */
    struct memq_end *peer;
};

struct memq_pair {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct memq_end ends[2];
    int refs;
};

struct memq_listener {
    char address[64];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct memq_end *pending[16];
    int count;
    int stopped;
    struct memq_listener *next;
};

static pthread_mutex_t memq_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct memq_listener *memq_listeners;
static int memq_serial;

static int32_t memq_listen(void *user, const char *address, void **listener)
{
    (void)user;
    struct memq_listener *l = calloc(1, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    pthread_mutex_lock(&memq_registry_lock);
    if (address != NULL)
        snprintf(l->address, sizeof l->address, "%s", address);
    else
        snprintf(l->address, sizeof l->address, "memq-%d", ++memq_serial);
    l->next = memq_listeners;
    memq_listeners = l;
    pthread_mutex_unlock(&memq_registry_lock);
    *listener = l;
    return DAPPER_IPC_OK;
}

static int32_t memq_launcher_address(void *user, void *listener, char *buf, size_t cap)
{
    (void)user;
    struct memq_listener *l = listener;
    if (strlen(l->address) + 1 > cap)
        return DAPPER_IPC_E_BUFFER_TOO_SMALL;
    strcpy(buf, l->address);
    return DAPPER_IPC_OK;
}

static void deadline_in(struct timespec *t, int32_t ms)
{
    clock_gettime(CLOCK_REALTIME, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static int32_t memq_accept(void *user, void *listener, int32_t timeout_ms, void **connection)
{
    (void)user;
    struct memq_listener *l = listener;
    struct timespec deadline;
    deadline_in(&deadline, timeout_ms < 0 ? 0 : timeout_ms);
    pthread_mutex_lock(&l->lock);
    int timed_out = 0;
    while (l->count == 0 && !l->stopped && !timed_out) {
        if (timeout_ms < 0)
            pthread_cond_wait(&l->cond, &l->lock);
        else
            timed_out = pthread_cond_timedwait(&l->cond, &l->lock, &deadline) == ETIMEDOUT;
    }
    int32_t rc = DAPPER_IPC_E_TIMEOUT;
    if (l->stopped) {
        rc = DAPPER_IPC_E_CANCELLED;
    } else if (l->count > 0) {
        *connection = l->pending[0];
        memmove(l->pending, l->pending + 1, (size_t)--l->count * sizeof l->pending[0]);
        rc = DAPPER_IPC_OK;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

static void memq_stop_listener(void *user, void *listener)
{
    (void)user;
    struct memq_listener *l = listener;
    pthread_mutex_lock(&memq_registry_lock);
    for (struct memq_listener **p = &memq_listeners; *p != NULL; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    pthread_mutex_unlock(&memq_registry_lock);
    pthread_mutex_lock(&l->lock);
    l->stopped = 1;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

static void memq_release(struct memq_pair *pair)
{
    pthread_mutex_lock(&pair->lock);
    int last = --pair->refs == 0;
    pthread_mutex_unlock(&pair->lock);
    if (last) {
        free(pair->ends[0].data);
        free(pair->ends[1].data);
        pthread_mutex_destroy(&pair->lock);
        pthread_cond_destroy(&pair->cond);
        free(pair);
    }
}

static void memq_shutdown(void *user, void *connection)
{
    (void)user;
    struct memq_end *e = connection;
    pthread_mutex_lock(&e->pair->lock);
    e->shut = 1;
    pthread_cond_broadcast(&e->pair->cond);
    pthread_mutex_unlock(&e->pair->lock);
}

static void memq_close(void *user, void *connection)
{
    (void)user;
    memq_release(((struct memq_end *)connection)->pair);
}

static void memq_close_listener(void *user, void *listener)
{
    (void)user;
    struct memq_listener *l = listener;
    for (int i = 0; i < l->count; i++) { /* clients nobody accepted */
        memq_shutdown(NULL, l->pending[i]);
        memq_close(NULL, l->pending[i]);
    }
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}

static int32_t memq_connect(void *user, const char *address, int32_t timeout_ms, void **connection)
{
    (void)user;
    (void)timeout_ms;
    if (address == NULL)
        return DAPPER_IPC_E_INVALID_ARGUMENT;
    pthread_mutex_lock(&memq_registry_lock);
    struct memq_listener *l = memq_listeners;
    while (l != NULL && strcmp(l->address, address) != 0)
        l = l->next;
    int32_t rc = DAPPER_IPC_E_CONNECTION_REFUSED;
    if (l != NULL) {
        struct memq_pair *pair = calloc(1, sizeof *pair);
        pthread_mutex_init(&pair->lock, NULL);
        pthread_cond_init(&pair->cond, NULL);
        pair->refs = 2;
        for (int i = 0; i < 2; i++) {
            pair->ends[i].pair = pair;
            pair->ends[i].peer = &pair->ends[1 - i];
        }
        pthread_mutex_lock(&l->lock);
        if (l->count < 16) {
            l->pending[l->count++] = &pair->ends[0];
            pthread_cond_broadcast(&l->cond);
            *connection = &pair->ends[1];
            rc = DAPPER_IPC_OK;
        }
        pthread_mutex_unlock(&l->lock);
        if (rc != DAPPER_IPC_OK)
            free(pair);
    }
    pthread_mutex_unlock(&memq_registry_lock);
    return rc;
}

static intptr_t memq_read(void *user, void *connection, void *buf, size_t cap)
{
    (void)user;
    struct memq_end *e = connection;
    pthread_mutex_lock(&e->pair->lock);
    while (e->start == e->end && !e->shut && !e->peer->shut)
        pthread_cond_wait(&e->pair->cond, &e->pair->lock);
    size_t n = 0;
    if (!e->shut) { /* what the peer wrote before it shut down is still read */
        n = e->end - e->start < cap ? e->end - e->start : cap;
        memcpy(buf, e->data + e->start, n);
        e->start += n;
    }
    pthread_mutex_unlock(&e->pair->lock);
    return (intptr_t)n;
}

static intptr_t memq_write(void *user, void *connection, const void *buf, size_t len)
{
    (void)user;
    struct memq_end *e = connection;
    struct memq_end *to = e->peer;
    pthread_mutex_lock(&e->pair->lock);
    intptr_t rc = DAPPER_IPC_E_CLOSED;
    if (!e->shut && !to->shut) {
        if (to->start > 0 && to->start == to->end)
            to->start = to->end = 0;
        if (to->end + len > to->cap) {
            size_t cap = to->cap ? to->cap : 65536;
            while (cap < to->end + len)
                cap *= 2;
            to->data = realloc(to->data, cap);
            to->cap = cap;
        }
        memcpy(to->data + to->end, buf, len);
        to->end += len;
        pthread_cond_broadcast(&e->pair->cond);
        rc = (intptr_t)len;
    }
    pthread_mutex_unlock(&e->pair->lock);
    return rc;
}

static const dapper_ipc_transport_ops memq_ops = {
    .struct_size = sizeof(dapper_ipc_transport_ops),
    .listen = memq_listen,
    .launcher_address = memq_launcher_address,
    .accept = memq_accept,
    .stop_listener = memq_stop_listener,
    .close_listener = memq_close_listener,
    .connect = memq_connect,
    .read = memq_read,
    .write = memq_write,
    .shutdown = memq_shutdown,
    .close = memq_close,
};

/* ---- tcpwrap: handles are heap ints holding the descriptor. */

static void *fd_box(int fd)
{
    int *box = malloc(sizeof *box);
    *box = fd;
    return box;
}

static int32_t tcpwrap_listen(void *user, const char *address, void **listener)
{
    (void)user;
    (void)address;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
        if (fd >= 0)
            close(fd);
        return DAPPER_IPC_E_IO;
    }
    *listener = fd_box(fd);
    return DAPPER_IPC_OK;
}

static int32_t tcpwrap_launcher_address(void *user, void *listener, char *buf, size_t cap)
{
    (void)user;
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    getsockname(*(int *)listener, (struct sockaddr *)&sa, &len);
    int n = snprintf(buf, cap, "127.0.0.1:%d", ntohs(sa.sin_port));
    return n < 0 || (size_t)n >= cap ? DAPPER_IPC_E_BUFFER_TOO_SMALL : DAPPER_IPC_OK;
}

static int32_t tcpwrap_accept(void *user, void *listener, int32_t timeout_ms, void **connection)
{
    (void)user;
    struct pollfd p = {*(int *)listener, POLLIN, 0};
    int n = poll(&p, 1, timeout_ms);
    if (n == 0)
        return DAPPER_IPC_E_TIMEOUT;
    int fd = accept(*(int *)listener, NULL, NULL);
    if (fd < 0)
        return DAPPER_IPC_E_CANCELLED; /* shut down by stop_listener */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *connection = fd_box(fd);
    return DAPPER_IPC_OK;
}

static void tcpwrap_stop_listener(void *user, void *listener)
{
    (void)user;
    shutdown(*(int *)listener, SHUT_RDWR); /* wakes poll and accept (Linux) */
}

static void tcpwrap_close_handle(void *user, void *handle)
{
    (void)user;
    close(*(int *)handle);
    free(handle);
}

static int32_t tcpwrap_connect(void *user, const char *address, int32_t timeout_ms, void **connection)
{
    (void)user;
    (void)timeout_ms;
    const char *colon = address == NULL ? NULL : strrchr(address, ':');
    if (colon == NULL)
        return DAPPER_IPC_E_INVALID_ARGUMENT;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return DAPPER_IPC_E_IO;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return DAPPER_IPC_E_CONNECTION_REFUSED;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *connection = fd_box(fd);
    return DAPPER_IPC_OK;
}

static intptr_t tcpwrap_read(void *user, void *connection, void *buf, size_t cap)
{
    (void)user;
    for (;;) {
        ssize_t n = recv(*(int *)connection, buf, cap, 0);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == ECONNRESET ? DAPPER_IPC_E_CLOSED : DAPPER_IPC_E_IO;
    }
}

static intptr_t tcpwrap_write(void *user, void *connection, const void *buf, size_t len)
{
    (void)user;
    for (;;) {
        ssize_t n = send(*(int *)connection, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return errno == EPIPE || errno == ECONNRESET ? DAPPER_IPC_E_CLOSED : DAPPER_IPC_E_IO;
    }
}

static void tcpwrap_shutdown(void *user, void *connection)
{
    (void)user;
    shutdown(*(int *)connection, SHUT_RDWR);
}

static const dapper_ipc_transport_ops tcpwrap_ops = {
    .struct_size = sizeof(dapper_ipc_transport_ops),
    .listen = tcpwrap_listen,
    .launcher_address = tcpwrap_launcher_address,
    .accept = tcpwrap_accept,
    .stop_listener = tcpwrap_stop_listener,
    .close_listener = tcpwrap_close_handle,
    .connect = tcpwrap_connect,
    .read = tcpwrap_read,
    .write = tcpwrap_write,
    .shutdown = tcpwrap_shutdown,
    .close = tcpwrap_close_handle,
};

#endif
