/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the attestation tests (tests/attest/): the reference
 * paravisor image whose canonical bytes test_attest_image.c writes out by
 * hand, SHA-384 straight from OpenSSL (never through the code under test),
 * and small file helpers.
 */
#ifndef CVMBUS_TESTS_ATTEST_TEST_H
#define CVMBUS_TESTS_ATTEST_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include <cvmbus/attest.h>

/* GUID_A = 11223344-5566-7788-99aa-bbccddeeff00, wire bytes
 * 44 33 22 11 66 55 88 77 99 aa bb cc dd ee ff 00. */
#define ATT_GUID_A { 0x11223344u, 0x5566u, 0x7788u, { 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00 } }
/* GUID_B = a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90, wire bytes
 * d4 c3 b2 a1 f6 e5 18 07 29 3a 4b 5c 6d 7e 8f 90. */
#define ATT_GUID_B { 0xa1b2c3d4u, 0xe5f6u, 0x0718u, { 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90 } }

/* The reference image: "pv" version "1.0", build digest 00 01 .. 1f,
 * offers Confidential VMBus, no fallback, minimum VMBus 5.0, policy word
 * 0x0102030405060708, and two VSPs listed B first: ("net", B, flags 0x0002)
 * and ("scsi", A, flags 0x0006). */
static inline void att_reference_image(struct cvmbus_paravisor_image *img)
{
	const struct cvmbus_guid a = ATT_GUID_A, b = ATT_GUID_B;

	memset(img, 0, sizeof(*img));
	strcpy(img->name, "pv");
	strcpy(img->version, "1.0");
	for (unsigned int i = 0; i < CVMBUS_ATTEST_BUILD_DIGEST_SIZE; i++)
		img->build_digest[i] = (uint8_t)i;
	img->policy.offers_confidential_vmbus = true;
	img->policy.allows_fallback = false;
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

static inline void att_sha384(const void *data, size_t len, uint8_t out[48])
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha384(), NULL), 1);
	assert_int_equal(n, 48);
}

/* Whole file into a malloc'ed buffer (NUL-terminated); fails the test if
 * it cannot be read. */
static inline char *att_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		fail_msg("cannot open %s", path);
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static inline void att_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		fail_msg("cannot create %s", path);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

#endif /* CVMBUS_TESTS_ATTEST_TEST_H */
