/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the SynIC model (src/hw/synic.c), driven the way a guest
 * and a host drive it: the guest programs registers through its real path
 * and reads its message and event pages through its own view of partition
 * memory; the host posts and signals. They show that a busy slot queues in
 * order, sets the pending flag and is refilled on EOM; that a masked SINT
 * holds messages and interrupts until unmasked; that the proxy bit on a
 * paravisor SINT moves delivery to the hypervisor's (host-visible) page;
 * and that event flags set by one thread and test-and-cleared by another
 * lose no bit. Expected message bytes are written out by hand from the
 * VMBus layouts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/exec.h>
#include <cvmbus/platform.h>

#include "hw/platform_test_util.h"

/* REQUEST_OFFERS (type 3): the 8-byte header alone. */
static const uint8_t msg_request_offers[8] = { 0x03, 0, 0, 0, 0, 0, 0, 0 };
/* UNLOAD (type 16): header alone. */
static const uint8_t msg_unload[8] = { 0x10, 0, 0, 0, 0, 0, 0, 0 };
/* VERSION_RESPONSE (type 15): version_supported = 1 at 8, connection_state
 * 0 at 9, padding, msg_conn_id = 4 at 12. */
static const uint8_t msg_version_response[16] = {
	0x0f, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0x04, 0, 0, 0,
};

struct fixture {
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_trace *t;
};

static void fx_open(struct fixture *fx, enum hv_isolation_type iso, bool pv, unsigned int vcpus)
{
	memset(fx, 0, sizeof(*fx));
	assert_int_equal(cvmbus_exec_native_create(&fx->exec), 0);
	assert_int_equal(pt_platform(fx->exec, CVMBUS_ARCH_X86_64, iso, pv, vcpus, &fx->p), 0);
	fx->t = cvmbus_platform_trace(fx->p);
	assert_int_equal(cvmbus_trace_buffer_enable(fx->t, 4096), 0);
}

static void fx_close(struct fixture *fx)
{
	cvmbus_platform_destroy(fx->p);
	cvmbus_exec_destroy(fx->exec);
}

/* The guest's side of one slot: copy out, free, say whether EOM is due. */
static bool take_slot(struct hv_message *slot, struct hv_message *copy, bool *eom)
{
	if (!cvmbus_simp_slot_read(slot, copy))
		return false;
	*eom = cvmbus_simp_slot_release(slot);
	return true;
}

/* The n-th DELIVER event's bytes equal want. */
static void assert_nth_delivery(struct cvmbus_trace *t, size_t n, const uint8_t *want,
				size_t len)
{
	size_t seen = 0;

	for (size_t i = 0; i < cvmbus_trace_buffer_count(t); i++) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(t, i);

		if (ev->kind != CVMBUS_TRACE_DELIVER)
			continue;
		if (seen++ == n) {
			assert_int_equal(ev->len, len);
			assert_memory_equal(ev->bytes, want, len);
			return;
		}
	}
	fail_msg("delivery %zu not found", n);
}

static void test_busy_slot_queues_and_eom_redelivers_in_order(void **state)
{
	struct fixture fx;
	struct pt_synic s;
	struct hv_message copy;
	struct hv_message *slot;
	bool eom;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 1);
	/* Polling: the guest looks at the page itself, no interrupts. */
	assert_int_equal(pt_synic_setup(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2,
					HV_SINT_POLLING | 0x20, &s), 0);
	slot = &s.simp->sint_message[2];

	assert_int_equal(cvmbus_synic_post(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_request_offers, 8), 0);
	assert_int_equal(slot->header.message_type, HVMSG_VMBUS);
	assert_int_equal(slot->header.payload_size, 8);
	assert_int_equal(slot->header.message_flags, 0);
	assert_memory_equal(slot->payload, msg_request_offers, 8);

	/* The slot is busy: the next two wait, in order, and the slot now
	 * asks the guest for an EOM. */
	assert_int_equal(cvmbus_synic_post(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_unload, 8), 0);
	assert_int_equal(slot->header.message_flags & HV_MESSAGE_FLAG_PENDING,
			 HV_MESSAGE_FLAG_PENDING);
	assert_int_equal(cvmbus_synic_post(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_version_response, 16), 0);
	assert_int_equal(cvmbus_synic_queued(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2), 2);
	assert_int_equal(pt_count(fx.t, CVMBUS_TRACE_QUEUE, "slot busy"), 1);
	assert_int_equal(pt_count(fx.t, CVMBUS_TRACE_QUEUE, "behind queued messages"), 1);
	/* Still the first message in the slot: nothing overtook it. */
	assert_memory_equal(slot->payload, msg_request_offers, 8);

	assert_true(take_slot(slot, &copy, &eom));
	assert_memory_equal(copy.payload, msg_request_offers, 8);
	assert_true(eom);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_EOM, 0), 0);

	/* Second message, and still pending: the third waits behind it. */
	assert_int_equal(slot->header.message_type, HVMSG_VMBUS);
	assert_memory_equal(slot->payload, msg_unload, 8);
	assert_int_equal(slot->header.message_flags, HV_MESSAGE_FLAG_PENDING);
	assert_int_equal(cvmbus_synic_queued(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2), 1);
	assert_true(take_slot(slot, &copy, &eom));
	assert_true(eom);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_EOM, 0), 0);

	assert_int_equal(slot->header.payload_size, 16);
	assert_memory_equal(slot->payload, msg_version_response, 16);
	assert_int_equal(slot->header.message_flags, 0);
	assert_int_equal(cvmbus_synic_queued(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2), 0);
	assert_true(take_slot(slot, &copy, &eom));
	assert_false(eom);
	assert_false(take_slot(slot, &copy, &eom));

	/* The trace saw three deliveries, in posting order, and two EOMs
	 * that re-delivered. */
	assert_nth_delivery(fx.t, 0, msg_request_offers, 8);
	assert_nth_delivery(fx.t, 1, msg_unload, 8);
	assert_nth_delivery(fx.t, 2, msg_version_response, 16);
	assert_int_equal(pt_count(fx.t, CVMBUS_TRACE_EOM, "redeliver"), 2);
	assert_int_equal(pt_count(fx.t, CVMBUS_TRACE_DELIVER, "redelivered"), 2);
	fx_close(&fx);
}

static void test_eom_race_guest_frees_before_pending_is_seen(void **state)
{
	struct fixture fx;
	struct pt_synic s;
	struct hv_message copy;
	struct hv_message *slot;
	bool eom;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 1);
	assert_int_equal(pt_synic_setup(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2,
					HV_SINT_POLLING | 0x20, &s), 0);
	slot = &s.simp->sint_message[2];
	assert_int_equal(cvmbus_synic_post(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_request_offers, 8), 0);
	/* The guest takes the message before anything else is posted: no
	 * EOM is due, and the next message lands at once. */
	assert_true(take_slot(slot, &copy, &eom));
	assert_false(eom);
	assert_int_equal(cvmbus_synic_post(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_unload, 8), 0);
	assert_memory_equal(slot->payload, msg_unload, 8);
	assert_int_equal(slot->header.message_flags, 0);
	assert_int_equal(cvmbus_synic_queued(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2), 0);
	fx_close(&fx);
}

/* ---- masked SINT ------------------------------------------------------------------ */

struct isr_log {
	struct cvmbus_completion got;
	_Atomic uint32_t calls;
	uint32_t vp, sint, vector;
	enum cvmbus_synic_kind synic;
	uint32_t self; /* cvmbus_vcpu_self() inside the handler */
};

static void isr_record(void *ctx, struct cvmbus_platform *p, uint32_t vp,
		       enum cvmbus_synic_kind synic, uint32_t sint, uint32_t vector)
{
	struct isr_log *log = ctx;

	log->vp = vp;
	log->sint = sint;
	log->vector = vector;
	log->synic = synic;
	log->self = cvmbus_vcpu_self(p);
	atomic_fetch_add(&log->calls, 1);
	cvmbus_completion_complete(&log->got);
}

static void test_masked_sint_holds_until_unmasked(void **state)
{
	struct fixture fx;
	struct isr_log log;
	struct pt_synic s;
	struct hv_message *slot;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 1);
	memset(&log, 0, sizeof(log));
	cvmbus_completion_init(&log.got, fx.exec, "isr");
	cvmbus_platform_set_isr(fx.p, isr_record, &log);
	assert_int_equal(pt_synic_setup(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2,
					HV_SINT_MASKED | 0x30, &s), 0);
	slot = &s.simp->sint_message[2];

	assert_int_equal(cvmbus_synic_post(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_unload, 8), 0);
	assert_int_equal(slot->header.message_type, HVMSG_NONE);
	assert_int_equal(cvmbus_synic_queued(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2), 1);
	assert_int_equal(pt_count(fx.t, CVMBUS_TRACE_QUEUE, "sint masked"), 1);

	/* An event on the masked SINT: the flag is memory, it is set; the
	 * interrupt is held. */
	assert_int_equal(cvmbus_synic_signal(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, 5), 1);
	assert_int_equal(s.siefp->sint_flags[2].flags[0], 1ull << 5);
	assert_int_equal(pt_count(fx.t, CVMBUS_TRACE_INTERRUPT, "held: masked"), 1);
	assert_int_equal(atomic_load(&log.calls), 0);
	assert_int_equal(cvmbus_completion_try(&log.got), -EAGAIN);

	/* Unmask: the message goes into the slot and the interrupt is taken
	 * on vCPU 0's own thread. */
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_SINT0 + 2,
					  0x30 | HV_SINT_AUTO_EOI), 0);
	assert_int_equal(slot->header.message_type, HVMSG_VMBUS);
	assert_memory_equal(slot->payload, msg_unload, 8);
	assert_int_equal(cvmbus_completion_wait(&log.got, CVMBUS_EXEC_FOREVER), 0);
	assert_int_equal(log.vp, 0);
	assert_int_equal(log.self, 0);
	assert_int_equal(log.sint, 2);
	assert_int_equal(log.vector, 0x30);
	assert_int_equal(log.synic, CVMBUS_SYNIC_HYPERVISOR);
	assert_true(cvmbus_event_flag_test_and_clear(&s.siefp->sint_flags[2], 5));
	assert_false(cvmbus_event_flag_test_and_clear(&s.siefp->sint_flags[2], 5));
	/* The handler's completion outlives the platform, not the executor. */
	cvmbus_platform_destroy(fx.p);
	fx.p = NULL;
	cvmbus_completion_destroy(&log.got);
	fx_close(&fx);
}

/* ---- proxy ----------------------------------------------------------------------------- */

static void test_proxy_bit_routes_paravisor_sint_to_hypervisor(void **state)
{
	struct fixture fx;
	struct pt_synic hs, ps;
	const struct cvmbus_trace_event *ev;
	uint8_t first[16], second[16];
	uint64_t hv_sint = 0;
	bool found = false;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_SNP, true, 1);
	/* The hypervisor's SynIC: supplied pages, SINT2 through the GHCB. */
	assert_int_equal(pt_synic_setup(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2,
					HV_SINT_POLLING | 0x31, &hs), 0);
	/* The paravisor's: private pages, SINT2 proxied (Linux's
	 * non-confidential setting). */
	assert_int_equal(pt_synic_setup(fx.p, CVMBUS_SYNIC_PARAVISOR, 0, 2,
					HV_SINT_PROXY | HV_SINT_POLLING | 0x32, &ps), 0);

	/* The paravisor programmed the hypervisor's SINT2, without the
	 * proxy bit, over its own GHCB path. */
	assert_int_equal(cvmbus_synic_peek(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, HV_X64_MSR_SINT0 + 2,
					   &hv_sint), 0);
	assert_int_equal(hv_sint, HV_SINT_POLLING | 0x32);
	for (size_t i = 0; i < cvmbus_trace_buffer_count(fx.t); i++) {
		ev = cvmbus_trace_buffer_at(fx.t, i);
		if (ev->kind == CVMBUS_TRACE_REG && ev->from == CVMBUS_MEM_PARTY_PARAVISOR &&
		    ev->synic == CVMBUS_SYNIC_HYPERVISOR && ev->reg == HV_X64_MSR_SINT0 + 2 &&
		    ev->path == CVMBUS_PATH_GHCB && ev->write)
			found = true;
	}
	assert_true(found);

	memcpy(first, msg_version_response, 16);
	first[12] = 0x77; /* a connection id the rest of memory will not hold */
	first[13] = 0x66;
	assert_int_equal(cvmbus_synic_post(fx.p, CVMBUS_SYNIC_PARAVISOR, 0, 2, HVMSG_VMBUS, first,
					   16), 0);
	/* It went to the hypervisor's page, which the host can read, and not
	 * to the paravisor's. */
	assert_int_equal(hs.simp->sint_message[2].header.message_type, HVMSG_VMBUS);
	assert_memory_equal(hs.simp->sint_message[2].payload, first, 16);
	assert_int_equal(ps.simp->sint_message[2].header.message_type, HVMSG_NONE);
	assert_int_equal(pt_host_scan(fx.p, first, 16), 1);
	ev = pt_last(fx.t, CVMBUS_TRACE_DELIVER);
	assert_non_null(ev);
	assert_int_equal(ev->synic, CVMBUS_SYNIC_HYPERVISOR);
	assert_int_equal(ev->from, CVMBUS_MEM_PARTY_PARAVISOR);
	assert_false(ev->trusted);
	assert_string_equal(ev->note, "proxied");

	/* Confidential setting: no proxy, the message stays private. */
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_PARAVISOR_TRAP,
					  HV_X64_MSR_SINT0 + 2, HV_SINT_POLLING | 0x32), 0);
	memcpy(second, first, 16);
	second[14] = 0x55;
	assert_int_equal(cvmbus_synic_post(fx.p, CVMBUS_SYNIC_PARAVISOR, 0, 2, HVMSG_VMBUS, second,
					   16), 0);
	assert_memory_equal(ps.simp->sint_message[2].payload, second, 16);
	assert_int_equal(pt_host_scan(fx.p, second, 16), 0);
	ev = pt_last(fx.t, CVMBUS_TRACE_DELIVER);
	assert_int_equal(ev->synic, CVMBUS_SYNIC_PARAVISOR);
	assert_true(ev->trusted);

	/* Events follow the same rule: proxied flags land in the hypervisor's
	 * event page. */
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_PARAVISOR_TRAP,
					  HV_X64_MSR_SINT0 + 2,
					  HV_SINT_PROXY | HV_SINT_POLLING | 0x32), 0);
	assert_int_equal(cvmbus_synic_signal(fx.p, CVMBUS_SYNIC_PARAVISOR, 0, 2, 70), 1);
	assert_int_equal(hs.siefp->sint_flags[2].flags[1], 1ull << 6);
	assert_int_equal(ps.siefp->sint_flags[2].flags[1], 0);
	fx_close(&fx);
}

/* ---- event flags from two threads --------------------------------------------------------- */

#define FLAG_SIGNALS 20000u
#define FLAG_RANGE   192u /* three words, so sets and clears collide */

struct flag_race {
	struct cvmbus_platform *p;
	struct hv_event_flags *flags;
	_Atomic bool done;
	uint64_t newly;  /* signals that set a clear bit (signaller only) */
	uint64_t taken;  /* bits the guest took (clearer only) */
	uint64_t taken_while_running;
};

static int signaller(void *arg)
{
	struct flag_race *r = arg;

	for (uint32_t i = 0; i < FLAG_SIGNALS; i++) {
		int rc = cvmbus_synic_signal(r->p, CVMBUS_SYNIC_HYPERVISOR, 0, 2,
					     (i * 7u) % FLAG_RANGE);

		if (rc < 0)
			return rc;
		r->newly += (uint64_t)rc;
	}
	atomic_store(&r->done, true);
	return 0;
}

static uint64_t sweep(struct flag_race *r, uint32_t round)
{
	uint64_t n = 0;

	for (uint32_t w = 0; w < FLAG_RANGE / 64u; w++) {
		if (round & 1) {
			/* Bit by bit, as vmbus_chan_sched() does ... */
			for (uint32_t b = 0; b < 64; b++)
				n += cvmbus_event_flag_test_and_clear(r->flags, w * 64u + b);
		} else {
			/* ... or a word at a time. */
			n += (uint64_t)__builtin_popcountll(cvmbus_event_flags_take(r->flags, w));
		}
	}
	return n;
}

static int clearer(void *arg)
{
	struct flag_race *r = arg;
	uint32_t round = 0;

	while (!atomic_load(&r->done)) {
		r->taken += sweep(r, round++);
		cvmbus_exec_yield(cvmbus_exec_current());
	}
	r->taken_while_running = r->taken;
	return 0;
}

static void test_event_flags_two_threads_lose_no_bit(void **state)
{
	struct fixture fx;
	struct flag_race r;
	struct pt_synic s;
	struct cvmbus_thread *a, *b;
	int ra, rb;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 1);
	/* Keep only the hash: tens of thousands of events. */
	assert_int_equal(cvmbus_trace_buffer_enable(fx.t, 0), 0);
	assert_int_equal(pt_synic_setup(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, 2,
					HV_SINT_POLLING | 0x20, &s), 0);
	memset(&r, 0, sizeof(r));
	r.p = fx.p;
	r.flags = &s.siefp->sint_flags[2];

	assert_int_equal(cvmbus_thread_spawn(fx.exec, &b, "clearer", clearer, &r), 0);
	assert_int_equal(cvmbus_thread_spawn(fx.exec, &a, "signaller", signaller, &r), 0);
	assert_int_equal(cvmbus_thread_join(a, &ra), 0);
	assert_int_equal(cvmbus_thread_join(b, &rb), 0);
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	r.taken += sweep(&r, 0);

	/* Every clear-to-set transition was taken exactly once. */
	assert_true(r.newly > FLAG_RANGE);
	assert_int_equal(r.taken, r.newly);
	for (uint32_t w = 0; w < 32; w++)
		assert_int_equal(r.flags->flags[w], 0);
	print_message("signals %u, set %llu, taken while running %llu\n", FLAG_SIGNALS,
		      (unsigned long long)r.newly, (unsigned long long)r.taken_while_running);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_slot_queues_and_eom_redelivers_in_order),
		cmocka_unit_test(test_eom_race_guest_frees_before_pending_is_seen),
		cmocka_unit_test(test_masked_sint_holds_until_unmasked),
		cmocka_unit_test(test_proxy_bit_routes_paravisor_sint_to_hypervisor),
		cmocka_unit_test(test_event_flags_two_threads_lose_no_bit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
