/* SPDX-License-Identifier: MIT */
/*
 * What a VM run observed, written into its report (src/vm): the control
 * messages counted from the platform's trace as they are emitted (by how
 * they travelled, and every InitiateContact in detail), the negotiation as
 * the guest saw it, and the steady-state snapshot: the channels with their
 * owner, flags, ring state and SynIC, and the exact host-visible pages from
 * partition memory's exposure account, each reason held against coco.rst's
 * list of pages a CoCo guest decrypts (reference/linux-guest.md section 6).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vm/vm_internal.h"

/* ---- coco.rst's list ------------------------------------------------------- */

static const char *const coco_names[CVMBUS_VM_COCO_COUNT] = {
	[CVMBUS_VM_COCO_UNKNOWN] = "not on coco.rst's list",
	[CVMBUS_VM_COCO_MONITOR] = "monitor pages",
	[CVMBUS_VM_COCO_SYNIC] = "synic pages",
	[CVMBUS_VM_COCO_SYNIC_SUPPLIED] = "synic pages (paravisor-supplied)",
	[CVMBUS_VM_COCO_HYPERCALL] = "hypercall pages",
	[CVMBUS_VM_COCO_GHCB] = "ghcb/tdcall page",
	[CVMBUS_VM_COCO_PARAVISOR_CALL] = "paravisor's hypercall page",
	[CVMBUS_VM_COCO_RING] = "ring buffers",
	[CVMBUS_VM_COCO_GPADL] = "gpadl buffers",
	[CVMBUS_VM_COCO_BOUNCE] = "bounce buffers",
	[CVMBUS_VM_COCO_NO_ISOLATION] = "no isolation",
};

const char *cvmbus_vm_coco_name(enum cvmbus_vm_coco c)
{
	return (unsigned int)c < CVMBUS_VM_COCO_COUNT ? coco_names[c] : "unknown";
}

enum cvmbus_vm_coco cvmbus_vm_coco_classify(const char *reason, enum cvmbus_mem_party party,
					    const struct cvmbus_vm_config *cfg, bool *allowed)
{
	bool iso = cfg->isolation != HV_ISOLATION_TYPE_NONE;
	enum cvmbus_vm_coco c = CVMBUS_VM_COCO_UNKNOWN;
	bool ok = false;

	if (!reason)
		reason = "";
	if (!strcmp(reason, "vmbus-monitor")) {
		/* Linux decrypts both monitor pages whatever the mode. */
		c = CVMBUS_VM_COCO_MONITOR;
		ok = party == CVMBUS_MEM_PARTY_GUEST;
	} else if (!strcmp(reason, "synic-message") || !strcmp(reason, "synic-event")) {
		/* "SynIC pages (unless supplied by the paravisor)": with a
		 * paravisor the guest must not decrypt any of its own. */
		c = CVMBUS_VM_COCO_SYNIC;
		ok = party == CVMBUS_MEM_PARTY_GUEST && !cfg->paravisor;
	} else if (!strcmp(reason, "synic-hypervisor")) {
		c = CVMBUS_VM_COCO_SYNIC_SUPPLIED;
		ok = party == CVMBUS_MEM_PARTY_PARAVISOR && cfg->paravisor;
	} else if (!strcmp(reason, "hypercall-input")) {
		/* "per-cpu hypercall input and output pages (unless running
		 * with a paravisor)". arm64 has no paravisor-mode hypercall
		 * enlightenment: its hvc pages are the only way to the
		 * hypervisor, so they stay on the list there. */
		c = CVMBUS_VM_COCO_HYPERCALL;
		ok = party == CVMBUS_MEM_PARTY_GUEST &&
		     (!cfg->paravisor || cfg->arch == CVMBUS_ARCH_ARM64);
	} else if (!strcmp(reason, "ghcb")) {
		c = CVMBUS_VM_COCO_GHCB;
		ok = party == CVMBUS_MEM_PARTY_GUEST && cfg->isolation == HV_ISOLATION_TYPE_SNP;
	} else if (!strcmp(reason, "tdx-hypercall")) {
		c = CVMBUS_VM_COCO_GHCB;
		ok = party == CVMBUS_MEM_PARTY_GUEST && cfg->isolation == HV_ISOLATION_TYPE_TDX;
	} else if (!strcmp(reason, "paravisor-ghcb") || !strcmp(reason, "paravisor-tdcall") ||
		   !strcmp(reason, "paravisor-hypercall")) {
		c = CVMBUS_VM_COCO_PARAVISOR_CALL;
		ok = party == CVMBUS_MEM_PARTY_PARAVISOR && cfg->paravisor;
	} else if (!strcmp(reason, "vmbus-ring")) {
		/* Whether a *confidential* ring is among them is checked on
		 * the ring's own pages (cvmbus_vm_check). */
		c = CVMBUS_VM_COCO_RING;
		ok = true;
	} else if (!strcmp(reason, "vmbus-buffer")) {
		c = CVMBUS_VM_COCO_GPADL;
		ok = true;
	} else if (!strcmp(reason, "bounce")) {
		c = CVMBUS_VM_COCO_BOUNCE;
		ok = true;
	} else if (!strcmp(reason, CVMBUS_MEM_REASON_NO_ISOLATION)) {
		c = CVMBUS_VM_COCO_NO_ISOLATION;
		ok = !iso;
	}
	if (allowed)
		*allowed = ok;
	return c;
}

/* ---- the trace counter ------------------------------------------------------ */

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* InitiateContact: type 14 @0, version_requested @8, target_vcpu @12,
 * interrupt_page_or_target_info @16 whose high half (@20) carries the
 * feature flags from 6.0 on. */
#define CONTACT_TYPE        14u
#define CONTACT_OFF_VERSION 8u
#define CONTACT_OFF_FEATURE 20u
#define CONTACT_MIN_LEN     24u

void vm_trace_counter(void *ctx, const struct cvmbus_trace_event *ev, const char *json,
		      size_t len)
{
	struct cvmbus_vm *vm = ctx;
	struct cvmbus_vm_report *r = &vm->report;
	struct cvmbus_vm_msg_key *k = NULL;
	const uint8_t *b = ev->bytes;

	(void)json;
	(void)len;
	if (ev->kind != CVMBUS_TRACE_MSG)
		return;
	/* Runs under the trace's lock, on whatever thread emitted: only
	 * counters here, nothing that waits or emits. */
	r->messages++;
	for (size_t i = 0; i < r->msg_key_count; i++) {
		struct cvmbus_vm_msg_key *e = &r->msg_keys[i];

		if (e->from == ev->from && e->to == ev->to && e->path == ev->path &&
		    e->synic == ev->synic && e->trusted == ev->trusted) {
			k = e;
			break;
		}
	}
	if (!k && r->msg_key_count < CVMBUS_VM_MAX_MSG_KEYS) {
		k = &r->msg_keys[r->msg_key_count++];
		k->from = ev->from;
		k->to = ev->to;
		k->path = ev->path;
		k->synic = ev->synic;
		k->trusted = ev->trusted;
	}
	if (k)
		k->count++;

	if (ev->from == CVMBUS_MEM_PARTY_GUEST && b && ev->len >= CONTACT_MIN_LEN &&
	    le32(b) == CONTACT_TYPE && r->contact_count < CVMBUS_VM_MAX_CONTACTS) {
		struct cvmbus_vm_contact *c = &r->contacts[r->contact_count++];

		c->version = le32(b + CONTACT_OFF_VERSION);
		c->features = le32(b + CONTACT_OFF_FEATURE);
		c->path = ev->path;
		c->to = ev->to;
		c->trusted = ev->trusted;
		c->status = ev->status;
		memcpy(c->head, b, sizeof(c->head));
	}
}

/* ---- negotiation ------------------------------------------------------------- */

void vm_observe_negotiation(struct cvmbus_vm *vm)
{
	struct cvmbus_vm_report *r = &vm->report;
	struct cvmbus_guest_info info;

	cvmbus_guest_get_info(vm->guest, &info);
	r->version = info.version;
	r->features = info.features;
	r->msg_conn_id = info.msg_conn_id;
	r->confidential = info.confidential;
	r->post_path = info.post_path;
	r->signal_path = info.signal_path;
	r->cpuid_confidential_bit = info.detection.platform.confidential_vmbus_available;
	r->attempts = info.detection.attempts;
	if (r->attempts > 2)
		r->attempts = 2;
	for (unsigned int i = 0; i < r->attempts; i++) {
		r->attempt[i].confidential = info.detection.attempt[i].attempt.confidential;
		r->attempt[i].path = info.detection.attempt[i].post_path;
		r->attempt[i].status = info.detection.attempt[i].status;
	}
	r->winner = info.detection.winner;
	snprintf(r->attest_decision, sizeof(r->attest_decision), "%s",
		 cvmbus_guest_attest_decision_name(info.attestation.decision));
	snprintf(r->attest_reason, sizeof(r->attest_reason), "%s", info.attestation.reason_text);
	vm_para_relay_info(vm, r);
}

/* ---- the snapshot ------------------------------------------------------------ */

struct cvmbus_vm_channel *vm_report_channel(struct cvmbus_vm *vm, uint32_t relid)
{
	struct cvmbus_vm_report *r = &vm->report;
	size_t i;

	for (i = 0; i < r->channel_count; i++)
		if (r->channels[i].relid == relid)
			return &r->channels[i];
	if (r->channel_count >= CVMBUS_VM_MAX_CHANNELS) {
		r->channels_dropped++;
		return NULL;
	}
	/* Keep relid order, as the guest lists its offers. */
	for (i = r->channel_count; i > 0 && r->channels[i - 1].relid > relid; i--)
		r->channels[i] = r->channels[i - 1];
	memset(&r->channels[i], 0, sizeof(r->channels[i]));
	r->channels[i].relid = relid;
	r->channels[i].device = "unknown";
	r->channels[i].owner = CVMBUS_MEM_PARTY_HOST;
	r->channel_count++;
	return &r->channels[i];
}

static struct cvmbus_vm_reason *vm_reason(struct cvmbus_vm *vm, const char *reason,
					  enum cvmbus_mem_party party)
{
	struct cvmbus_vm_report *r = &vm->report;
	struct cvmbus_vm_reason *e;

	if (!reason)
		reason = CVMBUS_MEM_REASON_UNTAGGED;
	for (size_t i = 0; i < r->reason_count; i++)
		if (!strcmp(r->reasons[i].reason, reason) && r->reasons[i].party == party)
			return &r->reasons[i];
	if (r->reason_count >= CVMBUS_VM_MAX_REASONS)
		return NULL;
	e = &r->reasons[r->reason_count++];
	memset(e, 0, sizeof(*e));
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	e->party = party;
	e->category = cvmbus_vm_coco_classify(reason, party, &vm->cfg, &e->allowed);
	return e;
}

static void vm_snapshot_channel(struct cvmbus_vm *vm, const struct cvmbus_guest_offer *o)
{
	const struct cvmbus_guid echo_id = CVMBUS_ECHO_INTERFACE_ID_INIT;
	struct cvmbus_mem *mem = cvmbus_platform_mem(vm->p);
	struct cvmbus_guest_channel_report cr;
	struct cvmbus_vm_channel *c = vm_report_channel(vm, o->relid);

	if (!c)
		return;
	c->if_type = o->if_type;
	c->if_instance = o->if_instance;
	c->offer_flags = o->flags;
	c->confidential_ring = o->confidential_ring;
	c->confidential_external = o->confidential_external;
	c->connection_id = o->connection_id;
	if (!memcmp(&o->if_type, &echo_id, sizeof(echo_id)))
		c->device = "echo";
	/* Whose device: without a paravisor everything is the host's; with
	 * one, a channel the relay re-offered is the host's, the rest the
	 * paravisor's own. */
	c->host_relid = vm_para_host_relid(vm, o->relid);
	if (vm->cfg.paravisor && !c->host_relid)
		c->owner = CVMBUS_MEM_PARTY_PARAVISOR;
	else
		c->owner = CVMBUS_MEM_PARTY_HOST;
	if (!vm->cfg.paravisor)
		c->host_relid = o->relid;

	if (cvmbus_guest_channel_report(vm->guest, o->relid, &cr))
		return;
	c->signal_path = cr.signal_path;
	c->events[0] = cr.events[CVMBUS_CLIENT_PATH_HYPERVISOR];
	c->events[1] = cr.events[CVMBUS_CLIENT_PATH_PARAVISOR];
	c->synic_both = c->events[0] && c->events[1];
	c->synic = c->events[1]   ? CVMBUS_SYNIC_PARAVISOR
		   : c->events[0] ? CVMBUS_SYNIC_HYPERVISOR
				  : CVMBUS_SYNIC_NONE;
	if (!cr.open)
		return;
	c->ring_gpa = cr.ring_gpa;
	c->ring_pages = (cr.send_bytes + cr.recv_bytes) / CVMBUS_MEM_PAGE_SIZE;
	c->ring_private = cr.ring_private;
	c->ring_pages_visible = 0;
	for (uint32_t i = 0; i < c->ring_pages; i++) {
		struct cvmbus_mem_exposure_page ep;

		if (!cvmbus_mem_exposure_page(mem, c->ring_gpa + (uint64_t)i * CVMBUS_MEM_PAGE_SIZE,
					      &ep) &&
		    ep.visible_now)
			c->ring_pages_visible++;
	}
}

int cvmbus_vm_snapshot(struct cvmbus_vm *vm)
{
	struct cvmbus_vm_report *r = &vm->report;
	struct cvmbus_guest_offer offers[CVMBUS_VM_MAX_CHANNELS * 2];
	struct cvmbus_mem_exposure_iter it;
	struct cvmbus_mem_exposure_range er;
	struct cvmbus_mem_exposure_totals tot;
	struct cvmbus_mem *mem;
	size_t n = 0;

	if (!vm || !vm->running || !vm->guest)
		return -EINVAL;
	mem = cvmbus_platform_mem(vm->p);
	if (cvmbus_guest_offers(vm->guest, offers, sizeof(offers) / sizeof(offers[0]), &n) == 0) {
		if (n > sizeof(offers) / sizeof(offers[0]))
			n = sizeof(offers) / sizeof(offers[0]);
		for (size_t i = 0; i < n; i++)
			if (!offers[i].rescinded)
				vm_snapshot_channel(vm, &offers[i]);
	}

	/* The exact set of pages the host can see now, range by range, and
	 * per reason. A snapshot taken twice starts over. */
	r->range_count = 0;
	r->ranges_dropped = 0;
	for (size_t i = 0; i < r->reason_count; i++)
		r->reasons[i].pages_now = 0;
	cvmbus_mem_exposure_iter_init(&it, CVMBUS_MEM_EXPOSURE_NOW);
	while (cvmbus_mem_exposure_next(mem, &it, &er) == 1) {
		uint64_t pages = er.bytes / CVMBUS_MEM_PAGE_SIZE;
		struct cvmbus_vm_reason *rs = vm_reason(vm, er.reason, er.party);

		if (rs)
			rs->pages_now += pages;
		if (r->range_count < CVMBUS_VM_MAX_RANGES) {
			struct cvmbus_vm_range *g = &r->ranges[r->range_count++];

			g->gpa = er.gpa;
			g->pages = pages;
			g->party = er.party;
			snprintf(g->reason, sizeof(g->reason), "%s",
				 er.reason ? er.reason : CVMBUS_MEM_REASON_UNTAGGED);
		} else {
			r->ranges_dropped++;
		}
	}
	cvmbus_mem_exposure_total(mem, &tot);
	r->pages_now = tot.pages_now;

	/* The secrets, while the rings still hold them. */
	for (size_t i = 0; i < r->channel_count; i++) {
		struct cvmbus_vm_channel *c = &r->channels[i];

		if (c->secret_sent)
			(void)cvmbus_vm_scan(vm, c->secret, sizeof(c->secret), &c->secret_hits_view,
					     &c->secret_hits_fd);
	}
	r->steady = true;
	return 0;
}

int cvmbus_vm_set_secret(struct cvmbus_vm *vm, uint32_t relid, const uint8_t *secret,
			 size_t len)
{
	struct cvmbus_vm_channel *c;

	if (!vm || !secret || len != CVMBUS_VM_SECRET_BYTES)
		return -EINVAL;
	c = vm_report_channel(vm, relid);
	if (!c)
		return -ENOSPC;
	memcpy(c->secret, secret, len);
	c->secret_sent = true;
	return 0;
}

void vm_observe_final(struct cvmbus_vm *vm)
{
	struct cvmbus_vm_report *r = &vm->report;
	struct cvmbus_mem_exposure_iter it;
	struct cvmbus_mem_exposure_range er;
	struct cvmbus_mem_exposure_totals tot;
	struct cvmbus_mem *mem;

	if (!vm->p)
		return;
	mem = cvmbus_platform_mem(vm->p);
	for (size_t i = 0; i < r->reason_count; i++)
		r->reasons[i].pages_ever = 0;
	cvmbus_mem_exposure_iter_init(&it, CVMBUS_MEM_EXPOSURE_EVER);
	while (cvmbus_mem_exposure_next(mem, &it, &er) == 1) {
		struct cvmbus_vm_reason *rs = vm_reason(vm, er.reason, er.party);

		if (rs)
			rs->pages_ever += er.bytes / CVMBUS_MEM_PAGE_SIZE;
	}
	cvmbus_mem_exposure_total(mem, &tot);
	r->pages_ever = tot.pages_ever;
}
