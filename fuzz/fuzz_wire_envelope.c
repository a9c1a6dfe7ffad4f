/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SynIC side of the wire layer (src/wire/synic.c):
 * the input, after the context prefix of fuzz_wire.h, is the 256-byte
 * struct hv_message a receiver copies out of its SIMP slot (zero-filled if
 * the input is shorter), with a hostile message_type and payload_size. It
 * checks that cvmbus_wire_decode_hv_message() is exactly "envelope check,
 * then decode payload[0..payload_size)": it fails with E_ENVELOPE iff the
 * envelope check fails, and otherwise gives the same result as decoding
 * the payload directly. A message it accepts must also survive
 * cvmbus_wire_build_post_message(), which must produce a VMBus post of the
 * same length with a cleared tail.
 */
#include <errno.h>

#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_in_make(data, size);
	struct fz_wire_ctx ctx = fz_wire_ctx_take(&in);
	uint8_t dir_sel = fz_u8(&in);
	enum cvmbus_wire_dir dir = (enum cvmbus_wire_dir)(dir_sel % 3u);
	struct cvmbus_wire_status st_env, st_msg, st_raw, st_post;
	struct cvmbus_wire_msg m_msg, m_raw;
	struct hv_input_post_message post;
	struct hv_message msg;
	int rc_env, rc_msg, rc_raw, n;
	size_t i;

	fz_take(&in, &msg, sizeof(msg));

	rc_env = cvmbus_wire_check_envelope(&msg, &st_env);
	rc_msg = cvmbus_wire_decode_hv_message(&msg, ctx.version, ctx.features, dir, &m_msg,
					       &st_msg);
	if (rc_env < 0) {
		FZ_CHECK(rc_env == -EBADMSG && st_env.error == CVMBUS_WIRE_E_ENVELOPE);
		FZ_CHECK(st_env.detail != NULL);
		FZ_CHECK(msg.header.message_type != HVMSG_VMBUS ||
			 msg.header.payload_size < CVMBUS_WIRE_HEADER_SIZE ||
			 msg.header.payload_size > HV_MESSAGE_PAYLOAD_SIZE);
		FZ_CHECK(rc_msg == rc_env && st_msg.error == CVMBUS_WIRE_E_ENVELOPE);
		return 0;
	}
	FZ_CHECK(rc_env == 0 && st_env.error == CVMBUS_WIRE_OK);
	FZ_CHECK(msg.header.message_type == HVMSG_VMBUS);
	FZ_CHECK(msg.header.payload_size >= CVMBUS_WIRE_HEADER_SIZE &&
		 msg.header.payload_size <= HV_MESSAGE_PAYLOAD_SIZE);

	rc_raw = cvmbus_wire_decode(msg.payload, msg.header.payload_size, ctx.version,
				    ctx.features, dir, &m_raw, &st_raw);
	FZ_CHECK(rc_msg == rc_raw);
	FZ_CHECK(st_msg.error == st_raw.error);
	FZ_CHECK(memcmp(&m_msg, &m_raw, sizeof(m_msg)) == 0);
	if (rc_msg < 0)
		return 0;

	/* Build the post from a page full of stale bytes: nothing of them may
	 * survive past the message. */
	memset(&post, 0xa5, sizeof(post));
	n = cvmbus_wire_build_post_message(&post, 0x1234u ^ dir_sel, &m_msg, &st_post);
	FZ_CHECK(n == (int)msg.header.payload_size);
	FZ_CHECK(post.connection_id == (0x1234u ^ dir_sel));
	FZ_CHECK(post.reserved == 0);
	FZ_CHECK(post.message_type == HVMSG_VMBUS);
	FZ_CHECK(post.payload_size == (uint32_t)n);
	for (i = (size_t)n; i < sizeof(post.payload); i++)
		FZ_CHECK(post.payload[i] == 0);
	/* The message type in the post is the one that was decoded. */
	FZ_CHECK(memcmp(post.payload, msg.payload, 4) == 0);
	return 0;
}
