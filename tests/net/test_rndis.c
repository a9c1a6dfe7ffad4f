/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of RNDIS (src/dev/rndis.c): every builder against bytes
 * written by hand from Linux's rndis.h layouts, the parser on well-formed
 * messages (at an odd address too: hostile buffers are not aligned), one
 * refusal per malformed case (each offset/length that leaves its message,
 * sums that wrap, malformed per-packet info), and the packet filter.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/net.h>

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
	b[off + 2] = (uint8_t)(v >> 16);
	b[off + 3] = (uint8_t)(v >> 24);
}

static void test_build_init(void **state)
{
	static const uint8_t want[24] = {
		0x02, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00,
	};
	uint8_t b[64];

	(void)state;
	assert_int_equal(cvmbus_rndis_build_init(b, sizeof(b), 7, 0x4000), 24);
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(cvmbus_rndis_build_init(b, 23, 7, 0x4000), -ENOBUFS);
}

static void test_build_query_set(void **state)
{
	/* QUERY of the permanent address: no info buffer. */
	static const uint8_t query[28] = {
		0x04, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00,
		0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
	};
	/* SET of the packet filter to 0x0b: info at body offset 20. */
	static const uint8_t set[32] = {
		0x05, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00,
		0x0e, 0x01, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00,
	};
	uint8_t b[64];
	uint32_t filter = 0x0b;
	struct cvmbus_rndis_msg m;

	(void)state;
	assert_int_equal(cvmbus_rndis_build_query(b, sizeof(b), 9,
						  CVMBUS_OID_802_3_PERMANENT_ADDRESS, NULL, 0), 28);
	assert_memory_equal(b, query, sizeof(query));
	assert_int_equal(cvmbus_rndis_build_set(b, sizeof(b), 10,
						CVMBUS_OID_GEN_CURRENT_PACKET_FILTER, &filter, 4),
			 32);
	assert_memory_equal(b, set, sizeof(set));
	assert_int_equal(cvmbus_rndis_parse(set, sizeof(set), &m), 0);
	assert_int_equal(m.type, CVMBUS_RNDIS_MSG_SET);
	assert_int_equal(m.req_id, 10);
	assert_int_equal(m.oid, CVMBUS_OID_GEN_CURRENT_PACKET_FILTER);
	assert_int_equal(m.info_len, 4);
	assert_ptr_equal(m.info, set + 28);
}

static void test_build_completions(void **state)
{
	static const uint8_t qc[30] = {
		0x04, 0x00, 0x00, 0x80, 0x1e, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
		0x00, 0x15, 0x5d, 0x01, 0x02, 0x03,
	};
	static const uint8_t ind[20] = {
		0x07, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x01, 0x40,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t sc[16] = {
		0x05, 0x00, 0x00, 0x80, 0x10, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00,
		0xbb, 0x00, 0x00, 0xc0,
	};
	static const uint8_t mac[6] = { 0x00, 0x15, 0x5d, 0x01, 0x02, 0x03 };
	struct cvmbus_rndis_init_cmplt ic = { .req_id = 1, .medium = 0, .align_shift = 3 };
	uint8_t b[128];
	struct cvmbus_rndis_msg m;

	(void)state;
	assert_int_equal(cvmbus_rndis_build_query_cmplt(b, sizeof(b), 9, 0, mac, 6), 30);
	assert_memory_equal(b, qc, sizeof(qc));
	assert_int_equal(cvmbus_rndis_parse(qc, sizeof(qc), &m), 0);
	assert_int_equal(m.info_len, 6);
	assert_memory_equal(m.info, mac, 6);

	assert_int_equal(cvmbus_rndis_build_indicate(b, sizeof(b),
						     CVMBUS_RNDIS_STATUS_MEDIA_CONNECT, NULL, 0), 20);
	assert_memory_equal(b, ind, sizeof(ind));
	assert_int_equal(cvmbus_rndis_build_set_cmplt(b, sizeof(b), 10,
						      CVMBUS_RNDIS_STATUS_NOT_SUPPORTED), 16);
	assert_memory_equal(b, sc, sizeof(sc));

	assert_int_equal(cvmbus_rndis_build_init_cmplt(b, sizeof(b), &ic), 52);
	assert_int_equal(b[0], 0x02);
	assert_int_equal(b[3], 0x80);
	assert_int_equal(b[4], 52);
	assert_int_equal(b[40], 3); /* align_shift @40 */
	assert_int_equal(cvmbus_rndis_parse(b, 52, &m), 0);
	assert_int_equal(m.u.init_cmplt.align_shift, 3);

	assert_int_equal(cvmbus_rndis_build_reset_cmplt(b, sizeof(b), 0, 1), 16);
	assert_int_equal(cvmbus_rndis_parse(b, 16, &m), 0);
	assert_int_equal(m.u.reset_cmplt.addressing_reset, 1);
	assert_int_equal(cvmbus_rndis_build_keepalive_cmplt(b, sizeof(b), 5, 0), 16);
	assert_int_equal(cvmbus_rndis_build_halt(b, sizeof(b), 3), 12);
	assert_int_equal(cvmbus_rndis_build_keepalive(b, sizeof(b), 4), 12);
	assert_int_equal(cvmbus_rndis_build_reset(b, sizeof(b)), 12);
}

static void test_build_packet(void **state)
{
	uint8_t want[44 + 60] = {
		0x01, 0x00, 0x00, 0x00, 0x68, 0x00, 0x00, 0x00, /* type, len 104 */
		0x24, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, /* data @36, 60 bytes */
	};
	uint8_t frame[60], b[256], odd[257];
	struct cvmbus_rndis_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7 + 1);
	memcpy(want + 44, frame, sizeof(frame));
	assert_int_equal(cvmbus_rndis_build_packet(b, sizeof(b), frame, sizeof(frame)), 104);
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(cvmbus_rndis_build_packet(b, 103, frame, sizeof(frame)), -ENOBUFS);

	/* Parsed from an odd address, with trailing bytes after it. */
	memcpy(odd + 1, want, sizeof(want));
	assert_int_equal(cvmbus_rndis_parse(odd + 1, sizeof(want) + 50, &m), 0);
	assert_int_equal(m.type, CVMBUS_RNDIS_MSG_PACKET);
	assert_int_equal(m.len, 104);
	assert_int_equal(m.data_len, 60);
	assert_memory_equal(m.data, frame, 60);
	assert_int_equal(m.ppi_len, 0);
}

/* A 104-byte PACKET message to damage, case by case. */
static void packet(uint8_t *b)
{
	memset(b, 0, 200);
	put32(b, 0, CVMBUS_RNDIS_MSG_PACKET);
	put32(b, 4, 104);
	put32(b, 8, 36);  /* data offset */
	put32(b, 12, 60); /* data length */
}

static void test_parse_packet_refusals(void **state)
{
	uint8_t b[200];
	struct cvmbus_rndis_msg m;

	(void)state;
	packet(b);
	assert_int_equal(cvmbus_rndis_parse(b, 104, &m), 0);
	/* Too short for a header; msg len past the buffer; msg len below
	 * the packet's fixed part. */
	assert_int_equal(cvmbus_rndis_parse(b, 7, &m), -EMSGSIZE);
	assert_int_equal(cvmbus_rndis_parse(b, 103, &m), -EMSGSIZE);
	put32(b, 4, 40);
	assert_int_equal(cvmbus_rndis_parse(b, 104, &m), -EMSGSIZE);
	/* Data running one byte past the message. */
	packet(b);
	put32(b, 12, 61);
	assert_int_equal(cvmbus_rndis_parse(b, 104, &m), -ERANGE);
	/* Data overlapping the fixed fields. */
	packet(b);
	put32(b, 8, 16);
	assert_int_equal(cvmbus_rndis_parse(b, 104, &m), -ERANGE);
	/* offset + length wrapping 32 bits. */
	packet(b);
	put32(b, 8, 0xfffffff0u);
	put32(b, 12, 0x20);
	assert_int_equal(cvmbus_rndis_parse(b, 104, &m), -ERANGE);
	/* No data. */
	packet(b);
	put32(b, 12, 0);
	assert_int_equal(cvmbus_rndis_parse(b, 104, &m), -EINVAL);
	/* Out-of-band data. */
	packet(b);
	put32(b, 20, 4);
	assert_int_equal(cvmbus_rndis_parse(b, 104, &m), -EINVAL);
	/* Per-packet info past the message. */
	packet(b);
	put32(b, 28, 36);
	put32(b, 32, 100);
	assert_int_equal(cvmbus_rndis_parse(b, 104, &m), -ERANGE);
}

static void test_parse_ppi(void **state)
{
	uint8_t b[200];
	struct cvmbus_rndis_msg m;

	(void)state;
	/* 44 header, 16 bytes of ppi (one element: 12 header + u32 value),
	 * then the 60-byte frame: 120 bytes. */
	packet(b);
	put32(b, 4, 120);
	put32(b, 8, 52);
	put32(b, 28, 36);
	put32(b, 32, 16);
	put32(b, 44, 16); /* element size */
	put32(b, 48, 0);  /* checksum info */
	put32(b, 52, 12); /* value offset */
	assert_int_equal(cvmbus_rndis_parse(b, 120, &m), 0);
	assert_int_equal(m.ppi_count, 1);
	assert_int_equal(m.data_len, 60);
	assert_ptr_equal(m.data, b + 60);
	/* An element smaller than its own header. */
	put32(b, 44, 4);
	assert_int_equal(cvmbus_rndis_parse(b, 120, &m), -EINVAL);
	/* An element larger than the area. */
	put32(b, 44, 20);
	assert_int_equal(cvmbus_rndis_parse(b, 120, &m), -EINVAL);
	/* A value offset past the element. */
	put32(b, 44, 16);
	put32(b, 52, 17);
	assert_int_equal(cvmbus_rndis_parse(b, 120, &m), -EINVAL);
	/* A zero-size element would loop forever if accepted. */
	put32(b, 44, 0);
	assert_int_equal(cvmbus_rndis_parse(b, 120, &m), -EINVAL);
}

static void test_parse_control_refusals(void **state)
{
	uint8_t b[64];
	struct cvmbus_rndis_msg m;

	(void)state;
	/* An unknown message type. */
	memset(b, 0, sizeof(b));
	put32(b, 0, 0x99);
	put32(b, 4, 16);
	assert_int_equal(cvmbus_rndis_parse(b, 16, &m), -ENOMSG);
	/* A QUERY whose info buffer leaves the message. */
	assert_int_equal(cvmbus_rndis_build_query(b, sizeof(b), 1, 0x10114, "abcd", 4), 32);
	put32(b, 16, 5);
	assert_int_equal(cvmbus_rndis_parse(b, 32, &m), -ERANGE);
	/* A QUERY_CMPLT claiming a huge info buffer. */
	assert_int_equal(cvmbus_rndis_build_query_cmplt(b, sizeof(b), 1, 0, "abcd", 4), 28);
	put32(b, 16, 0x7fffffff);
	assert_int_equal(cvmbus_rndis_parse(b, 28, &m), -ERANGE);
	/* A QUERY_CMPLT whose offset points into its own fixed fields. */
	assert_int_equal(cvmbus_rndis_build_query_cmplt(b, sizeof(b), 1, 0, "abcd", 4), 28);
	put32(b, 20, 4);
	assert_int_equal(cvmbus_rndis_parse(b, 28, &m), -ERANGE);
	/* An INDICATE_STATUS whose status buffer leaves the message. */
	assert_int_equal(cvmbus_rndis_build_indicate(b, sizeof(b), 0x4001000b, "xy", 2), 22);
	put32(b, 16, 0xffffffff);
	assert_int_equal(cvmbus_rndis_parse(b, 22, &m), -ERANGE);
	/* An INITIALIZE_CMPLT cut short. */
	put32(b, 0, CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT);
	put32(b, 4, 40);
	assert_int_equal(cvmbus_rndis_parse(b, 64, &m), -EMSGSIZE);
	assert_string_equal(cvmbus_rndis_type_name(CVMBUS_RNDIS_MSG_QUERY_CMPLT), "query-cmplt");
}

static void test_filter(void **state)
{
	static const uint8_t mac[6] = { 0x00, 0x15, 0x5d, 0xaa, 0xbb, 0xcc };
	uint8_t f[60] = { 0 };
	const uint32_t normal = CVMBUS_RNDIS_FILTER_DIRECTED | CVMBUS_RNDIS_FILTER_BROADCAST |
				CVMBUS_RNDIS_FILTER_MULTICAST;

	(void)state;
	memcpy(f, mac, 6);
	assert_true(cvmbus_net_filter_accepts(normal, mac, f, sizeof(f)));
	assert_false(cvmbus_net_filter_accepts(CVMBUS_RNDIS_FILTER_BROADCAST, mac, f, sizeof(f)));
	assert_false(cvmbus_net_filter_accepts(0, mac, f, sizeof(f)));
	assert_false(cvmbus_net_filter_accepts(normal, mac, f, 13));
	f[5] = 0xcd; /* someone else's */
	assert_false(cvmbus_net_filter_accepts(normal, mac, f, sizeof(f)));
	assert_true(cvmbus_net_filter_accepts(CVMBUS_RNDIS_FILTER_PROMISCUOUS, mac, f, sizeof(f)));
	memset(f, 0xff, 6); /* broadcast */
	assert_true(cvmbus_net_filter_accepts(normal, mac, f, sizeof(f)));
	assert_false(cvmbus_net_filter_accepts(CVMBUS_RNDIS_FILTER_DIRECTED, mac, f, sizeof(f)));
	f[0] = 0x33; /* IPv6 multicast 33:33:... */
	f[1] = 0x33;
	assert_true(cvmbus_net_filter_accepts(normal, mac, f, sizeof(f)));
	assert_false(cvmbus_net_filter_accepts(CVMBUS_RNDIS_FILTER_DIRECTED |
						       CVMBUS_RNDIS_FILTER_BROADCAST,
					       mac, f, sizeof(f)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_init),
		cmocka_unit_test(test_build_query_set),
		cmocka_unit_test(test_build_completions),
		cmocka_unit_test(test_build_packet),
		cmocka_unit_test(test_parse_packet_refusals),
		cmocka_unit_test(test_parse_ppi),
		cmocka_unit_test(test_parse_control_refusals),
		cmocka_unit_test(test_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
