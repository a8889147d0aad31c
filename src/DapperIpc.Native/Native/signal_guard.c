/*
 * Keeps the host's SIGPIPE disposition as the host set it.
 *
 * The Native AOT runtime sets SIGPIPE to SIG_IGN when it initialises, which
 * happens lazily on the first call into the library. The library never needs
 * that: every send uses MSG_NOSIGNAL (Linux) or SO_NOSIGPIPE (macOS). So the
 * disposition is recorded when the library is loaded, before the runtime
 * exists, and put back by the runtime's module initializer.
 */
#include "shim.h"
#include <signal.h>
#include <string.h>

static struct sigaction saved_sigpipe;
static int saved_valid;

__attribute__((constructor)) static void dapper_ipc_record_sigpipe(void)
{
    if (sigaction(SIGPIPE, NULL, &saved_sigpipe) == 0)
        saved_valid = 1;
}

/* Returns 1 when it put the recorded disposition back, 0 when nothing changed. */
DAPPER_IPC_SHIM_API int dapper_ipc_restore_sigpipe(void)
{
    struct sigaction now;
    if (!saved_valid || sigaction(SIGPIPE, NULL, &now) != 0)
        return 0;
    /* Only undo the runtime's SIG_IGN; anything else was the host's own choice. */
    if (now.sa_handler != SIG_IGN || saved_sigpipe.sa_handler == SIG_IGN)
        return 0;
    return sigaction(SIGPIPE, &saved_sigpipe, NULL) == 0;
}
