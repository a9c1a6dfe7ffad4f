/* SPDX-License-Identifier: MIT */
/*
 * Two-thread stress test of the ring (tests/ring): a writer thread and a
 * reader thread move millions of packets of random sizes through a small
 * ring, each packet carrying its sequence number, length and a checksum of
 * its random bytes, all verified by the reader. Both sides sleep for real
 * when they cannot proceed, woken only by the signalling decisions the
 * ring returns, modelled with two eventfds (data available, space
 * available): the writer signals when its write returns signal = true, the
 * reader when a commit does; the reader sleeps only after end_read reports
 * nothing left, the writer only after set_pending_send reports not ready.
 * A lost wakeup would leave both asleep; that is detected (a poll that
 * waits far longer than any scheduling delay) and reported as such.
 *
 * Packet count: CVMBUS_RING_STRESS_PACKETS in the environment, else a
 * default that keeps the run to a few seconds in an optimised build and
 * well under the time limit under sanitizers or without optimisation.
 * Labelled `tsan` so `make tsan` runs it under ThreadSanitizer.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>

#include <cmocka.h>

#include "ring/ring_test_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STRESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define STRESS_SANITIZED 1
#endif
#endif

#if defined(STRESS_SANITIZED)
#define STRESS_DEFAULT_PACKETS 1000000u
#elif !defined(__OPTIMIZE__)
#define STRESS_DEFAULT_PACKETS 1000000u
#else
#define STRESS_DEFAULT_PACKETS 6000000u
#endif

#define RING_DATA   16384u
#define MAX_PAYLOAD 4000u
#define HDR_LEN     16u /* seq u64, len u32, checksum u32 */
/* A sleeping side that is not woken within this long has lost a wakeup:
 * far beyond any scheduling delay, far below the test timeout. */
#define LOST_WAKEUP_MS 30000

struct stress {
	struct cvmbus_ring w;  /* used by the writer thread only */
	struct cvmbus_ring rd; /* used by the reader thread only */
	int data_efd;          /* writer -> reader: packets arrived */
	int space_efd;         /* reader -> writer: space freed */
	uint64_t packets;
	_Atomic bool stop; /* one side failed: the other stops instead of waiting */
	/* Results, each written by one thread, read after join. */
	const char *w_error, *r_error;
	uint64_t w_signals, w_waits, w_spurious;
	uint64_t r_signals, r_waits, r_repolls, r_bytes;
};

static uint32_t checksum(const uint8_t *p, uint32_t n)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint32_t payload_len(uint64_t seq)
{
	struct tprng g = { seq * 0x2545f4914f6cdd1dull };
	uint64_t x = tprng_next(&g);

	/* Mostly small, one in 64 up to 4000: many packets per wrap and
	 * regular full-ring waits. */
	if ((x & 63) == 0)
		return HDR_LEN + (uint32_t)((x >> 8) % (MAX_PAYLOAD - HDR_LEN + 1));
	return HDR_LEN + (uint32_t)((x >> 8) % 200);
}

/* Block until the eventfd has a count; false after LOST_WAKEUP_MS. */
static bool wait_efd(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;
	int rc;

	do
		rc = poll(&p, 1, LOST_WAKEUP_MS);
	while (rc < 0 && errno == EINTR);
	if (rc != 1)
		return false;
	return eventfd_read(fd, &v) == 0;
}

static void *writer_main(void *arg)
{
	struct stress *s = arg;
	uint8_t body[MAX_PAYLOAD];
	struct tprng g = { 42 };

	for (uint64_t seq = 0; seq < s->packets; seq++) {
		uint32_t len = payload_len(seq), sum, needed = 0;
		struct cvmbus_ring_iov iov[2] = { { body, HDR_LEN }, { body + HDR_LEN, len - HDR_LEN } };
		struct cvmbus_ring_outpkt p = { .type = CVMBUS_RING_PKT_INBAND,
						.trans_id = seq,
						.payload = iov,
						.payload_count = 2 };
		bool sig, ready, pending = false;
		int rc;

		for (uint32_t i = HDR_LEN; i < len; i += 8) {
			uint64_t x = tprng_next(&g);

			memcpy(body + i, &x, len - i < 8 ? len - i : 8);
		}
		sum = checksum(body + HDR_LEN, len - HDR_LEN);
		memcpy(body, &seq, 8);
		memcpy(body + 8, &len, 4);
		memcpy(body + 12, &sum, 4);
		for (;;) {
			rc = cvmbus_ring_send(&s->w, &p, &sig, &needed);
			if (rc == 0)
				break;
			if (rc != -EAGAIN) {
				s->w_error = "send failed";
				return NULL;
			}
			/* Full: ask for a signal, then re-check (the setter's
			 * fence pairs with the reader's commit). */
			if (cvmbus_ring_set_pending_send(&s->w, needed, &ready)) {
				s->w_error = "set_pending_send failed";
				return NULL;
			}
			pending = true;
			if (ready)
				continue;
			s->w_waits++;
			if (!wait_efd(s->space_efd)) {
				s->w_error = "lost wakeup: writer never signalled for space";
				return NULL;
			}
			if (atomic_load(&s->stop))
				return NULL;
		}
		if (pending)
			cvmbus_ring_set_pending_send(&s->w, 0, NULL);
		if (sig) {
			s->w_signals++;
			eventfd_write(s->data_efd, 1);
		}
	}
	return NULL;
}

static void *reader_main(void *arg)
{
	struct stress *s = arg;
	uint8_t buf[MAX_PAYLOAD + 64];
	struct cvmbus_ring_packet pkt;
	uint64_t expect = 0;
	uint32_t readable;
	int rc;

	while (expect < s->packets) {
		if (cvmbus_ring_begin_read(&s->rd)) {
			s->r_error = "begin_read failed";
			return NULL;
		}
		for (;;) {
			uint64_t seq;
			uint32_t len, sum;
			bool sig;

			rc = cvmbus_ring_read(&s->rd, buf, sizeof(buf), &pkt, &sig);
			if (rc == -EAGAIN)
				break;
			if (rc) {
				s->r_error = "read failed";
				return NULL;
			}
			memcpy(&seq, pkt.payload, 8);
			memcpy(&len, pkt.payload + 8, 4);
			memcpy(&sum, pkt.payload + 12, 4);
			if (seq != expect || pkt.trans_id != expect || len != payload_len(expect) ||
			    pkt.payload_len != (len + 7) / 8 * 8 ||
			    checksum(pkt.payload + HDR_LEN, len - HDR_LEN) != sum) {
				s->r_error = "packet lost, reordered or damaged";
				return NULL;
			}
			s->r_bytes += pkt.total;
			expect++;
			if (sig) {
				s->r_signals++;
				eventfd_write(s->space_efd, 1);
			}
		}
		if (cvmbus_ring_end_read(&s->rd, &readable)) {
			s->r_error = "end_read failed";
			return NULL;
		}
		if (readable) {
			s->r_repolls++;
			continue;
		}
		if (expect == s->packets)
			break;
		s->r_waits++;
		if (!wait_efd(s->data_efd)) {
			s->r_error = "lost wakeup: reader never signalled for data";
			return NULL;
		}
		if (atomic_load(&s->stop))
			return NULL;
	}
	return NULL;
}

/* Thread entry points: on failure, wake the other side so it stops
 * instead of waiting for a peer that is gone. */
static void *writer_thread(void *arg)
{
	struct stress *s = arg;

	writer_main(s);
	if (s->w_error) {
		atomic_store(&s->stop, true);
		eventfd_write(s->data_efd, 1);
	}
	return NULL;
}

static void *reader_thread(void *arg)
{
	struct stress *s = arg;

	reader_main(s);
	if (s->r_error) {
		atomic_store(&s->stop, true);
		eventfd_write(s->space_efd, 1);
	}
	return NULL;
}

static uint64_t stress_packets(void)
{
	const char *e = getenv("CVMBUS_RING_STRESS_PACKETS");

	if (e && *e) {
		unsigned long long v = strtoull(e, NULL, 10);

		if (v > 0)
			return v;
	}
	return STRESS_DEFAULT_PACKETS;
}

static void run(const struct cvmbus_ring_mem *mem, uint64_t packets, const char *what)
{
	static struct stress s;
	pthread_t tw, tr;
	struct timespec t0, t1;
	double secs;

	memset(&s, 0, sizeof(s));
	s.packets = packets;
	s.data_efd = eventfd(0, EFD_CLOEXEC);
	s.space_efd = eventfd(0, EFD_CLOEXEC);
	assert_true(s.data_efd >= 0 && s.space_efd >= 0);
	assert_int_equal(cvmbus_ring_init(&s.w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, mem), 0);
	assert_int_equal(cvmbus_ring_init(&s.rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, mem), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_create(&tr, NULL, reader_thread, &s), 0);
	assert_int_equal(pthread_create(&tw, NULL, writer_thread, &s), 0);
	assert_int_equal(pthread_join(tw, NULL), 0);
	assert_int_equal(pthread_join(tr, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	if (s.w_error || s.r_error)
		fail_msg("%s: writer: %s; reader: %s", what, s.w_error ? s.w_error : "ok",
			 s.r_error ? s.r_error : "ok");
	assert_int_equal(cvmbus_ring_state(&s.w), CVMBUS_RING_STATE_READY);
	assert_int_equal(cvmbus_ring_state(&s.rd), CVMBUS_RING_STATE_READY);
	/* Signals only on transitions: never more than one per packet. */
	assert_true(s.w_signals <= packets);
	assert_true(s.r_signals <= packets);
	print_message("      %s: %llu packets, %.1f MB in %.2f s (%.2f Mpkt/s); writer: %llu "
		      "signals, %llu waits; reader: %llu signals, %llu waits, %llu re-polls\n",
		      what, (unsigned long long)packets, (double)s.r_bytes / 1e6, secs,
		      (double)packets / secs / 1e6, (unsigned long long)s.w_signals,
		      (unsigned long long)s.w_waits, (unsigned long long)s.r_signals,
		      (unsigned long long)s.r_waits, (unsigned long long)s.r_repolls);
	close(s.data_efd);
	close(s.space_efd);
}

static void test_stress_single_mapped(void **state)
{
	struct tring t;

	(void)state;
	assert_int_equal(tring_heap(&t, RING_DATA), 0);
	run(&t.mem, stress_packets() / 2, "single-mapped");
	tring_free(&t);
}

static void test_stress_double_mapped(void **state)
{
	struct tring t;

	(void)state;
	assert_int_equal(tring_memfd(&t, RING_DATA, CVMBUS_RING_MAP_DOUBLE), 0);
	run(&t.mem, stress_packets() - stress_packets() / 2, "double-mapped");
	tring_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_single_mapped),
		cmocka_unit_test(test_stress_double_mapped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
