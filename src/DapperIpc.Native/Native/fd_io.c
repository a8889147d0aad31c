/*
 * Reading and writing an adopted descriptor that is not a socket (a pipe, a FIFO, a
 * character device): recv/send do not apply, and its O_NONBLOCK flag belongs to a file
 * description the host (or another process) may share, so it is never changed. Instead
 * every read and write waits with poll first, on the descriptor and on a wake pipe that
 * the connection's close writes to, so a blocked reader or sender always wakes. A write
 * after POLLOUT takes at most PIPE_BUF bytes, which a pipe with room accepts without
 * blocking (POSIX: a write of PIPE_BUF or less is atomic, and poll's POLLOUT promises room
 * for it), so no call ever blocks past the wait.
 * Also stdio's takeover: moving fd 0 and fd 1 out of reach of the rest of the process.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pipe2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define FD_IO_TIMED_OUT (-2) /* the wait ran out (timeout_ms >= 0) */
#define FD_IO_WOKEN (-3)     /* the wake pipe was written: the connection is closing */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd or for the wake pipe: 0 ready, FD_IO_WOKEN, FD_IO_TIMED_OUT or -1 (errno). */
static int wait_for(int fd, short events, int wake, int32_t timeout_ms)
{
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
    for (;;) {
        struct pollfd p[2] = {{fd, events, 0}, {wake, POLLIN, 0}};
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        int n = poll(p, 2, wait);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (p[1].revents != 0)
            return FD_IO_WOKEN;
        if (n == 0)
            return FD_IO_TIMED_OUT;
        if (p[0].revents & POLLNVAL) {
            errno = EBADF;
            return -1;
        }
        return 0; /* readable, writable, hung up or an error: the read or write tells which */
    }
}

/* Reads what is there (at most len): bytes read, 0 at end of stream, FD_IO_WOKEN,
   FD_IO_TIMED_OUT, or -1 (errno). */
DAPPER_IPC_SHIM_API intptr_t dapper_ipc_fd_read(int fd, int wake, void *buf, size_t len, int32_t timeout_ms)
{
    for (;;) {
        int w = wait_for(fd, POLLIN, wake, timeout_ms);
        if (w != 0)
            return w;
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR && errno != EAGAIN)
            return -1;
    }
}

/* Writes at most PIPE_BUF bytes of the iovecs once there is room: bytes written,
   FD_IO_WOKEN, FD_IO_TIMED_OUT, or -1 (errno; EPIPE when the reader is gone: SIGPIPE is
   blocked for this thread around the write, as the socket calls use MSG_NOSIGNAL). */
DAPPER_IPC_SHIM_API intptr_t dapper_ipc_fd_writev(int fd, int wake, const struct iovec *iov, int count, int32_t timeout_ms)
{
    struct iovec part[64];
    size_t room = PIPE_BUF;
    int parts = 0;
    for (int i = 0; i < count && parts < 64 && room > 0; i++) {
        if (iov[i].iov_len == 0)
            continue;
        part[parts].iov_base = iov[i].iov_base;
        part[parts].iov_len = iov[i].iov_len < room ? iov[i].iov_len : room;
        room -= part[parts].iov_len;
        parts++;
    }
    for (;;) {
        int w = wait_for(fd, POLLOUT, wake, timeout_ms);
        if (w != 0)
            return w;
        sigset_t pipe_only, old;
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
        ssize_t n = writev(fd, part, parts);
        int error = errno;
        if (n < 0 && error == EPIPE) {
            /* Take the SIGPIPE this write queued for the thread before unblocking. */
            sigset_t pending;
            int sig;
            if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
                sigwait(&pipe_only, &sig);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = error;
        if (n >= 0)
            return n;
        if (errno != EINTR && errno != EAGAIN)
            return -1;
    }
}

/* A close-on-exec pipe whose read end the waits above watch: fds[0] read, fds[1] write. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_wake_pipe(int32_t *fds)
{
    int p[2];
#if defined(__linux__)
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
#else
    if (pipe(p) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
    }
#endif
    fds[0] = p[0];
    fds[1] = p[1];
    return 0;
}

/* One byte into the wake pipe (a full pipe is already woken). */
DAPPER_IPC_SHIM_API void dapper_ipc_wake(int fd)
{
    char one = 1;
    ssize_t ignored = write(fd, &one, 1);
    (void)ignored;
}

/* The stdio transport's takeover: *in and *out receive private close-on-exec copies of
   fd 0 and fd 1; fd 0 then reads /dev/null and fd 1 writes to fd 2 (stderr), so nothing
   else in the process can read the stream or write into it. 0, or -1 (errno) with
   nothing changed. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_stdio_take(int32_t *in, int32_t *out)
{
    int r = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (r < 0)
        return -1;
    int w = fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (w < 0) {
        int e = errno;
        close(r);
        errno = e;
        return -1;
    }
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(2, 1) < 0) {
        int e = errno;
        if (null >= 0)
            close(null);
        close(r);
        close(w);
        errno = e;
        return -1;
    }
    close(null);
    *in = r;
    *out = w;
    return 0;
}
