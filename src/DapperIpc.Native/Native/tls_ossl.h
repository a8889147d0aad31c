/*
 * The OpenSSL 3 functions the tls transport calls, resolved at run time by
 * tls_load.c: the library is built without OpenSSL's headers and runs without
 * libssl installed (unix, tcp and pipe never touch it). The prototypes are
 * OpenSSL 3's public ABI with every object pointer opaque; the constants are
 * the values of OpenSSL's headers (stable across 3.x).
 */
#ifndef DAPPER_IPC_TLS_OSSL_H
#define DAPPER_IPC_TLS_OSSL_H

#include <stddef.h>
#include <stdint.h>

#define OSSL_SSL_ERROR_SSL 1
#define OSSL_SSL_ERROR_WANT_READ 2
#define OSSL_SSL_ERROR_WANT_WRITE 3
#define OSSL_SSL_ERROR_SYSCALL 5
#define OSSL_SSL_ERROR_ZERO_RETURN 6
#define OSSL_SSL_VERIFY_NONE 0
#define OSSL_SSL_VERIFY_PEER 1
#define OSSL_SSL_FILETYPE_PEM 1
#define OSSL_SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define OSSL_SSL_CTRL_MODE 33
#define OSSL_SSL_CTRL_SET_MIN_PROTO_VERSION 123
#define OSSL_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER 2L
#define OSSL_TLS1_2_VERSION 0x0303
#define OSSL_TLS1_3_VERSION 0x0304
#define OSSL_MBSTRING_ASC 0x1001
#define OSSL_X509_V_OK 0
#define OSSL_SSL_OP_IGNORE_UNEXPECTED_EOF ((uint64_t)1 << 7)
#define OSSL_SSL_CTRL_SET_READ_AHEAD 41
#define OSSL_BIO_TYPE_SOURCE_SINK 0x0400
#define OSSL_BIO_FLAGS_READ 0x01
#define OSSL_BIO_FLAGS_WRITE 0x02
#define OSSL_BIO_FLAGS_RWS 0x07
#define OSSL_BIO_FLAGS_SHOULD_RETRY 0x08
#define OSSL_BIO_CTRL_FLUSH 11

/* OpenSSL's OSSL_PARAM (core.h), for the provider of tls_provider.c. */
typedef struct ossl_param {
    const char *key;
    unsigned int data_type;
    void *data;
    size_t data_size;
    size_t return_size;
} ossl_param;

/* A provider's entry point (OSSL_provider_init_fn), the dispatch tables opaque. */
typedef int (*dapper_ipc_provider_init)(const void *handle, const void *in, const void **out, void **provider);

/* The name of tls_provider.c's provider, and the property query that prefers it. */
#define DAPPER_IPC_TLS_PROVIDER "dapper-aesgcm"
#define DAPPER_IPC_TLS_PROPQ "?provider=" DAPPER_IPC_TLS_PROVIDER

/* One entry per function: name, return type, parameters. */
#define DAPPER_IPC_SSL_FUNCTIONS(X)                                                        \
    X(TLS_server_method, const void *, (void))                                            \
    X(TLS_client_method, const void *, (void))                                            \
    X(SSL_CTX_new, void *, (const void *))                                                \
    X(SSL_CTX_new_ex, void *, (void *, const char *, const void *))                       \
    X(SSL_CTX_free, void, (void *))                                                       \
    X(SSL_CTX_ctrl, long, (void *, int, long, void *))                                    \
    X(SSL_CTX_use_certificate, int, (void *, void *))                                     \
    X(SSL_CTX_use_PrivateKey, int, (void *, void *))                                      \
    X(SSL_CTX_use_certificate_chain_file, int, (void *, const char *))                    \
    X(SSL_CTX_use_PrivateKey_file, int, (void *, const char *, int))                      \
    X(SSL_CTX_check_private_key, int, (const void *))                                     \
    X(SSL_CTX_get0_certificate, void *, (const void *))                                   \
    X(SSL_CTX_set_verify, void, (void *, int, void *))                                    \
    X(SSL_CTX_set_default_verify_paths, int, (void *))                                    \
    X(SSL_CTX_set_num_tickets, int, (void *, size_t))                                     \
    X(SSL_CTX_set_options, uint64_t, (void *, uint64_t))                                  \
    X(SSL_CTX_set_ciphersuites, int, (void *, const char *))                              \
    X(SSL_new, void *, (void *))                                                          \
    X(SSL_free, void, (void *))                                                           \
    X(SSL_set_bio, void, (void *, void *, void *))                                        \
    X(SSL_has_pending, int, (const void *))                                               \
    X(SSL_ctrl, long, (void *, int, long, void *))                                        \
    X(SSL_set1_host, int, (void *, const char *))                                         \
    X(SSL_get0_param, void *, (void *))                                                   \
    X(SSL_accept, int, (void *))                                                          \
    X(SSL_connect, int, (void *))                                                         \
    X(SSL_read, int, (void *, void *, int))                                               \
    X(SSL_write, int, (void *, const void *, int))                                        \
    X(SSL_get_error, int, (const void *, int))                                            \
    X(SSL_shutdown, int, (void *))                                                        \
    X(SSL_pending, int, (const void *))                                                   \
    X(SSL_get1_peer_certificate, void *, (const void *))                                  \
    X(SSL_get_verify_result, long, (const void *))                                        \
    X(SSL_get_version, const char *, (const void *))

#define DAPPER_IPC_CRYPTO_FUNCTIONS(X)                                                     \
    X(EVP_PKEY_Q_keygen, void *, (void *, const char *, const char *, ...))               \
    X(EVP_PKEY_free, void, (void *))                                                      \
    X(EVP_sha256, const void *, (void))                                                   \
    X(EVP_Digest, int, (const void *, size_t, unsigned char *, unsigned int *, const void *, void *)) \
    X(X509_new, void *, (void))                                                           \
    X(X509_free, void, (void *))                                                          \
    X(X509_set_version, int, (void *, long))                                              \
    X(X509_get_serialNumber, void *, (void *))                                            \
    X(ASN1_INTEGER_set_int64, int, (void *, int64_t))                                     \
    X(X509_getm_notBefore, void *, (const void *))                                        \
    X(X509_getm_notAfter, void *, (const void *))                                         \
    X(X509_gmtime_adj, void *, (void *, long))                                            \
    X(X509_set_pubkey, int, (void *, void *))                                             \
    X(X509_get_subject_name, void *, (const void *))                                      \
    X(X509_set_issuer_name, int, (void *, const void *))                                  \
    X(X509_NAME_add_entry_by_txt, int, (void *, const char *, int, const unsigned char *, int, int, int)) \
    X(X509_sign, int, (void *, void *, const void *))                                     \
    X(i2d_X509, int, (const void *, unsigned char **))                                    \
    X(X509_verify_cert_error_string, const char *, (long))                                \
    X(X509_VERIFY_PARAM_set1_ip_asc, int, (void *, const char *))                         \
    X(RAND_bytes, int, (unsigned char *, int))                                            \
    X(ERR_get_error, unsigned long, (void))                                               \
    X(ERR_peek_last_error, unsigned long, (void))                                         \
    X(ERR_error_string_n, void, (unsigned long, char *, size_t))                          \
    X(ERR_clear_error, void, (void))                                                      \
    X(BIO_get_new_index, int, (void))                                                     \
    X(BIO_meth_new, void *, (int, const char *))                                          \
    X(BIO_meth_set_write, int, (void *, int (*)(void *, const char *, int)))              \
    X(BIO_meth_set_read, int, (void *, int (*)(void *, char *, int)))                     \
    X(BIO_meth_set_ctrl, int, (void *, long (*)(void *, int, long, void *)))              \
    X(BIO_new, void *, (const void *))                                                    \
    X(BIO_set_data, void, (void *, void *))                                               \
    X(BIO_get_data, void *, (void *))                                                     \
    X(BIO_set_init, void, (void *, int))                                                  \
    X(BIO_set_flags, void, (void *, int))                                                 \
    X(BIO_clear_flags, void, (void *, int))                                               \
    X(OSSL_LIB_CTX_new, void *, (void))                                                   \
    X(OSSL_LIB_CTX_free, void, (void *))                                                  \
    X(OSSL_PROVIDER_add_builtin, int, (void *, const char *, dapper_ipc_provider_init))   \
    X(OSSL_PROVIDER_load, void *, (void *, const char *))                                 \
    X(OSSL_PARAM_locate, ossl_param *, (ossl_param *, const char *))                      \
    X(OSSL_PARAM_locate_const, const ossl_param *, (const ossl_param *, const char *))    \
    X(OSSL_PARAM_set_int, int, (ossl_param *, int))                                       \
    X(OSSL_PARAM_set_uint, int, (ossl_param *, unsigned int))                             \
    X(OSSL_PARAM_set_size_t, int, (ossl_param *, size_t))                                 \
    X(OSSL_PARAM_get_size_t, int, (const ossl_param *, size_t *))                         \
    X(OSSL_PARAM_set_octet_string, int, (ossl_param *, const void *, size_t))             \
    X(OSSL_PARAM_get_octet_string, int, (const ossl_param *, void **, size_t, size_t *))

#define DAPPER_IPC_OSSL_FIELD(name, ret, args) ret(*name) args;
typedef struct dapper_ipc_ossl {
    DAPPER_IPC_SSL_FUNCTIONS(DAPPER_IPC_OSSL_FIELD)
    DAPPER_IPC_CRYPTO_FUNCTIONS(DAPPER_IPC_OSSL_FIELD)
} dapper_ipc_ossl;
#undef DAPPER_IPC_OSSL_FIELD

/* The resolved table, or NULL (then *why, static storage, says what is missing). */
const dapper_ipc_ossl *dapper_ipc_ossl_load(const char **why);

/* The library context whose AES-GCM is tls_provider.c's, or NULL (see there). */
void *dapper_ipc_tls_libctx(const dapper_ipc_ossl *ossl);

#endif
