/* SPDX-License-Identifier: MIT */
/*
 * The simulated security processor (src/hw, attestation): a platform
 * instance with its own signing key, launched once with a paravisor image,
 * whose measurement register is written by that launch and by nothing else,
 * and which answers the guest's report request with a signed, fixed-layout
 * attestation report. The platform model calls launch when it builds a
 * partition with a paravisor, and routes the guest's request here through
 * the paravisor's trusted path; this file is what runs "inside the PSP".
 *
 * Why an atomic state rather than a lock: the register is written exactly
 * once, before the state becomes LAUNCHED (release), and only read after
 * seeing LAUNCHED (acquire); report requests from many vCPUs then never
 * contend on anything. OpenSSL allows concurrent signing with one key as
 * long as nobody modifies the key, and nobody does after create.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hw/attest_internal.h"

#define ATTEST_MAX_PEM (64u * 1024u) /* a P-384 key in PEM is ~300 bytes */

enum attest_platform_state {
	ATTEST_PLATFORM_CREATED = 0,   /* no measurement: reports refused */
	ATTEST_PLATFORM_LAUNCHING = 1, /* one launch is measuring */
	ATTEST_PLATFORM_LAUNCHED = 2,  /* register final */
};

struct cvmbus_attest_platform {
	enum hv_isolation_type isolation;
	uint64_t policy;
	EVP_PKEY *key; /* private; never modified after create */
	uint8_t key_digest[CVMBUS_ATTEST_DIGEST_SIZE];
	uint8_t chip_id[CVMBUS_ATTEST_CHIP_ID_SIZE];
	_Atomic int state; /* enum attest_platform_state */
	/* The measurement register. Written only while state is LAUNCHING,
	 * by the one thread that moved it there. */
	uint8_t measurement[CVMBUS_ATTEST_DIGEST_SIZE];
};

/* An encrypted key would make OpenSSL prompt on the terminal; refuse it. */
static int attest_no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static int load_private_key(const char *pem, size_t len, EVP_PKEY **out, char *err,
			    size_t errlen)
{
	BIO *bio;

	if (len == 0 || len > ATTEST_MAX_PEM) {
		attest_set_err(err, errlen, "platform key pem is empty or larger than 64 kib");
		return -EINVAL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	*out = PEM_read_bio_PrivateKey(bio, NULL, attest_no_password, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!*out) {
		attest_set_err(err, errlen, "not a pem private key (or it is encrypted)");
		return -EINVAL;
	}
	if (attest_key_is_p384(*out)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		attest_set_err(err, errlen, "platform key is not an ec p-384 key");
		return -EINVAL;
	}
	return 0;
}

static int chip_id_from_key(EVP_PKEY *key, uint8_t out[CVMBUS_ATTEST_CHIP_ID_SIZE])
{
	unsigned char *der = NULL;
	unsigned int outlen = 0;
	int n = i2d_PUBKEY(key, &der);
	int rc = -EIO;

	if (n <= 0)
		return -EIO;
	if (EVP_Digest(der, (size_t)n, out, &outlen, EVP_sha512(), NULL) == 1 &&
	    outlen == CVMBUS_ATTEST_CHIP_ID_SIZE)
		rc = 0;
	OPENSSL_free(der);
	return rc;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int cvmbus_attest_platform_create(const struct cvmbus_attest_platform_config *cfg,
				  struct cvmbus_attest_platform **out, char *err,
				  size_t errlen)
{
	struct cvmbus_attest_platform *p = NULL;
	int rc;

	if (!cfg || !out) {
		attest_set_err(err, errlen, "no configuration");
		return -EINVAL;
	}
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->isolation = cfg->isolation;
	p->policy = cfg->policy;
	atomic_init(&p->state, ATTEST_PLATFORM_CREATED);

	if (cfg->key_pem) {
		rc = load_private_key(cfg->key_pem, cfg->key_pem_len, &p->key, err, errlen);
		if (rc)
			goto fail;
	} else {
		/* A fresh key per platform instance: in SNP terms this is the
		 * VCEK, which real hardware derives from chip secrets and TCB. */
		p->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		ERR_clear_error();
		if (!p->key) {
			attest_set_err(err, errlen, "p-384 key generation failed");
			rc = -EIO;
			goto fail;
		}
	}
	rc = attest_key_digest(p->key, p->key_digest);
	if (rc)
		goto fail;
	if (all_zero(cfg->chip_id, sizeof(cfg->chip_id)))
		rc = chip_id_from_key(p->key, p->chip_id);
	else
		memcpy(p->chip_id, cfg->chip_id, sizeof(p->chip_id));
	if (rc)
		goto fail;
	*out = p;
	return 0;
fail:
	cvmbus_attest_platform_destroy(p);
	return rc;
}

void cvmbus_attest_platform_destroy(struct cvmbus_attest_platform *p)
{
	if (!p)
		return;
	EVP_PKEY_free(p->key);
	free(p);
}

int cvmbus_attest_platform_launch(struct cvmbus_attest_platform *p,
				  const struct cvmbus_paravisor_image *img, char *err,
				  size_t errlen)
{
	uint8_t m[CVMBUS_ATTEST_DIGEST_SIZE];
	int expected = ATTEST_PLATFORM_CREATED;
	int rc;

	if (!p || !img) {
		attest_set_err(err, errlen, "no platform or image");
		return -EINVAL;
	}
	/* Claim the one launch first, so that two racing launches cannot both
	 * write the register. */
	if (!atomic_compare_exchange_strong_explicit(&p->state, &expected,
						     ATTEST_PLATFORM_LAUNCHING,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		attest_set_err(err, errlen, "platform already launched");
		return -EALREADY;
	}
	rc = cvmbus_paravisor_image_check(img, err, errlen);
	if (!rc)
		rc = cvmbus_paravisor_image_measure(img, m);
	if (rc) {
		/* Nothing was loaded: the platform may be launched again. */
		if (rc != -EINVAL)
			attest_set_err(err, errlen, "measurement failed");
		atomic_store_explicit(&p->state, ATTEST_PLATFORM_CREATED, memory_order_release);
		return rc;
	}
	memcpy(p->measurement, m, sizeof(m));
	atomic_store_explicit(&p->state, ATTEST_PLATFORM_LAUNCHED, memory_order_release);
	return 0;
}

int cvmbus_attest_platform_measurement(const struct cvmbus_attest_platform *p,
				       uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE])
{
	if (!p || !out)
		return -EINVAL;
	if (atomic_load_explicit(&((struct cvmbus_attest_platform *)p)->state,
				 memory_order_acquire) != ATTEST_PLATFORM_LAUNCHED)
		return -ENODATA;
	memcpy(out, p->measurement, CVMBUS_ATTEST_DIGEST_SIZE);
	return 0;
}

int cvmbus_attest_platform_public_key_pem(const struct cvmbus_attest_platform *p, char *buf,
					  size_t cap, size_t *len)
{
	BIO *bio;
	char *data = NULL;
	long n;
	int rc = -EIO;

	if (!p || !len)
		return -EINVAL;
	bio = BIO_new(BIO_s_mem());
	if (!bio)
		return -ENOMEM;
	if (PEM_write_bio_PUBKEY(bio, p->key) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || !data)
		goto out;
	*len = (size_t)n;
	if (!buf || cap < (size_t)n + 1) {
		rc = -ENOBUFS;
		goto out;
	}
	memcpy(buf, data, (size_t)n);
	buf[n] = '\0';
	rc = 0;
out:
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int cvmbus_attest_platform_pubkey(const struct cvmbus_attest_platform *p,
				  struct cvmbus_attest_pubkey **out)
{
	if (!p || !out)
		return -EINVAL;
	return attest_pubkey_from_evp(p->key, out);
}

/* ECDSA over SHA-384 of the signed part; r and s out as 48-byte big-endian
 * numbers. OpenSSL gives a DER SEQUENCE { r, s }, so unpack it. */
static int sign_report(EVP_PKEY *key, const uint8_t *msg, size_t msglen,
		       uint8_t r_out[CVMBUS_ATTEST_SIG_COMPONENT],
		       uint8_t s_out[CVMBUS_ATTEST_SIG_COMPONENT])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[160]; /* a P-384 ECDSA DER signature is <= 104 bytes */
	size_t derlen = sizeof(der);
	const unsigned char *q = der;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int rc = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha384(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, der, &derlen, msg, msglen) != 1)
		goto out;
	sig = d2i_ECDSA_SIG(NULL, &q, (long)derlen);
	if (!sig)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, r_out, CVMBUS_ATTEST_SIG_COMPONENT) != CVMBUS_ATTEST_SIG_COMPONENT ||
	    BN_bn2binpad(s, s_out, CVMBUS_ATTEST_SIG_COMPONENT) != CVMBUS_ATTEST_SIG_COMPONENT)
		goto out;
	rc = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int cvmbus_attest_get_report(struct cvmbus_attest_platform *p,
			     const uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE],
			     uint8_t out[CVMBUS_ATTEST_REPORT_SIZE])
{
	uint8_t r[CVMBUS_ATTEST_REPORT_SIZE] = { 0 };
	int rc;

	if (!p || !nonce || !out)
		return -EINVAL;
	if (atomic_load_explicit(&p->state, memory_order_acquire) != ATTEST_PLATFORM_LAUNCHED)
		return -ENODATA;
	/* Built byte by byte at the documented offsets (not by storing the
	 * struct), so the wire bytes do not depend on host endianness. */
	attest_put_le32(r + offsetof(struct cvmbus_attest_report_wire, version),
			CVMBUS_ATTEST_REPORT_VERSION);
	attest_put_le32(r + offsetof(struct cvmbus_attest_report_wire, isolation),
			(uint32_t)p->isolation);
	attest_put_le64(r + offsetof(struct cvmbus_attest_report_wire, policy), p->policy);
	attest_put_le32(r + offsetof(struct cvmbus_attest_report_wire, sig_algo),
			CVMBUS_ATTEST_SIG_ECDSA_P384_SHA384);
	memcpy(r + offsetof(struct cvmbus_attest_report_wire, measurement), p->measurement,
	       CVMBUS_ATTEST_DIGEST_SIZE);
	memcpy(r + offsetof(struct cvmbus_attest_report_wire, report_data), nonce,
	       CVMBUS_ATTEST_REPORT_DATA_SIZE);
	memcpy(r + offsetof(struct cvmbus_attest_report_wire, chip_id), p->chip_id,
	       CVMBUS_ATTEST_CHIP_ID_SIZE);
	memcpy(r + offsetof(struct cvmbus_attest_report_wire, signing_key_digest),
	       p->key_digest, CVMBUS_ATTEST_DIGEST_SIZE);
	rc = sign_report(p->key, r, CVMBUS_ATTEST_REPORT_SIGNED_SIZE,
			 r + offsetof(struct cvmbus_attest_report_wire, sig_r),
			 r + offsetof(struct cvmbus_attest_report_wire, sig_s));
	if (rc)
		return rc;
	memcpy(out, r, sizeof(r));
	return 0;
}
