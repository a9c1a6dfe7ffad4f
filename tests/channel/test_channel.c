/* SPDX-License-Identifier: MIT */
/*
 * Tests of the device-facing channel (src/channel) over a loopback pair:
 * real rings in a memfd mapped twice, real signalling decisions, blocking
 * through the executor. The deterministic sweep is the important one: a
 * lost wake-up in the send/receive protocol shows up there as a reported
 * deadlock instead of a flaky hang.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/channel.h>
#include <cvmbus/memory.h>

#define SEC 1000000000ull

/* ---- a fake guest-physical space for external memory ---------------- */

#define FAKE_PAGES 16
static uint8_t fake_mem[FAKE_PAGES * 4096];

static int fake_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	(void)ctx;
	if (gpa + len > sizeof(fake_mem))
		return -EFAULT;
	memcpy(dst, fake_mem + gpa, len);
	return 0;
}

static int fake_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	(void)ctx;
	if (gpa + len > sizeof(fake_mem))
		return -EFAULT;
	memcpy(fake_mem + gpa, src, len);
	return 0;
}

/* Holds: what the channel asked for, and how many are out. */
static uint64_t fake_hold_gpa;
static size_t fake_hold_len;
static int fake_holds, fake_releases;

static int fake_hold(void *ctx, uint64_t gpa, size_t len, void **ptr)
{
	(void)ctx;
	if (gpa + len > sizeof(fake_mem))
		return -EFAULT;
	fake_hold_gpa = gpa;
	fake_hold_len = len;
	fake_holds++;
	*ptr = fake_mem + gpa;
	return 0;
}

static void fake_release(void *ctx, uint64_t gpa, size_t len)
{
	(void)ctx;
	assert_int_equal(gpa, fake_hold_gpa);
	assert_int_equal(len, fake_hold_len);
	fake_releases++;
}

static const struct cvmbus_channel_ops fake_ops = {
	.mem_read = fake_read,
	.mem_write = fake_write,
	.mem_hold = fake_hold,
	.mem_release = fake_release,
};

static void pair_setup(struct cvmbus_channel_pair *p, struct cvmbus_exec *exec,
		       uint32_t ring_bytes)
{
	struct cvmbus_channel_pair_config cfg = {
		.exec = exec,
		.upstream_bytes = ring_bytes,
		.downstream_bytes = ring_bytes,
		.host_mem_ops = &fake_ops,
	};

	assert_int_equal(cvmbus_channel_pair_create(p, &cfg), 0);
}

/* ---- basic request / completion -------------------------------------- */

static void test_inband_and_completion(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair p;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_channel_stats gs, hs;
	uint8_t msg[100];

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	pair_setup(&p, exec, 8192);

	for (int i = 0; i < 3; i++) {
		memset(msg, 0x40 + i, sizeof(msg));
		assert_int_equal(cvmbus_channel_send_inband(&p.guest,
							    CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
							    100 + i, msg, sizeof(msg), 0), 0);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cvmbus_channel_recv(&p.host, &pkt, 0), 0);
		assert_int_equal(pkt.type, CVMBUS_RING_PKT_INBAND);
		assert_int_equal(pkt.trans_id, 100 + i);
		assert_int_equal(pkt.flags, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED);
		assert_true(pkt.payload_len >= sizeof(msg));
		assert_int_equal(pkt.payload[0], 0x40 + i);
		assert_int_equal(pkt.payload[99], 0x40 + i);
		assert_int_equal(cvmbus_channel_send_completion(&p.host, pkt.trans_id, "ok", 2, 0), 0);
	}
	assert_int_equal(cvmbus_channel_recv(&p.host, &pkt, 0), -EAGAIN);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cvmbus_channel_recv(&p.guest, &pkt, 0), 0);
		assert_int_equal(pkt.type, CVMBUS_RING_PKT_COMPLETION);
		assert_int_equal(pkt.trans_id, 100 + i);
		assert_memory_equal(pkt.payload, "ok", 2);
	}

	/* Linux's rule: only the empty -> non-empty write signals. Three
	 * packets written back to back into an empty ring: one signal. The
	 * host's three completions were each sent into a ring the guest had
	 * not read yet after the first: one signal too. */
	cvmbus_channel_get_stats(&p.guest, &gs);
	cvmbus_channel_get_stats(&p.host, &hs);
	assert_int_equal(gs.packets_sent, 3);
	assert_int_equal(gs.signals_sent, 1);
	assert_int_equal(hs.notifications, 1);
	assert_int_equal(hs.packets_received, 3);
	assert_int_equal(hs.signals_sent, 1);
	assert_int_equal(gs.notifications, 1);

	cvmbus_channel_pair_destroy(&p);
	cvmbus_exec_destroy(exec);
}

/* ---- timeouts and close ------------------------------------------------ */

static void test_timeouts(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair p;
	struct cvmbus_ring_packet pkt;
	uint8_t big[1000] = { 0 };
	int rc, sent = 0;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	pair_setup(&p, exec, 8192); /* 4 KiB of data per ring */

	assert_int_equal(cvmbus_channel_recv(&p.host, &pkt, 20000000ull), -ETIMEDOUT);
	while ((rc = cvmbus_channel_send_inband(&p.guest, 0, 1, big, sizeof(big), 0)) == 0)
		sent++;
	assert_int_equal(rc, -EAGAIN);
	/* Each packet takes 1024 bytes of the 4096: a fourth would fill the
	 * ring exactly, which a writer must never do (full != empty). */
	assert_int_equal(sent, 3);
	assert_int_equal(cvmbus_channel_send_inband(&p.guest, 0, 1, big, sizeof(big), 20000000ull),
			 -ETIMEDOUT);
	/* A packet that can never fit is refused, not waited for. */
	{
		static uint8_t huge[8192];

		assert_int_equal(cvmbus_channel_send_inband(&p.guest, 0, 1, huge, sizeof(huge),
							    SEC), -EMSGSIZE);
	}
	/* A kick interrupts a wait once and leaves the channel open: the
	 * guest's ring is full, so its send waits, and the kick ends it. */
	cvmbus_channel_kick(&p.guest);
	assert_int_equal(cvmbus_channel_send_inband(&p.guest, 0, 1, big, sizeof(big), SEC), -EINTR);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cvmbus_channel_recv(&p.host, &pkt, 0), 0);
	cvmbus_channel_kick(&p.host);
	assert_int_equal(cvmbus_channel_recv(&p.host, &pkt, SEC), -EINTR);
	assert_false(cvmbus_channel_is_closed(&p.host));
	assert_int_equal(cvmbus_channel_send_inband(&p.guest, 0, 9, big, sizeof(big), SEC), 0);
	assert_int_equal(cvmbus_channel_recv(&p.host, &pkt, SEC), 0);
	assert_int_equal(pkt.trans_id, 9);
	cvmbus_channel_close(&p.host);
	assert_int_equal(cvmbus_channel_recv(&p.host, &pkt, SEC), -ESHUTDOWN);
	assert_true(cvmbus_channel_is_closed(&p.host));

	cvmbus_channel_pair_destroy(&p);
	cvmbus_exec_destroy(exec);
}

/* ---- external memory across non-adjacent pages ------------------------- */

static void test_gpa_walk(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair p;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_gpa_view v;
	uint64_t pfns[3] = { 5, 2, 9 };
	struct cvmbus_ring_gpa_range r = {
		.byte_count = 8000, .byte_offset = 100, .pfns = pfns, .pfn_count = 2,
	};
	struct cvmbus_ring_iov iov = { .base = "hdr", .len = 3 };
	struct cvmbus_ring_outpkt out = {
		.type = CVMBUS_RING_PKT_GPA_DIRECT, .trans_id = 7, .gpa = &r, .gpa_count = 1,
		.payload = &iov, .payload_count = 1,
	};
	uint8_t buf[200], want[200];
	uint32_t cursor = 0;

	(void)state;
	/* 100 + 8000 bytes span 2 pages; name 2 of the 3 PFNs. */
	for (size_t i = 0; i < sizeof(fake_mem); i++)
		fake_mem[i] = (uint8_t)(i / 4096 * 16 + i % 13);
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	pair_setup(&p, exec, 8192);
	assert_int_equal(cvmbus_channel_send(&p.guest, &out, 0), 0);
	assert_int_equal(cvmbus_channel_recv(&p.host, &pkt, 0), 0);
	assert_int_equal(pkt.type, CVMBUS_RING_PKT_GPA_DIRECT);
	assert_int_equal(cvmbus_ring_packet_gpa_range(&pkt, &cursor, &v), 1);

	/* Range offset 3950 is page byte 4050 of pfn 5; 200 bytes cross into
	 * pfn 2 after 46 bytes. Expected bytes computed from the fake memory
	 * layout, not through the channel. */
	memcpy(want, fake_mem + 5 * 4096 + 4050, 46);
	memcpy(want + 46, fake_mem + 2 * 4096, 154);
	assert_int_equal(cvmbus_channel_gpa_read(&p.host, &v, 3950, buf, 200), 0);
	assert_memory_equal(buf, want, 200);

	memset(buf, 0xAB, sizeof(buf));
	assert_int_equal(cvmbus_channel_gpa_write(&p.host, &v, 3950, buf, 200), 0);
	assert_int_equal(fake_mem[5 * 4096 + 4095], 0xAB);
	assert_int_equal(fake_mem[2 * 4096 + 153], 0xAB);
	assert_int_not_equal(fake_mem[2 * 4096 + 154], 0xAB);

	/* Past the range's byte_count, and no ops on the guest side. */
	assert_int_equal(cvmbus_channel_gpa_read(&p.host, &v, 7900, buf, 200), -EINVAL);
	assert_int_equal(cvmbus_channel_gpa_read(&p.guest, &v, 0, buf, 10), -EFAULT);

	cvmbus_channel_pair_destroy(&p);
	cvmbus_exec_destroy(exec);
}

/* Receive one GPA-direct packet naming `pfns` (byte offset 100, 8000
 * bytes: two pages) into *pkt and its range into *v. */
static void recv_range(struct cvmbus_channel_pair *p, uint64_t *pfns, uint32_t npfns,
		       struct cvmbus_ring_packet *pkt, struct cvmbus_ring_gpa_view *v)
{
	struct cvmbus_ring_gpa_range r = {
		.byte_count = 8000, .byte_offset = 100, .pfns = pfns, .pfn_count = npfns,
	};
	struct cvmbus_ring_iov iov = { .base = "hdr", .len = 3 };
	struct cvmbus_ring_outpkt out = {
		.type = CVMBUS_RING_PKT_GPA_DIRECT, .trans_id = 8, .gpa = &r, .gpa_count = 1,
		.payload = &iov, .payload_count = 1,
	};
	uint32_t cursor = 0;

	assert_int_equal(cvmbus_channel_send(&p->guest, &out, 0), 0);
	assert_int_equal(cvmbus_channel_recv(&p->host, pkt, 0), 0);
	assert_int_equal(cvmbus_ring_packet_gpa_range(pkt, &cursor, v), 1);
}

/* A device may hold a range for a direct access only where its pages are
 * one run of consecutive PFNs: the guest's page list promises nothing. */
static void test_gpa_hold(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair p;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_gpa_view v;
	struct cvmbus_channel_stats st;
	uint64_t run[2] = { 5, 6 }, split[2] = { 5, 2 };
	void *ptr = NULL;

	(void)state;
	fake_holds = fake_releases = 0;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	pair_setup(&p, exec, 8192);

	/* PFNs 5, 6: one run; the pointer is byte 100 of page 5. */
	recv_range(&p, run, 2, &pkt, &v);
	assert_int_equal(cvmbus_channel_gpa_hold(&p.host, &v, 8000, &ptr), 0);
	assert_ptr_equal(ptr, fake_mem + 5 * 4096 + 100);
	assert_int_equal(fake_hold_gpa, 5 * 4096 + 100);
	assert_int_equal(fake_hold_len, 8000);
	cvmbus_channel_gpa_release(&p.host, &v, 8000, 8000);
	assert_int_equal(fake_releases, 1);
	cvmbus_channel_get_stats(&p.host, &st);
	assert_int_equal(st.ext_bytes_written, 8000);
	/* More than the range carries. */
	assert_int_equal(cvmbus_channel_gpa_hold(&p.host, &v, 8001, &ptr), -EINVAL);

	/* PFNs 5, 2: not a run past the first page, so the caller copies;
	 * the first 3996 bytes (the rest of page 5) are one. */
	recv_range(&p, split, 2, &pkt, &v);
	assert_int_equal(cvmbus_channel_gpa_hold(&p.host, &v, 8000, &ptr), -EOPNOTSUPP);
	assert_int_equal(cvmbus_channel_gpa_hold(&p.host, &v, 3997, &ptr), -EOPNOTSUPP);
	assert_int_equal(fake_holds, 1);
	assert_int_equal(cvmbus_channel_gpa_hold(&p.host, &v, 3996, &ptr), 0);
	assert_ptr_equal(ptr, fake_mem + 5 * 4096 + 100);
	cvmbus_channel_gpa_release(&p.host, &v, 3996, 0);
	assert_int_equal(fake_releases, 2);
	cvmbus_channel_get_stats(&p.host, &st);
	assert_int_equal(st.ext_bytes_written, 8000); /* nothing written */

	/* An endpoint without mem_hold (the guest's here) cannot hold. */
	assert_int_equal(cvmbus_channel_gpa_hold(&p.guest, &v, 100, &ptr), -EOPNOTSUPP);

	cvmbus_channel_pair_destroy(&p);
	cvmbus_exec_destroy(exec);
}

/* ---- a hostile peer corrupts the ring ------------------------------------ */

static void test_corrupt_ring_closes_channel(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair p;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_control *ctl;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	pair_setup(&p, exec, 8192);
	/* The host's mapping of the downstream control page: it writes a
	 * write index past the data area. */
	ctl = p.host_map.downstream.mem.control;
	ctl->write_index = 4096 + 8;
	assert_int_equal(cvmbus_channel_recv(&p.guest, &pkt, 0), -EPROTO);
	assert_true(cvmbus_channel_is_closed(&p.guest));
	assert_int_equal(cvmbus_channel_recv(&p.guest, &pkt, 0), -ESHUTDOWN);
	cvmbus_channel_pair_destroy(&p);
	cvmbus_exec_destroy(exec);
}

/* ---- two threads, small ring, many packets: native and deterministic ---- */

struct stream {
	struct cvmbus_channel_pair p;
	uint32_t count;
	uint32_t maxlen; /* payload sizes 8 .. 8 + maxlen - 1 */
	uint32_t received;
	uint64_t sum_sent, sum_received;
	int send_rc, recv_rc;
};

static int stream_sender(void *arg)
{
	struct stream *s = arg;
	uint8_t buf[1600];

	for (uint32_t i = 0; i < s->count; i++) {
		size_t len = 8 + (i * 37u) % s->maxlen;

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)(i + j);
		s->sum_sent += (uint64_t)buf[len - 1] * len;
		s->send_rc = cvmbus_channel_send_inband(&s->p.guest, 0, i, buf, len, 60 * SEC);
		if (s->send_rc)
			return s->send_rc;
	}
	return 0;
}

static int stream_receiver(void *arg)
{
	struct stream *s = arg;
	struct cvmbus_ring_packet pkt;

	while (s->received < s->count) {
		size_t len = 8 + (s->received * 37u) % s->maxlen;

		s->recv_rc = cvmbus_channel_recv(&s->p.host, &pkt, 60 * SEC);
		if (s->recv_rc)
			return s->recv_rc;
		if (pkt.trans_id != s->received || pkt.payload_len < len ||
		    pkt.payload[0] != (uint8_t)s->received)
			return -EBADMSG;
		s->sum_received += (uint64_t)pkt.payload[len - 1] * len;
		s->received++;
	}
	return 0;
}

static int stream_main(void *arg)
{
	struct stream *s = arg;
	struct cvmbus_thread *tx, *rx;
	int rtx = -1, rrx = -1;

	assert_int_equal(cvmbus_thread_spawn(cvmbus_exec_current(), &rx, "rx", stream_receiver, s), 0);
	assert_int_equal(cvmbus_thread_spawn(cvmbus_exec_current(), &tx, "tx", stream_sender, s), 0);
	cvmbus_thread_join(tx, &rtx);
	cvmbus_thread_join(rx, &rrx);
	return rtx ? rtx : rrx;
}

static void run_stream(struct cvmbus_exec *exec, uint32_t count, struct stream *s)
{
	int ret = -1;

	memset(s, 0, sizeof(*s));
	s->count = count;
	s->maxlen = 290;
	pair_setup(&s->p, exec, 8192);
	assert_int_equal(cvmbus_exec_run(exec, stream_main, s, &ret), 0);
	assert_int_equal(ret, 0);
	assert_int_equal(s->received, count);
	assert_true(s->sum_sent == s->sum_received);
	cvmbus_channel_pair_destroy(&s->p);
}

static void test_stream_native(void **state)
{
	struct cvmbus_exec *exec;
	struct stream s;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	run_stream(exec, 100000, &s);
	cvmbus_exec_destroy(exec);
}

static void test_stream_deterministic_seeds(void **state)
{
	uint64_t waits = 0;

	(void)state;
	/* Every seed is a different interleaving of sender and receiver over a
	 * ring that fills after a dozen packets; a lost wake-up on either side
	 * would end the run with -EDEADLK. */
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct cvmbus_exec_det_opts o = { .seed = seed };
		struct cvmbus_exec *exec;
		struct stream s;
		struct cvmbus_channel_stats gs;

		assert_int_equal(cvmbus_exec_det_create(&exec, &o), 0);
		memset(&s, 0, sizeof(s));
		s.count = 300;
		/* Packets up to 1.5 KiB: a random schedule fills the 4 KiB ring
		 * often enough that the sweep must meet a full ring. */
		s.maxlen = 1500;
		pair_setup(&s.p, exec, 8192);
		{
			int ret = -1;
			int rc = cvmbus_exec_run(exec, stream_main, &s, &ret);

			if (rc != 0)
				fail_msg("seed %llu: run failed %d: %s", (unsigned long long)seed, rc,
					 cvmbus_exec_det_report(exec));
			assert_int_equal(ret, 0);
		}
		assert_int_equal(s.received, 300);
		assert_true(s.sum_sent == s.sum_received);
		cvmbus_channel_get_stats(&s.p.guest, &gs);
		waits += gs.send_waits;
		cvmbus_channel_pair_destroy(&s.p);
		cvmbus_exec_destroy(exec);
	}
	/* The sweep did exercise the full-ring path. */
	assert_true(waits > 0);
}

/* ---- readers that take turns (poll, serve, reader_try/end, inline) ---- */

struct turns {
	uint32_t seen;       /* packets handled (the reader's: under its lock) */
	_Atomic uint32_t done; /* the same, for loops outside the reader lock */
	uint32_t next_id;    /* the trans_id expected next: order, no repeats */
	uint32_t stop_after; /* fn asks to stop once seen reaches this (0: never) */
	bool bad;
};

static bool turns_packet(void *ctx, const struct cvmbus_ring_packet *pkt)
{
	struct turns *t = ctx;

	if (pkt->trans_id != t->next_id)
		t->bad = true;
	t->next_id++;
	t->seen++;
	atomic_fetch_add(&t->done, 1);
	return t->stop_after && t->seen == t->stop_after;
}

static uint32_t host_in_mask(struct cvmbus_channel_pair *p)
{
	struct cvmbus_ring_control_values v;

	cvmbus_ring_control_snapshot(&p->host.rings.in, &v);
	return v.interrupt_mask;
}

static void send_ids(struct cvmbus_channel_pair *p, uint32_t first, uint32_t n)
{
	uint8_t msg[24];

	memset(msg, 0x5a, sizeof(msg));
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(cvmbus_channel_send_inband(&p->guest, 0, first + i, msg,
							    sizeof(msg), 0),
				 0);
}

static void test_reader_turns(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair p;
	struct cvmbus_channel_stats gs0, gs1;
	struct turns t = { 0 };

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	pair_setup(&p, exec, 8192);

	/* A budget: two handled, the third left to the receive thread, whose
	 * serve finds it at once (its doorbell was rung). */
	send_ids(&p, 0, 3);
	assert_int_equal(cvmbus_channel_poll(&p.host, turns_packet, &t, 2), 2);
	assert_int_equal(cvmbus_channel_serve(&p.host, turns_packet, &t, 8, 0), 1);
	assert_int_equal(cvmbus_channel_serve(&p.host, turns_packet, &t, 8, 0), -EAGAIN);
	assert_int_equal(cvmbus_channel_serve(&p.host, turns_packet, &t, 8, 1000000),
			 -ETIMEDOUT);
	assert_int_equal(t.seen, 3);
	/* Unmasked between passes: Linux's hv_end_read. */
	assert_int_equal(host_in_mask(&p), 0);

	/* fn asks to stop: the pass ends after that packet. */
	t.stop_after = 4;
	send_ids(&p, 3, 3);
	assert_int_equal(cvmbus_channel_poll(&p.host, turns_packet, &t, 8), 1);
	t.stop_after = 0;
	assert_int_equal(cvmbus_channel_serve(&p.host, turns_packet, &t, 8, 0), 2);

	/* A caller takes the reader and masks before making the peer write:
	 * the write does not signal, nobody else may read meanwhile, and
	 * the end drains what came under the mask. */
	assert_int_equal(cvmbus_channel_reader_try(&p.host), 0);
	assert_int_equal(host_in_mask(&p), 1);
	assert_int_equal(cvmbus_channel_poll(&p.host, turns_packet, &t, 8), -EBUSY);
	cvmbus_channel_get_stats(&p.guest, &gs0);
	send_ids(&p, 6, 2);
	cvmbus_channel_get_stats(&p.guest, &gs1);
	assert_int_equal(gs1.signals_sent, gs0.signals_sent);
	assert_int_equal(cvmbus_channel_reader_end(&p.host, turns_packet, &t, 8), 2);
	assert_int_equal(host_in_mask(&p), 0);
	/* Unmasked again: the next packet on an empty ring signals. */
	send_ids(&p, 8, 1);
	cvmbus_channel_get_stats(&p.guest, &gs0);
	assert_int_equal(gs0.signals_sent, gs1.signals_sent + 1);
	assert_int_equal(cvmbus_channel_poll(&p.host, turns_packet, &t, 8), 1);
	assert_int_equal(t.seen, 9);
	assert_false(t.bad);

	/* Closed: every reader says so. */
	cvmbus_channel_close(&p.host);
	assert_int_equal(cvmbus_channel_poll(&p.host, turns_packet, &t, 8), -ESHUTDOWN);
	assert_int_equal(cvmbus_channel_reader_try(&p.host), -ESHUTDOWN);
	assert_int_equal(cvmbus_channel_serve(&p.host, turns_packet, &t, 8, SEC), -ESHUTDOWN);
	cvmbus_channel_pair_destroy(&p);
	cvmbus_exec_destroy(exec);
}

struct pass_ctx {
	struct cvmbus_channel *ch;
	struct turns t;
	uint32_t passes;
};

static void count_pass(void *arg)
{
	struct pass_ctx *pc = arg;

	pc->passes++;
	(void)cvmbus_channel_poll(pc->ch, turns_packet, &pc->t, 8);
}

static void test_inline_pass(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair p;
	struct pass_ctx pc = { 0 };
	struct turns t = { 0 };

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	pair_setup(&p, exec, 8192);
	pc.ch = &p.host;

	/* No pass registered: the receive thread is woken instead. */
	send_ids(&p, 0, 1);
	(void)cvmbus_doorbell_take(&p.host.wake_rx, CVMBUS_CHANNEL_WAKE_DATA);
	cvmbus_channel_notify_inline(&p.host);
	assert_int_equal(cvmbus_doorbell_take(&p.host.wake_rx, CVMBUS_CHANNEL_WAKE_DATA),
			 CVMBUS_CHANNEL_WAKE_DATA);
	assert_int_equal(cvmbus_channel_poll(&p.host, turns_packet, &t, 8), 1);

	/* Registered: it runs on this thread and the receive thread is left
	 * asleep. */
	cvmbus_channel_set_inline(&p.host, count_pass, &pc);
	pc.t.next_id = 1;
	send_ids(&p, 1, 2);
	(void)cvmbus_doorbell_take(&p.host.wake_rx, CVMBUS_CHANNEL_WAKE_DATA);
	cvmbus_channel_notify_inline(&p.host);
	assert_int_equal(pc.passes, 1);
	assert_int_equal(pc.t.seen, 2);
	assert_int_equal(cvmbus_doorbell_take(&p.host.wake_rx, CVMBUS_CHANNEL_WAKE_DATA), 0);

	/* A pass that finds the reader held leaves the packet to the holder,
	 * which looks again before it lets go. */
	assert_int_equal(cvmbus_channel_reader_try(&p.host), 0);
	send_ids(&p, 3, 1);
	cvmbus_channel_notify_inline(&p.host);
	assert_int_equal(pc.passes, 2);
	assert_int_equal(pc.t.seen, 2);
	assert_int_equal(cvmbus_channel_reader_end(&p.host, turns_packet, &pc.t, 8), 1);
	assert_int_equal(pc.t.seen, 3);
	assert_false(pc.t.bad);

	/* Unregistered: back to waking the receive thread. */
	cvmbus_channel_set_inline(&p.host, NULL, NULL);
	cvmbus_channel_notify_inline(&p.host);
	assert_int_equal(pc.passes, 2);
	assert_int_equal(cvmbus_doorbell_take(&p.host.wake_rx, CVMBUS_CHANNEL_WAKE_DATA),
			 CVMBUS_CHANNEL_WAKE_DATA);
	cvmbus_channel_pair_destroy(&p);
	cvmbus_exec_destroy(exec);
}

/* A receive thread serving, and a second reader (a vCPU's pass, a caller
 * draining) polling at random moments, against a sender that fills the
 * ring: every packet handled once, in order, under many schedules. A lost
 * hand-over ends a deterministic run with -EDEADLK. */
struct race {
	struct cvmbus_channel_pair p;
	struct turns t;
	uint32_t count;
	int send_rc;
};

static int race_sender(void *arg)
{
	struct race *r = arg;
	uint8_t buf[1200];

	memset(buf, 0x33, sizeof(buf));
	for (uint32_t i = 0; i < r->count; i++) {
		r->send_rc = cvmbus_channel_send_inband(&r->p.guest, 0, i, buf,
							 100 + (i * 97u) % 1000u, 60 * SEC);
		if (r->send_rc)
			return r->send_rc;
	}
	return 0;
}

static int race_server(void *arg)
{
	struct race *r = arg;

	while (atomic_load(&r->t.done) < r->count) {
		int rc = cvmbus_channel_serve(&r->p.host, turns_packet, &r->t, 3, 60 * SEC);

		if (rc < 0 && rc != -EINTR)
			return rc;
	}
	return 0;
}

static int race_poller(void *arg)
{
	struct race *r = arg;

	while (atomic_load(&r->t.done) < r->count) {
		int rc = cvmbus_channel_poll(&r->p.host, turns_packet, &r->t, 2);

		if (rc < 0 && rc != -EBUSY)
			return rc;
		cvmbus_exec_sleep_ns(cvmbus_exec_current(), 20000);
	}
	return 0;
}

static int race_main(void *arg)
{
	struct race *r = arg;
	struct cvmbus_thread *tx, *rx, *po;
	int a = -1, b = -1, c = -1;

	assert_int_equal(cvmbus_thread_spawn(cvmbus_exec_current(), &rx, "rx", race_server, r), 0);
	assert_int_equal(cvmbus_thread_spawn(cvmbus_exec_current(), &po, "poll", race_poller, r),
			 0);
	assert_int_equal(cvmbus_thread_spawn(cvmbus_exec_current(), &tx, "tx", race_sender, r), 0);
	cvmbus_thread_join(tx, &a);
	cvmbus_thread_join(po, &c);
	/* The poller may have handled the last packets: the receive thread
	 * then sleeps for a signal no packet will send. Kick it (its serve
	 * returns -EINTR and its loop sees every packet done). */
	cvmbus_channel_kick_reader(&r->p.host);
	cvmbus_thread_join(rx, &b);
	if (a || b || c)
		print_message("race: tx %d rx %d poll %d, %u done, %u seen\n", a, b, c,
			      (unsigned)atomic_load(&r->t.done), (unsigned)r->t.seen);
	return a ? a : b ? b : c;
}

static void test_reader_turns_deterministic_seeds(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 30; seed++) {
		struct cvmbus_exec_det_opts o = { .seed = seed };
		struct cvmbus_exec *exec;
		struct race r;
		int ret = -1, rc;

		assert_int_equal(cvmbus_exec_det_create(&exec, &o), 0);
		memset(&r, 0, sizeof(r));
		r.count = 200;
		pair_setup(&r.p, exec, 8192);
		rc = cvmbus_exec_run(exec, race_main, &r, &ret);
		if (rc != 0)
			fail_msg("seed %llu: run failed %d: %s", (unsigned long long)seed, rc,
				 cvmbus_exec_det_report(exec));
		assert_int_equal(ret, 0);
		assert_int_equal(r.t.seen, 200);
		assert_false(r.t.bad);
		cvmbus_channel_pair_destroy(&r.p);
		cvmbus_exec_destroy(exec);
	}
}

static void test_reader_turns_native(void **state)
{
	struct cvmbus_exec *exec;
	struct race r;
	int ret = -1;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	memset(&r, 0, sizeof(r));
	r.count = 20000;
	pair_setup(&r.p, exec, 8192);
	assert_int_equal(cvmbus_exec_run(exec, race_main, &r, &ret), 0);
	assert_int_equal(ret, 0);
	assert_int_equal(r.t.seen, 20000);
	assert_false(r.t.bad);
	cvmbus_channel_pair_destroy(&r.p);
	cvmbus_exec_destroy(exec);
}

/* ---- device-buffer GPADLs over real partition memory ------------------- */

static void gpadl_case(bool private_buffers)
{
	struct cvmbus_mem_config mc = {
		.isolation = HV_ISOLATION_TYPE_SNP, .vtl0_bytes = 1 << 20,
	};
	struct cvmbus_mem *mem;
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair p;
	struct cvmbus_channel_pair_config cfg = {
		.upstream_bytes = 8192, .downstream_bytes = 8192,
		.gpadl_private = private_buffers,
	};
	struct cvmbus_gpadl_info g, h;
	struct cvmbus_mem_exposure_totals t;

	assert_int_equal(cvmbus_mem_create(&mc, &mem), 0);
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	cfg.exec = exec;
	cfg.mem = mem;
	assert_int_equal(cvmbus_channel_pair_create(&p, &cfg), 0);

	assert_int_equal(cvmbus_channel_gpadl_create(&p.guest, 3 * 4096 + 1, &g), 0);
	assert_int_equal(g.pfn_count, 4);
	assert_int_equal(g.id, 0xE1E10);
	assert_int_equal(g.shared, !private_buffers);
	for (uint32_t i = 0; i < g.pfn_count; i++)
		assert_int_equal(cvmbus_mem_page_state(mem, g.pfns[i] * 4096),
				 private_buffers ? CVMBUS_MEM_PAGE_PRIVATE : CVMBUS_MEM_PAGE_SHARED);
	if (private_buffers) {
		assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "gpadl", &t), -ENOENT);
	} else {
		assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "gpadl", &t), 0);
		assert_int_equal(t.pages_now, 4);
	}

	/* The device side finds it by id; a made-up id is refused. */
	assert_int_equal(cvmbus_channel_gpadl_lookup(&p.host, g.id, &h), 0);
	assert_int_equal(h.pfn_count, 4);
	assert_int_equal(h.pfns[3], g.pfns[3]);
	assert_int_equal(cvmbus_channel_gpadl_lookup(&p.host, 0x1234, &h), -ENOENT);
	/* Only the guest creates, only the device looks up. */
	assert_int_equal(cvmbus_channel_gpadl_create(&p.host, 4096, &h), -EOPNOTSUPP);

	assert_int_equal(cvmbus_channel_gpadl_teardown(&p.guest, g.id), 0);
	assert_int_equal(cvmbus_mem_page_state(mem, g.gpa), CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_channel_gpadl_lookup(&p.host, g.id, &h), -ENOENT);
	if (!private_buffers) {
		assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "gpadl", &t), 0);
		assert_int_equal(t.pages_now, 0);
		assert_int_equal(t.pages_ever, 4);
	}

	cvmbus_channel_pair_destroy(&p);
	cvmbus_exec_destroy(exec);
	cvmbus_mem_destroy(mem);
}

static void test_gpadl_shared(void **state)
{
	(void)state;
	gpadl_case(false);
}

static void test_gpadl_private(void **state)
{
	(void)state;
	gpadl_case(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inband_and_completion),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_gpa_walk),
		cmocka_unit_test(test_gpa_hold),
		cmocka_unit_test(test_corrupt_ring_closes_channel),
		cmocka_unit_test(test_stream_native),
		cmocka_unit_test(test_stream_deterministic_seeds),
		cmocka_unit_test(test_gpadl_shared),
		cmocka_unit_test(test_gpadl_private),
		cmocka_unit_test(test_reader_turns),
		cmocka_unit_test(test_inline_pass),
		cmocka_unit_test(test_reader_turns_deterministic_seeds),
		cmocka_unit_test(test_reader_turns_native),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
