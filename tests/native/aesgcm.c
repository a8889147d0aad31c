/*
 * The tls transport's own AES-GCM (src/DapperIpc.Native/Native/aesgcm.c) and its
 * OpenSSL provider (tls_provider.c), built from the library's sources: published
 * known answers, OpenSSL's default provider as the reference for random keys,
 * nonces, lengths and splits, the EVP path that TLS's record layer drives in
 * the library's own library context, and forged tags. Exit 77 (a skip, with the
 * reason) on a CPU without VAES and VPCLMULQDQ, or without OpenSSL 3.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aesgcm.h"
#include "tls_ossl.h"

static int failures;

static void check(int condition, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", condition ? "ok" : "FAILED");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failures += !condition;
}

/* ---- OpenSSL's EVP, the reference ---- */

#define EVP_CTRL_AEAD_SET_IVLEN 0x9
#define EVP_CTRL_AEAD_GET_TAG 0x10
#define EVP_CTRL_AEAD_SET_TAG 0x11

static struct {
    void *(*EVP_CIPHER_fetch)(void *, const char *, const char *);
    void (*EVP_CIPHER_free)(void *);
    const void *(*EVP_CIPHER_get0_provider)(const void *);
    const char *(*OSSL_PROVIDER_get0_name)(const void *);
    void *(*EVP_CIPHER_CTX_new)(void);
    void (*EVP_CIPHER_CTX_free)(void *);
    int (*EVP_CipherInit_ex)(void *, const void *, void *, const unsigned char *, const unsigned char *, int);
    int (*EVP_CipherUpdate)(void *, unsigned char *, int *, const unsigned char *, int);
    int (*EVP_CipherFinal_ex)(void *, unsigned char *, int *);
    int (*EVP_CIPHER_CTX_ctrl)(void *, int, int, void *);
} E;

static int load_evp(void)
{
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        return 0;
#define SYM(name) (*(void **)&E.name = dlsym(h, #name)) != NULL
    return SYM(EVP_CIPHER_fetch) && SYM(EVP_CIPHER_free) && SYM(EVP_CIPHER_get0_provider) && SYM(OSSL_PROVIDER_get0_name) &&
           SYM(EVP_CIPHER_CTX_new) && SYM(EVP_CIPHER_CTX_free) && SYM(EVP_CipherInit_ex) && SYM(EVP_CipherUpdate) &&
           SYM(EVP_CipherFinal_ex) && SYM(EVP_CIPHER_CTX_ctrl);
#undef SYM
}

/* One message through EVP with `cipher`, the AAD and the data each in pieces of at most
   `piece` bytes (0: whole). Encrypt: out and tag are written. Decrypt: tag is the
   expected one; returns whether it matched. */
static int evp_run(const void *cipher, int encrypt, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                   size_t aad_length, const uint8_t *in, size_t length, uint8_t *out, uint8_t tag[16], size_t piece)
{
    void *ctx = E.EVP_CIPHER_CTX_new();
    int n, ok = E.EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, encrypt) &&
                E.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
                E.EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, -1) && E.EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, -1);
    if (ok && !encrypt)
        ok = E.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag);
    for (size_t done = 0; ok && done < aad_length; done += (size_t)n) {
        size_t take = piece == 0 || aad_length - done < piece ? aad_length - done : piece;
        ok = E.EVP_CipherUpdate(ctx, NULL, &n, aad + done, (int)take);
        n = (int)take;
    }
    for (size_t done = 0; ok && done < length;) {
        size_t take = piece == 0 || length - done < piece ? length - done : piece;
        ok = E.EVP_CipherUpdate(ctx, out + done, &n, in + done, (int)take) && (size_t)n == take;
        done += take;
    }
    ok = ok && E.EVP_CipherFinal_ex(ctx, out + length, &n);
    if (ok && encrypt)
        ok = E.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag);
    E.EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* ---- the core alone ---- */

static dapper_ipc_gcm gcm; /* 64-byte aligned by its type */

static void core_encrypt(const uint8_t *key, size_t key_bytes, const uint8_t *nonce, const uint8_t *aad, size_t aad_length,
                         const uint8_t *in, size_t length, uint8_t *out, uint8_t tag[16], unsigned *seed)
{
    dapper_ipc_gcm_set_key(&gcm, key, key_bytes);
    dapper_ipc_gcm_start(&gcm, nonce);
    /* The AAD in two pieces and the data in random ones: every split must give the same. */
    size_t a = aad_length > 0 ? (size_t)rand_r(seed) % (aad_length + 1) : 0;
    dapper_ipc_gcm_aad(&gcm, aad, a);
    dapper_ipc_gcm_aad(&gcm, aad + a, aad_length - a);
    for (size_t done = 0; done < length;) {
        size_t take = rand_r(seed) % 3 == 0 ? length - done : 1 + (size_t)rand_r(seed) % (length - done);
        dapper_ipc_gcm_crypt(&gcm, in + done, out + done, take, 1);
        done += take;
    }
    dapper_ipc_gcm_tag(&gcm, tag);
}

/* A random key, nonce, aad and plaintext, drawn in that order so a seed names one case. */
static void random_case(unsigned *seed, uint8_t *key, uint8_t *nonce, uint8_t *aad, size_t aad_length, uint8_t *plain,
                        size_t length)
{
    for (size_t i = 0; i < 32; i++)
        key[i] = (uint8_t)rand_r(seed);
    for (size_t i = 0; i < 12; i++)
        nonce[i] = (uint8_t)rand_r(seed);
    for (size_t i = 0; i < aad_length; i++)
        aad[i] = (uint8_t)rand_r(seed);
    for (size_t i = 0; i < length; i++)
        plain[i] = (uint8_t)rand_r(seed);
}

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++)
        sscanf(h + 2 * i, "%2hhx", &out[i]);
    return n;
}

/* The test cases of McGrew and Viega's GCM specification (also NIST's). */
static int test_known_answers(void)
{
    static const struct {
        const char *key, *nonce, *plain, *aad, *cipher, *tag;
    } cases[] = {
        {"00000000000000000000000000000000", "000000000000000000000000", "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"},
        {"00000000000000000000000000000000", "000000000000000000000000", "00000000000000000000000000000000", "",
         "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
        {"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
         "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
         "",
         "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
         "4d5c2af327cd64a62cf35abd2ba6fab4"},
        {"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
         "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
         "feedfacedeadbeeffeedfacedeadbeefabaddad2",
         "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
         "5bc94fbc3221a5db94fae95ae7121a47"},
        {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "",
         "530f8afbc74536b9a963b4f1c4cb738b"},
        {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
         "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t key[32], nonce[12], plain[64], aad[32], want[64], want_tag[16], got[64], tag[16];
        size_t key_bytes = unhex(cases[i].key, key), length = unhex(cases[i].plain, plain);
        size_t aad_length = unhex(cases[i].aad, aad);
        unhex(cases[i].nonce, nonce);
        unhex(cases[i].cipher, want);
        unhex(cases[i].tag, want_tag);
        unsigned seed = (unsigned)i;
        core_encrypt(key, key_bytes, nonce, aad, aad_length, plain, length, got, tag, &seed);
        check(memcmp(got, want, length) == 0 && memcmp(tag, want_tag, 16) == 0,
              "known answer %zu (AES-%zu, %zu bytes, %zu of AAD): ciphertext and tag as published", i + 1, key_bytes * 8,
              length, aad_length);
    }
    return failures == 0 ? 0 : 1;
}

/* Random keys, nonces, AAD and lengths from 0 to 70,000 bytes, split at random, against
   OpenSSL's default provider; then decrypted in place. */
static int test_against_openssl(void)
{
    void *reference[2] = {E.EVP_CIPHER_fetch(NULL, "AES-128-GCM", "provider=default"),
                          E.EVP_CIPHER_fetch(NULL, "AES-256-GCM", "provider=default")};
    enum { MAX = 70000, RUNS = 3000 };
    uint8_t *plain = malloc(MAX), *want = malloc(MAX + 16), *got = malloc(MAX + 16);
    unsigned seed = 12345;
    int cipher_differs = 0, tag_differs = 0, decrypt_differs = 0;
    for (int run = 0; run < RUNS; run++) {
        uint8_t key[32], nonce[12], aad[64], want_tag[16], tag[16], again[16];
        size_t key_bytes = run % 2 ? 32 : 16;
        size_t length = run < 2000 ? (size_t)rand_r(&seed) % 700 : (size_t)rand_r(&seed) % MAX;
        size_t aad_length = (size_t)rand_r(&seed) % sizeof aad;
        random_case(&seed, key, nonce, aad, aad_length, plain, length);
        evp_run(reference[key_bytes == 32], 1, key, nonce, aad, aad_length, plain, length, want, want_tag, 0);
        core_encrypt(key, key_bytes, nonce, aad, aad_length, plain, length, got, tag, &seed);
        cipher_differs += memcmp(got, want, length) != 0;
        tag_differs += memcmp(tag, want_tag, 16) != 0;
        dapper_ipc_gcm_start(&gcm, nonce);
        dapper_ipc_gcm_aad(&gcm, aad, aad_length);
        dapper_ipc_gcm_crypt(&gcm, got, got, length, 0);
        dapper_ipc_gcm_tag(&gcm, again);
        decrypt_differs += memcmp(got, plain, length) != 0 || memcmp(again, want_tag, 16) != 0;
    }
    check(cipher_differs == 0, "%d random messages: every ciphertext is OpenSSL's (%d differ)", RUNS, cipher_differs);
    check(tag_differs == 0, "%d random messages: every tag is OpenSSL's (%d differ)", RUNS, tag_differs);
    check(decrypt_differs == 0, "%d random messages decrypted in place: the plaintext and the tag again (%d differ)", RUNS,
          decrypt_differs);
    E.EVP_CIPHER_free(reference[0]);
    E.EVP_CIPHER_free(reference[1]);
    free(plain), free(want), free(got);
    return failures == 0 ? 0 : 1;
}

/* The provider as TLS reaches it: fetched in the library's context with the preference
   query the tls contexts use, driven through EVP in whole and in pieces, against
   OpenSSL's default provider; and a forged tag, ciphertext or AAD refused. */
static int test_through_evp(void)
{
    void *libctx = dapper_ipc_tls_libctx(dapper_ipc_ossl_load(NULL));
    check(libctx != NULL, "the library context with the provider is set up");
    if (libctx == NULL)
        return 1;
    const char *names[2] = {"AES-128-GCM", "AES-256-GCM"};
    enum { MAX = 40000, RUNS = 600 };
    uint8_t *plain = malloc(MAX), *want = malloc(MAX + 16), *got = malloc(MAX + 16), *back = malloc(MAX + 16);
    unsigned seed = 777;
    for (int k = 0; k < 2; k++) {
        void *ours = E.EVP_CIPHER_fetch(libctx, names[k], DAPPER_IPC_TLS_PROPQ);
        void *reference = E.EVP_CIPHER_fetch(libctx, names[k], "provider=default");
        const char *provider = ours != NULL ? E.OSSL_PROVIDER_get0_name(E.EVP_CIPHER_get0_provider(ours)) : "(none)";
        check(strcmp(provider, DAPPER_IPC_TLS_PROVIDER) == 0, "%s fetched as the tls contexts fetch it comes from %s",
              names[k], provider);
        if (ours == NULL || reference == NULL)
            return 1;
        int differs = 0, refused = 0, forged_accepted = 0;
        for (int run = 0; run < RUNS; run++) {
            uint8_t key[32], nonce[12], aad[32], want_tag[16], tag[16];
            size_t length = (size_t)rand_r(&seed) % MAX, aad_length = (size_t)rand_r(&seed) % sizeof aad;
            size_t piece = run % 2 ? 0 : 1 + (size_t)rand_r(&seed) % 5000;
            random_case(&seed, key, nonce, aad, aad_length, plain, length);
            evp_run(reference, 1, key, nonce, aad, aad_length, plain, length, want, want_tag, 0);
            int ok = evp_run(ours, 1, key, nonce, aad, aad_length, plain, length, got, tag, piece);
            differs += !ok || memcmp(got, want, length) != 0 || memcmp(tag, want_tag, 16) != 0;
            refused += !evp_run(ours, 0, key, nonce, aad, aad_length, got, length, back, tag, piece) ||
                       memcmp(back, plain, length) != 0;
            /* One bit changed in the tag, the ciphertext or the AAD: refused. */
            int where = run % 3;
            if (where == 0)
                tag[run % 16] ^= 0x01;
            else if (where == 1 && length > 0)
                got[(size_t)run % length] ^= 0x80;
            else if (aad_length > 0)
                aad[0] ^= 0x10;
            else
                tag[0] ^= 0x40;
            forged_accepted += evp_run(ours, 0, key, nonce, aad, aad_length, got, length, back, tag, piece);
        }
        check(differs == 0, "%s: %d messages through EVP, whole and in pieces, equal OpenSSL's default (%d differ)", names[k],
              RUNS, differs);
        check(refused == 0, "%s: each decrypts with its tag accepted (%d refused)", names[k], refused);
        check(forged_accepted == 0, "%s: a changed tag, ciphertext or AAD is refused every time (%d accepted)", names[k],
              forged_accepted);
        E.EVP_CIPHER_free(ours);
        E.EVP_CIPHER_free(reference);
    }
    free(plain), free(want), free(got), free(back);
    return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(void);
    } tests[] = {
        {"known-answers", test_known_answers},
        {"against-openssl", test_against_openssl},
        {"through-evp", test_through_evp},
    };
    if (!dapper_ipc_gcm_available()) {
        printf("SKIP: this CPU has no AVX-512 VAES and VPCLMULQDQ; the tls transport uses OpenSSL's AES-GCM here\n");
        return 77;
    }
    const char *why = NULL;
    if (dapper_ipc_ossl_load(&why) == NULL || !load_evp()) {
        printf("SKIP: %s\n", why != NULL ? why : "libcrypto.so.3 has no EVP");
        return 77;
    }
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++)
        if (argc == 2 && strcmp(argv[1], tests[i].name) == 0)
            return tests[i].run();
    fprintf(stderr, "usage: aesgcm <test name>\n");
    return 2;
}
