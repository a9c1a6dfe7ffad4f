/* SPDX-License-Identifier: MIT */
/*
 * Interop of the cvmbus ring (src/ring) with DPDK 22.11's VMBus channel code
 * (librte-bus-vmbus23, as Debian ships it), over real shared memory: a
 * channel region in a memfd with the upstream ring first, as DPDK's uio
 * mapping has it (DPDK's txbr = upstream, rxbr = downstream), cvmbus
 * playing the host endpoint. DPDK's struct vmbus_channel is private, so it
 * is declared from the 22.11 layout (dpdk_vmbus_2211.h) and the test skips
 * unless the installed package is 22.11.*; EAL is not initialised, which
 * the calls we make do not need (rte_mem_page_size() is sysconf()).
 *
 * Mirror rings make the comparisons exact. Next to each channel ring there
 * is a second ring driven by cvmbus on both ends with the same operations:
 * where DPDK writes a packet into the channel ring, cvmbus writes the same
 * packet into the mirror. Both data areas must then be byte-identical at
 * every step (descriptor, padding, trailer), both indices equal, and DPDK's
 * need_sig must equal cvmbus's signal decision for the same ring state; on
 * the read side, DPDK's signal (a bit in the monitor page, where 22.11
 * signals) must equal cvmbus's commit decision. A seeded PRNG drives the
 * operations through thousands of steps, many wraps of a small ring, full
 * and empty rings, batched reading (interrupt_mask) and pending-send
 * requests. A last test feeds both readers hostile packets.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvmbus/ring.h>

#include "dpdk_vmbus_2211.h"
#include "ring_pattern.h"

#define RING_DATA   8192u /* small: thousands of packets wrap it many times */
#define RING_LEN    (CVMBUS_RING_CONTROL_SIZE + RING_DATA)
#define REGION_LEN  (2u * RING_LEN)
#define DOWN_PAGES  (RING_LEN / CVMBUS_RING_PAGE_SIZE)
#define STEPS       6000u
#define MAX_PAYLOAD 700u
#define MONITOR_ID  37u /* group 1, bit 5: not the trivial first bit */
#define QCAP        1024u

/* What a written packet should look like when read back. */
struct expect {
	uint64_t i; /* pattern number and transaction id */
	uint16_t type;
	uint16_t flags;
	uint32_t size; /* payload bytes */
	uint32_t range_count;
	struct dpdk2211_gpa gpa[4];
};

struct fx {
	bool double_mapped;
	int fd, mfd_up, mfd_down;
	struct cvmbus_ring_channel_map chmap;
	struct cvmbus_ring_channel host; /* out = downstream (writer), in = upstream (reader) */
	struct dpdk2211_channel dpdk;
	uint8_t *monitor;
	/* Mirrors of the upstream and downstream rings, cvmbus on both ends. */
	struct cvmbus_ring_map mir_up, mir_down;
	struct cvmbus_ring mir_up_w, mir_up_r, mir_down_w, mir_down_r;
	/* Packets written and not yet read, oldest first. */
	struct expect q[QCAP];
	uint32_t qhead, qlen;
	uint64_t next_i;
	uint64_t rng;
};

static uint64_t rnd(struct fx *f)
{
	/* xorshift64: deterministic, so a failure replays identically. */
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

static struct cvmbus_ring_control *ctl_of(const struct cvmbus_ring_mem *m)
{
	return m->control;
}

/* ---- set-up ----------------------------------------------------------- */

static int setup(void **state, bool double_mapped)
{
	char ver[64];
	unsigned flags = double_mapped ? CVMBUS_RING_MAP_DOUBLE : 0;
	struct fx *f;

	if (!dpdk2211_check_version(ver, sizeof(ver))) {
		print_message("SKIP: librte-bus-vmbus23 is '%s', not 22.11.*: DPDK's private "
			      "channel layout is only known for 22.11\n", ver);
		*state = NULL;
		return 0;
	}
	/* 22.11.11 places a ring's data one host page after its control
	 * page; the Hyper-V layout (and cvmbus) says 4096. */
	if (sysconf(_SC_PAGESIZE) != 4096) {
		print_message("SKIP: host page size is not 4096\n");
		*state = NULL;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->double_mapped = double_mapped;
	f->rng = 0x9e3779b97f4a7c15ull;

	f->fd = memfd_create("interop-channel", MFD_CLOEXEC);
	f->mfd_up = memfd_create("interop-mirror-up", MFD_CLOEXEC);
	f->mfd_down = memfd_create("interop-mirror-down", MFD_CLOEXEC);
	assert_true(f->fd >= 0 && f->mfd_up >= 0 && f->mfd_down >= 0);
	assert_int_equal(ftruncate(f->fd, REGION_LEN), 0);
	assert_int_equal(ftruncate(f->mfd_up, RING_LEN), 0);
	assert_int_equal(ftruncate(f->mfd_down, RING_LEN), 0);

	assert_int_equal(cvmbus_ring_channel_map_fd(&f->chmap, f->fd, 0, REGION_LEN, DOWN_PAGES,
						    flags), 0);
	/* DPDK finds the data at control + page size: the mapping must agree. */
	assert_ptr_equal((uint8_t *)f->chmap.upstream.mem.control + 4096, f->chmap.upstream.mem.data);
	assert_ptr_equal((uint8_t *)f->chmap.downstream.mem.control + 4096,
			 f->chmap.downstream.mem.data);
	assert_int_equal(f->chmap.upstream.mem.data_size, RING_DATA);
	assert_int_equal(f->chmap.upstream.mem.double_mapped, double_mapped);
	/* The host formats the region before the guest attaches. */
	assert_int_equal(cvmbus_ring_channel_init(&f->host, CVMBUS_RING_ENDPOINT_HOST,
						  CVMBUS_RING_FORMAT, &f->chmap.upstream.mem,
						  &f->chmap.downstream.mem), 0);

	f->monitor = aligned_alloc(4096, 4096);
	assert_non_null(f->monitor);
	memset(f->monitor, 0, 4096);
	dpdk2211_channel_init(&f->dpdk, f->chmap.upstream.mem.control,
			      f->chmap.downstream.mem.control, RING_DATA, f->monitor, MONITOR_ID);

	assert_int_equal(cvmbus_ring_map_fd(&f->mir_up, f->mfd_up, 0, RING_LEN, flags), 0);
	assert_int_equal(cvmbus_ring_map_fd(&f->mir_down, f->mfd_down, 0, RING_LEN, flags), 0);
	assert_int_equal(cvmbus_ring_init(&f->mir_up_w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT,
					  &f->mir_up.mem), 0);
	assert_int_equal(cvmbus_ring_init(&f->mir_up_r, CVMBUS_RING_READER, CVMBUS_RING_ATTACH,
					  &f->mir_up.mem), 0);
	assert_int_equal(cvmbus_ring_init(&f->mir_down_w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT,
					  &f->mir_down.mem), 0);
	assert_int_equal(cvmbus_ring_init(&f->mir_down_r, CVMBUS_RING_READER, CVMBUS_RING_ATTACH,
					  &f->mir_down.mem), 0);
	*state = f;
	return 0;
}

static int setup_single(void **state)
{
	return setup(state, false);
}

static int setup_double(void **state)
{
	return setup(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	cvmbus_ring_unmap(&f->mir_up);
	cvmbus_ring_unmap(&f->mir_down);
	cvmbus_ring_channel_unmap(&f->chmap);
	close(f->fd);
	close(f->mfd_up);
	close(f->mfd_down);
	free(f->monitor);
	free(f);
	return 0;
}

#define SKIP_IF_NO_DPDK(f)            \
	do {                          \
		if (!(f)) {           \
			skip();       \
			return;       \
		}                     \
	} while (0)

/* ---- checks ----------------------------------------------------------- */

static void q_push(struct fx *f, const struct expect *e)
{
	assert_true(f->qlen < QCAP);
	f->q[(f->qhead + f->qlen) % QCAP] = *e;
	f->qlen++;
}

static struct expect q_pop(struct fx *f)
{
	struct expect e;

	assert_true(f->qlen > 0);
	e = f->q[f->qhead];
	f->qhead = (f->qhead + 1) % QCAP;
	f->qlen--;
	return e;
}

/* The channel ring and its mirror hold the same bytes and indices. */
static void assert_rings_equal(const struct cvmbus_ring_mem *a, const struct cvmbus_ring_mem *b)
{
	struct cvmbus_ring_control *ca = ctl_of(a), *cb = ctl_of(b);

	assert_int_equal(atomic_load(&ca->write_index), atomic_load(&cb->write_index));
	assert_int_equal(atomic_load(&ca->read_index), atomic_load(&cb->read_index));
	assert_int_equal(atomic_load(&ca->interrupt_mask), atomic_load(&cb->interrupt_mask));
	assert_int_equal(atomic_load(&ca->pending_send_sz), atomic_load(&cb->pending_send_sz));
	assert_memory_equal(a->data, b->data, RING_DATA);
}

/* A packet received by cvmbus is the one expected, byte for byte. */
static void check_cvmbus_packet(const struct cvmbus_ring_packet *pkt, const struct expect *e)
{
	uint32_t padded = (e->size + 7u) & ~7u;
	struct cvmbus_ring_desc d;

	memcpy(&d, pkt->bytes, sizeof(d));
	assert_int_equal(pkt->type, e->type);
	assert_int_equal(pkt->flags, e->flags);
	assert_int_equal(pkt->trans_id, e->i);
	assert_int_equal(pkt->payload_len, padded);
	assert_int_equal(ring_pattern_check(pkt->payload, e->size, e->i), e->size);
	for (uint32_t j = e->size; j < padded; j++)
		assert_int_equal(pkt->payload[j], 0);
	/* The trailer written by the peer records the packet's start. */
	assert_int_equal(pkt->trailer, (uint64_t)pkt->ring_offset << 32);
	assert_int_equal(pkt->total, (uint32_t)d.len8 * 8u + 8u);
	if (e->type == CVMBUS_RING_PKT_GPA_DIRECT) {
		struct cvmbus_ring_gpa_view v;
		uint32_t cursor = 0, k = 0;

		assert_int_equal(pkt->range_count, e->range_count);
		/* offset8 covers descriptor + 8-byte header + 16 per range */
		assert_int_equal(d.offset8, (24u + 16u * e->range_count) / 8u);
		while (cvmbus_ring_packet_gpa_range(pkt, &cursor, &v) == 1) {
			assert_true(k < e->range_count);
			assert_int_equal(v.byte_count, e->gpa[k].len);
			assert_int_equal(v.byte_offset, e->gpa[k].ofs);
			assert_int_equal(v.pfn_count, 1);
			assert_int_equal(cvmbus_ring_gpa_view_pfn(&v, 0), e->gpa[k].page);
			k++;
		}
		assert_int_equal(k, e->range_count);
	} else {
		assert_int_equal(d.offset8, 2);
	}
}

static bool monitor_bit_take(struct fx *f)
{
	uint32_t *trig = (uint32_t *)(f->monitor + DPDK2211_MON_TRIG_OFFSET(MONITOR_ID));
	bool set = (__atomic_load_n(trig, __ATOMIC_ACQUIRE) & DPDK2211_MON_TRIG_BIT(MONITOR_ID)) != 0;

	/* Nothing else may ever be set: a wrong layout would show here. */
	for (uint32_t off = 0; off < 4096; off += 4)
		if (off != DPDK2211_MON_TRIG_OFFSET(MONITOR_ID))
			assert_int_equal(*(uint32_t *)(f->monitor + off), 0);
	assert_int_equal(*trig & ~DPDK2211_MON_TRIG_BIT(MONITOR_ID), 0);
	__atomic_store_n(trig, 0, __ATOMIC_RELEASE);
	return set;
}

/* ---- DPDK writes, cvmbus reads ---------------------------------------- */

struct wstats {
	uint64_t packets, bytes, eagain, sig_true, sig_false, sglist;
};

static void dpdk_write_one(struct fx *f, struct wstats *st)
{
	static uint8_t payload[MAX_PAYLOAD];
	struct expect e = { .i = f->next_i };
	bool need_sig = false, sig = false;
	int rc_dpdk, rc_cv;

	if (rnd(f) % 100 < 15) {
		/* GPA direct through rte_vmbus_chan_send_sglist: one page per
		 * range, completion requested (DPDK always sets it). */
		struct cvmbus_ring_gpa_range ranges[4];
		struct cvmbus_ring_iov iov;
		struct cvmbus_ring_outpkt op = { 0 };

		e.type = CVMBUS_RING_PKT_GPA_DIRECT;
		e.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED;
		e.range_count = 1 + (uint32_t)(rnd(f) % 4);
		e.size = 8 + (uint32_t)(rnd(f) % 200);
		for (uint32_t k = 0; k < e.range_count; k++) {
			e.gpa[k].ofs = (uint32_t)(rnd(f) % 4096);
			e.gpa[k].len = 1 + (uint32_t)(rnd(f) % (4096 - e.gpa[k].ofs));
			e.gpa[k].page = rnd(f) & 0xffffffffffull;
			ranges[k] = (struct cvmbus_ring_gpa_range){
				.byte_count = e.gpa[k].len, .byte_offset = e.gpa[k].ofs,
				.pfns = &e.gpa[k].page, .pfn_count = 1,
			};
		}
		ring_pattern_fill(payload, e.size, e.i);
		rc_dpdk = rte_vmbus_chan_send_sglist(dpdk2211_chan(&f->dpdk), e.gpa, e.range_count,
						     payload, e.size, e.i, &need_sig);
		iov = (struct cvmbus_ring_iov){ .base = payload, .len = e.size };
		op.type = CVMBUS_RING_PKT_GPA_DIRECT;
		op.flags = e.flags;
		op.trans_id = e.i;
		op.gpa = ranges;
		op.gpa_count = e.range_count;
		op.payload = &iov;
		op.payload_count = 1;
		rc_cv = cvmbus_ring_send(&f->mir_up_w, &op, &sig, NULL);
		if (rc_dpdk == 0)
			st->sglist++;
	} else {
		e.type = CVMBUS_RING_PKT_INBAND;
		e.flags = (rnd(f) & 1) ? CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED : 0;
		e.size = 8 + (uint32_t)(rnd(f) % (MAX_PAYLOAD - 8));
		ring_pattern_fill(payload, e.size, e.i);
		rc_dpdk = rte_vmbus_chan_send(dpdk2211_chan(&f->dpdk), CVMBUS_RING_PKT_INBAND, payload,
					      e.size, e.i, e.flags, &need_sig);
		rc_cv = cvmbus_ring_send_inband(&f->mir_up_w, e.flags, e.i, payload, e.size, &sig,
						NULL);
	}
	/* Same fullness rule (free must stay > packet), same decision. */
	assert_int_equal(rc_dpdk, rc_cv);
	if (rc_dpdk == -EAGAIN) {
		st->eagain++;
		return;
	}
	assert_int_equal(rc_dpdk, 0);
	assert_int_equal(need_sig, sig);
	if (sig)
		st->sig_true++;
	else
		st->sig_false++;
	q_push(f, &e);
	f->next_i++;
	st->packets++;
}

static void cvmbus_read_some(struct fx *f, uint32_t max, uint64_t *bytes)
{
	static uint8_t buf_a[CVMBUS_RING_MAX_PACKET_LEN < RING_DATA ? CVMBUS_RING_MAX_PACKET_LEN
								  : RING_DATA]
		__attribute__((aligned(8)));
	static uint8_t buf_b[sizeof(buf_a)] __attribute__((aligned(8)));
	struct cvmbus_ring_packet pa, pb;
	bool sa, sb;

	for (uint32_t k = 0; k < max; k++) {
		int ra = cvmbus_ring_recv(&f->host.in, buf_a, sizeof(buf_a), &pa);
		int rb = cvmbus_ring_recv(&f->mir_up_r, buf_b, sizeof(buf_b), &pb);
		struct expect e;

		assert_int_equal(ra, rb);
		if (ra == -EAGAIN)
			break;
		assert_int_equal(ra, 0);
		e = q_pop(f);
		check_cvmbus_packet(&pa, &e);
		assert_int_equal(pa.len, pb.len);
		assert_memory_equal(pa.bytes, pb.bytes, pa.len);
		*bytes += pa.total;
	}
	/* Publish the batch on both; the upstream ring has no pending-send
	 * writer (DPDK never asks), so neither may want to signal. */
	assert_int_equal(cvmbus_ring_commit(&f->host.in, &sa), 0);
	assert_int_equal(cvmbus_ring_commit(&f->mir_up_r, &sb), 0);
	assert_false(sa);
	assert_false(sb);
}

static void test_dpdk_writes_cvmbus_reads(void **state)
{
	struct fx *f = *state;
	struct wstats st = { 0 };
	uint64_t read_bytes = 0;
	bool batching = false;
	uint32_t ra, rb;

	SKIP_IF_NO_DPDK(f);
	for (uint32_t step = 0; step < STEPS; step++) {
		/* Alternate phases: writer ahead (the ring fills, -EAGAIN)
		 * and reader ahead (the ring empties, signals happen). */
		bool writer_phase = (step / 250) % 2 == 0;
		uint32_t r = (uint32_t)(rnd(f) % 100);

		if (r < (writer_phase ? 75u : 35u)) {
			dpdk_write_one(f, &st);
		} else if (r < 95) {
			cvmbus_read_some(f, 1 + (uint32_t)(rnd(f) % 4), &read_bytes);
		} else if (!batching) {
			/* hv_begin_read on both readers: DPDK must stop
			 * asking to signal, as cvmbus's writer does. */
			assert_int_equal(cvmbus_ring_begin_read(&f->host.in), 0);
			assert_int_equal(cvmbus_ring_begin_read(&f->mir_up_r), 0);
			batching = true;
		} else {
			assert_int_equal(cvmbus_ring_end_read(&f->host.in, &ra), 0);
			assert_int_equal(cvmbus_ring_end_read(&f->mir_up_r, &rb), 0);
			assert_int_equal(ra, rb);
			batching = false;
		}
		assert_rings_equal(&f->chmap.upstream.mem, &f->mir_up.mem);
		assert_int_equal(f->dpdk.txbr.windex,
				 atomic_load(&ctl_of(&f->chmap.upstream.mem)->write_index));
	}
	while (f->qlen)
		cvmbus_read_some(f, 4, &read_bytes);
	assert_rings_equal(&f->chmap.upstream.mem, &f->mir_up.mem);

	print_message("dpdk->cvmbus: %" PRIu64 " packets (%" PRIu64 " GPA direct), %.1f wraps, "
		      "%" PRIu64 " full, need_sig %" PRIu64 " yes / %" PRIu64 " no\n",
		      st.packets, st.sglist, (double)read_bytes / RING_DATA, st.eagain, st.sig_true,
		      st.sig_false);
	/* The run must have exercised what it claims to compare. */
	assert_true(read_bytes >= 20u * RING_DATA);
	assert_true(st.eagain > 0);
	assert_true(st.sig_true > 0 && st.sig_false > 0);
	assert_true(st.sglist > 0);
}

/* ---- cvmbus writes, DPDK reads ---------------------------------------- */

struct rstats {
	uint64_t packets, bytes, eagain, pending, dpdk_sig, raw;
};

static void cvmbus_write_one(struct fx *f, struct rstats *st, bool *pending)
{
	static uint8_t payload[MAX_PAYLOAD];
	struct expect e = { .i = f->next_i };
	struct cvmbus_ring_iov iov;
	struct cvmbus_ring_outpkt op = { 0 };
	uint32_t need_a, need_b;
	bool sa, sb, ready_a, ready_b;
	int ra, rb;

	e.type = rnd(f) % 100 < 20 ? CVMBUS_RING_PKT_COMPLETION : CVMBUS_RING_PKT_INBAND;
	e.flags = (rnd(f) & 1) ? CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED : 0;
	e.size = 8 + (uint32_t)(rnd(f) % (MAX_PAYLOAD - 8));
	ring_pattern_fill(payload, e.size, e.i);
	iov = (struct cvmbus_ring_iov){ .base = payload, .len = e.size };
	op.type = e.type;
	op.flags = e.flags;
	op.trans_id = e.i;
	op.payload = &iov;
	op.payload_count = 1;
	ra = cvmbus_ring_send(&f->host.out, &op, &sa, &need_a);
	rb = cvmbus_ring_send(&f->mir_down_w, &op, &sb, &need_b);
	assert_int_equal(ra, rb);
	if (ra == -EAGAIN) {
		st->eagain++;
		assert_int_equal(need_a, need_b);
		/* Half the time the writer asks to be told when it fits, so
		 * DPDK's reader has pending-send transitions to signal. */
		if (rnd(f) & 1) {
			assert_int_equal(cvmbus_ring_set_pending_send(&f->host.out, need_a, &ready_a), 0);
			assert_int_equal(cvmbus_ring_set_pending_send(&f->mir_down_w, need_b, &ready_b),
					 0);
			assert_int_equal(ready_a, ready_b);
			*pending = true;
			st->pending++;
		}
		return;
	}
	assert_int_equal(ra, 0);
	assert_int_equal(sa, sb);
	if (*pending) {
		assert_int_equal(cvmbus_ring_set_pending_send(&f->host.out, 0, NULL), 0);
		assert_int_equal(cvmbus_ring_set_pending_send(&f->mir_down_w, 0, NULL), 0);
		*pending = false;
	}
	q_push(f, &e);
	f->next_i++;
	st->packets++;
}

static void dpdk_read_some(struct fx *f, uint32_t max, struct rstats *st)
{
	static uint8_t buf_d[RING_DATA] __attribute__((aligned(8)));
	static uint8_t buf_c[RING_DATA] __attribute__((aligned(8)));
	struct cvmbus_ring_packet pkt;
	bool sig_cv, sig_dpdk;

	for (uint32_t k = 0; k < max; k++) {
		bool raw = rnd(f) % 100 < 30;
		uint32_t len = sizeof(buf_d);
		uint64_t xact = ~0ull;
		int rd, rc;
		struct expect e;

		/* DPDK first: it consumes from the channel ring; cvmbus
		 * then reads and commits the same packet from the mirror. */
		if (raw)
			rd = rte_vmbus_chan_recv_raw(dpdk2211_chan(&f->dpdk), buf_d, &len);
		else
			rd = rte_vmbus_chan_recv(dpdk2211_chan(&f->dpdk), buf_d, &len, &xact);
		rc = cvmbus_ring_read(&f->mir_down_r, buf_c, sizeof(buf_c), &pkt, &sig_cv);
		if (rc == -EAGAIN) {
			assert_int_equal(rd, -EAGAIN);
			assert_true(rte_vmbus_chan_rx_empty(dpdk2211_chan(&f->dpdk)));
			assert_false(monitor_bit_take(f));
			break;
		}
		assert_int_equal(rc, 0);
		e = q_pop(f);
		check_cvmbus_packet(&pkt, &e);
		if (raw) {
			/* recv_raw returns the whole packet (descriptor first)
			 * and the ring bytes consumed; the caller signals, as
			 * netvsc does, with that count. */
			assert_int_equal(rd, (int)pkt.total);
			assert_int_equal(len, pkt.len);
			assert_memory_equal(buf_d, pkt.bytes, len);
			rte_vmbus_chan_signal_read(dpdk2211_chan(&f->dpdk), (uint32_t)rd);
			st->raw++;
		} else {
			assert_int_equal(rd, 0);
			assert_int_equal(xact, e.i);
			assert_int_equal(len, pkt.payload_len);
			assert_memory_equal(buf_d, pkt.payload, len);
		}
		sig_dpdk = monitor_bit_take(f);
		assert_int_equal(sig_dpdk, sig_cv);
		if (sig_dpdk)
			st->dpdk_sig++;
		st->bytes += pkt.total;
	}
}

static void test_cvmbus_writes_dpdk_reads(void **state)
{
	struct fx *f = *state;
	struct rstats st = { 0 };
	bool pending = false;

	SKIP_IF_NO_DPDK(f);
	/* DPDK's reader signals only when the writer advertises the
	 * pending-send feature: the cvmbus writer does so on FORMAT. */
	assert_true(atomic_load(&ctl_of(&f->chmap.downstream.mem)->feature_bits) &
		    CVMBUS_RING_FEATURE_PENDING_SEND_SZ);
	for (uint32_t step = 0; step < STEPS; step++) {
		bool writer_phase = (step / 250) % 2 == 0;
		uint32_t r = (uint32_t)(rnd(f) % 100);

		if (r < (writer_phase ? 75u : 35u))
			cvmbus_write_one(f, &st, &pending);
		else
			dpdk_read_some(f, 1 + (uint32_t)(rnd(f) % 4), &st);
		assert_rings_equal(&f->chmap.downstream.mem, &f->mir_down.mem);
	}
	while (f->qlen)
		dpdk_read_some(f, 4, &st);
	assert_rings_equal(&f->chmap.downstream.mem, &f->mir_down.mem);

	print_message("cvmbus->dpdk: %" PRIu64 " packets (%" PRIu64 " via recv_raw), %.1f wraps, "
		      "%" PRIu64 " full, %" PRIu64 " pending-send requests, %" PRIu64
		      " read-side signals\n",
		      st.packets, st.raw, (double)st.bytes / RING_DATA, st.eagain, st.pending,
		      st.dpdk_sig);
	assert_true(st.bytes >= 20u * RING_DATA);
	assert_true(st.eagain > 0);
	assert_true(st.dpdk_sig > 0);
	assert_true(st.raw > 0);
}

/* ---- hostile packets -------------------------------------------------- */

/* Play a broken host: put a raw packet at the start of the (empty,
 * formatted) downstream ring and publish it. */
static void put_raw_packet(struct fx *f, uint16_t type, uint16_t offset8, uint16_t len8)
{
	uint8_t *data = f->chmap.downstream.mem.data;
	struct cvmbus_ring_desc d = { .type = type, .offset8 = offset8, .len8 = len8, .trans_id = 9 };
	uint32_t body = 3u * 8u; /* what we actually put: the ring's extent */
	uint64_t trailer = 0;

	memset(data, 0, RING_DATA);
	memcpy(data, &d, sizeof(d));
	memset(data + 16, 0x5a, 8);
	memcpy(data + body, &trailer, 8);
	atomic_store(&ctl_of(&f->chmap.downstream.mem)->read_index, 0);
	atomic_store(&ctl_of(&f->chmap.downstream.mem)->write_index, body + 8);
}

static void test_hostile_packets(void **state)
{
	struct fx *f = *state;
	static uint8_t buf[4096] __attribute__((aligned(8)));
	struct cvmbus_ring reader;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_fault_info fi;
	uint32_t len;
	uint64_t xact;

	SKIP_IF_NO_DPDK(f);
	/* offset8 1 < 2 (DPDK: hlen below the minimum). Both refuse; DPDK
	 * logs through rte_log, which must not need EAL. */
	put_raw_packet(f, CVMBUS_RING_PKT_INBAND, 1, 3);
	len = sizeof(buf);
	assert_int_equal(rte_vmbus_chan_recv(dpdk2211_chan(&f->dpdk), buf, &len, &xact), -EIO);
	assert_int_equal(cvmbus_ring_init(&reader, CVMBUS_RING_READER, CVMBUS_RING_ATTACH,
					  &f->chmap.downstream.mem), 0);
	assert_int_equal(cvmbus_ring_recv(&reader, buf, sizeof(buf), &pkt), -EPROTO);
	cvmbus_ring_fault_get(&reader, &fi);
	assert_int_equal(fi.fault, CVMBUS_RING_FAULT_OFFSET8);
	assert_int_equal(fi.ring_offset, 0);

	/* len8 < offset8 (DPDK: hlen > tlen). */
	put_raw_packet(f, CVMBUS_RING_PKT_INBAND, 3, 2);
	len = sizeof(buf);
	assert_int_equal(rte_vmbus_chan_recv_raw(dpdk2211_chan(&f->dpdk), buf, &len), -EIO);
	assert_int_equal(cvmbus_ring_init(&reader, CVMBUS_RING_READER, CVMBUS_RING_ATTACH,
					  &f->chmap.downstream.mem), 0);
	assert_int_equal(cvmbus_ring_recv(&reader, buf, sizeof(buf), &pkt), -EPROTO);
	cvmbus_ring_fault_get(&reader, &fi);
	assert_int_equal(fi.fault, CVMBUS_RING_FAULT_LEN8);

	/* An unknown type (5, TEARDOWN_GPADL, never sent on a channel): DPDK
	 * passes it up, cvmbus refuses it. A documented difference. */
	put_raw_packet(f, 5, 2, 3);
	len = sizeof(buf);
	assert_int_equal(rte_vmbus_chan_recv(dpdk2211_chan(&f->dpdk), buf, &len, &xact), 0);
	assert_int_equal(len, 8);
	assert_int_equal(xact, 9);
	put_raw_packet(f, 5, 2, 3);
	assert_int_equal(cvmbus_ring_init(&reader, CVMBUS_RING_READER, CVMBUS_RING_ATTACH,
					  &f->chmap.downstream.mem), 0);
	assert_int_equal(cvmbus_ring_recv(&reader, buf, sizeof(buf), &pkt), -EPROTO);
	cvmbus_ring_fault_get(&reader, &fi);
	assert_int_equal(fi.fault, CVMBUS_RING_FAULT_TYPE);
	assert_int_equal(fi.value, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dpdk_writes_cvmbus_reads, setup_single, teardown),
		cmocka_unit_test_setup_teardown(test_dpdk_writes_cvmbus_reads, setup_double, teardown),
		cmocka_unit_test_setup_teardown(test_cvmbus_writes_dpdk_reads, setup_single, teardown),
		cmocka_unit_test_setup_teardown(test_cvmbus_writes_dpdk_reads, setup_double, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_packets, setup_single, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
