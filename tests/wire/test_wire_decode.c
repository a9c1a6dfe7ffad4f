/* SPDX-License-Identifier: MIT */
/*
 * The wire decoder and encoder against bad input: truncated and over-long
 * messages, messages that need a newer version or a feature that was not
 * negotiated, unknown types, wrong directions, inconsistent GPADL headers,
 * reserved fields the encoder must clear, and a deterministic fuzz loop
 * that must never crash (run under ASan/UBSan in CI). Part of the wire
 * layer's unit tests (tests/wire/).
 */
#include <stdio.h>

#include "wire_test.h"

#define TO_S CVMBUS_WIRE_TO_SERVER
#define TO_C CVMBUS_WIRE_TO_CLIENT
#define ANY  CVMBUS_WIRE_DIR_ANY

/* A message of `type` with every field zero (the buffer is the largest
 * any test decodes from it). */
static void make_zero(uint8_t *buf, uint32_t type)
{
	memset(buf, 0, CVMBUS_WIRE_MAX_SIZE + 16);
	buf[0] = (uint8_t)type;
	buf[1] = (uint8_t)(type >> 8);
	buf[2] = (uint8_t)(type >> 16);
	buf[3] = (uint8_t)(type >> 24);
}

static int decode(const uint8_t *buf, size_t len, uint32_t version, uint32_t features,
		  enum cvmbus_wire_dir dir, struct cvmbus_wire_status *st)
{
	struct cvmbus_wire_msg out;
	int rc = cvmbus_wire_decode(buf, len, version, features, dir, &out, st);

	/* Whatever happened, the error code and the return value agree, and a
	 * failed decode leaves no variant behind. */
	if (rc == 0) {
		assert_int_equal(st->error, CVMBUS_WIRE_OK);
		assert_int_not_equal(out.variant, CVMBUS_WIRE_NONE);
	} else {
		assert_int_equal(rc, -cvmbus_wire_errno(st->error));
		assert_int_equal(out.variant, CVMBUS_WIRE_NONE);
	}
	return rc;
}

/* ---- Sizes -------------------------------------------------------------- */

static void test_truncated_and_overlong(void **state)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_status st;

	(void)state;
	make_zero(buf, CVMBUS_MSG_OFFER_CHANNEL);
	buf[188] = 0xff; /* no monitor */
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_5_3, 0, TO_C, &st), 0);
	assert_int_equal(decode(buf, 195, CVMBUS_VERSION_5_3, 0, TO_C, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_SHORT);
	assert_int_equal(st.need_len, 196);
	assert_int_equal(st.type, CVMBUS_MSG_OFFER_CHANNEL);
	assert_int_equal(decode(buf, 197, CVMBUS_VERSION_5_3, 0, TO_C, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_LONG);
	assert_int_equal(st.need_len, 196);

	/* Past the SynIC payload: refused before anything else is looked at. */
	assert_int_equal(decode(buf, 241, CVMBUS_VERSION_5_3, 0, TO_C, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_LONG);
	assert_int_equal(st.need_len, 240);
	assert_int_equal(st.len, 241);

	/* Shorter than the header. */
	for (size_t len = 0; len < 8; len++) {
		assert_int_equal(decode(buf, len, CVMBUS_VERSION_5_3, 0, TO_C, &st), -EMSGSIZE);
		assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_SHORT);
		assert_int_equal(st.need_len, 8);
	}

	/* Header-only messages must be exactly 8 bytes. */
	make_zero(buf, CVMBUS_MSG_REQUEST_OFFERS);
	assert_int_equal(decode(buf, 8, CVMBUS_VERSION_5_3, 0, TO_S, &st), 0);
	assert_int_equal(decode(buf, 9, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_LONG);

	/* ModifyConnectionResponse is 9 bytes, not its padded 12. */
	make_zero(buf, CVMBUS_MSG_MODIFY_CONNECTION_RESPONSE);
	assert_int_equal(decode(buf, 9, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_MODIFY_CONNECTION, TO_C,
				&st), 0);
	assert_int_equal(decode(buf, 12, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_MODIFY_CONNECTION,
				TO_C, &st), -EMSGSIZE);
}

static void test_variant_sizes(void **state)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_status st;

	(void)state;
	/* OpenChannel under 5.3: 148 only. */
	make_zero(buf, CVMBUS_MSG_OPEN_CHANNEL);
	assert_int_equal(decode(buf, 148, CVMBUS_VERSION_5_3, 0, TO_S, &st), 0);
	assert_int_equal(decode(buf, 147, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_SHORT);
	assert_int_equal(st.need_len, 148);
	assert_int_equal(decode(buf, 150, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_BAD_SIZE);
	assert_int_equal(decode(buf, 157, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_LONG);
	assert_int_equal(st.need_len, 156);
	/* The 156-byte layout is a 6.0 layout. */
	assert_int_equal(decode(buf, 156, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EPROTO);
	assert_int_equal(st.error, CVMBUS_WIRE_E_NEEDS_VERSION);
	assert_int_equal(st.need_version, CVMBUS_VERSION_6_0);
	assert_int_equal(st.have_version, CVMBUS_VERSION_5_3);
	/* ... and needs one of its two features. */
	assert_int_equal(decode(buf, 156, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS,
				TO_S, &st), -EOPNOTSUPP);
	assert_int_equal(st.error, CVMBUS_WIRE_E_NEEDS_FEATURE);
	assert_int_equal(st.need_features, 0x3);
	assert_int_equal(decode(buf, 156, CVMBUS_VERSION_6_0,
				CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION, TO_S, &st), 0);
	/* Once it is allowed, the 148-byte layout is a truncated message. */
	assert_int_equal(decode(buf, 148, CVMBUS_VERSION_6_0,
				CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS, TO_S, &st),
			 -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_SHORT);
	assert_int_equal(st.need_len, 156);

	/* VersionResponse: 16 always, 20 from 6.0, 40 with the monitor pages
	 * feature requested and granted. */
	make_zero(buf, CVMBUS_MSG_VERSION_RESPONSE);
	assert_int_equal(decode(buf, 16, 0, 0, TO_C, &st), 0);
	assert_int_equal(decode(buf, 16, CVMBUS_VERSION_6_0, 0, TO_C, &st), 0);
	assert_int_equal(decode(buf, 20, CVMBUS_VERSION_5_3, 0, TO_C, &st), -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_6_0);
	assert_int_equal(decode(buf, 20, CVMBUS_VERSION_6_0, 0, TO_C, &st), 0);
	assert_int_equal(decode(buf, 18, CVMBUS_VERSION_6_0, 0, TO_C, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_BAD_SIZE);
	buf[16] = 0x40; /* supported_features */
	assert_int_equal(decode(buf, 40, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS,
				TO_C, &st), -EOPNOTSUPP);
	assert_int_equal(st.need_features, CVMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES);
	assert_int_equal(decode(buf, 40, CVMBUS_VERSION_6_0,
				CVMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES, TO_C, &st), 0);
	/* A 40-byte response whose own features lack the monitor page bit. */
	buf[16] = 0x00;
	assert_int_equal(decode(buf, 40, CVMBUS_VERSION_6_0,
				CVMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES, TO_C, &st), -EBADMSG);
	assert_int_equal(st.error, CVMBUS_WIRE_E_INCONSISTENT);
	/* A server that grants what was not asked for. */
	buf[16] = 0x10;
	assert_int_equal(decode(buf, 20, CVMBUS_VERSION_6_0, 0, TO_C, &st), -EBADMSG);
	assert_non_null(st.detail);
	assert_int_equal(decode(buf, 20, CVMBUS_VERSION_6_0, 0x10, TO_C, &st), 0);

	/* TlConnectRequest: 56 needs 5.2; 40 stays valid there. */
	make_zero(buf, CVMBUS_MSG_TL_CONNECT_REQUEST);
	assert_int_equal(decode(buf, 56, CVMBUS_VERSION_5_1, 0, TO_S, &st), -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_5_2);
	assert_int_equal(decode(buf, 56, CVMBUS_VERSION_5_2, 0, TO_S, &st), 0);
	assert_int_equal(decode(buf, 40, CVMBUS_VERSION_5_2, 0, TO_S, &st), 0);
	assert_int_equal(decode(buf, 40, CVMBUS_VERSION_3_0, 0, TO_S, &st), -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_4_0);
}

/* ---- Versions and features ---------------------------------------------- */

static void test_needs_version(void **state)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_status st;

	(void)state;
	/* Nothing but connection setup before a connection exists. */
	make_zero(buf, CVMBUS_MSG_REQUEST_OFFERS);
	assert_int_equal(decode(buf, 8, 0, 0, TO_S, &st), -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_0_13);
	assert_int_equal(st.have_version, 0);
	make_zero(buf, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(decode(buf, 40, 0, 0, TO_S, &st), 0);
	make_zero(buf, CVMBUS_MSG_CLOSE_RESERVED_CHANNEL);
	assert_int_equal(decode(buf, 20, 0, 0, TO_S, &st), 0);

	make_zero(buf, CVMBUS_MSG_MODIFY_CHANNEL_RESPONSE);
	assert_int_equal(decode(buf, 16, CVMBUS_VERSION_5_2, 0, TO_C, &st), -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_5_3);
	assert_int_equal(decode(buf, 16, CVMBUS_VERSION_5_3, 0, TO_C, &st), 0);

	make_zero(buf, CVMBUS_MSG_MODIFY_CHANNEL);
	assert_int_equal(decode(buf, 16, CVMBUS_VERSION_4_0, 0, TO_S, &st), -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_4_1);

	make_zero(buf, CVMBUS_MSG_UNLOAD_RESPONSE);
	assert_int_equal(decode(buf, 8, CVMBUS_VERSION_0_13, 0, TO_C, &st), -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_1_1);

	make_zero(buf, CVMBUS_MSG_OPEN_RESERVED_CHANNEL);
	assert_int_equal(decode(buf, 28, CVMBUS_VERSION_3_0, 0, TO_S, &st), -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_4_0);

	/* A type not allowed on this connection is refused for that, whatever
	 * its size. */
	make_zero(buf, CVMBUS_MSG_MODIFY_CONNECTION);
	assert_int_equal(decode(buf, 8, CVMBUS_VERSION_5_3, CVMBUS_FEATURE_ALL, TO_S, &st),
			 -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_6_0);
}

static void test_needs_feature(void **state)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_status st;
	char text[200];

	(void)state;
	make_zero(buf, CVMBUS_MSG_MODIFY_CONNECTION);
	assert_int_equal(decode(buf, 24, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_PAUSE_RESUME, TO_S,
				&st), -EOPNOTSUPP);
	assert_int_equal(st.need_features, CVMBUS_FEATURE_MODIFY_CONNECTION);
	assert_int_equal(st.have_features, CVMBUS_FEATURE_PAUSE_RESUME);
	cvmbus_wire_status_format(&st, text, sizeof(text));
	assert_string_equal(text, "modify_connection: needs a feature not negotiated "
				  "(any of modify_connection, have pause_resume)");
	assert_int_equal(decode(buf, 24, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_MODIFY_CONNECTION,
				TO_S, &st), 0);

	for (uint32_t t = CVMBUS_MSG_PAUSE; t <= CVMBUS_MSG_RESUME; t++) {
		make_zero(buf, t);
		assert_int_equal(decode(buf, 8, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_MODIFY_CONNECTION,
					ANY, &st), -EOPNOTSUPP);
		assert_int_equal(st.need_features, CVMBUS_FEATURE_PAUSE_RESUME);
		assert_int_equal(decode(buf, 8, CVMBUS_VERSION_5_3, CVMBUS_FEATURE_PAUSE_RESUME,
					ANY, &st), -EPROTO);
		assert_int_equal(decode(buf, 8, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_PAUSE_RESUME,
					ANY, &st), 0);
	}

	/* Confidential offer flags need confidential_channels (and 6.0). */
	make_zero(buf, CVMBUS_MSG_OFFER_CHANNEL);
	buf[56] = 0x02;
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_6_0, 0, TO_C, &st), -EOPNOTSUPP);
	assert_int_equal(st.need_features, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_5_3, 0, TO_C, &st), -EPROTO);
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS,
				TO_C, &st), 0);
	/* External memory without the ring. */
	buf[56] = 0x04;
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS,
				TO_C, &st), -EBADMSG);
	/* Pinned external memory needs gpa_pinning. */
	buf[56] = 0x08;
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS,
				TO_C, &st), -EOPNOTSUPP);
	assert_int_equal(st.need_features, CVMBUS_FEATURE_GPA_PINNING);
	/* A monitor id past the 128 a monitor page holds. */
	buf[56] = 0;
	buf[188] = 128;
	buf[189] = 1;
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_6_0, 0, TO_C, &st), -EBADMSG);
	buf[189] = 0; /* not allocated: the id is not used */
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_6_0, 0, TO_C, &st), 0);

	/* OpenChannel2 redirect flag needs channel_interrupt_redirection. */
	make_zero(buf, CVMBUS_MSG_OPEN_CHANNEL);
	buf[154] = 0x01;
	assert_int_equal(decode(buf, 156, CVMBUS_VERSION_6_0,
				CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS, TO_S, &st),
			 -EOPNOTSUPP);
	assert_int_equal(st.need_features, CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION);
}

static void test_initiate_contact_client_id_rules(void **state)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_status st;
	struct cvmbus_wire_msg m;
	uint8_t out[64];

	(void)state;
	make_zero(buf, CVMBUS_MSG_INITIATE_CONTACT);
	/* 56 bytes asking for 5.3: the client id layout needs 6.0. */
	buf[8] = 0x03;
	buf[10] = 0x05;
	assert_int_equal(decode(buf, 56, 0, 0, TO_S, &st), -EPROTO);
	assert_int_equal(st.need_version, CVMBUS_VERSION_6_0);
	assert_int_equal(st.have_version, CVMBUS_VERSION_5_3);
	/* 6.0 without the client_id feature bit. */
	buf[8] = 0x00;
	buf[10] = 0x06;
	buf[20] = 0x10;
	assert_int_equal(decode(buf, 56, 0, 0, TO_S, &st), -EOPNOTSUPP);
	assert_int_equal(st.need_features, CVMBUS_FEATURE_CLIENT_ID);
	buf[20] = 0x18;
	assert_int_equal(decode(buf, 56, 0, 0, TO_S, &st), 0);
	/* The 40-byte layout needs neither. */
	buf[20] = 0;
	assert_int_equal(decode(buf, 40, 0, 0, TO_S, &st), 0);
	assert_int_equal(decode(buf, 48, 0, 0, TO_S, &st), -EMSGSIZE);

	/* The encoder refuses to build what the decoder would refuse. */
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_INITIATE_CONTACT_CLIENT_ID);
	m.u.initiate_contact_client_id.version_requested = CVMBUS_VERSION_6_0;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), -EOPNOTSUPP);
	m.u.initiate_contact_client_id.feature_flags = CVMBUS_FEATURE_CLIENT_ID;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 56);
}

/* ---- Types and directions ----------------------------------------------- */

static void test_unknown_types(void **state)
{
	static const uint32_t bad[] = { 0, 30, 31, 255, 0x100, 0x80000000u, 0xFFFFFFFFu };
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_status st;
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_zero(buf, bad[i]);
		assert_int_equal(decode(buf, 16, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_ALL, ANY, &st),
				 -ENOMSG);
		assert_int_equal(st.error, CVMBUS_WIRE_E_UNKNOWN_TYPE);
		assert_int_equal(st.type, bad[i]);
	}
	make_zero(buf, 30);
	decode(buf, 16, CVMBUS_VERSION_6_0, 0, ANY, &st);
	cvmbus_wire_status_format(&st, text, sizeof(text));
	assert_string_equal(text, "unknown: unknown message type (30)");
}

static void test_wrong_direction(void **state)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_status st;

	(void)state;
	make_zero(buf, CVMBUS_MSG_OFFER_CHANNEL);
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EPERM);
	assert_int_equal(st.error, CVMBUS_WIRE_E_WRONG_DIRECTION);
	assert_int_equal(decode(buf, 196, CVMBUS_VERSION_5_3, 0, ANY, &st), 0);
	make_zero(buf, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(decode(buf, 40, 0, 0, TO_C, &st), -EPERM);
	make_zero(buf, CVMBUS_MSG_RESUME);
	assert_int_equal(decode(buf, 8, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_PAUSE_RESUME, TO_C, &st),
			 -EPERM);

	/* Every type has exactly one direction. */
	for (uint32_t t = 1; t < CVMBUS_MSG_COUNT; t++) {
		const struct cvmbus_wire_type_info *info = cvmbus_wire_type_info(t);

		assert_non_null(info);
		assert_true(info->dir == TO_S || info->dir == TO_C);
	}
}

/* ---- GPADL consistency -------------------------------------------------- */

/* A GpadlHeader with one range of `pages` pages, all in one message. */
static size_t make_gpadl(uint8_t *buf, uint16_t buflen, uint16_t count, uint32_t byte_count,
			 uint32_t byte_offset, unsigned values)
{
	make_zero(buf, CVMBUS_MSG_GPADL_HEADER);
	buf[8] = 1;                        /* child_relid */
	buf[12] = 0x10;                    /* gpadl */
	buf[16] = (uint8_t)buflen;
	buf[17] = (uint8_t)(buflen >> 8);
	buf[18] = (uint8_t)count;
	buf[19] = (uint8_t)(count >> 8);
	memcpy(buf + 20, &byte_count, 4);
	memcpy(buf + 24, &byte_offset, 4);
	for (unsigned i = 1; i < values; i++)
		buf[20 + 8 * i] = (uint8_t)i;  /* pfn i */
	return 20 + 8u * values;
}

static void expect_inconsistent(const uint8_t *buf, size_t len, const char *detail)
{
	struct cvmbus_wire_status st;

	assert_int_equal(decode(buf, len, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EBADMSG);
	assert_int_equal(st.error, CVMBUS_WIRE_E_INCONSISTENT);
	assert_string_equal(st.detail, detail);
}

static void test_gpadl_inconsistent(void **state)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_status st;
	size_t len;

	(void)state;
	/* Baseline: 2 pages, buflen 24, 3 values. */
	len = make_gpadl(buf, 24, 1, 0x2000, 0, 3);
	assert_int_equal(decode(buf, len, CVMBUS_VERSION_5_3, 0, TO_S, &st), 0);

	len = make_gpadl(buf, 24, 0, 0x2000, 0, 3);
	expect_inconsistent(buf, len, "gpadl has no ranges");
	len = make_gpadl(buf, 28, 1, 0x2000, 0, 3);
	expect_inconsistent(buf, len, "range_buflen not a multiple of 8");
	len = make_gpadl(buf, 24, 2, 0x2000, 0, 3);
	expect_inconsistent(buf, len, "range_buflen too small for rangecount");
	len = make_gpadl(buf, 16, 1, 0x2000, 0, 3);
	expect_inconsistent(buf, len, "more range data than range_buflen");
	len = make_gpadl(buf, 24, 1, 0, 0, 3);
	expect_inconsistent(buf, len, "empty gpa range");
	len = make_gpadl(buf, 24, 1, 0x1000, 0x1000, 3);
	expect_inconsistent(buf, len, "gpa range offset past its first page");
	/* 3 pages declared by the range, but range_buflen holds 2. */
	len = make_gpadl(buf, 24, 1, 0x2001, 0, 3);
	expect_inconsistent(buf, len, "ranges overflow range_buflen");
	/* One complete range, and range_buflen claims more. */
	len = make_gpadl(buf, 32, 1, 0x2000, 0, 3);
	expect_inconsistent(buf, len, "range_buflen does not match the ranges");
	/* Two ranges declared, the first fills everything but 8 bytes. */
	len = make_gpadl(buf, 32, 2, 0x2000, 0, 3);
	expect_inconsistent(buf, len, "range_buflen too small for rangecount");

	/* Partial: a 30-page range, 26 PFNs here, 4 to come in a body. */
	len = make_gpadl(buf, 8 + 30 * 8, 1, 30 * 0x1000, 0, 27);
	assert_int_equal(len, 236);
	assert_int_equal(decode(buf, len, CVMBUS_VERSION_5_3, 0, TO_S, &st), 0);

	/* Sizes: no range data at all, a half value, over capacity. */
	make_gpadl(buf, 24, 1, 0x2000, 0, 3);
	assert_int_equal(decode(buf, 20, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_SHORT);
	assert_int_equal(st.need_len, 28);
	assert_int_equal(decode(buf, 32, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_BAD_SIZE);
	assert_int_equal(decode(buf, 240, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_TOO_LONG);
	assert_int_equal(st.need_len, 236);

	/* GpadlBody: 1 to 28 PFNs. */
	make_zero(buf, CVMBUS_MSG_GPADL_BODY);
	assert_int_equal(decode(buf, 16, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EMSGSIZE);
	assert_int_equal(st.need_len, 24);
	assert_int_equal(decode(buf, 24, CVMBUS_VERSION_5_3, 0, TO_S, &st), 0);
	assert_int_equal(decode(buf, 240, CVMBUS_VERSION_5_3, 0, TO_S, &st), 0);
	assert_int_equal(decode(buf, 28, CVMBUS_VERSION_5_3, 0, TO_S, &st), -EMSGSIZE);
	assert_int_equal(st.error, CVMBUS_WIRE_E_BAD_SIZE);
}

static void test_gpadl_builders(void **state)
{
	uint64_t pfns[40];
	struct cvmbus_wire_msg m, d;
	uint8_t out[CVMBUS_WIRE_MAX_SIZE];
	struct cvmbus_wire_status st;
	int n;

	(void)state;
	for (unsigned i = 0; i < 40; i++)
		pfns[i] = 0x1000 + i;
	/* 30 pages: 26 in the header, 4 in one body. */
	n = cvmbus_wire_gpadl_header_init(&m, 5, 77, 30 * 4096, 0, pfns, 30);
	assert_int_equal(n, 26);
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 236);
	assert_int_equal(cvmbus_wire_decode(out, 236, CVMBUS_VERSION_5_3, 0, TO_S, &d, &st), 0);
	assert_int_equal(d.u.gpadl_header.range_buflen, 8 + 30 * 8);
	assert_true(cvmbus_wire_gpadl_value(&d, 26) == 0x1000 + 25);
	n = cvmbus_wire_gpadl_body_init(&m, 1, 77, pfns + 26, 4);
	assert_int_equal(n, 4);
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 16 + 32);
	/* A body takes at most 28. */
	assert_int_equal(cvmbus_wire_gpadl_body_init(&m, 1, 77, pfns, 40), 28);
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 240);

	/* npfn must match the range; the range must fit a u16 buflen. */
	assert_int_equal(cvmbus_wire_gpadl_header_init(&m, 5, 77, 2 * 4096, 0, pfns, 3), -EINVAL);
	assert_int_equal(cvmbus_wire_gpadl_header_init(&m, 5, 77, 4096, 1, pfns, 2), 1 + 1);
	assert_int_equal(cvmbus_wire_gpadl_header_init(&m, 5, 77, 0, 0, pfns, 0), -EINVAL);
	assert_int_equal(cvmbus_wire_gpadl_header_init(&m, 5, 77, 8191u * 4096u, 0, pfns, 8191),
			 -E2BIG);
	assert_int_equal(cvmbus_wire_gpadl_body_init(&m, 1, 77, pfns, 0), -EINVAL);
	assert_true(cvmbus_gpa_range_pages(1, 4095) == 1);
	assert_true(cvmbus_gpa_range_pages(2, 4095) == 2);
	assert_true(cvmbus_gpa_range_pages(0xFFFFFFFFu, 0) == 0x100000);
}

/* ---- Encoder ------------------------------------------------------------ */

static void test_encoder_clears_reserved(void **state)
{
	struct cvmbus_wire_msg m;
	uint8_t out[CVMBUS_WIRE_MAX_SIZE];
	struct cvmbus_wire_status st;

	(void)state;
	/* OfferChannel with garbage everywhere the layout reserves. */
	memset(&m, 0xA5, sizeof(m));
	m.variant = CVMBUS_WIRE_OFFER_CHANNEL;
	m.data_count = 77; /* ignored for a fixed-size message */
	m.u.offer_channel.flags = 0;
	m.u.offer_channel.monitor_id = 3;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 196);
	assert_int_equal(out[0], 1);
	for (int i = 1; i < 8; i++)
		assert_int_equal(out[i], 0);       /* type high bytes, padding */
	for (int i = 40; i < 56; i++)
		assert_int_equal(out[i], 0);       /* reserved[4] */
	assert_int_equal(out[189], 0x01);          /* monitor_allocated: bit 0 kept */
	assert_int_equal(out[190], 0x01);          /* is_dedicated_interrupt bit 0 */
	assert_int_equal(out[191], 0x00);
	assert_int_equal(out[60], 0xA5);           /* user data is data, kept */
	assert_int_equal(out[192], 0xA5);          /* connection_id kept */

	/* OpenChannel2: the reserved flag bits. */
	memset(&m, 0xA5, sizeof(m));
	m.variant = CVMBUS_WIRE_OPEN_CHANNEL2;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 156);
	assert_int_equal(out[154], 0x01);
	assert_int_equal(out[155], 0x00);
	assert_int_equal(out[4], 0);

	/* VersionResponse3: both paddings; and the 16-byte layout's padding. */
	memset(&m, 0xA5, sizeof(m));
	m.variant = CVMBUS_WIRE_VERSION_RESPONSE3;
	m.u.version_response3.supported_features = CVMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 40);
	assert_int_equal(out[10], 0);
	assert_int_equal(out[11], 0);
	for (int i = 20; i < 24; i++)
		assert_int_equal(out[i], 0);
	assert_int_equal(out[8], 0xA5);
	memset(&m, 0xA5, sizeof(m));
	m.variant = CVMBUS_WIRE_VERSION_RESPONSE;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 16);
	assert_int_equal(out[10], 0);
	assert_int_equal(out[11], 0);

	/* InitiateContact 5.3: bytes 18-23 are reserved; 6.0: only 18-19. */
	memset(&m, 0xA5, sizeof(m));
	m.variant = CVMBUS_WIRE_INITIATE_CONTACT;
	m.u.initiate_contact.version_requested = CVMBUS_VERSION_5_3;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 40);
	assert_int_equal(out[16], 0xA5);
	assert_int_equal(out[17], 0xA5);
	for (int i = 18; i < 24; i++)
		assert_int_equal(out[i], 0);
	m.u.initiate_contact.version_requested = CVMBUS_VERSION_6_0;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 40);
	assert_int_equal(out[18], 0);
	assert_int_equal(out[19], 0);
	assert_int_equal(out[20], 0xA5);

	/* A GPADL header emits only data_count values, nothing stale after. */
	memset(&m, 0xA5, sizeof(m));
	m.variant = CVMBUS_WIRE_GPADL_HEADER;
	m.data_count = 2;
	m.u.gpadl_header.range_buflen = 16;
	m.u.gpadl_header.rangecount = 1;
	cvmbus_wire_gpadl_set_value(&m, 0, cvmbus_gpa_range_value(100, 0));
	memset(out, 0x5A, sizeof(out));
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), 36);
	assert_int_equal(out[36], 0x5A);
}

static void test_encoder_errors(void **state)
{
	struct cvmbus_wire_msg m;
	uint8_t out[CVMBUS_WIRE_MAX_SIZE];
	struct cvmbus_wire_status st;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_NONE);
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), -EINVAL);
	assert_int_equal(st.error, CVMBUS_WIRE_E_ARGS);
	m.variant = (enum cvmbus_wire_variant)999;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), -EINVAL);
	assert_int_equal(cvmbus_wire_encoded_size(&m), 0);
	assert_int_equal(cvmbus_wire_encode(NULL, out, sizeof(out), &st), -EINVAL);

	/* GPADL value counts outside 1..27 / 1..28. */
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_HEADER);
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), -EINVAL);
	m.data_count = 28;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), -EINVAL);
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_BODY);
	m.data_count = 29;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), -EINVAL);

	/* An inconsistent GPADL header is not produced either. */
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_HEADER);
	m.data_count = 2;
	assert_int_equal(cvmbus_wire_encode(&m, out, sizeof(out), &st), -EBADMSG);
	assert_string_equal(st.detail, "gpadl has no ranges");

	/* Too small a buffer says how much is needed. */
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_OFFER_CHANNEL);
	assert_int_equal(cvmbus_wire_encode(&m, out, 100, &st), -ENOBUFS);
	assert_int_equal(st.need_len, 196);
}

static void test_decode_failure_keeps_bytes(void **state)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	struct cvmbus_wire_msg out;
	struct cvmbus_wire_status st;

	(void)state;
	make_zero(buf, CVMBUS_MSG_OFFER_CHANNEL);
	buf[100] = 0x77;
	assert_int_equal(cvmbus_wire_decode(buf, 150, CVMBUS_VERSION_5_3, 0, TO_C, &out, &st),
			 -EMSGSIZE);
	assert_int_equal(out.variant, CVMBUS_WIRE_NONE);
	assert_int_equal(out.len, 150);
	assert_int_equal(out.u.bytes[100], 0x77);
	/* Over-long input: only 240 bytes are ever copied. */
	assert_int_equal(cvmbus_wire_decode(buf, 250, CVMBUS_VERSION_5_3, 0, TO_C, &out, &st),
			 -EMSGSIZE);
	assert_int_equal(out.len, 240);
	/* Bad arguments. */
	assert_int_equal(cvmbus_wire_decode(buf, 8, 0, 0, ANY, NULL, &st), -EINVAL);
	assert_int_equal(cvmbus_wire_decode(NULL, 8, 0, 0, ANY, &out, &st), -EINVAL);
	assert_int_equal(cvmbus_wire_decode(NULL, 0, 0, 0, ANY, &out, &st), -EMSGSIZE);
	/* st may be NULL. */
	assert_int_equal(cvmbus_wire_decode(buf, 3, 0, 0, ANY, &out, NULL), -EMSGSIZE);
}

/* ---- Fuzz ----------------------------------------------------------------- */

/* xorshift64*: deterministic, so a failure reproduces from its iteration. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#define FUZZ_ITERATIONS 200000u

/* A consistent GpadlHeader of 1-3 ranges that fit in one message, each with
 * a random first-page offset and a byte count that spans exactly its PFNs.
 * Returns the message length. */
static size_t fuzz_gpadl_header(uint8_t *buf, uint64_t *seed)
{
	unsigned want = 1u + (unsigned)(rng_next(seed) % 3u);
	unsigned count = 0, values = 0;

	for (unsigned i = 0; i < want; i++) {
		uint64_t r = rng_next(seed);
		uint32_t pages = 1u + (uint32_t)(r % 8u);
		uint32_t offset = (uint32_t)((r >> 8) % HV_PAGE_SIZE);
		uint32_t room = pages * HV_PAGE_SIZE - offset;
		uint32_t byte_count = room - (uint32_t)((r >> 24) % (room < HV_PAGE_SIZE ? room : HV_PAGE_SIZE));

		if (values + 1u + pages > CVMBUS_GPADL_HEADER_MAX_VALUES)
			break;
		memcpy(buf + 20 + 8u * values, &byte_count, 4);
		memcpy(buf + 24 + 8u * values, &offset, 4);
		values += 1u + pages; /* the PFNs stay random */
		count++;
	}
	buf[16] = (uint8_t)(8u * values);
	buf[17] = (uint8_t)((8u * values) >> 8);
	buf[18] = (uint8_t)count;
	buf[19] = 0;
	return 20u + 8u * values;
}

static void test_fuzz(void **state)
{
	const uint32_t *versions;
	size_t nversions = cvmbus_wire_known_versions(&versions);
	uint64_t seed = 0x6376626d75730001ull;
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE + 16];
	uint8_t enc[CVMBUS_WIRE_MAX_SIZE], enc2[CVMBUS_WIRE_MAX_SIZE];
	struct cvmbus_wire_msg out, out2;
	struct cvmbus_wire_status st;
	unsigned accepted = 0;
	unsigned per_type[CVMBUS_MSG_COUNT] = { 0 };

	(void)state;
	for (unsigned it = 0; it < FUZZ_ITERATIONS; it++) {
		uint64_t r = rng_next(&seed);
		uint32_t version, features, type;
		enum cvmbus_wire_dir dir = (enum cvmbus_wire_dir)(r % 3);
		size_t len;
		int rc;

		for (size_t i = 0; i < sizeof(buf); i += 8) {
			uint64_t v = rng_next(&seed);

			memcpy(buf + i, &v, 8);
		}
		/* Mostly valid types and sizes near a layout's, so the checks
		 * past the size test run often, not only the early rejections. */
		type = (uint32_t)(r >> 8) % 32u;
		if ((r >> 16) & 7)
			memcpy(buf, &type, 4);
		if ((r >> 20) & 3) {
			const struct cvmbus_wire_type_info *info = cvmbus_wire_type_info(type);

			if (info) {
				const struct cvmbus_wire_variant_info *v =
					&info->variants[(r >> 24) % info->nvariants];
				size_t span = v->max_size - v->min_size;

				len = v->min_size + (span ? 8u * ((r >> 28) % (span / 8u + 1)) : 0);
				len += (size_t)((r >> 34) % 3) - 1; /* -1, 0, +1 */
			} else {
				len = (r >> 24) % 256;
			}
		} else {
			len = (r >> 24) % 256;
		}
		if (type == CVMBUS_MSG_GPADL_HEADER && ((r >> 40) & 1)) {
			/* Random bytes almost never make a consistent range list:
			 * build one, then maybe break one byte of it. */
			memcpy(buf, &type, 4);
			len = fuzz_gpadl_header(buf, &seed);
			if ((r >> 41) & 1)
				buf[16 + (r >> 42) % (len - 16)] ^= (uint8_t)(1u << ((r >> 52) % 8));
		}
		version = ((r >> 44) & 3) == 0 ? (uint32_t)rng_next(&seed)
						: ((r >> 44) & 3) == 1 ? 0
								      : versions[(r >> 46) % nversions];
		features = ((r >> 50) & 1) ? (uint32_t)rng_next(&seed) : (uint32_t)(r >> 51) & 0xFF;

		rc = cvmbus_wire_decode(buf, len, version, features, dir, &out, &st);
		if (rc != 0) {
			assert_int_equal(rc, -cvmbus_wire_errno(st.error));
			assert_int_equal(out.variant, CVMBUS_WIRE_NONE);
			continue;
		}
		accepted++;
		per_type[out.u.hdr.msgtype]++;
		/* Accepted: re-encoding gives the same size, decodes again to the
		 * same layout, and encoding is idempotent. */
		rc = cvmbus_wire_encode(&out, enc, sizeof(enc), &st);
		assert_int_equal(rc, (int)len);
		assert_int_equal(cvmbus_wire_decode(enc, len, version, features, dir, &out2, &st), 0);
		assert_int_equal(out2.variant, out.variant);
		assert_int_equal(cvmbus_wire_encode(&out2, enc2, sizeof(enc2), &st), (int)len);
		assert_memory_equal(enc, enc2, len);
	}
	/* The generator must actually reach the accepting paths. */
	printf("fuzz: %u of %u inputs accepted, %u gpadl headers\n", accepted, FUZZ_ITERATIONS,
	       per_type[CVMBUS_MSG_GPADL_HEADER]);
	assert_true(accepted > FUZZ_ITERATIONS / 100);
	for (uint32_t t = 1; t < CVMBUS_MSG_COUNT; t++) {
		if (per_type[t] == 0)
			fail_msg("fuzz never produced an acceptable %s", cvmbus_wire_type_name(t));
	}
}

/* The SynIC envelope around random payloads. */
static void test_fuzz_envelope(void **state)
{
	uint64_t seed = 0x656e76656c6f7065ull;
	struct hv_message msg;
	struct cvmbus_wire_msg out;
	struct cvmbus_wire_status st;

	(void)state;
	for (unsigned it = 0; it < 20000; it++) {
		uint64_t r = rng_next(&seed);
		int rc;

		for (size_t i = 0; i < sizeof(msg); i += 8) {
			uint64_t v = rng_next(&seed);

			memcpy((uint8_t *)&msg + i, &v, 8);
		}
		if (r & 3)
			msg.header.message_type = HVMSG_VMBUS;
		if ((r >> 2) & 1)
			msg.header.payload_size = (uint8_t)((r >> 3) % 241);
		rc = cvmbus_wire_decode_hv_message(&msg, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_ALL,
						   CVMBUS_WIRE_DIR_ANY, &out, &st);
		if (rc != 0)
			assert_int_equal(rc, -cvmbus_wire_errno(st.error));
		else
			assert_int_equal(out.len, msg.header.payload_size);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncated_and_overlong),
		cmocka_unit_test(test_variant_sizes),
		cmocka_unit_test(test_needs_version),
		cmocka_unit_test(test_needs_feature),
		cmocka_unit_test(test_initiate_contact_client_id_rules),
		cmocka_unit_test(test_unknown_types),
		cmocka_unit_test(test_wrong_direction),
		cmocka_unit_test(test_gpadl_inconsistent),
		cmocka_unit_test(test_gpadl_builders),
		cmocka_unit_test(test_encoder_clears_reserved),
		cmocka_unit_test(test_encoder_errors),
		cmocka_unit_test(test_decode_failure_keeps_bytes),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_fuzz_envelope),
	};

	return cmocka_run_group_tests_name("wire_decode", tests, NULL, NULL);
}
