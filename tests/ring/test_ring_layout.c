/* SPDX-License-Identifier: MIT */
/*
 * Wire layout of the ring (tests/ring): the control page words and every
 * packet type as bytes in real memory, driven only through the public API
 * and checked against bytes written out by hand from the layouts in
 * docs/RING.md (never produced by the code under test). Also the channel
 * region split (which ring sits where for guest and host), caller-framed
 * writes, and the argument checks of init.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ring/ring_test_util.h"

#define DATA_SIZE 8192u

static void test_control_page_words(void **state)
{
	struct tring t;
	struct cvmbus_ring w, rd;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_control_values v;
	uint8_t buf[256];
	uint8_t *ctl;
	uint32_t readable;
	bool sig, ready;
	unsigned i;

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	ctl = tring_ctl_bytes(&t);

	/* FORMAT zeroes the page (it was 0xa5) and the writer sets feature
	 * bit 0 at byte 64. */
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	for (i = 0; i < CVMBUS_RING_CONTROL_SIZE; i++)
		assert_int_equal(ctl[i], i == 64 ? 0x01 : 0x00);

	/* One packet of 32 bytes: write_index @0 becomes 0x20. */
	assert_int_equal(cvmbus_ring_send_inband(&w, 1, 0x1122334455667788ull, "hello", 5, &sig, NULL), 0);
	assert_true(sig); /* empty before, unmasked */
	assert_memory_equal(ctl + 0, ((uint8_t[]){ 0x20, 0, 0, 0 }), 4);
	assert_memory_equal(ctl + 4, ((uint8_t[]){ 0, 0, 0, 0 }), 4);

	/* The reader attaches; begin_read sets interrupt_mask @8. */
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_memory_equal(ctl + 8, ((uint8_t[]){ 0, 0, 0, 0 }), 4);
	assert_int_equal(cvmbus_ring_begin_read(&rd), 0);
	assert_memory_equal(ctl + 8, ((uint8_t[]){ 1, 0, 0, 0 }), 4);

	/* Reading publishes read_index @4. */
	assert_int_equal(cvmbus_ring_read(&rd, buf, sizeof(buf), &pkt, &sig), 0);
	assert_memory_equal(ctl + 4, ((uint8_t[]){ 0x20, 0, 0, 0 }), 4);
	assert_int_equal(cvmbus_ring_end_read(&rd, &readable), 0);
	assert_int_equal(readable, 0);
	assert_memory_equal(ctl + 8, ((uint8_t[]){ 0, 0, 0, 0 }), 4);

	/* pending_send_sz @12, rounded up to 8. */
	assert_int_equal(cvmbus_ring_set_pending_send(&w, 13, &ready), 0);
	assert_true(ready); /* the ring is empty: 8192 free > 16 */
	assert_memory_equal(ctl + 12, ((uint8_t[]){ 0x10, 0, 0, 0 }), 4);
	assert_int_equal(cvmbus_ring_set_pending_send(&w, DATA_SIZE - 8, &ready), 0);
	assert_memory_equal(ctl + 12, ((uint8_t[]){ 0xf8, 0x1f, 0, 0 }), 4);
	assert_int_equal(cvmbus_ring_set_pending_send(&w, DATA_SIZE - 7, &ready), -EINVAL);
	assert_int_equal(cvmbus_ring_set_pending_send(&w, 0, &ready), 0);
	assert_memory_equal(ctl + 12, ((uint8_t[]){ 0, 0, 0, 0 }), 4);

	/* The snapshot reports the same words. */
	cvmbus_ring_control_snapshot(&rd, &v);
	assert_int_equal(v.write_index, 0x20);
	assert_int_equal(v.read_index, 0x20);
	assert_int_equal(v.interrupt_mask, 0);
	assert_int_equal(v.pending_send_sz, 0);
	assert_int_equal(v.feature_bits, 1);
	/* Reserved words stay zero through all of it. */
	for (i = 16; i < CVMBUS_RING_CONTROL_SIZE; i++)
		if (i < 64 || i >= 68)
			assert_int_equal(ctl[i], 0);
	tring_free(&t);
}

static void test_inband_and_completion_bytes(void **state)
{
	struct tring t;
	struct cvmbus_ring w;
	const uint8_t eight[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct cvmbus_ring_iov iov = { eight, 8 };
	struct cvmbus_ring_outpkt comp = {
		.type = CVMBUS_RING_PKT_COMPLETION,
		.trans_id = 0x42,
		.payload = &iov,
		.payload_count = 1,
	};
	static const uint8_t expect[64] = {
		/* in-band: type 6, offset8 2, len8 3, flags 1, trans_id */
		0x06, 0x00, 0x02, 0x00, 0x03, 0x00, 0x01, 0x00,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
		'h', 'e', 'l', 'l', 'o', 0x00, 0x00, 0x00, /* padded to 8 */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* trailer: 0 << 32 */
		/* completion: type 0xb, offset8 2, len8 3, flags 0 */
		0x0b, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, /* trailer: 0x20 << 32 */
	};
	bool sig;

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(cvmbus_ring_send_inband(&w, 1, 0x1122334455667788ull, "hello", 5, &sig, NULL), 0);
	assert_int_equal(cvmbus_ring_send(&w, &comp, &sig, NULL), 0);
	assert_false(sig); /* not empty before: no signal */
	assert_memory_equal(tring_data(&t), expect, sizeof(expect));
	assert_int_equal(le32_at(tring_ctl_bytes(&t)), 0x40);
	tring_free(&t);
}

static void test_gpa_direct_bytes(void **state)
{
	struct tring t;
	struct cvmbus_ring w, rd;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_gpa_view gv;
	const uint64_t pfn0[2] = { 0x1234, 0x1235 }, pfn1[2] = { 0x99, 0x9a };
	struct cvmbus_ring_gpa_range ranges[2] = {
		{ .byte_count = 0x1800, .byte_offset = 0x200, .pfns = pfn0, .pfn_count = 2 },
		{ .byte_count = 0x10, .byte_offset = 0xff8, .pfns = pfn1, .pfn_count = 2 },
	};
	struct cvmbus_ring_iov iov = { "abc", 3 };
	struct cvmbus_ring_outpkt p = {
		.type = CVMBUS_RING_PKT_GPA_DIRECT,
		.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
		.trans_id = 0x0102030405060708ull,
		.gpa = ranges,
		.gpa_count = 2,
		.payload = &iov,
		.payload_count = 1,
	};
	/* header 8 + (8 + 2*8) * 2 = 56; offset 72 -> offset8 9; body 75 ->
	 * len8 10 (80 bytes); trailer at 80. */
	static const uint8_t expect[88] = {
		0x09, 0x00, 0x09, 0x00, 0x0a, 0x00, 0x01, 0x00,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, /* reserved, range_count 2 */
		0x00, 0x18, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, /* 0x1800 bytes @0x200 */
		0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x35, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x10, 0x00, 0x00, 0x00, 0xf8, 0x0f, 0x00, 0x00, /* 0x10 bytes @0xff8 */
		0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x9a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		'a', 'b', 'c', 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t buf[128];
	uint32_t cur = 0;

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(cvmbus_ring_send(&w, &p, NULL, NULL), 0);
	assert_memory_equal(tring_data(&t), expect, sizeof(expect));
	assert_int_equal(le32_at(tring_ctl_bytes(&t)), 88);

	/* And the reader parses it back from its copy. */
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(cvmbus_ring_read(&rd, buf, sizeof(buf), &pkt, NULL), 0);
	assert_int_equal(pkt.type, CVMBUS_RING_PKT_GPA_DIRECT);
	assert_int_equal(pkt.len, 80);
	assert_int_equal(pkt.header_len, 56);
	assert_int_equal(pkt.payload_len, 8);
	assert_memory_equal(pkt.payload, "abc\0\0\0\0\0", 8);
	assert_int_equal(pkt.range_count, 2);
	assert_int_equal(cvmbus_ring_packet_gpa_range(&pkt, &cur, &gv), 1);
	assert_int_equal(gv.byte_count, 0x1800);
	assert_int_equal(gv.byte_offset, 0x200);
	assert_int_equal(gv.pfn_count, 2);
	assert_int_equal(cvmbus_ring_gpa_view_pfn(&gv, 1), 0x1235);
	assert_int_equal(cvmbus_ring_packet_gpa_range(&pkt, &cur, &gv), 1);
	assert_int_equal(gv.byte_offset, 0xff8);
	assert_int_equal(cvmbus_ring_gpa_view_pfn(&gv, 0), 0x99);
	assert_int_equal(cvmbus_ring_packet_gpa_range(&pkt, &cur, &gv), 0);

	/* The writer refuses ranges the reader would refuse. */
	ranges[1].pfn_count = 1;
	assert_int_equal(cvmbus_ring_send(&w, &p, NULL, NULL), -EINVAL);
	ranges[1].pfn_count = 2;
	ranges[1].byte_offset = 0x1000;
	assert_int_equal(cvmbus_ring_send(&w, &p, NULL, NULL), -EINVAL);
	p.gpa_count = 0;
	assert_int_equal(cvmbus_ring_send(&w, &p, NULL, NULL), -EINVAL);
	tring_free(&t);
}

static void test_xfer_pages_bytes(void **state)
{
	struct tring t;
	struct cvmbus_ring w, rd;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_xfer_range xr;
	const struct cvmbus_ring_xfer_range ranges[2] = { { 0x100, 0x0 }, { 0x200, 0x1000 } };
	struct cvmbus_ring_outpkt p = {
		.type = CVMBUS_RING_PKT_XFER_PAGES,
		.trans_id = 0x77,
		.xfer_set_id = 0xbeef,
		.xfer = ranges,
		.xfer_count = 2,
	};
	static const uint8_t expect[48] = {
		0x07, 0x00, 0x05, 0x00, 0x05, 0x00, 0x00, 0x00,
		0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0xef, 0xbe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, /* set 0xbeef, 2 ranges */
		0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x02, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t buf[64];

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(cvmbus_ring_send(&w, &p, NULL, NULL), 0);
	assert_memory_equal(tring_data(&t), expect, sizeof(expect));

	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(cvmbus_ring_read(&rd, buf, sizeof(buf), &pkt, NULL), 0);
	assert_int_equal(pkt.xfer_set_id, 0xbeef);
	assert_int_equal(pkt.range_count, 2);
	assert_int_equal(pkt.payload_len, 0);
	assert_int_equal(cvmbus_ring_packet_xfer_range(&pkt, 1, &xr), 0);
	assert_int_equal(xr.byte_count, 0x200);
	assert_int_equal(xr.byte_offset, 0x1000);
	assert_int_equal(cvmbus_ring_packet_xfer_range(&pkt, 2, &xr), -EINVAL);
	tring_free(&t);
}

static void test_caller_framed_write(void **state)
{
	struct tring t;
	struct cvmbus_ring w;
	uint8_t pktb[23] = {
		0x06, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		'1', '2', '3', '4', '5', '6', '7',
	};
	/* The descriptor split across two pieces. */
	struct cvmbus_ring_iov iov[2] = { { pktb, 5 }, { pktb + 5, 18 } };
	static const uint8_t expect[32] = {
		0x06, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		'1', '2', '3', '4', '5', '6', '7', 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(cvmbus_ring_write(&w, iov, 2, NULL, NULL), 0);
	assert_memory_equal(tring_data(&t), expect, sizeof(expect));

	pktb[4] = 4; /* len8 no longer matches the bytes given */
	assert_int_equal(cvmbus_ring_write(&w, iov, 2, NULL, NULL), -EINVAL);
	pktb[4] = 3;
	pktb[2] = 1; /* offset8 inside the descriptor */
	assert_int_equal(cvmbus_ring_write(&w, iov, 2, NULL, NULL), -EINVAL);
	pktb[2] = 2;
	pktb[0] = 5; /* not a type we send */
	assert_int_equal(cvmbus_ring_write(&w, iov, 2, NULL, NULL), -EINVAL);
	pktb[0] = 6;
	pktb[6] = 2; /* unknown flag */
	assert_int_equal(cvmbus_ring_write(&w, iov, 2, NULL, NULL), -EINVAL);
	pktb[6] = 0;
	assert_int_equal(cvmbus_ring_write(&w, iov, 1, NULL, NULL), -EINVAL); /* < 16 bytes */
	assert_int_equal(le32_at(tring_ctl_bytes(&t)), 32); /* nothing else went in */
	tring_free(&t);
}

static void test_full_is_not_empty(void **state)
{
	struct tring t;
	struct cvmbus_ring w;
	uint8_t big[DATA_SIZE];
	uint32_t needed = 0, free_bytes;

	(void)state;
	memset(big, 0x5a, sizeof(big));
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	/* body 16 + 8160 = 8176, total 8184 = size - 8: fits in an empty ring. */
	assert_int_equal(cvmbus_ring_send_inband(&w, 0, 1, big, 8160, NULL, &needed), 0);
	assert_int_equal(le32_at(tring_ctl_bytes(&t)), 8184);
	assert_int_equal(cvmbus_ring_writable(&w, &free_bytes), 0);
	assert_int_equal(free_bytes, 8);
	/* Even the smallest packet (24) does not fit into the last 8. */
	assert_int_equal(cvmbus_ring_send_inband(&w, 0, 2, NULL, 0, NULL, &needed), -EAGAIN);
	assert_int_equal(needed, 24);
	/* One byte more than the largest can never fit. */
	assert_int_equal(cvmbus_ring_send_inband(&w, 0, 3, big, 8161, NULL, &needed), -EMSGSIZE);
	tring_free(&t);
}

static void test_channel_region(void **state)
{
	enum { PAGES = 6, DPO = 2 };
	uint8_t *region = aligned_alloc(CVMBUS_RING_PAGE_SIZE, PAGES * CVMBUS_RING_PAGE_SIZE);
	struct cvmbus_ring_mem up, down;
	struct cvmbus_ring_channel guest, host;
	struct cvmbus_ring_packet pkt;
	uint8_t buf[64];

	(void)state;
	assert_non_null(region);
	memset(region, 0xa5, PAGES * CVMBUS_RING_PAGE_SIZE);
	assert_int_equal(cvmbus_ring_split(region, PAGES * 4096, 1, &up, &down), -EINVAL);
	assert_int_equal(cvmbus_ring_split(region, PAGES * 4096, 5, &up, &down), -EINVAL);
	assert_int_equal(cvmbus_ring_split(region, PAGES * 4096 + 1, 2, &up, &down), -EINVAL);
	assert_int_equal(cvmbus_ring_split(region, PAGES * 4096, DPO, &up, &down), 0);
	assert_ptr_equal(up.control, region);
	assert_ptr_equal(up.data, region + 4096);
	assert_int_equal(up.data_size, 4096);
	assert_ptr_equal(down.control, region + 8192);
	assert_ptr_equal(down.data, region + 12288);
	assert_int_equal(down.data_size, 12288);

	/* The guest owns the memory and formats both rings: its outgoing
	 * (upstream) ring gets the feature bit, the downstream one waits for
	 * the host writer. */
	assert_int_equal(cvmbus_ring_channel_init(&guest, CVMBUS_RING_ENDPOINT_GUEST,
						  CVMBUS_RING_FORMAT, &up, &down), 0);
	assert_int_equal(le32_at(region + 64), 1);
	assert_int_equal(le32_at(region + 8192 + 64), 0);
	assert_int_equal(cvmbus_ring_channel_init(&host, CVMBUS_RING_ENDPOINT_HOST,
						  CVMBUS_RING_ATTACH, &up, &down), 0);
	assert_int_equal(le32_at(region + 8192 + 64), 1);

	/* Guest -> host lands in the first ring's data, host -> guest in the
	 * second's. */
	assert_int_equal(cvmbus_ring_send_inband(&guest.out, 0, 0xa, "up", 2, NULL, NULL), 0);
	assert_int_equal(le32_at(region + 4096), 0x00020006u); /* type 6, offset8 2 */
	assert_memory_equal(region + 4096 + 16, "up", 2);
	assert_int_equal(cvmbus_ring_send_inband(&host.out, 0, 0xb, "down", 4, NULL, NULL), 0);
	assert_memory_equal(region + 12288 + 16, "down", 4);
	assert_int_equal(le32_at(region), 32);        /* upstream write_index */
	assert_int_equal(le32_at(region + 8192), 32); /* downstream write_index */

	assert_int_equal(cvmbus_ring_read(&host.in, buf, sizeof(buf), &pkt, NULL), 0);
	assert_int_equal(pkt.trans_id, 0xa);
	assert_memory_equal(pkt.payload, "up", 2);
	assert_int_equal(cvmbus_ring_read(&guest.in, buf, sizeof(buf), &pkt, NULL), 0);
	assert_int_equal(pkt.trans_id, 0xb);
	assert_memory_equal(pkt.payload, "down", 4);
	assert_int_equal(le32_at(region + 4), 32);
	assert_int_equal(le32_at(region + 8192 + 4), 32);
	free(region);
}

static void test_init_arguments(void **state)
{
	struct tring t;
	struct cvmbus_ring r;
	struct cvmbus_ring_mem m;
	uint8_t buf[64];
	struct cvmbus_ring_packet pkt;

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	m = t.mem;
	m.data_size = 0;
	assert_int_equal(cvmbus_ring_init(&r, CVMBUS_RING_READER, CVMBUS_RING_FORMAT, &m), -EINVAL);
	m.data_size = 4097;
	assert_int_equal(cvmbus_ring_init(&r, CVMBUS_RING_READER, CVMBUS_RING_FORMAT, &m), -EINVAL);
	m = t.mem;
	m.data = (uint8_t *)m.data + 1;
	assert_int_equal(cvmbus_ring_init(&r, CVMBUS_RING_READER, CVMBUS_RING_FORMAT, &m), -EINVAL);
	assert_int_equal(cvmbus_ring_init(&r, CVMBUS_RING_INSPECT, CVMBUS_RING_FORMAT, &t.mem), -EINVAL);
	assert_int_equal(cvmbus_ring_init(&r, (enum cvmbus_ring_role)9, CVMBUS_RING_FORMAT, &t.mem), -EINVAL);
	assert_int_equal(cvmbus_ring_init(&r, CVMBUS_RING_READER, CVMBUS_RING_FORMAT, NULL), -EINVAL);
	/* A failed init leaves an object every call refuses. */
	assert_int_equal(cvmbus_ring_state(&r), CVMBUS_RING_STATE_UNINIT);
	assert_int_equal(cvmbus_ring_recv(&r, buf, sizeof(buf), &pkt), -EINVAL);

	/* Roles are enforced. */
	assert_int_equal(cvmbus_ring_init(&r, CVMBUS_RING_READER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(cvmbus_ring_send_inband(&r, 0, 0, "x", 1, NULL, NULL), -EINVAL);
	assert_int_equal(cvmbus_ring_set_pending_send(&r, 8, NULL), -EINVAL);
	assert_int_equal(cvmbus_ring_recv(&r, buf, sizeof(buf), &pkt), -EAGAIN);
	assert_int_equal(cvmbus_ring_init(&r, CVMBUS_RING_INSPECT, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(cvmbus_ring_recv(&r, buf, sizeof(buf), &pkt), -EINVAL);
	assert_int_equal(cvmbus_ring_begin_read(&r), -EINVAL);
	assert_string_equal(cvmbus_ring_fault_str(CVMBUS_RING_FAULT_COUNT_), "unknown fault");
	tring_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_page_words),
		cmocka_unit_test(test_inband_and_completion_bytes),
		cmocka_unit_test(test_gpa_direct_bytes),
		cmocka_unit_test(test_xfer_pages_bytes),
		cmocka_unit_test(test_caller_framed_write),
		cmocka_unit_test(test_full_is_not_empty),
		cmocka_unit_test(test_channel_region),
		cmocka_unit_test(test_init_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
