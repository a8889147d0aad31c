/*
 * What is at a path, without following a symlink: lstat's file type and the
 * (st_dev, st_ino) pair that names the file itself. struct stat's layout
 * differs per platform and libc, so it is read here, in C, rather than by
 * managed code guessing offsets.
 */
#include "shim.h"
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

/* Kinds, as PosixFileKind.cs's FileKind: 1 socket, 2 symbolic link, 3 anything else. */
static int32_t kind_of(mode_t mode)
{
    if (S_ISSOCK(mode))
        return 1;
    if (S_ISLNK(mode))
        return 2;
    return 3;
}

/* Returns 0 and fills *kind, *dev, *ino; or the errno of lstat (ENOENT: nothing there). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_file_identity(const char *path, int32_t *kind,
                                                                       uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno != 0 ? errno : EIO;
    *kind = kind_of(st.st_mode);
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    return 0;
}

/* The same for an open descriptor (fstat). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_fd_identity(int32_t fd, int32_t *kind, uint64_t *dev,
                                                                     uint64_t *ino)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno != 0 ? errno : EIO;
    *kind = kind_of(st.st_mode);
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    return 0;
}
