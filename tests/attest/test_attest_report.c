/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the simulated security processor (src/hw/attest_report.c):
 * the measurement register is written by one launch and never again (also
 * when launches race), a failed launch measures nothing, a report carries
 * every field at its documented offset and its signature verifies with
 * OpenSSL directly (not through our verifier), the platform key loads from
 * PEM and bad keys are refused with a reason, and report requests from
 * several threads at once all succeed.
 */
#include <pthread.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest_test.h"

static struct cvmbus_attest_platform *mk_platform(enum hv_isolation_type iso, uint64_t policy)
{
	struct cvmbus_attest_platform_config cfg = { .isolation = iso, .policy = policy };
	struct cvmbus_attest_platform *p = NULL;
	char err[128] = "";

	assert_int_equal(cvmbus_attest_platform_create(&cfg, &p, err, sizeof(err)), 0);
	assert_non_null(p);
	return p;
}

/* The platform's public key through its PEM export, as OpenSSL reads it. */
static EVP_PKEY *platform_evp_pubkey(struct cvmbus_attest_platform *p)
{
	char pem[1024];
	size_t len = 0;
	BIO *bio;
	EVP_PKEY *k;

	assert_int_equal(cvmbus_attest_platform_public_key_pem(p, pem, sizeof(pem), &len), 0);
	assert_int_equal(strlen(pem), len);
	assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
	bio = BIO_new_mem_buf(pem, (int)len);
	assert_non_null(bio);
	k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(k);
	return k;
}

/* ECDSA P-384/SHA-384 over bytes 0x000-0x0FF with r at 0x100 and s at
 * 0x130, big-endian: checked with plain OpenSSL calls. */
static bool openssl_verifies(EVP_PKEY *pub, const uint8_t *rep)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rep + 0x100, 48, NULL);
	BIGNUM *s = BN_bin2bn(rep + 0x130, 48, NULL);
	unsigned char *der = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int derlen, ok;

	assert_non_null(sig);
	assert_non_null(ctx);
	assert_int_equal(ECDSA_SIG_set0(sig, r, s), 1);
	derlen = i2d_ECDSA_SIG(sig, &der);
	assert_true(derlen > 0);
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, pub), 1);
	ok = EVP_DigestVerify(ctx, der, (size_t)derlen, rep, 0x100);
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	ECDSA_SIG_free(sig);
	ERR_clear_error();
	return ok == 1;
}

static void test_launch_once(void **state)
{
	struct cvmbus_attest_platform *p = mk_platform(HV_ISOLATION_TYPE_SNP, 0);
	struct cvmbus_paravisor_image img, other;
	uint8_t m[48], offline[48], m2[48], nonce[64] = { 1 }, rep[CVMBUS_ATTEST_REPORT_SIZE];
	char err[128] = "";

	(void)state;
	assert_int_equal(cvmbus_attest_platform_measurement(p, m), -ENODATA);
	assert_int_equal(cvmbus_attest_get_report(p, nonce, rep), -ENODATA);

	att_reference_image(&img);
	assert_int_equal(cvmbus_attest_platform_launch(p, &img, err, sizeof(err)), 0);
	assert_int_equal(cvmbus_attest_platform_measurement(p, m), 0);
	/* The offline computation (what `attest measure` prints) agrees. */
	assert_int_equal(cvmbus_paravisor_image_measure(&img, offline), 0);
	assert_memory_equal(m, offline, 48);

	/* A second launch, with another image, fails and changes nothing. */
	att_reference_image(&other);
	other.policy.allows_fallback = true;
	assert_int_equal(cvmbus_attest_platform_launch(p, &other, err, sizeof(err)), -EALREADY);
	assert_string_equal(err, "platform already launched");
	assert_int_equal(cvmbus_attest_platform_launch(p, &img, NULL, 0), -EALREADY);
	assert_int_equal(cvmbus_attest_platform_measurement(p, m2), 0);
	assert_memory_equal(m2, offline, 48);
	assert_int_equal(cvmbus_attest_get_report(p, nonce, rep), 0);
	assert_memory_equal(rep + 0x18, offline, 48);
	cvmbus_attest_platform_destroy(p);
}

static void test_failed_launch_measures_nothing(void **state)
{
	struct cvmbus_attest_platform *p = mk_platform(HV_ISOLATION_TYPE_TDX, 0);
	struct cvmbus_paravisor_image img;
	uint8_t m[48], offline[48];
	char err[128] = "";

	(void)state;
	att_reference_image(&img);
	img.vsp_count = 100;
	assert_int_equal(cvmbus_attest_platform_launch(p, &img, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too many vsps"));
	assert_int_equal(cvmbus_attest_platform_measurement(p, m), -ENODATA);
	assert_int_equal(cvmbus_attest_platform_launch(p, NULL, err, sizeof(err)), -EINVAL);

	att_reference_image(&img);
	assert_int_equal(cvmbus_attest_platform_launch(p, &img, err, sizeof(err)), 0);
	assert_int_equal(cvmbus_attest_platform_measurement(p, m), 0);
	assert_int_equal(cvmbus_paravisor_image_measure(&img, offline), 0);
	assert_memory_equal(m, offline, 48);
	cvmbus_attest_platform_destroy(p);
}

#define RACERS 6

struct racer {
	struct cvmbus_attest_platform *p;
	pthread_barrier_t *start;
	struct cvmbus_paravisor_image img;
	int rc;
};

static void *race_launch(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->start);
	r->rc = cvmbus_attest_platform_launch(r->p, &r->img, NULL, 0);
	return NULL;
}

/* Six threads launch six different images at once: one wins, and the
 * register holds exactly the winner's measurement. */
static void test_racing_launches(void **state)
{
	struct cvmbus_attest_platform *p = mk_platform(HV_ISOLATION_TYPE_SNP, 0);
	struct racer r[RACERS];
	pthread_t t[RACERS];
	pthread_barrier_t start;
	uint8_t m[48], want[48];
	int winners = 0, winner = -1;

	(void)state;
	assert_int_equal(pthread_barrier_init(&start, NULL, RACERS), 0);
	for (int i = 0; i < RACERS; i++) {
		r[i].p = p;
		r[i].start = &start;
		att_reference_image(&r[i].img);
		r[i].img.policy.word = (uint64_t)i;
		assert_int_equal(pthread_create(&t[i], NULL, race_launch, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < RACERS; i++) {
		if (r[i].rc == 0) {
			winners++;
			winner = i;
		} else {
			assert_int_equal(r[i].rc, -EALREADY);
		}
	}
	assert_int_equal(winners, 1);
	assert_int_equal(cvmbus_attest_platform_measurement(p, m), 0);
	assert_int_equal(cvmbus_paravisor_image_measure(&r[winner].img, want), 0);
	assert_memory_equal(m, want, 48);
	cvmbus_attest_platform_destroy(p);
}

static void test_report_layout(void **state)
{
	struct cvmbus_attest_platform *p =
		mk_platform(HV_ISOLATION_TYPE_SNP, 0x1122334455667788ull);
	struct cvmbus_paravisor_image img;
	uint8_t rep[CVMBUS_ATTEST_REPORT_SIZE], m[48], nonce[64], digest[64];
	unsigned char *der = NULL;
	unsigned int dlen = 0;
	EVP_PKEY *pub;
	int derlen;

	(void)state;
	for (int i = 0; i < 64; i++)
		nonce[i] = (uint8_t)(0xA0 + i);
	att_reference_image(&img);
	assert_int_equal(cvmbus_attest_platform_launch(p, &img, NULL, 0), 0);
	assert_int_equal(cvmbus_paravisor_image_measure(&img, m), 0);
	memset(rep, 0xEE, sizeof(rep));
	assert_int_equal(cvmbus_attest_get_report(p, nonce, rep), 0);

	static const uint8_t head[0x18] = {
		0x01, 0x00, 0x00, 0x00,                         /* version 1 */
		0x02, 0x00, 0x00, 0x00,                         /* isolation SNP */
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* policy */
		0x01, 0x00, 0x00, 0x00,                         /* ECDSA P-384 SHA-384 */
		0x00, 0x00, 0x00, 0x00,                         /* reserved0 */
	};
	assert_memory_equal(rep, head, sizeof(head));
	assert_memory_equal(rep + 0x18, m, 48);
	assert_memory_equal(rep + 0x48, nonce, 64);

	pub = platform_evp_pubkey(p);
	derlen = i2d_PUBKEY(pub, &der);
	assert_true(derlen > 0);
	/* Default chip id: SHA-512 of the key's DER. Key digest: SHA-384. */
	assert_int_equal(EVP_Digest(der, (size_t)derlen, digest, &dlen, EVP_sha512(), NULL), 1);
	assert_memory_equal(rep + 0x88, digest, 64);
	att_sha384(der, (size_t)derlen, digest);
	assert_memory_equal(rep + 0xC8, digest, 48);
	OPENSSL_free(der);
	for (int i = 0xF8; i < 0x100; i++)
		assert_int_equal(rep[i], 0);

	assert_true(openssl_verifies(pub, rep));
	/* The signature covers the measurement: one flipped bit there and
	 * plain OpenSSL refuses too. */
	rep[0x18] ^= 0x01;
	assert_false(openssl_verifies(pub, rep));
	EVP_PKEY_free(pub);
	cvmbus_attest_platform_destroy(p);
}

static char *data_file(const char *name, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", ATTEST_DATA_DIR, name);
	return att_read_file(path, len);
}

static void test_key_from_pem(void **state)
{
	struct cvmbus_attest_platform_config cfg = { .isolation = HV_ISOLATION_TYPE_TDX };
	struct cvmbus_attest_platform *p = NULL;
	size_t keylen, publen, len = 0;
	char *key = data_file("platform-test-key.pem", &keylen);
	char *pub = data_file("platform-test-key.pub.pem", &publen);
	char out[1024], err[128] = "";
	struct cvmbus_paravisor_image img;
	uint8_t rep[CVMBUS_ATTEST_REPORT_SIZE], nonce[64] = { 0 };

	(void)state;
	cfg.key_pem = key;
	cfg.key_pem_len = keylen;
	for (int i = 0; i < 64; i++)
		cfg.chip_id[i] = (uint8_t)(63 - i);
	assert_int_equal(cvmbus_attest_platform_create(&cfg, &p, err, sizeof(err)), 0);
	/* The exported public key is the one `openssl pkey -pubout` wrote. */
	assert_int_equal(cvmbus_attest_platform_public_key_pem(p, out, sizeof(out), &len), 0);
	assert_int_equal(len, publen);
	assert_memory_equal(out, pub, publen);
	/* -ENOBUFS names the length; the NUL needs one more byte. */
	len = 0;
	assert_int_equal(cvmbus_attest_platform_public_key_pem(p, out, publen, &len), -ENOBUFS);
	assert_int_equal(len, publen);
	assert_int_equal(cvmbus_attest_platform_public_key_pem(p, NULL, 0, &len), -ENOBUFS);

	att_reference_image(&img);
	assert_int_equal(cvmbus_attest_platform_launch(p, &img, NULL, 0), 0);
	assert_int_equal(cvmbus_attest_get_report(p, nonce, rep), 0);
	assert_int_equal(rep[4], 3); /* TDX */
	assert_memory_equal(rep + 0x88, cfg.chip_id, 64); /* chip id as given */
	cvmbus_attest_platform_destroy(p);
	free(key);
	free(pub);
}

static char *pem_private(EVP_PKEY *k, const EVP_CIPHER *cipher, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *copy;
	long n;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, k, cipher,
						  cipher ? (unsigned char *)"secret" : NULL,
						  cipher ? 6 : 0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0);
	copy = malloc((size_t)n);
	assert_non_null(copy);
	memcpy(copy, data, (size_t)n);
	*len = (size_t)n;
	BIO_free(bio);
	return copy;
}

static void expect_bad_key(const char *pem, size_t len, const char *want)
{
	struct cvmbus_attest_platform_config cfg = { .key_pem = pem, .key_pem_len = len };
	struct cvmbus_attest_platform *p = (void *)1;
	char err[128] = "";

	assert_int_equal(cvmbus_attest_platform_create(&cfg, &p, err, sizeof(err)), -EINVAL);
	assert_null(p);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
}

static void test_bad_platform_keys(void **state)
{
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	size_t len;
	char *pem;
	size_t publen;
	char *pub = data_file("platform-test-key.pub.pem", &publen);
	static char big[70 * 1024];

	(void)state;
	assert_non_null(p256);
	assert_non_null(rsa);
	assert_non_null(p384);
	pem = pem_private(p256, NULL, &len);
	expect_bad_key(pem, len, "not an ec p-384 key");
	free(pem);
	pem = pem_private(rsa, NULL, &len);
	expect_bad_key(pem, len, "not an ec p-384 key");
	free(pem);
	/* Encrypted: refused, never a terminal prompt. */
	pem = pem_private(p384, EVP_aes_256_cbc(), &len);
	expect_bad_key(pem, len, "encrypted");
	free(pem);
	/* A public key is not a platform key. */
	expect_bad_key(pub, publen, "not a pem private key");
	expect_bad_key("hello", 5, "not a pem private key");
	expect_bad_key("", 0, "empty");
	memset(big, 'A', sizeof(big));
	expect_bad_key(big, sizeof(big), "64 kib");
	/* Cut in half: the base64 no longer decodes to a key. */
	pem = pem_private(p384, NULL, &len);
	expect_bad_key(pem, len / 2, "not a pem private key");
	free(pem);
	free(pub);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
}

#define REPORTERS 4
#define REPORTS_EACH 10

struct reporter {
	struct cvmbus_attest_platform *p;
	EVP_PKEY *pub;
	int failures;
};

static void *request_reports(void *arg)
{
	struct reporter *r = arg;
	uint8_t rep[CVMBUS_ATTEST_REPORT_SIZE], nonce[64];

	for (int i = 0; i < REPORTS_EACH; i++) {
		memset(nonce, i, sizeof(nonce));
		if (cvmbus_attest_get_report(r->p, nonce, rep) ||
		    memcmp(rep + 0x48, nonce, 64) || !openssl_verifies(r->pub, rep))
			r->failures++;
	}
	return NULL;
}

/* Several vCPUs ask at once: every report is complete and verifies. */
static void test_concurrent_reports(void **state)
{
	struct cvmbus_attest_platform *p = mk_platform(HV_ISOLATION_TYPE_SNP, 0);
	struct cvmbus_paravisor_image img;
	struct reporter r[REPORTERS];
	pthread_t t[REPORTERS];
	EVP_PKEY *pub;

	(void)state;
	att_reference_image(&img);
	assert_int_equal(cvmbus_attest_platform_launch(p, &img, NULL, 0), 0);
	pub = platform_evp_pubkey(p);
	for (int i = 0; i < REPORTERS; i++) {
		r[i] = (struct reporter){ .p = p, .pub = pub };
		assert_int_equal(pthread_create(&t[i], NULL, request_reports, &r[i]), 0);
	}
	for (int i = 0; i < REPORTERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].failures, 0);
	}
	EVP_PKEY_free(pub);
	cvmbus_attest_platform_destroy(p);
}

/* Two platforms get two keys and two chip ids. */
static void test_platforms_differ(void **state)
{
	struct cvmbus_attest_platform *a = mk_platform(HV_ISOLATION_TYPE_SNP, 0);
	struct cvmbus_attest_platform *b = mk_platform(HV_ISOLATION_TYPE_SNP, 0);
	struct cvmbus_paravisor_image img;
	uint8_t ra[CVMBUS_ATTEST_REPORT_SIZE], rb[CVMBUS_ATTEST_REPORT_SIZE], nonce[64] = { 0 };

	(void)state;
	att_reference_image(&img);
	assert_int_equal(cvmbus_attest_platform_launch(a, &img, NULL, 0), 0);
	assert_int_equal(cvmbus_attest_platform_launch(b, &img, NULL, 0), 0);
	assert_int_equal(cvmbus_attest_get_report(a, nonce, ra), 0);
	assert_int_equal(cvmbus_attest_get_report(b, nonce, rb), 0);
	assert_memory_equal(ra + 0x18, rb + 0x18, 48);     /* same measurement */
	assert_memory_not_equal(ra + 0x88, rb + 0x88, 64); /* chip ids differ */
	assert_memory_not_equal(ra + 0xC8, rb + 0xC8, 48); /* keys differ */
	cvmbus_attest_platform_destroy(a);
	cvmbus_attest_platform_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_launch_once),
		cmocka_unit_test(test_failed_launch_measures_nothing),
		cmocka_unit_test(test_racing_launches),
		cmocka_unit_test(test_report_layout),
		cmocka_unit_test(test_key_from_pem),
		cmocka_unit_test(test_bad_platform_keys),
		cmocka_unit_test(test_concurrent_reports),
		cmocka_unit_test(test_platforms_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
