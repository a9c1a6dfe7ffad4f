/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of RNDIS (src/dev/rndis.c): every builder against bytes
 * written by hand from Linux's rndis.h layouts, the parser on well-formed
 * messages (at an odd address too: hostile buffers are not aligned), one
 * refusal per malformed case (each offset/length that leaves its message,
 * sums that wrap, malformed per-packet info), and the packet filter. The
 * offloads: a PACKET with checksum and LSOv2 info against bytes written
 * from the layouts, the info read back, an IPv4 LSO frame fixed up as a
 * kernel expects it (total length, header checksum and pseudo-header sum
 * worked out by hand below), one refusal per hostile number, the driver's
 * mapping of a virtio header, and a UDP checksum completed by hand.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/net.h>

#include "tcp4_header.h"

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

/* ---- offloads ------------------------------------------------------------ */

static void test_build_packet_ppi(void **state)
{
	/* 44-byte header, two 16-byte elements, then 100 frame bytes. */
	static const uint8_t want[76] = {
		0x01, 0, 0, 0, 0xb0, 0, 0, 0,  /* PACKET, 176 bytes */
		0x44, 0, 0, 0, 0x64, 0, 0, 0,  /* data at body+68, 100 bytes */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* no out-of-band data */
		0x24, 0, 0, 0, 0x20, 0, 0, 0,  /* ppi at body+36, 32 bytes */
		0, 0, 0, 0, 0, 0, 0, 0,        /* vc handle, reserved */
		0x10, 0, 0, 0, 0, 0, 0, 0, 0x0c, 0, 0, 0, /* checksum element */
		0x05, 0x00, 0x22, 0x00,        /* IPv4 | TCP, header at 34 */
		0x10, 0, 0, 0, 0x02, 0, 0, 0, 0x0c, 0, 0, 0, /* LSO element */
		0xa8, 0x05, 0x20, 0x42,        /* v2, IPv4, offset 34, mss 1448 */
	};
	uint8_t b[128], frame[100];
	struct cvmbus_rndis_msg m;
	uint32_t v;

	(void)state;
	memset(b, 0xee, sizeof(b));
	assert_int_equal(cvmbus_rndis_build_packet_header_ppi(b, sizeof(b), 100, true, 0x00220005u,
							      true, 0x422005a8u),
			 76);
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(cvmbus_rndis_build_packet_header_ppi(b, 75, 100, true, 0, true, 0),
			 -ENOBUFS);
	/* One element, or none (then it is the plain 44-byte header). */
	assert_int_equal(cvmbus_rndis_build_packet_header_ppi(b, sizeof(b), 100, false, 0, true, 1),
			 60);
	assert_int_equal(cvmbus_rndis_build_packet_header_ppi(b, sizeof(b), 100, false, 0, false, 0),
			 44);

	/* Parsed back: both values, in place. */
	uint8_t whole[176];

	memcpy(whole, want, sizeof(want));
	memset(frame, 0x5a, sizeof(frame));
	memcpy(whole + 76, frame, sizeof(frame));
	assert_int_equal(cvmbus_rndis_parse(whole, sizeof(whole), &m), 0);
	assert_int_equal(m.ppi_count, 2);
	assert_ptr_equal(m.data, whole + 76);
	assert_int_equal(cvmbus_rndis_ppi_get(&m, CVMBUS_RNDIS_PPI_CHECKSUM, &v), 0);
	assert_int_equal(v, 0x00220005u);
	assert_int_equal(cvmbus_rndis_ppi_get(&m, CVMBUS_RNDIS_PPI_LSO, &v), 0);
	assert_int_equal(v, 0x422005a8u);
	assert_int_equal(cvmbus_rndis_ppi_get(&m, 6, &v), -ENOENT);
	/* Two checksum elements: which one? Neither. */
	put32(whole, 64, CVMBUS_RNDIS_PPI_CHECKSUM);
	assert_int_equal(cvmbus_rndis_parse(whole, sizeof(whole), &m), 0);
	assert_int_equal(cvmbus_rndis_ppi_get(&m, CVMBUS_RNDIS_PPI_CHECKSUM, &v), -EINVAL);
	/* A value offset that leaves no room for the u32 (the parser only
	 * asks that it be inside the element). */
	put32(whole, 64, CVMBUS_RNDIS_PPI_LSO);
	put32(whole, 68, 14);
	assert_int_equal(cvmbus_rndis_parse(whole, sizeof(whole), &m), 0);
	assert_int_equal(cvmbus_rndis_ppi_get(&m, CVMBUS_RNDIS_PPI_LSO, &v), -EINVAL);
}

/* Ethernet + IPv4 (10.0.0.1 -> 10.0.0.2, DF, TTL 64, TCP) + a 20-byte TCP
 * header + payload; total length, header checksum and TCP checksum left
 * zero, as the NDIS rule for LSO lets a guest send them. */
static size_t lso_frame(uint8_t *f, size_t payload)
{
	tcp4_header(f);
	for (size_t i = 0; i < payload; i++)
		f[54 + i] = (uint8_t)i;
	return 54 + payload;
}

#define LSO_INFO(mss, off) (CVMBUS_RNDIS_LSO_V2 | ((uint32_t)(off) << 20) | (mss))

static void test_offload_lso_ipv4(void **state)
{
	static uint8_t f[70000];
	struct cvmbus_net_offload o;
	size_t n = lso_frame(f, 3000); /* 3054 bytes */

	(void)state;
	assert_int_equal(cvmbus_net_offload_from_rndis(f, n, 1500, CVMBUS_NET_OFFLOAD_ALL, false, 0,
						       true, LSO_INFO(1448, 34), &o),
			 0);
	assert_int_equal(o.flags, CVMBUS_NET_OFF_NEEDS_CSUM);
	assert_int_equal(o.gso_type, CVMBUS_NET_GSO_TCPV4);
	assert_int_equal(o.gso_size, 1448);
	assert_int_equal(o.hdr_len, 54);
	assert_int_equal(o.csum_start, 34);
	assert_int_equal(o.csum_offset, 16);
	/* Total length 3040 = 0x0be0. Header checksum: 4500 + 0be0 + 0001 +
	 * 4000 + 4006 + 0a00 + 0001 + 0a00 + 0002 = e4ea, complement 1b15.
	 * Pseudo-header: 0a00 + 0001 + 0a00 + 0002 + 0006 + 0bcc (3020 TCP
	 * bytes) = 1fd5, stored uncomplemented. */
	assert_int_equal(f[16], 0x0b);
	assert_int_equal(f[17], 0xe0);
	assert_int_equal(f[24], 0x1b);
	assert_int_equal(f[25], 0x15);
	assert_int_equal(f[50], 0x1f);
	assert_int_equal(f[51], 0xd5);

	/* The largest: 65535 IP bytes. One more is refused. */
	n = lso_frame(f, 65535 - 40);
	assert_int_equal(cvmbus_net_offload_from_rndis(f, n, 1500, CVMBUS_NET_OFFLOAD_LSO4 |
						       CVMBUS_NET_OFFLOAD_CSUM4,
						       false, 0, true, LSO_INFO(1448, 34), &o),
			 0);
	n = lso_frame(f, 65535 - 39);
	assert_int_equal(cvmbus_net_offload_from_rndis(f, n, 1500, CVMBUS_NET_OFFLOAD_ALL, false, 0,
						       true, LSO_INFO(1448, 34), &o),
			 -EMSGSIZE);
}

static void test_offload_refusals(void **state)
{
	static uint8_t f[70000];
	struct cvmbus_net_offload o;
	const uint32_t all = CVMBUS_NET_OFFLOAD_ALL;
	size_t n;

	(void)state;
#define LSO(frame_len, allowed, info) \
	cvmbus_net_offload_from_rndis(f, frame_len, 1500, allowed, false, 0, true, info, &o)
#define CSUM(frame_len, allowed, info) \
	cvmbus_net_offload_from_rndis(f, frame_len, 1500, allowed, true, info, false, 0, &o)
	n = lso_frame(f, 3000);
	/* Not enabled: LSO at all, or LSO for IPv6 only. */
	assert_int_equal(LSO(n, 0, LSO_INFO(1448, 34)), -EPERM);
	assert_int_equal(LSO(n, CVMBUS_NET_OFFLOAD_LSO6, LSO_INFO(1448, 34)), -EPERM);
	/* LSOv1 (type bit clear). */
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 34) & ~CVMBUS_RNDIS_LSO_V2), -EINVAL);
	/* MSS: tiny, zero, or segments larger than the MTU. */
	assert_int_equal(LSO(n, all, LSO_INFO(63, 34)), -EINVAL);
	assert_int_equal(LSO(n, all, LSO_INFO(0, 34)), -EINVAL);
	assert_int_equal(LSO(n, all, LSO_INFO(1461, 34)), -EINVAL);
	assert_int_equal(LSO(n, all, LSO_INFO(1460, 34)), 0);
	/* The TCP header offset is not where the IP header ends. */
	n = lso_frame(f, 3000);
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 38)), -EPROTO);
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 1023)), -EPROTO);
	/* IPv6 info on an IPv4 frame. */
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 54) | CVMBUS_RNDIS_LSO_IPV6), -EPROTO);
	/* Not IPv4 after all: Ethernet type, IP version, protocol. */
	f[12] = 0x86;
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 34)), -EPROTO);
	n = lso_frame(f, 3000);
	f[14] = 0x65;
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 34)), -EPROTO);
	n = lso_frame(f, 3000);
	f[23] = 17;
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 34)), -EPROTO);
	/* A fragment (MF), a TCP data offset under 5 words or past the
	 * frame, headers with no payload. */
	n = lso_frame(f, 3000);
	f[20] = 0x20;
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 34)), -EPROTO);
	n = lso_frame(f, 3000);
	f[46] = 0x40;
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 34)), -EPROTO);
	n = lso_frame(f, 10);
	f[46] = 0xf0;
	assert_int_equal(LSO(n, all, LSO_INFO(64, 34)), -EPROTO);
	n = lso_frame(f, 0);
	assert_int_equal(LSO(n, all, LSO_INFO(1448, 34)), -EPROTO);
	/* Too short for the headers it names. */
	assert_int_equal(LSO(40, all, LSO_INFO(1448, 34)), -EPROTO);
	assert_int_equal(LSO(10, all, LSO_INFO(1448, 34)), -EMSGSIZE);
	/* Longer than any GSO frame. */
	assert_int_equal(LSO(CVMBUS_NET_GSO_MAX_FRAME + 1, all, LSO_INFO(1448, 34)), -EMSGSIZE);

	/* Checksum info. */
	n = lso_frame(f, 100);
	f[17] = 140; /* total length: 20 + 20 + 100 */
	assert_int_equal(CSUM(n, all, 0x00220005u), 0);
	assert_int_equal(o.flags, CVMBUS_NET_OFF_NEEDS_CSUM);
	assert_int_equal(o.gso_type, 0);
	assert_int_equal(o.csum_start, 34);
	assert_int_equal(o.csum_offset, 16);
	assert_int_equal(CSUM(n, CVMBUS_NET_OFFLOAD_CSUM6, 0x00220005u), -EPERM);
	assert_int_equal(CSUM(n, all, 0x00220007u), -EINVAL);  /* IPv4 and IPv6 */
	assert_int_equal(CSUM(n, all, 0x0022000du), -EINVAL);  /* TCP and UDP */
	assert_int_equal(CSUM(n, all, 0x00220015u), -EPERM);   /* IP header too */
	assert_int_equal(CSUM(n, all, 0x00220009u), -EPROTO);  /* UDP, but TCP */
	assert_int_equal(CSUM(n, all, 0x00260005u), -EPROTO);  /* offset 38 */
	f[17] = 141; /* one byte more than the frame has */
	assert_int_equal(CSUM(n, all, 0x00220005u), -EPROTO);
	f[17] = 30; /* a TCP segment shorter than its header */
	assert_int_equal(CSUM(n, all, 0x00220005u), -EPROTO);
	/* Longer than the MTU without LSO. */
	n = lso_frame(f, 1461);
	assert_int_equal(CSUM(n, all, 0x00220005u), -EMSGSIZE);
	assert_int_equal(cvmbus_net_offload_from_rndis(f, n, 1500, all, false, 0, false, 0, &o),
			 -EMSGSIZE);
	/* Info with nothing to do is a plain frame. */
	n = lso_frame(f, 100);
	assert_int_equal(CSUM(n, all, 0x00220001u), 0);
	assert_int_equal(o.flags, 0);
#undef LSO
#undef CSUM
}

static void test_offload_to_rndis(void **state)
{
	static uint8_t f[3054];
	struct cvmbus_net_offload o = { 0 };
	bool hc, hl;
	uint32_t c, l;

	(void)state;
	(void)lso_frame(f, 3000);
	o.flags = CVMBUS_NET_OFF_NEEDS_CSUM;
	o.gso_type = CVMBUS_NET_GSO_TCPV4;
	o.gso_size = 1448;
	o.hdr_len = 54;
	o.csum_start = 34;
	o.csum_offset = 16;
	assert_int_equal(cvmbus_net_offload_to_rndis(&o, f, sizeof(f), CVMBUS_NET_OFFLOAD_ALL, &hc,
						     &c, &hl, &l), 0);
	assert_false(hc);
	assert_true(hl);
	assert_int_equal(l, 0x422005a8u);
	o.gso_type = CVMBUS_NET_GSO_TCPV6;
	assert_int_equal(cvmbus_net_offload_to_rndis(&o, f, sizeof(f), CVMBUS_NET_OFFLOAD_ALL, &hc,
						     &c, &hl, &l), 0);
	assert_int_equal(l, 0xc22005a8u);
	/* Not granted; a GSO kind LSOv2 has no bit for (UDP). */
	assert_int_equal(cvmbus_net_offload_to_rndis(&o, f, sizeof(f), CVMBUS_NET_OFFLOAD_LSO4, &hc,
						     &c, &hl, &l), -EINVAL);
	o.gso_type = 3;
	assert_int_equal(cvmbus_net_offload_to_rndis(&o, f, sizeof(f), CVMBUS_NET_OFFLOAD_ALL, &hc,
						     &c, &hl, &l), -EINVAL);
	/* A partial TCP checksum: the checksum element. */
	o.gso_type = 0;
	assert_int_equal(cvmbus_net_offload_to_rndis(&o, f, sizeof(f), CVMBUS_NET_OFFLOAD_ALL, &hc,
						     &c, &hl, &l), 0);
	assert_true(hc);
	assert_false(hl);
	assert_int_equal(c, 0x00220005u);
	o.csum_offset = 6;
	assert_int_equal(cvmbus_net_offload_to_rndis(&o, f, sizeof(f), CVMBUS_NET_OFFLOAD_ALL, &hc,
						     &c, &hl, &l), 0);
	assert_int_equal(c, 0x00220009u);
	/* Not granted, or a field no element names (SCTP's at 8): ours. */
	assert_int_equal(cvmbus_net_offload_to_rndis(&o, f, sizeof(f), CVMBUS_NET_OFFLOAD_CSUM6, &hc,
						     &c, &hl, &l), -EOPNOTSUPP);
	o.csum_offset = 8;
	assert_int_equal(cvmbus_net_offload_to_rndis(&o, f, sizeof(f), CVMBUS_NET_OFFLOAD_ALL, &hc,
						     &c, &hl, &l), -EOPNOTSUPP);
	/* Nothing to do. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(cvmbus_net_offload_to_rndis(&o, f, sizeof(f), CVMBUS_NET_OFFLOAD_ALL, &hc,
						     &c, &hl, &l), 0);
	assert_false(hc || hl);
}

static void test_csum_fixup(void **state)
{
	/* IPv4 UDP 10.0.0.1:1 -> 10.0.0.2:2, 4 payload bytes; the checksum
	 * field holds the pseudo-header sum: 0a00 + 0001 + 0a00 + 0002 + 0011
	 * + 000c = 1420. The whole sum: 0001 + 0002 + 000c + 1420 + 0102 +
	 * 0304 = 1835; its complement e7ca goes on the wire. */
	static const uint8_t f[46] = {
		0x00, 0x15, 0x5d, 0x12, 0x34, 0x56, 0x00, 0x15, 0x5d, 0x00, 0x00, 0x01, 0x08, 0x00,
		0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
		0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
		0x00, 0x01, 0x00, 0x02, 0x00, 0x0c, 0x14, 0x20, 0x01, 0x02, 0x03, 0x04,
	};
	struct cvmbus_net_offload o = { .flags = CVMBUS_NET_OFF_NEEDS_CSUM, .csum_start = 34,
					.csum_offset = 6 };
	uint16_t v;
	uint8_t b[2];

	(void)state;
	assert_int_equal(cvmbus_net_csum_fixup(&o, f, sizeof(f), &v), 0);
	memcpy(b, &v, 2);
	assert_int_equal(b[0], 0xe7);
	assert_int_equal(b[1], 0xca);
	o.csum_offset = 11; /* the field would end past the frame */
	assert_int_equal(cvmbus_net_csum_fixup(&o, f, sizeof(f), &v), -EINVAL);
	o.csum_start = 46;
	o.csum_offset = 0;
	assert_int_equal(cvmbus_net_csum_fixup(&o, f, sizeof(f), &v), -EINVAL);
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
		cmocka_unit_test(test_build_packet_ppi),
		cmocka_unit_test(test_offload_lso_ipv4),
		cmocka_unit_test(test_offload_refusals),
		cmocka_unit_test(test_offload_to_rndis),
		cmocka_unit_test(test_csum_fixup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
