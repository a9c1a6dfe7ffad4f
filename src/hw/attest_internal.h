/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the three attestation files of src/hw (image and
 * measurement, platform and report, verification): the verifier's key
 * object, the key checks both sides need, SHA-384 over scattered parts, and
 * little-endian stores and loads. Not part of the public API.
 */
#ifndef CVMBUS_HW_ATTEST_INTERNAL_H
#define CVMBUS_HW_ATTEST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include <cvmbus/attest.h>

/* The verifier's key: the OpenSSL key plus the digest the report names its
 * signer by (SHA-384 of the DER SubjectPublicKeyInfo). */
struct cvmbus_attest_pubkey {
	EVP_PKEY *pkey;
	uint8_t digest[CVMBUS_ATTEST_DIGEST_SIZE];
};

/* SHA-384 of the concatenation of n parts. 0 or -EIO. */
int attest_sha384(const void *const *parts, const size_t *lens, size_t n,
		  uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE]);

/* 0 when pkey is an EC key on P-384 (secp384r1), else -EINVAL. */
int attest_key_is_p384(EVP_PKEY *pkey);

/* SHA-384 of the public half's DER SubjectPublicKeyInfo. 0 or -EIO. */
int attest_key_digest(EVP_PKEY *pkey, uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE]);

/* A verifier object holding its own reference to pkey's public half.
 * 0, -ENOMEM or -EIO. */
int attest_pubkey_from_evp(EVP_PKEY *pkey, struct cvmbus_attest_pubkey **out);

/* Writes a short message into err (may be NULL or errlen 0). */
void attest_set_err(char *err, size_t errlen, const char *msg);

static inline void attest_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void attest_put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void attest_put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t attest_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t attest_get_le64(const uint8_t *p)
{
	return (uint64_t)attest_get_le32(p) | (uint64_t)attest_get_le32(p + 4) << 32;
}

#endif /* CVMBUS_HW_ATTEST_INTERNAL_H */
