/* SPDX-License-Identifier: MIT */
/*
 * The synthetic interrupt controller (src/hw), one instance per SynIC owner:
 * the hypervisor's (untrusted: it writes its message and event pages through
 * the HOST view, so those pages must be host-visible or the write fails) and,
 * with a paravisor, the paravisor's (trusted: it writes through the
 * PARAVISOR view into the guest's private pages). Per vCPU it holds
 * SCONTROL, SIMP, SIEFP and SINT0-15, delivers messages into the 16 x 256
 * byte slots of the SIMP page, queues a message whose slot is busy (setting
 * the slot's pending flag so the guest writes EOM) or whose SINT is masked,
 * re-delivers on EOM, sets event flags atomically in the SIEFP page, and
 * decides whether a SINT interrupt is raised now, held (masked, SynIC
 * disabled) or not at all (polling). A proxied paravisor SINT hands its
 * messages and events to the hypervisor's SynIC. Every decision is traced.
 *
 * Shared-memory protocol of a slot (the guest side is cvmbus_simp_slot_read
 * and cvmbus_simp_slot_release in platform.h):
 *   deliver: acquire-load type == NONE, fill payload and header, then
 *            release-store the type (pairs with the guest's acquire load);
 *   busy:    seq_cst fetch_or of the pending flag, then seq_cst re-load of
 *            the type. The guest stores NONE then loads the flag, both
 *            seq_cst: at least one side sees the other's store, so either
 *            the guest writes EOM or we see the free slot and deliver.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/platform_internal.h"

#define SINT_RESERVED_MASK (0xFF00ull | ~((1ull << 21) - 1))
#define PAGE_RESERVED_MASK 0xFFEull
/* Vectors below 16 are the CPU's exceptions: refused unless masked. */
#define SINT_MIN_VECTOR 16u

/* ---- message queues ------------------------------------------------------------- */

int hw_msgq_init(struct hw_msgq *q, uint32_t cap)
{
	q->slots = calloc(cap, sizeof(*q->slots));
	if (!q->slots)
		return -ENOMEM;
	q->head = q->count = 0;
	q->cap = cap;
	return 0;
}

void hw_msgq_fini(struct hw_msgq *q)
{
	free(q->slots);
	q->slots = NULL;
	q->cap = q->count = 0;
}

struct hw_msg *hw_msgq_push(struct hw_msgq *q)
{
	if (q->count == q->cap)
		return NULL;
	return &q->slots[(q->head + q->count++) % q->cap];
}

struct hw_msg *hw_msgq_head(struct hw_msgq *q)
{
	return q->count ? &q->slots[q->head] : NULL;
}

void hw_msgq_pop(struct hw_msgq *q)
{
	if (!q->count)
		return;
	q->head = (q->head + 1) % q->cap;
	q->count--;
}

/* ---- helpers ------------------------------------------------------------------------ */

struct hw_synic *hw_synic_of(struct cvmbus_platform *p, enum cvmbus_synic_kind kind)
{
	if (kind == CVMBUS_SYNIC_HYPERVISOR)
		return p->hyp;
	if (kind == CVMBUS_SYNIC_PARAVISOR)
		return p->para;
	return NULL;
}

static enum cvmbus_mem_party synic_party(const struct hw_synic *s)
{
	return s->kind == CVMBUS_SYNIC_PARAVISOR ? CVMBUS_MEM_PARTY_PARAVISOR
						 : CVMBUS_MEM_PARTY_HYPERVISOR;
}

/* Only the paravisor's pages are private, and only isolation makes that
 * mean something to the host. */
static bool synic_trusted(const struct hw_synic *s)
{
	return s->kind == CVMBUS_SYNIC_PARAVISOR && hw_isolated(s->plat);
}

static void trace_base(const struct hw_synic *s, struct cvmbus_trace_event *ev,
		       enum cvmbus_trace_kind kind, unsigned int from, uint32_t vp, uint32_t sint)
{
	cvmbus_trace_event_init(ev, kind);
	ev->vp = vp;
	ev->from = from;
	ev->to = CVMBUS_MEM_PARTY_GUEST;
	ev->synic = s->kind;
	ev->trusted = synic_trusted(s);
	ev->sint = sint;
}

static void trace_msg(const struct hw_synic *s, enum cvmbus_trace_kind kind,
		      const struct hw_msg *m, uint32_t vp, uint32_t sint, const char *note, int err)
{
	struct cvmbus_trace_event ev;

	trace_base(s, &ev, kind, m->from, vp, sint);
	ev.message_type = m->message_type;
	ev.bytes = m->payload;
	ev.len = m->size;
	ev.note = note;
	ev.err = err;
	cvmbus_trace_emit(s->plat->trace, &ev);
}

/*
 * The page a SIMP or SIEFP value names, as this SynIC's owner reaches it.
 * The value may carry the shared-GPA boundary (what a supplied page reads
 * as, and what Linux masks off): both forms name the same GPA.
 */
static int synic_page(struct hw_synic *s, uint64_t reg, void **out)
{
	struct cvmbus_platform *p = s->plat;
	uint64_t gpa = (reg & HV_SYNIC_PAGE_BASE_MASK) & ~p->boundary;
	uint64_t base, bytes;

	if (s->kind == CVMBUS_SYNIC_HYPERVISOR)
		/* Untrusted: the host's window only, by shared alias. A private
		 * page fails here (and counts as a host fault). */
		return cvmbus_mem_host_ptr(p->host, cvmbus_mem_gpa_to_alias(p->mem, gpa),
					   HV_PAGE_SIZE, out);
	/* The paravisor may write anywhere, but a guest naming VTL2 memory
	 * as its SynIC page is refused rather than obeyed. */
	if (cvmbus_mem_region(p->mem, CVMBUS_MEM_REGION_VTL0, &base, &bytes) ||
	    gpa < base || gpa >= base + bytes)
		return -EFAULT;
	return cvmbus_mem_ptr(p->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, HV_PAGE_SIZE, out);
}

static bool slot_free(struct hv_message *slot)
{
	return atomic_load_explicit((_Atomic uint32_t *)&slot->header.message_type,
				    memory_order_acquire) == HVMSG_NONE;
}

static void slot_fill(struct hv_message *slot, const struct hw_msg *m, bool more)
{
	memcpy(slot->payload, m->payload, m->size);
	/* No bytes of an earlier message linger after this one. */
	memset(slot->payload + m->size, 0, HV_MESSAGE_PAYLOAD_SIZE - m->size);
	slot->header.payload_size = (uint8_t)m->size;
	slot->header.reserved[0] = 0;
	slot->header.reserved[1] = 0;
	slot->header.port_id = m->port_id;
	atomic_store_explicit((_Atomic uint8_t *)&slot->header.message_flags,
			      more ? HV_MESSAGE_FLAG_PENDING : 0, memory_order_relaxed);
	/* Release: pairs with the acquire load in cvmbus_simp_slot_read(); a
	 * guest that sees the type sees the whole message. */
	atomic_store_explicit((_Atomic uint32_t *)&slot->header.message_type, m->message_type,
			      memory_order_release);
}

/* Busy slot: ask for an EOM, then look again (see the file comment).
 * True if the slot turned out free after all. */
static bool slot_set_pending(struct hv_message *slot)
{
	atomic_fetch_or((_Atomic uint8_t *)&slot->header.message_flags, HV_MESSAGE_FLAG_PENDING);
	return atomic_load((_Atomic uint32_t *)&slot->header.message_type) == HVMSG_NONE;
}

/* Interrupts reach VTL0 through the paravisor when there is one, so the
 * hypervisor's SINTs are live if either SynIC is enabled (Linux enables
 * only the paravisor's SCONTROL in confidential mode, yet still takes
 * hypervisor-SynIC events for relayed channels). */
static bool synic_enabled(const struct hw_synic *s, uint32_t vp)
{
	const struct cvmbus_platform *p = s->plat;

	if (atomic_load(&s->vp[vp].scontrol) & HV_SCONTROL_ENABLE)
		return true;
	return s->kind == CVMBUS_SYNIC_HYPERVISOR && p->para &&
	       (atomic_load(&p->para->vp[vp].scontrol) & HV_SCONTROL_ENABLE);
}

/* Lock held. Raise, hold or skip SINT sint's interrupt. */
static void synic_raise(struct hw_synic *s, unsigned int from, uint32_t vp, uint32_t sint)
{
	struct hw_synic_vp *v = &s->vp[vp];
	uint64_t r = v->sint[sint];
	struct cvmbus_trace_event ev;
	bool raise = false;

	trace_base(s, &ev, CVMBUS_TRACE_INTERRUPT, from, vp, sint);
	ev.vector = (uint32_t)(r & HV_SINT_VECTOR_MASK);
	if (r & HV_SINT_POLLING) {
		/* The guest polls this SINT: nothing is owed. */
		v->irq_held &= ~(1u << sint);
		ev.note = "polling: not raised";
	} else if (r & HV_SINT_MASKED) {
		v->irq_held |= 1u << sint;
		ev.note = "held: masked";
	} else if (!synic_enabled(s, vp)) {
		v->irq_held |= 1u << sint;
		ev.note = "held: synic disabled";
	} else {
		v->irq_held &= ~(1u << sint);
		ev.note = "raised";
		raise = true;
	}
	/* Trace before ringing, so the handler's own events come after. */
	cvmbus_trace_emit(s->plat->trace, &ev);
	if (raise)
		hw_vcpu_raise(s->plat, vp, s->kind, sint, ev.vector, r & HV_SINT_AUTO_EOI);
}

static void synic_release_held(struct hw_synic *s, uint32_t vp)
{
	uint32_t held = s->vp[vp].irq_held;

	for (uint32_t sint = 0; sint < HV_SYNIC_SINT_COUNT; sint++)
		if (held & (1u << sint))
			synic_raise(s, synic_party(s), vp, sint);
}

/* Lock held. Deliver the head of SINT sint's queue if its slot is free;
 * drop heads that cannot be written at all. */
static void synic_pump(struct hw_synic *s, uint32_t vp, uint32_t sint)
{
	struct hw_synic_vp *v = &s->vp[vp];
	struct hw_msgq *q = &v->q[sint];
	struct hv_message_page *page;
	struct hw_msg *m;
	int rc;

	while ((m = hw_msgq_head(q))) {
		struct hv_message *slot;
		unsigned int from = m->from;

		if (v->sint[sint] & HV_SINT_MASKED)
			return;
		rc = synic_page(s, v->simp, (void **)&page);
		if (rc) {
			trace_msg(s, CVMBUS_TRACE_DROP, m, vp, sint, "simp page not reachable", rc);
			hw_msgq_pop(q);
			continue;
		}
		slot = &page->sint_message[sint];
		if (slot_free(slot)) {
			trace_msg(s, CVMBUS_TRACE_DELIVER, m, vp, sint, "redelivered", 0);
			slot_fill(slot, m, q->count > 1);
			hw_msgq_pop(q);
			synic_raise(s, from, vp, sint);
			return;
		}
		if (!slot_set_pending(slot))
			return;
	}
}

static void synic_drop_all(struct hw_synic *s, uint32_t vp, const char *note)
{
	for (uint32_t sint = 0; sint < HV_SYNIC_SINT_COUNT; sint++) {
		struct hw_msgq *q = &s->vp[vp].q[sint];
		struct hw_msg *m;

		while ((m = hw_msgq_head(q))) {
			trace_msg(s, CVMBUS_TRACE_DROP, m, vp, sint, note, -ENODEV);
			hw_msgq_pop(q);
		}
	}
}

/* ---- create / destroy ------------------------------------------------------------- */

int hw_synic_create(struct cvmbus_platform *p, enum cvmbus_synic_kind kind,
		    struct hw_synic **out)
{
	struct hw_synic *s;
	int rc = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->plat = p;
	s->kind = kind;
	s->nvp = p->cfg.vcpus;
	cvmbus_mutex_init(&s->lock, p->exec,
			  kind == CVMBUS_SYNIC_PARAVISOR ? "synic-paravisor" : "synic-hypervisor");
	s->vp = calloc(s->nvp, sizeof(*s->vp));
	if (!s->vp)
		goto fail;
	for (uint32_t vp = 0; vp < s->nvp; vp++) {
		struct hw_synic_vp *v = &s->vp[vp];

		atomic_init(&v->scontrol, 0);
		for (uint32_t i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
			v->sint[i] = HV_SINT_RESET_VALUE;
			rc = hw_msgq_init(&v->q[i], p->cfg.sint_queue_depth);
			if (rc)
				goto fail;
		}
	}
	*out = s;
	return 0;

fail:
	hw_synic_destroy(s);
	return rc;
}

void hw_synic_destroy(struct hw_synic *s)
{
	if (!s)
		return;
	for (uint32_t vp = 0; s->vp && vp < s->nvp; vp++)
		for (uint32_t i = 0; i < HV_SYNIC_SINT_COUNT; i++)
			hw_msgq_fini(&s->vp[vp].q[i]);
	free(s->vp);
	free(s->sup_simp);
	free(s->sup_siefp);
	cvmbus_mutex_destroy(&s->lock);
	free(s);
}

/*
 * Behind a paravisor the guest does not choose the hypervisor SynIC's pages:
 * the paravisor supplies them, host-visible, and the guest finds them in SIMP
 * and SIEFP (with the shared-GPA boundary set; Linux masks it off). They
 * come out of VTL0 RAM so that the guest's view can map them as it maps any
 * shared page; they are enabled from the start because on a partition
 * without GHCB or tdcall the guest has no way to write these registers.
 */
int hw_synic_supply_pages(struct hw_synic *s)
{
	struct cvmbus_platform *p = s->plat;
	static const uint8_t zero[HV_PAGE_SIZE];
	uint64_t gpa;
	int rc;

	s->sup_simp = calloc(s->nvp, sizeof(uint64_t));
	s->sup_siefp = calloc(s->nvp, sizeof(uint64_t));
	if (!s->sup_simp || !s->sup_siefp)
		return -ENOMEM;
	for (uint32_t vp = 0; vp < s->nvp; vp++) {
		rc = cvmbus_mem_alloc(p->mem, CVMBUS_MEM_REGION_VTL0, 2, &gpa);
		if (rc)
			return rc;
		rc = cvmbus_platform_set_visibility(p, CVMBUS_MEM_PARTY_PARAVISOR, gpa, 2, true,
						    "synic-hypervisor");
		if (rc)
			return rc;
		/* Without isolation the transition is a retag and keeps old
		 * contents: start from zeroed pages either way. */
		for (uint64_t i = 0; i < 2; i++) {
			rc = cvmbus_mem_host_write(p->host,
						   cvmbus_mem_gpa_to_alias(p->mem, gpa + i * HV_PAGE_SIZE),
						   zero, sizeof(zero));
			if (rc)
				return rc;
		}
		s->sup_simp[vp] = gpa;
		s->sup_siefp[vp] = gpa + HV_PAGE_SIZE;
		s->vp[vp].simp = cvmbus_mem_gpa_to_alias(p->mem, gpa) | HV_SYNIC_PAGE_ENABLE;
		s->vp[vp].siefp = cvmbus_mem_gpa_to_alias(p->mem, gpa + HV_PAGE_SIZE) |
				  HV_SYNIC_PAGE_ENABLE;
	}
	s->supplied = true;
	return 0;
}

/* ---- registers ----------------------------------------------------------------------- */

int hw_synic_validate(enum hw_reg reg, uint64_t value)
{
	switch (reg) {
	case HW_REG_SCONTROL:
		return (value & ~HV_SCONTROL_ENABLE) ? -EINVAL : 0;
	case HW_REG_SVERSION:
		return -EINVAL; /* read-only */
	case HW_REG_SIMP:
	case HW_REG_SIEFP:
		return (value & PAGE_RESERVED_MASK) ? -EINVAL : 0;
	case HW_REG_EOM:
	case HW_REG_SIRBP:
		return 0;
	default:
		if (reg < HW_REG_SINT0 || reg > HW_REG_SINT15)
			return -EINVAL;
		if (value & SINT_RESERVED_MASK)
			return -EINVAL;
		if (!(value & HV_SINT_MASKED) && (value & HV_SINT_VECTOR_MASK) < SINT_MIN_VECTOR)
			return -EINVAL;
		return 0;
	}
}

int hw_synic_read(struct hw_synic *s, uint32_t vp, enum hw_reg reg, uint64_t *value)
{
	struct hw_synic_vp *v;
	int rc = 0;

	if (!s || vp >= s->nvp || !value)
		return -EINVAL;
	v = &s->vp[vp];
	cvmbus_mutex_lock(&s->lock);
	switch (reg) {
	case HW_REG_SCONTROL:
		*value = atomic_load(&v->scontrol);
		break;
	case HW_REG_SVERSION:
		*value = HV_SYNIC_VERSION;
		break;
	case HW_REG_SIMP:
		*value = v->simp;
		break;
	case HW_REG_SIEFP:
		*value = v->siefp;
		break;
	case HW_REG_EOM:
	case HW_REG_SIRBP:
		/* EOM is write-only (reads as zero); SIRBP is not modelled. */
		*value = 0;
		break;
	default:
		if (reg >= HW_REG_SINT0 && reg <= HW_REG_SINT15)
			*value = v->sint[reg - HW_REG_SINT0];
		else
			rc = -EINVAL;
		break;
	}
	cvmbus_mutex_unlock(&s->lock);
	return rc;
}

/* Lock held. Re-evaluate every SINT with queued messages, as Hyper-V does
 * on EOM. Returns whether anything was waiting. */
static bool synic_eom_locked(struct hw_synic *s, uint32_t vp)
{
	bool any = false;

	for (uint32_t sint = 0; sint < HV_SYNIC_SINT_COUNT; sint++) {
		if (!s->vp[vp].q[sint].count)
			continue;
		any = true;
		synic_pump(s, vp, sint);
	}
	return any;
}

static void synic_eom(struct hw_synic *s, const struct hw_origin *o, uint32_t vp,
		      const char *forwarded)
{
	struct cvmbus_trace_event ev;
	bool any;

	cvmbus_mutex_lock(&s->lock);
	any = false;
	for (uint32_t sint = 0; sint < HV_SYNIC_SINT_COUNT; sint++)
		any |= s->vp[vp].q[sint].count != 0;
	if (forwarded && !any) {
		/* Nothing for the hypervisor: keep the trace quiet. */
		cvmbus_mutex_unlock(&s->lock);
		return;
	}
	trace_base(s, &ev, CVMBUS_TRACE_EOM, o->party, vp, CVMBUS_TRACE_NO_SINT);
	ev.to = synic_party(s);
	ev.path = o->path;
	ev.trusted = o->trusted;
	ev.note = forwarded ? forwarded : any ? "redeliver" : "nothing pending";
	cvmbus_trace_emit(s->plat->trace, &ev);
	if (any)
		synic_eom_locked(s, vp);
	cvmbus_mutex_unlock(&s->lock);
}

static int synic_write_page_reg(struct hw_synic *s, uint32_t vp, enum hw_reg reg,
				uint64_t value)
{
	struct hw_synic_vp *v = &s->vp[vp];
	uint64_t *slot = reg == HW_REG_SIMP ? &v->simp : &v->siefp;
	uint64_t old;

	cvmbus_mutex_lock(&s->lock);
	old = *slot;
	if (s->supplied)
		/* Supplied pages stay where they are; only enable moves. */
		value = (old & ~HV_SYNIC_PAGE_ENABLE) | (value & HV_SYNIC_PAGE_ENABLE);
	/* Disabling the message page with messages still queued: drop them,
	 * as Hyper-V does (OpenVMM issue #2276 settled on the same). */
	if (reg == HW_REG_SIMP && (old & HV_SYNIC_PAGE_ENABLE) && !(value & HV_SYNIC_PAGE_ENABLE))
		synic_drop_all(s, vp, "simp disabled");
	*slot = value;
	cvmbus_mutex_unlock(&s->lock);
	return 0;
}

static int synic_write_sint(struct hw_synic *s, const struct hw_origin *o, uint32_t vp,
			    uint32_t sint, uint64_t value)
{
	struct hw_synic_vp *v = &s->vp[vp];
	uint64_t old;

	cvmbus_mutex_lock(&s->lock);
	old = v->sint[sint];
	v->sint[sint] = value;
	if ((old & HV_SINT_MASKED) && !(value & HV_SINT_MASKED)) {
		/* Unmasked: what the mask held back goes now. */
		synic_pump(s, vp, sint);
		if (v->irq_held & (1u << sint))
			synic_raise(s, synic_party(s), vp, sint);
	}
	cvmbus_mutex_unlock(&s->lock);

	if (s->kind == CVMBUS_SYNIC_PARAVISOR && (value & HV_SINT_PROXY) && s->plat->hyp) {
		/* A proxied SINT is the hypervisor's to deliver: the paravisor
		 * programs the hypervisor's copy (without the proxy bit) over
		 * its own path, and that write is traced as the paravisor's. */
		struct hw_origin po = {
			.party = CVMBUS_MEM_PARTY_PARAVISOR,
			.vp = vp,
			.path = hw_party_hv_path(s->plat, CVMBUS_MEM_PARTY_PARAVISOR),
			.trusted = false,
		};
		uint64_t hv_value = value & ~HV_SINT_PROXY;
		enum hw_reg r = (enum hw_reg)(HW_REG_SINT0 + (int)sint);
		uint32_t number = s->plat->cfg.arch == CVMBUS_ARCH_ARM64
					  ? HV_REGISTER_SINT0 + sint
					  : HV_X64_MSR_SINT0 + sint;

		(void)o;
		return hw_reg_access(s->plat, &po, CVMBUS_SYNIC_HYPERVISOR, number, r, true,
				     &hv_value);
	}
	return 0;
}

int hw_synic_write(struct hw_synic *s, const struct hw_origin *o, uint32_t vp,
		   enum hw_reg reg, uint64_t value)
{
	struct cvmbus_platform *p;
	uint64_t old;

	if (!s || !o || vp >= s->nvp)
		return -EINVAL;
	if (hw_synic_validate(reg, value))
		return -EINVAL;
	p = s->plat;
	switch (reg) {
	case HW_REG_SCONTROL:
		cvmbus_mutex_lock(&s->lock);
		old = atomic_exchange(&s->vp[vp].scontrol, value);
		if (!(old & HV_SCONTROL_ENABLE) && (value & HV_SCONTROL_ENABLE))
			synic_release_held(s, vp);
		cvmbus_mutex_unlock(&s->lock);
		/* The paravisor's SCONTROL also gates the hypervisor's SINTs
		 * (synic_enabled()): release what they held. */
		if (s->kind == CVMBUS_SYNIC_PARAVISOR && p->hyp && (value & HV_SCONTROL_ENABLE) &&
		    !(old & HV_SCONTROL_ENABLE)) {
			cvmbus_mutex_lock(&p->hyp->lock);
			synic_release_held(p->hyp, vp);
			cvmbus_mutex_unlock(&p->hyp->lock);
		}
		return 0;
	case HW_REG_SIMP:
	case HW_REG_SIEFP:
		return synic_write_page_reg(s, vp, reg, value);
	case HW_REG_EOM:
		synic_eom(s, o, vp, NULL);
		/* Linux in confidential mode writes EOM to the paravisor only,
		 * even for a message taken from the hypervisor's page: the
		 * paravisor passes it on so nothing stays queued there. */
		if (s->kind == CVMBUS_SYNIC_PARAVISOR && p->hyp)
			synic_eom(p->hyp, o, vp, "forwarded by paravisor");
		return 0;
	case HW_REG_SIRBP:
		return 0; /* not modelled: writes are ignored */
	default:
		if (reg >= HW_REG_SINT0 && reg <= HW_REG_SINT15)
			return synic_write_sint(s, o, vp, (uint32_t)(reg - HW_REG_SINT0), value);
		return -EINVAL;
	}
}

/* ---- messages and events ---------------------------------------------------------------- */

int hw_synic_post(struct hw_synic *s, enum cvmbus_mem_party from, uint32_t vp,
		  uint32_t sint, uint32_t message_type, const void *payload, uint32_t size,
		  uint64_t port_id)
{
	struct hv_message_page *page;
	struct hw_synic_vp *v;
	struct hv_message *slot;
	struct hw_msgq *q;
	struct hw_msg m, *qm;
	int rc;

	if (!s || vp >= s->nvp || sint >= HV_SYNIC_SINT_COUNT ||
	    size > HV_MESSAGE_PAYLOAD_SIZE || (size && !payload) || message_type == HVMSG_NONE)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.message_type = message_type;
	m.size = size;
	m.port_id = port_id;
	m.from = from;
	if (size)
		memcpy(m.payload, payload, size);

	v = &s->vp[vp];
	q = &v->q[sint];
	cvmbus_mutex_lock(&s->lock);
	if (s->kind == CVMBUS_SYNIC_PARAVISOR && (v->sint[sint] & HV_SINT_PROXY) &&
	    s->plat->hyp) {
		/* Proxied: this SINT is the hypervisor's to deliver. */
		cvmbus_mutex_unlock(&s->lock);
		return hw_synic_post(s->plat->hyp, from, vp, sint, message_type, payload, size,
				     port_id);
	}
	if (!(v->simp & HV_SYNIC_PAGE_ENABLE)) {
		trace_msg(s, CVMBUS_TRACE_DROP, &m, vp, sint, "simp disabled", -ENODEV);
		rc = -ENODEV;
		goto out;
	}
	if (q->count == q->cap) {
		trace_msg(s, CVMBUS_TRACE_DROP, &m, vp, sint, "sint queue full", -ENOSPC);
		rc = -ENOSPC;
		goto out;
	}
	rc = 0;
	if (q->count || (v->sint[sint] & HV_SINT_MASKED)) {
		/* Order is kept: nothing overtakes what is already queued. */
		qm = hw_msgq_push(q);
		*qm = m;
		trace_msg(s, CVMBUS_TRACE_QUEUE, &m, vp, sint,
			  (v->sint[sint] & HV_SINT_MASKED) ? "sint masked" : "behind queued messages",
			  0);
		synic_pump(s, vp, sint);
		goto out;
	}
	rc = synic_page(s, v->simp, (void **)&page);
	if (rc) {
		trace_msg(s, CVMBUS_TRACE_DROP, &m, vp, sint, "simp page not reachable", rc);
		rc = -EFAULT;
		goto out;
	}
	slot = &page->sint_message[sint];
	if (slot_free(slot)) {
		trace_msg(s, CVMBUS_TRACE_DELIVER, &m, vp, sint,
			  s->kind == CVMBUS_SYNIC_HYPERVISOR && from == CVMBUS_MEM_PARTY_PARAVISOR
				  ? "proxied"
				  : NULL,
			  0);
		slot_fill(slot, &m, false);
		synic_raise(s, from, vp, sint);
		goto out;
	}
	qm = hw_msgq_push(q);
	*qm = m;
	trace_msg(s, CVMBUS_TRACE_QUEUE, &m, vp, sint, "slot busy", 0);
	if (slot_set_pending(slot))
		synic_pump(s, vp, sint);
out:
	cvmbus_mutex_unlock(&s->lock);
	return rc;
}

int hw_synic_signal(struct hw_synic *s, enum cvmbus_mem_party from, uint32_t vp,
		    uint32_t sint, uint32_t flag)
{
	struct cvmbus_trace_event ev;
	struct hv_event_flags_page *page;
	struct hw_synic_vp *v;
	_Atomic uint64_t *word;
	uint64_t bit, old;
	int rc;

	if (!s || vp >= s->nvp || sint >= HV_SYNIC_SINT_COUNT || flag >= HV_EVENT_FLAGS_COUNT)
		return -EINVAL;
	v = &s->vp[vp];
	cvmbus_mutex_lock(&s->lock);
	if (s->kind == CVMBUS_SYNIC_PARAVISOR && (v->sint[sint] & HV_SINT_PROXY) &&
	    s->plat->hyp) {
		cvmbus_mutex_unlock(&s->lock);
		return hw_synic_signal(s->plat->hyp, from, vp, sint, flag);
	}
	trace_base(s, &ev, CVMBUS_TRACE_EVENT, from, vp, sint);
	ev.flag = flag;
	if (!(v->siefp & HV_SYNIC_PAGE_ENABLE)) {
		ev.err = rc = -ENODEV;
		ev.note = "siefp disabled";
		cvmbus_trace_emit(s->plat->trace, &ev);
		goto out;
	}
	rc = synic_page(s, v->siefp, (void **)&page);
	if (rc) {
		ev.err = rc = -EFAULT;
		ev.note = "siefp page not reachable";
		cvmbus_trace_emit(s->plat->trace, &ev);
		goto out;
	}
	word = (_Atomic uint64_t *)&page->sint_flags[sint].flags[flag / 64u];
	bit = 1ull << (flag % 64u);
	/* seq_cst: the guest's test-and-clear is an atomic RMW on the same
	 * word, so no set can be lost between its load and its store; and
	 * whatever the signaller wrote before (ring data) is visible to a
	 * guest that sees the bit. */
	old = atomic_fetch_or(word, bit);
	if (old & bit) {
		/* Already set: the guest has not looked yet, and the interrupt
		 * that set it is still owed; nothing more to raise. */
		ev.note = "already set";
		cvmbus_trace_emit(s->plat->trace, &ev);
		rc = 0;
		goto out;
	}
	cvmbus_trace_emit(s->plat->trace, &ev);
	synic_raise(s, from, vp, sint);
	rc = 1;
out:
	cvmbus_mutex_unlock(&s->lock);
	return rc;
}

/* ---- public -------------------------------------------------------------------------------- */

static enum cvmbus_mem_party synic_sender(enum cvmbus_synic_kind synic)
{
	/* The host reaches the guest through the hypervisor's SynIC; the
	 * paravisor through its own. */
	return synic == CVMBUS_SYNIC_PARAVISOR ? CVMBUS_MEM_PARTY_PARAVISOR
					       : CVMBUS_MEM_PARTY_HOST;
}

int cvmbus_synic_post(struct cvmbus_platform *p, enum cvmbus_synic_kind synic, uint32_t vp,
		      uint32_t sint, uint32_t message_type, const void *payload, uint32_t size)
{
	struct hw_synic *s;

	/* The host's process: only the hypervisor's SynIC is there to reach. */
	if (p && p->remote)
		return synic == CVMBUS_SYNIC_HYPERVISOR
			       ? hw_remote_synic_post(p, vp, sint, message_type, payload, size)
			       : -EPERM;
	s = p ? hw_synic_of(p, synic) : NULL;

	if (!s)
		return -EINVAL;
	return hw_synic_post(s, synic_sender(synic), vp, sint, message_type, payload, size,
			     message_type == HVMSG_VMBUS ? VMBUS_MESSAGE_PORT_ID : 0);
}

int cvmbus_synic_signal(struct cvmbus_platform *p, enum cvmbus_synic_kind synic, uint32_t vp,
			uint32_t sint, uint32_t flag)
{
	struct hw_synic *s;

	if (p && p->remote)
		return synic == CVMBUS_SYNIC_HYPERVISOR ? hw_remote_synic_signal(p, vp, sint, flag)
							: -EPERM;
	s = p ? hw_synic_of(p, synic) : NULL;

	if (!s)
		return -EINVAL;
	return hw_synic_signal(s, synic_sender(synic), vp, sint, flag);
}

int cvmbus_synic_peek(struct cvmbus_platform *p, enum cvmbus_synic_kind synic, uint32_t vp,
		      uint32_t reg, uint64_t *value)
{
	struct hw_synic *s = p ? hw_synic_of(p, synic) : NULL;

	if (!s)
		return -EINVAL;
	return hw_synic_read(s, vp, hw_reg_from_msr(reg), value);
}

unsigned int cvmbus_synic_queued(struct cvmbus_platform *p, enum cvmbus_synic_kind synic,
				 uint32_t vp, uint32_t sint)
{
	struct hw_synic *s = p ? hw_synic_of(p, synic) : NULL;
	unsigned int n;

	if (!s || vp >= s->nvp || sint >= HV_SYNIC_SINT_COUNT)
		return 0;
	cvmbus_mutex_lock(&s->lock);
	n = s->vp[vp].q[sint].count;
	cvmbus_mutex_unlock(&s->lock);
	return n;
}

int cvmbus_synic_supplied_pages(struct cvmbus_platform *p, uint32_t vp, uint64_t *simp_gpa,
				uint64_t *siefp_gpa)
{
	if (!p || !p->hyp || vp >= p->cfg.vcpus)
		return -EINVAL;
	if (!p->hyp->supplied)
		return -ENOENT;
	if (simp_gpa)
		*simp_gpa = p->hyp->sup_simp[vp];
	if (siefp_gpa)
		*siefp_gpa = p->hyp->sup_siefp[vp];
	return 0;
}
