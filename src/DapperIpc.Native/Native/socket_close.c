/*
 * What closing a socket needs to know and no portable call tells: how much of what we
 * sent the peer's kernel has not yet acknowledged, and throwing away input that the host
 * will never read (a tcp socket closed with unread input is reset, and a reset drops
 * whatever is still in our send queue). Used by PosixSocketConnection's close; plain
 * ints cross.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#if defined(__linux__)
#include <linux/sockios.h> /* SIOCOUTQ */
#include <netinet/in.h>
#include <netinet/tcp.h> /* TCP_INFO */
#endif

#include "shim.h"

/* Bytes of data we wrote that the peer's kernel has not acknowledged yet (sent or not);
   0 once the connection is gone (a reset leaves nothing to wait for, though the counters
   stay where they were); -1 where the OS cannot tell (then the caller must assume the
   worst). A FIN already sent is not counted: a peer in the middle of a request delays
   the ACK of our FIN (Linux: up to 40 ms, until it next writes), while the FIN itself
   has arrived. Linux: SIOCOUTQ (write_seq - snd_una, the FIN included) less the FIN
   once SIOCOUTQNSD says everything went out. macOS: SO_NWRITE (the send buffer, which
   keeps data until it is acknowledged and holds no FIN). */
DAPPER_IPC_SHIM_API int64_t dapper_ipc_sock_unacked(int32_t fd)
{
    int saved = errno;
    int64_t result = -1;
#if defined(__linux__) && defined(SIOCOUTQ) && defined(SIOCOUTQNSD)
    struct tcp_info info;
    socklen_t info_size = sizeof info;
    int queued = 0, unsent = 0;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_size) != 0)
        result = -1;
    else if (info.tcpi_state == TCP_CLOSE)
        result = 0;
    else if (ioctl(fd, SIOCOUTQ, &queued) == 0 && ioctl(fd, SIOCOUTQNSD, &unsent) == 0) {
        int fin_out = unsent == 0 && queued > 0 &&
                      (info.tcpi_state == TCP_FIN_WAIT1 || info.tcpi_state == TCP_CLOSING ||
                       info.tcpi_state == TCP_LAST_ACK);
        result = queued - fin_out;
    }
#elif defined(__APPLE__) && defined(SO_NWRITE)
    int queued = 0;
    socklen_t size = sizeof queued;
    if (getsockopt(fd, SOL_SOCKET, SO_NWRITE, &queued, &size) == 0)
        result = queued;
#else
    (void)fd;
#endif
    errno = saved;
    return result;
}

/* Reads and drops whatever input is there now, without waiting. Returns 0 when nothing
   more is there now, 1 at the end of the stream (the peer's end-of-file, or our own read
   shutdown), -1 on an error (a reset: nothing left to protect). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_sock_discard(int32_t fd)
{
    static char scratch[16 * 1024]; /* written, never read: one buffer serves every thread */
    int saved = errno;
    int32_t result;
    for (;;) {
        ssize_t n = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0)
            result = 1;
        else if (errno == EINTR)
            continue;
        else
            result = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        break;
    }
    errno = saved;
    return result;
}
