/*
 * The pull mode's readable handle where the OS has kqueue (macOS): a kqueue watching the
 * socket and the read end of a pipe that the managed side (ReadySignal.Kqueue.cs) keeps
 * holding one byte exactly while a whole frame is in its buffer. struct kevent's layout
 * differs between the BSDs, so it is built here, where the compiler knows it; only plain
 * ints cross. Elsewhere the call fails with ENOSYS.
 */
#include "shim.h"
#include <errno.h>

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || defined(__DragonFly__)
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

/* fds[0]: the kqueue, fds[1]/fds[2]: the flag pipe's read/write ends (non-blocking,
   close-on-exec). 0, or -1 with errno and nothing left open. */
DAPPER_IPC_SHIM_API int dapper_ipc_kqueue_signal(int socket_fd, int *fds)
{
    int flag[2];
    if (pipe(flag) < 0)
        return -1;
    int kq = kqueue();
    struct kevent changes[2];
    EV_SET(&changes[0], socket_fd, EVFILT_READ, EV_ADD, 0, 0, 0);
    EV_SET(&changes[1], flag[0], EVFILT_READ, EV_ADD, 0, 0, 0);
    if (kq < 0 || close_on_exec(kq, 0) < 0 || close_on_exec(flag[0], 1) < 0 || close_on_exec(flag[1], 1) < 0
        || kevent(kq, changes, 2, 0, 0, 0) < 0) {
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
    return 0;
}
#else
DAPPER_IPC_SHIM_API int dapper_ipc_kqueue_signal(int socket_fd, int *fds)
{
    (void)socket_fd;
    (void)fds;
    errno = ENOSYS;
    return -1;
}
#endif
