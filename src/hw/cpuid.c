/* SPDX-License-Identifier: MIT */
/*
 * The isolation configuration of the simulated platform and the CPUID leaves
 * that describe it to the guest (src/hw). A configuration is an isolation
 * type (none, VBS, SNP, TDX), a paravisor or not, and an architecture; this
 * file says which combinations exist, resolves defaults (including the
 * shared-GPA boundary that partition memory is built with), and answers the
 * synthetic CPUID leaves: 0x4000000C (paravisor present, isolation type,
 * shared-GPA boundary) from the hypervisor, and 0x40000082 EAX bit 3
 * (Confidential VMBus available) from the paravisor, which intercepts the
 * 0x4000008x range; with no paravisor nobody sets it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cvmbus/log.h>

#include "hw/platform_internal.h"

/* Model defaults (memory.h documents the same numbers). */
#define DEFAULT_VTL0_BYTES   (4ull << 20)
#define DEFAULT_VTL2_BYTES   (1ull << 20)
#define DEFAULT_VTOM_BITS    46u
#define DEFAULT_TDX_BITS     47u

/* "Microsoft Hv" in EBX, ECX, EDX, and the interface signature "Hv#1". */
#define HV_CPUID_VENDOR_EBX 0x7263694Du
#define HV_CPUID_VENDOR_ECX 0x666F736Fu
#define HV_CPUID_VENDOR_EDX 0x76482074u
#define HV_CPUID_INTERFACE_HV1 0x31237648u
/* 0x40000081: "VS#1", the virtualization-stack interface signature. */
#define HV_CPUID_VS_INTERFACE 0x31235356u

#define HYPERV_CPUID_VENDOR_AND_MAX 0x40000000u
#define HYPERV_CPUID_INTERFACE      0x40000001u
#define HYPERV_CPUID_FEATURES       0x40000003u
#define HYPERV_CPUID_VS_MAX         0x40000080u
#define HYPERV_CPUID_VS_INTERFACE   0x40000081u

/* 0x40000003 privileges the guest needs for VMBus. EAX: AccessSynicRegs
 * (bit 2), AccessHypercallMsrs (bit 5), AccessVpIndex (bit 6); EBX:
 * PostMessages (bit 4), SignalEvents (bit 5), Isolation (bit 22). */
#define HV_PRIV_EAX_SYNIC     (1u << 2)
#define HV_PRIV_EAX_HYPERCALL (1u << 5)
#define HV_PRIV_EAX_VP_INDEX  (1u << 6)
#define HV_PRIV_EBX_POST      (1u << 4)
#define HV_PRIV_EBX_SIGNAL    (1u << 5)
#define HV_PRIV_EBX_ISOLATION (1u << 22)

const char *cvmbus_isolation_name(enum hv_isolation_type iso)
{
	switch (iso) {
	case HV_ISOLATION_TYPE_NONE:
		return "none";
	case HV_ISOLATION_TYPE_VBS:
		return "vbs";
	case HV_ISOLATION_TYPE_SNP:
		return "snp";
	case HV_ISOLATION_TYPE_TDX:
		return "tdx";
	}
	return "unknown";
}

const char *cvmbus_arch_name(enum cvmbus_arch arch)
{
	switch (arch) {
	case CVMBUS_ARCH_X86_64:
		return "x86_64";
	case CVMBUS_ARCH_ARM64:
		return "arm64";
	}
	return "unknown";
}

__attribute__((format(printf, 3, 4))) static int config_error(char *err, size_t errlen,
							       const char *fmt, ...)
{
	char tmp[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "%s", tmp);
	return -EINVAL;
}

int hw_config_resolve(const struct cvmbus_platform_config *cfg,
		      struct cvmbus_platform_config *out, unsigned int *boundary_bits, char *err,
		      size_t errlen)
{
	struct cvmbus_platform_config c;
	unsigned int bits = 0;

	if (!cfg)
		return config_error(err, errlen, "no configuration");
	c = *cfg;
	if (!c.exec)
		return config_error(err, errlen, "no executor");
	if (c.arch != CVMBUS_ARCH_X86_64 && c.arch != CVMBUS_ARCH_ARM64)
		return config_error(err, errlen, "unknown architecture %d", (int)c.arch);
	if ((unsigned int)c.isolation > HV_ISOLATION_TYPE_TDX)
		return config_error(err, errlen, "unknown isolation type %d", (int)c.isolation);
	/* SNP and TDX are x86 technologies; an arm64 CoCo guest would be CCA,
	 * which Hyper-V does not model yet. */
	if (c.arch == CVMBUS_ARCH_ARM64 &&
	    (c.isolation == HV_ISOLATION_TYPE_SNP || c.isolation == HV_ISOLATION_TYPE_TDX))
		return config_error(err, errlen, "%s isolation needs x86_64, not arm64",
				    cvmbus_isolation_name(c.isolation));
	/* Only a paravisor answers 0x40000082 and runs the trusted server. */
	if (c.confidential_vmbus && !c.paravisor)
		return config_error(err, errlen, "confidential vmbus needs a paravisor");
	if (!c.vcpus)
		c.vcpus = 1;
	if (c.vcpus > CVMBUS_PLATFORM_MAX_VCPUS)
		return config_error(err, errlen, "%u vcpus, at most %u", c.vcpus,
				    CVMBUS_PLATFORM_MAX_VCPUS);
	if (!c.vtl0_bytes)
		c.vtl0_bytes = DEFAULT_VTL0_BYTES;
	if (c.paravisor && !c.vtl2_bytes)
		c.vtl2_bytes = DEFAULT_VTL2_BYTES;
	if (!c.paravisor && c.vtl2_bytes)
		return config_error(err, errlen, "vtl2 memory needs a paravisor");
	if (c.vtl0_bytes % HV_PAGE_SIZE || c.vtl2_bytes % HV_PAGE_SIZE)
		return config_error(err, errlen, "memory sizes must be multiples of 4 KiB");
	if (c.isolation != HV_ISOLATION_TYPE_NONE) {
		bits = c.shared_gpa_bits;
		if (!bits)
			bits = c.isolation == HV_ISOLATION_TYPE_TDX ? DEFAULT_TDX_BITS
								    : DEFAULT_VTOM_BITS;
		/* CPUID carries the boundary in 6 bits; the whole partition
		 * must sit below it. */
		if (bits > 63 || (1ull << bits) < c.vtl0_bytes + c.vtl2_bytes)
			return config_error(err, errlen, "shared gpa boundary bit %u is invalid",
					    bits);
		c.shared_gpa_bits = bits;
	} else {
		c.shared_gpa_bits = 0;
	}
	if (!c.sint_queue_depth)
		c.sint_queue_depth = CVMBUS_PLATFORM_DEFAULT_QUEUE;
	if (!c.port_queue_depth)
		c.port_queue_depth = CVMBUS_PLATFORM_DEFAULT_QUEUE;
	if (c.sint_queue_depth > CVMBUS_PLATFORM_MAX_QUEUE ||
	    c.port_queue_depth > CVMBUS_PLATFORM_MAX_QUEUE)
		return config_error(err, errlen, "queue depth above %u", CVMBUS_PLATFORM_MAX_QUEUE);
	if (out)
		*out = c;
	if (boundary_bits)
		*boundary_bits = bits;
	return 0;
}

int cvmbus_platform_config_check(const struct cvmbus_platform_config *cfg, char *err,
				 size_t errlen)
{
	return hw_config_resolve(cfg, NULL, NULL, err, errlen);
}

/* The answer itself, and who gives it. */
static unsigned int cpuid_answer(const struct cvmbus_platform *p, uint32_t leaf,
				 struct hv_cpuid_result *r)
{
	const struct cvmbus_platform_config *c = &p->cfg;
	bool pv = c->paravisor;

	memset(r, 0, sizeof(*r));
	switch (leaf) {
	case HYPERV_CPUID_VENDOR_AND_MAX:
		r->eax = HYPERV_CPUID_ISOLATION_CONFIG;
		r->ebx = HV_CPUID_VENDOR_EBX;
		r->ecx = HV_CPUID_VENDOR_ECX;
		r->edx = HV_CPUID_VENDOR_EDX;
		break;
	case HYPERV_CPUID_INTERFACE:
		r->eax = HV_CPUID_INTERFACE_HV1;
		break;
	case HYPERV_CPUID_FEATURES:
		r->eax = HV_PRIV_EAX_SYNIC | HV_PRIV_EAX_HYPERCALL | HV_PRIV_EAX_VP_INDEX;
		r->ebx = HV_PRIV_EBX_POST | HV_PRIV_EBX_SIGNAL;
		if (c->isolation != HV_ISOLATION_TYPE_NONE)
			r->ebx |= HV_PRIV_EBX_ISOLATION;
		break;
	case HYPERV_CPUID_ISOLATION_CONFIG:
		if (pv)
			r->eax |= HV_PARAVISOR_PRESENT;
		r->ebx = (uint32_t)c->isolation & HV_ISOLATION_TYPE_MASK;
		if (p->boundary_bits) {
			r->ebx |= HV_SHARED_GPA_BOUNDARY_ACTIVE;
			r->ebx |= (p->boundary_bits << HV_SHARED_GPA_BOUNDARY_BITS_SHIFT) &
				  HV_SHARED_GPA_BOUNDARY_BITS_MASK;
		}
		break;
	case HYPERV_CPUID_VS_MAX:
		if (pv)
			r->eax = HYPERV_CPUID_VIRT_STACK_PROPERTIES;
		break;
	case HYPERV_CPUID_VS_INTERFACE:
		if (pv)
			r->eax = HV_CPUID_VS_INTERFACE;
		break;
	case HYPERV_CPUID_VIRT_STACK_PROPERTIES:
		/* Set by the paravisor, and only when it was told to offer the
		 * trusted VMBus server: the hypervisor has no say here. */
		if (pv && c->confidential_vmbus)
			r->eax |= HV_VS_PROPERTIES_EAX_CONFIDENTIAL_VMBUS_AVAILABLE;
		break;
	default:
		break;
	}
	/* The paravisor intercepts the virtualization-stack range. */
	if (pv && leaf >= HYPERV_CPUID_VS_MAX && leaf <= 0x400000FFu)
		return CVMBUS_MEM_PARTY_PARAVISOR;
	return CVMBUS_MEM_PARTY_HYPERVISOR;
}

int cvmbus_cpuid(struct cvmbus_platform *p, uint32_t vp, uint32_t leaf,
		 struct hv_cpuid_result *out)
{
	struct cvmbus_trace_event ev;
	struct hv_cpuid_result r;
	unsigned int who;

	if (!p || !out || vp >= p->cfg.vcpus)
		return -EINVAL;
	who = cpuid_answer(p, leaf, &r);

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_CPUID);
	ev.vp = vp;
	ev.from = CVMBUS_MEM_PARTY_GUEST;
	ev.to = who;
	/* How a CPUID exit travels: intercepted by the paravisor when there
	 * is one; otherwise #VC/GHCB on SNP, #VE/tdcall on TDX, an ordinary
	 * exit elsewhere; arm64 reads the same facts as registers via hvc. */
	if (p->cfg.paravisor)
		ev.path = CVMBUS_PATH_PARAVISOR_TRAP;
	else if (p->cfg.arch == CVMBUS_ARCH_ARM64)
		ev.path = CVMBUS_PATH_HVC;
	else if (p->cfg.isolation == HV_ISOLATION_TYPE_SNP)
		ev.path = CVMBUS_PATH_GHCB;
	else if (p->cfg.isolation == HV_ISOLATION_TYPE_TDX)
		ev.path = CVMBUS_PATH_TDCALL;
	ev.trusted = ev.path == CVMBUS_PATH_PARAVISOR_TRAP && hw_path_trusted(p, ev.path);
	ev.leaf = leaf;
	ev.eax = r.eax;
	ev.ebx = r.ebx;
	ev.ecx = r.ecx;
	ev.edx = r.edx;
	cvmbus_trace_emit(p->trace, &ev);
	*out = r;
	return 0;
}
