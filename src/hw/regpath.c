/* SPDX-License-Identifier: MIT */
/*
 * Register and hypercall paths of the simulated platform (src/hw): how a
 * register access or a hypercall travels from the party that makes it to
 * the one that handles it, in each configuration, with real bytes in real
 * pages. This is where "who could see it" is decided:
 *
 *   msr, hypercall-page  no isolation or VBS, no paravisor: the hypervisor
 *                        reads the input page through the HOST view;
 *   ghcb                 SNP: the caller writes the MSR request or the
 *                        hypercall input into its GHCB page, a SHARED page,
 *                        and the hypervisor copies it out of the HOST view;
 *   tdcall               TDX: registers (seen by the host) plus a shared
 *                        input page for memory-passed hypercalls;
 *   paravisor-trap       a direct MSR or hypercall the paravisor intercepts:
 *                        registers and PRIVATE pages read through the
 *                        PARAVISOR view; nothing lands in host-visible memory;
 *   hvc                  arm64: hypercalls through the input page, and the
 *                        SynIC registers through HvCallGet/SetVpRegisters.
 *
 * Each vCPU has "carriers": the pages its guest uses towards the hypervisor
 * and towards the paravisor, and the pages the paravisor uses towards the
 * hypervisor. A path that does not exist in the configuration is refused
 * with -EOPNOTSUPP, and the refusal is traced like any access.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/platform_internal.h"

#define PAGE HV_PAGE_SIZE

/*
 * The GHCB page as the model uses it. MSR requests use the standard GHCB
 * save-area fields (offsets from the GHCB specification) with usage 0;
 * Hyper-V hypercalls use usage 1 and Hyper-V's layout: input data from
 * offset 0 (509 qwords), output GPA at 4072, the control value at 4080,
 * overwritten by the result value.
 */
#define GHCB_RAX            0x1F8u
#define GHCB_RCX            0x308u
#define GHCB_RDX            0x310u
#define GHCB_SW_EXIT_CODE   0x390u
#define GHCB_SW_EXIT_INFO_1 0x398u
#define GHCB_PROTOCOL       0xFFAu
#define GHCB_USAGE          0xFFCu
#define GHCB_USAGE_STANDARD 0u
#define GHCB_USAGE_HYPERV   1u
#define GHCB_PROTOCOL_V2    2u
#define GHCB_HC_DATA_SIZE   4072u
#define GHCB_HC_OUTPUT_GPA  4072u
#define GHCB_HC_CONTROL     4080u
#define SVM_EXIT_MSR        0x7Cu

/* TDG.VP.VMCALL leaves for MSR access (the VMX exit reasons). */
#define TDVMCALL_MSR_READ  31u
#define TDVMCALL_MSR_WRITE 32u

/* Fast hypercalls carry at most two registers of input. */
#define FAST_INPUT_MAX 16u

static uint32_t rd32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

static void wr16(uint8_t *b, uint16_t v)
{
	memcpy(b, &v, sizeof(v));
}

static void wr32(uint8_t *b, uint32_t v)
{
	memcpy(b, &v, sizeof(v));
}

static void wr64(uint8_t *b, uint64_t v)
{
	memcpy(b, &v, sizeof(v));
}

/* ---- register names ---------------------------------------------------------------- */

enum hw_reg hw_reg_from_msr(uint32_t msr)
{
	if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15)
		return (enum hw_reg)(HW_REG_SINT0 + (int)(msr - HV_X64_MSR_SINT0));
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		return HW_REG_GUEST_OS_ID;
	case HV_X64_MSR_HYPERCALL:
		return HW_REG_HYPERCALL;
	case HV_X64_MSR_VP_INDEX:
		return HW_REG_VP_INDEX;
	case HV_X64_MSR_SCONTROL:
		return HW_REG_SCONTROL;
	case HV_X64_MSR_SVERSION:
		return HW_REG_SVERSION;
	case HV_X64_MSR_SIEFP:
		return HW_REG_SIEFP;
	case HV_X64_MSR_SIMP:
		return HW_REG_SIMP;
	case HV_X64_MSR_EOM:
		return HW_REG_EOM;
	case HV_X64_MSR_SIRBP:
		return HW_REG_SIRBP;
	default:
		return HW_REG_UNKNOWN;
	}
}

enum hw_reg hw_reg_from_name(uint32_t name)
{
	if (name >= HV_REGISTER_SINT0 && name <= HV_REGISTER_SINT15)
		return (enum hw_reg)(HW_REG_SINT0 + (int)(name - HV_REGISTER_SINT0));
	switch (name) {
	case HV_REGISTER_VP_INDEX:
		return HW_REG_VP_INDEX;
	case HV_REGISTER_SCONTROL:
		return HW_REG_SCONTROL;
	case HV_REGISTER_SVERSION:
		return HW_REG_SVERSION;
	case HV_REGISTER_SIEFP:
		return HW_REG_SIEFP;
	case HV_REGISTER_SIMP:
		return HW_REG_SIMP;
	case HV_REGISTER_EOM:
		return HW_REG_EOM;
	case HV_REGISTER_SIRBP:
		return HW_REG_SIRBP;
	default:
		return HW_REG_UNKNOWN;
	}
}

uint32_t hw_reg_to_msr(enum hw_reg reg)
{
	if (reg >= HW_REG_SINT0 && reg <= HW_REG_SINT15)
		return HV_X64_MSR_SINT0 + (uint32_t)(reg - HW_REG_SINT0);
	switch (reg) {
	case HW_REG_SCONTROL:
		return HV_X64_MSR_SCONTROL;
	case HW_REG_SVERSION:
		return HV_X64_MSR_SVERSION;
	case HW_REG_SIEFP:
		return HV_X64_MSR_SIEFP;
	case HW_REG_SIMP:
		return HV_X64_MSR_SIMP;
	case HW_REG_EOM:
		return HV_X64_MSR_EOM;
	case HW_REG_SIRBP:
		return HV_X64_MSR_SIRBP;
	case HW_REG_VP_INDEX:
		return HV_X64_MSR_VP_INDEX;
	case HW_REG_GUEST_OS_ID:
		return HV_X64_MSR_GUEST_OS_ID;
	case HW_REG_HYPERCALL:
		return HV_X64_MSR_HYPERCALL;
	default:
		return 0;
	}
}

/* ---- which paths exist ------------------------------------------------------------------ */

static bool x86(const struct cvmbus_platform *p)
{
	return p->cfg.arch == CVMBUS_ARCH_X86_64;
}

/* x86 without SNP or TDX: plain MSRs and the hypercall page. */
static bool x86_plain(const struct cvmbus_platform *p)
{
	return x86(p) && (p->cfg.isolation == HV_ISOLATION_TYPE_NONE ||
			  p->cfg.isolation == HV_ISOLATION_TYPE_VBS);
}

bool cvmbus_path_available(const struct cvmbus_platform *p, enum cvmbus_path path)
{
	if (!p)
		return false;
	switch (path) {
	case CVMBUS_PATH_MSR:
	case CVMBUS_PATH_HYPERCALL_PAGE:
		/* With a paravisor the same instructions trap to it instead:
		 * that is the paravisor-trap path. */
		return x86_plain(p) && !p->cfg.paravisor;
	case CVMBUS_PATH_GHCB:
		return x86(p) && p->cfg.isolation == HV_ISOLATION_TYPE_SNP;
	case CVMBUS_PATH_TDCALL:
		return x86(p) && p->cfg.isolation == HV_ISOLATION_TYPE_TDX;
	case CVMBUS_PATH_PARAVISOR_TRAP:
		return p->cfg.paravisor;
	case CVMBUS_PATH_HVC:
		return !x86(p);
	default:
		return false;
	}
}

bool hw_path_trusted(const struct cvmbus_platform *p, enum cvmbus_path path)
{
	/* Trusted means "no host-visible mechanism carried it", which only
	 * means something when the host is shut out of private memory. */
	return path == CVMBUS_PATH_PARAVISOR_TRAP && p->cfg.paravisor && hw_isolated(p);
}

bool cvmbus_platform_trap_trusted(const struct cvmbus_platform *p)
{
	return p && hw_path_trusted(p, CVMBUS_PATH_PARAVISOR_TRAP);
}

static enum cvmbus_path hv_path(const struct cvmbus_platform *p, bool reg)
{
	if (!x86(p))
		return CVMBUS_PATH_HVC;
	if (p->cfg.isolation == HV_ISOLATION_TYPE_SNP)
		return CVMBUS_PATH_GHCB;
	if (p->cfg.isolation == HV_ISOLATION_TYPE_TDX)
		return CVMBUS_PATH_TDCALL;
	return reg ? CVMBUS_PATH_MSR : CVMBUS_PATH_HYPERCALL_PAGE;
}

/* The path a guest uses to reach `target` for a register (reg) or a
 * hypercall: the paravisor by a trapped direct access; the hypervisor by
 * whatever this isolation allows, or none. */
static enum cvmbus_path platform_path(const struct cvmbus_platform *p,
				      enum cvmbus_synic_kind target, bool reg)
{
	enum cvmbus_path path;

	if (!p)
		return CVMBUS_PATH_NONE;
	if (target == CVMBUS_SYNIC_PARAVISOR)
		return p->cfg.paravisor ? CVMBUS_PATH_PARAVISOR_TRAP : CVMBUS_PATH_NONE;
	if (target != CVMBUS_SYNIC_HYPERVISOR)
		return CVMBUS_PATH_NONE;
	path = hv_path(p, reg);
	return cvmbus_path_available(p, path) ? path : CVMBUS_PATH_NONE;
}

enum cvmbus_path cvmbus_platform_reg_path(const struct cvmbus_platform *p,
					  enum cvmbus_synic_kind target)
{
	return platform_path(p, target, true);
}

enum cvmbus_path cvmbus_platform_hypercall_path(const struct cvmbus_platform *p,
						enum cvmbus_synic_kind target)
{
	return platform_path(p, target, false);
}

enum cvmbus_path hw_party_hv_path(const struct cvmbus_platform *p, enum cvmbus_mem_party party)
{
	switch (party) {
	case CVMBUS_MEM_PARTY_GUEST:
		/* With a paravisor, the guest's hypercalls trap to it first. */
		if (p->cfg.paravisor)
			return CVMBUS_PATH_PARAVISOR_TRAP;
		return hv_path(p, false);
	case CVMBUS_MEM_PARTY_PARAVISOR:
		/* The paravisor itself uses what an enlightened guest would:
		 * GHCB on SNP, tdcall on TDX, the hypercall page otherwise. */
		return hv_path(p, false);
	default:
		return CVMBUS_PATH_NONE;
	}
}

/* ---- one register access ------------------------------------------------------------------- */

int hw_reg_access(struct cvmbus_platform *p, const struct hw_origin *o,
		  enum cvmbus_synic_kind target, uint32_t reg_number, enum hw_reg reg,
		  bool write, uint64_t *value)
{
	struct hw_synic *s = hw_synic_of(p, target);
	struct cvmbus_trace_event ev;
	bool partition_reg = reg == HW_REG_VP_INDEX || reg == HW_REG_GUEST_OS_ID ||
			     reg == HW_REG_HYPERCALL;
	int rc = 0;

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_REG);
	ev.vp = o->vp;
	ev.from = o->party;
	ev.to = target == CVMBUS_SYNIC_PARAVISOR ? CVMBUS_MEM_PARTY_PARAVISOR
						 : CVMBUS_MEM_PARTY_HYPERVISOR;
	ev.synic = target;
	ev.path = o->path;
	ev.trusted = o->trusted;
	ev.reg = reg_number;
	ev.write = write;

	if (reg == HW_REG_UNKNOWN)
		rc = -EINVAL;
	else if (!partition_reg && !s)
		rc = -EOPNOTSUPP;

	if (write) {
		ev.value = *value;
		if (!rc && reg == HW_REG_VP_INDEX)
			rc = -EINVAL; /* read-only */
		else if (!rc && !partition_reg)
			rc = hw_synic_validate(reg, *value);
		if (rc) {
			ev.err = rc;
			ev.note = "refused";
		}
		/* Traced before it acts, so that what the write causes (a
		 * re-delivery after EOM, an unmasked interrupt) follows it. */
		cvmbus_trace_emit(p->trace, &ev);
		if (rc)
			return rc;
		if (partition_reg) {
			cvmbus_mutex_lock(&p->reg_lock);
			if (reg == HW_REG_GUEST_OS_ID)
				p->guest_os_id = *value;
			else
				p->hypercall_msr = *value;
			cvmbus_mutex_unlock(&p->reg_lock);
			return 0;
		}
		return hw_synic_write(s, o, o->vp, reg, *value);
	}

	if (!rc) {
		if (reg == HW_REG_VP_INDEX) {
			*value = o->vp;
		} else if (partition_reg) {
			cvmbus_mutex_lock(&p->reg_lock);
			*value = reg == HW_REG_GUEST_OS_ID ? p->guest_os_id : p->hypercall_msr;
			cvmbus_mutex_unlock(&p->reg_lock);
		} else {
			rc = hw_synic_read(s, o->vp, reg, value);
		}
	}
	if (rc) {
		ev.err = rc;
		ev.note = "refused";
	} else {
		ev.value = *value;
	}
	cvmbus_trace_emit(p->trace, &ev);
	return rc;
}

/* ---- carriers ------------------------------------------------------------------------------------ */

static int carrier_setup(struct cvmbus_platform *p, struct hw_carrier *c, enum cvmbus_path path,
			 enum cvmbus_mem_party party, uint64_t npages, bool shared,
			 const char *reason)
{
	enum cvmbus_mem_region region = party == CVMBUS_MEM_PARTY_GUEST
						? CVMBUS_MEM_REGION_VTL0
						: CVMBUS_MEM_REGION_VTL2;
	uint64_t gpa;
	int rc;

	cvmbus_mutex_init(&c->lock, p->exec, "carrier");
	c->present = true; /* from here on teardown owns lock and scratch */
	c->path = path;
	c->party = party;
	c->view = party == CVMBUS_MEM_PARTY_GUEST ? CVMBUS_MEM_VIEW_GUEST
						  : CVMBUS_MEM_VIEW_PARAVISOR;
	c->npages = npages;
	/* Three pages of process memory: the caller's page image, the
	 * handler's copy of it, the handler's output. */
	c->scratch = malloc(3 * PAGE);
	if (!c->scratch)
		return -ENOMEM;
	rc = cvmbus_mem_alloc(p->mem, region, npages, &gpa);
	if (rc)
		return rc;
	if (shared) {
		rc = cvmbus_platform_set_visibility(p, party, gpa, npages, true, reason);
		if (rc)
			return rc;
	}
	c->in_gpa = gpa;
	c->out_gpa = npages > 1 ? gpa + PAGE : gpa;
	return 0;
}

int hw_regpath_setup(struct cvmbus_platform *p)
{
	enum cvmbus_path gpath = hv_path(p, false);
	const char *greason, *preason;
	uint64_t gpages;
	int rc;

	switch (gpath) {
	case CVMBUS_PATH_GHCB:
		greason = "ghcb";
		preason = "paravisor-ghcb";
		gpages = 1;
		break;
	case CVMBUS_PATH_TDCALL:
		greason = "tdx-hypercall";
		preason = "paravisor-tdcall";
		gpages = 2;
		break;
	default:
		greason = "hypercall-input";
		preason = "paravisor-hypercall";
		gpages = 2;
		break;
	}
	for (uint32_t vp = 0; vp < p->cfg.vcpus; vp++) {
		struct hw_vcpu *v = &p->vcpu[vp];

		/* The guest's own way to the hypervisor, if it has one: its
		 * pages must be shared, since the hypervisor reads them. */
		if (cvmbus_path_available(p, gpath)) {
			rc = carrier_setup(p, &v->guest_hv, gpath, CVMBUS_MEM_PARTY_GUEST, gpages,
					   true, greason);
			if (rc)
				return rc;
		}
		if (!p->cfg.paravisor)
			continue;
		/* Trapped calls: private pages only the paravisor reads. */
		rc = carrier_setup(p, &v->guest_trap, CVMBUS_PATH_PARAVISOR_TRAP,
				   CVMBUS_MEM_PARTY_GUEST, 2, false, NULL);
		if (rc)
			return rc;
		rc = carrier_setup(p, &v->para_hv, gpath, CVMBUS_MEM_PARTY_PARAVISOR, gpages, true,
				   preason);
		if (rc)
			return rc;
	}
	return 0;
}

static void carrier_teardown(struct hw_carrier *c)
{
	if (!c->present)
		return;
	free(c->scratch);
	c->scratch = NULL;
	cvmbus_mutex_destroy(&c->lock);
	c->present = false;
}

void hw_regpath_teardown(struct cvmbus_platform *p)
{
	/* The pages go with partition memory, destroyed right after. */
	for (uint32_t vp = 0; p->vcpu && vp < p->cfg.vcpus; vp++) {
		carrier_teardown(&p->vcpu[vp].guest_hv);
		carrier_teardown(&p->vcpu[vp].guest_trap);
		carrier_teardown(&p->vcpu[vp].para_hv);
	}
}

static uint64_t alias(const struct cvmbus_platform *p, uint64_t gpa)
{
	return cvmbus_mem_gpa_to_alias(p->mem, gpa);
}

/*
 * One hypercall through a carrier: the caller writes the input where its
 * path puts it, the handler takes its own copy from where IT can read (host
 * view for the hypervisor, paravisor view for a trap), handles it, writes
 * the output back the same way, and the caller reads it. Carrier lock held
 * throughout: a vCPU makes one hypercall at a time.
 */
static int carrier_call(struct cvmbus_platform *p, struct hw_carrier *c, uint32_t vp,
			uint64_t control, const void *in, size_t in_len, void *out,
			size_t out_len, uint16_t *status)
{
	struct hw_origin o = {
		.party = c->party,
		.vp = vp,
		.path = c->path,
		.trusted = hw_path_trusted(p, c->path),
	};
	struct hw_vtl_return vtl_return = { .port = NULL };
	bool fast = control & HV_HYPERCALL_FAST_BIT;
	bool ghcb = c->path == CVMBUS_PATH_GHCB;
	size_t room = ghcb ? GHCB_HC_DATA_SIZE : PAGE;
	uint8_t *img, *hin, *hout, result[8];
	size_t olen = 0;
	uint16_t st;
	int rc;

	if (in_len > room || out_len > room || (in_len && !in) || (out_len && !out) ||
	    (fast && !ghcb && in_len > FAST_INPUT_MAX))
		return -EINVAL;
	/* The guest's trap is a VTL switch on real hardware: a signal to the
	 * paravisor may leave it work to do on this vCPU (ports.c). */
	if (c->party == CVMBUS_MEM_PARTY_GUEST && c->path == CVMBUS_PATH_PARAVISOR_TRAP)
		o.vtl_return = &vtl_return;
	cvmbus_mutex_lock(&c->lock);
	img = c->scratch;
	hin = img + PAGE;
	hout = hin + PAGE;

	if (ghcb) {
		/* Everything, fast calls too, goes through the shared page. */
		memset(img, 0, PAGE);
		if (in_len)
			memcpy(img, in, in_len);
		wr64(img + GHCB_HC_OUTPUT_GPA, 0);
		wr64(img + GHCB_HC_CONTROL, control);
		wr16(img + GHCB_PROTOCOL, GHCB_PROTOCOL_V2);
		wr32(img + GHCB_USAGE, GHCB_USAGE_HYPERV);
		rc = cvmbus_mem_write(p->mem, c->view, c->in_gpa, img, PAGE);
		if (rc)
			goto out;
		/* VMGEXIT: the hypervisor copies the page out of its window. */
		rc = cvmbus_mem_host_read(p->host, alias(p, c->in_gpa), hin, PAGE);
		if (rc)
			goto out;
		if (rd32(hin + GHCB_USAGE) != GHCB_USAGE_HYPERV)
			st = HV_STATUS_INVALID_HYPERCALL_INPUT;
		else
			st = hw_hypercall(p, &o, rd64(hin + GHCB_HC_CONTROL), hin,
					  GHCB_HC_DATA_SIZE, hout, GHCB_HC_DATA_SIZE, &olen);
		/* The answer goes back into the same shared page. */
		wr64(result, st);
		if (olen)
			rc = cvmbus_mem_host_write(p->host, alias(p, c->in_gpa), hout, olen);
		if (!rc)
			rc = cvmbus_mem_host_write(p->host, alias(p, c->in_gpa + GHCB_HC_CONTROL),
						   result, sizeof(result));
		if (!rc)
			rc = cvmbus_mem_read(p->mem, c->view, c->in_gpa + GHCB_HC_CONTROL, result,
					     sizeof(result));
		if (!rc && out_len)
			rc = cvmbus_mem_read(p->mem, c->view, c->in_gpa, out, out_len);
		if (!rc)
			*status = (uint16_t)(rd64(result) & HV_HYPERCALL_RESULT_MASK);
		goto out;
	}

	if (fast) {
		/* Registers: no memory involved, but a host-handled path still
		 * shows them to the host (it owns the exit). */
		memset(hin, 0, PAGE);
		if (in_len)
			memcpy(hin, in, in_len);
	} else {
		memset(img, 0, PAGE);
		if (in_len)
			memcpy(img, in, in_len);
		rc = cvmbus_mem_write(p->mem, c->view, c->in_gpa, img, PAGE);
		if (rc)
			goto out;
		if (c->path == CVMBUS_PATH_PARAVISOR_TRAP)
			rc = cvmbus_mem_read(p->mem, CVMBUS_MEM_VIEW_PARAVISOR, c->in_gpa, hin, PAGE);
		else
			rc = cvmbus_mem_host_read(p->host, alias(p, c->in_gpa), hin, PAGE);
		if (rc)
			goto out;
	}
	st = hw_hypercall(p, &o, control, hin, PAGE, hout, PAGE, &olen);
	if (olen) {
		if (c->path == CVMBUS_PATH_PARAVISOR_TRAP)
			rc = cvmbus_mem_write(p->mem, CVMBUS_MEM_VIEW_PARAVISOR, c->out_gpa, hout,
					      olen);
		else
			rc = cvmbus_mem_host_write(p->host, alias(p, c->out_gpa), hout, olen);
		if (rc)
			goto out;
	}
	if (out_len) {
		rc = cvmbus_mem_read(p->mem, c->view, c->out_gpa, out, out_len);
		if (rc)
			goto out;
	}
	*status = st;
	rc = 0;
out:
	cvmbus_mutex_unlock(&c->lock);
	/* The hypercall is complete and the carrier free for the next call
	 * (another thread borrowing this vCPU's carrier need not wait for
	 * the paravisor's work); VTL2 now runs what the signal asked for,
	 * on this thread, before the guest's call returns. */
	hw_port_vtl_return(p, &vtl_return);
	return rc;
}

/* ---- register access through a path ------------------------------------------------------------------ */

static void trace_refused(struct cvmbus_platform *p, enum cvmbus_trace_kind kind, uint32_t vp,
			  enum cvmbus_path path, uint32_t reg, bool write, uint64_t value,
			  uint16_t code, const char *note)
{
	struct cvmbus_trace_event ev;

	cvmbus_trace_event_init(&ev, kind);
	ev.vp = vp;
	ev.from = CVMBUS_MEM_PARTY_GUEST;
	ev.path = path;
	ev.reg = reg;
	ev.write = write;
	ev.value = value;
	ev.code = code;
	ev.err = -EOPNOTSUPP;
	ev.note = note;
	cvmbus_trace_emit(p->trace, &ev);
}

/* The carrier a guest path uses, or NULL if the path has none here. */
static struct hw_carrier *guest_carrier(struct cvmbus_platform *p, uint32_t vp,
					enum cvmbus_path path)
{
	struct hw_vcpu *v = &p->vcpu[vp];

	if (path == CVMBUS_PATH_PARAVISOR_TRAP)
		return v->guest_trap.present ? &v->guest_trap : NULL;
	if (v->guest_hv.present && v->guest_hv.path == path)
		return &v->guest_hv;
	return NULL;
}

/* SNP: the GHCB MSR protocol, in the shared page. */
static int ghcb_msr(struct cvmbus_platform *p, struct hw_carrier *c, uint32_t vp, uint32_t msr,
		    bool write, uint64_t *value)
{
	struct hw_origin o = { CVMBUS_MEM_PARTY_GUEST, vp, CVMBUS_PATH_GHCB, false, NULL };
	uint8_t *img, *hin;
	uint64_t v = write ? *value : 0, info;
	uint32_t hmsr;
	int rc;

	cvmbus_mutex_lock(&c->lock);
	img = c->scratch;
	hin = img + PAGE;
	memset(img, 0, PAGE);
	wr64(img + GHCB_SW_EXIT_CODE, SVM_EXIT_MSR);
	wr64(img + GHCB_SW_EXIT_INFO_1, write ? 1 : 0);
	wr64(img + GHCB_RCX, msr);
	wr64(img + GHCB_RAX, v & 0xFFFFFFFFu);
	wr64(img + GHCB_RDX, v >> 32);
	wr16(img + GHCB_PROTOCOL, GHCB_PROTOCOL_V2);
	wr32(img + GHCB_USAGE, GHCB_USAGE_STANDARD);
	rc = cvmbus_mem_write(p->mem, c->view, c->in_gpa, img, PAGE);
	if (rc)
		goto out;
	/* The hypervisor's copy: every field below comes from it. */
	rc = cvmbus_mem_host_read(p->host, alias(p, c->in_gpa), hin, PAGE);
	if (rc)
		goto out;
	info = rd64(hin + GHCB_SW_EXIT_INFO_1);
	if (rd32(hin + GHCB_USAGE) != GHCB_USAGE_STANDARD ||
	    rd64(hin + GHCB_SW_EXIT_CODE) != SVM_EXIT_MSR || info > 1) {
		rc = -EINVAL;
		goto out;
	}
	hmsr = (uint32_t)rd64(hin + GHCB_RCX);
	v = (rd64(hin + GHCB_RAX) & 0xFFFFFFFFu) | (rd64(hin + GHCB_RDX) << 32);
	rc = hw_reg_access(p, &o, CVMBUS_SYNIC_HYPERVISOR, hmsr, hw_reg_from_msr(hmsr), info == 1,
			   &v);
	if (rc || write)
		goto out;
	wr64(hin + GHCB_RAX, v & 0xFFFFFFFFu);
	wr64(hin + GHCB_RDX, v >> 32);
	rc = cvmbus_mem_host_write(p->host, alias(p, c->in_gpa + GHCB_RAX), hin + GHCB_RAX, 8);
	if (!rc)
		rc = cvmbus_mem_host_write(p->host, alias(p, c->in_gpa + GHCB_RDX), hin + GHCB_RDX,
					   8);
	if (!rc)
		rc = cvmbus_mem_read(p->mem, c->view, c->in_gpa + GHCB_RAX, img + GHCB_RAX, 8);
	if (!rc)
		rc = cvmbus_mem_read(p->mem, c->view, c->in_gpa + GHCB_RDX, img + GHCB_RDX, 8);
	if (!rc)
		*value = (rd64(img + GHCB_RAX) & 0xFFFFFFFFu) | (rd64(img + GHCB_RDX) << 32);
out:
	cvmbus_mutex_unlock(&c->lock);
	return rc;
}

/* TDX: TDG.VP.VMCALL with the MSR request in registers (r11 = exit reason,
 * r12 = MSR, r13 = value); the host sees them, nothing goes to memory. */
static int tdcall_msr(struct cvmbus_platform *p, uint32_t vp, uint32_t msr, bool write,
		      uint64_t *value)
{
	struct hw_origin o = { CVMBUS_MEM_PARTY_GUEST, vp, CVMBUS_PATH_TDCALL, false, NULL };
	uint64_t r11 = write ? TDVMCALL_MSR_WRITE : TDVMCALL_MSR_READ, r12 = msr;
	uint64_t r13 = write ? *value : 0;
	int rc;

	rc = hw_reg_access(p, &o, CVMBUS_SYNIC_HYPERVISOR, (uint32_t)r12,
			   hw_reg_from_msr((uint32_t)r12), r11 == TDVMCALL_MSR_WRITE, &r13);
	if (!rc && !write)
		*value = r13;
	return rc;
}

/* arm64: HvCallGet/SetVpRegisters for one register through a carrier. */
static int vpreg_call(struct cvmbus_platform *p, struct hw_carrier *c, uint32_t vp,
		      uint32_t name, bool write, uint64_t *value)
{
	uint8_t in[sizeof(struct hv_input_vp_registers_header) + sizeof(struct hv_register_assoc)];
	struct hv_input_vp_registers_header h = {
		.partition_id = HV_PARTITION_ID_SELF,
		.vp_index = HV_VP_INDEX_SELF,
	};
	uint64_t control = (write ? HVCALL_SET_VP_REGISTERS : HVCALL_GET_VP_REGISTERS) |
			   (1ull << HV_HYPERCALL_REP_COUNT_SHIFT);
	uint8_t out[16];
	uint16_t st = 0;
	size_t in_len;
	int rc;

	memset(in, 0, sizeof(in));
	memcpy(in, &h, sizeof(h));
	if (write) {
		struct hv_register_assoc a = { .name = name, .value_low = *value };

		memcpy(in + sizeof(h), &a, sizeof(a));
		in_len = sizeof(h) + sizeof(a);
	} else {
		wr32(in + sizeof(h), name);
		in_len = sizeof(h) + 8;
	}
	rc = carrier_call(p, c, vp, control, in, in_len, write ? NULL : out, write ? 0 : 16, &st);
	if (rc)
		return rc;
	if (st == HV_STATUS_INVALID_PARAMETER)
		return -EINVAL;
	if (st != HV_STATUS_SUCCESS)
		return -EIO;
	if (!write)
		*value = rd64(out);
	return 0;
}

static int reg_access(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
		      uint32_t reg, bool write, uint64_t *value)
{
	struct hw_origin o = { CVMBUS_MEM_PARTY_GUEST, vp, path, hw_path_trusted(p, path), NULL };
	struct hw_carrier *c;

	if (!p || vp >= p->cfg.vcpus || !value)
		return -EINVAL;
	if (!cvmbus_path_available(p, path) || path == CVMBUS_PATH_HYPERCALL_PAGE) {
		trace_refused(p, CVMBUS_TRACE_REG, vp, path, reg, write, write ? *value : 0, 0,
			      "no such path here");
		return -EOPNOTSUPP;
	}
	if (!x86(p)) {
		/* arm64 has no MSRs: registers travel by hypercall. */
		c = guest_carrier(p, vp, path);
		if (!c) {
			trace_refused(p, CVMBUS_TRACE_REG, vp, path, reg, write,
				      write ? *value : 0, 0, "no carrier for this path");
			return -EOPNOTSUPP;
		}
		return vpreg_call(p, c, vp, reg, write, value);
	}
	switch (path) {
	case CVMBUS_PATH_MSR:
		return hw_reg_access(p, &o, CVMBUS_SYNIC_HYPERVISOR, reg, hw_reg_from_msr(reg),
				     write, value);
	case CVMBUS_PATH_PARAVISOR_TRAP:
		/* The paravisor intercepts the wrmsr/rdmsr: its SynIC. */
		return hw_reg_access(p, &o, CVMBUS_SYNIC_PARAVISOR, reg, hw_reg_from_msr(reg),
				     write, value);
	case CVMBUS_PATH_GHCB:
		c = guest_carrier(p, vp, path);
		return c ? ghcb_msr(p, c, vp, reg, write, value) : -EOPNOTSUPP;
	case CVMBUS_PATH_TDCALL:
		return tdcall_msr(p, vp, reg, write, value);
	default:
		return -EOPNOTSUPP;
	}
}

int cvmbus_reg_read(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
		    uint32_t reg, uint64_t *value)
{
	return reg_access(p, vp, path, reg, false, value);
}

int cvmbus_reg_write(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
		     uint32_t reg, uint64_t value)
{
	return reg_access(p, vp, path, reg, true, &value);
}

/* ---- hypercalls through a path --------------------------------------------------------------------------- */

int cvmbus_hv_hypercall(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
			uint64_t control, const void *input, size_t in_len, void *output,
			size_t out_len, uint16_t *status)
{
	struct hw_carrier *c;

	if (!p || p->remote || vp >= p->cfg.vcpus || !status)
		return -EINVAL;
	if (!cvmbus_path_available(p, path) || path == CVMBUS_PATH_MSR) {
		trace_refused(p, CVMBUS_TRACE_HYPERCALL, vp, path, 0, false, 0,
			      (uint16_t)(control & 0xFFFFu), "no such path here");
		return -EOPNOTSUPP;
	}
	c = guest_carrier(p, vp, path);
	if (!c) {
		trace_refused(p, CVMBUS_TRACE_HYPERCALL, vp, path, 0, false, 0,
			      (uint16_t)(control & 0xFFFFu), "no carrier for this path");
		return -EOPNOTSUPP;
	}
	return carrier_call(p, c, vp, control, input, in_len, output, out_len, status);
}

static void post_input(struct hv_input_post_message *in, uint32_t connection_id,
		       uint32_t message_type, const void *payload, uint32_t size)
{
	memset(in, 0, sizeof(*in));
	in->connection_id = connection_id;
	in->message_type = message_type;
	/* The size field says what the caller asked for, even if it is too
	 * big: refusing it is the hypervisor's job, and what the test sees. */
	in->payload_size = size;
	if (payload && size)
		memcpy(in->payload, payload,
		       size < HV_MESSAGE_PAYLOAD_SIZE ? size : HV_MESSAGE_PAYLOAD_SIZE);
}

int cvmbus_hv_post_message(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
			   uint32_t connection_id, uint32_t message_type, const void *payload,
			   uint32_t size, uint16_t *status)
{
	struct hv_input_post_message in;

	if (size && !payload)
		return -EINVAL;
	if (p && p->remote)
		return -EOPNOTSUPP;
	post_input(&in, connection_id, message_type, payload, size);
	return cvmbus_hv_hypercall(p, vp, path, HVCALL_POST_MESSAGE, &in, sizeof(in), NULL, 0,
				   status);
}

int cvmbus_hv_signal_event(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
			   uint32_t connection_id, uint16_t flag_number, uint16_t *status)
{
	struct hv_input_signal_event in = {
		.connection_id = connection_id,
		.flag_number = flag_number,
	};

	return cvmbus_hv_hypercall(p, vp, path, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, &in,
				   sizeof(in), NULL, 0, status);
}

/* The paravisor's or the host's own hypercall. */
static int party_hypercall(struct cvmbus_platform *p, enum cvmbus_mem_party from, uint32_t vp,
			   uint64_t control, const void *in, size_t in_len, uint16_t *status)
{
	if (!p || vp >= p->cfg.vcpus || !status)
		return -EINVAL;
	if (from == CVMBUS_MEM_PARTY_PARAVISOR) {
		if (!p->vcpu[vp].para_hv.present)
			return -EINVAL;
		return carrier_call(p, &p->vcpu[vp].para_hv, vp, control, in, in_len, NULL, 0,
				    status);
	}
	if (from == CVMBUS_MEM_PARTY_HOST) {
		/* The root partition's hypercalls use its own memory: nothing
		 * of the guest partition carries them. */
		struct hw_origin o = { CVMBUS_MEM_PARTY_HOST, vp, CVMBUS_PATH_NONE, false, NULL };
		uint8_t buf[PAGE], outb[16];
		size_t olen;

		if (in_len > PAGE)
			return -EINVAL;
		memset(buf, 0, sizeof(buf));
		memcpy(buf, in, in_len);
		*status = hw_hypercall(p, &o, control, buf, sizeof(buf), outb, 0, &olen);
		return 0;
	}
	return -EINVAL;
}

int cvmbus_hv_post_message_from(struct cvmbus_platform *p, enum cvmbus_mem_party from,
				uint32_t vp, uint32_t connection_id, uint32_t message_type,
				const void *payload, uint32_t size, uint16_t *status)
{
	struct hv_input_post_message in;

	if (size && !payload)
		return -EINVAL;
	if (p && p->remote)
		return from == CVMBUS_MEM_PARTY_HOST ? hw_remote_post_from(p, vp, connection_id,
									   message_type, payload,
									   size, status)
						     : -EPERM;
	post_input(&in, connection_id, message_type, payload, size);
	return party_hypercall(p, from, vp, HVCALL_POST_MESSAGE, &in, sizeof(in), status);
}

int cvmbus_hv_signal_event_from(struct cvmbus_platform *p, enum cvmbus_mem_party from,
				uint32_t vp, uint32_t connection_id, uint16_t flag_number,
				uint16_t *status)
{
	struct hv_input_signal_event in = {
		.connection_id = connection_id,
		.flag_number = flag_number,
	};

	if (p && p->remote)
		return from == CVMBUS_MEM_PARTY_HOST
			       ? hw_remote_signal_from(p, vp, connection_id, flag_number, status)
			       : -EPERM;
	return party_hypercall(p, from, vp, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, &in,
			       sizeof(in), status);
}
