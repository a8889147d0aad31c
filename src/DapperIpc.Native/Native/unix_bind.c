/*
 * socket + bind for a unix listener, in C: struct sockaddr_un's layout differs
 * per platform (sun_len on the BSDs), and a socket .NET binds itself is
 * unlinked by name when .NET disposes it, whatever is at that path by then.
 * A socket bound here and handed to .NET as a handle is not: the library
 * removes the path itself, only while it is still the socket it bound.
 */
#include "shim.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Returns 0 with *fd_out a close-on-exec stream socket bound to path, or an errno. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_unix_bind(const char *path, int32_t *fd_out)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length >= sizeof addr.sun_path)
        return ENAMETOOLONG;
    memcpy(addr.sun_path, path, length + 1);
#ifdef SOCK_CLOEXEC
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
#else
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
    if (fd < 0)
        return errno;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int error = errno;
        close(fd);
        return error;
    }
    *fd_out = fd;
    return 0;
}
