/*
 * The tls transport's OpenSSL work, on the connection's own socket descriptor
 * (SSL_set_fd): contexts (the listener's certificate, made in memory or read
 * from PEM files; the client's pin or trust-store check), the non-blocking
 * handshake a listener drives for many clients at once, and the frame path:
 * one SSL_write per frame (header and the start of the payload gathered into
 * one record) and SSL_read straight into the caller's buffer.
 *
 * The records' AES-GCM is the library's own (aesgcm.c, through tls_provider.c)
 * where the CPU runs it: contexts are made in that provider's library context.
 *
 * An SSL object must not be used by two threads at once, while the library
 * reads on one thread and sends on others: every SSL call holds the
 * session's mutex, the descriptor is non-blocking, and waiting (poll) happens
 * outside the mutex, so a blocked reader never holds up a sender.
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim.h"
#include "tls_ossl.h"

#define ERRC_OTHER (-1)
#define ERRC_WOULD_BLOCK (-2)
#define ERRC_PEER_GONE (-3)
#define RECORD (16 * 1024) /* TLS's largest record */

int32_t dapper_ipc_errno_class(int32_t error); /* socket_io.c */
void dapper_ipc_flush_delayed_ack(int32_t fd);  /* socket_io.c */

typedef struct dapper_ipc_tls_ctx {
    void *ctx;
    int server;
    int pinned;
    unsigned char pin[32];
    unsigned char own[32]; /* server: SHA-256 of its certificate's DER */
} dapper_ipc_tls_ctx;

typedef struct dapper_ipc_tls {
    const dapper_ipc_tls_ctx *ctx;
    void *ssl;
    int fd;
    pthread_mutex_t lock;
    unsigned char *scratch; /* RECORD bytes, made at the first write */
    int ack_held;           /* data read since the last wait or write: the kernel may hold its ACK */
    /* After the handshake, the reading thread alone takes bytes off the socket, with a
       blocking recv outside the lock (one system call where poll + recv would be two),
       into in[]; the BIO hands them to OpenSSL. */
    int established;
    unsigned char *in;
    size_t in_cap, in_len, in_off;
    int in_eof;
    size_t staged; /* in_len - in_off, for other threads' "anything buffered?" */
    /* Records on their way out, gathered so that one send carries many (a 1 MiB frame
       is 64 records): touched under the lock only. */
    unsigned char *out;
    size_t out_cap, out_len;
    char error[512];
} dapper_ipc_tls;

static const dapper_ipc_ossl *O;

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE, set on every connected socket (socket_io.c) */
#endif

/* The session's own BIO on the descriptor, instead of OpenSSL's socket BIO: that one
   uses write(), which raises SIGPIPE on a closed peer (the host's disposition is the
   host's: the library never changes it), and needs an O_NONBLOCK descriptor. This one
   uses send with MSG_NOSIGNAL and never waits (MSG_DONTWAIT): waiting is poll's job,
   outside the session's lock. */
/* Both staging buffers start small and double, up to 1 MiB, while a burst fills them:
   a session of small frames keeps 64 KiB each way, one that carries 1 MiB frames moves
   each in one recv and one send (measured: 128 KiB buffers cost 1 MiB frames a fifth
   of their throughput in system calls). */
#define STAGE_MIN (64 * 1024)
#define STAGE_MAX (1024 * 1024)

/* Sends what out[] holds, without waiting: 0 when it is empty, 1 when the socket is full
   (retry once writable), -1 on failure (errno). */
static int flush_out(dapper_ipc_tls *t)
{
    size_t done = 0;
    int result = 0;
    while (done < t->out_len) {
        ssize_t n = send(t->fd, t->out + done, t->out_len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        result = errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        break;
    }
    if (done > 0) {
        memmove(t->out, t->out + done, t->out_len - done);
        t->out_len -= done;
    }
    return result;
}

static int bio_write(void *bio, const char *data, int length)
{
    dapper_ipc_tls *t = O->BIO_get_data(bio);
    O->BIO_clear_flags(bio, OSSL_BIO_FLAGS_RWS | OSSL_BIO_FLAGS_SHOULD_RETRY);
    if (t->out == NULL) {
        if ((t->out = malloc(STAGE_MIN)) == NULL) {
            errno = ENOMEM;
            return -1;
        }
        t->out_cap = STAGE_MIN;
    }
    if (t->out_len + (size_t)length > t->out_cap && t->out_cap < STAGE_MAX) {
        unsigned char *bigger = realloc(t->out, 2 * t->out_cap);
        if (bigger != NULL) {
            t->out = bigger;
            t->out_cap *= 2;
        }
    }
    if (t->out_len + (size_t)length > t->out_cap) {
        int f = flush_out(t);
        if (f < 0)
            return -1;
        if (t->out_len + (size_t)length > t->out_cap) {
            O->BIO_set_flags(bio, OSSL_BIO_FLAGS_WRITE | OSSL_BIO_FLAGS_SHOULD_RETRY);
            errno = EAGAIN;
            return -1;
        }
    }
    /* OpenSSL writes a record at most (16 KiB and a little) per call. */
    memcpy(t->out + t->out_len, data, (size_t)length);
    t->out_len += (size_t)length;
    return length;
}

static int bio_read(void *bio, char *buffer, int length)
{
    dapper_ipc_tls *t = O->BIO_get_data(bio);
    int fd = t->fd;
    O->BIO_clear_flags(bio, OSSL_BIO_FLAGS_RWS | OSSL_BIO_FLAGS_SHOULD_RETRY);
    if (t->established) {
        size_t left = t->in_len - t->in_off;
        if (left == 0) {
            if (t->in_eof)
                return 0;
            O->BIO_set_flags(bio, OSSL_BIO_FLAGS_READ | OSSL_BIO_FLAGS_SHOULD_RETRY);
            errno = EAGAIN;
            return -1;
        }
        size_t n = left < (size_t)length ? left : (size_t)length;
        memcpy(buffer, t->in + t->in_off, n);
        t->in_off += n;
        __atomic_store_n(&t->staged, t->in_len - t->in_off, __ATOMIC_RELAXED);
        return (int)n;
    }
    ssize_t n;
    do
        n = recv(fd, buffer, (size_t)length, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        O->BIO_set_flags(bio, OSSL_BIO_FLAGS_READ | OSSL_BIO_FLAGS_SHOULD_RETRY);
    return (int)n;
}

static long bio_ctrl(void *bio, int command, long number, void *pointer)
{
    (void)number, (void)pointer;
    if (command != OSSL_BIO_CTRL_FLUSH)
        return 0;
    /* The end of a handshake flight, a close_notify: out now, or WANT_WRITE. */
    dapper_ipc_tls *t = O->BIO_get_data(bio);
    O->BIO_clear_flags(bio, OSSL_BIO_FLAGS_RWS | OSSL_BIO_FLAGS_SHOULD_RETRY);
    int f = flush_out(t);
    if (f == 1)
        O->BIO_set_flags(bio, OSSL_BIO_FLAGS_WRITE | OSSL_BIO_FLAGS_SHOULD_RETRY);
    return f == 0 ? 1 : -1;
}

static void *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static void make_bio_method(void)
{
    void *m = O->BIO_meth_new(O->BIO_get_new_index() | OSSL_BIO_TYPE_SOURCE_SINK, "dapper_ipc socket");
    if (m != NULL && O->BIO_meth_set_write(m, bio_write) && O->BIO_meth_set_read(m, bio_read) &&
        O->BIO_meth_set_ctrl(m, bio_ctrl))
        bio_method = m; /* for the life of the process, as the library handles are */
}

static void *socket_bio(dapper_ipc_tls *t)
{
    pthread_once(&bio_once, make_bio_method);
    void *bio = bio_method != NULL ? O->BIO_new(bio_method) : NULL;
    if (bio != NULL) {
        O->BIO_set_data(bio, t);
        O->BIO_set_init(bio, 1);
    }
    return bio;
}

static void put(char *out, size_t cap, const char *what)
{
    if (out == NULL || cap == 0)
        return;
    unsigned long e = O != NULL ? O->ERR_get_error() : 0;
    if (e != 0) {
        char detail[256];
        O->ERR_error_string_n(e, detail, sizeof detail);
        snprintf(out, cap, "%s (%s)", what, detail);
        O->ERR_clear_error();
    } else {
        snprintf(out, cap, "%s", what);
    }
}

static int ready(char *error, size_t cap)
{
    const char *why = NULL;
    O = dapper_ipc_ossl_load(&why);
    if (O == NULL) {
        snprintf(error, cap, "%s", why);
        return 0;
    }
    return 1;
}

/* 0 when OpenSSL 3 could be loaded; otherwise -1 with the reason in error. */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_tls_available(char *error, size_t cap)
{
    return ready(error, cap) ? 0 : -1;
}

static int fingerprint(void *x509, unsigned char out[32])
{
    int length = O->i2d_X509(x509, NULL);
    if (length <= 0)
        return 0;
    unsigned char *der = malloc((size_t)length);
    if (der == NULL)
        return 0;
    unsigned char *p = der;
    unsigned int n = 0;
    int ok = O->i2d_X509(x509, &p) == length && O->EVP_Digest(der, (size_t)length, out, &n, O->EVP_sha256(), NULL) && n == 32;
    free(der);
    return ok;
}

/* A fresh ECDSA P-256 key and a self-signed certificate for it, valid from a
   minute ago (clock skew) for 30 days; CN=dapper-ipc. Installed in ctx. */
static int self_signed(void *ctx, void *libctx, char *error, size_t cap)
{
    void *key = O->EVP_PKEY_Q_keygen(libctx, NULL, "EC", "P-256");
    void *x = key != NULL ? O->X509_new() : NULL;
    int ok = 0;
    if (x != NULL) {
        int64_t serial = 0;
        O->RAND_bytes((unsigned char *)&serial, sizeof serial);
        serial &= INT64_MAX; /* a positive serial */
        void *name = O->X509_get_subject_name(x);
        ok = O->X509_set_version(x, 2) && O->ASN1_INTEGER_set_int64(O->X509_get_serialNumber(x), serial | 1) &&
             O->X509_gmtime_adj(O->X509_getm_notBefore(x), -60) != NULL &&
             O->X509_gmtime_adj(O->X509_getm_notAfter(x), 30L * 24 * 3600) != NULL && O->X509_set_pubkey(x, key) &&
             O->X509_NAME_add_entry_by_txt(name, "CN", OSSL_MBSTRING_ASC, (const unsigned char *)"dapper-ipc", -1, -1, 0) &&
             O->X509_set_issuer_name(x, name) && O->X509_sign(x, key, O->EVP_sha256()) > 0 &&
             O->SSL_CTX_use_certificate(ctx, x) == 1 && O->SSL_CTX_use_PrivateKey(ctx, key) == 1;
    }
    if (!ok)
        put(error, cap, "making the listener's self-signed certificate failed");
    if (x != NULL)
        O->X509_free(x); /* the context holds its own references */
    if (key != NULL)
        O->EVP_PKEY_free(key);
    return ok;
}

/* Both ends' context: OpenSSL loaded first, and no error left from an earlier call to
   be blamed on this one. */
static void *new_ctx(int server, int allow_tls12, void **libctx, char *error, size_t cap)
{
    if (!ready(error, cap))
        return NULL;
    O->ERR_clear_error();
    /* The records' AES-GCM from tls_provider.c where this CPU runs it (2.5x OpenSSL
       3.0's own here). TLS 1.2's GCM records need parameters it does not offer, so a
       context that allows TLS 1.2 keeps OpenSSL's. */
    *libctx = allow_tls12 ? NULL : dapper_ipc_tls_libctx(O);
    const void *method = server ? O->TLS_server_method() : O->TLS_client_method();
    void *ctx = *libctx != NULL ? O->SSL_CTX_new_ex(*libctx, DAPPER_IPC_TLS_PROPQ, method) : O->SSL_CTX_new(method);
    if (ctx == NULL) {
        put(error, cap, "SSL_CTX_new failed");
        return NULL;
    }
    O->SSL_CTX_ctrl(ctx, OSSL_SSL_CTRL_SET_MIN_PROTO_VERSION, allow_tls12 ? OSSL_TLS1_2_VERSION : OSSL_TLS1_3_VERSION, NULL);
    /* A peer that closes without close_notify has ended the stream all the same (most
       do: a process that exits); the DP frame boundary says whether anything was lost. */
    O->SSL_CTX_set_options(ctx, OSSL_SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* TLS 1.3's mandatory suite first: AES-128-GCM costs a third less than AES-256-GCM per
       byte, and the frame path is bound by it (the other suites stay, for peers without it). */
    O->SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
    /* Read ahead: OpenSSL takes whole records (and more) per call of the BIO, whose
       staging buffer is filled by one recv (see dapper_ipc_tls_read). */
    O->SSL_CTX_ctrl(ctx, OSSL_SSL_CTRL_SET_READ_AHEAD, 1, NULL);
    /* A write retried after WANT_WRITE may come from the same bytes at another address. */
    O->SSL_CTX_ctrl(ctx, OSSL_SSL_CTRL_MODE, OSSL_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
    return ctx;
}

/* The listener's context: the certificate and key of the PEM files, or (both
   NULL) a fresh self-signed one. own_fingerprint receives its SHA-256. */
DAPPER_IPC_SHIM_API dapper_ipc_tls_ctx *dapper_ipc_tls_server_new(const char *cert_file, const char *key_file,
                                                                  int32_t allow_tls12, unsigned char *own_fingerprint,
                                                                  char *error, size_t cap)
{
    void *libctx;
    void *ctx = new_ctx(1, allow_tls12, &libctx, error, cap);
    if (ctx == NULL)
        return NULL;
    /* No session tickets: a resumption cache buys nothing here, and a ticket is
       a write the server would make after the handshake. */
    O->SSL_CTX_set_num_tickets(ctx, 0);
    int ok;
    if (cert_file != NULL) {
        char what[600];
        ok = O->SSL_CTX_use_certificate_chain_file(ctx, cert_file) == 1;
        if (!ok) {
            snprintf(what, sizeof what, "reading the certificate %s failed", cert_file);
            put(error, cap, what);
        } else if (!(ok = O->SSL_CTX_use_PrivateKey_file(ctx, key_file, OSSL_SSL_FILETYPE_PEM) == 1)) {
            snprintf(what, sizeof what, "reading the private key %s failed", key_file);
            put(error, cap, what);
        } else if (!(ok = O->SSL_CTX_check_private_key(ctx) == 1)) {
            snprintf(what, sizeof what, "the private key %s does not belong to the certificate %s", key_file, cert_file);
            put(error, cap, what);
        }
    } else {
        ok = self_signed(ctx, libctx, error, cap);
    }
    dapper_ipc_tls_ctx *c = ok ? calloc(1, sizeof *c) : NULL;
    if (c == NULL || !fingerprint(O->SSL_CTX_get0_certificate(ctx), c->own)) {
        if (ok)
            put(error, cap, "out of memory, or the certificate has no DER form");
        free(c);
        O->SSL_CTX_free(ctx);
        return NULL;
    }
    c->ctx = ctx;
    c->server = 1;
    memcpy(own_fingerprint, c->own, 32);
    return c;
}

/* The client's context: with pin (32 bytes), only that certificate is
   accepted, whoever signed it; without, the system trust store decides. */
DAPPER_IPC_SHIM_API dapper_ipc_tls_ctx *dapper_ipc_tls_client_new(const unsigned char *pin, int32_t allow_tls12,
                                                                  char *error, size_t cap)
{
    void *libctx;
    void *ctx = new_ctx(0, allow_tls12, &libctx, error, cap);
    if (ctx == NULL)
        return NULL;
    if (pin == NULL) {
        O->SSL_CTX_set_verify(ctx, OSSL_SSL_VERIFY_PEER, NULL);
        O->SSL_CTX_set_default_verify_paths(ctx);
    } else {
        O->SSL_CTX_set_verify(ctx, OSSL_SSL_VERIFY_NONE, NULL); /* the pin is checked after the handshake */
    }
    dapper_ipc_tls_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        O->SSL_CTX_free(ctx);
        snprintf(error, cap, "out of memory");
        return NULL;
    }
    c->ctx = ctx;
    if (pin != NULL) {
        c->pinned = 1;
        memcpy(c->pin, pin, 32);
    }
    return c;
}

DAPPER_IPC_SHIM_API void dapper_ipc_tls_ctx_free(dapper_ipc_tls_ctx *c)
{
    if (c == NULL)
        return;
    O->SSL_CTX_free(c->ctx);
    free(c);
}

/* A session on a connected socket. host: the client's name for the listener (SNI,
   and the name checked when nothing is pinned). */
DAPPER_IPC_SHIM_API dapper_ipc_tls *dapper_ipc_tls_new(const dapper_ipc_tls_ctx *c, int32_t fd, const char *host,
                                                       char *error, size_t cap)
{
    dapper_ipc_tls *t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(error, cap, "out of memory");
        return NULL;
    }
    O->ERR_clear_error();
    t->ctx = c;
    t->fd = fd;
    t->ssl = O->SSL_new(c->ctx);
    void *bio = t->ssl != NULL ? socket_bio(t) : NULL;
    if (bio == NULL) {
        put(error, cap, "SSL_new failed");
        if (t->ssl != NULL)
            O->SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    O->SSL_set_bio(t->ssl, bio, bio); /* one reference, for both directions */
    if (!c->server && host != NULL) {
        unsigned char addr[16];
        int literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
        if (!literal)
            O->SSL_ctrl(t->ssl, OSSL_SSL_CTRL_SET_TLSEXT_HOSTNAME, 0, (void *)host); /* SNI is for names only */
        if (!c->pinned && !(literal ? O->X509_VERIFY_PARAM_set1_ip_asc(O->SSL_get0_param(t->ssl), host)
                                    : O->SSL_set1_host(t->ssl, host))) {
            put(error, cap, "setting the name to check failed");
            O->SSL_free(t->ssl);
            free(t);
            return NULL;
        }
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

DAPPER_IPC_SHIM_API void dapper_ipc_tls_free(dapper_ipc_tls *t)
{
    if (t == NULL)
        return;
    O->SSL_free(t->ssl);
    pthread_mutex_destroy(&t->lock);
    free(t->scratch);
    free(t->in);
    free(t->out);
    free(t);
}

/* The session's last failure, for the message (valid until the next call on it). */
DAPPER_IPC_SHIM_API const char *dapper_ipc_tls_error(const dapper_ipc_tls *t)
{
    return t->error;
}

static void hex(const unsigned char *d, char *out)
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Why a failed handshake or I/O call failed, into t->error. */
static void failed(dapper_ipc_tls *t, int code, const char *during)
{
    long verify = O->SSL_get_verify_result(t->ssl);
    if (code == OSSL_SSL_ERROR_SYSCALL && O->ERR_peek_last_error() == 0) {
        if (errno == 0)
            snprintf(t->error, sizeof t->error, "the peer closed the connection during %s", during);
        else
            snprintf(t->error, sizeof t->error, "%s failed: %s", during, strerror(errno));
    } else if (!t->ctx->server && !t->ctx->pinned && verify != OSSL_X509_V_OK) {
        snprintf(t->error, sizeof t->error, "the listener's certificate was refused: %s (no tls_fingerprint is pinned, so the system trust store and the host name decide)",
                 O->X509_verify_cert_error_string(verify));
        O->ERR_clear_error();
    } else {
        char what[128];
        snprintf(what, sizeof what, "%s failed", during);
        put(t->error, sizeof t->error, what);
    }
}

/* One step of the handshake: 0 done, 1 wants to read, 2 wants to write, -1 failed,
   -2 the peer's certificate is not the pinned one (t->error says why). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_tls_handshake(dapper_ipc_tls *t)
{
    pthread_mutex_lock(&t->lock);
    O->ERR_clear_error();
    errno = 0;
    int r = t->ctx->server ? O->SSL_accept(t->ssl) : O->SSL_connect(t->ssl);
    int result = 0;
    if (t->out_len > 0 && flush_out(t) == 1)
        result = 2; /* the flight is not all out yet */
    else if (r != 1) {
        int code = O->SSL_get_error(t->ssl, r);
        if (code == OSSL_SSL_ERROR_WANT_READ)
            result = 1;
        else if (code == OSSL_SSL_ERROR_WANT_WRITE)
            result = 2;
        else {
            failed(t, code, "the tls handshake");
            result = -1;
        }
    } else if ((t->in = malloc(STAGE_MIN)) == NULL) {
        snprintf(t->error, sizeof t->error, "out of memory");
        result = -1;
    } else if (t->ctx->pinned) {
        unsigned char seen[32];
        void *peer = O->SSL_get1_peer_certificate(t->ssl);
        int got = peer != NULL && fingerprint(peer, seen);
        if (peer != NULL)
            O->X509_free(peer);
        if (!got || memcmp(seen, t->ctx->pin, 32) != 0) {
            char want[65], have[65];
            hex(t->ctx->pin, want);
            if (got)
                hex(seen, have);
            snprintf(t->error, sizeof t->error,
                     "the listener's certificate is not the pinned one: expected sha256:%s, the listener showed %s%s",
                     want, got ? "sha256:" : "", got ? have : "no certificate");
            result = -2;
        }
    }
    if (result == 0) {
        /* The reading thread's recv blocks from now on (sends never wait: MSG_DONTWAIT). */
        int flags = fcntl(t->fd, F_GETFL);
        if (flags >= 0 && (flags & O_NONBLOCK))
            fcntl(t->fd, F_SETFL, flags & ~O_NONBLOCK);
        t->in_cap = STAGE_MIN;
        t->established = 1;
    }
    pthread_mutex_unlock(&t->lock);
    return result;
}

/* The negotiated protocol ("TLSv1.3"), static storage. */
DAPPER_IPC_SHIM_API const char *dapper_ipc_tls_version(dapper_ipc_tls *t)
{
    return O->SSL_get_version(t->ssl);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the descriptor until the deadline (-1: none); 0 when it came, ERRC_WOULD_BLOCK when not. */
static int wait_for(int fd, short events, long long deadline)
{
    for (;;) {
        int ms = -1;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            ms = left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left; /* 0: a look, no wait */
        }
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 0; /* ready, or an error the next call reports */
        if (r == 0)
            return ERRC_WOULD_BLOCK;
        if (errno != EINTR)
            return dapper_ipc_errno_class(errno);
    }
}

static intptr_t io_failure(dapper_ipc_tls *t, int code, const char *during)
{
    int saved = errno;
    failed(t, code, during);
    if (code == OSSL_SSL_ERROR_SYSCALL && saved != 0) {
        errno = saved;
        return dapper_ipc_errno_class(saved);
    }
    errno = 0;
    return ERRC_OTHER;
}

/* Reads up to length decrypted bytes, waiting at most timeout_ms (-1: no limit):
   bytes read; 0 at the end of the stream (close_notify, or the peer's FIN);
   ERRC_WOULD_BLOCK when nothing came in time; another class on failure
   (errno, or t->error for a tls failure). */
DAPPER_IPC_SHIM_API intptr_t dapper_ipc_tls_read(dapper_ipc_tls *t, void *buffer, size_t length, int32_t timeout_ms)
{
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int n = length > 0x40000000 ? 0x40000000 : (int)length;
    for (;;) {
        pthread_mutex_lock(&t->lock);
        O->ERR_clear_error();
        errno = 0;
        int r = O->SSL_read(t->ssl, buffer, n);
        int code = r > 0 ? 0 : O->SSL_get_error(t->ssl, r);
        if (t->out_len > 0)
            flush_out(t); /* what reading made OpenSSL write (a KeyUpdate's answer): best effort, the next write sends the rest */
        intptr_t result = 0;
        int done = 1;
        if (r > 0) {
            result = r;
            __atomic_store_n(&t->ack_held, 1, __ATOMIC_RELAXED);
        } else if (code == OSSL_SSL_ERROR_ZERO_RETURN)
            result = 0;
        else if (code == OSSL_SSL_ERROR_SYSCALL && errno == 0 && O->ERR_peek_last_error() == 0)
            result = 0; /* a FIN without close_notify: the peer is gone all the same */
        else if (code == OSSL_SSL_ERROR_WANT_READ || code == OSSL_SSL_ERROR_WANT_WRITE)
            done = 0;
        else
            result = io_failure(t, code, "tls read");
        pthread_mutex_unlock(&t->lock);
        if (done)
            return result;
        if (code == OSSL_SSL_ERROR_WANT_WRITE || !t->established) {
            int w = wait_for(t->fd, code == OSSL_SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline);
            if (w != 0)
                return w;
            continue;
        }
        /* OpenSSL has used every staged byte: take the next ones off the socket. Before
           waiting, the ACK the kernel may hold back for what was read goes out (a peer
           without TCP_NODELAY would stall ~40 ms on it; see SocketConnection): here,
           where this read really waits, not for every record of a burst. */
        if (__atomic_exchange_n(&t->ack_held, 0, __ATOMIC_RELAXED))
            dapper_ipc_flush_delayed_ack(t->fd);
        if (t->in_len == t->in_cap && t->in_cap < STAGE_MAX) {
            /* The last recv filled the buffer: a burst; everything staged is used. */
            unsigned char *bigger = malloc(2 * t->in_cap);
            if (bigger != NULL) {
                free(t->in);
                t->in = bigger;
                t->in_cap *= 2;
            }
        }
        ssize_t got;
        if (timeout_ms < 0) {
            do
                got = recv(t->fd, t->in, t->in_cap, 0);
            while (got < 0 && errno == EINTR);
        } else {
            int w = wait_for(t->fd, POLLIN, deadline);
            if (w != 0)
                return w;
            got = recv(t->fd, t->in, t->in_cap, MSG_DONTWAIT);
            if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                continue;
        }
        if (got < 0)
            return dapper_ipc_errno_class(errno);
        t->in_off = 0;
        t->in_len = (size_t)got;
        t->in_eof = got == 0;
        __atomic_store_n(&t->staged, (size_t)got, __ATOMIC_RELAXED);
    }
}

/* One SSL_write of the whole of data, waiting for room until the deadline.
   0, or a class; *cut set when part of the record may be on the wire. */
static intptr_t write_all(dapper_ipc_tls *t, const void *data, int length, long long deadline, int *cut)
{
    for (;;) {
        pthread_mutex_lock(&t->lock);
        O->ERR_clear_error();
        errno = 0;
        int r = O->SSL_write(t->ssl, data, length);
        int code = r > 0 ? 0 : O->SSL_get_error(t->ssl, r);
        intptr_t result = 0;
        if (r <= 0 && code != OSSL_SSL_ERROR_WANT_READ && code != OSSL_SSL_ERROR_WANT_WRITE)
            result = io_failure(t, code, "tls write");
        pthread_mutex_unlock(&t->lock);
        if (r > 0)
            return 0;
        if (result != 0)
            return result;
        /* OpenSSL may have put part of the record out: from here, giving up cuts the stream. */
        *cut = 1;
        int w = wait_for(t->fd, code == OSSL_SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
        if (w != 0)
            return w;
    }
}

/* Writes every byte of iov[0..count) in order, within timeout_ms (-1: no
   limit): small pieces are gathered into one record (a frame's header with its
   payload's first 16 KiB), larger remainders go out from where they are.
   0, or a class, with *sent plaintext bytes accepted whole and *cut set when the
   stream is left mid-record (the connection cannot go on). */
/* Sends everything out[] holds, waiting for room until the deadline: 0, or a class
   (then records are left half out: *cut). */
static intptr_t drain(dapper_ipc_tls *t, long long deadline, int32_t *cut)
{
    for (;;) {
        pthread_mutex_lock(&t->lock);
        int f = t->out_len > 0 ? flush_out(t) : 0;
        int error = errno;
        pthread_mutex_unlock(&t->lock);
        if (f == 0)
            return 0;
        *cut = 1;
        if (f < 0) {
            snprintf(t->error, sizeof t->error, "tls write failed: %s", strerror(error));
            errno = error;
            return dapper_ipc_errno_class(error);
        }
        int w = wait_for(t->fd, POLLOUT, deadline);
        if (w != 0)
            return w;
    }
}

typedef struct dapper_ipc_tls_iovec {
    const unsigned char *base;
    size_t length;
} dapper_ipc_tls_iovec; /* as SocketShim.IoVec */

DAPPER_IPC_SHIM_API intptr_t dapper_ipc_tls_writev(dapper_ipc_tls *t, const dapper_ipc_tls_iovec *iov, int32_t count,
                                                   int32_t timeout_ms, int64_t *sent, int32_t *cut)
{
    long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    *sent = 0;
    *cut = 0;
    __atomic_store_n(&t->ack_held, 0, __ATOMIC_RELAXED); /* our records carry the ACK */
    if (t->scratch == NULL && (t->scratch = malloc(RECORD)) == NULL) {
        snprintf(t->error, sizeof t->error, "out of memory");
        return ERRC_OTHER;
    }
    size_t filled = 0;
    int c = 0;
    for (int i = 0; i < count; i++) {
        const unsigned char *p = iov[i].base;
        size_t left = iov[i].length;
        while (left > 0) {
            if (filled == 0 && left >= RECORD) {
                /* Straight from the caller's memory, in pieces SSL_write takes. */
                int piece = left > 0x40000000 ? 0x40000000 : (int)left;
                intptr_t r = write_all(t, p, piece, deadline, &c);
                if (r != 0) {
                    *cut = c;
                    return r;
                }
                *sent += piece;
                p += piece;
                left -= (size_t)piece;
                continue;
            }
            size_t take = left < RECORD - filled ? left : RECORD - filled;
            memcpy(t->scratch + filled, p, take);
            filled += take;
            p += take;
            left -= take;
            if (filled == RECORD) {
                intptr_t r = write_all(t, t->scratch, (int)filled, deadline, &c);
                if (r != 0) {
                    *cut = c;
                    return r;
                }
                *sent += (int64_t)filled;
                filled = 0;
            }
        }
    }
    if (filled > 0) {
        intptr_t r = write_all(t, t->scratch, (int)filled, deadline, &c);
        if (r != 0) {
            *cut = c;
            return r;
        }
        *sent += (int64_t)filled;
    }
    return drain(t, deadline, cut);
}

/* Decrypted bytes waiting inside the session (read from the socket already). */
DAPPER_IPC_SHIM_API int32_t dapper_ipc_tls_pending(dapper_ipc_tls *t)
{
    pthread_mutex_lock(&t->lock);
    /* SSL_pending counts only the current record's plaintext; read ahead may hold more. */
    int n = O->SSL_pending(t->ssl);
    if (n == 0 && (O->SSL_has_pending(t->ssl) || __atomic_load_n(&t->staged, __ATOMIC_RELAXED) > 0))
        n = 1;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* Best effort, never waits: tells the peer the stream ends here (close_notify). */
DAPPER_IPC_SHIM_API void dapper_ipc_tls_close_notify(dapper_ipc_tls *t)
{
    if (pthread_mutex_trylock(&t->lock) != 0)
        return; /* a sender is mid-record: a close_notify now would cut it */
    O->SSL_shutdown(t->ssl);
    O->ERR_clear_error();
    if (t->out_len > 0)
        flush_out(t);
    pthread_mutex_unlock(&t->lock);
}

/* "sha256:" and 64 lower-case hex digits of fingerprint, into out (72 bytes). */
DAPPER_IPC_SHIM_API void dapper_ipc_tls_format_fingerprint(const unsigned char *fingerprint, char *out)
{
    memcpy(out, "sha256:", 7);
    hex(fingerprint, out + 7);
}
