/* SPDX-License-Identifier: MIT */
/*
 * The VMBus control-plane wire format: the 29 channel messages that a VMBus
 * client and server exchange through HvPostMessage and SynIC message slots,
 * the protocol versions and feature flags that decide which of them are
 * allowed, offer flags, status codes, and the table-driven decoder and
 * encoder. This is the bottom layer of libcvmbus (src/wire/); it depends only
 * on hv.h (the hypervisor ABI) and is used by the server, the client, the
 * paravisor relay and the trace code above it.
 *
 * Every struct below is the exact little-endian wire layout, header included,
 * with each size and each documented offset pinned by a _Static_assert. The
 * layouts use natural alignment; only the one message whose size is not a
 * multiple of its alignment (ModifyConnectionResponse, 9 bytes) is packed.
 *
 * Decoding is "copy, then validate": cvmbus_wire_decode() copies the bytes
 * into a cvmbus_wire_msg it owns and validates that copy against the protocol
 * table (size or size variant, minimum version, feature gates, direction,
 * internal consistency). Nothing in it ever reads the caller's buffer twice,
 * so a peer that rewrites shared memory during decoding cannot change what
 * was validated.
 */
#ifndef CVMBUS_WIRE_H
#define CVMBUS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmbus/hv.h"

/* The layouts are little-endian and the structs are overlaid on the bytes. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cvmbus wire structs assume a little-endian host"
#endif

/* ---- Sizes ------------------------------------------------------------- */

#define CVMBUS_WIRE_HEADER_SIZE 8u
/* A channel message is one SynIC message payload. */
#define CVMBUS_WIRE_MAX_SIZE    HV_MESSAGE_PAYLOAD_SIZE /* 240 */
#define CVMBUS_USER_DEFINED_SIZE 120u

/* ---- Protocol versions ------------------------------------------------- */

/* version = major << 16 | minor. */
#define CVMBUS_MAKE_VERSION(maj, min) ((uint32_t)(((uint32_t)(maj) << 16) | ((uint32_t)(min) & 0xFFFFu)))
#define CVMBUS_VERSION_MAJOR(v)       ((uint32_t)(v) >> 16)
#define CVMBUS_VERSION_MINOR(v)       ((uint32_t)(v) & 0xFFFFu)

#define CVMBUS_VERSION_0_13 CVMBUS_MAKE_VERSION(0, 13) /* 0x0000000D WS2008 */
#define CVMBUS_VERSION_1_1  CVMBUS_MAKE_VERSION(1, 1)  /* 0x00010001 Windows 7 */
#define CVMBUS_VERSION_2_4  CVMBUS_MAKE_VERSION(2, 4)  /* 0x00020004 Windows 8: per-relid event flags */
#define CVMBUS_VERSION_3_0  CVMBUS_MAKE_VERSION(3, 0)  /* 0x00030000 Windows 8.1: unload */
#define CVMBUS_VERSION_4_0  CVMBUS_MAKE_VERSION(4, 0)  /* 0x00040000 Windows 10: reserved channels, hvsock */
#define CVMBUS_VERSION_4_1  CVMBUS_MAKE_VERSION(4, 1)  /* 0x00040001 Windows 10 RS3: modify channel */
#define CVMBUS_VERSION_5_0  CVMBUS_MAKE_VERSION(5, 0)  /* 0x00050000 target SINT, connection id 4 */
#define CVMBUS_VERSION_5_1  CVMBUS_MAKE_VERSION(5, 1)  /* 0x00050001 target VTL */
#define CVMBUS_VERSION_5_2  CVMBUS_MAKE_VERSION(5, 2)  /* 0x00050002 WS2019: hvsock silo id */
#define CVMBUS_VERSION_5_3  CVMBUS_MAKE_VERSION(5, 3)  /* 0x00050003 WS2022: modify channel response */
#define CVMBUS_VERSION_6_0  CVMBUS_MAKE_VERSION(6, 0)  /* 0x00060000 feature flags */
#define CVMBUS_VERSION_LATEST CVMBUS_VERSION_6_0

/* ---- Feature flags (negotiated from 6.0 on) ---------------------------- */

/* The guest chooses the connection id and event flag in OpenChannel2. */
#define CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS 0x01u
/* OpenChannel2.flags may carry CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT. */
#define CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION     0x02u
/* ModifyConnection / ModifyConnectionResponse (25, 26) are allowed. */
#define CVMBUS_FEATURE_MODIFY_CONNECTION                 0x04u
/* InitiateContact carries a client GUID (the 56-byte variant). */
#define CVMBUS_FEATURE_CLIENT_ID                         0x08u
/* Offers may carry the confidential ring / external memory flags. Granted
 * only by a paravisor to a trusted InitiateContact. */
#define CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS             0x10u
/* Pause / PauseResponse / Resume (27-29) are allowed. */
#define CVMBUS_FEATURE_PAUSE_RESUME                      0x20u
/* The server chooses the monitor pages (VersionResponse, 40-byte variant). */
#define CVMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES    0x40u
/* Offers may require pinned external memory. */
#define CVMBUS_FEATURE_GPA_PINNING                       0x80u
#define CVMBUS_FEATURE_ALL                               0xFFu

/* ---- Offer flags (OfferChannel.flags, u16) ----------------------------- */

#define CVMBUS_OFFER_ENUMERATE_DEVICE_INTERFACE     0x0001u
#define CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER       0x0002u /* ring stays private */
#define CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY   0x0004u /* extra GPADLs stay private */
#define CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY 0x0008u
#define CVMBUS_OFFER_NAMED_PIPE_MODE                0x0010u
#define CVMBUS_OFFER_LOOPBACK                       0x0100u
#define CVMBUS_OFFER_PARENT_OFFER                   0x0200u
#define CVMBUS_OFFER_REQUEST_MONITORED_NOTIFICATION 0x0400u
#define CVMBUS_OFFER_TLNPI_PROVIDER                 0x2000u /* hv_sock */
#define CVMBUS_OFFER_KNOWN_FLAGS                    0x271Fu

/* OpenChannel2.flags */
#define CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT 0x0001u
/* OpenChannel.target_vp value that turns interrupts off for the channel. */
#define CVMBUS_VP_INDEX_DISABLE_INTERRUPT   0xFFFFFFFFu

/* ---- Connection states and status codes -------------------------------- */

/* VersionResponse.connection_state, ModifyConnectionResponse.connection_state */
enum cvmbus_connection_state {
	CVMBUS_CONNECTION_SUCCESSFUL = 0,
	CVMBUS_CONNECTION_FAILED_LOW_RESOURCES = 1,
	CVMBUS_CONNECTION_FAILED_UNKNOWN_FAILURE = 2,
};

/* NTSTATUS values carried in OpenResult, GpadlCreated, TlConnectResult,
 * ModifyChannelResponse. */
#define CVMBUS_STATUS_SUCCESS            0x00000000u
#define CVMBUS_STATUS_UNSUCCESSFUL       0x8000FFFFu
#define CVMBUS_STATUS_CONNECTION_REFUSED 0xC0000236u

/* ---- Message types ----------------------------------------------------- */

enum cvmbus_msg_type {
	CVMBUS_MSG_INVALID = 0,
	CVMBUS_MSG_OFFER_CHANNEL = 1,
	CVMBUS_MSG_RESCIND_CHANNEL_OFFER = 2,
	CVMBUS_MSG_REQUEST_OFFERS = 3,
	CVMBUS_MSG_ALL_OFFERS_DELIVERED = 4,
	CVMBUS_MSG_OPEN_CHANNEL = 5,
	CVMBUS_MSG_OPEN_CHANNEL_RESULT = 6,
	CVMBUS_MSG_CLOSE_CHANNEL = 7,
	CVMBUS_MSG_GPADL_HEADER = 8,
	CVMBUS_MSG_GPADL_BODY = 9,
	CVMBUS_MSG_GPADL_CREATED = 10,
	CVMBUS_MSG_GPADL_TEARDOWN = 11,
	CVMBUS_MSG_GPADL_TORNDOWN = 12,
	CVMBUS_MSG_RELID_RELEASED = 13,
	CVMBUS_MSG_INITIATE_CONTACT = 14,
	CVMBUS_MSG_VERSION_RESPONSE = 15,
	CVMBUS_MSG_UNLOAD = 16,
	CVMBUS_MSG_UNLOAD_RESPONSE = 17,
	CVMBUS_MSG_OPEN_RESERVED_CHANNEL = 18,
	CVMBUS_MSG_CLOSE_RESERVED_CHANNEL = 19,
	CVMBUS_MSG_CLOSE_RESERVED_RESPONSE = 20,
	CVMBUS_MSG_TL_CONNECT_REQUEST = 21,
	CVMBUS_MSG_MODIFY_CHANNEL = 22,
	CVMBUS_MSG_TL_CONNECT_RESULT = 23,
	CVMBUS_MSG_MODIFY_CHANNEL_RESPONSE = 24,
	CVMBUS_MSG_MODIFY_CONNECTION = 25,
	CVMBUS_MSG_MODIFY_CONNECTION_RESPONSE = 26,
	CVMBUS_MSG_PAUSE = 27,
	CVMBUS_MSG_PAUSE_RESPONSE = 28,
	CVMBUS_MSG_RESUME = 29,
	CVMBUS_MSG_COUNT = 30,
};

/* One value per wire layout. A message type with several layouts (chosen by
 * size, version and features) has one variant per layout. This is the tag of
 * struct cvmbus_wire_msg. */
enum cvmbus_wire_variant {
	CVMBUS_WIRE_NONE = 0,
	CVMBUS_WIRE_OFFER_CHANNEL,
	CVMBUS_WIRE_RESCIND_CHANNEL_OFFER,
	CVMBUS_WIRE_REQUEST_OFFERS,
	CVMBUS_WIRE_ALL_OFFERS_DELIVERED,
	CVMBUS_WIRE_OPEN_CHANNEL,            /* 148 bytes */
	CVMBUS_WIRE_OPEN_CHANNEL2,           /* 156 bytes, 6.0 + signal params or redirection */
	CVMBUS_WIRE_OPEN_CHANNEL_RESULT,
	CVMBUS_WIRE_CLOSE_CHANNEL,
	CVMBUS_WIRE_GPADL_HEADER,
	CVMBUS_WIRE_GPADL_BODY,
	CVMBUS_WIRE_GPADL_CREATED,
	CVMBUS_WIRE_GPADL_TEARDOWN,
	CVMBUS_WIRE_GPADL_TORNDOWN,
	CVMBUS_WIRE_RELID_RELEASED,
	CVMBUS_WIRE_INITIATE_CONTACT,        /* 40 bytes */
	CVMBUS_WIRE_INITIATE_CONTACT_CLIENT_ID, /* 56 bytes, 6.0 + client_id */
	CVMBUS_WIRE_VERSION_RESPONSE,        /* 16 bytes */
	CVMBUS_WIRE_VERSION_RESPONSE2,       /* 20 bytes, 6.0: supported_features */
	CVMBUS_WIRE_VERSION_RESPONSE3,       /* 40 bytes, 6.0 + server monitor pages */
	CVMBUS_WIRE_UNLOAD,
	CVMBUS_WIRE_UNLOAD_RESPONSE,
	CVMBUS_WIRE_OPEN_RESERVED_CHANNEL,
	CVMBUS_WIRE_CLOSE_RESERVED_CHANNEL,
	CVMBUS_WIRE_CLOSE_RESERVED_RESPONSE,
	CVMBUS_WIRE_TL_CONNECT_REQUEST,      /* 40 bytes */
	CVMBUS_WIRE_TL_CONNECT_REQUEST2,     /* 56 bytes, 5.2: silo id */
	CVMBUS_WIRE_MODIFY_CHANNEL,
	CVMBUS_WIRE_TL_CONNECT_RESULT,
	CVMBUS_WIRE_MODIFY_CHANNEL_RESPONSE,
	CVMBUS_WIRE_MODIFY_CONNECTION,
	CVMBUS_WIRE_MODIFY_CONNECTION_RESPONSE,
	CVMBUS_WIRE_PAUSE,
	CVMBUS_WIRE_PAUSE_RESPONSE,
	CVMBUS_WIRE_RESUME,
	CVMBUS_WIRE_VARIANT_COUNT,
};

/* Who sends a message. The decoder takes the direction it is receiving on. */
enum cvmbus_wire_dir {
	CVMBUS_WIRE_DIR_ANY = 0,       /* decode: do not check the direction */
	CVMBUS_WIRE_TO_SERVER = 1,     /* client -> server (guest -> host/paravisor) */
	CVMBUS_WIRE_TO_CLIENT = 2,     /* server -> client */
};

/* ---- Wire layouts ------------------------------------------------------ */

/* A GUID as Windows lays it out: data1-3 little-endian, data4 bytes. */
struct cvmbus_guid {
	uint32_t data1;
	uint16_t data2;
	uint16_t data3;
	uint8_t data4[8];
};
_Static_assert(sizeof(struct cvmbus_guid) == 16, "guid");

struct cvmbus_msg_header {
	uint32_t msgtype;
	uint32_t padding; /* zero on send, ignored on receive */
};
_Static_assert(sizeof(struct cvmbus_msg_header) == 8, "header");
_Static_assert(offsetof(struct cvmbus_msg_header, padding) == 4, "header.padding");

/* Messages that are only a header: RequestOffers (3), AllOffersDelivered (4),
 * Unload (16), UnloadResponse (17), Pause (27), PauseResponse (28),
 * Resume (29). */
struct cvmbus_msg_empty {
	struct cvmbus_msg_header hdr;
};
_Static_assert(sizeof(struct cvmbus_msg_empty) == 8, "empty");

/* 1: OfferChannel, server -> client. */
struct cvmbus_msg_offer_channel {
	struct cvmbus_msg_header hdr;
	struct cvmbus_guid if_type;      /* @8: device class */
	struct cvmbus_guid if_instance;  /* @24: this device */
	/* Four u32, not two u64 as Linux writes them, so that the struct keeps
	 * 4-byte alignment and its size stays 196. May be non-zero before 2.4. */
	uint32_t reserved[4];            /* @40 */
	uint16_t flags;                  /* @56: CVMBUS_OFFER_* */
	uint16_t mmio_megabytes;         /* @58 */
	uint8_t user_defined[CVMBUS_USER_DEFINED_SIZE]; /* @60: pipe mode / hvsock params */
	uint16_t sub_channel_index;      /* @180: 0 = primary channel */
	uint16_t mmio_megabytes_optional; /* @182: Linux calls it reserved3 */
	uint32_t child_relid;            /* @184 */
	uint8_t monitor_id;              /* @188 */
	uint8_t monitor_allocated;       /* @189: bit 0; bits 7:1 reserved */
	uint16_t is_dedicated_interrupt; /* @190: bit 0; bits 15:1 reserved */
	uint32_t connection_id;          /* @192: HvSignalEvent target */
};
_Static_assert(sizeof(struct cvmbus_msg_offer_channel) == 196, "offer_channel");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, if_type) == 8, "if_type");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, if_instance) == 24, "if_instance");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, reserved) == 40, "reserved");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, flags) == 56, "chn_flags");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, mmio_megabytes) == 58, "mmio");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, user_defined) == 60, "user_defined");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, sub_channel_index) == 180, "subidx");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, mmio_megabytes_optional) == 182, "mmio opt");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, child_relid) == 184, "child_relid");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, monitor_id) == 188, "monitor_id");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, monitor_allocated) == 189, "mon alloc");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, is_dedicated_interrupt) == 190, "dedicated");
_Static_assert(offsetof(struct cvmbus_msg_offer_channel, connection_id) == 192, "connection_id");

/* 2: RescindChannelOffer (server -> client), 7: CloseChannel (client ->
 * server), 13: RelIdReleased (client -> server), 20: CloseReservedResponse
 * (server -> client): a relid and nothing else. */
struct cvmbus_msg_relid {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid; /* @8 */
};
_Static_assert(sizeof(struct cvmbus_msg_relid) == 12, "relid msg");
_Static_assert(offsetof(struct cvmbus_msg_relid, child_relid) == 8, "relid");

/* 5: OpenChannel, client -> server, the 148-byte layout. */
struct cvmbus_msg_open_channel {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid;        /* @8 */
	uint32_t openid;             /* @12: echoed in OpenResult */
	uint32_t ringbuffer_gpadl;   /* @16: one GPADL, send ring then receive ring */
	uint32_t target_vp;          /* @20: CVMBUS_VP_INDEX_DISABLE_INTERRUPT = none */
	uint32_t downstream_ring_page_offset; /* @24: in 4 KiB pages */
	uint8_t user_data[CVMBUS_USER_DEFINED_SIZE]; /* @28 */
};
_Static_assert(sizeof(struct cvmbus_msg_open_channel) == 148, "open_channel");
_Static_assert(offsetof(struct cvmbus_msg_open_channel, openid) == 12, "openid");
_Static_assert(offsetof(struct cvmbus_msg_open_channel, ringbuffer_gpadl) == 16, "gpadl");
_Static_assert(offsetof(struct cvmbus_msg_open_channel, target_vp) == 20, "target_vp");
_Static_assert(offsetof(struct cvmbus_msg_open_channel, downstream_ring_page_offset) == 24, "ds");
_Static_assert(offsetof(struct cvmbus_msg_open_channel, user_data) == 28, "user_data");

/* 5: OpenChannel2, the 156-byte layout: the 148 bytes above, then the
 * guest-specified signal parameters and open flags. The leading fields are
 * the same, so a 148- and a 156-byte open can both be read through
 * cvmbus_msg_open_channel (common initial sequence of the union members). */
struct cvmbus_msg_open_channel2 {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t ringbuffer_gpadl;
	uint32_t target_vp;
	uint32_t downstream_ring_page_offset;
	uint8_t user_data[CVMBUS_USER_DEFINED_SIZE];
	uint32_t connection_id;      /* @148: with guest_specified_signal_parameters */
	uint16_t event_flag;         /* @152: with guest_specified_signal_parameters */
	uint16_t flags;              /* @154: CVMBUS_OPEN_FLAG_*; bits 15:1 reserved */
};
_Static_assert(sizeof(struct cvmbus_msg_open_channel2) == 156, "open_channel2");
_Static_assert(offsetof(struct cvmbus_msg_open_channel2, user_data) == 28, "user_data");
_Static_assert(offsetof(struct cvmbus_msg_open_channel2, connection_id) == 148, "conn id");
_Static_assert(offsetof(struct cvmbus_msg_open_channel2, event_flag) == 152, "event_flag");
_Static_assert(offsetof(struct cvmbus_msg_open_channel2, flags) == 154, "open flags");

/* 6: OpenResult, server -> client. */
struct cvmbus_msg_open_result {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid; /* @8 */
	uint32_t openid;      /* @12 */
	uint32_t status;      /* @16: CVMBUS_STATUS_* */
};
_Static_assert(sizeof(struct cvmbus_msg_open_result) == 20, "open_result");
_Static_assert(offsetof(struct cvmbus_msg_open_result, openid) == 12, "openid");
_Static_assert(offsetof(struct cvmbus_msg_open_result, status) == 16, "status");

/* 8: GpadlHeader, client -> server. A fixed 20-byte part, then the GPA
 * ranges: each range is {u32 byte_count, u32 byte_offset} followed by one u64
 * PFN per page it spans. The range data is a whole number of 8-byte values
 * that starts at offset 20, so the u64 PFNs sit at 4-byte-aligned offsets:
 * the data is kept as bytes and read with cvmbus_wire_gpadl_value(). The
 * whole GPADL (range_buflen bytes) may continue in GpadlBody messages. */
#define CVMBUS_GPADL_HEADER_FIXED_SIZE 20u
/* (240 - 20) / 8 = 27 values: one range header and 26 PFNs, as Linux packs
 * it, or any other split of ranges and PFNs. */
#define CVMBUS_GPADL_HEADER_MAX_VALUES \
	((CVMBUS_WIRE_MAX_SIZE - CVMBUS_GPADL_HEADER_FIXED_SIZE) / 8u)
#define CVMBUS_GPADL_HEADER_MAX_PFNS_ONE_RANGE (CVMBUS_GPADL_HEADER_MAX_VALUES - 1u)
#define CVMBUS_GPADL_HEADER_MAX_SIZE \
	(CVMBUS_GPADL_HEADER_FIXED_SIZE + 8u * CVMBUS_GPADL_HEADER_MAX_VALUES) /* 236 */

struct cvmbus_msg_gpadl_header {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid;   /* @8 */
	uint32_t gpadl;         /* @12: handle chosen by the client */
	uint16_t range_buflen;  /* @16: bytes of range data in the whole GPADL */
	uint16_t rangecount;    /* @18: number of ranges */
	uint8_t range_data[8u * CVMBUS_GPADL_HEADER_MAX_VALUES]; /* @20 */
};
_Static_assert(CVMBUS_GPADL_HEADER_MAX_VALUES == 27, "27 values in a gpadl header");
_Static_assert(CVMBUS_GPADL_HEADER_MAX_PFNS_ONE_RANGE == 26, "26 pfns with one range");
_Static_assert(sizeof(struct cvmbus_msg_gpadl_header) == CVMBUS_GPADL_HEADER_MAX_SIZE, "gpadl hdr");
_Static_assert(sizeof(struct cvmbus_msg_gpadl_header) == 236, "gpadl hdr 236");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_header, gpadl) == 12, "gpadl");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_header, range_buflen) == 16, "range_buflen");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_header, rangecount) == 18, "rangecount");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_header, range_data) == 20, "ranges");

/* 9: GpadlBody, client -> server: more PFNs of the GPADL being described. */
#define CVMBUS_GPADL_BODY_FIXED_SIZE 16u
#define CVMBUS_GPADL_BODY_MAX_PFNS \
	((CVMBUS_WIRE_MAX_SIZE - CVMBUS_GPADL_BODY_FIXED_SIZE) / 8u)

struct cvmbus_msg_gpadl_body {
	struct cvmbus_msg_header hdr;
	uint32_t msgnumber;     /* @8: reserved in OpenVMM; Linux leaves 0 */
	uint32_t gpadl;         /* @12 */
	uint64_t pfn[CVMBUS_GPADL_BODY_MAX_PFNS]; /* @16 */
};
_Static_assert(CVMBUS_GPADL_BODY_MAX_PFNS == 28, "28 pfns in a gpadl body");
_Static_assert(sizeof(struct cvmbus_msg_gpadl_body) == 240, "gpadl body");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_body, gpadl) == 12, "gpadl");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_body, pfn) == 16, "pfn");

/* 10: GpadlCreated, server -> client. */
struct cvmbus_msg_gpadl_created {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid;     /* @8 */
	uint32_t gpadl;           /* @12 */
	uint32_t creation_status; /* @16: CVMBUS_STATUS_* */
};
_Static_assert(sizeof(struct cvmbus_msg_gpadl_created) == 20, "gpadl_created");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_created, creation_status) == 16, "status");

/* 11: GpadlTeardown, client -> server. */
struct cvmbus_msg_gpadl_teardown {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid; /* @8 */
	uint32_t gpadl;       /* @12 */
};
_Static_assert(sizeof(struct cvmbus_msg_gpadl_teardown) == 16, "gpadl_teardown");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_teardown, gpadl) == 12, "gpadl");

/* 12: GpadlTorndown, server -> client. */
struct cvmbus_msg_gpadl_torndown {
	struct cvmbus_msg_header hdr;
	uint32_t gpadl; /* @8 */
};
_Static_assert(sizeof(struct cvmbus_msg_gpadl_torndown) == 12, "gpadl_torndown");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_torndown, gpadl) == 8, "gpadl");

/* 14: InitiateContact, client -> server, 40 bytes. Before 5.0 the u64 at 16
 * is the interrupt page GPA; from 5.0 on it is the target SINT and VTL and,
 * from 6.0 on, the requested feature flags. */
struct cvmbus_msg_initiate_contact {
	struct cvmbus_msg_header hdr;
	uint32_t version_requested; /* @8 */
	uint32_t target_vcpu;       /* @12: VP that receives control messages */
	union {
		uint64_t interrupt_page; /* @16, version < 5.0 */
		struct {
			uint8_t msg_sint;      /* @16, >= 5.0 */
			uint8_t msg_vtl;       /* @17, >= 5.1 */
			uint8_t reserved[2];   /* @18 */
			uint32_t feature_flags; /* @20, >= 6.0; reserved before */
		};
	};
	/* Linux's monitor_page1 / monitor_page2. */
	uint64_t parent_to_child_monitor_gpa; /* @24 */
	uint64_t child_to_parent_monitor_gpa; /* @32 */
};
_Static_assert(sizeof(struct cvmbus_msg_initiate_contact) == 40, "initiate_contact");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact, version_requested) == 8, "ver");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact, target_vcpu) == 12, "vcpu");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact, interrupt_page) == 16, "int page");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact, msg_sint) == 16, "msg_sint");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact, msg_vtl) == 17, "msg_vtl");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact, reserved) == 18, "reserved");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact, feature_flags) == 20, "features");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact, parent_to_child_monitor_gpa) == 24,
	       "monitor_page1");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact, child_to_parent_monitor_gpa) == 32,
	       "monitor_page2");

/* 14: InitiateContact with a client id, 56 bytes (6.0 + client_id). */
struct cvmbus_msg_initiate_contact_client_id {
	struct cvmbus_msg_header hdr;
	uint32_t version_requested;
	uint32_t target_vcpu;
	union {
		uint64_t interrupt_page;
		struct {
			uint8_t msg_sint;
			uint8_t msg_vtl;
			uint8_t reserved[2];
			uint32_t feature_flags;
		};
	};
	uint64_t parent_to_child_monitor_gpa;
	uint64_t child_to_parent_monitor_gpa;
	struct cvmbus_guid client_id; /* @40 */
};
_Static_assert(sizeof(struct cvmbus_msg_initiate_contact_client_id) == 56, "client id");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id, feature_flags) == 20,
	       "features");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id, client_id) == 40,
	       "client_id");

/* 15: VersionResponse, server -> client, 16 bytes. */
struct cvmbus_msg_version_response {
	struct cvmbus_msg_header hdr;
	uint8_t version_supported; /* @8: 0 = refused */
	uint8_t connection_state;  /* @9: enum cvmbus_connection_state */
	uint16_t padding;          /* @10 */
	/* @12: from 5.0 on the connection id for all later messages; the
	 * selected version before that. */
	uint32_t msg_conn_id;
};
_Static_assert(sizeof(struct cvmbus_msg_version_response) == 16, "version_response");
_Static_assert(offsetof(struct cvmbus_msg_version_response, connection_state) == 9, "state");
_Static_assert(offsetof(struct cvmbus_msg_version_response, padding) == 10, "padding");
_Static_assert(offsetof(struct cvmbus_msg_version_response, msg_conn_id) == 12, "conn id");

/* 15: VersionResponse2, 20 bytes: answer to a supported 6.0 request. */
struct cvmbus_msg_version_response2 {
	struct cvmbus_msg_header hdr;
	uint8_t version_supported;
	uint8_t connection_state;
	uint16_t padding;
	uint32_t msg_conn_id;
	uint32_t supported_features; /* @16: what the server grants */
};
_Static_assert(sizeof(struct cvmbus_msg_version_response2) == 20, "version_response2");
_Static_assert(offsetof(struct cvmbus_msg_version_response2, supported_features) == 16,
	       "supported_features");

/* 15: VersionResponse3, 40 bytes: with server-specified monitor pages. */
struct cvmbus_msg_version_response3 {
	struct cvmbus_msg_header hdr;
	uint8_t version_supported;
	uint8_t connection_state;
	uint16_t padding;
	uint32_t msg_conn_id;
	uint32_t supported_features;
	uint32_t padding2;                    /* @20 */
	uint64_t parent_to_child_monitor_gpa; /* @24 */
	uint64_t child_to_parent_monitor_gpa; /* @32 */
};
_Static_assert(sizeof(struct cvmbus_msg_version_response3) == 40, "version_response3");
_Static_assert(offsetof(struct cvmbus_msg_version_response3, padding2) == 20, "padding2");
_Static_assert(offsetof(struct cvmbus_msg_version_response3, parent_to_child_monitor_gpa) == 24,
	       "p2c");
_Static_assert(offsetof(struct cvmbus_msg_version_response3, child_to_parent_monitor_gpa) == 32,
	       "c2p");

/* 18: OpenReservedChannel, client -> server (>= 4.0). */
struct cvmbus_msg_open_reserved_channel {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid;            /* @8 */
	uint32_t target_vp;              /* @12 */
	uint32_t target_sint;            /* @16 */
	uint32_t ringbuffer_gpadl;       /* @20 */
	uint32_t downstream_page_offset; /* @24 */
};
_Static_assert(sizeof(struct cvmbus_msg_open_reserved_channel) == 28, "open_reserved");
_Static_assert(offsetof(struct cvmbus_msg_open_reserved_channel, target_sint) == 16, "sint");
_Static_assert(offsetof(struct cvmbus_msg_open_reserved_channel, ringbuffer_gpadl) == 20, "gpadl");
_Static_assert(offsetof(struct cvmbus_msg_open_reserved_channel, downstream_page_offset) == 24,
	       "downstream");

/* 19: CloseReservedChannel, client -> server (accepted in any state). */
struct cvmbus_msg_close_reserved_channel {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid; /* @8 */
	uint32_t target_vp;   /* @12 */
	uint32_t target_sint; /* @16 */
};
_Static_assert(sizeof(struct cvmbus_msg_close_reserved_channel) == 20, "close_reserved");
_Static_assert(offsetof(struct cvmbus_msg_close_reserved_channel, target_sint) == 16, "sint");

/* 21: TlConnectRequest (hv_sock), client -> server, 40 bytes (>= 4.0). */
struct cvmbus_msg_tl_connect_request {
	struct cvmbus_msg_header hdr;
	struct cvmbus_guid guest_endpoint_id; /* @8 */
	struct cvmbus_guid host_service_id;   /* @24 */
};
_Static_assert(sizeof(struct cvmbus_msg_tl_connect_request) == 40, "tl_connect_request");
_Static_assert(offsetof(struct cvmbus_msg_tl_connect_request, host_service_id) == 24, "svc");

/* 21: TlConnectRequest2, 56 bytes (>= 5.2): adds the silo id. Clients may
 * still send the 40-byte form under 5.2. */
struct cvmbus_msg_tl_connect_request2 {
	struct cvmbus_msg_header hdr;
	struct cvmbus_guid guest_endpoint_id;
	struct cvmbus_guid host_service_id;
	struct cvmbus_guid silo_id;           /* @40 */
};
_Static_assert(sizeof(struct cvmbus_msg_tl_connect_request2) == 56, "tl_connect_request2");
_Static_assert(offsetof(struct cvmbus_msg_tl_connect_request2, silo_id) == 40, "silo");

/* 22: ModifyChannel, client -> server (>= 4.1). */
struct cvmbus_msg_modify_channel {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid; /* @8 */
	uint32_t target_vp;   /* @12 */
};
_Static_assert(sizeof(struct cvmbus_msg_modify_channel) == 16, "modify_channel");
_Static_assert(offsetof(struct cvmbus_msg_modify_channel, target_vp) == 12, "target_vp");

/* 23: TlConnectResult, server -> client (>= 4.1). */
struct cvmbus_msg_tl_connect_result {
	struct cvmbus_msg_header hdr;
	struct cvmbus_guid guest_endpoint_id; /* @8 */
	struct cvmbus_guid host_service_id;   /* @24 */
	uint32_t status;                      /* @40 */
};
_Static_assert(sizeof(struct cvmbus_msg_tl_connect_result) == 44, "tl_connect_result");
_Static_assert(offsetof(struct cvmbus_msg_tl_connect_result, status) == 40, "status");

/* 24: ModifyChannelResponse, server -> client (>= 5.3). */
struct cvmbus_msg_modify_channel_response {
	struct cvmbus_msg_header hdr;
	uint32_t child_relid; /* @8 */
	uint32_t status;      /* @12 */
};
_Static_assert(sizeof(struct cvmbus_msg_modify_channel_response) == 16, "modify_chan_resp");
_Static_assert(offsetof(struct cvmbus_msg_modify_channel_response, status) == 12, "status");

/* 25: ModifyConnection, client -> server (6.0 + modify_connection). */
struct cvmbus_msg_modify_connection {
	struct cvmbus_msg_header hdr;
	uint64_t parent_to_child_monitor_gpa; /* @8 */
	uint64_t child_to_parent_monitor_gpa; /* @16 */
};
_Static_assert(sizeof(struct cvmbus_msg_modify_connection) == 24, "modify_connection");
_Static_assert(offsetof(struct cvmbus_msg_modify_connection, child_to_parent_monitor_gpa) == 16,
	       "c2p");

/* 26: ModifyConnectionResponse, server -> client (6.0 + modify_connection).
 * 9 bytes on the wire: packed, because natural alignment would pad it to 12
 * and sizeof() must equal the wire size. */
struct __attribute__((packed)) cvmbus_msg_modify_connection_response {
	struct cvmbus_msg_header hdr;
	uint8_t connection_state; /* @8: enum cvmbus_connection_state */
};
_Static_assert(sizeof(struct cvmbus_msg_modify_connection_response) == 9, "modify_conn_resp");
_Static_assert(offsetof(struct cvmbus_msg_modify_connection_response, connection_state) == 8,
	       "state");

/* The remaining documented offsets, so that every field of every layout is
 * pinned (the ones above sit next to their structs). */
_Static_assert(offsetof(struct cvmbus_msg_open_channel, child_relid) == 8, "open relid");
_Static_assert(offsetof(struct cvmbus_msg_open_channel2, child_relid) == 8, "open2 relid");
_Static_assert(offsetof(struct cvmbus_msg_open_channel2, openid) == 12, "open2 openid");
_Static_assert(offsetof(struct cvmbus_msg_open_channel2, ringbuffer_gpadl) == 16, "open2 gpadl");
_Static_assert(offsetof(struct cvmbus_msg_open_channel2, target_vp) == 20, "open2 vp");
_Static_assert(offsetof(struct cvmbus_msg_open_channel2, downstream_ring_page_offset) == 24,
	       "open2 downstream");
_Static_assert(offsetof(struct cvmbus_msg_open_result, child_relid) == 8, "result relid");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_header, child_relid) == 8, "gpadl hdr relid");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_body, msgnumber) == 8, "gpadl body msgnumber");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_created, child_relid) == 8, "created relid");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_created, gpadl) == 12, "created gpadl");
_Static_assert(offsetof(struct cvmbus_msg_gpadl_teardown, child_relid) == 8, "teardown relid");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id, version_requested) == 8,
	       "ic2 version");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id, target_vcpu) == 12,
	       "ic2 vcpu");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id, interrupt_page) == 16,
	       "ic2 interrupt page");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id, msg_sint) == 16, "ic2 sint");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id, msg_vtl) == 17, "ic2 vtl");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id, reserved) == 18,
	       "ic2 reserved");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id,
			parent_to_child_monitor_gpa) == 24, "ic2 p2c");
_Static_assert(offsetof(struct cvmbus_msg_initiate_contact_client_id,
			child_to_parent_monitor_gpa) == 32, "ic2 c2p");
_Static_assert(offsetof(struct cvmbus_msg_version_response, version_supported) == 8, "vr sup");
_Static_assert(offsetof(struct cvmbus_msg_version_response2, version_supported) == 8, "vr2 sup");
_Static_assert(offsetof(struct cvmbus_msg_version_response2, connection_state) == 9, "vr2 st");
_Static_assert(offsetof(struct cvmbus_msg_version_response2, padding) == 10, "vr2 pad");
_Static_assert(offsetof(struct cvmbus_msg_version_response2, msg_conn_id) == 12, "vr2 conn");
_Static_assert(offsetof(struct cvmbus_msg_version_response3, version_supported) == 8, "vr3 sup");
_Static_assert(offsetof(struct cvmbus_msg_version_response3, connection_state) == 9, "vr3 st");
_Static_assert(offsetof(struct cvmbus_msg_version_response3, padding) == 10, "vr3 pad");
_Static_assert(offsetof(struct cvmbus_msg_version_response3, msg_conn_id) == 12, "vr3 conn");
_Static_assert(offsetof(struct cvmbus_msg_version_response3, supported_features) == 16,
	       "vr3 features");
_Static_assert(offsetof(struct cvmbus_msg_open_reserved_channel, child_relid) == 8, "or relid");
_Static_assert(offsetof(struct cvmbus_msg_open_reserved_channel, target_vp) == 12, "or vp");
_Static_assert(offsetof(struct cvmbus_msg_close_reserved_channel, child_relid) == 8, "cr relid");
_Static_assert(offsetof(struct cvmbus_msg_close_reserved_channel, target_vp) == 12, "cr vp");
_Static_assert(offsetof(struct cvmbus_msg_tl_connect_request, guest_endpoint_id) == 8, "tl ep");
_Static_assert(offsetof(struct cvmbus_msg_tl_connect_request2, guest_endpoint_id) == 8, "tl2 ep");
_Static_assert(offsetof(struct cvmbus_msg_tl_connect_request2, host_service_id) == 24, "tl2 svc");
_Static_assert(offsetof(struct cvmbus_msg_modify_channel, child_relid) == 8, "mc relid");
_Static_assert(offsetof(struct cvmbus_msg_tl_connect_result, guest_endpoint_id) == 8, "tlr ep");
_Static_assert(offsetof(struct cvmbus_msg_tl_connect_result, host_service_id) == 24, "tlr svc");
_Static_assert(offsetof(struct cvmbus_msg_modify_channel_response, child_relid) == 8, "mcr relid");
_Static_assert(offsetof(struct cvmbus_msg_modify_connection, parent_to_child_monitor_gpa) == 8,
	       "mconn p2c");
_Static_assert(offsetof(struct cvmbus_guid, data2) == 4, "guid data2");
_Static_assert(offsetof(struct cvmbus_guid, data3) == 6, "guid data3");
_Static_assert(offsetof(struct cvmbus_guid, data4) == 8, "guid data4");

/* ---- The decoded message ----------------------------------------------- */

/* Every layout overlaid on the same 240 bytes, header included. Read the
 * member that matches cvmbus_wire_msg.variant; layouts of one message type
 * share their leading fields, so the smaller member may be read for any of
 * its variants. Bytes past the message's length are zero after a decode. */
union cvmbus_wire_body {
	uint8_t bytes[CVMBUS_WIRE_MAX_SIZE];
	struct cvmbus_msg_header hdr;
	struct cvmbus_msg_empty empty;
	struct cvmbus_msg_offer_channel offer_channel;
	struct cvmbus_msg_relid rescind_channel_offer;
	struct cvmbus_msg_open_channel open_channel;
	struct cvmbus_msg_open_channel2 open_channel2;
	struct cvmbus_msg_open_result open_result;
	struct cvmbus_msg_relid close_channel;
	struct cvmbus_msg_gpadl_header gpadl_header;
	struct cvmbus_msg_gpadl_body gpadl_body;
	struct cvmbus_msg_gpadl_created gpadl_created;
	struct cvmbus_msg_gpadl_teardown gpadl_teardown;
	struct cvmbus_msg_gpadl_torndown gpadl_torndown;
	struct cvmbus_msg_relid relid_released;
	struct cvmbus_msg_initiate_contact initiate_contact;
	struct cvmbus_msg_initiate_contact_client_id initiate_contact_client_id;
	struct cvmbus_msg_version_response version_response;
	struct cvmbus_msg_version_response2 version_response2;
	struct cvmbus_msg_version_response3 version_response3;
	struct cvmbus_msg_open_reserved_channel open_reserved_channel;
	struct cvmbus_msg_close_reserved_channel close_reserved_channel;
	struct cvmbus_msg_relid close_reserved_response;
	struct cvmbus_msg_tl_connect_request tl_connect_request;
	struct cvmbus_msg_tl_connect_request2 tl_connect_request2;
	struct cvmbus_msg_modify_channel modify_channel;
	struct cvmbus_msg_tl_connect_result tl_connect_result;
	struct cvmbus_msg_modify_channel_response modify_channel_response;
	struct cvmbus_msg_modify_connection modify_connection;
	struct cvmbus_msg_modify_connection_response modify_connection_response;
};
_Static_assert(sizeof(union cvmbus_wire_body) == CVMBUS_WIRE_MAX_SIZE, "body is 240 bytes");

/* A channel message with its tag. decode fills every field; encode reads
 * variant, data_count (GPADL messages only) and u, and nothing else (the
 * header in u is rewritten from the variant). */
struct cvmbus_wire_msg {
	union cvmbus_wire_body u;
	enum cvmbus_wire_variant variant;
	/* GPADL header: 8-byte range values carried in this message; GPADL body:
	 * PFNs carried. 0 for every other message. */
	uint16_t data_count;
	/* Bytes on the wire, header included (set by decode). */
	uint16_t len;
};

/* ---- Errors ------------------------------------------------------------ */

/* What a decode (or an encode) found wrong. Each maps to one errno, which is
 * what the functions return (negated). */
enum cvmbus_wire_error {
	CVMBUS_WIRE_OK = 0,
	CVMBUS_WIRE_E_ARGS,            /* -EINVAL: NULL pointer, bad variant */
	CVMBUS_WIRE_E_TOO_SHORT,       /* -EMSGSIZE: shorter than the smallest layout */
	CVMBUS_WIRE_E_TOO_LONG,        /* -EMSGSIZE: longer than the largest layout or 240 */
	CVMBUS_WIRE_E_BAD_SIZE,        /* -EMSGSIZE: between the allowed sizes */
	CVMBUS_WIRE_E_UNKNOWN_TYPE,    /* -ENOMSG: type 0 or > 29 */
	CVMBUS_WIRE_E_NEEDS_VERSION,   /* -EPROTO: needs a newer negotiated version */
	CVMBUS_WIRE_E_NEEDS_FEATURE,   /* -EOPNOTSUPP: needs a feature not negotiated */
	CVMBUS_WIRE_E_WRONG_DIRECTION, /* -EPERM: a server message sent to a server, ... */
	CVMBUS_WIRE_E_INCONSISTENT,    /* -EBADMSG: fields contradict each other */
	CVMBUS_WIRE_E_NO_SPACE,        /* -ENOBUFS: encode buffer too small */
	CVMBUS_WIRE_E_ENVELOPE,        /* -EBADMSG: SynIC message type or size wrong */
	CVMBUS_WIRE_ERROR_COUNT,
};

/* The detail of a failure: which check, and what would have passed. */
struct cvmbus_wire_status {
	enum cvmbus_wire_error error;
	uint32_t type;           /* message type read from the header (0 if none) */
	uint32_t len;            /* bytes given */
	uint32_t need_len;       /* E_TOO_SHORT / E_TOO_LONG / E_NO_SPACE: the bound */
	uint32_t need_version;   /* E_NEEDS_VERSION */
	uint32_t have_version;
	uint32_t need_features;  /* E_NEEDS_FEATURE: any one of these */
	uint32_t have_features;
	const char *detail;      /* E_INCONSISTENT / E_ENVELOPE: static text */
};

/* Short lowercase text for an error code ("message too short"). */
const char *cvmbus_wire_strerror(enum cvmbus_wire_error error);
/* The errno (positive) an error code is returned as. */
int cvmbus_wire_errno(enum cvmbus_wire_error error);
/* One line for a log or a trace, e.g. "open_channel: needs version 6.0
 * (negotiated 5.3)". snprintf semantics: returns the length it wanted. */
int cvmbus_wire_status_format(const struct cvmbus_wire_status *st, char *buf, size_t cap);

/* ---- Decode ------------------------------------------------------------ */

/*
 * Copies len bytes (a whole channel message, header included) into out and
 * validates the copy against the protocol table. Returns 0, or a negative
 * errno with *st (if st is not NULL) saying why; see enum cvmbus_wire_error.
 *
 * version and features describe the connection the message arrived on:
 *  - connected: the negotiated version and feature flags;
 *  - not connected: version 0 (then only InitiateContact, VersionResponse
 *    and CloseReservedChannel are accepted, as OpenVMM does);
 *  - a client waiting for a VersionResponse: the version and the features it
 *    requested, which decide the response's allowed layouts (20 bytes needs
 *    6.0; 40 bytes needs 6.0 and server_specified_monitor_pages).
 * InitiateContact carries its own version and features; the 56-byte client id
 * layout is accepted only if the message itself requests 6.0 and client_id.
 *
 * dir is the direction the caller receives on (a server passes
 * CVMBUS_WIRE_TO_SERVER) or CVMBUS_WIRE_DIR_ANY.
 *
 * Sizes are exact: a message must be one of its layouts' sizes (GPADL
 * messages: the fixed part plus whole 8-byte values up to capacity).
 * Reserved and padding fields are not checked (peers before 2.4 leave
 * garbage there) and are left as received in out.
 *
 * On failure out->variant is CVMBUS_WIRE_NONE and out->u holds the copied
 * bytes (at most 240), so the caller can still trace what arrived.
 */
int cvmbus_wire_decode(const void *bytes, size_t len, uint32_t version, uint32_t features,
		       enum cvmbus_wire_dir dir, struct cvmbus_wire_msg *out,
		       struct cvmbus_wire_status *st);

/* The message type of a decoded or to-be-encoded message (0 for NONE). */
uint32_t cvmbus_wire_msg_type(const struct cvmbus_wire_msg *msg);

/* ---- Encode ------------------------------------------------------------ */

/*
 * Writes msg to buf: the header (type from msg->variant, zero padding), the
 * fields, with every padding and reserved field (and reserved bits of
 * bit-fields) cleared whatever msg held there. Returns the encoded length,
 * or -EINVAL (bad variant, or a GPADL data_count out of range), or -ENOBUFS
 * if cap is too small (then st->need_len says how much is needed), or the
 * error the decoder would return for fields that contradict each other
 * (-EBADMSG, or -EPROTO/-EOPNOTSUPP for a client id layout whose own version
 * or features do not allow it). The negotiated-version and feature gates
 * are not applied: encoding is for a sender that knows what was negotiated.
 */
int cvmbus_wire_encode(const struct cvmbus_wire_msg *msg, void *buf, size_t cap,
		       struct cvmbus_wire_status *st);

/* The encoded size of msg, or 0 if its variant or data_count is invalid. */
size_t cvmbus_wire_encoded_size(const struct cvmbus_wire_msg *msg);

/* Clears msg and sets its variant: the usual first step of building one. */
void cvmbus_wire_msg_init(struct cvmbus_wire_msg *msg, enum cvmbus_wire_variant variant);

/* GPADL helpers. The i-th 8-byte value of a GPADL header's range data or of
 * a body's PFN list (i < data_count). A range header value packs
 * byte_count in its low half and byte_offset in its high half. */
uint64_t cvmbus_wire_gpadl_value(const struct cvmbus_wire_msg *msg, size_t i);
void cvmbus_wire_gpadl_set_value(struct cvmbus_wire_msg *msg, size_t i, uint64_t value);
static inline uint64_t cvmbus_gpa_range_value(uint32_t byte_count, uint32_t byte_offset)
{
	return (uint64_t)byte_count | ((uint64_t)byte_offset << 32);
}

/* Builds the GpadlHeader of a one-range GPADL (what Linux sends): the range
 * {byte_count, byte_offset} and its npfn PFNs, of which the first
 * min(npfn, 26) go in this message. Returns how many PFNs it consumed (the
 * rest go in GpadlBody messages), or -E2BIG if the range does not fit the
 * 16-bit range_buflen, or -EINVAL if npfn does not match byte_count and
 * byte_offset. */
int cvmbus_wire_gpadl_header_init(struct cvmbus_wire_msg *msg, uint32_t child_relid,
				  uint32_t gpadl, uint32_t byte_count, uint32_t byte_offset,
				  const uint64_t *pfns, size_t npfn);
/* Builds a GpadlBody with the first min(n, 28) of pfns. Returns how many it
 * took, or -EINVAL for n == 0. */
int cvmbus_wire_gpadl_body_init(struct cvmbus_wire_msg *msg, uint32_t msgnumber,
				uint32_t gpadl, const uint64_t *pfns, size_t n);
/* Pages spanned by a range: ceil((byte_offset + byte_count) / 4096). */
uint64_t cvmbus_gpa_range_pages(uint32_t byte_count, uint32_t byte_offset);

/* ---- The protocol table, read-only ------------------------------------- */

struct cvmbus_wire_variant_info {
	enum cvmbus_wire_variant variant;
	const char *name;        /* "open_channel2" */
	uint16_t min_size;       /* bytes, header included */
	uint16_t max_size;       /* == min_size unless the message has a PFN array */
	/* GPADL header/body: the size before the array of 8-byte values (the
	 * message is fixed_size + 8 * n); == min_size for the others. */
	uint16_t fixed_size;
	uint32_t min_version;    /* 0 = accepted before a connection exists */
	uint32_t features_any;   /* 0, or: at least one of these negotiated */
	/* Once this layout's gates pass, smaller layouts of the same type are
	 * refused (OpenChannel2 under 6.0 with signal parameters). */
	bool supersedes_smaller;
};

#define CVMBUS_WIRE_MAX_VARIANTS 3

struct cvmbus_wire_type_info {
	uint32_t type;
	const char *name;        /* "open_channel" */
	enum cvmbus_wire_dir dir;
	unsigned nvariants;
	/* Largest first, the order in which sizes are matched. */
	struct cvmbus_wire_variant_info variants[CVMBUS_WIRE_MAX_VARIANTS];
	const char *rules;       /* consistency rules in words, for docs */
};

/* The table row of a message type, or NULL for an unknown type. */
const struct cvmbus_wire_type_info *cvmbus_wire_type_info(uint32_t type);
/* The row of a variant, and its type's row in *type_info if not NULL. */
const struct cvmbus_wire_variant_info *
cvmbus_wire_variant_info(enum cvmbus_wire_variant variant,
			 const struct cvmbus_wire_type_info **type_info);

/* ---- SynIC envelope ---------------------------------------------------- */

/*
 * Validates the envelope of a SynIC message that the caller has already
 * copied out of its SIMP slot: message_type must be HVMSG_VMBUS and
 * payload_size between 8 and 240. Returns 0 or -EBADMSG (st: E_ENVELOPE).
 */
int cvmbus_wire_check_envelope(const struct hv_message *copy, struct cvmbus_wire_status *st);
/* Envelope check, then cvmbus_wire_decode() of payload[0..payload_size). */
int cvmbus_wire_decode_hv_message(const struct hv_message *copy, uint32_t version,
				  uint32_t features, enum cvmbus_wire_dir dir,
				  struct cvmbus_wire_msg *out, struct cvmbus_wire_status *st);
/* Encodes msg as the input of an HvPostMessage hypercall on connection_id.
 * Returns the payload size or a negative errno as cvmbus_wire_encode(). */
int cvmbus_wire_build_post_message(struct hv_input_post_message *in, uint32_t connection_id,
				   const struct cvmbus_wire_msg *msg,
				   struct cvmbus_wire_status *st);

/* ---- Names, versions, formatting --------------------------------------- */

/* "offer_channel" ... "resume"; "unknown" for anything else. */
const char *cvmbus_wire_type_name(uint32_t type);
/* "open_channel2", ...; "none" for CVMBUS_WIRE_NONE or out of range. */
const char *cvmbus_wire_variant_name(enum cvmbus_wire_variant variant);

/* Versions the protocol defines, oldest first; returns how many. */
size_t cvmbus_wire_known_versions(const uint32_t **versions);
bool cvmbus_wire_version_known(uint32_t version);
/* "5.3" for 0x00050003 (any value, known or not). snprintf semantics. */
int cvmbus_wire_version_format(uint32_t version, char *buf, size_t cap);
/* Parses "MAJOR.MINOR" (decimal, each 0..65535, nothing else) into *version.
 * Returns 0 or -EINVAL. Unknown but well-formed versions parse. */
int cvmbus_wire_version_parse(const char *text, uint32_t *version);

/* Flag sets as names joined by '|', unknown bits as hex ("client_id|0x100");
 * "0" for none. snprintf semantics. */
int cvmbus_wire_features_format(uint32_t features, char *buf, size_t cap);
int cvmbus_wire_offer_flags_format(uint16_t flags, char *buf, size_t cap);

/* Lowercase hex of n bytes, no separators, NUL-terminated when cap > 0.
 * Returns 2 * n (the length it wanted). */
size_t cvmbus_wire_hex(const void *bytes, size_t n, char *buf, size_t cap);

/* GUID text "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (36 chars + NUL). */
#define CVMBUS_GUID_STRLEN 37u
void cvmbus_guid_format(const struct cvmbus_guid *guid, char buf[CVMBUS_GUID_STRLEN]);
/* Parses that form (case-insensitive). Returns 0 or -EINVAL. */
int cvmbus_guid_parse(const char *text, struct cvmbus_guid *guid);

#endif /* CVMBUS_WIRE_H */
