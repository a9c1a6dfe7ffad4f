/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the wire-layer tests (tests/wire/): byte-layout macros
 * for writing expected messages by hand, a few fixed GUIDs, and the
 * encode-compare-decode round trip every per-message test runs.
 *
 * The macros only place bytes the test author wrote out at offsets taken
 * from the documented layouts; none of them call the code under test.
 */
#ifndef CVMBUS_TESTS_WIRE_TEST_H
#define CVMBUS_TESTS_WIRE_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cvmbus/wire.h"

/* Designated initializers for 2, 4 and 8 bytes written out by hand,
 * least significant first, at byte offset o. */
#define B2(o, a, b) [(o)] = (a), [(o) + 1] = (b)
#define B4(o, a, b, c, d) [(o)] = (a), [(o) + 1] = (b), [(o) + 2] = (c), [(o) + 3] = (d)
#define B8(o, a, b, c, d, e, f, g, h) \
	B4(o, a, b, c, d), B4((o) + 4, e, f, g, h)

/* GUID_A = 11223344-5566-7788-99aa-bbccddeeff00: data1..3 little-endian. */
#define GUID_A { 0x11223344u, 0x5566u, 0x7788u, { 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00 } }
#define GUID_A_BYTES(o)                                                  \
	B4(o, 0x44, 0x33, 0x22, 0x11), B2((o) + 4, 0x66, 0x55),          \
	B2((o) + 6, 0x88, 0x77), B4((o) + 8, 0x99, 0xaa, 0xbb, 0xcc),    \
	B4((o) + 12, 0xdd, 0xee, 0xff, 0x00)
/* GUID_B = a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90 */
#define GUID_B { 0xa1b2c3d4u, 0xe5f6u, 0x0718u, { 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90 } }
#define GUID_B_BYTES(o)                                                  \
	B4(o, 0xd4, 0xc3, 0xb2, 0xa1), B2((o) + 4, 0xf6, 0xe5),          \
	B2((o) + 6, 0x18, 0x07), B4((o) + 8, 0x29, 0x3a, 0x4b, 0x5c),    \
	B4((o) + 12, 0x6d, 0x7e, 0x8f, 0x90)
/* GUID_C = 0f0e0d0c-0b0a-0908-0706-050403020100 */
#define GUID_C { 0x0f0e0d0cu, 0x0b0au, 0x0908u, { 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00 } }
#define GUID_C_BYTES(o)                                                  \
	B4(o, 0x0c, 0x0d, 0x0e, 0x0f), B2((o) + 4, 0x0a, 0x0b),          \
	B2((o) + 6, 0x08, 0x09), B4((o) + 8, 0x07, 0x06, 0x05, 0x04),    \
	B4((o) + 12, 0x03, 0x02, 0x01, 0x00)

static inline void assert_guid_equal(const struct cvmbus_guid *a, const struct cvmbus_guid *b)
{
	assert_memory_equal(a, b, sizeof(*a));
}

/*
 * Encodes msg into a buffer pre-filled with 0xEE and checks the result is
 * exactly the hand-written expected bytes, and that nothing past them was
 * written. Then decodes the expected bytes under (version, features, dir)
 * into *out and checks variant and length. The caller compares fields.
 */
static inline void wire_roundtrip(const struct cvmbus_wire_msg *msg, const uint8_t *expected,
				  size_t len, uint32_t version, uint32_t features,
				  enum cvmbus_wire_dir dir, struct cvmbus_wire_msg *out)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_status st;
	int rc;

	memset(buf, 0xEE, sizeof(buf));
	rc = cvmbus_wire_encode(msg, buf, sizeof(buf), &st);
	assert_int_equal(rc, (int)len);
	assert_int_equal(cvmbus_wire_encoded_size(msg), len);
	assert_memory_equal(buf, expected, len);
	for (size_t i = len; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xEE);

	/* Exactly len bytes of room is enough; one less is not. */
	rc = cvmbus_wire_encode(msg, buf, len, &st);
	assert_int_equal(rc, (int)len);
	rc = cvmbus_wire_encode(msg, buf, len - 1, &st);
	assert_int_equal(rc, -ENOBUFS);
	assert_int_equal(st.error, CVMBUS_WIRE_E_NO_SPACE);
	assert_int_equal(st.need_len, len);

	rc = cvmbus_wire_decode(expected, len, version, features, dir, out, &st);
	if (rc != 0) {
		char text[256];

		cvmbus_wire_status_format(&st, text, sizeof(text));
		fail_msg("decode failed: %s", text);
	}
	assert_int_equal(out->variant, msg->variant);
	assert_int_equal(out->len, len);
	assert_int_equal(out->data_count, msg->data_count);
	assert_int_equal(out->u.hdr.padding, 0);
	/* The decoder copied the bytes: the message reads back identically. */
	assert_memory_equal(out->u.bytes, expected, len);
}

#endif /* CVMBUS_TESTS_WIRE_TEST_H */
