/* SPDX-License-Identifier: MIT */
/*
 * The guest's SynICs and its SINT2 interrupt handler (src/client, the glue
 * between the pure client and the platform model): what Linux's hv.c
 * (hv_synic_alloc/init/cleanup with the Confidential VMBus series) and
 * vmbus_drv.c (vmbus_isr, vmbus_signal_eom) do. Per vCPU, on that vCPU:
 *
 *   confidential   paravisor SIMP/SIEFP point at guest pages that stay
 *                  PRIVATE, programmed by direct MSR (the paravisor trap);
 *                  SINT2 on the paravisor without the proxy bit; SCONTROL
 *                  enabled on the paravisor only;
 *   with paravisor the hypervisor's pages are supplied (read from SIMP and
 *                  SIEFP with the shared-GPA boundary masked off); SINT2 is
 *                  written to both SynICs, the paravisor's with proxy = 1
 *                  when the connection is not confidential;
 *   no paravisor   the guest allocates the hypervisor's pages and makes
 *                  them host-visible (reasons "synic-message",
 *                  "synic-event") under isolation; registers go through the
 *                  platform's hypervisor path (MSR, GHCB, tdcall, hvc).
 *
 * The handler scans the hypervisor's event page then the paravisor's (SINT2
 * area, one bit per relid), then the hypervisor's message slot 2 then the
 * paravisor's; each message is copied out, its slot released, EOM written
 * when the pending flag says so (to the paravisor when the connection is
 * confidential, even for the hypervisor's page, as the merged series does),
 * and the copy queued for the control thread. It never calls the client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>

#include "client/guest_internal.h"

uint32_t client_guest_reg(const struct cvmbus_guest *g, enum guest_reg r)
{
	bool arm = g->arch == CVMBUS_ARCH_ARM64;

	/* arm64 has no MSRs: the same registers travel by name in
	 * HvCallGet/SetVpRegisters, on whichever path. */
	switch (r) {
	case GUEST_REG_SCONTROL:
		return arm ? HV_REGISTER_SCONTROL : HV_X64_MSR_SCONTROL;
	case GUEST_REG_SIMP:
		return arm ? HV_REGISTER_SIMP : HV_X64_MSR_SIMP;
	case GUEST_REG_SIEFP:
		return arm ? HV_REGISTER_SIEFP : HV_X64_MSR_SIEFP;
	case GUEST_REG_EOM:
		return arm ? HV_REGISTER_EOM : HV_X64_MSR_EOM;
	case GUEST_REG_SINT2:
	default:
		return (arm ? HV_REGISTER_SINT0 : HV_X64_MSR_SINT0) + VMBUS_MESSAGE_SINT;
	}
}

/* Where EOM goes in a mode. Confidential: the paravisor (Linux's
 * vmbus_signal_eom writes it there whichever page the message came from;
 * the paravisor passes it on). Otherwise the hypervisor, over its path; a
 * partition with a paravisor but no GHCB/tdcall has no such path, and its
 * plain wrmsr traps to the paravisor instead. */
static enum cvmbus_path guest_eom_path(const struct cvmbus_guest *g, bool confidential)
{
	if (g->paravisor && (confidential || g->hyp_reg_path == CVMBUS_PATH_NONE))
		return CVMBUS_PATH_PARAVISOR_TRAP;
	return g->hyp_reg_path;
}

static int guest_wr(struct cvmbus_guest *g, uint32_t vp, enum cvmbus_path path,
		    enum guest_reg r, uint64_t value)
{
	return cvmbus_reg_write(g->p, vp, path, client_guest_reg(g, r), value);
}

static int guest_rd(struct cvmbus_guest *g, uint32_t vp, enum cvmbus_path path,
		    enum guest_reg r, uint64_t *value)
{
	return cvmbus_reg_read(g->p, vp, path, client_guest_reg(g, r), value);
}

/* ---- setup -------------------------------------------------------------- */

struct synic_call {
	struct cvmbus_guest *g;
	uint32_t vp;
	bool confidential;
	int rc;
};

static int guest_zero_pages(struct cvmbus_guest *g, uint64_t gpa, uint64_t npages)
{
	static const uint8_t zero[GUEST_PAGE];
	int rc = 0;

	/* A fresh allocation keeps old contents, and a page made shared reads
	 * as zeros only under isolation: start from zeros either way, so that
	 * no stale slot looks like a message. */
	for (uint64_t i = 0; i < npages && !rc; i++)
		rc = cvmbus_mem_write(g->mem, CVMBUS_MEM_VIEW_GUEST, gpa + i * GUEST_PAGE, zero,
				      sizeof(zero));
	return rc;
}

static int guest_map_pages(struct cvmbus_guest *g, struct guest_vp *v,
			   enum cvmbus_client_path which, const struct cvmbus_guest_synic_side *side)
{
	void *msg, *evt;
	int rc;

	rc = cvmbus_mem_ptr(g->mem, CVMBUS_MEM_VIEW_GUEST, side->simp_gpa, GUEST_PAGE, &msg);
	if (!rc)
		rc = cvmbus_mem_ptr(g->mem, CVMBUS_MEM_VIEW_GUEST, side->siefp_gpa, GUEST_PAGE,
				    &evt);
	if (rc)
		return rc;
	/* Published on this vCPU's thread, where the handler runs: the
	 * handler sees the pages from its next interrupt on. */
	v->msg[which] = msg;
	v->evt[which] = evt;
	return 0;
}

static bool guest_private(struct cvmbus_guest *g, uint64_t gpa)
{
	return cvmbus_mem_page_state(g->mem, gpa) == CVMBUS_MEM_PAGE_PRIVATE;
}

/* The paravisor's pages of a confidential connection: guest RAM that stays
 * private (Linux: para pages allocated with decrypt = false), programmed by
 * a direct MSR write the paravisor intercepts. */
static int guest_para_pages(struct cvmbus_guest *g, struct guest_vp *v,
			    struct cvmbus_guest_synic_side *side)
{
	uint64_t gpa;
	int rc;

	rc = cvmbus_mem_alloc(g->mem, CVMBUS_MEM_REGION_VTL0, 2, &gpa);
	if (rc)
		return rc;
	v->para_alloc = true;
	v->para_alloc_gpa = gpa;
	rc = guest_zero_pages(g, gpa, 2);
	if (rc)
		return rc;
	side->simp_gpa = gpa;
	side->siefp_gpa = gpa + GUEST_PAGE;
	side->pages_why = "guest ram kept private: confidential vmbus, only the paravisor "
			  "writes them";
	rc = guest_wr(g, v->index, CVMBUS_PATH_PARAVISOR_TRAP, GUEST_REG_SIMP,
		      side->simp_gpa | HV_SYNIC_PAGE_ENABLE);
	if (!rc)
		rc = guest_wr(g, v->index, CVMBUS_PATH_PARAVISOR_TRAP, GUEST_REG_SIEFP,
			      side->siefp_gpa | HV_SYNIC_PAGE_ENABLE);
	if (rc)
		return rc;
	side->used = true;
	side->pages_private = guest_private(g, side->simp_gpa) && guest_private(g, side->siefp_gpa);
	return guest_map_pages(g, v, CVMBUS_CLIENT_PATH_PARAVISOR, side);
}

/* The hypervisor's pages: supplied behind a paravisor, the guest's own
 * (host-visible under isolation) without one. */
static int guest_hyp_pages(struct cvmbus_guest *g, struct guest_vp *v,
			   struct cvmbus_guest_synic_side *side)
{
	enum cvmbus_path path = g->hyp_reg_path;
	uint64_t simp, siefp, gpa;
	int rc;

	if (g->paravisor) {
		side->pages_supplied = true;
		if (path != CVMBUS_PATH_NONE) {
			/* hv_hyp_synic_enable_regs(): read the base, mask the
			 * vTOM bit off, write the register back enabled. */
			rc = guest_rd(g, v->index, path, GUEST_REG_SIMP, &simp);
			if (!rc)
				rc = guest_rd(g, v->index, path, GUEST_REG_SIEFP, &siefp);
			if (rc)
				return rc;
			side->simp_gpa = (simp & HV_SYNIC_PAGE_BASE_MASK) & ~g->boundary;
			side->siefp_gpa = (siefp & HV_SYNIC_PAGE_BASE_MASK) & ~g->boundary;
			rc = guest_wr(g, v->index, path, GUEST_REG_SIMP, simp | HV_SYNIC_PAGE_ENABLE);
			if (!rc)
				rc = guest_wr(g, v->index, path, GUEST_REG_SIEFP,
					      siefp | HV_SYNIC_PAGE_ENABLE);
			if (rc)
				return rc;
			side->pages_why = "supplied host-visible behind the paravisor: read from "
					  "simp/siefp, boundary masked off";
		} else {
			/* No path to the hypervisor's registers: the pages are
			 * supplied and already enabled. */
			rc = cvmbus_synic_supplied_pages(g->p, v->index, &side->simp_gpa,
							 &side->siefp_gpa);
			if (rc)
				return rc;
			side->pages_why = "supplied host-visible and enabled behind the paravisor: "
					  "its registers are out of reach";
		}
	} else {
		if (path == CVMBUS_PATH_NONE)
			return -EOPNOTSUPP;
		rc = cvmbus_mem_alloc(g->mem, CVMBUS_MEM_REGION_VTL0, 2, &gpa);
		if (rc)
			return rc;
		v->hyp_alloc = true;
		v->hyp_alloc_gpa = gpa;
		if (g->isolation != HV_ISOLATION_TYPE_NONE) {
			/* The hypervisor writes these pages through the host's
			 * window: they must be host-visible (coco.rst). */
			rc = cvmbus_platform_set_visibility(g->p, CVMBUS_MEM_PARTY_GUEST, gpa, 1, true,
							    "synic-message");
			if (!rc)
				v->hyp_alloc_shared = true;
			if (!rc)
				rc = cvmbus_platform_set_visibility(g->p, CVMBUS_MEM_PARTY_GUEST,
								    gpa + GUEST_PAGE, 1, true,
								    "synic-event");
			if (rc)
				return rc;
			side->pages_why = "guest ram made host-visible: the hypervisor writes them";
		} else {
			side->pages_why = "guest ram, no isolation: a plain page";
		}
		rc = guest_zero_pages(g, gpa, 2);
		if (rc)
			return rc;
		side->simp_gpa = gpa;
		side->siefp_gpa = gpa + GUEST_PAGE;
		rc = guest_wr(g, v->index, path, GUEST_REG_SIMP, gpa | HV_SYNIC_PAGE_ENABLE);
		if (!rc)
			rc = guest_wr(g, v->index, path, GUEST_REG_SIEFP,
				      (gpa + GUEST_PAGE) | HV_SYNIC_PAGE_ENABLE);
		if (rc)
			return rc;
	}
	side->used = true;
	side->pages_private = guest_private(g, side->simp_gpa) && guest_private(g, side->siefp_gpa);
	return guest_map_pages(g, v, CVMBUS_CLIENT_PATH_HYPERVISOR, side);
}

static void guest_teardown_vp(struct cvmbus_guest *g, struct guest_vp *v,
			      const struct cvmbus_guest_synic_report *rep);

static void guest_setup_on_vp(void *arg)
{
	struct synic_call *c = arg;
	struct cvmbus_guest *g = c->g;
	struct guest_vp *v = &g->vp[c->vp];
	struct cvmbus_guest_synic_report rep;
	uint64_t sint = g->vector | (g->auto_eoi ? HV_SINT_AUTO_EOI : 0);
	int rc = 0;

	memset(&rep, 0, sizeof(rep));
	rep.vp = c->vp;
	rep.confidential = c->confidential;
	rep.hypervisor.reg_path = g->hyp_reg_path;
	rep.paravisor.reg_path = g->paravisor ? CVMBUS_PATH_PARAVISOR_TRAP : CVMBUS_PATH_NONE;
	rep.eom_path = guest_eom_path(g, c->confidential);
	rep.eom_reg = client_guest_reg(g, GUEST_REG_EOM);
	rep.paravisor.pages_why = !g->paravisor ? "no paravisor"
				  : c->confidential
					  ? NULL
					  : "not confidential: only the proxied sint2 is used";

	/* hv_synic_init(): the paravisor's registers first when confidential. */
	if (g->paravisor && c->confidential) {
		rc = guest_para_pages(g, v, &rep.paravisor);
		if (rc)
			goto fail;
	}
	rc = guest_hyp_pages(g, v, &rep.hypervisor);
	if (rc)
		goto fail;

	/* SINT2, unmasked, to both SynICs when a paravisor is present. */
	if (g->hyp_reg_path != CVMBUS_PATH_NONE) {
		rc = guest_wr(g, v->index, g->hyp_reg_path, GUEST_REG_SINT2, sint);
		if (rc)
			goto fail;
		rep.hypervisor.sint2_written = true;
		rep.hypervisor.sint2 = sint;
	}
	if (g->paravisor) {
		/* The proxy bit hands the SINT to the hypervisor's SynIC: a
		 * confidential guest wants its paravisor messages in private
		 * pages, so it clears it (hv_para_set_sint_proxy). */
		uint64_t para = sint | (c->confidential ? 0 : HV_SINT_PROXY);

		rc = guest_wr(g, v->index, CVMBUS_PATH_PARAVISOR_TRAP, GUEST_REG_SINT2, para);
		if (rc)
			goto fail;
		rep.paravisor.sint2_written = true;
		rep.paravisor.sint2 = para;
	}

	/* SCONTROL: on the paravisor when confidential (Linux then leaves the
	 * hypervisor's off), else on the hypervisor, or through the trap when
	 * the hypervisor's registers are out of reach. */
	if (g->paravisor && (c->confidential || g->hyp_reg_path == CVMBUS_PATH_NONE)) {
		rc = guest_wr(g, v->index, CVMBUS_PATH_PARAVISOR_TRAP, GUEST_REG_SCONTROL,
			      HV_SCONTROL_ENABLE);
		if (rc)
			goto fail;
		rep.paravisor.scontrol_enabled = true;
	} else {
		rc = guest_wr(g, v->index, g->hyp_reg_path, GUEST_REG_SCONTROL, HV_SCONTROL_ENABLE);
		if (rc)
			goto fail;
		rep.hypervisor.scontrol_enabled = true;
	}

	cvmbus_mutex_lock(&g->info_lock);
	v->rep = rep;
	cvmbus_mutex_unlock(&g->info_lock);
	c->rc = 0;
	return;

fail:
	cvmbus_log_error("guest: synic setup on vp %u failed (%d)", c->vp, rc);
	guest_teardown_vp(g, v, &rep);
	c->rc = rc;
}

/* ---- teardown ----------------------------------------------------------- */

/* What hv_synic_cleanup() undoes, for whatever the report says was done:
 * SINT2 masked first (nothing new arrives), pages disabled, SCONTROL off,
 * then the pages freed; host-visible ones are made private first, and kept
 * out of the allocator if that fails (their state is unknown, as Linux
 * leaks a page whose re-encryption failed). */
static void guest_teardown_vp(struct cvmbus_guest *g, struct guest_vp *v,
			      const struct cvmbus_guest_synic_report *rep)
{
	uint64_t masked = g->vector | HV_SINT_MASKED | (g->auto_eoi ? HV_SINT_AUTO_EOI : 0);
	enum cvmbus_path hp = g->hyp_reg_path;
	uint32_t vp = v->index;

	if (rep->hypervisor.sint2_written)
		(void)guest_wr(g, vp, hp, GUEST_REG_SINT2, masked);
	if (rep->paravisor.sint2_written)
		(void)guest_wr(g, vp, CVMBUS_PATH_PARAVISOR_TRAP, GUEST_REG_SINT2, masked);

	/* The handler runs on this thread, so after these stores it cannot
	 * see a page we are about to give back. */
	for (int i = 0; i < CVMBUS_CLIENT_PATH_COUNT; i++) {
		v->msg[i] = NULL;
		v->evt[i] = NULL;
	}

	if (rep->hypervisor.used && hp != CVMBUS_PATH_NONE) {
		/* Our own pages: base and enable cleared. Supplied pages keep
		 * their base; only the enable bit moves. */
		uint64_t keep = rep->hypervisor.pages_supplied ? ~HV_SYNIC_PAGE_ENABLE : 0;
		uint64_t simp = 0, siefp = 0;

		if (rep->hypervisor.pages_supplied) {
			simp = rep->hypervisor.simp_gpa | g->boundary;
			siefp = rep->hypervisor.siefp_gpa | g->boundary;
		}
		(void)guest_wr(g, vp, hp, GUEST_REG_SIMP, simp & keep);
		(void)guest_wr(g, vp, hp, GUEST_REG_SIEFP, siefp & keep);
	}
	if (rep->hypervisor.scontrol_enabled)
		(void)guest_wr(g, vp, hp, GUEST_REG_SCONTROL, 0);
	if (rep->paravisor.used) {
		(void)guest_wr(g, vp, CVMBUS_PATH_PARAVISOR_TRAP, GUEST_REG_SIMP, 0);
		(void)guest_wr(g, vp, CVMBUS_PATH_PARAVISOR_TRAP, GUEST_REG_SIEFP, 0);
	}
	if (rep->paravisor.scontrol_enabled)
		(void)guest_wr(g, vp, CVMBUS_PATH_PARAVISOR_TRAP, GUEST_REG_SCONTROL, 0);

	if (v->para_alloc) {
		/* Private all along: straight back to the allocator. */
		(void)cvmbus_mem_free(g->mem, v->para_alloc_gpa, 2);
		v->para_alloc = false;
	}
	if (v->hyp_alloc) {
		bool freeable = true;

		if (v->hyp_alloc_shared &&
		    cvmbus_platform_set_visibility(g->p, CVMBUS_MEM_PARTY_GUEST, v->hyp_alloc_gpa, 2,
						   false, NULL)) {
			freeable = false;
			atomic_fetch_add(&g->stats.pages_leaked, 2);
			cvmbus_log_warn("guest: synic pages of vp %u left out: visibility unknown",
					vp);
		}
		if (freeable)
			(void)cvmbus_mem_free(g->mem, v->hyp_alloc_gpa, 2);
		v->hyp_alloc = false;
		v->hyp_alloc_shared = false;
	}
}

static void guest_teardown_on_vp(void *arg)
{
	struct synic_call *c = arg;
	struct cvmbus_guest *g = c->g;
	struct guest_vp *v = &g->vp[c->vp];
	struct cvmbus_guest_synic_report rep;

	cvmbus_mutex_lock(&g->info_lock);
	rep = v->rep;
	memset(&v->rep, 0, sizeof(v->rep));
	v->rep.vp = c->vp;
	cvmbus_mutex_unlock(&g->info_lock);
	guest_teardown_vp(g, v, &rep);
	c->rc = 0;
}

void client_guest_synic_teardown(struct cvmbus_guest *g)
{
	for (uint32_t vp = 0; vp < g->nvp; vp++) {
		struct synic_call c = { .g = g, .vp = vp };

		/* -ESHUTDOWN: the platform is going; its memory goes with it. */
		(void)cvmbus_vcpu_call(g->p, vp, guest_teardown_on_vp, &c);
	}
	g->synic_up = false;
}

int client_guest_synic_setup(struct cvmbus_guest *g, bool confidential)
{
	int rc = 0;

	/* Before the first register write: an interrupt of the new mode must
	 * already route its EOM the new way. */
	atomic_store(&g->synic_confidential, confidential);
	for (uint32_t vp = 0; vp < g->nvp; vp++) {
		struct synic_call c = { .g = g, .vp = vp, .confidential = confidential };

		rc = cvmbus_vcpu_call(g->p, vp, guest_setup_on_vp, &c);
		if (!rc)
			rc = c.rc;
		if (rc) {
			/* Undo the vCPUs already set up (this one undid itself). */
			for (uint32_t u = 0; u < vp; u++) {
				struct synic_call t = { .g = g, .vp = u };

				(void)cvmbus_vcpu_call(g->p, u, guest_teardown_on_vp, &t);
			}
			return rc;
		}
	}
	g->synic_up = true;
	return 0;
}

/* ---- the interrupt handler ----------------------------------------------- */

static void guest_eom(struct cvmbus_guest *g, uint32_t vp)
{
	enum cvmbus_path path = guest_eom_path(g, atomic_load(&g->synic_confidential));
	int rc;

	rc = guest_wr(g, vp, path, GUEST_REG_EOM, 0);
	if (rc) {
		atomic_fetch_add(&g->stats.eom_failures, 1);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "guest: eom on vp %u failed (%d)", vp, rc);
		return;
	}
	atomic_fetch_add(&g->stats.eoms[path], 1);
}

/* vmbus_chan_sched(): every set flag of the SINT2 area is a relid. The
 * page may be host-visible and written by a hostile host: a bit with no
 * channel behind it is counted and nothing else. */
static void guest_scan_events(struct cvmbus_guest *g, struct guest_vp *v,
			      enum cvmbus_client_path src)
{
	struct hv_event_flags_page *page = v->evt[src];
	struct hv_event_flags *f;

	if (!page)
		return;
	f = &page->sint_flags[VMBUS_MESSAGE_SINT];
	for (uint32_t w = 0; w < HV_EVENT_FLAGS_BYTES_PER_SINT / 8u; w++) {
		uint64_t bits;

		/* Look before taking: an exchange is a write to the page, and
		 * most words are zero. */
		if (!atomic_load_explicit((_Atomic uint64_t *)&f->flags[w], memory_order_relaxed))
			continue;
		bits = cvmbus_event_flags_take(f, w);
		while (bits) {
			uint32_t relid = w * 64u + (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			atomic_fetch_add(&g->stats.events[src], 1);
			if (!client_guest_chan_notify(g, relid, src))
				atomic_fetch_add(&g->stats.unknown_relid_events, 1);
		}
	}
}

/* One message of one page's slot 2. A VMBus message is copied straight
 * into the queue (reserved under q_lock, so that a full queue leaves it in
 * its slot: the SynIC holds the rest back until we rescan). */
static void guest_take_message(struct cvmbus_guest *g, struct guest_vp *v,
			       enum cvmbus_client_path src)
{
	struct hv_message_page *page = v->msg[src];
	struct hv_message *slot;
	struct guest_msg *m;
	bool queued = false, present;

	if (!page)
		return;
	slot = &page->sint_message[VMBUS_MESSAGE_SINT];
	cvmbus_mutex_lock(&g->q_lock);
	if (g->q_count == g->q_cap) {
		bool waiting = atomic_load_explicit((_Atomic uint32_t *)&slot->header.message_type,
						    memory_order_relaxed) != HVMSG_NONE;

		/* Flagged under q_lock: the control thread pops a queued
		 * message after this (the queue is full, so one is there) and
		 * looks at the flag after that pop, so it cannot miss it. */
		if (waiting)
			atomic_store(&v->stalled, true);
		cvmbus_mutex_unlock(&g->q_lock);
		if (waiting) {
			atomic_fetch_add(&g->stats.queue_stalls, 1);
			cvmbus_doorbell_ring(&g->bell, GUEST_BELL_MSG);
		}
		return;
	}
	m = &g->q[(g->q_head + g->q_count) % g->q_cap];
	present = cvmbus_simp_slot_read(slot, &m->msg);
	if (present && m->msg.header.message_type == HVMSG_VMBUS) {
		m->source = src;
		g->q_count++;
		queued = true;
	}
	cvmbus_mutex_unlock(&g->q_lock);
	if (!present)
		return;
	if (queued)
		atomic_fetch_add(&g->stats.messages[src], 1);
	else
		/* Timer and intercept messages are not ours: free the slot. */
		atomic_fetch_add(&g->stats.other_messages, 1);
	if (cvmbus_simp_slot_release(slot))
		guest_eom(g, v->index);
	if (queued)
		cvmbus_doorbell_ring(&g->bell, GUEST_BELL_MSG);
}

static void guest_scan_messages(struct cvmbus_guest *g, struct guest_vp *v)
{
	guest_take_message(g, v, CVMBUS_CLIENT_PATH_HYPERVISOR);
	guest_take_message(g, v, CVMBUS_CLIENT_PATH_PARAVISOR);
}

void client_guest_isr(void *ctx, struct cvmbus_platform *p, uint32_t vp,
		      enum cvmbus_synic_kind synic, uint32_t sint, uint32_t vector)
{
	struct cvmbus_guest *g = ctx;

	(void)synic;
	(void)vector;
	atomic_fetch_add(&g->stats.interrupts, 1);
	if (vp < g->nvp) {
		if (sint == VMBUS_MESSAGE_SINT) {
			/* vmbus_isr(): both SynICs whichever one interrupted;
			 * interrupts reach VTL0 through the paravisor and the
			 * pages say where the work is. */
			guest_scan_events(g, &g->vp[vp], CVMBUS_CLIENT_PATH_HYPERVISOR);
			guest_scan_events(g, &g->vp[vp], CVMBUS_CLIENT_PATH_PARAVISOR);
			guest_scan_messages(g, &g->vp[vp]);
		} else {
			atomic_fetch_add(&g->stats.other_sint, 1);
		}
	}
	if (!g->auto_eoi)
		(void)cvmbus_vcpu_eoi(p, vp);
}

static void guest_rescan_on_vp(void *arg)
{
	struct synic_call *c = arg;

	guest_scan_messages(c->g, &c->g->vp[c->vp]);
}

void client_guest_rescan(struct cvmbus_guest *g)
{
	for (uint32_t vp = 0; vp < g->nvp; vp++) {
		struct synic_call c = { .g = g, .vp = vp };

		if (!atomic_exchange(&g->vp[vp].stalled, false))
			continue;
		atomic_fetch_add(&g->stats.rescans, 1);
		/* On the vCPU, where its pages live and its EOM belongs. */
		(void)cvmbus_vcpu_call(g->p, vp, guest_rescan_on_vp, &c);
	}
}
