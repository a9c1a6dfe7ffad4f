/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the paravisor image description and launch measurement
 * (src/hw/attest_image.c): the canonical bytes of a reference image,
 * written out by hand from docs/ATTESTATION.md; that the VSP input order
 * cannot change them; that the measurement equals an SNP-style launch
 * digest computed here directly with OpenSSL; that every field of the image
 * reaches the measurement; and that bad images are refused with a reason.
 */
#include "attest_test.h"

#define PAGE 4096u

/* The reference image's description, byte by byte (see attest_test.h). */
static const uint8_t reference_descr[] = {
	/* 0: magic "CVPVIMG\0", format 1, header 16, total length 118 */
	0x43, 0x56, 0x50, 0x56, 0x49, 0x4d, 0x47, 0x00,
	0x01, 0x00, 0x10, 0x00, 0x76, 0x00, 0x00, 0x00,
	/* 16: name "pv", 19: version "1.0" */
	0x02, 'p', 'v', 0x03, '1', '.', '0',
	/* 23: build digest 00..1f */
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	/* 55: policy flags (confidential vmbus), 59: min version 5.0 */
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00,
	/* 63: policy word 0x0102030405060708 */
	0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	/* 71: two VSPs */
	0x02, 0x00,
	/* 73: GUID_A, flags 0x0006, "scsi" (A sorts first: 0x44 < 0xd4) */
	0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0x88, 0x77,
	0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
	0x06, 0x00, 0x04, 's', 'c', 's', 'i',
	/* 96: GUID_B, flags 0x0002, "net" */
	0xd4, 0xc3, 0xb2, 0xa1, 0xf6, 0xe5, 0x18, 0x07,
	0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90,
	0x02, 0x00, 0x03, 'n', 'e', 't',
};
_Static_assert(sizeof(reference_descr) == 118, "reference description");

/* The SNP-style launch digest of `len` bytes loaded at `gpa`, computed here
 * from the PAGE_INFO layout with no help from the code under test. */
static void expected_launch_digest(const uint8_t *data, size_t len, uint64_t gpa,
				   uint8_t out[48])
{
	uint8_t ld[48] = { 0 };
	uint8_t page[PAGE];

	for (size_t off = 0; off < len; off += PAGE, gpa += PAGE) {
		uint8_t info[0x70] = { 0 };
		size_t n = len - off < PAGE ? len - off : PAGE;

		memset(page, 0, sizeof(page));
		memcpy(page, data + off, n);
		memcpy(info, ld, 48);
		att_sha384(page, PAGE, info + 48);
		info[96] = 0x70; /* length, little-endian u16 */
		info[97] = 0x00;
		info[98] = 0x01; /* page type NORMAL */
		for (int i = 0; i < 8; i++)
			info[104 + i] = (uint8_t)(gpa >> (8 * i));
		att_sha384(info, sizeof(info), ld);
	}
	memcpy(out, ld, 48);
}

static void test_reference_bytes(void **state)
{
	struct cvmbus_paravisor_image img;
	uint8_t buf[CVMBUS_PARAVISOR_DESCR_MAX];
	size_t len = 0;

	(void)state;
	att_reference_image(&img);
	memset(buf, 0xEE, sizeof(buf));
	assert_int_equal(cvmbus_paravisor_image_describe(&img, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(reference_descr));
	assert_memory_equal(buf, reference_descr, sizeof(reference_descr));
	for (size_t i = len; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xEE);

	/* Exactly enough room works; one byte less reports the need. */
	assert_int_equal(cvmbus_paravisor_image_describe(&img, buf, 118, &len), 0);
	len = 0;
	assert_int_equal(cvmbus_paravisor_image_describe(&img, buf, 117, &len), -ENOBUFS);
	assert_int_equal(len, 118);
	len = 0;
	assert_int_equal(cvmbus_paravisor_image_describe(&img, NULL, 0, &len), -ENOBUFS);
	assert_int_equal(len, 118);
}

static void test_measure_known_answer(void **state)
{
	struct cvmbus_paravisor_image img;
	uint8_t expected[48], got[48], got2[48];

	(void)state;
	att_reference_image(&img);
	expected_launch_digest(reference_descr, sizeof(reference_descr), 0xFFE00000ull, expected);
	assert_int_equal(cvmbus_paravisor_image_measure(&img, got), 0);
	assert_memory_equal(got, expected, 48);
	assert_int_equal(cvmbus_paravisor_descr_measure(reference_descr, sizeof(reference_descr),
							got2), 0);
	assert_memory_equal(got2, expected, 48);
}

/* A description longer than a page is loaded as two pages, the second at
 * the next GPA. Images cannot get that large today; the loader must not
 * care. */
static void test_measure_two_pages(void **state)
{
	static uint8_t blob[5000];
	uint8_t expected[48], got[48];

	(void)state;
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 7 + 3);
	expected_launch_digest(blob, sizeof(blob), 0xFFE00000ull, expected);
	assert_int_equal(cvmbus_paravisor_descr_measure(blob, sizeof(blob), got), 0);
	assert_memory_equal(got, expected, 48);
	/* Different from the digest of the first page alone. */
	expected_launch_digest(blob, PAGE, 0xFFE00000ull, expected);
	assert_memory_not_equal(got, expected, 48);
	assert_int_equal(cvmbus_paravisor_descr_measure(blob, 0, got), -EINVAL);
}

/* Every order of four VSPs gives the same bytes (24 permutations). */
static void test_order_independent(void **state)
{
	struct cvmbus_paravisor_image base, img;
	struct cvmbus_guid a = ATT_GUID_A, b = ATT_GUID_B;
	uint8_t ref[CVMBUS_PARAVISOR_DESCR_MAX], buf[CVMBUS_PARAVISOR_DESCR_MAX];
	uint8_t mref[48], m[48];
	size_t reflen = 0, len = 0;
	int perm[4] = { 0, 1, 2, 3 };
	unsigned int count = 0;

	(void)state;
	att_reference_image(&base);
	base.vsp_count = 4;
	/* Same interface id as "scsi" but another name, and another id with a
	 * name that sorts first: both tie-breaks are exercised. */
	strcpy(base.vsps[2].name, "scsi2");
	base.vsps[2].interface_id = a;
	base.vsps[2].offer_flags = 0x0004;
	strcpy(base.vsps[3].name, "aaa");
	base.vsps[3].interface_id = b;
	base.vsps[3].interface_id.data4[7] = 0x91;
	assert_int_equal(cvmbus_paravisor_image_describe(&base, ref, sizeof(ref), &reflen), 0);
	assert_int_equal(cvmbus_paravisor_image_measure(&base, mref), 0);

	/* Heap's algorithm, iteratively. */
	int c[4] = { 0 };
	for (int i = 0;;) {
		img = base;
		for (int k = 0; k < 4; k++)
			img.vsps[k] = base.vsps[perm[k]];
		assert_int_equal(cvmbus_paravisor_image_describe(&img, buf, sizeof(buf), &len), 0);
		assert_int_equal(len, reflen);
		assert_memory_equal(buf, ref, len);
		assert_int_equal(cvmbus_paravisor_image_measure(&img, m), 0);
		assert_memory_equal(m, mref, 48);
		count++;
		while (i < 4 && c[i] >= i) {
			c[i] = 0;
			i++;
		}
		if (i >= 4)
			break;
		int j = (i % 2) ? c[i] : 0;
		int t = perm[j];
		perm[j] = perm[i];
		perm[i] = t;
		c[i]++;
		i = 0;
	}
	assert_int_equal(count, 24);
	/* The caller's array was not reordered (the image is const). */
	assert_string_equal(base.vsps[0].name, "net");
}

/* Each single change of meaning gives a different measurement, and all of
 * them differ from each other. */
static void test_every_field_measured(void **state)
{
	enum { N = 14 };
	struct cvmbus_paravisor_image img[N];
	uint8_t m[N][48];
	struct cvmbus_guid c = ATT_GUID_B;

	(void)state;
	for (int i = 0; i < N; i++)
		att_reference_image(&img[i]);
	strcpy(img[1].name, "pw");
	strcpy(img[2].version, "1.1");
	img[3].build_digest[31] ^= 0x01;
	img[4].policy.offers_confidential_vmbus = false;
	img[5].policy.allows_fallback = true;
	img[6].policy.min_vmbus_version = 0x00050001u;
	img[7].policy.word ^= 1ull << 63;
	img[8].vsp_count = 3; /* one VSP added */
	c.data1 = 0xdeadbeefu;
	strcpy(img[8].vsps[2].name, "extra");
	img[8].vsps[2].interface_id = c;
	img[9].vsp_count = 1; /* one removed */
	img[10].vsps[0].offer_flags ^= 0x0004;
	strcpy(img[11].vsps[1].name, "scsj");
	img[12].vsps[1].interface_id.data3 ^= 0x0100;
	/* Name "p" + version "v1.0" must not collide with "pv" + "1.0": the
	 * length prefixes keep the fields apart. */
	strcpy(img[13].name, "p");
	strcpy(img[13].version, "v1.0");
	for (int i = 0; i < N; i++)
		assert_int_equal(cvmbus_paravisor_image_measure(&img[i], m[i]), 0);
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			if (!memcmp(m[i], m[j], 48))
				fail_msg("images %d and %d measure the same", i, j);
}

static void expect_invalid(const struct cvmbus_paravisor_image *img, const char *want)
{
	char err[128] = "";
	uint8_t m[48];
	size_t len = 0;

	assert_int_equal(cvmbus_paravisor_image_check(img, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, want));
	assert_int_equal(cvmbus_paravisor_image_measure(img, m), -EINVAL);
	assert_int_equal(cvmbus_paravisor_image_describe(img, NULL, 0, &len), -EINVAL);
}

static void test_check_refuses(void **state)
{
	struct cvmbus_paravisor_image img;

	(void)state;
	att_reference_image(&img);
	img.name[0] = '\0';
	expect_invalid(&img, "name");

	att_reference_image(&img);
	memset(img.name, 'x', sizeof(img.name)); /* no terminator in the array */
	expect_invalid(&img, "name");

	att_reference_image(&img);
	img.version[1] = '\n';
	expect_invalid(&img, "version");

	att_reference_image(&img);
	img.version[0] = (char)0xc3; /* not ascii */
	expect_invalid(&img, "version");

	att_reference_image(&img);
	img.vsps[1].name[0] = '\0';
	expect_invalid(&img, "vsp name");

	att_reference_image(&img);
	img.vsp_count = CVMBUS_PARAVISOR_MAX_VSPS + 1;
	expect_invalid(&img, "too many");

	att_reference_image(&img);
	img.vsps[1] = img.vsps[0];
	img.vsps[1].offer_flags = 0x0001; /* flags differ, still a duplicate */
	expect_invalid(&img, "same interface id");

	assert_int_equal(cvmbus_paravisor_image_check(NULL, NULL, 0), -EINVAL);
	att_reference_image(&img);
	assert_int_equal(cvmbus_paravisor_image_check(&img, NULL, 0), 0);
	img.vsp_count = 0; /* a paravisor offering nothing is still an image */
	assert_int_equal(cvmbus_paravisor_image_check(&img, NULL, 0), 0);
}

/* The largest image hits CVMBUS_PARAVISOR_DESCR_MAX exactly and fits one
 * page. */
static void test_largest_image(void **state)
{
	struct cvmbus_paravisor_image img;
	uint8_t buf[CVMBUS_PARAVISOR_DESCR_MAX];
	size_t len = 0;

	(void)state;
	att_reference_image(&img);
	memset(img.name, 'n', CVMBUS_PARAVISOR_NAME_MAX);
	img.name[CVMBUS_PARAVISOR_NAME_MAX] = '\0';
	memset(img.version, 'v', CVMBUS_PARAVISOR_VERSION_MAX);
	img.version[CVMBUS_PARAVISOR_VERSION_MAX] = '\0';
	img.vsp_count = CVMBUS_PARAVISOR_MAX_VSPS;
	for (unsigned int i = 0; i < CVMBUS_PARAVISOR_MAX_VSPS; i++) {
		memset(img.vsps[i].name, 'a' + (int)(i % 26), CVMBUS_PARAVISOR_VSP_NAME_MAX);
		img.vsps[i].name[CVMBUS_PARAVISOR_VSP_NAME_MAX] = '\0';
		img.vsps[i].interface_id.data1 = i;
	}
	assert_int_equal(cvmbus_paravisor_image_describe(&img, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, CVMBUS_PARAVISOR_DESCR_MAX);
	assert_true(len <= PAGE);
	/* The total length field says the same. */
	assert_int_equal(buf[12] | buf[13] << 8, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_bytes),
		cmocka_unit_test(test_measure_known_answer),
		cmocka_unit_test(test_measure_two_pages),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_every_field_measured),
		cmocka_unit_test(test_check_refuses),
		cmocka_unit_test(test_largest_image),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
