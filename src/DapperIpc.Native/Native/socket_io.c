/*
 * The socket calls of the frame hot path, and what their results mean, in C:
 * struct msghdr and struct iovec, the no-SIGPIPE mechanism, the peer
 * credential calls and the errno values all differ per platform and libc, so
 * they are used here, where the system headers describe them, and managed code
 * sees plain ints and pointers (as nng's src/platform/posix and the .NET
 * runtime's System.Native do).
 *
 * Failures are returned as one of the small negative classes below, with errno
 * left as the call set it (for the message). The classes are defined here and
 * only here; Transports/Platform/SocketShim.cs mirrors them, and a managed test
 * reads this file to hold the copy to it.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* struct ucred */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif
#if defined(__APPLE__)
#include <sys/un.h> /* SOL_LOCAL, LOCAL_PEERPID */
#endif

#include "shim.h"

enum dapper_ipc_errno_class {
    DAPPER_IPC_ERRC_OTHER = -1,          /* anything else: reported as it is */
    DAPPER_IPC_ERRC_WOULD_BLOCK = -2,    /* EAGAIN/EWOULDBLOCK: SO_SNDTIMEO or SO_RCVTIMEO ran out */
    DAPPER_IPC_ERRC_PEER_GONE = -3,      /* EPIPE, ECONNRESET, ENOTCONN, ESHUTDOWN */
    DAPPER_IPC_ERRC_INTERRUPTED = -4,    /* EINTR (dapper_ipc_sock_recv retries it; dapper_ipc_sendv returns it) */
    DAPPER_IPC_ERRC_NO_DESCRIPTORS = -5, /* EMFILE, ENFILE */
    DAPPER_IPC_ERRC_ADDRESS_IN_USE = -6, /* EADDRINUSE */
    DAPPER_IPC_ERRC_TIMED_OUT = -7,      /* ETIMEDOUT */
    DAPPER_IPC_ERRC_NOT_PERMITTED = -8,  /* EPERM */
};

/* The shim's own { base, length } pair, laid out as struct iovec so an array of
   them is handed to sendmsg as it is. */
typedef struct dapper_ipc_iovec {
    void *base;
    size_t length;
} dapper_ipc_iovec;

_Static_assert(sizeof(dapper_ipc_iovec) == sizeof(struct iovec), "dapper_ipc_iovec is not struct iovec");
_Static_assert(offsetof(dapper_ipc_iovec, base) == offsetof(struct iovec, iov_base), "iov_base moved");
_Static_assert(offsetof(dapper_ipc_iovec, length) == offsetof(struct iovec, iov_len), "iov_len moved");

/* Native/stamp.c */
DAPPER_IPC_SHIM_API int64_t dapper_ipc_stamp(void);

/* The class of an errno value (0 for 0). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_errno_class(int32_t error)
{
    switch (error) {
    case 0:
        return 0;
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
    case EAGAIN:
        return DAPPER_IPC_ERRC_WOULD_BLOCK;
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN:
    case ESHUTDOWN:
        return DAPPER_IPC_ERRC_PEER_GONE;
    case EINTR:
        return DAPPER_IPC_ERRC_INTERRUPTED;
    case EMFILE:
    case ENFILE:
        return DAPPER_IPC_ERRC_NO_DESCRIPTORS;
    case EADDRINUSE:
        return DAPPER_IPC_ERRC_ADDRESS_IN_USE;
    case ETIMEDOUT:
        return DAPPER_IPC_ERRC_TIMED_OUT;
    case EPERM:
        return DAPPER_IPC_ERRC_NOT_PERMITTED;
    default:
        return DAPPER_IPC_ERRC_OTHER;
    }
}

/* Once per connected socket: what the platform needs before the first send.
   macOS and the BSDs have no MSG_NOSIGNAL, so SIGPIPE is turned off for the
   socket instead (SO_NOSIGPIPE). Returns 0 or a class. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_socket_configure(int32_t fd)
{
#if defined(SO_NOSIGPIPE)
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) != 0)
        return dapper_ipc_errno_class(errno);
#else
    (void)fd;
#endif
    return 0;
}

/* As dapper_ipc_sendv, but never waits: DAPPER_IPC_ERRC_WOULD_BLOCK when the
   send buffer has no room at all, else what fitted. The first attempt of every
   send, so the time a send then waits for room is known exactly; and a
   websocket control frame written from close, which must not block. Called
   without a GC transition (it cannot block). */
DAPPER_IPC_SHIM_API intptr_t dapper_ipc_sendv_nowait(int32_t fd, dapper_ipc_iovec *iov, int32_t count, int32_t *error)
{
    struct msghdr msg = {0};
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = count;
#if defined(MSG_NOSIGNAL)
    const int flags = MSG_NOSIGNAL | MSG_DONTWAIT;
#else
    const int flags = MSG_DONTWAIT;
#endif
    ssize_t n;
    do {
        n = sendmsg(fd, &msg, flags);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    *error = errno;
    return dapper_ipc_errno_class(errno);
}

/* One gathered write of count pairs: the number of bytes written (possibly
   fewer than asked), or a class. Never raises SIGPIPE. EINTR is returned
   (DAPPER_IPC_ERRC_INTERRUPTED), not retried: the caller's send timeout is one
   deadline, so it lowers SO_SNDTIMEO to what is left before it tries again.
   On a failure *error gets errno (cheaper than the runtime's SetLastError
   bracket, which costs every call of the frame path). */
DAPPER_IPC_SHIM_API intptr_t dapper_ipc_sendv(int32_t fd, dapper_ipc_iovec *iov, int32_t count, int32_t *error)
{
    struct msghdr msg = {0};
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = count;
#if defined(MSG_NOSIGNAL)
    const int flags = MSG_NOSIGNAL; /* per call: the host's signal dispositions stay untouched */
#else
    const int flags = 0; /* SO_NOSIGPIPE, set by dapper_ipc_socket_configure */
#endif
    ssize_t n = sendmsg(fd, &msg, flags);
    if (n >= 0)
        return n;
    *error = errno;
    return dapper_ipc_errno_class(errno);
}

/* Clears O_NONBLOCK: a socket that was read without blocking during a
   websocket handshake becomes the blocking socket the connection's calls
   expect. 0 or a class. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_socket_set_blocking(int32_t fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        return dapper_ipc_errno_class(errno);
    return 0;
}

/* A blocking receive of at most length bytes: the count (0 at end of stream), or
   a class with errno in *error. EINTR is retried. A read that brought data
   writes dapper_ipc_stamp() to *stamp: the time of the frames it completes
   (last_receive_ms_ago), taken here where it costs a counter read instead of
   a second call from managed code. */
DAPPER_IPC_SHIM_API intptr_t dapper_ipc_sock_recv(int32_t fd, void *buffer, size_t length, int64_t *stamp, int32_t *error)
{
    for (;;) {
        ssize_t n = recv(fd, buffer, length, 0);
        if (n > 0) {
            *stamp = dapper_ipc_stamp();
            return n;
        }
        if (n == 0)
            return 0;
        if (errno != EINTR) {
            *error = errno;
            return dapper_ipc_errno_class(errno);
        }
    }
}

/* A receive that waits at most timeout_ms (>= 0) for data: the count (0 at end of
   stream), or a class; DAPPER_IPC_ERRC_WOULD_BLOCK when nothing came in time. The
   pull mode's recv with a timeout. EINTR is retried with the time left. */
DAPPER_IPC_SHIM_API intptr_t dapper_ipc_sock_recv_wait(int32_t fd, void *buffer, size_t length, int32_t timeout_ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int left = timeout_ms;
    for (;;) {
        if (left > 0) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int r = poll(&p, 1, left);
            if (r == 0)
                return DAPPER_IPC_ERRC_WOULD_BLOCK;
            if (r < 0 && errno == EINTR) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long spent = (long)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                left = spent >= timeout_ms ? 0 : timeout_ms - (int)spent;
                if (left == 0)
                    return DAPPER_IPC_ERRC_WOULD_BLOCK;
                continue;
            }
            /* readable, or an error the recv below reports */
        }
        ssize_t n = recv(fd, buffer, length, MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return dapper_ipc_errno_class(errno);
    }
}

/* Sends now the ACK the kernel holds back for data already read (Linux, tcp:
   TCP_QUICKACK 2 leaves the delayed-ACK mode just long enough to send it, so later
   ACKs still ride on our frames; 1 would acknowledge every segment at once, a pure
   ACK per frame). Best effort; nothing elsewhere. */
DAPPER_IPC_SHIM_API void dapper_ipc_flush_delayed_ack(int32_t fd)
{
#if defined(__linux__) && defined(TCP_QUICKACK)
    int two = 2;
    int saved = errno;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &two, sizeof two);
    errno = saved;
#else
    (void)fd;
#endif
}

/* The effective uid of the process at the other end of a unix socket:
   SO_PEERCRED on Linux, getpeereid on macOS and the BSDs. 0 or a class. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_peer_uid(int32_t fd, uint32_t *uid)
{
#if defined(__linux__)
    struct ucred cred;
    socklen_t length = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0)
        return dapper_ipc_errno_class(errno);
    *uid = (uint32_t)cred.uid;
#else
    uid_t euid;
    gid_t egid;
    if (getpeereid(fd, &euid, &egid) != 0)
        return dapper_ipc_errno_class(errno);
    *uid = (uint32_t)euid;
#endif
    return 0;
}

/* The pid of the process at the other end of a unix socket, for the logs: SO_PEERCRED
   on Linux, LOCAL_PEERPID on macOS. 0 or a class; Other where the platform has no such
   call (the BSDs). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_peer_pid(int32_t fd, int32_t *pid)
{
#if defined(__linux__)
    struct ucred cred;
    socklen_t length = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0)
        return dapper_ipc_errno_class(errno);
    *pid = (int32_t)cred.pid;
    return 0;
#elif defined(__APPLE__)
    pid_t peer;
    socklen_t length = sizeof peer;
    if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &peer, &length) != 0)
        return dapper_ipc_errno_class(errno);
    *pid = (int32_t)peer;
    return 0;
#else
    (void)fd;
    (void)pid;
    return DAPPER_IPC_ERRC_OTHER;
#endif
}
