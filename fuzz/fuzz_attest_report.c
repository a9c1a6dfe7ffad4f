/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the attestation report parser and verifier
 * (src/hw/attest_verify.c), the code that reads bytes an untrusted relay
 * hands to a relying party. Each input is verified as a report against a
 * fixed P-384 key (the public half of tests/attest/data/platform-test-key.pem,
 * so seeds signed with that key get past the signature and exercise the
 * content checks), parsed on its own, and read as a PEM public key. The
 * target fails an FZ_CHECK if the verifier contradicts itself: success for an input
 * that is not exactly one report, a reason out of range, an unterminated
 * detail string.
 *
 * The fixed key and expected measurement are built once in
 * LLVMFuzzerInitialize and kept in statics: libFuzzer's entry points take
 * no context, and rebuilding the key per input would only slow the run.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/attest.h>

#include "fuzz_util.h"

/* libFuzzer calls it once before the first input; the replay driver does
 * not, so the entry point also calls it when nothing is set up yet. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char fuzz_pubkey_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEywVQOgcrAL0OhTs79Y3oL+/qOo/WzfQO\n"
	"zqFhLvJwscSTlkI6b6s/Qss9KuRvodMU3Eag2rJaYcTobzpmaiiEp3pZfINVBTgx\n"
	"BhyT+7ec7m3eY2+MsPBMDw0ldklXh1sH\n"
	"-----END PUBLIC KEY-----\n";

static struct cvmbus_attest_pubkey *fuzz_key;
static uint8_t fuzz_expected[2][CVMBUS_ATTEST_DIGEST_SIZE];

/* The paravisor of the seed reports: the configuration that
 * tests/attest/test_attest_cli.c writes as pv.json. */
static void fuzz_image(struct cvmbus_paravisor_image *img)
{
	const struct cvmbus_guid a = { 0x11223344u, 0x5566u, 0x7788u,
				       { 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00 } };
	const struct cvmbus_guid b = { 0xa1b2c3d4u, 0xe5f6u, 0x0718u,
				       { 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90 } };

	memset(img, 0, sizeof(*img));
	strcpy(img->name, "pv");
	strcpy(img->version, "1.0");
	for (unsigned int i = 0; i < CVMBUS_ATTEST_BUILD_DIGEST_SIZE; i++)
		img->build_digest[i] = (uint8_t)i;
	img->policy.offers_confidential_vmbus = true;
	img->policy.min_vmbus_version = 0x00050000u;
	img->policy.word = 0x0102030405060708ull;
	img->vsp_count = 2;
	strcpy(img->vsps[0].name, "net");
	img->vsps[0].interface_id = b;
	img->vsps[0].offer_flags = 0x0002;
	strcpy(img->vsps[1].name, "scsi");
	img->vsps[1].interface_id = a;
	img->vsps[1].offer_flags = 0x0006;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cvmbus_paravisor_image img;

	(void)argc;
	(void)argv;
	FZ_CHECK(cvmbus_attest_pubkey_from_pem(fuzz_pubkey_pem, strlen(fuzz_pubkey_pem),
					       &fuzz_key, NULL, 0) == 0);
	fuzz_image(&img);
	memset(fuzz_expected[0], 0x5A, CVMBUS_ATTEST_DIGEST_SIZE);
	FZ_CHECK(cvmbus_paravisor_image_measure(&img, fuzz_expected[1]) == 0);
	return 0;
}

static void check_result(int rc, size_t size, const struct cvmbus_attest_result *res)
{
	FZ_CHECK((unsigned int)res->reason < CVMBUS_ATTEST_REASON_COUNT);
	FZ_CHECK(memchr(res->detail, '\0', sizeof(res->detail)) != NULL);
	FZ_CHECK(rc != 0 || (res->reason == CVMBUS_ATTEST_OK &&
			     size == CVMBUS_ATTEST_REPORT_SIZE && res->parsed));
	FZ_CHECK(rc == 0 || res->reason != CVMBUS_ATTEST_OK);
	/* Only a layout that parsed can reach the key and content checks. */
	FZ_CHECK(res->reason < CVMBUS_ATTEST_WRONG_KEY || res->reason == CVMBUS_ATTEST_INTERNAL ||
		 res->parsed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmbus_attest_result res;
	struct cvmbus_attest_pubkey *k = NULL;
	uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE] = { 0xff }; /* seeds use --nonce ff */
	struct cvmbus_attest_expect ex = {
		.measurements = (const uint8_t(*)[CVMBUS_ATTEST_DIGEST_SIZE])fuzz_expected,
		.measurement_count = 2,
		.nonce = nonce,
		.check_isolation = true,
		.isolation = HV_ISOLATION_TYPE_SNP,
		.policy_mask = CVMBUS_ATTEST_POLICY_DEBUG,
		.policy_value = 0,
	};
	int rc;

	if (!fuzz_key)
		LLVMFuzzerInitialize(NULL, NULL);

	rc = cvmbus_attest_verify_ex(data, size, fuzz_key, &ex, &res);
	check_result(rc, size, &res);
	rc = cvmbus_attest_verify(data, size, fuzz_key,
				  (const uint8_t(*)[CVMBUS_ATTEST_DIGEST_SIZE])fuzz_expected, 2,
				  NULL, &res);
	check_result(rc, size, &res);

	rc = cvmbus_attest_report_parse(data, size, &res);
	FZ_CHECK((unsigned int)res.reason < CVMBUS_ATTEST_REASON_COUNT);
	FZ_CHECK(rc != 0 || (size == CVMBUS_ATTEST_REPORT_SIZE && res.parsed));

	/* The same bytes as a verifier's key file. */
	if (cvmbus_attest_pubkey_from_pem(data, size, &k, NULL, 0) == 0)
		cvmbus_attest_pubkey_free(k);
	return 0;
}
