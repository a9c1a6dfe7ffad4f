/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of report verification (src/hw/attest_verify.c): a good report
 * verifies; every byte of it flipped, a wrong key, a stale nonce, another
 * paravisor configuration, an isolation or policy mismatch are each refused
 * with their own precise reason; truncated, oversized and malformed reports
 * and bad PEM keys get clear errors; and a report assembled and signed here
 * by hand with plain OpenSSL, from the documented layout, is accepted, so
 * the verifier checks the format and not merely our own writer.
 */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest_test.h"

#define RSZ CVMBUS_ATTEST_REPORT_SIZE

struct fixture {
	struct cvmbus_attest_platform *p;
	struct cvmbus_attest_pubkey *key;
	uint8_t nonce[64];
	uint8_t measurement[48];
	uint8_t report[RSZ];
};

static struct cvmbus_attest_platform *launched(const struct cvmbus_paravisor_image *img,
					       enum hv_isolation_type iso, uint64_t policy)
{
	struct cvmbus_attest_platform_config cfg = { .isolation = iso, .policy = policy };
	struct cvmbus_attest_platform *p = NULL;

	assert_int_equal(cvmbus_attest_platform_create(&cfg, &p, NULL, 0), 0);
	assert_int_equal(cvmbus_attest_platform_launch(p, img, NULL, 0), 0);
	return p;
}

/* The verifier's key goes through PEM, as a relying party would get it. */
static struct cvmbus_attest_pubkey *key_of(struct cvmbus_attest_platform *p)
{
	struct cvmbus_attest_pubkey *k = NULL;
	char pem[1024], err[128] = "";
	size_t len = 0;

	assert_int_equal(cvmbus_attest_platform_public_key_pem(p, pem, sizeof(pem), &len), 0);
	assert_int_equal(cvmbus_attest_pubkey_from_pem(pem, len, &k, err, sizeof(err)), 0);
	return k;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cvmbus_paravisor_image img;

	if (!f)
		return -1;
	att_reference_image(&img);
	f->p = launched(&img, HV_ISOLATION_TYPE_SNP, 0);
	f->key = key_of(f->p);
	for (int i = 0; i < 64; i++)
		f->nonce[i] = (uint8_t)(i * 3 + 1);
	assert_int_equal(cvmbus_paravisor_image_measure(&img, f->measurement), 0);
	assert_int_equal(cvmbus_attest_get_report(f->p, f->nonce, f->report), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cvmbus_attest_pubkey_free(f->key);
	cvmbus_attest_platform_destroy(f->p);
	free(f);
	return 0;
}

static void expect_reason(const void *bytes, size_t len, const struct cvmbus_attest_pubkey *key,
			  const uint8_t (*m)[48], size_t n, const uint8_t *nonce,
			  enum cvmbus_attest_reason want)
{
	struct cvmbus_attest_result res;
	int rc = cvmbus_attest_verify(bytes, len, key, m, n, nonce, &res);

	if (res.reason != want)
		fail_msg("reason '%s' (%s), wanted '%s'", cvmbus_attest_reason_str(res.reason),
			 res.detail, cvmbus_attest_reason_str(want));
	assert_int_equal(rc, want == CVMBUS_ATTEST_OK ? 0 : -EACCES);
	assert_true(strlen(res.detail) > 0);
}

static void test_good_report(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_attest_result res;
	uint8_t list[3][48];

	assert_int_equal(cvmbus_attest_verify(f->report, RSZ, f->key,
					      (const uint8_t(*)[48])f->measurement, 1, f->nonce,
					      &res), 0);
	assert_int_equal(res.reason, CVMBUS_ATTEST_OK);
	assert_string_equal(cvmbus_attest_reason_str(res.reason), "ok");
	assert_true(res.parsed);
	assert_memory_equal(res.report.measurement, f->measurement, 48);
	assert_memory_equal(res.report.report_data, f->nonce, 64);
	assert_int_equal(res.report.isolation, HV_ISOLATION_TYPE_SNP);

	/* Matched against a list: the index says which one. */
	memset(list, 0x5A, sizeof(list));
	memcpy(list[2], f->measurement, 48);
	assert_int_equal(cvmbus_attest_verify(f->report, RSZ, f->key,
					      (const uint8_t(*)[48])list, 3, f->nonce, &res), 0);
	assert_int_equal(res.measurement_index, 2);

	/* No nonce given: report data is the caller's business. */
	expect_reason(f->report, RSZ, f->key, (const uint8_t(*)[48])f->measurement, 1, NULL,
		      CVMBUS_ATTEST_OK);

	/* With isolation and "not debuggable" checks. */
	struct cvmbus_attest_expect ex = {
		.measurements = (const uint8_t(*)[48])f->measurement,
		.measurement_count = 1,
		.nonce = f->nonce,
		.check_isolation = true,
		.isolation = HV_ISOLATION_TYPE_SNP,
		.policy_mask = CVMBUS_ATTEST_POLICY_DEBUG,
		.policy_value = 0,
	};
	assert_int_equal(cvmbus_attest_verify_ex(f->report, RSZ, f->key, &ex, &res), 0);
}

/* The reason a single flipped bit at byte `pos` must produce. */
static enum cvmbus_attest_reason flip_reason(size_t pos)
{
	if (pos < 0x04)
		return CVMBUS_ATTEST_UNSUPPORTED_VERSION;
	if (pos >= 0x10 && pos < 0x14)
		return CVMBUS_ATTEST_UNSUPPORTED_ALGORITHM;
	if ((pos >= 0x14 && pos < 0x18) || (pos >= 0xF8 && pos < 0x100))
		return CVMBUS_ATTEST_MALFORMED;
	if (pos >= 0xC8 && pos < 0xF8)
		return CVMBUS_ATTEST_WRONG_KEY;
	return CVMBUS_ATTEST_BAD_SIGNATURE;
}

/* Every byte of the report, signed part and signature, with one bit
 * flipped (the bit rotates with the position), plus all eight bits of a
 * few bytes: always refused, always for the field's own reason. */
static void test_every_byte_flipped(void **state)
{
	struct fixture *f = *state;
	static const size_t all_bits[] = { 0x00, 0x08, 0x18, 0x47, 0x48, 0x88, 0xC8, 0x100, 0x15F };
	uint8_t r[RSZ];

	for (size_t pos = 0; pos < RSZ; pos++) {
		memcpy(r, f->report, RSZ);
		r[pos] ^= (uint8_t)(1u << (pos % 8));
		expect_reason(r, RSZ, f->key, (const uint8_t(*)[48])f->measurement, 1, f->nonce,
			      flip_reason(pos));
	}
	for (size_t i = 0; i < sizeof(all_bits) / sizeof(all_bits[0]); i++) {
		for (unsigned int bit = 0; bit < 8; bit++) {
			memcpy(r, f->report, RSZ);
			r[all_bits[i]] ^= (uint8_t)(1u << bit);
			expect_reason(r, RSZ, f->key, (const uint8_t(*)[48])f->measurement, 1,
				      f->nonce, flip_reason(all_bits[i]));
		}
	}
}

static void test_wrong_key(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_paravisor_image img;
	struct cvmbus_attest_platform *other;
	struct cvmbus_attest_pubkey *okey;
	uint8_t r[RSZ];

	att_reference_image(&img);
	other = launched(&img, HV_ISOLATION_TYPE_SNP, 0);
	okey = key_of(other);
	/* Our report, the other platform's key. */
	expect_reason(f->report, RSZ, okey, (const uint8_t(*)[48])f->measurement, 1, f->nonce,
		      CVMBUS_ATTEST_WRONG_KEY);
	/* The other platform's genuine report (same image, same nonce), our
	 * key: refused as well. */
	assert_int_equal(cvmbus_attest_get_report(other, f->nonce, r), 0);
	expect_reason(r, RSZ, f->key, (const uint8_t(*)[48])f->measurement, 1, f->nonce,
		      CVMBUS_ATTEST_WRONG_KEY);
	/* Relabelling it with our key's digest does not help: the signature
	 * fails. */
	memcpy(r + 0xC8, f->report + 0xC8, 48);
	expect_reason(r, RSZ, f->key, (const uint8_t(*)[48])f->measurement, 1, f->nonce,
		      CVMBUS_ATTEST_BAD_SIGNATURE);
	cvmbus_attest_pubkey_free(okey);
	cvmbus_attest_platform_destroy(other);
}

static void test_stale_nonce(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_attest_result res;
	uint8_t fresh[64];

	memcpy(fresh, f->nonce, 64);
	fresh[63] ^= 0x80;
	/* A genuine report, but for an earlier challenge. */
	assert_int_equal(cvmbus_attest_verify(f->report, RSZ, f->key,
					      (const uint8_t(*)[48])f->measurement, 1, fresh,
					      &res), -EACCES);
	assert_int_equal(res.reason, CVMBUS_ATTEST_NONCE_MISMATCH);
	assert_non_null(strstr(res.detail, "stale"));
}

/* The same platform key but another paravisor: one VSP added, one policy
 * bit flipped, the policy word changed. */
static void test_other_configuration(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_paravisor_image img[3];
	struct cvmbus_guid extra = ATT_GUID_B;

	for (int i = 0; i < 3; i++)
		att_reference_image(&img[i]);
	img[0].vsp_count = 3;
	strcpy(img[0].vsps[2].name, "vsock");
	extra.data2 = 0x1234;
	img[0].vsps[2].interface_id = extra;
	img[1].policy.allows_fallback = true;
	img[2].policy.word ^= 0x10;

	for (int i = 0; i < 3; i++) {
		struct cvmbus_attest_platform *p = launched(&img[i], HV_ISOLATION_TYPE_SNP, 0);
		struct cvmbus_attest_pubkey *k = key_of(p);
		struct cvmbus_attest_result res;
		uint8_t r[RSZ];

		assert_int_equal(cvmbus_attest_get_report(p, f->nonce, r), 0);
		assert_int_equal(cvmbus_attest_verify(r, RSZ, k,
						      (const uint8_t(*)[48])f->measurement, 1,
						      f->nonce, &res), -EACCES);
		assert_int_equal(res.reason, CVMBUS_ATTEST_MEASUREMENT_UNKNOWN);
		assert_non_null(strstr(res.detail, "not one of the 1 expected"));
		cvmbus_attest_pubkey_free(k);
		cvmbus_attest_platform_destroy(p);
	}
}

static void test_isolation_and_policy(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_paravisor_image img;
	struct cvmbus_attest_platform *dbg;
	struct cvmbus_attest_pubkey *k;
	struct cvmbus_attest_result res;
	uint8_t r[RSZ];
	struct cvmbus_attest_expect ex = {
		.measurements = (const uint8_t(*)[48])f->measurement,
		.measurement_count = 1,
		.nonce = f->nonce,
		.check_isolation = true,
		.isolation = HV_ISOLATION_TYPE_TDX,
	};

	assert_int_equal(cvmbus_attest_verify_ex(f->report, RSZ, f->key, &ex, &res), -EACCES);
	assert_int_equal(res.reason, CVMBUS_ATTEST_ISOLATION_MISMATCH);
	assert_string_equal(res.detail, "isolation snp (2), expected tdx");

	/* A debuggable launch is refused by a verifier that wants none. */
	att_reference_image(&img);
	dbg = launched(&img, HV_ISOLATION_TYPE_SNP, CVMBUS_ATTEST_POLICY_DEBUG | 0x100);
	k = key_of(dbg);
	assert_int_equal(cvmbus_attest_get_report(dbg, f->nonce, r), 0);
	ex.isolation = HV_ISOLATION_TYPE_SNP;
	ex.policy_mask = CVMBUS_ATTEST_POLICY_DEBUG;
	ex.policy_value = 0;
	assert_int_equal(cvmbus_attest_verify_ex(r, RSZ, k, &ex, &res), -EACCES);
	assert_int_equal(res.reason, CVMBUS_ATTEST_POLICY_MISMATCH);
	assert_string_equal(res.detail, "policy 0x101 under mask 0x1 is not 0x0");
	/* Bits outside the mask do not matter. */
	ex.policy_mask = 0x100;
	ex.policy_value = 0x100;
	assert_int_equal(cvmbus_attest_verify_ex(r, RSZ, k, &ex, &res), 0);
	/* An expectation that can never hold is a caller bug, not a refusal. */
	ex.policy_mask = 0x1;
	ex.policy_value = 0x2;
	assert_int_equal(cvmbus_attest_verify_ex(r, RSZ, k, &ex, &res), -EINVAL);
	cvmbus_attest_pubkey_free(k);
	cvmbus_attest_platform_destroy(dbg);

	/* No measurement to compare against is a caller bug too. */
	assert_int_equal(cvmbus_attest_verify(f->report, RSZ, f->key, NULL, 0, NULL, &res),
			 -EINVAL);
}

static void test_sizes(void **state)
{
	struct fixture *f = *state;
	const uint8_t(*m)[48] = (const uint8_t(*)[48])f->measurement;
	static uint8_t big[1000];
	struct cvmbus_attest_result res;
	uint8_t r[RSZ];

	expect_reason(NULL, 0, f->key, m, 1, NULL, CVMBUS_ATTEST_TRUNCATED);
	expect_reason(f->report, 3, f->key, m, 1, NULL, CVMBUS_ATTEST_TRUNCATED);
	expect_reason(f->report, 4, f->key, m, 1, NULL, CVMBUS_ATTEST_TRUNCATED);
	expect_reason(f->report, RSZ - 1, f->key, m, 1, NULL, CVMBUS_ATTEST_TRUNCATED);
	cvmbus_attest_verify(f->report, RSZ - 1, f->key, m, 1, NULL, &res);
	assert_string_equal(res.detail, "report is 351 bytes, version 1 needs 352");

	memcpy(big, f->report, RSZ);
	expect_reason(big, RSZ + 1, f->key, m, 1, NULL, CVMBUS_ATTEST_OVERSIZED);
	expect_reason(big, sizeof(big), f->key, m, 1, NULL, CVMBUS_ATTEST_OVERSIZED);

	/* A version-2 report is "unsupported" whatever its size. */
	memcpy(r, f->report, RSZ);
	r[0] = 2;
	expect_reason(r, RSZ, f->key, m, 1, NULL, CVMBUS_ATTEST_UNSUPPORTED_VERSION);
	expect_reason(r, 10, f->key, m, 1, NULL, CVMBUS_ATTEST_UNSUPPORTED_VERSION);
	cvmbus_attest_verify(r, 10, f->key, m, 1, NULL, &res);
	assert_false(res.parsed);

	/* Parsing alone: layout checks only, fields decoded. */
	assert_int_equal(cvmbus_attest_report_parse(f->report, RSZ, &res), 0);
	assert_true(res.parsed);
	assert_int_equal(res.report.version, 1);
	assert_int_equal(res.report.sig_algo, 1);
	assert_memory_equal(res.report.sig_r, f->report + 0x100, 48);
	assert_memory_equal(res.report.sig_s, f->report + 0x130, 48);
	assert_int_equal(cvmbus_attest_report_parse(f->report, 100, &res), -EACCES);
	assert_int_equal(res.reason, CVMBUS_ATTEST_TRUNCATED);
}

/* ---- a report written by hand ---------------------------------------- */

static EVP_PKEY *test_private_key(void)
{
	char path[512];
	size_t len;
	char *pem;
	BIO *bio;
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/platform-test-key.pem", ATTEST_DATA_DIR);
	pem = att_read_file(path, &len);
	bio = BIO_new_mem_buf(pem, (int)len);
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	free(pem);
	assert_non_null(k);
	return k;
}

/* Signs bytes 0x000-0x0FF of r with plain OpenSSL and stores r, s
 * big-endian at 0x100 and 0x130. */
static void hand_sign(EVP_PKEY *k, uint8_t *r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[160];
	size_t derlen = sizeof(der);
	const unsigned char *q = der;
	ECDSA_SIG *sig;
	const BIGNUM *br, *bs;

	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha384(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, der, &derlen, r, 0x100), 1);
	sig = d2i_ECDSA_SIG(NULL, &q, (long)derlen);
	assert_non_null(sig);
	ECDSA_SIG_get0(sig, &br, &bs);
	assert_int_equal(BN_bn2binpad(br, r + 0x100, 48), 48);
	assert_int_equal(BN_bn2binpad(bs, r + 0x130, 48), 48);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
}

static struct cvmbus_attest_pubkey *test_public_key(void)
{
	char path[512], err[128] = "";
	size_t len;
	char *pem;
	struct cvmbus_attest_pubkey *k = NULL;

	snprintf(path, sizeof(path), "%s/platform-test-key.pub.pem", ATTEST_DATA_DIR);
	pem = att_read_file(path, &len);
	assert_int_equal(cvmbus_attest_pubkey_from_pem(pem, len, &k, err, sizeof(err)), 0);
	free(pem);
	return k;
}

static void test_hand_built_report(void **state)
{
	EVP_PKEY *priv = test_private_key();
	struct cvmbus_attest_pubkey *pub = test_public_key();
	uint8_t m[48], nonce[64], r[RSZ], good[RSZ];
	unsigned char *der = NULL;
	int derlen;
	struct cvmbus_attest_result res;

	(void)state;
	memset(m, 0x4D, sizeof(m));
	memset(nonce, 0x4E, sizeof(nonce));
	memset(r, 0, sizeof(r));
	r[0x000] = 0x01;             /* version 1 */
	r[0x004] = 0x03;             /* isolation TDX */
	r[0x008] = 0x00;             /* policy 0 */
	r[0x010] = 0x01;             /* ECDSA P-384 SHA-384 */
	memcpy(r + 0x018, m, 48);    /* measurement */
	memcpy(r + 0x048, nonce, 64); /* report data */
	memset(r + 0x088, 0xC1, 64); /* chip id */
	derlen = i2d_PUBKEY(priv, &der);
	assert_true(derlen > 0);
	att_sha384(der, (size_t)derlen, r + 0x0C8); /* signing key digest */
	OPENSSL_free(der);
	hand_sign(priv, r);
	memcpy(good, r, RSZ);

	expect_reason(r, RSZ, pub, (const uint8_t(*)[48])m, 1, nonce, CVMBUS_ATTEST_OK);
	assert_int_equal(cvmbus_attest_verify(r, RSZ, pub, (const uint8_t(*)[48])m, 1, nonce,
					      &res), 0);
	assert_int_equal(res.report.isolation, HV_ISOLATION_TYPE_TDX);
	assert_memory_equal(res.report.chip_id, r + 0x88, 64);

	/* Properly signed, but with a reserved byte set: malformed. */
	r[0xFF] = 1;
	hand_sign(priv, r);
	expect_reason(r, RSZ, pub, (const uint8_t(*)[48])m, 1, nonce, CVMBUS_ATTEST_MALFORMED);
	/* Properly signed, another algorithm number. */
	memcpy(r, good, RSZ);
	r[0x010] = 2;
	hand_sign(priv, r);
	expect_reason(r, RSZ, pub, (const uint8_t(*)[48])m, 1, nonce,
		      CVMBUS_ATTEST_UNSUPPORTED_ALGORITHM);
	/* Out-of-range signature values are simply bad signatures. */
	memcpy(r, good, RSZ);
	memset(r + 0x100, 0, 48); /* r = 0 */
	expect_reason(r, RSZ, pub, (const uint8_t(*)[48])m, 1, nonce, CVMBUS_ATTEST_BAD_SIGNATURE);
	memset(r + 0x100, 0xFF, 96); /* r, s above the group order */
	expect_reason(r, RSZ, pub, (const uint8_t(*)[48])m, 1, nonce, CVMBUS_ATTEST_BAD_SIGNATURE);
	/* s replaced by n - s: for ECDSA (r, n - s) is also valid; we accept
	 * it like OpenSSL does (reports are bound by content, not by the
	 * signature bytes), so check it verifies rather than crash. */
	memcpy(r, good, RSZ);
	{
		BIGNUM *s = BN_bin2bn(r + 0x130, 48, NULL);
		BIGNUM *n = BN_new();
		EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);

		assert_non_null(g);
		assert_int_equal(EC_GROUP_get_order(g, n, NULL), 1);
		assert_int_equal(BN_sub(s, n, s), 1);
		assert_int_equal(BN_bn2binpad(s, r + 0x130, 48), 48);
		BN_free(s);
		BN_free(n);
		EC_GROUP_free(g);
	}
	expect_reason(r, RSZ, pub, (const uint8_t(*)[48])m, 1, nonce, CVMBUS_ATTEST_OK);
	cvmbus_attest_pubkey_free(pub);
	EVP_PKEY_free(priv);
}

/* ---- PEM public keys --------------------------------------------------- */

static char *pem_public(EVP_PKEY *k, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *copy;
	long n;

	assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
	n = BIO_get_mem_data(bio, &data);
	copy = malloc((size_t)n + 1);
	assert_non_null(copy);
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	*len = (size_t)n;
	BIO_free(bio);
	return copy;
}

static void expect_bad_pubkey(const void *pem, size_t len, const char *want)
{
	struct cvmbus_attest_pubkey *k = (void *)1;
	char err[128] = "";

	assert_int_equal(cvmbus_attest_pubkey_from_pem(pem, len, &k, err, sizeof(err)), -EINVAL);
	assert_null(k);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
}

/* The DER of a P-384 SubjectPublicKeyInfo ends with the point's Y
 * coordinate; changing its last byte moves the point off the curve. */
static char *off_curve_pem(EVP_PKEY *k, size_t *len)
{
	unsigned char *der = NULL;
	int derlen = i2d_PUBKEY(k, &der);
	char *pem = malloc(1024);
	int b64;

	assert_true(derlen > 0);
	assert_non_null(pem);
	der[derlen - 1] ^= 0x01;
	strcpy(pem, "-----BEGIN PUBLIC KEY-----\n");
	b64 = EVP_EncodeBlock((unsigned char *)pem + strlen(pem), der, derlen);
	assert_true(b64 > 0);
	strcat(pem, "\n-----END PUBLIC KEY-----\n");
	OPENSSL_free(der);
	*len = strlen(pem);
	return pem;
}

static void test_bad_pem_keys(void **state)
{
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p384 = test_private_key();
	static char big[65 * 1024 + 1];
	char path[512];
	size_t len;
	char *pem;

	(void)state;
	expect_bad_pubkey("", 0, "empty");
	expect_bad_pubkey("garbage", 7, "not a pem public key");
	expect_bad_pubkey("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n", 52,
			  "not a pem public key");
	pem = pem_public(p256, &len);
	expect_bad_pubkey(pem, len, "not an ec p-384 key");
	free(pem);
	pem = pem_public(rsa, &len);
	expect_bad_pubkey(pem, len, "not an ec p-384 key");
	free(pem);
	pem = pem_public(p384, &len);
	expect_bad_pubkey(pem, len / 2, "not a pem public key"); /* truncated */
	free(pem);
	pem = off_curve_pem(p384, &len);
	{
		struct cvmbus_attest_pubkey *k = NULL;
		char err[128] = "";

		assert_int_equal(cvmbus_attest_pubkey_from_pem(pem, len, &k, err, sizeof(err)),
				 -EINVAL);
		assert_null(k);
		assert_true(strlen(err) > 0);
	}
	free(pem);
	/* The private key file, handed over by mistake. */
	snprintf(path, sizeof(path), "%s/platform-test-key.pem", ATTEST_DATA_DIR);
	pem = att_read_file(path, &len);
	expect_bad_pubkey(pem, len, "a private key, not a pem public key");
	free(pem);
	memset(big, '-', sizeof(big));
	expect_bad_pubkey(big, sizeof(big), "larger than 64 kib");
	EVP_PKEY_free(p256);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
}

static void test_reason_strings(void **state)
{
	(void)state;
	for (int i = 0; i < CVMBUS_ATTEST_REASON_COUNT; i++) {
		const char *s = cvmbus_attest_reason_str((enum cvmbus_attest_reason)i);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(s, cvmbus_attest_reason_str(
							      (enum cvmbus_attest_reason)j));
	}
	assert_string_equal(cvmbus_attest_reason_str(CVMBUS_ATTEST_REASON_COUNT),
			    "unknown reason");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_byte_flipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_configuration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolation_and_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test(test_hand_built_report),
		cmocka_unit_test(test_bad_pem_keys),
		cmocka_unit_test(test_reason_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
