/* SPDX-License-Identifier: MIT */
/*
 * The VMBus protocol table: for every channel message type its number, name,
 * direction, and each wire layout with its size(s), minimum version and
 * feature gate, plus the reserved bytes the encoder clears and the
 * consistency rules the decoder applies. The decoder (decode.c), the encoder
 * (encode.c) and the name functions (names.c) are all driven by this one
 * table; a caller never switches on the message type to validate a message.
 *
 * Facts come from the Linux guest (include/linux/hyperv.h) and OpenVMM
 * (vmbus_core protocol.rs, whose message table gives the minimum versions and
 * feature gates used here). Where the two differ the row says so.
 */
#include <errno.h>
#include <stddef.h>

#include "wire/wire_internal.h"

/* ---- Shorthands for rows ------------------------------------------------ */

#define V_FIXED(var, nm, size, ver, feat)                                                   \
	{ .variant = (var), .name = (nm), .min_size = (size), .max_size = (size),           \
	  .fixed_size = (size), .min_version = (ver), .features_any = (feat) }
#define V_SUPERSEDES(var, nm, size, ver, feat)                                              \
	{ .variant = (var), .name = (nm), .min_size = (size), .max_size = (size),           \
	  .fixed_size = (size), .min_version = (ver), .features_any = (feat),                \
	  .supersedes_smaller = true }
/* A fixed part and an array of 8-byte values, min_n..max_n of them. */
#define V_ARRAY(var, nm, fixed, min_n, max_n, ver)                                         \
	{ .variant = (var), .name = (nm), .min_size = (fixed) + 8u * (min_n),              \
	  .max_size = (fixed) + 8u * (max_n), .fixed_size = (fixed), .min_version = (ver),  \
	  .features_any = 0 }

#define SIZE_OF(t) ((uint16_t)sizeof(struct t))
#define OFF(t, f)  ((uint8_t)offsetof(struct t, f))

/* ---- Consistency rules -------------------------------------------------- */

/* A monitor page has 4 trigger groups of 32 bits. */
#define WIRE_MONITOR_IDS 128u

static int check_offer(const struct cvmbus_wire_msg *msg, struct cvmbus_wire_status *st)
{
	const struct cvmbus_msg_offer_channel *o = &msg->u.offer_channel;

	/* A client indexes trigger_group[monitor_id / 32] of a 4-group page
	 * with this value: an id past the page is a host-controlled index. */
	if ((o->monitor_allocated & 1u) && o->monitor_id >= WIRE_MONITOR_IDS)
		return wire_fail_inconsistent(st, "monitor_id past the monitor page");
	/* External memory can only be confidential if the ring is: Linux drops
	 * such an offer, OpenVMM never builds one. */
	if ((o->flags & CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY) &&
	    !(o->flags & CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER))
		return wire_fail_inconsistent(st, "confidential external memory without confidential ring");
	return 0;
}

static int gate_offer(const struct cvmbus_wire_msg *msg, uint32_t version, uint32_t features,
		      struct cvmbus_wire_status *st)
{
	uint16_t flags = msg->u.offer_channel.flags;
	uint16_t confidential = CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
				CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;

	/* A server clears these flags unless the feature was negotiated, so an
	 * offer that still has them is a server that ignores the negotiation. */
	if (flags & (confidential | CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY)) {
		if (version < CVMBUS_VERSION_6_0)
			return wire_fail_version(st, CVMBUS_VERSION_6_0, version);
	}
	if ((flags & confidential) && !(features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS))
		return wire_fail_feature(st, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, features);
	if ((flags & CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY) &&
	    !(features & CVMBUS_FEATURE_GPA_PINNING))
		return wire_fail_feature(st, CVMBUS_FEATURE_GPA_PINNING, features);
	return 0;
}

static int gate_open_channel2(const struct cvmbus_wire_msg *msg, uint32_t version,
			      uint32_t features, struct cvmbus_wire_status *st)
{
	(void)version;
	if ((msg->u.open_channel2.flags & CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT) &&
	    !(features & CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION))
		return wire_fail_feature(st, CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION, features);
	return 0;
}

/*
 * A GPADL header describes rangecount ranges in range_buflen bytes; each
 * range is an 8-byte {byte_count, byte_offset} and one PFN per page it
 * spans. This message carries the first data_count values; the rest follow
 * in GpadlBody messages. Everything that can be checked from this message
 * alone is: the ranges whose headers are here must be non-empty, start in
 * their first page and fit in range_buflen, and what is left of
 * range_buflen must still hold the ranges not seen yet.
 */
static int check_gpadl_header(const struct cvmbus_wire_msg *msg, struct cvmbus_wire_status *st)
{
	const struct cvmbus_msg_gpadl_header *h = &msg->u.gpadl_header;
	uint32_t buflen = h->range_buflen;
	uint32_t count = h->rangecount;
	uint32_t n = msg->data_count;
	uint64_t used = 0; /* bytes of range_buflen taken by the ranges walked */
	uint32_t pos = 0;  /* value index of the next range header */
	uint32_t seen = 0;

	if (count == 0)
		return wire_fail_inconsistent(st, "gpadl has no ranges");
	if (buflen % 8u != 0)
		return wire_fail_inconsistent(st, "range_buflen not a multiple of 8");
	/* Every range is at least its header and one PFN. */
	if (buflen < 16u * count)
		return wire_fail_inconsistent(st, "range_buflen too small for rangecount");
	if (8u * n > buflen)
		return wire_fail_inconsistent(st, "more range data than range_buflen");

	while (pos < n && seen < count) {
		uint64_t v = wire_load64(h->range_data + 8u * pos);
		uint32_t byte_count = (uint32_t)v;
		uint32_t byte_offset = (uint32_t)(v >> 32);
		uint64_t pages;

		if (byte_count == 0)
			return wire_fail_inconsistent(st, "empty gpa range");
		if (byte_offset >= HV_PAGE_SIZE)
			return wire_fail_inconsistent(st, "gpa range offset past its first page");
		pages = cvmbus_gpa_range_pages(byte_count, byte_offset);
		used += 8u * (1u + pages);
		if (used > buflen)
			return wire_fail_inconsistent(st, "ranges overflow range_buflen");
		pos += (uint32_t)(1u + pages); /* pages <= buflen / 8, no overflow */
		seen++;
	}
	if (seen == count) {
		/* All ranges known: they must fill range_buflen exactly, and this
		 * message must not carry values past the last one. */
		if (used != buflen)
			return wire_fail_inconsistent(st, "range_buflen does not match the ranges");
	} else if (buflen - used < 16u * (count - seen)) {
		return wire_fail_inconsistent(st, "range_buflen too small for rangecount");
	}
	return 0;
}

/* The client id layout is a 6.0 feature, but InitiateContact arrives before
 * any version is negotiated, so it is judged by what the message itself
 * requests (OpenVMM cannot check this in its table for the same reason). */
static int check_initiate_contact(const struct cvmbus_wire_msg *msg, struct cvmbus_wire_status *st)
{
	const struct cvmbus_msg_initiate_contact *ic = &msg->u.initiate_contact;

	if (msg->variant != CVMBUS_WIRE_INITIATE_CONTACT_CLIENT_ID)
		return 0;
	if (ic->version_requested < CVMBUS_VERSION_6_0)
		return wire_fail_version(st, CVMBUS_VERSION_6_0, ic->version_requested);
	if (!(ic->feature_flags & CVMBUS_FEATURE_CLIENT_ID))
		return wire_fail_feature(st, CVMBUS_FEATURE_CLIENT_ID, ic->feature_flags);
	return 0;
}

static void scrub_initiate_contact(struct cvmbus_wire_msg *msg)
{
	struct cvmbus_msg_initiate_contact *ic = &msg->u.initiate_contact;

	/* Before 5.0 the whole u64 at 16 is the interrupt page address: no
	 * reserved bytes there. From 5.0 on bytes 18-19 are reserved, and before
	 * 6.0 the feature flags word is reserved too. */
	if (ic->version_requested < CVMBUS_VERSION_5_0)
		return;
	ic->reserved[0] = 0;
	ic->reserved[1] = 0;
	if (ic->version_requested < CVMBUS_VERSION_6_0)
		ic->feature_flags = 0;
}

static int check_version_response(const struct cvmbus_wire_msg *msg,
				  struct cvmbus_wire_status *st)
{
	if (msg->variant == CVMBUS_WIRE_VERSION_RESPONSE3 &&
	    !(msg->u.version_response3.supported_features &
	      CVMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES))
		return wire_fail_inconsistent(st, "monitor pages without server_specified_monitor_pages");
	return 0;
}

/* The server grants a subset of what the client asked for; features here is
 * what the client requested (see cvmbus_wire_decode()). */
static int gate_version_response(const struct cvmbus_wire_msg *msg, uint32_t version,
				 uint32_t features, struct cvmbus_wire_status *st)
{
	(void)version;
	if (msg->variant == CVMBUS_WIRE_VERSION_RESPONSE)
		return 0;
	if (msg->u.version_response2.supported_features & ~features)
		return wire_fail_inconsistent(st, "server grants features that were not requested");
	return 0;
}

/* ---- The table ---------------------------------------------------------- */

#define TO_S CVMBUS_WIRE_TO_SERVER
#define TO_C CVMBUS_WIRE_TO_CLIENT

#define ROW_FIXED(t, nm, d, var, st, ver, feat)                                            \
	[t] = { .info = { .type = (t), .name = (nm), .dir = (d), .nvariants = 1,            \
			  .variants = { V_FIXED(var, nm, SIZE_OF(st), ver, feat) } } }

static const struct wire_type_row wire_table[CVMBUS_MSG_COUNT] = {
	[CVMBUS_MSG_OFFER_CHANNEL] = {
		.info = { .type = CVMBUS_MSG_OFFER_CHANNEL, .name = "offer_channel", .dir = TO_C,
			  .nvariants = 1,
			  .variants = { V_FIXED(CVMBUS_WIRE_OFFER_CHANNEL, "offer_channel",
						SIZE_OF(cvmbus_msg_offer_channel),
						CVMBUS_VERSION_0_13, 0) },
			  .rules = "monitor_id < 128 if monitor_allocated; confidential external "
				   "memory needs confidential ring; flags 0x2/0x4 need "
				   "confidential_channels, 0x8 needs gpa_pinning" },
		.layouts = { { .nreserved = 4,
			       .reserved = { { OFF(cvmbus_msg_offer_channel, reserved), 16, 0 },
					     { OFF(cvmbus_msg_offer_channel, monitor_allocated), 1, 0x01 },
					     { OFF(cvmbus_msg_offer_channel, is_dedicated_interrupt), 1, 0x01 },
					     { OFF(cvmbus_msg_offer_channel, is_dedicated_interrupt) + 1, 1, 0 } } } },
		.check = check_offer,
		.gate = gate_offer,
	},
	ROW_FIXED(CVMBUS_MSG_RESCIND_CHANNEL_OFFER, "rescind_channel_offer", TO_C,
		  CVMBUS_WIRE_RESCIND_CHANNEL_OFFER, cvmbus_msg_relid, CVMBUS_VERSION_0_13, 0),
	ROW_FIXED(CVMBUS_MSG_REQUEST_OFFERS, "request_offers", TO_S,
		  CVMBUS_WIRE_REQUEST_OFFERS, cvmbus_msg_empty, CVMBUS_VERSION_0_13, 0),
	ROW_FIXED(CVMBUS_MSG_ALL_OFFERS_DELIVERED, "all_offers_delivered", TO_C,
		  CVMBUS_WIRE_ALL_OFFERS_DELIVERED, cvmbus_msg_empty, CVMBUS_VERSION_0_13, 0),
	[CVMBUS_MSG_OPEN_CHANNEL] = {
		.info = { .type = CVMBUS_MSG_OPEN_CHANNEL, .name = "open_channel", .dir = TO_S,
			  .nvariants = 2,
			  .variants = {
				  /* OpenVMM: once 6.0 and either feature are negotiated the
				   * 156-byte layout is the only one accepted. */
				  V_SUPERSEDES(CVMBUS_WIRE_OPEN_CHANNEL2, "open_channel2",
					       SIZE_OF(cvmbus_msg_open_channel2), CVMBUS_VERSION_6_0,
					       CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |
						       CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION),
				  V_FIXED(CVMBUS_WIRE_OPEN_CHANNEL, "open_channel",
					  SIZE_OF(cvmbus_msg_open_channel), CVMBUS_VERSION_0_13, 0) },
			  .rules = "156-byte layout required once it is allowed; redirect_interrupt "
				   "flag needs channel_interrupt_redirection" },
		.layouts = { { .nreserved = 2,
			       .reserved = { { OFF(cvmbus_msg_open_channel2, flags), 1, 0x01 },
					     { OFF(cvmbus_msg_open_channel2, flags) + 1, 1, 0 } } },
			     { .nreserved = 0 } },
		.gate = gate_open_channel2,
	},
	ROW_FIXED(CVMBUS_MSG_OPEN_CHANNEL_RESULT, "open_channel_result", TO_C,
		  CVMBUS_WIRE_OPEN_CHANNEL_RESULT, cvmbus_msg_open_result, CVMBUS_VERSION_0_13, 0),
	ROW_FIXED(CVMBUS_MSG_CLOSE_CHANNEL, "close_channel", TO_S,
		  CVMBUS_WIRE_CLOSE_CHANNEL, cvmbus_msg_relid, CVMBUS_VERSION_0_13, 0),
	[CVMBUS_MSG_GPADL_HEADER] = {
		.info = { .type = CVMBUS_MSG_GPADL_HEADER, .name = "gpadl_header", .dir = TO_S,
			  .nvariants = 1,
			  .variants = { V_ARRAY(CVMBUS_WIRE_GPADL_HEADER, "gpadl_header",
						CVMBUS_GPADL_HEADER_FIXED_SIZE, 1,
						CVMBUS_GPADL_HEADER_MAX_VALUES, CVMBUS_VERSION_0_13) },
			  .rules = "rangecount >= 1; range_buflen a multiple of 8, >= 16 per range, "
				   ">= the data carried; each range non-empty, offset < 4096, "
				   "ranges exactly fill range_buflen" },
		.check = check_gpadl_header,
	},
	[CVMBUS_MSG_GPADL_BODY] = {
		.info = { .type = CVMBUS_MSG_GPADL_BODY, .name = "gpadl_body", .dir = TO_S,
			  .nvariants = 1,
			  .variants = { V_ARRAY(CVMBUS_WIRE_GPADL_BODY, "gpadl_body",
						CVMBUS_GPADL_BODY_FIXED_SIZE, 1,
						CVMBUS_GPADL_BODY_MAX_PFNS, CVMBUS_VERSION_0_13) },
			  .rules = "1 to 28 PFNs" },
	},
	ROW_FIXED(CVMBUS_MSG_GPADL_CREATED, "gpadl_created", TO_C,
		  CVMBUS_WIRE_GPADL_CREATED, cvmbus_msg_gpadl_created, CVMBUS_VERSION_0_13, 0),
	ROW_FIXED(CVMBUS_MSG_GPADL_TEARDOWN, "gpadl_teardown", TO_S,
		  CVMBUS_WIRE_GPADL_TEARDOWN, cvmbus_msg_gpadl_teardown, CVMBUS_VERSION_0_13, 0),
	ROW_FIXED(CVMBUS_MSG_GPADL_TORNDOWN, "gpadl_torndown", TO_C,
		  CVMBUS_WIRE_GPADL_TORNDOWN, cvmbus_msg_gpadl_torndown, CVMBUS_VERSION_0_13, 0),
	ROW_FIXED(CVMBUS_MSG_RELID_RELEASED, "relid_released", TO_S,
		  CVMBUS_WIRE_RELID_RELEASED, cvmbus_msg_relid, CVMBUS_VERSION_0_13, 0),
	[CVMBUS_MSG_INITIATE_CONTACT] = {
		/* Minimum version 0: it is what creates the connection. */
		.info = { .type = CVMBUS_MSG_INITIATE_CONTACT, .name = "initiate_contact",
			  .dir = TO_S, .nvariants = 2,
			  .variants = {
				  V_FIXED(CVMBUS_WIRE_INITIATE_CONTACT_CLIENT_ID,
					  "initiate_contact_client_id",
					  SIZE_OF(cvmbus_msg_initiate_contact_client_id), 0, 0),
				  V_FIXED(CVMBUS_WIRE_INITIATE_CONTACT, "initiate_contact",
					  SIZE_OF(cvmbus_msg_initiate_contact), 0, 0) },
			  .rules = "56-byte layout only if the message itself requests >= 6.0 "
				   "and client_id" },
		.layouts = { { .nreserved = 0 }, { .nreserved = 0 } },
		.check = check_initiate_contact,
		.scrub = scrub_initiate_contact,
	},
	[CVMBUS_MSG_VERSION_RESPONSE] = {
		.info = { .type = CVMBUS_MSG_VERSION_RESPONSE, .name = "version_response",
			  .dir = TO_C, .nvariants = 3,
			  .variants = {
				  V_FIXED(CVMBUS_WIRE_VERSION_RESPONSE3, "version_response3",
					  SIZE_OF(cvmbus_msg_version_response3), CVMBUS_VERSION_6_0,
					  CVMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES),
				  V_FIXED(CVMBUS_WIRE_VERSION_RESPONSE2, "version_response2",
					  SIZE_OF(cvmbus_msg_version_response2), CVMBUS_VERSION_6_0, 0),
				  V_FIXED(CVMBUS_WIRE_VERSION_RESPONSE, "version_response",
					  SIZE_OF(cvmbus_msg_version_response), 0, 0) },
			  .rules = "gated by the version/features the client requested; "
				   "supported_features within those requested; 40-byte layout "
				   "needs supported_features 0x40" },
		.layouts = {
			{ .nreserved = 2,
			  .reserved = { { OFF(cvmbus_msg_version_response3, padding), 2, 0 },
					{ OFF(cvmbus_msg_version_response3, padding2), 4, 0 } } },
			{ .nreserved = 1,
			  .reserved = { { OFF(cvmbus_msg_version_response2, padding), 2, 0 } } },
			{ .nreserved = 1,
			  .reserved = { { OFF(cvmbus_msg_version_response, padding), 2, 0 } } } },
		.check = check_version_response,
		.gate = gate_version_response,
	},
	ROW_FIXED(CVMBUS_MSG_UNLOAD, "unload", TO_S,
		  CVMBUS_WIRE_UNLOAD, cvmbus_msg_empty, CVMBUS_VERSION_0_13, 0),
	ROW_FIXED(CVMBUS_MSG_UNLOAD_RESPONSE, "unload_response", TO_C,
		  CVMBUS_WIRE_UNLOAD_RESPONSE, cvmbus_msg_empty, CVMBUS_VERSION_1_1, 0),
	ROW_FIXED(CVMBUS_MSG_OPEN_RESERVED_CHANNEL, "open_reserved_channel", TO_S,
		  CVMBUS_WIRE_OPEN_RESERVED_CHANNEL, cvmbus_msg_open_reserved_channel,
		  CVMBUS_VERSION_4_0, 0),
	/* Version 0, as in OpenVMM: a client may close a reserved channel left
	 * open by a previous connection before it connects again. */
	ROW_FIXED(CVMBUS_MSG_CLOSE_RESERVED_CHANNEL, "close_reserved_channel", TO_S,
		  CVMBUS_WIRE_CLOSE_RESERVED_CHANNEL, cvmbus_msg_close_reserved_channel, 0, 0),
	ROW_FIXED(CVMBUS_MSG_CLOSE_RESERVED_RESPONSE, "close_reserved_response", TO_C,
		  CVMBUS_WIRE_CLOSE_RESERVED_RESPONSE, cvmbus_msg_relid, CVMBUS_VERSION_4_0, 0),
	[CVMBUS_MSG_TL_CONNECT_REQUEST] = {
		/* Some clients keep sending the 40-byte form under 5.2, so the
		 * larger layout does not supersede the smaller one. */
		.info = { .type = CVMBUS_MSG_TL_CONNECT_REQUEST, .name = "tl_connect_request",
			  .dir = TO_S, .nvariants = 2,
			  .variants = {
				  V_FIXED(CVMBUS_WIRE_TL_CONNECT_REQUEST2, "tl_connect_request2",
					  SIZE_OF(cvmbus_msg_tl_connect_request2), CVMBUS_VERSION_5_2, 0),
				  V_FIXED(CVMBUS_WIRE_TL_CONNECT_REQUEST, "tl_connect_request",
					  SIZE_OF(cvmbus_msg_tl_connect_request), CVMBUS_VERSION_4_0, 0) } },
	},
	ROW_FIXED(CVMBUS_MSG_MODIFY_CHANNEL, "modify_channel", TO_S,
		  CVMBUS_WIRE_MODIFY_CHANNEL, cvmbus_msg_modify_channel, CVMBUS_VERSION_4_1, 0),
	ROW_FIXED(CVMBUS_MSG_TL_CONNECT_RESULT, "tl_connect_result", TO_C,
		  CVMBUS_WIRE_TL_CONNECT_RESULT, cvmbus_msg_tl_connect_result, CVMBUS_VERSION_4_1, 0),
	ROW_FIXED(CVMBUS_MSG_MODIFY_CHANNEL_RESPONSE, "modify_channel_response", TO_C,
		  CVMBUS_WIRE_MODIFY_CHANNEL_RESPONSE, cvmbus_msg_modify_channel_response,
		  CVMBUS_VERSION_5_3, 0),
	ROW_FIXED(CVMBUS_MSG_MODIFY_CONNECTION, "modify_connection", TO_S,
		  CVMBUS_WIRE_MODIFY_CONNECTION, cvmbus_msg_modify_connection, CVMBUS_VERSION_6_0,
		  CVMBUS_FEATURE_MODIFY_CONNECTION),
	ROW_FIXED(CVMBUS_MSG_MODIFY_CONNECTION_RESPONSE, "modify_connection_response", TO_C,
		  CVMBUS_WIRE_MODIFY_CONNECTION_RESPONSE, cvmbus_msg_modify_connection_response,
		  CVMBUS_VERSION_6_0, CVMBUS_FEATURE_MODIFY_CONNECTION),
	ROW_FIXED(CVMBUS_MSG_PAUSE, "pause", TO_S,
		  CVMBUS_WIRE_PAUSE, cvmbus_msg_empty, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_PAUSE_RESUME),
	ROW_FIXED(CVMBUS_MSG_PAUSE_RESPONSE, "pause_response", TO_C,
		  CVMBUS_WIRE_PAUSE_RESPONSE, cvmbus_msg_empty, CVMBUS_VERSION_6_0,
		  CVMBUS_FEATURE_PAUSE_RESUME),
	ROW_FIXED(CVMBUS_MSG_RESUME, "resume", TO_S,
		  CVMBUS_WIRE_RESUME, cvmbus_msg_empty, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_PAUSE_RESUME),
};

/* Every row's variants are listed largest first: decode matches sizes in
 * that order and the supersede rule looks only at larger layouts. */
_Static_assert(sizeof(struct cvmbus_msg_open_channel2) > sizeof(struct cvmbus_msg_open_channel),
	       "open order");
_Static_assert(sizeof(struct cvmbus_msg_version_response3) >
		       sizeof(struct cvmbus_msg_version_response2),
	       "version response order");

const struct wire_type_row *wire_row(uint32_t type)
{
	if (type == CVMBUS_MSG_INVALID || type >= CVMBUS_MSG_COUNT)
		return NULL;
	return &wire_table[type];
}

const struct wire_type_row *wire_row_of_variant(enum cvmbus_wire_variant variant,
						unsigned *index)
{
	if ((unsigned)variant == CVMBUS_WIRE_NONE || (unsigned)variant >= CVMBUS_WIRE_VARIANT_COUNT)
		return NULL;
	for (uint32_t t = 1; t < CVMBUS_MSG_COUNT; t++) {
		const struct wire_type_row *row = &wire_table[t];

		for (unsigned i = 0; i < row->info.nvariants; i++) {
			if (row->info.variants[i].variant == variant) {
				if (index)
					*index = i;
				return row;
			}
		}
	}
	return NULL;
}

const struct cvmbus_wire_type_info *cvmbus_wire_type_info(uint32_t type)
{
	const struct wire_type_row *row = wire_row(type);

	return row ? &row->info : NULL;
}

const struct cvmbus_wire_variant_info *
cvmbus_wire_variant_info(enum cvmbus_wire_variant variant,
			 const struct cvmbus_wire_type_info **type_info)
{
	unsigned i;
	const struct wire_type_row *row = wire_row_of_variant(variant, &i);

	if (!row)
		return NULL;
	if (type_info)
		*type_info = &row->info;
	return &row->info.variants[i];
}
