/*
 * Removes the unix socket files (and the private directories made for them)
 * of listeners still open when the host process exits without cleanup.
 *
 * Managed code cannot run safely while a process exits (other threads may hold
 * runtime locks), so the paths are handed to this C registry when a listener
 * binds and taken back when it is disposed; a destructor, run by exit() and by
 * dlclose(), unlinks what is left. A SIGKILLed host still leaves its files:
 * nothing runs then.
 *
 * Each path is removed only while it is still the socket the listener bound
 * (same st_dev and st_ino, still a socket): a file put there since, or the
 * socket of another listener that bound the path after ours was unlinked,
 * is left alone.
 */
#include "shim.h"
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAPPER_IPC_MAX_TRACKED 256

struct tracked_path {
    char *socket_path;
    char *directory; /* NULL when the caller chose the path */
    uint64_t dev;    /* what was bound there */
    uint64_t ino;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracked_path registry[DAPPER_IPC_MAX_TRACKED];

/* Returns 1 when tracked, 0 when the registry is full (the listener still works). */
DAPPER_IPC_SHIM_API int dapper_ipc_track_socket(const char *socket_path, const char *directory,
                                                                   uint64_t dev, uint64_t ino)
{
    int tracked = 0;
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < DAPPER_IPC_MAX_TRACKED; i++) {
        if (registry[i].socket_path == NULL) {
            registry[i].socket_path = strdup(socket_path);
            registry[i].directory = directory != NULL ? strdup(directory) : NULL;
            registry[i].dev = dev;
            registry[i].ino = ino;
            tracked = registry[i].socket_path != NULL;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return tracked;
}

DAPPER_IPC_SHIM_API void dapper_ipc_untrack_socket(const char *socket_path, uint64_t dev, uint64_t ino)
{
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < DAPPER_IPC_MAX_TRACKED; i++) {
        if (registry[i].socket_path != NULL && strcmp(registry[i].socket_path, socket_path) == 0 &&
            registry[i].dev == dev && registry[i].ino == ino) {
            free(registry[i].socket_path);
            free(registry[i].directory);
            registry[i].socket_path = NULL;
            registry[i].directory = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

__attribute__((destructor)) static void dapper_ipc_remove_tracked_sockets(void)
{
    /* No lock: a thread that exited while holding it would hang the exit. The
       process is going away; a racing listener would only miss its own unlink. */
    for (int i = 0; i < DAPPER_IPC_MAX_TRACKED; i++) {
        struct stat st;
        if (registry[i].socket_path != NULL) {
            if (lstat(registry[i].socket_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
                (uint64_t)st.st_dev == registry[i].dev && (uint64_t)st.st_ino == registry[i].ino)
                unlink(registry[i].socket_path);
            if (registry[i].directory != NULL)
                rmdir(registry[i].directory);
        }
    }
}
