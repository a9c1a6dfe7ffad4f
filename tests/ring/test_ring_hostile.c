/* SPDX-License-Identifier: MIT */
/*
 * The ring against a hostile peer (tests/ring). Each rejection the hardened
 * reader and writer make has a row here: the peer's bytes are written by
 * hand into the shared ring (descriptor, headers, indices), and the test
 * checks the exact fault, the offending value, that the fault is terminal
 * (every later call answers -EPROTO, even after the peer "repairs" the
 * ring), and that the inspector used by `cvmbus ring dump` reports the same
 * fault. The double-fetch cases use the test hook to rewrite shared bytes
 * after the ring copied a packet and before it parsed it, and show that the
 * parsed result is the copy's. Hostile values in words that are not
 * indices (mask, pending size, feature bits) are shown to be harmless.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ring/ring_test_util.h"

#define DATA_SIZE 8192u

/* ---- one malformed ring per row -------------------------------------- */

struct hostile_row {
	const char *name;
	uint8_t bytes[64]; /* placed at data offset 0 */
	size_t nbytes;
	uint32_t write_index;
	enum cvmbus_ring_fault fault;
	uint32_t value;
};

#define TRANS 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88
#define ZERO8 0, 0, 0, 0, 0, 0, 0, 0

static const struct hostile_row rows[] = {
	{ "write index out of range", { 0 }, 0, DATA_SIZE,
	  CVMBUS_RING_FAULT_WRITE_INDEX_RANGE, DATA_SIZE },
	{ "write index far out of range", { 0 }, 0, 0xfffffff8u,
	  CVMBUS_RING_FAULT_WRITE_INDEX_RANGE, 0xfffffff8u },
	{ "write index unaligned", { 0 }, 0, 36, CVMBUS_RING_FAULT_WRITE_INDEX_ALIGN, 36 },
	{ "fewer bytes than a packet", { 0 }, 0, 16, CVMBUS_RING_FAULT_SHORT_DATA, 16 },
	{ "offset8 1 (< 2)",
	  { 0x06, 0, 0x01, 0, 0x03, 0, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_OFFSET8, 1 },
	{ "offset8 0",
	  { 0x06, 0, 0x00, 0, 0x03, 0, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_OFFSET8, 0 },
	{ "len8 2 < offset8 3",
	  { 0x06, 0, 0x03, 0, 0x02, 0, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_LEN8, 2 },
	{ "length 40 > 32 available",
	  { 0x06, 0, 0x02, 0, 0x04, 0, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_TRUNCATED, 40 },
	/* len8 0x44c: 8800 + 8 > 8192 - 8, checked before availability. */
	{ "packet larger than the ring",
	  { 0x06, 0, 0x02, 0, 0x4c, 0x04, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_TOO_BIG, 8808 },
	{ "len8 0xffff",
	  { 0x06, 0, 0x02, 0, 0xff, 0xff, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_TOO_BIG, 0xffffu * 8 + 8 },
	{ "unknown type 5 (teardown gpadl)",
	  { 0x05, 0, 0x02, 0, 0x03, 0, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_TYPE, 5 },
	{ "unknown type 0 (invalid)",
	  { 0x00, 0, 0x02, 0, 0x03, 0, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_TYPE, 0 },
	{ "unknown type 8 (gpadl)",
	  { 0x08, 0, 0x02, 0, 0x03, 0, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_TYPE, 8 },
	{ "unknown flags 0x8000",
	  { 0x06, 0, 0x02, 0, 0x03, 0, 0x00, 0x80, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_FLAGS, 0x8000 },
	{ "unknown flag 0x2 beside completion-requested",
	  { 0x06, 0, 0x02, 0, 0x03, 0, 0x03, 0x00, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_FLAGS, 3 },
	{ "gpa direct without room for its header",
	  { 0x09, 0, 0x02, 0, 0x03, 0, 0, 0, TRANS, ZERO8, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_GPA_HEADER, 0 },
	{ "gpa direct range_count 0",
	  { 0x09, 0, 0x03, 0, 0x03, 0, 0, 0, TRANS,
	    0, 0, 0, 0, 0, 0, 0, 0, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_GPA_RANGE_COUNT, 0 },
	/* One range of 4096 bytes at 0 needs one pfn: 16 bytes, 8 present. */
	{ "gpa range overflows the header",
	  { 0x09, 0, 0x04, 0, 0x04, 0, 0, 0, TRANS,
	    0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, /* reserved garbage, 1 range */
	    0x00, 0x10, 0, 0, 0x00, 0, 0, 0, ZERO8 }, 40, 40,
	  CVMBUS_RING_FAULT_GPA_RANGES, 1 },
	/* Room for one range (header + 1 pfn) but range_count says 2. */
	{ "gpa range_count beyond the ranges present",
	  { 0x09, 0, 0x05, 0, 0x05, 0, 0, 0, TRANS,
	    0, 0, 0, 0, 0x02, 0, 0, 0,
	    0x00, 0x10, 0, 0, 0x00, 0, 0, 0,
	    0x42, 0, 0, 0, 0, 0, 0, 0, ZERO8 }, 48, 48,
	  CVMBUS_RING_FAULT_GPA_RANGES, 2 },
	/* 8 bytes at offset 0xffc cross into a second page: 2 pfns needed. */
	{ "gpa range spanning more pages than listed",
	  { 0x09, 0, 0x05, 0, 0x05, 0, 0, 0, TRANS,
	    0, 0, 0, 0, 0x01, 0, 0, 0,
	    0x08, 0, 0, 0, 0xfc, 0x0f, 0, 0,
	    0x42, 0, 0, 0, 0, 0, 0, 0, ZERO8 }, 48, 48,
	  CVMBUS_RING_FAULT_GPA_RANGES, 1 },
	{ "gpa range of zero bytes",
	  { 0x09, 0, 0x05, 0, 0x05, 0, 0, 0, TRANS,
	    0, 0, 0, 0, 0x01, 0, 0, 0,
	    0x00, 0, 0, 0, 0x00, 0, 0, 0,
	    0x42, 0, 0, 0, 0, 0, 0, 0, ZERO8 }, 48, 48,
	  CVMBUS_RING_FAULT_GPA_RANGE_EMPTY, 0 },
	{ "gpa range offset 0x1000",
	  { 0x09, 0, 0x05, 0, 0x05, 0, 0, 0, TRANS,
	    0, 0, 0, 0, 0x01, 0, 0, 0,
	    0x01, 0, 0, 0, 0x00, 0x10, 0, 0,
	    0x42, 0, 0, 0, 0, 0, 0, 0, ZERO8 }, 48, 48,
	  CVMBUS_RING_FAULT_GPA_RANGE_OFFSET, 0x1000 },
	{ "transfer pages without room for the header",
	  { 0x07, 0, 0x02, 0, 0x02, 0, 0, 0, TRANS, ZERO8 }, 24, 24,
	  CVMBUS_RING_FAULT_XFER_HEADER, 0 },
	{ "transfer pages range_count 0",
	  { 0x07, 0, 0x03, 0, 0x03, 0, 0, 0, TRANS,
	    0x01, 0, 0, 0, 0x00, 0, 0, 0, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_XFER_RANGE_COUNT, 0 },
	{ "transfer page ranges overflow the header",
	  { 0x07, 0, 0x03, 0, 0x04, 0, 0, 0, TRANS,
	    0x01, 0, 0, 0, 0x01, 0, 0, 0,
	    0x10, 0, 0, 0, 0x00, 0, 0, 0, ZERO8 }, 40, 40,
	  CVMBUS_RING_FAULT_XFER_RANGES, 1 },
	{ "transfer page range_count 0x20000000",
	  { 0x07, 0, 0x03, 0, 0x03, 0, 0, 0, TRANS,
	    0x01, 0, 0, 0, 0x00, 0, 0, 0x20, ZERO8 }, 32, 32,
	  CVMBUS_RING_FAULT_XFER_RANGES, 0x20000000 },
};

/* A well-formed 32-byte in-band packet, for "repairing" the ring. */
static const uint8_t good_packet[32] = {
	0x06, 0, 0x02, 0, 0x03, 0, 0, 0, TRANS, 'o', 'k', 0, 0, 0, 0, 0, ZERO8,
};

static void place(struct tring *t, const uint8_t *bytes, size_t n, uint32_t write_index)
{
	memcpy(tring_data(t), bytes, n);
	put_le32(tring_ctl_bytes(t) + 0, write_index);
}

static void check_fault(const struct cvmbus_ring *r, const struct hostile_row *row)
{
	struct cvmbus_ring_fault_info fi;

	assert_int_equal(cvmbus_ring_state(r), CVMBUS_RING_STATE_CORRUPT);
	cvmbus_ring_fault_get(r, &fi);
	if (fi.fault != row->fault || fi.value != row->value)
		fail_msg("row '%s': fault %d (%s) value %u, expected %d (%s) value %u", row->name,
			 fi.fault, cvmbus_ring_fault_str(fi.fault), fi.value, row->fault,
			 cvmbus_ring_fault_str(row->fault), row->value);
	assert_int_equal(fi.ring_offset, 0);
	assert_string_not_equal(cvmbus_ring_fault_str(fi.fault), "unknown fault");
}

static void test_reader_rejections(void **state)
{
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_iter it;
	struct cvmbus_ring rd, insp;
	struct tring t;
	uint8_t buf[DATA_SIZE];
	uint32_t n;
	bool sig;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct hostile_row *row = &rows[i];
		struct cvmbus_ring_fault_info before, after;

		assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
		memset(t.block, 0, CVMBUS_RING_CONTROL_SIZE + DATA_SIZE);
		assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
		place(&t, row->bytes, row->nbytes, row->write_index);

		assert_int_equal(cvmbus_ring_recv(&rd, buf, sizeof(buf), &pkt), -EPROTO);
		check_fault(&rd, row);
		cvmbus_ring_fault_get(&rd, &before);

		/* The peer repairs the ring: too late, CORRUPT is terminal. */
		place(&t, good_packet, sizeof(good_packet), 32);
		assert_int_equal(cvmbus_ring_recv(&rd, buf, sizeof(buf), &pkt), -EPROTO);
		assert_int_equal(cvmbus_ring_read(&rd, buf, sizeof(buf), &pkt, &sig), -EPROTO);
		assert_int_equal(cvmbus_ring_commit(&rd, &sig), -EPROTO);
		assert_int_equal(cvmbus_ring_begin_read(&rd), -EPROTO);
		assert_int_equal(cvmbus_ring_end_read(&rd, &n), -EPROTO);
		assert_int_equal(cvmbus_ring_readable(&rd, &n), -EPROTO);
		assert_int_equal(cvmbus_ring_iter_begin(&rd, &it), -EPROTO);
		cvmbus_ring_fault_get(&rd, &after);
		assert_memory_equal(&before, &after, sizeof(before));
		/* Nothing was published for the bad packet. */
		assert_int_equal(le32_at(tring_ctl_bytes(&t) + 4), 0);

		/* The inspector behind `cvmbus ring dump` reports the same. */
		place(&t, row->bytes, row->nbytes, row->write_index);
		if (row->fault == CVMBUS_RING_FAULT_WRITE_INDEX_RANGE ||
		    row->fault == CVMBUS_RING_FAULT_WRITE_INDEX_ALIGN) {
			assert_int_equal(cvmbus_ring_init(&insp, CVMBUS_RING_INSPECT,
							  CVMBUS_RING_ATTACH, &t.mem), -EPROTO);
		} else {
			assert_int_equal(cvmbus_ring_init(&insp, CVMBUS_RING_INSPECT,
							  CVMBUS_RING_ATTACH, &t.mem), 0);
			assert_int_equal(cvmbus_ring_iter_begin(&insp, &it), 0);
			assert_int_equal(cvmbus_ring_iter_next(&insp, &it, buf, sizeof(buf), &pkt),
					 -EPROTO);
		}
		check_fault(&insp, row);
		tring_free(&t);
	}
}

/* A dump of an image whose second packet is bad: the first is returned,
 * then the fault with the offset of the second. */
static void test_dump_stops_at_bad_packet(void **state)
{
	uint8_t img[64];
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_fault_info fi;
	struct cvmbus_ring_iter it;
	struct cvmbus_ring insp;
	struct tring t;
	uint8_t buf[256];

	(void)state;
	assert_int_equal(rows[6].fault, CVMBUS_RING_FAULT_LEN8);
	memcpy(img, good_packet, 32);
	memcpy(img + 32, rows[6].bytes, 32); /* len8 < offset8 */
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	memset(t.block, 0, CVMBUS_RING_CONTROL_SIZE + DATA_SIZE);
	place(&t, img, sizeof(img), 64);
	assert_int_equal(cvmbus_ring_init(&insp, CVMBUS_RING_INSPECT, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(cvmbus_ring_iter_begin(&insp, &it), 0);
	assert_int_equal(cvmbus_ring_iter_next(&insp, &it, buf, sizeof(buf), &pkt), 0);
	assert_memory_equal(pkt.payload, "ok", 2);
	assert_int_equal(cvmbus_ring_iter_next(&insp, &it, buf, sizeof(buf), &pkt), -EPROTO);
	cvmbus_ring_fault_get(&insp, &fi);
	assert_int_equal(fi.fault, CVMBUS_RING_FAULT_LEN8);
	assert_int_equal(fi.ring_offset, 32);
	assert_string_equal(cvmbus_ring_fault_str(fi.fault), "packet length below data offset");
	tring_free(&t);
}

/* Attach validates an image's read index too. */
static void test_attach_bad_read_index(void **state)
{
	struct cvmbus_ring_fault_info fi;
	struct cvmbus_ring r;
	struct tring t;

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	memset(t.block, 0, CVMBUS_RING_CONTROL_SIZE);
	put_le32(tring_ctl_bytes(&t) + 4, 9000);
	assert_int_equal(cvmbus_ring_init(&r, CVMBUS_RING_INSPECT, CVMBUS_RING_ATTACH, &t.mem), -EPROTO);
	cvmbus_ring_fault_get(&r, &fi);
	assert_int_equal(fi.fault, CVMBUS_RING_FAULT_READ_INDEX_RANGE);
	assert_int_equal(fi.value, 9000);
	put_le32(tring_ctl_bytes(&t) + 4, 4);
	assert_int_equal(cvmbus_ring_init(&r, CVMBUS_RING_WRITER, CVMBUS_RING_ATTACH, &t.mem), -EPROTO);
	cvmbus_ring_fault_get(&r, &fi);
	assert_int_equal(fi.fault, CVMBUS_RING_FAULT_READ_INDEX_ALIGN);
	tring_free(&t);
}

/* ---- the writer against a hostile reader --------------------------------- */

static void test_writer_rejects_read_index(void **state)
{
	static const struct {
		uint32_t read_index;
		enum cvmbus_ring_fault fault;
	} bad[] = {
		{ DATA_SIZE, CVMBUS_RING_FAULT_READ_INDEX_RANGE },
		{ 0x80000000u, CVMBUS_RING_FAULT_READ_INDEX_RANGE },
		{ 12, CVMBUS_RING_FAULT_READ_INDEX_ALIGN },
	};
	uint8_t big[4000] = { 0 };
	struct cvmbus_ring_fault_info fi;
	struct cvmbus_ring w;
	struct tring t;
	bool sig, ready;
	uint32_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* (a) The ring looks full from the cache, so the writer loads
		 * the read index before writing: nothing is written. */
		assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
		assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
		assert_int_equal(cvmbus_ring_send_inband(&w, 0, 1, big, sizeof(big), NULL, NULL), 0);
		assert_int_equal(cvmbus_ring_send_inband(&w, 0, 2, big, sizeof(big), NULL, NULL), 0);
		put_le32(tring_ctl_bytes(&t) + 4, bad[i].read_index);
		/* 144 bytes free; this packet takes 224. */
		assert_int_equal(cvmbus_ring_send_inband(&w, 0, 3, big, 200, NULL, NULL), -EPROTO);
		assert_int_equal(le32_at(tring_ctl_bytes(&t)), 2 * 4024); /* unchanged */
		cvmbus_ring_fault_get(&w, &fi);
		assert_int_equal(fi.fault, bad[i].fault);
		assert_int_equal(fi.value, bad[i].read_index);
		/* Terminal for the writer too, read index repaired or not. */
		put_le32(tring_ctl_bytes(&t) + 4, 0);
		assert_int_equal(cvmbus_ring_send_inband(&w, 0, 4, "x", 1, &sig, NULL), -EPROTO);
		assert_int_equal(cvmbus_ring_set_pending_send(&w, 8, &ready), -EPROTO);
		assert_int_equal(cvmbus_ring_writable(&w, &n), -EPROTO);
		tring_free(&t);

		/* (b) Room in the cache: the packet goes in, but the signal
		 * decision loads the read index after the fence and finds it
		 * bad. The packet is out; the ring is corrupt from now on. */
		assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
		assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
		put_le32(tring_ctl_bytes(&t) + 4, bad[i].read_index);
		sig = true;
		assert_int_equal(cvmbus_ring_send_inband(&w, 0, 5, "y", 1, &sig, NULL), -EPROTO);
		assert_false(sig);
		assert_int_equal(le32_at(tring_ctl_bytes(&t)), 32);
		cvmbus_ring_fault_get(&w, &fi);
		assert_int_equal(fi.fault, bad[i].fault);
		tring_free(&t);
	}
}

/* Words that are not indices cannot hurt: any interrupt_mask != 0 means
 * masked, any pending size is only compared, unknown feature bits are
 * ignored. */
static void test_hostile_control_words(void **state)
{
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring w, rd;
	struct tring t;
	uint8_t buf[64];
	bool sig;

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
	put_le32(tring_ctl_bytes(&t) + 8, 0xdeadbeef);
	assert_int_equal(cvmbus_ring_send_inband(&w, 0, 1, "a", 1, &sig, NULL), 0);
	assert_false(sig);
	put_le32(tring_ctl_bytes(&t) + 12, 0xffffffffu);
	put_le32(tring_ctl_bytes(&t) + 64, 0xffffffffu);
	assert_int_equal(cvmbus_ring_read(&rd, buf, sizeof(buf), &pkt, &sig), 0);
	assert_false(sig);
	assert_int_equal(cvmbus_ring_state(&rd), CVMBUS_RING_STATE_READY);
	assert_int_equal(cvmbus_ring_state(&w), CVMBUS_RING_STATE_READY);
	tring_free(&t);
}

/* A buffer that is too small is the caller's problem, not the peer's: no
 * fault, nothing consumed, and the size needed is reported. */
static void test_small_buffer_is_not_corruption(void **state)
{
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring w, rd;
	struct tring t;
	uint8_t buf[128];

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(cvmbus_ring_send_inband(&w, 0, 1, buf, 100, NULL, NULL), 0);
	assert_int_equal(cvmbus_ring_recv(&rd, buf, 64, &pkt), -ENOBUFS);
	assert_int_equal(pkt.len, 120);
	assert_int_equal(pkt.total, 128);
	assert_int_equal(cvmbus_ring_state(&rd), CVMBUS_RING_STATE_READY);
	assert_int_equal(cvmbus_ring_recv(&rd, buf, sizeof(buf), &pkt), 0);
	assert_int_equal(pkt.trans_id, 1);
	tring_free(&t);
}

/* ---- double fetch -------------------------------------------------------- */

struct flip {
	struct tring *t;
	enum cvmbus_ring_hook_point at;
	unsigned calls;
	/* Bytes written into the shared packet at the hook point. */
	uint32_t off[8];
	uint8_t val[8];
	unsigned n;
};

static void flip_hook(void *arg, enum cvmbus_ring_hook_point at, uint32_t ring_offset)
{
	struct flip *f = arg;

	if (at != f->at)
		return;
	f->calls++;
	for (unsigned i = 0; i < f->n; i++)
		tring_data(f->t)[ring_offset + f->off[i]] = f->val[i];
}

/* After the descriptor is copied the peer makes len8 huge and the type
 * unknown: the ring keeps using its copy (len8 3, in-band). */
static void test_double_fetch_descriptor(void **state)
{
	struct flip f = { .at = CVMBUS_RING_HOOK_DESC_COPIED,
			  .off = { 0, 4, 5 },
			  .val = { 0x55, 0xff, 0xff },
			  .n = 3 };
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring w, rd;
	struct tring t;
	uint8_t buf[64];

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	f.t = &t;
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(cvmbus_ring_send_inband(&w, 0, 7, "payload", 7, NULL, NULL), 0);
	cvmbus_ring_set_test_hook(&rd, flip_hook, &f);
	assert_int_equal(cvmbus_ring_read(&rd, buf, sizeof(buf), &pkt, NULL), 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(tring_data(&t)[0], 0x55); /* the peer did change it */
	assert_int_equal(pkt.type, CVMBUS_RING_PKT_INBAND);
	assert_int_equal(pkt.len, 24);
	assert_int_equal(buf[0], 0x06); /* the copy holds the bytes we validated */
	assert_int_equal(buf[4], 0x03);
	assert_memory_equal(pkt.payload, "payload", 7);
	assert_int_equal(cvmbus_ring_state(&rd), CVMBUS_RING_STATE_READY);
	tring_free(&t);
}

/* After the whole packet is copied the peer rewrites trans_id, payload and
 * the GPA range into values that would be refused: the parse uses the copy,
 * so the result is the original and nothing is refused. */
static void test_double_fetch_body(void **state)
{
	const uint64_t pfn = 0x4242;
	struct cvmbus_ring_gpa_range gr = { .byte_count = 100, .byte_offset = 8, .pfns = &pfn,
					    .pfn_count = 1 };
	struct cvmbus_ring_iov iov = { "ABCD", 4 };
	struct cvmbus_ring_outpkt p = { .type = CVMBUS_RING_PKT_GPA_DIRECT,
					.trans_id = 0x1234,
					.gpa = &gr,
					.gpa_count = 1,
					.payload = &iov,
					.payload_count = 1 };
	/* range_count @20 -> 0, byte_offset @28 -> 0x5000, trans_id @8,
	 * payload @40. */
	struct flip f = { .at = CVMBUS_RING_HOOK_PACKET_COPIED,
			  .off = { 20, 29, 30, 8, 40, 41 },
			  .val = { 0, 0x50, 0, 0x99, 'x', 'y' },
			  .n = 6 };
	struct cvmbus_ring_gpa_view gv;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring w, rd;
	struct tring t;
	uint8_t buf[128];
	uint32_t cur = 0;

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	f.t = &t;
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(cvmbus_ring_send(&w, &p, NULL, NULL), 0);
	cvmbus_ring_set_test_hook(&rd, flip_hook, &f);
	assert_int_equal(cvmbus_ring_read(&rd, buf, sizeof(buf), &pkt, NULL), 0);
	assert_int_equal(f.calls, 1);
	assert_int_equal(le32_at(tring_data(&t) + 20), 0); /* shared now says 0 ranges */
	assert_int_equal(pkt.trans_id, 0x1234);
	assert_int_equal(pkt.range_count, 1);
	assert_int_equal(cvmbus_ring_packet_gpa_range(&pkt, &cur, &gv), 1);
	assert_int_equal(gv.byte_offset, 8);
	assert_int_equal(cvmbus_ring_gpa_view_pfn(&gv, 0), 0x4242);
	assert_memory_equal(pkt.payload, "ABCD", 4);
	assert_true(pkt.bytes == buf);
	tring_free(&t);
}

/* The other direction: a bad packet "repaired" by the peer after the copy is
 * still refused, because the copy is what gets validated. */
static void test_double_fetch_repair_too_late(void **state)
{
	struct flip f = { .at = CVMBUS_RING_HOOK_PACKET_COPIED, .off = { 20 }, .val = { 1 }, .n = 1 };
	struct cvmbus_ring_fault_info fi;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring rd;
	struct tring t;
	uint8_t buf[64];

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	memset(t.block, 0, CVMBUS_RING_CONTROL_SIZE + DATA_SIZE);
	f.t = &t;
	assert_int_equal(rows[16].fault, CVMBUS_RING_FAULT_GPA_RANGE_COUNT);
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
	place(&t, rows[16].bytes, rows[16].nbytes, rows[16].write_index); /* gpa range_count 0 */
	cvmbus_ring_set_test_hook(&rd, flip_hook, &f);
	assert_int_equal(cvmbus_ring_recv(&rd, buf, sizeof(buf), &pkt), -EPROTO);
	assert_int_equal(f.calls, 1);
	cvmbus_ring_fault_get(&rd, &fi);
	assert_int_equal(fi.fault, CVMBUS_RING_FAULT_GPA_RANGE_COUNT);
	tring_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_rejections),
		cmocka_unit_test(test_dump_stops_at_bad_packet),
		cmocka_unit_test(test_attach_bad_read_index),
		cmocka_unit_test(test_writer_rejects_read_index),
		cmocka_unit_test(test_hostile_control_words),
		cmocka_unit_test(test_small_buffer_is_not_corruption),
		cmocka_unit_test(test_double_fetch_descriptor),
		cmocka_unit_test(test_double_fetch_body),
		cmocka_unit_test(test_double_fetch_repair_too_late),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
