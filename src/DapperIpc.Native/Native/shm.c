/*
 * The system calls of the shm transport (Transports/Shm): the sealed memfd, its
 * mapping, passing its fd over the rendezvous socket (SCM_RIGHTS), the futex a
 * sleeping reader or writer waits on, and the doorbell bytes of the pull mode.
 * The ring itself (indices, copies, validation) is managed code; these are the
 * calls whose structs and constants are the platform's. Linux only: elsewhere
 * every call fails with ENOSYS and the managed side reports UNSUPPORTED first.
 *
 * Results: >= 0 success, else -errno (the managed side names the errno).
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* memfd_create, MSG_CMSG_CLOEXEC */
#endif
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "shim.h"

#if defined(__linux__)
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Makes the shared memory: a memfd of `size` bytes, sealed so that neither end can
   shrink it under the other's mapping (a shrink would turn the other's reads into
   SIGBUS), then mapped. Returns the fd (the caller passes it on, then closes it). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_create(uint64_t size, void **base)
{
    int fd = memfd_create("dapper_ipc_shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        return -errno;
    }
    if (ftruncate(fd, (off_t)size) != 0
        || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        return -e;
    }
    *base = p;
    return fd;
}

/* Maps a memfd received from a listener, after checking it is what a mapping of
   `size` bytes can trust: a memfd at least that long and sealed against shrinking
   (else the listener could cut it short under us). -EPROTO when it is not. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_map(int32_t fd, uint64_t size, void **base)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & F_SEAL_SHRINK) == 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < size) {
        return -EPROTO;
    }
    void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        return -errno;
    }
    *base = p;
    return 0;
}

/* The memfd's size as the kernel knows it (the client reads the ring size from the
   header, then checks the file holds all of it before mapping more). */
DAPPER_IPC_SHIM_API int64_t dapper_ipc_shm_size(int32_t fd)
{
    struct stat st;
    return fstat(fd, &st) != 0 ? -errno : (int64_t)st.st_size;
}

/* Only ever our own whole mapping: it cannot fail. */
DAPPER_IPC_SHIM_API void dapper_ipc_shm_unmap(void *base, uint64_t size)
{
    (void)munmap(base, (size_t)size);
}

/* A message of one buffer with room for control data (the fds), as both ends of the
   fd passing give it to sendmsg and recvmsg. */
static struct msghdr one_buffer(struct iovec *iov, void *control, size_t control_size)
{
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = control_size;
    return msg;
}

/* Sends `length` bytes with one fd attached, without SIGPIPE. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_send_fd(int32_t socket, int32_t fd, const void *data, int32_t length)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = { (void *)data, (size_t)length };
    struct msghdr msg = one_buffer(&iov, control.buf, sizeof control.buf);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t n;
    do {
        n = sendmsg(socket, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (int32_t)n;
}

/* Receives exactly `length` bytes, waiting at most `timeout_ms` in all, and the one fd
   that came with them (*fd: -1 when none came). Any further fd is closed at once: a
   peer cannot leave descriptors in this process. Returns 0, -ETIMEDOUT, -ECONNRESET
   (end of stream before all of it) or another -errno. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_recv_fd(int32_t socket, void *data, int32_t length, int32_t timeout_ms, int32_t *fd)
{
    *fd = -1;
    int32_t got = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (got < length) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
        int left = timeout_ms < 0 ? -1 : (int)(elapsed >= timeout_ms ? 0 : timeout_ms - elapsed);
        struct pollfd p = { socket, POLLIN, 0 };
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        if (r == 0) {
            return -ETIMEDOUT;
        }
        union {
            char buf[CMSG_SPACE(sizeof(int) * 4)];
            struct cmsghdr align;
        } control;
        struct iovec iov = { (char *)data + got, (size_t)(length - got) };
        struct msghdr msg = one_buffer(&iov, control.buf, sizeof control.buf);
        ssize_t n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
                continue;
            }
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int received;
                memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (*fd < 0) {
                    *fd = received;
                } else {
                    close(received);
                }
            }
        }
        if (n == 0) {
            return -ECONNRESET;
        }
        got += (int32_t)n;
    }
    return 0;
}

/* Sleeps while *word == expected, at most timeout_ms. The word is in memory shared
   with another process, so not FUTEX_PRIVATE. 0 woken (or the word differed), 1 timed out. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_futex_wait(uint32_t *word, uint32_t expected, int32_t timeout_ms)
{
    struct timespec t = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    long r = syscall(SYS_futex, word, FUTEX_WAIT, expected, &t, NULL, 0);
    return r != 0 && errno == ETIMEDOUT ? 1 : 0;
}

DAPPER_IPC_SHIM_API void dapper_ipc_futex_wake(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* The pull mode's doorbell: one byte on the rendezvous socket makes the reader's
   readable handle (an epoll over that socket) fire. Never waits: a full socket
   already holds doorbells enough. */
DAPPER_IPC_SHIM_API void dapper_ipc_shm_ring_doorbell(int32_t socket)
{
    char b = 1;
    (void)send(socket, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* How many CPUs the calling thread may run on (1 when pinned to one, as by taskset -c). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_allowed_cpus(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
}

/* Waits up to timeout_ms for the socket to be readable, then takes every byte there
   (doorbells, which carry nothing). 1: the peer closed (end of stream or an error), 0 otherwise. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_drain(int32_t socket, int32_t timeout_ms)
{
    struct pollfd p = { socket, POLLIN, 0 };
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) {
        return 0;
    }
    char buf[256];
    for (;;) {
        ssize_t n = recv(socket, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ? 1 : 0;
    }
}

/* Waits up to timeout_ms for the socket to be readable (data, end of stream or an
   error), taking nothing. 1 readable, 0 not. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_wait_readable(int32_t socket, int32_t timeout_ms)
{
    struct pollfd p = { socket, POLLIN, 0 };
    return poll(&p, 1, timeout_ms) > 0 ? 1 : 0;
}

/* 1 when the peer is gone for good (both directions of the socket shut: it closed
   or died), without taking a byte (the doorbells are the reader's). 0 otherwise. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_hung_up(int32_t socket)
{
    struct pollfd p = { socket, POLLIN, 0 };
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0 ? 1 : 0;
}

DAPPER_IPC_SHIM_API void dapper_ipc_shm_sched_yield(void)
{
    (void)sched_yield();
}

#else

DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_create(uint64_t size, void **base) { (void)size; (void)base; return -ENOSYS; }
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_map(int32_t fd, uint64_t size, void **base) { (void)fd; (void)size; (void)base; return -ENOSYS; }
DAPPER_IPC_SHIM_API int64_t dapper_ipc_shm_size(int32_t fd) { (void)fd; return -ENOSYS; }
DAPPER_IPC_SHIM_API void dapper_ipc_shm_unmap(void *base, uint64_t size) { (void)base; (void)size; }
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_send_fd(int32_t socket, int32_t fd, const void *data, int32_t length) { (void)socket; (void)fd; (void)data; (void)length; return -ENOSYS; }
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_recv_fd(int32_t socket, void *data, int32_t length, int32_t timeout_ms, int32_t *fd) { (void)socket; (void)data; (void)length; (void)timeout_ms; *fd = -1; return -ENOSYS; }
DAPPER_IPC_SHIM_API int32_t dapper_ipc_futex_wait(uint32_t *word, uint32_t expected, int32_t timeout_ms) { (void)word; (void)expected; (void)timeout_ms; return 0; }
DAPPER_IPC_SHIM_API void dapper_ipc_futex_wake(uint32_t *word) { (void)word; }
DAPPER_IPC_SHIM_API void dapper_ipc_shm_ring_doorbell(int32_t socket) { (void)socket; }
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_drain(int32_t socket, int32_t timeout_ms) { (void)socket; (void)timeout_ms; return 1; }
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_allowed_cpus(void) { return 0; }
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_wait_readable(int32_t socket, int32_t timeout_ms) { (void)socket; (void)timeout_ms; return 1; }
DAPPER_IPC_SHIM_API int32_t dapper_ipc_shm_hung_up(int32_t socket) { (void)socket; return 1; }
DAPPER_IPC_SHIM_API void dapper_ipc_shm_sched_yield(void) { }

#endif
