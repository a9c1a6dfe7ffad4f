/* SPDX-License-Identifier: MIT */
/*
 * The relying party's side of attestation (src/hw, attestation): public keys
 * from PEM, the report parser, and verification with one precise reason per
 * refusal. The guest client calls this before it enables Confidential VMBus;
 * the `cvmbus attest verify` command and the fuzzer call it on files.
 *
 * Threat model: every byte of a report and of a key is chosen by whoever
 * handed it over (the host relays reports in real deployments). So the
 * report is copied into a local buffer once, its length and version are
 * checked before any field is interpreted, the layout-level fields
 * (algorithm, reserved bytes) before the signature, the signature before
 * any content is believed, and the content last. Each check names the first
 * thing that is wrong, so an operator learns "stale nonce" rather than
 * "invalid".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hw/attest_internal.h"

#define ATTEST_MAX_PEM (64u * 1024u)

static const char *const attest_reason_names[CVMBUS_ATTEST_REASON_COUNT] = {
	[CVMBUS_ATTEST_OK] = "ok",
	[CVMBUS_ATTEST_TRUNCATED] = "report truncated",
	[CVMBUS_ATTEST_OVERSIZED] = "report oversized",
	[CVMBUS_ATTEST_UNSUPPORTED_VERSION] = "unsupported report version",
	[CVMBUS_ATTEST_UNSUPPORTED_ALGORITHM] = "unsupported signature algorithm",
	[CVMBUS_ATTEST_MALFORMED] = "report malformed",
	[CVMBUS_ATTEST_WRONG_KEY] = "signed by a different key",
	[CVMBUS_ATTEST_BAD_SIGNATURE] = "bad signature",
	[CVMBUS_ATTEST_MEASUREMENT_UNKNOWN] = "measurement not expected",
	[CVMBUS_ATTEST_NONCE_MISMATCH] = "report data does not match the nonce",
	[CVMBUS_ATTEST_ISOLATION_MISMATCH] = "isolation type mismatch",
	[CVMBUS_ATTEST_POLICY_MISMATCH] = "policy mismatch",
	[CVMBUS_ATTEST_INTERNAL] = "internal error",
};

const char *cvmbus_attest_reason_str(enum cvmbus_attest_reason reason)
{
	if ((unsigned int)reason >= CVMBUS_ATTEST_REASON_COUNT)
		return "unknown reason";
	return attest_reason_names[reason];
}

/* Local on purpose: the platform's name table lives in a file this layer's
 * attestation part must not wait for. */
static const char *iso_name(uint32_t iso)
{
	switch (iso) {
	case HV_ISOLATION_TYPE_NONE:
		return "none";
	case HV_ISOLATION_TYPE_VBS:
		return "vbs";
	case HV_ISOLATION_TYPE_SNP:
		return "snp";
	case HV_ISOLATION_TYPE_TDX:
		return "tdx";
	default:
		return "unknown";
	}
}

__attribute__((format(printf, 3, 4))) static int refuse(struct cvmbus_attest_result *res,
							enum cvmbus_attest_reason reason,
							const char *fmt, ...)
{
	va_list ap;

	res->reason = reason;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	return reason == CVMBUS_ATTEST_INTERNAL ? -EIO : -EACCES;
}

static void hex_prefix(const uint8_t *p, size_t n, char *buf)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 0xF];
	}
	buf[2 * n] = '\0';
}

/* ---- keys ------------------------------------------------------------ */

int attest_key_is_p384(EVP_PKEY *pkey)
{
	char group[64];
	size_t glen = 0;

	if (!EVP_PKEY_is_a(pkey, "EC"))
		return -EINVAL;
	if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	return strcmp(group, "secp384r1") ? -EINVAL : 0;
}

int attest_key_digest(EVP_PKEY *pkey, uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);
	const void *parts[1];
	size_t lens[1];
	int rc;

	if (n <= 0) {
		ERR_clear_error();
		return -EIO;
	}
	parts[0] = der;
	lens[0] = (size_t)n;
	rc = attest_sha384(parts, lens, 1, out);
	OPENSSL_free(der);
	return rc;
}

/* Keep only the public half: a verifier object must never be able to sign,
 * even when it was made from the platform's own key. */
int attest_pubkey_from_evp(EVP_PKEY *pkey, struct cvmbus_attest_pubkey **out)
{
	struct cvmbus_attest_pubkey *k;
	unsigned char *der = NULL;
	const unsigned char *q;
	int n, rc = -EIO;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	n = i2d_PUBKEY(pkey, &der);
	if (n <= 0)
		goto fail;
	q = der;
	k->pkey = d2i_PUBKEY(NULL, &q, n);
	OPENSSL_free(der);
	if (!k->pkey)
		goto fail;
	rc = attest_key_digest(k->pkey, k->digest);
	if (rc)
		goto fail;
	*out = k;
	return 0;
fail:
	ERR_clear_error();
	cvmbus_attest_pubkey_free(k);
	return rc;
}

static int attest_no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

int cvmbus_attest_pubkey_from_pem(const void *pem, size_t len,
				  struct cvmbus_attest_pubkey **out, char *err,
				  size_t errlen)
{
	EVP_PKEY_CTX *check = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	int rc = -EINVAL;

	if (!out || (!pem && len)) {
		attest_set_err(err, errlen, "no key");
		return -EINVAL;
	}
	*out = NULL;
	if (len == 0) {
		attest_set_err(err, errlen, "key is empty");
		return -EINVAL;
	}
	if (len > ATTEST_MAX_PEM) {
		attest_set_err(err, errlen, "key is larger than 64 kib");
		return -EINVAL;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	pkey = PEM_read_bio_PUBKEY(bio, NULL, attest_no_password, NULL);
	if (!pkey) {
		/* Say so when someone hands over the private key: it is the
		 * likely mistake, and it must not be accepted as a public key. */
		if (memmem(pem, len, "PRIVATE KEY-----", 16))
			attest_set_err(err, errlen, "a private key, not a pem public key");
		else
			attest_set_err(err, errlen, "not a pem public key");
		goto out;
	}
	if (attest_key_is_p384(pkey)) {
		attest_set_err(err, errlen, "not an ec p-384 key");
		goto out;
	}
	/* The decoder already refuses points off the curve; this also
	 * catches the point at infinity and keys of the wrong order. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1) {
		attest_set_err(err, errlen, "ec public key is not a valid p-384 point");
		goto out;
	}
	rc = attest_pubkey_from_evp(pkey, out);
	if (rc)
		attest_set_err(err, errlen, "could not import the key");
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

void cvmbus_attest_pubkey_free(struct cvmbus_attest_pubkey *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

/* ---- parsing --------------------------------------------------------- */

#define OFF(f) offsetof(struct cvmbus_attest_report_wire, f)

static void result_init(struct cvmbus_attest_result *res)
{
	memset(res, 0, sizeof(*res));
	res->reason = CVMBUS_ATTEST_OK;
	snprintf(res->detail, sizeof(res->detail), "ok");
}

/* Copy, check the layout, decode. `raw` receives the copy (the signature
 * check needs the signed bytes exactly as they were). */
static int parse_into(const void *bytes, size_t len, uint8_t raw[CVMBUS_ATTEST_REPORT_SIZE],
		      struct cvmbus_attest_result *res)
{
	struct cvmbus_attest_report *r = &res->report;
	uint32_t version;

	if (!bytes && len)
		return refuse(res, CVMBUS_ATTEST_TRUNCATED, "no report bytes");
	if (len < 4)
		return refuse(res, CVMBUS_ATTEST_TRUNCATED,
			      "report is %zu bytes, too short to hold a version", len);
	/* The version decides the layout, so it is the first thing read, and
	 * a future version gets "unsupported", not a confusing size error. */
	version = attest_get_le32(bytes);
	if (version != CVMBUS_ATTEST_REPORT_VERSION)
		return refuse(res, CVMBUS_ATTEST_UNSUPPORTED_VERSION,
			      "report version %" PRIu32 ", this verifier knows only 1", version);
	if (len < CVMBUS_ATTEST_REPORT_SIZE)
		return refuse(res, CVMBUS_ATTEST_TRUNCATED,
			      "report is %zu bytes, version 1 needs %u", len,
			      CVMBUS_ATTEST_REPORT_SIZE);
	if (len > CVMBUS_ATTEST_REPORT_SIZE)
		return refuse(res, CVMBUS_ATTEST_OVERSIZED,
			      "report is %zu bytes, version 1 has %u (trailing bytes refused)",
			      len, CVMBUS_ATTEST_REPORT_SIZE);

	/* From here on only the copy is read. */
	memcpy(raw, bytes, CVMBUS_ATTEST_REPORT_SIZE);
	r->version = attest_get_le32(raw + OFF(version));
	r->isolation = (enum hv_isolation_type)attest_get_le32(raw + OFF(isolation));
	r->policy = attest_get_le64(raw + OFF(policy));
	r->sig_algo = attest_get_le32(raw + OFF(sig_algo));
	memcpy(r->measurement, raw + OFF(measurement), sizeof(r->measurement));
	memcpy(r->report_data, raw + OFF(report_data), sizeof(r->report_data));
	memcpy(r->chip_id, raw + OFF(chip_id), sizeof(r->chip_id));
	memcpy(r->signing_key_digest, raw + OFF(signing_key_digest),
	       sizeof(r->signing_key_digest));
	memcpy(r->sig_r, raw + OFF(sig_r), sizeof(r->sig_r));
	memcpy(r->sig_s, raw + OFF(sig_s), sizeof(r->sig_s));
	res->parsed = true;

	if (r->sig_algo != CVMBUS_ATTEST_SIG_ECDSA_P384_SHA384)
		return refuse(res, CVMBUS_ATTEST_UNSUPPORTED_ALGORITHM,
			      "signature algorithm %" PRIu32 ", expected 1 (ecdsa p-384 sha-384)",
			      r->sig_algo);
	/* Reserved bytes must be zero so that a later version can give them a
	 * meaning without old verifiers silently ignoring it. */
	if (attest_get_le32(raw + OFF(reserved0)))
		return refuse(res, CVMBUS_ATTEST_MALFORMED,
			      "reserved bytes at 0x%03zx are not zero", OFF(reserved0));
	for (size_t i = 0; i < 8; i++)
		if (raw[OFF(reserved1) + i])
			return refuse(res, CVMBUS_ATTEST_MALFORMED,
				      "reserved bytes at 0x%03zx are not zero", OFF(reserved1));
	return 0;
}

int cvmbus_attest_report_parse(const void *bytes, size_t len, struct cvmbus_attest_result *res)
{
	uint8_t raw[CVMBUS_ATTEST_REPORT_SIZE];

	if (!res)
		return -EINVAL;
	result_init(res);
	return parse_into(bytes, len, raw, res);
}

/* ---- verification ---------------------------------------------------- */

/* 1 valid, 0 invalid, negative on a library failure. r and s are
 * re-encoded as the DER SEQUENCE OpenSSL verifies; values that are out of
 * range (0, >= the group order) simply fail to verify. */
static int check_signature(EVP_PKEY *key, const uint8_t raw[CVMBUS_ATTEST_REPORT_SIZE])
{
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int derlen, rc = -EIO;

	r = BN_bin2bn(raw + OFF(sig_r), CVMBUS_ATTEST_SIG_COMPONENT, NULL);
	s = BN_bin2bn(raw + OFF(sig_s), CVMBUS_ATTEST_SIG_COMPONENT, NULL);
	sig = ECDSA_SIG_new();
	if (!r || !s || !sig)
		goto out;
	if (ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by sig now */
	derlen = i2d_ECDSA_SIG(sig, &der);
	if (derlen <= 0)
		goto out;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, key) != 1)
		goto out;
	rc = EVP_DigestVerify(ctx, der, (size_t)derlen, raw,
			      CVMBUS_ATTEST_REPORT_SIGNED_SIZE) == 1 ? 1 : 0;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	ECDSA_SIG_free(sig);
	BN_free(r);
	BN_free(s);
	ERR_clear_error();
	return rc;
}

int cvmbus_attest_verify_ex(const void *bytes, size_t len,
			    const struct cvmbus_attest_pubkey *key,
			    const struct cvmbus_attest_expect *expect,
			    struct cvmbus_attest_result *res)
{
	uint8_t raw[CVMBUS_ATTEST_REPORT_SIZE];
	const struct cvmbus_attest_report *r = &res->report;
	char a[33], b[33];
	size_t i;
	int rc;

	if (!res)
		return -EINVAL;
	result_init(res);
	if (!key || !expect || !expect->measurements || expect->measurement_count == 0) {
		refuse(res, CVMBUS_ATTEST_INTERNAL, "no key or no expected measurement");
		return -EINVAL;
	}
	if (expect->policy_value & ~expect->policy_mask) {
		refuse(res, CVMBUS_ATTEST_INTERNAL, "expected policy has bits outside its mask");
		return -EINVAL;
	}
	rc = parse_into(bytes, len, raw, res);
	if (rc)
		return rc;

	/* Name the key before checking the signature: with ECDSA a report
	 * from another platform and a tampered one fail alike, and only the
	 * signed key digest tells "wrong key" from "forged". */
	if (CRYPTO_memcmp(r->signing_key_digest, key->digest, CVMBUS_ATTEST_DIGEST_SIZE)) {
		hex_prefix(r->signing_key_digest, 8, a);
		hex_prefix(key->digest, 8, b);
		return refuse(res, CVMBUS_ATTEST_WRONG_KEY,
			      "report names signing key %s..., the given key is %s...", a, b);
	}
	rc = check_signature(key->pkey, raw);
	if (rc < 0)
		return refuse(res, CVMBUS_ATTEST_INTERNAL, "signature check failed to run");
	if (rc == 0)
		return refuse(res, CVMBUS_ATTEST_BAD_SIGNATURE,
			      "signature does not verify over bytes 0x000-0x0ff");

	for (i = 0; i < expect->measurement_count; i++)
		if (!CRYPTO_memcmp(r->measurement, expect->measurements[i],
				   CVMBUS_ATTEST_DIGEST_SIZE))
			break;
	if (i == expect->measurement_count) {
		hex_prefix(r->measurement, 16, a);
		return refuse(res, CVMBUS_ATTEST_MEASUREMENT_UNKNOWN,
			      "measurement %s... is not one of the %zu expected", a,
			      expect->measurement_count);
	}
	res->measurement_index = i;
	if (expect->nonce &&
	    CRYPTO_memcmp(r->report_data, expect->nonce, CVMBUS_ATTEST_REPORT_DATA_SIZE))
		return refuse(res, CVMBUS_ATTEST_NONCE_MISMATCH,
			      "the report answers another challenge (stale or replayed)");
	if (expect->check_isolation && (uint32_t)r->isolation != (uint32_t)expect->isolation)
		return refuse(res, CVMBUS_ATTEST_ISOLATION_MISMATCH,
			      "isolation %s (%" PRIu32 "), expected %s",
			      iso_name((uint32_t)r->isolation), (uint32_t)r->isolation,
			      iso_name((uint32_t)expect->isolation));
	if ((r->policy & expect->policy_mask) != expect->policy_value)
		return refuse(res, CVMBUS_ATTEST_POLICY_MISMATCH,
			      "policy 0x%" PRIx64 " under mask 0x%" PRIx64 " is not 0x%" PRIx64,
			      r->policy, expect->policy_mask, expect->policy_value);
	snprintf(res->detail, sizeof(res->detail), "measurement matches expected #%zu", i);
	return 0;
}

int cvmbus_attest_verify(const void *bytes, size_t len, const struct cvmbus_attest_pubkey *key,
			 const uint8_t (*measurements)[CVMBUS_ATTEST_DIGEST_SIZE],
			 size_t measurement_count, const uint8_t *nonce,
			 struct cvmbus_attest_result *res)
{
	const struct cvmbus_attest_expect expect = {
		.measurements = measurements,
		.measurement_count = measurement_count,
		.nonce = nonce,
	};

	return cvmbus_attest_verify_ex(bytes, len, key, &expect, res);
}
