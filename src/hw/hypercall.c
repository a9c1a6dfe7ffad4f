/* SPDX-License-Identifier: MIT */
/*
 * The hypercalls of the simulated platform (src/hw): HvPostMessage,
 * HvSignalEvent, HvCallGet/SetVpRegisters and, as partition memory's
 * visibility hook, HvCallModifySparseGpaPageHostVisibility. Each handler
 * gets a private copy of the input that the path code (regpath.c) took out
 * of the caller's carrier page or registers, validates it the way Hyper-V
 * does (reserved bits, sizes, connection ids) and answers with a Hyper-V
 * status; none of them trusts a byte it did not copy. One trace event per
 * call records code, status, path, trust and, for posted messages, the
 * bytes.
 *
 * A hypercall that the paravisor intercepts but that is meant for the host
 * (a post or signal to a host-owned port) is forwarded: the paravisor makes
 * the call again, through its own host-visible path, so the model shows the
 * exposure that forwarding really causes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hw/platform_internal.h"

/* Control bits Hyper-V reserves (must be zero) or that the model does not
 * implement (variable header size 26:17, nested 31): bits 31:17, 47:44 and
 * 63:60. */
#define HC_CONTROL_RESERVED 0xF000F000FFFE0000ull
#define HC_REP_START_SHIFT  48u
#define HC_REP_START_MASK   (0xFFFull << HC_REP_START_SHIFT)

/* Get/SetVpRegisters input: the header, then one element per rep. The
 * names of a get are padded to 8 bytes each, as Linux lays them out. */
#define VPREG_HEADER_SIZE   sizeof(struct hv_input_vp_registers_header)
#define VPREG_GET_ELEM_SIZE 8u
#define VPREG_GET_OUT_SIZE  16u
#define VPREG_SET_ELEM_SIZE sizeof(struct hv_register_assoc)

static uint32_t rd32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

static void wr64(uint8_t *b, uint64_t v)
{
	memcpy(b, &v, sizeof(v));
}

/* ---- HvPostMessage ------------------------------------------------------------------ */

static uint16_t hc_post_message(struct cvmbus_platform *p, const struct hw_origin *o,
				bool fast, const uint8_t *in, size_t in_len,
				struct cvmbus_trace_event *ev, struct hv_input_post_message *copy)
{
	unsigned int owner;
	uint16_t status;

	if (fast) {
		ev->note = "post message is not a fast call";
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	}
	if (in_len < sizeof(*copy)) {
		ev->note = "short input";
		return HV_STATUS_INVALID_PARAMETER;
	}
	/* Copy, then validate, then use: the input page is the caller's. */
	memcpy(copy, in, sizeof(*copy));
	ev->connection_id = copy->connection_id;
	ev->message_type = copy->message_type;
	ev->bytes = copy->payload;
	ev->len = copy->payload_size <= HV_MESSAGE_PAYLOAD_SIZE ? copy->payload_size
								  : HV_MESSAGE_PAYLOAD_SIZE;
	if (copy->reserved || (copy->connection_id & ~HV_CONNECTION_ID_MASK)) {
		ev->note = "reserved bits set";
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	}
	if (copy->payload_size > HV_MESSAGE_PAYLOAD_SIZE) {
		ev->note = "payload over 240 bytes";
		return HV_STATUS_INVALID_PARAMETER;
	}
	/* Types with bit 31 set are the hypervisor's own (timer, intercepts). */
	if (copy->message_type == HVMSG_NONE || (copy->message_type & 0x80000000u)) {
		ev->note = "bad message type";
		return HV_STATUS_INVALID_PARAMETER;
	}
	if (o->path == CVMBUS_PATH_PARAVISOR_TRAP &&
	    hw_port_owner(p, copy->connection_id, CVMBUS_PORT_MESSAGE) == CVMBUS_MEM_PARTY_HOST) {
		/* Meant for the host: the paravisor posts it on the guest's
		 * behalf, through its own (host-visible) path. */
		int rc;

		/* Except on the connection the host keeps for the paravisor's
		 * own relay: forwarded, the guest's message would arrive as
		 * the paravisor's, and the host would take the guest for the
		 * relay. The paravisor answers as if no such port existed. */
		if (copy->connection_id == VMBUS_MESSAGE_REDIRECT_CONNECTION_ID) {
			ev->note = "guest post to the relay's connection refused";
			return HV_STATUS_INVALID_CONNECTION_ID;
		}

		ev->to = CVMBUS_MEM_PARTY_PARAVISOR;
		ev->note = "forwarded to the host";
		rc = cvmbus_hv_post_message_from(p, CVMBUS_MEM_PARTY_PARAVISOR, o->vp,
						 copy->connection_id, copy->message_type,
						 copy->payload, copy->payload_size, &status);
		return rc ? HV_STATUS_INSUFFICIENT_MEMORY : status;
	}
	status = hw_port_post(p, o, copy->connection_id, copy->message_type, copy->payload,
			      copy->payload_size, &owner);
	ev->to = owner;
	if (status == HV_STATUS_INVALID_CONNECTION_ID)
		ev->note = "no port";
	else if (status == HV_STATUS_INSUFFICIENT_BUFFERS)
		ev->note = "port queue full";
	return status;
}

/* ---- HvSignalEvent --------------------------------------------------------------------- */

static uint16_t hc_signal_event(struct cvmbus_platform *p, const struct hw_origin *o,
				const uint8_t *in, size_t in_len, struct cvmbus_trace_event *ev)
{
	struct hv_input_signal_event copy;
	unsigned int owner;
	uint16_t status;

	if (in_len < sizeof(copy)) {
		ev->note = "short input";
		return HV_STATUS_INVALID_PARAMETER;
	}
	memcpy(&copy, in, sizeof(copy));
	ev->connection_id = copy.connection_id;
	ev->flag = copy.flag_number;
	if (copy.reserved || (copy.connection_id & ~HV_CONNECTION_ID_MASK)) {
		ev->note = "reserved bits set";
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	}
	if (o->path == CVMBUS_PATH_PARAVISOR_TRAP &&
	    hw_port_owner(p, copy.connection_id, CVMBUS_PORT_EVENT) == CVMBUS_MEM_PARTY_HOST) {
		int rc;

		ev->to = CVMBUS_MEM_PARTY_PARAVISOR;
		ev->note = "forwarded to the host";
		rc = cvmbus_hv_signal_event_from(p, CVMBUS_MEM_PARTY_PARAVISOR, o->vp,
						 copy.connection_id, copy.flag_number, &status);
		return rc ? HV_STATUS_INSUFFICIENT_MEMORY : status;
	}
	status = hw_port_signal(p, o, copy.connection_id, copy.flag_number, &owner);
	ev->to = owner;
	if (status == HV_STATUS_INVALID_CONNECTION_ID)
		ev->note = "no port";
	else if (status == HV_STATUS_INVALID_PARAMETER)
		ev->note = "flag out of range";
	return status;
}

/* ---- HvCallGet/SetVpRegisters ---------------------------------------------------------------- */

static uint16_t vpreg_header(const struct hw_origin *o, struct cvmbus_platform *p,
			     const uint8_t *in, struct cvmbus_trace_event *ev)
{
	struct hv_input_vp_registers_header h;

	memcpy(&h, in, sizeof(h));
	if (h.partition_id != HV_PARTITION_ID_SELF) {
		ev->note = "not this partition";
		return HV_STATUS_INVALID_PARTITION_ID;
	}
	if (h.vp_index != HV_VP_INDEX_SELF && h.vp_index >= p->cfg.vcpus) {
		ev->note = "no such vp";
		return HV_STATUS_INVALID_VP_INDEX;
	}
	/* A vCPU reaches its own SynIC only; another vCPU's registers are
	 * not the guest's to touch in this model. */
	if (h.vp_index != HV_VP_INDEX_SELF && h.vp_index != o->vp) {
		ev->note = "another vp";
		return HV_STATUS_ACCESS_DENIED;
	}
	if (h.input_vtl || h.reserved[0] || h.reserved[1] || h.reserved[2]) {
		ev->note = "vtl or reserved bytes set";
		return HV_STATUS_INVALID_PARAMETER;
	}
	return HV_STATUS_SUCCESS;
}

static enum cvmbus_synic_kind vpreg_target(const struct hw_origin *o)
{
	/* What the paravisor intercepts lands on its SynIC; everything else
	 * reaches the hypervisor's. */
	return o->path == CVMBUS_PATH_PARAVISOR_TRAP ? CVMBUS_SYNIC_PARAVISOR
						     : CVMBUS_SYNIC_HYPERVISOR;
}

static uint16_t hc_vp_registers(struct cvmbus_platform *p, const struct hw_origin *o,
				bool set, uint32_t reps, const uint8_t *in, size_t in_len,
				uint8_t *out, size_t out_cap, size_t *out_len,
				struct cvmbus_trace_event *ev)
{
	size_t elem = set ? VPREG_SET_ELEM_SIZE : VPREG_GET_ELEM_SIZE;
	uint16_t status;

	if (!reps || VPREG_HEADER_SIZE + reps * elem > in_len ||
	    (!set && reps * VPREG_GET_OUT_SIZE > out_cap)) {
		ev->note = "bad rep count";
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	}
	status = vpreg_header(o, p, in, ev);
	if (status)
		return status;
	for (uint32_t i = 0; i < reps; i++) {
		const uint8_t *e = in + VPREG_HEADER_SIZE + i * elem;
		uint32_t name = rd32(e);
		enum hw_reg reg = hw_reg_from_name(name);
		uint64_t value;
		int rc;

		if (set) {
			struct hv_register_assoc a;

			memcpy(&a, e, sizeof(a));
			/* The model's registers are 64-bit. */
			if (a.reserved1 || a.reserved2 || a.value_high) {
				ev->note = "reserved or high bits set";
				return HV_STATUS_INVALID_PARAMETER;
			}
			value = a.value_low;
			rc = hw_reg_access(p, o, vpreg_target(o), name, reg, true, &value);
		} else {
			if (rd32(e + 4)) {
				ev->note = "reserved bits set";
				return HV_STATUS_INVALID_HYPERCALL_INPUT;
			}
			rc = hw_reg_access(p, o, vpreg_target(o), name, reg, false, &value);
			if (!rc) {
				wr64(out + i * VPREG_GET_OUT_SIZE, value);
				wr64(out + i * VPREG_GET_OUT_SIZE + 8, 0);
				*out_len = (i + 1) * VPREG_GET_OUT_SIZE;
			}
		}
		if (rc) {
			ev->note = "register refused";
			ev->err = rc;
			return HV_STATUS_INVALID_PARAMETER;
		}
	}
	return HV_STATUS_SUCCESS;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

uint16_t hw_hypercall(struct cvmbus_platform *p, const struct hw_origin *o, uint64_t control,
		      const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
		      size_t *out_len)
{
	struct hv_input_post_message post;
	struct cvmbus_trace_event ev;
	uint16_t code = (uint16_t)(control & 0xFFFFu);
	bool fast = control & HV_HYPERCALL_FAST_BIT;
	uint32_t reps = (uint32_t)((control & HV_HYPERCALL_REP_COUNT_MASK) >>
				   HV_HYPERCALL_REP_COUNT_SHIFT);
	bool rep_call = code == HVCALL_GET_VP_REGISTERS || code == HVCALL_SET_VP_REGISTERS ||
			code == HVCALL_MODIFY_SPARSE_GPA_PAGE_HOST_VISIBILITY;
	uint16_t status;

	*out_len = 0;
	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_HYPERCALL);
	ev.vp = o->vp;
	ev.from = o->party;
	ev.to = o->path == CVMBUS_PATH_PARAVISOR_TRAP ? CVMBUS_MEM_PARTY_PARAVISOR
						      : CVMBUS_MEM_PARTY_HYPERVISOR;
	ev.path = o->path;
	ev.trusted = o->trusted;
	ev.code = code;

	if (control & (HC_CONTROL_RESERVED | HC_REP_START_MASK) ||
	    (!rep_call && reps)) {
		ev.note = "reserved control bits set";
		status = HV_STATUS_INVALID_HYPERCALL_INPUT;
		goto out;
	}
	switch (code) {
	case HVCALL_POST_MESSAGE:
		status = hc_post_message(p, o, fast, in, in_len, &ev, &post);
		break;
	case HVCALL_SIGNAL_EVENT:
		status = hc_signal_event(p, o, in, in_len, &ev);
		break;
	case HVCALL_GET_VP_REGISTERS:
	case HVCALL_SET_VP_REGISTERS:
		if (fast) {
			ev.note = "register calls are not fast";
			status = HV_STATUS_INVALID_HYPERCALL_INPUT;
			break;
		}
		/* The register events come first; this call's event, with
		 * its status, after them. */
		status = hc_vp_registers(p, o, code == HVCALL_SET_VP_REGISTERS, reps, in, in_len,
					 out, out_cap, out_len, &ev);
		break;
	case HVCALL_MODIFY_SPARSE_GPA_PAGE_HOST_VISIBILITY:
		/* Only partition memory's transition protocol may ask: a
		 * direct call would skip "not present, then zero". */
		ev.note = "use the partition memory transition";
		status = HV_STATUS_ACCESS_DENIED;
		break;
	default:
		ev.note = "unknown hypercall";
		status = HV_STATUS_INVALID_HYPERCALL_CODE;
		break;
	}
out:
	ev.status = status;
	cvmbus_trace_emit(p->trace, &ev);
	return status;
}

/* ---- host visibility ------------------------------------------------------------------------------ */

/* The party and reason the current thread announced, if any. */
static void vis_note_lookup(struct cvmbus_platform *p, unsigned int *party,
			    char reason[CVMBUS_MEM_REASON_MAX_LEN + 1])
{
	pthread_t self = pthread_self();

	*party = CVMBUS_TRACE_PARTY_NONE;
	reason[0] = '\0';
	cvmbus_mutex_lock(&p->vis_lock);
	for (unsigned int i = 0; i < HW_VIS_NOTES; i++) {
		if (p->vis[i].used && pthread_equal(p->vis[i].thread, self)) {
			*party = p->vis[i].party;
			memcpy(reason, p->vis[i].reason, CVMBUS_MEM_REASON_MAX_LEN + 1);
			break;
		}
	}
	cvmbus_mutex_unlock(&p->vis_lock);
}

uint16_t hw_visibility_hook(void *ctx,
			    const struct hv_input_modify_sparse_gpa_page_host_visibility *input,
			    uint32_t rep_count)
{
	struct cvmbus_platform *p = ctx;
	char reason[CVMBUS_MEM_REASON_MAX_LEN + 1];
	struct cvmbus_trace_event ev;
	unsigned int party;
	uint16_t status;

	/* The host's window changes first; the event then says what the
	 * hypervisor answered. */
	status = cvmbus_mem_visibility_default(p->host, input, rep_count);
	/* A host in another process maps the same change in its own window
	 * before it reads anything we send after it (hostlink.c). */
	if (status == HV_STATUS_SUCCESS) {
		cvmbus_mutex_lock(&p->link_lock);
		hw_hostlink_visibility(p->link, input, rep_count);
		cvmbus_mutex_unlock(&p->link_lock);
	}

	vis_note_lookup(p, &party, reason);
	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_VISIBILITY);
	ev.from = party;
	ev.to = CVMBUS_MEM_PARTY_HYPERVISOR;
	ev.path = party == CVMBUS_TRACE_PARTY_NONE ? CVMBUS_PATH_NONE
						   : hw_party_hv_path(p, party);
	ev.code = HVCALL_MODIFY_SPARSE_GPA_PAGE_HOST_VISIBILITY;
	ev.status = status;
	ev.reason = reason[0] ? reason : NULL;
	if (input && rep_count && rep_count <= HV_MAX_MODIFY_GPA_REP_COUNT) {
		ev.gpa = input->gpa_page_list[0] * HV_PAGE_SIZE;
		ev.pages = rep_count;
		ev.shared = input->host_visibility != HV_MAP_GPA_NOT_VISIBLE;
		ev.contiguous = true;
		for (uint32_t i = 1; i < rep_count; i++)
			if (input->gpa_page_list[i] != input->gpa_page_list[i - 1] + 1)
				ev.contiguous = false;
	}
	cvmbus_trace_emit(p->trace, &ev);
	return status;
}

int cvmbus_platform_set_visibility(struct cvmbus_platform *p, enum cvmbus_mem_party party,
				   uint64_t gpa, uint64_t npages, bool shared,
				   const char *reason)
{
	int slot = -1, rc;

	if (!p)
		return -EINVAL;
	/* Announce who asks and why, for the hook's trace event: the memory
	 * hook's signature carries neither. */
	cvmbus_mutex_lock(&p->vis_lock);
	for (unsigned int i = 0; i < HW_VIS_NOTES; i++) {
		if (!p->vis[i].used) {
			slot = (int)i;
			p->vis[i].used = true;
			p->vis[i].thread = pthread_self();
			p->vis[i].party = party;
			snprintf(p->vis[i].reason, sizeof(p->vis[i].reason), "%s",
				 shared ? (reason ? reason : CVMBUS_MEM_REASON_UNTAGGED) : "");
			break;
		}
	}
	cvmbus_mutex_unlock(&p->vis_lock);

	if (shared)
		rc = cvmbus_mem_make_shared(p->mem, party, gpa, npages, reason);
	else
		rc = cvmbus_mem_make_private(p->mem, party, gpa, npages);

	if (slot >= 0) {
		cvmbus_mutex_lock(&p->vis_lock);
		p->vis[slot].used = false;
		cvmbus_mutex_unlock(&p->vis_lock);
	}
	return rc;
}
