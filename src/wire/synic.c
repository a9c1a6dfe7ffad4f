/* SPDX-License-Identifier: MIT */
/*
 * The SynIC envelope of a channel message, as the wire layer sees it: check
 * the header of a hypervisor message (hv_message, hv.h) before its payload
 * is decoded, and build the HvPostMessage input that carries an encoded
 * message the other way. The SynIC itself (slots, pending bit, EOM) is the
 * platform model's job in src/hw; this file only knows the bytes.
 */
#include <errno.h>
#include <string.h>

#include "wire/wire_internal.h"

int cvmbus_wire_check_envelope(const struct hv_message *copy, struct cvmbus_wire_status *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
	if (!copy)
		return wire_fail(st, CVMBUS_WIRE_E_ARGS);
	/* The caller copied the slot out of the SIMP page: these two reads are
	 * of private memory, so the payload_size checked here is the one used. */
	if (copy->header.message_type != HVMSG_VMBUS) {
		if (st)
			st->detail = "not a vmbus message type";
		return wire_fail(st, CVMBUS_WIRE_E_ENVELOPE);
	}
	if (st)
		st->len = copy->header.payload_size;
	if (copy->header.payload_size > HV_MESSAGE_PAYLOAD_SIZE) {
		if (st)
			st->detail = "payload_size over 240";
		return wire_fail(st, CVMBUS_WIRE_E_ENVELOPE);
	}
	if (copy->header.payload_size < CVMBUS_WIRE_HEADER_SIZE) {
		if (st)
			st->detail = "payload_size under the channel message header";
		return wire_fail(st, CVMBUS_WIRE_E_ENVELOPE);
	}
	return 0;
}

int cvmbus_wire_decode_hv_message(const struct hv_message *copy, uint32_t version,
				  uint32_t features, enum cvmbus_wire_dir dir,
				  struct cvmbus_wire_msg *out, struct cvmbus_wire_status *st)
{
	int rc = cvmbus_wire_check_envelope(copy, st);

	if (rc < 0)
		return rc;
	return cvmbus_wire_decode(copy->payload, copy->header.payload_size, version, features,
				  dir, out, st);
}

int cvmbus_wire_build_post_message(struct hv_input_post_message *in, uint32_t connection_id,
				   const struct cvmbus_wire_msg *msg,
				   struct cvmbus_wire_status *st)
{
	int n;

	if (!in)
		return wire_fail(st, CVMBUS_WIRE_E_ARGS);
	/* The whole input page region is cleared: the hypercall input may be a
	 * host-visible page, and payload bytes past the message must not carry
	 * whatever a previous, possibly confidential, message left there. */
	memset(in, 0, sizeof(*in));
	n = cvmbus_wire_encode(msg, in->payload, sizeof(in->payload), st);
	if (n < 0)
		return n;
	in->connection_id = connection_id;
	in->message_type = HVMSG_VMBUS;
	in->payload_size = (uint32_t)n;
	return n;
}
