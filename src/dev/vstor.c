/* SPDX-License-Identifier: MIT */
/*
 * The VSTOR wire format (include/cvmbus/storage.h, layer src/dev): packet
 * sizes per protocol version, decoding a received payload into a private
 * packet, and the checks each side applies to what its peer wrote before
 * acting on it. Both the VSP (storvsp.c) and the VSC (storvsc.c) use these,
 * so the rules for "hostile bytes" live in one place and are unit-tested
 * against hand-written bytes (tests/dev/test_vstor.c).
 *
 * Sizes. Before WIN8 the SRB had no extension (36 bytes, 18 bytes of sense
 * room); from WIN8 on it is 52 bytes with 20 of sense. Linux sends every
 * packet at the size of the version in force, and the handshake's packets at
 * the old size (its size delta starts at the extension's 16 bytes), so a
 * receiver must accept both during the handshake.
 */
#include <errno.h>
#include <string.h>

#include <cvmbus/storage.h>

bool cvmbus_vstor_version_known(uint16_t version)
{
	switch (version) {
	case CVMBUS_VSTOR_VERSION_WIN6:
	case CVMBUS_VSTOR_VERSION_WIN7:
	case CVMBUS_VSTOR_VERSION_WIN8:
	case CVMBUS_VSTOR_VERSION_WIN8_1:
	case CVMBUS_VSTOR_VERSION_WIN10:
		return true;
	default:
		return false;
	}
}

/* The extension exists from WIN8 on; anything older (or "none yet") uses
 * the old layout. Unknown versions above WIN8 are compared numerically, as
 * Linux does (vmstor_proto_version >= WIN8). */
static bool has_win8_extension(uint16_t version)
{
	return version >= CVMBUS_VSTOR_VERSION_WIN8;
}

uint32_t cvmbus_vstor_srb_size(uint16_t version)
{
	return has_win8_extension(version) ? CVMBUS_VSTOR_SRB_SIZE : CVMBUS_VSTOR_SRB_SIZE_OLD;
}

uint32_t cvmbus_vstor_packet_size(uint16_t version)
{
	return CVMBUS_VSTOR_HEADER_SIZE + cvmbus_vstor_srb_size(version);
}

uint32_t cvmbus_vstor_sense_size(uint16_t version)
{
	return has_win8_extension(version) ? CVMBUS_VSTOR_SENSE_SIZE : CVMBUS_VSTOR_SENSE_SIZE_OLD;
}

const char *cvmbus_vstor_op_name(uint32_t op)
{
	switch (op) {
	case CVMBUS_VSTOR_OP_COMPLETE_IO: return "complete_io";
	case CVMBUS_VSTOR_OP_REMOVE_DEVICE: return "remove_device";
	case CVMBUS_VSTOR_OP_EXECUTE_SRB: return "execute_srb";
	case CVMBUS_VSTOR_OP_RESET_LUN: return "reset_lun";
	case CVMBUS_VSTOR_OP_RESET_ADAPTER: return "reset_adapter";
	case CVMBUS_VSTOR_OP_RESET_BUS: return "reset_bus";
	case CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION: return "begin_initialization";
	case CVMBUS_VSTOR_OP_END_INITIALIZATION: return "end_initialization";
	case CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION: return "query_protocol_version";
	case CVMBUS_VSTOR_OP_QUERY_PROPERTIES: return "query_properties";
	case CVMBUS_VSTOR_OP_ENUMERATE_BUS: return "enumerate_bus";
	case CVMBUS_VSTOR_OP_FCHBA_DATA: return "fchba_data";
	case CVMBUS_VSTOR_OP_CREATE_SUB_CHANNELS: return "create_sub_channels";
	case CVMBUS_VSTOR_OP_EVENT_NOTIFICATION: return "event_notification";
	default: return "unknown";
	}
}

/* The bytes an operation's body needs beyond the header, in `version`. */
static size_t body_needed(uint32_t op, uint16_t version)
{
	switch (op) {
	case CVMBUS_VSTOR_OP_EXECUTE_SRB:
		return cvmbus_vstor_srb_size(version);
	case CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION:
		return sizeof(struct cvmbus_vstor_version);
	case CVMBUS_VSTOR_OP_CREATE_SUB_CHANNELS:
		return sizeof(uint16_t);
	default:
		return 0;
	}
}

int cvmbus_vstor_decode(const void *payload, size_t len, uint16_t version,
			struct cvmbus_vstor_packet *out)
{
	uint32_t op;

	if (!payload || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (len < CVMBUS_VSTOR_HEADER_SIZE)
		return -EMSGSIZE;
	/* One copy out of the caller's buffer (itself a private copy of the
	 * ring), then every decision is made on *out. Bytes past the largest
	 * packet are the sender's padding or garbage: ignored, as OpenVMM
	 * clamps its request size to the largest SRB. */
	memcpy(out, payload, len < sizeof(*out) ? len : sizeof(*out));
	op = out->operation;
	if (len - CVMBUS_VSTOR_HEADER_SIZE < body_needed(op, version)) {
		memset(out, 0, sizeof(*out));
		return -EMSGSIZE;
	}
	/* A pre-WIN8 SRB has no extension on the wire: whatever followed it
	 * in the payload (padding) must not be read as srb_flags and friends. */
	if (op == CVMBUS_VSTOR_OP_EXECUTE_SRB && !has_win8_extension(version)) {
		uint8_t *ext = (uint8_t *)&out->srb + CVMBUS_VSTOR_SRB_SIZE_OLD;

		memset(ext, 0, CVMBUS_VSTOR_SRB_SIZE - CVMBUS_VSTOR_SRB_SIZE_OLD);
	}
	return 0;
}

enum cvmbus_vstor_srb_check cvmbus_vstor_check_srb(const struct cvmbus_vstor_srb *srb,
						   uint32_t max_transfer,
						   uint32_t range_count,
						   uint32_t range_bytes)
{
	uint32_t len = srb->data_transfer_length;

	if (srb->cdb_length == 0 || srb->cdb_length > CVMBUS_VSTOR_MAX_CDB)
		return CVMBUS_VSTOR_SRB_BAD_CDB_LENGTH;
	/* The sense area is 20 bytes: a guest claiming more room is confused
	 * or probing; answering it would be harmless but hides a bug. */
	if (srb->sense_info_length > CVMBUS_VSTOR_SENSE_SIZE)
		return CVMBUS_VSTOR_SRB_BAD_SENSE_LENGTH;
	if (srb->data_in > CVMBUS_VSTOR_DATA_UNKNOWN)
		return CVMBUS_VSTOR_SRB_BAD_DIRECTION;
	if (srb->data_in == CVMBUS_VSTOR_DATA_UNKNOWN && len != 0)
		return CVMBUS_VSTOR_SRB_BAD_DIRECTION;
	/* Exactly one range, or none for a command without data (OpenVMM's
	 * rule: storvsc sends one multi-page range per request). */
	if (range_count > 1)
		return CVMBUS_VSTOR_SRB_MANY_RANGES;
	if (len == 0)
		return CVMBUS_VSTOR_SRB_OK;
	if (len > max_transfer)
		return CVMBUS_VSTOR_SRB_TOO_LONG;
	if (range_count == 0)
		return CVMBUS_VSTOR_SRB_NO_RANGE;
	if (len > range_bytes)
		return CVMBUS_VSTOR_SRB_RANGE_SHORT;
	return CVMBUS_VSTOR_SRB_OK;
}

const char *cvmbus_vstor_srb_check_name(enum cvmbus_vstor_srb_check c)
{
	switch (c) {
	case CVMBUS_VSTOR_SRB_OK: return "ok";
	case CVMBUS_VSTOR_SRB_BAD_CDB_LENGTH: return "bad cdb length";
	case CVMBUS_VSTOR_SRB_BAD_SENSE_LENGTH: return "bad sense length";
	case CVMBUS_VSTOR_SRB_BAD_DIRECTION: return "bad direction";
	case CVMBUS_VSTOR_SRB_TOO_LONG: return "transfer too long";
	case CVMBUS_VSTOR_SRB_NO_RANGE: return "data without a gpa range";
	case CVMBUS_VSTOR_SRB_RANGE_SHORT: return "gpa range shorter than the transfer";
	case CVMBUS_VSTOR_SRB_MANY_RANGES: return "more than one gpa range";
	}
	return "unknown";
}

int cvmbus_vstor_check_completion(const struct cvmbus_vstor_packet *req,
				  const struct cvmbus_vstor_packet *resp, size_t resp_len,
				  uint16_t version)
{
	if (!req || !resp)
		return -EINVAL;
	/* Linux refuses a completion shorter than the packet it would send in
	 * the version in force (storvsc_on_channel_callback's length check). */
	if (resp_len < cvmbus_vstor_packet_size(version))
		return -EPROTO;
	if (resp->operation != CVMBUS_VSTOR_OP_COMPLETE_IO)
		return -EPROTO;
	if (req->operation != CVMBUS_VSTOR_OP_EXECUTE_SRB)
		return 0;
	/* Linux clamps these two; a VSC that trusts neither fails the request
	 * instead, so a lying device cannot make it copy past a buffer. */
	if (resp->srb.data_transfer_length > req->srb.data_transfer_length)
		return -EPROTO;
	if (resp->srb.sense_info_length > req->srb.sense_info_length ||
	    resp->srb.sense_info_length > cvmbus_vstor_sense_size(version))
		return -EPROTO;
	return 0;
}

uint32_t cvmbus_vstor_status_from_srb(uint8_t srb_status)
{
	switch (CVMBUS_SRB_STATUS_CODE(srb_status)) {
	case CVMBUS_SRB_STATUS_SUCCESS:
		return CVMBUS_VSTOR_STATUS_SUCCESS;
	case CVMBUS_SRB_STATUS_BUSY:
		return CVMBUS_VSTOR_STATUS_DEVICE_BUSY;
	case CVMBUS_SRB_STATUS_INVALID_LUN:
	case CVMBUS_SRB_STATUS_INVALID_TARGET_ID:
	case CVMBUS_SRB_STATUS_NO_DEVICE:
		return CVMBUS_VSTOR_STATUS_DEVICE_DOES_NOT_EXIST;
	case CVMBUS_SRB_STATUS_TIMEOUT:
		return CVMBUS_VSTOR_STATUS_IO_TIMEOUT;
	case CVMBUS_SRB_STATUS_BAD_FUNCTION:
	case CVMBUS_SRB_STATUS_BAD_SRB_BLOCK_LENGTH:
		return CVMBUS_VSTOR_STATUS_INVALID_DEVICE_REQUEST;
	case CVMBUS_SRB_STATUS_DATA_OVERRUN:
		return CVMBUS_VSTOR_STATUS_BUFFER_OVERFLOW;
	case CVMBUS_SRB_STATUS_REQUEST_FLUSHED:
		return CVMBUS_VSTOR_STATUS_UNSUCCESSFUL;
	case CVMBUS_SRB_STATUS_ABORTED:
		return CVMBUS_VSTOR_STATUS_CANCELLED;
	default:
		return CVMBUS_VSTOR_STATUS_IO_DEVICE_ERROR;
	}
}
