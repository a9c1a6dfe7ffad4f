/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the platform tests (tests/hw/test_synic.c, _hypercall,
 * _paths, _platform, _det_trace): build a platform on an executor, set up a
 * guest's SynIC pages the way the Linux guest does (shared pages for the
 * hypervisor's SynIC unless a paravisor supplies them, private pages for
 * the paravisor's), look for events in the trace, and scan the host's whole
 * window for a byte pattern. Everything here is test scaffolding: the
 * assertions live in the tests.
 */
#ifndef CVMBUS_TESTS_PLATFORM_TEST_UTIL_H
#define CVMBUS_TESTS_PLATFORM_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <cvmbus/exec.h>
#include <cvmbus/hv.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/trace.h>

#define PT_PAGE 4096u

/* The register a name means on the platform's architecture. */
enum pt_reg { PT_SCONTROL, PT_SIMP, PT_SIEFP, PT_EOM, PT_SVERSION, PT_SINT0 };

static inline uint32_t pt_reg(struct cvmbus_platform *p, enum pt_reg r, uint32_t sint)
{
	bool arm = cvmbus_platform_config(p)->arch == CVMBUS_ARCH_ARM64;

	switch (r) {
	case PT_SCONTROL:
		return arm ? HV_REGISTER_SCONTROL : HV_X64_MSR_SCONTROL;
	case PT_SIMP:
		return arm ? HV_REGISTER_SIMP : HV_X64_MSR_SIMP;
	case PT_SIEFP:
		return arm ? HV_REGISTER_SIEFP : HV_X64_MSR_SIEFP;
	case PT_EOM:
		return arm ? HV_REGISTER_EOM : HV_X64_MSR_EOM;
	case PT_SVERSION:
		return arm ? HV_REGISTER_SVERSION : HV_X64_MSR_SVERSION;
	case PT_SINT0:
	default:
		return (arm ? HV_REGISTER_SINT0 : HV_X64_MSR_SINT0) + sint;
	}
}

static inline int pt_platform(struct cvmbus_exec *exec, enum cvmbus_arch arch,
			      enum hv_isolation_type iso, bool pv, unsigned int vcpus,
			      struct cvmbus_platform **out)
{
	struct cvmbus_platform_config cfg = {
		.exec = exec,
		.arch = arch,
		.isolation = iso,
		.paravisor = pv,
		.vcpus = vcpus,
		.vtl0_bytes = 1u << 20,
		.vtl2_bytes = pv ? 256u << 10 : 0,
	};

	return cvmbus_platform_create(&cfg, out, NULL, 0);
}

/* One guest SynIC as the guest sees it. */
struct pt_synic {
	uint64_t simp_gpa, siefp_gpa;
	struct hv_message_page *simp;     /* through the guest's view */
	struct hv_event_flags_page *siefp;
};

/*
 * Set up SynIC `which` of vCPU vp as the Linux guest would: pages (private
 * for the paravisor's, shared for the hypervisor's unless a paravisor
 * supplies them), SIMP and SIEFP enabled, SCONTROL on, SINT `sint` set to
 * sint_value. Returns 0 or the first failure.
 */
static inline int pt_synic_setup(struct cvmbus_platform *p, enum cvmbus_synic_kind which,
				 uint32_t vp, uint32_t sint, uint64_t sint_value,
				 struct pt_synic *out)
{
	struct cvmbus_mem *mem = cvmbus_platform_mem(p);
	enum cvmbus_path path = cvmbus_platform_reg_path(p, which);
	uint64_t gpa;
	int rc;

	memset(out, 0, sizeof(*out));
	if (which == CVMBUS_SYNIC_HYPERVISOR && cvmbus_platform_config(p)->paravisor) {
		rc = cvmbus_synic_supplied_pages(p, vp, &out->simp_gpa, &out->siefp_gpa);
		if (rc)
			return rc;
	} else {
		rc = cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 2, &gpa);
		if (rc)
			return rc;
		if (which == CVMBUS_SYNIC_HYPERVISOR) {
			/* The hypervisor writes these: they must be shared. */
			rc = cvmbus_platform_set_visibility(p, CVMBUS_MEM_PARTY_GUEST, gpa, 2, true,
							    "synic-guest");
			if (rc)
				return rc;
		}
		out->simp_gpa = gpa;
		out->siefp_gpa = gpa + PT_PAGE;
	}
	if (path != CVMBUS_PATH_NONE) {
		rc = cvmbus_reg_write(p, vp, path, pt_reg(p, PT_SIMP, 0),
				      out->simp_gpa | HV_SYNIC_PAGE_ENABLE);
		if (!rc)
			rc = cvmbus_reg_write(p, vp, path, pt_reg(p, PT_SIEFP, 0),
					      out->siefp_gpa | HV_SYNIC_PAGE_ENABLE);
		if (!rc)
			rc = cvmbus_reg_write(p, vp, path, pt_reg(p, PT_SINT0, sint), sint_value);
		if (!rc)
			rc = cvmbus_reg_write(p, vp, path, pt_reg(p, PT_SCONTROL, 0),
					      HV_SCONTROL_ENABLE);
		if (rc)
			return rc;
	}
	rc = cvmbus_mem_ptr(mem, CVMBUS_MEM_VIEW_GUEST, out->simp_gpa, PT_PAGE, (void **)&out->simp);
	if (!rc)
		rc = cvmbus_mem_ptr(mem, CVMBUS_MEM_VIEW_GUEST, out->siefp_gpa, PT_PAGE,
				    (void **)&out->siefp);
	return rc;
}

/* Events of `kind` kept in the trace buffer (note: NULL for any). */
static inline size_t pt_count(struct cvmbus_trace *t, enum cvmbus_trace_kind kind,
			      const char *note)
{
	size_t n = 0, count = cvmbus_trace_buffer_count(t);

	for (size_t i = 0; i < count; i++) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(t, i);

		if (ev->kind == kind && (!note || (ev->note && !strcmp(ev->note, note))))
			n++;
	}
	return n;
}

/* The last kept event of `kind` (NULL if none). */
static inline const struct cvmbus_trace_event *pt_last(struct cvmbus_trace *t,
						       enum cvmbus_trace_kind kind)
{
	for (size_t i = cvmbus_trace_buffer_count(t); i > 0; i--) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(t, i - 1);

		if (ev->kind == kind)
			return ev;
	}
	return NULL;
}

/* Occurrences of needle in every page the host can see now. */
static inline size_t pt_host_scan(struct cvmbus_platform *p, const void *needle, size_t n)
{
	struct cvmbus_mem *mem = cvmbus_platform_mem(p);
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(mem);
	static uint8_t page[PT_PAGE];
	size_t hits = 0;

	for (uint64_t gpa = 0; gpa < cvmbus_mem_bytes(mem); gpa += PT_PAGE) {
		if (!cvmbus_mem_host_view_visible(hv, gpa))
			continue;
		if (cvmbus_mem_host_read(hv, cvmbus_mem_gpa_to_alias(mem, gpa), page, PT_PAGE))
			continue;
		for (size_t i = 0; i + n <= PT_PAGE; i++)
			if (!memcmp(page + i, needle, n))
				hits++;
	}
	return hits;
}

#endif /* CVMBUS_TESTS_PLATFORM_TEST_UTIL_H */
