/* SPDX-License-Identifier: MIT */
/*
 * Tests of the VSTOR wire format (src/dev/vstor.c). Every layout is compared
 * with bytes written out by hand from the Linux/OpenVMM structure
 * definitions (little-endian, offsets in the comments), never with bytes the
 * code produced; then malformed packets are fed to the decoder and to the
 * VSP's and VSC's checks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/storage.h>

/* An EXECUTE_SRB for READ(10) of 8 sectors at LBA 0x10, as Linux's
 * storvsc_queuecommand builds it on a WIN10 channel. */
static const uint8_t srb_read10_bytes[64] = {
	/* @0 operation = 3 (EXECUTE_SRB) */ 0x03, 0x00, 0x00, 0x00,
	/* @4 flags = 1 (REQUEST_COMPLETION) */ 0x01, 0x00, 0x00, 0x00,
	/* @8 status */ 0x00, 0x00, 0x00, 0x00,
	/* @12 srb.length = 0x34 */ 0x34, 0x00,
	/* @14 srb_status, scsi_status */ 0x00, 0x00,
	/* @16 port, path, target, lun = 0,0,0,2 */ 0x00, 0x00, 0x00, 0x02,
	/* @20 cdb_length 10, sense 0x14, data_in 1 (READ_TYPE), reserved */
	0x0a, 0x14, 0x01, 0x00,
	/* @24 data_transfer_length = 0x1000 */ 0x00, 0x10, 0x00, 0x00,
	/* @28 cdb: 28 00 | 00 00 00 10 | 00 | 00 08 | 00, then 10 pad bytes */
	0x28, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x08, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* @48 reserve, queue_tag 0xff, queue_action 0x20 */ 0x00, 0x00, 0xff, 0x20,
	/* @52 srb_flags = 0x14a (DATA_IN|NO_QUEUE_FREEZE|DISABLE_SYNCH|QUEUE_ACTION) */
	0x4a, 0x01, 0x00, 0x00,
	/* @56 time_out_value = 60 */ 0x3c, 0x00, 0x00, 0x00,
	/* @60 queue_sort_key */ 0x00, 0x00, 0x00, 0x00,
};

static void test_srb_layout(void **state)
{
	struct cvmbus_vstor_packet p;
	static const uint8_t cdb[10] = { 0x28, 0, 0, 0, 0, 0x10, 0, 0, 0x08, 0 };

	(void)state;
	memset(&p, 0, sizeof(p));
	p.operation = CVMBUS_VSTOR_OP_EXECUTE_SRB;
	p.flags = CVMBUS_VSTOR_FLAG_REQUEST_COMPLETION;
	p.srb.length = CVMBUS_VSTOR_SRB_SIZE;
	p.srb.lun = 2;
	p.srb.cdb_length = 10;
	p.srb.sense_info_length = CVMBUS_VSTOR_SENSE_SIZE;
	p.srb.data_in = CVMBUS_VSTOR_DATA_IN;
	p.srb.data_transfer_length = 0x1000;
	memcpy(p.srb.cdb, cdb, sizeof(cdb));
	p.srb.queue_tag = 0xff;
	p.srb.queue_action = 0x20;
	p.srb.srb_flags = CVMBUS_SRB_FLAGS_DATA_IN | CVMBUS_SRB_FLAGS_NO_QUEUE_FREEZE |
			  CVMBUS_SRB_FLAGS_DISABLE_SYNCH_TRANSFER |
			  CVMBUS_SRB_FLAGS_QUEUE_ACTION_ENABLE;
	p.srb.time_out_value = 60;
	assert_int_equal(sizeof(p), 64);
	assert_memory_equal(&p, srb_read10_bytes, 64);
}

static void test_srb_decode(void **state)
{
	struct cvmbus_vstor_packet p;

	(void)state;
	assert_int_equal(cvmbus_vstor_decode(srb_read10_bytes, 64, CVMBUS_VSTOR_VERSION_WIN10, &p),
			 0);
	assert_int_equal(p.operation, 3);
	assert_int_equal(p.srb.lun, 2);
	assert_int_equal(p.srb.cdb_length, 10);
	assert_int_equal(p.srb.data_in, 1);
	assert_int_equal(p.srb.data_transfer_length, 0x1000);
	assert_int_equal(p.srb.cdb[0], 0x28);
	assert_int_equal(p.srb.cdb[8], 0x08);
	assert_int_equal(p.srb.srb_flags, 0x14a);
	assert_int_equal(p.srb.time_out_value, 60);
}

/* A completion as a VSP sends it: CHECK CONDITION with 18 bytes of fixed
 * sense (ILLEGAL REQUEST, LBA OUT OF RANGE). */
static void test_completion_layout(void **state)
{
	static const uint8_t expect[64] = {
		/* @0 operation 1 (COMPLETE_IO) */ 0x01, 0x00, 0x00, 0x00,
		/* @4 flags */ 0x00, 0x00, 0x00, 0x00,
		/* @8 status 0xC0000185 IO_DEVICE_ERROR */ 0x85, 0x01, 0x00, 0xc0,
		/* @12 length 0x34; srb_status 0x84 (ERROR|AUTOSENSE); scsi 0x02 */
		0x34, 0x00, 0x84, 0x02,
		/* @16 port, path, target, lun */ 0x00, 0x00, 0x00, 0x00,
		/* @20 cdb_length 16, sense_info_length 18, data_in 1, reserved */
		0x10, 0x12, 0x01, 0x00,
		/* @24 data_transfer_length 0 */ 0x00, 0x00, 0x00, 0x00,
		/* @28 sense: 70 00 05 00 00 00 00 0a 00 00 00 00 21 00 00 00 00 00 */
		0x70, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00,
		0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* @48 the win8 extension, zero in a completion */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct cvmbus_vstor_packet p;
	uint8_t sense[CVMBUS_SCSI_SENSE_LEN];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.operation = CVMBUS_VSTOR_OP_COMPLETE_IO;
	p.status = CVMBUS_VSTOR_STATUS_IO_DEVICE_ERROR;
	p.srb.length = CVMBUS_VSTOR_SRB_SIZE;
	p.srb.srb_status = CVMBUS_SRB_STATUS_ERROR | CVMBUS_SRB_STATUS_AUTOSENSE_VALID;
	p.srb.scsi_status = CVMBUS_SCSI_STATUS_CHECK_CONDITION;
	p.srb.cdb_length = 16;
	p.srb.data_in = 1;
	p.srb.sense_info_length =
		cvmbus_scsi_sense_fixed(sense, CVMBUS_SCSI_KEY_ILLEGAL_REQUEST,
					CVMBUS_SCSI_ASC_LBA_OUT_OF_RANGE);
	memcpy(p.srb.sense_data, sense, sizeof(sense));
	assert_memory_equal(&p, expect, 64);
}

static void test_properties_and_version_layout(void **state)
{
	/* QUERY_PROPERTIES answer: max_channel_count 7, flags MULTI_CHANNEL,
	 * max_transfer_bytes 0x40000. */
	static const uint8_t props_bytes[36] = {
		0x01, 0x00, 0x00, 0x00, /* @0 COMPLETE_IO */
		0x00, 0x00, 0x00, 0x00, /* @4 flags */
		0x00, 0x00, 0x00, 0x00, /* @8 status SUCCESS */
		0x00, 0x00, 0x00, 0x00, /* @12 reserved */
		0x07, 0x00, 0x00, 0x00, /* @16 max_channel_count, reserved1 */
		0x01, 0x00, 0x00, 0x00, /* @20 flags */
		0x00, 0x00, 0x04, 0x00, /* @24 max_transfer_bytes */
		0x00, 0x00, 0x00, 0x00, /* @28 reserved2 */
		0x00, 0x00, 0x00, 0x00,
	};
	/* QUERY_PROTOCOL_VERSION for WIN10 (6.2) */
	static const uint8_t version_bytes[16] = {
		0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x06, 0x00, 0x00,
	};
	struct cvmbus_vstor_packet p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.operation = CVMBUS_VSTOR_OP_COMPLETE_IO;
	p.properties.max_channel_count = 7;
	p.properties.flags = CVMBUS_VSTOR_PROP_MULTI_CHANNEL;
	p.properties.max_transfer_bytes = 0x40000;
	assert_memory_equal(&p, props_bytes, sizeof(props_bytes));

	memset(&p, 0, sizeof(p));
	p.operation = CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION;
	p.flags = CVMBUS_VSTOR_FLAG_REQUEST_COMPLETION;
	p.version.major_minor = CVMBUS_VSTOR_VERSION_WIN10;
	assert_memory_equal(&p, version_bytes, sizeof(version_bytes));
	assert_int_equal(CVMBUS_VSTOR_VERSION_WIN8, 0x0501);
	assert_int_equal(CVMBUS_VSTOR_VERSION_WIN8_1, 0x0600);
	assert_int_equal(CVMBUS_VSTOR_VERSION_WIN7, 0x0402);
	assert_int_equal(CVMBUS_VSTOR_VERSION_WIN6, 0x0200);
}

static void test_sizes_per_version(void **state)
{
	(void)state;
	assert_int_equal(cvmbus_vstor_packet_size(0), 48);
	assert_int_equal(cvmbus_vstor_packet_size(CVMBUS_VSTOR_VERSION_WIN6), 48);
	assert_int_equal(cvmbus_vstor_packet_size(CVMBUS_VSTOR_VERSION_WIN7), 48);
	assert_int_equal(cvmbus_vstor_packet_size(CVMBUS_VSTOR_VERSION_WIN8), 64);
	assert_int_equal(cvmbus_vstor_packet_size(CVMBUS_VSTOR_VERSION_WIN10), 64);
	assert_int_equal(cvmbus_vstor_srb_size(CVMBUS_VSTOR_VERSION_WIN7), 0x24);
	assert_int_equal(cvmbus_vstor_srb_size(CVMBUS_VSTOR_VERSION_WIN8_1), 0x34);
	assert_int_equal(cvmbus_vstor_sense_size(CVMBUS_VSTOR_VERSION_WIN7), 0x12);
	assert_int_equal(cvmbus_vstor_sense_size(CVMBUS_VSTOR_VERSION_WIN10), 0x14);
	assert_true(cvmbus_vstor_version_known(CVMBUS_VSTOR_VERSION_WIN10));
	assert_false(cvmbus_vstor_version_known(0x0601));
	assert_false(cvmbus_vstor_version_known(0));
	assert_string_equal(cvmbus_vstor_op_name(3), "execute_srb");
	assert_string_equal(cvmbus_vstor_op_name(99), "unknown");
}

static void test_decode_malformed(void **state)
{
	uint8_t buf[80];
	struct cvmbus_vstor_packet p;

	(void)state;
	/* Shorter than the header. */
	assert_int_equal(cvmbus_vstor_decode(srb_read10_bytes, 11, 0, &p), -EMSGSIZE);
	/* An SRB cut one byte short of the WIN10 layout... */
	assert_int_equal(cvmbus_vstor_decode(srb_read10_bytes, 63, CVMBUS_VSTOR_VERSION_WIN10, &p),
			 -EMSGSIZE);
	/* ...is fine in the WIN7 layout (48 bytes needed), where the bytes
	 * past the old SRB are not read as the extension. */
	assert_int_equal(cvmbus_vstor_decode(srb_read10_bytes, 63, CVMBUS_VSTOR_VERSION_WIN7, &p),
			 0);
	assert_int_equal(p.srb.data_transfer_length, 0x1000);
	assert_int_equal(p.srb.queue_tag, 0);
	assert_int_equal(p.srb.srb_flags, 0);
	assert_int_equal(cvmbus_vstor_decode(srb_read10_bytes, 47, CVMBUS_VSTOR_VERSION_WIN7, &p),
			 -EMSGSIZE);
	/* A version query needs its 4 bytes of body. */
	memset(buf, 0, sizeof(buf));
	buf[0] = CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION;
	assert_int_equal(cvmbus_vstor_decode(buf, 15, 0, &p), -EMSGSIZE);
	assert_int_equal(cvmbus_vstor_decode(buf, 16, 0, &p), 0);
	/* A header-only operation is fine at 12 bytes; an unknown one too. */
	buf[0] = CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION;
	assert_int_equal(cvmbus_vstor_decode(buf, 12, 0, &p), 0);
	buf[0] = 0x77;
	assert_int_equal(cvmbus_vstor_decode(buf, 12, 0, &p), 0);
	assert_int_equal(p.operation, 0x77);
	/* Bytes past 64 are ignored, not copied past the packet. */
	memcpy(buf, srb_read10_bytes, 64);
	memset(buf + 64, 0xee, 16);
	assert_int_equal(cvmbus_vstor_decode(buf, sizeof(buf), CVMBUS_VSTOR_VERSION_WIN10, &p), 0);
	assert_memory_equal(&p, srb_read10_bytes, 64);
	assert_int_equal(cvmbus_vstor_decode(NULL, 64, 0, &p), -EINVAL);
}

static void base_srb(struct cvmbus_vstor_srb *s)
{
	memset(s, 0, sizeof(*s));
	s->cdb_length = 10;
	s->sense_info_length = 20;
	s->data_in = CVMBUS_VSTOR_DATA_IN;
	s->data_transfer_length = 8192;
}

static void test_check_srb(void **state)
{
	struct cvmbus_vstor_srb s;

	(void)state;
	base_srb(&s);
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 1, 8192), CVMBUS_VSTOR_SRB_OK);
	/* A range larger than the transfer is fine (storvsc may send one). */
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 1, 12288), CVMBUS_VSTOR_SRB_OK);
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 1, 8191),
			 CVMBUS_VSTOR_SRB_RANGE_SHORT);
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 0, 0), CVMBUS_VSTOR_SRB_NO_RANGE);
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 2, 8192),
			 CVMBUS_VSTOR_SRB_MANY_RANGES);
	assert_int_equal(cvmbus_vstor_check_srb(&s, 4096, 1, 8192), CVMBUS_VSTOR_SRB_TOO_LONG);
	s.cdb_length = 0;
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 1, 8192),
			 CVMBUS_VSTOR_SRB_BAD_CDB_LENGTH);
	s.cdb_length = 17;
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 1, 8192),
			 CVMBUS_VSTOR_SRB_BAD_CDB_LENGTH);
	base_srb(&s);
	s.sense_info_length = 21;
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 1, 8192),
			 CVMBUS_VSTOR_SRB_BAD_SENSE_LENGTH);
	base_srb(&s);
	s.data_in = 3;
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 1, 8192),
			 CVMBUS_VSTOR_SRB_BAD_DIRECTION);
	s.data_in = CVMBUS_VSTOR_DATA_UNKNOWN;
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 1, 8192),
			 CVMBUS_VSTOR_SRB_BAD_DIRECTION);
	s.data_transfer_length = 0;
	assert_int_equal(cvmbus_vstor_check_srb(&s, 65536, 0, 0), CVMBUS_VSTOR_SRB_OK);
	assert_string_equal(cvmbus_vstor_srb_check_name(CVMBUS_VSTOR_SRB_RANGE_SHORT),
			    "gpa range shorter than the transfer");
}

static void test_check_completion(void **state)
{
	struct cvmbus_vstor_packet req, resp;
	const uint16_t v = CVMBUS_VSTOR_VERSION_WIN10;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.operation = CVMBUS_VSTOR_OP_EXECUTE_SRB;
	req.srb.data_transfer_length = 4096;
	req.srb.sense_info_length = 20;
	memset(&resp, 0, sizeof(resp));
	resp.operation = CVMBUS_VSTOR_OP_COMPLETE_IO;
	resp.srb.data_transfer_length = 4096;
	resp.srb.sense_info_length = 18;
	assert_int_equal(cvmbus_vstor_check_completion(&req, &resp, 64, v), 0);
	/* Shorter than the packet of the version in force. */
	assert_int_equal(cvmbus_vstor_check_completion(&req, &resp, 48, v), -EPROTO);
	assert_int_equal(cvmbus_vstor_check_completion(&req, &resp, 48, CVMBUS_VSTOR_VERSION_WIN7),
			 0);
	/* More data than the request had room for. */
	resp.srb.data_transfer_length = 4097;
	assert_int_equal(cvmbus_vstor_check_completion(&req, &resp, 64, v), -EPROTO);
	resp.srb.data_transfer_length = 0;
	/* More sense than the request had room for. */
	resp.srb.sense_info_length = 21;
	assert_int_equal(cvmbus_vstor_check_completion(&req, &resp, 64, v), -EPROTO);
	req.srb.sense_info_length = 18;
	resp.srb.sense_info_length = 19;
	assert_int_equal(cvmbus_vstor_check_completion(&req, &resp, 64, v), -EPROTO);
	resp.srb.sense_info_length = 0;
	/* Not a completion at all. */
	resp.operation = CVMBUS_VSTOR_OP_EXECUTE_SRB;
	assert_int_equal(cvmbus_vstor_check_completion(&req, &resp, 64, v), -EPROTO);
	/* Handshake answers: only the length and the operation count. */
	req.operation = CVMBUS_VSTOR_OP_QUERY_PROPERTIES;
	resp.operation = CVMBUS_VSTOR_OP_COMPLETE_IO;
	resp.srb.data_transfer_length = 0xffffffff;
	assert_int_equal(cvmbus_vstor_check_completion(&req, &resp, 48, 0), 0);
	assert_int_equal(cvmbus_vstor_check_completion(&req, &resp, 40, 0), -EPROTO);
}

static void test_status_map(void **state)
{
	(void)state;
	assert_int_equal(cvmbus_vstor_status_from_srb(CVMBUS_SRB_STATUS_SUCCESS), 0);
	assert_int_equal(cvmbus_vstor_status_from_srb(CVMBUS_SRB_STATUS_ERROR |
						      CVMBUS_SRB_STATUS_AUTOSENSE_VALID),
			 0xC0000185u);
	assert_int_equal(cvmbus_vstor_status_from_srb(CVMBUS_SRB_STATUS_INVALID_LUN),
			 0xC00000C0u);
	assert_int_equal(cvmbus_vstor_status_from_srb(CVMBUS_SRB_STATUS_DATA_OVERRUN),
			 0x80000005u);
	assert_int_equal(cvmbus_vstor_status_from_srb(CVMBUS_SRB_STATUS_ABORTED), 0xC0000120u);
	assert_int_equal(CVMBUS_SRB_STATUS_CODE(0xc4), 0x04);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_srb_layout),
		cmocka_unit_test(test_srb_decode),
		cmocka_unit_test(test_completion_layout),
		cmocka_unit_test(test_properties_and_version_layout),
		cmocka_unit_test(test_sizes_per_version),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_check_srb),
		cmocka_unit_test(test_check_completion),
		cmocka_unit_test(test_status_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
