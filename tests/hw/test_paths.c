/* SPDX-License-Identifier: MIT */
/*
 * Tests of the register and hypercall paths (src/hw/regpath.c): that each
 * configuration offers exactly its paths and refuses (and traces) the
 * others; that the trace records the path every access took; and the
 * security claim itself, checked on memory rather than on flags: an
 * HvPostMessage through the GHCB on SNP leaves its bytes where the host can
 * read them, while the same call trapped by the paravisor leaves not one
 * copy of the payload anywhere in the host's window (the whole window is
 * scanned), and reaches its owner as trusted.
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

#define CONN 4u /* VMBUS_MESSAGE_CONNECTION_ID_4 */

/* A channel message with a marker no other byte of memory holds:
 * INITIATE_CONTACT's header, then 32 bytes of "secret". */
static const uint8_t secret[40] = {
	0x0e, 0, 0, 0, 0, 0, 0, 0,
	's', 'e', 'c', 'r', 'e', 't', '-', 'c', 'v', 'm', 'b', 'u', 's', '-', '9', 'f',
	'3', 'a', '-', 'p', 'l', 'a', 't', 'f', 'o', 'r', 'm', '-', 'k', 'e', 'y', '!',
};

struct got {
	_Atomic uint32_t n;
	struct cvmbus_port_message last;
	uint8_t bytes[240];
	struct cvmbus_completion done;
};

static void on_message(void *ctx, const struct cvmbus_port_message *m)
{
	struct got *g = ctx;

	g->last = *m;
	memcpy(g->bytes, m->payload, m->size);
	g->last.payload = g->bytes;
	atomic_fetch_add(&g->n, 1);
	cvmbus_completion_complete(&g->done);
}

struct fixture {
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_trace *t;
	struct got g;
};

static void fx_open(struct fixture *fx, enum cvmbus_arch arch, enum hv_isolation_type iso,
		    bool pv, enum cvmbus_mem_party owner)
{
	struct cvmbus_port_config pc = {
		.connection_id = CONN,
		.kind = CVMBUS_PORT_MESSAGE,
		.owner = owner,
		.on_message = on_message,
	};

	memset(fx, 0, sizeof(*fx));
	assert_int_equal(cvmbus_exec_native_create(&fx->exec), 0);
	assert_int_equal(pt_platform(fx->exec, arch, iso, pv, 1, &fx->p), 0);
	fx->t = cvmbus_platform_trace(fx->p);
	assert_int_equal(cvmbus_trace_buffer_enable(fx->t, 4096), 0);
	cvmbus_completion_init(&fx->g.done, fx->exec, "got");
	pc.ctx = &fx->g;
	assert_int_equal(cvmbus_port_add(fx->p, &pc), 0);
}

static void fx_close(struct fixture *fx)
{
	cvmbus_platform_destroy(fx->p);
	cvmbus_completion_destroy(&fx->g.done);
	cvmbus_exec_destroy(fx->exec);
}

static void post_and_wait(struct fixture *fx, enum cvmbus_path path)
{
	uint16_t st = 0xFFFF;

	assert_int_equal(cvmbus_hv_post_message(fx->p, 0, path, CONN, HVMSG_VMBUS, secret,
						sizeof(secret), &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(cvmbus_completion_wait(&fx->g.done, CVMBUS_EXEC_FOREVER), 0);
	assert_memory_equal(fx->g.bytes, secret, sizeof(secret));
}

/* The guest's own post-message hypercall event (from the guest). */
static const struct cvmbus_trace_event *guest_post_event(struct cvmbus_trace *t)
{
	for (size_t i = cvmbus_trace_buffer_count(t); i > 0; i--) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(t, i - 1);

		if (ev->kind == CVMBUS_TRACE_HYPERCALL && ev->code == HVCALL_POST_MESSAGE &&
		    ev->from == CVMBUS_MEM_PARTY_GUEST)
			return ev;
	}
	return NULL;
}

static void test_snp_ghcb_post_is_host_visible_and_untrusted(void **state)
{
	struct fixture fx;
	const struct cvmbus_trace_event *ev;

	(void)state;
	fx_open(&fx, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_SNP, false, CVMBUS_MEM_PARTY_HOST);
	assert_int_equal(pt_host_scan(fx.p, secret + 8, 32), 0);
	post_and_wait(&fx, CVMBUS_PATH_GHCB);
	/* The input sat in the GHCB, a shared page: the host can read it. */
	assert_true(pt_host_scan(fx.p, secret + 8, 32) >= 1);
	assert_false(fx.g.last.trusted);
	assert_int_equal(fx.g.last.path, CVMBUS_PATH_GHCB);
	ev = guest_post_event(fx.t);
	assert_non_null(ev);
	assert_int_equal(ev->path, CVMBUS_PATH_GHCB);
	assert_false(ev->trusted);
	assert_int_equal(ev->to, CVMBUS_MEM_PARTY_HOST);
	fx_close(&fx);
}

static void trap_leaves_nothing(enum hv_isolation_type iso)
{
	struct fixture fx;
	const struct cvmbus_trace_event *ev;
	enum cvmbus_path hv = iso == HV_ISOLATION_TYPE_SNP ? CVMBUS_PATH_GHCB : CVMBUS_PATH_TDCALL;

	fx_open(&fx, CVMBUS_ARCH_X86_64, iso, true, CVMBUS_MEM_PARTY_PARAVISOR);
	post_and_wait(&fx, CVMBUS_PATH_PARAVISOR_TRAP);
	/* The whole host window holds no copy of the payload ... */
	assert_int_equal(pt_host_scan(fx.p, secret + 8, 32), 0);
	assert_true(fx.g.last.trusted);
	assert_int_equal(fx.g.last.path, CVMBUS_PATH_PARAVISOR_TRAP);
	ev = guest_post_event(fx.t);
	assert_non_null(ev);
	assert_int_equal(ev->path, CVMBUS_PATH_PARAVISOR_TRAP);
	assert_true(ev->trusted);
	assert_int_equal(ev->to, CVMBUS_MEM_PARTY_PARAVISOR);

	/* ... and the scan can see one when there is one: the same message
	 * over the host-visible path reaches the paravisor untrusted. */
	post_and_wait(&fx, hv);
	assert_true(pt_host_scan(fx.p, secret + 8, 32) >= 1);
	assert_false(fx.g.last.trusted);
	assert_int_equal(fx.g.last.path, hv);
	fx_close(&fx);
}

static void test_trap_post_leaves_no_host_visible_byte_snp(void **state)
{
	(void)state;
	trap_leaves_nothing(HV_ISOLATION_TYPE_SNP);
}

static void test_trap_post_leaves_no_host_visible_byte_tdx(void **state)
{
	(void)state;
	trap_leaves_nothing(HV_ISOLATION_TYPE_TDX);
}

static void test_trap_to_host_port_is_forwarded_visibly(void **state)
{
	struct fixture fx;
	bool guest_seen = false, para_seen = false;

	(void)state;
	fx_open(&fx, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_SNP, true, CVMBUS_MEM_PARTY_HOST);
	post_and_wait(&fx, CVMBUS_PATH_PARAVISOR_TRAP);
	/* The paravisor re-posts it through its own GHCB: now the host has it,
	 * from the paravisor, untrusted. */
	assert_true(pt_host_scan(fx.p, secret + 8, 32) >= 1);
	assert_int_equal(fx.g.last.from, CVMBUS_MEM_PARTY_PARAVISOR);
	assert_int_equal(fx.g.last.path, CVMBUS_PATH_GHCB);
	assert_false(fx.g.last.trusted);
	for (size_t i = 0; i < cvmbus_trace_buffer_count(fx.t); i++) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(fx.t, i);

		if (ev->kind != CVMBUS_TRACE_HYPERCALL || ev->code != HVCALL_POST_MESSAGE)
			continue;
		if (ev->from == CVMBUS_MEM_PARTY_GUEST && ev->path == CVMBUS_PATH_PARAVISOR_TRAP &&
		    ev->note && !strcmp(ev->note, "forwarded to the host"))
			guest_seen = true;
		if (ev->from == CVMBUS_MEM_PARTY_PARAVISOR && ev->path == CVMBUS_PATH_GHCB &&
		    ev->to == CVMBUS_MEM_PARTY_HOST)
			para_seen = true;
	}
	assert_true(guest_seen);
	assert_true(para_seen);
	fx_close(&fx);
}

/* The host's connection for the paravisor's relay (0x800074) is not the
 * guest's to use: a trapped guest post there is refused by the paravisor
 * instead of being forwarded as if the paravisor had sent it. */
static void test_trap_to_relay_connection_refused(void **state)
{
	struct fixture fx;
	struct got relay = { 0 };
	struct cvmbus_port_config pc = {
		.connection_id = VMBUS_MESSAGE_REDIRECT_CONNECTION_ID,
		.kind = CVMBUS_PORT_MESSAGE,
		.owner = CVMBUS_MEM_PARTY_HOST,
		.on_message = on_message,
		.ctx = &relay,
	};
	uint16_t st = 0;

	(void)state;
	fx_open(&fx, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_SNP, true, CVMBUS_MEM_PARTY_HOST);
	cvmbus_completion_init(&relay.done, fx.exec, "relay");
	assert_int_equal(cvmbus_port_add(fx.p, &pc), 0);
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_PARAVISOR_TRAP,
						VMBUS_MESSAGE_REDIRECT_CONNECTION_ID, HVMSG_VMBUS,
						secret, sizeof(secret), &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_CONNECTION_ID);
	/* The paravisor's own post there still goes through. */
	assert_int_equal(cvmbus_hv_post_message_from(fx.p, CVMBUS_MEM_PARTY_PARAVISOR, 0,
						     VMBUS_MESSAGE_REDIRECT_CONNECTION_ID,
						     HVMSG_VMBUS, secret, sizeof(secret), &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(cvmbus_completion_wait(&relay.done, CVMBUS_EXEC_FOREVER), 0);
	assert_int_equal(atomic_load(&relay.n), 1);
	assert_int_equal(relay.last.from, CVMBUS_MEM_PARTY_PARAVISOR);
	/* The port goes before its completion, the executor last. */
	assert_int_equal(cvmbus_port_remove(fx.p, VMBUS_MESSAGE_REDIRECT_CONNECTION_ID), 0);
	cvmbus_completion_destroy(&relay.done);
	fx_close(&fx);
}

static void test_tdx_paths_recorded(void **state)
{
	struct fixture fx;
	const struct cvmbus_trace_event *ev;
	uint64_t v = 0;

	(void)state;
	fx_open(&fx, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_TDX, false, CVMBUS_MEM_PARTY_HOST);
	assert_int_equal(cvmbus_platform_reg_path(fx.p, CVMBUS_SYNIC_HYPERVISOR),
			 CVMBUS_PATH_TDCALL);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_TDCALL, HV_X64_MSR_SINT0 + 2,
					  0x22 | HV_SINT_MASKED), 0);
	ev = pt_last(fx.t, CVMBUS_TRACE_REG);
	assert_int_equal(ev->path, CVMBUS_PATH_TDCALL);
	assert_int_equal(ev->synic, CVMBUS_SYNIC_HYPERVISOR);
	assert_int_equal(ev->reg, HV_X64_MSR_SINT0 + 2);
	assert_true(ev->write);
	assert_int_equal(cvmbus_reg_read(fx.p, 0, CVMBUS_PATH_TDCALL, HV_X64_MSR_SINT0 + 2, &v), 0);
	assert_int_equal(v, 0x22 | HV_SINT_MASKED);

	post_and_wait(&fx, CVMBUS_PATH_TDCALL);
	ev = guest_post_event(fx.t);
	assert_int_equal(ev->path, CVMBUS_PATH_TDCALL);
	assert_false(ev->trusted);
	/* The post-message input page is shared on TDX. */
	assert_true(pt_host_scan(fx.p, secret + 8, 32) >= 1);

	/* No plain MSRs and no GHCB on TDX. */
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_SCONTROL, 1),
			 -EOPNOTSUPP);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_GHCB, HV_X64_MSR_SCONTROL, 1),
			 -EOPNOTSUPP);
	fx_close(&fx);
}

static void test_arm64_paths_recorded(void **state)
{
	struct fixture fx;
	const struct cvmbus_trace_event *ev;
	bool setregs = false;
	uint64_t v = 0;
	uint16_t st;

	(void)state;
	fx_open(&fx, CVMBUS_ARCH_ARM64, HV_ISOLATION_TYPE_NONE, false, CVMBUS_MEM_PARTY_HOST);
	assert_int_equal(cvmbus_platform_reg_path(fx.p, CVMBUS_SYNIC_HYPERVISOR), CVMBUS_PATH_HVC);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_HVC, HV_REGISTER_SINT0 + 2,
					  0x23 | HV_SINT_AUTO_EOI), 0);
	ev = pt_last(fx.t, CVMBUS_TRACE_REG);
	assert_int_equal(ev->path, CVMBUS_PATH_HVC);
	assert_int_equal(ev->reg, HV_REGISTER_SINT0 + 2);
	for (size_t i = 0; i < cvmbus_trace_buffer_count(fx.t); i++) {
		ev = cvmbus_trace_buffer_at(fx.t, i);
		if (ev->kind == CVMBUS_TRACE_HYPERCALL && ev->code == HVCALL_SET_VP_REGISTERS &&
		    ev->path == CVMBUS_PATH_HVC && ev->status == HV_STATUS_SUCCESS)
			setregs = true;
	}
	assert_true(setregs);
	assert_int_equal(cvmbus_reg_read(fx.p, 0, CVMBUS_PATH_HVC, HV_REGISTER_SINT0 + 2, &v), 0);
	assert_int_equal(v, 0x23 | HV_SINT_AUTO_EOI);
	assert_int_equal(cvmbus_reg_read(fx.p, 0, CVMBUS_PATH_HVC, HV_REGISTER_SVERSION, &v), 0);
	assert_int_equal(v, 1);
	/* A refused register write comes back as an error. */
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_HVC, HV_REGISTER_SVERSION, 2),
			 -EINVAL);

	post_and_wait(&fx, CVMBUS_PATH_HVC);
	ev = guest_post_event(fx.t);
	assert_int_equal(ev->path, CVMBUS_PATH_HVC);

	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_SCONTROL, 1),
			 -EOPNOTSUPP);
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_HYPERCALL_PAGE, CONN,
						HVMSG_VMBUS, secret, 8, &st), -EOPNOTSUPP);
	fx_close(&fx);
}

static void test_impossible_paths_refused_and_traced(void **state)
{
	struct fixture fx;
	const struct cvmbus_trace_event *ev;
	uint16_t st;

	(void)state;
	/* SNP without a paravisor: a plain wrmsr of a SynIC MSR does not
	 * exist (it would be a #VC the guest must turn into GHCB). */
	fx_open(&fx, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_SNP, false, CVMBUS_MEM_PARTY_HOST);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_SIMP, 0x1001),
			 -EOPNOTSUPP);
	ev = pt_last(fx.t, CVMBUS_TRACE_REG);
	assert_non_null(ev);
	assert_int_equal(ev->err, -EOPNOTSUPP);
	assert_int_equal(ev->path, CVMBUS_PATH_MSR);
	assert_string_equal(ev->note, "no such path here");
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_PARAVISOR_TRAP, HV_X64_MSR_SIMP,
					  0x1001), -EOPNOTSUPP);
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_MSR, CONN, HVMSG_VMBUS, secret,
						8, &st), -EOPNOTSUPP);
	ev = pt_last(fx.t, CVMBUS_TRACE_HYPERCALL);
	assert_int_equal(ev->err, -EOPNOTSUPP);
	assert_int_equal(cvmbus_hv_post_message(fx.p, 0, CVMBUS_PATH_NONE, CONN, HVMSG_VMBUS,
						secret, 8, &st), -EOPNOTSUPP);
	/* A reserved bit is what a #GP would be: refused, traced. */
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_GHCB, HV_X64_MSR_SCONTROL, 2),
			 -EINVAL);
	ev = pt_last(fx.t, CVMBUS_TRACE_REG);
	assert_int_equal(ev->err, -EINVAL);
	assert_int_equal(ev->path, CVMBUS_PATH_GHCB);
	fx_close(&fx);

	/* No isolation, with a paravisor: plain MSRs trap, so "msr" is not a
	 * path of its own; and there is no GHCB. */
	fx_open(&fx, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_NONE, true, CVMBUS_MEM_PARTY_HOST);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_SCONTROL, 1),
			 -EOPNOTSUPP);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_GHCB, HV_X64_MSR_SCONTROL, 1),
			 -EOPNOTSUPP);
	assert_int_equal(cvmbus_platform_reg_path(fx.p, CVMBUS_SYNIC_HYPERVISOR), CVMBUS_PATH_NONE);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_PARAVISOR_TRAP, HV_X64_MSR_SCONTROL,
					  1), 0);
	/* Trusted only means something on an isolated partition. */
	assert_false(pt_last(fx.t, CVMBUS_TRACE_REG)->trusted);
	fx_close(&fx);
}

static void test_routing_on_a_paravisor_system(void **state)
{
	struct fixture fx;
	const struct cvmbus_trace_event *ev;
	uint64_t v = 0, sup_simp = 0;

	(void)state;
	fx_open(&fx, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_SNP, true, CVMBUS_MEM_PARTY_HOST);
	/* A direct wrmsr traps to the paravisor's SynIC ... */
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_PARAVISOR_TRAP, HV_X64_MSR_SIMP,
					  0x5000 | HV_SYNIC_PAGE_ENABLE), 0);
	ev = pt_last(fx.t, CVMBUS_TRACE_REG);
	assert_int_equal(ev->synic, CVMBUS_SYNIC_PARAVISOR);
	assert_int_equal(ev->to, CVMBUS_MEM_PARTY_PARAVISOR);
	assert_true(ev->trusted);
	assert_int_equal(cvmbus_synic_peek(fx.p, CVMBUS_SYNIC_PARAVISOR, 0, HV_X64_MSR_SIMP, &v), 0);
	assert_int_equal(v, 0x5001);
	/* ... the GHCB reaches the hypervisor's, whose supplied page does
	 * not move (only the enable bit follows the write). */
	assert_int_equal(cvmbus_synic_peek(fx.p, CVMBUS_SYNIC_HYPERVISOR, 0, HV_X64_MSR_SIMP,
					   &sup_simp), 0);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_GHCB, HV_X64_MSR_SIMP, 0x6000), 0);
	ev = pt_last(fx.t, CVMBUS_TRACE_REG);
	assert_int_equal(ev->synic, CVMBUS_SYNIC_HYPERVISOR);
	assert_int_equal(ev->path, CVMBUS_PATH_GHCB);
	assert_false(ev->trusted);
	assert_int_equal(cvmbus_reg_read(fx.p, 0, CVMBUS_PATH_GHCB, HV_X64_MSR_SIMP, &v), 0);
	assert_int_equal(v, sup_simp & ~HV_SYNIC_PAGE_ENABLE);
	/* The supplied page carries the shared-GPA boundary, as Linux
	 * expects to mask off. */
	assert_true(v & cvmbus_mem_shared_gpa_boundary(cvmbus_platform_mem(fx.p)));
	assert_int_equal(cvmbus_synic_peek(fx.p, CVMBUS_SYNIC_PARAVISOR, 0, HV_X64_MSR_SIMP, &v), 0);
	assert_int_equal(v, 0x5001);
	/* Both answer SVERSION = 1, each through its own path. */
	assert_int_equal(cvmbus_reg_read(fx.p, 0, CVMBUS_PATH_GHCB, HV_X64_MSR_SVERSION, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(cvmbus_reg_read(fx.p, 0, CVMBUS_PATH_PARAVISOR_TRAP, HV_X64_MSR_SVERSION,
					 &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(cvmbus_reg_read(fx.p, 0, CVMBUS_PATH_GHCB, HV_X64_MSR_VP_INDEX, &v), 0);
	assert_int_equal(v, 0);
	fx_close(&fx);
}

static void test_no_isolation_plain_paths(void **state)
{
	struct fixture fx;
	const struct cvmbus_trace_event *ev;
	uint64_t v = 0;

	(void)state;
	fx_open(&fx, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_NONE, false, CVMBUS_MEM_PARTY_HOST);
	assert_int_equal(cvmbus_platform_reg_path(fx.p, CVMBUS_SYNIC_HYPERVISOR), CVMBUS_PATH_MSR);
	assert_int_equal(cvmbus_platform_hypercall_path(fx.p, CVMBUS_SYNIC_HYPERVISOR),
			 CVMBUS_PATH_HYPERCALL_PAGE);
	assert_int_equal(cvmbus_platform_reg_path(fx.p, CVMBUS_SYNIC_PARAVISOR), CVMBUS_PATH_NONE);
	assert_int_equal(cvmbus_reg_write(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_GUEST_OS_ID,
					  0x8100000000000000ull), 0);
	assert_int_equal(cvmbus_reg_read(fx.p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_GUEST_OS_ID, &v), 0);
	assert_int_equal(v, 0x8100000000000000ull);
	ev = pt_last(fx.t, CVMBUS_TRACE_REG);
	assert_int_equal(ev->path, CVMBUS_PATH_MSR);
	assert_false(ev->trusted);
	post_and_wait(&fx, CVMBUS_PATH_HYPERCALL_PAGE);
	assert_int_equal(guest_post_event(fx.t)->path, CVMBUS_PATH_HYPERCALL_PAGE);
	/* Without isolation the host sees everything anyway. */
	assert_true(pt_host_scan(fx.p, secret + 8, 32) >= 1);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snp_ghcb_post_is_host_visible_and_untrusted),
		cmocka_unit_test(test_trap_post_leaves_no_host_visible_byte_snp),
		cmocka_unit_test(test_trap_post_leaves_no_host_visible_byte_tdx),
		cmocka_unit_test(test_trap_to_host_port_is_forwarded_visibly),
		cmocka_unit_test(test_trap_to_relay_connection_refused),
		cmocka_unit_test(test_tdx_paths_recorded),
		cmocka_unit_test(test_arm64_paths_recorded),
		cmocka_unit_test(test_impossible_paths_refused_and_traced),
		cmocka_unit_test(test_routing_on_a_paravisor_system),
		cmocka_unit_test(test_no_isolation_plain_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
