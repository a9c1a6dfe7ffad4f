/* SPDX-License-Identifier: MIT */
/*
 * One test per VMBus channel message type (and per layout of the types that
 * have several): build the message through the wire API, encode it, compare
 * with bytes written by hand from the documented layouts (Linux hyperv.h,
 * OpenVMM protocol.rs; offsets in the comments), then decode those bytes
 * and check the fields. Part of the wire layer's unit tests (tests/wire/).
 */
#include "wire_test.h"

#define TO_S CVMBUS_WIRE_TO_SERVER
#define TO_C CVMBUS_WIRE_TO_CLIENT

static const struct cvmbus_guid guid_a = GUID_A;
static const struct cvmbus_guid guid_b = GUID_B;
static const struct cvmbus_guid guid_c = GUID_C;

/* 1: OfferChannel, 196 bytes. */
static void test_offer_channel(void **state)
{
	static const uint8_t exp[196] = {
		B4(0, 0x01, 0, 0, 0),            /* msgtype 1, padding 0 */
		GUID_A_BYTES(8),                 /* if_type */
		GUID_B_BYTES(24),                /* if_instance */
		/* reserved @40..55 stay 0 */
		B2(56, 0x11, 0x00),              /* flags: enumerate | named_pipe */
		B2(58, 0x02, 0x01),              /* mmio_megabytes 0x0102 */
		B4(60, 0xde, 0xad, 0xbe, 0xef),  /* user_defined[0..3] */
		[179] = 0x7f,                    /* user_defined[119] */
		B2(180, 0x03, 0x00),             /* sub_channel_index 3 */
		B2(182, 0x05, 0x04),             /* mmio_megabytes_optional */
		B4(184, 0x2a, 0, 0, 0),          /* child_relid 42 */
		[188] = 0x05,                    /* monitor_id */
		[189] = 0x01,                    /* monitor_allocated */
		B2(190, 0x01, 0x00),             /* is_dedicated_interrupt */
		B4(192, 0x2a, 0x00, 0x02, 0x00), /* connection_id 0x2002a */
	};
	struct cvmbus_wire_msg m, d;
	struct cvmbus_msg_offer_channel *o = &m.u.offer_channel;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_OFFER_CHANNEL);
	o->if_type = guid_a;
	o->if_instance = guid_b;
	o->flags = CVMBUS_OFFER_ENUMERATE_DEVICE_INTERFACE | CVMBUS_OFFER_NAMED_PIPE_MODE;
	o->mmio_megabytes = 0x0102;
	o->user_defined[0] = 0xde;
	o->user_defined[1] = 0xad;
	o->user_defined[2] = 0xbe;
	o->user_defined[3] = 0xef;
	o->user_defined[119] = 0x7f;
	o->sub_channel_index = 3;
	o->mmio_megabytes_optional = 0x0405;
	o->child_relid = 42;
	o->monitor_id = 5;
	o->monitor_allocated = 1;
	o->is_dedicated_interrupt = 1;
	o->connection_id = 0x2002a;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_5_3, 0, TO_C, &d);

	assert_guid_equal(&d.u.offer_channel.if_type, &guid_a);
	assert_guid_equal(&d.u.offer_channel.if_instance, &guid_b);
	assert_int_equal(d.u.offer_channel.flags, 0x0011);
	assert_int_equal(d.u.offer_channel.mmio_megabytes, 0x0102);
	assert_int_equal(d.u.offer_channel.user_defined[3], 0xef);
	assert_int_equal(d.u.offer_channel.user_defined[119], 0x7f);
	assert_int_equal(d.u.offer_channel.sub_channel_index, 3);
	assert_int_equal(d.u.offer_channel.mmio_megabytes_optional, 0x0405);
	assert_int_equal(d.u.offer_channel.child_relid, 42);
	assert_int_equal(d.u.offer_channel.monitor_id, 5);
	assert_int_equal(d.u.offer_channel.monitor_allocated, 1);
	assert_int_equal(d.u.offer_channel.is_dedicated_interrupt, 1);
	assert_int_equal(d.u.offer_channel.connection_id, 0x2002a);
	assert_int_equal(cvmbus_wire_msg_type(&d), CVMBUS_MSG_OFFER_CHANNEL);
}

/* An offer with the confidential flags, under 6.0 + confidential_channels. */
static void test_offer_channel_confidential(void **state)
{
	static const uint8_t exp[196] = {
		B4(0, 0x01, 0, 0, 0),
		B2(56, 0x06, 0x00), /* confidential ring | confidential external memory */
		[188] = 0xff,       /* no monitor id */
		B4(184, 0x07, 0, 0, 0),
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_OFFER_CHANNEL);
	m.u.offer_channel.flags = CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
				  CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;
	m.u.offer_channel.monitor_id = 0xff;
	m.u.offer_channel.child_relid = 7;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_6_0,
		       CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, TO_C, &d);
	assert_int_equal(d.u.offer_channel.flags, 0x0006);
	assert_int_equal(d.u.offer_channel.monitor_id, 0xff);
}

/* 2: RescindChannelOffer, 12 bytes. */
static void test_rescind_channel_offer(void **state)
{
	static const uint8_t exp[12] = { B4(0, 0x02, 0, 0, 0), B4(8, 0x2a, 0, 0, 0) };
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_RESCIND_CHANNEL_OFFER);
	m.u.rescind_channel_offer.child_relid = 42;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_0_13, 0, TO_C, &d);
	assert_int_equal(d.u.rescind_channel_offer.child_relid, 42);
}

/* The header-only messages: 3, 4, 16, 17, 27, 28, 29. */
static void check_empty(enum cvmbus_wire_variant variant, uint8_t type, uint32_t version,
			uint32_t features, enum cvmbus_wire_dir dir)
{
	const uint8_t exp[8] = { type, 0, 0, 0, 0, 0, 0, 0 };
	struct cvmbus_wire_msg m, d;

	cvmbus_wire_msg_init(&m, variant);
	wire_roundtrip(&m, exp, sizeof(exp), version, features, dir, &d);
	assert_int_equal(cvmbus_wire_msg_type(&d), type);
	assert_int_equal(d.u.hdr.msgtype, type);
}

static void test_request_offers(void **state)
{
	(void)state;
	check_empty(CVMBUS_WIRE_REQUEST_OFFERS, 3, CVMBUS_VERSION_0_13, 0, TO_S);
}

static void test_all_offers_delivered(void **state)
{
	(void)state;
	check_empty(CVMBUS_WIRE_ALL_OFFERS_DELIVERED, 4, CVMBUS_VERSION_0_13, 0, TO_C);
}

/* 5: OpenChannel, 148 bytes. */
static void test_open_channel(void **state)
{
	static const uint8_t exp[148] = {
		B4(0, 0x05, 0, 0, 0),
		B4(8, 0x2a, 0, 0, 0),             /* child_relid */
		B4(12, 0x04, 0x03, 0x02, 0x01),   /* openid */
		B4(16, 0x10, 0x1e, 0x0e, 0x00),   /* ringbuffer_gpadl 0xe1e10 */
		B4(20, 0x03, 0, 0, 0),            /* target_vp */
		B4(24, 0x10, 0, 0, 0),            /* downstream offset: 16 pages */
		[28] = 0xab,                      /* user_data[0] */
		[147] = 0xcd,                     /* user_data[119] */
	};
	struct cvmbus_wire_msg m, d;
	struct cvmbus_msg_open_channel *o = &m.u.open_channel;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_OPEN_CHANNEL);
	o->child_relid = 42;
	o->openid = 0x01020304;
	o->ringbuffer_gpadl = 0xe1e10;
	o->target_vp = 3;
	o->downstream_ring_page_offset = 16;
	o->user_data[0] = 0xab;
	o->user_data[119] = 0xcd;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_5_3, 0, TO_S, &d);
	assert_int_equal(d.u.open_channel.child_relid, 42);
	assert_int_equal(d.u.open_channel.openid, 0x01020304);
	assert_int_equal(d.u.open_channel.ringbuffer_gpadl, 0xe1e10);
	assert_int_equal(d.u.open_channel.target_vp, 3);
	assert_int_equal(d.u.open_channel.downstream_ring_page_offset, 16);
	assert_int_equal(d.u.open_channel.user_data[0], 0xab);
	assert_int_equal(d.u.open_channel.user_data[119], 0xcd);
	/* The 156-byte fields of a 148-byte open read as zero. */
	assert_int_equal(d.u.open_channel2.connection_id, 0);

	/* Under 6.0 with only confidential_channels (what Linux negotiates) the
	 * 148-byte layout is still the one to use. */
	assert_int_equal(cvmbus_wire_decode(exp, sizeof(exp), CVMBUS_VERSION_6_0,
					    CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, TO_S, &d, NULL),
			 0);
	assert_int_equal(d.variant, CVMBUS_WIRE_OPEN_CHANNEL);
}

/* 5: OpenChannel2, 156 bytes. */
static void test_open_channel2(void **state)
{
	static const uint8_t exp[156] = {
		B4(0, 0x05, 0, 0, 0),
		B4(8, 0x2a, 0, 0, 0),
		B4(12, 0x04, 0x03, 0x02, 0x01),
		B4(16, 0x10, 0x1e, 0x0e, 0x00),
		B4(20, 0xff, 0xff, 0xff, 0xff),   /* target_vp: interrupts off */
		B4(24, 0x10, 0, 0, 0),
		[28] = 0xab,
		B4(148, 0x11, 0x20, 0x00, 0x00),  /* connection_id 0x2011 */
		B2(152, 0x11, 0x00),              /* event_flag 0x11 */
		B2(154, 0x01, 0x00),              /* flags: redirect_interrupt */
	};
	struct cvmbus_wire_msg m, d;
	struct cvmbus_msg_open_channel2 *o = &m.u.open_channel2;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_OPEN_CHANNEL2);
	o->child_relid = 42;
	o->openid = 0x01020304;
	o->ringbuffer_gpadl = 0xe1e10;
	o->target_vp = CVMBUS_VP_INDEX_DISABLE_INTERRUPT;
	o->downstream_ring_page_offset = 16;
	o->user_data[0] = 0xab;
	o->connection_id = 0x2011;
	o->event_flag = 0x11;
	o->flags = CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_6_0,
		       CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |
			       CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION,
		       TO_S, &d);
	assert_int_equal(d.u.open_channel2.child_relid, 42);
	assert_int_equal(d.u.open_channel2.target_vp, 0xffffffffu);
	assert_int_equal(d.u.open_channel2.connection_id, 0x2011);
	assert_int_equal(d.u.open_channel2.event_flag, 0x11);
	assert_int_equal(d.u.open_channel2.flags, 1);
	/* The shared leading fields read the same through the 148-byte view. */
	assert_int_equal(d.u.open_channel.openid, 0x01020304);
}

/* 6: OpenResult, 20 bytes. */
static void test_open_result(void **state)
{
	static const uint8_t exp[20] = {
		B4(0, 0x06, 0, 0, 0), B4(8, 0x2a, 0, 0, 0), B4(12, 0x04, 0x03, 0x02, 0x01),
		B4(16, 0x36, 0x02, 0x00, 0xc0), /* STATUS_CONNECTION_REFUSED */
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_OPEN_CHANNEL_RESULT);
	m.u.open_result.child_relid = 42;
	m.u.open_result.openid = 0x01020304;
	m.u.open_result.status = CVMBUS_STATUS_CONNECTION_REFUSED;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_0_13, 0, TO_C, &d);
	assert_int_equal(d.u.open_result.child_relid, 42);
	assert_int_equal(d.u.open_result.openid, 0x01020304);
	assert_int_equal(d.u.open_result.status, 0xC0000236u);
}

/* 7: CloseChannel, 12 bytes. */
static void test_close_channel(void **state)
{
	static const uint8_t exp[12] = { B4(0, 0x07, 0, 0, 0), B4(8, 0x2a, 0x01, 0, 0) };
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_CLOSE_CHANNEL);
	m.u.close_channel.child_relid = 0x12a;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_2_4, 0, TO_S, &d);
	assert_int_equal(d.u.close_channel.child_relid, 0x12a);
}

/* 8: GpadlHeader: one range of 3 pages, all in the header: 20 + 4 * 8. */
static void test_gpadl_header(void **state)
{
	static const uint8_t exp[52] = {
		B4(0, 0x08, 0, 0, 0),
		B4(8, 0x2a, 0, 0, 0),            /* child_relid */
		B4(12, 0x10, 0x1e, 0x0e, 0x00),  /* gpadl 0xe1e10 */
		B2(16, 0x20, 0x00),              /* range_buflen 32 */
		B2(18, 0x01, 0x00),              /* rangecount 1 */
		B4(20, 0x00, 0x30, 0x00, 0x00),  /* byte_count 0x3000 */
		B4(24, 0x00, 0x00, 0x00, 0x00),  /* byte_offset 0 */
		B8(28, 0x00, 0x01, 0, 0, 0, 0, 0, 0), /* pfn 0x100 */
		B8(36, 0x01, 0x01, 0, 0, 0, 0, 0, 0), /* pfn 0x101 */
		B8(44, 0x02, 0x01, 0, 0, 0, 0, 0, 0), /* pfn 0x102 */
	};
	static const uint64_t pfns[3] = { 0x100, 0x101, 0x102 };
	struct cvmbus_wire_msg m, d;

	(void)state;
	assert_int_equal(cvmbus_wire_gpadl_header_init(&m, 42, 0xe1e10, 0x3000, 0, pfns, 3), 3);
	assert_int_equal(m.data_count, 4);
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_0_13, 0, TO_S, &d);
	assert_int_equal(d.u.gpadl_header.child_relid, 42);
	assert_int_equal(d.u.gpadl_header.gpadl, 0xe1e10);
	assert_int_equal(d.u.gpadl_header.range_buflen, 32);
	assert_int_equal(d.u.gpadl_header.rangecount, 1);
	assert_int_equal(d.data_count, 4);
	assert_true(cvmbus_wire_gpadl_value(&d, 0) == 0x3000u);
	assert_true(cvmbus_wire_gpadl_value(&d, 1) == 0x100u);
	assert_true(cvmbus_wire_gpadl_value(&d, 3) == 0x102u);
}

/* 8: a GpadlHeader with two ranges, the second starting mid-page. */
static void test_gpadl_header_two_ranges(void **state)
{
	static const uint8_t exp[68] = {
		B4(0, 0x08, 0, 0, 0),
		B4(8, 0x03, 0, 0, 0),
		B4(12, 0x01, 0x00, 0x0f, 0x00),  /* gpadl 0xf0001 */
		B2(16, 0x30, 0x00),              /* range_buflen 48 */
		B2(18, 0x02, 0x00),              /* rangecount 2 */
		B4(20, 0x00, 0x10, 0, 0),        /* range 0: 0x1000 bytes */
		B4(24, 0, 0, 0, 0),              /*          at offset 0 */
		B8(28, 0x00, 0x20, 0, 0, 0, 0, 0, 0), /* pfn 0x2000 */
		B4(36, 0x00, 0x20, 0, 0),        /* range 1: 0x2000 bytes */
		B4(40, 0x10, 0x00, 0, 0),        /*          at offset 0x10: 3 pages */
		B8(44, 0x00, 0x30, 0, 0, 0, 0, 0, 0),
		B8(52, 0x01, 0x30, 0, 0, 0, 0, 0, 0),
		B8(60, 0x02, 0x30, 0, 0, 0, 0, 0, 0),
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_HEADER);
	m.u.gpadl_header.child_relid = 3;
	m.u.gpadl_header.gpadl = 0xf0001;
	m.u.gpadl_header.range_buflen = 48;
	m.u.gpadl_header.rangecount = 2;
	cvmbus_wire_gpadl_set_value(&m, 0, cvmbus_gpa_range_value(0x1000, 0));
	cvmbus_wire_gpadl_set_value(&m, 1, 0x2000);
	cvmbus_wire_gpadl_set_value(&m, 2, cvmbus_gpa_range_value(0x2000, 0x10));
	cvmbus_wire_gpadl_set_value(&m, 3, 0x3000);
	cvmbus_wire_gpadl_set_value(&m, 4, 0x3001);
	cvmbus_wire_gpadl_set_value(&m, 5, 0x3002);
	m.data_count = 6;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_5_0, 0, TO_S, &d);
	assert_int_equal(d.u.gpadl_header.rangecount, 2);
	assert_true(cvmbus_wire_gpadl_value(&d, 2) == 0x0000001000002000ull);
	assert_true(cvmbus_wire_gpadl_value(&d, 5) == 0x3002u);
}

/* 9: GpadlBody with two PFNs: 16 + 2 * 8. */
static void test_gpadl_body(void **state)
{
	static const uint8_t exp[32] = {
		B4(0, 0x09, 0, 0, 0),
		B4(8, 0x01, 0, 0, 0),            /* msgnumber */
		B4(12, 0x10, 0x1e, 0x0e, 0x00),  /* gpadl */
		B8(16, 0x1a, 0x01, 0, 0, 0, 0, 0, 0),
		B8(24, 0x1b, 0x01, 0, 0, 0x80, 0, 0, 0), /* a PFN above 4 GiB pages */
	};
	static const uint64_t pfns[2] = { 0x11a, 0x800000011bull };
	struct cvmbus_wire_msg m, d;

	(void)state;
	assert_int_equal(cvmbus_wire_gpadl_body_init(&m, 1, 0xe1e10, pfns, 2), 2);
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_0_13, 0, TO_S, &d);
	assert_int_equal(d.u.gpadl_body.msgnumber, 1);
	assert_int_equal(d.u.gpadl_body.gpadl, 0xe1e10);
	assert_int_equal(d.data_count, 2);
	assert_true(d.u.gpadl_body.pfn[1] == 0x800000011bull);
}

/* 10: GpadlCreated, 20 bytes. */
static void test_gpadl_created(void **state)
{
	static const uint8_t exp[20] = {
		B4(0, 0x0a, 0, 0, 0), B4(8, 0x2a, 0, 0, 0), B4(12, 0x10, 0x1e, 0x0e, 0x00),
		B4(16, 0xff, 0xff, 0x00, 0x80), /* STATUS_UNSUCCESSFUL */
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_CREATED);
	m.u.gpadl_created.child_relid = 42;
	m.u.gpadl_created.gpadl = 0xe1e10;
	m.u.gpadl_created.creation_status = CVMBUS_STATUS_UNSUCCESSFUL;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_0_13, 0, TO_C, &d);
	assert_int_equal(d.u.gpadl_created.child_relid, 42);
	assert_int_equal(d.u.gpadl_created.gpadl, 0xe1e10);
	assert_int_equal(d.u.gpadl_created.creation_status, 0x8000FFFFu);
}

/* 11: GpadlTeardown, 16 bytes. */
static void test_gpadl_teardown(void **state)
{
	static const uint8_t exp[16] = {
		B4(0, 0x0b, 0, 0, 0), B4(8, 0x2a, 0, 0, 0), B4(12, 0x10, 0x1e, 0x0e, 0x00),
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_TEARDOWN);
	m.u.gpadl_teardown.child_relid = 42;
	m.u.gpadl_teardown.gpadl = 0xe1e10;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_0_13, 0, TO_S, &d);
	assert_int_equal(d.u.gpadl_teardown.child_relid, 42);
	assert_int_equal(d.u.gpadl_teardown.gpadl, 0xe1e10);
}

/* 12: GpadlTorndown, 12 bytes. */
static void test_gpadl_torndown(void **state)
{
	static const uint8_t exp[12] = { B4(0, 0x0c, 0, 0, 0), B4(8, 0x10, 0x1e, 0x0e, 0x00) };
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_TORNDOWN);
	m.u.gpadl_torndown.gpadl = 0xe1e10;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_0_13, 0, TO_C, &d);
	assert_int_equal(d.u.gpadl_torndown.gpadl, 0xe1e10);
}

/* 13: RelIdReleased, 12 bytes. */
static void test_relid_released(void **state)
{
	static const uint8_t exp[12] = { B4(0, 0x0d, 0, 0, 0), B4(8, 0xff, 0x07, 0, 0) };
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_RELID_RELEASED);
	m.u.relid_released.child_relid = 2047;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_0_13, 0, TO_S, &d);
	assert_int_equal(d.u.relid_released.child_relid, 2047);
}

/* 14: InitiateContact for 6.0, as Linux sends it with Confidential VMBus. */
static void test_initiate_contact(void **state)
{
	static const uint8_t exp[40] = {
		B4(0, 0x0e, 0, 0, 0),
		B4(8, 0x00, 0x00, 0x06, 0x00),   /* version 6.0 */
		B4(12, 0x01, 0, 0, 0),           /* target_vcpu 1 */
		[16] = 0x02,                     /* msg_sint 2 */
		[17] = 0x00,                     /* msg_vtl 0 */
		B4(20, 0x10, 0, 0, 0),           /* feature_flags: confidential_channels */
		B8(24, 0x00, 0x00, 0x20, 0x00, 0x01, 0, 0, 0), /* monitor_page1 */
		B8(32, 0x00, 0x10, 0x20, 0x00, 0x01, 0, 0, 0), /* monitor_page2 */
	};
	struct cvmbus_wire_msg m, d;
	struct cvmbus_msg_initiate_contact *ic = &m.u.initiate_contact;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_INITIATE_CONTACT);
	ic->version_requested = CVMBUS_VERSION_6_0;
	ic->target_vcpu = 1;
	ic->msg_sint = 2;
	ic->msg_vtl = 0;
	ic->feature_flags = CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
	ic->parent_to_child_monitor_gpa = 0x100200000ull;
	ic->child_to_parent_monitor_gpa = 0x100201000ull;
	/* Version 0: InitiateContact is what creates the connection. */
	wire_roundtrip(&m, exp, sizeof(exp), 0, 0, TO_S, &d);
	assert_int_equal(d.u.initiate_contact.version_requested, 0x00060000);
	assert_int_equal(d.u.initiate_contact.target_vcpu, 1);
	assert_int_equal(d.u.initiate_contact.msg_sint, 2);
	assert_int_equal(d.u.initiate_contact.msg_vtl, 0);
	assert_int_equal(d.u.initiate_contact.feature_flags, 0x10);
	assert_true(d.u.initiate_contact.parent_to_child_monitor_gpa == 0x100200000ull);
	assert_true(d.u.initiate_contact.child_to_parent_monitor_gpa == 0x100201000ull);
}

/* 14: InitiateContact before 5.0: the u64 at 16 is the interrupt page, and
 * its bytes 18-19 are address bits, not reserved, so the encoder keeps them. */
static void test_initiate_contact_interrupt_page(void **state)
{
	static const uint8_t exp[40] = {
		B4(0, 0x0e, 0, 0, 0),
		B4(8, 0x00, 0x00, 0x04, 0x00),   /* version 4.0 */
		B8(16, 0x00, 0x60, 0x45, 0x23, 0x01, 0, 0, 0), /* interrupt_page */
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_INITIATE_CONTACT);
	m.u.initiate_contact.version_requested = CVMBUS_VERSION_4_0;
	m.u.initiate_contact.interrupt_page = 0x123456000ull;
	wire_roundtrip(&m, exp, sizeof(exp), 0, 0, TO_S, &d);
	assert_true(d.u.initiate_contact.interrupt_page == 0x123456000ull);
}

/* 14: InitiateContact with a client id, 56 bytes. */
static void test_initiate_contact_client_id(void **state)
{
	static const uint8_t exp[56] = {
		B4(0, 0x0e, 0, 0, 0),
		B4(8, 0x00, 0x00, 0x06, 0x00),
		[16] = 0x02, [17] = 0x02,        /* SINT 2, VTL 2 */
		B4(20, 0x18, 0, 0, 0),           /* client_id | confidential_channels */
		GUID_C_BYTES(40),
	};
	struct cvmbus_wire_msg m, d;
	struct cvmbus_msg_initiate_contact_client_id *ic = &m.u.initiate_contact_client_id;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_INITIATE_CONTACT_CLIENT_ID);
	ic->version_requested = CVMBUS_VERSION_6_0;
	ic->msg_sint = 2;
	ic->msg_vtl = 2;
	ic->feature_flags = CVMBUS_FEATURE_CLIENT_ID | CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
	ic->client_id = guid_c;
	wire_roundtrip(&m, exp, sizeof(exp), 0, 0, TO_S, &d);
	assert_int_equal(d.u.initiate_contact_client_id.feature_flags, 0x18);
	assert_int_equal(d.u.initiate_contact_client_id.msg_vtl, 2);
	assert_guid_equal(&d.u.initiate_contact_client_id.client_id, &guid_c);
	/* The 40-byte view of the same message reads the same leading fields. */
	assert_int_equal(d.u.initiate_contact.version_requested, CVMBUS_VERSION_6_0);
}

/* 15: VersionResponse, 16 bytes (the client asked for 5.3). */
static void test_version_response(void **state)
{
	static const uint8_t exp[16] = {
		B4(0, 0x0f, 0, 0, 0),
		[8] = 0x01,                      /* version_supported */
		[9] = 0x00,                      /* connection_state: successful */
		B4(12, 0x04, 0, 0, 0),           /* msg_conn_id 4 */
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_VERSION_RESPONSE);
	m.u.version_response.version_supported = 1;
	m.u.version_response.connection_state = CVMBUS_CONNECTION_SUCCESSFUL;
	m.u.version_response.msg_conn_id = 4;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_5_3, 0, TO_C, &d);
	assert_int_equal(d.u.version_response.version_supported, 1);
	assert_int_equal(d.u.version_response.connection_state, 0);
	assert_int_equal(d.u.version_response.msg_conn_id, 4);
}

/* 15: VersionResponse2, 20 bytes: a 6.0 answer with supported features. */
static void test_version_response2(void **state)
{
	static const uint8_t exp[20] = {
		B4(0, 0x0f, 0, 0, 0), [8] = 0x01, [9] = 0x00, B4(12, 0x04, 0, 0, 0),
		B4(16, 0x10, 0, 0, 0), /* supported_features: confidential_channels */
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_VERSION_RESPONSE2);
	m.u.version_response2.version_supported = 1;
	m.u.version_response2.msg_conn_id = 4;
	m.u.version_response2.supported_features = CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_6_0,
		       CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS | CVMBUS_FEATURE_CLIENT_ID, TO_C, &d);
	assert_int_equal(d.u.version_response2.supported_features, 0x10);
	assert_int_equal(d.u.version_response2.msg_conn_id, 4);
}

/* 15: VersionResponse3, 40 bytes: server-specified monitor pages. */
static void test_version_response3(void **state)
{
	static const uint8_t exp[40] = {
		B4(0, 0x0f, 0, 0, 0), [8] = 0x01, [9] = 0x00, B4(12, 0x01, 0, 0, 0),
		B4(16, 0x50, 0, 0, 0),                       /* 0x40 | 0x10 */
		B8(24, 0x00, 0xf0, 0x56, 0x04, 0, 0, 0, 0),  /* p2c 0x456f000 */
		B8(32, 0x00, 0xf0, 0x54, 0x06, 0, 0, 0, 0),  /* c2p 0x654f000 */
	};
	struct cvmbus_wire_msg m, d;
	struct cvmbus_msg_version_response3 *vr = &m.u.version_response3;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_VERSION_RESPONSE3);
	vr->version_supported = 1;
	vr->msg_conn_id = 1;
	vr->supported_features = CVMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES |
				 CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
	vr->parent_to_child_monitor_gpa = 0x456f000;
	vr->child_to_parent_monitor_gpa = 0x654f000;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_6_0, 0x50, TO_C, &d);
	assert_int_equal(d.u.version_response3.supported_features, 0x50);
	assert_true(d.u.version_response3.parent_to_child_monitor_gpa == 0x456f000);
	assert_true(d.u.version_response3.child_to_parent_monitor_gpa == 0x654f000);
}

static void test_unload(void **state)
{
	(void)state;
	check_empty(CVMBUS_WIRE_UNLOAD, 16, CVMBUS_VERSION_3_0, 0, TO_S);
}

static void test_unload_response(void **state)
{
	(void)state;
	check_empty(CVMBUS_WIRE_UNLOAD_RESPONSE, 17, CVMBUS_VERSION_3_0, 0, TO_C);
}

/* 18: OpenReservedChannel, 28 bytes. */
static void test_open_reserved_channel(void **state)
{
	static const uint8_t exp[28] = {
		B4(0, 0x12, 0, 0, 0), B4(8, 0x2a, 0, 0, 0), B4(12, 0x01, 0, 0, 0),
		B4(16, 0x07, 0, 0, 0), B4(20, 0x11, 0x1e, 0x0e, 0x00), B4(24, 0x08, 0, 0, 0),
	};
	struct cvmbus_wire_msg m, d;
	struct cvmbus_msg_open_reserved_channel *o = &m.u.open_reserved_channel;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_OPEN_RESERVED_CHANNEL);
	o->child_relid = 42;
	o->target_vp = 1;
	o->target_sint = 7;
	o->ringbuffer_gpadl = 0xe1e11;
	o->downstream_page_offset = 8;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_4_0, 0, TO_S, &d);
	assert_int_equal(d.u.open_reserved_channel.target_sint, 7);
	assert_int_equal(d.u.open_reserved_channel.ringbuffer_gpadl, 0xe1e11);
	assert_int_equal(d.u.open_reserved_channel.downstream_page_offset, 8);
}

/* 19: CloseReservedChannel, 20 bytes; accepted while disconnected. */
static void test_close_reserved_channel(void **state)
{
	static const uint8_t exp[20] = {
		B4(0, 0x13, 0, 0, 0), B4(8, 0x2a, 0, 0, 0), B4(12, 0x01, 0, 0, 0),
		B4(16, 0x07, 0, 0, 0),
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_CLOSE_RESERVED_CHANNEL);
	m.u.close_reserved_channel.child_relid = 42;
	m.u.close_reserved_channel.target_vp = 1;
	m.u.close_reserved_channel.target_sint = 7;
	wire_roundtrip(&m, exp, sizeof(exp), 0, 0, TO_S, &d);
	assert_int_equal(d.u.close_reserved_channel.child_relid, 42);
	assert_int_equal(d.u.close_reserved_channel.target_vp, 1);
	assert_int_equal(d.u.close_reserved_channel.target_sint, 7);
}

/* 20: CloseReservedResponse, 12 bytes. */
static void test_close_reserved_response(void **state)
{
	static const uint8_t exp[12] = { B4(0, 0x14, 0, 0, 0), B4(8, 0x2a, 0, 0, 0) };
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_CLOSE_RESERVED_RESPONSE);
	m.u.close_reserved_response.child_relid = 42;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_4_0, 0, TO_C, &d);
	assert_int_equal(d.u.close_reserved_response.child_relid, 42);
}

/* 21: TlConnectRequest, 40 bytes. */
static void test_tl_connect_request(void **state)
{
	static const uint8_t exp[40] = { B4(0, 0x15, 0, 0, 0), GUID_A_BYTES(8), GUID_B_BYTES(24) };
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_TL_CONNECT_REQUEST);
	m.u.tl_connect_request.guest_endpoint_id = guid_a;
	m.u.tl_connect_request.host_service_id = guid_b;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_4_0, 0, TO_S, &d);
	assert_guid_equal(&d.u.tl_connect_request.guest_endpoint_id, &guid_a);
	assert_guid_equal(&d.u.tl_connect_request.host_service_id, &guid_b);
	/* Clients may keep the old layout under 5.2: still accepted. */
	assert_int_equal(cvmbus_wire_decode(exp, sizeof(exp), CVMBUS_VERSION_6_0, 0, TO_S, &d,
					    NULL),
			 0);
}

/* 21: TlConnectRequest2, 56 bytes (5.2). */
static void test_tl_connect_request2(void **state)
{
	static const uint8_t exp[56] = {
		B4(0, 0x15, 0, 0, 0), GUID_A_BYTES(8), GUID_B_BYTES(24), GUID_C_BYTES(40),
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_TL_CONNECT_REQUEST2);
	m.u.tl_connect_request2.guest_endpoint_id = guid_a;
	m.u.tl_connect_request2.host_service_id = guid_b;
	m.u.tl_connect_request2.silo_id = guid_c;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_5_2, 0, TO_S, &d);
	assert_guid_equal(&d.u.tl_connect_request2.silo_id, &guid_c);
	assert_guid_equal(&d.u.tl_connect_request2.host_service_id, &guid_b);
}

/* 22: ModifyChannel, 16 bytes. */
static void test_modify_channel(void **state)
{
	static const uint8_t exp[16] = { B4(0, 0x16, 0, 0, 0), B4(8, 0x2a, 0, 0, 0),
					 B4(12, 0x02, 0, 0, 0) };
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_MODIFY_CHANNEL);
	m.u.modify_channel.child_relid = 42;
	m.u.modify_channel.target_vp = 2;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_4_1, 0, TO_S, &d);
	assert_int_equal(d.u.modify_channel.child_relid, 42);
	assert_int_equal(d.u.modify_channel.target_vp, 2);
}

/* 23: TlConnectResult, 44 bytes. */
static void test_tl_connect_result(void **state)
{
	static const uint8_t exp[44] = {
		B4(0, 0x17, 0, 0, 0), GUID_A_BYTES(8), GUID_B_BYTES(24),
		B4(40, 0x36, 0x02, 0x00, 0xc0),
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_TL_CONNECT_RESULT);
	m.u.tl_connect_result.guest_endpoint_id = guid_a;
	m.u.tl_connect_result.host_service_id = guid_b;
	m.u.tl_connect_result.status = CVMBUS_STATUS_CONNECTION_REFUSED;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_4_1, 0, TO_C, &d);
	assert_guid_equal(&d.u.tl_connect_result.guest_endpoint_id, &guid_a);
	assert_int_equal(d.u.tl_connect_result.status, 0xC0000236u);
}

/* 24: ModifyChannelResponse, 16 bytes (5.3). */
static void test_modify_channel_response(void **state)
{
	static const uint8_t exp[16] = { B4(0, 0x18, 0, 0, 0), B4(8, 0x2a, 0, 0, 0),
					 B4(12, 0xff, 0xff, 0x00, 0x80) };
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_MODIFY_CHANNEL_RESPONSE);
	m.u.modify_channel_response.child_relid = 42;
	m.u.modify_channel_response.status = CVMBUS_STATUS_UNSUCCESSFUL;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_5_3, 0, TO_C, &d);
	assert_int_equal(d.u.modify_channel_response.child_relid, 42);
	assert_int_equal(d.u.modify_channel_response.status, 0x8000FFFFu);
}

/* 25: ModifyConnection, 24 bytes (6.0 + modify_connection). */
static void test_modify_connection(void **state)
{
	static const uint8_t exp[24] = {
		B4(0, 0x19, 0, 0, 0),
		B8(8, 0x00, 0xf0, 0x21, 0x03, 0, 0, 0, 0),
		B8(16, 0x00, 0xf0, 0x23, 0x01, 0, 0, 0, 0),
	};
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_MODIFY_CONNECTION);
	m.u.modify_connection.parent_to_child_monitor_gpa = 0x321f000;
	m.u.modify_connection.child_to_parent_monitor_gpa = 0x123f000;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_6_0, CVMBUS_FEATURE_MODIFY_CONNECTION,
		       TO_S, &d);
	assert_true(d.u.modify_connection.parent_to_child_monitor_gpa == 0x321f000);
	assert_true(d.u.modify_connection.child_to_parent_monitor_gpa == 0x123f000);
}

/* 26: ModifyConnectionResponse, 9 bytes. */
static void test_modify_connection_response(void **state)
{
	static const uint8_t exp[9] = { B4(0, 0x1a, 0, 0, 0), [8] = 0x01 };
	struct cvmbus_wire_msg m, d;

	(void)state;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_MODIFY_CONNECTION_RESPONSE);
	m.u.modify_connection_response.connection_state = CVMBUS_CONNECTION_FAILED_LOW_RESOURCES;
	wire_roundtrip(&m, exp, sizeof(exp), CVMBUS_VERSION_6_0, CVMBUS_FEATURE_MODIFY_CONNECTION,
		       TO_C, &d);
	assert_int_equal(d.u.modify_connection_response.connection_state, 1);
}

static void test_pause(void **state)
{
	(void)state;
	check_empty(CVMBUS_WIRE_PAUSE, 27, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_PAUSE_RESUME, TO_S);
}

static void test_pause_response(void **state)
{
	(void)state;
	check_empty(CVMBUS_WIRE_PAUSE_RESPONSE, 28, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_PAUSE_RESUME,
		    TO_C);
}

static void test_resume(void **state)
{
	(void)state;
	check_empty(CVMBUS_WIRE_RESUME, 29, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_PAUSE_RESUME, TO_S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer_channel),
		cmocka_unit_test(test_offer_channel_confidential),
		cmocka_unit_test(test_rescind_channel_offer),
		cmocka_unit_test(test_request_offers),
		cmocka_unit_test(test_all_offers_delivered),
		cmocka_unit_test(test_open_channel),
		cmocka_unit_test(test_open_channel2),
		cmocka_unit_test(test_open_result),
		cmocka_unit_test(test_close_channel),
		cmocka_unit_test(test_gpadl_header),
		cmocka_unit_test(test_gpadl_header_two_ranges),
		cmocka_unit_test(test_gpadl_body),
		cmocka_unit_test(test_gpadl_created),
		cmocka_unit_test(test_gpadl_teardown),
		cmocka_unit_test(test_gpadl_torndown),
		cmocka_unit_test(test_relid_released),
		cmocka_unit_test(test_initiate_contact),
		cmocka_unit_test(test_initiate_contact_interrupt_page),
		cmocka_unit_test(test_initiate_contact_client_id),
		cmocka_unit_test(test_version_response),
		cmocka_unit_test(test_version_response2),
		cmocka_unit_test(test_version_response3),
		cmocka_unit_test(test_unload),
		cmocka_unit_test(test_unload_response),
		cmocka_unit_test(test_open_reserved_channel),
		cmocka_unit_test(test_close_reserved_channel),
		cmocka_unit_test(test_close_reserved_response),
		cmocka_unit_test(test_tl_connect_request),
		cmocka_unit_test(test_tl_connect_request2),
		cmocka_unit_test(test_modify_channel),
		cmocka_unit_test(test_tl_connect_result),
		cmocka_unit_test(test_modify_channel_response),
		cmocka_unit_test(test_modify_connection),
		cmocka_unit_test(test_modify_connection_response),
		cmocka_unit_test(test_pause),
		cmocka_unit_test(test_pause_response),
		cmocka_unit_test(test_resume),
	};

	return cmocka_run_group_tests_name("wire_messages", tests, NULL, NULL);
}
