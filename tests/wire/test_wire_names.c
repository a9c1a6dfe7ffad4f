/* SPDX-License-Identifier: MIT */
/*
 * The wire layer's vocabulary and table: version constants, names and
 * parsing, message type and layout names, flag-set and hex formatting,
 * GUIDs, the error texts, the protocol table's sizes against the documented
 * ones, and the SynIC envelope helpers. Part of tests/wire/.
 */
#include <stdio.h>
#include <stdlib.h>

#include "wire_test.h"

static void test_version_constants(void **state)
{
	(void)state;
	/* The values, written out from the Linux and OpenVMM headers. */
	assert_int_equal(CVMBUS_VERSION_0_13, 0x0000000D);
	assert_int_equal(CVMBUS_VERSION_1_1, 0x00010001);
	assert_int_equal(CVMBUS_VERSION_2_4, 0x00020004);
	assert_int_equal(CVMBUS_VERSION_3_0, 0x00030000);
	assert_int_equal(CVMBUS_VERSION_4_0, 0x00040000);
	assert_int_equal(CVMBUS_VERSION_4_1, 0x00040001);
	assert_int_equal(CVMBUS_VERSION_5_0, 0x00050000);
	assert_int_equal(CVMBUS_VERSION_5_1, 0x00050001);
	assert_int_equal(CVMBUS_VERSION_5_2, 0x00050002);
	assert_int_equal(CVMBUS_VERSION_5_3, 0x00050003);
	assert_int_equal(CVMBUS_VERSION_6_0, 0x00060000);
	assert_int_equal(CVMBUS_MAKE_VERSION(65535, 65535), 0xFFFFFFFFu);
	assert_int_equal(CVMBUS_VERSION_MAJOR(0x00050003), 5);
	assert_int_equal(CVMBUS_VERSION_MINOR(0x00050003), 3);
	assert_int_equal(CVMBUS_STATUS_UNSUCCESSFUL, 0x8000FFFFu);
	assert_int_equal(CVMBUS_STATUS_CONNECTION_REFUSED, 0xC0000236u);
	assert_int_equal(CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, 0x10);
	assert_int_equal(CVMBUS_FEATURE_GPA_PINNING, 0x80);
	assert_int_equal(CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER, 0x2);
	assert_int_equal(CVMBUS_OFFER_TLNPI_PROVIDER, 0x2000);
	assert_int_equal(CVMBUS_OFFER_KNOWN_FLAGS,
			 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x100 | 0x200 | 0x400 | 0x2000);
}

static void test_versions(void **state)
{
	const uint32_t *v;
	size_t n = cvmbus_wire_known_versions(&v);
	char buf[32];
	uint32_t out = 0;

	(void)state;
	assert_int_equal(n, 11);
	assert_int_equal(v[0], CVMBUS_VERSION_0_13);
	assert_int_equal(v[n - 1], CVMBUS_VERSION_6_0);
	for (size_t i = 1; i < n; i++)
		assert_true(v[i] > v[i - 1]);
	for (size_t i = 0; i < n; i++) {
		assert_true(cvmbus_wire_version_known(v[i]));
		/* Every known version formats and parses back to itself. */
		cvmbus_wire_version_format(v[i], buf, sizeof(buf));
		assert_int_equal(cvmbus_wire_version_parse(buf, &out), 0);
		assert_int_equal(out, v[i]);
	}
	assert_false(cvmbus_wire_version_known(CVMBUS_MAKE_VERSION(5, 4)));
	assert_false(cvmbus_wire_version_known(0));

	assert_int_equal(cvmbus_wire_version_format(0x00050003, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "5.3");
	cvmbus_wire_version_format(0x0000000D, buf, sizeof(buf));
	assert_string_equal(buf, "0.13");
	cvmbus_wire_version_format(0xFFFFFFFF, buf, sizeof(buf));
	assert_string_equal(buf, "65535.65535");

	assert_int_equal(cvmbus_wire_version_parse("6.0", &out), 0);
	assert_int_equal(out, 0x00060000);
	assert_int_equal(cvmbus_wire_version_parse("0.13", &out), 0);
	assert_int_equal(out, 0x0000000D);
	assert_int_equal(cvmbus_wire_version_parse("7.1", &out), 0); /* unknown but well-formed */
	assert_int_equal(out, 0x00070001);
	static const char *const bad[] = { "", "5", "5.", ".3", "5.3.1", "65536.0", "0.65536",
					   " 5.3", "5.3 ", "5.3x", "-1.0", "+5.3", "123456.0",
					   "5,3", "a.b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = 0x1234;
		assert_int_equal(cvmbus_wire_version_parse(bad[i], &out), -EINVAL);
		assert_int_equal(out, 0x1234); /* untouched on failure */
	}
	assert_int_equal(cvmbus_wire_version_parse(NULL, &out), -EINVAL);
}

static void test_type_and_variant_names(void **state)
{
	unsigned seen[CVMBUS_WIRE_VARIANT_COUNT] = { 0 };

	(void)state;
	assert_string_equal(cvmbus_wire_type_name(1), "offer_channel");
	assert_string_equal(cvmbus_wire_type_name(15), "version_response");
	assert_string_equal(cvmbus_wire_type_name(29), "resume");
	assert_string_equal(cvmbus_wire_type_name(0), "unknown");
	assert_string_equal(cvmbus_wire_type_name(30), "unknown");
	assert_string_equal(cvmbus_wire_variant_name(CVMBUS_WIRE_OPEN_CHANNEL2), "open_channel2");
	assert_string_equal(cvmbus_wire_variant_name(CVMBUS_WIRE_NONE), "none");
	assert_null(cvmbus_wire_type_info(0));
	assert_null(cvmbus_wire_type_info(CVMBUS_MSG_COUNT));

	/* Every type has a row; every variant appears in exactly one row, and
	 * maps back to it. */
	for (uint32_t t = 1; t < CVMBUS_MSG_COUNT; t++) {
		const struct cvmbus_wire_type_info *info = cvmbus_wire_type_info(t);

		assert_non_null(info);
		assert_int_equal(info->type, t);
		assert_non_null(info->name);
		assert_true(info->nvariants >= 1 && info->nvariants <= CVMBUS_WIRE_MAX_VARIANTS);
		for (unsigned i = 0; i < info->nvariants; i++) {
			const struct cvmbus_wire_variant_info *v = &info->variants[i];
			const struct cvmbus_wire_type_info *back = NULL;

			assert_true(v->variant > CVMBUS_WIRE_NONE &&
				    v->variant < CVMBUS_WIRE_VARIANT_COUNT);
			seen[v->variant]++;
			assert_ptr_equal(cvmbus_wire_variant_info(v->variant, &back), v);
			assert_ptr_equal(back, info);
			assert_true(v->min_size >= 8 && v->max_size <= 240);
			/* Largest first. */
			if (i > 0)
				assert_true(v->max_size < info->variants[i - 1].min_size);
		}
	}
	for (unsigned v = 1; v < CVMBUS_WIRE_VARIANT_COUNT; v++)
		assert_int_equal(seen[v], 1);
}

/* The table's sizes against the documented ones, written out here. */
static void test_table_sizes(void **state)
{
	static const struct {
		enum cvmbus_wire_variant variant;
		uint16_t min, max;
		uint32_t version, features;
	} doc[] = {
		{ CVMBUS_WIRE_OFFER_CHANNEL, 196, 196, 0x0000000D, 0 },
		{ CVMBUS_WIRE_RESCIND_CHANNEL_OFFER, 12, 12, 0x0000000D, 0 },
		{ CVMBUS_WIRE_REQUEST_OFFERS, 8, 8, 0x0000000D, 0 },
		{ CVMBUS_WIRE_ALL_OFFERS_DELIVERED, 8, 8, 0x0000000D, 0 },
		{ CVMBUS_WIRE_OPEN_CHANNEL, 148, 148, 0x0000000D, 0 },
		{ CVMBUS_WIRE_OPEN_CHANNEL2, 156, 156, 0x00060000, 0x3 },
		{ CVMBUS_WIRE_OPEN_CHANNEL_RESULT, 20, 20, 0x0000000D, 0 },
		{ CVMBUS_WIRE_CLOSE_CHANNEL, 12, 12, 0x0000000D, 0 },
		{ CVMBUS_WIRE_GPADL_HEADER, 28, 236, 0x0000000D, 0 },
		{ CVMBUS_WIRE_GPADL_BODY, 24, 240, 0x0000000D, 0 },
		{ CVMBUS_WIRE_GPADL_CREATED, 20, 20, 0x0000000D, 0 },
		{ CVMBUS_WIRE_GPADL_TEARDOWN, 16, 16, 0x0000000D, 0 },
		{ CVMBUS_WIRE_GPADL_TORNDOWN, 12, 12, 0x0000000D, 0 },
		{ CVMBUS_WIRE_RELID_RELEASED, 12, 12, 0x0000000D, 0 },
		{ CVMBUS_WIRE_INITIATE_CONTACT, 40, 40, 0, 0 },
		{ CVMBUS_WIRE_INITIATE_CONTACT_CLIENT_ID, 56, 56, 0, 0 },
		{ CVMBUS_WIRE_VERSION_RESPONSE, 16, 16, 0, 0 },
		{ CVMBUS_WIRE_VERSION_RESPONSE2, 20, 20, 0x00060000, 0 },
		{ CVMBUS_WIRE_VERSION_RESPONSE3, 40, 40, 0x00060000, 0x40 },
		{ CVMBUS_WIRE_UNLOAD, 8, 8, 0x0000000D, 0 },
		{ CVMBUS_WIRE_UNLOAD_RESPONSE, 8, 8, 0x00010001, 0 },
		{ CVMBUS_WIRE_OPEN_RESERVED_CHANNEL, 28, 28, 0x00040000, 0 },
		{ CVMBUS_WIRE_CLOSE_RESERVED_CHANNEL, 20, 20, 0, 0 },
		{ CVMBUS_WIRE_CLOSE_RESERVED_RESPONSE, 12, 12, 0x00040000, 0 },
		{ CVMBUS_WIRE_TL_CONNECT_REQUEST, 40, 40, 0x00040000, 0 },
		{ CVMBUS_WIRE_TL_CONNECT_REQUEST2, 56, 56, 0x00050002, 0 },
		{ CVMBUS_WIRE_MODIFY_CHANNEL, 16, 16, 0x00040001, 0 },
		{ CVMBUS_WIRE_TL_CONNECT_RESULT, 44, 44, 0x00040001, 0 },
		{ CVMBUS_WIRE_MODIFY_CHANNEL_RESPONSE, 16, 16, 0x00050003, 0 },
		{ CVMBUS_WIRE_MODIFY_CONNECTION, 24, 24, 0x00060000, 0x4 },
		{ CVMBUS_WIRE_MODIFY_CONNECTION_RESPONSE, 9, 9, 0x00060000, 0x4 },
		{ CVMBUS_WIRE_PAUSE, 8, 8, 0x00060000, 0x20 },
		{ CVMBUS_WIRE_PAUSE_RESPONSE, 8, 8, 0x00060000, 0x20 },
		{ CVMBUS_WIRE_RESUME, 8, 8, 0x00060000, 0x20 },
	};

	(void)state;
	assert_int_equal(sizeof(doc) / sizeof(doc[0]), CVMBUS_WIRE_VARIANT_COUNT - 1);
	for (size_t i = 0; i < sizeof(doc) / sizeof(doc[0]); i++) {
		const struct cvmbus_wire_variant_info *v = cvmbus_wire_variant_info(doc[i].variant, NULL);

		assert_non_null(v);
		assert_int_equal(v->min_size, doc[i].min);
		assert_int_equal(v->max_size, doc[i].max);
		assert_int_equal(v->min_version, doc[i].version);
		assert_int_equal(v->features_any, doc[i].features);
	}
}

static void test_flag_formatting(void **state)
{
	char buf[256];
	char small[10];

	(void)state;
	assert_int_equal(cvmbus_wire_features_format(0, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "0");
	cvmbus_wire_features_format(0x18, buf, sizeof(buf));
	assert_string_equal(buf, "client_id|confidential_channels");
	cvmbus_wire_features_format(0x100, buf, sizeof(buf));
	assert_string_equal(buf, "0x100");
	cvmbus_wire_features_format(0x111, buf, sizeof(buf));
	assert_string_equal(buf, "guest_specified_signal_parameters|confidential_channels|0x100");
	cvmbus_wire_features_format(0xC0, buf, sizeof(buf));
	assert_string_equal(buf, "server_specified_monitor_pages|gpa_pinning");
	/* Truncation keeps a terminated prefix and reports the full length. */
	assert_int_equal(cvmbus_wire_features_format(0x18, small, sizeof(small)),
			 (int)strlen("client_id|confidential_channels"));
	assert_string_equal(small, "client_id");

	cvmbus_wire_offer_flags_format(0x2006, buf, sizeof(buf));
	assert_string_equal(buf, "confidential_ring_buffer|confidential_external_memory|"
				 "tlnpi_provider");
	cvmbus_wire_offer_flags_format(0x0700, buf, sizeof(buf));
	assert_string_equal(buf, "loopback|parent_offer|request_monitored_notification");
	cvmbus_wire_offer_flags_format(0x8020, buf, sizeof(buf));
	assert_string_equal(buf, "0x8020");
}

static void test_hex_and_guid(void **state)
{
	static const uint8_t bytes[] = { 0x00, 0xab, 0xff, 0x10 };
	static const struct cvmbus_guid a = GUID_A;
	static const uint8_t a_bytes[16] = { GUID_A_BYTES(0) };
	struct cvmbus_guid g;
	char buf[64];

	(void)state;
	assert_int_equal(cvmbus_wire_hex(bytes, 4, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "00abff10");
	assert_int_equal(cvmbus_wire_hex(bytes, 4, buf, 4), 8);
	assert_string_equal(buf, "00");
	assert_int_equal(cvmbus_wire_hex(bytes, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	/* The struct matches the wire bytes of the GUID. */
	assert_memory_equal(&a, a_bytes, 16);
	cvmbus_guid_format(&a, buf);
	assert_string_equal(buf, "11223344-5566-7788-99aa-bbccddeeff00");
	assert_int_equal(cvmbus_guid_parse("11223344-5566-7788-99AA-BBCCDDEEFF00", &g), 0);
	assert_guid_equal(&g, &a);
	assert_int_equal(cvmbus_guid_parse("11223344-5566-7788-99aa-bbccddeeff0", &g), -EINVAL);
	assert_int_equal(cvmbus_guid_parse("11223344-5566-7788-99aa-bbccddeeff0g", &g), -EINVAL);
	assert_int_equal(cvmbus_guid_parse("11223344+5566-7788-99aa-bbccddeeff00", &g), -EINVAL);
	assert_int_equal(cvmbus_guid_parse("{1223344-5566-7788-99aa-bbccddeeff00", &g), -EINVAL);
}

static void test_errors_text(void **state)
{
	struct cvmbus_wire_status st;
	char buf[160];

	(void)state;
	for (int e = 0; e < CVMBUS_WIRE_ERROR_COUNT; e++) {
		assert_non_null(cvmbus_wire_strerror((enum cvmbus_wire_error)e));
		for (int f = 0; f < e; f++)
			assert_string_not_equal(cvmbus_wire_strerror((enum cvmbus_wire_error)e),
						cvmbus_wire_strerror((enum cvmbus_wire_error)f));
	}
	assert_string_equal(cvmbus_wire_strerror((enum cvmbus_wire_error)99), "unknown error");
	assert_int_equal(cvmbus_wire_errno(CVMBUS_WIRE_E_TOO_SHORT), EMSGSIZE);
	assert_int_equal(cvmbus_wire_errno(CVMBUS_WIRE_E_NEEDS_VERSION), EPROTO);
	assert_int_equal(cvmbus_wire_errno(CVMBUS_WIRE_OK), 0);

	memset(&st, 0, sizeof(st));
	st.error = CVMBUS_WIRE_E_NEEDS_VERSION;
	st.type = CVMBUS_MSG_OPEN_CHANNEL;
	st.need_version = CVMBUS_VERSION_6_0;
	st.have_version = CVMBUS_VERSION_5_3;
	cvmbus_wire_status_format(&st, buf, sizeof(buf));
	assert_string_equal(buf, "open_channel: needs a newer protocol version (6.0, have 5.3)");
	st.have_version = 0;
	cvmbus_wire_status_format(&st, buf, sizeof(buf));
	assert_string_equal(buf, "open_channel: needs a newer protocol version (6.0, have none)");

	memset(&st, 0, sizeof(st));
	st.error = CVMBUS_WIRE_E_TOO_SHORT;
	st.type = CVMBUS_MSG_OFFER_CHANNEL;
	st.len = 195;
	st.need_len = 196;
	cvmbus_wire_status_format(&st, buf, sizeof(buf));
	assert_string_equal(buf, "offer_channel: message too short (195 bytes, limit 196)");

	memset(&st, 0, sizeof(st));
	st.error = CVMBUS_WIRE_E_INCONSISTENT;
	st.type = CVMBUS_MSG_GPADL_HEADER;
	st.detail = "gpadl has no ranges";
	assert_int_equal(cvmbus_wire_status_format(&st, buf, 8), 55);
	assert_string_equal(buf, "gpadl_h");
	cvmbus_wire_status_format(&st, buf, sizeof(buf));
	assert_string_equal(buf, "gpadl_header: inconsistent message: gpadl has no ranges");
}

static void test_envelope(void **state)
{
	struct hv_message msg;
	struct cvmbus_wire_msg out;
	struct cvmbus_wire_status st;

	(void)state;
	memset(&msg, 0, sizeof(msg));
	msg.header.message_type = HVMSG_VMBUS;
	msg.header.payload_size = 12;
	msg.payload[0] = CVMBUS_MSG_RESCIND_CHANNEL_OFFER;
	msg.payload[8] = 9;
	assert_int_equal(cvmbus_wire_check_envelope(&msg, &st), 0);
	assert_int_equal(cvmbus_wire_decode_hv_message(&msg, CVMBUS_VERSION_5_3, 0,
						       CVMBUS_WIRE_TO_CLIENT, &out, &st),
			 0);
	assert_int_equal(out.variant, CVMBUS_WIRE_RESCIND_CHANNEL_OFFER);
	assert_int_equal(out.u.rescind_channel_offer.child_relid, 9);

	/* The payload size decides the message length, not the slot size. */
	msg.header.payload_size = 16;
	assert_int_equal(cvmbus_wire_decode_hv_message(&msg, CVMBUS_VERSION_5_3, 0,
						       CVMBUS_WIRE_TO_CLIENT, &out, &st),
			 -EMSGSIZE);

	msg.header.payload_size = 241;
	assert_int_equal(cvmbus_wire_check_envelope(&msg, &st), -EBADMSG);
	assert_int_equal(st.error, CVMBUS_WIRE_E_ENVELOPE);
	msg.header.payload_size = 7;
	assert_int_equal(cvmbus_wire_check_envelope(&msg, &st), -EBADMSG);
	msg.header.payload_size = 12;
	msg.header.message_type = HVMSG_TIMER_EXPIRED;
	assert_int_equal(cvmbus_wire_check_envelope(&msg, &st), -EBADMSG);
	assert_string_equal(st.detail, "not a vmbus message type");
	msg.header.message_type = HVMSG_NONE;
	assert_int_equal(cvmbus_wire_decode_hv_message(&msg, CVMBUS_VERSION_5_3, 0,
						       CVMBUS_WIRE_TO_CLIENT, &out, &st),
			 -EBADMSG);
	assert_int_equal(cvmbus_wire_check_envelope(NULL, &st), -EINVAL);
}

static void test_post_message(void **state)
{
	static const uint8_t exp[16] = { [0] = 0x16, [8] = 0x2a, [12] = 0x03 };
	struct hv_input_post_message in;
	struct cvmbus_wire_msg m;
	struct cvmbus_wire_status st;

	(void)state;
	memset(&in, 0xCC, sizeof(in)); /* stale data from an earlier message */
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_MODIFY_CHANNEL);
	m.u.modify_channel.child_relid = 42;
	m.u.modify_channel.target_vp = 3;
	assert_int_equal(cvmbus_wire_build_post_message(&in, VMBUS_MESSAGE_CONNECTION_ID_4, &m, &st),
			 16);
	assert_int_equal(in.connection_id, 4);
	assert_int_equal(in.reserved, 0);
	assert_int_equal(in.message_type, 1);
	assert_int_equal(in.payload_size, 16);
	assert_memory_equal(in.payload, exp, sizeof(exp));
	for (size_t i = 16; i < sizeof(in.payload); i++)
		assert_int_equal(in.payload[i], 0);

	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_NONE);
	assert_int_equal(cvmbus_wire_build_post_message(&in, 4, &m, &st), -EINVAL);
}


/* One row of the table in docs/WIRE.md, built from the protocol table. */
static void format_doc_row(const struct cvmbus_wire_type_info *info, unsigned i, char *row,
			   size_t cap)
{
	const struct cvmbus_wire_variant_info *v = &info->variants[i];
	char size[48], version[24], features[200];

	if (v->max_size == v->fixed_size)
		snprintf(size, sizeof(size), "%u", v->min_size);
	else
		snprintf(size, sizeof(size), "%u + 8n (%u..%u)", v->fixed_size, v->min_size,
			 v->max_size);
	if (v->min_version)
		cvmbus_wire_version_format(v->min_version, version, sizeof(version));
	else
		snprintf(version, sizeof(version), "any");
	if (v->features_any) {
		cvmbus_wire_features_format(v->features_any, features, sizeof(features));
		for (char *c = features; *c; c++)
			if (*c == '|')
				*c = '/';
	} else {
		snprintf(features, sizeof(features), "-");
	}
	snprintf(row, cap, "| %u | %s | %s | %s | %s | %s | %s |", info->type, info->name,
		 v->name, size, version, features,
		 info->dir == CVMBUS_WIRE_TO_SERVER ? "client->server" : "server->client");
}

/* docs/WIRE.md carries the protocol table; every row of it must match the
 * table the code runs, so the document cannot drift. CVMBUS_PRINT_WIRE_TABLE=1
 * prints the rows instead (to regenerate the document). */
static void test_doc_table_matches(void **state)
{
	static char doc[65536];
	bool print = getenv("CVMBUS_PRINT_WIRE_TABLE") != NULL;

	(void)state;
	if (!print) {
		FILE *f = fopen(CVMBUS_SOURCE_DIR "/docs/WIRE.md", "r");
		size_t n;

		assert_non_null(f);
		n = fread(doc, 1, sizeof(doc) - 1, f);
		fclose(f);
		doc[n] = '\0';
	}
	for (uint32_t t = 1; t < CVMBUS_MSG_COUNT; t++) {
		const struct cvmbus_wire_type_info *info = cvmbus_wire_type_info(t);

		for (unsigned i = 0; i < info->nvariants; i++) {
			char row[400];

			format_doc_row(info, i, row, sizeof(row));
			if (print)
				printf("%s\n", row);
			else if (!strstr(doc, row))
				fail_msg("docs/WIRE.md lacks the row: %s", row);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_constants),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_type_and_variant_names),
		cmocka_unit_test(test_table_sizes),
		cmocka_unit_test(test_flag_formatting),
		cmocka_unit_test(test_hex_and_guid),
		cmocka_unit_test(test_errors_text),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_post_message),
		cmocka_unit_test(test_doc_table_matches),
	};

	return cmocka_run_group_tests_name("wire_names", tests, NULL, NULL);
}
