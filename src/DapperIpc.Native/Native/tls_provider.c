/*
 * aesgcm.c offered to OpenSSL as a provider ("dapper-aesgcm": AES-128-GCM and
 * AES-256-GCM), in a library context of the tls transport's own, beside
 * OpenSSL's default provider, which serves everything else (the handshake's
 * key exchange, signatures, hashes). The tls contexts made in it prefer this
 * provider's AES-GCM; the process's default context, which the host's own
 * OpenSSL users share (Python's ssl module, say), is left as it was.
 *
 * The record layer of TLS 1.3 drives a cipher through init (key, then a nonce
 * per record), the AAD, the data, final and the tag; that is what this
 * implements. TLS 1.2's GCM records take other parameters ("tlsaad",
 * "tlsivfixed"): they are refused, and a context that allows TLS 1.2 stays on
 * OpenSSL's own cipher (tls.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "aesgcm.h"
#include "shim.h"
#include "tls_ossl.h"

#define OSSL_FUNC_PROVIDER_TEARDOWN 1024
#define OSSL_FUNC_PROVIDER_QUERY_OPERATION 1027
#define OSSL_OP_CIPHER 2
#define OSSL_FUNC_CIPHER_NEWCTX 1
#define OSSL_FUNC_CIPHER_ENCRYPT_INIT 2
#define OSSL_FUNC_CIPHER_DECRYPT_INIT 3
#define OSSL_FUNC_CIPHER_UPDATE 4
#define OSSL_FUNC_CIPHER_FINAL 5
#define OSSL_FUNC_CIPHER_CIPHER 6
#define OSSL_FUNC_CIPHER_FREECTX 7
#define OSSL_FUNC_CIPHER_DUPCTX 8
#define OSSL_FUNC_CIPHER_GET_PARAMS 9
#define OSSL_FUNC_CIPHER_GET_CTX_PARAMS 10
#define OSSL_FUNC_CIPHER_SET_CTX_PARAMS 11
#define OSSL_FUNC_CIPHER_GETTABLE_PARAMS 12
#define OSSL_FUNC_CIPHER_GETTABLE_CTX_PARAMS 13
#define OSSL_FUNC_CIPHER_SETTABLE_CTX_PARAMS 14
#define OSSL_PARAM_INTEGER 1
#define OSSL_PARAM_UNSIGNED_INTEGER 2
#define OSSL_PARAM_OCTET_STRING 5
#define EVP_CIPH_GCM_MODE 0x6

typedef struct {
    int function_id;
    void (*function)(void);
} ossl_dispatch;

typedef struct {
    const char *names;
    const char *properties;
    const ossl_dispatch *implementation;
    const char *description;
} ossl_algorithm;

static const dapper_ipc_ossl *O;

typedef struct {
    dapper_ipc_gcm gcm; /* first: 64-byte aligned */
    size_t key_bytes;
    int encrypt;
    int key_set;
    int started; /* a nonce is set and the message is not finished */
    unsigned char nonce[12];
    unsigned char tag[16];
    size_t tag_length; /* decrypt: the expected tag's; encrypt: 16 once final */
} gcm_ctx;

static void *new_ctx(size_t key_bytes)
{
    gcm_ctx *c = aligned_alloc(64, (sizeof(gcm_ctx) + 63) / 64 * 64);
    if (c != NULL) {
        memset(c, 0, sizeof *c);
        c->key_bytes = key_bytes;
    }
    return c;
}

static void *new_ctx128(void *provider) { (void)provider; return new_ctx(16); }
static void *new_ctx256(void *provider) { (void)provider; return new_ctx(32); }

static void free_ctx(void *v)
{
    if (v == NULL)
        return;
    /* Round keys and tag: not left in freed memory. */
    volatile unsigned char *p = v;
    for (size_t i = 0; i < sizeof(gcm_ctx); i++)
        p[i] = 0;
    free(v);
}

static void *dup_ctx(void *v)
{
    gcm_ctx *c = new_ctx(((gcm_ctx *)v)->key_bytes);
    if (c != NULL)
        memcpy(c, v, sizeof *c);
    return c;
}

static int set_ctx_params(void *v, const ossl_param *params)
{
    gcm_ctx *c = v;
    if (params == NULL)
        return 1;
    const ossl_param *p;
    if ((p = O->OSSL_PARAM_locate_const(params, "tag")) != NULL) {
        void *into = c->tag;
        size_t length = 0;
        if (c->encrypt || !O->OSSL_PARAM_get_octet_string(p, &into, sizeof c->tag, &length) || length == 0)
            return 0;
        c->tag_length = length;
    }
    if ((p = O->OSSL_PARAM_locate_const(params, "ivlen")) != NULL) {
        size_t length = 0;
        if (!O->OSSL_PARAM_get_size_t(p, &length) || length != 12)
            return 0; /* TLS's nonces are 12 bytes; nothing else is offered */
    }
    if (O->OSSL_PARAM_locate_const(params, "tlsaad") != NULL || O->OSSL_PARAM_locate_const(params, "tlsivfixed") != NULL ||
        O->OSSL_PARAM_locate_const(params, "tlsivinv") != NULL)
        return 0; /* TLS 1.2's record parameters: not offered (see the top) */
    return 1;
}

static int init(void *v, const unsigned char *key, size_t key_length, const unsigned char *iv, size_t iv_length,
                const ossl_param *params, int encrypt)
{
    gcm_ctx *c = v;
    c->encrypt = encrypt;
    if (key != NULL) {
        if (key_length != c->key_bytes)
            return 0;
        dapper_ipc_gcm_set_key(&c->gcm, key, key_length);
        c->key_set = 1;
        c->started = 0;
    }
    if (iv != NULL) {
        if (iv_length != 12)
            return 0;
        memcpy(c->nonce, iv, 12);
        c->started = 0;
        c->tag_length = 0;
    }
    if (!set_ctx_params(v, params))
        return 0;
    if (c->key_set && iv != NULL) {
        dapper_ipc_gcm_start(&c->gcm, c->nonce);
        c->started = 1;
    }
    return 1;
}

static int encrypt_init(void *v, const unsigned char *key, size_t key_length, const unsigned char *iv, size_t iv_length,
                        const ossl_param *params)
{
    return init(v, key, key_length, iv, iv_length, params, 1);
}

static int decrypt_init(void *v, const unsigned char *key, size_t key_length, const unsigned char *iv, size_t iv_length,
                        const ossl_param *params)
{
    return init(v, key, key_length, iv, iv_length, params, 0);
}

static int update(void *v, unsigned char *out, size_t *out_length, size_t out_size, const unsigned char *in, size_t in_length)
{
    gcm_ctx *c = v;
    *out_length = 0;
    if (!c->started)
        return 0; /* no nonce, or a finished message: a nonce is never used twice */
    if (in_length == 0)
        return 1;
    if (out == NULL)
        return dapper_ipc_gcm_aad(&c->gcm, in, in_length);
    if (out_size < in_length)
        return 0;
    dapper_ipc_gcm_crypt(&c->gcm, in, out, in_length, c->encrypt);
    *out_length = in_length;
    return 1;
}

static int final(void *v, unsigned char *out, size_t *out_length, size_t out_size)
{
    (void)out, (void)out_size;
    gcm_ctx *c = v;
    *out_length = 0;
    if (!c->started || (!c->encrypt && c->tag_length == 0))
        return 0;
    c->started = 0;
    unsigned char tag[16];
    dapper_ipc_gcm_tag(&c->gcm, tag);
    if (c->encrypt) {
        memcpy(c->tag, tag, 16);
        c->tag_length = 16;
        return 1;
    }
    unsigned char differ = 0;
    for (size_t i = 0; i < c->tag_length; i++)
        differ |= (unsigned char)(tag[i] ^ c->tag[i]);
    return differ == 0;
}

/* EVP_Cipher's entry: in == NULL finishes the message. */
static int cipher(void *v, unsigned char *out, size_t *out_length, size_t out_size, const unsigned char *in, size_t in_length)
{
    return in == NULL ? final(v, out, out_length, out_size) : update(v, out, out_length, out_size, in, in_length);
}

static int get_params(ossl_param *params, size_t key_bytes)
{
    ossl_param *p;
    if ((p = O->OSSL_PARAM_locate(params, "mode")) != NULL && !O->OSSL_PARAM_set_uint(p, EVP_CIPH_GCM_MODE))
        return 0;
    if ((p = O->OSSL_PARAM_locate(params, "keylen")) != NULL && !O->OSSL_PARAM_set_size_t(p, key_bytes))
        return 0;
    if ((p = O->OSSL_PARAM_locate(params, "ivlen")) != NULL && !O->OSSL_PARAM_set_size_t(p, 12))
        return 0;
    if ((p = O->OSSL_PARAM_locate(params, "blocksize")) != NULL && !O->OSSL_PARAM_set_size_t(p, 1))
        return 0;
    static const char *const yes[] = {"aead", "custom-iv"};
    static const char *const no[] = {"cts", "tls-multi", "has-randkey"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if ((p = O->OSSL_PARAM_locate(params, yes[i])) != NULL && !O->OSSL_PARAM_set_int(p, 1))
            return 0;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if ((p = O->OSSL_PARAM_locate(params, no[i])) != NULL && !O->OSSL_PARAM_set_int(p, 0))
            return 0;
    return 1;
}

static int get_params128(ossl_param *params) { return get_params(params, 16); }
static int get_params256(ossl_param *params) { return get_params(params, 32); }

static int get_ctx_params(void *v, ossl_param *params)
{
    gcm_ctx *c = v;
    ossl_param *p;
    if ((p = O->OSSL_PARAM_locate(params, "keylen")) != NULL && !O->OSSL_PARAM_set_size_t(p, c->key_bytes))
        return 0;
    if ((p = O->OSSL_PARAM_locate(params, "ivlen")) != NULL && !O->OSSL_PARAM_set_size_t(p, 12))
        return 0;
    if ((p = O->OSSL_PARAM_locate(params, "taglen")) != NULL &&
        !O->OSSL_PARAM_set_size_t(p, c->tag_length != 0 ? c->tag_length : 16))
        return 0;
    if ((p = O->OSSL_PARAM_locate(params, "iv")) != NULL && !O->OSSL_PARAM_set_octet_string(p, c->nonce, 12))
        return 0;
    if ((p = O->OSSL_PARAM_locate(params, "updated-iv")) != NULL && !O->OSSL_PARAM_set_octet_string(p, c->nonce, 12))
        return 0;
    if ((p = O->OSSL_PARAM_locate(params, "tag")) != NULL) {
        /* The tag exists once an encryption is final; its reader says how much it wants. */
        if (!c->encrypt || c->tag_length == 0 || c->started || p->data_size == 0 || p->data_size > 16 ||
            !O->OSSL_PARAM_set_octet_string(p, c->tag, p->data_size))
            return 0;
    }
    return 1;
}

#define DESCRIBE(key, type) {key, type, NULL, 0, 0}
#define END {NULL, 0, NULL, 0, 0}

static const ossl_param gettable[] = {
    DESCRIBE("mode", OSSL_PARAM_UNSIGNED_INTEGER), DESCRIBE("keylen", OSSL_PARAM_UNSIGNED_INTEGER),
    DESCRIBE("ivlen", OSSL_PARAM_UNSIGNED_INTEGER), DESCRIBE("blocksize", OSSL_PARAM_UNSIGNED_INTEGER),
    DESCRIBE("aead", OSSL_PARAM_INTEGER),           DESCRIBE("custom-iv", OSSL_PARAM_INTEGER),
    DESCRIBE("cts", OSSL_PARAM_INTEGER),            DESCRIBE("tls-multi", OSSL_PARAM_INTEGER),
    DESCRIBE("has-randkey", OSSL_PARAM_INTEGER),    END};
static const ossl_param gettable_ctx[] = {
    DESCRIBE("keylen", OSSL_PARAM_UNSIGNED_INTEGER), DESCRIBE("ivlen", OSSL_PARAM_UNSIGNED_INTEGER),
    DESCRIBE("taglen", OSSL_PARAM_UNSIGNED_INTEGER), DESCRIBE("iv", OSSL_PARAM_OCTET_STRING),
    DESCRIBE("updated-iv", OSSL_PARAM_OCTET_STRING), DESCRIBE("tag", OSSL_PARAM_OCTET_STRING),
    END};
static const ossl_param settable_ctx[] = {DESCRIBE("ivlen", OSSL_PARAM_UNSIGNED_INTEGER),
                                          DESCRIBE("tag", OSSL_PARAM_OCTET_STRING), END};

static const ossl_param *get_gettable(void *provider) { (void)provider; return gettable; }
static const ossl_param *get_gettable_ctx(void *ctx, void *provider) { (void)ctx, (void)provider; return gettable_ctx; }
static const ossl_param *get_settable_ctx(void *ctx, void *provider) { (void)ctx, (void)provider; return settable_ctx; }

#define F(id, fn) {id, (void (*)(void))(fn)}
#define CIPHER_TABLE(name, newctx, getparams)                                                  \
    static const ossl_dispatch name[] = {F(OSSL_FUNC_CIPHER_NEWCTX, newctx),                  \
                                         F(OSSL_FUNC_CIPHER_ENCRYPT_INIT, encrypt_init),       \
                                         F(OSSL_FUNC_CIPHER_DECRYPT_INIT, decrypt_init),       \
                                         F(OSSL_FUNC_CIPHER_UPDATE, update),                   \
                                         F(OSSL_FUNC_CIPHER_FINAL, final),                     \
                                         F(OSSL_FUNC_CIPHER_CIPHER, cipher),                   \
                                         F(OSSL_FUNC_CIPHER_FREECTX, free_ctx),                \
                                         F(OSSL_FUNC_CIPHER_DUPCTX, dup_ctx),                  \
                                         F(OSSL_FUNC_CIPHER_GET_PARAMS, getparams),            \
                                         F(OSSL_FUNC_CIPHER_GET_CTX_PARAMS, get_ctx_params),   \
                                         F(OSSL_FUNC_CIPHER_SET_CTX_PARAMS, set_ctx_params),   \
                                         F(OSSL_FUNC_CIPHER_GETTABLE_PARAMS, get_gettable),    \
                                         F(OSSL_FUNC_CIPHER_GETTABLE_CTX_PARAMS, get_gettable_ctx), \
                                         F(OSSL_FUNC_CIPHER_SETTABLE_CTX_PARAMS, get_settable_ctx), \
                                         {0, NULL}};
CIPHER_TABLE(aes128gcm, new_ctx128, get_params128)
CIPHER_TABLE(aes256gcm, new_ctx256, get_params256)

static const ossl_algorithm ciphers[] = {
    {"AES-128-GCM:id-aes128-GCM:2.16.840.1.101.3.4.1.6", "provider=" DAPPER_IPC_TLS_PROVIDER, aes128gcm,
     "AES-128-GCM, VAES and VPCLMULQDQ (dapper_ipc)"},
    {"AES-256-GCM:id-aes256-GCM:2.16.840.1.101.3.4.1.46", "provider=" DAPPER_IPC_TLS_PROVIDER, aes256gcm,
     "AES-256-GCM, VAES and VPCLMULQDQ (dapper_ipc)"},
    {NULL, NULL, NULL, NULL}};

static const ossl_algorithm *query(void *provider, int operation, int *no_cache)
{
    (void)provider;
    *no_cache = 0;
    return operation == OSSL_OP_CIPHER ? ciphers : NULL;
}

static void teardown(void *provider) { (void)provider; }

static const ossl_dispatch provider_table[] = {F(OSSL_FUNC_PROVIDER_QUERY_OPERATION, query),
                                               F(OSSL_FUNC_PROVIDER_TEARDOWN, teardown), {0, NULL}};

static int provider_init(const void *handle, const void *in, const void **out, void **provider)
{
    (void)handle, (void)in;
    *out = provider_table;
    *provider = (void *)provider_table; /* no state: any non-NULL value */
    return 1;
}

/* The tls transport's library context: OpenSSL's default provider and this one.
   NULL when this CPU cannot run aesgcm.c, when DAPPER_IPC_TLS_AESGCM=openssl asks for
   OpenSSL's own cipher, or when OpenSSL refuses the setup; tls.c then makes its
   contexts in the default library context, as before. */
static void *libctx;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void set_up(void)
{
    const char *choice = getenv("DAPPER_IPC_TLS_AESGCM");
    if ((choice != NULL && strcmp(choice, "openssl") == 0) || !dapper_ipc_gcm_available())
        return;
    void *c = O->OSSL_LIB_CTX_new();
    if (c == NULL)
        return;
    if (!O->OSSL_PROVIDER_add_builtin(c, DAPPER_IPC_TLS_PROVIDER, provider_init) ||
        O->OSSL_PROVIDER_load(c, "default") == NULL || O->OSSL_PROVIDER_load(c, DAPPER_IPC_TLS_PROVIDER) == NULL) {
        O->OSSL_LIB_CTX_free(c); /* unloads what was loaded */
        O->ERR_clear_error();
        return;
    }
    libctx = c; /* for the life of the process, as the contexts made in it may be */
}

DAPPER_IPC_SHIM_API void *dapper_ipc_tls_libctx(const dapper_ipc_ossl *ossl)
{
    O = ossl;
    pthread_once(&once, set_up);
    return libctx;
}
