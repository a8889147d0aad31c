/*
 * The pull mode's readable handle on POSIX: a pollable fd (an epoll fd on Linux, a kqueue
 * on macOS and the BSDs) watching the socket and a flag that the managed side
 * (Transports/Platform/ReadySignal.Posix.cs) keeps holding a token exactly while a whole
 * frame is in the library's buffer (or the connection ended), so a host's poll/epoll/kqueue
 * sees frames that one read brought in together, not only bytes still in the kernel.
 * struct epoll_event (packed on x86-64 only) and struct kevent (different on each BSD) are
 * laid out by the system headers, so the handle is built here and only plain ints cross,
 * as the .NET runtime's pal_networking.c does for its socket event ports. Elsewhere the
 * call fails with ENOSYS. A socket_fd of -1 makes a handle that only the flag wakes: the
 * pull mode with DAPPER_IPC_FLAG_RECONNECT, whose handle must outlive any one socket.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* eventfd, epoll_create1 */
#endif
#include "shim.h"
#include <errno.h>

#if defined(__linux__)
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* fds[0]: the epoll fd; fds[1] = fds[2]: an eventfd (non-blocking), its 8-byte counter
   the token. Both close-on-exec. The token's size (8), or -1 with errno and nothing left
   open. */
DAPPER_IPC_SHIM_API int dapper_ipc_ready_signal(int socket_fd, int *fds)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int flag = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event on_socket = {.events = EPOLLIN};
    struct epoll_event on_flag = {.events = EPOLLIN};
    if (ep < 0 || flag < 0 || (socket_fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, socket_fd, &on_socket) < 0)
        || epoll_ctl(ep, EPOLL_CTL_ADD, flag, &on_flag) < 0) {
        int error = errno;
        if (ep >= 0)
            close(ep);
        if (flag >= 0)
            close(flag);
        errno = error;
        return -1;
    }
    fds[0] = ep;
    fds[1] = flag;
    fds[2] = flag;
    return (int)sizeof(uint64_t);
}

#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || defined(__DragonFly__)
#include <fcntl.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

static int close_on_exec(int fd, int nonblocking)
{
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -1;
    if (nonblocking) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
            return -1;
    }
    return 0;
}

/* fds[0]: the kqueue, fds[1]/fds[2]: the flag pipe's read/write ends (non-blocking),
   one byte the token. All close-on-exec. The token's size (1), or -1 with errno and
   nothing left open. */
DAPPER_IPC_SHIM_API int dapper_ipc_ready_signal(int socket_fd, int *fds)
{
    int flag[2];
    if (pipe(flag) < 0)
        return -1;
    int kq = kqueue();
    struct kevent changes[2];
    EV_SET(&changes[0], flag[0], EVFILT_READ, EV_ADD, 0, 0, 0);
    EV_SET(&changes[1], socket_fd, EVFILT_READ, EV_ADD, 0, 0, 0);
    if (kq < 0 || close_on_exec(kq, 0) < 0 || close_on_exec(flag[0], 1) < 0 || close_on_exec(flag[1], 1) < 0
        || kevent(kq, changes, socket_fd >= 0 ? 2 : 1, 0, 0, 0) < 0) {
        int error = errno;
        if (kq >= 0)
            close(kq);
        close(flag[0]);
        close(flag[1]);
        errno = error;
        return -1;
    }
    fds[0] = kq;
    fds[1] = flag[0];
    fds[2] = flag[1];
    return 1;
}

#else
DAPPER_IPC_SHIM_API int dapper_ipc_ready_signal(int socket_fd, int *fds)
{
    (void)socket_fd;
    (void)fds;
    errno = ENOSYS;
    return -1;
}
#endif
