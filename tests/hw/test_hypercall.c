/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the hypercalls and the port table (src/hw/hypercall.c,
 * src/hw/ports.c): HvPostMessage reaches a port's owner with the bytes, type,
 * trust, vCPU and path it was sent with; every refusal comes back as the
 * Hyper-V status (unknown connection id, payload over 240, reserved bits,
 * bad message type, a full port queue) with a trace event and no crash;
 * HvSignalEvent reaches a host callback or sets a guest event flag and
 * raises the SINT; Get/SetVpRegisters move register values in the
 * documented input layout; the visibility hook changes the host's window and
 * is traced with party and reason. Inputs are built by hand from the
 * hypercall layouts in hv.h.
 */
#include <errno.h>
#include <pthread.h>
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

#define HOST_CONN 0x2001u

/* INITIATE_CONTACT (type 14), 40 bytes: version 5.0 at 8 (0x00050000),
 * target_vcpu 0 at 12, msg_sint 2 at 16, msg_vtl 0 at 17, feature_flags 0
 * at 20, monitor pages 0 at 24 and 32. */
static const uint8_t msg_initiate[40] = {
	0x0e, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x05, 0x00, 0, 0, 0, 0,
	0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0,
};

struct received {
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond;
	uint32_t count;
	uint8_t payload[8][240];
	struct cvmbus_port_message msg[8];
	/* Blocking handler: waits for `release` once `entered` is done. */
	_Atomic bool block;
	struct cvmbus_completion entered, release;
};

static void on_message(void *ctx, const struct cvmbus_port_message *m)
{
	struct received *r = ctx;

	if (r->block) {
		cvmbus_completion_complete(&r->entered);
		cvmbus_completion_wait(&r->release, CVMBUS_EXEC_FOREVER);
	}
	cvmbus_mutex_lock(&r->lock);
	if (r->count < 8) {
		memcpy(r->payload[r->count], m->payload, m->size);
		r->msg[r->count] = *m;
		r->msg[r->count].payload = r->payload[r->count];
	}
	r->count++;
	cvmbus_cond_broadcast(&r->cond);
	cvmbus_mutex_unlock(&r->lock);
}

static void wait_count(struct received *r, uint32_t n)
{
	cvmbus_mutex_lock(&r->lock);
	while (r->count < n)
		cvmbus_cond_wait(&r->cond, &r->lock);
	cvmbus_mutex_unlock(&r->lock);
}

struct fixture {
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_trace *t;
	struct received r;
};

static void fx_open(struct fixture *fx, enum hv_isolation_type iso, bool pv,
		    unsigned int depth)
{
	struct cvmbus_port_config pc = {
		.connection_id = HOST_CONN,
		.kind = CVMBUS_PORT_MESSAGE,
		.owner = CVMBUS_MEM_PARTY_HOST,
		.on_message = on_message,
		.queue_depth = depth,
	};

	memset(fx, 0, sizeof(*fx));
	assert_int_equal(cvmbus_exec_native_create(&fx->exec), 0);
	assert_int_equal(pt_platform(fx->exec, CVMBUS_ARCH_X86_64, iso, pv, 2, &fx->p), 0);
	fx->t = cvmbus_platform_trace(fx->p);
	assert_int_equal(cvmbus_trace_buffer_enable(fx->t, 4096), 0);
	cvmbus_mutex_init(&fx->r.lock, fx->exec, "received");
	cvmbus_cond_init(&fx->r.cond, fx->exec, "received");
	cvmbus_completion_init(&fx->r.entered, fx->exec, "entered");
	cvmbus_completion_init(&fx->r.release, fx->exec, "release");
	pc.ctx = &fx->r;
	assert_int_equal(cvmbus_port_add(fx->p, &pc), 0);
}

static void fx_close(struct fixture *fx)
{
	cvmbus_platform_destroy(fx->p);
	cvmbus_completion_destroy(&fx->r.release);
	cvmbus_completion_destroy(&fx->r.entered);
	cvmbus_cond_destroy(&fx->r.cond);
	cvmbus_mutex_destroy(&fx->r.lock);
	cvmbus_exec_destroy(fx->exec);
}

static void test_post_message_reaches_owner(void **state)
{
	struct fixture fx;
	const struct cvmbus_trace_event *ev;
	char line[CVMBUS_TRACE_LINE_MAX];
	uint16_t st = 0xFFFF;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 0);
	assert_int_equal(cvmbus_hv_post_message(fx.p, 1, CVMBUS_PATH_HYPERCALL_PAGE, HOST_CONN,
						HVMSG_VMBUS, msg_initiate, 40, &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	wait_count(&fx.r, 1);
	assert_int_equal(fx.r.msg[0].connection_id, HOST_CONN);
	assert_int_equal(fx.r.msg[0].message_type, HVMSG_VMBUS);
	assert_int_equal(fx.r.msg[0].size, 40);
	assert_memory_equal(fx.r.payload[0], msg_initiate, 40);
	assert_false(fx.r.msg[0].trusted);
	assert_int_equal(fx.r.msg[0].vp, 1);
	assert_int_equal(fx.r.msg[0].from, CVMBUS_MEM_PARTY_GUEST);
	assert_int_equal(fx.r.msg[0].path, CVMBUS_PATH_HYPERCALL_PAGE);

	ev = pt_last(fx.t, CVMBUS_TRACE_HYPERCALL);
	assert_non_null(ev);
	assert_true(cvmbus_trace_format(ev, line, sizeof(line)) > 0);
	/* The channel message, from its 8-byte header, as the JSON shows it
	 * (hand-written from the INITIATE_CONTACT layout). */
	assert_non_null(strstr(line, "\"kind\":\"hypercall\""));
	assert_non_null(strstr(line, "\"path\":\"hypercall-page\""));
	assert_non_null(strstr(line, "\"to\":\"host\""));
	assert_non_null(strstr(line, "\"call\":\"post_message\",\"status\":\"0x0000\""));
	assert_non_null(strstr(line, "\"type\":14,\"name\":\"initiate_contact\""));
	assert_non_null(strstr(line, "\"hex\":\""
				     "0e00000000000000" /* type 14, padding */
				     "0000050000000000" /* version 5.0, target vcpu 0 */
				     "0200000000000000" /* sint 2, vtl 0, features 0 */
				     "0000000000000000" /* monitor page 1 */
				     "0000000000000000" /* monitor page 2 */
				     "\""));
	fx_close(&fx);
}

static void test_post_message_bad_input_statuses(void **state)
{
	struct fixture fx;
	struct hv_input_post_message in;
	uint8_t big[241];
	uint16_t st;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 0);
	memset(big, 0xAB, sizeof(big));

	/* Unknown connection id. */
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, 0x7777,
						HVMSG_VMBUS, msg_initiate, 40, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_CONNECTION_ID);
	assert_int_equal(pt_count(fx.t, CVMBUS_TRACE_HYPERCALL, "no port"), 1);
	assert_int_equal(pt_last(fx.t, CVMBUS_TRACE_HYPERCALL)->status,
			 HV_STATUS_INVALID_CONNECTION_ID);

	/* Payload over 240 bytes. */
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, HOST_CONN,
						HVMSG_VMBUS, big, 241, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_PARAMETER);
	assert_int_equal(pt_count(fx.t, CVMBUS_TRACE_HYPERCALL, "payload over 240 bytes"), 1);

	/* Exactly 240 is fine. */
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, HOST_CONN,
						HVMSG_VMBUS, big, 240, &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);

	/* Message types: none, and the hypervisor's own range. */
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, HOST_CONN, 0,
						msg_initiate, 40, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_PARAMETER);
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, HOST_CONN,
						HVMSG_TIMER_EXPIRED, msg_initiate, 40, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_PARAMETER);

	/* Reserved bits: the input's reserved word, the connection id's top
	 * byte, the control value's reserved bits and a rep count on a
	 * simple call. */
	memset(&in, 0, sizeof(in));
	in.connection_id = HOST_CONN;
	in.message_type = HVMSG_VMBUS;
	in.payload_size = 8;
	in.reserved = 1;
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_POST_MESSAGE, &in, sizeof(in), NULL, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_HYPERCALL_INPUT);
	in.reserved = 0;
	in.connection_id = HOST_CONN | 0x01000000u;
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_POST_MESSAGE, &in, sizeof(in), NULL, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_HYPERCALL_INPUT);
	in.connection_id = HOST_CONN;
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_POST_MESSAGE | (1ull << 27), &in, sizeof(in),
					     NULL, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_POST_MESSAGE | (1ull << 32), &in, sizeof(in),
					     NULL, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_HYPERCALL_INPUT);
	/* Posting is not a fast call. */
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_POST_MESSAGE | HV_HYPERCALL_FAST_BIT, &in, 16,
					     NULL, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_HYPERCALL_INPUT);

	/* Unknown call code; a direct visibility call. */
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, 0x0999, NULL, 0,
					     NULL, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_HYPERCALL_CODE);
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_MODIFY_SPARSE_GPA_PAGE_HOST_VISIBILITY |
						     (1ull << 32),
					     NULL, 0, NULL, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_ACCESS_DENIED);

	/* Only the one good post arrived. */
	wait_count(&fx.r, 1);
	assert_int_equal(fx.r.msg[0].size, 240);
	fx_close(&fx);
}

static void test_port_queue_full_gives_insufficient_buffers(void **state)
{
	struct fixture fx;
	uint8_t m[8] = { 0x03, 0, 0, 0, 0, 0, 0, 0 };
	uint16_t st;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 2);
	fx.r.block = true;
	/* The first message is taken by the handler, which then blocks. */
	m[4] = 1;
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, HOST_CONN,
						HVMSG_VMBUS, m, 8, &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(cvmbus_completion_wait(&fx.r.entered, CVMBUS_EXEC_FOREVER), 0);
	/* Two fit in the queue ... */
	for (uint8_t i = 2; i <= 3; i++) {
		m[4] = i;
		assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE,
							HOST_CONN, HVMSG_VMBUS, m, 8, &st), 0);
		assert_int_equal(st, HV_STATUS_SUCCESS);
	}
	assert_int_equal(cvmbus_port_queued(fx.p, HOST_CONN), 2);
	/* ... the next does not. */
	m[4] = 4;
	assert_int_equal(cvmbus_hv_post_message(fx.p, 1, CVMBUS_PATH_HYPERCALL_PAGE, HOST_CONN,
						HVMSG_VMBUS, m, 8, &st), 0);
	assert_int_equal(st, HV_STATUS_INSUFFICIENT_BUFFERS);
	assert_int_equal(pt_count(fx.t, CVMBUS_TRACE_HYPERCALL, "port queue full"), 1);

	/* Release: the three accepted arrive, in order. */
	fx.r.block = false;
	cvmbus_completion_complete_all(&fx.r.release);
	wait_count(&fx.r, 3);
	for (uint8_t i = 0; i < 3; i++)
		assert_int_equal(fx.r.payload[i][4], i + 1);
	fx_close(&fx);
}

static void test_port_remove_drops_queued(void **state)
{
	struct fixture fx;
	uint8_t m[8] = { 0x10, 0, 0, 0, 0, 0, 0, 0 };
	uint16_t st;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 4);
	fx.r.block = true;
	for (int i = 0; i < 3; i++)
		assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE,
							HOST_CONN, HVMSG_VMBUS, m, 8, &st), 0);
	assert_int_equal(cvmbus_completion_wait(&fx.r.entered, CVMBUS_EXEC_FOREVER), 0);
	fx.r.block = false;
	cvmbus_completion_complete_all(&fx.r.release);
	assert_int_equal(cvmbus_port_remove(fx.p, HOST_CONN), 0);
	/* Whatever the handler had not taken was dropped, traced. */
	assert_int_equal(fx.r.count + pt_count(fx.t, CVMBUS_TRACE_DROP, "port removed"), 3);
	assert_int_equal(cvmbus_port_remove(fx.p, HOST_CONN), -ENOENT);
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, HOST_CONN,
						HVMSG_VMBUS, m, 8, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_CONNECTION_ID);
	fx_close(&fx);
}

static void test_port_add_checks(void **state)
{
	struct fixture fx;
	struct cvmbus_port_config pc = {
		.connection_id = HOST_CONN,
		.kind = CVMBUS_PORT_MESSAGE,
		.owner = CVMBUS_MEM_PARTY_HOST,
		.on_message = on_message,
	};

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 0);
	pc.ctx = &fx.r;
	assert_int_equal(cvmbus_port_add(fx.p, &pc), -EEXIST);
	pc.connection_id = 0x01000001u;
	assert_int_equal(cvmbus_port_add(fx.p, &pc), -EINVAL);
	pc.connection_id = 5;
	pc.owner = CVMBUS_MEM_PARTY_PARAVISOR; /* no paravisor here */
	assert_int_equal(cvmbus_port_add(fx.p, &pc), -EINVAL);
	pc.owner = CVMBUS_MEM_PARTY_GUEST; /* guests get messages in SynICs */
	assert_int_equal(cvmbus_port_add(fx.p, &pc), -EINVAL);
	pc.owner = CVMBUS_MEM_PARTY_HOST;
	pc.on_message = NULL;
	assert_int_equal(cvmbus_port_add(fx.p, &pc), -EINVAL);
	fx_close(&fx);
}

/* ---- HvSignalEvent ------------------------------------------------------------------------ */

struct event_log {
	struct cvmbus_completion got;
	struct cvmbus_port_event last;
	uint32_t isr_vp, isr_self, isr_sint;
};

static void on_event(void *ctx, const struct cvmbus_port_event *ev)
{
	struct event_log *log = ctx;

	log->last = *ev;
	cvmbus_completion_complete(&log->got);
}

static void isr(void *ctx, struct cvmbus_platform *p, uint32_t vp, enum cvmbus_synic_kind synic,
		uint32_t sint, uint32_t vector)
{
	struct event_log *log = ctx;

	log->isr_vp = vp;
	log->isr_sint = sint;
	log->isr_self = cvmbus_vcpu_self(p);
	cvmbus_completion_complete(&log->got);
}

static void test_signal_event_host_and_guest_ports(void **state)
{
	struct fixture fx;
	struct event_log log;
	struct pt_synic s;
	uint16_t st;
	struct cvmbus_port_config host_ev = {
		.connection_id = 0x3000,
		.kind = CVMBUS_PORT_EVENT,
		.owner = CVMBUS_MEM_PARTY_HOST,
		.on_event = on_event,
	};
	struct cvmbus_port_config guest_ev = {
		.connection_id = 0x3001,
		.kind = CVMBUS_PORT_EVENT,
		.owner = CVMBUS_MEM_PARTY_GUEST,
		.synic = CVMBUS_SYNIC_HYPERVISOR,
		.vp = 1,
		.sint = 2,
		.base_flag = 100,
	};

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 0);
	memset(&log, 0, sizeof(log));
	cvmbus_completion_init(&log.got, fx.exec, "event");
	host_ev.ctx = &log;
	assert_int_equal(cvmbus_port_add(fx.p, &host_ev), 0);
	assert_int_equal(cvmbus_port_add(fx.p, &guest_ev), 0);
	cvmbus_platform_set_isr(fx.p, isr, &log);

	/* Guest -> host: the callback sees the flag number and the path. */
	assert_int_equal(cvmbus_hv_signal_event(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, 0x3000, 3, &st),
			 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(cvmbus_completion_wait(&log.got, CVMBUS_EXEC_FOREVER), 0);
	assert_int_equal(log.last.connection_id, 0x3000);
	assert_int_equal(log.last.flag_number, 3);
	assert_int_equal(log.last.from, CVMBUS_MEM_PARTY_GUEST);
	assert_int_equal(log.last.path, CVMBUS_PATH_HYPERCALL_PAGE);
	assert_false(log.last.trusted);

	/* Host -> guest vCPU 1: flag 100 + 7 in SINT2's area, interrupt on
	 * vCPU 1's own thread. */
	assert_int_equal(pt_synic_setup(fx.p, CVMBUS_SYNIC_HYPERVISOR, 1, 2,
					0x40 | HV_SINT_AUTO_EOI, &s), 0);
	assert_int_equal(cvmbus_hv_signal_event_from(fx.p, CVMBUS_MEM_PARTY_HOST, 1, 0x3001, 7, &st),
			 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(cvmbus_completion_wait(&log.got, CVMBUS_EXEC_FOREVER), 0);
	assert_int_equal(log.isr_vp, 1);
	assert_int_equal(log.isr_self, 1);
	assert_int_equal(log.isr_sint, 2);
	assert_true(cvmbus_event_flag_test_and_clear(&s.siefp->sint_flags[2], 107));
	assert_int_equal(pt_last(fx.t, CVMBUS_TRACE_EVENT)->flag, 107);

	/* Refusals. */
	assert_int_equal(cvmbus_hv_signal_event(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, 0x3999, 0, &st),
			 0);
	assert_int_equal(st, HV_STATUS_INVALID_CONNECTION_ID);
	assert_int_equal(cvmbus_hv_signal_event(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, 0x3001, 2000,
						&st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_PARAMETER);
	/* A message to an event port is to no message port at all. */
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, 0x3000,
						HVMSG_VMBUS, msg_initiate, 40, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_CONNECTION_ID);
	/* The handler's completion outlives the platform, not the executor. */
	cvmbus_platform_destroy(fx.p);
	fx.p = NULL;
	cvmbus_completion_destroy(&log.got);
	fx_close(&fx);
}

/* ---- the VTL switch: a paravisor port's work on the signalling vCPU ------------------------- */

struct vtl_log {
	struct cvmbus_platform *p;
	unsigned events, returns, nested;
	bool event_said_vtl_return; /* what on_event saw, last time */
	bool returned_after_event;
	pthread_t event_thread, return_thread;
	uint16_t nested_status;
};

static void vtl_on_event(void *ctx, const struct cvmbus_port_event *ev)
{
	struct vtl_log *l = ctx;

	l->events++;
	l->event_said_vtl_return = ev->vtl_return;
	l->event_thread = pthread_self();
}

static void vtl_on_return(void *ctx, const struct cvmbus_port_event *ev)
{
	struct vtl_log *l = ctx;

	l->returns++;
	l->returned_after_event = l->events == l->returns && ev->vtl_return;
	l->return_thread = pthread_self();
	/* The carrier is free again: VTL2 may make its own call through the
	 * same vCPU's trap (a held carrier would deadlock here). */
	if (ev->connection_id == 0x4000 && l->nested++ == 0)
		(void)cvmbus_hv_signal_event(l->p, ev->vp, CVMBUS_PATH_PARAVISOR_TRAP, 0x4001, 0,
					     &l->nested_status);
}

static void test_signal_vtl_return(void **state)
{
	struct fixture fx;
	struct vtl_log l;
	uint16_t st;
	struct cvmbus_port_config pv_ev = {
		.connection_id = 0x4000,
		.kind = CVMBUS_PORT_EVENT,
		.owner = CVMBUS_MEM_PARTY_PARAVISOR,
		.on_event = vtl_on_event,
		.on_vtl_return = vtl_on_return,
	};
	struct cvmbus_port_config pv_plain = {
		.connection_id = 0x4001,
		.kind = CVMBUS_PORT_EVENT,
		.owner = CVMBUS_MEM_PARTY_PARAVISOR,
		.on_event = vtl_on_event,
	};
	struct cvmbus_port_config host_ev = {
		.connection_id = 0x4002,
		.kind = CVMBUS_PORT_EVENT,
		.owner = CVMBUS_MEM_PARTY_HOST,
		.on_event = vtl_on_event,
		.on_vtl_return = vtl_on_return,
	};

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_SNP, true, 0);
	memset(&l, 0, sizeof(l));
	l.p = fx.p;
	pv_ev.ctx = pv_plain.ctx = host_ev.ctx = &l;
	assert_int_equal(cvmbus_port_add(fx.p, &pv_ev), 0);
	assert_int_equal(cvmbus_port_add(fx.p, &pv_plain), 0);
	assert_int_equal(cvmbus_port_add(fx.p, &host_ev), 0);

	/* Guest -> paravisor through the trap: on_event says a return pass
	 * follows, and it runs on the signaller's thread, after on_event,
	 * before the call returns; its own nested signal (to a port with no
	 * pass) went through. */
	assert_int_equal(cvmbus_hv_signal_event(fx.p, 0, CVMBUS_PATH_PARAVISOR_TRAP, 0x4000, 0, &st),
			 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(l.returns, 1);
	assert_true(l.returned_after_event);
	assert_true(pthread_equal(l.return_thread, pthread_self()));
	assert_int_equal(l.nested, 1);
	assert_int_equal(l.nested_status, HV_STATUS_SUCCESS);
	assert_int_equal(l.events, 2); /* 0x4000, then the nested 0x4001 */
	assert_false(l.event_said_vtl_return);

	/* The same port by the hypervisor's own path: no VTL switch into the
	 * paravisor, only the event. */
	l.events = 0;
	assert_int_equal(cvmbus_hv_signal_event(fx.p, 0, CVMBUS_PATH_GHCB, 0x4000, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(l.events, 1);
	assert_false(l.event_said_vtl_return);
	assert_int_equal(l.returns, 1);

	/* A host port never runs on the guest's vCPU, whatever it asks. */
	assert_int_equal(cvmbus_hv_signal_event(fx.p, 0, CVMBUS_PATH_GHCB, 0x4002, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(l.returns, 1);

	/* Removal after a pass: the port is not left busy. */
	assert_int_equal(cvmbus_port_remove(fx.p, 0x4000), 0);
	fx_close(&fx);
}

/* ---- Get/SetVpRegisters --------------------------------------------------------------------- */

static void test_vp_registers_layout(void **state)
{
	struct fixture fx;
	uint8_t in[16 + 32], out[16];
	uint64_t v = 0;
	uint16_t st;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_NONE, false, 0);
	/* Set SINT3 = vector 0x51, auto-EOI (0x20051): header (partition
	 * self, vp self, vtl 0), then one 32-byte name/value pair. */
	memset(in, 0, sizeof(in));
	memset(in, 0xFF, 8);                  /* partition id: self */
	in[8] = 0xFE;                         /* vp index 0xFFFFFFFE: self */
	in[9] = 0xFF;
	in[10] = 0xFF;
	in[11] = 0xFF;
	in[16] = 0x03;                        /* HV_REGISTER_SINT3 = 0x000A0003 */
	in[18] = 0x0A;
	in[32] = 0x51;                        /* value_low = 0x20051 */
	in[34] = 0x02;
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 1, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_SET_VP_REGISTERS | (1ull << 32), in, sizeof(in),
					     NULL, 0, &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(cvmbus_reg_read(fx.p, 1, CVMBUS_PATH_MSR, HV_X64_MSR_SINT0 + 3, &v), 0);
	assert_int_equal(v, 0x20051);
	/* vCPU 0's SINT3 is untouched: "self" meant vCPU 1. */
	assert_int_equal(cvmbus_reg_read(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_SINT0 + 3, &v), 0);
	assert_int_equal(v, HV_SINT_RESET_VALUE);

	/* Get it back: one 8-byte name element, one 16-byte value out. */
	memset(in + 16, 0, 32);
	in[16] = 0x03;
	in[18] = 0x0A;
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 1, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_GET_VP_REGISTERS | (1ull << 32), in, 24, out,
					     sizeof(out), &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(out[0], 0x51);
	assert_int_equal(out[1], 0x00);
	assert_int_equal(out[2], 0x02);
	for (int i = 3; i < 16; i++)
		assert_int_equal(out[i], 0);

	/* Another vCPU's registers, a VTL, an unknown name, no reps. */
	in[8] = 0x00; /* vp 0 from vCPU 1 */
	in[9] = in[10] = in[11] = 0;
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 1, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_GET_VP_REGISTERS | (1ull << 32), in, 24, out,
					     sizeof(out), &st), 0);
	assert_int_equal(st, HV_STATUS_ACCESS_DENIED);
	in[8] = 0x09; /* vp 9 does not exist */
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 1, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_GET_VP_REGISTERS | (1ull << 32), in, 24, out,
					     sizeof(out), &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_VP_INDEX);
	in[8] = 0xFE;
	in[9] = in[10] = in[11] = 0xFF;
	in[12] = 2; /* input vtl */
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 1, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_GET_VP_REGISTERS | (1ull << 32), in, 24, out,
					     sizeof(out), &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_PARAMETER);
	in[12] = 0;
	in[16] = 0x77; /* 0x000A0077: no such register */
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 1, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_GET_VP_REGISTERS | (1ull << 32), in, 24, out,
					     sizeof(out), &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_PARAMETER);
	assert_int_equal(cvmbus_hv_hypercall(fx.p, 1, CVMBUS_PATH_HYPERCALL_PAGE,
					     HVCALL_GET_VP_REGISTERS, in, 24, out, sizeof(out), &st),
			 0);
	assert_int_equal(st, HV_STATUS_INVALID_HYPERCALL_INPUT);
	fx_close(&fx);
}

/* ---- visibility ------------------------------------------------------------------------------ */

static void test_visibility_hook_traces_party_and_reason(void **state)
{
	struct fixture fx;
	struct cvmbus_mem *mem;
	const struct cvmbus_trace_event *ev;
	uint64_t gpa;
	uint8_t probe = 0x5A, back = 0;

	(void)state;
	fx_open(&fx, HV_ISOLATION_TYPE_SNP, false, 0);
	mem = cvmbus_platform_mem(fx.p);
	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 3, &gpa), 0);
	assert_false(cvmbus_mem_host_view_visible(cvmbus_mem_host(mem), gpa));
	assert_int_equal(cvmbus_platform_set_visibility(fx.p, CVMBUS_MEM_PARTY_GUEST, gpa, 3, true,
							"ring-buffer"), 0);
	ev = pt_last(fx.t, CVMBUS_TRACE_VISIBILITY);
	assert_non_null(ev);
	assert_int_equal(ev->gpa, gpa);
	assert_int_equal(ev->pages, 3);
	assert_true(ev->shared);
	assert_true(ev->contiguous);
	assert_string_equal(ev->reason, "ring-buffer");
	assert_int_equal(ev->from, CVMBUS_MEM_PARTY_GUEST);
	assert_int_equal(ev->to, CVMBUS_MEM_PARTY_HYPERVISOR);
	assert_int_equal(ev->path, CVMBUS_PATH_GHCB);
	assert_int_equal(ev->status, HV_STATUS_SUCCESS);

	/* The host's window really changed: a guest write is visible there. */
	assert_true(cvmbus_mem_host_view_visible(cvmbus_mem_host(mem), gpa + 2 * 4096));
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa + 4096, &probe, 1), 0);
	assert_int_equal(cvmbus_mem_host_read(cvmbus_mem_host(mem),
					      cvmbus_mem_gpa_to_alias(mem, gpa + 4096), &back, 1), 0);
	assert_int_equal(back, 0x5A);

	/* And back: private, traced as such. */
	assert_int_equal(cvmbus_platform_set_visibility(fx.p, CVMBUS_MEM_PARTY_GUEST, gpa, 3, false,
							NULL), 0);
	ev = pt_last(fx.t, CVMBUS_TRACE_VISIBILITY);
	assert_false(ev->shared);
	assert_false(cvmbus_mem_host_view_visible(cvmbus_mem_host(mem), gpa));
	/* A transition made directly through partition memory is still
	 * traced, with no party or reason to name. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, gpa, 1, "direct"), 0);
	ev = pt_last(fx.t, CVMBUS_TRACE_VISIBILITY);
	assert_int_equal(ev->from, CVMBUS_TRACE_PARTY_NONE);
	assert_null(ev->reason);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_message_reaches_owner),
		cmocka_unit_test(test_post_message_bad_input_statuses),
		cmocka_unit_test(test_port_queue_full_gives_insufficient_buffers),
		cmocka_unit_test(test_port_remove_drops_queued),
		cmocka_unit_test(test_port_add_checks),
		cmocka_unit_test(test_signal_event_host_and_guest_ports),
		cmocka_unit_test(test_signal_vtl_return),
		cmocka_unit_test(test_vp_registers_layout),
		cmocka_unit_test(test_visibility_hook_traces_party_and_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
