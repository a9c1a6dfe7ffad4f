/* SPDX-License-Identifier: MIT */
/*
 * Tests of the platform object, its configurations and CPUID
 * (src/hw/platform.c, cpuid.c), its vCPUs (vcpu.c), and the SynIC's answers
 * to bad input: which configurations exist and why the others are refused;
 * the CPUID leaves, with the expected register values worked out by hand
 * from the bit layouts; interrupts taken on the right vCPU thread in
 * auto-EOI, EOI and polling modes; calls run on a chosen vCPU; and the
 * Hyper-V behaviour for a disabled SIMP with messages pending, an EOM with
 * nothing pending, a message page the hypervisor cannot reach, and a full
 * SINT queue, each a drop or a status with a trace event, never a crash.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/exec.h>
#include <cvmbus/platform.h>

#include "hw/platform_test_util.h"

static const uint8_t msg_unload[8] = { 0x10, 0, 0, 0, 0, 0, 0, 0 };

/* ---- configurations ------------------------------------------------------------------- */

static void test_configurations(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	char err[128];
	struct cvmbus_platform_config cfg;
	unsigned int built = 0;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	for (int arch = 0; arch <= 1; arch++) {
		for (int iso = 0; iso <= 3; iso++) {
			for (int pv = 0; pv <= 1; pv++) {
				for (int conf = 0; conf <= 1; conf++) {
					bool valid = !(arch == CVMBUS_ARCH_ARM64 && iso >= 2) &&
						     !(conf && !pv);
					int rc;

					memset(&cfg, 0, sizeof(cfg));
					cfg.exec = exec;
					cfg.arch = (enum cvmbus_arch)arch;
					cfg.isolation = (enum hv_isolation_type)iso;
					cfg.paravisor = pv;
					cfg.confidential_vmbus = conf;
					cfg.vcpus = 2;
					cfg.vtl0_bytes = 512u << 10;
					err[0] = '\0';
					rc = cvmbus_platform_create(&cfg, &p, err, sizeof(err));
					if (!valid) {
						assert_int_equal(rc, -EINVAL);
						assert_true(strlen(err) > 0);
						continue;
					}
					assert_int_equal(rc, 0);
					assert_int_equal(cvmbus_platform_vcpus(p), 2);
					assert_int_equal(cvmbus_platform_trap_trusted(p), pv && iso != 0);
					cvmbus_platform_destroy(p);
					built++;
				}
			}
		}
	}
	/* x86: 4 isolations x (no pv, pv, pv+conf); arm64: 2 x 3. */
	assert_int_equal(built, 12 + 6);

	memset(&cfg, 0, sizeof(cfg));
	cfg.exec = exec;
	cfg.arch = CVMBUS_ARCH_ARM64;
	cfg.isolation = HV_ISOLATION_TYPE_SNP;
	assert_int_equal(cvmbus_platform_create(&cfg, &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "snp isolation needs x86_64, not arm64");
	cfg.arch = CVMBUS_ARCH_X86_64;
	cfg.confidential_vmbus = true;
	assert_int_equal(cvmbus_platform_config_check(&cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "confidential vmbus needs a paravisor");
	cfg.confidential_vmbus = false;
	cfg.vcpus = 65;
	assert_int_equal(cvmbus_platform_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg.vcpus = 1;
	cfg.vtl0_bytes = 4097;
	assert_int_equal(cvmbus_platform_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg.vtl0_bytes = 0;
	cfg.vtl2_bytes = 4096; /* without a paravisor */
	assert_int_equal(cvmbus_platform_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg.vtl2_bytes = 0;
	cfg.shared_gpa_bits = 12; /* below the partition */
	assert_int_equal(cvmbus_platform_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg.exec = NULL;
	cfg.shared_gpa_bits = 0;
	assert_int_equal(cvmbus_platform_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cvmbus_exec_destroy(exec);
}

/* ---- CPUID ------------------------------------------------------------------------------ */

struct cpuid_case {
	enum hv_isolation_type iso;
	bool pv, conf;
	unsigned int bits;
	uint32_t eax_c, ebx_c; /* leaf 0x4000000C */
	uint32_t eax_82;       /* leaf 0x40000082 */
};

static void test_cpuid_leaves(void **state)
{
	/* EBX of 0x4000000C = type | 0x20 (boundary active) | bits << 6:
	 *   SNP, 46 bits: 2 + 32 + 2944 = 0x0BA2
	 *   TDX, 47 bits: 3 + 32 + 3008 = 0x0BE3
	 *   VBS, 40 bits: 1 + 32 + 2560 = 0x0A21 */
	static const struct cpuid_case cases[] = {
		{ HV_ISOLATION_TYPE_NONE, false, false, 0, 0x0, 0x0, 0x0 },
		{ HV_ISOLATION_TYPE_NONE, true, true, 0, 0x1, 0x0, 0x8 },
		{ HV_ISOLATION_TYPE_SNP, false, false, 0, 0x0, 0x0BA2, 0x0 },
		{ HV_ISOLATION_TYPE_SNP, true, false, 0, 0x1, 0x0BA2, 0x0 },
		{ HV_ISOLATION_TYPE_SNP, true, true, 0, 0x1, 0x0BA2, 0x8 },
		{ HV_ISOLATION_TYPE_TDX, false, false, 0, 0x0, 0x0BE3, 0x0 },
		{ HV_ISOLATION_TYPE_TDX, true, true, 0, 0x1, 0x0BE3, 0x8 },
		{ HV_ISOLATION_TYPE_VBS, true, false, 40, 0x1, 0x0A21, 0x0 },
	};
	struct cvmbus_exec *exec;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cpuid_case *c = &cases[i];
		struct cvmbus_platform_config cfg = {
			.exec = exec,
			.isolation = c->iso,
			.paravisor = c->pv,
			.confidential_vmbus = c->conf,
			.shared_gpa_bits = c->bits,
		};
		struct cvmbus_platform *p;
		struct cvmbus_trace *t;
		struct hv_cpuid_result r;
		const struct cvmbus_trace_event *ev;

		assert_int_equal(cvmbus_platform_create(&cfg, &p, NULL, 0), 0);
		t = cvmbus_platform_trace(p);
		assert_int_equal(cvmbus_trace_buffer_enable(t, 64), 0);

		assert_int_equal(cvmbus_cpuid(p, 0, HYPERV_CPUID_ISOLATION_CONFIG, &r), 0);
		assert_int_equal(r.eax, c->eax_c);
		assert_int_equal(r.ebx, c->ebx_c);
		/* The boundary the guest computes is the one memory uses. */
		assert_int_equal(cvmbus_mem_boundary_from_cpuid_ebx(r.ebx),
				 cvmbus_mem_shared_gpa_boundary(cvmbus_platform_mem(p)));
		ev = pt_last(t, CVMBUS_TRACE_CPUID);
		assert_int_equal(ev->to, CVMBUS_MEM_PARTY_HYPERVISOR);
		assert_int_equal(ev->leaf, HYPERV_CPUID_ISOLATION_CONFIG);

		assert_int_equal(cvmbus_cpuid(p, 0, HYPERV_CPUID_VIRT_STACK_PROPERTIES, &r), 0);
		assert_int_equal(r.eax, c->eax_82);
		assert_int_equal(r.ebx | r.ecx | r.edx, 0);
		/* Answered by the paravisor when there is one. */
		ev = pt_last(t, CVMBUS_TRACE_CPUID);
		assert_int_equal(ev->to, c->pv ? CVMBUS_MEM_PARTY_PARAVISOR
					       : CVMBUS_MEM_PARTY_HYPERVISOR);

		/* "Microsoft Hv" and "Hv#1". */
		assert_int_equal(cvmbus_cpuid(p, 0, 0x40000000u, &r), 0);
		assert_memory_equal(&r.ebx, "Micr", 4);
		assert_memory_equal(&r.ecx, "osof", 4);
		assert_memory_equal(&r.edx, "t Hv", 4);
		assert_int_equal(cvmbus_cpuid(p, 0, 0x40000001u, &r), 0);
		assert_memory_equal(&r.eax, "Hv#1", 4);
		assert_int_equal(cvmbus_cpuid(p, 9, 0x40000001u, &r), -EINVAL);
		cvmbus_platform_destroy(p);
	}
	cvmbus_exec_destroy(exec);
}

/* ---- vCPUs ---------------------------------------------------------------------------------- */

struct vlog {
	_Atomic uint32_t calls;
	uint32_t last_vp, last_self;
	struct cvmbus_completion got;
};

static void vlog_isr(void *ctx, struct cvmbus_platform *p, uint32_t vp,
		     enum cvmbus_synic_kind synic, uint32_t sint, uint32_t vector)
{
	struct vlog *l = ctx;

	l->last_vp = vp;
	l->last_self = cvmbus_vcpu_self(p);
	atomic_fetch_add(&l->calls, 1);
	cvmbus_completion_complete(&l->got);
}

struct on_vcpu {
	struct cvmbus_platform *p;
	uint32_t self;
};

static void record_self(void *arg)
{
	struct on_vcpu *o = arg;

	o->self = cvmbus_vcpu_self(o->p);
}

static void noop(void *arg)
{
	(void)arg;
}

static void test_vcpu_interrupts_and_calls(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct pt_synic s0, s1;
	struct vlog l;
	struct on_vcpu o;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	assert_int_equal(pt_platform(exec, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_NONE, false, 2, &p),
			 0);
	assert_int_equal(cvmbus_trace_buffer_enable(cvmbus_platform_trace(p), 4096), 0);
	memset(&l, 0, sizeof(l));
	cvmbus_completion_init(&l.got, exec, "isr");
	cvmbus_platform_set_isr(p, vlog_isr, &l);

	/* Calls run on the chosen vCPU's thread. */
	o.p = p;
	for (uint32_t vp = 0; vp < 2; vp++) {
		o.self = 99;
		assert_int_equal(cvmbus_vcpu_call(p, vp, record_self, &o), 0);
		assert_int_equal(o.self, vp);
	}
	assert_int_equal(cvmbus_vcpu_self(p), CVMBUS_TRACE_NO_VP);
	assert_int_equal(cvmbus_vcpu_call(p, 2, noop, NULL), -EINVAL);

	/* vCPU 1: auto-EOI, two interrupts without any EOI. */
	assert_int_equal(pt_synic_setup(p, CVMBUS_SYNIC_HYPERVISOR, 1, 2,
					0x41 | HV_SINT_AUTO_EOI, &s1), 0);
	assert_int_equal(cvmbus_synic_signal(p, CVMBUS_SYNIC_HYPERVISOR, 1, 2, 1), 1);
	assert_int_equal(cvmbus_completion_wait(&l.got, CVMBUS_EXEC_FOREVER), 0);
	assert_int_equal(l.last_vp, 1);
	assert_int_equal(l.last_self, 1);
	assert_int_equal(cvmbus_synic_signal(p, CVMBUS_SYNIC_HYPERVISOR, 1, 2, 2), 1);
	assert_int_equal(cvmbus_completion_wait(&l.got, CVMBUS_EXEC_FOREVER), 0);
	assert_int_equal(atomic_load(&l.calls), 2);
	/* A flag already set raises nothing more. */
	assert_int_equal(cvmbus_synic_signal(p, CVMBUS_SYNIC_HYPERVISOR, 1, 2, 2), 0);

	/* vCPU 0: no auto-EOI: the second interrupt waits for the EOI. */
	assert_int_equal(pt_synic_setup(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, 0x40, &s0), 0);
	atomic_store(&l.calls, 0);
	assert_int_equal(cvmbus_synic_signal(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, 1), 1);
	assert_int_equal(cvmbus_completion_wait(&l.got, CVMBUS_EXEC_FOREVER), 0);
	assert_int_equal(l.last_self, 0);
	assert_int_equal(cvmbus_synic_signal(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, 2), 1);
	/* A call returns only after the vCPU took what was raised before it. */
	assert_int_equal(cvmbus_vcpu_call(p, 0, noop, NULL), 0);
	assert_int_equal(atomic_load(&l.calls), 1);
	assert_int_equal(cvmbus_vcpu_eoi(p, 0), 0);
	assert_int_equal(cvmbus_completion_wait(&l.got, CVMBUS_EXEC_FOREVER), 0);
	assert_int_equal(atomic_load(&l.calls), 2);
	assert_non_null(pt_last(cvmbus_platform_trace(p), CVMBUS_TRACE_EOI));

	/* Polling: no interrupt at all. */
	assert_int_equal(cvmbus_reg_write(p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_SINT0 + 2,
					  0x40 | HV_SINT_POLLING), 0);
	assert_int_equal(cvmbus_vcpu_eoi(p, 0), 0);
	assert_int_equal(cvmbus_synic_signal(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, 3), 1);
	assert_int_equal(cvmbus_vcpu_call(p, 0, noop, NULL), 0);
	assert_int_equal(atomic_load(&l.calls), 2);
	assert_int_equal(pt_count(cvmbus_platform_trace(p), CVMBUS_TRACE_INTERRUPT,
				  "polling: not raised"), 1);
	assert_true(cvmbus_event_flag_test_and_clear(&s0.siefp->sint_flags[2], 3));
	assert_int_equal(cvmbus_vcpu_interrupts(p, 0) + cvmbus_vcpu_interrupts(p, 1), 4);

	cvmbus_platform_destroy(p);
	cvmbus_completion_destroy(&l.got);
	cvmbus_exec_destroy(exec);
}

/* ---- bad input ---------------------------------------------------------------------------------- */

static void test_simp_disabled_while_pending_drops(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_trace *t;
	struct pt_synic s;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	assert_int_equal(pt_platform(exec, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_NONE, false, 1, &p),
			 0);
	t = cvmbus_platform_trace(p);
	assert_int_equal(cvmbus_trace_buffer_enable(t, 4096), 0);
	assert_int_equal(pt_synic_setup(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HV_SINT_POLLING | 0x20,
					&s), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
						   msg_unload, 8), 0);
	assert_int_equal(cvmbus_synic_queued(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2), 2);

	/* The guest turns the message page off with two messages waiting:
	 * dropped, as Hyper-V drops them, each with an event. */
	assert_int_equal(cvmbus_reg_write(p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_SIMP, s.simp_gpa), 0);
	assert_int_equal(cvmbus_synic_queued(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2), 0);
	assert_int_equal(pt_count(t, CVMBUS_TRACE_DROP, "simp disabled"), 2);
	/* Posting now is dropped too. */
	assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_unload, 8), -ENODEV);
	assert_int_equal(pt_count(t, CVMBUS_TRACE_DROP, "simp disabled"), 3);
	/* An EOM with nothing pending is a no-op, traced. */
	assert_int_equal(cvmbus_reg_write(p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_EOM, 0), 0);
	assert_int_equal(pt_count(t, CVMBUS_TRACE_EOM, "nothing pending"), 1);
	/* Same for events with the SIEFP off. */
	assert_int_equal(cvmbus_reg_write(p, 0, CVMBUS_PATH_MSR, HV_X64_MSR_SIEFP, s.siefp_gpa), 0);
	assert_int_equal(cvmbus_synic_signal(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, 9), -ENODEV);
	assert_int_equal(pt_last(t, CVMBUS_TRACE_EVENT)->err, -ENODEV);
	/* Arguments out of range. */
	assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_HYPERVISOR, 1, 2, HVMSG_VMBUS,
					   msg_unload, 8), -EINVAL);
	assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_HYPERVISOR, 0, 16, HVMSG_VMBUS,
					   msg_unload, 8), -EINVAL);
	assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_unload, 241), -EINVAL);
	assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_PARAVISOR, 0, 2, HVMSG_VMBUS,
					   msg_unload, 8), -EINVAL);
	assert_int_equal(cvmbus_synic_signal(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, 2048), -EINVAL);
	cvmbus_platform_destroy(p);
	cvmbus_exec_destroy(exec);
}

static void test_private_simp_unreachable_for_hypervisor(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_mem *mem;
	struct cvmbus_trace *t;
	uint64_t gpa, faults0 = 0, faults1 = 0;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	assert_int_equal(pt_platform(exec, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_SNP, false, 1, &p),
			 0);
	t = cvmbus_platform_trace(p);
	mem = cvmbus_platform_mem(p);
	assert_int_equal(cvmbus_trace_buffer_enable(t, 4096), 0);
	/* The guest forgets to make its SIMP page shared. */
	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 1, &gpa), 0);
	assert_int_equal(cvmbus_reg_write(p, 0, CVMBUS_PATH_GHCB, HV_X64_MSR_SIMP,
					  gpa | HV_SYNIC_PAGE_ENABLE), 0);
	assert_int_equal(cvmbus_reg_write(p, 0, CVMBUS_PATH_GHCB, HV_X64_MSR_SINT0 + 2, 0x20), 0);
	cvmbus_mem_host_view_faults(cvmbus_mem_host(mem), &faults0, NULL);
	assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_unload, 8), -EFAULT);
	assert_int_equal(pt_count(t, CVMBUS_TRACE_DROP, "simp page not reachable"), 1);
	/* The hypervisor really tried, and the RMP-like check refused it. */
	cvmbus_mem_host_view_faults(cvmbus_mem_host(mem), &faults1, NULL);
	assert_true(faults1 > faults0);
	cvmbus_platform_destroy(p);
	cvmbus_exec_destroy(exec);
}

static void test_sint_queue_full_drops(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct pt_synic s;
	struct cvmbus_platform_config cfg;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.exec = exec;
	cfg.sint_queue_depth = 2;
	assert_int_equal(cvmbus_platform_create(&cfg, &p, NULL, 0), 0);
	assert_int_equal(cvmbus_trace_buffer_enable(cvmbus_platform_trace(p), 256), 0);
	assert_int_equal(pt_synic_setup(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HV_SINT_POLLING | 0x20,
					&s), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
						   msg_unload, 8), 0);
	assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_unload, 8), -ENOSPC);
	assert_int_equal(pt_count(cvmbus_platform_trace(p), CVMBUS_TRACE_DROP, "sint queue full"),
			 1);
	cvmbus_platform_destroy(p);
	cvmbus_exec_destroy(exec);
}

/* ---- supplied pages and the trace stream ---------------------------------------------------------- */

static void test_supplied_hypervisor_pages_are_accounted(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_mem_exposure_totals tot;
	struct cvmbus_mem_exposure_page pg;
	uint64_t simp = 0, siefp = 0;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	assert_int_equal(pt_platform(exec, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_SNP, true, 3, &p),
			 0);
	assert_int_equal(cvmbus_mem_exposure_by_reason(cvmbus_platform_mem(p), "synic-hypervisor",
						       &tot), 0);
	assert_int_equal(tot.pages_now, 6); /* SIMP + SIEFP for 3 vCPUs */
	assert_int_equal(cvmbus_synic_supplied_pages(p, 2, &simp, &siefp), 0);
	assert_int_equal(cvmbus_mem_exposure_page(cvmbus_platform_mem(p), simp, &pg), 0);
	assert_true(pg.visible_now);
	assert_int_equal(pg.party, CVMBUS_MEM_PARTY_PARAVISOR);
	assert_string_equal(pg.reason, "synic-hypervisor");
	/* The paravisor's trapped calls use private pages; the paravisor's own
	 * way to the hypervisor is a shared GHCB per vCPU. */
	assert_int_equal(cvmbus_mem_exposure_by_reason(cvmbus_platform_mem(p), "paravisor-ghcb",
						       &tot), 0);
	assert_int_equal(tot.pages_now, 3);
	cvmbus_platform_destroy(p);

	/* Without a paravisor nothing is supplied. */
	assert_int_equal(pt_platform(exec, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_SNP, false, 1, &p),
			 0);
	assert_int_equal(cvmbus_synic_supplied_pages(p, 0, &simp, &siefp), -ENOENT);
	cvmbus_platform_destroy(p);
	cvmbus_exec_destroy(exec);
}

static void test_jsonl_stream(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_trace *t;
	struct pt_synic s;
	char line[CVMBUS_TRACE_LINE_MAX + 2];
	uint64_t before, lines = 0;
	bool deliver_seen = false;
	FILE *f;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	assert_int_equal(pt_platform(exec, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_NONE, false, 1, &p),
			 0);
	t = cvmbus_platform_trace(p);
	assert_int_equal(pt_synic_setup(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HV_SINT_POLLING | 0x20,
					&s), 0);
	f = tmpfile();
	assert_non_null(f);
	before = cvmbus_trace_count(t);
	cvmbus_trace_set_jsonl(t, f);
	assert_int_equal(cvmbus_synic_post(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, HVMSG_VMBUS,
					   msg_unload, 8), 0);
	assert_int_equal(cvmbus_synic_signal(p, CVMBUS_SYNIC_HYPERVISOR, 0, 2, 4), 1);
	cvmbus_trace_set_jsonl(t, NULL);
	assert_int_equal(cvmbus_trace_jsonl_error(t), 0);

	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);

		lines++;
		assert_true(n > 2);
		assert_int_equal(line[0], '{');
		assert_int_equal(line[n - 1], '\n');
		assert_int_equal(line[n - 2], '}');
		for (const char *const *k = (const char *const[]){ "\"t\":", "\"kind\":", "\"from\":",
								   "\"to\":", "\"synic\":",
								   "\"path\":", "\"trusted\":",
								   NULL };
		     *k; k++)
			assert_non_null(strstr(line, *k));
		if (strstr(line, "\"kind\":\"deliver\"")) {
			deliver_seen = true;
			/* UNLOAD, by hand: type 16, 8 bytes of header. */
			assert_non_null(strstr(line, "\"from\":\"host\",\"to\":\"guest\","
						     "\"synic\":\"hypervisor\""));
			assert_non_null(strstr(line, "\"sint\":2,\"message_type\":1,\"type\":16,"
						     "\"name\":\"unload\",\"len\":8,"
						     "\"hex\":\"1000000000000000\""));
		}
	}
	fclose(f);
	assert_true(deliver_seen);
	assert_int_equal(lines, cvmbus_trace_count(t) - before);
	cvmbus_platform_destroy(p);
	cvmbus_exec_destroy(exec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configurations),
		cmocka_unit_test(test_cpuid_leaves),
		cmocka_unit_test(test_vcpu_interrupts_and_calls),
		cmocka_unit_test(test_simp_disabled_while_pending_drops),
		cmocka_unit_test(test_private_simp_unreachable_for_hypervisor),
		cmocka_unit_test(test_sint_queue_full_drops),
		cmocka_unit_test(test_supplied_hypervisor_pages_are_accounted),
		cmocka_unit_test(test_jsonl_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
