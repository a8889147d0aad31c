/*
 * The lock that makes "probe a caller-given unix socket path, remove a stale
 * socket there, bind, listen" one step across threads and processes: an
 * exclusive flock on the sibling file "<path>.lock", held only for that step.
 *
 * The lock file is removed by its holder before it lets go, so nothing stays
 * behind. A waiter may then hold a lock on a file that is no longer at the
 * path; it notices (the open descriptor and the path name different files)
 * and starts again on the current one, so two holders can never coexist.
 * A process killed while holding it leaves the file, but the kernel drops
 * the lock; the next taker uses the file and removes it. A lock file of
 * another user is refused, and a lock held longer than the caller's
 * timeout gives up, so nobody else can make a listener hang.
 */
#include "shim.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Returns 0 with *fd_out holding the locked descriptor, or an errno: ENOENT (the
   directory does not exist), ELOOP (the lock path is a symlink), EPERM (the lock
   file belongs to another user: in a shared directory it could be held forever),
   ETIMEDOUT (still held by someone else after timeout_ms; the lock is normally held
   for a few system calls, so a holder that long is not a listener being set up). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_path_lock(const char *lock_path, int32_t timeout_ms,
                                                                   int32_t *fd_out)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return errno;
        struct stat held, named;
        if (fstat(fd, &held) != 0 || held.st_uid != geteuid()) {
            close(fd);
            return EPERM;
        }
        int rc;
        while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && (errno == EWOULDBLOCK || errno == EINTR)) {
            if (now_ms() >= deadline) {
                close(fd);
                return ETIMEDOUT;
            }
            struct timespec pause = {0, 1000000}; /* 1 ms: the holder needs a few system calls */
            nanosleep(&pause, NULL);
        }
        if (rc != 0) {
            int error = errno;
            close(fd);
            return error;
        }
        if (lstat(lock_path, &named) == 0 && held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
            *fd_out = fd;
            return 0;
        }
        close(fd); /* the previous holder removed it: take the one at the path now */
    }
}

/* Removes the lock file (if it is still the one held) and releases the lock. */
DAPPER_IPC_SHIM_API void dapper_ipc_path_unlock(const char *lock_path, int32_t fd)
{
    struct stat held, named;
    if (fstat(fd, &held) == 0 && lstat(lock_path, &named) == 0 && held.st_dev == named.st_dev &&
        held.st_ino == named.st_ino)
        unlink(lock_path);
    close(fd);
}
