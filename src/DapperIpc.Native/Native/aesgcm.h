/*
 * AES-GCM (128- and 256-bit keys, 96-bit nonces) on VAES and VPCLMULQDQ with
 * AVX-512: 16 blocks per step where OpenSSL 3.0 does 6 with AES-NI. It is
 * the cipher of the tls transport's records when the CPU has those
 * instructions (tls_provider.c offers it to OpenSSL); OpenSSL's own serves
 * everywhere else. Streaming: any split of the AAD and of the data works.
 */
#ifndef DAPPER_IPC_AESGCM_H
#define DAPPER_IPC_AESGCM_H

#include <stddef.h>
#include <stdint.h>

typedef struct dapper_ipc_gcm {
    /* Round keys, then the hash key's powers H^16..H^1 in the multiplier's form
       and 4 zero entries (a partial step reads past H^1): 16-byte entries. */
    _Alignas(64) uint8_t round_keys[15][16];
    _Alignas(64) uint8_t powers[20][16];
    int rounds;
    /* One message: the hash so far, the next counter block (both byte-reflected),
       E(K, J0), the lengths, and a block in progress (its keystream and its bytes). */
    _Alignas(16) uint8_t hash[16];
    _Alignas(16) uint8_t counter[16];
    _Alignas(16) uint8_t tag_mask[16];
    uint8_t keystream[16];
    uint8_t partial[16];
    unsigned fill;
    int in_data;
    uint64_t aad_bytes, data_bytes;
} dapper_ipc_gcm;

/* Whether this CPU (and OS) runs the code: AVX-512 F/BW/VL, VAES, VPCLMULQDQ. */
int dapper_ipc_gcm_available(void);
/* key_bytes: 16 or 32. */
void dapper_ipc_gcm_set_key(dapper_ipc_gcm *g, const uint8_t *key, size_t key_bytes);
/* Starts a message under the key already set; the nonce is 12 bytes. */
void dapper_ipc_gcm_start(dapper_ipc_gcm *g, const uint8_t nonce[12]);
/* Additional data: before any data. Returns 0 when data has begun already. */
int dapper_ipc_gcm_aad(dapper_ipc_gcm *g, const uint8_t *aad, size_t length);
/* Encrypts or decrypts length bytes; in and out may be the same buffer. */
void dapper_ipc_gcm_crypt(dapper_ipc_gcm *g, const uint8_t *in, uint8_t *out, size_t length, int encrypt);
/* The 16-byte tag of the message. */
void dapper_ipc_gcm_tag(dapper_ipc_gcm *g, uint8_t tag[16]);

#endif
