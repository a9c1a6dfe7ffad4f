/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the NVSP wire format (src/dev/nvsp.c): message layouts
 * against bytes written by hand from Linux's hyperv_net.h, the protocol
 * table's decisions (size, direction, version), and each field check the
 * VSC and the VSP apply to what their peer wrote, one refusal per case.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/net.h>

static void test_layout_init(void **state)
{
	/* INIT offering 6.1 only: type 1, min 0x00060001, max the same. */
	static const uint8_t want[40] = {
		0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x01, 0x00, 0x06, 0x00,
	};
	struct cvmbus_nvsp_msg m;

	(void)state;
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_INIT);
	m.u.init.min_version = CVMBUS_NVSP_VERSION_61;
	m.u.init.max_version = CVMBUS_NVSP_VERSION_61;
	assert_memory_equal(&m, want, sizeof(want));
}

static void test_layout_buffers(void **state)
{
	/* SEND_RECV_BUF (101): gpadl 0xe1e10 @4, id 0xcafe @8. */
	static const uint8_t recv[12] = {
		0x65, 0x00, 0x00, 0x00, 0x10, 0x1e, 0x0e, 0x00, 0xfe, 0xca, 0x00, 0x00,
	};
	/* Its completion (102): status 1, one section {0, 1728, 37, 63936}. */
	static const uint8_t done[28] = {
		0x66, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0xc0, 0x06, 0x00, 0x00, 0x25, 0x00, 0x00, 0x00,
		0xc0, 0xf9, 0x00, 0x00,
	};
	/* SEND_SEND_BUF_COMPLETE (105): status 1, section size 6144. */
	static const uint8_t sdone[12] = {
		0x69, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00,
	};
	struct cvmbus_nvsp_msg m;
	struct cvmbus_nvsp_recv_section s;
	uint32_t size, count;

	(void)state;
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RECV_BUF);
	m.u.buf.gpadl = 0xe1e10;
	m.u.buf.id = CVMBUS_NVSP_RECV_BUF_ID;
	assert_memory_equal(&m, recv, sizeof(recv));

	/* Decoding the hand-written completion and checking it as a VSC of a
	 * 64 KiB buffer would. */
	assert_int_equal(cvmbus_nvsp_decode(done, sizeof(done), CVMBUS_NVSP_VERSION_61,
					    CVMBUS_NVSP_H2G, &m), 0);
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 65536, 100, &s), 0);
	assert_int_equal(s.sub_alloc_size, 1728);
	assert_int_equal(s.num_sub_allocs, 37);
	assert_int_equal(s.end_offset, 63936);

	assert_int_equal(cvmbus_nvsp_decode(sdone, sizeof(sdone), CVMBUS_NVSP_VERSION_5,
					    CVMBUS_NVSP_H2G, &m), 0);
	assert_int_equal(cvmbus_nvsp_check_send_buf_complete(&m, 1 << 20, 1558, &size, &count), 0);
	assert_int_equal(size, 6144);
	assert_int_equal(count, (1 << 20) / 6144);
}

static void test_layout_rndis_pkt(void **state)
{
	/* SEND_RNDIS_PKT (107): data channel, section 3, 42 bytes. */
	static const uint8_t want[16] = {
		0x6b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00,
	};
	/* NDIS_CONFIG (125): mtu 1514 @4, capabilities @12 (sriov = bit 2). */
	static const uint8_t cfg[20] = {
		0x7d, 0x00, 0x00, 0x00, 0xea, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct cvmbus_nvsp_msg m;

	(void)state;
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
	m.u.rndis.channel_type = CVMBUS_NVSP_CHANNEL_DATA;
	m.u.rndis.section_index = 3;
	m.u.rndis.section_size = 42;
	assert_memory_equal(&m, want, sizeof(want));

	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_NDIS_CONFIG);
	m.u.ndis_config.mtu = 1514;
	m.u.ndis_config.caps_lo = 0x4;
	assert_memory_equal(&m, cfg, sizeof(cfg));
}

static void test_decode_refusals(void **state)
{
	uint8_t b[40] = { 0 };
	struct cvmbus_nvsp_msg m;

	(void)state;
	/* Not even a type word. */
	assert_int_equal(cvmbus_nvsp_decode(b, 3, 0, CVMBUS_NVSP_G2H, &m), -EMSGSIZE);
	/* INIT needs 12 bytes. */
	b[0] = CVMBUS_NVSP_INIT;
	assert_int_equal(cvmbus_nvsp_decode(b, 8, 0, CVMBUS_NVSP_G2H, &m), -EMSGSIZE);
	assert_int_equal(cvmbus_nvsp_decode(b, 12, 0, CVMBUS_NVSP_G2H, &m), 0);
	/* INIT travels guest to host only. */
	assert_int_equal(cvmbus_nvsp_decode(b, 12, 0, CVMBUS_NVSP_H2G, &m), -EPROTO);
	/* An unknown type; the copy still says which. */
	b[0] = 99;
	assert_int_equal(cvmbus_nvsp_decode(b, 40, CVMBUS_NVSP_VERSION_61, CVMBUS_NVSP_G2H, &m),
			 -ENOMSG);
	assert_int_equal(m.type, 99);
	/* Buffers before the version is agreed. */
	b[0] = CVMBUS_NVSP_SEND_RECV_BUF;
	assert_int_equal(cvmbus_nvsp_decode(b, 40, 0, CVMBUS_NVSP_G2H, &m), -EPROTO);
	assert_int_equal(cvmbus_nvsp_decode(b, 40, CVMBUS_NVSP_VERSION_2, CVMBUS_NVSP_G2H, &m), 0);
	/* Subchannels are a version 5 message. */
	b[0] = CVMBUS_NVSP_SUBCHANNEL;
	assert_int_equal(cvmbus_nvsp_decode(b, 40, CVMBUS_NVSP_VERSION_4, CVMBUS_NVSP_G2H, &m),
			 -EPROTO);
	assert_int_equal(cvmbus_nvsp_decode(b, 40, CVMBUS_NVSP_VERSION_5, CVMBUS_NVSP_G2H, &m), 0);
	/* A version 1 sized (28-byte) RNDIS packet is complete. */
	b[0] = CVMBUS_NVSP_SEND_RNDIS_PKT;
	assert_int_equal(cvmbus_nvsp_decode(b, CVMBUS_NVSP_MSG_SIZE_V1, CVMBUS_NVSP_VERSION_2,
					    CVMBUS_NVSP_G2H, &m), 0);
	/* A longer payload (the sender's padding) is cut at 40. */
	{
		uint8_t big[64];

		memset(big, 0xee, sizeof(big));
		memcpy(big, b, 4);
		assert_int_equal(cvmbus_nvsp_decode(big, sizeof(big), CVMBUS_NVSP_VERSION_2,
						    CVMBUS_NVSP_G2H, &m), 0);
		assert_int_equal(m.u.rndis.section_index, 0xeeeeeeee);
	}
}

static void test_table_facts(void **state)
{
	(void)state;
	assert_int_equal(cvmbus_nvsp_min_size(CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE), 28);
	assert_int_equal(cvmbus_nvsp_min_size(12345), 0);
	assert_string_equal(cvmbus_nvsp_type_name(CVMBUS_NVSP_SEND_RNDIS_PKT), "send-rndis-pkt");
	assert_string_equal(cvmbus_nvsp_type_name(12345), "unknown");
	assert_int_equal(cvmbus_nvsp_type_dirs(CVMBUS_NVSP_SEND_RNDIS_PKT),
			 CVMBUS_NVSP_G2H | CVMBUS_NVSP_H2G);
	assert_int_equal(cvmbus_nvsp_type_min_version(CVMBUS_NVSP_SEND_NDIS_CONFIG),
			 CVMBUS_NVSP_VERSION_2);
	assert_int_equal(cvmbus_nvsp_response_type(CVMBUS_NVSP_SEND_SEND_BUF),
			 CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE);
	assert_int_equal(cvmbus_nvsp_response_type(CVMBUS_NVSP_SUBCHANNEL),
			 CVMBUS_NVSP_SUBCHANNEL);
}

static void test_versions(void **state)
{
	size_t n;
	const uint32_t *v = cvmbus_nvsp_versions(&n);

	(void)state;
	assert_int_equal(n, 5);
	assert_int_equal(v[0], 0x60001);
	assert_int_equal(v[4], 0x30002);
	assert_int_equal(cvmbus_nvsp_pick_version(0x40000, 0x60001), 0x60001);
	assert_int_equal(cvmbus_nvsp_pick_version(0x50000, 0x50000), 0x50000);
	assert_int_equal(cvmbus_nvsp_pick_version(0x50001, 0x5ffff), 0);
	/* Version 1 (0.2) is known to the protocol, not spoken here. */
	assert_int_equal(cvmbus_nvsp_pick_version(2, 2), 0);
	assert_false(cvmbus_nvsp_version_supported(CVMBUS_NVSP_VERSION_1));
	assert_int_equal(cvmbus_nvsp_pick_version(0x60001, 0x40000), 0);
}

static void recv_complete(struct cvmbus_nvsp_msg *m, uint32_t status, uint32_t nsec,
			  uint32_t off, uint32_t size, uint32_t count, uint32_t end)
{
	cvmbus_nvsp_msg_init(m, CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE);
	m->u.recv_buf_complete.status = status;
	m->u.recv_buf_complete.num_sections = nsec;
	m->u.recv_buf_complete.section.offset = off;
	m->u.recv_buf_complete.section.sub_alloc_size = size;
	m->u.recv_buf_complete.section.num_sub_allocs = count;
	m->u.recv_buf_complete.section.end_offset = end;
}

static void test_check_recv_complete(void **state)
{
	struct cvmbus_nvsp_msg m;
	struct cvmbus_nvsp_recv_section s;

	(void)state;
	recv_complete(&m, 1, 1, 0, 1728, 10, 17280);
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), 0);
	recv_complete(&m, 2, 1, 0, 1728, 10, 17280); /* refused */
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), -EIO);
	recv_complete(&m, 1, 2, 0, 1728, 10, 17280); /* two sections */
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), -EPROTO);
	recv_complete(&m, 1, 1, 64, 1728, 10, 17344); /* not at 0 */
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), -EPROTO);
	recv_complete(&m, 1, 1, 0, 32, 10, 320); /* sections too small */
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), -EPROTO);
	recv_complete(&m, 1, 1, 0, 1728, 12, 20736); /* past the buffer */
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), -EPROTO);
	recv_complete(&m, 1, 1, 0, 1728, 10, 17000); /* inconsistent end */
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), -EPROTO);
	recv_complete(&m, 1, 1, 0, 1728, 0, 0); /* no sections */
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), -EPROTO);
	/* A size * count that wraps 32 bits must not pass. */
	recv_complete(&m, 1, 1, 0, 0x10000, 0x10000, 0);
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), -EPROTO);
	m.type = CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE; /* the wrong answer */
	assert_int_equal(cvmbus_nvsp_check_recv_buf_complete(&m, 20000, 64, &s), -EPROTO);
}

static void test_check_send_complete(void **state)
{
	struct cvmbus_nvsp_msg m;
	uint32_t size = 0, count = 0;

	(void)state;
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE);
	m.u.send_buf_complete.status = 1;
	m.u.send_buf_complete.section_size = 0;
	assert_int_equal(cvmbus_nvsp_check_send_buf_complete(&m, 65536, 1558, &size, &count),
			 -EPROTO);
	m.u.send_buf_complete.section_size = 100000;
	assert_int_equal(cvmbus_nvsp_check_send_buf_complete(&m, 65536, 1558, &size, &count),
			 -EPROTO);
	m.u.send_buf_complete.section_size = 6144;
	m.u.send_buf_complete.status = 2;
	assert_int_equal(cvmbus_nvsp_check_send_buf_complete(&m, 65536, 1558, &size, &count),
			 -EIO);
	m.u.send_buf_complete.status = 1;
	assert_int_equal(cvmbus_nvsp_check_send_buf_complete(&m, 65536, 1558, &size, &count), 0);
	assert_int_equal(count, 10);
}

static void test_check_rndis_pkt(void **state)
{
	struct cvmbus_nvsp_msg m;

	(void)state;
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
	m.u.rndis.section_index = 9;
	m.u.rndis.section_size = 100;
	assert_int_equal(cvmbus_nvsp_check_rndis_pkt(&m, 10, 6144), 0);
	m.u.rndis.section_index = 10; /* one past the last */
	assert_int_equal(cvmbus_nvsp_check_rndis_pkt(&m, 10, 6144), -ERANGE);
	m.u.rndis.section_index = 0;
	assert_int_equal(cvmbus_nvsp_check_rndis_pkt(&m, 0, 6144), -ERANGE); /* no buffer */
	m.u.rndis.section_size = 0;
	assert_int_equal(cvmbus_nvsp_check_rndis_pkt(&m, 10, 6144), -EMSGSIZE);
	m.u.rndis.section_size = 6145;
	assert_int_equal(cvmbus_nvsp_check_rndis_pkt(&m, 10, 6144), -EMSGSIZE);
	m.u.rndis.section_size = 100;
	m.u.rndis.channel_type = 2;
	assert_int_equal(cvmbus_nvsp_check_rndis_pkt(&m, 10, 6144), -EINVAL);
	m.u.rndis.channel_type = CVMBUS_NVSP_CHANNEL_CONTROL;
	m.u.rndis.section_index = CVMBUS_NVSP_NO_SECTION;
	m.u.rndis.section_size = 0;
	assert_int_equal(cvmbus_nvsp_check_rndis_pkt(&m, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_init),
		cmocka_unit_test(test_layout_buffers),
		cmocka_unit_test(test_layout_rndis_pkt),
		cmocka_unit_test(test_decode_refusals),
		cmocka_unit_test(test_table_facts),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_check_recv_complete),
		cmocka_unit_test(test_check_send_complete),
		cmocka_unit_test(test_check_rndis_pkt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
