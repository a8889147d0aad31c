/*
 * Loads OpenSSL 3 (libssl and libcrypto) on the first use of tls, once per
 * process, and resolves the functions of tls_ossl.h. Nothing links against
 * OpenSSL: a machine without it runs every other transport, and tls there
 * reports which library it could not find.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* RTLD_DEEPBIND */
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "shim.h"
#include "tls_ossl.h"

static dapper_ipc_ossl table;
static const dapper_ipc_ossl *loaded;
static char failure[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if defined(__APPLE__)
static const char *const crypto_names[] = {"libcrypto.3.dylib", "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
                                           "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib", NULL};
static const char *const ssl_names[] = {"libssl.3.dylib", "/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib",
                                        "/usr/local/opt/openssl@3/lib/libssl.3.dylib", NULL};
#else
static const char *const crypto_names[] = {"libcrypto.so.3", NULL};
static const char *const ssl_names[] = {"libssl.so.3", NULL};
#endif

#ifdef RTLD_DEEPBIND
#define DEEPBIND RTLD_DEEPBIND
#else
#define DEEPBIND 0 /* macOS: two-level namespaces already bind libssl to its own libcrypto */
#endif

static void *open_first(const char *const *names, const char *what)
{
    const char *error = NULL;
    for (int i = 0; names[i] != NULL; i++) {
        /* RTLD_LOCAL: OpenSSL's symbols stay out of the host's namespace. RTLD_DEEPBIND:
           and the host's stay out of OpenSSL's. A host with an OpenSSL of its own linked
           in and exported (Node) would otherwise lend libssl its libcrypto functions,
           mixing objects of two libcrypto instances (the handshake then fails). */
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL | DEEPBIND);
        if (h != NULL)
            return h;
        error = dlerror();
    }
    snprintf(failure, sizeof failure, "tls needs OpenSSL 3 (%s, %s) and it could not be loaded: %s", what, names[0],
             error != NULL ? error : "not found");
    return NULL;
}

static void load(void)
{
    void *crypto = open_first(crypto_names, "libcrypto");
    if (crypto == NULL)
        return;
    void *ssl = open_first(ssl_names, "libssl");
    if (ssl == NULL)
        return;
#define RESOLVE(lib, libname)                                                                      \
    {                                                                                              \
        void *f = dlsym(lib, name);                                                                \
        if (f == NULL) {                                                                           \
            snprintf(failure, sizeof failure, "tls needs OpenSSL 3: %s has no %s (an older OpenSSL?)", libname, name); \
            return;                                                                                \
        }                                                                                          \
        *slot = f;                                                                                 \
    }
#define SSL_ENTRY(fn, ret, args)                                                                   \
    {                                                                                              \
        const char *name = #fn;                                                                    \
        void **slot = (void **)&table.fn;                                                          \
        RESOLVE(ssl, "libssl")                                                                     \
    }
#define CRYPTO_ENTRY(fn, ret, args)                                                                \
    {                                                                                              \
        const char *name = #fn;                                                                    \
        void **slot = (void **)&table.fn;                                                          \
        RESOLVE(crypto, "libcrypto")                                                               \
    }
    DAPPER_IPC_SSL_FUNCTIONS(SSL_ENTRY)
    DAPPER_IPC_CRYPTO_FUNCTIONS(CRYPTO_ENTRY)
#undef SSL_ENTRY
#undef CRYPTO_ENTRY
#undef RESOLVE
    /* The handles stay open for the life of the process: sessions may outlive anything. */
    loaded = &table;
}

const dapper_ipc_ossl *dapper_ipc_ossl_load(const char **why)
{
    pthread_once(&once, load);
    if (loaded == NULL && why != NULL)
        *why = failure;
    return loaded;
}
