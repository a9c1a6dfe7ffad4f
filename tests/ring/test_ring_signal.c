/* SPDX-License-Identifier: MIT */
/*
 * Signalling decisions of the ring (tests/ring), one table row per case:
 * the writer's hv_signal_on_write rule (interrupt mask x ring empty before
 * the write), the reader's hv_pkt_iter_close rule (feature bit, pending 0,
 * crossing, already enough, still not enough, exact boundaries, batches),
 * batched reading with data arriving between drain and end_read (the
 * re-poll count), the pending-send-size setter, and which control words
 * each role's init writes. Expected values come from the Linux rules
 * written out in docs/RING.md, not from the code under test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ring/ring_test_util.h"

#define DATA_SIZE 8192u
#define PKT_TOTAL 1024u               /* ring space of the packets used here */
#define PKT_PAYLOAD (PKT_TOTAL - 24u) /* 1000: descriptor 16, trailer 8 */

struct fixture {
	struct tring t;
	struct cvmbus_ring w, rd;
	uint8_t buf[DATA_SIZE];
	uint8_t payload[PKT_PAYLOAD];
	uint64_t seq;
};

static void fx_init(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	assert_int_equal(tring_heap(&fx->t, DATA_SIZE), 0);
	assert_int_equal(cvmbus_ring_init(&fx->w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &fx->t.mem), 0);
	assert_int_equal(cvmbus_ring_init(&fx->rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &fx->t.mem), 0);
}

static bool fx_write(struct fixture *fx)
{
	bool sig = false;
	uint32_t needed = 0;

	assert_int_equal(cvmbus_ring_send_inband(&fx->w, 0, fx->seq++, fx->payload, PKT_PAYLOAD,
						 &sig, &needed), 0);
	return sig;
}

static bool fx_read(struct fixture *fx)
{
	struct cvmbus_ring_packet pkt;
	bool sig = true;

	assert_int_equal(cvmbus_ring_read(&fx->rd, fx->buf, sizeof(fx->buf), &pkt, &sig), 0);
	assert_int_equal(pkt.total, PKT_TOTAL);
	return sig;
}

/* ---- writer: hv_signal_on_write ---------------------------------------- */

struct write_row {
	const char *name;
	bool masked;
	unsigned backlog; /* packets in the ring before the write under test */
	unsigned history; /* packets written and consumed before that */
	bool expect;
};

static const struct write_row write_rows[] = {
	{ "unmasked, empty (fresh)", false, 0, 0, true },
	{ "unmasked, empty (after 11 packets, indices wrapped)", false, 0, 11, true },
	{ "unmasked, not empty", false, 1, 0, false },
	{ "unmasked, not empty (after wrap)", false, 3, 9, false },
	{ "masked, empty", true, 0, 0, false },
	{ "masked, empty (after wrap)", true, 0, 11, false },
	{ "masked, not empty", true, 2, 0, false },
};

static void test_write_decisions(void **state)
{
	static struct fixture fx;

	(void)state;
	for (size_t i = 0; i < sizeof(write_rows) / sizeof(write_rows[0]); i++) {
		const struct write_row *row = &write_rows[i];

		fx_init(&fx);
		for (unsigned k = 0; k < row->history; k++) {
			fx_write(&fx);
			fx_read(&fx);
		}
		for (unsigned k = 0; k < row->backlog; k++)
			fx_write(&fx);
		if (row->masked)
			assert_int_equal(cvmbus_ring_begin_read(&fx.rd), 0);
		if (fx_write(&fx) != row->expect)
			fail_msg("write row '%s': expected signal=%d", row->name, row->expect);
		tring_free(&fx.t);
	}
}

/* The reader took everything but has not published read_index yet: the
 * writer sees a non-empty ring and stays silent. This is why a reader must
 * pass through end_read before sleeping. */
static void test_write_before_reader_publishes(void **state)
{
	static struct fixture fx;
	struct cvmbus_ring_packet pkt;
	uint32_t readable;

	(void)state;
	fx_init(&fx);
	assert_int_equal(cvmbus_ring_begin_read(&fx.rd), 0);
	fx_write(&fx);
	assert_int_equal(cvmbus_ring_recv(&fx.rd, fx.buf, sizeof(fx.buf), &pkt), 0);
	assert_int_equal(cvmbus_ring_end_read(&fx.rd, &readable), 0);
	assert_int_equal(readable, 0); /* nothing after our private position */
	assert_false(fx_write(&fx));   /* published read_index is still 0 */
	assert_int_equal(cvmbus_ring_commit(&fx.rd, NULL), 0);
	assert_int_equal(cvmbus_ring_end_read(&fx.rd, &readable), 0);
	assert_int_equal(readable, PKT_TOTAL); /* the re-check finds it */
	tring_free(&fx.t);
}

/* ---- reader: hv_pkt_iter_close ------------------------------------------ */

struct read_row {
	const char *name;
	bool feature;      /* writer advertises pending-send support */
	unsigned backlog;  /* packets written before the reads (free = 8192 - 1024 * n) */
	uint32_t pending;  /* pending_send_sz the writer set */
	unsigned batch;    /* packets received before one commit */
	bool expect;
};

static const struct read_row read_rows[] = {
	/* before 1024 <= 1024, after 2048 > 1024: crossing. */
	{ "feature bit off", false, 7, 1024, 1, false },
	{ "pending 0", true, 7, 0, 1, false },
	{ "crossing", true, 7, 1024, 1, true },
	{ "crossing, free before well below pending", true, 7, 2040, 1, true },
	/* after 2048 is not > 2048: a writer needing 2048 still waits. */
	{ "after == pending is still not enough", true, 7, 2048, 1, false },
	{ "already enough before", true, 4, 1024, 1, false },
	{ "before just above pending", true, 7, 1016, 1, false },
	{ "still not enough after", true, 7, 3000, 1, false },
	/* A batch counts all bytes it read: before 1024, after 3072. */
	{ "batch of two crosses", true, 7, 3000, 2, true },
	{ "batch of two, still not enough", true, 7, 3072, 2, false },
	{ "everything read", true, 7, 7000, 7, true },
};

static void test_read_decisions(void **state)
{
	static struct fixture fx;
	struct cvmbus_ring_packet pkt;
	bool sig, ready;

	(void)state;
	for (size_t i = 0; i < sizeof(read_rows) / sizeof(read_rows[0]); i++) {
		const struct read_row *row = &read_rows[i];

		fx_init(&fx);
		for (unsigned k = 0; k < row->backlog; k++)
			fx_write(&fx);
		assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, row->pending, &ready), 0);
		if (!row->feature) /* a peer that never set the bit */
			put_le32(tring_ctl_bytes(&fx.t) + 64, 0);
		for (unsigned k = 0; k < row->batch; k++)
			assert_int_equal(cvmbus_ring_recv(&fx.rd, fx.buf, sizeof(fx.buf), &pkt), 0);
		sig = !row->expect;
		assert_int_equal(cvmbus_ring_commit(&fx.rd, &sig), 0);
		if (sig != row->expect)
			fail_msg("read row '%s': expected signal=%d", row->name, row->expect);
		tring_free(&fx.t);
	}
}

/* Enough -> enough is not a transition: only the first read signals. */
static void test_read_signals_once(void **state)
{
	static struct fixture fx;

	(void)state;
	fx_init(&fx);
	for (unsigned k = 0; k < 7; k++)
		fx_write(&fx);
	assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, 1024, NULL), 0);
	assert_true(fx_read(&fx));
	assert_false(fx_read(&fx));
	assert_false(fx_read(&fx));
	/* A commit with nothing read decides nothing. */
	bool sig = true;
	assert_int_equal(cvmbus_ring_commit(&fx.rd, &sig), 0);
	assert_false(sig);
	tring_free(&fx.t);
}

/* End to end in one thread: the writer finds the ring full, asks to be
 * signalled, and the reader's signal comes exactly with the read that
 * makes room for it. */
static void test_full_writer_woken_by_reader(void **state)
{
	static struct fixture fx;
	uint32_t needed = 0, free_bytes;
	unsigned reads = 0;
	bool ready = true, sig;

	(void)state;
	fx_init(&fx);
	/* Bounded: a ring that let itself be filled completely would look
	 * empty again and take packets forever. */
	while (fx.seq < 16 &&
	       cvmbus_ring_send_inband(&fx.w, 0, fx.seq, fx.payload, PKT_PAYLOAD, NULL, &needed) == 0)
		fx.seq++;
	assert_int_equal(fx.seq, 7); /* 7 * 1024 = 7168; free 1024 is not > 1024 */
	assert_int_equal(needed, PKT_TOTAL);
	assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, needed, &ready), 0);
	assert_false(ready);
	do {
		sig = fx_read(&fx);
		reads++;
	} while (!sig);
	assert_int_equal(reads, 1);
	assert_int_equal(cvmbus_ring_writable(&fx.w, &free_bytes), 0);
	assert_true(free_bytes > needed);
	assert_int_equal(cvmbus_ring_send_inband(&fx.w, 0, fx.seq, fx.payload, PKT_PAYLOAD, NULL, NULL), 0);
	assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, 0, NULL), 0);
	tring_free(&fx.t);
}

/* ---- batched reading ----------------------------------------------------- */

/* The reader loop every consumer runs: begin, drain, end, re-poll while
 * end_read reports bytes. `arrivals[i]` packets are written by the "peer"
 * just before end_read of round i. Returns the number of re-polls. */
static unsigned batched_loop(struct fixture *fx, const unsigned *arrivals, unsigned rounds,
			     unsigned *drained, unsigned *writer_signals)
{
	struct cvmbus_ring_packet pkt;
	unsigned repolls = 0, round = 0;
	uint32_t readable;

	for (;;) {
		assert_int_equal(cvmbus_ring_begin_read(&fx->rd), 0);
		assert_int_equal(le32_at(tring_ctl_bytes(&fx->t) + 8), 1);
		while (cvmbus_ring_read(&fx->rd, fx->buf, sizeof(fx->buf), &pkt, NULL) == 0)
			(*drained)++;
		for (unsigned k = 0; round < rounds && k < arrivals[round]; k++)
			if (fx_write(fx))
				(*writer_signals)++; /* masked: must never happen */
		round++;
		assert_int_equal(cvmbus_ring_end_read(&fx->rd, &readable), 0);
		assert_int_equal(le32_at(tring_ctl_bytes(&fx->t) + 8), 0);
		if (readable == 0)
			return repolls;
		assert_int_equal(readable % PKT_TOTAL, 0);
		repolls++;
	}
}

static void test_batched_repoll(void **state)
{
	static struct fixture fx;
	static const unsigned arrivals[] = { 2, 1, 0 };
	unsigned drained = 0, writer_signals = 0;

	(void)state;
	fx_init(&fx);
	fx_write(&fx); /* the packet whose signal started the loop */
	assert_int_equal(batched_loop(&fx, arrivals, 3, &drained, &writer_signals), 2);
	assert_int_equal(drained, 4);
	assert_int_equal(writer_signals, 0);
	/* Unmasked and empty again: the next write signals. */
	assert_true(fx_write(&fx));
	tring_free(&fx.t);
}

static void test_batched_nothing_arrives(void **state)
{
	static struct fixture fx;
	static const unsigned arrivals[] = { 0 };
	unsigned drained = 0, writer_signals = 0;

	(void)state;
	fx_init(&fx);
	fx_write(&fx);
	fx_write(&fx);
	assert_int_equal(batched_loop(&fx, arrivals, 1, &drained, &writer_signals), 0);
	assert_int_equal(drained, 2);
	tring_free(&fx.t);
}

/* ---- pending-send setter and init side effects --------------------------- */

static void test_pending_setter(void **state)
{
	static struct fixture fx;
	uint8_t *ctl;
	bool ready;

	(void)state;
	fx_init(&fx);
	ctl = tring_ctl_bytes(&fx.t);
	for (unsigned k = 0; k < 6; k++)
		fx_write(&fx); /* free = 2048 */
	assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, 2047, &ready), 0);
	assert_int_equal(le32_at(ctl + 12), 2048); /* rounded up to 8 */
	assert_false(ready);                       /* 2048 free is not > 2048 */
	assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, 2040, &ready), 0);
	assert_int_equal(le32_at(ctl + 12), 2040);
	assert_true(ready);
	assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, 1, &ready), 0);
	assert_int_equal(le32_at(ctl + 12), 8);
	assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, DATA_SIZE - 8, &ready), 0);
	assert_false(ready);
	assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, DATA_SIZE - 7, &ready), -EINVAL);
	assert_int_equal(le32_at(ctl + 12), DATA_SIZE - 8); /* a rejected request changes nothing */
	assert_int_equal(cvmbus_ring_set_pending_send(&fx.w, 0, &ready), 0);
	assert_int_equal(le32_at(ctl + 12), 0);
	tring_free(&fx.t);
}

static void test_init_side_effects(void **state)
{
	struct tring t;
	struct cvmbus_ring w, rd, insp;
	uint8_t *ctl;

	(void)state;
	assert_int_equal(tring_heap(&t, DATA_SIZE), 0);
	ctl = tring_ctl_bytes(&t);
	/* A reader formatting the page leaves feature bits to the writer and
	 * starts unmasked. */
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_FORMAT, &t.mem), 0);
	assert_int_equal(le32_at(ctl + 64), 0);
	assert_int_equal(le32_at(ctl + 8), 0);
	/* A writer attaching sets the feature bit and clears a stale pending. */
	put_le32(ctl + 12, 512);
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(le32_at(ctl + 64), 1);
	assert_int_equal(le32_at(ctl + 12), 0);
	/* A reader attaching unmasks. */
	put_le32(ctl + 8, 1);
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(le32_at(ctl + 8), 0);
	/* An inspector writes nothing at all. */
	put_le32(ctl + 8, 1);
	put_le32(ctl + 12, 64);
	put_le32(ctl + 64, 0);
	assert_int_equal(cvmbus_ring_init(&insp, CVMBUS_RING_INSPECT, CVMBUS_RING_ATTACH, &t.mem), 0);
	assert_int_equal(le32_at(ctl + 8), 1);
	assert_int_equal(le32_at(ctl + 12), 64);
	assert_int_equal(le32_at(ctl + 64), 0);
	tring_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_decisions),
		cmocka_unit_test(test_write_before_reader_publishes),
		cmocka_unit_test(test_read_decisions),
		cmocka_unit_test(test_read_signals_once),
		cmocka_unit_test(test_full_writer_woken_by_reader),
		cmocka_unit_test(test_batched_repoll),
		cmocka_unit_test(test_batched_nothing_arrives),
		cmocka_unit_test(test_pending_setter),
		cmocka_unit_test(test_init_side_effects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
